/*
** modules/nnops.c: `import nnops`: the plaintext layers of convolutional
** networks, with their gradients, on float tensors (channels first, as
** smpc.conv2d and smpc.avgpool):
**
**   let y = nnops.conv2d(x, w)               # x (N, C, H, W) or (C, H, W), w (OC, C, KH, KW)
**   let y = nnops.conv2d(x, w, 2, 1)         # stride 2, zero padding 1
**   let dx = nnops.conv2d_grad_input(x, w, dy [, stride [, pad]])    # shape of x
**   let dw = nnops.conv2d_grad_kernel(x, w, dy [, stride [, pad]])   # shape of w
**   let p = nnops.avgpool2d(x, 2)            # k x k windows, stride k (or given)
**   let dx = nnops.avgpool2d_grad(x, dy, 2 [, stride])               # shape of x
**
** Output size: OH = (H + 2 pad - KH) / stride + 1 (floor, as Keras'
** "valid"), the same for W; pooling OH = (H - k) / stride + 1, the rows and
** columns past the last whole window ignored. The convolution is a
** cross-correlation (no kernel flip), as in every framework. No bias: add
** reshape(b, [1, OC, 1, 1]), its gradient is the sum of dy over N, H, W.
**
** Method: im2col. The image batch becomes the matrix col (C KH KW x N OH OW),
** one column per output position; then y = W (OC x C KH KW) @ col,
** dW = dY @ col^T and dcol = W^T @ dY, scattered back onto dx (col2im), the
** products by the tensor library's blocked matrix product (he_tensor_matmul).
** Int and fixed inputs are converted to float first; results are float.
*/
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "modutil.h"

/* --- arguments -------------------------------------------------------------------------- */
/* A float tensor of the right rank; *tmp is a converted copy to release (or NULL). */
static int want_tensor(he_value v, const char *fn, const char *what, int rmin, int rmax, he_tensor **t, he_tensor **tmp)
{
    *tmp = NULL;
    if (!he_is_tensor(v)) return he_error("nnops.%s: %s must be a tensor, got %s", fn, what, he_typename(v));
    he_tensor *x = he_as_tensor(v);
    if (x->ndim < rmin || x->ndim > rmax) {
        if (rmin == rmax) return he_error("nnops.%s: %s must have %d axes, got %d", fn, what, rmin, x->ndim);
        return he_error("nnops.%s: %s must have %d to %d axes, got %d", fn, what, rmin, rmax, x->ndim);
    }
    if (x->dtype == HE_DT_BOOL) return he_error("nnops.%s: %s must be a float tensor, got bool", fn, what);
    if (x->dtype != HE_DT_FLOAT) {
        x = he_tensor_astype(x, HE_DT_FLOAT, 0);
        if (!x) return -1;
        *tmp = x;
    }
    *t = x;
    return 0;
}

static int want_int(he_value *a, int n, int i, const char *fn, const char *what, int64_t def, int64_t lo,
                    int64_t *out)
{
    *out = def;
    if (i >= n) return 0;
    if (a[i].tag != HE_INT) return he_error("nnops.%s: %s must be an int, got %s", fn, what, he_typename(a[i]));
    if (a[i].as.i < lo || a[i].as.i > 1 << 20)
        return he_error("nnops.%s: %s must be between %lld and %d, got %lld", fn, what, (long long)lo, 1 << 20,
                        (long long)a[i].as.i);
    *out = a[i].as.i;
    return 0;
}

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

/* --- the convolution's geometry ------------------------------------------------------------ */
typedef struct geom {
    int batched;             /* x has 4 axes */
    int64_t N, C, H, W;      /* input */
    int64_t OC, KH, KW;      /* kernel */
    int64_t s, pad;
    int64_t OH, OW, P, CKK;  /* P = OH OW, CKK = C KH KW */
} geom;

