/*
** test_tensor.c: the tensor library against plain reference loops written
** here, on seeded random inputs (he_prng), plus known answers and every
** error path.
*/
#include "tensor.h"

#include <math.h>
#include <string.h>

#include "check.h"

static he_prng G;

static he_value TV(he_tensor *t) { return he_objv(&t->obj); }
static void drop(he_tensor *t)
{
    if (t) he_release(TV(t));
}
static void dropv(he_value v) { he_release(v); }

static int64_t rint_(int64_t lo, int64_t hi) { return lo + (int64_t)(he_prng_u64(&G) % (uint64_t)(hi - lo + 1)); }

/* Random tensor: ints in [lo, hi], floats in [lo, hi), fixed values in
** [lo, hi] with random fraction bits, bools. */
static he_tensor *rnd(he_dtype dt, int frac, int nd, const int64_t *shape, int64_t lo, int64_t hi)
{
    he_tensor *t = he_tensor_new(dt, frac, nd, shape);
    if (!t) return NULL;
    for (int64_t k = 0; k < t->size; k++) {
        switch (dt) {
        case HE_DT_INT: t->data.i[k] = rint_(lo, hi); break;
        case HE_DT_FLOAT: t->data.f[k] = (double)lo + (double)(hi - lo) * he_prng_uniform(&G); break;
        case HE_DT_FIXED:
            t->data.i[k] = (int64_t)((uint64_t)rint_(lo, hi - 1) << frac) + (frac ? rint_(0, (INT64_C(1) << frac) - 1) : 0);
            break;
        case HE_DT_BOOL: t->data.i[k] = rint_(0, 1); break;
        }
    }
    return t;
}

static void unravel(int64_t k, int nd, const int64_t *shape, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = shape[d] ? k % shape[d] : 0;
        k = shape[d] ? k / shape[d] : 0;
    }
}

/* Flat offset in t of the output index oidx (ond dims) under broadcasting. */
static int64_t bflat(const he_tensor *t, int ond, const int64_t *oidx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = t->shape[d] == 1 ? 0 : oidx[d + ond - t->ndim];
        off = off * t->shape[d] + i;
    }
    return off;
}

static he_value elem(const he_tensor *t, int64_t k)
{
    switch ((he_dtype)t->dtype) {
    case HE_DT_FLOAT: return he_float(t->data.f[k]);
    case HE_DT_FIXED: return he_fixed_raw(t->data.i[k], t->frac);
    case HE_DT_BOOL: return he_bool(t->data.i[k] != 0);
    default: return he_int(t->data.i[k]);
    }
}

static bool same_value(he_value a, he_value b)
{
    if (a.tag != b.tag) return false;
    switch ((he_tag)a.tag) {
    case HE_FLOAT: return a.as.f == b.as.f || (isnan(a.as.f) && isnan(b.as.f));
    case HE_FIXED: return a.frac == b.frac && a.as.i == b.as.i;
    case HE_INT: return a.as.i == b.as.i;
    case HE_BOOL: return a.as.b == b.as.b;
    default: return false;
    }
}

static const char *vstr(he_value v)
{
    static char s[8][64];
    static int w;
    he_buf b;
    he_buf_init(&b);
    if (he_repr(v, &b, false) < 0) he_buf_puts(&b, "?");
    w = (w + 1) % 8;
    snprintf(s[w], sizeof s[w], "%s:%s", he_typename(v), b.data ? b.data : "");
    he_buf_free(&b);
    return s[w];
}

static bool has_err(const char *needle) { return strstr(he_errmsg(), needle) != NULL; }

/* --- construction ---------------------------------------------------------- */

static void test_new(void)
{
    int64_t sh[3] = {2, 3, 4};
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 3, sh);
    CHECK(t && t->size == 24 && t->ndim == 3 && t->obj.rc == 1, "new");
    for (int64_t k = 0; t && k < t->size; k++) CHECK(t->data.f[k] == 0.0, "zero fill");
    he_tensor *c = he_tensor_copy(t);
    CHECK(c && c->size == 24 && c->data.f != t->data.f, "copy");
    drop(c);
    drop(t);
    t = he_tensor_new(HE_DT_INT, 0, 0, NULL);
    CHECK(t && t->size == 1 && t->data.i[0] == 0, "0-D");
    drop(t);
    int64_t e[2] = {3, 0};
    t = he_tensor_new(HE_DT_INT, 0, 2, e);
    CHECK(t && t->size == 0, "empty");
    drop(t);
    int64_t neg[2] = {2, -1};
    CHECK(!he_tensor_new(HE_DT_INT, 0, 2, neg) && has_err("negative dimension -1"), "negative: %s", he_errmsg());
    int64_t big[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 2};
    CHECK(!he_tensor_new(HE_DT_INT, 0, 3, big) && has_err("too large"), "overflow: %s", he_errmsg());
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(!he_tensor_new(HE_DT_INT, 0, 9, nine), "ndim 9");
    CHECK(!he_tensor_new(HE_DT_FIXED, 63, 1, sh) && has_err("precision 63"), "frac: %s", he_errmsg());
}

static void test_builders(void)
{
    int64_t sh[2] = {2, 3};
    he_tensor *t = he_tensor_full(HE_DT_FLOAT, 0, 2, sh, he_int(7));
    CHECK(t && t->data.f[5] == 7.0, "full int into float");
    drop(t);
    t = he_tensor_full(HE_DT_FIXED, 8, 2, sh, he_float(1.5));
    CHECK(t && t->data.i[0] == 384 && t->frac == 8, "full float into fixed");
    drop(t);
    CHECK(!he_tensor_full(HE_DT_INT, 0, 2, sh, he_float(1.5)) && has_err("cannot store float in a int tensor"),
          "full float into int: %s", he_errmsg());
    CHECK(!he_tensor_full(HE_DT_BOOL, 0, 2, sh, he_int(1)), "full int into bool");

    struct {
        int64_t a, b, s;
        int n;
        int64_t v[6];
    } ar[] = {
        {0, 5, 1, 5, {0, 1, 2, 3, 4}}, {2, 11, 3, 3, {2, 5, 8}}, {5, 0, -2, 3, {5, 3, 1}},
        {3, 3, 1, 0, {0}},             {5, 1, 1, 0, {0}},        {-3, 3, 2, 3, {-3, -1, 1}},
        {1, -2, -1, 3, {1, 0, -1}},
    };
    for (size_t i = 0; i < sizeof ar / sizeof ar[0]; i++) {
        t = he_tensor_arange(ar[i].a, ar[i].b, ar[i].s);
        CHECK(t && t->ndim == 1 && t->size == ar[i].n && t->dtype == HE_DT_INT, "arange %zu size", i);
        for (int k = 0; t && k < ar[i].n && k < t->size; k++) CHECK(t->data.i[k] == ar[i].v[k], "arange %zu[%d]", i, k);
        drop(t);
    }
    CHECK(!he_tensor_arange(0, 5, 0) && has_err("step must not be zero"), "arange step 0");
    t = he_tensor_eye(3);
    for (int i = 0; t && i < 3; i++)
        for (int j = 0; j < 3; j++) CHECK(t->data.f[i * 3 + j] == (i == j), "eye");
    drop(t);
}

static void test_random(void)
{
    int64_t sh[2] = {50, 40};
    he_prng g1, g2, g3;
    he_prng_seed(&g1, 42);
    he_prng_seed(&g2, 42);
    he_prng_seed(&g3, 43);
    he_tensor *a = he_tensor_uniform(&g1, 2, sh, -2, 3), *b = he_tensor_uniform(&g2, 2, sh, -2, 3);
    he_tensor *c = he_tensor_uniform(&g3, 2, sh, -2, 3);
    CHECK(a && b && c, "uniform");
    if (!a || !b || !c) return;
    CHECK(memcmp(a->data.f, b->data.f, 8 * 2000) == 0, "same seed, same tensor");
    CHECK(memcmp(a->data.f, c->data.f, 8 * 2000) != 0, "other seed, other tensor");
    double lo = 1e9, hi = -1e9;
    for (int k = 0; k < 2000; k++) lo = fmin(lo, a->data.f[k]), hi = fmax(hi, a->data.f[k]);
    CHECK(lo >= -2 && hi < 3 && lo < -1.9 && hi > 2.9, "uniform range [%g, %g]", lo, hi);
    drop(a), drop(b), drop(c);
    /* the first draws for seed 42 follow he_prng_uniform exactly */
    he_prng_seed(&g1, 42);
    he_prng_seed(&g2, 42);
    a = he_tensor_uniform(&g1, 1, sh, 0, 1);
    CHECK(a && a->data.f[0] == he_prng_uniform(&g2) && a->data.f[1] == he_prng_uniform(&g2), "uniform order");
    drop(a);

    /* normal: N = 200000, mean 0.5, std 2. The sample mean's std error is
    ** 2/sqrt(N) = 0.0045 and the sample std's about 2/sqrt(2N) = 0.0032:
    ** tolerances of 6 standard errors. */
    int64_t n[1] = {200000};
    he_prng_seed(&g1, 7);
    he_prng_seed(&g2, 7);
    a = he_tensor_normal(&g1, 1, n, 0.5, 2.0);
    b = he_tensor_normal(&g2, 1, n, 0.5, 2.0);
    CHECK(a && b && memcmp(a->data.f, b->data.f, 8 * (size_t)n[0]) == 0, "normal reproducible");
    if (a) {
        double s = 0, s2 = 0;
        for (int64_t k = 0; k < n[0]; k++) s += a->data.f[k];
        double mean = s / (double)n[0];
        for (int64_t k = 0; k < n[0]; k++) s2 += (a->data.f[k] - mean) * (a->data.f[k] - mean);
        double sd = sqrt(s2 / (double)(n[0] - 1));
        CHECK(fabs(mean - 0.5) < 0.027, "normal mean %g", mean);
        CHECK(fabs(sd - 2.0) < 0.019, "normal std %g", sd);
    }
    drop(a), drop(b);
    CHECK(!he_tensor_normal(&g1, 1, n, 0, -1) && has_err("std >= 0"), "negative std");
    CHECK(!he_tensor_uniform(&g1, 1, n, 2, 1), "lo > hi");
}

/* --- indexing ----------------------------------------------------------------- */

