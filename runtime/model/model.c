/*
** model/model.c: ONNX models in (see model.h), and their plaintext run.
**
** The file is decoded by protobuf-c (Debian's libprotobuf-c) with the
** C code that protoc-c makes at build time from the ONNX schema of Debian's
** libonnx-dev (/usr/include/onnx/onnx.proto; see the Makefile). protobuf-c
** checks the wire format (lengths, tags, nesting); this file checks what the
** model says: the graph is a chain of supported operators, each tensor's
** data has the length its dimensions give, every dimension is bounded.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "model/model.h"

/* --- small helpers ------------------------------------------------------------------ */
static void copy_name(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src && *src ? src : "?");
}

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

void he_model_free(he_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nlayers; i++) {
        drop(m->layers[i].w);
        drop(m->layers[i].b);
    }
    free(m->layers);
    free(m);
}

/* The loader's state: the file's name for messages, the constants by name. */
typedef struct loader {
    const char *what;
    const Onnx__GraphProto *g;
    int nconst;
    const char *cname[HE_MODEL_MAXNODES];
    he_tensor *cval[HE_MODEL_MAXNODES];
    he_model *m;
    unsigned flags;
} loader;

/* --- tensors from the file -------------------------------------------------------------- */
static he_tensor *tensor_of(loader *L, const Onnx__TensorProto *tp, const char *who)
{
    const char *nm = tp->name && *tp->name ? tp->name : who;
    if (tp->n_dims > HE_MAXDIM) {
        he_error("%s: tensor '%s' has %zu dimensions (at most %d)", L->what, nm, tp->n_dims, HE_MAXDIM);
        return NULL;
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        he_error("%s: tensor '%s' is stored in an external file; save the model with its weights inside "
                 "(onnx.save(..., save_as_external_data=False))", L->what, nm);
        return NULL;
    }
    int64_t shape[HE_MAXDIM], size;
    for (size_t i = 0; i < tp->n_dims; i++) shape[i] = tp->dims[i];
    char msg[160];
    snprintf(msg, sizeof msg, "%s: tensor '%s'", L->what, nm);
    if (he_shape_check((int)tp->n_dims, shape, msg, &size) < 0) return NULL;
    int dt = tp->has_data_type ? tp->data_type : 0;
    size_t esize;
    size_t ntyped;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: esize = 4; ntyped = tp->n_float_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: esize = 8; ntyped = tp->n_double_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: esize = 8; ntyped = tp->n_int64_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: esize = 4; ntyped = tp->n_int32_data; break;
    default:
        he_error("%s: tensor '%s' has element type %d; only float, double, int32 and int64 are read "
                 "(convert the model to float32)", L->what, nm, dt);
        return NULL;
    }
    bool raw = tp->has_raw_data;
    size_t have = raw ? tp->raw_data.len : ntyped;
    size_t want = raw ? (size_t)size * esize : (size_t)size;
    if (have != want) {
        he_error("%s: tensor '%s' of shape %s holds %zu %s, not %zu", L->what, nm,
                 he_shape_str((int)tp->n_dims, shape).s, have, raw ? "bytes" : "values", want);
        return NULL;
    }
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, (int)tp->n_dims, shape);
    if (!t) return NULL;
    const uint8_t *p = tp->raw_data.data;
    for (int64_t i = 0; i < size; i++) {
        double v;
        if (raw) { /* little-endian, as ONNX stores it */
            uint64_t u = 0;
            for (size_t k = 0; k < esize; k++) u |= (uint64_t)p[(size_t)i * esize + k] << (8 * k);
            if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
                uint32_t u32 = (uint32_t)u;
                float f;
                memcpy(&f, &u32, 4);
                v = f;
            } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
                memcpy(&v, &u, 8);
            } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
                v = (double)(int64_t)u;
            } else {
                v = (double)(int32_t)(uint32_t)u;
            }
        } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            v = tp->float_data[i];
        } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
            v = tp->double_data[i];
        } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
            v = (double)tp->int64_data[i];
        } else {
            v = tp->int32_data[i];
        }
        if (!isfinite(v)) {
            drop(t);
            he_error("%s: tensor '%s' holds a value that is not finite", L->what, nm);
            return NULL;
        }
        t->data.f[i] = v;
    }
    return t;
}

static int add_const(loader *L, const char *name, he_tensor *t)
{
    if (L->nconst >= HE_MODEL_MAXNODES) {
        drop(t);
        return he_error("%s: more than %d constants", L->what, HE_MODEL_MAXNODES);
    }
    L->cname[L->nconst] = name ? name : "";
    L->cval[L->nconst++] = t;
    return 0;
}

static he_tensor *find_const(const loader *L, const char *name)
{
    for (int i = L->nconst - 1; i >= 0; i--)
        if (strcmp(L->cname[i], name) == 0) return L->cval[i];
    return NULL;
}

/* --- attributes ------------------------------------------------------------------------- */
static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}

static double attr_float(const Onnx__NodeProto *n, const char *name, double def)
{
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}

/* An INTS attribute of exactly `count` values, each in [lo, hi], into out
** (left as it is when absent). */
static int attr_ints(loader *L, const he_layer *ly, const Onnx__NodeProto *n, const char *name, size_t count,
                     int64_t lo, int64_t hi, int64_t *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) return 0;
    if (a->n_ints != count)
        return he_error("%s: node '%s' (%s): attribute %s has %zu values, expected %zu", L->what, ly->name, ly->op,
                        name, a->n_ints, count);
    for (size_t i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi)
            return he_error("%s: node '%s' (%s): attribute %s = %lld is not supported (%lld to %lld)", L->what,
                            ly->name, ly->op, name, (long long)a->ints[i], (long long)lo, (long long)hi);
        out[i] = a->ints[i];
    }
    return 0;
}

