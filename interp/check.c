/*
** check.c: name resolution and static types.
**
** Every expression gets a type; a value whose type is only known at run
** time has type any and is checked where it flows into a typed place
** (compile.c emits CHECK). Errors: file:line:col, the line, a caret; the
** checker reports every error it finds and keeps going.
**
** Checking never runs code: an import is checked from the module's source
** (see import_module); the module runs when the program does (OP_IMPORT).
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tensor.h" /* element type names */

typedef struct scope {
    sym *syms;
    struct scope *parent;
} scope;

typedef struct funcstate {
    struct funcstate *parent;
    fndecl *fn;     /* NULL: a module's top level */
    type *ret;      /* declared, or inferred so far (NULL: none yet) */
    bool ret_declared;
    scope *sc;
    int loops;
    sym **caps;
    int ncaps, capcaps;
    int nlocals;
} funcstate;

struct checker {
    const ck_env *env;
    module *mod;
    he_parser *ps;
    funcstate *fs;
    bool repl;
    int errors;
    int depth;       /* nesting of expressions being checked */
    bool too_deep;   /* reported once */
    /* the loops open now, outermost first, across nested functions, by
    ** serial number: which captured locals need a cell (see box_if_needed) */
    unsigned *loops;
    int nloops, caploops;
    unsigned loop_serial;
};

/* Deeper expressions are refused: checking and compiling recurse on the
** tree, and a long chain a + b + c + ... is as deep as it is long. */
#define MAX_NEST 1000

static void ck_verror_at(checker *c, int line, int col, const char *fmt, va_list ap) HE_PRINTF(4, 0);
static void ck_verror_at(checker *c, int line, int col, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    c->errors++;
    if (c->errors == 21) fprintf(c->env->err, "%s: too many errors; the first 20 are shown\n", c->ps->file);
    if (c->errors > 20) return;
    he_report(c->env->err, c->ps->file, c->ps->src, c->ps->srclen, line, col, "error", msg);
}

void ck_error(checker *c, node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ck_verror_at(c, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

static void ck_error_at(checker *c, int line, int col, const char *fmt, ...) HE_PRINTF(4, 5);
static void ck_error_at(checker *c, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ck_verror_at(c, line, col, fmt, ap);
    va_end(ap);
}

static type *join(type *a, type *b)
{
    if (!a) return b;
    if (!b) return a;
    if (ty_equal(a, b)) return a;
    if (a->kind == T_ANY || b->kind == T_ANY) return ty_any;
    if ((a->kind == T_INT && b->kind == T_FLOAT) || (a->kind == T_FLOAT && b->kind == T_INT)) return ty_float;
    if (a->kind == T_TENSOR && b->kind == T_TENSOR) {
        tkind e = a->elem == b->elem && a->frac == b->frac ? a->elem : T_ANY;
        if (a->rank != b->rank) return ty_tensor(e, a->frac, -1, NULL);
        int64_t d[MAXRANK];
        for (int i = 0; i < a->rank; i++) d[i] = a->dims[i] == b->dims[i] ? a->dims[i] : DIM_ANY;
        return ty_tensor(e, a->frac, a->rank, d);
    }
    return NULL;
}

/* Element kind of an arithmetic result, or T_VOID when not allowed. */
tkind ck_arith_kind(tkind a, tkind b, int fa, int fb, int *frac, he_op op)
{
    *frac = 0;
    if (a == T_ANY || b == T_ANY) return T_ANY;
    if (a == T_INT && b == T_INT) return (op == HE_OP_POW) ? T_INT : T_INT;
    if ((a == T_INT || a == T_FLOAT) && (b == T_INT || b == T_FLOAT)) return T_FLOAT;
    if ((a == T_FIXED || a == T_INT) && (b == T_FIXED || b == T_INT)) {
        if (a == T_FIXED && b == T_FIXED && fa != fb) return T_VOID;
        if (op == HE_OP_MOD || op == HE_OP_IDIV || op == HE_OP_POW) return T_VOID;
        *frac = a == T_FIXED ? fa : fb;
        return T_FIXED;
    }
    return T_VOID;
}

static bool broadcast(const type *a, const type *b, int *rank, int64_t *dims)
{
    int ra = a->kind == T_TENSOR ? a->rank : 0, rb = b->kind == T_TENSOR ? b->rank : 0;
    if (ra < 0 || rb < 0) {
        *rank = -1;
        return true;
    }
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == DIM_ANY || db == DIM_ANY) dims[i] = (da == 1) ? db : (db == 1) ? da : DIM_ANY;
        else if (da == db || db == 1) dims[i] = da;
        else if (da == 1) dims[i] = db;
        else return false;
    }
    *rank = r;
    return true;
}

/* --- scopes ------------------------------------------------------------------------ */
static sym *new_sym(checker *c, const char *name, symkind k, type *t, node *at)
{
    sym *s = calloc(1, sizeof *s); /* freed with the module (globals) or the checker's list */
    if (!s) he_misuse("out of memory");
    s->name = strdup(name);
    s->kind = k;
    s->ty = t;
    s->line = at ? at->line : 0;
    s->col = at ? at->col : 0;
    (void)c;
    return s;
}

/* Local and capture symbols are kept on a list freed after compilation. */
static sym **tmpsyms;
static int ntmpsyms, captmpsyms;
static void keep_tmp(sym *s)
{
    if (ntmpsyms == captmpsyms) {
        captmpsyms = captmpsyms ? captmpsyms * 2 : 64;
        tmpsyms = realloc(tmpsyms, sizeof(sym *) * (size_t)captmpsyms);
        if (!tmpsyms) he_misuse("out of memory");
    }
    tmpsyms[ntmpsyms++] = s;
}

void check_free_tmp(void)
{
    for (int i = 0; i < ntmpsyms; i++) {
        free((char *)tmpsyms[i]->name);
        free(tmpsyms[i]);
    }
    free(tmpsyms);
    tmpsyms = NULL;
    ntmpsyms = captmpsyms = 0;
}

static bool at_module_level(checker *c) { return c->fs->fn == NULL && c->fs->sc->parent == NULL; }

static sym *declare(checker *c, const char *name, type *t, node *at)
{
    sym *s;
    if (at_module_level(c)) {
        s = new_sym(c, name, SYM_GLOBAL, t, at);
        s->mod = c->mod;
        if (module_add_global(c->mod, s) < 0)
            ck_error(c, at, "too many top-level names in one module (at most %d): put code in functions", HE_MAX_GLOBALS);
    } else {
        s = new_sym(c, name, SYM_LOCAL, t, at);
        s->fs = c->fs;
        s->slot = -1;
        s->decl_loops = c->nloops;
        keep_tmp(s);
        c->fs->nlocals++;
    }
    s->next = c->fs->sc->syms;
    c->fs->sc->syms = s;
    return s;
}

static sym *find_in_fs(funcstate *fs, const char *name)
{
    for (scope *sc = fs->sc; sc; sc = sc->parent)
        for (sym *s = sc->syms; s; s = s->next)
            if (strcmp(s->name, name) == 0) return s;
    for (int i = 0; i < fs->ncaps; i++)
        if (strcmp(fs->caps[i]->name, name) == 0) return fs->caps[i];
    return NULL;
}

/* The local a capture (of a capture...) stands for. */
static sym *root_of(sym *s)
{
    while (s->kind == SYM_CAPTURE) s = s->outer;
    return s;
}

