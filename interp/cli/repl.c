/*
** repl.c: the interactive REPL: readline with history and completion (or
** plain lines from a pipe, echoed, for transcripts), multi-line input,
** :help :type :dis :load :time :quit.
*/
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"

static int type_cb(void *p)
{
    struct src_arg *a = p;
    he_buf b;
    he_buf_init(&b);
    int rc = he_type_of(cli_vm, a->src, &b);
    if (rc == 0) printf("%s : %s\n", a->src, b.data);
    he_buf_free(&b);
    return rc;
}

/* --- the REPL ------------------------------------------------------------------------ */
static const char *const keywords[] = {"let", "fn", "if", "else", "while", "for", "in", "return", "break",
                                       "continue", "import", "as", "and", "or", "not", "true", "false", "int",
                                       "float", "fixed", "bool", "str", NULL};
static const char *const commands[] = {":help", ":quit", ":type", ":dis", ":load", ":time", ":plan", ":complete", NULL};

/* What Tab completes: names (keywords, the REPL's names, commands), the
** members of a module (text "ckks.enc"), or file names (after :load). */
static enum { C_NAMES, C_MEMBERS, C_FILES } cmode;

static bool prefix_of(const char *word, const char *cmd);

/* Chooses what to complete for text, which starts at offset start of line. */
static void complete_mode(const char *line, int start, const char *text)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    cmode = strchr(text, '.') ? C_MEMBERS : C_NAMES;
    if (*p == ':' && start > (int)(p - line)) {
        char cmd[16];
        size_t n = strcspn(p, " \t");
        snprintf(cmd, sizeof cmd, "%.*s", (int)(n < sizeof cmd ? n : sizeof cmd - 1), p);
        if (start >= (int)(p - line + (ptrdiff_t)n) && prefix_of(cmd, ":load")) cmode = C_FILES;
    }
}

static char *complete_gen(const char *text, int state)
{
    static int idx, phase;
    static const char **names;
    static int nnames;
    static size_t dot; /* C_MEMBERS: the module's part of text, with its '.' */
    size_t len = strlen(text);
    if (cmode == C_FILES) return rl_filename_completion_function(text, state);
    if (!state) {
        idx = 0;
        phase = 0;
        free(names);
        names = NULL;
        if (cmode == C_MEMBERS) {
            dot = (size_t)(strrchr(text, '.') - text) + 1;
            char mod[64];
            snprintf(mod, sizeof mod, "%.*s", (int)(dot - 1 < sizeof mod ? dot - 1 : sizeof mod - 1), text);
            nnames = he_vm_members(cli_vm, mod, &names);
            if (nnames < 0) nnames = 0;
        } else nnames = he_vm_names(cli_vm, &names);
    }
    if (cmode == C_MEMBERS) {
        while (idx < nnames) {
            const char *cand = names[idx++];
            if (cand[0] != '_' && strncmp(cand, text + dot, len - dot) == 0) {
                char *r = malloc(dot + strlen(cand) + 1);
                if (!r) return NULL;
                memcpy(r, text, dot);
                strcpy(r + dot, cand);
                return r;
            }
        }
        return NULL;
    }
    for (;;) {
        const char *cand = NULL;
        if (phase == 0) {
            if (keywords[idx]) cand = keywords[idx++];
            else phase = 1, idx = 0;
        } else if (phase == 1) {
            if (idx < nnames) cand = names[idx++];
            else phase = 2, idx = 0;
        } else if (phase == 2) {
            if (commands[idx]) cand = commands[idx++];
            else return NULL;
        }
        if (cand && strncmp(cand, text, len) == 0 && cand[0] != '_') return strdup(cand);
    }
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    complete_mode(rl_line_buffer, start, text);
    rl_completion_append_character = ' ';
    if (cmode == C_FILES) rl_filename_completion_desired = 1;
    char **m = rl_completion_matches(text, complete_gen);
    /* one match: a function waits for its '(' and a module for its '.' */
    if (m && !m[1] && cmode != C_FILES) {
        int k = he_vm_name_kind(cli_vm, m[0]);
        rl_completion_append_character = k == 1 ? '\0' : k == 2 ? '.' : ' ';
    }
    return m;
}

/* Where a word to complete starts: after a blank in a :load line (a file
** name), else after a blank, a bracket or an operator. */
static const char *breaks_for(const char *line)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    char cmd[16];
    size_t n = strcspn(p, " \t");
    snprintf(cmd, sizeof cmd, "%.*s", (int)(n < sizeof cmd ? n : sizeof cmd - 1), p);
    return prefix_of(cmd, ":load") ? " \t\n" : " \t\n\"'`@$><=;|&{([,+-*/%";
}

static char *word_breaks(void) { return (char *)breaks_for(rl_line_buffer); }

