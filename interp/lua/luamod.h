/*
** luamod.h: the Lua module's C interface for per-type binding files.
**
** Every he value that is not a Lua scalar, a string or a tensor reaches Lua
** as a full userdata "he.Value" that owns one reference (released, and so
** wiped when the type holds a secret, by __gc or __close). Its methods come
** from a per-type table: a runtime type (ciphertext, key, share...) gets
** Lua methods from one small file interp/lua/lua_NAME.c defining
**
**     int he_lua_open_NAME(lua_State *L)
**     {
**         static const luaL_Reg methods[] = {{"decrypt", my_decrypt}, {NULL, NULL}};
**         he_lua_register(L, "cipher<ivhe>", methods);  // he_typename of the values
**         return 0;
**     }
**
** plus one line HE_LUA_TYPE(NAME) in interp/lua/luatypes.def. A method named
** "__call", "__len" or "__concat" in that table is used for that
** metamethod (arithmetic and comparison already go through the type's
** binop/unop hooks, printing through its repr hook).
**
** Inside a method: he_lua_check(L, 1, "cipher<ivhe>") gives the receiver's value
** (borrowed); he_lua_arg converts any argument; results go through
** he_lua_newbox (before anything that allocates a runtime object) and
** he_lua_settle, so a Lua error can never leak a runtime object.
*/
#ifndef HE_LUAMOD_H
#define HE_LUAMOD_H

#include <lauxlib.h>
#include <lua.h>

#include "value.h"

typedef struct he_lua_box he_lua_box;

/* Adds methods for the values whose type name (he_typename: the he_type's
** name) is type_name; several types may share a name and a table. */
void he_lua_register(lua_State *L, const char *type_name, const luaL_Reg *methods);
/* The value held by the he.Value at idx, whose type name must be
** type_name (raises otherwise, and on a closed value). Borrowed. */
he_value he_lua_check(lua_State *L, int idx, const char *type_name);
/* Any Lua argument as an he value (nil, boolean, integer -> int, float,
** string -> str, table -> tensor, he.Tensor, he.Value). Borrowed: a new
** object is anchored by replacing the stack slot idx with its userdata. */
he_value he_lua_arg(lua_State *L, int idx);
/* Pushes an empty box; call before making the result. */
he_lua_box *he_lua_newbox(lua_State *L);
/* Gives the box (on top of the stack) the result v (a new reference) and
** replaces it with v's Lua form: integer, number, boolean, string, nil,
** he.Tensor or he.Value. */
void he_lua_settle(lua_State *L, he_lua_box *b, he_value v);
/* Calls the function value fn (borrowed; anchored by the caller) with the
** Lua arguments first..top; pushes its one result. Errors from .he code
** are raised as Lua errors. */
int he_lua_call(lua_State *L, he_value fn, int first);
/* The same for the function with this name: a top-level name of the main
** module, a builtin, or MODULE.NAME (an imported .he module's global or a
** native module's function, e.g. "ivhe.decrypt"). */
int he_lua_call_named(lua_State *L, const char *name, int first);
/* Raises a Lua error with he_errmsg(). */
int he_lua_fail(lua_State *L);

#endif