/* Closures with state (Lua's upvalues). A captured local that may be
** assigned while a closure holds it lives in a cell that the frame and
** every closure share; the others are captured by value, as fast as any
** local. It may be assigned after a capture when an assignment comes
** after the capture in the text, assigns through a capture, or sits in a
** loop (opened after the declaration) that also holds the capture: the
** loop's next round assigns after this round's capture. */
static void box_if_needed(checker *c, sym *s, bool assigning)
{
    if (s->kind != SYM_LOCAL) return;
    if (assigning) {
        if (s->captured) s->boxed = true;
        if (c->nloops > s->decl_loops) s->assign_loop = c->loops[s->decl_loops];
    } else if (c->nloops > s->decl_loops && s->assign_loop && c->loops[s->decl_loops] == s->assign_loop)
        s->boxed = true;
}

static void open_loop(checker *c)
{
    if (c->nloops == c->caploops) {
        c->caploops = c->caploops ? c->caploops * 2 : 16;
        c->loops = realloc(c->loops, sizeof(unsigned) * (size_t)c->caploops);
        if (!c->loops) he_misuse("out of memory");
    }
    c->loops[c->nloops++] = ++c->loop_serial;
    c->fs->loops++;
}

static void close_loop(checker *c)
{
    c->nloops--;
    c->fs->loops--;
}

static sym *capture(checker *c, funcstate *fs, sym *outer)
{
    sym *s = new_sym(c, outer->name, SYM_CAPTURE, outer->ty, NULL);
    keep_tmp(s);
    s->outer = outer;
    s->is_fn = outer->is_fn;
    s->slot = fs->ncaps;
    s->fs = fs;
    if (fs->ncaps == fs->capcaps) {
        fs->capcaps = fs->capcaps ? fs->capcaps * 2 : 8;
        fs->caps = realloc(fs->caps, sizeof(sym *) * (size_t)fs->capcaps);
        if (!fs->caps) he_misuse("out of memory");
    }
    fs->caps[fs->ncaps++] = s;
    if (outer->kind == SYM_LOCAL) {
        outer->captured = true;
        box_if_needed(c, outer, false);
    }
    return s;
}

/* Resolves a name in function fs: locals, then enclosing functions'
** locals (captured), then the module's globals, then builtins. */
static sym *resolve_in(checker *c, funcstate *fs, const char *name)
{
    sym *s = find_in_fs(fs, name);
    if (s) return s;
    if (fs->parent) {
        sym *o = resolve_in(c, fs->parent, name);
        if (o && (o->kind == SYM_LOCAL || o->kind == SYM_CAPTURE)) return capture(c, fs, o);
        return o;
    }
    for (int i = c->mod->ngsyms - 1; i >= 0; i--)
        if (strcmp(c->mod->gsyms[i]->name, name) == 0) return c->mod->gsyms[i];
    return NULL;
}

static void push_scope(checker *c, scope *sc)
{
    sc->syms = NULL;
    sc->parent = c->fs->sc;
    c->fs->sc = sc;
}

static void pop_scope(checker *c) { c->fs->sc = c->fs->sc->parent; }

/* --- expressions --------------------------------------------------------------------- */
static type *expr(checker *c, node *n);
static void stmt(checker *c, node *n);
static void block(checker *c, node *n);
static type *function(checker *c, fndecl *f, node *at);

static const char *opname(int op) { return he_op_symbol[op]; }

