/*
** npy.c: NumPy .npy files (see tensor.h).
**
** Format (numpy/lib/format.py, NEP 1): the magic "\x93NUMPY", a major and
** minor version byte, the header length (2 bytes little-endian in 1.0, 4
** in 2.0 and 3.0), then the header: a Python dict literal with the keys
** 'descr', 'fortran_order' and 'shape', padded with spaces and ended by a
** newline so the data starts on a 64-byte boundary. The data follows,
** row-major. Everything is parsed with explicit bounds: a damaged file is
** an error naming the file and the problem, never a crash.
*/
#include "tensor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Reads a whole file. */
static int read_all(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return he_error("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = he_malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                he_free(buf);
                fclose(f);
                return he_error("%s: file too large", path);
            }
            uint8_t *nb = he_realloc(buf, cap * 2);
            if (!nb) {
                he_free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        he_free(buf);
        return he_error("%s: read error", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* --- the header dict ------------------------------------------------------- */

typedef struct hparse {
    const char *p, *end, *path;
} hparse;

static void skip_ws(hparse *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int expect(hparse *h, char c)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p != c)
        return he_error("%s: malformed .npy header: expected '%c'", h->path, c);
    h->p++;
    return 0;
}

/* A Python string literal without escapes (all that numpy writes). */
static int parse_str(hparse *h, char *out, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return he_error("%s: malformed .npy header: expected a quoted string", h->path);
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= cap)
            return he_error("%s: malformed .npy header: unexpected string", h->path);
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return he_error("%s: malformed .npy header: unterminated string", h->path);
    h->p++;
    out[n] = '\0';
    return 0;
}

static int parse_shape(hparse *h, int *ndim, int64_t *shape)
{
    if (expect(h, '(') < 0) return -1;
    int nd = 0;
    for (;;) {
        skip_ws(h);
        if (h->p < h->end && *h->p == ')') {
            h->p++;
            break;
        }
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return he_error("%s: malformed .npy header: bad shape", h->path);
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *h->p - '0', &v))
                return he_error("%s: .npy shape dimension too large", h->path);
            h->p++;
        }
        if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 long */
        if (nd == HE_MAXDIM)
            return he_error("%s: .npy array has more than %d dimensions", h->path, HE_MAXDIM);
        shape[nd++] = v;
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') h->p++;
        else if (h->p < h->end && *h->p == ')') {
            h->p++;
            break;
        } else return he_error("%s: malformed .npy header: bad shape", h->path);
    }
    *ndim = nd;
    return 0;
}

typedef struct npy_dtype {
    char kind; /* 'i' 'u' 'f' 'b' */
    int size;
    bool big;
} npy_dtype;

static bool host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

static int parse_descr(const char *path, const char *d, npy_dtype *dt)
{
    size_t n = strlen(d);
    if (n >= 2 && (d[1] == 'O' || d[0] == 'O'))
        return he_error("%s: object arrays (dtype '%s') are not supported", path, d);
    if (n != 3 || !strchr("<>|=", d[0]) || d[2] < '1' || d[2] > '9')
        return he_error("%s: unsupported .npy dtype '%s' (supported: i1 i2 i4 i8 u1 u2 u4 u8 f4 f8 b1)", path, d);
    dt->kind = d[1];
    dt->size = d[2] - '0';
    bool ok = ((dt->kind == 'i' || dt->kind == 'u') &&
               (dt->size == 1 || dt->size == 2 || dt->size == 4 || dt->size == 8)) ||
              (dt->kind == 'f' && (dt->size == 4 || dt->size == 8)) || (dt->kind == 'b' && dt->size == 1);
    if (!ok)
        return he_error("%s: unsupported .npy dtype '%s' (supported: i1 i2 i4 i8 u1 u2 u4 u8 f4 f8 b1)", path, d);
    if (d[0] == '|' && dt->size != 1)
        return he_error("%s: .npy dtype '%s' needs a byte order ('<' or '>')", path, d);
    dt->big = d[0] == '>' || (d[0] == '=' && host_big_endian());
    return 0;
}

static uint64_t load_uint(const uint8_t *p, int size, bool big)
{
    uint64_t v = 0;
    if (big)
        for (int b = 0; b < size; b++) v = (v << 8) | p[b];
    else
        for (int b = size - 1; b >= 0; b--) v = (v << 8) | p[b];
    return v;
}

