/*
** cmp.c: comparisons on shares over Z_2^64, and what is built on them:
** ReLU, max, max pooling, argmax.
**
** Protocol (dealer-assisted, "edaBit" style): msb(x), the sign of x.
**   Dealer: a random r shared arithmetically, its 64 bits shared in XOR
**   shares (bit-sliced: plane i holds bit i of 64 elements per word), binary
**   Beaver triples for the AND gates, and a random bit s shared both ways.
**   1. open c = x + r                                      1 round, 8 B/elem
**   2. x = c - r, so msb(x) = c63 ^ r63 ^ borrow, with borrow = [c mod 2^63
**      < r mod 2^63]: a comparison of the public bits of c with the shared
**      bits of r. Leaves (per bit i): lt_i = ~c_i & r_i, eq_i = ~(c_i ^ r_i)
**      (local: c is public); a binary tree combines (hi, lo):
**          lt = lt_hi ^ (eq_hi & lt_lo),   eq = eq_hi & eq_lo
**      (the lowest node of each level needs no eq): 6 levels, 1 round each,
**      63+31+15+7+3+1 = 120 AND gates, each opening 2 bits: 30 B/elem.
**   3. B2A: open t = msb ^ s (1 bit/elem, 1 round); [msb] = t + [s] - 2t[s].
**   Total: 8 rounds, about 38 B/elem to each other party. Exact whenever
**   |x| < 2^63 (as a signed raw value).
** ReLU(x) = x - x * msb(x): the product (Beaver, 16 B/elem, no truncation)
** shares the last round with the B2A, so ReLU is 8 rounds, ~54 B/elem.
*/
#include <string.h>

#include "smpc/smpc_int.h"

typedef struct lpbuf {
    int nloc;
    size_t n;
    uint64_t *p[HE_SMPC_MAXPARTIES];
} lpbuf;

static int lp_alloc(const he_smpc_ctx *ctx, lpbuf *b, size_t n)
{
    b->nloc = ctx->nloc;
    b->n = n;
    for (int lp = 0; lp < b->nloc; lp++) b->p[lp] = NULL;
    for (int lp = 0; lp < b->nloc; lp++)
        if (!(b->p[lp] = he_calloc(n + 1, 8))) return -1;
    return 0;
}

static void lp_free(lpbuf *b)
{
    for (int lp = 0; lp < b->nloc; lp++)
        if (b->p[lp]) he_free_secret(b->p[lp], (b->n + 1) * 8);
    b->nloc = 0;
}

/* Material taken over from a prefetch, or asked for now. */
static int take(he_smpc_ctx *ctx, smpc_mat *pre, const mat_req *r, smpc_mat *m)
{
    if (pre) {
        *m = *pre;
        memset(pre, 0, sizeof *pre);
        return 0;
    }
    return mat_get(ctx, r, m);
}

static int get_triple(he_smpc_ctx *ctx, size_t N, smpc_mat *m)
{
    mat_req r = {.kind = MAT_TRIPLE, .p = {(int64_t)N}};
    return mat_get(ctx, &r, m);
}

static int get_cmp(he_smpc_ctx *ctx, size_t N, smpc_mat *m)
{
    mat_req r = {.kind = MAT_CMP, .p = {(int64_t)N}};
    return mat_get(ctx, &r, m);
}

