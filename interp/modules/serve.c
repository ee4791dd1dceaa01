/*
** modules/serve.c: `import serve`: encrypted prediction as a service (the
** HE service; the protocol and transport are runtime/serve/serve.h).
**
** The server hosts a model, a function fn(keys, inputs) from a ckks batch
** to a ckks batch (for example cryptonets.encrypted_logits), and never
** holds a secret key: each client sends its evaluation keys once per
** session, then its ciphertexts, and decrypts the outputs itself.
**
**   let m = serve.model(ctx, model_fn, 784, 10)    # context, fn, inputs, outputs [, steps]
**   serve.limit(m, "max_sessions", 16)             # max_mb, max_sessions, idle_s, max_parts
**   serve.allow(m, "clients.txt")                  # only these client keys (Z85 a line)
**   serve.he_server("tcp://127.0.0.1:5555", "server.key", m)   # until SIGTERM; requests answered
**
**   let c = serve.connect("tcp://127.0.0.1:5555", server_public_key)
**   print(serve.params(c))                         # what the model needs
**   let ctx = serve.context(c)                     # the server's parameters, checked
**   let keys = ckks.keygen(ctx, serve.steps(c))
**   let s = serve.open_session(c, keys)            # sends the keys without the secret one
**   let out = serve.query(s, X.T)                  # X.T's rows encrypted here with the secret key (seeded)
**   serve.close(s)
**
** Several workers behind one address (runtime/serve/front.c):
**   serve.he_server(address, "front.key", serve.front(worker_address, "workers.txt"))
**   serve.worker(worker_address, front_public_key, "worker.key", m)   # each worker, here or elsewhere
**
** Key files are those of smpc.keygen (serve.public_key reads the public
** key of one). SIGTERM while serving finishes the request in flight, closes
** every session and returns from he_server.
*/
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks_values.h"
#include "interp.h"
#include "modutil.h"
#include "serve/serve.h"
#include "smpc/smpc.h"

#define MODEL_NAME "serve_model"
#define CONN_NAME "serve_conn"
#define SESSION_NAME "serve_session"
#define CTX_NAME "ckks_context"
#define KEYS_NAME "ckks_keys"
#define BATCH_NAME "ckks_batch"

/* --- the model --------------------------------------------------------------------------------- */
typedef struct smodel {
    he_obj obj;
    he_value ctx, fn;  /* retained */
    int64_t inputs, outputs;
    he_tensor *steps;  /* retained, or NULL */
    he_serve_limits lim;
    char *allow;       /* the allow file, or NULL */
    /* a front (serve.front): no model here, its workers' address and key list */
    char *workers_at, *workers_file;
} smodel;

static void smodel_free(he_obj *o)
{
    smodel *m = (smodel *)o;
    he_release(m->ctx);
    he_release(m->fn);
    if (m->steps) he_release(he_objv(&m->steps->obj));
    free(m->allow);
    free(m->workers_at);
    free(m->workers_file);
    free(m);
}

static int smodel_repr(const he_obj *o, he_buf *b)
{
    const smodel *m = (const smodel *)o;
    if (m->workers_at) return he_buf_printf(b, "<serve front: workers at %s>", m->workers_at);
    return he_buf_printf(b, "<serve model: %lld ciphertexts in, %lld out>", (long long)m->inputs, (long long)m->outputs);
}

static const he_type smodel_type = {.name = MODEL_NAME, .free = smodel_free, .repr = smodel_repr};

/* --- the client's connection and session --------------------------------------------------------------- */
typedef struct sconn {
    he_obj obj;
    he_serve_client *cl;
    char *params; /* the server's description, once asked */
} sconn;

static void sconn_free(he_obj *o)
{
    sconn *c = (sconn *)o;
    he_serve_client_free(c->cl);
    free(c->params);
    free(c);
}

static int sconn_repr(const he_obj *o, he_buf *b)
{
    (void)o;
    return he_buf_puts(b, "<serve connection>");
}

static const he_type sconn_type = {.name = CONN_NAME, .free = sconn_free, .repr = sconn_repr};

typedef struct ssession {
    he_obj obj;
    sconn *conn;    /* retained */
    he_value keys;  /* retained: the client's keys (outputs are read under them) */
    uint64_t id;    /* 0 once closed */
} ssession;