static int refuse_attr(loader *L, const he_layer *ly, const char *name, long long v, const char *what)
{
    return he_error("%s: node '%s' (%s): attribute %s = %lld is not supported; %s", L->what, ly->name, ly->op, name,
                    v, what);
}

/* Attributes that change nothing here, or that the operator's code reads. */
static int only_attrs(loader *L, const he_layer *ly, const Onnx__NodeProto *n, const char *const *known)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *an = n->attribute[i]->name ? n->attribute[i]->name : "";
        bool ok = false;
        for (int k = 0; known[k] && !ok; k++) ok = strcmp(known[k], an) == 0;
        if (!ok)
            return he_error("%s: node '%s' (%s): attribute '%s' is not supported; export the model without it",
                            L->what, ly->name, ly->op, an);
    }
    return 0;
}

/* --- the chain ---------------------------------------------------------------------------- */
static he_layer *new_layer(loader *L, he_layer_kind kind, const he_layer *proto)
{
    he_model *m = L->m;
    he_layer *ls = realloc(m->layers, sizeof *ls * (size_t)(m->nlayers + 1));
    if (!ls) {
        he_error("out of memory");
        return NULL;
    }
    m->layers = ls;
    he_layer *ly = &ls[m->nlayers++];
    *ly = *proto;
    ly->kind = kind;
    return ly;
}

/* 2-D w with alpha folded and transposed when trans: a new [in, out] tensor. */
static he_tensor *dense_weight(const he_tensor *b, bool trans, double alpha)
{
    he_tensor *w = trans ? he_tensor_transpose(b) : he_tensor_copy(b);
    if (!w) return NULL;
    for (int64_t i = 0; i < w->size; i++) w->data.f[i] *= alpha;
    return w;
}

/* The bias of a dense layer with `out` outputs: [out] (scaled by beta), from
** a scalar, [out] or [1, out]. */
static he_tensor *dense_bias(loader *L, const he_layer *ly, const he_tensor *c, int64_t out, double beta)
{
    if ((c->size != 1 && c->size != out) || c->ndim > 2 || (c->ndim == 2 && c->shape[0] != 1)) {
        he_error("%s: node '%s' (%s): bias of shape %s for %lld outputs: only [%lld], [1, %lld] or a scalar", L->what,
                 ly->name, ly->op, he_shape_str(c->ndim, c->shape).s, (long long)out, (long long)out, (long long)out);
        return NULL;
    }
    he_tensor *b = he_tensor_new(HE_DT_FLOAT, 0, 1, &out);
    if (!b) return NULL;
    for (int64_t j = 0; j < out; j++) b->data.f[j] = beta * c->data.f[c->size == 1 ? 0 : j];
    return b;
}

static int need_inputs(loader *L, const he_layer *ly, const Onnx__NodeProto *n, size_t lo, size_t hi)
{
    if (n->n_input < lo || n->n_input > hi)
        return he_error("%s: node '%s' (%s) has %zu inputs, expected %zu to %zu", L->what, ly->name, ly->op,
                        n->n_input, lo, hi);
    if (n->n_output != 1)
        return he_error("%s: node '%s' (%s) has %zu outputs; only its first (Y) is supported", L->what, ly->name,
                        ly->op, n->n_output);
    return 0;
}

/* Constant input i of node n (the weights), or NULL with an error. */
static he_tensor *const_input(loader *L, const he_layer *ly, const Onnx__NodeProto *n, size_t i, const char *what)
{
    const char *nm = i < n->n_input ? n->input[i] : "";
    he_tensor *t = find_const(L, nm);
    if (!t)
        he_error("%s: node '%s' (%s): its %s '%s' must be a constant (an initializer); he runs sequential models "
                 "whose weights are in the file",
                 L->what, ly->name, ly->op, what, nm);
    return t;
}

static he_tensor *retain(he_tensor *t)
{
    if (t) he_retain(he_objv(&t->obj));
    return t;
}

/* BatchNormalization (inference) folded into the conv or dense layer before it. */
static int fold_bn(loader *L, he_layer *ly, const Onnx__NodeProto *n)
{
    he_model *m = L->m;
    static const char *const known[] = {"epsilon", "momentum", "training_mode", NULL};
    if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 5, 5) < 0) return -1;
    if (attr_int(n, "training_mode", 0) != 0) return refuse_attr(L, ly, "training_mode", 1, "export in eval mode");
    he_layer *prev = m->nlayers ? &m->layers[m->nlayers - 1] : NULL;
    if (!prev || (prev->kind != HE_L_CONV && prev->kind != HE_L_DENSE))
        return he_error("%s: node '%s' (BatchNormalization) does not follow a Conv, Gemm or MatMul, so it cannot be "
                        "folded; fold it in the framework before export",
                        L->what, ly->name);
    int64_t C = prev->kind == HE_L_CONV ? prev->w->shape[0] : prev->w->shape[1];
    if (C < 1) return he_error("%s: node '%s' (BatchNormalization) after a layer with no outputs", L->what, ly->name);
    he_tensor *p[4];
    static const char *const what[] = {"scale", "bias", "mean", "variance"};
    for (int i = 0; i < 4; i++)
        if (!(p[i] = const_input(L, ly, n, (size_t)i + 1, what[i]))) return -1;
    char who[160];
    snprintf(who, sizeof who, "%s: node '%s' (BatchNormalization)", L->what, ly->name);
    return he_model_fold_bn(m, m->nlayers - 1, (const he_tensor *const *)p, (double)(float)attr_float(n, "epsilon", 1e-5),
                            who);
}

