/*
** parse.c: the parser's arena and names, the statement-end insertion that
** wraps the Flex scanner, and compile-error reports.
*/
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "parser.h"
#include "lexer.h"

/* --- arena ----------------------------------------------------------------- */
struct arena_block {
    arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *ast_alloc(he_parser *ps, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_block *b = ps->arena;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) he_misuse("out of memory in the parser");
        b->next = ps->arena;
        b->used = 0;
        b->cap = cap;
        ps->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

node *ast_node(he_parser *ps, nkind k, int line, int col)
{
    node *n = ast_alloc(ps, sizeof *n);
    n->kind = k;
    n->line = line;
    n->col = col;
    n->bi = -1;
    return n;
}

void nlist_push(he_parser *ps, nlist *l, node *n)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        node **v = ast_alloc(ps, sizeof(node *) * (size_t)cap);
        if (l->n) memcpy(v, l->v, sizeof(node *) * (size_t)l->n);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

/* Names are interned per parse: equal names share one pointer. */
struct intern_tab {
    const char **v;
    size_t cap, n;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

const char *he_intern(he_parser *ps, const char *s, size_t n)
{
    struct intern_tab *t = ps->names;
    if (!t) {
        t = ps->names = ast_alloc(ps, sizeof *t);
    }
    if (t->n * 2 >= t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        const char **v = ast_alloc(ps, sizeof(char *) * cap);
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i]) continue;
            size_t j = hash_bytes(t->v[i], strlen(t->v[i])) & (cap - 1);
            while (v[j]) j = (j + 1) & (cap - 1);
            v[j] = t->v[i];
        }
        t->v = v;
        t->cap = cap;
    }
    size_t j = hash_bytes(s, n) & (t->cap - 1);
    while (t->v[j]) {
        if (strncmp(t->v[j], s, n) == 0 && t->v[j][n] == '\0') return t->v[j];
        j = (j + 1) & (t->cap - 1);
    }
    char *c = ast_alloc(ps, n + 1);
    memcpy(c, s, n);
    t->v[j] = c;
    t->n++;
    return c;
}

