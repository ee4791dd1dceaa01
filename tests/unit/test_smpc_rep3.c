/*
** test_smpc_rep3.c: the three-party replicated protocol (rep3, no dealer)
** in simulated mode, against plaintext on random inputs (fixed seeds).
**
** Bounds checked (raw = v 2^f, f = 16):
**   - sharing, reveal, add/sub/neg, public additions and integer products,
**     sums, transposes, reshapes, per-channel additions, int products: exact;
**   - a product of two fixed-point shares, a matrix product or convolution
**     (one truncation after the exact sum S of raw products): the result is
**     floor(S / 2^f) or floor(S / 2^f) + 1 (ABY3's local truncation; it
**     fails with probability 2^(l+1-64) per element when |S| < 2^l: inputs
**     here keep |S| < 2^44, so below 2^-19 for the whole file);
**   - a truncation of values near 2^61 fails (probability about 1/8 per
**     element) and the simulated run's check reports it;
**   - comparisons, ReLU, max, max pooling, argmax (no dealer, no random
**     bits: a binary adder on the parties' own shares): exact, on values
**     up to 2^62 raw and at the range's edges;
**   - rounds and bytes: exact, with matmul's bytes independent of the inner
**     dimension;
**   - over Z_p (p = 2^61 - 1): products and matrix products exact mod p;
**   - views: what party 0 receives in an input and a product, and what party
**     2 receives in a truncation and in a product fused with its truncation,
**     is uniform (chi-square of the top 4 bits)
**     for two different secret inputs while the receiver's own shares and
**     keys are fixed; the same statistic on the message without its mask
**     (the receiver's unknown PRF stream) is far from uniform, so the check
**     can fail.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "he.h"
#include "smpc/smpc.h"
#include "smpc/smpc_int.h"

static he_prng g;

static he_smpc_ctx *rep3(int frac)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 3;
    c.frac = frac;
    c.protocol = HE_SMPC_REP3;
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) printf("# %s\n", he_errmsg());
    return ctx;
}

/* uniform in [-bound, bound) */
static int64_t rint_(int64_t bound) { return (int64_t)(he_prng_u64(&g) % (uint64_t)(2 * bound)) - bound; }

static he_share *in_int(he_smpc_ctx *ctx, int owner, const int64_t *v, int nd, const int64_t *shape, int frac)
{
    he_share *s = he_share_new(ctx, 0, NULL, 0);
    if (he_smpc_share_int(ctx, s, owner, v, nd, shape, frac) < 0) {
        printf("# share: %s\n", he_errmsg());
        he_share_free(s);
        return NULL;
    }
    return s;
}

static int64_t *open_all(he_smpc_ctx *ctx, const he_share *s)
{
    int64_t *o = malloc((he_share_size(s) + 1) * 8);
    if (he_smpc_reveal_int(ctx, s, HE_SMPC_ALL, o) < 0) {
        printf("# reveal: %s\n", he_errmsg());
        free(o);
        o = NULL;
        return NULL;
    }
    return o;
}

/* floor(S / 2^f) or one more */
static bool trunc_ok(i128 S, int f, int64_t got)
{
    i128 fl = S >> f;
    return (i128)got == fl || (i128)got == fl + 1;
}

static void test_config(void)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.protocol = HE_SMPC_REP3;
    c.nparties = 2;
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "exactly 3 parties"), "2 parties: %s", he_errmsg());
    c.nparties = 4;
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "exactly 3 parties"), "4 parties: %s", he_errmsg());
    c.nparties = 3;
    c.ring = HE_SMPC_ZP;
    c.prime = "501337";
    he_smpc_ctx *z = he_smpc_new(&c);
    CHECK(z && he_smpc_protocol_of(z) == HE_SMPC_REP3 && he_smpc_ring_of(z) == HE_SMPC_ZP, "Z_p: %s", he_errmsg());
    he_smpc_free(z);
    c.ring = HE_SMPC_RING64;
    c.record_plan = true;
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "no dealer"), "offline: %s", he_errmsg());
    he_smpc_ctx *ctx = rep3(16), *d = NULL;
    CHECK(ctx && he_smpc_protocol_of(ctx) == HE_SMPC_REP3, "protocol");
    he_smpc_config_init(&c);
    c.nparties = 3;
    d = he_smpc_new(&c);
    CHECK(d && he_smpc_protocol_of(d) == HE_SMPC_DEALER, "default protocol");
    he_smpc_free(ctx);
    he_smpc_free(d);
}

