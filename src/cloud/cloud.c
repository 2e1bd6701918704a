/*
 * cloud.c - the MicroCloud writer/reader (see cloud.h and docs/CLOUD.md).
 *
 * Packet thread                         Cloud thread (libev loop)
 *   tick: drain dirty flows               async wake / flush timer:
 *     -> per-host deltas (batch)            take mailbox: batch, aggregates, ops, stats
 *   analyzers: mc_agg_* (agg)               into the writer's pending tables (write.c)
 *   trylock mailbox, hand both over   ->    plain commands per key, batched per node
 *   take lookup results               <-    replies: put back what did not run, events
 * The mailbox mutex is held only to swap pointers; the packet thread uses
 * trylock and simply keeps aggregating when it is busy.  The user lookups
 * and operations the mailbox carries are users.c's (internal.h).
 */
#include "cloud/cloud.h"

#include <ev.h>
#include <hiredis/hiredis.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cloud/internal.h"
#include "cloud/resp.h"
#include "common/hostport.h"
#include "common/json.h"
#include "common/text.h"
#include "common/log.h"

MC_CTR_DEFINE(cloud, MC_CLOUD_CTRS)

#define AGG_MAX_BYTES (32u << 20) /* default bound of each aggregates table */
#define REPORT_EVERY_MS 10000 /* losses (drops, failed commands) are logged at most this often */
#define LOOKUP_EVERY_MS 10     /* analyzers' lookups between flushes: an exchange at most this often */
#define ROOM_WAIT_MS 50       /* a file's full batch re-checks the cloud's health this often while it waits */










void mc_cloud_config_defaults(struct mc_cloud_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    mc_cloud_conn_config_defaults(&cfg->conn);
    cfg->prefix = "";
    cfg->ttl_ms = 300000;
    cfg->flush_ms = 500;
    cfg->heartbeat_ms = 5000;
    cfg->max_keys = 1000000;
    cfg->stream_maxlen = 100000;
    cfg->lookups = 1;
    cfg->user_cache_ms = 60000;
    cfg->cpu = -1;
    cfg->negative_cache_ms = 10000;
    cfg->drain_timeout_ms = 5000;
}

static int is_local(const struct mc_cloud *c, uint8_t ver, const struct mc_addr *a)
{
    if (c->cfg.n_nets == 0)
        return 1;
    for (int i = 0; i < c->cfg.n_nets; i++)
        if (mc_cidr_match(&c->cfg.nets[i], ver, a))
            return 1;
    return 0;
}

/* prefix, then name, then the address's text: a key of the layout (docs/CLOUD.md); returns its length. */
size_t mc_cloud_addr_key(const char *prefix, size_t plen, const char *name, size_t nlen, uint8_t ver,
                       const struct mc_addr *a, char *buf, size_t len)
{
    /* built by hand: this runs for every host of every flush */
    char t[64];
    size_t tl = mc_addr_text(ver, a, t, sizeof(t));
    if (plen + nlen + tl + 1 > len) {
        int n = snprintf(buf, len, "%s%s%s", prefix, name, t);
        return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
    }
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, name, nlen);
    memcpy(buf + plen + nlen, t, tl + 1);
    return plen + nlen + tl;
}

size_t mc_cloud_host_key(const char *prefix, uint8_t ver, const struct mc_addr *a, char *buf, size_t len)
{
    return mc_cloud_addr_key(prefix, strlen(prefix), "ip.", 3, ver, a, buf, len);
}

/* ======================================================================= */
/* Packet thread                                                           */
/* ======================================================================= */

/* Nodes ready now, as last seen by the cloud thread (an atomic copy it refreshes). */
static int connected_nodes(const struct mc_cloud *c)
{
    return __atomic_load_n(&c->nodes_up, __ATOMIC_RELAXED);
}

/*
 * How a handoff goes.  WAIT: take the mailbox's lock even when busy (else
 * try, and keep aggregating when busy).  HOSTS: the host deltas and the
 * aggregates go too; the hosts stay in the batch when the box cannot take
 * them without evicting, unless FULL: the batch is full, and goes.  For a
 * capture file (offline), a full batch first waits while the box is not
 * empty and the cloud is healthy: a file is read faster than Redis writes,
 * and waiting loses nothing.  STOP: the last one; the cloud thread learns
 * it is stopping with the data and stats it carries, never before them.
 */
enum { HANDOFF_WAIT = 1, HANDOFF_HOSTS = 2, HANDOFF_FULL = 4, HANDOFF_STOP = 8 };

void mc_cloud_request_lookup(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip);
static void handoff(struct mc_cloud *c, int how);

