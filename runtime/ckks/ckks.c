/*
** ckks.c: RNS-CKKS context, keys, encoding, encryption and evaluation.
**
** Everything is kept in NTT form (ciphertexts, plaintexts, keys); the
** transforms back happen only where a basis change needs coefficients
** (rescale, key switching, decoding). Key switching is SEAL's hybrid
** method with one special prime P: the polynomial is split into one digit
** per RNS prime, each digit is lifted to q_0..q_l,P and multiplied by the
** key, the products are accumulated in 128 bits (one reduction per output
** coefficient) and the result is divided by P with rounding.
*/
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ckks/ckks_internal.h"

#define CBD_ETA 21 /* centered binomial: variance 21/2, standard deviation 3.24 */

/* --- parameters and context ------------------------------------------------- */

int he_ckks_max_bits(unsigned n)
{
    switch (n) {
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    default: return 0;
    }
}

static void set_bits(he_ckks_params *p, unsigned n, double scale, int first,
                     int mid, unsigned nmid, int special)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->scale = scale;
    p->bits[0] = first;
    for (unsigned i = 0; i < nmid; i++) p->bits[1 + i] = mid;
    p->bits[1 + nmid] = special;
    p->nprimes = nmid + 2;
}

int he_ckks_params_default(he_ckks_params *p, unsigned n)
{
    switch (n) {
    case 4096: set_bits(p, n, ldexp(1, 33), 38, 33, 1, 38); return 0;
    case 8192: set_bits(p, n, ldexp(1, 40), 49, 40, 3, 49); return 0;
    case 16384: set_bits(p, n, ldexp(1, 45), 60, 45, 7, 60); return 0;
    case 32768: set_bits(p, n, ldexp(1, 50), 60, 50, 15, 60); return 0;
    default:
        return he_error("ckks: no default parameters for N=%u (have 4096, 8192, 16384, 32768)", n);
    }
}