static void test_get_set(void)
{
    int64_t sh[2] = {3, 4};
    he_tensor *t = he_tensor_arange(0, 12, 1), *m = he_tensor_reshape(t, 2, sh);
    drop(t);
    he_value v;
    int64_t i1[2] = {1, 2}, i2[2] = {-1, -4}, i3[2] = {5, 0}, i4[2] = {0, -5};
    CHECK(he_tensor_get(m, 2, i1, &v) == 0 && v.tag == HE_INT && v.as.i == 6, "get");
    CHECK(he_tensor_get(m, 2, i2, &v) == 0 && v.as.i == 8, "negative index");
    CHECK(he_tensor_get(m, 2, i3, &v) < 0 && has_err("index 5 out of range for axis 0 of size 3"), "range: %s",
          he_errmsg());
    CHECK(he_tensor_get(m, 2, i4, &v) < 0 && has_err("index -5 out of range for axis 1 of size 4"), "range: %s",
          he_errmsg());
    CHECK(he_tensor_get(m, 1, i1, &v) < 0, "partial get refused");
    CHECK(he_tensor_set(m, 2, i1, he_int(-9)) == 0 && m->data.i[6] == -9, "set");
    CHECK(he_tensor_set(m, 2, i1, he_float(1.0)) < 0 && has_err("cannot store float"), "float into int");
    CHECK(he_tensor_set(m, 2, i3, he_int(1)) < 0, "set out of range");

    he_tensor *f = he_tensor_astype(m, HE_DT_FLOAT, 0);
    CHECK(he_tensor_set(f, 2, i2, he_int(5)) == 0 && f->data.f[8] == 5.0, "int into float");
    CHECK(he_tensor_set(f, 2, i2, he_fixed_raw(3, 1)) == 0 && f->data.f[8] == 1.5, "fixed into float");
    CHECK(he_tensor_set(f, 2, i2, he_bool(true)) < 0, "bool into float");
    he_tensor *x = he_tensor_astype(m, HE_DT_FIXED, 4);
    CHECK(he_tensor_set(x, 2, i1, he_float(0.3)) == 0 && x->data.i[6] == 5, "float into fixed rounds (0.3*16=4.8)");
    CHECK(he_tensor_set(x, 2, i1, he_fixed_raw(3, 1)) == 0 && x->data.i[6] == 24, "fixed rescale");
    CHECK(he_tensor_get(x, 2, i1, &v) == 0 && v.tag == HE_FIXED && v.frac == 4 && v.as.i == 24, "get fixed");
    he_tensor *b = he_tensor_astype(m, HE_DT_BOOL, 0);
    CHECK(he_tensor_get(b, 2, i1, &v) == 0 && v.tag == HE_BOOL && v.as.b, "get bool");
    CHECK(he_tensor_set(b, 2, i1, he_bool(false)) == 0 && b->data.i[6] == 0, "set bool");
    drop(f), drop(x), drop(b);

    /* sub-tensors: rows and blocks, compared with the flat data */
    int64_t sh3[3] = {3, 4, 5};
    he_tensor *r = rnd(HE_DT_FLOAT, 0, 3, sh3, -1, 1);
    for (int64_t i = -3; i < 3; i++) {
        int64_t idx[2] = {i, -1 - i % 4};
        he_tensor *s1 = he_tensor_sub(r, 1, idx), *s2 = he_tensor_sub(r, 2, idx);
        int64_t ii = i < 0 ? i + 3 : i, jj = idx[1] < 0 ? idx[1] + 4 : idx[1];
        CHECK(s1 && s1->ndim == 2 && s1->shape[0] == 4 && s1->shape[1] == 5, "sub shape");
        CHECK(s2 && s2->ndim == 1 && s2->shape[0] == 5, "sub shape 2");
        for (int k = 0; s1 && k < 20; k++) CHECK(s1->data.f[k] == r->data.f[ii * 20 + k], "sub row");
        for (int k = 0; s2 && k < 5; k++) CHECK(s2->data.f[k] == r->data.f[ii * 20 + jj * 5 + k], "sub block");
        drop(s1), drop(s2);
    }
    int64_t bad[1] = {3};
    CHECK(!he_tensor_sub(r, 1, bad) && has_err("index 3 out of range for axis 0 of size 3"), "sub range");
    drop(r);
    drop(m);
}

/* Python's slice.indices(), written from its definition. */
static int64_t ref_slice(const he_slice *s, int64_t len, int64_t *out)
{
    int64_t step = s->step, start, stop, n = 0;
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
    if (s->start == HE_SLICE_END) start = step > 0 ? lower : upper;
    else if (s->start < 0) start = s->start + len < lower ? lower : s->start + len;
    else start = s->start > upper ? upper : s->start;
    if (s->stop == HE_SLICE_END) stop = step > 0 ? upper : lower;
    else if (s->stop < 0) stop = s->stop + len < lower ? lower : s->stop + len;
    else stop = s->stop > upper ? upper : s->stop;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out[n++] = i;
    return n;
}

static void test_slice(void)
{
    /* known answers on a list of 5 (from Python) */
    struct {
        int64_t a, b, s;
        int n;
        int64_t v[5];
    } ka[] = {
        {HE_SLICE_END, HE_SLICE_END, -1, 5, {4, 3, 2, 1, 0}},
        {-2, HE_SLICE_END, -2, 2, {3, 1}},
        {10, -10, -3, 2, {4, 1}},
        {1, 100, 2, 2, {1, 3}},
        {-100, 2, 1, 2, {0, 1}},
        {3, 1, 1, 0, {0}},
        {HE_SLICE_END, HE_SLICE_END, -2, 3, {4, 2, 0}},
        {1, HE_SLICE_END, -1, 2, {1, 0}},
        {-1, -6, -1, 5, {4, 3, 2, 1, 0}},
        {5, HE_SLICE_END, 1, 0, {0}},
        {0, 5, -1, 0, {0}},
        {INT64_MAX, INT64_MIN + 1, INT64_MIN + 1, 1, {4}},
    };
    he_tensor *t = he_tensor_arange(0, 5, 1);
    for (size_t i = 0; i < sizeof ka / sizeof ka[0]; i++) {
        he_slice s = {ka[i].a, ka[i].b, ka[i].s, false};
        he_tensor *r = he_tensor_slice(t, 1, &s);
        CHECK(r && r->ndim == 1 && r->size == ka[i].n, "slice %zu size %lld", i, r ? (long long)r->size : -1LL);
        for (int k = 0; r && k < ka[i].n && k < r->size; k++) CHECK(r->data.i[k] == ka[i].v[k], "slice %zu[%d]", i, k);
        drop(r);
    }
    /* huge steps on a 2-D tensor: one row, one column */
    int64_t s34[2] = {3, 4};
    he_tensor *flat = he_tensor_arange(0, 12, 1), *m34 = he_tensor_reshape(flat, 2, s34);
    he_slice hs[2] = {{HE_SLICE_END, HE_SLICE_END, INT64_MAX, false}, {HE_SLICE_END, HE_SLICE_END, INT64_MIN, false}};
    he_tensor *hr = he_tensor_slice(m34, 2, hs);
    CHECK(hr && hr->ndim == 2 && hr->shape[0] == 1 && hr->shape[1] == 1 && hr->data.i[0] == 3, "huge steps");
    drop(hr), drop(m34), drop(flat);
    he_slice z = {0, 5, 0, false};
    CHECK(!he_tensor_slice(t, 1, &z) && has_err("step cannot be zero"), "step 0");
    he_slice ix = {7, 0, 1, true};
    CHECK(!he_tensor_slice(t, 1, &ix) && has_err("index 7 out of range for axis 0 of size 5"), "index: %s",
          he_errmsg());
    drop(t);

    /* random slices of random 1..4-D tensors against the reference */
    for (int iter = 0; iter < 300; iter++) {
        int nd = (int)rint_(1, 4);
        int64_t sh[4];
        for (int d = 0; d < nd; d++) sh[d] = rint_(0, 5);
        he_tensor *a = rnd(HE_DT_INT, 0, nd, sh, -1000, 1000);
        int ns = (int)rint_(0, nd);
        he_slice s[4];
        int64_t lists[4][8], counts[4], osh[4];
        int ond = 0;
        for (int d = 0; d < nd; d++) {
            if (d < ns && sh[d] > 0 && rint_(0, 4) == 0) {
                int64_t i = rint_(-sh[d], sh[d] - 1);
                s[d] = (he_slice){i, 0, 1, true};
                lists[d][0] = i < 0 ? i + sh[d] : i;
                counts[d] = 1;
                continue;
            }
            if (d < ns) {
                int64_t step = rint_(1, 3) * (rint_(0, 1) ? 1 : -1);
                s[d] = (he_slice){rint_(0, 3) ? rint_(-7, 7) : HE_SLICE_END, rint_(0, 3) ? rint_(-7, 7) : HE_SLICE_END,
                                  step, false};
            } else s[d] = (he_slice){HE_SLICE_END, HE_SLICE_END, 1, false};
            counts[d] = ref_slice(&s[d], sh[d], lists[d]);
            osh[ond++] = counts[d];
        }
        he_tensor *r = he_tensor_slice(a, ns, s);
        CHECK(r != NULL, "slice: %s", he_errmsg());
        if (!r) {
            drop(a);
            break;
        }
        bool shape_ok = r->ndim == ond;
        for (int d = 0; shape_ok && d < ond; d++) shape_ok = r->shape[d] == osh[d];
        CHECK(shape_ok, "slice shape");
        /* walk every combination of the per-axis index lists */
        int64_t total = 1;
        for (int d = 0; d < nd; d++) total *= counts[d];
        CHECK(total == r->size, "slice size");
        for (int64_t k = 0; shape_ok && k < total; k++) {
            int64_t rem = k, off = 0, c[4];
            for (int d = nd - 1; d >= 0; d--) c[d] = rem % counts[d], rem /= counts[d];
            for (int d = 0; d < nd; d++) off = off * sh[d] + lists[d][c[d]];
            CHECK(r->data.i[k] == a->data.i[off], "slice element %lld", (long long)k);
        }
        drop(r), drop(a);
    }
}

static void test_reshape_transpose(void)
{
    he_tensor *t = he_tensor_arange(0, 24, 1);
    int64_t s1[3] = {2, -1, 4}, s2[2] = {-1, -1}, s3[2] = {5, -1}, s4[2] = {4, 5}, s5[2] = {-2, -12};
    he_tensor *r = he_tensor_reshape(t, 3, s1);
    CHECK(r && r->ndim == 3 && r->shape[1] == 3 && r->data.i[23] == 23, "reshape -1");
    CHECK(!he_tensor_reshape(t, 2, s2) && has_err("only one dimension can be -1"), "two -1");
    CHECK(!he_tensor_reshape(t, 2, s3) && has_err("cannot reshape tensor of shape [24] (size 24) into [5, -1]"),
          "indivisible: %s", he_errmsg());
    CHECK(!he_tensor_reshape(t, 2, s4) && has_err("into [4, 5]"), "size mismatch");
    CHECK(!he_tensor_reshape(t, 2, s5) && has_err("negative dimension"), "negative");
    he_tensor *one = he_tensor_sub(r, 3, (int64_t[]){1, 2, 3});
    he_tensor *one2 = he_tensor_reshape(one, 2, (int64_t[]){1, -1});
    CHECK(one && one->ndim == 0 && one->data.i[0] == 23 && one2 && one2->size == 1, "0-D reshape");
    drop(one), drop(one2);

    /* transpose reverses axes: out[i0..in] = in[in..i0] */
    int64_t shapes[][4] = {{7}, {70, 45}, {3, 1}, {2, 3, 4}, {2, 1, 3, 5}, {0, 3}};
    int nds[] = {1, 2, 2, 3, 4, 2};
    for (int c = 0; c < 6; c++) {
        he_tensor *a = rnd(HE_DT_FLOAT, 0, nds[c], shapes[c], -5, 5), *b = he_tensor_transpose(a);
        int nd = nds[c];
        CHECK(b && b->ndim == nd, "transpose");
        for (int d = 0; b && d < nd; d++) CHECK(b->shape[d] == a->shape[nd - 1 - d], "transpose shape");
        for (int64_t k = 0; b && k < b->size; k++) {
            int64_t oi[4], ii[4], off = 0;
            unravel(k, nd, b->shape, oi);
            for (int d = 0; d < nd; d++) ii[d] = oi[nd - 1 - d];
            for (int d = 0; d < nd; d++) off = off * a->shape[d] + ii[d];
            CHECK(b->data.f[k] == a->data.f[off], "transpose element");
        }
        drop(a), drop(b);
    }
    drop(r), drop(t);
}