static void ssession_close(ssession *s)
{
    if (!s->id) return;
    he_serve_msg r;
    uint8_t *buf = NULL;
    /* a server gone (stopped) is not waited for long: it freed the keys */
    int old = he_serve_client_timeout(s->conn->cl, 2000);
    if (he_serve_call(s->conn->cl, HE_SERVE_CLOSE, s->id, 0, NULL, NULL, &r, &buf) == 0) he_serve_msg_free(&r);
    he_free(buf);
    he_serve_client_timeout(s->conn->cl, old);
    s->id = 0;
}

static void ssession_free(he_obj *o)
{
    ssession *s = (ssession *)o;
    ssession_close(s);
    he_release(he_objv(&s->conn->obj));
    he_release(s->keys);
    free(s);
}

static int ssession_repr(const he_obj *o, he_buf *b)
{
    return he_buf_printf(b, "<serve session%s>", ((const ssession *)o)->id ? "" : " (closed)");
}

static const he_type ssession_type = {.name = SESSION_NAME, .free = ssession_free, .repr = ssession_repr};

/* --- helpers ---------------------------------------------------------------------------------------- */
static int want_str(he_value v, const char *fn, const char *what, const char **s)
{
    if (!he_is(v, &he_str_type)) return he_error("serve.%s: %s must be a str, got %s", fn, what, he_typename(v));
    *s = he_as_str(v)->data;
    return 0;
}

static int want_int(he_value v, const char *fn, const char *what, int64_t lo, int64_t hi, int64_t *x)
{
    if (v.tag != HE_INT) return he_error("serve.%s: %s must be an int, got %s", fn, what, he_typename(v));
    if (v.as.i < lo || v.as.i > hi)
        return he_error("serve.%s: %s must be in [%lld, %lld], not %lld", fn, what, (long long)lo, (long long)hi,
                        (long long)v.as.i);
    *x = v.as.i;
    return 0;
}

