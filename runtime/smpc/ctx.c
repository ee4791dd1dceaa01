/*
** ctx.c: party contexts, share tensors, statistics.
*/
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smpc/smpc_int.h"
#include "tensor.h"

void he_smpc_config_init(he_smpc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->nparties = 2;
    cfg->ring = HE_SMPC_RING64;
    cfg->frac = HE_SMPC_FRAC_DEFAULT;
    cfg->mode = HE_SMPC_SIM;
    cfg->trunc = HE_SMPC_TRUNC_DEALER;
    cfg->timeout_ms = HE_SMPC_TIMEOUT_DEFAULT;
}

/* Everything but the parties: ring, prime, precision, truncation. */
int ctx_init_common(he_smpc_ctx *ctx, const he_smpc_config *cfg)
{
    if (cfg->frac < 0 || cfg->frac > 30) return he_error("smpc: fractional bits must be 0..30 (got %d)", cfg->frac);
    ctx->frac = cfg->frac;
    ctx->ring = cfg->ring;
    ctx->trunc = cfg->trunc;
    ctx->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : HE_SMPC_TIMEOUT_DEFAULT;
    if (cfg->ring == HE_SMPC_ZP) {
        if (!cfg->prime || mpz_set_str(ctx->p, cfg->prime, 10) != 0)
            return he_error("smpc: Z_p needs a modulus p in decimal (got '%s')", cfg->prime ? cfg->prime : "(none)");
        /* Nothing here divides, so any modulus >= 2 makes a ring where sharing
        ** and Beaver products work: the textbook's 501337 is 43 * 89 * 131. */
        if (mpz_cmp_ui(ctx->p, 2) < 0 || mpz_sizeinbase(ctx->p, 2) > 4096)
            return he_error("smpc: the modulus %s must be 2 .. 2^4096", cfg->prime);
        ctx->pbytes = (mpz_sizeinbase(ctx->p, 2) + 7) / 8;
        if (cfg->trunc != HE_SMPC_TRUNC_DEALER) return he_error("smpc: local truncation is Z_2^64 only");
    } else if (cfg->ring != HE_SMPC_RING64) {
        return he_error("smpc: unknown ring %d", (int)cfg->ring);
    } else {
        mpz_set_ui(ctx->p, 0);
        ctx->pbytes = 8;
    }
    if (cfg->trunc != HE_SMPC_TRUNC_DEALER && cfg->trunc != HE_SMPC_TRUNC_LOCAL)
        return he_error("smpc: unknown truncation mode %d", (int)cfg->trunc);
    return 0;
}

void ctx_digest(const he_smpc_ctx *ctx, uint8_t out[32])
{
    char *ps = mpz_get_str(NULL, 10, ctx->p);
    char buf[256];
    snprintf(buf, sizeof buf, "he-smpc-1|n=%d|ring=%d|p=%.120s|frac=%d|trunc=%d%s", ctx->n, (int)ctx->ring, ps ? ps : "?",
             ctx->frac, (int)ctx->trunc, ctx->rep3 ? "|proto=rep3" : "");
    void (*freefn)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &freefn);
    if (ps) freefn(ps, strlen(ps) + 1);
    crypto_generichash(out, 32, (const unsigned char *)buf, strlen(buf), NULL, 0);
}

void ctx_free_common(he_smpc_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->net) net_close(ctx->net);
    if (ctx->dealer) {
        mpz_clear(ctx->dealer->p);
        he_free_secret(ctx->dealer, sizeof *ctx->dealer);
    }
    rep3_free(ctx);
    mat_file_close(ctx->matfile);
    for (int i = 0; i < HE_SMPC_MAXPARTIES; i++) mat_file_close(ctx->matfiles[i]);
    he_free(ctx->plan);
    mpz_clear(ctx->p);
    he_free_secret(ctx, sizeof *ctx);
}

