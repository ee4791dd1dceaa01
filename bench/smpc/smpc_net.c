/*
** smpc_net.c: SMPC benchmarks with the parties as separate processes on
** loopback: 2 computing parties + the dealer, ZeroMQ with CURVE; then the
** same under rep3 (3 parties, replicated sharing, no dealer: smpc.rep3.*).
**   smpc.matmul100  100x100 @ 100x100 fixed-point product (with truncation)
**   smpc.relu10k    ReLU of 10,000 shared values
**   smpc.conv16     3x3 convolution, 16 output channels, one 28x28 image
** Time: each operation from a common start (a barrier before it), measured
** by party 0; the fastest of the repetitions (the median as a comment
** beside it: the machine is shared). The dealer streams its material live
** and that is included. MB: bytes sent by one computing party
** (payload + headers), 10^6 bytes.
** Reference (same 2-core machine): MP-SPDZ 0.4.2, dealer protocol, 2
** parties + dealer, loopback: 100x100 matmul 12.5 ms, 0.24 MB per party.
*/
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "he.h"
#include "smpc/smpc.h"

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

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static he_smpc_protocol proto; /* of the session being run */

static void cfg_for(he_smpc_config *c, int me, he_smpc_trunc tr)
{
    static char pf[128], kp[128];
    he_smpc_config_init(c);
    snprintf(pf, sizeof pf, "%s/parties", dir);
    snprintf(kp, sizeof kp, "%s/key-%d", dir, me);
    c->mode = HE_SMPC_NET;
    c->party_file = pf;
    c->secret_key_file = kp;
    c->me = me;
    c->trunc = tr;
    c->protocol = proto;
    c->timeout_ms = 30000;
}

typedef struct result {
    double ms, median, mb;
    unsigned long long rounds;
} result;

enum { OP_MATMUL, OP_RELU, OP_CONV, NOPS };

/* what each party sends back through the pipe (one write, atomic) */
typedef struct report {
    int me;
    result res[NOPS];
} report;

static int run_op(he_smpc_ctx *ctx, int op, he_share **in, he_share *out)
{
    switch (op) {
    case OP_MATMUL: return he_smpc_matmul(ctx, out, in[0], in[1]);
    case OP_RELU: return he_smpc_relu(ctx, out, in[2]);
    default: return he_smpc_conv2d(ctx, out, in[3], in[4], 1, 0);
    }
}

static int party(int me, he_smpc_trunc tr, int wfd)
{
    he_smpc_config c;
    cfg_for(&c, me, tr);
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) {
        fprintf(stderr, "bench party %d: %s\n", me, he_errmsg());
        return 1;
    }
    he_prng g;
    he_prng_seed(&g, 3);
    static double A[10000], B[10000], X[10000], IMG[784], Wt[144];
    for (int i = 0; i < 10000; i++) A[i] = he_prng_uniform(&g) * 2 - 1, B[i] = he_prng_uniform(&g) * 2 - 1,
                                     X[i] = he_prng_uniform(&g) * 20 - 10;
    for (int i = 0; i < 784; i++) IMG[i] = he_prng_uniform(&g);
    for (int i = 0; i < 144; i++) Wt[i] = he_prng_uniform(&g) - 0.5;
    he_share *in[5], *out = he_share_new(ctx, 0, NULL, 0), *one = he_share_new(ctx, 1, (int64_t[]){1}, 0);
    int64_t junk;
    for (int i = 0; i < 5; i++) in[i] = he_share_new(ctx, 0, NULL, 0);
    int rc = 1;
    if (he_smpc_share_double(ctx, in[0], 0, me == 0 ? A : NULL, 2, (int64_t[]){100, 100}) < 0 ||
        he_smpc_share_double(ctx, in[1], 1, me == 1 ? B : NULL, 2, (int64_t[]){100, 100}) < 0 ||
        he_smpc_share_double(ctx, in[2], 0, me == 0 ? X : NULL, 1, (int64_t[]){10000}) < 0 ||
        he_smpc_share_double(ctx, in[3], 0, me == 0 ? IMG : NULL, 3, (int64_t[]){1, 28, 28}) < 0 ||
        he_smpc_share_double(ctx, in[4], 1, me == 1 ? Wt : NULL, 4, (int64_t[]){16, 1, 3, 3}) < 0)
        goto out;
    const int reps[NOPS] = {41, 15, 41};
    report rep = {.me = me};
    result *res = rep.res;
    for (int op = 0; op < NOPS; op++) {
        double t[64];
        he_smpc_stats s0, s1;
        if (run_op(ctx, op, in, out) < 0) goto out; /* warm-up */
        he_smpc_stats_get(ctx, &s0);
        for (int r = 0; r < reps[op]; r++) {
            /* a barrier (one revealed value, not counted) so that each
            ** operation is timed from a common start, not overlapped with
            ** the previous one */
            he_smpc_stats b0, b1;
            he_smpc_stats_get(ctx, &b0);
            if (he_smpc_reveal_int(ctx, one, HE_SMPC_ALL, &junk) < 0) goto out;
            he_smpc_stats_get(ctx, &b1);
            s0.rounds += b1.rounds - b0.rounds;
            s0.bytes_sent[me] += b1.bytes_sent[me] - b0.bytes_sent[me];
            double t0 = now_ms();
            if (run_op(ctx, op, in, out) < 0) goto out;
            t[r] = now_ms() - t0;
        }
        he_smpc_stats_get(ctx, &s1);
        qsort(t, (size_t)reps[op], sizeof t[0], cmpd);
        res[op].ms = t[0];
        res[op].median = t[reps[op] / 2];
        res[op].mb = (double)(s1.bytes_sent[me] - s0.bytes_sent[me]) / reps[op] / 1e6;
        res[op].rounds = (s1.rounds - s0.rounds) / (unsigned long long)reps[op];
    }
    /* a check that the numbers are of a right computation */
    double o[10000];
    if (he_smpc_matmul(ctx, out, in[0], in[1]) < 0 || he_smpc_reveal_double(ctx, out, HE_SMPC_ALL, o) < 0) goto out;
    double e = 0;
    for (int k = 0; k < 100; k++) e += A[k] * B[k * 100];
    if (fabs(o[0] - e) > 1e-3) {
        fprintf(stderr, "bench: wrong matmul result %g vs %g\n", o[0], e);
        goto out;
    }
    if (write(wfd, &rep, sizeof rep) != (ssize_t)sizeof rep) goto out;
    rc = 0;
