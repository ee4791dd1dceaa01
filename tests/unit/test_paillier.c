/*
** test_paillier.c: Paillier against plaintext on random inputs.
** Most cases use a 512-bit modulus through the explicit insecure opt-out
** (and a 1024-bit one with plain primes); one 2048-bit key generation
** checks the real size. Exact arithmetic: every check is equality, except
** fixed point (within 1 / scale per rounding).
*/
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "he.h"
#include "paillier/paillier.h"

static he_paillier_sk *SK, *SK2;
static const he_paillier_pk *PK;
static he_prng G;
static char dir[64];

/* x uniform in (-bound, bound) */
static void rnd_mpz(mpz_t x, const mpz_t bound)
{
    uint8_t buf[600];
    size_t nb = (mpz_sizeinbase(bound, 2) + 7) / 8 + 8;
    he_prng_bytes(&G, buf, nb);
    mpz_import(x, nb, 1, 1, 0, 0, buf);
    mpz_mod(x, x, bound);
    if (buf[0] & 1) mpz_neg(x, x);
}

static void half_n(const he_paillier_pk *pk, mpz_t h)
{
    he_paillier_n(pk, h);
    mpz_fdiv_q_2exp(h, h, 1);
}

static void test_sizes(void)
{
    CHECK(he_paillier_keygen(1024, 0) == NULL && strstr(he_errmsg(), "not secure"), "1024 bits accepted: %s",
          he_errmsg());
    CHECK(he_paillier_keygen(2047, 0) == NULL, "odd size accepted");
    CHECK(he_paillier_keygen(128, HE_PAILLIER_INSECURE) == NULL, "128 bits accepted");
    CHECK(he_paillier_bits(PK) == 512, "512-bit key has %u bits", he_paillier_bits(PK));
    CHECK(he_paillier_bits(he_paillier_sk_pk(SK2)) == 1024, "1024-bit key has %u bits",
          he_paillier_bits(he_paillier_sk_pk(SK2)));
}

static void test_encrypt_decrypt(void)
{
    he_paillier_sk *keys[2] = {SK, SK2};
    mpz_t h, m, r, r2;
    mpz_inits(h, m, r, r2, NULL);
    he_paillier_ct *c = he_paillier_ct_new(), *d = he_paillier_ct_new();
    for (int k = 0; k < 2; k++) {
        const he_paillier_pk *pk = he_paillier_sk_pk(keys[k]);
        half_n(pk, h);
        for (int i = 0; i < 20; i++) {
            rnd_mpz(m, h);
            if (i == 0) mpz_set(m, h); /* the extremes */
            if (i == 1) mpz_neg(m, h);
            if (i == 2) mpz_set_ui(m, 0);
            CHECK(he_paillier_encrypt(pk, c, m) == 0, "encrypt: %s", he_errmsg());
            CHECK(he_paillier_decrypt(keys[k], c, r) == 0 && mpz_cmp(m, r) == 0, "decrypt differs (case %d)", i);
            CHECK(he_paillier_decrypt_plain(keys[k], c, r2) == 0 && mpz_cmp(r, r2) == 0,
                  "CRT and plain decryption differ");
            CHECK(he_paillier_encrypt(pk, d, m) == 0 && mpz_cmp(c->c, d->c) != 0, "encryption is deterministic");
        }
        mpz_add_ui(m, h, 1);
        CHECK(he_paillier_encrypt(pk, c, m) < 0, "plaintext n/2 + 1 accepted");
    }
    int64_t v;
    CHECK(he_paillier_encrypt_si(PK, c, -123456789) == 0 && he_paillier_decrypt_si(SK, c, &v) == 0 &&
              v == -123456789,
          "int64 round trip");
    he_paillier_ct_free(c);
    he_paillier_ct_free(d);
    mpz_clears(h, m, r, r2, NULL);
}