he_smpc_ctx *he_smpc_new(const he_smpc_config *cfg)
{
    if (!cfg) he_misuse("he_smpc_new: NULL config");
    he_smpc_ctx *ctx = he_calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    mpz_init(ctx->p);
    ctx->mode = cfg->mode;
    if (ctx_init_common(ctx, cfg) < 0) goto fail;
    if (cfg->mode == HE_SMPC_SIM) {
        if (cfg->nparties < 2 || cfg->nparties > HE_SMPC_MAXPARTIES) {
            he_error("smpc: the number of parties must be 2..%d (got %d)", HE_SMPC_MAXPARTIES, cfg->nparties);
            goto fail;
        }
        ctx->n = ctx->nloc = cfg->nparties;
        ctx->me = -1;
    } else if (cfg->mode == HE_SMPC_NET) {
        if (!cfg->party_file || !cfg->secret_key_file) {
            he_error("smpc: networked mode needs a party file and a secret key file");
            goto fail;
        }
        int n = he_smpc_party_file_check(cfg->party_file);
        if (n < 0) goto fail;
        if (cfg->me < 0 || cfg->me >= n) {
            he_error("smpc: party %d is not in the party file %s (parties 0..%d)", cfg->me, cfg->party_file, n - 1);
            goto fail;
        }
        ctx->n = n;
        ctx->me = cfg->me;
        ctx->nloc = 1;
    } else {
        he_error("smpc: unknown mode %d", (int)cfg->mode);
        goto fail;
    }
    if (cfg->protocol == HE_SMPC_REP3) {
        if (rep3_setup(ctx, cfg) < 0) goto fail;
        return ctx;
    }
    if (cfg->protocol != HE_SMPC_DEALER) {
        he_error("smpc: unknown protocol %d", (int)cfg->protocol);
        goto fail;
    }
    if (cfg->trunc == HE_SMPC_TRUNC_LOCAL && ctx->n != 2) {
        he_error("smpc: local (SecureML) truncation works for 2 parties only");
        goto fail;
    }
    if (ctx->mode == HE_SMPC_SIM) {
        if (cfg->material_dir) {
            for (int i = 0; i < ctx->n; i++)
                if (mat_file_open(ctx, cfg->material_dir, i, &ctx->matfiles[i], &ctx->fileprg[i]) < 0) goto fail;
        } else {
            smpc_dealer *d = he_calloc(1, sizeof *d);
            if (!d) goto fail;
            ctx->dealer = d;
            d->n = ctx->n;
            d->ring = ctx->ring;
            mpz_init_set(d->p, ctx->p);
            d->pbytes = ctx->pbytes;
            uint8_t seed[32];
            for (int i = 0; i < ctx->n; i++) {
                he_randombytes(seed, 32);
                prg_seed(&d->party[i], seed);
            }
            he_randombytes(seed, 32);
            prg_seed(&d->own, seed);
            he_memzero(seed, 32);
        }
        if (cfg->record_plan) {
            ctx->plan_cap = 16;
            ctx->plan = he_malloc(ctx->plan_cap * sizeof *ctx->plan);
            if (!ctx->plan) goto fail;
        }
        return ctx;
    }
    if (cfg->material_dir && mat_file_open(ctx, cfg->material_dir, ctx->me, &ctx->matfile, &ctx->fileprg[0]) < 0)
        goto fail;
    if (net_open(ctx, cfg, false) < 0) goto fail;
    return ctx;
fail: {
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", he_errmsg());
    ctx_free_common(ctx);
    he_error("%s", keep);
    return NULL;
}
}

void he_smpc_free(he_smpc_ctx *ctx)
{
    if (!ctx) return;
    /* every party tells the dealer it is done, only after a run that did
    ** not fail: the dealer exits 0 when all did */
    if (ctx->mode == HE_SMPC_NET && ctx->net && !net_aborted(ctx->net) && !ctx->matfile && !ctx->rep3) {
        mat_req bye;
        memset(&bye, 0, sizeof bye); /* kind 0: this computation is over */
        int rc = ctx->me == ctx->n - 1 ? net_send(ctx, ctx->n, MSG_REQ, &bye, sizeof bye)
                                       : net_send(ctx, ctx->n, MSG_BYE, NULL, 0);
        if (rc < 0) he_clearerr();
    }
    ctx_free_common(ctx);
}

