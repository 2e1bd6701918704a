/* test_ipfix.c - IPFIX message bytes: header, sets, sequence numbers, MTU, template refresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

/* Walks one message's sets; returns data records, counts template sets per id in tmpl[0..1]. */
static uint32_t walk(const uint8_t *p, size_t len, int tmpl[2], size_t rec_len4)
{
    uint32_t recs = 0;
    assert_int_equal(rd16(p), 10);
    assert_int_equal(rd16(p + 2), len);
    size_t off = 16;
    while (off < len) {
        uint32_t id = rd16(p + off), sl = rd16(p + off + 2);
        assert_true(sl >= 4 && off + sl <= len);
        if (id == 2) {
            uint32_t tid = rd16(p + off + 4);
            assert_true(tid == 256 || tid == 257);
            tmpl[tid - 256]++;
        } else if (id == 256 && rec_len4) {
            assert_int_equal((sl - 4) % rec_len4, 0);
            recs += (sl - 4) / rec_len4;
        } else if (id == 256 || id == 257) {
            recs += 0; /* caller knows the length */
        } else {
            fail_msg("unexpected set id %u", id);
        }
        off += sl;
    }
    assert_int_equal(off, len);
    return recs;
}

static void test_biflow_tcp4_bytes(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = 1;
    cfg.domain_id = 0x01020304;
    cfg.ingress_if = 3;
    cfg.egress_if = 7;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    struct mc_flow f = tcp4_flow();
    mc_exporter_flow(e, &f, T0 + 1500);
    assert_int_equal(log.n, 0); /* buffered */
    mc_exporter_flush(e, T0 + 2000);
    assert_int_equal(log.n, 1);
    const uint8_t *p = log.data[0];
    size_t tl = 4 + 16 * 4 + 6 * 8;
    assert_int_equal(log.len[0], 16 + 4 + tl + 4 + 96);
    assert_int_equal(rd16(p), 10);
    assert_int_equal(rd16(p + 2), log.len[0]);
    assert_int_equal(rd32(p + 4), (T0 + 2000) / 1000);
    assert_int_equal(rd32(p + 8), 0);
    assert_int_equal(rd32(p + 12), 0x01020304);
    assert_int_equal(rd16(p + 16), 2);
    assert_int_equal(rd16(p + 18), 4 + tl);
    const uint8_t *d = p + 16 + 4 + tl;
    assert_int_equal(rd16(d), 256);
    assert_int_equal(rd16(d + 2), 4 + 96);
    const uint8_t *r = d + 4;
    assert_int_equal(rd32(r), 0x0a000001);
    assert_int_equal(rd32(r + 4), 0xc0000250);
    assert_int_equal(rd16(r + 8), 40000);
    assert_int_equal(rd16(r + 10), 80);
    assert_int_equal(r[12], 6);
    assert_int_equal(r[13], 0x10);
    assert_int_equal(rd16(r + 14), 0x1b);
    assert_int_equal(rd64(r + 16), 10);
    assert_int_equal(rd64(r + 24), 1000);
    assert_int_equal(rd64(r + 32), T0);
    assert_int_equal(rd64(r + 40), T0 + 900);
    assert_int_equal(rd16(r + 48), 100);
    assert_int_equal(rd16(r + 50), 0);
    assert_int_equal(rd32(r + 52), 3);
    assert_int_equal(rd32(r + 56), 7);
    assert_int_equal(r[60], MC_END_FIN);
    assert_int_equal(rd64(r + 61), 8);
    assert_int_equal(rd64(r + 69), 6000);
    assert_int_equal(rd16(r + 77), 0x1b);
    assert_int_equal(r[79], 0x20);
    assert_int_equal(rd64(r + 80), T0 + 20);
    assert_int_equal(rd64(r + 88), T0 + 950);
    /* second message: sequence counts the record already sent, no template */
    mc_exporter_flow(e, &f, T0 + 2500);
    mc_exporter_flush(e, T0 + 2500);
    assert_int_equal(log.n, 2);
    assert_int_equal(rd32(log.data[1] + 8), 1);
    assert_int_equal(rd16(log.data[1] + 16), 256);
    assert_int_equal(log.len[1], 16 + 4 + 96);
    assert_int_equal(MC_CTR_GET(export, templates) >= 1, 1);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_ipv6_and_icmp(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = 1;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    struct mc_flow f6 = udp6_flow(), fi = icmp4_flow();
    mc_exporter_flow(e, &f6, T0 + 10);
    mc_exporter_flow(e, &fi, T0 + 10);
    mc_exporter_flush(e, T0 + 10);
    assert_int_equal(log.n, 2);
    /* v4 buffer leaves first (index order); its sequence is 0, the v6 one's 1 */
    const uint8_t *p4 = log.data[0], *p6 = log.data[1];
    assert_int_equal(rd32(p4 + 8), 0);
    assert_int_equal(rd32(p6 + 8), 1);
    assert_int_equal(rd16(p6 + 20), 257);
    size_t tl6 = 4 + 16 * 4 + 6 * 8;
    const uint8_t *r = p6 + 16 + 4 + tl6 + 4;
    assert_int_equal(rd16(p6 + 16 + 4 + tl6), 257);
    assert_memory_equal(r, f6.key.addr[0].b, 16);
    assert_memory_equal(r + 16, f6.key.addr[1].b, 16);
    assert_int_equal(rd16(r + 32), 5353);
    assert_int_equal(r[36], 17);
    /* ICMP echo with no reply: icmpTypeCodeIPv4 0x0800, reverse counters and times 0 */
    size_t tl4 = tl6;
    r = p4 + 16 + 4 + tl4 + 4;
    assert_int_equal(rd16(r + 50), 0x0800);
    assert_int_equal(rd64(r + 32), T0 + 100);
    assert_int_equal(rd64(r + 40), T0 + 2100);
    assert_int_equal(rd64(r + 61), 0);
    assert_int_equal(rd64(r + 80), 0);
    assert_int_equal(rd64(r + 88), 0);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_uniflow_records(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg); /* IPFIX defaults to uniflow records: nfdump and most collectors
                                        read RFC 5103 reverse elements as forward ones */
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    struct mc_flow f = tcp4_flow(), fi = icmp4_flow();
    mc_exporter_flow(e, &f, T0);
    mc_exporter_flow(e, &fi, T0); /* 0 reverse packets: one record */
    mc_exporter_flush(e, T0);
    assert_int_equal(log.n, 1);
    const uint8_t *p = log.data[0];
    size_t tl = 4 + 16 * 4, rl = 61;
    assert_int_equal(log.len[0], 16 + 4 + tl + 4 + 3 * rl);
    const uint8_t *r = p + 16 + 4 + tl + 4 + rl; /* the reverse record of the TCP flow */
    assert_int_equal(rd32(r), 0xc0000250);
    assert_int_equal(rd32(r + 4), 0x0a000001);
    assert_int_equal(rd16(r + 8), 80);
    assert_int_equal(rd16(r + 10), 40000);
    assert_int_equal(rd64(r + 16), 8);
    assert_int_equal(rd64(r + 24), 6000);
    assert_int_equal(rd64(r + 32), T0 + 20);
    assert_int_equal(rd64(r + 40), T0 + 950);
    mc_exporter_flow(e, &f, T0);
    mc_exporter_flush(e, T0);
    assert_int_equal(rd32(log.data[1] + 8), 3);
    mc_exporter_free(e);
    pktlog_free(&log);
}

/* 1000 flows of both versions: MTU, record totals, sequences and template refresh by packets. */
static void test_mtu_sequence_refresh(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = 1;
    cfg.template_refresh_pkts = 5;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    for (int i = 0; i < 1000; i++) {
        struct mc_flow f = i % 3 ? tcp4_flow() : udp6_flow();
        f.key.port[0] = (uint16_t)(1024 + i);
        mc_exporter_flow(e, &f, T0 + (uint64_t)i);
    }
    mc_exporter_flush(e, T0 + 1000);
    uint64_t seq = 0;
    uint32_t since[2] = { 99, 99 };
    int first[2] = { 1, 1 };
    for (size_t k = 0; k < log.n; k++) {
        const uint8_t *p = log.data[k];
        assert_true(log.len[k] <= 1400);
        assert_int_equal(rd32(p + 8), (uint32_t)seq);
        int tm[2] = { 0, 0 };
        walk(p, log.len[k], tm, 0);
        /* the data set is the last set; its template id tells v4 from v6 */
        size_t off = 16;
        uint32_t id = 0, sl = 0;
        while (off < log.len[k]) {
            id = rd16(p + off);
            sl = rd16(p + off + 2);
            if (id != 2)
                break;
            off += sl;
        }
        int v = (int)id - 256;
        assert_true(v == 0 || v == 1);
        size_t rl = v ? 96 + 24 : 96;
        assert_int_equal((sl - 4) % rl, 0);
        seq += (sl - 4) / rl;
        if (first[v])
            assert_int_equal(tm[v], 1);
        first[v] = 0;
        if (tm[v])
            since[v] = 0;
        else
            assert_true(++since[v] < 5);
        /* full packets really are full: another record would not fit */
        if (k + 2 < log.n)
            assert_true(log.len[k] + rl > 1400);
    }
    assert_int_equal(seq, 1000);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_refresh_by_time_and_tick(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = 1;
    cfg.template_refresh_ms = 1000;
    cfg.template_refresh_pkts = 0;
    cfg.flush_ms = 200;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    struct mc_flow f = tcp4_flow();
    int tm[2];
    mc_exporter_flow(e, &f, T0);
    mc_exporter_tick(e, T0 + 100);
    assert_int_equal(log.n, 0);
    mc_exporter_tick(e, T0 + 200); /* flush_ms reached */
    assert_int_equal(log.n, 1);
    mc_exporter_flow(e, &f, T0 + 500);
    mc_exporter_tick(e, T0 + 800);
    assert_int_equal(log.n, 2);
    memset(tm, 0, sizeof(tm));
    walk(log.data[1], log.len[1], tm, 0);
    assert_int_equal(tm[0], 0);
    mc_exporter_flow(e, &f, T0 + 1100);
    mc_exporter_flush(e, T0 + 1100);
    memset(tm, 0, sizeof(tm));
    walk(log.data[2], log.len[2], tm, 0);
    assert_int_equal(tm[0], 1);
    /* idle: the tick alone resends the template in a template-only message */
    mc_exporter_tick(e, T0 + 2200);
    assert_int_equal(log.n, 4);
    memset(tm, 0, sizeof(tm));
    assert_int_equal(walk(log.data[3], log.len[3], tm, 0), 0);
    assert_int_equal(tm[0], 1);
    assert_int_equal(rd32(log.data[3] + 8), 3);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_tunnel_fields(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = 1; /* one record to read */
    cfg.template_spec = "sourceIPv4Address tunnelType tunnelId tunnelSourceIPv4Address "
                        "tunnelDestinationIPv4Address layer2SegmentId userName mplsTopLabelStackSection "
                        "dot1qCustomerVlanId ipVersion";
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    struct mc_flow f = tcp4_flow();
    struct mc_flow_ext x;
    memset(&x, 0, sizeof(x));
    x.outer_ver = 4;
    set4(&x.outer_src, 198, 51, 100, 1);
    set4(&x.outer_dst, 198, 51, 100, 2);
    x.mpls_top = 1234;
    struct mc_flow_identity id;
    memset(&id, 0, sizeof(id));
    memcpy(id.user, "alice", 6);
    x.id = &id;
    f.ext = &x;
    f.key.tunnel = MC_TUNNEL_VXLAN;
    f.key.tunnel_id = 0xabcdef;
    f.key.vlan[1] = 42;
    mc_exporter_flow(e, &f, T0);
    mc_exporter_flush(e, T0);
    const uint8_t *p = log.data[0];
    /* template: 10 fields, 4 of them enterprise (PEN 32473) */
    size_t tl = 4 + 6 * 4 + 4 * 8;
    assert_int_equal(rd16(p + 18), 4 + tl);
    assert_int_equal(rd16(p + 24), 8);
    assert_int_equal(rd16(p + 28), 0x8001);
    assert_int_equal(rd32(p + 32), 32473);
    const uint8_t *r = p + 16 + 4 + tl + 4;
    assert_int_equal(rd32(r), 0x0a000001);
    assert_int_equal(r[4], MC_TUNNEL_VXLAN);
    assert_int_equal(rd32(r + 5), 0xabcdef);
    assert_int_equal(rd32(r + 9), 0xc6336401);
    assert_int_equal(rd32(r + 13), 0xc6336402);
    assert_int_equal(rd64(r + 17), 0x0100000000abcdefull);
    assert_int_equal(r[25], 5);
    assert_memory_equal(r + 26, "alice", 5);
    assert_int_equal(r[31] << 16 | r[32] << 8 | r[33], 1234 << 4);
    assert_int_equal(rd16(r + 34), 42);
    assert_int_equal(r[36], 4);
    assert_int_equal(log.len[0], (size_t)(r + 37 - p));
    mc_exporter_free(e);
    pktlog_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_biflow_tcp4_bytes),   cmocka_unit_test(test_ipv6_and_icmp),
        cmocka_unit_test(test_uniflow_records),     cmocka_unit_test(test_mtu_sequence_refresh),
        cmocka_unit_test(test_refresh_by_time_and_tick), cmocka_unit_test(test_tunnel_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
