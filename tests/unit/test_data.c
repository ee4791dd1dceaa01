/*
** test_data.c: MNIST and IMDB loading (runtime/data/).
**
** Synthetic files (IDX gzip'd and plain, small review corpora) are written
** into a mkdtemp() folder and found through $HE_DATA, and every value is
** checked; damaged files must be refused with a message naming the file.
** The real data sets are checked when found (../shared/data or data/),
** otherwise those cases print a skip line.
*/
#include "check.h"
#include "data/data.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char root[64];       /* the temporary folder */
static char *user_data;     /* $HE_DATA as the test was started with */

/* --- helpers ----------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes n bytes to path, gzip'd when gz. */
static void write_file(const char *path, const void *data, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || (n && gzwrite(f, data, (unsigned)n) != (int)n) || gzclose(f) != Z_OK) {
            printf("# cannot write %s\n", path);
            exit(1);
        }
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
            printf("# cannot write %s\n", path);
            exit(1);
        }
    }
}

static char *pathf(const char *dir, const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* A data folder under root with mnist/ and imdb/ inside. */
static const char *new_dir(const char *name)
{
    static char buf[16][128];
    static int k;
    char *p = buf[k++ % 16];
    snprintf(p, 128, "%s/%s", root, name);
    mkdir(p, 0700);
    mkdir(pathf(p, "mnist"), 0700);
    mkdir(pathf(p, "imdb"), 0700);
    return p;
}

/* An IDX file: header with magic and dims, then the bytes. */
static void write_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                      const uint8_t *data, size_t n, bool gz)
{
    size_t h = 4 + 4 * (size_t)ndim;
    uint8_t *buf = malloc(h + n + 1);
    put32(buf, magic);
    for (int i = 0; i < ndim; i++) put32(buf + 4 + 4 * i, dims[i]);
    if (n) memcpy(buf + h, data, n);
    write_file(path, buf, h + n, gz);
    free(buf);
}

/* A synthetic MNIST set: n images of random bytes, random labels 0..9. */
typedef struct synth {
    int n;
    uint8_t *pix, *lab;
} synth;

static synth make_set(const char *dir, const char *which, int n, uint64_t seed, bool gz)
{
    synth s = {n, malloc((size_t)n * 784 + 1), malloc((size_t)n + 1)};
    he_prng g;
    he_prng_seed(&g, seed);
    he_prng_bytes(&g, s.pix, (size_t)n * 784);
    for (int i = 0; i < n; i++) s.lab[i] = (uint8_t)(he_prng_u64(&g) % 10);
    char name[128];
    uint32_t di[3] = {(uint32_t)n, 28, 28}, dl[1] = {(uint32_t)n};
    snprintf(name, sizeof name, "%s/mnist/%s-images-idx3-ubyte%s", dir, which, gz ? ".gz" : "");
    write_idx(name, 2051, 3, di, s.pix, (size_t)n * 784, gz);
    snprintf(name, sizeof name, "%s/mnist/%s-labels-idx1-ubyte%s", dir, which, gz ? ".gz" : "");
    write_idx(name, 2049, 1, dl, s.lab, (size_t)n, gz);
    return s;
}

static void synth_free(synth *s)
{
    free(s->pix);
    free(s->lab);
}

static void drop(he_tensor *t)
{
    if (t) he_release(he_objv(&t->obj));
}

static bool has(const char *needle) { return strstr(he_errmsg(), needle) != NULL; }

/* Checks a loaded slice [off, off + cnt) of s, float or raw. */
static int check_slice(const synth *s, he_tensor *im, he_tensor *lb, int off, int cnt, bool raw)
{
    if (im) {
        if (im->ndim != 3 || im->shape[0] != cnt || im->shape[1] != 28 || im->shape[2] != 28) return 0;
        if (im->dtype != (raw ? HE_DT_INT : HE_DT_FLOAT)) return 0;
        for (int64_t i = 0; i < (int64_t)cnt * 784; i++) {
            uint8_t b = s->pix[(int64_t)off * 784 + i];
            if (raw ? im->data.i[i] != b : im->data.f[i] != b / 255.0) return 0;
        }
    }
    if (lb) {
        if (lb->ndim != 1 || lb->shape[0] != cnt || lb->dtype != HE_DT_INT) return 0;
        for (int i = 0; i < cnt; i++) {
            if (lb->data.i[i] != s->lab[off + i]) return 0;
        }
    }
    return 1;
}

/* --- MNIST, synthetic ------------------------------------------------------------ */

