/*
 * test_cloud.c - the cloud writer against a real redis-server on a unix
 * socket: host counters per direction, flows, TTL, host.new events on the
 * channel and the stream, the heartbeat and the probe.start/probe.stop
 * events with the final counts, user associations and lookups,
 * local networks, and a dead node (metering goes on, drops are counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <arpa/inet.h>

#include "cloud/cloud.h"

static char dir[64], sock[128];
static pid_t server;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int start_server(void **state)
{
    (void)state;
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return 0; /* each test skips */
    snprintf(dir, sizeof(dir), "/tmp/mccloudXXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof(sock), "%s/r.sock", dir);
    server = fork();
    if (server == 0) {
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly",
               "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        struct stat st;
        if (stat(sock, &st) == 0)
            return 0;
        sleep_ms(20);
    }
    return -1;
}

static int stop_server(void **state)
{
    (void)state;
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static redisContext *rc(void)
{
    redisContext *c = redisConnectUnix(sock);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static long long hget(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return v;
}

static struct mc_cloud *the_cloud;
static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_cloud_flow_export(the_cloud, f);
}

static struct mc_pkt pkt4(uint8_t a, uint8_t b, uint16_t sp, uint16_t dp, uint32_t len, uint64_t ts)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = a;
    p.dst.b[0] = 10, p.dst.b[3] = b;
    p.sport = sp, p.dport = dp, p.proto = 17, p.ip_len = len, p.ts_ms = ts;
    return p;
}

static struct mc_cloud *start(struct mc_flow_table **t, const char *node, int n_nets, const char *net)
{
    struct mc_cloud_config cfg;
    char err[256];
    mc_cloud_config_defaults(&cfg);
    cfg.conn.nodes[0] = node;
    cfg.conn.n_nodes = 1;
    cfg.conn.connect_timeout_ms = 300;
    cfg.probe_id = "test";
    cfg.source = "unit";
    cfg.flush_ms = 50;
    cfg.drain_timeout_ms = 2000;
    if (n_nets) {
        assert_int_equal(mc_cidr_parse(net, &cfg.nets[0]), 0);
        cfg.n_nets = 1;
    }
    struct mc_cloud *c = mc_cloud_start(&cfg, err, sizeof(err));
    assert_non_null(c);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 64;
    *t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(*t);
    assert_int_equal(mc_cloud_attach(c, *t), 0);
    the_cloud = c;
    return c;
}

