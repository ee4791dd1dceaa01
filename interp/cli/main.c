/*
** main.c: the `he` command: options, running a script, -e, --check, --dump,
** --lua, SMPC party options; the REPL is in repl.c. The only place that exits.
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

#include "cli.h"
#include "smpc/smpc.h"

extern const char *he_stdlib_dir;
/* interp/lua/luarun.c: runs a Lua script with the he module preloaded. */
extern int he_lua_run(const char *script, int argc, char **argv) __attribute__((weak));
void types_free_all(void);
void builtins_free(void);

he_vm *cli_vm;

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
          "  query ADDRESS SERVER_KEY FILE.npy\n"
          "                     classify the rows of FILE.npy with an HE server (import serve),\n"
          "                     encrypted under fresh keys that never leave this process\n"
          "  query CLUSTER_FILE FILE.npy\n"
          "                     the same with an SMPC cluster (import smpc_serve): each row secret-shared\n"
          "  -i                 enter the REPL after running the script or -e CODE\n"
          "  --dump FILE        print the bytecode of every function, with source lines\n"
          "  --check FILE       check FILE and its imports without running any code\n"
          "  --plan             print every ckks.plan and smpc.plan the script makes; stop before\n"
          "                     ckks.keygen or the first smpc.share\n"
          "  --lua FILE.lua     run a Lua 5.4 script with the he module preloaded\n"
          "  --party I|dealer   run as SMPC party I (0..n-1) or as the dealer, over the network\n"
          "  --parties FILE     the party file (host:port and public key of each party)\n"
          "  --key FILE         this party's secret key (default: beside the party file)\n"
          "  --help, --version\n"
          "environment: HE_PATH (module search path), HE_DATA (datasets), HE_HISTFILE (REPL history),\n"
          "  HE_THREADS (threads of the CKKS kernels), TMPDIR (what tmpdir() gives)\n",
          to);
}

/* --- signals: Ctrl-C (SIGINT) or SIGTERM stops the running code; a second one kills ---
** The handler only records the signal in the runtime's interrupt flag; the VM
** and the long kernels poll it and stop through the ordinary error path, which
** flushes the output. */
static void on_signal(int sig)
{
    if (he_interrupt_pending()) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    he_interrupt(sig);
}

int cli_stopped_by;

int run_guarded(int (*fn)(void *), void *arg)
{
    he_interrupt_clear();
    void (*oldint)(int) = signal(SIGINT, on_signal);
    void (*oldterm)(int) = signal(SIGTERM, on_signal);
    int rc = fn(arg);
    signal(SIGINT, oldint);
    signal(SIGTERM, oldterm);
    cli_stopped_by = he_interrupt_pending();
    he_interrupt_clear();
    return rc;
}

bool terminated(void)
{
    if (cli_stopped_by == SIGTERM) return true;
    cli_stopped_by = 0;
    return false;
}

/* --- stderr writes out stdout first: in a log of both streams (2>&1) the
** output and the errors keep their order, while stdout stays block-buffered
** when it is not a terminal --- */
static ssize_t ordered_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    fflush(stdout);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(STDERR_FILENO, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return done ? (ssize_t)done : -1;
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static void ordered_stderr(void)
{
    cookie_io_functions_t io = {.write = ordered_write};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f) return; /* stays the plain stderr */
    setvbuf(f, NULL, _IONBF, 0);
    stderr = f;
}


int run_src_cb(void *p)
{
    struct src_arg *a = p;
    return he_run_source(cli_vm, a->file, a->src, a->len, a->flags);
}

int run_file_cb(void *p)
{
    struct src_arg *a = p;
    return he_run_file(cli_vm, a->file, a->flags);
}

