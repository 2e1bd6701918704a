/*
 * gtpc.h - the GTP control plane: GTPv1-C (3GPP TS 29.060) and GTPv2-C
 * (TS 29.274) messages parsed into one shape, and the analyzer of UDP port
 * 2123 (gtpc.c) that matches requests to responses and hands each
 * transaction to the subscriber layer (mobile.h).
 *
 * The parsers (gtpv1c.c, gtpv2c.c) are pure: bytes in, a struct mc_gtpc_msg
 * out, every length checked through a cursor (common/cur.h); what the
 * message does not carry stays zero/empty.  Grouped IEs (GTPv2 Bearer
 * Context) are read recursively, at most MC_GTPC_MAX_DEPTH deep.  Arrays are
 * bounded: what does not fit is counted (truncated) and skipped.
 */
#ifndef MC_L7_GTPC_H
#define MC_L7_GTPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"

#define MC_GTPC_DIGITS_MAX 16 /* IMSI (<= 15 digits), MSISDN (<= 15), IMEI (15) or IMEISV (16) */
#define MC_GTPC_APN_MAX 100   /* APN as text: its labels joined by dots (TS 23.003 9.1: at most 100 octets) */
#define MC_GTPC_FTEIDS 16     /* tunnel endpoints kept per message */
#define MC_GTPC_EBIS 11       /* EPS bearer ids (5-15) / NSAPIs kept per message */
#define MC_GTPC_MAX_DEPTH 4   /* grouped IE nesting read */

/* What a message was parsed into; the values of mc_gtpv1c_parse and mc_gtpv2c_parse. */
enum mc_gtpc_result {
    MC_GTPC_OK = 0,
    MC_GTPC_TOO_SHORT,    /* shorter than its header */
    MC_GTPC_BAD_VERSION,  /* not version 1 with PT=1 (v1), not version 2 (v2) */
    MC_GTPC_BAD_LENGTH,   /* the header's length runs past the datagram */
    MC_GTPC_BAD_IE,       /* an IE's length runs past its message or group, or a TV IE of unknown length */
    MC_GTPC_TOO_DEEP      /* grouped IEs nested deeper than MC_GTPC_MAX_DEPTH */
};

/* v1 tunnel endpoints have no interface type: these stand for it (v2 types are 0-39, TS 29.274 8.22). */
#define MC_GTPC_IF_V1_DATA 0xf0    /* TEID Data I with the user-plane GSN address */
#define MC_GTPC_IF_V1_CONTROL 0xf1 /* TEID Control Plane with the control-plane GSN address */
#define MC_GTPC_IF_V1_DATA2 0xf2   /* TEID Data II (a secondary context's NSAPI) */

/*
 * A tunnel endpoint the message announced: GTPv2 F-TEID (IE 87, at top
 * level or inside a Bearer Context, whose EBI it gets), or GTPv1 TEID Data
 * I / Control Plane (IEs 16, 17) paired with the sender's GSN Address IEs
 * (133: the first is the control plane's, the second, when present, the
 * user plane's; with one, it serves both).
 */
struct mc_gtpc_fteid {
    uint8_t iface;   /* v2 interface type (0 S1-U eNodeB, 1 S1-U SGW, 4 S5/S8-U SGW, 5 S5/S8-U PGW, ...); v1: MC_GTPC_IF_V1_* */
    uint8_t user;    /* 1: a user-plane (GTP-U) endpoint, 0: control plane */
    uint8_t ebi;     /* v2: the EPS bearer of its Bearer Context, 0 at top level; v1: the NSAPI, 0 when none */
    uint8_t has_v4, has_v6;
    uint8_t v4[4];
    uint8_t v6[16];
    uint32_t teid;   /* or GRE key */
};

/* One GTP-C message (the first of a piggybacked pair). */
struct mc_gtpc_msg {
    uint8_t version;          /* 1 or 2 */
    uint8_t type;             /* message type */
    uint8_t request;          /* 1 a request (or a message that expects no answer), 0 a response */
    uint8_t has_teid;         /* v2: the T flag; v1: always */
    uint8_t has_seq;          /* v1: the S flag; v2: always */
    uint32_t teid;            /* the header's TEID (the receiver's control TEID; 0 in an initial request) */
    uint32_t seq;             /* v1: 16 bits, v2: 24 bits */
    uint8_t has_cause, cause; /* v1 Cause (IE 1), v2 Cause (IE 2) value */
    char imsi[MC_GTPC_DIGITS_MAX + 1];   /* TBCD digits, filler dropped; "" when absent */
    char msisdn[MC_GTPC_DIGITS_MAX + 1]; /* its digits, without the nature-of-address octet (TS 29.002 ISDN-AddressString) */
    char imei[MC_GTPC_DIGITS_MAX + 1];   /* IMEI(SV) digits: v1 IE 154, v2 MEI (IE 75) */
    char apn[MC_GTPC_APN_MAX + 1];       /* labels joined by dots */
    uint8_t has_rat, rat;     /* RAT Type value (v1 IE 151, v2 IE 82) */
    /* the UE's address: v1 End User Address (IE 128, PDP type IPv4/IPv6/IPv4v6), v2 PAA (IE 79) */
    uint8_t has_ue_v4, has_ue_v6, ue_v6_prefix_len;
    uint8_t ue_v4[4];
    uint8_t ue_v6[16];
    uint8_t n_fteids;
    struct mc_gtpc_fteid fteid[MC_GTPC_FTEIDS];
    uint8_t n_ebis;           /* v2: EBI (IE 73) at top level and in Bearer Contexts; v1: NSAPI (IE 20) */
    uint8_t ebi[MC_GTPC_EBIS];
    /* location, where present: serving network (v2 IE 83) or the ULI's/RAI's first MCC/MNC */
    char mcc[4], mnc[4];
    uint8_t has_cgi, has_sai, has_rai, has_tai, has_ecgi;
    uint16_t lac, ci, sac, rac, tac;
    uint32_t eci;             /* 28 bits */
    uint16_t n_ies;           /* IEs read, groups' members included */
    uint16_t truncated;       /* IEs or values that did not fit an array or a field */
};

