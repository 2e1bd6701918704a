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
    mc_hostagg_add(&h, 4, &a, &v);
    assert_int_equal(h.n, 1);
    struct mc_hostagg_entry got, *e = &got;
    assert_int_equal(mc_hostagg_get(&h, 4, &a, e), 1);
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

static struct mc_addr host(int i)
{
    struct mc_addr a = ip(0);
    a.b[1] = (uint8_t)(i >> 16), a.b[2] = (uint8_t)(i >> 8), a.b[3] = (uint8_t)i;
    return a;
}

/*
 * Flows added through the front reach the table when anything else is
 * called: nothing is lost or counted twice, with few hosts or more than the
 * front holds (it grows, then moves its hosts in as they come).
 */
static void test_add_flow_settles(void **state)
{
    (void)state;
    for (int hosts = 40; hosts <= 400000; hosts *= 10) {
        struct mc_hostagg h;
        assert_int_equal(mc_hostagg_init(&h, 1000000), 0);
        struct mc_hostagg_flow d = { .pkts = { 1, 0 }, .bytes = { 7, 0 }, .flows = 1 };
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < hosts; i++) {
                struct mc_addr a = host(i), peer = ip(0);
                d.first_seen = d.last_seen = 1000 + (uint64_t)round;
                mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
            }
        mc_hostagg_settle(&h);
        assert_int_equal(h.n, hosts);
        struct mc_hostagg_entry e;
        int popped = 0;
        while (mc_hostagg_pop_oldest(&h, &e)) {
            assert_int_equal(e.v.sent_pkt, 3);
            assert_int_equal(e.v.rcvd_pkt, 0);
            assert_int_equal(e.v.sent_bytes, 21);
            assert_int_equal(e.v.flows, 3);
            assert_int_equal(e.v.first_seen, 1000);
            assert_int_equal(e.v.last_seen, 1002);
            popped++;
        }
        assert_int_equal(popped, hosts);
        /* an add still in the front is seen by a pop without an explicit settle */
        struct mc_addr a = ip(9), peer = ip(0);
        mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
        assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 1);
        assert_int_equal(e.addr.b[3], 9);
        /* and a clear drops it */
        mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
        mc_hostagg_clear(&h);
        assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 0);
        mc_hostagg_free(&h);
    }
}

/* A flow counts for both of its hosts, mirrored: what one sent the other received. */
static void test_add_flow_both_sides(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 8), 0);
    struct mc_addr cli = ip(1), srv = ip(2);
    struct mc_hostagg_flow d = { .pkts = { 3, 5 }, .bytes = { 300, 5000 }, .flows = 1, .first_seen = 10, .last_seen = 20 };
    mc_hostagg_add_flow(&h, 4, &cli, &srv, &d, 3);
    d.flows = 0, d.first_seen = 0, d.last_seen = 30; /* the same flow, later: no new flow, first time unknown */
    mc_hostagg_add_flow(&h, 4, &cli, &srv, &d, 2); /* the client is not local this time */
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_get(&h, 4, &cli, &e), 1);
    assert_int_equal(e.v.sent_pkt, 3);
    assert_int_equal(e.v.rcvd_pkt, 5);
    assert_int_equal(e.v.sent_bytes, 300);
    assert_int_equal(e.v.rcvd_bytes, 5000);
    assert_int_equal(e.v.flows, 1);
    assert_int_equal(e.v.first_seen, 10);
    assert_int_equal(e.v.last_seen, 20);
    assert_int_equal(mc_hostagg_get(&h, 4, &srv, &e), 1);
    assert_int_equal(e.v.sent_pkt, 10);
    assert_int_equal(e.v.rcvd_pkt, 6);
    assert_int_equal(e.v.sent_bytes, 10000);
    assert_int_equal(e.v.rcvd_bytes, 600);
    assert_int_equal(e.v.flows, 1);
    assert_int_equal(e.v.first_seen, 10);
    assert_int_equal(e.v.last_seen, 30);
    /* IPv6 and IPv4 hosts with the same 16 bytes stay apart */
    mc_hostagg_add_flow(&h, 6, &cli, &srv, &d, 1);
    assert_int_equal(mc_hostagg_get(&h, 6, &cli, &e), 1);
    assert_int_equal(e.v.sent_pkt, 3);
    assert_int_equal(h.n, 3);
    mc_hostagg_free(&h);
}

/* Packet counts beyond the front's 32 bits are kept whole. */
static void test_add_flow_beyond_32_bits(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 8), 0);
    struct mc_addr a = ip(1), b = ip(2);
    struct mc_hostagg_flow d = { .pkts = { 0xF0000000u, 1 }, .bytes = { 1, 1 }, .flows = 1 };
    for (int i = 0; i < 5; i++)
        mc_hostagg_add_flow(&h, 4, &a, &b, &d, 1);
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_get(&h, 4, &a, &e), 1);
    assert_true(e.v.sent_pkt == 5ull * 0xF0000000u);
    assert_int_equal(e.v.rcvd_pkt, 5);
    assert_int_equal(e.v.flows, 5);
    assert_int_equal(h.n, 1);
    mc_hostagg_free(&h);
}

