/*
** proto.c: opening, input, reveal, linear algebra, Beaver products,
** truncation.
**
** Round and byte costs are per party and per other party (n-1 of them):
**   open / reveal        1 round, 8 B/elem (Z_p: bytes of p)
**   input (share)        1 round, 32 B (a seed) from the owner
**   mul (Beaver triple)  1 round, 16 B/elem      [+ truncation]
**   matmul (m,k)@(k,n)   1 round, 8 (mk + kn) B   [+ truncation]
**   conv2d               1 round, 8 (|x| + |w|) B [+ truncation]
**   truncation (dealer)  2 rounds, 8 (n-1)/n B/elem + 1 bit; (local, 2 parties) 0
** Every message also carries an 8-byte header.
*/
#include <string.h>

#include "smpc/smpc_int.h"

/* --- openings ------------------------------------------------------------------- */
static void sim_count(he_smpc_ctx *ctx, uint64_t mask_to, size_t bytes)
{
    for (int i = 0; i < ctx->n; i++)
        for (int j = 0; j < ctx->n; j++)
            if (j != i && ((mask_to >> j) & 1)) {
                ctx->stats.bytes_sent[i] += bytes + 8;
                ctx->stats.messages++;
            }
}

static uint64_t all_mask(const he_smpc_ctx *ctx) { return ctx->n == 64 ? UINT64_MAX : (((uint64_t)1 << ctx->n) - 1); }

/* Opens x to the parties in mask (all of them included in ctx): the first
** nxor elements XOR-shared, the rest additively shared. */
static int open_masked(he_smpc_ctx *ctx, uint64_t *const *x, size_t nxor, size_t N, uint64_t mask, uint64_t *out)
{
    stats_round(ctx);
    if (ctx->mode == HE_SMPC_SIM) {
        for (size_t i = 0; i < N; i++) {
            uint64_t s = 0;
            if (i < nxor)
                for (int lp = 0; lp < ctx->n; lp++) s ^= x[lp][i];
            else
                for (int lp = 0; lp < ctx->n; lp++) s += x[lp][i];
            out[i] = s;
        }
        sim_count(ctx, mask, N * 8);
        return 0;
    }
    for (int j = 0; j < ctx->n; j++)
        if (j != ctx->me && ((mask >> j) & 1) && net_send(ctx, j, MSG_DATA, x[0], N * 8) < 0) return -1;
    if (!((mask >> ctx->me) & 1)) return 0;
    uint64_t *tmp = he_malloc((N ? N : 1) * 8);
    if (!tmp) return -1;
    memcpy(out, x[0], N * 8);
    for (int j = 0; j < ctx->n; j++) {
        if (j == ctx->me) continue;
        if (net_recv(ctx, j, MSG_DATA, tmp, N * 8) < 0) {
            he_free_secret(tmp, (N ? N : 1) * 8);
            return -1;
        }
        for (size_t i = 0; i < nxor; i++) out[i] ^= tmp[i];
        for (size_t i = nxor; i < N; i++) out[i] += tmp[i];
    }
    he_free_secret(tmp, (N ? N : 1) * 8);
    return 0;
}

int open_u64_to(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t mask, uint64_t *out)
{
    mask &= all_mask(ctx);
    if (!mask) return he_error("smpc: reveal to nobody (empty party mask)");
    return open_masked(ctx, x, 0, N, mask, out);
}

int open_u64(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t *out, bool xor_)
{
    if (!xor_) return open_u64_to(ctx, x, N, HE_SMPC_ALL, out);
    return open_u64_mix(ctx, x, N, N, out);
}

int open_u64_mix(he_smpc_ctx *ctx, uint64_t *const *x, size_t nxor, size_t N, uint64_t *out)
{
    return open_masked(ctx, x, nxor, N, all_mask(ctx), out);
}

int open_zp_to(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, uint64_t mask, mpz_t *out)
{
    if (ctx->rep3) return rep3_open_zp(ctx, x, N, mask, out);
    mask &= all_mask(ctx);
    if (!mask) return he_error("smpc: reveal to nobody (empty party mask)");
    stats_round(ctx);
    size_t eb = ctx->pbytes;
    if (ctx->mode == HE_SMPC_SIM) {
        for (size_t i = 0; i < N; i++) {
            mpz_set_ui(out[i], 0);
            for (int lp = 0; lp < ctx->n; lp++) mpz_add(out[i], out[i], x[lp][i]);
            mpz_mod(out[i], out[i], ctx->p);
        }
        sim_count(ctx, mask, N * eb);
        return 0;
    }
    uint8_t *buf = he_malloc((N ? N : 1) * eb);
    if (!buf) return -1;
    int rc = -1;
    for (size_t i = 0; i < N; i++) zp_to_bytes(x[0][i], buf + i * eb, eb);
    for (int j = 0; j < ctx->n; j++)
        if (j != ctx->me && ((mask >> j) & 1) && net_send(ctx, j, MSG_DATA, buf, N * eb) < 0) goto out;
    if ((mask >> ctx->me) & 1) {
        mpz_t t;
        mpz_init(t);
        for (size_t i = 0; i < N; i++) mpz_set(out[i], x[0][i]);
        for (int j = 0; j < ctx->n; j++) {
            if (j == ctx->me) continue;
            if (net_recv(ctx, j, MSG_DATA, buf, N * eb) < 0) {
                mpz_clear(t);
                goto out;
            }
            for (size_t i = 0; i < N; i++) {
                zp_from_bytes(t, buf + i * eb, eb);
                mpz_add(out[i], out[i], t);
                mpz_mod(out[i], out[i], ctx->p);
            }
        }
        mpz_clear(t);
    }
    rc = 0;
out:
    he_free_secret(buf, (N ? N : 1) * eb);
    return rc;
}

int open_zp(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, mpz_t *out) { return open_zp_to(ctx, x, N, HE_SMPC_ALL, out); }

/* Element i of N belongs to party block_of: party j owns [lo_j, hi_j). */
static void block_range(const he_smpc_ctx *ctx, size_t N, int j, size_t *lo, size_t *hi)
{
    *lo = N * (size_t)j / (size_t)ctx->n;
    *hi = N * (size_t)(j + 1) / (size_t)ctx->n;
}

