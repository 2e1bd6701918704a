/*
 * conn.c - hiredis asynchronous contexts to the cloud's Redis nodes, on the
 * cloud thread's libev loop: connect, authenticate, route, time out,
 * reconnect, and follow Redis Cluster redirections.
 *
 * References: RESP, the Redis serialization protocol
 * (https://redis.io/docs/reference/protocol-spec/); the Redis Cluster
 * specification (https://redis.io/docs/reference/cluster-spec/), sections
 * "Redirection and resharding" (-MOVED slot host:port: the slot now lives
 * there, update the map; -ASK slot host:port: send ASKING then the command
 * to that node once, do not update the map), "Multi-keys operations"
 * (-TRYAGAIN while a slot migrates) and CLUSTER SLOTS; hiredis async.c and
 * adapters/libev.h (callbacks run with a NULL reply when a context is freed
 * or lost; redisAsyncFree inside a reply callback is deferred by hiredis).
 *
 * Life of a node: WAIT (backoff timer) -> CONNECTING (connect timer) ->
 * HANDSHAKE (AUTH, SELECT, then INFO cluster, pipelined; same timer) ->
 * READY.  A node is READY only once the server answered that last command,
 * so a stopped server whose kernel still accepts connections is not
 * mistaken for a live one.  A standalone node whose INFO says
 * cluster_enabled:1 turns the connection to cluster mode, with the given
 * nodes as seeds, before anything is sent; a --redis-cluster seed that says
 * cluster_enabled:0 is a configuration error.  Every command is wrapped
 * in a struct req that sits on its node's in-flight list in send order
 * (Redis answers in order), so the head is the oldest command and one timer
 * per node enforces command_timeout_ms.  In cluster mode the req owns a
 * copy of argv so that MOVED/ASK/TRYAGAIN can resend it.
 *
 * What the operator is told (node_trouble, node_fine): a node's first
 * failure at once, naming the node and the cause, then one line a minute
 * while it lasts, and its recovery.  A refusal that retrying cannot cure
 * (authentication, SELECT, cluster mode) is an error; mc_cloud_conn_check
 * turns one met at start into a configuration error for the caller.
 */
#include "cloud/conn.h"
#include "common/options.h"
#include "common/hostport.h"
#include "common/log.h"
#include "common/text.h"

#include <netdb.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "cloud/keyspace.h"

MC_CTR_DEFINE(cloud_conn, MC_CLOUD_CONN_CTRS)

#define N_SLOTS 16384
#define MAX_REDIRECTS 5       /* MOVED/ASK hops per command before giving up */
#define MAX_RETRIES 20        /* TRYAGAIN/CLUSTERDOWN retries per command */
#define RETRY_DELAY_MS 50     /* wait before a TRYAGAIN/CLUSTERDOWN retry */
#define RETRY_TICK 0.02       /* seconds between passes over the waiting list */
#define REFRESH_DELAY 0.05    /* coalesces the MOVEDs of one reshard into one CLUSTER SLOTS */
#define REFRESH_RETRY 0.5     /* when no node is ready to ask */
#define TROUBLE_REPEAT 60.0   /* while a node stays in trouble, one line this often */

enum trouble { TROUBLE_NONE, TROUBLE_UNREACHABLE, TROUBLE_SLOW, TROUBLE_CONFIG };

enum node_state { NODE_WAIT, NODE_CONNECTING, NODE_HANDSHAKE, NODE_READY, NODE_LOST };

/* One command on its way: on a node's in-flight list or on the waiting list. */
struct req {
    struct req *prev, *next;
    struct mc_cloud_conn *c;
    mc_cloud_reply_fn fn;
    void *privdata;      /* borrowed: the caller's, handed back to fn */
    int node;            /* node it was last sent (or redirected) to */
    int slot;            /* cluster slot of its key, -1 for a node-addressed command */
    int asking;          /* 1: precede with ASKING (after -ASK) */
    int redirects, retries;
    ev_tstamp sent;      /* when written to node, for the command timeout */
    ev_tstamp not_before, deadline; /* while waiting */
    int argc;            /* 0 in standalone mode: argv is not kept */
    const char **argv;   /* owned, same allocation as the req */
    size_t *argvlen;
};

struct node {
    struct mc_cloud_conn *c;
    int idx;
    int is_unix;
    int port;
    char host[256];      /* host, or socket path when is_unix */
    char name[272];      /* "host:port", "[v6]:port" or "unix:/path" */
    redisAsyncContext *ac; /* owned through hiredis: NULL when not connected */
    enum node_state state;
    uint32_t inflight;
    struct req *head, *tail; /* in-flight, oldest first */
    ev_timer timer;      /* connect/handshake timeout, or reconnect backoff */
    ev_timer cmd_timer;  /* command timeout of the oldest in-flight command */
    uint32_t backoff_ms;
    int hs_auth_failed, hs_failed;
    char hs_err[128];    /* the handshake's AUTH or SELECT error reply */
    int stalled;         /* the oldest command waited command_timeout_ms: no new ones until a reply */
    int tried;           /* its first connection attempt has an outcome (mc_cloud_conn_check) */
    int down;            /* 0: fine; else TROUBLE_*, said at down_since, last told at told */
    ev_tstamp down_since, told;
    uint32_t attempts;   /* failures since down */
};

