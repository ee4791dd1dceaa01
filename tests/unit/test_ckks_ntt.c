/*
** test_ckks_ntt.c: the RNS/NTT core of CKKS: modular helpers against plain
** 128-bit arithmetic, the prime search, the negacyclic NTT against
** schoolbook multiplication mod (X^N + 1, q), and the evaluation order the
** Galois permutations rely on. All exact: any difference is a failure.
*/
#include <string.h>

#include "check.h"
#include "ckks/ckks_internal.h"
#include "he.h"

static he_prng g;

static uint64_t rnd(uint64_t bound) { return he_prng_u64(&g) % bound; }

static void test_modular_helpers(void)
{
    static const int sizes[] = {20, 36, 44, 50, 58, 60};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        /* any odd modulus of the size works for the reductions */
        uint64_t q = ((1ull << sizes[s]) - 1) - 2 * rnd(1000);
        ckks_mod m;
        memset(&m, 0, sizeof m);
        m.q = q;
        m.bits = 64 - __builtin_clzll(q);
        m.mu = (uint64_t)(((u128)1 << (2 * m.bits)) / q);
        u128 r = ~(u128)0 / q;
        m.r_hi = (uint64_t)(r >> 64);
        m.r_lo = (uint64_t)r;
        for (int i = 0; i < 20000; i++) {
            uint64_t a = rnd(q), b = rnd(q), x = he_prng_u64(&g);
            u128 big = ((u128)he_prng_u64(&g) << 64) | he_prng_u64(&g);
            if (i < 4) a = q - 1 - (uint64_t)i, b = q - 1;
            CHECK(ckks_mulmod(a, b, &m) == (uint64_t)((u128)a * b % q), "mulmod q=%llu",
                  (unsigned long long)q);
            CHECK(ckks_red64(x, &m) == x % q, "red64");
            CHECK(ckks_red128(big, &m) == (uint64_t)(big % q), "red128");
            uint64_t w = rnd(q), wp = ckks_shoup(w, q);
            CHECK(ckks_mulshoup(x, w, wp, q) == (uint64_t)((u128)x * w % q), "mulshoup");
        }
    }
}

static void test_primality(void)
{
    CHECK(ckks_is_prime(2) && ckks_is_prime(3) && !ckks_is_prime(1) && !ckks_is_prime(9), "small");
    CHECK(ckks_is_prime(1152921504606584833ull), "2^60 - 2^14 + 1 is prime");
    CHECK(!ckks_is_prime(3215031751ull), "strong pseudoprime to bases 2,3,5,7");
    CHECK(!ckks_is_prime(1152921504606846977ull), "2^60 + 1 composite");
    CHECK(ckks_is_prime(18446744073709551557ull), "largest 64-bit prime");
    /* against trial division */
    for (uint64_t n = 0; n < 3000; n++) {
        bool p = n >= 2;
        for (uint64_t d = 2; d * d <= n; d++)
            if (n % d == 0) p = false;
        CHECK(ckks_is_prime(n) == p, "n=%llu", (unsigned long long)n);
    }
}

static void test_prime_search(void)
{
    he_ckks_params p = {.n = 1024, .nprimes = 4, .bits = {50, 40, 40, 50}, .scale = 1099511627776.0,
                        .insecure = true};
    he_ckks_ctx *a = he_ckks_ctx_new(&p), *b = he_ckks_ctx_new(&p);
    CHECK(a && b, "ctx: %s", he_errmsg());
    if (!a || !b) goto out;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t q = he_ckks_ctx_prime(a, i);
        CHECK(q == he_ckks_ctx_prime(b, i), "deterministic");
        CHECK(ckks_is_prime(q) && q % 2048 == 1, "NTT prime");
        CHECK(q < (1ull << p.bits[i]) && q > (1ull << (p.bits[i] - 1)), "bit size");
        for (unsigned j = 0; j < i; j++) CHECK(q != he_ckks_ctx_prime(a, j), "distinct");
    }
    /* the largest such prime below 2^50 */
    uint64_t q0 = he_ckks_ctx_prime(a, 0);
    for (uint64_t c = q0 + 2048; c < (1ull << 50); c += 2048) CHECK(!ckks_is_prime(c), "largest");
