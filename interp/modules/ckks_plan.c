/*
** ckks_plan.c: the CKKS planner. `ckks.plan(f, args...)` runs the .he
** function f, the same code a user runs encrypted, on SHADOW ciphertexts:
** values of type cipher<ckks> that carry no polynomials but the plain value
** of every slot (the simulation), their level, scale and the variance of
** each slot's error under the CKKS error model below. Every operator and
** ckks function on a shadow mirrors what interp/mod_ckks.c does on a real
** ciphertext (the same level and scale decisions: alignment, factor
** scales, masking before a sum) and records it: products with the line
** where each level is spent, relinearizations, rescales, rotation steps,
** key switches, batches and fused dot products. Loops and stdlib
** functions simply run (an abstract RUN); what cannot be planned (a
** comparison of an encrypted value, a decrypt) stops the plan with the line.
** Ciphertexts of pairs (ckks.input_pairs, as ckks.encrypt_pairs) carry the
** real and the imaginary part of each slot; ckks.linear and
** ckks.square_pairs on them mirror pack.c, and a plan that squares pairs
** asks for the conjugation key (ckks.keygen(plan) makes it).
**
**   pass 1  a chain of 38 levels with nominal scales: the depth f needs;
**   pass 2  the real chain of candidate 128-bit-secure parameters for that
**           depth (its primes, its level scales, N/2 slots): the exact
**           levels, operation counts, rotation steps and the predicted
**           error. Candidates go by N, smallest first, and at each N by
**           the scale: it moves by the bits the error misses (or has to
**           spare) until the smallest scale that meets the precision is
**           found; a value that would outgrow its level's modulus rules
**           the candidate out.
** Slots: a function without rotations and sums across slots is slot-wise,
** so the passes keep only the slots in use (the longest vector made), not
** N/2: pass 1 starts so, and runs again with all its slots when it meets a
** rotation, a sum or a longer vector (wider); pass 2 keeps what pass 1
** needed. The CryptoNets server on a batch of 64 images plans in 0.35 s of
** CPU and 17 MB instead of 20 s and 200 MB.
** Against a given context (`ckks.plan(f, x, ctx)`, or another plan's
** parameters) pass 1 finds whether the depth fits (if not: the operation
** and line that go past the last level) and pass 2 runs on that chain.
**
** The error model (slot domain; N the ring dimension, Delta the scale,
** sigma^2 = 10.5 the variance of the runtime's centered binomial noise,
** eta = 21, and 2/3 that of its uniform ternary secret). A polynomial
** error with independent coefficients of variance v gives each (real) slot
** an error of variance N v / (2 Delta^2) (the canonical embedding sums N
** terms; the real part keeps half), as in Costache, Curtis, Hales, Murphy,
** Ogilvie, Player, "On the precision loss in approximate homomorphic
** encryption" (SAC 2023) and the CKKS paper (Cheon, Kim, Kim, Song 2017):
**   encoding        coefficients rounded: v = 1/12;
**   encryption      public key, e = u e_pk + e_0 + e_1 s: v = sigma^2 (1 + 4N/3);
**   rescale         rounding of c_0 + c_1 s after the division: v = (1 + 2N/3)/12,
**                   at the new scale;
**   key switching   hybrid with one special prime P and one digit per
**                   prime (SEAL's, as the runtime): sum_j d_j e_j / P with
**                   the digits d_j uniform in [0, q_j) (the runtime does
**                   not center them: E d^2 = q_j^2/3) plus the rounding of
**                   the division by P:
**                   v = N sigma^2 sum_j q_j^2 / (3 P^2) + (1 + 2N/3)/12,
**                   of which the digits' mean (q_j/2) makes a bias fixed by
**                   the key and concentrated on the first slots (see
**                   ks_bias), the rest noise spread evenly
**                   (at the value's scale: a rotation's, and a
**                   relinearization's, which is lazy: after the product's
**                   rescale, when the value is next used by other than
**                   + and -; see relin);
**   square_pairs    (complex packing: slot value x + iy) the conjugation's
**                   key switch k enters both parts times x - y (see
**                   square_pairs_one); each part squared as c * c;
**   ckks.linear     weights rounded to integers at the weight scale q:
**                   x^2 / (12 q^2) per term, one rescale per output;
**   products        (m1 + e1)(m2 + e2): Var = m1^2 V2 + m2^2 V1 + V1 V2 per
**                   slot, with the simulated m of that slot; a plaintext
**                   factor encoded at scale r adds its encoding error
**                   (m^2 N / (24 r^2) for a vector, m^2 / (12 r^2) for a
**                   number). The error of slot i is kept as g_i E_i + an
**                   independent part, E the fresh error of one input: sums
**                   and products of values from one input stay correlated
**                   slot-wise (x + 0.5 x, x * x); a rotation, a dot product
**                   or another input makes them independent, and c * c is
**                   one error doubled (2 m e).
** The libraries measure rather than predict: SEAL has no estimate, OpenFHE
** and Lattigo report the precision of decrypted values, and EVA plans scales
** and levels (a waterline), not the error. This model predicts the root
** mean square error over the result's slots, sqrt(mean Var), before any
** encryption; tests/lang/crypto/ckks_plan_error.he and ckks_plan_net.he
** compare it with real encrypted runs on random inputs (measured/predicted
** 0.85 to 1.4 slot-wise; 1.2 to 1.8 for the small network, whose layers
** share pixels; a sum across all slots read from one slot varies more, the
** key-switching bias being one draw per key).
**
** The time per call adds up a cost per operation measured once (the table
** below: N * primes for the element-wise operations, N * primes^2 for a
** key switch, which dominates).
*/
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks_plan.h"
#include "modutil.h"

#define PASS1_LEVELS (HE_CKKS_MAX_PRIMES - 2)
#define PASS1_BITS 40
#define SIGMA2 10.5              /* centered binomial, eta = 21 */
#define TERN (2.0 / 3.0)         /* uniform ternary secret */
#define DEFAULT_ERROR_BITS 20    /* rms error 2^-20 unless asked */
#define MAX_STEPS 256
#define SAME_SCALE 1e-10

/*
** Measured costs, in nanoseconds per N * primes (a key switch: per
** N * primes * (primes + 1)), CPU time at one thread through the VM
** (build/he timing 40 repetitions of c + c, c * c, c * vector and
** ckks.rotate(c, 1) at the top level of the chains (N, scale bits, depth) =
** (8192, 28, 5), (8192, 40, 3), (16384, 40, 8)); re-measured 2026-12-06
** 23:03 after that day's faster kernels (32-bit products for primes below
** 2^31, the fused mod-down and rescale, vector reductions), on the
** project's build machine: an Intel Xeon with AVX-512 IFMA (the kernels
** used), 2 cores, load 1.8. A key switch measured 8.8 and 11.3 ns at
** N = 8192 and 15.7 at 16384 (the ring's tables no longer fit the caches:
** NS_KS_BIG_RING); the other fits are within 30 % at N = 8192 and up to 1.6
** times low at 16384. The first table (before those kernels) charged 23 ns
** a key switch and 8 an addition: 2-3 times the time now measured.
*/
#define NS_ADD 1.0
#define NS_TENSOR 4.0        /* the tensor product of two ciphertexts */
#define NS_RESCALE 7.0       /* rescale */
#define NS_PLAIN 25.0        /* encode, multiply, rescale */
#define NS_ADD_PLAIN 13.0    /* encode a number or vector and add it */
#define NS_KS 10.0           /* per N * primes * (primes + 1) */
#define KS_BIG_RING 1.5      /* N >= 16384: NS_KS times this */
/* A rotation hoisted with others of the same ciphertext (ckks.matvec):
** the key-switch decomposition is shared (bench ckks.hoist: 31 rotations
** in 0.64 times the time of 31 plain ones) */
#define KS_HOISTED 0.64
/* ckks.dot with scalar weights, per term: the fused kernel (bench
** ckks.dot: 845 ciphertexts at N = 8192 and 4 primes in 44.5 ms) */
#define NS_DOT 1.6
/* ckks.linear, per nonzero weight: the layer kernel (pack.c), 2.7 times less
** CPU than the fused dot products for the MNIST 845 -> 100 layer (bench
** ckks.pack.*) */
#define NS_LIN (NS_DOT / 2.7)

/* --- the run ----------------------------------------------------------------------------------- */
typedef struct prun {
    he_vm *vm;
    unsigned gen;
    ckks_levels lv;
    unsigned slots;
    int minlevel;
    int spend_line[HE_CKKS_MAX_PRIMES];   /* the line where level l was first reached */
    char spend_file[HE_CKKS_MAX_PRIMES][48]; /* its file's name, when not the planning script's */
    const char *spend_what[HE_CKKS_MAX_PRIMES];
    double spend_scale[HE_CKKS_MAX_PRIMES];
    ckks_counts cnt;
    int steps[MAX_STEPS];
    int nsteps;
    double seconds;
    double maxabs;
    double f0; /* the variance of a fresh encryption's error in one slot */
    const char *script; /* the file ckks.plan was called from */
    double *ksprof; /* per slot: |1 + z + ... + z^(N-1)|^2 at its root z (key-switching bias) */
    int overflow_line; /* where a value first outgrew its level's modulus (0: never) */
    bool all_slots;  /* a rotation or a sum across slots: every slot matters */
    bool narrow;     /* this pass keeps fewer slots than a ring would have */
    int64_t widest;  /* the longest vector made */
    int overflow_level;
    bool conj; /* square_pairs: the conjugation key is needed */
} prun;

static prun *cur;
static unsigned next_gen = 1;

static int line_now(void) { return cur ? he_vm_line(cur->vm) : 0; }

int ckks_shadow_refuse(const char *what)
{
    return he_error("ckks.plan: cannot plan %s (line %d)", what, line_now());
}

/* --- shadow ciphertexts -------------------------------------------------------------------------- */
typedef struct sct {
    he_obj obj;
    unsigned gen;
    int64_t n;
    bool scalar, clean;
    int level;
    double scale;
    bool lazy; /* a pending product: three parts, not rescaled (mod_ckks.c's settle) */
    int64_t period; /* slots repeat every period (as mod_ckks.c's: a matvec result, 1 a scalar), 0 unknown */
    unsigned slots;
    /* slot i's error: g[i] E_src[i] + an independent part of variance
    ** var[i], where E_src is the fresh encryption error of input src
    ** (variance f0): errors of one input combined slot-wise stay correlated
    ** (x + 0.5 x, x * x); a rotation or other input makes them independent */
    double *v, *var, *g;
    int src;
    double f0; /* the run's f0 */
    /* complex packing (ckks.encrypt_pairs): the n reals of a ciphertext of
    ** pairs, value k in slot k mod N/2, its real part for k < N/2, its
    ** imaginary part from there on; the arrays hold the real parts of slots
    ** 0..slots/2-1, then their imaginary parts (slots/2 = min(N/2, n): past
    ** the values, slots hold what the layers make of zeros, the same in
    ** every such slot) */
    bool pairs;
    unsigned half; /* of pairs: N/2 of the pass's ring */
} sct;

static const he_type sct_type;

static void sct_free(he_obj *o)
{
    sct *c = (sct *)o;
    free(c->v);
    free(c->var);
    free(c->g);
    free(c);
}

static int sct_repr(const he_obj *o, he_buf *b)
{
    const sct *c = (const sct *)o;
    char len[32] = "";
    if (!c->scalar) snprintf(len, sizeof len, "%s [%lld]", c->pairs ? " pairs" : "", (long long)c->n);
    int l = c->level - (c->lazy ? 1 : 0);
    double s = c->lazy && cur ? c->scale / cur->lv.q[c->level] : c->scale;
    return he_buf_printf(b, "<cipher ckks%s (planning) level %d scale 2^%.4g>", len, l, log2(s));
}

