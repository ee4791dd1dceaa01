/*
** ntt_ifma.c: the negacyclic NTT with AVX-512 IFMA (52-bit multiply-add),
** eight coefficients at a time, for primes below 2^50 (so the lazy values
** in [0, 4q) fit the 52-bit lanes). Chosen at run time (ckks_mod_init) when
** the CPU has AVX-512 IFMA; the portable code in ntt.c is the fallback and
** the reference the tests compare against.
**
** Same algorithm as ntt.c: Harvey butterflies with Shoup constants, here
** w' = floor(w * 2^52 / q); the product y*w - floor(y*w'/2^52)*q lies in
** [0, 2q) and is computed modulo 2^52 with vpmadd52{lo,hi}uq. The last
** three stages (butterfly distance 4, 2, 1) work inside pairs of vectors
** with two-source permutes.
*/
#include "ckks/ckks_internal.h"
#include "ckks/ifma_lanes.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define IFMA __attribute__((target("avx512f,avx512ifma")))

bool ckks_cpu_has_ifma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

typedef struct vconst {
    __m512i q, q2, negq, mask;
} vconst;

IFMA static inline vconst vc_make(uint64_t q)
{
    vconst c;
    c.q = _mm512_set1_epi64((long long)q);
    c.q2 = _mm512_set1_epi64((long long)(2 * q));
    c.negq = _mm512_set1_epi64((long long)((1ull << 52) - q));
    c.mask = _mm512_set1_epi64((long long)((1ull << 52) - 1));
    return c;
}

/* y * w mod q in [0, 2q) for y < 2^52. */
IFMA static inline __m512i mulshoup52(__m512i y, __m512i w, __m512i wp, const vconst *c)
{
    __m512i z = _mm512_setzero_si512();
    __m512i qh = _mm512_madd52hi_epu64(z, y, wp);
    __m512i r = _mm512_madd52lo_epu64(z, y, w);
    r = _mm512_madd52lo_epu64(r, qh, c->negq);
    return _mm512_and_si512(r, c->mask);
}

/* x >= m ? x - m : x */
IFMA static inline __m512i csub(__m512i x, __m512i m)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

/* Forward butterfly: X, Y in [0, 4q) -> [0, 4q). */
IFMA static inline void fwd_bf(__m512i *X, __m512i *Y, __m512i W, __m512i Wp, const vconst *c)
{
    __m512i x = csub(*X, c->q2);
    __m512i t = mulshoup52(*Y, W, Wp, c);
    *X = _mm512_add_epi64(x, t);
    *Y = _mm512_add_epi64(_mm512_sub_epi64(x, t), c->q2);
}

/* Inverse butterfly: X, Y in [0, 2q) -> [0, 2q). */
IFMA static inline void inv_bf(__m512i *X, __m512i *Y, __m512i W, __m512i Wp, const vconst *c)
{
    __m512i s = csub(_mm512_add_epi64(*X, *Y), c->q2);
    __m512i d = _mm512_add_epi64(_mm512_sub_epi64(*X, *Y), c->q2);
    *X = s;
    *Y = mulshoup52(d, W, Wp, c);
}

#define IDX(a, b, c, d, e, f, g, h) _mm512_set_epi64(h, g, f, e, d, c, b, a)

