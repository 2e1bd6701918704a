/*
 * test_lookup.c - keys the analyzers read from the cloud (cloud/lookup.c)
 * against a real redis-server: a question asked once however often it is
 * asked, found and "no such key" answers cached, the cloud prefix, the
 * bound on waiting questions, a node that cannot take them, the file
 * reader's waiter.  The test plays both threads: mc_lookup_get and
 * mc_lookup_exchange as the packet thread, mc_lookup_send and the event
 * loop as the cloud thread.  Skips without redis-server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/cloud.h"
#include "cloud/conn.h"
#include "cloud/lookup.h"
#include "unit/cloud/redis_srv.h"

#define NEED_REDIS()                                          \
    do {                                                      \
        if (!rs_have("redis-server")) {                       \
            print_message("redis-server not found: skipped\n"); \
            skip();                                           \
        }                                                     \
    } while (0)

struct rig {
    struct rs_server *srv;
    struct ev_loop *loop;
    struct mc_cloud_conn *conn;
    struct mc_lookup *l;
};

static int ready(void *arg) { return mc_cloud_conn_ready(((struct rig *)arg)->conn, 0); }
static int answered(void *arg) { return mc_lookup_pending(((struct rig *)arg)->l) == 0; }

static void rig_open(struct rig *g, const char *prefix)
{
    g->srv = rs_start(1, 0, NULL);
    assert_non_null(g->srv);
    g->loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    cfg.nodes[0] = rs_addr(g->srv);
    cfg.n_nodes = 1;
    char err[256];
    g->conn = mc_cloud_conn_new(g->loop, &cfg, err, sizeof(err));
    assert_non_null(g->conn);
    assert_true(rs_run_until(g->loop, ready, g, 5));
    g->l = mc_lookup_new(prefix);
    assert_non_null(g->l);
}

static void rig_close(struct rig *g)
{
    mc_cloud_conn_free(g->conn);
    mc_lookup_free(g->l); /* after the connection: its replies have run */
    ev_loop_destroy(g->loop);
}

/* One round trip: questions out, the cloud thread sends them, the answers come back into the cache. */
static void round_trip(struct rig *g)
{
    mc_lookup_exchange(g->l, 1);
    mc_lookup_send(g->l, g->conn);
    assert_true(rs_run_until(g->loop, answered, g, 5));
    mc_lookup_exchange(g->l, 1);
}

static int get(struct rig *g, enum mc_lookup_kind k, const char *key, struct mc_lookup_answer *a)
{
    return mc_lookup_get(g->l, k, key, strlen(key), a);
}

static void test_found_and_none(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rig g;
    rig_open(&g, "");
    freeReplyObject(rs_cmd(g.srv, "HSET voip.rtp.10.0.0.1:4000 call_id c1@host side callee"));
    struct mc_lookup_answer a;
    uint64_t sent0 = MC_CTR_GET(cloud, key_lookups), hits0 = MC_CTR_GET(cloud, key_lookup_hits);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.1:4000", &a), MC_LOOKUP_ASKED);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.1:4000", &a), MC_LOOKUP_ASKED); /* on its way: not asked twice */
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.2:4000", &a), MC_LOOKUP_ASKED);
    assert_int_equal(mc_lookup_pending(g.l), 2);
    round_trip(&g);
    assert_int_equal(MC_CTR_GET(cloud, key_lookups), sent0 + 2);
    memset(&a, 0, sizeof(a));
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.1:4000", &a), MC_LOOKUP_FOUND);
    assert_string_equal(a.v[0], "c1@host");
    assert_string_equal(a.v[1], "callee");
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.2:4000", &a), MC_LOOKUP_NONE);
    assert_int_equal(MC_CTR_GET(cloud, key_lookup_hits), hits0 + 1);
    /* cached: asking again sends nothing */
    for (int i = 0; i < 100; i++)
        assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.1:4000", &a), MC_LOOKUP_FOUND);
    mc_lookup_exchange(g.l, 1);
    mc_lookup_send(g.l, g.conn);
    assert_int_equal(MC_CTR_GET(cloud, key_lookups), sent0 + 2);
    /* a kind of another key layout: the call hash's endpoint lists */
    freeReplyObject(rs_cmd(g.srv, "HSET voip.call.c1@host caller_rtp 10.0.0.2:5000 callee_rtp 10.0.0.1:4000"));
    assert_int_equal(get(&g, MC_LOOKUP_CALL_MEDIA, "c1@host", &a), MC_LOOKUP_ASKED);
    round_trip(&g);
    assert_int_equal(get(&g, MC_LOOKUP_CALL_MEDIA, "c1@host", &a), MC_LOOKUP_FOUND);
    assert_string_equal(a.v[0], "10.0.0.2:5000");
    assert_string_equal(a.v[1], "10.0.0.1:4000");
    rig_close(&g);
}

