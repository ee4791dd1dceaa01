/*
** modules/ivhe.c: `import ivhe`: Integer Vector HE keys and ciphertexts as values.
**
**   let k = ivhe.keygen(4)                  # max dimension 4, defaults otherwise
**   let v = ivhe.encrypt(k, [0.5, -1.0, 2.0])       # an encrypted vector
**   let W = ivhe.encrypt(k, [[1.0, 0.0], [0.0, 1.0]]) # an encrypted matrix (rows)
**   let s = v @ v                           # inner product: an encrypted scalar
**   ivhe.decrypt(k, ivhe.sigmoid(v * 0.5 + 1.0))
**
** NOT SECURE: the scheme is for learning, not protection (see
** runtime/ivhe/ivhe.h); the first key a script creates prints the warning
** line of he_ivhe_warning() on stderr.
**
** A value of type cipher<ivhe> is an encrypted scalar, vector (one IVHE
** ciphertext of dimension n) or matrix (one ciphertext per row, any number
** of rows, each of dimension cols). Values are fixed point at the key's
** scale (default 1000): x is encrypted as round(x * scale); every product
** of two ciphertexts is divided by the scale again. Operators:
**   + -        ciphertext and ciphertext (same shape; a scalar broadcasts
**              over a vector or matrix, a vector over the rows of a matrix),
**              ciphertext and plaintext (number, 1-D or 2-D tensor), unary -
**   *          by a plaintext number (no key switching), element-wise by a
**              ciphertext or a plaintext tensor (the tensor is encrypted),
**              encrypted scalar times vector or matrix
**   /          by a plaintext number only
**   @          vector @ vector (inner product), matrix @ vector, vector @
**              matrix, matrix @ matrix, with either side plaintext; a
**              plaintext vector or matrix on the left of an encrypted matrix
**              is a linear combination of its rows (additions only, the
**              cheap way to apply an encrypted layer to plain inputs)
**   < == ...   refused: a comparison of ciphertexts has no encrypted result
** What the scheme cannot do is a compile-time error when the types are known.
** Dimension limits: a vector's dimension (a matrix's number of columns) is at
** most the key's max_dim; so is the number of rows of a matrix used on the
** left of '@' with an encrypted vector, or transposed.
*/
#include <gmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "modutil.h"
#include "ivhe/ivhe.h"

#define FRAC_DEN (1LL << 30) /* plaintext factors are rounded to 2^-30 */
#define CT_NAME "cipher<ivhe>"
#define KEY_NAME "ivhe_key"

/* --- the key object ----------------------------------------------------------------- */
typedef struct ikey {
    he_obj obj;
    he_ivhe_key *k;
    int64_t sf;
    unsigned max_dim;
} ikey;

static void ikey_free(he_obj *o)
{
    ikey *k = (ikey *)o;
    he_ivhe_key_free(k->k); /* wipes */
    free(k);
}

static int ikey_repr(const he_obj *o, he_buf *b)
{
    const ikey *k = (const ikey *)o;
    const he_ivhe_params *p = he_ivhe_key_params(k->k);
    return he_buf_printf(b, "<ivhe key, max dim %u, w %llu, l %u, scale %lld>", p->max_dim,
                         (unsigned long long)p->w, p->l, (long long)p->scale);
}

static const he_type ikey_type = {.name = KEY_NAME, .free = ikey_free, .repr = ikey_repr};

/* --- the ciphertext object ------------------------------------------------------------ */
enum { K_SCALAR, K_VECTOR, K_MATRIX };

typedef struct ict {
    he_obj obj;
    ikey *key;      /* retained */
    int kind;
    unsigned rows;  /* 1 unless a matrix */
    unsigned cols;  /* dimension of each ciphertext (1 for a scalar) */
    he_ivhe_ct *c[];
} ict;

static const he_type ict_type;

static void ict_free(he_obj *o)
{
    ict *c = (ict *)o;
    for (unsigned i = 0; i < c->rows; i++) he_ivhe_ct_free(c->c[i]);
    he_release(he_objv(&c->key->obj));
    free(c);
}

static int ict_repr(const he_obj *o, he_buf *b)
{
    const ict *c = (const ict *)o;
    if (c->kind == K_SCALAR) return he_buf_printf(b, "<cipher ivhe>");
    if (c->kind == K_VECTOR) return he_buf_printf(b, "<cipher ivhe [%u]>", c->cols);
    return he_buf_printf(b, "<cipher ivhe [%u, %u]>", c->rows, c->cols);
}

static int ict_len(const he_obj *o, int64_t *n)
{
    const ict *c = (const ict *)o;
    if (c->kind == K_SCALAR) return he_error("len: an encrypted scalar has no length");
    *n = c->kind == K_MATRIX ? c->rows : c->cols;
    return 0;
}

static void drop(ict *c)
{
    if (c) he_release(he_objv(&c->obj));
}

/* The result r of a step that returned rc: stored in *out, or dropped on failure. */
static int put(ict *r, int rc, he_value *out)
{
    if (rc < 0 || !r) {
        drop(r);
        return -1;
    }
    *out = he_objv(&r->obj);
    return 0;
}

static ict *ict_new(ikey *key, int kind, unsigned rows, unsigned cols)
{
    if (cols > key->max_dim)
        return he_error("ivhe: dimension %u exceeds the key's max_dim %u (ivhe.keygen(max_dim))", cols, key->max_dim),
               NULL;
    size_t bytes;
    if (he_mul_size(rows, sizeof(he_ivhe_ct *), &bytes) < 0) return NULL;
    ict *c = he_malloc(sizeof *c + bytes);
    if (!c) return NULL;
    he_obj_init(&c->obj, &ict_type);
    c->key = key;
    key->obj.rc++;
    c->kind = kind;
    c->rows = 0;
    c->cols = cols;
    for (unsigned i = 0; i < rows; i++) {
        c->c[i] = he_ivhe_ct_new(cols);
        if (!c->c[i]) {
            drop(c);
            return NULL;
        }
        c->rows = i + 1;
    }
    c->rows = rows;
    return c;
}

/* Ciphertexts under one key (a key loaded from a file is the key it was saved from). */
static bool same_key(const ict *a, const ict *b)
{
    return a->key == b->key || he_ivhe_same_key(a->key->k, b->key->k);
}

/* A new value of the same shape as a. */
static ict *like(const ict *a) { return ict_new(a->key, a->kind, a->rows, a->cols); }

static int64_t fx(const ikey *k, double x, int *err)
{
    double v = nearbyint(x * (double)k->sf);
    if (!isfinite(v) || fabs(v) > 9.0e18) {
        *err = 1;
        return 0;
    }
    return (int64_t)v;
}

/* --- plaintext operands ---------------------------------------------------------------- */
/* A number as a double; false if v is not a number. */
static bool num_of(he_value v, double *x)
{
    switch (v.tag) {
    case HE_INT: *x = (double)v.as.i; return true;
    case HE_FLOAT: *x = v.as.f; return true;
    case HE_FIXED: *x = he_fixed_to_double(v.as.i, v.frac); return true;
    default: return false;
    }
}

/* Element i of a numeric tensor as a double. */
static double tget(const he_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case HE_DT_FLOAT: return t->data.f[i];
    case HE_DT_FIXED: return he_fixed_to_double(t->data.i[i], t->frac);
    default: return (double)t->data.i[i];
    }
}

static int want_plain_tensor(he_value v, const char *what, he_tensor **t)
{
    if (!he_is_tensor(v)) return he_error("ivhe: %s: expected a tensor, got %s", what, he_typename(v));
    *t = he_as_tensor(v);
    if ((*t)->dtype == HE_DT_BOOL) return he_error("ivhe: %s: cannot use a bool tensor", what);
    if ((*t)->ndim < 1 || (*t)->ndim > 2) return he_error("ivhe: %s: tensors must be 1-D or 2-D, not %d-D", what, (*t)->ndim);
    return 0;
}

