/*
** modules/onnx.c: `import onnx`: models trained elsewhere (runtime/model/):
**
**   let m = onnx.load("model.onnx")        # the layers and weights; print(m) shows them
**   let m = onnx.load("model.onnx", true)  # Sigmoid and Tanh replaced by polynomials
**   let m = onnx.load("model.h5")          # a Keras model.save file (HDF5) into the same model value
**   let m = onnx.keras("weights.h5", "model.json")  # save_weights' file and model.to_json()
**   let y = onnx.run(m, x)                 # on a plain float batch: the output (logits)
**
** A Softmax at the output is dropped (the model gives logits, whose argmax
** is the same); BatchNormalization is folded into the layer before it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "model/model.h"
#include "modutil.h"

typedef struct model_obj {
    he_obj obj;
    he_model *m;
} model_obj;

static void model_free(he_obj *o)
{
    he_model_free(((model_obj *)o)->m);
    free(o);
}

static int model_repr(const he_obj *o, he_buf *b) { return he_model_summary(((const model_obj *)o)->m, b); }

static const he_type model_type = {.name = "onnx_model", .free = model_free, .repr = model_repr};

static int wrap(he_model *m, he_value *out)
{
    model_obj *o = malloc(sizeof *o);
    if (!o) {
        he_model_free(m);
        return he_error("out of memory");
    }
    he_obj_init(&o->obj, &model_type);
    o->m = m;
    *out = he_objv(&o->obj);
    return 0;
}

/* An ONNX file, or a Keras HDF5 file (by its signature) with the
** architecture arch (JSON text; NULL: the file's own). */
static int load_any(const char *path, const char *arch, const char *arch_what, unsigned flags, he_value *out)
{
    uint8_t *buf;
    size_t len;
    if (he_file_read(path, (size_t)HE_MODEL_MAXFILE, arch ? "keras model" : "onnx model", &buf, &len) < 0) return -1;
    he_model *m;
    int rc;
    if (he_model_is_hdf5(buf, len)) rc = he_model_parse_keras(buf, len, path, arch, arch_what, flags, &m);
    else if (arch) rc = he_error("%s: not a Keras HDF5 file (onnx.keras reads those; onnx.load reads ONNX)", path);
    else rc = he_model_parse_onnx(buf, len, path, flags, &m);
    he_free(buf);
    return rc < 0 ? -1 : wrap(m, out);
}

static int f_load(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!he_is(a[0], &he_str_type)) return he_error("onnx.load: expected a path (str), got %s", he_typename(a[0]));
    if (n > 1 && a[1].tag != HE_BOOL)
        return he_error("onnx.load: expected a bool (polynomial activations), got %s", he_typename(a[1]));
    return load_any(he_as_str(a[0])->data, NULL, NULL, n > 1 && a[1].as.b ? HE_MODEL_POLY : 0, out);
}

/* keras(weights.h5, arch [, poly]): arch the JSON of model.to_json(), as a
** file's path or (starting with '{') the text itself. */
static int f_keras(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!he_is(a[0], &he_str_type)) return he_error("onnx.keras: expected a path (str), got %s", he_typename(a[0]));
    if (!he_is(a[1], &he_str_type))
        return he_error("onnx.keras: expected the architecture (a .json path or JSON text), got %s", he_typename(a[1]));
    if (n > 2 && a[2].tag != HE_BOOL)
        return he_error("onnx.keras: expected a bool (polynomial activations), got %s", he_typename(a[2]));
    unsigned flags = n > 2 && a[2].as.b ? HE_MODEL_POLY : 0;
    const char *arch = he_as_str(a[1])->data;
    const char *p = arch + strspn(arch, " \t\r\n");
    if (*p == '{') return load_any(he_as_str(a[0])->data, arch, "the architecture", flags, out);
    uint8_t *buf;
    size_t len;
    if (he_file_read(arch, (size_t)HE_MODEL_MAXFILE, "keras architecture", &buf, &len) < 0) return -1;
    int rc = load_any(he_as_str(a[0])->data, (const char *)buf, arch, flags, out);
    he_free(buf);
    return rc;
}

static int f_run(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    model_obj *o = mod_want(a[0], &model_type, "onnx", "run", "an onnx model");
    if (!o) return -1;
    if (!he_is_tensor(a[1])) return he_error("onnx.run: expected a tensor, got %s", he_typename(a[1]));
    he_tensor *y;
    if (he_model_run(o->m, he_as_tensor(a[1]), &y) < 0) return -1;
    *out = he_objv(&y->obj);
    return 0;
}

