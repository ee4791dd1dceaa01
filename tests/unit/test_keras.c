/*
** test_keras.c: Keras HDF5 models (runtime/model/keras.c). A file in
** Keras' model.save layout is written here with libhdf5 (no Python): a
** channels-last Conv2D, BatchNormalization, ReLU, Flatten (of 3 channels:
** the row order matters), Dense; the imported model is compared with a
** direct channels-last computation on random weights and inputs. Then the
** loader is fuzzed as the ONNX one is, by sampling (each parse forks the
** process that reads the HDF5 file, some ms): 250 truncations, 600
** flipped bits at random bytes (of a fresh seed each run, printed when a
** case fails), random bytes, damaged architectures: -1 with a message, or
** a model that runs, never a crash (also under ASan + UBSan).
*/
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "model/model.h"

enum { H = 4, W = 4, C = 2, OC = 3, KS = 2, OH = H - KS + 1, OW = W - KS + 1, F = OH * OW * OC, U = 2, N = 3 };

static float kern[KS][KS][C][OC], cb[OC], gam[OC], bet[OC], mu[OC], var[OC], dk[F][U], db[U];
static double xin[N][H][W][C]; /* channels last */

static double urand(void) { return (double)rand() / RAND_MAX * 2 - 1; }

static void random_weights(unsigned seed)
{
    srand(seed);
    float *all[] = {&kern[0][0][0][0], cb, gam, bet, mu, &dk[0][0], db};
    int n[] = {KS * KS * C * OC, OC, OC, OC, OC, F * U, U};
    for (int k = 0; k < 7; k++)
        for (int i = 0; i < n[k]; i++) all[k][i] = (float)(urand() * 0.7);
    for (int i = 0; i < OC; i++) var[i] = (float)(0.5 + (urand() + 1) / 2), gam[i] += 1.0f;
    for (int i = 0; i < N * H * W * C; i++) (&xin[0][0][0][0])[i] = (urand() + 1) / 2;
}

/* The model computed directly, as Keras does, channels last. */
static void reference(double y[N][U])
{
    for (int n = 0; n < N; n++) {
        double flat[F];
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int o = 0; o < OC; o++) {
                    double a = cb[o];
                    for (int ky = 0; ky < KS; ky++)
                        for (int kx = 0; kx < KS; kx++)
                            for (int c = 0; c < C; c++) a += kern[ky][kx][c][o] * xin[n][oy + ky][ox + kx][c];
                    a = (a - mu[o]) / sqrt((double)var[o] + 0.001) * gam[o] + bet[o];
                    flat[(oy * OW + ox) * OC + o] = a > 0 ? a : 0; /* Flatten: (h, w, c) */
                }
        for (int u = 0; u < U; u++) {
            double a = db[u];
            for (int i = 0; i < F; i++) a += flat[i] * dk[i][u];
            y[n][u] = a;
        }
    }
}

/* --- writing the file as Keras does ------------------------------------------------------ */
static void attr_text(hid_t obj, const char *name, const char *s, bool vlen)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    if (vlen) H5Tset_size(t, H5T_VARIABLE), H5Tset_cset(t, H5T_CSET_UTF8);
    else H5Tset_size(t, strlen(s));
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, vlen ? (const void *)&s : (const void *)s);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

/* numpy's array of bytes: fixed-length strings, NULL-padded; or its empty
** float64 array when n is 0 */
static void attr_names(hid_t obj, const char *name, const char *const *v, int n)
{
    hsize_t dim = (hsize_t)n;
    size_t len = 1;
    for (int i = 0; i < n; i++) len = strlen(v[i]) > len ? strlen(v[i]) : len;
    hid_t t = n ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_IEEE_F64LE), sp = H5Screate_simple(1, &dim, NULL);
    char *buf = calloc((size_t)(n ? n : 1), len);
    if (n) H5Tset_size(t, len), H5Tset_strpad(t, H5T_STR_NULLPAD);
    for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * len, v[i], strlen(v[i]));
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, buf);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
    free(buf);
}

static void dataset(hid_t g, const char *path, int nd, const hsize_t *dims, const float *v)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t d = H5Dcreate2(g, path, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d), H5Sclose(sp), H5Pclose(lcpl);
}