IFMA void ckks_ntt_ifma(uint64_t *a, const ckks_mod *m, unsigned n)
{
    const vconst c = vc_make(m->q);
    const uint64_t *w = m->w, *wp = m->wp52;
    unsigned mm = 1, t = n >> 1;
    for (; t >= 8; mm <<= 1, t >>= 1)
        for (unsigned i = 0; i < mm; i++) {
            __m512i W = _mm512_set1_epi64((long long)w[mm + i]);
            __m512i Wp = _mm512_set1_epi64((long long)wp[mm + i]);
            uint64_t *x = a + 2 * (size_t)i * t, *y = x + t;
            for (unsigned j = 0; j < t; j += 8) {
                __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
                fwd_bf(&X, &Y, W, Wp, &c);
                _mm512_storeu_si512(x + j, X);
                _mm512_storeu_si512(y + j, Y);
            }
        }
    /* t = 4: blocks of 8, two per pair of vectors */
    {
        const __m512i lo = IDX(0, 1, 2, 3, 8, 9, 10, 11), hi = IDX(4, 5, 6, 7, 12, 13, 14, 15);
        const __m512i wi = IDX(0, 0, 0, 0, 1, 1, 1, 1);
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = mm + b / 8;
            __m512i W = _mm512_permutexvar_epi64(wi, _mm512_castsi128_si512(_mm_loadu_si128((const void *)(w + i))));
            __m512i Wp = _mm512_permutexvar_epi64(wi, _mm512_castsi128_si512(_mm_loadu_si128((const void *)(wp + i))));
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            fwd_bf(&X, &Y, W, Wp, &c);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, lo, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, hi, Y));
        }
        mm <<= 1;
    }
    /* t = 2: blocks of 4 */
    {
        const __m512i lo = IDX(0, 1, 4, 5, 8, 9, 12, 13), hi = IDX(2, 3, 6, 7, 10, 11, 14, 15);
        const __m512i o0 = IDX(0, 1, 8, 9, 2, 3, 10, 11), o1 = IDX(4, 5, 12, 13, 6, 7, 14, 15);
        const __m512i wi = IDX(0, 0, 1, 1, 2, 2, 3, 3);
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = mm + b / 4;
            __m512i W = _mm512_permutexvar_epi64(wi, _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(w + i))));
            __m512i Wp = _mm512_permutexvar_epi64(wi, _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(wp + i))));
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            fwd_bf(&X, &Y, W, Wp, &c);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, o0, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, o1, Y));
        }
        mm <<= 1;
    }
    /* t = 1: pairs, with the final reduction to [0, q) */
    {
        const __m512i lo = IDX(0, 2, 4, 6, 8, 10, 12, 14), hi = IDX(1, 3, 5, 7, 9, 11, 13, 15);
        const __m512i o0 = IDX(0, 8, 1, 9, 2, 10, 3, 11), o1 = IDX(4, 12, 5, 13, 6, 14, 7, 15);
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = mm + b / 2;
            __m512i W = _mm512_loadu_si512(w + i), Wp = _mm512_loadu_si512(wp + i);
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            fwd_bf(&X, &Y, W, Wp, &c);
            X = csub(csub(X, c.q2), c.q);
            Y = csub(csub(Y, c.q2), c.q);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, o0, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, o1, Y));
        }
    }
}

IFMA void ckks_intt_ifma(uint64_t *a, const ckks_mod *m, unsigned n)
{
    const vconst c = vc_make(m->q);
    const uint64_t *w = m->iw, *wp = m->iwp52;
    /* t = 1: h = n/2 blocks of 2 */
    {
        const __m512i lo = IDX(0, 2, 4, 6, 8, 10, 12, 14), hi = IDX(1, 3, 5, 7, 9, 11, 13, 15);
        const __m512i o0 = IDX(0, 8, 1, 9, 2, 10, 3, 11), o1 = IDX(4, 12, 5, 13, 6, 14, 7, 15);
        unsigned h = n / 2;
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = h + b / 2;
            __m512i W = _mm512_loadu_si512(w + i), Wp = _mm512_loadu_si512(wp + i);
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            inv_bf(&X, &Y, W, Wp, &c);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, o0, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, o1, Y));
        }
    }
    /* t = 2: h = n/4 */
    {
        const __m512i lo = IDX(0, 1, 4, 5, 8, 9, 12, 13), hi = IDX(2, 3, 6, 7, 10, 11, 14, 15);
        const __m512i o0 = IDX(0, 1, 8, 9, 2, 3, 10, 11), o1 = IDX(4, 5, 12, 13, 6, 7, 14, 15);
        const __m512i wi = IDX(0, 0, 1, 1, 2, 2, 3, 3);
        unsigned h = n / 4;
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = h + b / 4;
            __m512i W = _mm512_permutexvar_epi64(wi, _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(w + i))));
            __m512i Wp = _mm512_permutexvar_epi64(wi, _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(wp + i))));
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            inv_bf(&X, &Y, W, Wp, &c);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, o0, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, o1, Y));
        }
    }
    /* t = 4: h = n/8 */
    {
        const __m512i lo = IDX(0, 1, 2, 3, 8, 9, 10, 11), hi = IDX(4, 5, 6, 7, 12, 13, 14, 15);
        const __m512i wi = IDX(0, 0, 0, 0, 1, 1, 1, 1);
        unsigned h = n / 8;
        for (unsigned b = 0; b < n; b += 16) {
            unsigned i = h + b / 8;
            __m512i W = _mm512_permutexvar_epi64(wi, _mm512_castsi128_si512(_mm_loadu_si128((const void *)(w + i))));
            __m512i Wp = _mm512_permutexvar_epi64(wi, _mm512_castsi128_si512(_mm_loadu_si128((const void *)(wp + i))));
            __m512i v0 = _mm512_loadu_si512(a + b), v1 = _mm512_loadu_si512(a + b + 8);
            __m512i X = _mm512_permutex2var_epi64(v0, lo, v1), Y = _mm512_permutex2var_epi64(v0, hi, v1);
            inv_bf(&X, &Y, W, Wp, &c);
            _mm512_storeu_si512(a + b, _mm512_permutex2var_epi64(X, lo, Y));
            _mm512_storeu_si512(a + b + 8, _mm512_permutex2var_epi64(X, hi, Y));
        }
    }
    /* t = 8 .. n/4 */
    for (unsigned t = 8; t < n / 2; t <<= 1) {
        unsigned h = n / (2 * t);
        for (unsigned i = 0; i < h; i++) {
            __m512i W = _mm512_set1_epi64((long long)w[h + i]);
            __m512i Wp = _mm512_set1_epi64((long long)wp[h + i]);
            uint64_t *x = a + 2 * (size_t)i * t, *y = x + t;
            for (unsigned j = 0; j < t; j += 8) {
                __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
                inv_bf(&X, &Y, W, Wp, &c);
                _mm512_storeu_si512(x + j, X);
                _mm512_storeu_si512(y + j, Y);
            }
        }
    }
    /* last stage, N^-1 folded in, reduced to [0, q) */
    {
        unsigned t = n / 2;
        __m512i Ni = _mm512_set1_epi64((long long)m->ninv), Nip = _mm512_set1_epi64((long long)m->ninvp52);
        __m512i W = _mm512_set1_epi64((long long)m->ninv_last);
        __m512i Wp = _mm512_set1_epi64((long long)m->ninv_lastp52);
        uint64_t *x = a, *y = a + t;
        for (unsigned j = 0; j < t; j += 8) {
            __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
            __m512i s = csub(_mm512_add_epi64(X, Y), c.q2);
            __m512i d = _mm512_add_epi64(_mm512_sub_epi64(X, Y), c.q2);
            _mm512_storeu_si512(x + j, csub(mulshoup52(s, Ni, Nip, &c), c.q));
            _mm512_storeu_si512(y + j, csub(mulshoup52(d, W, Wp, &c), c.q));
        }
    }
}

