/*
 * pipe.c - pipelined plain commands to one Redis node, replies scanned in
 * place (see pipe.h).
 *
 * Reference: RESP, the Redis serialization protocol
 * (https://redis.io/docs/reference/protocol-spec/): a reply is one of
 *   +<line>\r\n   status          -<line>\r\n   error
 *   :<int>\r\n    integer         $<len>\r\n<len bytes>\r\n   bulk ($-1: nil)
 *   *<n>\r\n<n replies>   array (*-1: nil)
 * and Redis answers the commands of one connection in order, so the i-th
 * reply read belongs to the i-th command written.
 */
#include "cloud/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "common/log.h"
#include "common/text.h"

#define READ_CHUNK 65536
#define MAX_REPLY (1u << 20)  /* one reply larger than this is a protocol error: ours are small */
#define MAX_DEPTH 8
#define MAX_IOV 64

enum pipe_state { P_CLOSED, P_CONNECTING, P_HANDSHAKE, P_READY };

struct mc_cloud_pipe {
    struct ev_loop *loop;   /* borrowed */
    char host[256];         /* or the socket path */
    int port, is_unix;
    char *hello;            /* owned: AUTH and SELECT, encoded */
    size_t hello_len;
    uint32_t hello_n;       /* their replies */
    uint32_t hello_got;
    uint32_t connect_timeout_ms, command_timeout_ms, backoff_min_ms, backoff_max_ms, backoff_ms;
    void (*on_ready)(void *ctx);
    void *ctx;
    int fd;
    enum pipe_state state;
    int stalled;            /* the oldest request waited command_timeout_ms: nothing new until a reply */
    ev_io rio, wio;
    ev_timer timer;         /* connect timeout, reconnect backoff, or the oldest request's timeout */
    ev_tstamp retry_at;     /* CLOSED: not before this */
    struct mc_cloud_pipe_req *head, *tail; /* in flight, oldest first */
    struct mc_cloud_pipe_req *wnext;       /* first not completely written */
    uint32_t inflight;
    char *rbuf;             /* owned: bytes read, not yet scanned */
    size_t rlen, rcap;
    char errstr[160];
    char reply_err[128];    /* the last error reply to a request */
};

static void set_err(struct mc_cloud_pipe *p, const char *what, const char *detail)
{
    if (p->is_unix)
        snprintf(p->errstr, sizeof(p->errstr), "unix:%.100s: %.50s", p->host, what);
    else
        snprintf(p->errstr, sizeof(p->errstr), "%.100s:%d: %.50s", p->host, p->port, what);
    if (detail) {
        size_t l = strlen(p->errstr);
        snprintf(p->errstr + l, sizeof(p->errstr) - l, " (%s)", detail);
    }
}

/* ---- RESP scanning ------------------------------------------------------ */

/* The line at p[0..n) ending in \r\n: its length without them, or -1 when incomplete. */
static long line_len(const char *p, size_t n)
{
    const char *e = memchr(p, '\r', n);
    if (!e || (size_t)(e - p) + 1 >= n)
        return -1;
    return e[1] == '\n' ? e - p : -2;
}

/* A signed decimal of l bytes; 0 when not one. */
static int parse_int(const char *p, long l, int64_t *v)
{
    int neg = l > 0 && p[0] == '-';
    uint64_t x = 0;
    if (l - neg < 1 || l - neg > 19)
        return 0;
    for (long i = neg; i < l; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        x = x * 10 + (uint64_t)(p[i] - '0');
    }
    *v = neg ? -(int64_t)x : (int64_t)x;
    return 1;
}

static int error_kind(const char *p, long l)
{
    static const struct { const char *s; int kind; } k[] = {
        { "MOVED ", MC_PIPE_ERR_MOVED },      { "ASK ", MC_PIPE_ERR_ASK },
        { "TRYAGAIN", MC_PIPE_ERR_RETRY },    { "CLUSTERDOWN", MC_PIPE_ERR_RETRY },
        { "LOADING", MC_PIPE_ERR_RETRY },     { "BUSY", MC_PIPE_ERR_RETRY },
        { "MASTERDOWN", MC_PIPE_ERR_RETRY },  { "NOSCRIPT", MC_PIPE_ERR_NOSCRIPT },
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        size_t sl = strlen(k[i].s);
        if ((size_t)l >= sl && memcmp(p, k[i].s, sl) == 0)
            return k[i].kind;
    }
    return MC_PIPE_ERR_OTHER;
}

