/*
** main.c: the `he` command and its REPL. The only place that exits.
** Exit status: 0 ok, 1 runtime error, 64 usage, 65 compile error, 74 I/O.
*/
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "interp.h"

extern const char *he_stdlib_dir;
/* interp/luarun.c: runs a Lua script with the he module preloaded. */
extern int he_lua_run(const char *script, int argc, char **argv) __attribute__((weak));
void types_free_all(void);
void builtins_free(void);

static he_vm *the_vm;

static int exit_code(int rc)
{
    switch (rc) {
    case HE_OK: return 0;
    case HE_COMPILE_ERROR: return 65;
    case HE_RUNTIME_ERROR: return 1;
    default: return 74;
    }
}

static void usage(FILE *to)
{
    fputs("usage: he [options] [script.he [args...]]\n"
          "  (no script)        start the interactive REPL\n"
          "  script.he args     run a script; argv(i) gives its arguments\n"
          "  -                  run the script read from standard input\n"
          "  -e CODE            run CODE\n"
          "  -i                 enter the REPL after running the script or -e CODE\n"
          "  --dump FILE        print the bytecode of every function, with source lines\n"
          "  --check FILE       check FILE without running it\n"
          "  --lua FILE.lua     run a Lua 5.4 script with the he module preloaded\n"
          "  --party I|dealer   run as SMPC party I (0..n-1) or as the dealer, over the network\n"
          "  --parties FILE     the party file (host:port and public key of each party)\n"
          "  --key FILE         this party's secret key (default: beside the party file)\n"
          "  --help, --version\n"
          "environment: HE_PATH (module search path), HE_DATA (datasets), HE_HISTFILE (REPL history)\n",
          to);
}

