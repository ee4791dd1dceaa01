/*
** paillier.h: the Paillier additive homomorphic scheme over GMP.
**
** Keys: n = p q with p, q safe primes (p = 2p' + 1, p' prime) of bits/2
** bits each, searched with a sieve over both p' and 2p' + 1 and confirmed
** with GMP's BPSW + Miller-Rabin test; randomness from libsodium. g = n + 1,
** so encryption is c = (1 + m n) r^n mod n^2 (r uniform in Z_n^*).
** Decryption uses the CRT: m_p = L_p(c^(p-1) mod p^2) h_p mod p, likewise
** mod q, with mpz_powm_sec for the secret exponents, recombined mod n.
**
** Sizes: 2048 bits (about 112-bit security, NIST SP 800-57) and 3072 bits
** (128-bit) and above are accepted; smaller moduli (256 bits or more) only
** with HE_PAILLIER_INSECURE, which prints a warning on stderr (tests).
**
** Plaintexts are signed: m in (-n/2, n/2), stored as m mod n; decryption
** returns the centred value.
**
** Fixed point: a real x is round(x * scale) (scale settable); a product
** with a plaintext of the same scale carries scale^2.
**
** Packing: k signed slots of B bits (2 <= B <= 64) in one plaintext,
**     m = sum_i v_i 2^(B i)   (as a signed integer, then mod n),
** unpacked from the least significant slot up, each slot read as a signed
** B-bit residue and its borrow carried into the next. The bound: every
** slot's value must stay in [-2^(B-1), 2^(B-1)) after all the homomorphic
** operations (adding K ciphertexts whose slots are bounded by V needs
** K V < 2^(B-1)), and k B <= bits(n) - 2 so the packed integer stays in
** (-n/2, n/2). One ciphertext addition then adds k values at once.
**
** The 2048-bit size is accepted as the default because the project asks
** for it; it gives about 112-bit security (fine through 2030 by NIST SP
** 800-57), 3072 bits gives 128. The loaders accept any key of 256 bits or
** more; callers enforce their own minimum with he_paillier_bits() (the
** language's load_key refuses keys below 2048 bits unless the script uses
** load_key_insecure, which warns).
**
** Files: keys and ciphertexts save and load in a versioned binary format
** ("HEPAILR\0" magic, version, kind, fields, BLAKE2b-256 checksum); secret
** keys are written with mode 0600, atomically (a new file renamed over the
** old one: a failed save leaves an existing key intact); a ciphertext
** records the fingerprint of its key. Damaged, foreign, or mismatched files
** are refused with an error. Ciphertexts are re-randomized as they are
** written (circuit privacy): whoever decrypts a saved result learns its
** value, not the evaluator's plaintext operands through the randomness
** (c * 0 + k saved twice gives two unrelated files).
*/
#ifndef HE_PAILLIER_H
#define HE_PAILLIER_H

#include <gmp.h>
#include <stdint.h>

#include "he.h"

#define HE_PAILLIER_INSECURE 1u    /* allow moduli below 2048 bits (warns) */
#define HE_PAILLIER_PLAIN_PRIMES 2u /* random primes instead of safe primes */

#define HE_PAILLIER_MIN_BITS 2048
#define HE_PAILLIER_MIN_INSECURE_BITS 256
#define HE_PAILLIER_MAX_BITS 8192
#define HE_PAILLIER_FORMAT_VERSION 1

typedef struct he_paillier_pk he_paillier_pk;
typedef struct he_paillier_sk he_paillier_sk;
typedef struct he_paillier_ct {
    mpz_t c;
} he_paillier_ct;

/* --- keys ---------------------------------------------------------------- */
/* bits: size of n (even). NULL with he_error on failure. */
he_paillier_sk *he_paillier_keygen(unsigned bits, unsigned flags);
void he_paillier_sk_free(he_paillier_sk *sk);
/* The public half, owned by sk. */
const he_paillier_pk *he_paillier_sk_pk(const he_paillier_sk *sk);
he_paillier_pk *he_paillier_pk_copy(const he_paillier_pk *pk);
void he_paillier_pk_free(he_paillier_pk *pk);
unsigned he_paillier_bits(const he_paillier_pk *pk);
void he_paillier_n(const he_paillier_pk *pk, mpz_t n);
/* 1 when both keys have the same modulus. */
int he_paillier_pk_equal(const he_paillier_pk *a, const he_paillier_pk *b);

/* --- ciphertexts ------------------------------------------------------- */
he_paillier_ct *he_paillier_ct_new(void);
void he_paillier_ct_free(he_paillier_ct *c);
int he_paillier_ct_copy(he_paillier_ct *dst, const he_paillier_ct *src);

