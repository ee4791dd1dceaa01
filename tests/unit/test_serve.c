/*
** test_serve.c: the HE service's protocol (runtime/serve/serve.h): the
** request decoder against random, truncated and bit-flipped messages
** (refused or decoded, never read out of bounds: run under ASan by make
** check SANITIZE=1), and a real server on 127.0.0.1 (a thread, with a
** test model that echoes its inputs reversed) answering malformed and
** too-large requests with error replies and then still serving, refusing
** a key set that holds a secret key before the model's open sees it, and
** stopping when told.
*/
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "ckks/ckks.h"
#include "ckks/ckks_internal.h" /* a plaintext's residues, ckks_intt */
#include "he.h"
#include "serve/serve.h"
#include "smpc/smpc.h"

static int decode_ok(const uint8_t *b, size_t n)
{
    he_serve_msg m;
    int rc = he_serve_decode(b, n, 1000, &m);
    if (rc == 0) {
        /* every part lies inside the buffer */
        for (uint32_t i = 0; i < m.nparts; i++)
            if (m.part[i] < b || m.part[i] + m.len[i] > b + n) rc = 2;
        he_serve_msg_free(&m);
    }
    return rc;
}

static void decode_roundtrip(void)
{
    const uint8_t a[] = "first", c[] = "third part";
    const uint8_t *parts[3] = {a, (const uint8_t *)"", c};
    size_t lens[3] = {5, 0, 10};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(he_serve_encode(HE_SERVE_QUERY, 77, 9, 3, parts, lens, &buf, &len) == 0, "encode: %s", he_errmsg());
    he_serve_msg m;
    CHECK(buf && he_serve_decode(buf, len, 3, &m) == 0, "decode: %s", he_errmsg());
    if (buf && m.nparts == 3) {
        CHECK(m.kind == HE_SERVE_QUERY && m.session == 77 && m.request == 9, "header");
        CHECK(m.len[0] == 5 && memcmp(m.part[0], "first", 5) == 0 && m.len[1] == 0 && m.len[2] == 10, "parts");
        he_serve_msg_free(&m);
    } else {
        CHECK(0, "3 parts expected");
    }
    /* a limit of 2 parts refuses it */
    CHECK(buf && he_serve_decode(buf, len, 2, &m) < 0 && strstr(he_errmsg(), "limit"), "max_parts: %s", he_errmsg());
    /* every truncation is refused, so is one byte more */
    int bad = 0;
    for (size_t k = 0; buf && k < len; k++)
        if (decode_ok(buf, k) != -1) bad++;
    CHECK(bad == 0, "%d truncations accepted", bad);
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    CHECK(decode_ok(more, len + 1) == -1, "a trailing byte accepted");
    free(more);
    he_free(buf);
}

/* Random messages, random headers with random part tables, and bit flips
** of a valid message: each decodes or is refused, parts always inside. */
static void decode_fuzz(void)
{
    uint8_t b[512];
    int outside = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = randombytes_uniform(sizeof b);
        randombytes_buf(b, n);
        if (it % 2 && n >= HE_SERVE_HEADER) { /* a valid header, so that the part table is parsed */
            memcpy(b, "HESV", 4);
            b[4] = HE_SERVE_VERSION;
            b[5] = (uint8_t)(1 + randombytes_uniform(6));
            b[6] = b[7] = 0;
            uint32_t np = randombytes_uniform(8);
            memcpy(b + 24, &np, 4);
            for (size_t off = HE_SERVE_HEADER; off + 8 <= n && it % 4 == 1; off += 8 + b[off] % 16) {
                uint64_t l = randombytes_uniform(24);
                memcpy(b + off, &l, 8);
            }
        }
        if (decode_ok(b, n) == 2) outside++;
    }
    const uint8_t *p[2] = {(const uint8_t *)"abc", (const uint8_t *)"defgh"};
    size_t l[2] = {3, 5};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(he_serve_encode(HE_SERVE_OPEN, 1, 2, 2, p, l, &buf, &len) == 0, "encode");
    for (size_t i = 0; buf && i < len * 8; i++) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (decode_ok(buf, len) == 2) outside++;
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    he_free(buf);
    CHECK(outside == 0, "%d decodes pointed outside the message", outside);
}

