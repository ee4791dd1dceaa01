/*
** test_ivhe.c: Integer Vector HE against plaintext on random inputs.
**
** Error bounds checked (see ivhe.h):
**   - a key switch changes S c by E c*, |E c*|_r <= e_bound * (set bits of c);
**   - fresh encryptions, additions, integer multiples, linear
**     transformations and products with d = 1 decrypt exactly;
**   - a product divided by d (fixed point) decrypts to the real quotient
**     rounded, within 1 of round(x y / d) (ties and the carried fraction);
**   - the polynomial sigmoid is within 3 / scale of the same polynomial in
**     double precision for |x| <= 2 (fixed-point rounding of each power).
*/
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "he.h"
#include "ivhe/ivhe.h"

#define MAXD 6

static he_ivhe_key *K;
static he_ivhe_params P;
static he_prng G;

static int64_t rnd(int64_t bound) /* uniform in [-bound, bound] */
{
    return (int64_t)(he_prng_u64(&G) % (uint64_t)(2 * bound + 1)) - bound;
}

static void rvec(int64_t *x, unsigned n, int64_t bound)
{
    for (unsigned i = 0; i < n; i++) x[i] = rnd(bound);
}

static he_ivhe_ct *enc(const int64_t *x, unsigned n)
{
    he_ivhe_ct *c = he_ivhe_ct_new(n);
    if (!c || he_ivhe_encrypt_i64(K, c, x, n) < 0) {
        printf("# encrypt: %s\n", he_errmsg());
        exit(1);
    }
    return c;
}

static int dec(const he_ivhe_ct *c, int64_t *x)
{
    if (he_ivhe_decrypt_i64(K, c, x) < 0) {
        printf("# decrypt: %s\n", he_errmsg());
        return -1;
    }
    return 0;
}

/* rounds p / d to nearest (ties up), as the fixed-point ops carry it */
static int64_t rdiv(int64_t p, int64_t d)
{
    double q = floor((double)p / (double)d + 0.5);
    return (int64_t)q;
}

static void test_warning_and_params(void)
{
    const char *w = he_ivhe_warning();
    CHECK(w && strstr(w, "not secure") && strstr(w, "2016/775"), "warning: %s", w ? w : "(null)");
    CHECK(strchr(w, '\n') == NULL, "warning must be one line");
    he_ivhe_params p;
    he_ivhe_params_default(&p);
    CHECK(p.w == ((uint64_t)1 << 25) && p.l == 100 && p.a_bound == 10 && p.t_bound == 10 && p.e_bound == 10 &&
              p.scale == 1000 && p.max_dim == 10,
          "defaults differ from the tutorial's");
    p.e_bound = 0;
    CHECK(he_ivhe_params_check(&p) < 0, "zero noise accepted");
    CHECK(he_ivhe_key_new(&p) == NULL, "key with zero noise created");
    he_ivhe_params_default(&p);
    p.max_dim = 0;
    CHECK(he_ivhe_params_check(&p) < 0, "max_dim 0 accepted");
}

static void test_encrypt_decrypt(void)
{
    for (unsigned m = 1; m <= MAXD; m++)
        for (int rep = 0; rep < 5; rep++) {
            int64_t x[MAXD], y[MAXD];
            rvec(x, m, (int64_t)1 << 40);
            he_ivhe_ct *c = enc(x, m);
            CHECK(dec(c, y) == 0 && memcmp(x, y, m * sizeof *x) == 0, "dim %u: decrypt differs", m);
            double nz;
            CHECK(he_ivhe_noise(K, c, &nz) == 0, "noise: %s", he_errmsg());
            /* fresh noise: |E c*| <= e_bound * (bits of w x and the pad) */
            double bound = (double)P.e_bound * ((double)m * 66 + P.l);
            CHECK(nz <= bound, "dim %u: noise %g above %g", m, nz, bound);
            double xf[MAXD], yf[MAXD];
            for (unsigned i = 0; i < m; i++) xf[i] = (double)rnd(5000) / 1000.0;
            CHECK(he_ivhe_encrypt_fixed(K, c, xf, m) == 0, "encrypt_fixed: %s", he_errmsg());
            CHECK(he_ivhe_decrypt_fixed(K, c, yf) == 0, "decrypt_fixed");
            for (unsigned i = 0; i < m; i++) CHECK(fabs(xf[i] - yf[i]) < 1e-9, "fixed %g vs %g", xf[i], yf[i]);
            he_ivhe_ct_free(c);
        }
}

