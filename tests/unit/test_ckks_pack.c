/*
** test_ckks_pack.c: the throughput kernels (runtime/ckks/pack.c) against
** plaintext arithmetic on random inputs, against the fused dot product
** (bit for bit: both compute the same sums modulo each prime), across the
** IFMA and portable kernels and across thread counts (bit for bit).
**
** Parameters: N = 1024 (512 slots, insecure opt-out for speed), primes
** {50, 40, 40, 40, 50}, scale 2^40, inputs uniform in [-1, 1], weights in
** [-1, 1] (a quarter of them zero). Bounds: a layer of n <= 40 weights
** quantizes each to 2^-40 and adds one rescale: errors near 2^-35, checked
** against E_LIN = 2^-20; the square of pairs adds one conjugation's key
** switch (near 2^-30): E_SQ = 2^-16. A wrong weight, prime or half of the
** NTT points gives errors of order 1.
*/
#include <complex.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "ckks/ckks.h"
#include "ckks/ckks_internal.h"
#include "he.h"

static he_prng g;
static he_ckks_ctx *ctx;
static he_ckks_keys *keys;
static unsigned slots;

#define E_LIN 0x1p-20
#define E_SQ 0x1p-16

static double urand(void) { return 2 * he_prng_uniform(&g) - 1; }

static he_ckks_ct *enc_c(const double complex *v)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx);
    if (he_ckks_encode_complex(ctx, pt, v, slots, -1, 0) < 0 || he_ckks_encrypt(keys, ct, pt) < 0) {
        printf("# enc: %s\n", he_errmsg());
        he_ckks_ct_free(ct);
        ct = NULL;
    }
    he_ckks_pt_free(pt);
    return ct;
}

static int dec_c(const he_ckks_ct *ct, double complex *v)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    int r = -1;
    if (he_ckks_decrypt(keys, pt, ct) == 0 && he_ckks_decode_complex(ctx, pt, v, slots) == 0) r = 0;
    he_ckks_pt_free(pt);
    if (r < 0) printf("# dec: %s\n", he_errmsg());
    return r;
}

static bool same_data(const he_ckks_ct *a, const he_ckks_ct *b)
{
    return a->size == b->size && a->nq == b->nq && a->scale == b->scale &&
           memcmp(a->data, b->data, (size_t)a->size * a->nq * ctx->n * sizeof *a->data) == 0;
}

#define NI 37
#define NO 6

static double complex X[NI][512];
static he_ckks_ct *in[NI];
static double W[NO * NI];

static void setup_inputs(void)
{
    for (int i = 0; i < NI; i++) {
        for (unsigned k = 0; k < slots; k++) X[i][k] = urand() + I * urand();
        in[i] = enc_c(X[i]);
    }
    for (int e = 0; e < NO * NI; e++) W[e] = he_prng_uniform(&g) < 0.25 ? 0.0 : urand();
    for (int i = 0; i < NI; i++) W[2 * NI + i] = 0.0; /* row 2: no weights at all */
}

static he_ckks_ct *outs[NO];

static void new_outs(he_ckks_ct **o)
{
    for (int j = 0; j < NO; j++) o[j] = he_ckks_ct_new(ctx);
}

static void free_outs(he_ckks_ct **o)
{
    for (int j = 0; j < NO; j++) he_ckks_ct_free(o[j]);
}

/* A layer against plaintext: real and imaginary parts apart (real weights). */
static void test_linear_vs_plain(void)
{
    new_outs(outs);
    CHECK(he_ckks_linear(ctx, outs, NO, (const he_ckks_ct *const *)in, NI, W, 0) == 0, "%s", he_errmsg());
    double complex got[512];
    for (int j = 0; j < NO; j++) {
        CHECK(he_ckks_ct_size(outs[j]) == 2 && he_ckks_ct_level(outs[j]) == he_ckks_ct_level(in[0]), "shape");
        CHECK(he_ckks_rescale(ctx, outs[j], outs[j]) == 0 && dec_c(outs[j], got) == 0, "%s", he_errmsg());
        double e = 0;
        for (unsigned k = 0; k < slots; k++) {
            double complex want = 0;
            for (int i = 0; i < NI; i++) want += W[j * NI + i] * X[i][k];
            e = fmax(e, cabs(got[k] - want));
        }
        CHECK(e < E_LIN, "output %d: error %g", j, e);
    }
    free_outs(outs);
}

