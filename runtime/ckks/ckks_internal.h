/*
** ckks_internal.h: the RNS/NTT core and the structures behind ckks.h.
** Not part of the public API (tests include it to check the NTT).
*/
#ifndef HE_CKKS_INTERNAL_H
#define HE_CKKS_INTERNAL_H

#include <complex.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ckks/ckks.h"

typedef unsigned __int128 u128;

/* One RNS prime with its reduction constants and NTT tables. */
typedef struct ckks_mod {
    uint64_t q, two_q;
    int bits;          /* bit length of q */
    uint64_t mu;       /* floor(2^(2*bits) / q): Barrett for a*b, a,b < q */
    uint64_t r_hi, r_lo; /* floor(2^128 / q): Barrett for 128-bit values */
    uint64_t psi;      /* primitive 2N-th root of unity */
    /* NTT tables (N entries each): psi^brv(i) and psi^-brv(i), with Shoup
    ** companions floor(w * 2^64 / q). */
    uint64_t *w, *wp, *iw, *iwp;
    uint64_t ninv_last, ninv_lastp;     /* n^-1 * psi^-brv(1) (last INTT stage) */
    uint64_t ninv, ninvp;               /* n^-1 */
    /* AVX-512 IFMA path (q < 2^50, N >= 16, CPU support): 52-bit Shoup
    ** companions floor(w * 2^52 / q), or NULL when not used. */
    int ifma;
    uint64_t *wp52, *iwp52;
    uint64_t ninvp52, ninv_lastp52;
    uint64_t mu52; /* floor(2^(bits+51) / q): Barrett in 52-bit lanes */
    uint64_t r52;  /* 2^52 mod q */
    int ifma_red;  /* the IFMA reductions below apply (ifma, bits >= 26) */
} ckks_mod;

/* Modular helpers (q < 2^62 for the lazy NTT; we use q <= 2^60). The
** conditional subtractions are written with masks so that they compile
** without branches (random residues would mispredict half of them). */
static inline uint64_t ckks_csub(uint64_t r, uint64_t q)
{
    return r - (q & (0 - (uint64_t)(r >= q)));
}
static inline uint64_t ckks_mulshoup_lazy(uint64_t y, uint64_t w, uint64_t wp,
                                          uint64_t q)
{
    uint64_t h = (uint64_t)(((u128)y * wp) >> 64);
    return y * w - h * q; /* in [0, 2q) */
}
static inline uint64_t ckks_mulshoup(uint64_t y, uint64_t w, uint64_t wp,
                                     uint64_t q)
{
    return ckks_csub(ckks_mulshoup_lazy(y, w, wp, q), q);
}
static inline uint64_t ckks_shoup(uint64_t w, uint64_t q)
{
    return (uint64_t)(((u128)w << 64) / q);
}
/* a * b mod q for a, b < q (Barrett; mu and bits as in ckks_mod). Hot
** loops pass the constants as locals so that stores cannot alias them. */
static inline uint64_t ckks_mulmod_k(uint64_t a, uint64_t b, uint64_t q, uint64_t mu, int bits)
{
    /* 64-bit shifts by 1..63 (bits <= 60) instead of 128-bit ones */
    u128 x = (u128)a * b;
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    uint64_t xs = (lo >> (bits - 1)) | (hi << (65 - bits));
    u128 p = (u128)xs * mu;
    uint64_t qh = ((uint64_t)p >> (bits + 1)) | ((uint64_t)(p >> 64) << (63 - bits));
    uint64_t r = lo - qh * q;
    return ckks_csub(ckks_csub(r, q), q);
}
static inline uint64_t ckks_mulmod(uint64_t a, uint64_t b, const ckks_mod *m)
{
    return ckks_mulmod_k(a, b, m->q, m->mu, m->bits);
}
/* x mod q for any 64-bit x. */
static inline uint64_t ckks_red64(uint64_t x, const ckks_mod *m)
{
    uint64_t qh = (uint64_t)(((u128)x * m->r_hi) >> 64);
    return ckks_csub(x - qh * m->q, m->q);
}
/* x mod q for any 128-bit x. */
static inline uint64_t ckks_red128(u128 x, const ckks_mod *m)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    u128 t0 = (u128)lo * m->r_lo;
    u128 t1 = (u128)lo * m->r_hi + (uint64_t)(t0 >> 64);
    u128 t2 = (u128)hi * m->r_lo + (uint64_t)t1;
    uint64_t qh = hi * m->r_hi + (uint64_t)(t1 >> 64) + (uint64_t)(t2 >> 64);
    return ckks_csub(lo - qh * m->q, m->q);
}
static inline uint64_t ckks_addmod(uint64_t a, uint64_t b, uint64_t q)
{
    return ckks_csub(a + b, q);
}
static inline uint64_t ckks_submod(uint64_t a, uint64_t b, uint64_t q)
{
    return ckks_csub(a + q - b, q);
}

