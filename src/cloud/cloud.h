/*
 * cloud.h - the MicroCloud writer and reader: what the probe shares through
 * Redis, as the contract in docs/CLOUD.md describes it key by key.
 *
 * Two threads.  The packet thread (the probe's main loop) never waits on
 * Redis: every --cloud-flush-ms it walks the flows that saw packets since
 * the last flush (the flow table's dirty list), adds their new packets and
 * bytes to one entry per host, and hands that batch, with the analyzers'
 * aggregates (mc_cloud_agg, agg.h), to the cloud thread through a mailbox it
 * only ever try-locks.  The cloud thread (libev; conn.c, write.c, pipe.c)
 * merges them into bounded pending tables and writes each key once per flush
 * as plain pipelined commands; what cannot be sent (node down, slow, over
 * its in-flight bound) stays pending, merged with later data, until the
 * bound drops the oldest hosts (cloud.dropped.*) or refuses new aggregates
 * (cloud.agg.dropped.*).  It also writes the probe heartbeat, publishes
 * events and runs the user lookups whose answers the packet thread caches.
 */
#ifndef MC_CLOUD_CLOUD_H
#define MC_CLOUD_CLOUD_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/conn.h"
#include "common/cidr.h"
#include "common/ctr_macros.h"
#include "flow/flow.h"

#define MC_CLOUD_MAX_NETS 64

struct mc_cloud_config {
    struct mc_cloud_conn_config conn;
    const char *prefix;          /* borrowed: prepended to every key and channel ("" default) */
    uint32_t ttl_ms;             /* ip.* keys expire this long after their last update (--cloud-ttl) */
    uint32_t flush_ms;           /* --cloud-flush-ms, default 500 */
    uint32_t heartbeat_ms;       /* probe.<id> refresh period, default 5000; TTL is 3 periods */
    uint32_t max_keys;           /* bound of host deltas held (batch, mailbox, pending: each), default 1,000,000 */
    int offline;                 /* reading capture files: a full batch waits for the writer while the cloud is
                                    healthy, where a live capture cannot wait and drops the oldest */
    uint32_t stream_maxlen;      /* events stream MAXLEN ~, default 100000 */
    const char *probe_id;        /* borrowed */
    const char *source;          /* borrowed: capture source(s), for the heartbeat */
    int export_version;          /* what probe.start tells of the flow export: 5, 9 or 10 (-V), */
    int export_biflow;           /* --biflow, */
    int n_collectors;            /* and the collectors (-n) */
    struct mc_cidr nets[MC_CLOUD_MAX_NETS]; /* --local-networks; none: every host */
    int n_nets;
    int lookups;                 /* look up user.ip.<addr> for flows' users (default 1) */
    uint32_t user_cache_ms;      /* positive answers kept this long, default 60000 */
    uint32_t negative_cache_ms;  /* "no user" kept this long, default 10000 */
    uint32_t drain_timeout_ms;   /* at stop: how long to wait for pending writes, default 5000 */
    int cpu;                     /* the cloud thread's CPU (--cloud-cpu), -1: any */
    size_t agg_max_bytes;        /* bound of each aggregates table (agg.h), bytes; 0: 32 MiB */
};

void mc_cloud_config_defaults(struct mc_cloud_config *cfg);


struct mc_cloud;

/*
 * Starts the cloud thread and its connections (asynchronously: this does not
 * wait for Redis).  Returns NULL with err on a bad configuration.  The
 * config's strings must outlive the cloud.  Stop with mc_cloud_stop.
 * Publishes probe.start (docs/CLOUD.md) as soon as its nodes take it: now,
 * or when the cloud first comes up.
 */
struct mc_cloud *mc_cloud_start(const struct mc_cloud_config *cfg, char *err, size_t errlen);

/*
 * Traffic metered elsewhere (the collector's --to-cloud: a router's flow
 * record): d's packets and bytes each way count on both hosts' ip.<addr>
 * counters as a probe's flows do (--local-networks applies; d->flows 1
 * counts the flow).  Packet thread; flushed by mc_cloud_tick.
 */
struct mc_hostagg_flow;
void mc_cloud_add_traffic(struct mc_cloud *c, uint8_t ver, const struct mc_addr *a, const struct mc_addr *b,
                          const struct mc_hostagg_flow *d);

/* Enables dirty tracking on t and sizes the per-flow state; call once, before packets. 0 or -1. */
int mc_cloud_attach(struct mc_cloud *c, struct mc_flow_table *t);

/* Packet thread, often (every tick): flushes when flush_ms of wall time have passed. */
void mc_cloud_tick(struct mc_cloud *c, uint64_t wall_ms);

/* Packet thread: a flow is leaving the table; its last deltas are taken and its user filled in. */
void mc_cloud_flow_export(struct mc_cloud *c, struct mc_flow *f);

/*
 * Packet thread, before the final flush of a capture file: asks for the users
 * of every flow still open and waits (at most timeout_ms) for the answers,
 * so that records exported next carry them.  Never called on a live capture.
 */
void mc_cloud_resolve_users(struct mc_cloud *c, uint32_t timeout_ms);

/* A hint: f (in slot) is about to be exported; fetches what mc_cloud_flow_export will read. */
void mc_cloud_flow_prefetch(struct mc_cloud *c, const struct mc_flow *f, uint32_t slot);