/* Encrypts a number, a 1-D or a 2-D tensor. */
static ict *encrypt_value(ikey *key, he_value v)
{
    double x = 0;
    if (num_of(v, &x)) {
        ict *c = ict_new(key, K_SCALAR, 1, 1);
        if (c && he_ivhe_encrypt_fixed(key->k, c->c[0], &x, 1) < 0) {
            drop(c);
            return NULL;
        }
        return c;
    }
    he_tensor *t = NULL;
    if (want_plain_tensor(v, "encrypt", &t) < 0) return NULL;
    unsigned rows = t->ndim == 2 ? (unsigned)t->shape[0] : 1, cols = (unsigned)t->shape[t->ndim - 1];
    if (t->shape[0] > UINT32_MAX / 2 || cols == 0) return he_error("ivhe: cannot encrypt an empty tensor"), NULL;
    if (rows == 0) return he_error("ivhe: cannot encrypt a matrix of no rows"), NULL;
    ict *c = ict_new(key, t->ndim == 2 ? K_MATRIX : K_VECTOR, rows, cols);
    if (!c) return NULL;
    double *buf = malloc(sizeof(double) * cols);
    int rc = buf ? 0 : he_error("out of memory");
    for (unsigned i = 0; rc == 0 && i < rows; i++) {
        for (unsigned j = 0; j < cols; j++) buf[j] = tget(t, (int64_t)i * cols + j);
        rc = he_ivhe_encrypt_fixed(key->k, c->c[i], buf, cols);
    }
    free(buf);
    if (rc < 0) {
        drop(c);
        return NULL;
    }
    return c;
}

/* --- element-wise helpers ----------------------------------------------------------------- */
/* Broadcast an encrypted scalar to a vector of dimension n: s * (1, ..., 1). */
static ict *expand(const ict *s, unsigned n)
{
    ict *r = ict_new(s->key, K_VECTOR, 1, n);
    if (!r) return NULL;
    he_ivhe_ct *ones = he_ivhe_ct_new(n);
    int rc = ones ? he_ivhe_ones(s->key->k, ones, n, s->key->sf) : -1;
    if (rc == 0) rc = he_ivhe_mul_scalar(s->key->k, r->c[0], s->c[0], ones, s->key->sf);
    he_ivhe_ct_free(ones);
    if (rc < 0) {
        drop(r);
        return NULL;
    }
    return r;
}

/* The shape the user sees, for messages: [] a number, [n] a vector, [r, n] a matrix. */
static he_shapestr ishape(const ict *c)
{
    int64_t sh[2] = {c->rows, c->cols};
    return c->kind == K_MATRIX ? he_shape_str(2, sh) : he_shape_str(c->kind == K_VECTOR, sh + 1);
}

/* Brings a and b to the shape of the larger (scalar < vector < matrix rows);
** on success *x and *y are new references. */
static int broadcast(ict *a, ict *b, ict **x, ict **y)
{
    *x = *y = NULL;
    if (!same_key(a, b)) return he_error("ivhe: ciphertexts under different keys");
    if (a->kind == b->kind) {
        if (a->cols != b->cols || a->rows != b->rows)
            return he_error("ivhe: shape mismatch: %s and %s", ishape(a).s, ishape(b).s);
        a->obj.rc++;
        b->obj.rc++;
        *x = a;
        *y = b;
        return 0;
    }
    bool swap = a->kind > b->kind;
    ict *lo = swap ? b : a, *hi = swap ? a : b;
    ict *e;
    if (lo->kind == K_SCALAR) e = expand(lo, hi->cols);
    else if (lo->cols == hi->cols) {
        e = lo;
        lo->obj.rc++;
    } else return he_error("ivhe: shape mismatch: %s and %s", ishape(a).s, ishape(b).s);
    if (!e) return -1;
    hi->obj.rc++;
    *x = swap ? hi : e;
    *y = swap ? e : hi;
    return 0;
}

static const he_ivhe_ct *row_of(const ict *c, unsigned i) { return c->c[c->rows == 1 ? 0 : i]; }

static int add_sub_ct(he_op op, ict *a, ict *b, he_value *out)
{
    ict *x, *y;
    if (broadcast(a, b, &x, &y) < 0) return -1;
    ict *big = x->kind >= y->kind ? x : y;
    ict *r = like(big);
    int rc = r ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < big->rows; i++)
        rc = op == HE_OP_ADD ? he_ivhe_add(r->c[i], row_of(x, i), row_of(y, i))
                             : he_ivhe_sub(r->c[i], row_of(x, i), row_of(y, i));
    drop(x);
    drop(y);
    return put(r, rc, out);
}

/* Element-wise product (a scalar broadcasts through the cheaper scalar product). */
static int mul_ct(ict *a, ict *b, he_value *out)
{
    if (!same_key(a, b)) return he_error("ivhe: ciphertexts under different keys");
    he_ivhe_key *k = a->key->k;
    int64_t sf = a->key->sf;
    ict *r = NULL;
    int rc = 0;
    if ((a->kind == K_SCALAR) != (b->kind == K_SCALAR)) {
        ict *s = a->kind == K_SCALAR ? a : b, *v = a->kind == K_SCALAR ? b : a;
        r = like(v);
        rc = r ? 0 : -1;
        for (unsigned i = 0; rc == 0 && i < v->rows; i++) rc = he_ivhe_mul_scalar(k, r->c[i], s->c[0], v->c[i], sf);
    } else {
        ict *x, *y;
        if (broadcast(a, b, &x, &y) < 0) return -1;
        ict *big = x->kind >= y->kind ? x : y;
        r = like(big);
        rc = r ? 0 : -1;
        for (unsigned i = 0; rc == 0 && i < big->rows; i++) rc = he_ivhe_mul_elem(k, r->c[i], row_of(x, i), row_of(y, i), sf);
        drop(x);
        drop(y);
    }
    return put(r, rc, out);
}

/* c * x for a plaintext number x. */
static int mul_num(ict *c, double x, he_value *out)
{
    ict *r = like(c);
    if (!r) return -1;
    int rc = 0;
    bool integral = x == nearbyint(x) && fabs(x) < 9.0e15;
    double num = nearbyint(x * (double)FRAC_DEN);
    if (!integral && !(fabs(num) < 9.0e18)) rc = he_error("ivhe: plaintext factor %g out of range", x);
    for (unsigned i = 0; rc == 0 && i < c->rows; i++)
        rc = integral ? he_ivhe_mul_si(r->c[i], c->c[i], (int64_t)x)
                      : he_ivhe_mul_frac(r->c[i], c->c[i], (int64_t)num, FRAC_DEN);
    return put(r, rc, out);
}

/* c + x or x - c (flip) for a plaintext number or tensor x. */
static int add_plain(ict *c, he_value pv, bool negate_plain, bool negate_ct, he_value *out)
{
    const ikey *key = c->key;
    double x = 0;
    he_tensor *t = NULL;
    bool scalar = num_of(pv, &x);
    if (!scalar) {
        if (want_plain_tensor(pv, "+/-", &t) < 0) return -1;
        if (c->kind == K_SCALAR) {
            /* broadcast the encrypted scalar first */
            ict *e = expand(c, t->ndim == 1 ? (unsigned)t->shape[0] : (unsigned)t->shape[1]);
            if (!e) return -1;
            if (t->ndim == 2) {
                drop(e);
                return he_error("ivhe: an encrypted scalar with a plaintext matrix: encrypt the matrix");
            }
            int rc = add_plain(e, pv, negate_plain, negate_ct, out);
            drop(e);
            return rc;
        }
        int64_t tc = t->shape[t->ndim - 1], tr = t->ndim == 2 ? t->shape[0] : 1;
        if (tc != c->cols || (t->ndim == 2 && (c->kind != K_MATRIX || tr != c->rows)))
            return he_error("ivhe: shape mismatch between a ciphertext %s and a plaintext tensor %s", ishape(c).s,
                            he_shape_str(t->ndim, t->shape).s);
    }
    ict *r = like(c);
    if (!r) return -1;
    int64_t *v = malloc(sizeof(int64_t) * c->cols);
    int rc = v ? 0 : he_error("out of memory"), err = 0;
    for (unsigned i = 0; rc == 0 && i < c->rows; i++) {
        for (unsigned j = 0; j < c->cols; j++) {
            double e = scalar ? x : tget(t, (t->ndim == 2 ? (int64_t)i * c->cols : 0) + j);
            v[j] = fx(key, negate_plain ? -e : e, &err);
        }
        if (err) {
            rc = he_error("ivhe: plaintext value out of range");
            break;
        }
        if (negate_ct) rc = he_ivhe_neg(r->c[i], c->c[i]);
        if (rc == 0) rc = he_ivhe_add_plain(key->k, r->c[i], negate_ct ? r->c[i] : c->c[i], v);
    }
    free(v);
    return put(r, rc, out);
}

/* --- products by '@' ------------------------------------------------------------------- */
/* Rows of m transposed into a new matrix. */
static ict *transposed(const ict *m)
{
    if (m->kind != K_MATRIX) return he_error("ivhe: transpose needs an encrypted matrix"), NULL;
    ict *r = ict_new(m->key, K_MATRIX, m->cols, m->rows);
    if (!r) return NULL;
    if (he_ivhe_transpose(m->key->k, r->c, (const he_ivhe_ct *const *)m->c, m->rows, m->cols) < 0) {
        drop(r);
        return NULL;
    }
    return r;
}

