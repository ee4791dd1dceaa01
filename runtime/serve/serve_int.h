/*
** serve_int.h: what the HE service's server (serve.c) and its front
** (front.c) share: client key lists and their ZAP handler, CURVE server
** sockets, little-endian fields, the clock.
*/
#ifndef HE_SERVE_INT_H
#define HE_SERVE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define SERVE_GRACE_MS 2000
#define SERVE_GRACE_MAX_MS 30000
#define SERVE_POLL_MS 100
/* a request up to max_msg + this gets an error reply; a larger one drops the connection */
#define SERVE_HARD_EXTRA ((int64_t)64 << 20)
/* The socket's ZMQ_MAXMSGSIZE for requests up to max_msg: max_msg +
** SERVE_HARD_EXTRA, or -1 (no limit) past what that can hold. */
static inline int64_t serve_hard_limit(size_t max_msg)
{
    return max_msg > INT64_MAX / 4 ? -1 : (int64_t)max_msg + SERVE_HARD_EXTRA;
}

/* A list of CURVE public keys (one Z85 key a line, '#' comments); none: any key. */
typedef struct serve_keys {
    uint8_t (*key)[32];
    size_t n;
} serve_keys;
int serve_keys_read(serve_keys *k, const char *path);
void serve_keys_free(serve_keys *k);
/* Starts the ZAP handler of zctx (a thread): accepts the keys listed
** (any when none), naming each client by its key in Z85 (User-Id). */
int serve_zap_start(void *zctx, const serve_keys *keys, pthread_t *th);
/* A ROUTER, CURVE server with the secret key (Z85), bound to address. */
void *serve_curve_router(void *zctx, const char *domain, const char *sec, int64_t maxmsg, const char *address);

/* A key set (ckks.h's format) with a secret key: refused unread. */
bool serve_keyset_has_secret(const uint8_t *keys, size_t len);
#define SERVE_SECRET_REFUSED \
    "serve: the key set holds a secret key: send the evaluation keys only (the server never takes a secret key)"
/* Receives one message of up to max frames into fr (more are read and
** dropped: -1); *n the frames kept (close them). */
int serve_recv_frames(void *sock, zmq_msg_t *fr, unsigned max, unsigned *n);

void serve_put_le(uint8_t *p, uint64_t v, int bytes);
uint64_t serve_get_le(const uint8_t *p, int bytes);
int64_t serve_now_ms(void);

#endif