static void test_share_reveal(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    enum { N = 41 };
    int64_t v[N], shape[2] = {41, 1};
    for (int owner = 0; owner < 3; owner++) {
        for (int i = 0; i < N; i++) v[i] = rint_((int64_t)1 << 61);
        he_share *s = in_int(ctx, owner, v, 2, shape, 16);
        int64_t *o = s ? open_all(ctx, s) : NULL;
        CHECK(o, "share/reveal");
        for (int i = 0; o && i < N; i++) CHECK(o[i] == v[i], "owner %d elem %d", owner, i);
        /* each party's two shares are not the value, nor sum to it */
        uint64_t r[3][N];
        for (int p = 0; p < 3; p++) CHECK(he_share_raw_u64(s, p, r[p]) == 0, "raw");
        int same = 0;
        for (int p = 0; p < 3; p++)
            for (int i = 0; i < N; i++)
                same += r[p][i] == (uint64_t)v[i] || r[p][i] + r[(p + 1) % 3][i] == (uint64_t)v[i];
        CHECK(same == 0, "a party's shares give the value (%d)", same);
        /* reveal to one party: party 0 gets x_2 from party 2 */
        he_smpc_stats_reset(ctx);
        CHECK(he_smpc_reveal_int(ctx, s, 1, o) == 0, "reveal_to");
        he_smpc_stats st;
        he_smpc_stats_get(ctx, &st);
        CHECK(st.rounds == 1 && st.bytes_sent[2] == 8 * N + 8 && st.bytes_sent[0] == 0 && st.bytes_sent[1] == 0,
              "reveal_to costs: %llu rounds, %llu %llu %llu", (unsigned long long)st.rounds,
              (unsigned long long)st.bytes_sent[0], (unsigned long long)st.bytes_sent[1],
              (unsigned long long)st.bytes_sent[2]);
        he_smpc_stats_reset(ctx);
        CHECK(he_smpc_share_int(ctx, s, owner, v, 2, shape, 16) == 0, "share again");
        he_smpc_stats_get(ctx, &st);
        CHECK(st.rounds == 1 && st.bytes_sent[owner] == 2 * (8 * N + 8) && st.dealer_requests == 0, "input costs");
        free(o);
        o = NULL;
        he_share_free(s);
    }
    he_smpc_free(ctx);
}

static void test_linear(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    enum { R = 4, C = 6, N = R * C };
    int64_t a[N], b[N], k[N], shape[2] = {R, C};
    double pub[N];
    for (int i = 0; i < N; i++) {
        a[i] = rint_((int64_t)1 << 50);
        b[i] = rint_((int64_t)1 << 50);
        k[i] = rint_(1000);
        pub[i] = (double)rint_(1 << 20) / 65536.0;
    }
    he_share *A = in_int(ctx, 0, a, 2, shape, 16), *B = in_int(ctx, 2, b, 2, shape, 16),
             *T = he_share_new(ctx, 0, NULL, 0);
    if (!A || !B) { CHECK(0, "inputs"); return; }
    int64_t *o = NULL;
    CHECK(he_smpc_add(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "add");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i] + b[i], "add %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_sub(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "sub");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i] - b[i], "sub %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_neg(ctx, T, A) == 0 && (o = open_all(ctx, T)), "neg");
    for (int i = 0; i < N; i++) CHECK(o[i] == -a[i], "neg %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_add_public(ctx, T, A, pub, N) == 0 && (o = open_all(ctx, T)), "add public");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i] + (int64_t)llround(pub[i] * 65536.0), "add public %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_mul_public_int(ctx, T, A, k, N) == 0 && (o = open_all(ctx, T)), "mul public int");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i] * k[i], "mul public int %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_sum(ctx, T, A, 0) == 0 && (o = open_all(ctx, T)), "sum 0");
    for (int j = 0; j < C; j++) {
        int64_t s = 0;
        for (int i = 0; i < R; i++) s += a[i * C + j];
        CHECK(o[j] == s, "sum axis 0, %d", j);
    }
    free(o);
    o = NULL;
    CHECK(he_smpc_transpose(ctx, T, A) == 0 && (o = open_all(ctx, T)), "transpose");
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) CHECK(o[j * R + i] == a[i * C + j], "transpose %d %d", i, j);
    free(o);
    o = NULL;
    int64_t s4[4] = {1, 3, 2, 4};
    CHECK(he_share_copy(T, A) == 0 && he_share_reshape(T, 4, s4) == 0 && (o = open_all(ctx, T)), "reshape");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i], "reshape %d", i);
    free(o);
    o = NULL;
    int64_t cs[1] = {3};
    he_share *Bc = in_int(ctx, 1, b, 1, cs, 16);
    CHECK(Bc && he_smpc_add_channel(ctx, T, T, Bc) == 0 && (o = open_all(ctx, T)), "add_channel");
    for (int i = 0; i < N; i++) CHECK(o[i] == a[i] + b[(i / 8) % 3], "add_channel %d", i);
    free(o);
    o = NULL;
    he_smpc_stats st;
    he_smpc_stats_reset(ctx);
    CHECK(he_smpc_add(ctx, T, A, B) == 0 && he_smpc_sum(ctx, T, T, -1) == 0, "local");
    he_smpc_stats_get(ctx, &st);
    CHECK(st.rounds == 0 && st.messages == 0, "linear operations are local");
    he_share_free(Bc);
    he_share_free(A);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
}

