/*
 * write.h - the cloud thread's writer: host deltas and aggregates waiting
 * for Redis, written as plain pipelined commands (HINCRBY, HSETNX, HSET,
 * ZINCRBY, PEXPIRE, PUBLISH, XADD, and one small script call per batch for
 * min/max fields) over one pipe per node (pipe.h), routed by key as conn.h
 * routes (standalone shards or cluster slots).
 *
 * What waits is bounded (--cloud-max-keys hosts; aggregates by keys and
 * bytes) and merged with newer data; a batch that fails (connection lost,
 * cluster redirection) is put back, only the commands that did not run.
 * See docs/internals/cloud-writer.md.
 */
#ifndef MC_CLOUD_WRITE_H
#define MC_CLOUD_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/aggtab.h"
#include "cloud/conn.h"
#include "cloud/hostagg.h"

struct ev_loop;

struct mc_cloud_writer_config {
    const char *prefix;      /* borrowed: outlives the writer */
    const char *probe_id;    /* borrowed: for host.new events */
    uint32_t ttl_ms;         /* ip.* keys */
    uint32_t stream_maxlen;  /* events stream, MAXLEN ~ */
    uint32_t max_keys;       /* hosts pending; aggregate keys pending */
    size_t agg_max_bytes;    /* aggregates pending, bytes */
    void (*on_room)(void *ctx); /* optional: a batch was answered, before the writer sends more */
    void *ctx;
};

struct mc_cloud_writer;

/*
 * A writer on loop, sending through conn's nodes (ccfg: their AUTH and db,
 * for its own pipes).  NULL when out of memory.  Free with
 * mc_cloud_writer_free (what is still pending is dropped: read the counts
 * first with mc_cloud_writer_pending_keys).
 */
struct mc_cloud_writer *mc_cloud_writer_new(struct ev_loop *loop, struct mc_cloud_conn *conn,
                                            const struct mc_cloud_conn_config *ccfg,
                                            const struct mc_cloud_writer_config *cfg);
void mc_cloud_writer_free(struct mc_cloud_writer *w);

/* Closes the pipes: batches in flight go back to pending (call before counting what is left, at exit). */
void mc_cloud_writer_close(struct mc_cloud_writer *w);

/* Takes handed-over host deltas and aggregates into pending (both are emptied; a swap when pending is empty). */
void mc_cloud_writer_take(struct mc_cloud_writer *w, struct mc_hostagg *hosts, struct mc_agg *agg);

/*
 * Writes pending keys while their nodes take them (a window of batches per
 * node; each reply sends more).  new_pass: start over the aggregates (once
 * per flush interval), else go on from where the last call stopped.
 */
void mc_cloud_writer_flush(struct mc_cloud_writer *w, int new_pass);

/* Keys waiting (hosts and aggregate keys) and events waiting. */
uint32_t mc_cloud_writer_pending_keys(const struct mc_cloud_writer *w);

/* Batches written and not yet answered. */
uint32_t mc_cloud_writer_inflight(const struct mc_cloud_writer *w);

/* 1 when the writer's connection to node is stalled (no reply within the command timeout). */
int mc_cloud_writer_stalled(const struct mc_cloud_writer *w, int node);

/* The last command a node refused, as "node: error reply", "" when none. */
const char *mc_cloud_writer_last_error(const struct mc_cloud_writer *w);

/* The pending host table (for its drop counts). */
struct mc_hostagg *mc_cloud_writer_hosts(struct mc_cloud_writer *w);

#endif
