/*
** test_ckks_codec.c: the integer halves of CKKS encoding and decoding, with
** the AVX-512 kernels (codec_avx512.c) where the CPU has them and with the
** portable code (contexts made under ckks_force_portable), on random inputs.
**
** Decoding's CRT composition (ckks_crt_compose) against GMP: random centered
** integers X (|X| <= (Q-1)/2) of every size, from 0 and +-1 through values
** near q_0 q_1 / 2 (where the two-prime fast path gives way) to the ends of
** the range, at every level. Stated bound: the double equals X exactly when
** |X| < 2^53; otherwise |result - X| <= (2 nq + 2) 2^-53 |X| (the Horner sum
** of the mixed-radix digits: 2 nq roundings, no cancellation; the GMP
** reference as a double is itself within 2^-52). Both kernels give the
** same doubles bit for bit.
** Encoding's rounding (ckks_encode_round_avx512) against C's round() and
** the residues by GMP, on ties (k + 1/2), signed zeros and values about
** 2^52, where the kernel must stop and leave the block to the portable code;
** and encode/decode of vectors whose scaled coefficients pass 2^52 (blocks
** of both kinds in one plaintext), equal across the kernels, within 2^-20
** of the input.
*/
#include <complex.h>
#include <gmp.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "ckks/ckks.h"
#include "ckks/ckks_internal.h"
#include "he.h"

static he_prng g;

static uint64_t rnd64(void)
{
    return he_prng_u64(&g);
}

/* Residues of x at the first nq primes into out + t * n. */
static void residues(const he_ckks_ctx *c, unsigned nq, const mpz_t x, uint64_t *out)
{
    mpz_t r;
    mpz_init(r);
    for (unsigned t = 0; t < nq; t++) {
        uint64_t q = c->mod[t].q;
        mpz_set_ui(r, 0);
        mpz_fdiv_r_ui(r, x, q);
        out[(size_t)t * c->n] = mpz_get_ui(r);
    }
    mpz_clear(r);
}

static void compose_case(const he_ckks_params *p)
{
    he_ckks_ctx *ca = he_ckks_ctx_new(p);
    ckks_force_portable(true);
    he_ckks_ctx *cb = he_ckks_ctx_new(p);
    ckks_force_portable(false);
    CHECK(ca && cb, "ctx: %s", he_errmsg());
    if (!ca || !cb) goto out;
    unsigned n = ca->n, nh = ca->slots;
    uint64_t *x = he_malloc((size_t)ca->L * n * sizeof *x);
    mpz_t *X = he_malloc(n * sizeof *X);
    double complex *za = he_malloc(nh * sizeof *za), *zb = he_malloc(nh * sizeof *zb);
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, rnd64());
    mpz_t Q, q01, half, t;
    mpz_inits(Q, q01, half, t, NULL);
    for (unsigned i = 0; i < n; i++) mpz_init(X[i]);
    for (unsigned nq = 1; nq <= ca->L; nq++) {
        mpz_set_ui(Q, 1);
        for (unsigned j = 0; j < nq; j++) mpz_mul_ui(Q, Q, ca->mod[j].q);
        mpz_set_ui(q01, ca->mod[0].q);
        if (nq > 1) mpz_mul_ui(q01, q01, ca->mod[1].q);
        mpz_sub_ui(half, Q, 1);
        mpz_fdiv_q_2exp(half, half, 1); /* (Q - 1) / 2 */
        for (unsigned i = 0; i < n; i++) {
            unsigned kind = (unsigned)(rnd64() % 5);
            if (i < 12) kind = 5 + i; /* the edges first */
            switch (kind) {
            case 0: /* below 2^k */
                mpz_set_ui(X[i], rnd64() >> (rnd64() % 64));
                break;
            case 1: /* around q0 q1 / 2: the fast path's edge */
                mpz_fdiv_q_2exp(X[i], q01, 1);
                mpz_add_ui(X[i], X[i], rnd64() % 5);
                mpz_sub_ui(X[i], X[i], 2);
                break;
            case 2: /* within q0 q1 */
                mpz_urandomm(X[i], rs, q01);
                break;
            case 3: /* within 2^53 */
                mpz_set_ui(X[i], rnd64() >> 11);
                break;
            case 5: case 6: mpz_set_ui(X[i], kind - 5); break;           /* 0, 1 */
            case 7: case 8: mpz_set(X[i], half); break;                  /* (Q-1)/2 */
            case 9: case 10: mpz_set_ui(X[i], (1ull << 53) - 1); break;  /* 2^53 - 1 */
            default: /* anywhere in the range */
                mpz_urandomm(X[i], rs, half);
                break;
            }
            if (mpz_cmp(X[i], half) > 0) mpz_set(X[i], half);
            if (kind != 5 && (kind % 2 == 0 || rnd64() % 2)) mpz_neg(X[i], X[i]);
            residues(ca, nq, X[i], x + i);
        }
        CHECK(ckks_crt_compose(ca, nq, x, za, 1.0) == 0 && ckks_crt_compose(cb, nq, x, zb, 1.0) == 0,
              "compose: %s", he_errmsg());
        CHECK(memcmp(za, zb, nh * sizeof *za) == 0, "kernels differ at %u primes", nq);
        double bound = (2.0 * nq + 2) * 0x1p-53;
        for (unsigned i = 0; i < n && !check_failed_; i++) {
            double got = i < nh ? creal(za[i]) : cimag(za[i - nh]);
            double want = mpz_get_d(X[i]);
            mpz_abs(t, X[i]);
            if (mpz_sizeinbase(t, 2) <= 53)
                CHECK(got == want, "%u primes, coefficient %u: %.17g, want %.17g", nq, i, got, want);
            else
                CHECK(fabs(got - want) <= bound * fabs(want), "%u primes, coefficient %u: %.17g, want %.17g",
                      nq, i, got, want);
        }
    }
    for (unsigned i = 0; i < n; i++) mpz_clear(X[i]);
    mpz_clears(Q, q01, half, t, NULL);
    gmp_randclear(rs);
    he_free(X);
    he_free(x);
    he_free(za);
    he_free(zb);
