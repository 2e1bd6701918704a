/*
 * test_conn_cluster.c - the connection layer against a real three-master
 * Redis Cluster on loopback: slot map discovery from one seed, 1000 SETs
 * routed by slot, then a live slot migration (CLUSTER SETSLOT IMPORTING /
 * MIGRATING, MIGRATE, SETSLOT NODE: the cluster spec's resharding sequence)
 * under a stream of INCRs that must each count exactly once through the
 * -ASK and -MOVED redirections.  Skips without redis-server / redis-cli.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/conn.h"
#include "cloud/keyspace.h"
#include "unit/cloud/redis_srv.h"

/* Runs a program to completion, output discarded; returns its exit status or -1. */
static int run_prog(const char *const argv[])
{
    pid_t pid = rs_spawn(argv);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct rs_server *srv[3];

static int cluster_ok(const struct rs_server *s)
{
    redisContext *rc = rs_sync(s);
    if (!rc)
        return 0;
    redisReply *r = redisCommand(rc, "CLUSTER INFO");
    int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return ok;
}

/* Starts three cluster-enabled servers and joins them with redis-cli --cluster create. */
static int start_cluster(void)
{
    for (int i = 0; i < 3; i++) {
        char conf[32];
        snprintf(conf, sizeof(conf), "nodes-%d.conf", i);
        srv[i] = rs_start(0, 1, "--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout",
                          "3000", NULL);
        if (!srv[i])
            return 0;
    }
    char a[3][32];
    for (int i = 0; i < 3; i++)
        snprintf(a[i], sizeof(a[i]), "127.0.0.1:%d", srv[i]->port);
    const char *argv[] = { "redis-cli", "--cluster", "create", a[0], a[1], a[2], "--cluster-replicas", "0",
                           "--cluster-yes", NULL };
    if (run_prog(argv) != 0)
        return 0;
    double end = rs_now() + 20;
    while (rs_now() < end) {
        if (cluster_ok(srv[0]) && cluster_ok(srv[1]) && cluster_ok(srv[2]))
            return 1;
        usleep(50000);
    }
    return 0;
}

/* The server that owns slot, from a synchronous CLUSTER SLOTS to srv[0]. */
static int owner_of(int slot)
{
    redisContext *rc = rs_sync(srv[0]);
    assert_non_null(rc);
    redisReply *r = redisCommand(rc, "CLUSTER SLOTS");
    assert_non_null(r);
    int port = -1;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
            port = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(r);
    redisFree(rc);
    for (int i = 0; i < 3; i++)
        if (srv[i]->port == port)
            return i;
    return -1;
}

static void node_id(int i, char *id, size_t len)
{
    redisContext *rc = rs_sync(srv[i]);
    assert_non_null(rc);
    redisReply *r = redisCommand(rc, "CLUSTER MYID");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(id, len, "%s", r->str);
    freeReplyObject(r);
    redisFree(rc);
}

/* One synchronous command (printf-style) to server i, expecting a non-error reply. */
static void admin(int i, const char *fmt, ...)
{
    redisContext *rc = rs_sync(srv[i]);
    assert_non_null(rc);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        print_error("admin %d '%s': %s\n", i, fmt, r->str);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(rc);
}

static int map_ready(void *arg)
{
    struct mc_cloud_conn *c = arg;
    if (mc_cloud_conn_nodes(c) < 3)
        return 0;
    /* keys spread over the slots: each one's master is known and connected */
    for (int i = 0; i < 16384; i += 97) {
        char key[16];
        snprintf(key, sizeof(key), "p%d", i);
        int n = mc_cloud_conn_node_of(c, key, strlen(key));
        if (n < 0 || !mc_cloud_conn_ready(c, n))
            return 0;
    }
    return 1;
}

#define NKEYS 10
#define MAXINCR 20000

static void test_cluster(void **state)
{
    (void)state;
    if (!rs_have("redis-server") || !rs_have("redis-cli")) {
        print_message("redis-server or redis-cli not found: skipped\n");
        skip();
    }
    double t0 = rs_now();
    assert_true(start_cluster());
    print_message("cluster up in %.1f s\n", rs_now() - t0);

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    cfg.cluster = 1;
    cfg.nodes[0] = rs_addr(srv[0]); /* one seed: the rest is discovered */
    cfg.n_nodes = 1;
    cfg.backoff_min_ms = 50;
    char err[256];
    struct mc_cloud_conn *c = mc_cloud_conn_new(loop, &cfg, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(mc_cloud_conn_is_cluster(c), 1);
    assert_int_equal(mc_cloud_conn_node_of(c, "x", 1), -1); /* map not known yet */
    assert_true(rs_run_until(loop, map_ready, c, 10));
    assert_true(MC_CTR_GET(cloud_conn, slot_refreshes) >= 1);

    /* 1000 SETs, all succeed and are readable where the cluster says */
    enum { N = 1000 };
    static struct rs_outcome o[N];
    for (int k = 0; k < N; k++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "key:%d", k);
        snprintf(val, sizeof(val), "val%d", k);
        const char *argv[3] = { "SET", key, val };
        assert_int_equal(mc_cloud_conn_command(c, key, strlen(key), 3, argv, NULL, rs_on_reply, &o[k]), 0);
    }
    struct rs_outcomes m = { o, N };
    assert_true(rs_run_until(loop, rs_all_answered, &m, 10));
    for (int k = 0; k < N; k++) {
        assert_int_equal(o[k].calls, 1);
        assert_string_equal(o[k].str, "OK");
    }
    redisContext *rc[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(rc[i] = rs_sync(srv[i]));
    int owner[16384];
    for (int s = 0; s < 16384; s++)
        owner[s] = -1;
    for (int k = 0; k < N; k++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "key:%d", k);
        snprintf(val, sizeof(val), "val%d", k);
        int slot = mc_cloud_keyslot(key, strlen(key));
        if (owner[slot] < 0)
            owner[slot] = owner_of(slot);
        redisReply *r = redisCommand(rc[owner[slot]], "GET %s", key);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, val);
        freeReplyObject(r);
    }
    /* and through redis-cli -c, which follows MOVED itself: a sample */
    for (int k = 0; k < N; k += 97) {
        char cmd[128], out[64] = "";
        snprintf(cmd, sizeof(cmd), "redis-cli -c -p %d GET key:%d", srv[0]->port, k);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        if (!fgets(out, sizeof(out), f))
            out[0] = '\0';
        pclose(f);
        char want[32];
        snprintf(want, sizeof(want), "val%d\n", k);
        assert_string_equal(out, want);
    }

    /* live migration of the slot of {mig} under INCRs */
    int slot = mc_cloud_keyslot("{mig}", 5);
    int src = owner_of(slot), dst = (src + 1) % 3, third = (src + 2) % 3;
    assert_true(src >= 0);
    char srcid[64], dstid[64];
    node_id(src, srcid, sizeof(srcid));
    node_id(dst, dstid, sizeof(dstid));
    uint64_t moved0 = MC_CTR_GET(cloud_conn, moved), ask0 = MC_CTR_GET(cloud_conn, ask);
    static struct rs_outcome inc[MAXINCR];
    static int inc_key[MAXINCR];
    memset(inc, 0, sizeof(inc));
    int sent = 0, refused = 0;
    char keys[NKEYS][16];
    for (int k = 0; k < NKEYS; k++)
        snprintf(keys[k], sizeof(keys[k]), "{mig}:%d", k);
    for (int tick = 0; tick < 120; tick++) {
        for (int k = 0; k < NKEYS && sent < MAXINCR; k++) {
            const char *argv[2] = { "INCR", keys[k] };
            inc_key[sent] = k;
            if (mc_cloud_conn_command(c, keys[k], strlen(keys[k]), 2, argv, NULL, rs_on_reply, &inc[sent]) == 0)
                sent++;
            else
                refused++;
        }
        if (tick == 10) {
            admin(dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, srcid);
            admin(src, "CLUSTER SETSLOT %d MIGRATING %s", slot, dstid);
        } else if (tick == 30 || tick == 60) {
            /* half the keys, then the other half: in between, some keys answer -ASK */
            char portbuf[16];
            snprintf(portbuf, sizeof(portbuf), "%d", srv[dst]->port);
            const char *full[7 + NKEYS / 2] = { "MIGRATE", "127.0.0.1", portbuf, "", "0", "5000", "KEYS" };
            for (int k = 0; k < NKEYS / 2; k++)
                full[7 + k] = keys[(tick == 30 ? 0 : NKEYS / 2) + k];
            redisReply *r = redisCommandArgv(rc[src], 7 + NKEYS / 2, full, NULL);
            assert_non_null(r);
            if (r->type == REDIS_REPLY_ERROR)
                print_error("MIGRATE: %s\n", r->str);
            assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
            freeReplyObject(r);
        } else if (tick == 80) {
            admin(dst, "CLUSTER SETSLOT %d NODE %s", slot, dstid);
            admin(src, "CLUSTER SETSLOT %d NODE %s", slot, dstid);
            admin(third, "CLUSTER SETSLOT %d NODE %s", slot, dstid);
        }
        rs_run_for(loop, 0.02);
    }
    struct rs_outcomes mi = { inc, sent };
    assert_true(rs_run_until(loop, rs_all_answered, &mi, 10));
    long long expect[NKEYS] = { 0 };
    int nulls = 0, errs = 0;
    for (int i = 0; i < sent; i++) {
        assert_int_equal(inc[i].calls, 1);
        nulls += inc[i].null;
        errs += inc[i].err;
        if (!inc[i].null && !inc[i].err)
            expect[inc_key[i]]++;
    }
    print_message("INCRs: %d sent, %d refused, %d NULL, %d errors; moved %llu, ask %llu\n", sent, refused, nulls,
                  errs, (unsigned long long)(MC_CTR_GET(cloud_conn, moved) - moved0),
                  (unsigned long long)(MC_CTR_GET(cloud_conn, ask) - ask0));
    assert_int_equal(nulls, 0);
    assert_int_equal(errs, 0);
    assert_true(MC_CTR_GET(cloud_conn, moved) > moved0);
    assert_true(MC_CTR_GET(cloud_conn, ask) > ask0);
    assert_int_equal(owner_of(slot), dst);
    assert_int_equal(mc_cloud_conn_node_of(c, "{mig}", 5), mc_cloud_conn_node_of(c, "{mig}:0", 7));
    assert_string_equal(mc_cloud_conn_node_name(c, mc_cloud_conn_node_of(c, "{mig}", 5)), rs_addr(srv[dst]));
    for (int k = 0; k < NKEYS; k++) {
        redisReply *r = redisCommand(rc[dst], "GET %s", keys[k]);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(strtoll(r->str, NULL, 10), expect[k]);
        freeReplyObject(r);
    }
    /* a cluster node given as a plain (standalone) node: detected in the handshake, then routed by slot */
    struct mc_cloud_conn_config plain = cfg;
    plain.cluster = 0;
    plain.nodes[0] = rs_addr(srv[1]);
    struct mc_cloud_conn *d = mc_cloud_conn_new(loop, &plain, err, sizeof(err));
    assert_non_null(d);
    assert_int_equal(mc_cloud_conn_is_cluster(d), 0);
    assert_true(rs_run_until(loop, map_ready, d, 10));
    assert_int_equal(mc_cloud_conn_is_cluster(d), 1);
    static struct rs_outcome det[64];
    for (int k = 0; k < 64; k++) {
        char key[32];
        snprintf(key, sizeof(key), "detected:%d", k);
        const char *argv[3] = { "SET", key, "1" };
        assert_int_equal(mc_cloud_conn_command(d, key, strlen(key), 3, argv, NULL, rs_on_reply, &det[k]), 0);
    }
    struct rs_outcomes md = { det, 64 };
    assert_true(rs_run_until(loop, rs_all_answered, &md, 10));
    for (int k = 0; k < 64; k++)
        assert_string_equal(det[k].str, "OK"); /* no MOVED: every key went to its slot's master */
    mc_cloud_conn_free(d);

    for (int i = 0; i < 3; i++)
        redisFree(rc[i]);
    mc_cloud_conn_free(c);
    ev_loop_destroy(loop);
    print_message("cluster test took %.1f s\n", rs_now() - t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cluster, rs_teardown),
    };
    srand((unsigned)getpid() ^ 0x5bd1e995u);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
