/*
** lua_api.h: what the Lua module needs from the VM on top of interp.h
** (interp/lua/lua_api.c). Nothing here uses Lua: these are plain VM helpers.
*/
#ifndef HE_LUA_API_H
#define HE_LUA_API_H

#include <stdio.h>

#include "interp.h"

/* Sends the VM's diagnostics (compile errors, runtime tracebacks) to a
** memory buffer for the length of one call, so the host can put them in
** its own error message. */
typedef struct he_capture {
    FILE *fp, *saved;
    char *buf;
    size_t len;
} he_capture;
int he_capture_begin(he_vm *vm, he_capture *c);
/* Restores vm->err; returns the captured text (malloc'd, NUL-terminated,
** trailing newlines removed; "" when nothing was written). */
char *he_capture_end(he_vm *vm, he_capture *c);

/* The value of the main module's top-level name (newest definition):
** a global, or a builtin as a function value. A new reference in *out;
** -1 with he_error when there is no such name. */
int he_api_global(he_vm *vm, const char *name, he_value *out);

/* Compiles and runs src in the main module like the REPL does: when the
** last statement is an expression, *out gets its value (else nil).
** Definitions stay; a failed input leaves no names behind. Errors are
** printed on vm->err. Returns HE_OK, HE_COMPILE_ERROR or HE_RUNTIME_ERROR. */
int he_api_eval(he_vm *vm, const char *file, const char *src, size_t len, he_value *out);

/* Calls fn; on failure the message (with the .he traceback when the error
** happened inside .he code) is printed on vm->err. 0 or -1. */
int he_api_call(he_vm *vm, he_value fn, he_value *args, int nargs, he_value *out);

#endif
