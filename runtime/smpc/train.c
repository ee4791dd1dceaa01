/*
** train.c: the products of training on shares (train.h).
**
** he_smpc_matmul_shift reads b's raw values at b's frac + shift (a view of
** the same shares: b * 2^-shift exactly), so that he_smpc_matmul's one
** truncation, by the second factor's frac, takes the extra bits too: the
** same protocol, rounds and bytes as a matrix product, and its bound
** (floor or floor + 1 of the exact sum, under either protocol).
*/
#include "smpc/smpc_int.h"
#include "smpc/train.h"

int he_smpc_matmul_shift(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b, bool ta, bool tb,
                         int shift)
{
    if (share_same_ctx(ctx, a) < 0 || share_same_ctx(ctx, b) < 0 || share_same_ctx(ctx, out) < 0) return -1;
    if (shift < 0 || shift > 30) return he_error("smpc: matmul shift %d out of range (0 to 30)", shift);
    if (shift > 0 && ctx->ring != HE_SMPC_RING64)
        return he_error("smpc: a shifted matmul needs truncation, which is Z_2^64 only");
    if (shift > 0 && a->frac == 0)
        return he_error("smpc: a shifted matmul needs a fixed-point first factor (this one is an int share)");
    if ((ta && a->ndim != 2) || (tb && b->ndim != 2)) return he_error("smpc: matmul transposes 2-D shares only");
    he_share *at = NULL, *bt = NULL;
    int rc = -1;
    if (ta && (!(at = he_share_new(ctx, 0, NULL, 0)) || he_smpc_transpose(ctx, at, a) < 0)) goto out;
    if (tb && (!(bt = he_share_new(ctx, 0, NULL, 0)) || he_smpc_transpose(ctx, bt, b) < 0)) goto out;
    he_share view = *(tb ? bt : b); /* the same shares, not owned: never freed */
    view.frac += shift;
    rc = he_smpc_matmul(ctx, out, ta ? at : a, &view);
out:
    he_share_free(at);
    he_share_free(bt);
    return rc;
}
