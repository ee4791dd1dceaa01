/*
** ntt.c: prime arithmetic and the negacyclic number-theoretic transform.
**
** Forward: Cooley-Tukey with Harvey's butterfly (Shoup-precomputed twiddles,
** values kept in [0, 4q) between stages, one final reduction). Inverse:
** Gentleman-Sande, values in [0, 2q), with N^-1 folded into the last stage.
** Twiddles are the powers of a primitive 2N-th root psi in bit-reversed
** order, so the transform needs no separate pre-/post-multiplication.
*/
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

uint64_t ckks_powmod(uint64_t b, uint64_t e, uint64_t q)
{
    uint64_t r = 1 % q;
    b %= q;
    while (e) {
        if (e & 1) r = (uint64_t)((u128)r * b % q);
        b = (uint64_t)((u128)b * b % q);
        e >>= 1;
    }
    return r;
}

uint64_t ckks_invmod(uint64_t a, uint64_t q)
{
    return ckks_powmod(a, q - 2, q);
}

/* Deterministic Miller-Rabin for 64-bit n (these bases suffice < 3.3e24). */
bool ckks_is_prime(uint64_t n)
{
    static const uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2) return false;
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        if (n == bases[i]) return true;
        if (n % bases[i] == 0) return false;
    }
    uint64_t d = n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        uint64_t x = ckks_powmod(bases[i], d, n);
        if (x == 1 || x == n - 1) continue;
        int composite = 1;
        for (int r = 1; r < s; r++) {
            x = (uint64_t)((u128)x * x % n);
            if (x == n - 1) {
                composite = 0;
                break;
            }
        }
        if (composite) return false;
    }
    return true;
}

