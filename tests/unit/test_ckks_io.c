/*
** test_ckks_io.c: saving and loading CKKS keys and ciphertexts: round
** trips (the loaded objects work), secret-key files with mode 0600, and
** refusal of damaged or foreign files (flipped byte, truncation, trailing
** bytes, wrong magic, wrong version, other parameters, wrong kind).
*/
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ckks/ckks.h"
#include "he.h"

static he_ckks_ctx *ctx;
static he_ckks_keys *keys;
static he_prng g;
static char dir[256];
static char path[512];

static const char *tmp(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static double v[256];

static he_ckks_ct *make_ct(void)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx);
    if (he_ckks_encode(ctx, pt, v, 256, -1, 0) < 0 || he_ckks_encrypt(keys, ct, pt) < 0) {
        he_ckks_ct_free(ct);
        ct = NULL;
    }
    he_ckks_pt_free(pt);
    return ct;
}

static double err_of(const he_ckks_keys *k, const he_ckks_ct *ct)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    double w[256], e = INFINITY;
    if (he_ckks_decrypt(k, pt, ct) == 0 && he_ckks_decode(ctx, pt, w, 256) == 0) {
        e = 0;
        for (int i = 0; i < 256; i++) e = fmax(e, fabs(w[i] - v[i]));
    }
    he_ckks_pt_free(pt);
    return e;
}

static void test_ct_roundtrip(void)
{
    he_ckks_ct *ct = make_ct(), *back = he_ckks_ct_new(ctx), *sq = he_ckks_ct_new(ctx);
    CHECK(ct != NULL, "enc");
    CHECK(he_ckks_ct_save(ctx, ct, tmp("ct.bin")) == 0, "save: %s", he_errmsg());
    CHECK(he_ckks_ct_load(ctx, back, path) == 0, "load: %s", he_errmsg());
    CHECK(err_of(keys, back) < 0x1p-20, "loaded ciphertext decrypts");
    CHECK(he_ckks_ct_level(back) == he_ckks_ct_level(ct) && he_ckks_ct_scale(back) == he_ckks_ct_scale(ct),
          "level and scale");
    /* a size-3 ciphertext at a lower level */
    CHECK(he_ckks_mod_down(ctx, ct, ct, 1) == 0 && he_ckks_mul(ctx, sq, ct, ct) == 0, "mul");
    CHECK(he_ckks_ct_save(ctx, sq, tmp("sq.bin")) == 0 && he_ckks_ct_load(ctx, back, path) == 0,
          "size 3: %s", he_errmsg());
    CHECK(he_ckks_ct_size(back) == 3 && he_ckks_ct_level(back) == 1, "shape");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "ciphertext mode 0644");
    he_ckks_ct_free(ct);
    he_ckks_ct_free(back);
    he_ckks_ct_free(sq);
}

/* Fresh secret-key encryptions save as the seed (half the size); any
** write brings back the full form. */
static void test_seed_compressed(void)
{
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx), *back = he_ckks_ct_new(ctx), *pk = make_ct();
    uint8_t *b, *bp;
    size_t l, lp;
    CHECK(he_ckks_encode(ctx, pt, v, 256, -1, 0) == 0 && he_ckks_encrypt_sk(keys, ct, pt) == 0, "enc");
    CHECK(he_ckks_ct_serialize(ctx, ct, &b, &l) == 0 && he_ckks_ct_serialize(ctx, pk, &bp, &lp) == 0, "ser");
    CHECK(l < lp / 2 + 100, "seeded form %zu bytes vs %zu", l, lp);
    CHECK(he_ckks_ct_deserialize(ctx, back, b, l) == 0 && err_of(keys, back) < 0x1p-20, "seeded loads: %s",
          he_errmsg());
    /* loaded seeded ciphertext saves identically */
    uint8_t *b2;
    size_t l2;
    CHECK(he_ckks_ct_serialize(ctx, back, &b2, &l2) == 0 && l2 == l && memcmp(b, b2, l) == 0, "stable");
    he_free(b2);
    /* a damaged seed: checksum first, then (recomputed checksum) garbage decryption */
    b[l - 40] ^= 1;
    CHECK(he_ckks_ct_deserialize(ctx, back, b, l) < 0, "damaged seed refused");
    he_free(b);
    /* every kind of write clears the seeded form */
    he_ckks_ct *t = he_ckks_ct_new(ctx);
    for (int op = 0; op < 5; op++) {
        CHECK(he_ckks_encrypt_sk(keys, t, pt) == 0, "enc");
        int r = op == 0   ? he_ckks_add_pt(ctx, t, t, pt)
                : op == 1 ? he_ckks_mul_int(ctx, t, t, 3)
                : op == 2 ? he_ckks_mod_down(ctx, t, t, 1)
                : op == 3 ? he_ckks_rescale(ctx, t, t)
                          : he_ckks_neg(ctx, t, t);
        CHECK(r == 0, "op %d: %s", op, he_errmsg());
        CHECK(he_ckks_ct_serialize(ctx, t, &b, &l) == 0, "ser");
        CHECK(he_ckks_ct_deserialize(ctx, back, b, l) == 0, "load");
        CHECK(l > (size_t)(he_ckks_ct_level(t) + 1) * 512 * 8 * 2, "op %d: full form", op);
        he_free(b);
    }
    CHECK(he_ckks_ct_copy(back, ct) == 0 && he_ckks_ct_serialize(ctx, back, &b, &l) == 0 && l > lp - 100,
          "a copy is saved in full");
    he_free(b);
    he_free(bp);
    he_ckks_ct_free(t);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(ct);
    he_ckks_ct_free(pk);
    he_ckks_ct_free(back);
}