out:
    if (rc) fprintf(stderr, "bench party %d: %s\n", me, he_errmsg());
    for (int i = 0; i < 5; i++) he_share_free(in[i]);
    he_share_free(out);
    he_share_free(one);
    he_smpc_free(ctx);
    return rc;
}

/* One session of protocol p: the computing parties (2 + the dealer, or 3
** under rep3) as processes; res[i] is party i's report. */
static int session(he_smpc_protocol p, he_smpc_trunc tr, result res[][NOPS])
{
    char path[128];
    char pub[3][HE_SMPC_KEY_Z85 + 1];
    proto = p;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/key-%d", dir, i);
        unlink(path);
        if (he_smpc_keygen(path, pub[i]) < 0) return -1;
    }
    snprintf(path, sizeof path, "%s/parties", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "0 127.0.0.1:%d %s\n1 127.0.0.1:%d %s\n%s 127.0.0.1:%d %s\n", free_port(), pub[0], free_port(),
            pub[1], p == HE_SMPC_REP3 ? "2" : "dealer", free_port(), pub[2]);
    fclose(f);
    int nparties = p == HE_SMPC_REP3 ? 3 : 2;
    int fds[2];
    if (pipe(fds) < 0) return -1;
    pid_t pids[3];
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int rc;
            if (i == nparties) {
                he_smpc_config c;
                cfg_for(&c, 2, tr);
                rc = he_smpc_dealer_serve(&c) < 0;
                if (rc) fprintf(stderr, "bench dealer: %s\n", he_errmsg());
            } else {
                rc = party(i, tr, fds[1]);
            }
            _exit(rc);
        }
    }
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ok = 0;
    }
    close(fds[1]);
    for (int i = 0; ok && i < nparties; i++) {
        report r;
        if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r || r.me < 0 || r.me >= nparties) ok = 0;
        else memcpy(res[r.me], r.res, sizeof r.res);
    }
    close(fds[0]);
    return ok ? 0 : -1;
}

