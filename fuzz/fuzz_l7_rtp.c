/*
 * fuzz_l7_rtp.c - libFuzzer target for the RTP/RTCP analyzer.  Input: one
 * mode byte (bit 0: RTCP's port 5005 instead of RTP's 5004; neither attaches
 * by port: detect() does), then records of a 2-byte header (bit 15: the
 * server's direction, low 14 bits: length) and that many bytes, each one
 * UDP datagram.  Each record goes first, as an exact-size copy, to the pure
 * parsers (mc_rtp_parse: the payload must lie inside the datagram;
 * mc_rtcp_parse: at most MC_RTCP_MAX_BLOCKS blocks kept; detect()), then
 * through the real L7 stage and flow table; at the end every field getter
 * is checked.  Replayed under CTest by replay_main.c over
 * fuzz/corpus/l7_rtp/ (seeds from scripts/gen-l7-seeds-rtp.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/l7.h"
#include "l7/rtp.h"
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    struct mc_rtp_hdr h;
    if (mc_rtp_parse(b, n, &h) == MC_RTP_OK &&
        (h.payload_off < 12 || h.payload_off > n || h.payload_len > n - h.payload_off))
        abort();
    struct mc_rtcp_info r;
    (void)mc_rtcp_parse(b, n, &r);
    if (r.n_blocks > MC_RTCP_MAX_BLOCKS || r.n_blocks > r.blocks_total)
        abort();
    (void)mc_l7_rtp.detect(b, n, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct l7_fuzz z = { .a = &mc_l7_rtp };
    z.proto = 17;
    z.port = (data[0] & 1) ? 5005 : 5004;
    mc_l7_config_defaults(&z.cfg);
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
