/*
** net.c: the parties as processes, over TCP with ZeroMQ and CURVE.
**
** Every node (parties 0..n-1, the dealer n) binds one ROUTER socket at its
** address from the party file, as a CURVE server with its secret key, and
** connects one DEALER socket to each node it talks to, as a CURVE client
** that knows the server's public key (so a node that does not hold the
** listed key cannot pass the handshake). Incoming connections go through a
** ZAP handler (a thread) that accepts only the public keys listed in the
** party file and names the peer by its index ("User-Id"): a peer with an
** unknown key is refused and counted. Messages are one frame: an 8-byte
** header (type, payload length) and the payload; per peer they arrive in
** order, messages from other peers than the one awaited are queued.
** A node that fails tells the others (MSG_ABORT); an abort from any node
** ends every wait at once with that node's message. Each outgoing
** connection is watched (zmq_socket_monitor): when the one to the awaited
** node closes (its process ended or was killed) the wait ends shortly
** after. Every wait has a deadline (timeout_ms, zmq_poll) for silent
** deaths; a node that fails on one tells the others in turn.
*/
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "smpc/smpc_int.h"

#define NODES (HE_SMPC_MAXPARTIES + 1)

typedef struct inbox_msg {
    struct inbox_msg *next;
    uint8_t type;
    size_t len;
    uint8_t data[];
} inbox_msg;

struct smpc_net {
    void *zctx;
    void *router;
    void *out[NODES];
    pthread_t zap;
    bool zap_running;
    int nnodes; /* n + 1 when the file names a dealer */
    bool has_dealer;
    uint8_t pub[NODES][32];
    char addr[NODES][256];
    char mypub[HE_SMPC_KEY_Z85 + 1], mysec[HE_SMPC_KEY_Z85 + 1];
    atomic_uint refused;
    inbox_msg *head[NODES], *tail[NODES];
    /* the connection to each node, watched (zmq_socket_monitor): when it
    ** closes, the node's process ended (killed, crashed) or the network
    ** failed, and a wait for it ends at once instead of at the timeout */
    void *mon[NODES];
    int64_t gone_at[NODES]; /* when it closed (ms, monotonic); 0: open */
    bool denied[NODES];     /* the node refused this one's key */
    bool aborted;           /* the others were told (or told this node) to stop */
};

unsigned net_refused(const smpc_net *net) { return atomic_load(&((smpc_net *)net)->refused); }
bool net_aborted(const smpc_net *net) { return net->aborted; }

/* --- party files and keys ------------------------------------------------------ */
typedef struct party_file {
    int n;
    bool has_dealer;
    char addr[NODES][256];
    uint8_t pub[NODES][32];
} party_file;