struct mc_cloud_conn {
    struct ev_loop *loop; /* borrowed: outlives the conn */
    struct mc_cloud_conn_config cfg; /* user/password point at the owned copies below */
    char *user, *password; /* owned */
    struct node *nodes[MC_CLOUD_MAX_NODES]; /* owned; indices never change */
    int n_nodes;
    int cluster;
    int map_known;
    int16_t slots[N_SLOTS]; /* cluster: slot -> node index, -1 unknown */
    int refresh_inflight, refresh_wanted, refresh_node;
    ev_timer refresh_timer;
    struct req *wait_head, *wait_tail; /* commands waiting for a retry or a redirect target */
    uint32_t n_waiting;
    ev_timer retry_timer;
    int freeing;
    char *fmt;            /* owned: RESP encoding buffer (format_command) */
    size_t fmt_cap;
    int err;
    char errstr[128];
    int checking;        /* inside mc_cloud_conn_check: configuration errors are its caller's to report */
    char fatal[448];     /* the first configuration error met, "" when none */
};

static void node_connect(struct node *n);
static void refresh_schedule(struct mc_cloud_conn *c, double delay);

static void set_err(struct mc_cloud_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct mc_cloud_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
    va_end(ap);
    c->err = 1;
}

/* ---- what the operator is told ---- */

/*
 * n failed (kind: enum trouble).  Its first failure is logged at once with
 * its cause; the next ones only count, with a line a minute while they go
 * on: a node down for hours and retried every 5 s writes a line a minute,
 * not one per attempt.
 */
static void node_trouble(struct node *n, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void node_trouble(struct node *n, int kind, const char *fmt, ...)
{
    struct mc_cloud_conn *c = n->c;
    char cause[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof(cause), fmt, ap);
    va_end(ap);
    set_err(c, "%s: %s", n->name, cause);
    n->tried = 1;
    if (kind == TROUBLE_CONFIG && !c->fatal[0])
        snprintf(c->fatal, sizeof(c->fatal), "%s: %s", n->name, cause);
    if (c->freeing || (kind == TROUBLE_CONFIG && c->checking))
        return;
    int level = kind == TROUBLE_CONFIG ? MC_LOG_ERROR : MC_LOG_WARN;
    ev_tstamp now = ev_time();
    if (n->down != kind) {
        /* a new trouble, or another kind of it (refused after unreachable): said at once */
        if (!n->down) {
            n->down_since = now;
            n->attempts = 0;
        }
        n->down = kind;
        n->told = now;
        n->attempts++;
        mc_log(level, "cloud: %s: %s; %s", n->name, cause,
               kind == TROUBLE_CONFIG ? "check --redis-auth, --redis-db and --redis/--redis-cluster; retrying"
               : kind == TROUBLE_SLOW ? "its updates wait in memory until it answers"
                                      : "retrying; its updates wait in memory (up to --cloud-max-keys hosts)");
        return;
    }
    n->attempts++;
    if (now - n->told >= TROUBLE_REPEAT) {
        n->told = now;
        mc_log(level, "cloud: %s: still failing after %.0f s (%u attempts): %s", n->name, now - n->down_since,
               n->attempts, cause);
    }
}

/* n works (connected and answering): its recovery is said when a failure was. */
static void node_fine(struct node *n)
{
    n->tried = 1;
    if (!n->down)
        return;
    if (!n->c->freeing)
        mc_notice("cloud: %s: %s after %.1f s (%u failed attempts)", n->name,
                  n->down == TROUBLE_SLOW ? "answering again" : "reachable again", ev_time() - n->down_since,
                  n->attempts);
    n->down = TROUBLE_NONE;
}

/* ---- lists: a req is on exactly one list at a time ---- */

static void list_push(struct req **head, struct req **tail, struct req *q)
{
    q->next = NULL;
    q->prev = *tail;
    if (*tail)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

static void list_remove(struct req **head, struct req **tail, struct req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        *head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        *tail = q->prev;
    q->prev = q->next = NULL;
}

/* ---- addresses ---- */

/*
 * Parses a node address: "host:port", "[v6]:port", "unix:/path", or a host
 * alone (port 6379; a bare IPv6 literal with several ':' counts as a host).
 * host receives the host or the socket path, *port the port (0 for unix).
 * Returns 0, or -1 with a message in err.
 */
int mc_cloud_conn_parse_addr(const char *spec, char *host, size_t hostlen, int *port, int *is_unix, char *err,
                             size_t errlen)
{
    *port = 6379;
    *is_unix = 0;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty redis node address");
        return -1;
    }
    if (strncmp(spec, "unix:", 5) == 0) {
        if (strlen(spec + 5) == 0 || strlen(spec + 5) >= hostlen || strlen(spec + 5) >= 108) {
            snprintf(err, errlen, "bad unix socket path in '%s'", spec);
            return -1;
        }
        snprintf(host, hostlen, "%s", spec + 5);
        *is_unix = 1;
        *port = 0;
        return 0;
    }
    return mc_hostport_split(spec, 6379, "redis node", host, hostlen, port, err, errlen);
}

static void node_set_name(struct node *n)
{
    if (n->is_unix)
        snprintf(n->name, sizeof(n->name), "unix:%s", n->host);
    else if (strchr(n->host, ':'))
        snprintf(n->name, sizeof(n->name), "[%s]:%d", n->host, n->port);
    else
        snprintf(n->name, sizeof(n->name), "%s:%d", n->host, n->port);
}

static void node_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void cmd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Appends a node (not yet connecting) to the table; returns its index or -1 when full. */
static int node_new(struct mc_cloud_conn *c, const char *host, int port, int is_unix)
{
    if (c->n_nodes >= MC_CLOUD_MAX_NODES)
        return -1;
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return -1;
    n->c = c;
    n->idx = c->n_nodes;
    n->is_unix = is_unix;
    n->port = port;
    snprintf(n->host, sizeof(n->host), "%s", host);
    node_set_name(n);
    n->state = NODE_WAIT;
    n->backoff_ms = c->cfg.backoff_min_ms;
    ev_timer_init(&n->timer, node_timer_cb, 0., 0.);
    n->timer.data = n;
    ev_timer_init(&n->cmd_timer, cmd_timer_cb, 0., 0.);
    n->cmd_timer.data = n;
    c->nodes[c->n_nodes++] = n;
    return n->idx;
}

/* The node at host:port (host empty: ref's host), created and connecting when new; -1 when the table is full. */
static int node_get_or_add(struct mc_cloud_conn *c, const char *host, size_t hostlen, int port,
                           const struct node *ref)
{
    char h[256];
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        snprintf(h, sizeof(h), "%s", ref->host);
    } else {
        if (hostlen >= sizeof(h))
            return -1;
        memcpy(h, host, hostlen);
        h[hostlen] = '\0';
    }
    for (int i = 0; i < c->n_nodes; i++)
        if (!c->nodes[i]->is_unix && c->nodes[i]->port == port && strcmp(c->nodes[i]->host, h) == 0)
            return i;
    int idx = node_new(c, h, port, 0);
    if (idx < 0) {
        set_err(c, "more than %d redis nodes", MC_CLOUD_MAX_NODES);
        return -1;
    }
    node_connect(c->nodes[idx]);
    return idx;
}

