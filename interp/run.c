/*
** run.c: the front end, source to a running program:
**   source -> tokens -> AST (parse.c) -> checked AST (check.c, which
**   checks imported modules from their source) -> bytecode (compile.c)
**   -> VM (vm.c, which runs each imported module at its first import).
** Also the REPL's helpers: :type (static, never evaluates), completion.
*/
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* Compiles the modules checked (imported) since the last call; false if
** one fails to compile (its error is reported; it stays, marked failed). */
static bool compile_modules(he_vm *vm)
{
    bool ok = true;
    for (int i = 0; i < vm->mods.n; i++) {
        module *m = vm->mods.v[i];
        if (!m->ps) continue;
        m->main = he_compile(vm->err, m, m->ps, false);
        he_parser_free(m->ps);
        free(m->ps);
        m->ps = NULL;
        if (!m->main) {
            m->failed = true;
            ok = false;
        }
    }
    return ok;
}

proto *he_front_end(he_vm *vm, module *m, const char *file, const char *src, size_t len, bool repl,
                    he_parser **pps, type **last_type)
{
    he_parser *ps = calloc(1, sizeof *ps);
    if (!ps) he_misuse("out of memory");
    *pps = ps;
    if (last_type) *last_type = NULL;
    if (he_parse(ps, file, src, len, vm->err) > 0) return NULL;
    ck_env env = {.err = vm->err, .script_dir = vm->script_dir, .mods = &vm->mods};
    int errors = he_check(&env, m, ps, repl);
    /* the modules that checked are compiled even when this input has
    ** errors: their trees refer to symbols freed with this input's */
    if (!compile_modules(vm) || errors > 0) return NULL;
    proto *p = he_compile(vm->err, m, ps, repl);
    if (p && last_type && ps->stmts.n > 0) {
        node *s = ps->stmts.v[ps->stmts.n - 1];
        *last_type = s->kind == N_EXPR ? s->a->ty : NULL;
    }
    return p;
}

void he_front_end_done(he_parser *ps)
{
    if (!ps) return;
    he_parser_free(ps);
    free(ps);
    check_free_tmp();
}

static void dump_all(he_vm *vm, proto *p, const char *src, size_t len)
{
    proto_dump(vm->out, p, src, len);
    for (int j = 0; j < p->nk; j++)
        if (he_is(p->k[j], &proto_type)) dump_all(vm, (proto *)p->k[j].as.o, src, len);
}

static int run_proto(he_vm *vm, proto *p, he_value *result)
{
    he_value fn = he_closure_of(p);
    int rc = he_vm_call(vm, fn, NULL, 0, result);
    he_release(fn);
    return rc < 0 ? HE_RUNTIME_ERROR : HE_OK;
}

