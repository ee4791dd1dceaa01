/*
** smpc_plan.c: the SMPC planner. `smpc.plan(f, args...)` runs the .he
** function f, the same code that runs on shares, once in a private
** simulated context of the configuration asked for (parties, ring,
** fractional bits, protocol: a planning context, smpc.c's sctx.plan), on
** planning shares: shares of zeros of the inputs' shapes that also carry
** an interval [lo, hi] holding every value they may take, from the bounds
** given with smpc.input. No party connects and no input is read.
**
** Costs. The protocols themselves run (on zeros), so the rounds, the bytes
** each party sends and the dealer's material are the runtime's own counts
** (he_smpc_stats; he_smpc_material_get for the dealer's requests by kind):
** a protocol's traffic depends on shapes only, never on values, so the
** real run of f sends exactly these. The cost is that of one simulated run.
**
** Ranges. Every operator on a planning share also propagates the
** intervals (smpc.c's hooks call the rules below: sp_binary, sp_public,
** sp_conv, sp_value, sp_product, sp_compare): + - and public constants
** add them; products multiply them (the four corner products; x * x a
** square); a matrix product or dot is a sum of k products (with a public
** matrix: over each column's own weights), a convolution a sum over the
** kernel (padding adds zeros), sum a sum of its length, average pooling a
** window sum then a product by 1/k^2, truncation one ulp; relu, max,
** maxpool keep or clip the interval, comparisons and argmax give 0..1 and
** 0..L-1. Each bound is checked as runtime/smpc/check.c checks values in
** a simulated run (the same classes: a value |raw| < 2^62 or int64, a
** product before its truncation |raw| < 2^62, a comparison's difference
** in [-2^63, 2^63), Z_p's centred range), and where a bound can leave its
** range the plan notes a warning with file:line:column, the bound reached
** and the limit. No warning is a proof: intervals are sound (every value
** the real run can hold is inside them), so no value of any run on inputs
** within the bounds leaves the safe range. They are one interval per
** tensor and can be loose (x + x - x is [-3b, 3b], not [-b, b]): a warning
** says a bound may be reached, not that it will be.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modutil.h"
#include "smpc_plan.h"

/* --- the checks ------------------------------------------------------------------------------- */
static void limit_words(he_buf *b, const sp_run *r, sp_what what, int scale, double limit)
{
    if (r->zp) he_buf_printf(b, "Z_p's centred range |raw| <= %.15g", r->zp_half);
    else if (what == SP_DIFF)
        he_buf_printf(b, "-2^%d <= a - b < 2^%d = %.15g (a comparison takes the sign of a - b in Z_2^64)", 63 - scale,
                      63 - scale, limit);
    else if (what == SP_PRODUCT)
        he_buf_printf(b, "|x*y| < 2^%d = %.15g (before its truncation a fixed-point product has %d fractional bits "
                      "and must stay below 2^62 in Z_2^64)", 62 - scale, limit, scale);
    else if (scale == 0) he_buf_puts(b, "the int range -2^63 .. 2^63-1 (an int share overflows like an int)");
    else he_buf_printf(b, "the fixed-point range |x| < 2^%d = %.15g (%d fractional bits in Z_2^64)", 62 - scale, limit, scale);
}

