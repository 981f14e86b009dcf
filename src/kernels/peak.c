/* peak.c - independent FMA chains on every thread: the arithmetic ceiling the
 * bench compares kernels with (see peak.h); and the same for AVX512_BF16
 * dot products. Not used by training. */
#include "kernels/peak.h"

#include "kernels/threads.h"

#if defined(__AVX512F__) || defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* One thread: 16 accumulators (latency 4 x 2 FMA pipes x 2 of slack), each
 * acc = acc * a + b, so no chain waits on another. Returns a value derived
 * from the accumulators so the loop cannot be removed. */
static float chains(long iters)
{
#ifdef __AVX512F__
    /* Named registers, not an array: an array would live on the stack. */
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_set1_ps(0.f), c1 = _mm512_set1_ps(1.f), c2 = _mm512_set1_ps(2.f), c3 = _mm512_set1_ps(3.f);
    __m512 c4 = _mm512_set1_ps(4.f), c5 = _mm512_set1_ps(5.f), c6 = _mm512_set1_ps(6.f), c7 = _mm512_set1_ps(7.f);
    __m512 c8 = _mm512_set1_ps(8.f), c9 = _mm512_set1_ps(9.f), ca = _mm512_set1_ps(10.f), cb = _mm512_set1_ps(11.f);
    __m512 cc = _mm512_set1_ps(12.f), cd = _mm512_set1_ps(13.f), ce = _mm512_set1_ps(14.f), cf = _mm512_set1_ps(15.f);
    for (long it = 0; it < iters; it++) {
#define F(x) x = _mm512_fmadd_ps(x, a, b)
        F(c0), F(c1), F(c2), F(c3), F(c4), F(c5), F(c6), F(c7);
        F(c8), F(c9), F(ca), F(cb), F(cc), F(cd), F(ce), F(cf);
#undef F
    }
    c0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                       _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    c8 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(ca, cb)),
                       _mm512_add_ps(_mm512_add_ps(cc, cd), _mm512_add_ps(ce, cf)));
    return _mm512_reduce_add_ps(_mm512_add_ps(c0, c8));
#else
    float acc[16][8];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) acc[i][j] = (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++)
#pragma omp simd
            for (int j = 0; j < 8; j++) acc[i][j] = acc[i][j] * 0.999999f + 1e-7f;
    float s = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) s += acc[i][j];
    return s;
#endif
}

double peak_fma(long iters, int threads)
{
    volatile float sink = 0.0f;
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
        float r = chains(iters);
        if (r == 12345.678f) sink = r; /* keeps the result live */
    }
    (void)sink;
#ifdef __AVX512F__
    const double lanes = 16.0;
#else
    const double lanes = 8.0;
#endif
    return 2.0 * lanes * 16.0 * (double)iters * (double)threads;
}

#if defined(__x86_64__) || defined(__i386__)
/* One thread: 16 independent vdpbf16ps chains (acc += a . b over 16 pairs
 * of bf16), compiled for AVX512_BF16 whatever the build's flags. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static float dp_chains(long iters)
{
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    __m512 c0 = _mm512_set1_ps(0.f), c1 = _mm512_set1_ps(1.f), c2 = _mm512_set1_ps(2.f), c3 = _mm512_set1_ps(3.f);
    __m512 c4 = _mm512_set1_ps(4.f), c5 = _mm512_set1_ps(5.f), c6 = _mm512_set1_ps(6.f), c7 = _mm512_set1_ps(7.f);
    __m512 c8 = _mm512_set1_ps(8.f), c9 = _mm512_set1_ps(9.f), ca = _mm512_set1_ps(10.f), cb = _mm512_set1_ps(11.f);
    __m512 cc = _mm512_set1_ps(12.f), cd = _mm512_set1_ps(13.f), ce = _mm512_set1_ps(14.f), cf = _mm512_set1_ps(15.f);
    for (long it = 0; it < iters; it++) {
#define D(x) x = _mm512_dpbf16_ps(x, a, b)
        D(c0), D(c1), D(c2), D(c3), D(c4), D(c5), D(c6), D(c7);
        D(c8), D(c9), D(ca), D(cb), D(cc), D(cd), D(ce), D(cf);
#undef D
    }
    c0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                       _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    c8 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(ca, cb)),
                       _mm512_add_ps(_mm512_add_ps(cc, cd), _mm512_add_ps(ce, cf)));
    return _mm512_reduce_add_ps(_mm512_add_ps(c0, c8));
}
#endif

double peak_bf16(long iters, int threads)
{
#if defined(__x86_64__) || defined(__i386__)
    volatile float sink = 0.0f;
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
        float r = dp_chains(iters);
        if (r == 12345.678f) sink = r; /* keeps the result live */
    }
    (void)sink;
    /* 16 lanes x 2 products x (multiply + add) per instruction */
    return 64.0 * 16.0 * (double)iters * (double)threads;
#else
    (void)iters, (void)threads;
    return 0.0;
#endif
}
