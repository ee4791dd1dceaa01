/*
** test_npy.c: NumPy .npy reading and writing: the exact bytes numpy writes
** (known answers), round trips of random tensors, and every kind of
** damaged file refused with a message naming the file and the problem.
** Files live in a mkdtemp() folder that is removed at the end.
*/
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[64];
static char path[128];
static he_prng G;

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

static bool has_err(const char *needle) { return strstr(he_errmsg(), needle) != NULL; }

static int write_bytes(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static uint8_t *read_bytes(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    static uint8_t buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

/* A .npy file by hand: version major.0, the header text padded with spaces
** to a 64-byte boundary and ended by '\n', then the data bytes. */
static size_t make_npy(uint8_t *out, int major, const char *header, const void *data, size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(header);
    size_t total = pre + hl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = hl + pad + 1;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    for (size_t b = 0; b < (major == 1 ? 2u : 4u); b++) out[8 + b] = (uint8_t)(hlen >> (8 * b));
    memcpy(out + pre, header, hl);
    memset(out + pre + hl, ' ', pad);
    out[pre + hlen - 1] = '\n';
    if (dlen) memcpy(out + pre + hlen, data, dlen);
    return pre + hlen + dlen;
}

static he_tensor *load_bytes(const uint8_t *b, size_t n)
{
    if (write_bytes(path, b, n) < 0) return NULL;
    return he_npy_load(path);
}

/* np.save(f, np.arange(6, dtype='<i8').reshape(2, 3)) writes exactly these
** 128 bytes (numpy 1.x and 2.x alike). */
static const char arange_hdr[] = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }";

static size_t arange_file(uint8_t *b)
{
    size_t n = 0;
    memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10); /* version 1.0, header length 118 */
    n = 10;
    memcpy(b + n, arange_hdr, sizeof arange_hdr - 1);
    n += sizeof arange_hdr - 1;
    while (n < 127) b[n++] = ' ';
    b[n++] = '\n';
    for (int v = 0; v < 6; v++) {
        for (int k = 0; k < 8; k++) b[n + (size_t)k] = k == 0 ? (uint8_t)v : 0;
        n += 8;
    }
    return n;
}

static void test_known_answer(void)
{
    uint8_t want[256];
    size_t wn = arange_file(want);
    CHECK(wn == 176, "hand-written size %zu", wn);
    he_tensor *t = load_bytes(want, wn);
    CHECK(t && t->dtype == HE_DT_INT && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3, "load: %s", he_errmsg());
    for (int k = 0; t && k < 6; k++) CHECK(t->data.i[k] == k, "value %d", k);
    /* and our writer produces the same bytes */
    he_tensor *a = he_tensor_arange(0, 6, 1);
    int64_t sh[2] = {2, 3};
    he_tensor *m = he_tensor_reshape(a, 2, sh);
    CHECK(he_npy_save(path, m) == 0, "save: %s", he_errmsg());
    size_t gn = 0;
    uint8_t *got = read_bytes(path, &gn);
    CHECK(got && gn == wn && memcmp(got, want, wn) == 0, "saved bytes differ from numpy's (%zu vs %zu)", gn, wn);
    drop(t), drop(a), drop(m);

    /* 1-D, 0-D and bool headers as numpy writes them */
    he_tensor *v = he_tensor_arange(-1, 2, 1);
    CHECK(he_npy_save(path, v) == 0, "save 1-D");
    got = read_bytes(path, &gn);
    const char *h1 = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
    CHECK(got && gn == 128 + 24 && memcmp(got + 10, h1, strlen(h1)) == 0 && got[127] == '\n' && got[8] == 118,
          "1-D header");
    drop(v);
    he_tensor *z = he_tensor_new(HE_DT_FLOAT, 0, 0, NULL);
    z->data.f[0] = 1.5;
    CHECK(he_npy_save(path, z) == 0, "save 0-D");
    got = read_bytes(path, &gn);
    const char *h0 = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
    CHECK(got && gn == 128 + 8 && memcmp(got + 10, h0, strlen(h0)) == 0 && got[127] == '\n', "0-D header");
    CHECK(got && gn == 136 && got[128 + 7] == 0x3f && got[128 + 6] == 0xf8 && got[128] == 0, "1.5 as <f8");
    drop(z);
}

