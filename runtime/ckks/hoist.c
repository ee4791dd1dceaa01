/*
** hoist.c: hoisted rotations and diagonal matrix-vector products.
**
** Hoisting (Halevi and Shoup, "Faster homomorphic linear transformations in
** HElib", CRYPTO 2018, section 5; OpenFHE's EvalFastRotation, Lattigo's
** hoisted automorphisms): a rotation key-switches c1 after the automorphism,
** and the costly part of key switching is the decomposition of c1 (to the
** coefficient domain, every digit lifted to every prime and back to NTT
** form: nq INTTs and nq^2 NTTs). The automorphism is a permutation in the
** NTT domain that commutes with the lift up to the representative: the lift
** of -x mod q_j is q_j - x, not -x mod q_t, but both are congruent to the
** digit mod q_j and below q_j in magnitude, which is all the key-switching
** key needs. So the digits are made once and permuted per rotation; each
** rotation then costs its key products and the division by P (2 nq + 2
** NTTs) instead of nq^2 + 3 nq + 2. The results are not bit-identical to
** he_ckks_rotate's, but carry the same key-switching noise bound.
**
** Matrix-vector products (Halevi and Shoup, "Algorithms in HElib", CRYPTO
** 2014: the diagonal method; baby-step giant-step as in their 2018 paper):
** a rows x cols matrix W, dout and din the powers of two at least rows and
** cols, d = max(din, dout) <= slots. The input holds x in slots [0, cols)
** repeated every din slots (zeros in [cols, din)); the output holds y = W x
** in [0, rows) repeated every dout slots. With k = min(din, dout) diagonals
**   tall (dout >= din): diag_i[j] = W[j][(j + i) mod din], j < dout,
**                       y = sum_i diag_i * rot(x, i);
**   wide (dout < din):  diag_i[j] = W[j mod dout][(j + i) mod din], j < din,
**                       z = sum_i diag_i * rot(x, i), then
**                       y = z + rot(z, dout) + ... (log2(din/dout) steps).
** Baby-step giant-step with B = 2^ceil(log2(k)/2) and G = ceil(k/B):
**   sum_i diag_i * rot(x, i) = sum_g rot(sum_b rot(diag_gB+b, -gB) * rot(x, b), gB),
** the B - 1 baby rotations hoisted, G - 1 giant ones: about 2 sqrt(k)
** rotations instead of k, and Galois keys for these steps only
** (he_ckks_matvec_steps). The diagonals are kept as doubles (k * d) and
** encoded per product at the input's level (on the worker pool), by
** default with the scale of its last prime, so one rescale brings the scale
** back.
*/
#include <math.h>
#include <string.h>

#include "ckks/ckks_internal.h"

/* --- hoisted rotations ----------------------------------------------------------- */

typedef struct addperm_job {
    const he_ckks_ctx *c;
    const he_ckks_ct *a;
    const uint32_t *perm;
    uint64_t *d0;
} addperm_job;

static void addperm_task(void *arg, unsigned i, unsigned w)
{
    (void)w;
    addperm_job *J = arg;
    unsigned n = J->c->n;
    const uint64_t *s = J->a->data + (size_t)i * n; /* polynomial 0 at prime i */
    uint64_t q = J->c->mod[i].q, *di = J->d0 + (size_t)i * n;
    for (unsigned j = 0; j < n; j++) di[j] = ckks_addmod(di[j], s[J->perm[j]], q);
}