static void test_hosts_events_heartbeat(void **state)
{
    (void)state;
    if (server <= 0)
        skip();
    char node[160];
    snprintf(node, sizeof(node), "unix:%s", sock);
    struct mc_flow_table *t;
    struct mc_cloud *c = start(&t, node, 0, NULL);
    /* 10.0.0.1 -> 10.0.0.2: 3 packets of 100; back: 2 of 500; then 10.0.0.1 -> 10.0.0.3: 1 of 60 */
    for (int i = 0; i < 3; i++) {
        struct mc_pkt p = pkt4(1, 2, 1000, 53, 100, 1000 + i);
        mc_flow_process(t, &p);
    }
    for (int i = 0; i < 2; i++) {
        struct mc_pkt p = pkt4(2, 1, 53, 1000, 500, 1010 + i);
        mc_flow_process(t, &p);
    }
    mc_cloud_tick(c, 1); /* first flush while the flows are still open */
    sleep_ms(300);
    struct mc_pkt p = pkt4(1, 3, 1001, 80, 60, 1500);
    mc_flow_process(t, &p);
    struct mc_pkt again = pkt4(1, 2, 1000, 53, 100, 1600);
    mc_flow_process(t, &again);
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_cloud_set_stats(c, 7, 1, 0, 3); /* the probe's final counts, as main.c gives them */
    uint64_t written_before = MC_CTR_GET(cloud, keys_written);
    mc_cloud_stop(c);
    mc_flow_table_free(t);

    redisContext *r = rc();
    assert_int_equal(hget(r, "ip.10.0.0.1", "sent_pkt"), 5);
    assert_int_equal(hget(r, "ip.10.0.0.1", "sent_bytes"), 460);
    assert_int_equal(hget(r, "ip.10.0.0.1", "rcvd_pkt"), 2);
    assert_int_equal(hget(r, "ip.10.0.0.1", "rcvd_bytes"), 1000);
    assert_int_equal(hget(r, "ip.10.0.0.1", "flows"), 2);
    assert_int_equal(hget(r, "ip.10.0.0.1", "first_seen"), 1000);
    assert_int_equal(hget(r, "ip.10.0.0.1", "last_seen"), 1600);
    assert_int_equal(hget(r, "ip.10.0.0.2", "sent_pkt"), 2);
    assert_int_equal(hget(r, "ip.10.0.0.2", "rcvd_pkt"), 4);
    assert_int_equal(hget(r, "ip.10.0.0.3", "rcvd_bytes"), 60);
    redisReply *ttl = redisCommand(r, "PTTL ip.10.0.0.1");
    assert_true(ttl->integer > 290000 && ttl->integer <= 300000);
    freeReplyObject(ttl);
    redisReply *x = redisCommand(r, "XRANGE events - +");
    int n_new = 0, n_start = 0, n_stop = 0;
    const char *stop = NULL;
    for (size_t i = 0; i < x->elements; i++) {
        redisReply *kv = x->element[i]->element[1]; /* type <t> data <json> */
        assert_int_equal(kv->elements, 4);
        const char *type = kv->element[1]->str;
        n_new += strcmp(type, "host.new") == 0;
        n_start += strcmp(type, "probe.start") == 0;
        if (strcmp(type, "probe.stop") == 0) {
            n_stop++;
            stop = kv->element[3]->str;
            assert_int_equal(i, x->elements - 1); /* the probe's last event */
        }
    }
    assert_int_equal(n_new, 3); /* one host.new per host, however many flushes */
    assert_int_equal(n_start, 1);
    assert_int_equal(n_stop, 1);
    /* the final counts: the probe's, and the cloud's own (the three hosts' keys written at the last) */
    char want[128];
    uint64_t written = MC_CTR_GET(cloud, keys_written);
    assert_true(written > written_before);
    snprintf(want, sizeof(want), "\"cloud_keys_written\":%llu,", (unsigned long long)written);
    assert_non_null(strstr(stop, want));
    assert_non_null(strstr(stop, "\"probe\":\"test\","));
    assert_non_null(strstr(stop, "\"packets\":7,\"drops\":1,\"flows_exported\":3,"));
    assert_non_null(strstr(stop, "\"cloud_dropped_keys\":0,\"cloud_dropped_packets\":0,\"cloud_unwritten\":0}"));
    freeReplyObject(x);
    /* the last heartbeat: the final counts, written after the last flush */
    assert_int_equal(hget(r, "probe.test", "packets"), 7);
    assert_int_equal(hget(r, "probe.test", "flows_exported"), 3);
    assert_int_equal(hget(r, "probe.test", "cloud_pending_keys"), 0);
    redisReply *pttl = redisCommand(r, "PTTL probe.test");
    assert_true(pttl->integer > 0 && pttl->integer <= 15000);
    freeReplyObject(pttl);
    redisFree(r);
}

static void test_users_and_local_networks(void **state)
{
    (void)state;
    if (server <= 0)
        skip();
    char node[160];
    snprintf(node, sizeof(node), "unix:%s", sock);
    redisContext *r = rc();
    freeReplyObject(redisCommand(r, "FLUSHALL"));
    freeReplyObject(redisCommand(r, "SET user.ip.10.0.0.7 alice"));
    struct mc_flow_table *t;
    struct mc_cloud *c = start(&t, node, 1, "10.0.0.0/30");
    struct mc_addr bob;
    memset(&bob, 0, sizeof(bob));
    bob.b[0] = 10, bob.b[3] = 9;
    const char *attrs[] = { "imsi", "001010123456789" };
    assert_int_equal(mc_cloud_user_set(c, "bob", 4, &bob, attrs, 1), 0);
    assert_string_equal(mc_cloud_user_of(c, 4, &bob), "bob");
    struct mc_pkt p = pkt4(7, 2, 5, 6, 80, 10);
    mc_flow_process(t, &p);
    mc_cloud_tick(c, 1); /* asks who 10.0.0.7 is */
    struct mc_addr a7 = p.src;
    const char *u = NULL;
    for (int i = 0; i < 100 && !u; i++) {
        sleep_ms(20);
        mc_cloud_tick(c, 1000 + (uint64_t)i * 100);
        u = mc_cloud_user_of(c, 4, &a7);
    }
    assert_non_null(u);
    assert_string_equal(u, "alice");
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_cloud_stop(c);
    mc_flow_table_free(t);
    redisReply *g = redisCommand(r, "GET user.ip.10.0.0.9");
    assert_string_equal(g->str, "bob");
    freeReplyObject(g);
    redisReply *h = redisCommand(r, "HGET user.bob imsi");
    assert_string_equal(h->str, "001010123456789");
    freeReplyObject(h);
    redisReply *ttl = redisCommand(r, "TTL user.bob");
    assert_int_equal(ttl->integer, -1); /* associations live until removed */
    freeReplyObject(ttl);
    /* ... and whoever learned them removes them */
    c = start(&t, node, 0, NULL);
    assert_int_equal(mc_cloud_user_remove(c, "bob", 4, &bob), 0);
    assert_null(mc_cloud_user_of(c, 4, &bob));
    mc_cloud_stop(c);
    mc_flow_table_free(t);
    redisReply *gone = redisCommand(r, "EXISTS user.bob user.ip.10.0.0.9");
    assert_int_equal(gone->integer, 0);
    freeReplyObject(gone);
    /* 10.0.0.2 is in 10.0.0.0/30, 10.0.0.7 is not */
    assert_true(hget(r, "ip.10.0.0.2", "rcvd_pkt") == 1);
    redisReply *e = redisCommand(r, "EXISTS ip.10.0.0.7");
    assert_int_equal(e->integer, 0);
    freeReplyObject(e);
    redisFree(r);
}