out:
    he_ckks_ctx_free(ca);
    he_ckks_ctx_free(cb);
}

static void test_compose(void)
{
    /* IFMA-sized primes (the kernel where the CPU has it); 49-bit ones as
    ** at N = 16384; 60-bit ones (portable code only); small and large mixed */
    he_ckks_params p1 = {.n = 1024, .nprimes = 5, .bits = {40, 40, 40, 40, 50}, .scale = 0x1p40,
                         .insecure = true};
    he_ckks_params p2 = {.n = 1024, .nprimes = 9, .bits = {48, 48, 48, 49, 49, 49, 49, 49, 49},
                         .scale = 0x1p40, .insecure = true};
    he_ckks_params p3 = {.n = 1024, .nprimes = 4, .bits = {60, 59, 60, 58}, .scale = 0x1p40, .insecure = true};
    he_ckks_params p4 = {.n = 1024, .nprimes = 6, .bits = {30, 49, 31, 45, 60, 33}, .scale = 0x1p20,
                         .insecure = true};
    compose_case(&p1);
    compose_case(&p2);
    compose_case(&p3);
    compose_case(&p4);
}

/* The kernel's rounding and residues against round() and GMP. */
static void test_encode_round(void)
{
    he_ckks_params p = {.n = 1024, .nprimes = 4, .bits = {40, 41, 42, 50}, .scale = 0x1p40, .insecure = true};
    he_ckks_ctx *c = he_ckks_ctx_new(&p);
    CHECK(c, "ctx");
    if (!c) return;
    unsigned n = c->n, nh = c->slots, nq = 3;
    if (!ckks_codec_avx512(c, nq)) {
        printf("# no AVX-512 IFMA/DQ: kernel not tested\n");
        he_ckks_ctx_free(c);
        return;
    }
    double complex *z = he_malloc(nh * sizeof *z);
    uint64_t *out = he_calloc((size_t)nq * n, sizeof *out);
    double vals[2 * 512];
    for (unsigned i = 0; i < n; i++) {
        double v;
        switch (rnd64() % 6) {
        case 0: v = (double)(int64_t)(rnd64() >> 20) + 0.5; break;         /* ties */
        case 1: v = ldexp((double)(rnd64() >> 12), -(int)(rnd64() % 40)); break;
        case 2: v = rnd64() % 2 ? 0.0 : -0.0; break;
        case 3: v = 0x1p52 - 1.5 - (double)(rnd64() % 4); break;            /* just below 2^52 */
        case 4: v = 0.49999999999999994; break;                             /* largest below 1/2 */
        default: v = ldexp((double)(int64_t)rnd64(), -12 - (int)(rnd64() % 30)); break;
        }
        vals[i] = rnd64() % 2 ? -v : v;
    }
    for (unsigned i = 0; i < nh; i++) z[i] = CMPLX(vals[i], vals[i + nh]);
    /* slot 37 (block 32..39) reaches 2^52 after rounding: the kernel stops there */
    z[37] = CMPLX(0x1p52 - 0.5, 0);
    vals[37] = 0x1p52 - 0.5;
    unsigned stop = ckks_encode_round_avx512(c, out, z, 0, nq, 1.0, 0x1p62);
    CHECK(stop == 32, "stopped at %u, want 32", stop);
    stop = ckks_encode_round_avx512(c, out, z, 40, nq, 1.0, 0x1p62);
    CHECK(stop == nh, "stopped at %u, want %u", stop, nh);
    /* a lower limit (a small modulus) stops it as well */
    CHECK(ckks_encode_round_avx512(c, out, z, 40, nq, 1.0, 1.0) == 40, "limit ignored");
    mpz_t r;
    mpz_init(r);
    for (unsigned i = 0; i < n && !check_failed_; i++) {
        if (i % nh >= 32 && i % nh < 40) continue; /* the portable code's block */
        double want = round(vals[i]);
        for (unsigned t = 0; t < nq; t++) {
            mpz_set_d(r, want);
            mpz_fdiv_r_ui(r, r, c->mod[t].q);
            CHECK(out[(size_t)t * n + i] == mpz_get_ui(r), "coefficient %u (%.17g) prime %u: %llu", i, vals[i],
                  t, (unsigned long long)out[(size_t)t * n + i]);
        }
    }
    mpz_clear(r);
    he_free(z);
    he_free(out);
    he_ckks_ctx_free(c);
}

