/*
** lua_ivhe.c: Lua methods of Integer Vector HE keys and ciphertexts
** (interp/modules/ivhe.c), a runtime type's binding in one small file:
**
**   he.run("import ivhe\nlet key = ivhe.keygen(4)")
**   local key <close> = he.global("key")     -- the secret key: wiped on close/GC
**   local c = key:encrypt{0.5, -1.0}          -- cipher<ivhe>
**   print(key:decrypt(c * 2 + 1), c:bits(), c:decrypt(key))
**
** Each method calls the native module's function of the same name.
*/
#include "luamod.h"

#define KEY "ivhe_key"
#define CT "cipher<ivhe>"

static int key_encrypt(lua_State *L)
{
    he_lua_check(L, 1, KEY);
    return he_lua_call_named(L, "ivhe.encrypt", 1);
}

static int key_decrypt(lua_State *L)
{
    he_lua_check(L, 1, KEY);
    return he_lua_call_named(L, "ivhe.decrypt", 1);
}

static int key_params(lua_State *L)
{
    he_lua_check(L, 1, KEY);
    lua_settop(L, 1);
    return he_lua_call_named(L, "ivhe.params", 1);
}

/* c:decrypt(key) = ivhe.decrypt(key, c) */
static int ct_decrypt(lua_State *L)
{
    he_lua_check(L, 1, CT);
    he_lua_check(L, 2, KEY);
    lua_settop(L, 2);
    lua_insert(L, 1);
    return he_lua_call_named(L, "ivhe.decrypt", 1);
}

static int ct_bits(lua_State *L)
{
    he_lua_check(L, 1, CT);
    lua_settop(L, 1);
    return he_lua_call_named(L, "ivhe.bits", 1);
}

int he_lua_open_ivhe(lua_State *L)
{
    static const luaL_Reg key_methods[] = {
        {"encrypt", key_encrypt}, {"decrypt", key_decrypt}, {"params", key_params}, {NULL, NULL}};
    static const luaL_Reg ct_methods[] = {{"decrypt", ct_decrypt}, {"bits", ct_bits}, {NULL, NULL}};
    he_lua_register(L, KEY, key_methods);
    he_lua_register(L, CT, ct_methods);
    return 0;
}
