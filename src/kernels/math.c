/* math.c - the CPU's features and the choice of a product's arithmetic
 * (see math.h). */
#include "kernels/math.h"

#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void cpu_detect(CpuFeatures *c)
{
    memset(c, 0, sizeof *c);
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    const int osxsave = (cx >> 27) & 1;
    /* XCR0: SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state (bits 1, 2, 5, 6, 7) */
    const int zmm_os = osxsave && (xgetbv0() & 0xe6) == 0xe6;
    unsigned max = __get_cpuid_max(0, NULL);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        const int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
        const int amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
        c->avx512 = zmm_os && f && bw && vl;
        __cpuid_count(7, 1, a, b, cx, d);
        c->avx512_bf16 = c->avx512 && ((a >> 5) & 1);
        /* XCR0 bits 17, 18: XTILECFG, XTILEDATA */
        c->amx_bf16 = osxsave && amx_bf16 && amx_tile && ((xgetbv0() >> 17) & 3) == 3;
    }
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        memcpy(c->name, r, 48);
        c->name[48] = '\0';
        /* trim the padding spaces */
        size_t s = 0, n = strlen(c->name);
        while (s < n && c->name[s] == ' ') s++;
        while (n > s && c->name[n - 1] == ' ') n--;
        memmove(c->name, c->name + s, n - s);
        c->name[n - s] = '\0';
    }
#endif
}

const char *precision_name(Precision p)
{
    return p == PREC_FP32 ? "fp32" : p == PREC_BF16 ? "bf16" : NULL;
}

int precision_parse(const char *s, Precision *p)
{
    if (!strcasecmp(s, "fp32")) *p = PREC_FP32; /* FP32, BF16 too */
    else if (!strcasecmp(s, "bf16")) *p = PREC_BF16;
    else return -1;
    return 0;
}

const char *math_name(Math m)
{
    return m == MATH_BF16_DP ? "bf16 (AVX512_BF16 dot products)" : "fp32";
}

int math_runs_on(Math m, const CpuFeatures *c)
{
    return m == MATH_FP32 || (m == MATH_BF16_DP && c->avx512_bf16);
}

Status math_choose(Precision p, const CpuFeatures *c, Math *m, Err *e)
{
    if (p == PREC_FP32) {
        *m = MATH_FP32;
        return ST_OK;
    }
    if (c->avx512_bf16) {
        *m = MATH_BF16_DP;
        return ST_OK;
    }
    return err_set(e, ST_ERR_ARG, "bf16 products need a CPU with AVX512_BF16 (or AMX-BF16); this one (%s) has %s",
                   c->name[0] ? c->name : "unnamed", c->amx_bf16 ? "AMX-BF16 only, which fmnist does not use yet"
                                                     : c->avx512 ? "AVX-512 without BF16"
                                                                 : "neither");
}
