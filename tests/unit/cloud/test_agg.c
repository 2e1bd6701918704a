/*
 * test_agg.c - the aggregation table: operations merge per key and field
 * (sums, max, min, last set, last TTL), the prefix is prepended, the bounds
 * refuse and count, tables move and merge with the right side winning, and
 * a NULL aggregator or bad arguments are refused without a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/aggtab.h"

/* The cell of (key, kind, name) or NULL, without creating it. */
static const struct mc_agg_cell *find(const struct mc_agg *a, const char *key, int kind, const char *name)
{
    for (uint32_t i = 0; i < a->nk; i++) {
        const struct mc_agg_key *k = &a->k[i];
        if (!k->live || k->len != a->plen + strlen(key) || memcmp(a->text + k->text + a->plen, key, strlen(key)))
            continue;
        for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
            const struct mc_agg_cell *c = &a->c[c1 - 1];
            if (c->kind == kind && c->name_len == strlen(name) && !memcmp(a->text + c->name, name, c->name_len))
                return c;
        }
    }
    return NULL;
}

static const struct mc_agg_key *find_key(const struct mc_agg *a, const char *key)
{
    for (uint32_t i = 0; i < a->nk; i++)
        if (a->k[i].live && a->k[i].len == a->plen + strlen(key) &&
            !memcmp(a->text + a->k[i].text + a->plen, key, strlen(key)))
            return &a->k[i];
    return NULL;
}

#define K(s) (s), strlen(s)

static void test_merge_per_key_and_field(void **state)
{
    (void)state;
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "p:", 100, 1 << 20), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(mc_agg_hincr(&a, K("dns.name.example.com"), "queries", 1), 0);
        assert_int_equal(mc_agg_hmax(&a, K("dns.name.example.com"), "last_seen", (uint64_t)(1000 + (i * 7919) % 997)), 0);
        assert_int_equal(mc_agg_hmin(&a, K("dns.name.example.com"), "first_seen", (uint64_t)(5000 - i)), 0);
        assert_int_equal(mc_agg_zincr(&a, K("dns.top.1"), K("example.com"), 2), 0);
    }
    assert_int_equal(mc_agg_hincr(&a, K("dns.name.example.com"), "nxdomain", -3), 0);
    assert_int_equal(mc_agg_hset(&a, K("ip.10.0.0.1"), "name", K("first")), 0);
    assert_int_equal(mc_agg_hset(&a, K("ip.10.0.0.1"), "name", K("second")), 0);
    assert_int_equal(mc_agg_expire(&a, K("dns.name.example.com"), 1000), 0);
    assert_int_equal(mc_agg_expire(&a, K("dns.name.example.com"), 2000), 0);
    /* one key per distinct key, one cell per field: nothing per call */
    assert_int_equal(a.live_keys, 3);
    assert_int_equal(a.nc, 6);
    assert_int_equal(find(&a, "dns.name.example.com", MC_AGG_INCR, "queries")->n, 1000);
    assert_int_equal(find(&a, "dns.name.example.com", MC_AGG_INCR, "nxdomain")->n, -3);
    assert_int_equal(find(&a, "dns.name.example.com", MC_AGG_MAX, "last_seen")->n, 1000 + 996);
    assert_int_equal(find(&a, "dns.name.example.com", MC_AGG_MIN, "first_seen")->n, 4001);
    assert_int_equal(find(&a, "dns.top.1", MC_AGG_ZINCR, "example.com")->n, 2000);
    const struct mc_agg_cell *name = find(&a, "ip.10.0.0.1", MC_AGG_SET, "name");
    assert_int_equal(name->vlen, 6);
    assert_memory_equal(a.text + name->val, "second", 6);
    const struct mc_agg_key *k = find_key(&a, "dns.name.example.com");
    assert_int_equal(k->ttl_ms, 2000);
    /* the prefix is part of the key's text */
    assert_memory_equal(a.text + k->text, "p:dns.name.example.com", k->len);
    /* cells come out in the order they were first touched */
    const struct mc_agg_cell *c = &a.c[k->head - 1];
    assert_memory_equal(a.text + c->name, "queries", 7);
    mc_agg_free(&a);
}

