/*
** smpc_values.h: what another native module (smpc_serve.c) needs of the
** smpc module's values: a context's runtime context, a share's runtime
** share, new share values, the failure of a collective operation, and the
** free ports and key files of local parties. Errors through he_error.
*/
#ifndef HE_SMPC_VALUES_H
#define HE_SMPC_VALUES_H

#include "interp.h"
#include "smpc/smpc.h"

/* The runtime context of a context value, or NULL with "smpc.FN: expected ...". */
he_smpc_ctx *smpc_value_ctx(he_value v, const char *fn);
/* The runtime share of a share value, or NULL; *ctxv (when not NULL) its context value (no new reference). */
he_share *smpc_value_share(he_value v, const char *fn, he_value *ctxv);
/* A new share value of context value ctxv holding s (taken, freed on failure). */
int smpc_value_wrap(he_value ctxv, he_share *s, he_value *out);
/* A collective operation of ctxv failed: the peers are told at once (as the
** smpc module's own functions do); returns -1 with the error kept. */
int smpc_value_fail(he_value ctxv);
/* A free TCP port on 127.0.0.1, or -1. */
int smpc_value_free_port(void);
/* This process's key file (--key, else party-I.key beside the party file). */
void smpc_value_key_file(const he_vm *vm, char *out, size_t cap);

#endif