static void test_mul(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    enum { N = 300 };
    int64_t a[N], b[N], shape[1] = {N};
    /* integers (frac 0): exact */
    for (int i = 0; i < N; i++) {
        a[i] = rint_((int64_t)1 << 31);
        b[i] = rint_((int64_t)1 << 31);
    }
    he_share *A = in_int(ctx, 0, a, 1, shape, 0), *B = in_int(ctx, 1, b, 1, shape, 0), *T = he_share_new(ctx, 0, NULL, 0);
    int64_t *o = NULL;
    CHECK(A && B && he_smpc_mul(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "int mul");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == a[i] * b[i], "int mul %d", i);
    free(o);
    o = NULL;
    he_share_free(A);
    he_share_free(B);
    /* fixed point, |v| < 64: |raw product| < 2^44 */
    for (int i = 0; i < N; i++) {
        a[i] = rint_((int64_t)1 << 22);
        b[i] = rint_((int64_t)1 << 22);
    }
    A = in_int(ctx, 2, a, 1, shape, 16);
    B = in_int(ctx, 0, b, 1, shape, 16);
    he_smpc_stats_reset(ctx);
    CHECK(A && B && he_smpc_mul(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "fixed mul");
    for (int i = 0; o && i < N; i++) CHECK(trunc_ok((i128)a[i] * b[i], 16, o[i]), "fixed mul %d", i);
    free(o);
    o = NULL;
    /* costs: resharing fused with the truncation (2 rounds, each party one
    ** message of 8 B/elem), reveal */
    he_smpc_stats st;
    he_smpc_stats_get(ctx, &st);
    CHECK(st.rounds == 3 && st.dealer_requests == 0, "mul rounds %llu", (unsigned long long)st.rounds);
    CHECK(st.bytes_sent[0] == 2 * (8 * N + 8) && st.bytes_sent[1] == 2 * (8 * N + 8) &&
              st.bytes_sent[2] == 2 * (8 * N + 8),
          "mul bytes %llu %llu %llu", (unsigned long long)st.bytes_sent[0], (unsigned long long)st.bytes_sent[1],
          (unsigned long long)st.bytes_sent[2]);
    /* a public real factor, then truncation */
    double half = -0.375;
    CHECK(he_smpc_mul_public(ctx, T, A, &half, 1) == 0 && (o = open_all(ctx, T)), "mul public");
    for (int i = 0; o && i < N; i++) CHECK(trunc_ok((i128)a[i] * -24576, 16, o[i]), "mul public %d", i);
    free(o);
    o = NULL;
    /* broadcasting: (N) * (1) */
    int64_t one[1] = {1};
    he_share *S = in_int(ctx, 1, (int64_t[]){3 << 16}, 1, one, 16);
    CHECK(S && he_smpc_mul(ctx, T, A, S) == 0 && (o = open_all(ctx, T)), "broadcast mul");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == 3 * a[i] || o[i] == 3 * a[i] + 1, "broadcast %d", i);
    free(o);
    o = NULL;
    /* the simulated run's overflow checks apply: 2^20 * 2^20 > 2^30 */
    int64_t big = (int64_t)1 << 36;
    he_share *Big = in_int(ctx, 0, &big, 1, one, 16);
    CHECK(Big && he_smpc_mul(ctx, T, Big, Big) < 0 && strstr(he_errmsg(), "product overflows"), "overflow: %s",
          he_errmsg());
    he_share_free(Big);
    he_share_free(S);
    he_share_free(A);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
}

