/*
** dealer.c: the correlated randomness of the dealer (crypto provider).
**
** Every piece of material is a list of fields (mat_layout). Random fields are
** drawn by every party from a ChaCha20 stream it shares with the dealer; the
** secret they share is their sum (or xor). Dependent fields (c = a*b of a
** triple, the bits of r, ...) are drawn the same way by parties 0..n-2, and
** the dealer sends the last party its share: secret - sum of the others'.
** So only the last party receives data, and only the dependent part (the
** seed trick of CrypTen's trusted third party and MP-SPDZ's dealer).
*/
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "smpc/smpc_int.h"

/* --- streams ---------------------------------------------------------------- */
void prg_seed(smpc_prg *g, const uint8_t seed[32])
{
    memcpy(g->key, seed, 32);
    g->nonce = 0;
}

void prg_u64(smpc_prg *g, uint64_t *out, size_t n)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint64_t c = g->nonce++;
    for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(c >> (8 * i));
    crypto_stream_chacha20((unsigned char *)out, n * sizeof *out, nonce, g->key);
}

void prg_zp(smpc_prg *g, mpz_t *out, size_t n, const mpz_t p, size_t pbytes)
{
    size_t w = pbytes + 8; /* 64 extra bits: statistical distance < 2^-64 */
    size_t words = (w * n + 7) / 8;
    uint64_t *raw = he_malloc((words ? words : 1) * 8);
    if (!raw) he_misuse("smpc: out of memory drawing randomness");
    prg_u64(g, raw, words);
    const uint8_t *b = (const uint8_t *)raw;
    for (size_t i = 0; i < n; i++) {
        mpz_import(out[i], w, 1, 1, 1, 0, b + i * w);
        mpz_mod(out[i], out[i], p);
    }
    he_free_secret(raw, words * 8);
}

/* --- layouts ------------------------------------------------------------------ */
static void addf(mat_layout *L, size_t len, bool xor_, bool dep)
{
    mat_field *f = &L->f[L->nf++];
    f->off = L->total;
    f->len = len;
    f->xor_ = xor_;
    f->dep = dep;
    L->total += len;
    if (dep) L->dep_total += len;
}

#define MAT_MAXELEMS ((int64_t)1 << 32)

int mat_layout_of(const mat_req *r, mat_layout *L)
{
    memset(L, 0, sizeof *L);
    for (int i = 0; i < MAT_NPARAM; i++)
        if (r->p[i] < 0 || r->p[i] > MAT_MAXELEMS) return he_error("smpc: bad material request");
    bool zp = r->ring == HE_SMPC_ZP;
    switch (r->kind) {
    case MAT_TRIPLE:
        addf(L, (size_t)r->p[0], false, false);
        addf(L, (size_t)r->p[0], false, false);
        addf(L, (size_t)r->p[0], false, true);
        break;
    case MAT_MATTRIPLE: {
        int64_t m = r->p[0], k = r->p[1], n = r->p[2];
        if (m * k > MAT_MAXELEMS || k * n > MAT_MAXELEMS || m * n > MAT_MAXELEMS)
            return he_error("smpc: matrix triple too large");
        addf(L, (size_t)(m * k), false, false);
        addf(L, (size_t)(k * n), false, false);
        addf(L, (size_t)(m * n), false, true);
        break;
    }
    case MAT_CONVTRIPLE: {
        conv_geom g;
        if (zp) return he_error("smpc: convolution triples are Z_2^64 only");
        if (conv_geom_of(&g, r) < 0) return -1;
        addf(L, (size_t)(g.N * g.C * g.H * g.W), false, false);
        addf(L, (size_t)(g.OC * g.C * g.KH * g.KW), false, false);
        addf(L, (size_t)(g.N * g.OC * g.OH * g.OW), false, true);
        break;
    }
    case MAT_TRUNC:
        if (zp || r->p[1] < 1 || r->p[1] > 62) return he_error("smpc: bad truncation request");
        addf(L, (size_t)r->p[0], false, false);
        addf(L, (size_t)r->p[0], false, true);
        addf(L, (size_t)r->p[0], false, true);
        break;
    case MAT_CMP: {
        if (zp) return he_error("smpc: comparison material is Z_2^64 only");
        size_t n = (size_t)r->p[0], W = (n + 63) / 64;
        addf(L, n, false, false);               /* 0: r */
        addf(L, 64 * W, true, true);            /* 1: bit planes of r */
        addf(L, CMP_ANDS * W, true, false);     /* 2: AND triples a */
        addf(L, CMP_ANDS * W, true, false);     /* 3: b */
        addf(L, CMP_ANDS * W, true, true);      /* 4: c = a & b */
        addf(L, W, true, false);                /* 5: s (xor) */
        addf(L, n, false, true);                /* 6: s (arith) */
        break;
    }
    default:
        return he_error("smpc: unknown material kind %u", r->kind);
    }
    if (zp && r->kind != MAT_TRIPLE && r->kind != MAT_MATTRIPLE) return he_error("smpc: material not available in Z_p");
    return 0;
}

