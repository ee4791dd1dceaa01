/*
** test_model.c: ONNX models (runtime/model/): the test models of
** tests/onnx/models/ against numpy's outputs, and the loader fuzzed: every
** truncation of a valid file, a flipped bit at every byte, random bytes.
** Damaged input must give -1 with a message, or a model that runs or
** refuses its input cleanly: never a crash (run under ASan + UBSan too).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model/model.h"

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

static const char *const names[] = {"mlp", "cnn", "act"};

static uint8_t *file_bytes(const char *name, size_t *len)
{
    char path[256];
    uint8_t *buf;
    snprintf(path, sizeof path, "tests/onnx/models/%s.onnx", name);
    if (he_file_read(path, 1 << 20, "test", &buf, len) < 0) return NULL;
    return buf;
}

static he_tensor *npy(const char *name, const char *suffix)
{
    char path[256];
    snprintf(path, sizeof path, "tests/onnx/models/%s_%s.npy", name, suffix);
    return he_npy_load(path);
}

/* The max absolute difference of a and b, or INFINITY when shapes differ. */
static double maxdiff(const he_tensor *a, const he_tensor *b)
{
    if (a->size != b->size || a->ndim != b->ndim) return INFINITY;
    double d = 0;
    for (int64_t i = 0; i < a->size; i++) d = fmax(d, fabs(a->data.f[i] - b->data.f[i]));
    return d;
}

static void test_models_match_numpy(void)
{
    for (int k = 0; k < 3; k++) {
        char path[256];
        snprintf(path, sizeof path, "tests/onnx/models/%s.onnx", names[k]);
        he_model *m;
        he_tensor *x = npy(names[k], "x"), *want = npy(names[k], "y"), *y = NULL;
        CHECK(x && want, "%s", he_errmsg());
        CHECK(he_model_load_onnx(path, 0, &m) == 0, "%s", he_errmsg());
        if (!m || !x || !want) continue;
        CHECK(he_model_run(m, x, &y) == 0, "%s: %s", names[k], he_errmsg());
        if (y) CHECK(maxdiff(y, want) < 1e-9, "%s: differs from numpy by %g", names[k], maxdiff(y, want));
        drop(y);
        drop(x);
        drop(want);
        he_model_free(m);
    }
}

/* Parses buf; when it loads, runs it on the model's test input. Returns the
** parse status; a failure must leave a message. */
static int try_parse(const uint8_t *buf, size_t len, const he_tensor *x)
{
    he_model *m = NULL;
    int rc = he_model_parse_onnx(buf, len, "fuzz", 0, &m);
    if (rc < 0) {
        CHECK(m == NULL && he_errmsg()[0], "a refusal without a message");
        return rc;
    }
    he_tensor *y = NULL;
    if (he_model_run(m, x, &y) < 0) CHECK(he_errmsg()[0], "a run refused without a message");
    drop(y);
    he_model_free(m);
    return 0;
}

static void test_truncations_refused(void)
{
    for (int k = 0; k < 3; k++) {
        size_t len;
        uint8_t *buf = file_bytes(names[k], &len);
        he_tensor *x = npy(names[k], "x");
        CHECK(buf && x, "%s", he_errmsg());
        if (!buf || !x) continue;
        int refused = 0;
        for (size_t n = 0; n < len; n++) {
            uint8_t *cut = malloc(n + 1); /* exact size, so ASan sees any over-read */
            memcpy(cut, buf, n);
            refused += try_parse(cut, n, x) < 0;
            free(cut);
        }
        /* a cut inside the graph (nearly every cut) is refused */
        CHECK(refused > (int)len * 9 / 10, "%s: only %d of %zu truncations refused", names[k], refused, len);
        drop(x);
        he_free(buf);
    }
}

static void test_bit_flips_never_crash(void)
{
    he_prng g;
    he_prng_seed(&g, 16);
    for (int k = 0; k < 3; k++) {
        size_t len;
        uint8_t *buf = file_bytes(names[k], &len);
        he_tensor *x = npy(names[k], "x");
        CHECK(buf && x, "%s", he_errmsg());
        if (!buf || !x) continue;
        int refused = 0;
        for (size_t i = 0; i < len; i++) {
            uint8_t *b = malloc(len);
            memcpy(b, buf, len);
            b[i] ^= (uint8_t)(1u << (he_prng_u64(&g) % 8));
            refused += try_parse(b, len, x) < 0;
            free(b);
        }
        CHECK(refused > 0, "%s: no flipped bit was refused", names[k]);
        drop(x);
        he_free(buf);
    }
}

