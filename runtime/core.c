/*
** core.c: initialisation, errors, memory, randomness, string buffers.
*/
#include "he.h"

#include <errno.h>
#include <gmp.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char errbuf[1024];

int he_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *he_errmsg(void) { return errbuf[0] ? errbuf : "unknown error"; }
void he_clearerr(void) { errbuf[0] = '\0'; }

void he_misuse(const char *what)
{
    fprintf(stderr, "he: internal misuse: %s\n", what);
    abort();
}

/* --- interrupts ------------------------------------------------------------- */

_Atomic int he_interrupt_sig;

void he_interrupt(int sig) { he_interrupt_sig = sig ? sig : SIGINT; }
void he_interrupt_clear(void) { he_interrupt_sig = 0; }
const char *he_interrupt_message(void) { return he_interrupt_sig == SIGTERM ? "terminated" : "interrupted"; }

int he_poll_interrupt(void)
{
    if (HE_LIKELY(!he_interrupt_sig)) return 0;
    return he_error("%s", he_interrupt_message());
}

/* --- memory ------------------------------------------------------------- */

void *he_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) he_error("out of memory (%zu bytes)", n);
    return p;
}

void *he_calloc(size_t count, size_t size)
{
    size_t n = 0;
    if (he_mul_size(count, size, &n) != 0) return NULL;
    void *p = calloc(n ? count : 1, n ? size : 1);
    if (!p) he_error("out of memory (%zu bytes)", n);
    return p;
}

void *he_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) he_error("out of memory (%zu bytes)", n);
    return q;
}

void he_free(void *p) { free(p); }

void he_memzero(void *p, size_t n)
{
    if (p && n) sodium_memzero(p, n);
}

void he_free_secret(void *p, size_t n)
{
    if (!p) return;
    he_memzero(p, n);
    free(p);
}

int he_memcmp_ct(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0 ? 0 : -1;
}

int he_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return he_error("size overflow (%zu x %zu)", a, b);
    *out = a * b;
    return 0;
}

/* GMP: every limb array passes through here; the free hook gets the size,
** so integers that held secrets are wiped before their memory is reused. */
static void *gmp_alloc(size_t n)
{
    void *p = malloc(n);
    if (!p) he_misuse("GMP allocation failed (out of memory)");
    return p;
}

static void *gmp_realloc(void *p, size_t old, size_t n)
{
    void *q = malloc(n);
    if (!q) he_misuse("GMP allocation failed (out of memory)");
    memcpy(q, p, old < n ? old : n);
    he_free_secret(p, old);
    return q;
}

static void gmp_free(void *p, size_t n) { he_free_secret(p, n); }

int he_init(void)
{
    static int done = 0;
    if (done) return 1;
    if (sodium_init() < 0) return he_error("libsodium failed to initialise");
    mp_set_memory_functions(gmp_alloc, gmp_realloc, gmp_free);
    done = 1;
    return 0;
}

/* --- randomness ----------------------------------------------------------- */

void he_randombytes(void *buf, size_t n) { randombytes_buf(buf, n); }

uint64_t he_random_u64(void)
{
    uint64_t x;
    randombytes_buf(&x, sizeof x);
    return x;
}

uint64_t he_random_uniform(uint64_t bound)
{
    if (bound == 0) he_misuse("he_random_uniform: bound 0");
    uint64_t lim = -bound % bound; /* 2^64 mod bound */
    for (;;) {
        uint64_t x = he_random_u64();
        if (x >= lim) return x % bound;
    }
}

static void prng_refill(he_prng *g)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    memset(nonce, 0, sizeof nonce);
    for (size_t i = 0; i < 8 && i < sizeof nonce; i++) nonce[i] = (uint8_t)(g->block >> (8 * i));
    crypto_stream_chacha20(g->buf, sizeof g->buf, nonce, g->key);
    g->block++;
    g->pos = 0;
}

void he_prng_seed_bytes(he_prng *g, const uint8_t seed[32])
{
    memcpy(g->key, seed, 32);
    g->block = 0;
    g->has_spare = 0;
    g->spare = 0;
    prng_refill(g);
}