static int put_str(const char *s, he_value *out)
{
    he_str *r = he_str_new(s, strlen(s));
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* --- the server --------------------------------------------------------------------------------------- */
static int f_model(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    ckks_ctx_info ci;
    int64_t nin, nout;
    if (ckks_value_context_info(a[0], &ci) < 0) return he_error("serve.model: expected a ckks context, got %s", he_typename(a[0]));
    if (!he_is(a[1], &closure_type) && !he_is(a[1], &native_type))
        return he_error("serve.model: the model must be a function fn(keys, inputs), got %s", he_typename(a[1]));
    if (want_int(a[2], "model", "the number of input ciphertexts", 1, 65536, &nin) < 0 ||
        want_int(a[3], "model", "the number of output ciphertexts", 1, 65536, &nout) < 0)
        return -1;
    he_tensor *steps = NULL;
    if (n > 4) {
        if (!he_is_tensor(a[4]) || he_as_tensor(a[4])->dtype != HE_DT_INT || he_as_tensor(a[4])->ndim != 1)
            return he_error("serve.model: the rotation steps must be a 1-D int tensor, got %s", he_typename(a[4]));
        steps = he_as_tensor(a[4]);
        if (steps->size > 4096) return he_error("serve.model: more than 4096 rotation steps");
    }
    smodel *m = he_calloc(1, sizeof *m);
    if (!m) return -1;
    he_obj_init(&m->obj, &smodel_type);
    m->ctx = a[0];
    m->fn = a[1];
    he_retain(m->ctx);
    he_retain(m->fn);
    m->inputs = nin;
    m->outputs = nout;
    if (steps) {
        m->steps = steps;
        steps->obj.rc++;
    }
    he_serve_limits_default(&m->lim);
    if ((uint64_t)nin + 16 > m->lim.max_parts) m->lim.max_parts = (uint32_t)nin + 16;
    *out = he_objv(&m->obj);
    return 0;
}

/* front(worker_address, workers_file): several workers behind one address. */
static int f_front(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *at = NULL, *file = NULL;
    if (want_str(a[0], "front", "the workers' address", &at) < 0 ||
        want_str(a[1], "front", "the file of the workers' keys", &file) < 0)
        return -1;
    smodel *m = he_calloc(1, sizeof *m);
    if (!m) return -1;
    he_obj_init(&m->obj, &smodel_type);
    m->ctx = m->fn = he_nil();
    he_serve_limits_default(&m->lim);
    m->workers_at = strdup(at);
    m->workers_file = strdup(file);
    if (!m->workers_at || !m->workers_file) {
        smodel_free(&m->obj);
        return he_error("out of memory");
    }
    *out = he_objv(&m->obj);
    return 0;
}

static int f_limit(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    smodel *m = mod_want(a[0], &smodel_type, "serve", "limit", "a serve model");
    const char *name = NULL;
    int64_t v;
    if (!m || want_str(a[1], "limit", "the limit's name", &name) < 0) return -1;
    if (strcmp(name, "max_mb") == 0) {
        if (want_int(a[2], "limit", "max_mb", 1, 1 << 20, &v) < 0) return -1;
        m->lim.max_msg = (size_t)v << 20;
    } else if (strcmp(name, "max_sessions") == 0) {
        if (want_int(a[2], "limit", "max_sessions", 1, 1 << 16, &v) < 0) return -1;
        m->lim.max_sessions = (unsigned)v;
    } else if (strcmp(name, "idle_s") == 0) {
        if (want_int(a[2], "limit", "idle_s", 1, 1 << 24, &v) < 0) return -1;
        m->lim.idle_s = (unsigned)v;
    } else if (strcmp(name, "max_parts") == 0) {
        if (want_int(a[2], "limit", "max_parts", 1, 1 << 24, &v) < 0) return -1;
        m->lim.max_parts = (uint32_t)v;
    } else {
        return he_error("serve.limit: no limit '%s' (max_mb, max_sessions, idle_s, max_parts)", name);
    }
    return 0;
}

static int f_allow(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    smodel *m = mod_want(a[0], &smodel_type, "serve", "allow", "a serve model");
    const char *path = NULL;
    if (!m || want_str(a[1], "allow", "the allow file", &path) < 0) return -1;
    char *p = strdup(path);
    if (!p) return he_error("out of memory");
    free(m->allow);
    m->allow = p;
    return 0;
}

/* The model's description (serve.h: the PARAMS reply): one "name value" a line. */
static int describe(const smodel *m, he_buf *b)
{
    ckks_ctx_info ci;
    if (ckks_value_context_info(m->ctx, &ci) < 0) return -1;
    const char *name = he_is(m->fn, &closure_type) ? ((closure *)m->fn.as.o)->p->name : "native";
    int rc = he_buf_printf(b, "he-serve %d\nmodel %s\nscheme ckks\nN %u\nslots %u\nscale_bits %d\ndepth %d\n"
                              "insecure %d\nfingerprint ", HE_SERVE_VERSION, name ? name : "?", ci.n, ci.n / 2,
                           ci.sbits, ci.depth, ci.insecure ? 1 : 0);
    for (int i = 0; i < 32 && rc == 0; i++) rc = he_buf_printf(b, "%02x", ci.fingerprint[i]);
    if (rc == 0) rc = he_buf_puts(b, "\nsteps");
    for (int64_t i = 0; m->steps && i < m->steps->size && rc == 0; i++)
        rc = he_buf_printf(b, " %lld", (long long)m->steps->data.i[i]);
    if (rc == 0)
        rc = he_buf_printf(b, "\ninputs %lld\noutputs %lld\nlayout ciphertext i of the inputs holds feature i of "
                              "up to %u samples, one a slot; output j holds output j of each\n"
                              "max_mb %zu\nmax_sessions %u\nidle_s %u\n",
                           (long long)m->inputs, (long long)m->outputs, ci.n / 2, m->lim.max_msg >> 20,
                           m->lim.max_sessions, m->lim.idle_s);
    return rc;
}

typedef struct serving {
    he_vm *vm;
    smodel *m;
} serving;

/* A session's state: its key set (a ckks keys value, never a secret key). */
static void *on_open(void *ud, const uint8_t *keys, size_t len)
{
    serving *sv = ud;
    he_value k;
    if (ckks_value_keys_from(sv->m->ctx, keys, len, &k) < 0) return NULL;
    unsigned parts = 0;
    (void)ckks_value_keys_parts(k, &parts);
    if (parts & HE_CKKS_PART_SECRET) { /* serve.c refuses it unread; never kept */
        he_release(k);
        he_error("serve: the key set holds a secret key");
        return NULL;
    }
    if (!(parts & HE_CKKS_PART_PUBLIC) || !(parts & HE_CKKS_PART_RELIN)) {
        he_release(k);
        he_error("serve: the key set needs the public and the relinearization key");
        return NULL;
    }
    he_value *st = malloc(sizeof *st);
    if (!st) {
        he_release(k);
        he_error("out of memory");
        return NULL;
    }
    *st = k;
    return st;
}

static void on_close(void *ud, void *session)
{
    (void)ud;
    he_value *k = session;
    he_release(*k); /* the key set is freed with its last reference */
    free(k);
}

static int on_query(void *ud, void *session, uint32_t nin, const uint8_t *const *in, const size_t *inlen,
                    uint32_t *nout, uint8_t ***out, size_t **outlen)
{
    serving *sv = ud;
    he_value keys = *(he_value *)session;
    if ((int64_t)nin != sv->m->inputs)
        return he_error("serve: the model takes %lld input ciphertexts, got %u", (long long)sv->m->inputs, nin);
    he_value batch, res = he_nil();
    if (ckks_value_batch(&batch) < 0) return -1;
    int rc = 0;
    for (uint32_t i = 0; i < nin && rc == 0; i++) {
        char what[48];
        snprintf(what, sizeof what, "serve: input %u", i);
        he_value c;
        rc = ckks_value_ct_from(keys, in[i], inlen[i], what, &c);
        if (rc == 0) {
            rc = ckks_value_batch_push(batch, c);
            he_release(c);
        }
    }
    he_value args[2] = {keys, batch};
    if (rc == 0) rc = he_vm_call(sv->vm, sv->m->fn, args, 2, &res);
    he_release(batch);
    int64_t m = 0;
    if (rc == 0 && ckks_value_batch_len(res, &m) < 0)
        rc = he_error("serve: the model returned %s, not a ckks batch", he_typename(res));
    if (rc == 0 && m != sv->m->outputs)
        rc = he_error("serve: the model returned %lld ciphertexts, not the %lld it declares", (long long)m,
                      (long long)sv->m->outputs);
    uint8_t **o = NULL;
    size_t *ol = NULL;
    if (rc == 0) {
        o = he_calloc((size_t)m, sizeof *o);
        ol = he_calloc((size_t)m, sizeof *ol);
        if (!o || !ol) rc = -1;
    }
    for (int64_t i = 0; i < m && rc == 0; i++) {
        he_value c;
        rc = ckks_value_batch_get(res, i, &c);
        if (rc == 0) {
            rc = ckks_value_ct_bytes(c, &o[i], &ol[i]);
            he_release(c);
        }
    }
    he_release(res);
    if (rc < 0) {
        for (int64_t i = 0; o && i < m; i++) he_free(o[i]);
        he_free(o);
        he_free(ol);
        return -1;
    }
    *nout = (uint32_t)m;
    *out = o;
    *outlen = ol;
    return 0;
}

static volatile sig_atomic_t stop_serving;
static void on_term(int sig)
{
    (void)sig;
    stop_serving = 1;
}

/* Serves m with s (a server or a worker) until SIGTERM, or that many
** requests; the number answered. */
static int serve_with(he_vm *vm, smodel *m, he_serve_server *s, const char *desc, int64_t most, he_value *out)
{
    serving sv = {vm, m};
    he_serve_handler h = {.ud = &sv, .params = desc, .open = on_open, .query = on_query, .close = on_close};
    /* SIGTERM: finish the request in flight, then stop (the VM's handler
    ** would abort it); restored afterwards */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    stop_serving = 0;
    sigaction(SIGTERM, &sa, &old);
    int rc = he_serve_run(s, &h, (uint64_t)most, &stop_serving);
    sigaction(SIGTERM, &old, NULL);
    he_serve_stats st;
    he_serve_server_stats(s, &st);
    he_serve_server_free(s);
    if (rc < 0) return -1;
    *out = he_int((int64_t)st.answered);
    return 0;
}

/* A front: its workers serve; it routes. */
static int run_front(smodel *m, const char *addr, const char *key, int64_t most, he_value *out)
{
    he_serve_front *f = he_serve_front_new(addr, m->workers_at, key, m->allow, m->workers_file, &m->lim);
    if (!f) return -1;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    stop_serving = 0;
    sigaction(SIGTERM, &sa, &old);
    int rc = he_serve_front_run(f, (uint64_t)most, &stop_serving);
    sigaction(SIGTERM, &old, NULL);
    he_serve_front_stats st;
    he_serve_front_stats_get(f, &st);
    he_serve_front_free(f);
    if (rc < 0) return -1;
    *out = he_int((int64_t)st.answered);
    return 0;
}

/* he_server(address, key_file, model [, requests]): serves until SIGTERM (or
** that many requests); the number of requests answered. A front
** (serve.front) routes to its workers instead. */
static int f_he_server(he_vm *vm, he_value *a, int n, he_value *out)
{
    const char *addr = NULL, *key = NULL;
    int64_t most = 0;
    if (want_str(a[0], "he_server", "the address", &addr) < 0 || want_str(a[1], "he_server", "the key file", &key) < 0)
        return -1;
    smodel *m = mod_want(a[2], &smodel_type, "serve", "he_server", "a serve model (serve.model)");
    if (!m || (n > 3 && want_int(a[3], "he_server", "the number of requests", 0, INT64_MAX, &most) < 0)) return -1;
    if (m->workers_at) return run_front(m, addr, key, most, out);
    he_buf desc;
    he_buf_init(&desc);
    if (describe(m, &desc) < 0) {
        he_buf_free(&desc);
        return -1;
    }
    he_serve_server *s = he_serve_server_new(addr, key, m->allow, &m->lim);
    int rc = s ? serve_with(vm, m, s, desc.data, most, out) : -1;
    he_buf_free(&desc);
    return rc;
}

/* worker(front_address, front_public_key, key_file, model [, requests]):
** serves the model for the front at front_address (its workers' address). */
static int f_worker(he_vm *vm, he_value *a, int n, he_value *out)
{
    const char *addr = NULL, *pub = NULL, *key = NULL;
    int64_t most = 0;
    if (want_str(a[0], "worker", "the front's workers address", &addr) < 0 ||
        want_str(a[1], "worker", "the front's public key", &pub) < 0 ||
        want_str(a[2], "worker", "the worker's key file", &key) < 0)
        return -1;
    smodel *m = mod_want(a[3], &smodel_type, "serve", "worker", "a serve model (serve.model)");
    if (!m || (n > 4 && want_int(a[4], "worker", "the number of requests", 0, INT64_MAX, &most) < 0)) return -1;
    if (m->workers_at) return he_error("serve.worker: a front is not a model to serve");
    he_buf desc;
    he_buf_init(&desc);
    if (describe(m, &desc) < 0) {
        he_buf_free(&desc);
        return -1;
    }
    he_serve_server *s = he_serve_worker_new(addr, pub, key, &m->lim);
    int rc = s ? serve_with(vm, m, s, desc.data, most, out) : -1;
    he_buf_free(&desc);
    return rc;
}

static int f_public_key(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *path = NULL;
    char sec[HE_SMPC_KEY_Z85 + 1], pub[HE_SMPC_KEY_Z85 + 1];
    if (want_str(a[0], "public_key", "the key file", &path) < 0 || he_smpc_key_read(path, sec, pub) < 0) return -1;
    he_memzero(sec, sizeof sec);
    return put_str(pub, out);
}

/* --- the client ------------------------------------------------------------------------------------------- */
static int f_connect(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    const char *addr = NULL, *pub = NULL;
    int64_t secs = 120;
    if (want_str(a[0], "connect", "the address", &addr) < 0 ||
        want_str(a[1], "connect", "the server's public key", &pub) < 0 ||
        (n > 2 && want_int(a[2], "connect", "the timeout (seconds)", 1, 86400, &secs) < 0))
        return -1;
    sconn *c = he_calloc(1, sizeof *c);
    if (!c) return -1;
    he_obj_init(&c->obj, &sconn_type);
    c->cl = he_serve_client_new(addr, pub, NULL, (int)secs * 1000);
    if (!c->cl) {
        free(c);
        return -1;
    }
    *out = he_objv(&c->obj);
    return 0;
}

static sconn *want_conn(he_value v, const char *fn)
{
    return mod_want(v, &sconn_type, "serve", fn, "a serve connection (serve.connect)");
}

/* The server's description (asked once). */
static const char *params_of(sconn *c)
{
    if (c->params) return c->params;
    he_serve_msg r;
    uint8_t *buf = NULL;
    if (he_serve_call(c->cl, HE_SERVE_PARAMS, 0, 0, NULL, NULL, &r, &buf) < 0) return NULL;
    if (r.nparts == 1 && r.len[0] < 65536 && !memchr(r.part[0], 0, r.len[0])) c->params = strndup((const char *)r.part[0], r.len[0]);
    if (!c->params) he_error("serve: the server's description is malformed");
    he_serve_msg_free(&r);
    he_free(buf);
    return c->params;
}

/* The value of line `name` of the description, or NULL. */
static const char *field(const char *desc, const char *name, char *val, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = desc; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '\n')) {
            const char *v = p[nl] == ' ' ? p + nl + 1 : p + nl;
            size_t l = strcspn(v, "\n");
            if (l >= n) l = n - 1;
            memcpy(val, v, l);
            val[l] = 0;
            return val;
        }
    return NULL;
}