static void test_matmul(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    int dims[][3] = {{5, 1, 4}, {5, 64, 4}, {1, 17, 9}, {7, 3, 1}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int m = dims[d][0], k = dims[d][1], n = dims[d][2];
        int64_t *a = malloc((size_t)(m * k) * 8), *b = malloc((size_t)(k * n) * 8);
        for (int i = 0; i < m * k; i++) a[i] = rint_((int64_t)1 << 20);
        for (int i = 0; i < k * n; i++) b[i] = rint_((int64_t)1 << 20);
        int64_t sa[2] = {m, k}, sb[2] = {k, n};
        he_share *A = in_int(ctx, 0, a, 2, sa, 16), *B = in_int(ctx, 1, b, 2, sb, 16), *T = he_share_new(ctx, 0, NULL, 0);
        he_smpc_stats_reset(ctx);
        int64_t *o = NULL;
        CHECK(A && B && he_smpc_matmul(ctx, T, A, B) == 0, "matmul");
        he_smpc_stats st;
        he_smpc_stats_get(ctx, &st);
        /* proportional to the output m n, whatever k */
        uint64_t out = 8 * (uint64_t)(m * n) + 8;
        CHECK(st.rounds == 2 && st.bytes_sent[0] == out && st.bytes_sent[1] == out && st.bytes_sent[2] == out,
              "matmul %dx%dx%d costs %llu rounds, %llu B", m, k, n, (unsigned long long)st.rounds,
              (unsigned long long)st.bytes_sent[1]);
        CHECK(he_share_ndim(T) == 2 && he_share_shape(T)[0] == m && he_share_shape(T)[1] == n, "shape");
        CHECK((o = open_all(ctx, T)) != NULL, "reveal");
        for (int i = 0; o && i < m; i++)
            for (int j = 0; j < n; j++) {
                i128 S = 0;
                for (int l = 0; l < k; l++) S += (i128)a[i * k + l] * b[l * n + j];
                CHECK(trunc_ok(S, 16, o[i * n + j]), "matmul %d: (%d, %d)", (int)d, i, j);
            }
        free(o);
        o = NULL;
        free(a);
        free(b);
        he_share_free(A);
        he_share_free(B);
        he_share_free(T);
    }
    he_smpc_free(ctx);
}

static void test_conv_pool(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    /* x (2, 3, 7, 6), w (4, 3, 3, 3); (stride, pad) = (1, 1) and (2, 0) */
    int64_t sx[4] = {2, 3, 7, 6}, sw[4] = {4, 3, 3, 3};
    enum { NX = 2 * 3 * 7 * 6, NW = 4 * 3 * 3 * 3 };
    int64_t x[NX], w[NW];
    for (int i = 0; i < NX; i++) x[i] = rint_((int64_t)1 << 18);
    for (int i = 0; i < NW; i++) w[i] = rint_((int64_t)1 << 18);
    he_share *X = in_int(ctx, 0, x, 4, sx, 16), *Wt = in_int(ctx, 2, w, 4, sw, 16), *T = he_share_new(ctx, 0, NULL, 0);
    if (!X || !Wt) { CHECK(0, "inputs"); return; }
    int geo[2][2] = {{1, 1}, {2, 0}};
    for (int gi = 0; gi < 2; gi++) {
        int st = geo[gi][0], pad = geo[gi][1];
        int OH = (7 + 2 * pad - 3) / st + 1, OW = (6 + 2 * pad - 3) / st + 1;
        int64_t *o = NULL;
        CHECK(he_smpc_conv2d(ctx, T, X, Wt, st, pad) == 0 && (o = open_all(ctx, T)), "conv2d");
        CHECK(he_share_size(T) == (size_t)(2 * 4 * OH * OW), "conv shape");
        for (int nn = 0; o && nn < 2; nn++)
            for (int oc = 0; oc < 4; oc++)
                for (int oy = 0; oy < OH; oy++)
                    for (int ox = 0; ox < OW; ox++) {
                        i128 S = 0;
                        for (int c = 0; c < 3; c++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int iy = oy * st - pad + ky, ix = ox * st - pad + kx;
                                    if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                                    S += (i128)x[((nn * 3 + c) * 7 + iy) * 6 + ix] * w[((oc * 3 + c) * 3 + ky) * 3 + kx];
                                }
                        CHECK(trunc_ok(S, 16, o[((nn * 4 + oc) * OH + oy) * OW + ox]), "conv (%d,%d) at %d %d %d %d",
                              st, pad, nn, oc, oy, ox);
                    }
        free(o);
        o = NULL;
    }
    /* average pooling 2x2: window sums times round(2^16 / 4), truncated */
    int64_t *o = NULL;
    CHECK(he_smpc_avgpool2d(ctx, T, X, 2, 2) == 0 && (o = open_all(ctx, T)), "avgpool");
    for (int p = 0; o && p < 6; p++)
        for (int oy = 0; oy < 3; oy++)
            for (int ox = 0; ox < 3; ox++) {
                i128 S = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) S += x[p * 42 + (oy * 2 + dy) * 6 + ox * 2 + dx];
                CHECK(trunc_ok(S * 16384, 16, o[p * 9 + oy * 3 + ox]), "avgpool %d %d %d", p, oy, ox);
            }
    free(o);
    o = NULL;
    he_share_free(X);
    he_share_free(Wt);
    he_share_free(T);
    he_smpc_free(ctx);
}

