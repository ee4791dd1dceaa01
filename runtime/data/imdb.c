/*
** imdb.c: the IMDB reviews of Trask's sentiment network (Udacity
** deep-learning, sentiment-network): loading, splitting into word ids, the
** polarity-filtered vocabulary of SentimentNetwork (project 6) and the
** bags of word indices the network takes as input.
**
** Loading is one pass: the file is decompressed into one buffer, lines are
** found with memchr, and every token goes through an open-addressing hash
** table (FNV-1a) that gives word ids in order of first appearance. The 33 MB
** file loads in a few tenths of a second.
*/
#include "data/data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

struct he_imdb_index {
    int32_t *slot;   /* word id or -1; a power of two of them */
    uint64_t mask;
    uint64_t *hash;  /* [cap] hash of each word id */
    int64_t *off;    /* [cap] offset of each word in arena */
    uint32_t *len;   /* [cap] length of each word */
    int64_t cap;     /* room for word ids */
    char *arena;     /* the words, each NUL-terminated */
    size_t arena_len, arena_cap;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void index_free(he_imdb_index *x)
{
    if (!x) return;
    he_free(x->slot);
    he_free(x->hash);
    he_free(x->off);
    he_free(x->len);
    he_free(x->arena);
    he_free(x);
}

static he_imdb_index *index_new(void)
{
    he_imdb_index *x = he_calloc(1, sizeof *x);
    if (!x) return NULL;
    x->mask = (1u << 16) - 1;
    x->slot = he_malloc((x->mask + 1) * sizeof *x->slot);
    if (!x->slot) {
        index_free(x);
        return NULL;
    }
    memset(x->slot, 0xff, (x->mask + 1) * sizeof *x->slot);
    return x;
}

static int32_t index_find(const he_imdb_index *x, const char *w, size_t n, uint64_t h)
{
    for (uint64_t i = h & x->mask;; i = (i + 1) & x->mask) {
        int32_t id = x->slot[i];
        if (id < 0) return -1;
        if (x->hash[id] == h && x->len[id] == n && !memcmp(x->arena + x->off[id], w, n)) return id;
    }
}

static int index_grow(he_imdb_index *x)
{
    uint64_t size = (x->mask + 1) * 2;
    int32_t *slot = he_malloc(size * sizeof *slot);
    if (!slot) return -1;
    memset(slot, 0xff, size * sizeof *slot);
    uint64_t mask = size - 1;
    for (uint64_t i = 0; i <= x->mask; i++) {
        int32_t id = x->slot[i];
        if (id < 0) continue;
        uint64_t j = x->hash[id] & mask;
        while (slot[j] >= 0) j = (j + 1) & mask;
        slot[j] = id;
    }
    he_free(x->slot);
    x->slot = slot;
    x->mask = mask;
    return 0;
}

/* Word id of w, adding it when new (n_words counts the ids given). */
static int32_t index_intern(he_imdb_index *x, int64_t *n_words, const char *w, size_t n)
{
    uint64_t h = fnv1a(w, n);
    int32_t id = index_find(x, w, n, h);
    if (id >= 0) return id;
    if (*n_words >= INT32_MAX) return he_error("IMDB: more than %d distinct words", INT32_MAX);
    if (n > UINT32_MAX) return he_error("IMDB: a word of %zu bytes", n);
    if ((uint64_t)(*n_words + 1) * 2 > x->mask + 1 && index_grow(x) < 0) return -1;
    if (*n_words == x->cap) {
        int64_t cap = x->cap ? x->cap * 2 : 4096;
        uint64_t *hash = he_realloc(x->hash, (size_t)cap * sizeof *hash);
        if (!hash) return -1;
        x->hash = hash;
        int64_t *off = he_realloc(x->off, (size_t)cap * sizeof *off);
        if (!off) return -1;
        x->off = off;
        uint32_t *len = he_realloc(x->len, (size_t)cap * sizeof *len);
        if (!len) return -1;
        x->len = len;
        x->cap = cap;
    }
    if (x->arena_len + n + 1 > x->arena_cap) {
        size_t cap = x->arena_cap ? x->arena_cap : 1u << 16;
        while (cap < x->arena_len + n + 1) cap *= 2;
        char *a = he_realloc(x->arena, cap);
        if (!a) return -1;
        x->arena = a;
        x->arena_cap = cap;
    }
    id = (int32_t)*n_words;
    memcpy(x->arena + x->arena_len, w, n);
    x->arena[x->arena_len + n] = 0;
    x->off[id] = (int64_t)x->arena_len;
    x->len[id] = (uint32_t)n;
    x->hash[id] = h;
    x->arena_len += n + 1;
    uint64_t i = h & x->mask;
    while (x->slot[i] >= 0) i = (i + 1) & x->mask;
    x->slot[i] = id;
    ++*n_words;
    return id;
}

int32_t he_imdb_word_id(const he_imdb *d, const char *word, size_t len)
{
    if (!d || !word) he_misuse("he_imdb_word_id: NULL argument");
    return index_find(d->index, word, len, fnv1a(word, len));
}

/* --- files ----------------------------------------------------------------- */

/* A text file read into memory, with the start of every line. */
typedef struct text_file {
    char *buf;
    size_t len;
    int64_t *line; /* start offsets, n_lines + 1 (the last one: end of text) */
    int64_t n_lines;
} text_file;

static void text_free(text_file *t)
{
    he_free(t->buf);
    he_free(t->line);
    memset(t, 0, sizeof *t);
}

static int add_line(text_file *t, int64_t *cap, int64_t start)
{
    if (t->n_lines + 1 >= *cap) {
        int64_t c = *cap ? *cap * 2 : 1024;
        int64_t *l = he_realloc(t->line, (size_t)c * sizeof *l);
        if (!l) return -1;
        t->line = l;
        *cap = c;
    }
    t->line[t->n_lines++] = start;
    return 0;
}

/* zlib's message for f, without the "path: " it puts in front. */
static const char *zmsg(gzFile f, const char *path, int *zerr)
{
    const char *m = gzerror(f, zerr);
    size_t n = strlen(path);
    if (!strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    return *zerr == Z_ERRNO ? strerror(errno) : m;
}

/* Reads path (gzip or plain) until `want` whole lines are in (want < 0:
** the whole file). A last line without "\n" counts when it is not empty,
** as with Python's readlines(). */
static int text_read(const char *path, int64_t want, text_file *t)
{
    memset(t, 0, sizeof *t);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int e = errno;
        return he_error("%s: cannot open: %s", path, e ? strerror(e) : "out of memory");
    }
    gzbuffer(f, 1u << 18);
    size_t cap = 0, scanned = 0, line_start = 0;
    int64_t lcap = 0;
    int rc = 0;
    for (;;) {
        if (want >= 0 && t->n_lines >= want) break;
        if (cap - t->len < (1u << 20)) {
            size_t c = cap ? cap * 2 : 1u << 22;
            char *b = he_realloc(t->buf, c);
            if (!b) {
                rc = -1;
                break;
            }
            t->buf = b;
            cap = c;
        }
        size_t room = cap - t->len;
        int r = gzread(f, t->buf + t->len, room > (1u << 30) ? 1u << 30 : (unsigned)room);
        if (r <= 0) {
            /* A cut-off gzip stream ends in an error or, with some zlib
            ** versions, in a plain end of file with Z_BUF_ERROR set. */
            int zerr;
            const char *msg = zmsg(f, path, &zerr);
            if (zerr == Z_ERRNO) {
                rc = he_error("%s: cannot read: %s", path, msg);
            } else if (zerr != Z_OK && zerr != Z_STREAM_END) {
                rc = he_error("%s: truncated or damaged: %s", path, msg);
            } else if (r < 0) {
                rc = he_error("%s: cannot read", path);
            } else if (line_start < t->len) {
                rc = add_line(t, &lcap, (int64_t)line_start);
            }
            break;
        }
        t->len += (size_t)r;
        while (scanned < t->len) {
            char *nl = memchr(t->buf + scanned, '\n', t->len - scanned);
            if (!nl) {
                scanned = t->len;
                break;
            }
            if ((rc = add_line(t, &lcap, (int64_t)line_start)) < 0) break;
            scanned = (size_t)(nl - t->buf) + 1;
            line_start = scanned;
            if (want >= 0 && t->n_lines >= want) break;
        }
        if (rc < 0) break;
    }
    gzclose(f);
    if (rc == 0) {
        /* Sentinel: the end of the last line counted (its "\n" included). */
        int64_t end;
        if (t->n_lines == 0) {
            end = 0;
        } else {
            const char *s = t->buf + t->line[t->n_lines - 1];
            const char *nl = memchr(s, '\n', t->len - (size_t)t->line[t->n_lines - 1]);
            end = nl ? (int64_t)(nl - t->buf) + 1 : (int64_t)t->len;
        }
        if ((rc = add_line(t, &lcap, end)) == 0) t->n_lines--;
    }
    if (rc < 0) text_free(t);
    return rc;
}

/* Line i without its "\n" (and a "\r" before it). */
static void text_line(const text_file *t, int64_t i, const char **s, size_t *n)
{
    int64_t a = t->line[i], b = t->line[i + 1];
    if (b > a && t->buf[b - 1] == '\n') b--;
    if (b > a && t->buf[b - 1] == '\r') b--;
    *s = t->buf + a;
    *n = (size_t)(b - a);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name or dir/name.gz; NULL (he_error set) when neither exists. */
static char *find_in(const char *dir, const char *name)
{
    static const char *const suffix[] = {"", ".gz"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(dir) + strlen(name) + 8;
        char *p = he_malloc(n);
        if (!p) return NULL;
        snprintf(p, n, "%s/%s%s", dir, name, suffix[i]);
        if (is_file(p)) return p;
        he_free(p);
    }
    he_error("IMDB: %s/%s(.gz) not found", dir, name);
    return NULL;
}

static int parse_labels(const text_file *t, const char *path, int64_t from, int64_t n, uint8_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        text_line(t, from + i, &s, &len);
        if (len == 8 && !strncasecmp(s, "positive", 8)) {
            out[i] = 1;
        } else if (len == 8 && !strncasecmp(s, "negative", 8)) {
            out[i] = 0;
        } else {
            return he_error("%s:%lld: expected \"positive\" or \"negative\", got \"%.*s\"%s", path,
                            (long long)(from + i + 1), len > 40 ? 40 : (int)len, s,
                            len > 40 ? "..." : "");
        }
    }
    return 0;
}

/* --- loading --------------------------------------------------------------- */

void he_imdb_free(he_imdb *d)
{
    if (!d) return;
    he_free(d->labels);
    he_free(d->tok_start);
    he_free(d->tokens);
    he_free(d->words);
    he_free(d->word_count);
    he_free(d->text);
    he_free(d->text_start);
    he_free(d->text_len);
    index_free(d->index);
    he_free(d);
}

static int tokenise(he_imdb *d, const text_file *rv, int64_t offset)
{
    int64_t cap = 1 << 20, n_tok = 0;
    int32_t *tok = he_malloc((size_t)cap * sizeof *tok);
    if (!tok) return -1;
    d->tokens = tok;
    he_imdb_index *x = d->index;
    for (int64_t r = 0; r < d->n_reviews; r++) {
        const char *s;
        size_t n;
        text_line(rv, offset + r, &s, &n);
        d->tok_start[r] = n_tok;
        d->text_start[r] = (int64_t)(s - rv->buf) - rv->line[offset];
        d->text_len[r] = (int64_t)n;
        /* split(" "): k spaces make k + 1 tokens, empty ones included. */
        const char *end = s + n, *p = s;
        for (;;) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *e = sp ? sp : end;
            int32_t id = index_intern(x, &d->n_words, p, (size_t)(e - p));
            if (id < 0) return -1;
            if (n_tok == cap) {
                cap *= 2;
                int32_t *t = he_realloc(d->tokens, (size_t)cap * sizeof *t);
                if (!t) return -1;
                d->tokens = t;
            }
            d->tokens[n_tok++] = id;
            if (!sp) break;
            p = sp + 1;
        }
    }
    d->tok_start[d->n_reviews] = n_tok;
    d->n_tokens = n_tok;
    int32_t *t = he_realloc(d->tokens, (size_t)(n_tok ? n_tok : 1) * sizeof *t);
    if (t) d->tokens = t;
    he_clearerr();
    return 0;
}

