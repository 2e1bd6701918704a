/*
 * fuzz_decode.c - libFuzzer target for the whole packet decoder: the first
 * input byte picks the link type among the supported DLTs, the rest is the
 * frame handed to mc_decode_packet().  Replayed under CTest by replay_main.c
 * over fuzz/corpus/decode/ (seeds from scripts/gen-fuzz-seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

/* Keep in step with DLTS in scripts/gen-fuzz-seeds.py. */
static const int dlts[] = { 1, 113, 276, 0, 108, 12, 14, 101, 228, 229 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.linktype = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
    size_t n = size - 1;
    /* exact-size copy so a read one past the frame trips ASan */
    uint8_t *frame = malloc(n ? n : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, n);
    pkt.caplen = pkt.wirelen = (uint32_t)n;
    int r = mc_decode_packet(&pkt, frame, n);
    if (r != MC_DECODED_IP && r != MC_DECODED_NON_IP && r != MC_DECODED_BAD)
        abort();
    if (r == MC_DECODED_IP && pkt.ip_ver != 4 && pkt.ip_ver != 6)
        abort();
    if (pkt.payload && (pkt.payload < frame || pkt.payload + pkt.payload_len > frame + n))
        abort();
    if (pkt.depth > MC_DECODE_MAX_DEPTH + MC_MAX_MPLS)
        abort();
    free(frame);
    return 0;
}