/* With vals == NULL: bits[lp][i] = arithmetic shares of msb(x_i).
** With vals (cols * N words per party) and a triple of cols * N: instead
** bits[lp][c N + i] = vals[c N + i] * msb(x_i), the product folded into the
** last round: the parties multiply vals by the dealer's random bit s (whose
** xor with msb they open in that same round, t = msb ^ s), and then
** v msb = t ? v - v s : v s. 8 rounds either way. */
static int ltz_raw(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t **bits, smpc_mat *pre, uint64_t *const *vals,
                   size_t cols, smpc_mat *triple)
{
    if (ctx->rep3) return rep3_ltz(ctx, x, N, bits, vals, cols); /* no dealer: rep3.c */
    if (N == 0) return 0;
    size_t W = (N + 63) / 64;
    mat_req r = {.kind = MAT_CMP, .p = {(int64_t)N}};
    smpc_mat m;
    if (take(ctx, pre, &r, &m) < 0) return -1;
    lpbuf cs = {0}, lt = {0}, eq = {0}, de = {0}, gx = {0}, gy = {0};
    size_t osz = (2 * 2 * 32 * W + 1) * 8, V = vals ? cols * N : 0;
    uint64_t *c = he_malloc((N + 1) * 8), *cp = he_calloc(64 * W, 8), *o = he_malloc(osz);
    int rc = -1;
    if (!c || !cp || !o) goto out;
    if (lp_alloc(ctx, &cs, N) < 0 || lp_alloc(ctx, &lt, 64 * W) < 0 || lp_alloc(ctx, &eq, 64 * W) < 0 ||
        lp_alloc(ctx, &de, 2 * 64 * W) < 0 || lp_alloc(ctx, &gx, 64 * W) < 0 || lp_alloc(ctx, &gy, 64 * W) < 0)
        goto out;
    /* 1. c = x + r */
    for (int lp = 0; lp < ctx->nloc; lp++) {
        const uint64_t *rr = mat_u64(&m, lp, 0);
        for (size_t i = 0; i < N; i++) cs.p[lp][i] = x[lp][i] + rr[i];
    }
    if (open_u64(ctx, cs.p, N, c, false) < 0 || mat_wait(ctx, &m) < 0) goto out;
    for (size_t e = 0; e < N; e++)
        for (int b = 0; b < 64; b++) cp[b * W + e / 64] |= ((c[e] >> b) & 1) << (e % 64);
    /* 2. leaves */
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        const uint64_t *rb = mat_u64(&m, lp, 1);
        for (int b = 0; b < 63; b++)
            for (size_t w = 0; w < W; w++) {
                lt.p[lp][b * W + w] = ~cp[b * W + w] & rb[b * W + w];
                eq.p[lp][b * W + w] = rb[b * W + w] ^ (p0 ? ~cp[b * W + w] : 0);
            }
        for (size_t w = 0; w < W; w++) {
            lt.p[lp][63 * W + w] = 0;
            eq.p[lp][63 * W + w] = p0 ? ~(uint64_t)0 : 0;
        }
    }
    /* the tree */
    size_t toff = 0;
    for (int level = 1; level <= CMP_LEVELS; level++) {
        size_t cnt = (size_t)64 >> level, G = 2 * cnt - 1;
        for (int lp = 0; lp < ctx->nloc; lp++) {
            const uint64_t *A = mat_u64(&m, lp, 2) + toff, *B = mat_u64(&m, lp, 3) + toff;
            size_t g = 0;
            for (size_t j = 0; j < cnt; j++, g++)
                for (size_t w = 0; w < W; w++) {
                    gx.p[lp][g * W + w] = eq.p[lp][(2 * j + 1) * W + w];
                    gy.p[lp][g * W + w] = lt.p[lp][(2 * j) * W + w];
                }
            for (size_t j = 1; j < cnt; j++, g++)
                for (size_t w = 0; w < W; w++) {
                    gx.p[lp][g * W + w] = eq.p[lp][(2 * j + 1) * W + w];
                    gy.p[lp][g * W + w] = eq.p[lp][(2 * j) * W + w];
                }
            for (size_t i = 0; i < G * W; i++) {
                de.p[lp][i] = gx.p[lp][i] ^ A[i];
                de.p[lp][G * W + i] = gy.p[lp][i] ^ B[i];
            }
        }
        if (open_u64(ctx, de.p, 2 * G * W, o, true) < 0) goto out;
        for (int lp = 0; lp < ctx->nloc; lp++) {
            bool p0 = party_of(ctx, lp) == 0;
            const uint64_t *A = mat_u64(&m, lp, 2) + toff, *B = mat_u64(&m, lp, 3) + toff,
                           *C = mat_u64(&m, lp, 4) + toff;
            for (size_t i = 0; i < G * W; i++) {
                uint64_t d = o[i], e = o[G * W + i];
                gx.p[lp][i] = C[i] ^ (d & B[i]) ^ (e & A[i]) ^ (p0 ? d & e : 0); /* AND outputs */
            }
            for (size_t j = 0; j < cnt; j++)
                for (size_t w = 0; w < W; w++) lt.p[lp][j * W + w] = lt.p[lp][(2 * j + 1) * W + w] ^ gx.p[lp][j * W + w];
            for (size_t j = 1; j < cnt; j++)
                for (size_t w = 0; w < W; w++) eq.p[lp][j * W + w] = gx.p[lp][(cnt + j - 1) * W + w];
        }
        toff += G * W;
    }
    /* msb (xor shares), then 3. B2A (with the product folded in) */
    if (vals) {
        lp_free(&de);
        he_free_secret(o, osz);
        osz = (W + 2 * V + 1) * 8;
        o = he_malloc(osz);
        if (!o || lp_alloc(ctx, &de, W + 2 * V) < 0) goto out;
        if (mat_wait(ctx, triple) < 0) goto out;
    }
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        const uint64_t *rb = mat_u64(&m, lp, 1), *sx = mat_u64(&m, lp, 5), *sa = mat_u64(&m, lp, 6);
        for (size_t w = 0; w < W; w++) de.p[lp][w] = (p0 ? cp[63 * W + w] : 0) ^ rb[63 * W + w] ^ lt.p[lp][w] ^ sx[w];
        if (vals) {
            const uint64_t *ta = mat_u64(triple, lp, 0), *tb = mat_u64(triple, lp, 1);
            for (size_t k = 0; k < V; k++) {
                de.p[lp][W + k] = vals[lp][k] - ta[k];
                de.p[lp][W + V + k] = sa[k % N] - tb[k];
            }
        }
    }
    if (open_u64_mix(ctx, de.p, W, W + 2 * V, o) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        const uint64_t *sa = mat_u64(&m, lp, 6);
        if (!vals) {
            for (size_t e = 0; e < N; e++) {
                uint64_t t = (o[e / 64] >> (e % 64)) & 1;
                bits[lp][e] = t ? (p0 ? 1 : 0) - sa[e] : sa[e];
            }
            continue;
        }
        const uint64_t *ta = mat_u64(triple, lp, 0), *tb = mat_u64(triple, lp, 1), *tc = mat_u64(triple, lp, 2);
        for (size_t k = 0; k < V; k++) {
            size_t e = k % N;
            uint64_t d = o[W + k], f = o[W + V + k];
            uint64_t vs = tc[k] + d * tb[k] + f * ta[k] + (p0 ? d * f : 0); /* v * s */
            uint64_t t = (o[e / 64] >> (e % 64)) & 1;
            bits[lp][k] = t ? vals[lp][k] - vs : vs;
        }
    }
    rc = 0;
