/*
** serve.h: encrypted prediction as a service, the transport and protocol
** (the HE service: a server that hosts a model and never holds a secret
** key; the model itself, keys and ciphertexts are the caller's, through
** callbacks, so this part knows nothing of the language).
**
** Transport: ZeroMQ with CURVE. The server binds one ROUTER socket as a
** CURVE server with the secret key of a key file of he_smpc_keygen (the
** format of smpc.keygen); a client connects a DEALER socket as a CURVE
** client that pins the server's public key (Z85, 40 characters), with a
** fresh key pair of its own. A ZAP handler accepts every client key, or
** only those listed in an allow file (one Z85 public key a line, '#'
** comments); a session is bound to the key that opened it.
**
** Messages: one frame each, little-endian:
**   0  4  magic "HESV"
**   4  1  version (1)
**   5  1  kind (HE_SERVE_*)
**   6  2  zero
**   8  8  session id (0: none; the server picks them at random)
**   16 8  request id (the client's counter; a reply echoes it)
**   24 4  count of parts P
**   28    P times: u64 length L, L bytes
** Requests and their replies:
**   PARAMS  ()                 -> OK (the model's description, text)
**   OPEN    (key set bytes)    -> OK, session id set (no parts)
**   QUERY   (input parts)      -> OK (output parts)
**   CLOSE   ()                 -> OK
**   any refused                -> ERROR (the reason, text)
** A key set holding a secret key is refused before it is read.
**
** Limits (he_serve_limits, settable): the largest message (a larger one
** is refused with ERROR; one over the limit + 64 MiB drops the
** connection, ZMQ_MAXMSGSIZE), the number of sessions open at once (OPEN beyond it is
** refused), the idle time after which a session is closed and its keys
** freed, the most parts in one message.
** Requests are served one at a time, in order of arrival, from any number
** of clients; a client that went away before its reply is not waited for.
** Several workers behind one address: a front (below) and workers, each
** a he_serve_server made by he_serve_worker_new.
*/
#ifndef HE_SERVE_H
#define HE_SERVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "he.h"

#define HE_SERVE_VERSION 1
#define HE_SERVE_HEADER 28
#define HE_SERVE_KEY_Z85 40 /* a CURVE public key in Z85 */

enum {
    HE_SERVE_PARAMS = 1,
    HE_SERVE_OPEN = 2,
    HE_SERVE_QUERY = 3,
    HE_SERVE_CLOSE = 4,
    HE_SERVE_OK = 5,
    HE_SERVE_ERROR = 6,
};

/* A decoded message: views into the buffer it was decoded from. */
typedef struct he_serve_msg {
    unsigned kind;
    uint64_t session, request;
    uint32_t nparts;
    const uint8_t **part; /* he_malloc'd arrays (he_serve_msg_free) */
    size_t *len;
} he_serve_msg;

/* Checks and decodes buf (every length against len, at most max_parts
** parts); -1 with the reason when malformed. */
int he_serve_decode(const uint8_t *buf, size_t len, uint32_t max_parts, he_serve_msg *m) HE_WARN_UNUSED;
void he_serve_msg_free(he_serve_msg *m);
/* Encodes a message into a he_malloc'd buffer. */
int he_serve_encode(unsigned kind, uint64_t session, uint64_t request, uint32_t nparts,
                    const uint8_t *const *part, const size_t *len, uint8_t **out, size_t *outlen) HE_WARN_UNUSED;

typedef struct he_serve_limits {
    size_t max_msg;         /* bytes (default 256 MiB) */
    unsigned max_sessions;  /* open at once (default 64) */
    unsigned idle_s;        /* a session idle this long is closed (default 600) */
    uint32_t max_parts;     /* parts in one message (default 65536) */
} he_serve_limits;
void he_serve_limits_default(he_serve_limits *l);