void party_draw(smpc_prg *g, const mat_req *r, bool last, void *buf, he_smpc_ring ring, const mpz_t p, size_t pbytes)
{
    mat_layout L;
    if (mat_layout_of(r, &L) < 0) he_misuse("smpc: party_draw on a bad request");
    for (int i = 0; i < L.nf; i++) {
        if (L.f[i].dep && last) continue;
        if (ring == HE_SMPC_ZP)
            prg_zp(g, (mpz_t *)buf + L.f[i].off, L.f[i].len, p, pbytes);
        else
            prg_u64(g, (uint64_t *)buf + L.f[i].off, L.f[i].len);
    }
}

/* The secret values of the dependent fields from those of the random ones
** (both as whole buffers in the layout). */
static int secret_dep_u64(const mat_req *r, const mat_layout *L, uint64_t *s)
{
    switch (r->kind) {
    case MAT_TRIPLE: {
        uint64_t *a = s + L->f[0].off, *b = s + L->f[1].off, *c = s + L->f[2].off;
        for (size_t i = 0; i < L->f[0].len; i++) c[i] = a[i] * b[i];
        return 0;
    }
    case MAT_MATTRIPLE:
        memset(s + L->f[2].off, 0, L->f[2].len * 8);
        ring_matmul_acc(s + L->f[2].off, s + L->f[0].off, s + L->f[1].off, (size_t)r->p[0], (size_t)r->p[1],
                        (size_t)r->p[2]);
        return 0;
    case MAT_CONVTRIPLE: {
        conv_geom g;
        if (conv_geom_of(&g, r) < 0) return -1;
        memset(s + L->f[2].off, 0, L->f[2].len * 8);
        return ring_conv_acc(s + L->f[2].off, s + L->f[0].off, s + L->f[1].off, &g);
    }
    case MAT_TRUNC: {
        int f = (int)r->p[1];
        uint64_t *rr = s + L->f[0].off, *rf = s + L->f[1].off, *rm = s + L->f[2].off;
        for (size_t i = 0; i < L->f[0].len; i++) {
            rf[i] = rr[i] >> f;
            rm[i] = rr[i] >> 63;
        }
        return 0;
    }
    case MAT_CMP: {
        size_t n = L->f[0].len, W = (n + 63) / 64;
        const uint64_t *rr = s + L->f[0].off;
        uint64_t *planes = s + L->f[1].off;
        memset(planes, 0, 64 * W * 8);
        for (size_t e = 0; e < n; e++) {
            uint64_t v = rr[e];
            for (int b = 0; b < 64; b++) planes[b * W + e / 64] |= ((v >> b) & 1) << (e % 64);
        }
        const uint64_t *a = s + L->f[2].off, *bb = s + L->f[3].off;
        uint64_t *c = s + L->f[4].off;
        for (size_t i = 0; i < CMP_ANDS * W; i++) c[i] = a[i] & bb[i];
        const uint64_t *sx = s + L->f[5].off;
        uint64_t *sa = s + L->f[6].off;
        for (size_t e = 0; e < n; e++) sa[e] = (sx[e / 64] >> (e % 64)) & 1;
        return 0;
    }
    }
    return he_error("smpc: unknown material kind");
}

