/*
 * test_decode.c - mc_decode_packet() end to end: frames built layer by layer,
 * the fields the flow layer keys on, the three results, and every test frame
 * truncated at every offset (ASan checks the reads).
 */
#include "unit/decode/dtest.h"

/* A frame under construction; IP/UDP/GRE/GTP/PPPoE lengths are patched by fin(). */
struct fb {
    uint8_t b[512];
    size_t n;
    size_t ip_off;      /* outermost IP header offset, SIZE_MAX when none */
    size_t ip_min;      /* fixed header size of that IP header */
    size_t fix[8];      /* offsets of length fields to patch, innermost last */
    uint8_t fix_kind[8];
    size_t fix_base[8]; /* offset the length counts from */
    int nfix;
};

enum { FIX_IPV4 = 1, FIX_IPV6, FIX_UDP, FIX_GTP, FIX_PPPOE };

static void put(struct fb *f, const uint8_t *p, size_t n)
{
    assert_true(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void u8(struct fb *f, unsigned v) { uint8_t x = (uint8_t)v; put(f, &x, 1); }
static void be16(struct fb *f, unsigned v) { u8(f, v >> 8); u8(f, v & 0xff); }
static void be32(struct fb *f, uint32_t v) { be16(f, v >> 16); be16(f, v & 0xffff); }
static void fixup(struct fb *f, int kind, size_t at, size_t base)
{
    f->fix[f->nfix] = at;
    f->fix_kind[f->nfix] = (uint8_t)kind;
    f->fix_base[f->nfix] = base;
    f->nfix++;
}
static void start(struct fb *f)
{
    memset(f, 0, sizeof(*f));
    f->ip_off = SIZE_MAX;
}
static void eth(struct fb *f, unsigned type)
{
    static const uint8_t macs[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };
    put(f, macs, 12);
    be16(f, type);
}
static void vlan(struct fb *f, unsigned vid, unsigned type) { be16(f, vid); be16(f, type); }
static void mark_ip(struct fb *f, size_t min)
{
    if (f->ip_off == SIZE_MAX) {
        f->ip_off = f->n;
        f->ip_min = min;
    }
}
static void ipv4(struct fb *f, unsigned proto, uint32_t src, uint32_t dst, unsigned id, unsigned frag)
{
    mark_ip(f, 20);
    size_t at = f->n;
    u8(f, 0x45); u8(f, 0x28);
    fixup(f, FIX_IPV4, f->n, at);
    be16(f, 0); be16(f, id); be16(f, frag); u8(f, 63); u8(f, proto); be16(f, 0);
    be32(f, src); be32(f, dst);
}
static void ipv6(struct fb *f, unsigned next, uint8_t last_src, uint8_t last_dst)
{
    mark_ip(f, 40);
    be32(f, 0x60000000u | (0x2eu << 20) | 0x12345);
    fixup(f, FIX_IPV6, f->n, f->n + 36); /* payload length counts from the header's end */
    be16(f, 0); u8(f, next); u8(f, 64);
    uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    a[15] = last_src;
    put(f, a, 16);
    a[15] = last_dst;
    put(f, a, 16);
}
static void tcp(struct fb *f, unsigned sport, unsigned dport, unsigned flags)
{
    be16(f, sport); be16(f, dport); be32(f, 1); be32(f, 0); u8(f, 0x50); u8(f, flags);
    be16(f, 0xffff); be32(f, 0);
}
static void udp(struct fb *f, unsigned sport, unsigned dport)
{
    size_t at = f->n;
    be16(f, sport); be16(f, dport);
    fixup(f, FIX_UDP, f->n, at);
    be16(f, 0); be16(f, 0);
}
static void data(struct fb *f, const char *s) { put(f, (const uint8_t *)s, strlen(s)); }
/* Patches every length, innermost first so outer lengths see the final size. */
static void fin(struct fb *f)
{
    for (int i = f->nfix - 1; i >= 0; i--) {
        size_t v = f->n - f->fix_base[i];
        f->b[f->fix[i]] = (uint8_t)(v >> 8);
        f->b[f->fix[i] + 1] = (uint8_t)v;
    }
}

static int decode(struct mc_pkt *pkt, int dlt, const uint8_t *b, size_t n)
{
    memset(pkt, 0, sizeof(*pkt));
    pkt->linktype = dlt;
    pkt->caplen = pkt->wirelen = (uint32_t)n;
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, b, n);
    int r = mc_decode_packet(pkt, copy, n);
    /* payload must not outlive the copy in callers; check it lies inside */
    if (pkt->payload)
        assert_true(pkt->payload >= copy && pkt->payload + pkt->payload_len <= copy + n);
    free(copy);
    pkt->payload = NULL;
    return r;
}

/* Every prefix decodes to one of the three results; past the outer IP fixed header, to IP. */
static void sweep(const struct fb *f, int dlt)
{
    struct mc_pkt pkt;
    for (size_t cut = 0; cut <= f->n; cut++) {
        int r = decode(&pkt, dlt, f->b, cut);
        assert_true(r == MC_DECODED_IP || r == MC_DECODED_NON_IP || r == MC_DECODED_BAD);
        if (f->ip_off != SIZE_MAX && cut >= f->ip_off + f->ip_min && r != MC_DECODED_IP)
            fail_msg("cut at %zu of %zu: result %d, want IP", cut, f->n, r);
    }
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void test_ether_ipv4_tcp(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 6, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1, 0x4000);
    tcp(&f, 40000, 443, 0x18);
    data(&f, "hello");
    fin(&f);
    size_t len = f.n;
    while (f.n < 60)
        u8(&f, 0); /* Ethernet padding: cut away by the IP total length */
    uint64_t before = dtest_ctr("decode.ip.frames");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(dtest_ctr("decode.ip.frames"), before + 1);
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.proto, 6);
    assert_int_equal(pkt.sport, 40000);
    assert_int_equal(pkt.dport, 443);
    assert_int_equal(pkt.tcp_flags, 0x18);
    assert_int_equal(pkt.has_l4, 1);
    assert_int_equal(pkt.ip_len, len - 14);
    assert_int_equal(pkt.tos, 0x28);
    assert_int_equal(pkt.ttl, 63);
    assert_int_equal(pkt.src.b[0], 10);
    assert_int_equal(pkt.src.b[3], 1);
    assert_int_equal(pkt.dst.b[3], 2);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_NONE);
    assert_int_equal(pkt.linktype, 1);
    assert_int_equal(pkt.caplen, f.n);
    sweep(&f, 1);
}