static void test_random_bytes_refused(void)
{
    he_prng g;
    he_prng_seed(&g, 1616);
    int64_t shape[2] = {1, 4};
    he_tensor *x = he_tensor_new(HE_DT_FLOAT, 0, 2, shape);
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(he_prng_u64(&g) % 600);
        uint8_t *b = malloc(n + 1);
        he_prng_bytes(&g, b, n);
        CHECK(try_parse(b, n, x) < 0, "random bytes (%zu) read as a model", n);
        free(b);
    }
    drop(x);
}

static void test_refusals_name_the_node(void)
{
    static const char *const cases[][2] = {
        {"bad_group", "node 'conv_g' (Conv): attribute group = 2 is not supported"},
        {"bad_op", "node 'erf1': operator Erf is not supported"},
        {"bad_pow", "node 'cube' (Pow): only x^2"},
        {"bad_softmax", "node 'sm' (Softmax) is not the last node"},
    };
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/onnx/models/%s.onnx", cases[i][0]);
        he_model *m = NULL;
        CHECK(he_model_load_onnx(path, 0, &m) < 0 && strstr(he_errmsg(), cases[i][1]) && strstr(he_errmsg(), path),
              "%s: %s", cases[i][0], he_errmsg());
        he_model_free(m);
    }
}

/* Each test model written by he_model_save_onnx and read back: the same
** layers and outputs within 1e-5 (weights folded from a BatchNormalization
** are written rounded to float32; the outputs are below 100). */
static void test_save_round_trip(void)
{
    char dir[256], path[300];
    if (!check_tmpdir(dir, sizeof dir, "model")) {
        CHECK(0, "no folder");
        return;
    }
    for (int k = 0; k < 4; k++) {
        const char *name = k < 3 ? names[k] : "cryptonets";
        char src[256];
        snprintf(src, sizeof src, "tests/onnx/models/%s.onnx", name);
        snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
        he_model *m = NULL, *m2 = NULL;
        he_tensor *x = npy(name, "x"), *y = NULL, *y2 = NULL;
        CHECK(x && he_model_load_onnx(src, 0, &m) == 0, "%s", he_errmsg());
        CHECK(m && he_model_save_onnx(m, path) == 0, "%s: %s", name, he_errmsg());
        CHECK(he_model_load_onnx(path, 0, &m2) == 0, "%s: %s", name, he_errmsg());
        if (m && m2 && x) {
            CHECK(m2->nlayers == m->nlayers, "%s: %d layers, then %d", name, m->nlayers, m2->nlayers);
            CHECK(he_model_run(m, x, &y) == 0 && he_model_run(m2, x, &y2) == 0, "%s", he_errmsg());
            if (y && y2) CHECK(maxdiff(y, y2) < 1e-5, "%s: differs by %g", name, maxdiff(y, y2));
        }
        remove(path);
        drop(y);
        drop(y2);
        drop(x);
        he_model_free(m);
        he_model_free(m2);
    }
    he_model *p = NULL;
    CHECK(he_model_load_onnx("tests/onnx/models/act.onnx", HE_MODEL_POLY, &p) == 0, "%s", he_errmsg());
    snprintf(path, sizeof path, "%s/poly.onnx", dir);
    CHECK(p && he_model_save_onnx(p, path) < 0 && strstr(he_errmsg(), "polynomial sigmoid"), "%s", he_errmsg());
    he_model_free(p);
    CHECK(check_dir_entries(dir) == 0, "files left in %s", dir);
    rmdir(dir);
}

int main(void)
{
    if (he_init() < 0) return 1;
    RUN(test_models_match_numpy);
    RUN(test_refusals_name_the_node);
    RUN(test_truncations_refused);
    RUN(test_bit_flips_never_crash);
    RUN(test_random_bytes_refused);
    RUN(test_save_round_trip);
    return 0;
}