/* --- the layers, for running the model on other values (stdlib/model.he) --------------- */
static const char *const kind_names[] = {"dense", "conv", "avgpool", "maxpool", "relu", "square",
                                         "sigmoid", "tanh", "add", "mul", "flatten", "reshape"};

/* The model and layer i of a call (m, i, ...). */
static const he_layer *layer_arg(he_value *a, const char *fn, const he_model **mp)
{
    model_obj *o = mod_want(a[0], &model_type, "onnx", fn, "an onnx model");
    if (!o) return NULL;
    if (a[1].tag != HE_INT) {
        he_error("onnx.%s: expected a layer number (int), got %s", fn, he_typename(a[1]));
        return NULL;
    }
    if (a[1].as.i < 0 || a[1].as.i >= o->m->nlayers) {
        he_error("onnx.%s: layer %lld of a model of %d layers", fn, (long long)a[1].as.i, o->m->nlayers);
        return NULL;
    }
    if (mp) *mp = o->m;
    return &o->m->layers[a[1].as.i];
}

static int f_layers(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    model_obj *o = mod_want(a[0], &model_type, "onnx", "layers", "an onnx model");
    if (!o) return -1;
    *out = he_int(o->m->nlayers);
    return 0;
}

static int f_kind(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_layer *ly = layer_arg(a, "kind", NULL);
    if (!ly) return -1;
    char k[32];
    snprintf(k, sizeof k, "%s%s", kind_names[ly->kind], ly->poly ? "_poly" : "");
    he_str *s = he_str_new(k, strlen(k));
    if (!s) return he_error("out of memory");
    *out = he_objv(&s->obj);
    return 0;
}

/* weight(m, i) (the layer's tensor) and bias(m, i) (zeros when it has none). */
static int weight_or_bias(he_value *a, bool bias, he_value *out)
{
    const char *fn = bias ? "bias" : "weight";
    const he_layer *ly = layer_arg(a, fn, NULL);
    if (!ly) return -1;
    if (!ly->w) return he_error("onnx.%s: layer '%s' (%s) has no weights", fn, ly->name, kind_names[ly->kind]);
    if (bias && ly->kind != HE_L_DENSE && ly->kind != HE_L_CONV)
        return he_error("onnx.bias: layer '%s' (%s) has no bias", ly->name, kind_names[ly->kind]);
    he_tensor *t = ly->w;
    if (bias) {
        int64_t nout = ly->kind == HE_L_CONV ? ly->w->shape[0] : ly->w->shape[1];
        t = ly->b ? he_tensor_copy(ly->b) : he_tensor_new(HE_DT_FLOAT, 0, 1, &nout);
        if (!t) return -1;
    } else {
        he_retain(he_objv(&t->obj));
    }
    *out = he_objv(&t->obj);
    return 0;
}

static int f_weight(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; (void)n; return weight_or_bias(a, false, out); }
static int f_bias(he_vm *vm, he_value *a, int n, he_value *out) { (void)vm; (void)n; return weight_or_bias(a, true, out); }

/* param(m, i, "stride" | "pad" | "k" | "axis"): one int; the same in both
** directions (square windows, equal strides, symmetric pads), else an error. */
static int f_param(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_layer *ly = layer_arg(a, "param", NULL);
    if (!ly) return -1;
    if (!he_is(a[2], &he_str_type)) return he_error("onnx.param: expected a name (str), got %s", he_typename(a[2]));
    const char *p = he_as_str(a[2])->data;
    const int64_t *v;
    int cnt;
    if (strcmp(p, "sympad") == 0) { /* the symmetric pad of sym_kernel */
        int64_t P = 0;
        for (int i = 0; i < 4; i++) P = ly->pad[i] > P ? ly->pad[i] : P;
        *out = he_int(P);
        return 0;
    }
    if (strcmp(p, "stride") == 0) v = ly->s, cnt = 2;
    else if (strcmp(p, "pad") == 0) v = ly->pad, cnt = 4;
    else if (strcmp(p, "k") == 0) v = ly->kind == HE_L_CONV ? ly->w->shape + 2 : ly->k, cnt = 2;
    else if (strcmp(p, "axis") == 0) {
        *out = he_int(ly->axis);
        return 0;
    } else return he_error("onnx.param: no parameter '%s' (stride, pad, sympad, k, axis)", p);
    for (int i = 1; i < cnt; i++)
        if (v[i] != v[0])
            return he_error("onnx.param: layer '%s' (%s) has %s %lld and %lld: only the same in each direction is "
                            "supported here", ly->name, kind_names[ly->kind], p, (long long)v[0], (long long)v[i]);
    *out = he_int(v[0]);
    return 0;
}

