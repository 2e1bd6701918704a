/*
 * lookup.h - keys the analyzers read from the cloud: what another probe
 * wrote (the call of a media endpoint, voip.rtp.<addr>:<port>), asked
 * asynchronously and cached, never waited for on the packet path.
 *
 * The packet thread asks with mc_lookup_get: a fresh cached answer is
 * returned at once; else the key is queued as a question (once: the
 * question is remembered as a short-lived "not found" until its answer
 * comes) and the caller hears "not found yet" and asks again later.  At
 * each handoff the cloud takes the questions (mc_lookup_exchange), its
 * thread sends them with the next flush (one HMGET or GET per key,
 * pipelined, routed to the key's node: lookups are rare, once per media
 * flow, so no batching beyond the pipeline), and the answers are cached at
 * a later handoff.  Found answers are kept for the kind's found_ms, "no
 * such key" for its none_ms.  Every bound (questions waiting, answers
 * waiting, cache slots) is fixed; a question that does not fit is counted
 * (cloud.key_lookups_dropped) and asked again when the caller next asks.
 *
 * Threads: mc_lookup_get and mc_lookup_exchange on the packet thread,
 * mc_lookup_send on the cloud thread (its event loop), mc_lookup_pending
 * from either.
 */
#ifndef MC_CLOUD_LOOKUP_H
#define MC_CLOUD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

enum mc_lookup_kind {
    MC_LOOKUP_RTP,        /* voip.rtp.<addr>:<port> -> call_id, side (docs/CLOUD.md) */
    MC_LOOKUP_CALL_MEDIA, /* voip.call.<id> -> caller_rtp, callee_rtp */
    MC_LOOKUP_TEID,       /* user.teid.<addr>:<teid> -> the subscriber's IMSI */
    MC_LOOKUP_SUBSCRIBER, /* user.<imsi> -> imsi, msisdn, imei, apn, ip, ip6 */
    MC_LOOKUP_USER,       /* user.ip.<addr> -> the user (the collector's enrichment; the probe has its usercache) */
    MC_LOOKUP_KINDS
};

#define MC_LOOKUP_KEY_MAX 128   /* bytes of a key after its kind's prefix */
#define MC_LOOKUP_VALUES 6
#define MC_LOOKUP_VALUE_MAX 127 /* bytes kept of each value */

struct mc_lookup_answer {
    char v[MC_LOOKUP_VALUES][MC_LOOKUP_VALUE_MAX + 1]; /* the kind's fields in order; "" when absent */
};

struct mc_lookup;
struct mc_cloud_conn;

/* prefix: the cloud prefix (--cloud-prefix), borrowed.  NULL when out of memory. */
struct mc_lookup *mc_lookup_new(const char *prefix);
/* Call once the connections are closed (no reply can come any more). */
void mc_lookup_free(struct mc_lookup *l);

enum { MC_LOOKUP_ASKED = -1, MC_LOOKUP_NONE = 0, MC_LOOKUP_FOUND = 1 };

/*
 * Packet thread: MC_LOOKUP_FOUND and out filled when key (n bytes after
 * the kind's prefix) was found in the cloud; MC_LOOKUP_NONE when the cloud
 * has no such key (or the question could not be queued); MC_LOOKUP_ASKED
 * when the answer is not known yet (asked now, or on its way).  l NULL (no
 * cloud, or lookups off): MC_LOOKUP_NONE.
 */
int mc_lookup_get(struct mc_lookup *l, enum mc_lookup_kind kind, const char *key, size_t n,
                  struct mc_lookup_answer *out);

/*
 * Reading a capture file, a flow about to leave with a question on its way
 * may wait for the answers (a file is read faster than Redis answers, and
 * has no real time to keep up with): the cloud installs the waiter only
 * then.  mc_lookup_settle runs it: 1 when it did (answers may be cached
 * now: ask again), 0 when there is none (live capture, no cloud) or the
 * cloud stopped answering (it is not waited for again).
 */
void mc_lookup_set_waiter(struct mc_lookup *l, int (*wait)(void *ctx), void *ctx);
int mc_lookup_settle(struct mc_lookup *l);

/* Packet thread: hands the questions over and caches the answers that came.  wait: take the lock even if busy. */
void mc_lookup_exchange(struct mc_lookup *l, int wait);

/* Packet thread: questions wait to be handed over, or answers to be taken (an exchange is worth it before the flush). */
int mc_lookup_due(const struct mc_lookup *l);

/* Cloud thread: sends the questions handed over (none when l is NULL). */
void mc_lookup_send(struct mc_lookup *l, struct mc_cloud_conn *conn);

/* Questions asked and not answered yet (or given up): what a file's end waits for. */
uint64_t mc_lookup_pending(const struct mc_lookup *l);

#endif
