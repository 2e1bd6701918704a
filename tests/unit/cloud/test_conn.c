/*
 * test_conn.c - the connection layer against real redis-server processes
 * (standalone): unix socket, sharding over three nodes, AUTH/ACL/SELECT,
 * a node killed and restarted, a node stopped past the command timeout.
 * Cluster mode is in test_conn_cluster.c.  Skips without redis-server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/conn.h"
#include "cloud/keyspace.h"
#include "unit/cloud/redis_srv.h"

#define NEED_REDIS()                                          \
    do {                                                      \
        if (!rs_have("redis-server")) {                       \
            print_message("redis-server not found: skipped\n"); \
            skip();                                           \
        }                                                     \
    } while (0)

/* Default configuration for the single node s. */
static void one_node(struct mc_cloud_conn_config *cfg, struct rs_server *s)
{
    mc_cloud_conn_config_defaults(cfg);
    cfg->nodes[0] = rs_addr(s);
    cfg->n_nodes = 1;
}

struct readyw {
    struct mc_cloud_conn *c;
    int n;
};

static int all_ready(void *arg)
{
    struct readyw *w = arg;
    for (int i = 0; i < w->n; i++)
        if (!mc_cloud_conn_ready(w->c, i))
            return 0;
    return 1;
}

static int connected_nodes[MC_CLOUD_MAX_NODES];

static void on_connect(void *ctx, int node)
{
    (void)ctx;
    connected_nodes[node]++;
}

static struct mc_cloud_conn *open_conn(struct ev_loop *loop, struct mc_cloud_conn_config *cfg, int wait_ready)
{
    char err[256];
    cfg->on_connect = on_connect;
    struct mc_cloud_conn *c = mc_cloud_conn_new(loop, cfg, err, sizeof(err));
    if (!c)
        print_error("mc_cloud_conn_new: %s\n", err);
    assert_non_null(c);
    if (wait_ready) {
        struct readyw w = { c, cfg->n_nodes };
        assert_true(rs_run_until(loop, all_ready, &w, 5));
    }
    return c;
}

static int cmd2(struct mc_cloud_conn *c, const char *a0, const char *key, const char *a2, struct rs_outcome *o)
{
    const char *argv[3] = { a0, key, a2 };
    return mc_cloud_conn_command(c, key, strlen(key), a2 ? 3 : 2, argv, NULL, rs_on_reply, o);
}

static void test_parse_addr(void **state)
{
    (void)state;
    char h[256], err[128];
    int port, is_unix;
    assert_int_equal(mc_cloud_conn_parse_addr("10.0.0.1:7000", h, sizeof(h), &port, &is_unix, err, sizeof(err)), 0);
    assert_string_equal(h, "10.0.0.1");
    assert_int_equal(port, 7000);
    assert_int_equal(is_unix, 0);
    assert_int_equal(mc_cloud_conn_parse_addr("redis.example", h, sizeof(h), &port, &is_unix, err, sizeof(err)), 0);
    assert_string_equal(h, "redis.example");
    assert_int_equal(port, 6379);
    assert_int_equal(mc_cloud_conn_parse_addr("[::1]:6380", h, sizeof(h), &port, &is_unix, err, sizeof(err)), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 6380);
    assert_int_equal(mc_cloud_conn_parse_addr("[fe80::1]", h, sizeof(h), &port, &is_unix, err, sizeof(err)), 0);
    assert_string_equal(h, "fe80::1");
    assert_int_equal(port, 6379);
    assert_int_equal(mc_cloud_conn_parse_addr("::1", h, sizeof(h), &port, &is_unix, err, sizeof(err)), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 6379);
    assert_int_equal(mc_cloud_conn_parse_addr("unix:/run/redis.sock", h, sizeof(h), &port, &is_unix, err,
                                              sizeof(err)), 0);
    assert_string_equal(h, "/run/redis.sock");
    assert_int_equal(is_unix, 1);
    static const char *const bad[] = { "", "unix:", "h:", ":6379", "h:0", "h:65536", "h:12a", "[::1", "[]:1",
                                       "[::1]6379", "h:1234567" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mc_cloud_conn_parse_addr(bad[i], h, sizeof(h), &port, &is_unix, err, sizeof(err)), -1);
    /* a bad address fails mc_cloud_conn_new without touching the loop */
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    cfg.nodes[0] = "h:0";
    cfg.n_nodes = 1;
    assert_null(mc_cloud_conn_new(NULL, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "h:0"));
}

