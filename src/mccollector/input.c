/*
 * input.c - the collector's sockets: UDP for NetFlow v5/v9 and IPFIX (-p)
 * and sFlow (--sflow), TCP for IPFIX (--ipfix-tcp, RFC 7011 10.4), each on
 * every address (one dual-stack IPv6 socket) or on -b's.  Datagrams are read
 * in batches (recvmmsg); a TCP stream is cut into messages by the IPFIX
 * header's length.  Exporters outside --allow are counted and dropped before
 * any byte of theirs is decoded.
 */
#include "mccollector/mccollector.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

MC_CTR_DEFINE(input, MCC_INPUT_CTRS)

#define BATCH 32            /* datagrams per recvmmsg */
#define DGRAM_MAX 65536     /* the largest UDP payload */
#define MAX_CONNS 64        /* TCP exporters at once; more are refused and counted */
#define BATCHES_PER_POLL 8  /* per readable socket and poll: the others are not starved */
#define TCP_IDLE_MS 60000   /* a TCP session silent this long gives way to a new one when all slots are taken */

enum { S_UDP, S_TCP_LISTEN, S_TCP_CONN };

struct sock {
    int fd;
    int type;
    int kind;                 /* MCC_FLOWS, MCC_SFLOW */
    struct mc_coll_src src;   /* TCP connection: the exporter */
    uint8_t *buf;             /* TCP connection: the partial message */
    size_t have;
    uint64_t last_ms;         /* TCP connection: when it last sent */
};

struct mcc_input {
    const struct mcc_conf *conf;
    mcc_message_fn fn;
    void *ctx;
    int ep;
    struct sock *s[8 + MAX_CONNS];
    int n;
    uint8_t *bufs;            /* BATCH datagrams */
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage from[BATCH];
};

/* The sender as the decoders name it; an IPv4-mapped IPv6 address (dual-stack socket) is IPv4. */
static void src_of(const struct sockaddr_storage *ss, struct mc_coll_src *src)
{
    memset(src, 0, sizeof(*src));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(src->addr, &a->sin_addr, 4);
        src->ver = 4;
        src->port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memcpy(src->addr, &a->sin6_addr.s6_addr[12], 4);
            src->ver = 4;
        } else {
            memcpy(src->addr, &a->sin6_addr, 16);
            src->ver = 6;
        }
        src->port = ntohs(a->sin6_port);
    }
}

static int allowed(const struct mcc_conf *conf, const struct mc_coll_src *src)
{
    if (conf->n_allow == 0)
        return 1;
    struct mc_addr a;
    memcpy(a.b, src->addr, 16);
    for (int i = 0; i < conf->n_allow; i++)
        if (mc_cidr_match(&conf->allow[i], src->ver, &a))
            return 1;
    return 0;
}

