/*
** test_ckks_hoist.c: hoisted rotations, diagonal matrix-vector products
** and the worker pool, against plaintext arithmetic on random inputs.
**
** Parameters as test_ckks.c: N = 1024 (512 slots, insecure opt-out for
** speed), primes {50, 40, 40, 40, 50}, scale 2^40, inputs uniform in
** [-1, 1]. Bounds: a rotation adds key-switching noise near 2^-30 (E_ROT =
** 2^-16 leaves a wide margin); a matrix-vector product of c <= 512 columns
** quantizes each weight to 2^-40 and sums c products of one-level noise:
** below 2^-20 in practice, checked against E_MV = 2^-12, while a wrong
** diagonal or rotation gives errors of order 1.
*/
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

#define E_ROT 0x1p-16
#define E_MV 0x1p-12

static double urand(void) { return 2 * he_prng_uniform(&g) - 1; }

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

static int dec(const he_ckks_ct *ct, double *v)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    int r = -1;
    if (he_ckks_decrypt(keys, pt, ct) == 0 && he_ckks_decode(ctx, pt, v, slots) == 0) r = 0;
    he_ckks_pt_free(pt);
    if (r < 0) printf("# dec: %s\n", he_errmsg());
    return r;
}

static bool same_data(const he_ckks_ct *a, const he_ckks_ct *b)
{
    return a->size == b->size && a->nq == b->nq && a->scale == b->scale &&
           memcmp(a->data, b->data, (size_t)a->size * a->nq * ctx->n * sizeof *a->data) == 0;
}

static const int rsteps[] = {1, 2, 3, 5, 17, 100, -1, 511, 256};
#define NRS (sizeof rsteps / sizeof rsteps[0])

/* Every hoisted rotation against the plaintext rotation and against
** he_ckks_rotate (same key): both within E_ROT, and the noise of the
** hoisted one at most 2 bits above the plain one's. */
static void test_hoisted_vs_plain(void)
{
    double x[512], want[512], got[512], ref[512];
    for (unsigned i = 0; i < slots; i++) x[i] = urand();
    he_ckks_ct *a = enc(x);
    he_ckks_ct *outs[NRS], *plain = he_ckks_ct_new(ctx);
    for (size_t i = 0; i < NRS; i++) outs[i] = he_ckks_ct_new(ctx);
    CHECK(a && he_ckks_rotate_hoisted(keys, outs, a, rsteps, NRS) == 0, "%s", he_errmsg());
    for (size_t i = 0; i < NRS && !check_failed_; i++) {
        int s = rsteps[i];
        for (unsigned j = 0; j < slots; j++) want[j] = x[(j + (unsigned)(s + (int)slots)) % slots];
        CHECK(he_ckks_rotate(keys, plain, a, s) == 0, "%s", he_errmsg());
        CHECK(dec(outs[i], got) == 0 && dec(plain, ref) == 0, "decrypt");
        double e = 0, ep = 0;
        for (unsigned j = 0; j < slots; j++) {
            e = fmax(e, fabs(got[j] - want[j]));
            ep = fmax(ep, fabs(got[j] - ref[j]));
        }
        CHECK(e < E_ROT, "hoisted rotation by %d: error %g", s, e);
        CHECK(ep < E_ROT, "hoisted vs plain rotation by %d: %g", s, ep);
        double nb_h, nb_p;
        CHECK(he_ckks_noise_bits(keys, outs[i], want, slots, &nb_h) == 0 &&
              he_ckks_noise_bits(keys, plain, want, slots, &nb_p) == 0, "%s", he_errmsg());
        CHECK(nb_h <= nb_p + 2, "rotation by %d: hoisted noise 2^%.1f, plain 2^%.1f", s, nb_h, nb_p);
    }
    for (size_t i = 0; i < NRS; i++) he_ckks_ct_free(outs[i]);
    he_ckks_ct_free(plain);
    he_ckks_ct_free(a);
}

static void test_hoisted_refusals(void)
{
    double x[512] = {0};
    he_ckks_ct *a = enc(x), *o = he_ckks_ct_new(ctx);
    int s7 = 7;
    CHECK(he_ckks_rotate_hoisted(keys, &o, a, &s7, 1) < 0 && strstr(he_errmsg(), "rotation by 7"),
          "a missing key is named: %s", he_errmsg());
    int s1 = 1;
    CHECK(he_ckks_rotate_hoisted(keys, &a, a, &s1, 1) < 0 && strstr(he_errmsg(), "overwrites"),
          "output = input refused: %s", he_errmsg());
    he_ckks_ct_free(a);
    he_ckks_ct_free(o);
}

