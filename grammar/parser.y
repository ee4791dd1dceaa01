/*
** parser.y: the grammar of `he`. Builds the syntax tree (interp/ast.h);
** checking and code generation happen later (interp/check.c, compile.c).
**
**   program  := { stmt }
**   stmt     := let NAME [: type] = expr | target (=|+=|-=|*=|/=) expr
**             | expr | return [expr] | break | continue | import NAME [as NAME]
**             | fn NAME(params) [-> type] block | if expr block [else (block|if ...)]
**             | while expr block | for NAME in expr [.. expr] block | block
**   type     := int | float | bool | str | fixed[<N>] | NAME | type[dims]
**             | fn(types) [-> type]
** Statements end at a newline or ';' (see lexer.l).
*/
%require "3.6"
%define api.pure full
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%expect 1 /* fn(...) -> float[2]: the brackets belong to the return type */
%param {he_parser *ps}

%code requires {
#include "ast.h"
}

%code provides {
int yylex(YYSTYPE *lval, YYLTYPE *lloc, he_parser *ps);
}

%code {
#include <string.h>
static void yyerror(YYLTYPE *loc, he_parser *ps, const char *msg);
#define N(k, l) ast_node(ps, (k), (l).first_line, (l).first_column)
static node *binop(he_parser *ps, YYLTYPE l, int op, node *a, node *b)
{
    node *n = N(N_BINOP, l);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}
typedef struct plist { param *v; int n; } plist;
typedef struct tlist { type **v; int n; } tlist;
}

%union {
    int64_t ival;
    double fval;
    char *sval;
    node *node;
    nlist list;
    type *ty;
    fndecl *fn;
    struct { param *v; int n; } params;
    struct { type **v; int n; } types;
    struct { int64_t d[MAXRANK]; int n; } dims;
}

%token <ival> INT "integer"
%token <fval> FLOAT "float literal"
%token <sval> STRING "string"
%token <sval> IDENT "name"
%token <ival> BOOL "true or false"
%token LET "let" FN "fn" IF "if" ELSE "else" WHILE "while" FOR "for" IN "in"
%token RETURN "return" BREAK "break" CONTINUE "continue" IMPORT "import" AS "as"
%token AND "and" OR "or" NOT "not"
%token TINT "int" TFLOAT "float" TFIXED "fixed" TBOOL "bool" TSTR "str"
%token POW "**" EQ "==" NE "!=" LE "<=" GE ">=" ADDEQ "+=" SUBEQ "-=" MULEQ "*=" DIVEQ "/="
%token ARROW "->" DOTDOT ".." PLUS "+" MINUS "-" STAR "*" SLASH "/" IDIV "//" PERCENT "%" AT "@"
%token LT "<" GT ">" ASSIGN "=" LPAREN "(" RPAREN ")" LBRACKET "[" RBRACKET "]"
%token LBRACE "{" RBRACE "}" COMMA "," COLON ":" SEMI "end of statement" DOT "." QUESTION "?"

%type <node> stmt simple block expr postfix primary idx oexpr if_stmt fndecl lambda
%type <list> stmts exprs exprs_opt idxs
%type <ty> type opt_ann opt_ret
%type <params> params params_ne
%type <types> types types_ne
%type <dims> dims
%type <ival> assignop

%left OR
%left AND
%precedence NOT
%nonassoc EQ NE LT LE GT GE
%left PLUS MINUS
%left STAR SLASH IDIV PERCENT AT
%precedence UMINUS
%right POW

%%

program
    : stmts { ps->stmts = $1; }
    ;

stmts
    : %empty { memset(&$$, 0, sizeof $$); }
    | stmts stmt { $$ = $1; if ($2) nlist_push(ps, &$$, $2); }
    | stmts SEMI { $$ = $1; }
    | stmts error SEMI { $$ = $1; yyerrok; }
    ;

stmt
    : simple SEMI { $$ = $1; }
    | if_stmt
    | WHILE expr block { $$ = N(N_WHILE, @1); $$->a = $2; $$->b = $3; }
    | FOR IDENT IN expr block { $$ = N(N_FOR, @1); $$->name = $2; $$->a = $4; $$->c = $5; }
    | FOR IDENT IN expr DOTDOT expr block
        { $$ = N(N_FOR, @1); $$->name = $2; $$->a = $4; $$->b = $6; $$->c = $7; }
    | fndecl
    | block
    ;

