/*
** test_smpc_net.c: the parties as separate processes on 127.0.0.1 (fork,
** random free ports), ZeroMQ with CURVE: correct results against plaintext,
** a bad party file and key file, an unknown key refused, and a killed party
** making the others fail with an error within the timeout.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "he.h"
#include "smpc/smpc.h"

/* how the children end */
#define EXIT(c) exit(c) /* exit, not _exit: the sanitizer checks the child for leaks too */

static char dir[64];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0) close(s);
    return port;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Keys for parties 0..n-1 and the dealer (index n) in dir/key-I, and a
** party file dir/NAME listing them (with pubs[] overrides when given). */
static char pubs[8][HE_SMPC_KEY_Z85 + 1];
static int setup(int n, const char *name)
{
    char path[256];
    for (int i = 0; i <= n; i++) {
        snprintf(path, sizeof path, "%s/key-%d", dir, i);
        unlink(path);
        if (he_smpc_keygen(path, pubs[i]) < 0) {
            printf("# keygen: %s\n", he_errmsg());
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# test parties\n");
    for (int i = 0; i < n; i++) fprintf(f, "%d 127.0.0.1:%d %s\n", i, free_port(), pubs[i]);
    fprintf(f, "dealer 127.0.0.1:%d %s\n", free_port(), pubs[n]);
    fclose(f);
    return 0;
}

static void cfg_for(he_smpc_config *c, const char *pf, int me, int timeout)
{
    static char pfp[256], kp[256];
    he_smpc_config_init(c);
    snprintf(pfp, sizeof pfp, "%s/%s", dir, pf);
    snprintf(kp, sizeof kp, "%s/key-%d", dir, me);
    c->mode = HE_SMPC_NET;
    c->party_file = pfp;
    c->secret_key_file = kp;
    c->me = me;
    c->timeout_ms = timeout;
}

static int run_dealer(const char *pf, int n, int timeout)
{
    he_smpc_config c;
    cfg_for(&c, pf, n, timeout);
    if (he_smpc_dealer_serve(&c) < 0) {
        printf("# dealer: %s\n", he_errmsg());
        return 1;
    }
    return 0;
}

/* The computation every party runs: inputs from a fixed seed (only the
** owners' processes use them; me < 0: simulated, all parties here),
** products, comparisons, reveals. 0 when every result is right. */
static int compute(he_smpc_ctx *ctx, int me, int n)
{
    he_prng g;
    he_prng_seed(&g, 11);
    enum { M = 6, K = 9, P = 4 };
    double a[M * K], b[K * P], o[M * K];
    for (int i = 0; i < M * K; i++) a[i] = ldexp(round(ldexp(he_prng_uniform(&g) * 8 - 4, 16)), -16);
    for (int i = 0; i < K * P; i++) b[i] = ldexp(round(ldexp(he_prng_uniform(&g) * 8 - 4, 16)), -16);
    int bad = 0;
    bool sim = me < 0, last = sim || me == n - 1;
    he_share *x = he_share_new(ctx, 0, NULL, 0), *y = he_share_new(ctx, 0, NULL, 0), *z = he_share_new(ctx, 0, NULL, 0);
    if (he_smpc_share_double(ctx, x, 0, sim || me == 0 ? a : NULL, 2, (int64_t[]){M, K}) < 0 ||
        he_smpc_share_double(ctx, y, n - 1, last ? b : NULL, 2, (int64_t[]){K, P}) < 0 ||
        he_smpc_matmul(ctx, z, x, y) < 0 || he_smpc_reveal_double(ctx, z, HE_SMPC_ALL, o) < 0)
        goto fail;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < P; j++) {
            double e = 0;
            for (int k = 0; k < K; k++) e += a[i * K + k] * b[k * P + j];
            if (fabs(o[i * P + j] - e) > 0x1p-16) bad++;
        }
    /* relu and argmax, the result revealed to the last party only */
    if (he_smpc_relu(ctx, z, x) < 0 || he_smpc_reveal_double(ctx, z, (uint64_t)1 << (n - 1), o) < 0) goto fail;
    if (last)
        for (int i = 0; i < M * K; i++) bad += o[i] != (a[i] > 0 ? a[i] : 0);
    int64_t idx[M];
    if (he_smpc_argmax(ctx, z, x) < 0 || he_smpc_reveal_int(ctx, z, HE_SMPC_ALL, idx) < 0) goto fail;
    for (int i = 0; i < M; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (a[i * K + k] > a[i * K + best]) best = k;
        bad += idx[i] != best;
    }
    he_smpc_stats st;
    he_smpc_stats_get(ctx, &st);
    if (st.bytes_sent[sim ? 0 : me] == 0 || st.rounds < 10) bad++;
    if (bad) printf("# party %d: %d wrong results\n", me, bad);
    he_share_free(x);
    he_share_free(y);
    he_share_free(z);
    return bad ? 1 : 0;
fail:
    printf("# party %d: %s\n", me, he_errmsg());
    he_share_free(x);
    he_share_free(y);
    he_share_free(z);
    return 1;
}

static int run_party(const char *pf, int me, int n, const char *matdir)
{
    he_smpc_config c;
    cfg_for(&c, pf, me, 5000);
    c.material_dir = matdir;
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) {
        printf("# party %d: %s\n", me, he_errmsg());
        return 1;
    }
    int rc = compute(ctx, me, n);
    he_smpc_free(ctx);
    return rc;
}

