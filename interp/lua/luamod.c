/*
** luamod.c: the Lua 5.4 module "he" (build/he.so; preloaded by he --lua).
**
**   local he = require "he"
**
** The .he VM. One VM per lua_State, created on first use and kept in the
** registry; definitions persist across calls.
**   he.run(source [, name])   compile and run .he source (name: the file name
**                             shown in messages, default "<he.run>"); true
**   he.dofile(path)           the same for a file (imports resolve next to it)
**   he.eval(source)           run like the REPL; the value of a trailing
**                             expression (nil when there is none)
**   he.call(f, ...)           call a .he function: f is the name of a
**                             top-level function or builtin of the main
**                             module, "module.name" (an imported .he
**                             module's function, or a native module's:
**                             "ivhe.decrypt"), or a function value; one result
**   he.global(name)           the value of a top-level (or module.name) name
**
** Values between Lua and .he (arguments and results):
**   nil <-> nil, boolean <-> bool, integer <-> int, float <-> float,
**   string <-> str, table -> tensor (as he.tensor), he.Tensor <-> tensor;
**   everything else (fixed scalars, functions, keys, ciphertexts, shares)
**   <-> he.Value, a userdata owning the runtime object.
**
** Tensors (userdata "he.Tensor", shared by reference with .he code):
**   he.tensor(table | number [, dtype])  nested tables, rectangular; dtype
**                             "int", "float", "bool", "fixed" or "fixed<N>";
**                             default: int when every element is a Lua
**                             integer, bool when all are booleans, else float
**   he.zeros(shape [, dtype]), he.ones(shape [, dtype])  shape {2, 3} or 5
**   t:shape() (a table), t:ndim(), t:size(), t:dtype(), #t (rows)
**   t:get(i, j, ...), t[i]     1-BASED indices, negative from the end; a
**                             full index gives the element, fewer indices a
**                             sub-tensor (a copy)
**   t:set(i, j, ..., v)       element assignment (in place)
**   t:totable()               nested tables of Lua numbers/booleans (fixed
**                             elements as floats); a 0-d tensor: its element
**   t + u, t - u, t * u, t / u, t % u, t ^ u, -t  element-wise with
**                             broadcasting, tensors or numbers either side
**   t == u                    same shape and equal elements
**   t:matmul(u), t:T(), t:reshape(shape), t:astype(dtype), t:copy()
**   t:sum([axis]), t:mean([axis]), t:max([axis]), t:min([axis])  axes
**                             1-based; no axis: over everything
**   t:exp(), :log(), :tanh(), :sigmoid(), :sqrt(), :abs(), :relu()
**   tostring(t)               the .he printed form, e.g. [[1, 2], [3, 4]]
**
** Other values (userdata "he.Value"): tostring (.he printed form),
**   arithmetic and == through the runtime, v:type(), v:tonumber() for
**   numbers and fixed, v:close(); per-type methods registered by binding
**   files (luamod.h, luatypes.def): f(...) and f:name() for functions
**   (lua_fn.c), key:encrypt(x), key:decrypt(c), key:params(),
**   c:decrypt(key), c:bits() for Integer Vector HE (lua_ivhe.c).
**   he.fixed(x [, frac]) makes a fixed<frac> scalar (default 16 bits);
**   he.typeof(v) the .he type name of any convertible Lua value, as typeof() gives it.
**
** Lifetime: every he.Tensor and he.Value owns one reference, dropped by
** __gc or early by __close (`local k <close> = ...`) or v:close(); a closed
** value raises on use. Errors from .he code are Lua errors carrying the .he
** message: file:line:col for compile errors, file:line and the .he
** traceback for runtime errors.
**
** Limits: one thread per process uses the module (the compiler keeps
** process-wide state); runtime tracebacks name a function's file by the
** main module's latest run/dofile/eval name, as the REPL does.
*/
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "lua_api.h"
#include "luamod.h"

#define MT_TENSOR "he.Tensor"
#define MT_VALUE "he.Value"
#define MT_VM "he.VM"
#define REG_VM "he.vm"
#define REG_METHODS "he.methods"
#define MAXARGS 64

struct he_lua_box {
    he_value v;
    bool closed;
};

typedef struct lvm {
    he_vm *vm;
    char dir[PATH_MAX];
} lvm;

extern const char *he_stdlib_dir;
void builtins_free(void);

/* Set by he --lua (luarun.c): the host frees the interpreter's process-wide
** tables (types, builtins) itself. In a stock lua5.4 the module frees them
** when the last VM goes, since dlclose then drops their roots. */
int he_lua_hosted;
static int live_vms;

/* --- boxes ---------------------------------------------------------------------------- */
he_lua_box *he_lua_newbox(lua_State *L)
{
    he_lua_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->v = he_nil();
    b->closed = false;
    luaL_setmetatable(L, MT_VALUE);
    return b;
}

/* Releases the value; idempotent (__gc, __close, :close()). */
static int box_release(lua_State *L)
{
    he_lua_box *b = lua_touserdata(L, 1);
    if (b) {
        he_value v = b->v;
        b->v = he_nil();
        b->closed = true;
        he_release(v);
    }
    return 0;
}

