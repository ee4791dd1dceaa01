/*
** compile.c: checked syntax tree -> register bytecode.
**
** Locals live in registers; temporaries are allocated above them, stack-
** wise. Static types pick typed instructions (ADDI, ADDF, JLTI...); values
** typed any go through the generic ones (ADD...), which dispatch at run
** time. Where a value typed any flows into a typed place, a CHECK guards it.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* the checker numbers globals; GETGLOBAL and SETGLOBAL carry the number in Bx */
_Static_assert(HE_MAX_GLOBALS == MAXARG_Bx, "globals are numbered by Bx");

typedef struct patchlist {
    int *v;
    int n, cap;
} patchlist;

typedef struct loopinfo {
    patchlist breaks, continues;
    int cont_target; /* -1: patched later */
    int base_reg;    /* registers from here on die at a break */
    int body_reg;    /* and from here on at a continue (above a for loop's own) */
    struct loopinfo *outer;
} loopinfo;

typedef struct fstate {
    struct fstate *parent;
    proto *p;
    fndecl *fn;
    module *mod;
    int freereg;
    int nactive;   /* registers held by locals */
    bool objreg[256];
    loopinfo *loop;
    int line, col;     /* of the node being compiled, for errors */
    he_parser *ps;
    FILE *err;
    bool failed;
} fstate;

/* --- emitting ----------------------------------------------------------------------- */
static int emit(fstate *fs, instr i)
{
    proto *p = fs->p;
    if (p->ncode == p->capcode) {
        p->capcode = p->capcode ? p->capcode * 2 : 64;
        p->code = realloc(p->code, sizeof(instr) * (size_t)p->capcode);
        p->lines = realloc(p->lines, sizeof(int) * (size_t)p->capcode);
        p->cols = realloc(p->cols, sizeof(int) * (size_t)p->capcode);
        if (!p->code || !p->lines || !p->cols) he_misuse("out of memory");
    }
    p->code[p->ncode] = i;
    p->lines[p->ncode] = fs->line;
    p->cols[p->ncode] = fs->col;
    return p->ncode++;
}

static int emitABC(fstate *fs, opcode o, int a, int b, int c) { return emit(fs, MAKE_ABC(o, a, b & 0xff, c & 0xff)); }
static int emitABx(fstate *fs, opcode o, int a, int bx) { return emit(fs, MAKE_ABx(o, a, bx)); }
static int emitAsBx(fstate *fs, opcode o, int a, int sbx) { return emit(fs, MAKE_ABx(o, a, sbx + 32767)); }
static int emitJ(fstate *fs) { return emit(fs, MAKE_sJ(OP_JMP, 0)); }
static int here(fstate *fs) { return fs->p->ncode; }

static void compile_error(fstate *fs, const char *msg)
{
    if (!fs->failed)
        he_report(fs->err, fs->ps->file, fs->ps->src, fs->ps->srclen, fs->line, fs->col > 0 ? fs->col : 1, "error",
                  msg);
    fs->failed = true;
}

static void patch_to(fstate *fs, int at, int target)
{
    instr i = fs->p->code[at];
    int off = target - (at + 1);
    if (GET_OP(i) == OP_JMP) {
        if (off > MAXARG_sJ || off < -MAXARG_sJ) compile_error(fs, "function too large (jump out of range)");
        fs->p->code[at] = MAKE_sJ(OP_JMP, off);
    } else {
        if (off > 32767 || off < -32767) compile_error(fs, "function too large (jump out of range)");
        fs->p->code[at] = (i & 0xffff) | ((instr)(off + 32767) << 16);
    }
}

static void pl_add(patchlist *l, int at)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, sizeof(int) * (size_t)l->cap);
        if (!l->v) he_misuse("out of memory");
    }
    l->v[l->n++] = at;
}