int he_model_fold_bn(he_model *m, int i, const he_tensor *const p[4], double eps, const char *who)
{
    he_layer *prev = &m->layers[i];
    int64_t C = prev->kind == HE_L_CONV ? prev->w->shape[0] : prev->w->shape[1];
    static const char *const what[] = {"scale", "bias", "mean", "variance"};
    for (int k = 0; k < 4; k++)
        if (p[k]->size != C)
            return he_error("%s: its %s has %lld values for %lld channels", who, what[k], (long long)p[k]->size,
                            (long long)C);
    if (!prev->b) {
        if (!(prev->b = he_tensor_new(HE_DT_FLOAT, 0, 1, &C))) return -1;
        m->nparams += C;
    }
    int64_t per = prev->kind == HE_L_CONV ? prev->w->size / C : 0;
    for (int64_t c = 0; c < C; c++) {
        double var = p[3]->data.f[c] + eps;
        if (!(var > 0)) return he_error("%s: variance + epsilon <= 0", who);
        double s = p[0]->data.f[c] / sqrt(var);
        if (prev->kind == HE_L_CONV)
            for (int64_t k = 0; k < per; k++) prev->w->data.f[c * per + k] *= s;
        else
            for (int64_t r = 0; r < prev->w->shape[0]; r++) prev->w->data.f[r * C + c] *= s;
        prev->b->data.f[c] = (prev->b->data.f[c] - p[2]->data.f[c]) * s + p[1]->data.f[c];
    }
    prev->folded_bn = true;
    return 0;
}