/* Waits for the children (kills them after `limit` s); returns exit codes. */
static void wait_all(pid_t *pids, int k, int *codes, double limit)
{
    double t0 = now_s();
    for (int i = 0; i < k; i++) codes[i] = -1;
    int left = k;
    while (left > 0) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0) {
            for (int i = 0; i < k; i++)
                if (pids[i] == p) {
                    codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                    left--;
                }
            continue;
        }
        if (now_s() - t0 > limit) {
            for (int i = 0; i < k; i++)
                if (codes[i] == -1) {
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], NULL, 0);
                    codes[i] = 999;
                    left--;
                }
            break;
        }
        usleep(5000);
    }
}

static void test_net_compute(void)
{
    for (int n = 2; n <= 3; n++) {
        if (setup(n, "parties") < 0) {
            CHECK(0, "setup");
            return;
        }
        pid_t pids[4];
        fflush(stdout);
        for (int i = 0; i <= n; i++) {
            pids[i] = fork();
            if (pids[i] == 0) EXIT(i == n ? run_dealer("parties", n, 5000) : run_party("parties", i, n, NULL));
        }
        int codes[4];
        wait_all(pids, n + 1, codes, 30);
        for (int i = 0; i <= n; i++) CHECK(codes[i] == 0, "n=%d: node %d exited with %d", n, i, codes[i]);
    }
}

/* Z_p (the textbook's Q = 501337) with 3 parties and a dealer as processes. */
static int run_zp(const char *pf, int me, int n)
{
    he_smpc_config c;
    cfg_for(&c, pf, me, 5000);
    c.ring = HE_SMPC_ZP;
    c.prime = "501337";
    c.frac = 0;
    if (me == n) {
        if (he_smpc_dealer_serve(&c) < 0) {
            printf("# zp dealer: %s\n", he_errmsg());
            return 1;
        }
        return 0;
    }
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) {
        printf("# zp party %d: %s\n", me, he_errmsg());
        return 1;
    }
    int64_t v[3] = {2, 5, -9}, w[4] = {3, -4, 10, 7}, o[4];
    int bad = 0;
    he_share *x = he_share_new(ctx, 0, NULL, 0), *y = he_share_new(ctx, 0, NULL, 0), *z = he_share_new(ctx, 0, NULL, 0);
    /* each party inputs one value; their sum and products */
    he_share *in[3];
    for (int i = 0; i < 3; i++) {
        in[i] = he_share_new(ctx, 0, NULL, 0);
        if (he_smpc_share_int(ctx, in[i], i, me == i ? &v[i] : NULL, 1, (int64_t[]){1}, 0) < 0) bad++;
    }
    if (!bad && (he_smpc_add(ctx, x, in[0], in[1]) < 0 || he_smpc_add(ctx, x, x, in[2]) < 0 ||
                 he_smpc_reveal_int(ctx, x, HE_SMPC_ALL, o) < 0))
        bad++;
    else if (o[0] != 2 + 5 - 9)
        bad++;
    if (!bad && (he_smpc_mul(ctx, y, in[0], in[2]) < 0 || he_smpc_reveal_int(ctx, y, 1u << 1, o) < 0)) bad++;
    if (!bad && me == 1 && o[0] != -18) bad++;
    /* a 2x2 integer matrix product */
    if (!bad && (he_smpc_share_int(ctx, x, 0, me == 0 ? w : NULL, 2, (int64_t[]){2, 2}, 0) < 0 ||
                 he_smpc_matmul(ctx, z, x, x) < 0 || he_smpc_reveal_int(ctx, z, HE_SMPC_ALL, o) < 0))
        bad++;
    if (!bad && (o[0] != 3 * 3 - 4 * 10 || o[1] != 3 * -4 - 4 * 7 || o[2] != 10 * 3 + 7 * 10 || o[3] != 10 * -4 + 49))
        bad++;
    if (bad) printf("# zp party %d: %s\n", me, he_errmsg());
    for (int i = 0; i < 3; i++) he_share_free(in[i]);
    he_share_free(x);
    he_share_free(y);
    he_share_free(z);
    he_smpc_free(ctx);
    return bad ? 1 : 0;
}

