/*
 * metrics.c - the --metrics endpoint (see metrics.h).
 *
 * Names: "mcprobe_" + the counter's dotted name with dots as underscores +
 * "_total" (Prometheus' suffix for counters), e.g. capture.packets ->
 * mcprobe_capture_packets_total; the dotted name is the HELP text, so the
 * documented name is one grep away.  Every counter is listed, zeros
 * included: a series that appears only once non-zero breaks rate().
 */
#include "probe/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/counters.h"
#include "common/hostport.h"

struct mc_metrics {
    struct MHD_Daemon *d;  /* NULL until served */
    int fd;                /* the listening socket, bound before the server runs */
    pthread_mutex_t lock;
    char *text;            /* the latest snapshot, owned; guarded by lock */
    size_t len;
    double last;           /* when it was rendered */
    uint64_t scrapes;      /* guarded by lock */
};

/* A growing text buffer; on allocation failure it stops growing and the render fails. */
struct out {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !o->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if (o->p && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap : 16384;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static void metric_name(char *buf, size_t len, const char *dotted)
{
    size_t i = 0;
    for (const char *s = dotted; *s && i + 1 < len; s++)
        buf[i++] = (*s == '.' || *s == '-') ? '_' : *s;
    buf[i] = 0;
}

char *mc_metrics_render(const struct mc_metrics_gauges *g, size_t *len)
{
    struct out o = { 0 };
    for (const struct mc_ctr_group *const *gp = mc_ctr_groups(); *gp; gp++)
        for (size_t i = 0; i < (*gp)->n; i++) {
            char name[128];
            metric_name(name, sizeof(name), (*gp)->names[i]);
            put(&o, "# HELP mcprobe_%s_total mcprobe counter %s\n# TYPE mcprobe_%s_total counter\n"
                    "mcprobe_%s_total %llu\n",
                name, (*gp)->names[i], name, name, (unsigned long long)(*gp)->vals[i]);
        }
    put(&o, "# HELP mcprobe_flows_active flows in the flow table now\n# TYPE mcprobe_flows_active gauge\n"
            "mcprobe_flows_active %llu\n", (unsigned long long)g->flows_active);
    put(&o, "# HELP mcprobe_start_time_seconds when the probe started (epoch seconds)\n"
            "# TYPE mcprobe_start_time_seconds gauge\nmcprobe_start_time_seconds %.3f\n", g->start_time);
    put(&o, "# HELP mcprobe_info the probe's version\n# TYPE mcprobe_info gauge\nmcprobe_info{version=\"%s\"} 1\n",
        MC_VERSION);
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    (void)state;
    struct mc_metrics *m = cls;
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET\n";
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0) {
        static const char msg[] = "not found: the counters are at /metrics\n";
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        pthread_mutex_lock(&m->lock);
        r = MHD_create_response_from_buffer(m->len, m->text ? m->text : (void *)"", MHD_RESPMEM_MUST_COPY);
        m->scrapes++;
        pthread_mutex_unlock(&m->lock);
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (upload_len)
        *upload_len = 0;
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

struct mc_metrics *mc_metrics_listen(const char *spec, char *err, size_t errlen)
{
    char host[256];
    int port;
    /* ":PORT" and "PORT" listen on every address */
    const char *colon = strrchr(spec, ':');
    if (strspn(spec, "0123456789") == strlen(spec) || (spec[0] == ':' && colon == spec)) {
        snprintf(host, sizeof(host), "::");
        char *end;
        long p = strtol(spec[0] == ':' ? spec + 1 : spec, &end, 10);
        if (*end || p < 1 || p > 65535) {
            snprintf(err, errlen, "--metrics: bad port in '%s'", spec);
            return NULL;
        }
        port = (int)p;
    } else if (mc_hostport_split(spec, 0, "--metrics", host, sizeof(host), &port, err, errlen) != 0) {
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sslen;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sslen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sslen = sizeof(*v6);
    } else {
        snprintf(err, errlen, "--metrics: '%s' is not an IP address (a name would need a lookup at start)", host);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "--metrics: socket: %s", strerror(errno));
        return NULL;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6 && strcmp(host, "::") == 0) /* every address: IPv4 too */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "--metrics: cannot listen on %s: %s", spec, strerror(errno));
        close(fd);
        return NULL;
    }
    struct mc_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "--metrics: out of memory");
        close(fd);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->fd = fd;
    m->last = -1;
    return m;
}

int mc_metrics_serve(struct mc_metrics *m, char *err, size_t errlen)
{
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, m,
                            MHD_OPTION_LISTEN_SOCKET, m->fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!m->d) {
        snprintf(err, errlen, "--metrics: the HTTP server did not start");
        return -1;
    }
    return 0;
}

void mc_metrics_update(struct mc_metrics *m, const struct mc_metrics_gauges *g, double now, int force)
{
    if (!m || (!force && m->last >= 0 && now - m->last < 1.0))
        return;
    m->last = now;
    size_t len;
    char *text = mc_metrics_render(g, &len);
    if (!text)
        return; /* out of memory: the previous snapshot stays */
    pthread_mutex_lock(&m->lock);
    char *old = m->text;
    m->text = text;
    m->len = len;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

void mc_metrics_stop(struct mc_metrics *m)
{
    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d); /* it closes the listening socket */
    else
        close(m->fd);
    pthread_mutex_destroy(&m->lock);
    free(m->text);
    free(m);
}
