/*
** module.c: modules, their top-level names and globals, the registry of
** imported modules, and finding a module's file.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h" /* the builtins' names */

static void module_free_obj(he_obj *o) { (void)o; }
const he_type module_type = {.name = "module", .free = module_free_obj};

module *module_new(const char *name, const char *path)
{
    module *m = calloc(1, sizeof *m);
    if (!m) he_misuse("out of memory");
    he_obj_init(&m->obj, &module_type);
    m->name = strdup(name);
    m->path = strdup(path);
    if (!m->name || !m->path) he_misuse("out of memory");
    return m;
}

/* Appends a name to a module's top-level names. */
void module_push_sym(module *m, sym *s)
{
    if (m->ngsyms == m->capgsyms) {
        m->capgsyms = m->capgsyms ? m->capgsyms * 2 : 16;
        m->gsyms = realloc(m->gsyms, sizeof(sym *) * (size_t)m->capgsyms);
        if (!m->gsyms) he_misuse("out of memory");
    }
    m->gsyms[m->ngsyms++] = s;
}

int module_add_global(module *m, sym *s)
{
    if (m->nglobals == m->capglobals) {
        m->capglobals = m->capglobals ? m->capglobals * 2 : 32;
        m->globals = realloc(m->globals, sizeof(he_value) * (size_t)m->capglobals);
        m->dead = realloc(m->dead, sizeof(bool) * (size_t)m->capglobals);
        if (!m->globals || !m->dead) he_misuse("out of memory");
    }
    if (m->nglobals >= HE_MAX_GLOBALS) { /* the checker reports it; the module owns s all the same */
        s->slot = -1;
        module_push_sym(m, s);
        return -1;
    }
    m->globals[m->nglobals] = he_nil();
    m->dead[m->nglobals] = false;
    s->slot = m->nglobals++;
    module_push_sym(m, s);
    return s->slot;
}

void module_truncate(module *m, int ngsyms, int nglobals)
{
    for (int i = ngsyms; i < m->ngsyms; i++) {
        free((char *)m->gsyms[i]->name);
        free(m->gsyms[i]);
    }
    m->ngsyms = ngsyms;
    /* the slots are emptied but not reused: a closure made by the failed
    ** input may live on in an older global and still name them, and a
    ** reused slot could hold a value of another type */
    for (int i = nglobals; i < m->nglobals; i++) {
        he_release(m->globals[i]);
        m->globals[i] = he_nil();
        m->dead[i] = true; /* until a closure of that input stores into it */
    }
}

void module_keep_defined(module *m, int ngsyms, int nglobals, he_buf *dropped)
{
    int k = ngsyms;
    for (int i = ngsyms; i < m->ngsyms; i++) {
        sym *s = m->gsyms[i];
        bool set = s->kind == SYM_GLOBAL ? s->slot >= 0 && m->globals[s->slot].tag != HE_NIL
                   : s->kind == SYM_MODULE ? s->mod && s->mod->ran
                                           : false;
        if (set) {
            m->gsyms[k++] = s;
            continue;
        }
        if (dropped) he_buf_printf(dropped, "%s%s", dropped->len ? ", " : "", s->name);
        free((char *)s->name);
        free(s);
    }
    m->ngsyms = k;
    for (int i = nglobals; i < m->nglobals; i++)
        if (m->globals[i].tag == HE_NIL) m->dead[i] = true;
}

void module_free(module *m)
{
    module_truncate(m, 0, 0);
    for (int i = 0; i < m->nglobals; i++) he_release(m->globals[i]);
    free(m->gsyms);
    free(m->globals);
    free(m->dead);
    free(m->imports);
    if (m->main) he_release(he_objv((he_obj *)m->main));
    if (m->ps) {
        he_parser_free(m->ps);
        free(m->ps);
    }
    free(m->name);
    free(m->path);
    free(m->src);
    free(m);
}

/* Declares the builtins of native module `modname` (NULL: the global
** builtins) as names of m. */
void module_add_builtins(module *m, const char *modname)
{
    for (int i = 0; i < nbuiltins; i++) {
        const char *bm = builtins[i].module;
        if (modname ? !bm || strcmp(bm, modname) != 0 : bm != NULL) continue;
        sym *s = calloc(1, sizeof *s);
        if (!s) he_misuse("out of memory");
        s->name = strdup(builtins[i].name);
        s->kind = SYM_BUILTIN;
        s->slot = i;
        s->ty = ty_fn(-1, NULL, ty_any);
        module_push_sym(m, s);
    }
}

/* --- the registry ----------------------------------------------------------------------------- */
module *modset_find(const modset *ms, const char *path)
{
    for (int i = 0; i < ms->n; i++)
        if (strcmp(ms->v[i]->path, path) == 0) return ms->v[i];
    return NULL;
}

void modset_add(modset *ms, module *m)
{
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? ms->cap * 2 : 8;
        ms->v = realloc(ms->v, sizeof(module *) * (size_t)ms->cap);
        if (!ms->v) he_misuse("out of memory");
    }
    ms->v[ms->n++] = m;
}

void modset_remove(modset *ms, module *m)
{
    for (int i = 0; i < ms->n; i++)
        if (ms->v[i] == m) {
            memmove(ms->v + i, ms->v + i + 1, sizeof(module *) * (size_t)(ms->n - i - 1));
            ms->n--;
            return;
        }
}

void modset_free(modset *ms)
{
    for (int i = 0; i < ms->n; i++) module_free(ms->v[i]);
    free(ms->v);
    ms->v = NULL;
    ms->n = ms->cap = 0;
}

/* --- files ---------------------------------------------------------------------------------------- */
const char *he_stdlib_dir;

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *module_find_file(const char *name, const char *from_dir, char *why, size_t whylen)
{
    char path[4096];
    if (from_dir) {
        snprintf(path, sizeof path, "%s/%s.he", from_dir, name);
        if (file_exists(path)) return strdup(path);
    }
    const char *hp = getenv("HE_PATH");
    if (hp) {
        char *copy = strdup(hp), *save = NULL;
        if (!copy) he_misuse("out of memory");
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(path, sizeof path, "%s/%s.he", d, name);
            if (file_exists(path)) {
                free(copy);
                return strdup(path);
            }
        }
        free(copy);
    }
    if (he_stdlib_dir) {
        snprintf(path, sizeof path, "%s/%s.he", he_stdlib_dir, name);
        if (file_exists(path)) return strdup(path);
    }
    snprintf(path, sizeof path, "%s/%s.he", HE_STDLIB_DIR, name);
    if (file_exists(path)) return strdup(path);
    snprintf(why, whylen, "no file %s.he in %s, $HE_PATH, or the standard library", name, from_dir ? from_dir : ".");
    return NULL;
}

char *he_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        he_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    he_buf b;
    he_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (he_buf_add(&b, chunk, n) < 0) {
            fclose(fp);
            he_buf_free(&b);
            return NULL;
        }
    bool bad = ferror(fp);
    fclose(fp);
    if (bad) {
        he_buf_free(&b);
        he_error("cannot read %s", path);
        return NULL;
    }
    if (!b.data) he_buf_add(&b, "", 0);
    *len = b.len;
    return b.data;
}