static he_lua_box *testbox(lua_State *L, int idx)
{
    he_lua_box *b = luaL_testudata(L, idx, MT_TENSOR);
    if (!b) b = luaL_testudata(L, idx, MT_VALUE);
    return b;
}

static he_value box_value(lua_State *L, int idx, he_lua_box *b)
{
    if (b->closed) luaL_error(L, "bad argument #%d (attempt to use a closed he value)", idx);
    return b->v;
}

void he_lua_settle(lua_State *L, he_lua_box *b, he_value v)
{
    b->v = v;
    switch ((he_tag)v.tag) {
    case HE_NIL: lua_pushnil(L); break;
    case HE_BOOL: lua_pushboolean(L, v.as.b); break;
    case HE_INT: lua_pushinteger(L, (lua_Integer)v.as.i); break;
    case HE_FLOAT: lua_pushnumber(L, v.as.f); break;
    case HE_FIXED: return; /* stays an he.Value */
    case HE_OBJ:
        if (he_is_tensor(v)) {
            luaL_setmetatable(L, MT_TENSOR);
            return;
        }
        if (he_is(v, &he_str_type)) {
            he_str *s = he_as_str(v);
            lua_pushlstring(L, s->data, s->len); /* may raise: the box owns v */
            break;
        }
        return;
    }
    b->v = he_nil();
    he_release(v);
    lua_replace(L, -2);
}

int he_lua_fail(lua_State *L) { return luaL_error(L, "%s", he_errmsg()); }

/* --- Lua -> he ------------------------------------------------------------------------- */
static void tensor_from_lua(lua_State *L, int idx, int dtype, int frac);

static bool parse_dtype(const char *s, int *dt, int *frac)
{
    *frac = 0;
    if (strcmp(s, "int") == 0) *dt = HE_DT_INT;
    else if (strcmp(s, "float") == 0) *dt = HE_DT_FLOAT;
    else if (strcmp(s, "bool") == 0) *dt = HE_DT_BOOL;
    else if (strcmp(s, "fixed") == 0) *dt = HE_DT_FIXED, *frac = HE_FIXED_DEFAULT_FRAC;
    else {
        int n = 0, used = 0;
        if (sscanf(s, "fixed<%d>%n", &n, &used) != 1 || s[used] != '\0' || n < 0 || n > HE_FIXED_MAXFRAC)
            return false;
        *dt = HE_DT_FIXED;
        *frac = n;
    }
    return true;
}

static void opt_dtype(lua_State *L, int idx, int *dt, int *frac)
{
    *dt = -1;
    *frac = 0;
    if (lua_isnoneornil(L, idx)) return;
    const char *s = luaL_checkstring(L, idx);
    if (!parse_dtype(s, dt, frac))
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown dtype '%s' (int, float, bool, fixed, fixed<N>)", s));
}

he_value he_lua_arg(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL: return he_nil();
    case LUA_TBOOLEAN: return he_bool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return he_int((int64_t)lua_tointeger(L, idx));
        return he_float(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        he_lua_box *b = he_lua_newbox(L);
        he_str *hs = he_str_new(s, n);
        if (!hs) he_lua_fail(L);
        b->v = he_objv(&hs->obj);
        lua_replace(L, idx);
        return b->v;
    }
    case LUA_TTABLE:
        tensor_from_lua(L, idx, -1, 0);
        lua_replace(L, idx);
        return ((he_lua_box *)lua_touserdata(L, idx))->v;
    case LUA_TUSERDATA: {
        he_lua_box *b = testbox(L, idx);
        if (b) return box_value(L, idx, b);
    }
    /* fall through */
    default:
        luaL_typeerror(L, idx, "nil, boolean, number, string, table, he.Tensor or he.Value");
        return he_nil();
    }
}

