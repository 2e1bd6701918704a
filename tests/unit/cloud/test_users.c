/*
 * test_users.c - the user operations and lookups of users.c against a real
 * redis-server: a user with more keys naming it, an endpoint that moved,
 * removal that lingers or keeps the user, operations kept in order when the
 * connection has no room (a SET must not overtake the DEL before it), and
 * an IPv6 address found by its /64.  Skips without redis-server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/cloud.h"
#include "flow/flow.h"
#include "unit/cloud/redis_srv.h"

#define NEED_REDIS()                                          \
    do {                                                      \
        if (!rs_have("redis-server")) {                       \
            print_message("redis-server not found: skipped\n"); \
            skip();                                           \
        }                                                     \
    } while (0)

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static struct mc_flow_table *table; /* the cloud drains its dirty flows at each tick: an empty table */

static void stop(struct mc_cloud *c)
{
    mc_cloud_stop(c);
    mc_flow_table_free(table);
    table = NULL;
}

static struct mc_cloud *start(struct rs_server *s, uint32_t max_inflight)
{
    struct mc_cloud_config cfg;
    char err[256];
    mc_cloud_config_defaults(&cfg);
    cfg.conn.nodes[0] = rs_addr(s);
    cfg.conn.n_nodes = 1;
    cfg.conn.max_inflight = max_inflight;
    cfg.probe_id = "test";
    cfg.flush_ms = 20;
    cfg.drain_timeout_ms = 3000;
    struct mc_cloud *c = mc_cloud_start(&cfg, err, sizeof(err));
    assert_non_null(c);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 64;
    table = mc_flow_table_new(&fc, NULL, NULL);
    assert_non_null(table);
    assert_int_equal(mc_cloud_attach(c, table), 0);
    return c;
}

static struct mc_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct mc_addr x;
    memset(&x, 0, sizeof(x));
    x.b[0] = a, x.b[1] = b, x.b[2] = c, x.b[3] = d;
    return x;
}

static char *get(struct rs_server *s, const char *fmt, const char *key, char *buf, size_t cap)
{
    redisReply *r = rs_cmd(s, fmt, key);
    buf[0] = 0;
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(buf, cap, "%s", r->str);
    else if (r && r->type == REDIS_REPLY_INTEGER)
        snprintf(buf, cap, "%lld", r->integer);
    freeReplyObject(r);
    return buf;
}

static void test_keys_move_linger_keep(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct mc_cloud *c = start(s, 0);
    struct mc_addr ue = v4(100, 64, 0, 1);
    const char *attrs[] = { "imsi", "001010000000001", "msisdn", "4915100000001" };
    const char *keys[] = { "user.teid.10.2.0.2:7", "user.teid.10.1.0.1:8" };
    assert_int_equal(mc_cloud_user_set_keys(c, "001010000000001", 4, &ue, attrs, 2, keys, 2, NULL, 0), 0);
    /* a handover: the access side's endpoint moved */
    const char *moved[] = { "user.teid.10.2.0.2:7", "user.teid.10.1.0.9:9" };
    const char *gone[] = { "user.teid.10.1.0.1:8" };
    assert_int_equal(mc_cloud_user_set_keys(c, "001010000000001", 4, &ue, attrs, 2, moved, 2, gone, 1), 0);
    /* a user without an address (ver 0): no ip field, no user.ip key */
    const char *nokeys[] = { "user.teid.10.2.0.2:11" };
    assert_int_equal(mc_cloud_user_set_keys(c, "001010000000002", 0, NULL, attrs, 1, nokeys, 1, NULL, 0), 0);
    stop(c);
    char buf[128];
    assert_string_equal(get(s, "GET %s", "user.ip.100.64.0.1", buf, sizeof(buf)), "001010000000001");
    assert_string_equal(get(s, "GET %s", "user.teid.10.2.0.2:7", buf, sizeof(buf)), "001010000000001");
    assert_string_equal(get(s, "GET %s", "user.teid.10.1.0.9:9", buf, sizeof(buf)), "001010000000001");
    assert_string_equal(get(s, "EXISTS %s", "user.teid.10.1.0.1:8", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "HGET %s msisdn", "user.001010000000001", buf, sizeof(buf)), "4915100000001");
    assert_string_equal(get(s, "HEXISTS %s ip", "user.001010000000002", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "GET %s", "user.teid.10.2.0.2:11", buf, sizeof(buf)), "001010000000002");

    /* removal that lingers: the keys go, the user keeps its identity without addresses, with a TTL */
    c = start(s, 0);
    const char *all[] = { "user.teid.10.2.0.2:7", "user.teid.10.1.0.9:9" };
    assert_int_equal(mc_cloud_user_remove_keys(c, "001010000000001", 4, &ue, all, 2, 0, 60000), 0);
    /* removal that keeps the user (another session of it lives) */
    assert_int_equal(mc_cloud_user_remove_keys(c, "001010000000002", 0, NULL, nokeys, 1, 1, 60000), 0);
    stop(c);
    assert_string_equal(get(s, "EXISTS %s", "user.ip.100.64.0.1", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "EXISTS %s", "user.teid.10.2.0.2:7", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "EXISTS %s", "user.teid.10.1.0.9:9", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "HEXISTS %s ip", "user.001010000000001", buf, sizeof(buf)), "0");
    assert_string_equal(get(s, "HGET %s imsi", "user.001010000000001", buf, sizeof(buf)), "001010000000001");
    long long ttl = atoll(get(s, "PTTL %s", "user.001010000000001", buf, sizeof(buf)));
    assert_true(ttl > 0 && ttl <= 60000);
    assert_string_equal(get(s, "HGET %s imsi", "user.001010000000002", buf, sizeof(buf)), "001010000000001");
    assert_string_equal(get(s, "PTTL %s", "user.001010000000002", buf, sizeof(buf)), "-1");
    assert_string_equal(get(s, "EXISTS %s", "user.teid.10.2.0.2:11", buf, sizeof(buf)), "0");

    /* the subscriber comes back: its record lives again, without the TTL */
    c = start(s, 0);
    assert_int_equal(mc_cloud_user_set_keys(c, "001010000000001", 4, &ue, attrs, 2, keys, 1, NULL, 0), 0);
    stop(c);
    assert_string_equal(get(s, "PTTL %s", "user.001010000000001", buf, sizeof(buf)), "-1");
    rs_cleanup();
}