static void test_net_zp(void)
{
    if (setup(3, "parties") < 0) return;
    pid_t pids[4];
    fflush(stdout);
    for (int i = 0; i <= 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) EXIT(run_zp("parties", i, 3));
    }
    int codes[4];
    wait_all(pids, 4, codes, 30);
    for (int i = 0; i <= 3; i++) CHECK(codes[i] == 0, "node %d exited with %d", i, codes[i]);
}

/* The offline phase: a simulated dry run records the requests, the dealer's
** material is written into files, then the parties run without a dealer. */
static void test_net_offline(void)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 2;
    c.record_plan = true;
    he_smpc_ctx *ctx = he_smpc_new(&c);
    CHECK(ctx && compute(ctx, -1, 2) == 0, "dry run");
    char mat[128];
    snprintf(mat, sizeof mat, "%s/mat", dir);
    mkdir(mat, 0700);
    CHECK(he_smpc_offline_write(ctx, mat) == 0, "offline: %s", he_errmsg());
    he_smpc_free(ctx);
    /* a party file without a dealer */
    if (setup(2, "parties") < 0) return;
    char p1[256], p2[256], line[512];
    snprintf(p1, sizeof p1, "%s/parties", dir);
    snprintf(p2, sizeof p2, "%s/parties-nodealer", dir);
    FILE *in = fopen(p1, "r"), *out = fopen(p2, "w");
    while (fgets(line, sizeof line, in))
        if (strncmp(line, "dealer", 6) != 0) fputs(line, out);
    fclose(in);
    fclose(out);
    pid_t pids[2];
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) EXIT(run_party("parties-nodealer", i, 2, mat));
    }
    int codes[2];
    wait_all(pids, 2, codes, 30);
    for (int i = 0; i < 2; i++) CHECK(codes[i] == 0, "party %d exited with %d", i, codes[i]);
    /* a second run with the same folder: each party refuses its used file
    ** (the masks would repeat: party 0 would learn the difference of party
    ** 1's inputs of the two runs) */
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] != 0) continue;
        he_smpc_config c2;
        cfg_for(&c2, "parties-nodealer", i, 2000);
        c2.material_dir = mat;
        he_smpc_ctx *again = he_smpc_new(&c2);
        if (again) {
            he_smpc_free(again);
            EXIT(1);
        }
        printf("# party %d (expected refusal): %s\n", i, he_errmsg());
        char want[64];
        snprintf(want, sizeof want, "party-%d.mat was already used by another run", i);
        EXIT(strstr(he_errmsg(), want) ? 0 : 2);
    }
    wait_all(pids, 2, codes, 30);
    for (int i = 0; i < 2; i++) CHECK(codes[i] == 0, "second run, party %d: %d", i, codes[i]);
}