/* y = W x + b for a random rows x cols W against the plaintext product, on
** every slot (the output repeats every out_period slots). */
static void matvec_case(size_t rows, size_t cols, bool with_bias)
{
    double *W = he_malloc(rows * cols * sizeof *W), b[512], x[512], xs[512], y[512];
    for (size_t i = 0; i < rows * cols; i++) W[i] = urand();
    for (size_t i = 0; i < rows; i++) b[i] = urand();
    for (size_t i = 0; i < cols; i++) x[i] = urand();
    he_ckks_matvec *mv = he_ckks_matvec_new(ctx, W, rows, cols, with_bias ? b : NULL);
    CHECK(mv != NULL, "%s", he_errmsg());
    if (!mv) {
        he_free(W);
        return;
    }
    unsigned din = he_ckks_matvec_in_period(mv), dout = he_ckks_matvec_out_period(mv);
    int steps[64];
    size_t ns = he_ckks_matvec_steps(mv, false, steps, 64);
    size_t k = din < dout ? din : dout, extra = 0;
    for (unsigned s = dout; s < din; s <<= 1) extra++;
    double root = ceil(sqrt((double)k));
    CHECK(ns <= 2 * root + extra, "%zu x %zu: %zu rotation steps > 2 sqrt(%zu) + %zu", rows, cols, ns, k,
          extra);
    CHECK(he_ckks_keygen_galois(keys, steps, ns, false) == 0, "%s", he_errmsg());
    for (unsigned s = 0; s < slots; s++) xs[s] = s % din < cols ? x[s % din] : 0.0;
    he_ckks_ct *cx = enc(xs), *cy = he_ckks_ct_new(ctx);
    CHECK(cx && he_ckks_matvec_apply(keys, mv, cy, cx, 0, false) == 0, "%zu x %zu: %s", rows, cols, he_errmsg());
    CHECK(he_ckks_ct_level(cy) == he_ckks_ct_level(cx) - 1, "one level spent");
    CHECK(fabs(he_ckks_ct_scale(cy) / he_ckks_ct_scale(cx) - 1) < 1e-9, "scale kept");
    if (!check_failed_ && dec(cy, y) == 0) {
        double e = 0;
        for (unsigned s = 0; s < slots; s++) {
            size_t r = s % dout;
            double want = 0;
            if (r < rows) {
                for (size_t c = 0; c < cols; c++) want += W[r * cols + c] * x[c];
                if (with_bias) want += b[r];
            }
            e = fmax(e, fabs(y[s] - want));
        }
        CHECK(e < E_MV, "%zu x %zu: error %g", rows, cols, e);
    }
    he_ckks_ct_free(cx);
    he_ckks_ct_free(cy);
    he_ckks_matvec_free(mv);
    he_free(W);
}

static void test_matvec_shapes(void)
{
    matvec_case(16, 16, true);    /* square */
    matvec_case(50, 20, true);    /* tall: 32 diagonals, period 64 */
    matvec_case(10, 37, true);    /* wide: 16 diagonals, sums over 4 blocks */
    matvec_case(100, 256, false); /* wide */
    matvec_case(256, 200, true);  /* square 256 */
    matvec_case(1, 5, true);      /* one row */
    matvec_case(3, 1, false);     /* one column */
    matvec_case(512, 512, true);  /* every slot */
}

/* A matrix given by sparse diagonals (repeated offsets add up), period 64,
** against out[j] = sum_r D[r][j] x[(j + o_r) mod 64] + bias[j]. */
static void test_matvec_diagonals(void)
{
    enum { P = 64, R = 6 };
    static const int offs[R] = {0, 3, -5, 17, 3, 60};
    double D[R * P], bias[P], x[P], xs[512], y[512];
    for (int i = 0; i < R * P; i++) D[i] = urand();
    for (int i = 0; i < P; i++) {
        bias[i] = urand();
        x[i] = urand();
    }
    he_ckks_matvec *mv = he_ckks_matvec_new_diagonals(ctx, P, offs, D, R, bias);
    CHECK(mv != NULL, "%s", he_errmsg());
    if (!mv) return;
    int steps[64];
    size_t ns = he_ckks_matvec_steps(mv, false, steps, 64);
    CHECK(ns <= 8, "%zu rotation steps for 5 distinct offsets", ns);
    CHECK(he_ckks_keygen_galois(keys, steps, ns, false) == 0, "%s", he_errmsg());
    for (unsigned s = 0; s < slots; s++) xs[s] = x[s % P];
    he_ckks_ct *cx = enc(xs), *cy = he_ckks_ct_new(ctx);
    CHECK(cx && he_ckks_matvec_apply(keys, mv, cy, cx, 0, false) == 0, "%s", he_errmsg());
    if (!check_failed_ && dec(cy, y) == 0) {
        double e = 0;
        for (unsigned s = 0; s < slots; s++) {
            unsigned j = s % P;
            double want = bias[j];
            for (int r = 0; r < R; r++) want += D[r * P + j] * x[(j + (unsigned)(offs[r] + P)) % P];
            e = fmax(e, fabs(y[s] - want));
        }
        CHECK(e < E_MV, "error %g", e);
    }
    CHECK(he_ckks_matvec_new_diagonals(ctx, 48, offs, D, R, NULL) == NULL && strstr(he_errmsg(), "power of two"),
          "period 48 refused: %s", he_errmsg());
    he_ckks_ct_free(cx);
    he_ckks_ct_free(cy);
    he_ckks_matvec_free(mv);
}