simple
    : LET IDENT opt_ann ASSIGN expr
        { $$ = N(N_LET, @2); $$->name = $2; $$->ann = $3; $$->a = $5; }
    | postfix assignop expr { $$ = N(N_ASSIGN, @2); $$->op = (int)$2; $$->a = $1; $$->b = $3; }
    | expr { $$ = N(N_EXPR, @1); $$->a = $1; }
    | RETURN { $$ = N(N_RETURN, @1); }
    | RETURN expr { $$ = N(N_RETURN, @1); $$->a = $2; }
    | BREAK { $$ = N(N_BREAK, @1); }
    | CONTINUE { $$ = N(N_CONTINUE, @1); }
    | IMPORT IDENT { $$ = N(N_IMPORT, @2); $$->name = $2; $$->name2 = $2; }
    | IMPORT IDENT AS IDENT { $$ = N(N_IMPORT, @2); $$->name = $2; $$->name2 = $4; }
    ;

assignop
    : ASSIGN { $$ = -1; }
    | ADDEQ { $$ = HE_OP_ADD; }
    | SUBEQ { $$ = HE_OP_SUB; }
    | MULEQ { $$ = HE_OP_MUL; }
    | DIVEQ { $$ = HE_OP_DIV; }
    ;

opt_ann
    : %empty { $$ = NULL; }
    | COLON type { $$ = $2; }
    ;

if_stmt
    : IF expr block { $$ = N(N_IF, @1); $$->a = $2; $$->b = $3; }
    | IF expr block ELSE block { $$ = N(N_IF, @1); $$->a = $2; $$->b = $3; $$->c = $5; }
    | IF expr block ELSE if_stmt { $$ = N(N_IF, @1); $$->a = $2; $$->b = $3; $$->c = $5; }
    ;

block
    : LBRACE stmts RBRACE { $$ = N(N_BLOCK, @1); $$->list = $2; }
    ;

fndecl
    : FN IDENT LPAREN params RPAREN opt_ret block
        {
          fndecl *f = ast_alloc(ps, sizeof *f);
          f->name = $2; f->params = $4.v; f->nparams = $4.n; f->ret = $6; f->body = $7;
          f->line = @2.first_line; f->col = @2.first_column;
          $$ = N(N_FN, @2); $$->fn = f; $$->name = $2;
        }
    ;

lambda
    : FN LPAREN params RPAREN opt_ret block
        {
          fndecl *f = ast_alloc(ps, sizeof *f);
          f->params = $3.v; f->nparams = $3.n; f->ret = $5; f->body = $6;
          f->line = @1.first_line; f->col = @1.first_column;
          $$ = N(N_LAMBDA, @1); $$->fn = f;
        }
    ;

opt_ret
    : %empty { $$ = NULL; }
    | ARROW type { $$ = $2; }
    ;

params
    : %empty { $$.v = NULL; $$.n = 0; }
    | params_ne { $$ = $1; }
    | params_ne COMMA { $$ = $1; }
    ;

params_ne
    : IDENT opt_ann
        {
          $$.v = ast_alloc(ps, sizeof(param) * 16); $$.n = 1;
          $$.v[0].name = $1; $$.v[0].ty = $2; $$.v[0].line = @1.first_line; $$.v[0].col = @1.first_column;
        }
    | params_ne COMMA IDENT opt_ann
        {
          $$ = $1;
          if ($$.n % 16 == 0) {
              param *v = ast_alloc(ps, sizeof(param) * (size_t)($$.n + 16));
              memcpy(v, $$.v, sizeof(param) * (size_t)$$.n);
              $$.v = v;
          }
          $$.v[$$.n].name = $3; $$.v[$$.n].ty = $4;
          $$.v[$$.n].line = @3.first_line; $$.v[$$.n].col = @3.first_column;
          $$.n++;
        }
    ;

type
    : TINT { $$ = ty_int; }
    | TFLOAT { $$ = ty_float; }
    | TBOOL { $$ = ty_bool; }
    | TSTR { $$ = ty_str; }
    | TFIXED { $$ = ty_fixed(HE_FIXED_DEFAULT_FRAC); }
    | TFIXED LT INT GT
        {
          if ($3 < 0 || $3 > HE_FIXED_MAXFRAC) {
              he_syntax_error(ps, @3.first_line, @3.first_column,
                              "fixed<N> needs 0 <= N <= %d fractional bits", HE_FIXED_MAXFRAC);
              $$ = ty_fixed(HE_FIXED_DEFAULT_FRAC);
          } else $$ = ty_fixed((int)$3);
        }
    | IDENT
        {
          if (strcmp($1, "any") == 0) $$ = ty_any;
          else $$ = ty_obj($1);
        }
    | type LBRACKET dims RBRACKET
        {
          tkind e = $1->kind;
          if (e != T_INT && e != T_FLOAT && e != T_FIXED && e != T_BOOL && e != T_ANY) {
              he_syntax_error(ps, @2.first_line, @2.first_column,
                              "tensors hold int, float, fixed or bool, not %s", ty_str_of($1));
              e = T_ANY;
          }
          $$ = ty_tensor(e, $1->frac, $3.n, $3.d);
        }
    | FN LPAREN types RPAREN opt_ret { $$ = ty_fn($3.n, $3.v, $5 ? $5 : ty_void); }
    ;