uint64_t ckks_powmod(uint64_t b, uint64_t e, uint64_t q);
uint64_t ckks_invmod(uint64_t a, uint64_t q); /* q prime */
bool ckks_is_prime(uint64_t n);
/* Fills m for prime q and ring dimension n: constants and NTT tables. */
int ckks_mod_init(ckks_mod *m, uint64_t q, unsigned n);
void ckks_mod_free(ckks_mod *m);
/* In place, values in [0, q) in and out. Forward output is in bit-reversed
** order: index i holds a(psi^(2*brv(i)+1)). */
void ckks_ntt(uint64_t *a, const ckks_mod *m, unsigned n);
void ckks_intt(uint64_t *a, const ckks_mod *m, unsigned n);
/* The two implementations behind ckks_ntt/ckks_intt (tests compare them);
** the IFMA ones need m->wp52 (ckks_mod_init sets it up when usable). */
void ckks_ntt_scalar(uint64_t *a, const ckks_mod *m, unsigned n);
void ckks_intt_scalar(uint64_t *a, const ckks_mod *m, unsigned n);
void ckks_ntt_ifma(uint64_t *a, const ckks_mod *m, unsigned n);
void ckks_intt_ifma(uint64_t *a, const ckks_mod *m, unsigned n);
bool ckks_cpu_has_ifma(void);
/* Lazy 52-bit multiply-accumulate (x, k < 2^52): lo += (x*k) mod 2^52,
** hi += floor(x*k / 2^52); the sum is hi * 2^52 + lo. lo takes 4096
** terms before it can overflow 64 bits. */
void ckks_mac52_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, const uint64_t *k, unsigned n);
void ckks_mac52s_ifma(uint64_t *lo, uint64_t *hi, const uint64_t *x, uint64_t w, unsigned n);
#define CKKS_MAC52_TERMS 4096
/* With m->ifma_red (n % 8 == 0): o = (x mod q - h) mod q for x < 2^(2 bits),
** h < q (ckks_red_from: residues of src fit); o = (hi * 2^52 + lo) mod q for lo < 2^58, hi < 2^54 (at most 64
** lazy terms); o = (d - x) * w mod q for d, x < q (wp52: 52-bit Shoup). */
static inline bool ckks_red_from(const ckks_mod *m, const ckks_mod *src)
{
    return m->ifma_red && src->bits <= 2 * m->bits;
}
void ckks_sub_reduce_ifma(uint64_t *o, const uint64_t *x, uint64_t h, const ckks_mod *m, unsigned n);
void ckks_reduce_mac52_ifma(uint64_t *o, const uint64_t *lo, const uint64_t *hi, const ckks_mod *m,
                            unsigned n);
/* o = (a + b * w) mod q for b < 2^52, a < q (a NULL: 0), w < q (m->ifma). */
void ckks_addmul_const_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t w, uint64_t wp52,
                            const ckks_mod *m, unsigned n);
void ckks_sub_mulshoup_ifma(uint64_t *o, const uint64_t *d, const uint64_t *x, uint64_t w,
                            uint64_t wp52, const ckks_mod *m, unsigned n);
