/*
** test_ckks.c: CKKS operations against plaintext arithmetic on random
** inputs, each with the error bound stated where it is checked.
**
** Parameters: N = 1024 (512 slots; below the 128-bit sizes, so built with
** the insecure opt-out to keep the test fast), primes {50, 40, 40, 40, 50}
** (four data primes: levels 3..0, special prime 50 bits), scale 2^40.
** Inputs are uniform in [-1, 1] (real and imaginary parts).
** Expected errors: fresh encryption about 2^-30 (noise ~ sqrt(N) * 3.2 *
** small factors over 2^40); every bound below leaves a wide margin above
** that and far below what a wrong result would give (order 1).
*/
#include <complex.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "ckks/ckks.h"
#include "ckks/ckks_internal.h" /* ckks_cpu_has_ifma, ckks_force_portable */
#include "he.h"

static he_prng g;
static he_ckks_ctx *ctx;
static he_ckks_keys *keys;
static unsigned slots;

#define E_FRESH 0x1p-20 /* encode/encrypt/decrypt, add, sub */
#define E_MUL 0x1p-16   /* after one multiplication and rescale */
#define E_ROT 0x1p-16   /* after rotations (key switching noise) */

static double urand(void) { return 2 * he_prng_uniform(&g) - 1; }

static void rand_vec(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = urand();
}

static double maxerr(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static he_ckks_ct *enc(const double *v)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx);
    if (he_ckks_encode(ctx, pt, v, slots, -1, 0) < 0 || he_ckks_encrypt(keys, ct, pt) < 0) {
        printf("# enc: %s\n", he_errmsg());
        he_ckks_ct_free(ct);
        ct = NULL;
    }
    he_ckks_pt_free(pt);
    return ct;
}

/* Decrypts into v (slots values); returns 0 or -1. */
static int dec(const he_ckks_ct *ct, double *v)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    int r = -1;
    if (he_ckks_decrypt(keys, pt, ct) == 0 && he_ckks_decode(ctx, pt, v, slots) == 0) r = 0;
    he_ckks_pt_free(pt);
    if (r < 0) printf("# dec: %s\n", he_errmsg());
    return r;
}

static void test_param_check(void)
{
    he_ckks_params p;
    CHECK(he_ckks_params_default(&p, 8192) == 0, "default");
    he_ckks_ctx *c = he_ckks_ctx_new(&p);
    CHECK(c && he_ckks_ctx_total_bits(c) <= 218, "8192 default accepted: %s", he_errmsg());
    CHECK(c && he_ckks_ctx_max_level(c) == 3 && he_ckks_ctx_slots(c) == 4096, "shape");
    he_ckks_ctx_free(c);
    p.bits[0] = 60; /* 229 bits */
    CHECK(he_ckks_ctx_new(&p) == NULL && strstr(he_errmsg(), "128-bit"), "over bound refused: %s",
          he_errmsg());
    he_ckks_params s = {.n = 1024, .nprimes = 2, .bits = {30, 30}, .scale = 1e6};
    CHECK(he_ckks_ctx_new(&s) == NULL && strstr(he_errmsg(), "N=1024"), "small N refused");
    s.bits[0] = 61;
    s.insecure = true;
    CHECK(he_ckks_ctx_new(&s) == NULL, "61-bit prime refused");
    s.bits[0] = 30;
    s.nprimes = 1;
    CHECK(he_ckks_ctx_new(&s) == NULL, "a special prime is required");
    s.n = 1000;
    s.nprimes = 2;
    CHECK(he_ckks_ctx_new(&s) == NULL, "N not a power of two");
    s.n = 1024;
    c = he_ckks_ctx_new(&s);
    CHECK(c != NULL, "opt-out accepted");
    he_ckks_ctx_free(c);
    for (unsigned n = 4096; n <= 32768; n *= 2) {
        CHECK(he_ckks_params_default(&p, n) == 0, "default %u", n);
        int t = 0;
        for (unsigned i = 0; i < p.nprimes; i++) t += p.bits[i];
        CHECK(t <= he_ckks_max_bits(n), "default for %u within bound", n);
    }
}

static void test_encode_decode(void)
{
    double complex v[512], w[512];
    for (unsigned i = 0; i < slots; i++) v[i] = urand() + urand() * I;
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    for (int level = 3; level >= 0; level--) {
        CHECK(he_ckks_encode_complex(ctx, pt, v, slots, level, 0x1p40) == 0, "%s", he_errmsg());
        CHECK(he_ckks_pt_level(pt) == level, "level");
        CHECK(he_ckks_decode_complex(ctx, pt, w, slots) == 0, "%s", he_errmsg());
        double e = 0;
        for (unsigned i = 0; i < slots; i++) e = fmax(e, cabs(v[i] - w[i]));
        CHECK(e < 0x1p-28, "encode/decode error %g >= 2^-28 at level %d", e, level);
    }
    /* large scales at the top level: coefficients beyond 2^63 (2^80: the
    ** decoder's two-prime fast path; 2^110: beyond q_0 q_1 = 2^90, the
    ** full CRT) */
    static const double big[] = {0x1p80, 0x1p110};
    for (int b = 0; b < 2; b++) {
        CHECK(he_ckks_encode_complex(ctx, pt, v, slots, 3, big[b]) == 0, "%s", he_errmsg());
        CHECK(he_ckks_decode_complex(ctx, pt, w, slots) == 0, "%s", he_errmsg());
        double e = 0;
        for (unsigned i = 0; i < slots; i++) e = fmax(e, cabs(v[i] - w[i]));
        CHECK(e < 0x1p-40, "encode/decode at scale 2^%d: error %g", b ? 110 : 80, e);
    }
    /* too large for level 0 (one 50-bit prime) */
    CHECK(he_ckks_encode_complex(ctx, pt, v, slots, 0, 0x1p60) < 0, "overflow refused");
    /* fewer values than slots: the rest are zero */
    double r[3] = {0.5, -0.25, 1}, o[512];
    CHECK(he_ckks_encode(ctx, pt, r, 3, -1, 0) == 0 && he_ckks_decode(ctx, pt, o, slots) == 0, "short");
    CHECK(fabs(o[0] - 0.5) < 1e-9 && fabs(o[2] - 1) < 1e-9 && fabs(o[3]) < 1e-9 && fabs(o[511]) < 1e-9,
          "zero padding");
    he_ckks_pt_free(pt);
}

