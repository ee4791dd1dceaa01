/*
** builtins.c: the functions every script sees. Each has a run-time
** implementation and a static rule giving its result type from its
** arguments' types (and constant shapes, so zeros([2, 3]) is float[2, 3]).
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interp.h"


/* --- helpers -------------------------------------------------------------------------- */
static int want_tensor(he_value v, const char *fn, int argi, he_tensor **out)
{
    *out = NULL;
    if (!he_is_tensor(v)) return he_error("%s: argument %d must be a tensor, not %s", fn, argi, he_typename(v));
    *out = he_as_tensor(v);
    return 0;
}

static int want_int(he_value v, const char *fn, int argi, int64_t *out)
{
    *out = 0;
    if (v.tag != HE_INT) return he_error("%s: argument %d must be int, not %s", fn, argi, he_typename(v));
    *out = v.as.i;
    return 0;
}

static int want_num(he_value v, const char *fn, int argi, double *out)
{
    *out = 0;
    if (v.tag == HE_INT) *out = (double)v.as.i;
    else if (v.tag == HE_FLOAT) *out = v.as.f;
    else if (v.tag == HE_FIXED) *out = he_fixed_to_double(v.as.i, v.frac);
    else return he_error("%s: argument %d must be a number, not %s", fn, argi, he_typename(v));
    return 0;
}

/* A shape argument: an int tensor of rank 1, or an int. */
static int want_shape(he_value v, const char *fn, int *ndim, int64_t *shape)
{
    *ndim = 0;
    if (v.tag == HE_INT) {
        *ndim = 1;
        shape[0] = v.as.i;
        return 0;
    }
    if (he_is_tensor(v)) {
        he_tensor *t = he_as_tensor(v);
        if (t->dtype == HE_DT_INT && t->ndim == 1 && t->size <= HE_MAXDIM) {
            *ndim = (int)t->size;
            for (int i = 0; i < *ndim; i++) shape[i] = t->data.i[i];
            return 0;
        }
        if (t->dtype == HE_DT_INT && t->ndim == 1)
            return he_error("%s: a shape has at most %d dimensions, not %lld", fn, HE_MAXDIM, (long long)t->size);
    }
    return he_error("%s: the shape must be an int or a list of ints like [2, 3]", fn);
}

static he_value tv(he_tensor *t) { return he_objv(&t->obj); }

/* --- static rules -------------------------------------------------------------------------- */
static type *r_int(checker *c, node *call, node **a, type **t, int n) { (void)c; (void)call; (void)a; (void)t; (void)n; return ty_int; }
static type *r_float(checker *c, node *call, node **a, type **t, int n) { (void)c; (void)call; (void)a; (void)t; (void)n; return ty_float; }
static type *r_str(checker *c, node *call, node **a, type **t, int n) { (void)c; (void)call; (void)a; (void)t; (void)n; return ty_str; }

/* A secret (an SMPC share, interp/modules/smpc.c) must not reach the clear by accident. */
static bool refuse_secret(checker *c, node *at, type *t, const char *what)
{
    if (t->kind != T_OBJ || !t->name || strcmp(t->name, "share") != 0) return false;
    ck_error(c, at, "a share cannot be %s: reveal it first (smpc.reveal)", what);
    return true;
}

static type *r_print(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    for (int i = 0; i < n; i++) refuse_secret(c, a[i], t[i], "printed");
    return ty_void;
}

static bool is_tensorish(const type *t) { return t->kind == T_TENSOR || t->kind == T_ANY; }

static bool need_tensor(checker *c, node *at, type *t, const char *fn, int i)
{
    if (is_tensorish(t)) return true;
    ck_error(c, at, "%s: argument %d must be a tensor, not %s", fn, i, ty_str_of(t));
    return false;
}

static bool need_int(checker *c, node *at, type *t, const char *fn, int i)
{
    if (t->kind == T_INT || t->kind == T_ANY) return true;
    ck_error(c, at, "%s: argument %d must be int, not %s", fn, i, ty_str_of(t));
    return false;
}

static bool need_num(checker *c, node *at, type *t, const char *fn, int i)
{
    if (t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_FIXED || t->kind == T_ANY) return true;
    ck_error(c, at, "%s: argument %d must be a number, not %s", fn, i, ty_str_of(t));
    return false;
}

/* The shape of a constant shape argument, for the result type. */
static type *shaped(checker *c, node *arg, type *t, tkind elem, const char *fn)
{
    int64_t d[MAXRANK];
    int r;
    bool one = arg->kind == N_INT;
    if (one) d[0] = arg->ival, r = 1;
    if (one || ck_const_shape(arg, d, &r)) {
        for (int i = 0; i < r; i++)
            if (d[i] < 0) {
                ck_error(c, arg, "%s: negative dimension %lld", fn, (long long)d[i]);
                return ty_any;
            }
        /* the run time's bound on shapes, known here already */
        if (he_shape_check(r, d, fn, NULL) < 0) {
            ck_error(c, arg, "%s", he_errmsg());
            return ty_any;
        }
        return ty_tensor(elem, 0, r, d);
    }
    if (t->kind == T_INT) return ty_tensor(elem, 0, 1, NULL);
    if (t->kind == T_TENSOR && t->elem == T_INT && t->rank == 1) {
        if (t->dims[0] != DIM_ANY && t->dims[0] > MAXRANK) {
            ck_error(c, arg, "%s: a shape has at most %d dimensions, not %lld", fn, MAXRANK, (long long)t->dims[0]);
            return ty_any;
        }
        int rank = t->dims[0] == DIM_ANY ? -1 : (int)t->dims[0];
        return ty_tensor(elem, 0, rank, NULL);
    }
    if (t->kind == T_ANY) return ty_tensor(elem, 0, -1, NULL);
    ck_error(c, arg, "%s: the shape must be an int or a list of ints like [2, 3], not %s", fn, ty_str_of(t));
    return ty_any;
}

static type *r_zeros(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    return shaped(c, a[0], t[0], T_FLOAT, builtins[call->bi].name); /* zeros or ones */
}

static type *r_full(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[1]->kind != T_BOOL && !need_num(c, a[1], t[1], "full", 2)) return ty_any;
    tkind e = t[1]->kind == T_ANY ? T_ANY : t[1]->kind;
    type *r = shaped(c, a[0], t[0], e, "full");
    if (r->kind == T_TENSOR && e == T_FIXED) r = ty_tensor(T_FIXED, t[1]->frac, r->rank, r->dims);
    return r;
}

static type *r_random(checker *c, node *call, node **a, type **t, int n)
{
    if (t[0]->kind != T_OBJ && t[0]->kind != T_ANY) {
        ck_error(c, a[0], "argument 1 must be a generator made by rng(seed), not %s", ty_str_of(t[0]));
        return ty_any;
    }
    const char *fn = builtins[call->bi].name;
    for (int i = 2; i < n; i++) need_num(c, a[i], t[i], fn, i + 1);
    return shaped(c, a[1], t[1], T_FLOAT, fn);
}

static type *r_rng(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_int(c, a[0], t[0], "rng", 1);
    return ty_obj("rng");
}

