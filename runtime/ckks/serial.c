/*
** serial.c: the versioned binary format of ckks.h for keys and ciphertexts.
** Every field is checked on load; the whole file is covered by a BLAKE2b
** checksum, so a damaged file is refused before anything is read from it.
*/
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ckks/ckks_internal.h"

#define MAGIC "HECKKS\r\n"
#define HDR 56
#define SUM 32
enum { KIND_KEYS = 1, KIND_CT = 2 };

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
} wbuf;

static void w_u32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}
static void w_u64(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}
static void w_arr(wbuf *w, const uint64_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) w_u64(w, a[i]);
}
static uint32_t r_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t r_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int w_begin(wbuf *w, const he_ckks_ctx *c, unsigned kind, size_t body)
{
    size_t total = HDR + body + SUM;
    w->p = he_malloc(total);
    if (!w->p) return -1;
    w->cap = total;
    w->len = 0;
    memcpy(w->p, MAGIC, 8);
    w->len = 8;
    w->p[w->len++] = HE_CKKS_FORMAT_VERSION & 0xff;
    w->p[w->len++] = HE_CKKS_FORMAT_VERSION >> 8;
    w->p[w->len++] = (uint8_t)kind;
    w->p[w->len++] = 0;
    w_u32(w, 0);
    memcpy(w->p + w->len, c->fp, 32);
    w->len += 32;
    w_u64(w, body);
    return 0;
}

static void w_end(wbuf *w)
{
    crypto_generichash(w->p + w->len, SUM, w->p, w->len, NULL, 0);
    w->len += SUM;
}

/* Checks the envelope; returns the body (pointer and length) of the kind. */
static int r_envelope(const he_ckks_ctx *c, const uint8_t *buf, size_t len, unsigned kind,
                      const uint8_t **body, size_t *blen)
{
    static const char *names[] = {"", "key set", "ciphertext"};
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
        return he_error("ckks: not a he CKKS file (bad magic)");
    if (len < HDR + SUM) return he_error("ckks: file truncated (%zu bytes)", len);
    uint64_t bl = r_u64(buf + 48);
    if (bl != len - HDR - SUM)
        return he_error("ckks: file %s (header says %llu body bytes, file has %zu)",
                        bl > len - HDR - SUM ? "truncated" : "has trailing data",
                        (unsigned long long)bl, len - HDR - SUM);
    uint8_t sum[SUM];
    crypto_generichash(sum, SUM, buf, len - SUM, NULL, 0);
    if (sodium_memcmp(sum, buf + len - SUM, SUM) != 0)
        return he_error("ckks: file damaged (checksum mismatch)");
    unsigned ver = buf[8] | (unsigned)buf[9] << 8, k = buf[10] | (unsigned)buf[11] << 8;
    if (ver != HE_CKKS_FORMAT_VERSION)
        return he_error("ckks: unsupported format version %u (this build reads %d)", ver,
                        HE_CKKS_FORMAT_VERSION);
    if (k != kind)
        return he_error("ckks: file holds a %s, expected a %s", k < 3 ? names[k] : "unknown object",
                        names[kind]);
    if (r_u32(buf + 12) != 0) return he_error("ckks: bad reserved field");
    if (memcmp(buf + 16, c->fp, 32) != 0)
        return he_error("ckks: file was made for other CKKS parameters (fingerprint mismatch)");
    *body = buf + HDR;
    *blen = (size_t)bl;
    return 0;
}

/* Reads n residues mod q, checking each; advances *p. */
static int r_poly(const uint8_t **p, uint64_t *out, size_t n, uint64_t q)
{
    const uint8_t *s = *p;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = r_u64(s + 8 * i);
        if (v >= q) return he_error("ckks: coefficient out of range in file");
        out[i] = v;
    }
    *p = s + 8 * n;
    return 0;
}

/* --- ciphertexts ------------------------------------------------------------ */