/* Each party learns the sum of the shares of its own block only: 1 round,
** (N - |own block|) * 8 B per party in all. out[i] is written for the
** elements of the blocks of the parties held here. */
static int open_blocks(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t *out)
{
    stats_round(ctx);
    size_t lo, hi;
    if (ctx->mode == HE_SMPC_SIM) {
        for (size_t i = 0; i < N; i++) {
            uint64_t s = 0;
            for (int lp = 0; lp < ctx->n; lp++) s += x[lp][i];
            out[i] = s;
        }
        for (int j = 0; j < ctx->n; j++) {
            block_range(ctx, N, j, &lo, &hi);
            if (hi == lo) continue;
            for (int i = 0; i < ctx->n; i++)
                if (i != j) {
                    ctx->stats.bytes_sent[i] += (hi - lo) * 8 + 8;
                    ctx->stats.messages++;
                }
        }
        return 0;
    }
    for (int j = 0; j < ctx->n; j++) {
        block_range(ctx, N, j, &lo, &hi);
        if (j != ctx->me && hi > lo && net_send(ctx, j, MSG_DATA, x[0] + lo, (hi - lo) * 8) < 0) return -1;
    }
    block_range(ctx, N, ctx->me, &lo, &hi);
    if (hi == lo) return 0;
    uint64_t *tmp = he_malloc((hi - lo) * 8);
    if (!tmp) return -1;
    memcpy(out + lo, x[0] + lo, (hi - lo) * 8);
    for (int j = 0; j < ctx->n; j++) {
        if (j == ctx->me) continue;
        if (net_recv(ctx, j, MSG_DATA, tmp, (hi - lo) * 8) < 0) {
            he_free_secret(tmp, (hi - lo) * 8);
            return -1;
        }
        for (size_t i = 0; i < hi - lo; i++) out[lo + i] += tmp[i];
    }
    he_free_secret(tmp, (hi - lo) * 8);
    return 0;
}

/* Each party tells the others the top bits of its block of the public c:
** 1 round, |block| / 8 B to each other party. */
static int bcast_msb(he_smpc_ctx *ctx, const uint64_t *c, size_t N, uint8_t *msb)
{
    stats_round(ctx);
    size_t lo, hi;
    if (ctx->mode == HE_SMPC_SIM) {
        for (size_t i = 0; i < N; i++) msb[i] = (uint8_t)(c[i] >> 63);
        for (int j = 0; j < ctx->n; j++) {
            block_range(ctx, N, j, &lo, &hi);
            if (hi > lo) {
                ctx->stats.bytes_sent[j] += (uint64_t)(ctx->n - 1) * (((hi - lo + 63) / 64) * 8 + 8);
                ctx->stats.messages += (uint64_t)(ctx->n - 1);
            }
        }
        return 0;
    }
    size_t maxw = (N / (size_t)ctx->n + 1 + 63) / 64 + 1; /* blocks hold floor or ceil of N/n */
    uint64_t *w = he_calloc(maxw, 8);
    int rc = -1;
    if (!w) return -1;
    block_range(ctx, N, ctx->me, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        msb[i] = (uint8_t)(c[i] >> 63);
        w[(i - lo) / 64] |= (c[i] >> 63) << ((i - lo) % 64);
    }
    for (int j = 0; j < ctx->n; j++)
        if (j != ctx->me && hi > lo && net_send(ctx, j, MSG_DATA, w, ((hi - lo + 63) / 64) * 8) < 0) goto out;
    for (int j = 0; j < ctx->n; j++) {
        if (j == ctx->me) continue;
        block_range(ctx, N, j, &lo, &hi);
        if (hi == lo) continue;
        size_t nw = (hi - lo + 63) / 64;
        if (net_recv(ctx, j, MSG_DATA, w, nw * 8) < 0) goto out;
        for (size_t i = lo; i < hi; i++) msb[i] = (uint8_t)((w[(i - lo) / 64] >> ((i - lo) % 64)) & 1);
    }
    rc = 0;
out:
    he_free(w);
    return rc;
}

/* --- checks ---------------------------------------------------------------------- */
static int need_ring64(const he_smpc_ctx *ctx, const char *what)
{
    if (ctx->ring != HE_SMPC_RING64) return he_error("smpc: %s works over Z_2^64 only (this context is Z_p)", what);
    return 0;
}

/* --- input ------------------------------------------------------------------------- */
static int share_in(he_smpc_ctx *ctx, he_share *out, int owner, const int64_t *vals, int ndim, const int64_t *shape,
                    int frac)
{
    if (owner < 0 || owner >= ctx->n) return he_error("smpc: no party %d to take the input from", owner);
    he_share *t = share_alloc(ctx, ndim, shape, frac);
    /* the owner has the values in any mode: out of range is refused here */
    if (t && vals && (ctx->mode == HE_SMPC_SIM || ctx->me == owner) && ov_input(ctx, vals, t->size, frac) < 0) {
        he_share_free(t);
        return -1;
    }
    if (!t) return -1;
    if (ctx->rep3) {
        if (rep3_input(ctx, t, owner, vals) < 0) {
            he_share_free(t);
            return -1;
        }
        share_move(out, t);
        return 0;
    }
    size_t N = t->size;
    bool zp = ctx->ring == HE_SMPC_ZP;
    uint8_t seed[32];
    smpc_prg g;
    int owner_lp = -1;
    stats_round(ctx);
    for (int lp = 0; lp < ctx->nloc; lp++) {
        int party = party_of(ctx, lp);
        if (party == owner) {
            owner_lp = lp;
            continue;
        }
        if (ctx->mode == HE_SMPC_SIM) {
            he_randombytes(seed, 32);
            ctx->stats.bytes_sent[owner] += 32 + 8;
            ctx->stats.messages++;
        } else if (net_recv(ctx, owner, MSG_DATA, seed, 32) < 0) {
            goto fail;
        }
        prg_seed(&g, seed);
        if (zp)
            prg_zp(&g, t->z[lp], N, ctx->p, ctx->pbytes);
        else
            prg_u64(&g, t->u[lp], N);
    }
    if (owner_lp >= 0) {
        if (!vals) {
            he_error("smpc: the input owner (party %d) gave no values", owner);
            goto fail;
        }
        /* owner's share = x - sum of the others' */
        if (zp)
            for (size_t i = 0; i < N; i++) zp_set_i64(t->z[owner_lp][i], vals[i], ctx->p);
        else
            for (size_t i = 0; i < N; i++) t->u[owner_lp][i] = (uint64_t)vals[i];
        if (ctx->mode == HE_SMPC_SIM) {
            for (int lp = 0; lp < ctx->n; lp++) {
                if (lp == owner_lp) continue;
                for (size_t i = 0; i < N; i++) {
                    if (zp)
                        mpz_sub(t->z[owner_lp][i], t->z[owner_lp][i], t->z[lp][i]);
                    else
                        t->u[owner_lp][i] -= t->u[lp][i];
                }
            }
        } else {
            mpz_t *tz = zp ? zp_alloc(N) : NULL;
            uint64_t *tu = zp ? NULL : he_malloc((N ? N : 1) * 8);
            if ((zp && !tz) || (!zp && !tu)) goto fail;
            for (int j = 0; j < ctx->n && 1; j++) {
                if (j == owner) continue;
                he_randombytes(seed, 32);
                prg_seed(&g, seed);
                if (net_send(ctx, j, MSG_DATA, seed, 32) < 0) {
                    zp_free(tz, N);
                    he_free(tu);
                    goto fail;
                }
                if (zp) {
                    prg_zp(&g, tz, N, ctx->p, ctx->pbytes);
                    for (size_t i = 0; i < N; i++) mpz_sub(t->z[0][i], t->z[0][i], tz[i]);
                } else {
                    prg_u64(&g, tu, N);
                    for (size_t i = 0; i < N; i++) t->u[0][i] -= tu[i];
                }
            }
            zp_free(tz, N);
            if (tu) he_free_secret(tu, (N ? N : 1) * 8);
        }
        if (zp)
            for (size_t i = 0; i < N; i++) mpz_mod(t->z[owner_lp][i], t->z[owner_lp][i], ctx->p);
    }
    he_memzero(seed, sizeof seed);
    he_memzero(&g, sizeof g);
    share_move(out, t);
    return 0;
fail:
    he_memzero(seed, sizeof seed);
    he_memzero(&g, sizeof g);
    he_share_free(t);
    return -1;
}

