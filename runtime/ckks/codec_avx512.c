/*
** codec_avx512.c: the integer halves of CKKS encoding and decoding, eight
** coefficients at a time with AVX-512 (IFMA for the 52-bit products, DQ for
** the conversions between doubles and 64-bit integers):
**   encoding: round(value * scale) and its residues modulo each prime;
**   decoding: the CRT composition of each coefficient as a centered double,
**     through its mixed-radix (Garner) digits (ckks_garner).
** ckks.c holds the portable code for both and uses these where
** ckks_codec_avx512 says so (every prime of the level has the IFMA layout:
** q < 2^50); both give bit-identical results (the same operations, in the
** same order, on doubles; residues are unique).
*/
#include <math.h>

#include "ckks/ckks_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define KERNEL __attribute__((target("avx512f,avx512dq,avx512ifma")))

static bool cpu_ok(void)
{
    static _Atomic int ok = -1;
    int v = ok;
    if (v < 0) {
        __builtin_cpu_init();
        v = ckks_cpu_has_ifma() && __builtin_cpu_supports("avx512dq");
        ok = v;
    }
    return v;
}

bool ckks_codec_avx512(const he_ckks_ctx *c, unsigned nq)
{
    if (c->n < 16 || !cpu_ok()) return false;
    for (unsigned t = 0; t < nq; t++)
        if (!c->mod[t].ifma) return false;
    return true;
}

/* x >= m ? x - m : x */
KERNEL static inline __m512i csub(__m512i x, __m512i m)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

/* y * w mod q in [0, 2q) for y < 2^52, w < q < 2^50, wp = floor(w 2^52 / q). */
KERNEL static inline __m512i mulshoup52(__m512i y, __m512i w, __m512i wp, __m512i negq)
{
    const __m512i z = _mm512_setzero_si512(), mask = _mm512_set1_epi64((1ll << 52) - 1);
    __m512i qh = _mm512_madd52hi_epu64(z, y, wp);
    __m512i r = _mm512_madd52lo_epu64(z, y, w);
    r = _mm512_madd52lo_epu64(r, qh, negq);
    return _mm512_and_si512(r, mask);
}

/* round(x) (halves away from zero, as C's round) for finite x. */
KERNEL static inline __m512d round_half_away(__m512d x)
{
    __m512d t = _mm512_roundscale_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512d d = _mm512_sub_pd(x, t); /* exact */
    __m512d one = _mm512_castsi512_pd(_mm512_or_si512(
        _mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64((long long)0x8000000000000000ull)),
        _mm512_castpd_si512(_mm512_set1_pd(1.0))));
    __mmask8 up = _mm512_cmp_pd_mask(_mm512_abs_pd(d), _mm512_set1_pd(0.5), _CMP_GE_OQ);
    return _mm512_mask_add_pd(t, up, t, one);
}

/* Writes the residues of one block of eight rounded values r (|r| < 2^52)
** at the nq primes, stride n apart. */
KERNEL static inline void put_residues(const he_ckks_ctx *c, uint64_t *out, __m512d r, unsigned nq,
                                       const uint64_t *wp1)
{
    __mmask8 neg = _mm512_cmp_pd_mask(r, _mm512_setzero_pd(), _CMP_LT_OQ);
    __m512i u = _mm512_cvttpd_epi64(_mm512_abs_pd(r));
    const __m512i one = _mm512_set1_epi64(1);
    for (unsigned t = 0; t < nq; t++) {
        const ckks_mod *m = &c->mod[t];
        __m512i Q = _mm512_set1_epi64((long long)m->q);
        __m512i negq = _mm512_set1_epi64((long long)((1ull << 52) - m->q));
        __m512i wp = _mm512_set1_epi64((long long)wp1[t]);
        __m512i x = csub(mulshoup52(u, one, wp, negq), Q);
        x = csub(_mm512_mask_sub_epi64(x, neg, Q, x), Q); /* -u: q - x, 0 for 0 */
        _mm512_storeu_si512(out + (size_t)t * c->n, x);
    }
}

KERNEL unsigned ckks_encode_round_avx512(const he_ckks_ctx *c, uint64_t *out, const double complex *z,
                                         unsigned from, unsigned nq, double scale, double lim)
{
    unsigned nh = c->slots;
    const double *zd = (const double *)z;
    const __m512i ire = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i iim = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    const __m512d S = _mm512_set1_pd(scale), L = _mm512_set1_pd(fmin(lim, 0x1p52));
    uint64_t wp1[HE_CKKS_MAX_PRIMES]; /* floor(2^52 / q_t) */
    for (unsigned t = 0; t < nq; t++) wp1[t] = ckks_shoup52(1, c->mod[t].q);
    unsigned i = from;
    for (; i + 8 <= nh; i += 8) {
        __m512d v0 = _mm512_loadu_pd(zd + 2 * (size_t)i), v1 = _mm512_loadu_pd(zd + 2 * (size_t)i + 8);
        __m512d re = round_half_away(_mm512_mul_pd(_mm512_permutex2var_pd(v0, ire, v1), S));
        __m512d im = round_half_away(_mm512_mul_pd(_mm512_permutex2var_pd(v0, iim, v1), S));
        /* both below the limit (false for NaN): else the caller's scalar code */
        if ((__mmask8)(_mm512_cmp_pd_mask(_mm512_abs_pd(re), L, _CMP_LT_OQ) &
                       _mm512_cmp_pd_mask(_mm512_abs_pd(im), L, _CMP_LT_OQ)) != 0xff)
            break;
        put_residues(c, out + i, re, nq, wp1);
        put_residues(c, out + i + nh, im, nq, wp1);
    }
    return i;
}