int he_ckks_ct_serialize(const he_ckks_ctx *c, const he_ckks_ct *ct, uint8_t **out, size_t *len)
{
    if (!c || !ct || !out || !len) he_misuse("he_ckks_ct_serialize: NULL argument");
    if (ct->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    if (ct->size < 2) return he_error("ckks: ciphertext is empty");
    bool seeded = ct->seeded && ct->size == 2;
    size_t nco = (size_t)(seeded ? 1 : ct->size) * ct->nq * c->n;
    wbuf w;
    if (w_begin(&w, c, KIND_CT, 24 + 8 * nco + (seeded ? 32 : 0)) < 0) return -1;
    w_u32(&w, ct->size);
    w_u32(&w, ct->nq);
    uint64_t sb;
    memcpy(&sb, &ct->scale, 8);
    w_u64(&w, sb);
    w_u32(&w, seeded ? 1 : 0);
    w_u32(&w, 0);
    w_arr(&w, ct->data, nco);
    if (seeded) {
        memcpy(w.p + w.len, ct->seed, 32);
        w.len += 32;
    }
    w_end(&w);
    *out = w.p;
    *len = w.len;
    return 0;
}

int he_ckks_ct_deserialize(const he_ckks_ctx *c, he_ckks_ct *ct, const uint8_t *buf, size_t len)
{
    if (!c || !ct || !buf) he_misuse("he_ckks_ct_deserialize: NULL argument");
    if (ct->ctx != c) return he_error("ckks: ciphertext belongs to another context");
    const uint8_t *b;
    size_t bl;
    if (r_envelope(c, buf, len, KIND_CT, &b, &bl) < 0) return -1;
    if (bl < 24) return he_error("ckks: ciphertext body too short");
    uint32_t size = r_u32(b), nq = r_u32(b + 4), form = r_u32(b + 16);
    uint64_t sb = r_u64(b + 8);
    double scale;
    memcpy(&scale, &sb, 8);
    if (size != 2 && size != 3) return he_error("ckks: bad ciphertext size %u", size);
    if (nq < 1 || nq > c->L) return he_error("ckks: bad ciphertext level %d", (int)nq - 1);
    if (!(scale > 0) || !isfinite(scale)) return he_error("ckks: bad ciphertext scale");
    if (form > 1 || (form == 1 && size != 2) || r_u32(b + 20) != 0)
        return he_error("ckks: bad ciphertext form %u", form);
    unsigned stored = form ? 1 : size;
    if (bl != 24 + 8 * (size_t)stored * nq * c->n + (form ? 32 : 0))
        return he_error("ckks: ciphertext body length does not match its size and level");
    uint64_t *d = he_malloc((size_t)size * nq * c->n * sizeof *d);
    if (!d) return -1;
    const uint8_t *p = b + 24;
    for (unsigned s = 0; s < stored; s++)
        for (unsigned i = 0; i < nq; i++)
            if (r_poly(&p, d + ((size_t)s * nq + i) * c->n, c->n, c->mod[i].q) < 0) {
                he_free(d);
                return -1;
            }
    if (form == 1)
        for (unsigned i = 0; i < nq; i++) ckks_expand_seed(c, p, i, i, d + ((size_t)nq + i) * c->n);
    he_free(ct->data);
    ct->data = d;
    ct->cap = (size_t)size * nq * c->n;
    ct->size = size;
    ct->nq = nq;
    ct->scale = scale;
    ct->seeded = form == 1;
    if (form == 1) memcpy(ct->seed, p, 32);
    return 0;
}

/* --- keys ------------------------------------------------------------------- */

/* A key-switching key on file: the b parts, then the seed of the a parts. */
static size_t ksk_file_bytes(const he_ckks_ctx *c)
{
    return 8 * ckks_ksk_len(c) / 2 + 32;
}

static void w_ksk(wbuf *w, const he_ckks_ctx *c, const uint64_t *ksk, const uint8_t seed[32])
{
    size_t part = (size_t)c->k * c->n;
    for (unsigned j = 0; j < c->L; j++) w_arr(w, ksk + (size_t)(j * 2) * part, part);
    memcpy(w->p + w->len, seed, 32);
    w->len += 32;
}

static int r_ksk(const uint8_t **p, const he_ckks_ctx *c, uint64_t *ksk, uint8_t seed[32])
{
    unsigned n = c->n, kk = c->k;
    for (unsigned j = 0; j < c->L; j++)
        for (unsigned t = 0; t < kk; t++)
            if (r_poly(p, ksk + ((size_t)(j * 2) * kk + t) * n, n, c->mod[t].q) < 0) return -1;
    memcpy(seed, *p, 32);
    *p += 32;
    for (unsigned j = 0; j < c->L; j++)
        for (unsigned t = 0; t < kk; t++)
            ckks_expand_seed(c, seed, j * kk + t, t, ksk + ((size_t)(j * 2 + 1) * kk + t) * n);
    return 0;
}

/* The body's length for these parts (checked: all present in k), or -1. */
static int keys_body_bytes(const he_ckks_keys *k, unsigned parts, size_t *body)
{
    const he_ckks_ctx *c = k->ctx;
    if (!parts || (parts & ~15u)) return he_error("ckks: bad key parts 0x%x", parts);
    if ((parts & he_ckks_keys_parts(k)) != parts)
        return he_error("ckks: key set lacks some of the parts asked for (have 0x%x, asked 0x%x)",
                        he_ckks_keys_parts(k), parts);
    size_t n = c->n, b = 4;
    if (parts & HE_CKKS_PART_SECRET) b += 8 * c->k * n;
    if (parts & HE_CKKS_PART_PUBLIC) b += 8 * c->L * n + 32;
    if (parts & HE_CKKS_PART_RELIN) b += ksk_file_bytes(c);
    if (parts & HE_CKKS_PART_GALOIS) b += 4 + k->ngal * (4 + ksk_file_bytes(c));
    *body = b;
    return 0;
}

int he_ckks_keys_serialized_size(const he_ckks_keys *k, unsigned parts, size_t *len)
{
    if (!k || !len) he_misuse("he_ckks_keys_serialized_size: NULL argument");
    size_t body;
    if (keys_body_bytes(k, parts, &body) < 0) return -1;
    *len = HDR + body + SUM;
    return 0;
}

int he_ckks_keys_serialize(const he_ckks_keys *k, unsigned parts, uint8_t **out, size_t *len)
{
    if (!k || !out || !len) he_misuse("he_ckks_keys_serialize: NULL argument");
    const he_ckks_ctx *c = k->ctx;
    size_t n = c->n, body;
    if (keys_body_bytes(k, parts, &body) < 0) return -1;
    wbuf w;
    if (w_begin(&w, c, KIND_KEYS, body) < 0) return -1;
    w_u32(&w, parts);
    if (parts & HE_CKKS_PART_SECRET) w_arr(&w, k->sk, c->k * n);
    if (parts & HE_CKKS_PART_PUBLIC) {
        w_arr(&w, k->pk, c->L * n);
        memcpy(w.p + w.len, k->pk_seed, 32);
        w.len += 32;
    }
    if (parts & HE_CKKS_PART_RELIN) w_ksk(&w, c, k->rlk, k->rlk_seed);
    if (parts & HE_CKKS_PART_GALOIS) {
        w_u32(&w, (uint32_t)k->ngal);
        for (size_t i = 0; i < k->ngal; i++) {
            w_u32(&w, k->gal[i].g);
            w_ksk(&w, c, k->gal[i].ksk, k->gal[i].seed);
        }
    }
    w_end(&w);
    *out = w.p;
    *len = w.len;
    return 0;
}

/* A secret key and a public key belong together when b + a s (= e, the
** key's noise, at most 21 from the binomial sampler) is small at prime 0.
** Keys of two different key sets give residues spread over the whole prime,
** so a file that pairs a secret key with another set's public key (whose
** ciphertexts it would decrypt to garbage) is refused. */
#define KEY_NOISE_BOUND 1024
static int keys_match(const he_ckks_ctx *c, const uint64_t *sk, const uint64_t *pk)
{
    unsigned n = c->n;
    const ckks_mod *m = &c->mod[0];
    uint64_t *e = he_malloc((size_t)n * sizeof *e);
    if (!e) return -1;
    const uint64_t *b = pk, *a = pk + (size_t)c->L * n;
    for (unsigned i = 0; i < n; i++) e[i] = ckks_addmod(b[i], ckks_mulmod(a[i], sk[i], m), m->q);
    ckks_intt(e, m, n);
    uint64_t bad = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t x = e[i], mag = x > m->q / 2 ? m->q - x : x;
        bad |= (uint64_t)(mag > KEY_NOISE_BOUND);
    }
    he_free_secret(e, (size_t)n * sizeof *e);
    return bad ? he_error("ckks: the secret key does not belong to the public key (keys of two key sets)") : 0;
}

