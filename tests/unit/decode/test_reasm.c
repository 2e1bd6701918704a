/*
 * test_reasm.c - IPv4/IPv6 fragment reassembly: in order and out of order,
 * the datagram handed on (header fixed, whole payload, every frame counted),
 * the overlap policy, every refusal counted, timeouts and both caps giving
 * datagrams up with their frames, keys that keep tunnels and VLANs apart.
 * Frames go through mc_decode_packet() as raw IP (or Ethernet) in exact-size
 * heap copies, so ASan sees any read outside them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/counters.h"
#include "decode/decode.h"
#include "decode/reasm.h"

#define DLT_RAW 101
#define DLT_EN10MB 1

static uint64_t ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    if (!v)
        fail_msg("unknown counter %s", name);
    return *v;
}

/* ---- frame building -------------------------------------------------------- */

struct fb {
    uint8_t b[70000];
    size_t n;
};

static void put(struct fb *f, const void *p, size_t n)
{
    assert_true(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void u8(struct fb *f, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(f, &x, 1);
}
static void be16(struct fb *f, unsigned v)
{
    u8(f, v >> 8);
    u8(f, v & 0xff);
}
static void be32(struct fb *f, uint32_t v)
{
    be16(f, v >> 16);
    be16(f, v & 0xffff);
}

/* A UDP datagram (header + n pattern octets) to be cut into fragments. */
static size_t udp_dgram(uint8_t *out, unsigned sport, unsigned dport, size_t n)
{
    out[0] = (uint8_t)(sport >> 8);
    out[1] = (uint8_t)sport;
    out[2] = (uint8_t)(dport >> 8);
    out[3] = (uint8_t)dport;
    out[4] = (uint8_t)((n + 8) >> 8);
    out[5] = (uint8_t)(n + 8);
    out[6] = out[7] = 0;
    for (size_t i = 0; i < n; i++)
        out[8 + i] = (uint8_t)(i * 7 + 3);
    return n + 8;
}

/* IPv4 fragment: 20-octet header, data[off, off+len) of the datagram. */
static void v4frag(struct fb *f, unsigned id, unsigned proto, unsigned off, int more, const uint8_t *data,
                   size_t len, uint8_t src_last)
{
    u8(f, 0x45);
    u8(f, 0);
    be16(f, (unsigned)(20 + len));
    be16(f, id);
    be16(f, (more ? 0x2000 : 0) | (off / 8));
    u8(f, 64);
    u8(f, proto);
    be16(f, 0);
    be32(f, 0x0a000000u | src_last);
    be32(f, 0x0a0000feu);
    put(f, data, len);
}

/* IPv6 fragment, optionally after a hop-by-hop header (unfragmentable part). */
static void v6frag(struct fb *f, uint32_t id, unsigned next, unsigned off, int more, const uint8_t *data, size_t len,
                   int hbh)
{
    be32(f, 0x60000000u);
    be16(f, (unsigned)(len + 8 + (hbh ? 8 : 0)));
    u8(f, hbh ? 0 : 44);
    u8(f, 64);
    uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    a[15] = 1;
    put(f, a, 16);
    a[15] = 2;
    put(f, a, 16);
    if (hbh) {
        static const uint8_t h[8] = { 44, 0, 1, 4, 0, 0, 0, 0 }; /* next: fragment; PadN */
        put(f, h, 8);
    }
    u8(f, next);
    u8(f, 0);
    be16(f, (off / 8) << 3 | (more ? 1 : 0));
    be32(f, id);
    put(f, data, len);
}

/* ---- running frames ----------------------------------------------------------- */

static struct mc_pkt released[64];
static int n_released;

static void on_release(void *ctx, const struct mc_pkt *pkt)
{
    (void)ctx;
    assert_true(n_released < 64);
    released[n_released++] = *pkt;
}

static int decode(struct mc_reasm *r, struct mc_pkt *pkt, int dlt, const struct fb *f, uint64_t ts)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->linktype = dlt;
    pkt->ts_ms = ts;
    pkt->caplen = pkt->wirelen = (uint32_t)f->n;
    pkt->reasm = r;
    uint8_t *copy = malloc(f->n);
    assert_non_null(copy);
    memcpy(copy, f->b, f->n);
    int res = mc_decode_packet(pkt, copy, f->n);
    /* what points into the frame dies with it; the reassembled datagram stays in r */
    if (!(pkt->l3 && pkt->frag_frames)) {
        pkt->payload = pkt->l3 = NULL;
        pkt->payload_len = pkt->l3_len = 0;
    }
    free(copy);
    return res;
}

static struct mc_reasm *new_reasm(uint32_t timeout_ms, uint32_t max_dgrams, size_t max_bytes)
{
    struct mc_reasm_config cfg;
    mc_reasm_config_defaults(&cfg);
    if (timeout_ms)
        cfg.timeout_ms = timeout_ms;
    if (max_dgrams)
        cfg.max_datagrams = max_dgrams;
    if (max_bytes)
        cfg.max_bytes = max_bytes;
    struct mc_reasm *r = mc_reasm_new(&cfg);
    assert_non_null(r);
    n_released = 0;
    return r;
}

/* Sends fragment i of a v4 datagram cut every `step` octets; returns the decode result. */
static int send_v4(struct mc_reasm *r, struct mc_pkt *pkt, const uint8_t *dg, size_t dlen, size_t off, size_t len,
                   unsigned id, uint64_t ts)
{
    struct fb f = { .n = 0 };
    v4frag(&f, id, 17, (unsigned)off, off + len < dlen, dg + off, len, 1);
    return decode(r, pkt, DLT_RAW, &f, ts);
}

static uint16_t sum16(const uint8_t *h, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)h[i] << 8 | h[i + 1];
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* ---- tests ------------------------------------------------------------------------ */

static void check_v4_done(const struct mc_pkt *pkt, const uint8_t *dg, size_t dlen, uint32_t frames, uint32_t octets)
{
    assert_int_equal(pkt->held, 0);
    assert_int_equal(pkt->frag_frames, frames);
    assert_int_equal(pkt->ip_len, octets);
    assert_int_equal(pkt->frag, 0);
    assert_int_equal(pkt->proto, 17);
    assert_int_equal(pkt->sport, 1000);
    assert_int_equal(pkt->dport, 53);
    assert_int_equal(pkt->l3_len, 20 + dlen);
    /* the header: total length of the whole, no fragment fields, a valid checksum */
    assert_int_equal(pkt->l3[2] << 8 | pkt->l3[3], 20 + dlen);
    assert_int_equal(pkt->l3[6] & 0x3f, 0);
    assert_int_equal(pkt->l3[7], 0);
    assert_int_equal(sum16(pkt->l3, 20), 0xffff);
    assert_memory_equal(pkt->l3 + 20, dg, dlen);
    assert_int_equal(pkt->payload_len, dlen - 8);
    assert_memory_equal(pkt->payload, dg + 8, dlen - 8);
}

static void test_v4_in_order(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2500);
    struct mc_pkt pkt;
    uint64_t done = ctr("decode.reasm.completed");
    assert_int_equal(send_v4(r, &pkt, dg, dlen, 0, 1480, 7, 1000), MC_DECODED_IP);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(pkt.sport, 0); /* held at the IP layer */
    assert_int_equal(send_v4(r, &pkt, dg, dlen, 1480, 1000, 7, 1001), MC_DECODED_IP);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(mc_reasm_pending(r), 1);
    assert_int_equal(send_v4(r, &pkt, dg, dlen, 2480, dlen - 2480, 7, 1002), MC_DECODED_IP);
    check_v4_done(&pkt, dg, dlen, 3, (20 + 1480) + (20 + 1000) + (20 + (uint32_t)dlen - 2480));
    assert_int_equal(ctr("decode.reasm.completed"), done + 1);
    assert_int_equal(mc_reasm_pending(r), 0);
    assert_int_equal(mc_reasm_bytes(r), 0);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 0);
    mc_reasm_free(r);
}

