/*
** smpc/train.h: what training on shares needs beyond smpc.h (train.c).
**
** A gradient step of SGD with a learning rate 2^-s (rate over batch size)
** folds the rate into the gradient's product: one truncation by frac + s
** bits instead of the product's truncation and then a second one for the
** rate. The transposes a network's backward pass takes (x.T @ e, e @ W.T)
** are local.
*/
#ifndef HE_SMPC_TRAIN_H
#define HE_SMPC_TRAIN_H

#include "smpc/smpc.h"

/* out = op(a) @ op(b) * 2^-shift, op(a) = a.T when ta (op(b) likewise):
** the matrix product of smpc.h (either protocol, Z_2^64) whose truncation
** shifts by `shift` more bits. a must be fixed point (frac > 0) when
** shift > 0; out has a's frac. b fixed point: one truncation by b's frac +
** shift, within 1 ulp as any truncation (floor of the exact sum over
** 2^(frac + shift), or one more); b an int share: a truncation by shift.
** 0 <= shift <= 30; the sum before truncation must stay below 2^62 raw. */
int he_smpc_matmul_shift(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b, bool ta, bool tb,
                         int shift) HE_WARN_UNUSED;

#endif