static int f_params(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sconn *c = want_conn(a[0], "params");
    const char *d = c ? params_of(c) : NULL;
    return d ? put_str(d, out) : -1;
}

/* The context the server describes, made here and checked against its fingerprint. */
static int f_context(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sconn *c = want_conn(a[0], "context");
    const char *d = c ? params_of(c) : NULL;
    if (!d) return -1;
    char v[5][128];
    if (!field(d, "N", v[0], 128) || !field(d, "scale_bits", v[1], 128) || !field(d, "depth", v[2], 128) ||
        !field(d, "insecure", v[3], 128) || !field(d, "fingerprint", v[4], 128) || !field(d, "scheme", v[3] + 64, 64))
        return he_error("serve.context: the server's description lacks the CKKS parameters");
    if (strcmp(v[3] + 64, "ckks") != 0) return he_error("serve.context: the server's scheme is %s, not ckks", v[3] + 64);
    ckks_ctx_info ci = {.n = (unsigned)strtoul(v[0], NULL, 10),
                        .sbits = atoi(v[1]),
                        .depth = atoi(v[2]),
                        .insecure = atoi(v[3]) != 0};
    he_value ctx;
    if (ckks_value_context(&ci, &ctx) < 0) return he_error("serve.context: the server's parameters: %s", he_errmsg());
    ckks_ctx_info got;
    char hex[65];
    (void)ckks_value_context_info(ctx, &got);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", got.fingerprint[i]);
    if (strcmp(hex, v[4]) != 0) {
        he_release(ctx);
        return he_error("serve.context: the server's primes (fingerprint %.16s...) are not those of N=%u, 2^%d, "
                        "depth %d here (%.16s...)", v[4], ci.n, ci.sbits, ci.depth, hex);
    }
    *out = ctx;
    return 0;
}