/* Each output equals the fused dot product of its row, bit for bit, in the
** IFMA and the portable kernel. */
static void test_linear_vs_dot(void)
{
    he_ckks_ct *d = he_ckks_ct_new(ctx);
    for (int port = 0; port < 2; port++) {
        int saved[HE_CKKS_MAX_PRIMES];
        for (unsigned t = 0; t < ctx->k; t++) {
            saved[t] = ctx->mod[t].ifma;
            if (port) ctx->mod[t].ifma = 0;
        }
        new_outs(outs);
        CHECK(he_ckks_linear(ctx, outs, NO, (const he_ckks_ct *const *)in, NI, W, 0) == 0, "%s", he_errmsg());
        for (int j = 0; j < NO; j++) {
            CHECK(he_ckks_dot_scalar(ctx, d, (const he_ckks_ct *const *)in, W + j * NI, NI, 0) == 0, "%s",
                  he_errmsg());
            CHECK(same_data(d, outs[j]), "%s kernel: output %d differs from the dot product",
                  port ? "portable" : "IFMA", j);
        }
        free_outs(outs);
        for (unsigned t = 0; t < ctx->k; t++) ctx->mod[t].ifma = saved[t];
    }
    he_ckks_ct_free(d);
}

/* Rows with the same inputs go through the kernel in groups of up to 6:
** every count of rows from 1 to 9 (groups of 6 to 2, and 1), bit for bit
** the dot product's. */
static void test_linear_groups(void)
{
    enum { MR = 9 };
    double w[MR * NI];
    he_ckks_ct *o[MR], *d = he_ckks_ct_new(ctx);
    for (int e = 0; e < MR * NI; e++) w[e] = urand();
    for (int j = 0; j < MR; j++) {
        w[j * NI + 5] = 0.0; /* the same zero in every row: still the same inputs */
        o[j] = he_ckks_ct_new(ctx);
    }
    for (int rows = 1; rows <= MR; rows++) {
        CHECK(he_ckks_linear(ctx, o, (size_t)rows, (const he_ckks_ct *const *)in, NI, w, 0) == 0, "%s",
              he_errmsg());
        for (int j = 0; j < rows; j++) {
            CHECK(he_ckks_dot_scalar(ctx, d, (const he_ckks_ct *const *)in, w + j * NI, NI, 0) == 0, "%s",
                  he_errmsg());
            CHECK(same_data(d, o[j]), "%d rows: output %d differs from the dot product", rows, j);
        }
    }
    for (int j = 0; j < MR; j++) he_ckks_ct_free(o[j]);
    he_ckks_ct_free(d);
}

/* A row of more terms than the 52-bit accumulators take unfolded (4096). */
static void test_linear_long_row(void)
{
    enum { LONG = 5000 };
    const he_ckks_ct **many = he_malloc(LONG * sizeof *many);
    double *w = he_malloc(LONG * sizeof *w);
    he_ckks_ct *o = he_ckks_ct_new(ctx), *d = he_ckks_ct_new(ctx);
    for (int i = 0; i < LONG; i++) {
        many[i] = in[i % NI];
        w[i] = urand();
    }
    CHECK(he_ckks_linear(ctx, &o, 1, many, LONG, w, 0) == 0, "%s", he_errmsg());
    CHECK(he_ckks_dot_scalar(ctx, d, many, w, LONG, 0) == 0, "%s", he_errmsg());
    CHECK(same_data(o, d), "5000 terms: differs from the dot product");
    he_ckks_ct_free(o);
    he_ckks_ct_free(d);
    he_free(many);
    he_free(w);
}