/* he query ADDRESS SERVER_PUBLIC_KEY FILE.npy: a client of the HE service
** (doc/serve.md): the samples are the rows of the file (one sample when it
** is 1-D; further axes are flattened), sent in requests of up to the
** server's slots; prints each sample's outputs and their argmax. */
static const char query_src[] =
    "import ckks\n"
    "import serve\n"
    "if argc() != 3 { error(\"usage: he query ADDRESS SERVER_PUBLIC_KEY FILE.npy\") }\n"
    "let X = load_npy(argv(2))\n"
    "if len(X.shape) == 1 { X = reshape(X, [1, -1]) } else { X = reshape(X, [X.shape[0], -1]) }\n"
    "let c = serve.connect(argv(0), argv(1))\n"
    "let ctx = serve.context(c)\n"
    "let keys = ckks.keygen(ctx, serve.steps(c))\n"
    "let s = serve.open_session(c, keys)\n"
    "let n = len(X)\n"
    "let off = 0\n"
    "while off < n {\n"
    "  let m = min(ckks.slots(ctx), n - off)\n"
    "  let Z = serve.query(s, X[off:off + m].T)\n"
    "  let L = zeros([len(Z), m])\n"
    "  for j in 0..len(Z) { L[j] = ckks.decrypt(keys, ckks.get(Z, j)) }\n"
    "  let P = argmax(L, 0)\n"
    "  for i in 0..m { print(str(off + i) + \": \" + str(P[i]) + \" \" + str(L[:, i])) }\n"
    "  off += m\n"
    "}\n"
    "serve.close(s)\n";

/* he query CLUSTER_FILE FILE.npy: a client of the SMPC service (doc/serve.md,
** "SMPC service"): each sample (a row, as above) shared into the cluster;
** prints its outputs and their argmax. */
static const char smpc_query_src[] =
    "import smpc_serve\n"
    "let X = load_npy(argv(1))\n"
    "if len(X.shape) == 1 { X = reshape(X, [1, -1]) } else { X = reshape(X, [X.shape[0], -1]) }\n"
    "let c = smpc_serve.connect(argv(0))\n"
    "for i in 0..len(X) {\n"
    "  let z = reshape(smpc_serve.query(c, X[i]), [-1])\n"
    "  print(str(i) + \": \" + str(argmax(z)) + \" \" + str(z))\n"
    "}\n";

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

/* --party and --parties go together, and the party must be in the file:
** usage errors (64) before anything runs. A file that cannot be read is
** left to smpc.context, which names the problem. 0 or the exit status. */
static int party_options(void)
{
    bool party = cli_vm->party != HE_PARTY_SIM, file = cli_vm->party_file != NULL;
    if (party && !file) {
        fputs("he: --party needs --parties FILE (the party file)\n", stderr);
        return 64;
    }
    if (file && !party) {
        fputs("he: --parties needs --party I|dealer\n", stderr);
        return 64;
    }
    if (party && cli_vm->plan_only) {
        fputs("he: --plan plans the script in this one process, before any party connects (smpc.plan "
              "needs no parties): leave out --party and --parties\n",
              stderr);
        return 64;
    }
    if (!party || cli_vm->party == HE_PARTY_DEALER) return 0;
    int n = he_smpc_party_file_check(cli_vm->party_file);
    if (n > 0 && cli_vm->party >= n) {
        fprintf(stderr, "he: --party %d, but the party file %s has parties 0..%d\n", cli_vm->party,
                cli_vm->party_file, n - 1);
        return 64;
    }
    he_clearerr();
    return 0;
}

