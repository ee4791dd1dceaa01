/*
** pack.c: the throughput kernels of CKKS.
**
** he_ckks_linear: a whole layer of scalar weights at once, outs[j] =
** sum_i W[j][i] * cts[i]. Each weight is an integer (round(w * wscale),
** its residue per prime): no encoding, no NTT. The work is split into
** tasks of one prime, one polynomial and one block of 64 coefficients;
** a task keeps its block of every input (n * 512 bytes: 430 KB for 845
** inputs) in the cache while it computes every output's block from it, so
** each input is read from memory once per layer, not once per output. The
** sums are lazy: AVX-512 IFMA 52-bit split accumulators held in registers
** (ckks_mac52s_ifma's scheme), 64-bit sums of 32-bit products for primes
** below 2^31, or 128-bit ones in the portable code, and one reduction per
** output coefficient. Tasks write disjoint blocks with
** the same arithmetic whatever thread runs them: the results are the same
** for any thread count.
**
** Complex packing (two reals per slot, nGraph-HE2's idea): a value a + ib
** in a slot holds two independent reals. A product by a real constant
** keeps them apart; a square does not ((a + ib)^2 = a^2 - b^2 + 2iab).
** he_ckks_square_pairs squares them apart with the conjugate c' of c (one
** key switch with the conjugation key): u = c + c' holds 2a, v = c - c'
** holds 2ib, and u^2 - i v^2 = 4 (a^2 + i b^2), recorded at 4 times the
** scale. The product by i is exact and free of levels: i in every slot is
** the monomial X^(N/2), whose NTT is +I on the first N/2 points and -I on
** the others (I = psi^(N/2), a square root of -1 mod q; point j is
** psi^(2 brv(j) + 1), and brv(j) is odd exactly for j >= N/2).
*/
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ckks/ckks_internal.h"
#include "ckks/ifma_lanes.h"

#define LIN_BLOCK 64 /* coefficients per task */
#define LIN_GROUP 6  /* the most rows taken together (24 accumulators of 32 registers) */

/* --- the kernels of one task ----------------------------------------------------- */
typedef struct lin_job {
    const he_ckks_ctx *c;
    he_ckks_ct *const *outs;
    const he_ckks_ct *const *cts;
    size_t m, nnz;
    unsigned nq, blocks, bl;
    const size_t *row;     /* row j's weights: [row[j], row[j + 1]) */
    const uint8_t *group;  /* rows j..j+group[j]-1 have row j's inputs (at a group's start) */
    const uint32_t *col;   /* the input of each weight */
    const uint64_t *w;     /* residues: w[t * nnz + e] at prime t */
    const uint64_t **x;    /* per worker: n input pointers */
    size_t n;
} lin_job;