out:
    lp_free(&cs);
    lp_free(&lt);
    lp_free(&eq);
    lp_free(&de);
    lp_free(&gx);
    lp_free(&gy);
    if (c) he_free_secret(c, (N + 1) * 8);
    if (cp) he_free_secret(cp, 64 * W * 8);
    if (o) he_free_secret(o, osz);
    mat_free(ctx, &m);
    return rc;
}

/* p = d * msb(d), the comparison and the triple asked for together. */
static int times_ltz(he_smpc_ctx *ctx, uint64_t *const *d, size_t N, uint64_t **p)
{
    smpc_mat mc = {0}, mt = {0};
    int rc = -1;
    if (N == 0) return 0;
    if (ctx->rep3) return ltz_raw(ctx, d, N, p, NULL, d, 1, NULL);
    if (get_cmp(ctx, N, &mc) < 0) return -1;
    if (get_triple(ctx, N, &mt) < 0) goto out;
    if (ltz_raw(ctx, d, N, p, &mc, d, 1, &mt) < 0) goto out;
    rc = 0;
out:
    mat_free(ctx, &mc);
    mat_free(ctx, &mt);
    return rc;
}

/* out = max(a, b) = a - (a - b) [a < b]. 8 rounds. */
static int max_raw(he_smpc_ctx *ctx, uint64_t *const *a, uint64_t *const *b, size_t N, uint64_t **out)
{
    lpbuf d = {0}, s = {0};
    int rc = -1;
    if (lp_alloc(ctx, &d, N) < 0 || lp_alloc(ctx, &s, N) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < N; i++) d.p[lp][i] = a[lp][i] - b[lp][i];
    if (times_ltz(ctx, d.p, N, s.p) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < N; i++) out[lp][i] = a[lp][i] - s.p[lp][i];
    rc = 0;
out:
    lp_free(&d);
    lp_free(&s);
    return rc;
}