static int sct_len(const he_obj *o, int64_t *n)
{
    const sct *c = (const sct *)o;
    if (c->scalar) return he_error("len: an encrypted scalar has no length");
    *n = c->n;
    return 0;
}

bool ckks_is_shadow(he_value v) { return he_is(v, &sct_type); }

static sct *sct_alloc(int64_t n, bool scalar, bool clean, int level, double scale, unsigned slots)
{
    sct *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    he_obj_init(&c->obj, &sct_type);
    c->gen = cur->gen;
    c->n = n;
    c->scalar = scalar;
    c->clean = clean && !scalar;
    c->period = scalar ? 1 : 0;
    c->level = level;
    c->scale = scale;
    c->slots = slots;
    c->v = calloc(slots, sizeof(double));
    c->var = calloc(slots, sizeof(double));
    c->g = calloc(slots, sizeof(double));
    c->src = -1;
    c->f0 = cur->f0;
    if (!c->v || !c->var || !c->g) {
        sct_free(&c->obj);
        he_error("out of memory");
        return NULL;
    }
    return c;
}

static sct *sct_new(int64_t n, bool scalar, bool clean, int level, double scale)
{
    return sct_alloc(n, scalar, clean, level, scale, cur->slots);
}

static sct *dup(const sct *a)
{
    sct *c = sct_alloc(a->n, a->scalar, a->clean, a->level, a->scale, a->slots);
    if (!c) return NULL;
    c->pairs = a->pairs;
    c->half = a->half;
    memcpy(c->v, a->v, sizeof(double) * a->slots);
    memcpy(c->var, a->var, sizeof(double) * a->slots);
    memcpy(c->g, a->g, sizeof(double) * a->slots);
    c->src = a->src;
    c->lazy = a->lazy;
    c->period = a->period;
    return c;
}

/* The level and scale of a value once settled (a pending product's are
** those of the level below). */
static int eff_level(const sct *c) { return c->level - (c->lazy ? 1 : 0); }
static double eff_scale(const sct *c) { return c->lazy ? c->scale / cur->lv.q[c->level] : c->scale; }

/* The correlated part made independent. */
static void fold(sct *c)
{
    if (c->src < 0) return;
    for (unsigned i = 0; i < c->slots; i++) {
        c->var[i] += c->g[i] * c->g[i] * c->f0;
        c->g[i] = 0;
    }
    c->src = -1;
}

static double total_var(const sct *c, unsigned i) { return c->var[i] + c->g[i] * c->g[i] * c->f0; }

/* Where value k of a ciphertext of pairs is kept: slot k mod N/2, its real
** part (the first half of the arrays) or its imaginary part (the second). */
static unsigned pair_at(const sct *c, int64_t k)
{
    unsigned h = c->slots / 2;
    return (unsigned)(k / c->half) * h + (unsigned)(k % c->half);
}

/* Two operands' errors made comparable: one source, or folded. */
static void same_source(sct *x, sct *y)
{
    if (x->src >= 0 && y->src >= 0 && x->src != y->src) fold(y);
    if (x->src < 0) x->src = y->src;
}

/* What complex packing cannot do slot by slot (mod_ckks.c's no_pairs). */
static int no_pairs(const sct *c, const char *what)
{
    if (!c->pairs) return 0;
    return he_error("ckks: %s of a ciphertext of pairs (ckks.encrypt_pairs) is not defined; pairs take +, -, "
                    "products by numbers, ckks.linear and ckks.square_pairs (line %d)", what, line_now());
}

static int live(const sct *c)
{
    if (!cur || c->gen != cur->gen)
        return he_error("ckks: a planning value (shadow ciphertext) used outside the ckks.plan that made it");
    return 0;
}

/* The noise terms (variances of one slot). */
static double slot_var(double coef_var, double scale)
{
    return (double)cur->lv.n * coef_var / (2.0 * scale * scale);
}
static double rescale_var(double scale) { return slot_var((1.0 + TERN * cur->lv.n) / 12.0, scale); }
static double ks_var(int level, double scale)
{
    double p = cur->lv.q[cur->lv.depth + 1], s = 0;
    for (int j = 0; j <= level; j++) s += (cur->lv.q[j] / p) * (cur->lv.q[j] / p);
    return slot_var(cur->lv.n * SIGMA2 * s / 12.0 + (1.0 + TERN * cur->lv.n) / 12.0, scale);
}

/* The key-switching bias of slot i: the digits' mean q_j/2 times the
** all-ones polynomial 1(X) times the key's errors, sum_j q_j/(2P) e_j(X):
** at slot i's root z_i = exp(i pi 5^i / N), |1(z_i)|^2 = 1/sin^2(pi 5^i / 2N)
** times the slot variance of that error polynomial. Fixed for a key (a
** bias, not noise), largest in the first slots, on average three times the
** centered part. */
static double ks_bias(int level, double scale, unsigned i)
{
    if (!cur->ksprof) return 0;
    double p = cur->lv.q[cur->lv.depth + 1], s = 0;
    for (int j = 0; j <= level; j++) s += (cur->lv.q[j] / (2 * p)) * (cur->lv.q[j] / (2 * p));
    return cur->ksprof[i] * slot_var(SIGMA2 * s, scale);
}

static double *ks_profile(unsigned n)
{
    unsigned slots = n / 2;
    double *prof = malloc(sizeof(double) * slots);
    if (!prof) return NULL;
    uint64_t e = 1, m = 2 * (uint64_t)n;
    for (unsigned i = 0; i < slots; i++) {
        double h = sin(M_PI * (double)e / (2.0 * n));
        prof[i] = 1.0 / (h * h);
        e = e * 5 % m;
    }
    return prof;
}
static double fresh_var(double scale) { return slot_var(1.0 / 12.0 + SIGMA2 * (1.0 + 4.0 * cur->lv.n / 3.0), scale); }

/* Costs: the primes in use at a level are level + 1. */
static void cost(double ns, int level, bool ks)
{
    double k = level + 1.0;
    if (ks && cur->lv.n >= 16384) ns *= KS_BIG_RING;
    cur->seconds += 1e-9 * ns * cur->lv.n * k * (ks ? k + 1.0 : 1.0);
}

/* Records a result: the deepest level reached and the line that reached it. */
static sct *track(sct *r, const char *what)
{
    if (!r) return NULL;
    int rl = eff_level(r);
    double rs = eff_scale(r);
    while (cur->minlevel > rl && cur->minlevel > 0) {
        cur->minlevel--;
        cur->spend_line[cur->minlevel] = line_now();
        const char *f = he_vm_file(cur->vm), *base = f ? strrchr(f, '/') : NULL;
        snprintf(cur->spend_file[cur->minlevel], sizeof cur->spend_file[0], "%s",
                 f && cur->script && strcmp(f, cur->script) != 0 ? (base ? base + 1 : f) : "");
        cur->spend_what[cur->minlevel] = what;
        cur->spend_scale[cur->minlevel] = rs;
    }
    if (!r->scalar && !r->pairs && r->n > cur->widest) cur->widest = r->n;
    double big = 0;
    for (unsigned i = 0; i < r->slots; i++)
        if (fabs(r->v[i]) > big) big = fabs(r->v[i]);
    if (big > cur->maxabs) cur->maxabs = big;
    /* the value times the scale must stay below half the level's modulus
    ** (with a bit to spare for the error), or decryption wraps around */
    double room = -2;
    for (int j = 0; j <= rl; j++) room += log2(cur->lv.q[j]);
    if (big > 0 && !cur->overflow_line && log2(big) + log2(rs) > room) {
        cur->overflow_line = line_now();
        cur->overflow_level = rl;
    }
    return r;
}

/* In a narrow pass, what needs more slots (a rotation, a sum across slots,
** a longer vector) stops the pass, which is then run again with them all. */
static int wider(void)
{
    cur->all_slots = true;
    return cur->narrow ? he_error("ckks.plan: internal: a pass with more slots is needed") : 0;
}

static int exhausted(const char *what)
{
    return he_error("ckks.plan: %s at line %d needs more depth than the chain's %d levels (the context has depth "
                    "%d; plan without a context, or build it with depth >= %d)",
                    what, line_now(), cur->lv.depth, cur->lv.depth, cur->lv.depth + 1);
}

static bool same_scale(double a, double b) { return fabs(a - b) <= SAME_SCALE * fmax(fabs(a), fabs(b)); }

/* mod_ckks.c's to_level_scale: x to level l and scale s (a product by 1
** at a chosen scale and a rescale when the scale changes). */
static int to_level_scale(sct *x, int l, double s)
{
    if (same_scale(x->scale, s)) {
        x->level = l;
        return 0;
    }
    if (x->level <= l) return he_error("ckks.plan: internal: scale alignment without a level to spend");
    double r = s * cur->lv.q[l + 1] / x->scale;
    if (!(r >= 0x1p20 && r < 0x1p61))
        return he_error("ckks.plan: cannot align the scales 2^%.4g and 2^%.4g (line %d)", log2(x->scale), log2(s),
                        line_now());
    cost(NS_PLAIN, l + 1, false);
    x->level = l;
    x->scale = s;
    double rv = rescale_var(s);
    for (unsigned i = 0; i < x->slots; i++) x->var[i] += rv;
    cur->cnt.rescales++;
    return 0;
}

/* mod_ckks.c's align: x and y (copies) to one level and scale. */
static int align(sct *x, sct *y)
{
    if (x->level == y->level) {
        if (same_scale(x->scale, y->scale)) return 0;
        if (x->level == 0) return exhausted("aligning two scales at level 0");
        x->level--;
        return to_level_scale(y, x->level, x->scale);
    }
    if (x->level > y->level) return to_level_scale(x, y->level, y->scale);
    return to_level_scale(y, x->level, x->scale);
}

/* mod_ckks.c's same_period: the period of a slot-wise combination. */
static int64_t same_period(const sct *a, const sct *b)
{
    if (!a->period || !b->period) return 0;
    return a->period > b->period ? a->period : b->period;
}

static int put(sct *r, int rc, he_value *out)
{
    if (rc < 0 || !r) {
        if (r) he_release(he_objv(&r->obj));
        return -1;
    }
    *out = he_objv(&r->obj);
    return 0;
}

static void settle(const sct *c);

static int add_sub(he_op op, const sct *a, const sct *b, he_value *out)
{
    if (!a->scalar && !b->scalar && a->n != b->n)
        return he_error("ckks: length mismatch (%lld and %lld) (line %d)", (long long)a->n, (long long)b->n,
                        line_now());
    if (!(a->lazy && b->lazy && a->level == b->level && same_scale(a->scale, b->scale))) {
        settle(a); /* two pending products of one level and scale add as they are */
        settle(b);
    }
    sct *x = dup(a), *y = dup(b);
    int rc = x && y ? align(x, y) : -1;
    if (rc == 0) {
        double sg = op == HE_OP_SUB ? -1.0 : 1.0;
        same_source(x, y);
        for (unsigned i = 0; i < x->slots; i++) {
            x->v[i] += sg * y->v[i];
            x->var[i] += y->var[i];
            x->g[i] += sg * y->g[i];
        }
        x->n = a->scalar ? b->n : a->n;
        x->scalar = a->scalar && b->scalar;
        x->clean = a->clean && b->clean && !x->scalar;
        x->period = same_period(a, b);
        x->lazy = x->lazy || y->lazy;
        cost(NS_ADD * (x->lazy ? 1.5 : 1.0), x->level, false); /* three parts */
    }
    if (y) he_release(he_objv(&y->obj));
    return put(track(x, "alignment"), rc, out);
}