static int finish_words(he_imdb *d)
{
    he_imdb_index *x = d->index;
    size_t n = (size_t)(d->n_words ? d->n_words : 1);
    d->words = he_malloc(n * sizeof *d->words);
    d->word_count = he_calloc(n, sizeof *d->word_count);
    if (!d->words || !d->word_count) return -1;
    for (int64_t i = 0; i < d->n_words; i++) d->words[i] = x->arena + x->off[i];
    for (int64_t i = 0; i < d->n_tokens; i++) d->word_count[d->tokens[i]]++;
    d->empty_id = he_imdb_word_id(d, "", 0);
    return 0;
}

he_imdb *he_imdb_load_range(const char *dir, int64_t offset, int64_t count)
{
    if (offset < 0) {
        he_error("IMDB: negative offset %lld", (long long)offset);
        return NULL;
    }
    char *rpath = NULL, *lpath = NULL;
    text_file rv = {0}, lb = {0};
    he_imdb *d = NULL;
    if (dir) {
        rpath = find_in(dir, "reviews.txt");
    } else {
        rpath = he_data_path("imdb/reviews.txt");
    }
    if (!rpath) goto fail;
    {
        /* The labels must sit beside the reviews they describe. */
        char *slash = strrchr(rpath, '/');
        char *rdir = NULL;
        if (slash) {
            size_t n = (size_t)(slash - rpath);
            if (!(rdir = he_malloc(n + 1))) goto fail;
            memcpy(rdir, rpath, n);
            rdir[n] = 0;
        }
        lpath = find_in(rdir ? rdir : ".", "labels.txt");
        he_free(rdir);
        if (!lpath) goto fail;
    }
    int64_t want = count < 0 ? -1 : offset + count;
    if (text_read(rpath, want, &rv) < 0) goto fail;
    if (text_read(lpath, -1, &lb) < 0) goto fail;
    if (count < 0) {
        if (lb.n_lines != rv.n_lines) {
            he_error("IMDB: %s has %lld reviews but %s has %lld labels", rpath, (long long)rv.n_lines,
                     lpath, (long long)lb.n_lines);
            goto fail;
        }
        if (offset > rv.n_lines) {
            he_error("IMDB: offset %lld asked for, but %s has %lld reviews", (long long)offset, rpath,
                     (long long)rv.n_lines);
            goto fail;
        }
        count = rv.n_lines - offset;
    } else {
        if (rv.n_lines < offset + count) {
            he_error("IMDB: reviews [%lld, %lld) asked for, but %s has only %lld", (long long)offset,
                     (long long)(offset + count), rpath, (long long)rv.n_lines);
            goto fail;
        }
        if (lb.n_lines < offset + count) {
            he_error("IMDB: reviews [%lld, %lld) asked for, but %s has only %lld labels",
                     (long long)offset, (long long)(offset + count), lpath, (long long)lb.n_lines);
            goto fail;
        }
    }

    if (!(d = he_calloc(1, sizeof *d))) goto fail;
    d->n_reviews = count;
    d->first = offset;
    d->empty_id = -1;
    size_t nr = (size_t)count + 1;
    d->labels = he_malloc(nr);
    d->tok_start = he_malloc(nr * sizeof *d->tok_start);
    d->text_start = he_malloc(nr * sizeof *d->text_start);
    d->text_len = he_malloc(nr * sizeof *d->text_len);
    d->index = index_new();
    if (!d->labels || !d->tok_start || !d->text_start || !d->text_len || !d->index) goto fail;
    if (parse_labels(&lb, lpath, offset, count, d->labels) < 0) goto fail;
    if (tokenise(d, &rv, offset) < 0) goto fail;
    if (finish_words(d) < 0) goto fail;

    /* Keep the text of the loaded reviews only. */
    size_t a = (size_t)rv.line[offset], b = (size_t)rv.line[offset + count];
    if (b > a) memmove(rv.buf, rv.buf + a, b - a);
    char *text = he_realloc(rv.buf, b - a + 1);
    if (!text) goto fail;
    rv.buf = NULL;
    text[b - a] = 0;
    d->text = text;

    text_free(&rv);
    text_free(&lb);
    he_free(rpath);
    he_free(lpath);
    return d;
fail:
    text_free(&rv);
    text_free(&lb);
    he_free(rpath);
    he_free(lpath);
    he_imdb_free(d);
    return NULL;
}

