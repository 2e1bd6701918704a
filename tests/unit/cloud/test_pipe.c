/*
 * test_pipe.c - the writer's bulk channel: the RESP reply scanner on whole,
 * cut and hostile input; requests of many commands against a real
 * redis-server (replies in order, errors classified, AUTH and SELECT), a
 * refused handshake, and a killed server failing what was in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/pipe.h"
#include "unit/cloud/redis_srv.h"

#define NEED_REDIS()                                            \
    do {                                                        \
        if (!rs_have("redis-server")) {                         \
            print_message("redis-server not found: skipped\n"); \
            skip();                                             \
        }                                                       \
    } while (0)

static void test_scan(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        long len;       /* of the first reply; 0 incomplete, -1 not RESP */
        int type, err;
        int64_t v;
    } cases[] = {
        { ":12345\r\n", 8, MC_PIPE_INTEGER, 0, 12345 },
        { ":-7\r\n", 5, MC_PIPE_INTEGER, 0, -7 },
        { "+OK\r\n:1\r\n", 5, MC_PIPE_STATUS, 0, 0 },
        { "-ERR wrong\r\n", 12, MC_PIPE_ERROR, MC_PIPE_ERR_OTHER, 0 },
        { "-MOVED 3999 127.0.0.1:6381\r\n", 28, MC_PIPE_ERROR, MC_PIPE_ERR_MOVED, 0 },
        { "-ASK 3999 127.0.0.1:6381\r\n", 26, MC_PIPE_ERROR, MC_PIPE_ERR_ASK, 0 },
        { "-TRYAGAIN Multiple keys\r\n", 25, MC_PIPE_ERROR, MC_PIPE_ERR_RETRY, 0 },
        { "-CLUSTERDOWN down\r\n", 19, MC_PIPE_ERROR, MC_PIPE_ERR_RETRY, 0 },
        { "-NOSCRIPT x\r\n", 13, MC_PIPE_ERROR, MC_PIPE_ERR_NOSCRIPT, 0 },
        { "$3\r\nabc\r\n", 9, MC_PIPE_STRING, 0, 0 },
        { "$0\r\n\r\n", 6, MC_PIPE_STRING, 0, 0 },
        { "$-1\r\n", 5, MC_PIPE_NIL, 0, 0 },
        { "*2\r\n:1\r\n$1\r\nx\r\n", 15, MC_PIPE_ARRAY, 0, 2 },
        { "*1\r\n*1\r\n*0\r\n", 12, MC_PIPE_ARRAY, 0, 1 },
        { "*-1\r\n", 5, MC_PIPE_NIL, 0, 0 },
        /* incomplete: more bytes may come */
        { ":123", 0, 0, 0, 0 },
        { "$5\r\nab", 0, 0, 0, 0 },
        { "*2\r\n:1\r\n", 0, 0, 0, 0 },
        /* hostile */
        { "?what\r\n", -1, 0, 0, 0 },
        { ":12x\r\n", -1, 0, 0, 0 },
        { ":\r\n", -1, 0, 0, 0 },
        { ":99999999999999999999\r\n", -1, 0, 0, 0 },
        { "$-5\r\n", -1, 0, 0, 0 },
        { "$999999999999\r\n", -1, 0, 0, 0 },
        { "$3\r\nabcXY", -1, 0, 0, 0 },
        { ":1\rx", -1, 0, 0, 0 },
        { "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", -1, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mc_cloud_pipe_reply r;
        size_t n = strlen(cases[i].in);
        long l = mc_cloud_pipe_scan(cases[i].in, n, &r);
        if (l != cases[i].len)
            fail_msg("case %zu (%s): %ld, want %ld", i, cases[i].in, l, cases[i].len);
        if (l > 0) {
            assert_int_equal(r.type, cases[i].type);
            assert_int_equal(r.err, cases[i].err);
            assert_int_equal(r.v, cases[i].v);
            /* every cut of a whole reply is incomplete, never an error or a reply */
            for (size_t cut = 0; cut < (size_t)l; cut++) {
                char *p = malloc(cut ? cut : 1); /* exact size: ASan sees a read past it */
                memcpy(p, cases[i].in, cut);
                long c = mc_cloud_pipe_scan(p, cut, &r);
                if (c != 0)
                    fail_msg("case %zu cut at %zu: %ld, want 0 (incomplete)", i, cut, c);
                free(p);
            }
        }
    }
}

/* ---- against a server ------------------------------------------------- */

struct got {
    int done, ok;
};

static void on_done(struct mc_cloud_pipe_req *q, int ok)
{
    struct got *g = q->privdata;
    g->done++;
    g->ok = ok;
}

static int is_done(void *arg)
{
    return ((struct got *)arg)->done > 0;
}

static int ready_cb_calls;
static void on_ready(void *ctx)
{
    (void)ctx;
    ready_cb_calls++;
}

static int pipe_ready(void *arg)
{
    return mc_cloud_pipe_ready(arg);
}

/* n commands in RESP: SET k<i> i, then INCR k0, a WRONGTYPE error, a bulk GET and a nil. */
static size_t build(char *buf, size_t cap, int n, uint32_t *count)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        char k[16], v[16];
        int kl = snprintf(k, sizeof(k), "k%d", i), vl = snprintf(v, sizeof(v), "%d", i);
        len += (size_t)snprintf(buf + len, cap - len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, k, vl, v);
    }
    len += (size_t)snprintf(buf + len, cap - len, "*2\r\n$4\r\nINCR\r\n$2\r\nk0\r\n");
    len += (size_t)snprintf(buf + len, cap - len, "*3\r\n$5\r\nLPUSH\r\n$2\r\nk1\r\n$1\r\nx\r\n");
    len += (size_t)snprintf(buf + len, cap - len, "*2\r\n$3\r\nGET\r\n$2\r\nk2\r\n");
    len += (size_t)snprintf(buf + len, cap - len, "*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n");
    *count = (uint32_t)n + 4;
    return len;
}