static void test_noise_nonzero(void)
{
    int64_t zero[4] = {0, 0, 0, 0};
    int nonzero_noise = 0, nonzero_ct = 1, differ = 0;
    he_ivhe_ct *prev = NULL;
    for (int rep = 0; rep < 20; rep++) {
        he_ivhe_ct *c = enc(zero, 4);
        double nz = 0;
        CHECK(he_ivhe_noise(K, c, &nz) == 0, "noise");
        if (nz > 0) nonzero_noise++;
        if (he_ivhe_ct_bits(c) == 0) nonzero_ct = 0;
        if (prev && mpz_cmp(prev->c[0], c->c[0]) != 0) differ = 1;
        int64_t y[4];
        CHECK(dec(c, y) == 0 && !y[0] && !y[1] && !y[2] && !y[3], "zero does not decrypt to zero");
        he_ivhe_ct_free(prev);
        prev = c;
    }
    he_ivhe_ct_free(prev);
    CHECK(nonzero_noise >= 15, "noise is zero in %d of 20 encryptions", 20 - nonzero_noise);
    CHECK(nonzero_ct, "an encryption of zero is the zero vector");
    CHECK(differ, "encryption is deterministic");
}

static void test_linear_ops(void)
{
    for (unsigned m = 1; m <= MAXD; m++) {
        int64_t a[MAXD], b[MAXD], r[MAXD], p[MAXD];
        rvec(a, m, 1 << 20);
        rvec(b, m, 1 << 20);
        rvec(p, m, 1 << 20);
        he_ivhe_ct *ca = enc(a, m), *cb = enc(b, m), *o = he_ivhe_ct_new(1);
        CHECK(he_ivhe_add(o, ca, cb) == 0 && dec(o, r) == 0, "add");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] + b[i], "add slot %u", i);
        CHECK(he_ivhe_sub(o, ca, cb) == 0 && dec(o, r) == 0, "sub");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] - b[i], "sub slot %u", i);
        CHECK(he_ivhe_neg(o, ca) == 0 && dec(o, r) == 0, "neg");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == -a[i], "neg slot %u", i);
        int64_t s = rnd(1000);
        CHECK(he_ivhe_mul_si(o, ca, s) == 0 && dec(o, r) == 0, "mul_si");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] * s, "mul_si slot %u", i);
        CHECK(he_ivhe_mul_frac(o, ca, 15, 1000) == 0 && dec(o, r) == 0, "mul_frac");
        for (unsigned i = 0; i < m; i++)
            CHECK(llabs(r[i] - rdiv(a[i] * 15, 1000)) <= 1, "mul_frac slot %u: %lld vs %lld", i,
                  (long long)r[i], (long long)rdiv(a[i] * 15, 1000));
        CHECK(he_ivhe_add_plain(K, o, ca, p) == 0 && dec(o, r) == 0, "add_plain");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] + p[i], "add_plain slot %u", i);
        CHECK(he_ivhe_add_scalar(K, o, ca, -7) == 0 && dec(o, r) == 0, "add_scalar");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] - 7, "add_scalar slot %u", i);
        /* aliasing: out = a */
        CHECK(he_ivhe_add(ca, ca, cb) == 0 && dec(ca, r) == 0, "add aliased");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] + b[i], "add aliased slot %u", i);
        /* lincomb: plain vector times encrypted rows, mean of 3 */
        const he_ivhe_ct *rows[3] = {ca, cb, cb};
        int64_t coef[3] = {1, 2, -1};
        CHECK(he_ivhe_lincomb(o, rows, coef, 3, 3) == 0 && dec(o, r) == 0, "lincomb");
        for (unsigned i = 0; i < m; i++)
            CHECK(llabs(r[i] - rdiv(a[i] + b[i] + b[i], 3)) <= 1, "lincomb slot %u", i);
        he_ivhe_ct_free(ca);
        he_ivhe_ct_free(cb);
        he_ivhe_ct_free(o);
    }
}