/* out (a vector of M->rows) = M v. */
static int matvec_into(const ict *M, const he_ivhe_ct *v, he_ivhe_ct *out)
{
    return he_ivhe_matvec(M->key->k, out, (const he_ivhe_ct *const *)M->c, M->rows, v, M->key->sf);
}

/* Plaintext vector x (or rows of a plaintext matrix) times an encrypted matrix
** W: sum_i x_i W_i, additions only. */
static int plain_rows_matmul(he_tensor *t, ict *W, he_value *out)
{
    int64_t n = t->shape[t->ndim - 1], m = t->ndim == 2 ? t->shape[0] : 1;
    if (n != W->rows)
        return he_error("ivhe: '@' shape mismatch: %s and %s", he_shape_str(t->ndim, t->shape).s, ishape(W).s);
    bool ints = t->dtype == HE_DT_INT;
    ict *r = ict_new(W->key, t->ndim == 2 ? K_MATRIX : K_VECTOR, (unsigned)m, W->cols);
    if (!r) return -1;
    const he_ivhe_ct **rows = malloc(sizeof *rows * (size_t)n);
    int64_t *coef = malloc(sizeof *coef * (size_t)n);
    int rc = rows && coef ? 0 : he_error("out of memory"), err = 0;
    for (int64_t i = 0; rc == 0 && i < m; i++) {
        unsigned k = 0;
        for (int64_t j = 0; j < n; j++) {
            int64_t c = ints ? t->data.i[i * n + j] : fx(W->key, tget(t, i * n + j), &err);
            if (c == 0) continue;
            rows[k] = W->c[j];
            coef[k++] = c;
        }
        if (err) rc = he_error("ivhe: plaintext value out of range");
        else if (k == 0) { /* the zero vector: a trivial encryption of 0 */
            for (unsigned j = 0; j <= W->cols; j++) mpz_set_ui(r->c[i]->c[j], 0);
        } else rc = he_ivhe_lincomb(r->c[i], rows, coef, k, ints ? 1 : W->key->sf);
    }
    free(rows);
    free(coef);
    return put(r, rc, out);
}

static int matmul_ct(ict *a, ict *b, he_value *out)
{
    if (!same_key(a, b)) return he_error("ivhe: ciphertexts under different keys");
    if (a->kind == K_SCALAR || b->kind == K_SCALAR) return he_error("ivhe: '@' needs vectors or matrices, not scalars");
    he_ivhe_key *k = a->key->k;
    ict *r = NULL, *bt = NULL;
    int rc = 0;
    if (a->kind == K_VECTOR && b->kind == K_VECTOR) {
        if (a->cols != b->cols) return he_error("ivhe: '@' shape mismatch: %s and %s", ishape(a).s, ishape(b).s);
        r = ict_new(a->key, K_SCALAR, 1, 1);
        rc = r ? he_ivhe_inner(k, r->c[0], a->c[0], b->c[0], a->key->sf) : -1;
    } else if (a->kind == K_MATRIX && b->kind == K_VECTOR) {
        if (a->cols != b->cols) return he_error("ivhe: '@' shape mismatch: %s and %s", ishape(a).s, ishape(b).s);
        r = ict_new(a->key, K_VECTOR, 1, a->rows);
        rc = r ? matvec_into(a, b->c[0], r->c[0]) : -1;
    } else {
        /* vector @ matrix and matrix @ matrix: through the transpose of b */
        unsigned arows = a->kind == K_MATRIX ? a->rows : 1;
        if (a->cols != b->rows) return he_error("ivhe: '@' shape mismatch: %s and %s", ishape(a).s, ishape(b).s);
        bt = transposed(b);
        r = bt ? ict_new(a->key, a->kind, arows, b->cols) : NULL;
        rc = r ? 0 : -1;
        for (unsigned i = 0; rc == 0 && i < arows; i++) rc = matvec_into(bt, a->c[i], r->c[i]);
    }
    drop(bt);
    return put(r, rc, out);
}

/* --- dispatch ------------------------------------------------------------------------ */
static int cipher_plain(he_op op, ict *c, he_value pv, bool swapped, he_value *out)
{
    double x = 0;
    bool num = num_of(pv, &x);
    if (op >= HE_OP_LT && op <= HE_OP_NE) return he_error("IVHE ciphertexts cannot be compared (%s)", he_op_symbol[op]);
    if (!num && !he_is_tensor(pv)) return he_error("ivhe: cannot combine a ciphertext with %s", he_typename(pv));
    switch (op) {
    case HE_OP_ADD: return add_plain(c, pv, false, false, out);
    case HE_OP_SUB: return add_plain(c, pv, !swapped, swapped, out);
    case HE_OP_MUL:
        if (num) return mul_num(c, x, out);
        break;
    case HE_OP_DIV:
        if (swapped) return he_error("ivhe: cannot divide by a ciphertext");
        if (!num) return he_error("ivhe: a ciphertext can only be divided by a plaintext number");
        if (x == 0) return he_error("division by zero");
        return mul_num(c, 1.0 / x, out);
    case HE_OP_MATMUL:
        if (num) return he_error("ivhe: '@' needs vectors or matrices, not a number");
        if (swapped && c->kind == K_MATRIX) {
            he_tensor *t;
            if (want_plain_tensor(pv, "@", &t) < 0) return -1;
            return plain_rows_matmul(t, c, out);
        }
        break;
    default: return he_error("ivhe: cannot apply '%s' to a ciphertext", he_op_symbol[op]);
    }
    /* element-wise or '@' with a plaintext tensor: encrypt it */
    ict *p = encrypt_value(c->key, pv);
    if (!p) return -1;
    int rc = op == HE_OP_MUL ? mul_ct(c, p, out) : swapped ? matmul_ct(p, c, out) : matmul_ct(c, p, out);
    drop(p);
    return rc;
}

static int ict_binop(he_op op, he_value a, he_value b, he_value *out)
{
    bool ca = he_is(a, &ict_type), cb = he_is(b, &ict_type);
    if (ca && cb) {
        ict *x = (ict *)a.as.o, *y = (ict *)b.as.o;
        switch (op) {
        case HE_OP_ADD:
        case HE_OP_SUB: return add_sub_ct(op, x, y, out);
        case HE_OP_MUL: return mul_ct(x, y, out);
        case HE_OP_MATMUL: return matmul_ct(x, y, out);
        case HE_OP_DIV: return he_error("ivhe: cannot divide by a ciphertext");
        default:
            if (op >= HE_OP_LT && op <= HE_OP_NE) return he_error("IVHE ciphertexts cannot be compared (%s)", he_op_symbol[op]);
            return he_error("ivhe: cannot apply '%s' to ciphertexts", he_op_symbol[op]);
        }
    }
    if ((ca ? b : a).tag == HE_OBJ && !he_is_tensor(ca ? b : a)) return 1; /* another object: let it try */
    return ca ? cipher_plain(op, (ict *)a.as.o, b, false, out) : cipher_plain(op, (ict *)b.as.o, a, true, out);
}

static int ict_unop(he_op op, he_value a, he_value *out)
{
    ict *c = (ict *)a.as.o;
    if (op != HE_OP_NEG) return he_error("ivhe: cannot apply '%s' to a ciphertext", he_op_symbol[op]);
    ict *r = like(c);
    if (!r) return -1;
    for (unsigned i = 0; i < c->rows; i++)
        if (he_ivhe_neg(r->c[i], c->c[i]) < 0) {
            drop(r);
            return -1;
        }
    *out = he_objv(&r->obj);
    return 0;
}

/* Slots first, first + step, ... (count of them) of the vector ciphertext
** v (dimension cols) into out: a copy when all are taken in order, else
** each extracted and the scalars packed (key switches). */
static int take_slots(const ict *c, const he_ivhe_ct *v, int64_t first, int64_t count, int64_t step,
                      he_ivhe_ct *out)
{
    if (count == c->cols && step == 1) return he_ivhe_ct_copy(out, v);
    he_ivhe_ct **sc = he_calloc((size_t)count, sizeof *sc);
    if (!sc) return -1;
    int rc = 0;
    for (int64_t k = 0; k < count && rc == 0; k++)
        rc = (sc[k] = he_ivhe_ct_new(1)) ? he_ivhe_extract(c->key->k, sc[k], v, (unsigned)(first + k * step)) : -1;
    if (rc == 0) rc = he_ivhe_pack(c->key->k, out, (const he_ivhe_ct *const *)sc, (unsigned)count);
    for (int64_t k = 0; k < count; k++) he_ivhe_ct_free(sc[k]);
    he_free(sc);
    return rc;
}

