/*
** smpc/serve.c: the SMPC service (serve.h): a cluster's parties answering
** clients that share their inputs into it. The parties' own traffic (the
** order of requests, the status round, the model's protocol) goes over the
** context's network (net.c); the clients' over a ROUTER socket of the HE
** service's transport (runtime/serve/serve.c: CURVE, ZAP, allow list, its
** message codec).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "smpc/serve.h"
#include "smpc/smpc_int.h"

#define Z85 HE_SMPC_KEY_Z85

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* --- the cluster file ----------------------------------------------------------------------- */
int he_smpc_cluster_read(const char *path, he_smpc_cluster *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return he_error("smpc serve: cannot open the cluster file %s: %s", path, strerror(errno));
    bool seen[HE_SMPC_SERVE_MAXCLUSTER] = {0};
    char line[1024];
    int lineno = 0, maxidx = -1, rc = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char who[32], addr[256], key[128], extra[8];
        int k = sscanf(line, "%31s %255s %127s %7s", who, addr, key, extra);
        if (k <= 0 || who[0] == '#') continue;
        char *end;
        long idx = strtol(who, &end, 10);
        uint8_t raw[32];
        if (k != 3 || *end || idx < 0 || idx >= HE_SMPC_SERVE_MAXCLUSTER) {
            he_error("smpc serve: cluster file %s line %d: expected 'PARTY ADDRESS PUBLIC-KEY' (PARTY 0..%d)", path,
                     lineno, HE_SMPC_SERVE_MAXCLUSTER - 1);
            goto out;
        }
        if (strlen(key) != Z85 || !zmq_z85_decode(raw, key)) {
            he_error("smpc serve: cluster file %s line %d: '%s' is not a Z85 CURVE public key (40 characters)", path,
                     lineno, key);
            goto out;
        }
        if (seen[idx]) {
            he_error("smpc serve: cluster file %s line %d: party %ld listed twice", path, lineno, idx);
            goto out;
        }
        seen[idx] = true;
        snprintf(c->addr[idx], sizeof c->addr[idx], "%s", addr);
        memcpy(c->pub[idx], key, Z85 + 1);
        if (idx > maxidx) maxidx = (int)idx;
    }
    if (maxidx < 1) {
        he_error("smpc serve: cluster file %s lists %d part%s; at least 2 are needed", path, maxidx + 1,
                 maxidx == 0 ? "y" : "ies");
        goto out;
    }
    for (int i = 0; i <= maxidx; i++)
        if (!seen[i]) {
            he_error("smpc serve: cluster file %s: party %d is missing (parties are numbered 0..%d)", path, i, maxidx);
            goto out;
        }
    c->n = maxidx + 1;
    rc = 0;
out:
    fclose(f);
    return rc;
}

void he_smpc_serve_limits_default(he_smpc_serve_limits *l)
{
    l->max_msg = (size_t)16 << 20;
    l->max_queue = 64;
    l->wait_ms = 2000;
    l->expire_s = 300;
}

/* --- descriptions, requests, shares ------------------------------------------------------------ */
static int nslots(const he_smpc_serve_desc *d) { return d->protocol == HE_SMPC_REP3 ? 2 : 1; }

int he_smpc_serve_desc_parse(const char *text, size_t len, he_smpc_serve_desc *d)
{
    memset(d, 0, sizeof *d);
    char buf[1024];
    if (len >= sizeof buf) return he_error("smpc serve: the description is too long (%zu bytes)", len);
    memcpy(buf, text, len);
    buf[len] = 0;
    bool svc = false, proto = false, parties = false, frac = false, input = false;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[32];
        int off = 0;
        if (sscanf(line, "%31s%n", name, &off) != 1) continue;
        const char *v = line + off;
        if (strcmp(name, "service") == 0) {
            svc = strstr(v, "smpc") != NULL;
        } else if (strcmp(name, "protocol") == 0) {
            if (strstr(v, "rep3")) d->protocol = HE_SMPC_REP3;
            else if (strstr(v, "dealer")) d->protocol = HE_SMPC_DEALER;
            else return he_error("smpc serve: unknown protocol '%s'", v);
            proto = true;
        } else if (strcmp(name, "parties") == 0) {
            parties = sscanf(v, "%d", &d->n) == 1 && d->n >= 2 && d->n <= HE_SMPC_MAXPARTIES;
        } else if (strcmp(name, "frac") == 0) {
            frac = sscanf(v, "%d", &d->frac) == 1 && d->frac >= 0 && d->frac <= 30;
        } else if (strcmp(name, "input") == 0) {
            d->ndim = 0;
            d->size = 1;
            long long s;
            int k;
            while (sscanf(v, "%lld%n", &s, &k) == 1) {
                if (d->ndim == HE_SMPC_MAXDIM || s < 1 || s > (1 << 30) || d->size > ((size_t)1 << 32) / (size_t)s)
                    return he_error("smpc serve: the input shape is out of range");
                d->shape[d->ndim++] = s;
                d->size *= (size_t)s;
                v += k;
            }
            input = d->ndim > 0;
        }
    }
    if (!svc) return he_error("smpc serve: not the description of an SMPC service");
    if (!proto || !parties || !frac || !input) return he_error("smpc serve: the service's description is incomplete");
    if (d->protocol == HE_SMPC_REP3 && d->n != 3) return he_error("smpc serve: rep3 takes 3 parties, not %d", d->n);
    return 0;
}