void sp_check(sp_run *r, sp_what what, const char *op, int scale, double lo, double hi)
{
    double m = fmax(fabs(lo), fabs(hi)), limit;
    bool over;
    if (r->zp) {
        limit = ldexp(r->zp_half, -scale);
        over = m > limit;
    } else if (what == SP_DIFF || (what == SP_VALUE && scale == 0)) {
        limit = ldexp(1, 63 - scale);
        over = hi >= limit || lo < -limit;
    } else {
        limit = ldexp(1, 62 - scale);
        over = m >= limit;
    }
    if (!(m == m)) over = true; /* NaN: an infinite bound */
    he_vm *vm = r->vm;
    const char *file = he_vm_file(vm);
    int line = he_vm_line(vm), col = he_vm_col(vm);
    /* the planning script as the VM names it (as its run-time errors do); another file (a stdlib module) by its name */
    if (file && r->script && strcmp(file, r->script) != 0 && strrchr(file, '/')) file = strrchr(file, '/') + 1;
    for (int i = 0; i < r->nw; i++) { /* one entry per operation: its largest bound */
        sp_warn *w = &r->w[i];
        if (w->line == line && w->col == col && w->what == what && w->scale == scale && strcmp(w->op, op) == 0 &&
            strcmp(w->file, file ? file : "?") == 0) {
            if (!(m <= w->reached)) w->reached = m;
            w->over = w->over || over;
            return;
        }
    }
    if (r->nw == r->capw) {
        int cap = r->capw ? 2 * r->capw : 16;
        sp_warn *nw = realloc(r->w, sizeof *nw * (size_t)cap);
        if (!nw) { /* out of memory: what cannot be noted is a warning */
            r->lost = r->lost || over;
            return;
        }
        r->w = nw;
        r->capw = cap;
    }
    sp_warn *w = &r->w[r->nw++];
    memset(w, 0, sizeof *w);
    snprintf(w->file, sizeof w->file, "%s", file ? file : "?");
    snprintf(w->op, sizeof w->op, "%s", op);
    w->line = line;
    w->col = col;
    w->what = what;
    w->scale = scale;
    w->reached = m;
    w->limit = limit;
    w->over = over;
}

/* --- the bounds of each operation ----------------------------------------------------------------- */
/* [lo, hi] of a * b for a in [alo, ahi], b in [blo, bhi]. */
static sp_iv iv_mul(sp_iv a, sp_iv b)
{
    double q[4] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
    sp_iv r = {q[0], q[0]};
    for (int i = 1; i < 4; i++) {
        if (q[i] < r.lo) r.lo = q[i];
        if (q[i] > r.hi) r.hi = q[i];
    }
    return r;
}

sp_iv sp_range(const double *v, size_t n)
{
    sp_iv r = {n ? INFINITY : 0, n ? -INFINITY : 0};
    for (size_t k = 0; k < n; k++) {
        if (v[k] < r.lo) r.lo = v[k];
        if (v[k] > r.hi) r.hi = v[k];
    }
    return r;
}

sp_iv sp_value(sp_run *r, const char *op, int frac, sp_iv v)
{
    sp_check(r, SP_VALUE, op, frac, v.lo, v.hi);
    return v;
}

/* Before its truncation (both factors fractional) a product must fit as
** a product; the truncation may then add one ulp. */
sp_iv sp_product(sp_run *r, const char *op, int fa, int fb, sp_iv v)
{
    bool tf = fa > 0 && fb > 0;
    sp_check(r, tf ? SP_PRODUCT : SP_VALUE, op, fa + fb, v.lo, v.hi);
    double u = tf ? ldexp(1, -fa) : 0;
    return (sp_iv){v.lo - u, v.hi + u};
}

sp_iv sp_compare(sp_run *r, const char *op, int frac, sp_iv diff)
{
    sp_check(r, SP_DIFF, op, frac, diff.lo, diff.hi);
    return (sp_iv){0, 1};
}

sp_iv sp_binary(sp_run *r, he_op op, sp_iv a, sp_iv b, int fa, int fb, double k, bool same)
{
    switch (op) {
    case HE_OP_ADD: return sp_value(r, "addition", fa, (sp_iv){a.lo + b.lo, a.hi + b.hi});
    case HE_OP_SUB: return sp_value(r, "subtraction", fa, same ? (sp_iv){0, 0} : (sp_iv){a.lo - b.hi, a.hi - b.lo});
    case HE_OP_MUL: {
        sp_iv p = iv_mul(a, b);
        if (same) p.lo = a.lo > 0 ? a.lo * a.lo : a.hi < 0 ? a.hi * a.hi : 0; /* x * x: a square */
        return sp_product(r, "product", fa, fb, p);
    }
    case HE_OP_MATMUL: {
        sp_iv p = iv_mul(a, b);
        return sp_product(r, "matrix product", fa, fb, (sp_iv){k * p.lo, k * p.hi});
    }
    default: return sp_compare(r, "comparison", fa, (sp_iv){a.lo - b.hi, a.hi - b.lo});
    }
}