out:
    he_ckks_ctx_free(a);
    he_ckks_ctx_free(b);
}

static void schoolbook(const uint64_t *a, const uint64_t *b, uint64_t *r, unsigned n, uint64_t q)
{
    memset(r, 0, n * sizeof *r);
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            uint64_t p = (uint64_t)((u128)a[i] * b[j] % q);
            unsigned k = i + j;
            if (k < n)
                r[k] = (r[k] + p) % q;
            else
                r[k - n] = (r[k - n] + q - p) % q;
        }
}

static void test_ntt_roundtrip_and_product(void)
{
    static const unsigned ns[] = {64, 128, 256, 512, 1024};
    static const int bits[] = {30, 45, 60};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 3; b++) {
            unsigned n = ns[a];
            uint64_t step = 2ull * n, q = (1ull << bits[b]) - step + 1;
            while (!ckks_is_prime(q)) q -= step;
            ckks_mod m;
            CHECK(ckks_mod_init(&m, q, n) == 0, "init: %s", he_errmsg());
            uint64_t *x = he_malloc(6 * n * sizeof *x), *y = x + n, *x0 = y + n, *y0 = x0 + n,
                     *r = y0 + n, *s = r + n;
            for (unsigned i = 0; i < n; i++) x[i] = x0[i] = rnd(q), y[i] = y0[i] = rnd(q);
            x[0] = x0[0] = q - 1; /* extremes */
            ckks_ntt(x, &m, n);
            ckks_ntt(y, &m, n);
            bool inrange = true;
            for (unsigned i = 0; i < n; i++) inrange &= x[i] < q && y[i] < q;
            CHECK(inrange, "forward output reduced");
            for (unsigned i = 0; i < n; i++) r[i] = (uint64_t)((u128)x[i] * y[i] % q);
            ckks_intt(x, &m, n);
            CHECK(memcmp(x, x0, n * sizeof *x) == 0, "round trip n=%u q=%d bits", n, bits[b]);
            ckks_intt(r, &m, n);
            schoolbook(x0, y0, s, n, q);
            CHECK(memcmp(r, s, n * sizeof *r) == 0, "negacyclic product n=%u q=%d bits", n, bits[b]);
            he_free(x);
            ckks_mod_free(&m);
        }
}

/* The AVX-512 IFMA transforms give the same (fully reduced) output as the
** portable ones, for every size down to N = 16, primes up to 2^50. */
static void test_ntt_ifma_matches_scalar(void)
{
    static const int bits[] = {20, 36, 44, 49, 50};
    for (unsigned n = 16; n <= 4096; n *= 2)
        for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
            uint64_t step = 2ull * n, q = (1ull << bits[b]) - step + 1;
            while (!ckks_is_prime(q)) q -= step;
            ckks_mod m;
            CHECK(ckks_mod_init(&m, q, n) == 0 && m.wp52, "init");
            uint64_t *x = he_malloc(3 * n * sizeof *x), *y = x + n, *z = y + n;
            for (unsigned i = 0; i < n; i++) x[i] = y[i] = z[i] = rnd(q);
            x[0] = y[0] = z[0] = q - 1;
            ckks_ntt_scalar(x, &m, n);
            ckks_ntt_ifma(y, &m, n);
            CHECK(memcmp(x, y, n * sizeof *x) == 0, "forward n=%u bits=%d", n, bits[b]);
            ckks_intt_scalar(x, &m, n);
            ckks_intt_ifma(y, &m, n);
            CHECK(memcmp(x, y, n * sizeof *x) == 0, "inverse n=%u bits=%d", n, bits[b]);
            CHECK(memcmp(x, z, n * sizeof *x) == 0, "round trip n=%u bits=%d", n, bits[b]);
            /* inverse of arbitrary input too (not only of a forward output) */
            for (unsigned i = 0; i < n; i++) x[i] = y[i] = rnd(q);
            ckks_intt_scalar(x, &m, n);
            ckks_intt_ifma(y, &m, n);
            CHECK(memcmp(x, y, n * sizeof *x) == 0, "inverse of random n=%u bits=%d", n, bits[b]);
            he_free(x);
            ckks_mod_free(&m);
        }
}