static void test_crt_equals_plain(void)
{
    /* random elements of Z_{n^2}: both decryptions agree on every one */
    mpz_t n2, x, a, b;
    mpz_inits(n2, x, a, b, NULL);
    he_paillier_n(PK, n2);
    mpz_mul(n2, n2, n2);
    he_paillier_ct *c = he_paillier_ct_new();
    for (int i = 0; i < 50; i++) {
        rnd_mpz(x, n2);
        mpz_abs(x, x);
        if (mpz_sgn(x) == 0) continue;
        mpz_set(c->c, x);
        CHECK(he_paillier_decrypt(SK, c, a) == 0 && he_paillier_decrypt_plain(SK, c, b) == 0, "decrypt");
        CHECK(mpz_cmp(a, b) == 0, "CRT and plain decryption differ on a random element");
    }
    mpz_set(c->c, n2);
    CHECK(he_paillier_decrypt(SK, c, a) < 0, "ciphertext n^2 accepted");
    he_paillier_ct_free(c);
    mpz_clears(n2, x, a, b, NULL);
}

static void test_homomorphic(void)
{
    mpz_t q, a, b, k, want, got, n;
    mpz_inits(q, a, b, k, want, got, n, NULL);
    he_paillier_n(PK, n);
    mpz_fdiv_q_2exp(q, n, 3); /* operands below n/8: sums stay in range */
    he_paillier_ct *ca = he_paillier_ct_new(), *cb = he_paillier_ct_new(), *o = he_paillier_ct_new();
    for (int i = 0; i < 25; i++) {
        rnd_mpz(a, q);
        rnd_mpz(b, q);
        CHECK(he_paillier_encrypt(PK, ca, a) == 0 && he_paillier_encrypt(PK, cb, b) == 0, "encrypt");
        mpz_add(want, a, b);
        CHECK(he_paillier_add(PK, o, ca, cb) == 0 && he_paillier_decrypt(SK, o, got) == 0 && mpz_cmp(got, want) == 0,
              "add");
        mpz_sub(want, a, b);
        CHECK(he_paillier_sub(PK, o, ca, cb) == 0 && he_paillier_decrypt(SK, o, got) == 0 && mpz_cmp(got, want) == 0,
              "sub");
        mpz_neg(want, a);
        CHECK(he_paillier_neg(PK, o, ca) == 0 && he_paillier_decrypt(SK, o, got) == 0 && mpz_cmp(got, want) == 0,
              "neg");
        mpz_add(want, a, b);
        CHECK(he_paillier_add_plain(PK, o, ca, b) == 0 && he_paillier_decrypt(SK, o, got) == 0 &&
                  mpz_cmp(got, want) == 0,
              "add_plain");
        int64_t s = (int64_t)(he_prng_u64(&G) % 2000001) - 1000000;
        mpz_set_si(k, (long)s);
        mpz_fdiv_q_2exp(b, a, 24); /* a / 2^24 times |s| < 2^20 stays in range */
        CHECK(he_paillier_encrypt(PK, ca, b) == 0, "encrypt");
        mpz_mul(want, b, k);
        CHECK(he_paillier_mul_plain(PK, o, ca, k) == 0 && he_paillier_decrypt(SK, o, got) == 0 &&
                  mpz_cmp(got, want) == 0,
              "mul_plain by %lld", (long long)s);
        CHECK(he_paillier_mul_si(PK, o, ca, 0) == 0 && he_paillier_decrypt(SK, o, got) == 0 && mpz_sgn(got) == 0,
              "mul by 0");
        /* aliasing and rerandomisation */
        mpz_set(got, ca->c);
        CHECK(he_paillier_rerandomize(PK, ca, ca) == 0 && mpz_cmp(got, ca->c) != 0, "rerandomize kept c");
        CHECK(he_paillier_decrypt(SK, ca, got) == 0 && mpz_cmp(got, b) == 0, "rerandomize changed m");
        CHECK(he_paillier_add(PK, ca, ca, ca) == 0 && he_paillier_decrypt(SK, ca, got) == 0, "aliased add");
        mpz_mul_2exp(want, b, 1);
        CHECK(mpz_cmp(got, want) == 0, "aliased add value");
    }
    /* a ciphertext of another key is out of range for a smaller one */
    he_paillier_ct *big = he_paillier_ct_new();
    CHECK(he_paillier_encrypt_si(he_paillier_sk_pk(SK2), big, 5) == 0, "encrypt 1024");
    mpz_t n2;
    mpz_init(n2);
    mpz_mul(n2, n, n);
    if (mpz_cmp(big->c, n2) >= 0) CHECK(he_paillier_add(PK, o, big, ca) < 0, "foreign ciphertext accepted");
    mpz_clear(n2);
    he_paillier_ct_free(big);
    he_paillier_ct_free(ca);
    he_paillier_ct_free(cb);
    he_paillier_ct_free(o);
    mpz_clears(q, a, b, k, want, got, n, NULL);
}