sp_iv sp_public(sp_run *r, he_op op, sp_iv x, int fx, int fp, const double *p, size_t n, bool swapped, int nd,
                const int64_t *shape)
{
    sp_iv v = sp_range(p, n);
    switch (op) {
    case HE_OP_ADD: return sp_value(r, "addition of a public value", fx, (sp_iv){x.lo + v.lo, x.hi + v.hi});
    case HE_OP_SUB: /* not swapped: p was negated, x + p */
        if (swapped) return sp_value(r, "subtraction from a public value", fx, (sp_iv){v.lo - x.hi, v.hi - x.lo});
        return sp_value(r, "subtraction of a public value", fx, (sp_iv){x.lo + v.lo, x.hi + v.hi});
    case HE_OP_MUL:
        if (fp == 0) return sp_value(r, "product by a public int", fx, iv_mul(x, v));
        return sp_product(r, "product by a public value", fx, fp, iv_mul(x, v));
    case HE_OP_MATMUL: {
        /* each output: the sum over a column of M (x @ M) or a row (M @ x) */
        int64_t rows = nd == 2 ? shape[0] : swapped ? 1 : shape[0];
        int64_t cols = nd == 2 ? shape[1] : swapped ? shape[0] : 1;
        sp_iv s = {INFINITY, -INFINITY};
        for (int64_t o = 0; o < (swapped ? rows : cols); o++) {
            sp_iv t = {0, 0};
            for (int64_t j = 0; j < (swapped ? cols : rows); j++) {
                double m = p[swapped ? o * cols + j : j * cols + o];
                sp_iv q = iv_mul(x, (sp_iv){m, m});
                t.lo += q.lo;
                t.hi += q.hi;
            }
            if (t.lo < s.lo) s.lo = t.lo;
            if (t.hi > s.hi) s.hi = t.hi;
        }
        if (s.lo > s.hi) s = (sp_iv){0, 0};
        return sp_product(r, "matrix product", fx, fp, s);
    }
    default:
        if (swapped) return sp_compare(r, "comparison", fx, (sp_iv){v.lo - x.hi, v.hi - x.lo});
        return sp_compare(r, "comparison", fx, (sp_iv){x.lo - v.hi, x.hi - v.lo});
    }
}

/* Each output of a convolution: a sum over a kernel's K weights (public
** weights: over each output channel's own) of products by x, with the
** padding's zeros. */
sp_iv sp_conv(sp_run *r, sp_iv x, bool padded, int fx, int fw, sp_iv w, const double *wv, int64_t OC, int64_t K)
{
    if (padded) {
        x.lo = x.lo < 0 ? x.lo : 0;
        x.hi = x.hi > 0 ? x.hi : 0;
    }
    sp_iv s;
    if (!wv) {
        s = iv_mul(x, w);
        s.lo *= (double)K;
        s.hi *= (double)K;
    } else {
        s = (sp_iv){INFINITY, -INFINITY};
        for (int64_t o = 0; o < OC; o++) {
            sp_iv t = {0, 0};
            for (int64_t j = 0; j < K; j++) {
                sp_iv q = iv_mul(x, (sp_iv){wv[o * K + j], wv[o * K + j]});
                t.lo += q.lo;
                t.hi += q.hi;
            }
            if (t.lo < s.lo) s.lo = t.lo;
            if (t.hi > s.hi) s.hi = t.hi;
        }
        if (s.lo > s.hi) s = (sp_iv){0, 0};
    }
    return sp_product(r, "convolution", fx, fw, s);
}