static long scan(const char *p, size_t n, struct mc_cloud_pipe_reply *out, int depth)
{
    if (n < 1)
        return 0;
    long l = line_len(p + 1, n - 1);
    if (l == -1)
        return n - 1 > MAX_REPLY ? -1 : 0;
    if (l < 0)
        return -1;
    long hdr = 1 + l + 2;
    int64_t v = 0;
    out->v = 0;
    out->err = MC_PIPE_ERR_NONE;
    switch (p[0]) {
    case '+':
        out->type = MC_PIPE_STATUS;
        return hdr;
    case '-':
        out->type = MC_PIPE_ERROR;
        out->err = (uint8_t)error_kind(p + 1, l);
        return hdr;
    case ':':
        if (!parse_int(p + 1, l, &v))
            return -1;
        out->type = MC_PIPE_INTEGER;
        out->v = v;
        return hdr;
    case '$':
        if (!parse_int(p + 1, l, &v) || v < -1 || v > MAX_REPLY)
            return -1;
        if (v == -1) {
            out->type = MC_PIPE_NIL;
            return hdr;
        }
        if ((size_t)hdr + (size_t)v + 2 > n)
            return 0;
        if (p[hdr + v] != '\r' || p[hdr + v + 1] != '\n')
            return -1;
        out->type = MC_PIPE_STRING;
        return hdr + (long)v + 2;
    case '*': {
        if (!parse_int(p + 1, l, &v) || v < -1 || v > MAX_REPLY || depth >= MAX_DEPTH)
            return -1;
        long at = hdr;
        struct mc_cloud_pipe_reply e;
        for (int64_t i = 0; i < v; i++) {
            long el = scan(p + at, n - (size_t)at, &e, depth + 1);
            if (el <= 0)
                return el;
            at += el;
        }
        out->type = v < 0 ? MC_PIPE_NIL : MC_PIPE_ARRAY;
        out->v = v < 0 ? 0 : v;
        return at;
    }
    default:
        return -1;
    }
}