int he_smpc_share_int(he_smpc_ctx *ctx, he_share *out, int owner, const int64_t *vals, int ndim, const int64_t *shape,
                      int frac)
{
    if (share_same_ctx(ctx, out) < 0) return -1;
    if (frac < 0 || frac > 62) return he_error("smpc: fractional bits %d out of range", frac);
    return share_in(ctx, out, owner, vals, ndim, shape, frac);
}

int he_smpc_share_double(he_smpc_ctx *ctx, he_share *out, int owner, const double *vals, int ndim,
                         const int64_t *shape)
{
    if (share_same_ctx(ctx, out) < 0) return -1;
    bool mine = ctx->mode == HE_SMPC_SIM || ctx->me == owner;
    int64_t *raw = NULL;
    size_t N = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return he_error("smpc: negative dimension");
        if (he_mul_size(N, (size_t)shape[i], &N) < 0) return -1;
    }
    if (mine && vals) {
        raw = he_malloc((N ? N : 1) * 8);
        if (!raw) return -1;
        for (size_t i = 0; i < N; i++)
            if (he_smpc_encode(vals[i], ctx->frac, &raw[i]) < 0) {
                he_free_secret(raw, (N ? N : 1) * 8);
                return -1;
            }
    }
    int rc = share_in(ctx, out, owner, raw, ndim, shape, ctx->frac);
    if (raw) he_free_secret(raw, (N ? N : 1) * 8);
    return rc;
}

/* --- reveal ------------------------------------------------------------------------- */
int he_smpc_reveal_mpz(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, mpz_t *out)
{
    if (share_same_ctx(ctx, x) < 0) return -1;
    if (ctx->ring != HE_SMPC_ZP) return he_error("smpc: reveal_mpz is for Z_p");
    return open_zp_to(ctx, x->z, x->size, mask, out);
}

int he_smpc_reveal_int(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, int64_t *out)
{
    if (share_same_ctx(ctx, x) < 0) return -1;
    size_t N = x->size;
    if (ctx->rep3 && ctx->ring == HE_SMPC_RING64) return rep3_open_to(ctx, x, mask, (uint64_t *)out);
    if (ctx->ring == HE_SMPC_RING64) return open_u64_to(ctx, x->u, N, mask, (uint64_t *)out);
    mpz_t *v = zp_alloc(N);
    if (!v) return -1;
    int rc = open_zp_to(ctx, x->z, N, mask, v);
    if (rc == 0 && he_smpc_receives(ctx, mask))
        for (size_t i = 0; i < N && rc == 0; i++) rc = zp_get_i64(v[i], ctx->p, &out[i]);
    zp_free(v, N);
    return rc;
}

int he_smpc_reveal_double(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, double *out)
{
    if (share_same_ctx(ctx, x) < 0) return -1;
    size_t N = x->size;
    int64_t *raw = he_malloc((N ? N : 1) * 8);
    if (!raw) return -1;
    int rc = he_smpc_reveal_int(ctx, x, mask, raw);
    if (rc == 0 && he_smpc_receives(ctx, mask))
        for (size_t i = 0; i < N; i++) out[i] = he_smpc_decode(raw[i], x->frac);
    he_free_secret(raw, (N ? N : 1) * 8);
    return rc;
}

/* --- linear, local -------------------------------------------------------------------- */
/* NumPy broadcasting of two shapes (trailing axes aligned; 1 stretches). */
static int bshape(const he_share *a, const he_share *b, int *nd, int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return he_error("smpc: shapes do not broadcast (axis %d: %lld and %lld)", i, (long long)da, (long long)db);
        shape[i] = da == 1 ? db : da;
    }
    *nd = n;
    return 0;
}

/* a copied out to a broadcast shape (local). */
he_share *share_expand(he_smpc_ctx *ctx, const he_share *a, int nd, const int64_t *shape)
{
    he_share *t = share_alloc(ctx, nd, shape, a->frac);
    if (!t) return NULL;
    int64_t st[HE_SMPC_MAXDIM], acc = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = a->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        st[i] = da == 1 ? 0 : acc;
        acc *= da;
    }
    for (size_t k = 0; k < t->size; k++) {
        size_t rem = k, src = 0;
        for (int i = nd - 1; i >= 0; i--) {
            size_t d = (size_t)shape[i];
            src += (rem % d) * (size_t)st[i];
            rem /= d;
        }
        for (int lp = 0; lp < ctx->nloc; lp++) {
            if (ctx->ring == HE_SMPC_RING64)
                t->u[lp][k] = a->u[lp][src];
            else
                mpz_set(t->z[lp][k], a->z[lp][src]);
        }
    }
    return t;
}

