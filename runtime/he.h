/*
** he.h: the core of the runtime library (libhe).
**
** Conventions (libsodium-shaped):
**   - functions return 0 on success and -1 on failure; a failure leaves a
**     message readable with he_errmsg() (thread-local, never NULL);
**   - callers own their outputs;
**   - misuse (a NULL where a value is required, a broken invariant) aborts
**     through he_misuse(); bad data never aborts.
**   - secrets are wiped with he_memzero() on every path.
** Nothing in runtime/ includes anything from interp/ or grammar/.
*/
#ifndef HE_H
#define HE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HE_VERSION "0.1.0"

#if defined(__GNUC__)
#define HE_WARN_UNUSED __attribute__((warn_unused_result))
#define HE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define HE_NORETURN __attribute__((noreturn))
#define HE_LIKELY(x) __builtin_expect(!!(x), 1)
#define HE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HE_WARN_UNUSED
#define HE_PRINTF(a, b)
#define HE_NORETURN
#define HE_LIKELY(x) (x)
#define HE_UNLIKELY(x) (x)
#endif

/* Idempotent: 0 the first time, 1 when already initialised, -1 on failure.
** Initialises libsodium and routes GMP's allocations through the runtime
** (so GMP limbs are wiped when freed). */
int he_init(void) HE_WARN_UNUSED;

/* --- errors ------------------------------------------------------------- */
/* Sets the thread's error message and returns -1. */
int he_error(const char *fmt, ...) HE_PRINTF(1, 2);
const char *he_errmsg(void);
void he_clearerr(void);
HE_NORETURN void he_misuse(const char *what);

/* --- interrupts ------------------------------------------------------------- */
/* A signal handler records its signal with he_interrupt(sig): it only
** stores a number, so it is async-signal-safe. Long loops poll cheaply (per
** block of a matrix product, per prime candidate, per CKKS operation or key,
** per SMPC protocol step and network wait; never per element):
** he_poll_interrupt() is 0, or -1 with the error "interrupted"
** ("terminated" for SIGTERM) while one is pending. The interrupt stays
** pending until the front end has stopped and calls he_interrupt_clear(). */
extern _Atomic int he_interrupt_sig;
void he_interrupt(int sig);
static inline int he_interrupt_pending(void) { return he_interrupt_sig; }
void he_interrupt_clear(void);
/* "interrupted", or "terminated" for SIGTERM */
const char *he_interrupt_message(void);
int he_poll_interrupt(void) HE_WARN_UNUSED;

/* --- memory ------------------------------------------------------------- */
/* NULL (with he_error set) on failure. Sizes that overflow fail cleanly. */
void *he_malloc(size_t n);
void *he_calloc(size_t count, size_t size);
void *he_realloc(void *p, size_t n);
void he_free(void *p);
/* Writes zeros the compiler cannot elide. */
void he_memzero(void *p, size_t n);
/* Wipes n bytes, then frees. */
void he_free_secret(void *p, size_t n);
/* Constant-time comparison: 0 when equal, -1 otherwise. */
int he_memcmp_ct(const void *a, const void *b, size_t n) HE_WARN_UNUSED;
/* a * b, or -1 (with he_error) when it overflows SIZE_MAX. */
int he_mul_size(size_t a, size_t b, size_t *out) HE_WARN_UNUSED;

/* --- randomness ----------------------------------------------------------- */
/* Cryptographic randomness (libsodium). Use for keys, noise and shares. */
void he_randombytes(void *buf, size_t n);
uint64_t he_random_u64(void);
/* Uniform in [0, bound) without modulo bias; bound > 0. */
uint64_t he_random_uniform(uint64_t bound);

/* Deterministic generator (ChaCha20 keystream from a seed): reproducible
** random tensors and tests. Not for secrets unless the seed is secret. */
typedef struct he_prng {
    uint8_t key[32];
    uint64_t block;
    uint8_t buf[256];
    unsigned pos;
    int has_spare;
    double spare;
} he_prng;
void he_prng_seed(he_prng *g, uint64_t seed);
void he_prng_seed_bytes(he_prng *g, const uint8_t seed[32]);
void he_prng_bytes(he_prng *g, void *out, size_t n);
uint64_t he_prng_u64(he_prng *g);
/* Uniform double in [0, 1) with 53 random bits. */
double he_prng_uniform(he_prng *g);
/* Standard normal (Box-Muller). */
double he_prng_normal(he_prng *g);
/* Wipes the generator state. */
void he_prng_wipe(he_prng *g);

/* --- string buffer -------------------------------------------------------- */
typedef struct he_buf {
    char *data;
    size_t len, cap;
} he_buf;
void he_buf_init(he_buf *b);
void he_buf_free(he_buf *b);
int he_buf_add(he_buf *b, const char *s, size_t n);
int he_buf_puts(he_buf *b, const char *s);
int he_buf_printf(he_buf *b, const char *fmt, ...) HE_PRINTF(2, 3);
/* Shortest decimal that reads back as the same double; always shows a
** '.', 'e', "inf" or "nan" so a float never looks like an int. */
int he_buf_double(he_buf *b, double d);

/* --- files ------------------------------------------------------------------ */
/* he_file_write flags (a bool `secret` of older callers reads as HE_FILE_SECRET) */
#define HE_FILE_SECRET 1u      /* mode 0600 */
#define HE_FILE_FOLLOW_LINK 2u /* a symbolic link at path: replace its target */
/* Writes len bytes to path atomically: into a new temporary file beside it
** (PATH.<16 hex digits>.tmp, created with O_EXCL|O_NOFOLLOW, mode 0600 with
** HE_FILE_SECRET, else 0644 less the umask), synced, renamed over path, and
** the folder synced. On failure path is left as it was and the temporary
** is removed. A secret file never exists with a wider mode, even when path
** existed before with 0644. Only a regular file is replaced; a symbolic
** link at path is refused unless flags has HE_FILE_FOLLOW_LINK. Temporaries
** of path left by a writer that died are removed (see core.c). `what`
** prefixes error messages. */
int he_file_write(const char *path, const void *buf, size_t len, unsigned flags,
                  const char *what) HE_WARN_UNUSED;
/* Reads a whole file (at most max bytes, else an error) into a he_malloc'd
** buffer of *len bytes (plus a zero byte after them). Buffers outgrown
** while reading are wiped, and no stdio buffer holds the bytes, so secret
** files can be read with it: free the result with he_free_secret(*out,
** *len + 1). `what` prefixes error messages. */
int he_file_read(const char *path, size_t max, const char *what, uint8_t **out,
                 size_t *len) HE_WARN_UNUSED;

/* --- data files ----------------------------------------------------------- */
/* Finds a dataset file: $HE_DATA/rel, else ../shared/data/rel, else
** data/rel (each also tried with ".gz" appended). Returns a malloc'd path or
** NULL (he_error says where it looked). */
char *he_data_path(const char *rel);

#endif