static void test_qinq(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x88a8);
    vlan(&f, 0x2064, 0x8100); /* PCP 1, VID 100 */
    vlan(&f, 200, 0x0800);
    ipv4(&f, 17, IP4(192, 168, 1, 1), IP4(192, 168, 1, 2), 7, 0);
    udp(&f, 5353, 53);
    data(&f, "q");
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.n_vlan, 2);
    assert_int_equal(pkt.vlan[0], 100);
    assert_int_equal(pkt.vlan[1], 200);
    assert_int_equal(pkt.dport, 53);
    assert_int_equal(pkt.payload_len, 1);
    sweep(&f, 1);
}

static void test_mpls(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x8847);
    be32(&f, (1000u << 12) | 0x40);
    be32(&f, (2000u << 12) | 0x100 | 0x40);
    ipv4(&f, 1, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 9, 0);
    be32(&f, 0x08000000); /* ICMP echo request */
    be32(&f, 0x00010001);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.n_mpls, 2);
    assert_int_equal(pkt.mpls_top, 1000);
    assert_int_equal(pkt.proto, 1);
    assert_int_equal(pkt.icmp_type, 8);
    assert_int_equal(pkt.sport, 0);
    sweep(&f, 1);
}

static void test_pppoe_ipv6(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x8864);
    u8(&f, 0x11); u8(&f, 0); be16(&f, 0xbeef);
    fixup(&f, FIX_PPPOE, f.n, f.n + 2);
    be16(&f, 0);
    be16(&f, 0x0057);
    ipv6(&f, 17, 1, 2);
    udp(&f, 546, 547);
    data(&f, "dhcp");
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.pppoe_session, 0xbeef);
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.tos, 0x2e);
    assert_int_equal(pkt.ip_len, 40 + 8 + 4);
    assert_int_equal(pkt.sport, 546);
    assert_int_equal(pkt.payload_len, 4);
    sweep(&f, 1);
}

