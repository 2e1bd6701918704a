/*
 * cloud.c - the collector's side of the MicroCloud: it reads what probes
 * wrote and follows their events.
 *
 * Lookups: one thread runs a libev loop with the probe's connection set
 * (cloud/conn.h: sharded nodes or a Redis Cluster, reconnection, bounded
 * in-flight commands) and sends the questions the receive loop asked
 * through the probe's lookup cache (cloud/lookup.h) every 10 ms.
 *
 * Events: another thread holds plain hiredis connections.  --subscribe:
 * PSUBSCRIBE on every standalone node (an event is published on the node
 * owning its channel) or on one cluster node (the cluster bus carries every
 * PUBLISH).  --consumer-group: XREADGROUP on the node of the `events`
 * stream (following a cluster's MOVED), the group created when missing;
 * the receive loop acknowledges an entry only once it wrote it
 * (mcc_cloud_ack), and at start the entries delivered before and never
 * acknowledged are read again first.  Events wait in a bounded queue;
 * beyond it they are dropped and counted (a consumer group's are then
 * read again after a restart, being unacknowledged).
 */
#include "mccollector/mccollector.h"

#include <errno.h>
#include <ev.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cloud/conn.h"
#include "cloud/keyspace.h"
#include "cloud/lookup.h"
#include "common/hostport.h"
#include "common/log.h"

MC_CTR_DEFINE(mcc_cloud, MCC_CLOUD_CTRS)

#define EVENTS_MAX 10000          /* events waiting for the receive loop */
#define ACKS_MAX 10000
#define EVENT_TEXT_MAX (1u << 20) /* a payload larger than this is not an event of ours */

struct event {
    char *channel;  /* owned */
    char *payload;  /* owned */
    size_t len;
    char id[32];    /* stream entry id (consumer group), "" for pub/sub */
};

struct mcc_cloud {
    const struct mcc_conf *conf;
    /* lookups */
    struct ev_loop *loop;
    struct mc_cloud_conn *conn;
    struct mc_lookup *lookups;
    ev_timer tick;
    ev_async wake;
    pthread_t lthread;
    int lthread_on;
    /* events */
    pthread_t ethread;
    int ethread_on;
    pthread_mutex_t mu;
    struct event q[EVENTS_MAX];
    size_t q_head, q_n;
    char acks[ACKS_MAX][32];
    size_t n_acks;
    volatile int stopping;
};

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct mcc_cloud *c = w->data;
    mc_lookup_send(c->lookups, c->conn);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)revents;
    struct mcc_cloud *c = w->data;
    if (c->stopping)
        ev_break(loop, EVBREAK_ALL);
}

static void *lookup_main(void *arg)
{
    struct mcc_cloud *c = arg;
    pthread_setname_np(pthread_self(), "mcc-lookups");
    ev_run(c->loop, 0);
    return NULL;
}

/* ---- events ------------------------------------------------------------------------------------ */

static void push_event(struct mcc_cloud *c, const char *channel, size_t clen, const char *payload, size_t plen,
                       const char *id)
{
    if (plen > EVENT_TEXT_MAX) {
        MC_CTR_INC(mcc_cloud, events_refused);
        return;
    }
    struct event e = { 0 };
    e.channel = strndup(channel, clen);
    e.payload = malloc(plen + 1);
    if (!e.channel || !e.payload) {
        free(e.channel);
        free(e.payload);
        MC_CTR_INC(mcc_cloud, events_dropped);
        return;
    }
    memcpy(e.payload, payload, plen);
    e.payload[plen] = 0;
    e.len = plen;
    snprintf(e.id, sizeof(e.id), "%s", id ? id : "");
    pthread_mutex_lock(&c->mu);
    if (c->q_n == EVENTS_MAX) {
        pthread_mutex_unlock(&c->mu);
        free(e.channel);
        free(e.payload);
        MC_CTR_INC(mcc_cloud, events_dropped);
        return;
    }
    c->q[(c->q_head + c->q_n) % EVENTS_MAX] = e;
    c->q_n++;
    pthread_mutex_unlock(&c->mu);
    MC_CTR_INC(mcc_cloud, events_received);
}

