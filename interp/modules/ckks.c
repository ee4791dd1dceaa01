/*
** modules/ckks.c: `import ckks`: CKKS contexts, keys and ciphertexts as values.
**
**   let ctx = ckks.context(8192, 40, 3)       # N, scale 2^40, multiplicative depth 3
**   let k = ckks.keygen(ctx, [1, 2])           # secret, public, relinearization keys,
**                                              # Galois keys for rotations by 1 and 2
**   let c = ckks.encrypt(k, [0.5, -1.0, 2.0])  # a vector of up to N/2 real slots
**   let d = c * c * 0.25 - c + 1.0             # relinearize and rescale are automatic
**   ckks.decrypt(k, ckks.sum(d))               # float (sum across slots)
**
** The context picks its modulus chain from the depth: the first prime has
** the scale's bits plus up to 20 bits of headroom for the integer part,
** then one prime of the scale's size per level, and a special prime (for
** key switching) as large as the first one; the total must stay within the
** HomomorphicEncryption.org 128-bit bound for N (109, 218, 438, 881 bits at
** N = 4096 ... 32768), or the context is refused, at compile time when the
** arguments are literals. ckks.context_insecure opts out (any power-of-two
** N from 16, for tests) and every run then warns.
**
** A value of type cipher<ckks> is one CKKS ciphertext holding a vector of n
** <= N/2 reals in its first n slots (an encrypted scalar is its value in
** every slot, so it broadcasts). Operators:
**   + -     cipher and cipher (same length, or a scalar with a vector),
**           cipher and plaintext (number or 1-D tensor), unary -
**   *       cipher by cipher (multiply; relinearize and rescale when next
**           used other than by + and -: one level; see settle),
**           by a float or a tensor (encoded, multiplied, rescaled: one
**           level),
**           by an int (exact, no level)
**   /       by a plaintext number or tensor only (a product by 1/x)
**   others  refused at compile time (no encrypted comparison, division by
**           a ciphertext, '@', '%', '**')
** Scales: each level l has one scale, lscale[l] (the top level the
** context's 2^bits; below, lscale[l-1] = lscale[l]^2 / q_l, where a product
** of two ciphertexts of level l lands after its rescale); a product by a
** plaintext encodes the plaintext at lscale[l-1] * q_l / scale so that it
** lands there too. Before + and - (and *) the operand at the higher level
** is brought down by a mod-switch, and when the scales differ the last
** level it drops is a product by 1 at the scale that makes the rescale land
** exactly on the other operand's scale. So terms of one level always add
** without spending a level (x*x + x*0.5). Where small primes with a deep
** chain would pull lscale more than a bit away from 2^bits, every level
** keeps 2^bits instead, and a sum of two terms of one level with different
** scales then spends one level to align them.
** Running out of levels is a run-time error naming the depth to ask for.
**
** Slots beyond n are kept at zero where the operations allow it (the
** ciphertext is "clean"); a rotation or adding an encrypted scalar to a
** vector fills them, and ckks.sum then masks them first (one level).
** Printing a ciphertext shows its parameters, never a plaintext.
*/
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "ckks_plan.h"
#include "interp.h"
#include "ckks_values.h"
#include "modutil.h"

#define CT_NAME CKKS_CT_NAME
#define CTX_NAME "ckks_context"
#define KEYS_NAME "ckks_keys"
#define BATCH_NAME "ckks_batch"

#define MIN_SCALE_BITS 20
#define MAX_SCALE_BITS 50
#define HEADROOM_BITS 20     /* preferred bits of the first prime above the scale */
#define MIN_HEADROOM_BITS 5  /* fewest accepted: values below 2^4 at level 0 */
#define MAX_DEPTH (HE_CKKS_MAX_PRIMES - 2)
#define SAME_SCALE 1e-10     /* relative difference treated as equal scales */

/* --- parameters ------------------------------------------------------------------------ */
enum { BAD_NONE, BAD_N, BAD_SCALE, BAD_DEPTH };

/* Fills p with the chain for N, scale 2^sbits and the depth; returns BAD_NONE
** or which argument is wrong (he_error set). */
static int chain_params(int64_t n, int64_t sbits, int64_t depth, bool insecure, he_ckks_params *p)
{
    int bound = (n > 0 && n <= 32768) ? he_ckks_max_bits((unsigned)n) : 0;
    if (!insecure && !bound)
        return he_error("ckks: N=%lld is not a 128-bit secure ring dimension: use 4096, 8192, 16384 or 32768 "
                        "(ckks.context_insecure opts out, for tests only)", (long long)n),
               BAD_N;
    if (insecure && (n < 16 || n > 32768 || (n & (n - 1))))
        return he_error("ckks: N must be a power of two in [16, 32768], not %lld", (long long)n), BAD_N;
    if (sbits < MIN_SCALE_BITS || sbits > MAX_SCALE_BITS)
        return he_error("ckks: the scale is 2^bits with bits in [%d, %d], not %lld", MIN_SCALE_BITS, MAX_SCALE_BITS,
                        (long long)sbits),
               BAD_SCALE;
    if (depth < 0 || depth > MAX_DEPTH)
        return he_error("ckks: the depth must be in [0, %d], not %lld", MAX_DEPTH, (long long)depth), BAD_DEPTH;
    int s = (int)sbits, d = (int)depth;
    int first = s + HEADROOM_BITS > 60 ? 60 : s + HEADROOM_BITS;
    if (!insecure) {
        int room = (bound - d * s) / 2; /* the first and the special prime share what is left */
        if (room < first) first = room;
        if (first < s + MIN_HEADROOM_BITS) {
            int rest = bound - 2 * (s + MIN_HEADROOM_BITS); /* bits left for the levels */
            int most = rest >= 0 ? rest / s : -1;
            if (most < 0)
                return he_error("ckks: a scale of 2^%d does not fit at N=%lld within the 128-bit bound of %d bits; "
                                "use a smaller scale or a larger N", s, (long long)n, bound),
                       BAD_SCALE;
            return he_error("ckks: depth %d does not fit at N=%lld with scale 2^%d: log2(qP) would be %d bits, "
                            "over the 128-bit bound of %d; the most is depth %d (or use a smaller scale or a "
                            "larger N)", d, (long long)n, s, 2 * (s + MIN_HEADROOM_BITS) + d * s, bound, most),
                   BAD_DEPTH;
        }
    }
    memset(p, 0, sizeof *p);
    p->n = (unsigned)n;
    p->nprimes = (unsigned)d + 2;
    p->bits[0] = first;
    for (int i = 1; i <= d; i++) p->bits[i] = s;
    p->bits[d + 1] = first; /* the special prime: at least as large as any data prime */
    p->scale = ldexp(1.0, s);
    p->insecure = insecure;
    return BAD_NONE;
}

int ckks_chain_params(int64_t n, int64_t sbits, int64_t depth, bool insecure, he_ckks_params *p)
{
    return chain_params(n, sbits, depth, insecure, p);
}

/* What real ciphertexts went through, for ckks.counts() (the planner's
** predictions are compared with it). */
ckks_counts ckks_real_counts;

int ckks_counts_str(const ckks_counts *c, he_value *out)
{
    he_buf b = {0};
    if (he_buf_printf(&b, "products %ld, relinearizations %ld, plain products %ld, rotations %ld, key switches %ld, "
                          "rescales %ld", c->products, c->relins, c->plain_products, c->rotations, c->keyswitches,
                      c->rescales) < 0) {
        he_buf_free(&b);
        return -1;
    }
    he_str *str = he_str_new(b.data, b.len);
    he_buf_free(&b);
    if (!str) return -1;
    *out = he_objv(&str->obj);
    return 0;
}

/* --- the context object ------------------------------------------------------------------- */
typedef struct cctx {
    he_obj obj;
    he_ckks_ctx *ctx;
    int depth, sbits;
    bool insecure;
    /* the scale of every ciphertext at level l: lscale[depth] = 2^sbits, then
    ** lscale[l-1] = lscale[l]^2 / q_l, what a product of two ciphertexts at
    ** level l gives after its rescale; products by plaintexts are encoded
    ** so that they land on it too, so operands at one level always share
    ** a scale and + and - never spend a level on scales */
    double lscale[HE_CKKS_MAX_PRIMES];
} cctx;

static void cctx_free(he_obj *o)
{
    cctx *c = (cctx *)o;
    he_ckks_ctx_free(c->ctx);
    free(c);
}

static int cctx_repr(const he_obj *o, he_buf *b)
{
    const cctx *c = (const cctx *)o;
    return he_buf_printf(b, "<ckks context N=%u depth %d scale 2^%d log2(qP)=%d%s>", he_ckks_ctx_n(c->ctx), c->depth,
                         c->sbits, he_ckks_ctx_total_bits(c->ctx), c->insecure ? " INSECURE" : "");
}

static const he_type cctx_type = {.name = CTX_NAME, .free = cctx_free, .repr = cctx_repr};

/* --- the key object ------------------------------------------------------------------------ */
typedef struct ckeys {
    he_obj obj;
    cctx *c;        /* retained */
    he_ckks_keys *k;
    uint8_t id[32]; /* BLAKE2b of the public key: ciphertexts under one key set match */
} ckeys;

static void ckeys_free(he_obj *o)
{
    ckeys *k = (ckeys *)o;
    he_ckks_keys_free(k->k); /* wipes the secret key */
    he_release(he_objv(&k->c->obj));
    free(k);
}

static int ckeys_repr(const he_obj *o, he_buf *b)
{
    const ckeys *k = (const ckeys *)o;
    unsigned parts = he_ckks_keys_parts(k->k);
    return he_buf_printf(b, "<ckks keys N=%u:%s%s%s%s>", he_ckks_ctx_n(k->c->ctx),
                         parts & HE_CKKS_PART_SECRET ? " secret" : "", parts & HE_CKKS_PART_PUBLIC ? " public" : "",
                         parts & HE_CKKS_PART_RELIN ? " relin" : "", parts & HE_CKKS_PART_GALOIS ? " galois" : "");
}

static const he_type ckeys_type = {.name = KEYS_NAME, .free = ckeys_free, .repr = ckeys_repr};

static ckeys *ckeys_new(cctx *c)
{
    ckeys *k = he_malloc(sizeof *k);
    if (!k) return NULL;
    he_obj_init(&k->obj, &ckeys_type);
    k->k = he_ckks_keys_new(c->ctx);
    k->c = c;
    c->obj.rc++;
    memset(k->id, 0, sizeof k->id);
    if (!k->k) {
        ckeys_free(&k->obj);
        return NULL;
    }
    return k;
}

/* The key set's identity: a hash of its public key. */
static int ckeys_set_id(ckeys *k)
{
    if (!(he_ckks_keys_parts(k->k) & HE_CKKS_PART_PUBLIC)) return he_error("ckks: the key set has no public key");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (he_ckks_keys_serialize(k->k, HE_CKKS_PART_PUBLIC, &buf, &len) < 0) return -1;
    crypto_generichash(k->id, sizeof k->id, buf, len, NULL, 0);
    he_free(buf);
    return 0;
}

/* --- the ciphertext object ------------------------------------------------------------------ */
typedef struct cct {
    he_obj obj;
    ckeys *keys;    /* retained: the evaluation keys (and the context) */
    he_ckks_ct *ct;
    int64_t n;      /* length of the vector (1 for a scalar) */
    bool scalar;    /* the value is in every slot */
    bool clean;     /* a vector whose slots from n on are zero */
    int64_t period; /* slots repeat every period slots (a ckks.matvec result;
                    ** 1: a scalar); 0: not known to */
    bool pairs;     /* complex packing (ckks.encrypt_pairs): n <= N reals, value
                    ** k in slot k mod N/2, its real part for k < N/2, its
                    ** imaginary part from N/2 on */
} cct;

static const he_type cct_type;
static int eff_level(const cct *c);
static double eff_scale(const cct *c);

static void cct_free(he_obj *o)
{
    cct *c = (cct *)o;
    he_ckks_ct_free(c->ct);
    he_release(he_objv(&c->keys->obj));
    free(c);
}

static double log2_scale(double s) { return log2(s); }

static int cct_repr(const he_obj *o, he_buf *b)
{
    const cct *c = (const cct *)o;
    const he_ckks_ctx *ctx = c->keys->c->ctx;
    char len[32] = "";
    if (!c->scalar) snprintf(len, sizeof len, "%s [%lld]", c->pairs ? " pairs" : "", (long long)c->n);
    return he_buf_printf(b, "<cipher ckks%s N=%u level %d/%d scale 2^%.4g slots %u>", len, he_ckks_ctx_n(ctx),
                         eff_level(c), he_ckks_ctx_max_level(ctx), log2_scale(eff_scale(c)),
                         he_ckks_ctx_slots(ctx));
}

static int cct_len(const he_obj *o, int64_t *n)
{
    const cct *c = (const cct *)o;
    if (c->scalar) return he_error("len: an encrypted scalar has no length");
    *n = c->n;
    return 0;
}

static cct *cct_new(ckeys *k, int64_t n, bool scalar, bool clean)
{
    cct *c = he_malloc(sizeof *c);
    if (!c) return NULL;
    he_obj_init(&c->obj, &cct_type);
    c->keys = k;
    k->obj.rc++;
    c->n = n;
    c->scalar = scalar;
    c->clean = clean && !scalar;
    c->period = scalar ? 1 : 0;
    c->pairs = false;
    c->ct = he_ckks_ct_new(k->c->ctx);
    if (!c->ct) {
        cct_free(&c->obj);
        return NULL;
    }
    return c;
}

static void drop(cct *c)
{
    if (c) he_release(he_objv(&c->obj));
}

static int put(cct *r, int rc, he_value *out)
{
    if (rc < 0 || !r) {
        drop(r);
        return -1;
    }
    *out = he_objv(&r->obj);
    return 0;
}

static const he_ckks_ctx *ctx_of(const cct *c) { return c->keys->c->ctx; }

/* What complex packing cannot do slot by slot (its two reals per slot would
** mix): refused with what to use instead. */
static int no_pairs(const cct *c, const char *what)
{
    if (!c->pairs) return 0;
    return he_error("ckks: %s of a ciphertext of pairs (ckks.encrypt_pairs) is not defined; pairs take +, -, "
                    "products by numbers, ckks.linear and ckks.square_pairs", what);
}

/* --- levels and scales ------------------------------------------------------------------------ */
static int exhausted(const cctx *c, const char *what)
{
    return he_error("CKKS modulus chain exhausted: depth %d used, %d available; build the context with depth >= %d "
                    "(%s)", c->depth + 1, c->depth, c->depth + 1, what);
}

static bool same_scale(double a, double b) { return fabs(a - b) <= SAME_SCALE * fmax(fabs(a), fabs(b)); }

/* out := a at level l and scale s (level(a) >= l). A change of scale is a
** product by 1 at a chosen scale, then the rescale of level l + 1, so it
** needs level(a) > l. */
static int to_level_scale(const he_ckks_ctx *ctx, he_ckks_ct *out, const he_ckks_ct *a, int l, double s)
{
    double sa = he_ckks_ct_scale(a);
    if (same_scale(sa, s)) return he_ckks_mod_down(ctx, out, a, l);
    if (he_ckks_ct_level(a) <= l) return he_error("ckks: internal: scale alignment without a level to spend");
    if (he_ckks_mod_down(ctx, out, a, l + 1) < 0) return -1;
    double r = s * (double)he_ckks_ctx_prime(ctx, (unsigned)l + 1) / sa;
    if (!(r >= 0x1p20 && r < 0x1p61))
        return he_error("ckks: cannot align the scales 2^%.4g and 2^%.4g", log2(sa), log2(s));
    if (he_ckks_mul_scalar(ctx, out, out, 1.0, r) < 0 || he_ckks_rescale(ctx, out, out) < 0) return -1;
    ckks_real_counts.rescales++;
    he_ckks_ct_set_scale(out, s);
    return 0;
}

/* Brings a and b to one level and scale: *x and *y are a and b, or tx and
** ty holding the moved copies. */
static int align(const cct *ca, const he_ckks_ct *a, const he_ckks_ct *b, he_ckks_ct *tx, he_ckks_ct *ty,
                 const he_ckks_ct **x, const he_ckks_ct **y)
{
    const he_ckks_ctx *ctx = ctx_of(ca);
    int la = he_ckks_ct_level(a), lb = he_ckks_ct_level(b);
    double sa = he_ckks_ct_scale(a), sb = he_ckks_ct_scale(b);
    *x = a;
    *y = b;
    if (la == lb) {
        if (same_scale(sa, sb)) return 0;
        if (la == 0) return exhausted(ca->keys->c, "aligning two scales at level 0");
        if (he_ckks_mod_down(ctx, tx, a, la - 1) < 0 || to_level_scale(ctx, ty, b, la - 1, sa) < 0) return -1;
        *x = tx;
        *y = ty;
        return 0;
    }
    if (la > lb) {
        if (to_level_scale(ctx, tx, a, lb, sb) < 0) return -1;
        *x = tx;
    } else {
        if (to_level_scale(ctx, ty, b, la, sa) < 0) return -1;
        *y = ty;
    }
    return 0;
}

