/*
 * fuzz_l7_http.c - libFuzzer target for the HTTP/1.x analyzer.  Input: one
 * mode byte (bit 0: a port detect() must recognise instead of 80; bit 1: no
 * handshake and the server's packet first, so the roles must be found from
 * the start lines), then records of a 2-byte header (bit 15: the server's
 * direction, bit 14: a 7-byte hole before it, low 14 bits: length) and that
 * many payload bytes.  Each record goes to the start-line parsers and
 * detect() alone (as an exact-size copy), then through the real L7 stage
 * and flow table as one TCP segment; the flow ends (pending requests, cut
 * bodies) at the end and every field getter is checked.  Replayed under
 * CTest by replay_main.c over fuzz/corpus/l7_http/ (seeds from
 * scripts/gen-l7-seeds-http.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/http.h"
#include "l7/l7.h"
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The first line of b through the pure parsers: slices must stay inside it. */
static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    (void)dir;
    const uint8_t *lf = memchr(b, '\n', n);
    size_t len = lf ? (size_t)(lf - b) : n;
    struct mc_http_str m, t, v, r;
    unsigned st = 0;
    for (int strict = 0; strict < 2; strict++)
        if (mc_http_parse_request_line(b, len, strict, &m, &t, &v) &&
            (m.p < b || m.p + m.n > b + len || t.p + t.n > b + len || v.p + v.n > b + len || m.n == 0))
            abort();
    if (mc_http_parse_status_line(b, len, &v, &st, &r) &&
        (st < 100 || st > 999 || v.p + v.n > b + len || r.p + r.n > b + len))
        abort();
    uint64_t cl;
    (void)mc_http_parse_content_length(b, len, &cl);
    (void)mc_l7_http.detect(b, n, 0);
    (void)mc_l7_http.detect(b, n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct l7_fuzz z = { .a = &mc_l7_http, .proto = 6 };
    z.port = (data[0] & 1) ? 31600 : 80;                        /* else detect() must find it */
    z.open = (data[0] & 2) ? L7F_NO_HANDSHAKE : L7F_HANDSHAKE; /* the server's packet first: roles from start lines */
    mc_l7_config_defaults(&z.cfg);
    z.cfg.max_buffer = 8192; /* small, so the collector's cap is reached */
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