int he_smpc_serve_check_query(const he_serve_msg *m, const he_smpc_serve_desc *d, bool *want_class,
                              const uint8_t **words, size_t *nwords)
{
    if (m->kind != HE_SERVE_QUERY) return he_error("smpc serve: not a query (message kind %u)", m->kind);
    if (m->nparts != 2)
        return he_error("smpc serve: a query has 2 parts (\"logits\" or \"class\", the shares), not %u", m->nparts);
    if (m->len[0] == 6 && memcmp(m->part[0], "logits", 6) == 0) *want_class = false;
    else if (m->len[0] == 5 && memcmp(m->part[0], "class", 5) == 0) *want_class = true;
    else return he_error("smpc serve: a query asks for \"logits\" or \"class\"");
    size_t want = d->size * (size_t)nslots(d);
    if (m->len[1] != want * 8)
        return he_error("smpc serve: the request holds %zu bytes of shares, the service takes %zu (%zu values%s)",
                        m->len[1], want * 8, d->size, nslots(d) == 2 ? ", two shares each" : "");
    *words = m->part[1];
    *nwords = want;
    return 0;
}

int he_smpc_serve_split(const he_smpc_serve_desc *d, const double *x, uint64_t **out, size_t *nwords)
{
    int n = d->n, ns = nslots(d);
    size_t N = d->size;
    for (int p = 0; p < n; p++) out[p] = NULL;
    uint64_t *add = he_malloc(N * (size_t)n * 8); /* the additive shares, party after party */
    int rc = -1;
    if (!add) return -1;
    he_randombytes(add, N * (size_t)(n - 1) * 8);
    for (size_t i = 0; i < N; i++) {
        int64_t raw;
        if (he_smpc_encode(x[i], d->frac, &raw) < 0) {
            he_error("smpc serve: input value %zu (%g) cannot be encoded in fixed point (|v| < 2^%d)", i, x[i],
                     62 - d->frac);
            goto out;
        }
        uint64_t last = (uint64_t)raw;
        for (int p = 0; p < n - 1; p++) last -= add[(size_t)p * N + i];
        add[(size_t)(n - 1) * N + i] = last;
    }
    for (int p = 0; p < n; p++) {
        if (!(out[p] = he_malloc(N * (size_t)ns * 8))) goto out;
        for (int k = 0; k < ns; k++) memcpy(out[p] + (size_t)k * N, add + (size_t)((p + k) % n) * N, N * 8);
    }
    *nwords = N * (size_t)ns;
    rc = 0;
out:
    he_free_secret(add, N * (size_t)n * 8);
    if (rc < 0)
        for (int p = 0; p < n; p++) {
            if (out[p]) he_free_secret(out[p], N * (size_t)ns * 8);
            out[p] = NULL;
        }
    return rc;
}

/* --- the server ---------------------------------------------------------------------------------- */
typedef struct pending {
    uint8_t rid[256]; /* the client's routing id at this party's socket */
    size_t ridlen;
    char key[Z85 + 1];
    uint64_t tag, request;
    bool want_class;
    uint64_t *words;
    size_t nwords;
    int64_t at_ms;
} pending;

struct he_smpc_server {
    he_smpc_ctx *ctx;
    he_serve_server *srv;
    void *sock;
    he_smpc_serve_limits lim;
    he_smpc_serve_desc d;
    char params[512];
    pending *q;
    unsigned nq;
    he_smpc_serve_stats st;
    const char *closing; /* stopping: why every query is refused */
};

/* What party 0 tells the others next. */
enum { ORD_REQ = 1, ORD_TICK, ORD_STOP };
typedef struct order {
    uint8_t kind, want_class, keepalive, pad[5];
    uint64_t tag;
    char key[48];
} order;

const char *he_smpc_server_params(const he_smpc_server *s) { return s->params; }

void he_smpc_server_stats(const he_smpc_server *s, he_smpc_serve_stats *st) { *st = s->st; }

static void drop(he_smpc_server *s, unsigned i)
{
    he_free_secret(s->q[i].words, s->q[i].nwords * 8);
    memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof *s->q);
    s->nq--;
}

void he_smpc_server_free(he_smpc_server *s)
{
    if (!s) return;
    while (s->nq) drop(s, s->nq - 1);
    he_free(s->q);
    he_serve_server_free(s->srv);
    he_free(s);
}