/* :complete LINE: what Tab offers at the end of LINE, one per line (the
** completion that the terminal shows, in a form a transcript can test). */
static void complete_cmd(const char *line)
{
    size_t n = strlen(line), start = n;
    const char *br = breaks_for(line);
    while (start > 0 && !strchr(br, line[start - 1])) start--;
    const char *text = line + start;
    complete_mode(line, (int)start, text);
    for (int state = 0;; state++) {
        char *c = complete_gen(text, state);
        if (!c) break;
        int k = cmode == C_FILES ? 0 : he_vm_name_kind(cli_vm, c);
        printf("%s%s\n", c, k == 1 ? "(" : k == 2 ? "." : "");
        free(c);
    }
}

static bool interactive;

/* One line of input with the prompt; NULL at end of input. */
static char *read_line(const char *prompt)
{
    if (interactive) return readline(prompt);
    fputs(prompt, stdout);
    fflush(stdout);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) {
        free(buf);
        fputs("\n", stdout);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = '\0'; /* CRLF input */
    /* echo, so a transcript shows what was typed */
    fputs(buf, stdout);
    fputs("\n", stdout);
    return buf;
}

static const char *const help_text =
    "Type an expression to see its value and type, or a statement to run it.\n"
    "Definitions stay between lines. A line that leaves a block or bracket open\n"
    "continues on the next one (prompt ..>).\n"
    "  :help, :?          this text; :help NAME for a builtin or a module\n"
    "  :type EXPR         the static type of EXPR\n"
    "  :dis EXPR          the bytecode of EXPR (or of a statement)\n"
    "  :load FILE         run FILE here; its definitions stay (those made before\n"
    "                     an error, if it stops with one)\n"
    "  :time EXPR         run EXPR and print how long it took\n"
    "  :plan F, ARGS      print the CKKS plan of F (ARGS: ckks.input(n), plain values, options),\n"
    "                     or its SMPC plan when ARGS name smpc (smpc.input(ctx, shape, ...))\n"
    "  :complete TEXT     what Tab offers at the end of TEXT (a function ends in\n"
    "                     '(', a module in '.')\n"
    "  :quit, Ctrl-D      leave\n"
    "Commands may be shortened (:t, :l, :q). Ctrl-C stops a running computation.\n";

/* :help, :help NAME (a builtin), :help MODULE (its functions), :help MODULE.NAME */
static void help(const char *arg)
{
    if (!*arg) {
        fputs(help_text, stdout);
        fputs("Builtins (:help NAME for one):", stdout);
        int col = 80;
        for (int i = 0; i < nbuiltins; i++) {
            if (builtins[i].module || !builtins[i].help) continue;
            int len = (int)strlen(builtins[i].name) + 1;
            if (col + len > 76) {
                fputs("\n ", stdout);
                col = 1;
            }
            printf(" %s", builtins[i].name);
            col += len;
        }
        fputs("\nModules (import NAME; :help NAME lists its functions):", stdout);
        for (int m = 0; native_modules[m]; m++) printf(" %s", native_modules[m]->name);
        fputs("\n", stdout);
        return;
    }
    const char *dot = strchr(arg, '.');
    size_t mlen = dot ? (size_t)(dot - arg) : strlen(arg);
    bool found = false;
    for (int i = 0; i < nbuiltins; i++) {
        const builtin *b = &builtins[i];
        if (!b->help) continue;
        bool hit;
        if (dot) hit = b->module && strlen(b->module) == mlen && strncmp(b->module, arg, mlen) == 0 &&
                       strcmp(b->name, dot + 1) == 0;
        else hit = b->module ? strcmp(b->module, arg) == 0 : strcmp(b->name, arg) == 0;
        if (!hit) continue;
        if (b->module) printf("  %s.%s\n", b->module, b->help);
        else printf("  %s\n", b->help);
        found = true;
    }
    if (!found) printf("no help for '%s' (:help lists the builtins and modules)\n", arg);
}

static bool prefix_of(const char *word, const char *cmd)
{
    size_t n = strlen(word);
    return n >= 2 && strncmp(word, cmd, n) == 0;
}