/* The IFMA element-wise kernels against the scalar modular product. */
static void test_ifma_kernels(void)
{
    static const int bits[] = {17, 30, 40, 44, 49, 50};
    unsigned n = 256;
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint64_t q = (1ull << bits[b]) - 2 * n + 1;
        while (!ckks_is_prime(q)) q -= 2 * n;
        ckks_mod m;
        CHECK(ckks_mod_init(&m, q, n) == 0 && m.wp52, "init");
        uint64_t a0[256], a1[256], b0[256], b1[256], o0[256], o1[256], o2[256];
        for (int rep = 0; rep < 20; rep++) {
            for (unsigned i = 0; i < n; i++)
                a0[i] = rnd(q), a1[i] = rnd(q), b0[i] = rnd(q), b1[i] = rnd(q);
            a0[0] = a1[1] = b0[0] = b1[1] = q - 1;
            ckks_mul_ifma(o0, a0, b0, &m, n);
            ckks_muladd_ifma(o1, a0, b0, a1, &m, n);
            bool ok = true;
            for (unsigned i = 0; i < n; i++) {
                uint64_t p = (uint64_t)((u128)a0[i] * b0[i] % q);
                ok &= o0[i] == p && o1[i] == (p + a1[i]) % q;
            }
            CHECK(ok, "mul/muladd q=%d bits", bits[b]);
            ckks_tensor_ifma(o0, o1, o2, a0, a1, b0, b1, &m, n);
            ok = true;
            for (unsigned i = 0; i < n; i++) {
                uint64_t d0 = (uint64_t)((u128)a0[i] * b0[i] % q), d2 = (uint64_t)((u128)a1[i] * b1[i] % q);
                uint64_t d1 = (uint64_t)(((u128)a0[i] * b1[i] + (u128)a1[i] * b0[i]) % q);
                ok &= o0[i] == d0 && o1[i] == d1 && o2[i] == d2;
            }
            CHECK(ok, "tensor q=%d bits", bits[b]);
        }
        ckks_mod_free(&m);
    }
}

/* Index i of the forward transform holds a(psi^(2 brv(i) + 1)). */
static void test_ntt_evaluation_order(void)
{
    unsigned n = 64, logn = 6;
    uint64_t q = (1ull << 40) - 128 + 1;
    while (!ckks_is_prime(q)) q -= 128;
    ckks_mod m;
    CHECK(ckks_mod_init(&m, q, n) == 0, "init");
    uint64_t a[64], h[64];
    for (unsigned i = 0; i < n; i++) a[i] = h[i] = rnd(q);
    ckks_ntt(h, &m, n);
    for (unsigned i = 0; i < n; i++) {
        uint64_t x = ckks_powmod(m.psi, 2ull * ckks_bitrev(i, logn) + 1, q), v = 0;
        for (unsigned j = n; j-- > 0;) v = (uint64_t)(((u128)v * x + a[j]) % q);
        CHECK(h[i] == v, "index %u", i);
    }
    CHECK(ckks_powmod(m.psi, n, q) == q - 1, "psi has order 2N");
    ckks_mod_free(&m);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 20261121);
    RUN(test_modular_helpers);
    RUN(test_primality);
    RUN(test_prime_search);
    RUN(test_ntt_roundtrip_and_product);
    if (ckks_cpu_has_ifma()) {
        RUN(test_ntt_ifma_matches_scalar);
        RUN(test_ifma_kernels);
    } else {
        SKIP(test_ntt_ifma_matches_scalar, "no AVX-512 IFMA on this CPU");
        SKIP(test_ifma_kernels, "no AVX-512 IFMA on this CPU");
    }
    RUN(test_ntt_evaluation_order);
    return 0;
}