/* Portable: 128-bit accumulators, folded when the next product could
** overflow them. */
static void lin_block_portable(const lin_job *J, const uint64_t *const *x, unsigned t, unsigned p, size_t off)
{
    const ckks_mod *m = &J->c->mod[t];
    const uint64_t *w = J->w + (size_t)t * J->nnz;
    unsigned bl = J->bl;
    u128 acc[LIN_BLOCK];
    u128 qm = (u128)(m->q - 1) * (m->q - 1);
    u128 room = (~(u128)0 - m->q) / (qm ? qm : 1);
    size_t fold = room > (u128)SIZE_MAX ? SIZE_MAX : (size_t)room;
    for (size_t j = 0; j < J->m; j++) {
        memset(acc, 0, sizeof acc);
        size_t since = 0;
        for (size_t e = J->row[j]; e < J->row[j + 1]; e++) {
            if (since == fold) {
                for (unsigned k = 0; k < bl; k++) acc[k] = ckks_red128(acc[k], m);
                since = 0;
            }
            since++;
            const uint64_t *xi = x[J->col[e]] + off;
            uint64_t we = w[e];
            for (unsigned k = 0; k < bl; k++) acc[k] += (u128)xi[k] * we;
        }
        uint64_t *o = J->outs[j]->data + ((size_t)p * J->nq + t) * J->c->n + off;
        for (unsigned k = 0; k < bl; k++) o[k] = ckks_red128(acc[k], m);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The sum hi * 2^52 + lo of the lanes, reduced (64-bit when it fits). */
static void lin_reduce52(uint64_t *o, const uint64_t *lo, const uint64_t *hi, const ckks_mod *m, bool fits64)
{
    if (fits64)
        for (unsigned k = 0; k < LIN_BLOCK; k++) o[k] = ckks_red64((hi[k] << 52) + lo[k], m);
    else
        for (unsigned k = 0; k < LIN_BLOCK; k++) o[k] = ckks_red128(ckks_mac52_value(lo[k], hi[k]), m);
}

/* G rows with the same inputs (fewer than CKKS_MAC52_TERMS): each input
** vector loaded once for G rows; 16 coefficients at a time, 4 G
** accumulators in registers (the loops over g unrolled: G is a constant
** here, so that the arrays become registers). While it computes, it
** prefetches the blocks of the next group's inputs (nx of them), which
** otherwise come one by one from memory. */
IFMA static inline __attribute__((always_inline)) void lin_group_ifma(const lin_job *J, const uint64_t *const *x,
                                                                      const ckks_mod *m, const uint64_t *w,
                                                                      uint64_t *const *o, size_t j, size_t off,
                                                                      const uint32_t *nxc, size_t nx, const int G)
{
    uint64_t lo[16] __attribute__((aligned(64))), hi[16] __attribute__((aligned(64)));
    size_t r0 = J->row[j], len = J->row[j + 1] - r0;
    u128 qm = (u128)(m->q - 1) * (m->q - 1);
    bool fits64 = len == 0 || qm <= (((u128)1 << 64) - 1) / len;
    const uint64_t *wr[LIN_GROUP];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) wr[g] = w + J->row[j + g];
    const uint32_t *cl = J->col + r0;
    for (unsigned h = 0; h < LIN_BLOCK; h += 16) {
        __m512i L[LIN_GROUP][2], H[LIN_GROUP][2];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) L[g][0] = L[g][1] = H[g][0] = H[g][1] = _mm512_setzero_si512();
        /* a quarter of the next inputs' blocks per pass of h */
        size_t p0 = nx * h / LIN_BLOCK, p1 = nx * (h + 16) / LIN_BLOCK;
        for (size_t e = p0; e < p1; e++) {
            const char *b = (const char *)(x[nxc[e]] + off);
#pragma GCC unroll 8
            for (int l = 0; l < LIN_BLOCK * 8; l += 64) _mm_prefetch(b + l, _MM_HINT_T0);
        }
        for (size_t e = 0; e < len; e++) {
            const uint64_t *xi = x[cl[e]] + off + h;
            __m512i a0 = _mm512_loadu_si512(xi), a1 = _mm512_loadu_si512(xi + 8);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++) {
                __m512i W = _mm512_set1_epi64((long long)wr[g][e]);
                L[g][0] = _mm512_madd52lo_epu64(L[g][0], a0, W);
                H[g][0] = _mm512_madd52hi_epu64(H[g][0], a0, W);
                L[g][1] = _mm512_madd52lo_epu64(L[g][1], a1, W);
                H[g][1] = _mm512_madd52hi_epu64(H[g][1], a1, W);
            }
        }
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
            _mm512_store_si512(lo, L[g][0]);
            _mm512_store_si512(lo + 8, L[g][1]);
            _mm512_store_si512(hi, H[g][0]);
            _mm512_store_si512(hi + 8, H[g][1]);
            uint64_t *og = o[g] + h;
            if (fits64)
                for (unsigned k = 0; k < 16; k++) og[k] = ckks_red64((hi[k] << 52) + lo[k], m);
            else
                for (unsigned k = 0; k < 16; k++) og[k] = ckks_red128(ckks_mac52_value(lo[k], hi[k]), m);
        }
    }
}