static void test_helpers(void)
{
    he_ivhe_ct *c = he_ivhe_ct_new(1);
    int64_t r[MAXD];
    for (unsigned m = 1; m <= MAXD; m++) {
        CHECK(he_ivhe_ones(K, c, m, 1000) == 0 && dec(c, r) == 0, "ones");
        for (unsigned i = 0; i < m; i++) CHECK(r[i] == 1000, "ones slot %u", i);
        for (unsigned j = 0; j < m; j++) {
            CHECK(he_ivhe_onehot(K, c, m, j, 1000) == 0 && dec(c, r) == 0, "onehot");
            for (unsigned i = 0; i < m; i++) CHECK(r[i] == (i == j ? 1000 : 0), "onehot %u slot %u", j, i);
        }
    }
    CHECK(he_ivhe_onehot(K, c, 3, 3, 1) < 0, "one-hot index out of range accepted");
    he_ivhe_ct_free(c);
}

/* exact |E c*| bound for switching src */
static double switch_bound(const mpz_t *src, unsigned n)
{
    double bits = 0;
    mpz_t a;
    mpz_init(a);
    for (unsigned i = 0; i < n; i++) {
        mpz_abs(a, src[i]);
        bits += (double)mpz_popcount(a);
    }
    mpz_clear(a);
    return bits * P.e_bound;
}

static void test_key_switching(void)
{
    /* from a random source key S' (m x n) to S_m, several shapes */
    static const unsigned shapes[][2] = {{1, 1}, {1, 4}, {2, 3}, {3, 7}, {4, 4}, {5, 11}, {6, 13}};
    int any_noise = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        unsigned m = shapes[s][0], n = shapes[s][1];
        mpz_t Ssrc[6 * 13], src[13], Sm[6 * 7], want, got;
        for (unsigned i = 0; i < m * n; i++) mpz_init_set_si(Ssrc[i], (long)rnd(1000));
        for (unsigned i = 0; i < n; i++) {
            mpz_init(src[i]);
            mpz_set_si(src[i], (long)rnd((int64_t)1 << 60));
            mpz_mul_2exp(src[i], src[i], 30); /* ~90-bit entries, below 2^l */
        }
        for (unsigned i = 0; i < m * (m + 1); i++) mpz_init(Sm[i]);
        mpz_init(want);
        mpz_init(got);
        he_ivhe_ksk *M = he_ivhe_ksk_new(K, (const mpz_t *)Ssrc, m, n);
        he_ivhe_ct *out = he_ivhe_ct_new(1);
        CHECK(M != NULL, "ksk_new %ux%u: %s", m, n, he_errmsg());
        if (M) {
            CHECK(he_ivhe_ksk_apply(M, out, (const mpz_t *)src, n) == 0, "apply: %s", he_errmsg());
            CHECK(out->dim == m, "switched dimension %u, want %u", out->dim, m);
            CHECK(he_ivhe_secret(K, m, Sm) == 0, "secret");
            double bound = switch_bound((const mpz_t *)src, n);
            for (unsigned r = 0; r < m; r++) {
                mpz_set_ui(want, 0);
                for (unsigned i = 0; i < n; i++) mpz_addmul(want, Ssrc[r * n + i], src[i]);
                mpz_set_ui(got, 0);
                for (unsigned i = 0; i <= m; i++) mpz_addmul(got, Sm[r * (m + 1) + i], out->c[i]);
                mpz_sub(got, got, want);
                double e = fabs(mpz_get_d(got));
                if (e > 0) any_noise = 1;
                CHECK(e <= bound, "shape %ux%u row %u: |S c' - S' c| = %g above %g", m, n, r, e, bound);
            }
            CHECK(he_ivhe_ksk_apply(M, out, (const mpz_t *)src, n + 1) < 0, "wrong length accepted");
        }
        he_ivhe_ksk_free(M);
        he_ivhe_ct_free(out);
        for (unsigned i = 0; i < m * n; i++) mpz_clear(Ssrc[i]);
        for (unsigned i = 0; i < n; i++) mpz_clear(src[i]);
        for (unsigned i = 0; i < m * (m + 1); i++) mpz_clear(Sm[i]);
        mpz_clear(want);
        mpz_clear(got);
    }
    CHECK(any_noise, "key switching added no noise");
}

