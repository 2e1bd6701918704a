/*
 * http.h - the HTTP/1.x analyzer (http.c): its descriptor, its limits and
 * the pure start-line parsers the unit tests and the fuzz target call
 * directly.  See docs/internals/analyzers-http.md.
 */
#ifndef MC_L7_HTTP_H
#define MC_L7_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "l7/l7.h"

#define MC_HTTP_MAX_PENDING 8       /* requests awaiting their response, per flow */
#define MC_HTTP_MAX_LINE 16384      /* one start or header line; longer ones are skipped */
#define MC_HTTP_MAX_HEADER 32768    /* one header block; past it values are no longer kept */
#define MC_HTTP_MAX_CHUNK_EXT 1024  /* chunk-size line after the size (extensions) */
#define MC_HTTP_MAX_CHUNK (1ull << 40) /* larger chunk sizes are lies: the direction stops */
#define MC_HTTP_AGG_TTL_MS 3600000u /* http.host.<host> lives an hour after its last update */

/* A borrowed byte slice of a message (not NUL-terminated). */
struct mc_http_str {
    const uint8_t *p;
    size_t n;
};

/*
 * Parses a request line (without its CR LF) into method, target and version
 * (OUT, slices of line).  Lenient like Wireshark: "METHOD target", and a
 * lone upper-case method, are requests with an empty version.  strict (used
 * to resynchronise after lost bytes) wants "METHOD target HTTP/1.x".
 * Returns 1 for a request line, 0 otherwise.
 */
int mc_http_parse_request_line(const uint8_t *line, size_t n, int strict, struct mc_http_str *method,
                               struct mc_http_str *target, struct mc_http_str *version);

/*
 * Parses a status line "HTTP/x.y NNN [reason]" (without CR LF).  Returns 1
 * and sets version, *status and reason (OUT), else 0.
 */
int mc_http_parse_status_line(const uint8_t *line, size_t n, struct mc_http_str *version, unsigned *status,
                              struct mc_http_str *reason);

/*
 * A Content-Length value: digits, or a comma list of equal values (RFC 9110
 * 8.6).  Returns 1 and *v, or 0 when invalid, negative or beyond 10^18.
 */
int mc_http_parse_content_length(const uint8_t *p, size_t n, uint64_t *v);

extern const struct mc_l7_analyzer mc_l7_http;

#define MC_L7_HTTP_CTRS(X, S)                                                 \
    X(S, requests, "l7.http.requests")                                        \
    X(S, responses, "l7.http.responses")                                      \
    X(S, interim, "l7.http.interim")                                          \
    X(S, unanswered, "l7.http.unanswered")                                    \
    X(S, unmatched_response, "l7.http.unmatched_response")                    \
    X(S, incomplete, "l7.http.incomplete")                                    \
    X(S, bad_request_line, "l7.http.bad_request_line")                        \
    X(S, bad_status_line, "l7.http.bad_status_line")                          \
    X(S, bad_header, "l7.http.bad_header")                                    \
    X(S, obs_fold, "l7.http.obs_fold")                                        \
    X(S, line_too_long, "l7.http.line_too_long")                              \
    X(S, header_too_large, "l7.http.header_too_large")                        \
    X(S, bad_content_length, "l7.http.bad_content_length")                    \
    X(S, bad_transfer_encoding, "l7.http.bad_transfer_encoding")              \
    X(S, bad_chunk_size, "l7.http.bad_chunk_size")                            \
    X(S, chunk_too_large, "l7.http.chunk_too_large")                          \
    X(S, chunk_ext_too_long, "l7.http.chunk_ext_too_long")                    \
    X(S, bad_chunk_end, "l7.http.bad_chunk_end")                              \
    X(S, pipeline_overflow, "l7.http.pipeline_overflow")                      \
    X(S, gap_in_body, "l7.http.gap_in_body")                                  \
    X(S, gap_lost, "l7.http.gap_lost")                                        \
    X(S, resynced, "l7.http.resynced")                                        \
    X(S, roles_swapped, "l7.http.roles_swapped")                              \
    X(S, upgrade, "l7.http.upgrade")                                          \
    X(S, tunnel, "l7.http.tunnel")                                            \
    X(S, truncated, "l7.http.truncated")                                      \
    X(S, alloc_failed, "l7.http.alloc_failed")                                \
    X(S, agg_refused, "l7.http.agg_refused")                                  \
    X(S, agg_bad_host, "l7.http.agg_bad_host")
MC_CTR_DECLARE(l7_http, MC_L7_HTTP_CTRS)

#endif /* MC_L7_HTTP_H */
