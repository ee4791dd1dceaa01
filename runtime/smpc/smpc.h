/*
** smpc.h: secure multi-party computation by additive secret sharing.
**
** n computing parties hold additive shares x = x_0 + ... + x_{n-1} of every
** secret value, over the ring Z_2^64 (the fast path) or over Z_p for a prime
** p (GMP; p = 501337 for the textbook demonstrations). Reals are fixed-point
** numbers: v is held as round(v * 2^frac) (frac = 16 by default), two's
** complement in Z_2^64, centred representative in Z_p. ("Z_p": any modulus
** p >= 2 works, prime or not, since no protocol here divides; the
** textbook's Q = 501337 is in fact 43 * 89 * 131.)
**
** Security: semi-honest (honest-but-curious) parties, any n-1 of them
** colluding learn nothing, with a dealer (the "crypto provider" of PySyft and
** TF-Encrypted, the trusted third party of CrypTen) that never sees inputs but
** provides correlated randomness: Beaver triples, matrix and convolution
** triples, truncation pairs, comparison material. The dealer must not collude
** with any computing party.
**
** Modes:
**   HE_SMPC_SIM  all n parties simulated in one process (the default, for
**                learning and tests); the dealer is a function. A share
**                tensor holds every party's shares.
**   HE_SMPC_NET  this process is party `me` of n, one OS process per party,
**                over TCP with ZeroMQ, CURVE authentication and encryption.
**                A share tensor holds this party's shares only. The dealer
**                is another process (he_smpc_dealer_serve), or its material
**                was generated ahead into files (he_smpc_offline_write).
**
** Every operation is collective: in NET mode every party calls the same
** operations in the same order with the same shapes. Operations write into
** caller-provided outputs (an existing he_share of the same context, resized
** as needed; an output may alias an input) and return 0, or -1 with he_error.
**
** Fixed-point bounds (Z_2^64, f = frac bits, raw value = v * 2^f):
**   - a raw value must satisfy |raw| < 2^62 (|v| < 2^46 at f = 16);
**   - a product of two fixed values is truncated by f bits. Dealer
**     truncation (the default, any n) needs |raw product| < 2^62, i.e.
**     |x*y| < 2^(62-2f) = 2^30 at f = 16, and is then off by at most 1 ulp
**     (2^-f) with certainty: the result is floor(z/2^f) or floor(z/2^f)+1.
**     Local truncation (HE_SMPC_TRUNC_LOCAL, SecureML, 2 parties, no
**     communication) is off by at most 1 ulp except with probability
**     <= 2^(l+1-64) per element when |raw product| < 2^l, when the result
**     is garbage (e.g. l = 40: 2^-23).
**   - comparisons (lt, relu, max, ...) need |a - b| < 2^63 raw.
**   - int shares (frac 0) hold int64 values: overflow is an error;
**   - a sum of products (matmul, conv) must fit as a whole, like a product.
** In Z_p the raw values must stay centred, in floor(p/2) - p + 1 ..
** floor(p/2); products of two fractional shares (truncation) and
** comparisons are Z_2^64 only.
** In SIM mode every operation is checked against these bounds and fails
** (-1, he_error naming the operation, the value and the bound) instead of
** wrapping; NET mode cannot see the values and does not check (README.md).
*/
#ifndef HE_SMPC_H
#define HE_SMPC_H

#include <gmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "he.h"

#define HE_SMPC_MAXPARTIES 64
#define HE_SMPC_MAXDIM 8
#define HE_SMPC_FRAC_DEFAULT 16
#define HE_SMPC_TIMEOUT_DEFAULT 10000 /* ms */
#define HE_SMPC_KEY_Z85 40            /* length of a Z85 CURVE key */
/* A party mask naming every party (for reveal). */
#define HE_SMPC_ALL UINT64_MAX

