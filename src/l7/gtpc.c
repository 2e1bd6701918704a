/*
 * gtpc.c - the GTP-C analyzer (UDP 2123, GTPv1-C and GTPv2-C): each request
 * matched with its response into one transaction, written to --l7-log and
 * handed to the subscriber layer (mobile.h), which learns the sessions.
 *
 * Matching (TS 29.060 7.6, TS 29.274 7.6): a response carries its request's
 * sequence number and comes back from the request's receiver; in v2 its
 * header TEID is the control TEID the request's sender announced in its
 * F-TEID (when it announced one).  A request seen again with the same
 * sequence number, type and TEID while pending is a retransmission
 * (counted, no second transaction); a response seen again after its
 * transaction was written is one too.  Requests wait in a bounded table
 * per flow; the oldest is written unanswered when it is full, when no
 * answer came within GTPC_ANSWER_MS, and at the flow's end.  Messages no
 * peer answers (notifications, error indications, commands) are a
 * transaction each at once.  See docs/internals/analyzers-gtp.md.
 */
#include "l7/gtpc.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cur.h"
#include "common/hostport.h"
#include "l7/l7.h"
#include "l7/mobile.h"

MC_CTR_DEFINE(l7_gtp, MC_L7_GTP_CTRS)

/* ---- message types ------------------------------------------------------------ */

enum { K_REQ = 1, K_RESP, K_NOTE }; /* answered request, response, message no peer answers */

struct gtpc_type {
    uint8_t type, kind;
    const char *name;
};

/* TS 29.060 table 1 */
static const struct gtpc_type v1_types[] = {
    { 1, K_REQ, "Echo Request" },
    { 2, K_RESP, "Echo Response" },
    { 3, K_NOTE, "Version Not Supported" },
    { 4, K_REQ, "Node Alive Request" },
    { 5, K_RESP, "Node Alive Response" },
    { 6, K_REQ, "Redirection Request" },
    { 7, K_RESP, "Redirection Response" },
    { 16, K_REQ, "Create PDP Context Request" },
    { 17, K_RESP, "Create PDP Context Response" },
    { 18, K_REQ, "Update PDP Context Request" },
    { 19, K_RESP, "Update PDP Context Response" },
    { 20, K_REQ, "Delete PDP Context Request" },
    { 21, K_RESP, "Delete PDP Context Response" },
    { 22, K_REQ, "Initiate PDP Context Activation Request" },
    { 23, K_RESP, "Initiate PDP Context Activation Response" },
    { 26, K_NOTE, "Error Indication" },
    { 27, K_REQ, "PDU Notification Request" },
    { 28, K_RESP, "PDU Notification Response" },
    { 29, K_REQ, "PDU Notification Reject Request" },
    { 30, K_RESP, "PDU Notification Reject Response" },
    { 31, K_NOTE, "Supported Extension Headers Notification" },
    { 32, K_REQ, "Send Routeing Information for GPRS Request" },
    { 33, K_RESP, "Send Routeing Information for GPRS Response" },
    { 34, K_REQ, "Failure Report Request" },
    { 35, K_RESP, "Failure Report Response" },
    { 36, K_REQ, "Note MS GPRS Present Request" },
    { 37, K_RESP, "Note MS GPRS Present Response" },
    { 48, K_REQ, "Identification Request" },
    { 49, K_RESP, "Identification Response" },
    { 50, K_REQ, "SGSN Context Request" },
    { 51, K_RESP, "SGSN Context Response" },
    { 52, K_NOTE, "SGSN Context Acknowledge" },
    { 53, K_REQ, "Forward Relocation Request" },
    { 54, K_RESP, "Forward Relocation Response" },
    { 55, K_NOTE, "Forward Relocation Complete" },
    { 56, K_REQ, "Relocation Cancel Request" },
    { 57, K_RESP, "Relocation Cancel Response" },
    { 58, K_NOTE, "Forward SRNS Context" },
    { 59, K_NOTE, "Forward Relocation Complete Acknowledge" },
    { 60, K_NOTE, "Forward SRNS Context Acknowledge" },
    { 61, K_REQ, "UE Registration Query Request" },
    { 62, K_RESP, "UE Registration Query Response" },
    { 70, K_NOTE, "RAN Information Relay" },
    { 240, K_REQ, "Data Record Transfer Request" },
    { 241, K_RESP, "Data Record Transfer Response" },
};