int main(int argc, char **argv)
{
    ordered_stderr();
    cli_vm = he_vm_new();
    if (!cli_vm) {
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
            he_vm_free(cli_vm);
            types_free_all();
    builtins_free();
            return 0;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("he %s\n", HE_VERSION);
            he_vm_free(cli_vm);
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
            he_vm_free(cli_vm);
            types_free_all();
    builtins_free();
            return lrc;
        } else if (strcmp(a, "-e") == 0 && i + 1 < argc) code = argv[++i];
        else if (strcmp(a, "-i") == 0) then_repl = true;
        else if (strcmp(a, "--party") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            char *end;
            long p = strtol(v, &end, 10);
            if (strcmp(v, "dealer") == 0) cli_vm->party = HE_PARTY_DEALER;
            else if (*v && !*end && p >= 0 && p < 64) cli_vm->party = (int)p;
            else {
                fprintf(stderr, "he: --party takes a party number 0..63 or 'dealer', not '%s'\n", v);
                he_vm_free(cli_vm);
                types_free_all();
                builtins_free();
                return 64;
            }
        } else if (strcmp(a, "--parties") == 0 && i + 1 < argc) cli_vm->party_file = argv[++i];
        else if (strcmp(a, "--key") == 0 && i + 1 < argc) cli_vm->party_key = argv[++i];
        else if (strcmp(a, "--dump") == 0 && i + 1 < argc) dump = argv[++i];
        else if (strcmp(a, "--check") == 0 && i + 1 < argc) check = argv[++i];
        else if (strcmp(a, "--plan") == 0) cli_vm->plan_only = true;
        else if (a[0] == '-' && a[1] != '\0') {
            static const char *const with_arg[] = {"-e", "--lua", "--party", "--parties", "--key", "--dump", "--check",
                                                   NULL};
            bool needs = false;
            for (int k = 0; with_arg[k]; k++) needs |= strcmp(a, with_arg[k]) == 0;
            if (needs) fprintf(stderr, "he: %s needs an argument\n", a);
            else fprintf(stderr, "he: unknown option %s\n", a);
            usage(stderr);
            he_vm_free(cli_vm);
            types_free_all();
    builtins_free();
            return 64;
        } else break;
    }
    int urc = party_options();
    if (urc) {
        he_vm_free(cli_vm);
        types_free_all();
        builtins_free();
        return urc;
    }
    int rc = HE_OK;
    char dirbuf[PATH_MAX];
    if (dump || check) {
        const char *f = dump ? dump : check;
        snprintf(dirbuf, sizeof dirbuf, "%s", f);
        cli_vm->script_dir = dirname(dirbuf);
        rc = he_run_file(cli_vm, f, dump ? HE_RUN_DUMP : HE_RUN_CHECK);
    } else if (code) {
        cli_vm->script_dir = ".";
        cli_vm->argc = argc - i;
        cli_vm->argv = argv + i;
        struct src_arg a = {"<-e>", code, strlen(code), 0};
        rc = run_guarded(run_src_cb, &a);
        if (then_repl && cli_stopped_by != SIGTERM) rc = cli_repl();
    } else if (i < argc && strcmp(argv[i], "query") == 0 && access(argv[i], F_OK) != 0) {
        cli_vm->script_dir = ".";
        cli_vm->argc = argc - i - 1;
        cli_vm->argv = argv + i + 1;
        struct src_arg a = {"<he query>", query_src, sizeof query_src - 1, 0};
        /* two arguments, the first a file: a cluster file (the SMPC service) */
        if (cli_vm->argc == 2 && access(cli_vm->argv[0], R_OK) == 0)
            a = (struct src_arg){"<he query>", smpc_query_src, sizeof smpc_query_src - 1, 0};
        rc = run_guarded(run_src_cb, &a);
    } else if (i < argc) {
        const char *f = argv[i];
        cli_vm->argc = argc - i - 1;
        cli_vm->argv = argv + i + 1;
        if (strcmp(f, "-") == 0) {
            cli_vm->script_dir = ".";
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
            cli_vm->script_dir = dirname(dirbuf);
            struct src_arg a = {f, NULL, 0, 0};
            rc = run_guarded(run_file_cb, &a);
        }
        if (then_repl && cli_stopped_by != SIGTERM) rc = cli_repl();
    } else {
        cli_vm->script_dir = ".";
        rc = cli_repl();
    }
    fflush(stdout);
    he_vm_free(cli_vm);
    types_free_all();
    builtins_free();
    /* stopped by Ctrl-C or SIGTERM: 128 + the signal (130, 143), as a shell reports it */
    return cli_stopped_by ? 128 + cli_stopped_by : exit_code(rc);
}