/* mod_ckks.c's settle: a pending product relinearized, then rescaled, in
** place (the key switch's error at scale^2, where the rescale makes it
** vanish, as an eager product). */
static void settle(const sct *cc)
{
    sct *c = (sct *)cc; /* the same value, settled */
    if (!c->lazy) return;
    int l = c->level;
    double ns = c->scale / cur->lv.q[l], kv = ks_var(l, c->scale), rv = rescale_var(ns);
    for (unsigned i = 0; i < c->slots; i++) c->var[i] += kv + rv;
    c->lazy = false;
    c->level = l - 1;
    c->scale = ns;
    cur->cnt.relins++;
    cur->cnt.keyswitches++;
    cur->cnt.rescales++;
    cost(NS_KS, l, true);
    cost(NS_RESCALE, l, false);
}

static int mul_ct(const sct *a, const sct *b, he_value *out)
{
    if (!a->scalar && !b->scalar && a->n != b->n)
        return he_error("ckks: length mismatch (%lld and %lld) (line %d)", (long long)a->n, (long long)b->n,
                        line_now());
    settle(a);
    settle(b);
    int l = a->level < b->level ? a->level : b->level;
    if (l == 0) return exhausted("a product of two ciphertexts");
    sct *x = dup(a), *y = dup(b);
    int rc = x && y ? 0 : -1;
    if (rc == 0 && x->level > l) rc = to_level_scale(x, l, y->scale);
    else if (rc == 0 && y->level > l) rc = to_level_scale(y, l, x->scale);
    if (rc == 0) {
        double s2 = x->scale * y->scale;
        same_source(x, y);
        bool square = a == b; /* c * c: one error, doubled (2 m e), not two independent ones */
        for (unsigned i = 0; square && i < x->slots; i++) {
            double m = x->v[i], t = total_var(x, i);
            x->v[i] = m * m;
            x->var[i] = 4 * m * m * x->var[i] + 2 * t * t;
            x->g[i] *= 2 * m;
        }
        for (unsigned i = 0; !square && i < x->slots; i++) {
            double m1 = x->v[i], m2 = y->v[i];
            x->v[i] = m1 * m2;
            x->var[i] = m1 * m1 * y->var[i] + m2 * m2 * x->var[i] + total_var(x, i) * total_var(y, i);
            x->g[i] = m2 * x->g[i] + m1 * y->g[i];
        }
        x->level = l; /* pending: settled at l - 1, lscale[l - 1] = s2 / q_l */
        x->scale = s2;
        x->n = a->scalar ? b->n : a->n;
        x->scalar = a->scalar && b->scalar;
        x->clean = (a->clean || b->clean) && !x->scalar;
        x->period = same_period(a, b);
        x->lazy = true;
        cur->cnt.products++;
        cost(NS_TENSOR, l, false);
    }
    if (y) he_release(he_objv(&y->obj));
    return put(track(x, "a product of two ciphertexts"), rc, out);
}

/* mod_ckks.c's factor_scale. */
static double factor_scale(int l, double sa, double *res)
{
    double q = cur->lv.q[l], r = cur->lv.lscale[l - 1] * q / sa;
    if (!(r >= 0x1p20 && r <= 0x1p60)) r = q;
    *res = sa * r / q;
    if (r == q) *res = sa;
    return r;
}

/* A plaintext operand: a number, or the values of a 1-D tensor. */
typedef struct plainv {
    bool tensor, is_int;
    int64_t i, n;
    double x;
    double *v;
} plainv;

static int plain_get(he_value v, plainv *p)
{
    memset(p, 0, sizeof *p);
    switch (v.tag) {
    case HE_INT: p->is_int = true; p->i = v.as.i; p->x = (double)v.as.i; return 0;
    case HE_FLOAT: p->x = v.as.f; return 0;
    case HE_FIXED: p->x = he_fixed_to_double(v.as.i, v.frac); return 0;
    default: break;
    }
    if (!he_is_tensor(v)) return he_error("ckks: cannot combine a ciphertext and %s (line %d)", he_typename(v), line_now());
    he_tensor *t = he_as_tensor(v);
    if (t->ndim != 1 || t->dtype == HE_DT_BOOL || t->size < 1)
        return he_error("ckks: plaintext tensors must be non-empty 1-D number tensors (line %d)", line_now());
    p->tensor = true;
    p->n = t->size;
    p->v = malloc(sizeof(double) * (size_t)t->size);
    if (!p->v) return he_error("out of memory");
    for (int64_t k = 0; k < t->size; k++)
        p->v[k] = t->dtype == HE_DT_FLOAT ? t->data.f[k]
                  : t->dtype == HE_DT_INT ? (double)t->data.i[k]
                                          : he_fixed_to_double(t->data.i[k], t->frac);
    return 0;
}

static int check_len(const sct *c, int64_t m)
{
    if (m > (int64_t)c->slots && wider() < 0) return -1;
    if (m > (int64_t)c->slots)
        return he_error("ckks: %lld values exceed the %u slots (line %d)", (long long)m, c->slots, line_now());
    if (!c->scalar && m != c->n)
        return he_error("ckks: length mismatch (a ciphertext of %lld and a plaintext of %lld) (line %d)",
                        (long long)c->n, (long long)m, line_now());
    return 0;
}

static int mul_plain(const sct *c, plainv *p, he_value *out)
{
    if (p->tensor && check_len(c, p->n) < 0) return -1;
    if (!p->tensor && p->is_int) { /* exact, no level; a pending product stays so */
        sct *r = dup(c);
        if (!r) return -1;
        double x = p->x;
        for (unsigned i = 0; i < r->slots; i++) {
            r->v[i] *= x;
            r->var[i] *= x * x;
            r->g[i] *= x;
        }
        cost(NS_ADD, r->level, false);
        return put(track(r, "a product by an int"), 0, out);
    }
    settle(c);
    int l = c->level;
    if (l == 0) return exhausted(p->tensor ? "a product by a plaintext vector" : "a product by a real");
    double res, r = factor_scale(l, c->scale, &res);
    sct *o = dup(c);
    if (!o) return -1;
    double rv = rescale_var(res), ev = p->tensor ? (double)cur->lv.n / (24.0 * r * r) : 1.0 / (12.0 * r * r);
    for (unsigned i = 0; i < o->slots; i++) {
        double f = p->tensor ? (i < (unsigned)p->n ? p->v[i] : 0.0) : p->x, m = o->v[i];
        o->v[i] = m * f;
        o->var[i] = f * f * o->var[i] + m * m * ev + rv;
        o->g[i] *= f;
    }
    o->level = l - 1;
    o->scale = res;
    if (p->tensor) {
        o->n = p->n;
        o->scalar = false;
        o->clean = true;
        o->period = 0;
    }
    cur->cnt.plain_products++;
    cur->cnt.rescales++;
    cost(NS_PLAIN, l, false);
    return put(track(o, p->tensor ? "a product by a plaintext vector" : "a product by a real"), 0, out);
}

static int add_plain(const sct *c, plainv *p, bool negate_plain, bool negate_ct, he_value *out)
{
    if (p->tensor && check_len(c, p->n) < 0) return -1;
    settle(c);
    sct *r = dup(c);
    if (!r) return -1;
    int64_t n = p->tensor ? p->n : c->n;
    bool scalar = c->scalar && !p->tensor;
    double sg = negate_plain ? -1.0 : 1.0, ev = scalar ? 1.0 / (12.0 * c->scale * c->scale) : slot_var(1.0 / 12.0, c->scale);
    for (unsigned i = 0; i < r->slots; i++) {
        if (negate_ct) r->v[i] = -r->v[i], r->g[i] = -r->g[i];
        double add = scalar ? p->x : (int64_t)i < n ? (p->tensor ? p->v[i] : p->x) : 0.0;
        r->v[i] += sg * add;
        r->var[i] += ev;
    }
    r->n = n;
    r->scalar = scalar;
    r->clean = p->tensor ? !c->scalar && c->clean : c->clean;
    r->period = scalar ? 1 : 0; /* a new ciphertext, as mod_ckks.c's add_plain */
    cost(NS_ADD_PLAIN, r->level, false);
    return put(track(r, "an addition"), 0, out);
}

static int sct_binop(he_op op, he_value a, he_value b, he_value *out)
{
    bool sa = he_is(a, &sct_type), sb = he_is(b, &sct_type);
    if ((sa && live((sct *)a.as.o) < 0) || (sb && live((sct *)b.as.o) < 0)) return -1;
    if (op >= HE_OP_LT && op <= HE_OP_NE)
        return ckks_shadow_refuse("a comparison of an encrypted value (control flow cannot depend on encrypted data)");
    if (sa != sb && (sa ? b : a).tag == HE_OBJ && !he_is_tensor(sa ? b : a))
        return he_error("ckks.plan: cannot plan an operation between a planned ciphertext and %s (line %d)",
                        he_typename(sa ? b : a), line_now());
    if (sa && sb) {
        const sct *x = (const sct *)a.as.o, *y = (const sct *)b.as.o;
        if (x->pairs != y->pairs)
            return he_error("ckks: a ciphertext of pairs and one of reals cannot be combined (line %d)", line_now());
        if (op == HE_OP_MUL && no_pairs(x, "the product") < 0) return -1;
        switch (op) {
        case HE_OP_ADD:
        case HE_OP_SUB: return add_sub(op, x, y, out);
        case HE_OP_MUL: return mul_ct(x, y, out);
        default: return ckks_shadow_refuse("this operator on two ciphertexts");
        }
    }
    const sct *c = (const sct *)(sa ? a : b).as.o;
    bool swapped = !sa;
    if (op != HE_OP_ADD && op != HE_OP_SUB && op != HE_OP_MUL && op != HE_OP_DIV)
        return ckks_shadow_refuse("this operator on a ciphertext");
    if (op == HE_OP_DIV && swapped) return ckks_shadow_refuse("a division by a ciphertext");
    plainv p;
    if (plain_get(sa ? b : a, &p) < 0) return -1;
    int rc = -1;
    if (c->pairs && (p.tensor || op == HE_OP_ADD || op == HE_OP_SUB)) { /* a number adds to the real parts only */
        no_pairs(c, p.tensor ? "a plaintext vector operand" : "adding a number (use ckks.linear's bias)");
        goto done;
    }
    if (op == HE_OP_DIV) {
        if (!p.tensor && p.x == 0) {
            he_error("division by zero (line %d)", line_now());
            goto done;
        }
        for (int64_t k = 0; k < p.n; k++) {
            if (p.v[k] == 0) {
                he_error("division by zero (element %lld, line %d)", (long long)k, line_now());
                goto done;
            }
            p.v[k] = 1.0 / p.v[k];
        }
        p.x = 1.0 / p.x;
        p.is_int = false;
        op = HE_OP_MUL;
    }
    rc = op == HE_OP_MUL ? mul_plain(c, &p, out)
                         : add_plain(c, &p, op == HE_OP_SUB && !swapped, op == HE_OP_SUB && swapped, out);
done:
    free(p.v);
    return rc;
}

static int sct_unop(he_op op, he_value a, he_value *out)
{
    const sct *c = (const sct *)a.as.o;
    if (live(c) < 0) return -1;
    if (op != HE_OP_NEG) return ckks_shadow_refuse("this operator on a ciphertext");
    sct *r = dup(c);
    if (!r) return -1;
    for (unsigned i = 0; i < r->slots; i++) r->v[i] = -r->v[i], r->g[i] = -r->g[i];
    return put(r, 0, out);
}

static const he_type sct_type = {
    .name = CKKS_CT_NAME, .free = sct_free, .repr = sct_repr, .binop = sct_binop, .unop = sct_unop, .len = sct_len,
    .method = ckks_value_method,
};

static void add_step(int s)
{
    for (int i = 0; i < cur->nsteps; i++)
        if (cur->steps[i] == s) return;
    if (cur->nsteps < MAX_STEPS) cur->steps[cur->nsteps++] = s;
}