/* Runs a meta command; false to quit. */
static bool meta(const char *line)
{
    char cmd[32];
    int i = 0;
    while (line[i] && line[i] != ' ' && line[i] != '\t' && i < 31) {
        cmd[i] = line[i];
        i++;
    }
    cmd[i] = '\0';
    const char *start = line + i;
    while (*start == ' ' || *start == '\t') start++;
    /* without trailing blanks (a file name for :load) */
    char argbuf[4096];
    snprintf(argbuf, sizeof argbuf, "%s", start);
    size_t al = strlen(argbuf);
    while (al > 0 && (argbuf[al - 1] == ' ' || argbuf[al - 1] == '\t' || argbuf[al - 1] == '\r')) argbuf[--al] = '\0';
    const char *arg = argbuf;
    if (strcmp(cmd, ":?") == 0 || prefix_of(cmd, ":help")) {
        help(arg);
    } else if (prefix_of(cmd, ":quit")) {
        return false;
    } else if (prefix_of(cmd, ":type")) {
        struct src_arg a = {arg, arg, 0, 0}; /* it may run code: Ctrl-C stops it */
        run_guarded(type_cb, &a);
    } else if (prefix_of(cmd, ":dis")) {
        struct src_arg a = {"<repl>", arg, strlen(arg), HE_RUN_DUMP | HE_RUN_REPL};
        run_guarded(run_src_cb, &a);
    } else if (prefix_of(cmd, ":load")) {
        if (!*arg) fputs(":load needs a file name\n", stdout);
        else {
            /* its imports are found beside it, as when it runs as a script */
            char dirbuf[PATH_MAX];
            snprintf(dirbuf, sizeof dirbuf, "%s", arg);
            const char *saved = cli_vm->script_dir;
            cli_vm->script_dir = dirname(dirbuf);
            struct src_arg a = {arg, NULL, 0, HE_RUN_KEEP | HE_RUN_TELL};
            run_guarded(run_file_cb, &a);
            cli_vm->script_dir = saved;
        }
    } else if (prefix_of(cmd, ":plan")) {
        /* :plan f, ckks.input(n), ...: the plan of f, printed (smpc.plan when the arguments name smpc) */
        char code[4200];
        const char *mod = strstr(arg, "smpc.") ? "smpc" : "ckks";
        snprintf(code, sizeof code, "import %s\nprint(%s.plan(%s))", mod, mod, arg);
        struct src_arg a = {"<repl>", code, strlen(code), 0};
        run_guarded(run_src_cb, &a);
    } else if (prefix_of(cmd, ":complete") && strlen(cmd) >= 3) {
        complete_cmd(start);
    } else if (prefix_of(cmd, ":time")) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct src_arg a = {"<repl>", arg, strlen(arg), HE_RUN_REPL};
        run_guarded(run_src_cb, &a);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("time: %.3f ms\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
    } else {
        printf("unknown command %s (type :help)\n", cmd);
    }
    fflush(stdout);
    return !terminated();
}

static const char *history_file(void)
{
    static char path[PATH_MAX];
    const char *h = getenv("HE_HISTFILE");
    if (h && *h) return h;
    const char *home = getenv("HOME");
    if (!home) return NULL;
    snprintf(path, sizeof path, "%s/.he_history", home);
    return path;
}

int cli_repl(void)
{
    cli_stopped_by = 0; /* he -i: a script stopped by Ctrl-C, then the REPL */
    interactive = isatty(0) && isatty(1);
    setvbuf(stdout, NULL, _IOLBF, 0); /* errors (stderr) and output interleave in order */
    const char *hist = interactive ? history_file() : NULL;
    if (interactive) {
        rl_readline_name = "he";
        rl_attempted_completion_function = complete;
        rl_completion_word_break_hook = word_breaks;
        using_history();
        stifle_history(1000);
        /* a multi-line entry stays one entry in the history file: each
        ** entry is written after a "#<time>" line, and the lines up to the
        ** next one are read back as one entry */
        history_comment_char = '#';
        history_write_timestamps = 1;
        history_multiline_entries = 1;
        if (hist) read_history(hist);
    }
    printf("he %s -- encrypted computation. Type :help for help.\n", HE_VERSION);
    he_buf input;
    he_buf_init(&input);
    for (;;) {
        char *line = read_line(input.len ? "..> " : "he> ");
        if (!line) break;
        if (input.len == 0) {
            const char *p = line;
            while (*p == ' ' || *p == '\t') p++;
            if (*p == '\0') {
                free(line);
                continue;
            }
            if (*p == ':') {
                if (interactive) add_history(p);
                bool go = meta(p);
                free(line);
                if (!go) break;
                continue;
            }
        }
        he_buf_puts(&input, line);
        he_buf_puts(&input, "\n");
        free(line);
        if (he_source_incomplete(input.data, input.len)) continue;
        if (interactive) {
            /* one history entry per statement */
            char *h = strdup(input.data);
            size_t n = strlen(h);
            if (n && h[n - 1] == '\n') h[n - 1] = '\0';
            add_history(h);
            free(h);
        }
        struct src_arg a = {"<repl>", input.data, input.len, HE_RUN_REPL | HE_RUN_TELL};
        run_guarded(run_src_cb, &a);
        fflush(stdout);
        input.len = 0;
        input.data[0] = '\0';
        if (terminated()) break;
    }
    if (input.len > 0) {
        /* end of input inside an open block or bracket: say so */
        struct src_arg a = {"<repl>", input.data, input.len, HE_RUN_REPL};
        run_guarded(run_src_cb, &a);
        fflush(stdout);
    }
    he_buf_free(&input);
    if (interactive && hist) {
        write_history(hist);
        history_truncate_file(hist, 1000);
        chmod(hist, 0600);
    }
    return 0;
}