/* sym_kernel(m, i): a conv layer's kernel with rows and columns of zeros
** around it, so that a convolution with the same pad P = param(m, i,
** "sympad") on every side computes the layer with its pads (t, l, b, r):
** P - t zero rows before the kernel and P - b after it (columns likewise).
** The windows then start where the layer's start and their number is the
** same. The kernel itself when the pads are equal. */
static int f_sym_kernel(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_layer *ly = layer_arg(a, "sym_kernel", NULL);
    if (!ly) return -1;
    if (ly->kind != HE_L_CONV) return he_error("onnx.sym_kernel: layer '%s' is not a conv", ly->name);
    const he_tensor *w = ly->w;
    int64_t P = 0;
    for (int i = 0; i < 4; i++) P = ly->pad[i] > P ? ly->pad[i] : P;
    int64_t t = P - ly->pad[0], l = P - ly->pad[1];
    int64_t KH = w->shape[2], KW = w->shape[3];
    int64_t shape[4] = {w->shape[0], w->shape[1], KH + t + P - ly->pad[2], KW + l + P - ly->pad[3]};
    he_tensor *k = he_tensor_new(HE_DT_FLOAT, 0, 4, shape);
    if (!k) return -1;
    for (int64_t p = 0; p < shape[0] * shape[1]; p++)
        for (int64_t y = 0; y < KH; y++)
            for (int64_t x = 0; x < KW; x++)
                k->data.f[(p * shape[2] + y + t) * shape[3] + x + l] = w->data.f[(p * KH + y) * KW + x];
    *out = he_objv(&k->obj);
    return 0;
}

/* shape(m, i): a reshape layer's target shape (int tensor; 0 copies, -1 is inferred). */
static int f_shape(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_layer *ly = layer_arg(a, "shape", NULL);
    if (!ly) return -1;
    if (ly->kind != HE_L_RESHAPE) return he_error("onnx.shape: layer '%s' is not a reshape", ly->name);
    int64_t nd = ly->ndim;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &nd);
    if (!t) return -1;
    for (int i = 0; i < ly->ndim; i++) t->data.i[i] = ly->shape[i];
    *out = he_objv(&t->obj);
    return 0;
}

/* run_layer(m, i, x): layer i alone on the plain batch x. */
static int f_run_layer(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_model *m;
    if (!layer_arg(a, "run_layer", &m)) return -1;
    if (!he_is_tensor(a[2])) return he_error("onnx.run_layer: expected a tensor, got %s", he_typename(a[2]));
    he_tensor *y = he_model_layer_run(m, (int)a[1].as.i, he_as_tensor(a[2]));
    if (!y) return -1;
    *out = he_objv(&y->obj);
    return 0;
}

