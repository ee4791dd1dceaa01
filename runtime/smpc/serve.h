/*
** smpc/serve.h: the SMPC service (TF-Encrypted's shape): a cluster of
** computing parties holds a model's weights as shares (dealt by its owner,
** who may go away) and answers clients that are not members of the
** cluster. A client secret-shares its input into the cluster and alone
** receives the result: each party sends it its share of the output (the
** logits, or only the predicted class), and the client adds them up.
** Neither the parties nor the owner see the input; the client sees only
** the output.
**
** Cluster file (what a client needs; every party reads its own line):
**     0 tcp://10.0.0.1:6000 <party 0's public key, Z85>
**     1 tcp://10.0.0.2:6000 <party 1's public key>
** one line a computing party 0..n-1, '#' comments; the public key is the
** party's own (its key file of he_smpc_keygen, as in the party file).
**
** Transport: each party binds a ROUTER socket at its address as a CURVE
** server (he_serve_server_new: ZAP, allow list, size limit); the client
** connects one DEALER socket to each party, pinning each party's key, with
** one fresh key pair for all of them (the parties match a client's shares
** by its key and the request's tag). Messages are those of the HE service
** (runtime/serve/serve.h, kind, session, request, parts):
**   PARAMS ()                        -> OK (the description, text)
**   QUERY  (session = the tag: 64 random bits, the same at every party;
**           parts: "logits" or "class", the shares: this party's slots
**           of the input, 8 B little-endian a value, slot after slot)
**          -> OK (parts: frac, ndim, shape as text "F D S0 S1 ..."; this
**             party's first slot of the output, 8 B a value)
**   anything refused                 -> ERROR (the reason)
** Dealer protocol: party i gets x_i, with x = x_0 + ... + x_{n-1} over
** Z_2^64, n-1 of them uniformly random. rep3: party i gets (x_i, x_{i+1}).
**
** Order: party 0 orders the requests (first come, first served) and tells
** the others (a message per request); every party then tells every other
** whether it holds its share of that request, valid, and whether it is
** stopping (one round); a request held by all is run, one any party lacks
** is refused by all. While idle, party 0 sends a tick every
** min(1 s, timeout / 4), and, under the dealer protocol, the parties ask
** the dealer for one triple every timeout / 3, so that no wait times out
** and a party or dealer that stopped is noticed. SIGTERM (the stop flag) at
** any party finishes the request in flight, answers those queued with an
** error, and stops every party. A failure of the protocol (a party or
** the dealer stopped) ends the service at every party: the requests
** queued there get an error reply naming it.
*/
#ifndef HE_SMPC_SERVE_H
#define HE_SMPC_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/serve.h"
#include "smpc/smpc.h"

#define HE_SMPC_SERVE_MAXCLUSTER HE_SMPC_MAXPARTIES

typedef struct he_smpc_cluster {
    int n;
    char addr[HE_SMPC_SERVE_MAXCLUSTER][256];
    char pub[HE_SMPC_SERVE_MAXCLUSTER][HE_SMPC_KEY_Z85 + 1];
} he_smpc_cluster;
/* Reads a cluster file (n >= 2 parties numbered 0..n-1). */
int he_smpc_cluster_read(const char *path, he_smpc_cluster *c) HE_WARN_UNUSED;

typedef struct he_smpc_serve_limits {
    size_t max_msg;      /* bytes of one request (default 16 MiB): larger ones are refused */
    unsigned max_queue;  /* requests waiting at a party (default 64): more are refused */
    unsigned wait_ms;    /* how long a party waits for its share of a request party 0 ordered (default 2000) */
    unsigned expire_s;   /* a share that party 0 never orders is dropped after this long (default 300) */
} he_smpc_serve_limits;
void he_smpc_serve_limits_default(he_smpc_serve_limits *l);