static void test_linear_transform(void)
{
    for (unsigned rows = 1; rows <= MAXD; rows += 2)
        for (unsigned m = 1; m <= MAXD; m++) {
            mpz_t Gm[MAXD * MAXD];
            int64_t g[MAXD * MAXD], x[MAXD], r[MAXD];
            for (unsigned i = 0; i < rows * m; i++) {
                g[i] = rnd(100);
                mpz_init_set_si(Gm[i], (long)g[i]);
            }
            rvec(x, m, 1 << 20);
            he_ivhe_ksk *M = he_ivhe_lintrans_key(K, (const mpz_t *)Gm, rows, m);
            he_ivhe_ct *c = enc(x, m);
            CHECK(M && he_ivhe_lintrans(M, c, c) == 0 && dec(c, r) == 0, "lintrans %ux%u: %s", rows, m,
                  he_errmsg());
            CHECK(c->dim == rows, "lintrans dimension");
            for (unsigned i = 0; i < rows; i++) {
                int64_t want = 0;
                for (unsigned j = 0; j < m; j++) want += g[i * m + j] * x[j];
                CHECK(r[i] == want, "lintrans %ux%u slot %u: %lld vs %lld", rows, m, i, (long long)r[i],
                      (long long)want);
            }
            he_ivhe_ksk_free(M);
            he_ivhe_ct_free(c);
            for (unsigned i = 0; i < rows * m; i++) mpz_clear(Gm[i]);
        }
}

static void test_weighted_inner(void)
{
    for (unsigned m = 1; m <= MAXD; m++) {
        mpz_t Hm[MAXD * MAXD];
        int64_t h[MAXD * MAXD], a[MAXD], b[MAXD], r[1];
        for (unsigned i = 0; i < m * m; i++) {
            h[i] = rnd(10);
            mpz_init_set_si(Hm[i], (long)h[i]);
        }
        rvec(a, m, 3000);
        rvec(b, m, 3000);
        he_ivhe_ksk *M = he_ivhe_weighted_inner_key(K, (const mpz_t *)Hm, m);
        he_ivhe_ct *ca = enc(a, m), *cb = enc(b, m), *o = he_ivhe_ct_new(1);
        int64_t want = 0;
        for (unsigned i = 0; i < m; i++)
            for (unsigned j = 0; j < m; j++) want += a[i] * h[i * m + j] * b[j];
        CHECK(M && he_ivhe_weighted_inner(K, M, o, ca, cb, 1) == 0 && dec(o, r) == 0, "weighted inner: %s",
              he_errmsg());
        CHECK(o->dim == 1 && r[0] == want, "dim %u: x'Hy %lld vs %lld", m, (long long)r[0], (long long)want);
        CHECK(he_ivhe_weighted_inner(K, M, o, ca, cb, 1000) == 0 && dec(o, r) == 0, "weighted inner / 1000");
        CHECK(llabs(r[0] - rdiv(want, 1000)) <= 1, "dim %u: x'Hy/1000 %lld vs %lld", m, (long long)r[0],
              (long long)rdiv(want, 1000));
        he_ivhe_ksk_free(M);
        he_ivhe_ct_free(ca);
        he_ivhe_ct_free(cb);
        he_ivhe_ct_free(o);
        for (unsigned i = 0; i < m * m; i++) mpz_clear(Hm[i]);
    }
}