static void test_v4_out_of_order(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2000);
    struct mc_pkt pkt;
    /* last, first, middle: the header comes from the offset-0 fragment whichever completes */
    send_v4(r, &pkt, dg, dlen, 1600, dlen - 1600, 9, 10);
    assert_int_equal(pkt.held, 1);
    send_v4(r, &pkt, dg, dlen, 0, 800, 9, 11);
    assert_int_equal(pkt.held, 1);
    send_v4(r, &pkt, dg, dlen, 800, 800, 9, 12);
    check_v4_done(&pkt, dg, dlen, 3, 3 * 20 + (uint32_t)dlen);
    mc_reasm_free(r);
}

static void test_v6(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[2000];
    size_t dlen = udp_dgram(dg, 1000, 53, 1500);
    struct mc_pkt pkt;
    struct fb f = { .n = 0 };
    v6frag(&f, 0xabcdef01u, 17, 1232, 0, dg + 1232, dlen - 1232, 1);
    decode(r, &pkt, DLT_RAW, &f, 5);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(pkt.proto, 17);
    f.n = 0;
    v6frag(&f, 0xabcdef01u, 17, 0, 1, dg, 1232, 1);
    decode(r, &pkt, DLT_RAW, &f, 6);
    assert_int_equal(pkt.held, 0);
    assert_int_equal(pkt.frag_frames, 2);
    assert_int_equal(pkt.ip_len, (40 + 8 + 8 + 1232) + (40 + 8 + 8 + (uint32_t)dlen - 1232));
    assert_int_equal(pkt.sport, 1000);
    assert_int_equal(pkt.dport, 53);
    assert_int_equal(pkt.proto, 17);
    /* header + hop-by-hop, the fragment header removed, the chain and payload length fixed */
    assert_int_equal(pkt.l3_len, 48 + dlen);
    assert_int_equal(pkt.l3[4] << 8 | pkt.l3[5], 8 + dlen);
    assert_int_equal(pkt.l3[6], 0);  /* next: hop-by-hop, as it was */
    assert_int_equal(pkt.l3[40], 17); /* hop-by-hop's next: UDP instead of the fragment header */
    assert_memory_equal(pkt.l3 + 48, dg, dlen);
    assert_int_equal(pkt.payload_len, dlen - 8);

    /* an atomic fragment (offset 0, M clear) is a whole datagram: decoded through, nothing kept */
    f.n = 0;
    v6frag(&f, 5, 17, 0, 0, dg, 100, 0);
    decode(r, &pkt, DLT_RAW, &f, 7);
    assert_int_equal(pkt.held, 0);
    assert_int_equal(pkt.sport, 1000);
    assert_int_equal(mc_reasm_pending(r), 0);
    mc_reasm_free(r);
}

