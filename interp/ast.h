/*
** ast.h: the syntax tree, the parser's state, and static types.
**
** Nodes and names live in the parser's arena and die with it; types are
** interned for the life of the process (the REPL keeps globals' types).
*/
#ifndef HE_AST_H
#define HE_AST_H

#include <stdarg.h>
#include <stdio.h>

#include "he.h"
#include "value.h"

/* --- static types ---------------------------------------------------------- */
typedef enum tkind {
    T_ANY,   /* not known until run time: checked there */
    T_VOID,  /* a function that returns nothing */
    T_NIL,
    T_BOOL,
    T_INT,
    T_FLOAT,
    T_FIXED,
    T_STR,
    T_TENSOR,
    T_FN,
    T_MODULE,
    T_OBJ,   /* another runtime object (generator, key, cipher, share...) */
} tkind;

#define MAXRANK 8
#define DIM_ANY (-1)

typedef struct type type;
struct type {
    tkind kind;
    int frac;         /* T_FIXED, and T_TENSOR of fixed */
    /* T_TENSOR */
    tkind elem;       /* T_INT, T_FLOAT, T_FIXED, T_BOOL or T_ANY */
    int rank;         /* -1: unknown */
    int64_t dims[MAXRANK]; /* DIM_ANY where unknown */
    /* T_FN */
    int nparams;      /* -1: variadic/unknown (builtins) */
    type **params;
    type *ret;
    /* T_OBJ, T_MODULE */
    const char *name;
    struct module *module;
};

extern type *ty_any, *ty_void, *ty_nil, *ty_bool, *ty_int, *ty_float, *ty_str;
void types_init(void);
void types_free_all(void);
type *ty_fixed(int frac);
type *ty_tensor(tkind elem, int frac, int rank, const int64_t *dims);
type *ty_fn(int nparams, type **params, type *ret);
type *ty_obj(const char *name);
type *ty_module(struct module *m);
bool ty_equal(const type *a, const type *b);
/* Writes "float[2, 3]", "fn(int) -> int", ... */
void ty_format(const type *t, he_buf *b);
const char *ty_str_of(const type *t); /* thread-local rotating buffers */
/* 0 ok, 1 ok after int->float, 2 ok after a run-time check, -1 no. */
int ty_assignable(const type *src, const type *dst);
type *elem_type(const type *t); /* a tensor type's element type */
static inline bool ty_is_num(const type *t) { return t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_FIXED; }
static inline bool ty_scalar(const type *t)
{
    return t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_FIXED || t->kind == T_BOOL || t->kind == T_NIL;
}

/* --- syntax tree ------------------------------------------------------------ */
typedef enum nkind {
    /* expressions */
    N_INT, N_FLOAT, N_STR, N_BOOL, N_NAME, N_BINOP, N_UNOP, N_AND, N_OR, N_CALL,
    N_INDEX, N_SLICE, N_MEMBER, N_TENSOR, N_LAMBDA, N_CONV,
    /* statements */
    N_LET, N_ASSIGN, N_EXPR, N_IF, N_WHILE, N_FOR, N_RETURN, N_BREAK, N_CONTINUE,
    N_FN, N_IMPORT, N_BLOCK,
} nkind;

typedef struct node node;
typedef struct nlist {
    node **v;
    int n, cap;
} nlist;

typedef struct param {
    const char *name;
    type *ty; /* NULL: inferred (any) */
    int line, col;
} param;

typedef struct fndecl fndecl;

struct node {
    nkind kind;
    int line, col;
    int op;            /* he_op for N_BINOP/N_UNOP/N_ASSIGN (-1: plain =) */
    node *a, *b, *c;   /* children: see parser.y for each kind */
    nlist list;        /* call args, index items, tensor items, block statements */
    int64_t ival;
    double fval;
    const char *name;  /* N_NAME, N_MEMBER, N_LET, N_FOR, N_IMPORT (alias in name2) */
    const char *name2;
    char *str;         /* N_STR */
    type *ann;         /* N_LET annotation, N_CONV target */
    fndecl *fn;        /* N_FN, N_LAMBDA */
    /* filled by the checker */
    type *ty;
    struct sym *sym;   /* N_NAME, N_LET, N_FOR: the binding */
    int bi;            /* builtin index for N_CALL of a builtin, else -1 */
    bool ufcs;         /* N_CALL of a.f(x) rewritten to f(a, x) */
};

struct fndecl {
    const char *name; /* NULL for a lambda */
    param *params;
    int nparams;
    type *ret;        /* annotation, or NULL */
    node *body;       /* N_BLOCK */
    int line, col;
    /* checker */
    type *ty;
    struct funcstate *fs;
    struct sym **captures;
    int ncaptures;
    struct sym **psyms; /* the parameters' bindings */
    struct sym *sym;  /* the binding of a named function */
};

/* --- the parser ------------------------------------------------------------- */
typedef struct arena_block arena_block;

typedef struct he_parser {
    const char *file;     /* for messages */
    const char *src;      /* the whole source, for quoting lines */
    size_t srclen;
    void *scanner;
    int line, col, newline;
    /* statement-end insertion (see lexer.l) */
    int last_tok;
    int brackets[256];
    int bline[256], bcol[256]; /* where each open bracket is (for "never closed") */
    int depth;
    int mismatch, mismatch_tok, mismatch_line, mismatch_col; /* the token just read closed another bracket */
    /* tokens read ahead, returned before the scanner's next ones */
    int nstash;
    int stash_tok[4];
    union { int64_t ival; double fval; char *sval; } stash_val[4];
    struct { int first_line, first_column, last_line, last_column; } stash_loc[4];
    int eof_done;
    /* results */
    nlist stmts;
    int nerrors;
    bool incomplete;      /* the first error was an unexpected end of input */
    FILE *err;
    arena_block *arena;
    struct intern_tab *names;
} he_parser;

void *ast_alloc(he_parser *ps, size_t n);
node *ast_node(he_parser *ps, nkind k, int line, int col);
void nlist_push(he_parser *ps, nlist *l, node *n);
const char *he_intern(he_parser *ps, const char *s, size_t n);
char *he_unescape(he_parser *ps, const char *s, size_t n, void *loc);
/* Unclosed brackets (parse.c): reports the innermost open one as never
** closed; whether the innermost one is closed in the source from line:col on. */
void he_unclosed(he_parser *ps);
bool he_closed_later(he_parser *ps, int line, int col);

/* Prints "file:line:col: error: msg", the line and a caret; counts it. */
void he_syntax_error(he_parser *ps, int line, int col, const char *fmt, ...) HE_PRINTF(4, 5);
void he_report(FILE *err, const char *file, const char *src, size_t srclen, int line, int col,
               const char *kind, const char *msg);

/* Parses src into ps->stmts. Returns the number of errors. */
int he_parse(he_parser *ps, const char *file, const char *src, size_t len, FILE *err);
void he_parser_free(he_parser *ps);

#endif
