/*
** check.h: the checker (interp/check.c) and the static side of the
** builtins: their names, arities and type rules.
**
** The checker reads the syntax tree, the types, the modules' interfaces
** and these tables; it never runs code. An import is checked from the
** module's source (a native module's interface is its table of builtins).
** A builtin's table entry also names its implementation (fn), run by the
** VM: the checker reads only the static part.
*/
#ifndef HE_CHECK_H
#define HE_CHECK_H

#include "module.h"

typedef struct checker checker;

/* What checking needs from its surroundings. */
typedef struct ck_env {
    FILE *err;              /* messages */
    const char *script_dir; /* imports are found here first */
    modset *mods;           /* modules imported so far in this process */
} ck_env;

/* Checks ps->stmts in module m; returns the number of errors. Modules
** that the statements import are read and checked from their source and
** added to env->mods with their syntax tree in ps (to compile); none of
** their code runs. */
int he_check(const ck_env *env, module *m, he_parser *ps, bool repl);
/* Frees the checker's symbols of locals, once the trees are compiled. */
void check_free_tmp(void);

/* --- builtins ---------------------------------------------------------------------- */
struct he_vm;
typedef int (*native_fn)(struct he_vm *vm, he_value *args, int nargs, he_value *out);

typedef struct builtin {
    const char *name;
    const char *module; /* NULL: a global name; else the native module it belongs to */
    int minargs, maxargs; /* maxargs -1: any */
    native_fn fn;         /* the implementation: the VM's, never called by the checker */
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
/* Declares the builtins of native module `modname` (NULL: the global
** builtins) as names of m. */
void module_add_builtins(module *m, const char *modname);

/* --- levels: a small abstract interpretation of straight-line code ------------ */
/* The checker follows, through the statements of one block in order (each
** function body, each nested block, the script's top level), the values a
** native module tracks (ckks: a literal context's depth, keys made from it,
** the levels its ciphertexts have left), asking the module's abs rules,
** which report what is certain to fail (a product past the last level).
** It gives up on the block, silently, at the first statement that is not a
** let, an assignment or an expression (control flow), at a call of a .he
** function (or of a builtin given a function, which may call it), and at
** `and`/`or`; a value it cannot follow is simply not tracked (mod NULL). */
typedef struct ck_abs {
    const struct native_module *mod; /* NULL: not followed */
    int kind, a, b;                  /* the module's */
    node *at;                        /* where the value began (e.g. the context) */
} ck_abs;

/* A native module: `import NAME` gives its functions as members. Each
** runtime scheme contributes one (a file in interp/modules/) and lists it in
** interp/modules/natives.c. Its static rules type the operators on its objects
** (e.g. cipher<paillier> * cipher<paillier> is a compile-time error). */
typedef struct native_module {
    const char *name;
    const builtin *fns;
    int nfns;
    /* result type of a op b where a or b is one of this module's object
    ** types, or NULL when the rule does not apply to these types */
    type *(*binop_rule)(checker *c, node *n, he_op op, type *a, type *b);
    type *(*unop_rule)(checker *c, node *n, he_op op, type *a);
    /* type of a[...] with nidx indices and nslices slices where a is one of
    ** this module's object types (also of the variable of `for x in a`:
    ** one index), or NULL when the rule does not apply to a */
    type *(*index_rule)(checker *c, node *n, type *a, int nidx, int nslices);
    /* type of the global builtin `name` (sum, mean, transpose (.T), outer)
    ** on arguments t[0..n-1] of which one is this module's object type, or
    ** NULL when no argument is */
    type *(*method_rule)(checker *c, node *call, const char *name, type **t, int n);
    /* levels (above): the abstract value of a call of this module's
    ** builtin `name` (args: the arguments' values and types), and of
    ** a op b (unary: b.mod NULL, tb NULL) where a or b is one of its values */
    ck_abs (*abs_call)(checker *c, node *call, const char *name, const ck_abs *args, type **at, int n);
    ck_abs (*abs_op)(checker *c, node *n, he_op op, ck_abs a, ck_abs b, type *ta, type *tb);
} native_module;
extern const native_module *const native_modules[];
const native_module *native_module_find(const char *name);
void ck_error(checker *c, node *at, const char *fmt, ...) HE_PRINTF(3, 4);
/* The type of builtin `name` on arguments t[0..n-1] when one is an object
** (ciphertext, share): its module's method_rule, or an error there when no
** module has the builtin for it; NULL when no argument is an object. */
type *ck_obj_method(checker *c, node *at, const char *name, type **t, int n);
/* The constant int tensor literal of a node (e.g. a shape [2, 3]); false if not one. */
bool ck_const_shape(node *n, int64_t *dims, int *rank);
/* Element kind of a op b on numbers (the result's fraction bits in *frac),
** T_VOID when the operator does not take them (check.c). */
tkind ck_arith_kind(tkind a, tkind b, int fa, int fb, int *frac, he_op op);

#endif