static void test_fixed_point(void)
{
    const uint64_t scale = (uint64_t)1 << 20;
    mpz_t m, w, r;
    mpz_inits(m, w, r, NULL);
    he_paillier_ct *acc = he_paillier_ct_new(), *c = he_paillier_ct_new();
    double sum = 0;
    CHECK(he_paillier_encrypt_si(PK, acc, 0) == 0, "encrypt 0");
    for (int i = 0; i < 20; i++) {
        double x = (he_prng_uniform(&G) - 0.5) * 200, wt = (he_prng_uniform(&G) - 0.5) * 4;
        CHECK(he_paillier_encode_fixed(PK, m, x, scale) == 0 && he_paillier_encode_fixed(PK, w, wt, scale) == 0,
              "encode");
        double back;
        CHECK(he_paillier_decode_fixed(PK, m, (double)scale, &back) == 0 && fabs(back - x) <= 0.5 / scale,
              "decode %g vs %g", back, x);
        CHECK(he_paillier_encrypt(PK, c, m) == 0 && he_paillier_mul_plain(PK, c, c, w) == 0 &&
                  he_paillier_add(PK, acc, acc, c) == 0,
              "weighted sum");
        sum += x * wt;
    }
    double got;
    CHECK(he_paillier_decrypt(SK, acc, r) == 0 && he_paillier_decode_fixed(PK, r, (double)scale * scale, &got) == 0,
          "decrypt");
    /* each product has rounding below (|x| + |w|) / (2 scale) */
    CHECK(fabs(got - sum) <= 20 * 102.0 / scale, "sum of products %g vs %g", got, sum);
    CHECK(he_paillier_encode_fixed(PK, m, INFINITY, scale) < 0, "infinity encoded");
    he_paillier_ct_free(acc);
    he_paillier_ct_free(c);
    mpz_clears(m, w, r, NULL);
}

