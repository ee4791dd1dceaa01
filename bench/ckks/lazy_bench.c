/*
** lazy_bench.c: a sum of k products of two ciphertexts, eager against lazy
** (the ckks module's way since issue 11: products are left unrelinearized
** and unrescaled while they are only added, and the sum is relinearized
** and rescaled once).
**   eager  k x (mul, relin, rescale), k - 1 additions of 2 parts
**   lazy   k x mul, k - 1 additions of 3 parts, one relin, one rescale
** N = 8192, the chain {49, 40, 40, 40} + 49 (ckks.context(8192, 40, 3)),
** operands at the top level; single thread; median of repeated runs, in
** CPU time of the thread (so that a shared, loaded machine gives steady
** figures).
** Both give the same value; the lazy one has the smaller error (one
** rescale rounding, one key switch instead of k).
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ckks/ckks.h"
#include "he.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "lazy_bench: %s: %s\n", what, he_errmsg());
    exit(1);
}

enum { KMAX = 64, REPS = 9 };

int main(void)
{
    if (he_init() < 0) return 1;
    he_ckks_params p;
    if (he_ckks_params_default(&p, 8192) < 0) die("params");
    he_ckks_ctx *ctx = he_ckks_ctx_new(&p);
    he_ckks_keys *k = ctx ? he_ckks_keys_new(ctx) : NULL;
    if (!k || he_ckks_keygen(k) < 0 || he_ckks_keygen_relin(k) < 0) die("keys");
    unsigned slots = he_ckks_ctx_slots(ctx);
    double *v = malloc(slots * sizeof *v);
    he_prng g;
    he_prng_seed(&g, 11);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *a[KMAX], *b[KMAX];
    for (int i = 0; i < KMAX; i++) {
        for (unsigned j = 0; j < slots; j++) v[j] = 2 * he_prng_uniform(&g) - 1;
        a[i] = he_ckks_ct_new(ctx);
        b[i] = he_ckks_ct_new(ctx);
        if (he_ckks_encode(ctx, pt, v, slots, -1, 0) < 0 || he_ckks_encrypt(k, a[i], pt) < 0 ||
            he_ckks_encrypt(k, b[i], pt) < 0)
            die("encrypt");
    }
    he_ckks_ct *t = he_ckks_ct_new(ctx), *s = he_ckks_ct_new(ctx);
    printf("# a sum of k products of two ciphertexts, N=8192, chain {49, 40, 40, 40} + 49, top level\n");
    static const int ks[] = {1, 2, 4, 8, 16, 64};
    for (size_t x = 0; x < sizeof ks / sizeof *ks; x++) {
        int kk = ks[x], bad = 0;
        double te[REPS], tl[REPS];
        for (int r = 0; r < REPS; r++) {
            double t0 = now_ms();
            for (int i = 0; i < kk; i++) {
                bad |= he_ckks_mul(ctx, t, a[i], b[i]) | he_ckks_relin(k, t, t) | he_ckks_rescale(ctx, t, t);
                bad |= i ? he_ckks_add(ctx, s, s, t) : he_ckks_ct_copy(s, t);
            }
            te[r] = now_ms() - t0;
            t0 = now_ms();
            for (int i = 0; i < kk; i++) {
                bad |= he_ckks_mul(ctx, i ? t : s, a[i], b[i]);
                if (i) bad |= he_ckks_add(ctx, s, s, t);
            }
            bad |= he_ckks_relin(k, s, s) | he_ckks_rescale(ctx, s, s);
            tl[r] = now_ms() - t0;
        }
        if (bad) die("operation");
        qsort(te, REPS, sizeof *te, cmpd);
        qsort(tl, REPS, sizeof *tl, cmpd);
        printf("bench ckks.lazy.sum%d.eager %.3f ms\n", kk, te[REPS / 2]);
        printf("bench ckks.lazy.sum%d.lazy %.3f ms\n", kk, tl[REPS / 2]);
        printf("bench ckks.lazy.sum%d.ratio %.2f x (lazy / eager, lower is faster)\n", kk, tl[REPS / 2] / te[REPS / 2]);
        fflush(stdout);
    }
    for (int i = 0; i < KMAX; i++) {
        he_ckks_ct_free(a[i]);
        he_ckks_ct_free(b[i]);
    }
    he_ckks_ct_free(t);
    he_ckks_ct_free(s);
    he_ckks_pt_free(pt);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(ctx);
    free(v);
    return 0;
}