static int add_sock(struct mcc_input *in, int fd, int type, int kind, char *err, size_t errlen)
{
    struct sock *s = calloc(1, sizeof(*s));
    if (!s || in->n >= (int)(sizeof(in->s) / sizeof(in->s[0]))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->fd = fd;
    s->type = type;
    s->kind = kind;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
    if (epoll_ctl(in->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        free(s);
        return -1;
    }
    in->s[in->n++] = s;
    return 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void drop_sock(struct mcc_input *in, struct sock *s)
{
    if (s->type == S_TCP_CONN) /* its session's templates end with it */
        in->fn(in->ctx, MCC_CLOSED, &s->src, NULL, 0);
    epoll_ctl(in->ep, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    for (int i = 0; i < in->n; i++)
        if (in->s[i] == s) {
            in->s[i] = in->s[--in->n];
            break;
        }
    free(s->buf);
    free(s);
}

/* A socket of type (SOCK_DGRAM, SOCK_STREAM) bound to -b's address (every address when none) and port. */
static int open_socket(const struct mcc_conf *conf, int type, int port, const char *what, char *err,
                       size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    int every = !conf->bind || !conf->bind[0];
    if (!every && inet_pton(AF_INET, conf->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sslen = sizeof(*v4);
    } else if (every || inet_pton(AF_INET6, conf->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        if (every)
            v6->sin6_addr = in6addr_any;
        sslen = sizeof(*v6);
    } else {
        snprintf(err, errlen, "-b %s: not an IPv4 or IPv6 address", conf->bind);
        return -1;
    }
    int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", what, strerror(errno));
        return -1;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (every) /* one socket for both families */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (type == SOCK_DGRAM && conf->rcvbuf > 0) {
        /* a burst of export datagrams must wait in the kernel while a batch is stored; root may pass
         * net.core.rmem_max, others get what it allows */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &conf->rcvbuf, sizeof(conf->rcvbuf)) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &conf->rcvbuf, sizeof(conf->rcvbuf));
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || (type == SOCK_STREAM && listen(fd, 64) != 0)) {
        snprintf(err, errlen, "%s: cannot listen on %s port %d: %s", what, every ? "every address" : conf->bind,
                 port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct mcc_input *mcc_input_open(const struct mcc_conf *conf, mcc_message_fn fn, void *ctx, char *err,
                                 size_t errlen)
{
    struct mcc_input *in = calloc(1, sizeof(*in));
    if (!in || !(in->bufs = malloc((size_t)BATCH * DGRAM_MAX))) {
        free(in);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->ep = -1;
    in->conf = conf;
    in->fn = fn;
    in->ctx = ctx;
    in->ep = epoll_create1(EPOLL_CLOEXEC);
    if (in->ep < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        mcc_input_close(in);
        return NULL;
    }
    for (int i = 0; i < BATCH; i++) {
        in->iov[i].iov_base = in->bufs + (size_t)i * DGRAM_MAX;
        in->iov[i].iov_len = DGRAM_MAX;
    }
    const struct {
        int port, type, stype, kind;
        const char *what;
    } want[] = {
        { conf->udp_port, SOCK_DGRAM, S_UDP, MCC_FLOWS, "-p (NetFlow/IPFIX over UDP)" },
        { conf->tcp_port, SOCK_STREAM, S_TCP_LISTEN, MCC_FLOWS, "--ipfix-tcp" },
        { conf->sflow_port, SOCK_DGRAM, S_UDP, MCC_SFLOW, "--sflow" },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!want[i].port)
            continue;
        int fd = open_socket(conf, want[i].type, want[i].port, want[i].what, err, errlen);
        if (fd < 0 || add_sock(in, fd, want[i].stype, want[i].kind, err, errlen) != 0) {
            if (fd >= 0)
                close(fd);
            mcc_input_close(in);
            return NULL;
        }
    }
    return in;
}

static int read_udp(struct mcc_input *in, struct sock *s)
{
    int handed = 0;
    for (int round = 0; round < BATCHES_PER_POLL; round++) {
        for (int i = 0; i < BATCH; i++) {
            memset(&in->msgs[i].msg_hdr, 0, sizeof(in->msgs[i].msg_hdr));
            in->msgs[i].msg_hdr.msg_iov = &in->iov[i];
            in->msgs[i].msg_hdr.msg_iovlen = 1;
            in->msgs[i].msg_hdr.msg_name = &in->from[i];
            in->msgs[i].msg_hdr.msg_namelen = sizeof(in->from[i]);
        }
        int n = recvmmsg(s->fd, in->msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                MC_CTR_INC(input, errors);
                return -1;
            }
            break;
        }
        for (int i = 0; i < n; i++) {
            struct mc_coll_src src;
            src_of(&in->from[i], &src);
            MC_CTR_INC(input, datagrams);
            MC_CTR_ADD(input, bytes, in->msgs[i].msg_len);
            if (in->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                MC_CTR_INC(input, truncated);
                continue;
            }
            if (!allowed(in->conf, &src)) {
                MC_CTR_INC(input, refused);
                continue;
            }
            in->fn(in->ctx, s->kind, &src, in->iov[i].iov_base, in->msgs[i].msg_len);
            handed++;
        }
        if (n < BATCH)
            break;
    }
    return handed;
}

static void accept_tcp(struct mcc_input *in, struct sock *l)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct mc_coll_src src;
        src_of(&ss, &src);
        char err[128];
        if (!allowed(in->conf, &src)) {
            MC_CTR_INC(input, tcp_refused);
            close(fd);
            continue;
        }
        int conns = 0;
        struct sock *idlest = NULL;
        for (int i = 0; i < in->n; i++)
            if (in->s[i]->type == S_TCP_CONN) {
                conns++;
                if (!idlest || in->s[i]->last_ms < idlest->last_ms)
                    idlest = in->s[i];
            }
        if (conns >= MAX_CONNS && idlest && mono_ms() - idlest->last_ms > TCP_IDLE_MS) {
            /* full: a session silent this long gives way, so silent connections cannot lock exporters out */
            MC_CTR_INC(input, tcp_idle_closed);
            drop_sock(in, idlest);
            conns--;
        }
        if (conns >= MAX_CONNS || add_sock(in, fd, S_TCP_CONN, MCC_FLOWS, err, sizeof(err)) != 0) {
            MC_CTR_INC(input, tcp_too_many);
            close(fd);
            continue;
        }
        struct sock *c = in->s[in->n - 1];
        c->src = src;
        c->src.tcp = 1;
        c->last_ms = mono_ms();
        c->buf = malloc(DGRAM_MAX);
        if (!c->buf) {
            drop_sock(in, c);
            continue;
        }
        MC_CTR_INC(input, tcp_connections);
    }
}

/* Reads what a TCP exporter sent and hands every whole IPFIX message; 0, or -1 when it is gone. */
static int read_tcp(struct mcc_input *in, struct sock *c, int *handed)
{
    /* a few reads per poll: a fast sender waits for the next round, the other sockets are served between */
    for (int round = 0; round < BATCHES_PER_POLL; round++) {
        ssize_t r = read(c->fd, c->buf + c->have, DGRAM_MAX - c->have);
        if (r == 0)
            return -1;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->last_ms = mono_ms();
        MC_CTR_ADD(input, bytes, (uint64_t)r);
        c->have += (size_t)r;
        size_t off = 0;
        while (c->have - off >= 4) {
            const uint8_t *m = c->buf + off;
            size_t len = (size_t)m[2] << 8 | m[3];
            if ((m[0] << 8 | m[1]) != 10 || len < 16) {
                /* not IPFIX, or a length that cannot be: the stream cannot be resynchronised */
                MC_CTR_INC(input, tcp_bad_framing);
                return -1;
            }
            if (c->have - off < len)
                break;
            MC_CTR_INC(input, tcp_messages);
            in->fn(in->ctx, MCC_FLOWS, &c->src, m, len);
            (*handed)++;
            off += len;
        }
        memmove(c->buf, c->buf + off, c->have - off);
        c->have -= off;
    }
    return 0;
}

int mcc_input_poll(struct mcc_input *in, int timeout_ms)
{
    struct epoll_event ev[16];
    int n = epoll_wait(in->ep, ev, 16, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int handed = 0;
    for (int i = 0; i < n; i++) {
        struct sock *s = ev[i].data.ptr;
        if (s->type == S_UDP) {
            int k = read_udp(in, s);
            handed += k > 0 ? k : 0;
        } else if (s->type == S_TCP_LISTEN) {
            accept_tcp(in, s);
        } else if (read_tcp(in, s, &handed) != 0) {
            drop_sock(in, s); /* an fd comes once per epoll_wait: no later ev[] names it */
        }
    }
    return handed;
}

void mcc_input_close(struct mcc_input *in)
{
    if (!in)
        return;
    while (in->n)
        drop_sock(in, in->s[in->n - 1]);
    if (in->ep >= 0)
        close(in->ep);
    free(in->bufs);
    free(in);
}
