/*
** tensor.h: dense n-dimensional tensors of int, float, fixed or bool.
**
** Always contiguous, row-major, owning their data (slicing copies). A
** tensor is an he_obj (type he_tensor_type), so it is reference counted and
** its operators dispatch through value.h. Element storage: FLOAT in f[],
** INT, FIXED (raw scaled values) and BOOL (0/1) in i[].
**
** Every function returns 0 / -1 (he_error set) or a new tensor / NULL;
** outputs are new references owned by the caller.
*/
#ifndef HE_TENSOR_H
#define HE_TENSOR_H

#include "value.h"

#define HE_MAXDIM 8

typedef enum he_dtype { HE_DT_INT, HE_DT_FLOAT, HE_DT_FIXED, HE_DT_BOOL } he_dtype;

typedef struct he_tensor {
    he_obj obj;
    uint8_t dtype; /* he_dtype */
    uint8_t frac;  /* fractional bits when dtype == HE_DT_FIXED */
    int ndim;      /* 0..HE_MAXDIM; 0 is a scalar tensor holding one element */
    int64_t shape[HE_MAXDIM];
    int64_t size; /* product of shape */
    union {
        double *f;
        int64_t *i;
    } data;
} he_tensor;

extern const he_type he_tensor_type;

static inline bool he_is_tensor(he_value v) { return he_is(v, &he_tensor_type); }
static inline he_tensor *he_as_tensor(he_value v) { return (he_tensor *)v.as.o; }

const char *he_dtype_name(he_dtype dt); /* "int", "float", "fixed", "bool" */

/* The bound on shapes: each dimension, and the product of the dimensions
** that are not 0, at most HE_TENSOR_MAXSIZE (2^48). Then every product of
** dimensions, and that product times 8 bytes, fits in int64_t and size_t,
** even for an empty tensor such as [0, 2^40, 2^40]. */
#define HE_TENSOR_MAXSIZE (INT64_C(1) << 48)
/* Checks a shape (0..HE_MAXDIM dimensions, none negative, within the bound):
** every tensor constructor and every loader of shaped data calls it.
** *size (may be NULL) gets the number of elements. `what` (may be NULL)
** prefixes the message. */
int he_shape_check(int ndim, const int64_t *shape, const char *what, int64_t *size) HE_WARN_UNUSED;

/* New zero-filled tensor. Fails on a shape he_shape_check refuses. */
he_tensor *he_tensor_new(he_dtype dt, int frac, int ndim, const int64_t *shape);
he_tensor *he_tensor_copy(const he_tensor *t);
/* Converts element type (float->int truncates toward zero with range check;
** float->fixed rounds to nearest; int->fixed checks range). */
he_tensor *he_tensor_astype(const he_tensor *t, he_dtype dt, int frac);

/* Builders */
he_tensor *he_tensor_full(he_dtype dt, int frac, int ndim, const int64_t *shape, he_value fill);
he_tensor *he_tensor_arange(int64_t start, int64_t stop, int64_t step); /* int tensor */
he_tensor *he_tensor_eye(int64_t n);                                     /* float */
/* Seeded, reproducible: same seed, same tensor on every machine. */
he_tensor *he_tensor_uniform(he_prng *g, int ndim, const int64_t *shape, double lo, double hi);
he_tensor *he_tensor_normal(he_prng *g, int ndim, const int64_t *shape, double mean, double std);

/* Element access by a full index (negative indices count from the end);
** out-of-range is an error naming the axis, index and size. */
int he_tensor_get(const he_tensor *t, int n, const int64_t *idx, he_value *out);
int he_tensor_set(he_tensor *t, int n, const int64_t *idx, he_value v);
/* Partial index (n < ndim): the sub-tensor (a copy), e.g. a row. */
he_tensor *he_tensor_sub(const he_tensor *t, int n, const int64_t *idx);
/* Slicing: one (start, stop, step) per leading axis, step != 0; start/stop
** are clamped as in Python; HE_SLICE_END for an open end. */
#define HE_SLICE_END INT64_MIN
typedef struct he_slice {
    int64_t start, stop, step;
    bool is_index; /* a plain index on this axis: the axis is dropped */
} he_slice;
he_tensor *he_tensor_slice(const he_tensor *t, int n, const he_slice *s);
/* One slice against a dimension of size dim: the first index and the count
** (the step is s->step); also for strings, which slice as tensors do. */
int he_slice_resolve(const he_slice *s, int64_t dim, int axis, int64_t *first, int64_t *count);

/* Element-wise with NumPy broadcasting: ADD SUB MUL DIV MOD POW and the
** comparisons (giving bool). Types: int op int -> int (overflow and
** division by zero are errors; / truncates toward zero), any float -> float,
** fixed op fixed (same frac) or fixed op int -> fixed, bool only with EQ/NE.
** Either operand may be a scalar value. */
int he_tensor_binop(he_op op, he_value a, he_value b, he_value *out);
/* NEG, NOT (bool) */
he_tensor *he_tensor_unop(he_op op, const he_tensor *t);
/* Matrix product: 2-D @ 2-D, 1-D @ 2-D, 2-D @ 1-D, 1-D @ 1-D (a scalar
** value). int, float or fixed (same frac). */
int he_tensor_matmul(const he_tensor *a, const he_tensor *b, he_value *out);
/* Reverses axes (2-D: the usual transpose). */
he_tensor *he_tensor_transpose(const he_tensor *t);
/* New shape with the same size; one dimension may be -1 (inferred). */
he_tensor *he_tensor_reshape(const he_tensor *t, int ndim, const int64_t *shape);