void he_prng_seed(he_prng *g, uint64_t seed)
{
    uint8_t k[32];
    uint8_t in[8];
    for (int i = 0; i < 8; i++) in[i] = (uint8_t)(seed >> (8 * i));
    crypto_generichash(k, sizeof k, in, sizeof in, (const uint8_t *)"he.prng", 7);
    he_prng_seed_bytes(g, k);
    he_memzero(k, sizeof k);
}

void he_prng_bytes(he_prng *g, void *out, size_t n)
{
    uint8_t *o = out;
    while (n) {
        if (g->pos == sizeof g->buf) prng_refill(g);
        size_t take = sizeof g->buf - g->pos;
        if (take > n) take = n;
        memcpy(o, g->buf + g->pos, take);
        g->pos += (unsigned)take;
        o += take;
        n -= take;
    }
}

uint64_t he_prng_u64(he_prng *g)
{
    uint8_t b[8];
    he_prng_bytes(g, b, 8);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)b[i] << (8 * i);
    return x;
}

double he_prng_uniform(he_prng *g) { return (double)(he_prng_u64(g) >> 11) * 0x1.0p-53; }

double he_prng_normal(he_prng *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    double u1, u2;
    do u1 = he_prng_uniform(g);
    while (u1 <= 0.0);
    u2 = he_prng_uniform(g);
    double r = sqrt(-2.0 * log(u1));
    double t = 2.0 * M_PI * u2;
    g->spare = r * sin(t);
    g->has_spare = 1;
    return r * cos(t);
}

void he_prng_wipe(he_prng *g) { he_memzero(g, sizeof *g); }

/* --- string buffer -------------------------------------------------------- */

