/*
 * mobile.h - the subscriber layer: mobile sessions (GTPv1 PDP contexts,
 * GTPv2 PDN connections) learned from GTP-C transactions (gtpc.c), from
 * create to delete, indexed by their user-plane tunnel endpoints and UE
 * addresses so that a GTP-U packet, or the subscriber's plain IP traffic,
 * finds its subscriber (IMSI, MSISDN, IMEI, APN) in one hash lookup.
 * Writes the user.* keys and events.gtp.* of docs/CLOUD.md through the
 * aggregation interface.  See docs/internals/analyzers-gtp.md.
 *
 * One table per L7 stage, bounded (max_sessions: the least recently active
 * session makes room, counted), aged on the probe clock by mc_mobile_tick
 * (bounded work per call).  Packet thread only.
 */
#ifndef MC_L7_MOBILE_H
#define MC_L7_MOBILE_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/agg.h"
#include "common/addr.h"
#include "common/ctr_macros.h"
#include "l7/gtpc.h"

struct mc_agg;

struct mc_mobile_config {
    uint32_t max_sessions; /* sessions held (--gtp-max-sessions, default 1048576) */
    uint32_t idle_ms;      /* a session with no control message nor user packet this long is over (--gtp-idle, 24 h) */
    uint32_t linger_ms;    /* user.<imsi> keeps its identity and counters this long after its last session (1 h) */
};

void mc_mobile_config_defaults(struct mc_mobile_config *cfg);

/*
 * One GTP-C transaction as the analyzer matched it: a request and its
 * response (either NULL when only the other was seen: a lost answer, a
 * capture that starts late).  src/dst: the request's sender and receiver
 * (for a response alone, the response's receiver and sender), so that the
 * F-TEIDs each message announces belong to its own sender.
 */
struct mc_mobile_txn {
    uint64_t ms;             /* the request's time (the response's when only it was seen), epoch ms */
    uint8_t ip_ver;
    struct mc_addr src, dst;
    const struct mc_gtpc_msg *req, *resp;
};

/* A subscriber as the user plane sees it (strings NUL-terminated, "" when unknown). */
struct mc_mobile_sub {
    char imsi[MC_GTPC_DIGITS_MAX + 1];
    char msisdn[MC_GTPC_DIGITS_MAX + 1];
    char imei[MC_GTPC_DIGITS_MAX + 1];
    char apn[MC_GTPC_APN_MAX + 1];
};

struct mc_mobile;

struct mc_mobile *mc_mobile_new(const struct mc_mobile_config *cfg);
void mc_mobile_free(struct mc_mobile *mb);
/* Where subscribers are written (the user primitive of cloud.h); NULL: no cloud. */
struct mc_cloud;
void mc_mobile_set_cloud(struct mc_mobile *mb, struct mc_cloud *cloud);

/* A transaction of the control plane: sessions created, updated, deleted; cloud keys and events (agg may be NULL). */
void mc_mobile_transaction(struct mc_mobile *mb, const struct mc_mobile_txn *t, struct mc_agg *agg);

/* The subscriber whose session holds the user-plane TEID at addr (a GTP-U packet's receiver), NULL when none. */
const struct mc_mobile_sub *mc_mobile_by_teid(struct mc_mobile *mb, uint8_t ip_ver, const struct mc_addr *addr,
                                              uint32_t teid, uint64_t now_ms);
/* The subscriber whose session gave the UE this address, NULL when none. */
const struct mc_mobile_sub *mc_mobile_by_ue(struct mc_mobile *mb, uint8_t ip_ver, const struct mc_addr *ue,
                                            uint64_t now_ms);

/*
 * A flow's subscriber: what the L7 stage keeps for a GTP-U flow (keyed on
 * its inner 5-tuple), or a plain IP flow of a UE this table knows (after
 * the gateway).  Found in this table at the flow's first packet (the
 * GTP-U receiver's TEID, else the UE's address), else, for GTP-U, in the
 * cloud (user.teid.<addr>:<teid>, then user.<imsi>: what the probe that saw
 * the GTP-C wrote).  Once found, the flow's packets and bytes go to
 * user.<imsi> (sent_pkt, rcvd_pkt, sent_bytes, rcvd_bytes, last_seen) once
 * a second and at its end.
 */
struct mc_flow;
struct mc_pkt;
struct mc_lookup;
struct mc_mobile_flow {
    struct mc_mobile_sub sub;
    uint8_t tagged, ue_side, tries, from_cloud;
    uint8_t waiting;       /* on the table's list of flows waiting for a cloud answer, at wait_slot */
    uint32_t wait_slot;
    uint64_t try_ms, push_ms;
    uint32_t pkts[2];      /* reported to user.<imsi> so far, per flow direction */
    uint64_t octets[2];
    struct mc_agg_ref ref[5]; /* user.<imsi>'s cells (push): found again without a lookup */
};

/* 1 when pkt's flow should get an mc_mobile_flow: a GTP-U packet, or any while sessions are held. */
int mc_mobile_flow_wanted(const struct mc_mobile *mb, const struct mc_pkt *pkt);
/*
 * A packet of the flow (tagging, then the counters once a second); the
 * flow's ext gets IMSI and MSISDN.  Returns the packet time before which
 * the next packets have nothing to do here: the caller keeps it beside its
 * own state and calls again only from then (mf is its own allocation, a
 * cache miss per packet otherwise).  *hold_gen: when the counters are due
 * again but this flow already pushed into the aggregate table as it is (a
 * file read faster than the flushes), that table's generation, and the
 * caller need not call again before mc_agg_gen(agg) differs; else 0.
 */
uint64_t mc_mobile_flow_packet(struct mc_mobile *mb, struct mc_lookup *lk, struct mc_flow *f,
                               struct mc_mobile_flow *mf, const struct mc_pkt *pkt, struct mc_agg *agg,
                               uint32_t *hold_gen);
/* The flow's state is freed: it leaves the list of flows waiting for a cloud answer. */
void mc_mobile_flow_forget(struct mc_mobile *mb, struct mc_mobile_flow *mf);
/* The cloud's lookups the flows ask when this table does not know their subscriber (NULL: none). */
void mc_mobile_set_lookups(struct mc_mobile *mb, struct mc_lookup *lk);
/* The flow ends: its last counts go out.  1 when a cloud answer was still on its way (see mc_lookup_settle). */
int mc_mobile_flow_end(struct mc_mobile *mb, struct mc_lookup *lk, struct mc_flow *f, struct mc_mobile_flow *mf,
                       struct mc_agg *agg);

/* Ages sessions idle past idle_ms (at most a bounded number per call). */
void mc_mobile_tick(struct mc_mobile *mb, uint64_t now_ms, struct mc_agg *agg);

/* Sessions held now (tests). */
uint32_t mc_mobile_sessions(const struct mc_mobile *mb);

#define MC_L7_MOBILE_CTRS(X, S)                                               \
    X(S, created, "l7.mobile.sessions_created")                               \
    X(S, updated, "l7.mobile.sessions_updated")                               \
    X(S, deleted, "l7.mobile.sessions_deleted")                               \
    X(S, rejected, "l7.mobile.sessions_rejected")                             \
    X(S, aged, "l7.mobile.sessions_aged")                                     \
    X(S, evicted, "l7.mobile.sessions_evicted")                               \
    X(S, unknown_session, "l7.mobile.unknown_session")                        \
    X(S, teids_full, "l7.mobile.teids_full")                                  \
    X(S, user_flows_tagged, "l7.mobile.user_flows_tagged")
MC_CTR_DECLARE(l7_mobile, MC_L7_MOBILE_CTRS)

#endif
