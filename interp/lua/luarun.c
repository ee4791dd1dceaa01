/*
** luarun.c: `he --lua FILE.lua [args]`: runs a Lua 5.4 script with the he
** module preloaded (require "he" works without LUA_CPATH), like lua.c: the
** script's arguments in the global table `arg` (arg[0] the script, arg[-2]
** the he binary, arg[-1] "--lua") and as the chunk's varargs; errors with a
** traceback on stderr. FILE "-" reads the script from stdin.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_he(lua_State *L);
extern int he_lua_hosted; /* luamod.c */
int he_lua_run(const char *script, int argc, char **argv);

/* Message handler: the error with a Lua traceback (lua.c msghandler). */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int he_lua_run(const char *script, int argc, char **argv)
{
    he_lua_hosted = 1;
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "he: cannot create the Lua state (out of memory)\n");
        return 1;
    }
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_he);
    lua_setfield(L, -2, "he");
    lua_pop(L, 1);
    /* arg: as lua.c builds it */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    lua_createtable(L, argc, 3);
    lua_pushstring(L, n > 0 ? exe : "he");
    lua_rawseti(L, -2, -2);
    lua_pushstring(L, "--lua");
    lua_rawseti(L, -2, -1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, msghandler);
    int status = luaL_loadfile(L, strcmp(script, "-") == 0 ? NULL : script);
    if (status == LUA_OK) {
        luaL_checkstack(L, argc + 1, "too many arguments to the script");
        for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
        status = lua_pcall(L, argc, 0, 1);
    }
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "he: %s\n", msg ? msg : "(error object is not a string)");
        fflush(stderr);
    }
    fflush(stdout);
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
