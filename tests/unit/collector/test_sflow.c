/*
 * test_sflow.c - sFlow v5 datagrams: flow samples (compact and expanded,
 * IPv4 and IPv6 agents) decoded through the probe's packet decoder,
 * tunnels to their inner 5-tuple, sampled_ipv4/ipv6 records, counters
 * samples as options records, skipped enterprise samples and records,
 * truncations at every length, sequence gaps; then the real captures of
 * ../shared/corpus/sflow/ against what tshark reads from them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "collector/flow.h"
#include "flow/ie.h"
#include "unit/collector/helpers.h"

#define NOW 1700000000123ull

/* ---- a sink that also turns each record into the stores' flow ----------- */

struct sink {
    struct cap cap;
    size_t nfl;
    struct mc_coll_flow fl[8];
};

static void sink_fn(void *ctx, const struct mc_coll_record *r)
{
    struct sink *s = ctx;
    cap_fn(&s->cap, r);
    if (s->nfl < 8 && mc_coll_flow_from_record(&s->fl[s->nfl], r, NULL, NOW) == 0)
        s->nfl++;
}

static struct mc_coll *sink_new(struct sink *s)
{
    s->cap.n = 0;
    s->nfl = 0;
    if (!s->cap.r)
        s->cap.r = calloc(CAP_RECS, sizeof(*s->cap.r));
    mc_ctr_reset();
    return mc_coll_new(NULL, sink_fn, s);
}

/* ---- datagram builder ---------------------------------------------------- */

static const uint8_t AGENT4[4] = { 198, 51, 100, 7 };
static const uint8_t AGENT6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x12, [15] = 0x34 };

static void patch32(struct bb *b, size_t off, uint32_t v)
{
    patch16(b, off, v >> 16);
    patch16(b, off + 2, v & 0xffff);
}

static void sf_begin(struct bb *b, int v6, uint32_t sub, uint32_t seq, uint32_t nsamples)
{
    b->n = 0;
    put32(b, 5);
    put32(b, v6 ? 2 : 1);
    putn(b, v6 ? AGENT6 : AGENT4, v6 ? 16 : 4);
    put32(b, sub), put32(b, seq), put32(b, 123456), put32(b, nsamples);
}

/* A sample or record: data_format, then the length item_end writes. */
static size_t item_begin(struct bb *b, uint32_t enterprise, uint32_t format)
{
    put32(b, enterprise << 12 | format);
    size_t off = b->n;
    put32(b, 0);
    return off;
}

static void item_end(struct bb *b, size_t off) { patch32(b, off, (uint32_t)(b->n - off - 4)); }

/* Compact flow sample header: seq, source id 0:5, rate, pool, drops, input, output, records. */
static size_t flow_sample(struct bb *b, uint32_t rate, uint32_t in, uint32_t out, uint32_t nrec)
{
    size_t off = item_begin(b, 0, 1);
    put32(b, 77), put32(b, 5), put32(b, rate), put32(b, 1000), put32(b, 0);
    put32(b, in), put32(b, out), put32(b, nrec);
    return off;
}

static size_t flow_sample_expanded(struct bb *b, uint32_t rate, uint32_t in, uint32_t out_fmt, uint32_t out,
                                   uint32_t nrec)
{
    size_t off = item_begin(b, 0, 3);
    put32(b, 78), put32(b, 0), put32(b, 70000), put32(b, rate), put32(b, 1000), put32(b, 0);
    put32(b, 0), put32(b, in), put32(b, out_fmt), put32(b, out), put32(b, nrec);
    return off;
}

/* A sampled_header record (header padded to 4). */
static void raw_header(struct bb *b, uint32_t proto, uint32_t frame_length, const uint8_t *h, size_t hlen)
{
    size_t off = item_begin(b, 0, 1);
    put32(b, proto), put32(b, frame_length), put32(b, 4), put32(b, (uint32_t)hlen);
    putn(b, h, hlen);
    while (b->n & 3)
        put8(b, 0);
    item_end(b, off);
}

/* An extended_switch record (0:1001): skipped. */
static void ext_switch(struct bb *b)
{
    size_t off = item_begin(b, 0, 1001);
    put32(b, 10), put32(b, 0), put32(b, 20), put32(b, 0);
    item_end(b, off);
}

/* Generic interface counters (0:1) of ifIndex k. */
static void if_counters(struct bb *b, uint32_t k)
{
    size_t off = item_begin(b, 0, 1);
    put32(b, k), put32(b, 6), put64(b, 10000000000ull), put32(b, 1), put32(b, 3);
    put64(b, 0x0102030405060708ull);
    for (uint32_t i = 0; i < 6; i++)
        put32(b, 100 + i);
    put64(b, 0x1112131415161718ull);
    for (uint32_t i = 0; i < 5; i++)
        put32(b, 200 + i);
    put32(b, 0);
    item_end(b, off);
}

/* Ethernet counters (0:2): 13 words, skipped. */
static void eth_counters(struct bb *b)
{
    size_t off = item_begin(b, 0, 2);
    for (int i = 0; i < 13; i++)
        put32(b, (uint32_t)i);
    item_end(b, off);
}

/* ---- packet builder ------------------------------------------------------ */

struct pb {
    size_t n;
    uint8_t b[256];
};

