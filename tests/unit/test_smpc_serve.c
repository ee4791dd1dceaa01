/*
** test_smpc_serve.c: the SMPC service (runtime/smpc/serve.h): the client's
** sharing of an input (reconstructs exactly; each party's words uniform
** whatever the input; rep3's layout), the description's parser and the
** query decoder against random, truncated and bit-flipped messages, and a
** cluster as processes (the dealer and 2 parties, fork, 127.0.0.1)
** answering a client correctly and refusing malformed, oversized,
** wrongly shaped and partial requests with an error reply while it goes on
** serving, then, SIGTERM at one party while a request is in flight:
** that request answered and every process exiting 0.
*/
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "he.h"
#include "smpc/serve.h"

#define EXIT(c) exit(c) /* exit, not _exit: the sanitizer checks the child for leaks too */

static char dir[64];

static he_smpc_serve_desc desc_of(he_smpc_protocol p, int n, int ndim, const int64_t *shape)
{
    he_smpc_serve_desc d;
    memset(&d, 0, sizeof d);
    d.protocol = p;
    d.n = n;
    d.frac = 16;
    d.ndim = ndim;
    d.size = 1;
    for (int i = 0; i < ndim; i++) {
        d.shape[i] = shape[i];
        d.size *= (size_t)shape[i];
    }
    return d;
}

/* Shares reconstruct the encoding exactly; party i's words are uniform
** (every bit set in 2048 +- 192 of 4096 words, 6 standard deviations: the
** bound was 3.8 once, and with 1,024 bits checked a run failed by
** chance about one time in eight; now about 2e-6), for the input 0 as for
** 0.5, never the encoding; rep3: party i's second slot is party i+1's first. */
static void split_shares(void)
{
    int64_t shape[1] = {4096};
    struct { he_smpc_protocol p; int n; } cases[] = {{HE_SMPC_DEALER, 2}, {HE_SMPC_DEALER, 3}, {HE_SMPC_REP3, 3}};
    double *x = malloc(4096 * sizeof *x);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        he_smpc_serve_desc d = desc_of(cases[c].p, cases[c].n, 1, shape);
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 4096; i++) x[i] = v ? 0.5 : 0.0;
            uint64_t *w[HE_SMPC_MAXPARTIES];
            size_t nw = 0;
            CHECK(he_smpc_serve_split(&d, x, w, &nw) == 0, "split: %s", he_errmsg());
            int ns = cases[c].p == HE_SMPC_REP3 ? 2 : 1;
            CHECK(nw == 4096u * (size_t)ns, "%zu words", nw);
            uint64_t raw = v ? 32768 : 0;
            for (int i = 0; i < 4096; i++) {
                uint64_t s = 0;
                for (int p = 0; p < d.n; p++) s += w[p][i];
                CHECK(s == raw, "case %zu: element %d reconstructs to %llu", c, i, (unsigned long long)s);
                for (int p = 0; p < d.n; p++) CHECK(w[p][i] != raw, "party %d got the encoding", p);
                if (ns == 2)
                    for (int p = 0; p < 3; p++)
                        CHECK(w[p][4096 + i] == w[(p + 1) % 3][i], "rep3: party %d's second share", p);
            }
            for (int p = 0; p < d.n; p++)
                for (int b = 0; b < 64; b++) {
                    int set = 0;
                    for (int i = 0; i < 4096; i++) set += (int)((w[p][i] >> b) & 1);
                    CHECK(set > 1856 && set < 4096 - 1856, "case %zu input %d: party %d bit %d set %d/4096", c, v, p, b, set);
                }
            for (int p = 0; p < d.n; p++) he_free_secret(w[p], nw * 8);
        }
    }
    /* the check itself notices shares that are not random: a constant */
    int set = 0;
    for (int i = 0; i < 4096; i++) set += (int)((((uint64_t)32768) >> 15) & 1);
    CHECK(!(set > 1856 && set < 4096 - 1856), "the bit test cannot fail");
    /* a value out of fixed point's range is refused */
    he_smpc_serve_desc d = desc_of(HE_SMPC_DEALER, 2, 1, (int64_t[]){1});
    uint64_t *w[2];
    size_t nw;
    x[0] = 1e300;
    CHECK(he_smpc_serve_split(&d, x, w, &nw) < 0 && strstr(he_errmsg(), "cannot be encoded"), "%s", he_errmsg());
    x[0] = NAN;
    CHECK(he_smpc_serve_split(&d, x, w, &nw) < 0, "NaN accepted");
    free(x);
}