/* Encoding vectors whose scaled coefficients pass 2^52 (the constant term
** of slots near 2^13 at scale 2^40), so one plaintext mixes the kernel's
** blocks and the portable code's: the same plaintext with either, and
** decoding gives the input back. */
static void test_encode_large(void)
{
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {50, 40, 40, 40, 50}, .scale = 0x1p40,
                        .insecure = true};
    he_ckks_ctx *ca = he_ckks_ctx_new(&p);
    ckks_force_portable(true);
    he_ckks_ctx *cb = he_ckks_ctx_new(&p);
    ckks_force_portable(false);
    CHECK(ca && cb, "ctx");
    if (!ca || !cb) goto out;
    unsigned nh = ca->slots;
    double v[512], w[512];
    for (int round = 0; round < 4; round++) {
        for (unsigned i = 0; i < nh; i++)
            v[i] = (round % 2 ? -8192.0 : 8192.0) * (1 + round) + 2 * he_prng_uniform(&g) - 1;
        he_ckks_pt *pa = he_ckks_pt_new(ca), *pb = he_ckks_pt_new(cb);
        CHECK(he_ckks_encode(ca, pa, v, nh, -1, 0) == 0 && he_ckks_encode(cb, pb, v, nh, -1, 0) == 0,
              "encode: %s", he_errmsg());
        CHECK(pa->nq == pb->nq && memcmp(pa->data, pb->data, (size_t)pa->nq * ca->n * sizeof *pa->data) == 0,
              "kernels differ");
        CHECK(he_ckks_decode(ca, pa, w, nh) == 0, "decode");
        for (unsigned i = 0; i < nh; i++)
            CHECK(fabs(w[i] - v[i]) <= 0x1p-20 * fabs(v[i]), "slot %u: %.17g, want %.17g", i, w[i], v[i]);
        he_ckks_pt_free(pa);
        he_ckks_pt_free(pb);
    }
out:
    he_ckks_ctx_free(ca);
    he_ckks_ctx_free(cb);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 13);
    printf("# kernel: %s\n", ckks_cpu_has_ifma() ? "AVX-512 IFMA and portable" : "portable only");
    RUN(test_compose);
    RUN(test_encode_round);
    RUN(test_encode_large);
    return 0;
}