static void test_encrypt_decrypt(void)
{
    double v[512], w[512];
    rand_vec(v, slots);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx);
    CHECK(he_ckks_encode(ctx, pt, v, slots, -1, 0) == 0, "encode");
    CHECK(he_ckks_encrypt(keys, ct, pt) == 0 && dec(ct, w) == 0, "pk: %s", he_errmsg());
    CHECK(maxerr(v, w, slots) < E_FRESH, "public-key error %g", maxerr(v, w, slots));
    CHECK(he_ckks_encrypt_sk(keys, ct, pt) == 0 && dec(ct, w) == 0, "sk: %s", he_errmsg());
    CHECK(maxerr(v, w, slots) < E_FRESH, "secret-key error %g", maxerr(v, w, slots));
    /* at a lower level */
    CHECK(he_ckks_encode(ctx, pt, v, slots, 1, 0) == 0 && he_ckks_encrypt(keys, ct, pt) == 0, "l1");
    CHECK(he_ckks_ct_level(ct) == 1 && dec(ct, w) == 0, "level 1");
    CHECK(maxerr(v, w, slots) < E_FRESH, "level-1 error %g", maxerr(v, w, slots));
    /* two encryptions of the same plaintext differ */
    he_ckks_ct *c2 = he_ckks_ct_new(ctx);
    uint8_t *b1, *b2;
    size_t l1, l2;
    CHECK(he_ckks_encrypt(keys, c2, pt) == 0, "enc");
    CHECK(he_ckks_ct_serialize(ctx, ct, &b1, &l1) == 0 && he_ckks_ct_serialize(ctx, c2, &b2, &l2) == 0,
          "ser");
    CHECK(l1 == l2 && memcmp(b1, b2, l1) != 0, "randomized encryption");
    he_free(b1);
    he_free(b2);
    /* a wrong secret key does not decrypt */
    he_ckks_keys *other = he_ckks_keys_new(ctx);
    he_ckks_pt *p2 = he_ckks_pt_new(ctx);
    CHECK(he_ckks_keygen(other) == 0, "keygen");
    CHECK(he_ckks_decrypt(other, p2, ct) == 0 && he_ckks_decode(ctx, p2, w, slots) == 0, "dec");
    CHECK(maxerr(v, w, slots) > 1, "wrong key gives noise");
    he_ckks_keys_free(other);
    he_ckks_pt_free(p2);
    he_ckks_ct_free(c2);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(ct);
}

static void test_add_sub_neg(void)
{
    double a[512], b[512], r[512], w[512];
    rand_vec(a, slots);
    rand_vec(b, slots);
    he_ckks_ct *ca = enc(a), *cb = enc(b), *o = he_ckks_ct_new(ctx);
    he_ckks_pt *pb = he_ckks_pt_new(ctx);
    CHECK(he_ckks_encode(ctx, pb, b, slots, -1, 0) == 0, "encode");
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] + b[i];
    CHECK(he_ckks_add(ctx, o, ca, cb) == 0 && dec(o, w) == 0, "add");
    CHECK(maxerr(r, w, slots) < E_FRESH, "add error %g", maxerr(r, w, slots));
    CHECK(he_ckks_add_pt(ctx, o, ca, pb) == 0 && dec(o, w) == 0, "add_pt");
    CHECK(maxerr(r, w, slots) < E_FRESH, "add_pt error %g", maxerr(r, w, slots));
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] - b[i];
    CHECK(he_ckks_sub(ctx, o, ca, cb) == 0 && dec(o, w) == 0, "sub");
    CHECK(maxerr(r, w, slots) < E_FRESH, "sub error %g", maxerr(r, w, slots));
    CHECK(he_ckks_sub_pt(ctx, o, ca, pb) == 0 && dec(o, w) == 0, "sub_pt");
    CHECK(maxerr(r, w, slots) < E_FRESH, "sub_pt error %g", maxerr(r, w, slots));
    for (unsigned i = 0; i < slots; i++) r[i] = -a[i];
    CHECK(he_ckks_neg(ctx, o, ca) == 0 && dec(o, w) == 0, "neg");
    CHECK(maxerr(r, w, slots) < E_FRESH, "neg error %g", maxerr(r, w, slots));
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] + 0.375;
    CHECK(he_ckks_add_scalar(ctx, o, ca, 0.375) == 0 && dec(o, w) == 0, "add_scalar");
    CHECK(maxerr(r, w, slots) < E_FRESH, "add_scalar error %g", maxerr(r, w, slots));
    for (unsigned i = 0; i < slots; i++) r[i] = -7 * a[i];
    CHECK(he_ckks_mul_int(ctx, o, ca, -7) == 0 && dec(o, w) == 0, "mul_int");
    CHECK(maxerr(r, w, slots) < 8 * E_FRESH, "mul_int error %g", maxerr(r, w, slots));
    /* in place: a += b */
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] + b[i];
    CHECK(he_ckks_add(ctx, ca, ca, cb) == 0 && dec(ca, w) == 0, "add in place");
    CHECK(maxerr(r, w, slots) < E_FRESH, "in-place add error %g", maxerr(r, w, slots));
    he_ckks_ct_free(ca);
    he_ckks_ct_free(cb);
    he_ckks_ct_free(o);
    he_ckks_pt_free(pb);
}

