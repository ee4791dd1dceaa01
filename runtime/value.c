/*
** value.c: scalar arithmetic (checked), strings, fixed point, and the
** generic dispatch to object types.
*/
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const he_op_symbol[HE_OP__COUNT] = {
    [HE_OP_ADD] = "+", [HE_OP_SUB] = "-", [HE_OP_MUL] = "*", [HE_OP_DIV] = "/",
    [HE_OP_MOD] = "%", [HE_OP_IDIV] = "//", [HE_OP_POW] = "**", [HE_OP_MATMUL] = "@", [HE_OP_LT] = "<",
    [HE_OP_LE] = "<=", [HE_OP_GT] = ">", [HE_OP_GE] = ">=", [HE_OP_EQ] = "==",
    [HE_OP_NE] = "!=", [HE_OP_NEG] = "-", [HE_OP_NOT] = "not",
};

const char *he_typename(he_value v)
{
    static _Thread_local char buf[32];
    switch ((he_tag)v.tag) {
    case HE_NIL: return "nil";
    case HE_BOOL: return "bool";
    case HE_INT: return "int";
    case HE_FLOAT: return "float";
    case HE_FIXED: snprintf(buf, sizeof buf, "fixed<%d>", v.frac); return buf;
    case HE_OBJ: return v.as.o->type->name;
    }
    return "?";
}

/* --- strings -------------------------------------------------------------- */

static void str_free(he_obj *o) { he_free(o); }

static int str_repr(const he_obj *o, he_buf *out)
{
    const he_str *s = (const he_str *)o;
    return he_buf_add(out, s->data, s->len);
}

static int str_binop(he_op op, he_value a, he_value b, he_value *out)
{
    if (!he_is(a, &he_str_type) || !he_is(b, &he_str_type)) return 1;
    he_str *x = he_as_str(a), *y = he_as_str(b);
    switch (op) {
    case HE_OP_ADD: {
        he_str *r = he_str_new(NULL, x->len + y->len);
        if (!r) return -1;
        memcpy(r->data, x->data, x->len);
        memcpy(r->data + x->len, y->data, y->len);
        r->data[r->len] = '\0';
        *out = he_objv(&r->obj);
        return 0;
    }
    case HE_OP_EQ: *out = he_bool(he_equal(a, b)); return 0;
    case HE_OP_NE: *out = he_bool(!he_equal(a, b)); return 0;
    case HE_OP_LT: case HE_OP_LE: case HE_OP_GT: case HE_OP_GE: {
        size_t n = x->len < y->len ? x->len : y->len;
        int c = memcmp(x->data, y->data, n);
        if (c == 0) c = (x->len > y->len) - (x->len < y->len);
        bool r = op == HE_OP_LT ? c < 0 : op == HE_OP_LE ? c <= 0 : op == HE_OP_GT ? c > 0 : c >= 0;
        *out = he_bool(r);
        return 0;
    }
    default: return 1;
    }
}

static int str_len(const he_obj *o, int64_t *n)
{
    *n = (int64_t)((const he_str *)o)->len;
    return 0;
}

const he_type he_str_type = {
    .name = "str", .free = str_free, .repr = str_repr, .binop = str_binop, .len = str_len,
};

he_str *he_str_new(const char *s, size_t len)
{
    he_str *r = he_malloc(sizeof *r + len + 1);
    if (!r) return NULL;
    he_obj_init(&r->obj, &he_str_type);
    r->len = len;
    r->hash = 0;
    if (s) memcpy(r->data, s, len);
    r->data[len] = '\0';
    return r;
}

/* --- fixed point ---------------------------------------------------------- */

int he_fixed_from_double(double d, int frac, int64_t *out)
{
    double x = ldexp(d, frac);
    x = x < 0 ? -floor(-x + 0.5) : floor(x + 0.5); /* nearest, ties away from zero */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return he_error("fixed<%d> overflow: %g does not fit", frac, d);
    *out = (int64_t)x;
    return 0;
}

double he_fixed_to_double(int64_t raw, int frac) { return ldexp((double)raw, -frac); }

/* Divides a 128-bit value by 2^s rounding to nearest, ties away from zero. */
static int round_shift128(__int128 p, int s, int64_t *out, const char *what)
{
    if (s > 0) {
        __int128 half = (__int128)1 << (s - 1);
        p = p >= 0 ? (p + half) >> s : -((-p + half) >> s);
    }
    if (p > INT64_MAX || p < INT64_MIN) return he_error("%s overflow", what);
    *out = (int64_t)p;
    return 0;
}

