/*
** ckks.h: RNS-CKKS (Cheon-Kim-Kim-Song) approximate homomorphic encryption.
**
** Objects (all opaque, heap-allocated, owned by the caller):
**   he_ckks_ctx   parameters and precomputed tables (primes, NTT tables);
**   he_ckks_keys  secret key (optional), public key, relinearization key,
**                 Galois keys for the rotation steps asked for;
**   he_ckks_pt    an encoded plaintext (NTT form, a level and a scale);
**   he_ckks_ct    a ciphertext (2 or 3 polynomials, NTT form, level, scale).
** Keys, plaintexts and ciphertexts remember the context they were made for
** and every operation checks it; the context must outlive them (a VM holds
** a reference to the context in each wrapped object).
**
** Conventions: functions return 0 or -1 (he_errmsg() says why); outputs are
** caller-provided objects made by *_new and may alias inputs; a failed
** operation leaves its output unspecified but valid to free or reuse.
**
** Levels: a context with primes q_0..q_{L-1} (data) and P (special, last in
** the list) makes fresh ciphertexts at level L-1 (L primes). Rescale divides
** by the last prime of the ciphertext and drops it: level - 1, scale / q.
** mod_down drops primes without changing the message (level alignment).
**
** Slots: N/2 complex numbers. Rotation by k moves slot i+k to slot i
** (a left rotation, as SEAL's rotate_vector with positive steps).
**
** Scales: add/sub need equal levels and scales equal to a relative 1e-9.
**
** Key switching (relinearization, rotations) is SEAL's hybrid method with
** the one special prime P and one digit per RNS prime; P should be at least
** as large as the largest data prime (the defaults are).
**
** Speed: the NTT and the element-wise kernels use AVX-512 IFMA where the
** CPU has it (chosen at run time, for primes below 2^50); the portable C
** code is used otherwise, or everywhere when HE_CKKS_NO_AVX512=1 is set in
** the environment. Both give bit-identical results.
**
** Threads: the functions keep no global state; several threads may use one
** context and one key set at the same time (on distinct output objects).
**
** Security: the context accepts N in {4096, 8192, 16384, 32768} with a total
** modulus (special prime included) within the HomomorphicEncryption.org
** 128-bit bound (ternary secret): 109, 218, 438, 881 bits. Anything else
** (smaller N for tests, a larger modulus) needs params.insecure = true, and
** then every context creation prints one warning line to stderr.
**
** Binary format (little-endian), version 1, for keys and ciphertexts:
**   offset size
**   0      8    magic "HECKKS\r\n"
**   8      2    format version (1)
**   10     2    kind: 1 = key set, 2 = ciphertext
**   12     4    reserved, zero
**   16     32   parameter fingerprint: BLAKE2b-256 of N and every prime
**   48     8    body length B
**   56     B    body
**   56+B   32   BLAKE2b-256 checksum of bytes [0, 56+B)
** Ciphertext body: u32 size (2 or 3), u32 nq (primes in use), f64 scale,
**   u32 form, u32 zero; form 0: size*nq*N u64 coefficients (NTT form, each
**   < its prime); form 1 (seed-compressed fresh secret-key encryption,
**   size 2): nq*N u64 of polynomial 0, then the 32-byte seed from which
**   polynomial 1 is expanded (at prime i: expand(seed, i, i), see below).
** Key-set body: u32 parts (bit set of HE_CKKS_PART_*), then in this order
**   when present: secret key: (L+1)*N u64 (NTT form, all primes);
**   public key: L*N u64 (b), 32-byte seed (a at prime t = expand(seed,
**   t, t)); relinearization key: for each digit j < L the (L+1)*N u64 of
**   b_j, then a 32-byte seed (a_j at prime t = expand(seed, j*(L+1) + t,
**   t)); Galois keys: u32 count, then per key: u32 Galois element, then
**   like the relinearization key. expand(seed, index, t): he_prng (ChaCha20)
**   keyed with BLAKE2b-256(seed || u32 index); its 64-bit words masked to
**   the bit length of q_t, kept when < q_t (the uniform parts are stored as seeds,
**   which halves the files). Every coefficient is checked to be below its
**   prime, and every length against the context.
** A file holding a secret key is created with mode 0600 (files are written
** to a new file renamed over the old one, so a failed save leaves an
** existing file intact). A key set whose secret key does not belong to its
** public key (b + a s not small) is refused on load.
*/
#ifndef HE_CKKS_H
#define HE_CKKS_H

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "he.h"

