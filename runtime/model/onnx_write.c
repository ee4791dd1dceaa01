/*
** model/onnx_write.c: models built layer by layer (he_model_new,
** he_model_add) and written as ONNX (he_model_save_onnx), with the same
** operators the loader reads, so other tools can check a model trained in
** he. Weights are written as float32 raw data (ONNX's usual form); the
** file goes through the project's atomic writer.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "model/model.h"

he_model *he_model_new(const char *name, int in_ndim, const int64_t *in_shape)
{
    if (in_ndim < 1 || in_ndim > HE_MAXDIM) {
        he_error("model %s: the input must have 1 to %d dimensions, got %d", name, HE_MAXDIM, in_ndim);
        return NULL;
    }
    int64_t known[HE_MAXDIM];
    for (int i = 0; i < in_ndim; i++) known[i] = in_shape[i] < 0 ? 1 : in_shape[i];
    if (he_shape_check(in_ndim, known, "model input", NULL) < 0) return NULL;
    he_model *m = calloc(1, sizeof *m);
    if (!m) {
        he_error("out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->producer, sizeof m->producer, "he");
    snprintf(m->in_name, sizeof m->in_name, "x");
    snprintf(m->out_name, sizeof m->out_name, "y");
    m->in_ndim = in_ndim;
    for (int i = 0; i < in_ndim; i++) m->in_shape[i] = in_shape[i] < 0 ? -1 : in_shape[i];
    return m;
}

int he_model_add(he_model *m, const he_layer *proto)
{
    const he_tensor *w = proto->w, *b = proto->b;
    switch (proto->kind) {
    case HE_L_DENSE:
        if (!w || w->ndim != 2) return he_error("model %s: a dense layer's weight must be 2-D [in, out]", m->name);
        if (b && (b->ndim != 1 || b->shape[0] != w->shape[1]))
            return he_error("model %s: a dense layer's bias must have shape [%lld]", m->name, (long long)w->shape[1]);
        break;
    case HE_L_CONV:
        if (!w || w->ndim != 4) return he_error("model %s: a conv layer's kernel must be 4-D [OC, C, KH, KW]", m->name);
        if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
            return he_error("model %s: a conv layer's bias must have shape [%lld]", m->name, (long long)w->shape[0]);
        for (int i = 0; i < 4; i++)
            if (proto->pad[i] < 0 || proto->pad[i] >= w->shape[2 + i % 2])
                return he_error("model %s: conv padding %lld: 0 to the kernel size - 1", m->name,
                                (long long)proto->pad[i]);
        if (proto->s[0] < 1 || proto->s[1] < 1) return he_error("model %s: conv stride below 1", m->name);
        break;
    case HE_L_AVGPOOL:
    case HE_L_MAXPOOL:
        if (proto->k[0] < 1 || proto->k[1] < 1 || proto->s[0] < 1 || proto->s[1] < 1)
            return he_error("model %s: pooling window and stride must be at least 1", m->name);
        break;
    case HE_L_ADD:
    case HE_L_MUL:
        if (!w) return he_error("model %s: add and mul need a constant", m->name);
        break;
    default: break;
    }
    he_layer *ls = realloc(m->layers, sizeof *ls * (size_t)(m->nlayers + 1));
    if (!ls) return he_error("out of memory");
    m->layers = ls;
    he_layer *ly = &ls[m->nlayers];
    *ly = *proto;
    ly->w = ly->b = NULL;
    if (w) {
        if (!(ly->w = he_tensor_astype(w, HE_DT_FLOAT, 0))) return -1;
        m->nparams += w->size;
    }
    if (b) {
        if (!(ly->b = he_tensor_astype(b, HE_DT_FLOAT, 0))) {
            he_release(he_objv(&ly->w->obj));
            return -1;
        }
        m->nparams += b->size;
    }
    m->nlayers++;
    return 0;
}

/* --- writing -------------------------------------------------------------------------------- */
/* Everything the message tree points at, freed together. */
typedef struct arena {
    void **p;
    size_t n, cap;
    bool failed;
} arena;

static void *ar_alloc(arena *a, size_t size)
{
    if (a->failed) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) {
            a->failed = true;
            return NULL;
        }
        a->p = p;
        a->cap = cap;
    }
    void *r = calloc(1, size ? size : 1);
    if (!r) a->failed = true;
    else a->p[a->n++] = r;
    return r;
}

static char *ar_str(arena *a, const char *fmt, int i)
{
    char *s = ar_alloc(a, 32);
    if (s) snprintf(s, 32, fmt, i);
    return s;
}

static void ar_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
}