/* The model: in (this party's shares of the client's input, fixed point at
** the context's frac, the service's shape; the callee owns it) to *out (an
** empty share of the context to write). -1 with he_error: the service
** stops (a collective operation failed, the protocol state is lost). */
typedef int (*he_smpc_serve_fn)(void *ud, he_share *in, he_share *out);

typedef struct he_smpc_serve_stats {
    uint64_t answered, refused, bytes_in, bytes_out;
} he_smpc_serve_stats;

typedef struct he_smpc_server he_smpc_server;
/* Party me's server of a networked context (Z_2^64): binds the address of
** its line of the cluster file with key_file's secret key (the party's key:
** its public key must be the one listed); allow_file NULL: any client. */
he_smpc_server *he_smpc_server_new(he_smpc_ctx *ctx, const char *cluster_file, const char *key_file,
                                   const char *allow_file, const he_smpc_serve_limits *lim, int ndim,
                                   const int64_t *shape);
/* Serves until stopped (*stop at any party), max_requests answered (0: no
** bound; counted by party 0) or a failure (-1). */
int he_smpc_server_run(he_smpc_server *s, he_smpc_serve_fn fn, void *ud, uint64_t max_requests,
                       volatile sig_atomic_t *stop) HE_WARN_UNUSED;
void he_smpc_server_stats(const he_smpc_server *s, he_smpc_serve_stats *st);
/* The service's description (PARAMS): "service smpc", "protocol dealer|rep3",
** "parties N", "frac F", "input S0 S1 ...", "max_mb M", one a line. */
const char *he_smpc_server_params(const he_smpc_server *s);
void he_smpc_server_free(he_smpc_server *s);

/* --- pieces, public for the tests ------------------------------------------------------- */
typedef struct he_smpc_serve_desc {
    he_smpc_protocol protocol;
    int n, frac, ndim;
    int64_t shape[HE_SMPC_MAXDIM];
    size_t size;
} he_smpc_serve_desc;
/* Parses a description (PARAMS' text). */
int he_smpc_serve_desc_parse(const char *text, size_t len, he_smpc_serve_desc *d) HE_WARN_UNUSED;
/* Checks a decoded QUERY for party me of d: *want_class, and its words
** (nslots * size values, 8 B each, little-endian). */
int he_smpc_serve_check_query(const he_serve_msg *m, const he_smpc_serve_desc *d, bool *want_class,
                              const uint8_t **words, size_t *nwords) HE_WARN_UNUSED;
/* The client's sharing of x (d->size reals, encoded at d->frac): the words
** party i gets into out[i] (he_malloc'd, nslots * size words each; free
** with he_free_secret), randomness from libsodium. */
int he_smpc_serve_split(const he_smpc_serve_desc *d, const double *x, uint64_t **out, size_t *nwords) HE_WARN_UNUSED;

/* --- the client --------------------------------------------------------------------------- */
typedef struct he_smpc_client he_smpc_client;
/* Connects to every party of the cluster file, pinning each one's key;
** timeout_ms bounds every wait for replies. */
he_smpc_client *he_smpc_client_new(const char *cluster_file, int timeout_ms);
/* Asks every party for the description (they must agree); the text. */
const char *he_smpc_client_params(he_smpc_client *c);
const he_smpc_serve_desc *he_smpc_client_desc(he_smpc_client *c);
/* Shares x (the service's input size) into the cluster and reconstructs
** the output: *out (he_malloc'd, *nout values, shape in ndim/shape),
** reals (frac > 0) or integers (the class). An ERROR reply from any
** party is -1 with "smpc serve: party I: REASON". */
int he_smpc_client_query(he_smpc_client *c, const double *x, size_t nx, bool want_class, double **out,
                         size_t *nout, int *ndim, int64_t shape[HE_SMPC_MAXDIM], bool *integer) HE_WARN_UNUSED;
/* Bytes sent and received so far (all parties). */
void he_smpc_client_bytes(const he_smpc_client *c, uint64_t *sent, uint64_t *received);
void he_smpc_client_free(he_smpc_client *c);

#endif