static int party_file_read(const char *path, party_file *pf)
{
    memset(pf, 0, sizeof *pf);
    FILE *f = fopen(path, "r");
    if (!f) return he_error("smpc: cannot open the party file %s: %s", path, strerror(errno));
    char line[1024];
    bool seen[NODES] = {0};
    int lineno = 0, maxidx = -1, rc = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == 0) continue;
        char who[64], addr[256], key[128], extra[8];
        int k = sscanf(s, "%63s %255s %127s %7s", who, addr, key, extra);
        if (k != 3) {
            he_error("smpc: party file %s line %d: expected 'INDEX|dealer HOST:PORT PUBLIC-KEY'", path, lineno);
            goto out;
        }
        int idx;
        if (strcmp(who, "dealer") == 0) {
            idx = HE_SMPC_MAXPARTIES;
        } else {
            char *end;
            long v = strtol(who, &end, 10);
            if (*end || v < 0 || v >= HE_SMPC_MAXPARTIES) {
                he_error("smpc: party file %s line %d: '%s' is not a party index 0..%d or 'dealer'", path, lineno, who,
                         HE_SMPC_MAXPARTIES - 1);
                goto out;
            }
            idx = (int)v;
            if (idx > maxidx) maxidx = idx;
        }
        if (seen[idx]) {
            he_error("smpc: party file %s line %d: %s listed twice", path, lineno, who);
            goto out;
        }
        char *colon = strrchr(addr, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == addr || !end || *end || port < 1 || port > 65535) {
            he_error("smpc: party file %s line %d: '%s' is not HOST:PORT", path, lineno, addr);
            goto out;
        }
        if (strlen(key) != HE_SMPC_KEY_Z85 || !zmq_z85_decode(pf->pub[idx], key)) {
            he_error("smpc: party file %s line %d: '%s' is not a Z85 CURVE public key (40 characters)", path, lineno,
                     key);
            goto out;
        }
        seen[idx] = true;
        snprintf(pf->addr[idx], sizeof pf->addr[idx], "%s", addr);
    }
    if (maxidx < 1) {
        he_error("smpc: party file %s lists %d part%s; at least 2 are needed", path, maxidx + 1, maxidx == 0 ? "y" : "ies");
        goto out;
    }
    for (int i = 0; i <= maxidx; i++)
        if (!seen[i]) {
            he_error("smpc: party file %s: party %d is missing (parties are numbered 0..%d)", path, i, maxidx);
            goto out;
        }
    pf->n = maxidx + 1;
    pf->has_dealer = seen[HE_SMPC_MAXPARTIES];
    if (pf->has_dealer) {
        memcpy(pf->addr[pf->n], pf->addr[HE_SMPC_MAXPARTIES], sizeof pf->addr[0]);
        memcpy(pf->pub[pf->n], pf->pub[HE_SMPC_MAXPARTIES], 32);
    }
    for (int i = 0; i < pf->n + (pf->has_dealer ? 1 : 0); i++)
        for (int j = 0; j < i; j++)
            if (memcmp(pf->pub[i], pf->pub[j], 32) == 0) {
                he_error("smpc: party file %s: two nodes share one public key", path);
                goto out;
            }
    rc = pf->n;
out:
    fclose(f);
    return rc;
}

int he_smpc_party_file_check(const char *path)
{
    if (!path) he_misuse("he_smpc_party_file_check: NULL");
    party_file *pf = he_malloc(sizeof *pf);
    if (!pf) return -1;
    int n = party_file_read(path, pf);
    he_free(pf);
    return n;
}

#define KEY_MAGIC "he-smpc-secret-key-1"

int he_smpc_keygen(const char *secret_path, char public_z85[HE_SMPC_KEY_Z85 + 1])
{
    if (!secret_path || !public_z85) he_misuse("he_smpc_keygen: NULL");
    char sec[HE_SMPC_KEY_Z85 + 1];
    if (zmq_curve_keypair(public_z85, sec) != 0)
        return he_error("smpc: cannot make a CURVE key pair (libzmq without CURVE?): %s", zmq_strerror(errno));
    char buf[128];
    int len = snprintf(buf, sizeof buf, "%s\n%s\n", KEY_MAGIC, sec);
    he_memzero(sec, sizeof sec);
    /* written whole under a temporary name (the shared writer: 0600,
    ** synced), then linked to its name: link never replaces a file, so an
    ** existing key (or anything else there) is never overwritten */
    size_t pl = strlen(secret_path);
    char *tmp = he_malloc(pl + 32);
    if (!tmp) {
        he_memzero(buf, sizeof buf);
        return -1;
    }
    snprintf(tmp, pl + 32, "%s.%016llx.new", secret_path, (unsigned long long)he_random_u64());
    int rc = he_file_write(tmp, buf, (size_t)len, true, "smpc");
    he_memzero(buf, sizeof buf);
    if (rc == 0 && link(tmp, secret_path) < 0)
        rc = he_error("smpc: cannot create the key file %s: %s", secret_path, strerror(errno));
    if (unlink(tmp) < 0 && rc == 0) rc = he_error("smpc: cannot remove %s: %s", tmp, strerror(errno));
    he_free(tmp);
    return rc;
}