static int add_node(loader *L, const Onnx__NodeProto *n, int idx, const char **cur, bool last)
{
    he_layer proto = {0};
    if (n->name && *n->name) copy_name(proto.name, sizeof proto.name, n->name);
    else snprintf(proto.name, sizeof proto.name, "#%d", idx);
    copy_name(proto.op, sizeof proto.op, n->op_type);
    he_layer *ly = &proto;
    const char *op = n->op_type ? n->op_type : "";
    he_model *m = L->m;

    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return he_error("%s: node '%s': operator %s of domain '%s' is not supported (only the standard ONNX "
                        "operators)", L->what, ly->name, op, n->domain);
    if (strcmp(op, "Constant") == 0) {
        const Onnx__AttributeProto *a = attr(n, "value");
        if (!a || !a->t || n->n_output != 1 || n->n_attribute != 1)
            return he_error("%s: node '%s' (Constant): only a tensor 'value' is supported", L->what, ly->name);
        he_tensor *t = tensor_of(L, a->t, n->output[0]);
        return t ? add_const(L, n->output[0], t) : -1;
    }
    /* which inputs are computed: exactly the current value, once or twice (Mul x x) */
    int uses = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const char *in = n->input[i];
        if (*cur && strcmp(in, *cur) == 0) uses++;
        else if (*in && !find_const(L, in))
            return he_error("%s: node '%s' (%s): input '%s' is neither the previous node's output nor a constant; "
                            "he imports sequential models (one path from input to output)",
                            L->what, ly->name, op, in);
    }
    if (uses == 0)
        return he_error("%s: node '%s' (%s) does not take the previous node's output '%s'; he imports sequential "
                        "models", L->what, ly->name, op, *cur ? *cur : "");
    if (n->n_output < 1) return he_error("%s: node '%s' (%s) has no output", L->what, ly->name, op);

    static const char *const none[] = {NULL};
    if (strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0) {
        bool gemm = op[0] == 'G';
        static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
        if (only_attrs(L, ly, n, gemm ? known : none) < 0 || need_inputs(L, ly, n, 2, gemm ? 3 : 2) < 0) return -1;
        if (strcmp(n->input[0], *cur) != 0)
            return he_error("%s: node '%s' (%s): the previous output must be its first input (x @ w)", L->what,
                            ly->name, op);
        if (attr_int(n, "transA", 0) != 0) return refuse_attr(L, ly, "transA", 1, "export x @ w without transposing x");
        he_tensor *b = const_input(L, ly, n, 1, "weight");
        if (!b) return -1;
        if (b->ndim != 2)
            return he_error("%s: node '%s' (%s): the weight must have 2 dimensions, it has shape %s", L->what,
                            ly->name, op, he_shape_str(b->ndim, b->shape).s);
        he_layer *d = new_layer(L, HE_L_DENSE, ly);
        if (!d) return -1;
        if (!(d->w = dense_weight(b, attr_int(n, "transB", 0) != 0, attr_float(n, "alpha", 1.0)))) return -1;
        m->nparams += d->w->size;
        if (n->n_input == 3 && *n->input[2]) {
            he_tensor *c = const_input(L, d, n, 2, "bias");
            if (!c || !(d->b = dense_bias(L, d, c, d->w->shape[1], attr_float(n, "beta", 1.0)))) return -1;
            m->nparams += d->b->size;
        }
    } else if (strcmp(op, "Conv") == 0) {
        static const char *const known[] = {"kernel_shape", "strides", "pads", "group", "dilations", "auto_pad", NULL};
        if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 2, 3) < 0) return -1;
        int64_t g = attr_int(n, "group", 1);
        if (g != 1) return refuse_attr(L, ly, "group", g, "only group = 1 (export ordinary, not grouped or depthwise, convolutions)");
        const Onnx__AttributeProto *ap = attr(n, "auto_pad");
        if (ap && ap->has_s && !(ap->s.len == 6 && memcmp(ap->s.data, "NOTSET", 6) == 0) &&
            !(ap->s.len == 5 && memcmp(ap->s.data, "VALID", 5) == 0))
            return he_error("%s: node '%s' (Conv): attribute auto_pad = %.*s is not supported; export explicit pads",
                            L->what, ly->name, (int)(ap->s.len > 16 ? 16 : ap->s.len), (const char *)ap->s.data);
        he_tensor *w = const_input(L, ly, n, 1, "kernel");
        if (!w) return -1;
        if (w->ndim != 4)
            return he_error("%s: node '%s' (Conv): the kernel must be 4-D (OC, C, KH, KW), it has shape %s; only 2-D "
                            "convolutions are supported", L->what, ly->name, he_shape_str(w->ndim, w->shape).s);
        int64_t dil[2] = {1, 1}, ks[2] = {w->shape[2], w->shape[3]};
        ly->s[0] = ly->s[1] = 1;
        if (attr_ints(L, ly, n, "dilations", 2, 1, 1, dil) < 0 || attr_ints(L, ly, n, "strides", 2, 1, 1 << 20, ly->s) < 0 ||
            attr_ints(L, ly, n, "pads", 4, 0, 1 << 20, ly->pad) < 0 || attr_ints(L, ly, n, "kernel_shape", 2, 1, 1 << 20, ks) < 0)
            return -1;
        if (ks[0] != w->shape[2] || ks[1] != w->shape[3])
            return he_error("%s: node '%s' (Conv): kernel_shape [%lld, %lld] does not match the kernel %s", L->what,
                            ly->name, (long long)ks[0], (long long)ks[1], he_shape_str(4, w->shape).s);
        for (int i = 0; i < 4; i++)
            if (ly->pad[i] >= ks[i % 2])
                return he_error("%s: node '%s' (Conv): pads [%lld, %lld, %lld, %lld] not smaller than the kernel "
                                "%lldx%lld", L->what, ly->name, (long long)ly->pad[0], (long long)ly->pad[1],
                                (long long)ly->pad[2], (long long)ly->pad[3], (long long)ks[0], (long long)ks[1]);
        he_layer *d = new_layer(L, HE_L_CONV, ly);
        if (!d) return -1;
        d->w = he_tensor_copy(w);
        if (!d->w) return -1;
        m->nparams += w->size;
        if (n->n_input == 3 && *n->input[2]) {
            he_tensor *c = const_input(L, d, n, 2, "bias");
            if (!c) return -1;
            if (c->size != w->shape[0])
                return he_error("%s: node '%s' (Conv): bias of %lld values for %lld output channels", L->what,
                                d->name, (long long)c->size, (long long)w->shape[0]);
            if (!(d->b = dense_bias(L, d, c, w->shape[0], 1.0))) return -1;
            m->nparams += d->b->size;
        }
    } else if (strcmp(op, "AveragePool") == 0 || strcmp(op, "MaxPool") == 0) {
        static const char *const known[] = {"kernel_shape", "strides", "pads", "ceil_mode", "auto_pad",
                                            "count_include_pad", "dilations", "storage_order", NULL};
        if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 1, 1) < 0) return -1;
        int64_t dil[2] = {1, 1};
        ly->k[0] = ly->k[1] = -1;
        if (attr_ints(L, ly, n, "kernel_shape", 2, 1, 1 << 20, ly->k) < 0) return -1;
        if (ly->k[0] < 0)
            return he_error("%s: node '%s' (%s): kernel_shape [kh, kw] is missing; only 2-D pooling is supported",
                            L->what, ly->name, op);
        ly->s[0] = ly->s[1] = 1; /* ONNX's default stride is 1 */
        if (attr_ints(L, ly, n, "strides", 2, 1, 1 << 20, ly->s) < 0 || attr_ints(L, ly, n, "pads", 4, 0, 0, ly->pad) < 0 ||
            attr_ints(L, ly, n, "dilations", 2, 1, 1, dil) < 0)
            return -1;
        if (attr_int(n, "ceil_mode", 0) != 0) return refuse_attr(L, ly, "ceil_mode", 1, "export with ceil_mode = 0");
        const Onnx__AttributeProto *ap = attr(n, "auto_pad");
        if (ap && ap->has_s && !(ap->s.len == 6 && memcmp(ap->s.data, "NOTSET", 6) == 0) &&
            !(ap->s.len == 5 && memcmp(ap->s.data, "VALID", 5) == 0))
            return he_error("%s: node '%s' (%s): attribute auto_pad = %.*s is not supported; pool without padding",
                            L->what, ly->name, op, (int)(ap->s.len > 16 ? 16 : ap->s.len), (const char *)ap->s.data);
        if (!new_layer(L, op[0] == 'A' ? HE_L_AVGPOOL : HE_L_MAXPOOL, ly)) return -1;
    } else if (strcmp(op, "Relu") == 0 || strcmp(op, "Sigmoid") == 0 || strcmp(op, "Tanh") == 0) {
        if (only_attrs(L, ly, n, none) < 0 || need_inputs(L, ly, n, 1, 1) < 0) return -1;
        he_layer_kind k = op[0] == 'R' ? HE_L_RELU : op[0] == 'S' ? HE_L_SIGMOID : HE_L_TANH;
        he_layer *d = new_layer(L, k, ly);
        if (!d) return -1;
        d->poly = k != HE_L_RELU && (L->flags & HE_MODEL_POLY);
    } else if (strcmp(op, "Mul") == 0 || strcmp(op, "Add") == 0 || strcmp(op, "Pow") == 0) {
        if (only_attrs(L, ly, n, none) < 0 || need_inputs(L, ly, n, 2, 2) < 0) return -1;
        if (uses == 2) {
            if (op[0] != 'M')
                return he_error("%s: node '%s' (%s) of the previous output with itself: only Mul(x, x) (a square) is "
                                "supported", L->what, ly->name, op);
            if (!new_layer(L, HE_L_SQUARE, ly)) return -1;
        } else if (op[0] == 'P') {
            he_tensor *e = strcmp(n->input[0], *cur) == 0 ? const_input(L, ly, n, 1, "exponent") : NULL;
            if (!e || e->size != 1 || e->data.f[0] != 2.0)
                return he_error("%s: node '%s' (Pow): only x^2 (a square activation) is supported; use a polynomial "
                                "activation of degree 2", L->what, ly->name);
            if (!new_layer(L, HE_L_SQUARE, ly)) return -1;
        } else {
            size_t ci = strcmp(n->input[0], *cur) == 0 ? 1 : 0;
            he_tensor *c = const_input(L, ly, n, ci, "operand");
            if (!c) return -1;
            he_layer *d = new_layer(L, op[0] == 'A' ? HE_L_ADD : HE_L_MUL, ly);
            if (!d || !(d->w = retain(c))) return -1;
            m->nparams += c->size;
        }
    } else if (strcmp(op, "Flatten") == 0) {
        static const char *const known[] = {"axis", NULL};
        if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 1, 1) < 0) return -1;
        int64_t ax = attr_int(n, "axis", 1);
        if (ax < 0 || ax > HE_MAXDIM) return refuse_attr(L, ly, "axis", ax, "only 0 to 8");
        he_layer *d = new_layer(L, HE_L_FLATTEN, ly);
        if (!d) return -1;
        d->axis = (int)ax;
    } else if (strcmp(op, "Reshape") == 0) {
        static const char *const known[] = {"allowzero", NULL};
        if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 2, 2) < 0) return -1;
        if (attr_int(n, "allowzero", 0) != 0) return refuse_attr(L, ly, "allowzero", 1, "export with allowzero = 0");
        he_tensor *s = const_input(L, ly, n, 1, "shape");
        if (!s) return -1;
        if (s->ndim != 1 || s->size > HE_MAXDIM)
            return he_error("%s: node '%s' (Reshape): the shape must be 1-D with at most %d values", L->what, ly->name,
                            HE_MAXDIM);
        he_layer *d = new_layer(L, HE_L_RESHAPE, ly);
        if (!d) return -1;
        d->ndim = (int)s->size;
        for (int i = 0; i < d->ndim; i++) {
            double v = s->data.f[i];
            if (v != floor(v) || v < -1 || v > (double)HE_TENSOR_MAXSIZE)
                return he_error("%s: node '%s' (Reshape): dimension %g is not supported", L->what, ly->name, v);
            d->shape[i] = (int64_t)v;
        }
    } else if (strcmp(op, "BatchNormalization") == 0) {
        if (fold_bn(L, ly, n) < 0) return -1;
    } else if (strcmp(op, "Softmax") == 0) {
        static const char *const known[] = {"axis", NULL};
        if (only_attrs(L, ly, n, known) < 0 || need_inputs(L, ly, n, 1, 1) < 0) return -1;
        if (!last)
            return he_error("%s: node '%s' (Softmax) is not the last node: only a Softmax at the output is supported "
                            "(it is dropped, the argmax is the same)", L->what, ly->name);
        m->softmax_dropped = true;
    } else {
        return he_error("%s: node '%s': operator %s is not supported (he reads Gemm, MatMul, Add, Mul, Pow, Conv, "
                        "AveragePool, MaxPool, Relu, Sigmoid, Tanh, Flatten, Reshape, BatchNormalization, Softmax, "
                        "Constant); replace it in the model before export",
                        L->what, ly->name, op);
    }
    *cur = n->output[0];
    return 0;
}