static void test_requests(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, "--requirepass", "sekret", NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    cfg.password = "sekret";
    cfg.db = 3;
    ready_cb_calls = 0;
    struct mc_cloud_pipe *p = mc_cloud_pipe_new(loop, rs_addr(s), &cfg, 1, on_ready, NULL);
    assert_non_null(p);
    assert_false(mc_cloud_pipe_ready(p));
    mc_cloud_pipe_connect(p);
    assert_true(rs_run_until(loop, pipe_ready, p, 5));
    assert_int_equal(ready_cb_calls, 1);

    enum { N = 20000 };
    static char buf[N * 64];
    uint32_t n;
    size_t len = build(buf, sizeof(buf), N, &n);
    struct mc_cloud_pipe_reply *r = calloc(n, sizeof(*r));
    struct got g = { 0, 0 };
    struct mc_cloud_pipe_req q = { .buf = buf, .len = len, .n = n, .r = r, .done = on_done, .privdata = &g };
    assert_int_equal(mc_cloud_pipe_send(p, &q), 0);
    assert_true(rs_run_until(loop, is_done, &g, 10));
    assert_int_equal(g.done, 1); /* once, when the last reply is in */
    assert_int_equal(g.ok, 1);
    assert_int_equal(mc_cloud_pipe_inflight(p), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(r[i].type, MC_PIPE_STATUS);
    assert_int_equal(r[N].type, MC_PIPE_INTEGER);
    assert_int_equal(r[N].v, 1);
    assert_int_equal(r[N + 1].type, MC_PIPE_ERROR); /* WRONGTYPE */
    assert_int_equal(r[N + 1].err, MC_PIPE_ERR_OTHER);
    assert_int_equal(r[N + 2].type, MC_PIPE_STRING);
    assert_int_equal(r[N + 3].type, MC_PIPE_NIL);
    /* AUTH and SELECT took: the keys are in db 3 */
    redisContext *rc = rs_sync(s);
    redisReply *x = redisCommand(rc, "AUTH sekret");
    freeReplyObject(x);
    x = redisCommand(rc, "SELECT 3");
    freeReplyObject(x);
    x = redisCommand(rc, "GET k123");
    assert_string_equal(x->str, "123");
    freeReplyObject(x);
    redisFree(rc);

    /* the server dies with requests in flight: each fails once, the pipe reconnects after its backoff */
    struct got g2 = { 0, 0 };
    struct mc_cloud_pipe_req q2 = { .buf = buf, .len = len, .n = n, .r = r, .done = on_done, .privdata = &g2 };
    kill(s->pid, SIGSTOP);
    assert_int_equal(mc_cloud_pipe_send(p, &q2), 0);
    rs_run_for(loop, 0.1);
    rs_kill(s); /* stopped, it never answered */
    assert_true(rs_run_until(loop, is_done, &g2, 5));
    assert_int_equal(g2.done, 1);
    assert_int_equal(g2.ok, 0);
    assert_false(mc_cloud_pipe_ready(p));
    assert_int_equal(mc_cloud_pipe_send(p, &q2), -1); /* refused, never called back */
    assert_int_equal(g2.done, 1);
    assert_int_not_equal(mc_cloud_pipe_errstr(p)[0], 0);
    assert_true(rs_restart(s));
    double until = rs_now() + 5;
    while (!mc_cloud_pipe_ready(p) && rs_now() < until) {
        mc_cloud_pipe_connect(p);
        rs_run_for(loop, 0.02);
    }
    assert_true(mc_cloud_pipe_ready(p));
    assert_int_equal(ready_cb_calls, 2);
    mc_cloud_pipe_free(p);
    free(r);
    ev_loop_destroy(loop);
}

static void test_refused_handshake(void **state)
{
    (void)state;
    NEED_REDIS();
    struct rs_server *s = rs_start(1, 0, "--requirepass", "right", NULL);
    assert_non_null(s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct mc_cloud_conn_config cfg;
    mc_cloud_conn_config_defaults(&cfg);
    cfg.password = "wrong";
    struct mc_cloud_pipe *p = mc_cloud_pipe_new(loop, rs_addr(s), &cfg, 1, NULL, NULL);
    mc_cloud_pipe_connect(p);
    rs_run_for(loop, 0.3);
    assert_false(mc_cloud_pipe_ready(p));
    assert_non_null(strstr(mc_cloud_pipe_errstr(p), "handshake refused"));
    mc_cloud_pipe_free(p);
    /* nobody there at all */
    struct mc_cloud_pipe *q = mc_cloud_pipe_new(loop, "unix:/nonexistent/x.sock", &cfg, 1, NULL, NULL);
    mc_cloud_pipe_connect(q);
    rs_run_for(loop, 0.1);
    assert_false(mc_cloud_pipe_ready(q));
    mc_cloud_pipe_free(q);
    assert_null(mc_cloud_pipe_new(loop, "[::1", &cfg, 1, NULL, NULL)); /* a bad address */
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test_teardown(test_requests, rs_teardown),
        cmocka_unit_test_teardown(test_refused_handshake, rs_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