he_smpc_server *he_smpc_server_new(he_smpc_ctx *ctx, const char *cluster_file, const char *key_file,
                                   const char *allow_file, const he_smpc_serve_limits *lim, int ndim,
                                   const int64_t *shape)
{
    if (!ctx || !cluster_file || !key_file || (ndim && !shape)) he_misuse("he_smpc_server_new: NULL");
    if (ctx->mode != HE_SMPC_NET)
        return he_error("smpc serve: the service runs in the parties' processes (he --party I --parties FILE)"), NULL;
    if (ctx->ring != HE_SMPC_RING64) return he_error("smpc serve: the service runs over Z_2^64 only"), NULL;
    if (ndim < 1 || ndim > HE_SMPC_MAXDIM) return he_error("smpc serve: the input has 1 to %d axes", HE_SMPC_MAXDIM), NULL;
    he_smpc_server *s = he_calloc(1, sizeof *s);
    he_smpc_cluster *cl = he_malloc(sizeof *cl);
    if (!s || !cl) goto fail;
    s->ctx = ctx;
    if (lim) s->lim = *lim;
    else he_smpc_serve_limits_default(&s->lim);
    if (s->lim.max_queue < 1) s->lim.max_queue = 1;
    s->d.protocol = ctx->rep3 ? HE_SMPC_REP3 : HE_SMPC_DEALER;
    s->d.n = ctx->n;
    s->d.frac = ctx->frac;
    s->d.ndim = ndim;
    s->d.size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > (1 << 30) || s->d.size > ((size_t)1 << 32) / (size_t)shape[i]) {
            he_error("smpc serve: the input shape is out of range");
            goto fail;
        }
        s->d.shape[i] = shape[i];
        s->d.size *= (size_t)shape[i];
    }
    int off = snprintf(s->params, sizeof s->params, "service smpc\nprotocol %s\nparties %d\nfrac %d\ninput",
                       ctx->rep3 ? "rep3" : "dealer", ctx->n, ctx->frac);
    for (int i = 0; i < ndim; i++) off += snprintf(s->params + off, sizeof s->params - (size_t)off, " %lld", (long long)shape[i]);
    snprintf(s->params + off, sizeof s->params - (size_t)off, "\nmax_mb %.3g\nmax_queue %u\n",
             (double)s->lim.max_msg / (1 << 20), s->lim.max_queue);
    if (he_smpc_cluster_read(cluster_file, cl) < 0) goto fail;
    if (cl->n != ctx->n) {
        he_error("smpc serve: the cluster file %s lists %d parties, the context has %d", cluster_file, cl->n, ctx->n);
        goto fail;
    }
    char sec[Z85 + 1], pub[Z85 + 1];
    if (he_smpc_key_read(key_file, sec, pub) < 0) goto fail;
    he_memzero(sec, sizeof sec);
    if (strcmp(pub, cl->pub[ctx->me]) != 0) {
        he_error("smpc serve: the key in %s is not the key the cluster file %s lists for party %d", key_file,
                 cluster_file, ctx->me);
        goto fail;
    }
    if (!(s->q = he_calloc(s->lim.max_queue, sizeof *s->q))) goto fail;
    he_serve_limits hl;
    he_serve_limits_default(&hl);
    hl.max_msg = s->lim.max_msg;
    if (!(s->srv = he_serve_server_new(cl->addr[ctx->me], key_file, allow_file, &hl))) goto fail;
    s->sock = he_serve_server_socket(s->srv);
    he_free(cl);
    return s;
fail:
    he_free(cl);
    he_smpc_server_free(s);
    return NULL;
}

