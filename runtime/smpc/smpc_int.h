/*
** smpc_int.h: internals shared by the files of runtime/smpc (not installed).
**
**   ring.c    Z_2^64 kernels: products, im2col, fixed point
**   zp.c      Z_p through GMP
**   dealer.c  the correlated randomness: requests, generation, seeds, files
**   proto.c   sharing, opening, linear algebra, products, truncation
**   cmp.c     comparison, ReLU, max, pooling, argmax
**   net.c     transport: ZeroMQ + CURVE, party files, keys
**   ctx.c     contexts, share tensors, statistics
*/
#ifndef HE_SMPC_INT_H
#define HE_SMPC_INT_H

#include "smpc/smpc.h"

#include <stdio.h>

/* --- a seeded stream (ChaCha20, libsodium): the dealer and each party draw
** the same shares from a seed they share ------------------------------------ */
typedef struct smpc_prg {
    uint8_t key[32];
    uint64_t nonce; /* one fresh nonce per draw */
} smpc_prg;
void prg_seed(smpc_prg *g, const uint8_t seed[32]);
void prg_u64(smpc_prg *g, uint64_t *out, size_t n);
/* n elements uniform mod p (statistical distance < 2^-64 each). */
void prg_zp(smpc_prg *g, mpz_t *out, size_t n, const mpz_t p, size_t pbytes);

/* --- material (dealer) requests ---------------------------------------------- */
enum {
    MAT_TRIPLE = 1,  /* p0 = n: a, b random; c = a*b */
    MAT_MATTRIPLE,   /* p0..2 = m, k, n: X (m,k), Y (k,n) random; Z = X Y */
    MAT_CONVTRIPLE,  /* p0..8 = N C H W OC KH KW stride pad: X, Wm random; Z = conv */
    MAT_TRUNC,       /* p0 = n, p1 = f: r random; r >> f, msb(r) */
    MAT_CMP,         /* p0 = n: r random (arith); bits of r (xor); AND triples; bit s both ways */
    MAT_KINDS
};
#define MAT_NPARAM 10
typedef struct mat_req {
    uint32_t kind, ring; /* ring: he_smpc_ring */
    int64_t p[MAT_NPARAM];
} mat_req;

/* A field of a piece of material: a slice of the party's buffer. `dep`
** fields depend on the others: every party but the last draws them from its
** seed, the last gets them from the dealer. */
typedef struct mat_field {
    size_t off, len;
    bool xor_, dep;
} mat_field;
#define MAT_MAXFIELDS 8
typedef struct mat_layout {
    int nf;
    mat_field f[MAT_MAXFIELDS];
    size_t total, dep_total;
} mat_layout;
int mat_layout_of(const mat_req *r, mat_layout *L);

/* Comparison tree: number of AND gates (bit-sliced words) per level. */
#define CMP_LEVELS 6
#define CMP_ANDS 120 /* sum over levels l=1..6 of 2*(64>>l) - 1 */

/* The dealer's state: one stream per party (shared with it), and its own. */
typedef struct smpc_dealer {
    int n;
    he_smpc_ring ring;
    mpz_t p;
    size_t pbytes;
    smpc_prg party[HE_SMPC_MAXPARTIES];
    smpc_prg own;
} smpc_dealer;
/* Generates one piece: every party's buffer when all != NULL (SIM, files of
** every party), and always the last party's dependent fields into `last_dep`
** (dep_total words; Z_p: mpz) when not NULL. Ring64 buffers are uint64_t,
** Z_p buffers mpz_t. */
int dealer_make(smpc_dealer *d, const mat_req *r, void **all, void *last_dep);
/* A party's own draws (every field but, for the last party, the dep ones). */
void party_draw(smpc_prg *g, const mat_req *r, bool last, void *buf, he_smpc_ring ring,
                const mpz_t p, size_t pbytes);