static void test_packing(void)
{
    const unsigned B = 32;
    unsigned cap = he_paillier_pack_capacity(PK, B);
    CHECK(cap == (512 - 2) / 32, "capacity %u", cap);
    int64_t v[64], u[64], total[64] = {0};
    mpz_t m, r;
    mpz_inits(m, r, NULL);
    he_paillier_ct *acc = he_paillier_ct_new(), *c = he_paillier_ct_new();
    /* K = 64 ciphertexts, |v| < 2^24: sums stay below 2^30 < 2^(B-1) */
    CHECK(he_paillier_pack(PK, m, total, cap, B) == 0 && he_paillier_encrypt(PK, acc, m) == 0, "pack zeros");
    for (int k = 0; k < 64; k++) {
        for (unsigned i = 0; i < cap; i++) {
            v[i] = (int64_t)(he_prng_u64(&G) % (1u << 25)) - (1 << 24);
            if (k == 0 && i < 3) v[i] = -(1 << 24); /* borrows from negative slots */
            total[i] += v[i];
        }
        CHECK(he_paillier_pack(PK, m, v, cap, B) == 0, "pack: %s", he_errmsg());
        CHECK(he_paillier_unpack(PK, m, u, cap, B) == 0 && memcmp(u, v, cap * sizeof *v) == 0, "unpack round trip");
        CHECK(he_paillier_encrypt(PK, c, m) == 0 && he_paillier_add(PK, acc, acc, c) == 0, "packed add");
    }
    CHECK(he_paillier_decrypt(SK, acc, r) == 0 && he_paillier_unpack(PK, r, u, cap, B) == 0, "unpack sum: %s",
          he_errmsg());
    for (unsigned i = 0; i < cap; i++)
        CHECK(u[i] == total[i], "slot %u: %lld vs %lld", i, (long long)u[i], (long long)total[i]);
    /* plaintext multiple of a packing: every slot scaled */
    CHECK(he_paillier_mul_si(PK, c, acc, -3) == 0 && he_paillier_decrypt(SK, c, r) == 0 &&
              he_paillier_unpack(PK, r, u, cap, B) == 0,
          "scaled packing");
    for (unsigned i = 0; i < cap; i++) CHECK(u[i] == -3 * total[i], "scaled slot %u", i);
    /* bounds */
    v[0] = (int64_t)1 << 31;
    CHECK(he_paillier_pack(PK, m, v, 2, B) < 0, "value 2^31 accepted in a 32-bit slot");
    v[0] = -((int64_t)1 << 31);
    v[1] = ((int64_t)1 << 31) - 1;
    CHECK(he_paillier_pack(PK, m, v, 2, B) == 0 && he_paillier_unpack(PK, m, u, 2, B) == 0 && u[0] == v[0] &&
              u[1] == v[1],
          "extreme slot values");
    CHECK(he_paillier_pack(PK, m, v, cap + 1, B) < 0, "more slots than capacity accepted");
    /* the top slot overflowing its bound is detected */
    for (unsigned i = 0; i < cap; i++) v[i] = ((int64_t)1 << 30) + 7;
    CHECK(he_paillier_pack(PK, m, v, cap, B) == 0 && he_paillier_encrypt(PK, c, m) == 0, "pack big");
    CHECK(he_paillier_add(PK, c, c, c) == 0 && he_paillier_add(PK, c, c, c) == 0 && he_paillier_decrypt(SK, c, r) == 0,
          "overflowing sum");
    CHECK(he_paillier_unpack(PK, r, u, cap, B) < 0, "slot overflow not detected");
    /* fixed point packing */
    double x[8], y[8];
    for (int i = 0; i < 8; i++) x[i] = (he_prng_uniform(&G) - 0.5) * 100;
    CHECK(he_paillier_pack_fixed(PK, m, x, 8, 48, 1u << 20) == 0 &&
              he_paillier_unpack_fixed(PK, m, y, 8, 48, (double)(1u << 20)) == 0,
          "fixed packing: %s", he_errmsg());
    for (int i = 0; i < 8; i++) CHECK(fabs(x[i] - y[i]) <= 0.5 / (1u << 20), "fixed slot %d", i);
    he_paillier_ct_free(acc);
    he_paillier_ct_free(c);
    mpz_clears(m, r, NULL);
}