/* --- plaintext operands ---------------------------------------------------------------------- */
typedef struct plain {
    bool tensor;
    bool is_int; /* an int scalar: products are exact */
    int64_t i;
    double x;    /* a scalar */
    int64_t n;   /* a tensor's length */
    double *v;   /* owned copy of a tensor's elements */
} plain;

static int plain_of(he_value v, plain *p, const char *what)
{
    memset(p, 0, sizeof *p);
    switch (v.tag) {
    case HE_INT: p->is_int = true; p->i = v.as.i; p->x = (double)v.as.i; return 0;
    case HE_FLOAT: p->x = v.as.f; return 0;
    case HE_FIXED: p->x = he_fixed_to_double(v.as.i, v.frac); return 0;
    default: break;
    }
    if (!he_is_tensor(v)) return he_error("ckks: cannot %s a ciphertext and %s", what, he_typename(v));
    he_tensor *t = he_as_tensor(v);
    if (t->ndim != 1) return he_error("ckks: plaintext tensors must be 1-D, not %d-D", t->ndim);
    if (t->dtype == HE_DT_BOOL) return he_error("ckks: cannot use a bool tensor");
    p->tensor = true;
    p->n = t->size;
    p->v = malloc(sizeof(double) * (size_t)(t->size ? t->size : 1));
    if (!p->v) return he_error("out of memory");
    for (int64_t k = 0; k < t->size; k++)
        p->v[k] = t->dtype == HE_DT_FLOAT ? t->data.f[k]
                  : t->dtype == HE_DT_INT ? (double)t->data.i[k]
                                          : he_fixed_to_double(t->data.i[k], t->frac);
    return 0;
}

static void plain_done(plain *p)
{
    if (p->v) he_memzero(p->v, sizeof(double) * (size_t)p->n);
    free(p->v);
    p->v = NULL;
}

static int check_len(const cct *c, int64_t m)
{
    if (m < 1) return he_error("ckks: an empty plaintext tensor");
    if (m > (int64_t)he_ckks_ctx_slots(ctx_of(c)))
        return he_error("ckks: %lld values exceed the %u slots", (long long)m, he_ckks_ctx_slots(ctx_of(c)));
    if (!c->scalar && m != c->n)
        return he_error("ckks: length mismatch (a ciphertext of %lld and a plaintext of %lld)", (long long)c->n,
                        (long long)m);
    return 0;
}

/* Lazy relinearization and rescaling: a product of two ciphertexts at
** level l is left as the tensor product (three parts: c0, c1, c2, which
** decrypt with s and s^2), at level l and scale lscale[l]^2; sums and
** differences of such products of one level stay so, as do negation and a
** product by an int, and decryption reads them as they are. Anything else
** (another product, a plaintext operand, a rotation, a sum across slots, a
** dot product, save, flood, or a term of another kind) first settles the
** value in place: relinearize, then rescale (level l - 1, scale
** lscale[l - 1], as an eager product would give; the key switch's error
** vanishes in the rescale). The value does not change, so every holder of
** it gains. A sum of k products relinearizes and rescales once, not k
** times. */
static bool pending(const cct *c) { return he_ckks_ct_size(c->ct) == 3; }

static int settle(cct *c)
{
    if (!pending(c)) return 0;
    if (he_ckks_relin_rescale(c->keys->k, c->ct, c->ct) < 0) return -1; /* one relinearization, one rescale */
    ckks_real_counts.relins++;
    ckks_real_counts.keyswitches++;
    ckks_real_counts.rescales++;
    return 0;
}

/* The level and scale a value has once settled. */
static int eff_level(const cct *c) { return he_ckks_ct_level(c->ct) - (pending(c) ? 1 : 0); }
static double eff_scale(const cct *c)
{
    double s = he_ckks_ct_scale(c->ct);
    return pending(c) ? s / (double)he_ckks_ctx_prime(ctx_of(c), (unsigned)he_ckks_ct_level(c->ct)) : s;
}

/* --- arithmetic ------------------------------------------------------------------------------ */
/* The period of a combination of a and b slot by slot (powers of two). */
static int64_t same_period(const cct *a, const cct *b)
{
    if (!a->period || !b->period) return 0;
    return a->period > b->period ? a->period : b->period;
}

static int add_sub(he_op op, cct *a, cct *b, he_value *out)
{
    if (a->keys->c != b->keys->c || memcmp(a->keys->id, b->keys->id, sizeof a->keys->id) != 0)
        return he_error("ckks: ciphertexts under different keys");
    if (!a->scalar && !b->scalar && a->n != b->n)
        return he_error("ckks: length mismatch (%lld and %lld)", (long long)a->n, (long long)b->n);
    if (a->pairs != b->pairs) return he_error("ckks: a ciphertext of pairs and one of reals cannot be combined");
    const he_ckks_ctx *ctx = ctx_of(a);
    bool scalar = a->scalar && b->scalar;
    cct *r = cct_new(a->keys, a->scalar ? b->n : a->n, scalar, a->clean && b->clean);
    if (r) r->pairs = a->pairs;
    /* two pending products of one level and scale add as they are */
    bool both = pending(a) && pending(b) && he_ckks_ct_level(a->ct) == he_ckks_ct_level(b->ct) &&
                same_scale(he_ckks_ct_scale(a->ct), he_ckks_ct_scale(b->ct));
    if (!both && (settle(a) < 0 || settle(b) < 0)) {
        drop(r);
        return -1;
    }
    if (r) r->period = same_period(a, b);
    he_ckks_ct *tx = he_ckks_ct_new(ctx), *ty = he_ckks_ct_new(ctx);
    const he_ckks_ct *x, *y;
    int rc = r && tx && ty ? align(a, a->ct, b->ct, tx, ty, &x, &y) : -1;
    if (rc == 0)
        rc = op == HE_OP_ADD ? he_ckks_add(ctx, r->ct, x, y) : he_ckks_sub(ctx, r->ct, x, y);
    he_ckks_ct_free(tx);
    he_ckks_ct_free(ty);
    return put(r, rc, out);
}

/* out := a * b (settled operands): the tensor product, not relinearized
** nor rescaled (pending). */
static int mul_ct_raw(const cct *ca, he_ckks_ct *out, const he_ckks_ct *a, const he_ckks_ct *b)
{
    const he_ckks_ctx *ctx = ctx_of(ca);
    int la = he_ckks_ct_level(a), lb = he_ckks_ct_level(b), l = la < lb ? la : lb;
    if (l == 0) return exhausted(ca->keys->c, "a product at level 0");
    he_ckks_ct *t = he_ckks_ct_new(ctx);
    if (!t) return -1;
    int rc = 0;
    /* the operand above brought down to the other's level and scale */
    if (la > l) rc = to_level_scale(ctx, t, a, l, he_ckks_ct_scale(b)), a = t;
    else if (lb > l) rc = to_level_scale(ctx, t, b, l, he_ckks_ct_scale(a)), b = t;
    if (rc == 0) rc = he_ckks_mul(ctx, out, a, b); /* settled: lscale[l]^2 / q_l = lscale[l - 1] */
    if (rc == 0) ckks_real_counts.products++;
    he_ckks_ct_free(t);
    return rc;
}

static int mul_ct(cct *a, cct *b, he_value *out)
{
    if (a->keys->c != b->keys->c || memcmp(a->keys->id, b->keys->id, sizeof a->keys->id) != 0)
        return he_error("ckks: ciphertexts under different keys");
    if (!a->scalar && !b->scalar && a->n != b->n)
        return he_error("ckks: length mismatch (%lld and %lld)", (long long)a->n, (long long)b->n);
    if (no_pairs(a, "the product") < 0 || no_pairs(b, "the product") < 0) return -1;
    if (settle(a) < 0 || settle(b) < 0) return -1;
    cct *r = cct_new(a->keys, a->scalar ? b->n : a->n, a->scalar && b->scalar, a->clean || b->clean);
    if (r) r->period = same_period(a, b);
    return put(r, r ? mul_ct_raw(a, r->ct, a->ct, b->ct) : -1, out);
}

/* The scale to encode a plaintext factor at, for a ciphertext at level l
** >= 1 and scale sa, so that the product, rescaled, lands on the scale of
** level l - 1 (*res: the scale it lands on). */
static double factor_scale(const cctx *c, int l, double sa, double *res)
{
    double q = (double)he_ckks_ctx_prime(c->ctx, (unsigned)l), r = c->lscale[l - 1] * q / sa;
    if (!(r >= 0x1p20 && r <= 0x1p60)) r = q; /* far from the table: keep the scale */
    *res = sa * r / q;
    if (r == q) *res = sa;
    return r;
}

/* out := a * x for a plaintext number: an int exactly (no level), a real
** encoded at factor_scale (one level). */
static int mul_num_raw(const cct *c, he_ckks_ct *out, const he_ckks_ct *a, const plain *p)
{
    const he_ckks_ctx *ctx = ctx_of(c);
    if (p->is_int) return he_ckks_mul_int(ctx, out, a, p->i);
    int l = he_ckks_ct_level(a);
    if (l == 0) return exhausted(c->keys->c, "a product by a real at level 0");
    double res, r = factor_scale(c->keys->c, l, he_ckks_ct_scale(a), &res);
    if (he_ckks_mul_scalar(ctx, out, a, p->x, r) < 0 || he_ckks_rescale(ctx, out, out) < 0) return -1;
    ckks_real_counts.plain_products++;
    ckks_real_counts.rescales++;
    he_ckks_ct_set_scale(out, res);
    return 0;
}

static int mul_tensor_raw(const cct *c, he_ckks_ct *out, const he_ckks_ct *a, const double *v, int64_t m)
{
    const he_ckks_ctx *ctx = ctx_of(c);
    int l = he_ckks_ct_level(a);
    if (l == 0) return exhausted(c->keys->c, "a product by a plaintext vector at level 0");
    double res, r = factor_scale(c->keys->c, l, he_ckks_ct_scale(a), &res);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    int rc = pt ? 0 : -1;
    if (rc == 0) rc = he_ckks_encode(ctx, pt, v, (size_t)m, l, r);
    if (rc == 0) rc = he_ckks_mul_pt(ctx, out, a, pt);
    if (rc == 0) rc = he_ckks_rescale(ctx, out, out);
    if (rc == 0) {
        he_ckks_ct_set_scale(out, res);
        ckks_real_counts.plain_products++;
        ckks_real_counts.rescales++;
    }
    he_ckks_pt_free(pt);
    return rc;
}

/* c + p (sign +1), c - p (-1), or p - c (sign -1 with negate_ct). */
static int add_plain(cct *c, plain *p, bool negate_plain, bool negate_ct, he_value *out)
{
    const he_ckks_ctx *ctx = ctx_of(c);
    if (p->tensor && check_len(c, p->n) < 0) return -1;
    int64_t n = p->tensor ? p->n : c->n;
    bool scalar = c->scalar && !p->tensor;
    cct *r = cct_new(c->keys, n, scalar, p->tensor ? !c->scalar && c->clean : c->clean);
    if (!r) return -1;
    int rc = negate_ct ? he_ckks_neg(ctx, r->ct, c->ct) : he_ckks_ct_copy(r->ct, c->ct);
    double sgn = negate_plain ? -1.0 : 1.0;
    if (rc < 0) return put(r, rc, out);
    if (scalar) return put(r, he_ckks_add_scalar(ctx, r->ct, r->ct, sgn * p->x), out);
    /* a vector: the plaintext in the first n slots, zeros after (keeps a clean tail) */
    double *v = malloc(sizeof(double) * (size_t)n);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    if (!v || !pt) rc = he_error("out of memory");
    for (int64_t k = 0; rc == 0 && k < n; k++) v[k] = sgn * (p->tensor ? p->v[k] : p->x);
    if (rc == 0) rc = he_ckks_encode(ctx, pt, v, (size_t)n, he_ckks_ct_level(r->ct), he_ckks_ct_scale(r->ct));
    if (rc == 0) rc = he_ckks_add_pt(ctx, r->ct, r->ct, pt);
    if (v) he_memzero(v, sizeof(double) * (size_t)n);
    free(v);
    he_ckks_pt_free(pt);
    return put(r, rc, out);
}

static int cipher_plain(he_op op, cct *c, he_value pv, bool swapped, he_value *out)
{
    if (op >= HE_OP_LT && op <= HE_OP_NE)
        return he_error("CKKS ciphertexts cannot be compared (%s): decrypt first", he_op_symbol[op]);
    if (op == HE_OP_DIV && swapped) return he_error("ckks: cannot divide by a ciphertext");
    if (op != HE_OP_ADD && op != HE_OP_SUB && op != HE_OP_MUL && op != HE_OP_DIV)
        return he_error("CKKS ciphertexts support + - * and division by a plaintext, not '%s'", he_op_symbol[op]);
    plain p;
    if (plain_of(pv, &p, op == HE_OP_MUL || op == HE_OP_DIV ? "multiply" : "add") < 0) return -1;
    if (c->pairs && (p.tensor || op == HE_OP_ADD || op == HE_OP_SUB)) { /* a number adds to the real parts only */
        plain_done(&p);
        return no_pairs(c, p.tensor ? "a plaintext vector operand" : "adding a number (use ckks.linear's bias)");
    }
    if (!(op == HE_OP_MUL && p.is_int) && settle(c) < 0) { /* a product by an int keeps it pending */
        plain_done(&p);
        return -1;
    }
    int rc = -1;
    if (op == HE_OP_DIV) { /* c / x = c * (1/x) */
        if (!p.tensor && p.x == 0) {
            he_error("division by zero");
            goto done;
        }
        for (int64_t k = 0; k < p.n; k++) {
            if (p.v[k] == 0) {
                he_error("division by zero (element %lld)", (long long)k);
                goto done;
            }
            p.v[k] = 1.0 / p.v[k];
        }
        p.x = 1.0 / p.x;
        p.is_int = false;
        op = HE_OP_MUL;
    }
    if (op == HE_OP_MUL) {
        if (p.tensor && check_len(c, p.n) < 0) goto done;
        cct *r = cct_new(c->keys, p.tensor ? p.n : c->n, c->scalar && !p.tensor, p.tensor || c->clean);
        if (r && !p.tensor) r->period = c->period;
        if (r) r->pairs = c->pairs;
        rc = put(r, !r ? -1 : p.tensor ? mul_tensor_raw(c, r->ct, c->ct, p.v, p.n) : mul_num_raw(c, r->ct, c->ct, &p),
                 out);
        goto done;
    }
    /* + and - */
    rc = add_plain(c, &p, op == HE_OP_SUB && !swapped, op == HE_OP_SUB && swapped, out);
done:
    plain_done(&p);
    return rc;
}

static int cct_binop(he_op op, he_value a, he_value b, he_value *out)
{
    bool ca = he_is(a, &cct_type), cb = he_is(b, &cct_type);
    if (ca && cb) {
        cct *x = (cct *)a.as.o, *y = (cct *)b.as.o;
        switch (op) {
        case HE_OP_ADD:
        case HE_OP_SUB: return add_sub(op, x, y, out);
        case HE_OP_MUL: return mul_ct(x, y, out);
        case HE_OP_DIV: return he_error("ckks: cannot divide by a ciphertext");
        default:
            if (op >= HE_OP_LT && op <= HE_OP_NE)
                return he_error("CKKS ciphertexts cannot be compared (%s): decrypt first", he_op_symbol[op]);
            return he_error("CKKS ciphertexts support + - * and division by a plaintext, not '%s'", he_op_symbol[op]);
        }
    }
    if (ca) return cipher_plain(op, (cct *)a.as.o, b, false, out);
    return cipher_plain(op, (cct *)b.as.o, a, true, out);
}

static int cct_unop(he_op op, he_value a, he_value *out)
{
    cct *c = (cct *)a.as.o;
    if (op != HE_OP_NEG) return he_error("ckks: cannot apply '%s' to a ciphertext", he_op_symbol[op]);
    cct *r = cct_new(c->keys, c->n, c->scalar, c->clean);
    if (r) r->period = c->period;
    if (r) r->pairs = c->pairs;
    return put(r, r ? he_ckks_neg(ctx_of(c), r->ct, c->ct) : -1, out);
}

static const he_type cct_type = {
    .name = CT_NAME, .free = cct_free, .repr = cct_repr, .binop = cct_binop, .unop = cct_unop, .len = cct_len,
    .method = ckks_value_method,
};

/* --- batches: many ciphertexts, for the fused dot product ------------------------------------- */
typedef struct cbatch {
    he_obj obj;
    cct **v;        /* or, in a shadow batch, the planner's shadow ciphertexts */
    int64_t n, cap;
    bool shadow;    /* made while planning: holds shadows (ckks_plan.c) */
} cbatch;

