/*
** test_smpc_train.c: the products of training on shares (smpc/train.h) in
** simulated mode, under the dealer protocol (2 and 3 parties) and rep3,
** against plaintext on random inputs (fixed seeds).
**
** Bounds checked (raw = v 2^f, f = 16): he_smpc_matmul_shift(a, b, ta, tb,
** s) reveals floor(S / 2^(f + s)) or one more, S the exact sum of the raw
** products (b an int share: floor(S / 2^s) or one more), for s = 0, 1, 9,
** 20 and every combination of transposes; with b fixed point its rounds
** and bytes are those of the matrix product of the same shapes (the shift
** costs nothing). Raw
** inputs below 2^20 and k <= 37 keep |S| < 2^46: rep3's local truncation
** fails with probability below 2^-17 per element (and a simulated run
** would report it). Refused: a shift out of 0..30, an int first factor
** with a shift, Z_p with a shift, a transpose of a 1-D share.
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "he.h"
#include "smpc/smpc.h"
#include "smpc/smpc_int.h"
#include "smpc/train.h"

static he_prng g;

static he_smpc_ctx *ctx_new(he_smpc_protocol proto, int n)
{
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = n;
    c.protocol = proto;
    he_smpc_ctx *ctx = he_smpc_new(&c);
    if (!ctx) printf("# %s\n", he_errmsg());
    return ctx;
}

static int64_t rint_(int64_t bound) { return (int64_t)(he_prng_u64(&g) % (uint64_t)(2 * bound)) - bound; }

static he_share *in_int(he_smpc_ctx *ctx, int owner, const int64_t *v, int64_t r, int64_t c, int frac)
{
    int64_t shape[2] = {r, c};
    he_share *s = he_share_new(ctx, 0, NULL, 0);
    if (he_smpc_share_int(ctx, s, owner, v, 2, shape, frac) < 0) {
        printf("# share: %s\n", he_errmsg());
        he_share_free(s);
        return NULL;
    }
    return s;
}

/* element (i, j) of the r x c matrix v, or of its transpose when t */
static int64_t at(const int64_t *v, int64_t c, bool t, int64_t i, int64_t j) { return t ? v[j * c + i] : v[i * c + j]; }

/* one protocol: every transpose combination and shift, b fixed or int */
static void shifts_on(he_smpc_protocol proto, int n)
{
    he_smpc_ctx *ctx = ctx_new(proto, n);
    if (!ctx) { CHECK(0, "new"); return; }
    static const int shifts[] = {0, 1, 9, 20};
    for (int tcase = 0; tcase < 8; tcase++) {
        bool ta = tcase & 1, tb = tcase & 2, bint = tcase & 4;
        int64_t m = 1 + (int64_t)(he_prng_u64(&g) % 9), k = 1 + (int64_t)(he_prng_u64(&g) % 37),
                nn = 1 + (int64_t)(he_prng_u64(&g) % 11);
        /* a is stored (k, m) when transposed, b (nn, k) */
        int64_t *a = malloc((size_t)(m * k) * 8), *b = malloc((size_t)(k * nn) * 8), *o = malloc((size_t)(m * nn) * 8);
        for (int64_t i = 0; i < m * k; i++) a[i] = rint_((int64_t)1 << 20);
        for (int64_t i = 0; i < k * nn; i++) b[i] = bint ? rint_(1000) : rint_((int64_t)1 << 20);
        he_share *A = ta ? in_int(ctx, 0, a, k, m, 16) : in_int(ctx, 0, a, m, k, 16);
        he_share *B = tb ? in_int(ctx, 1, b, nn, k, bint ? 0 : 16) : in_int(ctx, 1, b, k, nn, bint ? 0 : 16);
        he_share *T = he_share_new(ctx, 0, NULL, 0), *At = he_share_new(ctx, 0, NULL, 0),
                 *Bt = he_share_new(ctx, 0, NULL, 0);
        if (!A || !B) { CHECK(0, "inputs"); goto next; }
        /* the plain matrix product of the same shapes, for its costs */
        he_smpc_stats plain, st;
        CHECK((ta ? he_smpc_transpose(ctx, At, A) : he_share_copy(At, A)) == 0 &&
                  (tb ? he_smpc_transpose(ctx, Bt, B) : he_share_copy(Bt, B)) == 0,
              "transposes");
        he_smpc_stats_reset(ctx);
        CHECK(he_smpc_matmul(ctx, T, At, Bt) == 0, "matmul: %s", he_errmsg());
        he_smpc_stats_get(ctx, &plain);
        for (size_t si = 0; si < sizeof shifts / sizeof shifts[0]; si++) {
            int s = shifts[si], f = (bint ? 0 : 16) + s;
            he_smpc_stats_reset(ctx);
            int rc = he_smpc_matmul_shift(ctx, T, A, B, ta, tb, s);
            he_smpc_stats_get(ctx, &st);
            CHECK(rc == 0, "shift %d (ta %d tb %d int %d): %s", s, ta, tb, bint, he_errmsg());
            if (rc < 0) continue;
            CHECK(he_share_ndim(T) == 2 && he_share_shape(T)[0] == m && he_share_shape(T)[1] == nn &&
                      he_share_frac(T) == 16,
                  "shape or scale");
            bool same = st.rounds == plain.rounds && st.dealer_requests == plain.dealer_requests;
            for (int p = 0; p <= HE_SMPC_MAXPARTIES; p++) same = same && st.bytes_sent[p] == plain.bytes_sent[p];
            /* (an int b: a shift adds the truncation a fixed-point b has anyway) */
            CHECK(same || (bint && s > 0), "shift %d costs %llu rounds, the matmul %llu", s, (unsigned long long)st.rounds,
                  (unsigned long long)plain.rounds);
            CHECK(he_smpc_reveal_int(ctx, T, HE_SMPC_ALL, o) == 0, "reveal");
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < nn; j++) {
                    i128 S = 0;
                    for (int64_t t = 0; t < k; t++) S += (i128)at(a, ta ? m : k, ta, i, t) * at(b, tb ? k : nn, tb, t, j);
                    i128 fl = S >> f, got = o[i * nn + j];
                    CHECK(got == fl || got == fl + 1, "shift %d (ta %d tb %d int %d) (%lld, %lld): %lld, not %lld or +1", s,
                          ta, tb, bint, (long long)i, (long long)j, (long long)got, (long long)fl);
                }
        }
    next:
        he_share_free(A);
        he_share_free(B);
        he_share_free(T);
        he_share_free(At);
        he_share_free(Bt);
        free(a);
        free(b);
        free(o);
    }
    he_smpc_free(ctx);
}