static void test_dtypes(void)
{
    uint8_t buf[1024];
    size_t n;
    he_tensor *t;
    /* big-endian int32 [-2, 258] */
    const uint8_t be4[8] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x01, 0x02};
    n = make_npy(buf, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be4, 8);
    t = load_bytes(buf, n);
    CHECK(t && t->dtype == HE_DT_INT && t->data.i[0] == -2 && t->data.i[1] == 258, ">i4: %s", he_errmsg());
    drop(t);
    /* little-endian int16, int8, uint8, uint16, uint32 */
    const uint8_t le2[4] = {0x00, 0x80, 0xff, 0x7f};
    n = make_npy(buf, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", le2, 4);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == -32768 && t->data.i[1] == 32767, "<i2");
    drop(t);
    const uint8_t b1[3] = {0x80, 0x7f, 0xff};
    n = make_npy(buf, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", b1, 3);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == -128 && t->data.i[1] == 127 && t->data.i[2] == -1, "|i1");
    drop(t);
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", b1, 3);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == 128 && t->data.i[2] == 255, "|u1");
    drop(t);
    n = make_npy(buf, 1, "{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", le2, 4);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == 0x0080 && t->data.i[1] == 0xff7f, ">u2");
    drop(t);
    const uint8_t u4[4] = {0xff, 0xff, 0xff, 0xff};
    n = make_npy(buf, 1, "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", u4, 4);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == 4294967295LL, "<u4");
    drop(t);
    const uint8_t u8[8] = {1, 2, 3, 4, 5, 6, 7, 0x7f};
    n = make_npy(buf, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", u8, 8);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == 0x7f07060504030201LL, "<u8");
    drop(t);
    /* float32 little and big endian: 1.5 = 0x3fc00000, -0.25 = 0xbe800000 */
    const uint8_t f4le[8] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0xbe};
    const uint8_t f4be[8] = {0x3f, 0xc0, 0x00, 0x00, 0xbe, 0x80, 0x00, 0x00};
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4le, 8);
    t = load_bytes(buf, n);
    CHECK(t && t->dtype == HE_DT_FLOAT && t->data.f[0] == 1.5 && t->data.f[1] == -0.25, "<f4");
    drop(t);
    n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4be, 8);
    t = load_bytes(buf, n);
    CHECK(t && t->data.f[0] == 1.5 && t->data.f[1] == -0.25, ">f4");
    drop(t);
    /* float64 big endian: 1.5 = 0x3ff8000000000000 */
    const uint8_t f8be[8] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0};
    n = make_npy(buf, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (), }", f8be, 8);
    t = load_bytes(buf, n);
    CHECK(t && t->ndim == 0 && t->data.f[0] == 1.5, ">f8 0-D");
    drop(t);
    /* bool */
    const uint8_t bb[4] = {1, 0, 0, 1};
    n = make_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", bb, 4);
    t = load_bytes(buf, n);
    CHECK(t && t->dtype == HE_DT_BOOL && t->data.i[0] == 1 && t->data.i[1] == 0 && t->data.i[3] == 1, "|b1");
    drop(t);
    /* format 2.0 and 3.0 headers; key order and double quotes as Python allows */
    const uint8_t i8[16] = {5, 0, 0, 0, 0, 0, 0, 0, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    n = make_npy(buf, 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i8, 16);
    t = load_bytes(buf, n);
    CHECK(t && t->data.i[0] == 5 && t->data.i[1] == -5, "v2.0: %s", he_errmsg());
    drop(t);
    n = make_npy(buf, 3, "{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<i8\"}", i8, 16);
    t = load_bytes(buf, n);
    CHECK(t && t->ndim == 2 && t->data.i[1] == -5, "v3.0: %s", he_errmsg());
    drop(t);
    /* empty arrays */
    n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", NULL, 0);
    t = load_bytes(buf, n);
    CHECK(t && t->size == 0 && t->ndim == 2 && t->shape[1] == 3, "empty");
    drop(t);
}