static void cbatch_free(he_obj *o)
{
    cbatch *b = (cbatch *)o;
    for (int64_t i = 0; i < b->n; i++) drop(b->v[i]);
    free(b->v);
    free(b);
}

static int cbatch_repr(const he_obj *o, he_buf *b)
{
    return he_buf_printf(b, "<ckks batch of %lld ciphertexts>", (long long)((const cbatch *)o)->n);
}

static int cbatch_len(const he_obj *o, int64_t *n)
{
    *n = ((const cbatch *)o)->n;
    return 0;
}

static const he_type cbatch_type = {.name = BATCH_NAME, .free = cbatch_free, .repr = cbatch_repr, .len = cbatch_len};

static cbatch *cbatch_new(void)
{
    cbatch *b = he_calloc(1, sizeof *b);
    if (b) he_obj_init(&b->obj, &cbatch_type);
    return b;
}

/* out = the batch r made when rc is 0; otherwise r (if any) is freed: -1. */
static int batch_result(cbatch *r, int rc, he_value *out)
{
    if (rc < 0) {
        if (r) cbatch_free(&r->obj);
        return -1;
    }
    *out = he_objv(&r->obj);
    return 0;
}

static int cbatch_push(cbatch *b, cct *c)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 16;
        cct **v = realloc(b->v, sizeof *v * (size_t)cap);
        if (!v) return he_error("out of memory");
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    c->obj.rc++;
    return 0;
}

/* --- functions --------------------------------------------------------------------------------- */
static int want(he_value v, const he_type *t, const char *fn, const char *what, void **o)
{
    *o = mod_want(v, t, "ckks", fn, what);
    return *o ? 0 : -1;
}
#define WANT_CTX(v, fn, p) want(v, &cctx_type, fn, "a ckks context", (void **)(p))
#define WANT_KEYS(v, fn, p) want(v, &ckeys_type, fn, "ckks keys", (void **)(p))
#define WANT_CT(v, fn, p) want(v, &cct_type, fn, "a ckks ciphertext", (void **)(p))
#define WANT_BATCH(v, fn, p) want(v, &cbatch_type, fn, "a ckks batch", (void **)(p))

static int want_str(he_value v, const char *fn, const char **s)
{
    if (!he_is(v, &he_str_type)) return he_error("ckks.%s: the path must be a str, got %s", fn, he_typename(v));
    *s = he_as_str(v)->data;
    return 0;
}

static int context(he_value *a, he_value *out, bool insecure)
{
    for (int i = 0; i < 3; i++)
        if (a[i].tag != HE_INT)
            return he_error("ckks.context: N, the scale's bits and the depth are ints, got %s", he_typename(a[i]));
    he_ckks_params p;
    if (chain_params(a[0].as.i, a[1].as.i, a[2].as.i, insecure, &p) != BAD_NONE) return -1;
    cctx *c = he_malloc(sizeof *c);
    if (!c) return -1;
    he_obj_init(&c->obj, &cctx_type);
    c->ctx = he_ckks_ctx_new(&p); /* prints the warning line when insecure */
    c->depth = (int)a[2].as.i;
    c->sbits = (int)a[1].as.i;
    c->insecure = insecure;
    if (!c->ctx) {
        free(c);
        return -1;
    }
    double worst = 0;
    c->lscale[c->depth] = p.scale;
    for (int l = c->depth; l > 0; l--) {
        c->lscale[l - 1] = c->lscale[l] * (c->lscale[l] / (double)he_ckks_ctx_prime(c->ctx, (unsigned)l));
        double d = fabs(log2(c->lscale[l - 1] / p.scale));
        if (d > worst) worst = d;
    }
    /* where the chain's primes pull the products' scales more than one bit
    ** away (small scales with deep chains), every level keeps the nominal
    ** scale instead: products by plaintexts land on it, and a sum of terms
    ** of one level with different scales spends a level on aligning them */
    if (worst > 1.0)
        for (int l = 0; l <= c->depth; l++) c->lscale[l] = p.scale;
    *out = he_objv(&c->obj);
    return 0;
}

int ckks_make_context(int64_t n, int64_t sbits, int64_t depth, he_value *out)
{
    he_value a[3] = {he_int(n), he_int(sbits), he_int(depth)};
    return context(a, out, false);
}

bool ckks_is_context(he_value v) { return he_is(v, &cctx_type); }

int ckks_context_levels(he_value v, ckks_levels *out)
{
    if (!he_is(v, &cctx_type)) return he_error("ckks: expected a ckks context, got %s", he_typename(v));
    const cctx *c = (const cctx *)v.as.o;
    memset(out, 0, sizeof *out);
    out->n = he_ckks_ctx_n(c->ctx);
    out->depth = c->depth;
    out->sbits = c->sbits;
    for (int i = 0; i <= c->depth + 1; i++) {
        out->q[i] = (double)he_ckks_ctx_prime(c->ctx, (unsigned)i);
        out->bits[i] = (int)ceil(log2(out->q[i]));
    }
    for (int l = 0; l <= c->depth; l++) out->lscale[l] = c->lscale[l];
    return 0;
}

static int f_context(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (n == 1) { /* context(plan): the plan's ring, scale and depth */
        if (!ckks_is_plan(a[0])) return he_error("ckks.context: expected a ckks plan or (N, scale_bits, depth), got %s",
                                                 he_typename(a[0]));
        int pn, ps, pd, np;
        const int *steps;
        ckks_plan_params(a[0], &pn, &ps, &pd, &steps, &np);
        return ckks_make_context(pn, ps, pd, out);
    }
    if (n != 3) return he_error("ckks.context: expected a plan or (N, scale_bits, depth), got %d arguments", n);
    return context(a, out, false);
}

static int f_context_insecure(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    return context(a, out, true);
}

/* keygen(ctx [, steps]): secret, public, relinearization keys; Galois keys for the steps. */
static int f_keygen(he_vm *vm, he_value *a, int n, he_value *out)
{
    cctx *c = NULL;
    if (vm && vm->plan_only) { /* he --plan: nothing is encrypted */
        fprintf(stderr, "he --plan: stopped at ckks.keygen (line %d): nothing was encrypted\n", he_vm_line(vm));
        vm->halted = true;
        return -1;
    }
    if (ckks_is_plan(a[0])) { /* the plan's context, and Galois keys for exactly its steps */
        if (n > 1) return he_error("ckks.keygen: a plan names its rotation steps itself");
        int pn, ps, pd, np;
        const int *ps_steps;
        ckks_plan_params(a[0], &pn, &ps, &pd, &ps_steps, &np);
        he_value cv;
        if (ckks_make_context(pn, ps, pd, &cv) < 0) return -1;
        ckeys *k = ckeys_new((cctx *)cv.as.o);
        he_release(cv);
        int rc = k ? he_ckks_keygen(k->k) : -1;
        if (rc == 0) rc = he_ckks_keygen_relin(k->k);
        bool conj = ckks_plan_conj(a[0]); /* square_pairs: the conjugation key */
        if (rc == 0 && (np || conj)) rc = he_ckks_keygen_galois(k->k, ps_steps, (size_t)np, conj);
        if (rc == 0) rc = ckeys_set_id(k);
        if (rc < 0) {
            if (k) he_release(he_objv(&k->obj));
            return -1;
        }
        *out = he_objv(&k->obj);
        return 0;
    }
    if (WANT_CTX(a[0], "keygen", &c) < 0) return -1;
    int *steps = NULL;
    size_t nsteps = 0;
    bool conj = false;
    if (n > 2) {
        if (a[2].tag != HE_BOOL) return he_error("ckks.keygen: the conjugation flag must be a bool, got %s", he_typename(a[2]));
        conj = a[2].as.b;
    }
    if (n > 1) {
        if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->dtype != HE_DT_INT || he_as_tensor(a[1])->ndim != 1)
            return he_error("ckks.keygen: the rotation steps must be a 1-D int tensor, got %s", he_typename(a[1]));
        he_tensor *t = he_as_tensor(a[1]);
        steps = malloc(sizeof(int) * (size_t)(t->size ? t->size : 1));
        if (!steps) return he_error("out of memory");
        int64_t slots = he_ckks_ctx_slots(c->ctx);
        for (int64_t i = 0; i < t->size; i++) {
            if (t->data.i[i] <= -slots || t->data.i[i] >= slots) {
                free(steps);
                return he_error("ckks.keygen: rotation step %lld is outside (-%lld, %lld)", (long long)t->data.i[i],
                                (long long)slots, (long long)slots);
            }
            steps[nsteps++] = (int)t->data.i[i];
        }
    }
    ckeys *k = ckeys_new(c);
    int rc = k ? 0 : -1;
    if (rc == 0) rc = he_ckks_keygen(k->k);
    if (rc == 0) rc = he_ckks_keygen_relin(k->k);
    if (rc == 0 && (nsteps || conj)) rc = he_ckks_keygen_galois(k->k, steps, nsteps, conj);
    if (rc == 0) rc = ckeys_set_id(k);
    free(steps);
    if (rc < 0) {
        if (k) he_release(he_objv(&k->obj));
        return -1;
    }
    *out = he_objv(&k->obj);
    return 0;
}

static int f_pow2_steps(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cctx *c = NULL;
    if (WANT_CTX(a[0], "pow2_steps", &c) < 0) return -1;
    int64_t m = 0;
    for (unsigned s = 1; s < he_ckks_ctx_slots(c->ctx); s <<= 1) m++;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &m);
    if (!t) return -1;
    for (int64_t i = 0; i < m; i++) t->data.i[i] = (int64_t)1 << i;
    *out = he_objv(&t->obj);
    return 0;
}

/* The public parts of a key set (a copy without the secret key). */
static int f_public_keys(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    if (WANT_KEYS(a[0], "public_keys", &k) < 0) return -1;
    unsigned parts = he_ckks_keys_parts(k->k) & ~(unsigned)HE_CKKS_PART_SECRET;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (he_ckks_keys_serialize(k->k, parts, &buf, &len) < 0) return -1;
    ckeys *p = ckeys_new(k->c);
    int rc = p ? he_ckks_keys_deserialize(p->k, buf, len) : -1;
    he_free(buf);
    if (rc < 0) {
        if (p) he_release(he_objv(&p->obj));
        return -1;
    }
    memcpy(p->id, k->id, sizeof p->id);
    *out = he_objv(&p->obj);
    return 0;
}

/* x under the keys: with the public key, or (symmetric) with the secret
** key, a fresh ciphertext that is written in the seed-compressed form. */
static int encrypt_value(he_value *a, bool symmetric, he_value *out)
{
    ckeys *k = NULL;
    if (ckks_is_input_keys(a[0])) { /* the planning keys: only while planning */
        if (ckks_planning()) return ckks_shadow_encrypt(a[1], out);
        return he_error("ckks.encrypt: ckks.input_keys() stands in for a key set inside ckks.plan only: make the keys "
                        "with ckks.keygen(plan)");
    }
    if (WANT_KEYS(a[0], "encrypt", &k) < 0) return -1;
    if (ckks_planning()) return ckks_shadow_encrypt(a[1], out); /* inside a planned function */
    plain p;
    if (plain_of(a[1], &p, "encrypt") < 0) return -1;
    const he_ckks_ctx *ctx = k->c->ctx;
    unsigned slots = he_ckks_ctx_slots(ctx);
    int rc = 0;
    if (p.tensor && (p.n < 1 || p.n > (int64_t)slots))
        rc = p.n < 1 ? he_error("ckks.encrypt: nothing to encrypt (an empty tensor)")
                     : he_error("ckks.encrypt: %lld values exceed the %u slots of N=%u", (long long)p.n, slots,
                                he_ckks_ctx_n(ctx));
    double *fill = NULL;
    if (rc == 0 && !p.tensor) { /* a scalar fills every slot, so it broadcasts */
        fill = malloc(sizeof(double) * slots);
        if (!fill) rc = he_error("out of memory");
        for (unsigned i = 0; rc == 0 && i < slots; i++) fill[i] = p.x;
    }
    cct *c = rc == 0 ? cct_new(k, p.tensor ? p.n : 1, !p.tensor, true) : NULL;
    he_ckks_pt *pt = c ? he_ckks_pt_new(ctx) : NULL;
    rc = pt ? 0 : -1;
    if (rc == 0) rc = he_ckks_encode(ctx, pt, p.tensor ? p.v : fill, p.tensor ? (size_t)p.n : slots, -1, 0);
    if (rc == 0) rc = symmetric ? he_ckks_encrypt_sk(k->k, c->ct, pt) : he_ckks_encrypt(k->k, c->ct, pt);
    he_ckks_pt_free(pt);
    if (fill) {
        he_memzero(fill, sizeof(double) * slots);
        free(fill);
    }
    plain_done(&p);
    return put(c, rc, out);
}

static int f_encrypt(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    return encrypt_value(a, false, out);
}

static int same_keys(const ckeys *k, const cct *c, const char *fn)
{
    if (k->c != c->keys->c) return he_error("ckks.%s: the ciphertext belongs to another context", fn);
    if (memcmp(k->id, c->keys->id, sizeof k->id) != 0)
        return he_error("ckks.%s: the ciphertext is under other keys", fn);
    return 0;
}

/* The n values of a plaintext of pairs: the real parts of the slots, then
** their imaginary parts. */
static int decode_pairs(const he_ckks_ctx *ctx, const he_ckks_pt *pt, double *v, int64_t n)
{
    unsigned slots = he_ckks_ctx_slots(ctx);
    double complex *z = malloc(sizeof *z * slots);
    if (!z) return he_error("out of memory");
    int rc = he_ckks_decode_complex(ctx, pt, z, slots);
    for (int64_t i = 0; rc == 0 && i < n; i++) v[i] = i < slots ? creal(z[i]) : cimag(z[i - slots]);
    he_memzero(z, sizeof *z * slots);
    free(z);
    return rc;
}

static int f_decrypt(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    cct *c = NULL;
    if (ckks_is_shadow(a[1])) return ckks_shadow_refuse("ckks.decrypt inside the planned function");
    if (WANT_KEYS(a[0], "decrypt", &k) < 0 || WANT_CT(a[1], "decrypt", &c) < 0) return -1;
    if (!(he_ckks_keys_parts(k->k) & HE_CKKS_PART_SECRET))
        return he_error("ckks.decrypt: needs the secret key, not public keys");
    if (same_keys(k, c, "decrypt") < 0) return -1;
    const he_ckks_ctx *ctx = ctx_of(c);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    he_tensor *t = c->scalar ? NULL : he_tensor_new(HE_DT_FLOAT, 0, 1, &c->n);
    double x = 0;
    int rc = pt && (c->scalar || t) ? he_ckks_decrypt(k->k, pt, c->ct) : -1;
    if (rc == 0 && c->pairs) rc = decode_pairs(ctx, pt, t->data.f, c->n);
    else if (rc == 0) rc = he_ckks_decode(ctx, pt, t ? t->data.f : &x, t ? (size_t)c->n : 1);
    he_ckks_pt_free(pt);
    if (rc < 0) {
        if (t) he_release(he_objv(&t->obj));
        return -1;
    }
    *out = t ? he_objv(&t->obj) : he_float(x);
    return 0;
}

/* A number argument as a double. */
static int want_num(he_value v, const char *fn, const char *what, double *x)
{
    if (v.tag == HE_INT) *x = (double)v.as.i;
    else if (v.tag == HE_FLOAT) *x = v.as.f;
    else return he_error("ckks.%s: %s must be a number, got %s", fn, what, he_typename(v));
    return 0;
}

/* Noise flooding for a result handed to the key holder (circuit privacy):
** a fresh encryption of 0 is added (c1 no longer shows how c was computed)
** and Gaussian noise of sigma = sqrt(N) 2^(noise_bits + s - 1), so that noise
** below 2^noise_bits per coefficient is hidden up to statistical distance
** 2^-s. Each slot then carries an extra error of standard deviation about
** sigma sqrt(N/2) / scale. */
static int f_flood(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    double bits = 0;
    if (WANT_CT(a[0], "flood", &c) < 0 || want_num(a[1], "flood", "noise_bits", &bits) < 0) return -1;
    if (a[2].tag != HE_INT) return he_error("ckks.flood: s (bits of statistical security) must be an int");
    int64_t s = a[2].as.i;
    if (s < 1 || s > 128) return he_error("ckks.flood: s = %lld bits of statistical security, not in [1, 128]", (long long)s);
    if (!(bits >= 0 && bits <= 60)) return he_error("ckks.flood: noise_bits = %g, not in [0, 60]", bits);
    const he_ckks_ctx *ctx = ctx_of(c);
    double sigma = he_ckks_flood_sigma(ctx, bits, (unsigned)s);
    if (sigma > 0x1p56)
        return he_error("ckks.flood: flooding noise 2^%.1f for noise 2^%g and s = %lld is more than this context "
                        "holds (2^56): use a smaller s or a larger scale",
                        log2(sigma), bits, (long long)s);
    if (settle(c) < 0) return -1;
    cct *r = cct_new(c->keys, c->n, c->scalar, false); /* the noise fills every slot */
    if (!r) return -1;
    return put(r, he_ckks_flood(c->keys->k, r->ct, c->ct, sigma), out);
}