static void desc_parse(void)
{
    he_smpc_serve_desc d;
    const char *good = "service smpc\nprotocol rep3\nparties 3\nfrac 16\ninput 1 28 28\nmax_mb 16\n";
    CHECK(he_smpc_serve_desc_parse(good, strlen(good), &d) == 0, "%s", he_errmsg());
    CHECK(d.protocol == HE_SMPC_REP3 && d.n == 3 && d.frac == 16 && d.ndim == 3 && d.size == 784, "parsed wrong");
    const char *bad[] = {
        "",
        "protocol dealer\nparties 2\nfrac 16\ninput 4\n",                 /* no service line */
        "service smpc\nprotocol dealer\nparties 2\nfrac 16\n",            /* no input */
        "service smpc\nprotocol rep3\nparties 2\nfrac 16\ninput 4\n",     /* rep3 is 3 parties */
        "service smpc\nprotocol dealer\nparties 1\nfrac 16\ninput 4\n",   /* one party */
        "service smpc\nprotocol dealer\nparties 2\nfrac 99\ninput 4\n",   /* frac */
        "service smpc\nprotocol dealer\nparties 2\nfrac 16\ninput 0\n",   /* empty shape */
        "service smpc\nprotocol dealer\nparties 2\nfrac 16\ninput 65536 65536 65536\n", /* too large */
        "service smpc\nprotocol other\nparties 2\nfrac 16\ninput 4\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(he_smpc_serve_desc_parse(bad[i], strlen(bad[i]), &d) < 0, "bad description %zu accepted", i);
}

/* A well-formed query decodes and passes; random, truncated and
** bit-flipped ones are refused or, when they still decode, checked without
** reading past their bytes (ASan would say). */
static void query_fuzz(void)
{
    int64_t shape[2] = {2, 3};
    he_smpc_serve_desc d = desc_of(HE_SMPC_REP3, 3, 2, shape);
    uint8_t words[96];
    for (int i = 0; i < 96; i++) words[i] = (uint8_t)i;
    const uint8_t *parts[2] = {(const uint8_t *)"class", words};
    size_t lens[2] = {5, 96};
    uint8_t *msg = NULL;
    size_t len = 0;
    CHECK(he_serve_encode(HE_SERVE_QUERY, 77, 1, 2, parts, lens, &msg, &len) == 0, "encode");
    he_serve_msg m;
    bool cls = false;
    const uint8_t *w;
    size_t nw;
    CHECK(he_serve_decode(msg, len, 4, &m) == 0 && he_smpc_serve_check_query(&m, &d, &cls, &w, &nw) == 0 && cls &&
              nw == 12 && m.session == 77,
          "the good query: %s", he_errmsg());
    he_serve_msg_free(&m);
    /* the wrong number of values, the wrong word, a missing part */
    lens[1] = 88;
    uint8_t *m2 = NULL;
    size_t l2 = 0;
    CHECK(he_serve_encode(HE_SERVE_QUERY, 1, 1, 2, parts, lens, &m2, &l2) == 0 && he_serve_decode(m2, l2, 4, &m) == 0,
          "encode");
    CHECK(he_smpc_serve_check_query(&m, &d, &cls, &w, &nw) < 0 && strstr(he_errmsg(), "the service takes 96"), "%s",
          he_errmsg());
    he_serve_msg_free(&m);
    he_free(m2);
    parts[0] = (const uint8_t *)"argmax";
    lens[0] = 6;
    lens[1] = 96;
    CHECK(he_serve_encode(HE_SERVE_QUERY, 1, 1, 2, parts, lens, &m2, &l2) == 0 && he_serve_decode(m2, l2, 4, &m) == 0,
          "encode");
    CHECK(he_smpc_serve_check_query(&m, &d, &cls, &w, &nw) < 0 && strstr(he_errmsg(), "\"logits\" or \"class\""), "%s",
          he_errmsg());
    he_serve_msg_free(&m);
    he_free(m2);
    CHECK(he_serve_encode(HE_SERVE_QUERY, 1, 1, 1, parts, lens, &m2, &l2) == 0 && he_serve_decode(m2, l2, 4, &m) == 0,
          "encode");
    CHECK(he_smpc_serve_check_query(&m, &d, &cls, &w, &nw) < 0 && strstr(he_errmsg(), "2 parts"), "%s", he_errmsg());
    he_serve_msg_free(&m);
    he_free(m2);
    /* fuzz */
    uint8_t *buf = malloc(len + 64);
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t l = len;
        memcpy(buf, msg, len);
        switch (it % 3) {
        case 0: /* truncated */
            l = he_random_uniform(len + 1);
            break;
        case 1: /* bit flips */
            for (int k = 0; k < 1 + (int)he_random_uniform(4); k++) buf[he_random_uniform(len)] ^= (uint8_t)(1u << he_random_uniform(8));
            break;
        default: /* random bytes after a valid magic */
            l = he_random_uniform(len + 64);
            he_randombytes(buf, l);
            if (l >= 4) memcpy(buf, "HESV", 4);
        }
        uint8_t *copy = malloc(l ? l : 1); /* exactly l bytes: ASan sees any read past them */
        memcpy(copy, buf, l);
        if (he_serve_decode(copy, l, 4, &m) == 0) {
            if (m.kind == HE_SERVE_QUERY && he_smpc_serve_check_query(&m, &d, &cls, &w, &nw) == 0) {
                accepted++;
                CHECK(nw == 12 && w + 96 <= copy + l, "an accepted query's words out of its bytes");
            }
            he_serve_msg_free(&m);
        }
        free(copy);
    }
    CHECK(accepted > 0, "no mutated query accepted at all (the flips of the words' bytes should be)");
    free(buf);
    he_free(msg);
}