/* Many keys at once (well under the cache's 8192 slots): every one answered, none asked twice, the answers
 * where they belong. */
static void test_many_keys(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rig g;
    rig_open(&g, "");
    redisContext *rc = rs_sync(g.srv);
    assert_non_null(rc);
    for (int i = 0; i < 300; i++)
        redisAppendCommand(rc, "HSET voip.rtp.10.1.%d.%d:%d call_id call%d side %s", i / 250, i % 250, 20000 + i, i,
                           i & 1 ? "callee" : "caller");
    for (int i = 0; i < 300; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    redisFree(rc);
    char key[64];
    struct mc_lookup_answer a;
    uint64_t sent0 = MC_CTR_GET(cloud, key_lookups);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 600; i++) { /* half of them absent */
            snprintf(key, sizeof(key), "10.1.%d.%d:%d", i / 250, i % 250, 20000 + i);
            assert_int_equal(get(&g, MC_LOOKUP_RTP, key, &a), MC_LOOKUP_ASKED);
        }
    round_trip(&g);
    assert_int_equal(MC_CTR_GET(cloud, key_lookups), sent0 + 600);
    int found = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "10.1.%d.%d:%d", i / 250, i % 250, 20000 + i);
        int r = get(&g, MC_LOOKUP_RTP, key, &a);
        if (i < 300) {
            char want[32];
            snprintf(want, sizeof(want), "call%d", i);
            assert_int_equal(r, MC_LOOKUP_FOUND);
            assert_string_equal(a.v[0], want);
            assert_string_equal(a.v[1], i & 1 ? "callee" : "caller");
            found++;
        } else {
            assert_int_equal(r, MC_LOOKUP_NONE);
        }
    }
    assert_int_equal(found, 300);
    rig_close(&g);
}

/* --cloud-prefix: the keys read are the prefixed ones. */
static void test_prefix(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rig g;
    rig_open(&g, "site1:");
    freeReplyObject(rs_cmd(g.srv, "HSET site1:voip.rtp.[2001:db8::1]:4000 call_id v6call side caller"));
    freeReplyObject(rs_cmd(g.srv, "HSET voip.rtp.[2001:db8::1]:4000 call_id wrong side caller"));
    struct mc_lookup_answer a;
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "[2001:db8::1]:4000", &a), MC_LOOKUP_ASKED);
    round_trip(&g);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "[2001:db8::1]:4000", &a), MC_LOOKUP_FOUND);
    assert_string_equal(a.v[0], "v6call");
    rig_close(&g);
}