static void test_gre_key_ipv4(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 47, IP4(198, 51, 100, 1), IP4(198, 51, 100, 2), 1, 0);
    be16(&f, 0x2000); be16(&f, 0x0800); be32(&f, 0xabcd);
    ipv4(&f, 6, IP4(10, 1, 1, 1), IP4(10, 2, 2, 2), 2, 0);
    tcp(&f, 1234, 22, 0x02);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_GRE);
    assert_int_equal(pkt.tunnel_id, 0xabcd);
    assert_int_equal(pkt.tunnel_depth, 1);
    assert_int_equal(pkt.outer_ver, 4);
    assert_int_equal(pkt.outer_src.b[0], 198);
    assert_int_equal(pkt.outer_src.b[3], 1);
    assert_int_equal(pkt.outer_dst.b[3], 2);
    assert_int_equal(pkt.src.b[0], 10);
    assert_int_equal(pkt.proto, 6);
    assert_int_equal(pkt.dport, 22);
    assert_int_equal(pkt.ip_len, 40);
    sweep(&f, 1);
}

static void test_gtpu_ext_ipv6(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 17, IP4(172, 16, 0, 1), IP4(172, 16, 0, 2), 1, 0);
    udp(&f, 2152, 2152);
    u8(&f, 0x34); u8(&f, 0xff);
    fixup(&f, FIX_GTP, f.n, f.n + 6);
    be16(&f, 0); be32(&f, 0x11223344);
    be16(&f, 0); u8(&f, 0); u8(&f, 0x85);       /* seq, N-PDU, next: PDU session container */
    u8(&f, 1); u8(&f, 0x10); u8(&f, 0x09); u8(&f, 0); /* one 4-octet extension */
    ipv6(&f, 6, 0x11, 0x22);
    tcp(&f, 50000, 80, 0x10);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_GTPU);
    assert_int_equal(pkt.tunnel_id, 0x11223344);
    assert_int_equal(pkt.outer_ver, 4);
    assert_int_equal(pkt.outer_src.b[0], 172);
    assert_int_equal(pkt.outer_src.b[3], 1);
    assert_int_equal(pkt.outer_dst.b[3], 2);
    assert_int_equal(pkt.src.b[15], 0x11);
    assert_int_equal(pkt.dst.b[15], 0x22);
    assert_int_equal(pkt.sport, 50000);
    assert_int_equal(pkt.dport, 80);
    assert_int_equal(pkt.ip_len, 60);
    sweep(&f, 1);
}

static void test_vxlan_arp(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 17, IP4(10, 9, 9, 1), IP4(10, 9, 9, 2), 1, 0);
    udp(&f, 33333, 4789);
    be32(&f, 0x08000000); be32(&f, 42u << 8);
    eth(&f, 0x0806);
    be16(&f, 1); be16(&f, 0x0800); u8(&f, 6); u8(&f, 4); be16(&f, 1);
    for (int i = 0; i < 20; i++)
        u8(&f, i);
    fin(&f);
    uint64_t arp = dtest_ctr("decode.nonip.arp");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(dtest_ctr("decode.nonip.arp"), arp + 1);
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.sport, 33333);
    assert_int_equal(pkt.dport, 4789);
    assert_int_equal(pkt.src.b[3], 1);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_NONE);
    assert_int_equal(pkt.tunnel_depth, 0);
    sweep(&f, 1);
}