static void test_duplicates_and_overlaps(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2000);
    struct mc_pkt pkt;
    uint64_t dup = ctr("decode.reasm.duplicates"), ovl = ctr("decode.reasm.overlaps");
    send_v4(r, &pkt, dg, dlen, 0, 800, 3, 1);
    send_v4(r, &pkt, dg, dlen, 0, 800, 3, 2); /* the same frame twice (seen on two ports) */
    assert_int_equal(ctr("decode.reasm.duplicates"), dup + 1);
    send_v4(r, &pkt, dg, dlen, 400, 800, 3, 3); /* overlaps [400, 800) with the same bytes */
    assert_int_equal(ctr("decode.reasm.overlaps"), ovl + 1);
    assert_int_equal(pkt.held, 1);
    send_v4(r, &pkt, dg, dlen, 1200, dlen - 1200, 3, 4);
    /* every frame is counted, the duplicate too, as it would be unfragmented */
    check_v4_done(&pkt, dg, dlen, 4, 20 + 800 + 20 + 800 + 20 + 800 + 20 + (uint32_t)dlen - 1200);
    mc_reasm_free(r);
}

static void test_overlap_conflict(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000], evil[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2000);
    memcpy(evil, dg, dlen);
    evil[500] ^= 0xff;
    struct mc_pkt pkt;
    uint64_t c0 = ctr("decode.reasm.overlap_conflicts"), rel = ctr("decode.reasm.released_frames");
    send_v4(r, &pkt, dg, dlen, 0, 800, 4, 1);
    send_v4(r, &pkt, evil, dlen, 400, 800, 4, 2);
    assert_int_equal(pkt.held, 1); /* held, and given up with its datagram */
    assert_int_equal(ctr("decode.reasm.overlap_conflicts"), c0 + 1);
    assert_int_equal(mc_reasm_pending(r), 0);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(n_released, 1);
    const struct mc_pkt *m = &released[0];
    assert_int_equal(m->frag_frames, 2);
    assert_int_equal(m->ip_len, 2 * 820);
    /* metered on its offset-0 fragment, ports read from the bytes held */
    assert_int_equal(m->sport, 1000);
    assert_int_equal(m->dport, 53);
    assert_int_equal(m->proto, 17);
    assert_int_equal(m->ts_ms, 2);
    assert_null(m->payload);
    assert_null(m->l3);
    assert_null(m->reasm);
    assert_int_equal(ctr("decode.reasm.released_frames"), rel + 2);
    /* a later fragment of the same datagram starts a new one, which will time out */
    send_v4(r, &pkt, dg, dlen, 1200, dlen - 1200, 4, 3);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(mc_reasm_flush(r), 1);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(released[1].frag_frames, 1);
    assert_int_equal(released[1].sport, 0); /* no offset-0 fragment: no ports */
    mc_reasm_free(r);
}