static void test_mnist_gzip(void)
{
    const char *dir = new_dir("m_gz");
    synth s = make_set(dir, "train", 50, 1, true);
    setenv("HE_DATA", dir, 1);
    he_tensor *im = NULL, *lb = NULL;
    CHECK(he_mnist_load("train", 0, -1, &im, &lb) == 0, "%s", he_errmsg());
    CHECK(im && lb && check_slice(&s, im, lb, 0, 50, false), "whole set differs");
    CHECK(im && im->data.f[0] >= 0 && im->data.f[0] <= 1, "pixel not in [0,1]");
    drop(im);
    drop(lb);
    /* a window in the middle (skipped with gzseek) */
    CHECK(he_mnist_load("train", 13, 9, &im, &lb) == 0, "%s", he_errmsg());
    CHECK(im && lb && check_slice(&s, im, lb, 13, 9, false), "window [13,22) differs");
    drop(im);
    drop(lb);
    /* raw bytes as int, labels only, images only, the tail, an empty slice */
    CHECK(he_mnist_load_ex("train", 40, 10, HE_MNIST_RAW, &im, NULL) == 0, "%s", he_errmsg());
    CHECK(im && check_slice(&s, im, NULL, 40, 10, true), "raw tail differs");
    drop(im);
    CHECK(he_mnist_load("train", 45, -1, NULL, &lb) == 0, "%s", he_errmsg());
    CHECK(lb && check_slice(&s, NULL, lb, 45, 5, false), "labels [45,50) differ");
    drop(lb);
    CHECK(he_mnist_load("train", 50, -1, &im, &lb) == 0, "%s", he_errmsg());
    CHECK(im && lb && im->shape[0] == 0 && lb->shape[0] == 0, "empty tail not empty");
    drop(im);
    drop(lb);
    int64_t n = 0;
    CHECK(he_mnist_size("train", &n) == 0 && n == 50, "size %lld", (long long)n);
    synth_free(&s);
}

static void test_mnist_plain(void)
{
    const char *dir = new_dir("m_plain");
    synth s = make_set(dir, "t10k", 7, 2, false);
    setenv("HE_DATA", dir, 1);
    he_tensor *im = NULL, *lb = NULL;
    CHECK(he_mnist_load("t10k", 0, 7, &im, &lb) == 0, "%s", he_errmsg());
    CHECK(im && lb && check_slice(&s, im, lb, 0, 7, false), "plain IDX differs");
    drop(im);
    drop(lb);
    CHECK(he_mnist_load_ex("test", 3, 2, HE_MNIST_RAW, &im, &lb) == 0, "%s", he_errmsg());
    CHECK(im && lb && check_slice(&s, im, lb, 3, 2, true), "\"test\" alias differs");
    drop(im);
    drop(lb);
    synth_free(&s);
}

/* Writes a damaged set under name, expects the load to fail with a message
** holding `want` (and the file's name); the outputs must stay NULL. */
static int expect_fail(const char *dir, int64_t off, int64_t cnt, const char *want, const char *file)
{
    setenv("HE_DATA", dir, 1);
    he_tensor *im = (he_tensor *)1, *lb = (he_tensor *)1;
    int rc = he_mnist_load("train", off, cnt, &im, &lb);
    if (rc == 0) {
        drop(im);
        drop(lb);
        printf("# accepted a damaged set (%s)\n", want);
        return 0;
    }
    if (im || lb) return 0;
    if (!has(want) || (file && !has(file))) {
        printf("# message \"%s\" lacks \"%s\" / \"%s\"\n", he_errmsg(), want, file ? file : "");
        return 0;
    }
    return 1;
}