/* --- smpc.input --------------------------------------------------------------------------------- */
typedef struct sinput {
    he_obj obj;
    he_value ctx; /* retained */
    int nd;
    int64_t shape[HE_SMPC_MAXDIM];
    double lo, hi;
    bool isint;
    int owner;
} sinput;

static void shape_words(he_buf *b, int nd, const int64_t *sh)
{
    he_buf_puts(b, "[");
    for (int i = 0; i < nd; i++) he_buf_printf(b, "%s%lld", i ? ", " : "", (long long)sh[i]);
    he_buf_puts(b, "]");
}

static void sinput_free(he_obj *o)
{
    sinput *in = (sinput *)o;
    he_release(in->ctx);
    free(in);
}

static void input_words(he_buf *b, const sinput *in)
{
    shape_words(b, in->nd, in->shape);
    he_buf_printf(b, " %s in [%g, %g] from party %d", in->isint ? "int" : "fixed", in->lo, in->hi, in->owner);
}

static int sinput_repr(const he_obj *o, he_buf *b)
{
    he_buf_puts(b, "<smpc input ");
    input_words(b, (const sinput *)o);
    return he_buf_puts(b, ">");
}

static const he_type sinput_type = {.name = "smpc_input", .free = sinput_free, .repr = sinput_repr};

int smpc_f_input(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!smpc_is_context(a[0])) return he_error("smpc.input: expected an smpc context, got %s", he_typename(a[0]));
    sinput in = {.lo = -1, .hi = 1};
    if (a[1].tag == HE_INT) {
        in.nd = 1;
        in.shape[0] = a[1].as.i;
    } else if (he_is_tensor(a[1]) && he_as_tensor(a[1])->dtype == HE_DT_INT && he_as_tensor(a[1])->ndim == 1 &&
               he_as_tensor(a[1])->size <= HE_SMPC_MAXDIM) {
        he_tensor *t = he_as_tensor(a[1]);
        in.nd = (int)t->size;
        memcpy(in.shape, t->data.i, sizeof(int64_t) * (size_t)in.nd);
    } else return he_error("smpc.input: the shape must be an int or a list of ints like [2, 3]");
    for (int i = 0; i < in.nd; i++)
        if (in.shape[i] < 1 || in.shape[i] > ((int64_t)1 << 32))
            return he_error("smpc.input: bad dimension %lld", (long long)in.shape[i]);
    if (n > 2) {
        he_value bv = a[2];
        if (bv.tag == HE_INT || bv.tag == HE_FLOAT || bv.tag == HE_FIXED) {
            double b = bv.tag == HE_INT ? (double)bv.as.i : bv.tag == HE_FLOAT ? bv.as.f : he_fixed_to_double(bv.as.i, bv.frac);
            if (!(b >= 0)) return he_error("smpc.input: the bound must be a number >= 0 (values in [-bound, bound])");
            in.lo = -b;
            in.hi = b;
            in.isint = bv.tag == HE_INT;
        } else if (he_is_tensor(bv) && he_as_tensor(bv)->ndim == 1 && he_as_tensor(bv)->size == 2 &&
                   he_as_tensor(bv)->dtype != HE_DT_BOOL) {
            he_tensor *t = he_as_tensor(bv);
            in.isint = t->dtype == HE_DT_INT;
            for (int i = 0; i < 2; i++) {
                double v = t->dtype == HE_DT_INT ? (double)t->data.i[i]
                         : t->dtype == HE_DT_FIXED ? he_fixed_to_double(t->data.i[i], t->frac) : t->data.f[i];
                if (i == 0) in.lo = v;
                else in.hi = v;
            }
            if (!(in.lo <= in.hi)) return he_error("smpc.input: the bounds [lo, hi] need lo <= hi");
        } else return he_error("smpc.input: the bound must be a number or a list [lo, hi], not %s", he_typename(bv));
    }
    if (n > 3) {
        if (a[3].tag != HE_INT) return he_error("smpc.input: the owner must be an int, not %s", he_typename(a[3]));
        if (a[3].as.i < 0 || a[3].as.i >= smpc_ctx_parties(a[0]))
            return he_error("smpc.input: party %lld is not in this context (parties 0..%d)", (long long)a[3].as.i,
                            smpc_ctx_parties(a[0]) - 1);
        in.owner = (int)a[3].as.i;
    }
    sinput *p = he_calloc(1, sizeof *p);
    if (!p) return -1;
    *p = in;
    he_obj_init(&p->obj, &sinput_type);
    p->ctx = a[0];
    he_retain(p->ctx);
    *out = he_objv(&p->obj);
    return 0;
}