static void test_refusals(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[70000];
    size_t dlen = udp_dgram(dg, 1000, 53, 3000);
    struct mc_pkt pkt;
    struct fb f = { .n = 0 };

    /* a middle fragment whose length is not a multiple of 8: refused, decoded on its own */
    uint64_t c = ctr("decode.reasm.bad_length");
    send_v4(r, &pkt, dg, dlen, 800, 801, 20, 1);
    assert_int_equal(ctr("decode.reasm.bad_length"), c + 1);
    assert_int_equal(pkt.held, 0);
    assert_int_equal(pkt.frag, 1);
    assert_int_equal(mc_reasm_pending(r), 0);

    /* past 65535 octets */
    c = ctr("decode.reasm.too_big");
    f.n = 0;
    v4frag(&f, 21, 17, 65528, 0, dg, 100, 1);
    decode(r, &pkt, DLT_RAW, &f, 2);
    assert_int_equal(ctr("decode.reasm.too_big"), c + 1);
    assert_int_equal(pkt.held, 0);

    /* not all captured (snap length): refused */
    c = ctr("decode.reasm.truncated");
    f.n = 0;
    v4frag(&f, 22, 17, 0, 1, dg, 800, 1);
    f.n -= 10;
    decode(r, &pkt, DLT_RAW, &f, 3);
    assert_int_equal(ctr("decode.reasm.truncated"), c + 1);
    assert_int_equal(pkt.held, 0);
    assert_int_equal(pkt.sport, 1000); /* decoded on as before */

    /* two last fragments that disagree on the end: given up with both */
    c = ctr("decode.reasm.last_conflict");
    f.n = 0;
    v4frag(&f, 23, 17, 1600, 0, dg + 1600, 400, 1); /* ends at 2000 */
    decode(r, &pkt, DLT_RAW, &f, 4);
    assert_int_equal(pkt.held, 1);
    f.n = 0;
    v4frag(&f, 23, 17, 1600, 0, dg + 1600, 800, 1); /* ends at 2400 */
    decode(r, &pkt, DLT_RAW, &f, 5);
    assert_int_equal(ctr("decode.reasm.last_conflict"), c + 1);
    assert_int_equal(pkt.held, 1);
    /* a fragment past a known end */
    send_v4(r, &pkt, dg, dlen, 0, 800, 24, 6);
    f.n = 0;
    v4frag(&f, 24, 17, 400, 0, dg + 400, 200, 1); /* ends at 600, inside what is held */
    decode(r, &pkt, DLT_RAW, &f, 7);
    assert_int_equal(ctr("decode.reasm.last_conflict"), c + 2);
    /* a refused fragment of a datagram in progress gives it up (its frames with it) */
    c = ctr("decode.reasm.bad_length");
    send_v4(r, &pkt, dg, dlen, 0, 800, 25, 8);
    send_v4(r, &pkt, dg, dlen, 800, 7, 25, 9);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(ctr("decode.reasm.bad_length"), c + 1);
    assert_int_equal(mc_reasm_pending(r), 0);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 3);
    assert_int_equal(released[0].frag_frames, 2);
    assert_int_equal(released[1].frag_frames, 2);
    assert_int_equal(released[2].frag_frames, 2);

    /* an empty fragment */
    c = ctr("decode.reasm.bad_length");
    f.n = 0;
    v4frag(&f, 26, 17, 8, 1, dg, 0, 1);
    decode(r, &pkt, DLT_RAW, &f, 10);
    assert_int_equal(ctr("decode.reasm.bad_length"), c + 1);

    /* more than 16 ranges: given up */
    c = ctr("decode.reasm.too_many_holes");
    for (unsigned i = 0; i < 17; i++)
        send_v4(r, &pkt, dg, dlen, 16 * i, 8, 27, 11);
    assert_int_equal(ctr("decode.reasm.too_many_holes"), c + 1);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    mc_reasm_free(r);
}