/* Sends [routing id, message]; a client that went away is not waited for. */
static void reply(he_smpc_server *s, const uint8_t *rid, size_t ridlen, unsigned kind, uint64_t tag,
                  uint64_t request, uint32_t nparts, const uint8_t *const *part, const size_t *len)
{
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (he_serve_encode(kind, tag, request, nparts, part, len, &buf, &blen) < 0) return;
    if (zmq_send(s->sock, rid, ridlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 && zmq_send(s->sock, buf, blen, ZMQ_DONTWAIT) >= 0)
        s->st.bytes_out += blen;
    he_free(buf);
}

static void refuse(he_smpc_server *s, const uint8_t *rid, size_t ridlen, uint64_t tag, uint64_t request,
                   const char *why)
{
    size_t wl = strlen(why);
    const uint8_t *p = (const uint8_t *)why;
    s->st.refused++;
    reply(s, rid, ridlen, HE_SERVE_ERROR, tag, request, 1, &p, &wl);
}

static int find(const he_smpc_server *s, const char *key, uint64_t tag)
{
    for (unsigned i = 0; i < s->nq; i++)
        if (s->q[i].tag == tag && strcmp(s->q[i].key, key) == 0) return (int)i;
    return -1;
}

/* One message of a client. */
static void handle(he_smpc_server *s, const uint8_t *rid, size_t ridlen, const char *key, const uint8_t *buf,
                   size_t len)
{
    s->st.bytes_in += len;
    if (ridlen > sizeof s->q[0].rid) return;
    if (len > s->lim.max_msg) {
        char why[160];
        snprintf(why, sizeof why, "the request of %zu bytes is over the limit of %zu", len, s->lim.max_msg);
        refuse(s, rid, ridlen, 0, len >= HE_SERVE_HEADER ? get_u64(buf + 16) : 0, why);
        return;
    }
    he_serve_msg m;
    if (he_serve_decode(buf, len, 4, &m) < 0) {
        refuse(s, rid, ridlen, 0, len >= HE_SERVE_HEADER ? get_u64(buf + 16) : 0, he_errmsg());
        return;
    }
    if (m.kind == HE_SERVE_PARAMS) {
        const uint8_t *p = (const uint8_t *)s->params;
        size_t pl = strlen(s->params);
        reply(s, rid, ridlen, HE_SERVE_OK, 0, m.request, 1, &p, &pl);
    } else if (m.kind != HE_SERVE_QUERY) {
        refuse(s, rid, ridlen, m.session, m.request, "not a request of the SMPC service (PARAMS or QUERY)");
    } else {
        bool cls;
        const uint8_t *w;
        size_t nw;
        if (s->closing) {
            refuse(s, rid, ridlen, m.session, m.request, s->closing);
        } else if (he_smpc_serve_check_query(&m, &s->d, &cls, &w, &nw) < 0) {
            refuse(s, rid, ridlen, m.session, m.request, he_errmsg() + 12 /* past "smpc serve: " */);
        } else if (find(s, key, m.session) >= 0) {
            refuse(s, rid, ridlen, m.session, m.request, "a request with this tag is queued already");
        } else if (s->nq >= s->lim.max_queue) {
            char why[128];
            snprintf(why, sizeof why, "%u requests are queued, the limit; try again later", s->nq);
            refuse(s, rid, ridlen, m.session, m.request, why);
        } else {
            pending *p = &s->q[s->nq];
            memset(p, 0, sizeof *p);
            if ((p->words = he_malloc(nw * 8))) {
                for (size_t i = 0; i < nw; i++) p->words[i] = get_u64(w + 8 * i);
                memcpy(p->rid, rid, ridlen);
                p->ridlen = ridlen;
                snprintf(p->key, sizeof p->key, "%s", key);
                p->tag = m.session;
                p->request = m.request;
                p->want_class = cls;
                p->nwords = nw;
                p->at_ms = now_ms();
                s->nq++;
            }
        }
    }
    he_serve_msg_free(&m);
}

/* Takes the clients' messages: waits up to wait_ms for the first, then
** takes what is there. */
static void pull(he_smpc_server *s, int wait_ms)
{
    for (;;) {
        zmq_pollitem_t it = {.socket = s->sock, .events = ZMQ_POLLIN};
        int k = zmq_poll(&it, 1, wait_ms);
        wait_ms = 0;
        if (k <= 0) return;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            return;
        }
        bool ok = zmq_msg_more(&id) && zmq_msg_recv(&body, s->sock, ZMQ_DONTWAIT) >= 0;
        bool extra = ok && zmq_msg_more(&body);
        while (ok && zmq_msg_more(&body)) { /* one frame is a request: drain the rest */
            zmq_msg_t x;
            zmq_msg_init(&x);
            int r = zmq_msg_recv(&x, s->sock, ZMQ_DONTWAIT);
            bool more = r >= 0 && zmq_msg_more(&x);
            zmq_msg_close(&x);
            if (!more) break;
        }
        if (ok) {
            const char *key = zmq_msg_gets(&body, "User-Id");
            if (extra)
                refuse(s, zmq_msg_data(&id), zmq_msg_size(&id), 0, 0, "a request is one frame");
            else
                handle(s, zmq_msg_data(&id), zmq_msg_size(&id), key ? key : "", zmq_msg_data(&body),
                       zmq_msg_size(&body));
            he_memzero(zmq_msg_data(&body), zmq_msg_size(&body));
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* Shares a party holds but party 0 never ordered (the client sent them to
** some parties only) go after expire_s. */
static void expire(he_smpc_server *s)
{
    int64_t now = now_ms();
    for (unsigned i = 0; i < s->nq;)
        if (now - s->q[i].at_ms > (int64_t)s->lim.expire_s * 1000) {
            refuse(s, s->q[i].rid, s->q[i].ridlen, s->q[i].tag, s->q[i].request,
                   "the request expired: the other parties never got their shares of it");
            drop(s, i);
        } else {
            i++;
        }
}

/* Runs request q[i] through the model and answers with this party's share
** of the output. */
static int run_one(he_smpc_server *s, unsigned i, he_smpc_serve_fn fn, void *ud)
{
    he_smpc_ctx *ctx = s->ctx;
    pending *p = &s->q[i];
    he_share *in = share_alloc(ctx, s->d.ndim, s->d.shape, ctx->frac);
    he_share *out = he_share_new(ctx, 0, NULL, 0), *cls = NULL;
    uint64_t *w = NULL;
    size_t wlen = 0;
    int rc = -1;
    if (!in || !out) goto out;
    for (int lp = 0; lp < in->nloc; lp++) memcpy(in->u[lp], p->words + (size_t)lp * s->d.size, s->d.size * 8);
    rc = fn(ud, in, out); /* fn owns in */
    in = NULL;
    if (rc < 0) goto out;
    if (p->want_class) {
        rc = -1;
        if (!(cls = he_share_new(ctx, 0, NULL, 0)) || he_smpc_argmax(ctx, cls, out) < 0) goto out;
        he_share *t = out;
        out = cls;
        cls = t;
    }
    rc = -1;
    size_t N = he_share_size(out);
    wlen = (N ? N : 1) * 8;
    if (!(w = he_malloc(wlen)) || he_share_raw_u64(out, ctx->me, w) < 0) goto out;
    char head[256];
    int off = snprintf(head, sizeof head, "%d %d", he_share_frac(out), he_share_ndim(out));
    for (int k = 0; k < he_share_ndim(out); k++)
        off += snprintf(head + off, sizeof head - (size_t)off, " %lld", (long long)he_share_shape(out)[k]);
    uint8_t *bytes = he_malloc((N ? N : 1) * 8);
    if (!bytes) goto out;
    for (size_t k = 0; k < N; k++) put_u64(bytes + 8 * k, w[k]);
    const uint8_t *parts[2] = {(const uint8_t *)head, bytes};
    size_t lens[2] = {strlen(head), N * 8};
    reply(s, p->rid, p->ridlen, HE_SERVE_OK, p->tag, p->request, 2, parts, lens);
    he_free_secret(bytes, (N ? N : 1) * 8);
    s->st.answered++;
    rc = 0;
out:
    if (w) he_free_secret(w, wlen);
    he_share_free(in);
    he_share_free(out);
    he_share_free(cls);
    return rc;
}

/* Under the dealer protocol: one triple, so that the dealer's wait for the
** next request never times out while the service is idle. */
static int keepalive(he_smpc_ctx *ctx)
{
    int64_t one = 1;
    he_share *a = he_share_new(ctx, 1, &one, 0), *b = he_share_new(ctx, 1, &one, 0), *c = he_share_new(ctx, 1, &one, 0);
    int rc = a && b && c ? he_smpc_mul(ctx, c, a, b) : -1;
    he_share_free(a);
    he_share_free(b);
    he_share_free(c);
    return rc;
}

/* Every party tells every other what it has (one round); *all_have and
** *any_stop over the cluster. */
static int status_round(he_smpc_ctx *ctx, bool have, bool stopping, bool *all_have, bool *any_stop)
{
    uint8_t mine[8] = {have, stopping}, got[8];
    *all_have = have;
    *any_stop = stopping;
    for (int j = 0; j < ctx->n; j++)
        if (j != ctx->me && net_send(ctx, j, MSG_DATA, mine, sizeof mine) < 0) return -1;
    for (int j = 0; j < ctx->n; j++) {
        if (j == ctx->me) continue;
        if (net_recv(ctx, j, MSG_DATA, got, sizeof got) < 0) return -1;
        *all_have = *all_have && got[0];
        *any_stop = *any_stop || got[1];
    }
    ctx->stats.rounds++;
    return 0;
}

int he_smpc_server_run(he_smpc_server *s, he_smpc_serve_fn fn, void *ud, uint64_t max_requests,
                       volatile sig_atomic_t *stop)
{
    he_smpc_ctx *ctx = s->ctx;
    int timeout = ctx->timeout_ms;
    int tick = timeout / 4 < 1000 ? timeout / 4 : 1000;
    if (tick < 10) tick = 10;
    int wait_ms = (int)s->lim.wait_ms < timeout / 2 ? (int)s->lim.wait_ms : timeout / 2;
    int64_t last_dealer = now_ms();
    bool dealer = !ctx->rep3 && !ctx->matfile;
    int rc = 0;
    for (;;) {
        order o;
        memset(&o, 0, sizeof o);
        bool stopping = stop && *stop;
        if (ctx->me == 0) {
            pull(s, 0);
            expire(s);
            if (stopping || (max_requests && s->st.answered >= max_requests)) {
                o.kind = ORD_STOP;
            } else {
                if (!s->nq) pull(s, tick);
                if (s->nq) {
                    o.kind = ORD_REQ;
                    o.tag = s->q[0].tag;
                    o.want_class = s->q[0].want_class;
                    snprintf(o.key, sizeof o.key, "%s", s->q[0].key);
                } else {
                    o.kind = ORD_TICK;
                    o.keepalive = dealer && now_ms() - last_dealer >= timeout / 3;
                }
            }
            for (int j = 1; j < ctx->n && rc == 0; j++) rc = net_send(ctx, j, MSG_DATA, &o, sizeof o);
        } else {
            pull(s, 0);
            expire(s);
            rc = net_recv(ctx, 0, MSG_DATA, &o, sizeof o);
            o.key[sizeof o.key - 1] = 0;
        }
        if (rc < 0) break;
        if (o.kind == ORD_STOP) break;
        int idx = -1;
        if (o.kind == ORD_REQ) {
            int64_t until = now_ms() + wait_ms;
            while ((idx = find(s, o.key, o.tag)) < 0 && now_ms() < until) pull(s, (int)(until - now_ms()));
            if (idx >= 0 && s->q[idx].want_class != (bool)o.want_class) {
                refuse(s, s->q[idx].rid, s->q[idx].ridlen, s->q[idx].tag, s->q[idx].request,
                       "the parties got different requests under one tag");
                drop(s, (unsigned)idx);
                idx = -1;
            }
        }
        bool all_have, any_stop;
        if (status_round(ctx, idx >= 0, stop && *stop, &all_have, &any_stop) < 0) {
            rc = -1;
            break;
        }
        if (o.kind == ORD_REQ && idx >= 0) {
            if (all_have) {
                if (run_one(s, (unsigned)idx, fn, ud) < 0) {
                    rc = -1;
                    break;
                }
                last_dealer = now_ms();
            } else {
                refuse(s, s->q[idx].rid, s->q[idx].ridlen, s->q[idx].tag, s->q[idx].request,
                       "another party did not get its share of this request (send it to every party)");
            }
            drop(s, (unsigned)idx);
        } else if (o.kind == ORD_TICK && o.keepalive) {
            if (keepalive(ctx) < 0) {
                rc = -1;
                break;
            }
            last_dealer = now_ms();
        }
        if (any_stop) break;
    }
    /* the requests still queued, and those waiting in the socket, get the reason */
    char why[600], err[520];
    snprintf(err, sizeof err, "%s", he_errmsg());
    if (rc < 0) snprintf(why, sizeof why, "the cluster stopped: %s", err);
    else snprintf(why, sizeof why, "the service stopped before this request");
    s->closing = why;
    pull(s, 0);
    s->closing = NULL;
    while (s->nq) {
        refuse(s, s->q[0].rid, s->q[0].ridlen, s->q[0].tag, s->q[0].request, why);
        drop(s, 0);
    }
    if (rc < 0) he_error("%s", err);
    return rc;
}

/* --- the client ------------------------------------------------------------------------------------ */
struct he_smpc_client {
    he_smpc_cluster cl;
    void *zctx;
    void *sock[HE_SMPC_SERVE_MAXCLUSTER];
    int timeout_ms;
    uint64_t next, sent, received;
    char *params;
    he_smpc_serve_desc d;
};

void he_smpc_client_free(he_smpc_client *c)
{
    if (!c) return;
    for (int i = 0; i < HE_SMPC_SERVE_MAXCLUSTER; i++)
        if (c->sock[i]) zmq_close(c->sock[i]);
    if (c->zctx) zmq_ctx_term(c->zctx);
    he_free(c->params);
    he_free(c);
}

he_smpc_client *he_smpc_client_new(const char *cluster_file, int timeout_ms)
{
    if (!cluster_file) he_misuse("he_smpc_client_new: NULL");
    if (!zmq_has("curve")) return he_error("smpc serve: this libzmq has no CURVE security"), NULL;
    he_smpc_client *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
    char pub[Z85 + 1], sec[Z85 + 1];
    if (he_smpc_cluster_read(cluster_file, &c->cl) < 0) goto fail;
    if (zmq_curve_keypair(pub, sec) != 0) {
        he_error("smpc serve: cannot make a CURVE key pair");
        goto fail;
    }
    if (!(c->zctx = zmq_ctx_new())) {
        he_memzero(sec, sizeof sec);
        he_error("smpc serve: zmq_ctx_new: %s", zmq_strerror(errno));
        goto fail;
    }
    for (int i = 0; i < c->cl.n; i++) {
        int zero = 0;
        void *s = c->sock[i] = zmq_socket(c->zctx, ZMQ_DEALER);
        int r = s ? 0 : -1;
        /* one key pair for every party: they match a client's shares by its key */
        if (r == 0) r = zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->cl.pub[i], Z85);
        if (r == 0) r = zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, Z85);
        if (r == 0) r = zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, Z85);
        if (r == 0) r = zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        if (r == 0) r = zmq_connect(s, c->cl.addr[i]);
        if (r != 0) {
            he_memzero(sec, sizeof sec);
            he_error("smpc serve: cannot connect to party %d at %s: %s", i, c->cl.addr[i], zmq_strerror(errno));
            goto fail;
        }
    }
    he_memzero(sec, sizeof sec);
    return c;
fail:
    he_smpc_client_free(c);
    return NULL;
}