void he_ckks_ctx_free(he_ckks_ctx *c)
{
    if (!c) return;
    for (unsigned i = 0; i < c->k; i++) ckks_mod_free(&c->mod[i]);
    he_free(c->qinv);
    for (unsigned i = 0; i < CKKS_SCRATCH; i++) he_free(c->scratch[i]);
    he_free(c->ksi);
    he_free(c->rot);
    he_free(c->fftw);
    he_free(c);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

he_ckks_ctx *he_ckks_ctx_new(const he_ckks_params *p)
{
    if (!p) he_misuse("he_ckks_ctx_new: NULL params");
    unsigned n = p->n;
    if (n < 8 || n > 65536 || (n & (n - 1))) {
        he_error("ckks: N=%u is not a power of two in [8, 65536]", n);
        return NULL;
    }
    if (p->nprimes < 2 || p->nprimes > HE_CKKS_MAX_PRIMES) {
        he_error("ckks: need 2 to %d primes (data primes and one special prime), got %u",
                 HE_CKKS_MAX_PRIMES, p->nprimes);
        return NULL;
    }
    unsigned logn = 0;
    while ((1u << logn) < n) logn++;
    int total = 0;
    for (unsigned i = 0; i < p->nprimes; i++) {
        if (p->bits[i] < (int)logn + 2 || p->bits[i] > 60) {
            he_error("ckks: prime %u: %d bits is outside [%u, 60] for N=%u", i, p->bits[i],
                     logn + 2, n);
            return NULL;
        }
        total += p->bits[i];
    }
    if (!(p->scale > 1.0) || !isfinite(p->scale)) {
        he_error("ckks: scale must be a finite number > 1");
        return NULL;
    }
    int bound = he_ckks_max_bits(n);
    bool secure = bound && total <= bound;
    if (!secure) {
        if (!p->insecure) {
            if (!bound)
                he_error("ckks: N=%u is not a 128-bit secure ring dimension (use 4096, 8192, "
                         "16384 or 32768, or set insecure to opt out)", n);
            else
                he_error("ckks: log2(qP) = %d bits exceeds the 128-bit bound of %d bits for "
                         "N=%u (set insecure to opt out)", total, bound, n);
            return NULL;
        }
        fprintf(stderr, "he: warning: CKKS parameters N=%u, log2(qP)=%d are NOT 128-bit secure "
                "(insecure opt-out)\n", n, total);
    }
    he_ckks_ctx *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    for (unsigned i = 0; i < CKKS_SCRATCH; i++) atomic_flag_clear(&c->scratch_busy[i]);
    c->n = n;
    c->logn = logn;
    c->slots = n / 2;
    c->scale = p->scale;
    /* deterministic prime search */
    uint64_t step = 2ull * n;
    for (unsigned i = 0; i < p->nprimes; i++) {
        int b = p->bits[i];
        uint64_t cand = (1ull << b) - step + 1, lo = 1ull << (b - 1);
        uint64_t found = 0;
        for (; cand > lo; cand -= step) {
            bool used = false;
            for (unsigned j = 0; j < i; j++) used |= c->mod[j].q == cand;
            if (!used && ckks_is_prime(cand)) {
                found = cand;
                break;
            }
        }
        if (!found) {
            he_error("ckks: not enough %d-bit primes = 1 mod %llu", b, (unsigned long long)step);
            he_ckks_ctx_free(c);
            return NULL;
        }
        if (ckks_mod_init(&c->mod[i], found, n) < 0) {
            he_ckks_ctx_free(c);
            return NULL;
        }
        c->k = i + 1;
        c->total_bits += c->mod[i].bits;
    }
    c->L = c->k - 1;
    unsigned k = c->k;
    /* rescale constants */
    c->qinv = he_calloc(3 * (size_t)k * k, sizeof(uint64_t));
    if (!c->qinv) goto fail;
    c->qinvp = c->qinv + (size_t)k * k;
    c->qinvp52 = c->qinvp + (size_t)k * k;
    for (unsigned l = 1; l < k; l++)
        for (unsigned i = 0; i < l; i++) {
            uint64_t qi = c->mod[i].q;
            uint64_t v = ckks_invmod(c->mod[l].q % qi, qi);
            c->qinv[l * k + i] = v;
            c->qinvp[l * k + i] = ckks_shoup(v, qi);
            c->qinvp52[l * k + i] = ckks_shoup52(v, qi);
        }
    uint64_t P = c->mod[k - 1].q;
    for (unsigned i = 0; i + 1 < k; i++) {
        uint64_t qi = c->mod[i].q;
        c->pinv[i] = ckks_invmod(P % qi, qi);
        c->pinvp[i] = ckks_shoup(c->pinv[i], qi);
        c->pinvp52[i] = ckks_shoup52(c->pinv[i], qi);
        c->phalf[i] = (P >> 1) % qi;
    }
    /* encoding tables */
    size_t m = 2 * (size_t)n;
    c->ksi = he_malloc((m + 1) * sizeof *c->ksi);
    c->rot = he_malloc(c->slots * sizeof *c->rot);
    if (!c->ksi || !c->rot) goto fail;
    for (size_t j = 0; j <= m; j++) {
        double a = 2.0 * M_PI * (double)j / (double)m;
        c->ksi[j] = cos(a) + sin(a) * I;
    }
    uint64_t r = 1;
    for (unsigned j = 0; j < c->slots; j++) {
        c->rot[j] = r;
        r = r * 5 % m;
    }
    c->fftw = he_malloc(2 * (size_t)c->slots * sizeof *c->fftw);
    if (!c->fftw) goto fail;
    c->ffti = c->fftw + c->slots;
    c->fftw[0] = c->ffti[0] = 0;
    for (unsigned h = 1; h < c->slots; h <<= 1) {
        size_t lenq = 8 * (size_t)h, gap = m / lenq;
        for (unsigned j = 0; j < h; j++) {
            size_t e = c->rot[j] & (lenq - 1); /* lenq: a power of two */
            c->fftw[h + j] = c->ksi[e * gap];
            c->ffti[h + j] = c->ksi[(lenq - e) * gap];
        }
    }
    /* fingerprint: BLAKE2b-256 over a label, N and the primes */
    {
        uint8_t buf[32 + 8 + 8 * HE_CKKS_MAX_PRIMES];
        memset(buf, 0, sizeof buf);
        memcpy(buf, "he-ckks-params-v1", 17);
        put_u64(buf + 32, n);
        for (unsigned i = 0; i < k; i++) put_u64(buf + 40 + 8 * i, c->mod[i].q);
        crypto_generichash(c->fp, 32, buf, 40 + 8 * (size_t)k, NULL, 0);
    }
    return c;
fail:
    he_ckks_ctx_free(c);
    return NULL;
}

unsigned he_ckks_ctx_n(const he_ckks_ctx *c) { return c->n; }
unsigned he_ckks_ctx_slots(const he_ckks_ctx *c) { return c->slots; }
int he_ckks_ctx_max_level(const he_ckks_ctx *c) { return (int)c->L - 1; }
double he_ckks_ctx_scale(const he_ckks_ctx *c) { return c->scale; }
uint64_t he_ckks_ctx_prime(const he_ckks_ctx *c, unsigned i) { return i < c->k ? c->mod[i].q : 0; }
unsigned he_ckks_ctx_nprimes(const he_ckks_ctx *c) { return c->k; }
int he_ckks_ctx_total_bits(const he_ckks_ctx *c) { return c->total_bits; }
void he_ckks_ctx_fingerprint(const he_ckks_ctx *c, uint8_t out[32]) { memcpy(out, c->fp, 32); }

/* --- sampling (libsodium randomness) ----------------------------------------
** Each sampling call takes one 32-byte seed from libsodium's system CSPRNG
** (he_randombytes) and expands it with ChaCha20 (he_prng, libsodium's
** crypto_stream_chacha20): one system call per key or encryption rather
** than one per small buffer. The generator state is wiped afterwards. */

static void rng_open(he_prng *g)
{
    uint8_t seed[32];
    he_randombytes(seed, sizeof seed);
    he_prng_seed_bytes(g, seed);
    he_memzero(seed, sizeof seed);
}

/* Uniform ternary in {-1, 0, 1}: bytes < 255 reduced mod 3. */
static void sample_ternary(he_prng *g, int8_t *s, unsigned n)
{
    uint8_t buf[256];
    unsigned have = 0, pos = 0;
    for (unsigned i = 0; i < n;) {
        if (pos == have) {
            he_prng_bytes(g, buf, sizeof buf);
            have = sizeof buf;
            pos = 0;
        }
        uint8_t b = buf[pos++];
        if (b == 255) continue;
        s[i++] = (int8_t)(b % 3) - 1;
    }
    he_memzero(buf, sizeof buf);
}

static inline int popcount21(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

/* Centered binomial with eta = 21 (standard deviation 3.24), 6 bytes each. */
static void sample_cbd(he_prng *g, int8_t *e, unsigned n)
{
    uint8_t buf[6 * 64];
    for (unsigned i = 0; i < n; i += 64) {
        unsigned cnt = n - i < 64 ? n - i : 64;
        he_prng_bytes(g, buf, 6 * (size_t)cnt);
        for (unsigned j = 0; j < cnt; j++) {
            const uint8_t *p = buf + 6 * j;
            uint64_t x = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                         (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40;
            e[i + j] = (int8_t)(popcount21(x & 0x1FFFFF) - popcount21((x >> 21) & 0x1FFFFF));
        }
    }
    he_memzero(buf, sizeof buf);
}

/* Small signed coefficients into residues mod q, then NTT. */
static void small_to_ntt(uint64_t *out, const int8_t *s, const ckks_mod *m, unsigned n)
{
    /* without a branch on the secret's signs: s + (q if s < 0) */
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = (uint64_t)(int64_t)s[i];
        out[i] = v + (m->q & (0 - (v >> 63)));
    }
    ckks_ntt(out, m, n);
}

/* Element-wise products: the IFMA kernels when the prime uses them. */
static void poly_mul(uint64_t *o, const uint64_t *a, const uint64_t *b, const ckks_mod *m, unsigned n)
{
    if (m->ifma) {
        ckks_mul_ifma(o, a, b, m, n);
        return;
    }
    const uint64_t q = m->q, mu = m->mu;
    const int bits = m->bits;
    for (unsigned j = 0; j < n; j++) o[j] = ckks_mulmod_k(a[j], b[j], q, mu, bits);
}

static void poly_muladd(uint64_t *o, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                        const ckks_mod *m, unsigned n)
{
    if (m->ifma) {
        ckks_muladd_ifma(o, a, b, c, m, n);
        return;
    }
    const uint64_t q = m->q, mu = m->mu;
    const int bits = m->bits;
    for (unsigned j = 0; j < n; j++) o[j] = ckks_addmod(ckks_mulmod_k(a[j], b[j], q, mu, bits), c[j], q);
}

/* --- scratch memory ---------------------------------------------------------
** Large temporaries of the evaluation functions come from buffers kept in
** the context (allocating them each time costs page faults: glibc maps
** blocks this size afresh on every call). A buffer is taken with an atomic
** flag: the threads of the pool that evaluate ciphertexts side by side
** (he_ckks_square_pairs_many, ...) each take their own; past CKKS_SCRATCH
** at once, a private allocation. Only public data stays there (decoding
** wipes its copy of the plaintext before it puts the buffer back). */

static uint64_t *scratch_get(const he_ckks_ctx *cc, size_t words, int *slot)
{
    he_ckks_ctx *c = (he_ckks_ctx *)cc; /* the buffers are not part of the value */
    for (unsigned i = 0; i < CKKS_SCRATCH; i++) {
        if (atomic_flag_test_and_set_explicit(&c->scratch_busy[i], memory_order_acquire)) continue;
        if (c->scratch_len[i] < words) {
            he_free(c->scratch[i]);
            c->scratch[i] = he_malloc(words * sizeof(uint64_t));
            c->scratch_len[i] = c->scratch[i] ? words : 0;
            if (!c->scratch[i]) {
                atomic_flag_clear_explicit(&c->scratch_busy[i], memory_order_release);
                return NULL;
            }
        }
        *slot = (int)i;
        return c->scratch[i];
    }
    *slot = -1;
    return he_malloc(words * sizeof(uint64_t));
}

/* Gives back what scratch_get(..., &slot) gave. */
static void scratch_put(const he_ckks_ctx *cc, uint64_t *p, int slot)
{
    he_ckks_ctx *c = (he_ckks_ctx *)cc;
    if (slot >= 0) atomic_flag_clear_explicit(&c->scratch_busy[slot], memory_order_release);
    else he_free(p);
}

/* --- plaintext and ciphertext objects ---------------------------------------- */

he_ckks_pt *he_ckks_pt_new(const he_ckks_ctx *ctx)
{
    if (!ctx) he_misuse("he_ckks_pt_new: NULL context");
    he_ckks_pt *p = he_calloc(1, sizeof *p);
    if (p) p->ctx = ctx;
    return p;
}

void he_ckks_pt_free(he_ckks_pt *p)
{
    if (!p) return;
    if (p->data) he_free_secret(p->data, p->cap * sizeof(uint64_t));
    he_free(p);
}

int he_ckks_pt_level(const he_ckks_pt *p) { return (int)p->nq - 1; }
double he_ckks_pt_scale(const he_ckks_pt *p) { return p->scale; }

static int pt_reserve(he_ckks_pt *p, unsigned nq)
{
    size_t need = (size_t)nq * p->ctx->n;
    if (p->cap < need) {
        uint64_t *d = he_malloc(need * sizeof *d);
        if (!d) return -1;
        if (p->data) he_free_secret(p->data, p->cap * sizeof(uint64_t));
        p->data = d;
        p->cap = need;
    }
    p->nq = nq;
    return 0;
}

he_ckks_ct *he_ckks_ct_new(const he_ckks_ctx *ctx)
{
    if (!ctx) he_misuse("he_ckks_ct_new: NULL context");
    he_ckks_ct *c = he_calloc(1, sizeof *c);
    if (c) c->ctx = ctx;
    return c;
}

void he_ckks_ct_free(he_ckks_ct *c)
{
    if (!c) return;
    he_free(c->data);
    he_free(c);
}

int he_ckks_ct_level(const he_ckks_ct *c) { return c->size ? (int)c->nq - 1 : -1; }
double he_ckks_ct_scale(const he_ckks_ct *c) { return c->scale; }
int he_ckks_ct_size(const he_ckks_ct *c) { return (int)c->size; }
void he_ckks_ct_set_scale(he_ckks_ct *c, double s) { c->scale = s; }
const he_ckks_ctx *he_ckks_ct_ctx(const he_ckks_ct *c) { return c->ctx; }
const he_ckks_ctx *he_ckks_pt_ctx(const he_ckks_pt *p) { return p->ctx; }
const he_ckks_ctx *he_ckks_keys_ctx(const he_ckks_keys *k) { return k->ctx; }

/* Makes room for size polynomials at nq primes. Keeps the old contents (the
** layout is unchanged when nq is). */
static int ct_reserve(he_ckks_ct *c, unsigned size, unsigned nq)
{
    size_t need = (size_t)size * nq * c->ctx->n;
    c->seeded = false;
    if (c->cap < need) {
        uint64_t *d = he_realloc(c->data, need * sizeof *d);
        if (!d) return -1;
        c->data = d;
        c->cap = need;
    }
    return 0;
}

static inline uint64_t *ct_poly(const he_ckks_ct *c, unsigned p, unsigned i)
{
    return c->data + ((size_t)p * c->nq + i) * c->ctx->n;
}

/* For the other files of the runtime (ckks_internal.h). */
int ckks_ct_reserve(he_ckks_ct *c, unsigned size, unsigned nq) { return ct_reserve(c, size, nq); }

int he_ckks_ct_copy(he_ckks_ct *dst, const he_ckks_ct *src)
{
    /* callers copy and then modify: the copy is never seed-compressed */
    dst->seeded = false;
    if (dst == src) return 0;
    if (dst->ctx != src->ctx) return he_error("ckks: ciphertexts from different contexts");
    if (ct_reserve(dst, src->size, src->nq) < 0) return -1;
    dst->size = src->size;
    dst->nq = src->nq;
    dst->scale = src->scale;
    if (src->size)
        memcpy(dst->data, src->data, (size_t)src->size * src->nq * src->ctx->n * sizeof(uint64_t));
    return 0;
}

static int check_ct(const he_ckks_ctx *ctx, const he_ckks_ct *c)
{
    if (!c || !ctx) he_misuse("ckks: NULL argument");
    if (c->ctx != ctx) return he_error("ckks: ciphertext belongs to another context");
    if (c->size < 2) return he_error("ckks: ciphertext is empty");
    return 0;
}

static int check_pt(const he_ckks_ctx *ctx, const he_ckks_pt *p)
{
    if (!p || !ctx) he_misuse("ckks: NULL argument");
    if (p->ctx != ctx) return he_error("ckks: plaintext belongs to another context");
    if (!p->nq) return he_error("ckks: plaintext is empty");
    return 0;
}

static bool same_scale(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

int ckks_check_ct(const he_ckks_ctx *ctx, const he_ckks_ct *c) { return check_ct(ctx, c); }
bool ckks_same_scale(double a, double b) { return same_scale(a, b); }

/* --- encoding --------------------------------------------------------------- */

static void bitrev_complex(double complex *v, unsigned n)
{
    for (unsigned i = 1, j = 0; i < n; i++) {
        unsigned bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double complex t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
    }
}

/* Plain complex product (the C operator also handles infinities and NaNs
** through a slow library call; our values are finite). */
static inline double complex cmul(double complex a, double complex b)
{
    double ar = creal(a), ai = cimag(a), br = creal(b), bi = cimag(b);
    return CMPLX(ar * br - ai * bi, ar * bi + ai * br);
}

/* Evaluates the slot vector's polynomial at zeta^(5^j): the special FFT. */
static void emb(const he_ckks_ctx *c, double complex *v, unsigned n)
{
    bool vec = ckks_codec_avx512(c, 1);
    bitrev_complex(v, n);
    for (unsigned h = 1; h < n; h <<= 1) {
        const double complex *tw = c->fftw + h;
        if (vec && h >= 4) {
            ckks_fft_stage_avx512(v, tw, n, h, false);
            continue;
        }
        for (unsigned i = 0; i < n; i += 2 * h)
            for (unsigned j = 0; j < h; j++) {
                double complex u = v[i + j], w = cmul(v[i + j + h], tw[j]);
                v[i + j] = u + w;
                v[i + j + h] = u - w;
            }
    }
}

static void emb_inv(const he_ckks_ctx *c, double complex *v, unsigned n)
{
    bool vec = ckks_codec_avx512(c, 1);
    for (unsigned h = n / 2; h >= 1; h >>= 1) {
        const double complex *tw = c->ffti + h;
        if (vec && h >= 4) {
            ckks_fft_stage_avx512(v, tw, n, h, true);
            continue;
        }
        for (unsigned i = 0; i < n; i += 2 * h)
            for (unsigned j = 0; j < h; j++) {
                double complex u = v[i + j] + v[i + j + h];
                double complex w = cmul(v[i + j] - v[i + j + h], tw[j]);
                v[i + j] = u;
                v[i + j + h] = w;
            }
    }
    bitrev_complex(v, n);
    double inv = 1.0 / n;
    for (unsigned i = 0; i < n; i++) v[i] *= inv;
}

/* Residues of the integer r (already rounded) modulo the first nq primes,
** written with the given stride. Fails when |r| does not fit below Q/2. */
static int real_to_rns(const he_ckks_ctx *c, unsigned nq, double r, uint64_t *out,
                       size_t stride)
{
    bool neg = r < 0;
    double a = fabs(r);
    int qbits = 0;
    for (unsigned i = 0; i < nq; i++) qbits += c->mod[i].bits - 1;
    if (!(a < ldexp(1, qbits - 1)))
        return isfinite(a) ? he_error("ckks: scaled value %g too large for the modulus at this level "
                                      "(use a smaller scale or a higher level)", r)
                           : he_error("ckks: cannot encode a non-finite value");
    if (a < 9.2e18) {
        uint64_t u = (uint64_t)a;
        for (unsigned i = 0; i < nq; i++) {
            uint64_t x = ckks_red64(u, &c->mod[i]);
            out[i * stride] = (neg && x) ? c->mod[i].q - x : x;
        }
        return 0;
    }
    int e;
    double f = frexp(a, &e); /* a = f * 2^e, f in [0.5, 1), e > 63 here */
    uint64_t mant = (uint64_t)ldexp(f, 53);
    for (unsigned i = 0; i < nq; i++) {
        const ckks_mod *m = &c->mod[i];
        uint64_t x = ckks_mulmod(ckks_red64(mant, m), ckks_powmod(2, (uint64_t)(e - 53), m->q), m);
        out[i * stride] = (neg && x) ? m->q - x : x;
    }
    return 0;
}

int ckks_real_to_rns(const he_ckks_ctx *c, unsigned nq, double r, uint64_t *out, size_t stride)
{
    return real_to_rns(c, nq, r, out, stride);
}

/* Slot pair i of the encoder: round(z * scale), real part to coefficient
** i and imaginary part to i + N/2, residues at the first nq primes (out:
** coefficient i of prime 0). */
static int round_to_rns(const he_ckks_ctx *c, uint64_t *out, double complex z, unsigned nq,
                        double scale, double lim)
{
    unsigned n = c->n, nh = c->slots;
    double re = round(creal(z) * scale), im = round(cimag(z) * scale);
    if (fabs(re) < lim && fabs(im) < lim) {
        /* the common case inline: |value| below 2^62 and below the bound
        ** that real_to_rns checks (Q/2 from the bits); the same residues */
        uint64_t ur = (uint64_t)fabs(re), ui = (uint64_t)fabs(im);
        for (unsigned t = 0; t < nq; t++) {
            const ckks_mod *m = &c->mod[t];
            uint64_t xr = ckks_red64(ur, m), xi = ckks_red64(ui, m);
            out[(size_t)t * n] = (re < 0 && xr) ? m->q - xr : xr;
            out[(size_t)t * n + nh] = (im < 0 && xi) ? m->q - xi : xi;
        }
        return 0;
    }
    if (real_to_rns(c, nq, re, out, n) < 0) return -1;
    return real_to_rns(c, nq, im, out + nh, n);
}

static int encode_slots(const he_ckks_ctx *c, he_ckks_pt *pt, double complex *z, int level,
                        double scale)
{
    unsigned n = c->n, nh = c->slots;
    if (level < 0) level = (int)c->L - 1;
    if (level >= (int)c->L) return he_error("ckks: level %d above the top level %u", level, c->L - 1);
    if (scale == 0) scale = c->scale;
    if (!(scale > 0) || !isfinite(scale)) return he_error("ckks: bad scale");
    unsigned nq = (unsigned)level + 1;
    emb_inv(c, z, nh);
    if (pt_reserve(pt, nq) < 0) return -1;
    pt->scale = scale;
    int qbits = 0;
    for (unsigned t = 0; t < nq; t++) qbits += c->mod[t].bits - 1;
    double lim = fmin(0x1p62, ldexp(1, qbits - 1));
    bool vec = ckks_codec_avx512(c, nq);
    for (unsigned i = 0; i < nh;) {
        /* blocks of eight with AVX-512; a block with a value beyond its
        ** reach (2^52) here, as everything without it */
        if (vec && (i = ckks_encode_round_avx512(c, pt->data, z, i, nq, scale, lim)) >= nh) break;
        for (unsigned end = vec ? i + 8 : nh; i < end; i++)
            if (round_to_rns(c, pt->data + i, z[i], nq, scale, lim) < 0) return -1;
    }
    for (unsigned i = 0; i < nq; i++) ckks_ntt(pt->data + (size_t)i * n, &c->mod[i], n);
    return 0;
}

int he_ckks_encode_complex(const he_ckks_ctx *c, he_ckks_pt *pt, const double complex *v,
                           size_t n, int level, double scale)
{
    if (!c || !pt || (!v && n)) he_misuse("he_ckks_encode: NULL argument");
    if (pt->ctx != c) return he_error("ckks: plaintext belongs to another context");
    if (n > c->slots) return he_error("ckks: %zu values exceed the %u slots", n, c->slots);
    double complex *z = he_calloc(c->slots, sizeof *z);
    if (!z) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(creal(v[i])) || !isfinite(cimag(v[i]))) {
            he_free_secret(z, c->slots * sizeof *z);
            return he_error("ckks: cannot encode a non-finite value (slot %zu)", i);
        }
        z[i] = v[i];
    }
    int r = encode_slots(c, pt, z, level, scale);
    he_free_secret(z, c->slots * sizeof *z);
    return r;
}

int he_ckks_encode(const he_ckks_ctx *c, he_ckks_pt *pt, const double *v, size_t n, int level,
                   double scale)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (!c || !pt || (!v && n)) he_misuse("he_ckks_encode: NULL argument");
    if (pt->ctx != c) return he_error("ckks: plaintext belongs to another context");
    if (n > c->slots) return he_error("ckks: %zu values exceed the %u slots", n, c->slots);
    double complex *z = he_calloc(c->slots, sizeof *z);
    if (!z) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            he_free_secret(z, c->slots * sizeof *z);
            return he_error("ckks: cannot encode a non-finite value (slot %zu)", i);
        }
        z[i] = v[i];
    }
    int r = encode_slots(c, pt, z, level, scale);
    he_free_secret(z, c->slots * sizeof *z);
    return r;
}

