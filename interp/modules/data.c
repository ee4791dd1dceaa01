/*
** modules/data.c: `import data`: the demonstrations' datasets (runtime/data).
**
**   let images = data.mnist("train", 0, 100)        # float [100, 28, 28] in [0, 1]
**   let labels = data.mnist_labels("t10k", 0, 100)  # int [100], 0..9
**   let d = data.imdb(20, 0.15, 24000)   # reviews, vocabulary (min count,
**                                         # polarity cut-off, training reviews)
**   len(d)                    # number of reviews (25,000)
**   data.imdb_vocab_size(d)   # 10,847 with the arguments above
**   data.imdb_bag(d, i)       # review i: its distinct vocabulary entries (int [k])
**   data.imdb_label(d, i)     # 1 positive, 0 negative
**   data.imdb_word(d, j)      # the word of vocabulary entry j
**   data.imdb_encode(d, "a new review")   # a bag for any text
**   data.has("imdb")          # whether the files are there (bool)
**
** Files are found as runtime/data/data.h says ($HE_DATA, ../shared/data,
** data/); a missing file is a run-time error naming the path searched.
*/
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "interp.h"
#include "modutil.h"

typedef struct imdb_obj {
    he_obj obj;
    he_imdb *d;
    he_imdb_vocab *v;
    he_imdb_bags *b;
} imdb_obj;

static void imdb_free(he_obj *o)
{
    imdb_obj *x = (imdb_obj *)o;
    he_imdb_bags_free(x->b);
    he_imdb_vocab_free(x->v);
    he_imdb_free(x->d);
    free(x);
}

static int imdb_repr(const he_obj *o, he_buf *b)
{
    const imdb_obj *x = (const imdb_obj *)o;
    return he_buf_printf(b, "<imdb: %lld reviews, vocabulary %lld words>", (long long)x->d->n_reviews,
                         (long long)x->v->size);
}

static int imdb_len(const he_obj *o, int64_t *n)
{
    *n = ((const imdb_obj *)o)->d->n_reviews;
    return 0;
}

static const he_type imdb_type = {.name = "imdb", .free = imdb_free, .repr = imdb_repr, .len = imdb_len};

static int want_str(he_value v, const char *fn, const char **s)
{
    if (!he_is(v, &he_str_type)) return he_error("data.%s: expected a str, got %s", fn, he_typename(v));
    *s = he_as_str(v)->data;
    return 0;
}

static int want_int(he_value v, const char *fn, int64_t *x)
{
    if (v.tag != HE_INT) return he_error("data.%s: expected an int, got %s", fn, he_typename(v));
    *x = v.as.i;
    return 0;
}

static int mnist(he_value *a, int n, bool labels, he_value *out)
{
    const char *fn = labels ? "mnist_labels" : "mnist";
    const char *which = NULL;
    int64_t off = 0, count = -1;
    if (want_str(a[0], fn, &which) < 0) return -1;
    if (n > 1 && want_int(a[1], fn, &off) < 0) return -1;
    if (n > 2 && want_int(a[2], fn, &count) < 0) return -1;
    if (off < 0) return he_error("data.%s: the offset must be >= 0", fn);
    he_tensor *t = NULL;
    if (he_mnist_load(which, off, count, labels ? NULL : &t, labels ? &t : NULL) < 0) return -1;
    *out = he_objv(&t->obj);
    return 0;
}

static int f_mnist(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    return mnist(a, n, false, out);
}

static int f_mnist_labels(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    return mnist(a, n, true, out);
}