/* --- element-wise ---------------------------------------------------------------- */

/* The reference for one element: the scalar operations of value.c (float
** with fixed converts the fixed operand, as tensors do). */
static int ref_binop(he_op op, he_value x, he_value y, he_value *r)
{
    if (x.tag == HE_FLOAT || y.tag == HE_FLOAT) {
        if (x.tag == HE_FIXED) x = he_float(he_fixed_to_double(x.as.i, x.frac));
        if (y.tag == HE_FIXED) y = he_float(he_fixed_to_double(y.as.i, y.frac));
    }
    return he_binop(op, x, y, r);
}

static const he_op all_ops[] = {HE_OP_ADD, HE_OP_SUB, HE_OP_MUL, HE_OP_DIV, HE_OP_MOD, HE_OP_POW,
                                HE_OP_LT,  HE_OP_LE,  HE_OP_GT,  HE_OP_GE,  HE_OP_EQ,  HE_OP_NE};

/* A 1 of t's element type (stands for an element of an empty tensor). */
static he_value one_of(const he_tensor *t)
{
    switch ((he_dtype)t->dtype) {
    case HE_DT_FLOAT: return he_float(1);
    case HE_DT_FIXED: return he_fixed_raw(INT64_C(1) << t->frac, t->frac);
    case HE_DT_BOOL: return he_bool(true);
    default: return he_int(1);
    }
}

/* Checks a op b (tensors or scalars) element by element. */
static void check_binop(he_op op, he_value a, he_value b, const char *what)
{
    he_value r;
    int rc = he_tensor_binop(op, a, b, &r);
    bool ta = he_is_tensor(a), tb = he_is_tensor(b);
    const he_tensor *A = ta ? he_as_tensor(a) : NULL, *B = tb ? he_as_tensor(b) : NULL;
    /* bool with a number: value.c compares by identity, tensors refuse */
    int dta = ta ? A->dtype : a.tag == HE_BOOL ? HE_DT_BOOL : -1, dtb = tb ? B->dtype : b.tag == HE_BOOL ? HE_DT_BOOL : -1;
    bool boolmix = (dta == HE_DT_BOOL) != (dtb == HE_DT_BOOL);
    he_value x0 = ta ? (A->size ? elem(A, 0) : one_of(A)) : a, y0 = tb ? (B->size ? elem(B, 0) : one_of(B)) : b, r0;
    int refrc = boolmix ? -1 : ref_binop(op, x0, y0, &r0);
    if (refrc < 0 && !(has_err("division by zero"))) {
        CHECK(rc < 0, "%s: %s %s %s should be refused like scalars", what, vstr(x0), he_op_symbol[op], vstr(y0));
        if (rc == 0) dropv(r);
        return;
    }
    CHECK(rc == 0, "%s %s: %s", what, he_op_symbol[op], he_errmsg());
    if (rc != 0) return;
    const he_tensor *R = he_as_tensor(r);
    /* the broadcast shape */
    int nd = 0;
    int64_t sh[HE_MAXDIM];
    int na = ta ? A->ndim : 0, nb = tb ? B->ndim : 0;
    nd = na > nb ? na : nb;
    for (int d = 0; d < nd; d++) {
        int64_t x = d - (nd - na) >= 0 ? A->shape[d - (nd - na)] : 1, y = d - (nd - nb) >= 0 ? B->shape[d - (nd - nb)] : 1;
        sh[d] = x == 1 ? y : x;
    }
    bool ok = R->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = R->shape[d] == sh[d];
    CHECK(ok, "%s %s: result shape", what, he_op_symbol[op]);
    for (int64_t k = 0; ok && k < R->size; k++) {
        int64_t idx[HE_MAXDIM];
        unravel(k, nd, sh, idx);
        he_value x = ta ? elem(A, bflat(A, nd, idx)) : a, y = tb ? elem(B, bflat(B, nd, idx)) : b, want;
        if (ref_binop(op, x, y, &want) < 0) {
            CHECK(0, "%s: reference failed on %s %s %s: %s", what, vstr(x), he_op_symbol[op], vstr(y), he_errmsg());
            break;
        }
        he_value got = elem(R, k);
        if (!same_value(got, want)) {
            CHECK(0, "%s: %s %s %s = %s, want %s", what, vstr(x), he_op_symbol[op], vstr(y), vstr(got), vstr(want));
            break;
        }
    }
    dropv(r);
}

static const char *DTN(he_dtype dt) { return he_dtype_name(dt); }

static const char *fmt_sh(int nd, const int64_t *sh)
{
    static char s[4][64];
    static int w;
    w = (w + 1) % 4;
    size_t n = 0;
    n += (size_t)snprintf(s[w] + n, sizeof s[w] - n, "[");
    for (int d = 0; d < nd; d++) n += (size_t)snprintf(s[w] + n, sizeof s[w] - n, d ? ",%lld" : "%lld", (long long)sh[d]);
    snprintf(s[w] + n, sizeof s[w] - n, "]");
    return s[w];
}

static void test_binop_broadcast(void)
{
    static const int64_t shp[][2][4] = {
        {{2, 3}, {2, 3}}, {{2, 3}, {3}},    {{4, 1, 3}, {2, 1}}, {{3}, {0}},          {{1}, {5}},
        {{2, 0}, {2, 1}}, {{5, 1}, {1, 4}}, {{3, 1, 2, 1}, {4, 1, 5}}, {{2, 2}, {1, 1}}, {{6}, {6}},
    };
    static const int nds[][2] = {{2, 2}, {2, 1}, {3, 2}, {1, 0}, {1, 1}, {2, 2}, {2, 2}, {4, 3}, {2, 2}, {1, 1}};
    const he_dtype dts[] = {HE_DT_INT, HE_DT_FLOAT, HE_DT_FIXED, HE_DT_BOOL};
    char what[96];
    for (size_t s = 0; s < sizeof nds / sizeof nds[0]; s++)
        for (int ia = 0; ia < 4; ia++)
            for (int ib = 0; ib < 4; ib++)
                for (size_t o = 0; o < sizeof all_ops / sizeof all_ops[0]; o++) {
                    he_op op = all_ops[o];
                    int64_t lo = -20, hi = 20, blo = -20, bhi = 20;
                    if (op == HE_OP_POW) lo = -5, hi = 5, blo = 0, bhi = 4;
                    he_tensor *a = rnd(dts[ia], 16, nds[s][0], shp[s][0], lo, hi);
                    he_tensor *b = rnd(dts[ib], 16, nds[s][1], shp[s][1], blo, bhi);
                    if (op == HE_OP_DIV || op == HE_OP_MOD)
                        for (int64_t k = 0; k < b->size; k++)
                            if (b->dtype != HE_DT_FLOAT && b->data.i[k] == 0) b->data.i[k] = 1;
                    snprintf(what, sizeof what, "%s%s %s %s%s", DTN(dts[ia]), fmt_sh(nds[s][0], shp[s][0]),
                             he_op_symbol[op], DTN(dts[ib]), fmt_sh(nds[s][1], shp[s][1]));
                    check_binop(op, TV(a), TV(b), what);
                    /* and with a scalar on either side */
                    if (b->size) check_binop(op, TV(a), elem(b, 0), what);
                    if (a->size) check_binop(op, elem(a, 0), TV(b), what);
                    drop(a), drop(b);
                }
}

static he_tensor *from_ints(int nd, const int64_t *shape, const int64_t *v)
{
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, nd, shape);
    for (int64_t k = 0; t && k < t->size; k++) t->data.i[k] = v[k];
    return t;
}

static void test_binop_known(void)
{
    int64_t s4[1] = {4};
    he_tensor *a = from_ints(1, s4, (int64_t[]){-7, 7, -7, 7}), *b = from_ints(1, s4, (int64_t[]){2, 2, -2, -2});
    he_value r;
    static const int64_t q[4] = {-3, 3, 3, -3}, m[4] = {-1, 1, -1, 1};
    CHECK(he_tensor_binop(HE_OP_DIV, TV(a), TV(b), &r) == 0, "div");
    for (int k = 0; k < 4; k++) CHECK(he_as_tensor(r)->data.i[k] == q[k], "div truncates toward zero [%d]", k);
    dropv(r);
    CHECK(he_tensor_binop(HE_OP_MOD, TV(a), TV(b), &r) == 0, "mod");
    for (int k = 0; k < 4; k++) CHECK(he_as_tensor(r)->data.i[k] == m[k], "mod takes the dividend's sign [%d]", k);
    dropv(r);
    CHECK(he_tensor_binop(HE_OP_POW, TV(b), he_int(3), &r) == 0 && he_as_tensor(r)->data.i[2] == -8, "pow");
    dropv(r);
    /* large same-shape and scalar cases take the fast paths */
    int64_t big[2] = {37, 101};
    he_tensor *x = rnd(HE_DT_FLOAT, 0, 2, big, -3, 3), *y = rnd(HE_DT_FLOAT, 0, 2, big, -3, 3);
    check_binop(HE_OP_MUL, TV(x), TV(y), "big float");
    check_binop(HE_OP_SUB, he_float(0.25), TV(y), "big scalar");
    he_tensor *xi = rnd(HE_DT_INT, 0, 2, big, -1000, 1000);
    check_binop(HE_OP_ADD, TV(xi), he_int(5), "big int");
    check_binop(HE_OP_MUL, TV(xi), TV(xi), "big int*int");
    he_tensor *xf = rnd(HE_DT_FIXED, 20, 2, big, -1000, 1000);
    check_binop(HE_OP_MUL, TV(xf), TV(xf), "big fixed*fixed");
    check_binop(HE_OP_DIV, TV(xf), he_int(7), "big fixed/int");
    check_binop(HE_OP_LT, TV(xf), he_fixed_raw(3 << 19, 20), "big fixed<scalar");
    drop(x), drop(y), drop(xi), drop(xf);

    /* fixed products round like he_fixed_mul, on full-range raw values */
    int64_t n1[1] = {2000};
    he_tensor *p = he_tensor_new(HE_DT_FIXED, 30, 1, n1), *q2 = he_tensor_new(HE_DT_FIXED, 30, 1, n1);
    for (int k = 0; k < 2000; k++) {
        p->data.i[k] = (int64_t)(he_prng_u64(&G) >> 20) - (INT64_C(1) << 43);
        q2->data.i[k] = (int64_t)(he_prng_u64(&G) >> 30) - (INT64_C(1) << 33);
    }
    check_binop(HE_OP_MUL, TV(p), TV(q2), "fixed*fixed full range");
    check_binop(HE_OP_DIV, TV(p), TV(q2), "fixed/fixed full range");
    /* ties round away from zero: fixed<1> raw products -1, 1, -3, 3 halve to -1, 1, -2, 2 */
    int64_t s4b[1] = {4}, s14[2] = {1, 4}, s41[2] = {4, 1};
    he_tensor *tx = he_tensor_new(HE_DT_FIXED, 1, 1, s4b), *ty = he_tensor_new(HE_DT_FIXED, 1, 1, s4b);
    static const int64_t txv[4] = {-1, 1, -3, 3}, tw[4] = {-1, 1, -2, 2};
    for (int k = 0; k < 4; k++) tx->data.i[k] = txv[k], ty->data.i[k] = 1;
    he_value tr;
    CHECK(he_tensor_binop(HE_OP_MUL, TV(tx), TV(ty), &tr) == 0, "tie mul");
    for (int k = 0; k < 4; k++) CHECK(he_as_tensor(tr)->data.i[k] == tw[k], "tie [%d]", k);
    dropv(tr);
    /* matmul: one rounding of the exact sum: (-1 - 3 + 1 + 0) / 2 = -1.5 -> -2 */
    he_tensor *mx = he_tensor_reshape(tx, 2, s14), *my = he_tensor_reshape(ty, 2, s41);
    my->data.i[3] = 0;
    CHECK(he_tensor_matmul(mx, my, &tr) == 0 && he_as_tensor(tr)->data.i[0] == -2, "matmul tie");
    dropv(tr);
    drop(tx), drop(ty), drop(mx), drop(my);
    /* mixed precision comparisons are exact */
    he_value c;
    CHECK(he_tensor_binop(HE_OP_EQ, TV(p), he_fixed_raw(p->data.i[5] >> 10, 20), &c) == 0, "mixed compare");
    if (c.tag == HE_OBJ) {
        CHECK(he_as_tensor(c)->data.i[5] == ((p->data.i[5] & 1023) == 0), "exact mixed-precision ==");
        dropv(c);
    }
    drop(p), drop(q2);
    drop(a), drop(b);
}