/* The Garner constants for the first nq primes (see ckks_garner). */
static int garner_init(const he_ckks_ctx *c, unsigned nq, ckks_garner *g)
{
    size_t nn = (size_t)nq * nq;
    g->nq = nq;
    g->w = he_malloc(3 * nn * sizeof *g->w);
    if (!g->w) return -1;
    g->wp = g->w + nn;
    g->wp52 = g->wp + nn;
    for (unsigned t = 0; t < nq; t++) {
        const ckks_mod *m = &c->mod[t];
        uint64_t *w = g->w + (size_t)t * nq, pj = 1; /* P_j mod q_t */
        for (unsigned j = 0; j < t; j++) {
            w[j] = pj;
            pj = ckks_mulmod(pj, c->mod[j].q % m->q, m);
        }
        uint64_t inv = ckks_invmod(pj, m->q); /* P_t^-1 */
        w[t] = inv;
        for (unsigned j = 0; j < t; j++) {
            uint64_t v = ckks_mulmod(w[j], inv, m);
            w[j] = v ? m->q - v : 0;
        }
        for (unsigned j = 0; j <= t; j++) {
            g->wp[(size_t)t * nq + j] = ckks_shoup(w[j], m->q);
            g->wp52[(size_t)t * nq + j] = m->q < (1ull << 50) ? ckks_shoup52(w[j], m->q) : 0;
        }
    }
    return 0;
}

/* The centered value of one coefficient (residues stride apart) as a
** double, through its mixed-radix digits (ckks_garner); the same
** operations as codec_avx512.c's compose8. */
static double garner_one(const he_ckks_ctx *c, const ckks_garner *g, const uint64_t *x, size_t stride)
{
    unsigned nq = g->nq;
    uint64_t a[HE_CKKS_MAX_PRIMES];
    a[0] = x[0];
    if (nq > 2) {
        /* Fast path: X = a_0 + a_1 q_0 from the first two digits, accepted
        ** when X or X - q_0 q_1 (the smaller in magnitude) matches every
        ** other residue: then the other digits are all 0 or all q_t - 1,
        ** and the Horner sum below reduces to this. */
        const ckks_mod *m0 = &c->mod[0], *m1 = &c->mod[1];
        const uint64_t *w = g->w + nq, *wp = g->wp + nq;
        uint64_t s = ckks_mulshoup_lazy(x[stride], w[1], wp[1], m1->q);
        s = ckks_csub(s + ckks_mulshoup_lazy(a[0], w[0], wp[0], m1->q), 2 * m1->q);
        uint64_t a1 = ckks_csub(s, m1->q);
        u128 q01 = (u128)m0->q * m1->q, X = (u128)a1 * m0->q + a[0];
        bool neg = X > (q01 - 1) / 2;
        u128 mag = neg ? q01 - X : X;
        bool ok = true;
        for (unsigned t = 2; t < nq && ok; t++) {
            const ckks_mod *mt = &c->mod[t];
            uint64_t r = ckks_red128(mag, mt);
            if (neg && r) r = mt->q - r;
            ok = r == x[t * stride];
        }
        if (ok) {
            if (!neg) return (double)a1 * (double)m0->q + (double)a[0];
            double v = (double)(m1->q - 1 - a1) * (double)m0->q + (double)(m0->q - 1 - a[0]);
            return 0.0 - (v + 1.0);
        }
    }
    for (unsigned t = 1; t < nq; t++) {
        const uint64_t *w = g->w + (size_t)t * nq, *wp = g->wp + (size_t)t * nq;
        uint64_t q = c->mod[t].q, s = ckks_mulshoup_lazy(x[t * stride], w[t], wp[t], q);
        for (unsigned j = 0; j < t; j++) s = ckks_csub(s + ckks_mulshoup_lazy(a[j], w[j], wp[j], q), 2 * q);
        a[t] = ckks_csub(s, q);
    }
    bool gt = false;
    for (unsigned t = nq; t-- > 0;) {
        uint64_t h = (c->mod[t].q - 1) / 2;
        if (a[t] != h) {
            gt = a[t] > h;
            break;
        }
    }
    double v = 0;
    for (unsigned t = nq; t-- > 0;) {
        double d = (double)(gt ? c->mod[t].q - 1 - a[t] : a[t]);
        v = t == nq - 1 ? d : v * (double)c->mod[t].q + d;
    }
    return gt ? 0.0 - (v + 1.0) : v;
}

int ckks_crt_compose(const he_ckks_ctx *c, unsigned nq, const uint64_t *x, double complex *z, double inv)
{
    ckks_garner g;
    if (garner_init(c, nq, &g) < 0) return -1;
    unsigned n = c->n, nh = c->slots;
    if (ckks_codec_avx512(c, nq))
        ckks_decode_compose_avx512(c, &g, z, x, inv);
    else
        for (unsigned i = 0; i < nh; i++)
            z[i] = CMPLX(garner_one(c, &g, x + i, n) * inv, garner_one(c, &g, x + i + nh, n) * inv);
    he_free(g.w);
    return 0;
}

static int decode_slots(const he_ckks_ctx *c, const he_ckks_pt *pt, double complex *z)
{
    unsigned n = c->n, nh = c->slots, nq = pt->nq;
    /* the plaintext's copy: secret, wiped before the buffer goes back */
    int slot;
    uint64_t *tmp = scratch_get(c, (size_t)nq * n, &slot);
    if (!tmp) return -1;
    memcpy(tmp, pt->data, (size_t)nq * n * sizeof *tmp);
    for (unsigned i = 0; i < nq; i++) ckks_intt(tmp + (size_t)i * n, &c->mod[i], n);
    int r = ckks_crt_compose(c, nq, tmp, z, 1.0 / pt->scale);
    he_memzero(tmp, (size_t)nq * n * sizeof *tmp);
    scratch_put(c, tmp, slot);
    if (r == 0) emb(c, z, nh);
    return r;
}

int he_ckks_decode_complex(const he_ckks_ctx *c, const he_ckks_pt *pt, double complex *v, size_t n)
{
    if (check_pt(c, pt) < 0) return -1;
    if (n > c->slots) return he_error("ckks: %zu values exceed the %u slots", n, c->slots);
    double complex *z = he_malloc(c->slots * sizeof *z);
    if (!z) return -1;
    int r = decode_slots(c, pt, z);
    if (r == 0) memcpy(v, z, n * sizeof *z);
    he_free_secret(z, c->slots * sizeof *z);
    return r;
}

int he_ckks_decode(const he_ckks_ctx *c, const he_ckks_pt *pt, double *v, size_t n)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (check_pt(c, pt) < 0) return -1;
    if (n > c->slots) return he_error("ckks: %zu values exceed the %u slots", n, c->slots);
    double complex *z = he_malloc(c->slots * sizeof *z);
    if (!z) return -1;
    int r = decode_slots(c, pt, z);
    if (r == 0)
        for (size_t i = 0; i < n; i++) v[i] = creal(z[i]);
    he_free_secret(z, c->slots * sizeof *z);
    return r;
}

int he_ckks_pt_mod_down(const he_ckks_ctx *c, he_ckks_pt *pt, int level)
{
    if (check_pt(c, pt) < 0) return -1;
    if (level < 0 || level > (int)pt->nq - 1)
        return he_error("ckks: cannot move a level-%d plaintext to level %d", (int)pt->nq - 1, level);
    pt->nq = (unsigned)level + 1;
    return 0;
}

/* --- keys ------------------------------------------------------------------- */

he_ckks_keys *he_ckks_keys_new(const he_ckks_ctx *ctx)
{
    if (!ctx) he_misuse("he_ckks_keys_new: NULL context");
    he_ckks_keys *k = he_calloc(1, sizeof *k);
    if (k) k->ctx = ctx;
    return k;
}

static void free_gal(he_ckks_keys *k)
{
    for (size_t i = 0; i < k->ngal; i++) {
        he_free(k->gal[i].perm);
        he_free(k->gal[i].ksk);
    }
    he_free(k->gal);
    k->gal = NULL;
    k->ngal = 0;
}

void he_ckks_keys_drop_secret(he_ckks_keys *k)
{
    if (k->sk) he_free_secret(k->sk, (size_t)k->ctx->k * k->ctx->n * sizeof(uint64_t));
    k->sk = NULL;
}

void he_ckks_keys_free(he_ckks_keys *k)
{
    if (!k) return;
    he_ckks_keys_drop_secret(k);
    he_free(k->pk);
    he_free(k->rlk);
    free_gal(k);
    he_free(k);
}

unsigned he_ckks_keys_parts(const he_ckks_keys *k)
{
    return (k->sk ? HE_CKKS_PART_SECRET : 0) | (k->pk ? HE_CKKS_PART_PUBLIC : 0) |
           (k->rlk ? HE_CKKS_PART_RELIN : 0) | (k->ngal ? HE_CKKS_PART_GALOIS : 0);
}

