/*
** interp.h: what the checker, compiler, VM and builtins share.
*/
#ifndef HE_INTERP_H
#define HE_INTERP_H

#include "ast.h"
#include "tensor.h"

/* Result of compiling or running (the library never exits). */
enum { HE_OK = 0, HE_COMPILE_ERROR = 1, HE_RUNTIME_ERROR = 2, HE_IO_ERROR = 3 };

/* --- instructions ------------------------------------------------------------ */
typedef enum opcode {
#define OP(name, fmt, syn) OP_##name,
#include "opcodes.def"
#undef OP
    OP__COUNT
} opcode;

typedef uint32_t instr;
#define GET_OP(i) ((opcode)((i) & 0xff))
#define GET_A(i) ((int)(((i) >> 8) & 0xff))
#define GET_B(i) ((int)(((i) >> 16) & 0xff))
#define GET_C(i) ((int)(((i) >> 24) & 0xff))
#define GET_sC(i) ((int)(int8_t)(((i) >> 24) & 0xff))
#define GET_sB(i) ((int)(int8_t)(((i) >> 16) & 0xff))
#define GET_Bx(i) ((int)(((i) >> 16) & 0xffff))
#define GET_sBx(i) (GET_Bx(i) - 32767)
#define GET_sJ(i) ((int)((i) >> 8) - 8388607)
#define MAKE_ABC(o, a, b, c) ((instr)(o) | ((instr)(a) << 8) | ((instr)(b) << 16) | ((instr)(c) << 24))
#define MAKE_ABx(o, a, bx) ((instr)(o) | ((instr)(a) << 8) | ((instr)(bx) << 16))
#define MAKE_sJ(o, j) ((instr)(o) | ((instr)((j) + 8388607) << 8))
#define MAXARG_Bx 65535
#define MAXARG_sJ 8388607
#define MAXREGS 250

typedef enum opfmt { ABC, ABx, AsBx, sJ } opfmt;
extern const char *const op_names[OP__COUNT];
extern const opfmt op_formats[OP__COUNT];
extern const char *const op_synopsis[OP__COUNT];

/* --- functions and modules ----------------------------------------------------- */
typedef struct module module;

typedef struct proto {
    he_obj obj;
    const char *name;  /* owned */
    char *file;        /* owned: the file it came from, for tracebacks (the
                          REPL's module holds code from <repl> and :load) */
    module *mod;       /* not owned */
    instr *code;
    int *lines;
    int ncode, capcode;
    he_value *k;
    int nk, capk;
    type **types;      /* for CHECK */
    char **checkwhat;  /* beside types: what a CHECK checks, for its message (owned) */
    int ntypes, captypes;
    int nparams, nregs;
    type *fty;         /* the function's static type */
    /* captures: for each, where the enclosing frame holds it */
    uint8_t *capfrom;  /* 1: enclosing register, 0: enclosing capture */
    uint8_t *capidx;
    int ncaps;
    int line;
} proto;

typedef struct closure {
    he_obj obj;
    proto *p;
    int ncaps;
    he_value caps[];
} closure;

typedef struct he_vm he_vm;
typedef int (*native_fn)(he_vm *vm, he_value *args, int nargs, he_value *out);

typedef struct native {
    he_obj obj;
    int bi; /* builtin index */
} native;

extern const he_type proto_type, closure_type, native_type, module_type;

typedef struct sym sym;
typedef enum symkind { SYM_GLOBAL, SYM_LOCAL, SYM_CAPTURE, SYM_BUILTIN, SYM_MODULE } symkind;
struct sym {
    const char *name;
    symkind kind;
    type *ty;
    int slot;            /* global slot, register, capture index, builtin index */
    bool is_fn;          /* a fn declaration: cannot be assigned */
    bool captured;       /* captured by a closure: cannot be assigned afterwards */
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
    he_value *globals;
    int nglobals, capglobals;
    sym **gsyms;         /* the module's top-level names, newest last */
    int ngsyms, capgsyms;
    module **imports;    /* modules this one imports, by index */
    int nimports, capimports;
    proto *main;
    bool ran, running;
    he_parser **parsers; /* parse trees kept alive (REPL: definitions refer to them) */
    int nparsers;
};

/* --- the VM ---------------------------------------------------------------------- */
typedef struct frame {
    proto *p;
    closure *cl;
    const instr *pc;
    he_value *base;
} frame;

#define STACK_SIZE (1 << 18)
#define MAX_FRAMES 4000