static inline uint64_t ckks_shoup52(uint64_t w, uint64_t q)
{
    return (uint64_t)(((u128)w << 52) / q);
}
static inline u128 ckks_mac52_value(uint64_t lo, uint64_t hi)
{
    return ((u128)hi << 52) + lo;
}
/* For primes q < 2^31 (m->ifma): s0 += x k0, s1 += x k1 with 32-bit
** products into 64-bit sums (ckks_sum64_fits: how many terms fit);
** o = s mod q for any 64-bit s. */
void ckks_mac32x2_ifma(uint64_t *s0, uint64_t *s1, const uint64_t *x, const uint64_t *k0, const uint64_t *k1,
                       unsigned n);
void ckks_reduce64_ifma(uint64_t *o, const uint64_t *s, const ckks_mod *m, unsigned n);
static inline bool ckks_sum64_fits(uint64_t q, size_t terms)
{
    return q < (1ull << 31) && (u128)(q - 1) * (q - 1) * terms <= ~(uint64_t)0;
}
/* Element-wise kernels with the IFMA layout (m->ifma set, n % 8 == 0):
** o = a*b; o = a*b + c; (o0, o1, o2) = (a0 b0, a0 b1 + a1 b0, a1 b1). */
void ckks_mul_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const ckks_mod *m, unsigned n);
void ckks_muladd_ifma(uint64_t *o, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                      const ckks_mod *m, unsigned n);
void ckks_tensor_ifma(uint64_t *o0, uint64_t *o1, uint64_t *o2, const uint64_t *a0,
                      const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                      const ckks_mod *m, unsigned n);
/* o = a + b, o = a - b mod q, element by element (arith_avx512.c: AVX-512
** where ckks_use_ifma, portable C otherwise; the same results). */
void ckks_add_poly(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n);
void ckks_sub_poly(uint64_t *o, const uint64_t *a, const uint64_t *b, uint64_t q, unsigned n);
/* Decoding's CRT composition (ckks.c): a coefficient with residues x_t at
** the primes q_0..q_{nq-1} is X = a_0 + a_1 P_1 + ... + a_{nq-1} P_{nq-1}
** (P_t = q_0 ... q_{t-1}) with mixed-radix digits a_t < q_t (Garner):
** a_t = (x_t w_tt + sum_{j<t} a_j w_tj) mod q_t, w = g->w + t * nq, where
** w_tt = P_t^-1 and w_tj = -P_j P_t^-1 mod q_t; wp, wp52: their 64- and
** 52-bit Shoup companions. X > (Q - 1) / 2 (a negative value) when the
** digits, compared from the top, exceed the digits (q_t - 1) / 2 of (Q - 1) / 2;
** then -X = -(1 + the number with digits q_t - 1 - a_t). The double is the
** Horner sum of the digits from the top: exact below 2^53, else within
** (2 nq) 2^-53 relative (no cancellation: all terms have one sign). */
typedef struct ckks_garner {
    unsigned nq;
    uint64_t *w, *wp, *wp52; /* nq * nq each */
} ckks_garner;
/* The decoder's composition: z[i] = (X_i + X_{i+N/2} I) * inv for the N
** coefficients with residues x (prime t at x + t * N), through the kernel
** below where it applies. */
int ckks_crt_compose(const he_ckks_ctx *c, unsigned nq, const uint64_t *x, double complex *z, double inv);
/* codec_avx512.c: where ckks_codec_avx512(c, nq) (every prime t < nq uses
** the IFMA layout and the CPU has AVX-512 DQ): the encoder's rounding and
** residues for slots from.. while |value * scale| < min(lim, 2^52) in a
** block of eight (returns where it stopped: c->slots, or the block the
** portable code must do); the decoder's composition of all N coefficients
** into z[i] = (X_i + X_{i+N/2} I) * inv. Bit-identical to ckks.c's code. */
bool ckks_codec_avx512(const he_ckks_ctx *c, unsigned nq);
/* One stage (half-length h >= 4, h % 4 == 0) of the encoder's special FFT
** over n = slots values with twiddles tw[0..h): forward (decimation in
** time) u + v t, u - v t, or inverse (in frequency) u + v, (u - v) t; the
** same roundings as the portable loops in ckks.c (no fused multiply-add).
** Where ckks_codec_avx512(c, 1). */
void ckks_fft_stage_avx512(double complex *v, const double complex *tw, unsigned n, unsigned h,
                           bool inverse);