/* Sorted sets by last activity: a member's score only rises, the cutoff too, within a flush and across merges. */
static void test_zmax_ztrim(void **state)
{
    (void)state;
    struct mc_agg a, b;
    assert_int_equal(mc_agg_init(&a, "", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_init(&b, "", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_zmax(&a, K("voip.users"), K("sip:alice@x"), 5000), 0);
    assert_int_equal(mc_agg_zmax(&a, K("voip.users"), K("sip:alice@x"), 4000), 0); /* older: ignored */
    assert_int_equal(mc_agg_zmax(&a, K("voip.users"), K("sip:bob@x"), 7000), 0);
    assert_int_equal(mc_agg_ztrim(&a, K("voip.users"), 100), 0);
    assert_int_equal(mc_agg_ztrim(&a, K("voip.users"), 90), 0);
    assert_int_equal(find(&a, "voip.users", MC_AGG_ZMAX, "sip:alice@x")->n, 5000);
    assert_int_equal(find(&a, "voip.users", MC_AGG_ZMAX, "sip:bob@x")->n, 7000);
    assert_int_equal(find(&a, "voip.users", MC_AGG_ZTRIM, "<")->n, 100);
    assert_int_equal(mc_agg_zmax(NULL, K("k"), K("m"), 1), -1);
    assert_int_equal(mc_agg_ztrim(NULL, K("k"), 1), -1);
    /* merged into an older table: the largest of each wins */
    assert_int_equal(mc_agg_zmax(&b, K("voip.users"), K("sip:alice@x"), 6000), 0);
    assert_int_equal(mc_agg_ztrim(&b, K("voip.users"), 50), 0);
    assert_int_equal(mc_agg_merge(&b, &a, 1), 0);
    assert_int_equal(find(&b, "voip.users", MC_AGG_ZMAX, "sip:alice@x")->n, 6000);
    assert_int_equal(find(&b, "voip.users", MC_AGG_ZMAX, "sip:bob@x")->n, 7000);
    assert_int_equal(find(&b, "voip.users", MC_AGG_ZTRIM, "<")->n, 100);
    mc_agg_free(&a);
    mc_agg_free(&b);
}

static void test_events(void **state)
{
    (void)state;
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_publish(&a, "mysql.login", K("{\"user\":\"bob\"}")), 0);
    assert_int_equal(mc_agg_publish(&a, "mysql.login", K("{\"user\":\"eve\"}")), 0);
    assert_int_equal(a.live_events, 2); /* events are not merged: each one is published */
    assert_int_equal(mc_agg_hincr(&a, K("dns.name.x"), "queries", 1), 0);
    assert_int_equal(mc_agg_publish_if_new(&a, K("dns.name.x"), "queries", "dns.name.new", K("{\"n\":1}")), 0);
    assert_int_equal(mc_agg_publish_if_new(&a, K("dns.name.x"), "queries", "dns.name.new", K("{\"n\":2}")), 0);
    const struct mc_agg_cell *c = find(&a, "dns.name.x", MC_AGG_INCR, "queries");
    assert_int_not_equal(c->event, 0);
    const struct mc_agg_event *e = &a.ev[c->event - 1];
    assert_int_equal(e->cond, 1);
    assert_memory_equal(a.text + e->json, "{\"n\":1}", e->json_len); /* the first payload is kept */
    assert_int_equal(a.live_events, 3);
    /* names go into channel names: no spaces or control characters */
    assert_int_equal(mc_agg_publish(&a, "bad name", K("{}")), -1);
    assert_int_equal(mc_agg_publish(&a, "x", "", 0), -1);
    assert_int_equal(a.refused_long, 2);
    /* taking the key takes its conditional event with it */
    mc_agg_key_done(&a, c->key);
    assert_int_equal(a.live_events, 2);
    mc_agg_free(&a);
}

static void test_bounds_refuse_and_count(void **state)
{
    (void)state;
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 4, 1 << 20), 0);
    char key[32];
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ok += mc_agg_hincr(&a, key, strlen(key), "f", 1) == 0;
    }
    assert_int_equal(ok, 4);
    assert_int_equal(a.dropped_ops, 6);
    /* held keys keep taking operations: the bound refuses new keys, never evicts */
    assert_int_equal(mc_agg_hincr(&a, K("k0"), "f", 1), 0);
    assert_int_equal(mc_agg_hincr(&a, K("k0"), "g", 1), 0);
    assert_int_equal(find(&a, "k0", MC_AGG_INCR, "f")->n, 2);
    mc_agg_free(&a);

    /* the byte bound: values, names and events count */
    assert_int_equal(mc_agg_init(&a, "", 1000, 4096), 0);
    char big[1000];
    memset(big, 'x', sizeof(big));
    int n = 0;
    while (n < 100 && mc_agg_hset(&a, K("k"), "v", big, sizeof(big) - (size_t)n) == 0)
        n++;
    assert_true(n >= 2 && n < 10);
    assert_true(a.bytes <= 4096);
    assert_int_equal(a.dropped_ops, 1);
    uint64_t before = a.dropped_events;
    while (mc_agg_publish(&a, "e", big, 500) == 0)
        ;
    assert_int_equal(a.dropped_events, before + 1);
    assert_true(a.bytes <= 4096);
    mc_agg_free(&a);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char big[MC_AGG_MAX_VALUE + 2];
    memset(big, 'a', sizeof(big));
    /* no cloud: everything refused, nothing touched */
    assert_int_equal(mc_agg_hincr(NULL, K("k"), "f", 1), -1);
    assert_int_equal(mc_agg_hmax(NULL, K("k"), "f", 1), -1);
    assert_int_equal(mc_agg_hmin(NULL, K("k"), "f", 1), -1);
    assert_int_equal(mc_agg_hset(NULL, K("k"), "f", K("v")), -1);
    assert_int_equal(mc_agg_zincr(NULL, K("k"), K("m"), 1), -1);
    assert_int_equal(mc_agg_expire(NULL, K("k"), 1), -1);
    assert_int_equal(mc_agg_publish(NULL, "e", K("{}")), -1);
    assert_int_equal(mc_agg_publish_if_new(NULL, K("k"), "f", "e", K("{}")), -1);
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_hincr(&a, "", 0, "f", 1), -1);
    assert_int_equal(mc_agg_hincr(&a, big, MC_AGG_MAX_KEY + 1, "f", 1), -1);
    assert_int_equal(mc_agg_hincr(&a, K("k"), "", 1), -1);
    assert_int_equal(mc_agg_hset(&a, K("k"), "f", big, MC_AGG_MAX_VALUE + 1), -1);
    assert_int_equal(mc_agg_zincr(&a, K("k"), big, MC_AGG_MAX_NAME + 1, 1), -1);
    assert_int_equal(mc_agg_expire(&a, K("k"), 0), -1);
    assert_int_equal(a.refused_long, 5);
    assert_int_equal(a.live_keys, 0);
    /* binary members and values are kept as given */
    assert_int_equal(mc_agg_zincr(&a, K("z"), "a\0b", 3, 1), 0);
    assert_int_equal(mc_agg_zincr(&a, K("z"), "a\0c", 3, 1), 0);
    assert_int_equal(a.nc, 2);
    assert_int_equal(mc_agg_hset(&a, K("k"), "f", big, MC_AGG_MAX_VALUE), 0);
    mc_agg_free(&a);
}