he_imdb *he_imdb_load(const char *dir) { return he_imdb_load_range(dir, 0, -1); }

/* --- vocabulary ------------------------------------------------------------ */

void he_imdb_vocab_free(he_imdb_vocab *v)
{
    if (!v) return;
    he_free(v->word);
    he_free(v->index);
    he_free(v->pos_count);
    he_free(v->neg_count);
    he_free(v->polarity);
    he_free(v);
}

/* The notebook's transform of ratio = pos / (neg + 1), in its own terms. */
static double polarity_of(int64_t pos, int64_t neg)
{
    double ratio = (double)pos / (double)(neg + 1);
    if (ratio > 1) return log(ratio);
    return -log(1 / (ratio + 0.01));
}

int he_imdb_build_vocab(const he_imdb *d, int64_t n_train, int64_t min_count, double polarity_cutoff,
                        he_imdb_vocab **out)
{
    if (!d || !out) he_misuse("he_imdb_build_vocab: NULL argument");
    *out = NULL;
    if (n_train < 0 || n_train > d->n_reviews) {
        return he_error("IMDB vocabulary: %lld training reviews asked for, %lld loaded",
                        (long long)n_train, (long long)d->n_reviews);
    }
    if (isnan(polarity_cutoff)) return he_error("IMDB vocabulary: polarity cutoff is NaN");
    size_t nw = (size_t)(d->n_words ? d->n_words : 1);
    int64_t *pos = he_calloc(nw, sizeof *pos), *neg = he_calloc(nw, sizeof *neg);
    he_imdb_vocab *v = he_calloc(1, sizeof *v);
    if (!pos || !neg || !v) goto fail;
    for (int64_t r = 0; r < n_train; r++) {
        int64_t *c = d->labels[r] ? pos : neg;
        for (int64_t t = d->tok_start[r]; t < d->tok_start[r + 1]; t++) c[d->tokens[t]]++;
    }
    v->n_words = d->n_words;
    if (!(v->index = he_malloc(nw * sizeof *v->index))) goto fail;
    int64_t size = 0;
    for (int64_t w = 0; w < d->n_words; w++) {
        int64_t total = pos[w] + neg[w];
        bool keep = total > 0 && total > min_count;
        if (keep && total >= HE_IMDB_POLARITY_MIN_COUNT) {
            double p = polarity_of(pos[w], neg[w]);
            keep = p >= polarity_cutoff || p <= -polarity_cutoff;
        }
        v->index[w] = keep ? (int32_t)size++ : -1;
    }
    size_t ns = (size_t)(size ? size : 1);
    v->size = size;
    v->word = he_malloc(ns * sizeof *v->word);
    v->pos_count = he_malloc(ns * sizeof *v->pos_count);
    v->neg_count = he_malloc(ns * sizeof *v->neg_count);
    v->polarity = he_malloc(ns * sizeof *v->polarity);
    if (!v->word || !v->pos_count || !v->neg_count || !v->polarity) goto fail;
    for (int64_t w = 0; w < d->n_words; w++) {
        int32_t k = v->index[w];
        if (k < 0) continue;
        v->word[k] = (int32_t)w;
        v->pos_count[k] = pos[w];
        v->neg_count[k] = neg[w];
        v->polarity[k] = pos[w] + neg[w] >= HE_IMDB_POLARITY_MIN_COUNT ? polarity_of(pos[w], neg[w]) : NAN;
    }
    he_free(pos);
    he_free(neg);
    *out = v;
    return 0;
fail:
    he_free(pos);
    he_free(neg);
    he_imdb_vocab_free(v);
    return -1;
}