/* --- the plan ------------------------------------------------------------------------------------- */
typedef struct splan {
    he_obj obj;
    char *fname;
    char *config;   /* the configuration in words */
    char *inputs;   /* the inputs in words */
    int n;          /* parties */
    bool rep3, zp;
    he_smpc_stats in_stats, st;
    he_smpc_material mat;
    double peak;
    bool res_share;
    double res_lo, res_hi; /* the result's interval (a share) */
    char result[160];
    sp_warn *w;     /* every operation checked */
    int nw;
    int nover;      /* of which warnings (+1 when one could not be noted) */
    int closest;    /* the entry closest to its limit (-1: none) */
} splan;

static void splan_free(he_obj *o)
{
    splan *p = (splan *)o;
    free(p->fname);
    free(p->config);
    free(p->inputs);
    free(p->w);
    free(p);
}

static void bytes_words(he_buf *b, uint64_t v)
{
    if (v < 10000) he_buf_printf(b, "%llu B", (unsigned long long)v);
    else if (v < 1000000) he_buf_printf(b, "%.1f kB", (double)v / 1e3);
    else he_buf_printf(b, "%.2f MB", (double)v / 1e6);
}

static const char *const mat_names[HE_SMPC_MAT_NKINDS][2] = {
    {"Beaver triple", "products"}, {"matrix triple", "outputs"}, {"convolution triple", "outputs"},
    {"truncation pair", "elements"}, {"comparison (edaBit) set", "elements"},
};

static void where_words(he_buf *b, const sp_warn *w)
{
    he_buf_printf(b, "%s:%d", w->file, w->line);
    if (w->col > 0) he_buf_printf(b, ":%d", w->col);
}

static void warn_words(he_buf *b, const splan *p, const sp_warn *w)
{
    where_words(b, w);
    he_buf_printf(b, ": warning: the %s may reach %.6g, outside ", w->op, w->reached);
    const sp_run r = {.zp = p->zp, .zp_half = w->limit * ldexp(1, w->scale)};
    limit_words(b, &r, w->what, w->scale, w->limit);
}