typedef enum he_smpc_ring { HE_SMPC_RING64 = 0, HE_SMPC_ZP = 1 } he_smpc_ring;
typedef enum he_smpc_mode { HE_SMPC_SIM = 0, HE_SMPC_NET = 1 } he_smpc_mode;
/* The protocol, chosen when the context is made. HE_SMPC_DEALER: additive
** shares among n parties with a dealer's correlated randomness (below).
** HE_SMPC_REP3: replicated sharing among exactly 3 parties with no dealer
** (ABY3 / Araki et al.): x = x_0 + x_1 + x_2 over Z_2^64, party i holds
** (x_i, x_{i+1 mod 3}); semi-honest with an honest majority (any one party
** may be curious, no two may collude). Products: one round of resharing,
** 8 B/elem (matmul, conv: per output element) to one other party; its
** truncation: ABY3's local one (one message, 8 B/elem, party 0 to party 2),
** within 1 ulp except with probability 2^(l+1-64) per element when
** |raw| < 2^l. Comparisons: a binary adder on the parties' own shares (10
** rounds, no random bits). Simulated and networked (no dealer line
** needed in the party file); Z_2^64 only (README.md). */
typedef enum he_smpc_protocol { HE_SMPC_DEALER = 0, HE_SMPC_REP3 = 1 } he_smpc_protocol;
typedef enum he_smpc_trunc {
    HE_SMPC_TRUNC_DEALER = 0, /* dealer truncation pairs: 2 rounds, 8(n-1)/n B/elem + 1 bit */
    HE_SMPC_TRUNC_LOCAL = 1   /* SecureML local truncation: 2 parties, 0 B */
} he_smpc_trunc;

typedef struct he_smpc_config {
    int nparties;             /* computing parties, 2..64 (SIM; NET: from the party file) */
    he_smpc_ring ring;        /* default HE_SMPC_RING64 */
    const char *prime;        /* HE_SMPC_ZP: the modulus p in decimal (>= 2) */
    int frac;                 /* fractional bits, default 16; 0..30 */
    he_smpc_mode mode;        /* default HE_SMPC_SIM */
    he_smpc_trunc trunc;      /* default HE_SMPC_TRUNC_DEALER */
    int me;                   /* NET: this party's index 0..n-1 */
    const char *party_file;   /* NET: see he_smpc_party_file_read */
    const char *secret_key_file; /* NET: this party's key (mode 0600) */
    int timeout_ms;           /* NET: longest wait for a peer, default 10000.
                                 Also the dealer's longest wait between two
                                 requests: give long local phases (loading
                                 data, ...) a timeout to match. */
    const char *material_dir; /* dealer material written ahead (offline phase)
                                 instead of a live dealer: DIR/party-I.mat */
    bool record_plan;         /* SIM: remember the material requests so that
                                 he_smpc_offline_write can generate them ahead */
    he_smpc_protocol protocol; /* default HE_SMPC_DEALER; HE_SMPC_REP3: 3 parties,
                                 Z_2^64, no dealer (trunc is ignored) */
} he_smpc_config;

typedef struct he_smpc_stats {
    uint64_t rounds;        /* communication rounds among the computing parties */
    uint64_t messages;      /* messages sent by this process (NET) or all parties (SIM) */
    /* bytes sent by each party (payload and message headers); [n] is the
    ** dealer. In NET mode only this process's entry is known. */
    uint64_t bytes_sent[HE_SMPC_MAXPARTIES + 1];
    uint64_t dealer_requests; /* pieces of correlated randomness consumed */
} he_smpc_stats;

typedef struct he_smpc_ctx he_smpc_ctx;
typedef struct he_share he_share;

/* --- context -------------------------------------------------------------- */
void he_smpc_config_init(he_smpc_config *cfg);
/* New context. NET: reads the party file and key, connects to every peer and
** the dealer, and waits (timeout_ms) until all have answered. */
he_smpc_ctx *he_smpc_new(const he_smpc_config *cfg);
/* NET: tells the dealer this party is done (not after an abort: the dealer
** then fails); then frees. Safe on NULL. */
void he_smpc_free(he_smpc_ctx *ctx);
/* NET: tells every peer (and the dealer) that this party stops because of
** `why`, so that they fail at once with that message instead of at their
** timeout. Call before he_smpc_free when giving up on an error. */
void he_smpc_abort(he_smpc_ctx *ctx, const char *why);
int he_smpc_nparties(const he_smpc_ctx *ctx);
int he_smpc_me(const he_smpc_ctx *ctx); /* -1 in SIM mode */
int he_smpc_frac(const he_smpc_ctx *ctx);
he_smpc_ring he_smpc_ring_of(const he_smpc_ctx *ctx);
he_smpc_mode he_smpc_mode_of(const he_smpc_ctx *ctx);
he_smpc_protocol he_smpc_protocol_of(const he_smpc_ctx *ctx);
/* True when this process receives values revealed to the party mask. */
bool he_smpc_receives(const he_smpc_ctx *ctx, uint64_t mask);
void he_smpc_stats_get(const he_smpc_ctx *ctx, he_smpc_stats *out);
void he_smpc_stats_reset(he_smpc_ctx *ctx);
/* Connections refused so far because the peer's key is not in the party file. */
unsigned he_smpc_refused(const he_smpc_ctx *ctx);

