/*
** tensor.c: dense n-dimensional tensors (see tensor.h).
**
** All element storage is 8 bytes wide (double or int64), so the element-wise
** machinery works on untyped 8-byte slots and only the kernels know types.
** Element-wise operations normalise both operands to one computation domain
** (float, int or fixed) first -- converting a whole operand at most once,
** never per element -- then run a kernel over the innermost dimension with
** operand strides of 0 (broadcast) or 1. Same-shape and scalar-operand
** cases are a single kernel call over the whole tensor.
*/
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------- */

he_typestr he_type_full(he_value v)
{
    he_typestr r;
    if (!he_is_tensor(v)) {
        snprintf(r.s, sizeof r.s, "%s", he_typename(v));
        return r;
    }
    const he_tensor *t = he_as_tensor(v);
    char e[16];
    if (t->dtype == HE_DT_FIXED) snprintf(e, sizeof e, "fixed<%d>", t->frac);
    else snprintf(e, sizeof e, "%s", he_dtype_name((he_dtype)t->dtype));
    snprintf(r.s, sizeof r.s, "%s%s", e, he_shape_str(t->ndim, t->shape).s);
    return r;
}

he_shapestr he_shape_str(int ndim, const int64_t *shape)
{
    he_shapestr r;
    size_t n = 0;
    r.s[n++] = '[';
    for (int d = 0; d < ndim; d++)
        n += (size_t)snprintf(r.s + n, sizeof r.s - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    r.s[n++] = ']';
    r.s[n] = '\0';
    return r;
}
#define SHAPE(t) (he_shape_str((t)->ndim, (t)->shape).s)

static const char *const dtype_names[] = {"int", "float", "fixed", "bool"};

const char *he_dtype_name(he_dtype dt)
{
    return (unsigned)dt < 4 ? dtype_names[dt] : "?";
}

/* "int", "float", "fixed<16>", "bool" for a tensor's element type. */
typedef struct dtstr {
    char s[16];
} dtstr;
static dtstr fmt_dtype(int dt, int frac)
{
    dtstr r;
    if (dt == HE_DT_FIXED) snprintf(r.s, sizeof r.s, "fixed<%d>", frac);
    else snprintf(r.s, sizeof r.s, "%s", he_dtype_name((he_dtype)dt));
    return r;
}
#define DTYPE(t) (fmt_dtype((t)->dtype, (t)->frac).s)

static int check_frac(he_dtype dt, int frac)
{
    if ((unsigned)dt > HE_DT_BOOL) return he_error("unknown tensor element type %d", (int)dt);
    if (dt == HE_DT_FIXED && (frac < 0 || frac > HE_FIXED_MAXFRAC))
        return he_error("fixed-point precision %d out of range 0..%d", frac, HE_FIXED_MAXFRAC);
    return 0;
}

int he_shape_check(int ndim, const int64_t *shape, const char *what, int64_t *size)
{
    const char *sep = what ? ": " : "";
    if (!what) what = "";
    if (ndim < 0 || ndim > HE_MAXDIM)
        return he_error("%s%sa tensor has 0 to %d dimensions, not %d", what, sep, HE_MAXDIM, ndim);
    int64_t all = 1, nonzero = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return he_error("%s%snegative dimension %lld in shape %s", what, sep, (long long)shape[d],
                            he_shape_str(ndim, shape).s);
        /* the bound holds for the nonzero product, so no product overflows */
        if (shape[d] > HE_TENSOR_MAXSIZE || (shape[d] && nonzero > HE_TENSOR_MAXSIZE / shape[d]))
            return he_error("%s%stensor shape %s is too large (at most 2^48 elements, counting every dimension "
                            "that is not 0)",
                            what, sep, he_shape_str(ndim, shape).s);
        if (shape[d]) nonzero *= shape[d];
        all *= shape[d];
    }
    if (size) *size = all;
    return 0;
}

/* Allocates a tensor; zero-fills when zero is set. */
static he_tensor *tensor_alloc(he_dtype dt, int frac, int ndim, const int64_t *shape, bool zero)
{
    if (check_frac(dt, frac) < 0) return NULL;
    int64_t size;
    if (he_shape_check(ndim, shape, NULL, &size) < 0) return NULL;
    he_tensor *t = he_malloc(sizeof *t);
    if (!t) return NULL;
    void *data = zero ? he_calloc((size_t)(size ? size : 1), 8) : he_malloc((size_t)(size ? size : 1) * 8);
    if (!data) {
        he_free(t);
        return NULL;
    }
    he_obj_init(&t->obj, &he_tensor_type);
    t->dtype = (uint8_t)dt;
    t->frac = (uint8_t)(dt == HE_DT_FIXED ? frac : 0);
    t->ndim = ndim;
    for (int d = 0; d < HE_MAXDIM; d++) t->shape[d] = d < ndim ? shape[d] : 0;
    t->size = size;
    t->data.i = data;
    return t;
}

static void tensor_drop(he_tensor *t)
{
    if (t) {
        he_free(t->data.i);
        he_free(t);
    }
}

he_tensor *he_tensor_new(he_dtype dt, int frac, int ndim, const int64_t *shape)
{
    return tensor_alloc(dt, frac, ndim, shape, true);
}

he_tensor *he_tensor_copy(const he_tensor *t)
{
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, t->ndim, t->shape, false);
    if (r && t->size) memcpy(r->data.i, t->data.i, (size_t)t->size * 8);
    return r;
}

static he_value tensor_value(he_tensor *t) { return he_objv(&t->obj); }

/* The element at flat offset k as a scalar value. */
static he_value elem_value(const he_tensor *t, int64_t k)
{
    switch ((he_dtype)t->dtype) {
    case HE_DT_FLOAT: return he_float(t->data.f[k]);
    case HE_DT_FIXED: return he_fixed_raw(t->data.i[k], t->frac);
    case HE_DT_BOOL: return he_bool(t->data.i[k] != 0);
    default: return he_int(t->data.i[k]);
    }
}

/* Converts a scalar value for storage in a tensor of type dt<frac>: int and
** fixed go into float; int, float (rounded) and fixed (rescaled) into fixed;
** bool only into bool. Anything that would lose more than rounding is an
** error. */
static int value_to_slot(he_value v, he_dtype dt, int frac, void *slot, const char *what)
{
    int64_t *ip = slot;
    double *fp = slot;
    switch ((he_dtype)dt) {
    case HE_DT_INT:
        if (v.tag == HE_INT) {
            *ip = v.as.i;
            return 0;
        }
        break;
    case HE_DT_FLOAT:
        if (v.tag == HE_FLOAT) *fp = v.as.f;
        else if (v.tag == HE_INT) *fp = (double)v.as.i;
        else if (v.tag == HE_FIXED) *fp = he_fixed_to_double(v.as.i, v.frac);
        else break;
        return 0;
    case HE_DT_FIXED:
        if (v.tag == HE_FIXED) return he_fixed_rescale(v.as.i, v.frac, frac, ip);
        if (v.tag == HE_INT) return he_fixed_rescale(v.as.i, 0, frac, ip);
        if (v.tag == HE_FLOAT) return he_fixed_from_double(v.as.f, frac, ip);
        break;
    case HE_DT_BOOL:
        if (v.tag == HE_BOOL) {
            *ip = v.as.b ? 1 : 0;
            return 0;
        }
        break;
    }
    return he_error("%s: cannot store %s in a %s tensor", what, he_typename(v), fmt_dtype(dt, frac).s);
}

/* --- conversion ------------------------------------------------------------ */

static int float_to_int(double d, int64_t *out)
{
    double t = trunc(d);
    if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0))
        return he_error("astype: float value %g does not fit in int", d);
    *out = (int64_t)t;
    return 0;
}

/* Converts n elements of type (sdt, sfrac) at src to (dt, frac) at dst
** (dst may equal src). */
static int convert(int sdt, int sfrac, const void *src, int dt, int frac, void *dst, int64_t n)
{
    const int64_t *si = src;
    const double *sf = src;
    int64_t *di = dst;
    double *df = dst;
    if (sdt == dt && (dt != HE_DT_FIXED || sfrac == frac)) {
        if (dst != src && n) memmove(dst, src, (size_t)n * 8);
        return 0;
    }
    switch (dt) {
    case HE_DT_FLOAT:
        if (sdt == HE_DT_FIXED) {
            double s = ldexp(1.0, -sfrac);
            for (int64_t k = 0; k < n; k++) df[k] = (double)si[k] * s;
        } else {
            for (int64_t k = 0; k < n; k++) df[k] = (double)si[k];
        }
        return 0;
    case HE_DT_INT:
        if (sdt == HE_DT_FLOAT) {
            for (int64_t k = 0; k < n; k++)
                if (float_to_int(sf[k], &di[k]) < 0) return -1;
        } else if (sdt == HE_DT_FIXED) {
            /* truncate toward zero, as float -> int does */
            for (int64_t k = 0; k < n; k++) {
                int64_t x = si[k];
                if (sfrac == 0) {
                    di[k] = x;
                    continue;
                }
                uint64_t u = x < 0 ? -(uint64_t)x : (uint64_t)x;
                int64_t q = (int64_t)(u >> sfrac);
                di[k] = x < 0 ? -q : q;
            }
        } else {
            for (int64_t k = 0; k < n; k++) di[k] = si[k];
        }
        return 0;
    case HE_DT_FIXED:
        if (sdt == HE_DT_FLOAT) {
            for (int64_t k = 0; k < n; k++)
                if (he_fixed_from_double(sf[k], frac, &di[k]) < 0) return -1;
        } else {
            int from = sdt == HE_DT_FIXED ? sfrac : 0;
            if (frac >= from) {
                int s = frac - from;
                int64_t hi = INT64_MAX >> s, lo = INT64_MIN >> s;
                for (int64_t k = 0; k < n; k++) {
                    if (si[k] > hi || si[k] < lo)
                        return he_error("astype: %g does not fit in fixed<%d>",
                                        sdt == HE_DT_FIXED ? he_fixed_to_double(si[k], from) : (double)si[k],
                                        frac);
                    di[k] = (int64_t)((uint64_t)si[k] << s);
                }
            } else {
                for (int64_t k = 0; k < n; k++)
                    if (he_fixed_rescale(si[k], from, frac, &di[k]) < 0) return -1;
            }
        }
        return 0;
    case HE_DT_BOOL:
        if (sdt == HE_DT_FLOAT)
            for (int64_t k = 0; k < n; k++) di[k] = sf[k] != 0.0;
        else
            for (int64_t k = 0; k < n; k++) di[k] = si[k] != 0;
        return 0;
    }
    return he_error("unknown tensor element type %d", dt);
}

he_tensor *he_tensor_astype(const he_tensor *t, he_dtype dt, int frac)
{
    he_tensor *r = tensor_alloc(dt, frac, t->ndim, t->shape, false);
    if (!r) return NULL;
    if (convert(t->dtype, t->frac, t->data.i, dt, frac, r->data.i, t->size) < 0) {
        tensor_drop(r);
        return NULL;
    }
    return r;
}