/* rotate x by s (slot i gets slot i + s) with a key switch. */
static void rotate_raw(sct *x, int64_t s)
{
    unsigned S = x->slots;
    fold(x);
    double *v = malloc(sizeof(double) * S), *w = malloc(sizeof(double) * S);
    if (v && w) {
        double kv = ks_var(x->level, x->scale);
        for (unsigned i = 0; i < S; i++) {
            unsigned j = (unsigned)((((int64_t)i + s) % (int64_t)S + (int64_t)S) % (int64_t)S);
            v[i] = x->v[j];
            w[i] = x->var[j] + kv + ks_bias(x->level, x->scale, i);
        }
        memcpy(x->v, v, sizeof(double) * S);
        memcpy(x->var, w, sizeof(double) * S);
    }
    free(v);
    free(w);
    cur->cnt.rotations++;
    cur->cnt.keyswitches++;
    cost(NS_KS, x->level, true);
}

int ckks_shadow_rotate(he_value cv, int64_t k, he_value *out)
{
    const sct *c = (const sct *)cv.as.o;
    if (live(c) < 0) return -1;
    if (no_pairs(c, "a rotation") < 0) return -1;
    int64_t s = k % (int64_t)c->slots;
    if (!c->scalar && k != 0 && wider() < 0) return -1;
    if (!c->scalar && s != 0) settle(c);
    sct *r = dup(c);
    if (!r) return -1;
    r->clean = s == 0 && c->clean;
    r->period = c->scalar ? 1 : 0;
    if (!c->scalar && s != 0) {
        rotate_raw(r, s);
        add_step((int)s);
    }
    return put(track(r, "a rotation"), 0, out);
}

int ckks_shadow_sum(he_value cv, he_value *out)
{
    const sct *c = (const sct *)cv.as.o;
    if (live(c) < 0 || no_pairs(c, "the sum across slots") < 0) return -1;
    if (c->scalar) {
        sct *r = dup(c);
        return put(r, r ? 0 : -1, out);
    }
    if (wider() < 0) return -1;
    settle(c);
    he_value src = cv;
    bool own = false;
    if (!c->clean) { /* mask the slots past the vector (one level) */
        if (c->level == 0) return exhausted("ckks.sum's mask of the slots past the vector");
        plainv p = {.tensor = true, .n = c->n};
        p.v = malloc(sizeof(double) * (size_t)c->n);
        if (!p.v) return he_error("out of memory");
        for (int64_t i = 0; i < c->n; i++) p.v[i] = 1.0;
        int rc = mul_plain(c, &p, &src);
        free(p.v);
        if (rc < 0) return -1;
        own = true;
    }
    sct *r = dup((const sct *)src.as.o);
    if (own) he_release(src);
    if (!r) return -1;
    fold(r);
    unsigned S = r->slots;
    double *v = malloc(sizeof(double) * S), *w = malloc(sizeof(double) * S);
    if (!v || !w) {
        free(v);
        free(w);
        he_release(he_objv(&r->obj));
        return he_error("out of memory");
    }
    for (unsigned b = 1; b < S; b <<= 1) { /* x + rotate(x, b), as he_ckks_sum_slots */
        double kv = ks_var(r->level, r->scale);
        for (unsigned i = 0; i < S; i++) {
            v[i] = r->v[i] + r->v[(i + b) % S];
            w[i] = r->var[i] + r->var[(i + b) % S] + kv + ks_bias(r->level, r->scale, i);
        }
        memcpy(r->v, v, sizeof(double) * S);
        memcpy(r->var, w, sizeof(double) * S);
        cur->cnt.rotations++;
        cur->cnt.keyswitches++;
        cost(NS_KS, r->level, true);
        cost(NS_ADD, r->level, false);
        add_step((int)b);
    }
    free(v);
    free(w);
    r->n = 1;
    r->scalar = true;
    r->clean = false;
    r->period = 1;
    return put(track(r, "a sum across slots"), 0, out);
}

/* ckks.dot(batch, w) on shadows: mod_ckks.c's f_dot (sum_i w[i] * c_i, one
** rescale): the operands brought to one level and scale (one level lower
** when the lowest ones differ in scale), the weights encoded at the
** factor scale. */
int ckks_shadow_dot(he_obj **v, int64_t m, he_value wv, he_value *out)
{
    if (m == 0) return he_error("ckks.dot: the batch is empty");
    for (int64_t i = 0; i < m; i++)
        if (live((const sct *)v[i]) < 0) return -1;
    for (int64_t i = 0; i < m; i++)
        if (((const sct *)v[i])->pairs) return ckks_shadow_refuse("ckks.dot of ciphertexts of pairs (use ckks.linear)");
    for (int64_t i = 0; i < m; i++) settle((const sct *)v[i]); /* the fused kernel takes settled values */
    if (!he_is_tensor(wv) || he_as_tensor(wv)->dtype == HE_DT_BOOL ||
        (he_as_tensor(wv)->ndim != 1 && he_as_tensor(wv)->ndim != 2))
        return he_error("ckks.dot: the weights must be a 1-D or 2-D number tensor, got %s", he_typename(wv));
    he_tensor *w = he_as_tensor(wv);
    if (w->shape[0] != m)
        return he_error("ckks.dot: %lld weights for %lld ciphertexts (line %d)", (long long)w->shape[0], (long long)m,
                        line_now());
    int64_t len = 0;
    bool scalar = true, clean = true;
    int lmin = INT32_MAX;
    for (int64_t i = 0; i < m; i++) {
        const sct *c = (const sct *)v[i];
        if (!c->scalar) {
            if (len && c->n != len)
                return he_error("ckks.dot: length mismatch (%lld and %lld) (line %d)", (long long)len, (long long)c->n,
                                line_now());
            len = c->n;
            scalar = false;
            clean &= c->clean;
        } else clean = false;
        if (c->level < lmin) lmin = c->level;
    }
    int64_t cols = w->ndim == 2 ? w->shape[1] : 0;
    if (w->ndim == 2) {
        if (cols > (int64_t)cur->slots && wider() < 0) return -1;
        if (cols < 1 || cols > (int64_t)cur->slots || (len && cols != len))
            return he_error("ckks.dot: weight rows of %lld for ciphertexts of %lld (line %d)", (long long)cols,
                            (long long)(len ? len : 1), line_now());
        if (!len) len = cols;
        scalar = false;
        clean = true;
    }
    double sc = 0;
    bool mixed = false;
    for (int64_t i = 0; i < m; i++) {
        const sct *c = (const sct *)v[i];
        if (c->level != lmin) continue;
        if (sc == 0) sc = c->scale;
        else if (!same_scale(sc, c->scale)) mixed = true;
    }
    int l = mixed ? lmin - 1 : lmin;
    if (l < 1) return exhausted("a dot product");
    double res, q = factor_scale(l, sc, &res);
    sct *r = sct_new(scalar ? 1 : len, scalar, clean, l - 1, res);
    if (!r) return -1;
    double ev = cols ? (double)cur->lv.n / (24.0 * q * q) : 1.0 / (12.0 * q * q), rv = rescale_var(res);
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < m; i++) {
        sct *x = dup((const sct *)v[i]);
        if (!x) {
            rc = -1;
            break;
        }
        if (x->level != l || !same_scale(x->scale, sc)) rc = to_level_scale(x, l, sc);
        fold(x); /* terms from many inputs: errors taken independent */
        for (unsigned k = 0; rc == 0 && k < r->slots; k++) {
            int64_t e = cols ? i * cols + (int64_t)k : i;
            double f = cols && (int64_t)k >= cols ? 0.0
                       : w->dtype == HE_DT_FLOAT ? w->data.f[e]
                       : w->dtype == HE_DT_INT   ? (double)w->data.i[e]
                                                 : he_fixed_to_double(w->data.i[e], w->frac);
            r->v[k] += f * x->v[k];
            r->var[k] += f * f * x->var[k] + x->v[k] * x->v[k] * ev;
        }
        he_release(he_objv(&x->obj));
    }
    if (rc < 0) {
        he_release(he_objv(&r->obj));
        return -1;
    }
    for (unsigned k = 0; k < r->slots; k++) r->var[k] += rv;
    cur->cnt.plain_products += m;
    cur->cnt.rescales++;
    if (cols) cost(NS_PLAIN * (double)m, l, false); /* a vector per term: encoded and multiplied */
    else cost(NS_RESCALE + NS_DOT * (double)m, l, false);
    return put(track(r, "a dot product"), 0, out);
}

/* ckks.linear(b, W [, bias]) on shadows: mod_ckks.c's f_linear (pack.c's
** he_ckks_linear): pending inputs settled; one level and scale for all;
** the weights rounded to integers at the factor scale (halved for pairs,
** so that a square_pairs after lands on the level's scale), each output a
** sum of integer multiples, rescaled once, the bias added in every slot
** (both parts of pairs). The rounding of a weight w to round(w q) / q is
** an error uniform in +-1/(2q) times the input's value. */
int ckks_shadow_linear(he_obj **v, int64_t m, const double *W, int64_t rows, const double *bias, he_value *out)
{
    for (int64_t i = 0; i < m; i++)
        if (live((const sct *)v[i]) < 0) return -1;
    for (int64_t i = 0; i < m; i++) settle((const sct *)v[i]); /* as he_ckks_settle_many */
    const sct *c0 = (const sct *)v[0];
    int64_t len = 0;
    bool scalar = true, clean = !bias;
    for (int64_t i = 0; i < m; i++) {
        const sct *c = (const sct *)v[i];
        if (c->pairs != c0->pairs) return he_error("ckks.linear: a batch that mixes pairs and reals (line %d)", line_now());
        if (c->level != c0->level || !same_scale(c->scale, c0->scale))
            return he_error("ckks.linear: inputs at levels %d and %d, scales 2^%.4g and 2^%.4g (one level and scale "
                            "for all) (line %d)", c0->level, c->level, log2(c0->scale), log2(c->scale), line_now());
        if (!c->scalar) {
            if (len && c->n != len)
                return he_error("ckks.linear: length mismatch (%lld and %lld) (line %d)", (long long)len,
                                (long long)c->n, line_now());
            len = c->n;
            scalar = false;
            clean &= c->clean;
        } else clean = false;
    }
    int l = c0->level;
    if (l < 1) return exhausted("a linear layer");
    double res, q = factor_scale(l, c0->scale, &res);
    if (c0->pairs) q /= 2, res /= 2;
    double ev = 1.0 / (12.0 * q * q), rv = rescale_var(res), bv = 1.0 / (12.0 * res * res);
    he_value *outs = he_calloc((size_t)rows, sizeof *outs);
    if (!outs) return -1;
    int rc = 0;
    long nnz = 0;
    for (int64_t j = 0; rc == 0 && j < rows; j++) {
        sct *r = sct_alloc(scalar ? 1 : len, scalar, clean && !c0->pairs, l - 1, res, c0->slots);
        if (!r) {
            rc = -1;
            break;
        }
        r->pairs = c0->pairs;
        r->half = c0->half;
        unsigned S = r->slots;
        for (int64_t i = 0; i < m; i++) {
            double f = W[j * m + i];
            if (f == 0) continue;
            nnz++;
            const sct *x = (const sct *)v[i];
            for (unsigned k = 0; k < S; k++) {
                r->v[k] += f * x->v[k];
                r->var[k] += f * f * total_var(x, k) + x->v[k] * x->v[k] * ev;
            }
        }
        double b = bias ? bias[j] : 0;
        for (unsigned k = 0; k < S; k++) {
            r->v[k] += b;
            r->var[k] += rv + (b != 0 ? bv : 0);
        }
        outs[j] = he_objv(&r->obj);
        if (!track(r, "a linear layer")) rc = -1;
    }
    cur->cnt.plain_products += nnz;
    cur->cnt.rescales += rows;
    cost(NS_LIN * (double)nnz + NS_RESCALE * (double)rows, l, false);
    if (rc == 0) rc = ckks_shadow_batch(outs, rows, out);
    for (int64_t j = 0; j < rows; j++) he_release(outs[j]);
    he_free(outs);
    return rc;
}