static void test_matvec_refusals(void)
{
    double W[4] = {1, 2, 3, 4};
    CHECK(he_ckks_matvec_new(ctx, W, 2, 1024, NULL) == NULL && strstr(he_errmsg(), "does not fit"),
          "too wide: %s", he_errmsg());
    W[1] = NAN;
    CHECK(he_ckks_matvec_new(ctx, W, 2, 2, NULL) == NULL && strstr(he_errmsg(), "not finite"), "NaN");
    W[1] = 2;
    he_ckks_matvec *mv = he_ckks_matvec_new(ctx, W, 2, 2, NULL);
    he_ckks_keys *k2 = he_ckks_keys_new(ctx);
    double x[512] = {0};
    he_ckks_ct *cx = enc(x), *cy = he_ckks_ct_new(ctx);
    CHECK(k2 && he_ckks_keygen(k2) == 0, "%s", he_errmsg());
    CHECK(he_ckks_matvec_apply(k2, mv, cy, cx, 0, false) < 0 && strstr(he_errmsg(), "Galois key"),
          "missing keys named: %s", he_errmsg());
    CHECK(he_ckks_mod_down(ctx, cx, cx, 0) == 0, "%s", he_errmsg());
    CHECK(he_ckks_matvec_apply(keys, mv, cy, cx, 0, false) < 0 && strstr(he_errmsg(), "level"),
          "level 0 refused: %s", he_errmsg());
    he_ckks_keys_free(k2);
    he_ckks_ct_free(cx);
    he_ckks_ct_free(cy);
    he_ckks_matvec_free(mv);
}

/* The planner's shapes (no context): the same rotation steps and periods as
** the context's products, for tall, wide and sparse matrices, fresh or not;
** applying one is refused. */
static void test_matvec_plan_shapes(void)
{
    static const size_t dims[][2] = {{3, 6}, {100, 20}, {10, 100}, {64, 64}, {1, 200}};
    static double W[200 * 100];
    for (size_t i = 0; i < sizeof W / sizeof W[0]; i++) W[i] = (i % 7) ? urand() : 0.0;
    for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
        he_ckks_matvec *mv = he_ckks_matvec_new(ctx, W, dims[t][0], dims[t][1], NULL);
        he_ckks_matvec *sh = he_ckks_matvec_shape(slots, W, dims[t][0], dims[t][1]);
        CHECK(mv && sh, "%s", he_errmsg());
        if (!mv || !sh) return;
        for (int fresh = 0; fresh < 2; fresh++) {
            int a[64], b[64];
            size_t na = he_ckks_matvec_steps(mv, fresh, a, 64), nb = he_ckks_matvec_steps(sh, fresh, b, 64);
            CHECK(na == nb && memcmp(a, b, sizeof(int) * (na < 64 ? na : 64)) == 0, "%zu x %zu: steps differ",
                  dims[t][0], dims[t][1]);
        }
        CHECK(he_ckks_matvec_in_period(mv) == he_ckks_matvec_in_period(sh) &&
                  he_ckks_matvec_out_period(mv) == he_ckks_matvec_out_period(sh),
              "periods differ");
        he_ckks_matvec_free(mv);
        he_ckks_matvec_free(sh);
    }
    static const int offs[5] = {0, 3, -5, 17, 67};
    he_ckks_matvec *mv = he_ckks_matvec_new_diagonals(ctx, 64, offs, W, 5, NULL);
    he_ckks_matvec *sh = he_ckks_matvec_shape_diagonals(slots, 64, offs, W, 5);
    CHECK(mv && sh, "%s", he_errmsg());
    if (!mv || !sh) return;
    int a[64], b[64];
    size_t na = he_ckks_matvec_steps(mv, false, a, 64), nb = he_ckks_matvec_steps(sh, false, b, 64);
    CHECK(na == nb && memcmp(a, b, sizeof(int) * na) == 0, "diagonals: steps differ");
    double x[512] = {0};
    he_ckks_ct *cx = enc(x), *cy = he_ckks_ct_new(ctx);
    CHECK(cx && cy && he_ckks_matvec_apply(keys, sh, cy, cx, 0, false) < 0, "a shape applied");
    he_ckks_ct_free(cx);
    he_ckks_ct_free(cy);
    he_ckks_matvec_free(mv);
    he_ckks_matvec_free(sh);
}

