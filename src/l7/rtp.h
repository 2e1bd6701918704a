/*
 * rtp.h - the RTP/RTCP analyzer (rtp.c): its descriptor, the pure header
 * parsers the unit tests and the fuzz target call, the per-direction stream
 * statistics, and what the call layer (voip.c) reads and tells it.  See
 * docs/internals/analyzers-rtp.md.
 */
#ifndef MC_L7_RTP_H
#define MC_L7_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "flow/flow.h"
#include "l7/l7.h"

#define MC_RTP_MIN_SEQUENTIAL 2   /* RFC 3550 A.1: in-sequence packets that validate a stream */
#define MC_RTP_MAX_DROPOUT 3000   /* RFC 3550 A.1: a larger forward jump is not loss but a restart */
#define MC_RTP_MAX_MISORDER 100   /* RFC 3550 A.1: a packet this far behind is late, not a restart */
#define MC_RTP_PROBATION 8        /* datagrams a direction may send without validating before release */
#define MC_RTP_SSRC_SWITCH 4      /* in-sequence packets of another SSRC (and none of ours) to follow it */
#define MC_RTP_FORMATS 8          /* payload types per flow the call layer may name */
#define MC_RTP_CODEC_LEN 32       /* bytes of a codec name, NUL included */
#define MC_RTCP_MAX_BLOCKS 8      /* report blocks read per RTCP compound packet */

/* ---- pure parsers --------------------------------------------------------- */

enum mc_rtp_status {
    MC_RTP_OK = 0,
    MC_RTP_TOO_SHORT = -1,     /* fewer than the 12 fixed bytes (RTCP: than a header) */
    MC_RTP_BAD_VERSION = -2,   /* version is not 2 */
    MC_RTP_BAD_CSRC = -3,      /* the CSRC list runs past the packet */
    MC_RTP_BAD_EXTENSION = -4, /* the header extension's length runs past the packet */
    MC_RTP_BAD_PADDING = -5,   /* padding count 0 or larger than what follows the header */
    MC_RTCP_BAD_LENGTH = -6,   /* an RTCP length field runs past the datagram */
    MC_RTCP_BAD_COUNT = -7     /* more report blocks than the RTCP packet's length holds */
};

/* One RTP header (RFC 3550 5.1), with where its payload is. */
struct mc_rtp_hdr {
    uint8_t marker, pt, cc;   /* marker bit, payload type, CSRC count */
    uint8_t ext, padding;     /* the X and P bits */
    uint16_t seq;
    uint32_t ts, ssrc;
    size_t payload_off;       /* after the CSRCs and the extension */
    size_t payload_len;       /* without the padding */
};

/* Parses the RTP header of p[0..n) into *h.  Returns enum mc_rtp_status. */
int mc_rtp_parse(const uint8_t *p, size_t n, struct mc_rtp_hdr *h);

/* An RTCP reception report block (RFC 3550 6.4.1). */
struct mc_rtcp_block {
    uint32_t ssrc;            /* the source it reports on */
    uint8_t fraction;         /* fraction lost since the previous report, /256 */
    int32_t cum_lost;         /* cumulative packets lost (24-bit signed) */
    uint32_t ext_max_seq;     /* extended highest sequence number received */
    uint32_t jitter;          /* interarrival jitter, timestamp units */
    uint32_t lsr, dlsr;
};

/* What one RTCP compound packet (RFC 3550 6.1) holds that we keep. */
struct mc_rtcp_info {
    uint8_t n_packets;        /* RTCP packets read (SR, RR, SDES, BYE, APP, feedback, XR) */
    uint8_t n_sr, n_rr, n_bye;
    uint8_t have_sender;      /* an SR or RR gave sender_ssrc */
    uint32_t sender_ssrc;     /* of the first SR or RR */
    uint8_t n_blocks;         /* report blocks kept (at most MC_RTCP_MAX_BLOCKS) */
    uint16_t blocks_total;    /* report blocks read */
    struct mc_rtcp_block block[MC_RTCP_MAX_BLOCKS];
};

/*
 * Parses the RTCP compound packet p[0..n) into *out: every packet's header
 * is checked (version 2, length within the datagram, report count within
 * the length); the first bad one ends the walk and its status is returned,
 * what came before it stays in *out.  Returns enum mc_rtp_status.
 */
int mc_rtcp_parse(const uint8_t *p, size_t n, struct mc_rtcp_info *out);

/* 1 when a datagram's second byte makes it RTCP (RFC 5761 4: packet types 192-223). */
static inline int mc_rtp_is_rtcp(const uint8_t *p, size_t n) { return n >= 2 && p[1] >= 192 && p[1] <= 223; }

/* ---- streams -------------------------------------------------------------- */

/*
 * One direction of an RTP flow: the stream of its current SSRC (an SSRC
 * change that sticks starts counting again).  Times are the probe's packet
 * times.  What the call layer reads (mc_l7_rtp_stats) and the exporter
 * encodes.
 */
