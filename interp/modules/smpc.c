/*
** modules/smpc.c: `import smpc`: secure multi-party computation by additive
** secret sharing (runtime/smpc) as values of the language.
**
**   let ctx = smpc.context(3)                  # 3 parties, Z_2^64, 16 fractional bits
**   let ctx = smpc.context(3, 501337)          # the same over Z_p
**   let ctx = smpc.context(3, "rep3")          # 3 parties, replicated sharing, no dealer
**   let x = smpc.share(ctx, [1.5, -2.0], 0)    # party 0's input, secret-shared
**   let w = smpc.share(ctx, [[0.5], [0.25]], 1)
**   let y = smpc.relu(x * 2.0 - 1.0)           # ordinary operators on shares
**   print(smpc.reveal(y))                      # to every party
**   smpc.reveal_to(y, [0])                     # only party 0 gets the values (nil elsewhere)
**   print(smpc.stats(ctx))                     # rounds and bytes sent per party
**
** The same script runs with every party simulated in this process (the
** default) or as one process per party: `he --party I --parties FILE
** script.he` (party I of the party file's n), and `he --party dealer
** --parties FILE script.he` for the dealer (the crypto provider). In dealer
** mode smpc.context serves the parties' material requests until they are
** done and then ends the script cleanly (exit status 0, through
** vm->halted): the statements after it run only in the computing parties.
**
** A `share` value is a tensor (or a scalar) of secret shares: integer
** shares (from int or bool inputs: exact, frac 0) or fixed-point shares
** (from float or fixed inputs: the context's fractional bits). Operators:
**   share + - * share or public value       (* of two shares: Beaver triple)
**   share / public number                   (times the reciprocal)
**   share @ share or public matrix          (matrix triple)
**   share < <= > >= share or public value   -> shares of bits (0/1 integers)
** What the protocols cannot do (== and !=, division by a share, %, **,
** printing a share, converting it to str, saving it with save_npy) is a
** compile-time error when the types are known, a run-time error otherwise.
**
** Key files: --key FILE, by default party-I.key (dealer.key) in the party
** file's folder; smpc.local_parties(dir, n) writes such a folder for a run
** on 127.0.0.1 (keys, free ports, the party file, all 0600 and written
** whole). A party whose script stops on an error tells the others and
** the dealer at once (he_smpc_script_failed), so they stop with its
** message.
*/
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interp.h"
#include "modutil.h"
#include "smpc/smpc.h"
#include "smpc/train.h"
#include "smpc_plan.h"

/* --- the context object ---------------------------------------------------------- */
typedef struct sctx {
    he_obj obj;
    he_smpc_ctx *ctx;
    int n, me;   /* me: -1 simulated */
    bool zp;
    char modulus[64];
    bool aborted;
    sp_run *plan; /* a planning context (smpc.plan): the run whose bounds are checked; NULL otherwise */
    struct sctx *next_net; /* the networked contexts alive, for he_smpc_script_failed */
} sctx;

static sctx *live_net;

static void sctx_free(he_obj *o)
{
    sctx *c = (sctx *)o;
    for (sctx **p = &live_net; *p; p = &(*p)->next_net)
        if (*p == c) {
            *p = c->next_net;
            break;
        }
    he_smpc_free(c->ctx);
    free(c);
}

static int sctx_repr(const he_obj *o, he_buf *b)
{
    const sctx *c = (const sctx *)o;
    char who[32];
    if (c->me < 0) snprintf(who, sizeof who, "simulated");
    else snprintf(who, sizeof who, "networked, party %d", c->me);
    return he_buf_printf(b, "<smpc context: %d parties, %s%s, %d fractional bits, %s%s>", c->n, c->zp ? "Z_" : "Z_2^64",
                         c->zp ? c->modulus : "", he_smpc_frac(c->ctx), who,
                         he_smpc_protocol_of(c->ctx) == HE_SMPC_REP3 ? ", rep3 (no dealer)" : "");
}

static const he_type sctx_type = {.name = "smpc_context", .free = sctx_free, .repr = sctx_repr};

/* A collective operation failed: in NET mode the peers are told at once
** (the protocol state is lost anyway), so they stop with this message
** instead of at their timeout. Returns -1. */
static int fail(sctx *c)
{
    if (c->me >= 0 && !c->aborted) {
        char why[512];
        snprintf(why, sizeof why, "%s", he_errmsg());
        c->aborted = true;
        he_smpc_abort(c->ctx, why);
        he_error("%s", why);
    }
    return -1;
}

/* The script stopped on an error (any: error(...), an index out of range,
** an interrupt): every networked context tells its peers and the dealer
** `why`, so that they stop at once with it (and the dealer with a failure)
** rather than at their timeout, and the dealer gets no "done". */
void he_smpc_script_failed(const char *why)
{
    for (sctx *c = live_net; c; c = c->next_net)
        if (!c->aborted) {
            c->aborted = true;
            he_smpc_abort(c->ctx, why);
        }
}

/* --- the share object -------------------------------------------------------------- */
typedef struct shr {
    he_obj obj;
    sctx *c; /* retained */
    he_share *s;
    double lo, hi;  /* planning shares: every value it may hold is in [lo, hi] */
    double tracked; /* planning shares: elements counted alive */
} shr;

static const he_type shr_type;

static void shr_free(he_obj *o)
{
    shr *x = (shr *)o;
    if (x->c->plan) x->c->plan->live -= x->tracked;
    he_share_free(x->s); /* wipes */
    he_release(he_objv(&x->c->obj));
    free(x);
}

static void shape_str(he_buf *b, int nd, const int64_t *sh)
{
    he_buf_puts(b, "[");
    for (int i = 0; i < nd; i++) he_buf_printf(b, "%s%lld", i ? ", " : "", (long long)sh[i]);
    he_buf_puts(b, "]");
}

/* Writes a description without values (the REPL shows it) but fails, so
** that print(x) and str(x) of a share reaching them untyped stop there. */
static int shr_repr(const he_obj *o, he_buf *b)
{
    const shr *x = (const shr *)o;
    he_buf_puts(b, "<share ");
    if (he_share_ndim(x->s)) shape_str(b, he_share_ndim(x->s), he_share_shape(x->s));
    he_buf_printf(b, "%s%s, %d parties>", he_share_ndim(x->s) ? " " : "",
                  he_share_frac(x->s) ? "fixed" : "int", x->c->n);
    return he_error("a share cannot be printed: reveal it first (smpc.reveal)");
}

static int shr_len(const he_obj *o, int64_t *n)
{
    const shr *x = (const shr *)o;
    if (he_share_ndim(x->s) == 0) return he_error("len: a scalar share has no length");
    *n = he_share_shape(x->s)[0];
    return 0;
}

static shr *shr_wrap(sctx *c, he_share *s)
{
    if (!s) return NULL;
    shr *x = he_malloc(sizeof *x);
    if (!x) {
        he_share_free(s);
        return NULL;
    }
    he_obj_init(&x->obj, &shr_type);
    x->c = c;
    c->obj.rc++;
    x->s = s;
    x->lo = x->hi = x->tracked = 0;
    return x;
}

/* A new empty share of the context (an output for the runtime). */
static shr *shr_new(sctx *c) { return shr_wrap(c, he_share_new(c->ctx, 0, NULL, 0)); }

static int done(sctx *c, shr *r, int rc, he_value *out)
{
    if (rc < 0) {
        if (r) he_release(he_objv(&r->obj));
        return fail(c);
    }
    if (c->plan) { /* a planning share: counted alive until freed */
        r->tracked = (double)he_share_size(r->s);
        c->plan->live += r->tracked;
        if (c->plan->live > c->plan->peak) c->plan->peak = c->plan->live;
    }
    *out = he_objv(&r->obj);
    return 0;
}

/* --- public operands ----------------------------------------------------------------- */
typedef struct pub {
    int ndim;
    int64_t shape[HE_SMPC_MAXDIM];
    size_t n;
    bool isint;  /* int or bool: exact integers in i[] (and f[]) */
    double *f;   /* owned */
    int64_t *i;  /* owned, when isint */
} pub;

static void pub_done(pub *p)
{
    free(p->f);
    free(p->i);
    p->f = NULL;
    p->i = NULL;
}