#define HE_CKKS_MAX_PRIMES 40
#define HE_CKKS_FORMAT_VERSION 1

typedef struct he_ckks_params {
    unsigned n;         /* ring dimension N (power of two) */
    unsigned nprimes;   /* number of primes, the special prime included */
    int bits[HE_CKKS_MAX_PRIMES]; /* bit size of each prime (<= 60); the
                                  ** last one is the special prime P */
    double scale;       /* default encoding scale (e.g. 2^40) */
    bool insecure;      /* accept parameters outside the 128-bit bound */
} he_ckks_params;

typedef struct he_ckks_ctx he_ckks_ctx;
typedef struct he_ckks_keys he_ckks_keys;
typedef struct he_ckks_pt he_ckks_pt;
typedef struct he_ckks_ct he_ckks_ct;

/* 128-bit HomomorphicEncryption.org bound on log2(q*P) for N; 0 if N is
** not one of the standard sizes. */
int he_ckks_max_bits(unsigned n);

/* Fills p with a default CKKS parameter set for N in {4096, ..., 32768}:
** 4096: {38,33,38} scale 2^33; 8192: {49,40,40,40,49} scale 2^40;
** 16384: {60,45 x7,60} scale 2^45; 32768: {60,50 x15,60} scale 2^50. */
int he_ckks_params_default(he_ckks_params *p, unsigned n);

/* Prime search is deterministic: for each bit size b (in list order) the
** largest primes q < 2^b with q = 1 mod 2N not already taken. */
he_ckks_ctx *he_ckks_ctx_new(const he_ckks_params *p);
void he_ckks_ctx_free(he_ckks_ctx *ctx);
unsigned he_ckks_ctx_n(const he_ckks_ctx *ctx);
unsigned he_ckks_ctx_slots(const he_ckks_ctx *ctx);
/* Highest level (number of data primes - 1). */
int he_ckks_ctx_max_level(const he_ckks_ctx *ctx);
double he_ckks_ctx_scale(const he_ckks_ctx *ctx);
/* Prime i (0..nprimes-1; the last is the special prime). */
uint64_t he_ckks_ctx_prime(const he_ckks_ctx *ctx, unsigned i);
unsigned he_ckks_ctx_nprimes(const he_ckks_ctx *ctx);
/* Total bits of q*P (sum of the primes' bit lengths). */
int he_ckks_ctx_total_bits(const he_ckks_ctx *ctx);
/* 32-byte parameter fingerprint (as written into files). */
void he_ckks_ctx_fingerprint(const he_ckks_ctx *ctx, uint8_t out[32]);

/* --- keys ------------------------------------------------------------- */
enum {
    HE_CKKS_PART_SECRET = 1,
    HE_CKKS_PART_PUBLIC = 2,
    HE_CKKS_PART_RELIN = 4,
    HE_CKKS_PART_GALOIS = 8,
};
he_ckks_keys *he_ckks_keys_new(const he_ckks_ctx *ctx);
/* Wipes the secret key, then frees. */
void he_ckks_keys_free(he_ckks_keys *k);
/* Bit set of HE_CKKS_PART_* present. */
unsigned he_ckks_keys_parts(const he_ckks_keys *k);
/* New secret and public key (replacing any previous keys). */
int he_ckks_keygen(he_ckks_keys *k) HE_WARN_UNUSED;
/* Relinearization key (needs the secret key). */
int he_ckks_keygen_relin(he_ckks_keys *k) HE_WARN_UNUSED;
/* Galois keys for the given rotation steps (any integer; reduced mod
** slots; 0 ignored), plus conjugation when conj. Adds to existing keys. */
int he_ckks_keygen_galois(he_ckks_keys *k, const int *steps, size_t nsteps,
                          bool conj) HE_WARN_UNUSED;
/* Galois keys for steps 1, 2, 4, ..., slots/2: enough for sum_slots and
** for any rotation (composed from powers of two). */
int he_ckks_keygen_galois_pow2(he_ckks_keys *k) HE_WARN_UNUSED;
/* Drops the secret key (wiped), keeping the public parts. */
void he_ckks_keys_drop_secret(he_ckks_keys *k);
bool he_ckks_keys_has_rotation(const he_ckks_keys *k, int step);

