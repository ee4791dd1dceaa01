/*
** vm.c: the bytecode interpreter. An imported module's top level runs at
** its first OP_IMPORT, once per process (its code comes from interp/run.c).
**
** Registers own their values: every write releases what was there. Typed
** instructions (ADDI, ADDF, ...) trust the checker: their operands have the
** stated type (a value typed any was CHECKed on its way in).
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"

/* --- the VM ---------------------------------------------------------------------------- */
he_vm *he_vm_new(void)
{
    if (he_init() < 0) return NULL;
    types_init();
    builtins_init();
    he_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->stack = calloc(STACK_SIZE, sizeof(he_value));
    if (!vm->stack) {
        free(vm);
        return NULL;
    }
    vm->out = stdout;
    vm->err = stderr;
    vm->script_dir = NULL;
    vm->main = module_new("main", "main");
    module_add_builtins(vm->main, NULL);
    vm->party = HE_PARTY_SIM;
    he_prng_seed(&vm->rng, 0);
    he_buf_init(&vm->trace);
    return vm;
}

void he_vm_free(he_vm *vm)
{
    if (!vm) return;
    for (int i = 0; i < STACK_SIZE; i++) he_release(vm->stack[i]);
    free(vm->stack);
    module_free(vm->main);
    modset_free(&vm->mods);
    he_buf_free(&vm->trace);
    he_prng_wipe(&vm->rng);
    free(vm);
}

static const char *frame_file(frame *f) { return f->p->file ? f->p->file : f->p->mod->path; }
static int frame_line(frame *f)
{
    ptrdiff_t at = f->pc - f->p->code - 1;
    if (at < 0) at = 0;
    if (at >= f->p->ncode) at = f->p->ncode - 1;
    return f->p->lines[at];
}

/* The source line the innermost frame is at (0 outside a run): for
** builtins that report where something happens (the CKKS planner). */
int he_vm_line(he_vm *vm)
{
    return vm && vm->nframes > 0 ? frame_line(&vm->frames[vm->nframes - 1]) : 0;
}

static int frame_col(frame *f)
{
    ptrdiff_t at = f->pc - f->p->code - 1;
    if (at < 0) at = 0;
    if (at >= f->p->ncode) at = f->p->ncode - 1;
    return at >= 0 && f->p->cols ? f->p->cols[at] : 0;
}

/* Its column (of the expression being evaluated; 0 when unknown). */
int he_vm_col(he_vm *vm)
{
    return vm && vm->nframes > 0 ? frame_col(&vm->frames[vm->nframes - 1]) : 0;
}

const char *he_vm_file(he_vm *vm)
{
    return vm && vm->nframes > 0 ? frame_file(&vm->frames[vm->nframes - 1]) : NULL;
}

/* Builds "file:line:column: runtime error: msg" (the column of the
** expression being evaluated; left out where unknown) and the traceback,
** innermost first. */
static void build_trace(he_vm *vm, const char *msg, int stop)
{
    he_buf *b = &vm->trace;
    b->len = 0;
    if (b->data) b->data[0] = '\0';
    frame *top = &vm->frames[vm->nframes - 1];
    int col = frame_col(top);
    if (col > 0) he_buf_printf(b, "%s:%d:%d: runtime error: %s\n", frame_file(top), frame_line(top), col, msg);
    else he_buf_printf(b, "%s:%d: runtime error: %s\n", frame_file(top), frame_line(top), msg);
    if (vm->nframes - stop > 0) {
        he_buf_puts(b, "stack traceback:\n");
        for (int i = vm->nframes - 1; i >= 0; i--) {
            frame *f = &vm->frames[i];
            /* deep recursion: the 10 innermost and 11 outermost frames */
            if (vm->nframes > 22 && i == vm->nframes - 11) {
                he_buf_printf(b, "  ...\t(skipping %d levels)\n", vm->nframes - 21);
                i = 11;
            }
            const char *name = f->p->name;
            if (strcmp(name, "main") == 0) he_buf_printf(b, "  %s:%d: in main chunk\n", frame_file(f), frame_line(f));
            else he_buf_printf(b, "  %s:%d: in function '%s'\n", frame_file(f), frame_line(f), name);
        }
    }
    snprintf(vm->errmsg, sizeof vm->errmsg, "%s", msg);
}

/* Whether a value has a static type (CHECK, dynamic calls). */
static bool type_ok(he_value v, const type *t)
{
    switch (t->kind) {
    case T_ANY: return true;
    case T_INT: return v.tag == HE_INT;
    case T_FLOAT: return v.tag == HE_FLOAT;
    case T_BOOL: return v.tag == HE_BOOL;
    case T_FIXED: return v.tag == HE_FIXED && v.frac == t->frac;
    case T_STR: return he_is(v, &he_str_type);
    case T_FN: return he_is(v, &closure_type) || he_is(v, &native_type);
    case T_TENSOR: {
        if (!he_is_tensor(v)) return false;
        he_tensor *x = he_as_tensor(v);
        static const tkind dk[] = {T_INT, T_FLOAT, T_FIXED, T_BOOL};
        if (t->elem != T_ANY && (dk[x->dtype] != t->elem || (t->elem == T_FIXED && x->frac != t->frac))) return false;
        if (t->rank >= 0) {
            if (x->ndim != t->rank) return false;
            for (int i = 0; i < t->rank; i++)
                if (t->dims[i] != DIM_ANY && t->dims[i] != x->shape[i]) return false;
        }
        return true;
    }
    case T_OBJ: return v.tag == HE_OBJ && strcmp(v.as.o->type->name, t->name) == 0;
    default: return true;
    }
}