static int make_u64(smpc_dealer *d, const mat_req *r, const mat_layout *L, void **all, uint64_t *last_dep)
{
    size_t T = L->total, D = L->dep_total;
    uint64_t *acc = he_calloc(T ? T : 1, 8); /* secrets of random fields, others' sums of dep ones */
    uint64_t *tmp = all ? NULL : he_malloc((T ? T : 1) * 8);
    uint64_t *dep = last_dep ? last_dep : he_malloc((D ? D : 1) * 8);
    int rc = -1;
    if (!acc || (!all && !tmp) || !dep) goto out;
    for (int i = 0; i < d->n; i++) {
        bool last = i == d->n - 1;
        uint64_t *b = all ? all[i] : tmp;
        party_draw(&d->party[i], r, last, b, HE_SMPC_RING64, d->p, 0);
        for (int k = 0; k < L->nf; k++) {
            const mat_field *f = &L->f[k];
            if (f->dep && last) continue;
            uint64_t *restrict y = acc + f->off;
            const uint64_t *restrict x = b + f->off;
            if (f->xor_)
                for (size_t j = 0; j < f->len; j++) y[j] ^= x[j];
            else
                for (size_t j = 0; j < f->len; j++) y[j] += x[j];
        }
    }
    /* keep the others' sums of the dep fields, then compute the secrets in place */
    size_t o = 0;
    for (int k = 0; k < L->nf; k++)
        if (L->f[k].dep) {
            memcpy(dep + o, acc + L->f[k].off, L->f[k].len * 8);
            o += L->f[k].len;
        }
    if (secret_dep_u64(r, L, acc) < 0) goto out;
    o = 0;
    for (int k = 0; k < L->nf; k++) {
        const mat_field *f = &L->f[k];
        if (!f->dep) continue;
        uint64_t *restrict v = dep + o;
        const uint64_t *restrict sec = acc + f->off;
        if (f->xor_)
            for (size_t j = 0; j < f->len; j++) v[j] ^= sec[j];
        else
            for (size_t j = 0; j < f->len; j++) v[j] = sec[j] - v[j];
        if (all) memcpy((uint64_t *)all[d->n - 1] + f->off, v, f->len * 8);
        o += f->len;
    }
    rc = 0;
out:
    if (acc) he_free_secret(acc, (T ? T : 1) * 8);
    if (tmp) he_free_secret(tmp, (T ? T : 1) * 8);
    if (dep && dep != last_dep) he_free_secret(dep, (D ? D : 1) * 8);
    return rc;
}

static int make_zp(smpc_dealer *d, const mat_req *r, const mat_layout *L, void **all, mpz_t *last_dep)
{
    size_t T = L->total;
    mpz_t *acc = zp_alloc(T), *tmp = all ? NULL : zp_alloc(T);
    int rc = -1;
    if (!acc || (!all && !tmp)) goto out;
    for (int i = 0; i < d->n; i++) {
        bool last = i == d->n - 1;
        mpz_t *b = all ? all[i] : tmp;
        party_draw(&d->party[i], r, last, b, HE_SMPC_ZP, d->p, d->pbytes);
        for (int k = 0; k < L->nf; k++) {
            const mat_field *f = &L->f[k];
            if (f->dep && last) continue;
            for (size_t j = 0; j < f->len; j++) mpz_add(acc[f->off + j], acc[f->off + j], b[f->off + j]);
        }
    }
    for (size_t j = 0; j < T; j++) mpz_mod(acc[j], acc[j], d->p);
    const mat_field *fc = &L->f[2];
    mpz_t *sec = zp_alloc(fc->len);
    if (!sec) goto out;
    if (r->kind == MAT_TRIPLE) {
        for (size_t j = 0; j < fc->len; j++) {
            mpz_mul(sec[j], acc[L->f[0].off + j], acc[L->f[1].off + j]);
            mpz_mod(sec[j], sec[j], d->p);
        }
    } else {
        zp_matmul_acc(sec, acc + L->f[0].off, acc + L->f[1].off, (size_t)r->p[0], (size_t)r->p[1], (size_t)r->p[2], d->p);
    }
    for (size_t j = 0; j < fc->len; j++) {
        mpz_sub(sec[j], sec[j], acc[fc->off + j]);
        mpz_mod(sec[j], sec[j], d->p);
        if (all) mpz_set(((mpz_t *)all[d->n - 1])[fc->off + j], sec[j]);
        if (last_dep) mpz_set(last_dep[j], sec[j]);
    }
    zp_free(sec, fc->len);
    rc = 0;
out:
    zp_free(acc, T);
    zp_free(tmp, T);
    return rc;
}

int dealer_make(smpc_dealer *d, const mat_req *r, void **all, void *last_dep)
{
    mat_layout L;
    if (mat_layout_of(r, &L) < 0) return -1;
    if ((he_smpc_ring)r->ring != d->ring) return he_error("smpc: material request for another ring");
    if (d->ring == HE_SMPC_ZP) return make_zp(d, r, &L, all, last_dep);
    return make_u64(d, r, &L, all, last_dep);
}

/* --- material for the parties of this process ---------------------------------- */
static size_t elem_bytes(const he_smpc_ctx *ctx) { return ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8; }