/* ---- connection life ---- */

static void timer_restart(struct mc_cloud_conn *c, ev_timer *t, double after)
{
    ev_timer_stop(c->loop, t);
    ev_timer_set(t, after, 0.);
    ev_timer_start(c->loop, t);
}

/* Waits backoff_ms before the next connect attempt, then doubles it up to backoff_max_ms. */
static void node_backoff(struct node *n)
{
    struct mc_cloud_conn *c = n->c;
    n->state = NODE_WAIT;
    ev_timer_stop(c->loop, &n->cmd_timer);
    if (c->freeing)
        return;
    timer_restart(c, &n->timer, n->backoff_ms / 1000.);
    n->backoff_ms = n->backoff_ms * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : n->backoff_ms * 2;
}

/*
 * Detaches and frees n's context: its pending callbacks run with a NULL
 * reply (inside this call, or just after the current callback when called
 * from one of n's callbacks).  The caller schedules the reconnect.
 */
static void node_drop(struct node *n)
{
    redisAsyncContext *ac = n->ac;
    n->ac = NULL;
    n->state = NODE_WAIT;
    ev_timer_stop(n->c->loop, &n->cmd_timer);
    ev_timer_stop(n->c->loop, &n->timer);
    if (ac)
        redisAsyncFree(ac);
}

static void node_ready(struct node *n)
{
    struct mc_cloud_conn *c = n->c;
    n->state = NODE_READY;
    n->backoff_ms = c->cfg.backoff_min_ms;
    ev_timer_stop(c->loop, &n->timer);
    MC_CTR_INC(cloud_conn, connects);
    node_fine(n);
    if (c->cfg.on_connect)
        c->cfg.on_connect(c->cfg.ctx, n->idx);
    if (c->cluster && (!c->map_known || c->refresh_wanted) && !c->refresh_inflight)
        refresh_schedule(c, 0.);
    if (c->wait_head && !ev_is_active(&c->retry_timer))
        timer_restart(c, &c->retry_timer, 0.);
}

/* Ends the handshake (after the PING or INFO reply): ready, or dropped and retried later. */
static void handshake_done(struct node *n, const redisReply *ping)
{
    struct mc_cloud_conn *c = n->c;
    int info = ping->type == REDIS_REPLY_STRING;
    if (!c->cluster && info && strstr(ping->str, "cluster_enabled:1")) {
        /* a cluster node given as a plain node: route by slot, as --redis-cluster would */
        c->cluster = 1;
        mc_info("cloud: %s is a Redis Cluster node: routing by hash slot, the given nodes as seeds", n->name);
    }
    int noauth = ping->type == REDIS_REPLY_ERROR && strncmp(ping->str, "NOAUTH", 6) == 0;
    if (n->hs_auth_failed || noauth) {
        MC_CTR_INC(cloud_conn, auth_errors);
        if (noauth && !n->hs_auth_failed)
            node_trouble(n, TROUBLE_CONFIG, "authentication required (%.80s): give --redis-auth", ping->str);
        else
            node_trouble(n, TROUBLE_CONFIG, "authentication failed: %s", n->hs_err);
    } else if (n->hs_failed) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_CONFIG, "SELECT %d refused: %s", c->cfg.db, n->hs_err);
    } else if (ping->type == REDIS_REPLY_ERROR) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_UNREACHABLE, "INFO cluster: %.80s", ping->str);
    } else if (c->cluster && info && !strstr(ping->str, "cluster_enabled:1")) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_CONFIG, "not a Redis Cluster node (cluster_enabled:0): name it with --redis, "
                     "not --redis-cluster");
    } else {
        node_ready(n);
        return;
    }
    node_drop(n);
    node_backoff(n);
}

static void auth_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct node *n = privdata;
    redisReply *reply = r;
    if (!reply || n->ac != ac)
        return; /* lost or dropped: the disconnect path reconnects */
    if (reply->type == REDIS_REPLY_ERROR) {
        n->hs_auth_failed = 1;
        snprintf(n->hs_err, sizeof(n->hs_err), "%.100s", reply->str);
    }
}

static void select_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct node *n = privdata;
    redisReply *reply = r;
    if (!reply || n->ac != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR && !n->hs_auth_failed) {
        n->hs_failed = 1;
        snprintf(n->hs_err, sizeof(n->hs_err), "%.100s", reply->str);
    }
}

static void ping_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct node *n = privdata;
    if (!r || n->ac != ac)
        return;
    handshake_done(n, r);
}