int he_run_source(he_vm *vm, const char *file, const char *src, size_t len, int flags)
{
    module *m = vm->main;
    int ng = m->ngsyms, nglob = m->nglobals;
    he_parser *ps = NULL;
    type *last = NULL;
    vm->repl = flags & HE_RUN_REPL;
    if (!m->src || !(flags & HE_RUN_REPL)) {
        free(m->src);
        m->src = malloc(len + 1);
        if (!m->src) he_misuse("out of memory");
        memcpy(m->src, src, len);
        m->src[len] = '\0';
        m->srclen = len;
        free(m->path);
        m->path = strdup(file);
    } else {
        free(m->path);
        m->path = strdup(file);
    }
    proto *p = he_front_end(vm, m, file, src, len, flags & HE_RUN_REPL, &ps, &last);
    if (!p) {
        he_front_end_done(ps);
        module_truncate(m, ng, nglob);
        return HE_COMPILE_ERROR;
    }
    he_front_end_done(ps);
    /* code that is only checked or shown never ran: its names, declared
    ** but never assigned, must not stay (the REPL's :dis) */
    if (flags & HE_RUN_CHECK) {
        he_release(he_objv(&p->obj));
        module_truncate(m, ng, nglob);
        return HE_OK;
    }
    if (flags & HE_RUN_DUMP) {
        dump_all(vm, p, src, len);
        he_release(he_objv(&p->obj));
        module_truncate(m, ng, nglob);
        return HE_OK;
    }
    he_value result;
    int rc = run_proto(vm, p, &result);
    if (rc == HE_OK && he_interrupt_pending()) {
        /* stopped after the last check (a builtin that ran to its end):
        ** the REPL binds and prints nothing */
        he_release(result);
        vm->trace.len = 0;
        he_buf_printf(&vm->trace, "%s: runtime error: %s\n", file, he_interrupt_message());
        rc = HE_RUNTIME_ERROR;
    }
    if (rc != HE_OK && vm->halted) {
        vm->halted = false;
        fflush(vm->out);
        return HE_OK;
    }
    if (rc != HE_OK) {
        fflush(vm->out); /* what the script printed comes first */
        fputs(vm->trace.data ? vm->trace.data : "runtime error\n", vm->err);
        if (!(flags & HE_RUN_REPL) && vm->party >= 0) {
            /* an SMPC party stops: its peers hear why (the error's first line) */
            char why[512];
            const char *t = vm->trace.data ? vm->trace.data : "runtime error";
            snprintf(why, sizeof why, "%.*s", (int)strcspn(t, "\n"), t);
            he_smpc_script_failed(why);
        }
        /* names whose definitions may not have run must not stay with
        ** their static types (the REPL, the Lua module); :load keeps
        ** those whose definitions ran, as IPython's %run does */
        he_buf dropped;
        he_buf_init(&dropped);
        if (flags & HE_RUN_KEEP) module_keep_defined(m, ng, nglob, &dropped);
        else {
            for (int i = ng; i < m->ngsyms; i++)
                he_buf_printf(&dropped, "%s%s", dropped.len ? ", " : "", m->gsyms[i]->name);
            module_truncate(m, ng, nglob);
        }
        if ((flags & HE_RUN_TELL) && dropped.len)
            fprintf(vm->err, "%s: not bound (%s): %s\n", file,
                    flags & HE_RUN_KEEP ? "the file stopped with an error; the names defined before it stay"
                                        : "the input stopped with an error",
                    dropped.data);
        he_buf_free(&dropped);
        return rc;
    }
    if ((flags & HE_RUN_REPL) && last && last->kind != T_VOID) {
        he_buf b;
        he_buf_init(&b);
        he_repr(result, &b, true);
        he_buf_puts(&b, " : ");
        if (last->kind == T_ANY) he_buf_puts(&b, he_typename(result));
        else ty_format(last, &b);
        fprintf(vm->out, "%s\n", b.data);
        he_buf_free(&b);
    }
    he_release(result);
    fflush(vm->out);
    return HE_OK;
}

int he_run_file(he_vm *vm, const char *path, int flags)
{
    size_t len;
    char *src = he_read_file(path, &len);
    if (!src) {
        fprintf(vm->err, "he: %s\n", he_errmsg());
        return HE_IO_ERROR;
    }
    int rc = he_run_source(vm, path, src, len, flags);
    free(src);
    return rc;
}

bool he_source_incomplete(const char *src, size_t len)
{
    FILE *null = fopen("/dev/null", "w");
    if (!null) return false;
    types_init();
    he_parser ps;
    he_parse(&ps, "", src, len, null);
    bool inc = ps.nerrors > 0 && ps.incomplete;
    he_parser_free(&ps);
    fclose(null);
    return inc;
}

