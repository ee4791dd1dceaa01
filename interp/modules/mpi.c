/*
** modules/mpi.c: `import mpi`: one script run as several processes, on one
** machine or many, by MPI (Open MPI: `mpirun -np K build/he script.he`).
** Every rank runs the whole script; these split the work and join it:
**
**   mpi.rank()              # this process: 0..size() - 1
**   mpi.size()              # the processes of the run
**   mpi.gather(t [, root])  # on root (default 0): the ranks' tensors one after
**                           # the other along axis 0 (in rank order; the first
**                           # dimension may differ, the rest must agree);
**                           # elsewhere a tensor of 0 rows
**   mpi.bcast(t [, root])   # root's tensor on every rank (the others' t is
**                           # ignored: only its type counts)
**   mpi.barrier()           # waits for every rank
**
** Run without mpirun (no Open MPI environment), a script is one rank of
** one: rank() 0, size() 1, gather and bcast return their tensor, and MPI is
** not started at all. Under mpirun MPI starts at the first call; it ends
** when the process exits: MPI_Finalize after a clean exit, MPI_Abort of the
** whole run after an error (the other ranks would wait in a collective
** forever otherwise).
*/
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "modutil.h"

static int up = -1; /* -1: not looked at yet; 0: one rank without MPI; 1: MPI running */
static int my_rank, n_ranks = 1;

/* At exit: a clean end finalizes, an error ends every rank of the run. */
static void mpi_down(int status, void *arg)
{
    (void)arg;
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, status);
    MPI_Finalize();
}

/* Starts MPI under mpirun (the first call of any function here). */
static int mpi_up(void)
{
    if (up >= 0) return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK")) {
        up = 0;
        return 0;
    }
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(NULL, NULL) != MPI_SUCCESS) return he_error("mpi: MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    on_exit(mpi_down, NULL);
    up = 1;
    return 0;
}

static int want_root(he_value *a, int n, const char *fn, int *root)
{
    *root = 0;
    if (n < 2) return 0;
    if (a[1].tag != HE_INT) return he_error("mpi.%s: the root must be an int, got %s", fn, he_typename(a[1]));
    if (a[1].as.i < 0 || a[1].as.i >= n_ranks)
        return he_error("mpi.%s: root %lld is not a rank (0..%d)", fn, (long long)a[1].as.i, n_ranks - 1);
    *root = (int)a[1].as.i;
    return 0;
}

static int f_rank(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    if (mpi_up() < 0) return -1;
    *out = he_int(my_rank);
    return 0;
}

static int f_size(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    if (mpi_up() < 0) return -1;
    *out = he_int(n_ranks);
    return 0;
}

static int f_barrier(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm; (void)a; (void)n;
    if (mpi_up() < 0) return -1;
    if (up && MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) return he_error("mpi.barrier failed");
    *out = he_int(0);
    return 0;
}

/* What a tensor is, as sent before its elements: dtype, frac, ndim, shape. */
enum { HDR = 3 + HE_MAXDIM };

static void header(const he_tensor *t, int64_t *h)
{
    memset(h, 0, HDR * sizeof *h);
    h[0] = t->dtype;
    h[1] = t->frac;
    h[2] = t->ndim;
    for (int d = 0; d < t->ndim; d++) h[3 + d] = t->shape[d];
}

/* Elements go in chunks of at most 2^27 (1 GiB): MPI counts are ints. */
#define CHUNK (INT64_C(1) << 27)

static int f_bcast(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    he_tensor *t = mod_want(a[0], &he_tensor_type, "mpi", "bcast", "a tensor");
    int root;
    if (!t || mpi_up() < 0 || want_root(a, n, "bcast", &root) < 0) return -1;
    if (!up || my_rank == root) {
        if (up) {
            int64_t h[HDR];
            header(t, h);
            MPI_Bcast(h, HDR, MPI_INT64_T, root, MPI_COMM_WORLD);
            for (int64_t i = 0; i < t->size; i += CHUNK) {
                int64_t c = t->size - i < CHUNK ? t->size - i : CHUNK;
                MPI_Bcast(t->data.i + i, (int)c, MPI_INT64_T, root, MPI_COMM_WORLD);
            }
        }
        he_retain(a[0]);
        *out = a[0];
        return 0;
    }
    int64_t h[HDR];
    MPI_Bcast(h, HDR, MPI_INT64_T, root, MPI_COMM_WORLD);
    he_tensor *r = he_tensor_new((he_dtype)h[0], (int)h[1], (int)h[2], h + 3);
    if (!r) return -1; /* root's tensor was one: cannot happen but for memory */
    for (int64_t i = 0; i < r->size; i += CHUNK) {
        int64_t c = r->size - i < CHUNK ? r->size - i : CHUNK;
        MPI_Bcast(r->data.i + i, (int)c, MPI_INT64_T, root, MPI_COMM_WORLD);
    }
    *out = he_objv(&r->obj);
    return 0;
}