static void test_binop_errors(void)
{
    int64_t s2[1] = {2}, s23[2] = {2, 3}, s4[1] = {4};
    he_tensor *a = from_ints(1, s2, (int64_t[]){1, INT64_MAX}), *z = from_ints(1, s2, (int64_t[]){3, 0});
    he_tensor *mn = from_ints(1, s2, (int64_t[]){INT64_MIN, 4});
    he_value r;
    CHECK(he_tensor_binop(HE_OP_ADD, TV(a), he_int(1), &r) < 0 &&
              has_err("int overflow in tensor +: 9223372036854775807 + 1"),
          "add overflow: %s", he_errmsg());
    CHECK(he_tensor_binop(HE_OP_SUB, TV(mn), he_int(1), &r) < 0 && has_err("overflow"), "sub overflow");
    CHECK(he_tensor_binop(HE_OP_MUL, TV(a), TV(a), &r) < 0 && has_err("int overflow in tensor *"), "mul overflow");
    CHECK(he_tensor_binop(HE_OP_DIV, TV(a), TV(z), &r) < 0 && has_err("division by zero"), "div by zero");
    CHECK(he_tensor_binop(HE_OP_MOD, TV(a), TV(z), &r) < 0 && has_err("division by zero (modulo)"), "mod by zero");
    CHECK(he_tensor_binop(HE_OP_DIV, TV(mn), he_int(-1), &r) < 0 && has_err("overflow"), "INT64_MIN / -1");
    CHECK(he_tensor_binop(HE_OP_MOD, TV(mn), he_int(-1), &r) == 0 && he_as_tensor(r)->data.i[0] == 0,
          "INT64_MIN %% -1 is 0");
    dropv(r);
    CHECK(he_tensor_binop(HE_OP_POW, TV(a), he_int(-1), &r) < 0 && has_err("negative exponent"), "negative pow");
    CHECK(he_tensor_binop(HE_OP_POW, TV(a), he_int(2), &r) < 0 && has_err("overflow"), "pow overflow");
    he_tensor *m = he_tensor_new(HE_DT_INT, 0, 2, s23), *v = he_tensor_new(HE_DT_INT, 0, 1, s4);
    CHECK(he_tensor_binop(HE_OP_ADD, TV(m), TV(v), &r) < 0 && has_err("shape mismatch: cannot broadcast [2, 3] with [4]"),
          "broadcast: %s", he_errmsg());
    he_tensor *bo = he_tensor_astype(m, HE_DT_BOOL, 0);
    CHECK(he_tensor_binop(HE_OP_ADD, TV(bo), TV(bo), &r) < 0 &&
              has_err("unsupported operand types for +: bool tensor and bool tensor"),
          "bool +: %s", he_errmsg());
    CHECK(he_tensor_binop(HE_OP_EQ, TV(bo), TV(m), &r) < 0, "bool == int");
    CHECK(he_tensor_binop(HE_OP_EQ, TV(bo), he_bool(true), &r) == 0, "bool == bool");
    dropv(r);
    he_tensor *f8 = he_tensor_astype(m, HE_DT_FIXED, 8), *f9 = he_tensor_astype(m, HE_DT_FIXED, 9);
    CHECK(he_tensor_binop(HE_OP_ADD, TV(f8), TV(f9), &r) < 0 && has_err("different precision"), "fixed fracs");
    CHECK(he_tensor_binop(HE_OP_MOD, TV(f8), TV(f8), &r) < 0 && has_err("unsupported"), "fixed %%");
    CHECK(he_tensor_binop(HE_OP_LT, TV(f8), TV(f9), &r) == 0, "fixed compare across precisions");
    dropv(r);
    he_tensor *big = he_tensor_full(HE_DT_FIXED, 8, 1, s2, he_float(1e15));
    CHECK(he_tensor_binop(HE_OP_MUL, TV(big), TV(big), &r) < 0 && has_err("fixed<8> overflow in tensor *"),
          "fixed overflow: %s", he_errmsg());
    CHECK(he_tensor_binop(HE_OP_MUL, TV(big), he_int(INT64_C(1) << 20), &r) < 0 && has_err("fixed<8> overflow"),
          "fixed*int overflow: %s", he_errmsg());
    CHECK(he_tensor_binop(HE_OP_ADD, TV(m), he_nil(), &r) < 0 && has_err("unsupported operand types for +"), "nil");
    CHECK(he_tensor_binop(HE_OP_MATMUL, TV(m), he_int(2), &r) < 0 && has_err("matmul"), "matmul scalar");
    drop(a), drop(z), drop(mn), drop(m), drop(v), drop(bo), drop(f8), drop(f9), drop(big);
}

static void test_unop(void)
{
    int64_t s3[1] = {3};
    he_tensor *a = from_ints(1, s3, (int64_t[]){1, -2, INT64_MAX}), *r = he_tensor_unop(HE_OP_NEG, a);
    CHECK(r && r->data.i[0] == -1 && r->data.i[1] == 2 && r->data.i[2] == -INT64_MAX, "neg int");
    drop(r);
    he_tensor *f = he_tensor_astype(a, HE_DT_FLOAT, 0);
    r = he_tensor_unop(HE_OP_NEG, f);
    CHECK(r && r->data.f[1] == 2.0 && r->dtype == HE_DT_FLOAT, "neg float");
    drop(r), drop(f);
    a->data.i[2] = 5;
    f = he_tensor_astype(a, HE_DT_FIXED, 10);
    r = he_tensor_unop(HE_OP_NEG, f);
    CHECK(r && r->data.i[1] == 2048 && r->frac == 10, "neg fixed");
    drop(r), drop(f);
    a->data.i[2] = INT64_MIN;
    CHECK(!he_tensor_unop(HE_OP_NEG, a) && has_err("overflow"), "neg overflow");
    CHECK(!he_tensor_unop(HE_OP_NOT, a) && has_err("unsupported operand type for not"), "not int");
    he_tensor *b = he_tensor_astype(a, HE_DT_BOOL, 0);
    b->data.i[1] = 0;
    r = he_tensor_unop(HE_OP_NOT, b);
    CHECK(r && r->data.i[0] == 0 && r->data.i[1] == 1, "not");
    CHECK(!he_tensor_unop(HE_OP_NEG, b), "neg bool");
    drop(r), drop(b), drop(a);
}

/* --- matmul ------------------------------------------------------------------------ */