int he_ckks_rotate_hoisted(const he_ckks_keys *k, he_ckks_ct *const *outs, const he_ckks_ct *a,
                           const int *steps, size_t nsteps)
{
    if (he_poll_interrupt() < 0) return -1;
    const he_ckks_ctx *c = k->ctx;
    if (a->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (a->size != 2) return he_error("ckks: rotation needs a relinearized (size-2) ciphertext");
    for (size_t i = 0; i < nsteps; i++) {
        if (outs[i] == a) return he_error("ckks: hoisted rotation %zu overwrites its input", i);
        if (outs[i]->ctx != c) return he_error("ckks: ciphertext belongs to another context");
        long s = steps[i] % (long)c->slots;
        if (s != 0 && !ckks_rotation_key(k, steps[i]))
            return he_error("ckks: no Galois key for rotation by %d (hoisted rotations do not compose keys)",
                            steps[i]);
    }
    unsigned n = c->n, nq = a->nq, width = he_ckks_threads();
    size_t nn = n, dig_w = (size_t)nq * (nq + 1) * nn, p_w = ((size_t)nq + 1) * nn;
    size_t words = dig_w + (size_t)nq * nn + 2 * p_w + ckks_ks_work_words(n, width);
    uint64_t *buf = he_malloc(words * sizeof *buf);
    if (!buf) return -1;
    uint64_t *dig = buf, *coef = dig + dig_w, *p0 = coef + (size_t)nq * nn, *p1 = p0 + p_w,
             *work = p1 + p_w;
    ckks_ks_decompose(c, a->data + (size_t)nq * nn, nq, dig, coef, width);
    int rc = 0;
    for (size_t i = 0; i < nsteps && rc == 0; i++) {
        long s = steps[i] % (long)c->slots;
        if (s == 0) {
            rc = he_ckks_ct_copy(outs[i], a);
            continue;
        }
        const ckks_galkey *gk = ckks_rotation_key(k, steps[i]);
        ckks_ks_inner(c, gk->ksk, dig, nq, gk->perm, p0, p1, work, width);
        ckks_ks_moddown(c, nq, p0, p1, p0 + (size_t)nq * nn, p1 + (size_t)nq * nn, work, width);
        addperm_job J = {.c = c, .a = a, .perm = gk->perm, .d0 = p0};
        ckks_parallel(nq, width, addperm_task, &J);
        double scale = a->scale;
        rc = he_ckks_ct_copy(outs[i], a); /* the right size and level */
        if (rc == 0) {
            memcpy(outs[i]->data, p0, (size_t)nq * nn * sizeof *p0);
            memcpy(outs[i]->data + (size_t)nq * nn, p1, (size_t)nq * nn * sizeof *p1);
            outs[i]->scale = scale;
            outs[i]->seeded = false;
        }
    }
    he_free(buf);
    return rc;
}

/* --- matrix-vector products ---------------------------------------------------------- */

struct he_ckks_matvec {
    const he_ckks_ctx *ctx; /* NULL: a shape for planning (he_ckks_matvec_shape) */
    unsigned slots;
    size_t rows, cols;
    unsigned din, dout, d, nd, B, G;
    double *diag;   /* nnz * d: the nonzero diagonals, gB + b rotated by -gB */
    bool *nz;       /* nd: the diagonal has a nonzero entry */
    unsigned *at;   /* nd: where a nonzero diagonal is in diag (and coef) */
    unsigned nnz;
    double *bias;   /* dout, or NULL */
    /* the diagonals' integer coefficients (N per diagonal, NULL where the
    ** diagonal is zero) at the scale cscale: made by the first product and
    ** reused while the scale is the same (see enc_task) */
    int64_t *coef;
    double cscale;
    bool coef_ok; /* coef holds the diagonals at cscale */
};

static unsigned pow2_at_least(size_t v)
{
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
}

static he_ckks_matvec *matvec_new(const he_ckks_ctx *c, unsigned slots, const double *W, size_t rows, size_t cols,
                                  const double *bias)
{
    if (rows == 0 || cols == 0 || rows > slots || cols > slots) {
        he_error("ckks: a %zu x %zu matrix does not fit %u slots", rows, cols, slots);
        return NULL;
    }
    for (size_t i = 0; i < rows * cols; i++)
        if (!isfinite(W[i])) {
            he_error("ckks: matrix entry %zu is not finite", i);
            return NULL;
        }
    he_ckks_matvec *mv = he_calloc(1, sizeof *mv);
    if (!mv) return NULL;
    mv->ctx = c;
    mv->slots = slots;
    mv->rows = rows;
    mv->cols = cols;
    mv->din = pow2_at_least(cols);
    mv->dout = pow2_at_least(rows);
    bool tall = mv->dout >= mv->din;
    mv->d = tall ? mv->dout : mv->din;
    mv->nd = tall ? mv->din : mv->dout;
    unsigned lg = 0;
    while ((1u << lg) < mv->nd) lg++;
    mv->B = 1u << ((lg + 1) / 2);
    mv->G = (mv->nd + mv->B - 1) / mv->B;
    size_t d = mv->d;
    mv->diag = he_calloc((size_t)mv->nd * d, sizeof *mv->diag);
    mv->nz = he_calloc(mv->nd, sizeof *mv->nz);
    mv->at = he_calloc(mv->nd, sizeof *mv->at);
    if (bias) mv->bias = he_calloc(mv->dout, sizeof *mv->bias);
    if (!mv->diag || !mv->nz || !mv->at || (bias && !mv->bias)) {
        he_ckks_matvec_free(mv);
        return NULL;
    }
    for (unsigned i = 0; i < mv->nd; i++) {
        unsigned g = i / mv->B;
        size_t rot = (size_t)g * mv->B;
        double *u = mv->diag + (size_t)i * d;
        for (size_t j = 0; j < d; j++) {
            size_t r = tall ? j : j % mv->dout, col = (j + i) % mv->din;
            double v = r < rows && col < cols ? W[r * cols + col] : 0.0;
            u[(j + rot) % d] = v; /* u[s] = diag_i[(s - gB) mod d] */
            if (v != 0) mv->nz[i] = true;
        }
    }
    /* keep the nonzero diagonals only */
    for (unsigned i = 0; i < mv->nd; i++)
        if (mv->nz[i]) {
            if (mv->nnz != i) memcpy(mv->diag + (size_t)mv->nnz * d, mv->diag + (size_t)i * d, d * sizeof *mv->diag);
            mv->at[i] = mv->nnz++;
        }
    if (bias)
        for (size_t j = 0; j < mv->dout; j++) {
            if (j < rows && !isfinite(bias[j])) {
                he_error("ckks: bias entry %zu is not finite", j);
                he_ckks_matvec_free(mv);
                return NULL;
            }
            mv->bias[j] = j < rows ? bias[j] : 0.0;
        }
    return mv;
}

he_ckks_matvec *he_ckks_matvec_new(const he_ckks_ctx *c, const double *W, size_t rows, size_t cols,
                                   const double *bias)
{
    if (!c || !W) he_misuse("he_ckks_matvec_new: NULL argument");
    return matvec_new(c, c->slots, W, rows, cols, bias);
}

he_ckks_matvec *he_ckks_matvec_shape(unsigned slots, const double *W, size_t rows, size_t cols)
{
    if (!W) he_misuse("he_ckks_matvec_shape: NULL argument");
    return matvec_new(NULL, slots, W, rows, cols, NULL);
}

static he_ckks_matvec *diagonals_new(const he_ckks_ctx *c, unsigned slots, unsigned period, const int *offsets,
                                     const double *D, size_t k, const double *bias)
{
    if ((!offsets && k) || (!D && k)) he_misuse("he_ckks_matvec_new_diagonals: NULL argument");
    if (period < 1 || period > slots || (period & (period - 1)) != 0 || k == 0 || k > period) {
        he_error("ckks: %zu diagonals of period %u (a power of two up to %u slots, 1 to period diagonals)", k,
                 period, slots);
        return NULL;
    }
    for (size_t i = 0; i < k * period; i++)
        if (!isfinite(D[i])) {
            he_error("ckks: diagonal entry %zu is not finite", i);
            return NULL;
        }
    he_ckks_matvec *mv = he_calloc(1, sizeof *mv);
    if (!mv) return NULL;
    mv->ctx = c;
    mv->slots = slots;
    mv->rows = mv->cols = period;
    mv->din = mv->dout = mv->d = mv->nd = period;
    unsigned lg = 0;
    while ((1u << lg) < period) lg++;
    mv->B = 1u << ((lg + 1) / 2);
    mv->G = (period + mv->B - 1) / mv->B;
    mv->nz = he_calloc(period, sizeof *mv->nz);
    mv->at = he_calloc(period, sizeof *mv->at);
    mv->diag = he_calloc(k * period, sizeof *mv->diag);
    if (bias) mv->bias = he_calloc(period, sizeof *mv->bias);
    if (!mv->nz || !mv->at || !mv->diag || (bias && !mv->bias)) {
        he_ckks_matvec_free(mv);
        return NULL;
    }
    for (size_t r = 0; r < k; r++) {
        long o = offsets[r] % (long)period;
        unsigned i = (unsigned)(o < 0 ? o + period : o);
        if (!mv->nz[i]) {
            mv->nz[i] = true;
            mv->at[i] = mv->nnz++;
        }
        size_t rot = (size_t)(i / mv->B) * mv->B;
        double *u = mv->diag + (size_t)mv->at[i] * period;
        for (size_t j = 0; j < period; j++) u[(j + rot) % period] += D[r * period + j];
    }
    if (bias)
        for (size_t j = 0; j < period; j++) {
            if (!isfinite(bias[j])) {
                he_error("ckks: bias entry %zu is not finite", j);
                he_ckks_matvec_free(mv);
                return NULL;
            }
            mv->bias[j] = bias[j];
        }
    return mv;
}

he_ckks_matvec *he_ckks_matvec_new_diagonals(const he_ckks_ctx *c, unsigned period, const int *offsets,
                                             const double *D, size_t k, const double *bias)
{
    if (!c) he_misuse("he_ckks_matvec_new_diagonals: NULL argument");
    return diagonals_new(c, c->slots, period, offsets, D, k, bias);
}

he_ckks_matvec *he_ckks_matvec_shape_diagonals(unsigned slots, unsigned period, const int *offsets, const double *D,
                                               size_t k)
{
    return diagonals_new(NULL, slots, period, offsets, D, k, NULL);
}

void he_ckks_matvec_free(he_ckks_matvec *mv)
{
    if (!mv) return;
    he_free(mv->diag);
    he_free(mv->nz);
    he_free(mv->at);
    he_free(mv->bias);
    he_free(mv->coef);
    he_free(mv);
}

unsigned he_ckks_matvec_in_period(const he_ckks_matvec *mv) { return mv->din; }
unsigned he_ckks_matvec_out_period(const he_ckks_matvec *mv) { return mv->dout; }

static bool baby_used(const he_ckks_matvec *mv, unsigned b)
{
    for (unsigned g = 0; g < mv->G; g++)
        if (g * mv->B + b < mv->nd && mv->nz[g * mv->B + b]) return true;
    return false;
}

static bool giant_used(const he_ckks_matvec *mv, unsigned g)
{
    for (unsigned b = 0; b < mv->B; b++)
        if (g * mv->B + b < mv->nd && mv->nz[g * mv->B + b]) return true;
    return false;
}

size_t he_ckks_matvec_steps(const he_ckks_matvec *mv, bool fresh, int *steps, size_t max)
{
    size_t n = 0;
    unsigned slots = mv->slots;
#define PUT(s) do { if ((s) % slots != 0) { if (n < max) steps[n] = (int)(s); n++; } } while (0)
    for (unsigned b = 1; b < mv->B; b++)
        if (baby_used(mv, b)) PUT(b);
    for (unsigned g = 1; g < mv->G; g++)
        if (giant_used(mv, g)) PUT(g * mv->B);
    for (unsigned s = mv->dout; s < mv->din; s <<= 1) PUT(s);
    if (fresh)
        for (unsigned s = mv->din; s < slots; s <<= 1) PUT(slots - s); /* -s */
#undef PUT
    return n;
}

typedef struct enc_job {
    const he_ckks_matvec *mv;
    he_ckks_pt **pts;
    const unsigned *idx;  /* diagonal of each plaintext */
    double *vals;         /* slots per worker */
    he_ckks_pt **tmp;     /* a level-0 plaintext per worker */
    int level;
    double scale;
    bool cached;          /* mv->coef holds the coefficients at scale */
    int failed;
} enc_job;

/* Plaintext t of a giant step: diagonal idx[t] at the level and scale.
** From the cached integer coefficients when there (residues and an NTT per
** prime); otherwise encoded, and its coefficients kept for the next time
** (exact: encoded at level 0 and centered, which needs them below q_0 / 2,
** checked before the cache is used). */
static void enc_task(void *arg, unsigned t, unsigned w)
{
    enc_job *J = arg;
    he_ckks_matvec *mv = (he_ckks_matvec *)J->mv;
    const he_ckks_ctx *c = mv->ctx;
    unsigned slots = c->slots, d = mv->d, n = c->n, nq = (unsigned)J->level + 1;
    int64_t *coef = mv->coef ? mv->coef + (size_t)mv->at[J->idx[t]] * n : NULL;
    he_ckks_pt *pt = J->pts[t];
    if (!J->cached) {
        double *v = J->vals + (size_t)w * slots;
        const double *u = mv->diag + (size_t)mv->at[J->idx[t]] * d;
        for (unsigned s = 0; s < slots; s++) v[s] = u[s % d];
        if (!coef) {
            if (he_ckks_encode(c, pt, v, slots, J->level, J->scale) < 0) J->failed = 1;
            return;
        }
        he_ckks_pt *p0 = J->tmp[w];
        if (he_ckks_encode(c, p0, v, slots, 0, J->scale) < 0) {
            J->failed = 1;
            return;
        }
        uint64_t q0 = c->mod[0].q;
        ckks_intt(p0->data, &c->mod[0], n);
        for (unsigned i = 0; i < n; i++) {
            uint64_t r = p0->data[i];
            coef[i] = r > q0 / 2 ? (int64_t)r - (int64_t)q0 : (int64_t)r;
        }
    }
    size_t need = (size_t)nq * n;
    if (pt->cap < need) {
        uint64_t *data = he_malloc(need * sizeof *data);
        if (!data) {
            J->failed = 1;
            return;
        }
        he_free(pt->data);
        pt->data = data;
        pt->cap = need;
    }
    pt->nq = nq;
    pt->scale = J->scale;
    for (unsigned i = 0; i < nq; i++) {
        const ckks_mod *m = &c->mod[i];
        uint64_t *o = pt->data + (size_t)i * n;
        for (unsigned j = 0; j < n; j++) {
            int64_t x = coef[j];
            uint64_t r = ckks_red64((uint64_t)(x < 0 ? -x : x), m);
            o[j] = x < 0 && r ? m->q - r : r;
        }
        ckks_ntt(o, m, n);
    }
}

/* Whether the diagonals' coefficients at scale fit the exact level-0
** encoding (every coefficient is at most max |value| * scale) and the
** cache's memory (N words per nonzero diagonal, at most 2^27 bytes). */
static bool coef_cacheable(he_ckks_matvec *mv, double scale)
{
    const he_ckks_ctx *c = mv->ctx;
    double top = 0;
    size_t nz = 0;
    for (unsigned i = 0; i < mv->nd; i++) {
        if (!mv->nz[i]) continue;
        nz++;
        for (unsigned j = 0; j < mv->d; j++) top = fmax(top, fabs(mv->diag[(size_t)mv->at[i] * mv->d + j]));
    }
    if (!(top * scale * 4 < (double)c->mod[0].q / 2)) return false;
    if (nz * c->n * sizeof(int64_t) > ((size_t)1 << 27)) return false;
    if (!mv->coef) mv->coef = he_malloc((size_t)mv->nnz * c->n * sizeof *mv->coef);
    return mv->coef != NULL;
}

int he_ckks_matvec_apply(const he_ckks_keys *k, const he_ckks_matvec *mv, he_ckks_ct *out,
                         const he_ckks_ct *x, double wscale, bool fresh)
{
    const he_ckks_ctx *c = k->ctx;
    if (mv->ctx != c || x->ctx != c || out->ctx != c)
        return he_error("ckks: matrix-vector product over objects of different contexts");
    if (x->size != 2) return he_error("ckks: matrix-vector product needs a relinearized ciphertext");
    if (x->nq < 2) return he_error("ckks: matrix-vector product needs a level to spend (ciphertext at level 0)");
    if (out == x) return he_error("ckks: matrix-vector product output aliases its input");
    int steps_buf[1];
    size_t ns = he_ckks_matvec_steps(mv, fresh, steps_buf, 0);
    int *steps = he_malloc((ns + 1) * sizeof *steps);
    if (!steps) return -1;
    he_ckks_matvec_steps(mv, fresh, steps, ns);
    for (size_t i = 0; i < ns; i++)
        if (!ckks_rotation_key(k, steps[i])) {
            int s = steps[i];
            he_free(steps);
            return he_error("ckks: matrix-vector product (%zu x %zu) needs a Galois key for rotation by %d "
                            "(keys from he_ckks_matvec_steps)", mv->rows, mv->cols, s);
        }
    he_free(steps);

    unsigned B = mv->B, G = mv->G, slots = c->slots, width = he_ckks_threads();
    int level = (int)x->nq - 1;
    if (wscale == 0) wscale = (double)c->mod[x->nq - 1].q;
    if (!(wscale >= 1) || !isfinite(wscale)) return he_error("ckks: bad weight scale %g", wscale);
    /* rotations add key-switching noise of fixed size: made on K x (exact,
    ** no level) it is K times smaller against the values, while the weights,
    ** encoded at wscale / K, keep at least 20 bits */
    double K = 1;
    while (K < 1024 && wscale / (2 * K) >= 0x1p20) K *= 2;
    he_ckks_ct *xk = he_ckks_ct_new(c), *tk = he_ckks_ct_new(c);
    if (!xk || !tk || he_ckks_mul_int(c, xk, x, (int64_t)K) < 0) {
        he_ckks_ct_free(xk);
        he_ckks_ct_free(tk);
        return -1;
    }
    if (fresh) /* repeat x every din slots: log2(slots / din) rotations */
        for (unsigned s = mv->din; s < c->slots; s <<= 1)
            if (he_ckks_rotate(k, tk, xk, -(int)s) < 0 || he_ckks_add(c, xk, xk, tk) < 0) {
                he_ckks_ct_free(xk);
                he_ckks_ct_free(tk);
                return -1;
            }
    he_ckks_ct_free(tk);
    x = xk;
    wscale /= K;
    he_ckks_ct **baby = he_calloc(B, sizeof *baby);
    he_ckks_pt **pts = he_calloc(B, sizeof *pts), **gpts = he_calloc(B, sizeof *gpts);
    const he_ckks_ct **dcts = he_calloc(B, sizeof *dcts);
    unsigned *idx = he_calloc(B, sizeof *idx);
    int *bsteps = he_calloc(B, sizeof *bsteps);
    double *vals = he_malloc((size_t)width * slots * sizeof *vals);
    he_ckks_ct *inner = he_ckks_ct_new(c), *rot = he_ckks_ct_new(c), *acc = he_ckks_ct_new(c);
    he_ckks_matvec *mvw = (he_ckks_matvec *)mv; /* the coefficient cache */
    bool cached = mvw->coef_ok && mvw->cscale == wscale;
    if (!cached) {
        mvw->coef_ok = false;
        if (!coef_cacheable(mvw, wscale)) {
            he_free(mvw->coef);
            mvw->coef = NULL;
        }
    }
    he_ckks_pt *tmp[CKKS_MAX_THREADS] = {0};
    int rc = -1;
    for (unsigned w = 0; w < width && !cached && mvw->coef; w++)
        if (!(tmp[w] = he_ckks_pt_new(c))) goto done;
    if (!baby || !pts || !gpts || !dcts || !idx || !bsteps || !vals || !inner || !rot || !acc) goto done;
    /* baby steps: rotations of x by b, hoisted */
    he_ckks_ct **bouts = he_calloc(B, sizeof *bouts);
    if (!bouts) goto done;
    size_t nb = 0;
    for (unsigned b = 0; b < B; b++) {
        if (!baby_used(mv, b)) continue;
        if (!(baby[b] = he_ckks_ct_new(c)) || !(pts[b] = he_ckks_pt_new(c))) {
            he_free(bouts);
            goto done;
        }
        if (b > 0) {
            bouts[nb] = baby[b];
            bsteps[nb++] = (int)b;
        }
    }
    if (baby[0] && he_ckks_ct_copy(baby[0], x) < 0) {
        he_free(bouts);
        goto done;
    }
    int hr = nb ? he_ckks_rotate_hoisted(k, bouts, x, bsteps, nb) : 0;
    he_free(bouts);
    if (hr < 0) goto done;
    bool have = false;
    for (unsigned g = 0; g < G; g++) {
        unsigned m = 0;
        for (unsigned b = 0; b < B; b++) {
            unsigned i = g * B + b;
            if (i >= mv->nd || !mv->nz[i]) continue;
            idx[m] = i;
            dcts[m] = baby[b];
            gpts[m++] = pts[b];
        }
        if (m == 0) continue;
        enc_job J = {.mv = mv, .pts = gpts, .idx = idx, .vals = vals, .tmp = tmp, .level = level,
                     .scale = wscale, .cached = cached};
        ckks_parallel(m, width, enc_task, &J);
        if (J.failed) { /* again here, for the error message in this thread */
            J.failed = 0;
            for (unsigned t = 0; t < m && !J.failed; t++) enc_task(&J, t, 0);
            goto done;
        }
        if (he_ckks_dot_pt(c, inner, dcts, (const he_ckks_pt *const *)gpts, m) < 0) goto done;
        he_ckks_ct *term = inner;
        if (g > 0) {
            if (he_ckks_rotate(k, rot, inner, (int)(g * B)) < 0) goto done;
            term = rot;
        }
        if (!have) {
            if (he_ckks_ct_copy(acc, term) < 0) goto done;
            have = true;
        } else if (he_ckks_add(c, acc, acc, term) < 0) {
            goto done;
        }
    }
    if (mvw->coef) {
        mvw->coef_ok = true;
        mvw->cscale = wscale;
    }
    if (!have) { /* the zero matrix: x * 0 */
        if (he_ckks_mul_scalar(c, acc, x, 0.0, wscale) < 0) goto done;
    }
    if (he_ckks_rescale(c, out, acc) < 0) goto done;
    out->scale *= K; /* K x times the weights / K */
    for (unsigned s = mv->dout; s < mv->din; s <<= 1)
        if (he_ckks_rotate(k, rot, out, (int)s) < 0 || he_ckks_add(c, out, out, rot) < 0) goto done;
    if (mv->bias) {
        for (unsigned s = 0; s < slots; s++) vals[s] = mv->bias[s % mv->dout];
        if (!pts[0] && !(pts[0] = he_ckks_pt_new(c))) goto done;
        if (he_ckks_encode(c, pts[0], vals, slots, he_ckks_ct_level(out), out->scale) < 0 ||
            he_ckks_add_pt(c, out, out, pts[0]) < 0)
            goto done;
    }
    rc = 0;
done:
    if (baby)
        for (unsigned b = 0; b < B; b++) he_ckks_ct_free(baby[b]);
    if (pts)
        for (unsigned b = 0; b < B; b++) he_ckks_pt_free(pts[b]);
    he_free(baby);
    he_free(pts);
    he_free(gpts);
    he_free(dcts);
    he_free(idx);
    he_free(bsteps);
    he_free(vals);
    he_ckks_ct_free(inner);
    he_ckks_ct_free(rot);
    he_ckks_ct_free(acc);
    he_ckks_ct_free(xk);
    for (unsigned w = 0; w < CKKS_MAX_THREADS; w++) he_ckks_pt_free(tmp[w]);
    return rc;
}
