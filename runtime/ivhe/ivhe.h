/*
** ivhe.h: Integer Vector Homomorphic Encryption (Zhou and Wornell, 2014),
** as ported by the C++ of Yu, Lai and Payor and the "Safe AI" tutorial
** (A. Trask, 2017), with the operations that training a network on
** encrypted weights needs.
**
** NOT SECURE. The scheme is for learning, not protection: both reference
** implementations use zero noise, and a cryptanalysis exists (Bogos,
** Gaspoz, Vaudenay, IACR ePrint 2016/775). This runtime samples real
** noise, but every program that creates a key must print he_ivhe_warning().
**
** The scheme. A vector x in Z^m is encrypted as c in Z^(m+1) with
**     S c = w x + e,   S = [I_m, T]   (T in Z^m, the secret of dimension m),
** and decrypted as round(S c / w). Key switching from a key S' (m x n) to
** S: the l-bit decomposition c* of c' (c*_(i,b) = sign(c'_i) bit_b(|c'_i|))
** and S* (S*_(:,(i,b)) = S'_(:,i) 2^b) satisfy S* c* = S' c'; the switching
** matrix M = [S* + E - T A ; A] (A random in [-a_bound, a_bound], E noise in
** [-e_bound, e_bound]) gives S (M c*) = S' c' + E c*. Encryption is key
** switching from [I_m, 0] applied to (w x, r) with r random (M is the public
** key); a linear transformation G is switching from G S; the weighted inner
** product x1' H x2 is switching from vec(S' H S) applied to vec(c1 c2')/w.
** Products of two ciphertexts use the same tensor, compressed through the
** structure S = [I, T] (e.g. for the inner product only m+2 of its (m+1)^2
** sums are distinct), so training kernels switch short vectors.
**
** Noise. Each key switch adds E c*: at most e_bound * (n l) in absolute
** value, in practice about e_bound * sqrt(#set bits). A product adds
** (x1 e2 + x2 e1 + e1 e2 / w) / d plus the tensor's rounding (at most
** (1 + t_bound)^2 per tensor entry); division by d divides the noise by d
** and adds at most (1 + t_bound) / 2. Decryption is exact while |e| < w/2.
**
** Conventions: 0 / -1 with he_error(); callers own outputs; an output
** ciphertext may alias an input and is resized to the result's dimension.
** A key object caches its switching matrices (generated on first use, or
** all at once with he_ivhe_key_precompute) and a workspace: one key must not
** be used by two threads at once.
*/
#ifndef HE_IVHE_H
#define HE_IVHE_H

#include <gmp.h>
#include <stdint.h>

#include "he.h"

typedef struct he_ivhe_params {
    uint64_t w;        /* weight of the message, default 2^25 */
    unsigned l;        /* bits of the decomposition, default 100 */
    unsigned a_bound;  /* A entries in [-a_bound, a_bound], default 10 */
    unsigned t_bound;  /* T entries in [-t_bound, t_bound] \ {0}, default 10 */
    unsigned e_bound;  /* noise entries in [-e_bound, e_bound], default 10 */
    int64_t scale;     /* fixed-point scale, default 1000 */
    unsigned max_dim;  /* largest vector dimension, default 10 */
} he_ivhe_params;

#define HE_IVHE_MAX_DIM_LIMIT 4096
#define HE_IVHE_FORMAT_VERSION 1

/* A ciphertext of a dim-vector: dim + 1 integers c[0..dim]. */
typedef struct he_ivhe_ct {
    unsigned dim;
    unsigned cap; /* initialised entries of c */
    mpz_t *c;
} he_ivhe_ct;

/* A key-switching matrix: rows = target dimension + 1, n_src source
** entries, stored column by column ((i, b) at column i * l + b). */
typedef struct he_ivhe_ksk {
    unsigned rows, n_src, l;
    mpz_t *m;
} he_ivhe_ksk;

typedef struct he_ivhe_key he_ivhe_key;

/* The one warning line every program that creates an IVHE key prints. */
const char *he_ivhe_warning(void);

void he_ivhe_params_default(he_ivhe_params *p);
/* Checks ranges: 2 <= w < 2^62, 8 <= l <= 4096, bounds >= 1 (a_bound,
** t_bound) and e_bound >= 1 (noise is never zero), scale >= 1,
** 1 <= max_dim <= HE_IVHE_MAX_DIM_LIMIT. */
int he_ivhe_params_check(const he_ivhe_params *p);