/* --- signals: Ctrl-C stops the running code; a second one kills --- */
static void on_sigint(int sig)
{
    (void)sig;
    if (the_vm->interrupted) {
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    the_vm->interrupted = 1;
}

static int run_guarded(int (*fn)(void *), void *arg)
{
    the_vm->interrupted = 0;
    void (*old)(int) = signal(SIGINT, on_sigint);
    int rc = fn(arg);
    signal(SIGINT, old);
    the_vm->interrupted = 0;
    return rc;
}

struct src_arg {
    const char *file;
    const char *src;
    size_t len;
    int flags;
};

static int run_src_cb(void *p)
{
    struct src_arg *a = p;
    return he_run_source(the_vm, a->file, a->src, a->len, a->flags);
}

static int run_file_cb(void *p)
{
    struct src_arg *a = p;
    return he_run_file(the_vm, a->file, a->flags);
}

/* --- the REPL ------------------------------------------------------------------------ */
static const char *const keywords[] = {"let", "fn", "if", "else", "while", "for", "in", "return", "break",
                                       "continue", "import", "as", "and", "or", "not", "true", "false", "int",
                                       "float", "fixed", "bool", "str", NULL};
static const char *const commands[] = {":help", ":quit", ":type", ":dis", ":load", ":time", ":plan", NULL};

static char *complete_gen(const char *text, int state)
{
    static int idx, phase;
    static const char **names;
    static int nnames;
    size_t len = strlen(text);
    if (!state) {
        idx = 0;
        phase = 0;
        free(names);
        names = NULL;
        nnames = he_vm_names(the_vm, &names);
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
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, complete_gen);
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
    "  :load FILE         run FILE here; its definitions stay\n"
    "  :time EXPR         run EXPR and print how long it took\n"
    "  :plan F, ARGS      print the CKKS plan of F (ARGS: ckks.input(n), plain values, options)\n"
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
        he_buf b;
        he_buf_init(&b);
        if (he_type_of(the_vm, arg, &b) == 0) printf("%s : %s\n", arg, b.data);
        he_buf_free(&b);
    } else if (prefix_of(cmd, ":dis")) {
        struct src_arg a = {"<repl>", arg, strlen(arg), HE_RUN_DUMP | HE_RUN_REPL};
        run_guarded(run_src_cb, &a);
    } else if (prefix_of(cmd, ":load")) {
        if (!*arg) fputs(":load needs a file name\n", stdout);
        else {
            /* its imports are found beside it, as when it runs as a script */
            char dirbuf[PATH_MAX];
            snprintf(dirbuf, sizeof dirbuf, "%s", arg);
            const char *saved = the_vm->script_dir;
            the_vm->script_dir = dirname(dirbuf);
            struct src_arg a = {arg, NULL, 0, 0};
            run_guarded(run_file_cb, &a);
            the_vm->script_dir = saved;
        }
    } else if (prefix_of(cmd, ":plan")) {
        /* :plan f, ckks.input(n), ...: the plan of f, printed */
        char code[4200];
        snprintf(code, sizeof code, "import ckks\nprint(ckks.plan(%s))", arg);
        struct src_arg a = {"<repl>", code, strlen(code), 0};
        run_guarded(run_src_cb, &a);
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
    return true;
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

static int repl(void)
{
    interactive = isatty(0) && isatty(1);
    setvbuf(stdout, NULL, _IOLBF, 0); /* errors (stderr) and output interleave in order */
    const char *hist = interactive ? history_file() : NULL;
    if (interactive) {
        rl_readline_name = "he";
        rl_attempted_completion_function = complete;
        using_history();
        stifle_history(1000);
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
        struct src_arg a = {"<repl>", input.data, input.len, HE_RUN_REPL};
        run_guarded(run_src_cb, &a);
        fflush(stdout);
        input.len = 0;
        input.data[0] = '\0';
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

/* --- finding the standard library -------------------------------------------------------- */
static void find_stdlib(void)
{
    static char dir[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *d = dirname(exe);
    const char *tries[] = {"%s/../stdlib", "%s/../../stdlib", "%s/../share/he/stdlib"};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, tries[i], d);
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            he_stdlib_dir = dir;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    the_vm = he_vm_new();
    if (!the_vm) {
        fprintf(stderr, "he: cannot start: %s\n", he_errmsg());
        return 70;
    }
    find_stdlib();
    const char *code = NULL, *dump = NULL, *check = NULL;
    bool then_repl = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            he_vm_free(the_vm);
            types_free_all();
    builtins_free();
            return 0;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("he %s\n", HE_VERSION);
            he_vm_free(the_vm);
            types_free_all();
    builtins_free();
            return 0;
        } else if (strcmp(a, "--lua") == 0 && i + 1 < argc) {
            int lrc;
            struct stat st;
            if (strcmp(argv[i + 1], "-") != 0 && stat(argv[i + 1], &st) != 0) {
                fprintf(stderr, "he: cannot open %s: %s\n", argv[i + 1], strerror(errno));
                lrc = 74;
            } else if (!he_lua_run) {
                fprintf(stderr, "he: built without the Lua module\n");
                lrc = 64;
            } else lrc = he_lua_run(argv[i + 1], argc - i - 2, argv + i + 2);
            he_vm_free(the_vm);
            types_free_all();
    builtins_free();
            return lrc;
        } else if (strcmp(a, "-e") == 0 && i + 1 < argc) code = argv[++i];
        else if (strcmp(a, "-i") == 0) then_repl = true;
        else if (strcmp(a, "--party") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            char *end;
            long p = strtol(v, &end, 10);
            if (strcmp(v, "dealer") == 0) the_vm->party = HE_PARTY_DEALER;
            else if (*v && !*end && p >= 0 && p < 64) the_vm->party = (int)p;
            else {
                fprintf(stderr, "he: --party takes a party number 0..63 or 'dealer', not '%s'\n", v);
                he_vm_free(the_vm);
                types_free_all();
                builtins_free();
                return 64;
            }
        } else if (strcmp(a, "--parties") == 0 && i + 1 < argc) the_vm->party_file = argv[++i];
        else if (strcmp(a, "--key") == 0 && i + 1 < argc) the_vm->party_key = argv[++i];
        else if (strcmp(a, "--dump") == 0 && i + 1 < argc) dump = argv[++i];
        else if (strcmp(a, "--check") == 0 && i + 1 < argc) check = argv[++i];
        else if (strcmp(a, "--plan") == 0) the_vm->plan_only = true;
        else if (a[0] == '-' && a[1] != '\0') {
            static const char *const with_arg[] = {"-e", "--lua", "--party", "--parties", "--key", "--dump", "--check",
                                                   NULL};
            bool needs = false;
            for (int k = 0; with_arg[k]; k++) needs |= strcmp(a, with_arg[k]) == 0;
            if (needs) fprintf(stderr, "he: %s needs an argument\n", a);
            else fprintf(stderr, "he: unknown option %s\n", a);
            usage(stderr);
            he_vm_free(the_vm);
            types_free_all();
    builtins_free();
            return 64;
        } else break;
    }
    int rc = HE_OK;
    char dirbuf[PATH_MAX];
    if (dump || check) {
        const char *f = dump ? dump : check;
        snprintf(dirbuf, sizeof dirbuf, "%s", f);
        the_vm->script_dir = dirname(dirbuf);
        rc = he_run_file(the_vm, f, dump ? HE_RUN_DUMP : HE_RUN_CHECK);
    } else if (code) {
        the_vm->script_dir = ".";
        the_vm->argc = argc - i;
        the_vm->argv = argv + i;
        struct src_arg a = {"<-e>", code, strlen(code), 0};
        rc = run_guarded(run_src_cb, &a);
        if (then_repl) rc = repl();
    } else if (i < argc) {
        const char *f = argv[i];
        the_vm->argc = argc - i - 1;
        the_vm->argv = argv + i + 1;
        if (strcmp(f, "-") == 0) {
            the_vm->script_dir = ".";
            he_buf b;
            he_buf_init(&b);
            char chunk[4096];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) he_buf_add(&b, chunk, n);
            struct src_arg a = {"<stdin>", b.data ? b.data : "", b.len, 0};
            rc = run_guarded(run_src_cb, &a);
            he_buf_free(&b);
        } else {
            snprintf(dirbuf, sizeof dirbuf, "%s", f);
            the_vm->script_dir = dirname(dirbuf);
            struct src_arg a = {f, NULL, 0, 0};
            rc = run_guarded(run_file_cb, &a);
        }
        if (then_repl) rc = repl();
    } else {
        the_vm->script_dir = ".";
        rc = repl();
    }
    fflush(stdout);
    he_vm_free(the_vm);
    types_free_all();
    builtins_free();
    return exit_code(rc);
}