void ckks_expand_seed(const he_ckks_ctx *c, const uint8_t seed[32], unsigned index, unsigned t,
                      uint64_t *out)
{
    uint8_t in[36], key[32];
    memcpy(in, seed, 32);
    for (int i = 0; i < 4; i++) in[32 + i] = (uint8_t)(index >> (8 * i));
    crypto_generichash(key, sizeof key, in, sizeof in, NULL, 0);
    he_prng g;
    he_prng_seed_bytes(&g, key);
    const ckks_mod *m = &c->mod[t];
    uint64_t mask = (1ull << m->bits) - 1, q = m->q;
    uint8_t buf[2048];
    unsigned have = 0, pos = 0;
    for (unsigned i = 0; i < c->n;) {
        if (pos == have) {
            he_prng_bytes(&g, buf, sizeof buf);
            have = sizeof buf;
            pos = 0;
        }
        uint64_t x = 0;
        for (int b = 0; b < 8; b++) x |= (uint64_t)buf[pos + b] << (8 * b);
        pos += 8;
        x &= mask;
        if (x < q) out[i++] = x;
    }
    he_prng_wipe(&g);
    he_memzero(key, sizeof key);
}

/* b = -a*s + e at the given primes; a expanded from seed (index
** index_base + prime). */
static int rlwe_sample(const he_ckks_keys *k, unsigned nprimes, const unsigned *primes,
                       uint64_t *b, uint64_t *a, size_t stride, const uint8_t *seed,
                       unsigned index_base)
{
    const he_ckks_ctx *c = k->ctx;
    unsigned n = c->n;
    int8_t *e = he_malloc(n);
    if (!e) return -1;
    he_prng g;
    rng_open(&g);
    sample_cbd(&g, e, n);
    he_prng_wipe(&g);
    for (unsigned ii = 0; ii < nprimes; ii++) {
        unsigned t = primes[ii];
        const ckks_mod *m = &c->mod[t];
        uint64_t *bt = b + ii * stride, *at = a + ii * stride;
        const uint64_t *st = k->sk + (size_t)t * n;
        ckks_expand_seed(c, seed, index_base + t, t, at);
        small_to_ntt(bt, e, m, n);
        for (unsigned i = 0; i < n; i++)
            bt[i] = ckks_submod(bt[i], ckks_mulmod(at[i], st[i], m), m->q);
    }
    he_free_secret(e, n);
    return 0;
}

int he_ckks_keygen(he_ckks_keys *k)
{
    const he_ckks_ctx *c = k->ctx;
    unsigned n = c->n;
    he_ckks_keys_drop_secret(k);
    he_free(k->pk);
    he_free(k->rlk);
    k->pk = k->rlk = NULL;
    free_gal(k);
    k->sk = he_malloc((size_t)c->k * n * sizeof(uint64_t));
    k->pk = he_malloc(2 * (size_t)c->L * n * sizeof(uint64_t));
    int8_t *s = he_malloc(n);
    if (!k->sk || !k->pk || !s) {
        he_free(s);
        he_ckks_keys_drop_secret(k);
        he_free(k->pk);
        k->pk = NULL;
        return -1;
    }
    he_prng g;
    rng_open(&g);
    sample_ternary(&g, s, n);
    he_prng_wipe(&g);
    for (unsigned t = 0; t < c->k; t++) small_to_ntt(k->sk + (size_t)t * n, s, &c->mod[t], n);
    he_free_secret(s, n);
    unsigned primes[HE_CKKS_MAX_PRIMES] = {0};
    for (unsigned t = 0; t < c->L; t++) primes[t] = t;
    he_randombytes(k->pk_seed, sizeof k->pk_seed);
    if (rlwe_sample(k, c->L, primes, k->pk, k->pk + (size_t)c->L * n, n, k->pk_seed, 0) < 0) {
        he_ckks_keys_drop_secret(k);
        he_free(k->pk);
        k->pk = NULL;
        return -1;
    }
    return 0;
}

/* Key-switching key from s2 (NTT form at all k primes) to s. */
static int gen_ksk(const he_ckks_keys *k, const uint64_t *s2, uint64_t *ksk, uint8_t seed[32])
{
    const he_ckks_ctx *c = k->ctx;
    unsigned n = c->n, kk = c->k;
    unsigned primes[HE_CKKS_MAX_PRIMES] = {0};
    for (unsigned t = 0; t < kk; t++) primes[t] = t;
    uint64_t P = c->mod[kk - 1].q;
    he_randombytes(seed, 32);
    for (unsigned j = 0; j < c->L; j++) {
        uint64_t *b = ksk + (size_t)(j * 2 + 0) * kk * n;
        uint64_t *a = ksk + (size_t)(j * 2 + 1) * kk * n;
        if (rlwe_sample(k, kk, primes, b, a, n, seed, j * kk) < 0) return -1;
        const ckks_mod *m = &c->mod[j];
        uint64_t f = P % m->q, fp = ckks_shoup(f, m->q);
        uint64_t *bj = b + (size_t)j * n;
        const uint64_t *sj = s2 + (size_t)j * n;
        for (unsigned i = 0; i < n; i++)
            bj[i] = ckks_addmod(bj[i], ckks_mulshoup(sj[i], f, fp, m->q), m->q);
    }
    return 0;
}

int he_ckks_keygen_relin(he_ckks_keys *k)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (!k->sk) return he_error("ckks: relinearization key needs the secret key");
    unsigned n = c->n;
    size_t sl = (size_t)c->k * n;
    uint64_t *s2 = he_malloc(sl * sizeof *s2);
    uint64_t *ksk = he_malloc(ckks_ksk_len(c) * sizeof *ksk);
    if (!s2 || !ksk) {
        he_free(s2);
        he_free(ksk);
        return -1;
    }
    for (unsigned t = 0; t < c->k; t++)
        for (unsigned i = 0; i < n; i++) {
            size_t x = (size_t)t * n + i;
            s2[x] = ckks_mulmod(k->sk[x], k->sk[x], &c->mod[t]);
        }
    uint8_t seed[32];
    int r = gen_ksk(k, s2, ksk, seed);
    he_free_secret(s2, sl * sizeof *s2);
    if (r < 0) {
        he_free(ksk);
        return -1;
    }
    he_free(k->rlk);
    k->rlk = ksk;
    memcpy(k->rlk_seed, seed, 32);
    return 0;
}

int ckks_galois_perm(const he_ckks_ctx *c, uint32_t g, uint32_t **out)
{
    unsigned n = c->n, logn = c->logn;
    uint64_t m = 2ull * n;
    uint32_t *perm = he_malloc(n * sizeof *perm);
    if (!perm) return -1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t e = 2ull * ckks_bitrev(i, logn) + 1;
        uint64_t e2 = e * g % m;
        perm[i] = ckks_bitrev((unsigned)((e2 - 1) / 2), logn);
    }
    *out = perm;
    return 0;
}

static ckks_galkey *find_gal(const he_ckks_keys *k, uint32_t g)
{
    for (size_t i = 0; i < k->ngal; i++)
        if (k->gal[i].g == g) return &k->gal[i];
    return NULL;
}

static uint32_t step_to_galois(const he_ckks_ctx *c, int step)
{
    long s = step % (long)c->slots;
    if (s < 0) s += c->slots;
    return (uint32_t)ckks_powmod(5, (uint64_t)s, 2ull * c->n);
}

const ckks_galkey *ckks_rotation_key(const he_ckks_keys *k, int step)
{
    return find_gal(k, step_to_galois(k->ctx, step));
}

static int add_galois(he_ckks_keys *k, uint32_t g)
{
    const he_ckks_ctx *c = k->ctx;
    if (find_gal(k, g)) return 0;
    unsigned n = c->n;
    size_t sl = (size_t)c->k * n;
    ckks_galkey gk = {.g = g};
    uint64_t *s2 = he_malloc(sl * sizeof *s2);
    gk.ksk = he_malloc(ckks_ksk_len(c) * sizeof(uint64_t));
    ckks_galkey *arr = he_realloc(k->gal, (k->ngal + 1) * sizeof *arr);
    if (arr) k->gal = arr;
    if (!s2 || !gk.ksk || !arr || ckks_galois_perm(c, g, &gk.perm) < 0) goto fail;
    for (unsigned t = 0; t < c->k; t++)
        for (unsigned i = 0; i < n; i++)
            s2[(size_t)t * n + i] = k->sk[(size_t)t * n + gk.perm[i]];
    if (gen_ksk(k, s2, gk.ksk, gk.seed) < 0) goto fail;
    he_free_secret(s2, sl * sizeof *s2);
    k->gal[k->ngal++] = gk;
    return 0;
fail:
    if (s2) he_free_secret(s2, sl * sizeof *s2);
    he_free(gk.ksk);
    he_free(gk.perm);
    return -1;
}

int he_ckks_keygen_galois(he_ckks_keys *k, const int *steps, size_t nsteps, bool conj)
{
    if (!k->sk) return he_error("ckks: Galois keys need the secret key");
    for (size_t i = 0; i < nsteps; i++) {
        if (he_poll_interrupt() < 0) return -1;
        uint32_t g = step_to_galois(k->ctx, steps[i]);
        if (g == 1) continue;
        if (add_galois(k, g) < 0) return -1;
    }
    if (conj && add_galois(k, (uint32_t)(2 * k->ctx->n - 1)) < 0) return -1;
    return 0;
}

int he_ckks_keygen_galois_pow2(he_ckks_keys *k)
{
    int steps[32];
    size_t ns = 0;
    for (unsigned s = 1; s < k->ctx->slots; s <<= 1) steps[ns++] = (int)s;
    return he_ckks_keygen_galois(k, steps, ns, false);
}

bool he_ckks_keys_has_rotation(const he_ckks_keys *k, int step)
{
    return find_gal(k, step_to_galois(k->ctx, step)) != NULL;
}

/* --- encryption --------------------------------------------------------------- */

int he_ckks_encrypt(const he_ckks_keys *k, he_ckks_ct *ct, const he_ckks_pt *pt)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_pt(c, pt) < 0) return -1;
    if (ct->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (!k->pk) return he_error("ckks: no public key");
    unsigned n = c->n, nq = pt->nq;
    if (ct_reserve(ct, 2, nq) < 0) return -1;
    int8_t *smp = he_malloc(3 * (size_t)n);
    uint64_t *u = he_malloc(2 * (size_t)n * sizeof *u), *e = u + n;
    if (!smp || !u) {
        he_free(smp);
        he_free(u);
        return -1;
    }
    he_prng g;
    rng_open(&g);
    sample_ternary(&g, smp, n);
    sample_cbd(&g, smp + n, 2 * n);
    he_prng_wipe(&g);
    ct->size = 2;
    ct->nq = nq;
    ct->scale = pt->scale;
    for (unsigned i = 0; i < nq; i++) {
        const ckks_mod *m = &c->mod[i];
        uint64_t q = m->q;
        const uint64_t *pb = k->pk + (size_t)i * n, *pa = k->pk + ((size_t)c->L + i) * n;
        const uint64_t *mm = pt->data + (size_t)i * n;
        uint64_t *c0 = ct_poly(ct, 0, i), *c1 = ct_poly(ct, 1, i);
        small_to_ntt(u, smp, m, n);
        small_to_ntt(e, smp + n, m, n);
        for (unsigned j = 0; j < n; j++) e[j] = ckks_addmod(e[j], mm[j], q);
        poly_muladd(c0, pb, u, e, m, n);
        small_to_ntt(e, smp + 2 * n, m, n);
        poly_muladd(c1, pa, u, e, m, n);
    }
    he_free_secret(smp, 3 * (size_t)n);
    he_free_secret(u, 2 * (size_t)n * sizeof *u);
    return 0;
}

int he_ckks_encrypt_sk(const he_ckks_keys *k, he_ckks_ct *ct, const he_ckks_pt *pt)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_pt(c, pt) < 0) return -1;
    if (ct->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (!k->sk) return he_error("ckks: no secret key");
    unsigned n = c->n, nq = pt->nq;
    if (ct_reserve(ct, 2, nq) < 0) return -1;
    ct->size = 2;
    ct->nq = nq;
    ct->scale = pt->scale;
    unsigned primes[HE_CKKS_MAX_PRIMES] = {0};
    for (unsigned t = 0; t < nq; t++) primes[t] = t;
    uint8_t seed[32];
    he_randombytes(seed, sizeof seed);
    if (rlwe_sample(k, nq, primes, ct_poly(ct, 0, 0), ct_poly(ct, 1, 0), n, seed, 0) < 0) return -1;
    memcpy(ct->seed, seed, sizeof seed);
    ct->seeded = true;
    for (unsigned i = 0; i < nq; i++) {
        uint64_t *c0 = ct_poly(ct, 0, i), q = c->mod[i].q;
        const uint64_t *mm = pt->data + (size_t)i * n;
        for (unsigned j = 0; j < n; j++) c0[j] = ckks_addmod(c0[j], mm[j], q);
    }
    return 0;
}