static void test_shift_dealer2(void) { shifts_on(HE_SMPC_DEALER, 2); }
static void test_shift_dealer3(void) { shifts_on(HE_SMPC_DEALER, 3); }
static void test_shift_rep3(void) { shifts_on(HE_SMPC_REP3, 3); }

/* aliasing: out may be one of the inputs */
static void test_shift_alias(void)
{
    he_smpc_ctx *ctx = ctx_new(HE_SMPC_REP3, 3);
    if (!ctx) { CHECK(0, "new"); return; }
    int64_t a[12], b[12], o[16];
    for (int i = 0; i < 12; i++) {
        a[i] = rint_((int64_t)1 << 20);
        b[i] = rint_((int64_t)1 << 20);
    }
    he_share *A = in_int(ctx, 0, a, 4, 3, 16), *B = in_int(ctx, 1, b, 4, 3, 16);
    /* A.T (3 x 4) @ B (4 x 3), written over B */
    CHECK(A && B && he_smpc_matmul_shift(ctx, B, A, B, true, false, 5) == 0 &&
              he_smpc_reveal_int(ctx, B, HE_SMPC_ALL, o) == 0,
          "alias: %s", he_errmsg());
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            i128 S = 0;
            for (int t = 0; t < 4; t++) S += (i128)a[t * 3 + i] * b[t * 3 + j];
            CHECK((i128)o[i * 3 + j] == S >> 21 || (i128)o[i * 3 + j] == (S >> 21) + 1, "alias (%d, %d)", i, j);
        }
    he_share_free(A);
    he_share_free(B);
    he_smpc_free(ctx);
}

static void test_shift_refused(void)
{
    he_smpc_ctx *ctx = ctx_new(HE_SMPC_DEALER, 2);
    if (!ctx) { CHECK(0, "new"); return; }
    int64_t v[6] = {1, 2, 3, 4, 5, 6};
    he_share *A = in_int(ctx, 0, v, 2, 3, 16), *I = in_int(ctx, 0, v, 2, 3, 0), *B = in_int(ctx, 1, v, 3, 2, 16),
             *T = he_share_new(ctx, 0, NULL, 0);
    CHECK(he_smpc_matmul_shift(ctx, T, A, B, false, false, 31) < 0 && strstr(he_errmsg(), "out of range"), "31: %s",
          he_errmsg());
    CHECK(he_smpc_matmul_shift(ctx, T, A, B, false, false, -1) < 0 && strstr(he_errmsg(), "out of range"), "-1");
    CHECK(he_smpc_matmul_shift(ctx, T, I, B, false, false, 3) < 0 && strstr(he_errmsg(), "fixed-point first factor"),
          "int first factor: %s", he_errmsg());
    CHECK(he_smpc_matmul_shift(ctx, T, I, B, false, false, 0) == 0, "int first factor, no shift: %s", he_errmsg());
    CHECK(he_smpc_matmul_shift(ctx, T, A, B, true, false, 1) < 0, "shapes that do not match");
    int64_t s1[1] = {6};
    CHECK(he_share_reshape(A, 1, s1) == 0 && he_smpc_matmul_shift(ctx, T, A, B, true, false, 1) < 0 &&
              strstr(he_errmsg(), "2-D"),
          "1-D transposed: %s", he_errmsg());
    he_share_free(A);
    he_share_free(I);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
    he_smpc_config c;
    he_smpc_config_init(&c);
    c.nparties = 2;
    c.ring = HE_SMPC_ZP;
    c.prime = "501337";
    c.frac = 4;
    ctx = he_smpc_new(&c);
    A = ctx ? in_int(ctx, 0, v, 2, 3, 4) : NULL;
    B = ctx ? in_int(ctx, 1, v, 3, 2, 0) : NULL;
    T = ctx ? he_share_new(ctx, 0, NULL, 0) : NULL;
    CHECK(A && B && he_smpc_matmul_shift(ctx, T, A, B, false, false, 2) < 0 && strstr(he_errmsg(), "Z_2^64 only"),
          "Z_p: %s", he_errmsg());
    he_share_free(A);
    he_share_free(B);
    he_share_free(T);
    he_smpc_free(ctx);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&g, 77);
    RUN(test_shift_dealer2);
    RUN(test_shift_dealer3);
    RUN(test_shift_rep3);
    RUN(test_shift_alias);
    RUN(test_shift_refused);
    return 0;
}