void he_smpc_abort(he_smpc_ctx *ctx, const char *why)
{
    if (!ctx || !ctx->net) return;
    char keep[512];
    snprintf(keep, sizeof keep, "%s", he_errmsg());
    net_abort_all(ctx, why ? why : "aborted");
    he_error("%s", keep);
}

int he_smpc_nparties(const he_smpc_ctx *ctx) { return ctx->n; }
int he_smpc_me(const he_smpc_ctx *ctx) { return ctx->mode == HE_SMPC_SIM ? -1 : ctx->me; }
int he_smpc_frac(const he_smpc_ctx *ctx) { return ctx->frac; }
he_smpc_ring he_smpc_ring_of(const he_smpc_ctx *ctx) { return ctx->ring; }
he_smpc_mode he_smpc_mode_of(const he_smpc_ctx *ctx) { return ctx->mode; }
he_smpc_protocol he_smpc_protocol_of(const he_smpc_ctx *ctx) { return ctx->rep3 ? HE_SMPC_REP3 : HE_SMPC_DEALER; }

bool he_smpc_receives(const he_smpc_ctx *ctx, uint64_t mask)
{
    uint64_t all = ctx->n == 64 ? UINT64_MAX : (((uint64_t)1 << ctx->n) - 1);
    mask &= all;
    if (ctx->mode == HE_SMPC_SIM) return mask != 0;
    return (mask >> ctx->me) & 1;
}

void he_smpc_stats_get(const he_smpc_ctx *ctx, he_smpc_stats *out) { *out = ctx->stats; }
void he_smpc_stats_reset(he_smpc_ctx *ctx) { memset(&ctx->stats, 0, sizeof ctx->stats); }
unsigned he_smpc_refused(const he_smpc_ctx *ctx) { return ctx->net ? net_refused(ctx->net) : 0; }

void stats_round(he_smpc_ctx *ctx) { ctx->stats.rounds++; }

/* --- share tensors -------------------------------------------------------------- */
static int shape_size(int ndim, const int64_t *shape, size_t *size)
{
    if (ndim < 0 || ndim > HE_SMPC_MAXDIM) return he_error("smpc: %d dimensions (at most %d)", ndim, HE_SMPC_MAXDIM);
    int64_t n;
    if (he_shape_check(ndim, shape, "smpc", &n) < 0) return -1; /* bounds every dimension, zeros or not */
    size_t s = (size_t)n;
    if (s > ((size_t)1 << 34)) return he_error("smpc: share tensor too large");
    *size = s;
    return 0;
}

he_share *share_alloc(he_smpc_ctx *ctx, int ndim, const int64_t *shape, int frac)
{
    size_t size;
    if (shape_size(ndim, shape, &size) < 0) return NULL;
    he_share *s = he_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ctx = ctx;
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++) s->shape[i] = shape[i];
    s->size = size;
    s->frac = frac;
    s->nloc = ctx->nloc;
    for (int lp = 0; lp < s->nloc; lp++) {
        if (ctx->ring == HE_SMPC_ZP) {
            if (!(s->z[lp] = zp_alloc(size))) goto fail;
        } else if (!(s->u[lp] = he_malloc((size ? size : 1) * 8))) {
            goto fail;
        }
    }
    return s;
fail:
    he_share_free(s);
    return NULL;
}

he_share *he_share_new(he_smpc_ctx *ctx, int ndim, const int64_t *shape, int frac)
{
    if (!ctx || (ndim > 0 && !shape)) he_misuse("he_share_new: NULL");
    if (frac < 0 || frac > 62) {
        he_error("smpc: fractional bits %d out of range", frac);
        return NULL;
    }
    he_share *s = share_alloc(ctx, ndim, shape, frac);
    if (s && ctx->ring == HE_SMPC_RING64)
        for (int lp = 0; lp < s->nloc; lp++) memset(s->u[lp], 0, s->size * 8);
    return s;
}