int he_fixed_mul(int64_t a, int64_t b, int frac, int64_t *out)
{
    return round_shift128((__int128)a * b, frac, out, "fixed-point multiplication");
}

int he_fixed_div(int64_t a, int64_t b, int frac, int64_t *out)
{
    if (b == 0) return he_error("division by zero");
    __int128 n = (__int128)a * ((__int128)1 << frac);
    /* round to nearest, ties away from zero */
    __int128 q = n / b, r = n % b;
    __int128 ar = r < 0 ? -r : r, ab = b < 0 ? -(__int128)b : b;
    if (2 * ar >= ab) q += ((n < 0) != (b < 0)) ? -1 : 1;
    if (q > INT64_MAX || q < INT64_MIN) return he_error("fixed-point division overflow");
    *out = (int64_t)q;
    return 0;
}

int he_fixed_rescale(int64_t raw, int from, int to, int64_t *out)
{
    if (to >= from) {
        int s = to - from;
        if (s >= 63 || raw > (INT64_MAX >> s) || raw < (INT64_MIN >> s))
            return he_error("fixed<%d> overflow", to);
        *out = (int64_t)((uint64_t)raw << s);
        return 0;
    }
    return round_shift128(raw, from - to, out, "fixed-point rescale");
}

/* --- scalar operations ---------------------------------------------------- */

static int int_pow(int64_t a, int64_t b, int64_t *out)
{
    if (b < 0) return he_error("negative exponent %lld for int power (use float)", (long long)b);
    int64_t r = 1;
    while (b) {
        if (b & 1 && __builtin_mul_overflow(r, a, &r)) return he_error("int overflow in **");
        b >>= 1;
        if (b && __builtin_mul_overflow(a, a, &a)) return he_error("int overflow in **");
    }
    *out = r;
    return 0;
}

static int int_binop(he_op op, int64_t a, int64_t b, he_value *out)
{
    int64_t r = 0;
    switch (op) {
    case HE_OP_ADD:
        if (__builtin_add_overflow(a, b, &r)) return he_error("int overflow: %lld + %lld", (long long)a, (long long)b);
        break;
    case HE_OP_SUB:
        if (__builtin_sub_overflow(a, b, &r)) return he_error("int overflow: %lld - %lld", (long long)a, (long long)b);
        break;
    case HE_OP_MUL:
        if (__builtin_mul_overflow(a, b, &r)) return he_error("int overflow: %lld * %lld", (long long)a, (long long)b);
        break;
    case HE_OP_DIV:
        if (b == 0) return he_error("division by zero");
        if (a == INT64_MIN && b == -1) return he_error("int overflow: %lld / -1", (long long)a);
        r = a / b;
        break;
    case HE_OP_IDIV:
        if (b == 0) return he_error("division by zero");
        if (a == INT64_MIN && b == -1) return he_error("int overflow: %lld // -1", (long long)a);
        r = a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
        break;
    case HE_OP_MOD:
        if (b == 0) return he_error("division by zero (modulo)");
        r = (b == -1) ? 0 : a % b;
        break;
    case HE_OP_POW:
        if (int_pow(a, b, &r) < 0) return -1;
        break;
    case HE_OP_LT: *out = he_bool(a < b); return 0;
    case HE_OP_LE: *out = he_bool(a <= b); return 0;
    case HE_OP_GT: *out = he_bool(a > b); return 0;
    case HE_OP_GE: *out = he_bool(a >= b); return 0;
    case HE_OP_EQ: *out = he_bool(a == b); return 0;
    case HE_OP_NE: *out = he_bool(a != b); return 0;
    default: return 1;
    }
    *out = he_int(r);
    return 0;
}

static int float_binop(he_op op, double a, double b, he_value *out)
{
    switch (op) {
    case HE_OP_ADD: *out = he_float(a + b); return 0;
    case HE_OP_SUB: *out = he_float(a - b); return 0;
    case HE_OP_MUL: *out = he_float(a * b); return 0;
    case HE_OP_DIV: *out = he_float(a / b); return 0;
    case HE_OP_MOD: *out = he_float(fmod(a, b)); return 0;
    case HE_OP_IDIV: *out = he_float(floor(a / b)); return 0;
    case HE_OP_POW: *out = he_float(pow(a, b)); return 0;
    case HE_OP_LT: *out = he_bool(a < b); return 0;
    case HE_OP_LE: *out = he_bool(a <= b); return 0;
    case HE_OP_GT: *out = he_bool(a > b); return 0;
    case HE_OP_GE: *out = he_bool(a >= b); return 0;
    case HE_OP_EQ: *out = he_bool(a == b); return 0;
    case HE_OP_NE: *out = he_bool(a != b); return 0;
    default: return 1;
    }
}