/* Primes of 28 bits (the MNIST chain's): 32-bit products with 64-bit sums,
** reduced every 2^8 terms; rows alone and in a group, shorter and longer
** than that; bit for bit the dot product's. */
static void test_linear_small_primes(void)
{
    he_ckks_params p = {.n = 1024, .nprimes = 4, .bits = {39, 28, 28, 39}, .scale = 0x1p28, .insecure = true};
    he_ckks_ctx *c = he_ckks_ctx_new(&p);
    he_ckks_keys *k = c ? he_ckks_keys_new(c) : NULL;
    CHECK(k && he_ckks_keygen(k) == 0, "%s", he_errmsg());
    enum { SI = 600, SO = 5 };
    he_ckks_ct *x[SI], *o[SO], *d = he_ckks_ct_new(c);
    double v[512];
    static double w[SO * SI];
    he_ckks_pt *pt = he_ckks_pt_new(c);
    for (int i = 0; i < SI; i++) {
        for (unsigned j = 0; j < slots; j++) v[j] = urand();
        x[i] = he_ckks_ct_new(c);
        CHECK(he_ckks_encode(c, pt, v, slots, -1, 0) == 0 && he_ckks_encrypt(k, x[i], pt) == 0, "%s", he_errmsg());
    }
    for (int e = 0; e < SO * SI; e++) w[e] = urand();
    for (int e = 100; e < SI; e++) w[e] = 0;             /* row 0: 100 terms */
    for (int e = SI + 80; e < 2 * SI; e++) w[e] = 0;     /* row 1: 80 */
    /* rows 2, 3: 600 terms, a group; row 4: 599, alone. Rows 3 and 4 weigh
    ** -1 (residues q - 1: the largest products, so that sums of too many
    ** terms would overflow) */
    double one = 1.0 / (double)he_ckks_ctx_prime(c, 2);
    for (int i = 0; i < SI; i++) w[3 * SI + i] = w[4 * SI + i] = -one;
    w[4 * SI + 7] = 0;
    for (int j = 0; j < SO; j++) o[j] = he_ckks_ct_new(c);
    CHECK(he_ckks_linear(c, o, SO, (const he_ckks_ct *const *)x, SI, w, 0) == 0, "%s", he_errmsg());
    for (int j = 0; j < SO; j++) {
        CHECK(he_ckks_dot_scalar(c, d, (const he_ckks_ct *const *)x, w + j * SI, SI, 0) == 0, "%s", he_errmsg());
        CHECK(same_data(d, o[j]), "28-bit primes: output %d differs from the dot product", j);
    }
    for (int i = 0; i < SI; i++) he_ckks_ct_free(x[i]);
    for (int j = 0; j < SO; j++) he_ckks_ct_free(o[j]);
    he_ckks_ct_free(d);
    he_ckks_pt_free(pt);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(c);
}

static void test_linear_threads(void)
{
    he_ckks_ct *r[3][NO];
    const unsigned counts[3] = {1, 2, 3};
    unsigned was = he_ckks_threads();
    for (int t = 0; t < 3; t++) {
        CHECK(he_ckks_set_threads(counts[t]) == 0, "set threads");
        new_outs(r[t]);
        CHECK(he_ckks_linear(ctx, r[t], NO, (const he_ckks_ct *const *)in, NI, W, 0) == 0, "%s", he_errmsg());
        for (int j = 0; t > 0 && j < NO; j++)
            CHECK(same_data(r[0][j], r[t][j]), "output %d differs with %u threads", j, counts[t]);
    }
    CHECK(he_ckks_set_threads(was) == 0, "restore threads");
    for (int t = 0; t < 3; t++) free_outs(r[t]);
}

static void test_linear_refusals(void)
{
    new_outs(outs);
    he_ckks_ct *low = he_ckks_ct_new(ctx);
    const he_ckks_ct *two[2] = {in[0], low};
    CHECK(he_ckks_mod_down(ctx, low, in[1], 1) == 0, "%s", he_errmsg());
    CHECK(he_ckks_linear(ctx, outs, 1, two, 2, W, 0) < 0 && strstr(he_errmsg(), "different levels"), "levels");
    he_ckks_ct *alias[1] = {in[0]};
    CHECK(he_ckks_linear(ctx, alias, 1, (const he_ckks_ct *const *)in, 2, W, 0) < 0 &&
              strstr(he_errmsg(), "aliases"),
          "alias");
    double big[2] = {1e300, 0};
    CHECK(he_ckks_linear(ctx, outs, 1, (const he_ckks_ct *const *)in, 2, big, 0) < 0 &&
              strstr(he_errmsg(), "does not fit"),
          "huge weight");
    he_ckks_ct_free(low);
    free_outs(outs);
}

