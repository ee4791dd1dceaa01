/*
** model/model.h: neural-network models trained elsewhere, as a sequence
** of layers with their weights as tensors.
**
** ONNX files (protobuf, read through protobuf-c with the schema of
** Debian's libonnx-dev, see model.c) become a he_model: the graph must be
** a chain (each node takes the previous node's output and constants), of
** these operators:
**
**   Gemm, MatMul (constant right-hand side)   dense: x @ w (+ b)
**   Add, Mul with a constant                  add, mul (broadcast)
**   Mul(x, x), Pow(x, 2)                      square
**   Conv (strides, pads, group = 1)           conv (+ b)
**   AveragePool, MaxPool (no pads)            avgpool, maxpool
**   Relu, Sigmoid, Tanh                       exact, or polynomials (HE_MODEL_POLY)
**   Flatten, Reshape (constant shape)         flatten, reshape
**   BatchNormalization                        folded into the conv or dense before it
**   Softmax (last node only)                  dropped: the model gives logits
**   Constant                                  a constant for the nodes after it
**
** Anything else is refused with the operator, the node's name and what to
** do. Every size read from the file is bounded (he_shape_check) and every
** length checked against it: a damaged file is an error, never a crash.
*/
#ifndef HE_MODEL_H
#define HE_MODEL_H

#include "tensor.h"

typedef enum he_layer_kind {
    HE_L_DENSE,   /* y = x @ w + b: w [in, out], b [out] or NULL */
    HE_L_CONV,    /* w [OC, C, KH, KW], b [OC] or NULL, s, pad */
    HE_L_AVGPOOL, /* k, s */
    HE_L_MAXPOOL, /* k, s */
    HE_L_RELU,
    HE_L_SQUARE,
    HE_L_SIGMOID, /* exact, or HE_SIGMOID_POLY when poly */
    HE_L_TANH,    /* exact, or HE_TANH_POLY when poly */
    HE_L_ADD,     /* y = x + w (broadcast) */
    HE_L_MUL,     /* y = x * w (broadcast) */
    HE_L_FLATTEN, /* axis */
    HE_L_RESHAPE, /* ndim, shape (0: copy the dimension, -1: inferred) */
} he_layer_kind;

/* The polynomials that replace Sigmoid and Tanh with HE_MODEL_POLY
** (coefficients of x^0, x^1, ...): the least-squares cubic of the sigmoid
** on [-8, 8] (Kim et al. 2018, stdlib/nn.he's ls_sigmoid3), and tanh(x) =
** 2 sigmoid(2x) - 1 from it, on [-4, 4]. */
#define HE_SIGMOID_POLY {0.5, 0.15012, 0.0, -0.001593}
#define HE_TANH_POLY {0.0, 0.60048, 0.0, -0.025488}

typedef struct he_layer {
    he_layer_kind kind;
    char name[64]; /* the ONNX node's name (or "#i" when it has none) */
    char op[32];   /* its operator */
    he_tensor *w, *b;
    int64_t k[2], s[2], pad[4]; /* pad: top, left, bottom, right */
    int axis;
    int ndim;
    int64_t shape[HE_MAXDIM];
    bool poly;      /* sigmoid/tanh: replaced by the polynomial */
    bool folded_bn; /* a BatchNormalization was folded into this layer */
} he_layer;

typedef struct he_model {
    char name[64], producer[64];
    char in_name[64], out_name[64];
    int in_ndim, out_ndim;
    int64_t in_shape[HE_MAXDIM], out_shape[HE_MAXDIM]; /* -1: any (a named dimension) */
    int nlayers;
    he_layer *layers;
    int64_t nparams;
    bool softmax_dropped;
    char format[16];    /* "keras" for a Keras file; empty: onnx */
    char dropped[192];  /* layers left out at inference (Keras' Dropout), for the summary */
} he_model;

#define HE_MODEL_POLY 1u        /* Sigmoid, Tanh: the polynomials above */
#define HE_MODEL_MAXNODES 4096  /* nodes and constants in one graph */
#define HE_MODEL_MAXFILE (INT64_C(1) << 30)

/* Loads an ONNX file (or len bytes in memory; `what` names them in
** messages). 0 / -1 (he_error names the file and what is wrong). */
int he_model_load_onnx(const char *path, unsigned flags, he_model **out) HE_WARN_UNUSED;
int he_model_parse_onnx(const uint8_t *buf, size_t len, const char *what, unsigned flags,
                        he_model **out) HE_WARN_UNUSED;
void he_model_free(he_model *m);

/* Loads a Keras HDF5 file (model.save's: the architecture in the file; or
** save_weights': arch, the JSON of model.to_json(), named arch_what in
** messages) into the same model value, channels first (model/keras.c).
** Keras' layers: InputLayer, Conv2D, Dense, MaxPooling2D,
** AveragePooling2D, Flatten, Activation, ReLU, BatchNormalization
** (folded), Dropout (the identity at inference), Softmax at the output
** (dropped). 0 / -1. */
int he_model_load_keras(const char *path, const char *arch, const char *arch_what, unsigned flags,
                        he_model **out) HE_WARN_UNUSED;
int he_model_parse_keras(const uint8_t *buf, size_t len, const char *what, const char *arch, const char *arch_what,
                         unsigned flags, he_model **out) HE_WARN_UNUSED;
/* Whether buf starts with HDF5's signature. */
bool he_model_is_hdf5(const uint8_t *buf, size_t len);

/* Folds a batch normalization (p: scale, bias, mean, variance, one value
** per channel) into layer i, a conv or dense: its weights and bias
** rescaled. `who` begins messages (the file and the layer). */
int he_model_fold_bn(he_model *m, int i, const he_tensor *const p[4], double eps, const char *who) HE_WARN_UNUSED;

/* Runs the model on x (a batch with the input's shape; int and fixed are
** converted): *y a new float tensor. */
int he_model_run(const he_model *m, const he_tensor *x, he_tensor **y) HE_WARN_UNUSED;

/* Layer i alone on x (a batch), as he_model_run runs it. */
he_tensor *he_model_layer_run(const he_model *m, int i, const he_tensor *x);

/* An affine layer (dense, conv, avgpool, add, mul, flatten, reshape) as a
** matrix on flattened samples: for a sample shape given by `sample` (a
** batch of one), y = x @ *w + *b with x and y flattened in C order; *w is
** [in, out] and *b [out] (new tensors); at most 8192 inputs. Other layers
** are an error. */
int he_model_layer_affine(const he_model *m, int i, const he_tensor *sample, he_tensor **w,
                          he_tensor **b) HE_WARN_UNUSED;

/* A model built layer by layer (model/onnx_write.c): an empty model whose
** input has the given shape (-1: any, the batch), then layers appended
** (he_model_add copies proto, converting and retaining its tensors after
** checking their shapes). */
he_model *he_model_new(const char *name, int in_ndim, const int64_t *in_shape);
int he_model_add(he_model *m, const he_layer *proto) HE_WARN_UNUSED;
/* Writes m as ONNX (opset 13, float32 weights), atomically. Polynomial
** activations have no ONNX operator: an error. */
int he_model_save_onnx(const he_model *m, const char *path) HE_WARN_UNUSED;

/* The summary: layers, shapes, parameter count, what was dropped. */
int he_model_summary(const he_model *m, he_buf *out);

#endif