int he_ckks_decrypt(const he_ckks_keys *k, he_ckks_pt *pt, const he_ckks_ct *ct)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, ct) < 0) return -1;
    if (pt->ctx != c) return he_error("ckks: plaintext belongs to another context");
    if (!k->sk) return he_error("ckks: decryption needs the secret key");
    unsigned n = c->n, nq = ct->nq;
    if (pt_reserve(pt, nq) < 0) return -1;
    pt->scale = ct->scale;
    for (unsigned i = 0; i < nq; i++) {
        const ckks_mod *m = &c->mod[i];
        const uint64_t *s = k->sk + (size_t)i * n;
        const uint64_t *c0 = ct_poly(ct, 0, i), *c1 = ct_poly(ct, 1, i);
        uint64_t *d = pt->data + (size_t)i * n;
        if (ct->size == 2) {
            poly_muladd(d, c1, s, c0, m, n);
        } else {
            /* c0 + s (c1 + s c2) */
            poly_muladd(d, ct_poly(ct, 2, i), s, c1, m, n);
            poly_muladd(d, d, s, c0, m, n);
        }
    }
    return 0;
}

/* --- circuit privacy: re-randomization and noise flooding ---------------------------
** A result handed to the key holder is a function of the evaluator's data not
** only through its message but through c1 (c * w shows w next to c) and
** through its noise. he_ckks_flood adds a fresh public-key encryption of
** zero (c1 becomes pseudo-random) and to c0 a polynomial of independent
** rounded Gaussians of standard deviation sigma (coefficient domain). */

/* Signed x into [0, q) without branching on its sign (|x| < 2^63). */
static inline uint64_t signed_mod(int64_t x, uint64_t q)
{
    uint64_t neg = (uint64_t)x >> 63, a = (uint64_t)((x ^ -(int64_t)neg) + (int64_t)neg) % q;
    uint64_t flip = 0 - (neg & (uint64_t)(a != 0));
    return a ^ ((a ^ (q - a)) & flip);
}

int he_ckks_flood(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a, double sigma)
{
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->size != 2) return he_error("ckks: flooding needs a relinearized ciphertext (size 2)");
    if (!k->pk) return he_error("ckks: flooding needs the public key");
    if (!(sigma >= 0) || sigma > 0x1p56) return he_error("ckks: flooding deviation %g out of range [0, 2^56]", sigma);
    unsigned n = c->n, nq = a->nq;
    he_ckks_pt *z = he_ckks_pt_new(c);
    he_ckks_ct *r = he_ckks_ct_new(c);
    int64_t *f = he_malloc((size_t)n * sizeof *f);
    uint64_t *t = he_malloc((size_t)n * sizeof *t);
    const double zero = 0;
    int rc = z && r && f && t ? 0 : -1;
    if (rc == 0) rc = he_ckks_encode(c, z, &zero, 1, (int)nq - 1, a->scale);
    if (rc == 0) rc = he_ckks_encrypt(k, r, z);
    if (rc == 0) {
        he_prng g;
        rng_open(&g);
        for (unsigned j = 0; j < n; j++) f[j] = (int64_t)nearbyint(sigma * he_prng_normal(&g));
        he_prng_wipe(&g);
        for (unsigned i = 0; i < nq; i++) {
            const ckks_mod *m = &c->mod[i];
            for (unsigned j = 0; j < n; j++) t[j] = signed_mod(f[j], m->q);
            ckks_ntt(t, m, n);
            uint64_t *c0 = ct_poly(r, 0, i);
            for (unsigned j = 0; j < n; j++) c0[j] = ckks_addmod(c0[j], t[j], m->q);
        }
        r->seeded = false;
        rc = he_ckks_add(c, out, a, r);
    }
    if (f) he_free_secret(f, (size_t)n * sizeof *f);
    if (t) he_free_secret(t, (size_t)n * sizeof *t);
    he_ckks_pt_free(z);
    he_ckks_ct_free(r);
    return rc;
}

double he_ckks_flood_sigma(const he_ckks_ctx *c, double noise_bits, unsigned s)
{
    return sqrt((double)c->n) * ldexp(1.0, (int)s - 1) * exp2(noise_bits);
}

int he_ckks_noise_bits(const he_ckks_keys *k, const he_ckks_ct *ct, const double *v, size_t nv, double *bits)
{
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, ct) < 0) return -1;
    if (!k->sk) return he_error("ckks: measuring noise needs the secret key");
    unsigned n = c->n;
    he_ckks_pt *d = he_ckks_pt_new(c), *e = he_ckks_pt_new(c);
    int rc = d && e ? 0 : -1;
    if (rc == 0) rc = he_ckks_decrypt(k, d, ct);
    if (rc == 0) rc = he_ckks_encode(c, e, v, nv, (int)ct->nq - 1, ct->scale);
    if (rc == 0) {
        /* the difference at the first prime, centred: exact while |noise| < q_0 / 2 */
        const ckks_mod *m = &c->mod[0];
        uint64_t *x = d->data;
        for (unsigned j = 0; j < n; j++) x[j] = ckks_submod(x[j], e->data[j], m->q);
        ckks_intt(x, m, n);
        double mx = 0;
        for (unsigned j = 0; j < n; j++) {
            double y = x[j] > m->q / 2 ? (double)(m->q - x[j]) : (double)x[j];
            if (y > mx) mx = y;
        }
        *bits = mx > 0 ? log2(mx) : 0;
    }
    he_ckks_pt_free(d);
    he_ckks_pt_free(e);
    return rc;
}

/* --- arithmetic ------------------------------------------------------------------ */

static int addsub(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a,
                  const he_ckks_ct *b, bool sub)
{
    if (check_ct(c, a) < 0 || check_ct(c, b) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->nq != b->nq)
        return he_error("ckks: %s of ciphertexts at levels %d and %d (align levels first)",
                        sub ? "subtraction" : "addition", (int)a->nq - 1, (int)b->nq - 1);
    if (!same_scale(a->scale, b->scale))
        return he_error("ckks: %s of ciphertexts with scales %g and %g",
                        sub ? "subtraction" : "addition", a->scale, b->scale);
    unsigned nq = a->nq, n = c->n;
    unsigned sa = a->size, sb = b->size, so = sa > sb ? sa : sb, smin = sa < sb ? sa : sb;
    double scale = a->scale;
    /* when out aliases a or b its buffer may move: read data through the structs */
    if (ct_reserve(out, so, nq) < 0) return -1;
    for (unsigned p = 0; p < so; p++)
        for (unsigned i = 0; i < nq; i++) {
            uint64_t q = c->mod[i].q;
            uint64_t *o = out->data + ((size_t)p * nq + i) * n;
            const uint64_t *x = p < sa ? a->data + ((size_t)p * nq + i) * n : NULL;
            const uint64_t *y = p < sb ? b->data + ((size_t)p * nq + i) * n : NULL;
            if (p < smin) {
                if (sub) ckks_sub_poly(o, x, y, q, n);
                else ckks_add_poly(o, x, y, q, n);
            } else if (x) {
                if (o != x) memcpy(o, x, n * sizeof *o);
            } else if (sub) {
                for (unsigned j = 0; j < n; j++) o[j] = y[j] ? q - y[j] : 0;
            } else if (o != y) {
                memcpy(o, y, n * sizeof *o);
            }
        }
    out->size = so;
    out->nq = nq;
    out->scale = scale;
    return 0;
}

int he_ckks_add(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_ct *b)
{
    return addsub(c, out, a, b, false);
}

int he_ckks_sub(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_ct *b)
{
    return addsub(c, out, a, b, true);
}

int he_ckks_neg(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a)
{
    if (check_ct(c, a) < 0) return -1;
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    unsigned n = c->n;
    for (unsigned p = 0; p < out->size; p++)
        for (unsigned i = 0; i < out->nq; i++) {
            uint64_t q = c->mod[i].q, *o = ct_poly(out, p, i);
            for (unsigned j = 0; j < n; j++) o[j] = o[j] ? q - o[j] : 0;
        }
    return 0;
}

static int ptop(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_pt *b,
                int op /* 0 add, 1 sub, 2 mul */)
{
    if (check_ct(c, a) < 0 || check_pt(c, b) < 0) return -1;
    if (a->nq != b->nq)
        return he_error("ckks: ciphertext at level %d with plaintext at level %d",
                        (int)a->nq - 1, (int)b->nq - 1);
    if (op < 2 && !same_scale(a->scale, b->scale))
        return he_error("ckks: ciphertext scale %g differs from plaintext scale %g", a->scale,
                        b->scale);
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    unsigned n = c->n;
    for (unsigned i = 0; i < out->nq; i++) {
        const ckks_mod *m = &c->mod[i];
        uint64_t q = m->q;
        const uint64_t *y = b->data + (size_t)i * n;
        if (op == 2) {
            for (unsigned p = 0; p < out->size; p++) {
                uint64_t *o = ct_poly(out, p, i);
                poly_mul(o, o, y, m, n);
            }
        } else {
            uint64_t *o = ct_poly(out, 0, i);
            if (op == 0)
                for (unsigned j = 0; j < n; j++) o[j] = ckks_addmod(o[j], y[j], q);
            else
                for (unsigned j = 0; j < n; j++) o[j] = ckks_submod(o[j], y[j], q);
        }
    }
    if (op == 2) out->scale = a->scale * b->scale;
    return 0;
}

int he_ckks_add_pt(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_pt *b)
{
    return ptop(c, out, a, b, 0);
}
int he_ckks_sub_pt(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_pt *b)
{
    return ptop(c, out, a, b, 1);
}
int he_ckks_mul_pt(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_pt *b)
{
    return ptop(c, out, a, b, 2);
}

int he_ckks_add_scalar(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, double v)
{
    if (check_ct(c, a) < 0) return -1;
    if (!isfinite(v)) return he_error("ckks: cannot add a non-finite constant");
    uint64_t r[HE_CKKS_MAX_PRIMES];
    if (real_to_rns(c, a->nq, round(v * a->scale), r, 1) < 0) return -1;
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    /* a constant polynomial is the same constant at every NTT point */
    for (unsigned i = 0; i < out->nq; i++) {
        uint64_t q = c->mod[i].q, *o = ct_poly(out, 0, i);
        for (unsigned j = 0; j < c->n; j++) o[j] = ckks_addmod(o[j], r[i], q);
    }
    return 0;
}

static void mul_const_rns(const he_ckks_ctx *c, he_ckks_ct *out, const uint64_t *r)
{
    unsigned n = c->n;
    for (unsigned i = 0; i < out->nq; i++) {
        uint64_t q = c->mod[i].q, w = r[i], wp = ckks_shoup(w, q);
        for (unsigned p = 0; p < out->size; p++) {
            uint64_t *o = ct_poly(out, p, i);
            for (unsigned j = 0; j < n; j++) o[j] = ckks_mulshoup(o[j], w, wp, q);
        }
    }
}

int he_ckks_mul_scalar(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, double v,
                       double scale)
{
    if (check_ct(c, a) < 0) return -1;
    if (scale == 0) scale = (double)c->mod[a->nq - 1].q;
    if (!isfinite(v) || !(scale > 0) || !isfinite(scale))
        return he_error("ckks: bad constant or scale in multiplication");
    uint64_t r[HE_CKKS_MAX_PRIMES];
    if (real_to_rns(c, a->nq, round(v * scale), r, 1) < 0) return -1;
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    mul_const_rns(c, out, r);
    out->scale = a->scale * scale;
    return 0;
}

int he_ckks_mul_int(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, int64_t k)
{
    if (check_ct(c, a) < 0) return -1;
    uint64_t r[HE_CKKS_MAX_PRIMES];
    uint64_t mag = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
    for (unsigned i = 0; i < a->nq; i++) {
        uint64_t x = ckks_red64(mag, &c->mod[i]);
        r[i] = (k < 0 && x) ? c->mod[i].q - x : x;
    }
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    mul_const_rns(c, out, r);
    return 0;
}