/* --- builders -------------------------------------------------------------- */

he_tensor *he_tensor_full(he_dtype dt, int frac, int ndim, const int64_t *shape, he_value fill)
{
    int64_t slot;
    if (check_frac(dt, frac) < 0 || value_to_slot(fill, dt, frac, &slot, "full") < 0) return NULL;
    he_tensor *t = tensor_alloc(dt, frac, ndim, shape, false);
    if (!t) return NULL;
    for (int64_t k = 0; k < t->size; k++) t->data.i[k] = slot;
    return t;
}

he_tensor *he_tensor_arange(int64_t start, int64_t stop, int64_t step)
{
    if (step == 0) {
        he_error("arange: step must not be zero");
        return NULL;
    }
    __int128 span = (__int128)stop - start, n = 0;
    if (step > 0 && span > 0) n = (span + step - 1) / step;
    else if (step < 0 && span < 0) n = (-span + (-(__int128)step) - 1) / (-(__int128)step);
    if (n > INT64_MAX >> 4) {
        he_error("arange(%lld, %lld, %lld) is too large", (long long)start, (long long)stop, (long long)step);
        return NULL;
    }
    int64_t shape[1] = {(int64_t)n};
    he_tensor *t = tensor_alloc(HE_DT_INT, 0, 1, shape, false);
    if (!t) return NULL;
    for (int64_t k = 0; k < shape[0]; k++) t->data.i[k] = (int64_t)(start + (__int128)k * step);
    return t;
}

he_tensor *he_tensor_eye(int64_t n)
{
    int64_t shape[2] = {n, n};
    he_tensor *t = tensor_alloc(HE_DT_FLOAT, 0, 2, shape, true);
    if (!t) return NULL;
    for (int64_t k = 0; k < n; k++) t->data.f[k * n + k] = 1.0;
    return t;
}

he_tensor *he_tensor_uniform(he_prng *g, int ndim, const int64_t *shape, double lo, double hi)
{
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi)) {
        he_error("uniform: need finite lo <= hi, got [%g, %g)", lo, hi);
        return NULL;
    }
    he_tensor *t = tensor_alloc(HE_DT_FLOAT, 0, ndim, shape, false);
    if (!t) return NULL;
    double w = hi - lo;
    for (int64_t k = 0; k < t->size; k++) t->data.f[k] = lo + w * he_prng_uniform(g);
    return t;
}

he_tensor *he_tensor_normal(he_prng *g, int ndim, const int64_t *shape, double mean, double std)
{
    if (!(std >= 0) || !isfinite(std) || !isfinite(mean)) {
        he_error("normal: need a finite mean and std >= 0, got mean %g std %g", mean, std);
        return NULL;
    }
    he_tensor *t = tensor_alloc(HE_DT_FLOAT, 0, ndim, shape, false);
    if (!t) return NULL;
    for (int64_t k = 0; k < t->size; k++) t->data.f[k] = mean + std * he_prng_normal(g);
    return t;
}

/* --- indexing -------------------------------------------------------------- */

/* Flat offset of the block at index idx[0..n) (n <= ndim); negative indices
** count from the end. */
static int index_offset(const he_tensor *t, int n, const int64_t *idx, int64_t *off)
{
    if (n < 0 || n > t->ndim)
        return he_error("too many indices (%d) for a %d-D tensor of shape %s", n, t->ndim, SHAPE(t));
    int64_t o = 0;
    for (int d = 0; d < n; d++) {
        int64_t i = idx[d], dim = t->shape[d];
        if (i < 0) i += dim;
        if (i < 0 || i >= dim)
            return he_error("index %lld out of range for axis %d of size %lld", (long long)idx[d], d,
                            (long long)dim);
        o = o * dim + i;
    }
    for (int d = n; d < t->ndim; d++) o *= t->shape[d];
    *off = o;
    return 0;
}

int he_tensor_get(const he_tensor *t, int n, const int64_t *idx, he_value *out)
{
    int64_t off;
    if (n != t->ndim)
        return he_error("element access needs %d indices for shape %s, got %d", t->ndim, SHAPE(t), n);
    if (index_offset(t, n, idx, &off) < 0) return -1;
    *out = elem_value(t, off);
    return 0;
}

int he_tensor_set(he_tensor *t, int n, const int64_t *idx, he_value v)
{
    int64_t off, slot;
    if (n != t->ndim)
        return he_error("element assignment needs %d indices for shape %s, got %d", t->ndim, SHAPE(t), n);
    if (index_offset(t, n, idx, &off) < 0) return -1;
    if (value_to_slot(v, (he_dtype)t->dtype, t->frac, &slot, "assignment") < 0) return -1;
    t->data.i[off] = slot;
    return 0;
}

he_tensor *he_tensor_sub(const he_tensor *t, int n, const int64_t *idx)
{
    int64_t off;
    if (index_offset(t, n, idx, &off) < 0) return NULL;
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, t->ndim - n, t->shape + n, false);
    if (r && r->size) memcpy(r->data.i, t->data.i + off, (size_t)r->size * 8);
    return r;
}

/* Resolves one slice against a dimension as Python does: first index and
** count. */
int he_slice_resolve(const he_slice *s, int64_t dim, int axis, int64_t *first, int64_t *count)
{
    if (s->is_index) {
        int64_t i = s->start < 0 && s->start != HE_SLICE_END ? s->start + dim : s->start;
        if (s->start == HE_SLICE_END || i < 0 || i >= dim)
            return he_error("index %lld out of range for axis %d of size %lld", (long long)s->start, axis,
                            (long long)dim);
        *first = i;
        *count = 1;
        return 0;
    }
    if (s->step == 0) return he_error("slice step cannot be zero (axis %d)", axis);
    __int128 step = s->step, start, stop, n = 0;
    if (step > 0) {
        if (s->start == HE_SLICE_END) start = 0;
        else {
            start = s->start < 0 ? (__int128)s->start + dim : s->start;
            if (start < 0) start = 0;
            if (start > dim) start = dim;
        }
        if (s->stop == HE_SLICE_END) stop = dim;
        else {
            stop = s->stop < 0 ? (__int128)s->stop + dim : s->stop;
            if (stop < 0) stop = 0;
            if (stop > dim) stop = dim;
        }
        if (stop > start) n = (stop - start + step - 1) / step;
    } else {
        if (s->start == HE_SLICE_END) start = dim - 1;
        else {
            start = s->start < 0 ? (__int128)s->start + dim : s->start;
            if (start < 0) start = -1;
            if (start >= dim) start = dim - 1;
        }
        if (s->stop == HE_SLICE_END) stop = -1;
        else {
            stop = s->stop < 0 ? (__int128)s->stop + dim : s->stop;
            if (stop < 0) stop = -1;
            if (stop >= dim) stop = dim - 1;
        }
        if (start > stop) n = (start - stop - 1) / (-step) + 1;
    }
    *first = (int64_t)start;
    *count = (int64_t)n;
    return 0;
}

he_tensor *he_tensor_slice(const he_tensor *t, int n, const he_slice *s)
{
    if (n < 0 || n > t->ndim) {
        he_error("too many slices (%d) for a %d-D tensor of shape %s", n, t->ndim, SHAPE(t));
        return NULL;
    }
    int nd = t->ndim;
    int64_t first[HE_MAXDIM], count[HE_MAXDIM], step[HE_MAXDIM], stride[HE_MAXDIM];
    int64_t oshape[HE_MAXDIM];
    int ond = 0;
    int64_t st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        stride[d] = st;
        st *= t->shape[d];
    }
    for (int d = 0; d < nd; d++) {
        if (d < n) {
            if (he_slice_resolve(&s[d], t->shape[d], d, &first[d], &count[d]) < 0) return NULL;
            /* a single element's step is irrelevant (and may be huge) */
            step[d] = s[d].is_index || count[d] <= 1 ? 1 : s[d].step;
            if (!s[d].is_index) oshape[ond++] = count[d];
        } else {
            first[d] = 0;
            count[d] = t->shape[d];
            step[d] = 1;
            oshape[ond++] = count[d];
        }
    }
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, ond, oshape, false);
    if (!r || r->size == 0) return r;
    /* Walk all axes but the last; the last is a run (memcpy when step 1). */
    int64_t idx[HE_MAXDIM] = {0}, base = 0;
    for (int d = 0; d < nd; d++) base += first[d] * stride[d];
    if (nd == 0) {
        r->data.i[0] = t->data.i[0];
        return r;
    }
    int64_t inner = count[nd - 1], istep = step[nd - 1];
    int64_t outer = r->size / inner;
    int64_t *dst = r->data.i;
    const int64_t *src = t->data.i;
    int64_t off = base;
    for (int64_t o = 0; o < outer; o++) {
        if (istep == 1) memcpy(dst, src + off, (size_t)inner * 8);
        else
            for (int64_t k = 0; k < inner; k++) dst[k] = src[off + k * istep];
        dst += inner;
        for (int d = nd - 2; d >= 0; d--) {
            off += step[d] * stride[d];
            if (++idx[d] < count[d]) break;
            off -= step[d] * stride[d] * count[d];
            idx[d] = 0;
        }
    }
    return r;
}

/* --- shape manipulation ------------------------------------------------------ */

he_tensor *he_tensor_reshape(const he_tensor *t, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > HE_MAXDIM) {
        he_error("reshape: a tensor has 0 to %d dimensions, not %d", HE_MAXDIM, ndim);
        return NULL;
    }
    int64_t sh[HE_MAXDIM], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        sh[d] = shape[d];
        if (shape[d] == -1) {
            if (infer >= 0) {
                he_error("reshape: only one dimension can be -1 in %s", he_shape_str(ndim, shape).s);
                return NULL;
            }
            infer = d;
        } else if (shape[d] < 0) {
            he_error("reshape: negative dimension %lld in %s", (long long)shape[d], he_shape_str(ndim, shape).s);
            return NULL;
        } else if (__builtin_mul_overflow(known, shape[d], &known)) {
            he_error("reshape: shape %s is too large", he_shape_str(ndim, shape).s);
            return NULL;
        }
    }
    if (infer >= 0) {
        if (known == 0 || t->size % known != 0) {
            he_error("cannot reshape tensor of shape %s (size %lld) into %s", SHAPE(t), (long long)t->size,
                     he_shape_str(ndim, shape).s);
            return NULL;
        }
        sh[infer] = t->size / known;
    } else if (known != t->size) {
        he_error("cannot reshape tensor of shape %s (size %lld) into %s", SHAPE(t), (long long)t->size,
                 he_shape_str(ndim, shape).s);
        return NULL;
    }
    if (he_shape_check(ndim, sh, "reshape", NULL) < 0) return NULL;
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, ndim, sh, false);
    if (r && r->size) memcpy(r->data.i, t->data.i, (size_t)r->size * 8);
    return r;
}