/* Primes below 2^31 (the MNIST chain's 28-bit ones): residues and weights
** fit 32 bits, so each product is one vpmuludq, exact in 64 bits, added to
** a 64-bit sum (twice the products per cycle of the two 52-bit halves: the
** multiply and the add each run on two ports); the sums are reduced in
** registers every `fold` terms, before they could overflow. */
/* The terms a 64-bit sum takes from a reduced start (< q) before it could overflow. */
static size_t lin_fold(uint64_t q)
{
    u128 qm = (u128)(q - 1) * (q - 1);
    u128 room = qm ? (((u128)1 << 64) - q) / qm : SIZE_MAX;
    return room > SIZE_MAX ? SIZE_MAX : (size_t)room;
}

/* G rows with the same inputs, 16 coefficients at a time (as lin_group_ifma). */
IFMA static inline __attribute__((always_inline)) void lin_group_mulu(const lin_job *J, const uint64_t *const *x,
                                                                      const ckks_mod *m, const uint64_t *w,
                                                                      uint64_t *const *o, size_t j, size_t off,
                                                                      const uint32_t *nxc, size_t nx, const int G)
{
    const red64c k = red64_make(m);
    size_t r0 = J->row[j], len = J->row[j + 1] - r0, fold = lin_fold(m->q);
    const uint64_t *wr[LIN_GROUP];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) wr[g] = w + J->row[j + g];
    const uint32_t *cl = J->col + r0;
    for (unsigned h = 0; h < LIN_BLOCK; h += 16) {
        __m512i S[LIN_GROUP][2];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) S[g][0] = S[g][1] = _mm512_setzero_si512();
        size_t p0 = nx * h / LIN_BLOCK, p1 = nx * (h + 16) / LIN_BLOCK;
        for (size_t e = p0; e < p1; e++) {
            const char *b = (const char *)(x[nxc[e]] + off);
#pragma GCC unroll 8
            for (int l = 0; l < LIN_BLOCK * 8; l += 64) _mm_prefetch(b + l, _MM_HINT_T0);
        }
        for (size_t e0 = 0; e0 < len;) {
            size_t e1 = len - e0 > fold ? e0 + fold : len;
            for (size_t e = e0; e < e1; e++) {
                const uint64_t *xi = x[cl[e]] + off + h;
                __m512i a0 = _mm512_loadu_si512(xi), a1 = _mm512_loadu_si512(xi + 8);
#pragma GCC unroll 8
                for (int g = 0; g < G; g++) {
                    __m512i W = _mm512_set1_epi64((long long)wr[g][e]);
                    S[g][0] = _mm512_add_epi64(S[g][0], _mm512_mul_epu32(a0, W));
                    S[g][1] = _mm512_add_epi64(S[g][1], _mm512_mul_epu32(a1, W));
                }
            }
            if (e1 < len) /* reduced, so that the next fold terms fit */
#pragma GCC unroll 8
                for (int g = 0; g < G; g++) {
                    S[g][0] = red64_lane(S[g][0], &k);
                    S[g][1] = red64_lane(S[g][1], &k);
                }
            e0 = e1;
        }
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
            _mm512_storeu_si512(o[g] + h, red64_lane(S[g][0], &k));
            _mm512_storeu_si512(o[g] + h + 8, red64_lane(S[g][1], &k));
        }
    }
}