/* a * b mod q for a, b < q < 2^50: Barrett on the 104-bit product. */
typedef struct mconst {
    vconst c;
    __m512i mu;
    __m128i sh_lo, sh_hi;
} mconst;

IFMA static inline mconst mc_make(const ckks_mod *m)
{
    mconst k;
    k.c = vc_make(m->q);
    k.mu = _mm512_set1_epi64((long long)m->mu52);
    k.sh_lo = _mm_cvtsi32_si128(m->bits - 1);
    k.sh_hi = _mm_cvtsi32_si128(53 - m->bits);
    return k;
}

IFMA static inline __m512i mulmod52(__m512i a, __m512i b, const mconst *k)
{
    __m512i z = _mm512_setzero_si512();
    __m512i lo = _mm512_madd52lo_epu64(z, a, b), hi = _mm512_madd52hi_epu64(z, a, b);
    __m512i c1 = _mm512_or_si512(_mm512_srl_epi64(lo, k->sh_lo), _mm512_sll_epi64(hi, k->sh_hi));
    __m512i c3 = _mm512_madd52hi_epu64(z, c1, k->mu);
    __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(lo, c3, k->c.negq), k->c.mask);
    return csub(csub(r, k->c.q2), k->c.q);
}

/* x mod q for a 64-bit lane x < 2^(2 bits) (Barrett; the result of
** x - c3 q lies in [0, 4q) and is formed modulo 2^52). */
IFMA static inline __m512i barrett52(__m512i x, const mconst *k)
{
    __m512i z = _mm512_setzero_si512();
    __m512i c3 = _mm512_madd52hi_epu64(z, _mm512_srl_epi64(x, k->sh_lo), k->mu);
    __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(x, c3, k->c.negq), k->c.mask);
    return csub(csub(r, k->c.q2), k->c.q);
}

IFMA void ckks_sub_reduce_ifma(uint64_t *o, const uint64_t *x, uint64_t h, const ckks_mod *m,
                               unsigned n)
{
    const mconst k = mc_make(m);
    const __m512i vh = _mm512_set1_epi64((long long)(m->q - h));
    for (unsigned j = 0; j < n; j += 8) {
        __m512i r = barrett52(_mm512_loadu_si512(x + j), &k);
        _mm512_storeu_si512(o + j, csub(_mm512_add_epi64(r, vh), k.c.q));
    }
}