static void test_mul_relin_rescale(void)
{
    double a[512], b[512], r[512], w[512];
    rand_vec(a, slots);
    rand_vec(b, slots);
    he_ckks_ct *ca = enc(a), *cb = enc(b), *o = he_ckks_ct_new(ctx);
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] * b[i];
    CHECK(he_ckks_mul(ctx, o, ca, cb) == 0 && he_ckks_ct_size(o) == 3, "mul: %s", he_errmsg());
    CHECK(dec(o, w) == 0 && maxerr(r, w, slots) < E_FRESH, "size-3 decrypts, error %g",
          maxerr(r, w, slots));
    CHECK(he_ckks_relin(keys, o, o) == 0 && he_ckks_ct_size(o) == 2, "relin: %s", he_errmsg());
    CHECK(dec(o, w) == 0 && maxerr(r, w, slots) < E_FRESH, "relin error %g", maxerr(r, w, slots));
    double sc = he_ckks_ct_scale(o);
    CHECK(he_ckks_rescale(ctx, o, o) == 0 && he_ckks_ct_level(o) == 2, "rescale: %s", he_errmsg());
    CHECK(fabs(he_ckks_ct_scale(o) - sc / (double)he_ckks_ctx_prime(ctx, 3)) < 1e-6 * sc / 0x1p40,
          "scale / q");
    CHECK(dec(o, w) == 0 && maxerr(r, w, slots) < E_MUL, "mul+relin+rescale error %g",
          maxerr(r, w, slots));
    /* square */
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] * a[i];
    CHECK(he_ckks_square(ctx, o, ca) == 0 && he_ckks_relin(keys, o, o) == 0 &&
              he_ckks_rescale(ctx, o, o) == 0 && dec(o, w) == 0, "square");
    CHECK(maxerr(r, w, slots) < E_MUL, "square error %g", maxerr(r, w, slots));
    /* plaintext multiply */
    he_ckks_pt *pb = he_ckks_pt_new(ctx);
    CHECK(he_ckks_encode(ctx, pb, b, slots, -1, (double)he_ckks_ctx_prime(ctx, 3)) == 0, "enc");
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] * b[i];
    CHECK(he_ckks_mul_pt(ctx, o, ca, pb) == 0 && he_ckks_rescale(ctx, o, o) == 0 && dec(o, w) == 0,
          "mul_pt");
    CHECK(maxerr(r, w, slots) < E_MUL, "mul_pt error %g", maxerr(r, w, slots));
    CHECK(fabs(he_ckks_ct_scale(o) / 0x1p40 - 1) < 1e-12, "scale restored by rescale");
    /* scalar multiply */
    for (unsigned i = 0; i < slots; i++) r[i] = a[i] * -0.7071;
    CHECK(he_ckks_mul_scalar(ctx, o, ca, -0.7071, 0) == 0 && he_ckks_rescale(ctx, o, o) == 0 &&
              dec(o, w) == 0, "mul_scalar");
    CHECK(maxerr(r, w, slots) < E_MUL, "mul_scalar error %g", maxerr(r, w, slots));
    he_ckks_pt_free(pb);
    he_ckks_ct_free(ca);
    he_ckks_ct_free(cb);
    he_ckks_ct_free(o);
}

/* x * y0 * y1 * y2, rescaling after each product, down to level 0. */
static void test_chain_to_last_level(void)
{
    double x[512], y[512], r[512], w[512];
    rand_vec(x, slots);
    memcpy(r, x, sizeof r);
    he_ckks_ct *c = enc(x), *cy = he_ckks_ct_new(ctx);
    int depth = he_ckks_ctx_max_level(ctx);
    for (int l = 0; l < depth; l++) {
        rand_vec(y, slots);
        for (unsigned i = 0; i < slots; i++) r[i] *= y[i];
        he_ckks_ct *t = enc(y);
        CHECK(t && he_ckks_mod_down(ctx, cy, t, he_ckks_ct_level(c)) == 0, "align: %s", he_errmsg());
        CHECK(he_ckks_mul(ctx, c, c, cy) == 0 && he_ckks_relin(keys, c, c) == 0 &&
                  he_ckks_rescale(ctx, c, c) == 0, "step %d: %s", l, he_errmsg());
        he_ckks_ct_free(t);
        CHECK(dec(c, w) == 0, "dec");
        CHECK(maxerr(r, w, slots) < E_MUL * (l + 1), "level %d error %g", he_ckks_ct_level(c),
              maxerr(r, w, slots));
    }
    CHECK(he_ckks_ct_level(c) == 0, "reached level 0");
    CHECK(he_ckks_rescale(ctx, c, c) < 0 && strstr(he_errmsg(), "level 0"), "no rescale below 0");
    he_ckks_ct_free(c);
    he_ckks_ct_free(cy);
}