static void test_keys_roundtrip(void)
{
    struct stat st;
    unsigned all = HE_CKKS_PART_SECRET | HE_CKKS_PART_PUBLIC | HE_CKKS_PART_RELIN | HE_CKKS_PART_GALOIS;
    /* pre-existing file with loose permissions gets tightened */
    FILE *f = fopen(tmp("sk.bin"), "w");
    if (f) fclose(f);
    CHECK(chmod(path, 0666) == 0, "chmod");
    CHECK(he_ckks_keys_save(keys, HE_CKKS_PART_SECRET, tmp("sk.bin")) == 0, "save sk: %s", he_errmsg());
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "secret key mode 0600 (got %o)",
          (unsigned)(st.st_mode & 0777));
    CHECK(he_ckks_keys_save(keys, all & ~HE_CKKS_PART_SECRET, tmp("pub.bin")) == 0, "save pub");
    he_ckks_keys *pub = he_ckks_keys_new(ctx), *sec = he_ckks_keys_new(ctx);
    CHECK(he_ckks_keys_load(pub, tmp("pub.bin")) == 0, "load pub: %s", he_errmsg());
    CHECK(he_ckks_keys_parts(pub) == (all & ~HE_CKKS_PART_SECRET), "public parts");
    CHECK(he_ckks_keys_load(sec, tmp("sk.bin")) == 0, "load sk: %s", he_errmsg());
    CHECK(he_ckks_keys_parts(sec) == HE_CKKS_PART_SECRET, "secret part");
    /* the public set encrypts, relinearizes and rotates; the secret decrypts */
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_ckks_ct *ct = he_ckks_ct_new(ctx), *o = he_ckks_ct_new(ctx);
    CHECK(he_ckks_encode(ctx, pt, v, 256, -1, 0) == 0 && he_ckks_encrypt(pub, ct, pt) == 0, "enc");
    CHECK(err_of(sec, ct) < 0x1p-20, "loaded keys decrypt");
    CHECK(he_ckks_rotate(pub, o, ct, 1) == 0 && he_ckks_decrypt(sec, pt, o) == 0, "rot: %s", he_errmsg());
    double w[256];
    CHECK(he_ckks_decode(ctx, pt, w, 256) == 0 && fabs(w[0] - v[1]) < 0x1p-16 &&
              fabs(w[255] - v[0]) < 0x1p-16, "rotation with loaded Galois key");
    CHECK(he_ckks_mul(ctx, o, ct, ct) == 0 && he_ckks_relin(pub, o, o) == 0 &&
              he_ckks_rescale(ctx, o, o) == 0 && he_ckks_decrypt(sec, pt, o) == 0 &&
              he_ckks_decode(ctx, pt, w, 256) == 0 && fabs(w[7] - v[7] * v[7]) < 0x1p-16,
          "relinearization with loaded key");
    CHECK(he_ckks_keys_save(pub, HE_CKKS_PART_SECRET, tmp("x.bin")) < 0, "cannot save absent parts");
    /* uniform parts travel as seeds: a public key (L = 3 primes, N = 512)
    ** takes L*N words and a seed, not 2*L*N words */
    uint8_t *kb;
    size_t kl;
    CHECK(he_ckks_keys_serialize(keys, HE_CKKS_PART_PUBLIC, &kb, &kl) == 0, "ser");
    CHECK(kl == 56 + 4 + 3 * 512 * 8 + 32 + 32, "public key file %zu bytes", kl);
    he_free(kb);
    CHECK(he_ckks_keys_serialize(keys, HE_CKKS_PART_RELIN, &kb, &kl) == 0, "ser");
    CHECK(kl == 56 + 4 + 3 * 4 * 512 * 8 + 32 + 32, "relinearization key file %zu bytes", kl);
    he_free(kb);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(ct);
    he_ckks_ct_free(o);
    he_ckks_keys_free(pub);
    he_ckks_keys_free(sec);
}

