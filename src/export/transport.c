/*
 * transport.c - UDP delivery of export packets to every collector, plus a
 * test sink that sees every datagram.
 *
 * One non-blocking unconnected UDP socket per collector (so ICMP port
 * unreachable from a collector that is down never turns into errors on
 * later sends).  Sends use MSG_DONTWAIT: a full socket buffer is counted in
 * export.send_would_block and the datagram dropped, any other failure in
 * export.send_errors; nothing here blocks or aborts on a send.
 *
 * Pacing (pace_pps > 0): the probe's clock is packet time in file mode, so
 * pacing cannot use it.  A token bucket on CLOCK_MONOTONIC (burst 50 ms of
 * rate, at least one packet) gates sends; a datagram without a token waits in
 * a queue of MC_EXPORT_PACE_QUEUE copies that later sends and ticks drain.
 * Only when that queue is full, or in mc_exporter_flush / free (end of
 * capture bursts), does the exporter sleep, at most 1/pace_pps per datagram.
 */
#include "export/internal.h"
#include "common/hostport.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SNDBUF_WANTED (4 * 1024 * 1024)

int mc_export_collector_split(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
                              char *err, size_t errlen)
{
    int p;
    if (mc_hostport_split(spec, 0, "collector", host, hostlen, &p, err, errlen) != 0)
        return -1;
    if ((size_t)snprintf(port, portlen, "%d", p) >= portlen) {
        snprintf(err, errlen, "collector '%s': port buffer too small", spec);
        return -1;
    }
    return 0;
}

int mc_export_transport_open(struct mc_export_transport *t, const char *const *specs, int n,
                             uint32_t pace_pps, char *err, size_t errlen)
{
    char host[256], port[8];
    t->n = 0;
    t->pace_pps = pace_pps;
    t->tokens = 1;
    t->last_ns = 0;
    t->q_head = t->q_len = 0;
    for (int i = 0; i < n && i < MC_EXPORT_MAX_COLLECTORS; i++) {
        if (mc_export_collector_split(specs[i], host, sizeof(host), port, sizeof(port), err, errlen) != 0)
            goto fail;
        struct addrinfo hints = { 0 }, *res = NULL;
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
        int rc = getaddrinfo(host, port, &hints, &res);
        if (rc != 0) {
            snprintf(err, errlen, "collector '%s': %s", specs[i], gai_strerror(rc));
            goto fail;
        }
        int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "collector '%s': socket: %s", specs[i], strerror(errno));
            freeaddrinfo(res);
            goto fail;
        }
        /* best effort: bursts at end of capture must not overflow the default 200 KiB */
        int sz = SNDBUF_WANTED;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        memcpy(&t->addr[t->n], res->ai_addr, res->ai_addrlen);
        t->addrlen[t->n] = (socklen_t)res->ai_addrlen;
        t->fd[t->n++] = fd;
        freeaddrinfo(res);
    }
    return 0;
fail:
    for (int i = 0; i < t->n; i++)
        close(t->fd[i]);
    t->n = 0;
    return -1;
}

/* Hands one datagram to the sink and every collector, now. */
static void emit(struct mc_export_transport *t, const uint8_t *pkt, size_t len)
{
    if (t->sink)
        t->sink(t->sink_ctx, pkt, len);
    for (int i = 0; i < t->n; i++) {
        ssize_t r = sendto(t->fd[i], pkt, len, MSG_DONTWAIT, (const struct sockaddr *)&t->addr[i],
                           t->addrlen[i]);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                MC_CTR_INC(export, send_would_block);
            else
                MC_CTR_INC(export, send_errors);
        }
    }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void refill(struct mc_export_transport *t)
{
    uint64_t now = mono_ns();
    double burst = t->pace_pps / 20.0 < 1 ? 1 : t->pace_pps / 20.0;
    if (t->last_ns)
        t->tokens += (double)(now - t->last_ns) * t->pace_pps / 1e9;
    if (t->tokens > burst)
        t->tokens = burst;
    t->last_ns = now;
}

/* Sleeps until about one token is available. */
static void wait_token(struct mc_export_transport *t)
{
    double need = 1.0 - t->tokens;
    if (need <= 0)
        return;
    uint64_t ns = (uint64_t)(need * 1e9 / t->pace_pps) + 1;
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL);
    refill(t);
}

void mc_export_transport_pump(struct mc_export_transport *t, int wait)
{
    if (!t->pace_pps || !t->q_len)
        return;
    refill(t);
    while (t->q_len) {
        if (t->tokens < 1) {
            if (!wait)
                return;
            wait_token(t);
            continue;
        }
        struct mc_export_pending *q = &t->q[t->q_head];
        emit(t, q->data, q->len);
        free(q->data);
        q->data = NULL;
        t->q_head = (t->q_head + 1) % MC_EXPORT_PACE_QUEUE;
        t->q_len--;
        t->tokens -= 1;
    }
}

void mc_export_transport_send(struct mc_export_transport *t, const uint8_t *pkt, size_t len)
{
    if (!t->pace_pps) {
        emit(t, pkt, len);
        return;
    }
    mc_export_transport_pump(t, 0);
    refill(t);
    if (t->q_len == 0 && t->tokens >= 1) {
        t->tokens -= 1;
        emit(t, pkt, len);
        return;
    }
    if (t->q_len == MC_EXPORT_PACE_QUEUE) {
        /* queue full: wait for one token rather than drop */
        wait_token(t);
        struct mc_export_pending *q = &t->q[t->q_head];
        emit(t, q->data, q->len);
        free(q->data);
        q->data = NULL;
        t->q_head = (t->q_head + 1) % MC_EXPORT_PACE_QUEUE;
        t->q_len--;
        t->tokens -= 1;
    }
    struct mc_export_pending *q = &t->q[(t->q_head + t->q_len) % MC_EXPORT_PACE_QUEUE];
    q->data = malloc(len);
    if (!q->data) {
        emit(t, pkt, len); /* no memory to delay it: send unpaced */
        return;
    }
    memcpy(q->data, pkt, len);
    q->len = len;
    t->q_len++;
}

void mc_export_transport_close(struct mc_export_transport *t)
{
    mc_export_transport_pump(t, 1);
    for (int i = 0; i < t->n; i++)
        close(t->fd[i]);
    t->n = 0;
}

uint16_t mc_export_transport_path_payload(const struct mc_export_transport *t)
{
    unsigned best = 0;
    for (int i = 0; i < t->n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&t->addr[i];
        int v6 = sa->sa_family == AF_INET6;
        /* a connected probe socket asks the routing table, sends nothing */
        int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int mtu = 0;
        socklen_t ml = sizeof(mtu);
        if (fd >= 0 && connect(fd, sa, t->addrlen[i]) == 0 &&
            getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &ml) == 0) {
            unsigned payload = mtu > (v6 ? 48 : 28) ? (unsigned)mtu - (v6 ? 48u : 28u) : 0;
            if (payload && (!best || payload < best))
                best = payload;
        }
        if (fd >= 0)
            close(fd);
    }
    if (!best)
        return MC_EXPORT_AUTO_MTU_DEFAULT;
    if (best > MC_EXPORT_AUTO_MTU_MAX)
        best = MC_EXPORT_AUTO_MTU_MAX;
    if (best < MC_EXPORT_MTU_MIN)
        best = MC_EXPORT_MTU_MIN;
    return (uint16_t)best;
}