static int geom_of(geom *g, const char *fn, const he_tensor *x, const he_tensor *w, int64_t s, int64_t pad)
{
    g->batched = x->ndim == 4;
    g->N = g->batched ? x->shape[0] : 1;
    g->C = x->shape[g->batched];
    g->H = x->shape[g->batched + 1];
    g->W = x->shape[g->batched + 2];
    g->OC = w->shape[0];
    g->KH = w->shape[2];
    g->KW = w->shape[3];
    g->s = s;
    g->pad = pad;
    if (w->shape[1] != g->C)
        return he_error("nnops.%s: the input has %lld channels, the kernel is for %lld", fn, (long long)g->C,
                        (long long)w->shape[1]);
    if (g->KH < 1 || g->KW < 1 || g->OC < 1) return he_error("nnops.%s: empty kernel", fn);
    if (g->H + 2 * pad < g->KH || g->W + 2 * pad < g->KW)
        return he_error("nnops.%s: kernel %lldx%lld larger than the (padded) image %lldx%lld", fn, (long long)g->KH,
                        (long long)g->KW, (long long)(g->H + 2 * pad), (long long)(g->W + 2 * pad));
    g->OH = (g->H + 2 * pad - g->KH) / s + 1;
    g->OW = (g->W + 2 * pad - g->KW) / s + 1;
    g->P = g->OH * g->OW;
    g->CKK = g->C * g->KH * g->KW;
    if (g->N < 1 || g->C < 1) return he_error("nnops.%s: empty input", fn);
    return 0;
}

/* dy must have the output's shape. */
static int check_dy(const geom *g, const char *fn, const he_tensor *dy)
{
    int64_t want[4] = {g->N, g->OC, g->OH, g->OW};
    const int64_t *w = g->batched ? want : want + 1;
    int nd = g->batched ? 4 : 3;
    bool ok = dy->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = dy->shape[i] == w[i];
    if (!ok) {
        he_buf b = {0};
        he_buf_puts(&b, "[");
        for (int i = 0; i < nd; i++) he_buf_printf(&b, "%s%lld", i ? ", " : "", (long long)w[i]);
        he_buf_puts(&b, "]");
        int rc = he_error("nnops.%s: the output gradient must have the output's shape %s", fn, b.data ? b.data : "");
        he_buf_free(&b);
        return rc;
    }
    return 0;
}

/* col (CKK x N P): col[(c KH + ky) KW + kx, n P + oy OW + ox] = x[n, c, oy s + ky - pad, ox s + kx - pad]. */
static he_tensor *im2col(const geom *g, const double *x)
{
    int64_t shape[2] = {g->CKK, g->N * g->P};
    he_tensor *col = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
    if (!col) return NULL;
    int64_t NP = g->N * g->P;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->KH; ky++)
            for (int64_t kx = 0; kx < g->KW; kx++) {
                double *row = col->data.f + ((c * g->KH + ky) * g->KW + kx) * NP;
                for (int64_t n = 0; n < g->N; n++) {
                    const double *plane = x + (n * g->C + c) * g->H * g->W;
                    for (int64_t oy = 0; oy < g->OH; oy++) {
                        int64_t iy = oy * g->s + ky - g->pad;
                        double *dst = row + n * g->P + oy * g->OW;
                        if (iy < 0 || iy >= g->H) continue; /* zeros already */
                        const double *src = plane + iy * g->W;
                        for (int64_t ox = 0; ox < g->OW; ox++) {
                            int64_t ix = ox * g->s + kx - g->pad;
                            if (ix >= 0 && ix < g->W) dst[ox] = src[ix];
                        }
                    }
                }
            }
    return col;
}