/* v[j], v[a:b:k] of a vector; m[i], m[a:b], m[i, j], m[:, j], m[a:b, c:d] of
** a matrix (rows, then slots). Rows are taken by copying; slots, unless all
** are taken in order, by extraction and packing (key switches). */
static int ict_index(const he_obj *o, int n, const he_slice *s, he_value *out)
{
    const ict *c = (const ict *)o;
    if (c->kind == K_SCALAR) return he_error("cannot index an encrypted IVHE scalar");
    int axes = c->kind == K_MATRIX ? 2 : 1;
    if (n > axes)
        return he_error("too many indices (%d) for an encrypted IVHE %s", n, axes == 2 ? "matrix" : "vector");
    int64_t rfirst = 0, rcount = 1, rstep = 1, sfirst = 0, scount = c->cols, sstep = 1;
    bool rindex = false, sindex = false;
    const he_slice *slot = NULL;
    if (c->kind == K_MATRIX) {
        if (he_slice_resolve(&s[0], c->rows, 0, &rfirst, &rcount) < 0) return -1;
        rindex = s[0].is_index;
        rstep = rindex || rcount <= 1 ? 1 : s[0].step;
        if (n > 1) slot = &s[1];
    } else slot = &s[0];
    if (slot) {
        if (he_slice_resolve(slot, c->cols, axes - 1, &sfirst, &scount) < 0) return -1;
        sindex = slot->is_index;
        sstep = sindex || scount <= 1 ? 1 : slot->step;
    }
    if (rcount == 0 || scount == 0) return he_error("ivhe: an empty slice of an encrypted value");
    /* the result: scalar, vector (of slots, or of one slot of each row) or matrix */
    int kind;
    unsigned rrows = 1, rcols;
    if (rindex || c->kind == K_VECTOR) kind = sindex ? K_SCALAR : K_VECTOR, rcols = sindex ? 1 : (unsigned)scount;
    else if (sindex) kind = K_VECTOR, rcols = (unsigned)rcount;
    else kind = K_MATRIX, rrows = (unsigned)rcount, rcols = (unsigned)scount;
    ict *r = ict_new(c->key, kind, rrows, rcols);
    if (!r) return -1;
    int rc = 0;
    if (c->kind == K_MATRIX && !rindex && sindex) {
        /* column j of the rows taken: one slot of each, packed */
        he_ivhe_ct **sc = he_calloc((size_t)rcount, sizeof *sc);
        rc = sc ? 0 : -1;
        for (int64_t k = 0; k < rcount && rc == 0; k++)
            rc = (sc[k] = he_ivhe_ct_new(1)) ? he_ivhe_extract(c->key->k, sc[k], c->c[rfirst + k * rstep], (unsigned)sfirst)
                                              : -1;
        if (rc == 0) rc = he_ivhe_pack(c->key->k, r->c[0], (const he_ivhe_ct *const *)sc, (unsigned)rcount);
        for (int64_t k = 0; sc && k < rcount; k++) he_ivhe_ct_free(sc[k]);
        he_free(sc);
    } else {
        for (unsigned k = 0; k < rrows && rc == 0; k++) {
            const he_ivhe_ct *v = c->c[rfirst + (int64_t)k * rstep];
            rc = sindex ? he_ivhe_extract(c->key->k, r->c[k], v, (unsigned)sfirst)
                        : take_slots(c, v, sfirst, scount, sstep, r->c[k]);
        }
    }
    return put(r, rc, out);
}

static int ict_method(const char *name, he_value *a, int n, he_value *out);

static const he_type ict_type = {
    .name = CT_NAME, .free = ict_free, .repr = ict_repr, .binop = ict_binop, .unop = ict_unop, .len = ict_len,
    .index = ict_index, .method = ict_method,
};

/* --- functions ------------------------------------------------------------------------ */
static int want_key(he_value v, const char *fn, ikey **k)
{
    *k = mod_want(v, &ikey_type, "ivhe", fn, "an ivhe key");
    return *k ? 0 : -1;
}

static int want_ct(he_value v, const char *fn, ict **c)
{
    *c = mod_want(v, &ict_type, "ivhe", fn, "an ivhe ciphertext");
    return *c ? 0 : -1;
}

static int want_int(he_value v, const char *fn, const char *what, int64_t lo, int64_t hi, int64_t *x)
{
    if (v.tag != HE_INT) return he_error("ivhe.%s: %s must be an int, got %s", fn, what, he_typename(v));
    if (v.as.i < lo || v.as.i > hi)
        return he_error("ivhe.%s: %s must be in [%lld, %lld], got %lld", fn, what, (long long)lo, (long long)hi,
                        (long long)v.as.i);
    *x = v.as.i;
    return 0;
}

/* The warning line of he_ivhe_warning(), once per VM: every program that
** makes or loads a key prints it. */
static void warn_once(he_vm *vm)
{
    if (vm->warned_ivhe) return;
    if (vm->out) fflush(vm->out); /* keeps the order in a log of both streams */
    fprintf(vm->err ? vm->err : stderr, "%s\n", he_ivhe_warning());
    fflush(vm->err ? vm->err : stderr);
    vm->warned_ivhe = true;
}

/* A runtime key (NULL: an error is set) as a value; takes it. */
static int key_value(he_ivhe_key *k, he_value *out)
{
    if (!k) return -1;
    ikey *o = he_malloc(sizeof *o);
    if (!o) {
        he_ivhe_key_free(k);
        return -1;
    }
    const he_ivhe_params *p = he_ivhe_key_params(k);
    he_obj_init(&o->obj, &ikey_type);
    o->k = k;
    o->sf = p->scale;
    o->max_dim = p->max_dim;
    *out = he_objv(&o->obj);
    return 0;
}

/* keygen([max_dim, scale, w, l, a_bound, t_bound, e_bound]) */
static int f_keygen(he_vm *vm, he_value *a, int n, he_value *out)
{
    he_ivhe_params p;
    he_ivhe_params_default(&p);
    int64_t x = 0;
    static const char *const what[] = {"max_dim", "scale", "w", "l", "a_bound", "t_bound", "e_bound"};
    for (int i = 0; i < n; i++) {
        if (want_int(a[i], "keygen", what[i], 1, INT64_MAX, &x) < 0) return -1;
        switch (i) {
        case 0: p.max_dim = x > UINT32_MAX ? UINT32_MAX : (unsigned)x; break;
        case 1: p.scale = x; break;
        case 2: p.w = (uint64_t)x; break;
        case 3: p.l = x > UINT32_MAX ? UINT32_MAX : (unsigned)x; break;
        case 4: p.a_bound = x > UINT32_MAX ? UINT32_MAX : (unsigned)x; break;
        case 5: p.t_bound = x > UINT32_MAX ? UINT32_MAX : (unsigned)x; break;
        default: p.e_bound = x > UINT32_MAX ? UINT32_MAX : (unsigned)x; break;
        }
    }
    if (he_ivhe_params_check(&p) < 0) return -1;
    warn_once(vm);
    return key_value(he_ivhe_key_new(&p), out);
}

static int f_precompute(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    *out = he_nil();
    if (want_key(a[0], "precompute", &k) < 0) return -1;
    return he_ivhe_key_precompute(k->k);
}

static int f_params(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    if (want_key(a[0], "params", &k) < 0) return -1;
    const he_ivhe_params *p = he_ivhe_key_params(k->k);
    int64_t d = 7;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &d);
    if (!t) return -1;
    int64_t v[7] = {p->max_dim, p->scale, (int64_t)p->w, p->l, p->a_bound, p->t_bound, p->e_bound};
    memcpy(t->data.i, v, sizeof v);
    *out = he_objv(&t->obj);
    return 0;
}

static int f_encrypt(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    if (want_key(a[0], "encrypt", &k) < 0) return -1;
    return put(encrypt_value(k, a[1]), 0, out);
}

