/*
** data.h: the datasets of the demonstrations, MNIST and IMDB.
**
** Files are found with he_data_path() ($HE_DATA, then ../shared/data, then
** data/, each also with ".gz"); see /work/shared/data/README.md for the
** formats. Both loaders read gzip through zlib and accept the uncompressed
** files as well. A damaged or foreign file is refused with a message naming
** the file and what is wrong; nothing aborts on bad data.
**
**   mnist/{train,t10k}-images-idx3-ubyte[.gz]   IDX, magic 2051, N x 28 x 28
**   mnist/{train,t10k}-labels-idx1-ubyte[.gz]   IDX, magic 2049, N
**   imdb/reviews.txt[.gz]                       one review per line
**   imdb/labels.txt[.gz]                        "positive"/"negative" per line
*/
#ifndef HE_DATA_H
#define HE_DATA_H

#include "tensor.h"

/* --- MNIST ----------------------------------------------------------------- */

#define HE_MNIST_ROWS 28
#define HE_MNIST_COLS 28
#define HE_MNIST_PIXELS (HE_MNIST_ROWS * HE_MNIST_COLS)

/* Flags of he_mnist_load_ex. */
#define HE_MNIST_RAW 1u /* images as int tensors of the raw bytes 0..255 */

/* Loads images [offset, offset + count) of the "train" or "t10k" set
** ("test" is taken as "t10k"); count < 0 means every image from offset on.
** images: float tensor [count, 28, 28], pixels scaled to [0, 1] (byte/255);
** labels: int tensor [count], 0..9. Either output may be NULL when not
** wanted (at least one must be given). The images and labels files must
** agree on the number of items; only the requested items are read (the
** rest is skipped). On failure both outputs are left NULL. */
int he_mnist_load(const char *which, int64_t offset, int64_t count, he_tensor **images,
                  he_tensor **labels) HE_WARN_UNUSED;
/* The same with flags (HE_MNIST_RAW: images as int 0..255). */
int he_mnist_load_ex(const char *which, int64_t offset, int64_t count, unsigned flags,
                     he_tensor **images, he_tensor **labels) HE_WARN_UNUSED;
/* Number of items of a set (reads the labels file's header only). */
int he_mnist_size(const char *which, int64_t *n) HE_WARN_UNUSED;

/* --- IMDB (Trask's sentiment network data) -----------------------------------
** Reviews are split into words exactly as the notebook's review.split(" ")
** does: every single space separates two tokens, so two spaces in a row give
** an empty token "" (it is a word like any other there, and it is counted
** the same way here: the full word table of the 25,000 reviews has 74074
** entries, "" included, as in the notebook). empty_id tells which word id
** is "", for users who want to skip it. A trailing "\r" of a line is
** dropped (CRLF files read as in Python's text mode). */
typedef struct he_imdb_index he_imdb_index;

typedef struct he_imdb {
    int64_t n_reviews;
    uint8_t *labels;     /* [n_reviews]: 1 positive, 0 negative */
    /* Review i is tokens[tok_start[i] .. tok_start[i + 1]) (word ids, in
    ** text order, repeats kept). */
    int64_t *tok_start;  /* [n_reviews + 1] */
    int32_t *tokens;
    int64_t n_tokens;
    /* Word ids are given in order of first appearance. */
    int64_t n_words;
    const char **words;  /* [n_words] NUL-terminated */
    int64_t *word_count; /* [n_words] occurrences over the loaded reviews */
    int32_t empty_id;    /* word id of "", or -1 when no review has it */
    /* The text of review i: text + text_start[i], text_len[i] bytes (not
    ** NUL-terminated; without the line end). */
    char *text;
    int64_t *text_start; /* [n_reviews] */
    int64_t *text_len;   /* [n_reviews] */
    int64_t first;       /* line number (0-based) of review 0 in the file */
    he_imdb_index *index; /* private: word -> id */
} he_imdb;