/* Checks a value against a static type; the error names what was checked. */
static int check_type(he_value v, const type *t, const char *what)
{
    if (type_ok(v, t)) return 0;
    if (t->kind == T_TENSOR && he_is_tensor(v)) {
        he_tensor *x = he_as_tensor(v);
        he_buf b;
        he_buf_init(&b);
        he_buf_puts(&b, he_dtype_name((he_dtype)x->dtype));
        if (x->dtype == HE_DT_FIXED) he_buf_printf(&b, "<%d>", x->frac);
        he_buf_puts(&b, "[");
        for (int i = 0; i < x->ndim; i++) he_buf_printf(&b, "%s%lld", i ? ", " : "", (long long)x->shape[i]);
        he_buf_puts(&b, "]");
        he_error("%s: expected %s, got %s", what, ty_str_of(t), b.data);
        he_buf_free(&b);
        return -1;
    }
    return he_error("%s: expected %s, got %s", what, ty_str_of(t), he_typename(v));
}

static inline void setv(he_value *dst, he_value v)
{
    he_value old = *dst;
    *dst = v;
    he_release(old);
}

static he_tensor *tensor_from_values(he_value *v, int n);

/* Whether an object can be iterated; its length. */
static int iter_len(he_value v, int64_t *n)
{
    if (v.tag == HE_OBJ && v.as.o->type->len) return v.as.o->type->len(v.as.o, n);
    return he_error("cannot iterate over %s", he_typename(v));
}

static int iter_get(he_value v, int64_t i, he_value *out)
{
    if (he_is_tensor(v)) {
        he_tensor *t = he_as_tensor(v);
        if (t->ndim == 1) return he_tensor_get(t, 1, &i, out);
        he_tensor *r = he_tensor_sub(t, 1, &i);
        if (!r) return -1;
        *out = he_objv(&r->obj);
        return 0;
    }
    if (he_is(v, &he_str_type)) {
        he_str *s = he_as_str(v);
        he_str *c = he_str_new(s->data + i, 1);
        if (!c) return -1;
        *out = he_objv(&c->obj);
        return 0;
    }
    if (v.tag == HE_OBJ && v.as.o->type->index) {
        he_slice s = {.start = i, .stop = i + 1, .step = 1, .is_index = true};
        return v.as.o->type->index(v.as.o, 1, &s, out);
    }
    return he_error("cannot iterate over %s", he_typename(v));
}

/* The slices and indices of t[...] from their registers (see SLICE). */
static int read_slices(he_value *items, int n, uint32_t mask, he_slice *s)
{
    if (n > HE_MAXDIM) return he_error("too many indices");
    for (int i = 0; i < n; i++) {
        if (mask & (1u << i)) {
            he_value *p = items;
            for (int j = 0; j < 3; j++)
                if (p[j].tag != HE_NIL && p[j].tag != HE_INT) return he_error("slice bounds must be int");
            s[i].start = p[0].tag == HE_NIL ? HE_SLICE_END : p[0].as.i;
            s[i].stop = p[1].tag == HE_NIL ? HE_SLICE_END : p[1].as.i;
            s[i].step = p[2].tag == HE_NIL ? 1 : p[2].as.i;
            if (s[i].step == 0) return he_error("slice step cannot be zero");
            s[i].is_index = false;
            items += 3;
        } else {
            if (items[0].tag != HE_INT) return he_error("index must be int, not %s", he_typename(items[0]));
            s[i].start = items[0].as.i;
            s[i].stop = s[i].start + 1;
            s[i].step = 1;
            s[i].is_index = true;
            items += 1;
        }
    }
    return 0;
}