static Onnx__TensorProto *tensor_proto(arena *a, const char *name, const he_tensor *t, bool int64)
{
    Onnx__TensorProto *tp = ar_alloc(a, sizeof *tp);
    if (!tp) return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = (char *)name;
    tp->n_dims = (size_t)t->ndim;
    tp->dims = ar_alloc(a, sizeof(int64_t) * (size_t)(t->ndim ? t->ndim : 1));
    uint8_t *raw = ar_alloc(a, (size_t)t->size * (int64 ? 8 : 4));
    if (!tp->dims || !raw) return NULL;
    for (int i = 0; i < t->ndim; i++) tp->dims[i] = t->shape[i];
    tp->has_data_type = 1;
    tp->data_type = int64 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    for (int64_t i = 0; i < t->size; i++) {
        uint64_t u;
        size_t es = int64 ? 8 : 4;
        if (int64) {
            u = (uint64_t)(t->dtype == HE_DT_FLOAT ? (int64_t)t->data.f[i] : t->data.i[i]);
        } else {
            float f = (float)t->data.f[i];
            uint32_t u32;
            memcpy(&u32, &f, 4);
            u = u32;
        }
        for (size_t k = 0; k < es; k++) raw[(size_t)i * es + k] = (uint8_t)(u >> (8 * k)); /* little-endian */
    }
    tp->has_raw_data = 1;
    tp->raw_data.len = (size_t)t->size * (int64 ? 8 : 4);
    tp->raw_data.data = raw;
    return tp;
}

static Onnx__AttributeProto *attr_ints(arena *a, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *at = ar_alloc(a, sizeof *at);
    int64_t *iv = ar_alloc(a, sizeof(int64_t) * n);
    if (!at || !iv) return NULL;
    onnx__attribute_proto__init(at);
    at->name = (char *)name;
    at->has_type = 1;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    memcpy(iv, v, sizeof(int64_t) * n);
    at->n_ints = n;
    at->ints = iv;
    return at;
}

static Onnx__AttributeProto *attr_int(arena *a, const char *name, int64_t v)
{
    Onnx__AttributeProto *at = ar_alloc(a, sizeof *at);
    if (!at) return NULL;
    onnx__attribute_proto__init(at);
    at->name = (char *)name;
    at->has_type = 1;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    at->has_i = 1;
    at->i = v;
    return at;
}