static int f_steps(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sconn *c = want_conn(a[0], "steps");
    const char *d = c ? params_of(c) : NULL;
    char v[4096 * 8];
    if (!d) return -1;
    if (!field(d, "steps", v, sizeof v)) return he_error("serve.steps: the server's description has no steps");
    int64_t m = 0;
    for (char *p = v; *p;) {
        strtol(p, &p, 10);
        m++;
        while (*p == ' ') p++;
    }
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &m);
    if (!t) return -1;
    int64_t i = 0;
    for (char *p = v; *p && i < m;) {
        t->data.i[i++] = strtol(p, &p, 10);
        while (*p == ' ') p++;
    }
    *out = he_objv(&t->obj);
    return 0;
}

static int f_open_session(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sconn *c = want_conn(a[0], "open_session");
    unsigned parts = 0;
    if (!c) return -1;
    if (ckks_value_keys_parts(a[1], &parts) < 0) return he_error("serve.open_session: expected ckks keys, got %s", he_typename(a[1]));
    uint8_t *kb = NULL;
    size_t kl = 0;
    /* the evaluation keys only: the secret key never leaves the client */
    if (ckks_value_keys_bytes(a[1], parts & ~(unsigned)HE_CKKS_PART_SECRET, &kb, &kl) < 0) return -1;
    he_serve_msg r;
    uint8_t *buf = NULL;
    const uint8_t *p = kb;
    int rc = he_serve_call(c->cl, HE_SERVE_OPEN, 0, 1, &p, &kl, &r, &buf);
    he_free(kb);
    if (rc < 0) return -1;
    uint64_t id = r.session;
    he_serve_msg_free(&r);
    he_free(buf);
    if (!id) return he_error("serve.open_session: the server gave no session");
    ssession *s = he_calloc(1, sizeof *s);
    if (!s) return -1;
    he_obj_init(&s->obj, &ssession_type);
    s->conn = c;
    c->obj.rc++;
    s->keys = a[1];
    he_retain(s->keys);
    s->id = id;
    *out = he_objv(&s->obj);
    return 0;
}

