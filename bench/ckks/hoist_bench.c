/*
** hoist_bench.c: hoisted rotations, matrix-vector products and threads.
**
** Parameters: the MNIST chain (N = 8192, primes {39, 28 x 5} + special 39,
** 218 bits, scale 2^28), ciphertexts at the top level. Each figure is the
** median of repeated runs (wall clock), printed for 1 and 2 threads, with
** the kernel (IFMA or portable) named:
**   rot31.plain    31 rotations of one ciphertext by he_ckks_rotate
**   rot31.hoisted  the same 31 rotations by he_ckks_rotate_hoisted
**   relin          one relinearization (key switching on the pool)
**   matvec845x784  y = W x for a dense random 845 x 784 W (the CryptoNets
**                  convolution's shape: 1024 diagonals, 62 rotations)
**   matvec100x845  the first dense layer's shape (wide: 128 diagonals)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckks/ckks.h"
#include "ckks/ckks_internal.h"
#include "he.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "hoist_bench: %s: %s\n", what, he_errmsg());
    exit(1);
}

#define REPS 5
#define K 31

static he_ckks_ctx *ctx;
static he_ckks_keys *keys;
static he_ckks_ct *x, *outs[K], *y;
static int steps[K];
static he_ckks_matvec *mv1, *mv2;

static void run(int what)
{
    int r = 0;
    switch (what) {
    case 0:
        for (int i = 0; i < K && r == 0; i++) r = he_ckks_rotate(keys, outs[i], x, steps[i]);
        break;
    case 1: r = he_ckks_rotate_hoisted(keys, outs, x, steps, K); break;
    case 2:
        r = he_ckks_mul(ctx, y, x, x);
        if (r == 0) r = he_ckks_relin(keys, y, y);
        break;
    case 3: r = he_ckks_matvec_apply(keys, mv1, y, x, 0, false); break;
    case 4: r = he_ckks_matvec_apply(keys, mv2, y, x, 0, false); break;
    }
    if (r < 0) die("operation");
}

static double median(int what)
{
    double t[REPS];
    run(what); /* warm-up */
    for (int i = 0; i < REPS; i++) {
        double t0 = now_ms();
        run(what);
        t[i] = now_ms() - t0;
    }
    qsort(t, REPS, sizeof *t, cmpd);
    return t[REPS / 2];
}

static he_ckks_matvec *random_matvec(he_prng *g, size_t rows, size_t cols)
{
    double *W = malloc(rows * cols * sizeof *W);
    if (!W) die("memory");
    for (size_t i = 0; i < rows * cols; i++) W[i] = 2 * he_prng_uniform(g) - 1;
    he_ckks_matvec *mv = he_ckks_matvec_new(ctx, W, rows, cols, NULL);
    free(W);
    if (!mv) die("matvec");
    int st[256];
    size_t ns = he_ckks_matvec_steps(mv, false, st, 256);
    if (he_ckks_keygen_galois(keys, st, ns, false) < 0) die("keys");
    return mv;
}

int main(int argc, char **argv)
{
    if (he_init() < 0) return 1;
    if (argc > 1 && strcmp(argv[1], "--kernel") == 0) { /* for the scripts */
        printf("%s\n", ckks_use_ifma() ? "IFMA" : "portable");
        return 0;
    }
    he_ckks_params p = {.n = 8192, .nprimes = 7, .bits = {39, 28, 28, 28, 28, 28, 39}, .scale = 0x1p28};
    ctx = he_ckks_ctx_new(&p);
    keys = ctx ? he_ckks_keys_new(ctx) : NULL;
    for (int i = 0; i < K; i++) steps[i] = i + 1;
    if (!keys || he_ckks_keygen(keys) < 0 || he_ckks_keygen_relin(keys) < 0 ||
        he_ckks_keygen_galois(keys, steps, K, false) < 0)
        die("keys");
    he_prng g;
    he_prng_seed(&g, 8);
    mv1 = random_matvec(&g, 845, 784);
    mv2 = random_matvec(&g, 100, 845);
    unsigned slots = he_ckks_ctx_slots(ctx);
    double *v = malloc(slots * sizeof *v);
    for (unsigned i = 0; i < slots; i++) v[i] = he_prng_uniform(&g);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    x = he_ckks_ct_new(ctx);
    y = he_ckks_ct_new(ctx);
    if (!v || !pt || !x || !y || he_ckks_encode(ctx, pt, v, slots, -1, 0) < 0 || he_ckks_encrypt(keys, x, pt) < 0)
        die("encrypt");
    for (int i = 0; i < K; i++)
        if (!(outs[i] = he_ckks_ct_new(ctx))) die("memory");
    const char *kernel = ckks_use_ifma() ? "IFMA" : "portable";
    static const char *names[] = {"rot31.plain", "rot31.hoisted", "relin", "matvec845x784", "matvec100x845"};
    printf("# kernel %s; N=8192, primes {39, 28 x 5, 39}, top level; median of %d\n", kernel, REPS);
    double t1[5];
    for (unsigned th = 1; th <= 2; th++) {
        if (he_ckks_set_threads(th) < 0) die("threads");
        for (int w = 0; w < 5; w++) {
            double ms = median(w);
            if (th == 1) t1[w] = ms;
            printf("bench ckks.8192.%s.threads%u %.2f ms (%s)\n", names[w], th, ms, kernel);
            if (th == 2) printf("bench ckks.8192.%s.speedup2 %.2f x (1 thread / 2 threads)\n", names[w], t1[w] / ms);
            if (w == 1) printf("bench ckks.8192.rot31.hoisting_gain.threads%u %.2f x (plain / hoisted)\n", th,
                               (th == 1 ? t1[0] : median(0)) / ms);
            fflush(stdout);
        }
    }
    for (int i = 0; i < K; i++) he_ckks_ct_free(outs[i]);
    he_ckks_ct_free(x);
    he_ckks_ct_free(y);
    he_ckks_pt_free(pt);
    free(v);
    he_ckks_matvec_free(mv1);
    he_ckks_matvec_free(mv2);
    he_ckks_keys_free(keys);
    he_ckks_ctx_free(ctx);
    return 0;
}