/* :type EXPR: the static type; an expression is never evaluated (it could
** have effects). Where the static type says little (any, an object such as
** cipher<ckks>), a name whose value exists is described by that value
** (reading a variable has no effect: the repr never shows a plaintext);
** any other expression's type is marked static. */
int he_type_of(he_vm *vm, const char *src, he_buf *out)
{
    module *m = vm->main;
    int ng = m->ngsyms, nglob = m->nglobals;
    he_parser *ps = calloc(1, sizeof *ps);
    if (!ps) he_misuse("out of memory");
    int rc = -1;
    ck_env env = {.err = vm->err, .script_dir = vm->script_dir, .mods = &vm->mods};
    if (he_parse(ps, "<type>", src, strlen(src), vm->err) == 0) {
        int errors = he_check(&env, m, ps, true);
        compile_modules(vm);
        node *s = ps->stmts.n == 1 ? ps->stmts.v[0] : NULL;
        if (errors == 0 && s && s->kind == N_EXPR) {
            type *t = s->a->ty;
            ty_format(t, out);
            rc = 0;
            if (t->kind == T_OBJ || t->kind == T_ANY) {
                node *e = s->a;
                sym *v = e->kind == N_NAME || e->kind == N_MEMBER ? e->sym : NULL;
                bool set = v && v->kind == SYM_GLOBAL && v->mod && v->slot >= 0 && v->slot < v->mod->nglobals &&
                           (v->mod == m || v->mod->ran) && v->mod->globals[v->slot].tag != HE_NIL;
                if (set) {
                    he_value x = v->mod->globals[v->slot];
                    he_buf_puts(out, " ");
                    if (t->kind == T_ANY) he_buf_printf(out, "(holds %s) ", he_typename(x));
                    he_repr(x, out, true);
                } else he_buf_puts(out, " (static type: the expression is not evaluated)");
            }
        } else if (errors == 0) fprintf(vm->err, ":type needs one expression\n");
    }
    he_front_end_done(ps);
    module_truncate(m, ng, nglob);
    return rc;
}

int he_vm_names(he_vm *vm, const char ***names)
{
    module *m = vm->main;
    const char **v = malloc(sizeof(char *) * (size_t)(m->ngsyms + 1));
    if (!v) return 0;
    int n = 0;
    for (int i = 0; i < m->ngsyms; i++) v[n++] = m->gsyms[i]->name;
    *names = v;
    return n;
}

/* The module `name` names in m: an import (its alias), else a native module. */
static module *named_module(he_vm *vm, const char *name, size_t len)
{
    module *m = vm->main;
    for (int i = m->ngsyms - 1; i >= 0; i--) {
        sym *s = m->gsyms[i];
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0) return s->kind == SYM_MODULE ? s->mod : NULL;
    }
    char nm[64];
    if (len >= sizeof nm) return NULL;
    memcpy(nm, name, len);
    nm[len] = '\0';
    const native_module *n = native_module_find(nm);
    if (!n) return NULL;
    char path[128];
    snprintf(path, sizeof path, "<native %s>", n->name);
    return modset_find(&vm->mods, path);
}

int he_vm_members(he_vm *vm, const char *name, const char ***names)
{
    *names = NULL;
    module *mod = named_module(vm, name, strlen(name));
    int n = 0;
    if (mod) {
        const char **v = malloc(sizeof(char *) * (size_t)(mod->ngsyms + 1));
        if (!v) return -1;
        for (int i = 0; i < mod->ngsyms; i++)
            if (mod->gsyms[i]->kind != SYM_BUILTIN || mod->native) v[n++] = mod->gsyms[i]->name;
        *names = v;
        return n;
    }
    /* a native module not imported yet: its functions */
    if (!native_module_find(name)) return -1;
    const char **v = malloc(sizeof(char *) * (size_t)(nbuiltins + 1));
    if (!v) return -1;
    for (int i = 0; i < nbuiltins; i++)
        if (builtins[i].module && strcmp(builtins[i].module, name) == 0) v[n++] = builtins[i].name;
    *names = v;
    return n;
}

static int sym_kind(const sym *s)
{
    if (s->kind == SYM_MODULE) return 2;
    if (s->kind == SYM_BUILTIN || s->is_fn || (s->ty && s->ty->kind == T_FN)) return 1;
    return 0;
}

int he_vm_name_kind(he_vm *vm, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) {
        module *m = vm->main;
        for (int i = m->ngsyms - 1; i >= 0; i--)
            if (strcmp(m->gsyms[i]->name, name) == 0) return sym_kind(m->gsyms[i]);
        return 0;
    }
    module *mod = named_module(vm, name, (size_t)(dot - name));
    if (mod) {
        for (int i = mod->ngsyms - 1; i >= 0; i--)
            if (strcmp(mod->gsyms[i]->name, dot + 1) == 0) return sym_kind(mod->gsyms[i]);
        return 0;
    }
    size_t ml = (size_t)(dot - name);
    for (int i = 0; i < nbuiltins; i++)
        if (builtins[i].module && strlen(builtins[i].module) == ml && strncmp(builtins[i].module, name, ml) == 0 &&
            strcmp(builtins[i].name, dot + 1) == 0)
            return 1;
    return 0;
}
