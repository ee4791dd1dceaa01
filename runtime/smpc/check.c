/*
** check.c: the overflow checks of simulated runs.
**
** A share holds its value modulo the ring: in Z_2^64 a result that leaves
** the ring wraps silently, and a fixed-point product beyond the truncation's
** bound or a comparison of values too far apart gives garbage. In SIM mode
** every party's shares are in this process, so each operation that can
** leave the ring reconstructs its operands, computes the exact result in
** 128-bit (or GMP) arithmetic and stops with an error that names the
** operation, the value and the bound. NET mode cannot see the values: the
** checks are skipped there (no communication is added, nothing is slower).
**
** Exact ranges (raw = the value times 2^f, f the fractional bits):
**   Z_2^64, fixed (f > 0)   every value |raw| < 2^62; a product before its
**                           truncation (and a sum of products) |raw| < 2^62
**   Z_2^64, int (f = 0)     every value in int64 (like int)
**   comparisons (Z_2^64)    the difference a - b in [-2^63, 2^63) raw
**   Z_p                     the centred value in [floor(p/2) - p + 1,
**                           floor(p/2)], and in int64 (to be revealed)
** Z_2^64 is exact modulo 2^64, so only the final value of a sum matters,
** never its partial sums.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "smpc/smpc_int.h"

#define P62 ((i128)1 << 62)

/* Z_p: the centred values, floor(p/2) - p + 1 .. floor(p/2). */
static void zp_range(const he_smpc_ctx *ctx, mpz_t lo, mpz_t hi)
{
    mpz_fdiv_q_2exp(hi, ctx->p, 1);
    mpz_sub(lo, hi, ctx->p);
    mpz_add_ui(lo, lo, 1);
}

/* The range of the exact raw results of `what` at fractional bits frac
** (Z_p: clamped to int64, for int64 inputs). */
static void range_of(const he_smpc_ctx *ctx, ov_what what, int frac, i128 *lo, i128 *hi)
{
    if (ctx->ring == HE_SMPC_ZP) {
        mpz_t h, l;
        mpz_init(h);
        mpz_init(l);
        zp_range(ctx, l, h);
        *hi = mpz_fits_slong_p(h) ? (i128)mpz_get_si(h) : (i128)INT64_MAX;
        *lo = mpz_fits_slong_p(l) ? (i128)mpz_get_si(l) : (i128)INT64_MIN;
        mpz_clear(h);
        mpz_clear(l);
    } else if (what == OV_PRODUCT || (what == OV_VALUE && frac > 0)) {
        *lo = -P62 + 1;
        *hi = P62 - 1;
    } else {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
    }
}

static void mpz_set_i128(mpz_t z, i128 v)
{
    mpz_set_si(z, (long)(int64_t)(v >> 64));
    mpz_mul_2exp(z, z, 64);
    mpz_add_ui(z, z, (unsigned long)(uint64_t)v);
}

/* The value of a raw result at `scale` fractional bits, as text. */
static void value_str(char *buf, size_t cap, const mpz_t raw, int scale)
{
    if (scale == 0) {
        if (mpz_sizeinbase(raw, 10) < cap - 2) {
            mpz_get_str(buf, 10, raw);
            return;
        }
        snprintf(buf, cap, "%.6g", mpz_get_d(raw));
        return;
    }
    long e;
    double m = mpz_get_d_2exp(&e, raw);
    snprintf(buf, cap, "%.15g", ldexp(m, (int)(e - scale)));
}