static int pub_of(he_value v, pub *p, const char *what)
{
    memset(p, 0, sizeof *p);
    if (v.tag == HE_INT || v.tag == HE_BOOL || v.tag == HE_FLOAT || v.tag == HE_FIXED) {
        p->n = 1;
        p->f = malloc(sizeof(double));
        p->i = malloc(sizeof(int64_t));
        if (!p->f || !p->i) {
            pub_done(p);
            return he_error("out of memory");
        }
        p->isint = v.tag == HE_INT || v.tag == HE_BOOL;
        p->i[0] = v.tag == HE_INT ? v.as.i : v.tag == HE_BOOL ? v.as.b : 0;
        p->f[0] = v.tag == HE_FLOAT ? v.as.f : v.tag == HE_FIXED ? he_fixed_to_double(v.as.i, v.frac) : (double)p->i[0];
        return 0;
    }
    if (!he_is_tensor(v)) return he_error("%s: cannot use %s with a share", what, he_typename(v));
    he_tensor *t = he_as_tensor(v);
    if (t->ndim > HE_SMPC_MAXDIM) return he_error("%s: at most %d dimensions", what, HE_SMPC_MAXDIM);
    p->ndim = t->ndim;
    memcpy(p->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    p->n = (size_t)t->size;
    size_t cnt = p->n ? p->n : 1;
    p->f = malloc(sizeof(double) * cnt);
    p->i = malloc(sizeof(int64_t) * cnt);
    if (!p->f || !p->i) {
        pub_done(p);
        return he_error("out of memory");
    }
    p->isint = t->dtype == HE_DT_INT || t->dtype == HE_DT_BOOL;
    for (size_t k = 0; k < p->n; k++) {
        switch (t->dtype) {
        case HE_DT_FLOAT: p->f[k] = t->data.f[k]; p->i[k] = 0; break;
        case HE_DT_FIXED: p->f[k] = he_fixed_to_double(t->data.i[k], t->frac); p->i[k] = 0; break;
        default: p->i[k] = t->data.i[k]; p->f[k] = (double)t->data.i[k]; break;
        }
    }
    return 0;
}

/* NumPy broadcasting of two shapes. */
static int bshape(int na, const int64_t *a, int nb, const int64_t *b, int *nr, int64_t *r)
{
    int n = na > nb ? na : nb;
    for (int k = 0; k < n; k++) {
        int64_t x = k < n - na ? 1 : a[k - (n - na)], y = k < n - nb ? 1 : b[k - (n - nb)];
        if (x != y && x != 1 && y != 1) {
            he_buf m;
            he_buf_init(&m);
            shape_str(&m, na, a);
            he_buf_puts(&m, " and ");
            shape_str(&m, nb, b);
            he_error("shape mismatch: cannot broadcast %s", m.data ? m.data : "");
            he_buf_free(&m);
            return -1;
        }
        r[k] = x == 1 ? y : x;
    }
    *nr = n;
    return 0;
}

/* Expands p's values to shape (nr, r) (which p broadcasts to). */
static int pub_expand(pub *p, int nr, const int64_t *r)
{
    size_t total = 1;
    for (int k = 0; k < nr; k++) total *= (size_t)r[k];
    if (p->ndim == nr && memcmp(p->shape, r, sizeof(int64_t) * (size_t)nr) == 0) return 0;
    double *f = malloc(sizeof(double) * (total ? total : 1));
    int64_t *iv = malloc(sizeof(int64_t) * (total ? total : 1));
    if (!f || !iv) {
        free(f);
        free(iv);
        return he_error("out of memory");
    }
    for (size_t e = 0; e < total; e++) {
        /* index of e in p: trailing axes aligned, size-1 axes stretched */
        size_t rem = e, src = 0, stride = 1;
        for (int k = nr - 1; k >= 0; k--) {
            size_t idx = rem % (size_t)r[k];
            rem /= (size_t)r[k];
            int pk = k - (nr - p->ndim);
            if (pk >= 0) {
                if (p->shape[pk] != 1) src += idx * stride;
                stride *= (size_t)p->shape[pk];
            }
        }
        f[e] = p->f[src];
        iv[e] = p->i[src];
    }
    free(p->f);
    free(p->i);
    p->f = f;
    p->i = iv;
    p->n = total;
    p->ndim = nr;
    memcpy(p->shape, r, sizeof(int64_t) * (size_t)nr);
    return 0;
}

/* A sharing of public values known to every party (no communication):
** zeros plus the public values, at scale frac. */
static he_share *public_share(sctx *c, const pub *p, int frac)
{
    he_share *s = he_share_new(c->ctx, p->ndim, p->shape, frac);
    if (!s) return NULL;
    if (p->n && he_smpc_add_public(c->ctx, s, s, p->f, p->n) < 0) {
        he_share_free(s);
        return NULL;
    }
    return s;
}

/* a broadcast to shape (nr, r): a + zeros of that shape (local). */
static he_share *share_expanded(sctx *c, const he_share *a, int nr, const int64_t *r)
{
    he_share *z = he_share_new(c->ctx, nr, r, he_share_frac(a));
    if (!z) return NULL;
    if (he_smpc_add(c->ctx, z, z, a) < 0) {
        he_share_free(z);
        return NULL;
    }
    return z;
}


/* --- planning shares: their bounds (the rules: smpc_plan.c) ----------------------------- */
static void pl_set(shr *r, sp_iv v)
{
    r->lo = v.lo;
    r->hi = v.hi;
}
static sp_iv iv_of(const shr *x) { return (sp_iv){x->lo, x->hi}; }

static void pl_value(sctx *c, shr *r, const char *op, int frac, double lo, double hi)
{
    pl_set(r, sp_value(c->plan, op, frac, (sp_iv){lo, hi}));
}

static void plan_binary(sctx *c, he_op op, shr *r, const shr *a, const shr *b)
{
    double k = op == HE_OP_MATMUL ? (double)he_share_shape(a->s)[he_share_ndim(a->s) - 1] : 1; /* a sum of k products */
    pl_set(r, sp_binary(c->plan, op, iv_of(a), iv_of(b), he_share_frac(a->s), he_share_frac(b->s), k, a == b));
}

/* x op p (p public, as share_public leaves it: a subtrahend negated, a
** divisor inverted and op made a product; swapped: p op x). */
static void plan_public(sctx *c, he_op op, shr *r, const shr *x, const pub *p, bool swapped)
{
    pl_set(r, sp_public(c->plan, op, iv_of(x), he_share_frac(x->s), p->isint ? 0 : he_smpc_frac(c->ctx), p->f, p->n,
                        swapped, p->ndim, p->shape));
}

/* The bound of a share or a public value. */
static int value_range(he_value v, double *lo, double *hi);

/* --- operators ------------------------------------------------------------------------ */
static int need_real_share(const he_share *s, const char *what)
{
    if (he_share_frac(s) > 0) return 0;
    return he_error("%s an integer share: share the value as a float (e.g. 2.0, not 2) to work with reals", what);
}

/* 1-D operands of @ as matrices: [k] @ (k, n) is (1, k) @ (k, n) -> [n]. */
static int matmul_shares(sctx *c, shr *r, const he_share *a, const he_share *b)
{
    int na = he_share_ndim(a), nb = he_share_ndim(b);
    if (na < 1 || na > 2 || nb < 1 || nb > 2)
        return he_error("'@' needs 1-D or 2-D shares, not %d-D and %d-D", na, nb);
    he_share *x = NULL, *y = NULL;
    int rc = -1;
    int64_t out[2];
    int nout = 0;
    if (na == 1) {
        x = he_share_new(c->ctx, 0, NULL, 0);
        if (!x || he_share_copy(x, a) < 0 || he_share_reshape(x, 2, (int64_t[]){1, he_share_shape(a)[0]}) < 0) goto end;
    } else out[nout++] = he_share_shape(a)[0];
    if (nb == 1) {
        y = he_share_new(c->ctx, 0, NULL, 0);
        if (!y || he_share_copy(y, b) < 0 || he_share_reshape(y, 2, (int64_t[]){he_share_shape(b)[0], 1}) < 0) goto end;
    } else out[nout++] = he_share_shape(b)[1];
    const he_share *xa = x ? x : a, *yb = y ? y : b;
    if (he_share_shape(xa)[1] != he_share_shape(yb)[0]) {
        he_error("matrix product: inner dimensions differ (%lld and %lld)", (long long)he_share_shape(xa)[1],
                 (long long)he_share_shape(yb)[0]);
        goto end;
    }
    if (he_smpc_matmul(c->ctx, r->s, xa, yb) < 0) goto end;
    if ((na == 1 || nb == 1) && he_share_reshape(r->s, nout, out) < 0) goto end;
    rc = 0;
end:
    he_share_free(x);
    he_share_free(y);
    return rc;
}

static int compare(sctx *c, he_op op, shr *r, const he_share *a, const he_share *b)
{
    switch (op) {
    case HE_OP_LT: return he_smpc_lt(c->ctx, r->s, a, b);
    case HE_OP_GT: return he_smpc_gt(c->ctx, r->s, a, b);
    case HE_OP_LE: /* 1 - [a > b] */
    case HE_OP_GE: {
        if ((op == HE_OP_LE ? he_smpc_gt(c->ctx, r->s, a, b) : he_smpc_lt(c->ctx, r->s, a, b)) < 0) return -1;
        double one = 1;
        if (he_smpc_neg(c->ctx, r->s, r->s) < 0) return -1;
        return he_smpc_add_public(c->ctx, r->s, r->s, &one, 1);
    }
    default: return he_error("'%s' is not supported on shares", he_op_symbol[op]);
    }
}

static int share_share(he_op op, shr *a, shr *b, he_value *out)
{
    sctx *c = a->c;
    if (a->c != b->c) return he_error("smpc: the shares belong to different contexts");
    switch (op) {
    case HE_OP_ADD: case HE_OP_SUB: case HE_OP_MUL: case HE_OP_MATMUL:
    case HE_OP_LT: case HE_OP_LE: case HE_OP_GT: case HE_OP_GE: break;
    case HE_OP_DIV: return he_error("a share cannot be divided by a share (no division protocol): multiply by a public reciprocal");
    case HE_OP_EQ: case HE_OP_NE: return he_error("shares cannot be tested for equality (%s): compare with < and >", he_op_symbol[op]);
    default: return he_error("'%s' is not supported on shares", he_op_symbol[op]);
    }
    if (op != HE_OP_MUL && op != HE_OP_MATMUL && he_share_frac(a->s) != he_share_frac(b->s))
        return he_error("cannot combine an integer share with a fixed-point share by '%s': share both as floats "
                        "(or both as ints)", he_op_symbol[op]);
    shr *r = shr_new(c);
    if (!r) return -1;
    int rc;
    switch (op) {
    case HE_OP_ADD: rc = he_smpc_add(c->ctx, r->s, a->s, b->s); break;
    case HE_OP_SUB: rc = he_smpc_sub(c->ctx, r->s, a->s, b->s); break;
    case HE_OP_MUL: rc = he_smpc_mul(c->ctx, r->s, a->s, b->s); break;
    case HE_OP_MATMUL: rc = matmul_shares(c, r, a->s, b->s); break;
    default: rc = compare(c, op, r, a->s, b->s); break;
    }
    if (rc == 0 && c->plan) plan_binary(c, op, r, a, b);
    return done(c, r, rc, out);
}

/* x op p (or p op x when swapped) with p public. */
static int share_public(he_op op, shr *x, he_value pv, bool swapped, he_value *out)
{
    sctx *c = x->c;
    switch (op) {
    case HE_OP_ADD: case HE_OP_SUB: case HE_OP_MUL: case HE_OP_MATMUL:
    case HE_OP_LT: case HE_OP_LE: case HE_OP_GT: case HE_OP_GE: break;
    case HE_OP_DIV:
        if (swapped) return he_error("a public value cannot be divided by a share (no division protocol)");
        break;
    case HE_OP_EQ: case HE_OP_NE: return he_error("shares cannot be tested for equality (%s): compare with < and >", he_op_symbol[op]);
    default: return he_error("'%s' is not supported on shares", he_op_symbol[op]);
    }
    pub p;
    if (pub_of(pv, &p, he_op_symbol[op]) < 0) return -1;
    const he_share *s = x->s;
    int frac = he_share_frac(s);
    he_share *tmp = NULL, *ps = NULL;
    shr *r = shr_new(c);
    int rc = r ? 0 : -1;
    if (rc == 0 && op == HE_OP_MATMUL) {
        if (p.ndim < 1) rc = he_error("'@' needs a matrix or a vector, not a number");
        else {
            ps = public_share(c, &p, p.isint ? 0 : he_smpc_frac(c->ctx));
            rc = ps ? (swapped ? matmul_shares(c, r, ps, s) : matmul_shares(c, r, s, ps)) : -1;
        }
        goto end;
    }
    if (rc == 0 && op == HE_OP_DIV) {
        if (need_real_share(s, "cannot divide") < 0) {
            rc = -1;
            goto end;
        }
        for (size_t k = 0; k < p.n; k++) {
            if (p.f[k] == 0) {
                rc = he_error("division by zero");
                goto end;
            }
            p.f[k] = 1.0 / p.f[k];
        }
        p.isint = false;
        op = HE_OP_MUL;
    }
    int nr = 0;
    int64_t rs[HE_SMPC_MAXDIM];
    if (rc == 0 && (rc = bshape(he_share_ndim(s), he_share_shape(s), p.ndim, p.shape, &nr, rs)) == 0) {
        if (nr > HE_SMPC_MAXDIM) rc = he_error("too many dimensions");
        else rc = pub_expand(&p, nr, rs);
    }
    if (rc == 0 && (he_share_ndim(s) != nr || memcmp(he_share_shape(s), rs, sizeof(int64_t) * (size_t)nr) != 0)) {
        tmp = share_expanded(c, s, nr, rs);
        if (!tmp) rc = -1;
        else s = tmp;
    }
    if (rc < 0) goto end;
    if (!p.isint && frac == 0 && op != HE_OP_MUL) {
        /* a real next to an integer share: only exact when it is an integer */
        for (size_t k = 0; k < p.n; k++)
            if (p.f[k] != floor(p.f[k])) {
                rc = he_error("cannot combine an integer share with the real %g: share the value as a float", p.f[k]);
                goto end;
            }
    }
    switch (op) {
    case HE_OP_ADD:
        rc = he_smpc_add_public(c->ctx, r->s, s, p.f, p.n);
        break;
    case HE_OP_SUB:
        if (swapped) {
            rc = he_smpc_neg(c->ctx, r->s, s);
            if (rc == 0) rc = he_smpc_add_public(c->ctx, r->s, r->s, p.f, p.n);
        } else {
            for (size_t k = 0; k < p.n; k++) p.f[k] = -p.f[k];
            rc = he_smpc_add_public(c->ctx, r->s, s, p.f, p.n);
        }
        break;
    case HE_OP_MUL:
        if (p.isint) rc = he_smpc_mul_public_int(c->ctx, r->s, s, p.i, p.n);
        else if ((rc = need_real_share(s, "cannot multiply")) == 0) rc = he_smpc_mul_public(c->ctx, r->s, s, p.f, p.n);
        break;
    default:
        ps = public_share(c, &p, frac);
        rc = ps ? (swapped ? compare(c, op, r, ps, s) : compare(c, op, r, s, ps)) : -1;
        break;
    }
end:
    if (rc == 0 && c->plan) plan_public(c, op, r, x, &p, swapped);
    he_share_free(tmp);
    he_share_free(ps);
    pub_done(&p);
    return done(c, r, rc, out);
}

static int shr_binop(he_op op, he_value a, he_value b, he_value *out)
{
    bool sa = he_is(a, &shr_type), sb = he_is(b, &shr_type);
    if (sa && sb) return share_share(op, (shr *)a.as.o, (shr *)b.as.o, out);
    he_value other = sa ? b : a;
    if (other.tag == HE_OBJ && !he_is_tensor(other))
        return he_error("cannot apply '%s' to %s and %s", he_op_symbol[op], he_typename(a), he_typename(b));
    return sa ? share_public(op, (shr *)a.as.o, b, false, out) : share_public(op, (shr *)b.as.o, a, true, out);
}

static int shr_unop(he_op op, he_value a, he_value *out)
{
    shr *x = (shr *)a.as.o;
    if (op != HE_OP_NEG) return he_error("cannot apply '%s' to a share", he_op_symbol[op]);
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc = he_smpc_neg(x->c->ctx, r->s, x->s);
    if (rc == 0 && x->c->plan) pl_value(x->c, r, "negation", he_share_frac(x->s), -x->hi, -x->lo);
    return done(x->c, r, rc, out);
}

/* x[i, a:b, ...]: the shares of the elements taken (local: nothing is sent). */
static int shr_index(const he_obj *o, int n, const he_slice *s, he_value *out)
{
    const shr *x = (const shr *)o;
    int nd = he_share_ndim(x->s);
    if (nd == 0) return he_error("cannot index a scalar share");
    if (n > nd) return he_error("too many indices (%d) for a %d-D share", n, nd);
    he_tensor *map = mod_slice_map(nd, he_share_shape(x->s), n, s);
    if (!map) return -1;
    shr *r = shr_new(x->c);
    int rc = r ? he_share_gather(r->s, x->s, map->data.i, map->ndim, map->shape) : -1;
    if (rc == 0) {
        r->lo = x->lo;
        r->hi = x->hi;
    }
    he_release(he_objv(&map->obj));
    return done(x->c, r, rc, out);
}

static int shr_method(const char *name, he_value *a, int n, he_value *out);

static const he_type shr_type = {
    .name = "share", .free = shr_free, .repr = shr_repr, .binop = shr_binop, .unop = shr_unop, .len = shr_len,
    .index = shr_index, .method = shr_method,
};

/* --- the global builtins on shares: sum, mean, transpose (.T), outer ------------------------- */
static int f_sum(he_vm *vm, he_value *a, int n, he_value *out);
static int f_transpose(he_vm *vm, he_value *a, int n, he_value *out);

/* v as a share or plain tensor of shape (rows, cols) for outer(): a share
** copied and reshaped, a plain 1-D tensor reshaped. */
static int outer_side(he_value v, int64_t rows, int64_t cols, he_value *out)
{
    int64_t sh[2] = {rows, cols};
    if (he_is(v, &shr_type)) {
        const shr *x = (const shr *)v.as.o;
        if (he_share_ndim(x->s) != 1) return he_error("outer: needs two vectors (1-D)");
        shr *r = shr_new(x->c);
        int rc = r ? he_share_copy(r->s, x->s) : -1;
        if (rc == 0) rc = he_share_reshape(r->s, 2, sh);
        if (rc == 0) {
            r->lo = x->lo;
            r->hi = x->hi;
        }
        return done(x->c, r, rc, out);
    }
    if (!he_is_tensor(v) || he_as_tensor(v)->ndim != 1) return he_error("outer: needs two vectors (1-D)");
    he_tensor *t = he_tensor_reshape(he_as_tensor(v), 2, sh);
    if (!t) return -1;
    *out = he_objv(&t->obj);
    return 0;
}

static int64_t vec_len(he_value v)
{
    if (he_is(v, &shr_type)) return he_share_ndim(((const shr *)v.as.o)->s) == 1 ? he_share_shape(((const shr *)v.as.o)->s)[0] : -1;
    return he_is_tensor(v) && he_as_tensor(v)->ndim == 1 ? he_as_tensor(v)->size : -1;
}

static int shr_method(const char *name, he_value *a, int n, he_value *out)
{
    if (strcmp(name, "outer") == 0) {
        /* u as a column times v as a row: a matrix product (Beaver matrix triple with two shares) */
        int64_t nu = vec_len(a[0]), nv = vec_len(a[1]);
        if (nu < 0 || nv < 0) return he_error("outer: needs two vectors (1-D)");
        he_value col = he_nil(), row = he_nil();
        int rc = outer_side(a[0], nu, 1, &col);
        if (rc == 0) rc = outer_side(a[1], 1, nv, &row);
        if (rc == 0) rc = he_binop(HE_OP_MATMUL, col, row, out);
        he_release(col);
        he_release(row);
        return rc;
    }
    if (!he_is(a[0], &shr_type)) return 1;
    const shr *x = (const shr *)a[0].as.o;
    int nd = he_share_ndim(x->s);
    if (strcmp(name, "sum") == 0) return f_sum(NULL, a, n, out);
    if (strcmp(name, "count") == 0) {
        int64_t axis = n > 1 && a[1].tag == HE_INT ? a[1].as.i : 0;
        if (axis < 0) axis += nd;
        *out = he_int(n > 1 && nd > 0 ? he_share_shape(x->s)[axis] : (int64_t)he_share_size(x->s));
        return 0;
    }
    if (strcmp(name, "transpose") == 0) {
        if (nd == 2) return f_transpose(NULL, a, 1, out);
        if (nd > 2) return he_error("transpose: a share of %d dimensions (2 at most)", nd);
        a[0].as.o->rc++; /* as NumPy: a vector or scalar is its own transpose */
        *out = a[0];
        return 0;
    }
    return 1;
}

/* --- argument helpers ------------------------------------------------------------------------ */
static int want_ctx(he_value v, const char *fn, sctx **c)
{
    *c = mod_want(v, &sctx_type, "smpc", fn, "an smpc context");
    return *c ? 0 : -1;
}

static int want_share(he_value v, const char *fn, shr **x)
{
    *x = mod_want(v, &shr_type, "smpc", fn, "a share");
    return *x ? 0 : -1;
}

static int want_int(he_value v, const char *fn, const char *what, int64_t *i)
{
    *i = 0;
    if (v.tag != HE_INT) return he_error("smpc.%s: %s must be an int, not %s", fn, what, he_typename(v));
    *i = v.as.i;
    return 0;
}

static int want_str(he_value v, const char *fn, const char *what, const char **s)
{
    *s = NULL;
    if (!he_is(v, &he_str_type)) return he_error("smpc.%s: %s must be a str, not %s", fn, what, he_typename(v));
    *s = he_as_str(v)->data;
    return 0;
}

/* --- context ------------------------------------------------------------------------------------ */
static void key_beside(char *out, size_t cap, const char *party_file, int party)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", party_file);
    const char *dir = dirname(tmp);
    if (party < 0) snprintf(out, cap, "%s/dealer.key", dir);
    else snprintf(out, cap, "%s/party-%d.key", dir, party);
}