he_value he_lua_check(lua_State *L, int idx, const char *type_name)
{
    he_lua_box *b = testbox(L, idx);
    if (!b) luaL_typeerror(L, idx, type_name);
    he_value v = box_value(L, idx, b);
    if (strcmp(he_typename(v), type_name) != 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s", type_name, he_typename(v)));
    return v;
}

static he_tensor *check_tensor(lua_State *L, int idx)
{
    he_lua_box *b = luaL_checkudata(L, idx, MT_TENSOR);
    return he_as_tensor(box_value(L, idx, b));
}

/* Tensors from nested tables. The shape comes from the first element at
** each depth; every row is then checked against it. */
typedef struct tfill {
    int ndim;
    int64_t shape[HE_MAXDIM];
    int nint, nfloat, nbool;
} tfill;

static void scan_shape(lua_State *L, int idx, tfill *f)
{
    f->ndim = 0;
    lua_pushvalue(L, idx);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (f->ndim == HE_MAXDIM) luaL_error(L, "he.tensor: more than %d dimensions", HE_MAXDIM);
        int64_t n = (int64_t)lua_rawlen(L, -1);
        f->shape[f->ndim++] = n;
        if (n == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

static void where(luaL_Buffer *b, const int64_t *at, int depth)
{
    for (int i = 0; i < depth; i++) {
        char s[32];
        snprintf(s, sizeof s, "[%lld]", (long long)at[i] + 1);
        luaL_addstring(b, s);
    }
}

static int fill_error(lua_State *L, const int64_t *at, int depth, const char *what)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "he.tensor: element t");
    where(&b, at, depth);
    luaL_addstring(&b, " ");
    luaL_addstring(&b, what);
    luaL_pushresult(&b);
    return lua_error(L);
}

/* Walks the table at the top of the stack; t NULL: only checks and counts. */
static void fill(lua_State *L, tfill *f, int depth, int64_t *at, he_tensor *t, int64_t *off)
{
    if (depth == f->ndim) {
        int ty = lua_type(L, -1);
        if (ty == LUA_TBOOLEAN) f->nbool++;
        else if (ty == LUA_TNUMBER) lua_isinteger(L, -1) ? f->nint++ : f->nfloat++;
        else if (ty == LUA_TTABLE) fill_error(L, at, depth, "is a table where the shape needs a number (ragged nesting)");
        else fill_error(L, at, depth, lua_pushfstring(L, "is a %s, not a number or boolean", luaL_typename(L, -1)));
        if (!t) return;
        int64_t k = (*off)++;
        switch ((he_dtype)t->dtype) {
        case HE_DT_FLOAT:
            if (ty != LUA_TNUMBER) fill_error(L, at, depth, "is a boolean in a float tensor");
            t->data.f[k] = lua_tonumber(L, -1);
            break;
        case HE_DT_INT: {
            lua_Integer i;
            if (ty != LUA_TNUMBER || !lua_isinteger(L, -1)) {
                int isnum = 0;
                i = lua_tointegerx(L, -1, &isnum);
                if (!isnum) fill_error(L, at, depth, "is not an integer (int tensor)");
            } else i = lua_tointeger(L, -1);
            t->data.i[k] = (int64_t)i;
            break;
        }
        case HE_DT_BOOL:
            if (ty != LUA_TBOOLEAN) fill_error(L, at, depth, "is a number in a bool tensor");
            t->data.i[k] = lua_toboolean(L, -1);
            break;
        case HE_DT_FIXED:
            if (ty != LUA_TNUMBER) fill_error(L, at, depth, "is a boolean in a fixed tensor");
            if (he_fixed_from_double(lua_tonumber(L, -1), t->frac, &t->data.i[k]) < 0)
                fill_error(L, at, depth, he_errmsg());
            break;
        }
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        fill_error(L, at, depth, lua_pushfstring(L, "is a %s where a row of %I elements is needed (ragged nesting)",
                                                 luaL_typename(L, -1), (lua_Integer)f->shape[depth]));
    int64_t n = (int64_t)lua_rawlen(L, -1);
    if (n != f->shape[depth])
        fill_error(L, at, depth,
                   lua_pushfstring(L, "has %I elements, expected %I (the table is not rectangular)", (lua_Integer)n,
                                   (lua_Integer)f->shape[depth]));
    luaL_checkstack(L, 4, "he.tensor: nesting too deep");
    for (int64_t i = 0; i < n; i++) {
        at[depth] = i;
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        fill(L, f, depth + 1, at, t, off);
        lua_pop(L, 1);
    }
}

/* Pushes a new he.Tensor made from the Lua value at idx (table or scalar). */
static void tensor_from_lua(lua_State *L, int idx, int dtype, int frac)
{
    idx = lua_absindex(L, idx);
    he_lua_box *b = he_lua_newbox(L);
    tfill f = {0};
    int64_t at[HE_MAXDIM + 1] = {0};
    scan_shape(L, idx, &f);
    lua_pushvalue(L, idx);
    fill(L, &f, 0, at, NULL, NULL); /* checks shape and element types */
    lua_pop(L, 1);
    if (dtype < 0) {
        if (f.nbool && (f.nint || f.nfloat)) luaL_error(L, "he.tensor: mixes booleans and numbers");
        dtype = f.nbool ? HE_DT_BOOL : (f.nfloat || !f.nint) ? HE_DT_FLOAT : HE_DT_INT;
    }
    he_tensor *t = he_tensor_new((he_dtype)dtype, frac, f.ndim, f.shape);
    if (!t) he_lua_fail(L);
    b->v = he_objv(&t->obj);
    luaL_setmetatable(L, MT_TENSOR);
    int64_t off = 0;
    lua_pushvalue(L, idx);
    fill(L, &f, 0, at, t, &off);
    lua_pop(L, 1);
}

/* --- the VM ----------------------------------------------------------------------------- */
static int vm_gc(lua_State *L)
{
    lvm *u = luaL_checkudata(L, 1, MT_VM);
    if (u->vm) {
        he_vm_free(u->vm);
        u->vm = NULL;
        if (--live_vms == 0 && !he_lua_hosted) {
            types_free_all();
            builtins_free();
        }
    }
    return 0;
}

static lvm *get_vm(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, REG_VM) == LUA_TUSERDATA) {
        lvm *u = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return u;
    }
    lua_pop(L, 1);
    lvm *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->vm = NULL;
    strcpy(u->dir, ".");
    luaL_setmetatable(L, MT_VM);
    u->vm = he_vm_new();
    if (!u->vm) luaL_error(L, "he: cannot create the VM: %s", he_errmsg());
    live_vms++;
    u->vm->script_dir = u->dir;
    lua_setfield(L, LUA_REGISTRYINDEX, REG_VM);
    return u;
}