/* TS 29.274 table 6.1-1 */
static const struct gtpc_type v2_types[] = {
    { 1, K_REQ, "Echo Request" },
    { 2, K_RESP, "Echo Response" },
    { 3, K_NOTE, "Version Not Supported Indication" },
    { 32, K_REQ, "Create Session Request" },
    { 33, K_RESP, "Create Session Response" },
    { 34, K_REQ, "Modify Bearer Request" },
    { 35, K_RESP, "Modify Bearer Response" },
    { 36, K_REQ, "Delete Session Request" },
    { 37, K_RESP, "Delete Session Response" },
    { 38, K_REQ, "Change Notification Request" },
    { 39, K_RESP, "Change Notification Response" },
    { 40, K_REQ, "Remote UE Report Notification" },
    { 41, K_RESP, "Remote UE Report Acknowledge" },
    /* commands are answered by a request (Create/Update/Delete Bearer) or a failure indication */
    { 64, K_NOTE, "Modify Bearer Command" },
    { 65, K_NOTE, "Modify Bearer Failure Indication" },
    { 66, K_NOTE, "Delete Bearer Command" },
    { 67, K_NOTE, "Delete Bearer Failure Indication" },
    { 68, K_NOTE, "Bearer Resource Command" },
    { 69, K_NOTE, "Bearer Resource Failure Indication" },
    { 70, K_NOTE, "Downlink Data Notification Failure Indication" },
    { 71, K_NOTE, "Trace Session Activation" },
    { 72, K_NOTE, "Trace Session Deactivation" },
    { 73, K_NOTE, "Stop Paging Indication" },
    { 95, K_REQ, "Create Bearer Request" },
    { 96, K_RESP, "Create Bearer Response" },
    { 97, K_REQ, "Update Bearer Request" },
    { 98, K_RESP, "Update Bearer Response" },
    { 99, K_REQ, "Delete Bearer Request" },
    { 100, K_RESP, "Delete Bearer Response" },
    { 101, K_REQ, "Delete PDN Connection Set Request" },
    { 102, K_RESP, "Delete PDN Connection Set Response" },
    { 103, K_REQ, "PGW Downlink Triggering Notification" },
    { 104, K_RESP, "PGW Downlink Triggering Acknowledge" },
    { 128, K_REQ, "Identification Request" },
    { 129, K_RESP, "Identification Response" },
    { 130, K_REQ, "Context Request" },
    { 131, K_RESP, "Context Response" },
    { 132, K_NOTE, "Context Acknowledge" },
    { 133, K_REQ, "Forward Relocation Request" },
    { 134, K_RESP, "Forward Relocation Response" },
    { 135, K_REQ, "Forward Relocation Complete Notification" },
    { 136, K_RESP, "Forward Relocation Complete Acknowledge" },
    { 137, K_REQ, "Forward Access Context Notification" },
    { 138, K_RESP, "Forward Access Context Acknowledge" },
    { 139, K_REQ, "Relocation Cancel Request" },
    { 140, K_RESP, "Relocation Cancel Response" },
    { 141, K_NOTE, "Configuration Transfer Tunnel" },
    { 149, K_REQ, "Detach Notification" },
    { 150, K_RESP, "Detach Acknowledge" },
    { 151, K_NOTE, "CS Paging Indication" },
    { 152, K_NOTE, "RAN Information Relay" },
    { 153, K_REQ, "Alert MME Notification" },
    { 154, K_RESP, "Alert MME Acknowledge" },
    { 155, K_REQ, "UE Activity Notification" },
    { 156, K_RESP, "UE Activity Acknowledge" },
    { 157, K_NOTE, "ISR Status Indication" },
    { 158, K_REQ, "UE Registration Query Request" },
    { 159, K_RESP, "UE Registration Query Response" },
    { 160, K_REQ, "Create Forwarding Tunnel Request" },
    { 161, K_RESP, "Create Forwarding Tunnel Response" },
    { 162, K_REQ, "Suspend Notification" },
    { 163, K_RESP, "Suspend Acknowledge" },
    { 164, K_REQ, "Resume Notification" },
    { 165, K_RESP, "Resume Acknowledge" },
    { 166, K_REQ, "Create Indirect Data Forwarding Tunnel Request" },
    { 167, K_RESP, "Create Indirect Data Forwarding Tunnel Response" },
    { 168, K_REQ, "Delete Indirect Data Forwarding Tunnel Request" },
    { 169, K_RESP, "Delete Indirect Data Forwarding Tunnel Response" },
    { 170, K_REQ, "Release Access Bearers Request" },
    { 171, K_RESP, "Release Access Bearers Response" },
    { 176, K_REQ, "Downlink Data Notification" },
    { 177, K_RESP, "Downlink Data Notification Acknowledge" },
    { 179, K_REQ, "PGW Restart Notification" },
    { 180, K_RESP, "PGW Restart Notification Acknowledge" },
    { 200, K_REQ, "Update PDN Connection Set Request" },
    { 201, K_RESP, "Update PDN Connection Set Response" },
    { 211, K_REQ, "Modify Access Bearers Request" },
    { 212, K_RESP, "Modify Access Bearers Response" },
};