static type *r_arange(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    for (int i = 0; i < n; i++) need_int(c, a[i], t[i], "arange", i + 1);
    int64_t d = DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_eye(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_int(c, a[0], t[0], "eye", 1);
    int64_t d[2] = {DIM_ANY, DIM_ANY};
    if (a[0]->kind == N_INT) d[0] = d[1] = a[0]->ival;
    return ty_tensor(T_FLOAT, 0, 2, d);
}

static type *r_transpose(checker *c, node *call, node **a, type **t, int n)
{
    type *o = ck_obj_method(c, call, "transpose", t, n);
    if (o) return o;
    if (!need_tensor(c, a[0], t[0], "transpose", 1) || t[0]->kind == T_ANY) return ty_any;
    if (t[0]->rank < 0) return t[0];
    int64_t d[MAXRANK];
    for (int i = 0; i < t[0]->rank; i++) d[i] = t[0]->dims[t[0]->rank - 1 - i];
    return ty_tensor(t[0]->elem, t[0]->frac, t[0]->rank, d);
}

static type *r_reshape(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (!need_tensor(c, a[0], t[0], "reshape", 1)) return ty_any;
    tkind e = t[0]->kind == T_TENSOR ? t[0]->elem : T_ANY;
    int frac = t[0]->kind == T_TENSOR ? t[0]->frac : 0;
    int64_t d[MAXRANK];
    int r;
    if (ck_const_shape(a[1], d, &r)) {
        int neg = 0;
        int64_t prod = 1, dd[MAXRANK];
        for (int i = 0; i < r; i++) {
            if (d[i] == -1) neg++;
            else if (d[i] < 0) {
                ck_error(c, a[1], "reshape: negative dimension %lld", (long long)d[i]);
                return ty_any;
            }
            dd[i] = d[i] == -1 ? 1 : d[i];
        }
        if (neg > 1) {
            ck_error(c, a[1], "reshape: at most one dimension may be -1");
            return ty_any;
        }
        /* the run time's bound on shapes, known here already; then the
        ** product cannot overflow */
        if (he_shape_check(r, dd, "reshape", NULL) < 0) {
            ck_error(c, a[1], "%s%s", he_errmsg(), neg ? " (the -1 counted as 1)" : "");
            return ty_any;
        }
        for (int i = 0; i < r; i++) prod *= dd[i];
        /* the total size, when known, must agree */
        int64_t total = 1;
        bool known = t[0]->kind == T_TENSOR && t[0]->rank >= 0;
        for (int i = 0; known && i < t[0]->rank; i++)
            if (t[0]->dims[i] == DIM_ANY || __builtin_mul_overflow(total, t[0]->dims[i], &total)) known = false;
        for (int i = 0; i < r; i++)
            if (d[i] == -1) d[i] = known && prod > 0 && total % prod == 0 ? total / prod : DIM_ANY;
        if (known && !neg && prod != total) {
            ck_error(c, a[1], "reshape: cannot reshape %s (%lld elements) into %lld elements", ty_str_of(t[0]),
                     (long long)total, (long long)prod);
            return ty_any;
        }
        if (known && neg && (prod == 0 || total % prod != 0)) {
            ck_error(c, a[1], "reshape: cannot reshape %s (%lld elements) with that shape", ty_str_of(t[0]), (long long)total);
            return ty_any;
        }
        return ty_tensor(e, frac, r, d);
    }
    shaped(c, a[1], t[1], e, "reshape");
    return ty_tensor(e, frac, -1, NULL);
}

/* sum, max, min: the element type; mean: float; argmax: int. */
static type *reduce_rule(checker *c, node **a, type **t, int n, const char *fn, tkind force)
{
    if (!need_tensor(c, a[0], t[0], fn, 1)) return ty_any;
    if (n > 1) need_int(c, a[1], t[1], fn, 2);
    if (t[0]->kind == T_ANY) return ty_any;
    tkind e = force != T_VOID ? force : t[0]->elem;
    int frac = force != T_VOID ? 0 : t[0]->frac;
    /* sum counts a bool tensor's trues; max and min of bools are bools */
    if (t[0]->elem == T_BOOL && force == T_VOID && strcmp(fn, "sum") == 0) e = T_INT;
    if (n == 1) {
        type tmp = {.kind = T_TENSOR, .elem = e, .frac = frac};
        return elem_type(&tmp);
    }
    if (t[0]->rank < 0) return ty_tensor(e, frac, -1, NULL);
    int64_t ax;
    if (a[1]->kind == N_INT) ax = a[1]->ival;
    else if (a[1]->kind == N_UNOP && a[1]->op == HE_OP_NEG && a[1]->a->kind == N_INT) ax = -a[1]->a->ival;
    else if (t[0]->rank == 1) { /* whatever the axis, a 1-D tensor reduces to a scalar */
        type tmp = {.kind = T_TENSOR, .elem = e, .frac = frac};
        return elem_type(&tmp);
    } else return ty_tensor(e, frac, t[0]->rank - 1, NULL);
    if (ax < 0) ax += t[0]->rank;
    if (ax < 0 || ax >= t[0]->rank) {
        ck_error(c, a[1], "%s: axis out of range for %s", fn, ty_str_of(t[0]));
        return ty_any;
    }
    int64_t d[MAXRANK];
    int r = 0;
    for (int i = 0; i < t[0]->rank; i++)
        if (i != ax) d[r++] = t[0]->dims[i];
    if (r == 0) {
        type tmp = {.kind = T_TENSOR, .elem = e, .frac = frac};
        return elem_type(&tmp);
    }
    return ty_tensor(e, frac, r, d);
}

static type *r_sum(checker *c, node *call, node **a, type **t, int n)
{
    type *o = ck_obj_method(c, call, "sum", t, 1);
    if (o) {
        if (n > 1) need_int(c, a[1], t[1], "sum", 2);
        return o;
    }
    return reduce_rule(c, a, t, n, "sum", T_VOID);
}
static type *r_mean(checker *c, node *call, node **a, type **t, int n)
{
    type *o = ck_obj_method(c, call, "mean", t, 1);
    if (o) {
        if (n > 1) need_int(c, a[1], t[1], "mean", 2);
        return o;
    }
    return reduce_rule(c, a, t, n, "mean", T_FLOAT);
}
static type *r_argmax(checker *c, node *call, node **a, type **t, int n) { (void)call; return reduce_rule(c, a, t, n, "argmax", T_INT); }

static type *r_maxmin(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (n == 2 && t[0]->kind != T_TENSOR && t[1]->kind != T_TENSOR) {
        /* max(a, b) of two numbers */
        need_num(c, a[0], t[0], "max/min", 1);
        need_num(c, a[1], t[1], "max/min", 2);
        if (t[0]->kind == T_INT && t[1]->kind == T_INT) return ty_int;
        if (t[0]->kind == T_ANY || t[1]->kind == T_ANY) return ty_any;
        if (t[0]->kind == T_FIXED && ty_equal(t[0], t[1])) return t[0];
        return ty_float;
    }
    return reduce_rule(c, a, t, n, "max/min", T_VOID);
}

static type *r_math(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    const char *fn = builtins[call->bi].name;
    if (t[0]->kind == T_ANY) return ty_any;
    if (t[0]->kind == T_TENSOR) {
        if (t[0]->elem == T_BOOL) {
            ck_error(c, a[0], "%s: needs numbers, not %s", fn, ty_str_of(t[0]));
            return ty_any;
        }
        return ty_tensor(T_FLOAT, 0, t[0]->rank, t[0]->dims);
    }
    need_num(c, a[0], t[0], fn, 1);
    return ty_float;
}

/* abs and relu keep int and fixed, scalars and tensors alike */
static type *r_abs(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[0]->kind == T_INT || t[0]->kind == T_FIXED) return t[0];
    if (t[0]->kind == T_TENSOR && (t[0]->elem == T_INT || t[0]->elem == T_FIXED)) return t[0];
    return r_math(c, call, a, t, n);
}

static type *r_len(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[0]->kind != T_TENSOR && t[0]->kind != T_STR && t[0]->kind != T_ANY && t[0]->kind != T_OBJ)
        ck_error(c, a[0], "len: needs a tensor or a str, not %s", ty_str_of(t[0]));
    return ty_int;
}

static type *r_outer(checker *c, node *call, node **a, type **t, int n)
{
    type *o = ck_obj_method(c, call, "outer", t, n);
    if (o) return o;
    need_tensor(c, a[0], t[0], "outer", 1);
    need_tensor(c, a[1], t[1], "outer", 2);
    int64_t d[2] = {t[0]->kind == T_TENSOR && t[0]->rank == 1 ? t[0]->dims[0] : DIM_ANY,
                    t[1]->kind == T_TENSOR && t[1]->rank == 1 ? t[1]->dims[0] : DIM_ANY};
    if (t[0]->kind != T_TENSOR || t[1]->kind != T_TENSOR) return ty_tensor(T_ANY, 0, 2, d);
    /* the element type of a[i] * b[j] */
    int frac = 0;
    tkind e = t[0]->elem == T_BOOL || t[1]->elem == T_BOOL
                  ? T_VOID
                  : ck_arith_kind(t[0]->elem, t[1]->elem, t[0]->frac, t[1]->frac, &frac, HE_OP_MUL);
    if (e == T_VOID) {
        ck_error(c, call, "outer: cannot multiply %s by %s", ty_str_of(t[0]), ty_str_of(t[1]));
        return ty_any;
    }
    return ty_tensor(e, frac, 2, d);
}

static type *r_onehot(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_int(c, a[1], t[1], "one_hot", 2);
    int64_t k = a[1]->kind == N_INT ? a[1]->ival : DIM_ANY;
    if (t[0]->kind == T_TENSOR) { /* a tensor of labels: one row each */
        if (t[0]->elem != T_INT && t[0]->elem != T_ANY) {
            ck_error(c, a[0], "one_hot: the labels must be int, not %s", ty_str_of(t[0]));
            return ty_any;
        }
        if (t[0]->rank < 0 || t[0]->rank >= MAXRANK) return ty_tensor(T_FLOAT, 0, -1, NULL);
        int64_t d[MAXRANK];
        memcpy(d, t[0]->dims, sizeof d);
        d[t[0]->rank] = k;
        return ty_tensor(T_FLOAT, 0, t[0]->rank + 1, d);
    }
    need_int(c, a[0], t[0], "one_hot", 1);
    return ty_tensor(T_FLOAT, 0, 1, &k);
}