/* A graph input's or output's shape: -1 for a named dimension. */
static int shape_of(loader *L, const Onnx__ValueInfoProto *v, int *ndim, int64_t *shape)
{
    *ndim = 0;
    if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type)
        return he_error("%s: graph value '%s' is not a tensor", L->what, v->name ? v->name : "?");
    const Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
    if (!s) return 0;
    if (s->n_dim > HE_MAXDIM)
        return he_error("%s: graph value '%s' has %zu dimensions (at most %d)", L->what, v->name, s->n_dim, HE_MAXDIM);
    int64_t known[HE_MAXDIM];
    for (size_t i = 0; i < s->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[i];
        bool val = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        shape[i] = val ? d->dim_value : -1;
        known[i] = val ? d->dim_value : 1;
    }
    *ndim = (int)s->n_dim;
    char msg[160];
    snprintf(msg, sizeof msg, "%s: graph value '%s'", L->what, v->name ? v->name : "?");
    return he_shape_check(*ndim, known, msg, NULL);
}

static int load_graph(loader *L, const Onnx__ModelProto *mp)
{
    he_model *m = L->m;
    const Onnx__GraphProto *g = mp->graph;
    if (!g) return he_error("%s: no graph (not an ONNX model?)", L->what);
    L->g = g;
    copy_name(m->name, sizeof m->name, g->name);
    copy_name(m->producer, sizeof m->producer, mp->producer_name);
    if (g->n_node > HE_MODEL_MAXNODES || g->n_initializer > HE_MODEL_MAXNODES)
        return he_error("%s: more than %d nodes or initializers", L->what, HE_MODEL_MAXNODES);
    if (g->n_node == 0) return he_error("%s: the graph has no nodes (not an ONNX model?)", L->what);
    if (g->n_sparse_initializer) return he_error("%s: sparse initializers are not supported", L->what);
    for (size_t i = 0; i < g->n_initializer; i++) {
        he_tensor *t = tensor_of(L, g->initializer[i], "initializer");
        if (!t || add_const(L, g->initializer[i]->name, t) < 0) return -1;
    }
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < g->n_input && !in; i++)
        if (g->input[i]->name && !find_const(L, g->input[i]->name)) in = g->input[i];
    if (!in) return he_error("%s: the graph has no input", L->what);
    if (g->n_output != 1 || !g->output[0]->name)
        return he_error("%s: the graph has %zu outputs; he imports models with one", L->what, g->n_output);
    copy_name(m->in_name, sizeof m->in_name, in->name);
    copy_name(m->out_name, sizeof m->out_name, g->output[0]->name);
    if (shape_of(L, in, &m->in_ndim, m->in_shape) < 0 || shape_of(L, g->output[0], &m->out_ndim, m->out_shape) < 0)
        return -1;
    const char *cur = in->name;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        size_t rest = 0; /* nodes after this one that are not constants */
        for (size_t j = i + 1; j < g->n_node; j++)
            rest += !(g->node[j]->op_type && strcmp(g->node[j]->op_type, "Constant") == 0);
        if (add_node(L, n, (int)i, &cur, rest == 0) < 0) return -1;
    }
    if (strcmp(cur, g->output[0]->name) != 0)
        return he_error("%s: the last node's output '%s' is not the graph's output '%s'", L->what, cur,
                        g->output[0]->name);
    if (m->nlayers == 0) return he_error("%s: the graph computes nothing", L->what);
    return 0;
}