static void test_mnist_damaged(void)
{
    uint8_t pix[10 * 784], lab[10];
    he_prng g;
    he_prng_seed(&g, 3);
    he_prng_bytes(&g, pix, sizeof pix);
    for (int i = 0; i < 10; i++) lab[i] = (uint8_t)i;
    uint32_t di[3] = {10, 28, 28}, dl[1] = {10};
    const char *d;

    /* labels magic on the images file */
    d = new_dir("bad_magic");
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte.gz"), 2049, 3, di, pix, sizeof pix, true);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte.gz"), 2049, 1, dl, lab, 10, true);
    CHECK(expect_fail(d, 0, -1, "bad magic number 2049 (0x00000801): an MNIST labels file",
                      "train-images-idx3-ubyte.gz"),
          "bad magic");
    /* not an IDX file at all */
    d = new_dir("not_idx");
    write_file(pathf(d, "mnist/train-images-idx3-ubyte"), "GIF89a......................", 28, false);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte"), 2049, 1, dl, lab, 10, false);
    CHECK(expect_fail(d, 0, -1, "not an IDX file", "train-images-idx3-ubyte"), "not idx");
    /* wrong image size */
    d = new_dir("bad_dims");
    uint32_t d27[3] = {10, 27, 28};
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte"), 2051, 3, d27, pix, 10 * 27 * 28, false);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte"), 2049, 1, dl, lab, 10, false);
    CHECK(expect_fail(d, 0, -1, "27x28", "train-images"), "dims");
    /* header shorter than its dimensions */
    d = new_dir("short_header");
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte.gz"), 2051, 1, di, NULL, 0, true);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte.gz"), 2049, 1, dl, lab, 10, true);
    CHECK(expect_fail(d, 0, -1, "truncated", "train-images-idx3-ubyte.gz"), "short header");
    /* images cut short, plain and gzip: the whole set fails, the intact
    ** first items still load */
    for (int gz = 0; gz < 2; gz++) {
        d = new_dir(gz ? "trunc_gz" : "trunc_plain");
        write_idx(pathf(d, gz ? "mnist/train-images-idx3-ubyte.gz" : "mnist/train-images-idx3-ubyte"),
                  2051, 3, di, pix, 9 * 784 + 100, gz);
        write_idx(pathf(d, gz ? "mnist/train-labels-idx1-ubyte.gz" : "mnist/train-labels-idx1-ubyte"),
                  2049, 1, dl, lab, 10, gz);
        CHECK(expect_fail(d, 0, -1, "truncated", "train-images"), "truncated images (gz %d)", gz);
        CHECK(expect_fail(d, 9, 1, "truncated", "train-images"), "truncated last image (gz %d)", gz);
        he_tensor *im = NULL, *lb = NULL;
        CHECK(he_mnist_load("train", 0, 9, &im, &lb) == 0, "intact part: %s", he_errmsg());
        CHECK(im && im->data.f[784 * 9 - 1] == pix[784 * 9 - 1] / 255.0, "intact part differs");
        drop(im);
        drop(lb);
    }
    /* a gzip stream cut in the middle */
    d = new_dir("cut_stream");
    {
        size_t n = 16 + sizeof pix;
        uint8_t *raw = malloc(n);
        put32(raw, 2051);
        put32(raw + 4, 10);
        put32(raw + 8, 28);
        put32(raw + 12, 28);
        memcpy(raw + 16, pix, sizeof pix);
        uLongf zn = compressBound(n) + 64;
        uint8_t *z = malloc(zn);
        /* gzip framing through deflateInit2 (windowBits 16 + 15) */
        z_stream zs = {0};
        deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
        zs.next_in = raw;
        zs.avail_in = (uInt)n;
        zs.next_out = z;
        zs.avail_out = (uInt)zn;
        deflate(&zs, Z_FINISH);
        size_t zlen = zs.total_out;
        deflateEnd(&zs);
        write_file(pathf(d, "mnist/train-images-idx3-ubyte.gz"), z, zlen / 2, false);
        write_idx(pathf(d, "mnist/train-labels-idx1-ubyte.gz"), 2049, 1, dl, lab, 10, true);
        free(raw);
        free(z);
    }
    CHECK(expect_fail(d, 0, -1, "train-images-idx3-ubyte.gz: truncated", "unexpected end of file"),
          "cut gzip stream");
    /* a flipped byte inside the gzip data: caught by the CRC at the latest */
    d = new_dir("flipped");
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte.gz"), 2051, 3, di, pix, sizeof pix, true);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte.gz"), 2049, 1, dl, lab, 10, true);
    {
        FILE *f = fopen(pathf(d, "mnist/train-images-idx3-ubyte.gz"), "r+b");
        fseek(f, 4000, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 4000, SEEK_SET);
        fputc(c ^ 0x20, f);
        fclose(f);
    }
    CHECK(expect_fail(d, 0, -1, "train-images-idx3-ubyte.gz: ", NULL), "flipped byte");
    /* images and labels disagree on the count */
    d = new_dir("mismatch");
    uint32_t dl9[1] = {9};
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte.gz"), 2051, 3, di, pix, sizeof pix, true);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte.gz"), 2049, 1, dl9, lab, 9, true);
    CHECK(expect_fail(d, 0, 1, "10 images but", "9 labels"), "count mismatch");
    /* a label that is not a digit */
    d = new_dir("bad_label");
    uint8_t lab2[10];
    memcpy(lab2, lab, 10);
    lab2[6] = 12;
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte"), 2051, 3, di, pix, sizeof pix, false);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte"), 2049, 1, dl, lab2, 10, false);
    CHECK(expect_fail(d, 0, -1, "label 12 of item 6", "train-labels-idx1-ubyte"), "bad label");
    /* bytes after the announced items */
    d = new_dir("extra");
    uint8_t lab11[11] = {0};
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte"), 2051, 3, di, pix, sizeof pix, false);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte"), 2049, 1, dl, lab11, 11, false);
    CHECK(expect_fail(d, 0, -1, "unexpected data after", "train-labels"), "trailing data");
    /* labels missing beside the images (never taken from another folder) */
    d = new_dir("no_labels");
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte"), 2051, 3, di, pix, sizeof pix, false);
    CHECK(expect_fail(d, 0, 1, "train-labels-idx1-ubyte(.gz) not found beside", "no_labels/mnist"),
          "labels missing");
    /* a range past the end, a negative offset, an unknown set */
    d = new_dir("fine");
    write_idx(pathf(d, "mnist/train-images-idx3-ubyte"), 2051, 3, di, pix, sizeof pix, false);
    write_idx(pathf(d, "mnist/train-labels-idx1-ubyte"), 2049, 1, dl, lab, 10, false);
    CHECK(expect_fail(d, 8, 5, "[8, 13) asked for", "has 10"), "range past end");
    CHECK(expect_fail(d, -1, 5, "negative offset", NULL), "negative offset");
    he_tensor *im = NULL;
    CHECK(he_mnist_load("validation", 0, 1, &im, NULL) < 0 && !im && has("unknown set 'validation'"),
          "unknown set: %s", he_errmsg());
}

/* --- IMDB, synthetic ------------------------------------------------------------- */

/* The literal corpus: split(" ") cases, a CRLF line, a last line without
** "\n"; labels in mixed case with CRLF and no final newline. */
static const char *small_reviews = "a b  a .\n\n b\nc\r\nd e";
static const char *small_labels = "positive\nnegative\nPOSITIVE\nnegative\r\npositive";

static int tokens_are(const he_imdb *d, int64_t r, const int32_t *want, int n)
{
    if (d->tok_start[r + 1] - d->tok_start[r] != n) return 0;
    for (int i = 0; i < n; i++) {
        if (d->tokens[d->tok_start[r] + i] != want[i]) return 0;
    }
    return 1;
}

