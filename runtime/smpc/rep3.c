/*
** rep3.c: replicated secret sharing among three parties with no dealer
** (Araki, Furukawa, Lindell, Nof, Ohara 2016; ABY3, Mohassel and Rindal
** 2018), over Z_2^64, semi-honest with an honest majority.
**
** x = x_0 + x_1 + x_2 (mod 2^64); party i holds (x_i, x_{i+1}) (indices
** mod 3): any two parties hold all three shares, any one holds two uniform
** values that say nothing of x. In a simulated context the share tensor
** holds x_0, x_1, x_2 in u[0..2], so the local operations of proto.c
** (add, sub, public constants added to x_0 by its holders, sums,
** transposes, ...) and the overflow checks of check.c work unchanged.
**
** Correlated randomness without a dealer: key j (a ChaCha20 stream,
** smpc_prg) is shared by parties j and j-1; party i holds keys i and i+1,
** agreed at setup (party i draws key i and sends it to party i-1 over the
** encrypted channel). Both holders of a key draw from it in the same
** order, so they get the same values without talking: a zero-sharing is
** alpha_i = F_i - F_{i+1} (alpha_0 + alpha_1 + alpha_2 = 0).
**
** Costs (per party; + 8 B header per message; the one place they are
** stated, doc/smpc.md and runtime/smpc/README.md copy them):
**   input            1 round, owner sends 8 B/elem to each other party
**   reveal           1 round, each party sends its x_i (8 B/elem) to party
**                    i+1 when i+1 is among the receivers
**   mul, matmul,     1 round, each party sends 8 B per OUTPUT element to
**   conv2d           party i-1 (resharing): independent of the inner
**                    dimension
**   the same with    2 rounds, each party sends 8 B per OUTPUT element
**   truncation       (product_trunc: the truncation rides on the resharing)
**   truncation       1 round, party 0 sends 8 B/elem to party 2; parties 1
**   alone            and 2 send an empty message (8 B) to parties 0 and 1
**   ltz, lt, gt      10 rounds, 48 B/elem (below; the tree's packed fields
**                    round up to whole words); relu, max: 11, 56 B
**   Z_p              as above with P's bytes (ctx->pbytes) for 8 B; no
**                    truncation or comparisons
**   setup (NET)      1 round, each party sends a 32-byte key to party i-1
**
** Simulated (SIM: a share tensor holds the three components) and as three
** processes (NET, net.c: ZeroMQ + CURVE, nloc = 2; the party file's dealer
** line, if any, is not used).
**
** Products: party i computes z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i +
** alpha_i (for a bilinear map B: B(x_i, y_i + y_{i+1}) + B(x_{i+1}, y_i)),
** an additive sharing of x y; it sends z_i to party i-1, who then holds
** (z_{i-1}, z_i). z_i is masked by F_i - F_{i+1}, and party i-1 does not
** hold key i+1: what it receives is uniform, whatever the inputs.
**
** Truncation alone by f bits (ABY3's first method): x = (x_0 + x_1) + x_2 is a
** two-party sharing between party 0 (who holds x_0, x_1) and parties 1
** and 2 (who both hold x_2). With r from key 1 (parties 0 and 1):
**     y_1 = r,  y_2 = -((-x_2) >> f),  y_0 = ((x_0 + x_1) >> f) - r
** (arithmetic shifts, SecureML's local truncation); party 0 sends y_0 to
** party 2, which r hides. When |raw| < 2^l and x_2 is uniform (every
** protocol output is), y = floor(x / 2^f) or one more, except with
** probability 2^(l+1-64) per element (l = 40: 2^-23), when the result is
** garbage; simulated runs check every element after the fact.
*/
#include <string.h>

#include "smpc/smpc_int.h"

static int nxt(int i) { return (i + 1) % 3; }
static int prv(int i) { return (i + 2) % 3; }

int rep3_setup(he_smpc_ctx *ctx, const he_smpc_config *cfg)
{
    if (ctx->n != 3) return he_error("smpc: the rep3 protocol is for exactly 3 parties (got %d)", ctx->n);
    if (cfg->material_dir || cfg->record_plan)
        return he_error("smpc: the rep3 protocol has no dealer: no material files, no offline phase");
    smpc_rep3 *r = he_calloc(1, sizeof *r);
    if (!r) return -1;
    ctx->rep3 = r;
    uint8_t seed[32];
    if (ctx->mode == HE_SMPC_SIM) {
        for (int j = 0; j < 3; j++) {
            he_randombytes(seed, 32);
            prg_seed(&r->key[j], seed);
        }
        he_memzero(seed, sizeof seed);
        return 0;
    }
    /* NET: this process holds x_me and x_{me+1}; the party file's dealer,
    ** if any, is not contacted */
    ctx->nloc = 2;
    if (net_open(ctx, cfg, false) < 0) return -1;
    /* key me (drawn here) goes to party me-1; key me+1 comes from party me+1 */
    int me = ctx->me, rc = -1;
    he_randombytes(seed, 32);
    prg_seed(&r->key[me], seed);
    stats_round(ctx);
    if (net_send(ctx, prv(me), MSG_DATA, seed, 32) < 0 || net_recv(ctx, nxt(me), MSG_DATA, seed, 32) < 0) goto out;
    prg_seed(&r->key[nxt(me)], seed);
    rc = 0;
out:
    he_memzero(seed, sizeof seed);
    return rc;
}