static int f_query(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ssession *s = mod_want(a[0], &ssession_type, "serve", "query", "a serve session (serve.open_session)");
    int64_t m = 0;
    if (!s) return -1;
    if (!s->id) return he_error("serve.query: the session is closed");
    /* a tensor: its rows encrypted here with the secret key, seed-compressed */
    he_value enc = he_nil(), b = a[1];
    if (he_is_tensor(b)) {
        if (he_as_tensor(a[1])->ndim != 2)
            return he_error("serve.query: expected a ckks batch or a 2-D tensor (a row per input), got %s",
                            he_typename(a[1]));
        if (ckks_value_encrypt_rows(s->keys, b, true, &enc) < 0) return -1;
        b = enc;
    }
    if (ckks_value_batch_len(b, &m) < 0) return he_error("serve.query: expected a ckks batch, got %s", he_typename(b));
    uint8_t **in = he_calloc((size_t)(m ? m : 1), sizeof *in);
    size_t *il = he_calloc((size_t)(m ? m : 1), sizeof *il);
    int rc = in && il ? 0 : -1;
    for (int64_t i = 0; i < m && rc == 0; i++) {
        he_value c;
        rc = ckks_value_batch_get(b, i, &c);
        if (rc == 0) {
            rc = ckks_value_ct_bytes(c, &in[i], &il[i]);
            he_release(c);
        }
    }
    he_serve_msg r;
    uint8_t *buf = NULL;
    if (rc == 0) rc = he_serve_call(s->conn->cl, HE_SERVE_QUERY, s->id, (uint32_t)m, (const uint8_t *const *)in, il, &r, &buf);
    for (int64_t i = 0; in && i < m; i++) he_free(in[i]);
    he_free(in);
    he_free(il);
    he_release(enc);
    if (rc < 0) return -1;
    he_value res;
    rc = ckks_value_batch(&res);
    for (uint32_t i = 0; i < r.nparts && rc == 0; i++) {
        char what[48];
        snprintf(what, sizeof what, "serve.query: output %u", i);
        he_value c;
        rc = ckks_value_ct_from(s->keys, r.part[i], r.len[i], what, &c);
        if (rc == 0) {
            rc = ckks_value_batch_push(res, c);
            he_release(c);
        }
    }
    he_serve_msg_free(&r);
    he_free(buf);
    if (rc < 0) {
        he_release(res);
        return -1;
    }
    *out = res;
    return 0;
}