/* ckks.square_pairs on a shadow: pack.c's he_ckks_square_pairs. With the
** conjugate c' = conj(c) + k (k the conjugation's key-switching error, at
** c's scale), u = c + c' = 2x + k and v = c - c' = 2iy - k, and
** (u^2 - i v^2) / 4 = x^2 + i y^2 + (x - y) k + (1 - i) k^2 / 4: each part
** squared (the error of each doubled, 2 m e), plus (x - y) times the key
** switch's error in each part. Two products, one key switch; the result
** pending at 4 times the squared scale (settled as a product is). */
static sct *square_pairs_one(const sct *c)
{
    if (!c->pairs) {
        he_error("ckks.square_pairs: expected a ciphertext of pairs (ckks.encrypt_pairs); c * c squares reals (line %d)",
                 line_now());
        return NULL;
    }
    settle(c);
    int l = c->level;
    if (l == 0) {
        exhausted("the square of pairs");
        return NULL;
    }
    if (!cur->ksprof) cur->ksprof = ks_profile(cur->lv.n); /* the key-switching bias of each slot */
    if (!cur->ksprof) {
        he_error("out of memory");
        return NULL;
    }
    sct *r = dup(c);
    if (!r) return NULL;
    unsigned h = r->slots / 2;
    double s = c->scale, kv = ks_var(l, s);
    for (unsigned j = 0; j < h; j++) {
        double x = c->v[j], y = c->v[h + j], vx = total_var(c, j), vy = total_var(c, h + j);
        double k = (kv + ks_bias(l, s, j)) * (x - y) * (x - y);
        r->v[j] = x * x;
        r->v[h + j] = y * y;
        r->var[j] = 4 * x * x * vx + 2 * vx * vx + k;
        r->var[h + j] = 4 * y * y * vy + 2 * vy * vy + k;
        r->g[j] = r->g[h + j] = 0;
    }
    r->src = -1;
    r->lazy = true;
    r->level = l;
    r->scale = 4 * s * s;
    r->clean = false;
    r->period = 0;
    cur->cnt.products += 2;
    cur->cnt.keyswitches++;
    cur->conj = true;
    cost(NS_KS, l, true);
    cost(2 * NS_TENSOR + 4 * NS_ADD, l, false);
    return track(r, "a square of pairs");
}

int ckks_shadow_square_pairs(he_value cv, he_value *out)
{
    const sct *c = (const sct *)cv.as.o;
    if (live(c) < 0) return -1;
    sct *r = square_pairs_one(c);
    return put(r, r ? 0 : -1, out);
}

/* Of a batch: the batch of the squares. */
int ckks_shadow_square_pairs_batch(he_obj **v, int64_t m, he_value *out)
{
    for (int64_t i = 0; i < m; i++)
        if (live((const sct *)v[i]) < 0) return -1;
    he_value *outs = he_calloc((size_t)(m ? m : 1), sizeof *outs);
    if (!outs) return -1;
    int rc = 0;
    int64_t made = 0;
    while (made < m) {
        sct *r = square_pairs_one((const sct *)v[made]);
        if (!r) {
            rc = -1;
            break;
        }
        outs[made++] = he_objv(&r->obj);
    }
    if (rc == 0) rc = ckks_shadow_batch(outs, m, out);
    for (int64_t i = 0; i < made; i++) he_release(outs[i]);
    he_free(outs);
    return rc;
}

/* ckks.matvec and ckks.matvec_diagonals on a shadow: hoist.c's
** he_ckks_matvec_apply. The product runs on K x (K = 2^k <= 1024, while
** the weights encoded at ws / K keep 20 bits): a fresh input repeated by
** rotations first, baby-step rotations (hoisted: the noise of one key
** switch each), the diagonals' products summed per giant step, giant-step
** rotations at the product's scale (negligible noise), one rescale; a wide
** matrix then folds its rows by rotate-and-add at the result's scale; the
** bias added. Slot s of the product before the fold is
** sum_i diag_i[s mod d] x[s + i]: diag(i, j) gives diagonal i's entry j. The
** rotation steps and their count come from the runtime's own layout
** (he_ckks_matvec_shape), so the plan's keys and counts are the run's. */
/* The product's layout: nnz nonzero diagonals, diagonal t at index idx[t]
** (a rotation of x by idx[t]) with its d entries in u + t * d; din and dout
** the input and output periods; B the baby steps (as hoist.c). */
typedef struct mvshape {
    unsigned d, din, dout, B, nnz;
    unsigned *idx;
    double *u;
} mvshape;

static unsigned pow2_ge(int64_t v)
{
    unsigned p = 1;
    while ((int64_t)p < v) p <<= 1;
    return p;
}

static unsigned baby_steps(unsigned nd)
{
    unsigned lg = 0;
    while ((1u << lg) < nd) lg++;
    return 1u << ((lg + 1) / 2);
}

static int matvec_shadow(const sct *c, const mvshape *m, int64_t rows, const double *bias, bool fresh,
                         const he_ckks_matvec *shape, he_value *out)
{
    const char *what = "a matrix-vector product";
    settle(c);
    int l = c->level;
    if (l == 0) return exhausted(what);
    unsigned S = c->slots, N = cur->lv.n;
    double res, ws = factor_scale(l, c->scale, &res), K = 1;
    while (K < 1024 && ws / (2 * K) >= 0x1p20) K *= 2;
    sct *x = dup(c), *r = sct_new(rows, false, false, l - 1, res);
    double *v = malloc(sizeof(double) * S), *w = malloc(sizeof(double) * S);
    int rc = x && r && v && w ? 0 : he_error("out of memory");
    if (rc == 0) {
        fold(x);
        /* key switching on K x: its noise K times smaller against the values */
        double kv = ks_var(l, c->scale * K), kb = ks_var(l - 1, res);
        if (fresh) /* repeat x every din slots: x + rotate(x, -st) */
            for (unsigned st = m->din; st < S; st <<= 1) {
                for (unsigned i = 0; i < S; i++) {
                    unsigned j = (i + S - st) % S;
                    v[i] = x->v[i] + x->v[j];
                    w[i] = x->var[i] + x->var[j] + kv + ks_bias(l, c->scale * K, i);
                }
                memcpy(x->v, v, sizeof(double) * S);
                memcpy(x->var, w, sizeof(double) * S);
            }
        double ev = (double)N * K * K / (24.0 * ws * ws); /* a diagonal's encoding error, against x */
        for (unsigned s2 = 0; s2 < S; s2++) {
            double acc = 0, var = 0;
            unsigned j = s2 % m->d;
            for (unsigned t = 0; t < m->nnz; t++) {
                double f = m->u[(size_t)t * m->d + j];
                if (f == 0) continue;
                unsigned at = (s2 + m->idx[t]) % S;
                double xv = x->v[at];
                acc += f * xv;
                var += f * f * (x->var[at] + (m->idx[t] % m->B ? kv + ks_bias(l, c->scale * K, s2) : 0)) +
                       xv * xv * ev;
            }
            r->v[s2] = acc;
            r->var[s2] = var + rescale_var(res);
        }
        for (unsigned st = m->dout; st < m->din; st <<= 1) { /* a wide matrix: its rows folded */
            for (unsigned i = 0; i < S; i++) {
                unsigned j = (i + st) % S;
                v[i] = r->v[i] + r->v[j];
                w[i] = r->var[i] + r->var[j] + kb + ks_bias(l - 1, res, i);
            }
            memcpy(r->v, v, sizeof(double) * S);
            memcpy(r->var, w, sizeof(double) * S);
        }
        double bv = slot_var(1.0 / 12.0, res);
        for (unsigned i = 0; bias && i < S; i++) {
            r->v[i] += bias[i % m->dout];
            r->var[i] += bv;
        }
        r->period = m->dout;
        size_t ns = he_ckks_matvec_steps(shape, fresh, NULL, 0);
        int *st = malloc(sizeof(int) * (ns + 1));
        if (!st) rc = he_error("out of memory");
        else {
            he_ckks_matvec_steps(shape, fresh, st, ns);
            for (size_t i = 0; i < ns; i++) add_step(st[i]);
        }
        free(st);
        cur->cnt.rotations += (long)ns;
        cur->cnt.keyswitches += (long)ns;
        cur->cnt.plain_products++;
        cur->cnt.rescales++;
        for (size_t i = 0; i < ns; i++) cost(NS_KS * KS_HOISTED, l, true);
        cost(NS_PLAIN * m->nnz + NS_RESCALE, l, false);
    }
    free(v);
    free(w);
    if (x) he_release(he_objv(&x->obj));
    return put(track(r, what), rc, out);
}

/* ckks.matvec(c, W [, b]) on a shadow: W rows x cols (row-major). */
int ckks_shadow_matvec(he_value cv, const double *W, int64_t rows, int64_t cols, const double *bias, he_value *out)
{
    const sct *c = (const sct *)cv.as.o;
    if (live(c) < 0 || no_pairs(c, "ckks.matvec") < 0) return -1;
    if (wider() < 0) return -1;
    if (c->scalar) return he_error("ckks.matvec: the input must be a vector, not an encrypted scalar (line %d)", line_now());
    he_ckks_matvec *shape = he_ckks_matvec_shape(c->slots, W, (size_t)rows, (size_t)cols);
    if (!shape) return he_error("ckks.matvec: %s (line %d)", he_errmsg(), line_now());
    mvshape m = {.din = he_ckks_matvec_in_period(shape), .dout = he_ckks_matvec_out_period(shape)};
    int rc = 0;
    if (cols != c->n)
        rc = he_error("ckks.matvec: a matrix of %lld columns for a vector of %lld (line %d)", (long long)cols,
                      (long long)c->n, line_now());
    else if (!(c->period && m.din % c->period == 0) && !c->clean)
        rc = he_error("ckks.matvec: the vector must have zeros past its length (ckks.encrypt) or repeat every %u "
                      "slots (ckks.input_tiled, a matvec result) (line %d)", m.din, line_now());
    bool fresh = !(c->period && m.din % c->period == 0), tall = m.dout >= m.din;
    unsigned nd = tall ? m.din : m.dout;
    m.d = tall ? m.dout : m.din;
    m.B = baby_steps(nd);
    m.idx = malloc(sizeof(unsigned) * nd);
    m.u = calloc((size_t)nd * m.d, sizeof(double));
    if (rc == 0 && (!m.idx || !m.u)) rc = he_error("out of memory");
    for (unsigned i = 0; rc == 0 && i < nd; i++) { /* hoist.c's diagonals, unrotated */
        double *u = m.u + (size_t)m.nnz * m.d;
        bool nz = false;
        for (unsigned j = 0; j < m.d; j++) {
            unsigned row = tall ? j : j % m.dout, col = (j + i) % m.din;
            u[j] = (int64_t)row < rows && (int64_t)col < cols ? W[row * cols + col] : 0.0;
            nz |= u[j] != 0;
        }
        if (nz) m.idx[m.nnz++] = i;
    }
    double *b = NULL;
    if (rc == 0 && bias) { /* the bias repeats every dout slots, zeros past the rows */
        b = calloc(m.dout, sizeof(double));
        if (!b) rc = he_error("out of memory");
        for (int64_t i = 0; b && i < rows; i++) b[i] = bias[i];
    }
    if (rc == 0) rc = matvec_shadow(c, &m, rows, b, fresh, shape, out);
    free(b);
    free(m.idx);
    free(m.u);
    he_ckks_matvec_free(shape);
    return rc;
}