static void test_roundtrip(void)
{
    const he_dtype dts[] = {HE_DT_INT, HE_DT_FLOAT, HE_DT_BOOL, HE_DT_FIXED};
    for (int iter = 0; iter < 40; iter++) {
        int nd = iter % 5;
        int64_t sh[4];
        for (int d = 0; d < nd; d++) sh[d] = (int64_t)(he_prng_u64(&G) % 5);
        he_dtype dt = dts[iter % 4];
        he_tensor *t = he_tensor_new(dt, 12, nd, sh);
        for (int64_t k = 0; k < t->size; k++) {
            uint64_t u = he_prng_u64(&G);
            if (dt == HE_DT_FLOAT) t->data.f[k] = he_prng_normal(&G) * 1e3;
            else if (dt == HE_DT_BOOL) t->data.i[k] = (int64_t)(u & 1);
            else if (dt == HE_DT_FIXED) t->data.i[k] = (int64_t)(u >> 16) - (INT64_C(1) << 47);
            else t->data.i[k] = (int64_t)u;
        }
        CHECK(he_npy_save(path, t) == 0, "save: %s", he_errmsg());
        he_tensor *r = he_npy_load(path);
        CHECK(r != NULL, "load: %s", he_errmsg());
        if (r) {
            he_dtype want = dt == HE_DT_FIXED ? HE_DT_FLOAT : dt;
            bool ok = r->dtype == want && r->ndim == nd && r->size == t->size;
            for (int d = 0; ok && d < nd; d++) ok = r->shape[d] == sh[d];
            CHECK(ok, "round trip shape/type (%s)", he_dtype_name(dt));
            for (int64_t k = 0; ok && k < t->size; k++) {
                bool same = dt == HE_DT_FIXED ? r->data.f[k] == he_fixed_to_double(t->data.i[k], 12)
                                              : memcmp(&r->data.i[k], &t->data.i[k], 8) == 0;
                CHECK(same, "round trip element %lld (%s)", (long long)k, he_dtype_name(dt));
            }
        }
        drop(r), drop(t);
    }
    /* a bigger float tensor, to cross read buffer sizes */
    int64_t big[2] = {300, 70};
    he_tensor *t = he_tensor_normal(&G, 2, big, 0, 1), *r = NULL;
    CHECK(he_npy_save(path, t) == 0 && (r = he_npy_load(path)) && memcmp(r->data.f, t->data.f, 8 * 21000) == 0,
          "big round trip");
    drop(t), drop(r);
}

static void refused(const uint8_t *b, size_t n, const char *needle, const char *what)
{
    he_tensor *t = load_bytes(b, n);
    CHECK(!t && has_err(path) && has_err(needle), "%s: got %s", what, t ? "a tensor" : he_errmsg());
    drop(t);
}