void rep3_free(he_smpc_ctx *ctx)
{
    if (!ctx || !ctx->rep3) return;
    he_free_secret(ctx->rep3, sizeof *ctx->rep3);
    ctx->rep3 = NULL;
}

/* One message of `elems` words from party `from` to party `to`. */
static void count_msg(he_smpc_ctx *ctx, int from, size_t elems)
{
    ctx->stats.bytes_sent[from] += elems * 8 + 8;
    ctx->stats.messages++;
}

static uint64_t *words(size_t n) { return he_malloc((n ? n : 1) * 8); }
static void words_free(uint64_t *w, size_t n)
{
    if (w) he_free_secret(w, (n ? n : 1) * 8);
}

/* --- Z_p: the same sharing, input, reveal and products mod p -------------------- */
static int send_zp(he_smpc_ctx *ctx, int to, mpz_t *const v, size_t N)
{
    size_t eb = ctx->pbytes;
    uint8_t *buf = he_malloc((N ? N : 1) * eb);
    if (!buf) return -1;
    for (size_t i = 0; i < N; i++) zp_to_bytes(v[i], buf + i * eb, eb);
    int rc = net_send(ctx, to, MSG_DATA, buf, N * eb);
    he_free_secret(buf, (N ? N : 1) * eb);
    return rc;
}

static int recv_zp(he_smpc_ctx *ctx, int from, mpz_t *v, size_t N)
{
    size_t eb = ctx->pbytes;
    uint8_t *buf = he_malloc((N ? N : 1) * eb);
    if (!buf) return -1;
    int rc = net_recv(ctx, from, MSG_DATA, buf, N * eb);
    for (size_t i = 0; rc == 0 && i < N; i++) {
        zp_from_bytes(v[i], buf + i * eb, eb);
        if (mpz_cmp(v[i], ctx->p) >= 0) rc = he_error("smpc: protocol error: a Z_p element out of range");
    }
    he_free_secret(buf, (N ? N : 1) * eb);
    return rc;
}

static void count_zp(he_smpc_ctx *ctx, int from, size_t elems)
{
    ctx->stats.bytes_sent[from] += elems * ctx->pbytes + 8;
    ctx->stats.messages++;
}

static int input_zp(he_smpc_ctx *ctx, he_share *t, int owner, const int64_t *vals)
{
    size_t N = t->size;
    int o = owner, o1 = nxt(o), o2 = prv(o);
    size_t pb = ctx->pbytes;
    stats_round(ctx);
    if (ctx->mode == HE_SMPC_SIM) {
        prg_zp(&ctx->rep3->key[o], t->z[o], N, ctx->p, pb);
        prg_zp(&ctx->rep3->key[o1], t->z[o1], N, ctx->p, pb);
        for (size_t i = 0; i < N; i++) {
            zp_set_i64(t->z[o2][i], vals[i], ctx->p);
            mpz_sub(t->z[o2][i], t->z[o2][i], t->z[o][i]);
            mpz_sub(t->z[o2][i], t->z[o2][i], t->z[o1][i]);
            mpz_mod(t->z[o2][i], t->z[o2][i], ctx->p);
        }
        count_zp(ctx, o, N);
        count_zp(ctx, o, N);
        return 0;
    }
    int me = ctx->me;
    if (me == o) {
        prg_zp(&ctx->rep3->key[o], t->z[0], N, ctx->p, pb);
        prg_zp(&ctx->rep3->key[o1], t->z[1], N, ctx->p, pb);
        mpz_t *m = zp_alloc(N);
        if (!m) return -1;
        for (size_t i = 0; i < N; i++) {
            zp_set_i64(m[i], vals[i], ctx->p);
            mpz_sub(m[i], m[i], t->z[0][i]);
            mpz_sub(m[i], m[i], t->z[1][i]);
            mpz_mod(m[i], m[i], ctx->p);
        }
        int rc = send_zp(ctx, o1, m, N) < 0 || send_zp(ctx, o2, m, N) < 0 ? -1 : 0;
        zp_free(m, N);
        return rc;
    }
    if (me == o1) {
        prg_zp(&ctx->rep3->key[o1], t->z[0], N, ctx->p, pb);
        return recv_zp(ctx, o, t->z[1], N);
    }
    prg_zp(&ctx->rep3->key[o], t->z[1], N, ctx->p, pb);
    return recv_zp(ctx, o, t->z[0], N);
}