IFMA void ckks_reduce_mac52_ifma(uint64_t *o, const uint64_t *lo, const uint64_t *hi,
                                 const ckks_mod *m, unsigned n)
{
    const mconst k = mc_make(m);
    const __m512i R = _mm512_set1_epi64((long long)m->r52);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i l = _mm512_loadu_si512(lo + j), h = _mm512_loadu_si512(hi + j);
        h = _mm512_add_epi64(h, _mm512_srli_epi64(l, 52));
        l = _mm512_and_si512(l, k.c.mask);
        __m512i hr = mulmod52(barrett52(h, &k), R, &k);
        _mm512_storeu_si512(o + j, csub(_mm512_add_epi64(hr, barrett52(l, &k)), k.c.q));
    }
}

IFMA void ckks_sub_mulshoup_ifma(uint64_t *o, const uint64_t *d, const uint64_t *x, uint64_t w,
                                 uint64_t wp52, const ckks_mod *m, unsigned n)
{
    const vconst c = vc_make(m->q);
    const __m512i W = _mm512_set1_epi64((long long)w), Wp = _mm512_set1_epi64((long long)wp52);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i t = _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(d + j), c.q), _mm512_loadu_si512(x + j));
        _mm512_storeu_si512(o + j, csub(mulshoup52(t, W, Wp, &c), c.q));
    }
}

IFMA void ckks_addmul_const_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t w, uint64_t wp52,
                                 const ckks_mod *m, unsigned n)
{
    const vconst c = vc_make(m->q);
    const __m512i W = _mm512_set1_epi64((long long)w), Wp = _mm512_set1_epi64((long long)wp52);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i r = csub(mulshoup52(_mm512_loadu_si512(b + j), W, Wp, &c), c.q);
        if (a) r = csub(_mm512_add_epi64(r, _mm512_loadu_si512(a + j)), c.q);
        _mm512_storeu_si512(o + j, r);
    }
}

IFMA void ckks_mul_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const ckks_mod *m,
                        unsigned n)
{
    const mconst k = mc_make(m);
    for (unsigned j = 0; j < n; j += 8)
        _mm512_storeu_si512(o + j, mulmod52(_mm512_loadu_si512(a + j), _mm512_loadu_si512(b + j), &k));
}

IFMA void ckks_muladd_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                           const ckks_mod *m, unsigned n)
{
    const mconst k = mc_make(m);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i r = mulmod52(_mm512_loadu_si512(a + j), _mm512_loadu_si512(b + j), &k);
        r = csub(_mm512_add_epi64(r, _mm512_loadu_si512(c + j)), k.c.q);
        _mm512_storeu_si512(o + j, r);
    }
}

IFMA void ckks_tensor_ifma(uint64_t *o0, uint64_t *o1, uint64_t *o2, const uint64_t *a0,
                           const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                           const ckks_mod *m, unsigned n)
{
    const mconst k = mc_make(m);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i x0 = _mm512_loadu_si512(a0 + j), x1 = _mm512_loadu_si512(a1 + j);
        __m512i y0 = _mm512_loadu_si512(b0 + j), y1 = _mm512_loadu_si512(b1 + j);
        __m512i d0 = mulmod52(x0, y0, &k), d2 = mulmod52(x1, y1, &k);
        __m512i d1 = csub(_mm512_add_epi64(mulmod52(x0, y1, &k), mulmod52(x1, y0, &k)), k.c.q);
        _mm512_storeu_si512(o0 + j, d0);
        _mm512_storeu_si512(o1 + j, d1);
        _mm512_storeu_si512(o2 + j, d2);
    }
}

IFMA void ckks_mac52_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, const uint64_t *k,
                          unsigned n)
{
    for (unsigned j = 0; j < n; j += 8) {
        __m512i a = _mm512_loadu_si512(x + j), b = _mm512_loadu_si512(k + j);
        _mm512_storeu_si512(lo + j, _mm512_madd52lo_epu64(_mm512_loadu_si512(lo + j), a, b));
        _mm512_storeu_si512(hi + j, _mm512_madd52hi_epu64(_mm512_loadu_si512(hi + j), a, b));
    }
}

IFMA void ckks_mac52s_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, uint64_t w, unsigned n)
{
    __m512i b = _mm512_set1_epi64((long long)w);
    for (unsigned j = 0; j < n; j += 8) {
        __m512i a = _mm512_loadu_si512(x + j);
        _mm512_storeu_si512(lo + j, _mm512_madd52lo_epu64(_mm512_loadu_si512(lo + j), a, b));
        _mm512_storeu_si512(hi + j, _mm512_madd52hi_epu64(_mm512_loadu_si512(hi + j), a, b));
    }
}