he_tensor *he_npy_load(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    he_tensor *t = NULL;
    if (read_all(path, &buf, &len) < 0) return NULL;
    if (len < 8 || memcmp(buf, npy_magic, 6) != 0) {
        he_error("%s: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0) {
        he_error("%s: unsupported .npy format version %d.%d (1.0, 2.0 and 3.0 are read)", path, major, minor);
        goto done;
    }
    size_t start = major == 1 ? 10 : 12;
    if (len < start) {
        he_error("%s: truncated .npy file (ends inside the header length)", path);
        goto done;
    }
    size_t hlen = major == 1 ? (size_t)load_uint(buf + 8, 2, false) : (size_t)load_uint(buf + 8, 4, false);
    if (hlen > len - start) {
        he_error("%s: truncated .npy header (needs %zu bytes, the file has %zu after the preamble)", path, hlen,
                 len - start);
        goto done;
    }
    hparse h = {(const char *)buf + start, (const char *)buf + start + hlen, path};
    char key[32], descr[32] = "";
    bool have_descr = false, have_fortran = false, have_shape = false, fortran = false;
    int ndim = 0;
    int64_t shape[HE_MAXDIM];
    if (expect(&h, '{') < 0) goto done;
    for (;;) {
        skip_ws(&h);
        if (h.p < h.end && *h.p == '}') {
            h.p++;
            break;
        }
        if (parse_str(&h, key, sizeof key) < 0 || expect(&h, ':') < 0) goto done;
        skip_ws(&h);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (h.p < h.end && *h.p == '[') {
                he_error("%s: structured (record) dtypes are not supported", path);
                goto done;
            }
            if (parse_str(&h, descr, sizeof descr) < 0) goto done;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            size_t rest = (size_t)(h.end - h.p);
            if (rest >= 4 && memcmp(h.p, "True", 4) == 0) fortran = true, h.p += 4;
            else if (rest >= 5 && memcmp(h.p, "False", 5) == 0) fortran = false, h.p += 5;
            else {
                he_error("%s: malformed .npy header: fortran_order is not True or False", path);
                goto done;
            }
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (parse_shape(&h, &ndim, shape) < 0) goto done;
            have_shape = true;
        } else {
            he_error("%s: malformed .npy header: unexpected or repeated key '%s'", path, key);
            goto done;
        }
        skip_ws(&h);
        if (h.p < h.end && *h.p == ',') h.p++;
        else if (h.p < h.end && *h.p == '}') {
            h.p++;
            break;
        } else {
            he_error("%s: malformed .npy header: expected ',' or '}'", path);
            goto done;
        }
    }
    skip_ws(&h);
    if (h.p != h.end) {
        he_error("%s: malformed .npy header: unexpected text after the dict", path);
        goto done;
    }
    if (!have_descr || !have_fortran || !have_shape) {
        he_error("%s: .npy header lacks '%s'", path, !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
        goto done;
    }
    if (fortran) {
        he_error("%s: Fortran-order (column-major) .npy arrays are not supported; save in C order", path);
        goto done;
    }
    npy_dtype dt = {0, 0, false};
    if (parse_descr(path, descr, &dt) < 0) goto done;
    int64_t count;
    if (he_shape_check(ndim, shape, path, &count) < 0) goto done;
    size_t avail = len - start - hlen, need;
    if (he_mul_size((size_t)count, (size_t)dt.size, &need) < 0) goto done;
    if (avail < need) {
        he_error("%s: truncated .npy data: shape %s of '%s' needs %zu bytes, the file has %zu", path,
                 he_shape_str(ndim, shape).s, descr, need, avail);
        goto done;
    }
    if (avail > need) {
        he_error("%s: .npy file is longer than its header says: %zu bytes of data for shape %s of '%s', "
                 "found %zu",
                 path, need, he_shape_str(ndim, shape).s, descr, avail);
        goto done;
    }
    he_dtype tdt = dt.kind == 'f' ? HE_DT_FLOAT : dt.kind == 'b' ? HE_DT_BOOL : HE_DT_INT;
    t = he_tensor_new(tdt, 0, ndim, shape);
    if (!t) goto done;
    const uint8_t *p = buf + start + hlen;
    for (int64_t k = 0; k < count; k++, p += dt.size) {
        uint64_t u = load_uint(p, dt.size, dt.big);
        switch (dt.kind) {
        case 'i':
            if (dt.size < 8 && (u >> (8 * dt.size - 1)) & 1) u |= ~UINT64_C(0) << (8 * dt.size);
            t->data.i[k] = (int64_t)u;
            break;
        case 'u':
            if (u > INT64_MAX) {
                he_error("%s: element %lld (%llu) of the u8 array does not fit in int", path, (long long)k,
                         (unsigned long long)u);
                goto fail;
            }
            t->data.i[k] = (int64_t)u;
            break;
        case 'f':
            if (dt.size == 4) {
                uint32_t w = (uint32_t)u;
                float fl;
                memcpy(&fl, &w, 4);
                t->data.f[k] = fl;
            } else memcpy(&t->data.f[k], &u, 8);
            break;
        default:
            if (u > 1) {
                he_error("%s: element %lld of the bool array is %llu, not 0 or 1", path, (long long)k,
                         (unsigned long long)u);
                goto fail;
            }
            t->data.i[k] = (int64_t)u;
        }
    }
    goto done;
fail:
    he_release(he_objv(&t->obj));
    t = NULL;
done:
    he_free(buf);
    return t;
}

static void store_le(uint8_t *p, uint64_t v, int size)
{
    for (int b = 0; b < size; b++) p[b] = (uint8_t)(v >> (8 * b));
}

int he_npy_save(const char *path, const he_tensor *t)
{
    /* the header exactly as numpy >= 1.24 writes it, growth-axis padding
    ** included */
    he_buf hb;
    he_buf_init(&hb);
    const char *descr = t->dtype == HE_DT_BOOL ? "|b1" : t->dtype == HE_DT_INT ? "<i8" : "<f8";
    int rc = he_buf_printf(&hb, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < t->ndim && rc == 0; d++)
        rc = he_buf_printf(&hb, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (rc == 0) rc = he_buf_puts(&hb, t->ndim == 1 ? ",), }" : "), }");
    if (rc == 0 && t->ndim > 0) {
        char digits[24];
        int nd = snprintf(digits, sizeof digits, "%lld", (long long)t->shape[0]);
        for (int s = nd; s < 21 && rc == 0; s++) rc = he_buf_puts(&hb, " ");
    }
    if (rc < 0) {
        he_buf_free(&hb);
        return -1;
    }
    size_t hlen = hb.len + 1, pad = 64 - (10 + hlen) % 64, total_h = hlen + pad;
    int esize = t->dtype == HE_DT_BOOL ? 1 : 8;
    size_t dlen = (size_t)t->size * (size_t)esize, flen = 10 + total_h + dlen;
    uint8_t *out = he_malloc(flen);
    if (!out) {
        he_buf_free(&hb);
        return -1;
    }
    memcpy(out, npy_magic, 6);
    out[6] = 1;
    out[7] = 0;
    store_le(out + 8, total_h, 2); /* < 65536: at most 8 dims of 19 digits */
    memcpy(out + 10, hb.data, hb.len);
    memset(out + 10 + hb.len, ' ', pad);
    out[10 + total_h - 1] = '\n';
    he_buf_free(&hb);
    uint8_t *p = out + 10 + total_h;
    for (int64_t k = 0; k < t->size; k++) {
        switch ((he_dtype)t->dtype) {
        case HE_DT_BOOL: *p++ = t->data.i[k] ? 1 : 0; break;
        case HE_DT_INT: store_le(p, (uint64_t)t->data.i[k], 8), p += 8; break;
        case HE_DT_FLOAT: {
            uint64_t u;
            memcpy(&u, &t->data.f[k], 8);
            store_le(p, u, 8), p += 8;
            break;
        }
        case HE_DT_FIXED: {
            double d = he_fixed_to_double(t->data.i[k], t->frac);
            uint64_t u;
            memcpy(&u, &d, 8);
            store_le(p, u, 8), p += 8;
            break;
        }
        }
    }
    /* atomic, like keys and ciphertexts: a failed save leaves the old file */
    int wrc = he_file_write(path, out, flen, 0, "save_npy");
    he_free(out);
    return wrc;
}