/* Takes a flow's packets and bytes since its last report into the batch; final: it is leaving. */
static void take_flow(struct mc_cloud *c, struct mc_flow *f, uint32_t slot, int final)
{
    /* a flow never reported has no state in the side array: do not touch it
     * (a cache miss per flow, for the many flows that end between flushes) */
    static const struct side fresh;
    int reported = (f->state & MC_FLOW_F_CLOUD) != 0;
    const struct side *s = reported ? &c->sides[slot] : &fresh;
    struct mc_hostagg_flow d = { .pkts = { f->pkts[0] - s->pkts[0], f->pkts[1] - s->pkts[1] },
                                 .bytes = { f->octets[0] - s->octets[0], f->octets[1] - s->octets[1] } };
    if (!reported) {
        d.flows = 1;
        d.first_seen = f->first_ms;
        /* the user a record carries is its client's; a flow leaving asks
         * through mc_cloud_user_of, which it calls next anyway */
        if (c->cfg.lookups && !final)
            mc_cloud_request_lookup(c, f->key.ip_ver, &f->key.addr[0]);
    }
    if (!d.pkts[0] && !d.pkts[1] && !d.flows)
        return;
    d.last_seen = mc_flow_last_ms(f);
    unsigned sides = (unsigned)is_local(c, f->key.ip_ver, &f->key.addr[0]) |
                     (unsigned)is_local(c, f->key.ip_ver, &f->key.addr[1]) << 1;
    if (sides) {
        mc_hostagg_add_flow(&c->batch, f->key.ip_ver, &f->key.addr[0], &f->key.addr[1], &d, sides);
        /* a flow adds at most two hosts: the batch goes before one of them would evict another */
        if (c->batch.n + c->batch.front_n + 2 > c->batch.cap)
            handoff(c, HANDOFF_HOSTS | HANDOFF_FULL);
    }
    if (final)
        return; /* nothing will be reported for this slot's flow again */
    f->state |= MC_FLOW_F_CLOUD;
    struct side *w = &c->sides[slot];
    w->pkts[0] = f->pkts[0], w->pkts[1] = f->pkts[1];
    w->octets[0] = f->octets[0], w->octets[1] = f->octets[1];
}

static void visit_dirty(void *ctx, struct mc_flow *f, uint32_t slot) { take_flow(ctx, f, slot, 0); }

void mc_cloud_add_traffic(struct mc_cloud *c, uint8_t ver, const struct mc_addr *a, const struct mc_addr *b,
                          const struct mc_hostagg_flow *d)
{
    unsigned sides = (unsigned)is_local(c, ver, a) | (unsigned)is_local(c, ver, b) << 1;
    if (!sides || (!d->pkts[0] && !d->pkts[1] && !d->flows))
        return;
    mc_hostagg_add_flow(&c->batch, ver, a, b, d, sides);
    if (c->batch.n + c->batch.front_n + 2 > c->batch.cap)
        handoff(c, HANDOFF_HOSTS | HANDOFF_FULL);
}















/* The packet thread's aggregate refusals, to the counters (packet thread). */
static void agg_counts(struct mc_cloud *c)
{
    MC_CTR_ADD(cloud, agg_dropped_ops, c->agg.dropped_ops);
    MC_CTR_ADD(cloud, agg_dropped_events, c->agg.dropped_events);
    MC_CTR_ADD(cloud, agg_refused_long, c->agg.refused_long);
    c->agg.dropped_ops = c->agg.dropped_events = c->agg.refused_long = 0;
}

int mc_cloud_hurried(const struct mc_cloud *c) { return c && c->agg.hurry && !c->cfg.offline; }

struct mc_agg *mc_cloud_agg(struct mc_cloud *c)
{
    return c ? &c->agg : NULL;
}

struct mc_lookup *mc_cloud_lookups(struct mc_cloud *c)
{
    return c ? c->lookup : NULL;
}

/*
 * Packet thread, mailbox locked: waits while the box holds hosts the cloud
 * thread has not taken and the cloud is healthy and making progress (a
 * batch answered within the command timeout and a second).  Past that, the
 * caller merges, and the bound drops the oldest.
 */
static void wait_for_room(struct mc_cloud *c)
{
    uint64_t seen = c->progress, since = wall_ms();
    uint64_t patience = (uint64_t)c->cfg.conn.command_timeout_ms + 1000;
    while (mc_hostagg_count(&c->box) && __atomic_load_n(&c->healthy, __ATOMIC_RELAXED)) {
        uint64_t now = wall_ms();
        if (c->progress != seen)
            seen = c->progress, since = now;
        else if (now - since > patience)
            break;
        ev_async_send(c->loop, &c->wake); /* the cloud thread looks at the box again */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += ROOM_WAIT_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&c->room, &c->mu, &ts);
    }
}

/* Hands queued operations, lookups, stats and (HANDOFF_HOSTS) the batch to the cloud thread. */
static void handoff(struct mc_cloud *c, int how)
{
    if ((how & HANDOFF_FULL) && c->cfg.offline)
        how |= HANDOFF_WAIT;
    if (how & HANDOFF_WAIT) {
        pthread_mutex_lock(&c->mu);
    } else if (pthread_mutex_trylock(&c->mu) != 0) {
        MC_CTR_INC(cloud, batches_deferred); /* busy for a moment: keep aggregating */
        return;
    }
    uint32_t agg_lost = 0;
    if (how & HANDOFF_HOSTS) {
        if ((how & HANDOFF_FULL) && mc_hostagg_count(&c->batch) + 2 > c->cfg.max_keys)
            MC_CTR_INC(cloud, handoffs_full); /* not the last one, at stop */
        if ((how & HANDOFF_FULL) && c->cfg.offline)
            wait_for_room(c);
        uint32_t in_box = mc_hostagg_count(&c->box);
        if (!in_box || in_box + mc_hostagg_count(&c->batch) <= c->cfg.max_keys || (how & HANDOFF_FULL))
            mc_hostagg_move(&c->box, &c->batch);
        agg_lost = mc_agg_move(&c->box_agg, &c->agg);
    }
    if (c->ops) {
        *c->box_ops_tail = c->ops;
        c->box_ops_tail = c->ops_tail;
        c->ops = NULL;
        c->ops_tail = &c->ops;
        c->n_ops = 0;
    }
    uint32_t lost = mc_cloud_asks_move(&c->box_asks, &c->asks);
    struct result *results = c->box_results;
    c->box_results = NULL;
    mc_cloud_asks_move(&c->no_user, &c->box_no_user); /* no_user is empty: a swap */
    c->box_stats = c->stats;
    if (how & HANDOFF_STOP)
        c->stopping = 1;
    pthread_mutex_unlock(&c->mu);
    MC_CTR_ADD(cloud, agg_dropped_ops, agg_lost);
    agg_counts(c);
    if (lost) {
        MC_CTR_ADD(cloud, dropped_ops, lost);
        atomic_fetch_add(&c->lookups_done, lost);
    }
    mc_cloud_apply_results(c, results, &c->no_user);
    c->no_user.n = 0;
    mc_lookup_exchange(c->lookup, how & HANDOFF_WAIT);
    ev_async_send(c->loop, &c->wake);
}