static void check_small(const he_imdb *d)
{
    CHECK(d->n_reviews == 5 && d->first == 0, "%lld reviews", (long long)d->n_reviews);
    static const char *const words[] = {"a", "b", "", ".", "c", "d", "e"};
    static const int64_t counts[] = {2, 2, 3, 1, 1, 1, 1};
    CHECK(d->n_words == 7, "%lld words", (long long)d->n_words);
    for (int i = 0; i < 7 && d->n_words == 7; i++) {
        CHECK(!strcmp(d->words[i], words[i]), "word %d is \"%s\"", i, d->words[i]);
        CHECK(d->word_count[i] == counts[i], "count of \"%s\" is %lld", words[i],
              (long long)d->word_count[i]);
        CHECK(he_imdb_word_id(d, words[i], strlen(words[i])) == i, "id of \"%s\"", words[i]);
    }
    CHECK(he_imdb_word_id(d, "zz", 2) == -1 && he_imdb_word_id(d, "a b", 3) == -1, "unknown word found");
    CHECK(d->empty_id == 2, "empty id %d", d->empty_id);
    static const int32_t t0[] = {0, 1, 2, 0, 3}, t1[] = {2}, t2[] = {2, 1}, t3[] = {4}, t4[] = {5, 6};
    CHECK(tokens_are(d, 0, t0, 5) && tokens_are(d, 1, t1, 1) && tokens_are(d, 2, t2, 2) &&
              tokens_are(d, 3, t3, 1) && tokens_are(d, 4, t4, 2),
          "tokens differ");
    CHECK(d->n_tokens == 11, "%lld tokens", (long long)d->n_tokens);
    static const uint8_t lab[] = {1, 0, 1, 0, 1};
    CHECK(!memcmp(d->labels, lab, 5), "labels differ");
    static const char *const text[] = {"a b  a .", "", " b", "c", "d e"};
    for (int i = 0; i < 5; i++) {
        CHECK(d->text_len[i] == (int64_t)strlen(text[i]) &&
                  !memcmp(d->text + d->text_start[i], text[i], strlen(text[i])),
              "text of review %d", i);
    }
}

static void test_imdb_tokens(void)
{
    const char *dir = new_dir("i_small");
    write_file(pathf(dir, "imdb/reviews.txt"), small_reviews, strlen(small_reviews), false);
    write_file(pathf(dir, "imdb/labels.txt"), small_labels, strlen(small_labels), false);
    setenv("HE_DATA", dir, 1);
    he_imdb *d = he_imdb_load(NULL);
    CHECK(d, "%s", he_errmsg());
    if (d) check_small(d);
    he_imdb_free(d);
    /* the same gzip'd (both files), by folder */
    const char *gz = new_dir("i_small_gz");
    write_file(pathf(gz, "imdb/reviews.txt.gz"), small_reviews, strlen(small_reviews), true);
    write_file(pathf(gz, "imdb/labels.txt.gz"), small_labels, strlen(small_labels), true);
    d = he_imdb_load(pathf(gz, "imdb"));
    CHECK(d, "%s", he_errmsg());
    if (d) check_small(d);
    he_imdb_free(d);
    /* a range: reviews 1 and 2 only */
    d = he_imdb_load_range(NULL, 1, 2);
    CHECK(d, "%s", he_errmsg());
    if (d) {
        static const int32_t t1[] = {0}, t2[] = {0, 1};
        CHECK(d->n_reviews == 2 && d->first == 1 && d->n_words == 2, "range shape");
        CHECK(d->n_words == 2 && !strcmp(d->words[0], "") && !strcmp(d->words[1], "b"), "range words");
        CHECK(tokens_are(d, 0, t1, 1) && tokens_are(d, 1, t2, 2), "range tokens");
        CHECK(d->labels[0] == 0 && d->labels[1] == 1, "range labels");
        CHECK(d->text_len[1] == 2 && !memcmp(d->text + d->text_start[1], " b", 2), "range text");
    }
    he_imdb_free(d);
    /* an empty range and the tail */
    d = he_imdb_load_range(NULL, 5, -1);
    CHECK(d && d->n_reviews == 0 && d->n_words == 0, "empty tail: %s", d ? "" : he_errmsg());
    he_imdb_free(d);
    d = he_imdb_load_range(NULL, 3, -1);
    CHECK(d && d->n_reviews == 2 && d->n_words == 3 && d->empty_id == -1, "tail: %s",
          d ? "" : he_errmsg());
    he_imdb_free(d);
}