/* A node's connection: "unix:/path", "host:port", "[v6]:port". */
static redisContext *node_connect(const struct mcc_conf *conf, const char *node)
{
    struct timeval tv = { 1, 0 };
    redisContext *r;
    if (strncmp(node, "unix:", 5) == 0) {
        r = redisConnectUnixWithTimeout(node + 5, tv);
    } else {
        char host[256];
        int port;
        char err[128];
        if (mc_hostport_split(node, 6379, "--redis", host, sizeof(host), &port, err, sizeof(err)) != 0)
            return NULL;
        r = redisConnectWithTimeout(host, port, tv);
    }
    if (!r || r->err) {
        if (r)
            redisFree(r);
        return NULL;
    }
    const struct mc_cloud_conn_config *cc = &conf->cloud.conn;
    if (cc->password) {
        redisReply *rep = cc->user ? redisCommand(r, "AUTH %s %s", cc->user, cc->password)
                                   : redisCommand(r, "AUTH %s", cc->password);
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        freeReplyObject(rep);
        if (!ok) {
            redisFree(r);
            return NULL;
        }
    }
    if (!cc->cluster && cc->db) {
        redisReply *rep = redisCommand(r, "SELECT %d", cc->db);
        freeReplyObject(rep);
    }
    return r;
}

static void on_pmessage(struct mcc_cloud *c, redisReply *rep)
{
    const struct mcc_conf *conf = c->conf;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4 || rep->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(rep->element[0]->str, "pmessage") != 0 || rep->element[2]->type != REDIS_REPLY_STRING ||
        rep->element[3]->type != REDIS_REPLY_STRING)
        return; /* the subscriptions' confirmations */
    const char *ch = rep->element[2]->str;
    size_t plen = strlen(conf->cloud.prefix);
    if (strncmp(ch, conf->cloud.prefix, plen) == 0)
        ch += plen;
    push_event(c, ch, strlen(ch), rep->element[3]->str, rep->element[3]->len, NULL);
}

/*
 * Pub/sub: every node (standalone) or one (cluster), each its own
 * connection, all waited on with poll() so that no read ever times out (a
 * hiredis timeout would cost the connection, and the events published while
 * it is made again).
 */