static const char *config =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"small\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 4, 2], \"name\": \"input_1\"}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"filters\": 3, \"kernel_size\": [2, 2], "
    "\"strides\": [1, 1], \"padding\": \"valid\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], "
    "\"activation\": \"linear\", \"use_bias\": true}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"axis\": [3], \"epsilon\": 0.001}},"
    "{\"class_name\": \"Activation\", \"config\": {\"name\": \"act\", \"activation\": \"relu\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\", \"data_format\": \"channels_last\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"linear\"}}]}}";

/* model.save's file into a buffer (he_malloc'd) */
static uint8_t *keras_file(size_t *len)
{
    static char dir[512];
    if (!dir[0] && !check_tmpdir(dir, sizeof dir, "keras")) return NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/small.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return NULL;
    attr_text(f, "keras_version", "2.11.0", true);
    attr_text(f, "backend", "tensorflow", true);
    attr_text(f, "model_config", config, false);
    hid_t g = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *layers[] = {"conv2d", "bn", "act", "flatten", "dense"};
    attr_names(g, "layer_names", layers, 5);
    hid_t l = H5Gcreate2(g, "conv2d", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *cw[] = {"conv2d/kernel:0", "conv2d/bias:0"};
    attr_names(l, "weight_names", cw, 2);
    hsize_t kd[4] = {KS, KS, C, OC}, od[1] = {OC}, dd[2] = {F, U}, ud[1] = {U};
    dataset(l, cw[0], 4, kd, &kern[0][0][0][0]);
    dataset(l, cw[1], 1, od, cb);
    H5Gclose(l);
    l = H5Gcreate2(g, "bn", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *bw[] = {"bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"};
    attr_names(l, "weight_names", bw, 4);
    const float *bv[] = {gam, bet, mu, var};
    for (int i = 0; i < 4; i++) dataset(l, bw[i], 1, od, bv[i]);
    H5Gclose(l);
    for (int i = 2; i < 4; i++) {
        l = H5Gcreate2(g, layers[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        attr_names(l, "weight_names", NULL, 0);
        H5Gclose(l);
    }
    l = H5Gcreate2(g, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *dw[] = {"dense/kernel:0", "dense/bias:0"};
    attr_names(l, "weight_names", dw, 2);
    dataset(l, dw[0], 2, dd, &dk[0][0]);
    dataset(l, dw[1], 1, ud, db);
    H5Gclose(l), H5Gclose(g), H5Fclose(f);
    uint8_t *buf;
    if (he_file_read(path, 1 << 22, "test", &buf, len) < 0) return NULL;
    return buf;
}

static he_tensor *input(void)
{
    int64_t shape[4] = {N, C, H, W}; /* channels first for he */
    he_tensor *x = he_tensor_new(HE_DT_FLOAT, 0, 4, shape);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int z = 0; z < W; z++) x->data.f[((n * C + c) * H + y) * W + z] = xin[n][y][z][c];
    return x;
}

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

static void test_model_save_file_matches_keras(void)
{
    for (unsigned seed = 1; seed <= 5; seed++) {
        random_weights(seed);
        size_t len;
        uint8_t *buf = keras_file(&len);
        CHECK(buf, "cannot write the file: %s", he_errmsg());
        if (!buf) return;
        he_model *m;
        CHECK(he_model_parse_keras(buf, len, "small.h5", NULL, NULL, 0, &m) == 0, "%s", he_errmsg());
        he_free(buf);
        if (!m) return;
        he_tensor *x = input(), *y = NULL;
        CHECK(he_model_run(m, x, &y) == 0, "%s", he_errmsg());
        double want[N][U], e = 0;
        reference(want);
        for (int n = 0; y && n < N; n++)
            for (int u = 0; u < U; u++) e = fmax(e, fabs(y->data.f[n * U + u] - want[n][u]));
        CHECK(y && e < 1e-12, "seed %u: differs from the channels-last computation by %g", seed, e);
        CHECK(m->nlayers == 4 && m->layers[0].folded_bn, "%d layers, the batch norm not folded", m->nlayers);
        drop(x);
        drop(y);
        he_model_free(m);
    }
}

static char fuzz_case[64]; /* named in a failure */

/* -1 with a message, or a model that runs on x or refuses it with one. */
static int try_parse(const uint8_t *buf, size_t len, const he_tensor *x)
{
    he_model *m = NULL;
    if (he_model_parse_keras(buf, len, "fuzz", NULL, NULL, 0, &m) < 0) {
        CHECK(m == NULL && he_errmsg()[0], "%s: a refusal without a message", fuzz_case);
        return -1;
    }
    he_tensor *y = NULL;
    if (he_model_run(m, x, &y) < 0) CHECK(he_errmsg()[0], "%s: a run refused without a message", fuzz_case);
    drop(y);
    he_model_free(m);
    return 0;
}

static void test_truncations_refused(void)
{
    random_weights(9);
    size_t len;
    uint8_t *buf = keras_file(&len);
    he_tensor *x = input();
    CHECK(buf && try_parse(buf, len, x) == 0, "the whole file: %s", he_errmsg());
    int accepted = 0;
    for (size_t n = 0; buf && n < len; n += n < 64 ? 1 : len / 180 + 1)
        accepted += try_parse(buf, n, x) == 0;
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    he_free(buf);
    drop(x);
}

static void test_bit_flips_never_crash(void)
{
    random_weights(10);
    size_t len;
    uint8_t *buf = keras_file(&len);
    he_tensor *x = input();
    int refused = 0;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    for (int k = 0; buf && k < 600; k++) {
        size_t i = (size_t)rand() % len;
        uint8_t b = buf[i];
        buf[i] ^= (uint8_t)(1u << (rand() % 8));
        snprintf(fuzz_case, sizeof fuzz_case, "seed %u, byte %zu", seed, i);
        refused += try_parse(buf, len, x) < 0;
        buf[i] = b;
    }
    CHECK(refused > 0, "no flipped bit was noticed (seed %u)", seed);
    he_free(buf);
    drop(x);
}

static void test_random_bytes_refused(void)
{
    uint8_t buf[4096];
    he_tensor *x = input();
    srand(11);
    for (int k = 0; k < 200; k++) {
        size_t n = (size_t)rand() % sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rand();
        if (k % 2 && n >= 8) memcpy(buf, "\x89HDF\r\n\x1a\n", 8); /* past the signature */
        CHECK(try_parse(buf, n, x) < 0, "random bytes accepted");
    }
    drop(x);
}

/* The architecture damaged: each a clear refusal naming what is wrong. */
static void test_damaged_architecture(void)
{
    random_weights(12);
    size_t len;
    uint8_t *buf = keras_file(&len);
    static const struct {
        const char *arch, *msg;
    } cases[] = {
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [", "arch:1:"},
        {"[1, 2]", "arch: the architecture is not a Keras model (no class_name)"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}", "arch: the Sequential model has no list"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", \"config\": "
         "{\"name\": \"dense\", \"units\": 2}}]}}",
         "arch: the architecture gives no input shape"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 4, 4, 2]}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", "
         "\"units\": 2}}]}}",
         "small.h5: layer 'dense' (Dense) on a 3-D input: only on features (put a Flatten before it)"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 27]}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"nothere\", "
         "\"units\": 2}}]}}",
         "small.h5: layer 'nothere' (Dense): kernel of shape [2, 2, 2, 3], expected [27, 2]"}, /* by order */
    };
    for (size_t i = 0; buf && i < sizeof cases / sizeof cases[0]; i++) {
        he_model *m = NULL;
        int rc = he_model_parse_keras(buf, len, "small.h5", cases[i].arch, "arch", 0, &m);
        CHECK(rc < 0 && strncmp(he_errmsg(), cases[i].msg, strlen(cases[i].msg)) == 0, "case %zu: %s", i,
              rc < 0 ? he_errmsg() : "accepted");
        he_model_free(m);
    }
    /* the right architecture given by hand: accepted (names match the file) */
    he_model *m = NULL;
    CHECK(buf && he_model_parse_keras(buf, len, "small.h5", config, "arch", 0, &m) == 0, "%s", he_errmsg());
    he_model_free(m);
    he_free(buf);
}

int main(void)
{
    RUN(test_model_save_file_matches_keras);
    RUN(test_damaged_architecture);
    RUN(test_truncations_refused);
    RUN(test_bit_flips_never_crash);
    RUN(test_random_bytes_refused);
    return 0;
}
