/*
** smpc_plan.h: the SMPC planner (smpc_plan.c) and what it needs of the
** smpc module (smpc.c). A plan runs the user's function in a private
** simulated context (a planning context: sctx.plan set) on shares of zeros
** that also carry an interval [lo, hi] holding every value each share may
** take, given the bounds of the inputs. The protocols run as they would
** (so rounds, bytes and dealer material are the runtime's own); every
** operator on a planning share also propagates the intervals and checks
** them against the ring's safe range (the checks of runtime/smpc/check.c,
** on bounds instead of values), noting a warning with file:line:column
** where a bound leaves it.
*/
#ifndef HE_SMPC_PLAN_H
#define HE_SMPC_PLAN_H
#include "interp.h"
#include "smpc/smpc.h"

/* what a bound is checked as (check.c's ov_what) */
typedef enum sp_what {
    SP_VALUE,   /* a value: |raw| < 2^62 (fixed), int64 (int) */
    SP_PRODUCT, /* a fixed-point product before its truncation: |raw| < 2^62 */
    SP_DIFF     /* the difference of a comparison: raw in [-2^63, 2^63) */
} sp_what;

typedef struct sp_warn {
    char file[256];
    int line, col;
    char op[48];
    sp_what what;
    int scale;
    double reached, limit;
    bool over; /* the bound may leave the range: a warning */
} sp_warn;

typedef struct sp_run {
    he_vm *vm;
    const char *script;        /* the file smpc.plan was called from */
    bool zp;
    double zp_half;            /* Z_p: floor(p/2), the largest centred value */
    sp_warn *w;                /* every operation checked (file, line, column, op): its largest bound */
    int nw, capw;
    bool lost;                 /* a warning that could not be noted (out of memory) */
    double live, peak;         /* share elements alive, the most at once */
    double max_value, max_product; /* the largest |bound| of a value, of a product before truncation */
    double value_limit, product_limit; /* their limits at the context's fractional bits */
    he_smpc_material base;     /* the material asked before the function (or its last reset_stats) */
} sp_run;

typedef struct sp_iv {
    double lo, hi;
} sp_iv;

/* The bounds of results: each checks what its operation must keep in range
** and gives the result's interval. */
sp_iv sp_range(const double *v, size_t n);                               /* of public values */
sp_iv sp_value(sp_run *r, const char *op, int frac, sp_iv v);            /* a value: checked, kept */
sp_iv sp_product(sp_run *r, const char *op, int fa, int fb, sp_iv v);    /* a product (sum) v, then its truncation */
sp_iv sp_compare(sp_run *r, const char *op, int frac, sp_iv diff);       /* a comparison: a bit */
/* a op b on shares (+ - * @ and comparisons): k the inner dimension of @, same: a and b are one share */
sp_iv sp_binary(sp_run *r, he_op op, sp_iv a, sp_iv b, int fa, int fb, double k, bool same);
/* x op p, p public (n values, at fp fractional bits; of shape (nd, shape) for @), swapped: p op x */
sp_iv sp_public(sp_run *r, he_op op, sp_iv x, int fx, int fp, const double *p, size_t n, bool swapped, int nd,
                const int64_t *shape);
/* conv2d of x by OC kernels of K weights: a share w (wv NULL) or public weights wv */
sp_iv sp_conv(sp_run *r, sp_iv x, bool padded, int fx, int fw, sp_iv w, const double *wv, int64_t OC, int64_t K);

/* Checks the bound [lo, hi] of `op` (raw = value * 2^scale) against the
** ring's safe range; notes a warning at the VM's current place if it may
** leave it. */
void sp_check(sp_run *r, sp_what what, const char *op, int scale, double lo, double hi);

/* smpc.c: the planning context of ctx's configuration (simulated, the
** dealer's requests recorded), running for r. */
int smpc_planning_context(he_value ctx, sp_run *r, he_value *out);
/* Detaches r from the planning context (it stays a plain simulated context). */
void smpc_planning_end(he_value pctx);
bool smpc_is_context(he_value v);
bool smpc_is_share(he_value v);
he_smpc_ctx *smpc_ctx_of(he_value ctx);
int smpc_ctx_parties(he_value ctx);
/* The configuration in words: "2 parties and a dealer, Z_2^64, 16 fractional bits". */
void smpc_ctx_describe(he_value ctx, he_buf *b);
/* A planning share of zeros of shape (nd, shape), values in [lo, hi], from party owner. */
int smpc_planning_input(he_value pctx, int nd, const int64_t *shape, double lo, double hi, bool isint, int owner,
                        he_value *out);
/* A share's shape, scale and interval (planning shares). */
void smpc_share_info(he_value v, int *nd, const int64_t **shape, int *frac, double *lo, double *hi);
/* stats in smpc.stats' words; me >= 0: as that party's process prints them. */
void smpc_stats_words(he_buf *b, const he_smpc_stats *st, int n, int me);

/* smpc_plan.c: smpc.plan, smpc.input and what reads a plan */
int smpc_f_plan(he_vm *vm, he_value *a, int n, he_value *out);
int smpc_f_input(he_vm *vm, he_value *a, int n, he_value *out);
int smpc_f_safe(he_vm *vm, he_value *a, int n, he_value *out);
int smpc_f_bounds(he_vm *vm, he_value *a, int n, he_value *out);
int smpc_f_ranges(he_vm *vm, he_value *a, int n, he_value *out);
bool smpc_is_plan(he_value v);
/* smpc.stats(plan [, party]) */
int smpc_plan_stats(he_value plan, int me, he_value *out);
#endif