int main(void)
{
    if (he_init() < 0) return 1;
    const char *tmpd = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/he_smpc_benchXXXXXX", tmpd && *tmpd && strlen(tmpd) < 40 ? tmpd : P_tmpdir);
    if (!mkdtemp(dir)) return 1;
    result rp[3][NOPS], rlp[3][NOPS], r3[3][NOPS];
    result *r = rp[0], *rl = rlp[0];
    int rc = 0;
    if (session(HE_SMPC_DEALER, HE_SMPC_TRUNC_DEALER, rp) < 0 || session(HE_SMPC_DEALER, HE_SMPC_TRUNC_LOCAL, rlp) < 0 ||
        session(HE_SMPC_REP3, HE_SMPC_TRUNC_DEALER, r3) < 0) {
        fprintf(stderr, "bench smpc: a session failed\n");
        rc = 1;
    } else {
        printf("# 2 computing parties + dealer as processes on loopback, ZeroMQ CURVE; dealer truncation pairs;\n");
        printf("# the dealer streams its material live (and prepares the next piece while the parties compute)\n");
        printf("# reference: MP-SPDZ 0.4.2 dealer protocol, 100x100 matmul 12.5 ms, 0.24 MB per party\n");
        printf("bench smpc.matmul100.ms %.3f ms\n", r[OP_MATMUL].ms);
        printf("# smpc.matmul100 median %.3f ms\n", r[OP_MATMUL].median);
        printf("bench smpc.matmul100.ms.ratio %.3f x\n", r[OP_MATMUL].ms / 12.5);
        printf("bench smpc.matmul100.mb %.4f MB\n", r[OP_MATMUL].mb);
        printf("bench smpc.matmul100.mb.ratio %.3f x\n", r[OP_MATMUL].mb / 0.24);
        printf("bench smpc.matmul100.rounds %llu rounds\n", r[OP_MATMUL].rounds);
        printf("bench smpc.relu10k.ms %.3f ms\n", r[OP_RELU].ms);
        printf("# smpc.relu10k median %.3f ms\n", r[OP_RELU].median);
        printf("bench smpc.relu10k.mb %.4f MB\n", r[OP_RELU].mb);
        printf("bench smpc.relu10k.rounds %llu rounds\n", r[OP_RELU].rounds);
        printf("bench smpc.conv16.ms %.3f ms\n", r[OP_CONV].ms);
        printf("# smpc.conv16 median %.3f ms\n", r[OP_CONV].median);
        printf("bench smpc.conv16.mb %.4f MB\n", r[OP_CONV].mb);
        printf("bench smpc.conv16.rounds %llu rounds\n", r[OP_CONV].rounds);
        printf("# the same with 2-party local (SecureML) truncation: no truncation round\n");
        printf("bench smpc.matmul100_localtrunc.ms %.3f ms\n", rl[OP_MATMUL].ms);
        printf("# smpc.matmul100_localtrunc median %.3f ms\n", rl[OP_MATMUL].median);
        printf("bench smpc.matmul100_localtrunc.ms.ratio %.3f x\n", rl[OP_MATMUL].ms / 12.5);
        printf("bench smpc.matmul100_localtrunc.mb %.4f MB\n", rl[OP_MATMUL].mb);
        printf("bench smpc.matmul100_localtrunc.mb.ratio %.3f x\n", rl[OP_MATMUL].mb / 0.24);
        printf("bench smpc.matmul100_localtrunc.rounds %llu rounds\n", rl[OP_MATMUL].rounds);
        printf("bench smpc.conv16_localtrunc.ms %.3f ms\n", rl[OP_CONV].ms);
        printf("bench smpc.conv16_localtrunc.mb %.4f MB\n", rl[OP_CONV].mb);
        printf("# rep3: 3 parties, replicated sharing, no dealer; time: the median of the repetitions\n");
        printf("# (party 0's clock); MB: sent by each party (its own count), .mb the largest\n");
        static const char *const opname[NOPS] = {"matmul100", "relu10k", "conv16"};
        for (int op = 0; op < NOPS; op++) {
            double top = 0;
            for (int i = 0; i < 3; i++) top = r3[i][op].mb > top ? r3[i][op].mb : top;
            printf("bench smpc.rep3.%s.ms %.3f ms\n", opname[op], r3[0][op].median);
            printf("# smpc.rep3.%s fastest %.3f ms\n", opname[op], r3[0][op].ms);
            if (op == OP_MATMUL) printf("bench smpc.rep3.%s.ms.ratio %.3f x\n", opname[op], r3[0][op].median / 12.5);
            printf("bench smpc.rep3.%s.mb %.4f MB\n", opname[op], top);
            for (int i = 0; i < 3; i++) printf("bench smpc.rep3.%s.mb.p%d %.4f MB\n", opname[op], i, r3[i][op].mb);
            printf("bench smpc.rep3.%s.rounds %llu rounds\n", opname[op], r3[0][op].rounds);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