static int f_context(he_vm *vm, he_value *a, int n, he_value *out)
{
    int64_t np, frac = HE_SMPC_FRAC_DEFAULT;
    double timeout = HE_SMPC_TIMEOUT_DEFAULT / 1000.0;
    if (want_int(a[0], "context", "the number of parties", &np) < 0) return -1;
    if (np < 2 || np > HE_SMPC_MAXPARTIES) return he_error("smpc.context: 2 to %d parties, not %lld", HE_SMPC_MAXPARTIES, (long long)np);
    he_smpc_config cfg;
    he_smpc_config_init(&cfg);
    cfg.nparties = (int)np;
    char modulus[64] = "";
    if (n > 1) {
        if (a[1].tag == HE_INT) {
            if (a[1].as.i == 0) cfg.ring = HE_SMPC_RING64;
            else if (a[1].as.i < 2) return he_error("smpc.context: the modulus must be at least 2 (0 for Z_2^64)");
            else snprintf(modulus, sizeof modulus, "%lld", (long long)a[1].as.i);
        } else if (he_is(a[1], &he_str_type) && strcmp(he_as_str(a[1])->data, "rep3") == 0) {
            cfg.protocol = HE_SMPC_REP3; /* replicated sharing, 3 parties, no dealer */
        } else if (he_is(a[1], &he_str_type)) {
            const char *m = he_as_str(a[1])->data;
            if (strncmp(m, "rep3:", 5) == 0) { /* rep3 over Z_p: "rep3:501337" */
                cfg.protocol = HE_SMPC_REP3;
                m += 5;
            }
            size_t len = strlen(m);
            if (len == 0 || len >= sizeof modulus || strspn(m, "0123456789") != len)
                return he_error("smpc.context: the modulus must be a decimal number (at most %zu digits), \"rep3\" "
                                "or \"rep3:\" and a modulus",
                            sizeof modulus - 1);
            if (strspn(m, "0") == len) {
                if (cfg.protocol != HE_SMPC_REP3) return he_error("smpc.context: the modulus must be at least 2 (0 for Z_2^64)");
            } else {
                snprintf(modulus, sizeof modulus, "%s", m);
            }
        } else return he_error("smpc.context: the modulus must be an int or a str of digits (0 for Z_2^64), not %s", he_typename(a[1]));
        if (modulus[0]) {
            cfg.ring = HE_SMPC_ZP;
            cfg.prime = modulus;
        }
    }
    if (n > 2 && want_int(a[2], "context", "the fractional bits", &frac) < 0) return -1;
    if (frac < 0 || frac > 30) return he_error("smpc.context: 0 to 30 fractional bits, not %lld", (long long)frac);
    cfg.frac = (int)frac;
    if (n > 3) {
        if (a[3].tag == HE_INT) timeout = (double)a[3].as.i;
        else if (a[3].tag == HE_FLOAT) timeout = a[3].as.f;
        else return he_error("smpc.context: the timeout must be a number of seconds, not %s", he_typename(a[3]));
        if (!(timeout > 0 && timeout <= 86400)) return he_error("smpc.context: the timeout must be in (0, 86400] seconds");
    }
    cfg.timeout_ms = (int)(timeout * 1000 + 0.5);
    if (cfg.timeout_ms < 1) cfg.timeout_ms = 1;
    char key[PATH_MAX];
    if (vm->party != HE_PARTY_SIM) {
        if (!vm->party_file) return he_error("smpc.context: --party needs --parties FILE (the party file)");
        int filen = he_smpc_party_file_check(vm->party_file);
        if (filen < 0) return -1;
        if (filen != np)
            return he_error("smpc.context: the party file %s lists %d parties, the script asks for %lld", vm->party_file,
                            filen, (long long)np);
        if (vm->party_key) snprintf(key, sizeof key, "%s", vm->party_key);
        else key_beside(key, sizeof key, vm->party_file, vm->party);
        cfg.mode = HE_SMPC_NET;
        cfg.party_file = vm->party_file;
        cfg.secret_key_file = key;
        if (vm->party == HE_PARTY_DEALER) {
            /* the dealer: serve (rep3 needs none: nothing to do), then end the script cleanly */
            if (cfg.protocol != HE_SMPC_REP3 && he_smpc_dealer_serve(&cfg) < 0) return -1;
            fflush(vm->out);
            vm->halted = true;
            return he_error("the dealer has finished");
        }
        if (vm->party >= np)
            return he_error("smpc.context: --party %d, but the party file has parties 0..%lld", vm->party, (long long)np - 1);
        cfg.me = vm->party;
    } else if (vm->party_file) {
        return he_error("smpc.context: --parties needs --party I|dealer");
    }
    sctx *c = he_malloc(sizeof *c);
    if (!c) return -1;
    c->ctx = he_smpc_new(&cfg);
    if (!c->ctx) {
        free(c);
        return -1;
    }
    he_obj_init(&c->obj, &sctx_type);
    c->n = (int)np;
    c->me = he_smpc_me(c->ctx);
    c->zp = cfg.ring == HE_SMPC_ZP;
    snprintf(c->modulus, sizeof c->modulus, "%s", modulus);
    c->aborted = false;
    c->plan = NULL;
    c->next_net = NULL;
    if (c->me >= 0) {
        c->next_net = live_net;
        live_net = c;
    }
    *out = he_objv(&c->obj);
    return 0;
}