static int do_slice(he_value base, he_value *items, int n, uint32_t mask, he_value *out)
{
    bool str = he_is(base, &he_str_type);
    bool obj = base.tag == HE_OBJ && base.as.o->type->index; /* ciphertexts, shares */
    if (!he_is_tensor(base) && !(str && n == 1) && !obj) return he_error("cannot slice %s", he_typename(base));
    he_slice s[HE_MAXDIM];
    if (read_slices(items, n, mask, s) < 0) return -1;
    if (obj && !he_is_tensor(base)) return base.as.o->type->index(base.as.o, n, s, out);
    if (str) {
        /* bytes, as s[i] indexes them; bounds as for tensors */
        const he_str *b = he_as_str(base);
        int64_t first, count, step = s[0].step;
        if (he_slice_resolve(&s[0], (int64_t)b->len, 0, &first, &count) < 0) return -1;
        he_str *r = he_str_new(NULL, (size_t)count);
        if (!r) return -1;
        for (int64_t k = 0; k < count; k++) r->data[k] = b->data[first + k * step];
        *out = he_objv(&r->obj);
        return 0;
    }
    he_tensor *r = he_tensor_slice(he_as_tensor(base), n, s);
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

static int do_setslice(he_value base, he_value *items, int n, uint32_t mask, he_value v)
{
    if (!he_is_tensor(base)) return he_error("cannot assign into a slice of %s", he_typename(base));
    he_slice s[HE_MAXDIM];
    if (read_slices(items, n, mask, s) < 0) return -1;
    return he_tensor_slice_set(he_as_tensor(base), n, s, v);
}

static int do_index(he_value base, he_value *idx, int n, he_value *out)
{
    if (!he_is_tensor(base)) {
        if (he_is(base, &he_str_type) && n == 1 && idx[0].tag == HE_INT) {
            he_str *s = he_as_str(base);
            int64_t i = idx[0].as.i;
            if (i < 0) i += (int64_t)s->len;
            if (i < 0 || i >= (int64_t)s->len)
                return he_error("index %lld out of range for a string of length %zu", (long long)idx[0].as.i, s->len);
            return iter_get(base, i, out);
        }
        if (base.tag == HE_OBJ && base.as.o->type->index) { /* ciphertexts, shares */
            he_slice s[HE_MAXDIM];
            if (n > HE_MAXDIM) return he_error("too many indices");
            for (int i = 0; i < n; i++) {
                if (idx[i].tag != HE_INT) return he_error("index must be int, not %s", he_typename(idx[i]));
                s[i] = (he_slice){.start = idx[i].as.i, .stop = idx[i].as.i, .step = 1, .is_index = true};
            }
            return base.as.o->type->index(base.as.o, n, s, out);
        }
        return he_error("cannot index %s", he_typename(base));
    }
    he_tensor *t = he_as_tensor(base);
    int64_t ix[HE_MAXDIM];
    if (n == 1 && he_is_tensor(idx[0])) { /* t[mask], t[[0, 2]] */
        he_tensor *x = he_as_tensor(idx[0]);
        he_tensor *r = x->dtype == HE_DT_BOOL ? he_tensor_mask(t, x) : he_tensor_take(t, x, 0, "indexing");
        if (!r) return -1;
        *out = he_objv(&r->obj);
        return 0;
    }
    if (n > t->ndim) return he_error("too many indices (%d) for a %d-d tensor", n, t->ndim);
    for (int i = 0; i < n; i++) {
        if (idx[i].tag != HE_INT) return he_error("index must be int, not %s", he_typename(idx[i]));
        ix[i] = idx[i].as.i;
    }
    if (n == t->ndim) return he_tensor_get(t, n, ix, out);
    he_tensor *r = he_tensor_sub(t, n, ix);
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

static int do_setindex(he_value base, he_value *idx, int n, he_value v)
{
    if (!he_is_tensor(base)) return he_error("cannot assign into %s", he_typename(base));
    he_tensor *t = he_as_tensor(base);
    int64_t ix[HE_MAXDIM];
    if (n == 1 && he_is_tensor(idx[0])) { /* t[mask] = v, t[[0, 2]] = v */
        he_tensor *x = he_as_tensor(idx[0]);
        return x->dtype == HE_DT_BOOL ? he_tensor_mask_set(t, x, v) : he_tensor_take_set(t, x, v);
    }
    if (n > t->ndim) return he_error("too many indices (%d) for a %d-d tensor", n, t->ndim);
    for (int i = 0; i < n; i++) {
        if (idx[i].tag != HE_INT) return he_error("index must be int, not %s", he_typename(idx[i]));
        ix[i] = idx[i].as.i;
    }
    if (n == t->ndim) return he_tensor_set(t, n, ix, v);
    /* a row (or block): v broadcast to its shape */
    he_slice sl[HE_MAXDIM];
    for (int i = 0; i < n; i++) sl[i] = (he_slice){.start = ix[i], .stop = ix[i] + 1, .step = 1, .is_index = true};
    return he_tensor_slice_set(t, n, sl, v);
}

static he_tensor *tensor_from_values(he_value *v, int n)
{
    bool nested = n > 0 && he_is_tensor(v[0]);
    he_dtype dt = HE_DT_INT;
    int frac = 0;
    bool has_float = false, has_fixed = false, has_bool = false, has_int = false;
    for (int i = 0; i < n; i++) {
        uint8_t tag = v[i].tag;
        int f = 0;
        if (nested) {
            if (!he_is_tensor(v[i])) {
                he_error("tensor literal mixes scalars and tensors");
                return NULL;
            }
            he_tensor *t = he_as_tensor(v[i]);
            tag = t->dtype == HE_DT_FLOAT ? HE_FLOAT : t->dtype == HE_DT_FIXED ? HE_FIXED : t->dtype == HE_DT_BOOL ? HE_BOOL : HE_INT;
            f = t->frac;
        } else f = v[i].frac;
        if (tag == HE_FIXED) {
            /* as the checker says: one precision per tensor */
            if (has_fixed && f != frac) {
                he_error("tensor literal mixes fixed precisions (fixed<%d> and fixed<%d>)", frac, f);
                return NULL;
            }
            frac = f;
        }
        if (tag == HE_FLOAT) has_float = true;
        else if (tag == HE_FIXED) has_fixed = true;
        else if (tag == HE_BOOL) has_bool = true;
        else if (tag == HE_INT) has_int = true;
        else {
            he_error("tensors hold int, float, fixed or bool, not %s", he_typename(v[i]));
            return NULL;
        }
    }
    if (has_bool && (has_float || has_fixed || has_int)) {
        he_error("tensor literal mixes bool and numbers");
        return NULL;
    }
    if (has_float && has_fixed) {
        he_error("tensor literal mixes float and fixed");
        return NULL;
    }
    dt = has_bool ? HE_DT_BOOL : has_float ? HE_DT_FLOAT : has_fixed ? HE_DT_FIXED : HE_DT_INT;
    if (!nested) {
        int64_t shape[1] = {n};
        he_tensor *t = he_tensor_new(dt, frac, 1, shape);
        if (!t) return NULL;
        for (int i = 0; i < n; i++) {
            he_value x = v[i];
            if (dt == HE_DT_FLOAT) t->data.f[i] = x.tag == HE_FLOAT ? x.as.f : (double)x.as.i;
            else if (dt == HE_DT_FIXED && x.tag == HE_INT) {
                if (he_fixed_rescale(x.as.i, 0, frac, &t->data.i[i]) < 0) {
                    he_release(he_objv(&t->obj));
                    return NULL;
                }
            } else if (dt == HE_DT_BOOL) t->data.i[i] = x.as.b;
            else t->data.i[i] = x.as.i;
        }
        return t;
    }
    he_tensor *first = he_as_tensor(v[0]);
    if (first->ndim + 1 > HE_MAXDIM) {
        he_error("too many dimensions");
        return NULL;
    }
    int64_t shape[HE_MAXDIM];
    shape[0] = n;
    for (int i = 0; i < first->ndim; i++) shape[i + 1] = first->shape[i];
    he_tensor *t = he_tensor_new(dt, frac, first->ndim + 1, shape);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) {
        he_tensor *r = he_as_tensor(v[i]);
        bool same = r->ndim == first->ndim;
        for (int j = 0; same && j < r->ndim; j++) same = r->shape[j] == first->shape[j];
        if (!same) {
            he_error("rows of a tensor literal differ in shape");
            he_release(he_objv(&t->obj));
            return NULL;
        }
        he_tensor *c = r;
        if (r->dtype != dt || r->frac != frac) {
            c = he_tensor_astype(r, dt, frac);
            if (!c) {
                he_release(he_objv(&t->obj));
                return NULL;
            }
        }
        if (dt == HE_DT_FLOAT) memcpy(t->data.f + i * first->size, c->data.f, sizeof(double) * (size_t)first->size);
        else memcpy(t->data.i + i * first->size, c->data.i, sizeof(int64_t) * (size_t)first->size);
        if (c != r) he_release(he_objv(&c->obj));
    }
    return t;
}

/* --- the interpreter loop --------------------------------------------------------------- */
#if defined(__GNUC__) && !defined(HE_NO_COMPUTED_GOTO)
#define HE_COMPUTED_GOTO 1
#endif

/* Runs until the frame count drops back to `stop`; the result of the
** frame at `stop` is left in *ret. */
/* Runs an imported module's top level, the first time it is imported
** (OP_IMPORT); the module was checked and compiled before the program
** started. *traced: the error's traceback is built (it failed inside). */
static int run_module(he_vm *vm, module *m, bool *traced)
{
    *traced = false;
    if (m->native) m->ran = true; /* nothing to run: builtins only */
    if (m->ran) return 0;
    if (m->failed || !m->main) return he_error("module %s failed to load earlier", m->path);
    if (m->running) return he_error("import cycle through module '%s'", m->name); /* the checker refuses these */
    m->running = true;
    vm->trace.len = 0;
    he_retain(he_objv(&m->main->obj));
    he_value fn = he_closure_of(m->main), r;
    int rc = he_vm_call(vm, fn, NULL, 0, &r);
    he_release(fn);
    he_release(r);
    m->running = false;
    if (rc < 0) {
        m->failed = true;
        *traced = vm->trace.len > 0;
        return -1;
    }
    m->ran = true;
    return 0;
}

static int execute(he_vm *vm, int stop, he_value *ret)
{
    frame *f;
    proto *p;
    const instr *pc;
    he_value *base, *k;
    instr i;
    he_value tmp;
    bool traced = false; /* the error's traceback is built already */

#define LOAD_FRAME()                 \
    do {                             \
        f = &vm->frames[vm->nframes - 1]; \
        p = f->p;                    \
        pc = f->pc;                  \
        base = f->base;              \
        k = p->k;                    \
    } while (0)
#define SAVE_PC() (f->pc = pc)
#define RA (base[GET_A(i)])
#define RB (base[GET_B(i)])
#define RC (base[GET_C(i)])
#define SETI(r, v)                                          \
    do {                                                    \
        he_value *d_ = &(r);                                \
        if (HE_UNLIKELY(d_->tag == HE_OBJ)) he_release(*d_); \
        d_->tag = HE_INT;                                   \
        d_->as.i = (v);                                     \
    } while (0)
#define SETF(r, v)                                          \
    do {                                                    \
        he_value *d_ = &(r);                                \
        if (HE_UNLIKELY(d_->tag == HE_OBJ)) he_release(*d_); \
        d_->tag = HE_FLOAT;                                 \
        d_->as.f = (v);                                     \
    } while (0)
#define SETB(r, v)                                          \
    do {                                                    \
        he_value *d_ = &(r);                                \
        if (HE_UNLIKELY(d_->tag == HE_OBJ)) he_release(*d_); \
        d_->tag = HE_BOOL;                                  \
        d_->as.b = (v);                                     \
    } while (0)
#define THROW() goto error
#define IS_FLOAT_TENSOR(v, rank)                                                        \
    ((v).tag == HE_OBJ && (v).as.o->type == &he_tensor_type &&                          \
     ((he_tensor *)(v).as.o)->dtype == HE_DT_FLOAT && ((he_tensor *)(v).as.o)->ndim == (rank))
#define DO_JUMP() (pc += GET_sJ(*pc) + 1)
/* Ctrl-C (SIGINT) or SIGTERM: the handler set the runtime's interrupt flag;
** it stays set until the front end has stopped (see main.c) */
#define INTERRUPT_CHECK() \
    if (HE_UNLIKELY(he_interrupt_pending())) { SAVE_PC(); THROW(); }

#ifdef HE_COMPUTED_GOTO
    static const void *const jump[OP__COUNT] = {
#define OP(name, fmt, syn) &&L_##name,
#include "opcodes.def"
#undef OP
    };
#define vmdispatch(o) goto *jump[o];
#define vmcase(name) L_##name:
#define vmbreak                 \
    i = *pc++;                  \
    goto *jump[GET_OP(i)]
#else
#define vmdispatch(o) switch (o)
#define vmcase(name) case OP_##name:
#define vmbreak break
#endif

    LOAD_FRAME();
    for (;;) {
        i = *pc++;
        vmdispatch(GET_OP(i))
        {
            vmcase(MOVE) {
                he_value v = RB;
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(LOADK) {
                he_value v = k[GET_Bx(i)];
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(LOADI) { SETI(RA, GET_sBx(i)); vmbreak; }
            vmcase(LOADF) { SETF(RA, (double)GET_sBx(i)); vmbreak; }
            vmcase(LOADBOOL) { SETB(RA, GET_B(i) != 0); vmbreak; }
            vmcase(LOADNIL) { setv(&RA, he_nil()); vmbreak; }
            vmcase(CLEAR) { setv(&RA, he_nil()); vmbreak; }
            vmcase(GETGLOBAL) {
                he_value v = p->mod->globals[GET_Bx(i)];
                if (HE_UNLIKELY(v.tag == HE_NIL) && p->mod->dead[GET_Bx(i)]) {
                    /* a closure made by a failed input reads a name of it
                    ** (nil is a value of an untyped global: not an error) */
                    SAVE_PC();
                    he_error("a global is used whose definition never ran (it was in a failed input)");
                    THROW();
                }
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(GETGLOBALT) {
                he_value v = p->mod->globals[GET_Bx(i)];
                if (HE_UNLIKELY(v.tag == HE_NIL)) {
                    const char *name = NULL;
                    for (int g = 0; g < p->mod->ngsyms; g++)
                        if (p->mod->gsyms[g]->kind == SYM_GLOBAL && p->mod->gsyms[g]->slot == GET_Bx(i))
                            name = p->mod->gsyms[g]->name;
                    SAVE_PC();
                    if (name) he_error("'%s' is used before its definition ran", name);
                    else he_error("a global is used whose definition never ran (it was in a failed input)");
                    THROW();
                }
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(SETGLOBAL) {
                he_value v = RA;
                he_retain(v);
                setv(&p->mod->globals[GET_Bx(i)], v);
                p->mod->dead[GET_Bx(i)] = false;
                vmbreak;
            }
            vmcase(GETEXT) {
                module *m = p->mod->imports[GET_Bx(i)];
                he_value v = m->globals[*pc++];
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(GETCAP) {
                he_value v = GET_B(i) == 255 ? he_objv(&f->cl->obj) : f->cl->caps[GET_B(i)];
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(GETCAPBOX) {
                he_value v = ((cell *)f->cl->caps[GET_B(i)].as.o)->v;
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(SETCAPBOX) {
                he_value v = RA;
                he_retain(v);
                setv(&((cell *)f->cl->caps[GET_B(i)].as.o)->v, v);
                vmbreak;
            }
            vmcase(BOX) {
                cell *c = malloc(sizeof *c);
                if (!c) {
                    SAVE_PC();
                    he_error("out of memory");
                    THROW();
                }
                he_obj_init(&c->obj, &cell_type);
                c->v = RB;
                he_retain(c->v);
                setv(&RA, he_objv(&c->obj));
                vmbreak;
            }
            vmcase(GETBOX) {
                he_value v = ((cell *)RB.as.o)->v;
                he_retain(v);
                setv(&RA, v);
                vmbreak;
            }
            vmcase(SETBOX) {
                he_value v = RB;
                he_retain(v);
                setv(&((cell *)RA.as.o)->v, v);
                vmbreak;
            }
            vmcase(CLOSURE) {
                proto *np = (proto *)k[GET_Bx(i)].as.o;
                closure *c = malloc(sizeof *c + sizeof(he_value) * (size_t)np->ncaps);
                if (!c) {
                    SAVE_PC();
                    he_error("out of memory");
                    THROW();
                }
                he_obj_init(&c->obj, &closure_type);
                c->p = np;
                np->obj.rc++;
                c->ncaps = np->ncaps;
                for (int j = 0; j < np->ncaps; j++) {
                    he_value v = np->capfrom[j] == 1   ? base[np->capidx[j]]
                                 : np->capfrom[j] == 2 ? he_objv(&f->cl->obj)
                                                       : f->cl->caps[np->capidx[j]];
                    he_retain(v);
                    c->caps[j] = v;
                }
                setv(&RA, he_objv(&c->obj));
                vmbreak;
            }
            vmcase(CHECK) {
                const type *t = p->types[GET_Bx(i)];
                /* int widens to float, as it does where types are known
                ** (compile.c only CHECKs registers it may overwrite) */
                if (t->kind == T_FLOAT && RA.tag == HE_INT) {
                    RA = he_float((double)RA.as.i);
                    vmbreak;
                }
                SAVE_PC();
                if (check_type(RA, t, p->checkwhat[GET_Bx(i)]) < 0) THROW();
                vmbreak;
            }
            vmcase(ITOF) { SETF(RA, (double)RB.as.i); vmbreak; }

#define INT_ARITH(name, builtin, sym)                                                          \
    vmcase(name) {                                                                            \
        int64_t r_;                                                                           \
        if (HE_UNLIKELY(builtin(RB.as.i, RC.as.i, &r_))) {                                    \
            SAVE_PC();                                                                        \
            he_error("int overflow: %lld " sym " %lld", (long long)RB.as.i, (long long)RC.as.i); \
            THROW();                                                                          \
        }                                                                                     \
        SETI(RA, r_);                                                                         \
        vmbreak;                                                                              \
    }
            INT_ARITH(ADDI, __builtin_add_overflow, "+")
            INT_ARITH(SUBI, __builtin_sub_overflow, "-")
            INT_ARITH(MULI, __builtin_mul_overflow, "*")
#undef INT_ARITH
            vmcase(DIVI) {
                int64_t a = RB.as.i, b = RC.as.i;
                if (HE_UNLIKELY(b == 0 || (a == INT64_MIN && b == -1))) {
                    SAVE_PC();
                    if (b == 0) he_error("division by zero");
                    else he_error("int overflow: %lld / -1", (long long)a);
                    THROW();
                }
                SETI(RA, a / b);
                vmbreak;
            }
            vmcase(MODI) {
                int64_t a = RB.as.i, b = RC.as.i;
                if (HE_UNLIKELY(b == 0)) {
                    SAVE_PC();
                    he_error("division by zero (modulo)");
                    THROW();
                }
                SETI(RA, b == -1 ? 0 : a % b);
                vmbreak;
            }
            vmcase(ADDIK) {
                int64_t r_;
                if (HE_UNLIKELY(__builtin_add_overflow(RB.as.i, (int64_t)GET_sC(i), &r_))) {
                    SAVE_PC();
                    he_error("int overflow: %lld + %d", (long long)RB.as.i, GET_sC(i));
                    THROW();
                }
                SETI(RA, r_);
                vmbreak;
            }
            vmcase(MULIK) {
                int64_t r_;
                if (HE_UNLIKELY(__builtin_mul_overflow(RB.as.i, (int64_t)GET_sC(i), &r_))) {
                    SAVE_PC();
                    he_error("int overflow: %lld * %d", (long long)RB.as.i, GET_sC(i));
                    THROW();
                }
                SETI(RA, r_);
                vmbreak;
            }
            vmcase(MODIK) { SETI(RA, RB.as.i % GET_sC(i)); vmbreak; }
            vmcase(NEGI) {
                if (HE_UNLIKELY(RB.as.i == INT64_MIN)) {
                    SAVE_PC();
                    he_error("int overflow: -(%lld)", (long long)RB.as.i);
                    THROW();
                }
                SETI(RA, -RB.as.i);
                vmbreak;
            }
            vmcase(ADDF) { SETF(RA, RB.as.f + RC.as.f); vmbreak; }
            vmcase(SUBF) { SETF(RA, RB.as.f - RC.as.f); vmbreak; }
            vmcase(MULF) { SETF(RA, RB.as.f * RC.as.f); vmbreak; }
            vmcase(DIVF) { SETF(RA, RB.as.f / RC.as.f); vmbreak; }
            vmcase(ADDFK) { SETF(RA, RB.as.f + k[GET_C(i)].as.f); vmbreak; }
            vmcase(SUBFK) { SETF(RA, RB.as.f - k[GET_C(i)].as.f); vmbreak; }
            vmcase(MULFK) { SETF(RA, RB.as.f * k[GET_C(i)].as.f); vmbreak; }
            vmcase(NEGF) { SETF(RA, -RB.as.f); vmbreak; }
            vmcase(LTI) { SETB(RA, RB.as.i < RC.as.i); vmbreak; }
            vmcase(LEI) { SETB(RA, RB.as.i <= RC.as.i); vmbreak; }
            vmcase(EQI) { SETB(RA, RB.as.i == RC.as.i); vmbreak; }
            vmcase(NEI) { SETB(RA, RB.as.i != RC.as.i); vmbreak; }
            vmcase(LTF) { SETB(RA, RB.as.f < RC.as.f); vmbreak; }
            vmcase(LEF) { SETB(RA, RB.as.f <= RC.as.f); vmbreak; }
            vmcase(EQF) { SETB(RA, RB.as.f == RC.as.f); vmbreak; }
            vmcase(NEF) { SETB(RA, RB.as.f != RC.as.f); vmbreak; }
            vmcase(NOT) {
                if (HE_UNLIKELY(RB.tag != HE_BOOL)) {
                    SAVE_PC();
                    he_error("'not' needs a bool, not %s", he_typename(RB));
                    THROW();
                }
                SETB(RA, !RB.as.b);
                vmbreak;
            }

#define GENERIC(name, op)                                      \
    vmcase(name) {                                            \
        SAVE_PC();                                            \
        if (he_binop(op, RB, RC, &tmp) < 0) THROW();          \
        setv(&RA, tmp);                                       \
        INTERRUPT_CHECK();                                    \
        vmbreak;                                              \
    }
            GENERIC(ADD, HE_OP_ADD)
            GENERIC(SUB, HE_OP_SUB)
            GENERIC(MUL, HE_OP_MUL)
            GENERIC(DIV, HE_OP_DIV)
            GENERIC(MOD, HE_OP_MOD)
            GENERIC(POW, HE_OP_POW)
            GENERIC(MATMUL, HE_OP_MATMUL)
            GENERIC(LT, HE_OP_LT)
            GENERIC(LE, HE_OP_LE)
            GENERIC(EQ, HE_OP_EQ)
            GENERIC(NE, HE_OP_NE)
#undef GENERIC
            vmcase(NEG) {
                SAVE_PC();
                if (he_unop(HE_OP_NEG, RB, &tmp) < 0) THROW();
                setv(&RA, tmp);
                vmbreak;
            }
            vmcase(GNOT) {
                SAVE_PC();
                if (he_unop(HE_OP_NOT, RB, &tmp) < 0) THROW();
                setv(&RA, tmp);
                vmbreak;
            }

            vmcase(JMP) {
                int off = GET_sJ(i);
                if (off < 0) INTERRUPT_CHECK();
                pc += off;
                vmbreak;
            }
#define CJUMP(name, cond)                  \
    vmcase(name) {                        \
        if ((cond) == (GET_C(i) != 0)) DO_JUMP(); \
        else pc++;                        \
        vmbreak;                          \
    }
            CJUMP(JLTI, RA.as.i < RB.as.i)
            CJUMP(JLEI, RA.as.i <= RB.as.i)
            CJUMP(JEQI, RA.as.i == RB.as.i)
            CJUMP(JLTIK, RA.as.i < GET_sB(i))
            CJUMP(JGTIK, RA.as.i > GET_sB(i))
            CJUMP(JLTF, RA.as.f < RB.as.f)
            CJUMP(JLEF, RA.as.f <= RB.as.f)
#undef CJUMP
            vmcase(JTEST) {
                if (HE_UNLIKELY(RA.tag != HE_BOOL)) {
                    SAVE_PC();
                    he_error("condition must be bool, not %s", he_typename(RA));
                    THROW();
                }
                if (RA.as.b == (GET_C(i) != 0)) DO_JUMP();
                else pc++;
                vmbreak;
            }
            vmcase(FORPREP) {
                he_value *r = &RA;
                SETI(r[2], 1);
                if (r[0].as.i >= r[1].as.i) pc += GET_sBx(i);
                else SETI(r[3], r[0].as.i);
                vmbreak;
            }
            vmcase(FORLOOP) {
                he_value *r = &RA;
                int64_t x = r[0].as.i + 1;
                if (x < r[1].as.i) {
                    r[0].as.i = x;
                    SETI(r[3], x);
                    INTERRUPT_CHECK();
                    pc += GET_sBx(i);
                }
                vmbreak;
            }
            vmcase(ITERPREP) {
                he_value *r = &RA;
                int64_t n;
                SAVE_PC();
                if (iter_len(r[0], &n) < 0) THROW();
                SETI(r[1], 0);
                SETI(r[2], n);
                vmbreak;
            }
            vmcase(ITERNEXT) {
                he_value *r = &RA;
                if (r[1].as.i >= r[2].as.i) {
                    pc += GET_sBx(i);
                    vmbreak;
                }
                SAVE_PC();
                INTERRUPT_CHECK();
                if (iter_get(r[0], r[1].as.i, &tmp) < 0) THROW();
                setv(&r[3], tmp);
                r[1].as.i++;
                vmbreak;
            }

            vmcase(CALL) {
                he_value *fn = &RA;
                int nargs = GET_B(i);
                SAVE_PC();
                INTERRUPT_CHECK();
                if (he_is(*fn, &closure_type)) {
                    closure *cl = (closure *)fn->as.o;
                    proto *np = cl->p;
                    if (HE_UNLIKELY(nargs != np->nparams)) {
                        he_error("%s takes %d argument%s, got %d", np->name, np->nparams, np->nparams == 1 ? "" : "s",
                                 nargs);
                        THROW();
                    }
                    if (HE_UNLIKELY(GET_C(i) & 2) && np->fty) {
                        for (int j = 0; j < nargs; j++) {
                            const type *pt = np->fty->params[j];
                            if (pt->kind == T_FLOAT && fn[1 + j].tag == HE_INT)
                                fn[1 + j] = he_float((double)fn[1 + j].as.i);
                            if (HE_LIKELY(type_ok(fn[1 + j], pt))) continue;
                            char what[96];
                            snprintf(what, sizeof what, "argument %d of %s", j + 1, np->name);
                            if (check_type(fn[1 + j], pt, what) < 0) THROW();
                        }
                    }
                    he_value *nb = fn + 1;
                    if (HE_UNLIKELY(vm->nframes >= MAX_FRAMES || nb + np->nregs + 1 >= vm->stack + STACK_SIZE)) {
                        he_error("stack overflow (calls nested more than %d deep)", vm->nframes);
                        THROW();
                    }
                    /* slots above the top frame never hold objects (RETURN and
                    ** unwinding clear them), so the callee's registers need no
                    ** initialisation */
                    frame *nf = &vm->frames[vm->nframes++];
                    nf->p = np;
                    nf->cl = cl;
                    nf->pc = np->code;
                    nf->base = nb;
                    LOAD_FRAME();
                    vmbreak;
                }
                if (he_is(*fn, &native_type)) {
                    const builtin *b = &builtins[((native *)fn->as.o)->bi];
                    if (nargs < b->minargs || (b->maxargs >= 0 && nargs > b->maxargs)) {
                        he_error("%s: wrong number of arguments (%d)", b->name, nargs);
                        THROW();
                    }
                    tmp = he_nil();
                    if (b->fn(vm, fn + 1, nargs, &tmp) < 0) THROW();
                    setv(fn, tmp);
                    for (int j = 1; j <= nargs; j++) setv(&fn[j], he_nil());
                    INTERRUPT_CHECK();
                    vmbreak;
                }
                he_error("cannot call a value of type %s", he_typename(*fn));
                THROW();
            }
            vmcase(CALLG) {
                /* a call to one of this module's fn declarations: they
                ** cannot be reassigned, so the global keeps the closure alive */
                he_value g = p->mod->globals[*pc++];
                closure *cl = (closure *)g.as.o;
                int nargs = GET_B(i);
                SAVE_PC();
                INTERRUPT_CHECK();
                if (HE_UNLIKELY(!he_is(g, &closure_type))) {
                    he_error("function called before its definition ran");
                    THROW();
                }
                proto *np = cl->p;
                he_value *nb = &RA + 1;
                if (HE_UNLIKELY(vm->nframes >= MAX_FRAMES || nb + np->nregs + 1 >= vm->stack + STACK_SIZE)) {
                    he_error("stack overflow (calls nested more than %d deep)", vm->nframes);
                    THROW();
                }
                (void)nargs;
                frame *nf = &vm->frames[vm->nframes++];
                nf->p = np;
                nf->cl = cl;
                nf->pc = np->code;
                nf->base = nb;
                LOAD_FRAME();
                vmbreak;
            }
            vmcase(CALLB) {
                const builtin *b = &builtins[*pc++];
                SAVE_PC();
                tmp = he_nil();
                if (b->fn(vm, &RA, GET_B(i), &tmp) < 0) THROW();
                setv(&RA, tmp);
                INTERRUPT_CHECK();
                vmbreak;
            }
            vmcase(RETURN) {
                he_value r = he_nil();
                if (GET_B(i)) {
                    r = RA;
                    he_retain(r);
                }
                for (int j = 0; j < p->nregs; j++)
                    if (base[j].tag == HE_OBJ) {
                        he_release(base[j]);
                        base[j].tag = HE_NIL;
                    }
                vm->nframes--;
                if (vm->nframes == stop) {
                    *ret = r;
                    return HE_OK;
                }
                setv(&base[-1], r);
                LOAD_FRAME();
                vmbreak;
            }
            vmcase(IMPORT) {
                module *m = p->mod->imports[GET_Bx(i)];
                if (HE_UNLIKELY(!m->ran)) {
                    SAVE_PC();
                    /* its error's traceback, built inside it, already
                    ** goes through this frame */
                    if (run_module(vm, m, &traced) < 0) THROW();
                    traced = false;
                }
                vmbreak;
            }

            vmcase(TENSOR) {
                SAVE_PC();
                he_tensor *t = tensor_from_values(&RB, GET_C(i));
                if (!t) THROW();
                setv(&RA, he_objv(&t->obj));
                vmbreak;
            }
            vmcase(INDEX) {
                SAVE_PC();
                if (do_index(RB, &base[GET_B(i) + 1], GET_C(i), &tmp) < 0) THROW();
                setv(&RA, tmp);
                vmbreak;
            }
            vmcase(GETF2) {
                he_tensor *t = (he_tensor *)RB.as.o;
                he_value *ia = &base[GET_C(i)], *ib = &base[*pc++];
                int64_t a = ia->as.i, b = ib->as.i;
                /* the fast path only for what the checker promised; anything
                ** else (and every out-of-range index) takes the general path */
                if (HE_UNLIKELY(!IS_FLOAT_TENSOR(RB, 2) || ia->tag != HE_INT || ib->tag != HE_INT ||
                                (uint64_t)a >= (uint64_t)t->shape[0] || (uint64_t)b >= (uint64_t)t->shape[1])) {
                    he_value ix[2] = {*ia, *ib};
                    SAVE_PC();
                    if (do_index(RB, ix, 2, &tmp) < 0) THROW();
                    setv(&RA, tmp);
                    vmbreak;
                }
                SETF(RA, t->data.f[a * t->shape[1] + b]);
                vmbreak;
            }
            vmcase(GETF1) {
                he_tensor *t = (he_tensor *)RB.as.o;
                he_value *ia = &base[GET_C(i)];
                int64_t a = ia->as.i;
                if (HE_UNLIKELY(!IS_FLOAT_TENSOR(RB, 1) || ia->tag != HE_INT || (uint64_t)a >= (uint64_t)t->shape[0])) {
                    SAVE_PC();
                    if (do_index(RB, ia, 1, &tmp) < 0) THROW();
                    setv(&RA, tmp);
                    vmbreak;
                }
                SETF(RA, t->data.f[a]);
                vmbreak;
            }
            vmcase(SETINDEX) {
                SAVE_PC();
                if (do_setindex(RA, &base[GET_A(i) + 1], GET_B(i), RC) < 0) THROW();
                vmbreak;
            }
            vmcase(SETF2) {
                he_tensor *t = (he_tensor *)RA.as.o;
                he_value *ia = &base[GET_B(i)], *ib = &base[*pc++];
                int64_t a = ia->as.i, b = ib->as.i;
                if (HE_UNLIKELY(!IS_FLOAT_TENSOR(RA, 2) || ia->tag != HE_INT || ib->tag != HE_INT ||
                                RC.tag != HE_FLOAT || (uint64_t)a >= (uint64_t)t->shape[0] ||
                                (uint64_t)b >= (uint64_t)t->shape[1])) {
                    he_value ix[2] = {*ia, *ib};
                    SAVE_PC();
                    if (do_setindex(RA, ix, 2, RC) < 0) THROW();
                    vmbreak;
                }
                t->data.f[a * t->shape[1] + b] = RC.as.f;
                vmbreak;
            }
            vmcase(SLICE) {
                uint32_t mask = *pc++;
                SAVE_PC();
                if (do_slice(RB, &base[GET_B(i) + 1], GET_C(i), mask, &tmp) < 0) THROW();
                setv(&RA, tmp);
                vmbreak;
            }
            vmcase(SETSLICE) {
                uint32_t mask = *pc++;
                SAVE_PC();
                if (do_setslice(RA, &base[GET_A(i) + 1], GET_B(i), mask, RC) < 0) THROW();
                vmbreak;
            }
            vmcase(TRANSPOSE) {
                SAVE_PC();
                if (!he_is_tensor(RB)) { /* ciphertexts, shares: their transpose */
                    if (he_obj_transpose(RB, &tmp) < 0) THROW();
                    setv(&RA, tmp);
                    vmbreak;
                }
                he_tensor *t = he_tensor_transpose(he_as_tensor(RB));
                if (!t) THROW();
                setv(&RA, he_objv(&t->obj));
                vmbreak;
            }
            vmcase(SHAPE) {
                SAVE_PC();
                if (!he_is_tensor(RB)) {
                    he_error(".shape needs a tensor, not %s", he_typename(RB));
                    THROW();
                }
                he_tensor *x = he_as_tensor(RB);
                int64_t n = x->ndim;
                he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &n);
                if (!t) THROW();
                for (int j = 0; j < x->ndim; j++) t->data.i[j] = x->shape[j];
                setv(&RA, he_objv(&t->obj));
                vmbreak;
            }
            vmcase(IDIV) { /* a // b: as the generic operators above */
                SAVE_PC();
                if (he_binop(HE_OP_IDIV, RB, RC, &tmp) < 0) THROW();
                setv(&RA, tmp);
                INTERRUPT_CHECK();
                vmbreak;
            }
        }
    }

error:
    /* whatever failed while an interrupt is pending (a kernel that polled,
    ** possibly on another thread) reports the interrupt */
    if (!traced) build_trace(vm, he_interrupt_pending() ? he_interrupt_message() : he_errmsg(), stop);
    while (vm->nframes > stop) {
        frame *e = &vm->frames[vm->nframes - 1];
        for (int j = 0; j < e->p->nregs; j++) setv(&e->base[j], he_nil());
        vm->nframes--;
    }
    return HE_RUNTIME_ERROR;
#undef RA
#undef RB
#undef RC
}

/* Calls fn with args; the result in *out. Safe from inside a builtin. */
int he_vm_call(he_vm *vm, he_value fn, he_value *args, int nargs, he_value *out)
{
    *out = he_nil();
    if (he_is(fn, &native_type)) {
        const builtin *b = &builtins[((native *)fn.as.o)->bi];
        if (nargs < b->minargs || (b->maxargs >= 0 && nargs > b->maxargs))
            return he_error("%s: wrong number of arguments (%d)", b->name, nargs);
        return b->fn(vm, args, nargs, out) < 0 ? -1 : 0;
    }
    if (!he_is(fn, &closure_type)) return he_error("cannot call a value of type %s", he_typename(fn));
    closure *cl = (closure *)fn.as.o;
    proto *np = cl->p;
    if (nargs != np->nparams)
        return he_error("%s takes %d argument%s, got %d", np->name, np->nparams, np->nparams == 1 ? "" : "s", nargs);
    he_value *top = vm->stack;
    if (vm->nframes > 0) {
        frame *cur = &vm->frames[vm->nframes - 1];
        top = cur->base + cur->p->nregs;
    }
    if (vm->nframes >= MAX_FRAMES || top + 1 + np->nregs + 1 >= vm->stack + STACK_SIZE)
        return he_error("stack overflow");
    he_value *nb = top + 1;
    he_retain(fn);
    setv(top, fn);
    for (int j = 0; j < nargs; j++) {
        if (np->fty && j < np->fty->nparams) {
            he_value a = args[j];
            if (np->fty->params[j]->kind == T_FLOAT && a.tag == HE_INT) a = he_float((double)a.as.i);
            if (!type_ok(a, np->fty->params[j])) {
                char what[96];
                snprintf(what, sizeof what, "argument %d of %s", j + 1, np->name);
                (void)check_type(a, np->fty->params[j], what);
                for (int m = 0; m < j; m++) setv(&nb[m], he_nil());
                setv(top, he_nil());
                return -1;
            }
            he_retain(a);
            setv(&nb[j], a);
        }
    }
    for (int j = nargs; j < np->nregs; j++) setv(&nb[j], he_nil());
    int stop = vm->nframes;
    frame *nf = &vm->frames[vm->nframes++];
    nf->p = np;
    nf->cl = cl;
    nf->pc = np->code;
    nf->base = nb;
    int rc = execute(vm, stop, out);
    setv(top, he_nil());
    if (rc != HE_OK) return he_error("%s", vm->errmsg);
    return 0;
}