static void test_imdb_damaged(void)
{
    const char *d1 = new_dir("i_mismatch");
    write_file(pathf(d1, "imdb/reviews.txt"), small_reviews, strlen(small_reviews), false);
    write_file(pathf(d1, "imdb/labels.txt"), "positive\nnegative\npositive\nnegative\n", 36, false);
    he_imdb *d = he_imdb_load(pathf(d1, "imdb"));
    CHECK(!d && has("has 5 reviews but") && has("4 labels") && has("labels.txt"), "mismatch: %s",
          he_errmsg());
    he_imdb_free(d);
    /* a range within both files still loads */
    d = he_imdb_load_range(pathf(d1, "imdb"), 0, 4);
    CHECK(d && d->n_reviews == 4, "range within both: %s", d ? "" : he_errmsg());
    he_imdb_free(d);
    d = he_imdb_load_range(pathf(d1, "imdb"), 2, 3);
    CHECK(!d && has("only 4 labels"), "range past the labels: %s", he_errmsg());
    d = he_imdb_load_range(pathf(d1, "imdb"), 4, 3);
    CHECK(!d && has("reviews [4, 7) asked for") && has("only 5"), "range past reviews: %s", he_errmsg());
    d = he_imdb_load_range(pathf(d1, "imdb"), -2, 1);
    CHECK(!d && has("negative offset"), "negative offset: %s", he_errmsg());

    const char *d2 = new_dir("i_badlabel");
    write_file(pathf(d2, "imdb/reviews.txt"), small_reviews, strlen(small_reviews), false);
    const char *bad = "positive\nnegative\nneutral\nnegative\npositive\n";
    write_file(pathf(d2, "imdb/labels.txt"), bad, strlen(bad), false);
    d = he_imdb_load(pathf(d2, "imdb"));
    CHECK(!d && has("labels.txt:3:") && has("\"neutral\""), "bad label: %s", he_errmsg());

    const char *d3 = new_dir("i_nolabels");
    write_file(pathf(d3, "imdb/reviews.txt"), small_reviews, strlen(small_reviews), false);
    d = he_imdb_load(pathf(d3, "imdb"));
    CHECK(!d && has("labels.txt(.gz) not found"), "no labels: %s", he_errmsg());
    d = he_imdb_load(pathf(d3, "nothing"));
    CHECK(!d && has("reviews.txt(.gz) not found"), "no reviews: %s", he_errmsg());

    /* a gzip stream cut in the middle */
    const char *d4 = new_dir("i_cut");
    {
        char *big = malloc(200000);
        he_prng g;
        he_prng_seed(&g, 9);
        for (int i = 0; i < 200000; i++) big[i] = (char)('a' + he_prng_u64(&g) % 26);
        for (int i = 99; i < 200000; i += 100) big[i] = '\n';
        write_file(pathf(d4, "imdb/full.gz"), big, 200000, true);
        FILE *f = fopen(pathf(d4, "imdb/full.gz"), "rb");
        char *z = malloc(300000);
        size_t zn = fread(z, 1, 300000, f);
        fclose(f);
        write_file(pathf(d4, "imdb/reviews.txt.gz"), z, zn / 2, false);
        free(z);
        free(big);
    }
    write_file(pathf(d4, "imdb/labels.txt"), "positive\n", 9, false);
    d = he_imdb_load(pathf(d4, "imdb"));
    CHECK(!d && has("reviews.txt.gz: truncated or damaged: unexpected end of file"), "cut stream: %s", he_errmsg());
}

/* A corpus with planned counts: word w appears pos[w] times in the positive
** training reviews (0 and 2) and neg[w] times in the negative ones (1, 3);
** reviews 4 (positive: 80 x omega, alpha, zeta) and 5 (negative: alpha,
** zeta) are not training data. */
typedef struct plan {
    const char *word;
    int pos, neg;
} plan;
static const plan corpus[] = {
    {"alpha", 60, 0},  /* total 60, polarity log 60: kept */
    {"beta", 30, 30},  /* polarity log(30/31 + 0.01) = -0.0225: dropped */
    {"gamma", 25, 24}, /* total 49 < 50: no polarity; 49 > 20: kept */
    {"delta", 10, 10}, /* total 20, not > 20: dropped */
    {"eps", 11, 10},   /* total 21, no polarity: kept */
    {"zeta", 0, 50},   /* polarity log(0.01) = -4.605: kept */
    {"eta", 26, 24},   /* total 50: polarity log(26/25) = 0.0392: dropped */
    {"theta", 35, 28}, /* polarity log(35/29) = 0.188: kept */
    {"iota", 30, 33},  /* polarity log(30/34 + 0.01) = -0.1139: dropped at 0.15, kept at 0.1 */
    {"", 10, 10},      /* the empty token: total 20 */
};
#define N_PLAN (int)(sizeof corpus / sizeof corpus[0])

static void build_corpus(const char *dir)
{
    he_buf b;
    he_buf_init(&b);
    he_prng g;
    he_prng_seed(&g, 7);
    for (int r = 0; r < 6; r++) {
        /* the review's tokens, then shuffled */
        const char *tok[400];
        int n = 0;
        for (int w = 0; w < N_PLAN && r < 4; w++) {
            int c = r % 2 == 0 ? corpus[w].pos : corpus[w].neg;
            int mine = r < 2 ? (c + 1) / 2 : c / 2;
            for (int k = 0; k < mine; k++) tok[n++] = corpus[w].word;
        }
        if (r >= 4) {
            for (int k = 0; k < 80 && r == 4; k++) tok[n++] = "omega";
            tok[n++] = "alpha";
            tok[n++] = "zeta";
        }
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(he_prng_u64(&g) % (uint64_t)(i + 1));
            const char *t = tok[i];
            tok[i] = tok[j];
            tok[j] = t;
        }
        /* the empty token is the gap between two spaces; keep the line
        ** from starting with "" so the first word is a real one */
        for (int i = 0; i < n; i++) {
            if (tok[i][0]) {
                const char *t = tok[0];
                tok[0] = tok[i];
                tok[i] = t;
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            if (i) he_buf_puts(&b, " ");
            he_buf_puts(&b, tok[i]);
        }
        he_buf_puts(&b, "\n");
    }
    write_file(pathf(dir, "imdb/reviews.txt.gz"), b.data, b.len, true);
    const char *lab = "positive\nnegative\npositive\nnegative\npositive\nnegative\n";
    write_file(pathf(dir, "imdb/labels.txt"), lab, strlen(lab), false);
    he_buf_free(&b);
}

