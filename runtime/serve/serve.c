/*
** serve.c: the HE service's protocol and transport (serve.h).
*/
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "smpc/smpc.h"

#define MAGIC "HESV"
#define Z85 HE_SMPC_KEY_Z85
#define MAX_ALLOW 1024
#define POLL_MS SERVE_POLL_MS
#define GRACE_MS SERVE_GRACE_MS
#define GRACE_MAX_MS SERVE_GRACE_MAX_MS
/* a request up to max_msg + this gets an error reply; a larger one drops the connection */

void serve_put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t serve_get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int64_t serve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- messages --------------------------------------------------------------------------------- */
void he_serve_msg_free(he_serve_msg *m)
{
    if (!m) return;
    he_free(m->part);
    he_free(m->len);
    m->part = NULL;
    m->len = NULL;
    m->nparts = 0;
}

int he_serve_decode(const uint8_t *buf, size_t len, uint32_t max_parts, he_serve_msg *m)
{
    memset(m, 0, sizeof *m);
    if (len < HE_SERVE_HEADER || memcmp(buf, MAGIC, 4) != 0)
        return he_error("serve: not a request of the he service (%zu bytes, bad magic)", len);
    if (buf[4] != HE_SERVE_VERSION)
        return he_error("serve: protocol version %u (this server speaks %d)", buf[4], HE_SERVE_VERSION);
    unsigned kind = buf[5];
    if (kind < HE_SERVE_PARAMS || kind > HE_SERVE_ERROR || buf[6] || buf[7])
        return he_error("serve: unknown message kind %u", kind);
    uint64_t np = serve_get_le(buf + 24, 4);
    if (np > max_parts) return he_error("serve: %llu parts, more than the limit of %u", (unsigned long long)np, max_parts);
    /* every part has at least its 8-byte length */
    if (np > (len - HE_SERVE_HEADER) / 8) return he_error("serve: truncated message (%llu parts in %zu bytes)",
                                                          (unsigned long long)np, len);
    m->kind = kind;
    m->session = serve_get_le(buf + 8, 8);
    m->request = serve_get_le(buf + 16, 8);
    if (np) {
        m->part = he_malloc(sizeof *m->part * np);
        m->len = he_malloc(sizeof *m->len * np);
        if (!m->part || !m->len) {
            he_serve_msg_free(m);
            return -1;
        }
    }
    size_t off = HE_SERVE_HEADER;
    for (uint64_t i = 0; i < np; i++) {
        if (len - off < 8) {
            he_serve_msg_free(m);
            return he_error("serve: truncated message (part %llu has no length)", (unsigned long long)i);
        }
        uint64_t l = serve_get_le(buf + off, 8);
        off += 8;
        if (l > len - off) {
            he_serve_msg_free(m);
            return he_error("serve: truncated message (part %llu of %llu bytes, %zu left)", (unsigned long long)i,
                            (unsigned long long)l, len - off);
        }
        m->part[i] = buf + off;
        m->len[i] = (size_t)l;
        off += (size_t)l;
    }
    if (off != len) {
        he_serve_msg_free(m);
        return he_error("serve: %zu bytes after the last part", len - off);
    }
    m->nparts = (uint32_t)np;
    return 0;
}

int he_serve_encode(unsigned kind, uint64_t session, uint64_t request, uint32_t nparts,
                    const uint8_t *const *part, const size_t *len, uint8_t **out, size_t *outlen)
{
    size_t total = HE_SERVE_HEADER;
    for (uint32_t i = 0; i < nparts; i++) {
        if (len[i] > SIZE_MAX - total - 8) return he_error("serve: message too large");
        total += 8 + len[i];
    }
    uint8_t *b = he_malloc(total);
    if (!b) return -1;
    memcpy(b, MAGIC, 4);
    b[4] = HE_SERVE_VERSION;
    b[5] = (uint8_t)kind;
    b[6] = b[7] = 0;
    serve_put_le(b + 8, session, 8);
    serve_put_le(b + 16, request, 8);
    serve_put_le(b + 24, nparts, 4);
    size_t off = HE_SERVE_HEADER;
    for (uint32_t i = 0; i < nparts; i++) {
        serve_put_le(b + off, len[i], 8);
        off += 8;
        if (len[i]) memcpy(b + off, part[i], len[i]);
        off += len[i];
    }
    *out = b;
    *outlen = total;
    return 0;
}