struct mc_rtp_stats {
    uint32_t ssrc;
    uint8_t valid;            /* passed probation (RFC 3550 A.1): this is RTP */
    uint8_t pt;               /* the stream's payload type (comfort noise and events aside) */
    uint8_t audio;            /* its codec is a voice codec: the E-model applies */
    char codec[MC_RTP_CODEC_LEN]; /* "PCMA", "G729", "dynamic-101" until named; NUL-terminated */
    uint32_t clock_hz;        /* RTP clock of pt, 0 unknown (no jitter then) */
    uint64_t packets;         /* RTP packets of this SSRC, duplicates included */
    uint64_t octets;          /* their payload octets (no header, CSRCs, extension, padding) */
    uint32_t base_seq;        /* extended sequence number of the first packet */
    uint32_t ext_max_seq;     /* extended highest sequence number (wrap-arounds << 16 | seq) */
    uint32_t lost;            /* expected - received (duplicates not received twice), >= 0 */
    uint32_t duplicates;      /* packets whose sequence number was already received */
    uint32_t reordered;       /* packets arriving after a higher sequence number */
    uint32_t ssrc_changes;    /* times the direction followed a new SSRC */
    double jitter_ms;         /* RFC 3550 A.8 interarrival jitter J now, ms */
    double jitter_sum_ms;     /* J summed over the regular packets (docs: which): mc_rtp_jitter_mean_ms */
    uint32_t jitter_n;        /* and their count */
    double jitter_max_ms;     /* largest J after a regular packet */
    double max_delta_ms;      /* largest arrival gap before a regular packet */
    uint64_t first_us, last_us; /* arrival of its first and last packets, epoch us */
    /* RTCP: what this direction sent, and what its receiver reported on this stream */
    uint32_t rtcp_packets;    /* RTCP packets this direction sent */
    uint8_t rtcp_report;      /* a report on this stream arrived: the fields below are set */
    uint8_t rtcp_fraction;    /* fraction lost, /256, of the last report */
    int32_t rtcp_cum_lost;    /* cumulative lost of the last report */
    uint32_t rtcp_jitter;     /* jitter of the last report, timestamp units */
};

/* The mean of J over the regular packets, ms (0 before the first). */
static inline double mc_rtp_jitter_mean_ms(const struct mc_rtp_stats *s)
{
    return s->jitter_n ? s->jitter_sum_ms / s->jitter_n : 0;
}

/* Expected packets (extended highest - base + 1), 0 before the first packet. */
static inline uint32_t mc_rtp_expected(const struct mc_rtp_stats *s)
{
    return s->packets ? s->ext_max_seq - s->base_seq + 1 : 0;
}

/*
 * The E-model estimate of a stream (docs/internals/analyzers-rtp.md): *r the
 * R-factor, *mos the MOS.  Returns 1, or 0 with both 0 when not estimated
 * (not a voice codec, or no packet yet).
 */
int mc_rtp_quality(const struct mc_rtp_stats *s, double *r, double *mos);

/* The reported jitter in ms (rtcp_jitter over the stream's clock), 0 when unknown. */
double mc_rtp_rtcp_jitter_ms(const struct mc_rtp_stats *s);

/* ---- the call layer's interface ------------------------------------------- */

/*
 * The stream statistics of direction dir (MC_FLOW_FWD: the flow's client
 * side) of a flow the RTP analyzer owns, NULL when it does not own it (not
 * RTP, or not yet attached).  Borrowed, and a snapshot: the flow's next
 * packet may update the slot's hot copy instead (rtp.c), so ask again after
 * it.  A direction that sent nothing yet has packets == 0.
 */
const struct mc_rtp_stats *mc_l7_rtp_stats(const struct mc_flow *f, int dir);

/*
 * Names payload type pt (96-127, or a static one the SDP renames) of a flow
 * the RTP analyzer owns, for both directions: encoding name ("opus",
 * "telephone-event") and clock rate in Hz (what the SDP's rtpmap said).
 * From then on the stream's codec name, jitter and E-model use them.
 * Returns 0, or -1 when the flow is not RTP or its table
 * (MC_RTP_FORMATS) is full (l7.rtp.formats_full).
 */
int mc_l7_rtp_set_format(const struct mc_flow *f, uint8_t pt, const char *encoding, uint32_t clock_hz);

extern const struct mc_l7_analyzer mc_l7_rtp;

#define MC_L7_RTP_CTRS(X, S)                                                  \
    X(S, packets, "l7.rtp.packets")                                           \
    X(S, streams, "l7.rtp.streams")                                           \
    X(S, calls_found, "l7.rtp.calls_found")                                   \
    X(S, calls_found_cloud, "l7.rtp.calls_found_cloud")                       \
    X(S, released, "l7.rtp.released")                                         \
    X(S, probation_failed, "l7.rtp.probation_failed")                         \
    X(S, too_short, "l7.rtp.too_short")                                       \
    X(S, bad_version, "l7.rtp.bad_version")                                   \
    X(S, bad_csrc, "l7.rtp.bad_csrc")                                         \
    X(S, bad_extension, "l7.rtp.bad_extension")                               \
    X(S, bad_padding, "l7.rtp.bad_padding")                                   \
    X(S, ssrc_changes, "l7.rtp.ssrc_changes")                                 \
    X(S, other_ssrc, "l7.rtp.other_ssrc")                                     \
    X(S, duplicates, "l7.rtp.duplicates")                                     \
    X(S, reordered, "l7.rtp.reordered")                                       \
    X(S, seq_jump, "l7.rtp.seq_jump")                                         \
    X(S, seq_restart, "l7.rtp.seq_restart")                                   \
    X(S, formats_full, "l7.rtp.formats_full")                                 \
    X(S, alloc_failed, "l7.rtp.alloc_failed")                                 \
    X(S, rtcp_packets, "l7.rtp.rtcp.packets")                                 \
    X(S, rtcp_reports, "l7.rtp.rtcp.report_blocks")                           \
    X(S, rtcp_blocks_dropped, "l7.rtp.rtcp.blocks_dropped")                   \
    X(S, rtcp_too_short, "l7.rtp.rtcp.too_short")                             \
    X(S, rtcp_bad_version, "l7.rtp.rtcp.bad_version")                         \
    X(S, rtcp_bad_length, "l7.rtp.rtcp.bad_length")                           \
    X(S, rtcp_bad_count, "l7.rtp.rtcp.bad_count")
MC_CTR_DECLARE(l7_rtp, MC_L7_RTP_CTRS)

#endif /* MC_L7_RTP_H */