int rep3_open_zp(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, uint64_t mask, mpz_t *out)
{
    mask &= 7;
    if (!mask) return he_error("smpc: reveal to nobody (empty party mask)");
    stats_round(ctx);
    if (ctx->mode == HE_SMPC_SIM) {
        for (int j = 0; j < 3; j++)
            if ((mask >> j) & 1) count_zp(ctx, prv(j), N);
        for (size_t i = 0; i < N; i++) {
            mpz_add(out[i], x[0][i], x[1][i]);
            mpz_add(out[i], out[i], x[2][i]);
            mpz_mod(out[i], out[i], ctx->p);
        }
        return 0;
    }
    int me = ctx->me;
    if (((mask >> nxt(me)) & 1) && send_zp(ctx, nxt(me), x[0], N) < 0) return -1;
    if (!((mask >> me) & 1)) return 0;
    mpz_t *m = zp_alloc(N);
    if (!m) return -1;
    int rc = recv_zp(ctx, prv(me), m, N);
    for (size_t i = 0; rc == 0 && i < N; i++) {
        mpz_add(out[i], x[0][i], x[1][i]);
        mpz_add(out[i], out[i], m[i]);
        mpz_mod(out[i], out[i], ctx->p);
    }
    zp_free(m, N);
    return rc;
}

/* z_i = B(x_i, y_i + y_{i+1}) + B(x_{i+1}, y_i) + F_i - F_{i+1} mod p, B the
** element-wise product (mm NULL) or the matrix product of geometry mm. */
static void local_zp(const he_smpc_ctx *ctx, mpz_t *z, mpz_t *const xi, mpz_t *const xn, mpz_t *const yi,
                     mpz_t *const yn, mpz_t *const fi, mpz_t *const fn, mpz_t *tmp, size_t NY, size_t NZ,
                     const size_t *mm)
{
    for (size_t k = 0; k < NY; k++) {
        mpz_add(tmp[k], yi[k], yn[k]);
        mpz_mod(tmp[k], tmp[k], ctx->p);
    }
    for (size_t k = 0; k < NZ; k++) {
        mpz_sub(z[k], fi[k], fn[k]);
        mpz_mod(z[k], z[k], ctx->p);
    }
    if (mm) {
        zp_matmul_acc(z, xi, tmp, mm[0], mm[1], mm[2], ctx->p);
        zp_matmul_acc(z, xn, yi, mm[0], mm[1], mm[2], ctx->p);
        return;
    }
    for (size_t k = 0; k < NZ; k++) {
        mpz_addmul(z[k], xi[k], tmp[k]);
        mpz_addmul(z[k], xn[k], yi[k]);
        mpz_mod(z[k], z[k], ctx->p);
    }
}

int rep3_product_zp(he_smpc_ctx *ctx, he_share *t, const he_share *x, const he_share *y, const size_t *mm)
{
    size_t NY = y->size, NZ = t->size, pb = ctx->pbytes;
    mpz_t *tmp = zp_alloc(NY), *f[3] = {zp_alloc(NZ), zp_alloc(NZ), zp_alloc(NZ)};
    int rc = -1;
    if (!tmp || !f[0] || !f[1] || !f[2]) goto out;
    if (ctx->mode == HE_SMPC_NET) {
        int me = ctx->me;
        prg_zp(&ctx->rep3->key[me], f[0], NZ, ctx->p, pb);
        prg_zp(&ctx->rep3->key[nxt(me)], f[1], NZ, ctx->p, pb);
        local_zp(ctx, t->z[0], x->z[0], x->z[1], y->z[0], y->z[1], f[0], f[1], tmp, NY, NZ, mm);
        stats_round(ctx);
        if (send_zp(ctx, prv(me), t->z[0], NZ) < 0 || recv_zp(ctx, nxt(me), t->z[1], NZ) < 0) goto out;
    } else {
        for (int j = 0; j < 3; j++) prg_zp(&ctx->rep3->key[j], f[j], NZ, ctx->p, pb);
        for (int i = 0; i < 3; i++)
            local_zp(ctx, t->z[i], x->z[i], x->z[nxt(i)], y->z[i], y->z[nxt(i)], f[i], f[nxt(i)], tmp, NY, NZ, mm);
        stats_round(ctx);
        for (int i = 0; i < 3; i++) count_zp(ctx, i, NZ);
    }
    rc = 0;
out:
    zp_free(tmp, NY);
    for (int j = 0; j < 3; j++) zp_free(f[j], NZ);
    return rc;
}