void he_buf_init(he_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Buffers carry the text of printed values, decrypted results included:
** they are wiped when freed or outgrown. */
void he_buf_free(he_buf *b)
{
    he_free_secret(b->data, b->cap);
    he_buf_init(b);
}

int he_buf_add(he_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len) return he_error("string too long");
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = he_malloc(cap);
        if (!d) return -1;
        if (b->len) memcpy(d, b->data, b->len);
        he_free_secret(b->data, b->cap);
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int he_buf_puts(he_buf *b, const char *s) { return he_buf_add(b, s, strlen(s)); }

int he_buf_printf(he_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return he_error("format error");
    if ((size_t)n < sizeof small) return he_buf_add(b, small, (size_t)n);
    char *big = he_malloc((size_t)n + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int r = he_buf_add(b, big, (size_t)n);
    he_free_secret(big, (size_t)n + 1);
    return r;
}

/* A float as print shows it: the fewest significant digits that read back
** as the same double, when at most HE_SHOW_DIGITS do; else rounded to
** HE_SHOW_DIGITS (0.1 + 0.2 shows 0.3, a timing 39.78517199993803 shows
** 39.785172: the digits beyond are float noise for a reader; format("%.17g")
** shows them all). */
#define HE_SHOW_DIGITS 10

int he_buf_double(he_buf *b, double d)
{
    char s[64];
    if (isnan(d)) return he_buf_puts(b, "nan");
    if (isinf(d)) return he_buf_puts(b, d < 0 ? "-inf" : "inf");
    int p = 1;
    for (; p <= HE_SHOW_DIGITS; p++) {
        snprintf(s, sizeof s, "%.*e", p - 1, d);
        if (strtod(s, NULL) == d) break;
    }
    if (p > HE_SHOW_DIGITS) {
        /* rounded: drop the trailing zeros of the mantissa */
        p = HE_SHOW_DIGITS;
        snprintf(s, sizeof s, "%.*e", p - 1, d);
        for (char *e = strchr(s, 'e'); p > 1 && e[-1] == '0'; e--) p--;
        snprintf(s, sizeof s, "%.*e", p - 1, d);
    }
    /* like Python's repr: positional between 1e-4 and 1e16 */
    int x = atoi(strchr(s, 'e') + 1);
    if (x >= -4 && x < 16) {
        int decimals = p - 1 - x;
        if (decimals < 1) decimals = 1;
        snprintf(s, sizeof s, "%.*f", decimals, d);
    } else {
        /* drop a trailing ".0" mantissa and leading exponent zeros: 1e+16, 2.5e-07 */
        char mant[40];
        snprintf(mant, sizeof mant, "%.*e", p - 1, d);
        char *e = strchr(mant, 'e');
        *e = '\0';
        snprintf(s, sizeof s, "%se%c%02d", mant, x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    return he_buf_puts(b, s);
}

/* --- files ------------------------------------------------------------------ */

/* Stale temporaries. A save that died (killed, power cut, full disk and
** then a crash) leaves PATH.<16 hex>.tmp behind, perhaps holding secret
** material; each save of PATH removes the ones of its own target. Only
** names of exactly that pattern, regular files (not links) owned by this
** user. Two writers of the same target may run at once, so a temporary is
** removed only when nobody writes it any more: a writer holds an exclusive
** flock on its temporary from creation until after the rename (the kernel
** drops the lock when its process dies), and a temporary is removed only
** when that lock can be taken AND it was last modified more than
** STALE_TEMP_SECONDS ago (the age covers the instant between a writer's
** open and its flock, and file systems where flock does not work, where the
** lock is never taken and nothing is removed). */
#define STALE_TEMP_SECONDS 60
#define TEMP_SUFFIX_LEN 21 /* ".<16 hex>" + ".tmp" */

static bool is_temp_name(const char *name, const char *base, size_t bl)
{
    if (strlen(name) != bl + TEMP_SUFFIX_LEN || strncmp(name, base, bl) != 0 || name[bl] != '.') return false;
    for (int k = 1; k <= 16; k++)
        if (!strchr("0123456789abcdef", name[bl + k]) || !name[bl + k]) return false;
    return strcmp(name + bl + 17, ".tmp") == 0;
}

/* Splits path into its folder (a new string; "." when none) and base name. */
static char *dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) memcpy(d, path, n), d[n] = '\0';
    return d;
}

static void remove_stale_temps(const char *dir, const char *base)
{
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    int dfd = dirfd(d);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_temp_name(e->d_name, base, bl)) continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st, again;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            st.st_mtime < now - STALE_TEMP_SECONDS && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            fstatat(dfd, e->d_name, &again, AT_SYMLINK_NOFOLLOW) == 0 && again.st_dev == st.st_dev &&
            again.st_ino == st.st_ino)
            unlinkat(dfd, e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

/* Syncs a folder so a rename in it survives a crash. File systems that
** cannot sync a folder say EINVAL: nothing to do there. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno == EACCES ? 0 : -1;
    int rc = fsync(fd) < 0 && errno != EINVAL && errno != EROFS ? -1 : 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int he_file_write(const char *path, const void *buf, size_t len, unsigned flags, const char *what)
{
    if (!path || (!buf && len) || !what) he_misuse("he_file_write: NULL");
    bool secret = flags & HE_FILE_SECRET;
    /* only regular files are replaced (renaming over /dev/null, a FIFO or a
    ** directory would destroy it); a symbolic link only when asked: a link
    ** planted at a predictable name would otherwise redirect the write */
    struct stat st;
    char *resolved = NULL;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            if (!(flags & HE_FILE_FOLLOW_LINK))
                return he_error("%s: cannot write %s: it is a symbolic link (refusing to write through it)", what,
                                path);
            resolved = realpath(path, NULL);
            if (!resolved || stat(resolved, &st) < 0) {
                free(resolved);
                return he_error("%s: cannot write %s: a link to nowhere", what, path);
            }
            path = resolved;
        }
        if (!S_ISREG(st.st_mode)) {
            int rc = he_error("%s: cannot write %s: not a regular file", what, path);
            free(resolved);
            return rc;
        }
    }
    const char *base;
    char *dir = dir_of(path, &base);
    size_t pl = strlen(path);
    char *tmp = dir ? he_malloc(pl + TEMP_SUFFIX_LEN + 1) : NULL;
    if (!tmp) {
        free(dir);
        free(resolved);
        return he_error("%s: out of memory", what);
    }
    remove_stale_temps(dir, base);
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        snprintf(tmp, pl + TEMP_SUFFIX_LEN + 1, "%s.%016llx.tmp", path, (unsigned long long)he_random_u64());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, secret ? 0600 : 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    int rc = 0;
    if (fd < 0) {
        rc = he_error("%s: cannot create %s: %s", what, path, strerror(errno));
        goto out;
    }
    (void)flock(fd, LOCK_EX | LOCK_NB); /* held until the rename: not stale */
    /* O_EXCL made the file with our mode; fchmod guards against odd umasks */
    if (secret && fchmod(fd, 0600) < 0)
        rc = he_error("%s: cannot restrict %s to mode 0600: %s", what, path, strerror(errno));
    const uint8_t *p = buf;
    size_t off = 0;
    while (rc == 0 && off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = he_error("%s: cannot write %s: %s", what, path, w < 0 ? strerror(errno) : "no space");
        else off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0) rc = he_error("%s: cannot write %s: %s", what, path, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0) rc = he_error("%s: cannot write %s: %s", what, path, strerror(errno));
    if (rc < 0) unlink(tmp);
    if (close(fd) < 0 && rc == 0) rc = he_error("%s: cannot write %s: %s", what, path, strerror(errno));
    if (rc == 0 && sync_dir(dir) < 0)
        rc = he_error("%s: cannot sync the folder of %s: %s", what, path, strerror(errno));