/* --- keys, party files, the dealer process --------------------------------- */
/* Makes a CURVE key pair: writes the secret key to `secret_path` (mode 0600,
** written whole then linked to its name: refused when anything is there)
** and returns the public key in Z85. */
int he_smpc_keygen(const char *secret_path, char public_z85[HE_SMPC_KEY_Z85 + 1]) HE_WARN_UNUSED;
/* Reads a key file of he_smpc_keygen (refused when others may read it):
** the secret and the public key in Z85 (wipe the secret after use). */
/* ZeroMQ's ZAP handler loop on sock (a ZMQ_REP bound to
** inproc://zeromq.zap.01), shared by the SMPC parties and the HE service:
** each CURVE client's 32-byte public key goes to decide(ud, key, user, n),
** which accepts it (true, optionally writing a User-Id of at most n - 1
** characters into user) or refuses it (the reply says `refused`). Returns
** when the socket is closed, and closes it. */
void he_zap_serve(void *sock, bool (*decide)(void *ud, const uint8_t key[32], char *user, size_t n), void *ud,
                  const char *refused);

int he_smpc_key_read(const char *path, char secret_z85[HE_SMPC_KEY_Z85 + 1],
                     char public_z85[HE_SMPC_KEY_Z85 + 1]) HE_WARN_UNUSED;
/* Party file: one line per node, '#' comments:
**     0 127.0.0.1:5000 <public key, Z85>
**     1 127.0.0.1:5001 <public key, Z85>
**     dealer 127.0.0.1:5002 <public key, Z85>
** parties numbered 0..n-1 (n >= 2); the dealer line is needed for a live
** dealer. Returns the number of computing parties or -1. */
int he_smpc_party_file_check(const char *path) HE_WARN_UNUSED;
/* Runs the dealer (crypto provider) of a NET computation: reads the party
** file and its key, gives each party its randomness seed and serves the
** material requests until every party said it is done (0) or one of them
** fails or stops answering (-1). cfg->me is ignored; ring, prime, frac must
** match the parties'. */
int he_smpc_dealer_serve(const he_smpc_config *cfg) HE_WARN_UNUSED;
/* Offline phase: after a SIM run with cfg.record_plan, generates fresh
** material for the same sequence of requests into DIR/party-0.mat ...
** DIR/party-(n-1).mat (mode 0600, checksummed, written atomically); a later
** run (SIM or NET) with cfg.material_dir = DIR uses it without a dealer,
** once: the run claims each file (DIR/party-I.mat.used), reads it, wipes
** and removes it; a second run with the same folder is refused. */
int he_smpc_offline_write(const he_smpc_ctx *ctx, const char *dir) HE_WARN_UNUSED;

/* The dealer material a SIM context made with cfg.record_plan has asked for
** so far, by kind: pieces, the elements they serve (a matrix or convolution
** triple: its outputs) and the bytes the dealer sends for them (the stats'
** dealer bytes). */
typedef enum he_smpc_material_kind {
    HE_SMPC_MAT_TRIPLE, HE_SMPC_MAT_MATTRIPLE, HE_SMPC_MAT_CONVTRIPLE, HE_SMPC_MAT_TRUNC, HE_SMPC_MAT_CMP,
    HE_SMPC_MAT_NKINDS
} he_smpc_material_kind;
typedef struct he_smpc_material {
    uint64_t pieces[HE_SMPC_MAT_NKINDS], elements[HE_SMPC_MAT_NKINDS], bytes[HE_SMPC_MAT_NKINDS];
    /* what the last party sends the dealer to ask for them when the parties
    ** are processes (a simulated run's stats do not count it) */
    uint64_t request_bytes;
} he_smpc_material;
int he_smpc_material_get(const he_smpc_ctx *ctx, he_smpc_material *out) HE_WARN_UNUSED;

