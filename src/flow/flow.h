/*
 * flow.h - the bidirectional flow record and the flow table that meters
 * decoded packets into it.
 *
 * A flow is keyed on the innermost IP 5-tuple plus VLAN and tunnel (type,
 * id; not GTP-U's TEID: each direction of a connection has its own, kept
 * per direction in the extension).  Its key is stored oriented client -> server: the client is the side
 * that sent the first packet, or the SYN sender when a SYN/ACK came first.
 * Direction 0 is client -> server ("forward"), 1 is the reverse.
 *
 * The record is kept small (see docs/internals/flow-table.md for the byte
 * budget): what only some flows need (tunnel endpoints, L7 state, the user
 * learned from the cloud) lives in an extension allocated on demand.
 */
#ifndef MC_FLOW_FLOW_H
#define MC_FLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "decode/pkt.h"

/* A bit of struct mc_flow's state the cloud owns: set once it reported the flow
 * (its per-slot state is valid).  New flows start with it clear. */
#define MC_FLOW_F_CLOUD 0x40
/* Another the L7 stage owns: set once it has nothing more to do with the
 * flow (classified, no analyzer), so later packets never touch the extension. */
#define MC_FLOW_F_L7_DONE 0x20
/* And one more: a flow whose analyzer is attached and whose nDPI verdict is in,
 * so its packets go straight to the analyzer (an RTP stream's, a download's). */
#define MC_FLOW_F_L7_STEADY 0x10

#define MC_FLOW_FWD 0
#define MC_FLOW_REV 1

/* IANA flowEndReason (IE 136) values. */
enum mc_flow_end_reason {
    MC_END_IDLE = 1,     /* idle timeout */
    MC_END_ACTIVE = 2,   /* active (lifetime) timeout */
    MC_END_FIN = 3,      /* end of flow detected: TCP FIN/RST */
    MC_END_FORCED = 4,   /* forced end: shutdown, end of capture */
    MC_END_RESOURCES = 5 /* lack of resources: evicted from a full table */
};

struct mc_flow_key {
    struct mc_addr addr[2]; /* [0] client, [1] server */
    uint16_t port[2];       /* transport ports; ICMP: 0 */
    uint32_t tunnel_id;     /* GRE key, TEID, VNI; 0 when none */
    uint16_t vlan[2];       /* outer and inner 802.1Q ids, 0 when untagged */
    uint8_t proto;          /* IP protocol */
    uint8_t ip_ver;         /* 4 or 6 */
    uint8_t tunnel;         /* enum mc_tunnel_type */
    uint8_t pad;            /* always 0: keys are compared with memcmp */
};

/* Who a flow belongs to, as the cloud or the subscriber layer learned it (NUL-terminated, may be empty). */
struct mc_flow_identity {
    char user[64];
    char imsi[16], msisdn[16];
};

/* Per-flow data only some flows need; allocated on first use, freed with the flow. */
struct mc_flow_ext {
    /* tunnel the flow was seen in */
    uint8_t outer_ver;            /* 0 when the flow is not tunnelled */
    uint8_t pooled;               /* internal: from the extension pool, not malloc (ext.c) */
    struct mc_addr outer_src, outer_dst; /* outer header of the flow's first packet (direction outer_dir) */
    uint8_t outer_dir;
    uint8_t tunnel_seen;          /* bit d: tunnel_ids[d] was taken from direction d's first packet */
    uint32_t tunnel_ids[2];       /* per direction: its first packet's tunnel id (GTP-U: each way has its TEID) */
    uint32_t mpls_top;            /* top MPLS label of the first packet, 0 when none */
    /* L7: the stage's per-flow state (analyzer, stream positions, nDPI) */
    int l7_id;                    /* registry index of the analyzer attached, -1 when none */
    void *l7_state;               /* owned by the L7 stage: freed through the table's ext_release */
    /* cloud: user / subscriber learned for this flow; NULL until one is (most flows never have one) */
    struct mc_flow_identity *id;
    /* room the L7 stage reserved (mc_flow_ext_reserve) for its per-flow state, in the same
     * allocation so a packet's L7 work follows one pointer, not two */
    _Alignas(16) unsigned char tail[];
};

/* Every extension allocated from now on has at least `bytes` of tail (only grows). */
void mc_flow_ext_reserve(size_t bytes);
/* The tail every extension has. */
size_t mc_flow_ext_tail(void);

