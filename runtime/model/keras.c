/*
** model/keras.c: Keras HDF5 files in (see model.h): the file `model.save`
** writes (the architecture as the JSON root attribute `model_config`, the
** weights under the group `model_weights`) and the one `save_weights`
** writes (the weights alone, at the root; the architecture then comes
** from the user as the JSON of `model.to_json()`).
**
** HDF5 is read by Debian's libhdf5 (from a file image in memory, so what is
** checked is what is read; in a child process, see read_file), the JSON by
** Debian's libjansson. The weights
** of each layer are the group named after the layer, its attribute
** `weight_names` listing its datasets in order (kernel, bias; gamma, beta,
** moving mean, moving variance), as Keras' load_weights_from_hdf5_group
** reads them; long attributes may be split by Keras into name0, name1, ...
**
** Keras is channels last (N, H, W, C); the model value is channels first
** (N, C, H, W) as ONNX: kernels [KH, KW, C, OC] become [OC, C, KH, KW], and
** the rows of the Dense after a Flatten are permuted from Keras' (h, w, c)
** order to (c, h, w). Every size read is bounded and every dataset's
** length checked against the storage the file has for it.
*/
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/model.h"

#define MAXNAMES 4096          /* layers in a file, weights in a layer */
#define MAXATTR (64u << 20)    /* bytes of one attribute (the JSON) */
#define MAXWEIGHT (INT64_C(1) << 27) /* values in one weight tensor */

typedef struct kloader {
    const char *what;
    size_t flen;   /* the file's length: attributes and data fit in it */
    struct kitem *items; /* what the child process read from the file */
    size_t nitems;
    char **fnames; /* the file's layers with weights (layer_names), for matching by order */
    size_t nfnames;
    bool by_order; /* no layer of the architecture is named in the file */
    size_t next;   /* by order: the next of fnames */
    he_model *m;
    unsigned flags;
    /* the value between layers, channels first, without the batch:
    ** nd 3: [c, h, w]; nd 1: [c] */
    int nd;
    int64_t c, h, w;
    bool chlast;      /* channels last (Keras' default) */
    int64_t *perm;    /* after a channels-last Flatten: row r of the next Dense is Keras' row perm[r] */
    int last_affine;  /* the layer a BatchNormalization can fold into (-1: none) */
    int nlayers_json; /* in the architecture */
    int li;           /* the layer being read */
} kloader;

/* --- HDF5 ----------------------------------------------------------------------------- */
static herr_t first_msg(unsigned n, const H5E_error2_t *e, void *data)
{
    char *out = data;
    if (n == 0 && e->desc) snprintf(out, 120, "%s", e->desc);
    return 0;
}

/* An error naming the file, with libhdf5's innermost message when it left one. */
static int h5_error(const kloader *K, const char *what)
{
    char msg[120] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, first_msg, msg);
    H5Eclear2(H5E_DEFAULT);
    if (*msg) return he_error("%s: %s (libhdf5: %s)", K->what, what, msg);
    return he_error("%s: %s", K->what, what);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

