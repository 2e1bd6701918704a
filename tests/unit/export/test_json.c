/*
 * test_json.c - JSON lines: IANA keys of the template in use, values equal
 * to the binary records; in IPFIX one biflow object per flow whether the
 * wire carries uniflow records (the default) or biflows (--biflow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

/* Exports flows with cfg into a temp JSON file; returns its lines joined (caller frees). */
static char *export_json(struct mc_export_config *cfg, const struct mc_flow *flows, int n)
{
    char path[] = "/tmp/mc_export_json_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cfg->json_path = path;
    char err[256] = "";
    struct mc_exporter *e = mc_exporter_new(cfg, err, sizeof(err));
    if (!e)
        fail_msg("%s", err);
    for (int i = 0; i < n; i++)
        mc_exporter_flow(e, &flows[i], T0 + 5000);
    mc_exporter_flush(e, T0 + 5000);
    mc_exporter_free(e);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t got = fread(buf, 1, 65535, f);
    buf[got] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static void test_biflow_ipv4(void **state)
{
    (void)state;
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.ingress_if = 1;
    cfg.egress_if = 2;
    struct mc_flow f = tcp4_flow();
    char *out = export_json(&cfg, &f, 1);
    assert_string_equal(out,
        "{\"sourceIPv4Address\":\"10.0.0.1\",\"destinationIPv4Address\":\"192.0.2.80\","
        "\"sourceTransportPort\":40000,\"destinationTransportPort\":80,\"protocolIdentifier\":6,"
        "\"ipClassOfService\":16,\"tcpControlBits\":27,\"packetDeltaCount\":10,\"octetDeltaCount\":1000,"
        "\"flowStartMilliseconds\":1700000000000,\"flowEndMilliseconds\":1700000000900,\"vlanId\":100,"
        "\"icmpTypeCodeIPv4\":0,\"ingressInterface\":1,\"egressInterface\":2,\"flowEndReason\":3,"
        "\"reversePacketDeltaCount\":8,\"reverseOctetDeltaCount\":6000,\"reverseTcpControlBits\":27,"
        "\"reverseIpClassOfService\":32,\"reverseFlowStartMilliseconds\":1700000000020,"
        "\"reverseFlowEndMilliseconds\":1700000000950}\n");
    /* --biflow changes the wire records only */
    cfg.biflow = 1;
    char *bi = export_json(&cfg, &f, 1);
    assert_string_equal(bi, out);
    free(bi);
    free(out);
}

static void test_uniflow_ipv6_custom(void **state)
{
    (void)state;
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.version = 9; /* v9 records, and so its JSON lines, are one per direction */
    cfg.template_spec = "sourceIPv4Address destinationIPv4Address packetDeltaCount icmpTypeCodeIPv4 userName";
    struct mc_flow_ext x;
    memset(&x, 0, sizeof(x));
    struct mc_flow_identity id;
    memset(&id, 0, sizeof(id));
    memcpy(id.user, "a\"b\\c\x01\xff\xc3\xa9", 9);
    x.id = &id;
    struct mc_flow f[2] = { udp6_flow(), icmp4_flow() };
    f[0].ext = &x;
    char *out = export_json(&cfg, f, 2);
    assert_string_equal(out,
        "{\"sourceIPv6Address\":\"2001:db8::1\",\"destinationIPv6Address\":\"2001:db8::2\","
        "\"packetDeltaCount\":1,\"icmpTypeCodeIPv6\":0,\"userName\":\"a\\\"b\\\\c\\u0001\\ufffd\xc3\xa9\"}\n"
        "{\"sourceIPv6Address\":\"2001:db8::2\",\"destinationIPv6Address\":\"2001:db8::1\","
        "\"packetDeltaCount\":1,\"icmpTypeCodeIPv6\":0,\"userName\":\"a\\\"b\\\\c\\u0001\\ufffd\xc3\xa9\"}\n"
        "{\"sourceIPv4Address\":\"10.0.0.2\",\"destinationIPv4Address\":\"10.0.0.3\","
        "\"packetDeltaCount\":3,\"icmpTypeCodeIPv4\":2048,\"userName\":\"\"}\n");
    free(out);
}

static void test_v9_and_v5_names(void **state)
{
    (void)state;
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.version = 9;
    cfg.template_spec = "sourceIPv4Address,flowStartMilliseconds,flowEndMilliseconds";
    struct mc_flow f = icmp4_flow();
    char *out = export_json(&cfg, &f, 1);
    /* boot = the flow's start (T0 + 100) down to its second: uptimes 100 and 2100 */
    assert_string_equal(out, "{\"sourceIPv4Address\":\"10.0.0.2\",\"flowStartSysUpTime\":100,"
                             "\"flowEndSysUpTime\":2100}\n");
    free(out);
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    out = export_json(&cfg, &f, 1);
    assert_string_equal(out,
        "{\"sourceIPv4Address\":\"10.0.0.2\",\"destinationIPv4Address\":\"10.0.0.3\","
        "\"ipNextHopIPv4Address\":\"0.0.0.0\",\"ingressInterface\":0,\"egressInterface\":0,"
        "\"packetDeltaCount\":3,\"octetDeltaCount\":252,\"flowStartSysUpTime\":0,\"flowEndSysUpTime\":2000,"
        "\"sourceTransportPort\":0,\"destinationTransportPort\":0,\"tcpControlBits\":0,"
        "\"protocolIdentifier\":1,\"ipClassOfService\":0,\"bgpSourceAsNumber\":0,\"bgpDestinationAsNumber\":0,"
        "\"sourceIPv4PrefixLength\":0,\"destinationIPv4PrefixLength\":0}\n");
    free(out);
    assert_true(MC_CTR_GET(export, json_records) >= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_biflow_ipv4),
        cmocka_unit_test(test_uniflow_ipv6_custom),
        cmocka_unit_test(test_v9_and_v5_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