/* Material for the parties held by this process. */
typedef struct smpc_mat {
    mat_req req;
    mat_layout L;
    int nloc;
    void *buf[HE_SMPC_MAXPARTIES]; /* uint64_t* or mpz_t* of L.total */
    bool pending;                  /* NET, last party: dep fields still to receive */
} smpc_mat;
/* Asks for material (the last party sends the request to the dealer); the
** dependent fields of the last party arrive with mat_wait. */
int mat_get(he_smpc_ctx *ctx, const mat_req *r, smpc_mat *m);
int mat_wait(he_smpc_ctx *ctx, smpc_mat *m);
void mat_free(he_smpc_ctx *ctx, smpc_mat *m);
static inline uint64_t *mat_u64(const smpc_mat *m, int lp, int field)
{
    return (uint64_t *)m->buf[lp] + m->L.f[field].off;
}
static inline mpz_t *mat_z(const smpc_mat *m, int lp, int field)
{
    return (mpz_t *)m->buf[lp] + m->L.f[field].off;
}

/* Offline material of one party (he_smpc_offline_write): read whole,
** checked and consumed when the context is made, wiped when it is freed. */
typedef struct smpc_matfile {
    char path[4096];
    uint8_t *buf;     /* the whole file */
    size_t len, pos;  /* pos: the next record */
    size_t end;       /* where the records end (the checksum follows) */
    uint64_t nreq;    /* records read so far */
} smpc_matfile;
/* Claims DIR/party-I.mat for this run (a DIR/party-I.mat.used marker made
** with O_EXCL: a file already used is refused), reads and checks it (magic,
** checksum, parties, configuration), wipes and removes it; *out holds its
** records and g the party's stream. */
int mat_file_open(he_smpc_ctx *ctx, const char *dir, int party, smpc_matfile **out, smpc_prg *g);
void mat_file_close(smpc_matfile *f);

/* --- transport ---------------------------------------------------------------- */
enum { MSG_HELLO = 1, MSG_DATA, MSG_SEED, MSG_REQ, MSG_MAT, MSG_BYE, MSG_ABORT };
typedef struct smpc_net smpc_net;
/* Node ids: parties 0..n-1, the dealer n. */
int net_open(he_smpc_ctx *ctx, const he_smpc_config *cfg, bool dealer);
void net_close(smpc_net *net);
int net_send(he_smpc_ctx *ctx, int node, uint8_t type, const void *buf, size_t len);
/* Receives exactly len bytes of a message of `type` from node. */
int net_recv(he_smpc_ctx *ctx, int node, uint8_t type, void *buf, size_t len);
/* The dealer's wait for a party's goodbye: a party may do plaintext work of
** its own after its last protocol step (the MNIST demonstration checks every
** prediction against the plaintext model), so this wait is not the context's
** timeout but HE_SMPC_BYE_WAIT_MS (or the timeout when longer). A party that
** dies meanwhile is still noticed at once (its connection closes). */
#define HE_SMPC_BYE_WAIT_MS (3600 * 1000)
int net_recv_bye(he_smpc_ctx *ctx, int node);
/* Tells every peer this process is failing (best effort), once: not when
** this node stops because another one told it to (MSG_ABORT from any node
** ends a wait at once with that node's message). */
void net_abort_all(he_smpc_ctx *ctx, const char *why);
/* True once the peers were told to stop, or a peer told this node. */
bool net_aborted(const smpc_net *net);
unsigned net_refused(const smpc_net *net);