void he_serve_limits_default(he_serve_limits *l)
{
    l->max_msg = (size_t)256 << 20;
    l->max_sessions = 64;
    l->idle_s = 600;
    l->max_parts = 65536;
}

/* --- the server ------------------------------------------------------------------------------- */
typedef struct session {
    uint64_t id;
    char owner[Z85 + 1]; /* the client key that opened it */
    int64_t last_ms;
    void *state;
} session;

struct he_serve_server {
    void *zctx, *router; /* a worker: router is its DEALER to the front */
    pthread_t zap;
    bool zap_running;
    /* a worker (he_serve_worker_new): its id, the heartbeat thread */
    bool worker;
    uint8_t wid[HE_SERVE_WID];
    void *hb_ctx, *hb_sock; /* a context of its own: its I/O thread is never busy with a request */
    pthread_t hb;
    bool hb_running;
    atomic_int hb_stop;
    he_serve_limits lim;
    serve_keys allow; /* allowed client keys (none listed: any) */
    session *sess;
    unsigned nsess;
    he_serve_stats st;
};

/* ZAP: accepts CURVE clients (those listed, when a list was given) and
** names each by its public key in Z85 ("User-Id"). */
static bool allowed_key(void *ud, const uint8_t key[32], char *user, size_t n)
{
    const serve_keys *k = ud;
    bool ok = k->n == 0;
    for (size_t i = 0; i < k->n && !ok; i++) ok = memcmp(key, k->key[i], 32) == 0;
    if (ok && n > Z85) zmq_z85_encode(user, key, 32);
    return ok;
}

typedef struct zap_arg {
    void *sock;
    const serve_keys *keys;
} zap_arg;

static void *zap_loop(void *arg)
{
    zap_arg *za = arg;
    void *sock = za->sock;
    const serve_keys *keys = za->keys;
    he_free(za);
    he_zap_serve(sock, allowed_key, (void *)keys, "key not allowed");
    return NULL;
}

int serve_zap_start(void *zctx, const serve_keys *keys, pthread_t *th)
{
    void *zs = zmq_socket(zctx, ZMQ_REP);
    if (!zs || zmq_bind(zs, "inproc://zeromq.zap.01") != 0) {
        if (zs) zmq_close(zs);
        return he_error("serve: cannot start the key check (ZAP): %s", zmq_strerror(errno));
    }
    zap_arg *za = he_malloc(sizeof *za);
    if (za) {
        za->sock = zs;
        za->keys = keys;
    }
    if (!za || pthread_create(th, NULL, zap_loop, za) != 0) {
        he_free(za);
        zmq_close(zs);
        return he_error("serve: cannot start the key check thread");
    }
    return 0;
}

int serve_keys_read(serve_keys *k, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return he_error("serve: cannot open the key list %s: %s", path, strerror(errno));
    char line[256];
    int lineno = 0, rc = 0;
    k->key = he_malloc(sizeof *k->key * MAX_ALLOW);
    if (!k->key) rc = -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char key[128];
        if (sscanf(line, "%127s", key) != 1 || key[0] == '#') continue;
        if (k->n == MAX_ALLOW) rc = he_error("serve: %s lists more than %d keys", path, MAX_ALLOW);
        else if (strlen(key) != Z85 || !zmq_z85_decode(k->key[k->n], key))
            rc = he_error("serve: %s:%d: '%s' is not a Z85 CURVE public key (40 characters)", path, lineno, key);
        else
            k->n++;
    }
    fclose(f);
    if (rc == 0 && k->n == 0) rc = he_error("serve: the key list %s lists no key", path);
    return rc;
}

void serve_keys_free(serve_keys *k)
{
    he_free(k->key);
    k->key = NULL;
    k->n = 0;
}

/* A CURVE server ROUTER bound to address with the secret key. */
void *serve_curve_router(void *zctx, const char *domain, const char *sec, int64_t maxmsg, const char *address)
{
    void *r = zmq_socket(zctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    int rc = r ? 0 : -1;
    if (rc == 0) rc = zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one);
    if (rc == 0) rc = zmq_setsockopt(r, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
    if (rc == 0) rc = zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, sec, Z85);
    if (rc == 0) rc = zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (rc == 0) rc = zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    if (rc == 0) rc = zmq_bind(r, address);
    if (rc != 0) {
        he_error("serve: cannot listen on %s: %s", address, zmq_strerror(errno));
        if (r) zmq_close(r);
        return NULL;
    }
    return r;
}