he_tensor *he_tensor_transpose(const he_tensor *t)
{
    int nd = t->ndim;
    int64_t oshape[HE_MAXDIM];
    for (int d = 0; d < nd; d++) oshape[d] = t->shape[nd - 1 - d];
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, nd, oshape, false);
    if (!r || r->size == 0) return r;
    const int64_t *src = t->data.i;
    int64_t *dst = r->data.i;
    if (nd <= 1) {
        memcpy(dst, src, (size_t)t->size * 8);
        return r;
    }
    if (nd == 2) {
        /* blocked, so both sides stay in cache */
        int64_t R = t->shape[0], C = t->shape[1];
        enum { B = 16 };
        for (int64_t i0 = 0; i0 < R; i0 += B)
            for (int64_t j0 = 0; j0 < C; j0 += B) {
                int64_t i1 = i0 + B < R ? i0 + B : R, j1 = j0 + B < C ? j0 + B : C;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) dst[j * R + i] = src[i * C + j];
            }
        return r;
    }
    /* general: walk the output in order; the source stride of output axis
    ** d is the stride of input axis nd-1-d */
    int64_t sstride[HE_MAXDIM], st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        sstride[d] = st;
        st *= t->shape[d];
    }
    int64_t ostr[HE_MAXDIM], idx[HE_MAXDIM] = {0}, off = 0;
    for (int d = 0; d < nd; d++) ostr[d] = sstride[nd - 1 - d];
    int64_t inner = oshape[nd - 1], istr = ostr[nd - 1], outer = r->size / inner;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t k = 0; k < inner; k++) dst[k] = src[off + k * istr];
        dst += inner;
        for (int d = nd - 2; d >= 0; d--) {
            off += ostr[d];
            if (++idx[d] < oshape[d]) break;
            off -= ostr[d] * oshape[d];
            idx[d] = 0;
        }
    }
    return r;
}

/* --- element-wise operations ---------------------------------------------------- */

/* One side of an element-wise operation: a tensor's data or a scalar held
** in slot, possibly converted into tmp. */
typedef struct operand {
    int dt, frac;
    int ndim;
    const int64_t *shape;
    int64_t size;
    const void *data;
    int64_t slot;
    void *tmp;
    he_value v;
} operand;

static int operand_from(he_value v, operand *o)
{
    o->tmp = NULL;
    o->v = v;
    if (he_is_tensor(v)) {
        const he_tensor *t = he_as_tensor(v);
        o->dt = t->dtype;
        o->frac = t->frac;
        o->ndim = t->ndim;
        o->shape = t->shape;
        o->size = t->size;
        o->data = t->data.i;
        return 0;
    }
    o->frac = 0;
    o->ndim = 0;
    o->shape = NULL;
    o->size = 1;
    o->data = &o->slot;
    switch ((he_tag)v.tag) {
    case HE_INT: o->dt = HE_DT_INT; o->slot = v.as.i; return 0;
    case HE_FLOAT: o->dt = HE_DT_FLOAT; memcpy(&o->slot, &v.as.f, 8); return 0;
    case HE_FIXED: o->dt = HE_DT_FIXED; o->frac = v.frac; o->slot = v.as.i; return 0;
    case HE_BOOL: o->dt = HE_DT_BOOL; o->slot = v.as.b; return 0;
    default: return -1;
    }
}

/* Converts an operand's elements to (dt, frac), once for the whole operand. */
static int operand_convert(operand *o, int dt, int frac)
{
    if (o->dt == dt && o->frac == frac) return 0;
    if (o->data == &o->slot) {
        if (convert(o->dt, o->frac, &o->slot, dt, frac, &o->slot, 1) < 0) return -1;
    } else {
        o->tmp = he_malloc((size_t)(o->size ? o->size : 1) * 8);
        if (!o->tmp || convert(o->dt, o->frac, o->data, dt, frac, o->tmp, o->size) < 0) return -1;
        o->data = o->tmp;
    }
    o->dt = dt;
    o->frac = frac;
    return 0;
}

/* "int tensor", "fixed<16> tensor" or a scalar's type name. */
typedef struct descstr {
    char s[48];
} descstr;
static descstr describe(const operand *o)
{
    descstr r;
    if (he_is_tensor(o->v)) snprintf(r.s, sizeof r.s, "%s tensor", DTYPE(he_as_tensor(o->v)));
    else snprintf(r.s, sizeof r.s, "%s", he_typename(o->v));
    return r;
}

static int unsupported(he_op op, const operand *A, const operand *B)
{
    return he_error("unsupported operand types for %s: %s and %s", he_op_symbol[op], describe(A).s, describe(B).s);
}

enum { K_INT, K_FLOAT, K_FIXED, K_FIXDIVINT };

typedef struct kctx {
    he_op op;
    int kind;
    int frac;     /* K_FIXED */
    int sha, shb; /* comparisons of mixed precision: left shifts (exact, 128-bit) */
    bool fixmul;  /* K_INT computing fixed * int (raw times int, no rescale) */
} kctx;

/* Runs BODY for k in [0, n) with x = a[k or 0], y = b[k or 0] and O_ the
** output, specialised on the four stride cases so loops vectorise. */
#define EW(TA, TB, TO, ...)                                      \
    do {                                                         \
        const TA *A_ = a;                                        \
        const TB *B_ = b;                                        \
        TO *O_ = out;                                            \
        if (sa && sb) {                                          \
            for (int64_t k = 0; k < n; k++) {                    \
                TA x = A_[k];                                    \
                TB y = B_[k];                                    \
                __VA_ARGS__;                                     \
            }                                                    \
        } else if (sb) {                                         \
            TA x = A_[0];                                        \
            for (int64_t k = 0; k < n; k++) {                    \
                TB y = B_[k];                                    \
                __VA_ARGS__;                                     \
            }                                                    \
        } else if (sa) {                                         \
            TB y = B_[0];                                        \
            for (int64_t k = 0; k < n; k++) {                    \
                TA x = A_[k];                                    \
                __VA_ARGS__;                                     \
            }                                                    \
        } else {                                                 \
            TA x = A_[0];                                        \
            TB y = B_[0];                                        \
            for (int64_t k = 0; k < n; k++) {                    \
                __VA_ARGS__;                                     \
            }                                                    \
        }                                                        \
    } while (0)

typedef int (*kern_fn)(const kctx *c, int64_t n, const void *a, int sa, const void *b, int sb, void *out);

static int kern_float(const kctx *c, int64_t n, const void *a, int sa, const void *b, int sb, void *out)
{
    switch (c->op) {
    case HE_OP_ADD: EW(double, double, double, O_[k] = x + y); break;
    case HE_OP_SUB: EW(double, double, double, O_[k] = x - y); break;
    case HE_OP_MUL: EW(double, double, double, O_[k] = x * y); break;
    case HE_OP_DIV: EW(double, double, double, O_[k] = x / y); break;
    case HE_OP_MOD: EW(double, double, double, O_[k] = fmod(x, y)); break;
    case HE_OP_IDIV: EW(double, double, double, O_[k] = floor(x / y)); break;
    case HE_OP_POW: EW(double, double, double, O_[k] = pow(x, y)); break;
    case HE_OP_LT: EW(double, double, int64_t, O_[k] = x < y); break;
    case HE_OP_LE: EW(double, double, int64_t, O_[k] = x <= y); break;
    case HE_OP_GT: EW(double, double, int64_t, O_[k] = x > y); break;
    case HE_OP_GE: EW(double, double, int64_t, O_[k] = x >= y); break;
    case HE_OP_EQ: EW(double, double, int64_t, O_[k] = x == y); break;
    case HE_OP_NE: EW(double, double, int64_t, O_[k] = x != y); break;
    default: return he_error("unsupported tensor operator %s", he_op_symbol[c->op]);
    }
    return 0;
}

static int int_pow(int64_t a, int64_t e, int64_t *out)
{
    if (e < 0) return he_error("negative exponent %lld for int power (use float)", (long long)e);
    int64_t r = 1;
    while (e) {
        if ((e & 1) && __builtin_mul_overflow(r, a, &r)) goto ovf;
        e >>= 1;
        if (e && __builtin_mul_overflow(a, a, &a)) goto ovf;
    }
    *out = r;
    return 0;
ovf:
    return he_error("int overflow in **");
}

/* After a kernel saw an overflow: names the first offending pair. */
static int report_overflow(const kctx *c, int64_t n, const int64_t *a, int sa, const int64_t *b, int sb)
{
    char what[24];
    if (c->kind == K_FIXED || c->fixmul) snprintf(what, sizeof what, "fixed<%d>", c->frac);
    else snprintf(what, sizeof what, "int");
    for (int64_t k = 0; k < n; k++) {
        int64_t x = a[sa ? k : 0], y = b[sb ? k : 0], r;
        bool o = c->op == HE_OP_ADD ? __builtin_add_overflow(x, y, &r)
               : c->op == HE_OP_SUB ? __builtin_sub_overflow(x, y, &r)
               : c->op == HE_OP_MUL ? __builtin_mul_overflow(x, y, &r)
                                    : (x == INT64_MIN && y == -1);
        if (o) {
            if (c->kind == K_FIXED)
                return he_error("%s overflow in tensor %s: %g %s %g", what, he_op_symbol[c->op],
                                he_fixed_to_double(x, c->frac), he_op_symbol[c->op], he_fixed_to_double(y, c->frac));
            if (!c->fixmul)
                return he_error("int overflow in tensor %s: %lld %s %lld", he_op_symbol[c->op], (long long)x,
                                he_op_symbol[c->op], (long long)y);
            break;
        }
    }
    return he_error("%s overflow in tensor %s", what, he_op_symbol[c->op]);
}

#define CMP128(OPR) EW(int64_t, int64_t, int64_t, O_[k] = ((__int128)x * ma) OPR((__int128)y * mb))