static void connect_cb(const redisAsyncContext *cac, int status)
{
    struct node *n = cac->data;
    if (!n || n->ac != cac)
        return;
    struct mc_cloud_conn *c = n->c;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_UNREACHABLE, "cannot connect: %.100s", cac->errstr);
        n->ac = NULL;
        node_backoff(n);
        return;
    }
    /* A flush writes many calls at once: a send buffer that takes them whole
     * spares hiredis moving the unsent rest of its buffer after each write. */
    int sndbuf = 4 << 20;
    if (setsockopt(cac->c.fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
        (void)setsockopt(cac->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    /* Pipelined: AUTH, SELECT, PING; the PING reply decides.  Never free the
     * context here: hiredis still uses it after this callback returns. */
    n->state = NODE_HANDSHAKE;
    n->hs_auth_failed = n->hs_failed = 0;
    int rc = REDIS_OK;
    if (c->password) {
        const char *argv[3] = { "AUTH", c->user ? c->user : c->password, c->password };
        rc = redisAsyncCommandArgv(n->ac, auth_cb, n, c->user ? 3 : 2, argv, NULL);
    }
    if (rc == REDIS_OK && !c->cluster && c->cfg.db != 0)
        rc = redisAsyncCommand(n->ac, select_cb, n, "SELECT %d", c->cfg.db);
    if (rc == REDIS_OK) /* a PING that also answers: a cluster node? */
        rc = redisAsyncCommand(n->ac, ping_cb, n, "INFO cluster");
    /* rc != OK: the context is already disconnecting; the connect timer drops it */
}

static void disconnect_cb(const redisAsyncContext *cac, int status)
{
    struct node *n = cac->data;
    (void)status;
    if (!n || n->ac != cac)
        return; /* we dropped it ourselves */
    struct mc_cloud_conn *c = n->c;
    n->ac = NULL; /* hiredis frees it after this callback */
    MC_CTR_INC(cloud_conn, disconnects);
    node_trouble(n, TROUBLE_UNREACHABLE, "connection lost: %.100s", cac->err ? cac->errstr : "closed");
    if (c->cluster)
        refresh_schedule(c, REFRESH_DELAY); /* a master may have failed over */
    node_backoff(n);
}

/* Starts one asynchronous connect attempt; failures go through backoff. */
static void node_connect(struct node *n)
{
    struct mc_cloud_conn *c = n->c;
    if (c->freeing)
        return;
    redisAsyncContext *ac = n->is_unix ? redisAsyncConnectUnix(n->host) : redisAsyncConnect(n->host, n->port);
    if (!ac || ac->err) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_UNREACHABLE, "cannot connect: %.100s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        node_backoff(n);
        return;
    }
    ac->data = n;
    /* attach before setting the connect callback: that call arms the write watcher */
    if (redisLibevAttach(c->loop, ac) != REDIS_OK) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_UNREACHABLE, "cannot attach to the event loop");
        redisAsyncFree(ac);
        node_backoff(n);
        return;
    }
    n->ac = ac;
    n->state = NODE_CONNECTING;
    n->stalled = 0;
    if (!n->is_unix)
        redisEnableKeepAlive(&ac->c); /* a peer that vanished without a word is found out */
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    timer_restart(c, &n->timer, c->cfg.connect_timeout_ms / 1000.);
}

/* WAIT: time to reconnect.  CONNECTING/HANDSHAKE: connect timeout. */
static void node_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    (void)loop;
    (void)revents;
    if (n->state == NODE_WAIT) {
        node_connect(n);
    } else if (n->state == NODE_CONNECTING || n->state == NODE_HANDSHAKE) {
        MC_CTR_INC(cloud_conn, connect_errors);
        node_trouble(n, TROUBLE_UNREACHABLE, "no answer within %u ms (--redis-connect-timeout)",
                     (unsigned)n->c->cfg.connect_timeout_ms);
        node_drop(n);
        node_backoff(n);
    }
}

/* Fires when the oldest in-flight command may have waited command_timeout_ms. */
static void cmd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    struct mc_cloud_conn *c = n->c;
    (void)revents;
    if (!n->head || n->state != NODE_READY)
        return;
    double limit = c->cfg.command_timeout_ms / 1000.;
    double age = ev_now(loop) - n->head->sent;
    if (age + 0.001 < limit) {
        timer_restart(c, w, limit - age);
        return;
    }
    /*
     * A slow node is not a dead one: commands already written may still be
     * executed, so failing them here (and letting the caller resend) would
     * count some updates twice.  The node is only held back from new
     * commands until it answers again; a dead peer is detected by the
     * connection itself (RST, EOF, TCP keepalive) and only then are its
     * commands failed.
     */
    if (!n->stalled) {
        n->stalled = 1;
        MC_CTR_INC(cloud_conn, timeouts);
        node_trouble(n, TROUBLE_SLOW, "no reply for %u ms (--redis-timeout): sending it nothing new until it answers",
                     (unsigned)c->cfg.command_timeout_ms);
    }
    timer_restart(c, w, limit);
}

/* ---- commands ---- */

/* A req for argv; with copy, the req owns a copy of argv (one allocation, freed with the req). */
static struct req *req_new(struct mc_cloud_conn *c, int argc, const char **argv, const size_t *argvlen, int copy,
                           mc_cloud_reply_fn fn, void *privdata)
{
    size_t total = sizeof(struct req);
    if (copy) {
        total += (size_t)argc * (sizeof(size_t) + sizeof(char *));
        for (int i = 0; i < argc; i++)
            total += (argvlen ? argvlen[i] : strlen(argv[i])) + 1;
    }
    struct req *q = calloc(1, total);
    if (!q)
        return NULL;
    q->c = c;
    q->fn = fn;
    q->privdata = privdata;
    q->slot = -1;
    if (copy) {
        q->argc = argc;
        q->argvlen = (size_t *)(q + 1);
        q->argv = (const char **)(q->argvlen + argc);
        char *p = (char *)(q->argv + argc);
        for (int i = 0; i < argc; i++) {
            size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
            memcpy(p, argv[i], l);
            p[l] = '\0';
            q->argv[i] = p;
            q->argvlen[i] = l;
            p += l + 1;
        }
    }
    return q;
}