static void test_matmul(void)
{
    int64_t dims[][2][2] = {
        {{3, 4}, {4, 5}}, {{1, 7}, {7, 1}}, {{4}, {4, 3}}, {{3, 4}, {4}}, {{5}, {5}}, {{2, 0}, {0, 3}}, {{33, 130}, {130, 1030}},
    };
    int nds[][2] = {{2, 2}, {2, 2}, {1, 2}, {2, 1}, {1, 1}, {2, 2}, {2, 2}};
    const he_dtype dts[] = {HE_DT_INT, HE_DT_FLOAT, HE_DT_FIXED};
    for (int c = 0; c < 7; c++)
        for (int ia = 0; ia < 3; ia++)
            for (int ib = 0; ib < 3; ib++) {
                if (c == 6 && (ia != 1 || ib != 1)) continue; /* the blocked float path */
                he_tensor *a = rnd(dts[ia], 12, nds[c][0], dims[c][0], -50, 50);
                he_tensor *b = rnd(dts[ib], 12, nds[c][1], dims[c][1], -50, 50);
                he_value r;
                int rc = he_tensor_matmul(a, b, &r);
                CHECK(rc == 0, "matmul %d %d %d: %s", c, ia, ib, he_errmsg());
                if (rc) {
                    drop(a), drop(b);
                    continue;
                }
                int64_t M = a->ndim == 2 ? a->shape[0] : 1, K = a->shape[a->ndim - 1], N = b->ndim == 2 ? b->shape[1] : 1;
                bool fl = ia == 1 || ib == 1, fx = !fl && (ia == 2 || ib == 2);
                int frac = fx ? 12 : 0;
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        he_value got = (a->ndim == 1 && b->ndim == 1) ? r : elem(he_as_tensor(r), i * N + j);
                        if (fl) {
                            double s = 0, sa = 0;
                            for (int64_t k = 0; k < K; k++) {
                                he_value x = elem(a, i * K + k), y = elem(b, k * N + j);
                                double xd = x.tag == HE_FLOAT ? x.as.f : x.tag == HE_FIXED ? he_fixed_to_double(x.as.i, x.frac) : (double)x.as.i;
                                double yd = y.tag == HE_FLOAT ? y.as.f : y.tag == HE_FIXED ? he_fixed_to_double(y.as.i, y.frac) : (double)y.as.i;
                                s += xd * yd;
                                sa += fabs(xd * yd);
                            }
                            CHECK(got.tag == HE_FLOAT && fabs(got.as.f - s) <= 1e-12 * sa, "float matmul [%lld,%lld]",
                                  (long long)i, (long long)j);
                        } else {
                            /* exact sum of raw products (ints scaled to the fixed precision), one rounding */
                            __int128 s = 0;
                            for (int64_t k = 0; k < K; k++) {
                                __int128 x = a->data.i[i * K + k], y = b->data.i[k * N + j];
                                if (fx && a->dtype == HE_DT_INT) x *= (INT64_C(1) << frac);
                                if (fx && b->dtype == HE_DT_INT) y *= (INT64_C(1) << frac);
                                s += x * y;
                            }
                            if (frac) {
                                __int128 h = (__int128)1 << (frac - 1);
                                s = s >= 0 ? (s + h) >> frac : -((-s + h) >> frac);
                            }
                            bool ok = fx ? got.tag == HE_FIXED && got.frac == frac : got.tag == HE_INT;
                            CHECK(ok && got.as.i == (int64_t)s, "exact matmul %d%d [%lld,%lld]", ia, ib, (long long)i,
                                  (long long)j);
                        }
                    }
                if (a->ndim == 2 && b->ndim == 2)
                    CHECK(he_as_tensor(r)->ndim == 2 && he_as_tensor(r)->shape[0] == M && he_as_tensor(r)->shape[1] == N,
                          "matmul shape");
                else if (a->ndim + b->ndim == 3) CHECK(he_as_tensor(r)->ndim == 1, "matmul 1-D shape");
                else CHECK(r.tag != HE_OBJ, "1-D @ 1-D gives a scalar");
                dropv(r);
                drop(a), drop(b);
            }
    int64_t s23[2] = {2, 3}, s45[2] = {4, 5}, s3[3] = {2, 2, 2};
    he_tensor *a = he_tensor_new(HE_DT_FLOAT, 0, 2, s23), *b = he_tensor_new(HE_DT_FLOAT, 0, 2, s45);
    he_tensor *c3 = he_tensor_new(HE_DT_FLOAT, 0, 3, s3), *bo = he_tensor_new(HE_DT_BOOL, 0, 2, s23);
    he_value r;
    CHECK(he_tensor_matmul(a, b, &r) < 0 && has_err("matmul: inner dimensions differ ([2, 3] @ [4, 5])"), "inner: %s",
          he_errmsg());
    CHECK(he_tensor_matmul(c3, c3, &r) < 0 && has_err("1-D or 2-D"), "3-D");
    he_tensor *bt = he_tensor_transpose(bo);
    CHECK(he_tensor_matmul(bo, bt, &r) < 0 && has_err("unsupported operand types for @: bool tensor"), "bool: %s",
          he_errmsg());
    drop(bt);
    int64_t s22[2] = {2, 2};
    he_tensor *big = he_tensor_full(HE_DT_INT, 0, 2, s22, he_int(INT64_C(1) << 32));
    CHECK(he_tensor_matmul(big, big, &r) < 0 && has_err("int overflow in matmul"), "int overflow");
    he_tensor *bigx = he_tensor_full(HE_DT_FIXED, 4, 2, s22, he_float(1e17));
    CHECK(he_tensor_matmul(bigx, bigx, &r) < 0 && has_err("fixed<4> overflow in matmul"), "fixed overflow");
    /* through the generic dispatch */
    he_tensor *e = he_tensor_eye(3), *v = he_tensor_arange(1, 4, 1);
    CHECK(he_binop(HE_OP_MATMUL, TV(e), TV(v), &r) == 0 && he_as_tensor(r)->data.f[2] == 3.0, "@ via he_binop");
    dropv(r);
    drop(a), drop(b), drop(c3), drop(bo), drop(big), drop(bigx), drop(e), drop(v);
}

/* --- reductions ---------------------------------------------------------------------- */

static double as_double(he_value v)
{
    return v.tag == HE_FLOAT ? v.as.f : v.tag == HE_FIXED ? he_fixed_to_double(v.as.i, v.frac) : v.tag == HE_BOOL ? v.as.b : (double)v.as.i;
}

/* Reference reduction of t along axis (or everything) at output index oi. */
static void ref_reduce(const he_tensor *t, int axis, const int64_t *oi, double *sum, int64_t *isum, double *mx, double *mn,
                       int64_t *imx, int64_t *imn, int64_t *arg)
{
    int64_t n = axis == HE_AXIS_ALL ? t->size : t->shape[axis];
    *sum = 0, *isum = 0, *arg = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t off = k;
        if (axis != HE_AXIS_ALL) {
            off = 0;
            for (int d = 0, o = 0; d < t->ndim; d++) off = off * t->shape[d] + (d == axis ? k : oi[o++]);
        }
        double x = as_double(elem(t, off));
        int64_t xi = t->data.i[off];
        *sum += x;
        *isum = (int64_t)((uint64_t)*isum + (uint64_t)xi); /* meaningful for int-like only */
        if (k == 0 || x > *mx) *mx = x;
        if (k == 0 || x < *mn) *mn = x;
        if (k == 0 || xi > *imx) *imx = xi;
        if (k == 0 || xi < *imn) *imn = xi;
    }
    /* first maximum */
    for (int64_t k = 0; k < n; k++) {
        int64_t off = k;
        if (axis != HE_AXIS_ALL) {
            off = 0;
            for (int d = 0, o = 0; d < t->ndim; d++) off = off * t->shape[d] + (d == axis ? k : oi[o++]);
        }
        if (t->dtype == HE_DT_FLOAT ? t->data.f[off] == *mx : t->data.i[off] == *imx) {
            *arg = k;
            break;
        }
    }
}

static void test_reductions(void)
{
    int64_t shapes[][3] = {{4, 5, 3}, {7}, {3, 6}, {2, 1, 5}};
    int nds[] = {3, 1, 2, 3};
    const he_dtype dts[] = {HE_DT_INT, HE_DT_FLOAT, HE_DT_FIXED, HE_DT_BOOL};
    for (int s = 0; s < 4; s++)
        for (int di = 0; di < 4; di++) {
            he_tensor *t = rnd(dts[di], 10, nds[s], shapes[s], -100, 100);
            for (int ax = -nds[s] - 1; ax < nds[s]; ax++) {
                int axis = ax < -nds[s] ? HE_AXIS_ALL : ax, a = axis == HE_AXIS_ALL ? axis : (axis < 0 ? axis + nds[s] : axis);
                he_value vs, vm, vx, vn, va;
                int rc = he_tensor_sum(t, axis, &vs) | he_tensor_mean(t, axis, &vm) | he_tensor_max(t, axis, &vx) |
                         he_tensor_min(t, axis, &vn) | he_tensor_argmax(t, axis, &va);
                CHECK(rc == 0, "reductions: %s", he_errmsg());
                if (rc) continue;
                int64_t rsh[HE_MAXDIM];
                int rnd_ = 0;
                if (a != HE_AXIS_ALL)
                    for (int d = 0; d < nds[s]; d++)
                        if (d != a) rsh[rnd_++] = shapes[s][d];
                int64_t rsize = 1;
                for (int d = 0; d < rnd_; d++) rsize *= rsh[d];
                he_value *outs[5] = {&vs, &vm, &vx, &vn, &va};
                for (int w = 0; w < 5; w++) {
                    if (rnd_ == 0) CHECK(outs[w]->tag != HE_OBJ, "scalar result");
                    else CHECK(he_is_tensor(*outs[w]) && he_as_tensor(*outs[w])->ndim == rnd_, "result rank");
                }
                for (int64_t k = 0; k < rsize; k++) {
                    int64_t oi[HE_MAXDIM];
                    unravel(k, rnd_, rsh, oi);
                    double sum = 0, mx = 0, mn = 0;
                    int64_t isum = 0, imx = 0, imn = 0, arg = 0;
                    ref_reduce(t, a, oi, &sum, &isum, &mx, &mn, &imx, &imn, &arg);
                    he_value gs = rnd_ ? elem(he_as_tensor(vs), k) : vs, gm = rnd_ ? elem(he_as_tensor(vm), k) : vm;
                    he_value gx = rnd_ ? elem(he_as_tensor(vx), k) : vx, gn = rnd_ ? elem(he_as_tensor(vn), k) : vn;
                    he_value ga = rnd_ ? elem(he_as_tensor(va), k) : va;
                    int64_t n = a == HE_AXIS_ALL ? t->size : shapes[s][a];
                    if (t->dtype == HE_DT_FLOAT) {
                        CHECK(gs.tag == HE_FLOAT && fabs(gs.as.f - sum) < 1e-9, "float sum");
                        CHECK(gx.tag == HE_FLOAT && gx.as.f == mx && gn.as.f == mn, "float max/min");
                    } else {
                        int want = t->dtype == HE_DT_BOOL ? HE_INT : t->dtype == HE_DT_FIXED ? HE_FIXED : HE_INT;
                        CHECK(gs.tag == want && gs.as.i == isum, "exact sum (%s)", DTN(dts[di]));
                        int wt = t->dtype == HE_DT_BOOL ? HE_BOOL : want;
                        bool okx = gx.tag == wt && gn.tag == wt &&
                                   (wt == HE_BOOL ? (gx.as.b == (imx != 0) && gn.as.b == (imn != 0)) : (gx.as.i == imx && gn.as.i == imn));
                        CHECK(okx, "exact max/min (%s)", DTN(dts[di]));
                    }
                    CHECK(gm.tag == HE_FLOAT && fabs(gm.as.f - sum / (double)n) < 1e-9, "mean");
                    CHECK(ga.tag == HE_INT && ga.as.i == arg, "argmax %lld want %lld", (long long)ga.as.i, (long long)arg);
                }
                for (int w = 0; w < 5; w++) dropv(*outs[w]);
            }
            drop(t);
        }
    /* errors and edge cases */
    int64_t s2[2] = {2, 0}, s3[1] = {3};
    he_tensor *e = he_tensor_new(HE_DT_INT, 0, 2, s2);
    he_value v;
    CHECK(he_tensor_sum(e, 1, &v) == 0 && he_as_tensor(v)->data.i[0] == 0, "empty sum is 0");
    dropv(v);
    CHECK(he_tensor_max(e, 1, &v) < 0 && has_err("max of an empty axis"), "empty max");
    CHECK(he_tensor_mean(e, HE_AXIS_ALL, &v) < 0 && has_err("mean of an empty tensor"), "empty mean");
    CHECK(he_tensor_sum(e, 2, &v) < 0 && has_err("axis 2 out of range for a 2-D tensor"), "axis: %s", he_errmsg());
    CHECK(he_tensor_argmax(e, -3, &v) < 0 && has_err("axis -3 out of range"), "axis -3");
    he_tensor *o = from_ints(1, s3, (int64_t[]){INT64_MAX, 1, 0});
    CHECK(he_tensor_sum(o, 0, &v) < 0 && has_err("int overflow in sum"), "sum overflow");
    he_tensor *f = he_tensor_astype(o, HE_DT_FLOAT, 0);
    f->data.f[1] = NAN;
    CHECK(he_tensor_max(f, 0, &v) == 0 && isnan(v.as.f), "max propagates NaN");
    CHECK(he_tensor_argmax(f, 0, &v) == 0 && v.as.i == 1, "argmax finds NaN");
    he_tensor *z = he_tensor_new(HE_DT_INT, 0, 0, NULL);
    z->data.i[0] = 9;
    CHECK(he_tensor_sum(z, HE_AXIS_ALL, &v) == 0 && v.tag == HE_INT && v.as.i == 9, "0-D sum");
    CHECK(he_tensor_sum(z, 0, &v) < 0, "0-D axis");
    drop(e), drop(o), drop(f), drop(z);
}