/* --- share tensors -------------------------------------------------------- */
/* New share tensor of zeros (a valid sharing of 0), ndim 0..8; frac is the
** fixed-point scale of the values it holds (0 for integers and bits). */
he_share *he_share_new(he_smpc_ctx *ctx, int ndim, const int64_t *shape, int frac);
void he_share_free(he_share *s); /* wipes the shares; safe on NULL */
int he_share_ndim(const he_share *s);
const int64_t *he_share_shape(const he_share *s);
size_t he_share_size(const he_share *s);
int he_share_frac(const he_share *s);
/* Same elements, new shape (local). */
int he_share_reshape(he_share *s, int ndim, const int64_t *shape) HE_WARN_UNUSED;
int he_share_copy(he_share *out, const he_share *a) HE_WARN_UNUSED;
/* out (ndim-D, of shape) = the elements of a at the flat positions idx[0
** .. size-1], row-major: indexing and slicing, a local operation (each
** party keeps its own shares of the elements taken; nothing is sent). */
int he_share_gather(he_share *out, const he_share *a, const int64_t *idx, int ndim,
                    const int64_t *shape) HE_WARN_UNUSED;
/* Saves the shares held by this process (SIM: every party's) to a file
** (mode 0600); loading refuses a file of another configuration or party. */
int he_share_save(const he_share *s, const char *path) HE_WARN_UNUSED;
he_share *he_share_load(he_smpc_ctx *ctx, const char *path);
/* From a simulated context: the file of party `party` alone, as that
** party's process saves it (rep3: its two shares), for it to load: how a
** model owner deals its weights to a cluster and goes away. */
int he_share_save_party(const he_share *s, int party, const char *path) HE_WARN_UNUSED;
/* One party's own shares (to show that a partial reconstruction says
** nothing): ring64 only, party held by this process. */
int he_share_raw_u64(const he_share *s, int party, uint64_t *out) HE_WARN_UNUSED;
/* Z_p: one party's shares as integers in [0, p). */
int he_share_raw_mpz(const he_share *s, int party, mpz_t *out) HE_WARN_UNUSED;

/* --- input and output ----------------------------------------------------- */
/* Secret-shares values held by party `owner`: `vals` (count = the shape's
** size) is read only in the owner's process (may be NULL elsewhere). The
** owner sends each other party a 32-byte seed: 1 round, 32 B per party. */
int he_smpc_share_double(he_smpc_ctx *ctx, he_share *out, int owner, const double *vals,
                         int ndim, const int64_t *shape) HE_WARN_UNUSED; /* fixed, ctx frac */
int he_smpc_share_int(he_smpc_ctx *ctx, he_share *out, int owner, const int64_t *vals,
                      int ndim, const int64_t *shape, int frac) HE_WARN_UNUSED; /* raw values */
/* Reveals to the parties in `mask` (bit i = party i; HE_SMPC_ALL): 1 round,
** (n-1) or |mask| messages of 8 B/elem (Z_p: bytes of p). Every party calls
** it; `out` is written only where he_smpc_receives(ctx, mask). */
int he_smpc_reveal_double(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, double *out) HE_WARN_UNUSED;
/* Raw integers (Z_p: centred representative in (-p/2, p/2]). */
int he_smpc_reveal_int(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, int64_t *out) HE_WARN_UNUSED;
/* Z_p: integers in [0, p). */
int he_smpc_reveal_mpz(he_smpc_ctx *ctx, const he_share *x, uint64_t mask, mpz_t *out) HE_WARN_UNUSED;