static int f_decrypt(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    ict *c = NULL;
    if (want_key(a[0], "decrypt", &k) < 0 || want_ct(a[1], "decrypt", &c) < 0) return -1;
    if (c->key != k && !he_ivhe_same_key(c->key->k, k->k)) return he_error("ivhe.decrypt: the ciphertext is under another key");
    if (c->kind == K_SCALAR) {
        double x;
        if (he_ivhe_decrypt_fixed(k->k, c->c[0], &x) < 0) return -1;
        *out = he_float(x);
        return 0;
    }
    int64_t shape[2] = {c->rows, c->cols};
    he_tensor *t = c->kind == K_MATRIX ? he_tensor_new(HE_DT_FLOAT, 0, 2, shape) : he_tensor_new(HE_DT_FLOAT, 0, 1, &shape[1]);
    if (!t) return -1;
    for (unsigned i = 0; i < c->rows; i++)
        if (he_ivhe_decrypt_fixed(k->k, c->c[i], t->data.f + (size_t)i * c->cols) < 0) {
            he_release(he_objv(&t->obj));
            return -1;
        }
    *out = he_objv(&t->obj);
    return 0;
}

/* Largest noise |S c - w round(S c / w)| over all entries (tests). */
static int f_noise(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    ict *c = NULL;
    if (want_key(a[0], "noise", &k) < 0 || want_ct(a[1], "noise", &c) < 0) return -1;
    if (c->key != k && !he_ivhe_same_key(c->key->k, k->k)) return he_error("ivhe.noise: the ciphertext is under another key");
    double m = 0;
    for (unsigned i = 0; i < c->rows; i++) {
        double e;
        if (he_ivhe_noise(k->k, c->c[i], &e) < 0) return -1;
        if (e > m) m = e;
    }
    *out = he_float(m);
    return 0;
}

static int f_bits(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    if (want_ct(a[0], "bits", &c) < 0) return -1;
    size_t m = 0;
    for (unsigned i = 0; i < c->rows; i++) {
        size_t b = he_ivhe_ct_bits(c->c[i]);
        if (b > m) m = b;
    }
    *out = he_int((int64_t)m);
    return 0;
}

/* Polynomial coefficients from a tensor (c0, c1, ...). */
static int coefs_of(he_value v, const char *fn, double *c, unsigned *deg)
{
    if (!he_is_tensor(v)) return he_error("ivhe.%s: coefficients must be a 1-D tensor, got %s", fn, he_typename(v));
    he_tensor *t = he_as_tensor(v);
    if (t->ndim != 1 || t->size < 1 || t->size > 16 || t->dtype == HE_DT_BOOL)
        return he_error("ivhe.%s: coefficients must be a 1-D numeric tensor of 1 to 16 entries", fn);
    for (int64_t i = 0; i < t->size; i++) c[i] = tget(t, i);
    *deg = (unsigned)t->size - 1;
    return 0;
}

static int poly_apply(ict *c, const double *coef, unsigned deg, he_value *out)
{
    ict *r = like(c);
    int rc = r ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < c->rows; i++) rc = he_ivhe_poly(c->key->k, r->c[i], c->c[i], coef, deg);
    return put(r, rc, out);
}

static int f_poly(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    double coef[16];
    unsigned deg = 0;
    if (want_ct(a[0], "poly", &c) < 0 || coefs_of(a[1], "poly", coef, &deg) < 0) return -1;
    return poly_apply(c, coef, deg, out);
}

static int f_sigmoid(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    if (want_ct(a[0], "sigmoid", &c) < 0) return -1;
    return poly_apply(c, he_ivhe_sigmoid_coef, 7, out);
}

static int f_sigmoid_coef(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    int64_t d = 8;
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 1, &d);
    if (!t) return -1;
    memcpy(t->data.f, he_ivhe_sigmoid_coef, sizeof(double) * 8);
    *out = he_objv(&t->obj);
    return 0;
}

/* sum(vector) -> scalar; sum(matrix) -> the sum of its rows (a vector). */
static int f_sum(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    if (want_ct(a[0], "sum", &c) < 0) return -1;
    if (c->kind == K_SCALAR) {
        c->obj.rc++;
        *out = a[0];
        return 0;
    }
    if (c->kind == K_VECTOR) {
        ict *r = ict_new(c->key, K_SCALAR, 1, 1);
        return put(r, r ? he_ivhe_sum(c->key->k, r->c[0], c->c[0]) : -1, out);
    }
    ict *r = ict_new(c->key, K_VECTOR, 1, c->cols);
    int64_t *ones = malloc(sizeof *ones * c->rows);
    int rc = r && ones ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < c->rows; i++) ones[i] = 1;
    if (rc == 0) rc = he_ivhe_lincomb(r->c[0], (const he_ivhe_ct *const *)c->c, ones, c->rows, 1);
    free(ones);
    return put(r, rc, out);
}

static int f_transpose(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    if (want_ct(a[0], "transpose", &c) < 0) return -1;
    return put(transposed(c), 0, out);
}

/* outer(u, v): the matrix of rows u_i v; either side may be plaintext 1-D. */
static int f_outer(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    bool cu = he_is(a[0], &ict_type), cv = he_is(a[1], &ict_type);
    if (!cu && !cv) return he_error("ivhe.outer: one side must be an ivhe ciphertext (use outer() for plaintexts)");
    ikey *key = ((ict *)(cu ? a[0] : a[1]).as.o)->key;
    ict *u = NULL, *v = NULL, *r = NULL;
    int rc = 0;
    if (!cv) {
        /* encrypted u, plaintext v: encrypt v */
        v = encrypt_value(key, a[1]);
        if (!v) return -1;
    } else {
        v = (ict *)a[1].as.o;
        v->obj.rc++;
    }
    if (v->kind != K_VECTOR) {
        drop(v);
        return he_error("ivhe.outer: expected vectors");
    }
    if (!cu) {
        he_tensor *t = NULL;
        if (want_plain_tensor(a[0], "outer", &t) < 0 || t->ndim != 1) {
            drop(v);
            return he_error("ivhe.outer: expected vectors");
        }
        if (t->size > UINT32_MAX / 2) rc = he_error("ivhe.outer: too long");
        r = rc == 0 ? ict_new(key, K_MATRIX, (unsigned)t->size, v->cols) : NULL;
        rc = r ? 0 : -1;
        for (unsigned i = 0; rc == 0 && i < r->rows; i++) {
            double x = tget(t, i);
            bool integral = x == nearbyint(x) && fabs(x) < 9.0e15;
            double num = nearbyint(x * (double)FRAC_DEN);
            if (!integral && !(fabs(num) < 9.0e18)) rc = he_error("ivhe.outer: value %g out of range", x);
            else rc = integral ? he_ivhe_mul_si(r->c[i], v->c[0], (int64_t)x)
                               : he_ivhe_mul_frac(r->c[i], v->c[0], (int64_t)num, FRAC_DEN);
        }
    } else {
        u = (ict *)a[0].as.o;
        if (u->kind != K_VECTOR) rc = he_error("ivhe.outer: expected vectors");
        r = rc == 0 ? ict_new(key, K_MATRIX, u->cols, v->cols) : NULL;
        if (rc == 0 && !r) rc = -1;
        if (rc == 0) rc = he_ivhe_outer(key->k, r->c, u->c[0], v->c[0], key->sf);
    }
    drop(v);
    return put(r, rc, out);
}

/* ones(key, n [, value]), onehot(key, n, j [, value]): encrypted helpers. */
static int f_ones(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    ikey *k = NULL;
    int64_t dim = 0;
    double v = 1.0;
    if (want_key(a[0], "ones", &k) < 0 || want_int(a[1], "ones", "the dimension", 1, k->max_dim, &dim) < 0) return -1;
    if (n > 2 && !num_of(a[2], &v)) return he_error("ivhe.ones: the value must be a number");
    int err = 0;
    int64_t x = fx(k, v, &err);
    if (err) return he_error("ivhe.ones: value out of range");
    ict *r = ict_new(k, K_VECTOR, 1, (unsigned)dim);
    return put(r, r ? he_ivhe_ones(k->k, r->c[0], (unsigned)dim, x) : -1, out);
}

static int f_onehot(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    ikey *k = NULL;
    int64_t dim = 0, j = 0;
    double v = 1.0;
    if (want_key(a[0], "onehot", &k) < 0 || want_int(a[1], "onehot", "the dimension", 1, k->max_dim, &dim) < 0 ||
        want_int(a[2], "onehot", "the index", 0, dim - 1, &j) < 0)
        return -1;
    if (n > 3 && !num_of(a[3], &v)) return he_error("ivhe.onehot: the value must be a number");
    int err = 0;
    int64_t x = fx(k, v, &err);
    if (err) return he_error("ivhe.onehot: value out of range");
    ict *r = ict_new(k, K_VECTOR, 1, (unsigned)dim);
    return put(r, r ? he_ivhe_onehot(k->k, r->c[0], (unsigned)dim, (unsigned)j, x) : -1, out);
}