static int f_me(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sctx *c;
    if (want_ctx(a[0], "me", &c) < 0) return -1;
    *out = he_int(c->me);
    return 0;
}

static int f_parties(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sctx *c;
    if (want_ctx(a[0], "parties", &c) < 0) return -1;
    *out = he_int(c->n);
    return 0;
}

static int f_holds(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sctx *c;
    int64_t i;
    if (want_ctx(a[0], "holds", &c) < 0 || want_int(a[1], "holds", "the party", &i) < 0) return -1;
    *out = he_bool(i >= 0 && i < c->n && (c->me < 0 || c->me == i));
    return 0;
}

static void bytes_str(he_buf *b, uint64_t v)
{
    if (v < 10000) he_buf_printf(b, "%llu B", (unsigned long long)v);
    else if (v < 1000000) he_buf_printf(b, "%.1f kB", (double)v / 1e3);
    else he_buf_printf(b, "%.2f MB", (double)v / 1e6);
}

void smpc_stats_words(he_buf *b, const he_smpc_stats *st, int n, int me)
{
    he_buf_printf(b, "rounds %llu, bytes sent:", (unsigned long long)st->rounds);
    for (int i = 0; i < n; i++) {
        if (me >= 0 && i != me) continue;
        he_buf_printf(b, "%s party %d ", i && me < 0 ? "," : "", i);
        bytes_str(b, st->bytes_sent[i]);
    }
    if (me < 0) {
        he_buf_puts(b, ", dealer ");
        bytes_str(b, st->bytes_sent[n]);
    }
}

static int f_stats(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (smpc_is_plan(a[0])) { /* a plan's: as a process of party a[1] prints them (all: -1) */
        int64_t me = -1;
        if (n > 1 && want_int(a[1], "stats", "the party", &me) < 0) return -1;
        return smpc_plan_stats(a[0], (int)me, out);
    }
    sctx *c;
    if (want_ctx(a[0], "stats", &c) < 0) return -1;
    if (n > 1) return he_error("smpc.stats: a party is given only with a plan");
    he_smpc_stats st;
    he_smpc_stats_get(c->ctx, &st);
    he_buf b;
    he_buf_init(&b);
    smpc_stats_words(&b, &st, c->n, c->me);
    if (!b.data) {
        he_buf_free(&b);
        return he_error("out of memory");
    }
    he_str *s = he_str_new(b.data, b.len);
    he_buf_free(&b);
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

static int f_reset_stats(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    sctx *c;
    *out = he_nil();
    if (want_ctx(a[0], "reset_stats", &c) < 0) return -1;
    he_smpc_stats_reset(c->ctx);
    /* a planning context: the dealer material is counted from here too */
    if (c->plan && he_smpc_protocol_of(c->ctx) == HE_SMPC_DEALER && he_smpc_material_get(c->ctx, &c->plan->base) < 0)
        return -1;
    return 0;
}

/* --- input and output ------------------------------------------------------------------------------ */
static int f_share(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)n;
    sctx *c;
    int64_t owner;
    if (want_ctx(a[0], "share", &c) < 0 || want_int(a[2], "share", "the owner", &owner) < 0) return -1;
    if (owner < 0 || owner >= c->n)
        return he_error("smpc.share: party %lld is not in this context (parties 0..%d)", (long long)owner, c->n - 1);
    if (he_is(a[1], &shr_type)) return he_error("smpc.share: the value is already a share");
    pub p;
    if (a[1].tag == HE_OBJ && !he_is_tensor(a[1]))
        return he_error("smpc.share: can share an int, float, fixed, bool or a tensor of them, not %s", he_typename(a[1]));
    if (vm && vm->plan_only && !c->plan) { /* he --plan: nothing is shared */
        const char *file = he_vm_file(vm), *base = file && strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
        fprintf(stderr, "he --plan: stopped at smpc.share (%s:%d): nothing was shared\n", base ? base : "?", he_vm_line(vm));
        vm->halted = true;
        return -1;
    }
    if (pub_of(a[1], &p, "smpc.share") < 0) return -1;
    shr *r = shr_new(c);
    int rc = r ? 0 : -1;
    if (rc == 0 && c->plan) { /* a planning share: the values' bounds, shares of zeros */
        pl_set(r, sp_value(c->plan, "input", p.isint ? 0 : he_smpc_frac(c->ctx), sp_range(p.f, p.n)));
        memset(p.f, 0, sizeof(double) * (p.n ? p.n : 1));
        memset(p.i, 0, sizeof(int64_t) * (p.n ? p.n : 1));
    }
    if (rc == 0) {
        if (p.isint) rc = he_smpc_share_int(c->ctx, r->s, (int)owner, p.i, p.ndim, p.shape, 0);
        else rc = he_smpc_share_double(c->ctx, r->s, (int)owner, p.f, p.ndim, p.shape);
    }
    he_memzero(p.f, sizeof(double) * (p.n ? p.n : 1));
    he_memzero(p.i, sizeof(int64_t) * (p.n ? p.n : 1));
    pub_done(&p);
    return done(c, r, rc, out);
}