static void test_products(void)
{
    for (unsigned m = 1; m <= MAXD; m++)
        for (int rep = 0; rep < 3; rep++) {
            int64_t a[MAXD], b[MAXD], r[MAXD], s[1];
            rvec(a, m, 5000);
            rvec(b, m, 5000);
            s[0] = rnd(5000);
            he_ivhe_ct *ca = enc(a, m), *cb = enc(b, m), *cs = enc(s, 1), *o = he_ivhe_ct_new(1);
            for (int64_t d = 1; d <= 1000; d *= 1000) {
                int64_t ip = 0;
                for (unsigned i = 0; i < m; i++) ip += a[i] * b[i];
                CHECK(he_ivhe_inner(K, o, ca, cb, d) == 0 && dec(o, r) == 0 && o->dim == 1, "inner");
                CHECK(llabs(r[0] - rdiv(ip, d)) <= (d > 1), "inner dim %u d %lld: %lld vs %lld", m,
                      (long long)d, (long long)r[0], (long long)rdiv(ip, d));
                CHECK(he_ivhe_mul_elem(K, o, ca, cb, d) == 0 && dec(o, r) == 0 && o->dim == m, "mul_elem");
                for (unsigned i = 0; i < m; i++)
                    CHECK(llabs(r[i] - rdiv(a[i] * b[i], d)) <= (d > 1), "elem dim %u slot %u", m, i);
                CHECK(he_ivhe_mul_scalar(K, o, cs, cb, d) == 0 && dec(o, r) == 0 && o->dim == m, "mul_scalar");
                for (unsigned i = 0; i < m; i++)
                    CHECK(llabs(r[i] - rdiv(s[0] * b[i], d)) <= (d > 1), "scalar dim %u slot %u", m, i);
            }
            /* output aliasing an input */
            CHECK(he_ivhe_mul_elem(K, ca, ca, cb, 1) == 0 && dec(ca, r) == 0, "elem aliased");
            for (unsigned i = 0; i < m; i++) CHECK(r[i] == a[i] * b[i], "elem aliased slot %u", i);
            for (unsigned j = 0; j < m; j++) {
                CHECK(he_ivhe_extract(K, o, cb, j) == 0 && dec(o, r) == 0 && o->dim == 1, "extract");
                CHECK(r[0] == b[j], "extract %u: %lld vs %lld", j, (long long)r[0], (long long)b[j]);
            }
            int64_t sum = 0;
            for (unsigned i = 0; i < m; i++) sum += b[i];
            CHECK(he_ivhe_sum(K, o, cb) == 0 && dec(o, r) == 0 && o->dim == 1 && r[0] == sum, "sum of slots");
            CHECK(he_ivhe_mul_elem(K, o, cs, cb, 1) < 0 || m == 1, "dimension mismatch accepted");
            he_ivhe_ct_free(ca);
            he_ivhe_ct_free(cb);
            he_ivhe_ct_free(cs);
            he_ivhe_ct_free(o);
        }
}