/* Brings a and b to one shape: *pa, *pb are a, b or expanded copies
** (freed with release_pair). */
int share_broadcast(he_smpc_ctx *ctx, const he_share *a, const he_share *b, const he_share **pa, const he_share **pb)
{
    *pa = a;
    *pb = b;
    if (a->ndim == b->ndim && memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0) return 0;
    int nd = 0;
    int64_t shape[HE_SMPC_MAXDIM] = {0};
    if (bshape(a, b, &nd, shape) < 0) return -1;
    if (!(a->ndim == nd && memcmp(a->shape, shape, (size_t)nd * sizeof shape[0]) == 0))
        if (!(*pa = share_expand(ctx, a, nd, shape))) return -1;
    if (!(b->ndim == nd && memcmp(b->shape, shape, (size_t)nd * sizeof shape[0]) == 0))
        if (!(*pb = share_expand(ctx, b, nd, shape))) {
            if (*pa != a) he_share_free((he_share *)*pa);
            return -1;
        }
    return 0;
}

void release_pair(const he_share *a, const he_share *b, const he_share *pa, const he_share *pb)
{
    if (pa != a) he_share_free((he_share *)pa);
    if (pb != b) he_share_free((he_share *)pb);
}

int share_addsub(he_smpc_ctx *ctx, he_share *out, const he_share *a0, const he_share *b0, bool sub, const char *op,
                 ov_what what)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a0) < 0 || share_same_ctx(ctx, b0) < 0) return -1;
    if (a0->frac != b0->frac)
        return he_error("smpc: fixed-point scales differ (%d and %d fractional bits)", a0->frac, b0->frac);
    const he_share *a, *b;
    if (share_broadcast(ctx, a0, b0, &a, &b) < 0) return -1;
    he_share *t = NULL;
    if ((ov_on(ctx) && ov_binary(ctx, op, what == OV_DIFF ? "the difference a - b" : "the result", what, a->frac, a, b,
                                 sub ? '-' : '+') < 0) ||
        !(t = share_alloc(ctx, a->ndim, a->shape, a->frac))) {
        release_pair(a0, b0, a, b);
        return -1;
    }
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < a->size; i++) {
            if (ctx->ring == HE_SMPC_RING64) {
                t->u[lp][i] = sub ? a->u[lp][i] - b->u[lp][i] : a->u[lp][i] + b->u[lp][i];
            } else {
                if (sub)
                    mpz_sub(t->z[lp][i], a->z[lp][i], b->z[lp][i]);
                else
                    mpz_add(t->z[lp][i], a->z[lp][i], b->z[lp][i]);
                mpz_mod(t->z[lp][i], t->z[lp][i], ctx->p);
            }
        }
    release_pair(a0, b0, a, b);
    share_move(out, t);
    return 0;
}

int he_smpc_add(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b)
{
    return share_addsub(ctx, out, a, b, false, "addition", OV_VALUE);
}
int he_smpc_sub(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b)
{
    return share_addsub(ctx, out, a, b, true, "subtraction", OV_VALUE);
}

/* out = a k, public integers k; truncated by tf bits afterwards (by the
** caller) when tf > 0. */
static int scale_shares(he_smpc_ctx *ctx, he_share *out, const he_share *a, const int64_t *k, size_t nv, const char *op,
                        int tf)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (nv != 1 && nv != a->size) return he_error("smpc: %zu public values for %zu elements", nv, a->size);
    if (ov_on(ctx) && ov_scale(ctx, op, tf ? OV_PRODUCT : OV_VALUE, a->frac + tf, a, k, nv) < 0) return -1;
    he_share *t = share_alloc(ctx, a->ndim, a->shape, a->frac);
    if (!t) return -1;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < a->size; i++) {
            int64_t kv = k[nv == 1 ? 0 : i];
            if (ctx->ring == HE_SMPC_RING64) {
                t->u[lp][i] = a->u[lp][i] * (uint64_t)kv;
            } else {
                mpz_mul_si(t->z[lp][i], a->z[lp][i], (long)kv);
                mpz_mod(t->z[lp][i], t->z[lp][i], ctx->p);
            }
        }
    share_move(out, t);
    return 0;
}

int he_smpc_neg(he_smpc_ctx *ctx, he_share *out, const he_share *a)
{
    int64_t m1 = -1;
    return scale_shares(ctx, out, a, &m1, 1, "negation", 0);
}

int he_smpc_mul_public_int(he_smpc_ctx *ctx, he_share *out, const he_share *a, const int64_t *k, size_t nv)
{
    return scale_shares(ctx, out, a, k, nv, "product by a public int", 0);
}

int he_smpc_add_public(he_smpc_ctx *ctx, he_share *out, const he_share *a, const double *v, size_t nv)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (nv != 1 && nv != a->size) return he_error("smpc: %zu public values for %zu elements", nv, a->size);
    if (ov_on(ctx) && ov_add_public(ctx, a, v, nv) < 0) return -1;
    he_share *t = share_alloc(ctx, a->ndim, a->shape, a->frac);
    if (!t) return -1;
    mpz_t c;
    mpz_init(c);
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        for (size_t i = 0; i < a->size; i++) {
            int64_t raw = 0;
            if (p0 && he_smpc_encode(v[nv == 1 ? 0 : i], a->frac, &raw) < 0) {
                mpz_clear(c);
                he_share_free(t);
                return -1;
            }
            if (ctx->ring == HE_SMPC_RING64) {
                t->u[lp][i] = a->u[lp][i] + (uint64_t)raw;
            } else {
                zp_set_i64(c, raw, ctx->p);
                mpz_add(t->z[lp][i], a->z[lp][i], c);
                mpz_mod(t->z[lp][i], t->z[lp][i], ctx->p);
            }
        }
    }
    mpz_clear(c);
    share_move(out, t);
    return 0;
}

int he_smpc_sum(he_smpc_ctx *ctx, he_share *out, const he_share *a, int axis)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (axis < -1 || axis >= a->ndim) return he_error("smpc: no axis %d in a %d-D share tensor", axis, a->ndim);
    int64_t shape[HE_SMPC_MAXDIM];
    int nd = 0;
    size_t outer = 1, len = a->size, inner = 1;
    if (axis >= 0) {
        len = (size_t)a->shape[axis];
        for (int i = 0; i < a->ndim; i++) {
            if (i < axis) outer *= (size_t)a->shape[i];
            if (i > axis) inner *= (size_t)a->shape[i];
            if (i != axis) shape[nd++] = a->shape[i];
        }
    }
    if (nd == 0) shape[nd++] = 1;
    if (ov_on(ctx) && ov_sum(ctx, "sum", a, outer, len, inner) < 0) return -1;
    he_share *t = share_alloc(ctx, nd, shape, a->frac);
    if (!t) return -1;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t o = 0; o < outer; o++)
            for (size_t in = 0; in < inner; in++) {
                size_t dst = o * inner + in;
                if (ctx->ring == HE_SMPC_RING64) {
                    uint64_t s = 0;
                    for (size_t l = 0; l < len; l++) s += a->u[lp][(o * len + l) * inner + in];
                    t->u[lp][dst] = s;
                } else {
                    mpz_set_ui(t->z[lp][dst], 0);
                    for (size_t l = 0; l < len; l++) mpz_add(t->z[lp][dst], t->z[lp][dst], a->z[lp][(o * len + l) * inner + in]);
                    mpz_mod(t->z[lp][dst], t->z[lp][dst], ctx->p);
                }
            }
    share_move(out, t);
    return 0;
}