int he_model_parse_onnx(const uint8_t *buf, size_t len, const char *what, unsigned flags, he_model **out)
{
    *out = NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return he_error("%s: not an ONNX model (the protobuf data is damaged or of another kind)", what);
    loader *L = calloc(1, sizeof *L);
    he_model *m = calloc(1, sizeof *m);
    int rc = -1;
    if (!L || !m) {
        he_error("out of memory");
        goto done;
    }
    L->what = what;
    L->m = m;
    L->flags = flags;
    rc = load_graph(L, mp);
done:
    if (L)
        for (int i = 0; i < L->nconst; i++) drop(L->cval[i]);
    free(L);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc < 0) he_model_free(m);
    else *out = m;
    return rc;
}

int he_model_load_onnx(const char *path, unsigned flags, he_model **out)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (he_file_read(path, (size_t)HE_MODEL_MAXFILE, "onnx model", &buf, &len) < 0) return -1;
    int rc = he_model_parse_onnx(buf, len, path, flags, out);
    he_free(buf);
    return rc;
}

/* --- the plaintext run -------------------------------------------------------------------- */
static const double sig_poly[] = HE_SIGMOID_POLY, tanh_poly[] = HE_TANH_POLY;

static he_tensor *conv2d(const he_layer *ly, const he_tensor *x)
{
    const he_tensor *w = ly->w;
    if (x->ndim != 4 || x->shape[1] != w->shape[1]) {
        he_error("layer '%s' (Conv): input of shape %s, expected [N, %lld, H, W]", ly->name,
                 he_shape_str(x->ndim, x->shape).s, (long long)w->shape[1]);
        return NULL;
    }
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t OC = w->shape[0], KH = w->shape[2], KW = w->shape[3];
    int64_t PH = H + ly->pad[0] + ly->pad[2], PW = W + ly->pad[1] + ly->pad[3];
    if (PH < KH || PW < KW) {
        he_error("layer '%s' (Conv): kernel %lldx%lld larger than the (padded) image %lldx%lld", ly->name,
                 (long long)KH, (long long)KW, (long long)PH, (long long)PW);
        return NULL;
    }
    int64_t OH = (PH - KH) / ly->s[0] + 1, OW = (PW - KW) / ly->s[1] + 1;
    int64_t shape[4] = {N, OC, OH, OW};
    he_tensor *y = he_tensor_new(HE_DT_FLOAT, 0, 4, shape);
    if (!y) return NULL;
    double *o = y->data.f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < OC; oc++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    double acc = ly->b ? ly->b->data.f[oc] : 0.0;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t ky = 0; ky < KH; ky++) {
                            int64_t iy = oy * ly->s[0] + ky - ly->pad[0];
                            if (iy < 0 || iy >= H) continue;
                            const double *xr = x->data.f + ((n * C + c) * H + iy) * W;
                            const double *wr = w->data.f + ((oc * C + c) * KH + ky) * KW;
                            for (int64_t kx = 0; kx < KW; kx++) {
                                int64_t ix = ox * ly->s[1] + kx - ly->pad[1];
                                if (ix >= 0 && ix < W) acc += wr[kx] * xr[ix];
                            }
                        }
                    *o++ = acc;
                }
    return y;
}

static he_tensor *pool2d(const he_layer *ly, const he_tensor *x)
{
    if (x->ndim != 4) {
        he_error("layer '%s' (%s): input of shape %s, expected [N, C, H, W]", ly->name, ly->op,
                 he_shape_str(x->ndim, x->shape).s);
        return NULL;
    }
    int64_t H = x->shape[2], W = x->shape[3], KH = ly->k[0], KW = ly->k[1];
    if (H < KH || W < KW) {
        he_error("layer '%s' (%s): window %lldx%lld larger than the image %lldx%lld", ly->name, ly->op, (long long)KH,
                 (long long)KW, (long long)H, (long long)W);
        return NULL;
    }
    int64_t OH = (H - KH) / ly->s[0] + 1, OW = (W - KW) / ly->s[1] + 1, planes = x->shape[0] * x->shape[1];
    int64_t shape[4] = {x->shape[0], x->shape[1], OH, OW};
    he_tensor *y = he_tensor_new(HE_DT_FLOAT, 0, 4, shape);
    if (!y) return NULL;
    bool avg = ly->kind == HE_L_AVGPOOL;
    for (int64_t p = 0; p < planes; p++) {
        const double *src = x->data.f + p * H * W;
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                double acc = avg ? 0.0 : -INFINITY;
                for (int64_t ky = 0; ky < KH; ky++)
                    for (int64_t kx = 0; kx < KW; kx++) {
                        double v = src[(oy * ly->s[0] + ky) * W + ox * ly->s[1] + kx];
                        acc = avg ? acc + v : fmax(acc, v);
                    }
                y->data.f[(p * OH + oy) * OW + ox] = avg ? acc / (double)(KH * KW) : acc;
            }
    }
    return y;
}

static he_tensor *polyval(const double *c, int n, const he_tensor *x)
{
    he_tensor *y = he_tensor_new(HE_DT_FLOAT, 0, x->ndim, x->shape);
    if (!y) return NULL;
    for (int64_t i = 0; i < x->size; i++) {
        double v = x->data.f[i], acc = 0;
        for (int k = n - 1; k >= 0; k--) acc = acc * v + c[k];
        y->data.f[i] = acc;
    }
    return y;
}

