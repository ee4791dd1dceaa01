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