/* What the server serves: the caller's model. */
typedef struct he_serve_handler {
    void *ud;
    /* the description sent for PARAMS */
    const char *params;
    /* a session's key set (no secret key: checked before); returns the
    ** session's state, or NULL with he_error's reason (sent back) */
    void *(*open)(void *ud, const uint8_t *keys, size_t len);
    /* inputs to outputs (he_malloc'd array of he_malloc'd parts); -1 with
    ** the reason */
    int (*query)(void *ud, void *session, uint32_t nin, const uint8_t *const *in, const size_t *inlen,
                 uint32_t *nout, uint8_t ***out, size_t **outlen);
    /* frees a session's state (its keys) */
    void (*close)(void *ud, void *session);
} he_serve_handler;

typedef struct he_serve_stats {
    uint64_t answered, refused, bytes_in, bytes_out;
    unsigned sessions, expired;
} he_serve_stats;

typedef struct he_serve_server he_serve_server;

/* Binds address (tcp://HOST:PORT) with the key file's secret key; allow_file
** NULL accepts any client key. */
he_serve_server *he_serve_server_new(const char *address, const char *key_file, const char *allow_file,
                                     const he_serve_limits *lim);
/* Serves until *stop is set (checked between requests: the one in flight
** is finished and answered, and so are those that arrive until the socket
** has been quiet for 2 s, at most 30 s: requests on their way when the
** signal came), max_requests have been answered (0: no
** bound), or an interrupt is pending (he_interrupt_pending: returns -1).
** Closes every session before returning. */
int he_serve_run(he_serve_server *s, const he_serve_handler *h, uint64_t max_requests,
                 volatile sig_atomic_t *stop) HE_WARN_UNUSED;
void he_serve_server_stats(const he_serve_server *s, he_serve_stats *st);
/* The address bound (tcp://127.0.0.1:PORT for tcp://127.0.0.1:*), into buf. */
int he_serve_server_endpoint(const he_serve_server *s, char *buf, size_t n);
void he_serve_server_free(he_serve_server *s);
/* Its ROUTER socket (bound, CURVE, the allow list's ZAP, the size limit),
** for a service with its own loop (the SMPC service, runtime/smpc/serve.c). */
void *he_serve_server_socket(he_serve_server *s);

/* --- several workers behind one address -------------------------------------------------------
** A front binds the clients' address (a ROUTER, CURVE server, as a server)
** and a second address for its workers (a ROUTER, CURVE server with the
** same key; only the worker keys of its workers file may connect). A
** worker (a process hosting the model, here or on another machine)
** connects a DEALER to the front's worker address, pinning the front's
** public key, with its own key file, and says it is ready. This is
** ZeroMQ's load-balancing broker (ROUTER to ROUTER): the front assigns a
** session at OPEN to the worker with the fewest requests in flight (then
** the fewest sessions, then in turn), and sends every later request of
** the session to that worker, which alone holds its keys; PARAMS are
** answered by the front with the workers' description (all workers must
** describe the same model). Workers serve at the same time, each one
** request at a time.
**
** The link's messages (ZeroMQ frames; the front's ROUTER adds the
** worker's routing id):
**   worker -> front: "R" wid description   ready (at start)
**                    "H" wid               heartbeat (every HE_SERVE_HEARTBEAT_MS,
**                                          from a thread of its own, busy or not)
**                    "A" client message    a reply to the client
**                    "E" ids               sessions that idled out (u64 each)
**                    "B" wid               leaving (sessions closed)
**   front -> worker: "Q" client owner message   a request (owner: the client's key, Z85)
**                    "S"                   stop
** A worker not heard for HE_SERVE_DEAD_MS (killed, its machine gone) or
** that left is dropped: the requests it had are answered with an error
** (its sessions' keys are gone) and its sessions are forgotten (later
** requests: no such session); the other workers go on. */
#define HE_SERVE_WID 8
#define HE_SERVE_MAX_DESC 65536
#define HE_SERVE_HEARTBEAT_MS 500
#define HE_SERVE_DEAD_MS 10000