/* The party mask of an int or a list of ints. */
static int mask_of(sctx *c, he_value v, uint64_t *mask)
{
    *mask = 0;
    pub p;
    if (v.tag != HE_INT && !(he_is_tensor(v) && he_as_tensor(v)->dtype == HE_DT_INT && he_as_tensor(v)->ndim == 1))
        return he_error("smpc.reveal_to: the parties must be an int or a list of ints, not %s", he_typename(v));
    if (pub_of(v, &p, "smpc.reveal_to") < 0) return -1;
    int rc = 0;
    if (p.n == 0) rc = he_error("smpc.reveal_to: no party named");
    for (size_t k = 0; rc == 0 && k < p.n; k++) {
        if (p.i[k] < 0 || p.i[k] >= c->n)
            rc = he_error("smpc.reveal_to: party %lld is not in this context (parties 0..%d)", (long long)p.i[k], c->n - 1);
        else *mask |= (uint64_t)1 << p.i[k];
    }
    pub_done(&p);
    return rc;
}

static int reveal(shr *x, uint64_t mask, he_value *out)
{
    sctx *c = x->c;
    size_t N = he_share_size(x->s);
    int nd = he_share_ndim(x->s);
    bool real = he_share_frac(x->s) > 0;
    he_tensor *t = he_tensor_new(real ? HE_DT_FLOAT : HE_DT_INT, 0, nd, he_share_shape(x->s));
    if (!t) return -1;
    int rc = real ? he_smpc_reveal_double(c->ctx, x->s, mask, t->data.f) : he_smpc_reveal_int(c->ctx, x->s, mask, t->data.i);
    if (rc < 0) {
        he_release(he_objv(&t->obj));
        return fail(c);
    }
    if (!he_smpc_receives(c->ctx, mask)) {
        he_release(he_objv(&t->obj));
        *out = he_nil();
        return 0;
    }
    if (nd == 0 && N == 1) {
        *out = real ? he_float(t->data.f[0]) : he_int(t->data.i[0]);
        he_release(he_objv(&t->obj));
        return 0;
    }
    *out = he_objv(&t->obj);
    return 0;
}

static int f_reveal(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    if (want_share(a[0], "reveal", &x) < 0) return -1;
    return reveal(x, HE_SMPC_ALL, out);
}

static int f_reveal_to(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    uint64_t mask;
    if (want_share(a[0], "reveal_to", &x) < 0 || mask_of(x->c, a[1], &mask) < 0) return -1;
    return reveal(x, mask, out);
}

/* One party's own shares: Z_p in [0, p), Z_2^64 as int64 (two's complement). */
static int f_party_share(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    int64_t party;
    if (want_share(a[0], "party_share", &x) < 0 || want_int(a[1], "party_share", "the party", &party) < 0) return -1;
    sctx *c = x->c;
    if (party < 0 || party >= c->n)
        return he_error("smpc.party_share: party %lld is not in this context (parties 0..%d)", (long long)party, c->n - 1);
    if (c->me >= 0 && party != c->me)
        return he_error("smpc.party_share: this process is party %d and holds only its own shares, not party %lld's",
                        c->me, (long long)party);
    size_t N = he_share_size(x->s);
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, he_share_ndim(x->s), he_share_shape(x->s));
    if (!t) return -1;
    int rc = 0;
    if (c->zp) {
        mpz_t *m = malloc(sizeof(mpz_t) * (N ? N : 1));
        if (!m) rc = he_error("out of memory");
        for (size_t k = 0; m && k < N; k++) mpz_init(m[k]);
        if (m && he_share_raw_mpz(x->s, (int)party, m) < 0) rc = -1;
        for (size_t k = 0; rc == 0 && k < N; k++) {
            if (!mpz_fits_slong_p(m[k])) rc = he_error("smpc.party_share: the modulus is too large for an int");
            else t->data.i[k] = mpz_get_si(m[k]);
        }
        for (size_t k = 0; m && k < N; k++) mpz_clear(m[k]);
        free(m);
    } else if (he_share_raw_u64(x->s, (int)party, (uint64_t *)t->data.i) < 0) rc = -1;
    if (rc < 0) {
        he_release(he_objv(&t->obj));
        return -1;
    }
    if (he_share_ndim(x->s) == 0) {
        *out = he_int(t->data.i[0]);
        he_release(he_objv(&t->obj));
    } else *out = he_objv(&t->obj);
    return 0;
}

/* --- functions on shares ------------------------------------------------------------------------ */
/* A share operand, or a public value made into a public sharing at `frac`
** (-1: the context's for reals, 0 for integers). *tmp owns what was made. */
static int share_or_public(sctx *c, he_value v, const char *fn, int frac, const he_share **s, he_share **tmp)
{
    *tmp = NULL;
    if (he_is(v, &shr_type)) {
        if (((shr *)v.as.o)->c != c) return he_error("smpc.%s: the shares belong to different contexts", fn);
        *s = ((shr *)v.as.o)->s;
        return 0;
    }
    pub p;
    if (v.tag == HE_OBJ && !he_is_tensor(v)) return he_error("smpc.%s: expected a share or a public tensor, got %s", fn, he_typename(v));
    if (pub_of(v, &p, fn) < 0) return -1;
    *tmp = public_share(c, &p, frac >= 0 ? frac : p.isint ? 0 : he_smpc_frac(c->ctx));
    pub_done(&p);
    if (!*tmp) return -1;
    *s = *tmp;
    return 0;
}

static int f_relu(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    if (want_share(a[0], "relu", &x) < 0) return -1;
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc = he_smpc_relu(x->c->ctx, r->s, x->s);
    if (rc == 0) {
        r->lo = x->lo > 0 ? x->lo : 0;
        r->hi = x->hi > 0 ? x->hi : 0;
    }
    return done(x->c, r, rc, out);
}

/* Drops a leading axis of size 1 left by a reduction of a vector. */
static int scalar_if_vector(he_share *s, int in_ndim)
{
    if (in_ndim == 1 && he_share_ndim(s) == 1 && he_share_shape(s)[0] == 1) return he_share_reshape(s, 0, NULL);
    return 0;
}

static int f_max(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    shr *x;
    if (want_share(a[0], "max", &x) < 0) return -1;
    sctx *c = x->c;
    shr *r = shr_new(c);
    if (!r) return -1;
    int rc;
    if (n == 1) {
        if (he_share_ndim(x->s) == 0) rc = he_share_copy(r->s, x->s);
        else {
            rc = he_smpc_max_reduce(c->ctx, r->s, x->s);
            if (rc == 0) rc = scalar_if_vector(r->s, he_share_ndim(x->s));
            if (rc == 0 && c->plan) sp_check(c->plan, SP_DIFF, "max", he_share_frac(x->s), x->lo - x->hi, x->hi - x->lo);
        }
        r->lo = x->lo;
        r->hi = x->hi;
    } else {
        const he_share *b;
        he_share *tmp;
        rc = share_or_public(c, a[1], "max", he_share_frac(x->s), &b, &tmp);
        if (rc == 0) rc = he_smpc_max(c->ctx, r->s, x->s, b);
        he_share_free(tmp);
        double blo, bhi;
        if (rc == 0 && c->plan && value_range(a[1], &blo, &bhi) == 0) {
            (void)sp_compare(c->plan, "max", he_share_frac(x->s), (sp_iv){x->lo - bhi, x->hi - blo});
            r->lo = x->lo > blo ? x->lo : blo;
            r->hi = x->hi > bhi ? x->hi : bhi;
        }
    }
    return done(c, r, rc, out);
}

static int want_k(he_value *a, int n, int at, const char *fn, const char *what, int64_t dflt, int64_t lo, int64_t *v)
{
    *v = dflt;
    if (n <= at) return 0;
    if (want_int(a[at], fn, what, v) < 0) return -1;
    if (*v < lo || *v > 1 << 16) return he_error("smpc.%s: %s %lld out of range", fn, what, (long long)*v);
    return 0;
}

static int pool(he_value *a, int n, he_value *out, bool avg)
{
    const char *fn = avg ? "avgpool" : "maxpool";
    shr *x;
    int64_t k, s;
    if (want_share(a[0], fn, &x) < 0 || want_k(a, n, 1, fn, "the window", 2, 1, &k) < 0 ||
        want_k(a, n, 2, fn, "the stride", k, 1, &s) < 0)
        return -1;
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc = avg ? he_smpc_avgpool2d(x->c->ctx, r->s, x->s, (int)k, (int)s) : he_smpc_maxpool2d(x->c->ctx, r->s, x->s, (int)k, (int)s);
    if (rc == 0 && x->c->plan) {
        int f = he_share_frac(x->s);
        if (avg) { /* the window sums, then their products by 1/k^2 (truncated) */
            double k2 = (double)(k * k);
            sp_check(x->c->plan, SP_VALUE, "average pooling", f, k2 * x->lo, k2 * x->hi);
            pl_set(r, sp_product(x->c->plan, "average pooling", f, f, iv_of(x)));
        } else {
            sp_check(x->c->plan, SP_DIFF, "max pooling", f, x->lo - x->hi, x->hi - x->lo);
            r->lo = x->lo;
            r->hi = x->hi;
        }
    }
    return done(x->c, r, rc, out);
}