static void test_node_down_counts_drops(void **state)
{
    (void)state;
    if (server <= 0)
        skip();
    /* nothing listens there: metering goes on, the probe stops within its drain timeout */
    char node[160];
    snprintf(node, sizeof(node), "unix:%s/nobody.sock", dir);
    struct mc_flow_table *t;
    struct mc_cloud *c = start(&t, node, 0, NULL);
    for (int i = 0; i < 20; i++) {
        struct mc_pkt p = pkt4((uint8_t)(1 + i), 200, 1, 2, 40, (uint64_t)i);
        mc_flow_process(t, &p);
    }
    mc_flow_flush_all(t, MC_END_FORCED);
    uint64_t before = MC_CTR_GET(cloud, undrained_at_exit);
    mc_cloud_stop(c);
    mc_flow_table_free(t);
    assert_int_equal(MC_CTR_GET(cloud, undrained_at_exit) - before, 21);
}

static void test_host_key_v6(void **state)
{
    (void)state;
    char key[128];
    struct mc_addr a;
    memset(&a, 0, sizeof(a));
    a.b[0] = 0x20, a.b[1] = 0x01, a.b[2] = 0x0d, a.b[3] = 0xb8, a.b[15] = 1;
    mc_cloud_host_key("p:", 6, &a, key, sizeof(key));
    assert_string_equal(key, "p:ip.2001:db8::1");
}

/* Host keys name IPv6 addresses exactly as inet_ntop does (RFC 5952): the writer formats them itself. */
static void test_key_text(void **state)
{
    (void)state;
    static const char *const fixed[] = { "::", "::1", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "::0.1.0.0",
                                         "2001:db8::1", "1:0:0:1::", "fe80::1:0:0:0", "1:0:0:2:0:0:3:4",
                                         "1:2:3:4:5:6:7:8", "0:1:2:3:4:5:6:7", "1:2:3:4:5:6:7:0", "::ffff:0:0",
                                         "64:ff9b::192.0.2.33", "1::ffff:1.2.3.4" };
    unsigned seed = 12345;
    for (int n = 0; n < 20000; n++) {
        struct mc_addr a;
        if (n < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
            assert_int_equal(inet_pton(AF_INET6, fixed[n], a.b), 1);
        } else {
            for (int i = 0; i < 8; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = (seed >> 16) & 0xffff;
                unsigned g = (r & 3) ? 0 : (r & 0x8 ? 0xffff : r); /* mostly zero groups: every run shape */
                a.b[2 * i] = (uint8_t)(g >> 8), a.b[2 * i + 1] = (uint8_t)g;
            }
        }
        char want[64], key[128];
        assert_non_null(inet_ntop(AF_INET6, a.b, want, sizeof(want)));
        mc_cloud_host_key("", 6, &a, key, sizeof(key));
        if (strcmp(key + 3, want) != 0)
            fail_msg("ip.%s, inet_ntop says %s", key + 3, want);
    }
    struct mc_addr v4 = { { 10, 0, 255, 7 } };
    char key[64];
    mc_cloud_host_key("x:", 4, &v4, key, sizeof(key));
    assert_string_equal(key, "x:ip.10.0.255.7");
    /* every octet value in every position, as inet_ntop writes it */
    for (int v = 0; v < 256; v++) {
        for (int pos = 0; pos < 4; pos++) {
            struct mc_addr a;
            memset(&a, 0, sizeof(a));
            a.b[0] = 1, a.b[1] = 22, a.b[2] = 203, a.b[3] = 9;
            a.b[pos] = (uint8_t)v;
            char want[32];
            assert_non_null(inet_ntop(AF_INET, a.b, want, sizeof(want)));
            size_t n = mc_cloud_host_key("", 4, &a, key, sizeof(key));
            if (strcmp(key + 3, want) != 0 || n != strlen(key))
                fail_msg("ip.%s, inet_ntop says %s", key + 3, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_key_v6),
        cmocka_unit_test(test_key_text),
        cmocka_unit_test(test_hosts_events_heartbeat),
        cmocka_unit_test(test_users_and_local_networks),
        cmocka_unit_test(test_node_down_counts_drops),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