/* --- a server in a thread --------------------------------------------------------------- */
static int opens, closes;
static void *t_open(void *ud, const uint8_t *keys, size_t len)
{
    (void)ud; (void)keys; (void)len;
    opens++;
    return &opens;
}
static void t_close(void *ud, void *s)
{
    (void)ud; (void)s;
    closes++;
}
static int t_query(void *ud, void *session, uint32_t nin, const uint8_t *const *in, const size_t *inlen, uint32_t *nout,
                   uint8_t ***out, size_t **outlen)
{
    (void)ud; (void)session;
    if (nin == 0) return he_error("test model: no input");
    uint8_t **o = he_calloc(nin, sizeof *o);
    size_t *ol = he_calloc(nin, sizeof *ol);
    for (uint32_t i = 0; i < nin; i++) {
        ol[i] = inlen[nin - 1 - i];
        o[i] = he_malloc(ol[i] ? ol[i] : 1);
        memcpy(o[i], in[nin - 1 - i], ol[i]);
    }
    *nout = nin;
    *out = o;
    *outlen = ol;
    return 0;
}

typedef struct run_arg {
    he_serve_server *s;
    he_serve_handler h;
    volatile sig_atomic_t stop;
    int rc;
} run_arg;

static void *run_thread(void *p)
{
    run_arg *r = p;
    r->rc = he_serve_run(r->s, &r->h, 0, &r->stop);
    return NULL;
}

static char dir[512];

static int params_answered(he_serve_client *c)
{
    he_serve_msg m;
    uint8_t *buf = NULL;
    int ok = he_serve_call(c, HE_SERVE_PARAMS, 0, 0, NULL, NULL, &m, &buf) == 0 && m.nparts == 1 &&
             m.len[0] == 9 && memcmp(m.part[0], "test desc", 9) == 0;
    he_serve_msg_free(&m);
    he_free(buf);
    return ok;
}

static int refused(he_serve_client *c, const uint8_t *msg, size_t len, const char *why)
{
    he_serve_msg m;
    uint8_t *buf = NULL;
    int rc = he_serve_call_raw(c, msg, len, &m, &buf);
    he_serve_msg_free(&m);
    he_free(buf);
    return rc < 0 && strstr(he_errmsg(), "the server refused") && (!why || strstr(he_errmsg(), why));
}