/* Reads the dependent fields of the last party (dep_total elements, in field
** order) from a byte buffer into its material buffer. */
static void scatter_dep(const he_smpc_ctx *ctx, const smpc_mat *m, void *buf, const uint8_t *src)
{
    size_t eb = elem_bytes(ctx);
    for (int k = 0; k < m->L.nf; k++) {
        const mat_field *f = &m->L.f[k];
        if (!f->dep) continue;
        if (ctx->ring == HE_SMPC_ZP)
            for (size_t j = 0; j < f->len; j++) zp_from_bytes(((mpz_t *)buf)[f->off + j], src + j * eb, eb);
        else
            memcpy((uint64_t *)buf + f->off, src, f->len * 8);
        src += f->len * eb;
    }
}

/* What a request asks for, in words (for the error when a material file
** was made for another computation). */
static void req_describe(const mat_req *r, char *out, size_t n)
{
    const int64_t *p = r->p;
    const char *ring = r->ring == HE_SMPC_ZP ? " in Z_p" : "";
    switch (r->kind) {
    case MAT_TRIPLE: snprintf(out, n, "a Beaver triple of %lld elements%s", (long long)p[0], ring); break;
    case MAT_MATTRIPLE:
        snprintf(out, n, "a matrix triple (%lld x %lld) @ (%lld x %lld)%s", (long long)p[0], (long long)p[1],
                 (long long)p[1], (long long)p[2], ring);
        break;
    case MAT_CONVTRIPLE:
        snprintf(out, n, "a convolution triple (image %lldx%lldx%lldx%lld, kernel %lldx%lldx%lldx%lld, stride %lld, pad %lld)",
                 (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3], (long long)p[4], (long long)p[1],
                 (long long)p[5], (long long)p[6], (long long)p[7], (long long)p[8]);
        break;
    case MAT_TRUNC:
        snprintf(out, n, "a truncation pair of %lld elements by %lld bits", (long long)p[0], (long long)p[1]);
        break;
    case MAT_CMP: snprintf(out, n, "comparison material of %lld elements", (long long)p[0]); break;
    default: snprintf(out, n, "material of unknown kind %u", r->kind); break;
    }
}

static int file_read_record(he_smpc_ctx *ctx, smpc_matfile *f, const smpc_mat *m, void *buf, bool last)
{
    mat_req got;
    if (f->end - f->pos < sizeof got)
        return he_error("smpc: the material file %s is used up after %llu requests (the run needs more than the "
                        "offline phase made)",
                        f->path, (unsigned long long)f->nreq);
    memcpy(&got, f->buf + f->pos, sizeof got);
    if (memcmp(&got, &m->req, sizeof got) != 0) {
        char want[160], have[160];
        req_describe(&m->req, want, sizeof want);
        req_describe(&got, have, sizeof have);
        return he_error("smpc: the material file %s was made for another computation: its request %llu is %s, "
                        "this run asks for %s",
                        f->path, (unsigned long long)f->nreq + 1, have, want);
    }
    size_t nb = last ? m->L.dep_total * elem_bytes(ctx) : 0;
    if (f->end - f->pos - sizeof got < nb)
        return he_error("smpc: the material file %s is damaged (request %llu is cut short)", f->path,
                        (unsigned long long)f->nreq + 1);
    f->pos += sizeof got;
    if (last) scatter_dep(ctx, m, buf, f->buf + f->pos);
    f->pos += nb;
    f->nreq++;
    return 0;
}

int mat_get(he_smpc_ctx *ctx, const mat_req *r, smpc_mat *m)
{
    memset(m, 0, sizeof *m);
    if (ctx->rep3) /* no dealer: only what rep3.c does runs under it */
        return he_error("smpc: internal: a request for dealer material (kind %u) under the rep3 protocol, which has "
                        "no dealer", (unsigned)r->kind);
    m->req = *r;
    m->req.ring = (uint32_t)ctx->ring;
    if (mat_layout_of(&m->req, &m->L) < 0) return -1;
    m->nloc = ctx->nloc;
    for (int lp = 0; lp < m->nloc; lp++) {
        m->buf[lp] = ctx->ring == HE_SMPC_ZP ? (void *)zp_alloc(m->L.total) : he_malloc((m->L.total ? m->L.total : 1) * 8);
        if (!m->buf[lp]) goto fail;
    }
    ctx->stats.dealer_requests++;
    if (ctx->mode == HE_SMPC_SIM && ctx->plan_cap > 0) {
        if (ctx->plan_len == ctx->plan_cap) {
            mat_req *np = he_realloc(ctx->plan, ctx->plan_cap * 2 * sizeof *np);
            if (!np) goto fail;
            ctx->plan = np;
            ctx->plan_cap *= 2;
        }
        ctx->plan[ctx->plan_len++] = m->req;
    }
    size_t eb = elem_bytes(ctx);
    if (ctx->mode == HE_SMPC_SIM) {
        if (ctx->matfiles[0]) {
            for (int lp = 0; lp < ctx->n; lp++) {
                party_draw(&ctx->fileprg[lp], &m->req, lp == ctx->n - 1, m->buf[lp], ctx->ring, ctx->p, ctx->pbytes);
                if (file_read_record(ctx, ctx->matfiles[lp], m, m->buf[lp], lp == ctx->n - 1) < 0) goto fail;
            }
        } else if (dealer_make(ctx->dealer, &m->req, m->buf, NULL) < 0) {
            goto fail;
        }
        ctx->stats.bytes_sent[ctx->n] += m->L.dep_total * eb + 8;
        return 0;
    }
    bool last = ctx->me == ctx->n - 1;
    if (ctx->matfile) {
        party_draw(&ctx->fileprg[0], &m->req, last, m->buf[0], ctx->ring, ctx->p, ctx->pbytes);
        if (file_read_record(ctx, ctx->matfile, m, m->buf[0], last) < 0) goto fail;
        return 0;
    }
    party_draw(&ctx->seedprg, &m->req, last, m->buf[0], ctx->ring, ctx->p, ctx->pbytes);
    if (last) {
        if (net_send(ctx, ctx->n, MSG_REQ, &m->req, sizeof m->req) < 0) goto fail;
        m->pending = true;
    }
    return 0;
fail:
    mat_free(ctx, m);
    return -1;
}