/* --- plaintexts and ciphertexts ------------------------------------------ */
he_ckks_pt *he_ckks_pt_new(const he_ckks_ctx *ctx);
void he_ckks_pt_free(he_ckks_pt *pt); /* wipes: plaintexts may be secret */
int he_ckks_pt_level(const he_ckks_pt *pt);
double he_ckks_pt_scale(const he_ckks_pt *pt);

he_ckks_ct *he_ckks_ct_new(const he_ckks_ctx *ctx);
void he_ckks_ct_free(he_ckks_ct *ct);
int he_ckks_ct_copy(he_ckks_ct *dst, const he_ckks_ct *src) HE_WARN_UNUSED;
int he_ckks_ct_level(const he_ckks_ct *ct);  /* -1 when empty */
double he_ckks_ct_scale(const he_ckks_ct *ct);
int he_ckks_ct_size(const he_ckks_ct *ct);   /* 2, 3 (after mul), 0 empty */
/* Overrides the recorded scale (for callers that track scales themselves). */
void he_ckks_ct_set_scale(he_ckks_ct *ct, double scale);
/* The context an object was made for. */
const he_ckks_ctx *he_ckks_ct_ctx(const he_ckks_ct *ct);
const he_ckks_ctx *he_ckks_pt_ctx(const he_ckks_pt *pt);
const he_ckks_ctx *he_ckks_keys_ctx(const he_ckks_keys *k);

/* --- encoding ----------------------------------------------------------- */
/* Encodes n <= slots values (the rest are zero) at the given level
** (-1: top) and scale (0: the context's scale). Fails when a scaled value
** does not fit the modulus. */
int he_ckks_encode(const he_ckks_ctx *ctx, he_ckks_pt *pt, const double *v,
                   size_t n, int level, double scale) HE_WARN_UNUSED;
int he_ckks_encode_complex(const he_ckks_ctx *ctx, he_ckks_pt *pt,
                           const double complex *v, size_t n, int level,
                           double scale) HE_WARN_UNUSED;
/* Decodes the first n <= slots slots (real parts / complex values). */
int he_ckks_decode(const he_ckks_ctx *ctx, const he_ckks_pt *pt, double *v,
                   size_t n) HE_WARN_UNUSED;
int he_ckks_decode_complex(const he_ckks_ctx *ctx, const he_ckks_pt *pt,
                           double complex *v, size_t n) HE_WARN_UNUSED;

/* --- encryption ----------------------------------------------------------- */
int he_ckks_encrypt(const he_ckks_keys *k, he_ckks_ct *ct,
                    const he_ckks_pt *pt) HE_WARN_UNUSED;  /* public key */
/* Secret-key encryption; until the ciphertext is next written, it saves in
** the seed-compressed form (about half the size). */
int he_ckks_encrypt_sk(const he_ckks_keys *k, he_ckks_ct *ct,
                       const he_ckks_pt *pt) HE_WARN_UNUSED;
int he_ckks_decrypt(const he_ckks_keys *k, he_ckks_pt *pt,
                    const he_ckks_ct *ct) HE_WARN_UNUSED;

/* --- circuit privacy ---------------------------------------------------------- */
/* out = a + (a fresh public-key encryption of 0) + (f, 0), f a polynomial of
** independent rounded Gaussians of standard deviation sigma (coefficient
** domain, sigma <= 2^56): the result's c1 no longer depends on how it was
** computed, and noise e with |e|_2 <= E in a is hidden from whoever decrypts
** up to statistical distance E / (2 sigma) (Pinsker: the KL divergence of
** e + f from f is |e|_2^2 / (2 sigma^2)). Each slot gains an error of
** standard deviation about sigma sqrt(N/2) / scale. a must have size 2. */
int he_ckks_flood(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a,
                  double sigma) HE_WARN_UNUSED;
/* The sigma that hides noise of coefficients below 2^noise_bits up to a
** statistical distance of 2^-s per decrypted result (|e|_2 <= sqrt(N)
** 2^noise_bits): sqrt(N) 2^(noise_bits + s - 1). */
double he_ckks_flood_sigma(const he_ckks_ctx *ctx, double noise_bits, unsigned s);
/* For the key holder's dry run (as OpenFHE's noise estimation): log2 of the
** largest coefficient of the noise of ct, decrypt(ct) - encode(v) at ct's
** level and scale (exact while the noise is below q_0 / 2; 0 when none). */
int he_ckks_noise_bits(const he_ckks_keys *k, const he_ckks_ct *ct, const double *v,
                       size_t nv, double *bits) HE_WARN_UNUSED;