static int fixed_binop(he_op op, int64_t a, int64_t b, int frac, he_value *out)
{
    int64_t r = 0;
    switch (op) {
    case HE_OP_ADD:
        if (__builtin_add_overflow(a, b, &r)) return he_error("fixed<%d> overflow in +", frac);
        break;
    case HE_OP_SUB:
        if (__builtin_sub_overflow(a, b, &r)) return he_error("fixed<%d> overflow in -", frac);
        break;
    case HE_OP_MUL:
        if (he_fixed_mul(a, b, frac, &r) < 0) return -1;
        break;
    case HE_OP_DIV:
        if (he_fixed_div(a, b, frac, &r) < 0) return -1;
        break;
    default: {
        int rc = int_binop(op, a, b, out); /* comparisons on raw values */
        if (rc == 0 && out->tag == HE_BOOL) return 0;
        return 1;
    }
    }
    *out = he_fixed_raw(r, frac);
    return 0;
}

static int unsupported(he_op op, he_value a, he_value b)
{
    return he_error("unsupported operand types for %s: %s and %s", he_op_symbol[op], he_typename(a),
                    he_typename(b));
}

int he_binop(he_op op, he_value a, he_value b, he_value *out)
{
    int rc = 1;
    if (a.tag == HE_OBJ || b.tag == HE_OBJ) {
        if (a.tag == HE_OBJ && a.as.o->type->binop) rc = a.as.o->type->binop(op, a, b, out);
        if (rc == 1 && b.tag == HE_OBJ && b.as.o->type->binop &&
            !(a.tag == HE_OBJ && a.as.o->type == b.as.o->type))
            rc = b.as.o->type->binop(op, a, b, out);
        if (rc == 1 && (op == HE_OP_EQ || op == HE_OP_NE)) {
            bool e = he_equal(a, b);
            *out = he_bool(op == HE_OP_EQ ? e : !e);
            return 0;
        }
        return rc == 1 ? unsupported(op, a, b) : rc;
    }
    if (a.tag == HE_INT && b.tag == HE_INT) rc = int_binop(op, a.as.i, b.as.i, out);
    else if ((a.tag == HE_FLOAT || a.tag == HE_INT) && (b.tag == HE_FLOAT || b.tag == HE_INT)) {
        double x = a.tag == HE_FLOAT ? a.as.f : (double)a.as.i;
        double y = b.tag == HE_FLOAT ? b.as.f : (double)b.as.i;
        rc = float_binop(op, x, y, out);
    } else if (a.tag == HE_FIXED || b.tag == HE_FIXED) {
        int frac = a.tag == HE_FIXED ? a.frac : b.frac;
        int64_t x, y;
        if (a.tag == HE_FIXED && b.tag == HE_FIXED && a.frac != b.frac)
            return he_error("fixed-point operands have different precision: fixed<%d> %s fixed<%d>", a.frac,
                            he_op_symbol[op], b.frac);
        if ((a.tag != HE_FIXED && a.tag != HE_INT) || (b.tag != HE_FIXED && b.tag != HE_INT))
            return unsupported(op, a, b);
        if (a.tag == HE_INT ? he_fixed_rescale(a.as.i, 0, frac, &x) : (x = a.as.i, 0)) return -1;
        if (b.tag == HE_INT) {
            /* fixed * int and fixed / int scale directly, without rescale */
            if (op == HE_OP_MUL || op == HE_OP_DIV) {
                int64_t r = 0;
                if (op == HE_OP_MUL ? __builtin_mul_overflow(x, b.as.i, &r) : (b.as.i == 0)) {
                    return op == HE_OP_MUL ? he_error("fixed<%d> overflow in *", frac) : he_error("division by zero");
                }
                if (op == HE_OP_DIV) {
                    if (he_fixed_div(x, b.as.i, 0, &r) < 0) return -1;
                }
                *out = he_fixed_raw(r, frac);
                return 0;
            }
            if (he_fixed_rescale(b.as.i, 0, frac, &y) < 0) return -1;
        } else y = b.as.i;
        rc = fixed_binop(op, x, y, frac, out);
    } else if (a.tag == HE_BOOL && b.tag == HE_BOOL && (op == HE_OP_EQ || op == HE_OP_NE)) {
        *out = he_bool((a.as.b == b.as.b) == (op == HE_OP_EQ));
        return 0;
    } else if (op == HE_OP_EQ || op == HE_OP_NE) {
        *out = he_bool((op == HE_OP_NE) ^ he_equal(a, b));
        return 0;
    }
    return rc == 1 ? unsupported(op, a, b) : rc;
}