/* Z_p (p = 2^61 - 1, a prime, 8 bytes on the wire): products and matrix
** products exact against plaintext mod p on random values below 2^28
** (products below 2^56, sums of 7 below 2^59 < p/2), one round of
** resharing, p's bytes per output element from each party. */
static void test_zp(void)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 3;
    c.protocol = HE_SMPC_REP3;
    c.ring = HE_SMPC_ZP;
    c.prime = "2305843009213693951";
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) { CHECK(0, "new: %s", he_errmsg()); return; }
    enum { N = 21 };
    int64_t a[N], b[N], shape[1] = {N}, s2a[2] = {3, 7}, s2b[2] = {7, 3};
    for (int i = 0; i < N; i++) {
        a[i] = rint_((int64_t)1 << 28);
        b[i] = rint_((int64_t)1 << 28);
    }
    he_share *A = in_int(ctx, 0, a, 1, shape, 0), *B = in_int(ctx, 1, b, 1, shape, 0), *T = he_share_new(ctx, 0, NULL, 0);
    int64_t *o = NULL;
    he_smpc_stats st;
    he_smpc_stats_reset(ctx);
    CHECK(A && B && he_smpc_mul(ctx, T, A, B) == 0, "mul: %s", he_errmsg());
    he_smpc_stats_get(ctx, &st);
    CHECK(st.rounds == 1 && st.bytes_sent[0] == 8 * N + 8 && st.bytes_sent[1] == 8 * N + 8 &&
              st.bytes_sent[2] == 8 * N + 8 && st.dealer_requests == 0,
          "mul costs: %llu rounds, %llu B", (unsigned long long)st.rounds, (unsigned long long)st.bytes_sent[0]);
    CHECK((o = open_all(ctx, T)) != NULL, "reveal");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == a[i] * b[i], "mul %d", i);
    free(o);
    o = NULL;
    he_share *MA = in_int(ctx, 2, a, 2, s2a, 0), *MB = in_int(ctx, 0, b, 2, s2b, 0);
    CHECK(MA && MB && he_smpc_matmul(ctx, T, MA, MB) == 0 && (o = open_all(ctx, T)), "matmul: %s", he_errmsg());
    for (int i = 0; o && i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int64_t S = 0;
            for (int l = 0; l < 7; l++) S += a[i * 7 + l] * b[l * 3 + j];
            CHECK(o[i * 3 + j] == S, "matmul (%d, %d)", i, j);
        }
    free(o);
    he_share_free(MA);
    he_share_free(MB);
    he_share_free(A);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
}

/* Values near 2^61 raw: the local truncation fails for about 1/8 of the
** elements (x / 2^64), and the simulated run says so (256 elements: it
** passes unnoticed with probability (7/8)^256 < 1e-14). */
static void test_trunc_failure_checked(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    enum { N = 256 };
    int64_t v[N], shape[1] = {N};
    for (int i = 0; i < N; i++) v[i] = ((int64_t)1 << 45) - 1 - (int64_t)i;
    he_share *A = in_int(ctx, 0, v, 1, shape, 16), *T = he_share_new(ctx, 0, NULL, 0);
    double one = 1.0; /* raw product v 2^16 < 2^61: in range, truncated after */
    CHECK(A && he_smpc_mul_public(ctx, T, A, &one, 1) < 0 && strstr(he_errmsg(), "rep3 truncation failed"),
          "no failure reported: %s", he_errmsg());
    he_share_free(A);
    he_share_free(T);
    he_smpc_free(ctx);
}