static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int spit(const char *p, const uint8_t *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static void test_damaged_files(void)
{
    he_ckks_ct *ct = make_ct(), *back = he_ckks_ct_new(ctx);
    he_ckks_keys *k2 = he_ckks_keys_new(ctx);
    CHECK(ct && he_ckks_ct_save(ctx, ct, tmp("good.bin")) == 0, "save");
    size_t len;
    uint8_t *b = slurp(tmp("good.bin"), &len);
    CHECK(b != NULL, "read");
    if (!b) goto out;
    /* flipped bytes at many places (header, body, checksum) */
    size_t where[] = {0, 9, 10, 20, 50, 60, 70, len / 2, len - 40, len - 1};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        b[where[i]] ^= 0x10;
        CHECK(spit(tmp("bad.bin"), b, len) == 0, "write");
        CHECK(he_ckks_ct_load(ctx, back, path) < 0, "flip at %zu accepted", where[i]);
        b[where[i]] ^= 0x10;
    }
    CHECK(spit(tmp("bad.bin"), b, len) == 0 && he_ckks_ct_load(ctx, back, path) == 0, "restored loads");
    b[3] ^= 1;
    CHECK(spit(tmp("bad.bin"), b, len) == 0 && he_ckks_ct_load(ctx, back, path) < 0 &&
              strstr(he_errmsg(), "magic"), "wrong magic: %s", he_errmsg());
    b[3] ^= 1;
    CHECK(spit(tmp("bad.bin"), b, len - 1) == 0 && he_ckks_ct_load(ctx, back, path) < 0 &&
              strstr(he_errmsg(), "truncated"), "truncated: %s", he_errmsg());
    CHECK(spit(tmp("bad.bin"), b, 30) == 0 && he_ckks_ct_load(ctx, back, path) < 0, "truncated header");
    CHECK(spit(tmp("bad.bin"), b, 0) == 0 && he_ckks_ct_load(ctx, back, path) < 0, "empty file");
    {
        uint8_t *big = malloc(len + 5);
        memcpy(big, b, len);
        memset(big + len, 0, 5);
        CHECK(spit(tmp("bad.bin"), big, len + 5) == 0 && he_ckks_ct_load(ctx, back, path) < 0 &&
                  strstr(he_errmsg(), "trailing"), "trailing data: %s", he_errmsg());
        free(big);
    }
    CHECK(he_ckks_keys_load(k2, tmp("good.bin")) < 0 && strstr(he_errmsg(), "expected a key set"),
          "ciphertext is not a key: %s", he_errmsg());
    CHECK(he_ckks_ct_load(ctx, back, tmp("missing.bin")) < 0 && strstr(he_errmsg(), "missing.bin"),
          "missing file");
    /* another parameter set */
    he_ckks_params p = {.n = 256, .nprimes = 3, .bits = {40, 30, 40}, .scale = 0x1p30, .insecure = true};
    he_ckks_ctx *other = he_ckks_ctx_new(&p);
    he_ckks_ct *oc = other ? he_ckks_ct_new(other) : NULL;
    CHECK(oc && he_ckks_ct_load(other, oc, tmp("good.bin")) < 0 && strstr(he_errmsg(), "parameters"),
          "other parameters refused: %s", he_errmsg());
    he_ckks_ct_free(oc);
    he_ckks_ctx_free(other);
    /* a key file with one byte flipped */
    CHECK(he_ckks_keys_save(keys, HE_CKKS_PART_PUBLIC, tmp("pk.bin")) == 0, "save pk");
    free(b);
    b = slurp(path, &len);
    if (b) {
        b[len / 3] ^= 0x80;
        CHECK(spit(tmp("pkbad.bin"), b, len) == 0 && he_ckks_keys_load(k2, path) < 0 &&
                  strstr(he_errmsg(), "damaged"), "damaged key: %s", he_errmsg());
        CHECK(he_ckks_keys_parts(k2) == 0, "nothing loaded from a damaged file");
    }
    /* in-memory: a coefficient out of range behind a valid checksum */
    {
        uint8_t *s;
        size_t sl;
        CHECK(he_ckks_ct_serialize(ctx, ct, &s, &sl) == 0, "ser");
        memset(s + 56 + 24, 0xff, 8);
        CHECK(he_ckks_ct_deserialize(ctx, back, s, sl) < 0 && strstr(he_errmsg(), "checksum"),
              "modified body refused by the checksum");
        /* with the checksum recomputed, the field checks still refuse it */
        crypto_generichash(s + sl - 32, 32, s, sl - 32, NULL, 0);
        CHECK(he_ckks_ct_deserialize(ctx, back, s, sl) < 0 && strstr(he_errmsg(), "out of range"),
              "coefficient >= q refused: %s", he_errmsg());
        memset(s + 56 + 24, 0, 8);
        s[56] = 4; /* size 4 */
        crypto_generichash(s + sl - 32, 32, s, sl - 32, NULL, 0);
        CHECK(he_ckks_ct_deserialize(ctx, back, s, sl) < 0 && strstr(he_errmsg(), "size"),
              "bad size refused: %s", he_errmsg());
        s[56] = 2;
        s[9] = 7; /* version 0x0701 */
        crypto_generichash(s + sl - 32, 32, s, sl - 32, NULL, 0);
        CHECK(he_ckks_ct_deserialize(ctx, back, s, sl) < 0 && strstr(he_errmsg(), "version"),
              "future version refused: %s", he_errmsg());
        he_free(s);
    }
out:
    free(b);
    he_ckks_ct_free(ct);
    he_ckks_ct_free(back);
    he_ckks_keys_free(k2);
}