static void pb8(struct pb *p, uint32_t v) { p->b[p->n++] = (uint8_t)v; }
static void pb16(struct pb *p, uint32_t v) { pb8(p, v >> 8), pb8(p, v); }
static void pb32(struct pb *p, uint32_t v) { pb16(p, v >> 16), pb16(p, v); }

static void p_eth(struct pb *p, uint16_t type)
{
    static const uint8_t mac[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
    memcpy(p->b + p->n, mac, 12);
    p->n += 12;
    pb16(p, type);
}

static void p_vlan(struct pb *p, uint16_t vid, uint16_t type) { pb16(p, vid), pb16(p, type); }

static void p_ip4(struct pb *p, uint8_t proto, uint32_t src, uint32_t dst, uint16_t total, uint8_t tos)
{
    pb8(p, 0x45), pb8(p, tos), pb16(p, total), pb16(p, 1), pb16(p, 0x4000);
    pb8(p, 64), pb8(p, proto), pb16(p, 0), pb32(p, src), pb32(p, dst);
}

static void p_ip6(struct pb *p, uint8_t nh, uint8_t last_src, uint8_t last_dst, uint16_t plen, uint8_t tc)
{
    pb32(p, 0x60000000u | (uint32_t)tc << 20), pb16(p, plen), pb8(p, nh), pb8(p, 64);
    for (int a = 0; a < 2; a++) {
        pb32(p, 0x20010db8), pb32(p, 0), pb32(p, 0);
        pb32(p, a ? last_dst : last_src);
    }
}

static void p_tcp(struct pb *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
    pb16(p, sport), pb16(p, dport), pb32(p, 1), pb32(p, 0), pb8(p, 0x50), pb8(p, flags);
    pb16(p, 65535), pb16(p, 0), pb16(p, 0);
}

static void p_udp(struct pb *p, uint16_t sport, uint16_t dport, uint16_t len)
{
    pb16(p, sport), pb16(p, dport), pb16(p, len), pb16(p, 0);
}

/* Ethernet, VLAN 42, IPv4 10.0.0.1 -> 10.0.0.2 TCP 40000 -> 443 SYN|ACK, total length 1500, cut at 64. */
static size_t tcp4_frame(struct pb *p)
{
    p->n = 0;
    p_eth(p, 0x8100);
    p_vlan(p, 42, 0x0800);
    p_ip4(p, 6, 0x0a000001, 0x0a000002, 1500, 0x28);
    p_tcp(p, 40000, 443, 0x12);
    while (p->n < 64)
        pb8(p, 0xab);
    return p->n;
}

static const uint8_t *rec_addr(const struct cap_rec *r, uint16_t id)
{
    const struct cap_field *f = fld(r, 0, id);
    assert_non_null(f);
    return f->v;
}

/* ---- tests --------------------------------------------------------------- */

static void test_flow_sample_ipv4_agent(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb p;
    sf_begin(&b, 0, 3, 1000, 1);
    size_t off = flow_sample(&b, 512, 7, 9, 2);
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    ext_switch(&b);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_int_equal(s.cap.n, 1);
    const struct cap_rec *r = &s.cap.r[0];
    assert_int_equal(r->version, 20);
    assert_int_equal(r->domain, 3);
    assert_int_equal(r->options, 0);
    assert_int_equal(r->seq, 1000);
    assert_int_equal(r->uptime, 123456);
    assert_memory_equal(rec_addr(r, 130), AGENT4, 4);
    assert_int_equal(fval(r, 0, 8), 0x0a000001);
    assert_int_equal(fval(r, 0, 12), 0x0a000002);
    assert_int_equal(fval(r, 0, 7), 40000);
    assert_int_equal(fval(r, 0, 11), 443);
    assert_int_equal(fval(r, 0, 4), 6);
    assert_int_equal(fval(r, 0, 5), 0x28);
    assert_int_equal(fval(r, 0, 6), 0x12);
    assert_int_equal(fval(r, 0, 58), 42);
    assert_int_equal(fval(r, 0, 10), 7);
    assert_int_equal(fval(r, 0, 14), 9);
    assert_int_equal(fval(r, 0, 2), 1);
    assert_int_equal(fval(r, 0, 1), 1500); /* the IP length, not the 1522-byte frame */
    assert_int_equal(fval(r, 0, 34), 512);
    assert_int_equal(fval(r, 0, 152), NOW);
    assert_int_equal(fval(r, 0, 153), NOW);
    assert_null(fld(r, 0, 27));
    assert_null(fld(r, MC_PEN_MC, 1)); /* no tunnel */
    /* every field has a name */
    char buf[32];
    for (size_t i = 0; i < r->n; i++)
        assert_false(mc_coll_field_name(r->f[i].pen, r->f[i].id, buf, sizeof(buf)) == buf);
    assert_int_equal(ctr("collector.sflow.datagrams"), 1);
    assert_int_equal(ctr("collector.sflow.samples_flow"), 1);
    assert_int_equal(ctr("collector.sflow.records_skipped"), 1); /* extended_switch */
    assert_int_equal(ctr("collector.sflow.headers_undecodable"), 0);
    assert_int_equal(ctr("collector.records"), 1);
    /* the stream: agent address (port 0), version 20, sub_agent_id */
    struct mc_coll_src agent = { .addr = { 198, 51, 100, 7 }, .ver = 4 };
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &agent, 20, 3);
    assert_non_null(st);
    assert_int_equal(st->datagrams, 1);
    assert_int_equal(st->records, 1);
    assert_int_equal(st->next_seq, 1001);
    assert_null(mc_coll_stream_find(c, &SRC, 20, 3));
    /* the stores' flow: one sampled packet scaled by the rate, once */
    assert_int_equal(s.nfl, 1);
    assert_int_equal(s.fl[0].version, 20);
    assert_int_equal(s.fl[0].ip_version, 4);
    assert_int_equal(s.fl[0].sampling, 512);
    assert_int_equal(s.fl[0].packets, 512);
    assert_int_equal(s.fl[0].octets, 1500 * 512);
    assert_int_equal(s.fl[0].in_if, 7);
    assert_int_equal(s.fl[0].start_ms, NOW);
    assert_int_equal(s.fl[0].exporter.port, SRC.port); /* the UDP sender */
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_expanded_ipv6_agent(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb p = { 0 };
    /* Ethernet / IPv6 UDP 5353 -> 53, traffic class 0xb8 */
    p_eth(&p, 0x86dd);
    p_ip6(&p, 17, 1, 2, 8 + 100, 0xb8);
    p_udp(&p, 5353, 53, 8 + 100);
    sf_begin(&b, 1, 0, 7, 1);
    size_t off = flow_sample_expanded(&b, 1000, 70000, 0, 80000, 1);
    raw_header(&b, 1, 162, p.b, p.n);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC2, b.b, b.n, NOW), 1);
    const struct cap_rec *r = &s.cap.r[0];
    assert_memory_equal(rec_addr(r, 131), AGENT6, 16);
    assert_null(fld(r, 0, 130));
    assert_int_equal(rec_addr(r, 27)[15], 1);
    assert_int_equal(rec_addr(r, 28)[15], 2);
    assert_int_equal(rec_addr(r, 28)[0], 0x20);
    assert_int_equal(fval(r, 0, 7), 5353);
    assert_int_equal(fval(r, 0, 11), 53);
    assert_int_equal(fval(r, 0, 4), 17);
    assert_int_equal(fval(r, 0, 5), 0xb8);
    assert_int_equal(fval(r, 0, 10), 70000); /* expanded interfaces: 32-bit ifIndex */
    assert_int_equal(fval(r, 0, 14), 80000);
    assert_int_equal(fval(r, 0, 1), 148);
    assert_int_equal(fval(r, 0, 34), 1000);
    struct mc_coll_src agent = { .ver = 6 };
    memcpy(agent.addr, AGENT6, 16);
    assert_non_null(mc_coll_stream_find(c, &agent, 20, 0));
    /* output format 1 (discarded) and 2 (several interfaces) name no interface */
    sf_begin(&b, 1, 0, 8, 2);
    off = flow_sample_expanded(&b, 1000, 70000, 1, 0x103, 1);
    raw_header(&b, 1, 162, p.b, p.n);
    item_end(&b, off);
    off = flow_sample(&b, 1000, 0x3fffffff, 0x80000003, 1); /* compact: internal in; 3 outputs */
    raw_header(&b, 1, 162, p.b, p.n);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC2, b.b, b.n, NOW), 2);
    assert_int_equal(fval(&s.cap.r[1], 0, 14), 0);
    assert_int_equal(fval(&s.cap.r[2], 0, 10), 0x3fffffff);
    assert_int_equal(fval(&s.cap.r[2], 0, 14), 0);
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_tunnels(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb vx = { 0 }, gre = { 0 };
    /* VXLAN: outer 192.0.2.1 -> 192.0.2.2 UDP 4789, VNI 5000, inner 10.1.1.1 -> 10.1.1.2 TCP 1234 -> 80 */
    p_eth(&vx, 0x0800);
    p_ip4(&vx, 17, 0xc0000201, 0xc0000202, 20 + 8 + 8 + 14 + 20 + 20, 0);
    p_udp(&vx, 50000, 4789, 8 + 8 + 14 + 20 + 20);
    pb32(&vx, 0x08000000), pb32(&vx, 5000u << 8);
    p_eth(&vx, 0x0800);
    p_ip4(&vx, 6, 0x0a010101, 0x0a010102, 40, 0);
    p_tcp(&vx, 1234, 80, 0x02);
    /* GRE with key 77: outer 192.0.2.3 -> 192.0.2.4, inner 10.2.2.1 -> 10.2.2.2 UDP 1000 -> 2000 */
    p_eth(&gre, 0x0800);
    p_ip4(&gre, 47, 0xc0000203, 0xc0000204, 20 + 8 + 20 + 8 + 10, 0);
    pb16(&gre, 0x2000), pb16(&gre, 0x0800), pb32(&gre, 77);
    p_ip4(&gre, 17, 0x0a020201, 0x0a020202, 20 + 8 + 10, 0);
    p_udp(&gre, 1000, 2000, 18);
    sf_begin(&b, 0, 0, 1, 2);
    size_t off = flow_sample(&b, 10, 1, 2, 1);
    raw_header(&b, 1, 200, vx.b, vx.n);
    item_end(&b, off);
    off = flow_sample(&b, 10, 1, 2, 1);
    raw_header(&b, 1, 200, gre.b, gre.n);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 2);
    const struct cap_rec *r = &s.cap.r[0];
    assert_int_equal(fval(r, 0, 8), 0x0a010101);
    assert_int_equal(fval(r, 0, 12), 0x0a010102);
    assert_int_equal(fval(r, 0, 7), 1234);
    assert_int_equal(fval(r, 0, 11), 80);
    assert_int_equal(fval(r, 0, 4), 6);
    assert_int_equal(fval(r, 0, 6), 0x02);
    assert_int_equal(fval(r, 0, 1), 40); /* the inner packet's IP length */
    assert_int_equal(fval(r, MC_PEN_MC, 1), 3); /* tunnelType VXLAN */
    assert_int_equal(fval(r, MC_PEN_MC, 2), 5000);
    r = &s.cap.r[1];
    assert_int_equal(fval(r, 0, 8), 0x0a020201);
    assert_int_equal(fval(r, 0, 12), 0x0a020202);
    assert_int_equal(fval(r, 0, 7), 1000);
    assert_int_equal(fval(r, 0, 11), 2000);
    assert_int_equal(fval(r, 0, 4), 17);
    assert_int_equal(fval(r, MC_PEN_MC, 1), 1); /* GRE */
    assert_int_equal(fval(r, MC_PEN_MC, 2), 77);
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_sampled_ip_and_non_ip(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb arp = { 0 };
    p_eth(&arp, 0x0806);
    for (int i = 0; i < 28; i++)
        pb8(&arp, 0);
    sf_begin(&b, 0, 0, 1, 4);
    /* sampled_ipv4 (0:3) after an enterprise record */
    size_t off = flow_sample(&b, 100, 1, 2, 2);
    size_t r0 = item_begin(&b, 4413, 1);
    put32(&b, 1), put32(&b, 2);
    item_end(&b, r0);
    r0 = item_begin(&b, 0, 3);
    put32(&b, 576), put32(&b, 17), put32(&b, 0xc0a80001), put32(&b, 0xc0a80002);
    put32(&b, 68), put32(&b, 67), put32(&b, 0), put32(&b, 0x10);
    item_end(&b, r0);
    item_end(&b, off);
    /* sampled_ipv6 (0:4) */
    off = flow_sample(&b, 100, 1, 2, 1);
    r0 = item_begin(&b, 0, 4);
    put32(&b, 1280), put32(&b, 6);
    putn(&b, AGENT6, 16), putn(&b, AGENT6, 16);
    put32(&b, 22), put32(&b, 60000), put32(&b, 0x18), put32(&b, 0);
    item_end(&b, r0);
    item_end(&b, off);
    /* an ARP frame: a record without addresses */
    off = flow_sample(&b, 100, 1, 2, 1);
    raw_header(&b, 1, 64, arp.b, arp.n);
    item_end(&b, off);
    /* an enterprise sample: skipped */
    off = item_begin(&b, 4413, 1);
    put32(&b, 0);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 3);
    assert_int_equal(fval(&s.cap.r[0], 0, 8), 0xc0a80001);
    assert_int_equal(fval(&s.cap.r[0], 0, 12), 0xc0a80002);
    assert_int_equal(fval(&s.cap.r[0], 0, 7), 68);
    assert_int_equal(fval(&s.cap.r[0], 0, 11), 67);
    assert_int_equal(fval(&s.cap.r[0], 0, 4), 17);
    assert_int_equal(fval(&s.cap.r[0], 0, 5), 0x10);
    assert_int_equal(fval(&s.cap.r[0], 0, 1), 576);
    assert_int_equal(rec_addr(&s.cap.r[1], 27)[15], 0x34);
    assert_int_equal(fval(&s.cap.r[1], 0, 7), 22);
    assert_int_equal(fval(&s.cap.r[1], 0, 6), 0x18);
    assert_int_equal(fval(&s.cap.r[1], 0, 1), 1280);
    const struct cap_rec *r = &s.cap.r[2];
    assert_null(fld(r, 0, 8));
    assert_null(fld(r, 0, 27));
    assert_null(fld(r, 0, 7));
    assert_int_equal(fval(r, 0, 1), 64); /* frame_length */
    assert_int_equal(fval(r, 0, 2), 1);
    assert_int_equal(fval(r, 0, 10), 1);
    assert_int_equal(s.fl[2].ip_version, 0);
    assert_int_equal(s.fl[2].packets, 100);
    assert_int_equal(ctr("collector.sflow.headers_undecodable"), 1);
    assert_int_equal(ctr("collector.sflow.records_skipped"), 1);
    assert_int_equal(ctr("collector.sflow.samples_unknown"), 1);
    assert_int_equal(ctr("collector.sflow.samples_flow"), 3);
    /* a header protocol the decoder does not read (MPLS, 13): undecodable too */
    sf_begin(&b, 0, 0, 2, 1);
    off = flow_sample(&b, 100, 1, 2, 1);
    raw_header(&b, 13, 64, arp.b, arp.n);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_int_equal(ctr("collector.sflow.headers_undecodable"), 2);
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_counters(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    sf_begin(&b, 0, 1, 50, 2);
    size_t off = item_begin(&b, 0, 2); /* compact counters sample */
    put32(&b, 9), put32(&b, 3), put32(&b, 2);
    eth_counters(&b);
    if_counters(&b, 3);
    item_end(&b, off);
    off = item_begin(&b, 0, 4); /* expanded */
    put32(&b, 10), put32(&b, 0), put32(&b, 70001), put32(&b, 1);
    if_counters(&b, 70001);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 2);
    assert_int_equal(s.cap.n, 2);
    assert_int_equal(s.nfl, 0); /* options records are no flows */
    const struct cap_rec *r = &s.cap.r[0];
    assert_int_equal(r->version, 20);
    assert_int_equal(r->options, 1);
    assert_int_equal(r->scope, 1);
    assert_int_equal(r->f[0].pen, 0);
    assert_int_equal(r->f[0].id, 10);
    assert_int_equal(fval(r, 0, 10), 3);
    assert_int_equal(fval(&s.cap.r[1], 0, 10), 70001);
    assert_int_equal(fval(r, MC_PEN_MC, 290), 6);
    assert_int_equal(fval(r, MC_PEN_MC, 291), 10000000000ull);
    assert_int_equal(fval(r, MC_PEN_MC, 292), 1);
    assert_int_equal(fval(r, MC_PEN_MC, 293), 3);
    assert_int_equal(fval(r, MC_PEN_MC, 294), 0x0102030405060708ull);
    assert_int_equal(fval(r, MC_PEN_MC, 295), 100);
    assert_int_equal(fval(r, MC_PEN_MC, 300), 105);
    assert_int_equal(fval(r, MC_PEN_MC, 301), 0x1112131415161718ull);
    assert_int_equal(fval(r, MC_PEN_MC, 302), 200);
    assert_int_equal(fval(r, MC_PEN_MC, 306), 204);
    assert_int_equal(fval(r, MC_PEN_MC, 307), 0);
    assert_memory_equal(rec_addr(r, 130), AGENT4, 4);
    char buf[32];
    assert_string_equal(mc_coll_field_name(MC_PEN_MC, 294, buf, sizeof(buf)), "ifInOctets");
    assert_string_equal(mc_coll_field_name(MC_PEN_MC, 307, buf, sizeof(buf)), "ifPromiscuousMode");
    assert_string_equal(mc_coll_field_name(0, 130, buf, sizeof(buf)), "exporterIPv4Address");
    assert_string_equal(mc_coll_field_name(0, 290, buf, sizeof(buf)), "encryptedTechnology"); /* IANA 290, not ours */
    for (size_t i = 0; i < r->n; i++)
        assert_false(mc_coll_field_name(r->f[i].pen, r->f[i].id, buf, sizeof(buf)) == buf);
    assert_int_equal(ctr("collector.sflow.samples_counters"), 2);
    assert_int_equal(ctr("collector.sflow.records_skipped"), 1); /* ethernet counters */
    assert_int_equal(ctr("collector.records.options"), 2);
    /* a generic record shorter than its 88 bytes is truncated; the next one still decodes */
    sf_begin(&b, 0, 1, 51, 1);
    off = item_begin(&b, 0, 2);
    put32(&b, 11), put32(&b, 3), put32(&b, 2);
    size_t r0 = item_begin(&b, 0, 1);
    put32(&b, 3), put32(&b, 6);
    item_end(&b, r0);
    if_counters(&b, 4);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_int_equal(fval(&s.cap.r[2], 0, 10), 4);
    assert_int_equal(ctr("collector.sflow.records_truncated"), 1);
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_truncated(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb p;
    /* a record whose length runs past its sample: the sample's packet is still counted */
    sf_begin(&b, 0, 0, 1, 2);
    size_t off = flow_sample(&b, 4, 1, 2, 2);
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    size_t r0 = item_begin(&b, 0, 1001);
    put32(&b, 1);
    item_end(&b, r0);
    patch32(&b, r0, 400);
    item_end(&b, off);
    off = flow_sample(&b, 4, 1, 2, 1); /* the next sample still decodes */
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 2);
    assert_int_equal(fval(&s.cap.r[0], 0, 8), 0x0a000001);
    assert_int_equal(ctr("collector.sflow.records_truncated"), 1);
    /* a header_length past its record: skipped, the sample has no packet */
    sf_begin(&b, 0, 0, 2, 1);
    off = flow_sample(&b, 4, 1, 2, 1);
    r0 = item_begin(&b, 0, 1);
    put32(&b, 1), put32(&b, 64), put32(&b, 4), put32(&b, 65);
    putn(&b, p.b, 64);
    item_end(&b, r0);
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_null(fld(&s.cap.r[2], 0, 8));
    assert_int_equal(ctr("collector.sflow.records_truncated"), 2);
    /* a sample shorter than its fixed fields, then one past the datagram */
    sf_begin(&b, 0, 0, 3, 3);
    off = item_begin(&b, 0, 1);
    put32(&b, 1), put32(&b, 2);
    item_end(&b, off);
    off = flow_sample(&b, 4, 1, 2, 1);
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    item_end(&b, off);
    off = item_begin(&b, 0, 2);
    put32(&b, 1);
    item_end(&b, off);
    patch32(&b, off, 1000);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_int_equal(ctr("collector.sflow.samples_truncated"), 2);
    /* num_samples / num_records beyond what the bytes can hold: capped, counted */
    sf_begin(&b, 0, 0, 4, 0xffffffffu);
    off = flow_sample(&b, 4, 1, 2, 0x7fffffffu);
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    item_end(&b, off);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 1);
    assert_int_equal(ctr("collector.sflow.bad_count"), 2);

    /* every prefix of a datagram of every kind: no crash, no read past it (ASan), all counted */
    struct pb vx = { 0 };
    p_eth(&vx, 0x0800);
    p_ip4(&vx, 17, 0xc0000201, 0xc0000202, 70, 0);
    p_udp(&vx, 50000, 4789, 50);
    pb32(&vx, 0x08000000), pb32(&vx, 5000u << 8);
    p_eth(&vx, 0x86dd);
    p_ip6(&vx, 6, 1, 2, 20, 0);
    p_tcp(&vx, 1, 2, 0x11);
    sf_begin(&b, 1, 0, 5, 4);
    off = flow_sample_expanded(&b, 4, 1, 0, 2, 2);
    raw_header(&b, 1, 1522, vx.b, vx.n);
    ext_switch(&b);
    item_end(&b, off);
    off = flow_sample(&b, 4, 1, 2, 1);
    raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
    item_end(&b, off);
    off = item_begin(&b, 0, 2);
    put32(&b, 9), put32(&b, 3), put32(&b, 2);
    eth_counters(&b);
    if_counters(&b, 3);
    item_end(&b, off);
    off = item_begin(&b, 0, 4);
    put32(&b, 10), put32(&b, 0), put32(&b, 70001), put32(&b, 1);
    if_counters(&b, 70001);
    item_end(&b, off);
    mc_coll_free(c);
    c = sink_new(&s);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 4);
    mc_ctr_reset();
    s.cap.n = 0;
    size_t records = 0;
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        int k = mc_coll_sflow(c, &SRC, copy, n, NOW);
        free(copy);
        assert_true(k >= -1 && k <= 4);
        records += k > 0 ? (size_t)k : 0;
    }
    assert_int_equal(ctr("collector.sflow.datagrams"), b.n);
    assert_int_equal(ctr("collector.sflow.too_short"), 40); /* the header: 8 + a 16-byte address + 16 */
    assert_true(ctr("collector.sflow.samples_truncated") > 0);
    assert_true(ctr("collector.sflow.bad_count") > 0); /* num_samples 4 with fewer bytes */
    assert_true(records > 0 && records < 4 * (b.n - 40));
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_header_errors(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    sf_begin(&b, 0, 0, 1, 0);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 0); /* no samples: fine */
    patch32(&b, 0, 4);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), -1);
    assert_int_equal(ctr("collector.sflow.bad_version"), 1);
    patch32(&b, 0, 5);
    patch32(&b, 4, 0);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), -1);
    patch32(&b, 4, 3);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), -1);
    assert_int_equal(ctr("collector.sflow.bad_address_type"), 2);
    patch32(&b, 4, 2); /* says IPv6: the 28-byte datagram is too short for it */
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), -1);
    assert_int_equal(ctr("collector.sflow.too_short"), 1);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, 7, NOW), -1);
    assert_int_equal(ctr("collector.sflow.too_short"), 2);
    assert_int_equal(s.cap.n, 0);
    /* a full stream table: sFlow streams hold no template, so the quietest makes room */
    mc_coll_free(c);
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_streams = 1;
    c = mc_coll_new(&cfg, sink_fn, &s);
    sf_begin(&b, 0, 0, 1, 0);
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 0);
    sf_begin(&b, 0, 1, 1, 0); /* another sub_agent_id: another stream */
    assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW), 0);
    assert_int_equal(ctr("collector.streams.evicted"), 1);
    assert_int_equal(ctr("collector.streams.table_full"), 0);
    mc_coll_free(c);
    cap_free(&s.cap);
}