unsigned ckks_encode_round_avx512(const he_ckks_ctx *c, uint64_t *out, const double complex *z,
                                  unsigned from, unsigned nq, double scale, double lim);
void ckks_decode_compose_avx512(const he_ckks_ctx *c, const ckks_garner *g, double complex *z,
                                const uint64_t *x, double inv);
/* Whether the IFMA NTT is used (CPU has it, HE_CKKS_NO_AVX512 unset). */
bool ckks_use_ifma(void);
/* For benchmarks: contexts created while on use the portable code only. */
void ckks_force_portable(bool on);
unsigned ckks_bitrev(unsigned x, unsigned logn);

#define CKKS_SCRATCH 16 /* CKKS_MAX_THREADS (pool.c) */
struct he_ckks_ctx {
    unsigned n, logn, slots;
    unsigned k;  /* number of primes, special included */
    unsigned L;  /* data primes = k - 1 */
    ckks_mod mod[HE_CKKS_MAX_PRIMES];
    double scale;
    int total_bits;
    uint8_t fp[32];
    /* rescale: qinv[l*k + i] = q_l^-1 mod q_i (i < l), Shoup in qinvp
    ** (64-bit) and qinvp52 (52-bit) */
    uint64_t *qinv, *qinvp, *qinvp52;
    /* key switching: P^-1 mod q_i (Shoup, 64- and 52-bit), P/2 mod q_i */
    uint64_t pinv[HE_CKKS_MAX_PRIMES], pinvp[HE_CKKS_MAX_PRIMES], pinvp52[HE_CKKS_MAX_PRIMES];
    uint64_t phalf[HE_CKKS_MAX_PRIMES];
    /* encoding: ksi[j] = exp(2 pi i j / 2N), j <= 2N; rot[j] = 5^j mod 2N */
    double complex *ksi;
    uint64_t *rot;
    /* the same roots by FFT stage: fftw[h + j] (j < h, h = 1, 2, 4, ..
    ** slots/2) is the twiddle of butterfly j at half-length h, forward;
    ** ffti the inverse's */
    double complex *fftw, *ffti;
    /* scratch memory for evaluation (see ckks.c): one buffer per thread
    ** that evaluates at the same time (CKKS_SCRATCH of them) */
    atomic_flag scratch_busy[CKKS_SCRATCH];
    uint64_t *scratch[CKKS_SCRATCH];
    size_t scratch_len[CKKS_SCRATCH];
};

struct he_ckks_pt {
    const he_ckks_ctx *ctx;
    unsigned nq;
    double scale;
    uint64_t *data; /* nq * N, NTT form */
    size_t cap;
};

struct he_ckks_ct {
    const he_ckks_ctx *ctx;
    unsigned size, nq;
    double scale;
    uint64_t *data; /* (p * nq + i) * N: polynomial p at prime i */
    size_t cap;
    /* Fresh secret-key encryption: polynomial 1 is ckks_expand_seed(seed),
    ** so it can be saved as the seed. Cleared by every write. */
    bool seeded;
    uint8_t seed[32];
};

/* ckks.c's helpers for the other files: room for size polynomials at nq
** primes (clears seeded); the checks of an input ciphertext; scales equal to
** a relative 1e-9; the residues of the integer r (rounded, |r| < Q/2) at the
** first nq primes, stride apart. */
int ckks_ct_reserve(he_ckks_ct *c, unsigned size, unsigned nq);
int ckks_check_ct(const he_ckks_ctx *ctx, const he_ckks_ct *c);
bool ckks_same_scale(double a, double b);
int ckks_real_to_rns(const he_ckks_ctx *c, unsigned nq, double r, uint64_t *out, size_t stride);