static void test_level_and_scale_checks(void)
{
    double a[512], w[512];
    rand_vec(a, slots);
    he_ckks_ct *ca = enc(a), *cb = enc(a), *o = he_ckks_ct_new(ctx);
    CHECK(he_ckks_mod_down(ctx, cb, cb, 1) == 0 && he_ckks_ct_level(cb) == 1, "mod_down");
    CHECK(dec(cb, w) == 0 && maxerr(a, w, slots) < E_FRESH, "mod_down keeps the message");
    CHECK(he_ckks_add(ctx, o, ca, cb) < 0 && strstr(he_errmsg(), "level"), "level mismatch refused");
    CHECK(he_ckks_mul(ctx, o, ca, cb) < 0, "mul level mismatch refused");
    CHECK(he_ckks_mod_down(ctx, o, ca, 1) == 0 && he_ckks_add(ctx, o, o, cb) == 0, "aligned add");
    for (unsigned i = 0; i < slots; i++) w[i] = 0;
    double r[512];
    for (unsigned i = 0; i < slots; i++) r[i] = 2 * a[i];
    CHECK(dec(o, w) == 0 && maxerr(r, w, slots) < E_FRESH, "aligned add value");
    he_ckks_ct_set_scale(cb, 0x1p41);
    CHECK(he_ckks_add(ctx, o, o, cb) < 0 && strstr(he_errmsg(), "scale"), "scale mismatch refused");
    CHECK(he_ckks_mod_down(ctx, o, ca, 4) < 0, "mod_down upward refused");
    he_ckks_ct *empty = he_ckks_ct_new(ctx);
    CHECK(he_ckks_add(ctx, o, empty, ca) < 0, "empty refused");
    he_ckks_keys *pub = he_ckks_keys_new(ctx);
    CHECK(he_ckks_relin(pub, o, ca) == 0, "relin of size 2 copies");
    CHECK(he_ckks_rotate(pub, o, ca, 1) < 0 && strstr(he_errmsg(), "Galois"), "missing key refused");
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    CHECK(he_ckks_decrypt(pub, pt, ca) < 0, "no secret key");
    he_ckks_pt_free(pt);
    he_ckks_keys_free(pub);
    he_ckks_ct_free(empty);
    he_ckks_ct_free(ca);
    he_ckks_ct_free(cb);
    he_ckks_ct_free(o);
}

static void test_rotate_conjugate(void)
{
    double complex v[512], w[512];
    double re[512], wr[512];
    for (unsigned i = 0; i < slots; i++) v[i] = urand() + urand() * I, re[i] = creal(v[i]);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *c = he_ckks_ct_new(ctx), *o = he_ckks_ct_new(ctx);
    CHECK(he_ckks_encode_complex(ctx, pt, v, slots, -1, 0) == 0 && he_ckks_encrypt(keys, c, pt) == 0,
          "enc");
    static const int steps[] = {1, 3, 5, -1, 200, 511};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        int k = steps[s];
        CHECK(he_ckks_keys_has_rotation(keys, k), "key for %d", k);
        CHECK(he_ckks_rotate(keys, o, c, k) == 0, "rotate %d: %s", k, he_errmsg());
        CHECK(he_ckks_decrypt(keys, pt, o) == 0 && he_ckks_decode_complex(ctx, pt, w, slots) == 0, "dec");
        double e = 0;
        for (unsigned i = 0; i < slots; i++) e = fmax(e, cabs(w[i] - v[((long)i + k + 4 * slots) % slots]));
        CHECK(e < E_ROT, "rotation by %d: error %g", k, e);
    }
    /* conjugation */
    CHECK(he_ckks_conjugate(keys, o, c) == 0, "conj: %s", he_errmsg());
    CHECK(he_ckks_decrypt(keys, pt, o) == 0 && he_ckks_decode_complex(ctx, pt, w, slots) == 0, "dec");
    double e = 0;
    for (unsigned i = 0; i < slots; i++) e = fmax(e, cabs(w[i] - conj(v[i])));
    CHECK(e < E_ROT, "conjugation error %g", e);
    /* composed from powers of two (13 = 8 + 4 + 1), in place, on a real vector */
    he_ckks_ct *cr = enc(re);
    CHECK(!he_ckks_keys_has_rotation(keys, 13), "no direct key for 13");
    CHECK(he_ckks_rotate(keys, cr, cr, 13) == 0 && dec(cr, wr) == 0, "rotate 13: %s", he_errmsg());
    double er = 0;
    for (unsigned i = 0; i < slots; i++) er = fmax(er, fabs(wr[i] - re[(i + 13) % slots]));
    CHECK(er < 3 * E_ROT, "composed rotation error %g", er);
    he_ckks_ct_free(cr);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(c);
    he_ckks_ct_free(o);
}

static void test_sum_slots(void)
{
    double a[512], w[512], s = 0;
    rand_vec(a, slots);
    for (unsigned i = 0; i < slots; i++) s += a[i];
    he_ckks_ct *c = enc(a), *o = he_ckks_ct_new(ctx);
    CHECK(he_ckks_sum_slots(keys, o, c) == 0 && dec(o, w) == 0, "sum: %s", he_errmsg());
    double e = 0;
    for (unsigned i = 0; i < slots; i++) e = fmax(e, fabs(w[i] - s));
    /* 9 rotations, each adding key-switching noise to a growing sum */
    CHECK(e < 16 * E_ROT, "sum over slots error %g (sum %g)", e, s);
    he_ckks_ct_free(c);
    he_ckks_ct_free(o);
}