/* gather: the headers first (every rank's, on root, which checks they
** agree), then the rows one rank after the other. A rank whose tensor does
** not agree makes root fail after the data has been received (the others
** have already moved on, so no rank waits). */
static int f_gather(he_vm *vm, he_value *a, int n, he_value *out)
{
    (void)vm;
    he_tensor *t = mod_want(a[0], &he_tensor_type, "mpi", "gather", "a tensor");
    int root;
    if (!t || mpi_up() < 0 || want_root(a, n, "gather", &root) < 0) return -1;
    if (t->ndim < 1) return he_error("mpi.gather: expected a tensor of at least one dimension, got a 0-d tensor");
    if (!up) {
        he_retain(a[0]);
        *out = a[0];
        return 0;
    }
    int64_t h[HDR];
    header(t, h);
    int64_t *all = my_rank == root ? malloc((size_t)n_ranks * HDR * sizeof *all) : NULL;
    if (my_rank == root && !all) return he_error("mpi.gather: out of memory");
    MPI_Gather(h, HDR, MPI_INT64_T, all, HDR, MPI_INT64_T, root, MPI_COMM_WORLD);
    if (my_rank != root) {
        for (int64_t i = 0; i < t->size; i += CHUNK) {
            int64_t c = t->size - i < CHUNK ? t->size - i : CHUNK;
            MPI_Send(t->data.i + i, (int)c, MPI_INT64_T, root, 0, MPI_COMM_WORLD);
        }
        int64_t shape[HE_MAXDIM];
        memcpy(shape, t->shape, sizeof shape);
        shape[0] = 0;
        he_tensor *r = he_tensor_new(t->dtype, t->frac, t->ndim, shape);
        if (!r) return -1;
        *out = he_objv(&r->obj);
        return 0;
    }
    /* root: the result's shape, and whether every rank's tensor fits it */
    int bad = -1;
    int64_t rows = 0;
    for (int k = 0; k < n_ranks; k++) {
        const int64_t *g = all + (size_t)k * HDR;
        bool same = g[0] == h[0] && g[1] == h[1] && g[2] == h[2];
        for (int d = 1; same && d < t->ndim; d++) same = g[3 + d] == h[3 + d];
        if (!same && bad < 0) bad = k;
        rows += g[3];
    }
    int64_t shape[HE_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = rows;
    he_tensor *r = he_tensor_new(t->dtype, t->frac, t->ndim, shape);
    int64_t at = 0;
    int64_t *scratch = NULL;
    for (int k = 0; k < n_ranks; k++) {
        const int64_t *g = all + (size_t)k * HDR;
        int64_t size = 1;
        for (int d = 0; d < (int)g[2]; d++) size *= g[3 + d];
        if (k == root) {
            if (r) memcpy(r->data.i + at, t->data.i, (size_t)t->size * sizeof(int64_t));
            at += t->size;
            continue;
        }
        /* when a rank does not fit, everything is received into scratch and dropped */
        bool fits = r && bad < 0;
        for (int64_t i = 0; i < size; i += CHUNK) {
            int64_t c = size - i < CHUNK ? size - i : CHUNK;
            int64_t *dst = fits ? r->data.i + at + i : NULL;
            if (!dst) {
                if (!scratch) scratch = malloc((size_t)CHUNK * sizeof *scratch);
                dst = scratch;
            }
            MPI_Recv(dst, (int)c, MPI_INT64_T, k, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        at += size;
    }
    free(scratch);
    if (bad >= 0) {
        he_dtype dt = (he_dtype)all[(size_t)bad * HDR];
        long long nd = (long long)all[(size_t)bad * HDR + 2];
        free(all);
        if (r) he_release(he_objv(&r->obj));
        return he_error("mpi.gather: rank %d's tensor (%s, %lld dimensions) does not match root's (%s, %d dimensions) "
                        "beyond the first dimension", bad, he_dtype_name(dt), nd, he_dtype_name(t->dtype), t->ndim);
    }
    free(all);
    if (!r) return -1;
    *out = he_objv(&r->obj);
    return 0;
}

/* --- static rules -------------------------------------------------------------------- */
static type *r_int(checker *c, node *call, node **a, type **t, int n)
{
    (void)c; (void)call; (void)a; (void)t; (void)n;
    return ty_int;
}

static type *r_tensor(checker *c, node *call, node **a, type **t, int n)
{
    const char *fn = mod_call_name(call);
    char what[64];
    snprintf(what, sizeof what, "a tensor as mpi.%s's first argument", fn);
    mod_need(c, a[0], t[0], t[0]->kind == T_TENSOR, what);
    snprintf(what, sizeof what, "the root rank (int) as mpi.%s's second argument", fn);
    if (n > 1) mod_need(c, a[1], t[1], t[1]->kind == T_INT, what);
    if (t[0]->kind != T_TENSOR) return ty_any;
    bool gather = strcmp(fn, "gather") == 0;
    if (!gather) return t[0];
    int64_t dims[MAXRANK];
    int rank = t[0]->rank;
    for (int d = 0; d < rank && d < MAXRANK; d++) dims[d] = t[0]->dims[d];
    if (rank > 0) dims[0] = DIM_ANY;
    return ty_tensor(t[0]->elem, t[0]->frac, rank, dims);
}

static const builtin fns[] = {
    {"rank", NULL, 0, 0, f_rank, r_int, "rank(): this process's rank, 0..size() - 1 (0 without mpirun)"},
    {"size", NULL, 0, 0, f_size, r_int, "size(): the number of processes (1 without mpirun)"},
    {"barrier", NULL, 0, 0, f_barrier, r_int, "barrier(): waits for every rank"},
    {"gather", NULL, 1, 2, f_gather, r_tensor,
     "gather(t [, root]): on root (0), every rank's t along axis 0 in rank order; elsewhere 0 rows"},
    {"bcast", NULL, 1, 2, f_bcast, r_tensor, "bcast(t [, root]): root's (0) tensor on every rank"},
};

const native_module he_mod_mpi = {
    .name = "mpi",
    .fns = fns,
    .nfns = (int)(sizeof fns / sizeof fns[0]),
};