/* Comparisons, ReLU, max, max pooling, argmax: exact, on random raw values
** over the whole comparable range (|a - b| < 2^63) and near its edges. */
static void test_compare(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    enum { N = 200 };
    int64_t a[N], b[N], shape[1] = {N};
    for (int i = 0; i < N; i++) {
        int64_t lim = i % 3 == 0 ? (int64_t)1 << 61 : i % 3 == 1 ? (int64_t)1 << 20 : 4;
        a[i] = rint_(lim);
        b[i] = i % 7 == 0 ? a[i] : rint_(lim);
    }
    a[0] = ((int64_t)1 << 62) - 1;
    a[1] = -((int64_t)1 << 62) + 1;
    a[2] = 0;
    a[3] = -1;
    he_share *A = in_int(ctx, 0, a, 1, shape, 16), *B = in_int(ctx, 1, b, 1, shape, 16), *T = he_share_new(ctx, 0, NULL, 0);
    if (!A || !B || !T) { CHECK(0, "inputs"); return; }
    int64_t *o = NULL;
    he_smpc_stats st;
    he_smpc_stats_reset(ctx);
    CHECK(he_smpc_ltz(ctx, T, A) == 0 && (o = open_all(ctx, T)), "ltz");
    he_smpc_stats_get(ctx, &st);
    CHECK(st.rounds == 11 && st.dealer_requests == 0, "ltz: %llu rounds (10 + reveal)", (unsigned long long)st.rounds);
    /* per party: carry-save and G (N words each), the tree's 6 rounds on
    ** w-bit fields packed 64 / w per word, 2 products (N words each), 10
    ** messages; then the reveal (N words, 1 message) */
    uint64_t words = 4 * N;
    for (int w = 64; w > 1; w /= 2) words += (N * (uint64_t)w + 63) / 64;
    for (int j = 0; j < 3; j++)
        CHECK(st.bytes_sent[j] == 8 * words + 10 * 8 + 8 * N + 8, "ltz bytes of party %d: %llu, not %llu", j,
              (unsigned long long)st.bytes_sent[j], (unsigned long long)(8 * words + 10 * 8 + 8 * N + 8));
    for (int i = 0; o && i < N; i++) CHECK(o[i] == (a[i] < 0), "ltz %d: %lld -> %lld", i, (long long)a[i], (long long)o[i]);
    free(o);
    o = NULL;
    CHECK(he_smpc_lt(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "lt");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == (a[i] < b[i]), "lt %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_gt(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "gt");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == (a[i] > b[i]), "gt %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_relu(ctx, T, A) == 0 && (o = open_all(ctx, T)), "relu");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == (a[i] > 0 ? a[i] : 0), "relu %d", i);
    free(o);
    o = NULL;
    CHECK(he_smpc_max(ctx, T, A, B) == 0 && (o = open_all(ctx, T)), "max");
    for (int i = 0; o && i < N; i++) CHECK(o[i] == (a[i] > b[i] ? a[i] : b[i]), "max %d", i);
    free(o);
    o = NULL;
    /* rows of 7 (odd: a bye in the tournament): max and the first argmax */
    int64_t s2[2] = {20, 7};
    int64_t r[140];
    for (int i = 0; i < 140; i++) r[i] = rint_(i < 70 ? 8 : (int64_t)1 << 40);
    he_share *R = in_int(ctx, 2, r, 2, s2, 16);
    CHECK(R && he_smpc_max_reduce(ctx, T, R) == 0 && (o = open_all(ctx, T)), "max_reduce");
    for (int row = 0; o && row < 20; row++) {
        int64_t best = r[row * 7];
        int arg = 0;
        for (int j = 1; j < 7; j++)
            if (r[row * 7 + j] > best) best = r[row * 7 + j], arg = j;
        CHECK(o[row] == best, "max row %d", row);
        (void)arg;
    }
    free(o);
    o = NULL;
    CHECK(R && he_smpc_argmax(ctx, T, R) == 0 && (o = open_all(ctx, T)), "argmax");
    for (int row = 0; o && row < 20; row++) {
        int64_t best = r[row * 7];
        int arg = 0;
        for (int j = 1; j < 7; j++)
            if (r[row * 7 + j] > best) best = r[row * 7 + j], arg = j;
        CHECK(o[row] == arg || r[row * 7 + o[row]] == best, "argmax row %d: %lld, not %d", row, (long long)o[row], arg);
    }
    free(o);
    o = NULL;
    /* max pooling 2x2 stride 2 on (2, 4, 6) */
    int64_t sx[3] = {2, 4, 6}, x[48];
    for (int i = 0; i < 48; i++) x[i] = rint_((int64_t)1 << 30);
    he_share *X = in_int(ctx, 0, x, 3, sx, 16);
    CHECK(X && he_smpc_maxpool2d(ctx, T, X, 2, 2) == 0 && (o = open_all(ctx, T)), "maxpool");
    for (int p = 0; o && p < 2; p++)
        for (int oy = 0; oy < 2; oy++)
            for (int ox = 0; ox < 3; ox++) {
                int64_t m = INT64_MIN;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int64_t e = x[p * 24 + (oy * 2 + dy) * 6 + ox * 2 + dx];
                        if (e > m) m = e;
                    }
                CHECK(o[p * 6 + oy * 3 + ox] == m, "maxpool %d %d %d", p, oy, ox);
            }
    free(o);
    he_share_free(X);
    he_share_free(R);
    he_share_free(A);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
}