/* --- the context ----------------------------------------------------------- */
struct he_smpc_ctx {
    int n;
    he_smpc_ring ring;
    mpz_t p;
    size_t pbytes; /* bytes of one Z_p element on the wire */
    int frac;
    he_smpc_mode mode;
    he_smpc_trunc trunc;
    int me;   /* NET: party index (n: the dealer process) */
    int nloc; /* parties held here: n (SIM) or 1 */
    int timeout_ms;
    he_smpc_stats stats;
    smpc_dealer *dealer;          /* SIM: the dealer function's state */
    smpc_prg seedprg;             /* NET: this party's stream shared with the dealer */
    smpc_net *net;
    smpc_matfile *matfile;        /* offline material of this party (NET) */
    smpc_matfile *matfiles[HE_SMPC_MAXPARTIES]; /* SIM with material files */
    smpc_prg fileprg[HE_SMPC_MAXPARTIES];
    mat_req *plan;                /* SIM with record_plan */
    size_t plan_len, plan_cap;
    uint64_t msgseq;
    struct smpc_rep3 *rep3;       /* HE_SMPC_REP3: the pairwise PRF keys (rep3.c) */
};

/* Hash of what all parties must agree on (n, ring, modulus, frac, truncation). */
void ctx_digest(const he_smpc_ctx *ctx, uint8_t out[32]);

/* --- share tensors --------------------------------------------------------------- */
struct he_share {
    he_smpc_ctx *ctx;
    int ndim;
    int64_t shape[HE_SMPC_MAXDIM];
    size_t size;
    int frac;
    int nloc;
    uint64_t *u[HE_SMPC_MAXPARTIES]; /* ring64 */
    mpz_t *z[HE_SMPC_MAXPARTIES];    /* Z_p */
};
/* Global party index of local slot lp. */
/* (NET, rep3: slot lp holds the party's share me + lp mod 3.) */
static inline int party_of(const he_smpc_ctx *ctx, int lp) { return ctx->mode == HE_SMPC_SIM ? lp : (ctx->me + lp) % ctx->n; }
/* A fresh share tensor (uninitialised values in ring64). */
he_share *share_alloc(he_smpc_ctx *ctx, int ndim, const int64_t *shape, int frac);
/* Moves the contents of src into dst (src freed). */
void share_move(he_share *dst, he_share *src);
int share_same_ctx(const he_smpc_ctx *ctx, const he_share *a);
/* NumPy broadcasting: *pa, *pb are a, b or copies expanded to the common
** shape; release_pair frees the copies. */
int share_broadcast(he_smpc_ctx *ctx, const he_share *a, const he_share *b, const he_share **pa, const he_share **pb);
void release_pair(const he_share *a, const he_share *b, const he_share *pa, const he_share *pb);

/* --- openings (1 round each) -------------------------------------------------------- */
/* x[lp] for each local party, N words; out = sum (or xor) to every party. */
int open_u64(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t *out, bool xor_);
/* One round opening the first nxor words by xor and the rest by sum. */
int open_u64_mix(he_smpc_ctx *ctx, uint64_t *const *x, size_t nxor, size_t N, uint64_t *out);
int open_zp(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, mpz_t *out);
/* Only to the parties in mask; out written where received. */
int open_u64_to(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t mask, uint64_t *out);
int open_zp_to(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, uint64_t mask, mpz_t *out);
void stats_round(he_smpc_ctx *ctx);
/* Checks a k x k pooling with stride s over x, (C, H, W) or (N, C, H, W),
** and writes its output shape; the error names the operation what. */
int pool_shape(const he_share *x, int k, int s, const char *what, int64_t shape[4]);