/* A server (or worker) with its limits (lim, or the defaults), nothing open. */
static he_serve_server *server_alloc(const he_serve_limits *lim)
{
    he_serve_server *s = he_calloc(1, sizeof *s);
    if (!s) return NULL;
    if (lim)
        s->lim = *lim;
    else
        he_serve_limits_default(&s->lim);
    return s;
}

he_serve_server *he_serve_server_new(const char *address, const char *key_file, const char *allow_file,
                                     const he_serve_limits *lim)
{
    if (!zmq_has("curve")) return he_error("serve: this libzmq has no CURVE security"), NULL;
    he_serve_server *s = server_alloc(lim);
    if (!s) return NULL;
    char sec[Z85 + 1], pub[Z85 + 1];
    if (allow_file && serve_keys_read(&s->allow, allow_file) < 0) goto fail;
    if (he_smpc_key_read(key_file, sec, pub) < 0) goto fail;
    s->sess = he_calloc(s->lim.max_sessions ? s->lim.max_sessions : 1, sizeof *s->sess);
    s->zctx = zmq_ctx_new();
    if (!s->sess || !s->zctx || serve_zap_start(s->zctx, &s->allow, &s->zap) < 0) {
        if (!s->sess || !s->zctx) he_error("serve: out of memory");
        he_memzero(sec, sizeof sec);
        goto fail;
    }
    s->zap_running = true;
    int64_t hard = serve_hard_limit(s->lim.max_msg);
    s->router = serve_curve_router(s->zctx, "he-serve", sec, hard, address);
    he_memzero(sec, sizeof sec);
    if (!s->router) goto fail;
    return s;
fail:
    he_serve_server_free(s);
    return NULL;
}

void he_serve_server_stats(const he_serve_server *s, he_serve_stats *st)
{
    *st = s->st;
    st->sessions = s->nsess;
}

int he_serve_server_endpoint(const he_serve_server *s, char *buf, size_t n)
{
    if (zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, buf, &n) != 0)
        return he_error("serve: no endpoint: %s", zmq_strerror(errno));
    return 0;
}

void *he_serve_server_socket(he_serve_server *s) { return s->router; }

void he_serve_server_free(he_serve_server *s)
{
    if (!s) return;
    if (s->hb_running) {
        atomic_store(&s->hb_stop, 1);
        pthread_join(s->hb, NULL);
    }
    if (s->hb_sock) zmq_close(s->hb_sock);
    if (s->hb_ctx) zmq_ctx_term(s->hb_ctx);
    if (s->router) zmq_close(s->router);
    if (s->zctx) {
        zmq_ctx_shutdown(s->zctx);
        if (s->zap_running) pthread_join(s->zap, NULL);
        zmq_ctx_term(s->zctx);
    }
    serve_keys_free(&s->allow);
    he_free(s->sess);
    he_free(s);
}

static void drop_session(he_serve_server *s, const he_serve_handler *h, unsigned i)
{
    h->close(h->ud, s->sess[i].state);
    s->sess[i] = s->sess[--s->nsess];
    memset(&s->sess[s->nsess], 0, sizeof s->sess[s->nsess]);
}