/* dx[n, c, iy, ix] += dcol[...]: the adjoint of im2col. */
static void col2im(const geom *g, const double *dcol, double *dx)
{
    int64_t NP = g->N * g->P;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->KH; ky++)
            for (int64_t kx = 0; kx < g->KW; kx++) {
                const double *row = dcol + ((c * g->KH + ky) * g->KW + kx) * NP;
                for (int64_t n = 0; n < g->N; n++) {
                    double *plane = dx + (n * g->C + c) * g->H * g->W;
                    for (int64_t oy = 0; oy < g->OH; oy++) {
                        int64_t iy = oy * g->s + ky - g->pad;
                        if (iy < 0 || iy >= g->H) continue;
                        const double *src = row + n * g->P + oy * g->OW;
                        double *dst = plane + iy * g->W;
                        for (int64_t ox = 0; ox < g->OW; ox++) {
                            int64_t ix = ox * g->s + kx - g->pad;
                            if (ix >= 0 && ix < g->W) dst[ix] += src[ox];
                        }
                    }
                }
            }
}

/* A 2-D float tensor (rows x cols) holding a copy of data. */
static he_tensor *mat_of(const double *data, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
    if (t) memcpy(t->data.f, data, sizeof(double) * (size_t)(rows * cols));
    return t;
}

/* dy (N, OC, P) as the matrix (OC x N P). */
static he_tensor *dy_matrix(const geom *g, const double *dy)
{
    int64_t shape[2] = {g->OC, g->N * g->P};
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
    if (!t) return NULL;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->OC; o++)
            memcpy(t->data.f + o * g->N * g->P + n * g->P, dy + (n * g->OC + o) * g->P, sizeof(double) * (size_t)g->P);
    return t;
}

/* a @ b as a new tensor, or NULL. */
static he_tensor *matmul(const he_tensor *a, const he_tensor *b)
{
    he_value r;
    if (he_tensor_matmul(a, b, &r) < 0) return NULL;
    return he_as_tensor(r); /* 2-D @ 2-D: always a tensor */
}

enum { CONV_FWD, CONV_DX, CONV_DW };

/* conv2d(x, w [, s [, pad]]), conv2d_grad_input(x, w, dy [, s [, pad]]),
** conv2d_grad_kernel(x, w, dy [, s [, pad]]). */
static int conv(he_value *a, int n, int what, he_value *out)
{
    static const char *const names[] = {"conv2d", "conv2d_grad_input", "conv2d_grad_kernel"};
    const char *fn = names[what];
    int k = what == CONV_FWD ? 2 : 3; /* index of the stride */
    he_tensor *x, *w, *dy = NULL, *tx, *tw, *tdy = NULL;
    he_tensor *col = NULL, *wm = NULL, *wt = NULL, *dym = NULL, *res = NULL, *r = NULL;
    int64_t s, pad;
    geom g;
    int rc = -1;
    if (want_tensor(a[0], fn, "the input", 3, 4, &x, &tx) < 0) return -1;
    if (want_tensor(a[1], fn, "the kernel", 4, 4, &w, &tw) < 0) goto done;
    if (what != CONV_FWD && want_tensor(a[2], fn, "the output gradient", 3, 4, &dy, &tdy) < 0) goto done;
    if (want_int(a, n, k, fn, "the stride", 1, 1, &s) < 0 || want_int(a, n, k + 1, fn, "the padding", 0, 0, &pad) < 0 ||
        geom_of(&g, fn, x, w, s, pad) < 0)
        goto done;
    if (dy && check_dy(&g, fn, dy) < 0) goto done;

    if (what == CONV_FWD || what == CONV_DW) {
        if (!(col = im2col(&g, x->data.f))) goto done;
    }
    if (what == CONV_FWD) {
        if (!(wm = mat_of(w->data.f, g.OC, g.CKK)) || !(res = matmul(wm, col))) goto done; /* OC x N P */
        int64_t shape[4] = {g.N, g.OC, g.OH, g.OW};
        if (!(r = he_tensor_new(HE_DT_FLOAT, 0, g.batched ? 4 : 3, g.batched ? shape : shape + 1))) goto done;
        for (int64_t i = 0; i < g.N; i++)
            for (int64_t o = 0; o < g.OC; o++)
                memcpy(r->data.f + (i * g.OC + o) * g.P, res->data.f + o * g.N * g.P + i * g.P, sizeof(double) * (size_t)g.P);
    } else if (what == CONV_DW) {
        if (!(dym = dy_matrix(&g, dy->data.f)) || !(wt = he_tensor_transpose(col)) || !(res = matmul(dym, wt)))
            goto done; /* OC x CKK */
        if (!(r = he_tensor_new(HE_DT_FLOAT, 0, 4, w->shape))) goto done;
        memcpy(r->data.f, res->data.f, sizeof(double) * (size_t)(g.OC * g.CKK));
    } else {
        if (!(dym = dy_matrix(&g, dy->data.f)) || !(wm = mat_of(w->data.f, g.OC, g.CKK)) ||
            !(wt = he_tensor_transpose(wm)) || !(res = matmul(wt, dym)))
            goto done; /* CKK x N P */
        if (!(r = he_tensor_new(HE_DT_FLOAT, 0, x->ndim, x->shape))) goto done;
        col2im(&g, res->data.f, r->data.f);
    }
    *out = he_objv(&r->obj);
    r = NULL;
    rc = 0;
done:
    drop(r);
    drop(res);
    drop(dym);
    drop(wt);
    drop(wm);
    drop(col);
    drop(tdy);
    drop(tw);
    drop(tx);
    return rc;
}