static int fail(const he_smpc_ctx *ctx, const char *op, const char *noun, ov_what what, int scale, const mpz_t raw,
                size_t idx, size_t N)
{
    char v[96], at[48] = "";
    value_str(v, sizeof v, raw, scale);
    if (N > 1) snprintf(at, sizeof at, " (element %zu)", idx);
    if (ctx->ring == HE_SMPC_ZP) {
        char l[96], h[96], *p = mpz_get_str(NULL, 10, ctx->p);
        mpz_t zl, zh;
        mpz_init(zl);
        mpz_init(zh);
        zp_range(ctx, zl, zh);
        value_str(l, sizeof l, zl, scale);
        value_str(h, sizeof h, zh, scale);
        mpz_clear(zl);
        mpz_clear(zh);
        he_error("smpc: %s overflows: %s %s%s is outside Z_p's range %s .. %s (p = %.60s%s)", op, noun, v, at, l, h,
                 p ? p : "?", scale ? ", fixed point" : "");
        void (*freefn)(void *, size_t);
        mp_get_memory_functions(NULL, NULL, &freefn);
        if (p) freefn(p, strlen(p) + 1);
        return -1;
    }
    switch (what) {
    case OV_DIFF:
        if (scale == 0)
            return he_error("smpc: %s overflows: %s %s%s is outside -2^63 .. 2^63-1 (a comparison takes the sign of "
                            "a - b in Z_2^64)", op, noun, v, at);
        return he_error("smpc: %s overflows: %s %s%s is outside -2^%d <= a - b < 2^%d = %.15g (a comparison takes the "
                        "sign of a - b in Z_2^64: %d fractional bits)", op, noun, v, at, 63 - scale, 63 - scale,
                        ldexp(1, 63 - scale), scale);
    case OV_PRODUCT:
        return he_error("smpc: %s overflows: %s %s%s is outside %s < 2^%d = %.15g (before its truncation a "
                        "fixed-point product has %d fractional bits and must stay below 2^62 in Z_2^64)", op, noun, v, at,
                        strstr(noun, "sum") ? "|sum of x*y|" : "|x*y|", 62 - scale, ldexp(1, 62 - scale), scale);
    default:
        if (scale == 0)
            return he_error("smpc: %s overflows: %s %s%s is outside the int range -2^63 .. 2^63-1 (an int share "
                            "overflows like an int)", op, noun, v, at);
        return he_error("smpc: %s overflows: %s %s%s is outside the fixed-point range |x| < 2^%d = %.15g (%d "
                        "fractional bits in Z_2^64)", op, noun, v, at, 62 - scale, ldexp(1, 62 - scale), scale);
    }
}

int ov_fail(const he_smpc_ctx *ctx, const char *op, const char *noun, ov_what what, int scale, i128 raw, size_t idx,
            size_t N)
{
    mpz_t z;
    mpz_init(z);
    mpz_set_i128(z, raw);
    fail(ctx, op, noun, what, scale, z, idx, N);
    mpz_clear(z);
    return -1;
}

int ov_input(const he_smpc_ctx *ctx, const int64_t *vals, size_t N, int frac)
{
    i128 lo, hi;
    range_of(ctx, OV_VALUE, frac, &lo, &hi);
    for (size_t i = 0; i < N; i++)
        if (HE_UNLIKELY(vals[i] < lo || vals[i] > hi))
            return ov_fail(ctx, "input", "the value", OV_VALUE, frac, vals[i], i, N);
    return 0;
}

int64_t *ov_open_u64(const he_smpc_ctx *ctx, uint64_t *const *x, size_t N)
{
    int64_t *v = he_malloc((N ? N : 1) * 8);
    if (!v) return NULL;
    for (size_t i = 0; i < N; i++) {
        uint64_t s = 0;
        for (int lp = 0; lp < ctx->nloc; lp++) s += x[lp][i];
        v[i] = (int64_t)s;
    }
    return v;
}

int64_t *ov_open(const he_smpc_ctx *ctx, const he_share *x) { return ov_open_u64(ctx, x->u, x->size); }

void ov_close(int64_t *v, size_t N)
{
    if (v) he_free_secret(v, (N ? N : 1) * 8);
}

/* Exact sum of a[i] b[i] over k: an i128 unless a partial sum leaves it,
** then GMP (a wrap of a partial sum is harmless in the ring: only the
** final value matters). */
static int dot_check(const he_smpc_ctx *ctx, const char *op, ov_what what, int scale, const int64_t *a, size_t as,
                     const int64_t *b, size_t bs, size_t k, i128 lo, i128 hi, size_t idx, size_t N)
{
    i128 acc = 0;
    size_t t = 0;
    for (; t < k; t++)
        if (__builtin_add_overflow(acc, (i128)a[t * as] * b[t * bs], &acc)) break;
    if (t == k) {
        if (acc < lo || acc > hi) return ov_fail(ctx, op, "the sum of products", what, scale, acc, idx, N);
        return 0;
    }
    mpz_t z, l, h;
    mpz_init(z);
    mpz_init(l);
    mpz_init(h);
    for (t = 0; t < k; t++) {
        mpz_t p;
        mpz_init(p);
        mpz_set_si(p, (long)a[t * as]);
        mpz_mul_si(p, p, (long)b[t * bs]);
        mpz_add(z, z, p);
        mpz_clear(p);
    }
    mpz_set_i128(l, lo);
    mpz_set_i128(h, hi);
    int rc = 0;
    if (mpz_cmp(z, l) < 0 || mpz_cmp(z, h) > 0) rc = fail(ctx, op, "the sum of products", what, scale, z, idx, N);
    mpz_clear(z);
    mpz_clear(l);
    mpz_clear(h);
    return rc;
}

