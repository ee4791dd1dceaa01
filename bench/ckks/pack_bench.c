/*
** pack_bench.c: the throughput mode's server steps (runtime/ckks/pack.c)
** at the MNIST network's sizes, N = 8192, the chain {39, 28 x 5} + 39
** (ckks.context(8192, 28, 5)), 8192 images per ciphertext (two per slot):
**   conv    845 outputs x 784 inputs, 25 weights a row (5 rows per window
**           share their inputs), top level: he_ckks_linear
**   rescale the 845 outputs, one per thread (he_ckks_rescale_many)
**   square  845 x square_pairs then 845 x relinearize + rescale (one
**           he_ckks_relin_rescale each), level 4
**   dense   100 x 845, every weight nonzero, level 3: he_ckks_linear, and
**           the same as 100 fused dot products (he_ckks_dot_scalar)
** For 1 and 2 threads: the median of REPS runs of the process's CPU time
** (all threads) and of the wall time; the kernel (IFMA or portable) named.
** The network's whole server time is scripts/mnist_ckks_throughput.he's.
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ckks/ckks.h"
#include "ckks/ckks_internal.h"
#include "he.h"

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "pack_bench: %s: %s\n", what, he_errmsg());
    exit(1);
}

enum { NIN = 784, NCONV = 845, NHID = 100, TAPS = 25, REPS = 3 };

static he_ckks_ct **cts(const he_ckks_ctx *ctx, size_t n)
{
    he_ckks_ct **v = malloc(n * sizeof *v);
    if (!v) die("memory");
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = he_ckks_ct_new(ctx))) die("ct");
    return v;
}

typedef struct fig {
    double cpu, wall;
} fig;

static fig median(fig *f)
{
    double c[REPS], w[REPS];
    for (int r = 0; r < REPS; r++) c[r] = f[r].cpu, w[r] = f[r].wall;
    qsort(c, REPS, sizeof *c, cmpd);
    qsort(w, REPS, sizeof *w, cmpd);
    return (fig){c[REPS / 2], w[REPS / 2]};
}

static void line(const char *name, unsigned th, fig f, const char *kernel, const char *what)
{
    printf("bench ckks.pack.%s.%ut %.1f ms CPU, %.1f ms wall (%s; %s)\n", name, th, f.cpu, f.wall, kernel, what);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_ckks_params p = {.n = 8192, .nprimes = 7, .bits = {39, 28, 28, 28, 28, 28, 39}, .scale = 0x1p28};
    he_ckks_ctx *ctx = he_ckks_ctx_new(&p);
    he_ckks_keys *k = ctx ? he_ckks_keys_new(ctx) : NULL;
    if (!k || he_ckks_keygen(k) < 0 || he_ckks_keygen_relin(k) < 0 || he_ckks_keygen_galois(k, NULL, 0, true) < 0)
        die("keys");
    const char *kernel = ckks_use_ifma() ? "IFMA" : "portable";
    unsigned slots = he_ckks_ctx_slots(ctx);
    double complex *z = malloc(slots * sizeof *z);
    he_prng g;
    he_prng_seed(&g, 17);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct **x = cts(ctx, NIN), **h = cts(ctx, NCONV), **d = cts(ctx, NHID), *one = he_ckks_ct_new(ctx);
    for (int i = 0; i < NIN; i++) {
        for (unsigned j = 0; j < slots; j++) z[j] = he_prng_uniform(&g) + I * he_prng_uniform(&g);
        if (he_ckks_encode_complex(ctx, pt, z, slots, -1, 0) < 0 || he_ckks_encrypt(k, x[i], pt) < 0) die("encrypt");
    }
    /* the convolution's shape: window p reads TAPS inputs, its 5 rows the same ones */
    double *Wc = calloc((size_t)NCONV * NIN, sizeof *Wc), *Wd = malloc((size_t)NHID * NCONV * sizeof *Wd);
    if (!Wc || !Wd || !z) die("memory");
    for (int p0 = 0; p0 < NCONV / 5; p0++)
        for (int t = 0; t < TAPS; t++) {
            int i = (p0 * 4 + (t / 5) * 28 + t % 5) % NIN;
            for (int m = 0; m < 5; m++) Wc[(size_t)(p0 * 5 + m) * NIN + i] = 2 * he_prng_uniform(&g) - 1;
        }
    for (size_t e = 0; e < (size_t)NHID * NCONV; e++) Wd[e] = (2 * he_prng_uniform(&g) - 1) * 0.05;
    printf("# throughput server steps, N=8192, chain {39, 28 x 5} + 39, two values per slot; median of %d, "
           "process CPU time (all threads) and wall time\n", REPS);
    static const unsigned threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        if (he_ckks_set_threads(threads[ti]) < 0) die("threads");
        fig conv[REPS], rescale[REPS], sq[REPS], dense[REPS], dots[REPS];
        for (int r = 0; r < REPS; r++) {
            double c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            if (he_ckks_linear(ctx, h, NCONV, (const he_ckks_ct *const *)x, NIN, Wc, 0) < 0) die("conv");
            double c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ms(CLOCK_MONOTONIC);
            conv[r] = (fig){c1 - c0, w1 - w0};
            c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            if (he_ckks_rescale_many(ctx, h, NCONV) < 0) die("rescale");
            c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ms(CLOCK_MONOTONIC);
            rescale[r] = (fig){c1 - c0, w1 - w0};
            c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            if (he_ckks_square_pairs_many(k, h, (const he_ckks_ct *const *)h, NCONV) < 0 ||
                he_ckks_settle_many(k, h, NCONV) < 0)
                die("square");
            c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ms(CLOCK_MONOTONIC);
            sq[r] = (fig){c1 - c0, w1 - w0};
            c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            if (he_ckks_linear(ctx, d, NHID, (const he_ckks_ct *const *)h, NCONV, Wd, 0) < 0) die("dense");
            c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ms(CLOCK_MONOTONIC);
            dense[r] = (fig){c1 - c0, w1 - w0};
            c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ms(CLOCK_MONOTONIC);
            for (int j = 0; j < NHID; j++)
                if (he_ckks_dot_scalar(ctx, one, (const he_ckks_ct *const *)h, Wd + (size_t)j * NCONV, NCONV, 0) < 0)
                    die("dot");
            c1 = clock_ms(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ms(CLOCK_MONOTONIC);
            dots[r] = (fig){c1 - c0, w1 - w0};
        }
        unsigned th = threads[ti];
        line("conv", th, median(conv), kernel, "845 x 784, 25 weights a row, 6 primes");
        line("rescale", th, median(rescale), kernel, "the 845 outputs with he_ckks_rescale_many, 6 primes");
        line("square", th, median(sq), kernel, "845 x square_pairs, relinearize + rescale (fused); 5 primes");
        line("dense", th, median(dense), kernel, "100 x 845 with he_ckks_linear, 4 primes");
        line("dense_dots", th, median(dots), kernel, "the same as 100 x he_ckks_dot_scalar");
    }
    return 0;
}
