/* test_nf5.c - NetFlow v5 packet bytes: header, 48-byte records, 30 per packet, flow_sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void test_record_bytes(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    cfg.domain_id = 0x1234;
    cfg.ingress_if = 2;
    cfg.egress_if = 70000; /* clamped to 16 bits */
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    mc_exporter_tick(e, T0); /* boot */
    struct mc_flow f = tcp4_flow(), f6 = udp6_flow();
    mc_ctr_reset();
    mc_exporter_flow(e, &f6, T0 + 3000);
    assert_int_equal(MC_CTR_GET(export, v5_skipped_ipv6), 1);
    mc_exporter_flow(e, &f, T0 + 3000);
    mc_exporter_flush(e, T0 + 3250);
    assert_int_equal(log.n, 1);
    const uint8_t *p = log.data[0];
    assert_int_equal(log.len[0], 24 + 2 * 48);
    assert_int_equal(rd16(p), 5);
    assert_int_equal(rd16(p + 2), 2);
    assert_int_equal(rd32(p + 4), 3250);
    assert_int_equal(rd32(p + 8), (T0 + 3250) / 1000);
    assert_int_equal(rd32(p + 12), 250000000);
    assert_int_equal(rd32(p + 16), 0);
    assert_int_equal(p[20], 0);
    assert_int_equal(p[21], 0x34);
    const uint8_t *r = p + 24;
    assert_int_equal(rd32(r), 0x0a000001);
    assert_int_equal(rd32(r + 4), 0xc0000250);
    assert_int_equal(rd32(r + 8), 0);
    assert_int_equal(rd16(r + 12), 2);
    assert_int_equal(rd16(r + 14), 0xffff);
    assert_int_equal(rd32(r + 16), 10);
    assert_int_equal(rd32(r + 20), 1000);
    assert_int_equal(rd32(r + 24), 0);
    assert_int_equal(rd32(r + 28), 900);
    assert_int_equal(rd16(r + 32), 40000);
    assert_int_equal(rd16(r + 34), 80);
    assert_int_equal(r[36], 0);
    assert_int_equal(r[37], 0x1b);
    assert_int_equal(r[38], 6);
    assert_int_equal(r[39], 0x10);
    assert_int_equal(rd32(r + 40), 0);
    assert_int_equal(rd32(r + 44), 0);
    r += 48;
    assert_int_equal(rd32(r), 0xc0000250);
    assert_int_equal(rd16(r + 32), 80);
    assert_int_equal(rd32(r + 16), 8);
    assert_int_equal(rd32(r + 24), 20);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_packet_limits(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    cfg.mtu = 1500;
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    struct mc_flow fi = icmp4_flow(); /* one record each */
    for (int i = 0; i < 100; i++)
        mc_exporter_flow(e, &fi, T0 + 1000);
    mc_exporter_flush(e, T0 + 1000);
    assert_int_equal(log.n, 4);
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(rd16(log.data[k] + 2), k < 3 ? 30 : 10);
        assert_int_equal(rd32(log.data[k] + 16), 30 * k);
        assert_int_equal(log.len[k], 24 + 48 * (k < 3 ? 30 : 10));
    }
    mc_exporter_free(e);
    pktlog_free(&log);
    /* at the default MTU (1400) only 28 records fit */
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    e = mc_exporter_new(&cfg, err, sizeof(err));
    mc_exporter_set_sink(e, pktlog_sink, &log);
    for (int i = 0; i < 30; i++)
        mc_exporter_flow(e, &fi, T0);
    mc_exporter_flush(e, T0);
    assert_int_equal(log.n, 2);
    assert_int_equal(rd16(log.data[0] + 2), 28);
    assert_int_equal(rd32(log.data[1] + 16), 28);
    mc_exporter_free(e);
    pktlog_free(&log);
    /* -T has no meaning for v5 */
    cfg.template_spec = "vlanId";
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_bytes),
        cmocka_unit_test(test_packet_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