static void test_mul_i_add_const(void)
{
    he_ckks_ct *c = he_ckks_ct_new(ctx);
    double complex got[512];
    CHECK(he_ckks_mul_i(ctx, c, in[0]) == 0 && dec_c(c, got) == 0, "%s", he_errmsg());
    double e = 0;
    for (unsigned k = 0; k < slots; k++) e = fmax(e, cabs(got[k] - I * X[0][k]));
    CHECK(e < E_LIN, "i x: error %g", e);
    CHECK(he_ckks_ct_level(c) == he_ckks_ct_level(in[0]) && he_ckks_ct_scale(c) == he_ckks_ct_scale(in[0]),
          "no level, same scale");
    double complex v = 0.75 - 1.25 * I;
    CHECK(he_ckks_add_const(ctx, c, in[1], v) == 0 && dec_c(c, got) == 0, "%s", he_errmsg());
    e = 0;
    for (unsigned k = 0; k < slots; k++) e = fmax(e, cabs(got[k] - (X[1][k] + v)));
    CHECK(e < E_LIN, "x + v: error %g", e);
    he_ckks_ct_free(c);
}

/* (a + ib) -> a^2 + i b^2, at a half scale (as a packed layer gives) and at
** the full one. */
static void test_square_pairs(void)
{
    he_ckks_ct *h = he_ckks_ct_new(ctx), *c = he_ckks_ct_new(ctx);
    double complex got[512];
    for (int half = 0; half < 2; half++) {
        CHECK(he_ckks_ct_copy(h, in[2]) == 0, "copy");
        if (half) he_ckks_ct_set_scale(h, he_ckks_ct_scale(in[2]) / 2); /* same data: the values doubled */
        CHECK(he_ckks_square_pairs(keys, c, h) == 0, "%s", he_errmsg());
        CHECK(he_ckks_ct_size(c) == 3, "a pending product");
        CHECK(he_ckks_relin(keys, c, c) == 0 && he_ckks_rescale(ctx, c, c) == 0 && dec_c(c, got) == 0, "%s",
              he_errmsg());
        double e = 0, f = half ? 2 : 1;
        for (unsigned k = 0; k < slots; k++) {
            double a = f * creal(X[2][k]), b = f * cimag(X[2][k]);
            e = fmax(e, cabs(got[k] - (a * a + I * b * b)));
        }
        CHECK(e < E_SQ, "%s scale: error %g", half ? "half" : "full", e);
    }
    he_ckks_keys *k2 = he_ckks_keys_new(ctx);
    CHECK(k2 && he_ckks_keygen(k2) == 0, "%s", he_errmsg());
    CHECK(he_ckks_square_pairs(k2, c, in[0]) < 0 && strstr(he_errmsg(), "conjugation"), "no conjugation key");
    he_ckks_keys_free(k2);
    he_ckks_ct_free(h);
    he_ckks_ct_free(c);
}