static void release_t(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

/* A string attribute (scalar or 1-D, fixed or variable length) as n
** malloc'd strings; an absent attribute gives n = 0 and 1 (Keras splits
** long ones into name0, name1, ...: those are joined); an empty non-string
** array (Keras' empty list) gives n = 0 and 0. -1 on an error. */
static int read_attr1(kloader *K, hid_t obj, const char *name, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    htri_t has = H5Aexists(obj, name);
    if (has < 0) return h5_error(K, "cannot read an attribute");
    if (!has) return 1;
    int rc = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = -1, s = -1, mt = -1;
    if (a < 0) return h5_error(K, "cannot open an attribute");
    if ((t = H5Aget_type(a)) < 0 || (s = H5Aget_space(a)) < 0) {
        h5_error(K, "cannot read an attribute's type");
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(s);
    hssize_t cnt = H5Sget_simple_extent_npoints(s);
    if (nd < 0 || nd > 1 || cnt < 0 || (size_t)cnt > MAXNAMES) {
        he_error("%s: attribute '%s' is not a list of at most %d strings", K->what, name, MAXNAMES);
        goto done;
    }
    if (H5Tget_class(t) != H5T_STRING) {
        if (cnt == 0) rc = 0; /* numpy's empty array */
        else he_error("%s: attribute '%s' is not text", K->what, name);
        goto done;
    }
    char **v = calloc((size_t)cnt + 1, sizeof *v);
    if (!v) {
        he_error("out of memory");
        goto done;
    }
    htri_t var = H5Tis_variable_str(t);
    if (var < 0) {
        free(v);
        h5_error(K, "cannot read an attribute's type");
        goto done;
    }
    if (var) {
        char **raw = calloc((size_t)cnt + 1, sizeof *raw);
        /* the file's character set: libhdf5 converts none to another */
        if (!raw || (mt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mt, H5Tget_cset(t)) < 0 || H5Aread(a, mt, raw) < 0) {
            free(raw);
            free(v);
            raw ? h5_error(K, "cannot read a text attribute") : he_error("out of memory");
            goto done;
        }
        bool ok = true;
        for (hssize_t i = 0; i < cnt; i++) {
            size_t len = raw[i] ? strnlen(raw[i], MAXATTR + 1) : 0;
            if (len > MAXATTR || !(v[i] = malloc(len + 1))) ok = false;
            else memcpy(v[i], raw[i] ? raw[i] : "", len), v[i][len] = 0;
        }
        H5Dvlen_reclaim(mt, s, H5P_DEFAULT, raw);
        free(raw);
        if (!ok) {
            free_names(v, (size_t)cnt);
            he_error("%s: attribute '%s' is longer than %u bytes", K->what, name, MAXATTR);
            goto done;
        }
    } else {
        size_t sz = H5Tget_size(t);
        if (sz == 0 || sz > MAXATTR || (size_t)cnt * sz > K->flen) {
            free(v);
            he_error("%s: attribute '%s' has a size the file cannot hold", K->what, name);
            goto done;
        }
        char *buf = malloc((size_t)cnt * sz + 1);
        if (!buf || (mt = H5Tcopy(t)) < 0 || H5Aread(a, mt, buf) < 0) {
            free(v);
            buf ? h5_error(K, "cannot read a text attribute") : he_error("out of memory");
            free(buf);
            goto done;
        }
        bool ok = true;
        for (hssize_t i = 0; i < cnt; i++) {
            const char *p = buf + (size_t)i * sz;
            size_t len = strnlen(p, sz);
            if (!(v[i] = malloc(len + 1))) ok = false;
            else memcpy(v[i], p, len), v[i][len] = 0;
        }
        free(buf);
        if (!ok) {
            free_names(v, (size_t)cnt);
            he_error("out of memory");
            goto done;
        }
    }
    *out = v;
    *n = (size_t)cnt;
    rc = 0;
done:
    if (mt >= 0) H5Tclose(mt);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* read_attr1, with Keras' split attributes (name0, name1, ...) joined. */
static int read_attr(kloader *K, hid_t obj, const char *name, char ***out, size_t *n)
{
    int rc = read_attr1(K, obj, name, out, n);
    if (rc != 1) return rc;
    char part[80];
    for (int k = 0;; k++) {
        snprintf(part, sizeof part, "%s%d", name, k);
        char **v;
        size_t m;
        int r = read_attr1(K, obj, part, &v, &m);
        if (r < 0) {
            free_names(*out, *n);
            *out = NULL;
            *n = 0;
            return -1;
        }
        if (r == 1) return k == 0 ? 1 : 0;
        char **all = realloc(*out, sizeof *all * (*n + m + 1));
        if (!all || *n + m > MAXNAMES) {
            free_names(v, m);
            free(all ? all : *out);
            *out = NULL;
            *n = 0;
            return he_error("%s: attribute '%s' is not a list of at most %d strings", K->what, name, MAXNAMES);
        }
        memcpy(all + *n, v, sizeof *v * m);
        free(v);
        *out = all;
        *n += m;
    }
}

/* Dataset `path` of group g as a float tensor, its length checked against
** the storage the file has for it. */
static he_tensor *read_dataset(kloader *K, hid_t g, const char *layer, const char *path)
{
    he_tensor *t = NULL;
    hid_t d = -1, s = -1, tp = -1, pl = -1;
    htri_t ok = H5Lexists(g, path, H5P_DEFAULT);
    if (ok <= 0) {
        H5Eclear2(H5E_DEFAULT);
        he_error("%s: layer '%s': weight '%s' is listed in weight_names but not in the file", K->what, layer, path);
        return NULL;
    }
    if ((d = H5Dopen2(g, path, H5P_DEFAULT)) < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "layer '%s': weight '%s' is not a dataset", layer, path);
        h5_error(K, msg);
        return NULL;
    }
    if ((s = H5Dget_space(d)) < 0 || (tp = H5Dget_type(d)) < 0 || (pl = H5Dget_create_plist(d)) < 0) {
        h5_error(K, "cannot read a dataset's shape");
        goto done;
    }
    H5T_class_t cls = H5Tget_class(tp);
    int nd = H5Sget_simple_extent_ndims(s);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        he_error("%s: layer '%s': weight '%s' is not numbers", K->what, layer, path);
        goto done;
    }
    if (nd < 0 || nd > HE_MAXDIM || H5Sget_simple_extent_type(s) == H5S_NULL) {
        he_error("%s: layer '%s': weight '%s' has no shape of at most %d dimensions", K->what, layer, path, HE_MAXDIM);
        goto done;
    }
    hsize_t dims[HE_MAXDIM];
    int64_t shape[HE_MAXDIM], size = 1;
    if (H5Sget_simple_extent_dims(s, dims, NULL) < 0) {
        h5_error(K, "cannot read a dataset's shape");
        goto done;
    }
    for (int i = 0; i < nd; i++) shape[i] = dims[i] > (hsize_t)HE_TENSOR_MAXSIZE ? -1 : (int64_t)dims[i];
    char msg[200];
    snprintf(msg, sizeof msg, "%s: layer '%s': weight '%s'", K->what, layer, path);
    if (he_shape_check(nd, shape, msg, &size) < 0) goto done;
    if (size > MAXWEIGHT) {
        he_error("%s: layer '%s': weight '%s' has %lld values (at most %lld)", K->what, layer, path, (long long)size,
                 (long long)MAXWEIGHT);
        goto done;
    }
    /* the bytes the file has for it: all of them (contiguous), or compressed
    ** chunks (at most ~1000:1 for deflate) */
    size_t esz = H5Tget_size(tp);
    hsize_t stored = H5Dget_storage_size(d);
    H5D_layout_t lay = H5Pget_layout(pl);
    uint64_t need = (uint64_t)size * esz;
    bool fits = esz >= 1 && esz <= 8 && stored <= K->flen &&
                (lay == H5D_CHUNKED ? need <= (uint64_t)stored * 1100 : lay == H5D_COMPACT || stored == need);
    if (!fits) {
        he_error("%s: layer '%s': weight '%s' of shape %s has %llu bytes of data in the file, not %llu (a damaged "
                 "file)", K->what, layer, path, he_shape_str(nd, shape).s, (unsigned long long)stored,
                 (unsigned long long)need);
        goto done;
    }
    if (!(t = he_tensor_new(HE_DT_FLOAT, 0, nd, shape))) goto done;
    if (size > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data.f) < 0) {
        snprintf(msg, sizeof msg, "layer '%s': weight '%s' cannot be read", layer, path);
        h5_error(K, msg);
        he_release(he_objv(&t->obj));
        t = NULL;
        goto done;
    }
    for (int64_t i = 0; i < size; i++)
        if (!isfinite(t->data.f[i])) {
            he_error("%s: layer '%s': weight '%s' holds a value that is not finite", K->what, layer, path);
            he_release(he_objv(&t->obj));
            t = NULL;
            break;
        }
done:
    if (pl >= 0) H5Pclose(pl);
    if (tp >= 0) H5Tclose(tp);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return t;
}

/* --- the file, read in a child process ---------------------------------------------------
** libhdf5 (1.10) does not check everything a damaged file says: a flipped
** bit in a variable-length string's global-heap index makes H5Aread read
** out of bounds. So the file is read in a child process, which sends back
** what it found (the attributes and the arrays, in a simple form that the
** parent checks as it decodes it); a crash, or more than 60 s, is then a
** refusal of the file, not of the program. */
typedef struct kitem {
    char kind; /* 's' strings, 't' a tensor, 'e' an error message (in s[0]) */
    char *key; /* "name" at the root, "group\x1fname" in the weights' group */
    char **s;
    size_t ns;
    he_tensor *t;
} kitem;

typedef struct kbytes {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} kbytes;

static void put(kbytes *b, const void *v, size_t n)
{
    if (b->failed) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void put_u64(kbytes *b, uint64_t v) { put(b, &v, sizeof v); }

static void put_str(kbytes *b, const char *s)
{
    size_t n = strlen(s);
    put_u64(b, n);
    put(b, s, n);
}

/* an item: kind, key, then the strings or the tensor */
static void put_key(kbytes *b, char kind, const char *g, const char *name)
{
    put(b, &kind, 1);
    put_u64(b, strlen(g) + (name ? strlen(name) + 1 : 0));
    put(b, g, strlen(g));
    if (name) put(b, "\x1f", 1), put(b, name, strlen(name));
}

static void put_strs(kbytes *b, char kind, const char *g, const char *name, char *const *v, size_t n)
{
    put_key(b, kind, g, name);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++) put_str(b, v[i]);
}