static int in_vocab(const he_imdb *d, const he_imdb_vocab *v, const char *w)
{
    int32_t id = he_imdb_word_id(d, w, strlen(w));
    return id >= 0 && v->index[id] >= 0;
}

static void test_imdb_vocab(void)
{
    const char *dir = new_dir("i_vocab");
    build_corpus(dir);
    he_imdb *d = he_imdb_load(pathf(dir, "imdb"));
    CHECK(d, "%s", he_errmsg());
    if (!d) return;
    for (int w = 0; w < N_PLAN; w++) {
        int32_t id = he_imdb_word_id(d, corpus[w].word, strlen(corpus[w].word));
        int extra = !strcmp(corpus[w].word, "alpha") || !strcmp(corpus[w].word, "zeta") ? 2 : 0;
        CHECK(id >= 0 && d->word_count[id] == corpus[w].pos + corpus[w].neg + extra,
              "count of \"%s\"", corpus[w].word);
    }
    he_imdb_vocab *v = NULL;
    CHECK(he_imdb_build_vocab(d, 4, 20, 0.15, &v) == 0, "%s", he_errmsg());
    if (!v) {
        he_imdb_free(d);
        return;
    }
    static const char *const kept[] = {"alpha", "gamma", "eps", "zeta", "theta"};
    CHECK(v->size == 5, "vocabulary of %lld words", (long long)v->size);
    for (int i = 0; i < 5; i++) CHECK(in_vocab(d, v, kept[i]), "\"%s\" missing", kept[i]);
    CHECK(!in_vocab(d, v, "omega"), "a word of the test reviews is in");
    for (int64_t k = 0; k < v->size; k++) {
        const char *w = he_imdb_vocab_word(d, v, k);
        CHECK(v->index[v->word[k]] == k, "index/word disagree at %lld", (long long)k);
        CHECK(k == 0 || v->word[k] > v->word[k - 1], "not in word id order");
        for (int p = 0; p < N_PLAN; p++) {
            if (strcmp(corpus[p].word, w)) continue;
            CHECK(v->pos_count[k] == corpus[p].pos && v->neg_count[k] == corpus[p].neg, "counts of %s", w);
        }
        double want = !strcmp(w, "alpha") ? 4.0943445622221
                      : !strcmp(w, "zeta") ? -4.605170185988091
                      : !strcmp(w, "theta") ? 0.18805223150293962
                                            : NAN;
        CHECK(isnan(want) ? isnan(v->polarity[k]) : fabs(v->polarity[k] - want) < 1e-12,
              "polarity of %s: %.17g", w, v->polarity[k]);
    }
    he_imdb_vocab_free(v);
    /* cutoff 0.1 lets iota in; min_count 19 lets delta and "" in */
    CHECK(he_imdb_build_vocab(d, 4, 20, 0.1, &v) == 0 && v->size == 6 && in_vocab(d, v, "iota"),
          "cutoff 0.1");
    he_imdb_vocab_free(v);
    CHECK(he_imdb_build_vocab(d, 4, 19, 0.15, &v) == 0 && v->size == 7 && in_vocab(d, v, "delta") &&
              in_vocab(d, v, ""),
          "min_count 19");
    he_imdb_vocab_free(v);
    /* cutoff 0, min_count 0: every training word */
    CHECK(he_imdb_build_vocab(d, 4, 0, 0, &v) == 0 && v->size == N_PLAN, "everything");
    he_imdb_vocab_free(v);
    /* all six reviews: omega (80 times, all positive) comes in */
    CHECK(he_imdb_build_vocab(d, 6, 20, 0.15, &v) == 0 && in_vocab(d, v, "omega"), "six reviews");
    he_imdb_vocab_free(v);
    v = NULL;
    CHECK(he_imdb_build_vocab(d, 7, 20, 0.15, &v) < 0 && !v && has("7 training reviews"), "n_train");
    CHECK(he_imdb_build_vocab(d, 4, 20, NAN, &v) < 0 && !v, "NaN cutoff");

    /* bags: distinct vocabulary entries, ascending, checked by brute force */
    CHECK(he_imdb_build_vocab(d, 4, 20, 0.15, &v) == 0, "%s", he_errmsg());
    he_imdb_bags *b = NULL;
    CHECK(he_imdb_build_bags(d, v, 0, -1, &b) == 0 && b->n == 6, "%s", he_errmsg());
    for (int64_t r = 0; b && r < 6; r++) {
        int64_t n = 0;
        for (int64_t k = 0; k < v->size; k++) {
            bool there = false;
            for (int64_t t = d->tok_start[r]; t < d->tok_start[r + 1]; t++) there |= d->tokens[t] == v->word[k];
            if (!there) continue;
            CHECK(b->start[r] + n < b->start[r + 1] && b->index[b->start[r] + n] == k,
                  "bag %lld entry %lld", (long long)r, (long long)n);
            n++;
        }
        CHECK(b->start[r + 1] - b->start[r] == n, "bag %lld size", (long long)r);
        he_tensor *t = he_imdb_bag_tensor(d, v, r);
        CHECK(t && t->dtype == HE_DT_INT && t->ndim == 1 && t->shape[0] == n, "bag tensor %lld", (long long)r);
        for (int64_t k = 0; t && k < n && k < t->shape[0]; k++) {
            CHECK(t->data.i[k] == b->index[b->start[r] + k], "bag tensor value");
        }
        drop(t);
    }
    /* reviews 4, 5 hold alpha and zeta only (omega is not in) */
    CHECK(b && b->start[5] - b->start[4] == 2, "test review bag");
    he_imdb_bags_free(b);
    b = NULL;
    CHECK(he_imdb_build_bags(d, v, 3, 2, &b) == 0 && b->n == 2, "bags window");
    he_imdb_bags_free(b);
    b = NULL;
    CHECK(he_imdb_build_bags(d, v, 5, 2, &b) < 0 && !b && has("[5, 7) asked for"), "bags range");
    CHECK(!he_imdb_bag_tensor(d, v, 6), "bag past the end");
    he_tensor *lt = he_imdb_labels_tensor(d, 1, 4);
    CHECK(lt && lt->shape[0] == 4 && lt->data.i[0] == 0 && lt->data.i[1] == 1 && lt->data.i[2] == 0 &&
              lt->data.i[3] == 1,
          "labels tensor");
    drop(lt);
    /* a new text, as the notebook's run(): lowercased, unknown words left out */
    const char *txt = "Theta ALPHA omega  unknown alpha theta";
    he_tensor *et = he_imdb_encode_text(d, v, txt, strlen(txt));
    int32_t ia = v->index[he_imdb_word_id(d, "alpha", 5)], it = v->index[he_imdb_word_id(d, "theta", 5)];
    CHECK(et && et->shape[0] == 2 && et->data.i[0] == (ia < it ? ia : it) && et->data.i[1] == (ia < it ? it : ia),
          "encoded text");
    drop(et);
    et = he_imdb_encode_text(d, v, "", 0);
    CHECK(et && et->shape[0] == 0, "empty text");
    drop(et);
    /* a vocabulary of other data is refused */
    he_imdb *other = he_imdb_load_range(pathf(dir, "imdb"), 0, 2);
    CHECK(other && he_imdb_build_bags(other, v, 0, 1, &b) < 0 && has("other data"), "foreign vocabulary");
    he_imdb_free(other);
    he_imdb_vocab_free(v);
    he_imdb_free(d);
}