static int corrupt(const char *src, const char *dst, long at, int truncate)
{
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    unsigned char buf[70000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (at >= 0 && (size_t)at < n) buf[at] ^= 0x20;
    if (truncate) n -= (size_t)truncate;
    f = fopen(dst, "wb");
    if (!f) return -1;
    fwrite(buf, 1, n, f);
    fclose(f);
    return 0;
}

static void test_files(void)
{
    char pkp[128], skp[128], ctp[128], bad[128];
    snprintf(pkp, sizeof pkp, "%s/key.pub", dir);
    snprintf(skp, sizeof skp, "%s/key.sec", dir);
    snprintf(ctp, sizeof ctp, "%s/x.ct", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    he_paillier_ct *c = he_paillier_ct_new(), *d = he_paillier_ct_new();
    CHECK(he_paillier_encrypt_si(PK, c, -424242) == 0, "encrypt");
    CHECK(he_paillier_pk_save(PK, pkp) == 0, "pk save: %s", he_errmsg());
    CHECK(he_paillier_sk_save(SK, skp) == 0, "sk save: %s", he_errmsg());
    CHECK(he_paillier_ct_save(PK, c, ctp) == 0, "ct save: %s", he_errmsg());
    struct stat st;
    CHECK(stat(skp, &st) == 0 && (st.st_mode & 0777) == 0600, "secret key mode %o", (unsigned)(st.st_mode & 0777));
    he_paillier_pk *pk = he_paillier_pk_load(pkp);
    he_paillier_sk *sk = he_paillier_sk_load(skp);
    CHECK(pk && he_paillier_pk_equal(pk, PK), "pk load: %s", he_errmsg());
    CHECK(sk && he_paillier_pk_equal(he_paillier_sk_pk(sk), PK), "sk load: %s", he_errmsg());
    int64_t v = 0;
    CHECK(pk && sk && he_paillier_ct_load(pk, d, ctp) == 0 && he_paillier_decrypt_si(sk, d, &v) == 0 && v == -424242,
          "ct round trip: %s", he_errmsg());
    /* a flipped byte anywhere is refused */
    long sizes[] = {9, 14, 18, 25, 40, 60};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK(corrupt(skp, bad, sizes[i], 0) == 0, "copy");
        he_paillier_sk *x = he_paillier_sk_load(bad);
        CHECK(x == NULL, "secret key with byte %ld flipped accepted", sizes[i]);
        he_paillier_sk_free(x);
    }
    CHECK(corrupt(pkp, bad, 30, 0) == 0 && he_paillier_pk_load(bad) == NULL && strstr(he_errmsg(), "damaged"),
          "damaged pk: %s", he_errmsg());
    CHECK(corrupt(ctp, bad, -1, 5) == 0 && he_paillier_ct_load(PK, d, bad) < 0 && strstr(he_errmsg(), "damaged"),
          "truncated ct: %s", he_errmsg());
    CHECK(corrupt(ctp, bad, 8 + 3, 0) == 0 && he_paillier_ct_load(PK, d, bad) < 0 && strstr(he_errmsg(), "version"),
          "other version: %s", he_errmsg());
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("P1\n# a foreign file\n1 1\n0\n", f);
        fclose(f);
    }
    CHECK(he_paillier_pk_load(bad) == NULL && strstr(he_errmsg(), "not a he Paillier file"), "foreign file: %s",
          he_errmsg());
    CHECK(he_paillier_sk_load(pkp) == NULL && strstr(he_errmsg(), "public key"), "pk loaded as sk: %s", he_errmsg());
    CHECK(he_paillier_ct_load(he_paillier_sk_pk(SK2), d, ctp) < 0 && strstr(he_errmsg(), "another key"),
          "ct under another key: %s", he_errmsg());
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none", dir);
    CHECK(he_paillier_pk_load(missing) == NULL && strstr(he_errmsg(), "cannot open"), "missing file");
    he_paillier_pk_free(pk);
    he_paillier_sk_free(sk);
    he_paillier_ct_free(c);
    he_paillier_ct_free(d);
    unlink(pkp), unlink(skp), unlink(ctp), unlink(bad);
}