/* For the key holder's dry run: log2 of the largest noise coefficient of c
** against the expected values (what flood's noise_bits asks for). */
static int f_noise_bits(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    cct *c = NULL;
    if (WANT_KEYS(a[0], "noise_bits", &k) < 0 || WANT_CT(a[1], "noise_bits", &c) < 0 ||
        no_pairs(c, "ckks.noise_bits") < 0)
        return -1;
    if (!(he_ckks_keys_parts(k->k) & HE_CKKS_PART_SECRET))
        return he_error("ckks.noise_bits: needs the secret key, not public keys");
    if (same_keys(k, c, "noise_bits") < 0) return -1;
    if (settle(c) < 0) return -1; /* the noise flood then sees */
    if (!c->scalar && !c->clean)
        return he_error("ckks.noise_bits: the slots past the vector are not known to be zero (after a rotation, a "
                        "broadcast scalar or flood); measure before");
    plain p;
    if (plain_of(a[2], &p, "compare") < 0) return -1;
    const he_ckks_ctx *ctx = ctx_of(c);
    unsigned slots = he_ckks_ctx_slots(ctx);
    int rc = 0;
    if (p.tensor != !c->scalar || (p.tensor && p.n != c->n))
        rc = he_error("ckks.noise_bits: the expected value must be %s", c->scalar ? "a number (c is an encrypted scalar)"
                                                                             : "a tensor of c's length");
    double *fill = NULL;
    if (rc == 0 && !p.tensor) {
        fill = malloc(sizeof(double) * slots);
        if (!fill) rc = he_error("out of memory");
        for (unsigned i = 0; rc == 0 && i < slots; i++) fill[i] = p.x;
    }
    double bits = 0;
    if (rc == 0) rc = he_ckks_noise_bits(k->k, c->ct, fill ? fill : p.v, fill ? slots : (size_t)p.n, &bits);
    if (fill) {
        he_memzero(fill, sizeof(double) * slots);
        free(fill);
    }
    plain_done(&p);
    if (rc < 0) return -1;
    *out = he_float(bits);
    return 0;
}

static int f_rotate(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    if (ckks_is_shadow(a[0]) && a[1].tag == HE_INT) return ckks_shadow_rotate(a[0], a[1].as.i, out);
    if (WANT_CT(a[0], "rotate", &c) < 0 || no_pairs(c, "a rotation") < 0) return -1;
    if (a[1].tag != HE_INT) return he_error("ckks.rotate: the step must be an int, got %s", he_typename(a[1]));
    int64_t slots = he_ckks_ctx_slots(ctx_of(c)), s = a[1].as.i % slots;
    cct *r = cct_new(c->keys, c->n, c->scalar, s == 0 && c->clean);
    if (!r) return -1;
    if (c->scalar || s == 0) return put(r, he_ckks_ct_copy(r->ct, c->ct), out); /* the same in every slot */
    if (settle(c) < 0) {
        drop(r);
        return -1;
    }
    ckks_real_counts.rotations++;
    ckks_real_counts.keyswitches++;
    if (he_ckks_rotate(c->keys->k, r->ct, c->ct, (int)s) < 0) {
        drop(r);
        if (strstr(he_errmsg(), "Galois"))
            return he_error("ckks.rotate: no rotation key for step %lld: make the keys with ckks.keygen(ctx, [%lld]) "
                            "or ckks.keygen(ctx, ckks.pow2_steps(ctx))", (long long)a[1].as.i, (long long)a[1].as.i);
        return -1;
    }
    *out = he_objv(&r->obj);
    return 0;
}

/* Zeroes the slots from n on (one level). */
static int mask_tail(const cct *c, he_ckks_ct *out)
{
    double *ones = malloc(sizeof(double) * (size_t)c->n);
    if (!ones) return he_error("out of memory");
    for (int64_t i = 0; i < c->n; i++) ones[i] = 1.0;
    int rc = mul_tensor_raw(c, out, c->ct, ones, c->n);
    free(ones);
    return rc;
}

static int f_sum(he_vm *vm, he_value *a, int n, he_value *out);

/* The builtins sum(c) and mean(c) on a ciphertext (or a planning one):
** ckks.sum, an encrypted scalar (it needs the Galois keys of
** ckks.pow2_steps), and "count", the slots in use, for mean's division.
** 1 when the builtin is not this module's. */
int ckks_value_method(const char *name, he_value *a, int n, he_value *out)
{
    if (!he_is(a[0], &cct_type) && !ckks_is_shadow(a[0])) return 1;
    bool count = strcmp(name, "count") == 0;
    if (!count && strcmp(name, "sum") != 0) return 1;
    if (n > 1) return he_error("%s: a CKKS vector has one axis: no axis argument", count ? "mean" : "sum");
    if (count) {
        int64_t len = 1;
        if (a[0].as.o->type->len(a[0].as.o, &len) < 0) {
            he_clearerr(); /* an encrypted scalar: one value */
            len = 1;
        }
        *out = he_int(len);
        return 0;
    }
    return f_sum(NULL, a, 1, out);
}

static int f_sum(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) return ckks_shadow_sum(a[0], out);
    if (WANT_CT(a[0], "sum", &c) < 0 || no_pairs(c, "the sum across slots") < 0) return -1;
    cct *r = cct_new(c->keys, 1, true, false);
    if (!r) return -1;
    if (c->scalar) return put(r, he_ckks_ct_copy(r->ct, c->ct), out);
    if (settle(c) < 0) {
        drop(r);
        return -1;
    }
    const he_ckks_ct *src = c->ct;
    he_ckks_ct *t = NULL;
    if (!c->clean) {
        if (he_ckks_ct_level(c->ct) == 0) {
            drop(r);
            return exhausted(c->keys->c, "sum masks the slots past the vector, and this ciphertext is at level 0");
        }
        t = he_ckks_ct_new(ctx_of(c));
        if (!t || mask_tail(c, t) < 0) {
            he_ckks_ct_free(t);
            drop(r);
            return -1;
        }
        src = t;
    }
    int rc = he_ckks_sum_slots(c->keys->k, r->ct, src);
    for (unsigned b = 1; rc == 0 && b < he_ckks_ctx_slots(ctx_of(c)); b <<= 1) {
        ckks_real_counts.rotations++;
        ckks_real_counts.keyswitches++;
    }
    he_ckks_ct_free(t);
    if (rc < 0 && strstr(he_errmsg(), "Galois"))
        he_error("ckks.sum: needs the rotation keys for the powers of two: make the keys with "
                 "ckks.keygen(ctx, ckks.pow2_steps(ctx))");
    return put(r, rc, out);
}

static int f_level(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) {
        *out = he_int(ckks_shadow_level(a[0]));
        return 0;
    }
    if (WANT_CT(a[0], "level", &c) < 0) return -1;
    *out = he_int(eff_level(c));
    return 0;
}

static int f_scale(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) {
        *out = he_float(ckks_shadow_scale(a[0]));
        return 0;
    }
    if (WANT_CT(a[0], "scale", &c) < 0) return -1;
    *out = he_float(eff_scale(c));
    return 0;
}

static int f_depth(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cctx *c = NULL;
    if (ckks_is_plan(a[0])) {
        *out = he_int(ckks_plan_depth(a[0]));
        return 0;
    }
    if (WANT_CTX(a[0], "depth", &c) < 0) return -1;
    *out = he_int(c->depth);
    return 0;
}

static int f_slots(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cctx *c = NULL;
    if (ckks_is_plan(a[0])) { /* the slots of the plan's ring */
        int pn, sb, d, ns;
        const int *st;
        ckks_plan_params(a[0], &pn, &sb, &d, &st, &ns);
        *out = he_int(pn / 2);
        return 0;
    }
    if (WANT_CTX(a[0], "slots", &c) < 0) return -1;
    *out = he_int(he_ckks_ctx_slots(c->ctx));
    return 0;
}

/* --- batches and the fused dot product --------------------------------------------------------- */
static int f_batch(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    cbatch *b = cbatch_new();
    if (!b) return -1;
    *out = he_objv(&b->obj);
    return 0;
}

static int f_push(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cbatch *b = NULL;
    cct *c = NULL;
    *out = he_nil();
    if (WANT_BATCH(a[0], "push", &b) < 0) return -1;
    if (ckks_is_shadow(a[1])) { /* planning: a batch of shadows */
        if (b->n > 0 && !b->shadow) return ckks_shadow_refuse("a batch that mixes real and planning ciphertexts");
        b->shadow = true;
        return cbatch_push(b, (cct *)a[1].as.o);
    }
    if (WANT_CT(a[1], "push", &c) < 0) return -1;
    if (b->shadow) return ckks_shadow_refuse("a batch that mixes real and planning ciphertexts");
    return cbatch_push(b, c);
}

static int f_get(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cbatch *b = NULL;
    if (WANT_BATCH(a[0], "get", &b) < 0) return -1;
    if (a[1].tag != HE_INT) return he_error("ckks.get: the index must be an int, got %s", he_typename(a[1]));
    int64_t i = a[1].as.i < 0 ? a[1].as.i + b->n : a[1].as.i;
    if (i < 0 || i >= b->n)
        return he_error("ckks.get: index %lld out of range for a batch of %lld", (long long)a[1].as.i, (long long)b->n);
    b->v[i]->obj.rc++;
    *out = he_objv(&b->v[i]->obj);
    return 0;
}

/* A batch of the planner's shadows (ckks.input of a 2-D tensor). */
bool ckks_is_batch(he_value v, he_obj ***items, int64_t *n)
{
    if (!he_is(v, &cbatch_type)) return false;
    cbatch *b = (cbatch *)v.as.o;
    *items = (he_obj **)b->v;
    *n = b->n;
    return b->shadow;
}

int ckks_shadow_batch(he_value *v, int64_t m, he_value *out)
{
    cbatch *b = cbatch_new();
    if (!b) return -1;
    b->shadow = true;
    for (int64_t i = 0; i < m; i++)
        if (cbatch_push(b, (cct *)v[i].as.o) < 0) {
            cbatch_free(&b->obj);
            return -1;
        }
    *out = he_objv(&b->obj);
    return 0;
}

/* encrypt_rows(keys, X): one ciphertext per row of a 2-D tensor. */
static int encrypt_rows(he_value *a, bool symmetric, he_value *out)
{
    ckeys *k = NULL;
    if (WANT_KEYS(a[0], "encrypt_rows", &k) < 0) return -1;
    if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->ndim != 2)
        return he_error("ckks.encrypt_rows: expected a 2-D tensor, got %s", he_typename(a[1]));
    he_tensor *t = he_as_tensor(a[1]);
    cbatch *b = cbatch_new();
    if (!b) return -1;
    for (int64_t i = 0; i < t->shape[0]; i++) {
        he_tensor *row = he_tensor_sub(t, 1, &i);
        he_value args[2] = {a[0], row ? he_objv(&row->obj) : he_nil()}, c;
        int rc = row ? encrypt_value(args, symmetric, &c) : -1;
        if (row) he_release(he_objv(&row->obj));
        if (rc == 0) {
            rc = cbatch_push(b, (cct *)c.as.o);
            he_release(c);
        }
        if (rc < 0) {
            cbatch_free(&b->obj);
            return -1;
        }
    }
    *out = he_objv(&b->obj);
    return 0;
}

static int f_encrypt_rows(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    return encrypt_rows(a, false, out);
}

/* dot(batch, w): sum_i w[i] * batch[i], with w a float[m] (scalar weights)
** or a float[m, n] (a plaintext vector per ciphertext); one fused kernel,
** one rescale. */
static int f_dot(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cbatch *b = NULL;
    if (WANT_BATCH(a[0], "dot", &b) < 0) return -1;
    if (b->shadow) return ckks_shadow_dot((he_obj **)b->v, b->n, a[1], out);
    if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->dtype == HE_DT_BOOL ||
        (he_as_tensor(a[1])->ndim != 1 && he_as_tensor(a[1])->ndim != 2))
        return he_error("ckks.dot: the weights must be a 1-D or 2-D number tensor, got %s", he_typename(a[1]));
    he_tensor *w = he_as_tensor(a[1]);
    int64_t m = b->n;
    if (m == 0) return he_error("ckks.dot: the batch is empty");
    if (w->shape[0] != m)
        return he_error("ckks.dot: %lld weights for %lld ciphertexts", (long long)w->shape[0], (long long)m);
    cct *c0 = b->v[0];
    const he_ckks_ctx *ctx = ctx_of(c0);
    int64_t len = 0;
    bool scalar = true, clean = true;
    int lmin = INT32_MAX;
    for (int64_t i = 0; i < m; i++) {
        cct *c = b->v[i];
        if (settle(c) < 0) return -1; /* the fused kernel takes two-part ciphertexts */
        if (c->keys->c != c0->keys->c || memcmp(c->keys->id, c0->keys->id, sizeof c->keys->id) != 0)
            return he_error("ckks.dot: ciphertexts under different keys");
        if (c->pairs != c0->pairs) return he_error("ckks.dot: a batch that mixes pairs and reals");
        if (!c->scalar) {
            if (len && c->n != len)
                return he_error("ckks.dot: length mismatch (%lld and %lld)", (long long)len, (long long)c->n);
            len = c->n;
            scalar = false;
            clean &= c->clean;
        } else clean = false;
        int l = he_ckks_ct_level(c->ct);
        if (l < lmin) lmin = l;
    }
    if (w->ndim == 2 && no_pairs(c0, "ckks.dot with vector weights") < 0) return -1;
    if (w->ndim == 2) {
        if (w->shape[1] < 1 || w->shape[1] > (int64_t)he_ckks_ctx_slots(ctx) || (len && w->shape[1] != len))
            return he_error("ckks.dot: weight rows of %lld for ciphertexts of %lld", (long long)w->shape[1],
                            (long long)(len ? len : 1));
        if (!len) len = w->shape[1];
        scalar = false;
        clean = true;
    }
    /* one level and one scale for all: the scale of the first at the lowest level */
    double s = 0;
    bool mixed = false;
    for (int64_t i = 0; i < m; i++)
        if (he_ckks_ct_level(b->v[i]->ct) == lmin) {
            double si = he_ckks_ct_scale(b->v[i]->ct);
            if (s == 0) s = si;
            else if (!same_scale(s, si)) mixed = true;
        }
    int l = mixed ? lmin - 1 : lmin;
    if (l < 1) return exhausted(c0->keys->c, "a dot product at level 0");
    cct *r = cct_new(c0->keys, scalar ? 1 : len, scalar, clean);
    if (r) r->pairs = c0->pairs;
    he_ckks_ct **tmp = he_calloc((size_t)m, sizeof *tmp);   /* moved copies, where needed */
    const he_ckks_ct **in = he_calloc((size_t)m, sizeof *in);
    he_ckks_pt **pts = w->ndim == 2 ? he_calloc((size_t)m, sizeof *pts) : NULL;
    double *wv = malloc(sizeof(double) * (size_t)(w->ndim == 2 ? w->shape[1] : m));
    int rc = r && tmp && in && wv && (w->ndim == 1 || pts) ? 0 : he_error("out of memory");
    for (int64_t i = 0; rc == 0 && i < m; i++) {
        const he_ckks_ct *ci = b->v[i]->ct;
        in[i] = ci;
        if (he_ckks_ct_level(ci) == l && same_scale(he_ckks_ct_scale(ci), s)) continue;
        tmp[i] = he_ckks_ct_new(ctx);
        rc = tmp[i] ? to_level_scale(ctx, tmp[i], ci, l, s) : -1;
        in[i] = tmp[i];
    }
    double res, q = factor_scale(c0->keys->c, l, s, &res);
    if (rc == 0 && w->ndim == 1) {
        for (int64_t i = 0; i < m; i++)
            wv[i] = w->dtype == HE_DT_FLOAT ? w->data.f[i]
                    : w->dtype == HE_DT_INT ? (double)w->data.i[i]
                                            : he_fixed_to_double(w->data.i[i], w->frac);
        rc = he_ckks_dot_scalar(ctx, r->ct, (const he_ckks_ct *const *)in, wv, (size_t)m, q);
    } else if (rc == 0) {
        int64_t cols = w->shape[1];
        for (int64_t i = 0; rc == 0 && i < m; i++) {
            for (int64_t j = 0; j < cols; j++) {
                int64_t e = i * cols + j;
                wv[j] = w->dtype == HE_DT_FLOAT ? w->data.f[e]
                        : w->dtype == HE_DT_INT ? (double)w->data.i[e]
                                                : he_fixed_to_double(w->data.i[e], w->frac);
            }
            pts[i] = he_ckks_pt_new(ctx);
            rc = pts[i] ? he_ckks_encode(ctx, pts[i], wv, (size_t)cols, l, q) : -1;
        }
        if (rc == 0)
            rc = he_ckks_dot_pt(ctx, r->ct, (const he_ckks_ct *const *)in, (const he_ckks_pt *const *)pts, (size_t)m);
    }
    if (rc == 0) rc = he_ckks_rescale(ctx, r->ct, r->ct);
    if (rc == 0) {
        he_ckks_ct_set_scale(r->ct, res);
        ckks_real_counts.plain_products += m;
        ckks_real_counts.rescales++;
    }
    for (int64_t i = 0; tmp && i < m; i++) he_ckks_ct_free(tmp[i]);
    for (int64_t i = 0; pts && i < m; i++) he_ckks_pt_free(pts[i]);
    he_free(tmp);
    he_free(in);
    he_free(pts);
    free(wv);
    return put(r, rc, out);
}