/* The common reply, a small non-negative integer, without the general scanner; 0: not one (or cut). */
static long scan_int(const char *p, size_t n, struct mc_cloud_pipe_reply *out)
{
    if (n < 4 || p[0] != ':')
        return 0;
    int64_t v = 0;
    size_t i = 1;
    while (i < n && i < 19 && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (p[i++] - '0');
    if (i == 1 || i + 1 >= n || p[i] != '\r' || p[i + 1] != '\n')
        return 0;
    out->type = MC_PIPE_INTEGER;
    out->err = MC_PIPE_ERR_NONE;
    out->v = v;
    return (long)i + 2;
}

long mc_cloud_pipe_scan(const char *p, size_t n, struct mc_cloud_pipe_reply *out)
{
    return scan(p, n, out, 0);
}

/* ---- connection --------------------------------------------------------- */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void timer_in(struct mc_cloud_pipe *p, double s)
{
    ev_timer_stop(p->loop, &p->timer);
    ev_timer_set(&p->timer, s, 0);
    ev_timer_start(p->loop, &p->timer);
}

/* Closes the connection: every request in flight fails (in order), a reconnect waits for the backoff. */
static void pipe_close(struct mc_cloud_pipe *p, const char *why, const char *detail)
{
    if (p->fd < 0)
        return;
    if (why) {
        set_err(p, why, detail);
        /* the node's trouble is told by conn.c, whose connection shares its fate */
        mc_debug("cloud: writer connection: %s", p->errstr);
    }
    ev_io_stop(p->loop, &p->rio);
    ev_io_stop(p->loop, &p->wio);
    ev_timer_stop(p->loop, &p->timer);
    close(p->fd);
    p->fd = -1;
    if (p->state == P_READY)
        MC_CTR_INC(cloud_conn, pipe_disconnects);
    p->state = P_CLOSED;
    p->stalled = 0;
    p->rlen = 0;
    p->retry_at = ev_now(p->loop) + p->backoff_ms / 1000.0;
    p->backoff_ms = p->backoff_ms * 2 > p->backoff_max_ms ? p->backoff_max_ms : p->backoff_ms * 2;
    struct mc_cloud_pipe_req *q = p->head;
    p->head = p->tail = p->wnext = NULL;
    p->inflight = 0;
    while (q) {
        struct mc_cloud_pipe_req *next = q->next;
        MC_CTR_INC(cloud_conn, pipe_failed);
        q->next = NULL;
        q->done(q, 0); /* may send again: the pipe is closed, so it is refused */
        q = next;
    }
}

static void set_sockopts(struct mc_cloud_pipe *p)
{
    int one = 1;
    if (p->is_unix)
        return;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* a peer that vanished without a word is found out, as hiredis's keepalive does */
    setsockopt(p->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int idle = 15, intvl = 5, cnt = 3;
    setsockopt(p->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(p->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(p->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* A non-blocking connect to the first address that takes it; -1 with errstr. */
static int open_socket(struct mc_cloud_pipe *p)
{
    if (p->is_unix) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(p->host) >= sizeof(sa.sun_path)) {
            set_err(p, "socket path too long", NULL);
            return -1;
        }
        memcpy(sa.sun_path, p->host, strlen(p->host) + 1);
        p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0)
            return -1;
        if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS || errno == EAGAIN)
            return 0;
        set_err(p, "connect", strerror(errno));
        close(p->fd);
        p->fd = -1;
        return -1;
    }
    char port[8];
    snprintf(port, sizeof(port), "%d", p->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(p->host, port, &hints, &res);
    if (rc != 0) {
        set_err(p, "cannot resolve", gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0)
            continue;
        if (connect(p->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            freeaddrinfo(res);
            set_sockopts(p);
            return 0;
        }
        set_err(p, "connect", strerror(errno));
        close(p->fd);
        p->fd = -1;
    }
    freeaddrinfo(res);
    return -1;
}

void mc_cloud_pipe_connect(struct mc_cloud_pipe *p)
{
    if (p->state != P_CLOSED || ev_now(p->loop) < p->retry_at)
        return;
    if (open_socket(p) != 0) {
        MC_CTR_INC(cloud_conn, pipe_connect_errors);
        p->retry_at = ev_now(p->loop) + p->backoff_ms / 1000.0;
        p->backoff_ms = p->backoff_ms * 2 > p->backoff_max_ms ? p->backoff_max_ms : p->backoff_ms * 2;
        return;
    }
    p->state = P_CONNECTING;
    p->hello_got = 0;
    ev_io_set(&p->rio, p->fd, EV_READ);
    ev_io_set(&p->wio, p->fd, EV_WRITE);
    ev_io_start(p->loop, &p->wio); /* writable: connected (or failed) */
    timer_in(p, p->connect_timeout_ms / 1000.0);
}

static void became_ready(struct mc_cloud_pipe *p)
{
    p->state = P_READY;
    p->backoff_ms = p->backoff_min_ms;
    ev_timer_stop(p->loop, &p->timer);
    MC_CTR_INC(cloud_conn, pipe_connects);
    if (p->on_ready)
        p->on_ready(p->ctx);
}

/* The socket connected: the handshake goes out (AUTH, SELECT), or the pipe is ready at once. */
static void connected(struct mc_cloud_pipe *p)
{
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err) {
        MC_CTR_INC(cloud_conn, pipe_connect_errors);
        pipe_close(p, "connect", strerror(err ? err : errno));
        return;
    }
    ev_io_stop(p->loop, &p->wio);
    ev_io_start(p->loop, &p->rio);
    if (p->hello_n) {
        /* a few dozen bytes on a fresh socket: written whole, or the connection is no good */
        if (write(p->fd, p->hello, p->hello_len) != (ssize_t)p->hello_len) {
            MC_CTR_INC(cloud_conn, pipe_connect_errors);
            pipe_close(p, "handshake write", strerror(errno));
            return;
        }
        p->state = P_HANDSHAKE;
        return;
    }
    became_ready(p);
}

/* Writes what the queue holds (several requests per writev); -1 when the connection broke. */
static int flush_writes(struct mc_cloud_pipe *p)
{
    while (p->wnext) {
        struct iovec iov[MAX_IOV];
        int n = 0;
        for (struct mc_cloud_pipe_req *q = p->wnext; q && n < MAX_IOV; q = q->next, n++) {
            iov[n].iov_base = (char *)q->buf + q->written;
            iov[n].iov_len = q->len - q->written;
        }
        ssize_t w = writev(p->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                ev_io_start(p->loop, &p->wio);
                return 0;
            }
            if (errno == EINTR)
                continue;
            pipe_close(p, "write", strerror(errno));
            return -1;
        }
        size_t left = (size_t)w;
        while (p->wnext && left >= p->wnext->len - p->wnext->written) {
            left -= p->wnext->len - p->wnext->written;
            p->wnext->written = p->wnext->len;
            p->wnext = p->wnext->next;
        }
        if (p->wnext)
            p->wnext->written += left;
    }
    ev_io_stop(p->loop, &p->wio);
    return 0;
}

/* Hands scanned replies to their requests; -1 when the stream is not RESP (closed). */
static int take_replies(struct mc_cloud_pipe *p)
{
    size_t at = 0;
    while (at < p->rlen) {
        struct mc_cloud_pipe_reply r;
        long l = scan_int(p->rbuf + at, p->rlen - at, &r);
        if (l == 0)
            l = scan(p->rbuf + at, p->rlen - at, &r, 0);
        if (l == 0)
            break;
        if (l < 0) {
            MC_CTR_INC(cloud_conn, pipe_protocol_errors);
            pipe_close(p, "protocol error", NULL);
            return -1;
        }
        at += (size_t)l;
        if (p->state == P_HANDSHAKE) {
            if (r.type == MC_PIPE_ERROR) {
                MC_CTR_INC(cloud_conn, pipe_connect_errors);
                char msg[96];
                snprintf(msg, sizeof(msg), "%.*s", (int)(l > 80 ? 80 : l - 3), p->rbuf + at - (size_t)l + 1);
                pipe_close(p, "handshake refused", msg);
                return -1;
            }
            if (++p->hello_got == p->hello_n)
                became_ready(p);
            continue;
        }
        struct mc_cloud_pipe_req *q = p->head;
        if (!q) {
            MC_CTR_INC(cloud_conn, pipe_protocol_errors);
            pipe_close(p, "reply nobody asked for", NULL);
            return -1;
        }
        p->stalled = 0;
        if (r.type == MC_PIPE_ERROR) {
            MC_CTR_INC(cloud_conn, pipe_error_replies);
            snprintf(p->reply_err, sizeof(p->reply_err), "%.*s", (int)(l - 3 > 120 ? 120 : l - 3),
                     p->rbuf + at - (size_t)l + 1);
        }
        q->r[q->got++] = r;
        if (q->got == q->n) {
            p->head = q->next;
            if (!p->head)
                p->tail = NULL;
            p->inflight--;
            q->next = NULL;
            q->done(q, 1); /* may queue more: it goes to the tail */
            if (p->fd < 0)
                return -1; /* the callback freed nothing of ours, but a write may have failed */
        }
    }
    if (at) {
        memmove(p->rbuf, p->rbuf + at, p->rlen - at);
        p->rlen -= at;
    }
    return 0;
}

static void on_readable(struct mc_cloud_pipe *p)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (p->rcap - p->rlen < READ_CHUNK / 2) {
            size_t cap = p->rcap ? p->rcap * 2 : READ_CHUNK;
            if (cap > 2 * MAX_REPLY + READ_CHUNK) {
                MC_CTR_INC(cloud_conn, pipe_protocol_errors);
                pipe_close(p, "reply too long", NULL);
                return;
            }
            char *b = realloc(p->rbuf, cap);
            if (!b) {
                pipe_close(p, "out of memory", NULL);
                return;
            }
            p->rbuf = b;
            p->rcap = cap;
        }
        size_t room = p->rcap - p->rlen;
        ssize_t r = read(p->fd, p->rbuf + p->rlen, room);
        if (r == 0) {
            pipe_close(p, "connection closed by the server", NULL);
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                pipe_close(p, "read", strerror(errno));
            return;
        }
        p->rlen += (size_t)r;
        if (take_replies(p) != 0)
            return;
        if (p->head && !ev_is_active(&p->timer))
            timer_in(p, p->command_timeout_ms / 1000.0);
        if ((size_t)r < room)
            return; /* less than there was room for: drained */
    }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mc_cloud_pipe *p = w->data;
    (void)loop;
    if (p->state == P_CONNECTING && (revents & EV_WRITE)) {
        connected(p);
        return;
    }
    if (revents & EV_READ)
        on_readable(p);
    if (p->fd >= 0 && (revents & EV_WRITE))
        flush_writes(p);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mc_cloud_pipe *p = w->data;
    (void)revents;
    if (p->state == P_CONNECTING || p->state == P_HANDSHAKE) {
        MC_CTR_INC(cloud_conn, pipe_connect_errors);
        pipe_close(p, "connect timeout", NULL);
        return;
    }
    if (p->state != P_READY || !p->head)
        return;
    /* the oldest request's age: held back past the limit, never failed (it may still run) */
    double age = ev_now(loop) - p->head->sent, limit = p->command_timeout_ms / 1000.0;
    if (age >= limit && !p->stalled) {
        p->stalled = 1;
        MC_CTR_INC(cloud_conn, pipe_timeouts);
        set_err(p, "no reply in time: sending nothing new until it answers", NULL);
    }
    timer_in(p, age >= limit ? limit : limit - age);
}