int he_ckks_mul(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_ct *b)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (check_ct(c, a) < 0 || check_ct(c, b) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->size != 2 || b->size != 2)
        return he_error("ckks: multiply needs relinearized (size-2) ciphertexts");
    if (a->nq != b->nq)
        return he_error("ckks: multiplication of ciphertexts at levels %d and %d (align levels first)",
                        (int)a->nq - 1, (int)b->nq - 1);
    unsigned nq = a->nq, n = c->n;
    double scale = a->scale * b->scale;
    if (ct_reserve(out, 3, nq) < 0) return -1;
    for (unsigned i = 0; i < nq; i++) {
        const ckks_mod *m = &c->mod[i];
        uint64_t q = m->q;
        const uint64_t *a0 = a->data + (size_t)i * n, *a1 = a->data + ((size_t)nq + i) * n;
        const uint64_t *b0 = b->data + (size_t)i * n, *b1 = b->data + ((size_t)nq + i) * n;
        uint64_t *o0 = out->data + (size_t)i * n, *o1 = out->data + ((size_t)nq + i) * n;
        uint64_t *o2 = out->data + (2 * (size_t)nq + i) * n;
        if (m->ifma) {
            ckks_tensor_ifma(o0, o1, o2, a0, a1, b0, b1, m, n);
            continue;
        }
        const uint64_t mu = m->mu;
        const int bits = m->bits;
        for (unsigned j = 0; j < n; j++) {
            uint64_t x0 = a0[j], x1 = a1[j], y0 = b0[j], y1 = b1[j];
            uint64_t d0 = ckks_mulmod_k(x0, y0, q, mu, bits), d2 = ckks_mulmod_k(x1, y1, q, mu, bits);
            uint64_t s = ckks_mulmod_k(ckks_addmod(x0, x1, q), ckks_addmod(y0, y1, q), q, mu, bits);
            uint64_t d1 = ckks_submod(s, ckks_addmod(d0, d2, q), q);
            o0[j] = d0;
            o1[j] = d1;
            o2[j] = d2;
        }
    }
    out->size = 3;
    out->nq = nq;
    out->scale = scale;
    return 0;
}

int he_ckks_square(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a)
{
    return he_ckks_mul(c, out, a, a);
}

int he_ckks_mod_down(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, int level)
{
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (level < 0 || level > (int)a->nq - 1)
        return he_error("ckks: cannot move a level-%d ciphertext to level %d", (int)a->nq - 1, level);
    unsigned nq = (unsigned)level + 1, n = c->n, size = a->size, anq = a->nq;
    double scale = a->scale;
    if (out != a && ct_reserve(out, size, nq) < 0) return -1;
    out->seeded = false;
    for (unsigned p = 0; p < size; p++)
        memmove(out->data + (size_t)p * nq * n, a->data + (size_t)p * anq * n,
                (size_t)nq * n * sizeof(uint64_t));
    out->size = size;
    out->nq = nq;
    out->scale = scale;
    return 0;
}

int he_ckks_rescale(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a)
{
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->nq < 2) return he_error("ckks: cannot rescale a ciphertext at level 0 (modulus chain exhausted)");
    unsigned nq = a->nq, l = nq - 1, n = c->n, size = a->size, kk = c->k;
    double scale = a->scale / (double)c->mod[l].q;
    if (out != a && ct_reserve(out, size, nq - 1) < 0) return -1;
    out->seeded = false;
    int slot;
    uint64_t *last = scratch_get(c, 2 * (size_t)n, &slot), *x = last + n;
    if (!last) return -1;
    const ckks_mod *ml = &c->mod[l];
    uint64_t half = ml->q >> 1;
    const uint64_t *src = a->data;
    uint64_t *dst = out->data;
    for (unsigned p = 0; p < size; p++) {
        memcpy(last, src + ((size_t)p * nq + l) * n, n * sizeof *last);
        ckks_intt(last, ml, n);
        for (unsigned j = 0; j < n; j++) last[j] = ckks_addmod(last[j], half, ml->q);
        for (unsigned i = 0; i < l; i++) {
            const ckks_mod *m = &c->mod[i];
            uint64_t q = m->q, hm = half % q;
            const uint64_t *ci = src + ((size_t)p * nq + i) * n;
            uint64_t *o = dst + ((size_t)p * (nq - 1) + i) * n;
            uint64_t w = c->qinv[l * kk + i], wp = c->qinvp[l * kk + i];
            if (ckks_red_from(m, ml)) {
                ckks_sub_reduce_ifma(x, last, hm, m, n);
                ckks_ntt(x, m, n);
                ckks_sub_mulshoup_ifma(o, ci, x, w, c->qinvp52[l * kk + i], m, n);
                continue;
            }
            for (unsigned j = 0; j < n; j++) {
                uint64_t v = ml->q > q ? ckks_red64(last[j], m) : last[j];
                x[j] = ckks_submod(v, hm, q);
            }
            ckks_ntt(x, m, n);
            for (unsigned j = 0; j < n; j++)
                o[j] = ckks_mulshoup(ci[j] + q - x[j], w, wp, q);
        }
    }
    scratch_put(c, last, slot);
    out->size = size;
    out->nq = nq - 1;
    out->scale = scale;
    return 0;
}

/* Key switching of x (NTT form, nq primes) with key ksk: (d0, d1), NTT form.
** The digits' lifts are made on the fly per target prime (no nq^2 buffer);
** hoisted rotations (hoist.c) keep them instead. Targets, NTTs and the
** division by P run on the worker pool (pool.c), one prime per task. */
/* Per worker: tmp (N) and the accumulators (4 N). */
#define KS_WORKER_WORDS 5
size_t ckks_ks_work_words(unsigned n, unsigned width)
{
    return (size_t)KS_WORKER_WORDS * width * n;
}
/* Working memory of keyswitch, in 64-bit words. */
static size_t ks_work_words(unsigned nq, unsigned n, unsigned width)
{
    return ((size_t)nq + 2) * n + ckks_ks_work_words(n, width);
}

typedef struct ks_job {
    const he_ckks_ctx *c;
    const uint64_t *ksk, *x, *dig;
    const uint32_t *perm;
    unsigned nq;
    uint64_t *coef, *d0, *d1, *sp0, *sp1, *work;
    const uint64_t *ct; /* he_ckks_relin_rescale: the input's data */
    uint64_t *last;     /* and its parts' last limbs, relinearized, in coefficients */
} ks_job;

static void ks_intt_task(void *arg, unsigned j, unsigned w)
{
    (void)w;
    ks_job *J = arg;
    unsigned n = J->c->n;
    memcpy(J->coef + (size_t)j * n, J->x + (size_t)j * n, n * sizeof *J->coef);
    ckks_intt(J->coef + (size_t)j * n, &J->c->mod[j], n);
}

/* Digit j's coefficients (coef, mod q_j) lifted to prime mt into o. */
static void ks_lift(const he_ckks_ctx *c, const uint64_t *cj, unsigned j, const ckks_mod *mt,
                    uint64_t *o)
{
    unsigned n = c->n;
    if (c->mod[j].q < mt->q)
        memcpy(o, cj, n * sizeof *o);
    else if (ckks_red_from(mt, &c->mod[j]))
        ckks_sub_reduce_ifma(o, cj, 0, mt, n);
    else
        for (unsigned i = 0; i < n; i++) o[i] = ckks_red64(cj[i], mt);
    ckks_ntt(o, mt, n);
}

/* One target prime ti <= nq: the digits (lifted now, or from dig, permuted
** by perm) times the key, reduced into o0, o1. */
static void ks_target_task(void *arg, unsigned ti, unsigned w)
{
    ks_job *J = arg;
    const he_ckks_ctx *c = J->c;
    unsigned n = c->n, kk = c->k, nq = J->nq, t = ti == nq ? kk - 1 : ti;
    const ckks_mod *mt = &c->mod[t];
    uint64_t *tmp = J->work + (size_t)w * KS_WORKER_WORDS * n;
    u128 *acc = (u128 *)(tmp + n); /* 64-byte aligned: n >= 8 */
    u128 *acc0 = acc, *acc1 = acc + n;
    /* the same memory as 52-bit split accumulators (IFMA primes) */
    uint64_t *lo0 = (uint64_t *)acc, *hi0 = lo0 + n, *lo1 = hi0 + n, *hi1 = lo1 + n;
    /* or 64-bit sums of 32-bit products (small primes): lo0 and hi0 */
    bool sum64 = mt->ifma && ckks_sum64_fits(mt->q, nq);
    memset(acc, 0, (sum64 ? 1 : 2) * (size_t)n * sizeof *acc);
    for (unsigned j = 0; j < nq; j++) {
        const uint64_t *src;
        if (J->dig) {
            const uint64_t *dj = J->dig + ((size_t)j * (nq + 1) + ti) * n;
            if (J->perm) {
                for (unsigned i = 0; i < n; i++) tmp[i] = dj[J->perm[i]];
                src = tmp;
            } else {
                src = dj;
            }
        } else if (j == t) {
            src = J->x + (size_t)j * n;
        } else {
            ks_lift(c, J->coef + (size_t)j * n, j, mt, tmp);
            src = tmp;
        }
        const uint64_t *k0 = J->ksk + ((size_t)(j * 2 + 0) * kk + t) * n;
        const uint64_t *k1 = J->ksk + ((size_t)(j * 2 + 1) * kk + t) * n;
        if (sum64) {
            ckks_mac32x2_ifma(lo0, hi0, src, k0, k1, n);
        } else if (mt->ifma) {
            /* nq <= 39 terms: far below CKKS_MAC52_TERMS */
            ckks_mac52_ifma(lo0, hi0, src, k0, n);
            ckks_mac52_ifma(lo1, hi1, src, k1, n);
        } else {
            for (unsigned i = 0; i < n; i++) {
                acc0[i] += (u128)src[i] * k0[i];
                acc1[i] += (u128)src[i] * k1[i];
            }
        }
    }
    uint64_t *o0 = ti == nq ? J->sp0 : J->d0 + (size_t)t * n;
    uint64_t *o1 = ti == nq ? J->sp1 : J->d1 + (size_t)t * n;
    if (sum64) {
        ckks_reduce64_ifma(o0, lo0, mt, n);
        ckks_reduce64_ifma(o1, hi0, mt, n);
    } else if (mt->ifma_red && nq <= 64) {
        ckks_reduce_mac52_ifma(o0, lo0, hi0, mt, n);
        ckks_reduce_mac52_ifma(o1, lo1, hi1, mt, n);
    } else if (mt->ifma) {
        for (unsigned i = 0; i < n; i++) {
            o0[i] = ckks_red128(ckks_mac52_value(lo0[i], hi0[i]), mt);
            o1[i] = ckks_red128(ckks_mac52_value(lo1[i], hi1[i]), mt);
        }
    } else {
        for (unsigned i = 0; i < n; i++) {
            o0[i] = ckks_red128(acc0[i], mt);
            o1[i] = ckks_red128(acc1[i], mt);
        }
    }
}

static void ks_sp_task(void *arg, unsigned b, unsigned w)
{
    (void)w;
    ks_job *J = arg;
    const ckks_mod *mp = &J->c->mod[J->c->k - 1];
    uint64_t *pp = b ? J->sp1 : J->sp0, P = mp->q, halfP = P >> 1;
    unsigned n = J->c->n;
    ckks_intt(pp, mp, n);
    for (unsigned i = 0; i < n; i++) pp[i] = ckks_addmod(pp[i], halfP, P);
}

/* divide by P with rounding: d_i = (d_i - ([d_P + P/2]_P - P/2)) / P */
static void ks_div_task(void *arg, unsigned task, unsigned w)
{
    ks_job *J = arg;
    const he_ckks_ctx *c = J->c;
    unsigned n = c->n, b = task / J->nq, t = task % J->nq;
    uint64_t *pp = b ? J->sp1 : J->sp0, *d = b ? J->d1 : J->d0;
    uint64_t *tmp = J->work + (size_t)w * KS_WORKER_WORDS * n;
    uint64_t P = c->mod[c->k - 1].q;
    const ckks_mod *m = &c->mod[t];
    uint64_t q = m->q, h = c->phalf[t];
    uint64_t *dt = d + (size_t)t * n, wv = c->pinv[t], wp = c->pinvp[t];
    if (ckks_red_from(m, &c->mod[c->k - 1])) {
        ckks_sub_reduce_ifma(tmp, pp, h, m, n);
        ckks_ntt(tmp, m, n);
        ckks_sub_mulshoup_ifma(dt, dt, tmp, wv, c->pinvp52[t], m, n);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = P > q ? ckks_red64(pp[i], m) : pp[i];
        tmp[i] = ckks_submod(v, h, q);
    }
    ckks_ntt(tmp, m, n);
    for (unsigned i = 0; i < n; i++) dt[i] = ckks_mulshoup(dt[i] + q - tmp[i], wv, wp, q);
}