static const struct gtpc_type *type_of(uint8_t version, uint8_t type)
{
    const struct gtpc_type *t = version == 1 ? v1_types : v2_types;
    size_t n = version == 1 ? sizeof(v1_types) / sizeof(v1_types[0]) : sizeof(v2_types) / sizeof(v2_types[0]);
    if (version != 1 && version != 2)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i].type == type)
            return &t[i];
    return NULL;
}

const char *mc_gtpc_type_name(uint8_t version, uint8_t type)
{
    const struct gtpc_type *t = type_of(version, type);
    return t ? t->name : NULL;
}

int mc_gtpc_is_request(uint8_t version, uint8_t type)
{
    const struct gtpc_type *t = type_of(version, type);
    return !t || t->kind != K_RESP;
}

int mc_gtpc_expects_response(uint8_t version, uint8_t type)
{
    const struct gtpc_type *t = type_of(version, type);
    return t && t->kind == K_REQ;
}

int mc_gtpc_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m)
{
    if (n < 1) {
        memset(m, 0, sizeof(*m));
        return MC_GTPC_TOO_SHORT;
    }
    switch (p[0] >> 5) {
    case 1:
        return mc_gtpv1c_parse(p, n, m);
    case 2:
        return mc_gtpv2c_parse(p, n, m);
    default:
        memset(m, 0, sizeof(*m));
        return MC_GTPC_BAD_VERSION;
    }
}

int mc_gtpc_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir;
    if (n < 8)
        return 0;
    size_t len = (size_t)p[2] << 8 | p[3];
    if ((p[0] & 0xf0) == 0x30) /* v1, PT 1: 8 header octets, the length counts the rest */
        return 8 + len <= n && mc_gtpc_type_name(1, p[1]) != NULL;
    if ((p[0] >> 5) == 2) /* v2: 4 octets, the length counts the rest (a piggybacked message may follow) */
        return 4 + len <= n && len >= ((p[0] & 0x08) ? 8u : 4u) && mc_gtpc_type_name(2, p[1]) != NULL;
    return 0;
}

/* ---- per-flow state ---------------------------------------------------------- */

#define GTPC_PENDING 16         /* requests awaiting their response per flow */
#define GTPC_ANSWERED 8         /* answered (dir, seq) remembered to recognise a repeated response */
/* T3-RESPONSE x N3-REQUESTS: 29.060/29.274 leave both to the operator; 3 s x 5 tries is usual */
#define GTPC_ANSWER_MS 20000u
#define GTPC_FTEIDS_TEXT 2048   /* the F-TEID list of a transaction as JSON text */
#define GTPC_FTEIDS_FLOW 1024   /* the same in the flow record (gtpFteids' maximum): whole objects */

struct gtpc_pending {
    uint8_t used, dir;
    uint64_t t_ms;
    struct mc_gtpc_msg m;
};

/* The flow's first transaction: the flow record's elements. */
struct gtpc_first {
    uint8_t version, type, has_resp, resp_type, has_cause, cause, has_rat, rat, has_ue_v4, has_ue_v6;
    uint32_t seq, teid;
    uint8_t ue_v4[4], ue_v6[16];
    char imsi[MC_GTPC_DIGITS_MAX + 1], msisdn[MC_GTPC_DIGITS_MAX + 1], imei[MC_GTPC_DIGITS_MAX + 1];
    char apn[MC_GTPC_APN_MAX + 1];
    uint16_t fteids_len;
    char fteids[GTPC_FTEIDS_FLOW + 1];
};

struct gtpc_state {
    uint32_t msgs[2];
    uint32_t retransmissions;
    uint8_t n_answered, answered_next;
    struct {
        uint8_t dir, version;
        uint32_t seq;
    } answered[GTPC_ANSWERED];
    struct gtpc_pending *pend; /* owned: GTPC_PENDING slots, NULL until the first request waits */
    struct gtpc_first *first;  /* owned: NULL until a transaction was written */
};

/* ---- transactions ------------------------------------------------------------- */

