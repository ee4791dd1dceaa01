/*
** test_core.c: the runtime core: checked scalar arithmetic, fixed point,
** float printing, the seeded generator, string buffers, interrupts.
*/
#include <math.h>
#include <signal.h>
#include <string.h>

#include "check.h"
#include "tensor.h"
#include "value.h"

static const char *show(he_value v)
{
    static char out[256];
    he_buf b;
    he_buf_init(&b);
    he_repr(v, &b, true);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    he_buf_free(&b);
    return out;
}

static void float_printing(void)
{
    static const struct { double d; const char *s; } cases[] = {
        {10.0, "10.0"}, {0.1, "0.1"}, {123.456, "123.456"}, {1e20, "1e+20"}, {2.5e-7, "2.5e-07"},
        {1.0 / 3.0, "0.3333333333"}, {-0.5, "-0.5"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {-0.0, "-0.0"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.797693135e+308"}, {0.1 + 0.2, "0.3"}, {39.78517199993803, "39.785172"},
        {0.123456789, "0.123456789"}, {1234567.125, "1234567.125"}, {-2.0 / 3.0e-9, "-666666666.7"},
        {123456789012.5, "123456789012.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(strcmp(show(he_float(cases[i].d)), cases[i].s) == 0, "%.17g printed as %s, want %s", cases[i].d,
              show(he_float(cases[i].d)), cases[i].s);
    /* every printed double reads back within half a unit of its 10th
    ** significant digit, and exactly when 10 digits say it exactly */
    he_prng g;
    he_prng_seed(&g, 1);
    for (int i = 0; i < 10000; i++) {
        uint64_t bits = he_prng_u64(&g);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isnan(d) || isinf(d)) continue;
        double r = strtod(show(he_float(d)), NULL);
        CHECK(fabs(r - d) <= 5e-10 * fabs(d) + 5e-324, "%.17g printed as %s", d, show(he_float(d)));
        double e = (double)(int64_t)(he_prng_u64(&g) % 2000000000) / 1000.0; /* at most 10 digits */
        CHECK(strtod(show(he_float(e)), NULL) == e, "%.17g does not round-trip (%s)", e, show(he_float(e)));
    }
}

static void int_checked(void)
{
    he_value r;
    CHECK(he_binop(HE_OP_ADD, he_int(INT64_MAX), he_int(1), &r) < 0, "overflow not caught");
    CHECK(strstr(he_errmsg(), "overflow") != NULL, "message: %s", he_errmsg());
    CHECK(he_binop(HE_OP_MUL, he_int(INT64_MIN), he_int(-1), &r) < 0, "overflow not caught");
    CHECK(he_binop(HE_OP_DIV, he_int(1), he_int(0), &r) < 0, "division by zero not caught");
    CHECK(he_binop(HE_OP_MOD, he_int(1), he_int(0), &r) < 0, "modulo by zero not caught");
    CHECK(he_binop(HE_OP_DIV, he_int(-7), he_int(2), &r) == 0 && r.as.i == -3, "-7/2 = %lld", (long long)r.as.i);
    CHECK(he_binop(HE_OP_MOD, he_int(-7), he_int(2), &r) == 0 && r.as.i == -1, "-7%%2 = %lld", (long long)r.as.i);
    CHECK(he_binop(HE_OP_POW, he_int(3), he_int(4), &r) == 0 && r.as.i == 81, "3**4");
    CHECK(he_binop(HE_OP_POW, he_int(10), he_int(19), &r) < 0, "10**19 overflow not caught");
    CHECK(he_binop(HE_OP_ADD, he_int(1), he_float(0.5), &r) == 0 && r.tag == HE_FLOAT && r.as.f == 1.5, "int+float");
    CHECK(he_unop(HE_OP_NEG, he_int(INT64_MIN), &r) < 0, "-INT64_MIN not caught");
    /* random agreement with 128-bit arithmetic */
    he_prng g;
    he_prng_seed(&g, 2);
    for (int i = 0; i < 100000; i++) {
        int64_t a = (int64_t)he_prng_u64(&g) >> (he_prng_u64(&g) % 64);
        int64_t b = (int64_t)he_prng_u64(&g) >> (he_prng_u64(&g) % 64);
        __int128 exact = (__int128)a * b;
        int rc = he_binop(HE_OP_MUL, he_int(a), he_int(b), &r);
        bool fits = exact >= INT64_MIN && exact <= INT64_MAX;
        CHECK(fits ? rc == 0 && r.as.i == (int64_t)exact : rc < 0, "%lld * %lld", (long long)a, (long long)b);
    }
}

static void fixed_rounding(void)
{
    int64_t raw;
    /* ties away from zero */
    CHECK(he_fixed_from_double(0.5 / 16, 4, &raw) == 0 && raw == 1, "0.5 ulp -> %lld", (long long)raw);
    CHECK(he_fixed_from_double(-0.5 / 16, 4, &raw) == 0 && raw == -1, "-0.5 ulp -> %lld", (long long)raw);
    CHECK(he_fixed_from_double(1.4 / 16, 4, &raw) == 0 && raw == 1, "1.4 ulp -> %lld", (long long)raw);
    CHECK(he_fixed_from_double(1e30, 16, &raw) < 0, "overflow not caught");
    CHECK(he_fixed_mul(3, 1, 1, &raw) == 0 && raw == 2, "1.5*0.5 at 1 bit = %lld", (long long)raw);
    CHECK(he_fixed_mul(-3, 1, 1, &raw) == 0 && raw == -2, "-1.5*0.5 at 1 bit = %lld", (long long)raw);
    CHECK(he_fixed_div(1 << 16, 3 << 16, 16, &raw) == 0 && raw == 21845, "1/3 = %lld", (long long)raw);
    CHECK(he_fixed_div(1, 0, 16, &raw) < 0, "division by zero");
    /* products against exact rational arithmetic on random inputs: error <= 1/2 ulp */
    he_prng g;
    he_prng_seed(&g, 3);
    for (int i = 0; i < 100000; i++) {
        int frac = (int)(he_prng_u64(&g) % 31);
        int64_t a = (int64_t)(he_prng_u64(&g) >> 34) - (1 << 29), b = (int64_t)(he_prng_u64(&g) >> 34) - (1 << 29);
        if (he_fixed_mul(a, b, frac, &raw) < 0) continue;
        __int128 exact2 = (__int128)a * b * 2; /* 2 * the product in units of 2^-2frac */
        __int128 got2 = (__int128)raw * ((__int128)1 << frac) * 2;
        __int128 diff = got2 - exact2;
        if (diff < 0) diff = -diff;
        CHECK(diff <= ((__int128)1 << frac), "fixed mul error over 1/2 ulp (frac %d)", frac);
    }
    he_value r;
    CHECK(he_binop(HE_OP_ADD, he_fixed_raw(1, 4), he_fixed_raw(1, 8), &r) < 0, "mixed precision not refused");
}

static void prng_reproducible(void)
{
    he_prng a, b, c;
    he_prng_seed(&a, 42);
    he_prng_seed(&b, 42);
    he_prng_seed(&c, 43);
    int same = 0, diff = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = he_prng_u64(&a), y = he_prng_u64(&b), z = he_prng_u64(&c);
        same += x == y;
        diff += x != z;
    }
    CHECK(same == 1000 && diff == 1000, "same %d diff %d", same, diff);
    /* uniform mean and normal moments, 200000 samples: bounds ~6 standard errors */
    he_prng_seed(&a, 7);
    double s = 0, s2 = 0, n1 = 0;
    int N = 200000;
    for (int i = 0; i < N; i++) {
        double u = he_prng_uniform(&a);
        CHECK(u >= 0 && u < 1, "uniform out of [0,1): %g", u);
        s += u;
        double z = he_prng_normal(&a);
        n1 += z;
        s2 += z * z;
    }
    CHECK(fabs(s / N - 0.5) < 6 * sqrt(1.0 / 12 / N), "uniform mean %g", s / N);
    CHECK(fabs(n1 / N) < 6 / sqrt(N), "normal mean %g", n1 / N);
    CHECK(fabs(s2 / N - 1) < 6 * sqrt(2.0 / N), "normal variance %g", s2 / N);
    he_prng_wipe(&a);
    CHECK(a.key[0] == 0 && a.key[31] == 0, "wipe left key bytes");
}

static void strings_and_buffers(void)
{
    he_str *a = he_str_new("ab", 2), *b = he_str_new("cd", 2);
    he_value r;
    CHECK(he_binop(HE_OP_ADD, he_objv(&a->obj), he_objv(&b->obj), &r) == 0, "str + str");
    CHECK(strcmp(he_as_str(r)->data, "abcd") == 0, "got %s", he_as_str(r)->data);
    CHECK(strcmp(show(r), "\"abcd\"") == 0, "repr %s", show(r));
    he_release(r);
    CHECK(he_binop(HE_OP_MUL, he_objv(&a->obj), he_int(2), &r) < 0, "str * int accepted");
    CHECK(strstr(he_errmsg(), "unsupported operand types for *: str and int") != NULL, "message %s", he_errmsg());
    he_release(he_objv(&a->obj));
    he_release(he_objv(&b->obj));
    he_buf buf;
    he_buf_init(&buf);
    for (int i = 0; i < 1000; i++) he_buf_printf(&buf, "%d,", i);
    CHECK(buf.len == 3890, "len %zu", buf.len);
    he_buf_free(&buf);
}

/* A pending interrupt makes the polls fail ("interrupted", "terminated" for
** SIGTERM), a matrix product among them, until it is cleared. */
static void interrupts(void)
{
    int64_t sh[2] = {64, 64};
    he_tensor *a = he_tensor_new(HE_DT_FLOAT, 0, 2, sh);
    he_value r = he_nil();
    CHECK(a != NULL, "tensor: %s", he_errmsg());
    if (!a) return;
    CHECK(he_interrupt_pending() == 0 && he_poll_interrupt() == 0, "pending at start");
    he_interrupt(SIGINT);
    CHECK(he_interrupt_pending() == SIGINT, "pending %d", he_interrupt_pending());
    CHECK(he_poll_interrupt() < 0 && strcmp(he_errmsg(), "interrupted") == 0, "poll: %s", he_errmsg());
    CHECK(he_tensor_matmul(a, a, &r) < 0 && strcmp(he_errmsg(), "interrupted") == 0, "matmul ran: %s", he_errmsg());
    he_release(r);
    r = he_nil();
    CHECK(he_interrupt_pending() == SIGINT, "a poll cleared it");
    he_interrupt(SIGTERM);
    CHECK(he_poll_interrupt() < 0 && strcmp(he_errmsg(), "terminated") == 0, "SIGTERM: %s", he_errmsg());
    he_interrupt_clear();
    CHECK(he_poll_interrupt() == 0, "still pending after clear");
    CHECK(he_tensor_matmul(a, a, &r) == 0, "matmul after clear: %s", he_errmsg());
    he_release(r);
    he_release(he_objv(&a->obj));
}

int main(void)
{
    if (he_init() < 0) return 1;
    RUN(float_printing);
    RUN(int_checked);
    RUN(fixed_rounding);
    RUN(prng_reproducible);
    RUN(strings_and_buffers);
    RUN(interrupts);
    return 0;
}