static void test_too_many_frames(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2000);
    struct mc_pkt pkt;
    uint64_t c = ctr("decode.reasm.too_many_frames");
    for (int i = 0; i < 1100 && ctr("decode.reasm.too_many_frames") == c; i++)
        send_v4(r, &pkt, dg, dlen, 0, 800, 30, 1);
    assert_int_equal(ctr("decode.reasm.too_many_frames"), c + 1);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(released[0].frag_frames, 1025);
    mc_reasm_free(r);
}

static void test_timeout_and_flush(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(30000, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 2000);
    struct mc_pkt pkt;
    uint64_t c = ctr("decode.reasm.timeouts");
    send_v4(r, &pkt, dg, dlen, 0, 800, 40, 1000);
    send_v4(r, &pkt, dg, dlen, 800, 800, 40, 1001);
    send_v4(r, &pkt, dg, dlen, 0, 800, 41, 20000);
    assert_int_equal(mc_reasm_expire(r, 30999), 0);
    assert_int_equal(mc_reasm_expire(r, 31000), 1);
    assert_int_equal(ctr("decode.reasm.timeouts"), c + 1);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(released[0].frag_frames, 2);
    assert_int_equal(released[0].ts_ms, 31000); /* metered when given up */
    /* timeouts are also found on the way in */
    send_v4(r, &pkt, dg, dlen, 0, 800, 42, 50000);
    assert_int_equal(ctr("decode.reasm.timeouts"), c + 2);
    assert_int_equal(mc_reasm_pending(r), 1);
    c = ctr("decode.reasm.flushed");
    assert_int_equal(mc_reasm_flush(r), 1);
    assert_int_equal(ctr("decode.reasm.flushed"), c + 1);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 2);
    mc_reasm_free(r);
}

static void test_caps(void **state)
{
    (void)state;
    /* two datagrams at most: a third gives the oldest up */
    struct mc_reasm *r = new_reasm(0, 2, 0);
    uint8_t dg[70000];
    size_t dlen = udp_dgram(dg, 1000, 53, 3000);
    struct mc_pkt pkt;
    uint64_t c = ctr("decode.reasm.evicted_datagrams");
    for (unsigned id = 50; id < 53; id++)
        send_v4(r, &pkt, dg, dlen, 0, 800, id, id);
    assert_int_equal(ctr("decode.reasm.evicted_datagrams"), c + 1);
    assert_int_equal(mc_reasm_pending(r), 2);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(released[0].ts_ms, 52);
    mc_reasm_free(r);

    /* the memory cap: datagrams 60 KiB long each, 128 KiB held at most */
    r = new_reasm(0, 0, MC_REASM_MIN_BYTES);
    memset(dg, 0x5a, sizeof(dg));
    c = ctr("decode.reasm.evicted_memory");
    for (unsigned id = 60; id < 64; id++) {
        struct fb f = { .n = 0 };
        v4frag(&f, id, 17, 60000, 1, dg, 800, 1);
        decode(r, &pkt, DLT_RAW, &f, id);
        assert_int_equal(pkt.held, 1);
        assert_true(mc_reasm_bytes(r) <= MC_REASM_MIN_BYTES);
    }
    assert_true(ctr("decode.reasm.evicted_memory") >= c + 2);
    assert_true(mc_reasm_drain(r, on_release, NULL) >= 2);
    mc_reasm_flush(r);
    mc_reasm_drain(r, NULL, NULL);
    assert_int_equal(mc_reasm_bytes(r), 0);
    mc_reasm_free(r);

    struct mc_reasm_config bad;
    mc_reasm_config_defaults(&bad);
    bad.max_bytes = 1000;
    assert_null(mc_reasm_new(&bad));
}