/* Reductions. axis = -1 ... -ndim count from the end; HE_AXIS_ALL reduces
** everything to a scalar value. sum keeps int/fixed exact (overflow is an
** error); mean is float. argmax gives int (first maximum). */
#define HE_AXIS_ALL INT32_MIN
int he_tensor_sum(const he_tensor *t, int axis, he_value *out);
int he_tensor_mean(const he_tensor *t, int axis, he_value *out);
int he_tensor_max(const he_tensor *t, int axis, he_value *out);
int he_tensor_min(const he_tensor *t, int axis, he_value *out);
int he_tensor_argmax(const he_tensor *t, int axis, he_value *out);

/* Maths on float tensors (int and fixed are converted to float first),
** but abs and relu keep int and fixed exact, with their element type (abs
** of the most negative value is an overflow error, as for a scalar). */
typedef enum he_math {
    HE_MATH_EXP, HE_MATH_LOG, HE_MATH_TANH, HE_MATH_SIGMOID, HE_MATH_SQRT, HE_MATH_ABS,
    HE_MATH_RELU
} he_math;
he_tensor *he_tensor_math(he_math fn, const he_tensor *t);

/* Joins tensors of equal shape but for the given axis. */
he_tensor *he_tensor_concat(int n, he_tensor *const *ts, int axis);

/* Joins tensors of equal shape along a new axis (0..ndim). */
he_tensor *he_tensor_stack(int n, he_tensor *const *ts, int axis);

/* v (a tensor or a scalar) broadcast to shape as NumPy broadcasts, in the
** element type dt<frac>; the elements convert as an element assignment
** converts them (an int tensor takes only ints, a bool tensor only bools).
** `what` names the operation in messages. */
he_tensor *he_tensor_broadcast(he_value v, he_dtype dt, int frac, int ndim, const int64_t *shape, const char *what);
/* t[s0, s1, ...] = v: the region the slices select (the shape
** he_tensor_slice gives) gets v broadcast to its shape. */
int he_tensor_slice_set(he_tensor *t, int n, const he_slice *s, he_value v);
/* t[m] with a bool mask m whose shape is t's or its leading axes': the
** selected elements (or blocks) in order, shape [trues, rest of t...]. */
he_tensor *he_tensor_mask(const he_tensor *t, const he_tensor *m);
/* t[m] = v: v broadcast to the shape t[m] has. */
int he_tensor_mask_set(he_tensor *t, const he_tensor *m, he_value v);
/* NumPy's take: the entries idx (an int tensor, negative from the end) along
** axis; shape t.shape[:axis] + idx.shape + t.shape[axis+1:]. `what` names
** the operation in messages. */
he_tensor *he_tensor_take(const he_tensor *t, const he_tensor *idx, int axis, const char *what);
/* t[idx] = v for an int tensor idx on axis 0 (v broadcast). */
int he_tensor_take_set(he_tensor *t, const he_tensor *idx, he_value v);
/* PyTorch's gather (NumPy's take_along_axis): idx has t's rank and shape
** but along axis; r[..., k, ...] = t[..., idx[..., k, ...], ...]. */
he_tensor *he_tensor_take_along(const he_tensor *t, const he_tensor *idx, int axis);
/* A seeded random permutation of 0..n-1 (Fisher-Yates, unbiased draws). */
he_tensor *he_tensor_permutation(he_prng *g, int64_t n);
/* Float rows with a 1 at each label (an int tensor, each in 0..k-1):
** shape labels.shape + [k]. */
he_tensor *he_tensor_one_hot(const he_tensor *labels, int64_t k);
/* Element-wise cond ? a : b with broadcasting; a and b tensors or scalars
** of one type (int with float gives float, int with fixed gives fixed). */
he_tensor *he_tensor_where(const he_tensor *cond, he_value a, he_value b);
/* Elements limited to [lo, hi] (bounds stored as the tensor's type). */
he_tensor *he_tensor_clip(const he_tensor *t, he_value lo, he_value hi);
/* Running sums along axis (HE_AXIS_ALL: of the flattened tensor); int and
** fixed exact, overflow an error. */
he_tensor *he_tensor_cumsum(const he_tensor *t, int axis);

/* Printed like NumPy's repr without the wrapper:
** [[1, 2], [3, 4]], floats as he_buf_double. Long tensors abbreviate with
** "..." past 1000 elements. */
int he_tensor_repr(const he_tensor *t, he_buf *out);

/* A shape printed as "[2, 3]" for messages (a struct so it can be returned
** and used inside one he_error call: he_shape_str(n, shape).s). */
typedef struct he_shapestr {
    char s[HE_MAXDIM * 22 + 4];
} he_shapestr;
he_shapestr he_shape_str(int ndim, const int64_t *shape);

/* The run-time type name as typeof() gives it: a tensor names its element
** type and shape ("float[2, 3]", "fixed<16>[4]"), anything else as
** he_typename. */
typedef struct he_typestr {
    char s[sizeof(he_shapestr) + 16];
} he_typestr;
he_typestr he_type_full(he_value v);

/* NumPy .npy files (format 1.0/2.0/3.0 read, 1.0 written): reads
** little/big-endian i1 i2 i4 i8 u1 u2 u4 u8 (as int; u8 range-checked)
** f4 f8 (as float) and b1 (bool), C order only (Fortran order refused with
** a clear message). Writes int as <i8, float as <f8, bool as |b1, fixed as
** <f8 (converted). Any malformed header or short file is an error naming
** the file and what is wrong. */
he_tensor *he_npy_load(const char *path);
int he_npy_save(const char *path, const he_tensor *t);

#endif