out:
    he_free(tmp);
    free(dir);
    free(resolved);
    return rc;
}

int he_file_read(const char *path, size_t max, const char *what, uint8_t **out, size_t *len)
{
    if (!path || !what || !out || !len) he_misuse("he_file_read: NULL");
    *out = NULL;
    *len = 0;
    if (max > SIZE_MAX / 2) max = SIZE_MAX / 2;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return he_error("%s: cannot open %s: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return he_error("%s: cannot read %s: %s", what, path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return he_error("%s: cannot read %s: a directory", what, path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        return he_error("%s: %s is too large (%lld bytes, at most %zu)", what, path, (long long)st.st_size, max);
    }
    /* a regular file's size is known: one allocation (plus one byte to see growth) */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    uint8_t *b = he_malloc(cap);
    int rc = b ? 0 : -1;
    while (rc == 0) {
        if (n == cap) {
            if (n > max) break;
            size_t ncap = cap * 2 < max + 1 ? cap * 2 : max + 1;
            uint8_t *nb = he_malloc(ncap);
            if (!nb) {
                rc = -1;
                break;
            }
            memcpy(nb, b, n);
            he_free_secret(b, cap);
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = he_error("%s: cannot read %s: %s", what, path, strerror(errno));
        else if (r == 0) break;
        else n += (size_t)r;
    }
    close(fd);
    if (rc == 0 && n > max) rc = he_error("%s: %s is too large (more than %zu bytes)", what, path, max);
    if (rc == 0 && n == cap) {
        /* room for the terminating zero */
        uint8_t *nb = he_malloc(n + 1);
        if (!nb) rc = -1;
        else {
            memcpy(nb, b, n);
            he_free_secret(b, cap);
            b = nb;
            cap = n + 1;
        }
    }
    if (rc < 0) {
        if (b) he_free_secret(b, cap);
        return -1;
    }
    /* callers free n + 1 bytes: wipe the slack now */
    if (cap > n + 1) he_memzero(b + n + 1, cap - n - 1);
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

/* --- data files ----------------------------------------------------------- */

static char *try_path(const char *dir, const char *rel)
{
    static const char *const suffix[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(dir) + strlen(rel) + 8;
        char *p = he_malloc(n);
        if (!p) return NULL;
        snprintf(p, n, "%s/%s%s", dir, rel, suffix[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
        free(p);
    }
    return NULL;
}

char *he_data_path(const char *rel)
{
    const char *env = getenv("HE_DATA");
    char *p = NULL;
    if (env && *env && (p = try_path(env, rel))) return p;
    if ((p = try_path("../shared/data", rel))) return p;
    if ((p = try_path("data", rel))) return p;
    he_error("data file '%s' not found (looked in $HE_DATA%s%s, ../shared/data, data/); "
             "set HE_DATA or run 'make data'",
             rel, env ? "=" : "", env ? env : "");
    return NULL;
}