static void test_dot(void)
{
    enum { K = 40 };
    double x[K][512], wts[K], r[512] = {0}, w[512];
    he_ckks_ct *cts[K];
    he_ckks_pt *pts[K];
    for (int i = 0; i < K; i++) {
        rand_vec(x[i], slots);
        wts[i] = urand();
        cts[i] = enc(x[i]);
        for (unsigned j = 0; j < slots; j++) r[j] += wts[i] * x[i][j];
    }
    he_ckks_ct *o = he_ckks_ct_new(ctx), *naive = he_ckks_ct_new(ctx), *t = he_ckks_ct_new(ctx);
    CHECK(he_ckks_dot_scalar(ctx, o, (const he_ckks_ct *const *)cts, wts, K, 0) == 0, "dot: %s",
          he_errmsg());
    /* the same sum one operation at a time gives the same ciphertext exactly */
    for (int i = 0; i < K; i++) {
        CHECK(he_ckks_mul_scalar(ctx, t, cts[i], wts[i], 0) == 0, "mul_scalar");
        CHECK((i == 0 ? he_ckks_ct_copy(naive, t) : he_ckks_add(ctx, naive, naive, t)) == 0, "add");
    }
    uint8_t *b1, *b2;
    size_t l1, l2;
    CHECK(he_ckks_ct_serialize(ctx, o, &b1, &l1) == 0 && he_ckks_ct_serialize(ctx, naive, &b2, &l2) == 0,
          "ser");
    CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0, "fused kernel equals the naive sum exactly");
    he_free(b1);
    he_free(b2);
    CHECK(he_ckks_rescale(ctx, o, o) == 0 && dec(o, w) == 0, "dec");
    CHECK(maxerr(r, w, slots) < K * E_MUL, "dot error %g", maxerr(r, w, slots));
    /* with plaintext vectors */
    double pv[K][512];
    for (unsigned j = 0; j < slots; j++) r[j] = 0;
    for (int i = 0; i < K; i++) {
        rand_vec(pv[i], slots);
        pts[i] = he_ckks_pt_new(ctx);
        CHECK(he_ckks_encode(ctx, pts[i], pv[i], slots, -1, (double)he_ckks_ctx_prime(ctx, 3)) == 0, "e");
        for (unsigned j = 0; j < slots; j++) r[j] += pv[i][j] * x[i][j];
    }
    CHECK(he_ckks_dot_pt(ctx, o, (const he_ckks_ct *const *)cts, (const he_ckks_pt *const *)pts, K) == 0,
          "dot_pt: %s", he_errmsg());
    CHECK(he_ckks_rescale(ctx, o, o) == 0 && dec(o, w) == 0, "dec");
    CHECK(maxerr(r, w, slots) < K * E_MUL, "dot_pt error %g", maxerr(r, w, slots));
    CHECK(he_ckks_dot_scalar(ctx, cts[0], (const he_ckks_ct *const *)cts, wts, K, 0) < 0, "alias refused");
    for (int i = 0; i < K; i++) {
        he_ckks_ct_free(cts[i]);
        he_ckks_pt_free(pts[i]);
    }
    he_ckks_ct_free(o);
    he_ckks_ct_free(naive);
    he_ckks_ct_free(t);
}

/* The fused kernel with more terms than its accumulators take without an
** intermediate fold: 600 terms at 60-bit primes (128-bit accumulators take
** 2^8 products of 60 bits), and 4200 terms at 45-bit primes (the 52-bit
** split accumulators of the IFMA path fold every 4095 terms). */
static void dot_fold(int bits, int K)
{
    he_ckks_params p = {.n = 64, .nprimes = 3, .bits = {bits, bits, bits}, .scale = 0x1p30,
                        .insecure = true};
    he_ckks_ctx *c = he_ckks_ctx_new(&p);
    CHECK(c != NULL, "ctx");
    if (!c) return;
    he_ckks_keys *k = he_ckks_keys_new(c);
    he_ckks_ct **cts = he_calloc(K, sizeof *cts);
    double *wts = he_calloc(K, sizeof *wts), x[32], r[32] = {0}, out[32];
    he_ckks_pt *pt = he_ckks_pt_new(c);
    CHECK(he_ckks_keygen(k) == 0, "keygen");
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < 32; j++) x[j] = urand();
        wts[i] = urand();
        for (int j = 0; j < 32; j++) r[j] += wts[i] * x[j];
        cts[i] = he_ckks_ct_new(c);
        CHECK(he_ckks_encode(c, pt, x, 32, -1, 0) == 0 && he_ckks_encrypt_sk(k, cts[i], pt) == 0, "enc");
    }
    he_ckks_ct *o = he_ckks_ct_new(c);
    CHECK(he_ckks_dot_scalar(c, o, (const he_ckks_ct *const *)cts, wts, K, 0x1p30) == 0, "dot");
    CHECK(he_ckks_decrypt(k, pt, o) == 0 && he_ckks_decode(c, pt, out, 32) == 0, "dec");
    CHECK(maxerr(r, out, 32) < 1e-4 * K / 600, "%d-term dot error %g", K, maxerr(r, out, 32));
    for (int i = 0; i < K; i++) he_ckks_ct_free(cts[i]);
    he_free(cts);
    he_free(wts);
    he_ckks_ct_free(o);
    he_ckks_pt_free(pt);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(c);
}

static void test_dot_fold(void)
{
    dot_fold(60, 600);
    dot_fold(45, 4200);
}

