/*
 * sip.h - the SIP analyzer (sip.c): its descriptor, its limits, and the
 * pure message parser and header helpers the unit tests and the fuzz target
 * call directly.  See docs/internals/analyzers-sip.md.
 */
#ifndef MC_L7_SIP_H
#define MC_L7_SIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "l7/l7.h"
#include "l7/sdp.h"

#define MC_SIP_MAX_HEADER 16384          /* start line + headers of one message over TCP; longer is lost */
#define MC_SIP_MAX_BODY 16384            /* body bytes kept for SDP over TCP; longer bodies are skipped */
#define MC_SIP_MAX_CONTENT_LENGTH (1u << 24) /* larger Content-Length values are lies (framing lost) */
#define MC_SIP_MAX_HEADERS 256           /* header fields read per message; the rest are counted, not read */

/* A borrowed slice of a message (not NUL-terminated; may hold folded lines). */
struct mc_sip_str {
    const uint8_t *p;
    size_t n;
};

/* One SIP message as the analyzer uses it: slices of the message's bytes. */
struct mc_sip_msg {
    uint8_t request;             /* 1 request, 0 response */
    struct mc_sip_str method;    /* request: Method */
    struct mc_sip_str uri;       /* request: Request-URI */
    uint16_t status;             /* response: Status-Code (100-699) */
    struct mc_sip_str reason;    /* response: Reason-Phrase */
    /* first occurrence of each header (long or compact form), value as sent (OWS trimmed) */
    struct mc_sip_str call_id, from, to, contact, via, user_agent, cseq, expires, ctype;
    int64_t content_length;      /* -1: no Content-Length header */
    uint8_t bad_content_length;  /* a Content-Length that is not a number, or conflicting ones */
    uint8_t unterminated;        /* the header block has no empty line (a datagram cut short) */
    uint8_t body_cut;            /* fewer body bytes than Content-Length said */
    uint16_t n_headers;          /* header fields read */
    size_t hdr_len;              /* start line + headers + the empty line */
    struct mc_sip_str body;      /* min(Content-Length, what follows the headers); all of it without one */
};

enum mc_sip_status {
    MC_SIP_OK = 0,   /* start line, headers and the whole body */
    MC_SIP_BAD = -1  /* no SIP start line: not a SIP message (counted) */
};

/*
 * Parses one message p[0..n) (borrowed) into *m (OUT): the start line, the
 * headers (compact forms and folded lines included), and the body that
 * follows (Content-Length bytes; without the header, the rest, as RFC 3261
 * 18.3 allows over UDP).  Header defects are counted under l7.sip.<reason>;
 * the framing ones are flags of *m for the caller to count.  Returns enum
 * mc_sip_status.
 */
int mc_sip_parse(const uint8_t *p, size_t n, struct mc_sip_msg *m);

/*
 * The Content-Length of a header block h[0..n) (start line and headers):
 * 1 with *cl, 0 when there is none, -1 when it is not a number below
 * MC_SIP_MAX_CONTENT_LENGTH or two disagree.  What TCP framing needs before
 * the body is there.
 */
int mc_sip_content_length(const uint8_t *h, size_t n, uint32_t *cl);

/* 1 when a line (without its CR LF) is a SIP request or status line. */
int mc_sip_is_start_line(const uint8_t *line, size_t n);

/*
 * Header value helpers (values as the parser gives them; folding is
 * whitespace to them).  mc_sip_first_value: the first of a comma-separated
 * list (commas inside quotes and <> do not count).  mc_sip_uri: the URI of
 * a name-addr ("Bob" <sip:b@x>;tag=1 -> sip:b@x) or addr-spec
 * (sip:b@x;tag=1 -> sip:b@x).  mc_sip_param: the value of the header
 * parameter name (lower-case; after the URI) or an empty slice with p NULL
 * when absent.
 */
struct mc_sip_str mc_sip_first_value(struct mc_sip_str v);
struct mc_sip_str mc_sip_uri(struct mc_sip_str v);
struct mc_sip_str mc_sip_param(struct mc_sip_str v, const char *name);

/*
 * Copies v into dst (at most cap - 1 bytes and a NUL), each run of
 * whitespace that holds a line break (a folded line) becoming one space
 * (RFC 3261 7.3.1).  *cut is set when v did not fit.  Returns the length.
 */
size_t mc_sip_unfold(char *dst, size_t cap, struct mc_sip_str v, int *cut);

extern const struct mc_l7_analyzer mc_l7_sip;

#define MC_L7_SIP_CTRS(X, S)                                                  \
    X(S, messages, "l7.sip.messages")                                         \
    X(S, requests, "l7.sip.requests")                                         \
    X(S, responses, "l7.sip.responses")                                       \
    X(S, method_other, "l7.sip.method_other")                                 \
    X(S, keepalives, "l7.sip.keepalives")                                     \
    X(S, not_sip, "l7.sip.not_sip")                                           \
    X(S, bad_header, "l7.sip.bad_header")                                     \
    X(S, folded, "l7.sip.folded")                                             \
    X(S, too_many_headers, "l7.sip.too_many_headers")                         \
    X(S, bad_cseq, "l7.sip.bad_cseq")                                         \
    X(S, bad_expires, "l7.sip.bad_expires")                                   \
    X(S, no_call_id, "l7.sip.no_call_id")                                     \
    X(S, unterminated, "l7.sip.unterminated")                                 \
    X(S, bad_content_length, "l7.sip.bad_content_length")                     \
    X(S, body_truncated, "l7.sip.body_truncated")                             \
    X(S, body_not_kept, "l7.sip.body_not_kept")                               \
    X(S, udp_trailing, "l7.sip.udp_trailing")                                 \
    X(S, sdp, "l7.sip.sdp_bodies")                                            \
    X(S, truncated, "l7.sip.truncated")                                       \
    X(S, header_too_large, "l7.sip.tcp.header_too_large")                     \
    X(S, tcp_no_content_length, "l7.sip.tcp.no_content_length")               \
    X(S, gap_in_body, "l7.sip.tcp.gap_in_body")                               \
    X(S, gap_lost, "l7.sip.tcp.gap_lost")                                     \
    X(S, resynced, "l7.sip.tcp.resynced")                                     \
    X(S, skipped_lost, "l7.sip.tcp.skipped_lost")                             \
    X(S, incomplete, "l7.sip.tcp.incomplete")                                 \
    X(S, alloc_failed, "l7.sip.alloc_failed")
MC_CTR_DECLARE(l7_sip, MC_L7_SIP_CTRS)

#endif /* MC_L7_SIP_H */