/* row(m, i): row i of an encrypted matrix (a copy); element(v, j): slot j of a vector. */
static int f_row(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    int64_t i = 0;
    if (want_ct(a[0], "row", &c) < 0) return -1;
    if (c->kind != K_MATRIX) return he_error("ivhe.row: expected an encrypted matrix");
    if (want_int(a[1], "row", "the row", -(int64_t)c->rows, (int64_t)c->rows - 1, &i) < 0) return -1;
    if (i < 0) i += c->rows;
    ict *r = ict_new(c->key, K_VECTOR, 1, c->cols);
    return put(r, r ? he_ivhe_ct_copy(r->c[0], c->c[i]) : -1, out);
}

static int f_element(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    int64_t j = 0;
    if (want_ct(a[0], "element", &c) < 0) return -1;
    if (c->kind != K_VECTOR) return he_error("ivhe.element: expected an encrypted vector");
    if (want_int(a[1], "element", "the index", -(int64_t)c->cols, (int64_t)c->cols - 1, &j) < 0) return -1;
    if (j < 0) j += c->cols;
    ict *r = ict_new(c->key, K_SCALAR, 1, 1);
    return put(r, r ? he_ivhe_extract(c->key->k, r->c[0], c->c[0], (unsigned)j) : -1, out);
}

/* Row indices of an int tensor, checked against the number of rows. */
static int want_index(he_value v, const char *fn, int64_t rows, he_tensor **t)
{
    if (!he_is_tensor(v) || he_as_tensor(v)->dtype != HE_DT_INT || he_as_tensor(v)->ndim != 1)
        return he_error("ivhe.%s: the rows must be a 1-D int tensor, got %s", fn, he_typename(v));
    *t = he_as_tensor(v);
    for (int64_t i = 0; i < (*t)->size; i++)
        if ((*t)->data.i[i] < 0 || (*t)->data.i[i] >= rows)
            return he_error("ivhe.%s: row %lld out of range for %lld rows", fn, (long long)(*t)->data.i[i],
                            (long long)rows);
    return 0;
}

static int want_plain_matrix(he_value v, const char *fn, he_tensor **t)
{
    if (!he_is_tensor(v) || he_as_tensor(v)->dtype != HE_DT_FLOAT || he_as_tensor(v)->ndim != 2)
        return he_error("ivhe.%s: expected an encrypted matrix or a 2-D float tensor, got %s", fn, he_typename(v));
    *t = he_as_tensor(v);
    return 0;
}

/* mean_rows(W, idx): the mean of rows idx of W (an embedding lookup: a plain
** bag of rows times an encrypted matrix, additions only). W may also be a
** plain 2-D float tensor (same function on plain weights). */
static int f_mean_rows(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    he_tensor *idx = NULL, *P = NULL;
    if (!he_is(a[0], &ict_type)) {
        if (want_plain_matrix(a[0], "mean_rows", &P) < 0 || want_index(a[1], "mean_rows", P->shape[0], &idx) < 0)
            return -1;
        int64_t c = P->shape[1];
        he_tensor *r = he_tensor_new(HE_DT_FLOAT, 0, 1, &c);
        if (!r) return -1;
        memset(r->data.f, 0, sizeof(double) * (size_t)c);
        for (int64_t i = 0; i < idx->size; i++)
            for (int64_t j = 0; j < c; j++) r->data.f[j] += P->data.f[idx->data.i[i] * c + j];
        if (idx->size)
            for (int64_t j = 0; j < c; j++) r->data.f[j] /= (double)idx->size;
        *out = he_objv(&r->obj);
        return 0;
    }
    ict *W = (ict *)a[0].as.o;
    if (W->kind != K_MATRIX) return he_error("ivhe.mean_rows: expected an encrypted matrix");
    if (want_index(a[1], "mean_rows", W->rows, &idx) < 0) return -1;
    ict *r = ict_new(W->key, K_VECTOR, 1, W->cols);
    if (!r) return -1;
    if (idx->size == 0) {
        for (unsigned j = 0; j <= W->cols; j++) mpz_set_ui(r->c[0]->c[j], 0);
        return put(r, 0, out);
    }
    const he_ivhe_ct **rows = malloc(sizeof *rows * (size_t)idx->size);
    int64_t *ones = malloc(sizeof *ones * (size_t)idx->size);
    int rc = rows && ones ? 0 : he_error("out of memory");
    for (int64_t i = 0; rc == 0 && i < idx->size; i++) {
        rows[i] = W->c[idx->data.i[i]];
        ones[i] = 1;
    }
    if (rc == 0) rc = he_ivhe_lincomb(r->c[0], rows, ones, (unsigned)idx->size, idx->size);
    free(rows);
    free(ones);
    return put(r, rc, out);
}

/* sub_rows(W, idx, v): W[i] -= v for each i in idx, IN PLACE (the sparse
** update of an embedding layer); W encrypted with v encrypted, or both plain. */
static int f_sub_rows(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    he_tensor *idx = NULL, *P = NULL;
    if (!he_is(a[0], &ict_type)) {
        if (want_plain_matrix(a[0], "sub_rows", &P) < 0 || want_index(a[1], "sub_rows", P->shape[0], &idx) < 0)
            return -1;
        if (!he_is_tensor(a[2]) || he_as_tensor(a[2])->ndim != 1 || he_as_tensor(a[2])->size != P->shape[1] ||
            he_as_tensor(a[2])->dtype == HE_DT_BOOL)
            return he_error("ivhe.sub_rows: the update must be a plaintext vector of %lld", (long long)P->shape[1]);
        he_tensor *v = he_as_tensor(a[2]);
        int64_t c = P->shape[1];
        for (int64_t i = 0; i < idx->size; i++)
            for (int64_t j = 0; j < c; j++) P->data.f[idx->data.i[i] * c + j] -= tget(v, j);
        return 0;
    }
    ict *W = (ict *)a[0].as.o, *v = NULL;
    if (W->kind != K_MATRIX) return he_error("ivhe.sub_rows: expected an encrypted matrix");
    if (want_index(a[1], "sub_rows", W->rows, &idx) < 0 || want_ct(a[2], "sub_rows", &v) < 0) return -1;
    if (v->kind != K_VECTOR || v->cols != W->cols)
        return he_error("ivhe.sub_rows: the update must be an encrypted vector of %u", W->cols);
    if (!same_key(v, W)) return he_error("ivhe: ciphertexts under different keys");
    for (int64_t i = 0; i < idx->size; i++) {
        he_ivhe_ct *row = W->c[idx->data.i[i]];
        if (he_ivhe_sub(row, row, v->c[0]) < 0) return -1;
    }
    return 0;
}

/* sgd(W, G, rate): W -= rate * G, IN PLACE (so a training loop in a function
** can update its caller's weights); W and G both encrypted of the same shape,
** or both plain float tensors of the same size. */
static int f_sgd(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    *out = he_nil();
    double rate = 0;
    if (!num_of(a[2], &rate)) return he_error("ivhe.sgd: the rate must be a number");
    if (!he_is(a[0], &ict_type)) {
        if (!he_is_tensor(a[0]) || !he_is_tensor(a[1]) || he_as_tensor(a[0])->dtype != HE_DT_FLOAT ||
            he_as_tensor(a[1])->dtype == HE_DT_BOOL || he_as_tensor(a[0])->size != he_as_tensor(a[1])->size)
            return he_error("ivhe.sgd: expected two ciphertexts, or a float tensor and a tensor of the same size");
        he_tensor *W = he_as_tensor(a[0]), *G = he_as_tensor(a[1]);
        for (int64_t i = 0; i < W->size; i++) W->data.f[i] -= rate * tget(G, i);
        return 0;
    }
    ict *W = (ict *)a[0].as.o, *G = NULL;
    if (want_ct(a[1], "sgd", &G) < 0) return -1;
    if (!same_key(G, W)) return he_error("ivhe: ciphertexts under different keys");
    if (G->kind != W->kind || G->rows != W->rows || G->cols != W->cols)
        return he_error("ivhe.sgd: shape mismatch: %s and %s", ishape(W).s, ishape(G).s);
    double num = nearbyint(rate * (double)FRAC_DEN);
    if (!(fabs(num) < 9.0e18)) return he_error("ivhe.sgd: rate %g out of range", rate);
    he_ivhe_ct *t = he_ivhe_ct_new(W->cols);
    int rc = t ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < W->rows; i++) {
        rc = he_ivhe_mul_frac(t, G->c[i], (int64_t)num, FRAC_DEN);
        if (rc == 0) rc = he_ivhe_sub(W->c[i], W->c[i], t);
    }
    he_ivhe_ct_free(t);
    return rc;
}