/* Ethernet + 802.1Q + IPv4 fragment. */
static void vlan_frag(struct fb *f, unsigned vid, const uint8_t *dg, size_t dlen, size_t off, size_t len)
{
    static const uint8_t macs[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };
    f->n = 0;
    put(f, macs, 12);
    be16(f, 0x8100);
    be16(f, vid);
    be16(f, 0x0800);
    v4frag(f, 77, 17, (unsigned)off, off + len < dlen, dg + off, len, 1);
}

static void test_keys_apart(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[3000];
    size_t dlen = udp_dgram(dg, 1000, 53, 1500);
    struct mc_pkt pkt;
    struct fb f;
    /* the same datagram on two VLANs: two datagrams, each whole */
    vlan_frag(&f, 10, dg, dlen, 0, 800);
    decode(r, &pkt, DLT_EN10MB, &f, 1);
    vlan_frag(&f, 20, dg, dlen, 0, 800);
    decode(r, &pkt, DLT_EN10MB, &f, 2);
    assert_int_equal(mc_reasm_pending(r), 2);
    vlan_frag(&f, 10, dg, dlen, 800, dlen - 800);
    decode(r, &pkt, DLT_EN10MB, &f, 3);
    assert_int_equal(pkt.frag_frames, 2);
    assert_int_equal(pkt.vlan[0], 10);
    vlan_frag(&f, 20, dg, dlen, 800, dlen - 800);
    decode(r, &pkt, DLT_EN10MB, &f, 4);
    assert_int_equal(pkt.frag_frames, 2);
    assert_int_equal(pkt.vlan[0], 20);
    /* a different source: another datagram */
    f.n = 0;
    v4frag(&f, 77, 17, 0, 1, dg, 800, 2);
    decode(r, &pkt, DLT_RAW, &f, 5);
    f.n = 0;
    v4frag(&f, 77, 17, 800, 0, dg + 800, dlen - 800, 1);
    decode(r, &pkt, DLT_RAW, &f, 6);
    assert_int_equal(pkt.held, 1);
    assert_int_equal(mc_reasm_pending(r), 2);
    mc_reasm_flush(r);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 2);
    mc_reasm_free(r);
}

/* An outer IPv4 datagram carrying GTP-U, fragmented: the inner flow is found. */
static void test_tunnel_inside(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t inner[2100], outer[2200];
    /* inner IPv4/TCP 10.9.9.1:4000 -> 10.9.9.2:80 with 2000 octets of data */
    size_t in_len = 20 + 20 + 2000;
    memset(inner, 0, sizeof(inner));
    inner[0] = 0x45;
    inner[2] = (uint8_t)(in_len >> 8);
    inner[3] = (uint8_t)in_len;
    inner[8] = 64;
    inner[9] = 6;
    inner[12] = 10, inner[13] = 9, inner[14] = 9, inner[15] = 1;
    inner[16] = 10, inner[17] = 9, inner[18] = 9, inner[19] = 2;
    inner[20] = 4000 >> 8, inner[21] = 4000 & 0xff, inner[22] = 0, inner[23] = 80;
    inner[32] = 0x50; /* data offset 5 */
    inner[33] = 0x18;
    /* outer UDP 2152 + GTPv1 G-PDU header (8 octets) + inner */
    size_t o = 0;
    outer[o++] = 0x08, outer[o++] = 0x68, outer[o++] = 0x08, outer[o++] = 0x68;
    size_t ulen = 8 + 8 + in_len;
    outer[o++] = (uint8_t)(ulen >> 8), outer[o++] = (uint8_t)ulen, outer[o++] = 0, outer[o++] = 0;
    outer[o++] = 0x30, outer[o++] = 0xff;
    outer[o++] = (uint8_t)(in_len >> 8), outer[o++] = (uint8_t)in_len;
    outer[o++] = 0x11, outer[o++] = 0x22, outer[o++] = 0x33, outer[o++] = 0x44;
    memcpy(outer + o, inner, in_len);
    size_t dlen = o + in_len;
    struct mc_pkt pkt;
    send_v4(r, &pkt, outer, dlen, 0, 1480, 99, 1);
    assert_int_equal(pkt.held, 1);
    send_v4(r, &pkt, outer, dlen, 1480, dlen - 1480, 99, 2);
    assert_int_equal(pkt.held, 0);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_GTPU);
    assert_int_equal(pkt.tunnel_id, 0x11223344);
    assert_int_equal(pkt.proto, 6);
    assert_int_equal(pkt.sport, 4000);
    assert_int_equal(pkt.dport, 80);
    assert_int_equal(pkt.frag_frames, 2);
    assert_int_equal(pkt.ip_len, in_len); /* the inner packet, once */
    assert_int_equal(pkt.payload_len, 2000);
    mc_reasm_free(r);
}

