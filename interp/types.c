/*
** types.c: static types, interned for the life of the process.
*/
#include <stdlib.h>
#include <string.h>

#include "ast.h"

static type **all;
static size_t nall, capall;

static type *new_type(tkind k)
{
    type *t = calloc(1, sizeof *t);
    if (!t) he_misuse("out of memory (types)");
    if (nall == capall) {
        capall = capall ? capall * 2 : 64;
        all = realloc(all, capall * sizeof *all);
        if (!all) he_misuse("out of memory (types)");
    }
    all[nall++] = t;
    t->kind = k;
    t->rank = -1;
    return t;
}

type *ty_any, *ty_void, *ty_nil, *ty_bool, *ty_int, *ty_float, *ty_str;

void types_init(void)
{
    if (ty_any) return;
    ty_any = new_type(T_ANY);
    ty_void = new_type(T_VOID);
    ty_nil = new_type(T_NIL);
    ty_bool = new_type(T_BOOL);
    ty_int = new_type(T_INT);
    ty_float = new_type(T_FLOAT);
    ty_str = new_type(T_STR);
}

void types_free_all(void)
{
    for (size_t i = 0; i < nall; i++) {
        free(all[i]->params);
        free((char *)(all[i]->kind == T_OBJ ? all[i]->name : NULL));
        free(all[i]);
    }
    free(all);
    all = NULL;
    nall = capall = 0;
    ty_any = ty_void = ty_nil = ty_bool = ty_int = ty_float = ty_str = NULL;
}

bool ty_equal(const type *a, const type *b)
{
    if (a == b) return true;
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case T_FIXED: return a->frac == b->frac;
    case T_TENSOR:
        if (a->elem != b->elem || a->rank != b->rank) return false;
        if (a->elem == T_FIXED && a->frac != b->frac) return false;
        for (int i = 0; i < a->rank; i++)
            if (a->dims[i] != b->dims[i]) return false;
        return true;
    case T_FN:
        if (a->nparams != b->nparams || !ty_equal(a->ret, b->ret)) return false;
        for (int i = 0; i < a->nparams; i++)
            if (!ty_equal(a->params[i], b->params[i])) return false;
        return true;
    case T_OBJ: return strcmp(a->name, b->name) == 0;
    case T_MODULE: return a->module == b->module;
    default: return true;
    }
}

static type *intern(type *t)
{
    for (size_t i = 0; i + 1 < nall; i++)
        if (all[i]->kind == t->kind && ty_equal(all[i], t)) {
            /* drop t: it is the last one allocated */
            nall--;
            free(t->params);
            if (t->kind == T_OBJ) free((char *)t->name);
            free(t);
            return all[i];
        }
    return t;
}

type *ty_fixed(int frac)
{
    type *t = new_type(T_FIXED);
    t->frac = frac;
    return intern(t);
}

type *ty_tensor(tkind elem, int frac, int rank, const int64_t *dims)
{
    type *t = new_type(T_TENSOR);
    t->elem = elem;
    t->frac = elem == T_FIXED ? frac : 0;
    t->rank = rank > MAXRANK ? -1 : rank; /* never more dims than the type can hold (callers report the error) */
    for (int i = 0; i < rank && i < MAXRANK; i++) t->dims[i] = dims ? dims[i] : DIM_ANY;
    return intern(t);
}

type *ty_fn(int nparams, type **params, type *ret)
{
    type *t = new_type(T_FN);
    t->nparams = nparams;
    if (nparams > 0) {
        t->params = malloc(sizeof(type *) * (size_t)nparams);
        if (!t->params) he_misuse("out of memory (types)");
        memcpy(t->params, params, sizeof(type *) * (size_t)nparams);
    }
    t->ret = ret;
    return intern(t);
}

type *ty_obj(const char *name)
{
    type *t = new_type(T_OBJ);
    t->name = strdup(name);
    return intern(t);
}

type *ty_module(struct module *m)
{
    type *t = new_type(T_MODULE);
    t->module = m;
    return intern(t);
}

static const char *kind_name(tkind k)
{
    switch (k) {
    case T_ANY: return "any";
    case T_VOID: return "void";
    case T_NIL: return "nil";
    case T_BOOL: return "bool";
    case T_INT: return "int";
    case T_FLOAT: return "float";
    case T_FIXED: return "fixed";
    case T_STR: return "str";
    case T_TENSOR: return "tensor";
    case T_FN: return "fn";
    case T_MODULE: return "module";
    case T_OBJ: return "object";
    }
    return "?";
}

