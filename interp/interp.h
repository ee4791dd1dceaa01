/*
** interp.h: bytecode, functions and the VM: what the compiler, the VM,
** the builtins' implementations and the front ends share. The checker
** sees only check.h (and module.h, ast.h).
*/
#ifndef HE_INTERP_H
#define HE_INTERP_H

#include "check.h"
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
#define MAXARG_Bx 65535 /* HE_MAX_GLOBALS */
#define MAXARG_sJ 8388607
#define MAXREGS 250

typedef enum opfmt { ABC, ABx, AsBx, sJ } opfmt;
extern const char *const op_names[OP__COUNT];
extern const opfmt op_formats[OP__COUNT];
extern const char *const op_synopsis[OP__COUNT];

/* --- functions and modules ----------------------------------------------------- */
typedef struct proto {
    he_obj obj;
    const char *name;  /* owned */
    char *file;        /* owned: the file it came from, for tracebacks (the
                          REPL's module holds code from <repl> and :load) */
    module *mod;       /* not owned */
    instr *code;
    int *lines;
    int *cols;         /* beside lines: the column of each instruction's node */
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

/* A captured local that is assigned (check.c: box_if_needed) lives in a
** cell, shared by its frame's register and every closure that captured it. */
typedef struct cell {
    he_obj obj;
    he_value v;
} cell;
extern const he_type cell_type;

typedef struct he_vm he_vm;

typedef struct native {
    he_obj obj;
    int bi; /* builtin index */
} native;

extern const he_type proto_type, closure_type, native_type;

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
    modset mods;         /* every imported module (each checked, compiled and run once) */
    FILE *out, *err;
    const char *script_dir;
    int argc;
    char **argv;
    int64_t flushed_at;  /* when print last wrote out vm->out (CLOCK_MONOTONIC seconds) */
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

/* interp/modules/smpc.c: a script run failed with `why`: the networked SMPC
** contexts still alive tell their peers at once. */
void he_smpc_script_failed(const char *why);

#define HE_PARTY_SIM (-1)
#define HE_PARTY_DEALER (-2)

he_vm *he_vm_new(void);
void he_vm_free(he_vm *vm);

/* Compiles and runs source as (part of) the main module. flags: */
#define HE_RUN_REPL 1  /* print the value and type of a trailing expression */
#define HE_RUN_DUMP 2  /* print bytecode instead of running */
#define HE_RUN_CHECK 4 /* check only */
#define HE_RUN_KEEP 8  /* a run-time error keeps the top-level names whose definitions ran (the REPL's :load) */
#define HE_RUN_TELL 16 /* after a run-time error, name on err the top-level names left unbound */
int he_run_source(he_vm *vm, const char *file, const char *src, size_t len, int flags);
int he_run_file(he_vm *vm, const char *path, int flags);
/* v.T of a ciphertext or share (its type's "transpose" method, builtins.c). */
int he_obj_transpose(he_value v, he_value *out);
/* Calls a function value with arguments; used by builtins and the Lua module. */
int he_vm_call(he_vm *vm, he_value fn, he_value *args, int nargs, he_value *out);
/* The source line being run (innermost frame), 0 when none. */
int he_vm_line(he_vm *vm);
int he_vm_col(he_vm *vm);   /* its column (0 when unknown) */
const char *he_vm_file(he_vm *vm); /* its file (NULL when none) */
/* The type of an expression in the REPL's scope (for :type), without
** evaluating it; -1 on error. */
int he_type_of(he_vm *vm, const char *src, he_buf *out);
/* Names visible at the top level (globals, builtins), for completion. */
int he_vm_names(he_vm *vm, const char ***names);
/* The members of the module that `name` names in the REPL's scope (an
** import, or a native module not imported yet); -1 when it names none. */
int he_vm_members(he_vm *vm, const char *name, const char ***names);
/* What a name in the REPL's scope ("x" or "module.member") is, for
** completion: 1 a function, 2 a module, 0 anything else or unknown. */
int he_vm_name_kind(he_vm *vm, const char *name);
/* Whether src fails to parse only because it ends too early (REPL). */
bool he_source_incomplete(const char *src, size_t len);

/* --- the front end (interp/run.c) ----------------------------------------------------- */
/* Parses, checks and compiles src as (part of) module m, and compiles the
** modules its imports checked; NULL after reporting the errors. *pps gets
** the parser (free it with he_front_end_done after using the proto); when
** last_type is given, it gets the type of a trailing expression (or NULL). */
proto *he_front_end(he_vm *vm, module *m, const char *file, const char *src, size_t len, bool repl,
                    he_parser **pps, type **last_type);
void he_front_end_done(he_parser *ps);

/* --- the compiler (interp/compile.c) ------------------------------------------------------ */
/* Compiles checked statements into a new top-level proto for m; errors on err. */
proto *he_compile(FILE *err, module *m, he_parser *ps, bool repl_print);
void proto_dump(FILE *out, proto *p, const char *src, size_t srclen);

/* A closure without captures over p; takes the reference to p. */
he_value he_closure_of(proto *p);

#endif