static int check2(he_smpc_ctx *ctx, he_share *out, const he_share *a, const char *what)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (ctx->ring != HE_SMPC_RING64) return he_error("smpc: %s works over Z_2^64 only (this context is Z_p)", what);
    return 0;
}

int he_smpc_ltz(he_smpc_ctx *ctx, he_share *out, const he_share *x)
{
    if (check2(ctx, out, x, "comparison") < 0) return -1;
    he_share *t = share_alloc(ctx, x->ndim, x->shape, 0);
    if (!t) return -1;
    if (ltz_raw(ctx, x->u, x->size, t->u, NULL, NULL, 0, NULL) < 0) {
        he_share_free(t);
        return -1;
    }
    share_move(out, t);
    return 0;
}

int he_smpc_lt(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b)
{
    if (check2(ctx, out, a, "comparison") < 0 || share_same_ctx(ctx, b) < 0) return -1;
    he_share *d = share_alloc(ctx, a->ndim, a->shape, a->frac);
    if (!d) return -1;
    int rc = share_addsub(ctx, d, a, b, true, "comparison", OV_DIFF);
    if (rc == 0) rc = he_smpc_ltz(ctx, out, d);
    he_share_free(d);
    return rc;
}

int he_smpc_gt(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) { return he_smpc_lt(ctx, out, b, a); }

int he_smpc_relu(he_smpc_ctx *ctx, he_share *out, const he_share *x)
{
    if (check2(ctx, out, x, "relu") < 0) return -1;
    size_t N = x->size;
    he_share *t = share_alloc(ctx, x->ndim, x->shape, x->frac);
    lpbuf s = {0};
    int rc = -1;
    if (!t || lp_alloc(ctx, &s, N) < 0) goto out;
    if (times_ltz(ctx, x->u, N, s.p) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < N; i++) t->u[lp][i] = x->u[lp][i] - s.p[lp][i];
    share_move(out, t);
    t = NULL;
    rc = 0;
out:
    lp_free(&s);
    he_share_free(t);
    return rc;
}

int he_smpc_max(he_smpc_ctx *ctx, he_share *out, const he_share *a0, const he_share *b0)
{
    if (check2(ctx, out, a0, "max") < 0 || share_same_ctx(ctx, b0) < 0) return -1;
    if (a0->frac != b0->frac) return he_error("smpc: fixed-point scales differ (%d and %d)", a0->frac, b0->frac);
    const he_share *a, *b;
    if (share_broadcast(ctx, a0, b0, &a, &b) < 0) return -1;
    he_share *t = NULL;
    int rc = -1;
    if (ov_on(ctx) && ov_binary(ctx, "max", "the difference a - b", OV_DIFF, a->frac, a, b, '-') < 0) goto out;
    t = share_alloc(ctx, a->ndim, a->shape, a->frac);
    if (t && max_raw(ctx, a->u, b->u, a->size, t->u) == 0) {
        share_move(out, t);
        t = NULL;
        rc = 0;
    }
out:
    he_share_free(t);
    release_pair(a0, b0, a, b);
    return rc;
}