/* imdb([min_count, polarity_cutoff, n_train]): defaults 20, 0.15, all but the last 1,000. */
static int f_imdb(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    int64_t min_count = 20, n_train = -1;
    double cutoff = 0.15;
    if (n > 0 && want_int(a[0], "imdb", &min_count) < 0) return -1;
    if (n > 1) {
        if (a[1].tag == HE_FLOAT) cutoff = a[1].as.f;
        else if (a[1].tag == HE_INT) cutoff = (double)a[1].as.i;
        else return he_error("data.imdb: the polarity cut-off must be a float");
    }
    if (n > 2 && want_int(a[2], "imdb", &n_train) < 0) return -1;
    he_imdb *d = he_imdb_load(NULL);
    if (!d) return -1;
    if (n_train < 0) n_train = d->n_reviews > 1000 ? d->n_reviews - 1000 : d->n_reviews;
    if (n_train > d->n_reviews) n_train = d->n_reviews;
    imdb_obj *x = he_malloc(sizeof *x);
    if (!x) {
        he_imdb_free(d);
        return -1;
    }
    he_obj_init(&x->obj, &imdb_type);
    x->d = d;
    x->v = NULL;
    x->b = NULL;
    if (he_imdb_build_vocab(d, n_train, min_count, cutoff, &x->v) < 0 ||
        he_imdb_build_bags(d, x->v, 0, d->n_reviews, &x->b) < 0) {
        imdb_free(&x->obj);
        return -1;
    }
    *out = he_objv(&x->obj);
    return 0;
}

static int want_imdb(he_value v, const char *fn, imdb_obj **x)
{
    *x = mod_want(v, &imdb_type, "data", fn, "an imdb dataset");
    return *x ? 0 : -1;
}

static int want_review(he_value *a, const char *fn, imdb_obj **x, int64_t *i)
{
    if (want_imdb(a[0], fn, x) < 0 || want_int(a[1], fn, i) < 0) return -1;
    int64_t n = (*x)->d->n_reviews;
    if (*i < 0) *i += n;
    if (*i < 0 || *i >= n) return he_error("data.%s: review %lld out of range (%lld reviews)", fn, (long long)a[1].as.i, (long long)n);
    return 0;
}

static int f_imdb_bag(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    imdb_obj *x = NULL;
    int64_t i = 0;
    if (want_review(a, "imdb_bag", &x, &i) < 0) return -1;
    int64_t s = x->b->start[i], k = x->b->start[i + 1] - s;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &k);
    if (!t) return -1;
    for (int64_t j = 0; j < k; j++) t->data.i[j] = x->b->index[s + j];
    *out = he_objv(&t->obj);
    return 0;
}

static int f_imdb_label(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    imdb_obj *x = NULL;
    int64_t i = 0;
    if (want_review(a, "imdb_label", &x, &i) < 0) return -1;
    *out = he_int(x->d->labels[i]);
    return 0;
}

static int f_imdb_vocab_size(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    imdb_obj *x = NULL;
    if (want_imdb(a[0], "imdb_vocab_size", &x) < 0) return -1;
    *out = he_int(x->v->size);
    return 0;
}

static int f_imdb_word(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    imdb_obj *x = NULL;
    int64_t j = 0;
    if (want_imdb(a[0], "imdb_word", &x) < 0 || want_int(a[1], "imdb_word", &j) < 0) return -1;
    if (j < 0 || j >= x->v->size) return he_error("data.imdb_word: entry %lld out of range", (long long)j);
    const char *w = he_imdb_vocab_word(x->d, x->v, j);
    he_str *s = he_str_new(w, strlen(w));
    if (!s) return -1;
    *out = he_objv(&s->obj);
    return 0;
}

static int f_imdb_encode(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    imdb_obj *x = NULL;
    const char *s = NULL;
    if (want_imdb(a[0], "imdb_encode", &x) < 0 || want_str(a[1], "imdb_encode", &s) < 0) return -1;
    he_tensor *t = he_imdb_encode_text(x->d, x->v, s, he_as_str(a[1])->len);
    if (!t) return -1;
    *out = he_objv(&t->obj);
    return 0;
}

/* has("mnist") / has("imdb"): whether the dataset's files are found. */
static int f_has(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)n;
    const char *which = NULL;
    if (want_str(a[0], "has", &which) < 0) return -1;
    char *p = NULL;
    if (strcmp(which, "mnist") == 0) p = he_data_path("mnist/train-labels-idx1-ubyte");
    else if (strcmp(which, "imdb") == 0) p = he_data_path("imdb/reviews.txt");
    else return he_error("data.has: unknown dataset '%s' (mnist or imdb)", which);
    *out = he_bool(p != NULL);
    free(p);
    return 0;
}

