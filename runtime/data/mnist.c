/*
** mnist.c: MNIST from the original IDX files (gzip'd or not) through zlib.
**
** IDX: a big-endian header (magic 0x0000TTNN: TT = 0x08 unsigned bytes,
** NN = number of dimensions; then one u32 per dimension) and the items.
** gzopen reads uncompressed files transparently, and gzseek skips forward
** (decompressing for a .gz, seeking for a plain file), so only the header
** and the requested items are read.
*/
#include "data/data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 2051u /* 0x00000803 */
#define IDX_LABELS_MAGIC 2049u /* 0x00000801 */
/* Far more than any real IDX set; keeps offsets and products in range. */
#define IDX_MAX_ITEMS 100000000u

typedef struct idx_file {
    gzFile f;
    char *path;
    uint32_t n;               /* items */
    uint32_t dim[2];          /* item dimensions (images: rows, cols) */
    int64_t header;           /* header bytes */
} idx_file;

static void idx_close(idx_file *x)
{
    if (x->f) gzclose(x->f);
    x->f = NULL;
    he_free(x->path);
    x->path = NULL;
}

/* zlib's message for f, without the "path: " it puts in front. */
static const char *zmsg(gzFile f, const char *path, int *zerr)
{
    const char *m = gzerror(f, zerr);
    size_t n = strlen(path);
    if (!strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    return *zerr == Z_ERRNO ? strerror(errno) : m;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads n bytes; -1 with a message on a short read or a zlib error. */
static int idx_read(idx_file *x, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? 1u << 30 : (unsigned)(n - got);
        int r = gzread(x->f, (uint8_t *)buf + got, chunk);
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got == n) return 0;
    /* Depending on zlib's version a cut-off stream ends in an error
    ** (Z_BUF_ERROR) or a plain end of file: both read as truncated. */
    int zerr;
    const char *msg = zmsg(x->f, x->path, &zerr);
    if (zerr == Z_ERRNO) return he_error("%s: cannot read %s: %s", x->path, what, msg);
    if (zerr != Z_OK && zerr != Z_STREAM_END && zerr != Z_BUF_ERROR) {
        return he_error("%s: damaged gzip data: %s", x->path, msg);
    }
    bool z = zerr == Z_BUF_ERROR;
    return he_error("%s: truncated: %zu bytes of %s expected, only %zu there%s%s%s", x->path, n,
                    what, got, z ? " (zlib: " : "", z ? msg : "", z ? ")" : "");
}

/* Opens an IDX file of unsigned bytes with ndim dimensions (1 or 3). */
static int idx_open(idx_file *x, char *path, uint32_t magic, int ndim)
{
    memset(x, 0, sizeof *x);
    x->path = path;
    errno = 0;
    x->f = gzopen(path, "rb");
    if (!x->f) {
        int e = errno;
        he_error("%s: cannot open: %s", path, e ? strerror(e) : "out of memory");
        idx_close(x);
        return -1;
    }
    gzbuffer(x->f, 1u << 17);
    uint8_t h[16];
    if (idx_read(x, h, 4, "the IDX magic number") < 0) goto fail;
    uint32_t m = be32(h);
    if (m != magic) {
        const char *why = (h[0] || h[1])        ? "not an IDX file"
                          : m == IDX_LABELS_MAGIC ? "an MNIST labels file"
                          : m == IDX_IMAGES_MAGIC ? "an MNIST images file"
                          : h[2] != 0x08          ? "an IDX file, but not of unsigned bytes"
                                                  : "an IDX file with the wrong number of dimensions";
        he_error("%s: bad magic number %u (0x%08x): %s; expected %u (0x%08x, %s)", path, m, m, why,
                 magic, magic, magic == IDX_IMAGES_MAGIC ? "MNIST images" : "MNIST labels");
        goto fail;
    }
    if (idx_read(x, h, 4 * (size_t)ndim, "the IDX dimensions") < 0) goto fail;
    x->n = be32(h);
    if (x->n > IDX_MAX_ITEMS) {
        he_error("%s: implausible item count %u in the header", path, x->n);
        goto fail;
    }
    for (int i = 1; i < ndim; i++) x->dim[i - 1] = be32(h + 4 * i);
    if (ndim == 3 && (x->dim[0] != HE_MNIST_ROWS || x->dim[1] != HE_MNIST_COLS)) {
        he_error("%s: images are %ux%u, expected %dx%d", path, x->dim[0], x->dim[1], HE_MNIST_ROWS,
                 HE_MNIST_COLS);
        goto fail;
    }
    x->header = 4 + 4 * (int64_t)ndim;
    return 0;
fail:
    idx_close(x);
    return -1;
}

/* Moves to item `item` of `size` bytes each. */
static int idx_seek(idx_file *x, int64_t item, int64_t size)
{
    if (item == 0) return 0; /* already there after the header */
    z_off_t to = (z_off_t)(x->header + item * size);
    if (gzseek(x->f, to, SEEK_SET) != to) {
        int zerr;
        const char *msg = zmsg(x->f, x->path, &zerr);
        return he_error("%s: cannot skip to item %lld: %s", x->path, (long long)item,
                        zerr != Z_OK ? msg : "truncated file");
    }
    return 0;
}

/* When the whole file was read, nothing may follow (this also makes zlib
** check the gzip trailer's CRC and length). */
static int idx_check_end(idx_file *x)
{
    uint8_t c;
    int r = gzread(x->f, &c, 1);
    if (r == 1) return he_error("%s: unexpected data after the %u items the header announces", x->path, x->n);
    if (r < 0) {
        int zerr;
        return he_error("%s: %s", x->path, zmsg(x->f, x->path, &zerr));
    }
    return 0;
}

static int set_file(const char *which, const char *kind, idx_file *x, uint32_t magic, int ndim,
                    const char *dir_of)
{
    /* Files of a set live side by side: the labels are looked up in the
    ** folder the images came from, so a set is never mixed from two places. */
    char rel[64];
    snprintf(rel, sizeof rel, "%s-%s-idx%d-ubyte", which, kind, ndim);
    char *path = NULL;
    if (dir_of) {
        const char *slash = strrchr(dir_of, '/');
        size_t dl = slash ? (size_t)(slash - dir_of) : 1;
        const char *dir = slash ? dir_of : ".";
        static const char *const suffix[] = {"", ".gz"};
        for (int i = 0; i < 2 && !path; i++) {
            size_t n = dl + strlen(rel) + 8;
            char *p = he_malloc(n);
            if (!p) return -1;
            snprintf(p, n, "%.*s/%s%s", (int)dl, dir, rel, suffix[i]);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                path = p;
            } else {
                he_free(p);
            }
        }
        if (!path) {
            return he_error("MNIST %s: %.*s/%s(.gz) not found beside %s", which, (int)dl, dir, rel,
                            dir_of);
        }
    } else {
        char full[80];
        snprintf(full, sizeof full, "mnist/%s", rel);
        path = he_data_path(full);
        if (!path) return -1;
    }
    return idx_open(x, path, magic, ndim);
}