int mat_wait(he_smpc_ctx *ctx, smpc_mat *m)
{
    if (!m->pending) return 0;
    size_t nb = m->L.dep_total * elem_bytes(ctx);
    uint8_t *tmp = he_malloc(nb ? nb : 1);
    if (!tmp) return -1;
    if (net_recv(ctx, ctx->n, MSG_MAT, tmp, nb) < 0) {
        he_free_secret(tmp, nb);
        return -1;
    }
    scatter_dep(ctx, m, m->buf[0], tmp);
    he_free_secret(tmp, nb);
    m->pending = false;
    return 0;
}

void mat_free(he_smpc_ctx *ctx, smpc_mat *m)
{
    for (int lp = 0; lp < m->nloc; lp++) {
        if (!m->buf[lp]) continue;
        if (ctx->ring == HE_SMPC_ZP)
            zp_free(m->buf[lp], m->L.total);
        else
            he_free_secret(m->buf[lp], (m->L.total ? m->L.total : 1) * 8);
        m->buf[lp] = NULL;
    }
}

/* --- material files (offline phase) --------------------------------------------- */
/* File: header (magic, parties, party, ring, frac, the configuration's
** digest, the party's ChaCha20 seed shared with the dealer), then one record
** per request (the request; for the last party its dependent fields:
** Z_2^64 8 bytes, Z_p the modulus' byte length), then a BLAKE2b-256
** checksum of all the bytes before it (as share, CKKS and Paillier files).
** Written atomically with mode 0600 (he_file_write); used once: the run
** that opens it first makes DIR/party-I.mat.used (O_EXCL), then reads,
** wipes and removes the file. */
#define MAT_MAGIC "HESMPCM2"
#define MAT_MAGIC_V1 "HESMPCM1" /* before the checksum: refused */
#define MAT_MAX_FILE ((size_t)1 << 36)
#define MAT_SUM 32
typedef struct mat_header {
    char magic[8];
    uint32_t n, party, ring, frac;
    uint8_t digest[32];
    uint8_t seed[32];
} mat_header;

void mat_file_close(smpc_matfile *f)
{
    if (!f) return;
    if (f->buf) he_free_secret(f->buf, f->len + 1);
    he_free_secret(f, sizeof *f);
}

/* Overwrites a used material file with zeros and removes it. */
static void mat_file_wipe(const char *path, size_t len)
{
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        uint8_t zero[4096] = {0};
        size_t off = 0;
        while (off < len) {
            size_t k = len - off < sizeof zero ? len - off : sizeof zero;
            ssize_t w = write(fd, zero, k);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
        if (fsync(fd) < 0 || ftruncate(fd, 0) < 0) { /* removed below all the same */ }
        close(fd);
    }
    unlink(path);
}