/* Raises the captured diagnostics (or fallback) as a Lua error. */
static int raise_captured(lua_State *L, char *text, const char *fallback)
{
    lua_pushstring(L, *text ? text : fallback);
    free(text);
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

static void pass_through(char *text)
{
    if (*text) fprintf(stderr, "%s\n", text);
    free(text);
}

static int l_run_common(lua_State *L, const char *name, const char *src, size_t len, bool file)
{
    lvm *u = get_vm(L);
    he_vm *vm = u->vm;
    he_capture c;
    if (he_capture_begin(vm, &c) < 0) return he_lua_fail(L);
    char saved[PATH_MAX];
    memcpy(saved, u->dir, sizeof saved);
    if (file) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", name);
        snprintf(u->dir, sizeof u->dir, "%s", dirname(tmp));
    }
    int rc = file ? he_run_file(vm, name, 0) : he_run_source(vm, name, src, len, 0);
    char *text = he_capture_end(vm, &c);
    memcpy(u->dir, saved, sizeof saved);
    if (rc != HE_OK) return raise_captured(L, text, "he: error");
    pass_through(text);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_run(lua_State *L)
{
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "<he.run>");
    return l_run_common(L, name, src, len, false);
}

static int l_dofile(lua_State *L) { return l_run_common(L, luaL_checkstring(L, 1), NULL, 0, true); }

static int l_eval(lua_State *L)
{
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "<he.eval>");
    he_vm *vm = get_vm(L)->vm;
    he_lua_box *b = he_lua_newbox(L);
    he_capture c;
    if (he_capture_begin(vm, &c) < 0) return he_lua_fail(L);
    he_value out;
    int rc = he_api_eval(vm, name, src, len, &out);
    char *text = he_capture_end(vm, &c);
    if (rc != HE_OK) return raise_captured(L, text, "he.eval: error");
    pass_through(text);
    he_lua_settle(L, b, out);
    return 1;
}

int he_lua_call(lua_State *L, he_value fn, int first)
{
    int top = lua_gettop(L);
    int n = top - first + 1;
    if (n < 0) n = 0;
    if (n > MAXARGS) return luaL_error(L, "he.call: too many arguments (%d, at most %d)", n, MAXARGS);
    he_value args[MAXARGS];
    for (int i = 0; i < n; i++) args[i] = he_lua_arg(L, first + i);
    he_vm *vm = get_vm(L)->vm;
    he_lua_box *b = he_lua_newbox(L);
    he_capture c;
    if (he_capture_begin(vm, &c) < 0) return he_lua_fail(L);
    he_value out;
    int rc = he_api_call(vm, fn, args, n, &out);
    char *text = he_capture_end(vm, &c);
    if (rc < 0) return raise_captured(L, text, "he.call: error");
    pass_through(text);
    he_lua_settle(L, b, out);
    return 1;
}

int he_lua_call_named(lua_State *L, const char *name, int first)
{
    he_vm *vm = get_vm(L)->vm;
    he_lua_box *fb = he_lua_newbox(L); /* owns the function while it runs */
    he_value fn;
    if (he_api_global(vm, name, &fn) < 0) return luaL_error(L, "%s", he_errmsg());
    fb->v = fn;
    if (first <= lua_gettop(L) - 1) lua_insert(L, first); /* below the arguments */
    return he_lua_call(L, fn, first + 1);
}

static int l_call(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) {
        he_vm *vm = get_vm(L)->vm;
        he_lua_box *fb = he_lua_newbox(L); /* owns the function while it runs */
        he_value fn;
        if (he_api_global(vm, lua_tostring(L, 1), &fn) < 0) return luaL_error(L, "he.call: %s", he_errmsg());
        fb->v = fn;
        lua_replace(L, 1);
        return he_lua_call(L, fn, 2);
    }
    he_value fn = he_lua_arg(L, 1);
    return he_lua_call(L, fn, 2);
}

static int l_global(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    he_vm *vm = get_vm(L)->vm;
    he_lua_box *b = he_lua_newbox(L);
    he_value v;
    if (he_api_global(vm, name, &v) < 0) return luaL_error(L, "he.global: %s", he_errmsg());
    he_lua_settle(L, b, v);
    return 1;
}

/* --- constructors ------------------------------------------------------------------------- */
static int l_tensor(lua_State *L)
{
    int dt, frac;
    opt_dtype(L, 2, &dt, &frac);
    int t = lua_type(L, 1);
    if (t != LUA_TTABLE && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
        return luaL_typeerror(L, 1, "table, number or boolean");
    tensor_from_lua(L, 1, dt, frac);
    return 1;
}

static int check_shape(lua_State *L, int idx, int64_t *shape)
{
    if (lua_isinteger(L, idx)) {
        shape[0] = (int64_t)lua_tointeger(L, idx);
        return 1;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)lua_rawlen(L, idx);
    if (n > HE_MAXDIM) luaL_argerror(L, idx, "too many dimensions");
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        int ok;
        shape[i] = (int64_t)lua_tointegerx(L, -1, &ok);
        if (!ok || shape[i] < 0) luaL_argerror(L, idx, "a shape is a table of non-negative integers");
        lua_pop(L, 1);
    }
    return n;
}