static int f_conv2d(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return conv(a, n, CONV_FWD, out); }
static int f_conv2d_grad_input(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return conv(a, n, CONV_DX, out); }
static int f_conv2d_grad_kernel(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return conv(a, n, CONV_DW, out); }

/* --- average pooling ------------------------------------------------------------------------------ */
/* avgpool2d(x, k [, s]) and avgpool2d_grad(x, dy, k [, s]). */
static int pool(he_value *a, int n, bool grad, he_value *out)
{
    const char *fn = grad ? "avgpool2d_grad" : "avgpool2d";
    he_tensor *x, *tx, *dy = NULL, *tdy = NULL, *r = NULL;
    int64_t k, s;
    int ki = grad ? 2 : 1, rc = -1;
    if (want_tensor(a[0], fn, "the input", 3, 4, &x, &tx) < 0) return -1;
    if (grad && want_tensor(a[1], fn, "the output gradient", 3, 4, &dy, &tdy) < 0) goto done;
    if (ki >= n) {
        he_error("nnops.%s: the window size is missing", fn);
        goto done;
    }
    if (want_int(a, n, ki, fn, "the window size", 1, 1, &k) < 0 || want_int(a, n, ki + 1, fn, "the stride", k, 1, &s) < 0)
        goto done;
    int d = x->ndim;
    int64_t H = x->shape[d - 2], W = x->shape[d - 1];
    if (H < k || W < k) {
        he_error("nnops.%s: window %lldx%lld larger than the image %lldx%lld", fn, (long long)k, (long long)k,
                 (long long)H, (long long)W);
        goto done;
    }
    int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1, planes = x->size / (H * W);
    int64_t oshape[4];
    for (int i = 0; i < d; i++) oshape[i] = x->shape[i];
    oshape[d - 2] = OH;
    oshape[d - 1] = OW;
    if (grad) {
        bool ok = dy->ndim == d;
        for (int i = 0; ok && i < d; i++) ok = dy->shape[i] == oshape[i];
        if (!ok) {
            he_error("nnops.%s: the output gradient must have the pooled shape (%lld planes of %lldx%lld)", fn,
                     (long long)planes, (long long)OH, (long long)OW);
            goto done;
        }
    }
    if (!(r = grad ? he_tensor_new(HE_DT_FLOAT, 0, d, x->shape) : he_tensor_new(HE_DT_FLOAT, 0, d, oshape))) goto done;
    double inv = 1.0 / (double)(k * k);
    for (int64_t p = 0; p < planes; p++) {
        const double *src = x->data.f + p * H * W;
        double *dst = r->data.f + (grad ? p * H * W : p * OH * OW);
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                if (grad) {
                    double gv = dy->data.f[p * OH * OW + oy * OW + ox] * inv;
                    for (int64_t dy_ = 0; dy_ < k; dy_++)
                        for (int64_t dx_ = 0; dx_ < k; dx_++) dst[(oy * s + dy_) * W + ox * s + dx_] += gv;
                } else {
                    double acc = 0;
                    for (int64_t dy_ = 0; dy_ < k; dy_++)
                        for (int64_t dx_ = 0; dx_ < k; dx_++) acc += src[(oy * s + dy_) * W + ox * s + dx_];
                    dst[oy * OW + ox] = acc * inv;
                }
            }
    }
    *out = he_objv(&r->obj);
    r = NULL;
    rc = 0;
