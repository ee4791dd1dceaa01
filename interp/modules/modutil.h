/*
** modutil.h: small helpers shared by the native modules (interp/modules/):
** the static rules of their builtins and their run-time argument checks.
** Each module keeps its own messages; these only factor the common shape.
*/
#ifndef HE_MODUTIL_H
#define HE_MODUTIL_H

#include <stdbool.h>
#include <string.h>

#include "interp.h"

/* --- static rules ---------------------------------------------------------------------------- */

/* Whether t is the object type called name. */
static inline bool ty_is_obj(const type *t, const char *name)
{
    return t->kind == T_OBJ && t->name && strcmp(t->name, name) == 0;
}

/* The member name of a call m.f(...), "?" for any other call (for messages). */
const char *mod_call_name(const node *call);

/* true when ok or t is not known statically; otherwise reports
** "expected WHAT, got T" at `at` and returns false. */
bool mod_need(checker *c, node *at, type *t, bool ok, const char *what);

/* --- run time -------------------------------------------------------------------------------- */

/* The object v if it is of type t; otherwise NULL and the error
** "MOD.FN: expected WHAT, got TYPE". */
void *mod_want(he_value v, const he_type *t, const char *mod, const char *fn, const char *what);

/* Indexing and slicing of an object held as a flat array of ndim-D shape
** (ciphertexts, shares): an int tensor of the result's shape whose entries
** are the flat positions taken (0-D when every axis is indexed), with the
** bounds and messages of tensor slicing; NULL with he_error. */
he_tensor *mod_slice_map(int ndim, const int64_t *shape, int n, const he_slice *s);

/* out = the int[2] tensor [a, b] (byte counters: sent, received); -1 when
** out of memory. */
int mod_int_pair(int64_t a, int64_t b, he_value *out);

#endif