static const char *set_name(const char *which)
{
    if (!which) he_misuse("he_mnist_load: which is NULL");
    if (!strcmp(which, "train")) return "train";
    if (!strcmp(which, "t10k") || !strcmp(which, "test")) return "t10k";
    he_error("MNIST: unknown set '%s' (expected \"train\" or \"t10k\")", which);
    return NULL;
}

int he_mnist_size(const char *which, int64_t *n)
{
    if (!n) he_misuse("he_mnist_size: n is NULL");
    const char *set = set_name(which);
    if (!set) return -1;
    idx_file x;
    if (set_file(set, "labels", &x, IDX_LABELS_MAGIC, 1, NULL) < 0) return -1;
    *n = x.n;
    idx_close(&x);
    return 0;
}

static void release(he_tensor **t)
{
    if (*t) he_release(he_objv(&(*t)->obj));
    *t = NULL;
}

static int read_labels(idx_file *x, int64_t offset, int64_t count, he_tensor *t)
{
    if (idx_seek(x, offset, 1) < 0) return -1;
    uint8_t buf[4096];
    for (int64_t done = 0; done < count;) {
        size_t n = count - done > (int64_t)sizeof buf ? sizeof buf : (size_t)(count - done);
        if (idx_read(x, buf, n, "the labels") < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] > 9) {
                return he_error("%s: label %u of item %lld is not a digit 0..9", x->path, buf[i],
                                (long long)(offset + done + (int64_t)i));
            }
            t->data.i[done + (int64_t)i] = buf[i];
        }
        done += (int64_t)n;
    }
    return offset + count == (int64_t)x->n ? idx_check_end(x) : 0;
}