/* New secret keys T_1 .. T_max_dim (libsodium randomness). NULL on error. */
he_ivhe_key *he_ivhe_key_new(const he_ivhe_params *p);
/* Wipes the secrets and frees the caches. NULL is fine. */
void he_ivhe_key_free(he_ivhe_key *k);
const he_ivhe_params *he_ivhe_key_params(const he_ivhe_key *k);
/* Builds every cached switching matrix for dimensions 1..max_dim now (the
** "secure server" step of the tutorial) instead of on first use. */
int he_ivhe_key_precompute(he_ivhe_key *k);
/* Secret matrix S_dim = [I, T] (dim x (dim+1), row-major) into S, whose
** dim * (dim + 1) entries are initialised by the caller. For tests and for
** building source keys of he_ivhe_ksk_new. */
int he_ivhe_secret(const he_ivhe_key *k, unsigned dim, mpz_t *S);

/* --- ciphertexts ------------------------------------------------------- */
he_ivhe_ct *he_ivhe_ct_new(unsigned dim);
void he_ivhe_ct_free(he_ivhe_ct *c);
/* Sets the dimension, keeping storage; new entries are zero. */
int he_ivhe_ct_resize(he_ivhe_ct *c, unsigned dim);
int he_ivhe_ct_copy(he_ivhe_ct *dst, const he_ivhe_ct *src);
/* Largest |c_i| in bits (how close the ciphertext is to 2^l). */
size_t he_ivhe_ct_bits(const he_ivhe_ct *c);

/* --- encryption --------------------------------------------------------- */
int he_ivhe_encrypt(he_ivhe_key *k, he_ivhe_ct *out, const mpz_t *x, unsigned dim);
int he_ivhe_encrypt_i64(he_ivhe_key *k, he_ivhe_ct *out, const int64_t *x, unsigned dim);
/* Fixed point: x_i * scale rounded. */
int he_ivhe_encrypt_fixed(he_ivhe_key *k, he_ivhe_ct *out, const double *x, unsigned dim);
/* Encryption of value * (1, ..., 1) and of value * e_j (the helpers). */
int he_ivhe_ones(he_ivhe_key *k, he_ivhe_ct *out, unsigned dim, int64_t value);
int he_ivhe_onehot(he_ivhe_key *k, he_ivhe_ct *out, unsigned dim, unsigned j, int64_t value);

/* x = round(S c / w); x has c->dim initialised entries. */
int he_ivhe_decrypt(const he_ivhe_key *k, const he_ivhe_ct *c, mpz_t *x) HE_WARN_UNUSED;
/* Fails when an entry does not fit in int64_t. */
int he_ivhe_decrypt_i64(const he_ivhe_key *k, const he_ivhe_ct *c, int64_t *x) HE_WARN_UNUSED;
/* round(S c / w) / scale. */
int he_ivhe_decrypt_fixed(const he_ivhe_key *k, const he_ivhe_ct *c, double *x) HE_WARN_UNUSED;
/* Largest |S c - w round(S c / w)| over the entries: the noise. */
int he_ivhe_noise(const he_ivhe_key *k, const he_ivhe_ct *c, double *noise) HE_WARN_UNUSED;

/* --- key switching (the published primitives) --------------------------- */
/* Switching matrix from the source key Ssrc (rows x cols, row-major) to
** S_rows of k. Needs the secret: the key holder's step. */
he_ivhe_ksk *he_ivhe_ksk_new(he_ivhe_key *k, const mpz_t *Ssrc, unsigned rows, unsigned cols);
void he_ivhe_ksk_free(he_ivhe_ksk *M);
/* out = M c*, a ciphertext of dimension M->rows - 1, for a source
** ciphertext src of n = M->n_src entries. Fails when |src_i| >= 2^l. */
int he_ivhe_ksk_apply(const he_ivhe_ksk *M, he_ivhe_ct *out, const mpz_t *src, unsigned n);
/* Linear transformation G (rows x dim, row-major, integers): the matrix
** from G S_dim to S_rows; out = G x through he_ivhe_lintrans. */
he_ivhe_ksk *he_ivhe_lintrans_key(he_ivhe_key *k, const mpz_t *G, unsigned rows, unsigned dim);
int he_ivhe_lintrans(const he_ivhe_ksk *M, he_ivhe_ct *out, const he_ivhe_ct *c);
/* Weighted inner product x1' H x2 (H dim x dim, row-major): the matrix from
** vec(S' H S) to S_1; out (dimension 1) = x1' H x2 / d through
** he_ivhe_weighted_inner, which forms vec(c1 c2') / (w d), rounded. */
he_ivhe_ksk *he_ivhe_weighted_inner_key(he_ivhe_key *k, const mpz_t *H, unsigned dim);
int he_ivhe_weighted_inner(he_ivhe_key *k, const he_ivhe_ksk *M, he_ivhe_ct *out,
                           const he_ivhe_ct *a, const he_ivhe_ct *b, int64_t d);