IFMA void ckks_mac32x2_ifma(uint64_t *s0, uint64_t *s1, const uint64_t *x, const uint64_t *k0, const uint64_t *k1,
                            unsigned n)
{
    for (unsigned j = 0; j < n; j += 8) {
        __m512i a = _mm512_loadu_si512(x + j);
        __m512i p0 = _mm512_mul_epu32(a, _mm512_loadu_si512(k0 + j)), p1 = _mm512_mul_epu32(a, _mm512_loadu_si512(k1 + j));
        _mm512_storeu_si512(s0 + j, _mm512_add_epi64(_mm512_loadu_si512(s0 + j), p0));
        _mm512_storeu_si512(s1 + j, _mm512_add_epi64(_mm512_loadu_si512(s1 + j), p1));
    }
}

IFMA void ckks_reduce64_ifma(uint64_t *o, const uint64_t *s, const ckks_mod *m, unsigned n)
{
    const red64c k = red64_make(m);
    for (unsigned j = 0; j < n; j += 8) _mm512_storeu_si512(o + j, red64_lane(_mm512_loadu_si512(s + j), &k));
}

#else

void ckks_mac32x2_ifma(uint64_t *s0, uint64_t *s1, const uint64_t *x, const uint64_t *k0, const uint64_t *k1,
                       unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        s0[j] += (uint64_t)(uint32_t)x[j] * (uint32_t)k0[j];
        s1[j] += (uint64_t)(uint32_t)x[j] * (uint32_t)k1[j];
    }
}
void ckks_reduce64_ifma(uint64_t *o, const uint64_t *s, const ckks_mod *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) o[j] = ckks_red64(s[j], m);
}
void ckks_sub_reduce_ifma(uint64_t *o, const uint64_t *x, uint64_t h, const ckks_mod *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) o[j] = ckks_submod(x[j] % m->q, h, m->q);
}
void ckks_reduce_mac52_ifma(uint64_t *o, const uint64_t *lo, const uint64_t *hi, const ckks_mod *m,
                            unsigned n)
{
    for (unsigned j = 0; j < n; j++) o[j] = ckks_red128(ckks_mac52_value(lo[j], hi[j]), m);
}
void ckks_sub_mulshoup_ifma(uint64_t *o, const uint64_t *d, const uint64_t *x, uint64_t w,
                            uint64_t wp52, const ckks_mod *m, unsigned n)
{
    (void)wp52;
    for (unsigned j = 0; j < n; j++) o[j] = ckks_mulmod(ckks_submod(d[j], x[j], m->q), w, m);
}
void ckks_mac52_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, const uint64_t *k, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        u128 p = (u128)x[j] * k[j];
        lo[j] += (uint64_t)p & ((1ull << 52) - 1);
        hi[j] += (uint64_t)(p >> 52);
    }
}
void ckks_mac52s_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, uint64_t w, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        u128 p = (u128)x[j] * w;
        lo[j] += (uint64_t)p & ((1ull << 52) - 1);
        hi[j] += (uint64_t)(p >> 52);
    }
}
void ckks_addmul_const_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t w, uint64_t wp52,
                            const ckks_mod *m, unsigned n)
{
    (void)o, (void)a, (void)b, (void)w, (void)wp52, (void)m, (void)n;
}
void ckks_mul_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const ckks_mod *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) o[j] = ckks_mulmod(a[j], b[j], m);
}
void ckks_muladd_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                      const ckks_mod *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) o[j] = ckks_addmod(ckks_mulmod(a[j], b[j], m), c[j], m->q);
}
void ckks_tensor_ifma(uint64_t *o0, uint64_t *o1, uint64_t *o2, const uint64_t *a0,
                      const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                      const ckks_mod *m, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        uint64_t d0 = ckks_mulmod(a0[j], b0[j], m), d2 = ckks_mulmod(a1[j], b1[j], m);
        o1[j] = ckks_addmod(ckks_mulmod(a0[j], b1[j], m), ckks_mulmod(a1[j], b0[j], m), m->q);
        o0[j] = d0;
        o2[j] = d2;
    }
}
bool ckks_cpu_has_ifma(void) { return false; }
void ckks_ntt_ifma(uint64_t *a, const ckks_mod *m, unsigned n) { ckks_ntt_scalar(a, m, n); }
void ckks_intt_ifma(uint64_t *a, const ckks_mod *m, unsigned n) { ckks_intt_scalar(a, m, n); }

#endif
