/*
** lua_fn.c: Lua methods of .he function values (the pattern for a runtime
** type's binding: one file, one line in luatypes.def; see luamod.h).
**
**   local f = he.global("fact")    -- or he.eval("fn(x: int) -> int { return x + 1 }")
**   f(5), f:name()
*/
#include "interp.h"
#include "luamod.h"

static he_value check_fn(lua_State *L, int idx)
{
    he_value v = he_lua_arg(L, idx);
    if (!he_is(v, &closure_type) && !he_is(v, &native_type)) luaL_typeerror(L, idx, "he function");
    return v;
}

/* f(...): he.call(f, ...) */
static int fn_call(lua_State *L)
{
    he_value fn = check_fn(L, 1); /* anchored by its userdata at 1 */
    return he_lua_call(L, fn, 2);
}

static int fn_name(lua_State *L)
{
    he_value v = check_fn(L, 1);
    if (he_is(v, &closure_type)) lua_pushstring(L, ((closure *)v.as.o)->p->name);
    else lua_pushstring(L, builtins[((native *)v.as.o)->bi].name);
    return 1;
}

int he_lua_open_fn(lua_State *L)
{
    static const luaL_Reg methods[] = {{"__call", fn_call}, {"name", fn_name}, {NULL, NULL}};
    he_lua_register(L, "fn", methods); /* closures and builtins */
    return 0;
}