/* One row, 64 coefficients in 8 sums. */
IFMA static void lin_row_mulu(const lin_job *J, const uint64_t *const *x, const ckks_mod *m, const uint64_t *w,
                              uint64_t *o, size_t j, size_t off)
{
    const red64c k = red64_make(m);
    size_t r0 = J->row[j], r1 = J->row[j + 1], fold = lin_fold(m->q);
    __m512i S[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) S[v] = _mm512_setzero_si512();
    for (size_t e0 = r0; e0 < r1;) {
        size_t e1 = r1 - e0 > fold ? e0 + fold : r1;
        for (size_t e = e0; e < e1; e++) {
            const uint64_t *xi = x[J->col[e]] + off;
            __m512i W = _mm512_set1_epi64((long long)w[e]);
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) S[v] = _mm512_add_epi64(S[v], _mm512_mul_epu32(_mm512_loadu_si512(xi + 8 * v), W));
        }
        if (e1 < r1)
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) S[v] = red64_lane(S[v], &k);
        e0 = e1;
    }
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) _mm512_storeu_si512(o + 8 * v, red64_lane(S[v], &k));
}

/* IFMA: 64 coefficients in 8 vectors, their lo and hi sums in 16
** registers for a whole row (or lin_group_ifma for rows that share inputs);
** for primes below 2^31, the same with 32-bit products (lin_*_mulu). */
IFMA static void lin_block_ifma(const lin_job *J, const uint64_t *const *x, unsigned t, unsigned p, size_t off)
{
    const ckks_mod *m = &J->c->mod[t];
    const uint64_t *w = J->w + (size_t)t * J->nnz;
    uint64_t lo[LIN_BLOCK] __attribute__((aligned(64))), hi[LIN_BLOCK] __attribute__((aligned(64)));
    bool small = m->q < (1ull << 31);
    for (size_t j = 0; j < J->m; j++) {
        unsigned G = J->group[j];
        if (G > 1) {
            uint64_t *o[LIN_GROUP];
            for (unsigned g = 0; g < G; g++) o[g] = J->outs[j + g]->data + ((size_t)p * J->nq + t) * J->c->n + off;
            /* the next group's inputs, when it is one */
            size_t nj = j + G, nx = nj < J->m && J->group[nj] > 1 ? J->row[nj + 1] - J->row[nj] : 0;
            const uint32_t *nxc = nx ? J->col + J->row[nj] : NULL;
            if (small) {
                switch (G) {
                case 6: lin_group_mulu(J, x, m, w, o, j, off, nxc, nx, 6); break;
                case 5: lin_group_mulu(J, x, m, w, o, j, off, nxc, nx, 5); break;
                case 4: lin_group_mulu(J, x, m, w, o, j, off, nxc, nx, 4); break;
                case 3: lin_group_mulu(J, x, m, w, o, j, off, nxc, nx, 3); break;
                default: lin_group_mulu(J, x, m, w, o, j, off, nxc, nx, 2); break;
                }
                j += G - 1;
                continue;
            }
            switch (G) {
            case 6: lin_group_ifma(J, x, m, w, o, j, off, nxc, nx, 6); break;
            case 5: lin_group_ifma(J, x, m, w, o, j, off, nxc, nx, 5); break;
            case 4: lin_group_ifma(J, x, m, w, o, j, off, nxc, nx, 4); break;
            case 3: lin_group_ifma(J, x, m, w, o, j, off, nxc, nx, 3); break;
            default: lin_group_ifma(J, x, m, w, o, j, off, nxc, nx, 2); break;
            }
            j += G - 1;
            continue;
        }
        if (small) {
            lin_row_mulu(J, x, m, w, J->outs[j]->data + ((size_t)p * J->nq + t) * J->c->n + off, j, off);
            continue;
        }
        __m512i L[8], H[8];
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) L[v] = H[v] = _mm512_setzero_si512();
        size_t since = 0, r0 = J->row[j], r1 = J->row[j + 1];
        /* the exact sum fits 64 bits: a cheaper reduction */
        u128 qm = (u128)(m->q - 1) * (m->q - 1);
        bool fits64 = r1 == r0 || qm <= (((u128)1 << 64) - 1) / (r1 - r0);
        for (size_t e = r0; e < r1; e++) {
            if (since == CKKS_MAC52_TERMS - 1) { /* lo would overflow: fold */
#pragma GCC unroll 8
                for (int v = 0; v < 8; v++) {
                    _mm512_store_si512(lo + 8 * v, L[v]);
                    _mm512_store_si512(hi + 8 * v, H[v]);
                }
                lin_reduce52(lo, lo, hi, m, false);
#pragma GCC unroll 8
                for (int v = 0; v < 8; v++) {
                    L[v] = _mm512_load_si512(lo + 8 * v);
                    H[v] = _mm512_setzero_si512();
                }
                since = 0;
            }
            since++;
            const uint64_t *xi = x[J->col[e]] + off;
            __m512i W = _mm512_set1_epi64((long long)w[e]);
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) {
                __m512i a = _mm512_loadu_si512(xi + 8 * v);
                L[v] = _mm512_madd52lo_epu64(L[v], a, W);
                H[v] = _mm512_madd52hi_epu64(H[v], a, W);
            }
        }
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) {
            _mm512_store_si512(lo + 8 * v, L[v]);
            _mm512_store_si512(hi + 8 * v, H[v]);
        }
        uint64_t *o = J->outs[j]->data + ((size_t)p * J->nq + t) * J->c->n + off;
        lin_reduce52(o, lo, hi, m, fits64 && r1 - r0 < CKKS_MAC52_TERMS);
    }
}
#define HAVE_LIN_IFMA 1
#endif