static int kern_int(const kctx *c, int64_t n, const void *a, int sa, const void *b, int sb, void *out)
{
    int ovf = 0;
    bool sh = c->sha || c->shb;
    __int128 ma = (__int128)1 << c->sha, mb = (__int128)1 << c->shb;
    switch (c->op) {
    case HE_OP_ADD: EW(int64_t, int64_t, int64_t, ovf |= __builtin_add_overflow(x, y, &O_[k])); break;
    case HE_OP_SUB: EW(int64_t, int64_t, int64_t, ovf |= __builtin_sub_overflow(x, y, &O_[k])); break;
    case HE_OP_MUL: EW(int64_t, int64_t, int64_t, ovf |= __builtin_mul_overflow(x, y, &O_[k])); break;
    case HE_OP_DIV:
        EW(int64_t, int64_t, int64_t, if (HE_UNLIKELY(y == 0)) goto div0;
           if (HE_UNLIKELY(y == -1)) {
               ovf |= x == INT64_MIN;
               O_[k] = (int64_t)(0 - (uint64_t)x);
           } else O_[k] = x / y);
        break;
    case HE_OP_IDIV:
        EW(int64_t, int64_t, int64_t, if (HE_UNLIKELY(y == 0)) goto div0;
           if (HE_UNLIKELY(y == -1)) {
               ovf |= x == INT64_MIN;
               O_[k] = (int64_t)(0 - (uint64_t)x);
           } else O_[k] = x / y - ((x % y != 0) && ((x < 0) != (y < 0))));
        break;
    case HE_OP_MOD:
        EW(int64_t, int64_t, int64_t, if (HE_UNLIKELY(y == 0)) goto mod0; O_[k] = y == -1 ? 0 : x % y);
        break;
    case HE_OP_POW:
        EW(int64_t, int64_t, int64_t, if (int_pow(x, y, &O_[k]) < 0) return -1);
        break;
    case HE_OP_LT: if (sh) CMP128(<); else EW(int64_t, int64_t, int64_t, O_[k] = x < y); break;
    case HE_OP_LE: if (sh) CMP128(<=); else EW(int64_t, int64_t, int64_t, O_[k] = x <= y); break;
    case HE_OP_GT: if (sh) CMP128(>); else EW(int64_t, int64_t, int64_t, O_[k] = x > y); break;
    case HE_OP_GE: if (sh) CMP128(>=); else EW(int64_t, int64_t, int64_t, O_[k] = x >= y); break;
    case HE_OP_EQ: if (sh) CMP128(==); else EW(int64_t, int64_t, int64_t, O_[k] = x == y); break;
    case HE_OP_NE: if (sh) CMP128(!=); else EW(int64_t, int64_t, int64_t, O_[k] = x != y); break;
    default: return he_error("unsupported tensor operator %s", he_op_symbol[c->op]);
    }
    if (HE_UNLIKELY(ovf)) return report_overflow(c, n, a, sa, b, sb);
    return 0;
div0:
    return he_error("division by zero");
mod0:
    return he_error("division by zero (modulo)");
}

/* Rounds p / 2^s to nearest, ties away from zero (as he_fixed_mul does). */
static inline int64_t round_shift(__int128 p, int s, int *ovf)
{
    /* for p < 0, -((-p + half) >> s) == (p + half - 1) >> s (floor shift) */
    if (s > 0) p = (p + ((__int128)1 << (s - 1)) - (p < 0)) >> s;
    *ovf |= p > INT64_MAX || p < INT64_MIN;
    return (int64_t)p;
}

static int kern_fixed(const kctx *c, int64_t n, const void *a, int sa, const void *b, int sb, void *out)
{
    int ovf = 0, f = c->frac;
    if (c->kind == K_FIXDIVINT) {
        EW(int64_t, int64_t, int64_t, if (he_fixed_div(x, y, 0, &O_[k]) < 0) return -1);
        return 0;
    }
    switch (c->op) {
    case HE_OP_MUL: EW(int64_t, int64_t, int64_t, O_[k] = round_shift((__int128)x * y, f, &ovf)); break;
    case HE_OP_DIV: EW(int64_t, int64_t, int64_t, if (he_fixed_div(x, y, f, &O_[k]) < 0) return -1); break;
    default: return kern_int(c, n, a, sa, b, sb, out);
    }
    if (HE_UNLIKELY(ovf)) {
        for (int64_t k = 0; k < n; k++) {
            int64_t x = ((const int64_t *)a)[sa ? k : 0], y = ((const int64_t *)b)[sb ? k : 0];
            int o = 0;
            round_shift((__int128)x * y, f, &o);
            if (o)
                return he_error("fixed<%d> overflow in tensor *: %g * %g", f, he_fixed_to_double(x, f),
                                he_fixed_to_double(y, f));
        }
    }
    return 0;
}

static int broadcast_shape(const operand *A, const operand *B, int *ond, int64_t *oshape)
{
    int nd = A->ndim > B->ndim ? A->ndim : B->ndim;
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - A->ndim), db = d - (nd - B->ndim);
        int64_t x = da >= 0 ? A->shape[da] : 1, y = db >= 0 ? B->shape[db] : 1;
        if (x != y && x != 1 && y != 1)
            return he_error("shape mismatch: cannot broadcast %s with %s", he_shape_str(A->ndim, A->shape).s,
                            he_shape_str(B->ndim, B->shape).s);
        oshape[d] = x == 1 ? y : x;
    }
    *ond = nd;
    return 0;
}

/* Runs kernel f over the broadcast of A and B into r. */
static int run_ew(kern_fn f, const kctx *c, const operand *A, const operand *B, he_tensor *r)
{
    int64_t size = r->size;
    const int64_t *a = A->data, *b = B->data;
    int64_t *o = r->data.i;
    if (size == 0) return 0;
    if (A->size == size && B->size == size) return f(c, size, a, 1, b, 1, o);
    if (A->size == 1 && B->size == size) return f(c, size, a, 0, b, 1, o);
    if (B->size == 1 && A->size == size) return f(c, size, a, 1, b, 0, o);
    int nd = r->ndim;
    int64_t astr[HE_MAXDIM], bstr[HE_MAXDIM], idx[HE_MAXDIM] = {0};
    const operand *ops[2] = {A, B};
    int64_t *strs[2] = {astr, bstr};
    for (int w = 0; w < 2; w++) {
        const operand *p = ops[w];
        int64_t st = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int pd = d - (nd - p->ndim);
            if (pd < 0 || p->shape[pd] == 1) strs[w][d] = 0;
            else {
                strs[w][d] = st;
                st *= p->shape[pd];
            }
        }
    }
    int64_t inner = r->shape[nd - 1], outer = size / inner, aoff = 0, boff = 0;
    int sa = astr[nd - 1] != 0, sb = bstr[nd - 1] != 0;
    for (int64_t q = 0; q < outer; q++) {
        if (f(c, inner, a + aoff, sa, b + boff, sb, o + q * inner) < 0) return -1;
        for (int d = nd - 2; d >= 0; d--) {
            aoff += astr[d];
            boff += bstr[d];
            if (++idx[d] < r->shape[d]) break;
            aoff -= astr[d] * r->shape[d];
            boff -= bstr[d] * r->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}

int he_tensor_binop(he_op op, he_value a, he_value b, he_value *out)
{
    if (!he_is_tensor(a) && !he_is_tensor(b)) return he_binop(op, a, b, out);
    if (op == HE_OP_MATMUL) {
        if (he_is_tensor(a) && he_is_tensor(b)) return he_tensor_matmul(he_as_tensor(a), he_as_tensor(b), out);
        return he_error("matmul: both operands must be tensors, got %s and %s", he_typename(a), he_typename(b));
    }
    operand A = {0}, B = {0};
    if (operand_from(a, &A) < 0 || operand_from(b, &B) < 0 || op > HE_OP_NE)
        return he_error("unsupported operand types for %s: %s and %s",
                        (unsigned)op < HE_OP__COUNT ? he_op_symbol[op] : "?", he_typename(a), he_typename(b));
    bool cmp = op >= HE_OP_LT && op <= HE_OP_NE;
    kctx c = {.op = op, .kind = K_INT};
    kern_fn f = kern_int;
    int rdt = HE_DT_INT, rfrac = 0, rc = -1;
    he_tensor *r = NULL;
    if (A.dt == HE_DT_BOOL || B.dt == HE_DT_BOOL) {
        if (!(A.dt == HE_DT_BOOL && B.dt == HE_DT_BOOL && (op == HE_OP_EQ || op == HE_OP_NE)))
            return unsupported(op, &A, &B);
    } else if (A.dt == HE_DT_FLOAT || B.dt == HE_DT_FLOAT) {
        if (operand_convert(&A, HE_DT_FLOAT, 0) < 0 || operand_convert(&B, HE_DT_FLOAT, 0) < 0) goto done;
        c.kind = K_FLOAT;
        f = kern_float;
        rdt = HE_DT_FLOAT;
    } else if (A.dt == HE_DT_FIXED || B.dt == HE_DT_FIXED) {
        int fa = A.dt == HE_DT_FIXED ? A.frac : 0, fb = B.dt == HE_DT_FIXED ? B.frac : 0;
        rfrac = A.dt == HE_DT_FIXED ? fa : fb;
        if (cmp) {
            /* exact comparison on a common scale */
            int m = fa > fb ? fa : fb;
            c.sha = m - fa;
            c.shb = m - fb;
        } else {
            if (A.dt == HE_DT_FIXED && B.dt == HE_DT_FIXED && fa != fb)
                return he_error("fixed-point operands have different precision: fixed<%d> %s fixed<%d>", fa,
                                he_op_symbol[op], fb);
            if (op == HE_OP_MOD || op == HE_OP_IDIV || op == HE_OP_POW) return unsupported(op, &A, &B);
            rdt = HE_DT_FIXED;
            c.frac = rfrac;
            if (op == HE_OP_MUL && (A.dt == HE_DT_INT || B.dt == HE_DT_INT)) {
                c.kind = K_INT; /* raw * int needs no rescale */
                c.fixmul = true;
            } else if (op == HE_OP_DIV && B.dt == HE_DT_INT) {
                c.kind = K_FIXDIVINT;
                f = kern_fixed;
            } else {
                if (operand_convert(&A, HE_DT_FIXED, rfrac) < 0 || operand_convert(&B, HE_DT_FIXED, rfrac) < 0)
                    goto done;
                c.kind = K_FIXED;
                f = kern_fixed;
            }
        }
    }
    if (cmp) rdt = HE_DT_BOOL, rfrac = 0;
    int ond = 0;
    int64_t oshape[HE_MAXDIM];
    if (broadcast_shape(&A, &B, &ond, oshape) < 0) goto done;
    r = tensor_alloc((he_dtype)rdt, rfrac, ond, oshape, false);
    if (!r) goto done;
    if (run_ew(f, &c, &A, &B, r) < 0) {
        tensor_drop(r);
        goto done;
    }
    *out = tensor_value(r);
    rc = 0;
done:
    he_free(A.tmp);
    he_free(B.tmp);
    return rc;
}

he_tensor *he_tensor_unop(he_op op, const he_tensor *t)
{
    if (op == HE_OP_NOT && t->dtype != HE_DT_BOOL) {
        he_error("unsupported operand type for not: %s tensor", DTYPE(t));
        return NULL;
    }
    if (op != HE_OP_NOT && (op != HE_OP_NEG || t->dtype == HE_DT_BOOL)) {
        he_error("unsupported operand type for %s: %s tensor", (unsigned)op < HE_OP__COUNT ? he_op_symbol[op] : "?",
                 DTYPE(t));
        return NULL;
    }
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, t->ndim, t->shape, false);
    if (!r) return NULL;
    int64_t n = t->size;
    if (op == HE_OP_NOT) {
        for (int64_t k = 0; k < n; k++) r->data.i[k] = !t->data.i[k];
    } else if (t->dtype == HE_DT_FLOAT) {
        for (int64_t k = 0; k < n; k++) r->data.f[k] = -t->data.f[k];
    } else {
        int ovf = 0;
        for (int64_t k = 0; k < n; k++) ovf |= __builtin_sub_overflow((int64_t)0, t->data.i[k], &r->data.i[k]);
        if (ovf) {
            he_error("%s overflow in negation", DTYPE(t));
            tensor_drop(r);
            return NULL;
        }
    }
    return r;
}