/* --- matrix-vector products (the runtime's diagonal method, hoisted rotations) --------------- */
/* A 2-D number tensor as rows x cols doubles (malloc'd), or a 1-D one as a
** vector when rows is NULL. */
static int tensor_doubles(he_value v, const char *fn, const char *what, int ndim, double **out, int64_t *rows,
                          int64_t *cols)
{
    if (!he_is_tensor(v) || he_as_tensor(v)->dtype == HE_DT_BOOL || he_as_tensor(v)->ndim != ndim)
        return he_error("ckks.%s: %s must be a %d-D number tensor, got %s", fn, what, ndim, he_typename(v));
    he_tensor *t = he_as_tensor(v);
    int64_t r = ndim == 2 ? t->shape[0] : 1, c = t->shape[ndim - 1];
    if (r < 1 || c < 1) return he_error("ckks.%s: %s is empty", fn, what);
    double *d = malloc(sizeof(double) * (size_t)(r * c));
    if (!d) return he_error("out of memory");
    for (int64_t k = 0; k < r * c; k++)
        d[k] = t->dtype == HE_DT_FLOAT ? t->data.f[k] : (double)t->data.i[k];
    *out = d;
    if (rows) *rows = r;
    *cols = c;
    return 0;
}

/* The last few matrices' runtime objects, found again by content (a copy of
** W and b is compared), so that a server applying the same layers to image
** after image keeps their diagonals and encoded coefficients (the runtime
** caches them per object). Owned here; reachable until exit. */
#define MV_CACHE 4
static struct mv_entry {
    const he_ckks_ctx *ctx;
    uint8_t fp[32]; /* with ctx: a context freed and another made at its address is told apart */
    int64_t rows, cols;
    bool has_bias;
    double *w; /* rows * cols, then rows of bias when has_bias */
    he_ckks_matvec *mv;
    unsigned long used;
} mv_cache[MV_CACHE];
static unsigned long mv_clock;

static he_ckks_matvec *matvec_of(const he_ckks_ctx *ctx, he_value w, he_value *bias, const char *fn, int64_t *rows,
                                 int64_t *cols)
{
    double *W = NULL, *b = NULL;
    int64_t bn = 0;
    if (tensor_doubles(w, fn, "the matrix", 2, &W, rows, cols) < 0) return NULL;
    if (bias && tensor_doubles(*bias, fn, "the bias", 1, &b, NULL, &bn) < 0) {
        free(W);
        return NULL;
    }
    he_ckks_matvec *mv = NULL;
    size_t rc = (size_t)(*rows * *cols);
    if (bias && bn != *rows) {
        he_error("ckks.%s: a bias of %lld for a matrix of %lld rows", fn, (long long)bn, (long long)*rows);
    } else if (*rows > (int64_t)he_ckks_ctx_slots(ctx) || *cols > (int64_t)he_ckks_ctx_slots(ctx)) {
        he_error("ckks.%s: a %lld x %lld matrix does not fit the %u slots", fn, (long long)*rows, (long long)*cols,
                 he_ckks_ctx_slots(ctx));
    } else {
        struct mv_entry *e = NULL, *old = &mv_cache[0];
        uint8_t fp[32];
        he_ckks_ctx_fingerprint(ctx, fp);
        for (int i = 0; i < MV_CACHE; i++) {
            struct mv_entry *x = &mv_cache[i];
            if (x->used < old->used) old = x;
            if (x->mv && x->ctx == ctx && memcmp(x->fp, fp, sizeof fp) == 0 && x->rows == *rows && x->cols == *cols && x->has_bias == (b != NULL) &&
                memcmp(x->w, W, rc * sizeof *W) == 0 && (!b || memcmp(x->w + rc, b, (size_t)bn * sizeof *b) == 0))
                e = x;
        }
        if (e) {
            mv = e->mv;
        } else {
            mv = he_ckks_matvec_new(ctx, W, (size_t)*rows, (size_t)*cols, b);
            double *copy = mv ? malloc(sizeof(double) * (rc + (size_t)bn)) : NULL;
            if (copy) { /* replaces the least recently used entry */
                memcpy(copy, W, rc * sizeof *W);
                if (b) memcpy(copy + rc, b, (size_t)bn * sizeof *b);
                he_ckks_matvec_free(old->mv);
                free(old->w);
                *old = (struct mv_entry){.ctx = ctx, .rows = *rows, .cols = *cols, .has_bias = b != NULL, .w = copy,
                                         .mv = mv};
                memcpy(old->fp, fp, sizeof fp);
                e = old;
            } else if (mv) {
                he_ckks_matvec_free(mv);
                mv = NULL;
                he_error("out of memory");
            }
        }
        if (e) e->used = ++mv_clock;
    }
    free(W);
    free(b);
    return mv;
}

/* encrypt_tiled(keys, x): x in slots [0, n) repeated every p slots, p the
** power of two at least n (zeros in [n, p)): the layout ckks.matvec reads,
** made by the client at no cost (repeating an encrypted vector by rotations
** would add up the noise of every copy). */
static int f_encrypt_tiled(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    if (WANT_KEYS(a[0], "encrypt_tiled", &k) < 0) return -1;
    if (ckks_is_shadow(a[1]) || ckks_planning()) return ckks_shadow_refuse("ckks.encrypt_tiled inside the planned function");
    plain p;
    if (plain_of(a[1], &p, "encrypt") < 0) return -1;
    const he_ckks_ctx *ctx = k->c->ctx;
    unsigned slots = he_ckks_ctx_slots(ctx);
    int rc = 0;
    if (!p.tensor || p.n < 1 || p.n > (int64_t)slots)
        rc = he_error("ckks.encrypt_tiled: x must be a 1-D tensor of 1 to %u values", slots);
    int64_t per = 1;
    while (per < p.n) per <<= 1;
    double *fill = rc == 0 ? calloc(slots, sizeof(double)) : NULL;
    if (rc == 0 && !fill) rc = he_error("out of memory");
    for (unsigned i = 0; rc == 0 && i < slots; i++) fill[i] = (int64_t)(i % (unsigned)per) < p.n ? p.v[i % per] : 0.0;
    cct *c = rc == 0 ? cct_new(k, p.n, false, false) : NULL;
    he_ckks_pt *pt = c ? he_ckks_pt_new(ctx) : NULL;
    rc = pt ? 0 : -1;
    if (rc == 0) c->period = per;
    if (rc == 0) rc = he_ckks_encode(ctx, pt, fill, slots, -1, 0);
    if (rc == 0) rc = he_ckks_encrypt(k->k, c->ct, pt);
    he_ckks_pt_free(pt);
    if (fill) {
        he_memzero(fill, sizeof(double) * slots);
        free(fill);
    }
    plain_done(&p);
    return put(c, rc, out);
}

static int f_matvec_steps(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    cctx *c = NULL;
    if (WANT_CTX(a[0], "matvec_steps", &c) < 0) return -1;
    bool fresh = n > 2 && a[2].tag == HE_BOOL && a[2].as.b;
    int64_t rows, cols;
    he_ckks_matvec *mv = matvec_of(c->ctx, a[1], NULL, "matvec_steps", &rows, &cols);
    if (!mv) return -1;
    int64_t m = (int64_t)he_ckks_matvec_steps(mv, fresh, NULL, 0);
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &m);
    int *st = malloc(sizeof(int) * (size_t)(m + 1));
    if (!t || !st) {
        free(st);
        if (t) he_release(he_objv(&t->obj));
        return he_error("out of memory");
    }
    he_ckks_matvec_steps(mv, fresh, st, (size_t)m);
    for (int64_t i = 0; i < m; i++) t->data.i[i] = st[i];
    free(st);
    *out = he_objv(&t->obj);
    return 0;
}

/* y = W x (+ b): x a ckks vector of cols values, either fresh (zeros past
** its length: repeated over the slots first, log2(slots / din) rotations)
** or repeating every din slots (a matvec result, squared, scaled, ...). The
** result repeats every dout slots (its slots past rows hold zeros in each
** period). One level. */
static int f_matvec(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) { /* planning */
        double *W = NULL, *b = NULL;
        int64_t rows, cols, bn = 0;
        if (tensor_doubles(a[1], "matvec", "the matrix", 2, &W, &rows, &cols) < 0) return -1;
        int rc = n > 2 ? tensor_doubles(a[2], "matvec", "the bias", 1, &b, NULL, &bn) : 0;
        if (rc == 0 && b && bn != rows)
            rc = he_error("ckks.matvec: a bias of %lld for a matrix of %lld rows", (long long)bn, (long long)rows);
        if (rc == 0) rc = ckks_shadow_matvec(a[0], W, rows, cols, b, out);
        free(W);
        free(b);
        return rc;
    }
    if (WANT_CT(a[0], "matvec", &c) < 0 || no_pairs(c, "ckks.matvec") < 0) return -1;
    if (settle(c) < 0) return -1; /* a pending product: relinearized and rescaled first */
    if (c->scalar) return he_error("ckks.matvec: the input must be a vector, not an encrypted scalar");
    const he_ckks_ctx *ctx = ctx_of(c);
    int64_t rows, cols;
    he_ckks_matvec *mv = matvec_of(ctx, a[1], n > 2 ? &a[2] : NULL, "matvec", &rows, &cols);
    if (!mv) return -1;
    int rc = 0;
    unsigned din = he_ckks_matvec_in_period(mv);
    if (cols != c->n)
        rc = he_error("ckks.matvec: a matrix of %lld columns for a vector of %lld", (long long)cols, (long long)c->n);
    else if (!(c->period && din % c->period == 0) && !c->clean)
        rc = c->period ? he_error("ckks.matvec: the vector repeats every %lld slots, the matrix reads one that repeats "
                                  "every %u", (long long)c->period, din)
                       : he_error("ckks.matvec: the vector must have zeros past its length (ckks.encrypt) or repeat "
                                  "every %u slots (ckks.encrypt_tiled, a matvec result); after a rotation it has "
                                  "neither", din);
    int l = he_ckks_ct_level(c->ct);
    if (rc == 0 && l == 0) rc = exhausted(c->keys->c, "a matrix-vector product at level 0");
    bool fresh = !(c->period && din % c->period == 0);
    const he_ckks_ct *in = c->ct;
    cct *r = rc == 0 ? cct_new(c->keys, rows, false, false) : NULL;
    if (rc == 0 && !r) rc = -1;
    if (rc == 0) {
        double res, ws = factor_scale(c->keys->c, l, he_ckks_ct_scale(in), &res);
        rc = he_ckks_matvec_apply(c->keys->k, mv, r->ct, in, ws, fresh);
        if (rc == 0) {
            he_ckks_ct_set_scale(r->ct, res);
            r->period = he_ckks_matvec_out_period(mv);
            long steps_n = (long)he_ckks_matvec_steps(mv, fresh, NULL, 0);
            ckks_real_counts.rotations += steps_n;
            ckks_real_counts.keyswitches += steps_n;
            ckks_real_counts.plain_products++;
            ckks_real_counts.rescales++;
        }
    }
    if (rc < 0 && strstr(he_errmsg(), "Galois key"))
        rc = he_error("ckks.matvec: %s: make the keys with ckks.keygen(ctx, ckks.matvec_steps(ctx, W%s))", he_errmsg(),
                      fresh ? ", true" : "");
    return put(r, rc, out);
}

/* The offsets (int[k]) and diagonals (float[k, period]) of a sparse matrix
** as a runtime object (he_ckks_matvec_new_diagonals). */
static he_ckks_matvec *diagonals_of(const he_ckks_ctx *ctx, he_value ov, he_value dv, he_value *bias, const char *fn,
                                    int64_t *period)
{
    if (!he_is_tensor(ov) || he_as_tensor(ov)->dtype != HE_DT_INT || he_as_tensor(ov)->ndim != 1)
        return he_error("ckks.%s: the offsets must be an int[k], got %s", fn, he_typename(ov)), NULL;
    he_tensor *o = he_as_tensor(ov);
    double *D = NULL, *b = NULL;
    int64_t k = 0, bn = 0;
    if (tensor_doubles(dv, fn, "the diagonals", 2, &D, &k, period) < 0) return NULL;
    he_ckks_matvec *mv = NULL;
    int *offs = malloc(sizeof(int) * (size_t)(k + 1));
    if (!offs) he_error("out of memory");
    else if (o->shape[0] != k)
        he_error("ckks.%s: %lld offsets for %lld diagonals", fn, (long long)o->shape[0], (long long)k);
    else if (bias && tensor_doubles(*bias, fn, "the bias", 1, &b, NULL, &bn) < 0)
        ;
    else if (bias && bn != *period)
        he_error("ckks.%s: a bias of %lld for diagonals of %lld", fn, (long long)bn, (long long)*period);
    else {
        for (int64_t i = 0; i < k; i++) offs[i] = (int)(o->data.i[i] % (*period > 0 ? *period : 1));
        if (*period > (int64_t)he_ckks_ctx_slots(ctx))
            he_error("ckks.%s: diagonals of %lld do not fit the %u slots", fn, (long long)*period,
                     he_ckks_ctx_slots(ctx));
        else
            mv = he_ckks_matvec_new_diagonals(ctx, (unsigned)*period, offs, D, (size_t)k, b);
    }
    free(offs);
    free(D);
    free(b);
    return mv;
}

static int f_diagonals_steps(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cctx *c = NULL;
    if (WANT_CTX(a[0], "diagonals_steps", &c) < 0) return -1;
    int64_t period;
    he_ckks_matvec *mv = diagonals_of(c->ctx, a[1], a[2], NULL, "diagonals_steps", &period);
    if (!mv) return -1;
    int64_t m = (int64_t)he_ckks_matvec_steps(mv, false, NULL, 0);
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &m);
    int *st = malloc(sizeof(int) * (size_t)(m + 1));
    if (t && st) {
        he_ckks_matvec_steps(mv, false, st, (size_t)m);
        for (int64_t i = 0; i < m; i++) t->data.i[i] = st[i];
    }
    free(st);
    he_ckks_matvec_free(mv);
    if (!t || !st) {
        if (t) he_release(he_objv(&t->obj));
        return he_error("out of memory");
    }
    *out = he_objv(&t->obj);
    return 0;
}

