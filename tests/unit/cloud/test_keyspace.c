/* test_keyspace.c - hash tags, FNV-1a 64, jump hash, CRC16 and slots against published vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cloud/keyspace.h"

#define S(x) x, strlen(x)

static void test_tag(void **state)
{
    (void)state;
    static const struct { const char *key, *tag; } cases[] = {
        { "foo", "foo" },                     /* no braces */
        { "{user1000}.following", "user1000" },
        { "foo{}{bar}", "foo{}{bar}" },       /* first '{' then '}' with nothing between: whole key */
        { "foo{{bar}}zap", "{bar" },          /* from the first '{' to the first '}' after it */
        { "foo{bar}{zap}", "bar" },
        { "{", "{" },
        { "}{", "}{" },
        { "a{b", "a{b" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *tag;
        size_t n;
        mc_cloud_key_tag(S(cases[i].key), &tag, &n);
        assert_int_equal(n, strlen(cases[i].tag));
        assert_memory_equal(tag, cases[i].tag, n);
    }
}

static void test_fnv(void **state)
{
    (void)state;
    /* the reference vectors of the FNV authors' test suite */
    assert_true(mc_cloud_key_hash(S("")) == 0xcbf29ce484222325ULL);
    assert_true(mc_cloud_key_hash(S("a")) == 0xaf63dc4c8601ec8cULL);
    assert_true(mc_cloud_key_hash(S("foobar")) == 0x85944171f73967e8ULL);
    /* a key hashes by its tag */
    assert_true(mc_cloud_key_hash(S("x{a}y")) == 0xaf63dc4c8601ec8cULL);
}

static void test_crc16_slot(void **state)
{
    (void)state;
    assert_int_equal(mc_cloud_crc16((const uint8_t *)"123456789", 9), 0x31C3); /* Redis crc16.c test */
    assert_int_equal(mc_cloud_crc16((const uint8_t *)"", 0), 0);
    assert_int_equal(mc_cloud_keyslot(S("foo")), 12182);  /* CLUSTER KEYSLOT foo */
    assert_int_equal(mc_cloud_keyslot(S("bar")), 5061);
    assert_int_equal(mc_cloud_keyslot(S("somekey")), 11058);
    assert_int_equal(mc_cloud_keyslot(S("{user1000}.following")), mc_cloud_keyslot(S("{user1000}.followers")));
    assert_int_equal(mc_cloud_keyslot(S("{user1000}.following")), mc_cloud_keyslot(S("user1000")));
    assert_int_equal(mc_cloud_keyslot(S("foo{}{bar}")), mc_cloud_crc16((const uint8_t *)"foo{}{bar}", 10) & 16383);
}

static void test_jump(void **state)
{
    (void)state;
    assert_int_equal(mc_cloud_jump_hash(0, 1), 0);
    assert_int_equal(mc_cloud_jump_hash(12345, 1), 0);
    /* values of the reference Go/C implementations (github.com/dgryski/go-jump tests) */
    assert_int_equal(mc_cloud_jump_hash(1, 1), 0);
    assert_int_equal(mc_cloud_jump_hash(0xdeadbeef, 1), 0);
    assert_int_equal(mc_cloud_jump_hash(0, 0), 0); /* defensive: never negative */
    /* growing n to n + 1: a key stays or moves to the new bucket n; about 1/(n+1) move */
    uint64_t key = 1;
    for (int n = 1; n < 64; n++) {
        int moved = 0;
        for (int k = 0; k < 2000; k++) {
            uint64_t h = mc_cloud_key_hash((const char *)&key, sizeof(key)) + (uint64_t)k * 0x9e3779b97f4a7c15ULL;
            int a = mc_cloud_jump_hash(h, n), b = mc_cloud_jump_hash(h, n + 1);
            assert_true(a >= 0 && a < n);
            assert_true(b == a || b == n);
            moved += b == n;
        }
        double expect = 2000.0 / (n + 1);
        assert_true(moved > expect * 0.6 - 10 && moved < expect * 1.4 + 10);
    }
    /* balance over 10 buckets */
    int hist[10] = { 0 };
    for (int k = 0; k < 10000; k++) {
        char buf[32];
        int l = snprintf(buf, sizeof(buf), "flow:%d", k);
        hist[mc_cloud_node_for_key(buf, (size_t)l, 10)]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(hist[i] > 850 && hist[i] < 1150);
    /* a tagged key goes where its tag goes */
    assert_int_equal(mc_cloud_node_for_key(S("{host:1}.bytes"), 7), mc_cloud_node_for_key(S("host:1"), 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_fnv),
        cmocka_unit_test(test_crc16_slot),
        cmocka_unit_test(test_jump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