/* --- matrix product ---------------------------------------------------------- */

/* Blocked i-k-j: C[i, j] accumulates over k in increasing order, the same
** order as the plain loop, so blocking does not change results. */
static int mm_float(int64_t M, int64_t K, int64_t N, const double *A, const double *B, double *C)
{
    if (N == 1) {
        for (int64_t i = 0; i < M; i++) {
            const double *a = A + i * K;
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += a[k] * B[k];
            C[i] = s;
        }
        return 0;
    }
    enum { KB = 128, JB = 1024 };
    for (int64_t j0 = 0; j0 < N; j0 += JB) {
        int64_t j1 = j0 + JB < N ? j0 + JB : N;
        for (int64_t k0 = 0; k0 < K; k0 += KB) {
            if (he_poll_interrupt() < 0) return -1;
            int64_t k1 = k0 + KB < K ? k0 + KB : K;
            int64_t i = 0;
            /* four rows at a time: each row of B is loaded once for four
            ** rows of C */
            for (; i + 4 <= M; i += 4) {
                double *restrict c0 = C + i * N, *restrict c1 = c0 + N, *restrict c2 = c1 + N, *restrict c3 = c2 + N;
                const double *a = A + i * K;
                for (int64_t k = k0; k < k1; k++) {
                    double a0 = a[k], a1 = a[K + k], a2 = a[2 * K + k], a3 = a[3 * K + k];
                    const double *restrict b = B + k * N;
                    for (int64_t j = j0; j < j1; j++) {
                        double bj = b[j];
                        c0[j] += a0 * bj;
                        c1[j] += a1 * bj;
                        c2[j] += a2 * bj;
                        c3[j] += a3 * bj;
                    }
                }
            }
            for (; i < M; i++) {
                double *restrict c = C + i * N;
                const double *a = A + i * K;
                for (int64_t k = k0; k < k1; k++) {
                    double aik = a[k];
                    const double *restrict b = B + k * N;
                    for (int64_t j = j0; j < j1; j++) c[j] += aik * b[j];
                }
            }
        }
    }
    return 0;
}

static int mm_int(int64_t M, int64_t K, int64_t N, const int64_t *A, const int64_t *B, int64_t *C)
{
    int ovf = 0;
    for (int64_t i = 0; i < M; i++) {
        int64_t *c = C + i * N;
        for (int64_t k = 0; k < K; k++) {
            int64_t aik = A[i * K + k], p;
            const int64_t *b = B + k * N;
            for (int64_t j = 0; j < N; j++) {
                ovf |= __builtin_mul_overflow(aik, b[j], &p);
                ovf |= __builtin_add_overflow(c[j], p, &c[j]);
            }
        }
        if (ovf) return he_error("int overflow in matmul (row %lld)", (long long)i);
        if (he_poll_interrupt() < 0) return -1;
    }
    return 0;
}

/* Fixed point: exact 128-bit sums of raw products, one rounding per result
** (nearest, ties away from zero). */
static int mm_fixed(int64_t M, int64_t K, int64_t N, int frac, const int64_t *A, const int64_t *B, int64_t *C)
{
    __int128 *acc = he_malloc((size_t)(N ? N : 1) * sizeof *acc);
    if (!acc) return -1;
    int ovf = 0;
    for (int64_t i = 0; i < M && !ovf; i++) {
        if (he_poll_interrupt() < 0) {
            he_free(acc);
            return -1;
        }
        for (int64_t j = 0; j < N; j++) acc[j] = 0;
        for (int64_t k = 0; k < K; k++) {
            __int128 aik = A[i * K + k];
            const int64_t *b = B + k * N;
            for (int64_t j = 0; j < N; j++) ovf |= __builtin_add_overflow(acc[j], aik * b[j], &acc[j]);
        }
        for (int64_t j = 0; j < N; j++) {
            ovf |= acc[j] == -(__int128)(((unsigned __int128)1 << 127) - 1) - 1; /* cannot negate */
            if (!ovf) C[i * N + j] = round_shift(acc[j], frac, &ovf);
        }
    }
    he_free(acc);
    if (ovf) return he_error("fixed<%d> overflow in matmul", frac);
    return 0;
}

int he_tensor_matmul(const he_tensor *a, const he_tensor *b, he_value *out)
{
    if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2)
        return he_error("matmul: needs 1-D or 2-D tensors, got %s @ %s", SHAPE(a), SHAPE(b));
    int64_t M = a->ndim == 2 ? a->shape[0] : 1, K = a->shape[a->ndim - 1];
    int64_t N = b->ndim == 2 ? b->shape[1] : 1;
    if (K != b->shape[0]) return he_error("matmul: inner dimensions differ (%s @ %s)", SHAPE(a), SHAPE(b));
    operand A = {0}, B = {0};
    (void)operand_from(tensor_value((he_tensor *)a), &A);
    (void)operand_from(tensor_value((he_tensor *)b), &B);
    int dt, frac = 0, rc = -1;
    if (A.dt == HE_DT_BOOL || B.dt == HE_DT_BOOL) return unsupported(HE_OP_MATMUL, &A, &B);
    if (A.dt == HE_DT_FLOAT || B.dt == HE_DT_FLOAT) dt = HE_DT_FLOAT;
    else if (A.dt == HE_DT_FIXED || B.dt == HE_DT_FIXED) {
        dt = HE_DT_FIXED;
        frac = A.dt == HE_DT_FIXED ? A.frac : B.frac;
        if (A.dt == HE_DT_FIXED && B.dt == HE_DT_FIXED && A.frac != B.frac)
            return he_error("matmul: fixed-point operands have different precision: fixed<%d> @ fixed<%d>", A.frac,
                            B.frac);
    } else dt = HE_DT_INT;
    int64_t shape[2];
    int nd = 0;
    if (a->ndim == 2) shape[nd++] = M;
    if (b->ndim == 2) shape[nd++] = N;
    he_tensor *r = NULL;
    if (operand_convert(&A, dt, frac) < 0 || operand_convert(&B, dt, frac) < 0) goto done;
    r = tensor_alloc((he_dtype)dt, frac, nd, shape, true);
    if (!r) goto done;
    if ((dt == HE_DT_FLOAT  ? mm_float(M, K, N, A.data, B.data, r->data.f)
         : dt == HE_DT_INT ? mm_int(M, K, N, A.data, B.data, r->data.i)
                           : mm_fixed(M, K, N, frac, A.data, B.data, r->data.i)) < 0) {
        tensor_drop(r);
        goto done;
    }
    if (nd == 0) {
        *out = elem_value(r, 0);
        tensor_drop(r);
    } else *out = tensor_value(r);
    rc = 0;
done:
    he_free(A.tmp);
    he_free(B.tmp);
    return rc;
}

/* --- reductions ---------------------------------------------------------------- */

typedef struct rplan {
    int64_t outer, n, inner;
    int rnd;
    int64_t rshape[HE_MAXDIM];
} rplan;

static int reduce_plan(const he_tensor *t, int axis, const char *name, rplan *p)
{
    if (axis == HE_AXIS_ALL) {
        p->outer = 1;
        p->n = t->size;
        p->inner = 1;
        p->rnd = 0;
        return 0;
    }
    int ax = axis < 0 ? axis + t->ndim : axis;
    if (ax < 0 || ax >= t->ndim)
        return he_error("%s: axis %d out of range for a %d-D tensor of shape %s", name, axis, t->ndim, SHAPE(t));
    p->outer = 1;
    p->inner = 1;
    for (int d = 0; d < ax; d++) p->outer *= t->shape[d];
    for (int d = ax + 1; d < t->ndim; d++) p->inner *= t->shape[d];
    p->n = t->shape[ax];
    p->rnd = 0;
    for (int d = 0; d < t->ndim; d++)
        if (d != ax) p->rshape[p->rnd++] = t->shape[d];
    return 0;
}

/* A 0-D result becomes a scalar value. */
static void reduce_finish(he_tensor *r, he_value *out)
{
    if (r->ndim == 0) {
        *out = elem_value(r, 0);
        tensor_drop(r);
    } else *out = tensor_value(r);
}

static double sum_contig(const double *x, int64_t n)
{
    double s[8] = {0};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int u = 0; u < 8; u++) s[u] += x[k + u];
    double t = 0;
    for (; k < n; k++) t += x[k];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

/* Float sum of t (any numeric type, converted) along the plan into r. */
static void sum_float(const double *src, const rplan *p, double *dst)
{
    for (int64_t o = 0; o < p->outer; o++) {
        const double *s = src + o * p->n * p->inner;
        double *d = dst + o * p->inner;
        if (p->inner == 1) {
            d[0] = sum_contig(s, p->n);
            continue;
        }
        for (int64_t j = 0; j < p->inner; j++) d[j] = 0;
        for (int64_t k = 0; k < p->n; k++) {
            const double *row = s + k * p->inner;
            for (int64_t j = 0; j < p->inner; j++) d[j] += row[j];
        }
    }
}

int he_tensor_sum(const he_tensor *t, int axis, he_value *out)
{
    rplan p;
    if (reduce_plan(t, axis, "sum", &p) < 0) return -1;
    int dt = t->dtype == HE_DT_BOOL ? HE_DT_INT : t->dtype;
    he_tensor *r = tensor_alloc((he_dtype)dt, t->frac, p.rnd, p.rshape, true);
    if (!r) return -1;
    if (dt == HE_DT_FLOAT) sum_float(t->data.f, &p, r->data.f);
    else {
        int ovf = 0;
        for (int64_t o = 0; o < p.outer; o++) {
            const int64_t *s = t->data.i + o * p.n * p.inner;
            int64_t *d = r->data.i + o * p.inner;
            for (int64_t k = 0; k < p.n; k++) {
                const int64_t *row = s + k * p.inner;
                for (int64_t j = 0; j < p.inner; j++) ovf |= __builtin_add_overflow(d[j], row[j], &d[j]);
            }
        }
        if (ovf) {
            he_error("%s overflow in sum", DTYPE(t));
            tensor_drop(r);
            return -1;
        }
    }
    reduce_finish(r, out);
    return 0;
}

int he_tensor_mean(const he_tensor *t, int axis, he_value *out)
{
    rplan p;
    if (reduce_plan(t, axis, "mean", &p) < 0) return -1;
    if (p.n == 0) return he_error("mean of an empty %s", axis == HE_AXIS_ALL ? "tensor" : "axis");
    const double *src = t->data.f;
    double *tmp = NULL;
    if (t->dtype != HE_DT_FLOAT) {
        tmp = he_malloc((size_t)(t->size ? t->size : 1) * 8);
        if (!tmp) return -1;
        convert(t->dtype, t->frac, t->data.i, HE_DT_FLOAT, 0, tmp, t->size); /* cannot fail */
        src = tmp;
    }
    he_tensor *r = tensor_alloc(HE_DT_FLOAT, 0, p.rnd, p.rshape, false);
    if (!r) {
        he_free(tmp);
        return -1;
    }
    sum_float(src, &p, r->data.f);
    double inv = 1.0 / (double)p.n;
    for (int64_t k = 0; k < r->size; k++) r->data.f[k] *= inv;
    he_free(tmp);
    reduce_finish(r, out);
    return 0;
}