/* A datagram given up is decoded on over its offset-0 bytes without the reassembler:
 * an inner fragment there is not held again (its frames would be counted twice). */
static void test_given_up_inner_fragment(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(0, 0, 0);
    uint8_t dg[2000], inner[1600];
    udp_dgram(inner, 1000, 53, 1500);
    struct fb f = { .n = 0 };
    v4frag(&f, 5, 17, 0, 1, inner, 1400, 9); /* an inner first fragment, IP-in-IP */
    memcpy(dg, f.b, f.n);
    size_t dlen = f.n;
    f.n = 0;
    v4frag(&f, 6, 4, 0, 1, dg, 800, 1); /* outer: the first 800 octets of it */
    struct mc_pkt pkt;
    decode(r, &pkt, DLT_RAW, &f, 1);
    assert_int_equal(pkt.held, 1);
    assert_true(dlen > 800);
    assert_int_equal(mc_reasm_flush(r), 1);
    assert_int_equal(mc_reasm_pending(r), 0);
    assert_int_equal(mc_reasm_drain(r, on_release, NULL), 1);
    assert_int_equal(released[0].frag_frames, 1);
    assert_int_equal(released[0].tunnel, MC_TUNNEL_IPIP); /* the inner header was read */
    assert_int_equal(mc_reasm_pending(r), 0);
    mc_reasm_free(r);
}

/* Hostile sequences: every fragment either held, refused or completing, nothing read out of bounds. */
static void test_hostile(void **state)
{
    (void)state;
    struct mc_reasm *r = new_reasm(1000, 8, MC_REASM_MIN_BYTES);
    uint8_t dg[70000];
    for (size_t i = 0; i < sizeof(dg); i++)
        dg[i] = (uint8_t)(i * 13);
    uint32_t seed = 12345;
    struct mc_pkt pkt;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned off = (seed >> 8) % 65536 & ~7u;
        unsigned len = (seed >> 4) % 1600;
        int more = (seed >> 28) & 1;
        unsigned id = (seed >> 24) % 12;
        struct fb f = { .n = 0 };
        if (off + len > 65515)
            len = 65515 > off ? 65515 - off : 0;
        if (seed & 1)
            v4frag(&f, id, 17, off, more, dg + (seed % 7), len, 1);
        else
            v6frag(&f, id, 17, off, more, dg + (seed % 5), len, (seed >> 2) & 1);
        if ((seed >> 3) % 5 == 0 && f.n > 30)
            f.n -= (seed >> 5) % 30; /* cut by the snap length */
        decode(r, &pkt, DLT_RAW, &f, (uint64_t)i);
        mc_reasm_drain(r, NULL, NULL);
        assert_true(mc_reasm_pending(r) <= 8);
        assert_true(mc_reasm_bytes(r) <= MC_REASM_MIN_BYTES);
    }
    mc_reasm_flush(r);
    mc_reasm_drain(r, NULL, NULL);
    assert_int_equal(mc_reasm_bytes(r), 0);
    mc_reasm_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_in_order),     cmocka_unit_test(test_v4_out_of_order),
        cmocka_unit_test(test_v6),              cmocka_unit_test(test_duplicates_and_overlaps),
        cmocka_unit_test(test_overlap_conflict), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_too_many_frames), cmocka_unit_test(test_timeout_and_flush),
        cmocka_unit_test(test_caps),            cmocka_unit_test(test_keys_apart),
        cmocka_unit_test(test_tunnel_inside),   cmocka_unit_test(test_given_up_inner_fragment),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
