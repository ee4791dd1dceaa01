/*
** zp.c: Z_p through GMP (elements are mpz_t in [0, p)).
*/
#include <string.h>

#include "smpc/smpc_int.h"

mpz_t *zp_alloc(size_t n)
{
    mpz_t *v = he_calloc(n ? n : 1, sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) mpz_init(v[i]);
    return v;
}

/* GMP frees through the runtime's allocator, which wipes the limbs. */
void zp_free(mpz_t *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) mpz_clear(v[i]);
    he_free(v);
}

void zp_matmul_acc(mpz_t *C, mpz_t *const A, mpz_t *const B, size_t m, size_t k, size_t n, const mpz_t p)
{
    mpz_t acc;
    mpz_init(acc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            mpz_set(acc, C[i * n + j]);
            for (size_t t = 0; t < k; t++) mpz_addmul(acc, A[i * k + t], B[t * n + j]);
            mpz_mod(C[i * n + j], acc, p);
        }
    mpz_clear(acc);
}

void zp_to_bytes(const mpz_t v, uint8_t *out, size_t pbytes)
{
    size_t cnt = 0;
    memset(out, 0, pbytes);
    size_t need = (mpz_sizeinbase(v, 2) + 7) / 8;
    if (mpz_sgn(v) == 0) return;
    mpz_export(out + (pbytes - need), &cnt, 1, 1, 1, 0, v);
}

void zp_from_bytes(mpz_t v, const uint8_t *in, size_t pbytes) { mpz_import(v, pbytes, 1, 1, 1, 0, in); }

void zp_set_i64(mpz_t v, int64_t x, const mpz_t p)
{
    if (x >= 0) {
        mpz_set_ui(v, (unsigned long)x);
    } else {
        mpz_set_ui(v, (unsigned long)(-(uint64_t)x));
        mpz_neg(v, v);
    }
    mpz_mod(v, v, p);
}

int zp_get_i64(const mpz_t v, const mpz_t p, int64_t *out)
{
    mpz_t t, h;
    mpz_init(t);
    mpz_init(h);
    mpz_set(t, v);
    mpz_fdiv_q_2exp(h, p, 1);
    if (mpz_cmp(t, h) > 0) mpz_sub(t, t, p);
    int ok = mpz_fits_slong_p(t);
    if (ok) *out = (int64_t)mpz_get_si(t);
    mpz_clear(t);
    mpz_clear(h);
    return ok ? 0 : he_error("smpc: revealed value does not fit in 64 bits");
}