/* (a) one node on a unix socket: SET then GET, each callback exactly once. */
static void test_unix_set_get(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    one_node(&cfg, s);
    memset(connected_nodes, 0, sizeof(connected_nodes));
    uint64_t connects0 = MC_CTR_GET(cloud_conn, connects);
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    assert_int_equal(connected_nodes[0], 1);
    assert_int_equal(MC_CTR_GET(cloud_conn, connects), connects0 + 1);
    assert_int_equal(mc_cloud_conn_is_cluster(c), 0);
    assert_int_equal(mc_cloud_conn_nodes(c), 1);
    assert_string_equal(mc_cloud_conn_node_name(c, 0), rs_addr(s));

    struct rs_outcome o[3];
    memset(o, 0, sizeof(o));
    /* binary-safe values through argvlen */
    const char *argv[3] = { "SET", "mc:k", "v\0x" };
    const size_t argvlen[3] = { 3, 4, 3 };
    assert_int_equal(mc_cloud_conn_command(c, "mc:k", 4, 3, argv, argvlen, rs_on_reply, &o[0]), 0);
    assert_int_equal(cmd2(c, "GET", "mc:k", NULL, &o[1]), 0);
    assert_int_equal(mc_cloud_conn_command_node(c, 0, 1, (const char *[]){ "PING" }, NULL, rs_on_reply, &o[2]), 0);
    assert_int_equal(mc_cloud_conn_inflight(c), 3);
    struct rs_outcomes w = { o, 3 };
    assert_true(rs_run_until(loop, rs_all_answered, &w, 5));
    rs_run_for(loop, 0.05); /* no second call */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].null, 0);
    }
    assert_string_equal(o[0].str, "OK");
    assert_int_equal(o[1].type, REDIS_REPLY_STRING);
    assert_memory_equal(o[1].str, "v\0x", 3);
    assert_string_equal(o[2].str, "PONG");
    assert_int_equal(mc_cloud_conn_inflight(c), 0);
    assert_int_equal(mc_cloud_conn_command_node(c, 1, 1, (const char *[]){ "PING" }, NULL, rs_on_reply, &o[2]), -1);
    mc_cloud_conn_free(c);
    ev_loop_destroy(loop);
}

/* (b) three standalone nodes: every key lands where mc_cloud_node_for_key says. */
static void test_sharding(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(s[i] = rs_start(0, 0, NULL));
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    for (int i = 0; i < 3; i++)
        cfg.nodes[i] = rs_addr(s[i]);
    cfg.n_nodes = 3;
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    enum { N = 200 };
    static struct rs_outcome o[N];
    memset(o, 0, sizeof(o));
    uint64_t cmds0 = MC_CTR_GET(cloud_conn, commands), rep0 = MC_CTR_GET(cloud_conn, replies);
    int per_node[3] = { 0 };
    for (int k = 0; k < N; k++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "flow:%d", k);
        snprintf(val, sizeof(val), "v%d", k);
        assert_int_equal(mc_cloud_conn_node_of(c, key, strlen(key)), mc_cloud_node_for_key(key, strlen(key), 3));
        per_node[mc_cloud_node_for_key(key, strlen(key), 3)]++;
        assert_int_equal(cmd2(c, "SET", key, val, &o[k]), 0);
    }
    struct rs_outcomes w = { o, N };
    assert_true(rs_run_until(loop, rs_all_answered, &w, 5));
    assert_int_equal(MC_CTR_GET(cloud_conn, commands) - cmds0, N);
    assert_int_equal(MC_CTR_GET(cloud_conn, replies) - rep0, N);
    for (int i = 0; i < 3; i++)
        assert_true(per_node[i] > 30); /* the test means something on every node */
    redisContext *rc[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(rc[i] = rs_sync(s[i]));
    for (int k = 0; k < N; k++) {
        assert_int_equal(o[k].calls, 1);
        assert_string_equal(o[k].str, "OK");
        char key[32], val[32];
        snprintf(key, sizeof(key), "flow:%d", k);
        snprintf(val, sizeof(val), "v%d", k);
        int home = mc_cloud_node_for_key(key, strlen(key), 3);
        for (int i = 0; i < 3; i++) {
            redisReply *r = redisCommand(rc[i], "GET %s", key);
            assert_non_null(r);
            if (i == home) {
                assert_int_equal(r->type, REDIS_REPLY_STRING);
                assert_string_equal(r->str, val);
            } else {
                assert_int_equal(r->type, REDIS_REPLY_NIL);
            }
            freeReplyObject(r);
        }
    }
    for (int i = 0; i < 3; i++)
        redisFree(rc[i]);
    mc_cloud_conn_free(c);
    ev_loop_destroy(loop);
}