/* --- a cluster as processes ------------------------------------------------------------------ */
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

static char pubs[3][HE_SMPC_KEY_Z85 + 1];
static char pf[128], cf[128];

static int setup(void)
{
    char path[256];
    for (int i = 0; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/key-%d", dir, i);
        if (he_smpc_keygen(path, pubs[i]) < 0) return -1;
    }
    snprintf(pf, sizeof pf, "%s/parties", dir);
    snprintf(cf, sizeof cf, "%s/cluster", dir);
    FILE *f = fopen(pf, "w"), *g = fopen(cf, "w");
    if (!f || !g) return -1;
    for (int i = 0; i < 2; i++) {
        fprintf(f, "%d 127.0.0.1:%d %s\n", i, free_port(), pubs[i]);
        fprintf(g, "%d tcp://127.0.0.1:%d %s\n", i, free_port(), pubs[i]);
    }
    fprintf(f, "dealer 127.0.0.1:%d %s\n", free_port(), pubs[2]);
    fclose(f);
    fclose(g);
    return 0;
}

static volatile sig_atomic_t stop_flag;
static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The model: 3 x + x * x (a local product by a public int and a Beaver
** product), slowly (200 ms: a request is in flight long enough to signal). */
static int model(void *ud, he_share *in, he_share *out)
{
    (void)ud;
    he_smpc_ctx *ctx = *(he_smpc_ctx **)ud;
    int64_t three = 3;
    usleep(200000);
    he_share *sq = he_share_new(ctx, 0, NULL, 0);
    int rc = sq && he_smpc_mul(ctx, sq, in, in) == 0 && he_smpc_mul_public_int(ctx, out, in, &three, 1) == 0 &&
                     he_smpc_add(ctx, out, out, sq) == 0
                 ? 0
                 : -1;
    he_share_free(sq);
    he_share_free(in);
    return rc;
}

