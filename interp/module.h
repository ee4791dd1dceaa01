/*
** module.h: modules and their top-level names (interp/module.c).
**
** The checker fills a module's interface (its names and their static
** types, the modules it imports) from its source; the compiler gives it
** code (main) and the VM runs that code once, filling the globals. A
** registry (modset) holds every module imported in the process, by path.
*/
#ifndef HE_MODULE_H
#define HE_MODULE_H

#include "ast.h"

typedef struct module module;
struct proto; /* interp.h: the compiled top level */

/* A module's top-level names (globals) are numbered by 16-bit operands. */
#define HE_MAX_GLOBALS 65535

typedef struct sym sym;
typedef enum symkind { SYM_GLOBAL, SYM_LOCAL, SYM_CAPTURE, SYM_BUILTIN, SYM_MODULE } symkind;
struct sym {
    const char *name;
    symkind kind;
    type *ty;
    int slot;            /* global slot, register, capture index, builtin index */
    bool is_fn;          /* a fn declaration: cannot be assigned */
    bool captured;       /* SYM_LOCAL: a closure captures it */
    bool boxed;          /* SYM_LOCAL: captured, and assigned while a closure may hold it:
                            it lives in a cell shared by the frame and its closures */
    int decl_loops;      /* SYM_LOCAL: loops open (in any function) at its declaration */
    unsigned assign_loop;/* SYM_LOCAL: the loop, opened after the declaration, of its last assignment */
    struct funcstate *fs;/* owner of a local */
    module *mod;         /* SYM_MODULE: the module; SYM_GLOBAL: its module */
    sym *outer;          /* SYM_CAPTURE: the captured binding */
    int line, col;
    sym *next;           /* chain in a scope */
};

struct module {
    he_obj obj;
    char *name;
    char *path;
    char *src;           /* kept for error reports */
    size_t srclen;
    /* the interface, from the checker */
    sym **gsyms;         /* the module's top-level names, newest last */
    int ngsyms, capgsyms;
    module **imports;    /* modules this one imports, by index */
    int nimports, capimports;
    bool native;         /* a native module (interp/modules/): builtins only, no code */
    bool checking;       /* being checked: importing it again is a cycle */
    he_parser *ps;       /* checked, not yet compiled: its syntax tree */
    /* code and values, from the compiler and the VM */
    struct proto *main;  /* the top level; NULL until compiled */
    he_value *globals;
    bool *dead;          /* per global: emptied by module_truncate (defined by a failed input) */
    int nglobals, capglobals;
    bool ran, running, failed;
};

extern const he_type module_type;
module *module_new(const char *name, const char *path);
void module_free(module *m);
void module_push_sym(module *m, sym *s);
int module_add_global(module *m, sym *s); /* assigns s->slot; -1 when there are too many */
/* Forgets the names and globals added since a failed input (REPL, eval). */
void module_truncate(module *m, int ngsyms, int nglobals);
/* Like module_truncate, but keeps the names from ngsyms on whose
** definitions ran (a value was stored, a module imported); the names
** dropped are listed in dropped (when not NULL), ", "-separated. */
void module_keep_defined(module *m, int ngsyms, int nglobals, he_buf *dropped);

/* Every module imported in a process, found by path. */
typedef struct modset {
    module **v;
    int n, cap;
} modset;
module *modset_find(const modset *ms, const char *path);
void modset_add(modset *ms, module *m);
void modset_remove(modset *ms, module *m); /* does not free m */
void modset_free(modset *ms);             /* frees the modules too */

/* The file of module `name`: beside the script (from_dir), on $HE_PATH,
** in the standard library. NULL with the reason in why. malloc'd. */
char *module_find_file(const char *name, const char *from_dir, char *why, size_t whylen);
extern const char *he_stdlib_dir; /* set by the command line or the Lua module */
/* A whole file, NUL-terminated (malloc'd); NULL with he_error. */
char *he_read_file(const char *path, size_t *len);

#endif