dims
    : %empty { $$.n = -1; }
    | INT { $$.n = 1; $$.d[0] = $1; }
    | QUESTION { $$.n = 1; $$.d[0] = DIM_ANY; }
    | dims COMMA INT
        {
          $$ = $1;
          if ($$.n < 1 || $$.n >= MAXRANK) he_syntax_error(ps, @3.first_line, @3.first_column, "too many dimensions (at most %d)", MAXRANK);
          else $$.d[$$.n++] = $3;
        }
    | dims COMMA QUESTION
        {
          $$ = $1;
          if ($$.n < 1 || $$.n >= MAXRANK) he_syntax_error(ps, @3.first_line, @3.first_column, "too many dimensions (at most %d)", MAXRANK);
          else $$.d[$$.n++] = DIM_ANY;
        }
    ;

types
    : %empty { $$.v = NULL; $$.n = 0; }
    | types_ne { $$ = $1; }
    ;

types_ne
    : type { $$.v = ast_alloc(ps, sizeof(type *) * 16); $$.n = 1; $$.v[0] = $1; }
    | types_ne COMMA type
        {
          $$ = $1;
          if ($$.n >= 16) he_syntax_error(ps, @3.first_line, @3.first_column, "too many parameters in a function type");
          else $$.v[$$.n++] = $3;
        }
    ;

expr
    : expr OR expr { $$ = N(N_OR, @2); $$->a = $1; $$->b = $3; }
    | expr AND expr { $$ = N(N_AND, @2); $$->a = $1; $$->b = $3; }
    | NOT expr { $$ = N(N_UNOP, @1); $$->op = HE_OP_NOT; $$->a = $2; }
    | expr EQ expr { $$ = binop(ps, @2, HE_OP_EQ, $1, $3); }
    | expr NE expr { $$ = binop(ps, @2, HE_OP_NE, $1, $3); }
    | expr LT expr { $$ = binop(ps, @2, HE_OP_LT, $1, $3); }
    | expr LE expr { $$ = binop(ps, @2, HE_OP_LE, $1, $3); }
    | expr GT expr { $$ = binop(ps, @2, HE_OP_GT, $1, $3); }
    | expr GE expr { $$ = binop(ps, @2, HE_OP_GE, $1, $3); }
    | expr PLUS expr { $$ = binop(ps, @2, HE_OP_ADD, $1, $3); }
    | expr MINUS expr { $$ = binop(ps, @2, HE_OP_SUB, $1, $3); }
    | expr STAR expr { $$ = binop(ps, @2, HE_OP_MUL, $1, $3); }
    | expr SLASH expr { $$ = binop(ps, @2, HE_OP_DIV, $1, $3); }
    | expr IDIV expr { $$ = binop(ps, @2, HE_OP_IDIV, $1, $3); }
    | expr PERCENT expr { $$ = binop(ps, @2, HE_OP_MOD, $1, $3); }
    | expr AT expr { $$ = binop(ps, @2, HE_OP_MATMUL, $1, $3); }
    | expr POW expr { $$ = binop(ps, @2, HE_OP_POW, $1, $3); }
    | MINUS expr %prec UMINUS { $$ = N(N_UNOP, @1); $$->op = HE_OP_NEG; $$->a = $2; }
    | postfix
    ;

postfix
    : primary
    | postfix LPAREN exprs_opt RPAREN { $$ = N(N_CALL, @2); $$->a = $1; $$->list = $3; }
    | postfix LBRACKET idxs RBRACKET { $$ = N(N_INDEX, @2); $$->a = $1; $$->list = $3; }
    | postfix DOT IDENT { $$ = N(N_MEMBER, @3); $$->a = $1; $$->name = $3; }
    ;

primary
    : INT { $$ = N(N_INT, @1); $$->ival = $1; }
    | FLOAT { $$ = N(N_FLOAT, @1); $$->fval = $1; }
    | STRING { $$ = N(N_STR, @1); $$->str = $1; }
    | BOOL { $$ = N(N_BOOL, @1); $$->ival = $1; }
    | IDENT { $$ = N(N_NAME, @1); $$->name = $1; }
    | LPAREN expr RPAREN { $$ = $2; }
    | LBRACKET exprs_opt RBRACKET { $$ = N(N_TENSOR, @1); $$->list = $2; }
    | lambda
    | TINT LPAREN exprs_opt RPAREN { $$ = N(N_CONV, @1); $$->ann = ty_int; $$->list = $3; }
    | TFLOAT LPAREN exprs_opt RPAREN { $$ = N(N_CONV, @1); $$->ann = ty_float; $$->list = $3; }
    | TBOOL LPAREN exprs_opt RPAREN { $$ = N(N_CONV, @1); $$->ann = ty_bool; $$->list = $3; }
    | TSTR LPAREN exprs_opt RPAREN { $$ = N(N_CONV, @1); $$->ann = ty_str; $$->list = $3; }
    | TFIXED LPAREN exprs_opt RPAREN
        { $$ = N(N_CONV, @1); $$->ann = ty_fixed(HE_FIXED_DEFAULT_FRAC); $$->list = $3; }
    | TFIXED LT INT GT LPAREN exprs_opt RPAREN
        {
          $$ = N(N_CONV, @1); $$->list = $6;
          if ($3 < 0 || $3 > HE_FIXED_MAXFRAC) {
              he_syntax_error(ps, @3.first_line, @3.first_column,
                              "fixed<N> needs 0 <= N <= %d fractional bits", HE_FIXED_MAXFRAC);
              $$->ann = ty_fixed(HE_FIXED_DEFAULT_FRAC);
          } else $$->ann = ty_fixed((int)$3);
        }
    ;