static int run_node(int me)
{
    he_smpc_config c;
    char kp[256];
    he_smpc_config_init(&c);
    snprintf(kp, sizeof kp, "%s/key-%d", dir, me);
    c.mode = HE_SMPC_NET;
    c.party_file = pf;
    c.secret_key_file = kp;
    c.me = me;
    c.timeout_ms = 3000;
    if (me == 2) {
        if (he_smpc_dealer_serve(&c) < 0) {
            printf("# dealer: %s\n", he_errmsg());
            return 1;
        }
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) {
        printf("# party %d: %s\n", me, he_errmsg());
        return 1;
    }
    he_smpc_serve_limits lim;
    he_smpc_serve_limits_default(&lim);
    lim.max_msg = 4096;
    lim.wait_ms = 500;
    int64_t shape[2] = {2, 3};
    he_smpc_server *s = he_smpc_server_new(ctx, cf, kp, NULL, &lim, 2, shape);
    int rc = s ? he_smpc_server_run(s, model, &ctx, 0, &stop_flag) : -1;
    if (rc < 0) printf("# party %d: %s\n", me, he_errmsg());
    he_smpc_server_free(s);
    if (rc < 0) he_smpc_abort(ctx, he_errmsg());
    he_smpc_free(ctx);
    return rc < 0 ? 1 : 0;
}

/* A raw request to party i: the reply's error text (or "OK"). */
static void raw_call(int party, const uint8_t *msg, size_t len, char *why, size_t n)
{
    FILE *g = fopen(cf, "r");
    char line[256], addr[200] = "", key[64] = "";
    int idx;
    while (g && fgets(line, sizeof line, g))
        if (sscanf(line, "%d %199s %63s", &idx, addr, key) == 3 && idx == party) break;
    if (g) fclose(g);
    he_serve_client *c = he_serve_client_new(addr, key, NULL, 10000);
    he_serve_msg r;
    uint8_t *buf = NULL;
    snprintf(why, n, "no client");
    if (!c) return;
    if (he_serve_call_raw(c, msg, len, &r, &buf) == 0) {
        snprintf(why, n, "OK");
        he_serve_msg_free(&r);
        he_free(buf);
    } else {
        snprintf(why, n, "%s", he_errmsg());
    }
    he_serve_client_free(c);
}