/* --- the real data sets ------------------------------------------------------------ */

static bool real_found(const char *rel)
{
    if (user_data) {
        setenv("HE_DATA", user_data, 1);
    } else {
        unsetenv("HE_DATA");
    }
    char *p = he_data_path(rel);
    he_free(p);
    return p != NULL;
}

static void test_real_mnist_labels(void)
{
    he_tensor *lb = NULL;
    CHECK(he_mnist_load("t10k", 0, 5, NULL, &lb) == 0, "%s", he_errmsg());
    static const int first[] = {7, 2, 1, 0, 4};
    for (int i = 0; lb && i < 5; i++) CHECK(lb->data.i[i] == first[i], "t10k label %d", i);
    drop(lb);
    static const int64_t train[] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const int64_t test[] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    for (int s = 0; s < 2; s++) {
        CHECK(he_mnist_load(s ? "t10k" : "train", 0, -1, NULL, &lb) == 0, "%s", he_errmsg());
        if (!lb) continue;
        int64_t c[10] = {0};
        for (int64_t i = 0; i < lb->size; i++) c[lb->data.i[i]]++;
        CHECK(lb->size == (s ? 10000 : 60000), "%lld labels", (long long)lb->size);
        for (int k = 0; k < 10; k++) CHECK(c[k] == (s ? test : train)[k], "digit %d: %lld", k, (long long)c[k]);
        drop(lb);
    }
}