/* Appends a message's F-TEIDs as JSON objects; whole objects only. */
static size_t fteids_json(char *o, size_t cap, size_t len, const struct mc_gtpc_msg *m, const char *which, int *cut)
{
    for (unsigned i = 0; i < m->n_fteids; i++) {
        const struct mc_gtpc_fteid *f = &m->fteid[i];
        char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "", item[256];
        if (f->has_v4)
            mc_ip_text(4, f->v4, a4, sizeof(a4));
        if (f->has_v6)
            mc_ip_text(6, f->v6, a6, sizeof(a6));
        int w = snprintf(item, sizeof(item),
                         "%s{\"message\":\"%s\",\"interface\":%u,\"user\":%u,\"ebi\":%u,\"teid\":%" PRIu32
                         "%s%s%s%s%s%s}",
                         len > 1 ? "," : "", which, f->iface, f->user, f->ebi, f->teid, f->has_v4 ? ",\"ipv4\":\"" : "",
                         a4, f->has_v4 ? "\"" : "", f->has_v6 ? ",\"ipv6\":\"" : "", a6, f->has_v6 ? "\"" : "");
        if (w <= 0 || len + (size_t)w + 2 > cap) {
            *cut = 1;
            return len;
        }
        memcpy(o + len, item, (size_t)w);
        len += (size_t)w;
    }
    return len;
}

/* 0.0.0.0 / :: in a request's PAA or End User Address asks the network for an address: none yet. */
static int unspecified(const uint8_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i])
            return 0;
    return 1;
}

/* The UE's address of a transaction: the response's (what the network assigned), else the request's. */
static const uint8_t *ue_addr(const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r, int v6)
{
    for (int k = 0; k < 2; k++) {
        const struct mc_gtpc_msg *m = k == 0 ? r : q;
        if (m && (v6 ? m->has_ue_v6 : m->has_ue_v4) && !unspecified(v6 ? m->ue_v6 : m->ue_v4, v6 ? 16 : 4))
            return v6 ? m->ue_v6 : m->ue_v4;
    }
    return NULL;
}

/* The F-TEIDs of q and r as a JSON array in o (cap bytes, whole objects); returns its length, 2 for none. */
static size_t fteids_array(char *o, size_t cap, const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r, int *cut)
{
    size_t fl = 1;
    o[0] = '[';
    if (q)
        fl = fteids_json(o, cap, fl, q, "request", cut);
    if (r)
        fl = fteids_json(o, cap, fl, r, "response", cut);
    o[fl++] = ']';
    o[fl] = '\0';
    return fl;
}

static void keep_first(struct gtpc_state *s, const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r,
                       const struct mc_gtpc_msg *any)
{
    struct gtpc_first *f = calloc(1, sizeof(*f));
    if (!f) {
        MC_CTR_INC(l7_gtp, first_alloc_failed);
        return;
    }
    f->version = any->version;
    f->type = any->type;
    f->seq = any->seq;
    f->teid = any->teid;
    if (r) {
        f->has_resp = 1;
        f->resp_type = r->type;
    }
    const struct mc_gtpc_msg *c = r && r->has_cause ? r : q && q->has_cause ? q : NULL;
    if (c) {
        f->has_cause = 1;
        f->cause = c->cause;
    }
    /* the subscriber's values: the request's, else the response's */
    for (int k = 0; k < 2; k++) {
        const struct mc_gtpc_msg *m = k == 0 ? q : r;
        if (!m)
            continue;
        if (!f->imsi[0])
            memcpy(f->imsi, m->imsi, sizeof(f->imsi));
        if (!f->msisdn[0])
            memcpy(f->msisdn, m->msisdn, sizeof(f->msisdn));
        if (!f->imei[0])
            memcpy(f->imei, m->imei, sizeof(f->imei));
        if (!f->apn[0])
            memcpy(f->apn, m->apn, sizeof(f->apn));
        if (!f->has_rat && m->has_rat)
            f->has_rat = 1, f->rat = m->rat;
    }
    const uint8_t *ue = ue_addr(q, r, 0);
    if (ue)
        f->has_ue_v4 = 1, memcpy(f->ue_v4, ue, 4);
    if ((ue = ue_addr(q, r, 1)))
        f->has_ue_v6 = 1, memcpy(f->ue_v6, ue, 16);
    int cut = 0;
    size_t fl = fteids_array(f->fteids, sizeof(f->fteids), q, r, &cut);
    if (fl <= 2)
        fl = 0, f->fteids[0] = '\0';
    f->fteids_len = (uint16_t)fl;
    s->first = f;
}

