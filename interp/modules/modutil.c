/*
** modutil.c: helpers shared by the native modules (see modutil.h).
*/
#include "modutil.h"

const char *mod_call_name(const node *call)
{
    return call->a && call->a->kind == N_MEMBER ? call->a->name : "?";
}

bool mod_need(checker *c, node *at, type *t, bool ok, const char *what)
{
    if (ok || t->kind == T_ANY) return true;
    ck_error(c, at, "expected %s, got %s", what, ty_str_of(t));
    return false;
}

void *mod_want(he_value v, const he_type *t, const char *mod, const char *fn, const char *what)
{
    if (he_is(v, t)) return v.as.o;
    he_error("%s.%s: expected %s, got %s", mod, fn, what, he_typename(v));
    return NULL;
}

he_tensor *mod_slice_map(int ndim, const int64_t *shape, int n, const he_slice *s)
{
    he_tensor *all = he_tensor_new(HE_DT_INT, 0, ndim, shape);
    if (!all) return NULL;
    for (int64_t i = 0; i < all->size; i++) all->data.i[i] = i;
    he_tensor *r = he_tensor_slice(all, n, s);
    he_release(he_objv(&all->obj));
    return r;
}

int mod_int_pair(int64_t a, int64_t b, he_value *out)
{
    int64_t two = 2;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &two);
    if (!t) return -1;
    t->data.i[0] = a;
    t->data.i[1] = b;
    *out = he_objv(&t->obj);
    return 0;
}