static int splan_repr(const he_obj *o, he_buf *b)
{
    const splan *p = (const splan *)o;
    he_buf_printf(b, "<smpc plan of %s: %s\n", p->fname, p->config);
    he_buf_printf(b, "  inputs: %s; sharing them: ", p->inputs);
    smpc_stats_words(b, &p->in_stats, p->n, -1);
    he_buf_puts(b, "\n  ");
    smpc_stats_words(b, &p->st, p->n, -1);
    if (!p->rep3 && p->mat.request_bytes) {
        he_buf_printf(b, " (as processes, party %d also sends the dealer its requests: ", p->n - 1);
        bytes_words(b, p->mat.request_bytes);
        he_buf_puts(b, ")");
    }
    he_buf_puts(b, "\n  dealer material: ");
    if (p->rep3) he_buf_puts(b, "none (rep3 has no dealer)");
    else {
        bool any = false;
        uint64_t total = 0;
        for (int k = 0; k < HE_SMPC_MAT_NKINDS; k++) {
            if (!p->mat.pieces[k]) continue;
            he_buf_printf(b, "%s%llu %s%s (%llu %s)", any ? ", " : "", (unsigned long long)p->mat.pieces[k],
                          mat_names[k][0], p->mat.pieces[k] == 1 ? "" : "s", (unsigned long long)p->mat.elements[k],
                          mat_names[k][1]);
            total += p->mat.bytes[k];
            any = true;
        }
        if (!any) he_buf_puts(b, "none");
        else {
            he_buf_puts(b, "; ");
            bytes_words(b, total);
            he_buf_puts(b, " from the dealer");
        }
    }
    he_buf_printf(b, "\n  peak: %.0f share elements alive at once", p->peak);
    if (!p->zp) {
        he_buf_puts(b, " (");
        bytes_words(b, (uint64_t)(p->peak * (p->rep3 ? 16 : 8)));
        he_buf_puts(b, " per party)");
    }
    he_buf_printf(b, "\n  result: %s\n", p->result);
    if (p->nover == 0) {
        he_buf_puts(b, "  range: proved: no value leaves the safe range");
        if (p->closest >= 0) {
            const sp_warn *c = &p->w[p->closest];
            he_buf_printf(b, " (closest: the %s at ", c->op);
            where_words(b, c);
            he_buf_printf(b, ", bound %.3g of %.3g, %.1f bits to spare)", c->reached, c->limit, log2(c->limit / c->reached));
        }
    } else {
        he_buf_printf(b, "  range: %d warning%s: a value may leave the safe range", p->nover, p->nover == 1 ? "" : "s");
        for (int i = 0; i < p->nw; i++)
            if (p->w[i].over) {
                he_buf_puts(b, "\n    ");
                warn_words(b, p, &p->w[i]);
            }
    }
    return he_buf_puts(b, ">");
}

static const he_type splan_type = {.name = "smpc_plan", .free = splan_free, .repr = splan_repr};

bool smpc_is_plan(he_value v) { return he_is(v, &splan_type); }

int smpc_plan_stats(he_value v, int me, he_value *out)
{
    const splan *p = (const splan *)v.as.o;
    if (me < -1 || me >= p->n) return he_error("smpc.stats: party %d is not in the plan (parties 0..%d)", me, p->n - 1);
    he_smpc_stats st = p->st;
    /* a process of the last party also sends the dealer its requests */
    if (me == p->n - 1 && !p->rep3) st.bytes_sent[me] += p->mat.request_bytes;
    he_buf b;
    he_buf_init(&b);
    smpc_stats_words(&b, &st, p->n, me);
    he_str *s = b.data ? he_str_new(b.data, b.len) : NULL;
    he_buf_free(&b);
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

int smpc_f_safe(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!smpc_is_plan(a[0])) return he_error("smpc.safe: expected an smpc plan, got %s", he_typename(a[0]));
    *out = he_bool(((const splan *)a[0].as.o)->nover == 0);
    return 0;
}

int smpc_f_bounds(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!smpc_is_plan(a[0])) return he_error("smpc.bounds: expected an smpc plan, got %s", he_typename(a[0]));
    const splan *p = (const splan *)a[0].as.o;
    if (!p->res_share) {
        *out = he_nil();
        return 0;
    }
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 1, (int64_t[]){2});
    if (!t) return -1;
    t->data.f[0] = p->res_lo;
    t->data.f[1] = p->res_hi;
    *out = he_objv(&t->obj);
    return 0;
}

