/*
** lua_api.c: VM helpers for the Lua module (see lua_api.h).
*/
#include <stdlib.h>
#include <string.h>

#include "lua_api.h"


int he_capture_begin(he_vm *vm, he_capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->saved = vm->err;
    c->fp = open_memstream(&c->buf, &c->len);
    if (!c->fp) return he_error("cannot open a memory stream");
    vm->err = c->fp;
    return 0;
}

char *he_capture_end(he_vm *vm, he_capture *c)
{
    vm->err = c->saved;
    fclose(c->fp);
    c->fp = NULL;
    char *s = c->buf;
    if (!s) s = strdup("");
    if (!s) he_misuse("out of memory");
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') s[--n] = '\0';
    c->buf = NULL;
    return s;
}

static int native_value(int bi, he_value *out)
{
    native *f = malloc(sizeof *f);
    if (!f) return he_error("out of memory");
    he_obj_init(&f->obj, &native_type);
    f->bi = bi;
    *out = he_objv(&f->obj);
    return 0;
}

/* name in module m's top-level names (newest first); 1 when absent. */
static int lookup(module *m, const char *name, size_t len, sym **found)
{
    for (int i = m->ngsyms - 1; i >= 0; i--)
        if (strncmp(m->gsyms[i]->name, name, len) == 0 && m->gsyms[i]->name[len] == '\0') {
            *found = m->gsyms[i];
            return 0;
        }
    return 1;
}

static int sym_value(module *m, sym *s, const char *name, he_value *out)
{
    if (s->kind == SYM_GLOBAL) {
        *out = m->globals[s->slot];
        he_retain(*out);
        return 0;
    }
    if (s->kind == SYM_BUILTIN) return native_value(s->slot, out);
    return he_error("'%s' is a module, not a value", name);
}

int he_api_global(he_vm *vm, const char *name, he_value *out)
{
    module *m = vm->main;
    sym *s;
    *out = he_nil();
    const char *dot = strchr(name, '.');
    if (!dot) {
        if (lookup(m, name, strlen(name), &s) == 0) return sym_value(m, s, name, out);
        return he_error("no top-level name '%s' in the he VM", name);
    }
    /* MODULE.NAME: an imported .he module's global, or a native module's function */
    size_t ml = (size_t)(dot - name);
    const char *member = dot + 1;
    if (lookup(m, name, ml, &s) == 0 && s->kind == SYM_MODULE && s->mod) {
        sym *t;
        if (lookup(s->mod, member, strlen(member), &t) == 0 && (t->kind == SYM_GLOBAL || t->kind == SYM_BUILTIN))
            return sym_value(s->mod, t, name, out);
        return he_error("module %.*s has no '%s'", (int)ml, name, member);
    }
    for (int i = 0; i < nbuiltins; i++)
        if (builtins[i].module && strncmp(builtins[i].module, name, ml) == 0 && builtins[i].module[ml] == '\0' &&
            strcmp(builtins[i].name, member) == 0)
            return native_value(i, out);
    return he_error("no name '%s' in the he VM (import the module first)", name);
}

int he_api_call(he_vm *vm, he_value fn, he_value *args, int nargs, he_value *out)
{
    /* the traceback is rebuilt only when the error happens inside .he code */
    vm->trace.len = 0;
    if (vm->trace.data) vm->trace.data[0] = '\0';
    if (he_vm_call(vm, fn, args, nargs, out) == 0) return 0;
    if (vm->trace.len > 0) fputs(vm->trace.data, vm->err);
    else fprintf(vm->err, "%s\n", he_errmsg());
    return -1;
}

int he_api_eval(he_vm *vm, const char *file, const char *src, size_t len, he_value *out)
{
    module *m = vm->main;
    int ng = m->ngsyms, nglob = m->nglobals;
    *out = he_nil();
    char *path = strdup(file);
    if (!path) he_misuse("out of memory");
    free(m->path);
    m->path = path;
    he_parser *ps = NULL;
    proto *p = he_front_end(vm, m, file, src, len, true, &ps, NULL);
    he_front_end_done(ps);
    if (!p) {
        module_truncate(m, ng, nglob);
        return HE_COMPILE_ERROR;
    }
    he_value fn = he_closure_of(p);
    int rc = he_api_call(vm, fn, NULL, 0, out);
    he_release(fn);
    if (rc < 0) {
        module_truncate(m, ng, nglob);
        return HE_RUNTIME_ERROR;
    }
    return HE_OK;
}