static void test_save_load(void)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    char dir[4096], path[4200];
    if (!check_tmpdir(dir, sizeof dir, "rep3")) { CHECK(0, "tmpdir"); return; }
    snprintf(path, sizeof path, "%s/s.share", dir);
    int64_t v[5] = {1, -2, 3, -4, 5}, shape[1] = {5};
    he_share *A = in_int(ctx, 1, v, 1, shape, 16), *B = NULL;
    int64_t *o = NULL;
    CHECK(A && he_share_save(A, path) == 0 && (B = he_share_load(ctx, path)) && (o = open_all(ctx, B)), "save/load");
    for (int i = 0; o && i < 5; i++) CHECK(o[i] == v[i], "loaded %d", i);
    free(o);
    o = NULL;
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 3;
    he_smpc_ctx *d = he_smpc_new(&c);
    he_share *X = d ? he_share_load(d, path) : NULL;
    CHECK(d && !X && strstr(he_errmsg(), "another configuration"), "a dealer context loads rep3 shares");
    he_share_free(X);
    he_smpc_free(d);
    remove(path);
    remove(dir);
    he_share_free(A);
    he_share_free(B);
    he_smpc_free(ctx);
}

/* --- views ---------------------------------------------------------------- */
enum { TRIALS = 1024, VN = 16, BUCKETS = 16 };

static double chi2(const unsigned *h, unsigned total)
{
    double e = (double)total / BUCKETS, c = 0;
    for (int b = 0; b < BUCKETS; b++) c += ((double)h[b] - e) * ((double)h[b] - e) / e;
    return c;
}

static void seed_key(he_smpc_ctx *ctx, int j, const uint8_t *seed)
{
    uint8_t s[32];
    if (seed) memcpy(s, seed, 32);
    else he_randombytes(s, 32);
    prg_seed(&ctx->rep3->key[j], s);
}

/* The first VN words that key j's stream draws after seeding with `seed`. */
static void stream(const uint8_t *seed, uint64_t *out)
{
    smpc_prg p;
    prg_seed(&p, seed);
    prg_u64(&p, out, VN);
}