static i128 iabs(int64_t v) { return v < 0 ? -(i128)v : (i128)v; }

/* C (m, n) = A (m, k) B (k, n) on values. Row i's L1 norm times column j's
** largest magnitude bounds |C[i][j]|: where that bound is inside the
** range (nearly always) no exact sum is needed. */
int ov_matmul(const he_smpc_ctx *ctx, const char *op, ov_what what, int scale, const int64_t *A, const int64_t *B,
              size_t m, size_t k, size_t n, size_t idx0, size_t N)
{
    i128 lo, hi;
    range_of(ctx, what, scale, &lo, &hi);
    i128 lim = hi < -lo ? hi : -lo;
    i128 *cmax = he_calloc(n ? n : 1, sizeof *cmax);
    if (!cmax) return -1;
    for (size_t t = 0; t < k; t++)
        for (size_t j = 0; j < n; j++) {
            i128 v = iabs(B[t * n + j]);
            if (v > cmax[j]) cmax[j] = v;
        }
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        i128 r = 0;
        for (size_t t = 0; t < k; t++) r += iabs(A[i * k + t]); /* k < 2^40: no overflow */
        for (size_t j = 0; j < n && rc == 0; j++) {
            i128 bound;
            if (!__builtin_mul_overflow(r, cmax[j], &bound) && bound <= lim) continue;
            rc = dot_check(ctx, op, what, scale, A + i * k, 1, B + j, n, k, lo, hi, idx0 + i * n + j, N);
        }
    }
    he_free(cmax);
    return rc;
}

/* Local truncation (SecureML) of z by f bits: each result must be
** floor(z / 2^f) or one more; anything else is the protocol's failure
** (probability 2^(l+1-64) per element when |z| < 2^l). `before` holds the
** values of z, the shares now hold the results. */
int ov_trunc_local(const he_smpc_ctx *ctx, const int64_t *before, uint64_t *const *z, size_t N, int f)
{
    int64_t *after = ov_open_u64(ctx, z, N);
    if (!after) return -1;
    int rc = 0;
    for (size_t i = 0; i < N && rc == 0; i++) {
        int64_t fl = before[i] >> f; /* arithmetic shift: floor */
        if (after[i] != fl && after[i] != fl + 1) {
            char at[48] = "";
            if (N > 1) snprintf(at, sizeof at, " (element %zu)", i);
            rc = he_error("smpc: local truncation failed%s: raw %lld >> %d gave %lld, not %lld or %lld (SecureML's "
                          "truncation fails with probability 2^(l+1-64) when |raw| < 2^l: use the dealer's truncation)",
                          at, (long long)before[i], f, (long long)after[i], (long long)fl, (long long)fl + 1);
        }
    }
    ov_close(after, N);
    return rc;
}

/* --- Z_p: exact values in GMP (the modulus may exceed 64 bits) ---------------------- */
static mpz_t *zp_values(const he_smpc_ctx *ctx, const he_share *x)
{
    mpz_t *v = zp_alloc(x->size), h;
    if (!v) return NULL;
    mpz_init(h);
    mpz_fdiv_q_2exp(h, ctx->p, 1);
    for (size_t i = 0; i < x->size; i++) {
        for (int lp = 0; lp < ctx->nloc; lp++) mpz_add(v[i], v[i], x->z[lp][i]);
        mpz_mod(v[i], v[i], ctx->p);
        if (mpz_cmp(v[i], h) > 0) mpz_sub(v[i], v[i], ctx->p);
    }
    mpz_clear(h);
    return v;
}