int rep3_input(he_smpc_ctx *ctx, he_share *t, int owner, const int64_t *vals)
{
    if (!vals && (ctx->mode == HE_SMPC_SIM || ctx->me == owner))
        return he_error("smpc: the input owner (party %d) gave no values", owner);
    if (ctx->ring == HE_SMPC_ZP) return input_zp(ctx, t, owner, vals);
    size_t N = t->size;
    int o = owner, o1 = nxt(o), o2 = prv(o);
    bool sim = ctx->mode == HE_SMPC_SIM;
    stats_round(ctx);
    /* x_o from key o (owner and party o-1), x_{o+1} from key o+1 (owner and
    ** party o+1): no message; x_{o+2} = x - x_o - x_{o+1} goes to both others */
    if (sim) {
        prg_u64(&ctx->rep3->key[o], t->u[o], N);
        prg_u64(&ctx->rep3->key[o1], t->u[o1], N);
        for (size_t i = 0; i < N; i++) t->u[o2][i] = (uint64_t)vals[i] - t->u[o][i] - t->u[o1][i];
        count_msg(ctx, o, N);
        count_msg(ctx, o, N);
        return 0;
    }
    int me = ctx->me;
    if (me == o) {
        prg_u64(&ctx->rep3->key[o], t->u[0], N);
        prg_u64(&ctx->rep3->key[o1], t->u[1], N);
        uint64_t *m = words(N);
        if (!m) return -1;
        for (size_t i = 0; i < N; i++) m[i] = (uint64_t)vals[i] - t->u[0][i] - t->u[1][i];
        int rc = net_send(ctx, o1, MSG_DATA, m, N * 8) < 0 || net_send(ctx, o2, MSG_DATA, m, N * 8) < 0 ? -1 : 0;
        words_free(m, N);
        return rc;
    }
    if (me == o1) { /* (x_{o+1}, x_{o+2}) */
        prg_u64(&ctx->rep3->key[o1], t->u[0], N);
        return net_recv(ctx, o, MSG_DATA, t->u[1], N * 8);
    }
    prg_u64(&ctx->rep3->key[o], t->u[1], N); /* party o+2: (x_{o+2}, x_o) */
    return net_recv(ctx, o, MSG_DATA, t->u[0], N * 8);
}

int rep3_open_to(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, uint64_t *out)
{
    mask &= 7;
    if (!mask) return he_error("smpc: reveal to nobody (empty party mask)");
    size_t N = x->size;
    stats_round(ctx);
    /* party j misses x_{j+2} = x_{j-1}: party j-1 sends it its first share */
    if (ctx->mode == HE_SMPC_SIM) {
        for (int j = 0; j < 3; j++)
            if ((mask >> j) & 1) count_msg(ctx, prv(j), N);
        for (size_t i = 0; i < N; i++) out[i] = x->u[0][i] + x->u[1][i] + x->u[2][i];
        return 0;
    }
    int me = ctx->me;
    if (((mask >> nxt(me)) & 1) && net_send(ctx, nxt(me), MSG_DATA, x->u[0], N * 8) < 0) return -1;
    if (!((mask >> me) & 1)) return 0;
    uint64_t *m = words(N);
    if (!m) return -1;
    int rc = net_recv(ctx, prv(me), MSG_DATA, m, N * 8);
    if (rc == 0)
        for (size_t i = 0; i < N; i++) out[i] = x->u[0][i] + x->u[1][i] + m[i];
    words_free(m, N);
    return rc;
}

/* The outputs after a local truncation by f of the values `before`: each
** must be floor(before / 2^f) or one more; anything else is the protocol's
** (rare) failure. */
static int trunc_check(he_smpc_ctx *ctx, const int64_t *before, uint64_t **z, size_t N, int f)
{
    int64_t *after = ov_open_u64(ctx, z, N);
    if (!after) return -1;
    int rc = 0;
    for (size_t i = 0; i < N && rc == 0; i++) {
        int64_t fl = before[i] >> f;
        if (after[i] != fl && after[i] != fl + 1) {
            char at[48] = "";
            if (N > 1) snprintf(at, sizeof at, " (element %zu)", i);
            rc = he_error("smpc: rep3 truncation failed%s: raw %lld >> %d gave %lld, not %lld or %lld (ABY3's local "
                          "truncation fails with probability 2^(l+1-64) when |raw| < 2^l: keep values smaller)",
                          at, (long long)before[i], f, (long long)after[i], (long long)fl, (long long)fl + 1);
        }
    }
    ov_close(after, N);
    return rc;
}

static uint64_t trunc_hi(uint64_t x2, int f) { return -(uint64_t)((int64_t)(-x2) >> f); }