/* --- the global builtins on ciphertexts: sum, mean, transpose (.T), outer ---------------- */
/* The axis of sum(c, axis) over kind's axes (a matrix: rows 0, slots 1),
** -1 for no axis. */
static int sum_axis(const ict *c, he_value *a, int n, int *axis)
{
    *axis = -1;
    if (n < 2) return 0;
    int axes = c->kind == K_MATRIX ? 2 : c->kind == K_VECTOR ? 1 : 0;
    if (a[1].tag != HE_INT) return he_error("sum: the axis must be an int, got %s", he_typename(a[1]));
    int64_t x = a[1].as.i < 0 ? a[1].as.i + axes : a[1].as.i;
    if (x < 0 || x >= axes)
        return he_error("sum: axis %lld out of range for an encrypted IVHE %s", (long long)a[1].as.i,
                        axes == 2 ? "matrix" : axes == 1 ? "vector" : "scalar");
    *axis = (int)x;
    return 0;
}

/* Each row's slots summed, packed into a vector (one slot per row). */
static int row_sums(const ict *c, he_value *out)
{
    ict *r = ict_new(c->key, K_VECTOR, 1, c->rows);
    he_ivhe_ct **sc = r ? he_calloc(c->rows, sizeof *sc) : NULL;
    int rc = sc ? 0 : -1;
    for (unsigned i = 0; rc == 0 && i < c->rows; i++)
        rc = (sc[i] = he_ivhe_ct_new(1)) ? he_ivhe_sum(c->key->k, sc[i], c->c[i]) : -1;
    if (rc == 0) rc = he_ivhe_pack(c->key->k, r->c[0], (const he_ivhe_ct *const *)sc, c->rows);
    for (unsigned i = 0; sc && i < c->rows; i++) he_ivhe_ct_free(sc[i]);
    he_free(sc);
    return put(r, rc, out);
}

static int ict_method(const char *name, he_value *a, int n, he_value *out)
{
    if (strcmp(name, "outer") == 0) return f_outer(NULL, a, n, out);
    const ict *c = (const ict *)a[0].as.o;
    if (!he_is(a[0], &ict_type)) return 1;
    if (strcmp(name, "transpose") == 0) {
        if (c->kind != K_MATRIX) { /* as NumPy: a vector or scalar is its own transpose */
            a[0].as.o->rc++;
            *out = a[0];
            return 0;
        }
        return put(transposed(c), 0, out);
    }
    int axis;
    bool sum = strcmp(name, "sum") == 0;
    if (!sum && strcmp(name, "count") != 0) return 1;
    if (sum_axis(c, a, n, &axis) < 0) return -1;
    if (!sum) {
        int64_t k = c->kind == K_SCALAR ? 1
                    : c->kind == K_VECTOR ? c->cols
                    : axis < 0 ? (int64_t)c->rows * c->cols
                    : axis == 0 ? c->rows : c->cols;
        *out = he_int(k);
        return 0;
    }
    if (c->kind == K_MATRIX && axis == 1) return row_sums(c, out);
    /* the rows added (a matrix), then the slots (no axis, or a vector) */
    he_value rows = a[0];
    if (c->kind == K_MATRIX && f_sum(NULL, a, 1, &rows) < 0) return -1;
    if (c->kind == K_MATRIX && axis == 0) {
        *out = rows;
        return 0;
    }
    int rc = f_sum(NULL, &rows, 1, out);
    if (c->kind == K_MATRIX) he_release(rows);
    return rc;
}

/* --- files --------------------------------------------------------------------------- */
static int want_path(he_value v, const char *fn, const char **path)
{
    if (!he_is(v, &he_str_type)) return he_error("ivhe.%s: the path must be a str, got %s", fn, he_typename(v));
    *path = he_as_str(v)->data;
    return 0;
}

static int f_save_key(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    const char *path = NULL;
    *out = he_nil();
    if (want_key(a[0], "save_key", &k) < 0 || want_path(a[1], "save_key", &path) < 0) return -1;
    return he_ivhe_key_save(k->k, path);
}

static int f_load_key(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)n;
    const char *path = NULL;
    if (want_path(a[0], "load_key", &path) < 0) return -1;
    he_ivhe_key *k = he_ivhe_key_load(path);
    if (!k) return -1;
    warn_once(vm);
    return key_value(k, out);
}

static int f_save(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ict *c = NULL;
    const char *path = NULL;
    *out = he_nil();
    if (want_ct(a[0], "save", &c) < 0 || want_path(a[1], "save", &path) < 0) return -1;
    return he_ivhe_ctv_save(c->key->k, (const he_ivhe_ct *const *)c->c, c->rows, (uint32_t)c->kind, path);
}

static int f_load(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    ikey *k = NULL;
    const char *path = NULL;
    if (want_key(a[0], "load", &k) < 0 || want_path(a[1], "load", &path) < 0) return -1;
    he_ivhe_ct **v = NULL;
    unsigned cnt = 0;
    uint32_t kind = 0;
    if (he_ivhe_ctv_load(k->k, path, &v, &cnt, &kind) < 0) return -1;
    int rc = 0;
    if (kind > K_MATRIX || (kind != K_MATRIX && cnt != 1) || (kind == K_SCALAR && v[0]->dim != 1))
        rc = he_error("ivhe.load: %s is damaged (shape)", path);
    ict *c = rc == 0 ? ict_new(k, (int)kind, 0, v[0]->dim) : NULL;
    if (c) {
        /* ict_new made no rows: the loaded ciphertexts become them */
        ict *big = he_realloc(c, sizeof *c + (size_t)cnt * sizeof c->c[0]);
        if (big) {
            c = big;
            for (unsigned i = 0; i < cnt; i++) c->c[i] = v[i], v[i] = NULL;
            c->rows = cnt;
        } else rc = -1;
    } else rc = -1;
    for (unsigned i = 0; i < cnt; i++) he_ivhe_ct_free(v[i]);
    he_free(v);
    return put(c, rc, out);
}

/* --- static rules ------------------------------------------------------------------------ */
static bool is_ct(const type *t) { return ty_is_obj(t, CT_NAME); }
static bool is_key(const type *t) { return ty_is_obj(t, KEY_NAME); }
static bool is_ptensor(const type *t)
{
    return t->kind == T_TENSOR && t->elem != T_BOOL && (t->rank < 0 || t->rank == 1 || t->rank == 2);
}

static type *binop_rule(checker *c, node *n, he_op op, type *a, type *b)
{
    if (!is_ct(a) && !is_ct(b)) return NULL;
    type *ct = ty_obj(CT_NAME);
    type *other = is_ct(a) ? b : a;
    bool both = is_ct(a) && is_ct(b);
    if (op >= HE_OP_LT && op <= HE_OP_NE) {
        ck_error(c, n, "IVHE ciphertexts cannot be compared (%s): a comparison has no encrypted result; decrypt first",
                 he_op_symbol[op]);
        return ty_any;
    }
    if (!both && other->kind != T_ANY && !ty_is_num(other) && !is_ptensor(other)) {
        ck_error(c, n, "cannot apply '%s' to %s and %s", he_op_symbol[op], ty_str_of(a), ty_str_of(b));
        return ty_any;
    }
    switch (op) {
    case HE_OP_ADD:
    case HE_OP_SUB:
    case HE_OP_MUL: return ct;
    case HE_OP_DIV:
        if (is_ct(b)) ck_error(c, n, "IVHE: cannot divide by a ciphertext (no encrypted inverse)");
        else if (other->kind == T_TENSOR) ck_error(c, n, "IVHE: a ciphertext can only be divided by a plaintext number");
        else return ct;
        return ty_any;
    case HE_OP_MATMUL:
        if (ty_is_num(other)) {
            ck_error(c, n, "'@' needs vectors or matrices, not %s", ty_str_of(other));
            return ty_any;
        }
        return ct;
    default:
        ck_error(c, n, "IVHE ciphertexts support + - * @ and division by a number, not '%s'", he_op_symbol[op]);
        return ty_any;
    }
}

static type *index_rule(checker *c, node *n, type *a, int nidx, int nslices)
{
    if (!is_ct(a)) return NULL;
    if (nidx + nslices > 2)
        ck_error(c, n, "too many indices (%d): an encrypted IVHE value has at most 2 axes (rows, slots)",
                 nidx + nslices);
    return a;
}