/* max (sign 1) or min (sign -1), keeping the element type; float NaN
** propagates. */
static int reduce_extreme(const he_tensor *t, int axis, int sign, he_value *out)
{
    const char *name = sign > 0 ? "max" : "min";
    rplan p;
    if (reduce_plan(t, axis, name, &p) < 0) return -1;
    if (p.n == 0) return he_error("%s of an empty %s", name, axis == HE_AXIS_ALL ? "tensor" : "axis");
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, p.rnd, p.rshape, false);
    if (!r) return -1;
    for (int64_t o = 0; o < p.outer; o++) {
        int64_t base = o * p.n * p.inner;
        if (t->dtype == HE_DT_FLOAT) {
            const double *s = t->data.f + base;
            double *d = r->data.f + o * p.inner;
            memcpy(d, s, (size_t)p.inner * 8);
            for (int64_t k = 1; k < p.n; k++) {
                const double *row = s + k * p.inner;
                if (sign > 0)
                    for (int64_t j = 0; j < p.inner; j++) d[j] = (row[j] > d[j] || isnan(row[j])) ? row[j] : d[j];
                else
                    for (int64_t j = 0; j < p.inner; j++) d[j] = (row[j] < d[j] || isnan(row[j])) ? row[j] : d[j];
            }
        } else {
            const int64_t *s = t->data.i + base;
            int64_t *d = r->data.i + o * p.inner;
            memcpy(d, s, (size_t)p.inner * 8);
            for (int64_t k = 1; k < p.n; k++) {
                const int64_t *row = s + k * p.inner;
                if (sign > 0)
                    for (int64_t j = 0; j < p.inner; j++) d[j] = row[j] > d[j] ? row[j] : d[j];
                else
                    for (int64_t j = 0; j < p.inner; j++) d[j] = row[j] < d[j] ? row[j] : d[j];
            }
        }
    }
    reduce_finish(r, out);
    return 0;
}

int he_tensor_max(const he_tensor *t, int axis, he_value *out) { return reduce_extreme(t, axis, 1, out); }
int he_tensor_min(const he_tensor *t, int axis, he_value *out) { return reduce_extreme(t, axis, -1, out); }

int he_tensor_argmax(const he_tensor *t, int axis, he_value *out)
{
    rplan p;
    if (reduce_plan(t, axis, "argmax", &p) < 0) return -1;
    if (p.n == 0) return he_error("argmax of an empty %s", axis == HE_AXIS_ALL ? "tensor" : "axis");
    he_tensor *r = tensor_alloc(HE_DT_INT, 0, p.rnd, p.rshape, true);
    if (!r) return -1;
    int64_t *best = he_malloc((size_t)p.inner * 8);
    if (!best) {
        tensor_drop(r);
        return -1;
    }
    for (int64_t o = 0; o < p.outer; o++) {
        int64_t base = o * p.n * p.inner, *d = r->data.i + o * p.inner;
        memcpy(best, t->data.i + base, (size_t)p.inner * 8);
        for (int64_t k = 1; k < p.n; k++) {
            if (t->dtype == HE_DT_FLOAT) {
                const double *row = t->data.f + base + k * p.inner;
                double *bf = (double *)best;
                for (int64_t j = 0; j < p.inner; j++)
                    if (row[j] > bf[j] || (isnan(row[j]) && !isnan(bf[j]))) {
                        bf[j] = row[j];
                        d[j] = k;
                    }
            } else {
                const int64_t *row = t->data.i + base + k * p.inner;
                for (int64_t j = 0; j < p.inner; j++)
                    if (row[j] > best[j]) {
                        best[j] = row[j];
                        d[j] = k;
                    }
            }
        }
    }
    he_free(best);
    reduce_finish(r, out);
    return 0;
}

/* --- maths ---------------------------------------------------------------------- */

static const char *const math_names[] = {"exp", "log", "tanh", "sigmoid", "sqrt", "abs", "relu"};

he_tensor *he_tensor_math(he_math fn, const he_tensor *t)
{
    if ((unsigned)fn > HE_MATH_RELU) {
        he_error("unknown tensor math function %d", (int)fn);
        return NULL;
    }
    if (t->dtype == HE_DT_BOOL) {
        he_error("%s: not defined on a bool tensor", math_names[fn]);
        return NULL;
    }
    if ((fn == HE_MATH_ABS || fn == HE_MATH_RELU) && t->dtype != HE_DT_FLOAT) {
        /* exact on int and fixed, keeping the element type; abs of the most
        ** negative value overflows, as for a scalar */
        he_tensor *r = he_tensor_copy(t);
        if (!r) return NULL;
        int64_t *v = r->data.i;
        for (int64_t k = 0; k < r->size; k++) {
            if (v[k] >= 0) continue;
            if (fn == HE_MATH_RELU) v[k] = 0;
            else if (v[k] == INT64_MIN) {
                he_error("%s overflow in abs", t->dtype == HE_DT_INT ? "int" : "fixed");
                tensor_drop(r);
                return NULL;
            } else v[k] = -v[k];
        }
        return r;
    }
    he_tensor *r = he_tensor_astype(t, HE_DT_FLOAT, 0);
    if (!r) return NULL;
    double *x = r->data.f;
    int64_t n = r->size;
    switch (fn) {
    case HE_MATH_EXP: for (int64_t k = 0; k < n; k++) x[k] = exp(x[k]); break;
    case HE_MATH_LOG: for (int64_t k = 0; k < n; k++) x[k] = log(x[k]); break;
    case HE_MATH_TANH: for (int64_t k = 0; k < n; k++) x[k] = tanh(x[k]); break;
    case HE_MATH_SIGMOID:
        for (int64_t k = 0; k < n; k++) {
            double v = x[k];
            if (v >= 0) x[k] = 1.0 / (1.0 + exp(-v));
            else {
                double e = exp(v);
                x[k] = e / (1.0 + e);
            }
        }
        break;
    case HE_MATH_SQRT: for (int64_t k = 0; k < n; k++) x[k] = sqrt(x[k]); break;
    case HE_MATH_ABS: for (int64_t k = 0; k < n; k++) x[k] = fabs(x[k]); break;
    case HE_MATH_RELU: for (int64_t k = 0; k < n; k++) x[k] = x[k] < 0 ? 0.0 : x[k]; break;
    }
    return r;
}

/* --- concatenation ----------------------------------------------------------------- */

he_tensor *he_tensor_concat(int n, he_tensor *const *ts, int axis)
{
    if (n < 1) {
        he_error("concat: needs at least one tensor");
        return NULL;
    }
    int nd = ts[0]->ndim;
    if (nd == 0) {
        he_error("concat: cannot join 0-D tensors");
        return NULL;
    }
    int ax = axis < 0 ? axis + nd : axis;
    if (ax < 0 || ax >= nd) {
        he_error("concat: axis %d out of range for %d-D tensors", axis, nd);
        return NULL;
    }
    bool anyf = false, anyx = false, anyb = false, allb = true;
    int frac = -1;
    int64_t shape[HE_MAXDIM];
    memcpy(shape, ts[0]->shape, sizeof shape);
    shape[ax] = 0;
    for (int i = 0; i < n; i++) {
        const he_tensor *t = ts[i];
        bool same = t->ndim == nd;
        for (int d = 0; same && d < nd; d++) same = d == ax || t->shape[d] == ts[0]->shape[d];
        if (!same) {
            he_error("concat: shapes %s and %s differ outside axis %d", SHAPE(ts[0]), SHAPE(t), ax);
            return NULL;
        }
        if (__builtin_add_overflow(shape[ax], t->shape[ax], &shape[ax])) {
            he_error("concat: result too large");
            return NULL;
        }
        anyf |= t->dtype == HE_DT_FLOAT;
        anyb |= t->dtype == HE_DT_BOOL;
        allb &= t->dtype == HE_DT_BOOL;
        if (t->dtype == HE_DT_FIXED) {
            if (anyx && t->frac != frac) {
                he_error("concat: fixed-point tensors of different precision (fixed<%d> and fixed<%d>)", frac,
                         t->frac);
                return NULL;
            }
            anyx = true;
            frac = t->frac;
        }
    }
    if (anyb && !allb) {
        he_error("concat: cannot join bool tensors with numeric tensors");
        return NULL;
    }
    int dt = allb ? HE_DT_BOOL : anyf ? HE_DT_FLOAT : anyx ? HE_DT_FIXED : HE_DT_INT;
    if (dt != HE_DT_FIXED) frac = 0;
    he_tensor *r = tensor_alloc((he_dtype)dt, frac, nd, shape, false);
    if (!r) return NULL;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= shape[d];
    for (int d = ax + 1; d < nd; d++) inner *= shape[d];
    int64_t *dst = r->data.i;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n; i++) {
            const he_tensor *t = ts[i];
            int64_t chunk = t->shape[ax] * inner;
            if (convert(t->dtype, t->frac, t->data.i + o * chunk, dt, frac, dst, chunk) < 0) {
                tensor_drop(r);
                return NULL;
            }
            dst += chunk;
        }
    return r;
}

/* --- gathers, masks and assignment into regions --------------------------------------- */

/* Whether a value of (sdt, sfrac) may be stored in a (dt, frac) tensor, as
** an element assignment allows (value_to_slot): int into int, float and
** fixed; float and fixed into float and fixed; bool into bool only. */
static int storable(int sdt, int sfrac, int dt, int frac, const char *what)
{
    bool ok = sdt == dt || (dt == HE_DT_FLOAT && sdt != HE_DT_BOOL) || (dt == HE_DT_FIXED && sdt != HE_DT_BOOL);
    if (ok) return 0;
    return he_error("%s: cannot store %s values in %s %s tensor", what, fmt_dtype(sdt, sfrac).s,
                    dt == HE_DT_INT ? "an" : "a", fmt_dtype(dt, frac).s);
}

/* Strides (in elements) of a tensor of shape sshape[0..snd) read as if
** broadcast to shape[0..nd): 0 on the axes it is repeated along. */
static int broadcast_strides(int snd, const int64_t *sshape, int nd, const int64_t *shape, int64_t *str,
                             const char *what)
{
    if (snd > nd) goto bad;
    int64_t st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int sd = d - (nd - snd);
        if (sd < 0 || sshape[sd] == 1) str[d] = 0;
        else if (sshape[sd] == shape[d]) {
            str[d] = st;
            st *= sshape[sd];
        } else goto bad;
    }
    return 0;
bad:
    return he_error("%s: shape mismatch: cannot broadcast %s to %s", what, he_shape_str(snd, sshape).s,
                    he_shape_str(nd, shape).s);
}