static const char *pick(const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r, size_t off)
{
    const char *a = q ? (const char *)q + off : "";
    return a[0] || !r ? a : (const char *)r + off;
}


/*
 * One transaction: q (NULL: a response whose request was not seen) and r
 * (NULL: unanswered or a message no peer answers).  qdir: the direction q
 * went (or r's reverse).
 */
static void emit(struct mc_l7_ctx *x, struct gtpc_state *s, const struct mc_gtpc_msg *q, uint64_t q_ms,
                 const struct mc_gtpc_msg *r, uint64_t r_ms, int qdir)
{
    const struct mc_gtpc_msg *any = q ? q : r;
    const char *name = mc_gtpc_type_name(any->version, any->type);
    uint64_t start = q ? q_ms : r_ms;
    mc_l7_tx_begin(x, start);
    mc_l7_tx_u64(x, "gtpVersion", any->version);
    mc_l7_tx_u64(x, "gtpMessageType", any->type);
    mc_l7_tx_str(x, "gtpMessageName", name ? name : "", name ? strlen(name) : 0);
    if (r)
        mc_l7_tx_u64(x, "gtpResponseType", r->type);
    if (any->has_seq)
        mc_l7_tx_u64(x, "gtpSequence", any->seq);
    if (any->has_teid)
        mc_l7_tx_u64(x, "gtpTeid", any->teid);
    const struct mc_gtpc_msg *cm = r && r->has_cause ? r : q && q->has_cause ? q : NULL;
    if (cm)
        mc_l7_tx_u64(x, "gtpCause", cm->cause);
    const char *imsi = pick(q, r, offsetof(struct mc_gtpc_msg, imsi));
    const char *msisdn = pick(q, r, offsetof(struct mc_gtpc_msg, msisdn));
    const char *imei = pick(q, r, offsetof(struct mc_gtpc_msg, imei));
    const char *apn = pick(q, r, offsetof(struct mc_gtpc_msg, apn));
    if (imsi[0])
        mc_l7_tx_str(x, "mobileIMSI", imsi, strlen(imsi));
    if (msisdn[0])
        mc_l7_tx_str(x, "mobileMSISDN", msisdn, strlen(msisdn));
    if (imei[0])
        mc_l7_tx_str(x, "mobileIMEI", imei, strlen(imei));
    if (apn[0])
        mc_l7_tx_str(x, "gtpApn", apn, strlen(apn));
    const struct mc_gtpc_msg *rm = q && q->has_rat ? q : r && r->has_rat ? r : NULL;
    if (rm)
        mc_l7_tx_u64(x, "gtpRatType", rm->rat);
    if (mc_l7_tx_logged(x)) { /* the addresses and F-TEIDs as text: for the log only */
        char a[INET6_ADDRSTRLEN];
        const uint8_t *ue = ue_addr(q, r, 0);
        if (ue)
            mc_l7_tx_str(x, "gtpUeIPv4", a, mc_ip_text(4, ue, a, sizeof(a)));
        if ((ue = ue_addr(q, r, 1)))
            mc_l7_tx_str(x, "gtpUeIPv6", a, mc_ip_text(6, ue, a, sizeof(a)));
        char ft[GTPC_FTEIDS_TEXT];
        int cut = 0;
        size_t fl = fteids_array(ft, sizeof(ft), q, r, &cut);
        if (cut)
            MC_CTR_INC(l7_gtp, fteids_text_full);
        if (fl > 2)
            mc_l7_tx_raw(x, "gtpFteids", ft, fl);
    }
    mc_l7_tx_end(x);
    if (!s->first) {
        keep_first(s, q, r, any);
        /* the flow record's mobileIMSI, mobileMSISDN: the first transaction's subscriber */
        if (s->first)
            mc_l7_set_subscriber(x, s->first->imsi, s->first->msisdn);
    }

    const struct mc_flow *f = mc_l7_flow(x);
    struct mc_mobile_txn t;
    memset(&t, 0, sizeof(t));
    t.ms = start;
    t.ip_ver = f->key.ip_ver;
    t.src = f->key.addr[qdir & 1];
    t.dst = f->key.addr[!(qdir & 1)];
    t.req = q;
    t.resp = r;
    mc_mobile_transaction(mc_l7_mobile(x), &t, mc_l7_agg(x));
}

static void unanswered(struct mc_l7_ctx *x, struct gtpc_state *s, struct gtpc_pending *e)
{
    MC_CTR_INC(l7_gtp, unanswered);
    emit(x, s, &e->m, e->t_ms, NULL, 0, e->dir);
    e->used = 0;
}