done:
    drop(r);
    drop(tdy);
    drop(tx);
    return rc;
}

static int f_avgpool2d(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return pool(a, n, false, out); }
static int f_avgpool2d_grad(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; return pool(a, n, true, out); }

/* --- static rules ------------------------------------------------------------------------------------ */

/* A numeric tensor of the given rank range (or not known statically). */
static bool want_ttype(checker *c, node *at, type *t, const char *fn, const char *what, int rmin, int rmax)
{
    if (t->kind == T_ANY) return true;
    if (t->kind != T_TENSOR || t->elem == T_BOOL) {
        ck_error(c, at, "nnops.%s: %s must be a float tensor, got %s", fn, what, ty_str_of(t));
        return false;
    }
    if (t->rank >= 0 && (t->rank < rmin || t->rank > rmax)) {
        if (rmin == rmax) ck_error(c, at, "nnops.%s: %s must have %d axes, got %s", fn, what, rmin, ty_str_of(t));
        else ck_error(c, at, "nnops.%s: %s must have %d to %d axes, got %s", fn, what, rmin, rmax, ty_str_of(t));
        return false;
    }
    return true;
}

static void want_itype(checker *c, node *at, type *t, const char *fn, const char *what)
{
    if (t->kind != T_INT && t->kind != T_ANY) ck_error(c, at, "nnops.%s: %s must be an int, got %s", fn, what, ty_str_of(t));
}

/* An int literal argument, or -1 when not constant. */
static int64_t const_int(node **a, int n, int i, int64_t def)
{
    if (i >= n) return def;
    return a[i]->kind == N_INT ? a[i]->ival : -1;
}

static int64_t known(const type *t, int i) { return t->kind == T_TENSOR && t->rank > i ? t->dims[i] : DIM_ANY; }

static type *r_conv(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    bool fwd = strcmp(fn, "conv2d") == 0, dx = strcmp(fn, "conv2d_grad_input") == 0;
    int k = fwd ? 2 : 3;
    bool ok = want_ttype(c, a[0], t[0], fn, "the input", 3, 4);
    ok = want_ttype(c, a[1], t[1], fn, "the kernel", 4, 4) && ok;
    if (!fwd) ok = want_ttype(c, a[2], t[2], fn, "the output gradient", 3, 4) && ok;
    for (int i = k; i < n; i++) want_itype(c, a[i], t[i], fn, i == k ? "the stride" : "the padding");
    if (!ok) return ty_any;
    if (!fwd) {
        const type *like = dx ? t[0] : t[1];
        if (like->kind == T_TENSOR && like->rank >= 0) return ty_tensor(T_FLOAT, 0, like->rank, like->dims);
        return dx ? ty_tensor(T_FLOAT, 0, -1, NULL) : ty_tensor(T_FLOAT, 0, 4, NULL);
    }
    if (t[0]->kind != T_TENSOR || t[0]->rank < 0) return ty_tensor(T_FLOAT, 0, -1, NULL);
    int r = t[0]->rank, b = r == 4;
    int64_t dims[4] = {DIM_ANY, DIM_ANY, DIM_ANY, DIM_ANY};
    if (b) dims[0] = t[0]->dims[0];
    dims[b] = known(t[1], 0);
    int64_t C = t[0]->dims[b], KC = known(t[1], 1);
    if (C != DIM_ANY && KC != DIM_ANY && C != KC) {
        ck_error(c, a[1], "nnops.conv2d: the input has %lld channels, the kernel is for %lld", (long long)C, (long long)KC);
        return ty_any;
    }
    int64_t s = const_int(a, n, k, 1), pad = const_int(a, n, k + 1, 0);
    for (int i = 0; i < 2; i++) {
        int64_t H = t[0]->dims[b + 1 + i], KH = known(t[1], 2 + i);
        if (H != DIM_ANY && KH != DIM_ANY && s >= 1 && pad >= 0 && H + 2 * pad >= KH)
            dims[b + 1 + i] = (H + 2 * pad - KH) / s + 1;
    }
    return ty_tensor(T_FLOAT, 0, r, dims);
}