static void cluster(void)
{
    if (setup() < 0) {
        CHECK(0, "setup: %s", he_errmsg());
        return;
    }
    pid_t pids[3];
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) EXIT(run_node(i));
    }
    he_smpc_client *c = he_smpc_client_new(cf, 20000);
    CHECK(c != NULL, "client: %s", he_errmsg());
    if (c) {
        const char *p = he_smpc_client_params(c);
        CHECK(p && strstr(p, "protocol dealer") && strstr(p, "input 2 3"), "params: %s", p ? p : he_errmsg());
        double x[6] = {0.5, -1.25, 2.0, 3.5, -0.75, 0.0}, *y = NULL;
        size_t ny = 0;
        int nd = 0;
        int64_t sh[HE_SMPC_MAXDIM];
        bool integer = true;
        for (int rep = 0; rep < 2; rep++) {
            CHECK(he_smpc_client_query(c, x, 6, false, &y, &ny, &nd, sh, &integer) == 0, "query: %s", he_errmsg());
            CHECK(y && ny == 6 && nd == 2 && sh[0] == 2 && sh[1] == 3 && !integer, "the answer's shape");
            for (size_t i = 0; y && i < ny && i < 6; i++)
                CHECK(fabs(y[i] - (3 * x[i] + x[i] * x[i])) < 1e-4, "y[%zu] = %g, want %g", i, y[i], 3 * x[i] + x[i] * x[i]);
            he_free(y);
            y = NULL;
            /* the class: the argmax over the last axis */
            CHECK(he_smpc_client_query(c, x, 6, true, &y, &ny, &nd, sh, &integer) == 0, "class: %s", he_errmsg());
            CHECK(y && integer && ny == 2 && y[0] == 2 && y[1] == 0, "classes %g %g", y ? y[0] : -1, y && ny > 1 ? y[1] : -1);
            he_free(y);
            y = NULL;
            /* refusals, each with an error reply; the cluster serves on */
            char why[600];
            raw_call(0, (const uint8_t *)"not a request at all", 20, why, sizeof why);
            CHECK(strstr(why, "not a request of the he service"), "garbage: %s", why);
            uint8_t big[5000] = {0}, *msg = NULL;
            size_t len = 0;
            const uint8_t *parts[2] = {(const uint8_t *)"logits", big};
            size_t lens[2] = {6, sizeof big};
            CHECK(he_serve_encode(HE_SERVE_QUERY, 9, 1, 2, parts, lens, &msg, &len) == 0, "encode");
            raw_call(1, msg, len, why, sizeof why);
            CHECK(strstr(why, "over the limit of 4096"), "oversized: %s", why);
            he_free(msg);
            lens[1] = 40;
            CHECK(he_serve_encode(HE_SERVE_QUERY, 9, 1, 2, parts, lens, &msg, &len) == 0, "encode");
            raw_call(0, msg, len, why, sizeof why);
            CHECK(strstr(why, "the request holds 40 bytes of shares, the service takes 48 (6 values)"), "shape: %s", why);
            he_free(msg);
            /* a valid share sent to party 0 only: refused by the cluster */
            lens[1] = 48;
            CHECK(he_serve_encode(HE_SERVE_QUERY, 10 + (uint64_t)rep, 1, 2, parts, lens, &msg, &len) == 0, "encode");
            raw_call(0, msg, len, why, sizeof why);
            CHECK(strstr(why, "another party did not get its share"), "partial: %s", why);
            he_free(msg);
        }
        uint64_t sent, recv;
        he_smpc_client_bytes(c, &sent, &recv);
        CHECK(sent > 0 && recv > 0, "bytes %llu %llu", (unsigned long long)sent, (unsigned long long)recv);
        /* SIGTERM at party 1 while a request is in flight (the model takes
        ** 200 ms): it is answered, then every process ends with 0 */
        fflush(stdout);
        pid_t killer = fork();
        if (killer == 0) {
            usleep(100000);
            kill(pids[1], SIGTERM);
            _exit(0);
        }
        CHECK(he_smpc_client_query(c, x, 6, false, &y, &ny, &nd, sh, &integer) == 0 && y && fabs(y[0] - 1.75) < 1e-4,
              "the request in flight at SIGTERM: %s", he_errmsg());
        he_free(y);
        waitpid(killer, NULL, 0);
        he_smpc_client_free(c);
    } else {
        kill(pids[1], SIGTERM);
    }
    int codes[3] = {-1, -1, -1};
    double t0 = (double)time(NULL);
    for (int left = 3; left > 0 && (double)time(NULL) - t0 < 30;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p <= 0) {
            usleep(10000);
            continue;
        }
        for (int i = 0; i < 3; i++)
            if (pids[i] == p) {
                codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                left--;
            }
    }
    for (int i = 0; i < 3; i++) {
        if (codes[i] == -1) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
        CHECK(codes[i] == 0, "node %d exited with %d", i, codes[i]);
    }
}

int main(void)
{
    if (he_init() < 0) return 1;
    if (!check_tmpdir(dir, sizeof dir, "he_smpc_serve")) return 1;
    RUN(split_shares);
    RUN(desc_parse);
    RUN(query_fuzz);
    RUN(cluster);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return 0;
}
