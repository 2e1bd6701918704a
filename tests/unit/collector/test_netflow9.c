/* test_netflow9.c - NetFlow v9 packets: header, template and options template flowsets, data before
 * its template, packet sequence gaps, hostile lengths, and round trips through the probe's exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/collector/helpers.h"
#include "unit/export/helpers.h"

/* Template 260: IPV4_SRC_ADDR(8) 4, IN_PKTS(2) 4, L4_SRC_PORT(7) 2, PROTOCOL(4) 1. */
static void tmpl260(struct bb *b)
{
    size_t s = set_begin(b, 0);
    put16(b, 260), put16(b, 4);
    put16(b, 8), put16(b, 4), put16(b, 2), put16(b, 4), put16(b, 7), put16(b, 2), put16(b, 4), put16(b, 1);
    set_end(b, s);
}

static void data260(struct bb *b, int n)
{
    size_t s = set_begin(b, 260);
    for (int i = 0; i < n; i++)
        put32(b, 0x0a000001u + (uint32_t)i), put32(b, 10u + (uint32_t)i), put16(b, 1000), put8(b, 17);
    while ((b->n - s) % 4)
        put8(b, 0); /* RFC 3954 5.3 padding */
    set_end(b, s);
}

static void test_template_data_options(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    nf9_begin(&b, 4, 5000, 1700000000, 0, 42);
    tmpl260(&b);
    data260(&b, 2);
    /* options template 270: scope System (1) 4 bytes; SAMPLING_INTERVAL (34) 4, SAMPLING_ALGORITHM (35) 1 */
    size_t s = set_begin(&b, 1);
    put16(&b, 270), put16(&b, 4), put16(&b, 8);
    put16(&b, 1), put16(&b, 4), put16(&b, 34), put16(&b, 4), put16(&b, 35), put16(&b, 1);
    put16(&b, 0); /* padding */
    set_end(&b, s);
    s = set_begin(&b, 270);
    put32(&b, 0x0a0a0a0a), put32(&b, 64), put8(&b, 2);
    put8(&b, 0), put8(&b, 0), put8(&b, 0);
    set_end(&b, s);
    assert_int_equal(mc_coll_nf9(c, &SRC, b.b, b.n, 0), 3);
    assert_int_equal(cap.n, 3);
    const struct cap_rec *r = &cap.r[0];
    assert_int_equal(r->version, 9);
    assert_int_equal(r->domain, 42);
    assert_int_equal(r->tid, 260);
    assert_int_equal(r->uptime, 5000);
    assert_int_equal(fval(r, 0, 8), 0x0a000001);
    assert_int_equal(fval(&cap.r[1], 0, 2), 11);
    assert_int_equal(fval(r, 0, 7), 1000);
    assert_int_equal(fval(r, 0, 4), 17);
    assert_int_equal(cap.r[2].options, 1);
    assert_int_equal(cap.r[2].scope, 1);
    assert_int_equal(cap.r[2].f[0].id, 1); /* the scope type */
    assert_int_equal(fval(&cap.r[2], 0, 34), 64);
    assert_int_equal(ctr("collector.nf9.bad_count"), 1); /* 4 announced, 5 records */
    /* uptime to epoch ms: header time less the uptime difference */
    struct mc_coll_record rr = { .export_secs = 1700000000, .sys_uptime = 5000 };
    assert_int_equal(mc_coll_uptime_ms(&rr, 4000), 1700000000000ull - 1000);
    assert_int_equal(mc_coll_uptime_ms(&rr, 6000), 1700000000000ull + 1000);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_data_before_template(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    nf9_begin(&b, 3, 1, 1, 0, 42);
    data260(&b, 3);
    assert_int_equal(mc_coll_nf9(c, &SRC, b.b, b.n, 0), 0);
    assert_int_equal(mc_coll_n_pending(c), 1);
    assert_int_equal(ctr("collector.pending.held"), 1);
    nf9_begin(&b, 1, 2, 2, 1, 42);
    tmpl260(&b);
    assert_int_equal(mc_coll_nf9(c, &SRC, b.b, b.n, 10), 0);
    assert_int_equal(cap.n, 3); /* decoded when the template came, with their own header */
    assert_int_equal(cap.r[0].seq, 0);
    assert_int_equal(cap.r[0].uptime, 1);
    assert_int_equal(mc_coll_n_pending(c), 0);
    assert_int_equal(ctr("collector.pending.decoded"), 1);
    /* another source id of the same exporter does not see that template */
    nf9_begin(&b, 1, 1, 1, 0, 43);
    data260(&b, 1);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    assert_int_equal(cap.n, 3);
    assert_int_equal(mc_coll_n_pending(c), 1);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_sequence_and_errors(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    nf9_begin(&b, 1, 1, 1, 7, 42);
    tmpl260(&b);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    nf9_begin(&b, 1, 1, 1, 8, 42);
    data260(&b, 1);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    nf9_begin(&b, 1, 1, 1, 12, 42); /* packets 9, 10, 11 lost */
    data260(&b, 1);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 9, 42);
    assert_int_equal(st->lost, 3);
    assert_int_equal(cap.r[1].lost, 3);
    /* header errors */
    assert_int_equal(mc_coll_nf9(c, &SRC, b.b, 19, 0), -1);
    assert_int_equal(ctr("collector.nf9.too_short"), 1);
    b.b[1] = 10;
    assert_int_equal(mc_coll_nf9(c, &SRC, b.b, b.n, 0), -1);
    assert_int_equal(ctr("collector.nf9.bad_version"), 1);
    /* a variable-length field has no meaning in v9; a flowset longer than the packet */
    nf9_begin(&b, 1, 1, 1, 13, 42);
    size_t s = set_begin(&b, 0);
    put16(&b, 261), put16(&b, 1), put16(&b, 371), put16(&b, 0xffff);
    set_end(&b, s);
    put16(&b, 260), put16(&b, 100);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.bad"), 1);
    assert_int_equal(ctr("collector.sets.malformed"), 2);
    assert_int_equal(st->malformed_sets, 2);
    /* options template with lengths not a multiple of 4 */
    nf9_begin(&b, 1, 1, 1, 14, 42);
    s = set_begin(&b, 1);
    put16(&b, 271), put16(&b, 3), put16(&b, 4), put16(&b, 1), put16(&b, 4), put16(&b, 34), put16(&b, 4);
    set_end(&b, s);
    mc_coll_nf9(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.bad"), 2);
    /* every prefix of a valid packet */
    nf9_begin(&b, 2, 1, 1, 0, 50);
    tmpl260(&b);
    data260(&b, 2);
    for (size_t n = 0; n <= b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        mc_coll_nf9(c, &SRC2, copy, n, 0);
        free(copy);
    }
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.domain_id = 0x0a0b0c0d;
    cfg.ingress_if = 4;
    cfg.egress_if = 9;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    mc_exporter_tick(e, T0);
    struct mc_flow flows[3] = { tcp4_flow(), udp6_flow(), icmp4_flow() };
    for (int i = 0; i < 3; i++)
        mc_exporter_flow(e, &flows[i], T0 + 3000);
    mc_exporter_flush(e, T0 + 4000);
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    for (size_t i = 0; i < log.n; i++)
        assert_true(mc_coll_nf9(c, &SRC, log.data[i], log.len[i], T0 + 4000) >= 0);
    assert_int_equal(cap.n, 5);
    for (size_t i = 0; i < cap.n; i++) {
        const struct cap_rec *r = &cap.r[i];
        const struct mc_flow *f = NULL;
        for (int k = 0; k < 3; k++)
            if (flows[k].key.proto == fval(r, 0, 4))
                f = &flows[k];
        assert_non_null(f);
        size_t n = check_record_vs_flow(r, f, 0, e);
        assert_int_equal(n, r->n);
        /* sysUpTime times back to epoch ms: v9 headers carry whole seconds only */
        struct mc_coll_record rr = { .export_secs = r->secs, .sys_uptime = r->uptime };
        uint64_t start = mc_coll_uptime_ms(&rr, (uint32_t)fval(r, 0, 22));
        int dir = fval(r, 0, 7) != f->key.port[0];
        uint64_t want = mc_flow_start_ms(f, dir);
        assert_true(start <= want && want - start < 1000);
    }
    assert_int_equal(mc_coll_stream_find(c, &SRC, 9, 0x0a0b0c0d)->lost, 0);
    mc_coll_free(c);
    cap_free(&cap);
    mc_exporter_free(e);
    pktlog_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_data_options),
        cmocka_unit_test(test_data_before_template),
        cmocka_unit_test(test_sequence_and_errors),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