static void test_move_and_merge(void **state)
{
    (void)state;
    struct mc_agg older, newer, spare;
    assert_int_equal(mc_agg_init(&older, "p:", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_init(&newer, "p:", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_init(&spare, "p:", 100, 1 << 20), 0);
    mc_agg_hincr(&older, K("h"), "n", 5);
    mc_agg_hset(&older, K("h"), "s", K("old"));
    mc_agg_hmax(&older, K("h"), "max", 10);
    mc_agg_hmin(&older, K("h"), "min", 10);
    mc_agg_expire(&older, K("h"), 100);
    mc_agg_publish(&older, "e", K("{\"a\":1}"));
    mc_agg_hincr(&older, K("only-old"), "n", 1);
    mc_agg_hincr(&newer, K("h"), "n", 7);
    mc_agg_hset(&newer, K("h"), "s", K("new"));
    mc_agg_hmax(&newer, K("h"), "max", 3);
    mc_agg_hmin(&newer, K("h"), "min", 3);
    mc_agg_expire(&newer, K("h"), 200);
    mc_agg_hset(&newer, K("h"), "only-new", K("x"));

    /* a failed write goes back under newer data: the newer set value and TTL win */
    struct mc_agg dst = newer;
    assert_int_equal(mc_agg_merge(&dst, &older, 0), 0);
    assert_int_equal(find(&dst, "h", MC_AGG_INCR, "n")->n, 12);
    const struct mc_agg_cell *s = find(&dst, "h", MC_AGG_SET, "s");
    assert_memory_equal(dst.text + s->val, "new", 3);
    assert_int_equal(find(&dst, "h", MC_AGG_MAX, "max")->n, 10);
    assert_int_equal(find(&dst, "h", MC_AGG_MIN, "min")->n, 3);
    assert_int_equal(find_key(&dst, "h")->ttl_ms, 200);
    assert_non_null(find(&dst, "only-old", MC_AGG_INCR, "n"));
    assert_int_equal(dst.live_events, 1);
    assert_int_equal(older.live_keys, 0); /* emptied */

    /* a move into an empty table is a swap; into a busy one, a merge where src wins */
    assert_int_equal(mc_agg_move(&spare, &dst), 0);
    assert_int_equal(dst.live_keys, 0);
    assert_int_equal(spare.live_keys, 2);
    mc_agg_hset(&older, K("h"), "s", K("newest"));
    mc_agg_expire(&older, K("h"), 300);
    older.dropped_ops = 7;
    assert_int_equal(mc_agg_move(&spare, &older), 0);
    s = find(&spare, "h", MC_AGG_SET, "s");
    assert_memory_equal(spare.text + s->val, "newest", 6);
    assert_int_equal(find_key(&spare, "h")->ttl_ms, 300);
    assert_int_equal(older.dropped_ops, 7); /* counts stay with the table that counted them */
    assert_int_equal(spare.dropped_ops, 0);

    /* taken keys are dead; a key touched again starts afresh; compaction drops the dead */
    for (uint32_t i = 0; i < spare.nk; i++)
        if (spare.k[i].live)
            mc_agg_key_done(&spare, i);
    mc_agg_hincr(&spare, K("h"), "n", 1);
    assert_int_equal(find(&spare, "h", MC_AGG_INCR, "n")->n, 1);
    assert_int_equal(spare.live_keys, 1);
    uint32_t before = spare.nk;
    mc_agg_compact(&spare, &dst);
    assert_true(spare.nk < before);
    assert_int_equal(spare.nk, 1);
    assert_int_equal(find(&spare, "h", MC_AGG_INCR, "n")->n, 1);
    assert_int_equal(spare.live_events, 1);
    mc_agg_key_done(&spare, 0);
    spare.ev[0].live = 0, spare.live_events = 0;
    mc_agg_reset_if_empty(&spare);
    assert_int_equal(spare.nk, 0);
    assert_int_equal(spare.bytes, 0);
    mc_agg_free(&spare);
    mc_agg_free(&dst);
    mc_agg_free(&older);
}

/* Many keys and fields: chains grow, every value stays where it was put. */
/* Bound cells: found again while the contents last, stale after a move, a merge or a key the writer took. */
static void test_refs(void **state)
{
    (void)state;
    struct mc_agg a, box, w;
    assert_int_equal(mc_agg_init(&a, "p:", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_init(&box, "p:", 100, 1 << 20), 0);
    assert_int_equal(mc_agg_init(&w, "p:", 100, 1 << 20), 0);
    struct mc_agg_ref r[2];
    memset(r, 0, sizeof(r));
    assert_int_equal(mc_agg_refs_live(&a, r, 2), 0); /* zeroed: unbound */
    assert_int_equal(mc_agg_bind_hincr(&a, &r[0], K("user.1"), "sent_pkt"), 0);
    assert_int_equal(mc_agg_bind_hmax(&a, &r[1], K("user.1"), "last_seen"), 0);
    assert_int_equal(mc_agg_refs_live(&a, r, 2), 1);
    mc_agg_incr_at(&a, &r[0], 5);
    mc_agg_hincr(&a, K("user.1"), "sent_pkt", 2); /* the keyed call reaches the same cell */
    mc_agg_incr_at(&a, &r[0], 1);
    mc_agg_max_at(&a, &r[1], 30);
    mc_agg_max_at(&a, &r[1], 20);
    for (int i = 0; i < 200; i++) /* other keys and cells grow the arrays: indexes stay */
        mc_agg_hincr(&a, K("other"), i % 2 ? "x" : "y", i);
    assert_int_equal(mc_agg_refs_live(&a, r, 2), 1);
    mc_agg_incr_at(&a, &r[0], 1);
    assert_int_equal(find(&a, "user.1", MC_AGG_INCR, "sent_pkt")->n, 9);
    assert_int_equal(find(&a, "user.1", MC_AGG_MAX, "last_seen")->n, 30);
    assert_int_equal(a.live_keys, 2);
    /* handed over (a swap): the refs name nothing in the new contents; they went with the old ones */
    assert_int_equal(mc_agg_move(&box, &a), 0);
    assert_int_equal(mc_agg_refs_live(&a, r, 2), 0);
    assert_int_equal(mc_agg_refs_live(&box, r, 2), 1);
    assert_int_equal(mc_agg_bind_hincr(&a, &r[0], K("user.1"), "sent_pkt"), 0);
    assert_int_equal(mc_agg_bind_hmax(&a, &r[1], K("user.1"), "last_seen"), 0);
    mc_agg_incr_at(&a, &r[0], 4);
    assert_int_equal(find(&a, "user.1", MC_AGG_INCR, "sent_pkt")->n, 4);
    assert_int_equal(find(&box, "user.1", MC_AGG_INCR, "sent_pkt")->n, 9);
    /* merged away: stale */
    assert_int_equal(mc_agg_merge(&box, &a, 1), 0);
    assert_int_equal(mc_agg_refs_live(&a, r, 2), 0);
    assert_int_equal(find(&box, "user.1", MC_AGG_INCR, "sent_pkt")->n, 13);
    /* a key the writer took is dead: its refs with it */
    assert_int_equal(mc_agg_bind_hincr(&w, &r[0], K("user.2"), "n"), 0);
    assert_int_equal(mc_agg_refs_live(&w, r, 1), 1);
    mc_agg_key_done(&w, w.c[r[0].cell].key);
    assert_int_equal(mc_agg_refs_live(&w, r, 1), 0);
    /* refused binds leave the ref unbound */
    struct mc_agg tiny;
    assert_int_equal(mc_agg_init(&tiny, "p:", 1, 1 << 20), 0);
    assert_int_equal(mc_agg_bind_hincr(&tiny, &r[0], K("k1"), "n"), 0);
    assert_int_equal(mc_agg_bind_hincr(&tiny, &r[1], K("k2"), "n"), -1);
    assert_int_equal(r[1].gen, 0);
    assert_int_equal(mc_agg_refs_live(&tiny, r, 2), 0);
    assert_int_equal(mc_agg_bind_hincr(NULL, &r[0], K("k1"), "n"), -1);
    assert_int_equal(mc_agg_refs_live(NULL, r, 1), 0);
    mc_agg_free(&a);
    mc_agg_free(&box);
    mc_agg_free(&w);
    mc_agg_free(&tiny);
}

static void test_many(void **state)
{
    (void)state;
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "x", 100000, 64 << 20), 0);
    char key[32], f[16];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 20000; i++) {
            snprintf(key, sizeof(key), "key.%d", i);
            snprintf(f, sizeof(f), "f%d", i % 5);
            assert_int_equal(mc_agg_hincr(&a, key, strlen(key), f, i), 0);
            assert_int_equal(mc_agg_zincr(&a, K("top"), key, strlen(key), 1), 0);
        }
    assert_int_equal(a.live_keys, 20001);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(key, sizeof(key), "key.%d", i);
        snprintf(f, sizeof(f), "f%d", i % 5);
        assert_int_equal(find(&a, key, MC_AGG_INCR, f)->n, 3 * i);
        assert_int_equal(find(&a, "top", MC_AGG_ZINCR, key)->n, 3);
    }
    mc_agg_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_per_key_and_field),
        cmocka_unit_test(test_zmax_ztrim),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_bounds_refuse_and_count),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_move_and_merge),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