void mc_cloud_tick(struct mc_cloud *c, uint64_t now)
{
    c->now_ms = now;
    c->now_ds = ds_after(c, now, 0);
    /* a timer firing a hair early (clock rounding) still flushes: waiting for
     * the next tick would add its period to the cloud's latency */
    if (now + c->cfg.flush_ms / 10 < c->next_flush_ms && !mc_cloud_hurried(c)) {
        /* an analyzer's question, or its answers, need not wait for the flush: a handoff of them alone */
        if (now >= c->next_lookup_ms && mc_lookup_due(c->lookup)) {
            c->next_lookup_ms = now + LOOKUP_EVERY_MS;
            handoff(c, 0);
        }
        return;
    }
    c->agg.hurry = 0;
    c->next_flush_ms = now + c->cfg.flush_ms;
    if (c->flows) /* a collector feeding traffic (mc_cloud_add_traffic) has no flow table */
        mc_flow_dirty_drain(c->flows, visit_dirty, c);
    MC_CTR_INC(cloud, flushes);
    handoff(c, HANDOFF_HOSTS);
}

void mc_cloud_flow_export(struct mc_cloud *c, struct mc_flow *f)
{
    uint32_t slot = mc_flow_slot(c->flows, f);
    take_flow(c, f, slot, 1);
    /* no need to clear the slot's side state: a new flow there starts unreported */
    if (c->cfg.lookups) {
        const struct mc_uc_cold *k = mc_cloud_user_entry(c, f->key.ip_ver, &f->key.addr[0]);
        struct mc_flow_ext *x = k ? mc_flow_ext_get(f) : NULL;
        struct mc_flow_identity *id = x ? mc_flow_ext_identity(x) : NULL;
        if (id) {
            snprintf(id->user, sizeof(id->user), "%s", k->user);
            if (!id->imsi[0]) { /* the subscriber layer's tag (a GTP-U flow's TEID) wins over the client's user */
                memcpy(id->imsi, k->imsi, sizeof(id->imsi));
                memcpy(id->msisdn, k->msisdn, sizeof(id->msisdn));
            }
        }
    }
}

void mc_cloud_flow_prefetch(struct mc_cloud *c, const struct mc_flow *f, uint32_t slot)
{
    if (f->state & MC_FLOW_F_CLOUD)
        __builtin_prefetch(&c->sides[slot]);
    /* the front's lines of both hosts: many flows, a table beyond the caches */
    __builtin_prefetch(mc_hostagg_front_line(&c->batch, f->key.ip_ver, &f->key.addr[0]));
    __builtin_prefetch(mc_hostagg_front_line(&c->batch, f->key.ip_ver, &f->key.addr[1]));
    if (c->cfg.lookups)
        __builtin_prefetch(mc_uc_set(&c->users, mc_uc_tag(f->key.ip_ver, &f->key.addr[0])));
}

#define RESOLVE_GRACE_MS 1000 /* how long an unhealthy cloud may still be connecting */
#define SETTLE_MS 1000        /* how long a file's flow waits for its lookups' answers (mc_lookup_settle) */

/*
 * Reading files, the packet thread waits for the cloud's answers: it hands
 * the questions over and takes the answers (a handoff each poll_us) until
 * none is pending, timeout_ms have passed, or the cloud is not healthy and
 * grace_ms have passed (a node down cannot answer: its warning said so; a
 * node still connecting, a cluster's other masters just after start, is not
 * down).  1 when every answer came.
 */
static int wait_answers(struct mc_cloud *c, int (*pending)(const struct mc_cloud *), uint32_t timeout_ms,
                        uint32_t grace_ms, long poll_us)
{
    uint64_t start = wall_ms(), deadline = start + timeout_ms;
    handoff(c, HANDOFF_WAIT);
    int done;
    while (!(done = !pending(c)) && wall_ms() < deadline &&
           (__atomic_load_n(&c->healthy, __ATOMIC_RELAXED) || wall_ms() < start + grace_ms)) {
        struct timespec ts = { 0, poll_us * 1000L };
        nanosleep(&ts, NULL);
        handoff(c, HANDOFF_WAIT);
    }
    handoff(c, HANDOFF_WAIT); /* the last answers */
    return done;
}

static int lookups_pending(const struct mc_cloud *c) { return mc_lookup_pending(c->lookup) != 0; }

static int any_pending(const struct mc_cloud *c)
{
    return atomic_load(&c->lookups_done) < atomic_load(&c->lookups_asked) || lookups_pending(c);
}

/*
 * Reading files: a flow leaving with a question on its way waits for the
 * answers to every question asked so far (a round trip, for the few flows
 * that end right after asking).  0 when they did not come in time, or the
 * cloud is not healthy: the file is then not held up again.
 */
static int settle_lookups(void *ctx) { return wait_answers(ctx, lookups_pending, SETTLE_MS, 0, 100); }

