/*
** test_smpc_material.c: he_smpc_material_get (runtime/smpc/material.c), the
** dealer material a simulated run asked for, by kind: after a product, a
** matrix product, a comparison and a public real product, the pieces and
** elements are those of the operations' shapes, the bytes add up to the
** dealer's bytes in the stats, and a context without record_plan (or
** under rep3) is refused.
*/
#include <string.h>

#include "check.h"
#include "he.h"
#include "smpc/smpc.h"

static he_smpc_ctx *sim(int n, bool record, he_smpc_protocol proto)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = n;
    c.record_plan = record;
    c.protocol = proto;
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) printf("# %s\n", he_errmsg());
    return ctx;
}

static he_share *zeros(he_smpc_ctx *ctx, int nd, const int64_t *shape)
{
    double v[64] = {0};
    he_share *s = he_share_new(ctx, 0, NULL, 0);
    if (s && he_smpc_share_double(ctx, s, 0, v, nd, shape) < 0) {
        he_share_free(s);
        return NULL;
    }
    return s;
}

static void test_material_by_kind(void)
{
    he_smpc_ctx *ctx = sim(3, true, HE_SMPC_DEALER);
    CHECK(ctx, "context");
    if (!ctx) return;
    int64_t a_sh[2] = {4, 5}, b_sh[2] = {5, 3};
    he_share *a = zeros(ctx, 2, a_sh), *b = zeros(ctx, 2, b_sh), *r = he_share_new(ctx, 0, NULL, 0);
    CHECK(a && b && r, "shares");
    if (!a || !b || !r) goto out;
    he_smpc_stats_reset(ctx);
    double half = 0.5;
    CHECK(he_smpc_mul(ctx, r, a, a) == 0, "mul: %s", he_errmsg());         /* triple of 20, truncation of 20 */
    CHECK(he_smpc_matmul(ctx, r, a, b) == 0, "matmul: %s", he_errmsg());   /* matrix triple 4x5 @ 5x3, truncation of 12 */
    CHECK(he_smpc_ltz(ctx, r, r) == 0, "ltz: %s", he_errmsg());            /* comparison of 12 */
    CHECK(he_smpc_mul_public(ctx, r, a, &half, 1) == 0, "mul_public: %s", he_errmsg()); /* truncation of 20 */
    he_smpc_material m;
    CHECK(he_smpc_material_get(ctx, &m) == 0, "get: %s", he_errmsg());
    CHECK(m.pieces[HE_SMPC_MAT_TRIPLE] == 1 && m.elements[HE_SMPC_MAT_TRIPLE] == 20, "triples %llu/%llu",
          (unsigned long long)m.pieces[HE_SMPC_MAT_TRIPLE], (unsigned long long)m.elements[HE_SMPC_MAT_TRIPLE]);
    CHECK(m.pieces[HE_SMPC_MAT_MATTRIPLE] == 1 && m.elements[HE_SMPC_MAT_MATTRIPLE] == 12, "matrix triples");
    CHECK(m.pieces[HE_SMPC_MAT_TRUNC] == 3 && m.elements[HE_SMPC_MAT_TRUNC] == 52, "truncations %llu/%llu",
          (unsigned long long)m.pieces[HE_SMPC_MAT_TRUNC], (unsigned long long)m.elements[HE_SMPC_MAT_TRUNC]);
    CHECK(m.pieces[HE_SMPC_MAT_CMP] == 1 && m.elements[HE_SMPC_MAT_CMP] == 12, "comparisons");
    CHECK(m.pieces[HE_SMPC_MAT_CONVTRIPLE] == 0, "no convolution");
    he_smpc_stats st;
    he_smpc_stats_get(ctx, &st);
    uint64_t total = 0, pieces = 0;
    for (int k = 0; k < HE_SMPC_MAT_NKINDS; k++) {
        total += m.bytes[k];
        pieces += m.pieces[k];
    }
    CHECK(total == st.bytes_sent[3] && total > 0, "material %llu B, dealer sent %llu B", (unsigned long long)total,
          (unsigned long long)st.bytes_sent[3]);
    /* one request message (the request and a header) per piece; tests/cli/smpc_plan.sh compares with processes */
    CHECK(pieces == st.dealer_requests && pieces && m.request_bytes % pieces == 0 && m.request_bytes / pieces > 8,
          "requests: %llu pieces, %llu B", (unsigned long long)pieces, (unsigned long long)m.request_bytes);
out:
    he_share_free(a);
    he_share_free(b);
    he_share_free(r);
    he_smpc_free(ctx);
}

static void test_material_refused(void)
{
    he_smpc_ctx *ctx = sim(2, false, HE_SMPC_DEALER);
    he_smpc_material m;
    CHECK(ctx && he_smpc_material_get(ctx, &m) < 0 && strstr(he_errmsg(), "record_plan"), "without record_plan");
    he_smpc_free(ctx);
    ctx = sim(3, false, HE_SMPC_REP3);
    CHECK(ctx && he_smpc_material_get(ctx, &m) < 0, "rep3");
    he_smpc_free(ctx);
}

int main(void)
{
    if (he_init() < 0) return 1;
    RUN(test_material_by_kind);
    RUN(test_material_refused);
    return 0;
}