/* Task = block * (2 nq) + p * nq + t: consecutive tasks take other primes
** of one block. */
static void lin_task(void *arg, unsigned task, unsigned worker)
{
    const lin_job *J = arg;
    unsigned blk = task / (2 * J->nq), pt = task % (2 * J->nq), p = pt / J->nq, t = pt % J->nq;
    size_t off = (size_t)blk * J->bl;
    const uint64_t **x = J->x + (size_t)worker * J->n;
    for (size_t i = 0; i < J->n; i++) x[i] = J->cts[i]->data + ((size_t)p * J->nq + t) * J->c->n;
#ifdef HAVE_LIN_IFMA
    if (J->c->mod[t].ifma && J->bl == LIN_BLOCK) {
        lin_block_ifma(J, x, t, p, off);
        return;
    }
#endif
    lin_block_portable(J, x, t, p, off);
}

int he_ckks_linear(const he_ckks_ctx *c, he_ckks_ct *const *outs, size_t m, const he_ckks_ct *const *cts,
                   size_t n, const double *W, double wscale)
{
    if (he_poll_interrupt() < 0) return -1; /* a batch stops between operations */
    if (m == 0 || n == 0) return he_error("ckks: a linear layer with no %s", m == 0 ? "outputs" : "inputs");
    if (n > UINT32_MAX) return he_error("ckks: a linear layer of too many inputs");
    for (size_t i = 0; i < n; i++) {
        if (ckks_check_ct(c, cts[i]) < 0) return -1;
        if (cts[i]->size != 2) return he_error("ckks: a linear layer needs size-2 ciphertexts (input %zu)", i);
        if (cts[i]->nq != cts[0]->nq)
            return he_error("ckks: linear layer inputs at different levels (%d and %d)", (int)cts[0]->nq - 1,
                            (int)cts[i]->nq - 1);
        if (!ckks_same_scale(cts[i]->scale, cts[0]->scale))
            return he_error("ckks: linear layer inputs with different scales");
    }
    for (size_t j = 0; j < m; j++) {
        if (!outs[j] || outs[j]->ctx != c) return he_error("ckks: ciphertext belongs to another context");
        for (size_t i = 0; i < n; i++)
            if (outs[j] == cts[i]) return he_error("ckks: linear layer output %zu aliases input %zu", j, i);
        for (size_t k = 0; k < j; k++)
            if (outs[k] == outs[j]) return he_error("ckks: linear layer outputs %zu and %zu are one", k, j);
    }
    unsigned nq = cts[0]->nq, N = c->n;
    if (wscale == 0) wscale = (double)c->mod[nq - 1].q;
    if (!(wscale > 0) || !isfinite(wscale)) return he_error("ckks: bad weight scale");
    size_t nnz = 0, mn;
    if (he_mul_size(m, n, &mn) < 0) return -1;
    for (size_t e = 0; e < mn; e++) nnz += W[e] != 0;
    size_t wlen, xlen, nth = he_ckks_threads();
    if (he_mul_size(nnz ? nnz : 1, nq, &wlen) < 0 || he_mul_size(n, CKKS_MAX_THREADS, &xlen) < 0) return -1;
    size_t *row = he_malloc((m + 1) * sizeof *row);
    uint32_t *col = he_malloc((nnz ? nnz : 1) * sizeof *col);
    uint64_t *w = he_malloc(wlen * sizeof *w);
    const uint64_t **x = he_malloc(xlen * sizeof *x);
    int rc = row && col && w && x ? 0 : -1;
    size_t e = 0;
    uint64_t r[HE_CKKS_MAX_PRIMES];
    for (size_t j = 0; rc == 0 && j < m; j++) {
        row[j] = e;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            double v = W[j * n + i];
            if (v == 0) continue;
            double q = round(v * wscale);
            if (!isfinite(q) || fabs(q) >= 9.2e18 || ckks_real_to_rns(c, nq, q, r, 1) < 0) {
                rc = he_error("ckks: weight [%zu, %zu] (%g) does not fit at scale %g", j, i, v, wscale);
                break;
            }
            col[e] = (uint32_t)i;
            for (unsigned t = 0; t < nq; t++) w[(size_t)t * nnz + e] = r[t];
            e++;
        }
    }
    if (rc == 0) row[m] = e;
    /* groups of up to LIN_GROUP consecutive rows with the same inputs */
    uint8_t *group = rc == 0 ? he_malloc(m) : NULL;
    if (rc == 0 && !group) rc = -1;
    for (size_t j = 0; rc == 0 && j < m;) {
        size_t len = row[j + 1] - row[j], g = 1;
        while (len > 0 && len < CKKS_MAC52_TERMS && g < LIN_GROUP && j + g < m && row[j + g + 1] - row[j + g] == len &&
               memcmp(col + row[j], col + row[j + g], len * sizeof *col) == 0)
            g++;
        group[j] = (uint8_t)g;
        j += g;
    }
    double scale = cts[0]->scale * wscale;
    for (size_t j = 0; rc == 0 && j < m; j++) rc = ckks_ct_reserve(outs[j], 2, nq);
    if (rc == 0) {
        for (size_t j = 0; j < m; j++) {
            outs[j]->size = 2;
            outs[j]->nq = nq;
        }
        unsigned bl = N < LIN_BLOCK ? N : LIN_BLOCK;
        lin_job J = {.c = c, .outs = outs, .cts = cts, .m = m, .nnz = nnz, .nq = nq, .blocks = N / bl, .bl = bl,
                     .row = row, .group = group, .col = col, .w = w, .x = x, .n = n};
        ckks_parallel(J.blocks * 2 * nq, (unsigned)nth, lin_task, &J);
        for (size_t j = 0; j < m; j++) outs[j]->scale = scale;
    }
    he_free(row);
    he_free(group);
    he_free(col);
    he_free(w);
    he_free(x);
    return rc;
}