struct mc_flow {
    struct mc_flow_key key;
    uint64_t octets[2];           /* per direction: IP header + payload (inner packet) */
    uint32_t pkts[2];             /* per direction */
    uint64_t first_ms;            /* first packet of either direction, epoch ms */
    uint32_t dir_first[2];        /* per direction first/last packet, ms after first_ms */
    uint32_t dir_last[2];
    uint8_t tcp_flags[2];         /* OR of TCP flags seen, per direction */
    uint8_t tos[2];               /* ToS / traffic class of the first packet, per direction */
    uint8_t icmp_type, icmp_code; /* of the first ICMP packet */
    uint8_t end_reason;           /* enum mc_flow_end_reason, set when exported */
    uint8_t state;                /* internal: MC_FLOW_ST_*, plus MC_FLOW_F_CLOUD and MC_FLOW_F_L7_* */
    uint32_t hnext;               /* internal: hash chain (slot index, 0 = end) */
    uint32_t lru_prev, lru_next;  /* internal: expiry list links */
    uint32_t queued;              /* internal: ms after first_ms when put on its expiry list */
    struct mc_flow_ext *ext;      /* owned: NULL unless needed */
};

/* Milliseconds helpers for exporters. */
static inline uint64_t mc_flow_start_ms(const struct mc_flow *f, int dir)
{
    return f->first_ms + f->dir_first[dir];
}
static inline uint64_t mc_flow_end_ms(const struct mc_flow *f, int dir)
{
    return f->first_ms + f->dir_last[dir];
}
/* Last packet of either direction. */
static inline uint64_t mc_flow_last_ms(const struct mc_flow *f)
{
    uint32_t l = f->dir_last[0] > f->dir_last[1] ? f->dir_last[0] : f->dir_last[1];
    return f->first_ms + l;
}

/*
 * Called for every flow leaving the table (expired, ended, evicted or
 * flushed), with f->end_reason set.  The flow is borrowed for the call only;
 * the callback may still fill its extension (e.g. the user) before export.
 */
typedef void (*mc_flow_export_fn)(void *ctx, struct mc_flow *f);

/*
 * Optional per-packet hook (L7 dissection, cloud aggregates).  NULL costs one
 * predictable branch per packet.  dir is the packet's direction in the flow.
 */
typedef void (*mc_flow_packet_fn)(void *ctx, struct mc_flow *f, const struct mc_pkt *pkt, int dir);

struct mc_flow_config {
    uint32_t max_flows;        /* table capacity; oldest flow evicted when full */
    uint32_t idle_timeout_ms;  /* -d */
    uint32_t active_timeout_ms;/* -t */
    uint32_t tcp_end_timeout_ms; /* grace after FIN both ways or RST, to catch the last ACK */
    uint32_t max_expire_per_tick; /* bound on expiry work per call of mc_flow_tick */
};

void mc_flow_config_defaults(struct mc_flow_config *cfg);

struct mc_flow_table;

/*
 * Creates a table for cfg->max_flows flows.  export_cb receives every flow
 * that leaves.  Returns NULL on allocation failure.  Free with
 * mc_flow_table_free (which does not export: call mc_flow_flush_all first).
 */
struct mc_flow_table *mc_flow_table_new(const struct mc_flow_config *cfg, mc_flow_export_fn export_cb,
                                        void *ctx);
void mc_flow_table_free(struct mc_flow_table *t);

/*
 * Installs the per-packet hook (NULL to remove).  Metering stays pipelined:
 * the table keeps a copy of each packet's IP datagram until it is metered,
 * so the hook may read pkt->payload and pkt->l3.
 */
void mc_flow_set_packet_hook(struct mc_flow_table *t, mc_flow_packet_fn fn, void *ctx);

/*
 * The extension's destructor: called with ctx on every extension just before
 * it is freed (a flow exported, flushed, or the table freed), so the owner
 * of its l7_state can free it.  NULL: extensions are plain memory.
 */
typedef void (*mc_flow_ext_release_fn)(void *ctx, struct mc_flow_ext *x);
void mc_flow_set_ext_release(struct mc_flow_table *t, mc_flow_ext_release_fn fn, void *ctx);

/*
 * Optional: called with the export ctx on a flow about to leave, one flow
 * ahead of its export when flows leave in a row (expiry, final flush), or a
 * few flows ahead in a dirty drain, so the callbacks can prefetch what they
 * will read for it.  A hint: the flow may stay after all.
 */
typedef void (*mc_flow_prefetch_fn)(void *ctx, const struct mc_flow *f, uint32_t slot);
void mc_flow_set_export_prefetch(struct mc_flow_table *t, mc_flow_prefetch_fn fn);

/*
 * Meters one packet that mc_decode_packet() classified MC_DECODED_IP.
 * May export flows (lifetime reached, table full).  Never fails: a packet
 * that cannot get a flow is impossible by construction (the oldest is evicted).
 */