void ckks_ks_moddown(const he_ckks_ctx *c, unsigned nq, uint64_t *d0, uint64_t *d1, uint64_t *sp0,
                     uint64_t *sp1, uint64_t *work, unsigned width)
{
    ks_job J = {.c = c, .nq = nq, .d0 = d0, .d1 = d1, .sp0 = sp0, .sp1 = sp1, .work = work};
    ckks_parallel(2, width, ks_sp_task, &J);
    ckks_parallel(2 * nq, width, ks_div_task, &J);
}

static void ks_decomp_task(void *arg, unsigned task, unsigned w)
{
    (void)w;
    ks_job *J = arg;
    const he_ckks_ctx *c = J->c;
    unsigned n = c->n, nq = J->nq, j = task / (nq + 1), ti = task % (nq + 1);
    unsigned t = ti == nq ? c->k - 1 : ti;
    uint64_t *o = (uint64_t *)J->dig + ((size_t)j * (nq + 1) + ti) * n;
    if (j == t)
        memcpy(o, J->x + (size_t)j * n, n * sizeof *o);
    else
        ks_lift(c, J->coef + (size_t)j * n, j, &c->mod[t], o);
}

void ckks_ks_decompose(const he_ckks_ctx *c, const uint64_t *x, unsigned nq, uint64_t *dig,
                       uint64_t *coef, unsigned width)
{
    ks_job J = {.c = c, .x = x, .nq = nq, .coef = coef, .dig = dig};
    ckks_parallel(nq, width, ks_intt_task, &J);
    ckks_parallel(nq * (nq + 1), width, ks_decomp_task, &J);
}

void ckks_ks_inner(const he_ckks_ctx *c, const uint64_t *ksk, const uint64_t *dig, unsigned nq,
                   const uint32_t *perm, uint64_t *p0, uint64_t *p1, uint64_t *work, unsigned width)
{
    size_t n = c->n;
    ks_job J = {.c = c, .ksk = ksk, .dig = dig, .perm = perm, .nq = nq, .d0 = p0, .d1 = p1,
                .sp0 = p0 + nq * n, .sp1 = p1 + nq * n, .work = work};
    ckks_parallel(nq + 1, width, ks_target_task, &J);
}

static void keyswitch(const he_ckks_ctx *c, const uint64_t *ksk, const uint64_t *x, unsigned nq,
                      uint64_t *d0, uint64_t *d1, uint64_t *work, unsigned width)
{
    size_t n = c->n;
    ks_job J = {.c = c, .ksk = ksk, .x = x, .nq = nq, .coef = work, .d0 = d0, .d1 = d1,
                .sp0 = work + nq * n, .sp1 = work + (nq + 1) * n, .work = work + (nq + 2) * n};
    ckks_parallel(nq, width, ks_intt_task, &J);
    ckks_parallel(nq + 1, width, ks_target_task, &J);
    ckks_ks_moddown(c, nq, d0, d1, J.sp0, J.sp1, J.work, width);
}

int he_ckks_relin(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    if (a->size == 2) return he_ckks_ct_copy(out, a);
    if (!k->rlk) return he_error("ckks: no relinearization key");
    unsigned n = c->n, nq = a->nq, width = he_ckks_threads();
    int slot;
    uint64_t *d = scratch_get(c, 2 * (size_t)nq * n + ks_work_words(nq, n, width), &slot);
    if (!d) return -1;
    keyswitch(c, k->rlk, ct_poly(a, 2, 0), nq, d, d + (size_t)nq * n, d + 2 * (size_t)nq * n, width);
    if (he_ckks_ct_copy(out, a) < 0) {
        scratch_put(c, d, slot);
        return -1;
    }
    for (unsigned p = 0; p < 2; p++)
        for (unsigned i = 0; i < nq; i++) {
            uint64_t *o = ct_poly(out, p, i);
            ckks_add_poly(o, o, d + ((size_t)p * nq + i) * n, c->mod[i].q, n);
        }
    out->size = 2;
    scratch_put(c, d, slot);
    return 0;
}

/* Relinearization and rescale at once. With d = the key switch's sum over
** the primes q_i and P (sp: its part at P), relinearizing adds
** (d_i - lift_i([sp]_P)) / P to c_i, and rescaling subtracts lift_i([c'_l])
** and divides by q_l (l = nq - 1); both lifts are made in coefficients,
** so at i < l they are summed there and cross to the NTT together:
**   out_i = (c_i + d_i / P - NTT(lift_i(sp) / P + lift_i(c'_l))) / q_l,
** and c'_l itself comes from one INTT of P c_l + d_l. The same sums modulo
** q_i as he_ckks_relin then he_ckks_rescale (with their roundings: +P/2,
** +q_l/2): the same results, bit for bit. */
static void ks_rr_last_task(void *arg, unsigned b, unsigned w)
{
    ks_job *J = arg;
    const he_ckks_ctx *c = J->c;
    unsigned n = c->n, nq = J->nq, l = nq - 1;
    const ckks_mod *mp = &c->mod[c->k - 1], *ml = &c->mod[l];
    uint64_t *pp = b ? J->sp1 : J->sp0, P = mp->q, q = ml->q;
    uint64_t *z = J->last + (size_t)b * n, *tmp = J->work + (size_t)w * KS_WORKER_WORDS * n;
    const uint64_t *cl = J->ct + ((size_t)b * nq + l) * n, *dl = (b ? J->d1 : J->d0) + (size_t)l * n;
    ckks_intt(pp, mp, n); /* [sp + P/2]_P, as ks_sp_task */
    for (unsigned i = 0; i < n; i++) pp[i] = ckks_addmod(pp[i], P >> 1, P);
    uint64_t pl = P % q, h = c->phalf[l], wv = c->pinv[l], wp = c->pinvp[l];
    if (ml->ifma) ckks_addmul_const_ifma(z, dl, cl, pl, ckks_shoup52(pl, q), ml, n);
    else
        for (unsigned i = 0; i < n; i++) z[i] = ckks_addmod(dl[i], ckks_mulmod(cl[i], pl, ml), q);
    ckks_intt(z, ml, n); /* P c_l + d_l in coefficients */
    if (ckks_red_from(ml, mp)) {
        ckks_sub_reduce_ifma(tmp, pp, h, ml, n);
    } else {
        for (unsigned i = 0; i < n; i++) tmp[i] = ckks_submod(P > q ? ckks_red64(pp[i], ml) : pp[i], h, q);
    }
    if (ml->ifma) ckks_sub_mulshoup_ifma(z, z, tmp, wv, c->pinvp52[l], ml, n);
    else
        for (unsigned i = 0; i < n; i++) z[i] = ckks_mulshoup(z[i] + q - tmp[i], wv, wp, q);
    for (unsigned i = 0; i < n; i++) z[i] = ckks_addmod(z[i], q >> 1, q); /* + q_l/2, as he_ckks_rescale */
}

/* Part b at prime i < l, into d_b (task = b * l + i). */
static void ks_rr_task(void *arg, unsigned task, unsigned w)
{
    ks_job *J = arg;
    const he_ckks_ctx *c = J->c;
    unsigned n = c->n, nq = J->nq, l = nq - 1, kk = c->k, b = task / l, i = task % l;
    const ckks_mod *m = &c->mod[i], *ml = &c->mod[l], *mp = &c->mod[kk - 1];
    uint64_t q = m->q, P = mp->q, *u = J->work + (size_t)w * KS_WORKER_WORDS * n, *t2 = u + n;
    const uint64_t *pp = b ? J->sp1 : J->sp0, *last = J->last + (size_t)b * n;
    const uint64_t *ci = J->ct + ((size_t)b * nq + i) * n;
    uint64_t *di = (b ? J->d1 : J->d0) + (size_t)i * n;
    uint64_t h = c->phalf[i], hm = (ml->q >> 1) % q, pv = c->pinv[i], pvp = c->pinvp[i];
    uint64_t qv = c->qinv[l * kk + i], qvp = c->qinvp[l * kk + i];
    if (ckks_red_from(m, mp)) {
        ckks_sub_reduce_ifma(u, pp, h, m, n);
    } else {
        for (unsigned j = 0; j < n; j++) u[j] = ckks_submod(P > q ? ckks_red64(pp[j], m) : pp[j], h, q);
    }
    if (ckks_red_from(m, ml)) {
        ckks_sub_reduce_ifma(t2, last, hm, m, n);
    } else {
        for (unsigned j = 0; j < n; j++) t2[j] = ckks_submod(ml->q > q ? ckks_red64(last[j], m) : last[j], hm, q);
    }
    if (m->ifma) {
        ckks_addmul_const_ifma(u, t2, u, pv, c->pinvp52[i], m, n);
        ckks_ntt(u, m, n);
        ckks_addmul_const_ifma(di, ci, di, pv, c->pinvp52[i], m, n);
        ckks_sub_mulshoup_ifma(di, di, u, qv, c->qinvp52[l * kk + i], m, n);
        return;
    }
    for (unsigned j = 0; j < n; j++) u[j] = ckks_addmod(t2[j], ckks_mulshoup(u[j], pv, pvp, q), q);
    ckks_ntt(u, m, n);
    for (unsigned j = 0; j < n; j++) {
        uint64_t v = ckks_addmod(ci[j], ckks_mulshoup(di[j], pv, pvp, q), q);
        di[j] = ckks_mulshoup(v + q - u[j], qv, qvp, q);
    }
}

int he_ckks_relin_rescale(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->size != 3 || a->nq < 2 || !k->rlk) /* nothing to fuse: the two steps (and their errors) */
        return he_ckks_relin(k, out, a) < 0 || he_ckks_rescale(c, out, out) < 0 ? -1 : 0;
    unsigned n = c->n, nq = a->nq, l = nq - 1, width = he_ckks_threads();
    double scale = a->scale / (double)c->mod[l].q;
    int slot;
    uint64_t *d = scratch_get(c, 2 * (size_t)nq * n + ks_work_words(nq, n, width), &slot);
    if (!d) return -1;
    uint64_t *work = d + 2 * (size_t)nq * n;
    ks_job J = {.c = c, .ksk = k->rlk, .x = ct_poly(a, 2, 0), .nq = nq, .coef = work, .d0 = d,
                .d1 = d + (size_t)nq * n, .sp0 = work + (size_t)nq * n, .sp1 = work + (size_t)(nq + 1) * n,
                .work = work + (size_t)(nq + 2) * n, .ct = a->data, .last = work};
    ckks_parallel(nq, width, ks_intt_task, &J);
    ckks_parallel(nq + 1, width, ks_target_task, &J);
    ckks_parallel(2, width, ks_rr_last_task, &J); /* the digits' coefficients are spent: last reuses them */
    ckks_parallel(2 * l, width, ks_rr_task, &J);
    if (ct_reserve(out, 2, l) < 0) {
        scratch_put(c, d, slot);
        return -1;
    }
    for (unsigned p = 0; p < 2; p++)
        memcpy(out->data + (size_t)p * l * n, (p ? J.d1 : J.d0), (size_t)l * n * sizeof *d);
    out->size = 2;
    out->nq = l;
    out->scale = scale;
    scratch_put(c, d, slot);
    return 0;
}