static void test_matrix_ops(void)
{
    for (unsigned rows = 1; rows <= MAXD; rows++)
        for (unsigned cols = 1; cols <= MAXD; cols += 2) {
            int64_t w[MAXD][MAXD], x[MAXD], r[MAXD];
            he_ivhe_ct *W[MAXD], *T[MAXD], *O[MAXD];
            for (unsigned i = 0; i < rows; i++) {
                rvec(w[i], cols, 4000);
                W[i] = enc(w[i], cols);
                O[i] = he_ivhe_ct_new(1);
            }
            for (unsigned j = 0; j < cols; j++) T[j] = he_ivhe_ct_new(1);
            rvec(x, cols, 4000);
            he_ivhe_ct *cx = enc(x, cols), *o = he_ivhe_ct_new(1);
            CHECK(he_ivhe_matvec(K, o, (const he_ivhe_ct *const *)W, rows, cx, 1) == 0 && dec(o, r) == 0,
                  "matvec: %s", he_errmsg());
            CHECK(o->dim == rows, "matvec dimension");
            for (unsigned i = 0; i < rows; i++) {
                int64_t want = 0;
                for (unsigned j = 0; j < cols; j++) want += w[i][j] * x[j];
                CHECK(r[i] == want, "matvec %ux%u slot %u", rows, cols, i);
            }
            CHECK(he_ivhe_transpose(K, T, (const he_ivhe_ct *const *)W, rows, cols) == 0, "transpose: %s",
                  he_errmsg());
            for (unsigned j = 0; j < cols; j++) {
                CHECK(T[j]->dim == rows && dec(T[j], r) == 0, "transpose column %u", j);
                for (unsigned i = 0; i < rows; i++) CHECK(r[i] == w[i][j], "transpose (%u,%u)", i, j);
            }
            /* outer product x_r (rows) times x (cols) */
            int64_t u[MAXD];
            rvec(u, rows, 4000);
            he_ivhe_ct *cu = enc(u, rows);
            CHECK(he_ivhe_outer(K, O, cu, cx, 1000) == 0, "outer: %s", he_errmsg());
            for (unsigned i = 0; i < rows; i++) {
                CHECK(O[i]->dim == cols && dec(O[i], r) == 0, "outer row %u", i);
                for (unsigned j = 0; j < cols; j++)
                    CHECK(llabs(r[j] - rdiv(u[i] * x[j], 1000)) <= 1, "outer (%u,%u)", i, j);
            }
            for (unsigned i = 0; i < rows; i++) {
                he_ivhe_ct_free(W[i]);
                he_ivhe_ct_free(O[i]);
            }
            for (unsigned j = 0; j < cols; j++) he_ivhe_ct_free(T[j]);
            he_ivhe_ct_free(cx);
            he_ivhe_ct_free(cu);
            he_ivhe_ct_free(o);
        }
}

static double taylor_sigmoid(double x)
{
    double s = 0, p = 1;
    for (int i = 0; i < 8; i++, p *= x) s += he_ivhe_sigmoid_coef[i] * p;
    return s;
}

static void test_poly_sigmoid(void)
{
    for (unsigned m = 1; m <= MAXD; m++) {
        double x[MAXD], y[MAXD];
        for (unsigned i = 0; i < m; i++) x[i] = (double)rnd(2000) / 1000.0;
        he_ivhe_ct *c = he_ivhe_ct_new(m), *o = he_ivhe_ct_new(1);
        CHECK(he_ivhe_encrypt_fixed(K, c, x, m) == 0, "encrypt");
        CHECK(he_ivhe_sigmoid(K, o, c) == 0 && he_ivhe_decrypt_fixed(K, o, y) == 0, "sigmoid: %s", he_errmsg());
        for (unsigned i = 0; i < m; i++)
            CHECK(fabs(y[i] - taylor_sigmoid(x[i])) <= 3e-3, "sigmoid(%g) = %g, want %g", x[i], y[i],
                  taylor_sigmoid(x[i]));
        /* any polynomial: 1 - 2x + 0.5 x^2 + 0.25 x^4, in place */
        double coef[5] = {1.0, -2.0, 0.5, 0.0, 0.25};
        CHECK(he_ivhe_poly(K, c, c, coef, 4) == 0 && he_ivhe_decrypt_fixed(K, c, y) == 0, "poly");
        for (unsigned i = 0; i < m; i++) {
            double want = 1 - 2 * x[i] + 0.5 * x[i] * x[i] + 0.25 * pow(x[i], 4);
            CHECK(fabs(y[i] - want) <= 3e-3, "poly(%g) = %g, want %g", x[i], y[i], want);
        }
        he_ivhe_ct_free(c);
        he_ivhe_ct_free(o);
    }
}

