/* suggest.c - "did you mean" (see suggest.h). */
#include "util/suggest.h"

#include <ctype.h>
#include <string.h>

/* c folded for comparing: lower case, '_' as '-'. */
static int fold(char c) { return c == '_' ? '-' : tolower((unsigned char)c); }

int suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN) return SUGGEST_FAR;
    int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = fold(a[i - 1]) != fold(b[j - 1]);
            int v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

/* 1 if the first k characters of a and b are alike (folded). */
static int same_start(const char *a, const char *b, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (fold(a[i]) != fold(b[i])) return 0;
    return 1;
}

void suggest_init(Suggest *s, const char *word) { *s = (Suggest){word, NULL, SUGGEST_FAR}; }

void suggest_try(Suggest *s, const char *candidate)
{
    size_t n = strlen(s->word), m = strlen(candidate);
    int limit = n <= 3 ? 1 : 2;
    int d = suggest_distance(s->word, candidate);
    int score = d <= limit ? d : SUGGEST_FAR;
    size_t k = n < m ? n : m;
    if (score == SUGGEST_FAR && k >= 3 && same_start(s->word, candidate, k)) score = limit + 1; /* a prefix */
    if (score < s->score) {
        s->score = score;
        s->best = candidate;
    }
}