static void test_ipv4_fragments(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0x4242, 0x2000);
    udp(&f, 1000, 2000);
    data(&f, "first fragment");
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.frag, 1);
    assert_int_equal(pkt.frag_first, 1);
    assert_int_equal(pkt.frag_ver, 4);
    assert_int_equal(pkt.frag_proto, 17);
    assert_int_equal(pkt.frag_id, 0x4242);
    assert_int_equal(pkt.frag_src.b[3], 1);
    assert_int_equal(pkt.frag_dst.b[3], 2);
    assert_int_equal(pkt.has_l4, 1);
    assert_int_equal(pkt.dport, 2000);
    sweep(&f, 1);

    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0x4242, 3); /* offset 24 octets, last */
    data(&f, "rest of the datagram");
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.frag, 1);
    assert_int_equal(pkt.frag_first, 0);
    assert_int_equal(pkt.frag_id, 0x4242);
    assert_int_equal(pkt.frag_proto, 17);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.has_l4, 0);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.ip_len, 20 + 20);
    sweep(&f, 1);
}

static void test_ipv6_fragment(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    for (int later = 0; later < 2; later++) {
        start(&f);
        eth(&f, 0x86dd);
        ipv6(&f, 44, 1, 2);
        u8(&f, 17); u8(&f, 0); be16(&f, later ? (100u << 3) : 1); be32(&f, 0xcafef00d);
        if (!later)
            udp(&f, 7, 9);
        data(&f, "payload");
        fin(&f);
        assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
        assert_int_equal(pkt.frag, 1);
        assert_int_equal(pkt.frag_first, !later);
        assert_int_equal(pkt.frag_ver, 6);
        assert_int_equal(pkt.frag_id, 0xcafef00d);
        assert_int_equal(pkt.frag_proto, 17);
        assert_int_equal(pkt.proto, 17);
        assert_int_equal(pkt.has_l4, !later);
        assert_int_equal(pkt.frag_src.b[15], 1);
        assert_int_equal(pkt.ip_len, f.n - 14);
        sweep(&f, 1);
    }
}

static void test_non_ip_and_bad(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0806);
    be32(&f, 0x00010800);
    fin(&f);
    uint64_t nonip = dtest_ctr("decode.nonip.frames");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_NON_IP);
    assert_int_equal(dtest_ctr("decode.nonip.frames"), nonip + 1);
    sweep(&f, 1);

    start(&f);
    eth(&f, 0x88cc);
    be32(&f, 0x02070400);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_NON_IP);

    start(&f);
    eth(&f, 0x8863); /* PPPoE discovery */
    be32(&f, 0x11090000);
    uint64_t disc = dtest_ctr("decode.nonip.pppoe_discovery");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_NON_IP);
    assert_int_equal(dtest_ctr("decode.nonip.pppoe_discovery"), disc + 1);

    uint64_t bad = dtest_ctr("decode.bad.frames");
    assert_int_equal(decode(&pkt, 1, f.b, 10), MC_DECODED_BAD); /* truncated Ethernet */
    assert_int_equal(dtest_ctr("decode.bad.frames"), bad + 1);

    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 6, 1, 2, 3, 0);
    fin(&f);
    f.b[14] = 0x65; /* version 6 in an IPv4 ethertype: still an IPv4 frame, metered as read */
    uint64_t unusable = dtest_ctr("decode.ipv4.header_unusable");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(dtest_ctr("decode.ipv4.header_unusable"), unusable + 1);
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.has_l4, 0);

    uint64_t dlt = dtest_ctr("decode.unsupported_dlt");
    assert_int_equal(decode(&pkt, 147, f.b, f.n), MC_DECODED_BAD);
    assert_int_equal(dtest_ctr("decode.unsupported_dlt"), dlt + 1);

    /* 40 stacked tags hit the depth cap */
    start(&f);
    eth(&f, 0x8100);
    for (int i = 0; i < 40; i++)
        vlan(&f, (unsigned)i, 0x8100);
    uint64_t depth = dtest_ctr("decode.depth_exceeded");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_BAD);
    assert_int_equal(dtest_ctr("decode.depth_exceeded"), depth + 1);
    assert_int_equal(pkt.depth, MC_DECODE_MAX_DEPTH);
}