/* Requests waiting longer than any retry would: written unanswered, oldest first. */
static void expire(struct mc_l7_ctx *x, struct gtpc_state *s, uint64_t now, int all)
{
    if (!s->pend)
        return;
    for (;;) {
        struct gtpc_pending *o = NULL;
        for (int i = 0; i < GTPC_PENDING; i++) {
            struct gtpc_pending *e = &s->pend[i];
            if (e->used && (all || (now > e->t_ms && now - e->t_ms >= GTPC_ANSWER_MS)) && (!o || e->t_ms < o->t_ms))
                o = e;
        }
        if (!o)
            return;
        unanswered(x, s, o);
    }
}

static void on_request(struct mc_l7_ctx *x, struct gtpc_state *s, int dir, const struct mc_gtpc_msg *m)
{
    uint64_t now = mc_l7_now_ms(x);
    MC_CTR_INC(l7_gtp, requests);
    if (!mc_gtpc_expects_response(m->version, m->type) || !m->has_seq) {
        emit(x, s, m, now, NULL, 0, dir);
        return;
    }
    if (!s->pend && !(s->pend = calloc(GTPC_PENDING, sizeof(*s->pend)))) {
        MC_CTR_INC(l7_gtp, pending_alloc_failed);
        emit(x, s, m, now, NULL, 0, dir);
        return;
    }
    struct gtpc_pending *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < GTPC_PENDING; i++) {
        struct gtpc_pending *e = &s->pend[i];
        if (!e->used) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (e->dir == dir && e->m.version == m->version && e->m.seq == m->seq) {
            if (e->m.type == m->type && e->m.teid == m->teid) {
                /* the sender's T3 expired: the same request again, the transaction starts at the first */
                MC_CTR_INC(l7_gtp, retransmissions);
                s->retransmissions++;
                return;
            }
            /* a new request reusing the number: the first is over */
            unanswered(x, s, e);
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (!oldest || e->t_ms < oldest->t_ms)
            oldest = e;
    }
    if (!free_slot) {
        MC_CTR_INC(l7_gtp, pending_full);
        unanswered(x, s, oldest);
        free_slot = oldest;
    }
    free_slot->used = 1;
    free_slot->dir = (uint8_t)dir;
    free_slot->t_ms = now;
    free_slot->m = *m;
}

/* v2: the response's TEID is the control TEID the request's sender announced, when it announced one. */
static int teid_fits(const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r)
{
    if (q->version != 2 || !r->has_teid || r->teid == 0)
        return 1;
    int announced = 0;
    for (unsigned i = 0; i < q->n_fteids; i++) {
        const struct mc_gtpc_fteid *f = &q->fteid[i];
        if (f->user || f->ebi)
            continue;
        announced = 1;
        if (f->teid == r->teid)
            return 1;
    }
    return !announced;
}

static int answered_before(const struct gtpc_state *s, int dir, const struct mc_gtpc_msg *m)
{
    for (unsigned i = 0; i < s->n_answered; i++)
        if (s->answered[i].dir == dir && s->answered[i].version == m->version && s->answered[i].seq == m->seq)
            return 1;
    return 0;
}

static void on_response(struct mc_l7_ctx *x, struct gtpc_state *s, int dir, const struct mc_gtpc_msg *m)
{
    uint64_t now = mc_l7_now_ms(x);
    MC_CTR_INC(l7_gtp, responses);
    for (int i = 0; s->pend && i < GTPC_PENDING; i++) {
        struct gtpc_pending *e = &s->pend[i];
        if (!e->used || e->dir == dir || e->m.version != m->version || e->m.seq != m->seq)
            continue;
        if (!teid_fits(&e->m, m)) {
            MC_CTR_INC(l7_gtp, teid_mismatch);
            continue;
        }
        emit(x, s, &e->m, e->t_ms, m, now, e->dir);
        e->used = 0;
        s->answered[s->answered_next].dir = (uint8_t)dir;
        s->answered[s->answered_next].version = m->version;
        s->answered[s->answered_next].seq = m->seq;
        s->answered_next = (uint8_t)((s->answered_next + 1) % GTPC_ANSWERED);
        if (s->n_answered < GTPC_ANSWERED)
            s->n_answered++;
        return;
    }
    if (answered_before(s, dir, m)) {
        /* the answer to a retransmitted request: its transaction was written */
        MC_CTR_INC(l7_gtp, retransmissions);
        s->retransmissions++;
        return;
    }
    MC_CTR_INC(l7_gtp, response_without_request);
    emit(x, s, NULL, 0, m, now, !dir);
}

