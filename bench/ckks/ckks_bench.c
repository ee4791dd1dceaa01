/*
** ckks_bench.c: CKKS per-operation timings against Microsoft SEAL 4.4.3.
**
** Parameters: SEAL's default coefficient moduli (CoeffModulus::BFVDefault)
** for N = 8192 (218 bits: {43,43,44,44,44}) and N = 16384 (438 bits:
** {48,48,48,49,49,49,49,49,49}); the last prime is the key-switching prime.
** Ciphertexts at the top level; scale 2^40. Single thread. Each figure is
** the median of repeated runs. Reference: SEAL 4.4.3 + Intel HEXL 1.2.5
** (development head 2d196fd; SEAL 4.4.3 pins 1.2.6, not available here),
** built with -DSEAL_USE_INTEL_HEXL=ON (AVX-512 IFMA NTT and element-wise
** kernels) and measured on this machine on 2026-12-06 by a harness doing
** the same operations on the same vector (single thread, medians, wall
** clock, run alternately with this bench); the earlier figures of a SEAL
** 4.4.3 build without HEXL are printed beside them, labelled.
**   encode  a full vector of doubles to a top-level plaintext (NTT form)
**   decode  the decrypted top-level plaintext back to doubles
**   add     ciphertext + ciphertext into a third
**   mul     ciphertext product before relinearization (SEAL's multiply)
**   relin   relinearization of the 3-component product
**   rescale rescale_to_next of a 2-component ciphertext
**   rotate  rotation by one slot (Galois key present)
**   encrypt public-key encryption;  decrypt  to an NTT-form plaintext
**   dot845  one fused dot product of 845 ciphertexts with scalar weights
** Where the CPU has AVX-512 IFMA, the figures are printed twice: with it
** (bench ckks.N.OP) and with the portable C code (bench ckks.portable.N.OP).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckks/ckks.h"
#include "ckks/ckks_internal.h" /* ckks_use_ifma, ckks_force_portable */
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
    fprintf(stderr, "ckks_bench: %s: %s\n", what, he_errmsg());
    exit(1);
}

static const char *variant = ""; /* "" or "portable." */

/* ref: SEAL 4.4.3 + HEXL; old: SEAL 4.4.3 without HEXL (0: not measured) */
static void report(unsigned n, const char *op, double ms, double ref, double old)
{
    const char *kernel = ckks_use_ifma() ? "IFMA" : "portable";
    printf("bench ckks.%s%u.%s %.4f ms (kernel: %s)\n", variant, n, op, ms, kernel);
    if (ref > 0) {
        printf("# reference: SEAL 4.4.3 + HEXL 1.2.5 (IFMA) %.3g ms", ref);
        if (old > 0) printf("; SEAL 4.4.3 without HEXL (earlier build) %.3g ms", old);
        printf("\n");
        printf("bench ckks.%s%u.%s.ratio %.2f x (kernel: %s, against SEAL + HEXL)\n", variant, n, op, ms / ref,
               kernel);
    }
    fflush(stdout);
}

/* Median of reps timings of one operation; the body sets ok. */
#define TIME(reps, out, body)                                   \
    do {                                                        \
        double *t_ = malloc((reps) * sizeof *t_);               \
        for (int r_ = 0; r_ < (reps); r_++) {                   \
            double t0_ = now_ms();                              \
            body;                                               \
            t_[r_] = now_ms() - t0_;                            \
        }                                                       \
        qsort(t_, (reps), sizeof *t_, cmpd);                    \
        (out) = t_[(reps) / 2];                                 \
        free(t_);                                               \
    } while (0)

typedef struct ref {
    double encode, decode, mul, relin, rescale, rotate, add, encrypt, decrypt;
} ref;

