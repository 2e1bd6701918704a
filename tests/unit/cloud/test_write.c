/*
 * test_write.c - aggregates through a whole cloud writer against a real
 * redis-server: merged values land (sums, max and min across two probes,
 * last set, sorted-set scores), TTLs are set, events arrive on their
 * channel and in the stream, "publish if new" fires once per field created,
 * nothing is sent per call (the server's own command counts), what waits for
 * a node that is down lands once it is up, and the bound refuses and counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/agg.h"
#include "cloud/cloud.h"
#include "unit/cloud/redis_srv.h"

#define NEED_REDIS()                                            \
    do {                                                        \
        if (!rs_have("redis-server")) {                         \
            print_message("redis-server not found: skipped\n"); \
            skip();                                             \
        }                                                       \
    } while (0)

#define K(s) (s), strlen(s)

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    (void)f;
}

struct probe {
    struct mc_cloud *c;
    struct mc_flow_table *t;
};

static struct probe start(const char *node, const char *id, size_t agg_bytes)
{
    struct mc_cloud_config cfg;
    char err[256];
    mc_cloud_config_defaults(&cfg);
    cfg.conn.nodes[0] = node;
    cfg.conn.n_nodes = 1;
    cfg.conn.connect_timeout_ms = 300;
    cfg.conn.backoff_max_ms = 200;
    cfg.prefix = "t:";
    cfg.probe_id = id;
    cfg.flush_ms = 50;
    cfg.drain_timeout_ms = 3000;
    cfg.lookups = 0;
    cfg.agg_max_bytes = agg_bytes;
    struct probe p;
    p.c = mc_cloud_start(&cfg, err, sizeof(err));
    assert_non_null(p.c);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 64;
    p.t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(p.t);
    assert_int_equal(mc_cloud_attach(p.c, p.t), 0);
    return p;
}

static void stop(struct probe *p)
{
    mc_cloud_stop(p->c);
    mc_flow_table_free(p->t);
}

/* A flush: the handoff, then time for the cloud thread to write. */
static void flush(struct probe *p)
{
    mc_cloud_tick(p->c, (uint64_t)(rs_now() * 1000) + 1000000);
    struct timespec ts = { 0, 150 * 1000000L };
    nanosleep(&ts, NULL);
}

