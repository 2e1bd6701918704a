/* test_usercache.c - the user cache: answers by address, freshness, 4 ways per set, forgetting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/usercache.h"

static struct mc_addr v4(uint32_t n)
{
    struct mc_addr a;
    memset(&a, 0, sizeof(a));
    a.b[0] = (uint8_t)(n >> 24), a.b[1] = (uint8_t)(n >> 16), a.b[2] = (uint8_t)(n >> 8), a.b[3] = (uint8_t)n;
    return a;
}

static void test_answers_and_freshness(void **state)
{
    (void)state;
    struct mc_usercache u;
    assert_int_equal(mc_usercache_init(&u), 0);
    struct mc_addr a = v4(0x0a000001), b = v4(0x0a000002);
    uint64_t ta = mc_uc_tag(4, &a), tb = mc_uc_tag(4, &b);
    assert_true(ta != 0 && ta != tb);
    assert_true(mc_uc_tag(6, &a) != ta); /* the version is part of the address */
    assert_null(mc_uc_fresh(&u, ta, 0));
    struct mc_uc_cold *k = mc_uc_user(&u, 4, &a, "alice", 100);
    strcpy(k->imsi, "001010123456789");
    const struct mc_uc_hot *h = mc_uc_fresh(&u, ta, 99);
    assert_non_null(h);
    const struct mc_uc_cold *c = mc_uc_cold_of(&u, h, 4, &a);
    assert_non_null(c);
    assert_string_equal(c->user, "alice");
    assert_string_equal(c->imsi, "001010123456789");
    assert_null(mc_uc_cold_of(&u, h, 4, &b)); /* the slot's address, not another's */
    assert_null(mc_uc_fresh(&u, ta, 100));    /* expired */
    /* a negative answer: fresh, but no user */
    mc_uc_put(&u, tb, 0, 50);
    h = mc_uc_fresh(&u, tb, 10);
    assert_non_null(h);
    assert_null(mc_uc_cold_of(&u, h, 4, &b));
    mc_uc_forget(&u, 4, &a);
    assert_int_equal(mc_uc_find(&u, ta), -1);
    mc_usercache_free(&u);
}

static void test_set_replaces_the_first_to_expire(void **state)
{
    (void)state;
    struct mc_usercache u;
    assert_int_equal(mc_usercache_init(&u), 0);
    /* five addresses whose tags share one set: the fifth takes the slot expiring first */
    struct mc_addr same[5];
    uint64_t tags[5];
    const struct mc_uc_hot *set = NULL;
    int n = 0;
    for (uint32_t i = 1; n < 5 && i < 2000000; i++) {
        struct mc_addr a = v4(i);
        uint64_t t = mc_uc_tag(4, &a);
        if (!set)
            set = mc_uc_set(&u, t);
        if (mc_uc_set(&u, t) == set)
            same[n] = a, tags[n++] = t;
    }
    assert_int_equal(n, 5);
    for (int i = 0; i < 4; i++)
        mc_uc_put(&u, tags[i], 0, (uint32_t)(100 + i * 10)); /* tags[0] expires first */
    for (int i = 0; i < 4; i++)
        assert_true(mc_uc_find(&u, tags[i]) >= 0);
    mc_uc_put(&u, tags[4], 0, 500);
    assert_int_equal(mc_uc_find(&u, tags[0]), -1);
    for (int i = 1; i < 5; i++)
        assert_true(mc_uc_find(&u, tags[i]) >= 0);
    (void)same;
    mc_usercache_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_and_freshness),
        cmocka_unit_test(test_set_replaces_the_first_to_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