void mc_cloud_resolve_users(struct mc_cloud *c, uint32_t timeout_ms)
{
    if (!c->cfg.lookups)
        return;
    mc_flow_visit_live(c->flows, mc_cloud_visit_unasked, mc_cloud_prefetch_unasked, c);
    /* the host deltas stay here: the flows' export adds the rest, and each
     * host goes out once, not once now and once at exit */
    wait_answers(c, any_pending, timeout_ms, RESOLVE_GRACE_MS, 5000);
}

void mc_cloud_stats_line(const struct mc_cloud *c, char *buf, size_t len)
{
#define LOAD(id) (unsigned long long)__atomic_load_n(&MC_CTR_GET(cloud, id), __ATOMIC_RELAXED)
    snprintf(buf, len, "cloud: %d node(s) up, keys written %llu, commands %llu, requeued %llu, dropped keys %llu "
                       "packets %llu, events %llu",
             connected_nodes(c), LOAD(keys_written), LOAD(commands), LOAD(requeued),
             LOAD(dropped_keys) + c->batch.dropped_keys, LOAD(dropped_pkts) + c->batch.dropped_pkts, LOAD(events));
#undef LOAD
}

void mc_cloud_set_stats(struct mc_cloud *c, uint64_t packets, uint64_t drops, uint64_t flows_active,
                        uint64_t flows_exported)
{
    c->stats.packets = packets;
    c->stats.drops = drops;
    c->stats.flows_active = flows_active;
    c->stats.flows_exported = flows_exported;
}







/* ======================================================================= */
/* Cloud thread                                                            */
/* ======================================================================= */


static void on_ignore(void *privdata, redisReply *r)
{
    struct mc_cloud *c = privdata;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        MC_CTR_INC(cloud, write_errors);
        snprintf(c->last_err, sizeof(c->last_err), "%.190s", r ? r->str : "connection lost before the reply");
    }
    /* user operations waiting for room go as soon as half of it is free, not at the next flush */
    uint32_t room = c->cfg.conn.max_inflight ? c->cfg.conn.max_inflight : 10000;
    if (r && c->n_deferred && mc_cloud_conn_inflight(c->conn) <= room / 2)
        mc_cloud_retry_ops(c);
}

/* Sends a command routed by its key argv[key_arg]; counted, never retried. */
void mc_cloud_send_simple(struct mc_cloud *c, int key_arg, int argc, const char **argv)
{
    size_t argvlen[64];
    for (int i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    if (mc_cloud_conn_command(c->conn, argv[key_arg], argvlen[key_arg], argc, argv, argvlen, on_ignore, c) == 0)
        MC_CTR_INC(cloud, commands);
    else
        MC_CTR_INC(cloud, refused);
}

int mc_cloud_key_ready(struct mc_cloud *c, const char *key);

/*
 * What the cloud lost and has not written so far.  At stop (c->said_stop:
 * the writer is closed, and the packet thread waits for this thread) the
 * packet thread's tables count too: the totals are then the ones
 * mc_cloud_stop adds to the counters, so the probe.stop event and the last
 * heartbeat say what the probe's counters say.
 */
struct totals {
    uint64_t dropped_keys, dropped_pkts, unwritten;
};

static void totals(struct mc_cloud *c, struct totals *t)
{
    const struct mc_hostagg *h = mc_cloud_writer_hosts(c->writer);
    t->dropped_keys = LOAD_CTR(cloud, dropped_keys) + h->dropped_keys;
    t->dropped_pkts = LOAD_CTR(cloud, dropped_pkts) + h->dropped_pkts;
    t->unwritten = mc_cloud_writer_pending_keys(c->writer);
    if (c->said_stop) {
        t->dropped_keys += c->batch.dropped_keys + c->box.dropped_keys;
        t->dropped_pkts += c->batch.dropped_pkts + c->box.dropped_pkts;
        t->unwritten += mc_hostagg_count(&c->box);
    }
}

static void heartbeat(struct mc_cloud *c)
{
    char key[200], v[12][32], ttl[24];
    snprintf(key, sizeof(key), "%sprobe.%s", c->cfg.prefix, c->cfg.probe_id);
    if (!mc_cloud_key_ready(c, key)) {
        c->heartbeat_due = 1; /* sent by the next flush that finds its node up */
        return;
    }
    c->heartbeat_due = 0;
    struct totals t;
    totals(c, &t);
    uint64_t vals[] = { c->started_ms,
                        wall_ms(),
                        c->cfg.heartbeat_ms,
                        c->seen_stats.packets,
                        c->seen_stats.drops,
                        c->seen_stats.flows_active,
                        c->seen_stats.flows_exported,
                        LOAD_CTR(cloud, commands),
                        t.dropped_keys,
                        t.dropped_pkts,
                        t.unwritten };
    static const char *const names[] = { "started",        "heartbeat",     "interval_ms",   "packets",
                                         "drops",          "flows_active",  "flows_exported", "cloud_commands",
                                         "cloud_dropped_keys", "cloud_dropped_packets", "cloud_pending_keys" };
    const char *argv[2 + 2 * 13];
    int argc = 0;
    argv[argc++] = "HSET";
    argv[argc++] = key;
    argv[argc++] = "version";
    argv[argc++] = MC_VERSION;
    argv[argc++] = "source";
    argv[argc++] = c->cfg.source ? c->cfg.source : "";
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        snprintf(v[i], sizeof(v[i]), "%llu", (unsigned long long)vals[i]);
        argv[argc++] = names[i];
        argv[argc++] = v[i];
    }
    mc_cloud_send_simple(c, 1, argc, argv);
    snprintf(ttl, sizeof(ttl), "%llu", 3ull * c->cfg.heartbeat_ms);
    const char *exp[] = { "PEXPIRE", key, ttl };
    mc_cloud_send_simple(c, 1, 3, exp);
    MC_CTR_INC(cloud, heartbeats);
}