exprs_opt
    : %empty { memset(&$$, 0, sizeof $$); }
    | exprs { $$ = $1; }
    | exprs COMMA { $$ = $1; }
    ;

exprs
    : expr { memset(&$$, 0, sizeof $$); nlist_push(ps, &$$, $1); }
    | exprs COMMA expr { $$ = $1; nlist_push(ps, &$$, $3); }
    ;

idxs
    : idx { memset(&$$, 0, sizeof $$); nlist_push(ps, &$$, $1); }
    | idxs COMMA idx { $$ = $1; nlist_push(ps, &$$, $3); }
    ;

idx
    : expr
    | oexpr COLON oexpr { $$ = N(N_SLICE, @2); $$->a = $1; $$->b = $3; }
    | oexpr COLON oexpr COLON oexpr { $$ = N(N_SLICE, @2); $$->a = $1; $$->b = $3; $$->c = $5; }
    ;

oexpr
    : %empty { $$ = NULL; }
    | expr
    ;

%%

static void yyerror(YYLTYPE *loc, he_parser *ps, const char *msg)
{
    if (strcmp(msg, "memory exhausted") == 0) msg = "nested too deeply (the parser's stack is full): split the code";
    he_syntax_error(ps, loc->first_line, loc->first_column, "%s", msg);
}

/* Keywords and punctuation in quotes, classes of tokens in words. */
static const char *tok_name(yysymbol_kind_t k, char *buf, size_t n)
{
    if (k == YYSYMBOL_YYEOF) return "end of input";
    const char *s = yysymbol_name(k);
    if (s[0] == '"') s++;
    size_t len = strlen(s);
    if (len && s[len - 1] == '"') len--;
    static const char *const words[] = {"integer", "float literal", "string", "name", "true or false",
                                        "end of statement", NULL};
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == len && strncmp(words[i], s, len) == 0) {
            snprintf(buf, n, "%.*s", (int)len, s);
            return buf;
        }
    snprintf(buf, n, "'%.*s'", (int)len, s);
    return buf;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, he_parser *ps)
{
    yysymbol_kind_t got = yypcontext_token(ctx);
    const YYLTYPE *loc = yypcontext_location(ctx);
    if (got == YYSYMBOL_YYerror) return 0; /* the lexer already reported it */
    if (ps->nerrors == 0 && got == YYSYMBOL_YYEOF) ps->incomplete = true;
    /* an error at the end of input, or on a later line than a ( or [ that
    ** the rest of the source never closes: that bracket is the mistake */
    if (ps->mismatch) {
        he_syntax_error(ps, ps->mismatch_line, ps->mismatch_col, "'%s' opened here was never closed",
                        ps->mismatch_tok == TOK_LPAREN ? "(" : "[");
        return 0;
    }
    int d = ps->depth > 256 ? 256 : ps->depth;
    if (d > 0 && (got == YYSYMBOL_YYEOF || (ps->brackets[d - 1] != TOK_LBRACE && loc->first_line > ps->bline[d - 1] &&
                                            !he_closed_later(ps, loc->first_line, loc->first_column)))) {
        he_unclosed(ps);
        return 0;
    }
    yysymbol_kind_t exp[6];
    int n = yypcontext_expected_tokens(ctx, exp, 6);
    he_buf b;
    he_buf_init(&b);
    char nb[64];
    he_buf_printf(&b, "unexpected %s", tok_name(got, nb, sizeof nb));
    if (n > 0 && n <= 5) {
        he_buf_puts(&b, ", expecting ");
        for (int i = 0; i < n; i++)
            he_buf_printf(&b, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", tok_name(exp[i], nb, sizeof nb));
    }
    he_syntax_error(ps, loc->first_line, loc->first_column, "%s", b.data ? b.data : "syntax error");
    he_buf_free(&b);
    return 0;
}