/* affine(m, i, sample): [W, b] stacked as one [in + 1, out] tensor (the last
** row is b): layer i as y = x @ W + b on flattened samples of sample's shape. */
static int f_affine(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const he_model *m;
    if (!layer_arg(a, "affine", &m)) return -1;
    if (!he_is_tensor(a[2])) return he_error("onnx.affine: expected a tensor, got %s", he_typename(a[2]));
    he_tensor *w, *b;
    if (he_model_layer_affine(m, (int)a[1].as.i, he_as_tensor(a[2]), &w, &b) < 0) return -1;
    int64_t shape[2] = {w->shape[0] + 1, w->shape[1]};
    he_tensor *r = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
    if (r) {
        memcpy(r->data.f, w->data.f, sizeof(double) * (size_t)w->size);
        memcpy(r->data.f + w->size, b->data.f, sizeof(double) * (size_t)b->size);
    }
    he_release(he_objv(&w->obj));
    he_release(he_objv(&b->obj));
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* --- building and saving ----------------------------------------------------------------- */
/* new(name, input_shape): an empty model (input_shape an int tensor, -1 for the batch). */
static int f_new(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    if (!he_is(a[0], &he_str_type)) return he_error("onnx.new: expected a name (str), got %s", he_typename(a[0]));
    if (!he_is_tensor(a[1]) || he_as_tensor(a[1])->dtype != HE_DT_INT || he_as_tensor(a[1])->ndim != 1)
        return he_error("onnx.new: expected the input shape (1-D int tensor), got %s", he_typename(a[1]));
    he_tensor *s = he_as_tensor(a[1]);
    if (s->size < 1 || s->size > HE_MAXDIM) return he_error("onnx.new: the input shape has 1 to %d values", HE_MAXDIM);
    he_model *m = he_model_new(he_as_str(a[0])->data, (int)s->size, s->data.i);
    return m ? wrap(m, out) : -1;
}

static int int_arg(he_value *a, int n, int i, const char *what, int64_t def, int64_t *out)
{
    *out = def;
    if (i >= n) return 0;
    if (a[i].tag != HE_INT) return he_error("onnx.append: expected %s (int), got %s", what, he_typename(a[i]));
    if (a[i].as.i < 0 || a[i].as.i > 1 << 20) return he_error("onnx.append: %s %lld out of range", what, (long long)a[i].as.i);
    *out = a[i].as.i;
    return 0;
}

static he_tensor *tensor_arg(he_value *a, int n, int i, const char *what)
{
    if (i >= n || !he_is_tensor(a[i]) || he_as_tensor(a[i])->dtype == HE_DT_BOOL) {
        he_error("onnx.append: expected %s (a float tensor)", what);
        return NULL;
    }
    return he_as_tensor(a[i]);
}

/* append(m, kind, ...): dense w b | conv w b [stride [pad | [t, l, b, r]]] | avgpool k [stride] |
** maxpool k [stride] | relu | square | sigmoid | tanh | flatten | add c | mul c. */
static int f_append(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    model_obj *o = mod_want(a[0], &model_type, "onnx", "append", "an onnx model");
    if (!o) return -1;
    if (!he_is(a[1], &he_str_type)) return he_error("onnx.append: expected a layer kind (str), got %s", he_typename(a[1]));
    const char *k = he_as_str(a[1])->data;
    he_layer ly = {0};
    int kind = -1;
    for (int i = 0; i < (int)(sizeof kind_names / sizeof kind_names[0]); i++)
        if (strcmp(k, kind_names[i]) == 0) kind = i;
    if (kind < 0 || kind == HE_L_RESHAPE)
        return he_error("onnx.append: no layer kind '%s' (dense conv avgpool maxpool relu square sigmoid tanh add mul "
                        "flatten)", k);
    ly.kind = (he_layer_kind)kind;
    snprintf(ly.name, sizeof ly.name, "%s%d", k, o->m->nlayers + 1);
    snprintf(ly.op, sizeof ly.op, "%s", k);
    int64_t v;
    switch (ly.kind) {
    case HE_L_DENSE:
    case HE_L_CONV:
        if (!(ly.w = tensor_arg(a, n, 2, "the weight")) || !(ly.b = tensor_arg(a, n, 3, "the bias"))) return -1;
        if (ly.kind == HE_L_CONV) {
            if (int_arg(a, n, 4, "the stride", 1, &v) < 0) return -1;
            ly.s[0] = ly.s[1] = v;
            if (n > 5 && he_is_tensor(a[5])) { /* [top, left, bottom, right] */
                const he_tensor *p = he_as_tensor(a[5]);
                if (p->dtype != HE_DT_INT || p->ndim != 1 || p->size != 4)
                    return he_error("onnx.append: the padding is an int or 4 ints [top, left, bottom, right]");
                for (int i = 0; i < 4; i++) {
                    if (p->data.i[i] < 0 || p->data.i[i] > 1 << 20)
                        return he_error("onnx.append: padding %lld out of range", (long long)p->data.i[i]);
                    ly.pad[i] = p->data.i[i];
                }
            } else {
                if (int_arg(a, n, 5, "the padding", 0, &v) < 0) return -1;
                ly.pad[0] = ly.pad[1] = ly.pad[2] = ly.pad[3] = v;
            }
        }
        break;
    case HE_L_AVGPOOL:
    case HE_L_MAXPOOL:
        if (n < 3) return he_error("onnx.append: %s needs its window size", k);
        if (int_arg(a, n, 2, "the window size", 1, &v) < 0) return -1;
        ly.k[0] = ly.k[1] = v;
        if (int_arg(a, n, 3, "the stride", v, &v) < 0) return -1;
        ly.s[0] = ly.s[1] = v;
        break;
    case HE_L_ADD:
    case HE_L_MUL:
        if (!(ly.w = tensor_arg(a, n, 2, "the constant"))) return -1;
        break;
    case HE_L_FLATTEN: ly.axis = 1; break;
    default: break;
    }
    if (he_model_add(o->m, &ly) < 0) return -1;
    *out = he_int(o->m->nlayers);
    return 0;
}

static int f_save(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    model_obj *o = mod_want(a[0], &model_type, "onnx", "save", "an onnx model");
    if (!o) return -1;
    if (!he_is(a[1], &he_str_type)) return he_error("onnx.save: expected a path (str), got %s", he_typename(a[1]));
    if (he_model_save_onnx(o->m, he_as_str(a[1])->data) < 0) return -1;
    *out = he_nil();
    return 0;
}

/* --- static rules ------------------------------------------------------------------------ */
static type *r_load(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "a path (str)");
    if (n > 1) mod_need(c, a[1], t[1], t[1]->kind == T_BOOL, "a bool (polynomial activations)");
    return ty_obj("onnx_model");
}

