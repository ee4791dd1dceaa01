/*
** paillier.c: Paillier over GMP (see paillier.h).
*/
#include "paillier/paillier.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct he_paillier_pk {
    unsigned bits;
    mpz_t n, n2, half; /* half = floor(n / 2) */
};

struct he_paillier_sk {
    he_paillier_pk pk;
    mpz_t p, q, p2, q2, pm1, qm1;
    mpz_t hp, hq;   /* L_p(g^(p-1) mod p^2)^-1 mod p, likewise for q */
    mpz_t qinv;     /* q^-1 mod p */
    mpz_t lambda, mu;
};

/* ------------------------------------------------------------------------ */
/* randomness                                                               */

/* x uniform in [0, 2^bits) from libsodium. */
static void rand_bits(mpz_t x, unsigned bits)
{
    size_t nb = (bits + 7) / 8;
    uint8_t buf[HE_PAILLIER_MAX_BITS / 8 + 16];
    he_randombytes(buf, nb);
    mpz_import(x, nb, 1, 1, 0, 0, buf);
    he_memzero(buf, nb);
    mpz_fdiv_r_2exp(x, x, bits);
}

/* r uniform in Z_n^* (bias below 2^-64: 64 extra bits reduced mod n). */
static void rand_unit(const he_paillier_pk *pk, mpz_t r, mpz_t g)
{
    do {
        rand_bits(r, pk->bits + 64);
        mpz_mod(r, r, pk->n);
        mpz_gcd(g, r, pk->n);
    } while (mpz_sgn(r) == 0 || mpz_cmp_ui(g, 1) != 0);
}

/* ------------------------------------------------------------------------ */
/* prime search                                                             */

#define SIEVE_LIMIT 65536
#define WINDOW 32768

static unsigned small_primes[7000], inv6_mod[7000];
static unsigned n_small;

static unsigned long powmod_ul(unsigned long b, unsigned long e, unsigned long m)
{
    unsigned long r = 1;
    b %= m;
    while (e) {
        if (e & 1) r = r * b % m;
        b = b * b % m;
        e >>= 1;
    }
    return r;
}

static void init_small_primes_once(void)
{
    static unsigned char comp[SIEVE_LIMIT];
    unsigned cnt = 0;
    for (unsigned i = 2; i < SIEVE_LIMIT; i++) {
        if (comp[i]) continue;
        if (i >= 5 && cnt < sizeof small_primes / sizeof small_primes[0]) {
            small_primes[cnt] = i;
            inv6_mod[cnt] = (unsigned)powmod_ul(6, i - 2, i); /* 6^-1 mod i */
            cnt++;
        }
        if (i < 256)
            for (unsigned j = i * i; j < SIEVE_LIMIT; j += i) comp[j] = 1;
    }
    n_small = cnt;
}

static void init_small_primes(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_small_primes_once);
}

