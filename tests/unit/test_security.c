/*
** test_security.c: regression tests of the security review.
**   - GMP's allocations go through the runtime's wiping hooks after he_init;
**   - he_file_write: atomic, mode 0600 for secrets even over an existing
**     0644 file, an existing file untouched when the write fails, a
**     symbolic link refused unless asked, stale temporaries removed;
**   - he_file_read: whole files, size limits, files of unknown size;
**   - secret keys (Paillier, CKKS) and share files saved over a 0644 file
**     end up 0600;
**   - Paillier: a product by 0 is a fresh encryption of 0 (not 1);
**   - share files carry a checksum: a flipped byte, an old-format file and a
**     shape that does not match the length are refused;
**   - the loaders (Paillier keys and ciphertexts, CKKS key sets and
**     ciphertexts, share files) on mutated files whose checksums were
**     recomputed, so the mutations reach the field parsers: refused or
**     loaded, never a crash (run under SANITIZE=1 for out-of-bounds reads).
**     HE_FUZZ_ITERS sets the number of mutations per loader (default 150).
*/
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <gmp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ckks/ckks_internal.h"
#include "he.h"
#include "paillier/paillier.h"
#include "smpc/smpc.h"

static char dir[256];
static char pathbuf[512];
static he_prng g;
static int iters = 150;
static void *(*gmp_alloc0)(size_t);
static void (*gmp_free0)(void *, size_t);

static const char *tmp(const char *name)
{
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", dir, name);
    return pathbuf;
}

static int put_file(const char *path, const void *b, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(b, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static int dir_entries(void) { return check_dir_entries(dir); }

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) < 0) rmdir(p);
    }
    if (d) closedir(d);
}

/* --- GMP hooks -------------------------------------------------------------------- */
static void test_gmp_hooks(void)
{
    void *(*a)(size_t);
    void *(*r)(void *, size_t, size_t);
    void (*f)(void *, size_t);
    mp_get_memory_functions(&a, &r, &f);
    CHECK(a != gmp_alloc0 && f != gmp_free0, "GMP still uses its own allocator after he_init");
    /* the hooks work for a secret-sized integer (ASan sees the wipe's bounds) */
    mpz_t x;
    mpz_init(x);
    mpz_setbit(x, 4000);
    mpz_realloc2(x, 100); /* shrinks: the realloc hook copies and wipes */
    mpz_set_ui(x, 7);
    mpz_realloc2(x, 9000);
    CHECK(mpz_cmp_ui(x, 7) == 0, "value kept across reallocations");
    mpz_clear(x);
}

/* --- files ------------------------------------------------------------------------ */
static void test_file_write_modes(void)
{
    clear_dir();
    const char *p = tmp("key");
    CHECK(put_file(p, "old contents", 12, 0644) == 0, "setup");
    CHECK(he_file_write(p, "secret", 6, true, "t") == 0, "write: %s", he_errmsg());
    CHECK(mode_of(p) == 0600, "mode %o after writing a secret over a 0644 file", mode_of(p));
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(he_file_read(p, 100, "t", &b, &n) == 0 && n == 6 && memcmp(b, "secret", 6) == 0 && b[6] == 0, "read back");
    he_free_secret(b, n + 1);
    CHECK(he_file_write(tmp("pub"), "public", 6, false, "t") == 0, "write public");
    CHECK((mode_of(tmp("pub")) & 0600) == 0600 && !(mode_of(tmp("pub")) & 0133), "public mode %o",
          mode_of(tmp("pub")));
    CHECK(dir_entries() == 2, "no temporaries left (%d entries)", dir_entries());
}

