/*
** ring.c: kernels over Z_2^64 (uint64_t arithmetic wraps, which is exactly
** the ring) and fixed-point encoding.
*/
#include <math.h>
#include <string.h>

#include "smpc/smpc_int.h"

int he_smpc_encode(double v, int frac, int64_t *raw)
{
    if (frac < 0 || frac > 62) return he_error("smpc: fractional bits %d out of range", frac);
    if (!isfinite(v)) return he_error("smpc: cannot encode %g as fixed point", v);
    double s = ldexp(v, frac);
    if (!(fabs(s) < 0x1p62)) return he_error("smpc: %g does not fit in fixed point with %d fractional bits (|raw| must stay below 2^62)", v, frac);
    *raw = (int64_t)llround(s);
    return 0;
}

double he_smpc_decode(int64_t raw, int frac) { return ldexp((double)raw, -frac); }

/* C += A B, row-major. The i-k-j order streams B's and C's rows; blocks of
** k keep a panel of B in cache for larger sizes. Built twice, for AVX-512
** (a native 64-bit vector multiply, vpmullq) and for any x86-64 / other
** CPU; the loader picks one (GCC target_clones, an ifunc). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define HE_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HE_KERNEL_CLONES
#endif
/* 4 x 64-bit lanes (GCC vector extension): vpmullq on AVX-512, emulated
** with 32-bit multiplies on AVX2/SSE2. */
typedef uint64_t v4u __attribute__((vector_size(32), aligned(8), may_alias));
#define v4_ld(p) (*(const v4u *)(p))
#define v4_st(p, v) (*(v4u *)(p) = (v))

HE_KERNEL_CLONES
void ring_matmul_acc(uint64_t *restrict C, const uint64_t *restrict A, const uint64_t *restrict B, size_t m,
                     size_t k, size_t n)
{
    const size_t KB = 128;
    for (size_t k0 = 0; k0 < k; k0 += KB) {
        size_t k1 = k0 + KB < k ? k0 + KB : k;
        for (size_t i = 0; i < m; i++) {
            uint64_t *restrict c = C + i * n;
            const uint64_t *a = A + i * k;
            size_t kk = k0;
            for (; kk + 4 <= k1; kk += 4) {
                uint64_t a0 = a[kk], a1 = a[kk + 1], a2 = a[kk + 2], a3 = a[kk + 3];
                v4u va0 = {a0, a0, a0, a0}, va1 = {a1, a1, a1, a1}, va2 = {a2, a2, a2, a2}, va3 = {a3, a3, a3, a3};
                const uint64_t *b0 = B + kk * n, *b1 = b0 + n, *b2 = b1 + n, *b3 = b2 + n;
                size_t j = 0;
                for (; j + 4 <= n; j += 4)
                    v4_st(c + j, v4_ld(c + j) + va0 * v4_ld(b0 + j) + va1 * v4_ld(b1 + j) + va2 * v4_ld(b2 + j) +
                                     va3 * v4_ld(b3 + j));
                for (; j < n; j++) c[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
            }
            for (; kk < k1; kk++) {
                uint64_t av = a[kk];
                const uint64_t *b = B + kk * n;
                for (size_t j = 0; j < n; j++) c[j] += av * b[j];
            }
        }
    }
}

int conv_geom_of(conv_geom *g, const mat_req *r)
{
    g->N = r->p[0], g->C = r->p[1], g->H = r->p[2], g->W = r->p[3];
    g->OC = r->p[4], g->KH = r->p[5], g->KW = r->p[6], g->stride = r->p[7], g->pad = r->p[8];
    if (g->N < 1 || g->C < 1 || g->H < 1 || g->W < 1 || g->OC < 1 || g->KH < 1 || g->KW < 1 || g->stride < 1 ||
        g->pad < 0 || g->N > (1 << 20) || g->C > (1 << 20) || g->H > (1 << 20) || g->W > (1 << 20) ||
        g->OC > (1 << 20) || g->KH > (1 << 10) || g->KW > (1 << 10) || g->pad > (1 << 10))
        return he_error("smpc: bad convolution geometry");
    int64_t hp = g->H + 2 * g->pad - g->KH, wp = g->W + 2 * g->pad - g->KW;
    if (hp < 0 || wp < 0) return he_error("smpc: convolution kernel larger than the padded image");
    g->OH = hp / g->stride + 1;
    g->OW = wp / g->stride + 1;
    return 0;
}

/* im2col of one image (C,H,W) into cols (C*KH*KW, OH*OW). */
void ring_im2col(uint64_t *cols, const uint64_t *x, const conv_geom *g)
{
    size_t P = (size_t)(g->OH * g->OW);
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->KH; ky++)
            for (int64_t kx = 0; kx < g->KW; kx++) {
                uint64_t *row = cols + (size_t)((c * g->KH + ky) * g->KW + kx) * P;
                for (int64_t oy = 0; oy < g->OH; oy++) {
                    int64_t iy = oy * g->stride + ky - g->pad;
                    for (int64_t ox = 0; ox < g->OW; ox++) {
                        int64_t ix = ox * g->stride + kx - g->pad;
                        row[oy * g->OW + ox] = (iy >= 0 && iy < g->H && ix >= 0 && ix < g->W)
                                                   ? x[(c * g->H + iy) * g->W + ix]
                                                   : 0;
                    }
                }
            }
}

int ring_conv_acc(uint64_t *out, const uint64_t *x, const uint64_t *w, const conv_geom *g)
{
    size_t K = (size_t)(g->C * g->KH * g->KW), P = (size_t)(g->OH * g->OW);
    uint64_t *cols = he_malloc(K * P * sizeof *cols);
    if (!cols) return -1;
    for (int64_t i = 0; i < g->N; i++) {
        ring_im2col(cols, x + (size_t)(i * g->C * g->H * g->W), g);
        ring_matmul_acc(out + (size_t)i * (size_t)g->OC * P, w, cols, (size_t)g->OC, K, P);
    }
    he_free_secret(cols, K * P * sizeof *cols);
    return 0;
}