/* One line of cloud statistics for the probe's stats (packet thread; the cloud thread's counters are read atomically). */
void mc_cloud_stats_line(const struct mc_cloud *c, char *buf, size_t len);

/* Probe statistics for the heartbeat (packet thread, any time). */
void mc_cloud_set_stats(struct mc_cloud *c, uint64_t packets, uint64_t drops, uint64_t flows_active,
                        uint64_t flows_exported);

/*
 * User associations (packet thread): user.<id> hash {ip, since, probe, and
 * attrs given as name/value pairs} and user.ip.<addr> = id, with no TTL.
 * Queued for the cloud thread; 0, or -1 when the queue is full.
 */
int mc_cloud_user_set(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                      const char *const *attrs, int n_attrs);
int mc_cloud_user_remove(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip);

/*
 * The same with more string keys naming the user (user.ip.<v6>,
 * user.teid.<peer>:<teid>; given without the prefix), each set to id with
 * it; `gone`: keys deleted (an endpoint that moved).  ver 0: no address (no
 * ip field, no user.ip.<addr>).  The attributes are written after ip, since
 * and probe, so one of the same name wins.
 */
int mc_cloud_user_set_keys(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                           const char *const *attrs, int n_attrs, const char *const *keys, int n_keys,
                           const char *const *gone, int n_gone);
/*
 * Removal with more keys deleted; keep_user: user.<id> stays as it is
 * (another session of the user lives); else linger_ms > 0: user.<id> loses
 * its ip, ip6 and teids and expires after linger_ms (its counters stay
 * readable a while), 0: it is deleted.
 */
int mc_cloud_user_remove_keys(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                              const char *const *keys, int n_keys, int keep_user, uint32_t linger_ms);

/* The user of ip from the local cache, or NULL; a miss queues a lookup (answer at a later tick). */
const char *mc_cloud_user_of(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip);

/*
 * Final flush: takes every flow's deltas (call after the flow table was
 * flushed, and mc_cloud_set_stats with the final counts), sends what is
 * pending, waits for the answers, then publishes probe.stop and writes the
 * last heartbeat with the final counters (all within drain_timeout_ms),
 * stops the thread and frees everything.
 */
void mc_cloud_stop(struct mc_cloud *c);

/*
 * The aggregation interface of this cloud (agg.h), for the packet thread's
 * analyzers; NULL when c is NULL.  Its operations go out with the host
 * counters at each flush.
 */
struct mc_agg *mc_cloud_agg(struct mc_cloud *c);
struct mc_lookup;
/* Keys the packet thread's analyzers read from this cloud (lookup.h); NULL when c is NULL or lookups are off. */
struct mc_lookup *mc_cloud_lookups(struct mc_cloud *c);
/* Something in the aggregates asked not to wait for the flush interval (mc_agg_hurry): tick now
 * (live capture only: a file is read faster than anyone follows it). */
int mc_cloud_hurried(const struct mc_cloud *c);

/* Key text for an address: "ip.<addr>" with the prefix (buf of at least 128 bytes); returns its length. */
size_t mc_cloud_host_key(const char *prefix, uint8_t ver, const struct mc_addr *a, char *buf, size_t len);

#define MC_CLOUD_CTRS(X, S)                                                \
    X(S, flushes, "cloud.flushes")                                        \
    X(S, batches_deferred, "cloud.batches_deferred")                      \
    X(S, handoffs_full, "cloud.handoffs_full")                            \
    X(S, keys_written, "cloud.keys_written")                              \
    X(S, host_updates, "cloud.host_updates")                              \
    X(S, commands, "cloud.commands")                                      \
    X(S, batches, "cloud.batches")                                        \
    X(S, write_errors, "cloud.write_errors")                              \
    X(S, requeued, "cloud.requeued")                                      \
    X(S, dropped_keys, "cloud.dropped.keys")                              \
    X(S, dropped_pkts, "cloud.dropped.packets")                           \
    X(S, dropped_bytes, "cloud.dropped.bytes")                            \
    X(S, dropped_ops, "cloud.dropped.ops")                                \
    X(S, refused, "cloud.refused")                                        \
    X(S, events, "cloud.events")                                          \
    X(S, heartbeats, "cloud.heartbeats")                                  \
    X(S, lookups, "cloud.lookups")                                        \
    X(S, lookup_hits, "cloud.lookup_hits")                                \
    X(S, key_lookups, "cloud.key_lookups")                                \
    X(S, key_lookup_hits, "cloud.key_lookup_hits")                        \
    X(S, key_lookups_dropped, "cloud.key_lookups_dropped")                \
    X(S, users_set, "cloud.users_set")                                    \
    X(S, users_removed, "cloud.users_removed")                            \
    X(S, undrained_at_exit, "cloud.undrained_at_exit")                    \
    X(S, thread_cpu_us, "cloud.thread_cpu_us")                            \
    X(S, agg_keys_written, "cloud.agg.keys_written")                      \
    X(S, agg_requeued, "cloud.agg.requeued")                              \
    X(S, agg_dropped_ops, "cloud.agg.dropped.ops")                        \
    X(S, agg_dropped_events, "cloud.agg.dropped.events")                  \
    X(S, agg_dropped_pending, "cloud.agg.dropped.pending")                \
    X(S, agg_refused_long, "cloud.agg.refused.too_long")                  \
    X(S, agg_events_undecided, "cloud.agg.events_undecided")
MC_CTR_DECLARE(cloud, MC_CLOUD_CTRS)

#endif
