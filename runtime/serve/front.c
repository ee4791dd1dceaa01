/*
** front.c: several workers behind one address (serve.h): ZeroMQ's
** load-balancing broker (a ROUTER for the clients, a ROUTER for the
** workers), where a session stays on the worker that holds its keys.
** The front reads the header and part table of each request (the same
** decoder and limits as a server), never its parts: it forwards the frame
** as it came (no copy) to the worker.
*/
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "smpc/smpc.h"

#define Z85 HE_SERVE_KEY_Z85
#define MAX_WORKERS 1024
#define RID (1 + HE_SERVE_WID) /* a worker's routing id: 'w' or 'h', then its id */
#define LOST 4096              /* sessions of dead workers remembered, for a clear error */
#define LOST_MSG "serve: the worker serving this session stopped; its keys are gone: open a new session"

typedef struct worker {
    uint8_t wid[HE_SERVE_WID];
    int64_t seen_ms;
    unsigned inflight, nsess;
    uint64_t turn; /* when it was last given a session */
    bool alive;
} worker;

typedef struct fsession {
    uint64_t id;
    unsigned w;
    char owner[Z85 + 1];
} fsession;

/* A request at a worker, not answered yet. */
typedef struct pending {
    unsigned w, kind;
    uint8_t client[256];
    size_t client_len;
    uint64_t request;
    char owner[Z85 + 1];
} pending;

struct he_serve_front {
    void *zc, *zw; /* one context each, for a ZAP handler each */
    void *clients, *workers;
    pthread_t zap_c, zap_w;
    bool zap_c_running, zap_w_running;
    serve_keys allow, wkeys;
    he_serve_limits lim;
    char *desc; /* the workers' description (the first one's; the others must match) */
    worker *w;
    unsigned nw;
    fsession *sess;
    size_t nsess, capsess;
    pending *pend;
    size_t npend, cappend;
    uint64_t turn;
    uint64_t lost[LOST]; /* a ring */
    size_t nlost;
    he_serve_front_stats st;
};