static he_tensor *binop_t(he_op op, const he_tensor *a, const he_tensor *b)
{
    he_value r;
    if (he_tensor_binop(op, he_objv((he_obj *)&a->obj), he_objv((he_obj *)&b->obj), &r) < 0) return NULL;
    return he_as_tensor(r);
}

static he_tensor *layer_run(const he_layer *ly, const he_tensor *x)
{
    switch (ly->kind) {
    case HE_L_DENSE: {
        if (x->ndim != 2 || x->shape[1] != ly->w->shape[0]) {
            he_error("layer '%s' (%s): input of shape %s, expected [N, %lld]", ly->name, ly->op,
                     he_shape_str(x->ndim, x->shape).s, (long long)ly->w->shape[0]);
            return NULL;
        }
        he_value r;
        if (he_tensor_matmul(x, ly->w, &r) < 0) return NULL;
        he_tensor *y = he_as_tensor(r);
        if (!ly->b) return y;
        he_tensor *z = binop_t(HE_OP_ADD, y, ly->b);
        drop(y);
        return z;
    }
    case HE_L_CONV: return conv2d(ly, x);
    case HE_L_AVGPOOL:
    case HE_L_MAXPOOL: return pool2d(ly, x);
    case HE_L_RELU: return he_tensor_math(HE_MATH_RELU, x);
    case HE_L_SIGMOID: return ly->poly ? polyval(sig_poly, 4, x) : he_tensor_math(HE_MATH_SIGMOID, x);
    case HE_L_TANH: return ly->poly ? polyval(tanh_poly, 4, x) : he_tensor_math(HE_MATH_TANH, x);
    case HE_L_SQUARE: return binop_t(HE_OP_MUL, x, x);
    case HE_L_ADD: return binop_t(HE_OP_ADD, x, ly->w);
    case HE_L_MUL: return binop_t(HE_OP_MUL, x, ly->w);
    case HE_L_FLATTEN: {
        if (ly->axis > x->ndim) {
            he_error("layer '%s' (Flatten): axis %d of a %d-D input", ly->name, ly->axis, x->ndim);
            return NULL;
        }
        int64_t shape[2] = {1, 1};
        for (int i = 0; i < x->ndim; i++) shape[i >= ly->axis] *= x->shape[i];
        return he_tensor_reshape(x, 2, shape);
    }
    case HE_L_RESHAPE: {
        int64_t shape[HE_MAXDIM];
        for (int i = 0; i < ly->ndim; i++) {
            shape[i] = ly->shape[i];
            if (shape[i] == 0) {
                if (i >= x->ndim) {
                    he_error("layer '%s' (Reshape): dimension %d copies one the %d-D input lacks", ly->name, i, x->ndim);
                    return NULL;
                }
                shape[i] = x->shape[i];
            }
        }
        return he_tensor_reshape(x, ly->ndim, shape);
    }
    }
    he_error("layer '%s': unknown kind", ly->name);
    return NULL;
}

he_tensor *he_model_layer_run(const he_model *m, int i, const he_tensor *x)
{
    if (i < 0 || i >= m->nlayers) {
        he_error("model %s: layer %d of %d", m->name, i, m->nlayers);
        return NULL;
    }
    he_tensor *xf = he_tensor_astype(x, HE_DT_FLOAT, 0);
    if (!xf) return NULL;
    he_tensor *y = layer_run(&m->layers[i], xf);
    drop(xf);
    return y;
}

int he_model_layer_affine(const he_model *m, int i, const he_tensor *sample, he_tensor **w, he_tensor **b)
{
    *w = *b = NULL;
    if (i < 0 || i >= m->nlayers) return he_error("model %s: layer %d of %d", m->name, i, m->nlayers);
    const he_layer *ly = &m->layers[i];
    switch (ly->kind) {
    case HE_L_DENSE: case HE_L_CONV: case HE_L_AVGPOOL: case HE_L_ADD: case HE_L_MUL: case HE_L_FLATTEN:
    case HE_L_RESHAPE: break;
    default: return he_error("layer '%s' (%s) is not affine", ly->name, ly->op);
    }
    if (sample->ndim < 1 || sample->shape[0] != 1)
        return he_error("layer '%s': the sample must be a batch of one, got shape %s", ly->name,
                        he_shape_str(sample->ndim, sample->shape).s);
    int64_t F = sample->size;
    /* the basis is (F + 1) x F doubles: 8192 inputs, 0.5 GB */
    if (F > 8192) return he_error("layer '%s': %lld inputs, at most 8192 for a matrix", ly->name, (long long)F);
    /* the basis: F samples, sample k all zeros but for a 1 at k; then the zero sample */
    int64_t shape[HE_MAXDIM];
    memcpy(shape, sample->shape, sizeof shape);
    shape[0] = F + 1;
    he_tensor *basis = he_tensor_new(HE_DT_FLOAT, 0, sample->ndim, shape), *y = NULL;
    if (!basis) return -1;
    for (int64_t k = 0; k < F; k++) basis->data.f[k * F + k] = 1.0;
    int rc = -1;
    if (!(y = layer_run(ly, basis))) goto done;
    if (y->ndim < 1 || y->shape[0] != F + 1) {
        he_error("layer '%s' does not keep the batch axis", ly->name);
        goto done;
    }
    int64_t G = y->size / (F + 1), wshape[2] = {F, G};
    if (!(*w = he_tensor_new(HE_DT_FLOAT, 0, 2, wshape)) || !(*b = he_tensor_new(HE_DT_FLOAT, 0, 1, &G))) goto done;
    const double *zero = y->data.f + F * G;
    memcpy((*b)->data.f, zero, sizeof(double) * (size_t)G);
    for (int64_t k = 0; k < F; k++)
        for (int64_t j = 0; j < G; j++) (*w)->data.f[k * G + j] = y->data.f[k * G + j] - zero[j];
    rc = 0;
done:
    if (rc < 0) {
        drop(*w);
        drop(*b);
        *w = *b = NULL;
    }
    drop(y);
    drop(basis);
    return rc;
}