/* T (raw, at `scale`) must be in Z_p's range. */
static int zp_in(const he_smpc_ctx *ctx, const char *op, const char *noun, int scale, const mpz_t T, size_t i,
                 size_t N)
{
    mpz_t lo, hi;
    mpz_init(lo);
    mpz_init(hi);
    zp_range(ctx, lo, hi);
    int rc = 0;
    if (mpz_cmp(T, lo) < 0 || mpz_cmp(T, hi) > 0) rc = fail(ctx, op, noun, OV_VALUE, scale, T, i, N);
    mpz_clear(lo);
    mpz_clear(hi);
    return rc;
}

/* Element-wise: kind '+', '-', '*' with b; 'k': times k[i]; 'v': plus k[i]
** (k of nk values, 1 or a's size). */
static int zp_elementwise(const he_smpc_ctx *ctx, const char *op, const char *noun, int scale, const he_share *a,
                          const he_share *b, const int64_t *k, size_t nk, char kind)
{
    size_t N = a->size;
    mpz_t *A = zp_values(ctx, a), *B = b && A ? zp_values(ctx, b) : NULL, T;
    int rc = -1;
    mpz_init(T);
    if (!A || (b && !B)) goto out;
    rc = 0;
    for (size_t i = 0; i < N && rc == 0; i++) {
        switch (kind) {
        case '+': mpz_add(T, A[i], B[i]); break;
        case '-': mpz_sub(T, A[i], B[i]); break;
        case '*': mpz_mul(T, A[i], B[i]); break;
        case 'k': mpz_mul_si(T, A[i], (long)k[nk == 1 ? 0 : i]); break;
        default:
            mpz_set_si(T, (long)k[nk == 1 ? 0 : i]);
            mpz_add(T, T, A[i]);
        }
        rc = zp_in(ctx, op, noun, scale, T, i, N);
    }
out:
    mpz_clear(T);
    zp_free(A, N);
    zp_free(B, b ? b->size : 0);
    return rc;
}

/* Sums (sum: blocks of len, channel: x plus b per channel) and products. */
static int zp_sum(const he_smpc_ctx *ctx, const char *op, const he_share *a, size_t outer, size_t len, size_t inner)
{
    mpz_t *A = zp_values(ctx, a), T;
    if (!A) return -1;
    mpz_init(T);
    int rc = 0;
    for (size_t o = 0; o < outer && rc == 0; o++)
        for (size_t in = 0; in < inner && rc == 0; in++) {
            mpz_set_ui(T, 0);
            for (size_t l = 0; l < len; l++) mpz_add(T, T, A[(o * len + l) * inner + in]);
            rc = zp_in(ctx, op, "the sum", a->frac, T, o * inner + in, outer * inner);
        }
    mpz_clear(T);
    zp_free(A, a->size);
    return rc;
}

static int zp_add_channel(const he_smpc_ctx *ctx, const he_share *x, const he_share *b, size_t inner)
{
    mpz_t *X = zp_values(ctx, x), *B = X ? zp_values(ctx, b) : NULL, T;
    int rc = -1;
    mpz_init(T);
    if (!B) goto out;
    rc = 0;
    for (size_t i = 0; i < x->size && rc == 0; i++) {
        mpz_add(T, X[i], B[(i / inner) % b->size]);
        rc = zp_in(ctx, "add_channel", "the result", x->frac, T, i, x->size);
    }
out:
    mpz_clear(T);
    zp_free(X, x->size);
    zp_free(B, b->size);
    return rc;
}

static int zp_matmul(const he_smpc_ctx *ctx, const char *op, const he_share *x, const he_share *y)
{
    size_t m = (size_t)x->shape[0], k = (size_t)x->shape[1], n = (size_t)y->shape[1];
    mpz_t *X = zp_values(ctx, x), *Y = X ? zp_values(ctx, y) : NULL, T;
    int rc = -1;
    mpz_init(T);
    if (!Y) goto out;
    rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++)
        for (size_t j = 0; j < n && rc == 0; j++) {
            mpz_set_ui(T, 0);
            for (size_t t = 0; t < k; t++) mpz_addmul(T, X[i * k + t], Y[t * n + j]);
            rc = zp_in(ctx, op, "the sum of products", x->frac + y->frac, T, i * n + j, m * n);
        }
out:
    mpz_clear(T);
    zp_free(X, x->size);
    zp_free(Y, y->size);
    return rc;
}

