/* test_templates.c - the template cache: refresh vs change, withdrawal (RFC 7011 8.1), the bounded
 * table, UDP template timeout, the bounded queue of data sets held before their template, streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/collector/helpers.h"

/* An IPFIX message defining template id with one 4-byte field of element el. */
static void msg_tmpl(struct bb *b, uint16_t set, uint16_t id, uint16_t el)
{
    ipfix_begin(b, 1, 0, 9);
    size_t s = set_begin(b, set);
    put16(b, id), put16(b, 1);
    if (set == 3)
        put16(b, 1);
    put16(b, el), put16(b, 4);
    set_end(b, s);
    ipfix_end(b);
}

static void msg_data(struct bb *b, uint16_t id, int n)
{
    ipfix_begin(b, 1, 0, 9);
    size_t s = set_begin(b, id);
    for (int i = 0; i < n; i++)
        put32(b, (uint32_t)i);
    set_end(b, s);
    ipfix_end(b);
}

static void msg_withdraw(struct bb *b, uint16_t set, uint16_t id)
{
    ipfix_begin(b, 1, 0, 9);
    size_t s = set_begin(b, set);
    put16(b, id), put16(b, 0);
    set_end(b, s);
    ipfix_end(b);
}

static void test_refresh_change_withdraw(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    msg_tmpl(&b, 2, 256, 8);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.added"), 1);
    assert_int_equal(ctr("collector.templates.refreshed"), 1);
    msg_tmpl(&b, 2, 256, 12); /* same id, other element: replaced */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.changed"), 1);
    msg_data(&b, 256, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(cap.r[0].f[0].id, 12);
    /* the same template id from another exporter is another template */
    msg_tmpl(&b, 2, 256, 8);
    mc_coll_ipfix(c, &SRC2, b.b, b.n, 0);
    assert_int_equal(mc_coll_n_templates(c), 2);
    msg_tmpl(&b, 2, 257, 8);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    msg_tmpl(&b, 3, 258, 149);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(mc_coll_stream_find(c, &SRC, 10, 9)->templates, 3);
    /* withdraw one; withdraw an unknown one; then all (non-options) templates of the domain */
    msg_withdraw(&b, 2, 256);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.withdrawn"), 1);
    msg_withdraw(&b, 2, 999);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.withdraw_unknown"), 1);
    msg_data(&b, 256, 1); /* withdrawn: held, not decoded */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(mc_coll_n_pending(c), 1);
    msg_withdraw(&b, 2, 2);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.withdrawn"), 2);
    assert_int_equal(mc_coll_stream_find(c, &SRC, 10, 9)->templates, 1); /* the options template stays */
    msg_withdraw(&b, 3, 3);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(mc_coll_stream_find(c, &SRC, 10, 9)->templates, 0);
    assert_int_equal(mc_coll_n_templates(c), 1); /* SRC2's */
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_bounded_table_and_timeout(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_templates = 2;
    cfg.template_timeout_s = 10;
    struct mc_coll *c = cap_new(&cap, &cfg);
    struct bb b;
    for (uint16_t id = 256; id < 260; id++) {
        msg_tmpl(&b, 2, id, 8);
        mc_coll_ipfix(c, &SRC, b.b, b.n, 1000);
    }
    assert_int_equal(mc_coll_n_templates(c), 2);
    assert_int_equal(ctr("collector.templates.table_full"), 2);
    /* refreshed at 5 s, 256 lives on; 257 times out at lookup */
    msg_tmpl(&b, 2, 256, 8);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 5000);
    msg_data(&b, 257, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 11001);
    assert_int_equal(ctr("collector.templates.expired"), 1);
    assert_int_equal(cap.n, 0);
    msg_data(&b, 256, 2);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 11001), 2);
    /* the periodic walk drops 256 too */
    mc_coll_expire(c, 15001);
    assert_int_equal(ctr("collector.templates.expired"), 2);
    assert_int_equal(mc_coll_n_templates(c), 0);
    /* a timeout of 0: never */
    cfg.template_timeout_s = 0;
    struct mc_coll *c2 = mc_coll_new(&cfg, NULL, NULL);
    msg_tmpl(&b, 2, 256, 8);
    mc_coll_ipfix(c2, &SRC, b.b, b.n, 0);
    mc_coll_expire(c2, UINT64_MAX / 2);
    assert_int_equal(mc_coll_n_templates(c2), 1);
    mc_coll_free(c2);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_pending_queue(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_pending = 3;
    cfg.max_pending_bytes = 64;
    cfg.pending_timeout_s = 5;
    struct mc_coll *c = cap_new(&cap, &cfg);
    struct bb b;
    for (int i = 1; i <= 4; i++) { /* 4 sets of i records: the first is dropped for the fourth */
        msg_data(&b, 300, i);
        mc_coll_ipfix(c, &SRC, b.b, b.n, 1000);
    }
    assert_int_equal(mc_coll_n_pending(c), 3);
    assert_int_equal(ctr("collector.pending.dropped"), 1);
    msg_data(&b, 300, 20); /* 80 bytes: more than the queue holds */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 1000);
    assert_int_equal(ctr("collector.pending.too_big"), 1);
    msg_data(&b, 300, 10); /* 40 bytes: the two oldest go to make room */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 1000);
    assert_int_equal(ctr("collector.pending.dropped"), 3);
    assert_int_equal(mc_coll_n_pending(c), 2);
    msg_tmpl(&b, 2, 300, 8);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 2000);
    assert_int_equal(cap.n, 4 + 10); /* oldest first */
    assert_int_equal(fval(&cap.r[3], 0, 8), 3);
    assert_int_equal(mc_coll_n_pending(c), 0);
    assert_int_equal(ctr("collector.pending.decoded"), 2);
    /* held sets expire */
    msg_data(&b, 301, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 2000);
    mc_coll_expire(c, 6000);
    assert_int_equal(mc_coll_n_pending(c), 1);
    mc_coll_expire(c, 7001);
    assert_int_equal(mc_coll_n_pending(c), 0);
    assert_int_equal(ctr("collector.pending.expired"), 1);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_streams_and_values(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_streams = 2;
    struct mc_coll *c = cap_new(&cap, &cfg);
    struct bb b;
    msg_tmpl(&b, 2, 256, 8);
    struct mc_coll_src s = SRC;
    for (uint16_t port = 1; port <= 3; port++) {
        s.port = port;
        mc_coll_ipfix(c, &s, b.b, b.n, 0);
    }
    assert_int_equal(ctr("collector.streams.table_full"), 1);
    assert_non_null(mc_coll_stream_at(c, 1));
    assert_null(mc_coll_stream_at(c, 2));
    assert_int_equal(mc_coll_n_templates(c), 2);
    uint8_t v[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    struct mc_coll_field f = { 0, 1, 2, v };
    assert_int_equal(mc_coll_field_u64(&f), 0x0102);
    f.len = 10;
    assert_int_equal(mc_coll_field_u64(&f), 0x030405060708090aull);
    f.len = 0;
    assert_int_equal(mc_coll_field_u64(&f), 0);
    struct mc_coll *d = mc_coll_new(NULL, NULL, NULL); /* the defaults */
    assert_non_null(d);
    mc_coll_free(d);
    mc_coll_free(NULL);
    mc_coll_free(c);
    cap_free(&cap);
}

/* A full stream table: the quietest stream without a template makes room; with templates everywhere, refused.
 * A TCP session's templates never time out, and end with it (mc_coll_forget). */
static void test_eviction_tcp_and_forget(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct cap cap = { 0 };
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_streams = 2;
    cfg.template_timeout_s = 10;
    struct mc_coll *c = cap_new(&cap, &cfg);
    struct mc_coll_src a = SRC, b = SRC, d = SRC, t = SRC;
    a.port = 1, b.port = 2, d.port = 3, t.port = 4, t.tcp = 1;
    struct bb m;
    msg_tmpl(&m, 2, 300, 8);
    assert_int_equal(mc_coll_ipfix(c, &a, m.b, m.n, 1000), 0); /* a holds a template */
    msg_data(&m, 999, 1);
    mc_coll_ipfix(c, &b, m.b, m.n, 2000);                       /* b: a stream, no template */
    mc_coll_ipfix(c, &d, m.b, m.n, 3000);                       /* d evicts b, not a */
    assert_int_equal(ctr("collector.streams.evicted"), 1);
    assert_non_null(mc_coll_stream_find(c, &a, 10, 9));
    assert_null(mc_coll_stream_find(c, &b, 10, 9));
    assert_non_null(mc_coll_stream_find(c, &d, 10, 9));
    msg_tmpl(&m, 2, 301, 8);
    mc_coll_ipfix(c, &d, m.b, m.n, 4000);                       /* now both hold templates */
    mc_coll_ipfix(c, &b, m.b, m.n, 5000);
    assert_int_equal(ctr("collector.streams.table_full"), 1);
    /* TCP: the session's template outlives the UDP timeout ... */
    mc_coll_forget(c, &d);
    assert_int_equal(ctr("collector.streams.forgotten"), 1);
    msg_tmpl(&m, 2, 302, 8);
    mc_coll_ipfix(c, &t, m.b, m.n, 6000);
    mc_coll_expire(c, 6000 + 3600 * 1000);
    msg_data(&m, 302, 2);
    assert_int_equal(mc_coll_ipfix(c, &t, m.b, m.n, 6000 + 3600 * 1000), 2);
    /* ... while a's UDP template expired */
    assert_int_equal(ctr("collector.templates.expired"), 1);
    /* ... and ends with it: its data is held again, not decoded */
    mc_coll_forget(c, &t);
    assert_int_equal(mc_coll_ipfix(c, &t, m.b, m.n, 6000 + 3600 * 1000), 0);
    assert_int_equal(mc_coll_n_pending(c), 1);
    assert_int_equal(mc_coll_n_templates(c), 0);
    mc_coll_free(c);
    cap_free(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresh_change_withdraw),
        cmocka_unit_test(test_bounded_table_and_timeout),
        cmocka_unit_test(test_pending_queue),
        cmocka_unit_test(test_streams_and_values),
        cmocka_unit_test(test_eviction_tcp_and_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