/* --- maths, concat, astype, repr ------------------------------------------------------- */

static void test_math(void)
{
    int64_t sh[2] = {4, 25};
    he_tensor *t = rnd(HE_DT_FLOAT, 0, 2, sh, -30, 30), *ti = rnd(HE_DT_INT, 0, 2, sh, -5, 5);
    t->data.f[0] = 0.0, t->data.f[1] = -800, t->data.f[2] = 800;
    for (int fn = HE_MATH_EXP; fn <= HE_MATH_RELU; fn++) {
        he_tensor *r = he_tensor_math((he_math)fn, t), *ri = he_tensor_math((he_math)fn, ti);
        bool exact = fn == HE_MATH_ABS || fn == HE_MATH_RELU; /* int stays int */
        CHECK(r && ri && r->dtype == HE_DT_FLOAT && ri->dtype == (exact ? HE_DT_INT : HE_DT_FLOAT), "math %d", fn);
        for (int64_t k = 0; r && ri && k < t->size; k++) {
            double xs[2] = {t->data.f[k], (double)ti->data.i[k]},
                   gs[2] = {r->data.f[k], exact ? (double)ri->data.i[k] : ri->data.f[k]};
            for (int w = 0; w < 2; w++) {
                double x = xs[w], want;
                switch (fn) {
                case HE_MATH_EXP: want = exp(x); break;
                case HE_MATH_LOG: want = log(x); break;
                case HE_MATH_TANH: want = tanh(x); break;
                case HE_MATH_SIGMOID: want = 1.0 / (1.0 + exp(-x)); break;
                case HE_MATH_SQRT: want = sqrt(x); break;
                case HE_MATH_ABS: want = fabs(x); break;
                default: want = x > 0 ? x : 0.0; break;
                }
                bool ok = (isnan(want) && isnan(gs[w])) || gs[w] == want || fabs(gs[w] - want) <= 1e-15 * fabs(want);
                CHECK(ok, "math %d(%g) = %g, want %g", fn, x, gs[w], want);
            }
        }
        drop(r), drop(ri);
    }
    he_tensor *b = he_tensor_astype(ti, HE_DT_BOOL, 0);
    CHECK(!he_tensor_math(HE_MATH_EXP, b) && has_err("bool"), "math on bool");
    drop(b), drop(t), drop(ti);
}

/* abs and relu on int and fixed tensors: exact, the element type kept, the
** scalar's overflow error for abs of the most negative value (issue 9). */
static void test_math_exact(void)
{
    int64_t sh[1] = {200};
    for (int dt = HE_DT_INT; dt <= HE_DT_FIXED; dt += HE_DT_FIXED - HE_DT_INT) {
        int frac = dt == HE_DT_FIXED ? 12 : 0;
        he_tensor *t = he_tensor_new((he_dtype)dt, frac, 1, sh);
        if (!t) return;
        for (int64_t k = 0; k < t->size; k++) t->data.i[k] = (int64_t)he_prng_u64(&G); /* any 64-bit value */
        t->data.i[0] = INT64_MAX, t->data.i[1] = INT64_MIN + 1, t->data.i[2] = 0, t->data.i[3] = -1;
        he_tensor *a = he_tensor_math(HE_MATH_ABS, t), *r = he_tensor_math(HE_MATH_RELU, t);
        CHECK(a && r && a->dtype == dt && r->dtype == dt && a->frac == frac && r->frac == frac, "types %d", dt);
        for (int64_t k = 0; a && r && k < t->size; k++) {
            int64_t x = t->data.i[k];
            CHECK(a->data.i[k] == (x < 0 ? -x : x) && r->data.i[k] == (x < 0 ? 0 : x), "%d: abs/relu(%lld)", dt,
                  (long long)x);
        }
        drop(a), drop(r);
        t->data.i[7] = INT64_MIN;
        const char *want = dt == HE_DT_INT ? "int overflow in abs" : "fixed overflow in abs";
        CHECK(!he_tensor_math(HE_MATH_ABS, t) && has_err(want), "abs of INT64_MIN: %s", he_errmsg());
        r = he_tensor_math(HE_MATH_RELU, t);
        CHECK(r && r->data.i[7] == 0, "relu of INT64_MIN");
        drop(r), drop(t);
    }
}

static void test_concat(void)
{
    for (int iter = 0; iter < 40; iter++) {
        int nd = (int)rint_(1, 3), ax = (int)rint_(0, nd - 1), n = (int)rint_(1, 3);
        int64_t base[3];
        for (int d = 0; d < nd; d++) base[d] = rint_(1, 4);
        he_tensor *ts[3];
        bool anyf = false;
        int64_t total = 0;
        for (int i = 0; i < n; i++) {
            int64_t sh[3];
            memcpy(sh, base, sizeof sh);
            sh[ax] = rint_(0, 3);
            total += sh[ax];
            he_dtype dt = rint_(0, 1) ? HE_DT_FLOAT : HE_DT_INT;
            anyf |= dt == HE_DT_FLOAT;
            ts[i] = rnd(dt, 0, nd, sh, -9, 9);
        }
        he_tensor *r = he_tensor_concat(n, ts, rint_(0, 1) ? ax : ax - nd);
        CHECK(r && r->shape[ax] == total && r->dtype == (anyf ? HE_DT_FLOAT : HE_DT_INT), "concat");
        for (int64_t k = 0; r && k < r->size; k++) {
            int64_t idx[3];
            unravel(k, nd, r->shape, idx);
            int i = 0;
            while (idx[ax] >= ts[i]->shape[ax]) idx[ax] -= ts[i]->shape[ax], i++;
            int64_t off = 0;
            for (int d = 0; d < nd; d++) off = off * ts[i]->shape[d] + idx[d];
            CHECK(as_double(elem(r, k)) == as_double(elem(ts[i], off)), "concat element");
        }
        drop(r);
        for (int i = 0; i < n; i++) drop(ts[i]);
    }
    int64_t a[2] = {2, 3}, b[2] = {3, 3};
    he_tensor *x = he_tensor_new(HE_DT_INT, 0, 2, a), *y = he_tensor_new(HE_DT_INT, 0, 2, b);
    he_tensor *ts[2] = {x, y};
    he_tensor *r = he_tensor_concat(2, ts, 0);
    CHECK(r && r->shape[0] == 5, "concat rows");
    drop(r);
    CHECK(!he_tensor_concat(2, ts, 1) && has_err("concat: shapes [2, 3] and [3, 3] differ outside axis 1"), "concat: %s",
          he_errmsg());
    CHECK(!he_tensor_concat(2, ts, 2) && has_err("axis 2 out of range"), "concat axis");
    CHECK(!he_tensor_concat(0, ts, 0), "concat none");
    he_tensor *bo = he_tensor_new(HE_DT_BOOL, 0, 2, a);
    ts[1] = bo;
    CHECK(!he_tensor_concat(2, ts, 0) && has_err("bool"), "concat bool with int");
    drop(x), drop(y), drop(bo);
}

static void test_astype(void)
{
    int64_t s6[1] = {6};
    he_tensor *f = he_tensor_new(HE_DT_FLOAT, 0, 1, s6);
    double fv[6] = {2.7, -2.7, 0.5, -0.5, 1.0 / 3, -1e-9};
    memcpy(f->data.f, fv, sizeof fv);
    he_tensor *i = he_tensor_astype(f, HE_DT_INT, 0);
    static const int64_t iw[6] = {2, -2, 0, 0, 0, 0};
    for (int k = 0; i && k < 6; k++) CHECK(i->data.i[k] == iw[k], "float->int truncates [%d]", k);
    he_tensor *x = he_tensor_astype(f, HE_DT_FIXED, 2);
    /* 2.7*4 = 10.8 -> 11; -10.8 -> -11; 0.5*4 = 2; 1/3*4 = 1.33 -> 1; ties away: see below */
    static const int64_t xw[6] = {11, -11, 2, -2, 1, 0};
    for (int k = 0; x && k < 6; k++) CHECK(x->data.i[k] == xw[k], "float->fixed rounds [%d]", k);
    he_tensor *x0 = he_tensor_astype(f, HE_DT_FIXED, 0);
    static const int64_t tw[6] = {3, -3, 1, -1, 0, 0}; /* nearest, ties away from zero */
    for (int k = 0; x0 && k < 6; k++) CHECK(x0->data.i[k] == tw[k], "float->fixed<0> ties away [%d]", k);
    for (int k = 0; x0 && k < 6; k++) {
        int64_t want;
        CHECK(he_fixed_from_double(fv[k], 0, &want) == 0 && want == x0->data.i[k], "matches he_fixed_from_double");
    }
    /* fixed -> int truncates toward zero, fixed -> float is exact */
    he_tensor *xi = he_tensor_astype(x, HE_DT_INT, 0), *xf = he_tensor_astype(x, HE_DT_FLOAT, 0);
    static const int64_t xiw[6] = {2, -2, 0, 0, 0, 0};
    for (int k = 0; xi && k < 6; k++) CHECK(xi->data.i[k] == xiw[k], "fixed->int [%d] %lld", k, (long long)xi->data.i[k]);
    for (int k = 0; xf && k < 6; k++) CHECK(xf->data.f[k] == (double)xw[k] / 4, "fixed->float [%d]", k);
    he_tensor *xr = he_tensor_astype(x, HE_DT_FIXED, 1); /* 11/4 = 2.75 -> 5.5/2 -> 6/2 (ties away) */
    CHECK(xr && xr->data.i[0] == 6 && xr->data.i[1] == -6 && xr->data.i[2] == 1, "fixed rescale down");
    he_tensor *xu = he_tensor_astype(x, HE_DT_FIXED, 40);
    CHECK(xu && xu->data.i[0] == 11 * (INT64_C(1) << 38), "fixed rescale up");
    he_tensor *b = he_tensor_astype(f, HE_DT_BOOL, 0), *bi = he_tensor_astype(b, HE_DT_INT, 0);
    CHECK(b && b->data.i[5] == 1 && bi && bi->data.i[0] == 1 && bi->dtype == HE_DT_INT, "bool");
    drop(i), drop(x), drop(x0), drop(xi), drop(xf), drop(xr), drop(xu), drop(b), drop(bi);
    /* range errors */
    f->data.f[3] = 1e19;
    CHECK(!he_tensor_astype(f, HE_DT_INT, 0) && has_err("does not fit in int"), "float->int range");
    f->data.f[3] = NAN;
    CHECK(!he_tensor_astype(f, HE_DT_INT, 0), "NaN->int");
    CHECK(!he_tensor_astype(f, HE_DT_FIXED, 8), "NaN->fixed");
    f->data.f[3] = 9.3e18;
    CHECK(he_tensor_astype(f, HE_DT_INT, 0) == NULL, "9.3e18 > INT64_MAX");
    f->data.f[3] = -9223372036854775808.0;
    i = he_tensor_astype(f, HE_DT_INT, 0);
    CHECK(i && i->data.i[3] == INT64_MIN, "INT64_MIN fits");
    he_tensor *big = from_ints(1, (int64_t[]){1}, (int64_t[]){INT64_C(1) << 50});
    CHECK(!he_tensor_astype(big, HE_DT_FIXED, 16) && has_err("does not fit in fixed<16>"), "int->fixed range: %s",
          he_errmsg());
    CHECK(!he_tensor_astype(big, HE_DT_FIXED, 70), "bad frac");
    drop(i), drop(big), drop(f);
}