/* --- arithmetic (out may alias any input) ---------------------------------- */
int he_ckks_add(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                const he_ckks_ct *b) HE_WARN_UNUSED;
int he_ckks_sub(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                const he_ckks_ct *b) HE_WARN_UNUSED;
int he_ckks_neg(const he_ckks_ctx *ctx, he_ckks_ct *out,
                const he_ckks_ct *a) HE_WARN_UNUSED;
int he_ckks_add_pt(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                   const he_ckks_pt *b) HE_WARN_UNUSED;
int he_ckks_sub_pt(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                   const he_ckks_pt *b) HE_WARN_UNUSED;
/* Adds the constant v (in every slot), at the ciphertext's scale. */
int he_ckks_add_scalar(const he_ckks_ctx *ctx, he_ckks_ct *out,
                       const he_ckks_ct *a, double v) HE_WARN_UNUSED;
/* out = a * b; scale(out) = scale(a) * scale(b). */
int he_ckks_mul_pt(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                   const he_ckks_pt *b) HE_WARN_UNUSED;
/* out = a * round(v * scale) (every slot times v); scale(out) =
** scale(a) * scale. scale 0 means: the ciphertext's last prime, so that a
** rescale afterwards brings the scale back. */
int he_ckks_mul_scalar(const he_ckks_ctx *ctx, he_ckks_ct *out,
                       const he_ckks_ct *a, double v, double scale) HE_WARN_UNUSED;
/* out = a * k exactly (scale unchanged). */
int he_ckks_mul_int(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                    int64_t k) HE_WARN_UNUSED;
/* out = a * b (size-2 inputs) as a size-3 ciphertext, not relinearized. */
int he_ckks_mul(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                const he_ckks_ct *b) HE_WARN_UNUSED;
int he_ckks_square(const he_ckks_ctx *ctx, he_ckks_ct *out,
                   const he_ckks_ct *a) HE_WARN_UNUSED;
/* Size 3 -> 2 with the relinearization key (size 2 is copied). */
int he_ckks_relin(const he_ckks_keys *k, he_ckks_ct *out,
                  const he_ckks_ct *a) HE_WARN_UNUSED;
/* he_ckks_relin then he_ckks_rescale, bit for bit, with the key switch's
** division by P and the rescale's by the last prime sharing their NTTs
** (one per prime and part instead of two). */
int he_ckks_relin_rescale(const he_ckks_keys *k, he_ckks_ct *out,
                          const he_ckks_ct *a) HE_WARN_UNUSED;
/* Divides by the last prime with rounding, dropping it. */
int he_ckks_rescale(const he_ckks_ctx *ctx, he_ckks_ct *out,
                    const he_ckks_ct *a) HE_WARN_UNUSED;
/* Drops primes down to the given level (same message, same scale). */
int he_ckks_mod_down(const he_ckks_ctx *ctx, he_ckks_ct *out,
                     const he_ckks_ct *a, int level) HE_WARN_UNUSED;
int he_ckks_pt_mod_down(const he_ckks_ctx *ctx, he_ckks_pt *pt,
                        int level) HE_WARN_UNUSED;
/* Rotation by step (mod slots): uses the key for the step when present,
** otherwise composes keys of powers of two; fails if neither is there. */
int he_ckks_rotate(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a,
                   int step) HE_WARN_UNUSED;
int he_ckks_conjugate(const he_ckks_keys *k, he_ckks_ct *out,
                      const he_ckks_ct *a) HE_WARN_UNUSED;
/* Every slot of out = sum of all slots of a (log2(slots) rotations). */
int he_ckks_sum_slots(const he_ckks_keys *k, he_ckks_ct *out,
                      const he_ckks_ct *a) HE_WARN_UNUSED;

/* Fused dot products, one reduction per output coefficient:
**   out = sum_i cts[i] * round(w[i] * wscale)
** All cts at one level and scale, size 2; scale(out) = scale * wscale
** (wscale 0: the last prime of the level, as in he_ckks_mul_scalar). */
int he_ckks_dot_scalar(const he_ckks_ctx *ctx, he_ckks_ct *out,
                       const he_ckks_ct *const *cts, const double *w, size_t n,
                       double wscale) HE_WARN_UNUSED;