struct he_vm {
    he_value *stack;
    frame frames[MAX_FRAMES];
    int nframes;
    module *main;
    module **modules;    /* every loaded module (for import caching) */
    int nmodules, capmodules;
    FILE *out, *err;
    const char *script_dir;
    int argc;
    char **argv;
    volatile int interrupted;
    bool repl;
    he_prng rng;         /* default generator for random tensors */
    he_buf trace;        /* traceback of the last runtime error */
    bool warned_ivhe;
    /* SMPC: --party I (0..n-1), or HE_PARTY_DEALER; HE_PARTY_SIM when
    ** the parties are simulated in this process (the default) */
    int party;
    const char *party_file; /* --parties FILE */
    const char *party_key;  /* --key FILE: this party's CURVE secret key */
    /* a builtin asked to end the script cleanly (exit status 0): it sets
    ** this and returns -1; the run unwinds without printing a traceback
    ** (SMPC: the dealer process after serving) */
    bool halted;
    /* he --plan: ckks.plan prints every plan; the first ckks.keygen ends the
    ** run (nothing is encrypted) */
    bool plan_only;
    char errmsg[1024];
};

#define HE_PARTY_SIM (-1)
#define HE_PARTY_DEALER (-2)

he_vm *he_vm_new(void);
void he_vm_free(he_vm *vm);

/* Compiles and runs source as (part of) the main module. flags: */
#define HE_RUN_REPL 1  /* print the value and type of a trailing expression */
#define HE_RUN_DUMP 2  /* print bytecode instead of running */
#define HE_RUN_CHECK 4 /* check only */
int he_run_source(he_vm *vm, const char *file, const char *src, size_t len, int flags);
int he_run_file(he_vm *vm, const char *path, int flags);
/* Calls a function value with arguments; used by builtins and the Lua module. */
int he_vm_call(he_vm *vm, he_value fn, he_value *args, int nargs, he_value *out);
/* The source line being run (innermost frame), 0 when none. */
int he_vm_line(he_vm *vm);
const char *he_vm_file(he_vm *vm); /* its file (NULL when none) */
/* Loads and runs a module by name (search path), for import. */
module *he_vm_import(he_vm *vm, const char *name, const char *from_dir);
/* The type of an expression in the REPL's scope (for :type); -1 on error. */
int he_type_of(he_vm *vm, const char *src, he_buf *out);
/* Names visible at the top level (globals, builtins), for completion. */
int he_vm_names(he_vm *vm, const char ***names);
/* Whether src fails to parse only because it ends too early (REPL). */
bool he_source_incomplete(const char *src, size_t len);

/* --- checker and compiler ---------------------------------------------------------- */
typedef struct checker checker;
/* Checks ps->stmts in module m; returns the number of errors. */
int he_check(he_vm *vm, module *m, he_parser *ps, bool repl);
/* Compiles checked statements into a new top-level proto for m. */
proto *he_compile(he_vm *vm, module *m, he_parser *ps, bool repl_print);
void proto_dump(FILE *out, proto *p, const char *src, size_t srclen);

module *module_new(const char *name, const char *path);
void module_push_sym(module *m, sym *s);
void module_add_builtins(module *m, const char *modname); /* NULL: the global builtins */
int module_add_global(module *m, sym *s); /* assigns s->slot */
/* Forgets the names and globals added since a failed input (REPL, eval). */
void module_truncate(module *m, int ngsyms, int nglobals);
/* A closure without captures over p; takes the reference to p. */
he_value he_closure_of(proto *p);

/* 0 ok, 1 ok after int->float, 2 ok after a run-time check, -1 no. */
int ty_assignable(const type *src, const type *dst);
type *elem_type(const type *t);

/* --- builtins ---------------------------------------------------------------------- */
typedef struct builtin {
    const char *name;
    const char *module; /* NULL: a global name; else the native module it belongs to */
    int minargs, maxargs; /* maxargs -1: any */
    native_fn fn;
    /* static rule: the result type from the arguments' types, or NULL with an
    ** error reported through ck_error. May read argument nodes (constant shapes). */
    type *(*check)(checker *c, node *call, node **args, type **at, int n);
    const char *help;
} builtin;
/* Every builtin: the global ones, then each native module's functions. */
extern const builtin *builtins;
extern int nbuiltins;
void builtins_init(void);
int builtin_find(const char *name); /* a global builtin */

/* A native module: `import NAME` gives its functions as members. Each
** runtime scheme contributes one (interp/mod_*.c) and lists it in
** interp/natives.c. Its static rules type the operators on its objects
** (e.g. cipher<paillier> * cipher<paillier> is a compile-time error). */
typedef struct native_module {
    const char *name;
    const builtin *fns;
    int nfns;
    /* result type of a op b where a or b is one of this module's object
    ** types, or NULL when the rule does not apply to these types */
    type *(*binop_rule)(checker *c, node *n, he_op op, type *a, type *b);
    type *(*unop_rule)(checker *c, node *n, he_op op, type *a);
} native_module;
extern const native_module *const native_modules[];
const native_module *native_module_find(const char *name);
void ck_error(checker *c, node *at, const char *fmt, ...) HE_PRINTF(3, 4);
/* The constant int tensor literal of a node (e.g. a shape [2, 3]); false if not one. */
bool ck_const_shape(node *n, int64_t *dims, int *rank);


#endif
