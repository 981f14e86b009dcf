/* split.c - the seeded validation hold-out (see split.h). */
#include "data/split.h"

#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

Status dataset_hold_out(Dataset *d, int n, uint64_t seed, Dataset *val, Err *e)
{
    memset(val, 0, sizeof *val);
    if (n < 1 || n >= d->n)
        return err_set(e, ST_ERR_ARG, "--val %d: must be between 1 and %d (the training images less one)", n,
                       d->n - 1);
    size_t px = (size_t)d->h * d->w;
    uint32_t *idx = malloc((size_t)d->n * sizeof *idx);
    uint8_t *pick = calloc((size_t)d->n, 1);
    val->pixels = malloc((size_t)n * px);
    val->labels = malloc((size_t)n);
    if (!idx || !pick || !val->pixels || !val->labels) {
        free(idx);
        free(pick);
        dataset_free(val);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the validation set");
    }
    /* the first n of a seeded Fisher-Yates shuffle (its own stream: not the epochs') */
    Rng r;
    rng_seed(&r, rng_mix64(seed ^ 0x7661ULL) ^ 0x76616c6964ULL);
    for (int i = 0; i < d->n; i++) idx[i] = (uint32_t)i;
    for (int i = 0; i < n; i++) {
        uint32_t j = (uint32_t)i + rng_below(&r, (uint32_t)(d->n - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        pick[idx[i]] = 1;
    }
    val->n = val->alloc_n = n, val->h = d->h, val->w = d->w;
    if (d->alloc_n < d->n) d->alloc_n = d->n; /* the training set keeps its buffers */
    int nv = 0, nt = 0;
    for (int i = 0; i < d->n; i++) {
        if (pick[i]) {
            memcpy(val->pixels + (size_t)nv * px, d->pixels + (size_t)i * px, px);
            val->labels[nv++] = d->labels[i];
        } else {
            memmove(d->pixels + (size_t)nt * px, d->pixels + (size_t)i * px, px);
            d->labels[nt++] = d->labels[i];
        }
    }
    d->n = nt;
    free(idx);
    free(pick);
    return ST_OK;
}