static void req_finish(struct req *q, redisReply *reply)
{
    if (q->fn)
        q->fn(q->privdata, reply);
    free(q);
}

static int node_usable(const struct mc_cloud_conn *c, const struct node *n)
{
    return n->state == NODE_READY && n->ac && !n->stalled && n->inflight < c->cfg.max_inflight;
}

static void reply_cb(redisAsyncContext *ac, void *r, void *privdata);

/*
 * RESP encoding of argv in the conn's reusable buffer (valid until the next
 * call).  hiredis's own formatter builds the same bytes one printf-style
 * append per argument, which costs more than everything else the writer
 * does for a many-key script call.  NULL when out of memory.
 */
static const char *format_command(struct mc_cloud_conn *c, int argc, const char **argv, const size_t *argvlen,
                                  size_t *out_len)
{
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += 16 + (argvlen ? argvlen[i] : strlen(argv[i]));
    if (need > c->fmt_cap) {
        char *b = realloc(c->fmt, need);
        if (!b)
            return NULL;
        c->fmt = b;
        c->fmt_cap = need;
    }
    char *p = c->fmt;
    *p++ = '*';
    p += mc_u64_text((uint64_t)argc, p);
    *p++ = '\r', *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        *p++ = '$';
        p += mc_u64_text(l, p);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], l);
        p += l;
        *p++ = '\r', *p++ = '\n';
    }
    *out_len = (size_t)(p - c->fmt);
    return c->fmt;
}

/*
 * Writes q (argv: the caller's on a first standalone send, else q's copy) to
 * node idx and puts it on the node's in-flight list.  Returns 0, or -1 when
 * the node is not ready or full (q is untouched and still the caller's).
 */
static int req_send_resp(struct mc_cloud_conn *c, struct req *q, int idx, const char *cmd, size_t len)
{
    struct node *n = c->nodes[idx];
    if (!node_usable(c, n))
        return -1;
    if (q->asking && redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return -1;
    if (!cmd || redisAsyncFormattedCommand(n->ac, reply_cb, q, cmd, len) != REDIS_OK)
        return -1;
    q->node = idx;
    q->sent = ev_now(c->loop);
    list_push(&n->head, &n->tail, q);
    n->inflight++;
    if (!ev_is_active(&n->cmd_timer))
        timer_restart(c, &n->cmd_timer, c->cfg.command_timeout_ms / 1000.);
    return 0;
}

static int req_send(struct mc_cloud_conn *c, struct req *q, int idx, int argc, const char **argv,
                    const size_t *argvlen)
{
    if (!node_usable(c, c->nodes[idx]))
        return -1;
    size_t len = 0;
    const char *cmd = format_command(c, argc, argv, argvlen, &len);
    return req_send_resp(c, q, idx, cmd, len);
}

/* Parks q on the waiting list; the retry timer resends it after delay_ms or fails it at its deadline. */
static void wait_push(struct mc_cloud_conn *c, struct req *q, uint32_t delay_ms)
{
    ev_tstamp now = ev_now(c->loop);
    q->not_before = now + delay_ms / 1000.;
    if (q->deadline == 0)
        q->deadline = now + c->cfg.command_timeout_ms / 1000.;
    list_push(&c->wait_head, &c->wait_tail, q);
    c->n_waiting++;
    if (!ev_is_active(&c->retry_timer)) {
        ev_timer_set(&c->retry_timer, RETRY_TICK, RETRY_TICK);
        ev_timer_start(c->loop, &c->retry_timer);
    }
}

/* The node a waiting or redirected q goes to now. */
static int req_target(const struct mc_cloud_conn *c, const struct req *q)
{
    if (!q->asking && q->slot >= 0 && c->slots[q->slot] >= 0)
        return c->slots[q->slot];
    return q->node;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mc_cloud_conn *c = w->data;
    ev_tstamp now = ev_now(loop);
    (void)revents;
    struct req *q = c->wait_head, *next;
    for (; q; q = next) {
        next = q->next;
        if (q->not_before > now)
            continue;
        int t = req_target(c, q);
        if (node_usable(c, c->nodes[t])) {
            list_remove(&c->wait_head, &c->wait_tail, q);
            c->n_waiting--;
            /* a usable node refuses only while hiredis tears it down */
            if (req_send(c, q, t, q->argc, q->argv, q->argvlen) != 0)
                req_finish(q, NULL);
        } else if (now >= q->deadline) {
            list_remove(&c->wait_head, &c->wait_tail, q);
            c->n_waiting--;
            req_finish(q, NULL);
        }
    }
    if (!c->wait_head)
        ev_timer_stop(loop, w);
}

/*
 * A cluster error reply to q: "MOVED slot host:port", "ASK slot host:port",
 * "TRYAGAIN ...", "CLUSTERDOWN ...".  Returns 1 when q was taken over
 * (resent, parked or finished), 0 to hand the error to the caller.
 */
static int cluster_error(struct mc_cloud_conn *c, struct node *from, struct req *q, const redisReply *reply)
{
    const char *s = reply->str;
    int ask = strncmp(s, "ASK ", 4) == 0;
    if (ask || strncmp(s, "MOVED ", 6) == 0) {
        const char *p = s + (ask ? 4 : 6);
        char *end;
        long slot = strtol(p, &end, 10);
        const char *addr = end + 1;
        const char *colon = strrchr(addr, ':');
        if (end == p || *end != ' ' || slot < 0 || slot >= N_SLOTS || !colon)
            return 0;
        long port = strtol(colon + 1, NULL, 10);
        if (port < 1 || port > 65535)
            return 0;
        if (ask)
            MC_CTR_INC(cloud_conn, ask);
        else
            MC_CTR_INC(cloud_conn, moved);
        int t = node_get_or_add(c, addr, (size_t)(colon - addr), (int)port, from);
        if (++q->redirects > MAX_REDIRECTS || t < 0) {
            set_err(c, "%s: too many redirections (last: %.80s)", from->name, s);
            req_finish(q, NULL);
            return 1;
        }
        if (!ask) {
            c->slots[slot] = (int16_t)t;
            refresh_schedule(c, REFRESH_DELAY);
        }
        q->asking = ask;
        q->node = t;
        if (req_send(c, q, t, q->argc, q->argv, q->argvlen) != 0)
            wait_push(c, q, 0); /* target still connecting, or full */
        return 1;
    }
    if (strncmp(s, "TRYAGAIN", 8) == 0 || strncmp(s, "CLUSTERDOWN", 11) == 0) {
        if (++q->retries > MAX_RETRIES)
            return 0;
        wait_push(c, q, RETRY_DELAY_MS);
        return 1;
    }
    return 0;
}

/* Every command's reply: unlinks it, follows cluster redirections, else hands the reply to the caller. */
static void reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct req *q = privdata;
    struct mc_cloud_conn *c = q->c;
    struct node *n = c->nodes[q->node];
    redisReply *reply = r;
    list_remove(&n->head, &n->tail, q);
    n->inflight--;
    if (reply && n->stalled) {
        n->stalled = 0; /* it answers again */
        node_fine(n);
    }
    if (!reply) {
        if (n->ac == ac && n->state == NODE_READY)
            n->state = NODE_LOST; /* hiredis is tearing it down: refuse new commands */
        req_finish(q, NULL);
        return;
    }
    MC_CTR_INC(cloud_conn, replies);
    if (reply->type == REDIS_REPLY_ERROR) {
        if (c->cluster && q->argc > 0 && !c->freeing && cluster_error(c, n, q, reply))
            return;
        MC_CTR_INC(cloud_conn, error_replies);
    }
    req_finish(q, reply);
}

