/* transpose.h - internal to kernels/: the 16 x 16 float transpose in
 * AVX-512 registers that gemm.c's packing and conv_direct.c's dW tiles
 * share. Only with __AVX512F__. */
#ifndef FMNIST_TRANSPOSE_H
#define FMNIST_TRANSPOSE_H

#ifdef __AVX512F__
#include <immintrin.h>

/* r[x] lane k -> r[k] lane x: a 16 x 16 transpose in registers (unpacks
 * and shuffles inside 128-bit lanes, then across them). */
static inline __attribute__((always_inline)) void transpose16(__m512 *r)
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        const __m512 u = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
        const __m512 v = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
        const __m512 u2 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
        const __m512 v2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
        t[j] = _mm512_shuffle_f32x4(u, v, 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(u, v, 0xDD);
        t[8 + j] = _mm512_shuffle_f32x4(u2, v2, 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(u2, v2, 0xDD);
    }
    for (int k = 0; k < 16; k++) r[k] = t[k];
}
#endif

#endif