/* Loads every review (reviews.txt or reviews.txt.gz, with labels.txt or
** labels.txt.gz from the same folder). dir: that folder, or NULL to search
** with he_data_path("imdb/..."). Both files must have the same number of
** lines. NULL on failure (he_error set). */
he_imdb *he_imdb_load(const char *dir);
/* Loads reviews [offset, offset + count) only (count < 0: to the end); the
** reviews file is read only as far as needed, and the word table holds the
** words of those reviews. The labels file must have at least offset + count
** lines (exactly as many as the reviews file when count < 0). */
he_imdb *he_imdb_load_range(const char *dir, int64_t offset, int64_t count);
void he_imdb_free(he_imdb *d);
/* Word id of a word (len bytes), or -1. */
int32_t he_imdb_word_id(const he_imdb *d, const char *word, size_t len);

/* The vocabulary of the network's input layer, built as Trask's
** SentimentNetwork.pre_process_data does (Udacity deep-learning,
** sentiment-network, project 6; also the Safe-AI encrypted version):
**   - count every token of the first n_train reviews, in positive and in
**     negative reviews (total = pos + neg);
**   - for words with total >= 50: ratio = pos / (neg + 1), and
**     polarity = log(ratio) when ratio > 1, else -log(1 / (ratio + 0.01));
**   - keep a word when total > min_count and, if it has a polarity,
**     polarity >= polarity_cutoff or polarity <= -polarity_cutoff.
** The notebook keeps a Python set (no order); here entries are in word id
** order, that is, in order of first appearance in the reviews. On the full
** data with n_train = 24000 (reviews[:-1000]) and min_count = 20 this
** gives 10847 words at polarity_cutoff 0.15 (11898 at 0.05, the
** notebook's first run; 6851 at 0.8, its second), the same as the
** notebook's Python code on the same file. */
#define HE_IMDB_POLARITY_MIN_COUNT 50

typedef struct he_imdb_vocab {
    int64_t size;
    int32_t *word;      /* [size]: word id of entry k (ascending) */
    int64_t n_words;    /* the he_imdb's n_words when built */
    int32_t *index;     /* [n_words]: vocabulary entry of a word id, or -1 */
    int64_t *pos_count; /* [size]: occurrences in positive training reviews */
    int64_t *neg_count; /* [size]: ... in negative ones */
    double *polarity;   /* [size]: the log ratio, NAN when total < 50 */
} he_imdb_vocab;

int he_imdb_build_vocab(const he_imdb *d, int64_t n_train, int64_t min_count,
                        double polarity_cutoff, he_imdb_vocab **out) HE_WARN_UNUSED;
void he_imdb_vocab_free(he_imdb_vocab *v);
/* The word of vocabulary entry k. */
const char *he_imdb_vocab_word(const he_imdb *d, const he_imdb_vocab *v, int64_t k);

/* The network's input: per review, its distinct vocabulary entries in
** ascending order (the notebook's set of indices whose input is 1).
** Review offset + j is index[start[j] .. start[j + 1]). */
typedef struct he_imdb_bags {
    int64_t n;
    int64_t *start; /* [n + 1] */
    int32_t *index;
} he_imdb_bags;

int he_imdb_build_bags(const he_imdb *d, const he_imdb_vocab *v, int64_t offset, int64_t count,
                       he_imdb_bags **out) HE_WARN_UNUSED;
void he_imdb_bags_free(he_imdb_bags *b);

/* The same for one review, as an int tensor [k]; NULL on failure. */
he_tensor *he_imdb_bag_tensor(const he_imdb *d, const he_imdb_vocab *v, int64_t i);
/* A new text (the notebook's run(review)): lowercased, split on " ", and
** its distinct vocabulary entries, ascending, as an int tensor [k]; words
** outside the vocabulary are left out. NULL on failure. */
he_tensor *he_imdb_encode_text(const he_imdb *d, const he_imdb_vocab *v, const char *text, size_t len);
/* Labels [offset, offset + count) as an int tensor of 0/1 (count < 0: to
** the end); NULL on failure. */
he_tensor *he_imdb_labels_tensor(const he_imdb *d, int64_t offset, int64_t count);

#endif
