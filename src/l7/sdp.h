/*
 * sdp.h - the SDP parser (sdp.c): session descriptions found in SIP bodies
 * (application/sdp, or a part of a multipart body), parsed into a bounded
 * structure: the connection addresses, each media description (type, port,
 * protocol, formats with their rtpmap codecs, direction, RTCP port), and the
 * RTP endpoints it announces.  Pure: no flow state, no output; the SIP
 * analyzer (sip.c), the unit tests and the fuzz target call it directly.
 * Counters "l7.sip.sdp.<reason>" (SDP is read on behalf of the SIP
 * analyzer).  See docs/internals/analyzers-sip.md.
 */
#ifndef MC_L7_SDP_H
#define MC_L7_SDP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"

#define MC_SDP_MAX_MEDIA 8   /* media descriptions kept per body; more are counted, not kept */
#define MC_SDP_MAX_FMT 16    /* formats kept per media description */
#define MC_SDP_NAME_MAX 31   /* bytes of an encoding name or format token kept */
#define MC_SDP_TYPE_MAX 15   /* bytes of a media type ("audio") kept */
#define MC_SDP_PROTO_MAX 23  /* bytes of a transport protocol ("RTP/SAVPF") kept */
#define MC_SDP_MAX_PARTS 16  /* parts of a multipart body looked at */
#define MC_SDP_MAX_DEPTH 2   /* multipart nesting followed */
#define MC_SDP_PT_NONE 0xffff /* a format that is not an RTP payload type number ("t38") */

/* A connection address (c=): IPv4 or IPv6; ver 0 when none or not an address (a host name). */
struct mc_sdp_addr {
    uint8_t ver;   /* 0, 4 or 6 */
    uint8_t b[16]; /* network order; IPv4 in the first 4 */
};

/* Media direction attributes (RFC 4566 6: default sendrecv). */
enum mc_sdp_dir { MC_SDP_SENDRECV = 0, MC_SDP_SENDONLY, MC_SDP_RECVONLY, MC_SDP_INACTIVE };

/* One format of a media description: an RTP payload type and its codec, or a token. */
struct mc_sdp_fmt {
    uint16_t pt;      /* payload type 0-127, or MC_SDP_PT_NONE */
    uint32_t clock;   /* clock rate (rtpmap, else RFC 3551's for a static type), 0 unknown */
    uint8_t name_len;
    char name[MC_SDP_NAME_MAX + 1]; /* rtpmap encoding name, RFC 3551 name, or the token; "" unknown */
};

/* One media description (m= and the lines up to the next m=). */
struct mc_sdp_media {
    char type[MC_SDP_TYPE_MAX + 1];   /* "audio", "video", "image", ... (cut) */
    char proto[MC_SDP_PROTO_MAX + 1]; /* "RTP/AVP", "udptl", ... (cut) */
    uint16_t port;                    /* 0: the stream is refused or disabled */
    uint16_t n_ports;                 /* port/number (RTP: pairs), 1 by default */
    uint16_t rtcp_port;               /* a=rtcp:port (RFC 3605), else 0: port + 1 */
    uint8_t dir;                      /* enum mc_sdp_dir: its own a=, else the session's */
    uint8_t rtp;                      /* proto is an RTP profile (RTP/...): pt is meaningful */
    struct mc_sdp_addr addr;          /* its c=, else the session's: where this side receives */
    uint8_t n_fmt;                    /* formats kept in fmt[] */
    uint16_t fmt_total;               /* formats on the m= line */
    struct mc_sdp_fmt fmt[MC_SDP_MAX_FMT];
};

struct mc_sdp {
    struct mc_sdp_addr session_addr; /* session-level c= */
    uint8_t n_media;                 /* kept in media[] */
    uint16_t media_total;            /* m= lines in the body */
    struct mc_sdp_media media[MC_SDP_MAX_MEDIA];
};

/* An RTP endpoint an SDP announces: where its sender expects to receive a stream. */
struct mc_sdp_endpoint {
    struct mc_sdp_addr addr;
    uint16_t port, rtcp_port;
    uint8_t media;                   /* index in mc_sdp.media[] */
};

/*
 * Parses the SDP text p[0..n) (borrowed) into *s (OUT).  Lines end with
 * CRLF or LF; unknown and bad lines are counted and skipped.  Returns 0, or
 * -1 when the text is not SDP (it does not start with "v="; counted).
 */
int mc_sdp_parse(const uint8_t *p, size_t n, struct mc_sdp *s);

/*
 * Finds the session description of a SIP body: the body itself when ctype
 * (the Content-Type value, borrowed, may be empty) is application/sdp, or
 * empty and the body starts with "v=0"; the first application/sdp part of a
 * multipart body (nested at most MC_SDP_MAX_DEPTH deep, MC_SDP_MAX_PARTS
 * parts each).  Returns 1 with *s filled, 0 when there is none.
 */
int mc_sdp_parse_body(const uint8_t *ctype, size_t ctype_n, const uint8_t *body, size_t n, struct mc_sdp *s);

/*
 * The RTP endpoints s announces (media with an RTP profile, a non-zero port
 * and an address), at most max of them, into out (OUT).  Returns how many.
 */
size_t mc_sdp_endpoints(const struct mc_sdp *s, struct mc_sdp_endpoint *out, size_t max);

/*
 * Summary texts (the SIP analyzer's sipSdpMedia and sipCodecs), written to
 * out (at most cap - 1 bytes and a NUL) as comma-separated whole items: the
 * list stops at the first item that does not fit (*cut set).  Media:
 * "audio 6010 RTP/AVP 8 96" per kept description; codecs: "PCMA/8000" per
 * kept format (the token alone when no clock is known).  Return the length.
 */
size_t mc_sdp_media_text(const struct mc_sdp *s, char *out, size_t cap, int *cut);
size_t mc_sdp_codecs_text(const struct mc_sdp *s, char *out, size_t cap, int *cut);

/* Text of an address (dotted quad, RFC 5952), "" when ver is 0; returns its length. */
size_t mc_sdp_addr_text(const struct mc_sdp_addr *a, char *out, size_t cap);

#define MC_L7_SDP_CTRS(X, S)                                                  \
    X(S, bodies, "l7.sip.sdp.bodies")                                         \
    X(S, not_sdp, "l7.sip.sdp.not_sdp")                                       \
    X(S, bad_line, "l7.sip.sdp.bad_line")                                     \
    X(S, bad_connection, "l7.sip.sdp.bad_connection")                         \
    X(S, connection_not_address, "l7.sip.sdp.connection_not_address")       \
    X(S, bad_media, "l7.sip.sdp.bad_media")                                   \
    X(S, bad_rtpmap, "l7.sip.sdp.bad_rtpmap")                                 \
    X(S, too_many_media, "l7.sip.sdp.too_many_media")                         \
    X(S, too_many_formats, "l7.sip.sdp.too_many_formats")                     \
    X(S, multipart, "l7.sip.sdp.multipart")                                   \
    X(S, multipart_no_boundary, "l7.sip.sdp.multipart_no_boundary")           \
    X(S, multipart_too_deep, "l7.sip.sdp.multipart_too_deep")                 \
    X(S, multipart_too_many_parts, "l7.sip.sdp.multipart_too_many_parts")     \
    X(S, multipart_no_sdp, "l7.sip.sdp.multipart_no_sdp")
MC_CTR_DECLARE(l7_sdp, MC_L7_SDP_CTRS)

#endif /* MC_L7_SDP_H */