/* m signed with |m| < n/2. */
int he_paillier_encrypt(const he_paillier_pk *pk, he_paillier_ct *out, const mpz_t m);
int he_paillier_encrypt_si(const he_paillier_pk *pk, he_paillier_ct *out, int64_t m);
/* CRT decryption; m in (-n/2, n/2]. */
int he_paillier_decrypt(const he_paillier_sk *sk, const he_paillier_ct *c, mpz_t m) HE_WARN_UNUSED;
/* Fails when the plaintext does not fit in int64_t. */
int he_paillier_decrypt_si(const he_paillier_sk *sk, const he_paillier_ct *c, int64_t *m) HE_WARN_UNUSED;
/* Textbook decryption L(c^lambda mod n^2) mu mod n, without the CRT. */
int he_paillier_decrypt_plain(const he_paillier_sk *sk, const he_paillier_ct *c, mpz_t m) HE_WARN_UNUSED;

/* --- homomorphic operations (outputs may alias inputs) ------------------ */
int he_paillier_add(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                    const he_paillier_ct *b);
int he_paillier_sub(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                    const he_paillier_ct *b);
int he_paillier_neg(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a);
/* out = a + m (m plain, signed). */
int he_paillier_add_plain(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                          const mpz_t m);
/* out = a * k (k plain, signed); k = 0 gives a fresh encryption of 0. */
int he_paillier_mul_plain(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a,
                          const mpz_t k);
int he_paillier_mul_si(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a, int64_t k);
/* Fresh randomness, same plaintext. */
int he_paillier_rerandomize(const he_paillier_pk *pk, he_paillier_ct *out, const he_paillier_ct *a);

/* --- fixed point and packing -------------------------------------------- */
/* m = round(x * scale); fails when |m| >= n/2 or x is not finite. */
int he_paillier_encode_fixed(const he_paillier_pk *pk, mpz_t m, double x, uint64_t scale);
/* m = round(x * 2^e), exactly for any e (scales beyond 2^63 included);
** fails when |m| >= n/2 or x * 2^e is not finite. */
int he_paillier_encode_fixed_2exp(const he_paillier_pk *pk, mpz_t m, double x, unsigned e);
/* x = centred(m) / scale (scale a double, e.g. scale^2 after a product). */
int he_paillier_decode_fixed(const he_paillier_pk *pk, const mpz_t m, double scale, double *x);
/* How many B-bit slots one plaintext holds: (bits(n) - 2) / B. */
unsigned he_paillier_pack_capacity(const he_paillier_pk *pk, unsigned slot_bits);
/* Packs v[0..k-1], each in [-2^(B-1), 2^(B-1)), into a plaintext m. */
int he_paillier_pack(const he_paillier_pk *pk, mpz_t m, const int64_t *v, unsigned k, unsigned slot_bits);
/* Unpacks k slots of a plaintext (any representative mod n); fails when
** the value is not a packing of k such slots (a bound was exceeded). */
int he_paillier_unpack(const he_paillier_pk *pk, const mpz_t m, int64_t *v, unsigned k,
                       unsigned slot_bits) HE_WARN_UNUSED;
int he_paillier_pack_fixed(const he_paillier_pk *pk, mpz_t m, const double *x, unsigned k, unsigned slot_bits,
                           uint64_t scale);
int he_paillier_unpack_fixed(const he_paillier_pk *pk, const mpz_t m, double *x, unsigned k, unsigned slot_bits,
                             double scale) HE_WARN_UNUSED;

/* --- files --------------------------------------------------------------- */
int he_paillier_pk_save(const he_paillier_pk *pk, const char *path);
he_paillier_pk *he_paillier_pk_load(const char *path);
/* Written with mode 0600. */
int he_paillier_sk_save(const he_paillier_sk *sk, const char *path);
he_paillier_sk *he_paillier_sk_load(const char *path);
/* Writes a re-randomized copy of c (fresh r^n: the file shows nothing of
** how c was computed; c itself is unchanged). */
int he_paillier_ct_save(const he_paillier_pk *pk, const he_paillier_ct *c, const char *path);
/* Refuses a ciphertext saved under another key. */
int he_paillier_ct_load(const he_paillier_pk *pk, he_paillier_ct *c, const char *path);
/* count ciphertexts (ndim 0: one scalar, 1: a vector) with the caller's
** fixed-point scale in bits, each re-randomized as it is written. */
int he_paillier_ctv_save(const he_paillier_pk *pk, const he_paillier_ct *c, size_t count, unsigned ndim,
                         unsigned scale_bits, const char *path);
/* *out: a he_malloc'd array of *count initialized ciphertexts (the caller
** mpz_clears each and frees it); refuses files of another key. */
int he_paillier_ctv_load(const he_paillier_pk *pk, const char *path, he_paillier_ct **out, size_t *count,
                         unsigned *ndim, unsigned *scale_bits);

#endif