static void subscribe_loop(struct mcc_cloud *c)
{
    const struct mcc_conf *conf = c->conf;
    int n = conf->cloud.conn.cluster ? 1 : conf->cloud.conn.n_nodes;
    redisContext *r[MC_CLOUD_MAX_NODES] = { 0 };
    while (!c->stopping) {
        struct pollfd pfd[MC_CLOUD_MAX_NODES];
        int idx[MC_CLOUD_MAX_NODES], np = 0;
        for (int i = 0; i < n; i++) {
            if (!r[i]) {
                r[i] = node_connect(conf, conf->cloud.conn.nodes[i]);
                if (!r[i])
                    continue;
                for (int k = 0; k < conf->n_patterns; k++)
                    redisAppendCommand(r[i], "PSUBSCRIBE %s%s", conf->cloud.prefix, conf->patterns[k]);
                int done = 0;
                while (!done)
                    if (redisBufferWrite(r[i], &done) != REDIS_OK)
                        break;
                if (!done) {
                    redisFree(r[i]);
                    r[i] = NULL;
                    continue;
                }
                MC_CTR_INC(mcc_cloud, event_connects);
            }
            pfd[np] = (struct pollfd){ .fd = r[i]->fd, .events = POLLIN };
            idx[np++] = i;
        }
        if (!np) {
            usleep(200000); /* every node down: try again shortly */
            continue;
        }
        if (poll(pfd, (nfds_t)np, 200) <= 0)
            continue;
        for (int k = 0; k < np; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            redisContext *x = r[idx[k]];
            void *reply = NULL;
            int ok = redisBufferRead(x) == REDIS_OK;
            while (ok && (ok = redisGetReplyFromReader(x, &reply) == REDIS_OK) && reply) {
                on_pmessage(c, reply);
                freeReplyObject(reply);
                reply = NULL;
            }
            if (!ok) {
                MC_CTR_INC(mcc_cloud, event_disconnects);
                redisFree(x);
                r[idx[k]] = NULL;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (r[i])
            redisFree(r[i]);
}

/* Acknowledges what the receive loop wrote. */
static void send_acks(struct mcc_cloud *c, redisContext *r, const char *key)
{
    for (;;) {
        char acks[64][32];
        size_t na = 0;
        pthread_mutex_lock(&c->mu);
        while (c->n_acks && na < 64)
            memcpy(acks[na++], c->acks[--c->n_acks], 32);
        pthread_mutex_unlock(&c->mu);
        if (!na)
            return;
        for (size_t i = 0; i < na; i++) {
            redisReply *rep = redisCommand(r, "XACK %s %s %s", key, c->conf->consumer_group, acks[i]);
            if (rep && rep->type == REDIS_REPLY_INTEGER)
                MC_CTR_ADD(mcc_cloud, events_acked, (uint64_t)rep->integer);
            freeReplyObject(rep);
        }
    }
}

/* The consumer group: the node of the `events` stream, its MOVED followed once per connection. */
static void group_loop(struct mcc_cloud *c)
{
    const struct mcc_conf *conf = c->conf;
    char key[256];
    snprintf(key, sizeof(key), "%sevents", conf->cloud.prefix);
    redisContext *r = NULL;
    char node[300] = "";
    int backlog = 1;       /* first read what was delivered to us before and never acknowledged ... */
    char after[32] = "0";  /* ... from the start of our pending list, then past the last one read */
    while (!c->stopping) {
        if (!r) {
            if (!node[0]) {
                int i = conf->cloud.conn.cluster ? 0
                                                 : mc_cloud_node_for_key(key, strlen(key), conf->cloud.conn.n_nodes);
                snprintf(node, sizeof(node), "%s", conf->cloud.conn.nodes[i]);
            }
            r = node_connect(conf, node);
            if (!r) {
                node[0] = 0;
                usleep(200000);
                continue;
            }
            redisReply *rep = redisCommand(r, "XGROUP CREATE %s %s 0 MKSTREAM", key, conf->consumer_group);
            if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "MOVED ", 6) == 0) {
                const char *sp = strchr(rep->str + 6, ' ');
                snprintf(node, sizeof(node), "%s", sp ? sp + 1 : "");
                freeReplyObject(rep);
                redisFree(r);
                r = NULL;
                continue;
            }
            freeReplyObject(rep); /* BUSYGROUP: it exists */
            MC_CTR_INC(mcc_cloud, event_connects);
            backlog = 1;
            snprintf(after, sizeof(after), "0");
        }
        send_acks(c, r, key);
        redisReply *rep = redisCommand(r, "XREADGROUP GROUP %s %s COUNT 500 BLOCK %d STREAMS %s %s",
                                       conf->consumer_group, conf->consumer, backlog ? 0 : 200, key,
                                       backlog ? after : ">");
        if (!rep) {
            MC_CTR_INC(mcc_cloud, event_disconnects);
            redisFree(r);
            r = NULL;
            continue;
        }
        size_t got = 0;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY &&
            rep->element[0]->elements == 2 && rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
            redisReply *entries = rep->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                redisReply *e = entries->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
                    e->element[1]->type != REDIS_REPLY_ARRAY)
                    continue;
                const char *type = NULL, *data = NULL;
                size_t tlen = 0, dlen = 0;
                redisReply *kv = e->element[1];
                for (size_t j = 0; j + 1 < kv->elements; j += 2) {
                    if (kv->element[j]->type != REDIS_REPLY_STRING || kv->element[j + 1]->type != REDIS_REPLY_STRING)
                        continue;
                    if (strcmp(kv->element[j]->str, "type") == 0)
                        type = kv->element[j + 1]->str, tlen = kv->element[j + 1]->len;
                    else if (strcmp(kv->element[j]->str, "data") == 0)
                        data = kv->element[j + 1]->str, dlen = kv->element[j + 1]->len;
                }
                got++;
                if (e->element[0]->len < sizeof(after))
                    memcpy(after, e->element[0]->str, e->element[0]->len + 1); /* the backlog goes on past it */
                if (!type || !data) {
                    MC_CTR_INC(mcc_cloud, events_refused);
                    continue;
                }
                char channel[300];
                int cl = snprintf(channel, sizeof(channel), "events.%.*s", (int)tlen, type);
                if (cl > 0 && e->element[0]->len < 32)
                    push_event(c, channel, (size_t)cl < sizeof(channel) ? (size_t)cl : sizeof(channel) - 1, data,
                               dlen, e->element[0]->str);
            }
        } else if (rep->type == REDIS_REPLY_ERROR) {
            MC_CTR_INC(mcc_cloud, event_errors);
            usleep(200000);
        }
        freeReplyObject(rep);
        if (backlog && got == 0)
            backlog = 0; /* the backlog is read: now the new entries */
        /* a full queue: wait for the receive loop rather than read entries we could only drop */
        while (!c->stopping) {
            pthread_mutex_lock(&c->mu);
            size_t qn = c->q_n;
            pthread_mutex_unlock(&c->mu);
            if (qn < EVENTS_MAX - 500)
                break;
            usleep(10000);
        }
    }
    if (r) {
        send_acks(c, r, key); /* what was written before the stop */
        redisFree(r);
    }
}