/* Applies the automorphism of gk and switches back to s. */
static int apply_galois(const he_ckks_keys *k, const ckks_galkey *gk, he_ckks_ct *out,
                        const he_ckks_ct *a)
{
    const he_ckks_ctx *c = k->ctx;
    if (a->size != 2) return he_error("ckks: rotation needs a relinearized (size-2) ciphertext");
    unsigned n = c->n, nq = a->nq, width = he_ckks_threads();
    int slot;
    uint64_t *buf = scratch_get(c, 3 * (size_t)nq * n + ks_work_words(nq, n, width), &slot);
    if (!buf) return -1;
    uint64_t *x = buf, *d0 = buf + (size_t)nq * n, *d1 = d0 + (size_t)nq * n;
    const uint32_t *perm = gk->perm;
    for (unsigned i = 0; i < nq; i++) {
        const uint64_t *s = ct_poly(a, 1, i);
        uint64_t *xi = x + (size_t)i * n;
        for (unsigned j = 0; j < n; j++) xi[j] = s[perm[j]];
    }
    keyswitch(c, gk->ksk, x, nq, d0, d1, d1 + (size_t)nq * n, width);
    for (unsigned i = 0; i < nq; i++) {
        const uint64_t *s = ct_poly(a, 0, i);
        uint64_t q = c->mod[i].q, *di = d0 + (size_t)i * n;
        for (unsigned j = 0; j < n; j++) di[j] = ckks_addmod(di[j], s[perm[j]], q);
    }
    double scale = a->scale;
    if (ct_reserve(out, 2, nq) < 0) {
        scratch_put(c, buf, slot);
        return -1;
    }
    out->size = 2;
    out->nq = nq;
    out->scale = scale;
    memcpy(out->data, d0, 2 * (size_t)nq * n * sizeof *d0);
    scratch_put(c, buf, slot);
    return 0;
}

int he_ckks_rotate(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a, int step)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    long s = step % (long)c->slots;
    if (s < 0) s += c->slots;
    if (s == 0) return he_ckks_ct_copy(out, a);
    const ckks_galkey *gk = find_gal(k, step_to_galois(c, (int)s));
    if (gk) return apply_galois(k, gk, out, a);
    for (unsigned b = 1; b < c->slots; b <<= 1)
        if ((s & b) && !find_gal(k, step_to_galois(c, (int)b)))
            return he_error("ckks: no Galois key for rotation by %d (nor for step %u to compose it)",
                            step, b);
    const he_ckks_ct *src = a;
    for (unsigned b = 1; b < c->slots; b <<= 1)
        if (s & b) {
            if (apply_galois(k, find_gal(k, step_to_galois(c, (int)b)), out, src) < 0) return -1;
            src = out;
        }
    return 0;
}

int he_ckks_conjugate(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a)
{
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    const ckks_galkey *gk = find_gal(k, (uint32_t)(2 * c->n - 1));
    if (!gk) return he_error("ckks: no Galois key for conjugation");
    return apply_galois(k, gk, out, a);
}

int he_ckks_sum_slots(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a)
{
    const he_ckks_ctx *c = k->ctx;
    if (check_ct(c, a) < 0) return -1;
    for (unsigned b = 1; b < c->slots; b <<= 1)
        if (!find_gal(k, step_to_galois(c, (int)b)))
            return he_error("ckks: sum over slots needs Galois keys for steps 1, 2, 4, ... (missing %u)", b);
    he_ckks_ct *r = he_ckks_ct_new(c);
    if (!r || he_ckks_ct_copy(out, a) < 0) {
        he_ckks_ct_free(r);
        return -1;
    }
    for (unsigned b = 1; b < c->slots; b <<= 1) {
        if (apply_galois(k, find_gal(k, step_to_galois(c, (int)b)), r, out) < 0 ||
            he_ckks_add(c, out, out, r) < 0) {
            he_ckks_ct_free(r);
            return -1;
        }
    }
    he_ckks_ct_free(r);
    return 0;
}

/* --- fused dot products ----------------------------------------------------------- */

#define DOT_BLOCK 256

static int dot_check(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *const *cts, size_t n)
{
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (n == 0) return he_error("ckks: dot product of no ciphertexts");
    for (size_t i = 0; i < n; i++) {
        if (check_ct(c, cts[i]) < 0) return -1;
        if (cts[i] == out) return he_error("ckks: dot product output aliases input %zu", i);
        if (cts[i]->size != 2) return he_error("ckks: dot product needs size-2 ciphertexts");
        if (cts[i]->nq != cts[0]->nq)
            return he_error("ckks: dot product inputs at different levels (%d and %d)",
                            (int)cts[0]->nq - 1, (int)cts[i]->nq - 1);
        if (!same_scale(cts[i]->scale, cts[0]->scale))
            return he_error("ckks: dot product inputs with different scales");
    }
    return 0;
}

/* IFMA kernel for prime t: 52-bit split accumulators, folded (reduced)
** only every CKKS_MAC52_TERMS terms, so once per output for up to 4096. */
static void dot_kernel52(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *const *cts,
                         size_t cnt, const uint64_t *const *wv, const uint64_t *ws, unsigned t)
{
    unsigned n = c->n, nq = cts[0]->nq;
    const ckks_mod *m = &c->mod[t];
    uint64_t lo0[DOT_BLOCK], hi0[DOT_BLOCK], lo1[DOT_BLOCK], hi1[DOT_BLOCK];
    for (unsigned j0 = 0; j0 < n; j0 += DOT_BLOCK) {
        unsigned bl = n - j0 < DOT_BLOCK ? n - j0 : DOT_BLOCK;
        memset(lo0, 0, sizeof lo0);
        memset(hi0, 0, sizeof hi0);
        memset(lo1, 0, sizeof lo1);
        memset(hi1, 0, sizeof hi1);
        size_t since = 0;
        for (size_t i = 0; i < cnt; i++) {
            if (since == CKKS_MAC52_TERMS - 1) {
                for (unsigned j = 0; j < bl; j++) {
                    lo0[j] = ckks_red128(ckks_mac52_value(lo0[j], hi0[j]), m);
                    lo1[j] = ckks_red128(ckks_mac52_value(lo1[j], hi1[j]), m);
                    hi0[j] = hi1[j] = 0;
                }
                since = 0;
            }
            since++;
            const uint64_t *x0 = ct_poly(cts[i], 0, t) + j0, *x1 = ct_poly(cts[i], 1, t) + j0;
            if (ws) {
                ckks_mac52s_ifma(lo0, hi0, x0, ws[i * nq + t], bl);
                ckks_mac52s_ifma(lo1, hi1, x1, ws[i * nq + t], bl);
            } else {
                const uint64_t *w = wv[i] + (size_t)t * n + j0;
                ckks_mac52_ifma(lo0, hi0, x0, w, bl);
                ckks_mac52_ifma(lo1, hi1, x1, w, bl);
            }
        }
        uint64_t *o0 = ct_poly(out, 0, t) + j0, *o1 = ct_poly(out, 1, t) + j0;
        for (unsigned j = 0; j < bl; j++) {
            o0[j] = ckks_red128(ckks_mac52_value(lo0[j], hi0[j]), m);
            o1[j] = ckks_red128(ckks_mac52_value(lo1[j], hi1[j]), m);
        }
    }
}

typedef struct dot_job {
    const he_ckks_ctx *c;
    he_ckks_ct *out;
    const he_ckks_ct *const *cts;
    size_t cnt;
    const uint64_t *const *wv;
    const uint64_t *ws;
} dot_job;

/* Portable kernel: 128-bit accumulators; one task per prime t. */
static void dot_task(void *arg, unsigned t, unsigned worker)
{
    (void)worker;
    dot_job *J = arg;
    const he_ckks_ctx *c = J->c;
    he_ckks_ct *out = J->out;
    const he_ckks_ct *const *cts = J->cts;
    size_t cnt = J->cnt;
    const uint64_t *const *wv = J->wv;
    const uint64_t *ws = J->ws;
    unsigned n = c->n, nq = cts[0]->nq;
    u128 acc0[DOT_BLOCK], acc1[DOT_BLOCK];
    {
        const ckks_mod *m = &c->mod[t];
        if (m->ifma && n % 8 == 0) {
            dot_kernel52(c, out, cts, cnt, wv, ws, t);
            return;
        }
        /* products < (q-1)^2: this many fit in 128 bits next to one residue */
        u128 qm = (u128)(m->q - 1) * (m->q - 1);
        u128 room = (~(u128)0 - m->q) / qm;
        size_t fold = room > (u128)SIZE_MAX ? SIZE_MAX : (size_t)room;
        for (unsigned j0 = 0; j0 < n; j0 += DOT_BLOCK) {
            unsigned bl = n - j0 < DOT_BLOCK ? n - j0 : DOT_BLOCK;
            memset(acc0, 0, sizeof acc0);
            memset(acc1, 0, sizeof acc1);
            size_t since = 0;
            for (size_t i = 0; i < cnt; i++) {
                const uint64_t *x0 = ct_poly(cts[i], 0, t) + j0, *x1 = ct_poly(cts[i], 1, t) + j0;
                if (since == fold) {
                    for (unsigned j = 0; j < bl; j++) {
                        acc0[j] = ckks_red128(acc0[j], m);
                        acc1[j] = ckks_red128(acc1[j], m);
                    }
                    since = 0;
                }
                since++;
                if (ws) {
                    uint64_t w = ws[i * nq + t];
                    for (unsigned j = 0; j < bl; j++) {
                        acc0[j] += (u128)x0[j] * w;
                        acc1[j] += (u128)x1[j] * w;
                    }
                } else {
                    const uint64_t *w = wv[i] + (size_t)t * n + j0;
                    for (unsigned j = 0; j < bl; j++) {
                        acc0[j] += (u128)x0[j] * w[j];
                        acc1[j] += (u128)x1[j] * w[j];
                    }
                }
            }
            uint64_t *o0 = ct_poly(out, 0, t) + j0, *o1 = ct_poly(out, 1, t) + j0;
            for (unsigned j = 0; j < bl; j++) {
                o0[j] = ckks_red128(acc0[j], m);
                o1[j] = ckks_red128(acc1[j], m);
            }
        }
    }
}

static void dot_kernel(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *const *cts,
                       size_t cnt, const uint64_t *const *wv, const uint64_t *ws)
{
    dot_job J = {.c = c, .out = out, .cts = cts, .cnt = cnt, .wv = wv, .ws = ws};
    ckks_parallel(cts[0]->nq, CKKS_MAX_THREADS, dot_task, &J);
}

int he_ckks_dot_scalar(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *const *cts,
                       const double *w, size_t n, double wscale)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (dot_check(c, out, cts, n) < 0) return -1;
    unsigned nq = cts[0]->nq;
    if (wscale == 0) wscale = (double)c->mod[nq - 1].q;
    if (!(wscale > 0) || !isfinite(wscale)) return he_error("ckks: bad weight scale");
    size_t len;
    if (he_mul_size(n, nq, &len) < 0) return -1;
    uint64_t *ws = he_malloc(len * sizeof *ws);
    if (!ws) return -1;
    for (size_t i = 0; i < n; i++) {
        double r = round(w[i] * wscale);
        if (!isfinite(r) || fabs(r) >= 9.2e18 || real_to_rns(c, nq, r, ws + i * nq, 1) < 0) {
            he_free(ws);
            return he_error("ckks: weight %zu (%g) does not fit at scale %g", i, w[i], wscale);
        }
    }
    double scale = cts[0]->scale * wscale;
    if (ct_reserve(out, 2, nq) < 0) {
        he_free(ws);
        return -1;
    }
    out->size = 2;
    out->nq = nq;
    dot_kernel(c, out, cts, n, NULL, ws);
    out->scale = scale;
    he_free(ws);
    return 0;
}

int he_ckks_dot_pt(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *const *cts,
                   const he_ckks_pt *const *pts, size_t n)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (dot_check(c, out, cts, n) < 0) return -1;
    unsigned nq = cts[0]->nq;
    for (size_t i = 0; i < n; i++) {
        if (check_pt(c, pts[i]) < 0) return -1;
        if (pts[i]->nq != nq) return he_error("ckks: dot product plaintext %zu at another level", i);
        if (!same_scale(pts[i]->scale, pts[0]->scale))
            return he_error("ckks: dot product plaintexts with different scales");
    }
    const uint64_t **wv = he_malloc(n * sizeof *wv);
    if (!wv) return -1;
    for (size_t i = 0; i < n; i++) wv[i] = pts[i]->data;
    double scale = cts[0]->scale * pts[0]->scale;
    if (ct_reserve(out, 2, nq) < 0) {
        he_free(wv);
        return -1;
    }
    out->size = 2;
    out->nq = nq;
    dot_kernel(c, out, cts, n, wv, NULL);
    out->scale = scale;
    he_free(wv);
    return 0;
}