int mc_cloud_pipe_send(struct mc_cloud_pipe *p, struct mc_cloud_pipe_req *q)
{
    if (!mc_cloud_pipe_ready(p) || q->n == 0 || q->len == 0)
        return -1;
    q->next = NULL;
    q->written = 0;
    q->got = 0;
    q->sent = ev_now(p->loop);
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    if (!p->wnext)
        p->wnext = q;
    p->inflight++;
    MC_CTR_INC(cloud_conn, pipe_requests);
    MC_CTR_ADD(cloud_conn, pipe_commands, q->n);
    MC_CTR_ADD(cloud_conn, pipe_bytes, q->len);
    if (!ev_is_active(&p->timer))
        timer_in(p, p->command_timeout_ms / 1000.0);
    if (!ev_is_active(&p->wio))
        flush_writes(p); /* a failure fails q too: it is on the list */
    return 0;
}

int mc_cloud_pipe_ready(const struct mc_cloud_pipe *p)
{
    return p && p->state == P_READY && !p->stalled;
}

const char *mc_cloud_pipe_last_reply_error(const struct mc_cloud_pipe *p)
{
    return p ? p->reply_err : "";
}

int mc_cloud_pipe_stalled(const struct mc_cloud_pipe *p)
{
    return p && p->state == P_READY && p->stalled;
}