/* What the receiver gets, for 2 secrets: uniform (chi-square, 15 degrees
** of freedom, below 60: p < 1e-6 for a uniform message); without the mask
** of the key it does not hold (`hidden`), far from uniform. kind: 0 input
** (party 1's, as seen by party 0), 1 product (party 0 receives z_1), 2
** truncation (party 2 receives y_0), 3 a fixed-point product, its
** resharing fused with the truncation (party 2 receives y_0, masked by the
** r that key 1 draws after the product's zero-sharing F_1). */
static void view(int kind)
{
    he_smpc_ctx *ctx = rep3(16);
    if (!ctx) { CHECK(0, "new"); return; }
    /* the receiver's fixed keys and shares */
    uint8_t fixed[2][32];
    he_randombytes(fixed[0], 32);
    he_randombytes(fixed[1], 32);
    int recv = kind >= 2 ? 2 : 0, k0 = recv, k1 = (recv + 1) % 3, hidden = (recv + 2) % 3;
    uint64_t own[2][2][VN]; /* [operand][component][elem]: the receiver's two components */
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < VN; i++) own[a][c][i] = he_prng_u64(&g);
    int64_t shape[1] = {VN};
    for (int secret = 0; secret < 2; secret++) {
        int64_t x[VN], y[VN];
        for (int i = 0; i < VN; i++) {
            x[i] = secret ? rint_((int64_t)1 << (kind == 3 ? 24 : 40)) : (int64_t)i;
            y[i] = secret ? rint_((int64_t)1 << (kind == 3 ? 16 : 20)) : 1;
        }
        unsigned hm[BUCKETS] = {0}, hu[BUCKETS] = {0};
        for (int t = 0; t < TRIALS; t++) {
            uint8_t hseed[32];
            he_randombytes(hseed, 32);
            seed_key(ctx, k0, fixed[0]);
            seed_key(ctx, k1, fixed[1]);
            seed_key(ctx, hidden, hseed);
            uint64_t msg[VN], mask[VN];
            if (kind == 0) {
                /* party 1 inputs x: x_1 from key 1 (held by 0), x_2 from key 2
                ** (not held by 0), party 0 receives x_0 = x - x_1 - x_2 */
                he_share *s = in_int(ctx, 1, x, 1, shape, 0);
                if (!s) { CHECK(0, "input"); return; }
                memcpy(msg, s->u[0], sizeof msg);
                uint64_t m2[VN];
                stream(hseed, m2);
                for (int i = 0; i < VN; i++) mask[i] = -m2[i];
                he_share_free(s);
            } else {
                int fr = kind == 3 ? 16 : 0;
                he_share *X = he_share_new(ctx, 1, shape, fr), *Y = he_share_new(ctx, 1, shape, fr),
                         *Z = he_share_new(ctx, 0, NULL, 0);
                /* the receiver holds components recv and recv+1 */
                for (int i = 0; i < VN; i++) {
                    X->u[k0][i] = own[0][0][i];
                    X->u[k1][i] = own[0][1][i];
                    X->u[hidden][i] = (uint64_t)x[i] - own[0][0][i] - own[0][1][i];
                    Y->u[k0][i] = own[1][0][i];
                    Y->u[k1][i] = own[1][1][i];
                    Y->u[hidden][i] = (uint64_t)y[i] - own[1][0][i] - own[1][1][i];
                }
                if (kind == 1) {
                    /* party 0 receives z_1, masked by F_1 - F_2 (key 2 not held by 0) */
                    CHECK(he_smpc_mul(ctx, Z, X, Y) == 0, "mul");
                    memcpy(msg, Z->u[1], sizeof msg);
                    uint64_t f2[VN];
                    stream(hseed, f2);
                    for (int i = 0; i < VN; i++) mask[i] = -f2[i];
                } else if (kind == 3) {
                    /* party 2 receives y_0 = ((z_0 + z_1) >> f) - r; key 1
                    ** drew F_1 for the product, then r */
                    CHECK(he_smpc_mul(ctx, Z, X, Y) == 0 || strstr(he_errmsg(), "truncation failed"), "mul: %s",
                          he_errmsg());
                    he_clearerr();
                    memcpy(msg, Z->u[0], sizeof msg);
                    smpc_prg p;
                    prg_seed(&p, hseed);
                    uint64_t r[VN];
                    prg_u64(&p, r, VN); /* F_1 */
                    prg_u64(&p, r, VN); /* r */
                    for (int i = 0; i < VN; i++) mask[i] = -r[i];
                } else {
                    /* party 2 receives y_0 = ((x_0 + x_1) >> f) - r, r from key 1 */
                    CHECK(rep3_trunc(ctx, X->u, VN, 16) == 0 || strstr(he_errmsg(), "truncation failed"), "trunc");
                    he_clearerr();
                    memcpy(msg, X->u[0], sizeof msg);
                    uint64_t r[VN];
                    stream(hseed, r);
                    for (int i = 0; i < VN; i++) mask[i] = -r[i];
                }
                he_share_free(X);
                he_share_free(Y);
                he_share_free(Z);
            }
            for (int i = 0; i < VN; i++) {
                hm[msg[i] >> 60]++;
                hu[(msg[i] - mask[i]) >> 60]++;
            }
        }
        double cm = chi2(hm, TRIALS * VN), cu = chi2(hu, TRIALS * VN);
        CHECK(cm < 60, "kind %d secret %d: the message is not uniform (chi2 %.1f)", kind, secret, cm);
        CHECK(cu > 1000, "kind %d secret %d: the unmasked message looks uniform (chi2 %.1f): vacuous", kind, secret, cu);
    }
    he_smpc_free(ctx);
}

static void test_view_input(void) { view(0); }
static void test_view_mul(void) { view(1); }
static void test_view_trunc(void) { view(2); }
static void test_view_mul_trunc(void) { view(3); }

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 33);
    RUN(test_config);
    RUN(test_share_reveal);
    RUN(test_linear);
    RUN(test_mul);
    RUN(test_matmul);
    RUN(test_conv_pool);
    RUN(test_zp);
    RUN(test_trunc_failure_checked);
    RUN(test_compare);
    RUN(test_save_load);
    RUN(test_view_input);
    RUN(test_view_mul);
    RUN(test_view_trunc);
    RUN(test_view_mul_trunc);
    return 0;
}
