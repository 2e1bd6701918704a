/* test_nf9.c - NetFlow v9 packet bytes: header, count, sequence, padding, sysUpTime times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void test_header_and_records(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.domain_id = 99;
    cfg.template_spec = "sourceIPv4Address destinationIPv4Address protocolIdentifier tcpControlBits "
                        "flowStartMilliseconds flowEndMilliseconds";
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    struct mc_flow f = tcp4_flow();
    /* first use at T0 + 5000: boot is the flow's start (T0), earlier than now */
    mc_exporter_flow(e, &f, T0 + 5000);
    mc_exporter_flush(e, T0 + 5000);
    assert_int_equal(log.n, 1);
    const uint8_t *p = log.data[0];
    assert_int_equal(rd16(p), 9);
    assert_int_equal(rd16(p + 2), 3); /* template + 2 data records */
    assert_int_equal(rd32(p + 4), 5000);
    assert_int_equal(rd32(p + 8), (T0 + 5000) / 1000);
    assert_int_equal(rd32(p + 12), 0);
    assert_int_equal(rd32(p + 16), 99);
    /* template flowset: id 0, 6 fields */
    assert_int_equal(rd16(p + 20), 0);
    assert_int_equal(rd16(p + 22), 4 + 4 + 6 * 4);
    assert_int_equal(rd16(p + 24), 256);
    assert_int_equal(rd16(p + 26), 6);
    assert_int_equal(rd16(p + 28 + 12), 6); /* tcpControlBits, 1 byte */
    assert_int_equal(rd16(p + 28 + 14), 1);
    assert_int_equal(rd16(p + 28 + 16), 22); /* FIRST_SWITCHED */
    assert_int_equal(rd16(p + 28 + 20), 21); /* LAST_SWITCHED */
    /* data flowset: 2 records of 4+4+1+1+4+4 = 18 bytes, padded 36 -> 36 + 4 header */
    const uint8_t *d = p + 20 + 32;
    assert_int_equal(rd16(d), 256);
    assert_int_equal(rd16(d + 2), 40);
    assert_int_equal(log.len[0], 20 + 32 + 40);
    const uint8_t *r = d + 4;
    assert_int_equal(rd32(r), 0x0a000001);
    assert_int_equal(r[8], 6);
    assert_int_equal(r[9], 0x1b);
    assert_int_equal(rd32(r + 10), 0);
    assert_int_equal(rd32(r + 14), 900);
    r += 18;
    assert_int_equal(rd32(r), 0xc0000250);
    assert_int_equal(rd32(r + 10), 20);
    assert_int_equal(rd32(r + 14), 950);
    /* next packets: package sequence +1 each, no template, count = records */
    struct mc_flow fi = icmp4_flow();
    mc_exporter_flow(e, &fi, T0 + 6000);
    mc_exporter_flush(e, T0 + 6000);
    assert_int_equal(log.n, 2);
    p = log.data[1];
    assert_int_equal(rd16(p + 2), 1);
    assert_int_equal(rd32(p + 4), 6000);
    assert_int_equal(rd32(p + 12), 1);
    assert_int_equal(rd16(p + 20), 256);
    assert_int_equal(rd16(p + 22), 4 + 20); /* 18 padded to 20 */
    assert_int_equal(log.len[1], 20 + 24);
    assert_int_equal(p[20 + 4 + 18], 0);
    mc_exporter_free(e);
    pktlog_free(&log);
}

/*
 * Collectors (nfdump, tshark) place a v9 record at UNIX Secs * 1000 -
 * sysUpTime + FIRST/LAST_SWITCHED.  UNIX Secs has whole seconds only, so a
 * header stamped at a time within a second put every record up to 999 ms
 * early; times off the second, boot and packets, must come back exact.
 */
static void test_collector_times_exact(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.template_spec = "sourceIPv4Address flowStartMilliseconds flowEndMilliseconds";
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    mc_exporter_tick(e, T0 + 137); /* boot, off the second */
    struct mc_flow f = tcp4_flow();
    f.first_ms = T0 + 250;
    const uint64_t sent[] = { T0 + 5730, T0 + 9999, T0 + 12001 };
    for (int i = 0; i < 3; i++) {
        mc_exporter_flow(e, &f, sent[i]);
        mc_exporter_flush(e, sent[i]);
        assert_int_equal(log.n, (size_t)i + 1);
        const uint8_t *p = log.data[i];
        uint64_t boot = (uint64_t)rd32(p + 8) * 1000 - rd32(p + 4);
        const uint8_t *r = p + 20 + (i == 0 ? 4 + 4 + 3 * 4 : 0) + 4; /* past the template, if any */
        assert_int_equal(boot + rd32(r + 4), T0 + 250);       /* forward FIRST_SWITCHED */
        assert_int_equal(boot + rd32(r + 8), T0 + 250 + 900); /* forward LAST_SWITCHED */
        r += 12;
        assert_int_equal(boot + rd32(r + 4), T0 + 250 + 20);
        assert_int_equal(boot + rd32(r + 8), T0 + 250 + 950);
        /* the header describes a moment no later than the packet leaves */
        assert_true((uint64_t)rd32(p + 8) * 1000 <= sent[i]);
    }
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_many_flows(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.mtu = 512;
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    for (int i = 0; i < 1000; i++) {
        struct mc_flow f = i & 1 ? udp6_flow() : tcp4_flow();
        mc_exporter_flow(e, &f, T0 + 100 + (uint64_t)i);
    }
    mc_exporter_flush(e, T0 + 2000);
    uint32_t recs = 0;
    for (size_t k = 0; k < log.n; k++) {
        const uint8_t *p = log.data[k];
        assert_true(log.len[k] <= 512);
        assert_int_equal(rd32(p + 12), k);
        size_t off = 20;
        uint32_t count = 0;
        while (off < log.len[k]) {
            uint32_t id = rd16(p + off), sl = rd16(p + off + 2);
            assert_int_equal(sl % 4, 0);
            if (id == 0)
                count++;
            else
                count += (sl - 4) / (id == 256 ? 52 : 76);
            if (id != 0)
                recs += (sl - 4) / (id == 256 ? 52 : 76);
            off += sl;
        }
        assert_int_equal(off, log.len[k]);
        assert_int_equal(rd16(p + 2), count);
    }
    assert_int_equal(recs, 2000);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_v9_rejects_enterprise(void **state)
{
    (void)state;
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.template_spec = "sourceIPv4Address,tunnelType";
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "tunnelType"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_records),
        cmocka_unit_test(test_collector_times_exact),
        cmocka_unit_test(test_many_flows),
        cmocka_unit_test(test_v9_rejects_enterprise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