int he_ckks_keys_deserialize(he_ckks_keys *k, const uint8_t *buf, size_t len)
{
    if (!k || !buf) he_misuse("he_ckks_keys_deserialize: NULL argument");
    const he_ckks_ctx *c = k->ctx;
    const uint8_t *b;
    size_t bl;
    if (r_envelope(c, buf, len, KIND_KEYS, &b, &bl) < 0) return -1;
    if (bl < 4) return he_error("ckks: key body too short");
    uint32_t parts = r_u32(b);
    if (!parts || (parts & ~15u)) return he_error("ckks: bad key parts 0x%x in file", parts);
    size_t n = c->n, need = 4, kl = ckks_ksk_len(c), kf = ksk_file_bytes(c);
    if (parts & HE_CKKS_PART_SECRET) need += 8 * c->k * n;
    if (parts & HE_CKKS_PART_PUBLIC) need += 8 * c->L * n + 32;
    if (parts & HE_CKKS_PART_RELIN) need += kf;
    uint32_t ngal = 0;
    if (parts & HE_CKKS_PART_GALOIS) {
        if (bl < need + 4) return he_error("ckks: key body too short");
        ngal = r_u32(b + need);
        if (ngal == 0 || ngal > 2 * n) return he_error("ckks: bad Galois key count %u", ngal);
        need += 4 + (size_t)ngal * (4 + kf);
    }
    if (bl != need) return he_error("ckks: key body length does not match its parts");
    uint64_t *sk = NULL, *pk = NULL, *rlk = NULL;
    uint8_t pk_seed[32], rlk_seed[32];
    ckks_galkey *gal = NULL;
    size_t sklen = (size_t)c->k * n;
    const uint8_t *p = b + 4;
    if (parts & HE_CKKS_PART_SECRET) {
        if (!(sk = he_malloc(sklen * 8))) goto fail;
        for (unsigned t = 0; t < c->k; t++)
            if (r_poly(&p, sk + t * n, n, c->mod[t].q) < 0) goto fail;
    }
    if (parts & HE_CKKS_PART_PUBLIC) {
        if (!(pk = he_malloc(2 * c->L * n * 8))) goto fail;
        for (unsigned t = 0; t < c->L; t++)
            if (r_poly(&p, pk + t * n, n, c->mod[t].q) < 0) goto fail;
        memcpy(pk_seed, p, 32);
        p += 32;
        for (unsigned t = 0; t < c->L; t++) ckks_expand_seed(c, pk_seed, t, t, pk + (c->L + t) * n);
    }
    if (parts & HE_CKKS_PART_RELIN) {
        if (!(rlk = he_malloc(kl * 8)) || r_ksk(&p, c, rlk, rlk_seed) < 0) goto fail;
    }
    if (parts & HE_CKKS_PART_GALOIS) {
        p += 4;
        if (!(gal = he_calloc(ngal, sizeof *gal))) goto fail;
        for (uint32_t i = 0; i < ngal; i++) {
            uint32_t g = r_u32(p);
            p += 4;
            if (!(g & 1) || g < 3 || g >= 2 * n) {
                he_error("ckks: bad Galois element %u in file", g);
                goto fail;
            }
            for (uint32_t j = 0; j < i; j++)
                if (gal[j].g == g) {
                    he_error("ckks: repeated Galois element %u in file", g);
                    goto fail;
                }
            gal[i].g = g;
            if (ckks_galois_perm(c, g, &gal[i].perm) < 0) goto fail;
            if (!(gal[i].ksk = he_malloc(kl * 8)) || r_ksk(&p, c, gal[i].ksk, gal[i].seed) < 0) goto fail;
        }
    }
    if ((sk || pk) && (sk || k->sk) && (pk || k->pk) && keys_match(c, sk ? sk : k->sk, pk ? pk : k->pk) < 0)
        goto fail;
    if (sk) {
        he_ckks_keys_drop_secret(k);
        k->sk = sk;
    }
    if (pk) {
        he_free(k->pk);
        k->pk = pk;
        memcpy(k->pk_seed, pk_seed, 32);
    }
    if (rlk) {
        he_free(k->rlk);
        k->rlk = rlk;
        memcpy(k->rlk_seed, rlk_seed, 32);
    }
    if (gal) {
        for (size_t i = 0; i < k->ngal; i++) {
            he_free(k->gal[i].perm);
            he_free(k->gal[i].ksk);
        }
        he_free(k->gal);
        k->gal = gal;
        k->ngal = ngal;
    }
    return 0;
fail:
    if (sk) he_free_secret(sk, sklen * 8);
    he_free(pk);
    he_free(rlk);
    if (gal) {
        for (uint32_t i = 0; i < ngal; i++) {
            he_free(gal[i].perm);
            he_free(gal[i].ksk);
        }
        he_free(gal);
    }
    return -1;
}