static int filled(lua_State *L, double x)
{
    int64_t shape[HE_MAXDIM];
    int n = check_shape(L, 1, shape);
    int dt, frac;
    opt_dtype(L, 2, &dt, &frac);
    if (dt < 0) dt = HE_DT_FLOAT;
    he_lua_box *b = he_lua_newbox(L);
    he_value fill = dt == HE_DT_FLOAT ? he_float(x) : dt == HE_DT_BOOL ? he_bool(x != 0) : he_int((int64_t)x);
    he_tensor *t = he_tensor_full((he_dtype)dt, frac, n, shape, fill);
    if (!t) return he_lua_fail(L);
    b->v = he_objv(&t->obj);
    luaL_setmetatable(L, MT_TENSOR);
    return 1;
}

static int l_zeros(lua_State *L) { return filled(L, 0); }
static int l_ones(lua_State *L) { return filled(L, 1); }

static int l_fixed(lua_State *L)
{
    double x = luaL_checknumber(L, 1);
    lua_Integer frac = luaL_optinteger(L, 2, HE_FIXED_DEFAULT_FRAC);
    luaL_argcheck(L, frac >= 0 && frac <= HE_FIXED_MAXFRAC, 2, "fractional bits out of range (0..62)");
    int64_t raw;
    if (he_fixed_from_double(x, (int)frac, &raw) < 0) return he_lua_fail(L);
    he_lua_box *b = he_lua_newbox(L);
    b->v = he_fixed_raw(raw, (int)frac);
    return 1;
}

static int l_typeof(lua_State *L)
{
    luaL_checkany(L, 1);
    he_value v = he_lua_arg(L, 1);
    lua_pushstring(L, he_type_full(v).s); /* as typeof() in .he: "float[3]" */
    return 1;
}

/* --- shared metamethods ------------------------------------------------------------------ */
static int binop(lua_State *L, he_op op)
{
    he_value a = he_lua_arg(L, 1);
    he_value c = he_lua_arg(L, 2);
    he_lua_box *b = he_lua_newbox(L);
    he_value out;
    if (he_binop(op, a, c, &out) < 0) return he_lua_fail(L);
    he_lua_settle(L, b, out);
    return 1;
}

static int m_add(lua_State *L) { return binop(L, HE_OP_ADD); }
static int m_sub(lua_State *L) { return binop(L, HE_OP_SUB); }
static int m_mul(lua_State *L) { return binop(L, HE_OP_MUL); }
static int m_div(lua_State *L) { return binop(L, HE_OP_DIV); }
static int m_mod(lua_State *L) { return binop(L, HE_OP_MOD); }
static int m_pow(lua_State *L) { return binop(L, HE_OP_POW); }

static int m_unm(lua_State *L)
{
    he_value a = he_lua_arg(L, 1);
    he_lua_box *b = he_lua_newbox(L);
    he_value out;
    if (he_unop(HE_OP_NEG, a, &out) < 0) return he_lua_fail(L);
    he_lua_settle(L, b, out);
    return 1;
}

static int m_tostring(lua_State *L)
{
    he_lua_box *b = lua_touserdata(L, 1);
    const char *name = luaL_testudata(L, 1, MT_TENSOR) ? MT_TENSOR : MT_VALUE;
    if (!b || b->closed) {
        lua_pushfstring(L, "%s (closed)", name);
        return 1;
    }
    he_buf s;
    he_buf_init(&s);
    int rc = he_repr(b->v, &s, false);
    if (rc == 0) lua_pushlstring(L, s.data ? s.data : "", s.len);
    he_buf_free(&s);
    if (rc < 0) return he_lua_fail(L);
    return 1;
}

/* Same shape and equal elements for tensors; he_equal otherwise. */
static int m_eq(lua_State *L)
{
    he_lua_box *x = testbox(L, 1), *y = testbox(L, 2);
    if (!x || !y || x->closed || y->closed) {
        lua_pushboolean(L, x == y);
        return 1;
    }
    if (!he_is_tensor(x->v) || !he_is_tensor(y->v)) {
        lua_pushboolean(L, he_equal(x->v, y->v));
        return 1;
    }
    he_tensor *a = he_as_tensor(x->v), *c = he_as_tensor(y->v);
    bool eq = a->ndim == c->ndim && a->size == c->size;
    for (int i = 0; eq && i < a->ndim; i++) eq = a->shape[i] == c->shape[i];
    for (int64_t k = 0; eq && k < a->size; k++) {
        int64_t ix[HE_MAXDIM], r = k;
        for (int d = a->ndim - 1; d >= 0; d--) {
            ix[d] = r % a->shape[d];
            r /= a->shape[d];
        }
        he_value u, w;
        if (he_tensor_get(a, a->ndim, ix, &u) < 0 || he_tensor_get(c, c->ndim, ix, &w) < 0) return he_lua_fail(L);
        if (u.tag == HE_FIXED && w.tag == HE_FIXED) eq = u.frac == w.frac && u.as.i == w.as.i;
        else if (u.tag == HE_FIXED || w.tag == HE_FIXED) {
            double p = u.tag == HE_FIXED ? he_fixed_to_double(u.as.i, u.frac) : u.tag == HE_INT ? (double)u.as.i : u.as.f;
            double q = w.tag == HE_FIXED ? he_fixed_to_double(w.as.i, w.frac) : w.tag == HE_INT ? (double)w.as.i : w.as.f;
            eq = u.tag != HE_BOOL && w.tag != HE_BOOL && p == q;
        } else eq = he_equal(u, w);
    }
    lua_pushboolean(L, eq);
    return 1;
}