/* (c) requirepass, an ACL user, SELECT, and a wrong password. */
static void test_auth(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(0, 0, "--requirepass", "s3cret", NULL);
    assert_non_null(s);
    redisContext *rc = rs_sync(s);
    assert_non_null(rc);
    redisReply *r = redisCommand(rc, "AUTH s3cret");
    assert_non_null(r);
    freeReplyObject(r);
    r = redisCommand(rc, "ACL SETUSER probe on >pw ~* +@all");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    one_node(&cfg, s);
    struct rs_outcome o[2];

    /* password only, and SELECT 3 */
    cfg.password = "s3cret";
    cfg.db = 3;
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    memset(o, 0, sizeof(o));
    assert_int_equal(cmd2(c, "SET", "mc:db", "three", &o[0]), 0);
    struct rs_outcomes w = { o, 1 };
    assert_true(rs_run_until(loop, rs_all_answered, &w, 5));
    assert_string_equal(o[0].str, "OK");
    mc_cloud_conn_free(c);
    r = redisCommand(rc, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(rc, "GET mc:db");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "three");
    freeReplyObject(r);

    /* ACL user */
    cfg.db = 0;
    cfg.user = "probe";
    cfg.password = "pw";
    c = open_conn(loop, &cfg, 1);
    memset(o, 0, sizeof(o));
    assert_int_equal(cmd2(c, "SET", "mc:acl", "yes", &o[0]), 0);
    assert_true(rs_run_until(loop, rs_all_answered, &w, 5));
    assert_string_equal(o[0].str, "OK");
    mc_cloud_conn_free(c);

    /* wrong password: never ready, counted, refused */
    uint64_t auth0 = MC_CTR_GET(cloud_conn, auth_errors), ref0 = MC_CTR_GET(cloud_conn, refused_not_ready);
    cfg.user = NULL;
    cfg.password = "wrong";
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 100;
    c = open_conn(loop, &cfg, 0);
    rs_run_for(loop, 0.5);
    assert_int_equal(mc_cloud_conn_ready(c, 0), 0);
    assert_true(MC_CTR_GET(cloud_conn, auth_errors) >= auth0 + 2); /* retried with backoff */
    assert_non_null(strstr(mc_cloud_conn_errstr(c), "auth"));
    memset(o, 0, sizeof(o));
    assert_int_equal(cmd2(c, "SET", "mc:no", "no", &o[0]), -1);
    assert_int_equal(MC_CTR_GET(cloud_conn, refused_not_ready), ref0 + 1);
    mc_cloud_conn_free(c);
    assert_int_equal(o[0].calls, 0);
    redisFree(rc);
    ev_loop_destroy(loop);
}