/* ckks.matvec_diagonals(c, offsets, D [, b]) on a shadow: D k x period. */
int ckks_shadow_diagonals(he_value cv, const int *offs, const double *D, int64_t k, int64_t period, const double *bias,
                          he_value *out)
{
    const sct *c = (const sct *)cv.as.o;
    if (live(c) < 0 || no_pairs(c, "ckks.matvec_diagonals") < 0) return -1;
    if (wider() < 0) return -1;
    if (period > (int64_t)c->slots)
        return he_error("ckks.matvec_diagonals: diagonals of %lld do not fit the %u slots (line %d)", (long long)period,
                        c->slots, line_now());
    he_ckks_matvec *shape = he_ckks_matvec_shape_diagonals(c->slots, (unsigned)period, offs, D, (size_t)k);
    if (!shape) return he_error("ckks.matvec_diagonals: %s (line %d)", he_errmsg(), line_now());
    int rc = 0;
    if (!(c->period && period % c->period == 0))
        rc = he_error("ckks.matvec_diagonals: the vector must repeat every %lld slots or a divisor of it "
                      "(ckks.input_tiled, a matvec result) (line %d)", (long long)period, line_now());
    unsigned p = (unsigned)period;
    mvshape m = {.din = p, .dout = p, .d = p, .B = baby_steps(p)};
    m.idx = malloc(sizeof(unsigned) * (size_t)k);
    m.u = calloc((size_t)k * p, sizeof(double));
    if (rc == 0 && (!m.idx || !m.u)) rc = he_error("out of memory");
    for (int64_t r = 0; rc == 0 && r < k; r++) { /* offsets equal mod the period share a diagonal */
        long o = offs[r] % (long)p;
        unsigned i = (unsigned)(o < 0 ? o + (long)p : o), t = 0;
        while (t < m.nnz && m.idx[t] != i) t++;
        if (t == m.nnz) m.idx[m.nnz++] = i;
        for (unsigned j = 0; j < p; j++) m.u[(size_t)t * p + j] += D[r * period + j];
    }
    if (rc == 0) rc = matvec_shadow(c, &m, period, bias, false, shape, out);
    free(m.idx);
    free(m.u);
    he_ckks_matvec_free(shape);
    return rc;
}

bool ckks_planning(void) { return cur != NULL; }

/* ckks.encrypt inside a planned function (a vector of ones the server
** encrypts with the public key, say): a fresh shadow at the top level. */
int ckks_shadow_encrypt(he_value x, he_value *out)
{
    plainv p;
    if (plain_get(x, &p) < 0) return -1;
    if (p.tensor && p.n > (int64_t)cur->slots && wider() < 0) {
        free(p.v);
        return -1;
    }
    if (p.tensor && p.n > (int64_t)cur->slots) {
        free(p.v);
        return he_error("ckks.encrypt: %lld values exceed the %u slots (line %d)", (long long)p.n, cur->slots,
                        line_now());
    }
    double s = cur->lv.lscale[cur->lv.depth];
    sct *c = sct_new(p.tensor ? p.n : 1, !p.tensor, true, cur->lv.depth, s);
    if (c) {
        double fv = fresh_var(s);
        for (unsigned k = 0; k < c->slots; k++) {
            c->v[k] = !p.tensor ? p.x : (int64_t)k < p.n ? p.v[k] : 0.0;
            c->var[k] = fv;
        }
    }
    free(p.v);
    return put(track(c, "an encryption"), c ? 0 : -1, out);
}

int ckks_shadow_level(he_value c) { return eff_level((const sct *)c.as.o); }
double ckks_shadow_scale(he_value c) { return eff_scale((const sct *)c.as.o); }

/* --- input specs and precision ------------------------------------------------------------------ */
typedef struct cinput {
    he_obj obj;
    int64_t rows, cols; /* a 2-D input: a batch of rows ciphertexts of cols values */
    int64_t n;
    double *v; /* n sample values */
    double bound;
    bool tiled; /* repeated every power of two >= n slots (ckks.encrypt_tiled) */
    bool pairs; /* a batch of ciphertexts of pairs (ckks.encrypt_pairs) */
} cinput;

static void cinput_free(he_obj *o)
{
    cinput *c = (cinput *)o;
    free(c->v);
    free(c);
}

static int cinput_repr(const he_obj *o, he_buf *b)
{
    const cinput *c = (const cinput *)o;
    if (c->rows)
        return he_buf_printf(b, "<ckks input %s [%lld, %lld]>", c->pairs ? "pairs" : "rows", (long long)c->rows,
                             (long long)c->cols);
    return he_buf_printf(b, "<ckks input%s [%lld] in [-%g, %g]>", c->tiled ? " tiled" : "", (long long)c->n, c->bound,
                         c->bound);
}

static const he_type cinput_type = {.name = CKKS_INPUT_NAME, .free = cinput_free, .repr = cinput_repr};

/* input(n [, bound]): n deterministic samples, bound, -bound, then uniform
** in [-bound, bound] (the same plan every time); input(samples): those
** values. */
static int input_new(he_value *a, int n, int64_t maxlen, he_value *out)
{
    double bound = 1.0;
    if (n > 1) {
        if (a[1].tag == HE_INT) bound = (double)a[1].as.i;
        else if (a[1].tag == HE_FLOAT) bound = a[1].as.f;
        else return he_error("ckks.input: the bound must be a number, got %s", he_typename(a[1]));
        if (!(bound > 0 && bound < 1e15)) return he_error("ckks.input: the bound must be positive, not %g", bound);
    }
    cinput *c = he_calloc(1, sizeof *c);
    if (!c) return -1;
    he_obj_init(&c->obj, &cinput_type);
    if (a[0].tag == HE_INT) {
        if (a[0].as.i < 1 || a[0].as.i > 16384) {
            free(c);
            return he_error("ckks.input: the length must be in [1, 16384], not %lld", (long long)a[0].as.i);
        }
        c->n = a[0].as.i;
        c->bound = bound;
        c->v = malloc(sizeof(double) * (size_t)c->n);
        uint64_t *r = malloc(sizeof(uint64_t) * (size_t)c->n);
        static const unsigned char seed[randombytes_SEEDBYTES] = "he ckks.plan input samples";
        if (c->v && r) {
            randombytes_buf_deterministic(r, sizeof(uint64_t) * (size_t)c->n, seed);
            for (int64_t i = 0; i < c->n; i++) c->v[i] = bound * (2.0 * ldexp((double)(r[i] >> 11), -53) - 1.0);
            c->v[0] = bound; /* the extremes are planned too */
            if (c->n > 1) c->v[1] = -bound;
        }
        free(r);
    } else if (he_is_tensor(a[0]) && he_as_tensor(a[0])->ndim <= 2 && he_as_tensor(a[0])->ndim >= 1 &&
               he_as_tensor(a[0])->dtype != HE_DT_BOOL && he_as_tensor(a[0])->size > 0 &&
               he_as_tensor(a[0])->shape[he_as_tensor(a[0])->ndim - 1] <= maxlen) {
        he_tensor *t = he_as_tensor(a[0]);
        c->n = t->size;
        if (t->ndim == 2) {
            c->rows = t->shape[0];
            c->cols = t->shape[1];
        }
        c->v = malloc(sizeof(double) * (size_t)c->n);
        for (int64_t k = 0; c->v && k < t->size; k++) {
            c->v[k] = t->dtype == HE_DT_FLOAT ? t->data.f[k]
                      : t->dtype == HE_DT_INT ? (double)t->data.i[k]
                                              : he_fixed_to_double(t->data.i[k], t->frac);
            if (fabs(c->v[k]) > c->bound) c->bound = fabs(c->v[k]);
        }
    } else {
        free(c);
        return he_error("ckks.input: expected a length (int) or 1 to 16384 sample values (a 1-D tensor), got %s",
                        he_typename(a[0]));
    }
    if (!c->v) {
        cinput_free(&c->obj);
        return he_error("out of memory");
    }
    *out = he_objv(&c->obj);
    return 0;
}

int ckks_f_input(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    return input_new(a, n, 16384, out);
}

/* input_pairs(X): a batch of ciphertexts of pairs, one per row of X, as
** ckks.encrypt_pairs(keys, X) makes it (two values per slot: up to N). */
int ckks_f_input_pairs(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!he_is_tensor(a[0]) || he_as_tensor(a[0])->ndim != 2 || he_as_tensor(a[0])->dtype == HE_DT_BOOL ||
        he_as_tensor(a[0])->size < 1 || he_as_tensor(a[0])->shape[1] > 32768)
        return he_error("ckks.input_pairs: expected sample values, a 2-D number tensor of rows of up to 32768 (one "
                        "ciphertext of pairs per row, as encrypt_pairs), got %s", he_typename(a[0]));
    if (input_new(a, n, 32768, out) < 0) return -1;
    ((cinput *)out->as.o)->pairs = true;
    return 0;
}

static void cprec_free_(he_obj *o) { free(o); }
static int ckeysin_repr(const he_obj *o, he_buf *b)
{
    (void)o;
    return he_buf_printf(b, "<ckks planning keys>");
}

/* input_tiled(n [, bound]) or input_tiled(samples): as input, laid out as
** ckks.encrypt_tiled lays x out. */
int ckks_f_input_tiled(he_vm *vm, he_value *a, int n, he_value *out)
{
    if (he_is_tensor(a[0]) && he_as_tensor(a[0])->ndim != 1)
        return he_error("ckks.input_tiled: expected a length (int) or sample values (a 1-D tensor), got %s",
                        he_typename(a[0]));
    if (ckks_f_input(vm, a, n, out) < 0) return -1;
    ((cinput *)out->as.o)->tiled = true;
    return 0;
}

/* input_keys(): the stand-in for the key set while planning: a planned
** function that encrypts a constant with the keys it is given (the
** CryptoNets server's vector of ones) is planned before any key exists;
** ckks.encrypt with it makes a fresh planning ciphertext. */
static const he_type ckeysin_type = {.name = CKKS_KEYSIN_NAME, .free = cprec_free_, .repr = ckeysin_repr};

bool ckks_is_input_keys(he_value v) { return he_is(v, &ckeysin_type); }

int ckks_f_input_keys(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    he_obj *o = he_calloc(1, sizeof *o);
    if (!o) return -1;
    he_obj_init(o, &ckeysin_type);
    *out = he_objv(o);
    return 0;
}

typedef struct cprec {
    he_obj obj;
    double err; /* the rms error asked for */
    int bits;   /* or 0 */
} cprec;

static void cprec_free(he_obj *o) { free(o); }

static int cprec_repr(const he_obj *o, he_buf *b)
{
    const cprec *p = (const cprec *)o;
    if (p->bits) return he_buf_printf(b, "<ckks precision %d bits>", p->bits);
    return he_buf_printf(b, "<ckks precision %g>", p->err);
}

static const he_type cprec_type = {.name = CKKS_PREC_NAME, .free = cprec_free, .repr = cprec_repr};

int ckks_f_precision(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cprec *p = he_calloc(1, sizeof *p);
    if (!p) return -1;
    he_obj_init(&p->obj, &cprec_type);
    if (a[0].tag == HE_INT && a[0].as.i >= 1 && a[0].as.i <= 40) {
        p->bits = (int)a[0].as.i;
        p->err = ldexp(1.0, -p->bits);
    } else if (a[0].tag == HE_FLOAT && a[0].as.f > 0 && a[0].as.f < 1e6) {
        p->err = a[0].as.f;
    } else {
        free(p);
        return he_error("ckks.precision: bits in [1, 40] (int) or an error bound > 0 (float), got %s",
                        he_typename(a[0]));
    }
    *out = he_objv(&p->obj);
    return 0;
}