/* --- linear operations (local, no communication) --------------------------- */
/* add, sub, mul, max, lt, gt take two share tensors of one shape or of
** shapes that broadcast as in NumPy (trailing axes aligned, 1 stretches). */
int he_smpc_add(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
int he_smpc_sub(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
int he_smpc_neg(he_smpc_ctx *ctx, he_share *out, const he_share *a) HE_WARN_UNUSED;
/* a + v, v public: nv == 1 (broadcast) or nv == size(a); v encoded at a's frac. */
int he_smpc_add_public(he_smpc_ctx *ctx, he_share *out, const he_share *a, const double *v, size_t nv) HE_WARN_UNUSED;
/* a * k, k public integers (nv == 1 or size(a)): exact, no truncation. */
int he_smpc_mul_public_int(he_smpc_ctx *ctx, he_share *out, const he_share *a, const int64_t *k, size_t nv) HE_WARN_UNUSED;
/* a * v, v public reals at ctx frac, then truncation (Z_2^64). */
int he_smpc_mul_public(he_smpc_ctx *ctx, he_share *out, const he_share *a, const double *v, size_t nv) HE_WARN_UNUSED;
/* Sum over `axis` (-1: every element, giving shape [1]). */
int he_smpc_sum(he_smpc_ctx *ctx, he_share *out, const he_share *a, int axis) HE_WARN_UNUSED;
/* Adds a per-channel vector b (shape [C]) to x of shape (C, ...) or (N, C, ...). */
int he_smpc_add_channel(he_smpc_ctx *ctx, he_share *out, const he_share *x, const he_share *b) HE_WARN_UNUSED;
/* 2-D transpose. */
int he_smpc_transpose(he_smpc_ctx *ctx, he_share *out, const he_share *a) HE_WARN_UNUSED;

/* --- products (Beaver, with the dealer) ------------------------------------ */
/* Element-wise product (shapes broadcast). Beaver triple: 1 round, each party
** sends 2 * 8 B/elem to each other party; then truncation by frac when both
** factors are fractional (dealer truncation: +2 rounds, 8 (n-1)/n B/elem
** and 1 bit per element in all per party; local: nothing). */
int he_smpc_mul(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
/* (m x k) @ (k x n). Matrix triple: 1 round, 8 (mk + kn) B per party to
** each other party; truncation as for mul (2 parties: 4 mn B + mn bits). */
int he_smpc_matmul(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
/* 2-D convolution, x (C, H, W) or (N, C, H, W), w (OC, C, KH, KW), zero
** padding `pad`, `stride`: convolution triple (the dealer masks x and w
** and gives shares of conv(X, W); parties compute with im2col and matrix
** products): 1 round, 8 (size(x) + size(w)) B; truncation as for mul. */
int he_smpc_conv2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, const he_share *w,
                   int stride, int pad) HE_WARN_UNUSED;
/* Average pooling k x k, stride s, on (C, H, W) or (N, C, H, W): local sums,
** then multiplication by 1/k^2 with truncation. */
int he_smpc_avgpool2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, int k, int s) HE_WARN_UNUSED;

/* --- comparisons (Z_2^64) --------------------------------------------------- */
/* Bits (frac 0 shares of 0/1): [a < b], [a > b], [x < 0]. Protocol: the
** dealer's secret-shared bit decomposition (an edaBit: r shared both
** arithmetically and bit by bit in XOR shares); the parties open c = x + r,
** compute msb(x) = c63 ^ r63 ^ [c mod 2^63 < r mod 2^63] with a 6-level
** comparison tree of AND gates on binary Beaver triples, and convert the bit
** to an arithmetic share with a random bit shared both ways. 8 rounds; per
** element and per other party 8 B (open c) + 30 B (120 AND gates) + 1 bit. */
int he_smpc_ltz(he_smpc_ctx *ctx, he_share *out, const he_share *x) HE_WARN_UNUSED;
int he_smpc_lt(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
int he_smpc_gt(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
/* max(x, 0) = x - x [x < 0]: the product shares the comparison's last
** round: 8 rounds, about 54 B/elem per other party. */
int he_smpc_relu(he_smpc_ctx *ctx, he_share *out, const he_share *x) HE_WARN_UNUSED;
/* Element-wise max(a, b) = b + relu(a - b). */
int he_smpc_max(he_smpc_ctx *ctx, he_share *out, const he_share *a, const he_share *b) HE_WARN_UNUSED;
/* Max over the last axis by a tournament (ceil(log2 len) levels of 8 rounds):
** shape (..., L) -> (...) (a vector gives shape [1]). */
int he_smpc_max_reduce(he_smpc_ctx *ctx, he_share *out, const he_share *a) HE_WARN_UNUSED;
/* Max pooling k x k, stride s, on (C, H, W) or (N, C, H, W): all windows
** reduced together by a tournament of ceil(log2 k^2) levels of 8 rounds. */
int he_smpc_maxpool2d(he_smpc_ctx *ctx, he_share *out, const he_share *x, int k, int s) HE_WARN_UNUSED;
/* Index of the (first) maximum over the last axis, as an integer share
** (frac 0): shape (..., L) -> (...) ([1] for a vector). Tournament carrying
** (value, index): ceil(log2 L) levels of 8 rounds (comparison and product). */
int he_smpc_argmax(he_smpc_ctx *ctx, he_share *out, const he_share *a) HE_WARN_UNUSED;

/* --- fixed point helpers ---------------------------------------------------- */
/* round(v * 2^frac) as int64, -1 when not finite or |raw| >= 2^62. */
int he_smpc_encode(double v, int frac, int64_t *raw) HE_WARN_UNUSED;
double he_smpc_decode(int64_t raw, int frac);

#endif
