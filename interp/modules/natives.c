/*
** natives.c: the native modules, one per runtime scheme (interp/modules/).
** `import NAME` finds them before any .he file of that name.
*/
#include "interp.h"

extern const native_module he_mod_paillier;
extern const native_module he_mod_ivhe;
extern const native_module he_mod_data;
extern const native_module he_mod_smpc;
extern const native_module he_mod_ckks;
extern const native_module he_mod_nnops;
extern const native_module he_mod_onnx;
extern const native_module he_mod_serve;
extern const native_module he_mod_smpc_serve;
extern const native_module he_mod_mpi;

const native_module *const native_modules[] = {
    &he_mod_paillier,
    &he_mod_ivhe,
    &he_mod_data,
    &he_mod_smpc,
    &he_mod_ckks,
    &he_mod_nnops,
    &he_mod_onnx,
    &he_mod_serve,
    &he_mod_smpc_serve,
    &he_mod_mpi,
    NULL,
};
