/* suggest.h - "did you mean": the nearest of a set of words to a word that
 * matched none of them (a flag, a command, a layer kind, a preset name).
 *
 * Words are compared case-insensitively, with '_' and '-' alike
 * (--weight_decay is --weight-decay). A candidate is near if it is within
 * an edit distance of 2 (1 for a word of 3 characters or fewer; a swap of
 * two neighbours is one edit: trian -> train), or if one word starts with
 * the other (at least 3 characters of it: --weight -> --weight-decay).
 * The nearest wins, edits before prefixes, the first of equals. */
#ifndef FMNIST_SUGGEST_H
#define FMNIST_SUGGEST_H

/* The optimal-string-alignment distance of a and b (insertions, deletions,
 * substitutions and swaps of neighbours), compared as above; words longer
 * than SUGGEST_MAX_LEN characters get SUGGEST_FAR. */
#define SUGGEST_MAX_LEN 63
#define SUGGEST_FAR 1000
int suggest_distance(const char *a, const char *b);

/* The search: suggest_init, suggest_try for each candidate, then best is
 * the nearest candidate (the pointer given), or NULL if none is near. */
typedef struct {
    const char *word;
    const char *best;
    int score;
} Suggest;
void suggest_init(Suggest *s, const char *word);
void suggest_try(Suggest *s, const char *candidate);

#endif