/* SIM: the differences a - b of the pairs of one tournament level (rows of
** len values, h pairs each) must fit the comparison. */
static int pairs_check(const he_smpc_ctx *ctx, const char *op, int frac, const lpbuf *v, size_t R, size_t len, size_t h)
{
    int64_t *V = ov_open_u64(ctx, v->p, R * len);
    if (!V) return -1;
    int rc = 0;
    for (size_t r = 0; r < R && rc == 0; r++)
        for (size_t j = 0; j < h && rc == 0; j++) {
            i128 d = (i128)V[r * len + 2 * j] - V[r * len + 2 * j + 1];
            if (HE_UNLIKELY(d < INT64_MIN || d > INT64_MAX))
                rc = ov_fail(ctx, op, "the difference a - b", OV_DIFF, frac, d, r, R);
        }
    ov_close(V, R * len);
    return rc;
}

/* Tournament over rows: v (R x L) -> R maxima (and with idx != NULL, the
** index of the first maximum: a carried integer share). */
static int tournament(he_smpc_ctx *ctx, const lpbuf *v0, size_t R, size_t L, uint64_t **outv, uint64_t **outi,
                      const char *op, int frac)
{
    lpbuf v = {0}, ix = {0}, A = {0}, B = {0}, s = {0}, nv = {0}, ni = {0};
    int rc = -1;
    if (lp_alloc(ctx, &v, R * L) < 0 || lp_alloc(ctx, &ix, R * L) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        memcpy(v.p[lp], v0->p[lp], R * L * 8);
        bool p0 = party_of(ctx, lp) == 0;
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < L; j++) ix.p[lp][r * L + j] = p0 ? j : 0;
    }
    size_t len = L;
    while (len > 1) {
        size_t h = len / 2, nl = h + (len & 1);
        size_t P = R * h;
        if (ov_on(ctx) && pairs_check(ctx, op, frac, &v, R, len, h) < 0) goto out;
        /* A: even positions, B: odd; for argmax also the index differences */
        size_t cols = outi ? 2 : 1;
        if (lp_alloc(ctx, &A, P) < 0 || lp_alloc(ctx, &B, cols * P) < 0 || lp_alloc(ctx, &s, cols * P) < 0 ||
            lp_alloc(ctx, &nv, R * nl) < 0 || lp_alloc(ctx, &ni, R * nl) < 0)
            goto out;
        for (int lp = 0; lp < ctx->nloc; lp++)
            for (size_t r = 0; r < R; r++)
                for (size_t j = 0; j < h; j++) {
                    size_t k = r * h + j;
                    A.p[lp][k] = v.p[lp][r * len + 2 * j + 1] - v.p[lp][r * len + 2 * j]; /* b - a */
                    B.p[lp][k] = A.p[lp][k];
                    if (outi) B.p[lp][P + k] = ix.p[lp][r * len + 2 * j + 1] - ix.p[lp][r * len + 2 * j];
                }
        /* g = [a < b] = msb(a - b); a - b = -(b - a) */
        for (int lp = 0; lp < ctx->nloc; lp++)
            for (size_t k = 0; k < P; k++) A.p[lp][k] = -A.p[lp][k];
        smpc_mat mc = {0}, mt = {0};
        int r1 = ctx->rep3 ? 0 : get_cmp(ctx, P, &mc);
        if (r1 == 0 && !ctx->rep3) r1 = get_triple(ctx, cols * P, &mt);
        if (r1 == 0) r1 = ltz_raw(ctx, A.p, P, s.p, &mc, B.p, cols, &mt);
        mat_free(ctx, &mc);
        mat_free(ctx, &mt);
        if (r1 < 0) goto out;
        for (int lp = 0; lp < ctx->nloc; lp++)
            for (size_t r = 0; r < R; r++) {
                for (size_t j = 0; j < h; j++) {
                    size_t k = r * h + j;
                    nv.p[lp][r * nl + j] = v.p[lp][r * len + 2 * j] + s.p[lp][k];
                    if (outi) ni.p[lp][r * nl + j] = ix.p[lp][r * len + 2 * j] + s.p[lp][P + k];
                }
                if (len & 1) {
                    nv.p[lp][r * nl + h] = v.p[lp][r * len + len - 1];
                    ni.p[lp][r * nl + h] = ix.p[lp][r * len + len - 1];
                }
            }
        lp_free(&v);
        lp_free(&ix);
        v = nv;
        ix = ni;
        nv.nloc = ni.nloc = 0;
        lp_free(&A);
        lp_free(&B);
        lp_free(&s);
        len = nl;
    }
    for (int lp = 0; lp < ctx->nloc; lp++) {
        if (outv) memcpy(outv[lp], v.p[lp], R * 8);
        if (outi) memcpy(outi[lp], ix.p[lp], R * 8);
    }
    rc = 0;