int he_model_run(const he_model *m, const he_tensor *x, he_tensor **y)
{
    *y = NULL;
    if (x->dtype == HE_DT_BOOL) return he_error("model %s: the input must be a float tensor, got bool", m->name);
    bool ok = m->in_ndim == 0 || x->ndim == m->in_ndim;
    for (int i = 0; ok && i < x->ndim && m->in_ndim; i++) ok = m->in_shape[i] < 0 || m->in_shape[i] == x->shape[i];
    if (!ok) {
        he_buf b = {0};
        he_buf_puts(&b, "[");
        for (int i = 0; i < m->in_ndim; i++) {
            if (m->in_shape[i] < 0) he_buf_printf(&b, "%sN", i ? ", " : "");
            else he_buf_printf(&b, "%s%lld", i ? ", " : "", (long long)m->in_shape[i]);
        }
        he_buf_puts(&b, "]");
        int rc = he_error("model %s: input of shape %s, expected %s", m->name, he_shape_str(x->ndim, x->shape).s,
                          b.data ? b.data : "[]");
        he_buf_free(&b);
        return rc;
    }
    he_tensor *cur = he_tensor_astype(x, HE_DT_FLOAT, 0);
    for (int i = 0; cur && i < m->nlayers; i++) {
        if (he_poll_interrupt() < 0) {
            drop(cur);
            return -1;
        }
        he_tensor *next = layer_run(&m->layers[i], cur);
        drop(cur);
        cur = next;
    }
    if (!cur) return -1;
    *y = cur;
    return 0;
}

/* --- the summary ---------------------------------------------------------------------------- */
static void shape_dims(he_buf *b, int ndim, const int64_t *shape)
{
    he_buf_puts(b, "[");
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) he_buf_printf(b, "%sN", i ? ", " : "");
        else he_buf_printf(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    he_buf_puts(b, "]");
}

int he_model_summary(const he_model *m, he_buf *b)
{
    he_buf_printf(b, "%s model %s from %s: %d layers, %lld parameters\n", m->format[0] ? m->format : "onnx", m->name,
                  m->producer, m->nlayers, (long long)m->nparams);
    he_buf_printf(b, "  input %s ", m->in_name);
    shape_dims(b, m->in_ndim, m->in_shape);
    he_buf_puts(b, "\n");
    for (int i = 0; i < m->nlayers; i++) {
        const he_layer *ly = &m->layers[i];
        he_buf_printf(b, "  %2d %-12s %-12s ", i + 1, ly->name, ly->op);
        switch (ly->kind) {
        case HE_L_DENSE:
            he_buf_printf(b, "dense %lld -> %lld", (long long)ly->w->shape[0], (long long)ly->w->shape[1]);
            break;
        case HE_L_CONV:
            he_buf_printf(b, "conv %lld -> %lld channels, %lldx%lld, stride %lld", (long long)ly->w->shape[1],
                          (long long)ly->w->shape[0], (long long)ly->w->shape[2], (long long)ly->w->shape[3],
                          (long long)ly->s[0]);
            if (ly->s[1] != ly->s[0]) he_buf_printf(b, "x%lld", (long long)ly->s[1]);
            if (ly->pad[1] == ly->pad[0] && ly->pad[2] == ly->pad[0] && ly->pad[3] == ly->pad[0])
                he_buf_printf(b, ", pad %lld", (long long)ly->pad[0]);
            else
                he_buf_printf(b, ", pads %lld %lld %lld %lld (top left bottom right)", (long long)ly->pad[0],
                              (long long)ly->pad[1], (long long)ly->pad[2], (long long)ly->pad[3]);
            break;
        case HE_L_AVGPOOL:
        case HE_L_MAXPOOL:
            he_buf_printf(b, "%s %lldx%lld, stride %lld", ly->kind == HE_L_AVGPOOL ? "avgpool" : "maxpool",
                          (long long)ly->k[0], (long long)ly->k[1], (long long)ly->s[0]);
            break;
        case HE_L_RELU: he_buf_puts(b, "relu"); break;
        case HE_L_SQUARE: he_buf_puts(b, "square"); break;
        case HE_L_SIGMOID:
            he_buf_puts(b, ly->poly ? "sigmoid as 0.5 + 0.15012 x - 0.001593 x^3" : "sigmoid");
            break;
        case HE_L_TANH: he_buf_puts(b, ly->poly ? "tanh as 0.60048 x - 0.025488 x^3" : "tanh"); break;
        case HE_L_ADD:
        case HE_L_MUL:
            he_buf_printf(b, "%s %s", ly->kind == HE_L_ADD ? "add" : "mul", he_shape_str(ly->w->ndim, ly->w->shape).s);
            break;
        case HE_L_FLATTEN: he_buf_printf(b, "flatten from axis %d", ly->axis); break;
        case HE_L_RESHAPE:
            he_buf_puts(b, "reshape [");
            for (int k = 0; k < ly->ndim; k++) he_buf_printf(b, "%s%lld", k ? ", " : "", (long long)ly->shape[k]);
            he_buf_puts(b, "]");
            break;
        }
        if ((ly->kind == HE_L_DENSE || ly->kind == HE_L_CONV) && ly->b) he_buf_puts(b, " + bias");
        if (ly->folded_bn) he_buf_puts(b, ", batch norm folded in");
        he_buf_puts(b, "\n");
    }
    he_buf_printf(b, "  output %s ", m->out_name);
    shape_dims(b, m->out_ndim, m->out_shape);
    if (m->softmax_dropped) he_buf_puts(b, "; its Softmax dropped: logits (the same argmax)");
    if (m->dropped[0]) he_buf_printf(b, "\n  left out (the identity at inference): %s", m->dropped);
    return 0;
}