/* --- plans ------------------------------------------------------------------------------------------ */
typedef struct cplan {
    he_obj obj;
    char *fname;
    ckks_levels lv;
    int depth;            /* levels the function spends */
    int spend_line[HE_CKKS_MAX_PRIMES];
    char spend_file[HE_CKKS_MAX_PRIMES][48];
    const char *spend_what[HE_CKKS_MAX_PRIMES];
    double spend_scale[HE_CKKS_MAX_PRIMES];
    ckks_counts cnt;
    int steps[MAX_STEPS];
    int nsteps;
    double seconds, err, target, maxabs, res_scale;
    int res_level;
    int64_t res_n;
    bool res_scalar, against;
    int64_t inputs[8], rows[8]; /* each input's length (and rows, for a batch) */
    bool pairs[8];              /* an input of pairs (ckks.input_pairs) */
    bool res_pairs;
    bool conj;                  /* square_pairs: the conjugation key */
    int ninputs;
} cplan;

static void cplan_free(he_obj *o)
{
    cplan *p = (cplan *)o;
    free(p->fname);
    free(p);
}

/* Sizes in bytes, as runtime/ckks/serial.c writes them: an envelope of 88
** bytes (56 of header, 32 of checksum) around a body; k = depth + 1 data
** primes. The public key: its k residues of b and a 32-byte seed; a
** key-switching key (relinearization, each Galois key): per digit (k of
** them) the k + 1 residues of b, and one seed; a Galois key also its u32
** Galois element. The server's key file (ckks.save_keys of
** ckks.public_keys) is the envelope, a u32 of parts, those keys, and a u32
** count before the Galois keys; a ciphertext file (ckks.save) is the
** runtime's ciphertext (24 bytes of header, 2 polynomials of k residues) in
** the language's 64-byte header and 32-byte checksum. */
static double bytes_public(const cplan *p) { return 8.0 * (p->lv.depth + 1) * p->lv.n + 32; }
static double bytes_relin(const cplan *p)
{
    double k = p->lv.depth + 1.0;
    return 8.0 * k * (k + 1) * p->lv.n + 32;
}
static double bytes_galois(const cplan *p) { return 4 + bytes_relin(p); }
static double bytes_server(const cplan *p)
{
    int ng = p->nsteps + (p->conj ? 1 : 0);
    return 88 + 4 + bytes_public(p) + bytes_relin(p) + (ng ? 4 + ng * bytes_galois(p) : 0);
}
static double bytes_ct(const cplan *p) { return 64 + 88 + 24 + 16.0 * (p->lv.depth + 1) * p->lv.n + 32; }

static int cplan_repr(const he_obj *o, he_buf *b)
{
    const cplan *p = (const cplan *)o;
    const ckks_levels *lv = &p->lv;
    int total = 0;
    for (int i = 0; i <= lv->depth + 1; i++) total += lv->bits[i];
    int rc = he_buf_printf(b, "<ckks plan of %s: depth %d, N=%u (%u slots), scale 2^%d, chain {", p->fname, p->depth,
                           lv->n, lv->n / 2, lv->sbits);
    for (int i = 0; rc == 0 && i <= lv->depth; i++) rc = he_buf_printf(b, "%s%d", i ? ", " : "", lv->bits[i]);
    if (rc == 0)
        rc = he_buf_printf(b, "} + special %d = %d bits (128-bit bound %d)%s\n", lv->bits[lv->depth + 1], total,
                           he_ckks_max_bits(lv->n), p->against ? ", the context given" : "");
    if (rc == 0) rc = he_buf_puts(b, "  inputs:");
    for (int i = 0; rc == 0 && i < p->ninputs; i++)
        rc = p->rows[i] ? he_buf_printf(b, " %lld ciphertexts%s [%lld]", (long long)p->rows[i],
                                        p->pairs[i] ? " of pairs" : "", (long long)p->inputs[i])
                        : he_buf_printf(b, " [%lld]", (long long)p->inputs[i]);
    if (rc == 0) rc = he_buf_puts(b, "\n  levels spent:");
    for (int l = lv->depth - 1; rc == 0 && l >= lv->depth - p->depth; l--)
        rc = he_buf_printf(b, "\n    %s%sline %d: level %d -> %d, scale 2^%.2f (%s)", p->spend_file[l],
                           p->spend_file[l][0] ? " " : "", p->spend_line[l], l + 1, l, log2(p->spend_scale[l]),
                           p->spend_what[l]);
    if (rc == 0 && p->depth == 0) rc = he_buf_puts(b, " none");
    if (rc == 0) {
        char len[32] = "";
        if (!p->res_scalar) snprintf(len, sizeof len, "%s [%lld]", p->res_pairs ? " pairs" : "", (long long)p->res_n);
        rc = he_buf_printf(b, "\n  result:%s at level %d, scale 2^%.2f; largest value on the way %.3g\n", len, p->res_level,
                           log2(p->res_scale), p->maxabs);
    }
    if (rc == 0)
        rc = he_buf_printf(b, "  operations: products %ld, relinearizations %ld, plain products %ld, rotations %ld, "
                              "key switches %ld, rescales %ld\n",
                           p->cnt.products, p->cnt.relins, p->cnt.plain_products, p->cnt.rotations,
                           p->cnt.keyswitches, p->cnt.rescales);
    if (rc == 0) rc = he_buf_puts(b, "  Galois keys for steps: [");
    for (int i = 0; rc == 0 && i < p->nsteps; i++) rc = he_buf_printf(b, "%s%d", i ? ", " : "", p->steps[i]);
    if (rc == 0) rc = he_buf_puts(b, p->conj ? "], and the conjugation key (square_pairs)" : "]");
    if (rc == 0)
        rc = he_buf_printf(b, "\n  bytes: public key %.0f, relinearization key %.0f, each Galois key %.0f; "
                              "server key file %.0f, ciphertext file %.0f\n",
                           bytes_public(p), bytes_relin(p), bytes_galois(p), bytes_server(p), bytes_ct(p));
    if (rc == 0)
        rc = he_buf_printf(b, "  time per call: about %.3g ms\n  error: rms %.2g predicted (asked: %.2g)>",
                           p->seconds * 1e3, p->err, p->target);
    return rc;
}

static const he_type cplan_type = {.name = CKKS_PLAN_NAME, .free = cplan_free, .repr = cplan_repr};

bool ckks_is_plan(he_value v) { return he_is(v, &cplan_type); }

void ckks_plan_params(he_value plan, int *n, int *sbits, int *depth, const int **steps, int *nsteps)
{
    const cplan *p = (const cplan *)plan.as.o;
    *n = (int)p->lv.n;
    *sbits = p->lv.sbits;
    *depth = p->lv.depth;
    *steps = p->steps;
    *nsteps = p->nsteps;
}

bool ckks_plan_conj(he_value plan) { return ((const cplan *)plan.as.o)->conj; }

int ckks_plan_counts(he_value plan, he_value *out)
{
    if (!ckks_is_plan(plan)) return he_error("ckks.counts: expected a ckks plan, got %s", he_typename(plan));
    return ckks_counts_str(&((const cplan *)plan.as.o)->cnt, out);
}

double ckks_plan_error(he_value plan) { return ((const cplan *)plan.as.o)->err; }
int ckks_plan_depth(he_value plan) { return ((const cplan *)plan.as.o)->depth; }
double ckks_plan_seconds(he_value plan) { return ((const cplan *)plan.as.o)->seconds; }

int ckks_f_fits(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckks_levels lv;
    if (!ckks_is_plan(a[0])) return he_error("ckks.fits: expected a ckks plan, got %s", he_typename(a[0]));
    if (ckks_context_levels(a[1], &lv) < 0) return -1;
    const cplan *p = (const cplan *)a[0].as.o;
    bool ok = lv.depth >= p->depth;
    for (int i = 0; i < p->ninputs; i++) ok &= p->inputs[i] <= (int64_t)lv.n / (p->pairs[i] ? 1 : 2);
    *out = he_bool(ok);
    return 0;
}

/* --- the planning runs ---------------------------------------------------------------------------- */
typedef struct job {
    he_vm *vm;
    he_value fn;
    he_value *args; /* the arguments, with input specs where shadows go */
    int nargs;
} job;

static double rms_error(const sct *r);

/* Runs f once on the chain lv; fills run and the result's rms error. */
static int run_pass(const job *jb, const ckks_levels *lv, unsigned slots, bool narrow, prun *run, sct **result)
{
    memset(run, 0, sizeof *run);
    run->vm = jb->vm;
    run->gen = next_gen++;
    run->lv = *lv;
    run->slots = slots;
    run->narrow = narrow;
    run->minlevel = lv->depth;
    run->script = he_vm_file(jb->vm);
    run->ksprof = slots == lv->n / 2 ? ks_profile(lv->n) : NULL;
    prun *saved = cur;
    cur = run;
    he_value *args = he_calloc((size_t)(jb->nargs ? jb->nargs : 1), sizeof *args);
    int rc = args ? 0 : -1;
    for (int i = 0; rc == 0 && i < jb->nargs; i++) {
        if (!he_is(jb->args[i], &cinput_type)) {
            args[i] = jb->args[i];
            he_retain(args[i]);
            continue;
        }
        const cinput *in = (const cinput *)jb->args[i].as.o;
        if (in->rows) { /* a batch: one ciphertext per row, as ckks.encrypt_rows (or encrypt_pairs) */
            he_value *cs = he_calloc((size_t)in->rows, sizeof *cs);
            unsigned half = lv->n / 2, h = in->cols < (int64_t)half ? (unsigned)in->cols : half;
            if (!cs || (in->pairs ? in->cols > (int64_t)lv->n : in->cols > (int64_t)slots)) {
                he_free(cs);
                rc = !cs                ? -1
                     : in->pairs ? he_error("ckks.plan: rows of %lld values exceed the %u of N=%u (two per slot)",
                                            (long long)in->cols, lv->n, lv->n)
                                 : he_error("ckks.plan: rows of %lld values exceed the %u slots", (long long)in->cols,
                                            slots);
                break;
            }
            double s = lv->lscale[lv->depth];
            run->f0 = fresh_var(s);
            for (int64_t r = 0; rc == 0 && r < in->rows; r++) {
                /* pairs: the real and imaginary parts of min(N/2, n) slots, each part
                ** with the fresh error (a fresh ciphertext of pairs is not clean) */
                sct *c = in->pairs ? sct_alloc(in->cols, false, false, lv->depth, s, 2 * h)
                                   : sct_new(in->cols, false, true, lv->depth, s);
                if (!c) {
                    rc = -1;
                    break;
                }
                c->pairs = in->pairs;
                c->half = half;
                for (unsigned k = 0; k < c->slots; k++) c->var[k] = run->f0;
                for (unsigned k = 0; !in->pairs && k < slots; k++)
                    c->v[k] = (int64_t)k < in->cols ? in->v[r * in->cols + k] : 0.0;
                for (int64_t k = 0; in->pairs && k < in->cols; k++) c->v[pair_at(c, k)] = in->v[r * in->cols + k];
                cs[r] = he_objv(&c->obj);
            }
            if (rc == 0) rc = ckks_shadow_batch(cs, in->rows, &args[i]);
            for (int64_t r = 0; r < in->rows; r++) he_release(cs[r]);
            he_free(cs);
            continue;
        }
        int64_t per = in->tiled ? (int64_t)pow2_ge(in->n) : 0;
        if (per && per > (int64_t)slots && (rc = wider()) < 0) break; /* a tiled input fills every slot */
        if (in->n > (int64_t)slots || per > (int64_t)slots) {
            rc = he_error("ckks.plan: an input of %lld values exceeds the %u slots", (long long)in->n, slots);
            break;
        }
        double s = lv->lscale[lv->depth];
        run->f0 = fresh_var(s);
        sct *c = sct_new(in->n, false, true, lv->depth, s);
        if (!c) {
            rc = -1;
            break;
        }
        c->src = i;
        for (unsigned k = 0; k < slots; k++) {
            int64_t at = per ? (int64_t)k % per : (int64_t)k;
            c->v[k] = at < in->n ? in->v[at] : 0.0;
            c->g[k] = 1.0;
        }
        if (per) {
            c->clean = false;
            c->period = per;
        }
        track(c, "input");
        args[i] = he_objv(&c->obj);
    }
    he_value ret = he_nil();
    if (rc == 0) rc = he_vm_call(jb->vm, jb->fn, args, jb->nargs, &ret);
    for (int i = 0; args && i < jb->nargs; i++) he_release(args[i]);
    he_free(args);
    he_obj **items;
    int64_t nitems = 0;
    if (rc == 0 && ckks_is_batch(ret, &items, &nitems) && nitems > 0) {
        /* a batch of results: the one with the largest error stands for it */
        sct *worst = NULL;
        double we = -1;
        for (int64_t i = 0; i < nitems; i++) {
            double e = rms_error((const sct *)items[i]);
            if (e > we) we = e, worst = (sct *)items[i];
        }
        worst->obj.rc++;
        he_release(ret);
        ret = he_objv(&worst->obj);
    }
    if (rc == 0 && !he_is(ret, &sct_type)) {
        rc = he_error("ckks.plan: the function must return a ciphertext (or a batch of them) computed from its "
                      "ckks.input arguments, not %s",
                      he_typename(ret));
        he_release(ret);
    }
    cur = saved;
    free(run->ksprof);
    run->ksprof = NULL;
    if (rc < 0) return -1;
    *result = (sct *)ret.as.o;
    return 0;
}