void he_smpc_client_bytes(const he_smpc_client *c, uint64_t *sent, uint64_t *received)
{
    *sent = c->sent;
    *received = c->received;
}

/* Sends msg[i] to party i, then waits for every party's reply to request
** id: reply[i] (its parts point into buf[i]). An ERROR from any party ends
** the wait with its reason. */
static void release(int n, he_serve_msg *reply, uint8_t **buf);
static int exchange_(he_smpc_client *c, int n, uint64_t id, uint8_t **msg, const size_t *len, he_serve_msg *reply,
                     uint8_t **buf);
/* With parties 0 .. n-1. */
static int exchange(he_smpc_client *c, int n, uint64_t id, uint8_t **msg, const size_t *len, he_serve_msg *reply,
                    uint8_t **buf)
{
    if (exchange_(c, n, id, msg, len, reply, buf) == 0) return 0;
    char keep[1100];
    snprintf(keep, sizeof keep, "%s", he_errmsg());
    release(n, reply, buf);
    return he_error("%s", keep);
}

static int exchange_(he_smpc_client *c, int n, uint64_t id, uint8_t **msg, const size_t *len, he_serve_msg *reply,
                     uint8_t **buf)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        buf[i] = NULL;
        memset(&reply[i], 0, sizeof reply[i]);
    }
    for (int i = 0; i < n; i++) {
        if (zmq_send(c->sock[i], msg[i], len[i], ZMQ_DONTWAIT) < 0)
            return he_error("smpc serve: cannot send to party %d: %s", i, zmq_strerror(errno));
        c->sent += len[i];
    }
    int64_t deadline = now_ms() + c->timeout_ms;
    while (got < n) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            int i = 0;
            while (i < n && buf[i]) i++;
            return he_error("smpc serve: no reply from party %d (%s) within %d ms (is it running, with this public "
                            "key?)",
                            i, c->cl.addr[i], c->timeout_ms);
        }
        if (he_interrupt_pending()) return he_error("%s", he_interrupt_message());
        zmq_pollitem_t it[HE_SMPC_SERVE_MAXCLUSTER];
        for (int i = 0; i < n; i++) it[i] = (zmq_pollitem_t){.socket = c->sock[i], .events = ZMQ_POLLIN};
        int k = zmq_poll(it, n, left < 100 ? (long)left : 100);
        if (k < 0 && errno != EINTR) return he_error("smpc serve: poll failed: %s", zmq_strerror(errno));
        for (int i = 0; k > 0 && i < n; i++) {
            if (!(it[i].revents & ZMQ_POLLIN)) continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->sock[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                continue;
            }
            size_t ml = zmq_msg_size(&m);
            c->received += ml;
            uint8_t *b = he_malloc(ml ? ml : 1);
            if (!b) {
                zmq_msg_close(&m);
                return -1;
            }
            memcpy(b, zmq_msg_data(&m), ml);
            zmq_msg_close(&m);
            he_serve_msg r;
            if (he_serve_decode(b, ml, 4, &r) < 0) {
                he_free(b);
                return he_error("smpc serve: a malformed reply from party %d", i);
            }
            if (r.request != id || buf[i]) { /* a late reply to an earlier request */
                he_serve_msg_free(&r);
                he_free(b);
                continue;
            }
            if (r.kind == HE_SERVE_ERROR) {
                int wl = r.nparts ? (int)(r.len[0] > 1000 ? 1000 : r.len[0]) : 0;
                he_error("smpc serve: party %d: %.*s", i, wl, wl ? (const char *)r.part[0] : "");
                he_serve_msg_free(&r);
                he_free(b);
                return -1;
            }
            if (r.kind != HE_SERVE_OK) {
                he_serve_msg_free(&r);
                he_free(b);
                return he_error("smpc serve: an unexpected reply from party %d", i);
            }
            reply[i] = r;
            buf[i] = b;
            got++;
        }
    }
    return 0;
}

