/*
** relay.c: a TCP relay that delays and paces what it forwards, for
** bench/smpc/wan.sh on kernels without tc netem (sch_netem). One process
** per network namespace carries that node's outgoing connections:
**
**   relay DELAY_US RATE_BIT_S LPORT:HOST:PORT [LPORT:HOST:PORT ...]
**
** listens on 127.0.0.1:LPORT and forwards each accepted connection to
** HOST:PORT. Every chunk read is written out DELAY_US microseconds after
** the link has sent it, the link sending at RATE_BIT_S bits per second:
** one link for everything this node sends (as netem on the node's own
** interface), one per connection for the replies on it. It runs until
** killed; a connection that closes on one side is closed on the other
** once what it sent has been delivered.
**
** Not the kernel's model: TCP's own acknowledgements and windows end at
** the relay, so the delay is paid once per message, not per window. For a
** protocol's rounds (small messages, one round trip each) the two agree.
*/
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAXL = 16, MAXC = 64, CHUNK = 65536 };

typedef struct chunk {
    struct chunk *next;
    int64_t due;
    size_t len;
    unsigned char data[];
} chunk;

typedef struct pipe_ {
    int from, to;      /* read from, write to */
    int64_t *link;     /* when the link is free (us) */
    int64_t own_link;  /* the reverse direction's own link */
    chunk *head, *tail;
    int eof;           /* from closed: shut `to` down once drained */
} pipe_;

static struct {
    int fd;
    char host[64];
    int port;
} lst[MAXL];
static pipe_ pipes[2 * MAXC];
static int npipes;
static int64_t delay_us, egress_free;
static double rate;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void drop(pipe_ *p)
{
    while (p->head) {
        chunk *c = p->head;
        p->head = c->next;
        free(c);
    }
    p->tail = NULL;
}

/* Closes a connection (both of its pipes) for good. */
static void close_pair(int k)
{
    pipe_ *a = &pipes[2 * k], *b = &pipes[2 * k + 1];
    if (a->from < 0) return;
    close(a->from);
    close(a->to);
    drop(a);
    drop(b);
    a->from = a->to = b->from = b->to = -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: relay DELAY_US RATE_BIT_S LPORT:HOST:PORT...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    delay_us = atoll(argv[1]);
    rate = atof(argv[2]);
    int nl = 0;
    for (int i = 3; i < argc && nl < MAXL; i++, nl++) {
        int lport;
        if (sscanf(argv[i], "%d:%63[^:]:%d", &lport, lst[nl].host, &lst[nl].port) != 3) {
            fprintf(stderr, "relay: bad spec %s\n", argv[i]);
            return 2;
        }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
            fprintf(stderr, "relay: cannot listen on 127.0.0.1:%d: %s\n", lport, strerror(errno));
            return 1;
        }
        lst[nl].fd = fd;
    }
    for (int k = 0; k < 2 * MAXC; k++) pipes[k].from = pipes[k].to = -1;
    static unsigned char buf[CHUNK];
    for (;;) {
        struct pollfd pf[MAXL + 2 * MAXC];
        int who[MAXL + 2 * MAXC], n = 0;
        for (int i = 0; i < nl; i++) {
            pf[n] = (struct pollfd){lst[i].fd, POLLIN, 0};
            who[n++] = -1 - i;
        }
        int64_t now = now_us(), wait = -1;
        for (int k = 0; k < npipes; k++) {
            pipe_ *p = &pipes[k];
            if (p->from < 0) continue;
            if (!p->eof) {
                pf[n] = (struct pollfd){p->from, POLLIN, 0};
                who[n++] = k;
            }
            if (p->head) {
                int64_t w = p->head->due - now;
                if (w < 0) w = 0;
                if (wait < 0 || w < wait) wait = w;
            }
        }
        int ms = wait < 0 ? -1 : (int)((wait + 999) / 1000);
        if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (who[i] < 0) { /* a new connection */
                int l = -1 - who[i], c = accept(lst[l].fd, NULL, NULL), one = 1;
                if (c < 0) continue;
                int k = 0;
                while (k < MAXC && pipes[2 * k].from >= 0) k++;
                int d = k < MAXC ? dial(lst[l].host, lst[l].port) : -1;
                if (d < 0) {
                    close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                pipes[2 * k] = (pipe_){.from = c, .to = d, .link = &egress_free};
                pipes[2 * k + 1] = (pipe_){.from = d, .to = c};
                pipes[2 * k + 1].link = &pipes[2 * k + 1].own_link;
                if (2 * k + 2 > npipes) npipes = 2 * k + 2;
                continue;
            }
            pipe_ *p = &pipes[who[i]];
            if (p->from < 0) continue;
            ssize_t r = read(p->from, buf, sizeof buf);
            if (r <= 0) {
                p->eof = 1;
                continue;
            }
            int64_t t = now_us(), start = *p->link > t ? *p->link : t;
            *p->link = start + (int64_t)((double)r * 8e6 / rate);
            chunk *c = malloc(sizeof *c + (size_t)r);
            if (!c) return 1;
            c->next = NULL;
            c->due = *p->link + delay_us;
            c->len = (size_t)r;
            memcpy(c->data, buf, (size_t)r);
            if (p->tail) p->tail->next = c;
            else p->head = c;
            p->tail = c;
        }
        now = now_us();
        for (int k = 0; k < npipes; k++) {
            pipe_ *p = &pipes[k];
            if (p->from < 0) continue;
            while (p->head && p->head->due <= now) {
                chunk *c = p->head;
                size_t off = 0;
                while (off < c->len) {
                    ssize_t w = write(p->to, c->data + off, c->len - off);
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) break;
                    off += (size_t)w;
                }
                bool whole = off == c->len;
                p->head = c->next;
                if (!p->head) p->tail = NULL;
                free(c);
                if (!whole) {
                    close_pair(k / 2);
                    break;
                }
            }
            if (p->from >= 0 && p->eof && !p->head) close_pair(k / 2);
        }
    }
}
