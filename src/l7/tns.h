/*
 * tns.h - the Oracle TNS analyzer's pure parsers (no flow state, no
 * output), what the unit tests and the fuzz target call directly.  The
 * analyzer itself is mc_l7_tns (tns.c); its elements, transactions and
 * counters are described in docs/internals/analyzers-tns.md.
 */
#ifndef MC_L7_TNS_H
#define MC_L7_TNS_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "l7/l7.h"

#define MC_TNS_HDR 8            /* packet header bytes */
#define MC_TNS_NAME_MAX 63      /* text bytes kept of a service, program, user or host */
#define MC_TNS_MAX_LEN 0x1000000u /* longest packet believed (SDU is at most 2 MiB) */
#define MC_TNS_AGG_TTL_MS 3600000u /* oracle.server.<addr>:<port> lives an hour after its last update */

/* Packet types (the header's byte 4). */
#define MC_TNS_CONNECT 1
#define MC_TNS_ACCEPT 2
#define MC_TNS_ACK 3
#define MC_TNS_REFUSE 4
#define MC_TNS_REDIRECT 5
#define MC_TNS_DATA 6
#define MC_TNS_NULL 7
#define MC_TNS_ABORT 9
#define MC_TNS_RESEND 11
#define MC_TNS_MARKER 12
#define MC_TNS_ATTENTION 13
#define MC_TNS_CONTROL 14
#define MC_TNS_DD 15            /* data descriptor: its data follows, outside the length */
#define MC_TNS_TYPE_MAX 19

/* How the header's first 4 bytes are read. */
enum mc_tns_len_mode {
    MC_TNS_LEN_SHORT, /* 2-byte length, 2-byte packet checksum (before an ACCEPT of version >= 315) */
    MC_TNS_LEN_LONG,  /* 4-byte length (after an ACCEPT of version >= 315) */
    MC_TNS_LEN_GUESS  /* no handshake seen: as Wireshark, checksum bytes 0 or 4 mean the short form */
};

/*
 * Reads a header p[0..n) (n >= 8).  Sets *len (the whole packet, header
 * included) and *type.  -1 for a length below the header's or above
 * MC_TNS_MAX_LEN, or an unknown type (counted: bad_length, bad_type).
 */
int mc_l7_tns_header(const uint8_t *p, size_t n, int mode, uint32_t *len, uint8_t *type);

/* The key values of a connect descriptor. */
struct mc_tns_desc {
    char service[MC_TNS_NAME_MAX + 1]; /* CONNECT_DATA's SERVICE_NAME, else its SID */
    char program[MC_TNS_NAME_MAX + 1]; /* CID's PROGRAM */
    char user[MC_TNS_NAME_MAX + 1];    /* CID's USER: the client's OS user */
    char host[MC_TNS_NAME_MAX + 1];    /* CID's HOST: the client's host name */
};
/* Walks "(DESCRIPTION=(CONNECT_DATA=...)...)"; never fails (missing keys stay empty). */
void mc_l7_tns_descriptor(const uint8_t *p, size_t n, struct mc_tns_desc *d);

/*
 * A CONNECT's body (after the 8-byte header; n bytes kept of plen).
 * Sets *cd / *cd_n to the connect data found in it (borrowed), and
 * *follows to its announced length when it is sent in the next DATA packet
 * instead (longer than the CONNECT could carry).  *version gets the
 * client's TNS version.  -1 when the fixed part is short or the offset lies.
 */
int mc_l7_tns_connect(const uint8_t *p, size_t n, size_t plen, uint16_t *version, const uint8_t **cd, size_t *cd_n,
                      uint16_t *follows);

/*
 * The SQL text in a client DATA payload (after the 2-byte data flags): a
 * printable run starting with a statement keyword, cut to the TTC length
 * byte before it when there is one, and reassembled from 0xfe-chunked form.
 * Writes at most cap bytes to out; returns the length, 0 when none.
 */
size_t mc_l7_tns_sql(const uint8_t *p, size_t n, char *out, size_t cap);

/* The first "ORA-nnnnn" error code in a server payload, 0 when none (ORA-01403 "no data found" ends a fetch: not an error). */
uint32_t mc_l7_tns_ora_error(const uint8_t *p, size_t n);

/* The number after "(ERR=" in a REFUSE's data, 0 when none. */
uint32_t mc_l7_tns_refuse_error(const uint8_t *p, size_t n);

/* The cheap attach check: a client CONNECT (type 1, version 300..399). */
int mc_l7_tns_detect(const uint8_t *p, size_t n, int dir);

extern const struct mc_l7_analyzer mc_l7_tns;

#define MC_L7_TNS_CTRS(X, S)                                                 \
    X(S, connects, "l7.tns.connects")                                        \
    X(S, accepted, "l7.tns.accepted")                                        \
    X(S, refused, "l7.tns.refused")                                          \
    X(S, redirected, "l7.tns.redirected")                                    \
    X(S, resend, "l7.tns.resend")                                            \
    X(S, statements, "l7.tns.statements")                                    \
    X(S, errors, "l7.tns.errors")                                            \
    X(S, bad_length, "l7.tns.bad_length")                                    \
    X(S, bad_type, "l7.tns.bad_type")                                        \
    X(S, bad_connect, "l7.tns.bad_connect")                                  \
    X(S, connect_data_truncated, "l7.tns.connect_data_truncated")            \
    X(S, no_service, "l7.tns.no_service")                                    \
    X(S, descriptor_too_deep, "l7.tns.descriptor_too_deep")                  \
    X(S, answer_without_connect, "l7.tns.answer_without_connect")            \
    X(S, no_answer, "l7.tns.no_answer")                                      \
    X(S, packet_refused, "l7.tns.packet_refused")                            \
    X(S, gap_in_packet, "l7.tns.gap_in_packet")                              \
    X(S, gap_resync, "l7.tns.gap_resync")                                    \
    X(S, resync_skipped, "l7.tns.resync_skipped")                            \
    X(S, truncated_at_end, "l7.tns.truncated_at_end")                        \
    X(S, alloc_failed, "l7.tns.alloc_failed")                                \
    X(S, agg_refused, "l7.tns.agg_refused")
MC_CTR_DECLARE(l7_tns, MC_L7_TNS_CTRS)

#endif /* MC_L7_TNS_H */