static type *binop_type(checker *c, node *n, he_op op, type *a, type *b)
{
    if (a->kind == T_VOID || b->kind == T_VOID) {
        ck_error(c, n, "a call that returns nothing has no value to use with '%s'", opname(op));
        return ty_any;
    }
    if (a->kind == T_OBJ || b->kind == T_OBJ) {
        for (int m = 0; native_modules[m]; m++)
            if (native_modules[m]->binop_rule) {
                type *r = native_modules[m]->binop_rule(c, n, op, a, b);
                if (r) return r;
            }
    }
    if (a->kind == T_ANY || b->kind == T_ANY || a->kind == T_OBJ || b->kind == T_OBJ) {
        if (op >= HE_OP_LT && op <= HE_OP_NE && a->kind != T_TENSOR && b->kind != T_TENSOR &&
            a->kind != T_OBJ && b->kind != T_OBJ && a->kind != T_ANY && b->kind != T_ANY)
            return ty_bool;
        return ty_any;
    }
    bool cmp = op >= HE_OP_LT && op <= HE_OP_NE;
    bool eq = op == HE_OP_EQ || op == HE_OP_NE;
    if (a->kind == T_STR || b->kind == T_STR) {
        if (a->kind == T_STR && b->kind == T_STR && (cmp || op == HE_OP_ADD)) return cmp ? ty_bool : ty_str;
        if (eq) return ty_bool;
        ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    if (op == HE_OP_MATMUL) {
        if (a->kind != T_TENSOR || b->kind != T_TENSOR) {
            ck_error(c, n, "'@' needs two tensors, not %s and %s", ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        int frac;
        tkind e = ck_arith_kind(a->elem, b->elem, a->frac, b->frac, &frac, HE_OP_MUL);
        if (e == T_VOID) {
            ck_error(c, n, "cannot multiply %s by %s", ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        if (a->rank < 0 || b->rank < 0) return ty_any;
        if (a->rank < 1 || a->rank > 2 || b->rank < 1 || b->rank > 2) {
            ck_error(c, n, "'@' needs 1-D or 2-D tensors, not %s and %s", ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        int64_t ka = a->dims[a->rank - 1], kb = b->dims[0];
        if (ka != DIM_ANY && kb != DIM_ANY && ka != kb) {
            ck_error(c, n, "matrix product: inner dimensions differ (%s @ %s)", ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        int64_t d[2];
        int r = 0;
        if (a->rank == 2) d[r++] = a->dims[0];
        if (b->rank == 2) d[r++] = b->dims[1];
        if (r == 0) return e == T_INT ? ty_int : e == T_FLOAT ? ty_float : e == T_FIXED ? ty_fixed(frac) : ty_any;
        return ty_tensor(e, frac, r, d);
    }
    if (a->kind == T_TENSOR || b->kind == T_TENSOR) {
        if ((a->kind != T_TENSOR && !ty_scalar(a)) || (b->kind != T_TENSOR && !ty_scalar(b))) {
            ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        tkind ea = a->kind == T_TENSOR ? a->elem : a->kind, eb = b->kind == T_TENSOR ? b->elem : b->kind;
        int fa = a->frac, fb = b->frac;
        int frac = 0;
        tkind e;
        if (ea == T_BOOL || eb == T_BOOL) {
            if (!(eq && ea == eb)) {
                ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
                return ty_any;
            }
            e = T_BOOL;
        } else {
            e = ck_arith_kind(ea, eb, fa, fb, &frac, op);
            if (e == T_VOID) {
                ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
                return ty_any;
            }
        }
        int rank;
        int64_t dims[MAXRANK];
        if (!broadcast(a, b, &rank, dims)) {
            ck_error(c, n, "shape mismatch: cannot broadcast %s with %s", ty_str_of(a), ty_str_of(b));
            return ty_any;
        }
        if (cmp) e = T_BOOL, frac = 0;
        return ty_tensor(e, frac, rank, dims);
    }
    /* scalars */
    if (a->kind == T_BOOL || b->kind == T_BOOL) {
        if (eq && a->kind == b->kind) return ty_bool;
        ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    if (!ty_is_num(a) || !ty_is_num(b)) {
        if (eq) return ty_bool;
        ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    int frac;
    tkind e = ck_arith_kind(a->kind, b->kind, a->frac, b->frac, &frac, op);
    if (e == T_VOID) {
        if ((op == HE_OP_MOD || op == HE_OP_IDIV || op == HE_OP_POW) && (a->kind == T_FIXED || b->kind == T_FIXED))
            ck_error(c, n, "'%s' is not defined on fixed point (%s %s %s): convert with float(x)", opname(op),
                     ty_str_of(a), opname(op), ty_str_of(b));
        else if (a->kind == T_FIXED && b->kind == T_FIXED)
            ck_error(c, n, "fixed-point operands have different precision: %s %s %s", ty_str_of(a), opname(op),
                     ty_str_of(b));
        else if ((a->kind == T_FIXED) != (b->kind == T_FIXED) && (a->kind == T_FLOAT || b->kind == T_FLOAT))
            ck_error(c, n, "cannot mix %s and %s in '%s': convert one with fixed(x) or float(x)", ty_str_of(a),
                     ty_str_of(b), opname(op));
        else
            ck_error(c, n, "cannot apply '%s' to %s and %s", opname(op), ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    if (cmp) return ty_bool;
    return e == T_INT ? ty_int : e == T_FLOAT ? ty_float : ty_fixed(frac);
}

bool ck_const_shape(node *n, int64_t *dims, int *rank)
{
    if (n->kind != N_TENSOR || n->list.n > MAXRANK) return false;
    for (int i = 0; i < n->list.n; i++) {
        node *e = n->list.v[i];
        if (e->kind == N_INT) dims[i] = e->ival;
        else if (e->kind == N_UNOP && e->op == HE_OP_NEG && e->a->kind == N_INT) dims[i] = -e->a->ival;
        else return false;
    }
    *rank = n->list.n;
    return true;
}

static void check_arg(checker *c, node *arg, type *got, type *want, int i, const char *fname)
{
    if (ty_assignable(got, want) < 0)
        ck_error(c, arg, "argument %d of %s: expected %s, got %s", i + 1, fname, ty_str_of(want), ty_str_of(got));
}

static type *call(checker *c, node *n)
{
    node *fnode = n->a;
    /* a.f(x) where a is not a module: f(a, x) */
    if (fnode->kind == N_MEMBER) {
        type *bt = expr(c, fnode->a);
        if (fnode->a->kind == N_NAME && fnode->a->sym && fnode->a->sym->kind == SYM_MODULE && !fnode->a->sym->mod) {
            /* a module that failed to import: already reported */
            for (int i = 0; i < n->list.n; i++) expr(c, n->list.v[i]);
            return ty_any;
        }
        if (bt->kind != T_MODULE) {
            sym *s = resolve_in(c, c->fs, fnode->name);
            if (!s) {
                ck_error(c, fnode, "unknown function '%s' (in %s.%s(...))", fnode->name, ty_str_of(bt), fnode->name);
                for (int i = 0; i < n->list.n; i++) expr(c, n->list.v[i]);
                return ty_any;
            }
            node **v = ast_alloc(c->ps, sizeof(node *) * (size_t)(n->list.n + 1));
            v[0] = fnode->a;
            for (int i = 0; i < n->list.n; i++) v[i + 1] = n->list.v[i];
            n->list.v = v;
            n->list.n++;
            n->list.cap = n->list.n;
            node *nm = ast_node(c->ps, N_NAME, fnode->line, fnode->col);
            nm->name = fnode->name;
            n->a = fnode = nm;
            n->ufcs = true;
            /* the base's type is already known: don't check it twice */
            type *at[64];
            if (n->list.n > 64) {
                ck_error(c, n, "too many arguments");
                return ty_any;
            }
            at[0] = bt;
            for (int i = 1; i < n->list.n; i++) at[i] = expr(c, n->list.v[i]);
            nm->sym = s;
            nm->ty = s->ty;
            if (s->kind == SYM_BUILTIN) {
                const builtin *b = &builtins[s->slot];
                n->bi = s->slot;
                if (n->list.n < b->minargs || (b->maxargs >= 0 && n->list.n > b->maxargs)) {
                    ck_error(c, n, "%s takes %d%s argument%s, got %d", b->name, b->minargs,
                             b->maxargs == b->minargs ? "" : b->maxargs < 0 ? " or more" : " to ...",
                             b->minargs == 1 ? "" : "s", n->list.n);
                    return ty_any;
                }
                type *r = b->check(c, n, n->list.v, at, n->list.n);
                return r ? r : ty_any;
            }
            type *ft = s->ty;
            if (ft->kind == T_FN && ft->nparams < 0) return ft->ret ? ft->ret : ty_any; /* a builtin as a value */
            if (ft->kind == T_FN) {
                if (ft->nparams != n->list.n) {
                    ck_error(c, n, "%s takes %d argument%s, got %d", s->name, ft->nparams, ft->nparams == 1 ? "" : "s",
                             n->list.n);
                    return ft->ret ? ft->ret : ty_any;
                }
                for (int i = 0; i < n->list.n; i++) check_arg(c, n->list.v[i], at[i], ft->params[i], i, s->name);
                return ft->ret ? ft->ret : ty_any;
            }
            if (ft->kind != T_ANY) ck_error(c, fnode, "'%s' is a %s, not a function", s->name, ty_str_of(ft));
            return ty_any;
        }
    }
    if (fnode->kind == N_NAME || fnode->kind == N_MEMBER) {
        sym *s = NULL;
        if (fnode->kind == N_NAME) s = resolve_in(c, c->fs, fnode->name);
        else {
            type *mt = expr(c, fnode->a);
            if (mt->kind == T_MODULE)
                for (int i = mt->module->ngsyms - 1; i >= 0; i--)
                    if (strcmp(mt->module->gsyms[i]->name, fnode->name) == 0) {
                        s = mt->module->gsyms[i];
                        break;
                    }
        }
        if (s && s->kind == SYM_BUILTIN) {
            type *at[64];
            if (n->list.n > 64) {
                ck_error(c, n, "too many arguments");
                return ty_any;
            }
            for (int i = 0; i < n->list.n; i++) at[i] = expr(c, n->list.v[i]);
            fnode->sym = s;
            fnode->ty = s->ty;
            const builtin *b = &builtins[s->slot];
            n->bi = s->slot;
            fnode->sym = s;
            if (n->list.n < b->minargs || (b->maxargs >= 0 && n->list.n > b->maxargs)) {
                if (b->minargs == b->maxargs)
                    ck_error(c, n, "%s takes %d argument%s, got %d", b->name, b->minargs, b->minargs == 1 ? "" : "s",
                             n->list.n);
                else if (b->maxargs < 0)
                    ck_error(c, n, "%s takes at least %d argument%s, got %d", b->name, b->minargs,
                             b->minargs == 1 ? "" : "s", n->list.n);
                else
                    ck_error(c, n, "%s takes %d to %d arguments, got %d", b->name, b->minargs, b->maxargs, n->list.n);
                return ty_any;
            }
            type *r = b->check(c, n, n->list.v, at, n->list.n);
            return r ? r : ty_any;
        }
    }
    type *ft = expr(c, fnode);
    type *at[64];
    if (n->list.n > 64) {
        ck_error(c, n, "too many arguments");
        return ty_any;
    }
    for (int i = 0; i < n->list.n; i++) at[i] = expr(c, n->list.v[i]);
    const char *fname = fnode->kind == N_NAME || fnode->kind == N_MEMBER ? fnode->name : "the function";
    /* a builtin held in a variable: its arguments are checked when it runs */
    if (ft->kind == T_FN && ft->nparams < 0) return ft->ret ? ft->ret : ty_any;
    if (ft->kind == T_FN) {
        if (ft->nparams != n->list.n) {
            ck_error(c, n, "%s takes %d argument%s, got %d", fname, ft->nparams, ft->nparams == 1 ? "" : "s",
                     n->list.n);
            return ft->ret ? ft->ret : ty_any;
        }
        for (int i = 0; i < n->list.n; i++) check_arg(c, n->list.v[i], at[i], ft->params[i], i, fname);
        return ft->ret ? ft->ret : ty_any;
    }
    if (ft->kind != T_ANY) ck_error(c, fnode, "cannot call a value of type %s", ty_str_of(ft));
    return ty_any;
}

type *ck_obj_method(checker *c, node *at, const char *name, type **t, int n)
{
    int obj = -1;
    for (int i = 0; i < n && obj < 0; i++)
        if (t[i]->kind == T_OBJ) obj = i;
    if (obj < 0) return NULL;
    for (int m = 0; native_modules[m]; m++)
        if (native_modules[m]->method_rule) {
            type *r = native_modules[m]->method_rule(c, at, name, t, n);
            if (r) return r;
        }
    ck_error(c, at, "%s: not defined on %s", name, ty_str_of(t[obj]));
    return ty_any;
}

/* The type of a[...] for an object type a of a native module; NULL when no
** module indexes it. */
static type *obj_index_type(checker *c, node *n, type *a, int nidx, int nslices)
{
    for (int m = 0; native_modules[m]; m++)
        if (native_modules[m]->index_rule) {
            type *r = native_modules[m]->index_rule(c, n, a, nidx, nslices);
            if (r) return r;
        }
    return NULL;
}

/* t[m] with a bool tensor m (a mask: the elements where m is true, shape
** [count, rest of t]) or t[idx] with an int tensor (a gather along axis 0,
** shape idx's + the rest of t), as NumPy reads them. */
static type *array_index(checker *c, node *n, type *bt, type *it)
{
    if (bt->kind == T_ANY) return ty_any;
    if (bt->kind != T_TENSOR) {
        ck_error(c, n, "cannot index a value of type %s with a tensor", ty_str_of(bt));
        return ty_any;
    }
    if (bt->rank < 0 || it->rank < 0 || it->elem == T_ANY) return ty_tensor(bt->elem, bt->frac, -1, NULL);
    int64_t d[MAXRANK];
    int r = 0;
    if (it->elem == T_BOOL) {
        bool fits = it->rank >= 1 && it->rank <= bt->rank;
        for (int i = 0; fits && i < it->rank; i++)
            fits = it->dims[i] == DIM_ANY || bt->dims[i] == DIM_ANY || it->dims[i] == bt->dims[i];
        if (!fits) {
            ck_error(c, n->list.v[0], "mask %s does not match the shape of %s", ty_str_of(it), ty_str_of(bt));
            return ty_any;
        }
        d[r++] = DIM_ANY;
        for (int i = it->rank; i < bt->rank; i++) d[r++] = bt->dims[i];
        return ty_tensor(bt->elem, bt->frac, r, d);
    }
    if (bt->rank == 0 || bt->rank - 1 + it->rank > MAXRANK) {
        ck_error(c, n, "cannot index %s with %s", ty_str_of(bt), ty_str_of(it));
        return ty_any;
    }
    /* constant indices are checked against a known size */
    node *lit = n->list.v[0];
    if (lit->kind == N_TENSOR && bt->dims[0] != DIM_ANY)
        for (int i = 0; i < lit->list.n; i++) {
            node *e = lit->list.v[i];
            int64_t v;
            if (e->kind == N_INT) v = e->ival;
            else if (e->kind == N_UNOP && e->op == HE_OP_NEG && e->a->kind == N_INT) v = -e->a->ival;
            else continue;
            if (v >= bt->dims[0] || v < -bt->dims[0])
                ck_error(c, e, "index %lld out of range for axis 0 of size %lld", (long long)v, (long long)bt->dims[0]);
        }
    for (int i = 0; i < it->rank; i++) d[r++] = it->dims[i];
    for (int i = 1; i < bt->rank; i++) d[r++] = bt->dims[i];
    return ty_tensor(bt->elem, bt->frac, r, d);
}

static type *index_expr(checker *c, node *n)
{
    type *bt = expr(c, n->a);
    int nidx = 0;
    bool slices = false;
    for (int i = 0; i < n->list.n; i++) {
        node *it = n->list.v[i];
        if (it->kind == N_SLICE) {
            slices = true;
            node *parts[3] = {it->a, it->b, it->c};
            for (int j = 0; j < 3; j++) {
                if (!parts[j]) continue;
                type *t = expr(c, parts[j]);
                if (t->kind != T_INT && t->kind != T_ANY)
                    ck_error(c, parts[j], "slice bounds must be int, not %s", ty_str_of(t));
            }
        } else {
            type *t = expr(c, it);
            if (t->kind == T_TENSOR && n->list.n == 1 && (t->elem == T_BOOL || t->elem == T_INT || t->elem == T_ANY))
                return array_index(c, n, bt, t); /* t[mask], t[[0, 2]] */
            if (t->kind != T_INT && t->kind != T_ANY)
                ck_error(c, it, "index must be int%s, not %s",
                         n->list.n == 1 ? ", a bool mask or an int tensor" : " (a mask or an index tensor stands alone in [ ])",
                         ty_str_of(t));
            nidx++;
        }
    }
    if (n->list.n > MAXRANK) {
        ck_error(c, n, "too many indices (%d): tensors have at most %d dimensions", n->list.n, MAXRANK);
        return ty_any;
    }
    if (bt->kind == T_ANY) return ty_any;
    if (bt->kind == T_STR && n->list.n == 1) return ty_str; /* s[i], s[a:b:c]: bytes */
    if (bt->kind == T_OBJ) { /* ciphertexts, shares: their module's rule */
        type *r = obj_index_type(c, n, bt, nidx, n->list.n - nidx);
        if (r) return r;
    }
    /* an index of unknown type may be a mask or an index tensor at run time */
    if (bt->kind == T_TENSOR && n->list.n == 1 && n->list.v[0]->kind != N_SLICE && n->list.v[0]->ty &&
        n->list.v[0]->ty->kind == T_ANY)
        return ty_any;
    if (bt->kind != T_TENSOR) {
        ck_error(c, n, "cannot index a value of type %s", ty_str_of(bt));
        return ty_any;
    }
    if (bt->rank < 0) return slices || n->list.n > 0 ? ty_any : bt;
    if (n->list.n > bt->rank) {
        ck_error(c, n, "too many indices (%d) for %s", n->list.n, ty_str_of(bt));
        return ty_any;
    }
    /* constant indices are checked against known sizes */
    for (int i = 0; i < n->list.n; i++) {
        node *it = n->list.v[i];
        int64_t v;
        if (it->kind == N_INT) v = it->ival;
        else if (it->kind == N_UNOP && it->op == HE_OP_NEG && it->a->kind == N_INT) v = -it->a->ival;
        else continue;
        int64_t d = bt->dims[i];
        if (d != DIM_ANY && (v >= d || v < -d))
            ck_error(c, it, "index %lld out of range for axis %d of size %lld", (long long)v, i, (long long)d);
    }
    if (!slices && nidx == bt->rank) return elem_type(bt);
    int64_t d[MAXRANK];
    int r = 0;
    for (int i = 0; i < bt->rank; i++) {
        if (i < n->list.n) {
            node *it = n->list.v[i];
            if (it->kind != N_SLICE) continue;
            d[r++] = (!it->a && !it->b && !it->c) ? bt->dims[i] : DIM_ANY;
        } else d[r++] = bt->dims[i];
    }
    return ty_tensor(bt->elem, bt->frac, r, d);
}

static type *tensor_lit(checker *c, node *n)
{
    if (n->list.n == 0) {
        ck_error(c, n, "an empty tensor literal has no element type: use zeros([0])");
        return ty_any;
    }
    type *first = NULL;
    tkind e = T_VOID;
    int frac = 0;
    bool bad = false;
    for (int i = 0; i < n->list.n; i++) {
        type *t = expr(c, n->list.v[i]);
        if (bad) continue;
        if (t->kind == T_ANY) {
            e = T_ANY;
            first = first ? first : t;
            continue;
        }
        tkind k = t->kind == T_TENSOR ? t->elem : t->kind;
        if (k != T_INT && k != T_FLOAT && k != T_FIXED && k != T_BOOL && k != T_ANY) {
            ck_error(c, n->list.v[i], "tensors hold int, float, fixed or bool, not %s", ty_str_of(t));
            bad = true;
            continue;
        }
        if (!first) {
            first = t;
            e = k;
            frac = t->frac;
            continue;
        }
        bool nested = first->kind == T_TENSOR, tn = t->kind == T_TENSOR;
        if (first->kind != T_ANY && nested != tn) {
            ck_error(c, n->list.v[i], "tensor literal mixes scalars and tensors");
            bad = true;
            continue;
        }
        if (nested && first->rank >= 0 && t->rank >= 0) {
            bool same = first->rank == t->rank;
            for (int j = 0; same && j < t->rank; j++)
                if (first->dims[j] != DIM_ANY && t->dims[j] != DIM_ANY && first->dims[j] != t->dims[j]) same = false;
            if (!same) {
                ck_error(c, n->list.v[i], "rows of a tensor literal differ in shape: %s and %s", ty_str_of(first),
                         ty_str_of(t));
                bad = true;
                continue;
            }
        }
        if (e == T_ANY || k == T_ANY) e = T_ANY;
        else if (e == k) {
            if (e == T_FIXED && frac != t->frac) {
                ck_error(c, n->list.v[i], "tensor literal mixes fixed precisions");
                bad = true;
            }
        } else if ((e == T_INT && k == T_FLOAT) || (e == T_FLOAT && k == T_INT)) e = T_FLOAT;
        else if ((e == T_FIXED && k == T_INT) || (e == T_INT && k == T_FIXED)) {
            e = T_FIXED;
            if (k == T_FIXED) frac = t->frac;
        } else {
            ck_error(c, n->list.v[i], "tensor literal mixes %s and %s", he_dtype_name(e == T_INT ? HE_DT_INT : e == T_FLOAT ? HE_DT_FLOAT : e == T_FIXED ? HE_DT_FIXED : HE_DT_BOOL), ty_str_of(t));
            bad = true;
        }
    }
    if (bad || !first) return ty_any;
    if (first->kind == T_TENSOR && first->rank >= 0) {
        if (first->rank + 1 > MAXRANK) {
            ck_error(c, n, "too many dimensions (at most %d)", MAXRANK);
            return ty_any;
        }
        int64_t d[MAXRANK];
        d[0] = n->list.n;
        for (int j = 0; j < first->rank; j++) d[j + 1] = first->dims[j];
        return ty_tensor(e, frac, first->rank + 1, d);
    }
    if (first->kind == T_TENSOR || first->kind == T_ANY) {
        if (first->kind == T_ANY && e != T_ANY) {
            int64_t d = n->list.n;
            return ty_tensor(e, frac, 1, &d);
        }
        return ty_tensor(e == T_VOID ? T_ANY : e, frac, -1, NULL);
    }
    int64_t d = n->list.n;
    return ty_tensor(e, frac, 1, &d);
}

static type *conv(checker *c, node *n)
{
    type *to = n->ann;
    if (n->list.n != 1) {
        ck_error(c, n, "%s(...) takes 1 argument, got %d", ty_str_of(to), n->list.n);
        for (int i = 0; i < n->list.n; i++) expr(c, n->list.v[i]);
        return to;
    }
    type *t = expr(c, n->list.v[0]);
    if (t->kind == T_ANY) return to->kind == T_STR ? to : ty_any;
    if (t->kind == T_OBJ && t->name && strcmp(t->name, "share") == 0) { /* interp/modules/smpc.c */
        ck_error(c, n, "a share cannot be converted to %s: reveal it first (smpc.reveal)", ty_str_of(to));
        return to;
    }
    if (to->kind == T_STR) return to;
    if (t->kind == T_TENSOR) {
        if (to->kind == T_STR) return to;
        tkind e = to->kind;
        return ty_tensor(e, to->frac, t->rank, t->dims);
    }
    if (ty_scalar(t) || t->kind == T_STR) {
        if (t->kind == T_STR && to->kind == T_FIXED) {
            ck_error(c, n, "cannot convert str to %s: parse it with float() first", ty_str_of(to));
            return to;
        }
        if (t->kind == T_NIL) ck_error(c, n, "cannot convert nil to %s", ty_str_of(to));
        return to;
    }
    ck_error(c, n, "cannot convert %s to %s", ty_str_of(t), ty_str_of(to));
    return to;
}

static type *expr_(checker *c, node *n)
{
    switch (n->kind) {
    case N_INT: return ty_int;
    case N_FLOAT: return ty_float;
    case N_STR: return ty_str;
    case N_BOOL: return ty_bool;
    case N_NAME: {
        sym *s = resolve_in(c, c->fs, n->name);
        if (!s) {
            ck_error(c, n, "unknown name '%s'", n->name);
            return ty_any;
        }
        n->sym = s;
        if (s->kind == SYM_MODULE) return s->mod ? ty_module(s->mod) : ty_any; /* NULL: a failed import */
        return s->ty ? s->ty : ty_any;
    }
    case N_BINOP: {
        type *a = expr(c, n->a), *b = expr(c, n->b);
        return binop_type(c, n, (he_op)n->op, a, b);
    }
    case N_UNOP: {
        type *a = expr(c, n->a);
        if (a->kind == T_OBJ)
            for (int m = 0; native_modules[m]; m++)
                if (native_modules[m]->unop_rule) {
                    type *r = native_modules[m]->unop_rule(c, n, (he_op)n->op, a);
                    if (r) return r;
                }
        if (a->kind == T_ANY || a->kind == T_OBJ) return ty_any;
        if (n->op == HE_OP_NOT) {
            if (a->kind == T_BOOL || (a->kind == T_TENSOR && a->elem == T_BOOL)) return a;
            ck_error(c, n, "'not' needs a bool, not %s", ty_str_of(a));
            return ty_bool;
        }
        if (ty_is_num(a) || (a->kind == T_TENSOR && a->elem != T_BOOL)) return a;
        ck_error(c, n, "cannot negate %s", ty_str_of(a));
        return ty_any;
    }
    case N_AND:
    case N_OR: {
        type *a = expr(c, n->a), *b = expr(c, n->b);
        if (a->kind != T_BOOL && a->kind != T_ANY)
            ck_error(c, n->a, "'%s' needs bool operands, not %s", n->kind == N_AND ? "and" : "or", ty_str_of(a));
        if (b->kind != T_BOOL && b->kind != T_ANY)
            ck_error(c, n->b, "'%s' needs bool operands, not %s", n->kind == N_AND ? "and" : "or", ty_str_of(b));
        return ty_bool;
    }
    case N_CALL: return call(c, n);
    case N_INDEX: return index_expr(c, n);
    case N_SLICE: ck_error(c, n, "a slice is only allowed inside [ ]"); return ty_any;
    case N_MEMBER: {
        type *bt = expr(c, n->a);
        if (n->a->kind == N_NAME && (!n->a->sym || (n->a->sym->kind == SYM_MODULE && !n->a->sym->mod)))
            return ty_any; /* an unknown name, or a module that failed to import: already reported */
        if (bt->kind == T_MODULE) {
            module *m = bt->module;
            for (int i = m->ngsyms - 1; i >= 0; i--)
                if (strcmp(m->gsyms[i]->name, n->name) == 0) {
                    n->sym = m->gsyms[i];
                    return n->sym->ty ? n->sym->ty : ty_any;
                }
            ck_error(c, n, "module '%s' has no member '%s'", m->name, n->name);
            return ty_any;
        }
        if (strcmp(n->name, "T") == 0 && (bt->kind == T_TENSOR || bt->kind == T_ANY)) {
            if (bt->kind == T_ANY || bt->rank < 0) return bt->kind == T_ANY ? ty_any : bt;
            int64_t d[MAXRANK];
            for (int i = 0; i < bt->rank; i++) d[i] = bt->dims[bt->rank - 1 - i];
            return ty_tensor(bt->elem, bt->frac, bt->rank, d);
        }
        if (strcmp(n->name, "T") == 0 && bt->kind == T_OBJ) return ck_obj_method(c, n, "transpose", &bt, 1);
        if (strcmp(n->name, "shape") == 0 && (bt->kind == T_TENSOR || bt->kind == T_ANY)) {
            int64_t d = bt->kind == T_TENSOR && bt->rank >= 0 ? bt->rank : DIM_ANY;
            return ty_tensor(T_INT, 0, 1, &d);
        }
        ck_error(c, n, "%s has no member '%s' (tensors have .T and .shape; call functions as x.f(...))",
                 ty_str_of(bt), n->name);
        return ty_any;
    }
    case N_TENSOR: return tensor_lit(c, n);
    case N_LAMBDA: return function(c, n->fn, n);
    case N_CONV: return conv(c, n);
    default: ck_error(c, n, "internal: not an expression"); return ty_any;
    }
}

static type *expr(checker *c, node *n)
{
    if (c->depth >= MAX_NEST) {
        if (!c->too_deep) /* once: the checker's error count keeps the compiler away */
            ck_error(c, n, "expression nested too deeply or too long (more than %d levels): split it", MAX_NEST);
        c->too_deep = true;
        n->ty = ty_any;
        return n->ty;
    }
    c->depth++;
    n->ty = expr_(c, n);
    c->depth--;
    return n->ty;
}

/* --- statements ------------------------------------------------------------------------ */
static bool always_returns(node *n)
{
    if (!n) return false;
    switch (n->kind) {
    case N_RETURN: return true;
    case N_BLOCK:
        for (int i = 0; i < n->list.n; i++)
            if (always_returns(n->list.v[i])) return true;
        return false;
    case N_IF: return n->c && always_returns(n->b) && always_returns(n->c);
    default: return false;
    }
}

static type *function(checker *c, fndecl *f, node *at)
{
    type *pt[64];
    if (f->nparams > 64) {
        ck_error(c, at, "too many parameters (at most 64)");
        f->nparams = 64;
    }
    for (int i = 0; i < f->nparams; i++) pt[i] = f->params[i].ty ? f->params[i].ty : ty_any;
    funcstate fs = {0};
    fs.parent = c->fs;
    fs.fn = f;
    fs.ret = f->ret;
    fs.ret_declared = f->ret != NULL;
    /* provisional type, so that recursive calls check */
    if (!f->ty) f->ty = ty_fn(f->nparams, pt, f->ret ? f->ret : ty_any);
    if (f->sym) f->sym->ty = f->ty;
    scope sc = {0};
    c->fs = &fs;
    fs.sc = &sc;
    f->psyms = f->nparams ? ast_alloc(c->ps, sizeof(sym *) * (size_t)f->nparams) : NULL;
    for (int i = 0; i < f->nparams; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(f->params[j].name, f->params[i].name) == 0)
                ck_error_at(c, f->params[i].line, f->params[i].col, "parameter '%s' appears twice", f->params[i].name);
        node pn = {.line = f->params[i].line, .col = f->params[i].col};
        sym *s = declare(c, f->params[i].name, pt[i], &pn);
        s->slot = i;
        f->psyms[i] = s;
    }
    block(c, f->body);
    c->fs = fs.parent;
    type *ret = fs.ret ? fs.ret : ty_void;
    if (ret->kind != T_VOID && !always_returns(f->body))
        ck_error_at(c, f->line, f->col, "function '%s' can reach its end without returning a value (%s)",
                    f->name ? f->name : "(lambda)", ty_str_of(ret));
    f->ty = ty_fn(f->nparams, pt, ret);
    if (f->sym) f->sym->ty = f->ty;
    f->fs = NULL;
    f->captures = fs.ncaps ? ast_alloc(c->ps, sizeof(sym *) * (size_t)fs.ncaps) : NULL;
    if (fs.ncaps) memcpy(f->captures, fs.caps, sizeof(sym *) * (size_t)fs.ncaps);
    f->ncaptures = fs.ncaps;
    free(fs.caps);
    at->ty = f->ty;
    return f->ty;
}

/* --- levels (check.h): the straight-line abstract interpretation ------------------------- */
#define ABS_VARS 64
typedef struct absenv {
    sym *s[ABS_VARS];
    ck_abs v[ABS_VARS];
    int n;
    bool stop; /* given up: nothing more is certain */
} absenv;

static const ck_abs abs_none = {0};

static ck_abs abs_get(absenv *e, sym *s)
{
    for (int i = 0; s && i < e->n; i++)
        if (e->s[i] == s) return e->v[i];
    return abs_none;
}

static void abs_set(absenv *e, sym *s, ck_abs v)
{
    if (!s) return;
    for (int i = 0; i < e->n; i++)
        if (e->s[i] == s) {
            e->v[i] = v;
            return;
        }
    if (!v.mod) return;
    if (e->n == ABS_VARS) { /* too many to follow: give up */
        e->stop = true;
        return;
    }
    e->s[e->n] = s;
    e->v[e->n++] = v;
}

static ck_abs aeval(checker *c, absenv *e, node *n)
{
    if (e->stop || !n) return abs_none;
    switch (n->kind) {
    case N_INT:
    case N_FLOAT:
    case N_STR:
    case N_BOOL:
    case N_LAMBDA: return abs_none; /* made, not run */
    case N_NAME: return abs_get(e, n->sym);
    case N_BINOP:
    case N_UNOP: {
        ck_abs a = aeval(c, e, n->a), b = n->kind == N_BINOP ? aeval(c, e, n->b) : abs_none;
        const native_module *m = a.mod ? a.mod : b.mod;
        if (e->stop || !m || !m->abs_op) return abs_none;
        return m->abs_op(c, n, (he_op)n->op, a, b, n->a->ty ? n->a->ty : ty_any,
                         n->kind == N_BINOP ? (n->b->ty ? n->b->ty : ty_any) : NULL);
    }
    case N_CALL: {
        if (n->bi < 0 || n->list.n > 16) { /* a .he function: it may change anything */
            e->stop = true;
            return abs_none;
        }
        ck_abs args[16];
        type *at[16];
        for (int i = 0; i < n->list.n; i++) {
            args[i] = aeval(c, e, n->list.v[i]);
            at[i] = n->list.v[i]->ty ? n->list.v[i]->ty : ty_any;
            if (at[i]->kind == T_FN || at[i]->kind == T_ANY) e->stop = true; /* a function it may call */
        }
        const builtin *b = &builtins[n->bi];
        if (e->stop || !b->module) return abs_none;
        const native_module *m = native_module_find(b->module);
        return m && m->abs_call ? m->abs_call(c, n, b->name, args, at, n->list.n) : abs_none;
    }
    case N_INDEX:
        aeval(c, e, n->a);
        for (int i = 0; i < n->list.n; i++) aeval(c, e, n->list.v[i]);
        return abs_none;
    case N_SLICE:
        aeval(c, e, n->a);
        aeval(c, e, n->b);
        aeval(c, e, n->c);
        return abs_none;
    case N_MEMBER: aeval(c, e, n->a); return abs_none;
    case N_TENSOR:
    case N_CONV:
        for (int i = 0; i < n->list.n; i++) aeval(c, e, n->list.v[i]);
        return abs_none;
    default: e->stop = true; return abs_none; /* and, or: control flow */
    }
}

/* Follows the statements of one block (when it has no errors so far). */
static void abs_block(checker *c, const nlist *l)
{
    if (c->errors) return;
    absenv e = {0};
    for (int i = 0; i < l->n && !e.stop; i++) {
        node *n = l->v[i];
        switch (n->kind) {
        case N_LET: abs_set(&e, n->sym, aeval(c, &e, n->a)); break;
        case N_ASSIGN: {
            if (n->a->kind != N_NAME) {
                aeval(c, &e, n->b);
                aeval(c, &e, n->a);
                break;
            }
            ck_abs v = aeval(c, &e, n->b), old = abs_get(&e, n->a->sym);
            if (n->op >= 0) { /* x op= y */
                const native_module *m = old.mod ? old.mod : v.mod;
                v = m && m->abs_op && !e.stop ? m->abs_op(c, n, (he_op)n->op, old, v, n->a->ty ? n->a->ty : ty_any,
                                                          n->b->ty ? n->b->ty : ty_any)
                                              : abs_none;
            }
            abs_set(&e, n->a->sym, v);
            break;
        }
        case N_EXPR: aeval(c, &e, n->a); break;
        case N_FN:
        case N_IMPORT: break; /* nothing of this block runs */
        default: e.stop = true; break;
        }
    }
}

static void block(checker *c, node *n)
{
    scope sc;
    push_scope(c, &sc);
    for (int i = 0; i < n->list.n; i++) stmt(c, n->list.v[i]);
    pop_scope(c);
    abs_block(c, &n->list);
}

static void assign(checker *c, node *n)
{
    node *t = n->a;
    type *vt = expr(c, n->b);
    if (vt->kind == T_VOID) ck_error(c, n->b, "this call returns nothing: there is no value to assign");
    if (t->kind == N_NAME) {
        type *tt = expr(c, t);
        sym *s = t->sym;
        if (!s) return;
        if (s->kind == SYM_BUILTIN || s->kind == SYM_MODULE || s->is_fn) {
            ck_error(c, t, "cannot assign to '%s': it is a %s", s->name,
                     s->kind == SYM_BUILTIN ? "builtin" : s->kind == SYM_MODULE ? "module" : "function");
            return;
        }
        if (s->kind == SYM_CAPTURE) root_of(s)->boxed = true; /* assigned where a closure holds it */
        else box_if_needed(c, s, true);
        if (n->op >= 0) vt = binop_type(c, n, (he_op)n->op, tt, vt);
        n->ty = vt; /* the value stored: compile.c converts or checks it */
        if (ty_assignable(vt, tt) < 0)
            ck_error(c, n, "cannot assign %s to '%s' of type %s", ty_str_of(vt), s->name, ty_str_of(tt));
        return;
    }
    if (t->kind == N_INDEX) {
        type *tt = expr(c, t);
        if (n->op >= 0) vt = binop_type(c, n, (he_op)n->op, tt, vt);
        n->ty = vt;
        if (tt->kind == T_TENSOR && t->a->ty->kind == T_TENSOR) {
            /* a region (row, slice, mask, gather): a value of the region's
            ** element type, broadcast to its shape (the run time checks) */
            tkind e = vt->kind == T_TENSOR ? vt->elem : vt->kind;
            type et = {.kind = T_TENSOR, .elem = e, .frac = vt->frac};
            bool num = e == T_INT || e == T_FLOAT || e == T_FIXED || e == T_BOOL;
            if (e != T_ANY && tt->elem != T_ANY &&
                (!num || ty_assignable(elem_type(&et), elem_type(tt)) < 0 || (tt->elem == T_INT && e != T_INT)))
                ck_error(c, n, "cannot store %s into %s", ty_str_of(vt), ty_str_of(tt));
            bool fits = true;
            if (vt->kind == T_TENSOR && vt->rank >= 0 && tt->rank >= 0) {
                fits = vt->rank <= tt->rank;
                for (int i = 0; fits && i < vt->rank; i++) {
                    int64_t x = vt->dims[vt->rank - 1 - i], y = tt->dims[tt->rank - 1 - i];
                    fits = x == DIM_ANY || y == DIM_ANY || x == 1 || x == y;
                }
            }
            if (!fits) ck_error(c, n, "shape mismatch: cannot broadcast %s to %s", ty_str_of(vt), ty_str_of(tt));
            return;
        }
        if (ty_assignable(vt, tt) < 0) ck_error(c, n, "cannot store %s into an element of type %s", ty_str_of(vt), ty_str_of(tt));
        return;
    }
    if (t->kind == N_MEMBER) {
        expr(c, t);
        ck_error(c, t, "cannot assign to a member");
        return;
    }
    expr(c, t);
    ck_error(c, t, "cannot assign to this expression");
}

/* The module `name`, its interface checked from its source (or a native
** module's table of builtins), registered in env->mods; NULL with the
** reason in why. The module's own errors are reported at their place. A
** module is read and checked once per process; its syntax tree waits in
** m->ps for the compiler. */
static module *import_module(checker *c, const char *name, char *why, size_t whylen)
{
    modset *ms = c->env->mods;
    const native_module *nm = native_module_find(name);
    if (nm) {
        char path[128];
        snprintf(path, sizeof path, "<native %s>", nm->name);
        module *m = modset_find(ms, path);
        if (!m) {
            m = module_new(nm->name, path);
            module_add_builtins(m, nm->name);
            m->native = true;
            modset_add(ms, m);
        }
        return m;
    }
    char *path = module_find_file(name, c->env->script_dir, why, whylen);
    if (!path) return NULL;
    module *m = modset_find(ms, path);
    if (m) {
        free(path);
        if (m->checking) {
            snprintf(why, whylen, "import cycle through module '%s'", name);
            return NULL;
        }
        return m;
    }
    size_t len;
    char *src = he_read_file(path, &len);
    if (!src) {
        snprintf(why, whylen, "%s", he_errmsg());
        free(path);
        return NULL;
    }
    m = module_new(name, path);
    free(path);
    module_add_builtins(m, NULL);
    m->src = src;
    m->srclen = len;
    modset_add(ms, m);
    m->checking = true;
    he_parser *ps = calloc(1, sizeof *ps);
    if (!ps) he_misuse("out of memory");
    /* the module's local symbols join the importer's list (check_free_tmp):
    ** its tree is compiled before that list is freed */
    bool ok = he_parse(ps, m->path, m->src, m->srclen, c->env->err) == 0 && he_check(c->env, m, ps, false) == 0;
    m->checking = false;
    if (!ok) {
        /* forget it, so that a later import (the REPL, after the file is
        ** fixed) reads it again */
        he_parser_free(ps);
        free(ps);
        snprintf(why, whylen, "errors in %s", m->path);
        modset_remove(ms, m);
        module_free(m);
        return NULL;
    }
    m->ps = ps;
    return m;
}

static void stmt(checker *c, node *n)
{
    switch (n->kind) {
    case N_LET: {
        type *t = expr(c, n->a);
        if (t->kind == T_VOID) {
            ck_error(c, n->a, "this call returns nothing: there is no value to bind to '%s'", n->name);
            t = ty_any;
        }
        if (n->ann) {
            if (ty_assignable(t, n->ann) < 0)
                ck_error(c, n->a, "'%s' is declared %s but the value is %s", n->name, ty_str_of(n->ann), ty_str_of(t));
            t = n->ann;
        }
        if (t->kind == T_MODULE) {
            ck_error(c, n->a, "a module is not a value: use import %s as %s", t->module->name, n->name);
            t = ty_any;
        }
        n->sym = declare(c, n->name, t, n);
        n->ty = t;
        break;
    }
    case N_ASSIGN: assign(c, n); break;
    case N_EXPR: expr(c, n->a); break;
    case N_IF: {
        type *t = expr(c, n->a);
        if (t->kind != T_BOOL && t->kind != T_ANY) ck_error(c, n->a, "condition must be bool, not %s", ty_str_of(t));
        block(c, n->b);
        if (n->c) {
            if (n->c->kind == N_IF) stmt(c, n->c);
            else block(c, n->c);
        }
        break;
    }
    case N_WHILE: {
        type *t = expr(c, n->a);
        if (t->kind != T_BOOL && t->kind != T_ANY) ck_error(c, n->a, "condition must be bool, not %s", ty_str_of(t));
        open_loop(c);
        block(c, n->b);
        close_loop(c);
        break;
    }
    case N_FOR: {
        type *vt;
        type *a = expr(c, n->a);
        if (n->b) {
            type *b = expr(c, n->b);
            if (a->kind != T_INT && a->kind != T_ANY) ck_error(c, n->a, "range start must be int, not %s", ty_str_of(a));
            if (b->kind != T_INT && b->kind != T_ANY) ck_error(c, n->b, "range end must be int, not %s", ty_str_of(b));
            vt = ty_int;
        } else if (a->kind == T_TENSOR) {
            if (a->rank == 1) vt = elem_type(a);
            else if (a->rank > 1) vt = ty_tensor(a->elem, a->frac, a->rank - 1, a->dims + 1);
            else if (a->rank == 0) {
                ck_error(c, n->a, "cannot iterate over a 0-d tensor");
                vt = ty_any;
            } else vt = ty_any;
        } else if (a->kind == T_ANY) vt = ty_any;
        else if (a->kind == T_OBJ && (vt = obj_index_type(c, n->a, a, 1, 0))) {
        } else {
            ck_error(c, n->a, "cannot iterate over %s (use a..b for a range of ints, or a tensor)", ty_str_of(a));
            vt = ty_any;
        }
        scope sc;
        push_scope(c, &sc);
        /* hidden registers of the loop come before the variable */
        n->sym = declare(c, n->name, vt, n);
        open_loop(c);
        n->sym->decl_loops = c->nloops; /* a fresh variable each round */
        block(c, n->c);
        close_loop(c);
        pop_scope(c);
        break;
    }
    case N_RETURN: {
        if (!c->fs->fn) {
            ck_error(c, n, "return outside a function");
            if (n->a) expr(c, n->a);
            break;
        }
        type *t = n->a ? expr(c, n->a) : ty_void;
        if (n->a && t->kind == T_VOID) ck_error(c, n->a, "this call returns nothing: there is no value to return");
        if (c->fs->ret_declared) {
            type *want = c->fs->ret;
            if (want->kind == T_VOID && n->a) ck_error(c, n->a, "this function returns nothing, but a value is returned");
            else if (want->kind != T_VOID && !n->a) ck_error(c, n, "missing return value (%s)", ty_str_of(want));
            else if (n->a && ty_assignable(t, want) < 0)
                ck_error(c, n->a, "returns %s, but the function is declared to return %s", ty_str_of(t), ty_str_of(want));
        } else {
            type *j = join(c->fs->ret, t);
            if (!j || (c->fs->ret && (c->fs->ret->kind == T_VOID) != (t->kind == T_VOID))) {
                ck_error(c, n, "returns %s here but %s elsewhere: declare the return type", ty_str_of(t),
                         ty_str_of(c->fs->ret));
                j = ty_any;
            }
            c->fs->ret = j;
        }
        break;
    }
    case N_BREAK:
    case N_CONTINUE:
        if (c->fs->loops == 0) ck_error(c, n, "%s outside a loop", n->kind == N_BREAK ? "break" : "continue");
        break;
    case N_FN: {
        fndecl *f = n->fn;
        if (!f->sym) {
            /* nested (or REPL) declaration: bind first, so the body can recurse */
            type *pt[64];
            for (int i = 0; i < f->nparams && i < 64; i++) pt[i] = f->params[i].ty ? f->params[i].ty : ty_any;
            f->ty = ty_fn(f->nparams < 64 ? f->nparams : 64, pt, f->ret ? f->ret : ty_any);
            f->sym = declare(c, f->name, f->ty, n);
            f->sym->is_fn = true;
        }
        n->sym = f->sym;
        function(c, f, n);
        break;
    }
    case N_IMPORT: {
        if (!at_module_level(c)) {
            ck_error(c, n, "import belongs at the top level of a file");
            break;
        }
        char why[1024];
        module *m = import_module(c, n->name, why, sizeof why);
        if (!m) {
            ck_error(c, n, "cannot import '%s': %s", n->name, why);
            /* bind the name anyway, so its uses do not cascade into more errors */
            sym *s = new_sym(c, n->name2, SYM_MODULE, ty_any, n);
            keep_tmp(s);
            s->next = c->fs->sc->syms;
            c->fs->sc->syms = s;
            break;
        }
        int idx = -1;
        for (int i = 0; i < c->mod->nimports; i++)
            if (c->mod->imports[i] == m) idx = i;
        if (idx < 0) {
            if (c->mod->nimports == c->mod->capimports) {
                c->mod->capimports = c->mod->capimports ? c->mod->capimports * 2 : 4;
                c->mod->imports = realloc(c->mod->imports, sizeof(module *) * (size_t)c->mod->capimports);
                if (!c->mod->imports) he_misuse("out of memory");
            }
            idx = c->mod->nimports++;
            c->mod->imports[idx] = m;
        }
        sym *s = new_sym(c, n->name2, SYM_MODULE, ty_module(m), n);
        s->mod = m;
        s->slot = idx;
        /* module names live with the module's globals, without a slot */
        module_push_sym(c->mod, s);
        n->sym = s;
        break;
    }
    case N_BLOCK: block(c, n); break;
    default: ck_error(c, n, "internal: not a statement"); break;
    }
}

int he_check(const ck_env *env, module *m, he_parser *ps, bool repl)
{
    checker c = {.env = env, .mod = m, .ps = ps, .repl = repl};
    funcstate fs = {0};
    scope sc = {0};
    fs.sc = &sc;
    c.fs = &fs;
    /* top-level functions are bound before anything runs: they may call
    ** each other in any order */
    for (int i = 0; i < ps->stmts.n; i++) {
        node *n = ps->stmts.v[i];
        if (n->kind != N_FN) continue;
        fndecl *f = n->fn;
        type *pt[64];
        for (int j = 0; j < f->nparams && j < 64; j++) pt[j] = f->params[j].ty ? f->params[j].ty : ty_any;
        f->ty = ty_fn(f->nparams < 64 ? f->nparams : 64, pt, f->ret ? f->ret : ty_any);
        f->sym = declare(&c, f->name, f->ty, n);
        f->sym->is_fn = true;
    }
    for (int i = 0; i < ps->stmts.n; i++) stmt(&c, ps->stmts.v[i]);
    abs_block(&c, &ps->stmts);
    free(c.loops);
    return c.errors;
}