static void test_real_mnist_pixels(void)
{
    /* the well-known normalisation constants, over all 60000 images,
    ** loaded in slices so the test stays small */
    double sum = 0, sq = 0;
    int64_t n = 0;
    for (int64_t off = 0; off < 60000; off += 15000) {
        he_tensor *im = NULL;
        CHECK(he_mnist_load_ex("train", off, 15000, HE_MNIST_RAW, &im, NULL) == 0, "%s", he_errmsg());
        if (!im) return;
        for (int64_t i = 0; i < im->size; i++) {
            sum += (double)im->data.i[i];
            sq += (double)im->data.i[i] * (double)im->data.i[i];
        }
        n += im->size;
        drop(im);
    }
    double mean = sum / (double)n / 255.0, var = sq / (double)n / (255.0 * 255.0) - mean * mean;
    CHECK(fabs(mean - 0.1306605) < 5e-7, "mean %.8f", mean);
    CHECK(fabs(sqrt(var) - 0.3081078) < 5e-7, "std %.8f", sqrt(var));
    /* the float scaling of a test image */
    he_tensor *f = NULL, *r = NULL;
    CHECK(he_mnist_load("t10k", 9999, 1, &f, NULL) == 0 && he_mnist_load_ex("t10k", 9999, 1, HE_MNIST_RAW, &r, NULL) == 0,
          "%s", he_errmsg());
    for (int64_t i = 0; f && r && i < 784; i++) CHECK(f->data.f[i] == r->data.i[i] / 255.0, "scaling");
    drop(f);
    drop(r);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_real_imdb(void)
{
    double t0 = now();
    he_imdb *d = he_imdb_load(NULL);
    double t1 = now();
    CHECK(d, "%s", he_errmsg());
    if (!d) return;
    printf("# imdb: 25000 reviews loaded and split in %.3f s\n", t1 - t0);
    CHECK(d->n_reviews == 25000, "%lld reviews", (long long)d->n_reviews);
    bool alt = true;
    for (int64_t i = 0; i < d->n_reviews; i++) alt &= d->labels[i] == (i % 2 == 0);
    CHECK(alt, "labels do not alternate from positive");
    /* the notebook's len(vocab) counts the empty token of split(" ") */
    CHECK(d->n_words == 74074, "%lld words", (long long)d->n_words);
    CHECK(d->empty_id >= 0 && d->n_words - 1 == 74073, "words of split()");
    const char *start = "bromwell high is a cartoon comedy . it ran at the same time as some other programs";
    CHECK(d->text_len[0] > 80 && !memcmp(d->text + d->text_start[0], start, strlen(start)), "review 0 text");
    /* the empty-token counts of lines 0-4 (README) */
    static const int64_t empty[] = {18, 5, 78, 167, 19};
    for (int r = 0; r < 5; r++) {
        int64_t c = 0;
        for (int64_t t = d->tok_start[r]; t < d->tok_start[r + 1]; t++) c += d->tokens[t] == d->empty_id;
        CHECK(c == empty[r], "line %d has %lld empty tokens", r, (long long)c);
    }
    /* published positive_counts of the notebook (project 1) */
    he_imdb_vocab *v = NULL;
    CHECK(he_imdb_build_vocab(d, 25000, 0, 0, &v) == 0 && v->size == 74074, "full vocabulary");
    static const struct {
        const char *w;
        int64_t pos;
    } top[] = {{"the", 173324}, {".", 159654}, {"and", 89722}, {"a", 83688}, {"br", 49235}, {"excellent", 1683}};
    for (int i = 0; v && i < 6; i++) {
        int32_t id = he_imdb_word_id(d, top[i].w, strlen(top[i].w));
        CHECK(id >= 0 && v->index[id] >= 0 && v->pos_count[v->index[id]] == top[i].pos, "count of %s", top[i].w);
    }
    he_imdb_vocab_free(v);
    /* the vocabulary of the encrypted network: reviews[:-1000],
    ** min_count 20, polarity cutoff 0.15 */
    double t2 = now();
    CHECK(he_imdb_build_vocab(d, 24000, 20, 0.15, &v) == 0 && v->size == 10847, "vocabulary of %lld",
          v ? (long long)v->size : -1LL);
    he_imdb_bags *b = NULL;
    CHECK(he_imdb_build_bags(d, v, 0, -1, &b) == 0, "%s", he_errmsg());
    printf("# imdb: vocabulary (%lld words) and 25000 bags in %.3f s\n", v ? (long long)v->size : -1LL,
           now() - t2);
    he_imdb_bags_free(b);
    he_imdb_vocab_free(v);
    he_imdb_free(d);
    /* a range reads only what it needs */
    d = he_imdb_load_range(NULL, 2, 3);
    CHECK(d && d->n_reviews == 3 && d->labels[0] == 1 && d->labels[1] == 0, "range: %s", d ? "" : he_errmsg());
    int64_t c = 0;
    for (int64_t t = 0; d && t < d->tok_start[1]; t++) c += d->tokens[t] == d->empty_id;
    CHECK(c == 78, "range line 2 has %lld empty tokens", (long long)c);
    he_imdb_free(d);
}

/* --- main ---------------------------------------------------------------------------- */

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

int main(void)
{
    if (he_init() < 0) return 1;
    if (getenv("HE_DATA")) user_data = strdup(getenv("HE_DATA"));
    if (!check_tmpdir(root, sizeof root, "he_test_data")) return 1;
    RUN(test_mnist_gzip);
    RUN(test_mnist_plain);
    RUN(test_mnist_damaged);
    RUN(test_imdb_tokens);
    RUN(test_imdb_damaged);
    RUN(test_imdb_vocab);
    remove_tree(root);

    if (real_found("mnist/t10k-labels-idx1-ubyte") && real_found("mnist/train-images-idx3-ubyte")) {
        RUN(test_real_mnist_labels);
        RUN(test_real_mnist_pixels);
    } else {
        SKIP(test_real_mnist_labels, "MNIST not found (set HE_DATA or run 'make data')");
        SKIP(test_real_mnist_pixels, "MNIST not found (set HE_DATA or run 'make data')");
    }
    if (real_found("imdb/reviews.txt")) {
        RUN(test_real_imdb);
    } else {
        SKIP(test_real_imdb, "IMDB not found (set HE_DATA or run 'make data')");
    }
    free(user_data);
    return 0;
}