static void share_release(he_share *s)
{
    for (int lp = 0; lp < s->nloc; lp++) {
        if (s->u[lp]) he_free_secret(s->u[lp], (s->size ? s->size : 1) * 8);
        if (s->z[lp]) zp_free(s->z[lp], s->size);
        s->u[lp] = NULL;
        s->z[lp] = NULL;
    }
}

void he_share_free(he_share *s)
{
    if (!s) return;
    share_release(s);
    he_free_secret(s, sizeof *s);
}

void share_move(he_share *dst, he_share *src)
{
    share_release(dst);
    he_smpc_ctx *ctx = dst->ctx;
    *dst = *src;
    dst->ctx = ctx;
    he_free_secret(src, sizeof *src);
}

int share_same_ctx(const he_smpc_ctx *ctx, const he_share *a)
{
    if (!a) he_misuse("smpc: NULL share");
    if (a->ctx != ctx) return he_error("smpc: share tensor belongs to another party context");
    return 0;
}

int he_share_ndim(const he_share *s) { return s->ndim; }
const int64_t *he_share_shape(const he_share *s) { return s->shape; }
size_t he_share_size(const he_share *s) { return s->size; }
int he_share_frac(const he_share *s) { return s->frac; }

int he_share_reshape(he_share *s, int ndim, const int64_t *shape)
{
    size_t size;
    if (shape_size(ndim, shape, &size) < 0) return -1;
    if (size != s->size)
        return he_error("smpc: cannot reshape %zu elements into a shape of %zu", s->size, size);
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++) s->shape[i] = shape[i];
    return 0;
}

int he_share_copy(he_share *out, const he_share *a)
{
    if (share_same_ctx(out->ctx, a) < 0) return -1;
    if (out == a) return 0;
    he_share *t = share_alloc(a->ctx, a->ndim, a->shape, a->frac);
    if (!t) return -1;
    for (int lp = 0; lp < a->nloc; lp++) {
        if (a->ctx->ring == HE_SMPC_ZP)
            for (size_t i = 0; i < a->size; i++) mpz_set(t->z[lp][i], a->z[lp][i]);
        else
            memcpy(t->u[lp], a->u[lp], a->size * 8);
    }
    share_move(out, t);
    return 0;
}

int he_share_gather(he_share *out, const he_share *a, const int64_t *idx, int ndim, const int64_t *shape)
{
    if (!out || !a || !idx || (ndim > 0 && !shape)) he_misuse("he_share_gather: NULL");
    if (share_same_ctx(out->ctx, a) < 0) return -1;
    if (ndim < 0 || ndim > HE_SMPC_MAXDIM) return he_error("smpc: %d dimensions (at most %d)", ndim, HE_SMPC_MAXDIM);
    he_share *t = share_alloc(a->ctx, ndim, shape, a->frac);
    if (!t) return -1;
    for (size_t i = 0; i < t->size; i++)
        if (idx[i] < 0 || (uint64_t)idx[i] >= a->size) {
            he_share_free(t);
            return he_error("smpc: gather index %lld out of range for %zu elements", (long long)idx[i], a->size);
        }
    for (int lp = 0; lp < a->nloc; lp++) {
        if (a->ctx->ring == HE_SMPC_ZP)
            for (size_t i = 0; i < t->size; i++) mpz_set(t->z[lp][i], a->z[lp][idx[i]]);
        else
            for (size_t i = 0; i < t->size; i++) t->u[lp][i] = a->u[lp][idx[i]];
    }
    share_move(out, t);
    return 0;
}

static int local_slot(const he_share *s, int party)
{
    const he_smpc_ctx *ctx = s->ctx;
    if (party < 0 || party >= ctx->n) return he_error("smpc: no party %d", party);
    if (ctx->mode == HE_SMPC_SIM) return party;
    if (party != ctx->me) return he_error("smpc: party %d's shares are not held by this process (party %d)", party, ctx->me);
    return 0;
}