/* Mutated files whose checksum is recomputed (so only the field checks
** stand between them and the loader): every load either fails cleanly or
** yields a well-formed object; nothing crashes (run under ASan too). */
static void test_mutations_with_valid_checksum(void)
{
    he_ckks_ct *ct = make_ct(), *back = he_ckks_ct_new(ctx);
    he_ckks_keys *k2 = he_ckks_keys_new(ctx);
    uint8_t *orig[2];
    size_t len[2];
    CHECK(he_ckks_ct_serialize(ctx, ct, &orig[0], &len[0]) == 0, "ser ct");
    CHECK(he_ckks_keys_serialize(keys, HE_CKKS_PART_PUBLIC | HE_CKKS_PART_GALOIS, &orig[1], &len[1]) == 0,
          "ser keys");
    int accepted = 0, refused = 0;
    for (int which = 0; which < 2; which++) {
        uint8_t *b = malloc(len[which]);
        for (int r = 0; r < 300; r++) {
            memcpy(b, orig[which], len[which]);
            /* mutate header-adjacent body fields most of the time */
            size_t span = r % 3 ? 64 : len[which] - 88;
            int nflip = 1 + (int)(he_prng_u64(&g) % 3);
            for (int f = 0; f < nflip; f++) {
                size_t at = 56 + he_prng_u64(&g) % span;
                b[at] ^= (uint8_t)(1u << (he_prng_u64(&g) % 8));
            }
            crypto_generichash(b + len[which] - 32, 32, b, len[which] - 32, NULL, 0);
            int rc = which ? he_ckks_keys_deserialize(k2, b, len[which])
                           : he_ckks_ct_deserialize(ctx, back, b, len[which]);
            if (rc == 0) {
                accepted++;
                if (!which) CHECK(he_ckks_ct_size(back) >= 2 && he_ckks_ct_level(back) <= 2, "shape");
            } else {
                refused++;
                CHECK(strlen(he_errmsg()) > 0, "message");
            }
        }
        free(b);
        he_free(orig[which]);
    }
    printf("# mutations: %d refused, %d accepted (coefficients changed within range)\n", refused, accepted);
    CHECK(refused > 100, "field checks refuse most header mutations");
    he_ckks_ct_free(ct);
    he_ckks_ct_free(back);
    he_ckks_keys_free(k2);
}

int main(void)
{
    if (he_init() < 0) return 1;
    if (!check_tmpdir(dir, sizeof dir, "he_ckks_io")) {
        printf("not ok setup: mkdtemp\n");
        return 0;
    }
    he_prng_seed(&g, 77);
    for (int i = 0; i < 256; i++) v[i] = 2 * he_prng_uniform(&g) - 1;
    he_ckks_params p = {.n = 512, .nprimes = 4, .bits = {50, 40, 40, 50}, .scale = 0x1p40, .insecure = true};
    ctx = he_ckks_ctx_new(&p);
    keys = ctx ? he_ckks_keys_new(ctx) : NULL;
    int steps[] = {1};
    if (!keys || he_ckks_keygen(keys) < 0 || he_ckks_keygen_relin(keys) < 0 ||
        he_ckks_keygen_galois(keys, steps, 1, false) < 0) {
        printf("not ok setup: %s\n", he_errmsg());
        return 0;
    }
    RUN(test_ct_roundtrip);
    RUN(test_seed_compressed);
    RUN(test_keys_roundtrip);
    RUN(test_damaged_files);
    RUN(test_mutations_with_valid_checksum);
    he_ckks_keys_free(keys);
    he_ckks_ctx_free(ctx);
    const char *names[] = {"ct.bin", "sq.bin", "sk.bin", "pub.bin", "good.bin", "bad.bin", "pk.bin",
                           "pkbad.bin", "x.bin"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(tmp(names[i]));
    rmdir(dir);
    return 0;
}
