/*
** arith_avx512.c: element-wise modular addition and subtraction of
** polynomials (ciphertext + ciphertext), eight coefficients at a time with
** AVX-512 where the runtime uses its AVX-512 kernels (ckks_use_ifma: the
** CPU has them and HE_CKKS_NO_AVX512 is unset), portable C otherwise; both
** give the same results. Inputs in [0, q), q < 2^63; the conditional
** subtraction is an unsigned minimum: min(s, s - q) is s - q when s >= q
** and s otherwise (s - q wraps around to a larger value).
*/
#include "ckks/ckks_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

AVX512 static void add_avx512(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n)
{
    const __m512i Q = _mm512_set1_epi64((long long)q);
    unsigned j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512i s = _mm512_add_epi64(_mm512_loadu_si512(a + j), _mm512_loadu_si512(b + j));
        _mm512_storeu_si512(o + j, _mm512_min_epu64(s, _mm512_sub_epi64(s, Q)));
    }
    for (; j < n; j++) o[j] = ckks_addmod(a[j], b[j], q);
}

AVX512 static void sub_avx512(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n)
{
    const __m512i Q = _mm512_set1_epi64((long long)q);
    unsigned j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512i d = _mm512_sub_epi64(_mm512_loadu_si512(a + j), _mm512_loadu_si512(b + j));
        _mm512_storeu_si512(o + j, _mm512_min_epu64(d, _mm512_add_epi64(d, Q)));
    }
    for (; j < n; j++) o[j] = ckks_submod(a[j], b[j], q);
}
#define HAVE_AVX512 1
#endif

void ckks_add_poly(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n)
{
#ifdef HAVE_AVX512
    if (ckks_use_ifma()) {
        add_avx512(o, a, b, q, n);
        return;
    }
#endif
    for (unsigned j = 0; j < n; j++) o[j] = ckks_addmod(a[j], b[j], q);
}

void ckks_sub_poly(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n)
{
#ifdef HAVE_AVX512
    if (ckks_use_ifma()) {
        sub_avx512(o, a, b, q, n);
        return;
    }
#endif
    for (unsigned j = 0; j < n; j++) o[j] = ckks_submod(a[j], b[j], q);
}
