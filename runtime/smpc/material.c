/*
** material.c: what a simulated run asked of the dealer, by kind (for the
** SMPC planner, interp/modules/smpc_plan.c). A context made with
** cfg.record_plan remembers every material request (dealer.c's mat_get);
** this sums them: the pieces, their elements and the bytes the dealer
** sends for them (the last party's dependent fields and 8 B of header per
** piece: exactly what the stats count as the dealer's bytes), and the
** requests the last party sends the dealer as a process (MSG_REQ).
*/
#include <string.h>

#include "smpc/smpc_int.h"

int he_smpc_material_get(const he_smpc_ctx *ctx, he_smpc_material *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->mode != HE_SMPC_SIM || ctx->plan_cap == 0)
        return he_error("smpc: material counts need a simulated context made with record_plan");
    size_t eb = ctx->ring == HE_SMPC_ZP ? ctx->pbytes : 8;
    for (size_t k = 0; k < ctx->plan_len; k++) {
        const mat_req *r = &ctx->plan[k];
        mat_layout L;
        if (mat_layout_of(r, &L) < 0) return -1;
        int kind = (int)r->kind - MAT_TRIPLE; /* he_smpc_material_kind */
        if (kind < 0 || kind >= HE_SMPC_MAT_NKINDS) return he_error("smpc: unknown material kind %u", r->kind);
        out->pieces[kind]++;
        /* the products (a matrix or convolution triple: its outputs), truncations or comparisons it serves */
        out->elements[kind] += r->kind == MAT_MATTRIPLE || r->kind == MAT_CONVTRIPLE ? L.f[2].len : (uint64_t)r->p[0];
        out->bytes[kind] += L.dep_total * eb + 8;
        out->request_bytes += sizeof *r + 8; /* net.c's message: the request and an 8-byte header */
    }
    return 0;
}
