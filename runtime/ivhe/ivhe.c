/*
** ivhe.c: Integer Vector Homomorphic Encryption (see ivhe.h).
**
** Layout of the hot path: a switching matrix is stored column by column, so
** M c* is a walk over the set bits of the source entries, adding (or, for a
** negative entry, subtracting) one contiguous column of rows integers per
** bit. Products form only the distinct sums of the tensor c1 c2' that the
** structure S = [I, T] leaves (see the key layouts below), divide them by
** w d with rounding, and switch that short vector. Every temporary lives in
** the key's workspace, so steady-state operations allocate nothing.
*/
#include "ivhe/ivhe.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

const double he_ivhe_sigmoid_coef[8] = {0.5, 0.25, 0.0, -1.0 / 48.0, 0.0, 1.0 / 480.0, 0.0,
                                        -17.0 / 80640.0};

struct he_ivhe_key {
    he_ivhe_params p;
    uint8_t id[32];  /* random at creation: names the key in ciphertext files */
    mpz_t w, whalf;
    int64_t *T;     /* secrets: T of dimension m at T + m (m - 1) / 2 */
    size_t n_T;
    int64_t *tt;    /* |T_m|^2 at index m */
    /* cached switching matrices, index = dimension (1..max_dim) */
    he_ivhe_ksk **enc, **ip, **elem, **smul, **pack, **sum;
    he_ivhe_ksk **extract; /* index m * (max_dim + 1) + j */
    /* workspace */
    mpz_t *z;
    size_t zcap;
    mpz_t D, Dh, tmp;
    int64_t Dd;      /* d of the current D */
    long Dshift;     /* log2 D when D is a power of two, else -1 */
    he_ivhe_ct *acc;
    he_ivhe_ct **sc; /* scalars for matvec / transpose / outer */
    size_t sccap;
    he_ivhe_ct *pw[16]; /* powers for poly (grown on demand) */
};

const char *he_ivhe_warning(void)
{
    return "warning: Integer Vector HE is for learning, not protection: it is not secure "
           "(cryptanalysis: Bogos, Gaspoz, Vaudenay, IACR ePrint 2016/775)";
}

void he_ivhe_params_default(he_ivhe_params *p)
{
    if (!p) he_misuse("he_ivhe_params_default: NULL");
    p->w = (uint64_t)1 << 25;
    p->l = 100;
    p->a_bound = 10;
    p->t_bound = 10;
    p->e_bound = 10;
    p->scale = 1000;
    p->max_dim = 10;
}

int he_ivhe_params_check(const he_ivhe_params *p)
{
    if (!p) he_misuse("he_ivhe_params_check: NULL");
    if (p->w < 2 || p->w >= ((uint64_t)1 << 62))
        return he_error("ivhe: w must be in [2, 2^62), got %llu", (unsigned long long)p->w);
    if (p->l < 8 || p->l > 4096) return he_error("ivhe: l must be in [8, 4096], got %u", p->l);
    if (p->a_bound < 1 || p->a_bound > (1u << 20))
        return he_error("ivhe: a_bound must be in [1, 2^20], got %u", p->a_bound);
    if (p->t_bound < 1 || p->t_bound > (1u << 20))
        return he_error("ivhe: t_bound must be in [1, 2^20], got %u", p->t_bound);
    if (p->e_bound < 1 || p->e_bound > (1u << 20))
        return he_error("ivhe: e_bound must be in [1, 2^20] (noise is never zero), got %u",
                        p->e_bound);
    if (p->scale < 1) return he_error("ivhe: scale must be >= 1, got %lld", (long long)p->scale);
    if (p->max_dim < 1 || p->max_dim > HE_IVHE_MAX_DIM_LIMIT)
        return he_error("ivhe: max_dim must be in [1, %d], got %u", HE_IVHE_MAX_DIM_LIMIT, p->max_dim);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* randomness: small uniform integers from a libsodium-filled buffer        */

typedef struct sampler {
    uint8_t buf[4096];
    size_t pos;
} sampler;

static void sampler_init(sampler *s) { s->pos = sizeof s->buf; }

static uint32_t sampler_u32(sampler *s)
{
    if (s->pos + 4 > sizeof s->buf) {
        he_randombytes(s->buf, sizeof s->buf);
        s->pos = 0;
    }
    uint32_t v;
    memcpy(&v, s->buf + s->pos, 4);
    s->pos += 4;
    return v;
}

/* Uniform in [0, n), 1 <= n <= 2^21, without bias. */
static uint32_t sampler_uniform(sampler *s, uint32_t n)
{
    uint32_t lim = (uint32_t)(((uint64_t)1 << 32) - (((uint64_t)1 << 32) % n));
    for (;;) {
        uint32_t v = sampler_u32(s);
        if (v < lim) return v % n;
    }
}

static int64_t sampler_sym(sampler *s, unsigned bound)
{
    return (int64_t)sampler_uniform(s, 2 * bound + 1) - (int64_t)bound;
}

/* ------------------------------------------------------------------------ */
/* mpz arrays and ciphertexts                                               */

static mpz_t *mpz_array_new(size_t n)
{
    size_t bytes;
    if (he_mul_size(n ? n : 1, sizeof(mpz_t), &bytes) < 0) return NULL;
    mpz_t *a = he_malloc(bytes);
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) mpz_init(a[i]);
    return a;
}

static void mpz_array_free(mpz_t *a, size_t n)
{
    if (!a) return;
    for (size_t i = 0; i < n; i++) mpz_clear(a[i]);
    he_free(a);
}

static void addsi(mpz_t r, int64_t v)
{
    if (v >= 0) mpz_add_ui(r, r, (unsigned long)v);
    else mpz_sub_ui(r, r, (unsigned long)(-(v + 1)) + 1ul);
}

he_ivhe_ct *he_ivhe_ct_new(unsigned dim)
{
    he_ivhe_ct *c = he_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (he_ivhe_ct_resize(c, dim) < 0) {
        he_free(c);
        return NULL;
    }
    return c;
}

void he_ivhe_ct_free(he_ivhe_ct *c)
{
    if (!c) return;
    mpz_array_free(c->c, c->cap);
    he_free(c);
}

int he_ivhe_ct_resize(he_ivhe_ct *c, unsigned dim)
{
    if (!c) he_misuse("he_ivhe_ct_resize: NULL");
    if (dim > HE_IVHE_MAX_DIM_LIMIT * (unsigned)HE_IVHE_MAX_DIM_LIMIT)
        return he_error("ivhe: ciphertext dimension %u too large", dim);
    unsigned need = dim + 1;
    if (need > c->cap) {
        unsigned ncap = c->cap ? c->cap : 2;
        while (ncap < need) ncap *= 2;
        mpz_t *a = he_realloc(c->c, (size_t)ncap * sizeof(mpz_t));
        if (!a) return -1;
        for (unsigned i = c->cap; i < ncap; i++) mpz_init(a[i]);
        c->c = a;
        c->cap = ncap;
    }
    for (unsigned i = c->dim + 1; i < need && c->dim < dim; i++) mpz_set_ui(c->c[i], 0);
    c->dim = dim;
    return 0;
}

int he_ivhe_ct_copy(he_ivhe_ct *dst, const he_ivhe_ct *src)
{
    if (!dst || !src) he_misuse("he_ivhe_ct_copy: NULL");
    if (dst == src) return 0;
    if (he_ivhe_ct_resize(dst, src->dim) < 0) return -1;
    for (unsigned i = 0; i <= src->dim; i++) mpz_set(dst->c[i], src->c[i]);
    return 0;
}

size_t he_ivhe_ct_bits(const he_ivhe_ct *c)
{
    size_t b = 0;
    for (unsigned i = 0; i <= c->dim; i++) {
        size_t s = mpz_sgn(c->c[i]) ? mpz_sizeinbase(c->c[i], 2) : 0;
        if (s > b) b = s;
    }
    return b;
}

/* ------------------------------------------------------------------------ */
/* keys                                                                     */

static const int64_t *Tm(const he_ivhe_key *k, unsigned m) { return k->T + (size_t)m * (m - 1) / 2; }

static void ksk_free(he_ivhe_ksk *M)
{
    if (!M) return;
    mpz_array_free(M->m, (size_t)M->rows * M->n_src * M->l);
    he_free(M);
}