/* y[j] = sum_r D[r, j] c[(j + offsets[r]) mod p] (+ b[j]), p = D's columns:
** c must repeat every p slots or a divisor of p (encrypt_tiled, a matvec
** result); the result has length p and repeats every p slots. One level. */
static int f_matvec_diagonals(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) { /* planning */
        double *D = NULL, *b = NULL;
        int64_t k = 0, period = 0, bn = 0;
        if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->dtype != HE_DT_INT || he_as_tensor(a[1])->ndim != 1)
            return he_error("ckks.matvec_diagonals: the offsets must be an int[k], got %s", he_typename(a[1]));
        if (tensor_doubles(a[2], "matvec_diagonals", "the diagonals", 2, &D, &k, &period) < 0) return -1;
        he_tensor *o = he_as_tensor(a[1]);
        int rc = n > 3 ? tensor_doubles(a[3], "matvec_diagonals", "the bias", 1, &b, NULL, &bn) : 0;
        int *offs = rc == 0 ? malloc(sizeof(int) * (size_t)k) : NULL;
        if (rc == 0 && !offs) rc = he_error("out of memory");
        if (rc == 0 && o->shape[0] != k)
            rc = he_error("ckks.matvec_diagonals: %lld offsets for %lld diagonals", (long long)o->shape[0], (long long)k);
        if (rc == 0 && b && bn != period)
            rc = he_error("ckks.matvec_diagonals: a bias of %lld for diagonals of %lld", (long long)bn, (long long)period);
        for (int64_t i = 0; rc == 0 && i < k; i++) offs[i] = (int)(o->data.i[i] % period);
        if (rc == 0) rc = ckks_shadow_diagonals(a[0], offs, D, k, period, b, out);
        free(offs);
        free(D);
        free(b);
        return rc;
    }
    if (WANT_CT(a[0], "matvec_diagonals", &c) < 0 || no_pairs(c, "ckks.matvec_diagonals") < 0) return -1;
    if (settle(c) < 0) return -1; /* a pending product: relinearized and rescaled first */
    const he_ckks_ctx *ctx = ctx_of(c);
    int64_t period;
    he_ckks_matvec *mv = diagonals_of(ctx, a[1], a[2], n > 3 ? &a[3] : NULL, "matvec_diagonals", &period);
    if (!mv) return -1;
    int rc = 0;
    if (!(c->period && period % c->period == 0))
        rc = he_error("ckks.matvec_diagonals: the vector must repeat every %lld slots or a divisor of it "
                      "(ckks.encrypt_tiled, a matvec result)", (long long)period);
    int l = he_ckks_ct_level(c->ct);
    if (rc == 0 && l == 0) rc = exhausted(c->keys->c, "a matrix-vector product at level 0");
    cct *r = rc == 0 ? cct_new(c->keys, period, false, false) : NULL;
    if (rc == 0 && !r) rc = -1;
    if (rc == 0) {
        double res, ws = factor_scale(c->keys->c, l, he_ckks_ct_scale(c->ct), &res);
        rc = he_ckks_matvec_apply(c->keys->k, mv, r->ct, c->ct, ws, false);
        if (rc == 0) {
            he_ckks_ct_set_scale(r->ct, res);
            r->period = period;
            long steps_n = (long)he_ckks_matvec_steps(mv, false, NULL, 0);
            ckks_real_counts.rotations += steps_n;
            ckks_real_counts.keyswitches += steps_n;
            ckks_real_counts.plain_products++;
            ckks_real_counts.rescales++;
        }
    }
    if (rc < 0 && strstr(he_errmsg(), "Galois key"))
        rc = he_error("ckks.matvec_diagonals: %s: make the keys with ckks.keygen(ctx, ckks.diagonals_steps(ctx, "
                      "offsets, D))", he_errmsg());
    he_ckks_matvec_free(mv);
    return put(r, rc, out);
}

/* threads(): the runtime's thread count; threads(n) sets it (results are the
** same for any count). */
/* --- complex packing and whole layers (the throughput mode; runtime/ckks/pack.c) --------------- */
/* encrypt_pairs(keys, X): a batch, one ciphertext per row of X (n <= N
** values): value k in slot k mod N/2, the real part for k < N/2, the
** imaginary part from N/2 on (two reals per slot). */
static int f_encrypt_pairs(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    if (WANT_KEYS(a[0], "encrypt_pairs", &k) < 0) return -1;
    if (ckks_planning()) return ckks_shadow_refuse("ckks.encrypt_pairs inside the planned function");
    double *X = NULL;
    int64_t rows, cols;
    if (tensor_doubles(a[1], "encrypt_pairs", "X", 2, &X, &rows, &cols) < 0) return -1;
    const he_ckks_ctx *ctx = k->c->ctx;
    unsigned slots = he_ckks_ctx_slots(ctx);
    int rc = cols > 2 * (int64_t)slots ? he_error("ckks.encrypt_pairs: rows of %lld values exceed the %u of N=%u",
                                                 (long long)cols, 2 * slots, he_ckks_ctx_n(ctx))
                                       : 0;
    cbatch *b = rc == 0 ? cbatch_new() : NULL;
    double complex *z = malloc(sizeof *z * slots);
    he_ckks_pt *pt = he_ckks_pt_new(ctx);
    if (rc == 0 && (!b || !z || !pt)) rc = he_error("out of memory");
    for (int64_t i = 0; rc == 0 && i < rows; i++) {
        const double *x = X + i * cols;
        for (unsigned j = 0; j < slots; j++)
            z[j] = CMPLX(j < cols ? x[j] : 0.0, j + (int64_t)slots < cols ? x[j + slots] : 0.0);
        cct *c = cct_new(k, cols, false, false);
        rc = c ? he_ckks_encode_complex(ctx, pt, z, slots, -1, 0) : -1;
        if (rc == 0) rc = he_ckks_encrypt(k->k, c->ct, pt);
        if (rc == 0) {
            c->pairs = true;
            rc = cbatch_push(b, c);
        }
        drop(c);
    }
    if (z) he_memzero(z, sizeof *z * slots);
    he_memzero(X, sizeof *X * (size_t)(rows * cols));
    free(z);
    free(X);
    he_ckks_pt_free(pt);
    if (rc < 0) {
        if (b) cbatch_free(&b->obj);
        return -1;
    }
    *out = he_objv(&b->obj);
    return 0;
}

/* The squares of a batch of pairs, one ciphertext per thread at a time. */
static int square_pairs_batch(cbatch *b, he_value *out)
{
    if (b->shadow) return ckks_shadow_square_pairs_batch((he_obj **)b->v, b->n, out);
    cbatch *r = cbatch_new();
    he_ckks_ct **outs = he_calloc((size_t)(b->n ? b->n : 1), sizeof *outs);
    const he_ckks_ct **ins = he_calloc((size_t)(b->n ? b->n : 1), sizeof *ins);
    int rc = r && outs && ins ? 0 : -1;
    for (int64_t i = 0; rc == 0 && i < b->n; i++) {
        cct *c = b->v[i];
        if (!c->pairs)
            rc = he_error("ckks.square_pairs: ciphertext %lld of the batch is not of pairs", (long long)i);
        else if (settle(c) < 0) rc = -1;
        else if (he_ckks_ct_level(c->ct) == 0) rc = exhausted(c->keys->c, "the square of pairs at level 0");
        cct *o = rc == 0 ? cct_new(c->keys, c->n, false, false) : NULL;
        if (rc == 0) rc = o ? cbatch_push(r, o) : -1;
        if (rc == 0) {
            o->pairs = true;
            outs[i] = o->ct;
            ins[i] = c->ct;
        }
        drop(o);
    }
    if (rc == 0 && b->n) rc = he_ckks_square_pairs_many(b->v[0]->keys->k, outs, ins, (size_t)b->n);
    if (rc == 0) {
        ckks_real_counts.products += 2 * b->n;
        ckks_real_counts.keyswitches += b->n;
    } else if (strstr(he_errmsg(), "conjugation"))
        he_error("ckks.square_pairs: no conjugation key: make the keys with ckks.keygen(ctx, steps, true)");
    he_free(outs);
    he_free(ins);
    return batch_result(r, rc, out);
}

/* square_pairs(c): a^2 + i b^2 of every pair, a pending product (as c * c):
** one conjugation, two products; settled on its first other use. Of a
** batch: the batch of the squares. */
static int f_square_pairs(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    if (ckks_is_shadow(a[0])) return ckks_shadow_square_pairs(a[0], out);
    if (he_is(a[0], &cbatch_type)) return square_pairs_batch((cbatch *)a[0].as.o, out);
    if (WANT_CT(a[0], "square_pairs", &c) < 0) return -1;
    if (!c->pairs) return he_error("ckks.square_pairs: expected a ciphertext of pairs (ckks.encrypt_pairs); c * c squares reals");
    if (settle(c) < 0) return -1;
    if (he_ckks_ct_level(c->ct) == 0) return exhausted(c->keys->c, "the square of pairs at level 0");
    cct *r = cct_new(c->keys, c->n, false, false);
    if (!r) return -1;
    r->pairs = true;
    if (he_ckks_square_pairs(c->keys->k, r->ct, c->ct) < 0) {
        drop(r);
        if (strstr(he_errmsg(), "conjugation"))
            return he_error("ckks.square_pairs: no conjugation key: make the keys with ckks.keygen(ctx, steps, true)");
        return -1;
    }
    ckks_real_counts.products += 2;
    ckks_real_counts.keyswitches++;
    *out = he_objv(&r->obj);
    return 0;
}

/* linear(b, W [, bias]): the batch of W b + bias, W a float[m, n] of scalar
** weights for the n ciphertexts of b; the runtime's layer kernel (each input
** read once), one rescale per output. For pairs the outputs land on half
** the level's scale, so that a square_pairs after them lands on it. */
static int f_linear(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    cbatch *b = NULL;
    if (WANT_BATCH(a[0], "linear", &b) < 0) return -1;
    int64_t m = b->n;
    if (m == 0) return he_error("ckks.linear: the batch is empty");
    double *W = NULL, *bias = NULL;
    int64_t rows, cols, br = 0, bc = 0;
    if (tensor_doubles(a[1], "linear", "the weights", 2, &W, &rows, &cols) < 0) return -1;
    int rc = 0;
    if (cols != m)
        rc = he_error("ckks.linear: weights of %lld columns for %lld ciphertexts", (long long)cols, (long long)m);
    if (rc == 0 && n > 2 && tensor_doubles(a[2], "linear", "the bias", 1, &bias, &br, &bc) < 0) rc = -1;
    if (rc == 0 && bias && bc != rows)
        rc = he_error("ckks.linear: a bias of %lld for %lld outputs", (long long)bc, (long long)rows);
    if (b->shadow) { /* planning */
        if (rc == 0) rc = ckks_shadow_linear((he_obj **)b->v, m, W, rows, bias, out);
        free(W);
        free(bias);
        return rc;
    }
    cct *c0 = b->v[0];
    int64_t len = 0;
    bool scalar = true, clean = !bias;
    /* pending products relinearized and rescaled, one ciphertext per thread at a time */
    he_ckks_ct **pend = rc == 0 ? he_calloc((size_t)m, sizeof *pend) : NULL;
    size_t np = 0;
    if (rc == 0 && !pend) rc = -1;
    for (int64_t i = 0; rc == 0 && i < m; i++)
        if (pending(b->v[i])) {
            if (b->v[i]->keys->c != c0->keys->c) rc = he_error("ckks.linear: ciphertexts under different keys");
            pend[np++] = b->v[i]->ct;
        }
    if (rc == 0 && np) rc = he_ckks_settle_many(c0->keys->k, pend, np);
    if (rc == 0) {
        ckks_real_counts.relins += (long)np;
        ckks_real_counts.keyswitches += (long)np;
        ckks_real_counts.rescales += (long)np;
    }
    he_free(pend);
    for (int64_t i = 0; rc == 0 && i < m; i++) {
        cct *c = b->v[i];
        if (c->keys->c != c0->keys->c || memcmp(c->keys->id, c0->keys->id, sizeof c->keys->id) != 0)
            rc = he_error("ckks.linear: ciphertexts under different keys");
        else if (c->pairs != c0->pairs) rc = he_error("ckks.linear: a batch that mixes pairs and reals");
        else if (he_ckks_ct_level(c->ct) != he_ckks_ct_level(c0->ct) ||
                 !same_scale(he_ckks_ct_scale(c->ct), he_ckks_ct_scale(c0->ct)))
            rc = he_error("ckks.linear: inputs at levels %d and %d, scales 2^%.4g and 2^%.4g (one level and scale "
                          "for all)", he_ckks_ct_level(c0->ct), he_ckks_ct_level(c->ct),
                          log2(he_ckks_ct_scale(c0->ct)), log2(he_ckks_ct_scale(c->ct)));
        else if (!c->scalar) {
            if (len && c->n != len)
                rc = he_error("ckks.linear: length mismatch (%lld and %lld)", (long long)len, (long long)c->n);
            len = c->n;
            scalar = false;
            clean &= c->clean;
        } else clean = false;
    }
    const he_ckks_ctx *ctx = ctx_of(c0);
    int l = he_ckks_ct_level(c0->ct);
    if (rc == 0 && l < 1) rc = exhausted(c0->keys->c, "a linear layer at level 0");
    double res = 0, q = rc == 0 ? factor_scale(c0->keys->c, l, he_ckks_ct_scale(c0->ct), &res) : 0;
    if (c0->pairs) q /= 2, res /= 2;
    cbatch *r = rc == 0 ? cbatch_new() : NULL;
    he_ckks_ct **outs = rc == 0 ? he_calloc((size_t)rows, sizeof *outs) : NULL;
    const he_ckks_ct **in = rc == 0 ? he_calloc((size_t)m, sizeof *in) : NULL;
    if (rc == 0 && (!r || !outs || !in)) rc = -1;
    for (int64_t j = 0; rc == 0 && j < rows; j++) {
        cct *c = cct_new(c0->keys, scalar ? 1 : len, scalar, clean && !c0->pairs);
        if (c) c->pairs = c0->pairs;
        rc = c ? cbatch_push(r, c) : -1;
        if (c) outs[j] = c->ct;
        drop(c);
    }
    for (int64_t i = 0; rc == 0 && i < m; i++) in[i] = b->v[i]->ct;
    if (rc == 0) rc = he_ckks_linear(ctx, outs, (size_t)rows, in, (size_t)m, W, q);
    if (rc == 0) rc = he_ckks_rescale_many(ctx, outs, (size_t)rows); /* one output per thread at a time */
    for (int64_t j = 0; rc == 0 && j < rows; j++) {
        he_ckks_ct_set_scale(outs[j], res);
        if (bias && bias[j] != 0)
            rc = c0->pairs ? he_ckks_add_const(ctx, outs[j], outs[j], CMPLX(bias[j], bias[j]))
                           : he_ckks_add_scalar(ctx, outs[j], outs[j], bias[j]);
    }
    if (rc == 0) {
        for (int64_t e = 0; e < rows * cols; e++) ckks_real_counts.plain_products += W[e] != 0;
        ckks_real_counts.rescales += rows;
    }
    he_free(outs);
    he_free(in);
    free(W);
    free(bias);
    return batch_result(r, rc, out);
}

static int f_threads(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (n > 0) {
        if (a[0].tag != HE_INT) return he_error("ckks.threads: the count must be an int, got %s", he_typename(a[0]));
        if (a[0].as.i < 1 || a[0].as.i > 16)
            return he_error("ckks.threads: %lld threads, not in 1..16", (long long)a[0].as.i);
        if (he_ckks_set_threads((unsigned)a[0].as.i) < 0) return -1;
    }
    *out = he_int((int64_t)he_ckks_threads());
    return 0;
}

/* --- files ------------------------------------------------------------------------------------- */
static int f_save_keys(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    const char *path = NULL;
    *out = he_nil();
    if (WANT_KEYS(a[0], "save_keys", &k) < 0 || want_str(a[1], "save_keys", &path) < 0) return -1;
    return he_ckks_keys_save(k->k, he_ckks_keys_parts(k->k), path); /* mode 0600 with a secret key */
}

/* The size of save_keys' file for these keys, without writing it (the serialized bytes are made and
** freed; wiped when they hold the secret key). */
static int f_key_bytes(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    size_t len = 0;
    if (WANT_KEYS(a[0], "key_bytes", &k) < 0) return -1;
    /* the file's length, computed: nothing is serialized */
    if (he_ckks_keys_serialized_size(k->k, he_ckks_keys_parts(k->k), &len) < 0) return -1;
    *out = he_int((int64_t)len);
    return 0;
}

static int f_load_keys(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cctx *c = NULL;
    const char *path = NULL;
    if (WANT_CTX(a[0], "load_keys", &c) < 0 || want_str(a[1], "load_keys", &path) < 0) return -1;
    ckeys *k = ckeys_new(c);
    int rc = k ? he_ckks_keys_load(k->k, path) : -1;
    if (rc == 0 && ckeys_set_id(k) < 0) rc = he_error("ckks.load_keys: %s has no public key", path);
    if (rc < 0) {
        if (k) he_release(he_objv(&k->obj));
        return -1;
    }
    *out = he_objv(&k->obj);
    return 0;
}