int rep3_trunc(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f)
{
    if (f == 0 || N == 0) return 0;
    stats_round(ctx);
    uint64_t *r = words(N);
    if (!r) return -1;
    int rc = 0;
    if (ctx->mode == HE_SMPC_NET) {
        /* party 0: (y_0, y_1); party 1: (y_1, y_2); party 2: (y_2, y_0) */
        /* y_0 goes to party 2; parties 1 and 2 send an empty message to
        ** parties 0 and 1 in the same round, so that each party waits for
        ** one other and a dead party is noticed here, not at the next
        ** resharing */
        uint8_t none;
        switch (ctx->me) {
        case 0:
            prg_u64(&ctx->rep3->key[1], r, N);
            for (size_t i = 0; i < N; i++) {
                z[0][i] = (uint64_t)((int64_t)(z[0][i] + z[1][i]) >> f) - r[i];
                z[1][i] = r[i];
            }
            rc = net_send(ctx, 2, MSG_DATA, z[0], N * 8) < 0 || net_recv(ctx, 1, MSG_DATA, &none, 0) < 0 ? -1 : 0;
            break;
        case 1:
            prg_u64(&ctx->rep3->key[1], r, N);
            for (size_t i = 0; i < N; i++) {
                z[0][i] = r[i];
                z[1][i] = trunc_hi(z[1][i], f);
            }
            rc = net_send(ctx, 0, MSG_DATA, NULL, 0) < 0 || net_recv(ctx, 2, MSG_DATA, &none, 0) < 0 ? -1 : 0;
            break;
        default:
            for (size_t i = 0; i < N; i++) z[0][i] = trunc_hi(z[0][i], f);
            rc = net_send(ctx, 1, MSG_DATA, NULL, 0) < 0 || net_recv(ctx, 0, MSG_DATA, z[1], N * 8) < 0 ? -1 : 0;
        }
        words_free(r, N);
        return rc;
    }
    int64_t *before = ov_on(ctx) ? ov_open_u64(ctx, z, N) : NULL;
    if (ov_on(ctx) && !before) {
        words_free(r, N);
        return -1;
    }
    prg_u64(&ctx->rep3->key[1], r, N); /* parties 0 and 1 */
    for (size_t i = 0; i < N; i++) {
        uint64_t a = z[0][i] + z[1][i]; /* party 0 */
        z[0][i] = (uint64_t)((int64_t)a >> f) - r[i];
        z[1][i] = r[i];
        z[2][i] = trunc_hi(z[2][i], f); /* parties 1 and 2 */
    }
    count_msg(ctx, 0, N); /* y_0 to party 2 */
    count_msg(ctx, 1, 0); /* the empty messages: party 1 to 0, 2 to 1 */
    count_msg(ctx, 2, 0);
    words_free(r, N);
    rc = before ? trunc_check(ctx, before, z, N, f) : 0;
    ov_close(before, N);
    return rc;
}

/* z = B(x_i, y_i + y_{i+1}) + B(x_{i+1}, y_i) + F_i - F_{i+1}; boolean
** (element-wise only): z = x_i & (y_i ^ y_{i+1}) ^ x_{i+1} & y_i ^ F_i ^ F_{i+1}. */
static int local_product(uint64_t *z, const uint64_t *xi, const uint64_t *xn, const uint64_t *yi, const uint64_t *yn,
                         const uint64_t *fi, const uint64_t *fn, uint64_t *tmp, size_t NY, size_t NZ, bilinear_fn prod,
                         const void *geom, bool boolean)
{
    if (boolean) {
        for (size_t k = 0; k < NZ; k++) z[k] = (xi[k] & (yi[k] ^ yn[k])) ^ (xn[k] & yi[k]) ^ fi[k] ^ fn[k];
        return 0;
    }
    for (size_t k = 0; k < NY; k++) tmp[k] = yi[k] + yn[k];
    if (prod) {
        memset(z, 0, NZ * 8);
        if (prod(z, xi, tmp, geom) < 0 || prod(z, xn, yi, geom) < 0) return -1;
    } else {
        for (size_t k = 0; k < NZ; k++) z[k] = xi[k] * tmp[k] + xn[k] * yi[k];
    }
    for (size_t k = 0; k < NZ; k++) z[k] += fi[k] - fn[k];
    return 0;
}

/* The additive (3-out-of-3) sharing z_0 + z_1 + z_2 of B(x, y), masked by
** a zero-sharing, before any message: NET, z[0] = z_me (z[1] untouched);
** SIM, z[i] = z_i. z must not alias x or y. */
static int product_local(he_smpc_ctx *ctx, uint64_t **z, uint64_t *const *x, uint64_t *const *y, size_t NY, size_t NZ,
                         bilinear_fn prod, const void *geom, bool boolean)
{
    uint64_t *tmp = words(NY), *alpha[3] = {words(NZ), words(NZ), words(NZ)};
    int rc = -1;
    if (!tmp || !alpha[0] || !alpha[1] || !alpha[2]) goto out;
    if (ctx->mode == HE_SMPC_NET) {
        int me = ctx->me;
        prg_u64(&ctx->rep3->key[me], alpha[0], NZ);
        prg_u64(&ctx->rep3->key[nxt(me)], alpha[1], NZ);
        if (local_product(z[0], x[0], x[1], y[0], y[1], alpha[0], alpha[1], tmp, NY, NZ, prod, geom, boolean) < 0)
            goto out;
    } else {
        for (int j = 0; j < 3; j++) prg_u64(&ctx->rep3->key[j], alpha[j], NZ);
        for (int i = 0; i < 3; i++)
            if (local_product(z[i], x[i], x[nxt(i)], y[i], y[nxt(i)], alpha[i], alpha[nxt(i)], tmp, NY, NZ, prod, geom,
                              boolean) < 0)
                goto out;
    }
    rc = 0;
out:
    words_free(tmp, NY);
    for (int j = 0; j < 3; j++) words_free(alpha[j], NZ);
    return rc;
}