int he_smpc_transpose(he_smpc_ctx *ctx, he_share *out, const he_share *a)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (a->ndim != 2) return he_error("smpc: transpose needs a 2-D share tensor");
    int64_t shape[2] = {a->shape[1], a->shape[0]};
    size_t R = (size_t)a->shape[0], C = (size_t)a->shape[1];
    he_share *t = share_alloc(ctx, 2, shape, a->frac);
    if (!t) return -1;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < C; c++) {
                if (ctx->ring == HE_SMPC_RING64)
                    t->u[lp][c * R + r] = a->u[lp][r * C + c];
                else
                    mpz_set(t->z[lp][c * R + r], a->z[lp][r * C + c]);
            }
    share_move(out, t);
    return 0;
}

int he_smpc_add_channel(he_smpc_ctx *ctx, he_share *out, const he_share *x, const he_share *b)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, x) < 0 || share_same_ctx(ctx, b) < 0) return -1;
    if (x->ndim != 3 && x->ndim != 4) return he_error("smpc: add_channel needs (C, H, W) or (N, C, H, W)");
    int cax = x->ndim - 3;
    size_t C = (size_t)x->shape[cax];
    if (b->size != C) return he_error("smpc: %zu channel values for %zu channels", b->size, C);
    if (x->frac != b->frac) return he_error("smpc: fixed-point scales differ (%d and %d)", x->frac, b->frac);
    size_t inner = (size_t)(x->shape[cax + 1] * x->shape[cax + 2]);
    if (ov_on(ctx) && ov_add_channel(ctx, x, b, inner) < 0) return -1;
    he_share *t = share_alloc(ctx, x->ndim, x->shape, x->frac);
    if (!t) return -1;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t i = 0; i < x->size; i++) {
            size_t c = (i / inner) % C;
            if (ctx->ring == HE_SMPC_RING64) {
                t->u[lp][i] = x->u[lp][i] + b->u[lp][c];
            } else {
                mpz_add(t->z[lp][i], x->z[lp][i], b->z[lp][c]);
                mpz_mod(t->z[lp][i], t->z[lp][i], ctx->p);
            }
        }
    share_move(out, t);
    return 0;
}

/* --- truncation ------------------------------------------------------------------------- */
/* Divides the shared values by 2^f (floor, off by at most one ulp).
**
** Dealer (any n): the dealer gives shares of a random r, of r >> f and of
** msb(r). With z' = z + 2^62 in [0, 2^63) (|z| < 2^62), the parties open
** c = z' + r mod 2^64, which hides z perfectly; z' + r wrapped around iff
** msb(r) = 1 and msb(c) = 0, so w = msb(r) (1 - msb(c)) is linear in the
** shares and z' = c - r + 2^64 w. Then
**     z' >> f = (c >> f) - (r >> f) + 2^(64-f) w - b,   b in {0, 1}
** (b the borrow of the low f bits), and the result is floor(z / 2^f) or
** floor(z / 2^f) + 1, always. Only one party needs all of c: the elements
** are split in n blocks, party j learns c on block j (and adds the public
** c >> f there), then tells the others msb(c) of its block. 2 rounds,
** 8 (n-1)/n B/elem + 1 bit per element to each other party (n = 2: 4 B +
** 1 bit instead of the 8 B of opening c to all).
**
** Local (SecureML, 2 parties): party 0 shifts its share arithmetically,
** party 1 shifts the negation of its share and negates. When |z| < 2^l the
** result is off by at most 1 ulp except with probability 2^(l+1-64) per
** element (when the shares straddle the wrap-around). 0 rounds. */
int trunc_shares(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f) { return trunc_shares_pre(ctx, z, N, f, NULL); }

bool trunc_needs_dealer(const he_smpc_ctx *ctx, size_t N, int f)
{
    return f > 0 && N > 0 && ctx->trunc == HE_SMPC_TRUNC_DEALER && !ctx->rep3;
}

int trunc_prefetch(he_smpc_ctx *ctx, size_t N, int f, smpc_mat *m)
{
    mat_req r = {.kind = MAT_TRUNC, .p = {(int64_t)N, f}};
    return mat_get(ctx, &r, m);
}

int trunc_shares_pre(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f, smpc_mat *pre)
{
    if (f == 0 || N == 0) return 0;
    if (ctx->rep3) return rep3_trunc(ctx, z, N, f);
    if (ctx->trunc == HE_SMPC_TRUNC_LOCAL) {
        int64_t *before = ov_on(ctx) ? ov_open_u64(ctx, z, N) : NULL;
        if (ov_on(ctx) && !before) return -1;
        for (int lp = 0; lp < ctx->nloc; lp++) {
            if (party_of(ctx, lp) == 0)
                for (size_t i = 0; i < N; i++) z[lp][i] = (uint64_t)((int64_t)z[lp][i] >> f);
            else
                for (size_t i = 0; i < N; i++) z[lp][i] = -(uint64_t)((int64_t)(-z[lp][i]) >> f);
        }
        int rc = before ? ov_trunc_local(ctx, before, z, N, f) : 0;
        ov_close(before, N);
        return rc;
    }
    smpc_mat m;
    if (pre) {
        m = *pre;
        memset(pre, 0, sizeof *pre);
    } else if (trunc_prefetch(ctx, N, f, &m) < 0) {
        return -1;
    }
    uint64_t *cs[HE_SMPC_MAXPARTIES];
    uint64_t *c = he_malloc(N * 8);
    uint8_t *msb = he_malloc(N);
    int rc = -1;
    for (int lp = 0; lp < ctx->nloc; lp++) cs[lp] = NULL;
    if (!c || !msb) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        cs[lp] = he_malloc(N * 8);
        if (!cs[lp]) goto out;
        const uint64_t *rr = mat_u64(&m, lp, 0);
        uint64_t off = party_of(ctx, lp) == 0 ? (uint64_t)1 << 62 : 0;
        for (size_t i = 0; i < N; i++) cs[lp][i] = z[lp][i] + rr[i] + off;
    }
    if (open_blocks(ctx, cs, N, c) < 0 || bcast_msb(ctx, c, N, msb) < 0 || mat_wait(ctx, &m) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        const uint64_t *rf = mat_u64(&m, lp, 1), *rm = mat_u64(&m, lp, 2);
        for (size_t i = 0; i < N; i++) z[lp][i] = (rm[i] * (uint64_t)(1 - msb[i]) << (64 - f)) - rf[i];
        size_t lo, hi;
        block_range(ctx, N, party_of(ctx, lp), &lo, &hi);
        for (size_t i = lo; i < hi; i++) z[lp][i] += (c[i] >> f) - ((uint64_t)1 << (62 - f));
    }
    rc = 0;