/* A layer's outputs rescaled together (one per thread) equal those
** rescaled one by one, for 1 and 2 threads; a ciphertext twice is refused. */
static void test_rescale_many(void)
{
    he_ckks_ct *a[NO], *b[NO];
    unsigned was = he_ckks_threads();
    new_outs(a);
    new_outs(b);
    for (unsigned th = 1; th <= 2; th++) {
        CHECK(he_ckks_set_threads(th) == 0, "threads");
        CHECK(he_ckks_linear(ctx, a, NO, (const he_ckks_ct *const *)in, NI, W, 0) == 0 &&
                  he_ckks_linear(ctx, b, NO, (const he_ckks_ct *const *)in, NI, W, 0) == 0,
              "%s", he_errmsg());
        CHECK(he_ckks_rescale_many(ctx, a, NO) == 0, "%s", he_errmsg());
        for (int j = 0; j < NO; j++) {
            CHECK(he_ckks_rescale(ctx, b[j], b[j]) == 0, "%s", he_errmsg());
            CHECK(he_ckks_ct_level(a[j]) == he_ckks_ct_level(in[0]) - 1 && same_data(a[j], b[j]),
                  "%u threads, output %d differs from its rescale alone", th, j);
        }
    }
    CHECK(he_ckks_set_threads(was) == 0, "restore threads");
    he_ckks_ct *twice[2] = {a[0], a[0]};
    CHECK(he_ckks_rescale_many(ctx, twice, 2) < 0 && strstr(he_errmsg(), "also"), "a ciphertext twice");
    free_outs(a);
    free_outs(b);
}

/* he_ckks_relin_rescale against he_ckks_relin then he_ckks_rescale, bit
** for bit: on this context's 40/50-bit primes and on a 28-bit chain (the
** MNIST one's shape), IFMA and portable kernels, 1 and 2 threads, in place
** and into another ciphertext, at every level a product can be rescaled. */
static void relin_rescale_case(he_ckks_ctx *c, he_ckks_keys *k, const char *what)
{
    he_ckks_pt *pt = he_ckks_pt_new(c);
    he_ckks_ct *x = he_ckks_ct_new(c), *a = he_ckks_ct_new(c), *b = he_ckks_ct_new(c), *f = he_ckks_ct_new(c);
    double complex v[512];
    for (unsigned j = 0; j < slots; j++) v[j] = urand() + I * urand();
    CHECK(he_ckks_encode_complex(c, pt, v, slots, -1, 0) == 0 && he_ckks_encrypt(k, x, pt) == 0, "%s", he_errmsg());
    unsigned was = he_ckks_threads();
    for (int lv = he_ckks_ct_level(x); lv >= 1; lv--) {
        CHECK(he_ckks_mod_down(c, a, x, lv) == 0 && he_ckks_mul(c, a, a, a) == 0, "%s", he_errmsg());
        CHECK(he_ckks_relin(k, b, a) == 0 && he_ckks_rescale(c, b, b) == 0, "%s", he_errmsg());
        for (unsigned th = 1; th <= 2; th++) {
            CHECK(he_ckks_set_threads(th) == 0, "threads");
            CHECK(he_ckks_relin_rescale(k, f, a) == 0 && same_data(f, b), "%s, level %d, %u threads: differs", what,
                  lv, th);
        }
        CHECK(he_ckks_relin_rescale(k, a, a) == 0 && same_data(a, b), "%s, level %d, in place: differs", what, lv);
    }
    CHECK(he_ckks_set_threads(was) == 0, "restore threads");
    he_ckks_ct_free(x);
    he_ckks_ct_free(a);
    he_ckks_ct_free(b);
    he_ckks_ct_free(f);
    he_ckks_pt_free(pt);
}

static void test_relin_rescale(void)
{
    relin_rescale_case(ctx, keys, "40-bit primes");
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {39, 28, 28, 28, 39}, .scale = 0x1p28, .insecure = true};
    for (int port = 0; port < 2; port++) {
        ckks_force_portable(port == 1);
        he_ckks_ctx *c = he_ckks_ctx_new(&p);
        ckks_force_portable(false);
        he_ckks_keys *k = c ? he_ckks_keys_new(c) : NULL;
        CHECK(k && he_ckks_keygen(k) == 0 && he_ckks_keygen_relin(k) == 0, "%s", he_errmsg());
        if (k) relin_rescale_case(c, k, port ? "28-bit primes, portable" : "28-bit primes");
        he_ckks_keys_free(k);
        he_ckks_ctx_free(c);
    }
}