void ty_format(const type *t, he_buf *b)
{
    switch (t->kind) {
    case T_FIXED: he_buf_printf(b, "fixed<%d>", t->frac); break;
    case T_TENSOR:
        if (t->elem == T_FIXED) he_buf_printf(b, "fixed<%d>", t->frac);
        else he_buf_puts(b, kind_name(t->elem));
        he_buf_puts(b, "[");
        for (int i = 0; i < t->rank; i++) {
            if (i) he_buf_puts(b, ", ");
            if (t->dims[i] == DIM_ANY) he_buf_puts(b, "?");
            else he_buf_printf(b, "%lld", (long long)t->dims[i]);
        }
        he_buf_puts(b, "]");
        break;
    case T_FN:
        he_buf_puts(b, "fn(");
        if (t->nparams < 0) he_buf_puts(b, "...");
        for (int i = 0; i < t->nparams; i++) {
            if (i) he_buf_puts(b, ", ");
            ty_format(t->params[i], b);
        }
        he_buf_puts(b, ")");
        if (t->ret && t->ret->kind != T_VOID) {
            he_buf_puts(b, " -> ");
            ty_format(t->ret, b);
        }
        break;
    case T_OBJ: he_buf_puts(b, t->name); break;
    default: he_buf_puts(b, kind_name(t->kind)); break;
    }
}

const char *ty_str_of(const type *t)
{
    static _Thread_local char bufs[4][256];
    static _Thread_local int k;
    he_buf b;
    he_buf_init(&b);
    ty_format(t, &b);
    char *o = bufs[k++ & 3];
    snprintf(o, 256, "%s", b.data ? b.data : "");
    he_buf_free(&b);
    return o;
}

/* --- relations the checker and the compiler share ------------------------------------------ */
type *elem_type(const type *t)
{
    switch (t->elem) {
    case T_INT: return ty_int;
    case T_FLOAT: return ty_float;
    case T_FIXED: return ty_fixed(t->frac);
    case T_BOOL: return ty_bool;
    default: return ty_any;
    }
}

/* 0 ok, 1 ok after int->float, 2 ok after a run-time check, -1 no. */
int ty_assignable(const type *src, const type *dst)
{
    if (dst->kind == T_ANY) return 0;
    if (src->kind == T_ANY) return 2;
    if (ty_equal(src, dst)) return 0;
    if (src->kind == T_INT && dst->kind == T_FLOAT) return 1;
    if (src->kind == T_TENSOR && dst->kind == T_TENSOR) {
        int r = 0;
        if (dst->elem != T_ANY) {
            if (src->elem == T_ANY) r = 2;
            else if (src->elem != dst->elem || (src->elem == T_FIXED && src->frac != dst->frac)) return -1;
        }
        if (dst->rank >= 0) {
            if (src->rank < 0) return 2;
            if (src->rank != dst->rank) return -1;
            for (int i = 0; i < dst->rank; i++) {
                if (dst->dims[i] == DIM_ANY) continue;
                if (src->dims[i] == DIM_ANY) r = 2;
                else if (src->dims[i] != dst->dims[i]) return -1;
            }
        }
        return r;
    }
    if (src->kind == T_FN && dst->kind == T_FN) {
        /* a builtin's type says nothing: checked when called */
        if (src->nparams < 0 || dst->nparams < 0) return 2;
        if (src->nparams != dst->nparams) return -1;
        int r = 0;
        for (int i = 0; i < src->nparams; i++) {
            /* what callers pass (dst's parameter) must be accepted by the function */
            int a = ty_assignable(dst->params[i], src->params[i]);
            if (a < 0) return -1;
            if (a == 2) r = 2;
        }
        type *sr = src->ret ? src->ret : ty_any, *dr = dst->ret ? dst->ret : ty_any;
        if (dr->kind == T_VOID) return sr->kind == T_VOID || sr->kind == T_ANY ? r : -1;
        int b = ty_assignable(sr, dr);
        if (b < 0 || (b == 1)) return -1; /* int -> float results would need a conversion */
        return b == 2 ? 2 : r;             /* calls through values check arguments and results anyway */
    }
    return -1;
}