static void test_corrupt(void)
{
    uint8_t good[256], b[1024];
    size_t n = arange_file(good);
    memcpy(b, good, n);
    b[1] = 'M';
    refused(b, n, "bad magic", "bad magic");
    refused(good, 5, "bad magic", "too short for magic");
    memcpy(b, good, n);
    b[6] = 4;
    refused(b, n, "unsupported .npy format version 4.0", "version 4");
    b[6] = 1, b[7] = 1;
    refused(b, n, "version 1.1", "version 1.1");
    refused(good, 9, "truncated", "cut in the header length");
    refused(good, 60, "truncated .npy header", "cut in the header");
    refused(good, n - 1, "truncated .npy data", "short data");
    refused(good, 128, "truncated .npy data", "no data");
    memcpy(b, good, n);
    b[n] = 0;
    refused(b, n + 1, "longer than its header says", "trailing byte");
    const uint8_t d8[16] = {0};
    struct {
        const char *hdr, *needle;
    } bad[] = {
        {"{'descr': '<i8', 'fortran_order': True, 'shape': (2,), }", "Fortran-order"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "object arrays"},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", "unsupported .npy dtype '<c16'"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", "unsupported .npy dtype '<f2'"},
        {"{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }", "unsupported .npy dtype '<U2'"},
        {"{'descr': '|i8', 'fortran_order': False, 'shape': (2,), }", "byte order"},
        {"{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
        {"{'descr': '<i8', 'shape': (2,), }", "lacks 'fortran_order'"},
        {"{'descr': '<i8', 'fortran_order': False, }", "lacks 'shape'"},
        {"{'fortran_order': False, 'shape': (2,), }", "lacks 'descr'"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected or repeated key 'x'"},
        {"{'descr': '<i8', 'descr': '<i8', 'fortran_order': False, 'shape': (2,)}", "repeated key 'descr'"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,-1), }", "bad shape"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': [2], }", "expected '('"},
        {"{'descr': '<i8', 'fortran_order': 0, 'shape': (2,), }", "fortran_order is not True or False"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), } x", "unexpected text after the dict"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2,) ", "expected ',' or '}'"},
        {"'descr': '<i8'", "expected '{'"},
        {"{'descr': '<i8, 'fortran_order': False, 'shape': (2,), }", "malformed"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }", "more than 8 dimensions"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "too large"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "too large"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", "truncated .npy data: shape [3] of '<i8' needs 24 bytes, the file has 16"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", "longer than its header says"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t m = make_npy(b, 1, bad[i].hdr, d8, 16);
        char what[32];
        snprintf(what, sizeof what, "bad header %zu", i);
        refused(b, m, bad[i].needle, what);
    }
    /* values that do not fit */
    const uint8_t big8[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    size_t m = make_npy(b, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", big8, 8);
    refused(b, m, "does not fit in int", "u8 > INT64_MAX");
    const uint8_t b2[2] = {1, 2};
    m = make_npy(b, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", b2, 2);
    refused(b, m, "not 0 or 1", "bool byte 2");
    /* empty arrays with huge dimensions (fuzz inputs of issue 9): every
    ** dimension and the product of those that are not 0 are bounded */
    static const char *const huge[] = {
        "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 9223372036854775807, 9223372036854775807), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }",
        "{'descr': '|b1', 'fortran_order': False, 'shape': (4611686018427387904, 0, 4), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (281474976710657, 0), }",
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t m = make_npy(b, 1, huge[i], NULL, 0);
        refused(b, m, "too large", huge[i]);
    }
    size_t m0 = make_npy(b, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 16777216, 16777216), }", NULL, 0);
    he_tensor *e = load_bytes(b, m0);
    CHECK(e && e->size == 0 && e->ndim == 3 && e->shape[2] == 16777216, "[0, 2^24, 2^24] (at the bound): %s",
          e ? "wrong shape" : he_errmsg());
    drop(e);
    /* header length pointing past the end */
    memcpy(b, good, n);
    b[8] = 0xff, b[9] = 0xff;
    refused(b, n, "truncated .npy header", "header length too big");
    /* missing file, unwritable path */
    char nofile[160];
    snprintf(nofile, sizeof nofile, "%s/none.npy", dir);
    CHECK(!he_npy_load(nofile) && has_err(nofile) && has_err("cannot open"), "missing file");
    snprintf(nofile, sizeof nofile, "%s/no/such/dir.npy", dir);
    he_tensor *t = he_tensor_arange(0, 3, 1);
    CHECK(he_npy_save(nofile, t) < 0 && has_err("cannot create"), "unwritable");
    drop(t);
}

static int dir_entries(void) { return check_dir_entries(dir); }

/* A save that fails midway (here the file size limit, as a full disk would)
** leaves the previous file whole and no temporary; a link is not written
** through. */
static void test_save_atomic(void)
{
    char a[160], l[160];
    snprintf(a, sizeof a, "%s/a.npy", dir);
    snprintf(l, sizeof l, "%s/l.npy", dir);
    he_tensor *old = he_tensor_arange(0, 10, 1);
    CHECK(he_npy_save(a, old) == 0, "save: %s", he_errmsg());
    int n0 = dir_entries();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        int64_t shape[2] = {100, 100};
        he_tensor *big = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
        if (!big || setrlimit(RLIMIT_FSIZE, &rl) < 0) _exit(2);
        int rc = he_npy_save(a, big);
        _exit(rc < 0 && has_err(a) && has_err("cannot write") ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the save over the size limit did not fail cleanly (status %d)", status);
    he_tensor *back = he_npy_load(a);
    bool same = back && back->dtype == HE_DT_INT && back->ndim == 1 && back->size == 10;
    for (int64_t k = 0; same && k < 10; k++) same = back->data.i[k] == k;
    CHECK(same, "the previous file was damaged: %s", back ? "other contents" : he_errmsg());
    CHECK(dir_entries() == n0, "a temporary was left (%d entries, %d before)", dir_entries(), n0);
    drop(back);
    CHECK(symlink(a, l) == 0, "symlink");
    CHECK(he_npy_save(l, old) < 0 && has_err("symbolic link"), "saved through a link: %s", he_errmsg());
    unlink(l);
    unlink(a);
    drop(old);
}

int main(void)
{
    if (he_init() < 0) return 1;
    he_prng_seed(&G, 99);
    if (!check_tmpdir(dir, sizeof dir, "he_npy")) {
        SKIP(test_npy, "mkdtemp failed");
        return 0;
    }
    snprintf(path, sizeof path, "%s/t.npy", dir);
    RUN(test_known_answer);
    RUN(test_dtypes);
    RUN(test_roundtrip);
    RUN(test_corrupt);
    RUN(test_save_atomic);
    unlink(path);
    if (rmdir(dir) != 0) printf("not ok cleanup: cannot remove %s\n", dir);
    return 0;
}