static void *events_main(void *arg)
{
    struct mcc_cloud *c = arg;
    pthread_setname_np(pthread_self(), "mcc-events");
    if (c->conf->consumer_group)
        group_loop(c);
    else
        subscribe_loop(c);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------------------- */

static void block_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old); /* the threads leave the signals to the receive loop */
}

struct mcc_cloud *mcc_cloud_start(const struct mcc_conf *conf, char *err, size_t errlen)
{
    struct mcc_cloud *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "cloud: out of memory");
        return NULL;
    }
    c->conf = conf;
    pthread_mutex_init(&c->mu, NULL);
    c->loop = ev_loop_new(EVFLAG_AUTO);
    c->lookups = mc_lookup_new(conf->cloud.prefix);
    if (!c->loop || !c->lookups) {
        snprintf(err, errlen, "cloud: out of memory");
        mcc_cloud_stop(c);
        return NULL;
    }
    c->conn = mc_cloud_conn_new(c->loop, &conf->cloud.conn, err, errlen);
    /* the nodes answer (or fail once) before the first flow asks: a refused configuration (AUTH) is an
     * error now; an unreachable node is a warning, and reconnected */
    if (!c->conn || mc_cloud_conn_check(c->conn, err, errlen) != 0) {
        mcc_cloud_stop(c);
        return NULL;
    }
    ev_timer_init(&c->tick, on_tick, 0.01, 0.01);
    c->tick.data = c;
    ev_timer_start(c->loop, &c->tick);
    ev_async_init(&c->wake, on_wake);
    c->wake.data = c;
    ev_async_start(c->loop, &c->wake);
    sigset_t old;
    block_signals(&old);
    c->lthread_on = pthread_create(&c->lthread, NULL, lookup_main, c) == 0;
    if (conf->n_patterns || conf->consumer_group)
        c->ethread_on = pthread_create(&c->ethread, NULL, events_main, c) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!c->lthread_on || ((conf->n_patterns || conf->consumer_group) && !c->ethread_on)) {
        snprintf(err, errlen, "cloud: cannot start a thread");
        mcc_cloud_stop(c);
        return NULL;
    }
    return c;
}

struct mc_lookup *mcc_cloud_lookups(struct mcc_cloud *c)
{
    return c ? c->lookups : NULL;
}

int mcc_cloud_next_event(struct mcc_cloud *c, char **channel, char **payload, size_t *len, char *id, size_t idlen)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    if (!c->q_n) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    struct event e = c->q[c->q_head];
    c->q_head = (c->q_head + 1) % EVENTS_MAX;
    c->q_n--;
    pthread_mutex_unlock(&c->mu);
    *channel = e.channel;
    *payload = e.payload;
    *len = e.len;
    snprintf(id, idlen, "%s", e.id);
    return 1;
}

void mcc_cloud_ack(struct mcc_cloud *c, const char *id)
{
    if (!c || !id[0])
        return;
    pthread_mutex_lock(&c->mu);
    if (c->n_acks < ACKS_MAX)
        snprintf(c->acks[c->n_acks++], sizeof(c->acks[0]), "%s", id);
    /* else: left unacknowledged, so delivered again after a restart: never lost */
    pthread_mutex_unlock(&c->mu);
}

void mcc_cloud_stop(struct mcc_cloud *c)
{
    if (!c)
        return;
    c->stopping = 1;
    if (c->ethread_on)
        pthread_join(c->ethread, NULL);
    if (c->lthread_on) {
        ev_async_send(c->loop, &c->wake);
        pthread_join(c->lthread, NULL);
    }
    mc_cloud_conn_free(c->conn);
    mc_lookup_free(c->lookups);
    if (c->loop)
        ev_loop_destroy(c->loop);
    while (c->q_n) {
        free(c->q[c->q_head].channel);
        free(c->q[c->q_head].payload);
        c->q_head = (c->q_head + 1) % EVENTS_MAX;
        c->q_n--;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}