static int key_file_read(const char *path, char sec[HE_SMPC_KEY_Z85 + 1], char pub[HE_SMPC_KEY_Z85 + 1])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return he_error("smpc: cannot open the key file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return he_error("smpc: %s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return he_error("smpc: the key file %s is readable by others (mode %03o): chmod 600 it", path,
                        (unsigned)(st.st_mode & 0777));
    }
    char buf[256];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k < 0) return he_error("smpc: cannot read %s", path);
    buf[k] = 0;
    size_t ml = strlen(KEY_MAGIC);
    int rc = 0;
    if (strncmp(buf, KEY_MAGIC, ml) != 0 || buf[ml] != '\n' || (size_t)k < ml + 1 + HE_SMPC_KEY_Z85 ||
        (buf[ml + 1 + HE_SMPC_KEY_Z85] != '\n' && buf[ml + 1 + HE_SMPC_KEY_Z85] != 0)) {
        rc = he_error("smpc: %s is not an he secret key file", path);
    } else {
        memcpy(sec, buf + ml + 1, HE_SMPC_KEY_Z85);
        sec[HE_SMPC_KEY_Z85] = 0;
        uint8_t raw[32];
        if (!zmq_z85_decode(raw, sec) || zmq_curve_public(pub, sec) != 0)
            rc = he_error("smpc: %s holds a damaged key", path);
        he_memzero(raw, sizeof raw);
    }
    he_memzero(buf, sizeof buf);
    return rc;
}

/* --- ZAP: who may connect ------------------------------------------------------------ */
typedef struct zap_arg {
    smpc_net *net;
    void *sock;
} zap_arg;

void he_zap_serve(void *sock, bool (*decide)(void *ud, const uint8_t key[32], char *user, size_t n), void *ud,
                  const char *refused)
{
    for (;;) {
        zmq_msg_t part[8];
        int np = 0;
        bool more = true, dead = false;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) < 0) {
                zmq_msg_close(&m);
                if (errno == EINTR) continue;
                dead = true;
                break;
            }
            more = zmq_msg_more(&m);
            if (np < 8)
                part[np++] = m;
            else
                zmq_msg_close(&m);
        }
        if (dead) {
            for (int i = 0; i < np; i++) zmq_msg_close(&part[i]);
            break;
        }
        /* version, request id, domain, address, identity, mechanism, key */
        const char *status = "400", *text = refused;
        char user[64] = "";
        if (np >= 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
            zmq_msg_size(&part[6]) == 32 && decide(ud, zmq_msg_data(&part[6]), user, sizeof user)) {
            status = "200";
            text = "OK";
        }
        zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
        if (np >= 2)
            zmq_send(sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
        else
            zmq_send(sock, "", 0, ZMQ_SNDMORE);
        zmq_send(sock, status, 3, ZMQ_SNDMORE);
        zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(sock, "", 0, 0);
        for (int i = 0; i < np; i++) zmq_msg_close(&part[i]);
    }
    zmq_close(sock);
}

/* A peer is one of the party file's nodes; its User-Id is its number. */
static bool party_key(void *ud, const uint8_t key[32], char *user, size_t n)
{
    smpc_net *net = ud;
    for (int i = 0; i < net->nnodes; i++)
        if (memcmp(key, net->pub[i], 32) == 0) {
            snprintf(user, n, "%d", i);
            return true;
        }
    atomic_fetch_add(&net->refused, 1);
    return false;
}

static void *zap_loop(void *arg)
{
    zap_arg *za = arg;
    smpc_net *net = za->net;
    void *sock = za->sock;
    he_free(za);
    he_zap_serve(sock, party_key, net, "unknown key");
    return NULL;
}

/* --- open and close ------------------------------------------------------------------- */
static const char *node_name(const he_smpc_ctx *ctx, int node, char *buf, size_t n)
{
    if (node == ctx->n)
        snprintf(buf, n, "the dealer");
    else
        snprintf(buf, n, "party %d", node);
    return buf;
}