/* z = B(x, y) (prod NULL: element-wise; boolean: AND) on the slots of a
** share (SIM: 3 components, NET: this party's 2), one round of resharing.
** z must not alias x or y. */
static int product_raw(he_smpc_ctx *ctx, uint64_t **z, uint64_t *const *x, uint64_t *const *y, size_t NY, size_t NZ,
                       bilinear_fn prod, const void *geom, bool boolean)
{
    if (product_local(ctx, z, x, y, NY, NZ, prod, geom, boolean) < 0) return -1;
    stats_round(ctx);
    if (ctx->mode == HE_SMPC_NET) {
        /* resharing: z_me to party me-1, z_{me+1} from party me+1 */
        int me = ctx->me;
        return net_send(ctx, prv(me), MSG_DATA, z[0], NZ * 8) < 0 || net_recv(ctx, nxt(me), MSG_DATA, z[1], NZ * 8) < 0
                   ? -1
                   : 0;
    }
    for (int i = 0; i < 3; i++) count_msg(ctx, i, NZ); /* party i sends z_i to party i-1 */
    return 0;
}

/* A product's resharing fused with its truncation by f (after
** product_local): 2 rounds, one message of N words from each party.
**   round 1: party 1 sends z_1 to party 0, party 2 sends z_2 to party 1
**   round 2: party 0 sends y_0 = ((z_0 + z_1) >> f) - r to party 2
** with y_1 = r (key 1: parties 0 and 1) and y_2 = -((-z_2) >> f): the
** local truncation of the two-party sharing (z_0 + z_1) + z_2, z_2
** uniform. Every message is masked by a stream its receiver does not
** hold (z_1 by F_2 against party 0, z_2 by F_0 against party 1, y_0 by r
** against party 2), and every party waits for one other. */
static int product_trunc(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f)
{
    uint64_t *r = words(N);
    if (!r) return -1;
    int rc = 0;
    if (ctx->mode == HE_SMPC_NET) {
        stats_round(ctx);
        stats_round(ctx);
        switch (ctx->me) {
        case 0: /* (y_0, y_1) */
            if (net_recv(ctx, 1, MSG_DATA, z[1], N * 8) < 0) break;
            prg_u64(&ctx->rep3->key[1], r, N);
            for (size_t i = 0; i < N; i++) {
                z[0][i] = (uint64_t)((int64_t)(z[0][i] + z[1][i]) >> f) - r[i];
                z[1][i] = r[i];
            }
            rc = net_send(ctx, 2, MSG_DATA, z[0], N * 8);
            words_free(r, N);
            return rc;
        case 1: /* (y_1, y_2) */
            if (net_send(ctx, 0, MSG_DATA, z[0], N * 8) < 0 || net_recv(ctx, 2, MSG_DATA, z[1], N * 8) < 0) break;
            prg_u64(&ctx->rep3->key[1], r, N);
            for (size_t i = 0; i < N; i++) {
                z[0][i] = r[i];
                z[1][i] = trunc_hi(z[1][i], f);
            }
            words_free(r, N);
            return 0;
        default: /* (y_2, y_0) */
            if (net_send(ctx, 1, MSG_DATA, z[0], N * 8) < 0) break;
            for (size_t i = 0; i < N; i++) z[0][i] = trunc_hi(z[0][i], f);
            rc = net_recv(ctx, 0, MSG_DATA, z[1], N * 8);
            words_free(r, N);
            return rc;
        }
        words_free(r, N);
        return -1;
    }
    int64_t *before = ov_on(ctx) ? ov_open_u64(ctx, z, N) : NULL;
    if (ov_on(ctx) && !before) {
        words_free(r, N);
        return -1;
    }
    stats_round(ctx);
    count_msg(ctx, 1, N); /* z_1 to party 0 */
    count_msg(ctx, 2, N); /* z_2 to party 1 */
    stats_round(ctx);
    count_msg(ctx, 0, N); /* y_0 to party 2 */
    prg_u64(&ctx->rep3->key[1], r, N);
    for (size_t i = 0; i < N; i++) {
        z[0][i] = (uint64_t)((int64_t)(z[0][i] + z[1][i]) >> f) - r[i];
        z[1][i] = r[i];
        z[2][i] = trunc_hi(z[2][i], f);
    }
    words_free(r, N);
    rc = before ? trunc_check(ctx, before, z, N, f) : 0;
    ov_close(before, N);
    return rc;
}