static type *method_rule(checker *c, node *call, const char *name, type **t, int n)
{
    bool mine = false;
    for (int i = 0; i < n; i++) mine = mine || is_ct(t[i]);
    if (!mine) return NULL;
    if (strcmp(name, "outer") == 0)
        for (int i = 0; i < n; i++) mod_need(c, call, t[i], is_ct(t[i]) || is_ptensor(t[i]), "a vector");
    return ty_obj(CT_NAME);
}

static type *unop_rule(checker *c, node *n, he_op op, type *a)
{
    if (!is_ct(a)) return NULL;
    if (op == HE_OP_NEG) return a;
    ck_error(c, n, "cannot apply '%s' to an IVHE ciphertext", he_op_symbol[op]);
    return ty_any;
}

static const char *fname(const node *call)
{
    return call->a && call->a->kind == N_MEMBER && call->a->name ? call->a->name : "";
}

static type *r_keygen(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    for (int i = 0; i < n; i++) mod_need(c, a[i], t[i], t[i]->kind == T_INT, "an int parameter");
    return ty_obj(KEY_NAME);
}

static type *r_key_void(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    return ty_void;
}

static type *r_params(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    int64_t d = 7;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_encrypt(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    mod_need(c, a[1], t[1], ty_is_num(t[1]) || is_ptensor(t[1]), "a number or a 1-D or 2-D tensor");
    return ty_obj(CT_NAME);
}

static type *r_key_ct(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    mod_need(c, a[1], t[1], is_ct(t[1]), "an ivhe ciphertext");
    return ty_any; /* float or tensor, known when decrypted */
}

static type *r_noise(checker *c, node *call, node **a, type **t, int n)
{
    r_key_ct(c, call, a, t, n);
    return ty_float;
}

static type *r_ct(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], is_ct(t[0]), "an ivhe ciphertext");
    if (n > 1 && strcmp(fname(call), "poly") == 0)
        mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL, "the coefficients (a 1-D tensor)");
    if (n > 1 && (strcmp(fname(call), "row") == 0 || strcmp(fname(call), "element") == 0))
        mod_need(c, a[1], t[1], t[1]->kind == T_INT, "an index (int)");
    return ty_obj(CT_NAME);
}

static type *r_bits(checker *c, node *call, node **a, type **t, int n)
{
    r_ct(c, call, a, t, n);
    return ty_int;
}

static type *r_coef(checker *c, node *call, node **a, type **t, int n)
{
    (void)c; (void)call; (void)a; (void)t; (void)n;
    int64_t d = 8;
    return ty_tensor(T_FLOAT, 0, 1, &d);
}

static type *r_outer(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    if (!is_ct(t[0]) && !is_ct(t[1]) && t[0]->kind != T_ANY && t[1]->kind != T_ANY)
        ck_error(c, call, "ivhe.outer: one side must be an ivhe ciphertext");
    for (int i = 0; i < 2; i++) mod_need(c, a[i], t[i], is_ct(t[i]) || is_ptensor(t[i]), "a vector");
    return ty_obj(CT_NAME);
}

static type *r_helper(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    for (int i = 1; i < n; i++)
        mod_need(c, a[i], t[i], i == n - 1 && n > (strcmp(fname(call), "ones") == 0 ? 2 : 3) ? ty_is_num(t[i]) : t[i]->kind == T_INT,
             i == n - 1 && n > (strcmp(fname(call), "ones") == 0 ? 2 : 3) ? "a number" : "an int");
    return ty_obj(CT_NAME);
}

static type *r_rows(checker *c, node *call, node **a, type **t, int n)
{
    mod_need(c, a[0], t[0], is_ct(t[0]) || (t[0]->kind == T_TENSOR && t[0]->elem == T_FLOAT), "an ivhe matrix or a float matrix");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem == T_INT, "row indices (int tensor)");
    if (n > 2) return ty_void;
    (void)call;
    if (t[0]->kind == T_TENSOR) {
        int64_t d = t[0]->rank == 2 ? t[0]->dims[1] : DIM_ANY;
        return ty_tensor(T_FLOAT, 0, 1, &d);
    }
    return is_ct(t[0]) ? ty_obj(CT_NAME) : ty_any;
}

static type *r_sgd(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    for (int i = 0; i < 2; i++)
        mod_need(c, a[i], t[i], is_ct(t[i]) || (t[i]->kind == T_TENSOR && t[i]->elem != T_BOOL), "an ivhe ciphertext or a tensor");
    mod_need(c, a[2], t[2], ty_is_num(t[2]), "the rate (a number)");
    return ty_void;
}

static type *r_save_key(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a path (str)");
    return ty_void;
}

static type *r_load_key(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "a path (str)");
    return ty_obj(KEY_NAME);
}

static type *r_save(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_ct(t[0]), "an ivhe ciphertext");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a path (str)");
    return ty_void;
}

static type *r_load(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_key(t[0]), "an ivhe key");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a path (str)");
    return ty_obj(CT_NAME);
}

static const builtin fns[] = {
    {"keygen", NULL, 0, 7, f_keygen, r_keygen,
     "keygen([max_dim, scale, w, l, a_bound, t_bound, e_bound]): a key (defaults 10, 1000, 2^25, 100, 10, 10, 10); warns once"},
    {"precompute", NULL, 1, 1, f_precompute, r_key_void, "precompute(key): build every switching matrix now"},
    {"params", NULL, 1, 1, f_params, r_params, "params(key): [max_dim, scale, w, l, a_bound, t_bound, e_bound]"},
    {"encrypt", NULL, 2, 2, f_encrypt, r_encrypt, "encrypt(key, x): x a number, vector or matrix (rows)"},
    {"decrypt", NULL, 2, 2, f_decrypt, r_key_ct, "decrypt(key, c): float or float tensor"},
    {"noise", NULL, 2, 2, f_noise, r_noise, "noise(key, c): the largest noise term of c (not zero)"},
    {"bits", NULL, 1, 1, f_bits, r_bits, "bits(c): size in bits of the largest ciphertext entry"},
    {"sigmoid", NULL, 1, 1, f_sigmoid, r_ct, "sigmoid(c): Taylor sigmoid 1/2 + x/4 - x^3/48 + x^5/480 - 17x^7/80640"},
    {"sigmoid_coef", NULL, 0, 0, f_sigmoid_coef, r_coef, "sigmoid_coef(): the Taylor coefficients c0..c7"},
    {"poly", NULL, 2, 2, f_poly, r_ct, "poly(c, coef): element-wise c0 + c1 x + ... (coef a 1-D tensor)"},
    {"sum", NULL, 1, 1, f_sum, r_ct, "sum(c): vector -> scalar, matrix -> the sum of its rows"},
    {"transpose", NULL, 1, 1, f_transpose, r_ct, "transpose(m): the transpose of an encrypted matrix"},
    {"outer", NULL, 2, 2, f_outer, r_outer, "outer(u, v): rows u_i v (one side may be plaintext)"},
    {"ones", NULL, 2, 3, f_ones, r_helper, "ones(key, n [, value]): encrypted value * (1, ..., 1)"},
    {"onehot", NULL, 3, 4, f_onehot, r_helper, "onehot(key, n, j [, value]): encrypted value * e_j"},
    {"row", NULL, 2, 2, f_row, r_ct, "row(m, i): row i of an encrypted matrix"},
    {"element", NULL, 2, 2, f_element, r_ct, "element(v, j): slot j of an encrypted vector (a scalar)"},
    {"mean_rows", NULL, 2, 2, f_mean_rows, r_rows, "mean_rows(W, idx): mean of rows idx (encrypted or plain W)"},
    {"sgd", NULL, 3, 3, f_sgd, r_sgd, "sgd(W, G, rate): W -= rate * G in place (encrypted or plain)"},
    {"sub_rows", NULL, 3, 3, f_sub_rows, r_rows, "sub_rows(W, idx, v): W[i] -= v for i in idx, in place"},
    {"save_key", NULL, 2, 2, f_save_key, r_save_key, "save_key(key, path): the key's secrets and parameters, mode 0600"},
    {"load_key", NULL, 1, 1, f_load_key, r_load_key, "load_key(path): a key saved by save_key; warns once"},
    {"save", NULL, 2, 2, f_save, r_save, "save(c, path): an encrypted scalar, vector or matrix"},
    {"load", NULL, 2, 2, f_load, r_load, "load(key, path): a ciphertext saved by save, under this key"},
};

const native_module he_mod_ivhe = {
    .name = "ivhe",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
    .binop_rule = binop_rule,
    .unop_rule = unop_rule,
    .index_rule = index_rule,
    .method_rule = method_rule,
};