static type *r_load_npy(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[0]->kind != T_STR && t[0]->kind != T_ANY) ck_error(c, a[0], "load_npy: the path must be a str");
    return ty_tensor(T_ANY, 0, -1, NULL);
}

static type *r_save_npy(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[0]->kind != T_STR && t[0]->kind != T_ANY) ck_error(c, a[0], "save_npy: the path must be a str");
    if (!refuse_secret(c, a[1], t[1], "saved in the clear")) need_tensor(c, a[1], t[1], "save_npy", 2);
    return ty_void;
}

static type *r_assert(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (t[0]->kind != T_BOOL && t[0]->kind != T_ANY) ck_error(c, a[0], "assert: the condition must be bool, not %s", ty_str_of(t[0]));
    if (n > 1 && t[1]->kind != T_STR && t[1]->kind != T_ANY) ck_error(c, a[1], "assert: the message must be a str");
    return ty_void;
}

static type *r_error(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (t[0]->kind != T_STR && t[0]->kind != T_ANY) ck_error(c, a[0], "error: the message must be a str");
    return ty_void;
}

static type *r_argv(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_int(c, a[0], t[0], "argv", 1);
    return ty_str;
}

static type *r_conv(checker *c, node *call, node **a, type **t, int n)
{
    (void)c; (void)call; (void)a; (void)t; (void)n;
    return ty_any; /* N_CONV is typed by the checker itself */
}


/* --- shapes, gathers, joins (issue 15) ------------------------------------------------------ */
static type *r_shape(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    const char *fn = builtins[call->bi].name;
    if (!need_tensor(c, a[0], t[0], fn, 1) || strcmp(fn, "shape") != 0) return ty_int; /* ndim, size */
    int64_t d = t[0]->kind == T_TENSOR && t[0]->rank >= 0 ? t[0]->rank : DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static bool need_rng(checker *c, node *at, type *t, const char *fn)
{
    if (t->kind == T_ANY || (t->kind == T_OBJ && t->name && strcmp(t->name, "rng") == 0)) return true;
    ck_error(c, at, "%s: argument 1 must be a generator made by rng(seed), not %s", fn, ty_str_of(t));
    return false;
}

static type *r_permutation(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_rng(c, a[0], t[0], "permutation");
    need_int(c, a[1], t[1], "permutation", 2);
    int64_t d = a[1]->kind == N_INT ? a[1]->ival : DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_shuffle(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    need_rng(c, a[0], t[0], "shuffle");
    if (!need_tensor(c, a[1], t[1], "shuffle", 2)) return ty_any;
    return t[1];
}

/* An int tensor of indices (or one int) for take and gather. */
static bool need_indices(checker *c, node *at, type *t, const char *fn, int i)
{
    if (t->kind == T_ANY || t->kind == T_INT || (t->kind == T_TENSOR && (t->elem == T_INT || t->elem == T_ANY)))
        return true;
    ck_error(c, at, "%s: argument %d must be an int tensor of indices, not %s", fn, i, ty_str_of(t));
    return false;
}

static type *r_take(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = builtins[call->bi].name;
    bool ok = need_tensor(c, a[0], t[0], fn, 1) & need_indices(c, a[1], t[1], fn, 2);
    if (n > 2) need_int(c, a[2], t[2], fn, 3);
    if (!ok || t[0]->kind != T_TENSOR) return ty_any;
    if (strcmp(fn, "gather") == 0) /* the indices' shape */
        return ty_tensor(t[0]->elem, t[0]->frac, t[1]->kind == T_TENSOR ? t[1]->rank : -1,
                         t[1]->kind == T_TENSOR ? t[1]->dims : NULL);
    int ir = t[1]->kind == T_INT ? 0 : t[1]->kind == T_TENSOR ? t[1]->rank : -1;
    int r = t[0]->rank < 0 || ir < 0 ? -1 : t[0]->rank - 1 + ir;
    if (r == 0) return elem_type(t[0]);
    return ty_tensor(t[0]->elem, t[0]->frac, r, NULL);
}

/* concat(a, b, ... [, axis]), stack(a, b, ... [, axis]) */
static type *r_join(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = builtins[call->bi].name;
    int nt = n;
    if (n > 1 && t[n - 1]->kind == T_INT) nt = n - 1;
    type *first = NULL;
    bool any = false;
    for (int i = 0; i < nt; i++) {
        if (!need_tensor(c, a[i], t[i], fn, i + 1)) return ty_any;
        if (t[i]->kind != T_TENSOR || t[i]->elem == T_ANY) any = true;
        else if (!first) first = t[i];
        else if (t[i]->elem != first->elem || t[i]->frac != first->frac) {
            ck_error(c, call, "%s: element types differ (%s and %s)", fn, ty_str_of(first), ty_str_of(t[i]));
            return ty_any;
        }
    }
    if (!first || any) return ty_any;
    int r = first->rank < 0 ? -1 : strcmp(fn, "stack") == 0 ? first->rank + 1 : first->rank;
    return ty_tensor(first->elem, first->frac, r, NULL);
}

static type *r_where(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    if (t[0]->kind != T_ANY && !(t[0]->kind == T_TENSOR && (t[0]->elem == T_BOOL || t[0]->elem == T_ANY))) {
        ck_error(c, a[0], "where: the condition must be a bool tensor, not %s", ty_str_of(t[0]));
        return ty_any;
    }
    tkind e[2];
    int f[2];
    for (int i = 1; i < 3; i++) {
        type *x = t[i];
        e[i - 1] = x->kind == T_TENSOR ? x->elem : x->kind;
        f[i - 1] = x->frac;
        if (e[i - 1] != T_INT && e[i - 1] != T_FLOAT && e[i - 1] != T_FIXED && e[i - 1] != T_BOOL &&
            e[i - 1] != T_ANY) {
            ck_error(c, a[i], "where: argument %d must be a tensor or a number, not %s", i + 1, ty_str_of(x));
            return ty_any;
        }
    }
    int frac = 0;
    tkind r;
    if (e[0] == T_ANY || e[1] == T_ANY) r = T_ANY;
    else if (e[0] == e[1] && f[0] == f[1]) r = e[0], frac = f[0];
    else if (e[0] == T_BOOL || e[1] == T_BOOL || (e[0] == T_FIXED && e[1] == T_FIXED)) r = T_VOID;
    else if (e[0] == T_FLOAT || e[1] == T_FLOAT) r = T_FLOAT;
    else r = T_FIXED, frac = e[0] == T_FIXED ? f[0] : f[1];
    if (r == T_VOID) {
        ck_error(c, call, "where: cannot mix %s and %s", ty_str_of(t[1]), ty_str_of(t[2]));
        return ty_any;
    }
    int rank = 0;
    for (int i = 0; i < 3; i++) {
        int ri = t[i]->kind == T_TENSOR ? t[i]->rank : t[i]->kind == T_ANY ? -1 : 0;
        if (ri < 0 || rank < 0) rank = -1;
        else if (ri > rank) rank = ri;
    }
    return ty_tensor(r, frac, rank, NULL);
}

static type *r_clip(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (!need_tensor(c, a[0], t[0], "clip", 1)) return ty_any;
    need_num(c, a[1], t[1], "clip", 2);
    need_num(c, a[2], t[2], "clip", 3);
    if (t[0]->kind == T_TENSOR && t[0]->elem == T_BOOL) {
        ck_error(c, a[0], "clip: needs numbers, not %s", ty_str_of(t[0]));
        return ty_any;
    }
    if (t[0]->kind == T_TENSOR && t[0]->elem == T_INT)
        for (int i = 1; i < 3; i++)
            if (t[i]->kind == T_FLOAT || t[i]->kind == T_FIXED)
                ck_error(c, a[i], "clip: the bounds of an int tensor must be int, not %s", ty_str_of(t[i]));
    return t[0];
}

static type *r_cumsum(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (!need_tensor(c, a[0], t[0], "cumsum", 1)) return ty_any;
    if (n > 1) need_int(c, a[1], t[1], "cumsum", 2);
    if (t[0]->kind != T_TENSOR) return ty_any;
    if (t[0]->elem == T_BOOL) {
        ck_error(c, a[0], "cumsum: needs numbers, not %s", ty_str_of(t[0]));
        return ty_any;
    }
    if (n > 1) return t[0];
    int64_t d = 1;
    for (int i = 0; i < t[0]->rank && d != DIM_ANY; i++)
        if (t[0]->dims[i] == DIM_ANY || __builtin_mul_overflow(d, t[0]->dims[i], &d)) d = DIM_ANY;
    if (t[0]->rank < 0) d = DIM_ANY;
    return ty_tensor(t[0]->elem, t[0]->frac, 1, &d);
}

/* --- implementations ------------------------------------------------------------------------ */
static int f_print(he_vm *vm, he_value *a, int n, he_value *out)
{
    he_buf b;
    he_buf_init(&b);
    for (int i = 0; i < n; i++) {
        if (i) he_buf_puts(&b, " ");
        if (he_repr(a[i], &b, false) < 0) {
            he_buf_free(&b);
            return -1;
        }
    }
    he_buf_puts(&b, "\n");
    fwrite(b.data, 1, b.len, vm->out);
    he_buf_free(&b);
    /* stdout that is not a terminal is block-buffered (fast); a print that
    ** comes a second or more after the last write-out writes it out, so a
    ** long run's log shows its progress */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - vm->flushed_at >= 1) {
        fflush(vm->out);
        vm->flushed_at = now.tv_sec;
    }
    *out = he_nil();
    return 0;
}

static int f_flush(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)a; (void)n;
    *out = he_nil();
    if (fflush(vm->out) != 0) return he_error("flush: cannot write the output: %s", strerror(errno));
    return 0;
}

