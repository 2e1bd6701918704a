/*
 * internal.h - what cloud.c (the life cycle, the packet thread's handoff,
 * the cloud thread) and users.c (the user lookups and the user operations)
 * share: struct mc_cloud and the few functions each calls of the other's.
 * Internal to the cloud stage.
 */
#ifndef MC_CLOUD_INTERNAL_H
#define MC_CLOUD_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "cloud/aggtab.h"
#include "cloud/clock.h"
#include "cloud/cloud.h"
#include "cloud/conn.h"
#include "cloud/hostagg.h"
#include "cloud/lookup.h"
#include "cloud/usercache.h"
#include "cloud/write.h"

#define LOOKUP_BATCH 128 /* addresses per MGET */
#define MAX_OPS 10000     /* user operations and events queued between two flushes */
#define USER_LEN 64
#define MAX_ASKS 65536    /* lookups asked between two handoffs, and waiting for their nodes */
#define MAX_ATTRS 16
#define MAX_KEYS 24       /* extra keys of a user operation (user.teid.*, user.ip.<v6>), set and deleted each */
#define LOAD_CTR(grp, id) __atomic_load_n(&MC_CTR_GET(grp, id), __ATOMIC_RELAXED)
enum op_kind { OP_USER_SET, OP_USER_REMOVE };

struct op {
    struct op *next;
    int kind;
    char id[USER_LEN];
    uint8_t ver;                /* 0: no address (no ip field, no user.ip.<addr>) */
    struct mc_addr ip;
    uint64_t ts_ms;
    int n_attrs;
    char *attrs[2 * MAX_ATTRS]; /* name, value, ... (in text) */
    int n_keys, n_gone, keep_user;
    uint32_t linger_ms;         /* remove: user.<id> loses its addresses and expires after this, instead of going */
    char *keys[MAX_KEYS];       /* more string keys naming the user (set), without the prefix (in text) */
    char *gone[MAX_KEYS];       /* keys to delete (in text) */
    size_t text_used;
    char text[];                /* the strings above, in the operation's own allocation: one malloc, not one each */
};

/* A question for the cloud: which user has this address? */
struct ask {
    uint8_t ver;
    uint8_t prefix;  /* 1: asked as its /64 (user.ip.<v6-prefix>/64: a mobile UE's prefix), the address unknown */
    struct mc_addr ip;
};

/* Questions (or "no user" answers) in one array: no allocation per lookup. */
struct asks {
    struct ask *v;
    uint32_t n, cap;
};

/* A user found for an address (rare next to "no user": allocated). */
struct result {
    struct result *next;
    uint8_t ver;
    struct mc_addr ip;
    int found;
    char user[USER_LEN];
    char imsi[16], msisdn[16];  /* the user's subscriber attributes, when it has them */
    struct mc_cloud *c;         /* cloud thread: while the attributes are being read */
};

struct stats {
    uint64_t packets, drops, flows_active, flows_exported;
};

/* Per-flow state of the packet thread, indexed by flow slot. */
struct side {
    uint32_t pkts[2];
    uint64_t octets[2];
};

struct mc_cloud {
    struct mc_cloud_config cfg;
    size_t prefix_len;             /* strlen(cfg.prefix): keys are built per host per flush */

    /* ---- packet thread ---- */
    struct mc_flow_table *flows;   /* borrowed */
    struct side *sides;            /* owned: capacity + 1 */
    size_t sides_bytes;
    struct mc_hostagg batch;       /* deltas since the last handoff */
    struct mc_agg agg;             /* aggregates since the last handoff (mc_cloud_agg) */
    struct op *ops, **ops_tail;    /* queued for the next handoff */
    int n_ops;
    struct asks asks;              /* lookups for the next handoff */
    struct asks no_user;           /* answers taken from the mailbox (reused) */
    struct mc_usercache users;     /* owned: who owns an address (usercache.h) */
    struct mc_lookup *lookup;      /* owned: keys the analyzers read (lookup.h); NULL: lookups off */
    uint64_t next_flush_ms;
    uint64_t next_lookup_ms;       /* analyzers' lookups are exchanged between flushes at most this often */
    uint64_t now_ms;               /* wall clock of the last tick: cache ages, without a clock call per flow */
    uint32_t now_ds;               /* the same in cache units */
    struct stats stats;

    /* ---- mailbox (mutex) ---- */
    pthread_mutex_t mu;
    struct mc_hostagg box;         /* handed-over deltas, merged until taken */
    struct mc_agg box_agg;         /* handed-over aggregates, merged until taken */
    struct op *box_ops, **box_ops_tail;
    struct result *box_results;
    struct asks box_asks;          /* lookups handed over */
    struct asks box_no_user;       /* lookups answered "no user" */
    struct stats box_stats;
    int stopping;
    pthread_cond_t room;           /* the cloud thread took the box's hosts, or a batch of its was answered */
    uint64_t progress;             /* how often room was signalled */