static void test_file_write_failure(void)
{
    clear_dir();
    /* rename over a directory fails: the directory stays, no temporary left */
    char d[512];
    snprintf(d, sizeof d, "%s", tmp("adir"));
    CHECK(mkdir(d, 0700) == 0, "mkdir");
    CHECK(he_file_write(d, "x", 1, true, "t") < 0 && strstr(he_errmsg(), "t: cannot"), "over a directory: %s",
          he_errmsg());
    CHECK(mode_of(d) == 0700 && dir_entries() == 1, "directory untouched, no temporary (%d)", dir_entries());
    CHECK(he_file_write(tmp("no/such/dir/key"), "x", 1, true, "t") < 0 && strstr(he_errmsg(), "cannot create"),
          "missing directory: %s", he_errmsg());
    rmdir(d);
    /* a FIFO (like /dev/null) is not replaced by a regular file */
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s", tmp("fifo"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(he_file_write(fifo, "x", 1, true, "t") < 0 && strstr(he_errmsg(), "not a regular file"), "fifo: %s",
          he_errmsg());
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode) && dir_entries() == 1, "the FIFO was replaced");
    unlink(fifo);
    /* a symbolic link is refused: the link and its target stay as they were */
    char target[512], link[512];
    snprintf(target, sizeof target, "%s", tmp("target"));
    snprintf(link, sizeof link, "%s", tmp("link"));
    CHECK(put_file(target, "old", 3, 0644) == 0 && symlink(target, link) == 0, "setup link");
    CHECK(he_file_write(link, "new!", 4, true, "t") < 0 && strstr(he_errmsg(), "t: cannot write") &&
              strstr(he_errmsg(), "symbolic link"),
          "through a link: %s", he_errmsg());
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    CHECK(he_file_read(target, 100, "t", &b, &n) == 0 && n == 3 && memcmp(b, "old", 3) == 0 && mode_of(target) == 0644,
          "target written through a link (mode %o)", mode_of(target));
    he_free_secret(b, n + 1);
    CHECK(dir_entries() == 2, "temporaries left (%d)", dir_entries());
    /* ... unless asked: then the link stays and its target changes */
    CHECK(he_file_write(link, "new!", 4, HE_FILE_SECRET | HE_FILE_FOLLOW_LINK, "t") == 0, "following: %s",
          he_errmsg());
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
    CHECK(he_file_read(target, 100, "t", &b, &n) == 0 && n == 4 && memcmp(b, "new!", 4) == 0 && mode_of(target) == 0600,
          "target not written (mode %o)", mode_of(target));
    he_free_secret(b, n + 1);
    CHECK(dir_entries() == 2, "temporaries left (%d)", dir_entries());
    unlink(link);
    CHECK(symlink(tmp("nowhere"), link) == 0 && he_file_write(link, "x", 1, true, "t") < 0 &&
              he_file_write(link, "x", 1, HE_FILE_FOLLOW_LINK, "t") < 0,
          "dangling link written");
    CHECK(lstat(tmp("nowhere"), &st) < 0, "a file made at the end of a dangling link");
}