typedef struct he_serve_link {
    char kind;
    uint8_t wid[HE_SERVE_WID];            /* R, H, B */
    const uint8_t *client;                /* A, Q: the client's routing id (1 to 255 bytes) */
    size_t client_len;
    char owner[HE_SERVE_KEY_Z85 + 1];     /* Q */
    const uint8_t *body;                  /* A, Q: the message; R: the description; E: the ids */
    size_t body_len;
} he_serve_link;
/* Checks and decodes the frames of a link message (views into them). */
int he_serve_link_decode(unsigned nframes, const uint8_t *const *frame, const size_t *len,
                         he_serve_link *l) HE_WARN_UNUSED;

/* A worker: serves with he_serve_run (as a server; *stop, SIGTERM, also
** stops it, and so does its front's "S") the requests of the front at
** front_address (its worker address), pinning front_public, with the key
** pair of key_file (listed in the front's workers file). */
he_serve_server *he_serve_worker_new(const char *front_address, const char *front_public, const char *key_file,
                                     const he_serve_limits *lim);

typedef struct he_serve_front he_serve_front;
typedef struct he_serve_front_stats {
    uint64_t answered, refused, lost_to_workers; /* lost_to_workers: answered with an error as their worker died */
    unsigned workers, sessions;
} he_serve_front_stats;
/* Binds address for clients (allow_file: their keys, or NULL for any) and
** worker_address for the workers listed in workers_file (required), both
** with key_file's key; lim: max_msg, max_parts (checked here). */
he_serve_front *he_serve_front_new(const char *address, const char *worker_address, const char *key_file,
                                   const char *allow_file, const char *workers_file, const he_serve_limits *lim);
/* Serves until *stop (then waits for the requests in flight at the
** workers, answers what arrives until quiet for 2 s, and tells the
** workers to stop) or max_requests answered (0: no bound). */
int he_serve_front_run(he_serve_front *f, uint64_t max_requests, volatile sig_atomic_t *stop) HE_WARN_UNUSED;
void he_serve_front_stats_get(const he_serve_front *f, he_serve_front_stats *st);
/* The addresses bound (which: 0 the clients', 1 the workers'). */
int he_serve_front_endpoint(const he_serve_front *f, int which, char *buf, size_t n);
void he_serve_front_free(he_serve_front *f);

/* --- the client ----------------------------------------------------------------------------- */
typedef struct he_serve_client he_serve_client;
/* Connects to address, pinning the server's public key (Z85); key_file
** NULL: a fresh key pair. timeout_ms bounds every wait for a reply. */
he_serve_client *he_serve_client_new(const char *address, const char *server_public, const char *key_file,
                                     int timeout_ms);
/* Sends a request and waits for its reply (OK, decoded into *reply, whose
** parts point into *buf: free both); an ERROR reply is -1 with "serve:
** the server refused: REASON". */
int he_serve_call(he_serve_client *c, unsigned kind, uint64_t session, uint32_t nparts,
                  const uint8_t *const *part, const size_t *len, he_serve_msg *reply, uint8_t **buf) HE_WARN_UNUSED;
/* Sends bytes as they are (tests: malformed requests) and waits for a
** reply as he_serve_call does. */
int he_serve_call_raw(he_serve_client *c, const uint8_t *msg, size_t len, he_serve_msg *reply,
                      uint8_t **buf) HE_WARN_UNUSED;
/* Sets the timeout of the waits for a reply (ms, at most the one given
** at creation when > 0); returns the previous one. */
int he_serve_client_timeout(he_serve_client *c, int timeout_ms);
/* Bytes sent and received so far. */
void he_serve_client_bytes(const he_serve_client *c, uint64_t *sent, uint64_t *received);
void he_serve_client_free(he_serve_client *c);

#endif