int he_share_raw_u64(const he_share *s, int party, uint64_t *out)
{
    if (s->ctx->ring != HE_SMPC_RING64) return he_error("smpc: raw u64 shares are for Z_2^64");
    int lp = local_slot(s, party);
    if (lp < 0) return -1;
    memcpy(out, s->u[lp], s->size * 8);
    return 0;
}

int he_share_raw_mpz(const he_share *s, int party, mpz_t *out)
{
    if (s->ctx->ring != HE_SMPC_ZP) return he_error("smpc: raw mpz shares are for Z_p");
    int lp = local_slot(s, party);
    if (lp < 0) return -1;
    for (size_t i = 0; i < s->size; i++) mpz_set(out[i], s->z[lp][i]);
    return 0;
}

/* --- saving shares ----------------------------------------------------------------- */
/* File: header (magic, the context's digest, parties held, shape, frac),
** then each held party's shares (Z_2^64: 8 bytes little-endian; Z_p: the
** modulus' byte length, big-endian), then a BLAKE2b-256 checksum of all the
** bytes before it. Written atomically with mode 0600 (in a simulation the
** file holds every party's shares: the secret itself). */
#define SHARE_MAGIC "HESMPCS2"
#define SHARE_MAGIC_V1 "HESMPCS1" /* before the checksum: refused */
#define SHARE_MAX_FILE ((size_t)1 << 36)
typedef struct share_header {
    char magic[8];
    uint8_t digest[32];
    int32_t first_party, nloc, ndim, frac;
    int64_t shape[HE_SMPC_MAXDIM];
} share_header;

/* Writes the shares of the local slots slot[0 .. nslot-1] of s as the file
** of first_party (-1: a simulation's, every party). */
static int share_save_slots(const he_share *s, int first_party, const int *slot, int nslot, const char *path)
{
    const he_smpc_ctx *ctx = s->ctx;
    share_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SHARE_MAGIC, 8);
    ctx_digest(ctx, h.digest);
    h.first_party = first_party;
    h.nloc = nslot;
    h.ndim = s->ndim;
    h.frac = s->frac;
    for (int i = 0; i < s->ndim; i++) h.shape[i] = s->shape[i];
    size_t eb = ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8, body, total;
    if (he_mul_size(s->size, eb, &body) < 0 || he_mul_size(body, (size_t)nslot, &body) < 0) return -1;
    if (body > SHARE_MAX_FILE) return he_error("smpc: share tensor too large to save");
    total = sizeof h + body + 32;
    uint8_t *buf = he_malloc(total);
    if (!buf) return -1;
    memcpy(buf, &h, sizeof h);
    uint8_t *p = buf + sizeof h;
    for (int k = 0; k < nslot; k++) {
        int lp = slot[k];
        for (size_t i = 0; i < s->size; i++, p += eb) {
            if (ctx->ring == HE_SMPC_RING64)
                for (int b = 0; b < 8; b++) p[b] = (uint8_t)(s->u[lp][i] >> (8 * b));
            else
                zp_to_bytes(s->z[lp][i], p, ctx->pbytes);
        }
    }
    crypto_generichash(p, 32, buf, total - 32, NULL, 0);
    int rc = he_file_write(path, buf, total, true, "smpc");
    he_free_secret(buf, total);
    return rc;
}

int he_share_save(const he_share *s, const char *path)
{
    if (!s || !path) he_misuse("he_share_save: NULL");
    int slot[HE_SMPC_MAXPARTIES];
    for (int lp = 0; lp < s->nloc; lp++) slot[lp] = lp;
    return share_save_slots(s, s->ctx->mode == HE_SMPC_SIM ? -1 : s->ctx->me, slot, s->nloc, path);
}