/*
** Ciphertext file (the language's wrapper around the runtime format):
**   0   8   magic "HEckksV\n"
**   8   4   version (1)
**   12  4   flags: 1 scalar, 2 clean tail
**   16  8   n (the vector's length)
**   24  32  key-set identity (BLAKE2b-256 of the public key)
**   56  8   length B of the runtime ciphertext
**   64  B   the runtime ciphertext (runtime/ckks/ckks.h, version 1)
**   64+B 32 BLAKE2b-256 of bytes [0, 64+B)
** All integers little-endian.
*/
#define CT_MAGIC "HEckksV\n"
#define CT_HEADER 64

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The ciphertext in the file format above, in memory (he_malloc'd); a
** pending product is settled first (files hold two-part ciphertexts). */
static int ct_to_bytes(cct *c, uint8_t **out, size_t *len)
{
    if (no_pairs(c, "saving") < 0 || settle(c) < 0) return -1;
    uint8_t *body = NULL;
    size_t blen = 0;
    if (he_ckks_ct_serialize(ctx_of(c), c->ct, &body, &blen) < 0) return -1;
    size_t total = CT_HEADER + blen + 32;
    uint8_t *buf = he_malloc(total);
    if (!buf) {
        he_free(body);
        return -1;
    }
    memcpy(buf, CT_MAGIC, 8);
    put_le(buf + 8, 1, 4);
    put_le(buf + 12, (c->scalar ? 1u : 0u) | (c->clean ? 2u : 0u), 4);
    put_le(buf + 16, (uint64_t)c->n, 8);
    memcpy(buf + 24, c->keys->id, 32);
    put_le(buf + 56, blen, 8);
    memcpy(buf + CT_HEADER, body, blen);
    he_free(body);
    crypto_generichash(buf + CT_HEADER + blen, 32, buf, CT_HEADER + blen, NULL, 0);
    *out = buf;
    *len = total;
    return 0;
}

/* A ciphertext under k from the file format above; `what` names the
** source in messages ("ckks.load: PATH"). */
static int ct_from_bytes(ckeys *k, const uint8_t *buf, size_t len, const char *what, cct **out)
{
    uint8_t sum[32];
    cct *c = NULL;
    int rc = 0;
    *out = NULL;
    if (len < CT_HEADER + 32 || memcmp(buf, CT_MAGIC, 8) != 0)
        rc = he_error("%s is not a ckks ciphertext file", what);
    if (rc == 0 && get_le(buf + 8, 4) != 1)
        rc = he_error("%s has format version %llu (this build reads 1)", what, (unsigned long long)get_le(buf + 8, 4));
    if (rc == 0) {
        crypto_generichash(sum, 32, buf, len - 32, NULL, 0);
        if (sodium_memcmp(sum, buf + len - 32, 32) != 0 || get_le(buf + 56, 8) != len - CT_HEADER - 32)
            rc = he_error("%s is damaged (checksum mismatch)", what);
    }
    uint64_t flags = rc == 0 ? get_le(buf + 12, 4) : 0, nv = rc == 0 ? get_le(buf + 16, 8) : 0;
    if (rc == 0 && (flags > 3 || nv < 1 || nv > he_ckks_ctx_slots(k->c->ctx) || ((flags & 1) && nv != 1)))
        rc = he_error("%s has a bad header", what);
    if (rc == 0 && memcmp(buf + 24, k->id, 32) != 0) rc = he_error("%s was encrypted under other keys", what);
    if (rc == 0) {
        c = cct_new(k, (int64_t)nv, flags & 1, (flags & 2) != 0);
        rc = c ? he_ckks_ct_deserialize(k->c->ctx, c->ct, buf + CT_HEADER, len - CT_HEADER - 32) : -1;
    }
    if (rc < 0) {
        drop(c);
        return -1;
    }
    *out = c;
    return 0;
}

static int f_save(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    cct *c = NULL;
    const char *path = NULL;
    *out = he_nil();
    if (WANT_CT(a[0], "save", &c) < 0 || want_str(a[1], "save", &path) < 0) return -1;
    uint8_t *buf = NULL;
    size_t total = 0;
    if (ct_to_bytes(c, &buf, &total) < 0) return -1;
    /* atomic: a failed save leaves an existing file as it was */
    int rc = he_file_write(path, buf, total, false, "ckks.save");
    he_free(buf);
    return rc;
}

static int f_load(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ckeys *k = NULL;
    const char *path = NULL;
    if (WANT_KEYS(a[0], "load", &k) < 0 || want_str(a[1], "load", &path) < 0) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return he_error("ckks.load: cannot open %s", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            if (cap > ((size_t)1 << 32)) {
                rc = he_error("ckks.load: %s is too large for a ciphertext", path);
                break;
            }
            uint8_t *nb = he_realloc(buf, cap);
            if (!nb) {
                rc = -1;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = he_error("ckks.load: cannot read %s", path);
            break;
        }
    }
    fclose(f);
    cct *c = NULL;
    if (rc == 0) {
        char what[64 + 1024];
        snprintf(what, sizeof what, "ckks.load: %.1024s", path);
        rc = ct_from_bytes(k, buf, len, what, &c);
    }
    he_free(buf);
    return put(c, rc, out);
}

/* --- static rules ---------------------------------------------------------------------------------- */
static bool is_ct(const type *t) { return ty_is_obj(t, CT_NAME); }
static bool is_plain(const type *t)
{
    return ty_is_num(t) || (t->kind == T_TENSOR && t->elem != T_BOOL && (t->rank == 1 || t->rank < 0));
}

static type *binop_rule(checker *c, node *n, he_op op, type *a, type *b)
{
    if (!is_ct(a) && !is_ct(b)) return NULL;
    type *other = is_ct(a) ? b : a;
    bool both = is_ct(a) && is_ct(b);
    if (op >= HE_OP_LT && op <= HE_OP_NE) {
        ck_error(c, n, "CKKS ciphertexts cannot be compared (%s): a comparison has no encrypted result; decrypt first",
                 he_op_symbol[op]);
        return ty_any;
    }
    if (!both && other->kind != T_ANY && !is_plain(other)) {
        ck_error(c, n, "cannot apply '%s' to %s and %s", he_op_symbol[op], ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    switch (op) {
    case HE_OP_ADD:
    case HE_OP_SUB:
    case HE_OP_MUL: return ty_obj(CT_NAME);
    case HE_OP_DIV:
        if (!is_ct(b)) return ty_obj(CT_NAME);
        ck_error(c, n, "CKKS cannot divide by a ciphertext (there is no encrypted inverse); divide by a plaintext");
        return ty_any;
    case HE_OP_MATMUL:
        ck_error(c, n, "'@' is not defined on CKKS ciphertexts: use * with ckks.sum, or ckks.dot");
        return ty_any;
    default:
        ck_error(c, n, "CKKS ciphertexts support + - * and division by a plaintext, not '%s'", he_op_symbol[op]);
        return ty_any;
    }
}

static type *unop_rule(checker *c, node *n, he_op op, type *a)
{
    if (!is_ct(a)) return NULL;
    if (op == HE_OP_NEG) return a;
    ck_error(c, n, "cannot apply '%s' to a CKKS ciphertext", he_op_symbol[op]);
    return ty_any;
}


static type *context_rule(checker *c, node **a, type **t, bool insecure)
{
    bool ok = true;
    for (int i = 0; i < 3; i++)
        ok &= mod_need(c, a[i], t[i], t[i]->kind == T_INT, i == 0 ? "N (int)" : i == 1 ? "the scale's bits (int)" : "the depth (int)");
    if (ok && a[0]->kind == N_INT && a[1]->kind == N_INT && a[2]->kind == N_INT) {
        he_ckks_params p;
        int bad = chain_params(a[0]->ival, a[1]->ival, a[2]->ival, insecure, &p);
        if (bad != BAD_NONE) ck_error(c, a[bad == BAD_N ? 0 : bad == BAD_SCALE ? 1 : 2], "%s", he_errmsg());
    }
    return ty_obj(CTX_NAME);
}

static type *r_context(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (n == 1) {
        mod_need(c, a[0], t[0], ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks plan (or N, scale_bits, depth)");
        return ty_obj(CTX_NAME);
    }
    if (n != 3) {
        ck_error(c, call, "ckks.context takes a plan or (N, scale_bits, depth), got %d arguments", n);
        return ty_obj(CTX_NAME);
    }
    return context_rule(c, a, t, false);
}

static type *r_context_insecure(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return context_rule(c, a, t, true);
}

static type *r_keygen(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CTX_NAME) || ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks context or plan");
    if (n > 1)
        mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && (t[1]->elem == T_INT || t[1]->elem == T_ANY) && t[1]->rank <= 1,
             "the rotation steps (an int tensor)");
    if (n > 2) mod_need(c, a[2], t[2], t[2]->kind == T_BOOL, "the conjugation flag (bool)");
    return ty_obj(KEYS_NAME);
}

static type *r_ctx_steps(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CTX_NAME), "a ckks context");
    int64_t d = DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_keys(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    return ty_obj(KEYS_NAME);
}

static type *r_encrypt(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    mod_need(c, a[1], t[1], is_plain(t[1]), "a number or a 1-D tensor");
    return ty_obj(CT_NAME);
}

static type *r_decrypt(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    mod_need(c, a[1], t[1], is_ct(t[1]), "a ckks ciphertext");
    return ty_any; /* a float, or a float tensor, known when decrypted */
}

static type *r_rotate(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    mod_need(c, a[1], t[1], t[1]->kind == T_INT, "the step (int)");
    return ty_obj(CT_NAME);
}

static type *r_flood(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    mod_need(c, a[1], t[1], t[1]->kind == T_INT || t[1]->kind == T_FLOAT, "noise_bits (a number)");
    mod_need(c, a[2], t[2], t[2]->kind == T_INT, "s, bits of statistical security (int)");
    return ty_obj(CT_NAME);
}

static type *r_noise_bits(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    mod_need(c, a[1], t[1], is_ct(t[1]), "a ckks ciphertext");
    return ty_float;
}

static type *r_matvec(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL && (t[1]->rank == 2 || t[1]->rank < 0),
             "the matrix (a 2-D number tensor)");
    if (n > 2)
        mod_need(c, a[2], t[2], t[2]->kind == T_TENSOR && t[2]->elem != T_BOOL && t[2]->rank <= 1,
                 "the bias (a 1-D number tensor)");
    return ty_obj(CT_NAME);
}

static type *r_matvec_steps(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CTX_NAME), "a ckks context");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL && (t[1]->rank == 2 || t[1]->rank < 0),
             "the matrix (a 2-D number tensor)");
    if (n > 2) mod_need(c, a[2], t[2], t[2]->kind == T_BOOL, "fresh (bool: the input has zeros past its length)");
    int64_t d = DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_threads(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (n > 0) mod_need(c, a[0], t[0], t[0]->kind == T_INT, "the thread count (int)");
    return ty_int;
}

static type *r_matvec_diagonals(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && (t[1]->elem == T_INT || t[1]->elem == T_ANY) && t[1]->rank <= 1,
             "the offsets (an int tensor)");
    mod_need(c, a[2], t[2], t[2]->kind == T_TENSOR && t[2]->elem != T_BOOL && (t[2]->rank == 2 || t[2]->rank < 0),
             "the diagonals (a 2-D number tensor)");
    if (n > 3)
        mod_need(c, a[3], t[3], t[3]->kind == T_TENSOR && t[3]->elem != T_BOOL && t[3]->rank <= 1,
                 "the bias (a 1-D number tensor)");
    return ty_obj(CT_NAME);
}

static type *r_diagonals_steps(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CTX_NAME), "a ckks context");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && (t[1]->elem == T_INT || t[1]->elem == T_ANY) && t[1]->rank <= 1,
             "the offsets (an int tensor)");
    mod_need(c, a[2], t[2], t[2]->kind == T_TENSOR && t[2]->elem != T_BOOL && (t[2]->rank == 2 || t[2]->rank < 0),
             "the diagonals (a 2-D number tensor)");
    int64_t d = DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_ct(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    return ty_obj(CT_NAME);
}

static type *r_level(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    return ty_int;
}

static type *r_scale(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "a ckks ciphertext");
    return ty_float;
}

static type *r_batch(checker *c, node *call, node **a, type **t, int n)
{
    (void)c; (void)call; (void)a; (void)t; (void)n;
    return ty_obj(BATCH_NAME);
}

static type *r_push(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], BATCH_NAME), "a ckks batch");
    mod_need(c, a[1], t[1], is_ct(t[1]), "a ckks ciphertext");
    return ty_void;
}

static type *r_get(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], BATCH_NAME), "a ckks batch");
    mod_need(c, a[1], t[1], t[1]->kind == T_INT, "an index (int)");
    return ty_obj(CT_NAME);
}

static type *r_encrypt_rows(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL && (t[1]->rank == 2 || t[1]->rank < 0),
         "a 2-D tensor");
    return ty_obj(BATCH_NAME);
}

static type *r_dot(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], BATCH_NAME), "a ckks batch");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL && t[1]->rank != 0 && t[1]->rank <= 2,
         "weights (a 1-D or 2-D tensor)");
    return ty_obj(CT_NAME);
}

static type *r_square_pairs(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]) || ty_is_obj(t[0], BATCH_NAME), "a ckks ciphertext or batch");
    return ty_is_obj(t[0], BATCH_NAME) ? ty_obj(BATCH_NAME) : ty_obj(CT_NAME);
}
static type *r_linear(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], BATCH_NAME), "a ckks batch");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL && (t[1]->rank == 2 || t[1]->rank < 0),
             "the weights (a 2-D number tensor)");
    if (n > 2)
        mod_need(c, a[2], t[2], t[2]->kind == T_TENSOR && t[2]->elem != T_BOOL && (t[2]->rank == 1 || t[2]->rank < 0),
                 "the bias (a 1-D number tensor)");
    return ty_obj(BATCH_NAME);
}
static type *r_save_or_load(checker *c, node **a, type **t, const char *obj, const char *what)
{
    mod_need(c, a[0], t[0], ty_is_obj(t[0], obj), what);
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a path (str)");
    return ty_void;
}

static type *r_save_keys(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_save_or_load(c, a, t, KEYS_NAME, "ckks keys");
}

static type *r_key_bytes(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], KEYS_NAME), "ckks keys");
    return ty_int;
}

static type *r_save(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    return r_save_or_load(c, a, t, CT_NAME, "a ckks ciphertext");
}

static type *r_load_keys(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    r_save_or_load(c, a, t, CTX_NAME, "a ckks context");
    return ty_obj(KEYS_NAME);
}

static type *r_load(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    r_save_or_load(c, a, t, KEYS_NAME, "ckks keys");
    return ty_obj(CT_NAME);
}

static type *r_plan(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], t[0]->kind == T_FN, "the function to plan");
    return ty_obj(CKKS_PLAN_NAME);
}

static type *r_input(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], t[0]->kind == T_INT || (t[0]->kind == T_TENSOR && t[0]->elem != T_BOOL && t[0]->rank <= 2),
             "a length (int) or sample values (a 1-D tensor; 2-D: a batch, one ciphertext per row)");
    if (n > 1) mod_need(c, a[1], t[1], ty_is_num(t[1]), "the bound of the values (a number)");
    return ty_obj(CKKS_INPUT_NAME);
}

static type *r_input_keys(checker *c, node *call, node **a, type **t, int n)
{
    (void)c; (void)call; (void)a; (void)t; (void)n;
    return ty_obj(CKKS_KEYSIN_NAME);
}

static type *r_input_pairs(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], t[0]->kind == T_TENSOR && t[0]->elem != T_BOOL && (t[0]->rank == 2 || t[0]->rank < 0),
             "sample values (a 2-D tensor: one ciphertext of pairs per row)");
    return ty_obj(CKKS_INPUT_NAME);
}

static type *r_input_tiled(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], t[0]->kind == T_INT || (t[0]->kind == T_TENSOR && t[0]->elem != T_BOOL && t[0]->rank <= 1),
             "a length (int) or sample values (a 1-D tensor)");
    if (n > 1) mod_need(c, a[1], t[1], ty_is_num(t[1]), "the bound of the values (a number)");
    return ty_obj(CKKS_INPUT_NAME);
}

static type *r_precision(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_num(t[0]), "bits (int) or an absolute error (float)");
    return ty_obj(CKKS_PREC_NAME);
}

static type *r_fits(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks plan");
    mod_need(c, a[1], t[1], ty_is_obj(t[1], CTX_NAME), "a ckks context");
    return ty_bool;
}

static type *r_depth(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CTX_NAME) || ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks context or plan");
    return ty_int;
}

static type *r_error(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks plan");
    return ty_float;
}

static int f_error(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!ckks_is_plan(a[0])) return he_error("ckks.error: expected a ckks plan, got %s", he_typename(a[0]));
    *out = he_float(ckks_plan_error(a[0]));
    return 0;
}

static int f_seconds(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!ckks_is_plan(a[0])) return he_error("ckks.seconds: expected a ckks plan, got %s", he_typename(a[0]));
    *out = he_float(ckks_plan_seconds(a[0]));
    return 0;
}

static type *r_counts(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (n > 0) mod_need(c, a[0], t[0], ty_is_obj(t[0], CKKS_PLAN_NAME), "a ckks plan");
    return ty_str;
}

static int f_counts(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (n > 0) return ckks_plan_counts(a[0], out);
    int rc = ckks_counts_str(&ckks_real_counts, out);
    memset(&ckks_real_counts, 0, sizeof ckks_real_counts);
    return rc;
}