out:
    for (int lp = 0; lp < ctx->nloc; lp++)
        if (cs[lp]) he_free_secret(cs[lp], N * 8);
    if (c) he_free_secret(c, N * 8);
    he_free(msb);
    mat_free(ctx, &m);
    return rc;
}

static int mul_public_op(he_smpc_ctx *ctx, he_share *out, const he_share *a, const double *v, size_t nv, const char *op)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0) return -1;
    if (nv != 1 && nv != a->size) return he_error("smpc: %zu public values for %zu elements", nv, a->size);
    int f = ctx->frac;
    if (f > 0 && need_ring64(ctx, "multiplication by a fractional public value (truncation)") < 0) return -1;
    int64_t *k = he_malloc(nv * 8);
    if (!k) return -1;
    for (size_t i = 0; i < nv; i++)
        if (he_smpc_encode(v[i], f, &k[i]) < 0) {
            he_free(k);
            return -1;
        }
    int rc = scale_shares(ctx, out, a, k, nv, op, f);
    he_free(k);
    if (rc == 0) rc = trunc_shares(ctx, out->u, out->size, f);
    return rc;
}

int he_smpc_mul_public(he_smpc_ctx *ctx, he_share *out, const he_share *a, const double *v, size_t nv)
{
    return mul_public_op(ctx, out, a, v, nv, "product by a public value");
}

/* Result scale of a product: truncated back to a's scale when both are fractional. */
static int product_trunc(const he_share *a, const he_share *b, int *outfrac)
{
    if (a->frac > 0 && b->frac > 0) {
        *outfrac = a->frac;
        return b->frac;
    }
    *outfrac = a->frac + b->frac;
    return 0;
}

/* --- Beaver products ------------------------------------------------------------------------ */
static int mul_zp(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b, int outfrac)
{
    if (ctx->rep3) {
        he_share *t3 = share_alloc(ctx, a->ndim, a->shape, outfrac);
        if (!t3 || rep3_product_zp(ctx, t3, a, b, NULL) < 0) {
            he_share_free(t3);
            return -1;
        }
        share_move(out, t3);
        return 0;
    }
    size_t N = a->size;
    mat_req r = {.kind = MAT_TRIPLE, .p = {(int64_t)N}};
    smpc_mat m;
    if (mat_get(ctx, &r, &m) < 0) return -1;
    he_share *t = share_alloc(ctx, a->ndim, a->shape, outfrac);
    mpz_t *de[HE_SMPC_MAXPARTIES] = {0};
    mpz_t *o = zp_alloc(2 * N);
    int rc = -1;
    if (!t || !o) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        if (!(de[lp] = zp_alloc(2 * N))) goto out;
        for (size_t i = 0; i < N; i++) {
            mpz_sub(de[lp][i], a->z[lp][i], mat_z(&m, lp, 0)[i]);
            mpz_mod(de[lp][i], de[lp][i], ctx->p);
            mpz_sub(de[lp][N + i], b->z[lp][i], mat_z(&m, lp, 1)[i]);
            mpz_mod(de[lp][N + i], de[lp][N + i], ctx->p);
        }
    }
    if (open_zp(ctx, de, 2 * N, o) < 0 || mat_wait(ctx, &m) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        for (size_t i = 0; i < N; i++) {
            mpz_t *z = &t->z[lp][i];
            mpz_set(*z, mat_z(&m, lp, 2)[i]);
            mpz_addmul(*z, o[i], mat_z(&m, lp, 1)[i]);
            mpz_addmul(*z, o[N + i], mat_z(&m, lp, 0)[i]);
            if (p0) mpz_addmul(*z, o[i], o[N + i]);
            mpz_mod(*z, *z, ctx->p);
        }
    }
    share_move(out, t);
    t = NULL;
    rc = 0;
out:
    for (int lp = 0; lp < ctx->nloc; lp++) zp_free(de[lp], 2 * N);
    zp_free(o, 2 * N);
    he_share_free(t);
    mat_free(ctx, &m);
    return rc;
}

static int mul_same(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b)
{
    int outfrac, tf = product_trunc(a, b, &outfrac);
    if (ctx->ring == HE_SMPC_ZP) {
        if (tf) return he_error("smpc: a product of two fractional shares needs truncation, which is Z_2^64 only");
        if (ov_on(ctx) && ov_binary(ctx, "product", "the product", OV_VALUE, outfrac, a, b, '*') < 0) return -1;
        return mul_zp(ctx, out, a, b, outfrac);
    }
    if (ov_on(ctx) &&
        ov_binary(ctx, "product", "the product", tf ? OV_PRODUCT : OV_VALUE, a->frac + b->frac, a, b, '*') < 0)
        return -1;
    if (ctx->rep3) {
        he_share *t3 = share_alloc(ctx, a->ndim, a->shape, outfrac);
        if (!t3 || rep3_product(ctx, t3, a, b, NULL, NULL, tf) < 0) {
            he_share_free(t3);
            return -1;
        }
        share_move(out, t3);
        return 0;
    }
    size_t N = a->size;
    mat_req r = {.kind = MAT_TRIPLE, .p = {(int64_t)N}};
    smpc_mat m, mt = {0};
    if (mat_get(ctx, &r, &m) < 0) return -1;
    /* ask for the truncation pairs now: the dealer makes them meanwhile */
    if (trunc_needs_dealer(ctx, N, tf) && trunc_prefetch(ctx, N, tf, &mt) < 0) {
        mat_free(ctx, &m);
        return -1;
    }
    he_share *t = share_alloc(ctx, a->ndim, a->shape, outfrac);
    uint64_t *de[HE_SMPC_MAXPARTIES] = {0};
    uint64_t *o = he_malloc((2 * N + 1) * 8);
    int rc = -1;
    if (!t || !o) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        if (!(de[lp] = he_malloc((2 * N + 1) * 8))) goto out;
        const uint64_t *ta = mat_u64(&m, lp, 0), *tb = mat_u64(&m, lp, 1);
        for (size_t i = 0; i < N; i++) {
            de[lp][i] = a->u[lp][i] - ta[i];
            de[lp][N + i] = b->u[lp][i] - tb[i];
        }
    }
    if (open_u64(ctx, de, 2 * N, o, false) < 0 || mat_wait(ctx, &m) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        const uint64_t *ta = mat_u64(&m, lp, 0), *tb = mat_u64(&m, lp, 1), *tc = mat_u64(&m, lp, 2);
        for (size_t i = 0; i < N; i++) {
            uint64_t d = o[i], e = o[N + i];
            t->u[lp][i] = tc[i] + d * tb[i] + e * ta[i] + (p0 ? d * e : 0);
        }
    }
    if (trunc_shares_pre(ctx, t->u, N, tf, mt.nloc ? &mt : NULL) < 0) goto out;
    share_move(out, t);
    t = NULL;
    rc = 0;