out:
    lp_free(&v);
    lp_free(&ix);
    lp_free(&A);
    lp_free(&B);
    lp_free(&s);
    lp_free(&nv);
    lp_free(&ni);
    return rc;
}

static int reduce_last(he_smpc_ctx *ctx, he_share *out, const he_share *a, bool arg)
{
    if (check2(ctx, out, a, arg ? "argmax" : "max") < 0) return -1;
    if (a->ndim < 1 || a->shape[a->ndim - 1] < 1) return he_error("smpc: %s of an empty share tensor", arg ? "argmax" : "max");
    size_t L = (size_t)a->shape[a->ndim - 1], R = a->size / L;
    int64_t shape[HE_SMPC_MAXDIM];
    int nd = a->ndim - 1;
    for (int i = 0; i < nd; i++) shape[i] = a->shape[i];
    if (nd == 0) shape[nd++] = 1;
    he_share *t = share_alloc(ctx, nd, shape, arg ? 0 : a->frac);
    lpbuf v = {0};
    int rc = -1;
    if (!t || lp_alloc(ctx, &v, a->size) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) memcpy(v.p[lp], a->u[lp], a->size * 8);
    if (tournament(ctx, &v, R, L, arg ? NULL : t->u, arg ? t->u : NULL, arg ? "argmax" : "max", a->frac) < 0) goto out;
    share_move(out, t);
    t = NULL;
    rc = 0;
out:
    lp_free(&v);
    he_share_free(t);
    return rc;
}

int he_smpc_max_reduce(he_smpc_ctx *ctx, he_share *out, const he_share *a) { return reduce_last(ctx, out, a, false); }
int he_smpc_argmax(he_smpc_ctx *ctx, he_share *out, const he_share *a) { return reduce_last(ctx, out, a, true); }

int he_smpc_maxpool2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, int k, int s)
{
    if (check2(ctx, out, x, "maxpool2d") < 0) return -1;
    int64_t shape[4];
    if (pool_shape(x, k, s, "maxpool2d", shape) < 0) return -1;
    int d = x->ndim;
    int64_t H = x->shape[d - 2], W = x->shape[d - 1], OH = shape[d - 2], OW = shape[d - 1];
    size_t planes = x->size / (size_t)(H * W), R = planes * (size_t)(OH * OW), L = (size_t)k * (size_t)k;
    he_share *t = share_alloc(ctx, d, shape, x->frac);
    lpbuf v = {0};
    int rc = -1;
    if (!t || lp_alloc(ctx, &v, R * L) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t p = 0; p < planes; p++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    size_t row = p * (size_t)(OH * OW) + (size_t)(oy * OW + ox);
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++)
                            v.p[lp][row * L + (size_t)(dy * k + dx)] =
                                x->u[lp][p * (size_t)(H * W) + (size_t)((oy * s + dy) * W + ox * s + dx)];
                }
    if (tournament(ctx, &v, R, L, t->u, NULL, "maxpool", x->frac) < 0) goto out;
    share_move(out, t);
    t = NULL;
    rc = 0;
out:
    lp_free(&v);
    he_share_free(t);
    return rc;
}