static int read_images(idx_file *x, int64_t offset, int64_t count, bool raw, he_tensor *t)
{
    if (idx_seek(x, offset, HE_MNIST_PIXELS) < 0) return -1;
    enum { BATCH = 64 };
    uint8_t *buf = he_malloc((size_t)BATCH * HE_MNIST_PIXELS);
    if (!buf) return -1;
    int rc = 0;
    for (int64_t done = 0; done < count;) {
        int64_t k = count - done > BATCH ? BATCH : count - done;
        size_t n = (size_t)k * HE_MNIST_PIXELS;
        if ((rc = idx_read(x, buf, n, "the images")) < 0) break;
        int64_t base = done * HE_MNIST_PIXELS;
        if (raw) {
            for (size_t i = 0; i < n; i++) t->data.i[base + (int64_t)i] = buf[i];
        } else {
            for (size_t i = 0; i < n; i++) t->data.f[base + (int64_t)i] = buf[i] / 255.0;
        }
        done += k;
    }
    he_free(buf);
    if (rc == 0 && offset + count == (int64_t)x->n) rc = idx_check_end(x);
    return rc;
}

int he_mnist_load_ex(const char *which, int64_t offset, int64_t count, unsigned flags,
                     he_tensor **images, he_tensor **labels)
{
    if (!images && !labels) he_misuse("he_mnist_load: neither images nor labels asked for");
    if (flags & ~HE_MNIST_RAW) he_misuse("he_mnist_load: unknown flags");
    if (images) *images = NULL;
    if (labels) *labels = NULL;
    const char *set = set_name(which);
    if (!set) return -1;
    if (offset < 0) return he_error("MNIST %s: negative offset %lld", set, (long long)offset);

    idx_file xi = {0}, xl = {0};
    he_tensor *ti = NULL, *tl = NULL;
    int rc = -1;
    /* Both headers are always read, so the two files are checked to agree
    ** even when only one of them is wanted. */
    if (set_file(set, "images", &xi, IDX_IMAGES_MAGIC, 3, NULL) < 0) goto done;
    if (set_file(set, "labels", &xl, IDX_LABELS_MAGIC, 1, xi.path) < 0) goto done;
    if (xi.n != xl.n) {
        he_error("MNIST %s: %s has %u images but %s has %u labels", set, xi.path, xi.n, xl.path, xl.n);
        goto done;
    }
    int64_t n = xi.n;
    if (count < 0) count = offset <= n ? n - offset : 0;
    if (offset > n || count > n - offset) {
        he_error("MNIST %s: items [%lld, %lld) asked for, but %s has %lld", set, (long long)offset,
                 (long long)(offset + count), xi.path, (long long)n);
        goto done;
    }
    if (images) {
        int64_t shape[3] = {count, HE_MNIST_ROWS, HE_MNIST_COLS};
        bool raw = flags & HE_MNIST_RAW;
        if (!(ti = he_tensor_new(raw ? HE_DT_INT : HE_DT_FLOAT, 0, 3, shape))) goto done;
        if (read_images(&xi, offset, count, raw, ti) < 0) goto done;
    }
    if (labels) {
        int64_t shape[1] = {count};
        if (!(tl = he_tensor_new(HE_DT_INT, 0, 1, shape))) goto done;
        if (read_labels(&xl, offset, count, tl) < 0) goto done;
    }
    rc = 0;
done:
    idx_close(&xi);
    idx_close(&xl);
    if (rc < 0) {
        release(&ti);
        release(&tl);
        return -1;
    }
    if (images) *images = ti;
    if (labels) *labels = tl;
    return 0;
}

int he_mnist_load(const char *which, int64_t offset, int64_t count, he_tensor **images,
                  he_tensor **labels)
{
    return he_mnist_load_ex(which, offset, count, 0, images, labels);
}