int mat_file_open(he_smpc_ctx *ctx, const char *dir, int party, smpc_matfile **out, smpc_prg *g)
{
    *out = NULL;
    smpc_matfile *f = he_calloc(1, sizeof *f);
    if (!f) return -1;
    char used[sizeof f->path + 8];
    snprintf(f->path, sizeof f->path, "%s/party-%d.mat", dir, party);
    snprintf(used, sizeof used, "%s.used", f->path);
    const char *path = f->path;
    /* the claim: of two runs given the same folder, only one makes the marker */
    int fd = open(used, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            he_error("smpc: the material file %s was already used by another run (%s exists); material is never "
                     "used twice: make fresh material with the offline phase",
                     path, used);
        else
            he_error("smpc: cannot claim the material file %s: %s", path, strerror(errno));
        mat_file_close(f);
        return -1;
    }
    close(fd);
    if (he_file_read(path, MAT_MAX_FILE, "smpc", &f->buf, &f->len) < 0) {
        /* nothing was read: the marker goes, the message stays */
        unlink(used);
        mat_file_close(f);
        return -1;
    }
    mat_file_wipe(path, f->len);
    mat_header h;
    memset(&h, 0, sizeof h);
    uint8_t dg[32], sum[MAT_SUM];
    ctx_digest(ctx, dg);
    if (f->len >= 8 && memcmp(f->buf, MAT_MAGIC_V1, 8) == 0) {
        he_error("smpc: %s was made by an older version without a checksum; make it again", path);
        goto fail;
    }
    if (f->len < 8 || memcmp(f->buf, MAT_MAGIC, 8) != 0) {
        he_error("smpc: %s is not an he material file", path);
        goto fail;
    }
    if (f->len < sizeof h + MAT_SUM) {
        he_error("smpc: %s is damaged (truncated)", path);
        goto fail;
    }
    crypto_generichash(sum, MAT_SUM, f->buf, f->len - MAT_SUM, NULL, 0);
    if (he_memcmp_ct(sum, f->buf + f->len - MAT_SUM, MAT_SUM) != 0) {
        he_error("smpc: %s is damaged (checksum mismatch)", path);
        goto fail;
    }
    memcpy(&h, f->buf, sizeof h);
    if (h.party != (uint32_t)party || h.n != (uint32_t)ctx->n) {
        he_error("smpc: %s was made for party %u of %u; this is party %d of %d", path, h.party, h.n, party, ctx->n);
        goto fail;
    }
    if (memcmp(h.digest, dg, 32) != 0) {
        he_error("smpc: %s was made for another configuration (ring, modulus, fractional bits or truncation)", path);
        goto fail;
    }
    prg_seed(g, h.seed);
    he_memzero(&h, sizeof h);
    f->pos = sizeof h;
    f->end = f->len - MAT_SUM;
    *out = f;
    return 0;
fail:
    he_memzero(&h, sizeof h);
    mat_file_close(f);
    return -1;
}