unsigned ckks_bitrev(unsigned x, unsigned logn)
{
    unsigned r = 0;
    for (unsigned i = 0; i < logn; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

static unsigned log2u(unsigned n)
{
    unsigned l = 0;
    while ((1u << l) < n) l++;
    return l;
}

int ckks_mod_init(ckks_mod *m, uint64_t q, unsigned n)
{
    memset(m, 0, sizeof *m);
    if (q < 3 || q >= (1ull << 61) || (q - 1) % (2ull * n) != 0)
        return he_error("ckks: %llu is not an NTT prime for N=%u",
                        (unsigned long long)q, n);
    m->q = q;
    m->two_q = 2 * q;
    m->bits = 64 - __builtin_clzll(q);
    m->mu = (uint64_t)(((u128)1 << (2 * m->bits)) / q);
    u128 r = ~(u128)0 / q; /* floor((2^128 - 1) / q) = floor(2^128 / q): q odd */
    m->r_hi = (uint64_t)(r >> 64);
    m->r_lo = (uint64_t)r;
    /* Smallest generator g whose (q-1)/2N-th power has order exactly 2N. */
    uint64_t psi = 0;
    for (uint64_t g = 2; g < q; g++) {
        uint64_t c = ckks_powmod(g, (q - 1) / (2ull * n), q);
        if (ckks_powmod(c, n, q) == q - 1) {
            psi = c;
            break;
        }
    }
    if (!psi) return he_error("ckks: no 2N-th root of unity mod %llu", (unsigned long long)q);
    m->psi = psi;
    m->w = he_malloc(4 * (size_t)n * sizeof(uint64_t));
    if (!m->w) return -1;
    m->wp = m->w + n;
    m->iw = m->w + 2 * (size_t)n;
    m->iwp = m->w + 3 * (size_t)n;
    unsigned logn = log2u(n);
    uint64_t psiinv = ckks_invmod(psi, q);
    /* powers in natural order, then scattered to bit-reversed positions */
    uint64_t p = 1, pi = 1;
    for (unsigned i = 0; i < n; i++) {
        unsigned j = ckks_bitrev(i, logn);
        m->w[j] = p;
        m->iw[j] = pi;
        p = (uint64_t)((u128)p * psi % q);
        pi = (uint64_t)((u128)pi * psiinv % q);
    }
    for (unsigned i = 0; i < n; i++) {
        m->wp[i] = ckks_shoup(m->w[i], q);
        m->iwp[i] = ckks_shoup(m->iw[i], q);
    }
    m->ninv = ckks_invmod(n % q, q);
    m->ninvp = ckks_shoup(m->ninv, q);
    m->ninv_last = (uint64_t)((u128)m->ninv * m->iw[1] % q);
    m->ninv_lastp = ckks_shoup(m->ninv_last, q);
    if (q < (1ull << 50) && n >= 16) {
        m->wp52 = he_malloc(2 * (size_t)n * sizeof(uint64_t));
        if (!m->wp52) {
            ckks_mod_free(m);
            return -1;
        }
        m->iwp52 = m->wp52 + n;
        for (unsigned i = 0; i < n; i++) {
            m->wp52[i] = ckks_shoup52(m->w[i], q);
            m->iwp52[i] = ckks_shoup52(m->iw[i], q);
        }
        m->ninvp52 = ckks_shoup52(m->ninv, q);
        m->ninv_lastp52 = ckks_shoup52(m->ninv_last, q);
        m->mu52 = (uint64_t)(((u128)1 << (m->bits + 51)) / q);
        m->r52 = (uint64_t)(((u128)1 << 52) % q);
        m->ifma = ckks_use_ifma();
        m->ifma_red = m->ifma && m->bits >= 26;
    }
    return 0;
}

static _Atomic int use_ifma = -1; /* -1: not decided yet */

void ckks_force_portable(bool on)
{
    use_ifma = on ? 0 : -1;
}

bool ckks_use_ifma(void)
{
    int use = use_ifma;
    if (use < 0) {
        const char *e = getenv("HE_CKKS_NO_AVX512");
        use = ckks_cpu_has_ifma() && !(e && *e && strcmp(e, "0") != 0);
        use_ifma = use;
    }
    return use;
}

void ckks_ntt(uint64_t *a, const ckks_mod *m, unsigned n)
{
    if (m->ifma)
        ckks_ntt_ifma(a, m, n);
    else
        ckks_ntt_scalar(a, m, n);
}

void ckks_intt(uint64_t *a, const ckks_mod *m, unsigned n)
{
    if (m->ifma)
        ckks_intt_ifma(a, m, n);
    else
        ckks_intt_scalar(a, m, n);
}

void ckks_mod_free(ckks_mod *m)
{
    he_free(m->w);
    he_free(m->wp52);
    m->w = m->wp = m->iw = m->iwp = m->wp52 = m->iwp52 = NULL;
    m->ifma = m->ifma_red = 0;
}

void ckks_ntt_scalar(uint64_t *a, const ckks_mod *m, unsigned n)
{
    const uint64_t q = m->q, two_q = m->two_q;
    const uint64_t *w = m->w, *wp = m->wp;
    unsigned t = n >> 1;
    /* first stage (m = 1): inputs < q, so no correction on X */
    {
        const uint64_t W = w[1], Wp = wp[1];
        uint64_t *x = a, *y = a + t;
        for (unsigned j = 0; j < t; j++) {
            uint64_t X = x[j];
            uint64_t T = ckks_mulshoup_lazy(y[j], W, Wp, q);
            x[j] = X + T;
            y[j] = X - T + two_q;
        }
    }
    for (unsigned mm = 2; mm < n; mm <<= 1) {
        t >>= 1;
        for (unsigned i = 0; i < mm; i++) {
            const uint64_t W = w[mm + i], Wp = wp[mm + i];
            uint64_t *x = a + 2 * (size_t)i * t, *y = x + t;
            for (unsigned j = 0; j < t; j++) {
                uint64_t X = x[j];
                X = ckks_csub(X, two_q);
                uint64_t T = ckks_mulshoup_lazy(y[j], W, Wp, q);
                x[j] = X + T;
                y[j] = X - T + two_q;
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t x = a[i];
        x = ckks_csub(x, two_q);
        x = ckks_csub(x, q);
        a[i] = x;
    }
}

void ckks_intt_scalar(uint64_t *a, const ckks_mod *m, unsigned n)
{
    const uint64_t q = m->q, two_q = m->two_q;
    const uint64_t *w = m->iw, *wp = m->iwp;
    unsigned t = 1;
    for (unsigned mm = n; mm > 2; mm >>= 1) {
        unsigned h = mm >> 1;
        for (unsigned i = 0; i < h; i++) {
            const uint64_t W = w[h + i], Wp = wp[h + i];
            uint64_t *x = a + 2 * (size_t)i * t, *y = x + t;
            for (unsigned j = 0; j < t; j++) {
                uint64_t X = x[j], Y = y[j];
                uint64_t S = X + Y;
                S = ckks_csub(S, two_q);
                x[j] = S;
                y[j] = ckks_mulshoup_lazy(X - Y + two_q, W, Wp, q);
            }
        }
        t <<= 1;
    }
    /* last stage with N^-1 folded in */
    {
        const uint64_t W = m->ninv_last, Wp = m->ninv_lastp;
        const uint64_t Ni = m->ninv, Nip = m->ninvp;
        uint64_t *x = a, *y = a + t;
        for (unsigned j = 0; j < t; j++) {
            uint64_t X = x[j], Y = y[j];
            uint64_t S = X + Y;
            S = ckks_csub(S, two_q);
            uint64_t u = ckks_mulshoup_lazy(S, Ni, Nip, q);
            uint64_t v = ckks_mulshoup_lazy(X - Y + two_q, W, Wp, q);
            x[j] = ckks_csub(u, q);
            y[j] = ckks_csub(v, q);
        }
    }
}
