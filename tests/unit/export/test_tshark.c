/*
 * test_tshark.c - cross-checks our packets with an independent decoder:
 * about 2000 varied flows in v5, v9, IPFIX biflow, IPFIX uniflow and a -T
 * template go through the sink into a pcap (synthesised Ethernet/IPv4/UDP,
 * port 2055 for v5/v9, 4739 for IPFIX); tshark must report no malformed
 * packet, no expert warning or error (which includes "Unexpected flow
 * sequence") and exactly as many flow records as we sent.  Skipped when
 * tshark is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void wr32le(FILE *f, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    fwrite(b, 1, 4, f);
}

/* Classic pcap, DLT_EN10MB; one frame per datagram, one second apart. */
static void write_pcap(const char *path, const struct pktlog *log, uint16_t dport)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    wr32le(f, 0xa1b2c3d4);
    wr32le(f, 2 | 4 << 16);
    wr32le(f, 0);
    wr32le(f, 0);
    wr32le(f, 65535);
    wr32le(f, 1);
    for (size_t i = 0; i < log->n; i++) {
        size_t len = log->len[i];
        uint8_t h[42] = { 0 };
        /* Ethernet */
        memcpy(h, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
        /* IPv4 192.0.2.1 -> 192.0.2.2, UDP */
        uint8_t *ip = h + 14;
        ip[0] = 0x45;
        ip[2] = (uint8_t)((20 + 8 + len) >> 8);
        ip[3] = (uint8_t)(20 + 8 + len);
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
        uint32_t sum = 0;
        for (int k = 0; k < 20; k += 2)
            sum += (uint32_t)ip[k] << 8 | ip[k + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        ip[10] = (uint8_t)(~sum >> 8);
        ip[11] = (uint8_t)~sum;
        uint8_t *udp = ip + 20;
        udp[0] = 0xc3;
        udp[1] = 0x50; /* 50000 */
        udp[2] = (uint8_t)(dport >> 8);
        udp[3] = (uint8_t)dport;
        udp[4] = (uint8_t)((8 + len) >> 8);
        udp[5] = (uint8_t)(8 + len); /* checksum 0: none */
        wr32le(f, (uint32_t)(1700000000 + i));
        wr32le(f, 0);
        wr32le(f, (uint32_t)(42 + len));
        wr32le(f, (uint32_t)(42 + len));
        fwrite(h, 1, 42, f);
        fwrite(log->data[i], 1, len, f);
    }
    fclose(f);
}

/* Runs a shell command, returns its stdout as an unsigned number. */
static long run_count(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    long v = -1;
    if (fscanf(p, "%ld", &v) != 1)
        v = -1;
    pclose(p);
    return v;
}

/* A reproducible mix: TCP/UDP/ICMP/ICMPv6, IPv4/IPv6, one-way flows, VLANs, tunnels, users. */
static struct mc_flow varied(int i, struct mc_flow_ext *x)
{
    struct mc_flow f = (i % 4 == 3) ? udp6_flow() : tcp4_flow();
    f.key.port[0] = (uint16_t)(1024 + i);
    f.key.addr[0].b[3] = (uint8_t)i;
    f.first_ms = T0 + (uint64_t)i * 7;
    f.pkts[0] = (uint32_t)(1 + i % 50);
    f.octets[0] = (uint64_t)f.pkts[0] * (40 + (uint64_t)(i % 1400));
    if (i % 5 == 0) {
        f.pkts[1] = 0;
        f.octets[1] = 0;
        f.dir_first[1] = f.dir_last[1] = 0;
    }
    if (i % 11 == 0) {
        f.key.proto = f.key.ip_ver == 4 ? 1 : 58;
        f.key.port[0] = f.key.port[1] = 0;
        f.icmp_type = f.key.ip_ver == 4 ? 8 : 128;
    }
    if (i % 7 == 0) {
        memset(x, 0, sizeof(*x));
        x->outer_ver = 4;
        set4(&x->outer_src, 198, 51, 100, (uint8_t)i);
        set4(&x->outer_dst, 198, 51, 100, 254);
        static struct mc_flow_identity id; /* read when the flow is exported, right after */
        snprintf(id.user, sizeof(id.user), "user%d", i);
        x->id = &id;
        f.ext = x;
        f.key.tunnel = MC_TUNNEL_VXLAN;
        f.key.tunnel_id = (uint32_t)i;
    }
    f.key.vlan[0] = (uint16_t)(i % 3 ? 0 : 10 + i % 100);
    f.end_reason = (uint8_t)(1 + i % 5);
    return f;
}

struct dialect_case {
    const char *name;
    int version, biflow;
    const char *spec;
    uint16_t port;
    const char *count_filter; /* tshark field whose occurrences count records */
};

static void run_case(const struct dialect_case *c)
{
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = c->version;
    cfg.biflow = c->biflow;
    cfg.template_spec = c->spec;
    cfg.domain_id = 7;
    cfg.ingress_if = 1;
    cfg.egress_if = 2;
    mc_ctr_reset();
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    if (!e)
        fail_msg("%s: %s", c->name, err);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    for (int i = 0; i < 2000; i++) {
        struct mc_flow_ext x;
        struct mc_flow f = varied(i, &x);
        uint64_t now = T0 + 60000 + (uint64_t)i * 10;
        mc_exporter_flow(e, &f, now);
        mc_exporter_tick(e, now);
    }
    mc_exporter_flush(e, T0 + 90000);
    uint64_t sent = MC_CTR_GET(export, records);
    mc_exporter_free(e);

    char path[] = "/tmp/mc_export_tshark_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_pcap(path, &log, c->port);
    char cmd[1024];
    const char *opts = "-o cflow.netflow.ports:2055 -o cflow.ipfix.ports:4739";
    snprintf(cmd, sizeof(cmd), "tshark -n -r %s %s -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | wc -l",
             path, opts);
    long bad = run_count(cmd);
    if (bad != 0) {
        snprintf(cmd, sizeof(cmd), "tshark -n -r %s %s -z expert,warn -q 2>&1 | head -20 >&2", path, opts);
        if (system(cmd) != 0)
            fprintf(stderr, "tshark expert dump failed\n");
    }
    snprintf(cmd, sizeof(cmd), "tshark -n -r %s %s -T fields -e %s 2>/dev/null | tr ',' '\\n' | grep -c .",
             path, opts, c->count_filter);
    long seen = run_count(cmd);
    snprintf(cmd, sizeof(cmd), "tshark -n -r %s %s -V 2>/dev/null | grep -c -i -E 'malformed|unexpected flow sequence'",
             path, opts);
    long text = run_count(cmd);
    printf("%s: %zu packets, %llu records sent, tshark sees %ld, %ld flagged\n", c->name, log.n,
           (unsigned long long)sent, seen, bad);
    unlink(path);
    pktlog_free(&log);
    assert_int_equal(bad, 0);
    assert_int_equal(text, 0);
    assert_int_equal(seen, (long)sent);
}

static int have_tshark(void)
{
    return system("tshark -v >/dev/null 2>&1") == 0;
}

static void test_v5(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = { "v5", 5, 0, NULL, 2055, "cflow.srcaddr" };
    run_case(&c);
}

static void test_v9(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = { "v9", 9, 0, NULL, 2055, "cflow.protocol" };
    run_case(&c);
}

static void test_ipfix_biflow(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = { "ipfix biflow", 10, 1, NULL, 4739, "cflow.protocol" };
    run_case(&c);
}

static void test_ipfix_uniflow(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = { "ipfix uniflow", 10, 0, NULL, 4739, "cflow.protocol" };
    run_case(&c);
}

static void test_ipfix_custom(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = {
        "ipfix -T", 10, 1,
        "%sourceIPv4Address,%destinationIPv4Address protocolIdentifier ipVersion packetDeltaCount "
        "reverseOctetDeltaCount flowStartMilliseconds dot1qCustomerVlanId layer2SegmentId userName "
        "mplsTopLabelStackSection tunnelType tunnelId tunnelSourceIPv4Address tunnelDestinationIPv6Address",
        4739, "cflow.protocol" };
    run_case(&c);
}

static void test_v9_custom(void **state)
{
    (void)state;
    if (!have_tshark())
        skip();
    static const struct dialect_case c = {
        "v9 -T", 9, 1, "sourceIPv6Address destinationIPv6Address protocolIdentifier userName flowEndMilliseconds",
        2055, "cflow.protocol" };
    run_case(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5),           cmocka_unit_test(test_v9),
        cmocka_unit_test(test_ipfix_biflow), cmocka_unit_test(test_ipfix_uniflow),
        cmocka_unit_test(test_ipfix_custom), cmocka_unit_test(test_v9_custom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