/* ---- cluster slot map ---- */

static void slots_reply(void *privdata, redisReply *reply)
{
    struct mc_cloud_conn *c = privdata;
    if (c->freeing)
        return;
    c->refresh_inflight = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            set_err(c, "CLUSTER SLOTS: %.80s", reply->str);
        refresh_schedule(c, REFRESH_RETRY);
        return;
    }
    const struct node *ref = c->nodes[c->refresh_node];
    int16_t map[N_SLOTS];
    for (int i = 0; i < N_SLOTS; i++)
        map[i] = -1;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 || e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const redisReply *m = e->element[2];
        long long port = m->element[1]->integer;
        if (lo < 0 || hi >= N_SLOTS || lo > hi || port < 1 || port > 65535)
            continue;
        int t = node_get_or_add(c, m->element[0]->str, m->element[0]->len, (int)port, ref);
        if (t < 0)
            continue;
        for (long long s = lo; s <= hi; s++)
            map[s] = (int16_t)t;
    }
    memcpy(c->slots, map, sizeof(map));
    c->map_known = 1;
}

/* Sends CLUSTER SLOTS to the first ready node, or tries again later. */
static void refresh_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mc_cloud_conn *c = w->data;
    (void)loop;
    (void)revents;
    if (c->refresh_inflight || c->freeing)
        return;
    static const char *const argv[] = { "CLUSTER", "SLOTS" };
    for (int i = 0; i < c->n_nodes; i++) {
        if (!node_usable(c, c->nodes[i]))
            continue;
        /* not a copied req: a refresh is never redirected */
        struct req *q = req_new(c, 2, (const char **)argv, NULL, 0, slots_reply, c);
        if (!q)
            break;
        if (req_send(c, q, i, 2, (const char **)argv, NULL) != 0) {
            free(q);
            continue;
        }
        c->refresh_inflight = 1;
        c->refresh_wanted = 0;
        c->refresh_node = i;
        MC_CTR_INC(cloud_conn, slot_refreshes);
        return;
    }
    refresh_schedule(c, REFRESH_RETRY);
}

/* Asks for a CLUSTER SLOTS refresh in delay seconds (coalesced with one already pending). */
static void refresh_schedule(struct mc_cloud_conn *c, double delay)
{
    if (c->freeing || !c->cluster)
        return;
    c->refresh_wanted = 1;
    if (c->refresh_inflight || ev_is_active(&c->refresh_timer))
        return;
    timer_restart(c, &c->refresh_timer, delay);
}

/* ---- public API ---- */

/* See conn.h. */
void mc_cloud_conn_refresh_slots(struct mc_cloud_conn *c)
{
    refresh_schedule(c, REFRESH_DELAY);
}

/*
 * A node's host name that does not exist is a configuration error (a typo
 * does not heal by retrying); a resolver that cannot answer now is not: the
 * connection attempts go on resolving.  0, or -1 with err.
 */