/* --- complex packing ---------------------------------------------------------------- */
/* I = psi^(N/2) mod q_t: the value of X^(N/2) at the first N/2 NTT points. */
static uint64_t root_i(const he_ckks_ctx *c, unsigned t)
{
    return ckks_powmod(c->mod[t].psi, c->n / 2, c->mod[t].q);
}

/* o = a + f * b, f = I on the first N/2 points and -I on the others
** (sign: +1 or -1 for a - i b). */
static void add_times_i(const he_ckks_ctx *c, unsigned t, uint64_t *o, const uint64_t *a, const uint64_t *b,
                        int sign)
{
    const ckks_mod *m = &c->mod[t];
    uint64_t q = m->q, ri = root_i(c, t);
    if (sign < 0) ri = q - ri;
    uint64_t nri = q - ri, rip = ckks_shoup(ri, q), nrip = ckks_shoup(nri, q);
    unsigned h = c->n / 2;
    if (m->ifma) { /* the same values, eight at a time */
        ckks_addmul_const_ifma(o, a, b, ri, ckks_shoup52(ri, q), m, h);
        ckks_addmul_const_ifma(o + h, a ? a + h : NULL, b + h, nri, ckks_shoup52(nri, q), m, h);
        return;
    }
    for (unsigned j = 0; j < h; j++) o[j] = ckks_addmod(a ? a[j] : 0, ckks_mulshoup(b[j], ri, rip, q), q);
    for (unsigned j = h; j < c->n; j++) o[j] = ckks_addmod(a ? a[j] : 0, ckks_mulshoup(b[j], nri, nrip, q), q);
}