/*
 * Thousands of sessions coming and going with room for only a few commands
 * in flight: operations wait for room, and wait in order, so no SET lands
 * after the DEL that follows it.
 */
static void test_order_when_waiting(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct mc_cloud *c = start(s, 16);
    char id[32], key[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "00101%010d", i);
        snprintf(key, sizeof(key), "user.teid.10.2.0.2:%d", i);
        struct mc_addr ue = v4(100, 64, (uint8_t)(i >> 8), (uint8_t)i);
        const char *attrs[] = { "imsi", id };
        const char *keys[] = { key };
        assert_int_equal(mc_cloud_user_set_keys(c, id, 4, &ue, attrs, 1, keys, 1, NULL, 0), 0);
        if (i % 2 == 0)
            assert_int_equal(mc_cloud_user_remove_keys(c, id, 4, &ue, keys, 1, 0, 0), 0);
        if (i % 200 == 199)
            mc_cloud_tick(c, (uint64_t)i * 100); /* hand them over in batches, as flushes would */
    }
    stop(c);
    char buf[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "00101%010d", i);
        snprintf(key, sizeof(key), "user.teid.10.2.0.2:%d", i);
        char want[4];
        snprintf(want, sizeof(want), "%d", i % 2);
        assert_string_equal(get(s, "EXISTS %s", key, buf, sizeof(buf)), want);
        snprintf(key, sizeof(key), "user.%s", id);
        assert_string_equal(get(s, "EXISTS %s", key, buf, sizeof(buf)), want);
    }
    rs_cleanup();
}

/* An IPv6 address without a key is found by its /64 (a mobile UE's prefix). */
static void test_v6_prefix(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    freeReplyObject(rs_cmd(s, "SET user.ip.2001:db8:1:2::/64 001010000000042"));
    freeReplyObject(rs_cmd(s, "HSET user.001010000000042 imsi 001010000000042 msisdn 4915100000042"));
    freeReplyObject(rs_cmd(s, "SET user.ip.2001:db8:9::5 exact"));
    struct mc_cloud *c = start(s, 0);
    struct mc_addr a, b, none;
    memset(&a, 0, sizeof(a));
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", a.b);
    inet_pton(AF_INET6, "2001:db8:9::5", b.b);
    inet_pton(AF_INET6, "2001:db8:7::1", none.b);
    const char *ua = NULL, *ub = NULL;
    (void)mc_cloud_user_of(c, 6, &a);
    (void)mc_cloud_user_of(c, 6, &b);
    (void)mc_cloud_user_of(c, 6, &none);
    for (int i = 0; i < 200 && !(ua && ub); i++) {
        sleep_ms(10);
        mc_cloud_tick(c, 1000 + (uint64_t)i * 100);
        ua = mc_cloud_user_of(c, 6, &a);
        ub = mc_cloud_user_of(c, 6, &b);
    }
    assert_non_null(ua);
    assert_string_equal(ua, "001010000000042");
    assert_non_null(ub);
    assert_string_equal(ub, "exact"); /* the address's own key first */
    assert_null(mc_cloud_user_of(c, 6, &none));
    stop(c);
    rs_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_keys_move_linger_keep, rs_teardown),
        cmocka_unit_test_teardown(test_order_when_waiting, rs_teardown),
        cmocka_unit_test_teardown(test_v6_prefix, rs_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