    /* ---- cloud thread ---- */
    pthread_t thread;
    struct ev_loop *loop;
    ev_async wake;
    ev_timer flush_timer, heartbeat_timer, stop_timer;
    struct mc_cloud_conn *conn;
    struct mc_cloud_writer *writer; /* owned: host deltas and aggregates not yet accepted by Redis */
    struct op *deferred, **deferred_tail; /* operations waiting for their nodes */
    int n_deferred;
    struct asks todo;              /* lookups being sent (reused) */
    struct asks deferred_asks;     /* lookups waiting for their nodes */
    int heartbeat_due;
    struct batch_args *args;       /* owned: buffers of a lookup call */
    int nodes_up;                  /* written by the cloud thread (atomically), read for the stats line */
    int healthy;                   /* same: every node up and answering (a file's full batch waits then) */
    int box_held;                  /* the box's hosts wait there: the writer has no room for them yet */
    struct losses { uint64_t keys, pkts, bytes, agg, failed; } told; /* reported so far (report_losses) */
    uint64_t told_ms;              /* when */
    char last_err[200];            /* the last command a node refused (or lost), for the report */
    /* lookups asked by the packet thread and answered (or given up) by the cloud thread */
    atomic_uint_fast64_t lookups_asked, lookups_done;
    struct stats seen_stats;
    uint64_t started_ms;
    char host[256];                /* gethostname, for the probe events */
    int start_due;                 /* probe.start waits for its nodes (the cloud may be away at start) */
    int draining;                  /* stopping: the last writes go out, then probe.stop */
    int said_stop;                 /* the writer is closed, probe.stop and the last heartbeat are sent */
    uint64_t data_deadline_ms;     /* the last writes are given up then, */
    uint64_t drain_deadline_ms;    /* and the probe.stop's answer then */
};

/* Buffers of one lookup call (cloud thread only; reused). */
struct batch_args {
    char lookup_keys[LOOKUP_BATCH][200];
    char resp[LOOKUP_BATCH * 216 + 64]; /* the encoded MGET */
};

static inline uint32_t ds_after(const struct mc_cloud *c, uint64_t ms, uint32_t ttl_ms)
{
    uint64_t ds = (ms > c->started_ms ? ms - c->started_ms : 0) / 100;
    return (uint32_t)(ds + (ttl_ms + 99) / 100);
}

/* ---- cloud.c ---- */

/* prefix, then name, then the address's text: a key of the layout (docs/CLOUD.md); its length. */
size_t mc_cloud_addr_key(const char *prefix, size_t plen, const char *name, size_t nlen, uint8_t ver,
                         const struct mc_addr *a, char *buf, size_t len);
/* Cloud thread: sends a command routed by its key argv[key_arg]; counted, never retried. */
void mc_cloud_send_simple(struct mc_cloud *c, int key_arg, int argc, const char **argv);
/* Cloud thread: 1 when the node of key can take a command now. */
int mc_cloud_key_ready(struct mc_cloud *c, const char *key);
int mc_cloud_any_node_ready(struct mc_cloud *c);

/* ---- users.c: user lookups (which user has this address?) ---- */

/* Moves src's questions to the end of dst (a swap when dst is empty); how many did not fit. */
uint32_t mc_cloud_asks_move(struct asks *dst, struct asks *src);
void mc_cloud_asks_free(struct asks *a);
/* Packet thread: asks for the user of ip unless a fresh answer (or the question) is there. */
void mc_cloud_request_lookup(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip);
/* Packet thread: the user cached for ip, or NULL ("no user", or asked now). */
const struct mc_uc_cold *mc_cloud_user_entry(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip);
/* Packet thread: the answers handed back, into the cache (results freed). */
void mc_cloud_apply_results(struct mc_cloud *c, struct result *r, const struct asks *no_user);
/* Cloud thread: sends the questions in a (emptied): one MGET per node per LOOKUP_BATCH, a GET each in a cluster. */
void mc_cloud_run_asks(struct mc_cloud *c, struct asks *a);
/* mc_flow_visit_live callbacks: the flows still open at a file's end ask for their users. */
void mc_cloud_visit_unasked(void *ctx, struct mc_flow *f, uint32_t slot);
void mc_cloud_prefetch_unasked(void *ctx, struct mc_flow *f, uint32_t slot);

/* ---- users.c: user operations (user.<id>, user.ip.<addr> and the keys naming a user) ---- */

void mc_cloud_free_ops(struct op *o);
/* Cloud thread: runs operations in order; once one waits for room, the rest wait behind it. */
void mc_cloud_run_ops(struct mc_cloud *c, struct op *ops);
/* Cloud thread: the operations that waited, again, in order. */
void mc_cloud_retry_ops(struct mc_cloud *c);

#endif