/* Bit-for-bit the same ciphertexts with 1 and with 2 (and 3) threads:
** relinearization, rotation, hoisted rotations, dot, matrix-vector. */
static void test_threads_identical(void)
{
    double x[512], W[64 * 48];
    for (unsigned i = 0; i < slots; i++) x[i] = urand();
    for (size_t i = 0; i < 64 * 48; i++) W[i] = urand();
    he_ckks_matvec *mv = he_ckks_matvec_new(ctx, W, 48, 64, x);
    int steps[64];
    size_t ns = he_ckks_matvec_steps(mv, false, steps, 64);
    CHECK(he_ckks_keygen_galois(keys, steps, ns, false) == 0, "%s", he_errmsg());
    he_ckks_ct *a = enc(x), *r[3][5];
    static const unsigned counts[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        CHECK(he_ckks_set_threads(counts[t]) == 0 && he_ckks_threads() == counts[t], "set threads");
        for (int j = 0; j < 5; j++) r[t][j] = he_ckks_ct_new(ctx);
        he_ckks_ct *h[2] = {r[t][2], r[t][3]};
        const he_ckks_ct *dc[2] = {a, a};
        double w[2] = {0.5, -0.25};
        int hs[2] = {3, 100};
        CHECK(he_ckks_mul(ctx, r[t][0], a, a) == 0 && he_ckks_relin(keys, r[t][0], r[t][0]) == 0 &&
              he_ckks_rotate(keys, r[t][1], a, 5) == 0 &&
              he_ckks_rotate_hoisted(keys, h, a, hs, 2) == 0 &&
              he_ckks_dot_scalar(ctx, r[t][4], dc, w, 2, 0) == 0, "%s", he_errmsg());
        he_ckks_ct *m = he_ckks_ct_new(ctx);
        CHECK(he_ckks_matvec_apply(keys, mv, m, a, 0, false) == 0, "%s", he_errmsg());
        if (t > 0) {
            for (int j = 0; j < 5; j++)
                CHECK(same_data(r[0][j], r[t][j]), "result %d differs with %u threads", j, counts[t]);
        }
        static he_ckks_ct *m1;
        if (t == 0) m1 = m;
        else {
            CHECK(same_data(m1, m), "matrix-vector product differs with %u threads", counts[t]);
            he_ckks_ct_free(m);
        }
        if (t == 2) he_ckks_ct_free(m1);
    }
    CHECK(he_ckks_set_threads(0) < 0 && he_ckks_set_threads(CKKS_MAX_THREADS + 1) < 0, "bad counts refused");
    for (int t = 0; t < 3; t++)
        for (int j = 0; j < 5; j++) he_ckks_ct_free(r[t][j]);
    he_ckks_ct_free(a);
    he_ckks_matvec_free(mv);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 13);
    he_ckks_params p = {.n = 1024, .nprimes = 5, .bits = {50, 40, 40, 40, 50}, .scale = 0x1p40,
                        .insecure = true};
    ctx = he_ckks_ctx_new(&p);
    keys = ctx ? he_ckks_keys_new(ctx) : NULL;
    if (!keys || he_ckks_keygen(keys) < 0 || he_ckks_keygen_relin(keys) < 0 ||
        he_ckks_keygen_galois(keys, rsteps, NRS, false) < 0) {
        printf("not ok setup: %s\n", he_errmsg());
        return 0;
    }
    slots = he_ckks_ctx_slots(ctx);
    printf("# kernel %s, %u threads\n", ckks_use_ifma() ? "IFMA" : "portable", he_ckks_threads());
    RUN(test_hoisted_vs_plain);
    RUN(test_hoisted_refusals);
    RUN(test_matvec_shapes);
    RUN(test_matvec_diagonals);
    RUN(test_matvec_refusals);
    RUN(test_matvec_plan_shapes);
    RUN(test_threads_identical);
    he_ckks_keys_free(keys);
    he_ckks_ctx_free(ctx);
    return 0;
}
