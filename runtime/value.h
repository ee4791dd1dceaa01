/*
** value.h: the values every front end (VM, Lua module) moves around.
**
** A value is 16 bytes: a tag and a payload. Scalars (bool, int, float,
** fixed) live in the payload; everything else is a reference-counted object
** whose header points at its type's operation table (he_type). New runtime
** types (HE ciphertexts, secret shares, keys) plug in by defining an
** he_type: the VM's generic opcodes dispatch through it, so adding a type
** never touches the VM.
*/
#ifndef HE_VALUE_H
#define HE_VALUE_H

#include "he.h"

typedef enum he_tag {
    HE_NIL = 0,
    HE_BOOL,
    HE_INT,   /* int64, overflow is an error */
    HE_FLOAT, /* double */
    HE_FIXED, /* int64 scaled by 2^frac */
    HE_OBJ,
} he_tag;

/* Fixed point: frac fractional bits, 0..HE_FIXED_MAXFRAC. */
#define HE_FIXED_DEFAULT_FRAC 16
#define HE_FIXED_MAXFRAC 62

typedef struct he_obj he_obj;
typedef struct he_type he_type;

typedef struct he_value {
    uint8_t tag;  /* he_tag */
    uint8_t frac; /* fractional bits when tag == HE_FIXED */
    union {
        bool b;
        int64_t i;
        double f;
        he_obj *o;
    } as;
} he_value;

struct he_obj {
    uint32_t rc;
    const he_type *type;
};

/* Operators, shared by all types' dispatch. */
typedef enum he_op {
    HE_OP_ADD,
    HE_OP_SUB,
    HE_OP_MUL,
    HE_OP_DIV,
    HE_OP_MOD,
    HE_OP_IDIV, /* a // b: floor division (int: rounds toward -infinity; float: floor(a / b)) */
    HE_OP_POW,
    HE_OP_MATMUL,
    HE_OP_LT,
    HE_OP_LE,
    HE_OP_GT,
    HE_OP_GE,
    HE_OP_EQ,
    HE_OP_NE,
    HE_OP_NEG, /* unary */
    HE_OP_NOT, /* unary */
    HE_OP__COUNT
} he_op;

extern const char *const he_op_symbol[HE_OP__COUNT];

/* The operation table of an object type. Every hook but free may be NULL
** (meaning "not supported"); the dispatcher turns that into a clear error.
** binop is called with the object on either side: it sees both operands and
** returns 1 when it does not handle this pair (so the other side may try),
** 0 on success, -1 on error (he_error set). */
struct he_slice;

struct he_type {
    const char *name;
    void (*free)(he_obj *o); /* frees contents and the object; wipes secrets */
    int (*repr)(const he_obj *o, he_buf *out);
    int (*binop)(he_op op, he_value a, he_value b, he_value *out);
    int (*unop)(he_op op, he_value a, he_value *out);
    /* number of elements/rows for len() and iteration; NULL = not iterable */
    int (*len)(const he_obj *o, int64_t *n);
    /* o[s_0, ..., s_(n-1)]: one index or slice per leading axis (struct
    ** he_slice of tensor.h; is_index drops the axis), also how iteration
    ** takes element i; NULL = cannot be indexed */
    int (*index)(const he_obj *o, int n, const struct he_slice *s, he_value *out);
    /* The global builtins on this type, by name: "sum" (a[0], [axis a[1]]),
    ** "count" (how many elements "sum" adds into each result: what mean
    ** divides by), "transpose" (a[0]; also .T), "outer" (a[0] or a[1] is
    ** the object). 1 = not this name; NULL = none */
    int (*method)(const char *name, he_value *a, int n, he_value *out);
};

/* --- constructors --------------------------------------------------------- */
static inline he_value he_nil(void) { he_value v = {.tag = HE_NIL}; return v; }
static inline he_value he_bool(bool b) { he_value v = {.tag = HE_BOOL}; v.as.b = b; return v; }
static inline he_value he_int(int64_t i) { he_value v = {.tag = HE_INT}; v.as.i = i; return v; }
static inline he_value he_float(double f) { he_value v = {.tag = HE_FLOAT}; v.as.f = f; return v; }
static inline he_value he_fixed_raw(int64_t raw, int frac)
{
    he_value v = {.tag = HE_FIXED, .frac = (uint8_t)frac};
    v.as.i = raw;
    return v;
}
static inline he_value he_objv(he_obj *o) { he_value v = {.tag = HE_OBJ}; v.as.o = o; return v; }

/* --- reference counting --------------------------------------------------- */
static inline void he_retain(he_value v)
{
    if (v.tag == HE_OBJ) v.as.o->rc++;
}
static inline void he_release(he_value v)
{
    if (v.tag == HE_OBJ && --v.as.o->rc == 0) v.as.o->type->free(v.as.o);
}
static inline void he_obj_init(he_obj *o, const he_type *t)
{
    o->rc = 1;
    o->type = t;
}
static inline bool he_is(he_value v, const he_type *t) { return v.tag == HE_OBJ && v.as.o->type == t; }

/* Name of a value's type, for messages: "int", "float", "fixed<16>" (static
** buffer per thread), "tensor", ... */
const char *he_typename(he_value v);

/* --- strings -------------------------------------------------------------- */
typedef struct he_str {
    he_obj obj;
    size_t len;
    uint64_t hash;
    char data[]; /* NUL-terminated */
} he_str;
extern const he_type he_str_type;
he_str *he_str_new(const char *s, size_t len); /* NULL on OOM */
static inline he_str *he_as_str(he_value v) { return (he_str *)v.as.o; }

/* --- fixed point ----------------------------------------------------------
** A fixed<f> value x is stored as round(x * 2^f) in an int64.
** Rounding: conversions from float and the product's rescale round to
** nearest, ties away from zero. Results that do not fit in int64 are
** errors (never wraparound). */
int he_fixed_from_double(double d, int frac, int64_t *out);
double he_fixed_to_double(int64_t raw, int frac);
int he_fixed_mul(int64_t a, int64_t b, int frac, int64_t *out);
int he_fixed_div(int64_t a, int64_t b, int frac, int64_t *out);
/* Changes the number of fractional bits (rounding when it drops bits). */
int he_fixed_rescale(int64_t raw, int from, int to, int64_t *out);

/* --- generic operations ----------------------------------------------------
** Scalars are computed here (int overflow and division by zero are errors;
** int with float promotes to float; fixed with int promotes the int); any
** object operand dispatches to its type's hooks. */
int he_binop(he_op op, he_value a, he_value b, he_value *out) HE_WARN_UNUSED;
int he_unop(he_op op, he_value a, he_value *out) HE_WARN_UNUSED;
/* Truthiness for conditions: only bool is accepted (checked statically). */
bool he_equal(he_value a, he_value b);
/* Appends the printed form ("3", "2.5", "true", the string itself without
** quotes when quote is false, tensors as nested lists). */
int he_repr(he_value v, he_buf *out, bool quote);

/* Host hook for types that the runtime core does not know (set by the VM
** for functions and modules, so he_repr and he_typename cover them). */

#endif