int rep3_product(he_smpc_ctx *ctx, he_share *t, const he_share *x, const he_share *y, bilinear_fn prod,
                 const void *geom, int tf)
{
    if (tf == 0 || t->size == 0) return product_raw(ctx, t->u, x->u, y->u, y->size, t->size, prod, geom, false);
    if (product_local(ctx, t->u, x->u, y->u, y->size, t->size, prod, geom, false) < 0) return -1;
    return product_trunc(ctx, t->u, t->size, tf);
}

/* --- comparison: msb by a binary adder on the parties' own shares ------------------
** No random bits are needed at all: the three components x_0, x_1, x_2 are
** each known to two parties, so each is already a replicated XOR sharing
** (the component itself in its slot, zeros elsewhere). A carry-save adder
** (one AND round, 8 B/elem) turns x_0 + x_1 + x_2 into s + k; G = s & k
** (one AND round, 8 B/elem) and P = s ^ k are the bits' generate and
** propagate; with bit 63 cleared, a binary tree of (G, P) pairs (6 AND
** rounds on bit-fields packed 64/w per word: 64 + 32 + ... + 2 bits per
** element, 15.75 B) gives the carry into bit 63, so msb(x) = s_63 ^ k_63 ^
** carry in XOR shares b = b_0 ^ b_1 ^ b_2. Each b_j is again an arithmetic
** sharing for free; b = b_0 + b_1 - 2 b_0 b_1, then the same with b_2: 2
** product rounds (16 B/elem). 10 rounds, 48 B/elem per party (+8 B per
** message); a product with values folded in (ReLU, max): +1 round, +8 B.
** Exact, always. */
/* Bit i moved to bit rev6(i) (its 6-bit index reversed): three delta swaps
** exchanging index bits (0, 5), (1, 4), (2, 3). */
static uint64_t delta_swap(uint64_t x, uint64_t mask, int d)
{
    uint64_t t = ((x >> d) ^ x) & mask;
    return x ^ t ^ (t << d);
}

static uint64_t index_reverse(uint64_t x)
{
    x = delta_swap(x, 0xaaaaaaaaULL, 31);
    x = delta_swap(x, 0xcccc0000ccccULL, 14);
    return delta_swap(x, 0xf000f000f000f0ULL, 4);
}

typedef struct slots {
    int nloc;
    size_t n;
    uint64_t *p[3];
} slots;

static int slots_alloc(const he_smpc_ctx *ctx, slots *s, size_t n)
{
    s->nloc = ctx->nloc;
    s->n = n;
    for (int lp = 0; lp < 3; lp++) s->p[lp] = NULL;
    for (int lp = 0; lp < s->nloc; lp++)
        if (!(s->p[lp] = he_calloc(n ? n : 1, 8))) return -1;
    return 0;
}

static void slots_free(slots *s)
{
    for (int lp = 0; lp < s->nloc; lp++) words_free(s->p[lp], s->n);
    s->nloc = 0;
}

/* The component j of x (a value its two holders know) as a sharing: x_j in
** its own slot, zero in the others. */
static void component(const he_smpc_ctx *ctx, uint64_t *const *x, size_t N, int j, slots *out, int shift)
{
    for (int lp = 0; lp < ctx->nloc; lp++) {
        bool mine = party_of(ctx, lp) == j;
        for (size_t i = 0; i < N; i++) out->p[lp][i] = mine ? x[lp][i] >> shift : 0;
    }
}