int he_unop(he_op op, he_value a, he_value *out)
{
    if (a.tag == HE_OBJ) {
        if (a.as.o->type->unop) {
            int rc = a.as.o->type->unop(op, a, out);
            if (rc != 1) return rc;
        }
    } else if (op == HE_OP_NEG) {
        switch ((he_tag)a.tag) {
        case HE_INT:
            if (a.as.i == INT64_MIN) return he_error("int overflow: -(%lld)", (long long)a.as.i);
            *out = he_int(-a.as.i);
            return 0;
        case HE_FLOAT: *out = he_float(-a.as.f); return 0;
        case HE_FIXED:
            if (a.as.i == INT64_MIN) return he_error("fixed overflow in negation");
            *out = he_fixed_raw(-a.as.i, a.frac);
            return 0;
        default: break;
        }
    } else if (op == HE_OP_NOT && a.tag == HE_BOOL) {
        *out = he_bool(!a.as.b);
        return 0;
    }
    return he_error("unsupported operand type for %s: %s", he_op_symbol[op], he_typename(a));
}

bool he_equal(he_value a, he_value b)
{
    if (a.tag != b.tag) {
        if ((a.tag == HE_INT || a.tag == HE_FLOAT) && (b.tag == HE_INT || b.tag == HE_FLOAT)) {
            double x = a.tag == HE_FLOAT ? a.as.f : (double)a.as.i;
            double y = b.tag == HE_FLOAT ? b.as.f : (double)b.as.i;
            return x == y;
        }
        return false;
    }
    switch ((he_tag)a.tag) {
    case HE_NIL: return true;
    case HE_BOOL: return a.as.b == b.as.b;
    case HE_INT: return a.as.i == b.as.i;
    case HE_FLOAT: return a.as.f == b.as.f;
    case HE_FIXED: return a.frac == b.frac && a.as.i == b.as.i;
    case HE_OBJ:
        if (a.as.o == b.as.o) return true;
        if (a.as.o->type == &he_str_type && b.as.o->type == &he_str_type) {
            he_str *x = he_as_str(a), *y = he_as_str(b);
            return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
        }
        return false;
    }
    return false;
}

int he_repr(he_value v, he_buf *out, bool quote)
{
    switch ((he_tag)v.tag) {
    case HE_NIL: return he_buf_puts(out, "nil");
    case HE_BOOL: return he_buf_puts(out, v.as.b ? "true" : "false");
    case HE_INT: return he_buf_printf(out, "%lld", (long long)v.as.i);
    case HE_FLOAT: return he_buf_double(out, v.as.f);
    case HE_FIXED: return he_buf_double(out, he_fixed_to_double(v.as.i, v.frac));
    case HE_OBJ:
        if (quote && v.as.o->type == &he_str_type) {
            he_str *s = he_as_str(v);
            if (he_buf_puts(out, "\"") < 0) return -1;
            for (size_t i = 0; i < s->len; i++) {
                unsigned char c = (unsigned char)s->data[i];
                int r = c == '"' ? he_buf_puts(out, "\\\"") : c == '\\' ? he_buf_puts(out, "\\\\")
                      : c == '\n' ? he_buf_puts(out, "\\n") : c == '\t' ? he_buf_puts(out, "\\t")
                      : c < 32 ? he_buf_printf(out, "\\x%02x", c) : he_buf_add(out, (const char *)&c, 1);
                if (r < 0) return -1;
            }
            return he_buf_puts(out, "\"");
        }
        if (v.as.o->type->repr) return v.as.o->type->repr(v.as.o, out);
        return he_buf_printf(out, "<%s>", v.as.o->type->name);
    }
    return -1;
}