/* --- replies to clients --------------------------------------------------------------------- */
static void to_client(he_serve_front *f, const uint8_t *client, size_t clen, unsigned kind, uint64_t session,
                      uint64_t request, const char *text)
{
    uint8_t *buf = NULL;
    size_t blen = 0, tl = strlen(text);
    const uint8_t *p = (const uint8_t *)text;
    if (he_serve_encode(kind, session, request, 1, &p, &tl, &buf, &blen) < 0) return;
    if (zmq_send(f->clients, client, clen, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(f->clients, buf, blen, ZMQ_DONTWAIT);
    he_free(buf);
}

static void refuse(he_serve_front *f, const uint8_t *client, size_t clen, uint64_t session, uint64_t request,
                   const char *why)
{
    f->st.refused++;
    to_client(f, client, clen, HE_SERVE_ERROR, session, request, why);
}

/* --- workers, sessions, requests in flight ------------------------------------------------------ */
static int find_worker(const he_serve_front *f, const uint8_t *wid)
{
    for (unsigned i = 0; i < f->nw; i++)
        if (memcmp(f->w[i].wid, wid, HE_SERVE_WID) == 0) return (int)i;
    return -1;
}

/* The worker of a routing id ('w' + its id), alive, or -1. */
static int worker_of_rid(const he_serve_front *f, const uint8_t *rid, size_t len)
{
    if (len != RID || rid[0] != 'w') return -1;
    int i = find_worker(f, rid + 1);
    return i >= 0 && f->w[i].alive ? i : -1;
}

static int find_session(const he_serve_front *f, uint64_t id, const char *owner)
{
    for (size_t i = 0; i < f->nsess; i++)
        if (f->sess[i].id == id && strcmp(f->sess[i].owner, owner) == 0) return (int)i;
    return -1;
}

static void drop_session(he_serve_front *f, size_t i)
{
    worker *w = &f->w[f->sess[i].w];
    if (w->nsess) w->nsess--;
    f->sess[i] = f->sess[--f->nsess];
}

static void drop_pending(he_serve_front *f, size_t i)
{
    worker *w = &f->w[f->pend[i].w];
    if (w->inflight) w->inflight--;
    f->pend[i] = f->pend[--f->npend];
}

/* A worker killed, gone silent or leaving: the requests it had get an
** error (its sessions' keys went with it), its sessions are forgotten. */
static void worker_gone(he_serve_front *f, unsigned wi, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof msg, "serve: the worker serving this session %s; its keys are gone: open a new session",
             why);
    for (size_t i = 0; i < f->npend;)
        if (f->pend[i].w == wi) {
            f->st.refused++;
            f->st.lost_to_workers++;
            to_client(f, f->pend[i].client, f->pend[i].client_len, HE_SERVE_ERROR, 0, f->pend[i].request, msg);
            drop_pending(f, i);
        } else {
            i++;
        }
    for (size_t i = 0; i < f->nsess;)
        if (f->sess[i].w == wi) {
            f->lost[f->nlost++ % LOST] = f->sess[i].id;
            drop_session(f, i);
        } else {
            i++;
        }
    f->w[wi].alive = false;
    f->w[wi].inflight = f->w[wi].nsess = 0;
}

/* The worker for a new session: the fewest requests in flight, then the
** fewest sessions, then the one given a session longest ago. */
static int pick_worker(const he_serve_front *f)
{
    int best = -1;
    for (unsigned i = 0; i < f->nw; i++) {
        const worker *w = &f->w[i];
        if (!w->alive) continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const worker *b = &f->w[best];
        if (w->inflight < b->inflight ||
            (w->inflight == b->inflight && (w->nsess < b->nsess || (w->nsess == b->nsess && w->turn < b->turn))))
            best = (int)i;
    }
    return best;
}

static bool any_alive(const he_serve_front *f)
{
    for (unsigned i = 0; i < f->nw; i++)
        if (f->w[i].alive) return true;
    return false;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = he_realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Sends the request (its frame moved, not copied) to worker wi; false
** when the worker is gone (dropped). */
static bool forward(he_serve_front *f, unsigned wi, const uint8_t *client, size_t clen, const char *owner,
                    zmq_msg_t *body, unsigned kind, uint64_t request)
{
    if (grow((void **)&f->pend, &f->cappend, f->npend + 1, sizeof *f->pend) < 0) return false;
    uint8_t rid[RID];
    rid[0] = 'w';
    memcpy(rid + 1, f->w[wi].wid, HE_SERVE_WID);
    /* ZMQ_ROUTER_MANDATORY: a worker whose connection is gone fails here */
    if (zmq_send(f->workers, rid, RID, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        worker_gone(f, wi, "stopped");
        return false;
    }
    zmq_send(f->workers, "Q", 1, ZMQ_SNDMORE);
    zmq_send(f->workers, client, clen, ZMQ_SNDMORE);
    zmq_send(f->workers, owner, Z85, ZMQ_SNDMORE);
    if (zmq_msg_send(body, f->workers, 0) < 0) {
        worker_gone(f, wi, "stopped");
        return false;
    }
    pending *p = &f->pend[f->npend++];
    p->w = wi;
    p->kind = kind;
    memcpy(p->client, client, clen);
    p->client_len = clen;
    p->request = request;
    snprintf(p->owner, sizeof p->owner, "%s", owner);
    f->w[wi].inflight++;
    return true;
}

/* --- a client's request ---------------------------------------------------------------------- */
static void client_request(he_serve_front *f, zmq_msg_t *id, zmq_msg_t *body)
{
    const uint8_t *client = zmq_msg_data(id), *buf = zmq_msg_data(body);
    size_t clen = zmq_msg_size(id), len = zmq_msg_size(body);
    const char *owner = zmq_msg_gets(body, "User-Id");
    uint64_t rq = len >= HE_SERVE_HEADER && memcmp(buf, "HESV", 4) == 0 ? serve_get_le(buf + 16, 8) : 0;
    if (clen == 0 || clen > 255 || !owner || strlen(owner) != Z85) return; /* not a CURVE client of ours */
    if (len > f->lim.max_msg) {
        char why[128];
        snprintf(why, sizeof why, "serve: the request of %zu bytes is over the limit of %zu", len, f->lim.max_msg);
        refuse(f, client, clen, 0, rq, why);
        return;
    }
    he_serve_msg m;
    if (he_serve_decode(buf, len, f->lim.max_parts, &m) < 0) {
        refuse(f, client, clen, 0, rq, he_errmsg());
        return;
    }
    if (!any_alive(f) && m.kind >= HE_SERVE_PARAMS && m.kind <= HE_SERVE_OPEN) {
        refuse(f, client, clen, 0, m.request, "serve: no worker is ready; try again later");
    } else if (m.kind == HE_SERVE_PARAMS) {
        f->st.answered++;
        to_client(f, client, clen, HE_SERVE_OK, 0, m.request, f->desc);
    } else if (m.kind == HE_SERVE_OPEN) {
        if (m.nparts == 1 && serve_keyset_has_secret(m.part[0], m.len[0])) {
            refuse(f, client, clen, 0, m.request, SERVE_SECRET_REFUSED);
        } else {
            int wi = pick_worker(f);
            f->w[wi].turn = ++f->turn;
            if (!forward(f, (unsigned)wi, client, clen, owner, body, m.kind, m.request))
                refuse(f, client, clen, 0, m.request, "serve: the worker chosen stopped; try again");
        }
    } else if (m.kind == HE_SERVE_QUERY || m.kind == HE_SERVE_CLOSE) {
        int si = find_session(f, m.session, owner);
        bool lost = false;
        for (size_t i = 0; si < 0 && i < LOST && i < f->nlost && !lost; i++) lost = f->lost[i] == m.session;
        if (si < 0) {
            refuse(f, client, clen, m.session, m.request,
                   lost ? LOST_MSG : "serve: no such session (never opened, closed, or idle too long)");
        } else if (!forward(f, f->sess[si].w, client, clen, owner, body, m.kind, m.request)) {
            refuse(f, client, clen, m.session, m.request, LOST_MSG);
        }
    } else {
        refuse(f, client, clen, m.session, m.request, "serve: not a request (a reply sent to the server)");
    }
    he_serve_msg_free(&m);
}

/* --- a worker's message ----------------------------------------------------------------------- */
static void worker_ready(he_serve_front *f, const he_serve_link *l, const uint8_t *rid, size_t rlen)
{
    if (rlen != RID || rid[0] != 'w' || memcmp(rid + 1, l->wid, HE_SERVE_WID) != 0) return;
    if (f->desc && (strlen(f->desc) != l->body_len || memcmp(f->desc, l->body, l->body_len) != 0)) {
        /* another model: not one of ours */
        zmq_send(f->workers, rid, rlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(f->workers, "S", 1, ZMQ_DONTWAIT);
        return;
    }
    if (!f->desc) {
        f->desc = he_malloc(l->body_len + 1);
        if (!f->desc) return;
        memcpy(f->desc, l->body, l->body_len);
        f->desc[l->body_len] = 0;
    }
    int wi = find_worker(f, l->wid);
    if (wi >= 0 && f->w[wi].alive) { /* ready again (it restarted its loop): what it had is gone */
        worker_gone(f, (unsigned)wi, "restarted");
    } else if (wi < 0) { /* a new one, in a free slot */
        for (unsigned i = 0; i < f->nw && wi < 0; i++)
            if (!f->w[i].alive) wi = (int)i;
        if (wi < 0) {
            if (f->nw == MAX_WORKERS) return;
            wi = (int)f->nw++;
        }
    }
    worker *w = &f->w[wi];
    memset(w, 0, sizeof *w);
    memcpy(w->wid, l->wid, HE_SERVE_WID);
    w->alive = true;
    w->seen_ms = serve_now_ms();
    f->st.workers++;
}

static void worker_reply(he_serve_front *f, unsigned wi, const he_serve_link *l, zmq_msg_t *body)
{
    const uint8_t *b = l->body;
    if (l->body_len < HE_SERVE_HEADER || memcmp(b, "HESV", 4) != 0) return;
    unsigned kind = b[5];
    uint64_t session = serve_get_le(b + 8, 8), request = serve_get_le(b + 16, 8);
    size_t pi = f->npend;
    for (size_t i = 0; i < f->npend && pi == f->npend; i++)
        if (f->pend[i].w == wi && f->pend[i].request == request && f->pend[i].client_len == l->client_len &&
            memcmp(f->pend[i].client, l->client, l->client_len) == 0)
            pi = i;
    if (pi == f->npend) return; /* not a request of ours in flight */
    pending p = f->pend[pi];
    drop_pending(f, pi);
    if (kind == HE_SERVE_OK && p.kind == HE_SERVE_OPEN && session) {
        if (grow((void **)&f->sess, &f->capsess, f->nsess + 1, sizeof *f->sess) < 0) return;
        fsession *s = &f->sess[f->nsess++];
        s->id = session;
        s->w = wi;
        snprintf(s->owner, sizeof s->owner, "%s", p.owner);
        f->w[wi].nsess++;
    } else if (kind == HE_SERVE_OK && p.kind == HE_SERVE_CLOSE) {
        int si = find_session(f, session, p.owner);
        if (si >= 0) drop_session(f, (size_t)si);
    }
    if (kind == HE_SERVE_OK)
        f->st.answered++;
    else
        f->st.refused++;
    if (zmq_send(f->clients, p.client, p.client_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_msg_send(body, f->clients, ZMQ_DONTWAIT);
}

static void worker_message(he_serve_front *f, zmq_msg_t *fr, unsigned nf)
{
    if (nf < 2) return;
    const uint8_t *fp[4];
    size_t fl[4];
    for (unsigned i = 1; i < nf; i++) {
        fp[i - 1] = zmq_msg_data(&fr[i]);
        fl[i - 1] = zmq_msg_size(&fr[i]);
    }
    he_serve_link l;
    if (he_serve_link_decode(nf - 1, fp, fl, &l) < 0) return;
    const uint8_t *rid = zmq_msg_data(&fr[0]);
    size_t rlen = zmq_msg_size(&fr[0]);
    int wi;
    switch (l.kind) {
    case 'R':
        worker_ready(f, &l, rid, rlen);
        break;
    case 'H':
        if ((wi = find_worker(f, l.wid)) >= 0 && f->w[wi].alive) f->w[wi].seen_ms = serve_now_ms();
        break;
    case 'B':
        if ((wi = find_worker(f, l.wid)) >= 0 && f->w[wi].alive && rlen == RID && rid[0] == 'w')
            worker_gone(f, (unsigned)wi, "stopped");
        break;
    case 'A':
        if ((wi = worker_of_rid(f, rid, rlen)) >= 0) {
            f->w[wi].seen_ms = serve_now_ms(); /* heard from */
            worker_reply(f, (unsigned)wi, &l, &fr[nf - 1]);
        }
        break;
    case 'E':
        if ((wi = worker_of_rid(f, rid, rlen)) >= 0)
            for (size_t k = 0; k < l.body_len; k += 8) {
                uint64_t id = serve_get_le(l.body + k, 8);
                for (size_t i = 0; i < f->nsess; i++)
                    if (f->sess[i].id == id && f->sess[i].w == (unsigned)wi) {
                        drop_session(f, i);
                        break;
                    }
            }
        break;
    default: /* Q, S: not for a front */
        break;
    }
}

/* --- the front ----------------------------------------------------------------------------------- */
he_serve_front *he_serve_front_new(const char *address, const char *worker_address, const char *key_file,
                                   const char *allow_file, const char *workers_file, const he_serve_limits *lim)
{
    if (!zmq_has("curve")) return he_error("serve: this libzmq has no CURVE security"), NULL;
    if (!workers_file) return he_error("serve: a front needs the list of its workers' keys"), NULL;
    he_serve_front *f = he_calloc(1, sizeof *f);
    if (!f) return NULL;
    if (lim)
        f->lim = *lim;
    else
        he_serve_limits_default(&f->lim);
    char sec[Z85 + 1], pub[Z85 + 1];
    if ((allow_file && serve_keys_read(&f->allow, allow_file) < 0) || serve_keys_read(&f->wkeys, workers_file) < 0)
        goto fail;
    if (he_smpc_key_read(key_file, sec, pub) < 0) goto fail;
    f->w = he_calloc(MAX_WORKERS, sizeof *f->w);
    f->zc = zmq_ctx_new();
    f->zw = zmq_ctx_new();
    if (!f->w || !f->zc || !f->zw) {
        he_memzero(sec, sizeof sec);
        he_error("serve: out of memory");
        goto fail;
    }
    /* two I/O threads for the workers' side: heartbeats are not held up
    ** behind a large request on its way */
    zmq_ctx_set(f->zw, ZMQ_IO_THREADS, 2);
    if (serve_zap_start(f->zc, &f->allow, &f->zap_c) == 0) f->zap_c_running = true;
    if (f->zap_c_running && serve_zap_start(f->zw, &f->wkeys, &f->zap_w) == 0) f->zap_w_running = true;
    if (!f->zap_w_running) {
        he_memzero(sec, sizeof sec);
        goto fail;
    }
    int64_t hard = serve_hard_limit(f->lim.max_msg);
    f->clients = serve_curve_router(f->zc, "he-serve", sec, hard, address);
    f->workers = f->clients ? serve_curve_router(f->zw, "he-serve-workers", sec, -1, worker_address) : NULL;
    he_memzero(sec, sizeof sec);
    int one = 1;
    if (!f->workers) goto fail;
    if (zmq_setsockopt(f->workers, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(f->workers, ZMQ_ROUTER_HANDOVER, &one, sizeof one) != 0) {
        he_error("serve: %s", zmq_strerror(errno));
        goto fail;
    }
    return f;
fail:
    he_serve_front_free(f);
    return NULL;
}

int he_serve_front_run(he_serve_front *f, uint64_t max_requests, volatile sig_atomic_t *stop)
{
    int rc = 0;
    int64_t quiet_since = 0, stop_at = 0;
    while (!(max_requests && f->st.answered >= max_requests)) {
        int64_t t = serve_now_ms();
        /* told to stop: the requests at the workers are awaited (each ends
        ** answered, or with an error if its worker dies); what arrives
        ** until the clients are quiet for 2 s (at most 30 s) is served */
        if (stop && *stop) {
            if (!stop_at) stop_at = quiet_since = t;
            if (f->npend == 0 && (t - quiet_since >= SERVE_GRACE_MS || t - stop_at >= SERVE_GRACE_MAX_MS)) break;
        }
        if (he_interrupt_pending()) {
            rc = he_error("%s", he_interrupt_message());
            break;
        }
        zmq_pollitem_t it[2] = {{.socket = f->clients, .events = ZMQ_POLLIN},
                                {.socket = f->workers, .events = ZMQ_POLLIN}};
        int k = zmq_poll(it, 2, SERVE_POLL_MS);
        if (k < 0 && errno != EINTR) {
            rc = he_error("serve: poll failed: %s", zmq_strerror(errno));
            break;
        }
        /* every message of the workers first (heartbeats that waited while
        ** this loop was busy count), then whether one is silent too long */
        zmq_msg_t fr[5];
        unsigned nf;
        uint64_t replies = f->st.answered + f->st.refused;
        for (int drained = 0; drained < 10000; drained++) {
            zmq_pollitem_t w = {.socket = f->workers, .events = ZMQ_POLLIN};
            if (zmq_poll(&w, 1, 0) <= 0 || !(w.revents & ZMQ_POLLIN)) break;
            bool over = serve_recv_frames(f->workers, fr, 5, &nf) < 0;
            if (!over) worker_message(f, fr, nf);
            for (unsigned i = 0; i < nf; i++) zmq_msg_close(&fr[i]);
        }
        t = serve_now_ms();
        /* a reply just passed on counts as activity: stopping waits 2 s more,
        ** time for it to leave */
        if (f->st.answered + f->st.refused != replies) quiet_since = t;
        for (unsigned i = 0; i < f->nw; i++)
            if (f->w[i].alive && t - f->w[i].seen_ms > HE_SERVE_DEAD_MS) worker_gone(f, i, "stopped answering");
        if (k <= 0) continue;
        if (it[0].revents & ZMQ_POLLIN) {
            quiet_since = serve_now_ms();
            bool over = serve_recv_frames(f->clients, fr, 2, &nf) < 0;
            if (nf == 2 && over)
                refuse(f, zmq_msg_data(&fr[0]), zmq_msg_size(&fr[0]), 0, 0, "serve: a request is one frame");
            else if (nf == 2)
                client_request(f, &fr[0], &fr[1]);
            for (unsigned i = 0; i < nf; i++) zmq_msg_close(&fr[i]);
        }
    }
    /* the workers stop with their front */
    for (unsigned i = 0; i < f->nw; i++)
        if (f->w[i].alive) {
            uint8_t rid[RID];
            rid[0] = 'w';
            memcpy(rid + 1, f->w[i].wid, HE_SERVE_WID);
            if (zmq_send(f->workers, rid, RID, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
                zmq_send(f->workers, "S", 1, ZMQ_DONTWAIT);
            f->w[i].alive = false;
        }
    return rc;
}

void he_serve_front_stats_get(const he_serve_front *f, he_serve_front_stats *st)
{
    *st = f->st;
    st->sessions = (unsigned)f->nsess;
}

int he_serve_front_endpoint(const he_serve_front *f, int which, char *buf, size_t n)
{
    if (zmq_getsockopt(which ? f->workers : f->clients, ZMQ_LAST_ENDPOINT, buf, &n) != 0)
        return he_error("serve: no endpoint: %s", zmq_strerror(errno));
    return 0;
}

void he_serve_front_free(he_serve_front *f)
{
    if (!f) return;
    if (f->clients) {
        /* replies still queued go out (at most 2 s) */
        int linger = SERVE_GRACE_MS;
        zmq_setsockopt(f->clients, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(f->clients);
    }
    if (f->workers) {
        /* the stop messages go out before the sockets close */
        int linger = 1000;
        zmq_setsockopt(f->workers, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(f->workers);
    }
    void *ctx[2] = {f->zc, f->zw};
    pthread_t *th[2] = {&f->zap_c, &f->zap_w};
    bool running[2] = {f->zap_c_running, f->zap_w_running};
    for (int i = 0; i < 2; i++)
        if (ctx[i]) {
            zmq_ctx_shutdown(ctx[i]);
            if (running[i]) pthread_join(*th[i], NULL);
            zmq_ctx_term(ctx[i]);
        }
    serve_keys_free(&f->allow);
    serve_keys_free(&f->wkeys);
    he_free(f->desc);
    he_free(f->w);
    he_free(f->sess);
    he_free(f->pend);
    he_free(f);
}