/* ---- probe.start, probe.stop ---- */

static void json_text(FILE *f, const char *name, const char *s)
{
    fprintf(f, ",\"%s\":", name);
    mc_json_string(f, s, strlen(s));
}

static void json_u64(FILE *f, const char *name, uint64_t v)
{
    fprintf(f, ",\"%s\":%llu", name, (unsigned long long)v);
}

/* The probe's identity: the first members of both events. */
static void probe_json_head(const struct mc_cloud *c, FILE *f, uint64_t now)
{
    fputs("{\"probe\":", f);
    mc_json_string(f, c->cfg.probe_id, strlen(c->cfg.probe_id));
    json_text(f, "host", c->host);
    json_u64(f, "pid", (uint64_t)getpid());
    json_text(f, "source", c->cfg.source ? c->cfg.source : "");
    json_text(f, "version", MC_VERSION);
    json_u64(f, "started", c->started_ms);
    json_u64(f, "ts", now);
}

/*
 * PUBLISH <prefix>events.<name> json, and XADD <prefix>events MAXLEN ~ N *
 * type <name> data json: what the writer does for the analyzers' events,
 * through the command connections, which the writer's state cannot hold up.
 * -1, nothing sent, while the node of the channel or of the stream is not
 * ready.
 */
static int publish_event(struct mc_cloud *c, const char *name, const char *json)
{
    char chan[256], stream[256], maxlen[24];
    snprintf(chan, sizeof(chan), "%.150sevents.%s", c->cfg.prefix, name);
    snprintf(stream, sizeof(stream), "%.150sevents", c->cfg.prefix);
    if (!mc_cloud_key_ready(c, chan) || !mc_cloud_key_ready(c, stream))
        return -1;
    snprintf(maxlen, sizeof(maxlen), "%u", c->cfg.stream_maxlen);
    const char *pub[] = { "PUBLISH", chan, json };
    const char *xadd[] = { "XADD", stream, "MAXLEN", "~", maxlen, "*", "type", name, "data", json };
    mc_cloud_send_simple(c, 1, 3, pub);
    mc_cloud_send_simple(c, 1, 10, xadd);
    MC_CTR_INC(cloud, events);
    return 0;
}

/* Builds an event's JSON with fill (open_memstream) and publishes it; -1 when not sent. */
static int publish_json(struct mc_cloud *c, const char *name, void (*fill)(struct mc_cloud *, FILE *))
{
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f)
        return -1;
    probe_json_head(c, f, wall_ms());
    fill(c, f);
    fputc('}', f);
    int rc = fclose(f) == 0 ? publish_event(c, name, json) : -1;
    free(json);
    return rc;
}

static void fill_start(struct mc_cloud *c, FILE *f)
{
    json_u64(f, "export", (uint64_t)c->cfg.export_version);
    fprintf(f, ",\"biflow\":%s", c->cfg.export_biflow ? "true" : "false");
    json_u64(f, "collectors", (uint64_t)c->cfg.n_collectors);
    json_u64(f, "nodes", (uint64_t)mc_cloud_conn_nodes(c->conn)); /* a cluster's: its masters, not the seeds */
    fprintf(f, ",\"cluster\":%s", mc_cloud_conn_is_cluster(c->conn) ? "true" : "false");
    json_u64(f, "flush_ms", c->cfg.flush_ms);
    json_u64(f, "heartbeat_ms", c->cfg.heartbeat_ms);
}

/* The final counters, as mc_cloud_stop leaves them (call once the writer is closed). */
static void fill_stop(struct mc_cloud *c, FILE *f)
{
    struct totals t;
    totals(c, &t);
    json_u64(f, "run_ms", wall_ms() - c->started_ms);
    json_u64(f, "packets", c->seen_stats.packets);
    json_u64(f, "drops", c->seen_stats.drops);
    json_u64(f, "flows_exported", c->seen_stats.flows_exported);
    json_u64(f, "cloud_keys_written", LOAD_CTR(cloud, keys_written));
    json_u64(f, "cloud_dropped_keys", t.dropped_keys);
    json_u64(f, "cloud_dropped_packets", t.dropped_pkts);
    json_u64(f, "cloud_unwritten", t.unwritten);
}

/* probe.start, once, when its nodes first take it: at start, or when the cloud first comes up. */
static void probe_start(struct mc_cloud *c)
{
    if (publish_json(c, "probe.start", fill_start) == 0)
        c->start_due = 0;
}

/*
 * The end of the drain: the writer is closed (what it holds stays
 * unwritten), and probe.stop and the last heartbeat carry the final counts.
 * A probe.start never sent goes first, so a reader sees both.
 */
static void probe_stop(struct mc_cloud *c)
{
    mc_cloud_writer_close(c->writer);
    c->said_stop = 1;
    if (c->start_due)
        probe_start(c);
    int sent = !c->start_due && publish_json(c, "probe.stop", fill_stop) == 0;
    heartbeat(c);
    if (!sent || c->heartbeat_due)
        mc_warn("cloud: %s not written at exit: %s", !sent ? "the probe.stop event" : "the last heartbeat",
                mc_cloud_conn_nodes(c->conn) ? "its node is down or not answering" : "no node is known");
}












int mc_cloud_any_node_ready(struct mc_cloud *c);


int mc_cloud_key_ready(struct mc_cloud *c, const char *key)
{
    int node = mc_cloud_conn_node_of(c->conn, key, strlen(key));
    return node >= 0 && mc_cloud_conn_ready(c->conn, node);
}