static void server_refuses_and_serves(void)
{
    char key[600], pub[HE_SMPC_KEY_Z85 + 1], ep[256];
    snprintf(key, sizeof key, "%s/server.key", dir);
    CHECK(he_smpc_keygen(key, pub) == 0, "keygen: %s", he_errmsg());
    he_serve_limits lim;
    he_serve_limits_default(&lim);
    lim.max_msg = 4096;
    lim.max_sessions = 2;
    run_arg r = {.h = {.params = "test desc", .open = t_open, .query = t_query, .close = t_close}};
    r.s = he_serve_server_new("tcp://127.0.0.1:*", key, NULL, &lim);
    CHECK(r.s != NULL, "server: %s", he_errmsg());
    if (!r.s) return;
    CHECK(he_serve_server_endpoint(r.s, ep, sizeof ep) == 0, "endpoint");
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);
    he_serve_client *c = he_serve_client_new(ep, pub, NULL, 20000);
    CHECK(c != NULL, "client: %s", he_errmsg());
    if (c) {
        CHECK(params_answered(c), "params: %s", he_errmsg());
        /* garbage, truncated and too large requests: error replies */
        uint8_t junk[300];
        int bad = 0;
        for (int i = 0; i < 40; i++) {
            size_t n = randombytes_uniform(sizeof junk) + 1;
            randombytes_buf(junk, n);
            if (i % 2) memcpy(junk, "HESV\1\3\0\0", n < 8 ? n : 8);
            if (!refused(c, junk, n, NULL)) bad++;
        }
        CHECK(bad == 0, "%d garbage requests not refused: %s", bad, he_errmsg());
        const uint8_t *p = (const uint8_t *)"abcd";
        size_t l = 4;
        uint8_t *msg = NULL;
        size_t ml = 0;
        CHECK(he_serve_encode(HE_SERVE_PARAMS, 0, 5, 1, &p, &l, &msg, &ml) == 0, "encode");
        CHECK(refused(c, msg, ml - 1, "truncated"), "truncated: %s", he_errmsg());
        he_free(msg);
        uint8_t *big = calloc(1, 8192);
        memcpy(big, "HESV\1\1", 6);
        CHECK(refused(c, big, 8192, "over the limit"), "too large: %s", he_errmsg());
        free(big);
        CHECK(params_answered(c), "still serving after the refusals: %s", he_errmsg());

        /* a key set with a secret key is refused before the model sees it */
        he_ckks_params cp;
        memset(&cp, 0, sizeof cp);
        cp.n = 64;
        cp.nprimes = 3;
        cp.bits[0] = cp.bits[1] = cp.bits[2] = 30;
        cp.scale = 1 << 20;
        cp.insecure = true;
        he_ckks_ctx *ctx = he_ckks_ctx_new(&cp);
        he_ckks_keys *k = ctx ? he_ckks_keys_new(ctx) : NULL;
        uint8_t *kb = NULL;
        size_t kl = 0;
        CHECK(k && he_ckks_keygen(k) == 0 && he_ckks_keygen_relin(k) == 0, "ckks keys");
        CHECK(k && he_ckks_keys_serialize(k, HE_CKKS_PART_SECRET | HE_CKKS_PART_PUBLIC, &kb, &kl) == 0, "serialize");
        he_serve_msg m;
        uint8_t *rb = NULL;
        const uint8_t *kp = kb;
        int before = opens;
        CHECK(kb && he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) < 0 && strstr(he_errmsg(), "secret key"),
              "secret key set not refused: %s", he_errmsg());
        CHECK(opens == before, "the model's open saw a secret key set");
        he_free(kb);
        /* the public parts open a session; a query is answered; sessions are limited */
        kb = NULL;
        CHECK(k && he_ckks_keys_serialize(k, HE_CKKS_PART_PUBLIC, &kb, &kl) == 0, "serialize public");
        kp = kb;
        uint64_t sid = 0;
        if (he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) == 0) {
            sid = m.session;
            he_serve_msg_free(&m);
            he_free(rb);
        }
        CHECK(sid != 0 && opens == before + 1, "open: %s", he_errmsg());
        const uint8_t *q[2] = {(const uint8_t *)"x", (const uint8_t *)"yz"};
        size_t ql[2] = {1, 2};
        CHECK(he_serve_call(c, HE_SERVE_QUERY, sid, 2, q, ql, &m, &rb) == 0 && m.nparts == 2 && m.len[0] == 2 &&
                  memcmp(m.part[0], "yz", 2) == 0,
              "query: %s", he_errmsg());
        he_serve_msg_free(&m);
        he_free(rb);
        CHECK(he_serve_call(c, HE_SERVE_QUERY, sid ^ 1, 2, q, ql, &m, &rb) < 0 && strstr(he_errmsg(), "no such session"),
              "a wrong session id: %s", he_errmsg());
        CHECK(he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) == 0, "second session");
        he_serve_msg_free(&m);
        he_free(rb);
        CHECK(he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) < 0 && strstr(he_errmsg(), "limit"),
              "a third session over max_sessions: %s", he_errmsg());
        he_free(kb);
        he_ckks_keys_free(k);
        he_ckks_ctx_free(ctx);
        CHECK(params_answered(c), "still serving: %s", he_errmsg());
    }
    r.stop = 1;
    pthread_join(th, NULL);
    CHECK(r.rc == 0, "run: %s", he_errmsg());
    CHECK(closes == opens, "%d sessions opened, %d closed at the end", opens, closes);
    he_serve_client_free(c);
    he_serve_server_free(r.s);
}

/* --- the worker link ------------------------------------------------------------------- */
static int link_ok(unsigned nf, const uint8_t *const *f, const size_t *len)
{
    he_serve_link l;
    if (he_serve_link_decode(nf, f, len, &l) < 0) return -1;
    /* every view lies inside its frame */
    bool in = true;
    for (const uint8_t *v = l.client; v && in; v = NULL) {
        in = false;
        for (unsigned i = 0; i < nf; i++) in |= v >= f[i] && v + l.client_len <= f[i] + len[i];
    }
    for (const uint8_t *v = l.body; v && in; v = NULL) {
        in = false;
        for (unsigned i = 0; i < nf; i++) in |= v >= f[i] && v + l.body_len <= f[i] + len[i];
    }
    return in ? 0 : 2;
}