out:
    for (int lp = 0; lp < ctx->nloc; lp++)
        if (de[lp]) he_free_secret(de[lp], (2 * N + 1) * 8);
    if (o) he_free_secret(o, (2 * N + 1) * 8);
    he_share_free(t);
    mat_free(ctx, &m);
    mat_free(ctx, &mt);
    return rc;
}

int he_smpc_mul(he_smpc_ctx *ctx, he_share *out, const he_share *a0, const he_share *b0)
{
    if (he_poll_interrupt() < 0) return -1; /* Ctrl-C between protocol steps */
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a0) < 0 || share_same_ctx(ctx, b0) < 0) return -1;
    const he_share *a, *b;
    if (share_broadcast(ctx, a0, b0, &a, &b) < 0) return -1;
    int rc = mul_same(ctx, out, a, b);
    release_pair(a0, b0, a, b);
    return rc;
}

/* Shared by matmul and conv2d: the bilinear Beaver step. E = x - X, F = y - Y
** are opened; z = Z + E (Y + [party 0] F) + X F, with `prod` the bilinear
** map (matrix product or convolution) accumulating into its first argument. */
static int beaver_bilinear(he_smpc_ctx *ctx, he_share *t, const he_share *x, const he_share *y, const mat_req *r,
                           bilinear_fn prod, const void *geom, int tf)
{
    if (ctx->rep3) return rep3_product(ctx, t, x, y, prod, geom, tf);
    size_t NX = x->size, NY = y->size, NZ = t->size;
    smpc_mat m, mt = {0};
    if (mat_get(ctx, r, &m) < 0) return -1;
    if (trunc_needs_dealer(ctx, NZ, tf) && trunc_prefetch(ctx, NZ, tf, &mt) < 0) {
        mat_free(ctx, &m);
        return -1;
    }
    uint64_t *ef[HE_SMPC_MAXPARTIES] = {0};
    uint64_t *o = he_malloc((NX + NY) * 8 + 8), *tmp = he_malloc(NY * 8 + 8);
    int rc = -1;
    if (!o || !tmp) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        if (!(ef[lp] = he_malloc((NX + NY) * 8 + 8))) goto out;
        const uint64_t *X = mat_u64(&m, lp, 0), *Y = mat_u64(&m, lp, 1);
        for (size_t i = 0; i < NX; i++) ef[lp][i] = x->u[lp][i] - X[i];
        for (size_t i = 0; i < NY; i++) ef[lp][NX + i] = y->u[lp][i] - Y[i];
    }
    if (open_u64(ctx, ef, NX + NY, o, false) < 0) goto out;
    const uint64_t *E = o, *F = o + NX;
    /* the products first: the last party's Z may still be on its way */
    for (int lp = 0; lp < ctx->nloc; lp++) {
        const uint64_t *X = mat_u64(&m, lp, 0), *Y = mat_u64(&m, lp, 1);
        bool p0 = party_of(ctx, lp) == 0;
        for (size_t i = 0; i < NY; i++) tmp[i] = Y[i] + (p0 ? F[i] : 0);
        memset(t->u[lp], 0, NZ * 8);
        if (prod(t->u[lp], E, tmp, geom) < 0 || prod(t->u[lp], X, F, geom) < 0) goto out;
    }
    if (mat_wait(ctx, &m) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        const uint64_t *Z = mat_u64(&m, lp, 2);
        for (size_t i = 0; i < NZ; i++) t->u[lp][i] += Z[i];
    }
    if (trunc_shares_pre(ctx, t->u, NZ, tf, mt.nloc ? &mt : NULL) < 0) goto out;
    rc = 0;
out:
    for (int lp = 0; lp < ctx->nloc; lp++)
        if (ef[lp]) he_free_secret(ef[lp], (NX + NY) * 8 + 8);
    if (o) he_free_secret(o, (NX + NY) * 8 + 8);
    if (tmp) he_free_secret(tmp, NY * 8 + 8);
    mat_free(ctx, &m);
    mat_free(ctx, &mt);
    return rc;
}

typedef struct mm_geom {
    size_t m, k, n;
} mm_geom;

static int mm_prod(uint64_t *out, const uint64_t *x, const uint64_t *y, const void *geom)
{
    const mm_geom *g = geom;
    ring_matmul_acc(out, x, y, g->m, g->k, g->n);
    return 0;
}

static int conv_prod(uint64_t *out, const uint64_t *x, const uint64_t *y, const void *geom)
{
    return ring_conv_acc(out, x, y, geom);
}

static int matmul_zp(he_smpc_ctx *ctx, he_share *t, const he_share *a, const he_share *b, const mat_req *r)
{
    size_t NX = a->size, NY = b->size, NZ = t->size;
    mm_geom g = {(size_t)a->shape[0], (size_t)a->shape[1], (size_t)b->shape[1]};
    if (ctx->rep3) return rep3_product_zp(ctx, t, a, b, (const size_t[3]){g.m, g.k, g.n});
    smpc_mat m;
    if (mat_get(ctx, r, &m) < 0) return -1;
    mpz_t *ef[HE_SMPC_MAXPARTIES] = {0};
    mpz_t *o = zp_alloc(NX + NY), *tmp = zp_alloc(NY);
    int rc = -1;
    if (!o || !tmp) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        if (!(ef[lp] = zp_alloc(NX + NY))) goto out;
        for (size_t i = 0; i < NX; i++) {
            mpz_sub(ef[lp][i], a->z[lp][i], mat_z(&m, lp, 0)[i]);
            mpz_mod(ef[lp][i], ef[lp][i], ctx->p);
        }
        for (size_t i = 0; i < NY; i++) {
            mpz_sub(ef[lp][NX + i], b->z[lp][i], mat_z(&m, lp, 1)[i]);
            mpz_mod(ef[lp][NX + i], ef[lp][NX + i], ctx->p);
        }
    }
    if (open_zp(ctx, ef, NX + NY, o) < 0 || mat_wait(ctx, &m) < 0) goto out;
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool p0 = party_of(ctx, lp) == 0;
        for (size_t i = 0; i < NY; i++) {
            mpz_set(tmp[i], mat_z(&m, lp, 1)[i]);
            if (p0) mpz_add(tmp[i], tmp[i], o[NX + i]);
        }
        for (size_t i = 0; i < NZ; i++) mpz_set(t->z[lp][i], mat_z(&m, lp, 2)[i]);
        zp_matmul_acc(t->z[lp], o, tmp, g.m, g.k, g.n, ctx->p);
        zp_matmul_acc(t->z[lp], mat_z(&m, lp, 0), o + NX, g.m, g.k, g.n, ctx->p);
    }
    rc = 0;