/* The secure default set for N = 4096 ({38, 33, 38} bits, scale 2^33):
** one product, relinearization, rescale and rotation; error bound 2^-10
** (scale 2^33 leaves about 20 bits after one level). */
static void test_default_4096(void)
{
    he_ckks_params p;
    CHECK(he_ckks_params_default(&p, 4096) == 0, "params");
    he_ckks_ctx *c = he_ckks_ctx_new(&p);
    CHECK(c != NULL, "ctx: %s", he_errmsg());
    if (!c) return;
    he_ckks_keys *k = he_ckks_keys_new(c);
    int st[] = {7};
    CHECK(he_ckks_keygen(k) == 0 && he_ckks_keygen_relin(k) == 0 && he_ckks_keygen_galois(k, st, 1, false) == 0,
          "keygen");
    unsigned ns = he_ckks_ctx_slots(c);
    double *x = he_malloc(3 * ns * sizeof *x), *y = x + ns, *w = y + ns;
    rand_vec(x, ns);
    rand_vec(y, ns);
    he_ckks_pt *pt = he_ckks_pt_new(c);
    he_ckks_ct *a = he_ckks_ct_new(c), *b = he_ckks_ct_new(c);
    CHECK(he_ckks_ct_ctx(a) == c && he_ckks_keys_ctx(k) == c && he_ckks_pt_ctx(pt) == c, "ctx accessors");
    CHECK(he_ckks_encode(c, pt, x, ns, -1, 0) == 0 && he_ckks_encrypt(k, a, pt) == 0, "enc x");
    CHECK(he_ckks_encode(c, pt, y, ns, -1, 0) == 0 && he_ckks_encrypt(k, b, pt) == 0, "enc y");
    CHECK(he_ckks_mul(c, a, a, b) == 0 && he_ckks_relin(k, a, a) == 0 && he_ckks_rescale(c, a, a) == 0 &&
              he_ckks_rotate(k, a, a, 7) == 0, "ops: %s", he_errmsg());
    CHECK(he_ckks_ct_level(a) == 0, "level 0");
    CHECK(he_ckks_decrypt(k, pt, a) == 0 && he_ckks_decode(c, pt, w, ns) == 0, "dec");
    double e = 0;
    for (unsigned i = 0; i < ns; i++) e = fmax(e, fabs(w[i] - x[(i + 7) % ns] * y[(i + 7) % ns]));
    CHECK(e < 0x1p-10, "N=4096 mul+relin+rescale+rotate error %g", e);
    /* a public-only key set encrypts but cannot decrypt */
    he_ckks_keys_drop_secret(k);
    CHECK(he_ckks_keys_parts(k) == (HE_CKKS_PART_PUBLIC | HE_CKKS_PART_RELIN | HE_CKKS_PART_GALOIS), "parts");
    CHECK(he_ckks_encrypt(k, b, pt) == 0 && he_ckks_decrypt(k, pt, b) < 0, "no secret after drop");
    he_free(x);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(a);
    he_ckks_ct_free(b);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(c);
}

/* The distributions behind keygen and encryption: the secret key is
** uniform ternary; the error of a secret-key encryption of zero is centered
** binomial with variance 10.5 (standard deviation 3.24), |e| <= 21. Bounds:
** 8 x 1024 error samples: the sample variance within 10% of 10.5 (6 standard
** errors); 1024 key coefficients: each
** ternary value's share within 0.06 of 1/3 (4 or more standard errors). */
static void test_noise_distributions(void)
{
    unsigned n = he_ckks_ctx_n(ctx);
    const ckks_mod *m = &ctx->mod[0];
    uint64_t *x = he_malloc(n * sizeof *x);
    memcpy(x, keys->sk, n * sizeof *x);
    ckks_intt(x, m, n);
    unsigned cnt[3] = {0, 0, 0};
    bool ternary = true;
    for (unsigned i = 0; i < n; i++) {
        if (x[i] == 0) cnt[1]++;
        else if (x[i] == 1) cnt[2]++;
        else if (x[i] == m->q - 1) cnt[0]++;
        else ternary = false;
    }
    CHECK(ternary, "secret key not ternary");
    for (int v = 0; v < 3; v++)
        CHECK(fabs(cnt[v] / (double)n - 1.0 / 3) < 0.06, "ternary value %d share %g", v - 1, cnt[v] / (double)n);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx);
    double sum = 0, sq = 0;
    int maxabs = 0, samples = 0;
    for (int r = 0; r < 8; r++) {
        CHECK(he_ckks_encode(ctx, pt, NULL, 0, -1, 0) == 0 && he_ckks_encrypt_sk(keys, ct, pt) == 0 &&
                  he_ckks_decrypt(keys, pt, ct) == 0, "enc/dec zero");
        memcpy(x, pt->data, n * sizeof *x);
        ckks_intt(x, m, n);
        for (unsigned i = 0; i < n; i++) {
            int e = x[i] > m->q / 2 ? -(int)(m->q - x[i]) : (int)x[i];
            sum += e;
            sq += (double)e * e;
            maxabs = e < 0 ? (-e > maxabs ? -e : maxabs) : (e > maxabs ? e : maxabs);
            samples++;
        }
    }
    double mean = sum / samples, var = sq / samples - mean * mean;
    CHECK(fabs(mean) < 0.2, "error mean %g", mean);
    CHECK(fabs(var - 10.5) < 1.05, "error variance %g (want 10.5)", var);
    CHECK(maxabs <= 21, "error beyond the binomial support: %d", maxabs);
    he_free(x);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(ct);
}

static bool same_ct(const he_ckks_ctx *ca, const he_ckks_ct *a, const he_ckks_ctx *cb, const he_ckks_ct *b)
{
    uint8_t *x, *y;
    size_t lx, ly;
    if (he_ckks_ct_serialize(ca, a, &x, &lx) < 0) return false;
    if (he_ckks_ct_serialize(cb, b, &y, &ly) < 0) {
        he_free(x);
        return false;
    }
    bool same = lx == ly && memcmp(x, y, lx) == 0;
    he_free(x);
    he_free(y);
    return same;
}

