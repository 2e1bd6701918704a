/* test_cidr.c - networks: parsing (both versions, default and bad prefixes) and matching at bit boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "common/cidr.h"

static void test_parse(void **state)
{
    (void)state;
    struct mc_cidr c;
    assert_int_equal(mc_cidr_parse("192.168.0.0/16", &c), 0);
    assert_int_equal(c.ver, 4);
    assert_int_equal(c.bits, 16);
    assert_int_equal(mc_cidr_parse("2001:db8::/32", &c), 0);
    assert_int_equal(c.ver, 6);
    assert_int_equal(mc_cidr_parse("10.1.2.3", &c), 0);
    assert_int_equal(c.bits, 32);
    assert_int_equal(mc_cidr_parse("::1", &c), 0);
    assert_int_equal(c.bits, 128);
    static const char *const bad[] = { "10.0.0.0/33", "nope/8", "", "/8", "10.0.0.0/", "10.0.0.0/8x", "::/129" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mc_cidr_parse(bad[i], &c), -1);
}

static struct mc_addr addr(int af, const char *s)
{
    struct mc_addr a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(inet_pton(af, s, a.b), 1);
    return a;
}

static void test_match(void **state)
{
    (void)state;
    struct mc_cidr c;
    assert_int_equal(mc_cidr_parse("10.1.0.0/17", &c), 0);
    struct mc_addr in = addr(AF_INET, "10.1.127.255"), out = addr(AF_INET, "10.1.128.0");
    assert_true(mc_cidr_match(&c, 4, &in));
    assert_false(mc_cidr_match(&c, 4, &out)); /* the 17th bit */
    assert_false(mc_cidr_match(&c, 6, &in));  /* another version never matches */
    assert_int_equal(mc_cidr_parse("2001:db8::/33", &c), 0);
    struct mc_addr v6in = addr(AF_INET6, "2001:db8:7fff::1"), v6out = addr(AF_INET6, "2001:db8:8000::1");
    assert_true(mc_cidr_match(&c, 6, &v6in));
    assert_false(mc_cidr_match(&c, 6, &v6out));
    assert_int_equal(mc_cidr_parse("0.0.0.0/0", &c), 0);
    assert_true(mc_cidr_match(&c, 4, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