static void release(int n, he_serve_msg *reply, uint8_t **buf)
{
    for (int i = 0; i < n; i++) {
        he_serve_msg_free(&reply[i]);
        he_free(buf[i]);
        buf[i] = NULL;
    }
}

/* Party 0's description (each party checks a query against its own). */
const char *he_smpc_client_params(he_smpc_client *c)
{
    if (c->params) return c->params;
    uint8_t *msg = NULL, *buf[HE_SMPC_SERVE_MAXCLUSTER] = {0};
    size_t len = 0;
    he_serve_msg reply[HE_SMPC_SERVE_MAXCLUSTER];
    uint64_t id = ++c->next;
    int rc = he_serve_encode(HE_SERVE_PARAMS, 0, id, 0, NULL, NULL, &msg, &len);
    if (rc == 0) rc = exchange(c, 1, id, &msg, &len, reply, buf);
    he_free(msg);
    if (rc < 0) return NULL;
    if (reply[0].nparts != 1) rc = he_error("smpc serve: a malformed description from party 0");
    if (rc == 0) rc = he_smpc_serve_desc_parse((const char *)reply[0].part[0], reply[0].len[0], &c->d);
    if (rc == 0 && c->d.n != c->cl.n)
        rc = he_error("smpc serve: the service has %d parties, the cluster file lists %d", c->d.n, c->cl.n);
    if (rc == 0 && (c->params = he_malloc(reply[0].len[0] + 1))) {
        memcpy(c->params, reply[0].part[0], reply[0].len[0]);
        c->params[reply[0].len[0]] = 0;
    }
    he_serve_msg_free(&reply[0]);
    he_free(buf[0]);
    return c->params;
}