int he_ckks_mul_i(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a)
{
    if (ckks_check_ct(c, a) < 0) return -1;
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    for (unsigned p = 0; p < out->size; p++)
        for (unsigned t = 0; t < out->nq; t++) {
            uint64_t *o = out->data + ((size_t)p * out->nq + t) * c->n;
            add_times_i(c, t, o, NULL, o, 1);
        }
    return 0;
}

int he_ckks_add_const(const he_ckks_ctx *c, he_ckks_ct *out, const he_ckks_ct *a, double complex v)
{
    if (ckks_check_ct(c, a) < 0) return -1;
    if (!isfinite(creal(v)) || !isfinite(cimag(v))) return he_error("ckks: cannot add a non-finite constant");
    uint64_t re[HE_CKKS_MAX_PRIMES], im[HE_CKKS_MAX_PRIMES];
    if (ckks_real_to_rns(c, a->nq, round(creal(v) * a->scale), re, 1) < 0 ||
        ckks_real_to_rns(c, a->nq, round(cimag(v) * a->scale), im, 1) < 0)
        return -1;
    if (he_ckks_ct_copy(out, a) < 0) return -1;
    /* re + im X^(N/2): re + I im on the first half of the points, re - I im on the other */
    unsigned h = c->n / 2;
    for (unsigned t = 0; t < out->nq; t++) {
        const ckks_mod *m = &c->mod[t];
        uint64_t q = m->q, x = ckks_mulmod(im[t], root_i(c, t), m);
        uint64_t lo = ckks_addmod(re[t], x, q), hi = ckks_submod(re[t], x, q);
        uint64_t *o = out->data + (size_t)t * c->n;
        for (unsigned j = 0; j < h; j++) o[j] = ckks_addmod(o[j], lo, q);
        for (unsigned j = h; j < c->n; j++) o[j] = ckks_addmod(o[j], hi, q);
    }
    return 0;
}