/* smpc.ranges(plan): every operation checked, one line each: where, what,
** its largest bound, the limit and the bits to spare (or the warning). */
int smpc_f_ranges(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!smpc_is_plan(a[0])) return he_error("smpc.ranges: expected an smpc plan, got %s", he_typename(a[0]));
    const splan *p = (const splan *)a[0].as.o;
    he_buf b;
    he_buf_init(&b);
    he_buf_puts(&b, "");
    for (int i = 0; i < p->nw; i++) {
        const sp_warn *w = &p->w[i];
        if (i) he_buf_puts(&b, "\n");
        if (w->over) {
            warn_words(&b, p, w);
            continue;
        }
        where_words(&b, w);
        he_buf_printf(&b, ": %s: bound %.6g of %.6g", w->op, w->reached, w->limit);
        if (w->reached > 0) he_buf_printf(&b, " (%.1f bits to spare)", log2(w->limit / w->reached));
    }
    he_str *s = b.data ? he_str_new(b.data, b.len) : NULL;
    he_buf_free(&b);
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

static int material_since(he_value pctx, const he_smpc_material *base, he_smpc_material *out)
{
    if (he_smpc_material_get(smpc_ctx_of(pctx), out) < 0) return -1;
    for (int k = 0; k < HE_SMPC_MAT_NKINDS; k++) {
        out->pieces[k] -= base->pieces[k];
        out->elements[k] -= base->elements[k];
        out->bytes[k] -= base->bytes[k];
    }
    out->request_bytes -= base->request_bytes;
    return 0;
}