static void pl_patch(fstate *fs, patchlist *l, int target)
{
    for (int i = 0; i < l->n; i++) patch_to(fs, l->v[i], target);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int add_k(fstate *fs, he_value v)
{
    proto *p = fs->p;
    for (int i = 0; i < p->nk; i++)
        if (p->k[i].tag == v.tag && v.tag != HE_OBJ && p->k[i].frac == v.frac && p->k[i].as.i == v.as.i) return i;
    if (p->nk == p->capk) {
        p->capk = p->capk ? p->capk * 2 : 16;
        p->k = realloc(p->k, sizeof(he_value) * (size_t)p->capk);
        if (!p->k) he_misuse("out of memory");
    }
    if (p->nk >= MAXARG_Bx) compile_error(fs, "too many constants in one function");
    p->k[p->nk] = v;
    return p->nk++;
}

/* A CHECK's operand: the type, and what is checked ("value for 'x'"), for
** the run-time message. */
static int add_type(fstate *fs, type *t, const char *what)
{
    proto *p = fs->p;
    if (!what) what = "type mismatch";
    for (int i = 0; i < p->ntypes; i++)
        if (p->types[i] == t && strcmp(p->checkwhat[i], what) == 0) return i;
    if (p->ntypes == p->captypes) {
        p->captypes = p->captypes ? p->captypes * 2 : 8;
        p->types = realloc(p->types, sizeof(type *) * (size_t)p->captypes);
        p->checkwhat = realloc(p->checkwhat, sizeof(char *) * (size_t)p->captypes);
        if (!p->types || !p->checkwhat) he_misuse("out of memory");
    }
    if (p->ntypes >= MAXARG_Bx) compile_error(fs, "too many type checks in one function");
    p->types[p->ntypes] = t;
    p->checkwhat[p->ntypes] = strdup(what);
    if (!p->checkwhat[p->ntypes]) he_misuse("out of memory");
    return p->ntypes++;
}

static int alloc_reg(fstate *fs)
{
    int r = fs->freereg++;
    if (fs->freereg > MAXREGS) {
        compile_error(fs, "function needs too many registers (simplify the expression or split the function)");
        fs->freereg = MAXREGS;
        r = MAXREGS - 1;
    }
    if (fs->freereg > fs->p->nregs) fs->p->nregs = fs->freereg;
    return r;
}

static bool is_obj_type(const type *t) { return !ty_scalar(t); }

/* Marks register r as possibly holding an object, to clear it when dead. */
static void note(fstate *fs, int r, const type *t)
{
    if (t && is_obj_type(t) && r >= 0 && r < 256) fs->objreg[r] = true;
}

/* Releases temporaries above `mark`, clearing those that may hold objects. */
static void free_to(fstate *fs, int mark)
{
    for (int r = mark; r < fs->freereg && r < 256; r++)
        if (fs->objreg[r]) {
            emitABC(fs, OP_CLEAR, r, 0, 0);
            fs->objreg[r] = false;
        }
    fs->freereg = mark;
}

/* --- expressions ----------------------------------------------------------------------- */
static void expr_to(fstate *fs, node *n, int dst);
static int expr_any(fstate *fs, node *n);
static void stmt(fstate *fs, node *n);
static void cond_jump(fstate *fs, node *n, bool when, patchlist *out);
static proto *compile_function(fstate *parent, fndecl *f);

/* A local kept in its register (not in a cell: see check.c, box_if_needed). */
static bool in_reg(const sym *s) { return s->kind == SYM_LOCAL && !s->boxed; }

/* Whether a local or a capture lives in a cell. */
static bool in_cell(const sym *s)
{
    while (s->kind == SYM_CAPTURE) s = s->outer;
    return s->kind == SYM_LOCAL && s->boxed;
}

/* Makes register r a cell holding its value, if local s is one. */
static void box_local(fstate *fs, const sym *s, int r)
{
    if (!in_cell(s)) return;
    emitABC(fs, OP_BOX, r, r, 0);
    if (r < 256) fs->objreg[r] = true;
}

static bool is_int(const type *t) { return t && t->kind == T_INT; }
static bool is_float(const type *t) { return t && t->kind == T_FLOAT; }
static bool is_num_if(const type *t) { return t && (t->kind == T_INT || t->kind == T_FLOAT); }

static bool small_int(node *n, int lo, int hi, int *v)
{
    int64_t x;
    if (n->kind == N_INT) x = n->ival;
    else if (n->kind == N_UNOP && n->op == HE_OP_NEG && n->a->kind == N_INT) x = -n->a->ival;
    else return false;
    if (x < lo || x > hi) return false;
    *v = (int)x;
    return true;
}

/* The register holding the first operand of an instruction whose result
** goes to dst: a local's own register; dst itself when dst is a temporary
** (its old value is dead, and later operands are evaluated above it), so
** that a + b + c + ... needs no more registers than a + b; else a new
** temporary. */
static int operand(fstate *fs, node *n, int dst)
{
    if (n->kind == N_NAME && n->sym && in_reg(n->sym)) return n->sym->slot;
    if (dst >= fs->nactive && dst < fs->freereg) {
        expr_to(fs, n, dst);
        return dst;
    }
    return expr_any(fs, n);
}

/* A float operand in register (dst: as for operand(), or -1): converts ints. */
static int float_operand(fstate *fs, node *n, int dst)
{
    int r = dst >= 0 ? operand(fs, n, dst) : expr_any(fs, n);
    if (is_int(n->ty)) {
        int t = r == dst ? dst : alloc_reg(fs);
        emitABC(fs, OP_ITOF, t, r, 0);
        return t;
    }
    return r;
}

/* Converts (or checks) the value in register r from type src to dst; what
** names it in the message of a failed check (printf-style). */
static void coerce(fstate *fs, int r, type *src, type *dst, const char *what, ...) HE_PRINTF(5, 6);
static void coerce(fstate *fs, int r, type *src, type *dst, const char *what, ...)
{
    int how = ty_assignable(src, dst);
    if (how == 1) emitABC(fs, OP_ITOF, r, r, 0);
    else if (how == 2) {
        char msg[160];
        va_list ap;
        va_start(ap, what);
        vsnprintf(msg, sizeof msg, what, ap);
        va_end(ap);
        emitABx(fs, OP_CHECK, r, add_type(fs, dst, msg));
    }
}

static void load_sym(fstate *fs, sym *s, int dst)
{
    switch (s->kind) {
    case SYM_LOCAL:
        if (s->boxed) emitABC(fs, OP_GETBOX, dst, s->slot, 0);
        else if (s->slot != dst) emitABC(fs, OP_MOVE, dst, s->slot, 0);
        break;
    case SYM_GLOBAL:
        if (s->mod == fs->mod) {
            /* top-level code reads only globals defined above it, but a
            ** function may run before a definition below it (or after a
            ** failed REPL input emptied it): nil there would break the
            ** static type */
            bool typed = s->ty && s->ty->kind != T_ANY && s->ty->kind != T_NIL && !s->is_fn;
            emitABx(fs, fs->fn && typed ? OP_GETGLOBALT : OP_GETGLOBAL, dst, s->slot);
        }
        else {
            int idx = -1;
            for (int i = 0; i < fs->mod->nimports; i++)
                if (fs->mod->imports[i] == s->mod) idx = i;
            if (idx < 0) {
                compile_error(fs, "internal: module not imported");
                return;
            }
            emitABx(fs, OP_GETEXT, dst, idx);
            emit(fs, (instr)s->slot);
        }
        break;
    case SYM_CAPTURE:
        if (fs->fn && fs->fn->sym && s->outer == fs->fn->sym) emitABC(fs, OP_GETCAP, dst, 255, 0); /* itself */
        else emitABC(fs, in_cell(s) ? OP_GETCAPBOX : OP_GETCAP, dst, s->slot, 0);
        break;
    case SYM_BUILTIN: {
        native *nv = he_malloc(sizeof *nv);
        if (!nv) he_misuse("out of memory");
        he_obj_init(&nv->obj, &native_type);
        nv->bi = s->slot;
        emitABx(fs, OP_LOADK, dst, add_k(fs, he_objv(&nv->obj)));
        break;
    }
    case SYM_MODULE: compile_error(fs, "a module is not a value"); break;
    }
}

static opcode int_op(he_op op)
{
    switch (op) {
    case HE_OP_ADD: return OP_ADDI;
    case HE_OP_SUB: return OP_SUBI;
    case HE_OP_MUL: return OP_MULI;
    case HE_OP_DIV: return OP_DIVI;
    case HE_OP_MOD: return OP_MODI;
    case HE_OP_LT: return OP_LTI;
    case HE_OP_LE: return OP_LEI;
    case HE_OP_EQ: return OP_EQI;
    case HE_OP_NE: return OP_NEI;
    default: return OP__COUNT;
    }
}

static opcode float_op(he_op op)
{
    switch (op) {
    case HE_OP_ADD: return OP_ADDF;
    case HE_OP_SUB: return OP_SUBF;
    case HE_OP_MUL: return OP_MULF;
    case HE_OP_DIV: return OP_DIVF;
    case HE_OP_LT: return OP_LTF;
    case HE_OP_LE: return OP_LEF;
    case HE_OP_EQ: return OP_EQF;
    case HE_OP_NE: return OP_NEF;
    default: return OP__COUNT;
    }
}

static opcode generic_op(he_op op)
{
    switch (op) {
    case HE_OP_ADD: return OP_ADD;
    case HE_OP_SUB: return OP_SUB;
    case HE_OP_MUL: return OP_MUL;
    case HE_OP_DIV: return OP_DIV;
    case HE_OP_MOD: return OP_MOD;
    case HE_OP_IDIV: return OP_IDIV;
    case HE_OP_POW: return OP_POW;
    case HE_OP_MATMUL: return OP_MATMUL;
    case HE_OP_LT: return OP_LT;
    case HE_OP_LE: return OP_LE;
    case HE_OP_EQ: return OP_EQ;
    case HE_OP_NE: return OP_NE;
    default: return OP__COUNT;
    }
}

static void binop_to(fstate *fs, node *n, he_op op, node *a, node *b, int dst)
{
    int mark = fs->freereg;
    bool swap = false;
    if (op == HE_OP_GT || op == HE_OP_GE) {
        node *t = a;
        a = b;
        b = t;
        op = op == HE_OP_GT ? HE_OP_LT : HE_OP_LE;
        swap = true;
    }
    (void)swap;
    if (is_int(a->ty) && is_int(b->ty) && int_op(op) != OP__COUNT) {
        int k;
        if ((op == HE_OP_ADD || op == HE_OP_SUB) && small_int(b, -127, 127, &k)) {
            int ra = operand(fs, a, dst);
            emitABC(fs, OP_ADDIK, dst, ra, op == HE_OP_ADD ? k : -k);
        } else if (op == HE_OP_MUL && small_int(b, -127, 127, &k)) {
            int ra = operand(fs, a, dst);
            emitABC(fs, OP_MULIK, dst, ra, k);
        } else if (op == HE_OP_MOD && small_int(b, 1, 127, &k)) {
            int ra = operand(fs, a, dst);
            emitABC(fs, OP_MODIK, dst, ra, k);
        } else {
            int ra = operand(fs, a, dst), rb = expr_any(fs, b);
            emitABC(fs, int_op(op), dst, ra, rb);
        }
    } else if (is_num_if(a->ty) && is_num_if(b->ty) && float_op(op) != OP__COUNT) {
        int ra = float_operand(fs, a, dst);
        if (b->kind == N_FLOAT && (op == HE_OP_ADD || op == HE_OP_SUB || op == HE_OP_MUL) && fs->p->nk < 255) {
            int k = add_k(fs, he_float(b->fval));
            if (k <= 255) {
                emitABC(fs, op == HE_OP_ADD ? OP_ADDFK : op == HE_OP_SUB ? OP_SUBFK : OP_MULFK, dst, ra, k);
                free_to(fs, mark);
                return;
            }
        }
        int rb = float_operand(fs, b, -1);
        emitABC(fs, float_op(op), dst, ra, rb);
    } else {
        int ra = operand(fs, a, dst), rb = expr_any(fs, b);
        emitABC(fs, generic_op(op), dst, ra, rb);
    }
    (void)n;
    free_to(fs, mark);
}

/* Puts the value of n into consecutive registers starting at the current
** free register: used for call arguments. */
static int push_expr(fstate *fs, node *n)
{
    int r = alloc_reg(fs);
    expr_to(fs, n, r);
    return r;
}

/* The callee's name in messages. */
static const char *call_name(node *call)
{
    node *f = call->a;
    return (f->kind == N_NAME || f->kind == N_MEMBER) && f->name ? f->name : "the function";
}

static void call_to(fstate *fs, node *n, int dst)
{
    int mark = fs->freereg;
    /* when dst is the newest temporary the call happens in place */
    bool top = dst + 1 == fs->freereg && dst >= fs->nactive;
    int base;
    if (top) {
        fs->freereg = dst;
        mark = dst;
    }
    if (n->bi >= 0) {
        base = fs->freereg;
        for (int i = 0; i < n->list.n; i++) {
            int r = push_expr(fs, n->list.v[i]);
            note(fs, r, n->list.v[i]->ty);
        }
        if (n->list.n == 0) alloc_reg(fs);
        emitABC(fs, OP_CALLB, base, n->list.n, 0);
        emit(fs, (instr)n->bi);
    } else {
        base = alloc_reg(fs);
        type *ft = n->a->ty;
        sym *fsym = n->a->kind == N_NAME ? n->a->sym : NULL;
        bool direct = fsym && fsym->kind == SYM_GLOBAL && fsym->is_fn && fsym->mod == fs->mod && ft &&
                      ft->kind == T_FN;
        if (!direct) expr_to(fs, n->a, base);
        for (int i = 0; i < n->list.n; i++) {
            int r = push_expr(fs, n->list.v[i]);
            note(fs, r, n->list.v[i]->ty);
            if (ft && ft->kind == T_FN && i < ft->nparams)
                coerce(fs, r, n->list.v[i]->ty, ft->params[i], "argument %d of %s", i + 1, call_name(n));
        }
        /* C: bit 0 keep the result; bit 1 check argument types in the
        ** callee. A direct call (CALLG) is typed exactly; a call through a
        ** value checks its arguments against the callee's own parameter
        ** types, and its result against the static type (below). */
        int c = 1 | (direct ? 0 : 2);
        if (n->list.n > 255) compile_error(fs, "too many arguments");
        if (direct) {
            emitABC(fs, OP_CALLG, base, n->list.n, c);
            emit(fs, (instr)fsym->slot);
        } else {
            emitABC(fs, OP_CALL, base, n->list.n, c);
            if (ft && ft->kind == T_FN && ft->ret && ft->ret->kind != T_ANY && ft->ret->kind != T_VOID)
            {
                char what[160];
                snprintf(what, sizeof what, "result of %s", call_name(n));
                emitABx(fs, OP_CHECK, base, add_type(fs, ft->ret, what));
            }
        }
    }
    fs->objreg[base] = false; /* holds the result now */
    free_to(fs, base + 1);
    if (dst != base) {
        emitABC(fs, OP_MOVE, dst, base, 0);
        note(fs, base, n->ty);
    }
    free_to(fs, mark);
    if (top) fs->freereg = dst + 1;
}

/* The items of t[...] above the tensor's register: an index in one
** register, a slice in three (start, stop, step; nil where left out). The
** mask of the items that are slices. */
static uint32_t push_index_items(fstate *fs, node *n)
{
    uint32_t mask = 0;
    for (int i = 0; i < n->list.n; i++) {
        node *it = n->list.v[i];
        if (it->kind == N_SLICE) {
            mask |= 1u << i;
            node *parts[3] = {it->a, it->b, it->c};
            for (int j = 0; j < 3; j++) {
                int r = alloc_reg(fs);
                if (parts[j]) expr_to(fs, parts[j], r);
                else emitABC(fs, OP_LOADNIL, r, 0, 0);
            }
        } else push_expr(fs, it);
    }
    return mask;
}

static bool has_slice(node *n)
{
    for (int i = 0; i < n->list.n; i++)
        if (n->list.v[i]->kind == N_SLICE) return true;
    return false;
}

static bool all_int(node *n)
{
    for (int i = 0; i < n->list.n; i++)
        if (!is_int(n->list.v[i]->ty)) return false;
    return true;
}

static void index_to(fstate *fs, node *n, int dst)
{
    int mark = fs->freereg;
    type *bt = n->a->ty;
    bool slices = false;
    for (int i = 0; i < n->list.n; i++)
        if (n->list.v[i]->kind == N_SLICE) slices = true;
    if (!slices && bt && bt->kind == T_TENSOR && bt->elem == T_FLOAT && bt->rank == n->list.n &&
        (bt->rank == 1 || bt->rank == 2) && all_int(n)) {
        int rb = expr_any(fs, n->a);
        int ri = expr_any(fs, n->list.v[0]);
        if (bt->rank == 2) {
            int rj = expr_any(fs, n->list.v[1]);
            emitABC(fs, OP_GETF2, dst, rb, ri);
            emit(fs, (instr)rj);
        } else emitABC(fs, OP_GETF1, dst, rb, ri);
        free_to(fs, mark);
        return;
    }
    int base = alloc_reg(fs);
    expr_to(fs, n->a, base);
    note(fs, base, bt);
    if (!slices) {
        for (int i = 0; i < n->list.n; i++) push_expr(fs, n->list.v[i]);
        emitABC(fs, OP_INDEX, dst, base, n->list.n);
    } else {
        uint32_t mask = push_index_items(fs, n);
        emitABC(fs, OP_SLICE, dst, base, n->list.n);
        emit(fs, mask);
    }
    free_to(fs, mark);
}

static void expr_to(fstate *fs, node *n, int dst)
{
    int line = fs->line, col = fs->col;
    fs->line = n->line;
    fs->col = n->col;
    switch (n->kind) {
    case N_INT:
        if (n->ival >= -32767 && n->ival <= 32768) emitAsBx(fs, OP_LOADI, dst, (int)n->ival);
        else emitABx(fs, OP_LOADK, dst, add_k(fs, he_int(n->ival)));
        break;
    case N_FLOAT:
        /* the range test first: casting a float out of int's range is undefined */
        if (n->fval >= -32767 && n->fval <= 32768 && n->fval == (double)(int)n->fval && !(n->fval == 0 && signbit(n->fval)))
            emitAsBx(fs, OP_LOADF, dst, (int)n->fval);
        else emitABx(fs, OP_LOADK, dst, add_k(fs, he_float(n->fval)));
        break;
    case N_BOOL: emitABC(fs, OP_LOADBOOL, dst, (int)n->ival, 0); break;
    case N_STR: {
        he_str *s = he_str_new(n->str, strlen(n->str));
        if (!s) he_misuse("out of memory");
        emitABx(fs, OP_LOADK, dst, add_k(fs, he_objv(&s->obj)));
        break;
    }
    case N_NAME: load_sym(fs, n->sym, dst); break;
    case N_MEMBER:
        if (n->a->ty && n->a->ty->kind == T_MODULE) load_sym(fs, n->sym, dst);
        else {
            int mark = fs->freereg;
            int r = expr_any(fs, n->a);
            emitABC(fs, strcmp(n->name, "T") == 0 ? OP_TRANSPOSE : OP_SHAPE, dst, r, 0);
            free_to(fs, mark);
        }
        break;
    case N_BINOP: binop_to(fs, n, (he_op)n->op, n->a, n->b, dst); break;
    case N_UNOP: {
        int mark = fs->freereg;
        int r = operand(fs, n->a, dst);
        if (n->op == HE_OP_NOT) emitABC(fs, n->a->ty->kind == T_BOOL ? OP_NOT : OP_GNOT, dst, r, 0);
        else emitABC(fs, is_int(n->a->ty) ? OP_NEGI : is_float(n->a->ty) ? OP_NEGF : OP_NEG, dst, r, 0);
        free_to(fs, mark);
        break;
    }
    case N_AND:
    case N_OR: {
        patchlist f = {0};
        cond_jump(fs, n, false, &f);
        emitABC(fs, OP_LOADBOOL, dst, 1, 0);
        int j = emitJ(fs);
        pl_patch(fs, &f, here(fs));
        emitABC(fs, OP_LOADBOOL, dst, 0, 0);
        patch_to(fs, j, here(fs));
        break;
    }
    case N_CALL: call_to(fs, n, dst); break;
    case N_INDEX: index_to(fs, n, dst); break;
    case N_TENSOR: {
        int mark = fs->freereg;
        int base = fs->freereg;
        if (n->list.n > 255 || fs->freereg + n->list.n > MAXREGS) {
            compile_error(fs, "tensor literal too long for one expression (its items take a register each): "
                              "build it with zeros and assignment, or concat");
            break;
        }
        for (int i = 0; i < n->list.n; i++) note(fs, push_expr(fs, n->list.v[i]), n->list.v[i]->ty);
        emitABC(fs, OP_TENSOR, dst, base, n->list.n);
        free_to(fs, mark);
        break;
    }
    case N_LAMBDA: {
        proto *p = compile_function(fs, n->fn);
        if (p) emitABx(fs, OP_CLOSURE, dst, add_k(fs, he_objv(&p->obj)));
        break;
    }
    case N_CONV: {
        int mark = fs->freereg;
        int base = fs->freereg;
        note(fs, push_expr(fs, n->list.v[0]), n->list.v[0]->ty);
        int nargs = 1;
        const char *name;
        switch (n->ann->kind) {
        case T_INT: name = "int"; break;
        case T_FLOAT: name = "float"; break;
        case T_BOOL: name = "bool"; break;
        case T_STR: name = "str"; break;
        default: {
            name = "fixed";
            int r = alloc_reg(fs);
            emitAsBx(fs, OP_LOADI, r, n->ann->frac);
            nargs = 2;
        }
        }
        emitABC(fs, OP_CALLB, base, nargs, 0);
        emit(fs, (instr)builtin_find(name));
        if (dst != base) emitABC(fs, OP_MOVE, dst, base, 0);
        free_to(fs, mark);
        break;
    }
    default: compile_error(fs, "internal: cannot compile expression"); break;
    }
    fs->line = line;
    fs->col = col;
}

/* Returns a register holding n's value: a local's own register, or a new
** temporary. */
static int expr_any(fstate *fs, node *n)
{
    if (n->kind == N_NAME && n->sym && in_reg(n->sym)) return n->sym->slot;
    int r = alloc_reg(fs);
    expr_to(fs, n, r);
    note(fs, r, n->ty);
    return r;
}

/* Emits code that jumps (to be patched into `out`) when n evaluates to `when`. */
static void cond_jump(fstate *fs, node *n, bool when, patchlist *out)
{
    int mark = fs->freereg;
    int line = fs->line;
    fs->line = n->line;
    if (n->kind == N_UNOP && n->op == HE_OP_NOT && n->a->ty->kind == T_BOOL) {
        cond_jump(fs, n->a, !when, out);
    } else if (n->kind == N_AND || n->kind == N_OR) {
        bool is_and = n->kind == N_AND;
        if (is_and != when) {
            /* and, jump when false: either false; or, jump when true: either true */
            cond_jump(fs, n->a, when, out);
            cond_jump(fs, n->b, when, out);
        } else {
            patchlist skip = {0};
            cond_jump(fs, n->a, !when, &skip);
            cond_jump(fs, n->b, when, out);
            pl_patch(fs, &skip, here(fs));
        }
    } else if (n->kind == N_BINOP && n->op >= HE_OP_LT && n->op <= HE_OP_NE && is_num_if(n->a->ty) &&
               is_num_if(n->b->ty) && !(n->op == HE_OP_NE && !is_int(n->a->ty))) {
        he_op op = (he_op)n->op;
        node *a = n->a, *b = n->b;
        bool k = when;
        if (op == HE_OP_NE) {
            op = HE_OP_EQ;
            k = !k;
        }
        bool ints = is_int(a->ty) && is_int(b->ty);
        int imm;
        if (ints && (op == HE_OP_LT || op == HE_OP_GT || op == HE_OP_LE || op == HE_OP_GE) &&
            small_int(b, -126, 126, &imm)) {
            int ra = expr_any(fs, a);
            if (op == HE_OP_LE) op = HE_OP_LT, imm += 1;
            if (op == HE_OP_GE) op = HE_OP_GT, imm -= 1;
            emitABC(fs, op == HE_OP_LT ? OP_JLTIK : OP_JGTIK, ra, imm, k);
        } else if (ints || op != HE_OP_EQ) {
            if (op == HE_OP_GT || op == HE_OP_GE) {
                node *t = a;
                a = b;
                b = t;
                op = op == HE_OP_GT ? HE_OP_LT : HE_OP_LE;
            }
            int ra = ints ? expr_any(fs, a) : float_operand(fs, a, -1);
            int rb = ints ? expr_any(fs, b) : float_operand(fs, b, -1);
            opcode o = ints ? (op == HE_OP_LT ? OP_JLTI : op == HE_OP_LE ? OP_JLEI : OP_JEQI)
                            : (op == HE_OP_LT ? OP_JLTF : OP_JLEF);
            emitABC(fs, o, ra, rb, k);
        } else {
            int r = expr_any(fs, n);
            emitABC(fs, OP_JTEST, r, 0, when);
        }
        pl_add(out, emitJ(fs));
    } else if (n->kind == N_BOOL) {
        if ((n->ival != 0) == when) pl_add(out, emitJ(fs));
    } else {
        int r = expr_any(fs, n);
        emitABC(fs, OP_JTEST, r, 0, when);
        pl_add(out, emitJ(fs));
    }
    free_to(fs, mark);
    fs->line = line;
}

/* --- statements ------------------------------------------------------------------------ */
static void block(fstate *fs, node *n)
{
    int mark = fs->freereg, active = fs->nactive;
    for (int i = 0; i < n->list.n; i++) stmt(fs, n->list.v[i]);
    free_to(fs, mark);
    fs->nactive = active;
}

static void store_sym(fstate *fs, sym *s, int r)
{
    if (s->kind == SYM_LOCAL) {
        if (s->boxed) emitABC(fs, OP_SETBOX, s->slot, r, 0);
        else if (s->slot != r) emitABC(fs, OP_MOVE, s->slot, r, 0);
    } else if (s->kind == SYM_CAPTURE && in_cell(s)) emitABC(fs, OP_SETCAPBOX, r, s->slot, 0);
    else if (s->kind == SYM_GLOBAL) emitABx(fs, OP_SETGLOBAL, r, s->slot);
    else compile_error(fs, "internal: cannot store");
}

static void declare_local(fstate *fs, sym *s)
{
    s->slot = alloc_reg(fs);
    fs->nactive = fs->freereg;
    note(fs, s->slot, s->ty);
}

/* A for loop's variable, in the register after the loop's three. When it
** lives in a cell, the cell is in the next register, fresh each round (the
** loop writes the value in the first): returns the value's register, or -1. */
static int loop_var(fstate *fs, sym *s)
{
    declare_local(fs, s);
    if (!in_cell(s)) return -1;
    int raw = s->slot;
    s->slot = alloc_reg(fs);
    fs->nactive = fs->freereg;
    if (s->slot < 256) fs->objreg[s->slot] = true;
    return raw;
}

/* Before a break or continue jumps out of blocks: releases what their
** registers hold now (a big tensor, a key), as leaving them normally would. */
static void clear_from(fstate *fs, int from)
{
    for (int r = from; r < fs->freereg && r < 256; r++)
        if (fs->objreg[r]) emitABC(fs, OP_CLEAR, r, 0, 0);
}

static loopinfo *begin_loop(fstate *fs, loopinfo *l)
{
    memset(l, 0, sizeof *l);
    l->cont_target = -1;
    l->outer = fs->loop;
    l->base_reg = l->body_reg = fs->freereg;
    fs->loop = l;
    return l;
}

static void stmt(fstate *fs, node *n)
{
    fs->line = n->line;
    fs->col = n->col;
    int mark = fs->freereg;
    switch (n->kind) {
    case N_LET: {
        sym *s = n->sym;
        if (s->kind == SYM_LOCAL) {
            int r = alloc_reg(fs);
            expr_to(fs, n->a, r);
            coerce(fs, r, n->a->ty, s->ty, "value for '%s'", s->name);
            s->slot = r;
            fs->nactive = fs->freereg;
            note(fs, r, s->ty);
            box_local(fs, s, r); /* a fresh cell each time it runs (each round of a loop) */
            return; /* the register stays with the local */
        }
        int r = expr_any(fs, n->a);
        if (r < fs->nactive) { /* a local's register: copy before converting */
            int t = alloc_reg(fs);
            emitABC(fs, OP_MOVE, t, r, 0);
            r = t;
        }
        coerce(fs, r, n->a->ty, s->ty, "value for '%s'", s->name);
        store_sym(fs, s, r);
        break;
    }
    case N_ASSIGN: {
        node *t = n->a;
        if (t->kind == N_NAME) {
            sym *s = t->sym;
            if (in_reg(s)) {
                if (n->op >= 0) binop_to(fs, n, (he_op)n->op, t, n->b, s->slot);
                else expr_to(fs, n->b, s->slot);
                coerce(fs, s->slot, n->ty, s->ty, "value for '%s'", s->name);
            } else {
                int r = alloc_reg(fs);
                if (n->op >= 0) binop_to(fs, n, (he_op)n->op, t, n->b, r);
                else expr_to(fs, n->b, r);
                note(fs, r, s->ty);
                coerce(fs, r, n->ty, s->ty, "value for '%s'", s->name);
                store_sym(fs, s, r);
            }
        } else if (has_slice(t)) { /* t[a:b, i] = v, t[a:b] += v: a region */
            type *bt = t->a->ty;
            int rv = alloc_reg(fs);
            if (n->op < 0) {
                expr_to(fs, n->b, rv);
                note(fs, rv, n->b->ty);
            }
            int base = alloc_reg(fs);
            expr_to(fs, t->a, base);
            note(fs, base, bt);
            uint32_t mask = push_index_items(fs, t);
            if (n->op >= 0) { /* the region read once, updated, written back */
                emitABC(fs, OP_SLICE, rv, base, t->list.n);
                emit(fs, mask);
                sym cur_sym = {.name = "", .kind = SYM_LOCAL, .ty = t->ty, .slot = rv};
                node cur = {.kind = N_NAME, .line = t->line, .col = t->col, .ty = t->ty, .sym = &cur_sym, .bi = -1};
                binop_to(fs, n, (he_op)n->op, &cur, n->b, rv);
                note(fs, rv, n->ty);
            }
            emitABC(fs, OP_SETSLICE, base, t->list.n, rv);
            emit(fs, mask);
        } else if (n->op < 0) { /* t[i, j] = v: the value first, then the target */
            type *bt = t->a->ty;
            int rv = alloc_reg(fs);
            expr_to(fs, n->b, rv);
            note(fs, rv, n->b->ty);
            if (bt && bt->kind == T_TENSOR && bt->elem == T_FLOAT && bt->rank == 2 && t->list.n == 2 && all_int(t)) {
                if (is_int(n->b->ty)) emitABC(fs, OP_ITOF, rv, rv, 0);
                int rb = expr_any(fs, t->a);
                int ri = expr_any(fs, t->list.v[0]);
                int rj = expr_any(fs, t->list.v[1]);
                emitABC(fs, OP_SETF2, rb, ri, rv);
                emit(fs, (instr)rj);
            } else {
                int base = alloc_reg(fs);
                expr_to(fs, t->a, base);
                note(fs, base, bt);
                for (int i = 0; i < t->list.n; i++) push_expr(fs, t->list.v[i]);
                emitABC(fs, OP_SETINDEX, base, t->list.n, rv);
            }
        } else { /* t[i, j] += v: the tensor and the indices are evaluated once */
            type *bt = t->a->ty;
            int base = alloc_reg(fs);
            expr_to(fs, t->a, base);
            note(fs, base, bt);
            for (int i = 0; i < t->list.n; i++) push_expr(fs, t->list.v[i]);
            bool f2 = bt && bt->kind == T_TENSOR && bt->elem == T_FLOAT && bt->rank == 2 && t->list.n == 2 && all_int(t);
            int rv = alloc_reg(fs);
            if (f2) {
                emitABC(fs, OP_GETF2, rv, base, base + 1);
                emit(fs, (instr)(base + 2));
            } else emitABC(fs, OP_INDEX, rv, base, t->list.n);
            /* the element just read stands for t[i, j] in the operation */
            sym cur_sym = {.name = "", .kind = SYM_LOCAL, .ty = t->ty, .slot = rv};
            node cur = {.kind = N_NAME, .line = t->line, .col = t->col, .ty = t->ty, .sym = &cur_sym, .bi = -1};
            binop_to(fs, n, (he_op)n->op, &cur, n->b, rv);
            note(fs, rv, n->ty);
            if (f2) {
                emitABC(fs, OP_SETF2, base, base + 1, rv);
                emit(fs, (instr)(base + 2));
            } else emitABC(fs, OP_SETINDEX, base, t->list.n, rv);
        }
        break;
    }
    case N_EXPR: {
        int r = alloc_reg(fs);
        expr_to(fs, n->a, r);
        note(fs, r, n->a->ty);
        break;
    }
    case N_IF: {
        patchlist f = {0};
        cond_jump(fs, n->a, false, &f);
        block(fs, n->b);
        if (n->c) {
            int j = emitJ(fs);
            pl_patch(fs, &f, here(fs));
            if (n->c->kind == N_IF) stmt(fs, n->c);
            else block(fs, n->c);
            patch_to(fs, j, here(fs));
        } else pl_patch(fs, &f, here(fs));
        break;
    }
    case N_WHILE: {
        loopinfo l;
        begin_loop(fs, &l);
        int top = here(fs);
        l.cont_target = top;
        patchlist exit = {0};
        cond_jump(fs, n->a, false, &exit);
        block(fs, n->b);
        int j = emitJ(fs);
        patch_to(fs, j, top);
        pl_patch(fs, &exit, here(fs));
        pl_patch(fs, &l.breaks, here(fs));
        pl_patch(fs, &l.continues, top);
        fs->loop = l.outer;
        break;
    }
    case N_FOR: {
        loopinfo l;
        begin_loop(fs, &l);
        int base = alloc_reg(fs);
        alloc_reg(fs);
        alloc_reg(fs);
        if (n->b) {
            expr_to(fs, n->a, base);
            coerce(fs, base, n->a->ty, ty_int, "range start");
            expr_to(fs, n->b, base + 1);
            coerce(fs, base + 1, n->b->ty, ty_int, "range end");
            fs->nactive = fs->freereg;
            int raw = loop_var(fs, n->sym);
            l.body_reg = fs->freereg;
            int prep = emitAsBx(fs, OP_FORPREP, base, 0);
            int body = here(fs);
            if (raw >= 0) emitABC(fs, OP_BOX, n->sym->slot, raw, 0);
            block(fs, n->c);
            int loop = emitAsBx(fs, OP_FORLOOP, base, 0);
            patch_to(fs, loop, body);
            patch_to(fs, prep, here(fs));
            pl_patch(fs, &l.continues, loop);
        } else {
            expr_to(fs, n->a, base);
            note(fs, base, n->a->ty);
            emitAsBx(fs, OP_ITERPREP, base, 0);
            fs->nactive = fs->freereg;
            int raw = loop_var(fs, n->sym);
            l.body_reg = fs->freereg;
            int top = emitAsBx(fs, OP_ITERNEXT, base, 0);
            if (raw >= 0) emitABC(fs, OP_BOX, n->sym->slot, raw, 0);
            block(fs, n->c);
            int j = emitJ(fs);
            patch_to(fs, j, top);
            patch_to(fs, top, here(fs));
            pl_patch(fs, &l.continues, top);
        }
        pl_patch(fs, &l.breaks, here(fs));
        fs->loop = l.outer;
        break;
    }
    case N_BREAK:
        clear_from(fs, fs->loop->base_reg);
        pl_add(&fs->loop->breaks, emitJ(fs));
        break;
    case N_CONTINUE:
        clear_from(fs, fs->loop->body_reg);
        pl_add(&fs->loop->continues, emitJ(fs));
        break;
    case N_RETURN: {
        if (!n->a) {
            emitABC(fs, OP_RETURN, 0, 0, 0);
            break;
        }
        int r = expr_any(fs, n->a);
        type *want = fs->fn && fs->fn->ty ? fs->fn->ty->ret : NULL;
        if (want && ty_assignable(n->a->ty, want) > 0) {
            if (r < fs->nactive) {
                int t = alloc_reg(fs);
                emitABC(fs, OP_MOVE, t, r, 0);
                r = t;
            }
            coerce(fs, r, n->a->ty, want, "return value of %s", fs->fn && fs->fn->name ? fs->fn->name : "(lambda)");
        }
        emitABC(fs, OP_RETURN, r, 1, 0);
        break;
    }
    case N_FN: {
        fndecl *f = n->fn;
        proto *p = compile_function(fs, f);
        if (!p) break;
        sym *s = f->sym;
        if (s->kind == SYM_LOCAL) {
            declare_local(fs, s);
            emitABx(fs, OP_CLOSURE, s->slot, add_k(fs, he_objv(&p->obj)));
            return;
        }
        int r = alloc_reg(fs);
        emitABx(fs, OP_CLOSURE, r, add_k(fs, he_objv(&p->obj)));
        note(fs, r, ty_any);
        store_sym(fs, s, r);
        break;
    }
    case N_IMPORT: emitABx(fs, OP_IMPORT, 0, n->sym->slot); break;
    case N_BLOCK: block(fs, n); break;
    default: compile_error(fs, "internal: cannot compile statement"); break;
    }
    free_to(fs, mark);
}

static proto *proto_new(module *m, const char *file, const char *name, int line)
{
    proto *p = calloc(1, sizeof *p);
    if (!p) he_misuse("out of memory");
    he_obj_init(&p->obj, &proto_type);
    p->name = strdup(name ? name : "(lambda)");
    p->file = strdup(file ? file : "?");
    if (!p->name || !p->file) he_misuse("out of memory");
    p->mod = m;
    p->line = line;
    return p;
}

static proto *compile_function(fstate *parent, fndecl *f)
{
    fstate fs = {0};
    fs.parent = parent;
    fs.fn = f;
    fs.mod = parent->mod;
    fs.ps = parent->ps;
    fs.err = parent->err;
    fs.line = f->line;
    proto *p = fs.p = proto_new(parent->mod, parent->ps->file, f->name, f->line);
    p->nparams = f->nparams;
    p->fty = f->ty;
    fs.freereg = f->nparams;
    fs.nactive = f->nparams;
    p->nregs = f->nparams;
    for (int i = 0; i < f->nparams; i++) fs.objreg[i] = false;
    /* the parameters' symbols already have slots 0..n-1 (check.c) */
    p->ncaps = f->ncaptures;
    if (p->ncaps) {
        p->capfrom = malloc((size_t)p->ncaps);
        p->capidx = malloc((size_t)p->ncaps);
        if (!p->capfrom || !p->capidx) he_misuse("out of memory");
        /* GETCAP's operand is 8 bits and 255 means the closure itself */
        if (p->ncaps > 254) compile_error(&fs, "a function captures too many variables (at most 254)");
        for (int i = 0; i < p->ncaps; i++) {
            sym *o = f->captures[i]->outer;
            /* 1: the enclosing frame's register; 0: the enclosing closure's
            ** capture; 2: the enclosing closure itself (a nested fn that
            ** names the function it sits in: its own capture slot for
            ** itself was filled before the closure existed) */
            p->capfrom[i] = o->kind == SYM_LOCAL ? 1
                            : parent->fn && parent->fn->sym && o->outer == parent->fn->sym ? 2
                                                                                          : 0;
            p->capidx[i] = (uint8_t)(o->slot < 0 ? 0 : o->slot);
        }
    }
    for (int i = 0; i < f->nparams; i++) box_local(&fs, f->psyms[i], i);
    for (int i = 0; i < f->body->list.n; i++) stmt(&fs, f->body->list.v[i]);
    fs.line = f->body->list.n ? f->body->list.v[f->body->list.n - 1]->line : f->line;
    emitABC(&fs, OP_RETURN, 0, 0, 0);
    if (fs.failed) parent->failed = true;
    return p;
}

proto *he_compile(FILE *err, module *m, he_parser *ps, bool repl_print)
{
    fstate fs = {0};
    fs.mod = m;
    fs.ps = ps;
    fs.err = err;
    fs.p = proto_new(m, ps->file, "main", 1);
    fs.line = 1;
    int n = ps->stmts.n;
    /* imports first, in their order: an imported module's top level runs
    ** before any code of the file that imports it (a function of this file
    ** may read the module's globals whenever it is called) */
    for (int i = 0; i < n; i++)
        if (ps->stmts.v[i]->kind == N_IMPORT) stmt(&fs, ps->stmts.v[i]);
    /* top-level functions next: they may be called before their text */
    for (int i = 0; i < n; i++)
        if (ps->stmts.v[i]->kind == N_FN) stmt(&fs, ps->stmts.v[i]);
    for (int i = 0; i < n; i++) {
        node *s = ps->stmts.v[i];
        if (s->kind == N_FN || s->kind == N_IMPORT) continue;
        if (repl_print && i == n - 1 && s->kind == N_EXPR && s->a->ty->kind != T_VOID) {
            fs.line = s->line;
            int r = alloc_reg(&fs);
            expr_to(&fs, s->a, r);
            emitABC(&fs, OP_RETURN, r, 1, 0);
            break;
        }
        stmt(&fs, s);
    }
    emitABC(&fs, OP_RETURN, 0, 0, 0);
    if (fs.failed) {
        he_release(he_objv(&fs.p->obj));
        return NULL;
    }
    return fs.p;
}
