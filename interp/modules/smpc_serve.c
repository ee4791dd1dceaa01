/*
** modules/smpc_serve.c: `import smpc_serve`: the SMPC service (TF-Encrypted's
** shape; runtime/smpc/serve.h). A model owner deals its weights' shares to
** the parties of a cluster and goes away; the parties serve clients that
** share their inputs into the cluster and alone get the result.
**
**   # the owner, simulated (no network): one file per party, then gone
**   let ctx = smpc.context(2)
**   smpc_serve.deal(smpc.share(ctx, W, 0), "shares", "w")     # shares/party-I/w
**
**   # each party: he --party I --parties FILE server.he (the dealer too)
**   let ctx = smpc.context(2)
**   let W = smpc_serve.load(ctx, "shares/party-" + str(smpc.me(ctx)) + "/w")
**   fn model(x) { return smpc.relu(x @ W) }
**   smpc_serve.serve(ctx, model, [1, 4], "cluster")            # until SIGTERM
**
**   # a client, not a member of the cluster
**   let c = smpc_serve.connect("cluster")
**   print(smpc_serve.query(c, [[1.0, 2.0, 3.0, 4.0]]))          # the output
**   print(smpc_serve.query(c, [[1.0, 2.0, 3.0, 4.0]], "class")) # its argmax only
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "interp.h"
#include "modutil.h"
#include "smpc/serve.h"
#include "smpc_values.h"
#include "tensor.h"

#define CLIENT_NAME "smpc_client"

static int want_str(he_value v, const char *fn, const char *what, const char **s)
{
    if (!he_is(v, &he_str_type)) return he_error("smpc_serve.%s: %s must be a str, got %s", fn, what, he_typename(v));
    *s = he_as_str(v)->data;
    return 0;
}

static int want_int(he_value v, const char *fn, const char *what, int64_t lo, int64_t hi, int64_t *x)
{
    if (v.tag != HE_INT) return he_error("smpc_serve.%s: %s must be an int, got %s", fn, what, he_typename(v));
    if (v.as.i < lo || v.as.i > hi)
        return he_error("smpc_serve.%s: %s must be in [%lld, %lld], not %lld", fn, what, (long long)lo, (long long)hi,
                        (long long)v.as.i);
    *x = v.as.i;
    return 0;
}

/* --- the owner --------------------------------------------------------------------------------- */
/* deal(x, dir, name): DIR/party-I/NAME for every party I (folders 0700, files 0600). */
static int f_deal(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    const char *dir = NULL, *name = NULL;
    he_value cv;
    he_share *s = smpc_value_share(a[0], "deal", &cv);
    if (!s || want_str(a[1], "deal", "the folder", &dir) < 0 || want_str(a[2], "deal", "the name", &name) < 0) return -1;
    he_smpc_ctx *ctx = smpc_value_ctx(cv, "deal");
    if (he_smpc_mode_of(ctx) != HE_SMPC_SIM)
        return he_error("smpc_serve.deal: the owner deals from a simulated context (run it without --party)");
    if (strchr(name, '/')) return he_error("smpc_serve.deal: the name '%s' is a file name, not a path", name);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return he_error("smpc_serve.deal: cannot make %s: %s", dir, strerror(errno));
    for (int i = 0; i < he_smpc_nparties(ctx); i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/party-%d", dir, i);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return he_error("smpc_serve.deal: cannot make %s: %s", path, strerror(errno));
        snprintf(path, sizeof path, "%s/party-%d/%s", dir, i, name);
        if (he_share_save_party(s, i, path) < 0) return -1;
    }
    return 0;
}

/* load(ctx, path): this party's shares, as dealt. */
static int f_load(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *path = NULL;
    he_smpc_ctx *ctx = smpc_value_ctx(a[0], "load");
    if (!ctx || want_str(a[1], "load", "the path", &path) < 0) return -1;
    he_share *s = he_share_load(ctx, path);
    return s ? smpc_value_wrap(a[0], s, out) : -1;
}

/* --- the parties ------------------------------------------------------------------------------- */
typedef struct serving {
    he_vm *vm;
    he_value ctx, fn;
} serving;