const he_smpc_serve_desc *he_smpc_client_desc(he_smpc_client *c) { return he_smpc_client_params(c) ? &c->d : NULL; }

int he_smpc_client_query(he_smpc_client *c, const double *x, size_t nx, bool want_class, double **out,
                         size_t *nout, int *ndim, int64_t shape[HE_SMPC_MAXDIM], bool *integer)
{
    *out = NULL;
    if (!he_smpc_client_params(c)) return -1;
    const he_smpc_serve_desc *d = &c->d;
    if (nx != d->size) return he_error("smpc serve: the service takes %zu input values, not %zu", d->size, nx);
    int n = c->cl.n;
    uint64_t *sh[HE_SMPC_SERVE_MAXCLUSTER] = {0};
    uint8_t *msg[HE_SMPC_SERVE_MAXCLUSTER] = {0}, *buf[HE_SMPC_SERVE_MAXCLUSTER] = {0}, *bytes = NULL;
    size_t len[HE_SMPC_SERVE_MAXCLUSTER] = {0}, nw = 0;
    he_serve_msg reply[HE_SMPC_SERVE_MAXCLUSTER];
    memset(reply, 0, sizeof reply);
    uint64_t id = ++c->next, tag = he_random_u64();
    if (he_smpc_serve_split(d, x, sh, &nw) < 0) return -1;
    int rc = 0;
    if (!(bytes = he_malloc(nw * 8))) rc = -1;
    const char *what = want_class ? "class" : "logits";
    for (int i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < nw; k++) put_u64(bytes + 8 * k, sh[i][k]);
        const uint8_t *parts[2] = {(const uint8_t *)what, bytes};
        size_t lens[2] = {strlen(what), nw * 8};
        rc = he_serve_encode(HE_SERVE_QUERY, tag, id, 2, parts, lens, &msg[i], &len[i]);
    }
    if (bytes) he_free_secret(bytes, nw * 8);
    for (int i = 0; i < n; i++) he_free_secret(sh[i], nw * 8);
    if (rc == 0) rc = exchange(c, n, id, msg, len, reply, buf);
    for (int i = 0; i < n; i++)
        if (msg[i]) he_free_secret(msg[i], len[i]);
    if (rc < 0) return -1;
    /* each party's share of the output: the same header, then the values */
    int frac = 0, nd = 0;
    size_t N = 1;
    char head[256];
    if (reply[0].nparts != 2 || reply[0].len[0] >= sizeof head) {
        rc = he_error("smpc serve: a malformed answer from party 0");
    } else {
        memcpy(head, reply[0].part[0], reply[0].len[0]);
        head[reply[0].len[0]] = 0;
        int off = 0, k;
        if (sscanf(head, "%d %d%n", &frac, &nd, &off) != 2 || frac < 0 || frac > 62 || nd < 0 || nd > HE_SMPC_MAXDIM)
            rc = he_error("smpc serve: a malformed answer from party 0");
        for (int a = 0; rc == 0 && a < nd; a++) {
            long long v;
            if (sscanf(head + off, "%lld%n", &v, &k) != 1 || v < 0 || (v && N > ((size_t)1 << 32) / (size_t)v)) {
                rc = he_error("smpc serve: a malformed answer from party 0");
                break;
            }
            shape[a] = v;
            N *= (size_t)v;
            off += k;
        }
    }
    for (int i = 0; i < n && rc == 0; i++)
        if (reply[i].nparts != 2 || reply[i].len[0] != reply[0].len[0] ||
            memcmp(reply[i].part[0], reply[0].part[0], reply[0].len[0]) != 0 || reply[i].len[1] != N * 8)
            rc = he_error("smpc serve: party %d's answer does not match party 0's", i);
    if (rc == 0 && !(*out = he_malloc((N ? N : 1) * sizeof **out))) rc = -1;
    for (size_t k = 0; rc == 0 && k < N; k++) {
        uint64_t v = 0;
        for (int i = 0; i < n; i++) v += get_u64(reply[i].part[1] + 8 * k);
        (*out)[k] = frac ? he_smpc_decode((int64_t)v, frac) : (double)(int64_t)v;
    }
    release(n, reply, buf);
    if (rc < 0) return -1;
    *nout = N;
    *ndim = nd;
    *integer = frac == 0;
    return 0;
}