static void put_error(kbytes *b, const char *g, const char *name)
{
    char *msg = (char *)he_errmsg();
    put_strs(b, 'e', g, name, &msg, 1);
}

static void put_tensor(kbytes *b, const char *g, const char *name, const he_tensor *t)
{
    put_key(b, 't', g, name);
    put_u64(b, (uint64_t)t->ndim);
    for (int i = 0; i < t->ndim; i++) put_u64(b, (uint64_t)t->shape[i]);
    put(b, t->data.f, sizeof(double) * (size_t)t->size);
}

/* A root attribute as an item (absent: none). */
static int extract_attr(kloader *K, kbytes *out, hid_t obj, const char *name, const char *key)
{
    char **v;
    size_t n;
    int r = read_attr(K, obj, name, &v, &n);
    if (r == 0) put_strs(out, 's', key, NULL, v, n);
    free_names(v, n);
    return r < 0 ? -1 : 0;
}

static herr_t link_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g; (void)info;
    kbytes *names = data;
    if (names->n / sizeof(char *) >= MAXNAMES) return 1;
    char *c = strdup(name);
    if (!c) return -1;
    put(names, &c, sizeof c);
    return 0;
}

/* Everything the model may need, as items: the root's model_config and
** keras_version, the weights group's layer_names, and for each group in
** it its weight_names and the arrays they name (an array that cannot be
** read is an error item: only a layer that uses it fails). */
static int extract(kloader *K, const uint8_t *buf, size_t len, kbytes *out)
{
    int rc = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1, wg = -1;
    kbytes names = {0};
    /* the core driver on a copy of the image, under a name no file can have
    ** (/dev/null is not a folder): libhdf5 refuses an image whose name exists */
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 || H5Pset_file_image(fapl, (void *)buf, len) < 0) {
        h5_error(K, "cannot set up libhdf5");
        goto done;
    }
    if ((file = H5Fopen("/dev/null/he keras image", H5F_ACC_RDONLY, fapl)) < 0) {
        h5_error(K, "not a readable HDF5 file (damaged?)");
        goto done;
    }
    if (extract_attr(K, out, file, "model_config", "model_config") < 0 ||
        extract_attr(K, out, file, "keras_version", "keras_version") < 0)
        goto done;
    if (H5Lexists(file, "layers", H5P_DEFAULT) > 0) put_strs(out, 's', "#keras3", NULL, NULL, 0);
    htri_t mw = H5Lexists(file, "model_weights", H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    wg = H5Gopen2(file, mw > 0 ? "model_weights" : "/", H5P_DEFAULT);
    if (wg < 0) {
        h5_error(K, "cannot open the weights group");
        goto done;
    }
    if (extract_attr(K, out, wg, "layer_names", "#layer_names") < 0) goto done;
    if (H5Literate(wg, H5_INDEX_NAME, H5_ITER_INC, NULL, link_name, &names) < 0 || names.failed) {
        h5_error(K, "cannot list the weights group");
        goto done;
    }
    char **gn = (char **)names.p;
    size_t ng = names.n / sizeof(char *);
    for (size_t i = 0; i < ng; i++) {
        H5O_info_t oi;
        if (H5Oget_info_by_name(wg, gn[i], &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) {
            H5Eclear2(H5E_DEFAULT);
            continue;
        }
        hid_t g = H5Gopen2(wg, gn[i], H5P_DEFAULT);
        char **wn = NULL;
        size_t nw = 0;
        int r = g < 0 ? h5_error(K, "cannot open a layer's group") : read_attr(K, g, "weight_names", &wn, &nw);
        if (r < 0) put_error(out, gn[i], "#weight_names");
        if (r == 0) put_strs(out, 's', gn[i], "#weight_names", wn, nw);
        for (size_t j = 0; r == 0 && j < nw; j++) {
            he_tensor *t = read_dataset(K, g, gn[i], wn[j]);
            if (t) put_tensor(out, gn[i], wn[j], t), release_t(t);
            else put_error(out, gn[i], wn[j]);
        }
        free_names(wn, nw);
        if (g >= 0) H5Gclose(g);
    }
    rc = out->failed ? he_error("out of memory") : 0;
done:
    for (size_t i = 0; i < names.n / sizeof(char *); i++) free(((char **)names.p)[i]);
    free(names.p);
    if (wg >= 0) H5Gclose(wg);
    if (file >= 0) H5Fclose(file);
    if (fapl >= 0) H5Pclose(fapl);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child: extracts, sends status 0 and the items, or 1 and the message. */
static void child(kloader *K, const uint8_t *buf, size_t len, int fd)
{
    alarm(60);
    int null = open("/dev/null", O_WRONLY); /* what libhdf5 (or a sanitizer catching it) would print */
    if (null >= 0) dup2(null, 2), close(null);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as messages, not on stderr */
    kbytes out = {0};
    put(&out, "\0", 1);
    if (extract(K, buf, len, &out) < 0 || out.failed) {
        out.n = 0;
        out.failed = false;
        put(&out, "\1", 1);
        put_str(&out, he_errmsg());
    }
    _exit(out.failed || write_all(fd, out.p, out.n) < 0 ? 3 : 0);
}

/* --- decoding what the child sent (checked: it came through a pipe) --- */
typedef struct kin {
    const uint8_t *p;
    size_t n;
} kin;

static bool get(kin *in, void *v, size_t n)
{
    if (in->n < n) return false;
    memcpy(v, in->p, n);
    in->p += n;
    in->n -= n;
    return true;
}

static char *get_str(kin *in)
{
    uint64_t n;
    if (!get(in, &n, sizeof n) || n > in->n) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    memcpy(s, in->p, (size_t)n);
    s[n] = 0;
    in->p += n;
    in->n -= (size_t)n;
    return s;
}

static void free_items(kloader *K)
{
    for (size_t i = 0; i < K->nitems; i++) {
        free(K->items[i].key);
        free_names(K->items[i].s, K->items[i].ns);
        release_t(K->items[i].t);
    }
    free(K->items);
    K->items = NULL;
    K->nitems = 0;
}

static int decode(kloader *K, kin in)
{
    size_t cap = 0;
    while (in.n > 0) {
        if (K->nitems == cap) {
            cap = cap ? cap * 2 : 64;
            kitem *v = realloc(K->items, sizeof *v * cap);
            if (!v) return he_error("out of memory");
            K->items = v;
        }
        kitem *it = &K->items[K->nitems];
        memset(it, 0, sizeof *it);
        uint64_t n;
        if (!get(&in, &it->kind, 1) || !(it->key = get_str(&in))) goto bad;
        K->nitems++;
        if (it->kind == 't') {
            int64_t shape[HE_MAXDIM], size;
            if (!get(&in, &n, sizeof n) || n > HE_MAXDIM) goto bad;
            for (uint64_t i = 0; i < n; i++)
                if (!get(&in, &shape[i], sizeof shape[i])) goto bad;
            if (he_shape_check((int)n, shape, K->what, &size) < 0 || size > MAXWEIGHT ||
                in.n < sizeof(double) * (size_t)size || !(it->t = he_tensor_new(HE_DT_FLOAT, 0, (int)n, shape)))
                goto bad;
            get(&in, it->t->data.f, sizeof(double) * (size_t)size);
        } else if (it->kind == 's' || it->kind == 'e') {
            if (!get(&in, &n, sizeof n) || n > MAXNAMES || (it->kind == 'e' && n != 1)) goto bad;
            if (!(it->s = calloc((size_t)n + 1, sizeof *it->s))) return he_error("out of memory");
            for (; it->ns < n; it->ns++)
                if (!(it->s[it->ns] = get_str(&in))) goto bad;
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    return he_error("%s: the reading process sent damaged data", K->what);
}

/* Reads the file in a child process into K->items. */
static int read_file(kloader *K, const uint8_t *buf, size_t len)
{
    int fd[2];
    if (pipe(fd) < 0) return he_error("%s: cannot read it: pipe: %s", K->what, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return he_error("%s: cannot read it: fork: %s", K->what, strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        child(K, buf, len, fd[1]);
    }
    close(fd[1]);
    kbytes got = {0};
    uint8_t chunk[65536];
    for (;;) {
        ssize_t r = read(fd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (got.n + (size_t)r > (size_t)1 << 34) { /* 16 GB: more than any bounded extraction */
            got.failed = true;
            break;
        }
        put(&got, chunk, (size_t)r);
    }
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    int rc = -1;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        rc = he_error("%s: libhdf5 took more than 60 s to read it: a damaged HDF5 file", K->what);
    else if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3))
        rc = he_error("%s: libhdf5 failed while reading it (the process reading it %s %d): a damaged HDF5 file",
                      K->what, WIFSIGNALED(st) ? "died of signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    else if (got.failed || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || got.n < 1)
        rc = he_error("%s: the process reading it could not send what it read (out of memory?)", K->what);
    else if (got.p[0] == 1) {
        kin in = {got.p + 1, got.n - 1};
        char *msg = get_str(&in);
        rc = he_error("%s", msg ? msg : "the reading process sent a damaged message");
        free(msg);
    } else {
        rc = decode(K, (kin){got.p + 1, got.n - 1});
    }
    free(got.p);
    return rc;
}

/* The item `name` of group g (g alone when name is NULL), or NULL. */
static const kitem *item(const kloader *K, const char *g, const char *name)
{
    size_t lg = strlen(g);
    for (size_t i = 0; i < K->nitems; i++) {
        const char *k = K->items[i].key;
        if (strncmp(k, g, lg) != 0) continue;
        if (!name ? k[lg] == 0 : k[lg] == '\x1f' && strcmp(k + lg + 1, name) == 0) return &K->items[i];
    }
    return NULL;
}

/* The weights of layer `name` (n of them expected; `lo` the fewest), in
** the order of its weight_names. */
static int layer_weights(kloader *K, const char *name, const char *cls, int lo, int hi, he_tensor **w, int *n)
{
    *n = 0;
    const char *gname = name;
    if (K->by_order) {
        if (K->next >= K->nfnames)
            return he_error("%s: the file has weights for %zu layers, fewer than the architecture's; is it the "
                            "weights of this model?", K->what, K->nfnames);
        gname = K->fnames[K->next++];
    }
    const kitem *wn = item(K, gname, "#weight_names");
    if (!wn)
        return he_error("%s: no weights for layer '%s' (%s) in the file; is it the weights of this model?", K->what,
                        name, cls);
    if (wn->kind == 'e') return he_error("%s", wn->s[0]);
    if ((int)wn->ns < lo || (int)wn->ns > hi)
        return he_error("%s: layer '%s' (%s) has %zu weights in the file, expected %d", K->what, name, cls, wn->ns, lo);
    for (size_t i = 0; i < wn->ns; i++) {
        const kitem *t = item(K, gname, wn->s[i]);
        if (!t || t->kind != 't') {
            for (int j = 0; j < *n; j++) release_t(w[j]);
            *n = 0;
            return t ? he_error("%s", t->s[0])
                     : he_error("%s: layer '%s': weight '%s' is listed in weight_names but not in the file", K->what,
                                name, wn->s[i]);
        }
        he_retain(he_objv(&t->t->obj));
        w[(*n)++] = t->t;
    }
    return 0;
}

/* --- the architecture ------------------------------------------------------------------- */
static const char *jstr(const json_t *cfg, const char *key, const char *def)
{
    const json_t *v = json_object_get(cfg, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

/* An int pair from [a, b] or a single int (Keras' normalised tuples). */
static int jpair(kloader *K, const json_t *cfg, const char *lname, const char *key, int64_t def, int64_t out[2])
{
    const json_t *v = json_object_get(cfg, key);
    out[0] = out[1] = def;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        out[0] = out[1] = json_integer_value(v);
    } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_integer(json_array_get(v, 0)) &&
               json_is_integer(json_array_get(v, 1))) {
        out[0] = json_integer_value(json_array_get(v, 0));
        out[1] = json_integer_value(json_array_get(v, 1));
    } else {
        return he_error("%s: layer '%s': '%s' is not two integers", K->what, lname, key);
    }
    if (out[0] < 1 || out[1] < 1 || out[0] > 1 << 20 || out[1] > 1 << 20)
        return he_error("%s: layer '%s': '%s' [%lld, %lld] out of range", K->what, lname, key, (long long)out[0],
                        (long long)out[1]);
    return 0;
}

static int add_layer(kloader *K, he_layer_kind kind, const char *name, const char *cls, he_tensor *w, he_tensor *b,
                     const he_layer *more)
{
    he_layer ly = more ? *more : (he_layer){0};
    ly.kind = kind;
    snprintf(ly.name, sizeof ly.name, "%s", name);
    snprintf(ly.op, sizeof ly.op, "%s", cls);
    ly.w = w;
    ly.b = b;
    return he_model_add(K->m, &ly);
}

/* The activation of a layer (inline, or an Activation layer): linear adds
** nothing, relu/sigmoid/tanh a layer, softmax only at the output (dropped). */
static int activation(kloader *K, const char *act, const char *lname, const char *cls, bool inline_)
{
    if (!act || strcmp(act, "linear") == 0) return 0;
    char name[64];
    snprintf(name, sizeof name, inline_ ? "%.40s_%s" : "%.60s", lname, act);
    he_layer more = {0};
    if (strcmp(act, "relu") == 0) return add_layer(K, HE_L_RELU, name, cls, NULL, NULL, NULL);
    if (strcmp(act, "sigmoid") == 0 || strcmp(act, "tanh") == 0) {
        more.poly = (K->flags & HE_MODEL_POLY) != 0;
        return add_layer(K, act[0] == 's' ? HE_L_SIGMOID : HE_L_TANH, name, cls, NULL, NULL, &more);
    }
    if (strcmp(act, "softmax") == 0) {
        if (K->li != K->nlayers_json - 1)
            return he_error("%s: layer '%s' (%s): softmax is supported only at the output (it is dropped, the argmax "
                            "is the same); move it to the last layer",
                            K->what, lname, cls);
        K->m->softmax_dropped = true;
        return 0;
    }
    return he_error("%s: layer '%s' (%s): activation '%s' is not supported (he reads linear, relu, sigmoid, tanh and "
                    "softmax at the output); retrain with one of those",
                    K->what, lname, cls, act);
}

static const char *data_format(kloader *K, const json_t *cfg, const char *lname, bool *last)
{
    const char *f = jstr(cfg, "data_format", "channels_last");
    if (strcmp(f, "channels_last") == 0) *last = true;
    else if (strcmp(f, "channels_first") == 0) *last = false;
    else {
        he_error("%s: layer '%s': data_format '%s' is not supported", K->what, lname, f);
        return NULL;
    }
    return f;
}

/* A spatial layer: the value must be an image, in the model's one layout. */
static int need_image(kloader *K, const json_t *cfg, const char *lname, const char *cls)
{
    bool last;
    if (!data_format(K, cfg, lname, &last)) return -1;
    if (K->nd != 3)
        return he_error("%s: layer '%s' (%s) takes an image (H, W, C), but its input has %s", K->what, lname, cls,
                        K->nd == 1 ? "1 dimension" : "no known shape");
    if (last != K->chlast)
        return he_error("%s: layer '%s' (%s) is %s, the model's input %s; use one data_format", K->what, lname, cls,
                        last ? "channels_last" : "channels_first", K->chlast ? "channels_last" : "channels_first");
    return 0;
}

/* The padding for "valid" or "same" (TensorFlow's: the extra row at the
** bottom, the extra column at the right); out: the output size. */
static int padding(kloader *K, const json_t *cfg, const char *lname, const char *cls, const int64_t k[2],
                   const int64_t s[2], int64_t pad[4], int64_t out[2])
{
    const char *p = jstr(cfg, "padding", "valid");
    int64_t in[2] = {K->h, K->w};
    bool same = strcmp(p, "same") == 0;
    if (!same && strcmp(p, "valid") != 0)
        return he_error("%s: layer '%s' (%s): padding '%s' is not supported (valid or same)", K->what, lname, cls, p);
    for (int i = 0; i < 2; i++) {
        int64_t total = 0;
        if (same) {
            int64_t o = (in[i] + s[i] - 1) / s[i];
            total = (o - 1) * s[i] + k[i] - in[i];
            if (total < 0) total = 0;
        }
        pad[i] = total / 2;
        pad[i + 2] = total - total / 2;
        if (in[i] + total < k[i])
            return he_error("%s: layer '%s' (%s): window %lldx%lld larger than its input %lldx%lld", K->what, lname,
                            cls, (long long)k[0], (long long)k[1], (long long)K->h, (long long)K->w);
        out[i] = (in[i] + total - k[i]) / s[i] + 1;
    }
    return 0;
}

/* conv [KH, KW, C, OC] -> [OC, C, KH, KW] */
static he_tensor *conv_kernel(const he_tensor *k)
{
    int64_t KH = k->shape[0], KW = k->shape[1], C = k->shape[2], OC = k->shape[3];
    int64_t shape[4] = {OC, C, KH, KW};
    he_tensor *t = he_tensor_new(HE_DT_FLOAT, 0, 4, shape);
    if (!t) return NULL;
    for (int64_t y = 0; y < KH; y++)
        for (int64_t x = 0; x < KW; x++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t o = 0; o < OC; o++)
                    t->data.f[((o * C + c) * KH + y) * KW + x] = k->data.f[((y * KW + x) * C + c) * OC + o];
    return t;
}

static int conv2d(kloader *K, const json_t *cfg, const char *lname, const char *cls)
{
    if (need_image(K, cfg, lname, cls) < 0) return -1;
    int64_t k[2], s[2], dil[2], pad[4], out[2];
    if (jpair(K, cfg, lname, "kernel_size", 1, k) < 0 || jpair(K, cfg, lname, "strides", 1, s) < 0 ||
        jpair(K, cfg, lname, "dilation_rate", 1, dil) < 0)
        return -1;
    if (dil[0] != 1 || dil[1] != 1)
        return he_error("%s: layer '%s' (Conv2D): dilation_rate (%lld, %lld) is not supported; only 1", K->what, lname,
                        (long long)dil[0], (long long)dil[1]);
    const json_t *gr = json_object_get(cfg, "groups");
    if (gr && !(json_is_integer(gr) && json_integer_value(gr) == 1))
        return he_error("%s: layer '%s' (Conv2D): groups other than 1 are not supported (ordinary convolutions only)",
                        K->what, lname);
    const json_t *nf = json_object_get(cfg, "filters");
    if (!json_is_integer(nf) || json_integer_value(nf) < 1)
        return he_error("%s: layer '%s' (Conv2D): no number of filters", K->what, lname);
    int64_t OC = json_integer_value(nf);
    bool bias = !json_is_false(json_object_get(cfg, "use_bias"));
    if (padding(K, cfg, lname, cls, k, s, pad, out) < 0) return -1;
    he_tensor *wt[2];
    int n;
    if (layer_weights(K, lname, cls, bias ? 2 : 1, bias ? 2 : 1, wt, &n) < 0) return -1;
    int rc = 0;
    if (wt[0]->ndim != 4 || wt[0]->shape[0] != k[0] || wt[0]->shape[1] != k[1] || wt[0]->shape[2] != K->c ||
        wt[0]->shape[3] != OC)
        rc = he_error("%s: layer '%s' (Conv2D): kernel of shape %s, expected [%lld, %lld, %lld, %lld]", K->what, lname,
                      he_shape_str(wt[0]->ndim, wt[0]->shape).s, (long long)k[0], (long long)k[1], (long long)K->c,
                      (long long)OC);
    else if (bias && (wt[1]->ndim != 1 || wt[1]->shape[0] != OC))
        rc = he_error("%s: layer '%s' (Conv2D): bias of shape %s, expected [%lld]", K->what, lname,
                      he_shape_str(wt[1]->ndim, wt[1]->shape).s, (long long)OC);
    he_tensor *kern = rc == 0 ? conv_kernel(wt[0]) : NULL;
    if (rc == 0 && !kern) rc = -1;
    if (rc == 0) {
        he_layer more = {0};
        memcpy(more.s, s, sizeof more.s);
        memcpy(more.pad, pad, sizeof more.pad);
        rc = add_layer(K, HE_L_CONV, lname, cls, kern, bias ? wt[1] : NULL, &more);
    }
    release_t(kern);
    for (int i = 0; i < n; i++) release_t(wt[i]);
    if (rc < 0) return -1;
    K->c = OC;
    K->h = out[0];
    K->w = out[1];
    K->last_affine = K->m->nlayers - 1;
    return activation(K, jstr(cfg, "activation", "linear"), lname, cls, true);
}

static int dense(kloader *K, const json_t *cfg, const char *lname, const char *cls)
{
    if (K->nd != 1)
        return he_error("%s: layer '%s' (Dense) on a %s input: only on features (put a Flatten before it)", K->what,
                        lname, K->nd == 3 ? "3-D" : "shapeless");
    const json_t *u = json_object_get(cfg, "units");
    if (!json_is_integer(u) || json_integer_value(u) < 1)
        return he_error("%s: layer '%s' (Dense): no number of units", K->what, lname);
    int64_t units = json_integer_value(u);
    bool bias = !json_is_false(json_object_get(cfg, "use_bias"));
    he_tensor *wt[2];
    int n;
    if (layer_weights(K, lname, cls, bias ? 2 : 1, bias ? 2 : 1, wt, &n) < 0) return -1;
    int rc = 0;
    if (wt[0]->ndim != 2 || wt[0]->shape[0] != K->c || wt[0]->shape[1] != units)
        rc = he_error("%s: layer '%s' (Dense): kernel of shape %s, expected [%lld, %lld]", K->what, lname,
                      he_shape_str(wt[0]->ndim, wt[0]->shape).s, (long long)K->c, (long long)units);
    else if (bias && (wt[1]->ndim != 1 || wt[1]->shape[0] != units))
        rc = he_error("%s: layer '%s' (Dense): bias of shape %s, expected [%lld]", K->what, lname,
                      he_shape_str(wt[1]->ndim, wt[1]->shape).s, (long long)units);
    he_tensor *kern = wt[0];
    if (rc == 0 && K->perm) { /* Keras' (h, w, c) rows to (c, h, w) */
        if (!(kern = he_tensor_new(HE_DT_FLOAT, 0, 2, wt[0]->shape))) rc = -1;
        for (int64_t r = 0; rc == 0 && r < K->c; r++)
            memcpy(kern->data.f + r * units, wt[0]->data.f + K->perm[r] * units, sizeof(double) * (size_t)units);
    }
    if (rc == 0) rc = add_layer(K, HE_L_DENSE, lname, cls, kern, bias ? wt[1] : NULL, NULL);
    if (kern != wt[0]) release_t(kern);
    for (int i = 0; i < n; i++) release_t(wt[i]);
    if (rc < 0) return -1;
    free(K->perm);
    K->perm = NULL;
    K->c = units;
    K->last_affine = K->m->nlayers - 1;
    return activation(K, jstr(cfg, "activation", "linear"), lname, cls, true);
}

static int pool2d(kloader *K, const json_t *cfg, const char *lname, const char *cls, bool avg)
{
    if (need_image(K, cfg, lname, cls) < 0) return -1;
    int64_t k[2], s[2], pad[4], out[2];
    if (jpair(K, cfg, lname, "pool_size", 2, k) < 0 || jpair(K, cfg, lname, "strides", 0, s) < 0) return -1;
    if (s[0] == 0) memcpy(s, k, sizeof s); /* strides None: the pool size */
    if (padding(K, cfg, lname, cls, k, s, pad, out) < 0) return -1;
    if (pad[0] || pad[1] || pad[2] || pad[3])
        return he_error("%s: layer '%s' (%s): padding 'same' pads this %lldx%lld input, which he's pooling does not "
                        "do; use padding 'valid' (or an input the window divides)",
                        K->what, lname, cls, (long long)K->h, (long long)K->w);
    he_layer more = {0};
    memcpy(more.k, k, sizeof more.k);
    memcpy(more.s, s, sizeof more.s);
    if (add_layer(K, avg ? HE_L_AVGPOOL : HE_L_MAXPOOL, lname, cls, NULL, NULL, &more) < 0) return -1;
    K->h = out[0];
    K->w = out[1];
    K->last_affine = -1;
    return 0;
}

static int flatten(kloader *K, const json_t *cfg, const char *lname, const char *cls)
{
    bool last;
    if (!data_format(K, cfg, lname, &last)) return -1;
    if (K->nd == 1) return 0; /* already flat */
    if (K->nd != 3) return he_error("%s: layer '%s' (Flatten) of a shapeless input", K->what, lname);
    he_layer more = {.axis = 1};
    if (add_layer(K, HE_L_FLATTEN, lname, cls, NULL, NULL, &more) < 0) return -1;
    int64_t C = K->c, H = K->h, W = K->w;
    if (last && C > 1 && H * W > 1) {
        if (!(K->perm = malloc(sizeof *K->perm * (size_t)(C * H * W)))) return he_error("out of memory");
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) K->perm[(c * H + y) * W + x] = (y * W + x) * C + c;
    }
    K->nd = 1;
    K->c = C * H * W;
    K->last_affine = -1;
    return 0;
}

static int batchnorm(kloader *K, const json_t *cfg, const char *lname, const char *cls)
{
    const json_t *ax = json_object_get(cfg, "axis");
    if (json_is_array(ax) && json_array_size(ax) == 1) ax = json_array_get(ax, 0);
    int64_t a = json_is_integer(ax) ? json_integer_value(ax) : -1;
    int64_t chan = K->nd == 3 && K->chlast ? 3 : 1;
    if (!(a == -1 || a == chan) || (ax && !json_is_integer(ax)))
        return he_error("%s: layer '%s' (BatchNormalization): axis other than the channels' is not supported", K->what,
                        lname);
    if (K->last_affine < 0 || K->last_affine != K->m->nlayers - 1)
        return he_error("%s: layer '%s' (BatchNormalization) does not follow a Conv2D or Dense without activation, so "
                        "it cannot be folded; move the activation after it",
                        K->what, lname);
    if (K->perm)
        return he_error("%s: layer '%s' (BatchNormalization) after a Flatten cannot be folded", K->what, lname);
    bool scale = !json_is_false(json_object_get(cfg, "scale")), center = !json_is_false(json_object_get(cfg, "center"));
    const json_t *e = json_object_get(cfg, "epsilon");
    double eps = json_is_number(e) ? json_number_value(e) : 1e-3;
    int want = 2 + scale + center;
    he_tensor *wt[4], *p[4] = {NULL, NULL, NULL, NULL};
    int n;
    if (layer_weights(K, lname, cls, want, want, wt, &n) < 0) return -1;
    int i = 0, rc = 0;
    int64_t C = K->c;
    if (scale) p[0] = wt[i++];
    if (center) p[1] = wt[i++];
    p[2] = wt[i++];
    p[3] = wt[i++];
    he_tensor *ones = NULL, *zeros = NULL;
    if (!p[0] && !(p[0] = ones = he_tensor_new(HE_DT_FLOAT, 0, 1, &C))) rc = -1;
    if (rc == 0 && !p[1] && !(p[1] = zeros = he_tensor_new(HE_DT_FLOAT, 0, 1, &C))) rc = -1;
    for (int64_t c = 0; ones && c < C; c++) ones->data.f[c] = 1.0;
    char who[160];
    snprintf(who, sizeof who, "%s: layer '%s' (BatchNormalization)", K->what, lname);
    if (rc == 0) rc = he_model_fold_bn(K->m, K->last_affine, (const he_tensor *const *)p, eps, who);
    release_t(ones);
    release_t(zeros);
    for (int j = 0; j < n; j++) release_t(wt[j]);
    return rc;
}

/* The input shape from a list [batch, ...] (None: unknown). */
static int input_shape(kloader *K, const json_t *shp, const char *lname, const char *mname)
{
    size_t nd = json_array_size(shp);
    if (!json_is_array(shp) || (nd != 2 && nd != 4))
        return he_error("%s: layer '%s': the input must be features (batch, n) or images (batch, H, W, C)", K->what,
                        lname);
    int64_t d[4];
    for (size_t i = 1; i < nd; i++) {
        const json_t *v = json_array_get(shp, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 24)
            return he_error("%s: layer '%s': input dimension %zu is not a fixed size; build the model with a fixed "
                            "input shape", K->what, lname, i);
        d[i] = json_integer_value(v);
    }
    K->nd = (int)nd - 1;
    int64_t in[4] = {-1, 0, 0, 0};
    if (nd == 2) {
        K->c = in[1] = d[1];
    } else {
        K->c = K->chlast ? d[3] : d[1];
        K->h = K->chlast ? d[1] : d[2];
        K->w = K->chlast ? d[2] : d[3];
        in[1] = K->c, in[2] = K->h, in[3] = K->w;
    }
    he_model *m = he_model_new(mname, (int)nd, in);
    if (!m) return -1;
    snprintf(m->in_name, sizeof m->in_name, "%s", lname);
    K->m = m;
    return 0;
}

/* Where a layer says the model's input shape: InputLayer's batch_input_shape
** (Keras 2) or batch_shape (Keras 3), the first layer's batch_input_shape,
** or its build_config's input_shape. */
static const json_t *declared_input(const json_t *L)
{
    const json_t *cfg = json_object_get(L, "config");
    const json_t *s = json_object_get(cfg, "batch_input_shape");
    if (!s) s = json_object_get(cfg, "batch_shape");
    if (!s) s = json_object_get(json_object_get(L, "build_config"), "input_shape");
    return json_is_array(s) ? s : NULL;
}

static const char *const supported =
    "InputLayer, Conv2D, Dense, MaxPooling2D, AveragePooling2D, Flatten, Activation, ReLU, BatchNormalization, "
    "Dropout, Softmax";

static int one_layer(kloader *K, const json_t *L)
{
    const char *cls = jstr(L, "class_name", "?");
    const json_t *cfg = json_object_get(L, "config");
    if (!json_is_object(cfg)) return he_error("%s: layer %d (%s) has no config", K->what, K->li + 1, cls);
    char lname[64];
    snprintf(lname, sizeof lname, "%s", jstr(cfg, "name", "?"));
    if (strcmp(cls, "InputLayer") == 0) return he_error("%s: layer '%s': an InputLayer not first", K->what, lname);
    if (strcmp(cls, "Conv2D") == 0 || strcmp(cls, "Convolution2D") == 0) return conv2d(K, cfg, lname, "Conv2D");
    if (strcmp(cls, "Dense") == 0) return dense(K, cfg, lname, cls);
    if (strcmp(cls, "MaxPooling2D") == 0 || strcmp(cls, "MaxPool2D") == 0) return pool2d(K, cfg, lname, cls, false);
    if (strcmp(cls, "AveragePooling2D") == 0 || strcmp(cls, "AvgPool2D") == 0) return pool2d(K, cfg, lname, cls, true);
    if (strcmp(cls, "Flatten") == 0) return flatten(K, cfg, lname, cls);
    if (strcmp(cls, "BatchNormalization") == 0) return batchnorm(K, cfg, lname, cls);
    if (strcmp(cls, "Activation") == 0) {
        const json_t *a = json_object_get(cfg, "activation");
        if (!json_is_string(a))
            return he_error("%s: layer '%s' (Activation): only a named activation is supported", K->what, lname);
        K->last_affine = -1;
        return activation(K, json_string_value(a), lname, cls, false);
    }
    if (strcmp(cls, "ReLU") == 0) {
        const char *keys[] = {"max_value", "negative_slope", "threshold"};
        for (int i = 0; i < 3; i++) {
            const json_t *v = json_object_get(cfg, keys[i]);
            if (v && !json_is_null(v) && !(json_is_number(v) && json_number_value(v) == 0))
                return he_error("%s: layer '%s' (ReLU): %s is not supported; only the plain ReLU", K->what, lname,
                                keys[i]);
        }
        K->last_affine = -1;
        return activation(K, "relu", lname, cls, false);
    }
    if (strcmp(cls, "Softmax") == 0) {
        K->last_affine = -1;
        return activation(K, "softmax", lname, cls, false);
    }
    if (strcmp(cls, "Dropout") == 0 || strcmp(cls, "SpatialDropout2D") == 0) { /* the identity at inference */
        he_model *m = K->m;
        size_t used = strlen(m->dropped);
        snprintf(m->dropped + used, sizeof m->dropped - used, "%s%s (%s)", used ? ", " : "", lname, cls);
        return 0;
    }
    return he_error("%s: layer '%s' (%s) is not supported (he reads %s); replace it, or export the model as ONNX with "
                    "supported operators",
                    K->what, lname, cls, supported);
}

static int read_model(kloader *K, const char *arch, const char *arch_what, const char *version)
{
    json_error_t err;
    json_t *root = json_loads(arch, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return he_error("%s:%d:%d: the architecture is not JSON: %s", arch_what, err.line, err.column, err.text);
    int rc = -1;
    const char *cls = jstr(root, "class_name", NULL);
    const json_t *cfg = json_object_get(root, "config"), *layers = NULL;
    if (!cls) {
        he_error("%s: the architecture is not a Keras model (no class_name)", arch_what);
        goto done;
    }
    if (strcmp(cls, "Sequential") != 0) {
        he_error("%s: the architecture is a Keras %s model; he reads Sequential models (rebuild it with "
                 "keras.Sequential, or export it as ONNX)", arch_what, cls);
        goto done;
    }
    layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers"); /* Keras 2.2 had the list alone */
    if (!json_is_array(layers) || json_array_size(layers) == 0 || json_array_size(layers) > HE_MODEL_MAXNODES) {
        he_error("%s: the Sequential model has no list of layers", arch_what);
        goto done;
    }
    /* by name; by order (as Keras' load_weights) when the file names none of the layers */
    bool any = false;
    for (size_t i = 0; i < json_array_size(layers) && !any; i++) {
        const char *n = jstr(json_object_get(json_array_get(layers, i), "config"), "name", NULL);
        for (size_t j = 0; n && j < K->nfnames && !any; j++) any = strcmp(n, K->fnames[j]) == 0;
    }
    K->by_order = !any && K->nfnames > 0;
    K->nlayers_json = (int)json_array_size(layers);
    K->last_affine = -1;
    /* the input: the InputLayer's shape, or the first layer's */
    const json_t *L0 = json_array_get(layers, 0), *shp = declared_input(L0);
    const json_t *c0 = json_object_get(L0, "config");
    const char *cls0 = jstr(L0, "class_name", "?");
    char lname[64];
    snprintf(lname, sizeof lname, "%s", jstr(c0, "name", "?"));
    if (!shp) {
        he_error("%s: the architecture gives no input shape (no InputLayer, no batch_input_shape); build the model "
                 "with keras.Input(shape=...)", arch_what);
        goto done;
    }
    bool last = true;
    if (strcmp(cls0, "InputLayer") != 0 && !data_format(K, c0, lname, &last)) goto done;
    K->chlast = last;
    if (input_shape(K, shp, lname, jstr(json_is_object(cfg) ? cfg : NULL, "name", "sequential")) < 0) goto done;
    for (int i = strcmp(cls0, "InputLayer") == 0; i < K->nlayers_json; i++) {
        K->li = i;
        const json_t *L = json_array_get(layers, (size_t)i);
        if (!json_is_object(L)) {
            he_error("%s: layer %d of the architecture is not an object", arch_what, i + 1);
            goto done;
        }
        if (one_layer(K, L) < 0) goto done;
    }
    if (!K->m || K->m->nlayers == 0) {
        he_error("%s: the model computes nothing", arch_what);
        goto done;
    }
    if (K->perm) {
        he_error("%s: the model ends with a Flatten; he reads models whose Flatten feeds a Dense", arch_what);
        goto done;
    }
    he_model *m = K->m;
    snprintf(m->format, sizeof m->format, "keras");
    snprintf(m->producer, sizeof m->producer, "keras %.40s", version ? version : "?");
    const he_layer *lastl = &m->layers[m->nlayers - 1];
    snprintf(m->out_name, sizeof m->out_name, "%s", lastl->name);
    m->out_ndim = K->nd + 1;
    m->out_shape[0] = -1;
    m->out_shape[1] = K->c;
    if (K->nd == 3) m->out_shape[2] = K->h, m->out_shape[3] = K->w;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* The file's layers that have weights (layer_names), for matching by order. */
static int file_layers(kloader *K, const kitem *ln)
{
    K->fnames = calloc(ln->ns + 1, sizeof *K->fnames);
    if (!K->fnames) return he_error("out of memory");
    for (size_t i = 0; i < ln->ns; i++) {
        const kitem *wn = item(K, ln->s[i], "#weight_names");
        if (wn && wn->kind == 's' && wn->ns > 0 && !(K->fnames[K->nfnames++] = strdup(ln->s[i])))
            return he_error("out of memory");
    }
    return 0;
}

int he_model_parse_keras(const uint8_t *buf, size_t len, const char *what, const char *arch, const char *arch_what,
                         unsigned flags, he_model **out)
{
    *out = NULL;
    if (!he_model_is_hdf5(buf, len)) return he_error("%s: not an HDF5 file", what);
    kloader K = {.what = what, .flen = len, .flags = flags};
    int rc = -1;
    if (read_file(&K, buf, len) < 0) goto done;
    const kitem *cfg = item(&K, "model_config", NULL), *ver = item(&K, "keras_version", NULL);
    const kitem *ln = item(&K, "#layer_names", NULL);
    if (cfg && cfg->ns != 1) {
        he_error("%s: attribute 'model_config' is not one string", what);
        goto done;
    }
    if (!ln) {
        if (item(&K, "#keras3", NULL))
            he_error("%s: a Keras 3 weights file (.weights.h5); save the model with model.save(\"model.h5\") (the "
                     "HDF5 format he reads) or export it as ONNX", what);
        else he_error("%s: not a Keras HDF5 file (no layer_names attribute at the root or in model_weights)", what);
        goto done;
    }
    if (file_layers(&K, ln) < 0) goto done;
    if (!arch) {
        if (!cfg) {
            he_error("%s: a Keras weights file without the architecture (written by save_weights); give the "
                     "architecture too: onnx.keras(path, \"model.json\") with the JSON of model.to_json()", what);
            goto done;
        }
        arch = cfg->s[0];
        arch_what = what;
    }
    if (read_model(&K, arch, arch_what, ver && ver->ns == 1 ? ver->s[0] : NULL) < 0) goto done;
    rc = 0;
done:
    if (rc == 0) *out = K.m;
    else if (K.m) he_model_free(K.m);
    free(K.perm);
    free_names(K.fnames, K.nfnames);
    free_items(&K);
    return rc;
}

bool he_model_is_hdf5(const uint8_t *buf, size_t len)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    return len >= 8 && memcmp(buf, sig, 8) == 0;
}

int he_model_load_keras(const char *path, const char *arch, const char *arch_what, unsigned flags, he_model **out)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (he_file_read(path, (size_t)HE_MODEL_MAXFILE, "keras model", &buf, &len) < 0) return -1;
    int rc = he_model_parse_keras(buf, len, path, arch, arch_what, flags, out);
    he_free(buf);
    return rc;
}