int he_smpc_offline_write(const he_smpc_ctx *ctx, const char *dir)
{
    if (!ctx || !dir) he_misuse("he_smpc_offline_write: NULL");
    if (ctx->mode != HE_SMPC_SIM || ctx->plan_cap == 0)
        return he_error("smpc: offline_write needs a simulated run with record_plan");
    size_t eb = ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8;
    /* every file in memory first: the size of each */
    size_t size[HE_SMPC_MAXPARTIES];
    size_t reqs, deps = 0;
    if (he_mul_size(ctx->plan_len, sizeof(mat_req), &reqs) < 0) return -1;
    for (size_t k = 0; k < ctx->plan_len; k++) {
        mat_layout L;
        size_t nb;
        if (mat_layout_of(&ctx->plan[k], &L) < 0) return -1;
        if (he_mul_size(L.dep_total, eb, &nb) < 0 || nb > MAT_MAX_FILE - deps) return he_error("smpc: too much material for one file");
        deps += nb;
    }
    for (int i = 0; i < ctx->n; i++) {
        size[i] = sizeof(mat_header) + reqs + MAT_SUM + (i == ctx->n - 1 ? deps : 0);
        if (size[i] > MAT_MAX_FILE) return he_error("smpc: too much material for one file");
    }
    uint8_t *fb[HE_SMPC_MAXPARTIES] = {0};
    size_t pos[HE_SMPC_MAXPARTIES] = {0};
    smpc_dealer *d = he_calloc(1, sizeof *d);
    int rc = -1;
    void *dep = NULL;
    size_t depn = 0;
    if (!d) return -1;
    d->n = ctx->n;
    d->ring = ctx->ring;
    mpz_init_set(d->p, ctx->p);
    d->pbytes = ctx->pbytes;
    mat_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAT_MAGIC, 8);
    h.n = (uint32_t)ctx->n;
    h.ring = (uint32_t)ctx->ring;
    h.frac = (uint32_t)ctx->frac;
    ctx_digest(ctx, h.digest);
    for (int i = 0; i < ctx->n; i++) {
        if (!(fb[i] = he_malloc(size[i]))) goto out;
        h.party = (uint32_t)i;
        he_randombytes(h.seed, 32);
        prg_seed(&d->party[i], h.seed);
        memcpy(fb[i], &h, sizeof h);
        pos[i] = sizeof h;
    }
    he_memzero(&h, sizeof h);
    uint8_t own[32];
    he_randombytes(own, 32);
    prg_seed(&d->own, own);
    he_memzero(own, 32);
    int lastp = ctx->n - 1;
    for (size_t k = 0; k < ctx->plan_len; k++) {
        const mat_req *r = &ctx->plan[k];
        mat_layout L;
        if (mat_layout_of(r, &L) < 0) goto out;
        if (ctx->ring == HE_SMPC_ZP) {
            zp_free(dep, depn);
            dep = zp_alloc(L.dep_total);
        } else {
            if (dep) he_free_secret(dep, (depn ? depn : 1) * 8); /* the last request's material */
            dep = he_malloc((L.dep_total ? L.dep_total : 1) * 8);
        }
        depn = L.dep_total;
        if (!dep || dealer_make(d, r, NULL, dep) < 0) goto out;
        for (int i = 0; i < ctx->n; i++) {
            memcpy(fb[i] + pos[i], r, sizeof *r);
            pos[i] += sizeof *r;
        }
        if (ctx->ring == HE_SMPC_ZP) {
            for (size_t j = 0; j < L.dep_total; j++, pos[lastp] += eb) zp_to_bytes(((mpz_t *)dep)[j], fb[lastp] + pos[lastp], eb);
        } else {
            memcpy(fb[lastp] + pos[lastp], dep, L.dep_total * 8);
            pos[lastp] += L.dep_total * 8;
        }
    }
    for (int i = 0; i < ctx->n; i++) {
        char path[4096], used[4104];
        snprintf(path, sizeof path, "%s/party-%d.mat", dir, i);
        snprintf(used, sizeof used, "%s.used", path);
        crypto_generichash(fb[i] + pos[i], MAT_SUM, fb[i], pos[i], NULL, 0);
        if (he_file_write(path, fb[i], size[i], true, "smpc") < 0) goto out;
        /* fresh material in place of used one: its marker goes */
        if (unlink(used) < 0 && errno != ENOENT) {
            he_error("smpc: cannot remove %s: %s", used, strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    for (int i = 0; i < ctx->n; i++)
        if (fb[i]) he_free_secret(fb[i], size[i]);
    if (ctx->ring == HE_SMPC_ZP)
        zp_free(dep, depn);
    else if (dep)
        he_free_secret(dep, (depn ? depn : 1) * 8);
    mpz_clear(d->p);
    he_free_secret(d, sizeof *d);
    return rc;
}

/* --- the dealer process -------------------------------------------------------- */
int ctx_init_common(he_smpc_ctx *ctx, const he_smpc_config *cfg);
void ctx_free_common(he_smpc_ctx *ctx);

int he_smpc_dealer_serve(const he_smpc_config *cfg)
{
    if (!cfg) he_misuse("he_smpc_dealer_serve: NULL");
    he_smpc_ctx *ctx = he_calloc(1, sizeof *ctx);
    smpc_dealer *d = NULL;
    void *dep = NULL;
    size_t depn = 0;
    uint8_t *bytes = NULL;
    int rc = -1;
    if (!ctx) return -1;
    mpz_init(ctx->p);
    if (ctx_init_common(ctx, cfg) < 0) goto out;
    if (cfg->mode != HE_SMPC_NET || !cfg->party_file) {
        he_error("smpc: the dealer runs in NET mode with a party file");
        goto out;
    }
    int n = he_smpc_party_file_check(cfg->party_file);
    if (n < 0) goto out;
    ctx->n = n;
    ctx->me = n;
    ctx->nloc = 1;
    ctx->mode = HE_SMPC_NET;
    if (net_open(ctx, cfg, true) < 0) goto out;
    d = he_calloc(1, sizeof *d);
    if (!d) goto out;
    d->n = n;
    d->ring = ctx->ring;
    mpz_init_set(d->p, ctx->p);
    d->pbytes = ctx->pbytes;
    uint8_t msg[64];
    ctx_digest(ctx, msg);
    for (int i = 0; i < n; i++) {
        he_randombytes(msg + 32, 32);
        prg_seed(&d->party[i], msg + 32);
        if (net_send(ctx, i, MSG_SEED, msg, sizeof msg) < 0) goto out;
    }
    he_memzero(msg, sizeof msg);
    he_randombytes(msg, 32);
    prg_seed(&d->own, msg);
    he_memzero(msg, sizeof msg);
    size_t eb = ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8;
    /* Working ahead: once a request is answered, the dealer makes the piece
    ** that followed this kind of request last time (loops repeat their
    ** requests), keeping the streams' positions to roll back when the guess
    ** was wrong. Nothing is sent before it is asked for. Z_2^64 only. */
    enum { NPRED = 32 };
    mat_req pred_from[NPRED], pred_to[NPRED], prev, spec_req;
    int npred = 0;
    bool have_prev = false, have_spec = false;
    uint64_t *spec = NULL, saved[HE_SMPC_MAXPARTIES];
    size_t specn = 0;
    for (;;) {
        mat_req r;
        if (net_recv(ctx, n - 1, MSG_REQ, &r, sizeof r) < 0) goto spec_out;
        if (r.kind == 0) break; /* the last party is done */
        mat_layout L;
        if (mat_layout_of(&r, &L) < 0) goto spec_out;
        if (have_spec && memcmp(&r, &spec_req, sizeof r) == 0) {
            if (net_send(ctx, n - 1, MSG_MAT, spec, L.dep_total * 8) < 0) goto spec_out;
        } else {
            if (have_spec)
                for (int i = 0; i < n; i++) d->party[i].nonce = saved[i];
            if (ctx->ring == HE_SMPC_ZP) {
                zp_free(dep, depn);
                dep = zp_alloc(L.dep_total);
            } else {
                he_free(dep);
                dep = he_malloc((L.dep_total ? L.dep_total : 1) * 8);
            }
            depn = L.dep_total;
            if (!dep || dealer_make(d, &r, NULL, dep) < 0) goto spec_out;
            if (ctx->ring == HE_SMPC_ZP) {
                he_free(bytes);
                bytes = he_malloc((L.dep_total ? L.dep_total : 1) * eb);
                if (!bytes) goto spec_out;
                for (size_t j = 0; j < L.dep_total; j++) zp_to_bytes(((mpz_t *)dep)[j], bytes + j * eb, eb);
                if (net_send(ctx, n - 1, MSG_MAT, bytes, L.dep_total * eb) < 0) goto spec_out;
            } else if (net_send(ctx, n - 1, MSG_MAT, dep, L.dep_total * 8) < 0) {
                goto spec_out;
            }
        }
        have_spec = false;
        ctx->stats.dealer_requests++;
        if (ctx->ring != HE_SMPC_RING64) continue;
        if (have_prev) {
            int k = 0;
            while (k < npred && memcmp(&pred_from[k], &prev, sizeof prev) != 0) k++;
            if (k == npred && npred < NPRED) npred++;
            if (k < npred) {
                pred_from[k] = prev;
                pred_to[k] = r;
            }
        }
        prev = r;
        have_prev = true;
        for (int k = 0; k < npred; k++)
            if (memcmp(&pred_from[k], &r, sizeof r) == 0) {
                mat_layout SL;
                if (mat_layout_of(&pred_to[k], &SL) < 0) break;
                if (specn < SL.dep_total) {
                    if (spec) he_free_secret(spec, specn * 8);
                    specn = SL.dep_total;
                    if (!(spec = he_malloc(specn * 8))) {
                        specn = 0;
                        break;
                    }
                }
                for (int i = 0; i < n; i++) saved[i] = d->party[i].nonce;
                spec_req = pred_to[k];
                if (dealer_make(d, &spec_req, NULL, spec) < 0) {
                    for (int i = 0; i < n; i++) d->party[i].nonce = saved[i];
                    he_clearerr();
                    break;
                }
                have_spec = true;
                break;
            }
    }
    if (spec) he_free_secret(spec, specn * 8);
    spec = NULL;
    /* the last party is done; so must the others be, or one failed */
    for (int i = 0; i < n - 1; i++)
        if (net_recv_bye(ctx, i) < 0) goto out;
    goto served;
spec_out:
    if (spec) he_free_secret(spec, specn * 8);
    goto out;
served:
    rc = 0;
out:
    if (rc < 0 && ctx->net) net_abort_all(ctx, he_errmsg());
    if (ctx->ring == HE_SMPC_ZP)
        zp_free(dep, depn);
    else
        he_free(dep);
    he_free(bytes);
    if (d) {
        mpz_clear(d->p);
        he_free_secret(d, sizeof *d);
    }
    if (rc < 0) {
        /* keep the message across the clean-up */
        char keep[512];
        snprintf(keep, sizeof keep, "%s", he_errmsg());
        ctx_free_common(ctx);
        he_error("%s", keep);
    } else {
        ctx_free_common(ctx);
    }
    return rc;
}