static type *r_pool(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    bool grad = strcmp(fn, "avgpool2d_grad") == 0;
    int ki = grad ? 2 : 1;
    bool ok = want_ttype(c, a[0], t[0], fn, "the input", 3, 4);
    if (grad) ok = want_ttype(c, a[1], t[1], fn, "the output gradient", 3, 4) && ok;
    if (n <= ki) {
        ck_error(c, call, "nnops.%s: the window size is missing", fn);
        return ty_any;
    }
    for (int i = ki; i < n; i++) want_itype(c, a[i], t[i], fn, i == ki ? "the window size" : "the stride");
    if (!ok) return ty_any;
    if (t[0]->kind != T_TENSOR || t[0]->rank < 0) return ty_tensor(T_FLOAT, 0, -1, NULL);
    if (grad) return ty_tensor(T_FLOAT, 0, t[0]->rank, t[0]->dims);
    int r = t[0]->rank;
    int64_t dims[4];
    for (int i = 0; i < r; i++) dims[i] = t[0]->dims[i];
    int64_t k = const_int(a, n, ki, -1), s = const_int(a, n, ki + 1, k);
    for (int i = r - 2; i < r; i++)
        dims[i] = dims[i] != DIM_ANY && k >= 1 && s >= 1 && dims[i] >= k ? (dims[i] - k) / s + 1 : DIM_ANY;
    return ty_tensor(T_FLOAT, 0, r, dims);
}

static const builtin fns[] = {
    {"conv2d", NULL, 2, 4, f_conv2d, r_conv,
     "conv2d(x, w [, stride [, pad]]): x (N, C, H, W) or (C, H, W), w (OC, C, KH, KW): (N, OC, OH, OW), no bias"},
    {"conv2d_grad_input", NULL, 3, 5, f_conv2d_grad_input, r_conv,
     "conv2d_grad_input(x, w, dy [, stride [, pad]]): the gradient w.r.t. x of sum(conv2d(x, w) * dy)"},
    {"conv2d_grad_kernel", NULL, 3, 5, f_conv2d_grad_kernel, r_conv,
     "conv2d_grad_kernel(x, w, dy [, stride [, pad]]): the gradient w.r.t. w of sum(conv2d(x, w) * dy)"},
    {"avgpool2d", NULL, 2, 3, f_avgpool2d, r_pool, "avgpool2d(x, k [, stride]): k x k average pooling (stride k) of (C, H, W) or (N, C, H, W)"},
    {"avgpool2d_grad", NULL, 3, 4, f_avgpool2d_grad, r_pool,
     "avgpool2d_grad(x, dy, k [, stride]): the gradient w.r.t. x of sum(avgpool2d(x, k) * dy)"},
};

const native_module he_mod_nnops = {
    .name = "nnops",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