/* Where the CPU has AVX-512 IFMA: the same operations with the IFMA kernels
** and with the portable code give bit-identical ciphertexts (same keys and
** inputs, moved between the two contexts through the file format). */
static void ifma_vs_portable(const he_ckks_params *pp)
{
    he_ckks_params p = *pp;
    he_ckks_ctx *ca = he_ckks_ctx_new(&p);
    ckks_force_portable(true);
    he_ckks_ctx *cb = he_ckks_ctx_new(&p);
    ckks_force_portable(false);
    CHECK(ca && cb, "ctx");
    if (!ca || !cb) goto out0;
    he_ckks_keys *ka = he_ckks_keys_new(ca), *kb = he_ckks_keys_new(cb);
    int st[] = {1};
    uint8_t *buf;
    size_t len;
    CHECK(he_ckks_keygen(ka) == 0 && he_ckks_keygen_relin(ka) == 0 && he_ckks_keygen_galois(ka, st, 1, true) == 0,
          "keygen");
    CHECK(he_ckks_keys_serialize(ka, 15, &buf, &len) == 0 && he_ckks_keys_deserialize(kb, buf, len) == 0,
          "keys across");
    he_free(buf);
    double x[512], y[512];
    rand_vec(x, 512);
    rand_vec(y, 512);
    for (int i = 0; i < 512; i++) x[i] *= 0.01, y[i] *= 0.01; /* fits the 29-bit set */
    he_ckks_pt *pa = he_ckks_pt_new(ca), *pb = he_ckks_pt_new(cb);
    he_ckks_ct *xa = he_ckks_ct_new(ca), *ya = he_ckks_ct_new(ca), *xb = he_ckks_ct_new(cb),
               *yb = he_ckks_ct_new(cb), *oa = he_ckks_ct_new(ca), *ob = he_ckks_ct_new(cb);
    CHECK(he_ckks_encode(ca, pa, x, 512, -1, 0) == 0 && he_ckks_encode(cb, pb, x, 512, -1, 0) == 0, "enc");
    CHECK(he_ckks_encrypt(ka, xa, pa) == 0, "enc");
    CHECK(he_ckks_encode(ca, pa, y, 512, -1, 0) == 0 && he_ckks_encrypt(ka, ya, pa) == 0, "enc");
    CHECK(he_ckks_ct_serialize(ca, xa, &buf, &len) == 0 && he_ckks_ct_deserialize(cb, xb, buf, len) == 0, "x");
    he_free(buf);
    CHECK(he_ckks_ct_serialize(ca, ya, &buf, &len) == 0 && he_ckks_ct_deserialize(cb, yb, buf, len) == 0, "y");
    he_free(buf);
    CHECK(he_ckks_mul(ca, oa, xa, ya) == 0 && he_ckks_mul(cb, ob, xb, yb) == 0, "mul");
    CHECK(same_ct(ca, oa, cb, ob), "mul differs");
    CHECK(he_ckks_relin(ka, oa, oa) == 0 && he_ckks_relin(kb, ob, ob) == 0, "relin");
    CHECK(same_ct(ca, oa, cb, ob), "relin differs");
    CHECK(he_ckks_rescale(ca, oa, oa) == 0 && he_ckks_rescale(cb, ob, ob) == 0, "rescale");
    CHECK(same_ct(ca, oa, cb, ob), "rescale differs");
    CHECK(he_ckks_rotate(ka, oa, oa, 1) == 0 && he_ckks_rotate(kb, ob, ob, 1) == 0, "rotate");
    CHECK(same_ct(ca, oa, cb, ob), "rotate differs");
    CHECK(he_ckks_conjugate(ka, oa, oa) == 0 && he_ckks_conjugate(kb, ob, ob) == 0, "conj");
    CHECK(same_ct(ca, oa, cb, ob), "conjugate differs");
    CHECK(he_ckks_mul_pt(ca, oa, xa, pa) == 0 && he_ckks_encode(cb, pb, y, 512, -1, 0) == 0 &&
              he_ckks_mul_pt(cb, ob, xb, pb) == 0, "mul_pt");
    CHECK(same_ct(ca, oa, cb, ob), "mul_pt differs");
    const he_ckks_ct *va[3] = {xa, ya, xa}, *vb[3] = {xb, yb, xb};
    double w[3] = {0.5, -0.25, 2};
    CHECK(he_ckks_dot_scalar(ca, oa, va, w, 3, 0) == 0 && he_ckks_dot_scalar(cb, ob, vb, w, 3, 0) == 0, "dot");
    CHECK(same_ct(ca, oa, cb, ob), "dot differs");
    double da[512], db[512];
    CHECK(he_ckks_decrypt(ka, pa, oa) == 0 && he_ckks_decrypt(kb, pb, ob) == 0 &&
              he_ckks_decode(ca, pa, da, 512) == 0 && he_ckks_decode(cb, pb, db, 512) == 0 &&
              memcmp(da, db, sizeof da) == 0, "decrypt/decode differ");
    he_ckks_pt_free(pa);
    he_ckks_pt_free(pb);
    he_ckks_ct_free(xa);
    he_ckks_ct_free(ya);
    he_ckks_ct_free(xb);
    he_ckks_ct_free(yb);
    he_ckks_ct_free(oa);
    he_ckks_ct_free(ob);
    he_ckks_keys_free(ka);
    he_ckks_keys_free(kb);
out0:
    he_ckks_ctx_free(ca);
    he_ckks_ctx_free(cb);
}

static void test_ifma_matches_portable(void)
{
    /* all primes on the IFMA path; 60-bit primes (portable) mixed with IFMA
    ** ones; primes below 30 bits (IFMA transforms, portable reductions) */
    he_ckks_params p1 = {.n = 1024, .nprimes = 5, .bits = {45, 40, 40, 40, 46}, .scale = 0x1p40,
                         .insecure = true};
    he_ckks_params p2 = {.n = 1024, .nprimes = 5, .bits = {60, 40, 49, 40, 60}, .scale = 0x1p40,
                         .insecure = true};
    he_ckks_params p3 = {.n = 1024, .nprimes = 4, .bits = {29, 29, 29, 29}, .scale = 0x1p20,
                         .insecure = true};
    ifma_vs_portable(&p1);
    ifma_vs_portable(&p2);
    ifma_vs_portable(&p3);
}