/* A file of a given age in seconds (its modification time set back). */
static int put_aged(const char *path, int age)
{
    if (put_file(path, "stale secret", 12, 0600) < 0) return -1;
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age;
    ts[1] = ts[0];
    return utimensat(AT_FDCWD, path, ts, 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Temporaries that a dead writer left behind are removed by the next save
** of the same target; nothing else is. */
static void test_file_write_stale(void)
{
    clear_dir();
    char stale[512], fresh[512], locked[512], upper[512], shorter[512], other[512], slink[512];
    snprintf(stale, sizeof stale, "%s", tmp("key.0123456789abcdef.tmp"));
    snprintf(fresh, sizeof fresh, "%s", tmp("key.00000000deadbeef.tmp"));
    snprintf(locked, sizeof locked, "%s", tmp("key.fedcba9876543210.tmp"));
    snprintf(upper, sizeof upper, "%s", tmp("key.0123456789ABCDEF.tmp"));
    snprintf(shorter, sizeof shorter, "%s", tmp("key.0123456789abcde.tmp"));
    snprintf(other, sizeof other, "%s", tmp("kez.0123456789abcdef.tmp"));
    snprintf(slink, sizeof slink, "%s", tmp("key.1111111111111111.tmp"));
    CHECK(put_aged(stale, 3600) == 0 && put_aged(fresh, 5) == 0 && put_aged(locked, 3600) == 0 &&
              put_aged(upper, 3600) == 0 && put_aged(shorter, 3600) == 0 && put_aged(other, 3600) == 0 &&
              put_aged(tmp("victim"), 3600) == 0 && symlink(tmp("victim"), slink) == 0,
          "setup");
    /* a live writer holds a lock on its temporary */
    int lfd = open(locked, O_RDONLY);
    CHECK(lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0, "lock");
    CHECK(he_file_write(tmp("key"), "new", 3, true, "t") == 0, "write: %s", he_errmsg());
    CHECK(!exists(stale), "the stale temporary is still there");
    CHECK(exists(fresh), "a temporary written seconds ago was removed");
    CHECK(exists(locked), "a temporary locked by a live writer was removed");
    CHECK(exists(upper) && exists(shorter) && exists(other), "a name outside the pattern was removed");
    CHECK(exists(slink) && exists(tmp("victim")), "a link or its target was removed");
    CHECK(dir_entries() == 8, "%d entries (want key, 5 temporaries, the link and its target)", dir_entries());
    /* once its writer is gone, the locked one goes too */
    if (lfd >= 0) close(lfd);
    CHECK(he_file_write(tmp("key"), "newer", 5, false, "t") == 0, "write: %s", he_errmsg());
    CHECK(!exists(locked) && exists(fresh), "after the writer died");
}

static void test_file_read(void)
{
    clear_dir();
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(he_file_read(tmp("missing"), 10, "t", &b, &n) < 0 && strstr(he_errmsg(), "t: cannot open"), "missing: %s",
          he_errmsg());
    uint8_t big[5000];
    he_prng_bytes(&g, big, sizeof big);
    CHECK(put_file(tmp("big"), big, sizeof big, 0600) == 0, "setup");
    CHECK(he_file_read(tmp("big"), 4999, "t", &b, &n) < 0 && strstr(he_errmsg(), "too large"), "limit: %s",
          he_errmsg());
    CHECK(he_file_read(tmp("big"), 5000, "t", &b, &n) == 0 && n == 5000 && memcmp(b, big, n) == 0, "exact: %s",
          he_errmsg());
    he_free_secret(b, n + 1);
    CHECK(he_file_read(dir, 100, "t", &b, &n) < 0, "a directory is refused");
    /* procfs reports size 0: the growing path */
    CHECK(he_file_read("/proc/self/status", 1 << 20, "t", &b, &n) == 0 && n > 100 && strstr((char *)b, "Name:"),
          "unknown size: %s", he_errmsg());
    he_free_secret(b, n + 1);
    CHECK(he_file_read("/proc/self/status", 64, "t", &b, &n) < 0 && strstr(he_errmsg(), "too large"),
          "unknown size over the limit: %s", he_errmsg());
}

/* --- Paillier ----------------------------------------------------------------------- */
static he_paillier_sk *psk;

static void test_paillier_mul_zero(void)
{
    const he_paillier_pk *pk = he_paillier_sk_pk(psk);
    he_paillier_ct *c = he_paillier_ct_new(), *z1 = he_paillier_ct_new(), *z2 = he_paillier_ct_new();
    CHECK(he_paillier_encrypt_si(pk, c, 5) == 0, "enc");
    CHECK(he_paillier_mul_si(pk, z1, c, 0) == 0 && he_paillier_mul_si(pk, z2, c, 0) == 0, "mul 0");
    CHECK(mpz_cmp_ui(z1->c, 1) != 0, "a product by 0 is the trivial ciphertext 1");
    CHECK(mpz_cmp(z1->c, z2->c) != 0, "two products by 0 are the same ciphertext");
    int64_t m = -1;
    CHECK(he_paillier_decrypt_si(psk, z1, &m) == 0 && m == 0, "decrypts to %lld", (long long)m);
    /* in place too */
    CHECK(he_paillier_mul_si(pk, c, c, 0) == 0 && he_paillier_decrypt_si(psk, c, &m) == 0 && m == 0, "aliased");
    he_paillier_ct_free(c);
    he_paillier_ct_free(z1);
    he_paillier_ct_free(z2);
}

static void test_paillier_key_mode(void)
{
    clear_dir();
    const char *p = tmp("paillier.key");
    CHECK(put_file(p, "junk", 4, 0644) == 0, "setup");
    CHECK(he_paillier_sk_save(psk, p) == 0, "save: %s", he_errmsg());
    CHECK(mode_of(p) == 0600, "mode %o", mode_of(p));
    he_paillier_sk *k = he_paillier_sk_load(p);
    CHECK(k && he_paillier_pk_equal(he_paillier_sk_pk(k), he_paillier_sk_pk(psk)), "load: %s", he_errmsg());
    he_paillier_sk_free(k);
    /* a failed save (over a directory) leaves the old key file as it was */
    CHECK(dir_entries() == 1, "temporaries left");
}

/* Mutations: flips, a changed 32-bit field, truncation, extension; the
** checksum (last 32 bytes, over the rest) recomputed unless keep_sum. */
static size_t mutate(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t sum_at_end)
{
    size_t m = n;
    memcpy(dst, src, n);
    unsigned kind = (unsigned)(he_prng_u64(&g) % 5);
    size_t body = n > sum_at_end ? n - sum_at_end : n;
    if (kind == 0 || kind == 1) {
        int flips = 1 + (int)(he_prng_u64(&g) % 4);
        for (int i = 0; i < flips; i++) dst[he_prng_u64(&g) % body] ^= (uint8_t)(1u << (he_prng_u64(&g) % 8));
    } else if (kind == 2 && body >= 4) {
        static const uint32_t vals[] = {0, 1, 2, 3, 0x7fffffff, 0xffffffff, 0x80000000, 64, 65536};
        size_t at = he_prng_u64(&g) % (body - 3);
        uint32_t v = vals[he_prng_u64(&g) % (sizeof vals / sizeof vals[0])];
        for (int i = 0; i < 4; i++) dst[at + i] = (uint8_t)(v >> (8 * (he_prng_u64(&g) & 1 ? 3 - i : i)));
    } else if (kind == 3) {
        m = sum_at_end + he_prng_u64(&g) % (body + 1);
        if (m > n) m = n;
        if (m < sum_at_end) m = sum_at_end;
        /* the body cut short; the checksum is recomputed below (or left stale) */
    } else if (n + 16 <= cap) {
        size_t extra = 1 + he_prng_u64(&g) % 16;
        memmove(dst + body + extra, dst + body, n - body);
        he_prng_bytes(&g, dst + body, extra);
        m = n + extra;
    }
    if (sum_at_end && m >= sum_at_end && (he_prng_u64(&g) & 3))
        crypto_generichash(dst + m - sum_at_end, sum_at_end, dst, m - sum_at_end, NULL, 0);
    return m;
}

static void test_paillier_loader_fuzz(void)
{
    clear_dir();
    const he_paillier_pk *pk = he_paillier_sk_pk(psk);
    he_paillier_ct *c = he_paillier_ct_new();
    CHECK(he_paillier_encrypt_si(pk, c, 12345) == 0, "enc");
    const char *names[3] = {"p.sk", "p.pk", "p.ct"};
    char src[3][512];
    for (int i = 0; i < 3; i++) snprintf(src[i], sizeof src[i], "%s", tmp(names[i]));
    CHECK(he_paillier_sk_save(psk, src[0]) == 0 && he_paillier_pk_save(pk, src[1]) == 0 &&
              he_paillier_ct_save(pk, c, src[2]) == 0,
          "save: %s", he_errmsg());
    char mut[512];
    snprintf(mut, sizeof mut, "%s", tmp("mutant"));
    int loaded = 0, refused = 0;
    for (int kind = 0; kind < 3; kind++) {
        uint8_t *orig = NULL;
        size_t n = 0;
        if (he_file_read(src[kind], 1 << 20, "t", &orig, &n) < 0) {
            CHECK(0, "read %s", he_errmsg());
            continue;
        }
        uint8_t *buf = he_malloc(n + 64);
        for (int it = 0; it < iters; it++) {
            size_t m = mutate(orig, n, buf, n + 64, 32);
            if (put_file(mut, buf, m, 0600) < 0) continue;
            if (kind == 0) {
                he_paillier_sk *k = he_paillier_sk_load(mut);
                if (k) {
                    loaded++;
                    int64_t x;
                    /* a loaded key is a working key: decrypts its own encryption */
                    he_paillier_ct *e = he_paillier_ct_new();
                    CHECK(he_paillier_encrypt_si(he_paillier_sk_pk(k), e, -77) == 0 &&
                              he_paillier_decrypt_si(k, e, &x) == 0 && x == -77,
                          "a loaded mutant key does not work");
                    he_paillier_ct_free(e);
                } else refused++;
                he_paillier_sk_free(k);
            } else if (kind == 1) {
                he_paillier_pk *k = he_paillier_pk_load(mut);
                if (k) {
                    loaded++;
                    CHECK(he_paillier_bits(k) >= HE_PAILLIER_MIN_INSECURE_BITS, "tiny modulus accepted");
                } else refused++;
                he_paillier_pk_free(k);
            } else {
                he_paillier_ct *d = he_paillier_ct_new();
                if (he_paillier_ct_load(pk, d, mut) == 0) {
                    loaded++;
                    int64_t x;
                    CHECK(mpz_sgn(d->c) > 0, "ciphertext out of range");
                    if (he_paillier_decrypt_si(psk, d, &x) == 0) (void)x;
                } else refused++;
                he_paillier_ct_free(d);
            }
        }
        he_free(buf);
        he_free_secret(orig, n + 1);
    }
    CHECK(refused > iters, "only %d of %d mutants refused", refused, 3 * iters);
    printf("# paillier loaders: %d mutants loaded, %d refused\n", loaded, refused);
    he_paillier_ct_free(c);
}

/* --- CKKS ----------------------------------------------------------------------------- */
static he_ckks_ctx *cctx;
static he_ckks_keys *ckeys;

static void test_ckks_key_mode(void)
{
    clear_dir();
    const char *p = tmp("ckks.keys");
    CHECK(put_file(p, "junk", 4, 0644) == 0, "setup");
    CHECK(he_ckks_keys_save(ckeys, HE_CKKS_PART_SECRET | HE_CKKS_PART_PUBLIC, p) == 0, "save: %s", he_errmsg());
    CHECK(mode_of(p) == 0600, "mode %o", mode_of(p));
    he_ckks_keys *k = he_ckks_keys_new(cctx);
    CHECK(k && he_ckks_keys_load(k, p) == 0 &&
              he_ckks_keys_parts(k) == (HE_CKKS_PART_SECRET | HE_CKKS_PART_PUBLIC),
          "load: %s", he_errmsg());
    he_ckks_keys_free(k);
    CHECK(dir_entries() == 1, "temporaries left");
}

/* A secret key paired with another key set's public key is refused. */
static void test_ckks_keys_mismatch(void)
{
    he_ckks_keys *other = he_ckks_keys_new(cctx), *k = he_ckks_keys_new(cctx);
    uint8_t *sa = NULL, *pa = NULL, *pb = NULL;
    size_t sal = 0, pal = 0, pbl = 0;
    CHECK(other && k && he_ckks_keygen(other) == 0, "keygen");
    CHECK(he_ckks_keys_serialize(ckeys, HE_CKKS_PART_SECRET, &sa, &sal) == 0 &&
              he_ckks_keys_serialize(ckeys, HE_CKKS_PART_PUBLIC, &pa, &pal) == 0 &&
              he_ckks_keys_serialize(other, HE_CKKS_PART_PUBLIC, &pb, &pbl) == 0,
          "serialize: %s", he_errmsg());
    if (sa && pa && pb) {
        CHECK(he_ckks_keys_deserialize(k, sa, sal) == 0, "secret alone: %s", he_errmsg());
        CHECK(he_ckks_keys_deserialize(k, pb, pbl) < 0 && strstr(he_errmsg(), "does not belong"),
              "another set's public key accepted: %s", he_errmsg());
        CHECK(!(he_ckks_keys_parts(k) & HE_CKKS_PART_PUBLIC), "the refused part was kept");
        CHECK(he_ckks_keys_deserialize(k, pa, pal) == 0, "its own public key: %s", he_errmsg());
    }
    he_free_secret(sa, sal);
    he_free(pa);
    he_free(pb);
    he_ckks_keys_free(k);
    he_ckks_keys_free(other);
}

static void test_ckks_loader_fuzz(void)
{
    uint8_t *kb = NULL, *cb = NULL;
    size_t kn = 0, cn = 0;
    double v[8] = {1, 2, 3, 4, -1, -2, 0.5, 0.25};
    he_ckks_pt *pt = he_ckks_pt_new(cctx);
    he_ckks_ct *ct = he_ckks_ct_new(cctx), *ct2 = he_ckks_ct_new(cctx);
    CHECK(he_ckks_encode(cctx, pt, v, 8, -1, 0) == 0 && he_ckks_encrypt_sk(ckeys, ct, pt) == 0, "enc");
    CHECK(he_ckks_keys_serialize(ckeys, he_ckks_keys_parts(ckeys), &kb, &kn) == 0, "ser keys: %s", he_errmsg());
    CHECK(he_ckks_ct_serialize(cctx, ct, &cb, &cn) == 0, "ser ct: %s", he_errmsg());
    if (!kb || !cb) return;
    int loaded = 0, refused = 0;
    uint8_t *buf = he_malloc(kn + 64);
    for (int it = 0; it < iters; it++) {
        int is_ct = it & 1;
        size_t m = mutate(is_ct ? cb : kb, is_ct ? cn : kn, buf, (is_ct ? cn : kn) + 64, 32);
        if (is_ct) {
            if (he_ckks_ct_deserialize(cctx, ct2, buf, m) == 0) {
                loaded++;
                /* a loaded ciphertext can be used */
                CHECK(he_ckks_decrypt(ckeys, pt, ct2) == 0, "decrypt a loaded mutant: %s", he_errmsg());
            } else refused++;
        } else {
            he_ckks_keys *k = he_ckks_keys_new(cctx);
            if (he_ckks_keys_deserialize(k, buf, m) == 0) {
                loaded++;
                if (he_ckks_keys_parts(k) & HE_CKKS_PART_SECRET)
                    CHECK(he_ckks_decrypt(k, pt, ct) == 0, "decrypt with a loaded mutant: %s", he_errmsg());
            } else refused++;
            he_ckks_keys_free(k);
        }
    }
    CHECK(refused > iters / 2, "only %d of %d mutants refused", refused, iters);
    printf("# ckks loaders: %d mutants loaded, %d refused\n", loaded, refused);
    he_free(buf);
    he_free_secret(kb, kn);
    he_free(cb);
    he_ckks_pt_free(pt);
    he_ckks_ct_free(ct);
    he_ckks_ct_free(ct2);
}

/* --- share files ------------------------------------------------------------------------ */
static he_smpc_ctx *sctx;

static he_share *make_share(void)
{
    double a[6] = {1, -2.5, 3, 4, 5, 6};
    he_share *s = he_share_new(sctx, 0, NULL, 0);
    if (s && he_smpc_share_double(sctx, s, 0, a, 2, (int64_t[]){2, 3}) < 0) {
        he_share_free(s);
        s = NULL;
    }
    return s;
}

static void test_share_files(void)
{
    clear_dir();
    he_share *x = make_share();
    char p[512];
    snprintf(p, sizeof p, "%s", tmp("x.share"));
    CHECK(x && put_file(p, "junk", 4, 0644) == 0, "setup");
    CHECK(x && he_share_save(x, p) == 0, "save: %s", he_errmsg());
    CHECK(mode_of(p) == 0600, "mode %o", mode_of(p));
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(he_file_read(p, 1 << 20, "t", &b, &n) == 0, "read");
    if (!b) return;
    char q[512];
    snprintf(q, sizeof q, "%s", tmp("y.share"));
    /* one flipped bit of a share: the checksum catches it */
    b[n - 40] ^= 1;
    CHECK(put_file(q, b, n, 0600) == 0 && !he_share_load(sctx, q) && strstr(he_errmsg(), "damaged"), "flip: %s",
          he_errmsg());
    b[n - 40] ^= 1;
    /* the old format (no checksum) is refused with a clear message */
    memcpy(b, "HESMPCS1", 8);
    CHECK(put_file(q, b, n, 0600) == 0 && !he_share_load(sctx, q) && strstr(he_errmsg(), "older version"),
          "old format: %s", he_errmsg());
    memcpy(b, "HESMPCS2", 8);
    /* an empty share tensor with huge dimensions (fuzz input of issue 9):
    ** header (runtime/smpc/ctx.c: ndim at byte 48, shape at 56) and
    ** checksum rewritten, no shares; [0, 2, 3] loads, [0, 2^62, 2^62] not */
    uint8_t e[120 + 32];
    memcpy(e, b, 120);
    int64_t shapes[2][3] = {{0, 2, 3}, {0, INT64_C(1) << 62, INT64_C(1) << 62}};
    for (int k = 0; k < 2; k++) {
        int32_t nd = 3;
        memcpy(e + 48, &nd, 4);
        memcpy(e + 56, shapes[k], sizeof shapes[k]);
        crypto_generichash(e + 120, 32, e, 120, NULL, 0);
        he_share *z = put_file(q, e, sizeof e, 0600) == 0 ? he_share_load(sctx, q) : NULL;
        if (k == 0) CHECK(z && he_share_size(z) == 0, "empty share [0, 2, 3]: %s", he_errmsg());
        else CHECK(!z && strstr(he_errmsg(), "damaged"), "share of shape [0, 2^62, 2^62] loaded");
        he_share_free(z);
    }
    he_share *y = he_share_load(sctx, p);
    double o[6];
    CHECK(y && he_smpc_reveal_double(sctx, y, HE_SMPC_ALL, o) == 0 && o[1] == -2.5, "load: %s", he_errmsg());
    he_share_free(y);
    he_free_secret(b, n + 1);
    he_share_free(x);
}

static void test_share_loader_fuzz(void)
{
    clear_dir();
    he_share *x = make_share();
    char src[512], mut[512];
    snprintf(src, sizeof src, "%s", tmp("x.share"));
    snprintf(mut, sizeof mut, "%s", tmp("m.share"));
    CHECK(x && he_share_save(x, src) == 0, "save: %s", he_errmsg());
    uint8_t *orig = NULL;
    size_t n = 0;
    if (he_file_read(src, 1 << 20, "t", &orig, &n) < 0) {
        CHECK(0, "read");
        he_share_free(x);
        return;
    }
    uint8_t *buf = he_malloc(n + 64);
    int loaded = 0, refused = 0;
    for (int it = 0; it < iters; it++) {
        size_t m = mutate(orig, n, buf, n + 64, 32);
        if (put_file(mut, buf, m, 0600) < 0) continue;
        he_share *y = he_share_load(sctx, mut);
        if (y) {
            loaded++;
            CHECK(he_share_size(y) * 8 * 2 + 32 <= m, "a share larger than its file");
        } else refused++;
        he_share_free(y);
    }
    CHECK(refused > iters / 2, "only %d of %d refused", refused, iters);
    printf("# share loader: %d mutants loaded, %d refused\n", loaded, refused);
    he_free(buf);
    he_free_secret(orig, n + 1);
    he_share_free(x);
}

int main(void)
{
    mp_get_memory_functions(&gmp_alloc0, NULL, &gmp_free0);
    if (he_init() < 0) return 1;
    if (!check_tmpdir(dir, sizeof dir, "he_security")) {
        printf("not ok setup: mkdtemp\n");
        return 0;
    }
    const char *it = getenv("HE_FUZZ_ITERS");
    if (it && atoi(it) > 0) iters = atoi(it);
    he_prng_seed(&g, 20261121);
    RUN(test_gmp_hooks);
    RUN(test_file_write_modes);
    RUN(test_file_write_failure);
    RUN(test_file_write_stale);
    RUN(test_file_read);

    psk = he_paillier_keygen(512, HE_PAILLIER_INSECURE | HE_PAILLIER_PLAIN_PRIMES);
    if (!psk) printf("not ok paillier setup: %s\n", he_errmsg());
    else {
        RUN(test_paillier_mul_zero);
        RUN(test_paillier_key_mode);
        RUN(test_paillier_loader_fuzz);
        he_paillier_sk_free(psk);
    }

    he_ckks_params p = {.n = 64, .nprimes = 3, .bits = {40, 30, 40}, .scale = 0x1p30, .insecure = true};
    cctx = he_ckks_ctx_new(&p);
    ckeys = cctx ? he_ckks_keys_new(cctx) : NULL;
    int steps[] = {1};
    if (!ckeys || he_ckks_keygen(ckeys) < 0 || he_ckks_keygen_relin(ckeys) < 0 ||
        he_ckks_keygen_galois(ckeys, steps, 1, false) < 0)
        printf("not ok ckks setup: %s\n", he_errmsg());
    else {
        RUN(test_ckks_key_mode);
        RUN(test_ckks_keys_mismatch);
        RUN(test_ckks_loader_fuzz);
    }
    he_ckks_keys_free(ckeys);
    he_ckks_ctx_free(cctx);

    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 2;
    sctx = he_smpc_new(&c);
    if (!sctx) printf("not ok smpc setup: %s\n", he_errmsg());
    else {
        RUN(test_share_files);
        RUN(test_share_loader_fuzz);
        he_smpc_free(sctx);
    }
    clear_dir();
    rmdir(dir);
    return 0;
}