static int f_maxpool(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return pool(a, n, out, false); }
static int f_avgpool(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return pool(a, n, out, true); }

/* A convolution's bound (smpc_plan.c's sp_conv): w a share or public. */
static int plan_conv(sctx *c, shr *r, const shr *x, he_value wv, const he_share *w, bool padded)
{
    int64_t OC = he_share_shape(w)[0], K = (int64_t)he_share_size(w) / (OC ? OC : 1);
    if (he_is(wv, &shr_type)) {
        pl_set(r, sp_conv(c->plan, iv_of(x), padded, he_share_frac(x->s), he_share_frac(w), iv_of((const shr *)wv.as.o),
                          NULL, OC, K));
        return 0;
    }
    pub p;
    if (pub_of(wv, &p, "conv2d") < 0) return -1;
    pl_set(r, sp_conv(c->plan, iv_of(x), padded, he_share_frac(x->s), he_share_frac(w), (sp_iv){0, 0}, p.f, OC, K));
    pub_done(&p);
    return 0;
}

static int f_conv2d(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    shr *x;
    int64_t stride, pad;
    if (want_share(a[0], "conv2d", &x) < 0 || want_k(a, n, 2, "conv2d", "the stride", 1, 1, &stride) < 0 ||
        want_k(a, n, 3, "conv2d", "the padding", 0, 0, &pad) < 0)
        return -1;
    sctx *c = x->c;
    const he_share *w;
    he_share *tmp;
    if (share_or_public(c, a[1], "conv2d", -1, &w, &tmp) < 0) return -1;
    shr *r = shr_new(c);
    int rc = r ? he_smpc_conv2d(c->ctx, r->s, x->s, w, (int)stride, (int)pad) : -1;
    if (rc == 0 && c->plan) rc = plan_conv(c, r, x, a[1], w, pad > 0);
    he_share_free(tmp);
    return done(c, r, rc, out);
}

/* matmul(a, b [, shift]): a @ b * 2^-shift with one truncation
** (runtime/smpc/train.h): SGD's rate over the batch size folded in. */
static int f_matmul(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    shr *x;
    int64_t shift;
    if (want_share(a[0], "matmul", &x) < 0 || want_k(a, n, 2, "matmul", "the shift", 0, 0, &shift) < 0) return -1;
    sctx *c = x->c;
    const he_share *b;
    he_share *tmp;
    if (share_or_public(c, a[1], "matmul", -1, &b, &tmp) < 0) return -1;
    shr *r = shr_new(c);
    int rc = r ? he_smpc_matmul_shift(c->ctx, r->s, x->s, b, false, false, (int)shift) : -1;
    if (rc == 0 && c->plan) { /* the sum of k products, checked before its truncation, then times 2^-shift */
        double blo, bhi;
        rc = value_range(a[1], &blo, &bhi);
        if (rc == 0) {
            double k = (double)he_share_shape(x->s)[he_share_ndim(x->s) - 1];
            sp_iv v = sp_binary(c->plan, HE_OP_MATMUL, iv_of(x), (sp_iv){blo, bhi}, he_share_frac(x->s), he_share_frac(b), k,
                                false);
            pl_set(r, (sp_iv){ldexp(v.lo, -(int)shift), ldexp(v.hi, -(int)shift)});
        }
    }
    he_share_free(tmp);
    return done(c, r, rc, out);
}

static int f_argmax(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    if (want_share(a[0], "argmax", &x) < 0) return -1;
    if (he_share_ndim(x->s) == 0) return he_error("smpc.argmax: needs a vector or a tensor, not a scalar share");
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc = he_smpc_argmax(x->c->ctx, r->s, x->s);
    if (rc == 0) rc = scalar_if_vector(r->s, he_share_ndim(x->s));
    if (rc == 0 && x->c->plan) {
        sp_check(x->c->plan, SP_DIFF, "argmax", he_share_frac(x->s), x->lo - x->hi, x->hi - x->lo);
        r->lo = 0;
        r->hi = (double)he_share_shape(x->s)[he_share_ndim(x->s) - 1] - 1;
    }
    return done(x->c, r, rc, out);
}

static int f_sum(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    shr *x;
    int64_t axis = -1;
    if (want_share(a[0], "sum", &x) < 0) return -1;
    int nd = he_share_ndim(x->s);
    if (n > 1) {
        if (want_int(a[1], "sum", "the axis", &axis) < 0) return -1;
        if (axis < 0) axis += nd;
        if (axis < 0 || axis >= nd) return he_error("smpc.sum: axis %lld out of range for %d dimensions", (long long)a[1].as.i, nd);
    }
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc;
    if (nd == 0) rc = he_share_copy(r->s, x->s);
    else {
        rc = he_smpc_sum(x->c->ctx, r->s, x->s, n > 1 ? (int)axis : -1);
        if (rc == 0 && n == 1) rc = he_share_reshape(r->s, 0, NULL); /* the total: a scalar */
    }
    if (rc == 0 && x->c->plan) {
        double len = nd == 0 ? 1 : n > 1 ? (double)he_share_shape(x->s)[axis] : (double)he_share_size(x->s);
        pl_value(x->c, r, "sum", he_share_frac(x->s), len * x->lo, len * x->hi);
    }
    return done(x->c, r, rc, out);
}

static int f_transpose(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    if (want_share(a[0], "transpose", &x) < 0) return -1;
    shr *r = shr_new(x->c);
    if (!r) return -1;
    r->lo = x->lo;
    r->hi = x->hi;
    return done(x->c, r, he_smpc_transpose(x->c->ctx, r->s, x->s), out);
}

static int f_reshape(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    shr *x;
    if (want_share(a[0], "reshape", &x) < 0) return -1;
    int64_t sh[HE_SMPC_MAXDIM];
    int nd = 0;
    if (a[1].tag == HE_INT) {
        nd = 1;
        sh[0] = a[1].as.i;
    } else if (he_is_tensor(a[1]) && he_as_tensor(a[1])->dtype == HE_DT_INT && he_as_tensor(a[1])->ndim == 1 &&
               he_as_tensor(a[1])->size <= HE_SMPC_MAXDIM) {
        he_tensor *t = he_as_tensor(a[1]);
        nd = (int)t->size;
        memcpy(sh, t->data.i, sizeof(int64_t) * (size_t)nd);
    } else return he_error("smpc.reshape: the shape must be an int or a list of ints like [2, 3]");
    /* one -1 takes what is left */
    int64_t known = 1, total = (int64_t)he_share_size(x->s);
    int free_at = -1;
    for (int i = 0; i < nd; i++) {
        if (sh[i] == -1 && free_at < 0) free_at = i;
        else if (sh[i] < 0) return he_error("smpc.reshape: bad dimension %lld", (long long)sh[i]);
        else known *= sh[i];
    }
    if (free_at >= 0) {
        if (known == 0 || total % known) return he_error("smpc.reshape: cannot infer the -1 dimension");
        sh[free_at] = total / known;
        known = total;
    }
    if (known != total) return he_error("smpc.reshape: %lld elements cannot take this shape", (long long)total);
    shr *r = shr_new(x->c);
    if (!r) return -1;
    int rc = he_share_copy(r->s, x->s);
    if (rc == 0) rc = he_share_reshape(r->s, nd, sh);
    r->lo = x->lo;
    r->hi = x->hi;
    return done(x->c, r, rc, out);
}


/* --- what the planner (smpc_plan.c) uses -------------------------------------------------- */
bool smpc_is_context(he_value v) { return he_is(v, &sctx_type); }
bool smpc_is_share(he_value v) { return he_is(v, &shr_type); }
he_smpc_ctx *smpc_ctx_of(he_value v) { return ((sctx *)v.as.o)->ctx; }
int smpc_ctx_parties(he_value v) { return ((sctx *)v.as.o)->n; }

void smpc_ctx_describe(he_value v, he_buf *b)
{
    const sctx *c = (const sctx *)v.as.o;
    if (he_smpc_protocol_of(c->ctx) == HE_SMPC_REP3) he_buf_printf(b, "%d parties, rep3 (no dealer)", c->n);
    else he_buf_printf(b, "%d parties and a dealer", c->n);
    he_buf_printf(b, ", %s%s, %d fractional bits", c->zp ? "Z_" : "Z_2^64", c->zp ? c->modulus : "", he_smpc_frac(c->ctx));
}

int smpc_planning_context(he_value v, sp_run *run, he_value *out)
{
    const sctx *o = (const sctx *)v.as.o;
    he_smpc_config cfg;
    he_smpc_config_init(&cfg);
    cfg.nparties = o->n;
    cfg.frac = he_smpc_frac(o->ctx);
    cfg.protocol = he_smpc_protocol_of(o->ctx);
    if (o->zp) {
        cfg.ring = HE_SMPC_ZP;
        cfg.prime = o->modulus;
    }
    cfg.record_plan = cfg.protocol == HE_SMPC_DEALER; /* the dealer's requests, counted by kind */
    sctx *c = he_calloc(1, sizeof *c);
    if (!c) return -1;
    c->ctx = he_smpc_new(&cfg);
    if (!c->ctx) {
        free(c);
        return -1;
    }
    he_obj_init(&c->obj, &sctx_type);
    c->n = o->n;
    c->me = -1;
    c->zp = o->zp;
    snprintf(c->modulus, sizeof c->modulus, "%s", o->modulus);
    c->plan = run;
    run->zp = o->zp;
    run->zp_half = o->zp ? floor(strtod(o->modulus, NULL) / 2) : 0;
    *out = he_objv(&c->obj);
    return 0;
}