const char *he_imdb_vocab_word(const he_imdb *d, const he_imdb_vocab *v, int64_t k)
{
    if (!d || !v || k < 0 || k >= v->size || v->n_words != d->n_words) {
        he_misuse("he_imdb_vocab_word: bad argument");
    }
    return d->words[v->word[k]];
}

/* --- bags of word indices --------------------------------------------------- */

void he_imdb_bags_free(he_imdb_bags *b)
{
    if (!b) return;
    he_free(b->start);
    he_free(b->index);
    he_free(b);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int check_range(const he_imdb *d, const he_imdb_vocab *v, int64_t offset, int64_t *count)
{
    if (v && v->n_words != d->n_words) {
        return he_error("IMDB: the vocabulary was built on other data (%lld words, these have %lld)",
                        (long long)v->n_words, (long long)d->n_words);
    }
    if (*count < 0) *count = offset >= 0 && offset <= d->n_reviews ? d->n_reviews - offset : 0;
    if (offset < 0 || offset > d->n_reviews || *count > d->n_reviews - offset) {
        return he_error("IMDB: reviews [%lld, %lld) asked for, %lld loaded", (long long)offset,
                        (long long)(offset + *count), (long long)d->n_reviews);
    }
    return 0;
}

/* Appends review r's distinct entries (sorted) to idx at *n; mark[] holds
** the last review that took each entry. */
static void bag_of(const he_imdb *d, const he_imdb_vocab *v, int64_t r, int64_t *mark, int32_t *idx,
                   int64_t *n)
{
    int64_t from = *n;
    for (int64_t t = d->tok_start[r]; t < d->tok_start[r + 1]; t++) {
        int32_t k = v->index[d->tokens[t]];
        if (k >= 0 && mark[k] != r) {
            mark[k] = r;
            idx[(*n)++] = k;
        }
    }
    qsort(idx + from, (size_t)(*n - from), sizeof *idx, cmp_i32);
}

static int64_t *new_marks(const he_imdb_vocab *v)
{
    size_t n = (size_t)(v->size ? v->size : 1);
    int64_t *mark = he_malloc(n * sizeof *mark);
    if (mark) memset(mark, 0xff, n * sizeof *mark); /* -1 */
    return mark;
}

int he_imdb_build_bags(const he_imdb *d, const he_imdb_vocab *v, int64_t offset, int64_t count,
                       he_imdb_bags **out)
{
    if (!d || !v || !out) he_misuse("he_imdb_build_bags: NULL argument");
    *out = NULL;
    if (check_range(d, v, offset, &count) < 0) return -1;
    /* The tokens of the range bound the total size. */
    int64_t ntok = d->tok_start[offset + count] - d->tok_start[offset];
    he_imdb_bags *b = he_calloc(1, sizeof *b);
    int64_t *mark = new_marks(v);
    if (!b || !mark) goto fail;
    b->n = count;
    b->start = he_malloc((size_t)(count + 1) * sizeof *b->start);
    b->index = he_malloc((size_t)(ntok ? ntok : 1) * sizeof *b->index);
    if (!b->start || !b->index) goto fail;
    int64_t n = 0;
    for (int64_t j = 0; j < count; j++) {
        b->start[j] = n;
        bag_of(d, v, offset + j, mark, b->index, &n);
    }
    b->start[count] = n;
    int32_t *shrunk = he_realloc(b->index, (size_t)(n ? n : 1) * sizeof *shrunk);
    if (shrunk) b->index = shrunk;
    he_clearerr();
    he_free(mark);
    *out = b;
    return 0;
fail:
    he_free(mark);
    he_imdb_bags_free(b);
    return -1;
}

he_tensor *he_imdb_bag_tensor(const he_imdb *d, const he_imdb_vocab *v, int64_t i)
{
    if (!d || !v) he_misuse("he_imdb_bag_tensor: NULL argument");
    int64_t one = 1;
    if (check_range(d, v, i, &one) < 0) return NULL;
    int64_t ntok = d->tok_start[i + 1] - d->tok_start[i];
    int64_t *mark = new_marks(v);
    int32_t *idx = he_malloc((size_t)(ntok ? ntok : 1) * sizeof *idx);
    he_tensor *t = NULL;
    if (mark && idx) {
        int64_t n = 0;
        bag_of(d, v, i, mark, idx, &n);
        if ((t = he_tensor_new(HE_DT_INT, 0, 1, &n))) {
            for (int64_t k = 0; k < n; k++) t->data.i[k] = idx[k];
        }
    }
    he_free(mark);
    he_free(idx);
    return t;
}

he_tensor *he_imdb_encode_text(const he_imdb *d, const he_imdb_vocab *v, const char *text, size_t len)
{
    if (!d || !v || (!text && len)) he_misuse("he_imdb_encode_text: NULL argument");
    int64_t none = 0;
    if (check_range(d, v, 0, &none) < 0) return NULL;
    char *low = he_malloc(len + 1);
    int32_t *idx = he_malloc((len + 1) * sizeof *idx); /* tokens: spaces + 1 */
    int64_t *mark = new_marks(v);
    he_tensor *t = NULL;
    if (low && idx && mark) {
        for (size_t i = 0; i < len; i++) low[i] = (char)tolower((unsigned char)text[i]);
        int64_t n = 0;
        const char *p = low, *end = low + len;
        for (;;) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *e = sp ? sp : end;
            int32_t id = index_find(d->index, p, (size_t)(e - p), fnv1a(p, (size_t)(e - p)));
            int32_t k = id >= 0 ? v->index[id] : -1;
            if (k >= 0 && mark[k] != 0) {
                mark[k] = 0;
                idx[n++] = k;
            }
            if (!sp) break;
            p = sp + 1;
        }
        qsort(idx, (size_t)n, sizeof *idx, cmp_i32);
        if ((t = he_tensor_new(HE_DT_INT, 0, 1, &n))) {
            for (int64_t k = 0; k < n; k++) t->data.i[k] = idx[k];
        }
    }
    he_free(low);
    he_free(idx);
    he_free(mark);
    return t;
}

he_tensor *he_imdb_labels_tensor(const he_imdb *d, int64_t offset, int64_t count)
{
    if (!d) he_misuse("he_imdb_labels_tensor: NULL argument");
    if (check_range(d, NULL, offset, &count) < 0) return NULL;
    he_tensor *t = he_tensor_new(HE_DT_INT, 0, 1, &count);
    if (!t) return NULL;
    for (int64_t k = 0; k < count; k++) t->data.i[k] = d->labels[offset + k];
    return t;
}