/* A prime p of exactly `bits` bits with its top two bits set; safe (p =
** 2p' + 1, p' prime) unless plain. Candidates p' = start + 6 i (p' = 5 mod
** 6, so neither p' nor 2p' + 1 is divisible by 2 or 3) are sieved by the
** primes 5..65536 for both p' and 2p' + 1 in windows. */
static int find_prime(mpz_t p, unsigned bits, int safe)
{
    init_small_primes();
    unsigned qbits = safe ? bits - 1 : bits; /* bits of the sieved number */
    mpz_t q, t;
    mpz_init(q);
    mpz_init(t);
    unsigned char *mark = he_malloc(WINDOW);
    if (!mark) {
        mpz_clear(q);
        mpz_clear(t);
        return -1;
    }
    int found = 0, stop = 0;
    for (unsigned attempt = 0; attempt < 100000 && !found && !stop; attempt++) {
        rand_bits(q, qbits);
        mpz_setbit(q, qbits - 1);
        mpz_setbit(q, qbits - 2);
        /* q = 5 mod 6 */
        unsigned long r6 = mpz_fdiv_ui(q, 6);
        mpz_add_ui(q, q, (5 + 6 - r6) % 6);
        memset(mark, 0, WINDOW);
        for (unsigned s = 0; s < n_small; s++) {
            unsigned pr = small_primes[s];
            unsigned long r = mpz_fdiv_ui(q, pr);
            /* index i: (r + 6 i) mod pr == 0, and for safe also == (pr-1)/2 */
            unsigned long inv6 = inv6_mod[s];
            unsigned long i0 = ((pr - r) % pr) * inv6 % pr;
            for (unsigned long i = i0; i < WINDOW; i += pr) mark[i] = 1;
            if (safe) {
                unsigned long tgt = (pr - 1) / 2;
                unsigned long i1 = ((tgt + pr - r) % pr) * inv6 % pr;
                for (unsigned long i = i1; i < WINDOW; i += pr) mark[i] = 1;
            }
        }
        for (unsigned i = 0; i < WINDOW && !found; i++) {
            if (mark[i]) continue;
            if ((stop = he_poll_interrupt()) < 0) break;
            mpz_add_ui(t, q, 6ul * i);
            if (mpz_sizeinbase(t, 2) != qbits) break;
            if (safe) {
                /* Fermat base 2 on p' and p before the full tests */
                mpz_t b;
                mpz_init_set_ui(b, 2);
                mpz_sub_ui(p, t, 1);
                mpz_powm(b, b, p, t);
                int ok = mpz_cmp_ui(b, 1) == 0;
                if (ok) {
                    mpz_mul_2exp(p, t, 1);
                    mpz_add_ui(p, p, 1);
                    mpz_set_ui(b, 2);
                    mpz_t e;
                    mpz_init(e);
                    mpz_sub_ui(e, p, 1);
                    mpz_powm(b, b, e, p);
                    ok = mpz_cmp_ui(b, 1) == 0;
                    mpz_clear(e);
                }
                mpz_clear(b);
                if (ok && mpz_probab_prime_p(t, 30) && mpz_probab_prime_p(p, 30)) found = 1;
            } else if (mpz_probab_prime_p(t, 30)) {
                mpz_set(p, t);
                found = 1;
            }
        }
    }
    mpz_clear(q);
    mpz_clear(t);
    he_free_secret(mark, WINDOW);
    if (stop) return -1;
    if (!found) return he_error("paillier: no prime found (randomness failure?)");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* keys                                                                     */

static void pk_init(he_paillier_pk *pk)
{
    mpz_init(pk->n);
    mpz_init(pk->n2);
    mpz_init(pk->half);
    pk->bits = 0;
}

static void pk_clear(he_paillier_pk *pk)
{
    mpz_clear(pk->n);
    mpz_clear(pk->n2);
    mpz_clear(pk->half);
}

static void pk_derive(he_paillier_pk *pk)
{
    mpz_mul(pk->n2, pk->n, pk->n);
    mpz_fdiv_q_2exp(pk->half, pk->n, 1);
    pk->bits = (unsigned)mpz_sizeinbase(pk->n, 2);
}

static he_paillier_sk *sk_alloc(void)
{
    he_paillier_sk *sk = he_calloc(1, sizeof *sk);
    if (!sk) return NULL;
    pk_init(&sk->pk);
    mpz_t *all[] = {&sk->p, &sk->q, &sk->p2, &sk->q2, &sk->pm1, &sk->qm1,
                    &sk->hp, &sk->hq, &sk->qinv, &sk->lambda, &sk->mu};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mpz_init(*all[i]);
    return sk;
}

void he_paillier_sk_free(he_paillier_sk *sk)
{
    if (!sk) return;
    pk_clear(&sk->pk);
    mpz_t *all[] = {&sk->p, &sk->q, &sk->p2, &sk->q2, &sk->pm1, &sk->qm1,
                    &sk->hp, &sk->hq, &sk->qinv, &sk->lambda, &sk->mu};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mpz_clear(*all[i]); /* wiped by the hook */
    he_free_secret(sk, sizeof *sk);
}

/* L_x(u) = (u - 1) / x */
static void Lfun(mpz_t out, const mpz_t u, const mpz_t x)
{
    mpz_sub_ui(out, u, 1);
    mpz_divexact(out, out, x);
}

/* From p, q (p != q): everything else. Fails on inconsistent values. */
static int sk_derive(he_paillier_sk *sk)
{
    if (mpz_cmp(sk->p, sk->q) == 0) return he_error("paillier: p = q");
    mpz_mul(sk->pk.n, sk->p, sk->q);
    pk_derive(&sk->pk);
    mpz_mul(sk->p2, sk->p, sk->p);
    mpz_mul(sk->q2, sk->q, sk->q);
    mpz_sub_ui(sk->pm1, sk->p, 1);
    mpz_sub_ui(sk->qm1, sk->q, 1);
    mpz_t g, u;
    mpz_init(g);
    mpz_init(u);
    int rc = 0;
    mpz_add_ui(g, sk->pk.n, 1);
    /* h_p = L_p(g^(p-1) mod p^2)^-1 mod p */
    mpz_powm_sec(u, g, sk->pm1, sk->p2);
    Lfun(u, u, sk->p);
    if (!mpz_invert(sk->hp, u, sk->p)) rc = he_error("paillier: degenerate key (h_p)");
    mpz_powm_sec(u, g, sk->qm1, sk->q2);
    Lfun(u, u, sk->q);
    if (rc == 0 && !mpz_invert(sk->hq, u, sk->q)) rc = he_error("paillier: degenerate key (h_q)");
    if (rc == 0 && !mpz_invert(sk->qinv, sk->q, sk->p)) rc = he_error("paillier: degenerate key (q^-1)");
    /* lambda = lcm(p-1, q-1), mu = L(g^lambda mod n^2)^-1 mod n */
    mpz_lcm(sk->lambda, sk->pm1, sk->qm1);
    mpz_powm_sec(u, g, sk->lambda, sk->pk.n2);
    Lfun(u, u, sk->pk.n);
    if (rc == 0 && !mpz_invert(sk->mu, u, sk->pk.n)) rc = he_error("paillier: degenerate key (mu)");
    mpz_clear(g);
    mpz_clear(u);
    return rc;
}

static int check_bits(unsigned bits, unsigned flags)
{
    if (bits % 2 || bits > HE_PAILLIER_MAX_BITS)
        return he_error("paillier: modulus size must be even and at most %d bits, got %u", HE_PAILLIER_MAX_BITS,
                        bits);
    if (bits < HE_PAILLIER_MIN_BITS) {
        if (!(flags & HE_PAILLIER_INSECURE))
            return he_error("paillier: a %u-bit modulus is not secure (2048 bits at least; "
                            "HE_PAILLIER_INSECURE allows smaller ones for tests)",
                            bits);
        if (bits < HE_PAILLIER_MIN_INSECURE_BITS)
            return he_error("paillier: modulus below %d bits", HE_PAILLIER_MIN_INSECURE_BITS);
        fprintf(stderr, "warning: paillier: insecure %u-bit modulus (for tests only)\n", bits);
    }
    return 0;
}

he_paillier_sk *he_paillier_keygen(unsigned bits, unsigned flags)
{
    if (check_bits(bits, flags) < 0) return NULL;
    he_paillier_sk *sk = sk_alloc();
    if (!sk) return NULL;
    int safe = !(flags & HE_PAILLIER_PLAIN_PRIMES);
    for (int tries = 0; tries < 16; tries++) {
        if (find_prime(sk->p, bits / 2, safe) < 0 || find_prime(sk->q, bits / 2, safe) < 0) break;
        if (mpz_cmp(sk->p, sk->q) == 0) continue;
        if (sk_derive(sk) < 0) break;
        if (sk->pk.bits == bits) return sk;
    }
    char why[256];
    snprintf(why, sizeof why, "%s", he_errmsg());
    he_error("paillier: key generation failed: %s", why);
    he_paillier_sk_free(sk);
    return NULL;
}

const he_paillier_pk *he_paillier_sk_pk(const he_paillier_sk *sk)
{
    if (!sk) he_misuse("he_paillier_sk_pk: NULL");
    return &sk->pk;
}

he_paillier_pk *he_paillier_pk_copy(const he_paillier_pk *pk)
{
    if (!pk) he_misuse("he_paillier_pk_copy: NULL");
    he_paillier_pk *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    pk_init(c);
    mpz_set(c->n, pk->n);
    pk_derive(c);
    return c;
}

void he_paillier_pk_free(he_paillier_pk *pk)
{
    if (!pk) return;
    pk_clear(pk);
    he_free(pk);
}

unsigned he_paillier_bits(const he_paillier_pk *pk) { return pk->bits; }
void he_paillier_n(const he_paillier_pk *pk, mpz_t n) { mpz_set(n, pk->n); }
int he_paillier_pk_equal(const he_paillier_pk *a, const he_paillier_pk *b) { return mpz_cmp(a->n, b->n) == 0; }

/* ------------------------------------------------------------------------ */
/* encryption                                                               */

he_paillier_ct *he_paillier_ct_new(void)
{
    he_paillier_ct *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    mpz_init(c->c);
    return c;
}

void he_paillier_ct_free(he_paillier_ct *c)
{
    if (!c) return;
    mpz_clear(c->c);
    he_free(c);
}

int he_paillier_ct_copy(he_paillier_ct *dst, const he_paillier_ct *src)
{
    mpz_set(dst->c, src->c);
    return 0;
}

/* |m| < n/2 */
static int check_plain(const he_paillier_pk *pk, const mpz_t m)
{
    if (mpz_cmpabs(m, pk->half) > 0)
        return he_error("paillier: plaintext out of range (|m| must be below n/2)");
    return 0;
}

static int check_ct(const he_paillier_pk *pk, const he_paillier_ct *c)
{
    if (mpz_sgn(c->c) <= 0 || mpz_cmp(c->c, pk->n2) >= 0)
        return he_error("paillier: ciphertext out of range (not under this key?)");
    return 0;
}

/* c = (1 + m n) r^n mod n^2 */
int he_paillier_encrypt(const he_paillier_pk *pk, he_paillier_ct *out, const mpz_t m)
{
    if (!pk || !out || !m) he_misuse("he_paillier_encrypt: NULL");
    if (check_plain(pk, m) < 0) return -1;
    mpz_t r, g;
    mpz_init(r);
    mpz_init(g);
    rand_unit(pk, r, g);
    mpz_powm(r, r, pk->n, pk->n2);
    mpz_mod(g, m, pk->n);
    mpz_mul(g, g, pk->n);
    mpz_add_ui(g, g, 1);
    mpz_mul(out->c, g, r);
    mpz_mod(out->c, out->c, pk->n2);
    mpz_clear(r);
    mpz_clear(g);
    return 0;
}

int he_paillier_encrypt_si(const he_paillier_pk *pk, he_paillier_ct *out, int64_t m)
{
    mpz_t x;
    mpz_init_set_si(x, (long)m);
    int rc = he_paillier_encrypt(pk, out, x);
    mpz_clear(x);
    return rc;
}

static void centre(const he_paillier_pk *pk, mpz_t m)
{
    mpz_mod(m, m, pk->n);
    if (mpz_cmp(m, pk->half) > 0) mpz_sub(m, m, pk->n);
}

int he_paillier_decrypt(const he_paillier_sk *sk, const he_paillier_ct *c, mpz_t m)
{
    if (!sk || !c || !m) he_misuse("he_paillier_decrypt: NULL");
    if (check_ct(&sk->pk, c) < 0) return -1;
    mpz_t u, mp, mq;
    mpz_init(u);
    mpz_init(mp);
    mpz_init(mq);
    /* m_p = L_p(c^(p-1) mod p^2) h_p mod p */
    mpz_mod(u, c->c, sk->p2);
    mpz_powm_sec(u, u, sk->pm1, sk->p2);
    Lfun(u, u, sk->p);
    mpz_mul(mp, u, sk->hp);
    mpz_mod(mp, mp, sk->p);
    mpz_mod(u, c->c, sk->q2);
    mpz_powm_sec(u, u, sk->qm1, sk->q2);
    Lfun(u, u, sk->q);
    mpz_mul(mq, u, sk->hq);
    mpz_mod(mq, mq, sk->q);
    /* m = m_q + q ((m_p - m_q) q^-1 mod p); n is added first so that the
    ** difference is never negative (no branch on the sign of secret values) */
    mpz_add(u, mp, sk->pk.n);
    mpz_sub(u, u, mq);
    mpz_mul(u, u, sk->qinv);
    mpz_mod(u, u, sk->p);
    mpz_mul(u, u, sk->q);
    mpz_add(m, u, mq);
    centre(&sk->pk, m);
    mpz_clear(u);
    mpz_clear(mp);
    mpz_clear(mq);
    return 0;
}

int he_paillier_decrypt_si(const he_paillier_sk *sk, const he_paillier_ct *c, int64_t *m)
{
    mpz_t x;
    mpz_init(x);
    int rc = he_paillier_decrypt(sk, c, x);
    if (rc == 0 && !mpz_fits_slong_p(x)) rc = he_error("paillier: plaintext does not fit in 64 bits");
    if (rc == 0) *m = mpz_get_si(x);
    mpz_clear(x);
    return rc;
}

int he_paillier_decrypt_plain(const he_paillier_sk *sk, const he_paillier_ct *c, mpz_t m)
{
    if (!sk || !c || !m) he_misuse("he_paillier_decrypt_plain: NULL");
    if (check_ct(&sk->pk, c) < 0) return -1;
    mpz_t u;
    mpz_init(u);
    mpz_powm_sec(u, c->c, sk->lambda, sk->pk.n2);
    Lfun(u, u, sk->pk.n);
    mpz_mul(m, u, sk->mu);
    centre(&sk->pk, m);
    mpz_clear(u);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* homomorphic operations                                                   */

int he_paillier_add(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                    const he_paillier_ct *b)
{
    if (!pk || !out || !a || !b) he_misuse("he_paillier_add: NULL");
    if (check_ct(pk, a) < 0 || check_ct(pk, b) < 0) return -1;
    mpz_mul(out->c, a->c, b->c);
    mpz_mod(out->c, out->c, pk->n2);
    return 0;
}

int he_paillier_neg(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a)
{
    if (!pk || !out || !a) he_misuse("he_paillier_neg: NULL");
    if (check_ct(pk, a) < 0) return -1;
    if (!mpz_invert(out->c, a->c, pk->n2)) return he_error("paillier: ciphertext not invertible");
    return 0;
}

int he_paillier_sub(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                    const he_paillier_ct *b)
{
    if (!pk || !out || !a || !b) he_misuse("he_paillier_sub: NULL");
    if (check_ct(pk, a) < 0 || check_ct(pk, b) < 0) return -1;
    mpz_t t;
    mpz_init(t);
    int rc = 0;
    if (!mpz_invert(t, b->c, pk->n2)) rc = he_error("paillier: ciphertext not invertible");
    else {
        mpz_mul(out->c, a->c, t);
        mpz_mod(out->c, out->c, pk->n2);
    }
    mpz_clear(t);
    return rc;
}

int he_paillier_add_plain(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                          const mpz_t m)
{
    if (!pk || !out || !a || !m) he_misuse("he_paillier_add_plain: NULL");
    if (check_ct(pk, a) < 0 || check_plain(pk, m) < 0) return -1;
    mpz_t g;
    mpz_init(g);
    mpz_mod(g, m, pk->n);
    mpz_mul(g, g, pk->n);
    mpz_add_ui(g, g, 1);
    mpz_mul(out->c, a->c, g);
    mpz_mod(out->c, out->c, pk->n2);
    mpz_clear(g);
    return 0;
}

int he_paillier_mul_plain(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                          const mpz_t k)
{
    if (!pk || !out || !a || !k) he_misuse("he_paillier_mul_plain: NULL");
    if (check_ct(pk, a) < 0 || check_plain(pk, k) < 0) return -1;
    if (mpz_sgn(k) == 0) {
        /* a fresh encryption of 0, not the trivial ciphertext 1 that anyone
        ** could recognise as 0 */
        mpz_t z;
        mpz_init(z);
        int rc = he_paillier_encrypt(pk, out, z);
        mpz_clear(z);
        return rc;
    }
    mpz_t e, b;
    mpz_init(e);
    mpz_init(b);
    int rc = 0;
    mpz_abs(e, k);
    if (mpz_sgn(k) < 0) {
        if (!mpz_invert(b, a->c, pk->n2)) rc = he_error("paillier: ciphertext not invertible");
    } else {
        mpz_set(b, a->c);
    }
    if (rc == 0) mpz_powm(out->c, b, e, pk->n2);
    mpz_clear(e);
    mpz_clear(b);
    return rc;
}

int he_paillier_mul_si(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a, int64_t k)
{
    mpz_t x;
    mpz_init_set_si(x, (long)k);
    int rc = he_paillier_mul_plain(pk, out, a, x);
    mpz_clear(x);
    return rc;
}

int he_paillier_rerandomize(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a)
{
    if (!pk || !out || !a) he_misuse("he_paillier_rerandomize: NULL");
    if (check_ct(pk, a) < 0) return -1;
    mpz_t r, g;
    mpz_init(r);
    mpz_init(g);
    rand_unit(pk, r, g);
    mpz_powm(r, r, pk->n, pk->n2);
    mpz_mul(out->c, a->c, r);
    mpz_mod(out->c, out->c, pk->n2);
    mpz_clear(r);
    mpz_clear(g);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* fixed point and packing                                                  */

int he_paillier_encode_fixed(const he_paillier_pk *pk, mpz_t m, double x, uint64_t scale)
{
    if (!pk || !m) he_misuse("he_paillier_encode_fixed: NULL");
    if (scale == 0) return he_error("paillier: fixed-point scale must be >= 1");
    double s = x * (double)scale;
    if (!isfinite(s)) return he_error("paillier: cannot encode %g at scale %llu", x, (unsigned long long)scale);
    mpz_set_d(m, nearbyint(s));
    return check_plain(pk, m);
}

int he_paillier_encode_fixed_2exp(const he_paillier_pk *pk, mpz_t m, double x, unsigned e)
{
    if (!pk || !m) he_misuse("he_paillier_encode_fixed_2exp: NULL");
    if (e > HE_PAILLIER_MAX_BITS) return he_error("paillier: fixed-point scale 2^%u too large", e);
    double s = ldexp(x, (int)e); /* exact unless it overflows */
    if (!isfinite(s)) return he_error("paillier: cannot encode %g at scale 2^%u", x, e);
    mpz_set_d(m, nearbyint(s));
    return check_plain(pk, m);
}

int he_paillier_decode_fixed(const he_paillier_pk *pk, const mpz_t m, double scale, double *x)
{
    if (!pk || !m || !x) he_misuse("he_paillier_decode_fixed: NULL");
    if (!(scale > 0)) return he_error("paillier: fixed-point scale must be positive");
    mpz_t t;
    mpz_init_set(t, m);
    centre(pk, t);
    *x = mpz_get_d(t) / scale;
    mpz_clear(t);
    return 0;
}

unsigned he_paillier_pack_capacity(const he_paillier_pk *pk, unsigned slot_bits)
{
    if (slot_bits < 2 || slot_bits > 64) return 0;
    return (pk->bits - 2) / slot_bits;
}

static int check_pack(const he_paillier_pk *pk, unsigned k, unsigned B)
{
    if (B < 2 || B > 64) return he_error("paillier: slot size must be 2..64 bits, got %u", B);
    if (k == 0 || k > he_paillier_pack_capacity(pk, B))
        return he_error("paillier: %u slots of %u bits do not fit a %u-bit modulus (at most %u)", k, B, pk->bits,
                        he_paillier_pack_capacity(pk, B));
    return 0;
}

int he_paillier_pack(const he_paillier_pk *pk, mpz_t m, const int64_t *v, unsigned k, unsigned B)
{
    if (!pk || !m || !v) he_misuse("he_paillier_pack: NULL");
    if (check_pack(pk, k, B) < 0) return -1;
    int64_t lim = B == 64 ? INT64_MAX : ((int64_t)1 << (B - 1)) - 1;
    mpz_set_ui(m, 0);
    for (unsigned i = k; i-- > 0;) {
        if (v[i] > lim || v[i] < -lim - 1)
            return he_error("paillier: value %lld does not fit a %u-bit slot", (long long)v[i], B);
        mpz_mul_2exp(m, m, B);
        if (v[i] >= 0) mpz_add_ui(m, m, (unsigned long)v[i]);
        else mpz_sub_ui(m, m, (unsigned long)(-(v[i] + 1)) + 1ul);
    }
    return 0;
}

int he_paillier_unpack(const he_paillier_pk *pk, const mpz_t m, int64_t *v, unsigned k, unsigned B)
{
    if (!pk || !m || !v) he_misuse("he_paillier_unpack: NULL");
    if (check_pack(pk, k, B) < 0) return -1;
    mpz_t x, r, pw;
    mpz_init_set(x, m);
    mpz_init(r);
    mpz_init(pw);
    mpz_setbit(pw, B);
    centre(pk, x);
    for (unsigned i = 0; i < k; i++) {
        mpz_fdiv_r_2exp(r, x, B); /* [0, 2^B) */
        if (mpz_tstbit(r, B - 1)) mpz_sub(r, r, pw); /* signed residue */
        v[i] = mpz_get_si(r);
        mpz_sub(x, x, r);
        mpz_fdiv_q_2exp(x, x, B);
    }
    int rc = 0;
    if (mpz_sgn(x) != 0) rc = he_error("paillier: packed value overflows its %u slots (a slot bound was exceeded)", k);
    mpz_clear(x);
    mpz_clear(r);
    mpz_clear(pw);
    return rc;
}

int he_paillier_pack_fixed(const he_paillier_pk *pk, mpz_t m, const double *x, unsigned k, unsigned B,
                           uint64_t scale)
{
    if (!pk || !m || !x) he_misuse("he_paillier_pack_fixed: NULL");
    if (check_pack(pk, k, B) < 0) return -1;
    if (scale == 0) return he_error("paillier: fixed-point scale must be >= 1");
    int64_t *v = he_malloc(k * sizeof *v);
    if (!v) return -1;
    int rc = 0;
    for (unsigned i = 0; i < k && rc == 0; i++) {
        double s = nearbyint(x[i] * (double)scale);
        if (!(fabs(s) < 9.2e18)) rc = he_error("paillier: cannot encode %g at scale %llu", x[i],
                                                (unsigned long long)scale);
        else v[i] = (int64_t)s;
    }
    if (rc == 0) rc = he_paillier_pack(pk, m, v, k, B);
    he_free_secret(v, k * sizeof *v);
    return rc;
}

int he_paillier_unpack_fixed(const he_paillier_pk *pk, const mpz_t m, double *x, unsigned k, unsigned B,
                             double scale)
{
    if (!pk || !m || !x) he_misuse("he_paillier_unpack_fixed: NULL");
    if (!(scale > 0)) return he_error("paillier: fixed-point scale must be positive");
    if (check_pack(pk, k, B) < 0) return -1;
    int64_t *v = he_malloc(k * sizeof *v);
    if (!v) return -1;
    int rc = he_paillier_unpack(pk, m, v, k, B);
    for (unsigned i = 0; i < k && rc == 0; i++) x[i] = (double)v[i] / scale;
    he_free_secret(v, k * sizeof *v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* files                                                                    */
/*
** Layout (integers big-endian):
**   magic "HEPAILR\0" (8) | version u32 | kind u32 | nfields u32 |
**   nfields x (length u32, bytes) | BLAKE2b-256 of everything before (32)
** kinds: 1 public key (n), 2 secret key (p, q), 3 ciphertext (key
** fingerprint: BLAKE2b-256 of n's bytes, c), 4 ciphertext vector (key
** fingerprint, 12 bytes: ndim u32, scale bits u32, count u32, then the
** count ciphertexts, each big-endian in bytes(n^2) bytes).
** Every ciphertext is re-randomized as it is written (circuit privacy: the
** file shows nothing of how the value was computed).
*/

static const uint8_t MAGIC[8] = {'H', 'E', 'P', 'A', 'I', 'L', 'R', 0};
enum { KIND_PK = 1, KIND_SK = 2, KIND_CT = 3, KIND_CTV = 4 };
#define MAX_FILE (64 * 1024)
#define MAX_VEC_FILE ((size_t)1 << 30)
#define MAX_FIELDS 4

static const char *kind_name(uint32_t k)
{
    return k == KIND_PK   ? "a public key"
           : k == KIND_SK ? "a secret key"
           : k == KIND_CT ? "a ciphertext"
           : k == KIND_CTV ? "a ciphertext vector"
                           : "unknown";
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct field {
    const uint8_t *bytes; /* raw bytes, or NULL for an integer */
    size_t len;
    const mpz_t *z;
} field;

static int write_file(const char *path, uint32_t kind, const field *f, unsigned nf, int secret)
{
    size_t max = MAX_FILE;
    if (kind == KIND_CTV) {
        max = 20 + 32;
        for (unsigned i = 0; i < nf; i++)
            max += 4 + (f[i].bytes ? f[i].len : (mpz_sizeinbase(*f[i].z, 2) + 7) / 8);
        if (max > MAX_VEC_FILE) return he_error("paillier: value too large to save");
    }
    uint8_t *buf = he_malloc(max);
    if (!buf) return -1;
    size_t pos = 0;
    memcpy(buf, MAGIC, 8);
    put32(buf + 8, HE_PAILLIER_FORMAT_VERSION);
    put32(buf + 12, kind);
    put32(buf + 16, nf);
    pos = 20;
    int rc = 0;
    for (unsigned i = 0; i < nf && rc == 0; i++) {
        size_t len = f[i].bytes ? f[i].len : (mpz_sizeinbase(*f[i].z, 2) + 7) / 8;
        if (pos + 4 + len + 32 > max) {
            rc = he_error("paillier: value too large to save");
            break;
        }
        put32(buf + pos, (uint32_t)len);
        pos += 4;
        if (f[i].bytes) memcpy(buf + pos, f[i].bytes, len);
        else {
            size_t cnt = 0;
            mpz_export(buf + pos, &cnt, 1, 1, 0, 0, *f[i].z);
            len = cnt;
        }
        pos += len;
    }
    if (rc == 0) {
        crypto_generichash(buf + pos, 32, buf, pos, NULL, 0);
        pos += 32;
        /* atomic (a failure leaves an existing key intact), 0600 for secrets */
        rc = he_file_write(path, buf, pos, secret, "paillier");
    }
    he_free_secret(buf, max);
    return rc;
}

/* Reads and checks a file of `kind`; fields as (pointer, length) into buf. */
static int read_file(const char *path, uint32_t kind, uint8_t **bufp, size_t *blen, const uint8_t **fp, size_t *fl,
                     unsigned nf)
{
    *bufp = NULL;
    *blen = 0;
    uint8_t *buf = NULL;
    size_t n = 0;
    /* no stdio buffer: secret keys are read straight into a wiped buffer */
    if (he_file_read(path, kind == KIND_CTV ? MAX_VEC_FILE : MAX_FILE, "paillier", &buf, &n) < 0) return -1;
    *bufp = buf;
    *blen = n + 1;
    if (n < 8 || memcmp(buf, MAGIC, 8) != 0) return he_error("paillier: %s is not a he Paillier file", path);
    if (n < 20 + 32) return he_error("paillier: %s is damaged (truncated)", path);
    uint32_t ver = get32(buf + 8);
    if (ver != HE_PAILLIER_FORMAT_VERSION)
        return he_error("paillier: %s has format version %u; this build reads version %d", path, ver,
                        HE_PAILLIER_FORMAT_VERSION);
    uint8_t h[32];
    crypto_generichash(h, 32, buf, n - 32, NULL, 0);
    if (sodium_memcmp(h, buf + n - 32, 32) != 0)
        return he_error("paillier: %s is damaged (checksum mismatch)", path);
    uint32_t k = get32(buf + 12);
    if (k != kind) return he_error("paillier: %s holds %s, not %s", path, kind_name(k), kind_name(kind));
    if (get32(buf + 16) != nf) return he_error("paillier: %s is damaged (field count)", path);
    size_t pos = 20, end = n - 32;
    for (unsigned i = 0; i < nf; i++) {
        if (pos + 4 > end) return he_error("paillier: %s is damaged (truncated)", path);
        size_t len = get32(buf + pos);
        pos += 4;
        if (len > end - pos) return he_error("paillier: %s is damaged (truncated)", path);
        fp[i] = buf + pos;
        fl[i] = len;
        pos += len;
    }
    if (pos != end) return he_error("paillier: %s is damaged (trailing bytes)", path);
    return 0;
}

static void fingerprint(const he_paillier_pk *pk, uint8_t fp[32])
{
    uint8_t buf[HE_PAILLIER_MAX_BITS / 8 + 8];
    size_t cnt = 0;
    mpz_export(buf, &cnt, 1, 1, 0, 0, pk->n);
    crypto_generichash(fp, 32, buf, cnt, NULL, 0);
}

/* A ciphertext file's key fingerprint (fp, len bytes) against pk's. */
static int same_key(const he_paillier_pk *pk, const uint8_t *fp, size_t len, const char *path)
{
    uint8_t want[32];
    fingerprint(pk, want);
    if (len != 32 || sodium_memcmp(want, fp, 32) != 0)
        return he_error("paillier: %s was encrypted under another key", path);
    return 0;
}

/* A modulus read from a file: size and oddness. */
static int check_modulus(const he_paillier_pk *pk, const char *path)
{
    if (pk->bits < HE_PAILLIER_MIN_INSECURE_BITS || pk->bits > HE_PAILLIER_MAX_BITS || mpz_even_p(pk->n))
        return he_error("paillier: %s holds an invalid modulus", path);
    return 0;
}

int he_paillier_pk_save(const he_paillier_pk *pk, const char *path)
{
    if (!pk || !path) he_misuse("he_paillier_pk_save: NULL");
    field f[1] = {{NULL, 0, &pk->n}};
    return write_file(path, KIND_PK, f, 1, 0);
}

he_paillier_pk *he_paillier_pk_load(const char *path)
{
    if (!path) he_misuse("he_paillier_pk_load: NULL");
    uint8_t *buf;
    size_t blen;
    const uint8_t *fp[1];
    size_t fl[1];
    he_paillier_pk *pk = NULL;
    if (read_file(path, KIND_PK, &buf, &blen, fp, fl, 1) == 0 && (pk = he_calloc(1, sizeof *pk))) {
        pk_init(pk);
        mpz_import(pk->n, fl[0], 1, 1, 0, 0, fp[0]);
        pk_derive(pk);
        if (check_modulus(pk, path) < 0) {
            he_paillier_pk_free(pk);
            pk = NULL;
        }
    }
    if (buf) he_free_secret(buf, blen);
    return pk;
}

int he_paillier_sk_save(const he_paillier_sk *sk, const char *path)
{
    if (!sk || !path) he_misuse("he_paillier_sk_save: NULL");
    field f[2] = {{NULL, 0, &sk->p}, {NULL, 0, &sk->q}};
    return write_file(path, KIND_SK, f, 2, 1);
}

he_paillier_sk *he_paillier_sk_load(const char *path)
{
    if (!path) he_misuse("he_paillier_sk_load: NULL");
    uint8_t *buf;
    size_t blen;
    const uint8_t *fp[2];
    size_t fl[2];
    he_paillier_sk *sk = NULL;
    if (read_file(path, KIND_SK, &buf, &blen, fp, fl, 2) == 0 && (sk = sk_alloc())) {
        mpz_import(sk->p, fl[0], 1, 1, 0, 0, fp[0]);
        mpz_import(sk->q, fl[1], 1, 1, 0, 0, fp[1]);
        int rc = 0;
        if (mpz_cmp_ui(sk->p, 3) < 0 || mpz_cmp_ui(sk->q, 3) < 0 || !mpz_probab_prime_p(sk->p, 10) ||
            !mpz_probab_prime_p(sk->q, 10))
            rc = he_error("paillier: %s holds an invalid secret key (p, q not prime)", path);
        if (rc == 0) rc = sk_derive(sk);
        if (rc == 0) rc = check_modulus(&sk->pk, path);
        if (rc < 0) {
            he_paillier_sk_free(sk);
            sk = NULL;
        }
    }
    if (buf) he_free_secret(buf, blen);
    return sk;
}

int he_paillier_ct_save(const he_paillier_pk *pk, const he_paillier_ct *c, const char *path)
{
    if (!pk || !c || !path) he_misuse("he_paillier_ct_save: NULL");
    he_paillier_ct r;
    mpz_init(r.c);
    int rc = he_paillier_rerandomize(pk, &r, c); /* checks c */
    if (rc == 0) {
        uint8_t fp[32];
        fingerprint(pk, fp);
        field f[2] = {{fp, 32, NULL}, {NULL, 0, &r.c}};
        rc = write_file(path, KIND_CT, f, 2, 0);
    }
    mpz_clear(r.c);
    return rc;
}

/* bytes of one ciphertext in a vector file */
static size_t ct_width(const he_paillier_pk *pk) { return (mpz_sizeinbase(pk->n2, 2) + 7) / 8; }

int he_paillier_ctv_save(const he_paillier_pk *pk, const he_paillier_ct *c, size_t count, unsigned ndim,
                         unsigned scale_bits, const char *path)
{
    if (!pk || (!c && count) || !path) he_misuse("he_paillier_ctv_save: NULL");
    size_t w = ct_width(pk), bytes;
    if (count > UINT32_MAX || he_mul_size(count, w, &bytes) < 0 || bytes > MAX_VEC_FILE)
        return he_error("paillier: value too large to save");
    uint8_t *body = he_malloc(bytes ? bytes : 1);
    if (!body) return -1;
    memset(body, 0, bytes);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        he_paillier_ct t;
        mpz_init(t.c);
        rc = he_paillier_rerandomize(pk, &t, &c[i]);
        if (rc == 0) {
            size_t len = (mpz_sizeinbase(t.c, 2) + 7) / 8, cnt = 0;
            mpz_export(body + i * w + (w - len), &cnt, 1, 1, 0, 0, t.c);
        }
        mpz_clear(t.c);
    }
    if (rc == 0) {
        uint8_t fp[32], head[12];
        fingerprint(pk, fp);
        put32(head, ndim);
        put32(head + 4, scale_bits);
        put32(head + 8, (uint32_t)count);
        field f[3] = {{fp, 32, NULL}, {head, 12, NULL}, {body, bytes, NULL}};
        rc = write_file(path, KIND_CTV, f, 3, 0);
    }
    free(body);
    return rc;
}

int he_paillier_ctv_load(const he_paillier_pk *pk, const char *path, he_paillier_ct **out, size_t *count,
                         unsigned *ndim, unsigned *scale_bits)
{
    if (!pk || !path || !out || !count || !ndim || !scale_bits) he_misuse("he_paillier_ctv_load: NULL");
    *out = NULL;
    *count = 0;
    uint8_t *buf;
    size_t blen;
    const uint8_t *fp[3];
    size_t fl[3];
    int rc = read_file(path, KIND_CTV, &buf, &blen, fp, fl, 3);
    if (rc == 0) rc = same_key(pk, fp[0], fl[0], path);
    size_t n = 0, w = ct_width(pk);
    if (rc == 0 && fl[1] != 12) rc = he_error("paillier: %s is damaged (header)", path);
    if (rc == 0) {
        n = get32(fp[1] + 8);
        *ndim = get32(fp[1]);
        *scale_bits = get32(fp[1] + 4);
        if (*ndim > 1 || (*ndim == 0 && n != 1) || fl[2] / w != n || fl[2] % w != 0)
            rc = he_error("paillier: %s is damaged (shape)", path);
    }
    he_paillier_ct *c = NULL;
    if (rc == 0 && !(c = he_malloc((n ? n : 1) * sizeof *c))) rc = -1;
    size_t made = 0;
    for (; rc == 0 && made < n; made++) {
        mpz_init(c[made].c);
        mpz_import(c[made].c, w, 1, 1, 0, 0, fp[2] + made * w);
        if (check_ct(pk, &c[made]) < 0) rc = he_error("paillier: %s holds a ciphertext out of range", path);
    }
    if (rc == 0) {
        *out = c;
        *count = n;
    } else if (c) {
        for (size_t i = 0; i < made; i++) mpz_clear(c[i].c);
        free(c);
    }
    if (buf) he_free_secret(buf, blen);
    return rc;
}

int he_paillier_ct_load(const he_paillier_pk *pk, he_paillier_ct *c, const char *path)
{
    if (!pk || !c || !path) he_misuse("he_paillier_ct_load: NULL");
    uint8_t *buf;
    size_t blen;
    const uint8_t *fp[2];
    size_t fl[2];
    int rc = read_file(path, KIND_CT, &buf, &blen, fp, fl, 2);
    if (rc == 0) rc = same_key(pk, fp[0], fl[0], path);
    if (rc == 0) {
        mpz_t t;
        mpz_init(t);
        mpz_import(t, fl[1], 1, 1, 0, 0, fp[1]);
        if (mpz_sgn(t) <= 0 || mpz_cmp(t, pk->n2) >= 0)
            rc = he_error("paillier: %s holds a ciphertext out of range", path);
        else mpz_swap(c->c, t);
        mpz_clear(t);
    }
    if (buf) he_free_secret(buf, blen);
    return rc;
}