/*   out = sum_i cts[i] * pts[i] (all pts at the cts' level, one scale). */
int he_ckks_dot_pt(const he_ckks_ctx *ctx, he_ckks_ct *out,
                   const he_ckks_ct *const *cts, const he_ckks_pt *const *pts,
                   size_t n) HE_WARN_UNUSED;

/* --- throughput kernels (pack.c) ------------------------------------------------- */
/* A layer of scalar weights: outs[j] = sum_i round(W[j * n + i] * wscale) *
** cts[i] for j < m (W row-major, m x n; zero weights are skipped), all cts
** size 2 at one level and scale; scale(outs[j]) = scale * wscale (wscale 0:
** the last prime of the level), not rescaled. One blocked kernel for the
** whole layer (each input read once), on the thread pool. outs must be m
** distinct ciphertexts, none of them an input. */
int he_ckks_linear(const he_ckks_ctx *ctx, he_ckks_ct *const *outs, size_t m,
                   const he_ckks_ct *const *cts, size_t n, const double *W,
                   double wscale) HE_WARN_UNUSED;
/* out = i * a, exactly (the monomial X^(N/2)); no level, same scale. */
int he_ckks_mul_i(const he_ckks_ctx *ctx, he_ckks_ct *out,
                  const he_ckks_ct *a) HE_WARN_UNUSED;
/* Adds the complex constant v to every slot, at the ciphertext's scale. */
int he_ckks_add_const(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a,
                      double complex v) HE_WARN_UNUSED;
/* Complex packing: for a holding a_k + i b_k in slot k (two reals per slot),
** out = a_k^2 + i b_k^2 as a size-3 product (relinearize, then rescale),
** scale 4 scale(a)^2: a encoded at half the level's scale lands on it. One
** conjugation (needs the conjugation key) and two products. */
int he_ckks_square_pairs(const he_ckks_keys *k, he_ckks_ct *out,
                         const he_ckks_ct *a) HE_WARN_UNUSED;
/* Many at once, one ciphertext per thread at a time (for throughput):
** outs[i] = square_pairs(ins[i]) (outs[i] may be ins[i], no other input);
** and every size-3 ciphertext of cts relinearized and rescaled in place
** (size 2 ones are left). The same results as one by one. */
int he_ckks_square_pairs_many(const he_ckks_keys *k, he_ckks_ct *const *outs,
                              const he_ckks_ct *const *ins, size_t n) HE_WARN_UNUSED;
int he_ckks_settle_many(const he_ckks_keys *k, he_ckks_ct *const *cts,
                        size_t n) HE_WARN_UNUSED;
/* Every ciphertext of cts rescaled in place, one per thread at a time (a
** layer's outputs); the same results as one by one. */
int he_ckks_rescale_many(const he_ckks_ctx *ctx, he_ckks_ct *const *cts, size_t n) HE_WARN_UNUSED;

/* --- hoisted rotations and matrix-vector products (hoist.c) ------------------- */
/* outs[i] = a rotated by steps[i], i < n, sharing one key-switching
** decomposition of a (hoisting): each step needs its own Galois key (no
** composition); outs[i] must not be a. Same noise bound as he_ckks_rotate,
** not bit-identical to it. */
int he_ckks_rotate_hoisted(const he_ckks_keys *k, he_ckks_ct *const *outs, const he_ckks_ct *a,
                           const int *steps, size_t n) HE_WARN_UNUSED;
/* y = W x + bias for a rows x cols matrix W (row-major) and bias (rows, or
** NULL), by the diagonal method with baby-step giant-step (hoist.c). Layout:
** x in slots [0, cols) repeated every in_period slots (the power of two at
** least cols), zeros in between; y in [0, rows) repeated every out_period
** slots (the power of two at least rows), so products chain; with fresh, x
** may instead hold zeros past cols (as encrypted): it is repeated first
** (log2(slots / in_period) more rotations and keys). Uses one
** level (one rescale), about 2 sqrt(min(in, out period)) rotations plus
** log2(in/out period) when wide, and Galois keys for exactly the steps
** he_ckks_matvec_steps lists (it returns their count, writing at most max).
** The diagonals are encoded at the scale wscale (0: the last prime of x's
** level, which keeps the scale through the rescale): scale(y) = scale(x) *
** wscale / q_last. The rotations run on K x (K = 2^k <= 1024, exact)
** and the weights are encoded at wscale / K (at least 2^20), which makes the
** key-switching noise K times smaller against the values. */
typedef struct he_ckks_matvec he_ckks_matvec;
he_ckks_matvec *he_ckks_matvec_new(const he_ckks_ctx *ctx, const double *W, size_t rows,
                                   size_t cols, const double *bias);