/* The MNIST chain's 28-bit primes take the IFMA element-wise kernels too
** (rescale, the key switch's lifts, sums and division by P, the product by
** i): every step of the throughput server, computed in a context of the
** IFMA kernels and in one of the portable code from the same keys and
** ciphertexts, bit for bit the same. */
static he_ckks_ct *ct_into(he_ckks_ctx *to, const he_ckks_ctx *from, const he_ckks_ct *ct)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    he_ckks_ct *r = he_ckks_ct_new(to);
    if (he_ckks_ct_serialize(from, ct, &buf, &len) < 0 || he_ckks_ct_deserialize(to, r, buf, len) < 0) {
        printf("# ct_into: %s\n", he_errmsg());
        he_ckks_ct_free(r);
        r = NULL;
    }
    he_free(buf);
    return r;
}

static void test_small_primes_kernels(void)
{
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {39, 28, 28, 28, 39}, .scale = 0x1p28, .insecure = true};
    he_ckks_ctx *c[2] = {he_ckks_ctx_new(&p), NULL};
    ckks_force_portable(true);
    c[1] = he_ckks_ctx_new(&p);
    ckks_force_portable(false);
    he_ckks_keys *k[2] = {c[0] ? he_ckks_keys_new(c[0]) : NULL, c[1] ? he_ckks_keys_new(c[1]) : NULL};
    uint8_t *kb = NULL;
    size_t klen = 0;
    CHECK(k[0] && k[1] && he_ckks_keygen(k[0]) == 0 && he_ckks_keygen_relin(k[0]) == 0 &&
              he_ckks_keygen_galois(k[0], NULL, 0, true) == 0 &&
              he_ckks_keys_serialize(k[0], he_ckks_keys_parts(k[0]), &kb, &klen) == 0 &&
              he_ckks_keys_deserialize(k[1], kb, klen) == 0,
          "%s", he_errmsg());
    he_free(kb);
    if (ckks_use_ifma()) CHECK(c[0]->mod[1].ifma_red && !c[1]->mod[1].ifma, "the two kernels");
    enum { SI = 12, SO = 5 };
    he_ckks_pt *pt = he_ckks_pt_new(c[0]);
    double complex v[512];
    double w[SO * SI];
    he_ckks_ct *x[2][SI], *o[2][SO], *sq[2][SO];
    for (int i = 0; i < SI; i++) {
        for (unsigned j = 0; j < slots; j++) v[j] = urand() + I * urand();
        x[0][i] = he_ckks_ct_new(c[0]);
        CHECK(he_ckks_encode_complex(c[0], pt, v, slots, -1, 0) == 0 && he_ckks_encrypt(k[0], x[0][i], pt) == 0,
              "%s", he_errmsg());
        x[1][i] = ct_into(c[1], c[0], x[0][i]);
        CHECK(x[1][i] != NULL, "copy");
    }
    for (int e = 0; e < SO * SI; e++) w[e] = urand() * 0.5;
    for (int a = 0; a < 2; a++) { /* a layer, rescale, bias, square of pairs, relinearize, rescale, i x */
        for (int j = 0; j < SO; j++) o[a][j] = he_ckks_ct_new(c[a]), sq[a][j] = he_ckks_ct_new(c[a]);
        CHECK(he_ckks_linear(c[a], o[a], SO, (const he_ckks_ct *const *)x[a], SI, w, 0) == 0, "%s", he_errmsg());
        for (int j = 0; j < SO; j++)
            CHECK(he_ckks_rescale(c[a], o[a][j], o[a][j]) == 0 &&
                      he_ckks_add_const(c[a], o[a][j], o[a][j], 0.25 - 0.5 * I) == 0,
                  "%s", he_errmsg());
        CHECK(he_ckks_square_pairs_many(k[a], sq[a], (const he_ckks_ct *const *)o[a], SO) == 0 &&
                  he_ckks_settle_many(k[a], sq[a], SO) == 0,
              "%s", he_errmsg());
        for (int j = 0; j < SO; j++) CHECK(he_ckks_mul_i(c[a], o[a][j], sq[a][j]) == 0, "%s", he_errmsg());
    }
    for (int j = 0; j < SO; j++) {
        CHECK(he_ckks_ct_level(sq[0][j]) == 1 && sq[0][j]->size == 2, "output %d: level 1, two parts", j);
        CHECK(sq[0][j]->nq == sq[1][j]->nq && sq[0][j]->scale == sq[1][j]->scale &&
                  memcmp(sq[0][j]->data, sq[1][j]->data, 2 * (size_t)sq[0][j]->nq * 1024 * sizeof(uint64_t)) == 0,
              "output %d: the IFMA and portable kernels differ", j);
        CHECK(memcmp(o[0][j]->data, o[1][j]->data, 2 * (size_t)o[0][j]->nq * 1024 * sizeof(uint64_t)) == 0,
              "i x, output %d: the IFMA and portable kernels differ", j);
    }
    for (int a = 0; a < 2; a++) {
        for (int i = 0; i < SI; i++) he_ckks_ct_free(x[a][i]);
        for (int j = 0; j < SO; j++) he_ckks_ct_free(o[a][j]), he_ckks_ct_free(sq[a][j]);
        he_ckks_keys_free(k[a]);
    }
    he_ckks_pt_free(pt);
    he_ckks_ctx_free(c[0]);
    he_ckks_ctx_free(c[1]);
}