int mc_cloud_any_node_ready(struct mc_cloud *c)
{
    int n = mc_cloud_conn_nodes(c->conn);
    for (int i = 0; i < n; i++)
        if (mc_cloud_conn_ready(c->conn, i))
            return 1;
    return 0;
}


/* The deferred operations, probe.start and the heartbeat when due, and the pending host keys. */
static void flush_pending(struct mc_cloud *c)
{
    if (c->start_due)
        probe_start(c);
    if (c->heartbeat_due)
        heartbeat(c);
    mc_cloud_retry_ops(c);
    mc_cloud_asks_move(&c->todo, &c->deferred_asks); /* todo is empty: a swap */
    mc_cloud_run_asks(c, &c->todo);
    mc_cloud_writer_flush(c->writer, 1);
}

/* 1 when every node is up and answering, the writer's connections too. */
static int cloud_healthy(struct mc_cloud *c)
{
    int n = mc_cloud_conn_nodes(c->conn);
    for (int i = 0; i < n; i++)
        if (!mc_cloud_conn_up(c->conn, i) || mc_cloud_writer_stalled(c->writer, i))
            return 0;
    return n > 0;
}

/*
 * Mailbox locked: the box's hosts go to the writer, unless the cloud is
 * healthy and the writer holds too many to take them without evicting:
 * then they wait in the box (and a file's reader waits for them, see
 * wait_for_room) until answers make room.  A node down or slow: they go,
 * and --cloud-max-keys drops the oldest.
 */
static void take_box_hosts(struct mc_cloud *c)
{
    int healthy = cloud_healthy(c);
    __atomic_store_n(&c->healthy, healthy, __ATOMIC_RELAXED);
    uint32_t in_box = mc_hostagg_count(&c->box);
    if (in_box && healthy && in_box + mc_hostagg_count(mc_cloud_writer_hosts(c->writer)) > c->cfg.max_keys) {
        c->box_held = 1;
        return;
    }
    if (in_box)
        mc_cloud_writer_take(c->writer, &c->box, NULL);
    c->box_held = 0;
    c->progress++;
    pthread_cond_broadcast(&c->room);
}

/* The writer: a batch was answered (cloud thread).  Hosts held in the box may fit now. */
static void on_writer_room(void *ctx)
{
    struct mc_cloud *c = ctx;
    if (!c->box_held)
        return;
    pthread_mutex_lock(&c->mu);
    take_box_hosts(c);
    c->progress++;
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->mu);
}

/* Takes what the packet thread handed over, then writes. */
static void take_mailbox(struct mc_cloud *c)
{
    pthread_mutex_lock(&c->mu);
    mc_cloud_writer_take(c->writer, NULL, &c->box_agg);
    take_box_hosts(c);
    struct op *ops = c->box_ops;
    c->box_ops = NULL;
    c->box_ops_tail = &c->box_ops;
    c->seen_stats = c->box_stats;
    mc_cloud_asks_move(&c->todo, &c->box_asks); /* todo is empty: a swap */
    int stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    mc_cloud_run_ops(c, ops);
    mc_cloud_run_asks(c, &c->todo);
    mc_lookup_send(c->lookup, c->conn);
    flush_pending(c);
    if (stopping && !c->draining) {
        /* the last writes, then probe.stop: the data gets the exit wait but a fifth, left for the event's answer */
        c->draining = 1;
        c->drain_deadline_ms = wall_ms() + c->cfg.drain_timeout_ms;
        c->data_deadline_ms = c->drain_deadline_ms - c->cfg.drain_timeout_ms / 5;
        ev_timer_start(c->loop, &c->stop_timer);
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop, (void)revents;
    take_mailbox(w->data);
}

/*
 * Losses since the last report, as warnings: host updates dropped by
 * --cloud-max-keys, aggregate operations refused, commands that failed.
 * At most one report per REPORT_EVERY_MS (final: now, at exit), so a
 * long outage costs a line every few seconds, not one per drop.  Cloud
 * thread, or the packet thread once it has stopped.
 */
static void report_losses(struct mc_cloud *c, int final)
{
    uint64_t now = wall_ms();
    if (!final && now - c->told_ms < REPORT_EVERY_MS)
        return;
    const struct mc_hostagg *h = mc_cloud_writer_hosts(c->writer);
    struct losses l = { .keys = h->dropped_keys + LOAD_CTR(cloud, dropped_keys),
                        .pkts = h->dropped_pkts + LOAD_CTR(cloud, dropped_pkts),
                        .bytes = h->dropped_bytes + LOAD_CTR(cloud, dropped_bytes),
                        .agg = LOAD_CTR(cloud, agg_dropped_ops) + LOAD_CTR(cloud, agg_dropped_events) +
                               LOAD_CTR(cloud, agg_dropped_pending),
                        .failed = LOAD_CTR(cloud, write_errors) };
    double secs = (double)(now - c->told_ms) / 1000.0;
    int n = mc_cloud_conn_nodes(c->conn), up = 0;
    for (int i = 0; i < n; i++)
        up += mc_cloud_conn_up(c->conn, i);
    if (l.keys > c->told.keys)
        mc_warn("cloud: dropped %llu host updates (%llu packets, %llu bytes) in the last %.0f s: more than "
                "--cloud-max-keys (%u) hosts were waiting for Redis (%d of %d nodes up)",
                (unsigned long long)(l.keys - c->told.keys), (unsigned long long)(l.pkts - c->told.pkts),
                (unsigned long long)(l.bytes - c->told.bytes), secs, c->cfg.max_keys, up, n);
    if (l.agg > c->told.agg)
        mc_warn("cloud: refused %llu analyzer aggregate operations in the last %.0f s: their tables were full "
                "(--cloud-max-keys, --cloud-agg-max-bytes; cloud.agg.dropped.*)",
                (unsigned long long)(l.agg - c->told.agg), secs);
    if (l.failed > c->told.failed) {
        const char *last = mc_cloud_writer_last_error(c->writer);
        mc_warn("cloud: %llu commands failed in the last %.0f s (cloud.write_errors; last: %s)",
                (unsigned long long)(l.failed - c->told.failed), secs, *last ? last : c->last_err);
    }
    c->told = l;
    c->told_ms = now;
}

static void on_flush_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    struct mc_cloud *c = w->data;
    if (c->said_stop)
        return; /* the writer is closed and the totals are said: nothing may move them now */
    int up = 0;
    for (int i = 0; i < mc_cloud_conn_nodes(c->conn); i++)
        up += mc_cloud_conn_ready(c->conn, i);
    __atomic_store_n(&c->nodes_up, up, __ATOMIC_RELAXED);
    __atomic_store_n(&c->healthy, cloud_healthy(c), __ATOMIC_RELAXED);
    if (c->box_held)
        on_writer_room(c); /* a node went down meanwhile: the held hosts go, and the bound applies */
    flush_pending(c); /* retries what a down or slow node could not take */
    report_losses(c, 0);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    heartbeat(w->data);
}