out:
    for (int lp = 0; lp < ctx->nloc; lp++) zp_free(ef[lp], NX + NY);
    zp_free(o, NX + NY);
    zp_free(tmp, NY);
    mat_free(ctx, &m);
    return rc;
}

int he_smpc_matmul(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b)
{
    if (he_poll_interrupt() < 0) return -1; /* Ctrl-C between protocol steps */
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, a) < 0 || share_same_ctx(ctx, b) < 0) return -1;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0])
        return he_error("smpc: matmul needs (m, k) @ (k, n) share tensors");
    int outfrac, tf = product_trunc(a, b, &outfrac);
    int64_t shape[2] = {a->shape[0], b->shape[1]};
    mat_req r = {.kind = MAT_MATTRIPLE, .p = {a->shape[0], a->shape[1], b->shape[1]}};
    if (ctx->ring == HE_SMPC_ZP && tf)
        return he_error("smpc: a product of two fractional shares needs truncation, which is Z_2^64 only");
    if (ov_on(ctx) && ov_bilinear(ctx, "matrix product", a, b, tf, NULL) < 0) return -1;
    he_share *t = share_alloc(ctx, 2, shape, outfrac);
    if (!t) return -1;
    int rc;
    if (ctx->ring == HE_SMPC_ZP) {
        rc = matmul_zp(ctx, t, a, b, &r);
    } else {
        mm_geom g = {(size_t)a->shape[0], (size_t)a->shape[1], (size_t)b->shape[1]};
        rc = beaver_bilinear(ctx, t, a, b, &r, mm_prod, &g, tf);
    }
    if (rc < 0) {
        he_share_free(t);
        return -1;
    }
    share_move(out, t);
    return 0;
}

int he_smpc_conv2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, const he_share *w, int stride, int pad)
{
    if (he_poll_interrupt() < 0) return -1; /* Ctrl-C between protocol steps */
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, x) < 0 || share_same_ctx(ctx, w) < 0) return -1;
    if (need_ring64(ctx, "conv2d") < 0) return -1;
    if ((x->ndim != 3 && x->ndim != 4) || w->ndim != 4)
        return he_error("smpc: conv2d needs x (C, H, W) or (N, C, H, W) and w (OC, C, KH, KW)");
    int b = x->ndim == 4;
    mat_req r = {.kind = MAT_CONVTRIPLE,
                 .p = {b ? x->shape[0] : 1, x->shape[b], x->shape[b + 1], x->shape[b + 2], w->shape[0], w->shape[2],
                       w->shape[3], stride, pad}};
    if (w->shape[1] != x->shape[b]) return he_error("smpc: conv2d: %lld input channels, kernel for %lld",
                                                     (long long)x->shape[b], (long long)w->shape[1]);
    conv_geom g;
    if (conv_geom_of(&g, &r) < 0) return -1;
    int outfrac, tf = product_trunc(x, w, &outfrac);
    if (ov_on(ctx) && ov_bilinear(ctx, "convolution", x, w, tf, &g) < 0) return -1;
    int64_t shape[4] = {g.N, g.OC, g.OH, g.OW};
    he_share *t = b ? share_alloc(ctx, 4, shape, outfrac) : share_alloc(ctx, 3, shape + 1, outfrac);
    if (!t) return -1;
    if (beaver_bilinear(ctx, t, x, w, &r, conv_prod, &g, tf) < 0) {
        he_share_free(t);
        return -1;
    }
    share_move(out, t);
    return 0;
}

/* Checks a k x k pooling with stride s over x, (C, H, W) or (N, C, H, W),
** and writes its output shape: x's with the last two dimensions pooled. */
int pool_shape(const he_share *x, int k, int s, const char *what, int64_t shape[4])
{
    if (x->ndim != 3 && x->ndim != 4) return he_error("smpc: %s needs (C, H, W) or (N, C, H, W)", what);
    if (k < 1 || s < 1) return he_error("smpc: pooling window and stride must be positive");
    int d = x->ndim;
    int64_t H = x->shape[d - 2], W = x->shape[d - 1];
    if (H < k || W < k) return he_error("smpc: pooling window larger than the image");
    for (int i = 0; i < d; i++) shape[i] = x->shape[i];
    shape[d - 2] = (H - k) / s + 1;
    shape[d - 1] = (W - k) / s + 1;
    return 0;
}

int he_smpc_avgpool2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, int k, int s)
{
    if (share_same_ctx(ctx, out) < 0 || share_same_ctx(ctx, x) < 0) return -1;
    if (need_ring64(ctx, "avgpool2d") < 0) return -1;
    int64_t shape[4];
    if (pool_shape(x, k, s, "avgpool2d", shape) < 0) return -1;
    int d = x->ndim;
    int64_t H = x->shape[d - 2], W = x->shape[d - 1], OH = shape[d - 2], OW = shape[d - 1];
    size_t planes = x->size / (size_t)(H * W);
    if (ov_on(ctx) && ov_windows(ctx, x, planes, k, s, OH, OW) < 0) return -1;
    he_share *t = share_alloc(ctx, d, shape, x->frac);
    if (!t) return -1;
    for (int lp = 0; lp < ctx->nloc; lp++)
        for (size_t p = 0; p < planes; p++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    uint64_t acc = 0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++) acc += x->u[lp][p * (size_t)(H * W) + (size_t)((oy * s + dy) * W + ox * s + dx)];
                    t->u[lp][p * (size_t)(OH * OW) + (size_t)(oy * OW + ox)] = acc;
                }
    double inv = 1.0 / ((double)k * k);
    int rc = mul_public_op(ctx, t, t, &inv, 1, "average pooling");
    if (rc == 0) share_move(out, t);
    else he_share_free(t);
    return rc;
}
