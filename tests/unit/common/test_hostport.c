/* test_hostport.c - the one host:port parser (required and default ports, brackets, bounds) and its writer. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/hostport.h"

static void test_required_port(void **state)
{
    (void)state;
    char h[64], err[128];
    int p;
    assert_int_equal(mc_hostport_split("127.0.0.1:2055", 0, "collector", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 2055);
    assert_int_equal(mc_hostport_split("[2001:db8::1]:4739", 0, "collector", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_string_equal(h, "2001:db8::1");
    assert_int_equal(p, 4739);
    static const char *const bad[] = { "", "host", "::1:2055", "[::1]", "host:", ":2055", "[::1]2055", "[::1",
                                       "[]:1", "h:0", "h:65536", "h:12a", "h:123456" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mc_hostport_split(bad[i], 0, "collector", h, sizeof(h), &p, err, sizeof(err)), -1);
        if (bad[i][0])
            assert_non_null(strstr(err, bad[i])); /* the message quotes what was given */
    }
    assert_non_null(strstr(err, "collector"));
}

static void test_default_port(void **state)
{
    (void)state;
    char h[64], err[128];
    int p;
    assert_int_equal(mc_hostport_split("redis.example", 6379, "redis node", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_string_equal(h, "redis.example");
    assert_int_equal(p, 6379);
    assert_int_equal(mc_hostport_split("::1", 6379, "redis node", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(p, 6379);
    assert_int_equal(mc_hostport_split("[fe80::1]", 6379, "redis node", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_string_equal(h, "fe80::1");
    assert_int_equal(mc_hostport_split("[fe80::1]:7000", 6379, "redis node", h, sizeof(h), &p, err, sizeof(err)), 0);
    assert_int_equal(p, 7000);
    /* a host longer than the buffer is refused, never cut */
    char small[4];
    assert_int_equal(mc_hostport_split("abcd:1", 6379, "redis node", small, sizeof(small), &p, err, sizeof(err)), -1);
    assert_int_equal(mc_hostport_split("abc:1", 6379, "redis node", small, sizeof(small), &p, err, sizeof(err)), 0);
}

/* The writer: the parser's own forms, IPv6 bracketed; 0 when it does not fit. */
static void test_text(void **state)
{
    (void)state;
    struct mc_addr a4 = { { 192, 0, 2, 7 } }, a6 = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
    char out[64], host[64];
    int port;
    assert_int_equal(mc_hostport_text(4, &a4, 5060, out, sizeof(out)), 14);
    assert_string_equal(out, "192.0.2.7:5060");
    assert_int_equal(mc_hostport_text(6, &a6, 4000000000u, out, sizeof(out)), 24);
    assert_string_equal(out, "[2001:db8::1]:4000000000");
    assert_int_equal(mc_hostport_text(4, &a4, 5060, out, 14), 0); /* 14 characters: no room for the NUL */
    assert_int_equal(mc_hostport_text(6, &a6, 443, out, sizeof(out)), 17);
    assert_int_equal(mc_hostport_split(out, 0, "peer", host, sizeof(host), &port, out + 32, 32), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(port, 443);
}

/* The IPv4 formatter (not inet_ntop's sprintf) writes what inet_ntop does, every octet value in every place. */
static void test_ipv4_text(void **state)
{
    (void)state;
    char out[INET_ADDRSTRLEN], want[INET_ADDRSTRLEN];
    for (unsigned v = 0; v < 256; v++)
        for (int at = 0; at < 4; at++) {
            struct mc_addr a = { { 1, 20, 199, 5 } };
            a.b[at] = (uint8_t)v;
            assert_non_null(inet_ntop(AF_INET, a.b, want, sizeof(want)));
            assert_int_equal(mc_addr_text(4, &a, out, sizeof(out)), strlen(want));
            assert_string_equal(out, want);
        }
    struct mc_addr top = { { 255, 255, 255, 255 } };
    assert_int_equal(mc_addr_text(4, &top, out, sizeof(out)), 15);
    assert_int_equal(mc_addr_text(4, &top, out, 15), 0); /* no room for the NUL: inet_ntop's answer */
}

/* Random groups, each zero, 0xffff or small half the time: runs of zeros of every length in every place. */
static uint32_t rnd(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return (uint32_t)(*x >> 16);
}

static void same_as_inet_ntop(const struct mc_addr *a)
{
    char out[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET6, a->b, want, sizeof(want)));
    assert_int_equal(mc_addr_text(6, a, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

/* The IPv6 formatter writes what glibc's inet_ntop does: zero runs, ties, embedded IPv4, every digit count. */
static void test_ipv6_text(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int n = 0; n < 200000; n++) {
        struct mc_addr a;
        for (int g = 0; g < 8; g++) {
            uint32_t r = rnd(&x), v;
            switch (r & 7) {
            case 0: case 1: case 2: v = 0; break;
            case 3: v = 0xffff; break;
            case 4: v = r >> 28; break;            /* one digit */
            case 5: v = (r >> 8) & 0xff; break;    /* up to two */
            case 6: v = (r >> 4) & 0xfff; break;   /* up to three */
            default: v = r >> 16; break;
            }
            a.b[2 * g] = (uint8_t)(v >> 8), a.b[2 * g + 1] = (uint8_t)v;
        }
        same_as_inet_ntop(&a);
    }
    /* every pattern of zero and non-zero groups, and the IPv4-mapped and -compatible forms */
    for (unsigned m = 0; m < 256; m++) {
        for (unsigned v5 = 0; v5 < 3; v5++) {
            struct mc_addr a = { { 0 } };
            for (int g = 0; g < 8; g++)
                if (m >> g & 1)
                    a.b[2 * g] = (uint8_t)(g + 1), a.b[2 * g + 1] = (uint8_t)(17 * g);
            if (v5 == 1)
                a.b[10] = a.b[11] = 0xff;
            if (v5 == 2)
                a.b[10] = 0xff;
            same_as_inet_ntop(&a);
        }
    }
    struct mc_addr all = { { 0 } };
    char out[INET6_ADDRSTRLEN];
    assert_int_equal(mc_addr_text(6, &all, out, sizeof(out)), 2);
    assert_string_equal(out, "::");
    memset(all.b, 0xff, 16);
    assert_int_equal(mc_addr_text(6, &all, out, sizeof(out)), 39);
    assert_int_equal(mc_addr_text(6, &all, out, 39), 0); /* no room for the NUL: inet_ntop's answer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_port),
        cmocka_unit_test(test_default_port),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_ipv4_text),
        cmocka_unit_test(test_ipv6_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
