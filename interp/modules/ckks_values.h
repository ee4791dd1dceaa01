/*
** ckks_values.h: what another native module (serve.c) needs of the ckks
** module's values: contexts from their parameters, key sets and
** ciphertexts to and from bytes (the formats of ckks.save_keys and
** ckks.save), batches. Errors through he_error, 0 or -1.
*/
#ifndef HE_CKKS_VALUES_H
#define HE_CKKS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckks/ckks.h"
#include "interp.h"

/* The parameters of a context made by ckks.context (or _insecure). */
typedef struct ckks_ctx_info {
    unsigned n;
    int sbits, depth;
    bool insecure;
    uint8_t fingerprint[32]; /* N and every prime (the runtime's) */
} ckks_ctx_info;

/* A new context value: as ckks.context(n, sbits, depth) (_insecure). */
int ckks_value_context(const ckks_ctx_info *p, he_value *out);
/* v's parameters; -1 when v is not a context. */
int ckks_value_context_info(he_value v, ckks_ctx_info *p);
/* The context value of a key set (a new reference); -1 when not keys. */
int ckks_value_keys_context(he_value keys, he_value *ctx);
/* The parts (HE_CKKS_PART_*) of a key set; -1 when not keys. */
int ckks_value_keys_parts(he_value keys, unsigned *parts);
/* The given parts of a key set as bytes (he_malloc'd). */
int ckks_value_keys_bytes(he_value keys, unsigned parts, uint8_t **out, size_t *len);
/* A new key set under the context value from bytes. */
int ckks_value_keys_from(he_value ctx, const uint8_t *buf, size_t len, he_value *out);
/* A batch of one ciphertext per row of the 2-D tensor X under the keys:
** with the public key, or (symmetric) with the secret key, in the
** seed-compressed form (half the bytes) until written. */
int ckks_value_encrypt_rows(he_value keys, he_value X, bool symmetric, he_value *out);
/* A ciphertext as bytes (he_malloc'd), and back under the keys value
** (refused when encrypted under other keys); `what` names it in messages. */
int ckks_value_ct_bytes(he_value ct, uint8_t **out, size_t *len);
int ckks_value_ct_from(he_value keys, const uint8_t *buf, size_t len, const char *what, he_value *out);
/* Batches: a new empty one, its length, push, get (a new reference). */
int ckks_value_batch(he_value *out);
int ckks_value_batch_len(he_value b, int64_t *n);
int ckks_value_batch_push(he_value b, he_value ct);
int ckks_value_batch_get(he_value b, int64_t i, he_value *out);

#endif