static int run_model(void *ud, he_share *in, he_share *out)
{
    serving *sv = ud;
    he_value x, res = he_nil();
    if (smpc_value_wrap(sv->ctx, in, &x) < 0) return -1;
    int rc = he_vm_call(sv->vm, sv->fn, &x, 1, &res);
    he_release(x);
    if (rc < 0) return -1;
    he_value rc_ctx;
    he_share *r = smpc_value_share(res, "serve", &rc_ctx);
    if (!r) rc = he_error("smpc_serve.serve: the model returned %s, not a share", he_typename(res));
    else if (rc_ctx.as.o != sv->ctx.as.o) rc = he_error("smpc_serve.serve: the model returned a share of another context");
    else rc = he_share_copy(out, r);
    he_release(res);
    return rc;
}

static volatile sig_atomic_t stop_serving;
static void on_term(int sig)
{
    (void)sig;
    stop_serving = 1;
}

/* Options "name=value ...": max_mb, max_queue, wait_ms, expire_s, allow, key. */
static int options(const char *opt, he_smpc_serve_limits *lim, char *allow, char *key, size_t cap)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", opt);
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
        char *eq = strchr(w, '=');
        if (!eq) return he_error("smpc_serve.serve: option '%s' is not name=value", w);
        *eq = 0;
        const char *v = eq + 1;
        char *end;
        double d = strtod(v, &end);
        bool num = *v && !*end && d >= 0;
        if (strcmp(w, "allow") == 0) snprintf(allow, cap, "%s", v);
        else if (strcmp(w, "key") == 0) snprintf(key, cap, "%s", v);
        else if (!num) return he_error("smpc_serve.serve: option %s needs a number, not '%s'", w, v);
        else if (strcmp(w, "max_mb") == 0 && d > 0 && d <= 4096) lim->max_msg = (size_t)(d * (1 << 20));
        else if (strcmp(w, "max_queue") == 0 && d >= 1 && d <= 65536) lim->max_queue = (unsigned)d;
        else if (strcmp(w, "wait_ms") == 0 && d <= 3600000) lim->wait_ms = (unsigned)d;
        else if (strcmp(w, "expire_s") == 0 && d >= 1 && d <= 86400) lim->expire_s = (unsigned)d;
        else return he_error("smpc_serve.serve: unknown option or value out of range: %s=%s (max_mb, max_queue, "
                             "wait_ms, expire_s, allow, key)", w, v);
    }
    return 0;
}

/* serve(ctx, fn, shape, cluster [, requests [, options]]): requests answered. */
static int f_serve(he_vm *vm, he_value *a, int n, he_value *out)
{
    const char *cluster = NULL, *opt = "";
    int64_t most = 0;
    he_smpc_ctx *ctx = smpc_value_ctx(a[0], "serve");
    if (!ctx) return -1;
    if (!he_is(a[1], &closure_type) && !he_is(a[1], &native_type))
        return he_error("smpc_serve.serve: the model must be a function fn(x), got %s", he_typename(a[1]));
    if (!he_is_tensor(a[2]) || he_as_tensor(a[2])->dtype != HE_DT_INT || he_as_tensor(a[2])->ndim != 1)
        return he_error("smpc_serve.serve: the input shape must be a list of ints, got %s", he_typename(a[2]));
    if (want_str(a[3], "serve", "the cluster file", &cluster) < 0 ||
        (n > 4 && want_int(a[4], "serve", "the number of requests", 0, INT64_MAX, &most) < 0) ||
        (n > 5 && want_str(a[5], "serve", "the options", &opt) < 0))
        return -1;
    const he_tensor *sh = he_as_tensor(a[2]);
    if (sh->size < 1 || sh->size > HE_SMPC_MAXDIM) return he_error("smpc_serve.serve: the input has 1 to %d axes", HE_SMPC_MAXDIM);
    he_smpc_serve_limits lim;
    he_smpc_serve_limits_default(&lim);
    char allow[1024] = "", key[1024] = "";
    if (options(opt, &lim, allow, key, sizeof allow) < 0) return -1;
    if (!key[0]) smpc_value_key_file(vm, key, sizeof key);
    he_smpc_server *s = he_smpc_server_new(ctx, cluster, key, allow[0] ? allow : NULL, &lim, (int)sh->size, sh->data.i);
    if (!s) return smpc_value_fail(a[0]);
    serving sv = {vm, a[0], a[1]};
    /* SIGTERM: finish the request in flight, then stop (the VM's handler
    ** would abort it); restored afterwards */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    stop_serving = 0;
    sigaction(SIGTERM, &sa, &old);
    int rc = he_smpc_server_run(s, run_model, &sv, (uint64_t)most, &stop_serving);
    sigaction(SIGTERM, &old, NULL);
    he_smpc_serve_stats st;
    he_smpc_server_stats(s, &st);
    he_smpc_server_free(s);
    if (rc < 0) return smpc_value_fail(a[0]);
    *out = he_int((int64_t)st.answered);
    return 0;
}