static int m_len(lua_State *L)
{
    he_lua_box *b = testbox(L, 1);
    he_value v = box_value(L, 1, b);
    if (v.tag == HE_OBJ && v.as.o->type->len) {
        int64_t n;
        if (v.as.o->type->len(v.as.o, &n) < 0) return he_lua_fail(L);
        lua_pushinteger(L, (lua_Integer)n);
        return 1;
    }
    return luaL_error(L, "attempt to get the length of a %s", he_typename(v));
}

static int m_close(lua_State *L) { return box_release(L); }

/* --- tensor methods ------------------------------------------------------------------------ */
static int t_shape(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, (lua_Integer)t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int t_ndim(lua_State *L)
{
    lua_pushinteger(L, check_tensor(L, 1)->ndim);
    return 1;
}

static int t_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_tensor(L, 1)->size);
    return 1;
}

static int t_dtype(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    if (t->dtype == HE_DT_FIXED) lua_pushfstring(L, "fixed<%d>", t->frac);
    else lua_pushstring(L, he_dtype_name((he_dtype)t->dtype));
    return 1;
}

/* Lua indices (1-based, negative from the end) at first..first+n-1. */
static void get_index(lua_State *L, int first, int n, const he_tensor *t, int64_t *ix)
{
    if (n > t->ndim) luaL_error(L, "too many indices (%d) for a %d-d tensor", n, t->ndim);
    for (int i = 0; i < n; i++) {
        lua_Integer k = luaL_checkinteger(L, first + i);
        if (k == 0) luaL_argerror(L, first + i, "index 0: tensor indices start at 1 (negative ones count from the end)");
        ix[i] = k > 0 ? (int64_t)k - 1 : (int64_t)k;
        int64_t real = ix[i] < 0 ? ix[i] + t->shape[i] : ix[i];
        if (real < 0 || real >= t->shape[i])
            luaL_error(L, "index %I out of range for axis %d of size %I", k, i + 1, (lua_Integer)t->shape[i]);
    }
}

static int get_at(lua_State *L, he_tensor *t, int first, int n)
{
    int64_t ix[HE_MAXDIM];
    get_index(L, first, n, t, ix);
    he_lua_box *b = he_lua_newbox(L);
    if (n == t->ndim) {
        he_value v;
        if (he_tensor_get(t, n, ix, &v) < 0) return he_lua_fail(L);
        he_lua_settle(L, b, v);
        return 1;
    }
    he_tensor *r = he_tensor_sub(t, n, ix);
    if (!r) return he_lua_fail(L);
    he_lua_settle(L, b, he_objv(&r->obj));
    return 1;
}

static int t_get(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    return get_at(L, t, 2, lua_gettop(L) - 1);
}

static int t_set(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    int n = lua_gettop(L) - 2;
    if (n != t->ndim) return luaL_error(L, "t:set needs %d indices and a value, got %d indices", t->ndim, n < 0 ? 0 : n);
    int64_t ix[HE_MAXDIM];
    get_index(L, 2, n, t, ix);
    he_value v = he_lua_arg(L, n + 2);
    if (he_tensor_set(t, n, ix, v) < 0) return he_lua_fail(L);
    lua_settop(L, 1);
    return 1;
}

static void push_elem(lua_State *L, const he_tensor *t, int64_t k)
{
    switch ((he_dtype)t->dtype) {
    case HE_DT_FLOAT: lua_pushnumber(L, t->data.f[k]); break;
    case HE_DT_INT: lua_pushinteger(L, (lua_Integer)t->data.i[k]); break;
    case HE_DT_BOOL: lua_pushboolean(L, t->data.i[k] != 0); break;
    case HE_DT_FIXED: lua_pushnumber(L, he_fixed_to_double(t->data.i[k], t->frac)); break;
    }
}

