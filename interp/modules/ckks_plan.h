/*
** ckks_plan.h: the CKKS planner (interp/ckks_plan.c) and what it shares with
** `import ckks` (interp/mod_ckks.c).
*/
#ifndef HE_CKKS_PLAN_H
#define HE_CKKS_PLAN_H

#include "ckks/ckks.h"
#include "interp.h"

#define CKKS_CT_NAME "cipher<ckks>"
#define CKKS_PLAN_NAME "ckks_plan"
#define CKKS_INPUT_NAME "ckks_input"
#define CKKS_PREC_NAME "ckks_precision"
#define CKKS_KEYSIN_NAME "ckks_planning_keys"

/* The levels of a context: what a ciphertext's level and scale follow. */
typedef struct ckks_levels {
    unsigned n;                          /* ring dimension */
    int depth, sbits;                    /* the chain: depth + 1 data primes */
    double q[HE_CKKS_MAX_PRIMES];        /* the data primes q_0..q_depth, then P */
    double lscale[HE_CKKS_MAX_PRIMES];   /* the scale at each level (mod_ckks.c) */
    int bits[HE_CKKS_MAX_PRIMES];        /* bits of each prime, the special one last */
} ckks_levels;

/* mod_ckks.c */
enum { CKKS_BAD_NONE, CKKS_BAD_N, CKKS_BAD_SCALE, CKKS_BAD_DEPTH };
int ckks_chain_params(int64_t n, int64_t sbits, int64_t depth, bool insecure, he_ckks_params *p);
/* A context value for the parameters (secure only), or -1. */
int ckks_make_context(int64_t n, int64_t sbits, int64_t depth, he_value *out);
/* The levels of a context value (ckks_context); -1 if v is not one. */
int ckks_context_levels(he_value v, ckks_levels *out);
bool ckks_is_context(he_value v);
/* Counters of the operations real ciphertexts went through (ckks.counts()). */
typedef struct ckks_counts {
    long products, relins, plain_products, rotations, keyswitches, rescales;
} ckks_counts;
extern ckks_counts ckks_real_counts;
int ckks_counts_str(const ckks_counts *c, he_value *out);

/* ckks_plan.c: shadow ciphertexts (the abstract run) */
bool ckks_is_shadow(he_value v);
/* ckks.c: the builtins sum and mean on a ciphertext or a planning one. */
int ckks_value_method(const char *name, he_value *a, int n, he_value *out);
int ckks_shadow_rotate(he_value c, int64_t k, he_value *out);
int ckks_shadow_sum(he_value c, he_value *out);
int ckks_shadow_level(he_value c);
double ckks_shadow_scale(he_value c);
int ckks_shadow_refuse(const char *what);
/* ckks.dot on a batch of shadows (mirrors mod_ckks.c's f_dot) */
int ckks_shadow_dot(he_obj **v, int64_t m, he_value w, he_value *out);
/* ckks.matvec and ckks.matvec_diagonals on a shadow (W, D row-major) */
int ckks_shadow_matvec(he_value c, const double *W, int64_t rows, int64_t cols, const double *bias, he_value *out);
int ckks_shadow_diagonals(he_value c, const int *offs, const double *D, int64_t k, int64_t period, const double *bias,
                          he_value *out);
/* ckks.linear (W rows x m, row-major; bias NULL or rows) and ckks.square_pairs on shadows */
int ckks_shadow_linear(he_obj **v, int64_t m, const double *W, int64_t rows, const double *bias, he_value *out);
int ckks_shadow_square_pairs(he_value c, he_value *out);
int ckks_shadow_square_pairs_batch(he_obj **v, int64_t m, he_value *out);
/* mod_ckks.c: a batch holding the shadows v[0..m) (retained) */
int ckks_shadow_batch(he_value *v, int64_t m, he_value *out);
/* mod_ckks.c: whether v is a batch of shadows; its items */
bool ckks_is_batch(he_value v, he_obj ***items, int64_t *n);
/* whether a plan is running (ckks.encrypt then makes a shadow) */
bool ckks_planning(void);
int ckks_shadow_encrypt(he_value x, he_value *out); /* "cannot plan: what, at line N" */
/* plans */
bool ckks_is_plan(he_value v);
/* The plan's parameters and rotation steps (owned by the plan). */
void ckks_plan_params(he_value plan, int *n, int *sbits, int *depth, const int **steps, int *nsteps);
bool ckks_plan_conj(he_value plan); /* whether the plan needs the conjugation key (square_pairs) */
int ckks_plan_counts(he_value plan, he_value *out);
double ckks_plan_error(he_value plan); /* the predicted rms error of the result */
int ckks_plan_depth(he_value plan);
double ckks_plan_seconds(he_value plan); /* the expected time per call */
/* the builtins */
int ckks_f_plan(he_vm *vm, he_value *a, int n, he_value *out);
int ckks_f_input(he_vm *vm, he_value *a, int n, he_value *out);
int ckks_f_input_tiled(he_vm *vm, he_value *a, int n, he_value *out);
int ckks_f_input_pairs(he_vm *vm, he_value *a, int n, he_value *out);
int ckks_f_input_keys(he_vm *vm, he_value *a, int n, he_value *out);
bool ckks_is_input_keys(he_value v); /* the stand-in key set of ckks.input_keys() */
int ckks_f_precision(he_vm *vm, he_value *a, int n, he_value *out);
int ckks_f_fits(he_vm *vm, he_value *a, int n, he_value *out);

#endif