static void link_decode_fuzz(void)
{
    /* each kind, well formed */
    const char *owner = "rq:rM>}U?@Lns47E1%kR.o4yS5Emzp*kC:Aq{0Sc";
    const uint8_t *f[5];
    size_t l[5];
    uint8_t wid[HE_SERVE_WID] = {1, 2, 3, 4, 5, 6, 7, 8}, ids[16] = {0};
    struct {
        const char *kind;
        unsigned n;
        const void *f1, *f2, *f3;
        size_t l1, l2, l3;
    } good[] = {
        {"R", 3, wid, "desc", NULL, HE_SERVE_WID, 4, 0}, {"H", 2, wid, NULL, NULL, HE_SERVE_WID, 0, 0},
        {"B", 2, wid, NULL, NULL, HE_SERVE_WID, 0, 0},   {"A", 3, "cl", "HESV....", NULL, 2, 8, 0},
        {"E", 2, ids, NULL, NULL, 16, 0, 0},              {"Q", 4, "cl", owner, "HESV", 2, 40, 4},
        {"S", 1, NULL, NULL, NULL, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        f[0] = (const uint8_t *)good[i].kind, l[0] = 1;
        f[1] = good[i].f1, l[1] = good[i].l1;
        f[2] = good[i].f2, l[2] = good[i].l2;
        f[3] = good[i].f3, l[3] = good[i].l3;
        CHECK(link_ok(good[i].n, f, l) == 0, "%s refused: %s", good[i].kind, he_errmsg());
        /* one frame fewer or more is refused */
        f[good[i].n] = (const uint8_t *)"x", l[good[i].n] = 1;
        CHECK(link_ok(good[i].n + 1, f, l) == -1, "%s with a frame more accepted", good[i].kind);
        if (good[i].n > 1) CHECK(link_ok(good[i].n - 1, f, l) == -1, "%s with a frame less accepted", good[i].kind);
    }
    /* a wrong id, key or description is refused */
    f[0] = (const uint8_t *)"H", f[1] = wid, l[0] = 1, l[1] = 7;
    CHECK(link_ok(2, f, l) == -1, "a short worker id accepted");
    f[0] = (const uint8_t *)"Q", f[1] = (const uint8_t *)"c", f[2] = (const uint8_t *)owner, f[3] = wid;
    l[1] = 1, l[2] = 39, l[3] = 8;
    CHECK(link_ok(4, f, l) == -1, "a short client key accepted");
    f[0] = (const uint8_t *)"R", f[1] = wid, f[2] = (const uint8_t *)"a\0b", l[1] = HE_SERVE_WID, l[2] = 3;
    CHECK(link_ok(3, f, l) == -1, "a description with a NUL accepted");
    f[0] = (const uint8_t *)"E", f[1] = ids, l[1] = 12;
    CHECK(link_ok(2, f, l) == -1, "12 bytes of session ids accepted");
    /* random frames: decoded inside their frames or refused */
    uint8_t buf[5][64];
    int outside = 0;
    for (int it = 0; it < 20000; it++) {
        unsigned nf = 1 + randombytes_uniform(5);
        for (unsigned i = 0; i < nf; i++) {
            l[i] = randombytes_uniform(it % 3 ? 48 : 64);
            randombytes_buf(buf[i], l[i]);
            f[i] = buf[i];
        }
        if (it % 2) {
            buf[0][0] = (uint8_t)"RHBAEQS"[randombytes_uniform(7)];
            l[0] = 1 + (it % 7 == 0);
            if (it % 4 == 1 && nf > 1) l[1] = (buf[0][0] == 'A' || buf[0][0] == 'Q') ? 1 + l[1] % 8 : HE_SERVE_WID;
            if (buf[0][0] == 'Q' && nf > 2 && it % 8 == 1) l[2] = 40;
        }
        if (link_ok(nf, f, l) == 2) outside++;
    }
    CHECK(outside == 0, "%d decodes pointed outside the frames", outside);
}

/* --- what a server receives: no secret key, no plaintext ------------------------------------- */
static uint8_t *seen;
static size_t nseen;
static void record(const uint8_t *b, size_t n)
{
    uint8_t *p = realloc(seen, nseen + n);
    if (!p) return;
    seen = p;
    memcpy(seen + nseen, b, n);
    nseen += n;
}
static void *rec_open(void *ud, const uint8_t *keys, size_t len)
{
    (void)ud;
    record(keys, len);
    return &opens;
}
static int rec_query(void *ud, void *session, uint32_t nin, const uint8_t *const *in, const size_t *inlen,
                     uint32_t *nout, uint8_t ***out, size_t **outlen)
{
    for (uint32_t i = 0; i < nin; i++) record(in[i], inlen[i]);
    return t_query(ud, session, nin, in, inlen, nout, out, outlen);
}

/* Does any 16-byte window of the words w[0..n) occur in what the server saw? */
static bool seen_words(const uint64_t *w, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        for (size_t k = 0; k + 16 <= nseen; k++)
            if (memcmp(seen + k, w + i, 16) == 0) return true;
    return false;
}

static void server_sees_no_secret(void)
{
    char key[600], pub[HE_SMPC_KEY_Z85 + 1], ep[256];
    snprintf(key, sizeof key, "%s/server2.key", dir);
    CHECK(he_smpc_keygen(key, pub) == 0, "keygen: %s", he_errmsg());
    run_arg r = {.h = {.params = "test desc", .open = rec_open, .query = rec_query, .close = t_close}};
    r.s = he_serve_server_new("tcp://127.0.0.1:*", key, NULL, NULL);
    CHECK(r.s != NULL && he_serve_server_endpoint(r.s, ep, sizeof ep) == 0, "server: %s", he_errmsg());
    if (!r.s) return;
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);
    he_serve_client *c = he_serve_client_new(ep, pub, NULL, 20000);
    he_ckks_params cp;
    memset(&cp, 0, sizeof cp);
    cp.n = 256;
    cp.nprimes = 3;
    cp.bits[0] = cp.bits[1] = cp.bits[2] = 40;
    cp.scale = (double)(1 << 30);
    cp.insecure = true;
    he_ckks_ctx *ctx = he_ckks_ctx_new(&cp);
    he_ckks_keys *k = ctx ? he_ckks_keys_new(ctx) : NULL;
    he_ckks_pt *pt = ctx ? he_ckks_pt_new(ctx) : NULL;
    he_ckks_ct *ct = ctx ? he_ckks_ct_new(ctx) : NULL;
    CHECK(c && k && pt && ct && he_ckks_keygen(k) == 0 && he_ckks_keygen_relin(k) == 0, "setup: %s", he_errmsg());
    if (c && k && pt && ct) {
        /* as serve.open_session and serve.query(session, X) do: the key set
        ** without its secret part, X encrypted with the secret key */
        uint8_t *kb = NULL, *cb = NULL, *sb = NULL, *rb = NULL;
        size_t kl = 0, cl = 0, sl = 0;
        double x[128];
        for (int i = 0; i < 128; i++) x[i] = (double)(i % 10) / 10.0 + 0.5;
        CHECK(he_ckks_keys_serialize(k, HE_CKKS_PART_PUBLIC | HE_CKKS_PART_RELIN, &kb, &kl) == 0, "keys");
        CHECK(he_ckks_encode(ctx, pt, x, 128, -1, 0) == 0 && he_ckks_encrypt_sk(k, ct, pt) == 0 &&
                  he_ckks_ct_serialize(ctx, ct, &cb, &cl) == 0,
              "encrypt: %s", he_errmsg());
        he_serve_msg m;
        const uint8_t *p = kb;
        uint64_t sid = 0;
        if (kb && he_serve_call(c, HE_SERVE_OPEN, 0, 1, &p, &kl, &m, &rb) == 0) {
            sid = m.session;
            he_serve_msg_free(&m);
            he_free(rb);
        }
        p = cb;
        CHECK(sid && cb && he_serve_call(c, HE_SERVE_QUERY, sid, 1, &p, &cl, &m, &rb) == 0, "query: %s", he_errmsg());
        if (sid && cb) {
            he_serve_msg_free(&m);
            he_free(rb);
        }
        CHECK(nseen > cl + kl / 2, "the server saw %zu bytes", nseen);
        /* the secret key (its residues, as saved) */
        CHECK(he_ckks_keys_serialize(k, HE_CKKS_PART_SECRET, &sb, &sl) == 0, "secret");
        size_t words = (sl - 56 - 32 - 4) / 8;
        uint64_t *sk = malloc(words * 8);
        if (sb && sk) memcpy(sk, sb + 60, words * 8);
        CHECK(sk && !seen_words(sk, words), "the server saw the secret key");
        /* the plaintext: its values, its encoding (NTT and coefficient form) */
        uint64_t xv[128];
        memcpy(xv, x, sizeof xv);
        CHECK(!seen_words(xv, 128), "the server saw the input values");
        size_t pn = (size_t)pt->nq * cp.n;
        CHECK(!seen_words(pt->data, pn), "the server saw the encoded input (NTT form)");
        for (unsigned i = 0; i < pt->nq; i++) ckks_intt(pt->data + (size_t)i * cp.n, &ctx->mod[i], cp.n);
        CHECK(!seen_words(pt->data, pn), "the server saw the encoded input (coefficients)");
        /* the check can fail: the ciphertext's own first polynomial is seen */
        uint64_t *c0 = malloc(cl);
        if (c0) memcpy(c0, cb + 56 + 24, 64);
        CHECK(c0 && seen_words(c0, 8), "the check does not find what the server saw");
        free(c0);
        if (sb) he_free_secret(sb, sl);
        free(sk);
        he_free(kb);
        he_free(cb);
    }
    he_ckks_ct_free(ct);
    he_ckks_pt_free(pt);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(ctx);
    r.stop = 1;
    pthread_join(th, NULL);
    he_serve_client_free(c);
    he_serve_server_free(r.s);
    free(seen);
}