int he_share_save_party(const he_share *s, int party, const char *path)
{
    if (!s || !path) he_misuse("he_share_save_party: NULL");
    const he_smpc_ctx *ctx = s->ctx;
    if (ctx->mode != HE_SMPC_SIM) return he_error("smpc: only a simulated context holds every party's shares to deal");
    if (party < 0 || party >= ctx->n) return he_error("smpc: no party %d (parties 0..%d)", party, ctx->n - 1);
    /* the slots party `party`'s process holds (rep3: its share and the next) */
    int slot[2] = {party, (party + 1) % ctx->n};
    return share_save_slots(s, party, slot, ctx->rep3 ? 2 : 1, path);
}

he_share *he_share_load(he_smpc_ctx *ctx, const char *path)
{
    if (!ctx || !path) he_misuse("he_share_load: NULL");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (he_file_read(path, SHARE_MAX_FILE, "smpc", &buf, &len) < 0) return NULL;
    share_header h;
    memset(&h, 0, sizeof h);
    uint8_t dg[32], sum[32];
    ctx_digest(ctx, dg);
    he_share *s = NULL;
    size_t eb = ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8, size = 0, want_len = 0;
    int want = ctx->mode == HE_SMPC_SIM ? -1 : ctx->me;
    if (len >= 8 && memcmp(buf, SHARE_MAGIC_V1, 8) == 0) {
        he_error("smpc: %s was saved by an older version without a checksum; save it again", path);
        goto out;
    }
    if (len < 8 || memcmp(buf, SHARE_MAGIC, 8) != 0) {
        he_error("smpc: %s is not an he share file", path);
        goto out;
    }
    if (len < sizeof h + 32) {
        he_error("smpc: %s is damaged (truncated)", path);
        goto out;
    }
    crypto_generichash(sum, 32, buf, len - 32, NULL, 0);
    if (he_memcmp_ct(sum, buf + len - 32, 32) != 0) {
        he_error("smpc: %s is damaged (checksum mismatch)", path);
        goto out;
    }
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.digest, dg, 32) != 0) {
        he_error("smpc: %s was saved under another configuration (parties, ring, modulus, frac)", path);
        goto out;
    }
    if (h.first_party != want || h.nloc != ctx->nloc) {
        if (h.first_party < 0)
            he_error("smpc: %s holds every party's shares (simulated); this process is party %d", path, want);
        else if (want < 0)
            he_error("smpc: %s holds party %d's shares only; a simulated context needs every party's", path,
                     h.first_party);
        else
            he_error("smpc: %s holds party %d's shares; this is party %d", path, h.first_party, want);
        goto out;
    }
    /* the sizes are checked against the file before anything is allocated */
    if (h.ndim < 0 || h.ndim > HE_SMPC_MAXDIM || h.frac < 0 || h.frac > 62 || shape_size(h.ndim, h.shape, &size) < 0 ||
        he_mul_size(size, eb, &want_len) < 0 || he_mul_size(want_len, (size_t)h.nloc, &want_len) < 0 ||
        want_len != len - sizeof h - 32) {
        he_error("smpc: %s is damaged (its shape does not match its length)", path);
        goto out;
    }
    if (!(s = share_alloc(ctx, h.ndim, h.shape, h.frac))) goto out;
    const uint8_t *p = buf + sizeof h;
    bool ok = true;
    for (int lp = 0; ok && lp < s->nloc; lp++)
        for (size_t i = 0; ok && i < s->size; i++, p += eb) {
            if (ctx->ring == HE_SMPC_RING64) {
                uint64_t v = 0;
                for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
                s->u[lp][i] = v;
            } else {
                zp_from_bytes(s->z[lp][i], p, ctx->pbytes);
                ok = mpz_cmp(s->z[lp][i], ctx->p) < 0;
            }
        }
    if (!ok) {
        he_error("smpc: %s is damaged (a share is not below the modulus)", path);
        he_share_free(s);
        s = NULL;
    }
out:
    he_memzero(&h, sizeof h);
    he_free_secret(buf, len + 1);
    return s;
}