static void test_noise_chain(void)
{
    /* 30 fixed-point products in a row stay exact within the stated bound */
    double x[4] = {0.9, -1.1, 1.05, 0.5}, y[4], v[4];
    memcpy(v, x, sizeof v);
    he_ivhe_ct *c = he_ivhe_ct_new(4), *d = he_ivhe_ct_new(4);
    CHECK(he_ivhe_encrypt_fixed(K, c, x, 4) == 0 && he_ivhe_encrypt_fixed(K, d, x, 4) == 0, "encrypt");
    for (int i = 0; i < 30; i++) {
        CHECK(he_ivhe_mul_elem(K, c, c, d, 1000) == 0, "chain product %d: %s", i, he_errmsg());
        for (int j = 0; j < 4; j++) v[j] *= x[j];
    }
    CHECK(he_ivhe_decrypt_fixed(K, c, y) == 0, "decrypt");
    for (int j = 0; j < 4; j++) CHECK(fabs(y[j] - v[j]) <= 0.03 * fabs(v[j]) + 0.002, "chain %g vs %g", y[j], v[j]);
    /* integer products (nothing carried below w): the noise stays far
    ** below w / 2 after 30 products of +-1 values */
    int64_t one[4] = {1, -1, 1, -1}, r[4];
    he_ivhe_ct *e = enc(one, 4);
    CHECK(he_ivhe_ct_copy(d, e) == 0, "copy");
    for (int i = 0; i < 30; i++) CHECK(he_ivhe_mul_elem(K, d, d, e, 1) == 0, "product %d", i);
    double nz;
    CHECK(dec(d, r) == 0 && memcmp(r, one, sizeof r) == 0, "(+-1)^31 wrong");
    CHECK(he_ivhe_noise(K, d, &nz) == 0 && nz > 0 && nz < (double)P.w / 64, "noise %g after 30 products", nz);
    he_ivhe_ct_free(e);
    he_ivhe_ct_free(c);
    he_ivhe_ct_free(d);
}

static void test_errors(void)
{
    he_ivhe_ct *c = he_ivhe_ct_new(1);
    int64_t x[MAXD + 1] = {0};
    CHECK(he_ivhe_encrypt_i64(K, c, x, MAXD + 1) < 0, "dimension above max_dim accepted");
    he_ivhe_params p = P;
    p.l = 40;
    p.max_dim = 2;
    he_ivhe_key *k2 = he_ivhe_key_new(&p);
    int64_t big[2] = {(int64_t)1 << 20, 1};
    CHECK(k2 && he_ivhe_encrypt_i64(k2, c, big, 2) < 0 && strstr(he_errmsg(), "l ="),
          "entry above 2^l accepted: %s", he_errmsg());
    he_ivhe_key_free(k2);
    he_ivhe_ct_free(c);
}