/* --- a front and a worker in threads ------------------------------------------------------------ */
typedef struct front_arg {
    he_serve_front *f;
    volatile sig_atomic_t stop;
    int rc;
} front_arg;

static void *front_thread(void *p)
{
    front_arg *a = p;
    a->rc = he_serve_front_run(a->f, 0, &a->stop);
    return NULL;
}

static void front_and_worker(void)
{
    char key[600], wkey[600], wfile[600], pub[HE_SMPC_KEY_Z85 + 1], wpub[HE_SMPC_KEY_Z85 + 1], ep[256], wep[256];
    snprintf(key, sizeof key, "%s/front.key", dir);
    snprintf(wkey, sizeof wkey, "%s/worker.key", dir);
    snprintf(wfile, sizeof wfile, "%s/workers.txt", dir);
    CHECK(he_smpc_keygen(key, pub) == 0 && he_smpc_keygen(wkey, wpub) == 0, "keygen: %s", he_errmsg());
    FILE *wf = fopen(wfile, "w");
    if (wf) {
        fprintf(wf, "# the workers\n%s\n", wpub);
        fclose(wf);
    }
    he_serve_limits lim;
    he_serve_limits_default(&lim);
    lim.max_msg = 4096;
    front_arg fa = {.f = he_serve_front_new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", key, NULL, wfile, &lim)};
    CHECK(fa.f && he_serve_front_endpoint(fa.f, 0, ep, sizeof ep) == 0 &&
              he_serve_front_endpoint(fa.f, 1, wep, sizeof wep) == 0,
          "front: %s", he_errmsg());
    if (!fa.f) return;
    pthread_t ft, wt;
    pthread_create(&ft, NULL, front_thread, &fa);
    he_serve_client *c = he_serve_client_new(ep, pub, NULL, 20000);
    CHECK(c != NULL, "client: %s", he_errmsg());
    /* no worker yet: refused */
    he_serve_msg m;
    uint8_t *rb = NULL;
    CHECK(c && he_serve_call(c, HE_SERVE_PARAMS, 0, 0, NULL, NULL, &m, &rb) < 0 && strstr(he_errmsg(), "no worker"),
          "no worker: %s", he_errmsg());
    /* a worker: the front answers PARAMS with its description */
    opens = closes = 0;
    run_arg w = {.h = {.params = "test desc", .open = t_open, .query = t_query, .close = t_close}};
    w.s = he_serve_worker_new(wep, pub, wkey, NULL);
    CHECK(w.s != NULL, "worker: %s", he_errmsg());
    if (w.s) pthread_create(&wt, NULL, run_thread, &w);
    bool up = false;
    for (int i = 0; i < 100 && c && w.s && !up; i++) {
        up = params_answered(c);
        if (!up) {
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(up, "the worker never became ready: %s", he_errmsg());
    if (c && up) {
        /* garbage, truncated and too large requests: refused by the front */
        uint8_t junk[300];
        int bad = 0;
        for (int i = 0; i < 40; i++) {
            size_t n = randombytes_uniform(sizeof junk) + 1;
            randombytes_buf(junk, n);
            if (i % 2) memcpy(junk, "HESV\1\3\0\0", n < 8 ? n : 8);
            if (!refused(c, junk, n, NULL)) bad++;
        }
        CHECK(bad == 0, "%d garbage requests not refused: %s", bad, he_errmsg());
        uint8_t *big = calloc(1, 8192);
        memcpy(big, "HESV\1\1", 6);
        CHECK(refused(c, big, 8192, "over the limit"), "too large: %s", he_errmsg());
        free(big);
        /* a key set with a secret key never reaches the worker */
        uint8_t ks[64] = "HECKKS\r\n";
        ks[56] = HE_CKKS_PART_SECRET | HE_CKKS_PART_PUBLIC;
        const uint8_t *kp = ks;
        size_t kl = sizeof ks;
        CHECK(he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) < 0 && strstr(he_errmsg(), "secret key"),
              "secret key set: %s", he_errmsg());
        CHECK(opens == 0, "the worker saw a secret key set");
        /* a session through the front: its queries reach the worker that opened it */
        ks[56] = HE_CKKS_PART_PUBLIC;
        uint64_t sid = 0;
        if (he_serve_call(c, HE_SERVE_OPEN, 0, 1, &kp, &kl, &m, &rb) == 0) {
            sid = m.session;
            he_serve_msg_free(&m);
            he_free(rb);
        }
        CHECK(sid != 0 && opens == 1, "open: %s", he_errmsg());
        const uint8_t *q[2] = {(const uint8_t *)"x", (const uint8_t *)"yz"};
        size_t ql[2] = {1, 2};
        CHECK(he_serve_call(c, HE_SERVE_QUERY, sid, 2, q, ql, &m, &rb) == 0 && m.nparts == 2 && m.len[0] == 2 &&
                  memcmp(m.part[0], "yz", 2) == 0,
              "query: %s", he_errmsg());
        he_serve_msg_free(&m);
        he_free(rb);
        CHECK(he_serve_call(c, HE_SERVE_QUERY, sid ^ 1, 2, q, ql, &m, &rb) < 0 && strstr(he_errmsg(), "no such session"),
              "a wrong session id: %s", he_errmsg());
        CHECK(he_serve_call(c, HE_SERVE_CLOSE, sid, 0, NULL, NULL, &m, &rb) == 0, "close: %s", he_errmsg());
        he_serve_msg_free(&m);
        he_free(rb);
        CHECK(closes == 1, "the worker closed %d sessions", closes);
        CHECK(he_serve_call(c, HE_SERVE_QUERY, sid, 2, q, ql, &m, &rb) < 0 && strstr(he_errmsg(), "no such session"),
              "a closed session: %s", he_errmsg());
    }
    /* the front stops its worker */
    fa.stop = 1;
    pthread_join(ft, NULL);
    CHECK(fa.rc == 0, "front: %s", he_errmsg());
    if (w.s) {
        pthread_join(wt, NULL);
        CHECK(w.rc == 0, "worker: %s", he_errmsg());
        he_serve_server_free(w.s);
    }
    he_serve_client_free(c);
    he_serve_front_free(fa.f);
}

int main(void)
{
    if (he_init() < 0) return 1;
    if (!check_tmpdir(dir, sizeof dir, "he_serve")) return 1;
    RUN(decode_roundtrip);
    RUN(decode_fuzz);
    RUN(server_refuses_and_serves);
    RUN(link_decode_fuzz);
    RUN(server_sees_no_secret);
    RUN(front_and_worker);
    return 0;
}