/* --- ring kernels (ring.c) --------------------------------------------------------- */
/* C (m,n) += A (m,k) B (k,n) over Z_2^64. */
void ring_matmul_acc(uint64_t *C, const uint64_t *A, const uint64_t *B, size_t m, size_t k, size_t n);
typedef struct conv_geom {
    int64_t N, C, H, W, OC, KH, KW, stride, pad, OH, OW;
} conv_geom;
int conv_geom_of(conv_geom *g, const mat_req *r);
/* out (N, OC, OH, OW) += conv(x (N,C,H,W), w (OC,C,KH,KW)); `cols` scratch of
** C*KH*KW * OH*OW words (NULL: allocated here). */
int ring_conv_acc(uint64_t *out, const uint64_t *x, const uint64_t *w, const conv_geom *g);
/* im2col of one image x (C, H, W) into cols (C*KH*KW, OH*OW). */
void ring_im2col(uint64_t *cols, const uint64_t *x, const conv_geom *g);
/* Truncation of the shares of z by f bits with the dealer pair in m
** (after opening c); see proto.c. */
int trunc_shares(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f);
/* The same with the dealer's pair asked for ahead (trunc_prefetch, when
** trunc_needs_dealer): the dealer makes it while the parties compute. */
bool trunc_needs_dealer(const he_smpc_ctx *ctx, size_t N, int f);
int trunc_prefetch(he_smpc_ctx *ctx, size_t N, int f, smpc_mat *m);
int trunc_shares_pre(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f, smpc_mat *pre);

/* --- replicated sharing among 3 parties, no dealer (rep3.c) ----------------------------
** A share tensor of a REP3 context holds, simulated, the three additive
** shares x_0, x_1, x_2 in u[0..2] (party i's view is (u[i], u[i+1 mod 3])),
** and in party i's process (NET, nloc = 2) u[0] = x_i, u[1] = x_{i+1}: the
** linear operations and the overflow checks above work on it unchanged
** (party_of names the share a slot holds).
** Key j (a ChaCha20 stream) is shared by parties j and j-1 mod 3: party i
** holds keys i and i+1, agreed at setup. */
typedef struct smpc_rep3 {
    smpc_prg key[3];
} smpc_rep3;
/* A bilinear map (matrix product, convolution, element-wise product)
** accumulating into out. */
typedef int (*bilinear_fn)(uint64_t *out, const uint64_t *x, const uint64_t *y, const void *geom);
int rep3_setup(he_smpc_ctx *ctx, const he_smpc_config *cfg);
void rep3_free(he_smpc_ctx *ctx);
/* Shares of party owner's raw values into t (allocated, t->size values;
** vals read only by the owner). */
int rep3_input(he_smpc_ctx *ctx, he_share *t, int owner, const int64_t *vals);
/* Reveals x to the parties in mask: each party sends its first share to the next. */
int rep3_open_to(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, uint64_t *out);
/* t = prod(x, y) (t->size outputs), a round of resharing, then truncation by tf. */
int rep3_product(he_smpc_ctx *ctx, he_share *t, const he_share *x, const he_share *y, bilinear_fn prod,
                 const void *geom, int tf);
/* Z_p: reveal (as rep3_open_to) and t = x * y element-wise (mm NULL) or
** the matrix product of (mm[0], mm[1]) @ (mm[1], mm[2]), one round of
** resharing mod p. */
int rep3_open_zp(he_smpc_ctx *ctx, mpz_t *const *x, size_t N, uint64_t mask, mpz_t *out);
int rep3_product_zp(he_smpc_ctx *ctx, he_share *t, const he_share *x, const he_share *y, const size_t *mm);
/* Truncation of the shared values z (u[0..2]) by f bits (ABY3, local). */
int rep3_trunc(he_smpc_ctx *ctx, uint64_t **z, size_t N, int f);
/* Arithmetic shares of msb(x) (vals NULL), or of vals[c N + i] * msb(x_i)
** for c < cols: a binary adder on the parties' own components, no random
** bits needed. bits must not alias x or vals. */
int rep3_ltz(he_smpc_ctx *ctx, uint64_t *const *x, size_t N, uint64_t **bits, uint64_t *const *vals, size_t cols);

