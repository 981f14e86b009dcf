/* rng.h - seeded random numbers; no global state.
 *
 * Two kinds:
 *  - Rng, a sequential xoshiro256** stream, for work done in one fixed order
 *    on one thread (weight init, shuffling, drawing per-step keys);
 *  - rng_hash(), a counter-based generator: the number for element i under a
 *    key depends only on (key, i), never on which thread computes it. Dropout
 *    masks use it so that results do not depend on the thread count. */
#ifndef FMNIST_RNG_H
#define FMNIST_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float rng_uniform(Rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Standard normal (Box-Muller, double precision inside). */
double rng_normal(Rng *r);

/* splitmix64 finalizer: a bijective 64-bit mix. */
static inline uint64_t rng_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Counter-based uniform in [0, 1) for element i under key. */
static inline float rng_hash_uniform(uint64_t key, uint64_t i)
{
    return (float)(rng_mix64(key ^ rng_mix64(i)) >> 40) * (1.0f / 16777216.0f);
}

#endif