/* Shapes (fuzz inputs of issue 9): every dimension and the product of the
** dimensions that are not 0 are bounded, so an empty tensor cannot carry
** dimensions whose products overflow in printing, slicing, joining or
** reducing (run under SANITIZE=1: UBSan aborted there before). */
static void test_shape_bound(void)
{
    static const int64_t bad[][3] = {
        {0, INT64_C(4294967296), INT64_C(4294967296)},
        {0, INT64_MAX, INT64_MAX},
        {INT64_C(1) << 62, INT64_C(1) << 62, 0},
        {INT64_C(1) << 49, 0, 1},
        {0, 0, (INT64_C(1) << 48) + 1},
        {INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!he_tensor_new(HE_DT_FLOAT, 0, 3, bad[i]) && has_err("too large"), "shape %zu accepted: %s", i,
              he_errmsg());
        CHECK(!he_tensor_full(HE_DT_INT, 0, 3, bad[i], he_int(1)) && has_err("too large"), "full %zu", i);
        CHECK(he_shape_check(3, bad[i], "w", NULL) < 0 && has_err("w: tensor shape"), "check %zu: %s", i, he_errmsg());
    }
    he_tensor *z = he_tensor_new(HE_DT_INT, 0, 1, (int64_t[]){0});
    CHECK(z && !he_tensor_reshape(z, 3, bad[0]) && has_err("reshape: tensor shape [0, 4294967296, 4294967296]"),
          "reshape: %s", he_errmsg());
    drop(z);
    /* at the bound: accepted, and every operation works on it */
    int64_t edge[3] = {0, INT64_C(1) << 24, INT64_C(1) << 24}, sz = -1;
    CHECK(he_shape_check(3, edge, NULL, &sz) == 0 && sz == 0, "the bound refused: %s", he_errmsg());
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 3, edge);
    CHECK(t && t->size == 0, "[0, 2^24, 2^24]: %s", he_errmsg());
    if (!t) return;
    he_buf b;
    he_buf_init(&b);
    CHECK(he_tensor_repr(t, &b) == 0 && b.data && strcmp(b.data, "[]") == 0, "repr");
    he_buf_free(&b);
    he_slice sl[2] = {{0, HE_SLICE_END, 1, false}, {1, 2, 1, true}};
    he_tensor *r = he_tensor_slice(t, 2, sl);
    CHECK(r && r->ndim == 2 && r->size == 0 && r->shape[1] == edge[2], "t[:, 1]: %s", he_errmsg());
    drop(r);
    he_tensor *two[2] = {t, t};
    r = he_tensor_concat(2, two, 1);
    CHECK(!r && has_err("too large"), "concat over the bound: %s", r ? "accepted" : he_errmsg());
    drop(r);
    r = he_tensor_concat(2, two, 0);
    CHECK(r && r->size == 0 && r->shape[1] == edge[1], "concat: %s", he_errmsg());
    drop(r);
    he_value v = he_nil();
    CHECK(he_tensor_argmax(t, 1, &v) == 0 && he_is_tensor(v) && he_as_tensor(v)->size == 0, "argmax: %s",
          he_errmsg());
    dropv(v);
    CHECK(he_tensor_sum(t, 2, &v) == 0 && he_is_tensor(v) && he_as_tensor(v)->size == 0, "sum: %s", he_errmsg());
    dropv(v);
    r = he_tensor_transpose(t);
    CHECK(r && r->shape[0] == edge[2] && r->shape[2] == 0, "transpose: %s", he_errmsg());
    /* an empty tensor with many lists prints abbreviated, not 2^48 of them */
    he_buf_init(&b);
    CHECK(r && he_tensor_repr(r, &b) == 0 && b.len < 400 && strstr(b.data, "..."), "transposed repr (%zu bytes)",
          b.len);
    he_buf_free(&b);
    drop(r);
    drop(t);
}

static void repr_is(he_tensor *t, const char *want)
{
    he_buf b;
    he_buf_init(&b);
    CHECK(he_repr(TV(t), &b, true) == 0 && b.data && strcmp(b.data, want) == 0, "repr %s, want %s", b.data ? b.data : "",
          want);
    he_buf_free(&b);
    drop(t);
}

static void test_repr(void)
{
    int64_t s22[2] = {2, 2}, s20[2] = {2, 0}, s3[1] = {3};
    repr_is(from_ints(2, s22, (int64_t[]){1, 2, 3, -4}), "[[1, 2], [3, -4]]");
    he_tensor *f = he_tensor_new(HE_DT_FLOAT, 0, 1, s3);
    f->data.f[0] = 1.5, f->data.f[1] = 2, f->data.f[2] = -0.1;
    repr_is(f, "[1.5, 2.0, -0.1]");
    he_tensor *b = he_tensor_new(HE_DT_BOOL, 0, 1, s3);
    b->data.i[1] = 1;
    repr_is(b, "[false, true, false]");
    he_tensor *x = he_tensor_full(HE_DT_FIXED, 4, 1, s3, he_float(0.25));
    repr_is(x, "[0.25, 0.25, 0.25]");
    he_tensor *z = he_tensor_new(HE_DT_INT, 0, 0, NULL);
    z->data.i[0] = 5;
    repr_is(z, "5");
    repr_is(he_tensor_new(HE_DT_INT, 0, 2, s20), "[[], []]");
    repr_is(he_tensor_arange(0, 0, 1), "[]");
    repr_is(he_tensor_arange(0, 2000, 1), "[0, 1, 2, ..., 1997, 1998, 1999]");
    int64_t s3d[3] = {2, 10, 100};
    he_tensor *flat = he_tensor_arange(0, 2000, 1), *big = he_tensor_reshape(flat, 3, s3d);
    drop(flat);
    repr_is(big, "[[[0, 1, 2, ..., 97, 98, 99], [100, 101, 102, ..., 197, 198, 199], [200, 201, 202, ..., 297, 298, "
                 "299], ..., [700, 701, 702, ..., 797, 798, 799], [800, 801, 802, ..., 897, 898, 899], [900, 901, 902, "
                 "..., 997, 998, 999]], [[1000, 1001, 1002, ..., 1097, 1098, 1099], [1100, 1101, 1102, ..., 1197, 1198, "
                 "1199], [1200, 1201, 1202, ..., 1297, 1298, 1299], ..., [1700, 1701, 1702, ..., 1797, 1798, 1799], "
                 "[1800, 1801, 1802, ..., 1897, 1898, 1899], [1900, 1901, 1902, ..., 1997, 1998, 1999]]]");
    he_tensor *k = he_tensor_arange(0, 1000, 1);
    he_buf b2;
    he_buf_init(&b2);
    CHECK(he_tensor_repr(k, &b2) == 0 && !strstr(b2.data, "...") && strstr(b2.data, ", 500, 501, ") &&
              strcmp(b2.data + b2.len - 10, " 998, 999]") == 0,
          "1000 elements print in full");
    he_buf_free(&b2);
    drop(k);
}

/* --- the object type ---------------------------------------------------------------------- */

/* A stand-in for another runtime type (a ciphertext, say) that accepts
** tensors: the tensor hook must let it try. */
static void fake_free(he_obj *o) { he_free(o); }
static int fake_binop(he_op op, he_value a, he_value b, he_value *out)
{
    (void)a, (void)b;
    *out = he_int(1000 + (int)op);
    return 0;
}
static const he_type fake_type = {.name = "fake", .free = fake_free, .binop = fake_binop};

static void test_type_hooks(void)
{
    he_obj *fo = he_malloc(sizeof *fo);
    he_obj_init(fo, &fake_type);
    he_tensor *ft = he_tensor_eye(2);
    he_value fr;
    CHECK(he_binop(HE_OP_MUL, TV(ft), he_objv(fo), &fr) == 0 && fr.tag == HE_INT && fr.as.i == 1000 + HE_OP_MUL,
          "tensor * other type goes to the other type");
    CHECK(he_binop(HE_OP_MATMUL, TV(ft), he_objv(fo), &fr) == 0 && fr.as.i == 1000 + HE_OP_MATMUL,
          "tensor @ other type goes to the other type");
    he_release(he_objv(fo));
    drop(ft);

    he_tensor *t = he_tensor_arange(1, 4, 1);
    he_value r, r2;
    CHECK(he_binop(HE_OP_ADD, TV(t), he_int(1), &r) == 0 && he_is_tensor(r) && he_as_tensor(r)->data.i[2] == 4,
          "tensor + int");
    CHECK(he_binop(HE_OP_SUB, he_int(10), TV(t), &r2) == 0 && he_as_tensor(r2)->data.i[0] == 9, "int - tensor");
    dropv(r2);
    CHECK(he_binop(HE_OP_MUL, r, TV(t), &r2) == 0 && he_as_tensor(r2)->data.i[2] == 12, "tensor * tensor");
    dropv(r2), dropv(r);
    CHECK(he_unop(HE_OP_NEG, TV(t), &r) == 0 && he_as_tensor(r)->data.i[1] == -2, "-tensor");
    dropv(r);
    CHECK(he_unop(HE_OP_NOT, TV(t), &r) < 0, "not int tensor");
    int64_t n = 0;
    CHECK(t->obj.type->len(&t->obj, &n) == 0 && n == 3, "len");
    he_str *s = he_str_new("ab", 2);
    CHECK(he_binop(HE_OP_ADD, TV(t), he_objv(&s->obj), &r) < 0 && has_err("unsupported operand types for +: tensor and str"),
          "tensor + str: %s", he_errmsg());
    CHECK(t->obj.type->binop(HE_OP_ADD, TV(t), he_objv(&s->obj), &r) == 1, "hook declines other objects");
    he_release(he_objv(&s->obj));
    CHECK(strcmp(he_typename(TV(t)), "tensor") == 0, "typename");
    he_tensor *z = he_tensor_new(HE_DT_INT, 0, 0, NULL);
    CHECK(z->obj.type->len(&z->obj, &n) < 0 && has_err("0-D"), "len 0-D");
    /* reference counting: a retained tensor survives one release */
    he_retain(TV(t));
    drop(t);
    CHECK(t->obj.rc == 1 && t->data.i[0] == 1, "retain");
    drop(t), drop(z);
}