void he_ivhe_ksk_free(he_ivhe_ksk *M) { ksk_free(M); }

static void cache_free(he_ivhe_ksk **a, size_t n)
{
    if (!a) return;
    for (size_t i = 0; i < n; i++) ksk_free(a[i]);
    he_free(a);
}

void he_ivhe_key_free(he_ivhe_key *k)
{
    if (!k) return;
    size_t nd = (size_t)k->p.max_dim + 1;
    cache_free(k->enc, nd);
    cache_free(k->ip, nd);
    cache_free(k->elem, nd);
    cache_free(k->smul, nd);
    cache_free(k->pack, nd);
    cache_free(k->sum, nd);
    cache_free(k->extract, nd * nd);
    if (k->T) he_free_secret(k->T, k->n_T * sizeof(int64_t));
    if (k->tt) he_free_secret(k->tt, nd * sizeof(int64_t));
    mpz_clear(k->w);
    mpz_clear(k->whalf);
    mpz_clear(k->D);
    mpz_clear(k->Dh);
    mpz_clear(k->tmp);
    mpz_array_free(k->z, k->zcap);
    he_ivhe_ct_free(k->acc);
    if (k->sc) {
        for (size_t i = 0; i < k->sccap; i++) he_ivhe_ct_free(k->sc[i]);
        he_free(k->sc);
    }
    for (size_t i = 0; i < sizeof k->pw / sizeof k->pw[0]; i++) he_ivhe_ct_free(k->pw[i]);
    he_memzero(k, sizeof *k);
    he_free(k);
}

he_ivhe_key *he_ivhe_key_new(const he_ivhe_params *p)
{
    if (!p) he_misuse("he_ivhe_key_new: NULL params");
    if (he_ivhe_params_check(p) < 0) return NULL;
    he_ivhe_key *k = he_calloc(1, sizeof *k);
    if (!k) return NULL;
    k->p = *p;
    mpz_init(k->w);
    mpz_init(k->whalf);
    mpz_init(k->D);
    mpz_init(k->Dh);
    mpz_init(k->tmp);
    mpz_set_ui(k->w, (unsigned long)p->w);
    mpz_fdiv_q_2exp(k->whalf, k->w, 1);
    k->Dd = 0;
    size_t nd = (size_t)p->max_dim + 1;
    k->n_T = (size_t)p->max_dim * (p->max_dim + 1) / 2;
    k->T = he_calloc(k->n_T, sizeof(int64_t));
    k->tt = he_calloc(nd, sizeof(int64_t));
    k->enc = he_calloc(nd, sizeof *k->enc);
    k->ip = he_calloc(nd, sizeof *k->ip);
    k->elem = he_calloc(nd, sizeof *k->elem);
    k->smul = he_calloc(nd, sizeof *k->smul);
    k->pack = he_calloc(nd, sizeof *k->pack);
    k->sum = he_calloc(nd, sizeof *k->sum);
    k->extract = he_calloc(nd * nd, sizeof *k->extract);
    k->acc = he_ivhe_ct_new(1);
    if (!k->T || !k->tt || !k->enc || !k->ip || !k->elem || !k->smul || !k->pack || !k->sum || !k->extract ||
        !k->acc) {
        he_ivhe_key_free(k);
        return NULL;
    }
    he_randombytes(k->id, sizeof k->id);
    sampler s;
    sampler_init(&s);
    for (unsigned m = 1; m <= p->max_dim; m++) {
        int64_t *t = k->T + (size_t)m * (m - 1) / 2, sum = 0;
        for (unsigned i = 0; i < m; i++) {
            int64_t v = 1 + (int64_t)sampler_uniform(&s, p->t_bound);
            t[i] = (sampler_u32(&s) & 1) ? -v : v;
            sum += t[i] * t[i];
        }
        k->tt[m] = sum;
    }
    he_memzero(&s, sizeof s);
    return k;
}

const he_ivhe_params *he_ivhe_key_params(const he_ivhe_key *k) { return &k->p; }

int he_ivhe_secret(const he_ivhe_key *k, unsigned dim, mpz_t *S)
{
    if (!k || !S) he_misuse("he_ivhe_secret: NULL");
    if (dim < 1 || dim > k->p.max_dim)
        return he_error("ivhe: dimension %u outside [1, %u]", dim, k->p.max_dim);
    const int64_t *t = Tm(k, dim);
    for (unsigned r = 0; r < dim; r++) {
        for (unsigned c = 0; c < dim; c++) mpz_set_ui(S[r * (dim + 1) + c], r == c);
        mpz_set_si(S[r * (dim + 1) + dim], (long)t[r]);
    }
    return 0;
}

/* M = [S* + E - T A ; A] from the source key S (m x n, row-major) to S_m. */
static he_ivhe_ksk *ksk_make(he_ivhe_key *k, const mpz_t *S, unsigned m, unsigned n)
{
    if (m < 1 || m > k->p.max_dim)
        return he_error("ivhe: target dimension %u outside [1, %u]", m, k->p.max_dim), NULL;
    if (n < 1) return he_error("ivhe: empty source key"), NULL;
    unsigned l = k->p.l, R = m + 1;
    size_t cells, total;
    if (he_mul_size((size_t)n, l, &cells) < 0 || he_mul_size(cells, R, &total) < 0) return NULL;
    he_ivhe_ksk *M = he_calloc(1, sizeof *M);
    if (!M) return NULL;
    M->m = mpz_array_new(total);
    if (!M->m) {
        he_free(M);
        return NULL;
    }
    M->rows = R;
    M->n_src = n;
    M->l = l;
    const int64_t *t = Tm(k, m);
    sampler s;
    sampler_init(&s);
    for (unsigned i = 0; i < n; i++)
        for (unsigned b = 0; b < l; b++) {
            mpz_t *col = M->m + ((size_t)i * l + b) * R;
            int64_t a = sampler_sym(&s, k->p.a_bound);
            for (unsigned r = 0; r < m; r++) {
                mpz_mul_2exp(col[r], S[(size_t)r * n + i], b);
                addsi(col[r], sampler_sym(&s, k->p.e_bound) - t[r] * a);
            }
            mpz_set_si(col[m], (long)a);
        }
    he_memzero(&s, sizeof s);
    return M;
}

he_ivhe_ksk *he_ivhe_ksk_new(he_ivhe_key *k, const mpz_t *Ssrc, unsigned rows, unsigned cols)
{
    if (!k || !Ssrc) he_misuse("he_ivhe_ksk_new: NULL");
    return ksk_make(k, Ssrc, rows, cols);
}

/* Builds a source key (rows x cols, zeroed) and fills it through fill(). */
typedef void (*src_fill)(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg);

static he_ivhe_ksk *ksk_from(he_ivhe_key *k, unsigned rows, unsigned cols, src_fill fill, unsigned m,
                             unsigned arg)
{
    size_t n;
    if (he_mul_size(rows, cols, &n) < 0) return NULL;
    mpz_t *S = mpz_array_new(n);
    if (!S) return NULL;
    fill(k, S, m, arg);
    he_ivhe_ksk *M = ksk_make(k, S, rows, cols);
    mpz_array_free(S, n); /* wiped by the GMP free hook */
    return M;
}

/* enc[m]: [I_m, 0] (m x (m+1)); the last source entry is a random pad. */
static void fill_enc(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)k, (void)arg;
    for (unsigned r = 0; r < m; r++) mpz_set_ui(S[(size_t)r * (m + 1) + r], 1);
}

/* ip[m]: 1 x (m+2): [1, T_1..T_m, |T|^2] against
** z = (sum a_j b_j, a_j b_m + a_m b_j (j < m), a_m b_m). */
static void fill_ip(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)arg;
    const int64_t *t = Tm(k, m);
    mpz_set_ui(S[0], 1);
    for (unsigned j = 0; j < m; j++) mpz_set_si(S[1 + j], (long)t[j]);
    mpz_set_si(S[m + 1], (long)k->tt[m]);
}

/* elem[m]: m x (2m+1), row j: 1 at j, T_j at m+j, T_j^2 at 2m against
** z = (a_j b_j, a_j b_m + a_m b_j, a_m b_m). */
static void fill_elem(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)arg;
    const int64_t *t = Tm(k, m);
    size_t n = 2 * (size_t)m + 1;
    for (unsigned j = 0; j < m; j++) {
        mpz_set_ui(S[j * n + j], 1);
        mpz_set_si(S[j * n + m + j], (long)t[j]);
        mpz_set_si(S[j * n + 2 * m], (long)(t[j] * t[j]));
    }
}