void smpc_planning_end(he_value v) { ((sctx *)v.as.o)->plan = NULL; }

int smpc_planning_input(he_value v, int nd, const int64_t *shape, double lo, double hi, bool isint, int owner,
                        he_value *out)
{
    sctx *c = (sctx *)v.as.o;
    if (owner < 0 || owner >= c->n)
        return he_error("smpc.plan: party %d is not in this context (parties 0..%d)", owner, c->n - 1);
    size_t N = 1;
    for (int i = 0; i < nd; i++) N *= (size_t)shape[i];
    shr *r = shr_new(c);
    if (!r) return -1;
    int rc;
    if (isint) {
        int64_t *z = he_calloc(N ? N : 1, sizeof *z);
        rc = z ? he_smpc_share_int(c->ctx, r->s, owner, z, nd, shape, 0) : -1;
        free(z);
    } else {
        double *z = he_calloc(N ? N : 1, sizeof *z);
        rc = z ? he_smpc_share_double(c->ctx, r->s, owner, z, nd, shape) : -1;
        free(z);
    }
    if (rc == 0) pl_value(c, r, "input", isint ? 0 : he_smpc_frac(c->ctx), lo, hi);
    return done(c, r, rc, out);
}

void smpc_share_info(he_value v, int *nd, const int64_t **shape, int *frac, double *lo, double *hi)
{
    const shr *x = (const shr *)v.as.o;
    *nd = he_share_ndim(x->s);
    *shape = he_share_shape(x->s);
    *frac = he_share_frac(x->s);
    *lo = x->lo;
    *hi = x->hi;
}

static int value_range(he_value v, double *lo, double *hi)
{
    if (he_is(v, &shr_type)) {
        *lo = ((const shr *)v.as.o)->lo;
        *hi = ((const shr *)v.as.o)->hi;
        return 0;
    }
    pub p;
    if (pub_of(v, &p, "smpc") < 0) return -1;
    sp_iv r = sp_range(p.f, p.n);
    *lo = r.lo;
    *hi = r.hi;
    pub_done(&p);
    return 0;
}

/* --- keys and a local party file ---------------------------------------------------------------- */
static int f_keygen(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *path;
    if (want_str(a[0], "keygen", "the key file", &path) < 0) return -1;
    char pubk[HE_SMPC_KEY_Z85 + 1];
    if (he_smpc_keygen(path, pubk) < 0) return -1;
    he_str *s = he_str_new(pubk, strlen(pubk));
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

/* Binds a TCP socket to port on 127.0.0.1 (0: the kernel's choice) and
** closes it: the port bound, or -1 when it could not be. */
static int bind_probe(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    socklen_t l = sizeof sa;
    int got = -1;
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && getsockname(s, (struct sockaddr *)&sa, &l) == 0)
        got = ntohs(sa.sin_port);
    close(s);
    return got;
}

/* A TCP port free on 127.0.0.1 now, for a party to bind later. It is
** drawn at random BELOW the kernel's ephemeral range (ip_local_port_range):
** the kernel's own choice (bind to port 0) is an ephemeral port, which any
** outgoing connection on the machine may take before the party binds it
** ("Address already in use"); a port below the range is taken only by a
** listener that picks the same one. */
static int free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    int base = 10000;
    if (lo - base >= 1000)
        for (int tries = 0; tries < 64; tries++) {
            int port = base + (int)he_random_uniform((uint64_t)(lo - base));
            if (bind_probe(port) == port) return port;
        }
    /* no room below the range (or all tried were taken): the kernel's choice */
    int port = bind_probe(0);
    if (port <= 0) return he_error("smpc.local_parties: no free port on 127.0.0.1");
    return port;
}

static int f_local_parties(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *dir;
    int64_t np;
    if (want_str(a[0], "local_parties", "the folder", &dir) < 0 ||
        want_int(a[1], "local_parties", "the number of parties", &np) < 0)
        return -1;
    if (np < 2 || np > HE_SMPC_MAXPARTIES) return he_error("smpc.local_parties: 2 to %d parties", HE_SMPC_MAXPARTIES);
    he_buf b;
    he_buf_init(&b);
    he_buf_puts(&b, "# parties on 127.0.0.1: index or dealer, host:port, CURVE public key (Z85)\n");
    int rc = 0;
    for (int i = 0; rc == 0 && i <= np; i++) {
        char key[PATH_MAX], pubk[HE_SMPC_KEY_Z85 + 1];
        char tmp[PATH_MAX + 16];
        snprintf(tmp, sizeof tmp, "%s/x", dir);
        key_beside(key, sizeof key, tmp, i == np ? -1 : i);
        int port = free_port();
        if (port < 0 || he_smpc_keygen(key, pubk) < 0) rc = -1;
        else if (i == np) he_buf_printf(&b, "dealer 127.0.0.1:%d %s\n", port, pubk);
        else he_buf_printf(&b, "%d 127.0.0.1:%d %s\n", i, port, pubk);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/parties", dir);
    /* replaced whole (temporary file, rename), mode 0600 like the keys */
    if (rc == 0) rc = he_file_write(path, b.data, b.len, true, "smpc.local_parties");
    he_buf_free(&b);
    if (rc < 0) return -1;
    he_str *s = he_str_new(path, strlen(path));
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

/* --- static rules ----------------------------------------------------------------------------------- */
static bool is_share(const type *t) { return ty_is_obj(t, "share"); }
static bool is_ctx(const type *t) { return ty_is_obj(t, "smpc_context"); }
/* A public operand: a number, a bool, a tensor, or not known statically. */
static bool is_public(const type *t)
{
    return t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_FIXED || t->kind == T_BOOL || t->kind == T_TENSOR ||
           t->kind == T_ANY;
}

static type *binop_rule(checker *c, node *n, he_op op, type *a, type *b)
{
    if (!is_share(a) && !is_share(b)) return NULL;
    type *sh = ty_obj("share");
    bool both = is_share(a) && is_share(b);
    type *other = is_share(a) ? b : a;
    if (!both && !is_public(other)) {
        ck_error(c, n, "cannot apply '%s' to %s and %s", he_op_symbol[op], ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    switch (op) {
    case HE_OP_ADD: case HE_OP_SUB: case HE_OP_MUL: return sh;
    case HE_OP_LT: case HE_OP_LE: case HE_OP_GT: case HE_OP_GE: return sh; /* shares of bits */
    case HE_OP_MATMUL:
        if (!both && (ty_is_num(other) || other->kind == T_BOOL || (other->kind == T_TENSOR && other->rank == 0))) {
            ck_error(c, n, "'@' needs a matrix or a vector, not %s", ty_str_of(other));
            return ty_any;
        }
        return sh;
    case HE_OP_DIV:
        if (!both && is_share(a)) return sh;
        ck_error(c, n, "a share cannot be a divisor (no division protocol): multiply by a public reciprocal");
        return ty_any;
    case HE_OP_EQ: case HE_OP_NE:
        ck_error(c, n, "shares cannot be tested for equality (%s): compare with < and >", he_op_symbol[op]);
        return ty_any;
    default:
        ck_error(c, n, "'%s' is not supported on shares (+ - * / @ < <= > >= are)", he_op_symbol[op]);
        return ty_any;
    }
}

static type *index_rule(checker *c, node *n, type *a, int nidx, int nslices)
{
    (void)c; (void)n; (void)nidx; (void)nslices; /* the rank is known when it runs */
    return is_share(a) ? a : NULL;
}

static type *method_rule(checker *c, node *call, const char *name, type **t, int n)
{
    bool mine = false;
    for (int i = 0; i < n; i++) mine = mine || is_share(t[i]);
    if (!mine) return NULL;
    if (strcmp(name, "outer") == 0)
        for (int i = 0; i < n; i++)
            mod_need(c, call, t[i], is_share(t[i]) || (t[i]->kind == T_TENSOR && t[i]->elem != T_BOOL), "a vector");
    return ty_obj("share");
}

static type *unop_rule(checker *c, node *n, he_op op, type *a)
{
    if (!is_share(a)) return NULL;
    if (op == HE_OP_NEG) return a;
    ck_error(c, n, "cannot apply '%s' to a share", he_op_symbol[op]);
    return ty_any;
}

static bool need(checker *c, node *at, type *t, bool ok, const char *fn, const char *what)
{
    if (ok || t->kind == T_ANY) return true;
    ck_error(c, at, "smpc.%s: expected %s, got %s", fn, what, ty_str_of(t));
    return false;
}


static type *r_context(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    need(c, a[0], t[0], t[0]->kind == T_INT, "context", "the number of parties (int)");
    if (n > 1) need(c, a[1], t[1], t[1]->kind == T_INT || t[1]->kind == T_STR, "context", "the modulus (int or str; 0 for Z_2^64)");
    if (n > 2) need(c, a[2], t[2], t[2]->kind == T_INT, "context", "the fractional bits (int)");
    if (n > 3) need(c, a[3], t[3], t[3]->kind == T_INT || t[3]->kind == T_FLOAT, "context", "the timeout in seconds");
    return ty_obj("smpc_context");
}

static type *r_ctx_int(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], is_ctx(t[0]), mod_call_name(call), "an smpc context");
    return ty_int;
}

static type *r_ctx_void(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], is_ctx(t[0]), mod_call_name(call), "an smpc context");
    return ty_void;
}

static type *r_stats(checker *c, node *call, node **a, type **t, int n)
{
    need(c, a[0], t[0], is_ctx(t[0]) || ty_is_obj(t[0], "smpc_plan"), mod_call_name(call), "an smpc context or plan");
    if (n > 1) need(c, a[1], t[1], t[1]->kind == T_INT, mod_call_name(call), "a party (int)");
    return ty_str;
}

static type *r_plan(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], t[0]->kind == T_FN, mod_call_name(call), "the function to plan");
    return ty_obj("smpc_plan");
}