static Onnx__ValueInfoProto *value_info(arena *a, const char *name, int ndim, const int64_t *shape)
{
    Onnx__ValueInfoProto *v = ar_alloc(a, sizeof *v);
    Onnx__TypeProto *tp = ar_alloc(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ar_alloc(a, sizeof *tt);
    Onnx__TensorShapeProto *sp = ar_alloc(a, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = ar_alloc(a, sizeof *dims * (size_t)(ndim ? ndim : 1));
    if (!v || !tp || !tt || !sp || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = ar_alloc(a, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (shape[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "N";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = shape[i];
        }
        dims[i] = d;
    }
    sp->n_dim = (size_t)ndim;
    sp->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = (char *)name;
    v->type = tp;
    return v;
}

static int build(arena *a, const he_model *m, Onnx__ModelProto *mp)
{
    Onnx__GraphProto *g = ar_alloc(a, sizeof *g);
    int L = m->nlayers;
    Onnx__NodeProto **nodes = ar_alloc(a, sizeof *nodes * (size_t)L);
    Onnx__TensorProto **inits = ar_alloc(a, sizeof *inits * (size_t)(2 * L));
    Onnx__ValueInfoProto **in = ar_alloc(a, sizeof *in), **out = ar_alloc(a, sizeof *out);
    if (!g || !nodes || !inits || !in || !out) return -1;
    onnx__graph_proto__init(g);
    size_t ninit = 0;
    const char *prev = "x";
    for (int i = 0; i < L; i++) {
        const he_layer *ly = &m->layers[i];
        Onnx__NodeProto *n = ar_alloc(a, sizeof *n);
        char **ins = ar_alloc(a, sizeof(char *) * 3), **outs = ar_alloc(a, sizeof(char *));
        Onnx__AttributeProto **ats = ar_alloc(a, sizeof *ats * 4);
        if (!n || !ins || !outs || !ats) return -1;
        onnx__node_proto__init(n);
        n->name = ly->name[0] ? (char *)ly->name : ar_str(a, "layer%d", i + 1);
        outs[0] = i == L - 1 ? "y" : ar_str(a, "h%d", i + 1);
        if (!n->name || !outs[0]) return -1;
        ins[0] = (char *)prev;
        size_t nin = 1, nat = 0;
        if (ly->w) {
            ins[nin] = ar_str(a, "w%d", i + 1);
            if (!ins[nin] || !(inits[ninit++] = tensor_proto(a, ins[nin], ly->w, false))) return -1;
            nin++;
        }
        if (ly->b) {
            ins[nin] = ar_str(a, "b%d", i + 1);
            if (!ins[nin] || !(inits[ninit++] = tensor_proto(a, ins[nin], ly->b, false))) return -1;
            nin++;
        }
        switch (ly->kind) {
        case HE_L_DENSE: n->op_type = "Gemm"; break;
        case HE_L_CONV: {
            n->op_type = "Conv";
            int64_t ks[2] = {ly->w->shape[2], ly->w->shape[3]};
            if (!(ats[nat++] = attr_ints(a, "kernel_shape", ks, 2)) || !(ats[nat++] = attr_ints(a, "strides", ly->s, 2)) ||
                !(ats[nat++] = attr_ints(a, "pads", ly->pad, 4)))
                return -1;
            break;
        }
        case HE_L_AVGPOOL:
        case HE_L_MAXPOOL:
            n->op_type = ly->kind == HE_L_AVGPOOL ? "AveragePool" : "MaxPool";
            if (!(ats[nat++] = attr_ints(a, "kernel_shape", ly->k, 2)) || !(ats[nat++] = attr_ints(a, "strides", ly->s, 2)))
                return -1;
            break;
        case HE_L_RELU: n->op_type = "Relu"; break;
        case HE_L_SQUARE:
            n->op_type = "Mul";
            ins[nin++] = (char *)prev;
            break;
        case HE_L_SIGMOID:
        case HE_L_TANH:
            if (ly->poly)
                return he_error("model %s: layer '%s' is a polynomial %s, which ONNX has no operator for; save the "
                                "model loaded with exact activations", m->name, ly->name,
                                ly->kind == HE_L_SIGMOID ? "sigmoid" : "tanh");
            n->op_type = ly->kind == HE_L_SIGMOID ? "Sigmoid" : "Tanh";
            break;
        case HE_L_ADD: n->op_type = "Add"; break;
        case HE_L_MUL: n->op_type = "Mul"; break;
        case HE_L_FLATTEN:
            n->op_type = "Flatten";
            if (!(ats[nat++] = attr_int(a, "axis", ly->axis))) return -1;
            break;
        case HE_L_RESHAPE: {
            n->op_type = "Reshape";
            int64_t nd = ly->ndim;
            he_tensor *s = he_tensor_new(HE_DT_INT, 0, 1, &nd);
            if (!s) return -1;
            for (int k = 0; k < ly->ndim; k++) s->data.i[k] = ly->shape[k];
            ins[nin] = ar_str(a, "shape%d", i + 1);
            inits[ninit] = ins[nin] ? tensor_proto(a, ins[nin], s, true) : NULL;
            he_release(he_objv(&s->obj));
            if (!inits[ninit++]) return -1;
            nin++;
            break;
        }
        }
        n->n_input = nin;
        n->input = ins;
        n->n_output = 1;
        n->output = outs;
        n->n_attribute = nat;
        n->attribute = ats;
        nodes[i] = n;
        prev = outs[0];
    }
    int64_t oshape[2] = {-1, -1};
    if (!(in[0] = value_info(a, "x", m->in_ndim, m->in_shape)) ||
        !(out[0] = m->out_ndim ? value_info(a, "y", m->out_ndim, m->out_shape) : value_info(a, "y", 2, oshape)))
        return -1;
    g->name = (char *)m->name;
    g->n_node = (size_t)L;
    g->node = nodes;
    g->n_initializer = ninit;
    g->initializer = inits;
    g->n_input = 1;
    g->input = in;
    g->n_output = 1;
    g->output = out;
    Onnx__OperatorSetIdProto *ops = ar_alloc(a, sizeof *ops);
    Onnx__OperatorSetIdProto **opsv = ar_alloc(a, sizeof *opsv);
    if (!ops || !opsv) return -1;
    onnx__operator_set_id_proto__init(ops);
    ops->domain = "";
    ops->has_version = 1;
    ops->version = 13;
    opsv[0] = ops;
    mp->has_ir_version = 1;
    mp->ir_version = 8;
    mp->producer_name = "he";
    mp->n_opset_import = 1;
    mp->opset_import = opsv;
    mp->graph = g;
    return 0;
}

int he_model_save_onnx(const he_model *m, const char *path)
{
    if (m->nlayers == 0) return he_error("%s: model %s has no layers", path, m->name);
    arena a = {0};
    Onnx__ModelProto mp;
    onnx__model_proto__init(&mp);
    int rc = build(&a, m, &mp);
    if (a.failed) rc = he_error("out of memory");
    if (rc == 0) {
        size_t len = onnx__model_proto__get_packed_size(&mp);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) rc = he_error("out of memory");
        else {
            onnx__model_proto__pack(&mp, buf);
            rc = he_file_write(path, buf, len, 0, "onnx.save");
            free(buf);
        }
    }
    ar_free(&a);
    return rc;
}