uint32_t mc_cloud_pipe_inflight(const struct mc_cloud_pipe *p)
{
    return p ? p->inflight : 0;
}

const char *mc_cloud_pipe_errstr(const struct mc_cloud_pipe *p)
{
    return p->errstr;
}

/* RESP of argv at *buf (grown); 0 or -1. */
static int append_cmd(char **buf, size_t *len, int argc, const char *const *argv)
{
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += strlen(argv[i]) + 24;
    char *b = realloc(*buf, *len + need);
    if (!b)
        return -1;
    char *p = b + *len;
    *p++ = '*';
    p += mc_u64_text((uint64_t)argc, p);
    *p++ = '\r', *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        *p++ = '$';
        p += mc_u64_text(l, p);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], l);
        p += l;
        *p++ = '\r', *p++ = '\n';
    }
    *buf = b;
    *len = (size_t)(p - b);
    return 0;
}

struct mc_cloud_pipe *mc_cloud_pipe_new(struct ev_loop *loop, const char *addr, const struct mc_cloud_conn_config *cfg,
                                        int select_db, void (*on_ready)(void *ctx), void *ctx)
{
    struct mc_cloud_pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    char err[128];
    if (mc_cloud_conn_parse_addr(addr, p->host, sizeof(p->host), &p->port, &p->is_unix, err, sizeof(err)) != 0) {
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->fd = -1;
    p->on_ready = on_ready;
    p->ctx = ctx;
    p->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 1000;
    p->command_timeout_ms = cfg->command_timeout_ms ? cfg->command_timeout_ms : 2000;
    p->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 100;
    p->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
    p->backoff_ms = p->backoff_min_ms;
    int rc = 0;
    if (cfg->password) {
        const char *a3[] = { "AUTH", cfg->user ? cfg->user : cfg->password, cfg->password };
        const char *a2[] = { "AUTH", cfg->password };
        rc |= cfg->user ? append_cmd(&p->hello, &p->hello_len, 3, a3) : append_cmd(&p->hello, &p->hello_len, 2, a2);
        p->hello_n++;
    }
    if (select_db && cfg->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", cfg->db);
        const char *a[] = { "SELECT", db };
        rc |= append_cmd(&p->hello, &p->hello_len, 2, a);
        p->hello_n++;
    }
    if (rc != 0) {
        free(p->hello);
        free(p);
        return NULL;
    }
    ev_io_init(&p->rio, io_cb, -1, EV_READ);
    ev_io_init(&p->wio, io_cb, -1, EV_WRITE);
    p->rio.data = p->wio.data = p;
    ev_timer_init(&p->timer, timer_cb, 0, 0);
    p->timer.data = p;
    return p;
}

void mc_cloud_pipe_free(struct mc_cloud_pipe *p)
{
    if (!p)
        return;
    pipe_close(p, NULL, NULL);
    ev_timer_stop(p->loop, &p->timer);
    free(p->hello);
    free(p->rbuf);
    free(p);
}