static void test_sequence(void **state)
{
    (void)state;
    struct sink s = { 0 };
    struct mc_coll *c = sink_new(&s);
    struct bb b;
    struct pb p;
    uint32_t seqs[] = { 10, 11, 15, 13, 16 };
    for (size_t i = 0; i < 5; i++) {
        sf_begin(&b, 0, 2, seqs[i], 1);
        size_t off = flow_sample(&b, 4, 1, 2, 1);
        raw_header(&b, 1, 1522, p.b, tcp4_frame(&p));
        item_end(&b, off);
        assert_int_equal(mc_coll_sflow(c, &SRC, b.b, b.n, NOW + i), 1);
    }
    struct mc_coll_src agent = { .addr = { 198, 51, 100, 7 }, .ver = 4 };
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &agent, 20, 2);
    assert_int_equal(st->lost, 3); /* 12, 13, 14 missing when 15 came */
    assert_int_equal(st->out_of_order, 1); /* 13, late */
    assert_int_equal(st->next_seq, 17);
    assert_int_equal(st->datagrams, 5);
    assert_int_equal(s.cap.r[2].lost, 3);
    assert_int_equal(s.cap.r[0].lost, 0);
    assert_int_equal(ctr("collector.seq.lost"), 3);
    /* the other sub-agent of the same device is its own stream */
    sf_begin(&b, 0, 9, 500, 0);
    mc_coll_sflow(c, &SRC, b.b, b.n, NOW);
    assert_int_equal(mc_coll_stream_find(c, &agent, 20, 9)->lost, 0);
    mc_coll_free(c);
    cap_free(&s.cap);
}