int smpc_f_plan(he_vm *vm, he_value *a, int n, he_value *out)
{
    he_value fn = a[0];
    if (!he_is(fn, &closure_type) && !he_is(fn, &native_type)) return he_error("smpc.plan: the first argument must be the function to plan, not %s", he_typename(fn));
    /* the configuration: the context of the inputs, or a context passed */
    he_value cfg = he_nil();
    for (int i = 1; i < n && cfg.tag == HE_NIL; i++) {
        if (he_is(a[i], &sinput_type)) cfg = ((sinput *)a[i].as.o)->ctx;
        else if (smpc_is_context(a[i])) cfg = a[i];
    }
    if (cfg.tag == HE_NIL)
        return he_error("smpc.plan: no smpc.input(ctx, ...) or context among the arguments: which parties and "
                        "protocol to plan for?");
    for (int i = 1; i < n; i++) {
        he_value c = he_is(a[i], &sinput_type) ? ((sinput *)a[i].as.o)->ctx : a[i];
        if (smpc_is_context(c) && c.as.o != cfg.as.o)
            return he_error("smpc.plan: the arguments name two contexts (argument %d): plan one at a time", i + 1);
    }
    sp_run run = {.vm = vm, .script = he_vm_file(vm)};
    he_value pctx;
    if (smpc_planning_context(cfg, &run, &pctx) < 0) return -1;
    int nargs = n - 1, rc = 0;
    he_value *args = he_calloc((size_t)(nargs ? nargs : 1), sizeof *args);
    he_buf ib;
    he_buf_init(&ib);
    if (!args) rc = -1;
    for (int i = 0; rc == 0 && i < nargs; i++) {
        he_value v = a[i + 1];
        if (he_is(v, &sinput_type)) {
            const sinput *in = (const sinput *)v.as.o;
            rc = smpc_planning_input(pctx, in->nd, in->shape, in->lo, in->hi, in->isint, in->owner, &args[i]);
            he_buf_printf(&ib, "%s", ib.len ? ", " : "");
            input_words(&ib, in);
        } else if (smpc_is_context(v)) {
            args[i] = pctx;
            he_retain(pctx);
        } else {
            args[i] = v;
            he_retain(v);
        }
    }
    if (ib.len == 0) he_buf_puts(&ib, "none");
    splan *p = rc == 0 ? he_calloc(1, sizeof *p) : NULL;
    if (!p) rc = -1;
    he_value ret = he_nil();
    if (rc == 0) {
        he_obj_init(&p->obj, &splan_type);
        he_smpc_ctx *pc = smpc_ctx_of(pctx);
        he_smpc_stats_get(pc, &p->in_stats);
        he_smpc_stats_reset(pc);
        p->rep3 = he_smpc_protocol_of(pc) == HE_SMPC_REP3;
        p->zp = run.zp;
        p->n = smpc_ctx_parties(pctx);
        if (!p->rep3) rc = he_smpc_material_get(pc, &run.base);
        if (rc == 0 && (rc = he_vm_call(vm, fn, args, nargs, &ret)) < 0 && vm->trace.data) {
            /* where f stopped: the first line of its traceback ("FILE:LINE: runtime error: msg") */
            char where[256];
            size_t k = strcspn(vm->trace.data, "\n");
            const char *cut = strstr(vm->trace.data, ": runtime error: ");
            if (cut && (size_t)(cut - vm->trace.data) < k && (size_t)(cut - vm->trace.data) < sizeof where) {
                snprintf(where, sizeof where, "%.*s", (int)(cut - vm->trace.data), vm->trace.data);
                char msg[900];
                snprintf(msg, sizeof msg, "%s", he_errmsg());
                he_error("smpc.plan: planning stopped at %s: %s", where, msg);
            }
        }
        if (rc == 0) {
            he_smpc_stats_get(pc, &p->st);
            if (!p->rep3) rc = material_since(pctx, &run.base, &p->mat);
        }
    }
    if (rc == 0) {
        p->peak = run.peak;
        p->w = run.w;
        p->nw = run.nw;
        p->nover = run.lost;
        p->closest = -1;
        for (int i = 0; i < run.nw; i++) {
            const sp_warn *w = &run.w[i];
            p->nover += w->over;
            if (w->reached > 0 && (p->closest < 0 || w->reached / w->limit > run.w[p->closest].reached / run.w[p->closest].limit))
                p->closest = i;
        }
        run.w = NULL;
        if (smpc_is_share(ret)) {
            int nd, frac;
            const int64_t *sh;
            double lo, hi;
            smpc_share_info(ret, &nd, &sh, &frac, &lo, &hi);
            p->res_share = true;
            p->res_lo = lo;
            p->res_hi = hi;
            he_buf rb;
            he_buf_init(&rb);
            he_buf_puts(&rb, "a share ");
            if (nd) {
                shape_words(&rb, nd, sh);
                he_buf_puts(&rb, " ");
            }
            he_buf_printf(&rb, "%s, every value in [%.6g, %.6g]", frac ? "fixed" : "int", lo, hi);
            snprintf(p->result, sizeof p->result, "%s", rb.data ? rb.data : "a share");
            he_buf_free(&rb);
        } else snprintf(p->result, sizeof p->result, "%s", ret.tag == HE_NIL ? "nothing" : he_typename(ret));
        he_buf fb;
        he_buf_init(&fb);
        if (he_repr(fn, &fb, false) < 0 || !fb.data) he_buf_puts(&fb, "a function");
        p->fname = strdup(fb.data ? fb.data : "a function");
        he_buf_free(&fb);
        he_buf cb;
        he_buf_init(&cb);
        smpc_ctx_describe(pctx, &cb);
        p->config = strdup(cb.data ? cb.data : "");
        he_buf_free(&cb);
        p->inputs = strdup(ib.data ? ib.data : "none");
        if (!p->fname || !p->config || !p->inputs) rc = he_error("out of memory");
    }
    he_release(ret);
    for (int i = 0; args && i < nargs; i++) he_release(args[i]);
    free(args);
    he_buf_free(&ib);
    free(run.w);
    smpc_planning_end(pctx); /* planning shares kept by f (module state) stay plain simulated shares */
    he_release(pctx);
    if (rc < 0) {
        if (p) he_release(he_objv(&p->obj));
        return -1;
    }
    *out = he_objv(&p->obj);
    if (vm->plan_only) {
        he_buf b;
        he_buf_init(&b);
        if (he_repr(*out, &b, false) == 0 && b.data) printf("%s\n", b.data);
        he_buf_free(&b);
    }
    return 0;
}