he_tensor *he_tensor_broadcast(he_value v, he_dtype dt, int frac, int ndim, const int64_t *shape, const char *what)
{
    if (!he_is_tensor(v)) return he_tensor_full(dt, frac, ndim, shape, v);
    const he_tensor *s = he_as_tensor(v);
    int64_t str[HE_MAXDIM], idx[HE_MAXDIM] = {0};
    if (storable(s->dtype, s->frac, dt, frac, what) < 0 ||
        broadcast_strides(s->ndim, s->shape, ndim, shape, str, what) < 0)
        return NULL;
    he_tensor *conv = he_tensor_astype(s, dt, frac);
    he_tensor *r = conv ? tensor_alloc(dt, frac, ndim, shape, false) : NULL;
    if (r) {
        int64_t off = 0;
        for (int64_t k = 0; k < r->size; k++) {
            r->data.i[k] = conv->data.i[off];
            for (int d = ndim - 1; d >= 0; d--) {
                off += str[d];
                if (++idx[d] < shape[d]) break;
                off -= str[d] * shape[d];
                idx[d] = 0;
            }
        }
    }
    tensor_drop(conv);
    return r;
}

int he_tensor_slice_set(he_tensor *t, int n, const he_slice *s, he_value v)
{
    if (n < 0 || n > t->ndim)
        return he_error("too many indices (%d) for a %d-D tensor of shape %s", n, t->ndim, SHAPE(t));
    int nd = t->ndim;
    int64_t first[HE_MAXDIM], count[HE_MAXDIM], step[HE_MAXDIM], stride[HE_MAXDIM], rshape[HE_MAXDIM] = {0};
    int rnd = 0;
    int64_t st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        stride[d] = st;
        st *= t->shape[d];
    }
    for (int d = 0; d < nd; d++) {
        if (d < n) {
            if (he_slice_resolve(&s[d], t->shape[d], d, &first[d], &count[d]) < 0) return -1;
            step[d] = s[d].is_index || count[d] <= 1 ? 1 : s[d].step;
            if (!s[d].is_index) rshape[rnd++] = count[d];
        } else {
            first[d] = 0;
            count[d] = t->shape[d];
            step[d] = 1;
            rshape[rnd++] = count[d];
        }
    }
    /* the value, broadcast to the region's shape (the shape t[...] reads) */
    he_tensor *src = he_tensor_broadcast(v, (he_dtype)t->dtype, t->frac, rnd, rshape, "assignment");
    if (!src) return -1;
    int64_t idx[HE_MAXDIM] = {0}, off = 0;
    for (int d = 0; d < nd; d++) off += first[d] * stride[d];
    for (int64_t k = 0; k < src->size; k++) {
        t->data.i[off] = src->data.i[k];
        for (int d = nd - 1; d >= 0; d--) {
            off += step[d] * stride[d];
            if (++idx[d] < count[d]) break;
            off -= step[d] * stride[d] * count[d];
            idx[d] = 0;
        }
    }
    tensor_drop(src);
    return 0;
}

/* A mask's shape against the leading axes of t; *rows gets the number of
** blocks it selects among, *inner the elements per block, *count the trues. */
static int mask_plan(const he_tensor *t, const he_tensor *m, int64_t *rows, int64_t *inner, int64_t *count)
{
    if (m->dtype != HE_DT_BOOL) return he_error("a mask must be a bool tensor, not a %s tensor", DTYPE(m));
    bool ok = m->ndim >= 1 && m->ndim <= t->ndim;
    for (int d = 0; ok && d < m->ndim; d++) ok = m->shape[d] == t->shape[d];
    if (!ok)
        return he_error("mask of shape %s does not match the tensor's shape %s", SHAPE(m), SHAPE(t));
    *rows = m->size;
    *inner = 1;
    for (int d = m->ndim; d < t->ndim; d++) *inner *= t->shape[d];
    *count = 0;
    for (int64_t k = 0; k < m->size; k++) *count += m->data.i[k] != 0;
    return 0;
}

he_tensor *he_tensor_mask(const he_tensor *t, const he_tensor *m)
{
    int64_t rows, inner, count, shape[HE_MAXDIM];
    if (mask_plan(t, m, &rows, &inner, &count) < 0) return NULL;
    int nd = 1 + t->ndim - m->ndim;
    shape[0] = count;
    for (int d = 1; d < nd; d++) shape[d] = t->shape[m->ndim + d - 1];
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, nd, shape, false);
    if (!r) return NULL;
    int64_t *dst = r->data.i;
    for (int64_t k = 0; k < rows; k++)
        if (m->data.i[k]) {
            memcpy(dst, t->data.i + k * inner, (size_t)inner * 8);
            dst += inner;
        }
    return r;
}

int he_tensor_mask_set(he_tensor *t, const he_tensor *m, he_value v)
{
    int64_t rows, inner, count, shape[HE_MAXDIM];
    if (mask_plan(t, m, &rows, &inner, &count) < 0) return -1;
    int nd = 1 + t->ndim - m->ndim;
    shape[0] = count;
    for (int d = 1; d < nd; d++) shape[d] = t->shape[m->ndim + d - 1];
    he_tensor *src = he_tensor_broadcast(v, (he_dtype)t->dtype, t->frac, nd, shape, "mask assignment");
    if (!src) return -1;
    const int64_t *s = src->data.i;
    for (int64_t k = 0; k < rows; k++)
        if (m->data.i[k]) {
            memcpy(t->data.i + k * inner, s, (size_t)inner * 8);
            s += inner;
        }
    tensor_drop(src);
    return 0;
}

/* Checks an index tensor against a dimension; negative indices count from
** the end. */
static int take_check(const he_tensor *idx, int64_t dim, int axis, const char *what)
{
    if (idx->dtype != HE_DT_INT) return he_error("%s: indices must be an int tensor, not a %s tensor", what, DTYPE(idx));
    for (int64_t k = 0; k < idx->size; k++) {
        int64_t i = idx->data.i[k];
        if (i < -dim || i >= dim)
            return he_error("%s: index %lld out of range for axis %d of size %lld", what, (long long)i, axis,
                            (long long)dim);
    }
    return 0;
}

he_tensor *he_tensor_take(const he_tensor *t, const he_tensor *idx, int axis, const char *what)
{
    int ax = axis < 0 ? axis + t->ndim : axis;
    if (ax < 0 || ax >= t->ndim) {
        he_error("%s: axis %d out of range for a %d-D tensor of shape %s", what, axis, t->ndim, SHAPE(t));
        return NULL;
    }
    if (t->ndim - 1 + idx->ndim > HE_MAXDIM) {
        he_error("%s: the result would have more than %d dimensions", what, HE_MAXDIM);
        return NULL;
    }
    int64_t dim = t->shape[ax];
    if (take_check(idx, dim, ax, what) < 0) return NULL;
    int64_t shape[HE_MAXDIM], outer = 1, inner = 1;
    int nd = 0;
    for (int d = 0; d < ax; d++) outer *= (shape[nd++] = t->shape[d]);
    for (int d = 0; d < idx->ndim; d++) shape[nd++] = idx->shape[d];
    for (int d = ax + 1; d < t->ndim; d++) inner *= (shape[nd++] = t->shape[d]);
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, nd, shape, false);
    if (!r) return NULL;
    int64_t *dst = r->data.i;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < idx->size; k++) {
            int64_t i = idx->data.i[k] < 0 ? idx->data.i[k] + dim : idx->data.i[k];
            if (inner) memcpy(dst, t->data.i + (o * dim + i) * inner, (size_t)inner * 8);
            dst += inner;
        }
    return r;
}

int he_tensor_take_set(he_tensor *t, const he_tensor *idx, he_value v)
{
    if (t->ndim == 0) return he_error("cannot index a 0-D tensor");
    if (take_check(idx, t->shape[0], 0, "index assignment") < 0) return -1;
    if (t->ndim - 1 + idx->ndim > HE_MAXDIM) return he_error("index assignment: too many dimensions");
    int64_t shape[HE_MAXDIM], inner = 1;
    int nd = 0;
    for (int d = 0; d < idx->ndim; d++) shape[nd++] = idx->shape[d];
    for (int d = 1; d < t->ndim; d++) inner *= (shape[nd++] = t->shape[d]);
    he_tensor *src = he_tensor_broadcast(v, (he_dtype)t->dtype, t->frac, nd, shape, "index assignment");
    if (!src) return -1;
    for (int64_t k = 0; k < idx->size; k++) {
        int64_t i = idx->data.i[k] < 0 ? idx->data.i[k] + t->shape[0] : idx->data.i[k];
        if (inner) memcpy(t->data.i + i * inner, src->data.i + k * inner, (size_t)inner * 8);
    }
    tensor_drop(src);
    return 0;
}

he_tensor *he_tensor_take_along(const he_tensor *t, const he_tensor *idx, int axis)
{
    int ax = axis < 0 ? axis + t->ndim : axis;
    if (ax < 0 || ax >= t->ndim) {
        he_error("gather: axis %d out of range for a %d-D tensor of shape %s", axis, t->ndim, SHAPE(t));
        return NULL;
    }
    bool ok = idx->ndim == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++) ok = d == ax || idx->shape[d] == t->shape[d];
    if (!ok) {
        he_error("gather: indices of shape %s do not fit a tensor of shape %s along axis %d", SHAPE(idx), SHAPE(t),
                 ax);
        return NULL;
    }
    int64_t dim = t->shape[ax];
    if (take_check(idx, dim, ax, "gather") < 0) return NULL;
    he_tensor *r = tensor_alloc((he_dtype)t->dtype, t->frac, idx->ndim, idx->shape, false);
    if (!r) return NULL;
    int64_t outer = 1, inner = 1, n = idx->shape[ax];
    for (int d = 0; d < ax; d++) outer *= t->shape[d];
    for (int d = ax + 1; d < t->ndim; d++) inner *= t->shape[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < inner; j++) {
                int64_t q = (o * n + k) * inner + j;
                int64_t i = idx->data.i[q] < 0 ? idx->data.i[q] + dim : idx->data.i[q];
                r->data.i[q] = t->data.i[(o * dim + i) * inner + j];
            }
    return r;
}

he_tensor *he_tensor_permutation(he_prng *g, int64_t n)
{
    if (n < 0) {
        he_error("permutation: negative size %lld", (long long)n);
        return NULL;
    }
    he_tensor *r = tensor_alloc(HE_DT_INT, 0, 1, &n, false);
    if (!r) return NULL;
    for (int64_t k = 0; k < n; k++) r->data.i[k] = k;
    /* Fisher-Yates, each draw unbiased by rejection */
    for (int64_t k = n - 1; k > 0; k--) {
        uint64_t m = (uint64_t)k + 1, lim = UINT64_MAX - UINT64_MAX % m, x;
        do x = he_prng_u64(g);
        while (x >= lim);
        int64_t j = (int64_t)(x % m), tmp = r->data.i[k];
        r->data.i[k] = r->data.i[j];
        r->data.i[j] = tmp;
    }
    return r;
}

