/*
 * agg.h - cloud aggregates written by the packet thread (L7 analyzers, ...):
 * hash counters, min/max and set fields, sorted-set counters, TTLs and
 * events, merged per key locally between flushes and written as plain
 * pipelined Redis commands (docs/internals/cloud-writer.md).
 *
 * Every call copies its arguments into a bounded table and returns at once;
 * nothing is sent per call.  At each cloud flush the table is handed to the
 * cloud thread, which writes each key's merged operations once:
 *
 *   mc_agg_hincr   HINCRBY key field <sum of the deltas>
 *   mc_agg_hset    HSET key field <last value>          (one HSET per key for all its set fields)
 *   mc_agg_hmax    the field becomes max(stored, <largest value>)  (a small cached script:
 *   mc_agg_hmin    the field becomes min(stored, <smallest value>)  exact across probes)
 *   mc_agg_zincr   ZINCRBY key <sum of the deltas> member
 *   mc_agg_zmax    ZADD key GT <largest score> member   (a member's score only rises, across probes)
 *   mc_agg_ztrim   ZREMRANGEBYSCORE key -inf (<largest cutoff>   (members scored below it go)
 *   mc_agg_expire  PEXPIRE key <last ttl>               (after the key's other commands)
 *   mc_agg_publish PUBLISH <prefix>events.<name> json, and XADD <prefix>events ... type name data json
 *
 * Keys, channels and the stream are given without the cloud prefix
 * (--cloud-prefix): it is prepended here.  Keys are at most
 * MC_AGG_MAX_KEY bytes, field and member names MC_AGG_MAX_NAME, set values
 * and event payloads MC_AGG_MAX_VALUE; longer arguments are refused
 * (cloud.agg.refused.too_long).  Every function returns 0, or -1 when the
 * operation was refused: a NULL aggregator (no cloud) or bad arguments
 * (nothing counted for NULL), or the table's bound reached
 * (cloud.agg.dropped.ops, .events): the caller just goes on.
 *
 * Packet thread only: a struct mc_agg is not shared.  Get it with
 * mc_cloud_agg(cloud).
 */
#ifndef MC_CLOUD_AGG_H
#define MC_CLOUD_AGG_H

#include <stddef.h>
#include <stdint.h>

#define MC_AGG_MAX_KEY 512
#define MC_AGG_MAX_NAME 256
#define MC_AGG_MAX_VALUE 4096

struct mc_agg;

/* HINCRBY: adds delta to field of hash key. */
int mc_agg_hincr(struct mc_agg *a, const char *key, size_t klen, const char *field, int64_t delta);
/* Keeps the largest v written to field (compared as integers, across flushes and probes). */
int mc_agg_hmax(struct mc_agg *a, const char *key, size_t klen, const char *field, uint64_t v);
/* Keeps the smallest v written to field (compared as integers, across flushes and probes). */
int mc_agg_hmin(struct mc_agg *a, const char *key, size_t klen, const char *field, uint64_t v);
/* HSET: field becomes val (vlen bytes, binary safe); the last call of a flush wins. */
int mc_agg_hset(struct mc_agg *a, const char *key, size_t klen, const char *field, const char *val, size_t vlen);
/* ZINCRBY: adds delta to the score of member (mlen bytes, binary safe) of sorted set key. */
int mc_agg_zincr(struct mc_agg *a, const char *key, size_t klen, const char *member, size_t mlen, int64_t delta);
/* ZADD GT: member's score becomes max(stored, the largest score given) (a last-activity time). */
int mc_agg_zmax(struct mc_agg *a, const char *key, size_t klen, const char *member, size_t mlen, uint64_t score);
/* ZREMRANGEBYSCORE: members of sorted set key scored below cutoff are removed (after the key's ZADDs). */
int mc_agg_ztrim(struct mc_agg *a, const char *key, size_t klen, uint64_t cutoff);
/* PEXPIRE: key expires ttl_ms after this flush's write (the last ttl of a flush wins); 0 is refused. */
int mc_agg_expire(struct mc_agg *a, const char *key, size_t klen, uint32_t ttl_ms);
/* Publishes event `name` (channel events.<name>, and the events stream) with a JSON object payload. */
int mc_agg_publish(struct mc_agg *a, const char *name, const char *json, size_t n);
/*
 * Publishes event `name` with json only if `field` of `key` was created by
 * this flush's increment (newness from HINCRBY's reply, no EXISTS): the
 * field must get an mc_agg_hincr with a positive delta in the same flush
 * (usually just before); the reply equal to the merged delta means the field
 * did not exist.  Several calls for one field in a flush: the first payload
 * is kept.  Exactly one probe sees a field created, so exactly one publishes.
 */
int mc_agg_publish_if_new(struct mc_agg *a, const char *key, size_t klen, const char *field, const char *name,
                          const char *json, size_t n);

/*
 * Cells a caller updates again and again (a flow pushing its subscriber's
 * counters every second) can be bound once: while the table has not been
 * handed to the cloud thread since, an operation through the ref finds its
 * cell at once, with no hashing of key and field.  A zeroed ref is unbound.
 *
 *     if (!mc_agg_refs_live(a, r, 2) &&
 *         (mc_agg_bind_hincr(a, &r[0], key, kl, "sent_pkt") || mc_agg_bind_hmax(a, &r[1], key, kl, "last_seen")))
 *         return;              (refused and counted, like the keyed calls)
 *     mc_agg_incr_at(a, &r[0], n);
 *     mc_agg_max_at(a, &r[1], now);
 */
struct mc_agg_ref {
    uint32_t gen;  /* the table's contents it was bound in; 0: none */
    uint32_t cell;
};
/* 1 when each of r[0 .. n) still names its cell. */
int mc_agg_refs_live(const struct mc_agg *a, const struct mc_agg_ref *r, size_t n);
/* The generation of the table's contents: it changes each time the table is handed over (0 for NULL). */
uint32_t mc_agg_gen(const struct mc_agg *a);
/* Binds r to the cell mc_agg_hincr / mc_agg_hmax would update (found or made); 0, or -1 when refused. */
int mc_agg_bind_hincr(struct mc_agg *a, struct mc_agg_ref *r, const char *key, size_t klen, const char *field);
int mc_agg_bind_hmax(struct mc_agg *a, struct mc_agg_ref *r, const char *key, size_t klen, const char *field);
/* mc_agg_hincr and mc_agg_hmax through a live ref (mc_agg_refs_live). */
void mc_agg_incr_at(struct mc_agg *a, const struct mc_agg_ref *r, int64_t delta);
void mc_agg_max_at(struct mc_agg *a, const struct mc_agg_ref *r, uint64_t v);

/*
 * What was just added should not wait for the flush interval (an event a
 * subscriber is waiting for: a call starting): the cloud hands the table
 * over at the probe's next tick instead of at the next flush.
 */
void mc_agg_hurry(struct mc_agg *a);

#endif