static int check_name(const char *spec, const char *host, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc == 0) {
        freeaddrinfo(res);
        return 0;
    }
    if (rc == EAI_NONAME
#ifdef EAI_NODATA
        || rc == EAI_NODATA
#endif
    ) {
        snprintf(err, errlen, "redis node '%s': cannot resolve '%s': %s", spec, host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

/* Fills cfg with the documented defaults (no nodes, standalone, db 0, no AUTH). */
void mc_cloud_conn_config_defaults(struct mc_cloud_conn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = 1000;
    cfg->command_timeout_ms = 2000;
    cfg->max_inflight = 10000;
    cfg->backoff_min_ms = 100;
    cfg->backoff_max_ms = 5000;
}

int mc_cloud_conn_config_add_nodes(struct mc_cloud_conn_config *cfg, char *list, int cluster, char *err,
                                   size_t errlen)
{
    if (cfg->n_nodes && cfg->cluster != cluster) {
        snprintf(err, errlen, "--redis and --redis-cluster cannot be mixed");
        return -1;
    }
    for (char *tok = mc_opt_next_item(&list); tok; tok = mc_opt_next_item(&list)) {
        if (cfg->n_nodes >= MC_CLOUD_MAX_NODES) {
            snprintf(err, errlen, "at most %d nodes", MC_CLOUD_MAX_NODES);
            return -1;
        }
        cfg->nodes[cfg->n_nodes++] = tok;
    }
    cfg->cluster = cluster;
    return 0;
}

void mc_cloud_conn_config_auth(struct mc_cloud_conn_config *cfg, char *userpass)
{
    char *colon = strchr(userpass, ':'); /* the first ':' separates an ACL user */
    if (colon) {
        *colon = 0;
        cfg->user = userpass;
        cfg->password = colon + 1;
    } else {
        cfg->password = userpass;
    }
}

/*
 * Validates cfg, copies what it keeps (addresses, user, password: cfg's
 * strings may be freed after return), and starts connecting every node.
 * Zero timeouts and bounds take their defaults.  Returns NULL with err on a
 * bad address, no node, or no memory.  Free with mc_cloud_conn_free.
 */
struct mc_cloud_conn *mc_cloud_conn_new(struct ev_loop *loop, const struct mc_cloud_conn_config *cfg, char *err,
                                        size_t errlen)
{
    struct mc_cloud_conn_config d;
    mc_cloud_conn_config_defaults(&d);
    if (cfg->n_nodes < 1 || cfg->n_nodes > MC_CLOUD_MAX_NODES) {
        snprintf(err, errlen, "need 1 to %d redis nodes, got %d", MC_CLOUD_MAX_NODES, cfg->n_nodes);
        return NULL;
    }
    struct mc_cloud_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->cluster = cfg->cluster != 0;
    if (!c->cfg.connect_timeout_ms)
        c->cfg.connect_timeout_ms = d.connect_timeout_ms;
    if (!c->cfg.command_timeout_ms)
        c->cfg.command_timeout_ms = d.command_timeout_ms;
    if (!c->cfg.max_inflight)
        c->cfg.max_inflight = d.max_inflight;
    if (!c->cfg.backoff_min_ms)
        c->cfg.backoff_min_ms = d.backoff_min_ms;
    if (!c->cfg.backoff_max_ms)
        c->cfg.backoff_max_ms = d.backoff_max_ms;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;
    for (int i = 0; i < MC_CLOUD_MAX_NODES; i++)
        c->cfg.nodes[i] = NULL; /* borrowed strings are parsed below, not kept */
    c->cfg.user = c->cfg.password = NULL;
    if ((cfg->password && !(c->password = strdup(cfg->password))) ||
        (cfg->password && cfg->user && !(c->user = strdup(cfg->user)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->cfg.user = c->user;
    c->cfg.password = c->password;
    for (int i = 0; i < N_SLOTS; i++)
        c->slots[i] = -1;
    ev_timer_init(&c->refresh_timer, refresh_cb, 0., 0.);
    c->refresh_timer.data = c;
    ev_timer_init(&c->retry_timer, retry_cb, RETRY_TICK, RETRY_TICK);
    c->retry_timer.data = c;
    for (int i = 0; i < cfg->n_nodes; i++) {
        char host[256];
        int port, is_unix;
        if (mc_cloud_conn_parse_addr(cfg->nodes[i], host, sizeof(host), &port, &is_unix, err, errlen) != 0 ||
            (!is_unix && check_name(cfg->nodes[i], host, err, errlen) != 0))
            goto fail;
        if (node_new(c, host, port, is_unix) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    for (int i = 0; i < c->n_nodes; i++)
        node_connect(c->nodes[i]);
    return c;
fail:
    mc_cloud_conn_free(c);
    return NULL;
}

/*
 * Closes every context and calls every pending reply callback (in flight or
 * waiting for a retry) with NULL, then frees c.  Must not be called from a
 * reply or on_connect callback.  NULL is a no-op.
 */
void mc_cloud_conn_free(struct mc_cloud_conn *c)
{
    if (!c)
        return;
    c->freeing = 1;
    ev_timer_stop(c->loop, &c->refresh_timer);
    ev_timer_stop(c->loop, &c->retry_timer);
    for (int i = 0; i < c->n_nodes; i++)
        node_drop(c->nodes[i]);
    while (c->wait_head) {
        struct req *q = c->wait_head;
        list_remove(&c->wait_head, &c->wait_tail, q);
        c->n_waiting--;
        req_finish(q, NULL);
    }
    for (int i = 0; i < c->n_nodes; i++)
        free(c->nodes[i]);
    free(c->user);
    free(c->password);
    free(c->fmt);
    free(c);
}

static int submit(struct mc_cloud_conn *c, int node, int slot, int argc, const char **argv, const size_t *argvlen,
                  mc_cloud_reply_fn fn, void *privdata)
{
    if (c->freeing || node < 0 || node >= c->n_nodes || argc < 1 || !node_usable(c, c->nodes[node])) {
        MC_CTR_INC(cloud_conn, refused_not_ready);
        return -1;
    }
    struct req *q = req_new(c, argc, argv, argvlen, c->cluster, fn, privdata);
    if (!q) {
        MC_CTR_INC(cloud_conn, refused_not_ready);
        return -1;
    }
    q->slot = slot;
    if (req_send(c, q, node, argc, argv, argvlen) != 0) {
        free(q);
        MC_CTR_INC(cloud_conn, refused_not_ready);
        return -1;
    }
    MC_CTR_INC(cloud_conn, commands);
    return 0;
}

/* See conn.h.  argv is copied (cluster mode) or written out before return: it is borrowed for the call only. */
int mc_cloud_conn_command(struct mc_cloud_conn *c, const char *key, size_t keylen, int argc, const char **argv,
                          const size_t *argvlen, mc_cloud_reply_fn fn, void *privdata)
{
    int slot = -1, node;
    if (c->cluster) {
        slot = mc_cloud_keyslot(key, keylen);
        node = c->map_known ? c->slots[slot] : -1;
    } else {
        node = mc_cloud_node_for_key(key, keylen, c->n_nodes);
    }
    return submit(c, node, slot, argc, argv, argvlen, fn, privdata);
}

/* See conn.h. */
int mc_cloud_conn_command_resp(struct mc_cloud_conn *c, int node, const char *cmd, size_t len, mc_cloud_reply_fn fn,
                               void *privdata)
{
    if (c->cluster || c->freeing || node < 0 || node >= c->n_nodes || !node_usable(c, c->nodes[node])) {
        MC_CTR_INC(cloud_conn, refused_not_ready);
        return -1;
    }
    struct req *q = req_new(c, 0, NULL, NULL, 0, fn, privdata);
    if (!q || req_send_resp(c, q, node, cmd, len) != 0) {
        free(q);
        MC_CTR_INC(cloud_conn, refused_not_ready);
        return -1;
    }
    MC_CTR_INC(cloud_conn, commands);
    return 0;
}

/* See conn.h.  In cluster mode a MOVED reply still redirects the command. */
int mc_cloud_conn_command_node(struct mc_cloud_conn *c, int node, int argc, const char **argv,
                               const size_t *argvlen, mc_cloud_reply_fn fn, void *privdata)
{
    return submit(c, node, -1, argc, argv, argvlen, fn, privdata);
}

static void check_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents; /* only wakes the loop up */
}

/* 1 once every node given has had its first connection's outcome. */
static int all_tried(const struct mc_cloud_conn *c, int n_given)
{
    for (int i = 0; i < n_given; i++)
        if (!c->nodes[i]->tried)
            return 0;
    return 1;
}

/* See conn.h. */
int mc_cloud_conn_check(struct mc_cloud_conn *c, char *err, size_t errlen)
{
    int n_given = c->n_nodes; /* the nodes given; a cluster's others are found later */
    ev_timer deadline;
    /* a connect attempt ends within its timeout, its handshake included; then some slack */
    ev_timer_init(&deadline, check_deadline_cb, c->cfg.connect_timeout_ms / 1000. + 0.5, 0.);
    ev_timer_start(c->loop, &deadline);
    c->checking = 1;
    while (!c->fatal[0] && !all_tried(c, n_given) && ev_is_active(&deadline))
        ev_run(c->loop, EVRUN_ONCE);
    c->checking = 0;
    ev_timer_stop(c->loop, &deadline);
    if (c->fatal[0]) {
        snprintf(err, errlen, "%s", c->fatal);
        return -1;
    }
    return 0;
}

/* 1 when node is connected and answering, however many commands wait for it. */
int mc_cloud_conn_up(const struct mc_cloud_conn *c, int node)
{
    if (node < 0 || node >= c->n_nodes)
        return 0;
    const struct node *n = c->nodes[node];
    return n->state == NODE_READY && n->ac && !n->stalled;
}

/* Nodes in the table: standalone, the --redis nodes; cluster, the seeds and every master seen. */
int mc_cloud_conn_nodes(const struct mc_cloud_conn *c)
{
    return c->n_nodes;
}

/* The node key routes to now, or -1 while the cluster slot map is unknown. */
int mc_cloud_conn_node_of(const struct mc_cloud_conn *c, const char *key, size_t keylen)
{
    if (c->cluster)
        return c->map_known ? c->slots[mc_cloud_keyslot(key, keylen)] : -1;
    return mc_cloud_node_for_key(key, keylen, c->n_nodes);
}

/* 1 when node is connected, authenticated and under max_inflight. */
int mc_cloud_conn_ready(const struct mc_cloud_conn *c, int node)
{
    return node >= 0 && node < c->n_nodes && node_usable(c, c->nodes[node]);
}

/* In-flight commands on every node plus those waiting for a redirect target or a retry. */
uint32_t mc_cloud_conn_inflight(const struct mc_cloud_conn *c)
{
    uint32_t total = c->n_waiting;
    for (int i = 0; i < c->n_nodes; i++)
        total += c->nodes[i]->inflight;
    return total;
}

/* 1 in cluster mode (configured, or detected from a node's INFO during its handshake). */
int mc_cloud_conn_is_cluster(const struct mc_cloud_conn *c)
{
    return c->cluster;
}

/* Printable address of node, "?" when out of range; borrowed: valid until mc_cloud_conn_free. */
const char *mc_cloud_conn_node_name(const struct mc_cloud_conn *c, int node)
{
    return node >= 0 && node < c->n_nodes ? c->nodes[node]->name : "?";
}

/* The last connection or protocol error, "" when none; borrowed: valid until the next call into c. */
const char *mc_cloud_conn_errstr(const struct mc_cloud_conn *c)
{
    return c->err ? c->errstr : "";
}