/* Questions beyond the bound are counted, not queued; an answer too long is cut, never overflowed. */
static void test_bounds(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rig g;
    rig_open(&g, "");
    char key[64], big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    redisReply *r = rs_cmd(g.srv, "HSET voip.rtp.1.1.1.1:1 call_id %s side callee", big);
    freeReplyObject(r);
    struct mc_lookup_answer a;
    uint64_t dropped0 = MC_CTR_GET(cloud, key_lookups_dropped);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "1.1.1.1:1", &a), MC_LOOKUP_ASKED);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "10.2.0.%d:%d", i % 250, i);
        get(&g, MC_LOOKUP_RTP, key, &a);
    }
    assert_int_equal(MC_CTR_GET(cloud, key_lookups_dropped), dropped0 + 5001 - 4096);
    round_trip(&g);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "1.1.1.1:1", &a), MC_LOOKUP_FOUND);
    assert_int_equal(strlen(a.v[0]), MC_LOOKUP_VALUE_MAX);
    /* keys longer than the bound, empty ones, kinds out of range: no question */
    memset(big, '1', MC_LOOKUP_KEY_MAX + 1);
    assert_int_equal(mc_lookup_get(g.l, MC_LOOKUP_RTP, big, MC_LOOKUP_KEY_MAX + 1, &a), MC_LOOKUP_NONE);
    assert_int_equal(mc_lookup_get(g.l, MC_LOOKUP_RTP, big, 0, &a), MC_LOOKUP_NONE);
    assert_int_equal(mc_lookup_get(g.l, MC_LOOKUP_KINDS, big, 4, &a), MC_LOOKUP_NONE);
    assert_int_equal(mc_lookup_get(NULL, MC_LOOKUP_RTP, "1.1.1.1:1", 9, &a), MC_LOOKUP_NONE);
    assert_int_equal(mc_lookup_pending(g.l), 0);
    rig_close(&g);
}

/* A node that cannot take the question: given up (counted), asked again once its mark expires. */
static void test_node_down(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rig g;
    rig_open(&g, "");
    rs_kill(g.srv);
    rs_run_for(g.loop, 0.2); /* the connection sees it */
    struct mc_lookup_answer a;
    uint64_t refused0 = MC_CTR_GET(cloud, refused);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.9:4000", &a), MC_LOOKUP_ASKED);
    mc_lookup_exchange(g.l, 1);
    mc_lookup_send(g.l, g.conn);
    assert_int_equal(MC_CTR_GET(cloud, refused), refused0 + 1);
    assert_int_equal(mc_lookup_pending(g.l), 0);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.9:4000", &a), MC_LOOKUP_ASKED); /* its mark */
    mc_lookup_exchange(g.l, 1);
    assert_int_equal(mc_lookup_pending(g.l), 0);                                    /* nothing asked again yet */
    struct timespec ts = { 1, 100 * 1000000L };
    nanosleep(&ts, NULL);
    assert_int_equal(get(&g, MC_LOOKUP_RTP, "10.0.0.9:4000", &a), MC_LOOKUP_ASKED);
    assert_int_equal(mc_lookup_pending(g.l), 1);                                    /* asked again */
    rig_close(&g);
}

static int waits, wait_result;
static int count_wait(void *ctx)
{
    (void)ctx;
    waits++;
    return wait_result;
}

/* The waiter a file reader installs: run by settle; one that failed is not run again. */
static void test_settle(void **state)
{
    (void)state;
    struct mc_lookup *l = mc_lookup_new("");
    assert_non_null(l);
    assert_int_equal(mc_lookup_settle(l), 0); /* none: a live capture */
    mc_lookup_set_waiter(l, count_wait, NULL);
    wait_result = 1;
    assert_int_equal(mc_lookup_settle(l), 1);
    assert_int_equal(mc_lookup_settle(l), 1);
    wait_result = 0;
    assert_int_equal(mc_lookup_settle(l), 0);
    assert_int_equal(mc_lookup_settle(l), 0);
    assert_int_equal(waits, 3);
    assert_int_equal(mc_lookup_settle(NULL), 0);
    mc_lookup_free(l);
    mc_lookup_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_found_and_none, rs_teardown),
        cmocka_unit_test_teardown(test_many_keys, rs_teardown),
        cmocka_unit_test_teardown(test_prefix, rs_teardown),
        cmocka_unit_test_teardown(test_bounds, rs_teardown),
        cmocka_unit_test_teardown(test_node_down, rs_teardown),
        cmocka_unit_test(test_settle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
