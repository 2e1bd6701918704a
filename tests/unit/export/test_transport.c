/* test_transport.c - collector parsing, real UDP delivery to a local socket, pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void test_split(void **state)
{
    (void)state;
    char h[64], p[8], err[256];
    assert_int_equal(mc_export_collector_split("127.0.0.1:2055", h, sizeof(h), p, sizeof(p), err, sizeof(err)), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_string_equal(p, "2055");
    assert_int_equal(mc_export_collector_split("[::1]:4739", h, sizeof(h), p, sizeof(p), err, sizeof(err)), 0);
    assert_string_equal(h, "::1");
    assert_string_equal(p, "4739");
    assert_int_equal(mc_export_collector_split("collector.example:9995", h, sizeof(h), p, sizeof(p), err,
                                               sizeof(err)), 0);
    assert_string_equal(h, "collector.example");
    static const char *const bad[] = { "::1:2055", "host", "host:", ":2055", "[::1]2055", "[::1",
                                       "h:0", "h:65536", "h:12a", "h:123456" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mc_export_collector_split(bad[i], h, sizeof(h), p, sizeof(p), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "h:123456"));
}

static int bind_udp(int family, uint16_t *port)
{
    int fd = socket(family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        sl = sizeof(*s6);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void test_udp_delivery(void **state)
{
    (void)state;
    uint16_t p4, p6 = 0;
    int s4 = bind_udp(AF_INET, &p4);
    int s6 = bind_udp(AF_INET6, &p6); /* -1 when the host has no IPv6 loopback */
    char c4[64], c6[64], err[256] = "";
    snprintf(c4, sizeof(c4), "127.0.0.1:%u", p4);
    snprintf(c6, sizeof(c6), "[::1]:%u", p6);
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.collectors[0] = c4;
    cfg.n_collectors = 1;
    if (s6 >= 0) {
        cfg.collectors[1] = c6;
        cfg.n_collectors = 2;
    }
    mc_ctr_reset();
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    if (!e)
        fail_msg("%s", err);
    struct mc_flow f = tcp4_flow();
    mc_exporter_flow(e, &f, T0);
    mc_exporter_flush(e, T0);
    uint8_t buf[2048];
    ssize_t n = recv(s4, buf, sizeof(buf), 0);
    assert_int_equal(n, (ssize_t)MC_CTR_GET(export, bytes));
    assert_int_equal(rd16(buf), 10);
    if (s6 >= 0) {
        assert_int_equal(recv(s6, buf, sizeof(buf), 0), n);
        close(s6);
    }
    assert_int_equal(MC_CTR_GET(export, send_errors), 0);
    mc_exporter_free(e);
    close(s4);
    /* an unresolvable collector fails at creation with its name in the message */
    cfg.collectors[0] = "no-such-host.invalid:2055";
    cfg.n_collectors = 1;
    assert_null(mc_exporter_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "no-such-host.invalid"));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The default datagram size follows the route: loopback's 64 KiB MTU is capped at a jumbo frame. */
static void test_path_payload(void **state)
{
    (void)state;
    struct mc_export_transport t;
    char err[256];
    memset(&t, 0, sizeof(t));
    const char *lo[] = { "127.0.0.1:9", "[::1]:9" };
    assert_int_equal(mc_export_transport_open(&t, lo, 1, 0, err, sizeof(err)), 0);
    assert_int_equal(mc_export_transport_path_payload(&t), MC_EXPORT_AUTO_MTU_MAX);
    mc_export_transport_close(&t);
    memset(&t, 0, sizeof(t));
    assert_int_equal(mc_export_transport_open(&t, lo, 0, 0, err, sizeof(err)), 0);
    assert_int_equal(mc_export_transport_path_payload(&t), MC_EXPORT_AUTO_MTU_DEFAULT);
    mc_export_transport_close(&t);
}

static void test_pacing(void **state)
{
    (void)state;
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    char err[256] = "";
    mc_export_config_defaults(&cfg);
    cfg.version = 5;
    cfg.pace_pps = 200;
    struct mc_exporter *e = mc_exporter_new(&cfg, err, sizeof(err));
    assert_non_null(e);
    mc_exporter_set_sink(e, pktlog_sink, &log);
    struct mc_flow fi = icmp4_flow();
    uint64_t t0 = now_ns();
    for (int i = 0; i < 28 * 40; i++) /* 40 full packets */
        mc_exporter_flow(e, &fi, T0);
    assert_true(log.n < 40); /* some wait in the queue */
    mc_exporter_flush(e, T0);
    uint64_t el = now_ns() - t0;
    assert_int_equal(log.n, 40);
    /* 40 packets at 200/s with a burst of 10: at least ~150 ms */
    assert_true(el > 120000000u);
    mc_exporter_free(e);
    pktlog_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_udp_delivery),
        cmocka_unit_test(test_pacing),
        cmocka_unit_test(test_path_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