he_tensor *he_tensor_one_hot(const he_tensor *labels, int64_t k)
{
    if (labels->dtype != HE_DT_INT) {
        he_error("one_hot: labels must be an int tensor, not a %s tensor", DTYPE(labels));
        return NULL;
    }
    if (labels->ndim >= HE_MAXDIM) {
        he_error("one_hot: the result would have more than %d dimensions", HE_MAXDIM);
        return NULL;
    }
    for (int64_t j = 0; j < labels->size; j++)
        if (labels->data.i[j] < 0 || labels->data.i[j] >= k) {
            he_error("one_hot: label %lld out of range for %lld classes", (long long)labels->data.i[j], (long long)k);
            return NULL;
        }
    int64_t shape[HE_MAXDIM];
    memcpy(shape, labels->shape, sizeof shape);
    shape[labels->ndim] = k;
    he_tensor *r = tensor_alloc(HE_DT_FLOAT, 0, labels->ndim + 1, shape, true);
    if (!r) return NULL;
    for (int64_t j = 0; j < labels->size; j++) r->data.f[j * k + labels->data.i[j]] = 1.0;
    return r;
}

/* The element type a and b share in where(): their common type as for
** arithmetic (bool only with bool). */
static int common_dtype(const operand *A, const operand *B, int *dt, int *frac, const char *what)
{
    if (A->dt == B->dt && A->frac == B->frac) {
        *dt = A->dt;
        *frac = A->frac;
        return 0;
    }
    if (A->dt == HE_DT_BOOL || B->dt == HE_DT_BOOL) goto bad;
    if (A->dt == HE_DT_FLOAT || B->dt == HE_DT_FLOAT) {
        *dt = HE_DT_FLOAT;
        *frac = 0;
        return 0;
    }
    if (A->dt == HE_DT_FIXED && B->dt == HE_DT_FIXED) goto bad; /* different precision */
    *dt = HE_DT_FIXED;
    *frac = A->dt == HE_DT_FIXED ? A->frac : B->frac;
    return 0;
bad:
    return he_error("%s: cannot mix %s and %s", what, describe(A).s, describe(B).s);
}

he_tensor *he_tensor_where(const he_tensor *cond, he_value a, he_value b)
{
    if (cond->dtype != HE_DT_BOOL) {
        he_error("where: the condition must be a bool tensor, not a %s tensor", DTYPE(cond));
        return NULL;
    }
    operand A = {0}, B = {0}, C = {0};
    if (operand_from(a, &A) < 0 || operand_from(b, &B) < 0) {
        he_error("where: the values must be tensors or numbers, not %s and %s", he_typename(a), he_typename(b));
        return NULL;
    }
    operand_from(he_objv((he_obj *)&cond->obj), &C);
    int dt = 0, frac = 0, nd, nd2;
    int64_t sh[HE_MAXDIM], sh2[HE_MAXDIM];
    if (common_dtype(&A, &B, &dt, &frac, "where") < 0 || broadcast_shape(&A, &B, &nd, sh) < 0) return NULL;
    operand AB = {.ndim = nd, .shape = sh};
    if (broadcast_shape(&C, &AB, &nd2, sh2) < 0) return NULL;
    he_tensor *x = he_tensor_broadcast(a, (he_dtype)dt, frac, nd2, sh2, "where");
    he_tensor *y = x ? he_tensor_broadcast(b, (he_dtype)dt, frac, nd2, sh2, "where") : NULL;
    he_tensor *c = y ? he_tensor_broadcast(he_objv((he_obj *)&cond->obj), HE_DT_BOOL, 0, nd2, sh2, "where") : NULL;
    if (c)
        for (int64_t k = 0; k < x->size; k++)
            if (!c->data.i[k]) x->data.i[k] = y->data.i[k];
    tensor_drop(y);
    tensor_drop(c);
    if (!c) {
        tensor_drop(x);
        return NULL;
    }
    return x;
}

he_tensor *he_tensor_clip(const he_tensor *t, he_value lo, he_value hi)
{
    if (t->dtype == HE_DT_BOOL) {
        he_error("clip: needs numbers, not a bool tensor");
        return NULL;
    }
    /* the bounds in the tensor's element type (an int tensor needs int bounds) */
    int64_t l, h;
    if (value_to_slot(lo, (he_dtype)t->dtype, t->frac, &l, "clip") < 0 ||
        value_to_slot(hi, (he_dtype)t->dtype, t->frac, &h, "clip") < 0)
        return NULL;
    he_tensor *r = he_tensor_copy(t);
    if (!r) return NULL;
    if (t->dtype == HE_DT_FLOAT) {
        double fl, fh;
        memcpy(&fl, &l, 8);
        memcpy(&fh, &h, 8);
        if (!(fl <= fh)) goto bad;
        for (int64_t k = 0; k < r->size; k++) {
            double x = r->data.f[k];
            r->data.f[k] = x < fl ? fl : x > fh ? fh : x;
        }
    } else {
        if (l > h) goto bad;
        for (int64_t k = 0; k < r->size; k++) {
            int64_t x = r->data.i[k];
            r->data.i[k] = x < l ? l : x > h ? h : x;
        }
    }
    return r;
bad:
    tensor_drop(r);
    he_error("clip: the lower bound is above the upper bound");
    return NULL;
}

he_tensor *he_tensor_cumsum(const he_tensor *t, int axis)
{
    rplan p;
    if (t->dtype == HE_DT_BOOL) {
        he_error("cumsum: needs numbers, not a bool tensor");
        return NULL;
    }
    if (reduce_plan(t, axis, "cumsum", &p) < 0) return NULL;
    he_tensor *r = axis == HE_AXIS_ALL ? tensor_alloc((he_dtype)t->dtype, t->frac, 1, &t->size, false)
                                       : he_tensor_copy(t);
    if (!r) return NULL;
    if (axis == HE_AXIS_ALL && t->size) memcpy(r->data.i, t->data.i, (size_t)t->size * 8);
    int ovf = 0;
    for (int64_t o = 0; o < p.outer; o++)
        for (int64_t k = 1; k < p.n; k++)
            for (int64_t j = 0; j < p.inner; j++) {
                int64_t q = (o * p.n + k) * p.inner + j;
                if (t->dtype == HE_DT_FLOAT) r->data.f[q] += r->data.f[q - p.inner];
                else ovf |= __builtin_add_overflow(r->data.i[q], r->data.i[q - p.inner], &r->data.i[q]);
            }
    if (ovf) {
        he_error("%s overflow in cumsum", DTYPE(t));
        tensor_drop(r);
        return NULL;
    }
    return r;
}

he_tensor *he_tensor_stack(int n, he_tensor *const *ts, int axis)
{
    if (n < 1) {
        he_error("stack: needs at least one tensor");
        return NULL;
    }
    int nd = ts[0]->ndim;
    int ax = axis < 0 ? axis + nd + 1 : axis;
    if (ax < 0 || ax > nd || nd + 1 > HE_MAXDIM) {
        he_error("stack: axis %d out of range for %d-D tensors", axis, nd);
        return NULL;
    }
    for (int i = 1; i < n; i++) {
        bool same = ts[i]->ndim == nd;
        for (int d = 0; same && d < nd; d++) same = ts[i]->shape[d] == ts[0]->shape[d];
        if (!same) {
            he_error("stack: shapes %s and %s differ", SHAPE(ts[0]), SHAPE(ts[i]));
            return NULL;
        }
    }
    /* each tensor with a new axis of size 1, then joined along it */
    int64_t shape[HE_MAXDIM];
    for (int d = 0, e = 0; d <= nd; d++) shape[d] = d == ax ? 1 : ts[0]->shape[e++];
    he_tensor **v = he_malloc(sizeof *v * (size_t)n);
    if (!v) return NULL;
    int made = 0;
    for (; made < n; made++)
        if (!(v[made] = he_tensor_reshape(ts[made], nd + 1, shape))) break;
    he_tensor *r = made == n ? he_tensor_concat(n, v, ax) : NULL;
    for (int i = 0; i < made; i++) tensor_drop(v[i]);
    he_free(v);
    return r;
}

/* --- printing ---------------------------------------------------------------------- */

static int repr_elem(const he_tensor *t, int64_t k, he_buf *b)
{
    switch ((he_dtype)t->dtype) {
    case HE_DT_FLOAT: return he_buf_double(b, t->data.f[k]);
    case HE_DT_FIXED: return he_buf_double(b, he_fixed_to_double(t->data.i[k], t->frac));
    case HE_DT_BOOL: return he_buf_puts(b, t->data.i[k] ? "true" : "false");
    default: return he_buf_printf(b, "%lld", (long long)t->data.i[k]);
    }
}

static int repr_rec(const he_tensor *t, const int64_t *stride, int d, int64_t off, bool abbrev, he_buf *b)
{
    if (d == t->ndim) return repr_elem(t, off, b);
    if (he_buf_puts(b, "[") < 0) return -1;
    int64_t dim = t->shape[d];
    for (int64_t i = 0; i < dim; i++) {
        if (abbrev && dim > 6 && i == 3) {
            if (he_buf_puts(b, ", ...") < 0) return -1;
            i = dim - 3;
        }
        if (i && he_buf_puts(b, ", ") < 0) return -1;
        if (repr_rec(t, stride, d + 1, off + i * stride[d], abbrev, b) < 0) return -1;
    }
    return he_buf_puts(b, "]");
}

int he_tensor_repr(const he_tensor *t, he_buf *out)
{
    /* an empty tensor such as [2^24, 2^24, 0] abbreviates too: the count
    ** of brackets printed is the product of the dimensions that are not 0 */
    int64_t stride[HE_MAXDIM], st = 1, lists = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = st;
        st *= t->shape[d];
        if (t->shape[d]) lists *= t->shape[d];
    }
    return repr_rec(t, stride, 0, 0, t->size > 1000 || lists > 1000, out);
}

/* --- the object type ------------------------------------------------------------------ */

static void tensor_free(he_obj *o) { tensor_drop((he_tensor *)o); }

static int tensor_repr_hook(const he_obj *o, he_buf *out) { return he_tensor_repr((const he_tensor *)o, out); }

static int tensor_binop_hook(he_op op, he_value a, he_value b, he_value *out)
{
    if ((a.tag == HE_OBJ && !he_is_tensor(a)) || (b.tag == HE_OBJ && !he_is_tensor(b))) return 1;
    return he_tensor_binop(op, a, b, out);
}

static int tensor_unop_hook(he_op op, he_value a, he_value *out)
{
    he_tensor *r = he_tensor_unop(op, he_as_tensor(a));
    if (!r) return -1;
    *out = tensor_value(r);
    return 0;
}

static int tensor_len_hook(const he_obj *o, int64_t *n)
{
    const he_tensor *t = (const he_tensor *)o;
    if (t->ndim == 0) return he_error("len() of a 0-D tensor");
    *n = t->shape[0];
    return 0;
}

const he_type he_tensor_type = {
    .name = "tensor",
    .free = tensor_free,
    .repr = tensor_repr_hook,
    .binop = tensor_binop_hook,
    .unop = tensor_unop_hook,
    .len = tensor_len_hook,
};