/* local_cluster(dir): DIR/cluster for the parties of smpc.local_parties(dir, n), on free ports. */
static int f_local_cluster(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *dir = NULL;
    if (want_str(a[0], "local_cluster", "the folder", &dir) < 0) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/parties", dir);
    int np = he_smpc_party_file_check(path);
    if (np < 0) return -1;
    he_buf b;
    he_buf_init(&b);
    int rc = 0;
    for (int i = 0; i < np && rc == 0; i++) {
        char sec[HE_SMPC_KEY_Z85 + 1], pub[HE_SMPC_KEY_Z85 + 1];
        snprintf(path, sizeof path, "%s/party-%d.key", dir, i);
        rc = he_smpc_key_read(path, sec, pub);
        he_memzero(sec, sizeof sec);
        int port = rc == 0 ? smpc_value_free_port() : -1;
        if (rc == 0 && port < 0) rc = he_error("smpc_serve.local_cluster: no free port");
        if (rc == 0) rc = he_buf_printf(&b, "%d tcp://127.0.0.1:%d %s\n", i, port, pub);
    }
    snprintf(path, sizeof path, "%s/cluster", dir);
    if (rc == 0) rc = he_file_write(path, b.data, b.len, 0, "smpc_serve");
    he_buf_free(&b);
    if (rc < 0) return -1;
    he_str *r = he_str_new(path, strlen(path));
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* --- the client -------------------------------------------------------------------------------- */
typedef struct sclient {
    he_obj obj;
    he_smpc_client *cl;
} sclient;

static void sclient_free(he_obj *o)
{
    sclient *c = (sclient *)o;
    he_smpc_client_free(c->cl);
    free(c);
}

static int sclient_repr(const he_obj *o, he_buf *b)
{
    (void)o;
    return he_buf_puts(b, "<smpc_serve client>");
}

static const he_type sclient_type = {.name = CLIENT_NAME, .free = sclient_free, .repr = sclient_repr};

static sclient *want_client(he_value v, const char *fn)
{
    return mod_want(v, &sclient_type, "smpc_serve", fn, "a client (smpc_serve.connect)");
}

static int f_connect(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    const char *cluster = NULL;
    int64_t secs = 60;
    if (want_str(a[0], "connect", "the cluster file", &cluster) < 0 ||
        (n > 1 && want_int(a[1], "connect", "the timeout (seconds)", 1, 86400, &secs) < 0))
        return -1;
    sclient *c = he_calloc(1, sizeof *c);
    if (!c) return -1;
    he_obj_init(&c->obj, &sclient_type);
    if (!(c->cl = he_smpc_client_new(cluster, (int)secs * 1000))) {
        free(c);
        return -1;
    }
    *out = he_objv(&c->obj);
    return 0;
}

static int f_params(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sclient *c = want_client(a[0], "params");
    const char *d = c ? he_smpc_client_params(c->cl) : NULL;
    if (!d) return -1;
    he_str *r = he_str_new(d, strlen(d));
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* query(c, x [, "logits" | "class"]): the model's output (floats), or its argmax (ints). */
static int f_query(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    sclient *c = want_client(a[0], "query");
    const char *what = "logits";
    if (!c || (n > 2 && want_str(a[2], "query", "what to return", &what) < 0)) return -1;
    bool cls = strcmp(what, "class") == 0;
    if (!cls && strcmp(what, "logits") != 0)
        return he_error("smpc_serve.query: asks for \"logits\" or \"class\", not \"%s\"", what);
    if (!he_is_tensor(a[1])) return he_error("smpc_serve.query: the input must be a tensor, got %s", he_typename(a[1]));
    const he_tensor *t = he_as_tensor(a[1]);
    if (t->dtype == HE_DT_FIXED) return he_error("smpc_serve.query: give the input as floats, not fixed");
    size_t N = (size_t)t->size;
    double *x = he_malloc((N ? N : 1) * sizeof *x);
    if (!x) return -1;
    for (size_t i = 0; i < N; i++) x[i] = t->dtype == HE_DT_FLOAT ? t->data.f[i] : (double)t->data.i[i];
    double *y = NULL;
    size_t ny = 0;
    int nd = 0;
    int64_t shape[HE_SMPC_MAXDIM];
    bool integer = false;
    int rc = he_smpc_client_query(c->cl, x, N, cls, &y, &ny, &nd, shape, &integer);
    he_free_secret(x, (N ? N : 1) * sizeof *x);
    if (rc < 0) return -1;
    he_tensor *r = he_tensor_new(integer ? HE_DT_INT : HE_DT_FLOAT, 0, nd, shape);
    if (r)
        for (size_t i = 0; i < ny; i++) {
            if (integer) r->data.i[i] = (int64_t)y[i];
            else r->data.f[i] = y[i];
        }
    he_free(y);
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

static int f_bytes(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sclient *c = want_client(a[0], "bytes");
    if (!c) return -1;
    uint64_t sent, recv;
    he_smpc_client_bytes(c->cl, &sent, &recv);
    return mod_int_pair((int64_t)sent, (int64_t)recv, out);
}

/* --- static rules ------------------------------------------------------------------------------ */
#define NEED(i, ok, what) mod_need(c, a[i], t[i], (ok), what)
static bool is_str(const type *t) { return t->kind == T_STR; }

static type *r_deal(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], "share"), "a share");
    NEED(1, is_str(t[1]), "the folder (str)");
    NEED(2, is_str(t[2]), "the name (str)");
    return ty_void;
}