static const builtin fns[] = {
    {"context", NULL, 1, 3, f_context, r_context,
     "context(N, scale_bits, depth): N in 4096..32768, scale 2^scale_bits, the multiplicative depth; "
     "context(plan): the plan's"},
    {"context_insecure", NULL, 3, 3, f_context_insecure, r_context_insecure,
     "context_insecure(N, scale_bits, depth): any power-of-two N, no security bound, for tests only (warns)"},
    {"keygen", NULL, 1, 3, f_keygen, r_keygen,
     "keygen(ctx [, steps [, conj]]): secret, public and relinearization keys, Galois keys for the rotation steps "
     "(and conjugation when conj, for square_pairs); "
     "keygen(plan): the plan's context and keys, with Galois keys for exactly its steps"},
    {"plan", NULL, 1, -1, ckks_f_plan, r_plan,
     "plan(f, args... [, precision] [, ctx]): runs f on shadow ciphertexts for its ckks.input arguments and "
     "gives the depth, parameters, keys, sizes, time and error (against ctx: refuses what does not fit)"},
    {"input", NULL, 1, 2, ckks_f_input, r_input,
     "input(n [, bound]) or input(samples): an encrypted argument of plan (length n, values in [-bound, bound]); "
     "input(X), X 2-D: a batch, one ciphertext per row (as encrypt_rows)"},
    {"input_tiled", NULL, 1, 2, ckks_f_input_tiled, r_input_tiled,
     "input_tiled(n [, bound]) or input_tiled(samples): an encrypted argument of plan as encrypt_tiled makes it "
     "(repeated every power of two >= n slots: the input of matvec)"},
    {"input_pairs", NULL, 1, 1, ckks_f_input_pairs, r_input_pairs,
     "input_pairs(X): an encrypted argument of plan as encrypt_pairs makes it from X (a batch, one ciphertext of "
     "pairs per row)"},
    {"input_keys", NULL, 0, 0, ckks_f_input_keys, r_input_keys,
     "input_keys(): a stand-in for the key set argument of a planned function (ckks.encrypt with it, inside "
     "ckks.plan, makes a planning ciphertext: a constant the function encrypts)"},
    {"precision", NULL, 1, 1, ckks_f_precision, r_precision,
     "precision(bits) or precision(error): the rms error plan aims for (2^-bits, or an absolute bound)"},
    {"fits", NULL, 2, 2, ckks_f_fits, r_fits, "fits(plan, ctx): whether ctx has the depth and slots the plan needs"},
    {"counts", NULL, 0, 1, f_counts, r_counts,
     "counts() / counts(plan): the operations real ciphertexts went through since the last counts() (and resets "
     "them), or the plan's predicted ones, in the same words"},
    {"pow2_steps", NULL, 1, 1, f_pow2_steps, r_ctx_steps, "pow2_steps(ctx): [1, 2, 4, ..., slots/2], for keygen"},
    {"public_keys", NULL, 1, 1, f_public_keys, r_keys, "public_keys(keys): the keys without the secret key"},
    {"encrypt", NULL, 2, 2, f_encrypt, r_encrypt, "encrypt(keys, x): x a number (in every slot) or a 1-D tensor"},
    {"decrypt", NULL, 2, 2, f_decrypt, r_decrypt, "decrypt(keys, c): a float or a float tensor of c's length"},
    {"rotate", NULL, 2, 2, f_rotate, r_rotate, "rotate(c, k): slot i of the result is slot i+k of c (left rotation)"},
    {"sum", NULL, 1, 1, f_sum, r_ct, "sum(c): the sum across c's slots (an encrypted scalar)"},
    {"level", NULL, 1, 1, f_level, r_level, "level(c): levels left (0: no more products)"},
    {"scale", NULL, 1, 1, f_scale, r_scale, "scale(c): c's scale"},
    {"depth", NULL, 1, 1, f_depth, r_depth, "depth(ctx) / depth(plan): the context's or the plan's multiplicative depth"},
    {"error", NULL, 1, 1, f_error, r_error, "error(plan): the predicted rms error of the planned result"},
    {"seconds", NULL, 1, 1, f_seconds, r_error,
     "seconds(plan): the expected time of one call, from measured costs per operation"},
    {"slots", NULL, 1, 1, f_slots, r_depth, "slots(ctx) / slots(plan): N/2"},
    {"batch", NULL, 0, 0, f_batch, r_batch, "batch(): an empty batch of ciphertexts (for dot)"},
    {"push", NULL, 2, 2, f_push, r_push, "push(b, c): appends a ciphertext to a batch"},
    {"get", NULL, 2, 2, f_get, r_get, "get(b, i): ciphertext i of a batch"},
    {"encrypt_rows", NULL, 2, 2, f_encrypt_rows, r_encrypt_rows, "encrypt_rows(keys, X): a batch, one ciphertext per row"},
    {"dot", NULL, 2, 2, f_dot, r_dot,
     "dot(b, w): sum_i w[i] * b[i], w a float[m] or a float[m, n] (fused, one rescale)"},
    {"save_keys", NULL, 2, 2, f_save_keys, r_save_keys, "save_keys(keys, path): with mode 0600 when secret"},
    {"load_keys", NULL, 2, 2, f_load_keys, r_load_keys, "load_keys(ctx, path): keys saved by save_keys"},
    {"key_bytes", NULL, 1, 1, f_key_bytes, r_key_bytes,
     "key_bytes(keys): the size in bytes of the file save_keys writes for these keys (e.g. the server's keys)"},
    {"save", NULL, 2, 2, f_save, r_save, "save(c, path): a ciphertext"},
    {"load", NULL, 2, 2, f_load, r_load, "load(keys, path): a ciphertext saved by save, under these keys"},
    {"flood", NULL, 3, 3, f_flood, r_flood,
     "flood(c, noise_bits, s): re-randomized, with noise below 2^noise_bits hidden up to statistical distance 2^-s "
     "(for results handed to the key holder; costs precision)"},
    {"noise_bits", NULL, 3, 3, f_noise_bits, r_noise_bits,
     "noise_bits(keys, c, expected): log2 of c's largest noise coefficient (the key holder's dry run, for flood)"},
    {"encrypt_tiled", NULL, 2, 2, f_encrypt_tiled, r_encrypt,
     "encrypt_tiled(keys, x): x repeated every power of two >= len(x) slots, the input layout of matvec"},
    {"matvec", NULL, 2, 3, f_matvec, r_matvec,
     "matvec(c, W [, b]): W c + b by diagonals (baby-step giant-step, hoisted rotations; one level); c from "
     "encrypt_tiled or a matvec result (or encrypt: repeated by rotations, noisier)"},
    {"matvec_steps", NULL, 2, 3, f_matvec_steps, r_matvec_steps,
     "matvec_steps(ctx, W [, fresh]): the rotation steps matvec needs for W (fresh: also those that repeat a fresh "
     "input), for keygen"},
    {"matvec_diagonals", NULL, 3, 4, f_matvec_diagonals, r_matvec_diagonals,
     "matvec_diagonals(c, offsets, D [, b]): y[j] = sum_r D[r, j] c[(j + offsets[r]) mod p] + b[j], p = D's columns "
     "(a sparse matrix by its diagonals; one level)"},
    {"diagonals_steps", NULL, 3, 3, f_diagonals_steps, r_diagonals_steps,
     "diagonals_steps(ctx, offsets, D): the rotation steps matvec_diagonals needs, for keygen"},
    {"encrypt_pairs", NULL, 2, 2, f_encrypt_pairs, r_encrypt_rows,
     "encrypt_pairs(keys, X): a batch, one ciphertext per row of up to N values, two per slot (complex packing)"},
    {"square_pairs", NULL, 1, 1, f_square_pairs, r_square_pairs,
     "square_pairs(c): the square of every value of a ciphertext of pairs (one conjugation, two products; one level); "
     "of a batch: the batch of the squares, one ciphertext per thread at a time"},
    {"linear", NULL, 2, 3, f_linear, r_linear,
     "linear(b, W [, bias]): the batch W b + bias for a float[m, n] W and a batch of n ciphertexts (one kernel for "
     "the whole layer, one rescale per output)"},
    {"threads", NULL, 0, 1, f_threads, r_threads,
     "threads([n]): the runtime's thread count (HE_THREADS, default the cores); threads(n) sets it"},
};

/* sum(c) and mean(c) on ciphertexts; the other builtins are refused. */
static type *method_rule(checker *c, node *call, const char *name, type **t, int n)
{
    bool mine = false;
    for (int i = 0; i < n; i++) mine = mine || is_ct(t[i]);
    if (!mine) return NULL;
    if (strcmp(name, "sum") == 0 || strcmp(name, "mean") == 0) {
        if (n > 1) ck_error(c, call, "%s: a CKKS vector has one axis: no axis argument", name);
        return ty_obj(CT_NAME);
    }
    ck_error(c, call, "%s: not defined on %s (its slots move with ckks.rotate; a matrix product is ckks.matvec)",
             name, CT_NAME);
    return ty_any;
}

/* --- levels at compile time (check.h) ---------------------------------------------------- */
/* The checker's straight-line abstract interpretation: a context of literal
** arguments (its depth), keys made from it, and ciphertexts encrypted under
** them with the levels they have left. The levels are an upper bound (an
** addition that aligns two scales, a sum that masks, may spend one more),
** so a product of operands at level 0 is certain to fail: a compile-time
** error at the product, with the context's line. */
enum { ABS_CTX = 1, ABS_KEYS, ABS_CT };
extern const native_module he_mod_ckks;

static ck_abs abs_val(int kind, int a, int b, node *at)
{
    return (ck_abs){.mod = &he_mod_ckks, .kind = kind, .a = a, .b = b, .at = at};
}

/* The operand spends a level when it is multiplied by: not for an int. */
static ck_abs abs_spend(checker *c, node *n, ck_abs x, const char *what)
{
    if (x.a > 0) return abs_val(ABS_CT, x.a - 1, x.b, x.at);
    node *ctx = x.at;
    ck_error(c, n,
             "ckks: %s at level 0: the modulus chain of ckks.context(%lld, %lld, %lld) (line %d) is exhausted here "
             "(depth %d needed, %d available); build the context with depth >= %d",
             what, (long long)ctx->list.v[0]->ival, (long long)ctx->list.v[1]->ival, (long long)ctx->list.v[2]->ival,
             ctx->line, x.b + 1, x.b, x.b + 1);
    return (ck_abs){0};
}

static ck_abs abs_call(checker *c, node *call, const char *name, const ck_abs *a, type **at, int n)
{
    (void)at;
    if (strcmp(name, "context") == 0) {
        if (n != 3) return (ck_abs){0};
        for (int i = 0; i < 3; i++)
            if (call->list.v[i]->kind != N_INT) return (ck_abs){0};
        return abs_val(ABS_CTX, (int)call->list.v[2]->ival, 0, call);
    }
    if (n < 1 || a[0].mod != &he_mod_ckks) return (ck_abs){0};
    if (strcmp(name, "keygen") == 0 || strcmp(name, "load_keys") == 0)
        return a[0].kind == ABS_CTX ? abs_val(ABS_KEYS, a[0].a, 0, a[0].at) : (ck_abs){0};
    if (strcmp(name, "public_keys") == 0) return a[0].kind == ABS_KEYS ? a[0] : (ck_abs){0};
    if (strcmp(name, "encrypt") == 0 || strcmp(name, "encrypt_tiled") == 0)
        return a[0].kind == ABS_KEYS ? abs_val(ABS_CT, a[0].a, a[0].a, a[0].at) : (ck_abs){0};
    if (a[0].kind != ABS_CT) return (ck_abs){0};
    if (strcmp(name, "rotate") == 0 || strcmp(name, "sum") == 0 || strcmp(name, "flood") == 0) return a[0];
    if (strcmp(name, "matvec") == 0 || strcmp(name, "matvec_diagonals") == 0)
        return abs_spend(c, call, a[0], "a matrix-vector product");
    return (ck_abs){0};
}

static ck_abs abs_op(checker *c, node *n, he_op op, ck_abs a, ck_abs b, type *ta, type *tb)
{
    bool ca = a.mod == &he_mod_ckks && a.kind == ABS_CT, cb = b.mod == &he_mod_ckks && b.kind == ABS_CT;
    if (!ca && !cb) return (ck_abs){0};
    if (!tb) return op == HE_OP_NEG ? a : (ck_abs){0}; /* unary */
    if (ca && cb) {
        if (a.at != b.at) return (ck_abs){0}; /* other contexts: the run time says */
        ck_abs low = a.a < b.a ? a : b;
        if (op == HE_OP_ADD || op == HE_OP_SUB) return low;
        if (op == HE_OP_MUL) return abs_spend(c, n, low, "a product of two ciphertexts");
        return (ck_abs){0};
    }
    ck_abs x = ca ? a : b;
    type *pt = ca ? tb : ta; /* the plaintext operand */
    if (op == HE_OP_ADD || op == HE_OP_SUB) return x;
    if (op == HE_OP_MUL && pt->kind == T_INT) return x; /* exact, no level */
    if ((op == HE_OP_MUL || (op == HE_OP_DIV && ca)) &&
        (pt->kind == T_FLOAT || pt->kind == T_FIXED || pt->kind == T_TENSOR))
        return abs_spend(c, n, x, pt->kind == T_TENSOR ? "a product by a plaintext vector" : "a product by a real");
    return (ck_abs){0}; /* an operand of unknown type: not followed */
}

const native_module he_mod_ckks = {
    .name = "ckks",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
    .binop_rule = binop_rule,
    .unop_rule = unop_rule,
    .method_rule = method_rule,
    .abs_call = abs_call,
    .abs_op = abs_op,
};

/* --- for other native modules (ckks_values.h) ------------------------------------------------- */
int ckks_value_context(const ckks_ctx_info *p, he_value *out)
{
    he_value a[3] = {he_int(p->n), he_int(p->sbits), he_int(p->depth)};
    return context(a, out, p->insecure);
}

int ckks_value_context_info(he_value v, ckks_ctx_info *p)
{
    cctx *c = NULL;
    if (WANT_CTX(v, "context", &c) < 0) return -1;
    p->n = he_ckks_ctx_n(c->ctx);
    p->sbits = c->sbits;
    p->depth = c->depth;
    p->insecure = c->insecure;
    he_ckks_ctx_fingerprint(c->ctx, p->fingerprint);
    return 0;
}

int ckks_value_keys_context(he_value keys, he_value *ctx)
{
    ckeys *k = NULL;
    if (WANT_KEYS(keys, "keys", &k) < 0) return -1;
    k->c->obj.rc++;
    *ctx = he_objv(&k->c->obj);
    return 0;
}

int ckks_value_keys_parts(he_value keys, unsigned *parts)
{
    ckeys *k = NULL;
    if (WANT_KEYS(keys, "keys", &k) < 0) return -1;
    *parts = he_ckks_keys_parts(k->k);
    return 0;
}

int ckks_value_keys_bytes(he_value keys, unsigned parts, uint8_t **out, size_t *len)
{
    ckeys *k = NULL;
    if (WANT_KEYS(keys, "keys", &k) < 0) return -1;
    return he_ckks_keys_serialize(k->k, parts, out, len);
}

int ckks_value_keys_from(he_value ctx, const uint8_t *buf, size_t len, he_value *out)
{
    cctx *c = NULL;
    if (WANT_CTX(ctx, "keys", &c) < 0) return -1;
    ckeys *k = ckeys_new(c);
    int rc = k ? he_ckks_keys_deserialize(k->k, buf, len) : -1;
    if (rc == 0) rc = ckeys_set_id(k);
    if (rc < 0) {
        if (k) he_release(he_objv(&k->obj));
        return -1;
    }
    *out = he_objv(&k->obj);
    return 0;
}

int ckks_value_encrypt_rows(he_value keys, he_value X, bool symmetric, he_value *out)
{
    he_value a[2] = {keys, X};
    return encrypt_rows(a, symmetric, out);
}

int ckks_value_ct_bytes(he_value ct, uint8_t **out, size_t *len)
{
    cct *c = NULL;
    if (WANT_CT(ct, "ciphertext", &c) < 0) return -1;
    return ct_to_bytes(c, out, len);
}

int ckks_value_ct_from(he_value keys, const uint8_t *buf, size_t len, const char *what, he_value *out)
{
    ckeys *k = NULL;
    cct *c = NULL;
    if (WANT_KEYS(keys, "ciphertext", &k) < 0 || ct_from_bytes(k, buf, len, what, &c) < 0) return -1;
    *out = he_objv(&c->obj);
    return 0;
}

int ckks_value_batch(he_value *out) { return f_batch(NULL, NULL, 0, out); }

int ckks_value_batch_len(he_value b, int64_t *n)
{
    cbatch *bb = NULL;
    if (WANT_BATCH(b, "batch", &bb) < 0) return -1;
    *n = bb->n;
    return 0;
}

int ckks_value_batch_push(he_value b, he_value ct)
{
    he_value a[2] = {b, ct}, out;
    return f_push(NULL, a, 2, &out);
}

int ckks_value_batch_get(he_value b, int64_t i, he_value *out)
{
    he_value a[2] = {b, he_int(i)};
    return f_get(NULL, a, 2, out);
}