/* The start-up check: a refused configuration is an error naming node and cause; an absent node is not. */
static void test_check(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, "--requirepass", "s3cret", NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    char err[512];
    one_node(&cfg, s);
    static const struct { const char *user, *password; int db, cluster; const char *says; } cases[] = {
        { NULL, "wrong", 0, 0, "WRONGPASS" },          /* wrong password */
        { "nobody", "s3cret", 0, 0, "WRONGPASS" },     /* unknown ACL user */
        { NULL, NULL, 0, 0, "authentication required" },
        { NULL, "s3cret", 0, 1, "not a Redis Cluster node" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg.user = cases[i].user;
        cfg.password = cases[i].password;
        cfg.cluster = cases[i].cluster;
        struct mc_cloud_conn *c = mc_cloud_conn_new(loop, &cfg, err, sizeof(err));
        assert_non_null(c);
        double t0 = rs_now();
        assert_int_equal(mc_cloud_conn_check(c, err, sizeof(err)), -1);
        assert_true(rs_now() - t0 < 1.0);
        assert_non_null(strstr(err, rs_addr(s)));
        if (!strstr(err, cases[i].says))
            fail_msg("case %zu: %s", i, err);
        mc_cloud_conn_free(c);
    }
    /* the right password: ready after the check */
    cfg.user = NULL, cfg.password = "s3cret", cfg.cluster = 0;
    struct mc_cloud_conn *c = mc_cloud_conn_new(loop, &cfg, err, sizeof(err));
    assert_int_equal(mc_cloud_conn_check(c, err, sizeof(err)), 0);
    assert_int_equal(mc_cloud_conn_ready(c, 0), 1);
    assert_int_equal(mc_cloud_conn_up(c, 0), 1);
    mc_cloud_conn_free(c);
    /* a node that is not there is no configuration error: the check returns once it failed, not at its timeout */
    cfg.nodes[0] = "unix:/nonexistent/mc.sock";
    cfg.connect_timeout_ms = 5000;
    c = mc_cloud_conn_new(loop, &cfg, err, sizeof(err));
    double t0 = rs_now();
    assert_int_equal(mc_cloud_conn_check(c, err, sizeof(err)), 0);
    assert_true(rs_now() - t0 < 1.0);
    assert_int_equal(mc_cloud_conn_up(c, 0), 0);
    assert_non_null(strstr(mc_cloud_conn_errstr(c), "No such file"));
    mc_cloud_conn_free(c);
    /* a host name that does not exist fails at once */
    cfg.nodes[0] = "no-such-host.invalid:6379";
    assert_null(mc_cloud_conn_new(loop, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot resolve"));
    ev_loop_destroy(loop);
}

/* Sends one INCR every tick while armed; counts outcomes. */
struct pump {
    struct mc_cloud_conn *c;
    struct rs_outcome o[4096];
    int sent, refused;
};

static void pump_send(struct pump *p, int n)
{
    for (int i = 0; i < n && p->sent < 4096; i++) {
        if (cmd2(p->c, "INCR", "mc:ctr", NULL, &p->o[p->sent]) == 0)
            p->sent++;
        else
            p->refused++;
    }
}

static int pump_settled(void *arg)
{
    struct pump *p = arg;
    for (int i = 0; i < p->sent; i++)
        if (p->o[i].calls == 0)
            return 0;
    return 1;
}

static int ready0(void *arg)
{
    return mc_cloud_conn_ready(arg, 0);
}

/* (d) SIGKILL mid-run: refusals or NULL callbacks, never a crash; restart: reconnects. */
static void test_kill_restart(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(0, 0, NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    one_node(&cfg, s);
    cfg.connect_timeout_ms = 500;
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 200;
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    static struct pump p;
    memset(&p, 0, sizeof(p));
    p.c = c;
    uint64_t connects0 = MC_CTR_GET(cloud_conn, connects), disc0 = MC_CTR_GET(cloud_conn, disconnects);

    pump_send(&p, 100);
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    pump_send(&p, 100); /* written or buffered when the server dies */
    rs_kill(s);
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    for (int k = 0; k < 20; k++) { /* keep trying while it is down */
        pump_send(&p, 5);
        rs_run_for(loop, 0.02);
    }
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    assert_int_equal(mc_cloud_conn_ready(c, 0), 0);
    assert_true(MC_CTR_GET(cloud_conn, disconnects) >= disc0 + 1);
    assert_true(p.refused > 0);
    int ok = 0, nul = 0;
    for (int i = 0; i < p.sent; i++) {
        assert_int_equal(p.o[i].calls, 1);
        ok += p.o[i].null == 0;
        nul += p.o[i].null;
    }
    assert_true(ok >= 100);
    assert_int_equal(ok + nul, p.sent);
    assert_int_equal(mc_cloud_conn_inflight(c), 0);

    assert_true(rs_restart(s));
    assert_true(rs_run_until(loop, ready0, c, 5));
    assert_int_equal(MC_CTR_GET(cloud_conn, connects), connects0 + 1);
    int before = p.sent;
    pump_send(&p, 10);
    assert_int_equal(p.sent, before + 10);
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    for (int i = before; i < p.sent; i++) {
        assert_int_equal(p.o[i].null, 0);
        assert_int_equal(p.o[i].type, REDIS_REPLY_INTEGER);
    }
    assert_int_equal(p.o[p.sent - 1].integer, 10); /* fresh server, nothing saved */
    mc_cloud_conn_free(c);
    ev_loop_destroy(loop);
}

/*
 * (e) SIGSTOP past command_timeout_ms: the node is held back (new commands
 * refused) but its in-flight commands are neither failed nor resent, since a
 * frozen server may still execute them; SIGCONT: every one of them is
 * answered, each executed exactly once, without a reconnection.
 */
static void test_stop_timeout(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(0, 0, NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    one_node(&cfg, s);
    cfg.command_timeout_ms = 1000;
    cfg.connect_timeout_ms = 500;
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 400;
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    static struct pump p;
    memset(&p, 0, sizeof(p));
    p.c = c;
    uint64_t to0 = MC_CTR_GET(cloud_conn, timeouts), connects0 = MC_CTR_GET(cloud_conn, connects);

    kill(s->pid, SIGSTOP);
    pump_send(&p, 10);
    rs_run_for(loop, 0.5);
    pump_send(&p, 10);
    assert_int_equal(p.sent, 20);
    rs_run_for(loop, 2.5);
    for (int i = 0; i < p.sent; i++)
        assert_int_equal(p.o[i].calls, 0); /* held, not failed */
    assert_int_equal(MC_CTR_GET(cloud_conn, timeouts), to0 + 1);
    assert_int_equal(mc_cloud_conn_ready(c, 0), 0);
    pump_send(&p, 5);
    assert_int_equal(p.refused, 5);
    kill(s->pid, SIGCONT);
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    long long top = 0;
    for (int i = 0; i < p.sent; i++) {
        assert_int_equal(p.o[i].calls, 1);
        assert_int_equal(p.o[i].type, REDIS_REPLY_INTEGER);
        if (p.o[i].integer > top)
            top = p.o[i].integer;
    }
    assert_int_equal(top, 20); /* each INCR executed once */
    assert_int_equal(MC_CTR_GET(cloud_conn, connects), connects0);
    assert_true(rs_run_until(loop, ready0, c, 5));
    int before = p.sent;
    pump_send(&p, 5);
    assert_true(rs_run_until(loop, pump_settled, &p, 5));
    for (int i = before; i < p.sent; i++)
        assert_int_equal(p.o[i].type, REDIS_REPLY_INTEGER);
    mc_cloud_conn_free(c);
    ev_loop_destroy(loop);
}

/* max_inflight bounds a node; mc_cloud_conn_free fails pending commands with NULL. */
static void test_bound_and_free(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    one_node(&cfg, s);
    cfg.max_inflight = 8;
    struct mc_cloud_conn *c = open_conn(loop, &cfg, 1);
    static struct pump p;
    memset(&p, 0, sizeof(p));
    p.c = c;
    pump_send(&p, 10);
    assert_int_equal(p.sent, 8);
    assert_int_equal(p.refused, 2);
    assert_int_equal(mc_cloud_conn_ready(c, 0), 0);
    assert_int_equal(mc_cloud_conn_inflight(c), 8);
    mc_cloud_conn_free(c);
    for (int i = 0; i < p.sent; i++) {
        assert_int_equal(p.o[i].calls, 1);
        assert_int_equal(p.o[i].null, 1);
    }
    ev_loop_destroy(loop);
}

/* The programs' --redis, --redis-cluster and --redis-auth. */
static void test_config_options(void **state)
{
    (void)state;
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    char err[128];
    char list[] = "a:1,,unix:/s", more[] = "b:2", seed[] = "c:3";
    assert_int_equal(mc_cloud_conn_config_add_nodes(&cfg, list, 0, err, sizeof(err)), 0);
    assert_int_equal(mc_cloud_conn_config_add_nodes(&cfg, more, 0, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_nodes, 3);
    assert_string_equal(cfg.nodes[1], "unix:/s");
    assert_string_equal(cfg.nodes[2], "b:2");
    assert_int_equal(mc_cloud_conn_config_add_nodes(&cfg, seed, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be mixed"));
    char up[] = "probe:s3:cret", pw[] = "only";
    mc_cloud_conn_config_auth(&cfg, up);
    assert_string_equal(cfg.user, "probe");
    assert_string_equal(cfg.password, "s3:cret"); /* the first ':' splits */
    mc_cloud_conn_config_auth(&cfg, pw);
    assert_string_equal(cfg.password, "only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_config_options),
        cmocka_unit_test_teardown(test_unix_set_get, rs_teardown),
        cmocka_unit_test_teardown(test_sharding, rs_teardown),
        cmocka_unit_test_teardown(test_auth, rs_teardown),
        cmocka_unit_test_teardown(test_check, rs_teardown),
        cmocka_unit_test_teardown(test_kill_restart, rs_teardown),
        cmocka_unit_test_teardown(test_stop_timeout, rs_teardown),
        cmocka_unit_test_teardown(test_bound_and_free, rs_teardown),
    };
    srand((unsigned)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