static void gtpc_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct gtpc_state *s = st;
    struct mc_gtpc_msg m;
    MC_CTR_INC(l7_gtp, messages);
    switch (mc_gtpc_parse(p, n, &m)) {
    case MC_GTPC_OK:
        break;
    case MC_GTPC_TOO_SHORT:
        MC_CTR_INC(l7_gtp, too_short);
        return;
    case MC_GTPC_BAD_VERSION:
        MC_CTR_INC(l7_gtp, bad_version);
        return;
    case MC_GTPC_BAD_LENGTH:
        MC_CTR_INC(l7_gtp, bad_length);
        return;
    case MC_GTPC_BAD_IE:
        MC_CTR_INC(l7_gtp, bad_ie);
        return;
    default:
        MC_CTR_INC(l7_gtp, too_deep);
        return;
    }
    s->msgs[dir & 1]++;
    if (m.version == 1)
        MC_CTR_INC(l7_gtp, v1);
    else
        MC_CTR_INC(l7_gtp, v2);
    if (m.truncated)
        MC_CTR_INC(l7_gtp, truncated);
    if (!mc_gtpc_type_name(m.version, m.type))
        MC_CTR_INC(l7_gtp, type_unknown);
    expire(x, s, mc_l7_now_ms(x), 0);
    if (m.request)
        on_request(x, s, dir, &m);
    else
        on_response(x, s, dir, &m);
}

static void gtpc_end(struct mc_l7_ctx *x, void *st)
{
    expire(x, st, 0, 1);
}

static void gtpc_release(void *st)
{
    struct gtpc_state *s = st;
    free(s->pend);
    free(s->first);
    s->pend = NULL;
    s->first = NULL;
}

/* ---- flow record elements ------------------------------------------------------- */

static const struct gtpc_state *state_of(const struct mc_ie_env *env)
{
    return mc_l7_state_of(env->f, &mc_l7_gtp);
}

static const struct gtpc_first *first_of(const struct mc_ie_env *env)
{
    const struct gtpc_state *s = state_of(env);
    return s ? s->first : NULL;
}

/* A uniflow record of direction 1 is the server's; the reverse element is the other direction. */
static void get_msgs(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_state *s = state_of(env);
    v->u = s ? s->msgs[env->dir & 1] : 0;
}

static void get_rev_msgs(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_state *s = state_of(env);
    v->u = s ? s->msgs[!(env->dir & 1)] : 0;
}

static void get_retrans(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_state *s = state_of(env);
    v->u = s ? s->retransmissions : 0;
}

#define FIRST_U(name, expr)                                                   \
    static void get_##name(const struct mc_ie_env *env, struct mc_ie_val *v) \
    {                                                                         \
        const struct gtpc_first *f = first_of(env);                           \
        v->u = f ? (uint64_t)(expr) : 0;                                      \
    }
FIRST_U(version, f->version)
FIRST_U(type, f->type)
FIRST_U(resp_type, f->has_resp ? f->resp_type : 0)
FIRST_U(cause, f->has_cause ? f->cause : 0)
FIRST_U(seq, f->seq)
FIRST_U(teid, f->teid)
FIRST_U(rat, f->has_rat ? f->rat : 0)

/* A GTP-C flow's first transaction's value, else the subscriber a GTP-U (or a UE's) flow was tied to (mobile.h). */
#define SUB_S(name)                                                                                       \
    static void get_##name(const struct mc_ie_env *env, struct mc_ie_val *v)                              \
    {                                                                                                     \
        const struct gtpc_first *f = first_of(env);                                                       \
        const struct mc_mobile_sub *u = f ? NULL : mc_l7_subscriber_of(env->f);                           \
        v->str = f ? f->name : u ? u->name : "";                                                          \
        v->str_len = strlen(v->str);                                                                      \
    }
SUB_S(imei)
SUB_S(apn)
#undef SUB_S

#undef FIRST_U

static void get_name(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_first *f = first_of(env);
    const char *n = f ? mc_gtpc_type_name(f->version, f->type) : NULL;
    v->str = n ? n : "";
    v->str_len = strlen(v->str);
}

static void get_fteids(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_first *f = first_of(env);
    /* the element's maximum cuts it; the text stays NUL-terminated at fteids_len */
    v->str = f ? f->fteids : "";
    v->str_len = f ? f->fteids_len : 0;
}

static const uint8_t zero_addr[16];