/* Parses one message of version 1 (p: its first byte, n: the datagram's bytes from there). */
int mc_gtpv1c_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m);
int mc_gtpv2c_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m);
/* Either, by the version in the first byte's top three bits. */
int mc_gtpc_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m);

/* A message type's name ("Create PDP Context Request", "Create Session Response"), or NULL when unknown. */
const char *mc_gtpc_type_name(uint8_t version, uint8_t type);
/* 1 when the type is a request (or expects no answer), 0 a response. */
int mc_gtpc_is_request(uint8_t version, uint8_t type);
/* 1 when the type is a request its peer answers (echo, create/update/delete, ...); 0 a response, a
 * notification or a command answered by another request, or an unknown type. */
int mc_gtpc_expects_response(uint8_t version, uint8_t type);
/* 1 when a v2 F-TEID interface type (TS 29.274 table 8.22-1) is a GTP-U endpoint. */
int mc_gtpc_iface_user(uint8_t iface);

/*
 * Helpers both parsers share (gtpv1c.c).  mc_gtpc_tbcd: TBCD digits (low
 * nibble first, TS 29.002) of p[0..n) into out (NUL-terminated, at most
 * cap - 1 digits; a 0xf nibble ends them); *cut set when some did not fit.
 * mc_gtpc_apn: the APN's labels (TS 23.003 9.1) joined by dots, bytes
 * outside printable ASCII as '?'; a label running past n ends it (*cut).
 * mc_gtpc_plmn: MCC and MNC (2 or 3 digits) of a 3-octet PLMN id.
 */
size_t mc_gtpc_tbcd(const uint8_t *p, size_t n, char *out, size_t cap, int *cut);
size_t mc_gtpc_apn(const uint8_t *p, size_t n, char *out, size_t cap, int *cut);
void mc_gtpc_plmn(const uint8_t *p, char mcc[4], char mnc[4]);

/* The analyzer of UDP 2123 (gtpc.c); declared here without l7.h, which includes this header through mobile.h. */
struct mc_l7_analyzer;
extern const struct mc_l7_analyzer mc_l7_gtp;
/* Its detect(): a v1 (PT 1) or v2 header of a known type whose length fits the datagram. */
int mc_gtpc_detect(const uint8_t *p, size_t n, int dir);

#define MC_L7_GTP_CTRS(X, S)                                                  \
    X(S, messages, "l7.gtp.messages")                                         \
    X(S, v1, "l7.gtp.v1")                                                     \
    X(S, v2, "l7.gtp.v2")                                                     \
    X(S, requests, "l7.gtp.requests")                                         \
    X(S, responses, "l7.gtp.responses")                                       \
    X(S, too_short, "l7.gtp.too_short")                                       \
    X(S, bad_version, "l7.gtp.bad_version")                                   \
    X(S, bad_length, "l7.gtp.bad_length")                                     \
    X(S, bad_ie, "l7.gtp.bad_ie")                                             \
    X(S, too_deep, "l7.gtp.too_deep")                                         \
    X(S, truncated, "l7.gtp.truncated")                                       \
    X(S, type_unknown, "l7.gtp.type_unknown")                                 \
    X(S, retransmissions, "l7.gtp.retransmissions")                           \
    X(S, unanswered, "l7.gtp.unanswered")                                     \
    X(S, response_without_request, "l7.gtp.response_without_request")         \
    X(S, teid_mismatch, "l7.gtp.teid_mismatch")                               \
    X(S, pending_full, "l7.gtp.pending_full")                                 \
    X(S, pending_alloc_failed, "l7.gtp.pending_alloc_failed")                 \
    X(S, first_alloc_failed, "l7.gtp.first_alloc_failed")                    \
    X(S, fteids_text_full, "l7.gtp.fteids_text_full")
MC_CTR_DECLARE(l7_gtp, MC_L7_GTP_CTRS)

#endif
