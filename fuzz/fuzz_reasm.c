/*
 * fuzz_reasm.c - libFuzzer target for fragment reassembly: the input is a
 * script of frames, decoded in a row by mc_decode_packet() with a small
 * reassembler (8 datagrams, 128 KiB, 1 s), so caps, timeouts and nesting are
 * all reached.  Replayed under CTest by replay_main.c over fuzz/corpus/reasm/
 * (seeds from scripts/gen-reasm-seeds.py, which documents the format).
 *
 * Input: one byte of link type choice, then records:
 *   0xff, len(be16), bytes          a raw frame as is
 *   flags, dt, off(be16), len(be16), bytes
 *       a raw-IP fragment built around `bytes`: flags bit 0 IPv6, bit 1 more
 *       fragments, bit 2 IPv6 hop-by-hop header first, bit 3 cut the frame by
 *       5 octets, bits 4-5 source, bits 6-7 identification; dt advances the
 *       clock by dt * 20 ms; off is in 8-octet units.
 * Checks: caps hold; only a frame that touched the reassembler gives datagrams
 * up; and conservation: every IP frame is metered exactly once, by its own
 * packet, a reassembled one or a given-up datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t metered;

static void on_release(void *ctx, const struct mc_pkt *pkt)
{
    (void)ctx;
    if (pkt->payload || pkt->l3 || pkt->held)
        abort();
    metered += pkt->frag_frames ? pkt->frag_frames : 1;
}

static size_t build(uint8_t *f, uint8_t flags, unsigned off, const uint8_t *b, size_t n)
{
    size_t o = 0;
    uint8_t src = (uint8_t)((flags >> 4) & 3), id = (uint8_t)(flags >> 6);
    if (!(flags & 1)) {
        size_t total = 20 + n;
        uint8_t h[20] = { 0x45, 0, (uint8_t)(total >> 8), (uint8_t)total, 0, id,
                          (uint8_t)(((flags & 2) ? 0x20 : 0) | ((off >> 8) & 0x1f)), (uint8_t)off, 64, 17, 0, 0,
                          10, 0, 0, src, 10, 0, 0, 254 };
        memcpy(f, h, 20);
        o = 20;
    } else {
        int hbh = (flags & 4) != 0;
        size_t plen = n + 8 + (hbh ? 8 : 0);
        uint8_t h[40] = { 0x60, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, hbh ? 0 : 44, 64 };
        h[8] = 0x20, h[23] = src, h[24] = 0x20, h[39] = 2;
        memcpy(f, h, 40);
        o = 40;
        if (hbh) {
            static const uint8_t hb[8] = { 44, 0, 1, 4, 0, 0, 0, 0 };
            memcpy(f + o, hb, 8);
            o += 8;
        }
        uint16_t om = (uint16_t)((off & 0x1fff) << 3 | ((flags & 2) ? 1 : 0));
        uint8_t fh[8] = { 17, 0, (uint8_t)(om >> 8), (uint8_t)om, 0, 0, 0, id };
        memcpy(f + o, fh, 8);
        o += 8;
    }
    memcpy(f + o, b, n);
    o += n;
    if ((flags & 8) && o > 45)
        o -= 5;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int dlts[] = { 101, 1, 113, 276 };
    int dlt = dlts[data[0] % 4];
    struct mc_reasm_config cfg = { .timeout_ms = 1000, .max_datagrams = 8, .max_bytes = MC_REASM_MIN_BYTES };
    struct mc_reasm *r = mc_reasm_new(&cfg);
    if (!r)
        return 0;
    metered = 0;
    uint64_t ip_frames = 0, ts = 1;
    size_t i = 1;
    uint8_t *frame = malloc(70000);
    if (!frame)
        abort();
    while (i < size) {
        uint8_t flags = data[i++];
        size_t n, len;
        if (flags == 0xff) {
            if (size - i < 2)
                break;
            len = (size_t)data[i] << 8 | data[i + 1];
            i += 2;
            n = len < size - i ? len : size - i;
            memcpy(frame, data + i, n);
            i += n;
        } else {
            if (size - i < 5)
                break;
            ts += (uint64_t)data[i] * 20;
            unsigned off = (unsigned)data[i + 1] << 8 | data[i + 2];
            len = (size_t)data[i + 3] << 8 | data[i + 4];
            i += 5;
            if (len > 4096)
                len = 4096;
            size_t avail = len < size - i ? len : size - i;
            n = build(frame, flags, off, data + i, avail);
            i += avail;
        }
        /* exact-size copy: a read one past the frame trips ASan */
        uint8_t *exact = malloc(n ? n : 1);
        if (!exact)
            abort();
        memcpy(exact, frame, n);
        struct mc_pkt pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.ts_ms = ts;
        pkt.caplen = pkt.wirelen = (uint32_t)n;
        pkt.linktype = flags == 0xff ? dlt : 101;
        pkt.reasm = r;
        int res = mc_decode_packet(&pkt, exact, n);
        if (res == MC_DECODED_IP) {
            ip_frames++;
            if (!pkt.held)
                metered += pkt.frag_frames ? pkt.frag_frames : 1;
            if (pkt.payload_len && !pkt.payload)
                abort();
        } else if (pkt.held) {
            abort();
        }
        free(exact);
        int touched = mc_reasm_touched(&pkt);
        if (mc_reasm_drain(r, on_release, NULL) && !touched)
            abort(); /* the probe drains only after frames that touched the reassembler */
        if (mc_reasm_pending(r) > cfg.max_datagrams || mc_reasm_bytes(r) > cfg.max_bytes)
            abort();
    }
    mc_reasm_expire(r, ts + 500);
    mc_reasm_flush(r);
    mc_reasm_drain(r, on_release, NULL);
    if (metered != ip_frames || mc_reasm_bytes(r) != 0 || mc_reasm_pending(r) != 0)
        abort();
    mc_reasm_free(r);
    free(frame);
    return 0;
}