/* The centered values of the eight coefficients at x (stride n), times inv. */
KERNEL static inline __m512d compose8(const he_ckks_ctx *c, const ckks_garner *g, const uint64_t *x,
                                      double inv)
{
    unsigned nq = g->nq;
    size_t n = c->n;
    __m512i a[HE_CKKS_MAX_PRIMES];
    a[0] = _mm512_loadu_si512(x);
    for (unsigned t = 1; t < nq; t++) {
        const uint64_t *w = g->w + (size_t)t * nq, *wp = g->wp52 + (size_t)t * nq;
        uint64_t q = c->mod[t].q;
        __m512i negq = _mm512_set1_epi64((long long)((1ull << 52) - q));
        __m512i Q2 = _mm512_set1_epi64((long long)(2 * q));
        __m512i s = mulshoup52(_mm512_loadu_si512(x + t * n), _mm512_set1_epi64((long long)w[t]),
                               _mm512_set1_epi64((long long)wp[t]), negq);
        for (unsigned j = 0; j < t; j++) {
            __m512i p = mulshoup52(a[j], _mm512_set1_epi64((long long)w[j]), _mm512_set1_epi64((long long)wp[j]),
                                   negq);
            s = csub(_mm512_add_epi64(s, p), Q2);
        }
        a[t] = csub(s, _mm512_set1_epi64((long long)q));
    }
    /* above (Q - 1) / 2 (digits (q_t - 1) / 2): the first differing digit from the top decides */
    __mmask8 gt = 0, eq = 0xff;
    for (unsigned t = nq; t-- > 0 && eq;) {
        __m512i h = _mm512_set1_epi64((long long)((c->mod[t].q - 1) / 2));
        gt |= eq & _mm512_cmpgt_epu64_mask(a[t], h);
        eq &= _mm512_cmpeq_epu64_mask(a[t], h);
    }
    __m512d v = _mm512_setzero_pd();
    for (unsigned t = nq; t-- > 0;) {
        __m512i qm1 = _mm512_set1_epi64((long long)(c->mod[t].q - 1));
        __m512d d = _mm512_cvtepu64_pd(_mm512_mask_sub_epi64(a[t], gt, qm1, a[t]));
        v = t == nq - 1 ? d : _mm512_add_pd(_mm512_mul_pd(v, _mm512_set1_pd((double)c->mod[t].q)), d);
    }
    __m512d negv = _mm512_sub_pd(_mm512_setzero_pd(), _mm512_add_pd(v, _mm512_set1_pd(1.0)));
    v = _mm512_mask_blend_pd(gt, v, negv);
    return _mm512_mul_pd(v, _mm512_set1_pd(inv));
}

KERNEL void ckks_decode_compose_avx512(const he_ckks_ctx *c, const ckks_garner *g, double complex *z,
                                       const uint64_t *x, double inv)
{
    unsigned nh = c->slots;
    double *zd = (double *)z;
    const __m512i lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (unsigned i = 0; i < nh; i += 8) {
        __m512d re = compose8(c, g, x + i, inv), im = compose8(c, g, x + i + nh, inv);
        _mm512_storeu_pd(zd + 2 * (size_t)i, _mm512_permutex2var_pd(re, lo, im));
        _mm512_storeu_pd(zd + 2 * (size_t)i + 8, _mm512_permutex2var_pd(re, hi, im));
    }
}

/* v * t for four complex values (interleaved): re = vr tr - vi ti,
** im = vr ti + vi tr, each product rounded, as ckks.c's cmul. */
KERNEL static inline __m512d cmul4(__m512d v, __m512d t)
{
    __m512d tr = _mm512_movedup_pd(t), ti = _mm512_permute_pd(t, 0xff);
    __m512d p1 = _mm512_mul_pd(v, tr), p2 = _mm512_mul_pd(_mm512_permute_pd(v, 0x55), ti);
    return _mm512_mask_blend_pd(0xaa, _mm512_sub_pd(p1, p2), _mm512_add_pd(p1, p2));
}

KERNEL void ckks_fft_stage_avx512(double complex *v, const double complex *tw, unsigned n, unsigned h,
                                  bool inverse)
{
    double *d = (double *)v;
    const double *t = (const double *)tw;
    for (unsigned i = 0; i < n; i += 2 * h)
        for (unsigned j = 0; j < h; j += 4) {
            double *x = d + 2 * (size_t)(i + j), *y = x + 2 * (size_t)h;
            __m512d a = _mm512_loadu_pd(x), b = _mm512_loadu_pd(y), w = _mm512_loadu_pd(t + 2 * (size_t)j);
            if (inverse) {
                _mm512_storeu_pd(x, _mm512_add_pd(a, b));
                _mm512_storeu_pd(y, cmul4(_mm512_sub_pd(a, b), w));
            } else {
                b = cmul4(b, w);
                _mm512_storeu_pd(x, _mm512_add_pd(a, b));
                _mm512_storeu_pd(y, _mm512_sub_pd(a, b));
            }
        }
}

#else

bool ckks_codec_avx512(const he_ckks_ctx *c, unsigned nq)
{
    (void)c;
    (void)nq;
    return false;
}
unsigned ckks_encode_round_avx512(const he_ckks_ctx *c, uint64_t *out, const double complex *z,
                                  unsigned from, unsigned nq, double scale, double lim)
{
    (void)c, (void)out, (void)z, (void)nq, (void)scale, (void)lim;
    return from;
}
void ckks_decode_compose_avx512(const he_ckks_ctx *c, const ckks_garner *g, double complex *z,
                                const uint64_t *x, double inv)
{
    (void)c, (void)g, (void)z, (void)x, (void)inv;
}
void ckks_fft_stage_avx512(double complex *v, const double complex *tw, unsigned n, unsigned h,
                           bool inverse)
{
    (void)v, (void)tw, (void)n, (void)h, (void)inverse;
}

#endif