/* Element-wise addition and subtraction mod q: the AVX-512 kernel (where
** used) and the portable one against the scalar definition, on random
** residues and the edge values 0 and q - 1, with a tail past the vectors. */
static void test_add_sub_kernels(void)
{
    enum { NA = 1003 };
    static uint64_t a[NA], b[NA], o[NA];
    const uint64_t qs[3] = {ctx->mod[0].q, ctx->mod[1].q, (1ull << 61) - 1};
    for (int port = 0; port < 2; port++) {
        ckks_force_portable(port == 1);
        for (int qi = 0; qi < 3; qi++) {
            uint64_t q = qs[qi];
            for (int j = 0; j < NA; j++) {
                a[j] = j % 7 == 0 ? q - 1 : j % 11 == 0 ? 0 : he_prng_u64(&g) % q;
                b[j] = j % 5 == 0 ? q - 1 : j % 13 == 0 ? 0 : he_prng_u64(&g) % q;
            }
            ckks_add_poly(o, a, b, q, NA);
            for (int j = 0; j < NA; j++)
                CHECK(o[j] == (uint64_t)(((u128)a[j] + b[j]) % q), "%s add, q %d, [%d]", port ? "portable" : "fast",
                      qi, j);
            ckks_sub_poly(o, a, b, q, NA);
            for (int j = 0; j < NA; j++)
                CHECK(o[j] == (uint64_t)(((u128)a[j] + q - b[j]) % q), "%s sub, q %d, [%d]",
                      port ? "portable" : "fast", qi, j);
        }
    }
    ckks_force_portable(false);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 29);
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {50, 40, 40, 40, 50}, .scale = 0x1p40,
                        .insecure = true};
    ctx = he_ckks_ctx_new(&p);
    keys = ctx ? he_ckks_keys_new(ctx) : NULL;
    if (!keys || he_ckks_keygen(keys) < 0 || he_ckks_keygen_relin(keys) < 0 ||
        he_ckks_keygen_galois(keys, NULL, 0, true) < 0) {
        printf("not ok setup: %s\n", he_errmsg());
        return 0;
    }
    slots = he_ckks_ctx_slots(ctx);
    printf("# kernel %s, %u threads\n", ckks_use_ifma() ? "IFMA" : "portable", he_ckks_threads());
    setup_inputs();
    RUN(test_linear_vs_plain);
    RUN(test_linear_vs_dot);
    RUN(test_linear_groups);
    RUN(test_linear_long_row);
    RUN(test_linear_small_primes);
    RUN(test_linear_threads);
    RUN(test_linear_refusals);
    RUN(test_mul_i_add_const);
    RUN(test_square_pairs);
    RUN(test_add_sub_kernels);
    RUN(test_small_primes_kernels);
    RUN(test_rescale_many);
    RUN(test_relin_rescale);
    for (int i = 0; i < NI; i++) he_ckks_ct_free(in[i]);
    he_ckks_keys_free(keys);
    he_ckks_ctx_free(ctx);
    return 0;
}
