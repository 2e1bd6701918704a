/* test_hostagg.c - the bounded per-host delta table: merge, age order, eviction counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/hostagg.h"

static struct mc_addr ip(uint8_t last)
{
    struct mc_addr a;
    memset(&a, 0, sizeof(a));
    a.b[0] = 10, a.b[3] = last;
    return a;
}

static void test_add_merges_same_host(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 8), 0);
    struct mc_addr a = ip(1);
    struct mc_hostagg_val v = { .sent_pkt = 2, .rcvd_bytes = 100, .flows = 1, .first_seen = 50, .last_seen = 60 };
    mc_hostagg_add(&h, 4, &a, &v);
    v.first_seen = 40, v.last_seen = 55;
    struct mc_hostagg_entry *e = mc_hostagg_add(&h, 4, &a, &v);
    assert_int_equal(h.n, 1);
    assert_int_equal(e->v.sent_pkt, 4);
    assert_int_equal(e->v.rcvd_bytes, 200);
    assert_int_equal(e->v.first_seen, 40);
    assert_int_equal(e->v.last_seen, 60);
    /* the same bytes as IPv6 are another host */
    mc_hostagg_add(&h, 6, &a, &v);
    assert_int_equal(h.n, 2);
    mc_hostagg_free(&h);
}

static void test_full_table_drops_oldest(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 3), 0);
    struct mc_hostagg_val v = { .sent_pkt = 1, .sent_bytes = 10 };
    for (uint8_t i = 1; i <= 5; i++) {
        struct mc_addr a = ip(i);
        mc_hostagg_add(&h, 4, &a, &v);
    }
    assert_int_equal(h.n, 3);
    assert_int_equal(h.dropped_keys, 2);
    assert_int_equal(h.dropped_pkts, 2);
    assert_int_equal(h.dropped_bytes, 20);
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 1);
    assert_int_equal(e.addr.b[3], 3); /* 1 and 2 were evicted */
    mc_hostagg_free(&h);
}

static void test_merge_empties_source(void **state)
{
    (void)state;
    struct mc_hostagg a, b;
    assert_int_equal(mc_hostagg_init(&a, 16), 0);
    assert_int_equal(mc_hostagg_init(&b, 16), 0);
    struct mc_hostagg_val v = { .rcvd_pkt = 3 };
    for (uint8_t i = 1; i <= 4; i++) {
        struct mc_addr x = ip(i);
        mc_hostagg_add(&a, 4, &x, &v);
        mc_hostagg_add(&b, 4, &x, &v);
    }
    b.dropped_keys = 7;
    mc_hostagg_merge(&a, &b);
    assert_int_equal(b.n, 0);
    assert_int_equal(a.n, 4);
    assert_int_equal(a.dropped_keys, 7);
    struct mc_hostagg_entry e;
    int n = 0;
    while (mc_hostagg_pop_oldest(&a, &e)) {
        assert_int_equal(e.v.rcvd_pkt, 6);
        n++;
    }
    assert_int_equal(n, 4);
    /* reuse after emptying */
    struct mc_addr x = ip(9);
    mc_hostagg_add(&a, 4, &x, &v);
    assert_int_equal(a.n, 1);
    mc_hostagg_clear(&a);
    assert_int_equal(a.n, 0);
    mc_hostagg_free(&a);
    mc_hostagg_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_merges_same_host),
        cmocka_unit_test(test_full_table_drops_oldest),
        cmocka_unit_test(test_merge_empties_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