static void bench_n(unsigned n, const int *bits, unsigned nprimes, ref rf, ref ro, int reps, bool dot)
{
    he_ckks_params p = {.n = n, .nprimes = nprimes, .scale = 0x1p40};
    memcpy(p.bits, bits, nprimes * sizeof *bits);
    double t0 = now_ms();
    he_ckks_ctx *ctx = he_ckks_ctx_new(&p);
    if (!ctx) die("context");
    he_ckks_keys *k = he_ckks_keys_new(ctx);
    int steps[] = {1};
    if (!k || he_ckks_keygen(k) < 0 || he_ckks_keygen_relin(k) < 0 ||
        he_ckks_keygen_galois(k, steps, 1, false) < 0)
        die("keygen");
    printf("# N=%u, %u primes, log2(qP)=%d, keygen (sk, pk, relin, 1 Galois) %.1f ms\n", n, nprimes,
           he_ckks_ctx_total_bits(ctx), now_ms() - t0);
    unsigned slots = he_ckks_ctx_slots(ctx);
    double *v = malloc(slots * sizeof *v);
    he_prng g;
    he_prng_seed(&g, n);
    for (unsigned i = 0; i < slots; i++) v[i] = 2 * he_prng_uniform(&g) - 1;
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *a = he_ckks_ct_new(ctx), *b = he_ckks_ct_new(ctx), *o = he_ckks_ct_new(ctx),
               *m3 = he_ckks_ct_new(ctx);
    double ms;
    int bad = 0;
    TIME(reps, ms, bad |= he_ckks_encode(ctx, pt, v, slots, -1, 0));
    report(n, "encode", ms, rf.encode, ro.encode);
    TIME(reps, ms, bad |= he_ckks_encrypt(k, a, pt));
    report(n, "encrypt", ms, rf.encrypt, ro.encrypt);
    bad |= he_ckks_encrypt(k, b, pt);
    TIME(reps * 4, ms, bad |= he_ckks_add(ctx, o, a, b));
    report(n, "add", ms, rf.add, ro.add);
    TIME(reps * 2, ms, bad |= he_ckks_mul(ctx, m3, a, b));
    report(n, "mul", ms, rf.mul, ro.mul);
    TIME(reps, ms, bad |= he_ckks_relin(k, o, m3));
    report(n, "relin", ms, rf.relin, ro.relin);
    TIME(reps, ms, bad |= he_ckks_rescale(ctx, o, a));
    report(n, "rescale", ms, rf.rescale, ro.rescale);
    TIME(reps, ms, bad |= he_ckks_rotate(k, o, a, 1));
    report(n, "rotate", ms, rf.rotate, ro.rotate);
    TIME(reps * 2, ms, bad |= he_ckks_decrypt(k, pt, a));
    report(n, "decrypt", ms, rf.decrypt, ro.decrypt);
    TIME(reps, ms, bad |= he_ckks_decode(ctx, pt, v, slots));
    report(n, "decode", ms, rf.decode, ro.decode);
    if (bad) die("operation failed");
    if (dot) {
        enum { K = 845 };
        he_ckks_ct **cts = malloc(K * sizeof *cts);
        double *w = malloc(K * sizeof *w);
        for (int i = 0; i < K; i++) {
            cts[i] = he_ckks_ct_new(ctx);
            if (!cts[i] || he_ckks_ct_copy(cts[i], a) < 0) die("copy");
            w[i] = 2 * he_prng_uniform(&g) - 1;
        }
        TIME(5, ms, bad |= he_ckks_dot_scalar(ctx, o, (const he_ckks_ct *const *)cts, w, K, 0));
        if (bad) die("dot");
        report(n, "dot845", ms, 0, 0);
        /* the same sum with one multiply_plain-style step per term, for scale */
        he_ckks_ct *t = he_ckks_ct_new(ctx);
        TIME(1, ms, for (int i = 0; i < K; i++) {
            bad |= he_ckks_mul_scalar(ctx, t, cts[i], w[i], 0);
            bad |= i ? he_ckks_add(ctx, o, o, t) : he_ckks_ct_copy(o, t);
        });
        printf("# unfused: 845 x (mul_scalar + add) %.2f ms\n", ms);
        he_ckks_ct_free(t);
        for (int i = 0; i < K; i++) he_ckks_ct_free(cts[i]);
        free(cts);
        free(w);
    }
    free(v);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(a);
    he_ckks_ct_free(b);
    he_ckks_ct_free(o);
    he_ckks_ct_free(m3);
    he_ckks_keys_free(k);
    he_ckks_ctx_free(ctx);
}

int main(void)
{
    if (he_init() < 0) return 1;
    /* single thread, as the reference (HE_THREADS, when set, overrides) */
    if (!getenv("HE_THREADS") && he_ckks_set_threads(1) < 0) die("threads");
    printf("# threads: %u\n", he_ckks_threads());
    static const int b8[] = {43, 43, 44, 44, 44};
    static const int b16[] = {48, 48, 48, 49, 49, 49, 49, 49, 49};
    /* SEAL 4.4.3 + HEXL, measured 2026-12-06 (see above): medians of 3
    ** runs alternating with this bench, load average about 7 on the 2 cores */
    ref h8 = {.encode = 0.303, .decode = 1.12, .add = 0.0292, .mul = 0.0668, .relin = 1.58, .rescale = 0.230,
              .rotate = 1.64, .encrypt = 1.57, .decrypt = 0.0417};
    ref h16 = {.encode = 0.941, .decode = 21.6, .add = 0.296, .mul = 0.500, .relin = 27.1, .rescale = 1.43,
               .rotate = 33.2, .encrypt = 13.1, .decrypt = 0.245};
    /* SEAL 4.4.3 without HEXL (the earlier build; encode, decode not measured) */
    ref o8 = {.mul = 0.44, .relin = 3.15, .rescale = 0.77, .rotate = 3.24, .add = 0.076, .encrypt = 3.58,
              .decrypt = 0.15};
    ref o16 = {.mul = 1.77, .relin = 20.0, .rescale = 3.26, .rotate = 20.0, .add = 0.31, .encrypt = 12.5,
               .decrypt = 0.58};
    printf("# NTT and element-wise kernels: %s\n",
           ckks_use_ifma() ? "AVX-512 IFMA (primes < 2^50), portable C otherwise" : "portable C");
    bench_n(8192, b8, 5, h8, o8, 41, true);
    bench_n(16384, b16, 9, h16, o16, 21, false);
    if (ckks_use_ifma()) {
        /* the same figures with the portable code, as on a CPU without IFMA */
        printf("# portable C path (as on CPUs without AVX-512 IFMA):\n");
        ckks_force_portable(true);
        variant = "portable.";
        bench_n(8192, b8, 5, h8, o8, 41, true);
        bench_n(16384, b16, 9, h16, o16, 21, false);
    }
    return 0;
}
