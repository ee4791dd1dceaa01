/*
** ivhe_ops_bench.c: per-operation times of the IVHE runtime at the
** tutorial's parameters (w = 2^25, l = 100, bounds 10, scale 1000), for
** dimensions 4 (the XOR network's hidden layer) and 10 (max_dim). No
** reference figures: these explain where the XOR and IMDB times go.
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "he.h"
#include "ivhe/ivhe.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define REPS 2000
#define TIME(name, dim, stmt)                                                          \
    do {                                                                               \
        double best = 1e9;                                                             \
        for (int round = 0; round < 5; round++) {                                      \
            double t0 = now();                                                         \
            for (int rep = 0; rep < REPS / 5; rep++)                                   \
                if ((stmt) < 0) {                                                      \
                    fprintf(stderr, "ivhe_ops_bench: %s: %s\n", name, he_errmsg());    \
                    return 1;                                                          \
                }                                                                      \
            double t = (now() - t0) / (REPS / 5);                                      \
            if (t < best) best = t;                                                    \
        }                                                                              \
        printf("bench ivhe.%u.%s %.2f us\n", dim, name, best * 1e6);                   \
    } while (0)

int main(void)
{
    if (he_init() < 0) return 1;
    printf("%s\n", he_ivhe_warning());
    he_ivhe_params p;
    he_ivhe_params_default(&p);
    he_ivhe_key *k = he_ivhe_key_new(&p);
    double t0 = now();
    if (!k || he_ivhe_key_precompute(k) < 0) {
        fprintf(stderr, "ivhe_ops_bench: %s\n", he_errmsg());
        return 1;
    }
    printf("bench ivhe.keygen_precompute_all %.1f ms\n", (now() - t0) * 1e3);
    static const unsigned dims[2] = {4, 10};
    for (int di = 0; di < 2; di++) {
        unsigned m = dims[di];
        double x[10], y[10];
        for (unsigned i = 0; i < m; i++) {
            x[i] = 0.1 * (i + 1) - 0.4;
            y[i] = 0.3 - 0.05 * i;
        }
        he_ivhe_ct *a = he_ivhe_ct_new(m), *b = he_ivhe_ct_new(m), *o = he_ivhe_ct_new(m), *s = he_ivhe_ct_new(1);
        he_ivhe_ct *rows[10], *cols[10];
        for (unsigned i = 0; i < m; i++) {
            rows[i] = he_ivhe_ct_new(m);
            cols[i] = he_ivhe_ct_new(m);
            if (he_ivhe_encrypt_fixed(k, rows[i], x, m) < 0) return 1;
        }
        if (he_ivhe_encrypt_fixed(k, a, x, m) < 0 || he_ivhe_encrypt_fixed(k, b, y, m) < 0 ||
            he_ivhe_encrypt_fixed(k, s, x, 1) < 0)
            return 1;
        double dec[10];
        TIME("encrypt", m, he_ivhe_encrypt_fixed(k, o, x, m));
        TIME("decrypt", m, he_ivhe_decrypt_fixed(k, a, dec));
        TIME("add", m, he_ivhe_add(o, a, b));
        TIME("inner", m, he_ivhe_inner(k, o, a, b, p.scale));
        TIME("mul_elem", m, he_ivhe_mul_elem(k, o, a, b, p.scale));
        TIME("mul_scalar", m, he_ivhe_mul_scalar(k, o, s, b, p.scale));
        TIME("sigmoid", m, he_ivhe_sigmoid(k, o, a));
        TIME("matvec", m, he_ivhe_matvec(k, o, (const he_ivhe_ct *const *)rows, m, b, p.scale));
        TIME("transpose", m, he_ivhe_transpose(k, cols, (const he_ivhe_ct *const *)rows, m, m));
        for (unsigned i = 0; i < m; i++) {
            he_ivhe_ct_free(rows[i]);
            he_ivhe_ct_free(cols[i]);
        }
        he_ivhe_ct_free(a);
        he_ivhe_ct_free(b);
        he_ivhe_ct_free(o);
        he_ivhe_ct_free(s);
    }
    he_ivhe_key_free(k);
    return 0;
}