char *he_unescape(he_parser *ps, const char *s, size_t n, void *vloc)
{
    YYLTYPE *loc = vloc;
    char *out = ast_alloc(ps, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            /* the string would end there: say so rather than cut it */
            he_syntax_error(ps, loc->first_line, loc->first_column + (int)i + 1,
                            "a NUL byte (0x00) inside a string literal (strings cannot hold it)");
            return NULL;
        }
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case '\\': *o++ = '\\'; break;
        case '"': *o++ = '"'; break;
        default:
            if (c > 32 && c < 127)
                he_syntax_error(ps, loc->first_line, loc->first_column + (int)i + 1,
                                "unknown escape '\\%c' in string (the escapes are \\n \\t \\r \\\\ \\\")", c);
            else
                he_syntax_error(ps, loc->first_line, loc->first_column + (int)i + 1,
                                "unknown escape in string (the escapes are \\n \\t \\r \\\\ \\\")");
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

/* --- reports ----------------------------------------------------------------- */
void he_report(FILE *err, const char *file, const char *src, size_t srclen, int line, int col, const char *kind,
               const char *msg)
{
    fprintf(err, "%s:%d:%d: %s: %s\n", file, line, col, kind, msg);
    if (!src || line < 1) return;
    const char *p = src, *end = src + srclen;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n') l++;
    if (p >= end && line > 1) {
        /* past the last line (an unexpected end of input): quote the last
        ** line that has text, the caret just after it */
        const char *e = end;
        while (e > src && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e == src) return;
        p = e;
        while (p > src && p[-1] != '\n') p--;
        col = (int)(e - p) + 1;
    }
    const char *e = p;
    while (e < end && *e != '\n') e++;
    /* a very long line: a window of it around the column, "..." where cut */
    enum { WIDE = 200, BEFORE = 80, AFTER = 80 };
    const char *at = p + (col > 1 ? col - 1 : 0), *from = p, *to = e;
    if (at > e) at = e;
    if (e - p > WIDE) {
        if (at - p > BEFORE) from = at - BEFORE;
        if (e - at > AFTER) to = at + AFTER;
        while (from > p && from < at && ((unsigned char)*from & 0xc0) == 0x80) from++; /* whole UTF-8 characters */
        while (to < e && ((unsigned char)*to & 0xc0) == 0x80) to++;
    }
    const char *pre = from > p ? "..." : "";
    fprintf(err, "  %s", pre);
    for (const char *q = from; q < to; q++) fputc(*q ? *q : '?', err); /* a NUL byte shows as ? */
    fprintf(err, "%s\n  %s", to < e ? "..." : "", from > p ? "   " : "");
    for (const char *q = from; q < at; q++) {
        unsigned char ch = (unsigned char)*q;
        if ((ch & 0xc0) == 0x80) continue; /* a UTF-8 continuation byte: same column on screen */
        fputc(ch == '\t' ? '\t' : ' ', err);
    }
    fputs("^\n", err);
}

void he_syntax_error(he_parser *ps, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->nerrors++;
    if (ps->nerrors > 20) return;
    if (ps->nerrors == 20) {
        fprintf(ps->err, "%s: too many errors, stopping\n", ps->file);
        return;
    }
    he_report(ps->err, ps->file, ps->src, ps->srclen, line, col, "error", msg);
}

/* --- statement ends ------------------------------------------------------------ */
static bool ends_statement(int tok)
{
    switch (tok) {
    case TOK_IDENT: case TOK_INT: case TOK_FLOAT: case TOK_STRING: case TOK_BOOL:
    case TOK_RETURN: case TOK_BREAK: case TOK_CONTINUE:
    case TOK_RPAREN: case TOK_RBRACKET: case TOK_RBRACE:
    case TOK_TINT: case TOK_TFLOAT: case TOK_TFIXED: case TOK_TBOOL: case TOK_TSTR:
    case TOK_GT: /* fixed<8> at the end of an annotation */
    case TOK_YYerror: /* a bad token (reported): end the statement at the line's end, to resume there */
        return true;
    default: return false;
    }
}

static bool in_parens(he_parser *ps)
{
    int d = ps->depth > 256 ? 256 : ps->depth;
    return d > 0 && ps->brackets[d - 1] != TOK_LBRACE;
}

/* Fetches the next raw token, from the stash or the scanner. */
static int raw_token(YYSTYPE *lval, YYLTYPE *lloc, he_parser *ps)
{
    if (ps->nstash > 0) {
        int t = ps->stash_tok[0];
        memcpy(lval, &ps->stash_val[0], sizeof ps->stash_val[0]);
        lloc->first_line = ps->stash_loc[0].first_line;
        lloc->first_column = ps->stash_loc[0].first_column;
        lloc->last_line = ps->stash_loc[0].last_line;
        lloc->last_column = ps->stash_loc[0].last_column;
        ps->nstash--;
        memmove(ps->stash_tok, ps->stash_tok + 1, sizeof ps->stash_tok[0] * (size_t)ps->nstash);
        memmove(ps->stash_val, ps->stash_val + 1, sizeof ps->stash_val[0] * (size_t)ps->nstash);
        memmove(ps->stash_loc, ps->stash_loc + 1, sizeof ps->stash_loc[0] * (size_t)ps->nstash);
        return t;
    }
    ps->newline = 0;
    int t = heylex(lval, lloc, ps->scanner);
    if (t == TOK_YYEOF) {
        lloc->first_line = lloc->last_line = ps->line;
        lloc->first_column = lloc->last_column = ps->col;
    }
    return t;
}

/* Puts a token back, after those already stashed, or before them (front). */
static void stash_at(he_parser *ps, bool front, int tok, YYSTYPE *lval, YYLTYPE *lloc)
{
    if (ps->nstash >= 4) he_misuse("parser: token stash full");
    int k = front ? 0 : ps->nstash;
    if (front) {
        memmove(ps->stash_tok + 1, ps->stash_tok, sizeof ps->stash_tok[0] * (size_t)ps->nstash);
        memmove(ps->stash_val + 1, ps->stash_val, sizeof ps->stash_val[0] * (size_t)ps->nstash);
        memmove(ps->stash_loc + 1, ps->stash_loc, sizeof ps->stash_loc[0] * (size_t)ps->nstash);
    }
    ps->nstash++;
    ps->stash_tok[k] = tok;
    memcpy(&ps->stash_val[k], lval, sizeof ps->stash_val[k]);
    ps->stash_loc[k].first_line = lloc->first_line;
    ps->stash_loc[k].first_column = lloc->first_column;
    ps->stash_loc[k].last_line = lloc->last_line;
    ps->stash_loc[k].last_column = lloc->last_column;
}

static void stash(he_parser *ps, int tok, YYSTYPE *lval, YYLTYPE *lloc) { stash_at(ps, false, tok, lval, lloc); }

/* The innermost open bracket, reported as never closed; the open ( and [
** around it are forgotten, so statements end at newlines again and the
** parser resumes at the next one. */
void he_unclosed(he_parser *ps)
{
    int d = ps->depth > 256 ? 256 : ps->depth;
    if (d <= 0) return;
    int t = ps->brackets[d - 1];
    he_syntax_error(ps, ps->bline[d - 1], ps->bcol[d - 1], "'%s' opened here was never closed",
                    t == TOK_LPAREN ? "(" : t == TOK_LBRACKET ? "[" : "{");
    while (ps->depth > 0 && in_parens(ps)) ps->depth--;
}

/* Whether the innermost open bracket is closed somewhere in the source
** from line:col on (strings and comments skipped). */
bool he_closed_later(he_parser *ps, int line, int col)
{
    const char *p = ps->src, *end = ps->src + ps->srclen;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n') l++;
    p += col > 1 ? col - 1 : 0;
    int depth = 0;
    for (; p < end; p++) {
        char c = *p;
        if (c == '#') {
            while (p < end && *p != '\n') p++;
        } else if (c == '"') {
            for (p++; p < end && *p != '"' && *p != '\n'; p++)
                if (*p == '\\') p++;
        } else if (c == '(' || c == '[' || c == '{') depth++;
        else if ((c == ')' || c == ']' || c == '}') && --depth < 0) return true;
    }
    return false;
}

int yylex(YYSTYPE *lval, YYLTYPE *lloc, he_parser *ps)
{
    YYLTYPE prev = *lloc;
    ps->mismatch = 0; /* it is about the token last returned only */
    int had_stash = ps->nstash > 0;
    int t = raw_token(lval, lloc, ps);
    int saw_newline = !had_stash && ps->newline;
    bool insert = false;
    /* a statement keyword (or fn NAME, a declaration) at the start of a line
    ** cannot be inside ( ) or [ ]: a bracket was left open. Say which, end
    ** the statement there, and the rest of the file still parses. */
    if (saw_newline && in_parens(ps) && t == TOK_FN) {
        YYSTYPE nval;
        YYLTYPE nloc;
        int n = raw_token(&nval, &nloc, ps);
        if (n == TOK_IDENT) {
            /* fn NAME becomes: error ; fn NAME */
            YYSTYPE semi = {0};
            YYLTYPE sloc = {prev.last_line, prev.last_column + 1, prev.last_line, prev.last_column + 1};
            stash(ps, TOK_SEMI, &semi, &sloc);
            stash(ps, t, lval, lloc);
            stash(ps, n, &nval, &nloc);
            he_unclosed(ps);
            ps->last_tok = TOK_SEMI;
            return TOK_YYerror;
        }
        stash(ps, n, &nval, &nloc); /* fn (a lambda): read on */
    }
    if (saw_newline && in_parens(ps) &&
        (t == TOK_LET || t == TOK_IF || t == TOK_WHILE || t == TOK_FOR || t == TOK_RETURN || t == TOK_IMPORT ||
         t == TOK_BREAK || t == TOK_CONTINUE)) {
        /* error ; KEYWORD: the parser resumes at the end of statement */
        YYSTYPE semi = {0};
        YYLTYPE sloc = {prev.last_line, prev.last_column + 1, prev.last_line, prev.last_column + 1};
        stash(ps, TOK_SEMI, &semi, &sloc);
        stash(ps, t, lval, lloc);
        he_unclosed(ps);
        ps->last_tok = TOK_SEMI;
        return TOK_YYerror;
    }
    if (ends_statement(ps->last_tok) && !in_parens(ps)) {
        if (t == TOK_YYEOF) insert = true;
        else if (t == TOK_RBRACE) insert = true;
        else if (saw_newline && t != TOK_ELSE && t != TOK_DOT) insert = true;
    }
    if (insert) {
        stash_at(ps, true, t, lval, lloc);
        lloc->first_line = lloc->last_line = prev.last_line;
        lloc->first_column = lloc->last_column = prev.last_column + 1;
        ps->last_tok = TOK_SEMI;
        return TOK_SEMI;
    }
    switch (t) {
    case TOK_LPAREN: case TOK_LBRACKET: case TOK_LBRACE:
        if (ps->depth < (int)(sizeof ps->brackets / sizeof ps->brackets[0])) {
            ps->brackets[ps->depth] = t;
            ps->bline[ps->depth] = lloc->first_line;
            ps->bcol[ps->depth] = lloc->first_column;
        }
        ps->depth++;
        break;
    case TOK_RPAREN: case TOK_RBRACKET: case TOK_RBRACE: {
        int open = t == TOK_RPAREN ? TOK_LPAREN : t == TOK_RBRACKET ? TOK_LBRACKET : TOK_LBRACE;
        int d = ps->depth > 256 ? 256 : ps->depth;
        if (d > 0 && d == ps->depth && ps->brackets[d - 1] != open && ps->brackets[d - 1] != TOK_LBRACE) {
            /* ( ... } or [ ... ): the ( or [ was never closed; the parser
            ** reports it on this token. The closer closes what it matches. */
            ps->mismatch = 1;
            ps->mismatch_tok = ps->brackets[d - 1];
            ps->mismatch_line = ps->bline[d - 1];
            ps->mismatch_col = ps->bcol[d - 1];
            while (ps->depth > 0 && in_parens(ps) && ps->brackets[ps->depth - 1] != open) ps->depth--;
        }
        if (ps->depth > 0) ps->depth--;
        break;
    }
    default: break;
    }
    ps->last_tok = t;
    return t;
}

int he_parse(he_parser *ps, const char *file, const char *src, size_t len, FILE *err)
{
    memset(ps, 0, sizeof *ps);
    ps->file = file;
    ps->src = src;
    ps->srclen = len;
    ps->err = err;
    ps->line = 1;
    ps->col = 1;
    ps->last_tok = TOK_SEMI;
    if (heylex_init_extra(ps, (yyscan_t *)&ps->scanner) != 0) he_misuse("cannot create the scanner");
    YY_BUFFER_STATE buf = hey_scan_bytes(src, (int)len, ps->scanner);
    yyparse(ps);
    hey_delete_buffer(buf, ps->scanner);
    heylex_destroy(ps->scanner);
    ps->scanner = NULL;
    return ps->nerrors;
}

void he_parser_free(he_parser *ps)
{
    arena_block *b = ps->arena;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    ps->arena = NULL;
}