/* encrypt(session, X): X's rows under the session's keys, with the secret
** key (seed-compressed): what query(session, X) sends, made once. */
static int f_encrypt(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ssession *s = mod_want(a[0], &ssession_type, "serve", "encrypt", "a serve session (serve.open_session)");
    if (!s) return -1;
    if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->ndim != 2)
        return he_error("serve.encrypt: expected a 2-D tensor (a row per input), got %s", he_typename(a[1]));
    return ckks_value_encrypt_rows(s->keys, a[1], true, out);
}

static int f_close(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    ssession *s = mod_want(a[0], &ssession_type, "serve", "close", "a serve session");
    if (!s) return -1;
    ssession_close(s);
    return 0;
}

/* bytes(conn): [bytes sent, bytes received] so far. */
static int f_bytes(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sconn *c = want_conn(a[0], "bytes");
    if (!c) return -1;
    uint64_t sent, recv;
    he_serve_client_bytes(c->cl, &sent, &recv);
    return mod_int_pair((int64_t)sent, (int64_t)recv, out);
}

/* --- static rules --------------------------------------------------------------------------------------------- */
#define NEED(i, ok, what) mod_need(c, a[i], t[i], (ok), what)

static type *r_model(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, ty_is_obj(t[0], CTX_NAME), "a ckks context");
    NEED(1, t[1]->kind == T_FN, "a function fn(keys, inputs)");
    NEED(2, t[2]->kind == T_INT, "the number of input ciphertexts (int)");
    NEED(3, t[3]->kind == T_INT, "the number of output ciphertexts (int)");
    if (n > 4) NEED(4, t[4]->kind == T_TENSOR && (t[4]->elem == T_INT) && (t[4]->rank == 1 || t[4]->rank < 0), "rotation steps (int[?])");
    return ty_obj(MODEL_NAME);
}

static type *r_limit(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], MODEL_NAME), "a serve model");
    NEED(1, t[1]->kind == T_STR, "the limit's name (str)");
    NEED(2, t[2]->kind == T_INT, "the limit (int)");
    return ty_void;
}

static type *r_allow(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], MODEL_NAME), "a serve model");
    NEED(1, t[1]->kind == T_STR, "the allow file (str)");
    return ty_void;
}

static type *r_he_server(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, t[0]->kind == T_STR, "the address (str)");
    NEED(1, t[1]->kind == T_STR, "the key file (str)");
    NEED(2, ty_is_obj(t[2], MODEL_NAME), "a serve model");
    if (n > 3) NEED(3, t[3]->kind == T_INT, "the number of requests (int)");
    return ty_int;
}

static type *r_front(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, t[0]->kind == T_STR, "the workers' address (str)");
    NEED(1, t[1]->kind == T_STR, "the file of the workers' keys (str)");
    return ty_obj(MODEL_NAME);
}

static type *r_worker(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, t[0]->kind == T_STR, "the front's workers address (str)");
    NEED(1, t[1]->kind == T_STR, "the front's public key (str)");
    NEED(2, t[2]->kind == T_STR, "the worker's key file (str)");
    NEED(3, ty_is_obj(t[3], MODEL_NAME), "a serve model");
    if (n > 4) NEED(4, t[4]->kind == T_INT, "the number of requests (int)");
    return ty_int;
}