int rep3_ltz(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t **bits, uint64_t *const *vals, size_t cols)
{
    if (N == 0) return 0;
    int nl = ctx->nloc, rc = -1;
    slots c[3] = {{0}}, u = {0}, v = {0}, m = {0}, s = {0}, k = {0}, G = {0}, P = {0}, X2 = {0}, Y2 = {0}, Z2 = {0};
    for (int j = 0; j < 3; j++)
        if (slots_alloc(ctx, &c[j], N) < 0) goto out;
    if (slots_alloc(ctx, &u, N) < 0 || slots_alloc(ctx, &v, N) < 0 || slots_alloc(ctx, &m, N) < 0 ||
        slots_alloc(ctx, &s, N) < 0 || slots_alloc(ctx, &k, N) < 0 || slots_alloc(ctx, &G, N) < 0 ||
        slots_alloc(ctx, &P, N) < 0 || slots_alloc(ctx, &X2, N) < 0 || slots_alloc(ctx, &Y2, N) < 0 ||
        slots_alloc(ctx, &Z2, N) < 0)
        goto out;
    for (int j = 0; j < 3; j++) component(ctx, x, N, j, &c[j], 0);
    /* carry-save: s = a ^ b ^ c, k = maj(a, b, c) << 1 = (((a ^ c) & (b ^ c)) ^ c) << 1 */
    for (int lp = 0; lp < nl; lp++)
        for (size_t i = 0; i < N; i++) {
            uint64_t a = c[0].p[lp][i], b = c[1].p[lp][i], cc = c[2].p[lp][i];
            s.p[lp][i] = a ^ b ^ cc;
            u.p[lp][i] = a ^ cc;
            v.p[lp][i] = b ^ cc;
        }
    if (product_raw(ctx, m.p, u.p, v.p, N, N, NULL, NULL, true) < 0) goto out;
    for (int lp = 0; lp < nl; lp++)
        for (size_t i = 0; i < N; i++) k.p[lp][i] = (m.p[lp][i] ^ c[2].p[lp][i]) << 1;
    /* generate and propagate: G = s & k, P = s ^ k (P kept in X2's first half) */
    /* generate and propagate shifted up by one (bit 0 a dummy with G = P =
    ** 0): the carry out of the top is then the carry into bit 63 of s + k.
    ** Bit-index reversed, so that the two halves of every w-bit field below
    ** are adjacent groups of bits, the upper half the more significant */
    if (product_raw(ctx, G.p, s.p, k.p, N, N, NULL, NULL, true) < 0) goto out;
    for (int lp = 0; lp < nl; lp++)
        for (size_t i = 0; i < N; i++) {
            G.p[lp][i] = index_reverse(G.p[lp][i] << 1);
            P.p[lp][i] = index_reverse((s.p[lp][i] ^ k.p[lp][i]) << 1);
        }
    /* a group from its two halves: G = G_hi ^ (P_hi & G_lo), P = P_hi & P_lo
    ** (G_hi and P_hi never both 1: ^ is |); one AND round of X = P_hi | P_hi
    ** << h against Y = G_lo | P_lo << h, w bits per element packed 64 / w per
    ** word */
    for (int w = 64; w > 1; w /= 2) {
        int h = w / 2, per = 64 / w;
        uint64_t lo = ((uint64_t)1 << h) - 1, fm = w == 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1;
        size_t nw = (N + (size_t)per - 1) / (size_t)per;
        for (int lp = 0; lp < nl; lp++) {
            memset(X2.p[lp], 0, nw * 8);
            memset(Y2.p[lp], 0, nw * 8);
            for (size_t i = 0; i < N; i++) {
                uint64_t ph = P.p[lp][i] >> h, g = G.p[lp][i] & lo, pl = P.p[lp][i] & lo;
                int sh = (int)(i % (size_t)per) * w;
                X2.p[lp][i / (size_t)per] |= ((ph | ph << h) & fm) << sh;
                Y2.p[lp][i / (size_t)per] |= ((g | pl << h) & fm) << sh;
            }
        }
        if (product_raw(ctx, Z2.p, X2.p, Y2.p, nw, nw, NULL, NULL, true) < 0) goto out;
        for (int lp = 0; lp < nl; lp++)
            for (size_t i = 0; i < N; i++) {
                uint64_t zz = (Z2.p[lp][i / (size_t)per] >> ((int)(i % (size_t)per) * w)) & fm;
                G.p[lp][i] = (G.p[lp][i] >> h) ^ (zz & lo);
                P.p[lp][i] = zz >> h;
            }
    }
    /* msb in XOR shares: bit 63 of s ^ k, and the carry (G's bit 0), into m */
    for (int lp = 0; lp < nl; lp++)
        for (size_t i = 0; i < N; i++) m.p[lp][i] = ((s.p[lp][i] ^ k.p[lp][i]) >> 63) ^ (G.p[lp][i] & 1);
    /* to arithmetic: t = b_0 + b_1 - 2 b_0 b_1, then t + b_2 - 2 t b_2 */
    for (int j = 0; j < 3; j++) component(ctx, m.p, N, j, &c[j], 0);
    for (int step = 0; step < 2; step++) {
        slots *a = step ? &u : &c[0], *b = &c[step + 1];
        if (product_raw(ctx, v.p, a->p, b->p, N, N, NULL, NULL, false) < 0) goto out;
        for (int lp = 0; lp < nl; lp++)
            for (size_t i = 0; i < N; i++) u.p[lp][i] = a->p[lp][i] + b->p[lp][i] - 2 * v.p[lp][i];
    }
    if (!vals) {
        for (int lp = 0; lp < nl; lp++) memcpy(bits[lp], u.p[lp], N * 8);
        rc = 0;
        goto out;
    }
    /* bits[c N + i] = vals[c N + i] * msb_i: one more product */
    slots_free(&Y2);
    slots_free(&X2);
    if (slots_alloc(ctx, &Y2, cols * N) < 0) goto out;
    for (int lp = 0; lp < nl; lp++)
        for (size_t cc = 0; cc < cols; cc++) memcpy(Y2.p[lp] + cc * N, u.p[lp], N * 8);
    rc = product_raw(ctx, bits, vals, Y2.p, cols * N, cols * N, NULL, NULL, false);
out:
    for (int j = 0; j < 3; j++) slots_free(&c[j]);
    slots_free(&u);
    slots_free(&v);
    slots_free(&m);
    slots_free(&s);
    slots_free(&k);
    slots_free(&G);
    slots_free(&P);
    slots_free(&X2);
    slots_free(&Y2);
    slots_free(&Z2);
    return rc;
}
