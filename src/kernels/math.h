/* math.h - which arithmetic the matrix and convolution products use, and
 * what the CPU offers for it.
 *
 * A training run has a precision (what the user asks for, recorded in the
 * checkpoint): fp32, or bf16. A product has a Math (how this machine
 * computes it): the precision's fastest tier that the CPU runs, chosen at
 * run time by math_choose from the CPUID bits (cpu_detect). Master weights,
 * optimizer state, losses and every reduction outside the products stay
 * fp32 whatever the Math.
 *
 *  MATH_FP32     fp32 operands, each output one fp32 FMA chain over k in
 *                ascending order: the default, the PyTorch-parity path.
 *  MATH_BF16_DP  both operands rounded to bf16 (nearest even), the products
 *                summed in fp32 by AVX512_BF16 dot products (vdpbf16ps: two
 *                taps per step, in a fixed order per output). A kernel with
 *                too few taps for pairs (a first layer of one channel) may
 *                instead round its operands to bf16 and use fp32 FMA: the
 *                same products (a bf16 x bf16 product is exact in fp32),
 *                added one by one.
 *
 * There is no AMX tier yet: the machines it was built on had none to run
 * it (math_choose names it when a CPU has AMX-BF16, and uses MATH_BF16_DP).
 * A Math never changes with the thread count, so neither does a result;
 * two Maths give different bits. No global state: the detection reads
 * CPUID each call. */
#ifndef FMNIST_MATH_H
#define FMNIST_MATH_H

#include "util/status.h"

typedef enum { PREC_FP32 = 0, PREC_BF16 = 1 } Precision;
typedef enum { MATH_FP32 = 0, MATH_BF16_DP = 1 } Math;

/* What this CPU (and its OS, through XCR0) lets a program run. */
typedef struct {
    int avx512;       /* AVX512F + BW + VL, with the ZMM state enabled by the OS */
    int avx512_bf16;  /* AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16), with avx512    */
    int amx_bf16;     /* AMX-TILE + AMX-BF16 (not used yet)                       */
    char name[64];    /* the brand string, "" if the CPU gives none               */
} CpuFeatures;

void cpu_detect(CpuFeatures *c);

/* "fp32", "bf16"; NULL if p is not one. */
const char *precision_name(Precision p);
/* Parses "fp32" or "bf16" (exactly); 0 on success, -1 otherwise. */
int precision_parse(const char *s, Precision *p);

/* "fp32", "bf16 (AVX512_BF16 dot products)" */
const char *math_name(Math m);
/* 1 if c can run m. */
int math_runs_on(Math m, const CpuFeatures *c);

/* The Math of precision p on CPU c: MATH_FP32 for fp32; for bf16 the best
 * tier c runs, or ST_ERR_ARG naming the CPU and what bf16 needs (never a
 * silent fall back to fp32). */
Status math_choose(Precision p, const CpuFeatures *c, Math *m, Err *e);

/* x rounded to the nearest bf16 (ties to even), as a float; NaN stays NaN.
 * The reference rounding every bf16 kernel matches. */
static inline float bf16_round(float x)
{
    union {
        float f;
        unsigned u;
    } v = {x};
    if ((v.u & 0x7f800000u) == 0x7f800000u && (v.u & 0x007fffffu)) return x; /* NaN */
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    v.u &= 0xffff0000u;
    return v.f;
}

#endif
