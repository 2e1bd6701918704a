/*
 * dns.h - the DNS analyzer's pure message parser (no flow state, no output),
 * what the unit tests and the fuzz target call directly.  The analyzer
 * itself is mc_l7_dns (dns.c); see docs/internals/analyzers-dns.md.
 */
#ifndef MC_L7_DNS_H
#define MC_L7_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "l7/l7.h"

#define MC_DNS_NAME_MAX 255    /* text bytes of a name kept (longer text is cut) */
#define MC_DNS_ANSWERS_MAX 512 /* text bytes of dnsAnswers: whole items only */
#define MC_DNS_ADDRS 8         /* A/AAAA answers kept for passive DNS */
#define MC_DNS_MAX_HOPS 32     /* compression pointers followed per name */

/* One DNS message as the analyzer uses it. */
struct mc_dns_msg {
    uint16_t id, flags;
    uint16_t qdcount, ancount, nscount, arcount; /* as the header says (may lie) */
    uint8_t qr, opcode, rcode;                   /* rcode: the header's 4 bits */
    uint16_t qtype, qclass;                      /* of the first question */
    uint16_t qname_len;
    char qname[MC_DNS_NAME_MAX + 1];             /* text, NUL-terminated; "<Root>" for the root */
    uint16_t answers_parsed;                     /* answer RRs actually read (<= ancount) */
    uint8_t has_ttl;                             /* min_ttl is set (an answer RR was read) */
    uint32_t min_ttl;                            /* smallest TTL of the answer section */
    uint16_t answers_len;
    char answers[MC_DNS_ANSWERS_MAX + 1];        /* A, AAAA, CNAME, PTR, MX rdata text, comma-separated */
    uint8_t n_addr;                              /* A/AAAA answers in addr[] */
    struct {
        uint8_t ver;                             /* 4 or 6 */
        uint8_t b[16];
    } addr[MC_DNS_ADDRS];
};

enum mc_dns_status {
    MC_DNS_OK = 0,      /* header, question and every answer read */
    MC_DNS_PARTIAL = 1, /* header and question read; the answer section stops early (counted) */
    MC_DNS_BAD = -1     /* not usable (truncated header, no question, bad name...; counted) */
};

/*
 * Parses one DNS message p[0..n) (borrowed) into *m (OUT).  Every defect is
 * counted under l7.dns.<reason>.  Returns enum mc_dns_status.
 */
int mc_l7_dns_parse(const uint8_t *p, size_t n, struct mc_dns_msg *m);

/*
 * Reads the (possibly compressed) name at offset off of the message msg[0..n)
 * into text (NUL-terminated, at most cap - 1 bytes, cut beyond).  *next gets
 * the offset just after the name where it starts (after its first pointer).
 * Returns the text length, or -1 for a bad name (counted: pointer_forward,
 * pointer_loop, too_many_pointers, bad_label_type, name_too_long,
 * name_truncated).
 */
long mc_l7_dns_name(const uint8_t *msg, size_t n, size_t off, char *text, size_t cap, size_t *next);

/* The cheap attach check (also the analyzer's detect()): a sane query or response header. */
int mc_l7_dns_detect(const uint8_t *p, size_t n, int dir);

extern const struct mc_l7_analyzer mc_l7_dns;

#define MC_L7_DNS_CTRS(X, S)                                                 \
    X(S, messages, "l7.dns.messages")                                        \
    X(S, queries, "l7.dns.queries")                                          \
    X(S, responses, "l7.dns.responses")                                      \
    X(S, too_short, "l7.dns.too_short")                                      \
    X(S, opcode_other, "l7.dns.opcode_other")                                \
    X(S, no_question, "l7.dns.no_question")                                  \
    X(S, extra_questions, "l7.dns.extra_questions")                          \
    X(S, name_truncated, "l7.dns.name_truncated")                            \
    X(S, pointer_forward, "l7.dns.pointer_forward")                          \
    X(S, pointer_loop, "l7.dns.pointer_loop")                                \
    X(S, too_many_pointers, "l7.dns.too_many_pointers")                      \
    X(S, bad_label_type, "l7.dns.bad_label_type")                            \
    X(S, name_too_long, "l7.dns.name_too_long")                              \
    X(S, question_truncated, "l7.dns.question_truncated")                    \
    X(S, answers_truncated, "l7.dns.answers_truncated")                      \
    X(S, bad_rdata, "l7.dns.bad_rdata")                                      \
    X(S, answers_text_full, "l7.dns.answers_text_full")                      \
    X(S, query_retransmitted, "l7.dns.query_retransmitted")                  \
    X(S, response_without_query, "l7.dns.response_without_query")            \
    X(S, query_unanswered, "l7.dns.query_unanswered")                        \
    X(S, pending_evicted, "l7.dns.pending_evicted")                          \
    X(S, pending_alloc_failed, "l7.dns.pending_alloc_failed")                \
    X(S, first_alloc_failed, "l7.dns.first_alloc_failed")                    \
    X(S, tcp_zero_length, "l7.dns.tcp.zero_length")                          \
    X(S, tcp_short_length, "l7.dns.tcp.short_length")                        \
    X(S, tcp_skipped, "l7.dns.tcp.skipped")                                  \
    X(S, tcp_partial_at_end, "l7.dns.tcp.partial_at_end")                    \
    X(S, tcp_gap_desync, "l7.dns.tcp.gap_desync")                            \
    X(S, link_local_ignored, "l7.dns.link_local_ignored")
MC_CTR_DECLARE(l7_dns, MC_L7_DNS_CTRS)

#endif /* MC_L7_DNS_H */