static void expire(he_serve_server *s, const he_serve_handler *h)
{
    int64_t now = serve_now_ms();
    for (unsigned i = 0; i < s->nsess;)
        if (now - s->sess[i].last_ms > (int64_t)s->lim.idle_s * 1000) {
            if (s->worker) { /* the front forgets it */
                uint8_t id[8];
                serve_put_le(id, s->sess[i].id, 8);
                if (zmq_send(s->router, "E", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
                    zmq_send(s->router, id, 8, ZMQ_DONTWAIT);
            }
            drop_session(s, h, i);
            s->st.expired++;
        } else {
            i++;
        }
}

/* Sends [identity, message]; a client that went away is not waited for. */
static void send_to(he_serve_server *s, zmq_msg_t *id, unsigned kind, uint64_t session, uint64_t request,
                    uint32_t nparts, const uint8_t *const *part, const size_t *len)
{
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (he_serve_encode(kind, session, request, nparts, part, len, &buf, &blen) < 0) {
        const char *why = he_errmsg();
        size_t wl = strlen(why);
        const uint8_t *p = (const uint8_t *)why;
        if (he_serve_encode(HE_SERVE_ERROR, session, request, 1, &p, &wl, &buf, &blen) < 0) return;
    }
    /* a worker's reply goes to the front: "A", the client's id, the message */
    if ((!s->worker || zmq_send(s->router, "A", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) &&
        zmq_send(s->router, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
        zmq_send(s->router, buf, blen, ZMQ_DONTWAIT) >= 0)
        s->st.bytes_out += blen;
    he_free(buf);
}

static void refuse(he_serve_server *s, zmq_msg_t *id, uint64_t session, uint64_t request, const char *why)
{
    size_t wl = strlen(why);
    const uint8_t *p = (const uint8_t *)why;
    s->st.refused++;
    send_to(s, id, HE_SERVE_ERROR, session, request, 1, &p, &wl);
}

static int find_session(he_serve_server *s, uint64_t id, const char *owner)
{
    for (unsigned i = 0; i < s->nsess; i++)
        if (s->sess[i].id == id && strcmp(s->sess[i].owner, owner) == 0) return (int)i;
    return -1;
}

/* A key set's parts (the body's first u32, ckks.h's format), read before
** anything else of it: one with a secret key is refused unread. */
bool serve_keyset_has_secret(const uint8_t *keys, size_t len)
{
    return len >= 60 && (serve_get_le(keys + 56, 4) & 1u);
}

/* The request id of a message refused before it is decoded (0 if none):
** the client waits for the reply to its request. */
static uint64_t peek_request(const uint8_t *buf, size_t len)
{
    return len >= HE_SERVE_HEADER && memcmp(buf, MAGIC, 4) == 0 ? serve_get_le(buf + 16, 8) : 0;
}

static void handle(he_serve_server *s, const he_serve_handler *h, zmq_msg_t *id, const char *owner,
                   const uint8_t *buf, size_t len)
{
    if (len > s->lim.max_msg) {
        char why[128];
        snprintf(why, sizeof why, "serve: the request of %zu bytes is over the limit of %zu", len, s->lim.max_msg);
        refuse(s, id, 0, peek_request(buf, len), why);
        return;
    }
    he_serve_msg m;
    if (he_serve_decode(buf, len, s->lim.max_parts, &m) < 0) {
        refuse(s, id, 0, peek_request(buf, len), he_errmsg());
        return;
    }
    int si = m.session ? find_session(s, m.session, owner) : -1;
    switch (m.kind) {
    case HE_SERVE_PARAMS: {
        const uint8_t *p = (const uint8_t *)h->params;
        size_t pl = strlen(h->params);
        s->st.answered++;
        send_to(s, id, HE_SERVE_OK, 0, m.request, 1, &p, &pl);
        break;
    }
    case HE_SERVE_OPEN: {
        if (m.nparts != 1) {
            refuse(s, id, 0, m.request, "serve: OPEN takes one part, the key set");
            break;
        }
        if (serve_keyset_has_secret(m.part[0], m.len[0])) {
            refuse(s, id, 0, m.request, SERVE_SECRET_REFUSED);
            break;
        }
        expire(s, h);
        if (s->nsess >= s->lim.max_sessions) {
            char why[128];
            snprintf(why, sizeof why, "serve: %u sessions are open, the limit; try again later", s->nsess);
            refuse(s, id, 0, m.request, why);
            break;
        }
        void *st = h->open(h->ud, m.part[0], m.len[0]);
        if (!st) {
            refuse(s, id, 0, m.request, he_errmsg());
            break;
        }
        session *ss = &s->sess[s->nsess++];
        do ss->id = he_random_u64();
        while (ss->id == 0);
        snprintf(ss->owner, sizeof ss->owner, "%s", owner);
        ss->last_ms = serve_now_ms();
        ss->state = st;
        s->st.answered++;
        send_to(s, id, HE_SERVE_OK, ss->id, m.request, 0, NULL, NULL);
        break;
    }
    case HE_SERVE_QUERY: {
        if (si < 0) {
            refuse(s, id, m.session, m.request, "serve: no such session (never opened, closed, or idle too long)");
            break;
        }
        uint32_t nout = 0;
        uint8_t **out = NULL;
        size_t *olen = NULL;
        if (h->query(h->ud, s->sess[si].state, m.nparts, m.part, m.len, &nout, &out, &olen) < 0) {
            refuse(s, id, m.session, m.request, he_errmsg());
        } else {
            s->st.answered++;
            send_to(s, id, HE_SERVE_OK, m.session, m.request, nout, (const uint8_t *const *)out, olen);
        }
        for (uint32_t i = 0; out && i < nout; i++) he_free(out[i]);
        he_free(out);
        he_free(olen);
        /* the session may have been dropped meanwhile: look it up again */
        si = find_session(s, m.session, owner);
        if (si >= 0) s->sess[si].last_ms = serve_now_ms();
        break;
    }
    case HE_SERVE_CLOSE:
        if (si < 0) {
            refuse(s, id, m.session, m.request, "serve: no such session");
            break;
        }
        drop_session(s, h, (unsigned)si);
        s->st.answered++;
        send_to(s, id, HE_SERVE_OK, m.session, m.request, 0, NULL, NULL);
        break;
    default:
        refuse(s, id, m.session, m.request, "serve: not a request (a reply sent to the server)");
    }
    he_serve_msg_free(&m);
}

/* --- the link between a front and its workers ------------------------------------------- */
int he_serve_link_decode(unsigned nframes, const uint8_t *const *f, const size_t *len, he_serve_link *l)
{
    memset(l, 0, sizeof *l);
    if (nframes < 1 || len[0] != 1) return he_error("serve: not a message of the worker link");
    l->kind = (char)f[0][0];
    static const struct {
        char kind;
        unsigned frames;
    } shape[] = {{'R', 3}, {'H', 2}, {'B', 2}, {'A', 3}, {'E', 2}, {'Q', 4}, {'S', 1}};
    unsigned want = 0;
    for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++)
        if (shape[i].kind == l->kind) want = shape[i].frames;
    if (!want) return he_error("serve: unknown worker link message '%c'", isprint(f[0][0]) ? f[0][0] : '?');
    if (nframes != want)
        return he_error("serve: worker link message '%c' of %u frames (it has %u)", l->kind, nframes, want);
    switch (l->kind) {
    case 'R': case 'H': case 'B':
        if (len[1] != HE_SERVE_WID) return he_error("serve: a worker id of %zu bytes", len[1]);
        memcpy(l->wid, f[1], HE_SERVE_WID);
        if (l->kind == 'R') {
            if (len[2] == 0 || len[2] > HE_SERVE_MAX_DESC || memchr(f[2], 0, len[2]))
                return he_error("serve: a worker's description of %zu bytes (text, at most %d)", len[2],
                                HE_SERVE_MAX_DESC);
            l->body = f[2];
            l->body_len = len[2];
        }
        break;
    case 'A': case 'Q':
        if (len[1] == 0 || len[1] > 255) return he_error("serve: a client id of %zu bytes", len[1]);
        l->client = f[1];
        l->client_len = len[1];
        if (l->kind == 'Q') {
            if (len[2] != Z85) return he_error("serve: a client key of %zu characters", len[2]);
            memcpy(l->owner, f[2], Z85);
            l->owner[Z85] = 0;
        }
        l->body = f[want - 1];
        l->body_len = len[want - 1];
        break;
    case 'E':
        if (len[1] == 0 || len[1] % 8) return he_error("serve: expired session ids of %zu bytes", len[1]);
        l->body = f[1];
        l->body_len = len[1];
        break;
    default:
        break;
    }
    return 0;
}

/* Receives one message of up to `max` frames (more are read and dropped:
** -1); the count. */
int serve_recv_frames(void *sock, zmq_msg_t *fr, unsigned max, unsigned *n)
{
    *n = 0;
    bool more = true, over = false;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (*n < max)
            fr[(*n)++] = m;
        else {
            over = true;
            zmq_msg_close(&m);
        }
    }
    return over ? -1 : 0;
}

static void close_frames(zmq_msg_t *fr, unsigned n)
{
    for (unsigned i = 0; i < n; i++) zmq_msg_close(&fr[i]);
}

/* A worker: tells the front it is ready, with what it serves. */
static void worker_hello(he_serve_server *s, const he_serve_handler *h, char kind)
{
    if (zmq_send(s->router, &kind, 1, ZMQ_SNDMORE) < 0) return;
    if (kind == 'R') {
        zmq_send(s->router, s->wid, HE_SERVE_WID, ZMQ_SNDMORE);
        zmq_send(s->router, h->params, strlen(h->params), 0);
    } else {
        zmq_send(s->router, s->wid, HE_SERVE_WID, 0);
    }
}

int he_serve_run(he_serve_server *s, const he_serve_handler *h, uint64_t max_requests, volatile sig_atomic_t *stop)
{
    int rc = 0;
    int64_t quiet_since = 0, stop_at = 0;
    bool told = false; /* a worker told to stop by its front */
    if (s->worker) {
        if (strlen(h->params) > HE_SERVE_MAX_DESC) return he_error("serve: the model's description is too long");
        worker_hello(s, h, 'R');
    }
    while (!told && !(max_requests && s->st.answered >= max_requests)) {
        /* told to stop: what arrives while the socket is not quiet for
        ** GRACE_MS (requests on their way when the signal came) is still
        ** answered, for at most GRACE_MAX_MS */
        if (stop && *stop) {
            int64_t t = serve_now_ms();
            if (!stop_at) stop_at = quiet_since = t;
            if (t - quiet_since >= GRACE_MS || t - stop_at >= GRACE_MAX_MS) break;
        }
        if (he_interrupt_pending()) {
            rc = he_error("%s", he_interrupt_message());
            break;
        }
        zmq_pollitem_t it = {.socket = s->router, .events = ZMQ_POLLIN};
        int k = zmq_poll(&it, 1, POLL_MS);
        if (k < 0 && errno != EINTR) {
            rc = he_error("serve: poll failed: %s", zmq_strerror(errno));
            break;
        }
        expire(s, h);
        if (k <= 0) continue;
        quiet_since = serve_now_ms();
        zmq_msg_t fr[4];
        unsigned nf = 0;
        /* a client: [its id, one frame]; a worker: a link message from the front */
        bool over = serve_recv_frames(s->router, fr, s->worker ? 4 : 2, &nf) < 0;
        if (!s->worker) {
            if (nf == 2) {
                const char *owner = zmq_msg_gets(&fr[1], "User-Id");
                s->st.bytes_in += zmq_msg_size(&fr[1]);
                if (over)
                    refuse(s, &fr[0], 0, 0, "serve: a request is one frame");
                else
                    handle(s, h, &fr[0], owner ? owner : "", zmq_msg_data(&fr[1]), zmq_msg_size(&fr[1]));
            }
            close_frames(fr, nf);
            continue;
        }
        const uint8_t *f[4];
        size_t fl[4];
        for (unsigned i = 0; i < nf; i++) {
            f[i] = zmq_msg_data(&fr[i]);
            fl[i] = zmq_msg_size(&fr[i]);
        }
        he_serve_link l;
        if (!over && he_serve_link_decode(nf, f, fl, &l) == 0) {
            if (l.kind == 'S') {
                told = true;
            } else if (l.kind == 'Q') {
                s->st.bytes_in += l.body_len;
                zmq_msg_t id;
                zmq_msg_init_size(&id, l.client_len);
                memcpy(zmq_msg_data(&id), l.client, l.client_len);
                handle(s, h, &id, l.owner, l.body, l.body_len);
                zmq_msg_close(&id);
            }
        }
        close_frames(fr, nf);
    }
    while (s->nsess) drop_session(s, h, s->nsess - 1);
    if (s->worker) worker_hello(s, h, 'B');
    return rc;
}

/* --- a worker ------------------------------------------------------------------------------- */
/* Heartbeats on a connection of its own, so that a worker busy with a
** request is still seen alive (and one killed is seen dead). */
static void *hb_loop(void *arg)
{
    he_serve_server *s = arg;
    int64_t next = 0;
    while (!atomic_load(&s->hb_stop)) {
        int64_t t = serve_now_ms();
        if (t >= next) {
            if (zmq_send(s->hb_sock, "H", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
                zmq_send(s->hb_sock, s->wid, HE_SERVE_WID, ZMQ_DONTWAIT);
            next = t + HE_SERVE_HEARTBEAT_MS;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* A CURVE client socket to address with the key pair given, pinning server_public. */
static void *curve_client(void *zctx, int type, const char *address, const char *server_public, const char *pub,
                          const char *sec, const void *rid, size_t rid_len, int64_t maxmsg)
{
    void *sock = zmq_socket(zctx, type);
    int zero = 0;
    int rc = sock ? 0 : -1;
    if (rc == 0 && maxmsg) rc = zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public, Z85);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, Z85);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, Z85);
    if (rc == 0) rc = zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (rc == 0 && rid) rc = zmq_setsockopt(sock, ZMQ_ROUTING_ID, rid, rid_len);
    if (rc == 0) rc = zmq_connect(sock, address);
    if (rc != 0) {
        he_error("serve: cannot connect to %s: %s", address, zmq_strerror(errno));
        if (sock) zmq_close(sock);
        return NULL;
    }
    return sock;
}

he_serve_server *he_serve_worker_new(const char *front_address, const char *front_public, const char *key_file,
                                     const he_serve_limits *lim)
{
    if (!zmq_has("curve")) return he_error("serve: this libzmq has no CURVE security"), NULL;
    uint8_t raw[32];
    if (!front_public || strlen(front_public) != Z85 || !zmq_z85_decode(raw, front_public))
        return he_error("serve: '%s' is not a front's public key (Z85, 40 characters)", front_public ? front_public : ""),
               NULL;
    he_serve_server *s = server_alloc(lim);
    if (!s) return NULL;
    s->worker = true;
    atomic_init(&s->hb_stop, 0);
    he_randombytes(s->wid, sizeof s->wid);
    char sec[Z85 + 1], pub[Z85 + 1];
    if (he_smpc_key_read(key_file, sec, pub) < 0) goto fail;
    s->sess = he_calloc(s->lim.max_sessions ? s->lim.max_sessions : 1, sizeof *s->sess);
    s->zctx = zmq_ctx_new();
    s->hb_ctx = zmq_ctx_new();
    if (!s->sess || !s->zctx || !s->hb_ctx) {
        he_memzero(sec, sizeof sec);
        he_error("serve: out of memory");
        goto fail;
    }
    uint8_t rid[1 + HE_SERVE_WID];
    memcpy(rid + 1, s->wid, HE_SERVE_WID);
    rid[0] = 'w';
    int64_t hard = serve_hard_limit(s->lim.max_msg);
    s->router = curve_client(s->zctx, ZMQ_DEALER, front_address, front_public, pub, sec, rid, sizeof rid, hard);
    rid[0] = 'h';
    s->hb_sock = s->router ? curve_client(s->hb_ctx, ZMQ_DEALER, front_address, front_public, pub, sec, rid, sizeof rid, 0)
                           : NULL;
    he_memzero(sec, sizeof sec);
    if (!s->hb_sock) goto fail;
    if (pthread_create(&s->hb, NULL, hb_loop, s) != 0) {
        he_error("serve: cannot start the heartbeat thread");
        goto fail;
    }
    s->hb_running = true;
    return s;
fail:
    he_serve_server_free(s);
    return NULL;
}

/* --- the client ------------------------------------------------------------------------------- */
struct he_serve_client {
    void *zctx, *sock;
    int timeout_ms;
    uint64_t next, sent, received;
};

he_serve_client *he_serve_client_new(const char *address, const char *server_public, const char *key_file,
                                     int timeout_ms)
{
    if (!zmq_has("curve")) return he_error("serve: this libzmq has no CURVE security"), NULL;
    uint8_t raw[32];
    if (!server_public || strlen(server_public) != Z85 || !zmq_z85_decode(raw, server_public))
        return he_error("serve: '%s' is not a server public key (Z85, 40 characters)", server_public ? server_public : ""),
               NULL;
    char sec[Z85 + 1], pub[Z85 + 1];
    if (key_file ? he_smpc_key_read(key_file, sec, pub) < 0 : zmq_curve_keypair(pub, sec) != 0)
        return key_file ? NULL : (he_error("serve: cannot make a CURVE key pair"), NULL);
    he_serve_client *c = he_calloc(1, sizeof *c);
    if (!c) {
        he_memzero(sec, sizeof sec);
        return NULL;
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
    c->zctx = zmq_ctx_new();
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    int rc = c->sock ? 0 : -1;
    if (rc == 0) rc = zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server_public, Z85);
    if (rc == 0) rc = zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pub, Z85);
    if (rc == 0) rc = zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sec, Z85);
    if (rc == 0) rc = zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    he_memzero(sec, sizeof sec);
    if (rc == 0) rc = zmq_connect(c->sock, address);
    if (rc != 0) {
        he_error("serve: cannot connect to %s: %s", address, zmq_strerror(errno));
        he_serve_client_free(c);
        return NULL;
    }
    return c;
}

int he_serve_client_timeout(he_serve_client *c, int timeout_ms)
{
    int old = c->timeout_ms;
    if (timeout_ms > 0 && timeout_ms < old) c->timeout_ms = timeout_ms;
    if (timeout_ms > old) c->timeout_ms = timeout_ms;
    return old;
}

void he_serve_client_bytes(const he_serve_client *c, uint64_t *sent, uint64_t *received)
{
    *sent = c->sent;
    *received = c->received;
}

void he_serve_client_free(he_serve_client *c)
{
    if (!c) return;
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    he_free(c);
}

/* Waits for the reply to request `want` (any reply when want is 0). */
static int await(he_serve_client *c, uint64_t want, he_serve_msg *reply, uint8_t **buf)
{
    int64_t deadline = serve_now_ms() + c->timeout_ms;
    *buf = NULL;
    for (;;) {
        int64_t left = deadline - serve_now_ms();
        if (left <= 0)
            return he_error("serve: no reply from the server within %d ms (is it running, with this public key?)",
                            c->timeout_ms);
        if (he_interrupt_pending()) return he_error("%s", he_interrupt_message());
        zmq_pollitem_t it = {.socket = c->sock, .events = ZMQ_POLLIN};
        int k = zmq_poll(&it, 1, left < POLL_MS ? (long)left : POLL_MS);
        if (k < 0 && errno != EINTR) return he_error("serve: poll failed: %s", zmq_strerror(errno));
        if (k <= 0) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        size_t len = zmq_msg_size(&m);
        c->received += len;
        uint8_t *b = he_malloc(len ? len : 1);
        if (!b) {
            zmq_msg_close(&m);
            return -1;
        }
        memcpy(b, zmq_msg_data(&m), len);
        zmq_msg_close(&m);
        if (he_serve_decode(b, len, UINT32_MAX, reply) < 0) {
            he_free(b);
            return he_error("serve: a malformed reply from the server");
        }
        if (want && reply->request != want) { /* a late reply to an earlier request */
            he_serve_msg_free(reply);
            he_free(b);
            continue;
        }
        if (reply->kind == HE_SERVE_ERROR) {
            int n = reply->nparts ? (int)(reply->len[0] > 1000 ? 1000 : reply->len[0]) : 0;
            he_error("serve: the server refused: %.*s", n, n ? (const char *)reply->part[0] : "");
            he_serve_msg_free(reply);
            he_free(b);
            return -1;
        }
        if (reply->kind != HE_SERVE_OK) {
            he_serve_msg_free(reply);
            he_free(b);
            return he_error("serve: an unexpected reply from the server");
        }
        *buf = b;
        return 0;
    }
}

int he_serve_call_raw(he_serve_client *c, const uint8_t *msg, size_t len, he_serve_msg *reply, uint8_t **buf)
{
    memset(reply, 0, sizeof *reply);
    if (zmq_send(c->sock, msg, len, 0) < 0) return he_error("serve: cannot send: %s", zmq_strerror(errno));
    c->sent += len;
    return await(c, 0, reply, buf);
}

int he_serve_call(he_serve_client *c, unsigned kind, uint64_t session, uint32_t nparts, const uint8_t *const *part,
                  const size_t *len, he_serve_msg *reply, uint8_t **buf)
{
    memset(reply, 0, sizeof *reply);
    *buf = NULL;
    uint8_t *msg = NULL;
    size_t mlen = 0;
    uint64_t id = ++c->next;
    if (he_serve_encode(kind, session, id, nparts, part, len, &msg, &mlen) < 0) return -1;
    int rc = zmq_send(c->sock, msg, mlen, 0);
    he_free(msg);
    if (rc < 0) return he_error("serve: cannot send: %s", zmq_strerror(errno));
    c->sent += mlen;
    return await(c, id, reply, buf);
}