/* ---- the corpus: real captures against tshark ---------------------------- */

/*
 * What tshark 4.0 reads from the captures (UDP port 6343 in order; 0 for a
 * datagram tshark does not take for sFlow: the 30-PDU capture holds five
 * NetFlow v5 packets sent to 6343, which we count as bad_version):
 *   tshark -r F -T fields -e sflow_245.numsamples -e sflow_245.sampletype
 *          -e ip.src -e ip.dst -e ip.proto -e ip.len -e sflow.flow_sample.sampling_rate
 *          -e sflow.flow_sample.input_interface -e sflow.flow_sample.output_interface
 *          -e sflow_245.ifindex -e sflow_245.ifinoct
 * (ip.* of the sampled headers; the first one is the transport's when it is
 * IPv4).  Interfaces of format 1 or 2 (top bits) are 0 here, as decoded.
 */
struct corpus_flow {
    const char *src, *dst;
    uint8_t proto;
    uint32_t octets, rate, in, out;
};

struct corpus_file {
    const char *name;
    size_t n_dgrams;
    const uint8_t *samples; /* per datagram */
    uint64_t bad_version;
    size_t n_flow_samples, n_counter_samples;
    size_t n_flows;
    const struct corpus_flow *flows;
    size_t n_if;             /* generic interface counters records */
    uint64_t if_sum, oct_sum; /* sums of their ifIndex and ifInOctets */
};

