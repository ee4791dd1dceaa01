/*
** modules/onnx.c: `import onnx`: models trained elsewhere (runtime/model/):
**
**   let m = onnx.load("model.onnx")        # the layers and weights; print(m) shows them
**   let m = onnx.load("model.onnx", true)  # Sigmoid and Tanh replaced by polynomials
**   let y = onnx.run(m, x)                 # on a plain float batch: the output (logits)
**
** A Softmax at the output is dropped (the model gives logits, whose argmax
** is the same); BatchNormalization is folded into the layer before it.
*/
#include <stdlib.h>

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

static int f_load(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    if (!he_is(a[0], &he_str_type)) return he_error("onnx.load: expected a path (str), got %s", he_typename(a[0]));
    if (n > 1 && a[1].tag != HE_BOOL)
        return he_error("onnx.load: expected a bool (polynomial activations), got %s", he_typename(a[1]));
    unsigned flags = n > 1 && a[1].as.b ? HE_MODEL_POLY : 0;
    he_model *m;
    if (he_model_load_onnx(he_as_str(a[0])->data, flags, &m) < 0) return -1;
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

/* --- static rules ------------------------------------------------------------------------ */
static type *r_load(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "a path (str)");
    if (n > 1) mod_need(c, a[1], t[1], t[1]->kind == T_BOOL, "a bool (polynomial activations)");
    return ty_obj("onnx_model");
}

static type *r_run(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], ty_is_obj(t[0], "onnx_model"), "an onnx model");
    mod_need(c, a[1], t[1], t[1]->kind == T_TENSOR && t[1]->elem != T_BOOL, "a float tensor");
    return ty_tensor(T_FLOAT, 0, -1, NULL);
}

static const builtin fns[] = {
    {"load", NULL, 1, 2, f_load, r_load,
     "load(path [, poly]): an ONNX model (poly: Sigmoid and Tanh replaced by polynomials); print it for its layers"},
    {"run", NULL, 2, 2, f_run, r_run, "run(m, x): the model on a plain float batch x (its Softmax dropped: logits)"},
};

const native_module he_mod_onnx = {
    .name = "onnx",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