/*
 * Pops take the table's hosts (older) first, then the front's where they lie;
 * an add in the middle of popping the front loses nothing and counts nothing
 * twice.
 */
static void test_pop_front(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 1000), 0);
    struct mc_addr peer = ip(0), old = ip(200);
    struct mc_hostagg_val v = { .sent_pkt = 5 };
    mc_hostagg_add(&h, 4, &old, &v); /* the table's */
    struct mc_hostagg_flow d = { .pkts = { 1, 0 } };
    for (int i = 1; i <= 100; i++) {
        struct mc_addr a = host(i);
        mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
    }
    assert_int_equal(mc_hostagg_count(&h), 101);
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 1);
    assert_true(e.addr.b[3] == 200 && e.v.sent_pkt == 5);
    uint64_t seen[256] = { 0 };
    for (int k = 0; k < 50; k++) {
        assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 1);
        seen[e.addr.b[3]] += e.v.sent_pkt;
    }
    assert_int_equal(mc_hostagg_count(&h), 50);
    for (int i = 1; i <= 100; i++) { /* every host once more, popped or not */
        struct mc_addr a = host(i);
        mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
    }
    while (mc_hostagg_pop_oldest(&h, &e))
        seen[e.addr.b[3]] += e.v.sent_pkt;
    for (int i = 1; i <= 100; i++)
        assert_int_equal(seen[i], 2);
    assert_int_equal(mc_hostagg_count(&h), 0);
    mc_hostagg_free(&h);
}

/* A move into a table whose front is being popped: what is left of it and all of src end up in dst, once. */
static void test_move_into_popping(void **state)
{
    (void)state;
    struct mc_hostagg dst, src;
    assert_int_equal(mc_hostagg_init(&dst, 1000), 0);
    assert_int_equal(mc_hostagg_init(&src, 1000), 0);
    struct mc_addr peer = ip(0);
    struct mc_hostagg_flow d = { .pkts = { 1, 0 } };
    for (int i = 1; i <= 100; i++) {
        struct mc_addr a = host(i);
        mc_hostagg_add_flow(&dst, 4, &a, &peer, &d, 1);
        struct mc_addr b = host(i + 100);
        if (i > 50) { /* src: hosts 51..100 and 151..200 */
            mc_hostagg_add_flow(&src, 4, &a, &peer, &d, 1);
            mc_hostagg_add_flow(&src, 4, &b, &peer, &d, 1);
        }
    }
    uint64_t seen[256] = { 0 };
    struct mc_hostagg_entry e;
    for (int k = 0; k < 30; k++) { /* dst's flush has begun */
        assert_int_equal(mc_hostagg_pop_oldest(&dst, &e), 1);
        seen[e.addr.b[3]] += e.v.sent_pkt;
    }
    src.dropped_keys = 3;
    mc_hostagg_move(&dst, &src);
    assert_int_equal(mc_hostagg_count(&src), 0);
    assert_int_equal(dst.n, 0); /* all in a front: none went through the chained table */
    assert_int_equal(dst.dropped_keys, 3);
    assert_int_equal(src.dropped_keys, 0);
    while (mc_hostagg_pop_oldest(&dst, &e))
        seen[e.addr.b[3]] += e.v.sent_pkt;
    for (int i = 1; i <= 200; i++)
        assert_int_equal(seen[i], i <= 50 ? 1 : i <= 100 ? 2 : i <= 150 ? 0 : 1);
    mc_hostagg_free(&dst);
    mc_hostagg_free(&src);
}

/* A front holding more hosts than the table's bound: the table drops the oldest and counts them. */
static void test_add_flow_bounded(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 100), 0);
    struct mc_hostagg_flow d = { .pkts = { 2, 0 }, .bytes = { 10, 0 } };
    struct mc_addr peer = ip(0);
    for (int i = 0; i < 1000; i++) {
        struct mc_addr a = host(i);
        mc_hostagg_add_flow(&h, 4, &a, &peer, &d, 1);
    }
    mc_hostagg_settle(&h);
    assert_int_equal(h.n, 100);
    assert_int_equal(h.dropped_keys, 900);
    assert_int_equal(h.dropped_pkts, 1800);
    assert_int_equal(h.dropped_bytes, 9000);
    mc_hostagg_free(&h);
}

/*
 * Popped entries stay dead on their chains until the table empties or a new
 * entry needs their place: a table kept busy at its bound by pops and adds
 * (a slow cloud) must neither lose hosts nor find dead ones.
 */