/*
 * While stopping: the last writes until nothing is pending or in flight, or
 * until the data deadline; then probe.stop and the last heartbeat, whose
 * answers are awaited until the exit wait's end.
 */
static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct mc_cloud *c = w->data;
    static const double step = 0.02;
    uint64_t now = wall_ms();
    if (!c->said_stop) {
        if (c->box_held)
            on_writer_room(c);
        if (mc_cloud_writer_pending_keys(c->writer) || c->n_deferred)
            flush_pending(c); /* user operations waiting for room too */
        int idle = !c->box_held && mc_cloud_writer_pending_keys(c->writer) == 0 &&
                   mc_cloud_writer_inflight(c->writer) == 0 && c->n_deferred == 0 && !c->heartbeat_due &&
                   mc_cloud_conn_inflight(c->conn) == 0;
        if (idle || now >= c->data_deadline_ms)
            probe_stop(c);
    }
    if (c->said_stop && (mc_cloud_conn_inflight(c->conn) == 0 || now >= c->drain_deadline_ms)) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(w, step, 0);
    ev_timer_start(loop, w);
}

static void *cloud_main(void *arg)
{
    struct mc_cloud *c = arg;
    pthread_setname_np(pthread_self(), "mcprobe-cloud"); /* for top -H, perf, gdb; before any work */
    ev_run(c->loop, 0);
    /* what the cloud costs, apart from the packet thread's share */
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0)
        MC_CTR_ADD(cloud, thread_cpu_us,
                   (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
    return NULL;
}

/* ======================================================================= */
/* Life cycle                                                              */
/* ======================================================================= */

struct mc_cloud *mc_cloud_start(const struct mc_cloud_config *cfg, char *err, size_t errlen)
{
    struct mc_cloud *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "cloud: out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    if (!c->cfg.prefix)
        c->cfg.prefix = "";
    c->prefix_len = strlen(c->cfg.prefix);
    if (!c->cfg.probe_id)
        c->cfg.probe_id = "mcprobe";
    c->ops_tail = &c->ops;
    c->box_ops_tail = &c->box_ops;
    c->deferred_tail = &c->deferred;
    c->started_ms = wall_ms();
    if (gethostname(c->host, sizeof(c->host) - 1) != 0)
        snprintf(c->host, sizeof(c->host), "localhost");
    c->start_due = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->room, NULL);
    c->told_ms = c->started_ms;
    int users_ok = mc_usercache_init(&c->users) == 0;
    if (c->cfg.lookups && !(c->lookup = mc_lookup_new(c->cfg.prefix)))
        users_ok = 0;
    if (c->cfg.offline)
        mc_lookup_set_waiter(c->lookup, settle_lookups, c);
    c->args = malloc(sizeof(*c->args));
    size_t agg_bytes = c->cfg.agg_max_bytes ? c->cfg.agg_max_bytes : AGG_MAX_BYTES;
    if (!users_ok || !c->args || mc_hostagg_init(&c->batch, c->cfg.max_keys) != 0 ||
        mc_hostagg_init(&c->box, c->cfg.max_keys) != 0 ||
        mc_agg_init(&c->agg, c->cfg.prefix, c->cfg.max_keys, agg_bytes) != 0 ||
        mc_agg_init(&c->box_agg, c->cfg.prefix, c->cfg.max_keys, agg_bytes) != 0) {
        snprintf(err, errlen, "cloud: cannot allocate tables for %u keys", c->cfg.max_keys);
        goto fail;
    }
    c->loop = ev_loop_new(EVFLAG_AUTO);
    if (!c->loop) {
        snprintf(err, errlen, "cloud: cannot create an event loop");
        goto fail;
    }
    c->conn = mc_cloud_conn_new(c->loop, &c->cfg.conn, err, errlen);
    if (!c->conn) {
        size_t l = strlen(err);
        if (l + 8 < errlen) { /* "cloud: " before it, as the other errors say */
            memmove(err + 7, err, l + 1);
            memcpy(err, "cloud: ", 7);
        }
        goto fail;
    }
    struct mc_cloud_writer_config wc = { .prefix = c->cfg.prefix, .probe_id = c->cfg.probe_id,
                                         .ttl_ms = c->cfg.ttl_ms, .stream_maxlen = c->cfg.stream_maxlen,
                                         .max_keys = c->cfg.max_keys, .agg_max_bytes = agg_bytes,
                                         .on_room = on_writer_room, .ctx = c };
    c->writer = mc_cloud_writer_new(c->loop, c->conn, &c->cfg.conn, &wc);
    if (!c->writer) {
        snprintf(err, errlen, "cloud: cannot allocate tables for %u keys", c->cfg.max_keys);
        goto fail;
    }
    /* a refused configuration (password, database, cluster mode) is said now, not retried in silence */
    char why[256];
    if (mc_cloud_conn_check(c->conn, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "cloud: %s", why);
        goto fail;
    }
    c->healthy = cloud_healthy(c);
    ev_async_init(&c->wake, on_wake);
    c->wake.data = c;
    ev_async_start(c->loop, &c->wake);
    ev_timer_init(&c->flush_timer, on_flush_timer, c->cfg.flush_ms / 1000.0, c->cfg.flush_ms / 1000.0);
    c->flush_timer.data = c;
    ev_timer_start(c->loop, &c->flush_timer);
    ev_timer_init(&c->heartbeat_timer, on_heartbeat, 0.2, c->cfg.heartbeat_ms / 1000.0);
    c->heartbeat_timer.data = c;
    ev_timer_start(c->loop, &c->heartbeat_timer);
    ev_timer_init(&c->stop_timer, on_stop_timer, 0.0, 0.0);
    c->stop_timer.data = c;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (c->cfg.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(c->cfg.cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int rc = pthread_create(&c->thread, &attr, cloud_main, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, rc == EINVAL && c->cfg.cpu >= 0 ? "cloud: cannot run its thread on CPU %d"
                                                              : "cloud: cannot start its thread", c->cfg.cpu);
        goto fail;
    }
    return c;
fail:
    if (c->conn)
        mc_cloud_conn_free(c->conn);
    if (c->loop)
        ev_loop_destroy(c->loop);
    mc_cloud_writer_free(c->writer);
    mc_hostagg_free(&c->batch);
    mc_hostagg_free(&c->box);
    mc_agg_free(&c->agg);
    mc_agg_free(&c->box_agg);
    mc_usercache_free(&c->users);
    mc_lookup_free(c->lookup); /* after the connections: no reply can come */
    free(c->args);
    pthread_cond_destroy(&c->room);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

int mc_cloud_attach(struct mc_cloud *c, struct mc_flow_table *t)
{
    c->flows = t;
    c->sides_bytes = ((size_t)mc_flow_capacity(t) + 1) * sizeof(struct side);
    /* untouched pages of the per-flow state cost nothing, as in the flow table */
    void *p = mmap(NULL, c->sides_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    c->sides = p;
    return mc_flow_track_dirty(t);
}

void mc_cloud_stop(struct mc_cloud *c)
{
    if (!c)
        return;
    if (c->flows)
        mc_flow_dirty_drain(c->flows, visit_dirty, c);
    handoff(c, HANDOFF_WAIT | HANDOFF_HOSTS | HANDOFF_FULL | HANDOFF_STOP);
    pthread_join(c->thread, NULL);
    /* the thread has stopped: its counters and tables are ours now */
    mc_cloud_writer_close(c->writer); /* what is still in flight goes back to pending, and counts as undrained */
    /* the report reads the writer's drop counts, the counters hold the rest */
    MC_CTR_ADD(cloud, dropped_keys, c->batch.dropped_keys + c->box.dropped_keys);
    MC_CTR_ADD(cloud, dropped_pkts, c->batch.dropped_pkts + c->box.dropped_pkts);
    MC_CTR_ADD(cloud, dropped_bytes, c->batch.dropped_bytes + c->box.dropped_bytes);
    agg_counts(c);
    report_losses(c, 1);
    const struct mc_hostagg *pending = mc_cloud_writer_hosts(c->writer);
    MC_CTR_ADD(cloud, dropped_keys, pending->dropped_keys);
    MC_CTR_ADD(cloud, dropped_pkts, pending->dropped_pkts);
    MC_CTR_ADD(cloud, dropped_bytes, pending->dropped_bytes);
    /* hosts still held in the box (the deadline came first) were not written either */
    uint32_t undrained = mc_cloud_writer_pending_keys(c->writer) + mc_hostagg_count(&c->box);
    MC_CTR_ADD(cloud, undrained_at_exit, undrained);
    if (undrained)
        mc_warn("cloud: %u key updates could not be written before exit", undrained);
    mc_cloud_conn_free(c->conn);
    ev_loop_destroy(c->loop);
    mc_cloud_apply_results(c, c->box_results, &c->box_no_user);
    struct asks *all[] = { &c->asks, &c->no_user, &c->box_asks, &c->box_no_user, &c->todo, &c->deferred_asks };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        mc_cloud_asks_free(all[i]);
    mc_cloud_free_ops(c->ops);
    mc_cloud_free_ops(c->box_ops);
    mc_cloud_free_ops(c->deferred);
    mc_cloud_writer_free(c->writer);
    mc_hostagg_free(&c->batch);
    mc_hostagg_free(&c->box);
    mc_agg_free(&c->agg);
    mc_agg_free(&c->box_agg);
    if (c->sides)
        munmap(c->sides, c->sides_bytes);
    mc_usercache_free(&c->users);
    mc_lookup_free(c->lookup); /* after the connections: no reply can come */
    free(c->args);
    pthread_cond_destroy(&c->room);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