/* The same product given by its nonzero diagonals (a sparse matrix, e.g. a
** convolution laid out so that each kernel tap is one shift): for r < k,
** out[j] += D[r * period + j] * x[(j + offsets[r]) mod period], j < period,
** plus bias[j] (period values, or NULL); x and the result repeat every
** period slots (a power of two). Costs one encoding per distinct offset and
** about as many rotations as distinct baby and giant steps. */
he_ckks_matvec *he_ckks_matvec_new_diagonals(const he_ckks_ctx *ctx, unsigned period,
                                             const int *offsets, const double *D, size_t k,
                                             const double *bias);
/* The same products' shapes for planning, without a context (slots: N/2):
** he_ckks_matvec_steps and the periods answer for them, apply refuses them. */
he_ckks_matvec *he_ckks_matvec_shape(unsigned slots, const double *W, size_t rows, size_t cols);
he_ckks_matvec *he_ckks_matvec_shape_diagonals(unsigned slots, unsigned period, const int *offsets,
                                               const double *D, size_t k);
void he_ckks_matvec_free(he_ckks_matvec *mv);
unsigned he_ckks_matvec_in_period(const he_ckks_matvec *mv);
unsigned he_ckks_matvec_out_period(const he_ckks_matvec *mv);
size_t he_ckks_matvec_steps(const he_ckks_matvec *mv, bool fresh, int *steps, size_t max);
int he_ckks_matvec_apply(const he_ckks_keys *k, const he_ckks_matvec *mv, he_ckks_ct *out,
                         const he_ckks_ct *x, double wscale, bool fresh) HE_WARN_UNUSED;

/* --- threads ------------------------------------------------------------------ */
/* The runtime's kernels (NTTs and key switching per RNS prime, the fused
** dot per prime, encodings in a matrix-vector product) run on a pool of
** threads created once; results are bit-for-bit the same for any count.
** Default: HE_THREADS from the environment, else the online CPUs (at most
** 16). */
unsigned he_ckks_threads(void);
int he_ckks_set_threads(unsigned n) HE_WARN_UNUSED;

/* --- serialization (format above) ------------------------------------------ */
/* Serializes the given parts (HE_CKKS_PART_* bits, all present in k) into
** a he_malloc'd buffer. */
int he_ckks_keys_serialize(const he_ckks_keys *k, unsigned parts,
                           uint8_t **out, size_t *len) HE_WARN_UNUSED;
/* The length he_ckks_keys_serialize (and the file he_ckks_keys_save) would
** give for these parts, without writing them. */
int he_ckks_keys_serialized_size(const he_ckks_keys *k, unsigned parts,
                                 size_t *len) HE_WARN_UNUSED;
/* Adds the parts found in the buffer to k (replacing those present). */
int he_ckks_keys_deserialize(he_ckks_keys *k, const uint8_t *buf,
                             size_t len) HE_WARN_UNUSED;
int he_ckks_ct_serialize(const he_ckks_ctx *ctx, const he_ckks_ct *ct,
                         uint8_t **out, size_t *len) HE_WARN_UNUSED;
int he_ckks_ct_deserialize(const he_ckks_ctx *ctx, he_ckks_ct *ct,
                           const uint8_t *buf, size_t len) HE_WARN_UNUSED;
/* Files: a file with a secret key is written with mode 0600. */
int he_ckks_keys_save(const he_ckks_keys *k, unsigned parts,
                      const char *path) HE_WARN_UNUSED;
int he_ckks_keys_load(he_ckks_keys *k, const char *path) HE_WARN_UNUSED;
int he_ckks_ct_save(const he_ckks_ctx *ctx, const he_ckks_ct *ct,
                    const char *path) HE_WARN_UNUSED;
int he_ckks_ct_load(const he_ckks_ctx *ctx, he_ckks_ct *ct,
                    const char *path) HE_WARN_UNUSED;

#endif