int he_ckks_square_pairs(const he_ckks_keys *k, he_ckks_ct *out, const he_ckks_ct *a)
{
    const he_ckks_ctx *c = he_ckks_keys_ctx(k);
    if (ckks_check_ct(c, a) < 0) return -1;
    if (a->size != 2) return he_error("ckks: the square of pairs needs a relinearized (size-2) ciphertext");
    if (out->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    he_ckks_ct *u = he_ckks_ct_new(c), *v = he_ckks_ct_new(c);
    int rc = u && v ? he_ckks_conjugate(k, v, a) : -1;
    if (rc == 0) rc = he_ckks_add(c, u, a, v);      /* 2a */
    if (rc == 0) rc = he_ckks_sub(c, v, a, v);      /* 2ib */
    if (rc == 0) rc = he_ckks_square(c, u, u);      /* 4a^2 */
    if (rc == 0) rc = he_ckks_square(c, v, v);      /* -4b^2 */
    double s = a->scale;
    if (rc == 0) rc = ckks_ct_reserve(out, 3, u->nq);
    if (rc == 0) {
        unsigned nq = u->nq;
        for (unsigned p = 0; p < 3; p++)
            for (unsigned t = 0; t < nq; t++) {
                size_t o = ((size_t)p * nq + t) * c->n;
                add_times_i(c, t, out->data + o, u->data + o, v->data + o, -1); /* 4a^2 - i (-4b^2) */
            }
        out->size = 3;
        out->nq = nq;
        out->scale = 4 * s * s;
    }
    he_ckks_ct_free(u);
    he_ckks_ct_free(v);
    return rc;
}

/* --- many ciphertexts at once -------------------------------------------------------- */
/* One ciphertext per task: each runs whole on one thread (the kernels it
** calls run inline there), so a slow thread delays one ciphertext, not every
** step of every one; the arithmetic is the same, and so are the results. */
typedef enum { MANY_SQUARE, MANY_SETTLE, MANY_RESCALE } many_op;
typedef struct many_job {
    const he_ckks_keys *k;
    const he_ckks_ctx *c;
    he_ckks_ct *const *outs;
    const he_ckks_ct *const *ins;
    many_op op;
    atomic_flag failed;
    char msg[256];
} many_job;

static void many_task(void *arg, unsigned i, unsigned worker)
{
    (void)worker;
    many_job *J = arg;
    const he_ckks_ctx *c = J->c;
    int rc = 0;
    if (J->op == MANY_SQUARE) rc = he_ckks_square_pairs(J->k, J->outs[i], J->ins[i]);
    else if (J->op == MANY_RESCALE) rc = he_ckks_rescale(c, J->outs[i], J->outs[i]);
    else if (he_ckks_ct_size(J->outs[i]) == 3)
        rc = he_ckks_relin_rescale(J->k, J->outs[i], J->outs[i]);
    if (rc < 0 && !atomic_flag_test_and_set(&J->failed)) /* the message is the thread's own */
        snprintf(J->msg, sizeof J->msg, "%s", he_errmsg());
}

static int run_many(many_job *J, size_t n)
{
    if (n > UINT32_MAX) return he_error("ckks: too many ciphertexts at once");
    atomic_flag_clear(&J->failed);
    J->msg[0] = 0;
    ckks_parallel((unsigned)n, CKKS_MAX_THREADS, many_task, J);
    if (atomic_flag_test_and_set(&J->failed)) return he_error("%s", J->msg);
    return 0;
}

int he_ckks_square_pairs_many(const he_ckks_keys *k, he_ckks_ct *const *outs, const he_ckks_ct *const *ins,
                              size_t n)
{
    if (he_poll_interrupt() < 0) return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (outs[i] == ins[j] && i != j) return he_error("ckks: output %zu overwrites input %zu", i, j);
    many_job J = {.k = k, .c = he_ckks_keys_ctx(k), .outs = outs, .ins = ins, .op = MANY_SQUARE};
    return run_many(&J, n);
}

int he_ckks_settle_many(const he_ckks_keys *k, he_ckks_ct *const *cts, size_t n)
{
    if (he_poll_interrupt() < 0) return -1;
    many_job J = {.k = k, .c = he_ckks_keys_ctx(k), .outs = cts, .ins = (const he_ckks_ct *const *)cts,
                  .op = MANY_SETTLE};
    return run_many(&J, n);
}

int he_ckks_rescale_many(const he_ckks_ctx *c, he_ckks_ct *const *cts, size_t n)
{
    if (he_poll_interrupt() < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (ckks_check_ct(c, cts[i]) < 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (cts[i] == cts[j]) return he_error("ckks: ciphertext %zu is also %zu of the batch", i, j);
    }
    many_job J = {.c = c, .outs = cts, .ins = (const he_ckks_ct *const *)cts, .op = MANY_RESCALE};
    return run_many(&J, n);
}