/* --- overflow checks of simulated runs (check.c) ------------------------------------
** SIM mode holds every party's shares: each operation that can leave the
** ring reconstructs its operands and checks the exact result (ranges in
** check.c). NET mode cannot: ov_on is false there and nothing is checked. */
__extension__ typedef __int128 i128;
typedef enum ov_what {
    OV_VALUE,   /* a result kept at its scale: fixed |raw| < 2^62, int in int64 */
    OV_PRODUCT, /* a product before its truncation: |raw| < 2^62 */
    OV_DIFF     /* a difference whose sign a comparison takes: int64 */
} ov_what;
static inline bool ov_on(const he_smpc_ctx *ctx) { return ctx->mode == HE_SMPC_SIM; }
/* a + b or a - b (broadcast); in SIM the result is checked as `what`. */
int share_addsub(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b, bool sub, const char *op,
                 ov_what what);
/* The values of x (Z_2^64), to free with ov_close; NULL on failure. */
int64_t *ov_open(const he_smpc_ctx *ctx, const he_share *x);
int64_t *ov_open_u64(const he_smpc_ctx *ctx, uint64_t *const *x, size_t N);
void ov_close(int64_t *v, size_t N);
/* The error for the exact raw result `raw` (at `scale` fractional bits) of
** element idx of N: names op, noun ("the product"), the value and the bound. */
int ov_fail(const he_smpc_ctx *ctx, const char *op, const char *noun, ov_what what, int scale, i128 raw, size_t idx,
            size_t N);
/* Raw input values (any mode: the owner has them). */
int ov_input(const he_smpc_ctx *ctx, const int64_t *vals, size_t N, int frac);
/* The sums of products of A (m, k) B (k, n); element (i, j) is reported
** as idx0 + i n + j of N. */
int ov_matmul(const he_smpc_ctx *ctx, const char *op, ov_what what, int scale, const int64_t *A, const int64_t *B,
              size_t m, size_t k, size_t n, size_t idx0, size_t N);
/* Element-wise a kind b (kind '+', '-' or '*'; same shapes). */
int ov_binary(const he_smpc_ctx *ctx, const char *op, const char *noun, ov_what what, int scale, const he_share *a,
              const he_share *b, char kind);
/* a times public integers k (nv: 1 or a's size). */
int ov_scale(const he_smpc_ctx *ctx, const char *op, ov_what what, int scale, const he_share *a, const int64_t *k,
             size_t nv);
int ov_add_public(const he_smpc_ctx *ctx, const he_share *a, const double *v, size_t nv);
/* Sums of a over `len` consecutive blocks of `inner` (outer times). */
int ov_sum(const he_smpc_ctx *ctx, const char *op, const he_share *a, size_t outer, size_t len, size_t inner);
/* x + b per channel (b's C values, each over `inner` elements). */
int ov_add_channel(const he_smpc_ctx *ctx, const he_share *x, const he_share *b, size_t inner);
/* x @ y (g NULL) or conv(x, w = y) (geometry g), truncated by tf after. */
int ov_bilinear(const he_smpc_ctx *ctx, const char *op, const he_share *x, const he_share *y, int tf,
                const conv_geom *g);
/* The k x k window sums (stride s) of average pooling, before the scaling. */
int ov_windows(const he_smpc_ctx *ctx, const he_share *x, size_t planes, int k, int s, int64_t OH, int64_t OW);
/* After a local truncation by f of values `before`: the protocol's failure. */
int ov_trunc_local(const he_smpc_ctx *ctx, const int64_t *before, uint64_t *const *z, size_t N, int f);

/* --- Z_p (zp.c) ---------------------------------------------------------------- */
mpz_t *zp_alloc(size_t n);
void zp_free(mpz_t *v, size_t n);
void zp_matmul_acc(mpz_t *C, mpz_t *const A, mpz_t *const B, size_t m, size_t k, size_t n, const mpz_t p);
void zp_to_bytes(const mpz_t v, uint8_t *out, size_t pbytes);
void zp_from_bytes(mpz_t v, const uint8_t *in, size_t pbytes);
/* int64 -> Z_p (negative to p - |v|) and the centred representative back. */
void zp_set_i64(mpz_t v, int64_t x, const mpz_t p);
int zp_get_i64(const mpz_t v, const mpz_t p, int64_t *out);

#endif