static void test_bad_files(void)
{
    char path[256], key[256];
    snprintf(path, sizeof path, "%s/bad", dir);
    snprintf(key, sizeof key, "%s/key-bad", dir);
    const char *cases[][2] = {
        {"0 127.0.0.1:5000 %s\n", "at least 2"},
        {"0 127.0.0.1:5000 %s\n2 127.0.0.1:5001 %s\n", "missing"},
        {"0 127.0.0.1:5000 %s\n1 127.0.0.1 %s\n", "HOST:PORT"},
        {"0 127.0.0.1:5000 %s\n1 127.0.0.1:5001 notakey\n", "Z85"},
        {"0 127.0.0.1:5000 %s\n0 127.0.0.1:5001 %s\n", "twice"},
        {"0 127.0.0.1:5000 %s\nzz 127.0.0.1:5001 %s\n", "party index"},
    };
    setup(2, "parties");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        fprintf(f, cases[i][0], pubs[0], pubs[1]);
        fclose(f);
        CHECK(he_smpc_party_file_check(path) < 0 && strstr(he_errmsg(), cases[i][1]), "case %zu: %s", i, he_errmsg());
    }
    CHECK(he_smpc_party_file_check("/nonexistent/parties") < 0, "missing file accepted");
    /* key files: 0600 on creation, refused when readable by others, and a
    ** second keygen does not overwrite */
    struct stat st;
    char pub[HE_SMPC_KEY_Z85 + 1];
    snprintf(key, sizeof key, "%s/key-0", dir);
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "key mode %o", (unsigned)(st.st_mode & 0777));
    CHECK(he_smpc_keygen(key, pub) < 0, "keygen overwrote a key");
    chmod(key, 0644);
    he_smpc_config c;
    cfg_for(&c, "parties", 0, 500);
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "readable by others"), "0644 key accepted: %s", he_errmsg());
    chmod(key, 0600);
    /* a key that is not this party's */
    c.me = 1;
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "not the key"), "wrong key accepted: %s", he_errmsg());
    FILE *f = fopen(key, "r+");
    fputs("garbage", f);
    fclose(f);
    c.me = 0;
    CHECK(!he_smpc_new(&c) && strstr(he_errmsg(), "not an he secret key"), "damaged key accepted: %s", he_errmsg());
}

/* Party 1 holds a key that party 0's file does not list: party 0 refuses
** the connection and stops with an error within its timeout. */
static void test_unknown_key(void)
{
    setup(2, "parties");
    /* party 1's own view: a file listing its new key */
    char path[256], k1[256];
    snprintf(k1, sizeof k1, "%s/key-1", dir);
    unlink(k1);
    char newpub[HE_SMPC_KEY_Z85 + 1];
    if (he_smpc_keygen(k1, newpub) < 0) {
        CHECK(0, "keygen");
        return;
    }
    char src[256];
    snprintf(src, sizeof src, "%s/parties", dir);
    snprintf(path, sizeof path, "%s/parties-intruder", dir);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    char line[512];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "1 ", 2) == 0) {
            char addr[128];
            sscanf(line, "1 %127s", addr);
            fprintf(out, "1 %s %s\n", addr, newpub);
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    const int timeout = 1500;
    pid_t pids[2];
    fflush(stdout);
    pids[0] = fork();
    if (pids[0] == 0) {
        he_smpc_config c;
        cfg_for(&c, "parties", 0, timeout);
        double t0 = now_s();
        he_smpc_ctx *ctx = he_smpc_new(&c);
        double dt = now_s() - t0;
        if (ctx) EXIT(1);
        printf("# party 0 (expected failure after %.2f s): %s\n", dt, he_errmsg());
        EXIT(strstr(he_errmsg(), "refused") && dt < timeout / 1000.0 + 2 ? 0 : 2);
    }
    pids[1] = fork();
    if (pids[1] == 0) {
        he_smpc_config c;
        cfg_for(&c, "parties-intruder", 1, timeout);
        he_smpc_ctx *ctx = he_smpc_new(&c);
        EXIT(ctx ? 1 : 0);
    }
    int codes[2];
    wait_all(pids, 2, codes, 15);
    CHECK(codes[0] == 0, "party 0 did not refuse the unknown key cleanly (%d)", codes[0]);
    CHECK(codes[1] == 0, "the intruder got through (%d)", codes[1]);
}