static type *r_input(checker *c, node *call, node **a, type **t, int n)
{
    need(c, a[0], t[0], is_ctx(t[0]), mod_call_name(call), "an smpc context");
    need(c, a[1], t[1], t[1]->kind == T_INT || t[1]->kind == T_TENSOR, mod_call_name(call), "a shape like [2, 3]");
    if (n > 2)
        need(c, a[2], t[2], ty_is_num(t[2]) || t[2]->kind == T_TENSOR, mod_call_name(call), "a bound or [lo, hi]");
    if (n > 3) need(c, a[3], t[3], t[3]->kind == T_INT, mod_call_name(call), "the owner (a party number, int)");
    return ty_obj("smpc_input");
}

static type *r_safe(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], ty_is_obj(t[0], "smpc_plan"), mod_call_name(call), "an smpc plan");
    return ty_bool;
}

static type *r_bounds(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], ty_is_obj(t[0], "smpc_plan"), mod_call_name(call), "an smpc plan");
    return ty_any;
}

static type *r_ranges(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], ty_is_obj(t[0], "smpc_plan"), mod_call_name(call), "an smpc plan");
    return ty_str;
}

static type *r_holds(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], is_ctx(t[0]), mod_call_name(call), "an smpc context");
    need(c, a[1], t[1], t[1]->kind == T_INT, mod_call_name(call), "a party (int)");
    return ty_bool;
}

static type *r_share(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need(c, a[0], t[0], is_ctx(t[0]), "share", "an smpc context");
    if (is_share(t[1])) ck_error(c, a[1], "smpc.share: the value is already a share");
    else need(c, a[1], t[1], is_public(t[1]), "share",
              "an int, float, fixed, bool or a tensor of them");
    need(c, a[2], t[2], t[2]->kind == T_INT, "share", "the owner (a party number, int)");
    return ty_obj("share");
}

/* First argument a share, the others ints; result a share. */
static type *r_share_ints(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    need(c, a[0], t[0], is_share(t[0]), fn, "a share");
    for (int i = 1; i < n; i++) need(c, a[i], t[i], t[i]->kind == T_INT, fn, "an int");
    return ty_obj("share");
}

static type *r_reveal(checker *c, node *call, node **a, type **t, int n)
{
    need(c, a[0], t[0], is_share(t[0]), mod_call_name(call), "a share (only shares are revealed)");
    if (n > 1)
        need(c, a[1], t[1], t[1]->kind == T_INT || (t[1]->kind == T_TENSOR && (t[1]->elem == T_INT || t[1]->elem == T_ANY)),
             mod_call_name(call), "the parties to reveal to (an int or a list of ints)");
    return ty_any; /* float or int, scalar or tensor: known when revealed */
}

static type *r_party_share(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], is_share(t[0]), mod_call_name(call), "a share");
    need(c, a[1], t[1], t[1]->kind == T_INT, mod_call_name(call), "a party (int)");
    return ty_any;
}

static type *r_share_other(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    need(c, a[0], t[0], is_share(t[0]), fn, "a share");
    if (n > 1) need(c, a[1], t[1], is_share(t[1]) || is_public(t[1]), fn,
                    "a share or a public value");
    for (int i = 2; i < n; i++) need(c, a[i], t[i], t[i]->kind == T_INT, fn, "an int");
    return ty_obj("share");
}

static type *r_reshape(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    need(c, a[0], t[0], is_share(t[0]), mod_call_name(call), "a share");
    need(c, a[1], t[1], t[1]->kind == T_INT || t[1]->kind == T_TENSOR, mod_call_name(call), "a shape like [2, 3]");
    return ty_obj("share");
}

static type *r_str_fn(checker *c, node *call, node **a, type **t, int n)
{
    for (int i = 0; i < n; i++)
        need(c, a[i], t[i], t[i]->kind == (i == 0 ? T_STR : T_INT), mod_call_name(call), i == 0 ? "a path (str)" : "an int");
    return ty_str;
}

/* --- for other modules (smpc_values.h) ------------------------------------------------------ */
#include "smpc_values.h"

he_smpc_ctx *smpc_value_ctx(he_value v, const char *fn)
{
    sctx *c;
    return want_ctx(v, fn, &c) < 0 ? NULL : c->ctx;
}

he_share *smpc_value_share(he_value v, const char *fn, he_value *ctxv)
{
    shr *x;
    if (want_share(v, fn, &x) < 0) return NULL;
    if (ctxv) *ctxv = he_objv(&x->c->obj);
    return x->s;
}

int smpc_value_wrap(he_value ctxv, he_share *s, he_value *out)
{
    sctx *c;
    if (want_ctx(ctxv, "share", &c) < 0) {
        he_share_free(s);
        return -1;
    }
    shr *r = shr_wrap(c, s);
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

int smpc_value_fail(he_value ctxv)
{
    sctx *c;
    if (want_ctx(ctxv, "fail", &c) < 0) return -1;
    return fail(c);
}

int smpc_value_free_port(void) { return free_port(); }

void smpc_value_key_file(const he_vm *vm, char *out, size_t cap)
{
    if (vm->party_key) snprintf(out, cap, "%s", vm->party_key);
    else if (vm->party_file) key_beside(out, cap, vm->party_file, vm->party);
    else snprintf(out, cap, "party.key");
}

static const builtin fns[] = {
    {"context", NULL, 1, 4, f_context, r_context,
     "context(parties [, modulus or \"rep3\" [, frac [, timeout]]]): parties simulated here, or this process's party with --party "
     "(modulus 0: Z_2^64; \"rep3\": 3 parties, replicated sharing, no dealer; \"rep3:P\": the same over Z_P; frac: fractional bits, 16; timeout in "
     "seconds, 10)"},
    {"me", NULL, 1, 1, f_me, r_ctx_int, "me(ctx): this process's party number, -1 when simulated"},
    {"parties", NULL, 1, 1, f_parties, r_ctx_int, "parties(ctx): the number of computing parties"},
    {"holds", NULL, 2, 2, f_holds, r_holds, "holds(ctx, i): whether this process holds party i's shares"},
    {"share", NULL, 3, 3, f_share, r_share, "share(ctx, value, owner): secret-shares party owner's value"},
    {"reveal", NULL, 1, 1, f_reveal, r_reveal, "reveal(x): the values of a share, to every party"},
    {"reveal_to", NULL, 2, 2, f_reveal_to, r_reveal, "reveal_to(x, parties): the values to the named parties only (nil elsewhere)"},
    {"party_share", NULL, 2, 2, f_party_share, r_party_share, "party_share(x, i): party i's own shares (random-looking ints)"},
    {"relu", NULL, 1, 1, f_relu, r_share_ints, "relu(x): max(x, 0) on shares"},
    {"max", NULL, 1, 2, f_max, r_share_other, "max(x): over the last axis; max(a, b): element-wise"},
    {"maxpool", NULL, 1, 3, f_maxpool, r_share_ints, "maxpool(x [, k [, stride]]): k x k max pooling of (C, H, W) or (N, C, H, W)"},
    {"avgpool", NULL, 1, 3, f_avgpool, r_share_ints, "avgpool(x [, k [, stride]]): k x k average pooling"},
    {"conv2d", NULL, 2, 4, f_conv2d, r_share_other, "conv2d(x, w [, stride [, pad]]): x (C, H, W) or (N, C, H, W), w (OC, C, KH, KW)"},
    {"matmul", NULL, 2, 3, f_matmul, r_share_other,
     "matmul(a, b [, shift]): a @ b times 2^-shift with one truncation (a learning rate 2^-shift folded in)"},
    {"argmax", NULL, 1, 1, f_argmax, r_share_ints, "argmax(x): index of the first maximum over the last axis (an int share)"},
    {"sum", NULL, 1, 2, f_sum, r_share_ints, "sum(x [, axis]): the total (a scalar share) or sums along an axis"},
    {"transpose", NULL, 1, 1, f_transpose, r_share_ints, "transpose(x): a 2-D share transposed"},
    {"reshape", NULL, 2, 2, f_reshape, r_reshape, "reshape(x, shape): same shares, new shape (one -1 allowed)"},
    {"stats", NULL, 1, 2, f_stats, r_stats,
     "stats(ctx): rounds and bytes sent per party, as a str; stats(plan [, party]): the plan's, as party's process prints "
     "them"},
    {"plan", NULL, 1, -1, smpc_f_plan, r_plan,
     "plan(f, args...): runs f on planning shares (args: smpc.input(...) and values; a context becomes the planning "
     "one): rounds, bytes, dealer material, peak, and the bounds of every value against the ring's safe range"},
    {"input", NULL, 2, 4, smpc_f_input, r_input,
     "input(ctx, shape [, bound or [lo, hi] [, owner]]): an input of smpc.plan: a share of ctx from party owner (0), "
     "values in [-bound, bound] or [lo, hi] (default [-1.0, 1.0]; int bounds: an int share)"},
    {"safe", NULL, 1, 1, smpc_f_safe, r_safe, "safe(plan): whether the plan proved that no value leaves the ring's safe range"},
    {"bounds", NULL, 1, 1, smpc_f_bounds, r_bounds, "bounds(plan): [lo, hi], every value of the planned result (nil: not a share)"},
    {"ranges", NULL, 1, 1, smpc_f_ranges, r_ranges,
     "ranges(plan): every operation the plan checked, one line each: where, its largest bound, the limit, the bits to spare"},
    {"reset_stats", NULL, 1, 1, f_reset_stats, r_ctx_void, "reset_stats(ctx): counts from zero again"},
    {"keygen", NULL, 1, 1, f_keygen, r_str_fn, "keygen(path): a CURVE key pair; writes the secret key (0600), gives the public key"},
    {"local_parties", NULL, 2, 2, f_local_parties, r_str_fn,
     "local_parties(dir, n): keys and a party file for n parties and a dealer on 127.0.0.1 (free ports); gives its path"},
};

const native_module he_mod_smpc = {
    .name = "smpc",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
    .binop_rule = binop_rule,
    .unop_rule = unop_rule,
    .index_rule = index_rule,
    .method_rule = method_rule,
};