static const uint8_t ndpi_samples[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static const struct corpus_flow ndpi_flows[] = {
    { "172.21.32.254", "172.21.32.241", 1, 60, 2048, 1048, 1043 },
};
static const uint8_t v6_samples[] = { 1, 2, 4, 4, 2, 2, 1, 1, 1, 2, 4, 3, 2, 3, 1, 1, 2, 4, 3, 8, 4, 2, 1, 1, 2 };
#define V6F(len) { "10.10.10.2", "50.1.1.2", 63, len, 1, 7001, 0 }
static const struct corpus_flow v6_flows[] = {
    V6F(46), V6F(232), V6F(482), V6F(46), V6F(46), V6F(46), V6F(46),
    V6F(46), V6F(46), V6F(46), V6F(46), V6F(46), V6F(46),
};
static const uint8_t pdu_samples[] = { 7, 7, 7, 7, 7, 6, 1, 7, 7, 7, 7, 1, 0, 7, 3,
                                       5, 6, 1, 0, 0, 0, 0, 3, 7, 7, 7, 7, 6, 7, 7 };

static const struct corpus_file corpus[] = {
    { "ndpi_sflow.pcap", 9, ndpi_samples, 0, 1, 8, 1, ndpi_flows, 8, 8316, 307727854 },
    { "tcpdump_sflow-print-v6.pcap", 25, v6_samples, 0, 13, 48, 13, v6_flows, 48, 571048, 1576 },
    { "tcpdump_sflow_multiple_counter_30_pdus.pcap", 30, pdu_samples, 5, 0, 144, 0, NULL, 142, 3548,
      163896183007ull },
};

/* The corpus directory: $MC_SRC/../shared/corpus/sflow, else beside this file's source tree. */
static int corpus_dir(char *out, size_t len)
{
    const char *src = getenv("MC_SRC");
    char root[1024];
    if (src && *src) {
        snprintf(root, sizeof(root), "%s", src);
    } else {
        const char *file = __FILE__, *tail = strstr(file, "tests/unit/collector/test_sflow.c");
        if (!tail || file[0] != '/')
            return -1;
        snprintf(root, sizeof(root), "%.*s", (int)(tail - file), file);
    }
    snprintf(out, len, "%s/../shared/corpus/sflow", root);
    struct stat sb;
    return stat(out, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* The UDP payload to port 6343 of an Ethernet frame (IPv4 or IPv6, optional VLAN), and its source. */
static const uint8_t *sflow_payload(const uint8_t *f, size_t caplen, size_t *len, struct mc_coll_src *src)
{
    size_t off = 12;
    if (caplen < 14)
        return NULL;
    uint16_t type = (uint16_t)(f[off] << 8 | f[off + 1]);
    off += 2;
    if (type == 0x8100 && caplen >= off + 4) {
        type = (uint16_t)(f[off + 2] << 8 | f[off + 3]);
        off += 4;
    }
    memset(src, 0, sizeof(*src));
    if (type == 0x0800 && caplen >= off + 20 && f[off + 9] == 17) {
        memcpy(src->addr, f + off + 12, 4);
        src->ver = 4;
        off += (size_t)(f[off] & 0x0f) * 4;
    } else if (type == 0x86dd && caplen >= off + 40 && f[off + 6] == 17) {
        memcpy(src->addr, f + off + 8, 16);
        src->ver = 6;
        off += 40;
    } else {
        return NULL;
    }
    if (caplen < off + 8 || (f[off + 2] << 8 | f[off + 3]) != 6343)
        return NULL;
    src->port = (uint16_t)(f[off] << 8 | f[off + 1]);
    size_t ulen = (size_t)(f[off + 4] << 8 | f[off + 5]);
    if (ulen < 8 || off + ulen > caplen)
        return NULL;
    *len = ulen - 8;
    return f + off + 8;
}

static uint64_t samples_seen(void)
{
    return ctr("collector.sflow.samples_flow") + ctr("collector.sflow.samples_counters") +
           ctr("collector.sflow.samples_unknown");
}

/* tshark's numsamples of the file's sFlow datagrams, when tshark is here; checks the table against it. */
static void check_table_with_tshark(const char *path, const struct corpus_file *cf)
{
    if (system("tshark -v >/dev/null 2>&1") != 0)
        return;
    char cmd[1600];
    snprintf(cmd, sizeof(cmd), "tshark -r '%s' -Y sflow -T fields -e sflow_245.numsamples 2>/dev/null", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t k = 0;
    unsigned v;
    while (fscanf(f, "%u", &v) == 1) {
        while (k < cf->n_dgrams && cf->samples[k] == 0)
            k++; /* not sFlow to tshark */
        assert_true(k < cf->n_dgrams);
        assert_int_equal(v, cf->samples[k]);
        k++;
    }
    pclose(f);
    assert_true(k > 0);
}

static void test_corpus(void **state)
{
    (void)state;
    char dir[1100];
    if (corpus_dir(dir, sizeof(dir)) < 0) {
        print_message("corpus ../shared/corpus/sflow not found (MC_SRC or the source tree's parent): skipped\n");
        skip();
    }
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const struct corpus_file *cf = &corpus[i];
        char path[1400], errbuf[PCAP_ERRBUF_SIZE];
        snprintf(path, sizeof(path), "%s/%s", dir, cf->name);
        check_table_with_tshark(path, cf);
        pcap_t *pc = pcap_open_offline(path, errbuf);
        if (!pc)
            fail_msg("%s: %s", path, errbuf);
        assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
        struct sink s = { 0 };
        struct mc_coll *c = sink_new(&s);
        struct pcap_pkthdr *h;
        const uint8_t *frame;
        size_t k = 0;
        while (pcap_next_ex(pc, &h, &frame) == 1) {
            size_t len;
            struct mc_coll_src src;
            const uint8_t *dg = sflow_payload(frame, h->caplen, &len, &src);
            if (!dg)
                continue;
            assert_true(k < cf->n_dgrams);
            uint64_t before = samples_seen();
            uint64_t now = (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
            mc_coll_sflow(c, &src, dg, len, now);
            if (samples_seen() - before != cf->samples[k])
                fail_msg("%s datagram %zu: %llu samples, tshark %u", cf->name, k,
                         (unsigned long long)(samples_seen() - before), cf->samples[k]);
            k++;
        }
        pcap_close(pc);
        assert_int_equal(k, cf->n_dgrams);
        /* nothing malformed */
        assert_int_equal(ctr("collector.sflow.too_short"), 0);
        assert_int_equal(ctr("collector.sflow.bad_version"), cf->bad_version);
        assert_int_equal(ctr("collector.sflow.bad_address_type"), 0);
        assert_int_equal(ctr("collector.sflow.bad_count"), 0);
        assert_int_equal(ctr("collector.sflow.samples_truncated"), 0);
        assert_int_equal(ctr("collector.sflow.records_truncated"), 0);
        assert_int_equal(ctr("collector.sflow.samples_unknown"), 0);
        assert_int_equal(ctr("collector.sflow.headers_undecodable"), 0);
        assert_int_equal(ctr("collector.seq.out_of_order"), 0);
        assert_int_equal(ctr("collector.sflow.samples_flow"), cf->n_flow_samples);
        assert_int_equal(ctr("collector.sflow.samples_counters"), cf->n_counter_samples);
        /* the records, in order: flows against tshark's sampled headers, counters by their sums */
        size_t nf = 0, nif = 0;
        uint64_t if_sum = 0, oct_sum = 0;
        char buf[32], a[INET6_ADDRSTRLEN];
        for (size_t r = 0; r < s.cap.n; r++) {
            const struct cap_rec *rec = &s.cap.r[r];
            assert_int_equal(rec->version, 20);
            for (size_t j = 0; j < rec->n; j++)
                assert_false(mc_coll_field_name(rec->f[j].pen, rec->f[j].id, buf, sizeof(buf)) == buf);
            if (rec->options) {
                if_sum += fval(rec, 0, 10);
                oct_sum += fval(rec, MC_PEN_MC, 294);
                nif++;
                continue;
            }
            assert_true(nf < cf->n_flows);
            const struct corpus_flow *x = &cf->flows[nf++];
            assert_string_equal(inet_ntop(AF_INET, rec_addr(rec, 8), a, sizeof(a)), x->src);
            assert_string_equal(inet_ntop(AF_INET, rec_addr(rec, 12), a, sizeof(a)), x->dst);
            assert_int_equal(fval(rec, 0, 4), x->proto);
            assert_int_equal(fval(rec, 0, 7), 0); /* ICMP and protocol 63: no ports */
            assert_int_equal(fval(rec, 0, 11), 0);
            assert_int_equal(fval(rec, 0, 1), x->octets);
            assert_int_equal(fval(rec, 0, 34), x->rate);
            assert_int_equal(fval(rec, 0, 10), x->in);
            assert_int_equal(fval(rec, 0, 14), x->out);
        }
        assert_int_equal(nf, cf->n_flows);
        assert_int_equal(nif, cf->n_if);
        assert_int_equal(if_sum, cf->if_sum);
        assert_int_equal(oct_sum, cf->oct_sum);
        mc_coll_free(c);
        cap_free(&s.cap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_sample_ipv4_agent),
        cmocka_unit_test(test_expanded_ipv6_agent),
        cmocka_unit_test(test_tunnels),
        cmocka_unit_test(test_sampled_ip_and_non_ip),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