void mc_flow_process(struct mc_flow_table *t, const struct mc_pkt *pkt);

/*
 * Pipelined metering, for the capture loop: decode into mc_flow_next_pkt(t)
 * (a slot owned by the table), then mc_flow_submit(t).  The packet is
 * metered a few packets later, with its cache misses overlapped; its payload
 * pointer must not be used after the capture callback (with a packet hook
 * installed the table keeps its own copy of the datagram, unless the caller
 * set bytes_kept: they outlive MC_FLOW_PIPE later packets).  mc_flow_drain
 * meters every queued packet; tick, flush_all and mc_flow_process drain
 * first, so the order of events is always the packet order.
 */
#define MC_FLOW_PIPE 16 /* packets in flight in the prefetch pipeline */
struct mc_pkt *mc_flow_next_pkt(struct mc_flow_table *t);
void mc_flow_submit(struct mc_flow_table *t);
void mc_flow_drain(struct mc_flow_table *t);

/* Expires flows idle or ended before now_ms, looking at most at max_expire_per_tick
 * list heads per call.  Returns how many flows were exported. */
uint32_t mc_flow_tick(struct mc_flow_table *t, uint64_t now_ms);

/* Exports every flow with the given reason (end of capture, shutdown). */
void mc_flow_flush_all(struct mc_flow_table *t, enum mc_flow_end_reason reason);

/* Flows currently held. */
uint32_t mc_flow_active(const struct mc_flow_table *t);

/*
 * Dirty tracking, for consumers that work per interval (the cloud): once
 * enabled, every flow that gets a packet is listed once until the next
 * mc_flow_dirty_drain, which calls fn for each (flow and its slot index) and
 * clears the list.  Costs one predictable branch per packet; off by default.
 * Slot indices are in [1, mc_flow_capacity(t)], stable for a flow's life,
 * and reused after it is exported: side arrays indexed by slot let a
 * consumer keep per-flow state without growing struct mc_flow.
 */
typedef void (*mc_flow_visit_fn)(void *ctx, struct mc_flow *f, uint32_t slot);
int mc_flow_track_dirty(struct mc_flow_table *t);
void mc_flow_dirty_drain(struct mc_flow_table *t, mc_flow_visit_fn fn, void *ctx);
uint32_t mc_flow_slot(const struct mc_flow_table *t, const struct mc_flow *f);
/* Calls fn for every flow held (dirty or not; the dirty list is left as it is),
 * and ahead (NULL: none) for the flow a few slots on, to prefetch what fn will read. */
void mc_flow_visit_live(struct mc_flow_table *t, mc_flow_visit_fn fn, mc_flow_visit_fn ahead, void *ctx);
uint32_t mc_flow_capacity(const struct mc_flow_table *t);

/* Bytes allocated for a table of max_flows flows (records, hash, fragment cache). */
size_t mc_flow_table_bytes(uint32_t max_flows);

/* Returns the extension of f, allocating it on first use; NULL on allocation failure. */
struct mc_flow_ext *mc_flow_ext_get(struct mc_flow *f);
/* Internal to the table: gives an extension's memory back (its owner released what it held). */
void mc_flow_ext_put(struct mc_flow_ext *x);
/* x's identity, made (zeroed) on first use; NULL when memory is out (counted: flow.ext.alloc_failed). */
struct mc_flow_identity *mc_flow_ext_identity(struct mc_flow_ext *x);
/* The flow's record carries this subscriber (IANA mobileIMSI, mobileMSISDN; each cut to fit); nothing when memory is out. */
void mc_flow_set_subscriber(struct mc_flow *f, const char *imsi, const char *msisdn);

#define MC_FLOW_CTRS(X, S)                                                  \
    X(S, created, "flow.created")                                          \
    X(S, exported, "flow.exported")                                        \
    X(S, expired_idle, "flow.expired.idle")                                \
    X(S, expired_active, "flow.expired.active")                            \
    X(S, ended_tcp, "flow.ended.tcp")                                      \
    X(S, evicted_table_full, "flow.evicted.table_full")                    \
    X(S, flushed, "flow.flushed")                                          \
    X(S, packets, "flow.packets")                                          \
    X(S, frag_matched, "flow.frag.matched")                                \
    X(S, frag_no_first, "flow.frag.no_first")                              \
    X(S, ext_alloc_failed, "flow.ext.alloc_failed")                        \
    X(S, time_went_back, "flow.time_went_back")
MC_CTR_DECLARE(flow, MC_FLOW_CTRS)

#endif /* MC_FLOW_FLOW_H */