static type *r_load(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], "smpc_context"), "an smpc context");
    NEED(1, is_str(t[1]), "the path (str)");
    return ty_obj("share");
}

static type *r_serve(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, ty_is_obj(t[0], "smpc_context"), "an smpc context");
    NEED(1, t[1]->kind == T_FN, "the model, a function fn(x)");
    NEED(2, t[2]->kind == T_TENSOR && t[2]->elem == T_INT, "the input shape (int[?])");
    NEED(3, is_str(t[3]), "the cluster file (str)");
    if (n > 4) NEED(4, t[4]->kind == T_INT, "the number of requests (int)");
    if (n > 5) NEED(5, is_str(t[5]), "the options (str)");
    return ty_int;
}

static type *r_str_to_str(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, is_str(t[0]), "a folder (str)");
    return ty_str;
}

static type *r_connect(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, is_str(t[0]), "the cluster file (str)");
    if (n > 1) NEED(1, t[1]->kind == T_INT, "the timeout in seconds (int)");
    return ty_obj(CLIENT_NAME);
}

static type *r_params(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], CLIENT_NAME), "a client (smpc_serve.connect)");
    return ty_str;
}

static type *r_query(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    NEED(0, ty_is_obj(t[0], CLIENT_NAME), "a client (smpc_serve.connect)");
    NEED(1, t[1]->kind == T_TENSOR, "the input (a tensor)");
    if (n > 2) NEED(2, is_str(t[2]), "\"logits\" or \"class\"");
    return ty_any;
}

static type *r_bytes(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    NEED(0, ty_is_obj(t[0], CLIENT_NAME), "a client (smpc_serve.connect)");
    return ty_tensor(T_INT, 0, 1, NULL);
}

static const builtin fns[] = {
    {"deal", NULL, 3, 3, f_deal, r_deal,
     "deal(x, dir, name): the owner writes each party's shares of x (a simulated context's) to DIR/party-I/NAME"},
    {"load", NULL, 2, 2, f_load, r_load, "load(ctx, path): this party's shares, as dealt"},
    {"serve", NULL, 4, 6, f_serve, r_serve,
     "serve(ctx, fn, shape, cluster [, requests [, options]]): serve fn(x) to clients until SIGTERM; the requests "
     "answered"},
    {"local_cluster", NULL, 1, 1, f_local_cluster, r_str_to_str,
     "local_cluster(dir): a cluster file for smpc.local_parties(dir, n)'s parties, on free ports; its path"},
    {"connect", NULL, 1, 2, f_connect, r_connect, "connect(cluster [, timeout_s]): a client of the cluster"},
    {"params", NULL, 1, 1, f_params, r_params, "params(client): the service's description"},
    {"query", NULL, 2, 3, f_query, r_query,
     "query(client, x [, \"logits\" | \"class\"]): the model's output on x, or its argmax"},
    {"bytes", NULL, 1, 1, f_bytes, r_bytes, "bytes(client): [bytes sent, bytes received]"},
};

const native_module he_mod_smpc_serve = {
    .name = "smpc_serve",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