/* smul[m]: scalar s = (s0, s1) under [1, t], vector v under S_m;
** m x (2m+2), row j: 1 at j, t at m+j, T_j at 2m, t T_j at 2m+1 against
** z = (s0 v_j, s1 v_j, s0 v_m, s1 v_m). */
static void fill_smul(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)arg;
    const int64_t *t = Tm(k, m);
    int64_t t1 = Tm(k, 1)[0];
    size_t n = 2 * (size_t)m + 2;
    for (unsigned j = 0; j < m; j++) {
        mpz_set_ui(S[j * n + j], 1);
        mpz_set_si(S[j * n + m + j], (long)t1);
        mpz_set_si(S[j * n + 2 * m], (long)t[j]);
        mpz_set_si(S[j * n + 2 * m + 1], (long)(t1 * t[j]));
    }
}

/* pack[n]: n x 2n, row i: 1 at 2i, t at 2i+1 (blockdiag of S_1). */
static void fill_pack(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)arg;
    int64_t t1 = Tm(k, 1)[0];
    for (unsigned i = 0; i < m; i++) {
        mpz_set_ui(S[(size_t)i * 2 * m + 2 * i], 1);
        mpz_set_si(S[(size_t)i * 2 * m + 2 * i + 1], (long)t1);
    }
}

/* extract[m][j]: 1 x (m+1): e_j' S_m = (e_j, T_j). */
static void fill_extract(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned j)
{
    mpz_set_ui(S[j], 1);
    mpz_set_si(S[m], (long)Tm(k, m)[j]);
}

/* sum[m]: 1 x (m+1): 1' S_m = (1, ..., 1, sum T). */
static void fill_sum(const he_ivhe_key *k, mpz_t *S, unsigned m, unsigned arg)
{
    (void)arg;
    const int64_t *t = Tm(k, m);
    int64_t st = 0;
    for (unsigned j = 0; j < m; j++) {
        mpz_set_ui(S[j], 1);
        st += t[j];
    }
    mpz_set_si(S[m], (long)st);
}

static int check_dim(const he_ivhe_key *k, unsigned m)
{
    if (m < 1 || m > k->p.max_dim)
        return he_error("ivhe: dimension %u outside [1, %u] (raise max_dim)", m, k->p.max_dim);
    return 0;
}

static he_ivhe_ksk *get_enc(he_ivhe_key *k, unsigned m)
{
    if (!k->enc[m]) k->enc[m] = ksk_from(k, m, m + 1, fill_enc, m, 0);
    return k->enc[m];
}
static he_ivhe_ksk *get_ip(he_ivhe_key *k, unsigned m)
{
    if (!k->ip[m]) k->ip[m] = ksk_from(k, 1, m + 2, fill_ip, m, 0);
    return k->ip[m];
}
static he_ivhe_ksk *get_elem(he_ivhe_key *k, unsigned m)
{
    if (!k->elem[m]) k->elem[m] = ksk_from(k, m, 2 * m + 1, fill_elem, m, 0);
    return k->elem[m];
}
static he_ivhe_ksk *get_smul(he_ivhe_key *k, unsigned m)
{
    if (!k->smul[m]) k->smul[m] = ksk_from(k, m, 2 * m + 2, fill_smul, m, 0);
    return k->smul[m];
}
static he_ivhe_ksk *get_pack(he_ivhe_key *k, unsigned m)
{
    if (!k->pack[m]) k->pack[m] = ksk_from(k, m, 2 * m, fill_pack, m, 0);
    return k->pack[m];
}
static he_ivhe_ksk *get_sum(he_ivhe_key *k, unsigned m)
{
    if (!k->sum[m]) k->sum[m] = ksk_from(k, 1, m + 1, fill_sum, m, 0);
    return k->sum[m];
}
static he_ivhe_ksk *get_extract(he_ivhe_key *k, unsigned m, unsigned j)
{
    size_t i = (size_t)m * (k->p.max_dim + 1) + j;
    if (!k->extract[i]) k->extract[i] = ksk_from(k, 1, m + 1, fill_extract, m, j);
    return k->extract[i];
}

