/* test_exporter.c - configuration errors, counters, flush timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void test_config_errors(void **state)
{
    (void)state;
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    assert_int_equal(cfg.version, 10);
    assert_int_equal(cfg.mtu, 0); /* auto: path MTU */
    cfg.version = 7;
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "7"));
    mc_export_config_defaults(&cfg);
    cfg.mtu = 100;
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    mc_export_config_defaults(&cfg);
    cfg.template_spec = "sourceIPv4Address,nope";
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "'nope'"));
    /* every element at once needs more than a small MTU */
    mc_export_config_defaults(&cfg);
    cfg.mtu = 256;
    cfg.biflow = 1;
    cfg.template_spec = "sourceIPv6Address destinationIPv6Address tunnelSourceIPv6Address "
                        "tunnelDestinationIPv6Address userName flowStartMilliseconds flowEndMilliseconds "
                        "reverseFlowStartMilliseconds reverseFlowEndMilliseconds octetDeltaCount layer2SegmentId";
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "MTU"));
    mc_export_config_defaults(&cfg);
    cfg.json_path = "/nonexistent/dir/x.json";
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    mc_exporter_free(NULL);
}

static void test_counters_and_free_flushes(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    mc_ctr_reset();
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    mc_exporter_set_sink(e, pktlog_sink, &log);
    struct mc_flow f = tcp4_flow(), f6 = udp6_flow();
    mc_exporter_flow(e, &f, T0);
    mc_exporter_flow(e, &f6, T0);
    mc_exporter_tick(e, T0 + 999);
    assert_int_equal(log.n, 0);
    mc_exporter_free(e); /* sends both buffers */
    assert_int_equal(log.n, 2);
    assert_int_equal(MC_CTR_GET(export, records), 4); /* uniflow by default: both flows answered */
    assert_int_equal(MC_CTR_GET(export, packets), 2);
    assert_int_equal(MC_CTR_GET(export, templates), 2);
    assert_int_equal(MC_CTR_GET(export, bytes), log.len[0] + log.len[1]);
    pktlog_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_counters_and_free_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