/* Regions, masks and gathers against reference loops on random shapes. */
static int64_t flat_of(const he_tensor *t, const int64_t *ix)
{
    int64_t o = 0;
    for (int d = 0; d < t->ndim; d++) o = o * t->shape[d] + ix[d];
    return o;
}

static bool next_ix(int nd, const int64_t *shape, int64_t *ix)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++ix[d] < shape[d]) return true;
        ix[d] = 0;
    }
    return false;
}

static void test_regions(void)
{
    for (int round = 0; round < 200; round++) {
        int nd = (int)rint_(1, 3);
        int64_t shape[3];
        for (int d = 0; d < nd; d++) shape[d] = rint_(0, 4);
        he_tensor *t = rnd(HE_DT_INT, 0, nd, shape, 0, 9);
        /* slice assignment: the region reads back what was stored, and
        ** exactly the region's elements change */
        int n = (int)rint_(1, nd);
        he_slice s[3];
        for (int d = 0; d < n; d++) {
            bool idx = shape[d] > 0 && rint_(0, 3) == 0;
            s[d].is_index = idx;
            s[d].start = idx ? rint_(-shape[d], shape[d] - 1) : rint_(0, 2) == 0 ? HE_SLICE_END : rint_(-6, 6);
            s[d].stop = idx ? s[d].start + 1 : rint_(0, 2) == 0 ? HE_SLICE_END : rint_(-6, 6);
            s[d].step = idx ? 1 : rint_(1, 3) * (rint_(0, 1) ? 1 : -1);
        }
        he_tensor *reg = he_tensor_slice(t, n, s);
        he_tensor *v = reg ? rnd(HE_DT_INT, 0, reg->ndim, reg->shape, 10, 19) : NULL;
        he_tensor *c = he_tensor_copy(t);
        CHECK(reg && v && c && he_tensor_slice_set(c, n, s, TV(v)) == 0, "slice_set %d: %s", round, he_errmsg());
        he_tensor *back = c ? he_tensor_slice(c, n, s) : NULL;
        bool same = back && v && back->size == v->size;
        for (int64_t k = 0; same && k < v->size; k++) same = back->data.i[k] == v->data.i[k];
        int64_t changed = 0;
        for (int64_t k = 0; c && k < c->size; k++) changed += c->data.i[k] >= 10;
        CHECK(same && v && changed == v->size, "slice_set %d reads back", round);
        drop(back), drop(c), drop(v), drop(reg);
        /* a scalar broadcasts over the region */
        c = he_tensor_copy(t);
        reg = he_tensor_slice(t, n, s);
        CHECK(c && reg && he_tensor_slice_set(c, n, s, he_int(-1)) == 0, "slice_set scalar %d", round);
        changed = 0;
        for (int64_t k = 0; c && k < c->size; k++) changed += c->data.i[k] == -1;
        CHECK(reg && changed == reg->size, "slice_set scalar %d count", round);
        drop(c), drop(reg);
        /* a mask over the leading m axes, against a walk in order */
        int m = (int)rint_(1, nd);
        he_tensor *mask = rnd(HE_DT_BOOL, 0, m, shape, 0, 1);
        he_tensor *sel = mask ? he_tensor_mask(t, mask) : NULL;
        int64_t inner = 1, ix[3] = {0}, at = 0;
        for (int d = m; d < nd; d++) inner *= shape[d];
        bool ok = sel != NULL;
        for (int64_t k = 0; ok && k < mask->size; k++)
            if (mask->data.i[k])
                for (int64_t j = 0; ok && j < inner; j++) ok = at < sel->size && sel->data.i[at++] == t->data.i[k * inner + j];
        CHECK(ok && sel && at == sel->size, "mask %d", round);
        c = he_tensor_copy(t);
        CHECK(c && mask && he_tensor_mask_set(c, mask, he_int(-5)) == 0, "mask_set %d", round);
        for (int64_t k = 0; c && mask && k < c->size; k++)
            ok &= (c->data.i[k] == -5) == (mask->data.i[k / (inner ? inner : 1)] != 0 && inner > 0);
        CHECK(ok, "mask_set %d marks the selected elements", round);
        drop(c), drop(sel), drop(mask);
        /* take along a random axis against t[o, idx[k], i] */
        int ax = (int)rint_(0, nd - 1);
        int64_t ni = shape[ax] ? rint_(0, 4) : 0;
        he_tensor *idx = rnd(HE_DT_INT, 0, 1, &ni, shape[ax] ? -shape[ax] : 0, shape[ax] ? shape[ax] - 1 : 0);
        he_tensor *tk = idx ? he_tensor_take(t, idx, ax, "take") : NULL;
        ok = tk && tk->ndim == nd;
        if (ok && tk->size) {
            memset(ix, 0, sizeof ix);
            do {
                int64_t src[3];
                memcpy(src, ix, sizeof src);
                int64_t i = idx->data.i[ix[ax]];
                src[ax] = i < 0 ? i + shape[ax] : i;
                ok &= tk->data.i[flat_of(tk, ix)] == t->data.i[flat_of(t, src)];
            } while (next_ix(nd, tk->shape, ix));
        }
        CHECK(ok, "take %d axis %d: %s", round, ax, he_errmsg());
        drop(tk), drop(idx), drop(t);
    }
    /* out of range, bad masks, shapes that do not broadcast */
    he_tensor *t = he_tensor_arange(0, 6, 1);
    int64_t two = 2, big[1] = {7};
    he_tensor *bad = he_tensor_full(HE_DT_INT, 0, 1, big, he_int(6));
    CHECK(!he_tensor_take(t, bad, 0, "take") && has_err("take: index 6 out of range for axis 0 of size 6"), "take range: %s",
          he_errmsg());
    CHECK(he_tensor_take_set(t, bad, he_int(0)) < 0 && has_err("index 6 out of range"), "take_set range");
    he_tensor *m2 = he_tensor_new(HE_DT_BOOL, 0, 1, &two);
    CHECK(!he_tensor_mask(t, m2) && has_err("mask of shape [2] does not match the tensor's shape [6]"), "mask shape");
    he_slice all = {HE_SLICE_END, HE_SLICE_END, 1, false};
    CHECK(he_tensor_slice_set(t, 1, &all, TV(m2)) < 0 && has_err("cannot store bool values in an int tensor"),
          "slice_set type: %s", he_errmsg());
    he_tensor *f2 = he_tensor_new(HE_DT_INT, 0, 1, &two);
    CHECK(he_tensor_slice_set(t, 1, &all, TV(f2)) < 0 && has_err("cannot broadcast [2] to [6]"), "slice_set shape: %s",
          he_errmsg());
    drop(f2), drop(m2), drop(bad), drop(t);
}

static void test_permutation(void)
{
    /* every n: a permutation; the same seed, the same order */
    for (int64_t n = 0; n < 40; n++) {
        he_prng a, b;
        he_prng_seed(&a, (uint64_t)n), he_prng_seed(&b, (uint64_t)n);
        he_tensor *p = he_tensor_permutation(&a, n), *q = he_tensor_permutation(&b, n);
        bool ok = p && q && p->size == n, seen[40] = {false};
        for (int64_t k = 0; ok && k < n; k++) {
            ok = p->data.i[k] >= 0 && p->data.i[k] < n && !seen[p->data.i[k]] && p->data.i[k] == q->data.i[k];
            if (ok) seen[p->data.i[k]] = true;
        }
        CHECK(ok, "permutation of %lld", (long long)n);
        drop(p), drop(q);
    }
    /* uniform: each of the 6 orders of 3 about 6000/6 times (the count is
    ** binomial, sd 29: a bound of 200 fails by chance with p < 1e-11) */
    int count[6] = {0};
    for (int k = 0; k < 6000; k++) {
        he_tensor *p = he_tensor_permutation(&G, 3);
        count[p->data.i[0] * 2 + (p->data.i[1] > p->data.i[2])]++;
        drop(p);
    }
    for (int k = 0; k < 6; k++) CHECK(count[k] > 800 && count[k] < 1200, "permutation order %d drawn %d times", k, count[k]);
}

static void test_cumsum_where_clip(void)
{
    int64_t sh[2] = {3, 4};
    he_tensor *t = rnd(HE_DT_INT, 0, 2, sh, -100, 100);
    he_tensor *c0 = he_tensor_cumsum(t, 0), *c1 = he_tensor_cumsum(t, -1), *ca = he_tensor_cumsum(t, HE_AXIS_ALL);
    bool ok = c0 && c1 && ca && ca->ndim == 1 && ca->size == 12;
    int64_t run = 0;
    for (int i = 0; ok && i < 3; i++)
        for (int j = 0; j < 4; j++) {
            int64_t down = 0, across = 0;
            for (int k = 0; k <= i; k++) down += t->data.i[k * 4 + j];
            for (int k = 0; k <= j; k++) across += t->data.i[i * 4 + k];
            run += t->data.i[i * 4 + j];
            ok &= c0->data.i[i * 4 + j] == down && c1->data.i[i * 4 + j] == across && ca->data.i[i * 4 + j] == run;
        }
    CHECK(ok, "cumsum");
    drop(c0), drop(c1), drop(ca);
    he_tensor *big = he_tensor_full(HE_DT_INT, 0, 1, &sh[0], he_int(INT64_MAX / 2));
    CHECK(!he_tensor_cumsum(big, HE_AXIS_ALL) && has_err("int overflow in cumsum"), "cumsum overflow");
    he_value z;
    CHECK(he_tensor_binop(HE_OP_GT, TV(t), he_int(0), &z) == 0, "cond");
    he_tensor *w = he_tensor_where(he_as_tensor(z), TV(t), he_float(0.5));
    he_tensor *cl = he_tensor_clip(t, he_int(-10), he_int(10));
    ok = w && cl && w->dtype == HE_DT_FLOAT && cl->dtype == HE_DT_INT;
    for (int64_t k = 0; ok && k < 12; k++) {
        int64_t x = t->data.i[k];
        ok = w->data.f[k] == (x > 0 ? (double)x : 0.5) && cl->data.i[k] == (x < -10 ? -10 : x > 10 ? 10 : x);
    }
    CHECK(ok, "where and clip");
    CHECK(!he_tensor_clip(t, he_int(3), he_int(2)) && has_err("lower bound is above"), "clip bounds");
    drop(w), drop(cl), dropv(z), drop(big), drop(t);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&G, 20240611);
    RUN(test_new);
    RUN(test_builders);
    RUN(test_random);
    RUN(test_get_set);
    RUN(test_slice);
    RUN(test_reshape_transpose);
    RUN(test_binop_broadcast);
    RUN(test_binop_known);
    RUN(test_binop_errors);
    RUN(test_unop);
    RUN(test_matmul);
    RUN(test_reductions);
    RUN(test_math);
    RUN(test_math_exact);
    RUN(test_concat);
    RUN(test_astype);
    RUN(test_repr);
    RUN(test_shape_bound);
    RUN(test_type_hooks);
    RUN(test_regions);
    RUN(test_permutation);
    RUN(test_cumsum_where_clip);
    return 0;
}