static double rms_error(const sct *r)
{
    int64_t n = r->scalar ? 1 : r->n;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += total_var(r, r->pairs ? pair_at(r, i) : (unsigned)i);
    return sqrt(s / (double)n);
}

/* The slots a pass on the chain lv keeps: all N/2, or the width in use. */
static unsigned pass_slots(int64_t width, const ckks_levels *lv)
{
    return width && width < (int64_t)lv->n / 2 ? (unsigned)width : lv->n / 2;
}

/* The fake chain of pass 1: many levels, every scale and prime 2^40. */
static void pass1_levels(ckks_levels *lv)
{
    memset(lv, 0, sizeof *lv);
    lv->n = 32768;
    lv->depth = PASS1_LEVELS;
    lv->sbits = PASS1_BITS;
    for (int i = 0; i <= PASS1_LEVELS + 1; i++) {
        lv->q[i] = ldexp(1.0, PASS1_BITS);
        lv->lscale[i] = ldexp(1.0, PASS1_BITS);
        lv->bits[i] = PASS1_BITS;
    }
}

/* The levels of the secure chain for N, the scale and the depth. */
static int levels_for(int64_t n, int sbits, int depth, ckks_levels *lv)
{
    he_value ctx;
    if (ckks_make_context(n, sbits, depth, &ctx) < 0) return -1;
    int rc = ckks_context_levels(ctx, lv);
    he_release(ctx);
    return rc;
}

int ckks_f_plan(he_vm *vm, he_value *a, int n, he_value *out)
{
    he_value fn = a[0];
    job jb = {.vm = vm, .fn = fn, .args = he_calloc((size_t)n, sizeof(he_value)), .nargs = 0};
    if (!jb.args) return -1;
    double target = ldexp(1.0, -DEFAULT_ERROR_BITS);
    bool have_ctx = false;
    ckks_levels lv;
    int64_t maxlen = 1, inputs[8] = {0}, rows[8] = {0};
    bool pairs[8] = {0};
    int ninputs = 0;
    for (int i = 1; i < n; i++) {
        if (he_is(a[i], &cprec_type)) target = ((const cprec *)a[i].as.o)->err;
        else if (ckks_is_context(a[i])) {
            if (ckks_context_levels(a[i], &lv) < 0) goto fail;
            have_ctx = true;
        } else if (ckks_is_plan(a[i])) { /* against another plan's parameters */
            const cplan *o = (const cplan *)a[i].as.o;
            if (levels_for(o->lv.n, o->lv.sbits, o->lv.depth, &lv) < 0) goto fail;
            have_ctx = true;
        } else {
            if (he_is(a[i], &cinput_type)) {
                const cinput *ci = (const cinput *)a[i].as.o;
                int64_t len = ci->rows ? ci->cols : ci->n;
                int64_t need = ci->pairs ? (len + 1) / 2 : len; /* pairs: two per slot */
                if (need > maxlen) maxlen = need;
                if (ninputs < 8) pairs[ninputs] = ci->pairs, rows[ninputs] = ci->rows, inputs[ninputs++] = len;
            }
            jb.args[jb.nargs++] = a[i];
        }
    }
    if (ninputs == 0) {
        he_error("ckks.plan: no encrypted argument: give each one as ckks.input(length) or ckks.input(samples)");
        goto fail;
    }
    prun run;
    sct *res = NULL;
    int depth;
    ckks_levels l1;
    pass1_levels(&l1);
    unsigned s1 = 2048; /* the slots of the smallest ring: rotations by steps below it behave alike */
    while (s1 < maxlen) s1 <<= 1;
    /* pass 1 keeps the slots of the longest input first, and all of them
    ** only when the function rotates, sums across slots or makes a longer
    ** vector */
    unsigned w1 = maxlen < (int64_t)s1 ? (unsigned)maxlen : s1;
    int rc1 = run_pass(&jb, &l1, w1, w1 < s1, &run, &res);
    if (rc1 < 0 && run.all_slots && w1 < s1) rc1 = run_pass(&jb, &l1, s1, false, &run, &res);
    if (rc1 < 0) goto fail;
    he_release(he_objv(&res->obj));
    depth = l1.depth - run.minlevel;
    /* Without rotations and sums every operation is slot-wise, so the real
    ** chains' passes keep only the slots in use (the longest vector made),
    ** not N/2: the same values, levels, counts and errors, at a fraction of
    ** the time and memory (a batch of 845 ciphertexts of a few slots). */
    int64_t width = run.all_slots ? 0 : (run.widest > maxlen ? run.widest : maxlen);
    if (have_ctx && depth > lv.depth) { /* the operation that goes past the context's chain */
        int l = l1.depth - lv.depth - 1;
        he_error("ckks.plan: the function needs depth %d, the context has %d: %s at line %d goes past its last "
                 "level (plan without the context, or make it with depth >= %d)",
                 depth, lv.depth, run.spend_what[l], run.spend_line[l], depth);
        goto fail;
    }
    if (!have_ctx) {
        /* the smallest N, then the smallest scale at that N, whose
        ** predicted error meets the target (the error is about
        ** proportional to 2^-bits; each candidate is checked by a run) */
        static const int64_t ns[] = {4096, 8192, 16384, 32768};
        bool ok = false;
        double last_err = 0;
        for (int ni = 0; ni < 4 && !ok; ni++) {
            if (ns[ni] / 2 < maxlen) continue;
            int sbits = 30, best = 0, ceiling = 51; /* ceiling: the scales from there overflow */
            for (int tries = 0; tries < 12; tries++) {
                he_ckks_params pp;
                if (sbits < 20 || sbits >= ceiling ||
                    ckks_chain_params(ns[ni], sbits, depth, false, &pp) != CKKS_BAD_NONE) {
                    if (sbits > 20 && !best) { sbits--; continue; } /* maybe fewer bits still fit and suffice */
                    break;
                }
                if (levels_for(ns[ni], sbits, depth, &lv) < 0) { /* too few primes of that size for N */
                    if (best && sbits + 1 >= best) break;
                    sbits++;
                    continue;
                }
                if (run_pass(&jb, &lv, pass_slots(width, &lv), false, &run, &res) < 0) goto fail;
                double err = run.overflow_line ? INFINITY : rms_error(res);
                int used = lv.depth - run.minlevel;
                he_release(he_objv(&res->obj));
                if (run.overflow_line) {
                    /* more headroom: where the 128-bit bound cuts the first
                    ** prime short, a smaller scale leaves it more bits;
                    ** otherwise a larger scale gives a larger first prime */
                    if (pp.bits[0] < sbits + 20 && pp.bits[0] < 60) {
                        ceiling = sbits;
                        if (best) break;
                        sbits--;
                    } else sbits++;
                    continue;
                }
                if (used != depth) { /* the real scales spent another level: plan for it */
                    depth = used;
                    continue;
                }
                last_err = err;
                int more = err > target ? (int)ceil(log2(err / target)) : (int)floor(log2(err / target)) + 1;
                if (err <= target) best = best && best < sbits ? best : sbits;
                if (err <= target && (more >= 0 || sbits <= 20)) break;
                int next = sbits + (more == 0 ? 1 : more);
                if (next < 20) next = 20;
                if (next >= ceiling) {
                    if (sbits >= ceiling - 1) break;
                    next = ceiling - 1;
                }
                if (best && next >= best) break;
                sbits = next;
            }
            if (best) {
                if (levels_for(ns[ni], best, depth, &lv) < 0 ||
                    run_pass(&jb, &lv, pass_slots(width, &lv), false, &run, &res) < 0)
                    goto fail;
                ok = true;
            }
        }
        if (!ok) {
            he_error("ckks.plan: no 128-bit-secure parameters up to N=32768 give depth %d with an rms error of %g "
                     "(%g at the last try); ask for less precision",
                     depth, target, last_err);
            goto fail;
        }
    } else {
        if (run_pass(&jb, &lv, pass_slots(width, &lv), false, &run, &res) < 0) goto fail;
        if (run.overflow_line) {
            he_release(he_objv(&res->obj));
            he_error("ckks.plan: a value at line %d outgrows the modulus left at level %d of the context (largest "
                     "value %.3g at scale 2^%d): use a context with a larger first prime (scale) or smaller values",
                     run.overflow_line, run.overflow_level, run.maxabs, lv.sbits);
            goto fail;
        }
    }
    cplan *p = he_calloc(1, sizeof *p);
    if (!p) {
        he_release(he_objv(&res->obj));
        goto fail;
    }
    he_obj_init(&p->obj, &cplan_type);
    {
        he_buf rb = {0}; /* the function as the VM prints it */
        if (he_repr(fn, &rb, false) == 0 && rb.data) p->fname = strdup(rb.data);
        he_buf_free(&rb);
    }
    if (!p->fname) p->fname = strdup("a function");
    p->lv = lv;
    p->depth = lv.depth - run.minlevel;
    memcpy(p->spend_line, run.spend_line, sizeof p->spend_line);
    memcpy(p->spend_file, run.spend_file, sizeof p->spend_file);
    memcpy(p->spend_what, run.spend_what, sizeof p->spend_what);
    memcpy(p->spend_scale, run.spend_scale, sizeof p->spend_scale);
    p->cnt = run.cnt;
    memcpy(p->steps, run.steps, sizeof p->steps);
    p->nsteps = run.nsteps;
    p->seconds = run.seconds;
    p->err = rms_error(res);
    p->target = target;
    p->maxabs = run.maxabs;
    /* a pending result decrypts as it is; it is shown as it would settle */
    p->res_scale = res->lazy ? res->scale / lv.q[res->level] : res->scale;
    p->res_level = res->level - (res->lazy ? 1 : 0);
    p->res_n = res->n;
    p->res_scalar = res->scalar;
    p->against = have_ctx;
    memcpy(p->inputs, inputs, sizeof inputs);
    memcpy(p->rows, rows, sizeof rows);
    memcpy(p->pairs, pairs, sizeof pairs);
    p->res_pairs = res->pairs;
    p->conj = run.conj;
    p->ninputs = ninputs;
    he_release(he_objv(&res->obj));
    he_free(jb.args);
    *out = he_objv(&p->obj);
    if (vm->plan_only) {
        he_buf b = {0};
        if (he_repr(*out, &b, false) == 0) printf("%s\n", b.data);
        he_buf_free(&b);
    }
    return 0;
fail:
    he_free(jb.args);
    return -1;
}
