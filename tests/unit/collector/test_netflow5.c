/* test_netflow5.c - NetFlow v5 packets: the fixed record as IANA elements, times from sysUpTime,
 * the sampling interval, flow sequence gaps, bad counts, and a round trip through the probe's exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/collector/helpers.h"
#include "unit/export/helpers.h"

static void nf5_hdr(struct bb *b, uint16_t count, uint32_t up, uint32_t secs, uint32_t nsecs, uint32_t seq)
{
    b->n = 0;
    put16(b, 5), put16(b, count), put32(b, up), put32(b, secs), put32(b, nsecs), put32(b, seq);
    put8(b, 1), put8(b, 2), put16(b, 0x4000 | 100); /* engine 1/2; mode 1, 1 in 100 */
}

static void nf5_rec(struct bb *b, uint8_t k)
{
    put32(b, 0x0a000000u | k), put32(b, 0xc0000201), put32(b, 0xc0000202); /* src dst nexthop */
    put16(b, 3), put16(b, 4), put32(b, 10), put32(b, 1500);               /* in out pkts octets */
    put32(b, 1000), put32(b, 9000);                                         /* First Last */
    put16(b, 40000), put16(b, 443), put8(b, 0), put8(b, 0x1b), put8(b, 6), put8(b, 0x20);
    put16(b, 64500), put16(b, 64501), put8(b, 24), put8(b, 16), put16(b, 0);
}

/* A captured record's sysUpTime value as epoch ms, through the decoders' own conversion. */
static uint64_t cap_uptime_ms(const struct cap_rec *c, uint32_t up)
{
    struct mc_coll_record r = { .export_secs = c->secs, .export_nsecs = c->nsecs, .sys_uptime = c->uptime };
    return mc_coll_uptime_ms(&r, up);
}

static void test_records(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    nf5_hdr(&b, 2, 10000, 1700000000, 500000000, 0);
    nf5_rec(&b, 1);
    nf5_rec(&b, 2);
    assert_int_equal(mc_coll_nf5(c, &SRC, b.b, b.n, 0), 2);
    assert_int_equal(cap.n, 2);
    const struct cap_rec *r = &cap.r[0];
    assert_int_equal(r->version, 5);
    assert_int_equal(r->domain, 0x0102);
    assert_int_equal(fval(r, 0, 8), 0x0a000001);
    assert_int_equal(fval(&cap.r[1], 0, 8), 0x0a000002);
    assert_int_equal(fval(r, 0, 12), 0xc0000201);
    assert_int_equal(fval(r, 0, 15), 0xc0000202);
    assert_int_equal(fval(r, 0, 10), 3);
    assert_int_equal(fval(r, 0, 14), 4);
    assert_int_equal(fval(r, 0, 2), 10);
    assert_int_equal(fval(r, 0, 1), 1500);
    assert_int_equal(fval(r, 0, 7), 40000);
    assert_int_equal(fval(r, 0, 11), 443);
    assert_int_equal(fval(r, 0, 6), 0x1b);
    assert_int_equal(fval(r, 0, 4), 6);
    assert_int_equal(fval(r, 0, 5), 0x20);
    assert_int_equal(fval(r, 0, 16), 64500);
    assert_int_equal(fval(r, 0, 17), 64501);
    assert_int_equal(fval(r, 0, 9), 24);
    assert_int_equal(fval(r, 0, 13), 16);
    assert_int_equal(r->sampling, 100);
    assert_int_equal(r->n, 18); /* the wire's fields, pads left out */
    /* First and Last as sent; header time 1700000000.5 s at uptime 10 s: First (1 s) was 9 s before */
    assert_int_equal(fval(r, 0, 22), 1000);
    assert_int_equal(fval(r, 0, 21), 9000);
    assert_int_equal(cap_uptime_ms(r, 1000), 1700000000500ull - 9000);
    assert_int_equal(cap_uptime_ms(r, 9000), 1700000000500ull - 1000);
    /* the flow sequence counts flows: 2 sent, the next packet says 5, 3 lost */
    nf5_hdr(&b, 1, 10000, 1700000000, 0, 5);
    nf5_rec(&b, 3);
    mc_coll_nf5(c, &SRC, b.b, b.n, 0);
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 5, 0x0102);
    assert_int_equal(st->lost, 3);
    assert_int_equal(cap.r[2].lost, 3);
    assert_int_equal(st->next_seq, 6);
    /* sysUpTime wrapped between First and the header */
    nf5_hdr(&b, 1, 500, 1700000000, 0, 6);
    nf5_rec(&b, 4);
    b.b[24 + 24] = 0xff, b.b[24 + 25] = 0xff, b.b[24 + 26] = 0xfe, b.b[24 + 27] = 0x0c; /* First = 2^32 - 500 */
    mc_coll_nf5(c, &SRC, b.b, b.n, 0);
    assert_int_equal(cap_uptime_ms(&cap.r[3], (uint32_t)fval(&cap.r[3], 0, 22)), 1700000000000ull - 1000);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_errors(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    nf5_hdr(&b, 2, 1, 1, 0, 0);
    nf5_rec(&b, 1);
    nf5_rec(&b, 2);
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        assert_int_equal(mc_coll_nf5(c, &SRC, copy, n, 0), -1);
        free(copy);
    }
    assert_int_equal(ctr("collector.nf5.too_short"), 24);
    assert_int_equal(ctr("collector.nf5.bad_count"), 2 * 48);
    assert_int_equal(cap.n, 0);
    patch16(&b, 2, 0);
    assert_int_equal(mc_coll_nf5(c, &SRC, b.b, b.n, 0), -1);
    patch16(&b, 2, 31);
    assert_int_equal(mc_coll_nf5(c, &SRC, b.b, b.n, 0), -1);
    assert_int_equal(ctr("collector.nf5.bad_count"), 2 * 48 + 2);
    patch16(&b, 0, 7);
    assert_int_equal(mc_coll_nf5(c, &SRC, b.b, b.n, 0), -1);
    assert_int_equal(ctr("collector.nf5.bad_version"), 1);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    cfg.domain_id = 0x34;
    cfg.ingress_if = 2;
    cfg.egress_if = 5;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    mc_exporter_tick(e, T0);
    struct mc_flow flows[2] = { tcp4_flow(), icmp4_flow() };
    for (int k = 0; k < 20; k++) /* 60 records: three packets (28 a packet at the default MTU) */
        for (int i = 0; i < 2; i++)
            mc_exporter_flow(e, &flows[i], T0 + 3000);
    mc_exporter_flush(e, T0 + 3250);
    assert_int_equal(log.n, 3);
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    for (size_t i = 0; i < log.n; i++)
        assert_true(mc_coll_nf5(c, &SRC, log.data[i], log.len[i], T0) > 0);
    assert_int_equal(cap.n, 60);
    for (size_t i = 0; i < cap.n; i++) {
        const struct cap_rec *r = &cap.r[i];
        const struct mc_flow *f = fval(r, 0, 4) == 6 ? &flows[0] : &flows[1];
        assert_int_equal(check_record_vs_flow(r, f, 0, e), r->n);
        assert_int_equal(r->domain, 0x34);
    }
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 5, 0x34);
    assert_int_equal(st->lost, 0);
    assert_int_equal(st->records, 60);
    mc_coll_free(c);
    cap_free(&cap);
    mc_exporter_free(e);
    pktlog_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