static void test_popped_places_are_reused(void **state)
{
    (void)state;
    struct mc_hostagg h;
    assert_int_equal(mc_hostagg_init(&h, 64), 0);
    uint64_t model[256] = { 0 }; /* packets per host, as the table should hold them */
    uint64_t popped[256] = { 0 };
    uint32_t seed = 12345;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        uint8_t host = (uint8_t)(seed >> 16);
        struct mc_addr a = ip(host);
        struct mc_hostagg_val v = { .sent_pkt = 1 };
        if ((seed >> 8) % 3 == 0 && h.n) {
            struct mc_hostagg_entry e;
            assert_int_equal(mc_hostagg_pop_oldest(&h, &e), 1);
            popped[e.addr.b[3]] += e.v.sent_pkt;
            model[e.addr.b[3]] -= e.v.sent_pkt;
        } else if (h.n < h.cap || model[host]) {
            mc_hostagg_add(&h, 4, &a, &v); /* never evicts here: the model has no drops */
            model[host]++;
        }
    }
    uint32_t live = 0;
    for (int i = 0; i < 256; i++)
        live += model[i] != 0;
    assert_int_equal(h.n, live);
    assert_int_equal(h.dropped_keys, 0);
    struct mc_hostagg_entry e;
    while (mc_hostagg_pop_oldest(&h, &e)) {
        assert_int_equal(e.v.sent_pkt, model[e.addr.b[3]]);
        model[e.addr.b[3]] = 0;
    }
    for (int i = 0; i < 256; i++)
        assert_int_equal(model[i], 0);
    mc_hostagg_free(&h);
}

/* Epoch-ms times stay exact across merges, unknown firsts and clock jumps. */
static void test_times_exact(void **state)
{
    (void)state;
    struct mc_hostagg a, b;
    assert_int_equal(mc_hostagg_init(&a, 8), 0);
    assert_int_equal(mc_hostagg_init(&b, 8), 0);
    struct mc_addr x = ip(7), y = ip(8);
    struct mc_hostagg_val v = { .sent_pkt = 1, .first_seen = 1764201234567ull, .last_seen = 1764201234999ull };
    mc_hostagg_add(&a, 4, &x, &v);
    struct mc_hostagg_val later = { .sent_pkt = 1, .first_seen = 0, .last_seen = 1764201300000ull + 86400000ull };
    mc_hostagg_add(&b, 4, &x, &later); /* a day later, first unknown */
    mc_hostagg_add(&b, 4, &y, &later);
    mc_hostagg_merge(&a, &b);
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_get(&a, 4, &x, &e), 1);
    assert_true(e.v.first_seen == 1764201234567ull);
    assert_true(e.v.last_seen == 1764201300000ull + 86400000ull);
    assert_int_equal(mc_hostagg_get(&a, 4, &y, &e), 1);
    assert_true(e.v.first_seen == 0);
    assert_int_equal(mc_hostagg_get(&a, 6, &y, &e), 0);
    /* a capture whose clock jumps years (seen in real captures) keeps every time exact */
    struct mc_hostagg_val jump = { .sent_pkt = 1, .first_seen = 1472251865542ull, .last_seen = 1654385229557ull };
    struct mc_addr z = ip(9);
    mc_hostagg_add(&a, 4, &z, &jump);
    assert_int_equal(mc_hostagg_get(&a, 4, &z, &e), 1);
    assert_true(e.v.first_seen == 1472251865542ull);
    assert_true(e.v.last_seen == 1654385229557ull);
    mc_hostagg_free(&a);
    mc_hostagg_free(&b);
}

/* A move into an empty table swaps them, into a busy one merges; drop counts follow the entries. */
static void test_move(void **state)
{
    (void)state;
    struct mc_hostagg a, b;
    assert_int_equal(mc_hostagg_init(&a, 2), 0);
    assert_int_equal(mc_hostagg_init(&b, 2), 0);
    struct mc_hostagg_val v = { .sent_pkt = 1 };
    for (uint8_t i = 1; i <= 3; i++) { /* the third evicts the first: one dropped */
        struct mc_addr x = ip(i);
        struct mc_hostagg_flow d = { .pkts = { v.sent_pkt, 0 } };
        mc_hostagg_add_flow(&a, 4, &x, &x, &d, 1);
    }
    mc_hostagg_move(&b, &a); /* b empty: swap */
    assert_int_equal(a.n, 0);
    assert_int_equal(a.dropped_keys, 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.dropped_keys, 1);
    struct mc_addr x = ip(3);
    mc_hostagg_add(&a, 4, &x, &v);
    mc_hostagg_move(&b, &a); /* b busy: merge into host 3's entry */
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 2);
    struct mc_hostagg_entry e;
    assert_int_equal(mc_hostagg_get(&b, 4, &x, &e), 1);
    assert_int_equal(e.v.sent_pkt, 2);
    mc_hostagg_free(&a);
    mc_hostagg_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_times_exact),
        cmocka_unit_test(test_add_flow_settles),
        cmocka_unit_test(test_add_flow_both_sides),
        cmocka_unit_test(test_add_flow_beyond_32_bits),
        cmocka_unit_test(test_add_flow_bounded),
        cmocka_unit_test(test_pop_front),
        cmocka_unit_test(test_move_into_popping),
        cmocka_unit_test(test_popped_places_are_reused),
        cmocka_unit_test(test_add_merges_same_host),
        cmocka_unit_test(test_full_table_drops_oldest),
        cmocka_unit_test(test_merge_empties_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