int he_ivhe_key_precompute(he_ivhe_key *k)
{
    if (!k) he_misuse("he_ivhe_key_precompute: NULL");
    for (unsigned m = 1; m <= k->p.max_dim; m++) {
        if (!get_enc(k, m) || !get_ip(k, m) || !get_elem(k, m) || !get_smul(k, m) || !get_pack(k, m) ||
            !get_sum(k, m))
            return -1;
        for (unsigned j = 0; j < m; j++)
            if (!get_extract(k, m, j)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* the kernel: acc = M c*                                                   */

static int ksk_mul(const he_ivhe_ksk *M, mpz_t *acc, const mpz_t *src)
{
    unsigned R = M->rows, l = M->l;
    for (unsigned r = 0; r < R; r++) mpz_set_ui(acc[r], 0);
    for (unsigned i = 0; i < M->n_src; i++) {
        int s = mpz_sgn(src[i]);
        if (!s) continue;
        if (mpz_sizeinbase(src[i], 2) > l)
            return he_error("ivhe: a ciphertext entry has %zu bits, more than l = %u "
                            "(values too large for the parameters; raise l)",
                            mpz_sizeinbase(src[i], 2), l);
        const mpz_t *base = M->m + (size_t)i * l * R;
        size_t nl = mpz_size(src[i]);
        for (size_t q = 0; q < nl; q++) {
            unsigned long long limb = mpz_getlimbn(src[i], (mp_size_t)q);
            while (limb) {
                unsigned bit = (unsigned)__builtin_ctzll(limb);
                limb &= limb - 1;
                const mpz_t *col = base + (q * GMP_NUMB_BITS + bit) * R;
                if (s > 0)
                    for (unsigned r = 0; r < R; r++) mpz_add(acc[r], acc[r], col[r]);
                else
                    for (unsigned r = 0; r < R; r++) mpz_sub(acc[r], acc[r], col[r]);
            }
        }
    }
    return 0;
}

/* Switches src (M->n_src entries, not aliasing out) into out. */
static int ksk_into(const he_ivhe_ksk *M, he_ivhe_ct *out, const mpz_t *src)
{
    if (he_ivhe_ct_resize(out, M->rows - 1) < 0) return -1;
    return ksk_mul(M, out->c, src);
}

/* Switches the workspace vector k->z into out through k->acc (so out may
** alias the ciphertexts z was formed from). */
static int ksk_ws(he_ivhe_key *k, const he_ivhe_ksk *M, he_ivhe_ct *out)
{
    if (ksk_into(M, k->acc, (const mpz_t *)k->z) < 0) return -1;
    if (he_ivhe_ct_resize(out, M->rows - 1) < 0) return -1;
    for (unsigned r = 0; r < M->rows; r++) mpz_swap(out->c[r], k->acc->c[r]);
    return 0;
}

int he_ivhe_ksk_apply(const he_ivhe_ksk *M, he_ivhe_ct *out, const mpz_t *src, unsigned n)
{
    if (!M || !out || !src) he_misuse("he_ivhe_ksk_apply: NULL");
    if (n != M->n_src)
        return he_error("ivhe: switching matrix expects %u source entries, got %u", M->n_src, n);
    if (out->c != src && (out->cap == 0 || src < out->c || src >= out->c + out->cap))
        return ksk_into(M, out, src);
    he_ivhe_ct *t = he_ivhe_ct_new(M->rows - 1);
    if (!t) return -1;
    int rc = ksk_mul(M, t->c, src);
    if (rc == 0) rc = he_ivhe_ct_copy(out, t);
    he_ivhe_ct_free(t);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* workspace helpers                                                        */

static int ws_z(he_ivhe_key *k, size_t n)
{
    if (n <= k->zcap) return 0;
    size_t ncap = k->zcap ? k->zcap : 16;
    while (ncap < n) ncap *= 2;
    mpz_t *a = he_realloc(k->z, ncap * sizeof(mpz_t));
    if (!a) return -1;
    for (size_t i = k->zcap; i < ncap; i++) mpz_init(a[i]);
    k->z = a;
    k->zcap = ncap;
    return 0;
}

static int ws_sc(he_ivhe_key *k, size_t n)
{
    if (n <= k->sccap) return 0;
    he_ivhe_ct **a = he_realloc(k->sc, n * sizeof *a);
    if (!a) return -1;
    k->sc = a;
    for (size_t i = k->sccap; i < n; i++) {
        a[i] = he_ivhe_ct_new(1);
        if (!a[i]) {
            k->sccap = i;
            return -1;
        }
    }
    k->sccap = n;
    return 0;
}

/* D = w d; rounding division of z by D. */
static int set_div(he_ivhe_key *k, int64_t d)
{
    if (d < 1) return he_error("ivhe: divisor must be >= 1, got %lld", (long long)d);
    if (k->Dd == d) return 0;
    mpz_mul_ui(k->D, k->w, (unsigned long)d);
    mpz_fdiv_q_2exp(k->Dh, k->D, 1);
    k->Dshift = -1;
    if (mpz_popcount(k->D) == 1) k->Dshift = (long)mpz_scan1(k->D, 0);
    k->Dd = d;
    return 0;
}

static void rdiv(he_ivhe_key *k, mpz_t z)
{
    mpz_add(z, z, k->Dh);
    if (k->Dshift >= 0) mpz_fdiv_q_2exp(z, z, (mp_bitcnt_t)k->Dshift);
    else mpz_fdiv_q(z, z, k->D);
}

static int check_ct(const he_ivhe_key *k, const he_ivhe_ct *c, const char *what)
{
    if (!c) he_misuse(what);
    return check_dim(k, c->dim);
}

/* ------------------------------------------------------------------------ */
/* encryption and decryption                                                */

int he_ivhe_encrypt(he_ivhe_key *k, he_ivhe_ct *out, const mpz_t *x, unsigned dim)
{
    if (!k || !out || (!x && dim)) he_misuse("he_ivhe_encrypt: NULL");
    if (check_dim(k, dim) < 0 || ws_z(k, dim + 1) < 0) return -1;
    he_ivhe_ksk *M = get_enc(k, dim);
    if (!M) return -1;
    for (unsigned i = 0; i < dim; i++) mpz_mul(k->z[i], x[i], k->w);
    /* random pad of l - 1 bits: randomises c and the noise E c* */
    size_t nb = (k->p.l - 1 + 7) / 8;
    uint8_t buf[512];
    he_randombytes(buf, nb);
    mpz_import(k->z[dim], nb, 1, 1, 0, 0, buf);
    he_memzero(buf, nb);
    mpz_fdiv_r_2exp(k->z[dim], k->z[dim], k->p.l - 1);
    int rc = ksk_ws(k, M, out);
    /* the workspace held w x: wipe its limbs (setting 0 would keep them) */
    for (unsigned i = 0; i <= dim; i++) {
        size_t nl = mpz_size(k->z[i]);
        if (nl) {
            he_memzero(mpz_limbs_modify(k->z[i], (mp_size_t)nl), nl * sizeof(mp_limb_t));
            mpz_limbs_finish(k->z[i], 0);
        }
    }
    return rc;
}

int he_ivhe_encrypt_i64(he_ivhe_key *k, he_ivhe_ct *out, const int64_t *x, unsigned dim)
{
    if (!k || !out || (!x && dim)) he_misuse("he_ivhe_encrypt_i64: NULL");
    if (check_dim(k, dim) < 0) return -1;
    mpz_t *v = mpz_array_new(dim);
    if (!v) return -1;
    for (unsigned i = 0; i < dim; i++) mpz_set_si(v[i], (long)x[i]);
    int rc = he_ivhe_encrypt(k, out, (const mpz_t *)v, dim);
    mpz_array_free(v, dim);
    return rc;
}

int he_ivhe_encrypt_fixed(he_ivhe_key *k, he_ivhe_ct *out, const double *x, unsigned dim)
{
    if (!k || !out || (!x && dim)) he_misuse("he_ivhe_encrypt_fixed: NULL");
    if (check_dim(k, dim) < 0) return -1;
    mpz_t *v = mpz_array_new(dim);
    if (!v) return -1;
    int rc = 0;
    for (unsigned i = 0; i < dim && rc == 0; i++) {
        double s = x[i] * (double)k->p.scale;
        if (!isfinite(s)) rc = he_error("ivhe: cannot encode %g", x[i]);
        else mpz_set_d(v[i], nearbyint(s));
    }
    if (rc == 0) rc = he_ivhe_encrypt(k, out, (const mpz_t *)v, dim);
    mpz_array_free(v, dim);
    return rc;
}

int he_ivhe_ones(he_ivhe_key *k, he_ivhe_ct *out, unsigned dim, int64_t value)
{
    if (check_dim(k, dim) < 0) return -1;
    int64_t x[HE_IVHE_MAX_DIM_LIMIT];
    for (unsigned i = 0; i < dim; i++) x[i] = value;
    return he_ivhe_encrypt_i64(k, out, x, dim);
}

int he_ivhe_onehot(he_ivhe_key *k, he_ivhe_ct *out, unsigned dim, unsigned j, int64_t value)
{
    if (check_dim(k, dim) < 0) return -1;
    if (j >= dim) return he_error("ivhe: one-hot index %u outside dimension %u", j, dim);
    int64_t x[HE_IVHE_MAX_DIM_LIMIT];
    for (unsigned i = 0; i < dim; i++) x[i] = i == j ? value : 0;
    return he_ivhe_encrypt_i64(k, out, x, dim);
}

/* v = (S c)_j */
static void sc_entry(const he_ivhe_key *k, const he_ivhe_ct *c, unsigned j, mpz_t v)
{
    int64_t t = Tm(k, c->dim)[j];
    mpz_mul_si(v, c->c[c->dim], (long)t);
    mpz_add(v, v, c->c[j]);
}

int he_ivhe_decrypt(const he_ivhe_key *k, const he_ivhe_ct *c, mpz_t *x)
{
    if (!k || !c || !x) he_misuse("he_ivhe_decrypt: NULL");
    if (check_dim(k, c->dim) < 0) return -1;
    mpz_t v;
    mpz_init(v);
    for (unsigned j = 0; j < c->dim; j++) {
        sc_entry(k, c, j, v);
        mpz_add(v, v, k->whalf);
        mpz_fdiv_q(x[j], v, k->w);
    }
    mpz_clear(v);
    return 0;
}

int he_ivhe_decrypt_i64(const he_ivhe_key *k, const he_ivhe_ct *c, int64_t *x)
{
    if (!k || !c || !x) he_misuse("he_ivhe_decrypt_i64: NULL");
    if (check_dim(k, c->dim) < 0) return -1;
    mpz_t *v = mpz_array_new(c->dim);
    if (!v) return -1;
    int rc = he_ivhe_decrypt(k, c, v);
    for (unsigned j = 0; j < c->dim && rc == 0; j++) {
        if (!mpz_fits_slong_p(v[j])) rc = he_error("ivhe: decrypted value does not fit in 64 bits");
        else x[j] = mpz_get_si(v[j]);
    }
    mpz_array_free(v, c->dim);
    return rc;
}

int he_ivhe_decrypt_fixed(const he_ivhe_key *k, const he_ivhe_ct *c, double *x)
{
    if (!k || !c || !x) he_misuse("he_ivhe_decrypt_fixed: NULL");
    if (check_dim(k, c->dim) < 0) return -1;
    mpz_t *v = mpz_array_new(c->dim);
    if (!v) return -1;
    int rc = he_ivhe_decrypt(k, c, v);
    for (unsigned j = 0; j < c->dim && rc == 0; j++) x[j] = mpz_get_d(v[j]) / (double)k->p.scale;
    mpz_array_free(v, c->dim);
    return rc;
}

int he_ivhe_noise(const he_ivhe_key *k, const he_ivhe_ct *c, double *noise)
{
    if (!k || !c || !noise) he_misuse("he_ivhe_noise: NULL");
    if (check_dim(k, c->dim) < 0) return -1;
    mpz_t v, q;
    mpz_init(v);
    mpz_init(q);
    double mx = 0;
    for (unsigned j = 0; j < c->dim; j++) {
        sc_entry(k, c, j, v);
        mpz_add(q, v, k->whalf);
        mpz_fdiv_q(q, q, k->w);
        mpz_submul(v, q, k->w);
        double a = fabs(mpz_get_d(v));
        if (a > mx) mx = a;
    }
    mpz_clear(v);
    mpz_clear(q);
    *noise = mx;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* published primitives: linear transformation, weighted inner product     */

he_ivhe_ksk *he_ivhe_lintrans_key(he_ivhe_key *k, const mpz_t *G, unsigned rows, unsigned dim)
{
    if (!k || !G) he_misuse("he_ivhe_lintrans_key: NULL");
    if (check_dim(k, rows) < 0 || check_dim(k, dim) < 0) return NULL;
    size_t n = (size_t)rows * (dim + 1);
    mpz_t *S = mpz_array_new(n);
    if (!S) return NULL;
    const int64_t *t = Tm(k, dim);
    mpz_t g;
    mpz_init(g);
    for (unsigned r = 0; r < rows; r++)
        for (unsigned i = 0; i < dim; i++) {
            mpz_set(S[r * (dim + 1) + i], G[(size_t)r * dim + i]);
            mpz_mul_si(g, G[(size_t)r * dim + i], (long)t[i]);
            mpz_add(S[r * (dim + 1) + dim], S[r * (dim + 1) + dim], g);
        }
    mpz_clear(g);
    he_ivhe_ksk *M = ksk_make(k, (const mpz_t *)S, rows, dim + 1);
    mpz_array_free(S, n);
    return M;
}

int he_ivhe_lintrans(const he_ivhe_ksk *M, he_ivhe_ct *out, const he_ivhe_ct *c)
{
    if (!M || !out || !c) he_misuse("he_ivhe_lintrans: NULL");
    if (c->dim + 1 != M->n_src)
        return he_error("ivhe: linear transformation expects dimension %u, got %u", M->n_src - 1, c->dim);
    return he_ivhe_ksk_apply(M, out, (const mpz_t *)c->c, c->dim + 1);
}

he_ivhe_ksk *he_ivhe_weighted_inner_key(he_ivhe_key *k, const mpz_t *H, unsigned dim)
{
    if (!k || !H) he_misuse("he_ivhe_weighted_inner_key: NULL");
    if (check_dim(k, dim) < 0) return NULL;
    unsigned m = dim, n = m + 1;
    mpz_t *S = mpz_array_new((size_t)m * n), *HS = mpz_array_new((size_t)m * n),
          *K = mpz_array_new((size_t)n * n);
    he_ivhe_ksk *M = NULL;
    if (S && HS && K && he_ivhe_secret(k, m, S) == 0) {
        /* HS = H S (m x n) */
        for (unsigned a = 0; a < m; a++)
            for (unsigned q = 0; q < n; q++)
                for (unsigned b = 0; b < m; b++)
                    mpz_addmul(HS[a * n + q], H[(size_t)a * m + b], S[b * n + q]);
        /* K = S' (H S) (n x n); vec row-major: K[p n + q] pairs a_p b_q */
        for (unsigned p = 0; p < n; p++)
            for (unsigned q = 0; q < n; q++)
                for (unsigned a = 0; a < m; a++)
                    mpz_addmul(K[p * n + q], S[a * n + p], HS[a * n + q]);
        M = ksk_make(k, (const mpz_t *)K, 1, n * n);
    }
    mpz_array_free(S, S ? (size_t)m * n : 0);
    mpz_array_free(HS, HS ? (size_t)m * n : 0);
    mpz_array_free(K, K ? (size_t)n * n : 0);
    return M;
}

int he_ivhe_weighted_inner(he_ivhe_key *k, const he_ivhe_ksk *M, he_ivhe_ct *out, const he_ivhe_ct *a,
                           const he_ivhe_ct *b, int64_t d)
{
    if (!k || !M || !out || !a || !b) he_misuse("he_ivhe_weighted_inner: NULL");
    if (a->dim != b->dim) return he_error("ivhe: inner product of dimensions %u and %u", a->dim, b->dim);
    unsigned n = a->dim + 1;
    if ((size_t)n * n != M->n_src || M->rows != 2)
        return he_error("ivhe: weighted inner product key is for another dimension");
    if (set_div(k, d) < 0 || ws_z(k, (size_t)n * n) < 0) return -1;
    for (unsigned p = 0; p < n; p++)
        for (unsigned q = 0; q < n; q++) {
            mpz_mul(k->z[p * n + q], a->c[p], b->c[q]);
            rdiv(k, k->z[p * n + q]);
        }
    return ksk_ws(k, M, out);
}

/* ------------------------------------------------------------------------ */
/* linear arithmetic                                                        */

static int same_dim(const he_ivhe_ct *a, const he_ivhe_ct *b)
{
    if (a->dim != b->dim) return he_error("ivhe: dimensions differ (%u and %u)", a->dim, b->dim);
    return 0;
}

int he_ivhe_add(he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b)
{
    if (!out || !a || !b) he_misuse("he_ivhe_add: NULL");
    if (same_dim(a, b) < 0 || he_ivhe_ct_resize(out, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_add(out->c[i], a->c[i], b->c[i]);
    return 0;
}

int he_ivhe_sub(he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b)
{
    if (!out || !a || !b) he_misuse("he_ivhe_sub: NULL");
    if (same_dim(a, b) < 0 || he_ivhe_ct_resize(out, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_sub(out->c[i], a->c[i], b->c[i]);
    return 0;
}

int he_ivhe_neg(he_ivhe_ct *out, const he_ivhe_ct *a)
{
    if (!out || !a) he_misuse("he_ivhe_neg: NULL");
    if (he_ivhe_ct_resize(out, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_neg(out->c[i], a->c[i]);
    return 0;
}

int he_ivhe_mul_si(he_ivhe_ct *out, const he_ivhe_ct *a, int64_t s)
{
    if (!out || !a) he_misuse("he_ivhe_mul_si: NULL");
    if (he_ivhe_ct_resize(out, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_mul_si(out->c[i], a->c[i], (long)s);
    return 0;
}

static void rdiv_ui(mpz_t z, int64_t den)
{
    mpz_add_ui(z, z, (unsigned long)den / 2);
    mpz_fdiv_q_ui(z, z, (unsigned long)den);
}

int he_ivhe_mul_frac(he_ivhe_ct *out, const he_ivhe_ct *a, int64_t num, int64_t den)
{
    if (!out || !a) he_misuse("he_ivhe_mul_frac: NULL");
    if (den < 1) return he_error("ivhe: denominator must be >= 1, got %lld", (long long)den);
    if (he_ivhe_ct_resize(out, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) {
        mpz_mul_si(out->c[i], a->c[i], (long)num);
        if (den > 1) rdiv_ui(out->c[i], den);
    }
    return 0;
}

int he_ivhe_add_plain(const he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const int64_t *x)
{
    if (!k || !out || !a || !x) he_misuse("he_ivhe_add_plain: NULL");
    if (he_ivhe_ct_copy(out, a) < 0) return -1;
    for (unsigned i = 0; i < a->dim; i++) {
        if (x[i] >= 0) mpz_addmul_ui(out->c[i], k->w, (unsigned long)x[i]);
        else mpz_submul_ui(out->c[i], k->w, (unsigned long)(-(x[i] + 1)) + 1ul);
    }
    return 0;
}

int he_ivhe_add_scalar(const he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, int64_t v)
{
    if (!k || !out || !a) he_misuse("he_ivhe_add_scalar: NULL");
    if (he_ivhe_ct_copy(out, a) < 0) return -1;
    for (unsigned i = 0; i < a->dim; i++) {
        if (v >= 0) mpz_addmul_ui(out->c[i], k->w, (unsigned long)v);
        else mpz_submul_ui(out->c[i], k->w, (unsigned long)(-(v + 1)) + 1ul);
    }
    return 0;
}

int he_ivhe_lincomb(he_ivhe_ct *out, const he_ivhe_ct *const *rows, const int64_t *coef, unsigned n,
                    int64_t d)
{
    if (!out || (!rows && n) || (!coef && n)) he_misuse("he_ivhe_lincomb: NULL");
    if (n == 0) return he_error("ivhe: linear combination of no rows");
    if (d < 1) return he_error("ivhe: divisor must be >= 1, got %lld", (long long)d);
    unsigned dim = rows[0]->dim;
    int alias = 0;
    for (unsigned i = 0; i < n; i++) {
        if (rows[i]->dim != dim) return he_error("ivhe: rows of different dimensions");
        if (rows[i] == out) alias = 1;
    }
    he_ivhe_ct *acc = alias ? he_ivhe_ct_new(dim) : out;
    if (!acc || he_ivhe_ct_resize(acc, dim) < 0) {
        if (alias) he_ivhe_ct_free(acc);
        return -1;
    }
    for (unsigned j = 0; j <= dim; j++) mpz_set_ui(acc->c[j], 0);
    for (unsigned i = 0; i < n; i++) {
        int64_t c = coef[i];
        if (c == 0) continue;
        for (unsigned j = 0; j <= dim; j++) {
            if (c == 1) mpz_add(acc->c[j], acc->c[j], rows[i]->c[j]);
            else if (c == -1) mpz_sub(acc->c[j], acc->c[j], rows[i]->c[j]);
            else if (c > 0) mpz_addmul_ui(acc->c[j], rows[i]->c[j], (unsigned long)c);
            else mpz_submul_ui(acc->c[j], rows[i]->c[j], (unsigned long)(-(c + 1)) + 1ul);
        }
    }
    if (d > 1)
        for (unsigned j = 0; j <= dim; j++) rdiv_ui(acc->c[j], d);
    int rc = 0;
    if (alias) {
        rc = he_ivhe_ct_copy(out, acc);
        he_ivhe_ct_free(acc);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* products of ciphertexts                                                  */

int he_ivhe_inner(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b, int64_t d)
{
    if (!k || !out) he_misuse("he_ivhe_inner: NULL");
    if (check_ct(k, a, "he_ivhe_inner: NULL a") < 0 || check_ct(k, b, "he_ivhe_inner: NULL b") < 0 ||
        same_dim(a, b) < 0)
        return -1;
    unsigned m = a->dim;
    he_ivhe_ksk *M = get_ip(k, m);
    if (!M || set_div(k, d) < 0 || ws_z(k, m + 2) < 0) return -1;
    mpz_t *z = k->z;
    mpz_mul(z[0], a->c[0], b->c[0]);
    for (unsigned j = 1; j < m; j++) mpz_addmul(z[0], a->c[j], b->c[j]);
    rdiv(k, z[0]);
    for (unsigned j = 0; j < m; j++) {
        mpz_mul(z[1 + j], a->c[j], b->c[m]);
        mpz_addmul(z[1 + j], a->c[m], b->c[j]);
        rdiv(k, z[1 + j]);
    }
    mpz_mul(z[m + 1], a->c[m], b->c[m]);
    rdiv(k, z[m + 1]);
    return ksk_ws(k, M, out);
}

int he_ivhe_mul_elem(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const he_ivhe_ct *b, int64_t d)
{
    if (!k || !out) he_misuse("he_ivhe_mul_elem: NULL");
    if (check_ct(k, a, "he_ivhe_mul_elem: NULL a") < 0 || check_ct(k, b, "he_ivhe_mul_elem: NULL b") < 0 ||
        same_dim(a, b) < 0)
        return -1;
    unsigned m = a->dim;
    he_ivhe_ksk *M = get_elem(k, m);
    if (!M || set_div(k, d) < 0 || ws_z(k, 2 * (size_t)m + 1) < 0) return -1;
    mpz_t *z = k->z;
    for (unsigned j = 0; j < m; j++) {
        mpz_mul(z[j], a->c[j], b->c[j]);
        rdiv(k, z[j]);
        mpz_mul(z[m + j], a->c[j], b->c[m]);
        mpz_addmul(z[m + j], a->c[m], b->c[j]);
        rdiv(k, z[m + j]);
    }
    mpz_mul(z[2 * m], a->c[m], b->c[m]);
    rdiv(k, z[2 * m]);
    return ksk_ws(k, M, out);
}

int he_ivhe_mul_scalar(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *s, const he_ivhe_ct *v, int64_t d)
{
    if (!k || !out) he_misuse("he_ivhe_mul_scalar: NULL");
    if (check_ct(k, s, "he_ivhe_mul_scalar: NULL s") < 0 || check_ct(k, v, "he_ivhe_mul_scalar: NULL v") < 0)
        return -1;
    if (s->dim != 1) return he_error("ivhe: scalar expected (dimension 1), got dimension %u", s->dim);
    unsigned m = v->dim;
    he_ivhe_ksk *M = get_smul(k, m);
    if (!M || set_div(k, d) < 0 || ws_z(k, 2 * (size_t)m + 2) < 0) return -1;
    mpz_t *z = k->z;
    for (unsigned j = 0; j < m; j++) {
        mpz_mul(z[j], s->c[0], v->c[j]);
        rdiv(k, z[j]);
        mpz_mul(z[m + j], s->c[1], v->c[j]);
        rdiv(k, z[m + j]);
    }
    mpz_mul(z[2 * m], s->c[0], v->c[m]);
    rdiv(k, z[2 * m]);
    mpz_mul(z[2 * m + 1], s->c[1], v->c[m]);
    rdiv(k, z[2 * m + 1]);
    return ksk_ws(k, M, out);
}

int he_ivhe_extract(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, unsigned j)
{
    if (!k || !out) he_misuse("he_ivhe_extract: NULL");
    if (check_ct(k, a, "he_ivhe_extract: NULL a") < 0) return -1;
    if (j >= a->dim) return he_error("ivhe: slot %u outside dimension %u", j, a->dim);
    he_ivhe_ksk *M = get_extract(k, a->dim, j);
    if (!M || ws_z(k, a->dim + 1) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_set(k->z[i], a->c[i]);
    return ksk_ws(k, M, out);
}

int he_ivhe_sum(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a)
{
    if (!k || !out) he_misuse("he_ivhe_sum: NULL");
    if (check_ct(k, a, "he_ivhe_sum: NULL a") < 0) return -1;
    he_ivhe_ksk *M = get_sum(k, a->dim);
    if (!M || ws_z(k, a->dim + 1) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_set(k->z[i], a->c[i]);
    return ksk_ws(k, M, out);
}

int he_ivhe_pack(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *const *scalars, unsigned n)
{
    if (!k || !out || !scalars) he_misuse("he_ivhe_pack: NULL");
    if (check_dim(k, n) < 0) return -1;
    for (unsigned i = 0; i < n; i++) {
        if (!scalars[i]) he_misuse("he_ivhe_pack: NULL scalar");
        if (scalars[i]->dim != 1) return he_error("ivhe: pack expects scalars (dimension 1)");
    }
    he_ivhe_ksk *M = get_pack(k, n);
    if (!M || ws_z(k, 2 * (size_t)n) < 0) return -1;
    for (unsigned i = 0; i < n; i++) {
        mpz_set(k->z[2 * i], scalars[i]->c[0]);
        mpz_set(k->z[2 * i + 1], scalars[i]->c[1]);
    }
    return ksk_ws(k, M, out);
}

int he_ivhe_matvec(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *const *W, unsigned rows,
                   const he_ivhe_ct *x, int64_t d)
{
    if (!k || !out || !W || !x) he_misuse("he_ivhe_matvec: NULL");
    if (check_dim(k, rows) < 0 || ws_sc(k, rows) < 0) return -1;
    for (unsigned i = 0; i < rows; i++)
        if (he_ivhe_inner(k, k->sc[i], W[i], x, d) < 0) return -1;
    return he_ivhe_pack(k, out, (const he_ivhe_ct *const *)k->sc, rows);
}

int he_ivhe_transpose(he_ivhe_key *k, he_ivhe_ct *const *out, const he_ivhe_ct *const *in, unsigned rows,
                      unsigned cols)
{
    if (!k || !out || !in) he_misuse("he_ivhe_transpose: NULL");
    if (check_dim(k, rows) < 0 || check_dim(k, cols) < 0) return -1;
    if (ws_sc(k, (size_t)rows * cols) < 0) return -1;
    for (unsigned i = 0; i < rows; i++) {
        if (!in[i]) he_misuse("he_ivhe_transpose: NULL row");
        if (in[i]->dim != cols) return he_error("ivhe: row %u has dimension %u, not %u", i, in[i]->dim, cols);
    }
    /* every element first (so out may alias in), column-major in k->sc */
    for (unsigned i = 0; i < rows; i++)
        for (unsigned j = 0; j < cols; j++)
            if (he_ivhe_extract(k, k->sc[(size_t)j * rows + i], in[i], j) < 0) return -1;
    for (unsigned j = 0; j < cols; j++)
        if (he_ivhe_pack(k, out[j], (const he_ivhe_ct *const *)(k->sc + (size_t)j * rows), rows) < 0)
            return -1;
    return 0;
}

int he_ivhe_outer(he_ivhe_key *k, he_ivhe_ct *const *out, const he_ivhe_ct *u, const he_ivhe_ct *v, int64_t d)
{
    if (!k || !out || !u || !v) he_misuse("he_ivhe_outer: NULL");
    if (check_dim(k, u->dim) < 0 || ws_sc(k, u->dim) < 0) return -1;
    for (unsigned i = 0; i < u->dim; i++) {
        if (u->dim == 1) {
            if (he_ivhe_ct_copy(k->sc[0], u) < 0) return -1;
        } else if (he_ivhe_extract(k, k->sc[i], u, i) < 0) {
            return -1;
        }
    }
    for (unsigned i = 0; i < u->dim; i++)
        if (he_ivhe_mul_scalar(k, out[i], k->sc[i], v, d) < 0) return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* polynomials                                                              */

#define COEF_BITS 40

int he_ivhe_poly(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a, const double *coef, unsigned deg)
{
    if (!k || !out || !a || !coef) he_misuse("he_ivhe_poly: NULL");
    if (check_ct(k, a, "he_ivhe_poly: NULL a") < 0) return -1;
    const unsigned maxdeg = sizeof k->pw / sizeof k->pw[0] - 1;
    if (deg > maxdeg) return he_error("ivhe: polynomial degree %u above %u", deg, maxdeg);
    int64_t ci[sizeof k->pw / sizeof k->pw[0]];
    for (unsigned i = 0; i <= deg; i++) {
        if (!isfinite(coef[i]) || fabs(coef[i]) >= 4194304.0)
            return he_error("ivhe: polynomial coefficient %g out of range", coef[i]);
        ci[i] = (int64_t)nearbyint(ldexp(coef[i], COEF_BITS));
    }
    int64_t c0 = (int64_t)nearbyint(coef[0] * (double)k->p.scale);
    /* need[j]: P_j is formed (P_j = P_(j-2) P_2 / scale for j >= 3) */
    int need[sizeof k->pw / sizeof k->pw[0]] = {0};
    for (unsigned j = deg; j >= 2; j--) need[j] = ci[j] != 0 || (j + 2 <= deg && need[j + 2]);
    for (unsigned j = 3; j <= deg; j++)
        if (need[j]) need[2] = 1;
    for (unsigned j = 0; j <= deg || j <= 1; j++)
        if (!k->pw[j] && !(k->pw[j] = he_ivhe_ct_new(a->dim))) return -1;
    /* pw[0] accumulates; pw[1] holds a copy of a (out may alias a) */
    if (he_ivhe_ct_copy(k->pw[1], a) < 0) return -1;
    const he_ivhe_ct *P1 = k->pw[1];
    if (deg >= 2 && need[2] && he_ivhe_mul_elem(k, k->pw[2], P1, P1, k->p.scale) < 0) return -1;
    for (unsigned j = 3; j <= deg; j++)
        if (need[j] && he_ivhe_mul_elem(k, k->pw[j], k->pw[j - 2], k->pw[2], k->p.scale) < 0) return -1;
    he_ivhe_ct *acc = k->pw[0];
    if (he_ivhe_ct_resize(acc, a->dim) < 0) return -1;
    for (unsigned i = 0; i <= a->dim; i++) mpz_set_ui(acc->c[i], 0);
    for (unsigned j = 1; j <= deg; j++) {
        if (ci[j] == 0) continue;
        for (unsigned i = 0; i <= a->dim; i++) {
            if (ci[j] > 0) mpz_addmul_ui(acc->c[i], k->pw[j]->c[i], (unsigned long)ci[j]);
            else mpz_submul_ui(acc->c[i], k->pw[j]->c[i], (unsigned long)(-ci[j]));
        }
    }
    for (unsigned i = 0; i <= a->dim; i++) {
        mpz_add_ui(acc->c[i], acc->c[i], 1ul << (COEF_BITS - 1));
        mpz_fdiv_q_2exp(acc->c[i], acc->c[i], COEF_BITS);
    }
    return he_ivhe_add_scalar(k, out, acc, c0);
}

int he_ivhe_sigmoid(he_ivhe_key *k, he_ivhe_ct *out, const he_ivhe_ct *a)
{
    return he_ivhe_poly(k, out, a, he_ivhe_sigmoid_coef, 7);
}

/* ------------------------------------------------------------------------ */
/* files                                                                    */
/*
** Layout (integers little-endian):
**   magic "HEIVHE\r\n" (8) | version u32 | kind u32 | body length u64 |
**   body | BLAKE2b-256 of everything before (32)
** kind 1, a key: id (32) | w u64 | l u32 | a_bound u32 | t_bound u32 |
**   e_bound u32 | scale i64 | max_dim u32 | the secrets T_1 .. T_max_dim
**   (max_dim (max_dim + 1) / 2 entries, i64 each).
** kind 2, ciphertexts: the key's id (32) | tag u32 (the caller's) |
**   count u32 | dim u32 | count x (dim + 1) integers, each a sign byte (0
**   or 1), a length u32 and that many bytes of magnitude, big-endian.
** The id is random (not derived from the secrets, which are small enough to
** be found from a hash of them), so a ciphertext file names its key without
** telling anything about it.
*/
#define IV_MAGIC "HEIVHE\r\n"
#define IV_HDR 24
#define IV_SUM 32
#define IV_MAX_FILE ((size_t)1 << 30)
enum { IV_KIND_KEY = 1, IV_KIND_CT = 2 };

static void iv_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void iv_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t iv_r32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t iv_r64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Envelope of a body of blen bytes at buf + IV_HDR (buf holds IV_HDR +
** blen + IV_SUM bytes), then the atomic write. */
static int iv_write(const char *path, uint8_t *buf, size_t blen, uint32_t kind, unsigned flags)
{
    memcpy(buf, IV_MAGIC, 8);
    iv_u32(buf + 8, HE_IVHE_FORMAT_VERSION);
    iv_u32(buf + 12, kind);
    iv_u64(buf + 16, blen);
    crypto_generichash(buf + IV_HDR + blen, IV_SUM, buf, IV_HDR + blen, NULL, 0);
    return he_file_write(path, buf, IV_HDR + blen + IV_SUM, flags, "ivhe");
}

/* Reads path and checks the envelope; *body, *blen: the body of `kind`.
** *buf (free with he_free_secret(*buf, *len + 1)) is set even on failure. */
static int iv_read(const char *path, uint32_t kind, uint8_t **buf, size_t *len, const uint8_t **body,
                   size_t *blen)
{
    static const char *const names[] = {"unknown", "a key", "ciphertexts"};
    *buf = NULL;
    *len = 0;
    if (he_file_read(path, IV_MAX_FILE, "ivhe", buf, len) < 0) return -1;
    const uint8_t *b = *buf;
    size_t n = *len;
    if (n < 8 || memcmp(b, IV_MAGIC, 8) != 0) return he_error("ivhe: %s is not a he IVHE file", path);
    if (n < IV_HDR + IV_SUM) return he_error("ivhe: %s is damaged (truncated)", path);
    uint8_t h[IV_SUM];
    crypto_generichash(h, IV_SUM, b, n - IV_SUM, NULL, 0);
    if (sodium_memcmp(h, b + n - IV_SUM, IV_SUM) != 0)
        return he_error("ivhe: %s is damaged (checksum mismatch)", path);
    uint32_t ver = iv_r32(b + 8), k = iv_r32(b + 12);
    if (ver != HE_IVHE_FORMAT_VERSION)
        return he_error("ivhe: %s has format version %u; this build reads version %d", path, ver,
                        HE_IVHE_FORMAT_VERSION);
    if (k != kind)
        return he_error("ivhe: %s holds %s, not %s", path, names[k < 3 ? k : 0], names[kind]);
    if (iv_r64(b + 16) != n - IV_HDR - IV_SUM) return he_error("ivhe: %s is damaged (length)", path);
    *body = b + IV_HDR;
    *blen = n - IV_HDR - IV_SUM;
    return 0;
}

#define IV_KEY_FIXED (32 + 8 + 4 * 4 + 8 + 4)

int he_ivhe_key_save(const he_ivhe_key *k, const char *path)
{
    if (!k || !path) he_misuse("he_ivhe_key_save: NULL");
    size_t blen = IV_KEY_FIXED + k->n_T * 8, total = IV_HDR + blen + IV_SUM;
    uint8_t *buf = he_malloc(total);
    if (!buf) return -1;
    uint8_t *p = buf + IV_HDR;
    memcpy(p, k->id, 32);
    iv_u64(p + 32, k->p.w);
    iv_u32(p + 40, k->p.l);
    iv_u32(p + 44, k->p.a_bound);
    iv_u32(p + 48, k->p.t_bound);
    iv_u32(p + 52, k->p.e_bound);
    iv_u64(p + 56, (uint64_t)k->p.scale);
    iv_u32(p + 64, k->p.max_dim);
    for (size_t i = 0; i < k->n_T; i++) iv_u64(p + IV_KEY_FIXED + 8 * i, (uint64_t)k->T[i]);
    int rc = iv_write(path, buf, blen, IV_KIND_KEY, HE_FILE_SECRET);
    he_free_secret(buf, total);
    return rc;
}

he_ivhe_key *he_ivhe_key_load(const char *path)
{
    if (!path) he_misuse("he_ivhe_key_load: NULL");
    uint8_t *buf;
    size_t len, blen = 0;
    const uint8_t *p = NULL;
    he_ivhe_key *k = NULL;
    int rc = iv_read(path, IV_KIND_KEY, &buf, &len, &p, &blen);
    he_ivhe_params prm;
    if (rc == 0 && blen < IV_KEY_FIXED) rc = he_error("ivhe: %s is damaged (truncated)", path);
    if (rc == 0) {
        prm.w = iv_r64(p + 32);
        prm.l = iv_r32(p + 40);
        prm.a_bound = iv_r32(p + 44);
        prm.t_bound = iv_r32(p + 48);
        prm.e_bound = iv_r32(p + 52);
        prm.scale = (int64_t)iv_r64(p + 56);
        prm.max_dim = iv_r32(p + 64);
        if (he_ivhe_params_check(&prm) < 0) rc = he_error("ivhe: %s holds invalid parameters", path);
    }
    if (rc == 0 && blen != IV_KEY_FIXED + (size_t)prm.max_dim * (prm.max_dim + 1) / 2 * 8)
        rc = he_error("ivhe: %s is damaged (size of the secrets)", path);
    if (rc == 0 && !(k = he_ivhe_key_new(&prm))) rc = -1;
    if (rc == 0) {
        memcpy(k->id, p, 32);
        for (unsigned m = 1; m <= prm.max_dim && rc == 0; m++) {
            int64_t *t = k->T + (size_t)m * (m - 1) / 2, sum = 0;
            for (unsigned i = 0; i < m; i++) {
                t[i] = (int64_t)iv_r64(p + IV_KEY_FIXED + 8 * ((size_t)m * (m - 1) / 2 + i));
                if (t[i] == 0 || t[i] > (int64_t)prm.t_bound || t[i] < -(int64_t)prm.t_bound) {
                    rc = he_error("ivhe: %s holds an invalid secret (outside the key's t_bound)", path);
                    break;
                }
                sum += t[i] * t[i];
            }
            k->tt[m] = sum;
        }
    }
    if (rc < 0) {
        he_ivhe_key_free(k); /* wipes */
        k = NULL;
    }
    if (buf) he_free_secret(buf, len + 1);
    return k;
}

int he_ivhe_same_key(const he_ivhe_key *a, const he_ivhe_key *b)
{
    if (!a || !b) he_misuse("he_ivhe_same_key: NULL");
    return sodium_memcmp(a->id, b->id, sizeof a->id) == 0;
}

int he_ivhe_ctv_save(const he_ivhe_key *k, const he_ivhe_ct *const *c, unsigned count, uint32_t tag,
                     const char *path)
{
    if (!k || (!c && count) || !path) he_misuse("he_ivhe_ctv_save: NULL");
    if (count == 0) return he_error("ivhe: save: no ciphertexts");
    unsigned dim = c[0]->dim;
    size_t blen = 32 + 12;
    for (unsigned i = 0; i < count; i++) {
        if (c[i]->dim != dim) return he_error("ivhe: save: ciphertexts of different dimensions");
        for (unsigned j = 0; j <= dim; j++) blen += 5 + (mpz_sizeinbase(c[i]->c[j], 2) + 7) / 8;
        if (blen > IV_MAX_FILE) return he_error("ivhe: value too large to save");
    }
    size_t total = IV_HDR + blen + IV_SUM;
    uint8_t *buf = he_malloc(total);
    if (!buf) return -1;
    uint8_t *p = buf + IV_HDR;
    memcpy(p, k->id, 32);
    iv_u32(p + 32, tag);
    iv_u32(p + 36, count);
    iv_u32(p + 40, dim);
    size_t pos = 44;
    for (unsigned i = 0; i < count; i++)
        for (unsigned j = 0; j <= dim; j++) {
            size_t cnt = 0;
            p[pos] = mpz_sgn(c[i]->c[j]) < 0;
            if (mpz_sgn(c[i]->c[j]) != 0) mpz_export(p + pos + 5, &cnt, 1, 1, 0, 0, c[i]->c[j]);
            iv_u32(p + pos + 1, (uint32_t)cnt);
            pos += 5 + cnt;
        }
    int rc = iv_write(path, buf, pos, IV_KIND_CT, 0);
    he_free(buf);
    return rc;
}

int he_ivhe_ctv_load(const he_ivhe_key *k, const char *path, he_ivhe_ct ***out, unsigned *count, uint32_t *tag)
{
    if (!k || !path || !out || !count || !tag) he_misuse("he_ivhe_ctv_load: NULL");
    *out = NULL;
    *count = 0;
    uint8_t *buf;
    size_t len, blen = 0;
    const uint8_t *p = NULL;
    int rc = iv_read(path, IV_KIND_CT, &buf, &len, &p, &blen);
    if (rc == 0 && blen < 44) rc = he_error("ivhe: %s is damaged (truncated)", path);
    if (rc == 0 && sodium_memcmp(p, k->id, 32) != 0) rc = he_error("ivhe: %s was encrypted under another key", path);
    unsigned n = 0, dim = 0;
    if (rc == 0) {
        n = iv_r32(p + 36);
        dim = iv_r32(p + 40);
        /* each ciphertext takes at least 5 (dim + 1) bytes: n is bounded by the file */
        if (dim < 1 || dim > k->p.max_dim || n < 1 || (size_t)n * 5 * (dim + 1) > blen - 44)
            rc = he_error("ivhe: %s is damaged (shape)", path);
    }
    he_ivhe_ct **c = NULL;
    if (rc == 0 && !(c = he_calloc(n, sizeof *c))) rc = -1;
    size_t pos = 44;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (!(c[i] = he_ivhe_ct_new(dim))) {
            rc = -1;
            break;
        }
        for (unsigned j = 0; j <= dim; j++) {
            if (blen - pos < 5) {
                rc = he_error("ivhe: %s is damaged (truncated)", path);
                break;
            }
            uint8_t neg = p[pos];
            size_t l = iv_r32(p + pos + 1);
            pos += 5;
            if (neg > 1 || l > blen - pos) {
                rc = he_error("ivhe: %s is damaged (%s)", path, neg > 1 ? "sign" : "truncated");
                break;
            }
            mpz_import(c[i]->c[j], l, 1, 1, 0, 0, p + pos);
            if (neg) mpz_neg(c[i]->c[j], c[i]->c[j]);
            pos += l;
        }
    }
    if (rc == 0 && pos != blen) rc = he_error("ivhe: %s is damaged (trailing bytes)", path);
    if (rc == 0) {
        *out = c;
        *count = n;
        *tag = iv_r32(p + 32);
    } else if (c) {
        for (unsigned i = 0; i < n; i++) he_ivhe_ct_free(c[i]);
        he_free(c);
    }
    if (buf) he_free_secret(buf, len + 1);
    return rc;
}