/* --- the checks of each operation (SIM) ------------------------------------------- */
/* The value of element i of x (Z_2^64): the sum of its shares. */
static inline int64_t value_at(const he_smpc_ctx *ctx, uint64_t *const *x, size_t i)
{
    uint64_t s = 0;
    for (int lp = 0; lp < ctx->nloc; lp++) s += x[lp][i];
    return (int64_t)s;
}

int ov_binary(const he_smpc_ctx *ctx, const char *op, const char *noun, ov_what what, int scale, const he_share *a,
              const he_share *b, char kind)
{
    if (ctx->ring == HE_SMPC_ZP) return zp_elementwise(ctx, op, noun, scale, a, b, NULL, 0, kind);
    size_t N = a->size;
    i128 lo, hi;
    range_of(ctx, what, scale, &lo, &hi);
    for (size_t i = 0; i < N; i++) {
        int64_t A = value_at(ctx, a->u, i), B = value_at(ctx, b->u, i);
        i128 T = kind == '+' ? (i128)A + B : kind == '-' ? (i128)A - B : (i128)A * B;
        if (HE_UNLIKELY(T < lo || T > hi)) return ov_fail(ctx, op, noun, what, scale, T, i, N);
    }
    return 0;
}

int ov_scale(const he_smpc_ctx *ctx, const char *op, ov_what what, int scale, const he_share *a, const int64_t *k,
             size_t nv)
{
    if (ctx->ring == HE_SMPC_ZP) return zp_elementwise(ctx, op, "the product", scale, a, NULL, k, nv, 'k');
    size_t N = a->size;
    i128 lo, hi;
    range_of(ctx, what, scale, &lo, &hi);
    for (size_t i = 0; i < N; i++) {
        i128 T = (i128)value_at(ctx, a->u, i) * k[nv == 1 ? 0 : i];
        if (HE_UNLIKELY(T < lo || T > hi)) return ov_fail(ctx, op, "the product", what, scale, T, i, N);
    }
    return 0;
}

int ov_add_public(const he_smpc_ctx *ctx, const he_share *a, const double *v, size_t nv)
{
    size_t N = a->size;
    if (ctx->ring == HE_SMPC_ZP) {
        int64_t *raw = he_malloc((nv ? nv : 1) * 8);
        if (!raw) return -1;
        int rc = 0;
        for (size_t i = 0; i < nv && rc == 0; i++) rc = he_smpc_encode(v[i], a->frac, &raw[i]);
        if (rc == 0) rc = zp_elementwise(ctx, "addition of a public value", "the result", a->frac, a, NULL, raw, nv, 'v');
        he_free(raw);
        return rc;
    }
    int64_t *A = ov_open(ctx, a);
    if (!A) return -1;
    i128 lo, hi;
    range_of(ctx, OV_VALUE, a->frac, &lo, &hi);
    int rc = 0;
    for (size_t i = 0; i < N && rc == 0; i++) {
        int64_t raw;
        if ((rc = he_smpc_encode(v[nv == 1 ? 0 : i], a->frac, &raw)) < 0) break;
        i128 T = (i128)A[i] + raw;
        if (HE_UNLIKELY(T < lo || T > hi))
            rc = ov_fail(ctx, "addition of a public value", "the result", OV_VALUE, a->frac, T, i, N);
    }
    ov_close(A, N);
    return rc;
}

int ov_sum(const he_smpc_ctx *ctx, const char *op, const he_share *a, size_t outer, size_t len, size_t inner)
{
    if (ctx->ring == HE_SMPC_ZP) return zp_sum(ctx, op, a, outer, len, inner);
    int64_t *A = ov_open(ctx, a);
    if (!A) return -1;
    i128 lo, hi;
    range_of(ctx, OV_VALUE, a->frac, &lo, &hi);
    int rc = 0;
    for (size_t o = 0; o < outer && rc == 0; o++)
        for (size_t in = 0; in < inner && rc == 0; in++) {
            i128 T = 0; /* len < 2^63: no overflow */
            for (size_t l = 0; l < len; l++) T += A[(o * len + l) * inner + in];
            if (HE_UNLIKELY(T < lo || T > hi)) rc = ov_fail(ctx, op, "the sum", OV_VALUE, a->frac, T, o * inner + in, outer * inner);
        }
    ov_close(A, a->size);
    return rc;
}