static void totable(lua_State *L, const he_tensor *t, int depth, int64_t *off)
{
    if (depth == t->ndim) {
        push_elem(L, t, (*off)++);
        return;
    }
    luaL_checkstack(L, 3, "tensor too deep");
    int64_t n = t->shape[depth];
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        totable(L, t, depth + 1, off);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int t_totable(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    int64_t off = 0;
    totable(L, t, 0, &off);
    return 1;
}

static int t_index(lua_State *L)
{
    if (lua_isinteger(L, 2)) {
        he_tensor *t = check_tensor(L, 1);
        return get_at(L, t, 2, 1);
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int t_matmul(lua_State *L)
{
    he_tensor *a = check_tensor(L, 1);
    he_value bv = he_lua_arg(L, 2);
    if (!he_is_tensor(bv)) return luaL_typeerror(L, 2, "he.Tensor or table");
    he_lua_box *b = he_lua_newbox(L);
    he_value out;
    if (he_tensor_matmul(a, he_as_tensor(bv), &out) < 0) return he_lua_fail(L);
    he_lua_settle(L, b, out);
    return 1;
}

static int tensor_result(lua_State *L, he_lua_box *b, he_tensor *r)
{
    if (!r) return he_lua_fail(L);
    he_lua_settle(L, b, he_objv(&r->obj));
    return 1;
}

static int t_transpose(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    he_lua_box *b = he_lua_newbox(L);
    return tensor_result(L, b, he_tensor_transpose(t));
}

static int t_copy(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    he_lua_box *b = he_lua_newbox(L);
    return tensor_result(L, b, he_tensor_copy(t));
}

static int t_reshape(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    int64_t shape[HE_MAXDIM];
    int n;
    if (lua_istable(L, 2)) {
        n = (int)lua_rawlen(L, 2);
        if (n > HE_MAXDIM) return luaL_argerror(L, 2, "too many dimensions");
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, 2, i + 1);
            int ok;
            shape[i] = (int64_t)lua_tointegerx(L, -1, &ok);
            if (!ok) return luaL_argerror(L, 2, "a shape is a table of integers (one may be -1)");
            lua_pop(L, 1);
        }
    } else {
        n = lua_gettop(L) - 1;
        if (n > HE_MAXDIM) return luaL_argerror(L, 2, "too many dimensions");
        for (int i = 0; i < n; i++) shape[i] = (int64_t)luaL_checkinteger(L, i + 2);
    }
    he_lua_box *b = he_lua_newbox(L);
    return tensor_result(L, b, he_tensor_reshape(t, n, shape));
}

static int t_astype(lua_State *L)
{
    he_tensor *t = check_tensor(L, 1);
    int dt, frac;
    luaL_checkstring(L, 2);
    opt_dtype(L, 2, &dt, &frac);
    he_lua_box *b = he_lua_newbox(L);
    return tensor_result(L, b, he_tensor_astype(t, (he_dtype)dt, frac));
}

static int reduce(lua_State *L, int (*fn)(const he_tensor *, int, he_value *))
{
    he_tensor *t = check_tensor(L, 1);
    int axis = HE_AXIS_ALL;
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer a = luaL_checkinteger(L, 2);
        luaL_argcheck(L, a != 0, 2, "axes start at 1 (negative ones count from the end)");
        luaL_argcheck(L, a >= -t->ndim && a <= t->ndim, 2, "axis out of range");
        axis = (int)(a > 0 ? a - 1 : a);
    }
    he_lua_box *b = he_lua_newbox(L);
    he_value out;
    if (fn(t, axis, &out) < 0) return he_lua_fail(L);
    he_lua_settle(L, b, out);
    return 1;
}

static int t_sum(lua_State *L) { return reduce(L, he_tensor_sum); }
static int t_mean(lua_State *L) { return reduce(L, he_tensor_mean); }
static int t_max(lua_State *L) { return reduce(L, he_tensor_max); }
static int t_min(lua_State *L) { return reduce(L, he_tensor_min); }

static int math1(lua_State *L, he_math fn)
{
    he_tensor *t = check_tensor(L, 1);
    he_lua_box *b = he_lua_newbox(L);
    return tensor_result(L, b, he_tensor_math(fn, t));
}
static int t_exp(lua_State *L) { return math1(L, HE_MATH_EXP); }
static int t_log(lua_State *L) { return math1(L, HE_MATH_LOG); }
static int t_tanh(lua_State *L) { return math1(L, HE_MATH_TANH); }
static int t_sigmoid(lua_State *L) { return math1(L, HE_MATH_SIGMOID); }
static int t_sqrt(lua_State *L) { return math1(L, HE_MATH_SQRT); }
static int t_abs(lua_State *L) { return math1(L, HE_MATH_ABS); }
static int t_relu(lua_State *L) { return math1(L, HE_MATH_RELU); }

/* --- generic values ------------------------------------------------------------------------ */
static he_value check_value(lua_State *L, int idx)
{
    he_lua_box *b = testbox(L, idx);
    if (!b) luaL_typeerror(L, idx, MT_VALUE);
    return box_value(L, idx, b);
}

/* Pushes the per-type methods table of v (or nil). */
static int push_type_methods(lua_State *L, he_value v)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_METHODS);
    int t = lua_getfield(L, -1, he_typename(v));
    lua_remove(L, -2);
    return t;
}

static int v_index(lua_State *L)
{
    he_lua_box *b = testbox(L, 1);
    if (b && !b->closed && push_type_methods(L, b->v) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL) return 1;
        lua_pop(L, 2);
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TNIL && b && b->closed && lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "attempt to use a closed he value (method '%s')", lua_tostring(L, 2));
    return 1;
}