/* Keys and ciphertexts to files and back: random vectors of every
** dimension (entries in [-2^40, 2^40], negative ciphertext entries
** included) decrypt the same under the loaded key; a product computed by
** the loaded key decrypts right; a flipped byte, another key's file, a
** count of zero and a mode other than 0600 for the key fail the case. */
static void test_files(void)
{
    char dir[512], kp[600], cp[600];
    if (!check_tmpdir(dir, sizeof dir, "ivhe_files")) {
        CHECK(0, "no folder");
        return;
    }
    snprintf(kp, sizeof kp, "%s/k.key", dir);
    snprintf(cp, sizeof cp, "%s/c.ct", dir);
    CHECK(he_ivhe_key_save(K, kp) == 0, "key_save: %s", he_errmsg());
    struct stat st;
    CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600, "key mode %o", (unsigned)(st.st_mode & 0777));
    he_ivhe_key *L = he_ivhe_key_load(kp);
    CHECK(L != NULL, "key_load: %s", he_errmsg());
    if (!L) return;
    CHECK(he_ivhe_same_key(K, L) == 1, "a loaded key is the same key");
    for (unsigned m = 1; m <= MAXD; m++) {
        int64_t x[MAXD], y[MAXD];
        he_ivhe_ct *c[3];
        for (int i = 0; i < 3; i++) {
            rvec(x, m, (int64_t)1 << 40);
            c[i] = enc(x, m);
        }
        CHECK(he_ivhe_ctv_save(K, (const he_ivhe_ct *const *)c, 3, 7, cp) == 0, "ctv_save: %s", he_errmsg());
        he_ivhe_ct **back = NULL;
        unsigned n = 0;
        uint32_t tag = 0;
        CHECK(he_ivhe_ctv_load(L, cp, &back, &n, &tag) == 0 && n == 3 && tag == 7, "ctv_load: %s", he_errmsg());
        for (unsigned i = 0; back && i < n; i++) {
            CHECK(back[i]->dim == m, "dimension %u, want %u", back[i]->dim, m);
            for (unsigned j = 0; j <= m; j++) CHECK(mpz_cmp(back[i]->c[j], c[i]->c[j]) == 0, "entry %u differs", j);
            CHECK(he_ivhe_decrypt_i64(L, back[i], y) == 0 && he_ivhe_decrypt_i64(K, c[i], x) == 0 &&
                      memcmp(x, y, m * sizeof *x) == 0, "dim %u: decryption under the loaded key differs", m);
        }
        /* the loaded key makes its own switching matrices: a product */
        if (back && n == 3) {
            int64_t a[MAXD], b[MAXD], want = 0, got[1];
            for (unsigned j = 0; j < m; j++) a[j] = rnd(1000), b[j] = rnd(1000), want += a[j] * b[j];
            he_ivhe_ct *ca = enc(a, m), *cb = enc(b, m), *r = he_ivhe_ct_new(1);
            CHECK(he_ivhe_inner(L, r, ca, cb, 1) == 0 && he_ivhe_decrypt_i64(K, r, got) == 0 && got[0] == want,
                  "inner under the loaded key: %lld, want %lld", (long long)got[0], (long long)want);
            he_ivhe_ct_free(ca), he_ivhe_ct_free(cb), he_ivhe_ct_free(r);
        }
        for (unsigned i = 0; back && i < n; i++) he_ivhe_ct_free(back[i]);
        he_free(back);
        for (int i = 0; i < 3; i++) he_ivhe_ct_free(c[i]);
    }
    /* refused: a flipped byte, another key, nothing to save */
    FILE *f = fopen(cp, "r+b");
    if (f) {
        fseek(f, 40, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 40, SEEK_SET);
        fputc(ch ^ 0x10, f);
        fclose(f);
    }
    he_ivhe_ct **back = NULL;
    unsigned n = 0;
    uint32_t tag = 0;
    CHECK(he_ivhe_ctv_load(L, cp, &back, &n, &tag) < 0 && strstr(he_errmsg(), "checksum"), "damaged: %s", he_errmsg());
    he_ivhe_key *O = he_ivhe_key_new(&P);
    int64_t x[2] = {1, 2};
    he_ivhe_ct *c = enc(x, 2);
    CHECK(he_ivhe_ctv_save(O, (const he_ivhe_ct *const *)&c, 1, 0, cp) == 0, "save: %s", he_errmsg());
    CHECK(he_ivhe_ctv_load(L, cp, &back, &n, &tag) < 0 && strstr(he_errmsg(), "another key"), "other key: %s", he_errmsg());
    CHECK(he_ivhe_same_key(K, O) == 0, "two keys are not the same");
    CHECK(he_ivhe_ctv_save(K, NULL, 0, 0, cp) < 0, "nothing to save");
    he_ivhe_ct_free(c);
    he_ivhe_key_free(O);
    he_ivhe_key_free(L);
    remove(kp);
    remove(cp);
    rmdir(dir);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&G, 20170317);
    he_ivhe_params_default(&P);
    P.max_dim = MAXD;
    K = he_ivhe_key_new(&P);
    if (!K) {
        printf("# key: %s\n", he_errmsg());
        return 1;
    }
    printf("# %s\n", he_ivhe_warning());
    RUN(test_warning_and_params);
    RUN(test_encrypt_decrypt);
    RUN(test_noise_nonzero);
    RUN(test_linear_ops);
    RUN(test_helpers);
    RUN(test_key_switching);
    RUN(test_linear_transform);
    RUN(test_weighted_inner);
    RUN(test_products);
    RUN(test_matrix_ops);
    RUN(test_poly_sigmoid);
    RUN(test_noise_chain);
    RUN(test_errors);
    RUN(test_files);
    he_ivhe_key_free(K);
    return 0;
}