/* --- static rules -------------------------------------------------------------------- */
static bool is_imdb(const type *t) { return ty_is_obj(t, "imdb"); }

static type *r_mnist(checker *c, node *call, node **a, type **t, int n)
{
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "\"train\" or \"t10k\"");
    for (int i = 1; i < n; i++) mod_need(c, a[i], t[i], t[i]->kind == T_INT, "an int");
    bool labels = call->a && call->a->kind == N_MEMBER && strcmp(call->a->name, "mnist_labels") == 0;
    if (labels) {
        int64_t d = DIM_ANY;
        return ty_tensor(T_INT, 0, 1, &d);
    }
    int64_t d[3] = {DIM_ANY, HE_MNIST_ROWS, HE_MNIST_COLS};
    return ty_tensor(T_FLOAT, 0, 3, d);
}

static type *r_imdb(checker *c, node *call, node **a, type **t, int n)
{
    (void)call;
    if (n > 0) mod_need(c, a[0], t[0], t[0]->kind == T_INT, "the minimum count (int)");
    if (n > 1) mod_need(c, a[1], t[1], t[1]->kind == T_FLOAT || t[1]->kind == T_INT, "the polarity cut-off (float)");
    if (n > 2) mod_need(c, a[2], t[2], t[2]->kind == T_INT, "the number of training reviews (int)");
    return ty_obj("imdb");
}

static type *r_review(checker *c, node *call, node **a, type **t, int n)
{
    (void)n;
    mod_need(c, a[0], t[0], is_imdb(t[0]), "an imdb dataset");
    const char *f = call->a && call->a->kind == N_MEMBER ? call->a->name : "";
    if (strcmp(f, "imdb_encode") == 0) mod_need(c, a[1], t[1], t[1]->kind == T_STR, "a text (str)");
    else mod_need(c, a[1], t[1], t[1]->kind == T_INT, "an index (int)");
    if (strcmp(f, "imdb_label") == 0) return ty_int;
    if (strcmp(f, "imdb_word") == 0) return ty_str;
    int64_t d = DIM_ANY;
    return ty_tensor(T_INT, 0, 1, &d);
}

static type *r_vocab(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], is_imdb(t[0]), "an imdb dataset");
    return ty_int;
}

static type *r_has(checker *c, node *call, node **a, type **t, int n)
{
    (void)call; (void)n;
    mod_need(c, a[0], t[0], t[0]->kind == T_STR, "\"mnist\" or \"imdb\"");
    return ty_bool;
}

static const builtin fns[] = {
    {"mnist", NULL, 1, 3, f_mnist, r_mnist, "mnist(which [, offset, count]): images, float [count, 28, 28] in [0, 1]"},
    {"mnist_labels", NULL, 1, 3, f_mnist_labels, r_mnist, "mnist_labels(which [, offset, count]): int [count]"},
    {"imdb", NULL, 0, 3, f_imdb, r_imdb,
     "imdb([min_count, polarity_cutoff, n_train]): reviews and vocabulary (defaults 20, 0.15, all but the last 1000)"},
    {"imdb_bag", NULL, 2, 2, f_imdb_bag, r_review, "imdb_bag(d, i): review i's distinct vocabulary entries"},
    {"imdb_label", NULL, 2, 2, f_imdb_label, r_review, "imdb_label(d, i): 1 positive, 0 negative"},
    {"imdb_word", NULL, 2, 2, f_imdb_word, r_review, "imdb_word(d, j): the word of vocabulary entry j"},
    {"imdb_encode", NULL, 2, 2, f_imdb_encode, r_review, "imdb_encode(d, text): the bag of a new text"},
    {"imdb_vocab_size", NULL, 1, 1, f_imdb_vocab_size, r_vocab, "imdb_vocab_size(d): vocabulary entries"},
    {"has", NULL, 1, 1, f_has, r_has, "has(\"mnist\" | \"imdb\"): whether the files are found"},
};

const native_module he_mod_data = {
    .name = "data",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