/* A metamethod that only some types have: looked up in the type's table. */
static int per_type(lua_State *L, const char *mm)
{
    he_value v = check_value(L, 1);
    if (push_type_methods(L, v) == LUA_TTABLE && lua_getfield(L, -1, mm) == LUA_TFUNCTION) {
        lua_insert(L, 1);
        lua_pop(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
    }
    return luaL_error(L, "he value of type %s has no %s", he_typename(v), mm);
}

static int v_call(lua_State *L) { return per_type(L, "__call"); }
static int v_concat(lua_State *L)
{
    if (!testbox(L, 1)) return luaL_error(L, "attempt to concatenate a %s with an he value", luaL_typename(L, 1));
    return per_type(L, "__concat");
}
static int v_len(lua_State *L)
{
    he_value v = check_value(L, 1);
    if (push_type_methods(L, v) == LUA_TTABLE && lua_getfield(L, -1, "__len") == LUA_TFUNCTION) {
        lua_pop(L, 2);
        return per_type(L, "__len");
    }
    lua_settop(L, 1);
    return m_len(L);
}

static int v_type(lua_State *L)
{
    lua_pushstring(L, he_typename(check_value(L, 1)));
    return 1;
}

static int v_tonumber(lua_State *L)
{
    he_value v = check_value(L, 1);
    switch (v.tag) {
    case HE_INT: lua_pushinteger(L, (lua_Integer)v.as.i); break;
    case HE_FLOAT: lua_pushnumber(L, v.as.f); break;
    case HE_FIXED: lua_pushnumber(L, he_fixed_to_double(v.as.i, v.frac)); break;
    default: luaL_pushfail(L);
    }
    return 1;
}

void he_lua_register(lua_State *L, const char *type_name, const luaL_Reg *methods)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_METHODS);
    if (lua_getfield(L, -1, type_name) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, type_name);
    }
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}

/* --- opening ------------------------------------------------------------------------------- */
#define HE_LUA_TYPE(name) int he_lua_open_##name(lua_State *L);
#include "luatypes.def"
#undef HE_LUA_TYPE

static const lua_CFunction type_openers[] = {
#define HE_LUA_TYPE(name) he_lua_open_##name,
#include "luatypes.def"
#undef HE_LUA_TYPE
    NULL,
};

static const luaL_Reg shared_mm[] = {
    {"__gc", box_release}, {"__close", box_release}, {"__tostring", m_tostring},
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div}, {"__mod", m_mod},
    {"__pow", m_pow}, {"__unm", m_unm}, {"__eq", m_eq}, {NULL, NULL},
};

static const luaL_Reg tensor_methods[] = {
    {"shape", t_shape}, {"ndim", t_ndim}, {"size", t_size}, {"dtype", t_dtype}, {"get", t_get},
    {"set", t_set}, {"totable", t_totable}, {"matmul", t_matmul}, {"T", t_transpose},
    {"transpose", t_transpose}, {"reshape", t_reshape}, {"astype", t_astype}, {"copy", t_copy},
    {"sum", t_sum}, {"mean", t_mean}, {"max", t_max}, {"min", t_min}, {"exp", t_exp}, {"log", t_log},
    {"tanh", t_tanh}, {"sigmoid", t_sigmoid}, {"sqrt", t_sqrt}, {"abs", t_abs}, {"relu", t_relu},
    {"close", m_close}, {NULL, NULL},
};

static const luaL_Reg value_methods[] = {
    {"type", v_type}, {"tonumber", v_tonumber}, {"close", m_close}, {NULL, NULL},
};

static void new_type_mt(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction index)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, shared_mm, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* The stdlib next to the module (build/he.so -> stdlib/) when the host did
** not set one (he --lua does). */
static void find_stdlib(void)
{
    static char dir[PATH_MAX];
    if (he_stdlib_dir) return;
    Dl_info info;
    if (!dladdr((void *)find_stdlib, &info) || !info.dli_fname) return;
    char so[PATH_MAX];
    if (!realpath(info.dli_fname, so)) return;
    const char *d = dirname(so);
    const char *tries[] = {"%s/../stdlib", "%s/../../stdlib", "%s/../../../share/he/stdlib"};
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, tries[i], d);
        if (realpath(p, dir)) {
            he_stdlib_dir = dir;
            return;
        }
    }
}

static const luaL_Reg he_funcs[] = {
    {"run", l_run}, {"dofile", l_dofile}, {"eval", l_eval}, {"call", l_call}, {"global", l_global},
    {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones}, {"fixed", l_fixed}, {"typeof", l_typeof},
    {NULL, NULL},
};

LUAMOD_API int luaopen_he(lua_State *L)
{
    if (he_init() < 0) return luaL_error(L, "he: cannot initialise the runtime: %s", he_errmsg());
    find_stdlib();
    luaL_newlib(L, he_funcs);
    new_type_mt(L, MT_TENSOR, tensor_methods, t_index);
    new_type_mt(L, MT_VALUE, value_methods, v_index);
    luaL_getmetatable(L, MT_VALUE);
    lua_pushcfunction(L, v_call);
    lua_setfield(L, -2, "__call");
    lua_pushcfunction(L, v_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, v_concat);
    lua_setfield(L, -2, "__concat");
    lua_pop(L, 1);
    luaL_getmetatable(L, MT_TENSOR);
    lua_pushcfunction(L, m_len);
    lua_setfield(L, -2, "__len");
    lua_pop(L, 1);
    if (luaL_newmetatable(L, MT_VM)) {
        lua_pushcfunction(L, vm_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, REG_METHODS);
    lua_pop(L, 1);
    for (int i = 0; type_openers[i]; i++) {
        lua_pushcfunction(L, type_openers[i]);
        lua_call(L, 0, 0);
    }
    lua_pushliteral(L, HE_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
