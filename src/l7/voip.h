/*
 * voip.h - the call layer: SIP dialogs followed through their states, and
 * the RTP endpoints their SDP announced, indexed so that a media flow finds
 * its call.  Fed by the SIP analyzer (sip.c) with every message; writes the
 * voip.* keys and events of docs/CLOUD.md through the aggregation interface.
 * See docs/internals/analyzers-sip.md ("Calls").
 *
 * One table per L7 stage, bounded (max_calls: the least recently active
 * entry makes room, counted), aged on the probe clock by mc_voip_tick
 * (bounded work per call).  Registrations (REGISTER and its 2xx) live in the
 * same table until their answer came.  Packet thread only.
 */
#ifndef MC_L7_VOIP_H
#define MC_L7_VOIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/ctr_macros.h"
#include "l7/sdp.h"

#define MC_VOIP_TEXT_MAX 127 /* bytes kept of a Call-ID, URI, contact or user agent */
#define MC_VOIP_TAG_MAX 63   /* bytes kept of a From/To tag */
#define MC_VOIP_EPS 4        /* RTP endpoints kept per side of a call */

enum mc_call_state {
    MC_CALL_TRYING = 1, /* INVITE sent, no ringing yet */
    MC_CALL_RINGING,    /* 180/183 */
    MC_CALL_ANSWERED,   /* 2xx to the INVITE */
    MC_CALL_ENDED,      /* BYE after the answer (or the call went idle) */
    MC_CALL_CANCELLED,  /* CANCEL before the answer */
    MC_CALL_FAILED      /* a final 3xx-6xx to the INVITE, or no answer before it went idle */
};

/* Why a call ended: the voip.call.<id> `end_cause`. */
enum mc_call_end { MC_END_NONE = 0, MC_END_BYE, MC_END_CANCEL, MC_END_REJECTED, MC_END_TIMEOUT, MC_END_EVICTED };

struct mc_voip_config {
    uint32_t max_calls;    /* calls and pending registrations held (default 65536) */
    uint32_t idle_ms;      /* a call with no SIP message this long is over (default 2 h: RFC 4028's default) */
    uint32_t linger_ms;    /* an ended call stays for late retransmissions (default 32 s: 64*T1) */
    uint32_t call_ttl_ms;  /* voip.call.<id> and voip.rtp.* live this long after the call ended (default 1 h) */
    uint32_t user_ttl_ms;  /* voip.user.<uri> lives this long after its last activity (default 24 h) */
    uint32_t active_ms;    /* voip.users keeps members active within this window (default 1 h, or a registration) */
    double mos_alert;      /* --voip-mos-alert: a running call's stream below this MOS raises voip.call.quality (3.5) */
};

void mc_voip_config_defaults(struct mc_voip_config *cfg);

/* One SIP message as the call layer takes it (strings borrowed for the call, not NUL-terminated). */
struct mc_voip_text {
    const char *p;
    size_t n;
};

struct mc_voip_msg {
    uint64_t ms;                 /* the message's time, epoch ms */
    uint8_t request;             /* 1 request, 0 response */
    uint8_t has_cseq, has_expires;
    uint16_t status;             /* response */
    uint32_t cseq, expires;
    struct mc_voip_text method, call_id, from, from_tag, to, to_tag, contact, user_agent, cseq_method;
    const struct mc_sdp *sdp;    /* its session description, NULL when none */
    uint8_t ip_ver;              /* the sender's and the receiver's addresses (the flow's sides) */
    struct mc_addr src, dst;
    uint16_t sport, dport;
};

struct mc_voip;
struct mc_agg;

struct mc_voip *mc_voip_new(const struct mc_voip_config *cfg);
void mc_voip_free(struct mc_voip *v);

/* One SIP message: the call's state moves, its keys and events go to agg (NULL: no cloud). */
void mc_voip_message(struct mc_voip *v, const struct mc_voip_msg *m, struct mc_agg *agg);

/* Ages calls on the probe clock (at most a few per call: the oldest first). */
void mc_voip_tick(struct mc_voip *v, uint64_t now_ms, struct mc_agg *agg);

/* The input ended (end of the capture files, shutdown): calls whose end is already known are ended. */
void mc_voip_finish(struct mc_voip *v, struct mc_agg *agg);

/* A call as the RTP side sees it: the one whose SDP announced ip:port, NULL when none; *side
 * (when not NULL): 0 when the caller receives there, 1 the callee. */
struct mc_voip_call;
const struct mc_voip_call *mc_voip_call_at(const struct mc_voip *v, uint8_t ip_ver, const struct mc_addr *a,
                                           uint16_t port, int *side);
/* The side (0 caller, 1 callee) whose SDP announced ip:port in call c; -1 when neither did. */
int mc_voip_call_side_at(const struct mc_voip_call *c, uint8_t ip_ver, const struct mc_addr *a, uint16_t port);
/* The call with this Call-ID (n bytes), NULL when the table does not hold it (any more). */
const struct mc_voip_call *mc_voip_call_find(const struct mc_voip *v, const char *id, size_t n);
/* The name of a state (enum mc_call_state: "trying" ... "failed"), "" for none. */
const char *mc_voip_state_name(int state);
/* The call's Call-ID (NUL-terminated) and state. */
const char *mc_voip_call_id(const struct mc_voip_call *c);
int mc_voip_call_state(const struct mc_voip_call *c);

/*
 * The media quality of one direction of a call, as the RTP analyzer
 * measures it: `to_side` 0 is the stream the caller receives, 1 the
 * callee's.  Written to voip.call.<call_id> (rtp_to_caller_* or
 * rtp_to_callee_*) at each call, i.e. while the call runs; a MOS below
 * mos_alert raises voip.call.quality once per direction and call (for a
 * call this table does not hold, one whose SIP another probe saw, once per
 * bit of *alerted, the media flow's own).
 */
struct mc_voip_quality {
    uint64_t packets, lost;
    double jitter_ms, jitter_max_ms, mos;
    const char *codec;            /* NUL-terminated */
};
void mc_voip_media(struct mc_voip *v, const char *call_id, int to_side, const struct mc_voip_quality *q, uint64_t now_ms,
                   uint8_t *alerted, struct mc_agg *agg);

/* Calls held now (tests). */
uint32_t mc_voip_calls(const struct mc_voip *v);

#define MC_L7_VOIP_CTRS(X, S)                                                 \
    X(S, calls, "l7.voip.calls")                                              \
    X(S, answered, "l7.voip.answered")                                        \
    X(S, ended, "l7.voip.ended")                                              \
    X(S, cancelled, "l7.voip.cancelled")                                      \
    X(S, failed, "l7.voip.failed")                                            \
    X(S, timed_out, "l7.voip.timed_out")                                      \
    X(S, evicted, "l7.voip.evicted")                                          \
    X(S, index_grown, "l7.voip.index_grown")                                  \
    X(S, registrations, "l7.voip.registrations")                              \
    X(S, unregistrations, "l7.voip.unregistrations")                          \
    X(S, media_updates, "l7.voip.media_updates")                              \
    X(S, no_call, "l7.voip.no_call")                                          \
    X(S, alloc_failed, "l7.voip.alloc_failed")
MC_CTR_DECLARE(l7_voip, MC_L7_VOIP_CTRS)

#endif /* MC_L7_VOIP_H */