static type *r_public_key(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, t[0]->kind == T_STR, "the key file (str)");
    return ty_str;
}

static type *r_connect(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, t[0]->kind == T_STR, "the address (str)");
    NEED(1, t[1]->kind == T_STR, "the server's public key (str)");
    if (n > 2) NEED(2, t[2]->kind == T_INT, "the timeout in seconds (int)");
    return ty_obj(CONN_NAME);
}

static type *r_conn(checker *c, node **a, type **t, type *ret)
{
    NEED(0, ty_is_obj(t[0], CONN_NAME), "a serve connection");
    return ret;
}
static type *r_params(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_conn(c, a, t, ty_str);
}
static type *r_context(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_conn(c, a, t, ty_obj(CTX_NAME));
}
static type *r_steps(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_conn(c, a, t, ty_tensor(T_INT, 0, 1, NULL));
}
static type *r_bytes(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_conn(c, a, t, ty_tensor(T_INT, 0, 1, NULL));
}

static type *r_open_session(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], CONN_NAME), "a serve connection");
    NEED(1, ty_is_obj(t[1], KEYS_NAME), "ckks keys");
    return ty_obj(SESSION_NAME);
}

static type *r_query(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], SESSION_NAME), "a serve session");
    NEED(1, ty_is_obj(t[1], BATCH_NAME) || (t[1]->kind == T_TENSOR && (t[1]->rank == 2 || t[1]->rank < 0)),
         "a ckks batch, or a 2-D tensor (a row per input, encrypted with the secret key)");
    return ty_obj(BATCH_NAME);
}

static type *r_encrypt(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], SESSION_NAME), "a serve session");
    NEED(1, t[1]->kind == T_TENSOR && (t[1]->rank == 2 || t[1]->rank < 0), "a 2-D tensor (a row per input)");
    return ty_obj(BATCH_NAME);
}

static type *r_close(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], SESSION_NAME), "a serve session");
    return ty_void;
}

static const builtin fns[] = {
    {"model", NULL, 4, 5, f_model, r_model,
     "model(ctx, fn, inputs, outputs [, steps]): a model to serve: fn(keys, batch) -> batch, on ctx's parameters"},
    {"limit", NULL, 3, 3, f_limit, r_limit, "limit(model, name, value): max_mb, max_sessions, idle_s or max_parts"},
    {"allow", NULL, 2, 2, f_allow, r_allow, "allow(model, path): accept only the client keys listed (Z85, one a line)"},
    {"he_server", NULL, 3, 4, f_he_server, r_he_server,
     "he_server(address, key_file, model [, requests]): serve until SIGTERM; the requests answered"},
    {"front", NULL, 2, 2, f_front, r_front,
     "front(worker_address, workers_file): several workers behind one address (serve it with he_server)"},
    {"worker", NULL, 4, 5, f_worker, r_worker,
     "worker(front_address, front_public_key, key_file, model [, requests]): serve a model for a front"},
    {"public_key", NULL, 1, 1, f_public_key, r_public_key, "public_key(key_file): the public key of a key file (Z85)"},
    {"connect", NULL, 2, 3, f_connect, r_connect,
     "connect(address, server_public_key [, timeout_s]): a connection to a server"},
    {"params", NULL, 1, 1, f_params, r_params, "params(conn): the server's description of its model"},
    {"context", NULL, 1, 1, f_context, r_context, "context(conn): the server's CKKS context, checked"},
    {"steps", NULL, 1, 1, f_steps, r_steps, "steps(conn): the rotation steps the model needs keys for"},
    {"open_session", NULL, 2, 2, f_open_session, r_open_session,
     "open_session(conn, keys): sends the evaluation keys (never the secret key)"},
    {"query", NULL, 2, 2, f_query, r_query,
     "query(session, batch or X): the model's outputs, encrypted; X's rows are encrypted with the secret key"},
    {"encrypt", NULL, 2, 2, f_encrypt, r_encrypt,
     "encrypt(session, X): X's rows encrypted with the secret key, seed-compressed (as query(session, X) sends them)"},
    {"close", NULL, 1, 1, f_close, r_close, "close(session): the server frees the session's keys"},
    {"bytes", NULL, 1, 1, f_bytes, r_bytes, "bytes(conn): [bytes sent, bytes received]"},
};

const native_module he_mod_serve = {
    .name = "serve",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