/* Saved ciphertexts are re-randomized (circuit privacy): the file of a
** deterministic result (x + 7 from x) is not x + 7's own bits, two saves
** differ, and all decrypt to the value. Without re-randomization the loaded
** ciphertext would equal the evaluated one. */
static void test_files_rerandomized(void)
{
    char p1[128], p2[128], pv[128];
    snprintf(p1, sizeof p1, "%s/a.ct", dir);
    snprintf(p2, sizeof p2, "%s/b.ct", dir);
    snprintf(pv, sizeof pv, "%s/v.ct", dir);
    he_paillier_ct *x = he_paillier_ct_new(), *y = he_paillier_ct_new();
    he_paillier_ct *a = he_paillier_ct_new(), *b = he_paillier_ct_new();
    mpz_t k, m;
    mpz_init_set_si(k, 7);
    mpz_init(m);
    CHECK(he_paillier_encrypt_si(PK, x, 5) == 0 && he_paillier_add_plain(PK, y, x, k) == 0, "evaluate");
    CHECK(he_paillier_ct_save(PK, y, p1) == 0 && he_paillier_ct_save(PK, y, p2) == 0, "save: %s", he_errmsg());
    CHECK(he_paillier_ct_load(PK, a, p1) == 0 && he_paillier_ct_load(PK, b, p2) == 0, "load: %s", he_errmsg());
    CHECK(mpz_cmp(a->c, y->c) != 0 && mpz_cmp(b->c, y->c) != 0, "a saved ciphertext kept its evaluated bits");
    CHECK(mpz_cmp(a->c, b->c) != 0, "two saves of one value are equal");
    int64_t v1 = 0, v2 = 0;
    CHECK(he_paillier_decrypt_si(SK, a, &v1) == 0 && he_paillier_decrypt_si(SK, b, &v2) == 0 && v1 == 12 && v2 == 12,
          "decrypted %lld, %lld, want 12", (long long)v1, (long long)v2);
    /* vectors with a scale: every element re-randomized, shape and scale kept */
    he_paillier_ct v[3];
    for (int i = 0; i < 3; i++) {
        mpz_init(v[i].c);
        CHECK(he_paillier_encrypt_si(PK, &v[i], -1000 * i - 1) == 0, "encrypt");
    }
    CHECK(he_paillier_ctv_save(PK, v, 3, 1, 64, pv) == 0, "vector save: %s", he_errmsg());
    he_paillier_ct *back = NULL;
    size_t n = 0;
    unsigned nd = 9, sc = 0;
    CHECK(he_paillier_ctv_load(PK, pv, &back, &n, &nd, &sc) == 0 && n == 3 && nd == 1 && sc == 64,
          "vector load: %s", he_errmsg());
    for (size_t i = 0; back && i < n; i++) {
        int64_t got = 0;
        CHECK(mpz_cmp(back[i].c, v[i].c) != 0, "element %zu not re-randomized", i);
        CHECK(he_paillier_decrypt_si(SK, &back[i], &got) == 0 && got == -1000 * (int64_t)i - 1, "element %zu: %lld",
              i, (long long)got);
        mpz_clear(back[i].c);
    }
    free(back);
    back = NULL;
    CHECK(he_paillier_ctv_load(he_paillier_sk_pk(SK2), pv, &back, &n, &nd, &sc) < 0 &&
              strstr(he_errmsg(), "another key") && back == NULL,
          "vector under another key: %s", he_errmsg());
    CHECK(he_paillier_ct_load(PK, a, pv) < 0 && strstr(he_errmsg(), "ciphertext vector"), "kind: %s", he_errmsg());
    for (int i = 0; i < 3; i++) mpz_clear(v[i].c);
    mpz_clear(k);
    mpz_clear(m);
    he_paillier_ct_free(x), he_paillier_ct_free(y), he_paillier_ct_free(a), he_paillier_ct_free(b);
    unlink(p1), unlink(p2), unlink(pv);
}

static void test_keygen_2048(void)
{
    he_paillier_sk *sk = he_paillier_keygen(2048, 0);
    CHECK(sk != NULL, "keygen 2048: %s", he_errmsg());
    if (!sk) return;
    const he_paillier_pk *pk = he_paillier_sk_pk(sk);
    CHECK(he_paillier_bits(pk) == 2048, "2048-bit key has %u bits", he_paillier_bits(pk));
    he_paillier_ct *a = he_paillier_ct_new(), *b = he_paillier_ct_new();
    mpz_t r;
    mpz_init(r);
    CHECK(he_paillier_encrypt_si(pk, a, 1000000007) == 0 && he_paillier_encrypt_si(pk, b, -7) == 0 &&
              he_paillier_add(pk, a, a, b) == 0 && he_paillier_decrypt(sk, a, r) == 0 && mpz_cmp_si(r, 1000000000) == 0,
          "2048-bit add");
    CHECK(he_paillier_pack_capacity(pk, 32) == 63, "2048-bit capacity of 32-bit slots");
    mpz_clear(r);
    he_paillier_ct_free(a);
    he_paillier_ct_free(b);
    he_paillier_sk_free(sk);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&G, 1999);
    if (!check_tmpdir(dir, sizeof dir, "he_paillier")) return 1;
    SK = he_paillier_keygen(512, HE_PAILLIER_INSECURE);
    SK2 = he_paillier_keygen(1024, HE_PAILLIER_INSECURE | HE_PAILLIER_PLAIN_PRIMES);
    if (!SK || !SK2) {
        printf("# keygen: %s\n", he_errmsg());
        return 1;
    }
    PK = he_paillier_sk_pk(SK);
    RUN(test_sizes);
    RUN(test_encrypt_decrypt);
    RUN(test_crt_equals_plain);
    RUN(test_homomorphic);
    RUN(test_fixed_point);
    RUN(test_packing);
    RUN(test_files);
    RUN(test_files_rerandomized);
    RUN(test_keygen_2048);
    he_paillier_sk_free(SK);
    he_paillier_sk_free(SK2);
    rmdir(dir);
    return 0;
}