static void get_ue4(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_first *f = first_of(env);
    v->addr = f && f->has_ue_v4 ? f->ue_v4 : zero_addr;
}

static void get_ue6(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct gtpc_first *f = first_of(env);
    v->addr = f && f->has_ue_v6 ? f->ue_v6 : zero_addr;
}

#define STR MC_IE_T_STRING
#define VAR MC_IE_VARLEN
#define U MC_IE_T_UNSIGNED
#define E MC_IE_F_NOV9
#define R (MC_IE_F_REVERSE | MC_IE_F_NOV9)
#define P MC_PEN_MC
#define REV 0x4000 /* RFC 5103 6.2: the reverse of an enterprise element is its id with bit 14 set */

static const struct mc_ie gtp_fields[] = {
    { "gtpMessages", 260, P, 4, 0, U, E, NULL, get_msgs, "GTP-C messages the direction sent", 0 },
    { "reverseGtpMessages", REV | 260, P, 4, 0, U, R, NULL, get_rev_msgs,
      "GTP-C messages the direction sent, reverse direction", 0 },
    { "gtpVersion", 261, P, 1, 0, U, E, NULL, get_version, "first transaction: GTP version (1 or 2)", 0 },
    { "gtpMessageType", 262, P, 1, 0, U, E, NULL, get_type,
      "first transaction: message type of its request (of its response when alone)", 0 },
    { "gtpMessageName", 263, P, VAR, 0, STR, E, NULL, get_name,
      "first transaction: the type's name (TS 29.060 table 1, TS 29.274 table 6.1-1), empty when unknown", 64 },
    { "gtpResponseType", 264, P, 1, 0, U, E, NULL, get_resp_type,
      "first transaction: message type of its response (0: unanswered)", 0 },
    { "gtpCause", 265, P, 1, 0, U, E, NULL, get_cause, "first transaction: Cause value (the response's)", 0 },
    { "gtpSequence", 266, P, 4, 0, U, E, NULL, get_seq, "first transaction: sequence number", 0 },
    { "gtpTeid", 267, P, 4, 0, U, E, NULL, get_teid, "first transaction: the request's header TEID", 0 },
    /* 268, 269: the subscriber's IMSI and MSISDN are IANA's mobileIMSI (455) and mobileMSISDN (456) */
    { "mobileIMEI", 270, P, VAR, 0, STR, E, NULL, get_imei,
      "IMEI(SV) / MEI digits: a GTP-C flow's first transaction's; a GTP-U flow's (or a UE's) subscriber's",
      MC_GTPC_DIGITS_MAX },
    { "gtpApn", 271, P, VAR, 0, STR, E, NULL, get_apn,
      "APN, labels joined by dots: a GTP-C flow's first transaction's; a GTP-U flow's (or a UE's) subscriber's",
      MC_GTPC_APN_MAX },
    { "gtpRatType", 272, P, 1, 0, U, E, NULL, get_rat, "first transaction: RAT Type value", 0 },
    { "gtpUeIPv4", 273, P, 4, 0, MC_IE_T_IPV4, E, NULL, get_ue4,
      "first transaction: the UE's IPv4 address (End User Address, PAA)", 0 },
    { "gtpUeIPv6", 274, P, 16, 0, MC_IE_T_IPV6, E, NULL, get_ue6,
      "first transaction: the UE's IPv6 address or prefix (End User Address, PAA)", 0 },
    { "gtpFteids", 275, P, VAR, 0, STR, E, NULL, get_fteids,
      "first transaction: tunnel endpoints as a JSON array of {message, interface, user, ebi, teid, ipv4, ipv6}",
      GTPC_FTEIDS_FLOW },
    { "gtpRetransmissions", 276, P, 4, 0, U, E, NULL, get_retrans,
      "retransmitted requests and repeated responses in the flow", 0 },
};

#undef STR
#undef VAR
#undef U
#undef E
#undef R
#undef P
#undef REV

static const char *const gtp_ndpi[] = { "GTP_C", NULL };

const struct mc_l7_analyzer mc_l7_gtp = {
    .name = "gtp",
    .l4 = MC_L7_UDP,
    .ports = { 2123 },
    .ndpi = gtp_ndpi,
    .detect = mc_gtpc_detect,
    .state_size = sizeof(struct gtpc_state),
    .data = gtpc_data,
    .end = gtpc_end,
    .release = gtpc_release,
    .fields = gtp_fields,
    .n_fields = sizeof(gtp_fields) / sizeof(gtp_fields[0]),
};