/* Noise flooding: a result y = 3 v with measured noise 2^b0 is flooded for
** s = 8 bits (sigma = sqrt(N) 2^(b0 + 7)). Stated bounds: each slot's added
** error is Gaussian with standard deviation sd = sigma sqrt(N/2) / scale,
** so the flooded error stays below 8 sd + 3 E_FRESH (P(|Z| > 8) < 2^-48 per
** slot) and is over 10 times the unflooded one (which is below 3 E_FRESH,
** while the largest of 512 slots of sd-Gaussians exceeds sd/2 with
** probability 1 - 0.38^512); the measured noise after flooding is at least
** 2 sigma (the largest of N = 1024 Gaussians is below 2 sigma with
** probability 0.955^1024 < 2^-68). sigma = 0 still re-randomizes. */
static void test_flood(void)
{
    double v[512], y[512], w[512], u[512];
    rand_vec(v, slots);
    for (unsigned i = 0; i < slots; i++) y[i] = 3 * v[i];
    he_ckks_ct *ct = enc(v), *f = he_ckks_ct_new(ctx), *f2 = he_ckks_ct_new(ctx);
    double b0 = -1, b1 = -1;
    CHECK(ct && he_ckks_mul_int(ctx, ct, ct, 3) == 0, "mul_int");
    CHECK(he_ckks_noise_bits(keys, ct, y, slots, &b0) == 0 && b0 > 1 && b0 < 20, "noise bits %g: %s", b0,
          he_errmsg());
    double sigma = he_ckks_flood_sigma(ctx, b0, 8);
    CHECK(fabs(sigma - 32.0 * ldexp(1.0, 7) * exp2(b0)) < 1e-6 * sigma, "sigma %g", sigma);
    double sd = sigma * sqrt(1024 / 2.0) / he_ckks_ct_scale(ct);
    CHECK(dec(ct, u) == 0 && maxerr(u, y, slots) < 3 * E_FRESH, "unflooded error %g", maxerr(u, y, slots));
    CHECK(he_ckks_flood(keys, f, ct, sigma) == 0 && dec(f, w) == 0, "flood: %s", he_errmsg());
    double e0 = maxerr(u, y, slots), e1 = maxerr(w, y, slots);
    CHECK(e1 < 8 * sd + 3 * E_FRESH, "flooded error %g over 8 sd = %g", e1, 8 * sd);
    CHECK(e1 > 10 * e0 && e1 > sd / 2, "flooded error %g not above the unflooded %g (sd %g)", e1, e0, sd);
    CHECK(he_ckks_noise_bits(keys, f, y, slots, &b1) == 0 && b1 >= log2(2 * sigma), "flooded noise 2^%g, sigma 2^%g",
          b1, log2(sigma));
    /* sigma 0: no flooding, but a fresh encryption of 0 is added (c1 changes) */
    uint8_t *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    CHECK(he_ckks_flood(keys, f2, ct, 0) == 0 && dec(f2, w) == 0 && maxerr(w, y, slots) < 3 * E_FRESH,
          "sigma 0: %s", he_errmsg());
    CHECK(he_ckks_ct_serialize(ctx, ct, &s1, &l1) == 0 && he_ckks_ct_serialize(ctx, f2, &s2, &l2) == 0 && l1 == l2 &&
              memcmp(s1 + l1 / 2, s2 + l2 / 2, l1 / 4) != 0,
          "not re-randomized");
    he_free(s1);
    he_free(s2);
    CHECK(he_ckks_flood(keys, f, ct, -1) < 0 && he_ckks_flood(keys, f, ct, 0x1p60) < 0, "bad sigma accepted");
    he_ckks_ct_free(ct);
    he_ckks_ct_free(f);
    he_ckks_ct_free(f2);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 4);
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {50, 40, 40, 40, 50}, .scale = 0x1p40,
                        .insecure = true};
    ctx = he_ckks_ctx_new(&p);
    keys = ctx ? he_ckks_keys_new(ctx) : NULL;
    static const int steps[] = {1, 3, 5, -1, 200, 511};
    if (!keys || he_ckks_keygen(keys) < 0 || he_ckks_keygen_relin(keys) < 0 ||
        he_ckks_keygen_galois(keys, steps, 6, true) < 0 || he_ckks_keygen_galois_pow2(keys) < 0) {
        printf("not ok setup: %s\n", he_errmsg());
        return 0;
    }
    slots = he_ckks_ctx_slots(ctx);
    RUN(test_param_check);
    RUN(test_encode_decode);
    RUN(test_encrypt_decrypt);
    RUN(test_noise_distributions);
    RUN(test_add_sub_neg);
    RUN(test_mul_relin_rescale);
    RUN(test_chain_to_last_level);
    RUN(test_level_and_scale_checks);
    RUN(test_rotate_conjugate);
    RUN(test_sum_slots);
    RUN(test_dot);
    RUN(test_dot_fold);
    RUN(test_default_4096);
    RUN(test_flood);
    if (ckks_cpu_has_ifma())
        RUN(test_ifma_matches_portable);
    else
        SKIP(test_ifma_matches_portable, "no AVX-512 IFMA on this CPU");
    he_ckks_keys_free(keys);
    he_ckks_ctx_free(ctx);
    return 0;
}