static int f_len(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int64_t len;
    if (a[0].tag != HE_OBJ || !a[0].as.o->type->len) return he_error("len: %s has no length", he_typename(a[0]));
    if (a[0].as.o->type->len(a[0].as.o, &len) < 0) return -1;
    *out = he_int(len);
    return 0;
}

static int f_zeros(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int nd;
    int64_t sh[HE_MAXDIM];
    if (want_shape(a[0], "zeros", &nd, sh) < 0) return -1;
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, nd, sh);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_ones(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int nd;
    int64_t sh[HE_MAXDIM];
    if (want_shape(a[0], "ones", &nd, sh) < 0) return -1;
    he_tensor *t = he_tensor_full(HE_DT_FLOAT, 0, nd, sh, he_float(1.0));
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_full(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int nd;
    int64_t sh[HE_MAXDIM];
    if (want_shape(a[0], "full", &nd, sh) < 0) return -1;
    he_value v = a[1];
    he_dtype dt = v.tag == HE_INT ? HE_DT_INT : v.tag == HE_FLOAT ? HE_DT_FLOAT : v.tag == HE_FIXED ? HE_DT_FIXED
                : v.tag == HE_BOOL ? HE_DT_BOOL : (he_dtype)-1;
    if ((int)dt < 0) return he_error("full: cannot fill a tensor with %s", he_typename(v));
    he_tensor *t = he_tensor_full(dt, v.frac, nd, sh, v);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_arange(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    int64_t start = 0, stop, step = 1;
    if (n == 1) {
        if (want_int(a[0], "arange", 1, &stop) < 0) return -1;
    } else {
        if (want_int(a[0], "arange", 1, &start) < 0 || want_int(a[1], "arange", 2, &stop) < 0) return -1;
        if (n > 2 && want_int(a[2], "arange", 3, &step) < 0) return -1;
    }
    if (step == 0) return he_error("arange: step cannot be zero");
    he_tensor *t = he_tensor_arange(start, stop, step);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_eye(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int64_t k;
    if (want_int(a[0], "eye", 1, &k) < 0) return -1;
    he_tensor *t = he_tensor_eye(k);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

/* A seeded generator as a value. */
typedef struct rng_obj {
    he_obj obj;
    he_prng g;
} rng_obj;
static void rng_free(he_obj *o)
{
    he_prng_wipe(&((rng_obj *)o)->g);
    free(o);
}
static int rng_repr(const he_obj *o, he_buf *b)
{
    (void)o;
    return he_buf_puts(b, "<rng>");
}
static const he_type rng_type = {.name = "rng", .free = rng_free, .repr = rng_repr};

static int f_rng(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int64_t seed;
    if (want_int(a[0], "rng", 1, &seed) < 0) return -1;
    rng_obj *r = he_malloc(sizeof *r);
    if (!r) return -1;
    he_obj_init(&r->obj, &rng_type);
    he_prng_seed(&r->g, (uint64_t)seed);
    *out = he_objv(&r->obj);
    return 0;
}

static int random_common(he_value *a, int n, he_value *out, bool normal)
{
    const char *fn = normal ? "normal" : "uniform";
    if (!he_is(a[0], &rng_type)) return he_error("%s: argument 1 must be a generator made by rng(seed)", fn);
    he_prng *g = &((rng_obj *)a[0].as.o)->g;
    int nd;
    int64_t sh[HE_MAXDIM];
    if (want_shape(a[1], fn, &nd, sh) < 0) return -1;
    double p = normal ? 0.0 : 0.0, q = 1.0;
    if (n > 2 && want_num(a[2], fn, 3, &p) < 0) return -1;
    if (n > 3 && want_num(a[3], fn, 4, &q) < 0) return -1;
    he_tensor *t = normal ? he_tensor_normal(g, nd, sh, p, q) : he_tensor_uniform(g, nd, sh, p, q);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_uniform(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return random_common(a, n, out, false); }
static int f_normal(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return random_common(a, n, out, true); }

/* The builtin `name` on an object argument (a ciphertext, a share): its
** type's method; *done false when no argument is such an object. */
static int obj_method(const char *name, he_value *a, int n, he_value *out, bool *done)
{
    *done = false;
    for (int i = 0; i < n; i++)
        if (a[i].tag == HE_OBJ && a[i].as.o->type->method) {
            *done = true;
            int rc = a[i].as.o->type->method(name, a, n, out);
            return rc == 1 ? he_error("%s: not defined on %s", name, he_typename(a[i])) : rc;
        }
    return 0;
}

int he_obj_transpose(he_value v, he_value *out)
{
    bool done;
    int rc = obj_method("transpose", &v, 1, out, &done);
    return done ? rc : he_error(".T needs a tensor, not %s", he_typename(v));
}

static int f_shape(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    if (want_tensor(a[0], "shape", 1, &t) < 0) return -1;
    int64_t nd = t->ndim;
    he_tensor *r = he_tensor_new(HE_DT_INT, 0, 1, &nd);
    if (!r) return -1;
    for (int d = 0; d < t->ndim; d++) r->data.i[d] = t->shape[d];
    *out = tv(r);
    return 0;
}

static int f_ndim(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    if (want_tensor(a[0], "ndim", 1, &t) < 0) return -1;
    *out = he_int(t->ndim);
    return 0;
}

static int f_size(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    if (want_tensor(a[0], "size", 1, &t) < 0) return -1;
    *out = he_int(t->size);
    return 0;
}

static int want_rng(he_value v, const char *fn, he_prng **g)
{
    if (!he_is(v, &rng_type)) return he_error("%s: argument 1 must be a generator made by rng(seed), not %s", fn, he_typename(v));
    *g = &((rng_obj *)v.as.o)->g;
    return 0;
}

static int f_permutation(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_prng *g = NULL;
    int64_t k;
    if (want_rng(a[0], "permutation", &g) < 0 || want_int(a[1], "permutation", 2, &k) < 0) return -1;
    he_tensor *r = he_tensor_permutation(g, k);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_shuffle(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_prng *g = NULL;
    he_tensor *t;
    if (want_rng(a[0], "shuffle", &g) < 0 || want_tensor(a[1], "shuffle", 2, &t) < 0) return -1;
    if (t->ndim == 0) return he_error("shuffle: cannot shuffle a 0-d tensor");
    he_tensor *p = he_tensor_permutation(g, t->shape[0]);
    he_tensor *r = p ? he_tensor_take(t, p, 0, "shuffle") : NULL;
    if (p) he_release(tv(p));
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

/* The indices of take and gather: an int tensor, or one int as a 0-d tensor. */
static int want_indices(he_value v, const char *fn, he_tensor **idx, bool *made)
{
    *made = false;
    if (v.tag == HE_INT) {
        if (!(*idx = he_tensor_full(HE_DT_INT, 0, 0, NULL, v))) return -1;
        *made = true;
        return 0;
    }
    if (he_is_tensor(v) && he_as_tensor(v)->dtype == HE_DT_INT) {
        *idx = he_as_tensor(v);
        return 0;
    }
    return he_error("%s: argument 2 must be an int tensor of indices, not %s", fn,
                    he_is_tensor(v) ? "another tensor" : he_typename(v));
}

static int take_common(he_value *a, int n, he_value *out, bool along)
{
    const char *fn = along ? "gather" : "take";
    he_tensor *t, *idx = NULL;
    bool made;
    int64_t axis = 0;
    if (want_tensor(a[0], fn, 1, &t) < 0 || want_indices(a[1], fn, &idx, &made) < 0) return -1;
    int rc = -1;
    if (n > 2 && want_int(a[2], fn, 3, &axis) < 0) goto done;
    if (axis < INT32_MIN + 1 || axis > INT32_MAX) axis = INT32_MAX;
    he_tensor *r = along ? he_tensor_take_along(t, idx, (int)axis) : he_tensor_take(t, idx, (int)axis, fn);
    if (!r) goto done;
    rc = 0;
    if (r->ndim == 0) {
        rc = he_tensor_get(r, 0, NULL, out);
        he_release(tv(r));
    } else *out = tv(r);
done:
    if (made) he_release(tv(idx));
    return rc;
}

static int f_take(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return take_common(a, n, out, false); }
static int f_gather(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return take_common(a, n, out, true); }

/* concat(a, b, ... [, axis]) and stack(a, b, ... [, axis]) */
static int join(he_value *a, int n, he_value *out, bool stack)
{
    const char *fn = stack ? "stack" : "concat";
    int64_t axis = 0;
    if (n > 1 && a[n - 1].tag == HE_INT) axis = a[--n].as.i;
    if (axis < INT32_MIN + 1 || axis > INT32_MAX) axis = INT32_MAX;
    he_tensor **ts = he_malloc(sizeof *ts * (size_t)(n ? n : 1));
    if (!ts) return -1;
    for (int i = 0; i < n; i++)
        if (want_tensor(a[i], fn, i + 1, &ts[i]) < 0) {
            he_free(ts);
            return -1;
        }
    he_tensor *r = stack ? he_tensor_stack(n, ts, (int)axis) : he_tensor_concat(n, ts, (int)axis);
    he_free(ts);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_stack(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return join(a, n, out, true); }

static int f_where(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!he_is_tensor(a[0])) return he_error("where: the condition must be a bool tensor, not %s", he_typename(a[0]));
    he_tensor *r = he_tensor_where(he_as_tensor(a[0]), a[1], a[2]);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_clip(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    if (want_tensor(a[0], "clip", 1, &t) < 0) return -1;
    he_tensor *r = he_tensor_clip(t, a[1], a[2]);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_cumsum(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    he_tensor *t;
    int64_t axis = HE_AXIS_ALL;
    if (want_tensor(a[0], "cumsum", 1, &t) < 0) return -1;
    if (n > 1 && want_int(a[1], "cumsum", 2, &axis) < 0) return -1;
    if (n > 1 && (axis >= t->ndim || axis < -t->ndim))
        return he_error("cumsum: axis %lld out of range for a %d-d tensor", (long long)axis, t->ndim);
    he_tensor *r = he_tensor_cumsum(t, (int)axis);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_transpose(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    bool done;
    int rc = obj_method("transpose", a, n, out, &done);
    if (done) return rc;
    he_tensor *t;
    if (want_tensor(a[0], "transpose", 1, &t) < 0) return -1;
    he_tensor *r = he_tensor_transpose(t);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_reshape(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    int nd;
    int64_t sh[HE_MAXDIM];
    if (want_tensor(a[0], "reshape", 1, &t) < 0 || want_shape(a[1], "reshape", &nd, sh) < 0) return -1;
    he_tensor *r = he_tensor_reshape(t, nd, sh);
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

typedef int (*reduce_fn)(const he_tensor *, int, he_value *);
static int reduce(he_value *a, int n, he_value *out, reduce_fn fn, const char *name)
{
    he_tensor *t;
    if (want_tensor(a[0], name, 1, &t) < 0) return -1;
    int64_t axis = HE_AXIS_ALL;
    if (n > 1 && want_int(a[1], name, 2, &axis) < 0) return -1;
    if (n > 1 && (axis >= t->ndim || axis < -t->ndim))
        return he_error("%s: axis %lld out of range for a %d-d tensor", name, (long long)axis, t->ndim);
    return fn(t, (int)axis, out);
}

static int f_sum(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    bool done;
    int rc = obj_method("sum", a, n, out, &done);
    return done ? rc : reduce(a, n, out, he_tensor_sum, "sum");
}

static int f_mean(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    bool done;
    he_value total, count;
    int rc = obj_method("sum", a, n, &total, &done);
    if (!done) return reduce(a, n, out, he_tensor_mean, "mean");
    if (rc < 0) return -1;
    /* an object's mean: its sum divided by the count of what was added */
    rc = a[0].as.o->type->method("count", a, n, &count);
    if (rc == 0 && (count.tag != HE_INT || count.as.i < 1)) rc = he_error("mean: of nothing");
    if (rc == 1) rc = he_error("mean: not defined on %s", he_typename(a[0]));
    if (rc == 0) rc = he_binop(HE_OP_DIV, total, he_float((double)count.as.i), out);
    he_release(total);
    return rc;
}
static int f_argmax(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return reduce(a, n, out, he_tensor_argmax, "argmax"); }

static int maxmin(he_value *a, int n, he_value *out, bool mx)
{
    if (n == 2 && !he_is_tensor(a[0]) && !he_is_tensor(a[1])) {
        he_value lt;
        if (he_binop(HE_OP_LT, a[0], a[1], &lt) < 0) return -1;
        bool pick_b = mx ? lt.as.b : !lt.as.b;
        he_value r = pick_b ? a[1] : a[0];
        /* the static rule (r_maxmin): int with int is int, fixed<N> with
        ** fixed<N> is fixed<N>, any other mix of numbers is float */
        bool num = (a[0].tag == HE_INT || a[0].tag == HE_FLOAT || a[0].tag == HE_FIXED) &&
                   (a[1].tag == HE_INT || a[1].tag == HE_FLOAT || a[1].tag == HE_FIXED);
        if (num && (a[0].tag != a[1].tag || (a[0].tag == HE_FIXED && a[0].frac != a[1].frac))) {
            double d;
            if (want_num(r, mx ? "max" : "min", 1, &d) < 0) return -1;
            r = he_float(d);
        }
        he_retain(r);
        *out = r;
        return 0;
    }
    return reduce(a, n, out, mx ? he_tensor_max : he_tensor_min, mx ? "max" : "min");
}
static int f_max(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return maxmin(a, n, out, true); }
static int f_min(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return maxmin(a, n, out, false); }

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double relu(double x) { return x > 0 ? x : 0.0; }

static int math1(he_value *a, he_value *out, he_math m, double (*fn)(double), const char *name)
{
    if (he_is_tensor(a[0])) {
        he_tensor *r = he_tensor_math(m, he_as_tensor(a[0]));
        if (!r) return -1;
        *out = tv(r);
        return 0;
    }
    double x;
    if (want_num(a[0], name, 1, &x) < 0) return -1;
    *out = he_float(fn(x));
    return 0;
}

#define MATH(name, m, fn) \
    static int f_##name(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; (void)n; return math1(a, out, m, fn, #name); }
MATH(exp, HE_MATH_EXP, exp)
MATH(log, HE_MATH_LOG, log)
MATH(tanh, HE_MATH_TANH, tanh)
MATH(sigmoid, HE_MATH_SIGMOID, sigmoid)
MATH(sqrt, HE_MATH_SQRT, sqrt)
#undef MATH

static int f_relu(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (a[0].tag == HE_INT || a[0].tag == HE_FIXED) {
        *out = a[0];
        if (a[0].as.i < 0) out->as.i = 0;
        return 0;
    }
    return math1(a, out, HE_MATH_RELU, relu, "relu");
}

static int f_abs(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (a[0].tag == HE_INT) {
        if (a[0].as.i == INT64_MIN) return he_error("int overflow in abs");
        *out = he_int(a[0].as.i < 0 ? -a[0].as.i : a[0].as.i);
        return 0;
    }
    if (a[0].tag == HE_FIXED) {
        if (a[0].as.i == INT64_MIN) return he_error("fixed overflow in abs");
        *out = he_fixed_raw(a[0].as.i < 0 ? -a[0].as.i : a[0].as.i, a[0].frac);
        return 0;
    }
    return math1(a, out, HE_MATH_ABS, fabs, "abs");
}

/* floor and round: float results, element-wise on tensors (as r_math says) */
static int float_map(he_value *a, he_value *out, double (*fn)(double), const char *name)
{
    if (he_is_tensor(a[0])) {
        he_tensor *t = he_as_tensor(a[0]);
        if (t->dtype == HE_DT_BOOL) return he_error("%s: needs numbers, not a bool tensor", name);
        he_tensor *r = he_tensor_astype(t, HE_DT_FLOAT, 0);
        if (!r) return -1;
        for (int64_t k = 0; k < r->size; k++) r->data.f[k] = fn(r->data.f[k]);
        *out = tv(r);
        return 0;
    }
    double x;
    if (want_num(a[0], name, 1, &x) < 0) return -1;
    *out = he_float(fn(x));
    return 0;
}

static int f_floor(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    return float_map(a, out, floor, "floor");
}

static int f_round(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    return float_map(a, out, round, "round");
}

static int f_concat(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return join(a, n, out, false); }

static int f_outer(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    bool done;
    int rc0 = obj_method("outer", a, n, out, &done);
    if (done) return rc0;
    he_tensor *x, *y;
    if (want_tensor(a[0], "outer", 1, &x) < 0 || want_tensor(a[1], "outer", 2, &y) < 0) return -1;
    if (x->ndim != 1 || y->ndim != 1) return he_error("outer: needs two 1-d tensors");
    if (x->dtype == HE_DT_BOOL || y->dtype == HE_DT_BOOL) return he_error("outer: needs numbers, not bool");
    /* x as a column times y as a row: the element types and overflow
    ** errors of '*' */
    he_tensor *col = he_tensor_reshape(x, 2, (int64_t[]){x->size, 1});
    he_tensor *row = col ? he_tensor_reshape(y, 2, (int64_t[]){1, y->size}) : NULL;
    int rc = row ? he_tensor_binop(HE_OP_MUL, tv(col), tv(row), out) : -1;
    if (col) he_release(tv(col));
    if (row) he_release(tv(row));
    return rc;
}

static int f_one_hot(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    int64_t i, k;
    if (want_int(a[1], "one_hot", 2, &k) < 0) return -1;
    if (k < 0) return he_error("one_hot: negative number of classes %lld", (long long)k);
    he_tensor *r;
    if (he_is_tensor(a[0])) r = he_tensor_one_hot(he_as_tensor(a[0]), k);
    else {
        if (want_int(a[0], "one_hot", 1, &i) < 0) return -1;
        if (i < 0 || i >= k) return he_error("one_hot: index %lld out of range for size %lld", (long long)i, (long long)k);
        if ((r = he_tensor_new(HE_DT_FLOAT, 0, 1, &k))) r->data.f[i] = 1.0;
    }
    if (!r) return -1;
    *out = tv(r);
    return 0;
}

static int f_load_npy(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!he_is(a[0], &he_str_type)) return he_error("load_npy: the path must be a str");
    he_tensor *t = he_npy_load(he_as_str(a[0])->data);
    if (!t) return -1;
    *out = tv(t);
    return 0;
}

static int f_save_npy(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *t;
    if (!he_is(a[0], &he_str_type)) return he_error("save_npy: the path must be a str");
    if (want_tensor(a[1], "save_npy", 2, &t) < 0) return -1;
    *out = he_nil();
    return he_npy_save(he_as_str(a[0])->data, t);
}

static int f_assert(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    *out = he_nil();
    if (a[0].tag != HE_BOOL) return he_error("assert: the condition must be bool, not %s", he_typename(a[0]));
    if (a[0].as.b) return 0;
    if (n > 1 && he_is(a[1], &he_str_type)) return he_error("assertion failed: %s", he_as_str(a[1])->data);
    return he_error("assertion failed");
}

static int f_error(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n; (void)out;
    return he_error("%s", he_is(a[0], &he_str_type) ? he_as_str(a[0])->data : "error");
}

static int clock_of(clockid_t id, he_value *out)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    *out = he_float((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 0;
}

static int f_clock(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    return clock_of(CLOCK_MONOTONIC, out);
}

/* CPU time of the whole process (the runtime's worker threads included). */
static int f_cpu_clock(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    return clock_of(CLOCK_PROCESS_CPUTIME_ID, out);
}

static int f_argc(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)a; (void)n;
    *out = he_int(vm->argc);
    return 0;
}

static int f_argv(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)n;
    int64_t i;
    if (want_int(a[0], "argv", 1, &i) < 0) return -1;
    if (i < 0 || i >= vm->argc) return he_error("argv: index %lld out of range (%d arguments)", (long long)i, vm->argc);
    he_str *s = he_str_new(vm->argv[i], strlen(vm->argv[i]));
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

/* The folder for temporary files: $TMPDIR when set and not empty, else /tmp
** (POSIX; Python's tempfile.gettempdir does the same). The test runner gives
** each test a private one, so tests never collide. */
static int f_tmpdir(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    const char *d = getenv("TMPDIR");
    if (!d || !*d) d = "/tmp";
    he_str *s = he_str_new(d, strlen(d));
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

static int f_typeof(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    /* a tensor names its element type and shape, as its static type reads */
    he_typestr ts = he_type_full(a[0]);
    const char *s = ts.s;
    he_str *r = he_str_new(s, strlen(s));
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* --- conversions (int(x), float(x), bool(x), str(x), fixed<N>(x)) ----------------------------- */
static int parse_number(const char *s, bool want_int_, he_value *out)
{
    char *end;
    errno = 0;
    if (want_int_) {
        long long v = strtoll(s, &end, 10);
        if (end == s || *end || errno) return he_error("int: cannot parse \"%s\"", s);
        *out = he_int(v);
    } else {
        double v = strtod(s, &end);
        if (end == s || *end) return he_error("float: cannot parse \"%s\"", s);
        *out = he_float(v);
    }
    return 0;
}

static int f_int(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_value v = a[0];
    switch (v.tag) {
    case HE_INT: *out = v; return 0;
    case HE_BOOL: *out = he_int(v.as.b); return 0;
    case HE_FLOAT:
        if (!(v.as.f > -9223372036854775808.0 && v.as.f < 9223372036854775808.0))
            return he_error("int: %g does not fit in an int", v.as.f);
        *out = he_int((int64_t)v.as.f);
        return 0;
    case HE_FIXED: /* toward zero, like float -> int */
        *out = he_int(v.as.i >= 0 || v.frac == 0 ? v.as.i >> v.frac
                                                 : -(int64_t)((0 - (uint64_t)v.as.i) >> v.frac));
        return 0;
    default: break;
    }
    if (he_is(v, &he_str_type)) return parse_number(he_as_str(v)->data, true, out);
    if (he_is_tensor(v)) {
        he_tensor *t = he_tensor_astype(he_as_tensor(v), HE_DT_INT, 0);
        if (!t) return -1;
        *out = tv(t);
        return 0;
    }
    return he_error("int: cannot convert %s", he_typename(v));
}

static int f_float(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_value v = a[0];
    switch (v.tag) {
    case HE_INT: *out = he_float((double)v.as.i); return 0;
    case HE_FLOAT: *out = v; return 0;
    case HE_BOOL: *out = he_float(v.as.b); return 0;
    case HE_FIXED: *out = he_float(he_fixed_to_double(v.as.i, v.frac)); return 0;
    default: break;
    }
    if (he_is(v, &he_str_type)) return parse_number(he_as_str(v)->data, false, out);
    if (he_is_tensor(v)) {
        he_tensor *t = he_tensor_astype(he_as_tensor(v), HE_DT_FLOAT, 0);
        if (!t) return -1;
        *out = tv(t);
        return 0;
    }
    return he_error("float: cannot convert %s", he_typename(v));
}

static int f_bool(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_value v = a[0];
    switch (v.tag) {
    case HE_BOOL: *out = v; return 0;
    case HE_INT: *out = he_bool(v.as.i != 0); return 0;
    case HE_FLOAT: *out = he_bool(v.as.f != 0); return 0;
    case HE_FIXED: *out = he_bool(v.as.i != 0); return 0;
    default: break;
    }
    if (he_is_tensor(v)) {
        he_tensor *t = he_tensor_astype(he_as_tensor(v), HE_DT_BOOL, 0);
        if (!t) return -1;
        *out = tv(t);
        return 0;
    }
    if (he_is(v, &he_str_type)) {
        *out = he_bool(he_as_str(v)->len > 0);
        return 0;
    }
    return he_error("bool: cannot convert %s", he_typename(v));
}

static int f_str(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_buf b;
    he_buf_init(&b);
    if (he_repr(a[0], &b, false) < 0) {
        he_buf_free(&b);
        return -1;
    }
    he_str *s = he_str_new(b.data ? b.data : "", b.len);
    he_buf_free(&b);
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

static int f_fixed(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    int frac = HE_FIXED_DEFAULT_FRAC;
    if (n > 1) {
        if (a[1].tag != HE_INT || a[1].as.i < 0 || a[1].as.i > HE_FIXED_MAXFRAC)
            return he_error("fixed: the fractional bits must be an int in 0..%d", HE_FIXED_MAXFRAC);
        frac = (int)a[1].as.i;
    }
    he_value v = a[0];
    int64_t raw;
    switch (v.tag) {
    case HE_INT:
        if (he_fixed_rescale(v.as.i, 0, frac, &raw) < 0) return -1;
        *out = he_fixed_raw(raw, frac);
        return 0;
    case HE_FLOAT:
        if (he_fixed_from_double(v.as.f, frac, &raw) < 0) return -1;
        *out = he_fixed_raw(raw, frac);
        return 0;
    case HE_FIXED:
        if (he_fixed_rescale(v.as.i, v.frac, frac, &raw) < 0) return -1;
        *out = he_fixed_raw(raw, frac);
        return 0;
    default: break;
    }
    if (he_is_tensor(v)) {
        he_tensor *t = he_tensor_astype(he_as_tensor(v), HE_DT_FIXED, frac);
        if (!t) return -1;
        *out = tv(t);
        return 0;
    }
    return he_error("fixed: cannot convert %s", he_typename(v));
}

/* --- format ---------------------------------------------------------------------------------- */
/* format(fmt, a, b, ...): printf-style. A conversion is
** %[flags][width][.precision]conv with conv one of d i (int), x X (an int
** >= 0, in hex), f F e E g G (a number), s (any value, as print shows
** it), and %% is a '%'. Width and precision are at most 100. The format is
** checked before anything reaches printf: a bad one is an error (at
** compile time when the format is a literal), never undefined behaviour. */
#define FMT_MAX_WIDTH 100

typedef struct fmt_spec {
    char flags[8];
    int width, prec; /* -1: not given */
    char conv;
} fmt_spec;

/* Copies literal text of f from *i to the next conversion into lit (when
** not NULL); 1: a conversion was read into sp, 0: the end, -1: a bad
** format, explained in why. */
static int fmt_scan(const char *f, size_t n, size_t *i, fmt_spec *sp, he_buf *lit, char *why, size_t whylen)
{
    while (*i < n) {
        size_t start = *i;
        while (*i < n && f[*i] != '%') (*i)++;
        if (lit && *i > start && he_buf_add(lit, f + start, *i - start) < 0) return -1;
        if (*i >= n) return 0;
        size_t at = (*i)++; /* the '%' */
        if (*i < n && f[*i] == '%') {
            (*i)++;
            if (lit && he_buf_add(lit, "%", 1) < 0) return -1;
            continue;
        }
        int nf = 0;
        while (*i < n && strchr("-+ 0#", f[*i]) && f[*i]) {
            if (memchr(sp->flags, f[*i], (size_t)nf)) {
                snprintf(why, whylen, "flag '%c' given twice in the conversion at offset %zu", f[*i], at);
                return -1;
            }
            sp->flags[nf++] = f[(*i)++];
        }
        sp->flags[nf] = '\0';
        sp->width = sp->prec = -1;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                if (*i >= n || f[*i] != '.') break;
                (*i)++;
                sp->prec = 0;
            }
            int v = pass ? 0 : -1;
            while (*i < n && f[*i] >= '0' && f[*i] <= '9') {
                v = (v < 0 ? 0 : v) * 10 + (f[(*i)++] - '0');
                if (v > FMT_MAX_WIDTH) {
                    snprintf(why, whylen, "%s above %d in the conversion at offset %zu", pass ? "precision" : "width",
                             FMT_MAX_WIDTH, at);
                    return -1;
                }
            }
            if (pass) sp->prec = v;
            else sp->width = v;
        }
        if (*i >= n) {
            snprintf(why, whylen, "the format ends inside a conversion (offset %zu); write %%%% for a '%%'", at);
            return -1;
        }
        char c = f[(*i)++];
        const char *allowed = strchr("di", c) ? "-+ 0" : strchr("xX", c) ? "-#0" : strchr("fFeEgG", c) ? "-+ 0#" : c == 's' ? "-" : NULL;
        if (!allowed) {
            if (c >= 32 && c < 127)
                snprintf(why, whylen, "unknown conversion '%%%c' at offset %zu (use d i x X f F e E g G s, or %%%% for a '%%')", c, at);
            else
                snprintf(why, whylen, "unknown conversion at offset %zu (use d i x X f F e E g G s, or %%%% for a '%%')", at);
            return -1;
        }
        for (const char *q = sp->flags; *q; q++)
            if (!strchr(allowed, *q)) {
                snprintf(why, whylen, "flag '%c' does not go with '%%%c' (offset %zu)", *q, c, at);
                return -1;
            }
        sp->conv = c;
        return 1;
    }
    return 0;
}

/* The kind of value a conversion takes: 'i' int, 'n' number, 's' any. */
static char fmt_wants(char conv) { return strchr("dixX", conv) ? 'i' : conv == 's' ? 's' : 'n'; }

static type *r_format(checker *c, node *call, node **a, type **t, int n)
{
    if (t[0]->kind != T_STR && t[0]->kind != T_ANY) ck_error(c, a[0], "format: the format must be a str, not %s", ty_str_of(t[0]));
    for (int k = 1; k < n; k++) {
        if (refuse_secret(c, a[k], t[k], "formatted")) continue;
        if (t[k]->kind == T_VOID) ck_error(c, a[k], "format: argument %d is a call that returns nothing", k + 1);
    }
    if (a[0]->kind != N_STR) return ty_str;
    const char *f = a[0]->str;
    size_t len = strlen(f), i = 0;
    int k = 1;
    char why[200];
    fmt_spec sp;
    for (;;) {
        int r = fmt_scan(f, len, &i, &sp, NULL, why, sizeof why);
        if (r < 0) {
            ck_error(c, a[0], "format: %s", why);
            return ty_str;
        }
        if (r == 0) break;
        if (k >= n) {
            ck_error(c, call, "format: the format has more conversions than the %d value%s given", n - 1, n == 2 ? "" : "s");
            return ty_str;
        }
        char w = fmt_wants(sp.conv);
        tkind tk = t[k]->kind;
        if (tk != T_ANY && ((w == 'i' && tk != T_INT) || (w == 'n' && tk != T_INT && tk != T_FLOAT && tk != T_FIXED)))
            ck_error(c, a[k], "format: '%%%c' needs %s, not %s", sp.conv, w == 'i' ? "an int" : "a number", ty_str_of(t[k]));
        k++;
    }
    if (k < n) ck_error(c, a[k], "format: %d value%s given but the format has %d conversion%s", n - 1, n == 2 ? "" : "s",
                        k - 1, k == 2 ? "" : "s");
    return ty_str;
}

static int f_format(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!he_is(a[0], &he_str_type)) return he_error("format: the format must be a str, not %s", he_typename(a[0]));
    he_str *fs = he_as_str(a[0]);
    he_buf b, tmp;
    he_buf_init(&b);
    he_buf_init(&tmp);
    size_t i = 0;
    int k = 1, rc = 0;
    char why[200];
    fmt_spec sp;
    for (;;) {
        int r = fmt_scan(fs->data, fs->len, &i, &sp, &b, why, sizeof why);
        if (r < 0) {
            rc = he_error("format: %s", why);
            break;
        }
        if (r == 0) break;
        if (k >= n) {
            rc = he_error("format: the format has more conversions than the %d value%s given", n - 1, n == 2 ? "" : "s");
            break;
        }
        he_value v = a[k++];
        char w = fmt_wants(sp.conv);
        char cf[40];
        int m = snprintf(cf, sizeof cf, "%%%s", sp.flags);
        if (sp.width >= 0) m += snprintf(cf + m, sizeof cf - (size_t)m, "%d", sp.width);
        if (sp.prec >= 0) m += snprintf(cf + m, sizeof cf - (size_t)m, ".%d", sp.prec);
        if (w == 'i') {
            if (v.tag != HE_INT) {
                rc = he_error("format: '%%%c' needs an int, not %s (value %d)", sp.conv, he_typename(v), k - 1);
                break;
            }
            if (sp.conv != 'd' && sp.conv != 'i' && v.as.i < 0) {
                rc = he_error("format: '%%%c' needs an int >= 0, not %lld (value %d)", sp.conv, (long long)v.as.i, k - 1);
                break;
            }
            snprintf(cf + m, sizeof cf - (size_t)m, "ll%c", sp.conv);
            rc = he_buf_printf(&b, cf, (long long)v.as.i);
        } else if (w == 'n') {
            double d;
            if (v.tag == HE_INT) d = (double)v.as.i;
            else if (v.tag == HE_FLOAT) d = v.as.f;
            else if (v.tag == HE_FIXED) d = he_fixed_to_double(v.as.i, v.frac);
            else {
                rc = he_error("format: '%%%c' needs a number, not %s (value %d)", sp.conv, he_typename(v), k - 1);
                break;
            }
            snprintf(cf + m, sizeof cf - (size_t)m, "%c", sp.conv);
            rc = he_buf_printf(&b, cf, d);
        } else {
            tmp.len = 0;
            if ((rc = he_repr(v, &tmp, false)) < 0) break;
            size_t len = tmp.len;
            if (sp.prec >= 0 && (size_t)sp.prec < len) len = (size_t)sp.prec;
            size_t pad = sp.width > 0 && (size_t)sp.width > len ? (size_t)sp.width - len : 0;
            bool left = strchr(sp.flags, '-') != NULL;
            for (size_t q = 0; rc == 0 && !left && q < pad; q++) rc = he_buf_add(&b, " ", 1);
            if (rc == 0 && len) rc = he_buf_add(&b, tmp.data, len);
            for (size_t q = 0; rc == 0 && left && q < pad; q++) rc = he_buf_add(&b, " ", 1);
        }
        if (rc < 0) break;
    }
    if (rc == 0 && k < n)
        rc = he_error("format: %d value%s given but the format has %d conversion%s", n - 1, n == 2 ? "" : "s", k - 1,
                      k == 2 ? "" : "s");
    he_buf_free(&tmp);
    if (rc < 0) {
        he_buf_free(&b);
        return -1;
    }
    he_str *s = he_str_new(b.data ? b.data : "", b.len);
    he_buf_free(&b);
    if (!s) return he_error("out of memory");
    *out = he_objv(&s->obj);
    return 0;
}

/* --- the table --------------------------------------------------------------------------------- */
static const builtin core_builtins[] = {
    {"print", NULL, 0, -1, f_print, r_print, "print(a, b, ...): prints values separated by spaces"},
    {"format", NULL, 1, -1, f_format, r_format, "format(fmt, a, ...): printf-style text: %d %i %x %X %f %e %g %s, width and precision (%8.3f)"},
    {"flush", NULL, 0, 0, f_flush, r_print, "flush(): writes out now what print has buffered (output to a file or a pipe)"},
    {"len", NULL, 1, 1, f_len, r_len, "len(x): rows of a tensor, or bytes of a str"},
    {"zeros", NULL, 1, 1, f_zeros, r_zeros, "zeros([d0, d1, ...]): a float tensor of zeros"},
    {"ones", NULL, 1, 1, f_ones, r_zeros, "ones([d0, d1, ...]): a float tensor of ones"},
    {"full", NULL, 2, 2, f_full, r_full, "full(shape, value): a tensor filled with value"},
    {"arange", NULL, 1, 3, f_arange, r_arange, "arange([start,] stop [, step]): an int tensor"},
    {"eye", NULL, 1, 1, f_eye, r_eye, "eye(n): the n x n identity (float)"},
    {"rng", NULL, 1, 1, f_rng, r_rng, "rng(seed): a reproducible random generator"},
    {"uniform", NULL, 2, 4, f_uniform, r_random, "uniform(g, shape [, lo, hi]): uniform floats in [lo, hi)"},
    {"normal", NULL, 2, 4, f_normal, r_random, "normal(g, shape [, mean, std]): normal floats"},
    {"transpose", NULL, 1, 1, f_transpose, r_transpose, "transpose(t): reversed axes (also t.T)"},
    {"reshape", NULL, 2, 2, f_reshape, r_reshape, "reshape(t, shape): same data, new shape (one -1 allowed)"},
    {"sum", NULL, 1, 2, f_sum, r_sum, "sum(t [, axis])"},
    {"mean", NULL, 1, 2, f_mean, r_mean, "mean(t [, axis]): float"},
    {"max", NULL, 1, 2, f_max, r_maxmin, "max(t [, axis]) or max(a, b)"},
    {"min", NULL, 1, 2, f_min, r_maxmin, "min(t [, axis]) or min(a, b)"},
    {"argmax", NULL, 1, 2, f_argmax, r_argmax, "argmax(t [, axis]): index of the first maximum"},
    {"exp", NULL, 1, 1, f_exp, r_math, "exp(x): element-wise on tensors"},
    {"log", NULL, 1, 1, f_log, r_math, "log(x): natural logarithm"},
    {"tanh", NULL, 1, 1, f_tanh, r_math, "tanh(x)"},
    {"sigmoid", NULL, 1, 1, f_sigmoid, r_math, "sigmoid(x) = 1 / (1 + exp(-x))"},
    {"sqrt", NULL, 1, 1, f_sqrt, r_math, "sqrt(x)"},
    {"relu", NULL, 1, 1, f_relu, r_abs, "relu(x) = max(x, 0)"},
    {"abs", NULL, 1, 1, f_abs, r_abs, "abs(x)"},
    {"floor", NULL, 1, 1, f_floor, r_math, "floor(x): float"},
    {"round", NULL, 1, 1, f_round, r_math, "round(x): float, halves away from zero"},
    {"concat", NULL, 1, -1, f_concat, r_join, "concat(a, b, ... [, axis]): tensors joined along an axis (default 0)"},
    {"stack", NULL, 1, -1, f_stack, r_join, "stack(a, b, ... [, axis]): tensors of one shape joined along a new axis"},
    {"shape", NULL, 1, 1, f_shape, r_shape, "shape(t): the dimensions of a tensor, an int tensor (also t.shape)"},
    {"ndim", NULL, 1, 1, f_ndim, r_shape, "ndim(t): the number of dimensions of a tensor"},
    {"size", NULL, 1, 1, f_size, r_shape, "size(t): the number of elements of a tensor"},
    {"permutation", NULL, 2, 2, f_permutation, r_permutation, "permutation(g, n): 0..n-1 in a random order drawn from g"},
    {"shuffle", NULL, 2, 2, f_shuffle, r_shuffle, "shuffle(g, t): a copy of t with its rows in a random order drawn from g"},
    {"take", NULL, 2, 3, f_take, r_take, "take(t, idx [, axis]): the entries idx (an int tensor) along axis (default 0)"},
    {"gather", NULL, 3, 3, f_gather, r_take, "gather(t, idx, axis): r[..i..] = t[..idx[..i..]..] along axis (PyTorch's gather)"},
    {"where", NULL, 3, 3, f_where, r_where, "where(cond, a, b): a where cond is true, else b (broadcast)"},
    {"clip", NULL, 3, 3, f_clip, r_clip, "clip(t, lo, hi): elements limited to [lo, hi]"},
    {"cumsum", NULL, 1, 2, f_cumsum, r_cumsum, "cumsum(t [, axis]): running sums (of the flattened tensor without an axis)"},
    {"outer", NULL, 2, 2, f_outer, r_outer, "outer(a, b): the outer product of two vectors (a[i] * b[j])"},
    {"one_hot", NULL, 2, 2, f_one_hot, r_onehot, "one_hot(i, n): float vector with a 1 at i; one_hot(labels, n): one row per label"},
    {"load_npy", NULL, 1, 1, f_load_npy, r_load_npy, "load_npy(path): a tensor from a NumPy .npy file"},
    {"save_npy", NULL, 2, 2, f_save_npy, r_save_npy, "save_npy(path, t): writes a NumPy .npy file"},
    {"assert", NULL, 1, 2, f_assert, r_assert, "assert(cond [, message]): a runtime error when cond is false"},
    {"error", NULL, 1, 1, f_error, r_error, "error(message): stops with a runtime error"},
    {"clock", NULL, 0, 0, f_clock, r_float, "clock(): seconds from a monotonic clock"},
    {"cpu_clock", NULL, 0, 0, f_cpu_clock, r_float,
     "cpu_clock(): seconds of CPU time used by the process, all its threads (for timings on a busy machine)"},
    {"argc", NULL, 0, 0, f_argc, r_int, "argc(): number of script arguments"},
    {"argv", NULL, 1, 1, f_argv, r_argv, "argv(i): script argument i (a str)"},
    {"tmpdir", NULL, 0, 0, f_tmpdir, r_str, "tmpdir(): the folder for temporary files ($TMPDIR, else /tmp)"},
    {"typeof", NULL, 1, 1, f_typeof, r_str, "typeof(x): the run-time type name"},
    /* conversions: reached through int(x), float(x), ... (keywords) */
    {"int", NULL, 1, 1, f_int, r_conv, NULL},
    {"float", NULL, 1, 1, f_float, r_conv, NULL},
    {"bool", NULL, 1, 1, f_bool, r_conv, NULL},
    {"str", NULL, 1, 1, f_str, r_conv, NULL},
    {"fixed", NULL, 1, 2, f_fixed, r_conv, NULL},
};
static builtin *all_builtins;
const builtin *builtins;
int nbuiltins;

void builtins_init(void)
{
    if (all_builtins) return;
    int n = (int)(sizeof core_builtins / sizeof core_builtins[0]);
    for (int m = 0; native_modules[m]; m++) n += native_modules[m]->nfns;
    all_builtins = malloc(sizeof(builtin) * (size_t)n);
    if (!all_builtins) he_misuse("out of memory");
    int k = 0;
    for (size_t i = 0; i < sizeof core_builtins / sizeof core_builtins[0]; i++) all_builtins[k++] = core_builtins[i];
    for (int m = 0; native_modules[m]; m++)
        for (int i = 0; i < native_modules[m]->nfns; i++) {
            all_builtins[k] = native_modules[m]->fns[i];
            all_builtins[k].module = native_modules[m]->name;
            k++;
        }
    builtins = all_builtins;
    nbuiltins = k;
}

void builtins_free(void)
{
    free(all_builtins);
    all_builtins = NULL;
    builtins = NULL;
    nbuiltins = 0;
}

int builtin_find(const char *name)
{
    for (int i = 0; i < nbuiltins; i++)
        if (!builtins[i].module && strcmp(builtins[i].name, name) == 0) return i;
    he_misuse("unknown builtin");
}

const native_module *native_module_find(const char *name)
{
    for (int m = 0; native_modules[m]; m++)
        if (strcmp(native_modules[m]->name, name) == 0) return native_modules[m];
    return NULL;
}