/* Uniform residues mod prime t (NTT form) expanded from a 32-byte seed:
** ChaCha20 keyed with BLAKE2b-256(seed || u32 index), rejection sampling
** of 64-bit words masked to the bit length of q_t. */
void ckks_expand_seed(const he_ckks_ctx *c, const uint8_t seed[32], unsigned index, unsigned t,
                      uint64_t *out);

typedef struct ckks_galkey {
    uint32_t g;
    uint32_t *perm; /* NTT-domain permutation: out[i] = in[perm[i]] */
    uint64_t *ksk;
    uint8_t seed[32]; /* the ksk's a parts: expand(seed, j*k + t, t) */
} ckks_galkey;

struct he_ckks_keys {
    const he_ckks_ctx *ctx;
    uint64_t *sk;   /* k * N, NTT form, or NULL */
    uint64_t *pk;   /* 2 * L * N: b then a, NTT form, or NULL */
    uint64_t *rlk;  /* key-switching key, or NULL */
    size_t ngal;
    ckks_galkey *gal;
    /* every uniform a part is expanded from a seed, so files hold seeds */
    uint8_t pk_seed[32];  /* a at prime t: expand(seed, t, t) */
    uint8_t rlk_seed[32]; /* digit j, prime t: expand(seed, j*k + t, t) */
};

/* Key-switching key layout: ((j * 2 + b) * k + t) * N for digit j < L,
** component b, prime t < k. */
static inline size_t ckks_ksk_len(const he_ckks_ctx *c)
{
    return (size_t)c->L * 2 * c->k * c->n;
}
int ckks_galois_perm(const he_ckks_ctx *c, uint32_t g, uint32_t **out);
/* The Galois key for a rotation by step (mod slots), or NULL. */
const ckks_galkey *ckks_rotation_key(const he_ckks_keys *k, int step);

/* --- the worker pool (pool.c) ------------------------------------------------
** ckks_parallel runs fn(arg, task, worker) for task = 0..ntasks-1 on at
** most width threads and returns when all are done. worker < width names
** the thread (0: the caller) so a task can use that worker's scratch
** memory. Tasks must write disjoint memory and not depend on their order. */
#define CKKS_MAX_THREADS 16
typedef void ckks_task_fn(void *arg, unsigned task, unsigned worker);
void ckks_parallel(unsigned ntasks, unsigned width, ckks_task_fn *fn, void *arg);

/* Key switching in three steps (ckks.c), so that rotations of one ciphertext
** can share the first (hoisting, hoist.c):
**   ckks_ks_decompose: the digits of x (NTT form, nq primes) lifted to every
**     prime t < nq and the special prime, NTT form: dig + (j * (nq + 1) + ti) * N
**     for digit j < nq, target ti <= nq (ti == nq: the special prime);
**     coef: nq * N words of work;
**   ckks_ks_inner: p_b = sum_j dig_j[perm] * ksk_j,b at every target, (nq + 1)
**     polynomials each, the special prime's last (perm NULL: the identity);
**   ckks_ks_moddown: d_b[t] = (d_b[t] - lift(sp_b)) / P with rounding for
**     t < nq (sp_b: the special prime's polynomial, destroyed).
** work: ckks_ks_work_words(N, width) words, width: the most threads. */
size_t ckks_ks_work_words(unsigned n, unsigned width);
void ckks_ks_decompose(const he_ckks_ctx *c, const uint64_t *x, unsigned nq, uint64_t *dig,
                       uint64_t *coef, unsigned width);
void ckks_ks_inner(const he_ckks_ctx *c, const uint64_t *ksk, const uint64_t *dig, unsigned nq,
                   const uint32_t *perm, uint64_t *p0, uint64_t *p1, uint64_t *work,
                   unsigned width);
void ckks_ks_moddown(const he_ckks_ctx *c, unsigned nq, uint64_t *d0, uint64_t *d1, uint64_t *sp0,
                     uint64_t *sp1, uint64_t *work, unsigned width);

#endif