/* Party 1 gives up with he_smpc_abort: party 0 stops at once with its reason. */
static void test_abort(void)
{
    setup(2, "parties");
    pid_t pids[3];
    fflush(stdout);
    pids[2] = fork();
    if (pids[2] == 0) EXIT(run_dealer("parties", 2, 5000) == 1 ? 0 : 3);
    for (int me = 0; me < 2; me++) {
        pids[me] = fork();
        if (pids[me] != 0) continue;
        he_smpc_config c;
        cfg_for(&c, "parties", me, 5000);
        he_smpc_ctx *ctx = he_smpc_new(&c);
        if (!ctx) {
            /* party 1 may abort while party 0 is still starting: then
            ** party 0's start-up stops with the same reason */
            printf("# party %d (start-up failed): %s\n", me, he_errmsg());
            EXIT(me == 0 && strstr(he_errmsg(), "input file missing") ? 0 : 4);
        }
        if (me == 1) {
            he_smpc_abort(ctx, "input file missing");
            he_smpc_free(ctx);
            EXIT(0);
        }
        he_share *x = he_share_new(ctx, 0, NULL, 0);
        double t0 = now_s();
        int rc = he_smpc_share_double(ctx, x, 1, NULL, 1, (int64_t[]){4});
        double dt = now_s() - t0;
        printf("# party 0 (expected failure after %.2f s): %s\n", dt, rc < 0 ? he_errmsg() : "none");
        int ok = rc < 0 && dt < 2.5 && strstr(he_errmsg(), "input file missing");
        he_share_free(x);
        he_smpc_free(ctx);
        EXIT(ok ? 0 : 7);
    }
    int codes[3];
    wait_all(pids, 3, codes, 20);
    CHECK(codes[0] == 0, "party 0: %d", codes[0]);
    CHECK(codes[1] == 0, "party 1: %d", codes[1]);
    CHECK(codes[2] == 0, "dealer: %d", codes[2]);
}

/* Party 1 is killed in the middle: party 0 and the dealer stop with an
** error within the timeout, never hang. */
static void test_killed_party(void)
{
    setup(2, "parties");
    const int timeout = 1000;
    int fds[2];
    if (pipe(fds) < 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t pids[3];
    fflush(stdout);
    pids[2] = fork();
    if (pids[2] == 0) EXIT(run_dealer("parties", 2, timeout) == 1 ? 0 : 3);
    for (int me = 0; me < 2; me++) {
        pids[me] = fork();
        if (pids[me] != 0) continue;
        he_smpc_config c;
        cfg_for(&c, "parties", me, timeout);
        he_smpc_ctx *ctx = he_smpc_new(&c);
        if (!ctx) EXIT(4);
        /* one revealed value first, so that both are surely past the set-up */
        int64_t one = 1, got = 0;
        he_share *s1 = he_share_new(ctx, 0, NULL, 0);
        if (he_smpc_share_int(ctx, s1, 0, &one, 1, (int64_t[]){1}, 0) < 0 ||
            he_smpc_reveal_int(ctx, s1, HE_SMPC_ALL, &got) < 0 || got != 1)
            EXIT(8);
        he_share_free(s1);
        if (me == 1) {
            usleep(100000); /* let the last message leave */
            char b = 1;
            if (write(fds[1], &b, 1) != 1) EXIT(5);
            pause(); /* until killed */
            EXIT(6);
        }
        double a[100];
        for (int i = 0; i < 100; i++) a[i] = i - 50;
        he_share *x = he_share_new(ctx, 0, NULL, 0);
        usleep(300000); /* party 1 is killed meanwhile */
        double t0 = now_s();
        int rc = he_smpc_share_double(ctx, x, 0, a, 1, (int64_t[]){100});
        if (rc == 0) rc = he_smpc_relu(ctx, x, x);
        double dt = now_s() - t0;
        printf("# party 0 (expected failure after %.2f s): %s\n", dt, rc < 0 ? he_errmsg() : "none");
        int ok = rc < 0 && dt < timeout / 1000.0 + 1.5 && strstr(he_errmsg(), "party 1");
        he_share_free(x);
        he_smpc_free(ctx);
        EXIT(ok ? 0 : 7);
    }
    char b;
    if (read(fds[0], &b, 1) == 1) kill(pids[1], SIGKILL);
    int codes[3];
    wait_all(pids, 3, codes, 20);
    CHECK(codes[0] == 0, "party 0: %d", codes[0]);
    CHECK(codes[1] == 128 + SIGKILL, "party 1: %d", codes[1]);
    CHECK(codes[2] == 0, "dealer did not stop with an error: %d", codes[2]);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    if (he_init() < 0) return 1;
    if (!check_tmpdir(dir, sizeof dir, "he_smpc_net")) return 1;
    RUN(test_net_compute);
    RUN(test_net_zp);
    RUN(test_net_offline);
    RUN(test_bad_files);
    RUN(test_unknown_key);
    RUN(test_abort);
    RUN(test_killed_party);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return 0;
}
