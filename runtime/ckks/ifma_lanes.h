/*
** ifma_lanes.h: modular reductions of 64-bit lanes with AVX-512 IFMA,
** inlined by the kernels that use them (pack.c, ntt_ifma.c). Only in code
** compiled for avx512f,avx512ifma (IFMA below), called where the CPU has it.
*/
#ifndef HE_CKKS_IFMA_LANES_H
#define HE_CKKS_IFMA_LANES_H
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "ckks/ckks_internal.h"

#define IFMA __attribute__((target("avx512f,avx512ifma")))

typedef struct red64c {
    __m512i q, negq, mu, r52, mask;
} red64c;

IFMA static inline red64c red64_make(const ckks_mod *m)
{
    return (red64c){_mm512_set1_epi64((long long)m->q), _mm512_set1_epi64((long long)((1ull << 52) - m->q)),
                    _mm512_set1_epi64((long long)((1ull << 52) / m->q)), _mm512_set1_epi64((long long)m->r52),
                    _mm512_set1_epi64((long long)((1ull << 52) - 1))};
}

/* x mod q for x < 2^52: x - floor(x * floor(2^52 / q) / 2^52) q lies in [0, 2q). */
IFMA static inline __m512i red52_lane(__m512i x, const red64c *k)
{
    __m512i c = _mm512_madd52hi_epu64(_mm512_setzero_si512(), x, k->mu);
    __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(x, c, k->negq), k->mask);
    return _mm512_min_epu64(r, _mm512_sub_epi64(r, k->q));
}

/* x mod q for any 64-bit lane (q < 2^31): x = h 2^52 + l, (h (2^52 mod q) + l mod q) < 2^52 reduced. */
IFMA static inline __m512i red64_lane(__m512i x, const red64c *k)
{
    __m512i l = red52_lane(_mm512_and_si512(x, k->mask), k);
    return red52_lane(_mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(x, 52), k->r52), l), k);
}

#endif
#endif
