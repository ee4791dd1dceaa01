/*
** proto.c: the objects that hold bytecode (functions' protos), closures
** over them, and builtins as values: made by the compiler, run by the VM.
*/
#include <stdlib.h>

#include "interp.h"

static void proto_free(he_obj *o)
{
    proto *p = (proto *)o;
    for (int i = 0; i < p->nk; i++) he_release(p->k[i]);
    free(p->k);
    free(p->code);
    free(p->lines);
    free(p->cols);
    for (int i = 0; i < p->ntypes; i++) free(p->checkwhat[i]);
    free(p->checkwhat);
    free(p->types);
    free(p->capfrom);
    free(p->capidx);
    free((char *)p->name);
    free(p->file);
    free(p);
}

static int fn_repr(const he_obj *o, he_buf *b)
{
    const proto *p = o->type == &closure_type ? ((const closure *)o)->p : (const proto *)o;
    return he_buf_printf(b, "<fn %s>", p->name);
}

const he_type proto_type = {.name = "proto", .free = proto_free, .repr = fn_repr};

static void closure_free(he_obj *o)
{
    closure *c = (closure *)o;
    for (int i = 0; i < c->ncaps; i++) he_release(c->caps[i]);
    he_release(he_objv(&c->p->obj));
    free(c);
}

const he_type closure_type = {.name = "fn", .free = closure_free, .repr = fn_repr};

static void cell_free(he_obj *o)
{
    he_release(((cell *)o)->v);
    free(o);
}

static int cell_repr(const he_obj *o, he_buf *b) { return he_repr(((const cell *)o)->v, b, true); }

const he_type cell_type = {.name = "cell", .free = cell_free, .repr = cell_repr};

static void native_free(he_obj *o) { free(o); }
static int native_repr(const he_obj *o, he_buf *b)
{
    return he_buf_printf(b, "<builtin %s>", builtins[((const native *)o)->bi].name);
}
const he_type native_type = {.name = "fn", .free = native_free, .repr = native_repr};

he_value he_closure_of(proto *p)
{
    closure *cl = malloc(sizeof *cl);
    if (!cl) he_misuse("out of memory");
    he_obj_init(&cl->obj, &closure_type);
    cl->p = p; /* takes the reference */
    cl->ncaps = 0;
    return he_objv(&cl->obj);
}