/* --- arithmetic (public: uses only cached switching matrices) ----------- */
int he_ivhe_add(he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b);
int he_ivhe_sub(he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b);
int he_ivhe_neg(he_ivhe_ct *out, const he_ivhe_ct *a);
/* out = a * s (integer). */
int he_ivhe_mul_si(he_ivhe_ct *out, const he_ivhe_ct *a, int64_t s);
/* out = round(a * num / den), den >= 1: plaintext times num/den, noise
** divided likewise plus at most (1 + t_bound)/2. */
int he_ivhe_mul_frac(he_ivhe_ct *out, const he_ivhe_ct *a, int64_t num, int64_t den);
/* out = a + x (plain, dimension a->dim): adds w x to the first dim entries. */
int he_ivhe_add_plain(const he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const int64_t *x);
/* out = a + v * (1, ..., 1). */
int he_ivhe_add_scalar(const he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, int64_t v);
/* out = sum_i coef[i] * rows[i] (a plain vector times an encrypted matrix
** held as rows), then divided by d (rounded); all rows of one dimension. */
int he_ivhe_lincomb(he_ivhe_ct *out, const he_ivhe_ct *const *rows, const int64_t *coef,
                    unsigned n, int64_t d);

/* Products of two ciphertexts; each result is divided by d >= 1 (d = 1: the
** integer product; d = scale: the fixed-point product). */
/* Inner product of two dim-vectors: a ciphertext of dimension 1. */
int he_ivhe_inner(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b, int64_t d);
/* Element-wise product a_j b_j. */
int he_ivhe_mul_elem(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b, int64_t d);
/* Scalar (dimension 1) times vector: s * v. */
int he_ivhe_mul_scalar(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *s, const he_ivhe_ct *v, int64_t d);
/* Slot j of a as a ciphertext of dimension 1. */
int he_ivhe_extract(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, unsigned j);
/* Sum of the slots of a, as a ciphertext of dimension 1. */
int he_ivhe_sum(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a);
/* n ciphertexts of dimension 1 packed into one of dimension n. */
int he_ivhe_pack(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *const *scalars, unsigned n);
/* Matrix (rows ciphertexts of dimension dim) times vector x (dim): out has
** dimension rows, out_i = <W_i, x> / d. */
int he_ivhe_matvec(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *const *W, unsigned rows,
                   const he_ivhe_ct *x, int64_t d);
/* Transpose of an encrypted matrix held as rows: in has `rows` ciphertexts
** of dimension cols; out must hold `cols` ciphertexts (any dimension), each
** set to a column (dimension rows). */
int he_ivhe_transpose(he_ivhe_key *k, he_ivhe_ct *const *out, const he_ivhe_ct *const *in,
                      unsigned rows, unsigned cols);
/* Outer product u v' as rows: out must hold u->dim ciphertexts; row i =
** u_i v / d. */
int he_ivhe_outer(he_ivhe_key *k, he_ivhe_ct *const *out, const he_ivhe_ct *u, const he_ivhe_ct *v,
                  int64_t d);

/* Element-wise polynomial on fixed-point values: out = scale * p(a / scale),
** p(x) = coef[0] + coef[1] x + ... + coef[deg] x^deg; coefficients are
** rounded to 2^-40. Powers are formed as P_k = P_(k-2) P_2 / scale. */
int he_ivhe_poly(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const double *coef,
                 unsigned deg);
/* The Taylor sigmoid 1/2 + x/4 - x^3/48 + x^5/480 - 17 x^7/80640. */
int he_ivhe_sigmoid(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a);
extern const double he_ivhe_sigmoid_coef[8];

/* --- files ---------------------------------------------------------------
** A versioned binary format ("HEIVHE\r\n" magic, version, kind, body,
** BLAKE2b-256 checksum), written atomically through he_file_write. A key
** file holds the parameters and the secrets (mode 0600); the switching
** matrices are not saved: a loaded key makes fresh ones on first use. A key
** has a random 32-byte id (not derived from the secrets); a ciphertext file
** records the id of its key, and loading it under another key is refused,
** as are damaged or foreign files. Ciphertexts are written as they are (the
** scheme has no public re-randomization). */
/* Written with mode 0600. */
int he_ivhe_key_save(const he_ivhe_key *k, const char *path);
he_ivhe_key *he_ivhe_key_load(const char *path);
/* 1 when a and b are the same key (a loaded copy included). */
int he_ivhe_same_key(const he_ivhe_key *a, const he_ivhe_key *b);
/* count >= 1 ciphertexts of one dimension, and a tag the caller chooses
** (e.g. scalar, vector or matrix), given back by the loader. */
int he_ivhe_ctv_save(const he_ivhe_key *k, const he_ivhe_ct *const *c, unsigned count, uint32_t tag,
                     const char *path);
/* *out: a he_malloc'd array of *count ciphertexts (free each with
** he_ivhe_ct_free, then the array with he_free); refuses files of another
** key and dimensions above the key's max_dim. */
int he_ivhe_ctv_load(const he_ivhe_key *k, const char *path, he_ivhe_ct ***out, unsigned *count, uint32_t *tag);

#endif