static void test_inner_failure_keeps_outer(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 41, IP4(192, 0, 2, 1), IP4(192, 0, 2, 2), 1, 0); /* 6in4 */
    ipv6(&f, 6, 1, 2);
    tcp(&f, 1, 2, 0x02);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_IPIP);
    assert_int_equal(pkt.outer_src.b[3], 1);
    sweep(&f, 1);
    f.b[34] = 0x45; /* inner header claims IPv4 inside a 6in4 packet */
    uint64_t bv = dtest_ctr("decode.ipv6.bad_version");
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(dtest_ctr("decode.ipv6.bad_version"), bv + 1);
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.proto, 41);
    assert_int_equal(pkt.src.b[0], 192);
    assert_int_equal(pkt.tunnel_depth, 0);

    /* GTP echo stays in its UDP flow */
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1, 0);
    udp(&f, 2152, 2152);
    u8(&f, 0x32); u8(&f, 1); be16(&f, 4); be32(&f, 0); be32(&f, 0x00010000);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.dport, 2152);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_NONE);
    sweep(&f, 1);
}

static void test_other_dlts(void **state)
{
    (void)state;
    struct fb f, ip;
    struct mc_pkt pkt;
    start(&ip);
    ipv4(&ip, 17, IP4(127, 0, 0, 1), IP4(127, 0, 0, 1), 1, 0);
    udp(&ip, 1, 2);
    fin(&ip);
    static const struct {
        int dlt;
        uint8_t hdr[20];
        size_t n;
    } links[] = {
        { 113, { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00 }, 16 },
        { 276, { 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0 }, 20 },
        { 0, { 2, 0, 0, 0 }, 4 },
        { 108, { 0, 0, 0, 2 }, 4 },
        { 12, { 0 }, 0 },
        { 101, { 0 }, 0 },
        { 228, { 0 }, 0 },
    };
    for (size_t i = 0; i < DTEST_N(links); i++) {
        start(&f);
        put(&f, links[i].hdr, links[i].n);
        f.ip_off = f.n;
        f.ip_min = 20;
        put(&f, ip.b, ip.n);
        assert_int_equal(decode(&pkt, links[i].dlt, f.b, f.n), MC_DECODED_IP);
        assert_int_equal(pkt.dport, 2);
        sweep(&f, links[i].dlt);
    }
}

static void test_erspan_nested(void **state)
{
    (void)state;
    struct fb f;
    struct mc_pkt pkt;
    start(&f);
    eth(&f, 0x0800);
    ipv4(&f, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1, 0);
    be16(&f, 0x1000); be16(&f, 0x88be); be32(&f, 5); /* GRE with sequence: ERSPAN II */
    be16(&f, 0x1000 | 10); be16(&f, 77); be32(&f, 0);
    eth(&f, 0x8100);
    vlan(&f, 10, 0x0800);
    ipv4(&f, 6, IP4(10, 10, 0, 1), IP4(10, 10, 0, 2), 1, 0);
    tcp(&f, 1111, 80, 0x11);
    fin(&f);
    assert_int_equal(decode(&pkt, 1, f.b, f.n), MC_DECODED_IP);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_ERSPAN);
    assert_int_equal(pkt.tunnel_id, 77);
    assert_int_equal(pkt.n_vlan, 1);
    assert_int_equal(pkt.vlan[0], 10);
    assert_int_equal(pkt.src.b[1], 10);
    assert_int_equal(pkt.dport, 80);
    sweep(&f, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ether_ipv4_tcp),  cmocka_unit_test(test_qinq),
        cmocka_unit_test(test_mpls),            cmocka_unit_test(test_pppoe_ipv6),
        cmocka_unit_test(test_gre_key_ipv4),    cmocka_unit_test(test_gtpu_ext_ipv6),
        cmocka_unit_test(test_vxlan_arp),       cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_fragment),   cmocka_unit_test(test_non_ip_and_bad),
        cmocka_unit_test(test_inner_failure_keeps_outer), cmocka_unit_test(test_other_dlts),
        cmocka_unit_test(test_erspan_nested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