int ov_add_channel(const he_smpc_ctx *ctx, const he_share *x, const he_share *b, size_t inner)
{
    if (ctx->ring == HE_SMPC_ZP) return zp_add_channel(ctx, x, b, inner);
    size_t N = x->size, C = b->size;
    int64_t *X = ov_open(ctx, x), *B = X ? ov_open(ctx, b) : NULL;
    int rc = -1;
    if (!B) goto out;
    i128 lo, hi;
    range_of(ctx, OV_VALUE, x->frac, &lo, &hi);
    rc = 0;
    for (size_t i = 0; i < N && rc == 0; i++) {
        i128 T = (i128)X[i] + B[(i / inner) % C];
        if (HE_UNLIKELY(T < lo || T > hi)) rc = ov_fail(ctx, "add_channel", "the result", OV_VALUE, x->frac, T, i, N);
    }
out:
    ov_close(X, N);
    ov_close(B, C);
    return rc;
}

int ov_bilinear(const he_smpc_ctx *ctx, const char *op, const he_share *x, const he_share *y, int tf,
                const conv_geom *g)
{
    if (ctx->ring == HE_SMPC_ZP) return zp_matmul(ctx, op, x, y); /* no conv in Z_p */
    ov_what what = tf ? OV_PRODUCT : OV_VALUE;
    int scale = x->frac + y->frac;
    int64_t *X = ov_open(ctx, x), *Y = X ? ov_open(ctx, y) : NULL;
    int rc = -1;
    if (!Y) goto out;
    if (!g) {
        size_t m = (size_t)x->shape[0], k = (size_t)x->shape[1], n = (size_t)y->shape[1];
        rc = ov_matmul(ctx, op, what, scale, X, Y, m, k, n, 0, m * n);
        goto out;
    }
    /* the convolution of image i is w (OC, K) @ im2col(x_i) (K, P); the
    ** largest kernel L1 norm times the image's largest value bounds it */
    size_t K = (size_t)(g->C * g->KH * g->KW), P = (size_t)(g->OH * g->OW), img = (size_t)(g->C * g->H * g->W);
    size_t OC = (size_t)g->OC, Nout = (size_t)g->N * OC * P;
    i128 lo, hi, wmax = 0, xmax = 0, bound;
    range_of(ctx, what, scale, &lo, &hi);
    for (size_t o = 0; o < OC; o++) {
        i128 r = 0;
        for (size_t t = 0; t < K; t++) r += iabs(Y[o * K + t]);
        if (r > wmax) wmax = r;
    }
    for (size_t t = 0; t < x->size; t++)
        if (iabs(X[t]) > xmax) xmax = iabs(X[t]);
    rc = 0;
    if (!__builtin_mul_overflow(wmax, xmax, &bound) && bound <= (hi < -lo ? hi : -lo)) goto out;
    int64_t *cols = he_malloc((K * P > 0 ? K * P : 1) * 8);
    if (!cols) {
        rc = -1;
        goto out;
    }
    for (int64_t i = 0; i < g->N && rc == 0; i++) {
        ring_im2col((uint64_t *)cols, (const uint64_t *)X + (size_t)i * img, g);
        rc = ov_matmul(ctx, op, what, scale, Y, cols, OC, K, P, (size_t)i * OC * P, Nout);
    }
    ov_close(cols, K * P);
out:
    ov_close(X, x->size);
    ov_close(Y, y->size);
    return rc;
}

int ov_windows(const he_smpc_ctx *ctx, const he_share *x, size_t planes, int k, int s, int64_t OH, int64_t OW)
{
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    int64_t *X = ov_open(ctx, x);
    if (!X) return -1;
    i128 lo, hi;
    range_of(ctx, OV_VALUE, x->frac, &lo, &hi);
    size_t N = planes * (size_t)(OH * OW);
    int rc = 0;
    for (size_t p = 0; p < planes && rc == 0; p++)
        for (int64_t oy = 0; oy < OH && rc == 0; oy++)
            for (int64_t ox = 0; ox < OW && rc == 0; ox++) {
                i128 T = 0;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) T += X[p * (size_t)(H * W) + (size_t)((oy * s + dy) * W + ox * s + dx)];
                if (HE_UNLIKELY(T < lo || T > hi))
                    rc = ov_fail(ctx, "average pooling", "the window sum", OV_VALUE, x->frac, T,
                                 p * (size_t)(OH * OW) + (size_t)(oy * OW + ox), N);
            }
    ov_close(X, x->size);
    return rc;
}