static type *r_keras(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "a path (str)");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "the architecture (a .json path or JSON text)");
    if (n > 2) mod_need(c, a[2], t[2], t[2]->kind == T_BOOL, "a bool (polynomial activations)");
    return ty_obj("onnx_model");
}

static type *r_run(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL, "a float tensor");
    return ty_tensor(T_FLOAT, 0, -1, NULL);
}

static type *r_layers(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    return ty_int;
}

static type *r_layer(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_INT, "a layer number (int)");
    if (n > 2) mod_need(c, a[2], t[2], t[2]->kind == T_STR, "a parameter name (str)");
    if (strcmp(fn, "kind") == 0) return ty_str;
    if (strcmp(fn, "param") == 0) return ty_int;
    if (strcmp(fn, "shape") == 0) return ty_tensor(T_INT, 0, 1, NULL);
    return ty_tensor(T_FLOAT, 0, -1, NULL);
}

static type *r_layer2(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_INT, "a layer number (int)");
    mod_need(c, a[2], t[2], t[2]->kind == T_TENSOR && t[2]->elem != T_BOOL, "a float tensor");
    return ty_tensor(T_FLOAT, 0, -1, NULL);
}

static type *r_new(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "a name (str)");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem == T_INT, "the input shape (int tensor)");
    return ty_obj("onnx_model");
}

static type *r_append(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a layer kind (str)");
    return ty_int;
}

static type *r_save(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a path (str)");
    return ty_void;
}

static const builtin fns[] = {
    {"load", NULL, 1, 2, f_load, r_load,
     "load(path [, poly]): an ONNX model or a Keras HDF5 file (model.save) (poly: Sigmoid and Tanh replaced by "
     "polynomials); print it for its layers"},
    {"keras", NULL, 2, 3, f_keras, r_keras,
     "keras(path, arch [, poly]): Keras weights (save_weights' HDF5 file) with the architecture arch, the JSON of "
     "model.to_json() (a .json path, or the JSON text)"},
    {"run", NULL, 2, 2, f_run, r_run, "run(m, x): the model on a plain float batch x (its Softmax dropped: logits)"},
    {"new", NULL, 2, 2, f_new, r_new, "new(name, input_shape): an empty model to append layers to (-1: the batch)"},
    {"append", NULL, 2, 6, f_append, r_append,
     "append(m, kind, ...): dense w b | conv w b [stride [pad | [top, left, bottom, right]]] | avgpool k [stride] | maxpool k [stride] | relu | "
     "square | sigmoid | tanh | add c | mul c | flatten; gives the number of layers"},
    {"save", NULL, 2, 2, f_save, r_save, "save(m, path): the model as an ONNX file (opset 13, float32 weights)"},
    {"layers", NULL, 1, 1, f_layers, r_layers, "layers(m): the number of layers"},
    {"kind", NULL, 2, 2, f_kind, r_layer,
     "kind(m, i): layer i's kind: dense conv avgpool maxpool relu square sigmoid[_poly] tanh[_poly] add mul flatten reshape"},
    {"weight", NULL, 2, 2, f_weight, r_layer, "weight(m, i): layer i's weights (dense [in, out], conv [OC, C, KH, KW], add/mul operand)"},
    {"bias", NULL, 2, 2, f_bias, r_layer, "bias(m, i): a dense or conv layer's bias (zeros when it has none)"},
    {"param", NULL, 3, 3, f_param, r_layer, "param(m, i, name): stride, pad, sympad (the largest pad), k (window) or axis of layer i"},
    {"shape", NULL, 2, 2, f_shape, r_layer, "shape(m, i): a reshape layer's target shape"},
    {"sym_kernel", NULL, 2, 2, f_sym_kernel, r_layer,
     "sym_kernel(m, i): a conv layer's kernel padded with zeros so that a convolution with the pad param(m, i, "
     "\"sympad\") on every side computes the layer (uneven pads, e.g. Keras' same)"},
    {"run_layer", NULL, 3, 3, f_run_layer, r_layer2, "run_layer(m, i, x): layer i alone on the plain batch x"},
    {"affine", NULL, 3, 3, f_affine, r_layer2,
     "affine(m, i, sample): an affine layer as [W; b] ([in + 1, out]) on flattened samples shaped as sample (batch 1)"},
};

const native_module he_mod_onnx = {
    .name = "onnx",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