/* --- files ------------------------------------------------------------------ */

/* Key files can be large (Galois keys at N = 32768: about 70 MB each). */
#define MAX_FILE ((size_t)1 << 36)

/* Atomic (a failed save leaves an existing file intact); a file holding a
** secret key never exists with a mode wider than 0600. */
static int write_file(const char *path, const uint8_t *buf, size_t len, bool secret)
{
    return he_file_write(path, buf, len, secret, "ckks");
}

/* Without stdio buffers or reallocations that would leave copies of a
** secret key in freed memory. Free with he_free_secret(*out, *len + 1). */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    return he_file_read(path, MAX_FILE, "ckks", out, len);
}

int he_ckks_keys_save(const he_ckks_keys *k, unsigned parts, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (he_ckks_keys_serialize(k, parts, &buf, &len) < 0) return -1;
    bool secret = parts & HE_CKKS_PART_SECRET;
    int r = write_file(path, buf, len, secret);
    if (secret)
        he_free_secret(buf, len);
    else
        he_free(buf);
    return r;
}

/* Puts "path: " before the current error message. */
static void prefix_error(const char *path)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", he_errmsg());
    he_error("%s: %s", path, msg);
}

int he_ckks_keys_load(he_ckks_keys *k, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) < 0) return -1;
    int r = he_ckks_keys_deserialize(k, buf, len);
    if (r < 0) prefix_error(path);
    he_free_secret(buf, len + 1);
    return r;
}

int he_ckks_ct_save(const he_ckks_ctx *c, const he_ckks_ct *ct, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (he_ckks_ct_serialize(c, ct, &buf, &len) < 0) return -1;
    int r = write_file(path, buf, len, false);
    he_free(buf);
    return r;
}

int he_ckks_ct_load(const he_ckks_ctx *c, he_ckks_ct *ct, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) < 0) return -1;
    int r = he_ckks_ct_deserialize(c, ct, buf, len);
    if (r < 0) prefix_error(path);
    he_free_secret(buf, len + 1);
    return r;
}