void net_close(smpc_net *net)
{
    if (!net) return;
    for (int i = 0; i < NODES; i++) {
        if (net->mon[i]) zmq_close(net->mon[i]);
        if (net->out[i]) zmq_close(net->out[i]);
        inbox_msg *m = net->head[i];
        while (m) {
            inbox_msg *nx = m->next;
            he_free_secret(m, sizeof *m + m->len);
            m = nx;
        }
    }
    if (net->router) zmq_close(net->router);
    if (net->zctx) {
        zmq_ctx_shutdown(net->zctx);
        if (net->zap_running) pthread_join(net->zap, NULL);
        zmq_ctx_term(net->zctx);
    }
    he_free_secret(net, sizeof *net);
}

static int set_curve_client(void *s, const uint8_t server[32], const char *pub, const char *sec)
{
    char sz[HE_SMPC_KEY_Z85 + 1];
    zmq_z85_encode(sz, server, 32);
    return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, sz, HE_SMPC_KEY_Z85) |
           zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, HE_SMPC_KEY_Z85) |
           zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, HE_SMPC_KEY_Z85);
}


int net_open(he_smpc_ctx *ctx, const he_smpc_config *cfg, bool dealer)
{
    if (!zmq_has("curve")) return he_error("smpc: this libzmq has no CURVE security");
    party_file *pf = he_malloc(sizeof *pf);
    smpc_net *net = he_calloc(1, sizeof *net);
    int rc = -1;
    if (!pf || !net) goto out;
    if (party_file_read(cfg->party_file, pf) < 0) goto out;
    ctx->net = net;
    net->has_dealer = pf->has_dealer;
    net->nnodes = pf->n + (pf->has_dealer ? 1 : 0);
    memcpy(net->pub, pf->pub, sizeof net->pub);
    memcpy(net->addr, pf->addr, sizeof net->addr);
    if (dealer && !pf->has_dealer) {
        he_error("smpc: the party file %s names no dealer", cfg->party_file);
        goto out;
    }
    if (!dealer && !pf->has_dealer && !ctx->matfile && !ctx->rep3) {
        he_error("smpc: the party file %s names no dealer and no material files were given", cfg->party_file);
        goto out;
    }
    if (key_file_read(cfg->secret_key_file, net->mysec, net->mypub) < 0) goto out;
    uint8_t mine[32];
    zmq_z85_decode(mine, net->mypub);
    if (memcmp(mine, net->pub[ctx->me], 32) != 0) {
        char nm[32];
        he_error("smpc: the key in %s is not the key the party file lists for %s", cfg->secret_key_file,
                 node_name(ctx, ctx->me, nm, sizeof nm));
        goto out;
    }
    net->zctx = zmq_ctx_new();
    if (!net->zctx) {
        he_error("smpc: zmq_ctx_new: %s", zmq_strerror(errno));
        goto out;
    }
    zmq_ctx_set(net->zctx, ZMQ_BLOCKY, 0);
    /* the ZAP handler first, so that no connection is ever accepted without it */
    void *zs = zmq_socket(net->zctx, ZMQ_REP);
    if (!zs || zmq_bind(zs, "inproc://zeromq.zap.01") != 0) {
        if (zs) zmq_close(zs);
        he_error("smpc: cannot start the key check (ZAP): %s", zmq_strerror(errno));
        goto out;
    }
    zap_arg *za = he_malloc(sizeof *za);
    if (!za) {
        zmq_close(zs);
        goto out;
    }
    za->net = net;
    za->sock = zs;
    if (pthread_create(&net->zap, NULL, zap_loop, za) != 0) {
        he_free(za);
        zmq_close(zs);
        he_error("smpc: cannot start the key check thread");
        goto out;
    }
    net->zap_running = true;
    int zero = 0, one = 1, linger = 1000, to = ctx->timeout_ms;
    net->router = zmq_socket(net->zctx, ZMQ_ROUTER);
    if (!net->router) goto zerr;
    zmq_setsockopt(net->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(net->router, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(net->router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(net->router, ZMQ_ZAP_DOMAIN, "he", 2);
    if (zmq_setsockopt(net->router, ZMQ_CURVE_SECRETKEY, net->mysec, HE_SMPC_KEY_Z85) != 0) goto zerr;
    char ep[300];
    /* connections first, so that a node that cannot listen (its port is
    ** taken) can still tell the others why it stops */
    for (int j = 0; j < net->nnodes; j++) {
        if (j == ctx->me) continue;
        if (!dealer && j == ctx->n && (ctx->matfile || ctx->rep3)) continue; /* no dealer needed */
        void *s = zmq_socket(net->zctx, ZMQ_DEALER);
        if (!s) goto zerr;
        net->out[j] = s;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &to, sizeof to);
        if (set_curve_client(s, net->pub[j], net->mypub, net->mysec) != 0) goto zerr;
        snprintf(ep, sizeof ep, "inproc://he-smpc-monitor-%d", j);
        if (zmq_socket_monitor(s, ep, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
            !(net->mon[j] = zmq_socket(net->zctx, ZMQ_PAIR)))
            goto zerr;
        zmq_setsockopt(net->mon[j], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(net->mon[j], ep) != 0) goto zerr;
        snprintf(ep, sizeof ep, "tcp://%s", net->addr[j]);
        if (zmq_connect(s, ep) != 0) {
            he_error("smpc: cannot connect to %s: %s", ep, zmq_strerror(errno));
            goto out;
        }
    }
    snprintf(ep, sizeof ep, "tcp://%s", net->addr[ctx->me]);
    if (zmq_bind(net->router, ep) != 0) {
        char nm[32];
        he_error("smpc: %s cannot listen on %s: %s", node_name(ctx, ctx->me, nm, sizeof nm), ep, zmq_strerror(errno));
        goto out;
    }
    if (!dealer) {
        /* hello: every party checks that the others run the same configuration */
        uint8_t dg[32], got[32];
        ctx_digest(ctx, dg);
        for (int j = 0; j < ctx->n; j++)
            if (j != ctx->me && net_send(ctx, j, MSG_HELLO, dg, 32) < 0) goto out;
        for (int j = 0; j < ctx->n; j++) {
            if (j == ctx->me) continue;
            if (net_recv(ctx, j, MSG_HELLO, got, 32) < 0) goto out;
            if (memcmp(got, dg, 32) != 0) {
                he_error("smpc: party %d runs another configuration (parties, ring, prime, frac or truncation)", j);
                goto out;
            }
        }
        if (!ctx->matfile && !ctx->rep3) {
            uint8_t seed[64];
            if (net_recv(ctx, ctx->n, MSG_SEED, seed, 64) < 0) goto out;
            if (memcmp(seed, dg, 32) != 0) {
                he_memzero(seed, sizeof seed);
                he_error("smpc: the dealer runs another configuration (parties, ring, prime, frac or truncation)");
                goto out;
            }
            prg_seed(&ctx->seedprg, seed + 32);
            he_memzero(seed, sizeof seed);
        }
        ctx->stats.rounds++;
    }
    rc = 0;
    goto out;
zerr:
    he_error("smpc: zeromq: %s", zmq_strerror(errno));
out:
    he_free(pf);
    if (rc < 0 && ctx->net) {
        net_abort_all(ctx, he_errmsg());
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", he_errmsg());
        net_close(ctx->net);
        ctx->net = NULL;
        he_error("%s", keep);
    }
    return rc;
}

/* --- messages ---------------------------------------------------------------------------- */
/* Outgoing messages carry shares and seeds: their buffers are ours, wiped
** when ZeroMQ is done with them (it calls this from its I/O thread). */
static void msg_wipe_free(void *data, void *hint) { he_free_secret(data, (size_t)(uintptr_t)hint); }

static int send_raw(he_smpc_ctx *ctx, int node, uint8_t type, const void *buf, size_t len)
{
    smpc_net *net = ctx->net;
    char nm[32];
    if (node < 0 || node >= NODES || !net->out[node]) return he_error("smpc: no connection to node %d", node);
    zmq_msg_t m;
    uint8_t *d = he_malloc(len + 8);
    if (!d) return he_error("smpc: out of memory for a message");
    if (zmq_msg_init_data(&m, d, len + 8, msg_wipe_free, (void *)(uintptr_t)(len + 8)) != 0) {
        he_free(d);
        return he_error("smpc: out of memory for a message");
    }
    memset(d, 0, 8);
    d[0] = type;
    uint32_t l32 = (uint32_t)len;
    memcpy(d + 4, &l32, 4);
    if (len) memcpy(d + 8, buf, len);
    if (zmq_msg_send(&m, net->out[node], 0) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        if (e == EAGAIN)
            return he_error("smpc: %s did not take a message within %d ms (it stopped or is unreachable)",
                            node_name(ctx, node, nm, sizeof nm), ctx->timeout_ms);
        return he_error("smpc: cannot send to %s: %s", node_name(ctx, node, nm, sizeof nm), zmq_strerror(e));
    }
    ctx->stats.bytes_sent[ctx->me] += len + 8;
    ctx->stats.messages++;
    return 0;
}

int net_send(he_smpc_ctx *ctx, int node, uint8_t type, const void *buf, size_t len)
{
    if (len > UINT32_MAX) return he_error("smpc: message too large");
    if (send_raw(ctx, node, type, buf, len) < 0) {
        net_abort_all(ctx, he_errmsg());
        return -1;
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a wait goes on after the awaited node's connection closed: its
** last messages may still be on their way (they come over another
** connection than the one watched). */
#define GONE_GRACE_MS 1000
/* After a timeout waiting for a party, how long a node listens for
** another's abort before it blames that party: the one that stopped
** answering may be a third (the dealer stops, the last party times out on
** it and tells the others, who were waiting for the last party). A wait
** for the dealer has none: the dealer waits for nobody while it owes an
** answer. */
#define ABORT_GRACE_MS 1000

/* One event of the watched connection to node j. */
static void monitor_event(smpc_net *net, int j)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&ev, net->mon[j], ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_more(&ev)) zmq_msg_recv(&addr, net->mon[j], 0);
        uint16_t e = 0;
        if (zmq_msg_size(&ev) >= 2) memcpy(&e, zmq_msg_data(&ev), 2);
        if (e == ZMQ_EVENT_DISCONNECTED && !net->gone_at[j]) net->gone_at[j] = now_ms();
        if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            net->gone_at[j] = 0;
            net->denied[j] = false;
        }
        if (e == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) net->denied[j] = true;
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
}

/* The error of a wait for node `waiting_for` that got nothing. */
static int wait_error(he_smpc_ctx *ctx, int waiting_for, bool gone)
{
    smpc_net *net = ctx->net;
    char nm[32], extra[160] = "";
    unsigned ref = net_refused(net);
    if (ref)
        snprintf(extra, sizeof extra, "; %u connection(s) were refused because their key is not in the party file",
                 ref);
    node_name(ctx, waiting_for, nm, sizeof nm);
    if (net->denied[waiting_for])
        return he_error("smpc: %s refuses the key of this node (do the party files list the same keys?)%s", nm,
                        extra);
    if (gone)
        return he_error("smpc: %s stopped: its connection closed (the process ended or was killed)%s", nm, extra);
    if (ref) return he_error("smpc: %s sent nothing for %d ms (timeout)%s", nm, ctx->timeout_ms, extra);
    return he_error("smpc: %s sent nothing for %d ms: it stopped or is unreachable (timeout)", nm, ctx->timeout_ms);
}

/* Receives one message from anyone into the inbox: 0, or -1 when the
** deadline passed or the awaited node is gone, and when any node sent an
** abort (this node then stops with that node's message). */
static int pump(he_smpc_ctx *ctx, int64_t deadline, int waiting_for)
{
    smpc_net *net = ctx->net;
    char nm[32];
    bool grace = false; /* past the deadline: listening for an abort only */
    for (;;) {
        if (he_interrupt_pending()) /* Ctrl-C or SIGTERM while waiting for a peer */
            return he_error("smpc: %s while waiting for %s", he_interrupt_message(),
                            node_name(ctx, waiting_for, nm, sizeof nm));
        int64_t now = now_ms(), until = deadline;
        bool gone = false;
        if (waiting_for >= 0 && net->gone_at[waiting_for] && net->gone_at[waiting_for] + GONE_GRACE_MS < until) {
            until = net->gone_at[waiting_for] + GONE_GRACE_MS;
            gone = true;
        }
        if (until <= now && !grace) {
            if (gone) return wait_error(ctx, waiting_for, true);
            if (waiting_for == ctx->n) return wait_error(ctx, waiting_for, false);
            grace = true;
            deadline = now + ABORT_GRACE_MS;
            continue;
        }
        if (grace && until <= now) return wait_error(ctx, waiting_for, false);
        zmq_pollitem_t it[NODES + 1];
        int who[NODES + 1], k = 0;
        it[k] = (zmq_pollitem_t){net->router, 0, ZMQ_POLLIN, 0};
        who[k++] = -1;
        for (int j = 0; j < NODES; j++)
            if (net->mon[j]) {
                it[k] = (zmq_pollitem_t){net->mon[j], 0, ZMQ_POLLIN, 0};
                who[k++] = j;
            }
        /* in slices: a signal may ask to stop (it may be handled by
        ** another thread, leaving zmq_poll uninterrupted) */
        long slice = (long)(until - now);
        if (slice > 100) slice = 100;
        int r = zmq_poll(it, k, slice);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return he_error("smpc: zmq_poll: %s", zmq_strerror(errno));
        for (int i = 1; i < k; i++)
            if (it[i].revents & ZMQ_POLLIN) monitor_event(net, who[i]);
        if (!(it[0].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&id, net->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            if (errno == EAGAIN || errno == EINTR) continue;
            return he_error("smpc: receive: %s", zmq_strerror(errno));
        }
        if (!zmq_msg_more(&id) || zmq_msg_recv(&m, net->router, 0) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            continue;
        }
        const char *uid = zmq_msg_gets(&m, "User-Id");
        int from = -1;
        if (uid && *uid) from = atoi(uid);
        size_t sz = zmq_msg_size(&m);
        const uint8_t *d = zmq_msg_data(&m);
        uint32_t l32 = 0;
        if (sz >= 8) memcpy(&l32, d + 4, 4);
        if (from < 0 || from >= net->nnodes || from == ctx->me || sz < 8 || l32 != sz - 8) {
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            continue; /* not from a listed peer, or malformed: dropped */
        }
        if (d[0] == MSG_ABORT) {
            /* a node stopped: so does this one, with its message (the
            ** others had it from that node too: nothing is passed on) */
            net->aborted = true;
            const char *why = (const char *)d + 8;
            int len = (int)(sz - 8 > 400 ? 400 : sz - 8);
            if (len > 6 && memcmp(why, "smpc: ", 6) == 0) why += 6, len -= 6;
            he_error("smpc: %s stopped: %.*s", node_name(ctx, from, nm, sizeof nm), len, why);
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            return -1;
        }
        if (grace) {
            /* the awaited node's message came late: keep it, stop waiting for an abort */
            grace = false;
        }
        inbox_msg *im = he_malloc(sizeof *im + (sz - 8));
        if (!im) {
            zmq_msg_close(&id);
            zmq_msg_close(&m);
            return -1;
        }
        im->next = NULL;
        im->type = d[0];
        im->len = sz - 8;
        memcpy(im->data, d + 8, sz - 8);
        he_memzero(zmq_msg_data(&m), sz);
        zmq_msg_close(&id);
        zmq_msg_close(&m);
        if (net->tail[from])
            net->tail[from]->next = im;
        else
            net->head[from] = im;
        net->tail[from] = im;
        return 0;
    }
}

static int recv_raw(he_smpc_ctx *ctx, int node, uint8_t type, void *buf, size_t len, int64_t wait_ms)
{
    smpc_net *net = ctx->net;
    char nm[32];
    int64_t deadline = now_ms() + wait_ms;
    while (!net->head[node])
        if (pump(ctx, deadline, node) < 0) return -1;
    inbox_msg *im = net->head[node];
    net->head[node] = im->next;
    if (!im->next) net->tail[node] = NULL;
    int rc = 0;
    if (im->type != type) {
        rc = he_error("smpc: protocol error: %s sent message type %u where %u was expected (do all parties run the "
                      "same program?)",
                      node_name(ctx, node, nm, sizeof nm), im->type, type);
    } else if (im->len != len) {
        rc = he_error("smpc: protocol error: %s sent %zu bytes where %zu were expected (do all parties run the same "
                      "program?)",
                      node_name(ctx, node, nm, sizeof nm), im->len, len);
    } else {
        memcpy(buf, im->data, len);
    }
    he_free_secret(im, sizeof *im + im->len);
    return rc;
}

int net_recv(he_smpc_ctx *ctx, int node, uint8_t type, void *buf, size_t len)
{
    if (recv_raw(ctx, node, type, buf, len, ctx->timeout_ms) < 0) {
        net_abort_all(ctx, he_errmsg());
        return -1;
    }
    return 0;
}

int net_recv_bye(he_smpc_ctx *ctx, int node)
{
    uint8_t none;
    int64_t wait = ctx->timeout_ms > HE_SMPC_BYE_WAIT_MS ? ctx->timeout_ms : HE_SMPC_BYE_WAIT_MS;
    if (recv_raw(ctx, node, MSG_BYE, &none, 0, wait) < 0) {
        net_abort_all(ctx, he_errmsg());
        return -1;
    }
    return 0;
}

void net_abort_all(he_smpc_ctx *ctx, const char *why)
{
    smpc_net *net = ctx->net;
    if (!net) return;
    if (net->aborted) return; /* told already, or stopping because another node told this one */
    net->aborted = true;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why);
    /* a dead peer must not hold up the exit for long, a live one that is
    ** still connecting must get the message: up to 1 s */
    int shortto = 1000;
    for (int j = 0; j < NODES; j++) {
        if (!net->out[j]) continue;
        zmq_setsockopt(net->out[j], ZMQ_SNDTIMEO, &shortto, sizeof shortto);
        zmq_setsockopt(net->out[j], ZMQ_LINGER, &shortto, sizeof shortto);
        zmq_msg_t m;
        size_t len = strlen(msg);
        if (zmq_msg_init_size(&m, len + 8) != 0) continue;
        uint8_t *d = zmq_msg_data(&m);
        memset(d, 0, 8);
        d[0] = MSG_ABORT;
        uint32_t l32 = (uint32_t)len;
        memcpy(d + 4, &l32, 4);
        memcpy(d + 8, msg, len);
        if (zmq_msg_send(&m, net->out[j], ZMQ_DONTWAIT) < 0) zmq_msg_close(&m);
    }
    /* keep the caller's message */
    he_error("%s", msg);
}

/* A CURVE key file of he_smpc_keygen (also the HE service's, runtime/serve/). */
int he_smpc_key_read(const char *path, char secret_z85[HE_SMPC_KEY_Z85 + 1], char public_z85[HE_SMPC_KEY_Z85 + 1])
{
    return key_file_read(path, secret_z85, public_z85);
}
