/* team.c - the library's half of a Team (see team.h): the share of each
 * rank, the canonical folds and the agreement on a status. */
#include "util/team.h"

#include <stdio.h>
#include <string.h>

int team_rank(const Team *t) { return t ? t->rank : 0; }
int team_size(const Team *t) { return t ? t->size : 1; }

void team_share(int k, int rank, int size, int *j0, int *j1)
{
    *j0 = (int)((long long)k * rank / size);
    *j1 = (int)((long long)k * (rank + 1) / size);
}

static void add_leaves(float *g, const float *leaves, int nleaves, size_t stride, size_t n)
{
    for (int j = 0; j < nleaves; j++) {
        const float *l = leaves + (size_t)j * stride;
        for (size_t i = 0; i < n; i++) g[i] += l[i];
    }
}

/* The chain goes in segments of this many floats: rank r adds its leaves to
 * segment s while rank r-1 works on segment s+1 (a pipeline), so the time
 * of the chain is about one pass of the vector plus a hop per rank, not a
 * pass per rank. Each element's adds are the same whatever the segments. */
#define FOLD_SEGMENT ((size_t)1 << 16)

void team_fold_floats(const Team *t, float *g, const float *leaves, int nleaves, size_t stride, size_t n)
{
    const int size = team_size(t), rank = team_rank(t);
    if (size == 1) {
        add_leaves(g, leaves, nleaves, stride, n);
        return;
    }
    for (size_t off = 0; off < n; off += FOLD_SEGMENT) {
        const size_t len = n - off < FOLD_SEGMENT ? n - off : FOLD_SEGMENT;
        if (rank > 0) t->recv(t, rank - 1, g + off, len * sizeof(float));
        add_leaves(g + off, leaves + off, nleaves, stride, len);
        if (rank < size - 1) t->send(t, rank + 1, g + off, len * sizeof(float));
    }
    t->bcast(t, g, n * sizeof(float), size - 1);
}

void team_fold_doubles(const Team *t, double *sum, const double *parts, int k, int width, double *scratch)
{
    const double *all = parts;
    if (team_size(t) > 1) {
        t->gather_units(t, parts, scratch, (size_t)width * sizeof(double), k);
        all = scratch;
    }
    for (int c = 0; c < width; c++) sum[c] = 0.0;
    for (int j = 0; j < k; j++)
        for (int c = 0; c < width; c++) sum[c] += all[(size_t)j * (size_t)width + (size_t)c];
}

Status team_agree(const Team *t, Status st, Err *e)
{
    const int size = team_size(t);
    if (size == 1) return st;
    /* the lowest failing rank r gives size - r, the largest */
    const int top = t->max_int(t, st ? size - t->rank : 0);
    if (!top) return ST_OK;
    const int from = size - top;
    struct {
        int st;
        char msg[sizeof e->msg];
    } m = {0};
    if (t->rank == from) {
        m.st = (int)st;
        snprintf(m.msg, sizeof m.msg, "%s", e->msg);
    }
    t->bcast(t, &m, sizeof m, from);
    char pre[32];
    snprintf(pre, sizeof pre, "rank %d", from);
    snprintf(e->msg, sizeof e->msg, "%s", m.msg);
    err_prefix(e, pre);
    return (Status)m.st;
}