static long long calls(struct rs_server *s, const char *cmd)
{
    redisReply *r = rs_cmd(s, "INFO commandstats");
    assert_non_null(r);
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    const char *at = strstr(r->str, pat);
    long long n = at ? strtoll(at + strlen(pat), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static long long hget(struct rs_server *s, const char *key, const char *field)
{
    redisReply *r = rs_cmd(s, "HGET %s %s", key, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return v;
}

static void test_values_ttl_events(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    /* a subscriber in place before anything is published */
    redisContext *sub = rs_sync(s);
    freeReplyObject(redisCommand(sub, "PSUBSCRIBE t:events.*"));

    struct probe a = start(rs_addr(s), "pa", 0), b = start(rs_addr(s), "pb", 0);
    struct mc_agg *ag = mc_cloud_agg(a.c), *bg = mc_cloud_agg(b.c);
    assert_non_null(ag);
    assert_null(mc_cloud_agg(NULL));
    long long hincr0 = calls(s, "hincrby"), zincr0 = calls(s, "zincrby");
    for (int i = 0; i < 1000; i++) {
        mc_agg_hincr(ag, K("dns.name.example.com"), "queries", 1);
        mc_agg_hmax(ag, K("dns.name.example.com"), "last_seen", (uint64_t)(5000 + i));
        mc_agg_hmin(ag, K("dns.name.example.com"), "first_seen", (uint64_t)(9000 - i));
        mc_agg_zincr(ag, K("dns.top.1"), K("example.com"), 1);
        mc_agg_zincr(ag, K("dns.top.1"), K("example.org"), 2);
        mc_agg_hset(ag, K("ip.10.0.0.1"), "name", i == 999 ? "last" : "not", i == 999 ? 4 : 3);
        mc_agg_expire(ag, K("dns.name.example.com"), 1000 + (uint32_t)i);
        mc_agg_expire(ag, K("dns.top.1"), 3600000);
    }
    assert_int_equal(mc_agg_publish_if_new(ag, K("dns.name.example.com"), "queries", "dns.name.new",
                                           K("{\"name\":\"example.com\"}")), 0);
    assert_int_equal(mc_agg_publish(ag, "mysql.login", K("{\"user\":\"bob\"}")), 0);
    /* the other probe saw other values: max and min hold across both */
    mc_agg_hincr(bg, K("dns.name.example.com"), "queries", 5);
    mc_agg_hmax(bg, K("dns.name.example.com"), "last_seen", 4000);  /* smaller: ignored */
    mc_agg_hmin(bg, K("dns.name.example.com"), "first_seen", 7000); /* smaller: taken */
    flush(&a);
    flush(&b);
    /* a second flush: the field exists, so no second dns.name.new; an expired-since field would */
    mc_agg_hincr(ag, K("dns.name.example.com"), "queries", 1);
    mc_agg_publish_if_new(ag, K("dns.name.example.com"), "queries", "dns.name.new", K("{\"again\":1}"));
    mc_agg_hincr(ag, K("dns.name.other"), "queries", 2);
    mc_agg_publish_if_new(ag, K("dns.name.other"), "queries", "dns.name.new", K("{\"name\":\"other\"}"));
    flush(&a);
    stop(&a);
    stop(&b);

    assert_int_equal(hget(s, "t:dns.name.example.com", "queries"), 1006);
    assert_int_equal(hget(s, "t:dns.name.example.com", "last_seen"), 5999);
    assert_int_equal(hget(s, "t:dns.name.example.com", "first_seen"), 7000);
    assert_int_equal(hget(s, "t:dns.name.other", "queries"), 2);
    redisReply *r = rs_cmd(s, "HGET t:ip.10.0.0.1 name");
    assert_string_equal(r->str, "last");
    freeReplyObject(r);
    r = rs_cmd(s, "ZSCORE t:dns.top.1 example.org");
    assert_string_equal(r->str, "2000");
    freeReplyObject(r);
    r = rs_cmd(s, "PTTL t:dns.name.example.com");
    assert_true(r->integer > 0 && r->integer <= 1999); /* the last TTL given */
    freeReplyObject(r);
    r = rs_cmd(s, "PTTL t:dns.top.1");
    assert_true(r->integer > 3500000);
    freeReplyObject(r);
    r = rs_cmd(s, "PTTL t:ip.10.0.0.1");
    assert_int_equal(r->integer, -1); /* never given one */
    freeReplyObject(r);
    /* merged, not per call: 1000 increments of a field in a flush are one HINCRBY */
    long long hincr = calls(s, "hincrby") - hincr0, zincr = calls(s, "zincrby") - zincr0;
    assert_true(hincr >= 3 && hincr <= 4);
    assert_int_equal(zincr, 2);
    /* the stream: mysql.login, and one dns.name.new per name created */
    r = rs_cmd(s, "XRANGE t:events - +");
    int logins = 0, news = 0, again = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *type = f->element[1]->str, *data = f->element[3]->str;
        logins += strcmp(type, "mysql.login") == 0;
        news += strcmp(type, "dns.name.new") == 0;
        again += strstr(data, "again") != NULL;
    }
    freeReplyObject(r);
    assert_int_equal(logins, 1);
    assert_int_equal(news, 2);
    assert_int_equal(again, 0);
    /* and the channels */
    int msgs = 0;
    struct timeval tv = { 0, 300000 };
    redisSetTimeout(sub, tv);
    redisReply *m;
    while (redisGetReply(sub, (void **)&m) == REDIS_OK) {
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 && strcmp(m->element[0]->str, "pmessage") == 0)
            msgs += strcmp(m->element[2]->str, "t:events.dns.name.new") == 0 ||
                    strcmp(m->element[2]->str, "t:events.mysql.login") == 0;
        freeReplyObject(m);
    }
    redisFree(sub);
    assert_int_equal(msgs, 3);
}

/* Sorted sets by last activity: ZADD GT keeps the latest score across probes; the trim removes older members. */
static void test_sorted_by_activity(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct probe a = start(rs_addr(s), "pa", 0), b = start(rs_addr(s), "pb", 0);
    struct mc_agg *ag = mc_cloud_agg(a.c), *bg = mc_cloud_agg(b.c);
    mc_agg_zmax(ag, K("voip.users"), K("sip:old@x"), 1000);
    mc_agg_zmax(ag, K("voip.users"), K("sip:alice@x"), 5000);
    mc_agg_zmax(ag, K("voip.users"), K("sip:bob@x"), 6000);
    flush(&a);
    mc_agg_zmax(bg, K("voip.users"), K("sip:alice@x"), 4000); /* the other probe saw her earlier: kept at 5000 */
    mc_agg_zmax(bg, K("voip.users"), K("sip:bob@x"), 9000);
    mc_agg_ztrim(bg, K("voip.users"), 2000);                   /* sip:old@x has been idle too long */
    flush(&b);
    stop(&a);
    stop(&b);
    redisReply *r = rs_cmd(s, "ZRANGE t:voip.users 0 -1 WITHSCORES");
    assert_int_equal(r->elements, 4);
    assert_string_equal(r->element[0]->str, "sip:alice@x");
    assert_string_equal(r->element[1]->str, "5000");
    assert_string_equal(r->element[2]->str, "sip:bob@x");
    assert_string_equal(r->element[3]->str, "9000");
    freeReplyObject(r);
}

/* What waits for a node that is not up yet lands once, when it is. */
static void test_node_late(void **state)
{
    (void)state;
    NEED_REDIS();
    assert_non_null(rs_tmpdir());
    char node[320];
    snprintf(node, sizeof(node), "unix:%s/r%d.sock", rs_dir, rs_n); /* where rs_start will put the next one */
    struct probe p = start(node, "late", 0);
    struct mc_agg *ag = mc_cloud_agg(p.c);
    for (int i = 0; i < 100; i++) {
        mc_agg_hincr(ag, K("http.host.a"), "requests", 1);
        mc_agg_zincr(ag, K("z"), K("m"), 1);
    }
    mc_agg_publish(ag, "x.y", K("{}"));
    flush(&p);
    for (int i = 0; i < 50; i++)
        mc_agg_hincr(ag, K("http.host.a"), "requests", 1);
    flush(&p);
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    assert_int_equal(strcmp(rs_addr(s), node), 0);
    flush(&p);
    stop(&p);
    assert_int_equal(hget(s, "t:http.host.a", "requests"), 150);
    redisReply *r = rs_cmd(s, "ZSCORE t:z m");
    assert_string_equal(r->str, "100");
    freeReplyObject(r);
    /* the event, and the probe's own: probe.start once, when the node came up, then probe.stop */
    r = rs_cmd(s, "XRANGE t:events - +");
    assert_int_equal(r->elements, 3);
    const char *types[3] = { "", "", "" };
    for (size_t i = 0; i < r->elements; i++)
        types[i] = r->element[i]->element[1]->element[1]->str;
    assert_int_equal((strcmp(types[0], "x.y") == 0) + (strcmp(types[1], "x.y") == 0), 1);
    assert_int_equal((strcmp(types[0], "probe.start") == 0) + (strcmp(types[1], "probe.start") == 0), 1);
    assert_string_equal(types[2], "probe.stop");
    freeReplyObject(r);
}

/* A full table refuses and counts; what it holds still lands. */
static void test_bound(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct probe p = start(rs_addr(s), "small", 16384);
    struct mc_agg *ag = mc_cloud_agg(p.c);
    uint64_t before = MC_CTR_GET(cloud, agg_dropped_ops);
    int ok = 0, refused = 0;
    char key[64];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(key, sizeof(key), "k.%d", i);
        if (mc_agg_hincr(ag, key, (size_t)n, "n", 1) == 0)
            ok++;
        else
            refused++;
    }
    assert_true(ok > 10 && refused > 0);
    flush(&p);
    assert_int_equal(MC_CTR_GET(cloud, agg_dropped_ops) - before, (uint64_t)refused);
    stop(&p);
    redisReply *r = rs_cmd(s, "DBSIZE");
    assert_int_equal(r->integer, ok + 2); /* and the heartbeat, and the events stream (probe.start, probe.stop) */
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_values_ttl_events, rs_teardown),
        cmocka_unit_test_teardown(test_sorted_by_activity, rs_teardown),
        cmocka_unit_test_teardown(test_node_late, rs_teardown),
        cmocka_unit_test_teardown(test_bound, rs_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
