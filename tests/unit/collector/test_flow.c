/* test_flow.c - a decoded record into the stores' flow: addresses, ports, counters, every time form,
 * sampling (the record's and the exporter's), RFC 5103 reverse counters, strings, options records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "collector/flow.h"
#include "flow/ie.h"

struct rec {
    struct mc_coll_field f[32];
    uint8_t v[32][64];
    size_t n;
};

static const struct mc_coll_src SRC = { .addr = { 192, 0, 2, 9 }, .ver = 4, .port = 2055 };

static void add(struct rec *r, uint32_t pen, uint16_t id, const void *v, uint16_t len)
{
    memcpy(r->v[r->n], v, len);
    r->f[r->n] = (struct mc_coll_field){ pen, id, len, r->v[r->n] };
    r->n++;
}

static void add_u(struct rec *r, uint32_t pen, uint16_t id, uint64_t v, uint16_t len)
{
    uint8_t b[8];
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    add(r, pen, id, b, len);
}

static struct mc_coll_record record(const struct rec *r, int version)
{
    return (struct mc_coll_record){ .exporter = &SRC, .version = version, .domain = 7, .export_secs = 1700000100,
                                    .sys_uptime = 100000, .n = r->n, .f = r->f };
}

static void test_ipv4_ms(void **state)
{
    (void)state;
    struct rec r = { .n = 0 };
    static const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };
    add(&r, 0, 8, s, 4), add(&r, 0, 12, d, 4);
    add_u(&r, 0, 7, 40000, 2), add_u(&r, 0, 11, 53, 2), add_u(&r, 0, 4, 17, 1), add_u(&r, 0, 5, 0x20, 1);
    add_u(&r, 0, 2, 3, 4), add_u(&r, 0, 1, 300, 8), add_u(&r, 0, 6, 0x1b, 2);
    add_u(&r, 0, 10, 4, 4), add_u(&r, 0, 14, 5, 2), add_u(&r, 0, 16, 64500, 4), add_u(&r, 0, 17, 64501, 2);
    add_u(&r, 0, 152, 1700000000123ull, 8), add_u(&r, 0, 153, 1700000001456ull, 8);
    struct mc_coll_record rec = record(&r, 10);
    struct mc_coll_flow f;
    assert_int_equal(mc_coll_flow_from_record(&f, &rec, NULL, 42), 0);
    char a[64];
    assert_string_equal(mc_coll_flow_addr(&f, 0, a, sizeof(a)), "10.0.0.1");
    assert_string_equal(mc_coll_flow_addr(&f, 1, a, sizeof(a)), "10.0.0.2");
    assert_int_equal(f.ip_version, 4);
    assert_int_equal(f.src_port, 40000);
    assert_int_equal(f.dst_port, 53);
    assert_int_equal(f.proto, 17);
    assert_int_equal(f.tos, 0x20);
    assert_int_equal(f.tcp_flags, 0x1b);
    assert_int_equal(f.packets, 3);
    assert_int_equal(f.octets, 300);
    assert_int_equal(f.in_if, 4);
    assert_int_equal(f.out_if, 5);
    assert_int_equal(f.src_as, 64500);
    assert_int_equal(f.dst_as, 64501);
    assert_int_equal(f.start_ms, 1700000000123ull);
    assert_int_equal(f.end_ms, 1700000001456ull);
    assert_int_equal(f.sampling, 1);
    assert_int_equal(f.version, 10);
    assert_int_equal(f.domain, 7);
    assert_int_equal(f.exporter.port, 2055);
}

static void test_times(void **state)
{
    (void)state;
    struct mc_coll_flow f;
    /* v9 sysUpTime: header 1700000100 s at uptime 100000 ms; the flow 90000..95000 */
    struct rec r = { .n = 0 };
    add_u(&r, 0, 22, 90000, 4), add_u(&r, 0, 21, 95000, 4);
    struct mc_coll_record rec = record(&r, 9);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.start_ms, 1700000100000ull - 10000);
    assert_int_equal(f.end_ms, 1700000100000ull - 5000);
    /* seconds, and milliseconds present too: milliseconds win whatever the order */
    r.n = 0;
    add_u(&r, 0, 150, 1700000000, 4), add_u(&r, 0, 152, 1700000000500ull, 8), add_u(&r, 0, 151, 1700000002, 4);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.start_ms, 1700000000500ull);
    assert_int_equal(f.end_ms, 1700000002000ull);
    /* NTP microseconds (RFC 7011 6.1.10): 1700000000.25 s */
    r.n = 0;
    uint64_t ntp = (1700000000ull + 2208988800ull) << 32 | 0x40000000u;
    add_u(&r, 0, 154, ntp, 8), add_u(&r, 0, 157, ntp + (1ull << 32), 8);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.start_ms, 1700000000250ull);
    assert_int_equal(f.end_ms, 1700000001250ull);
    /* delta microseconds before the export time */
    r.n = 0;
    add_u(&r, 0, 158, 2000000, 4), add_u(&r, 0, 159, 1000000, 4);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.start_ms, 1700000098000ull);
    assert_int_equal(f.end_ms, 1700000099000ull);
    /* none: the arrival time; only an end: the start is the end */
    r.n = 0;
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 777);
    assert_int_equal(f.start_ms, 777);
    assert_int_equal(f.end_ms, 777);
    add_u(&r, 0, 153, 5000, 8);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 777);
    assert_int_equal(f.start_ms, 5000);
    /* IPFIX sysUpTime elements count from the exporter's systemInitTimeMilliseconds: unknown, not read */
    r.n = 0;
    add_u(&r, 0, 22, 90000, 4);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 9);
    assert_int_equal(f.start_ms, 9);
    /* ... told by an options record (softflowd's IPFIX) */
    struct mc_coll_exporter_info x = { 0, 1600000000000ull };
    mc_coll_flow_from_record(&f, &rec, &x, 9);
    assert_int_equal(f.start_ms, 1600000090000ull);
    /* ... or carried by the record itself, which wins */
    add_u(&r, 0, 160, 1500000000000ull, 8);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, &x, 9);
    assert_int_equal(f.start_ms, 1500000090000ull);
}

static void test_sampling_reverse_totals(void **state)
{
    (void)state;
    struct mc_coll_flow f;
    struct rec r = { .n = 0 };
    add_u(&r, 0, 2, 2, 4), add_u(&r, 0, 1, 100, 4), add_u(&r, 0, 34, 10, 4);
    add_u(&r, MC_PEN_REVERSE, 2, 3, 8), add_u(&r, MC_PEN_REVERSE, 1, 50, 8), add_u(&r, MC_PEN_REVERSE, 6, 0x12, 2);
    add_u(&r, 0, 6, 0x02, 1);
    struct mc_coll_record rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.sampling, 10);
    assert_int_equal(f.packets, 20);
    assert_int_equal(f.octets, 1000);
    assert_int_equal(f.rev_packets, 30);
    assert_int_equal(f.rev_octets, 500);
    assert_int_equal(f.tcp_flags, 0x12);
    /* the exporter's interval (an options record) wins over the record's */
    struct mc_coll_exporter_info x = { 100, 0 };
    mc_coll_flow_from_record(&f, &rec, &x, 0);
    assert_int_equal(f.sampling, 100);
    assert_int_equal(f.packets, 200);
    /* totals stand for deltas only when no delta is there */
    r.n = 0;
    add_u(&r, 0, 86, 7, 8), add_u(&r, 0, 85, 700, 8);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.packets, 7);
    assert_int_equal(f.octets, 700);
}

static void test_ipv6_strings_options(void **state)
{
    (void)state;
    struct mc_coll_flow f;
    struct rec r = { .n = 0 };
    uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    static const uint8_t v4[4] = { 10, 0, 0, 1 };
    add(&r, 0, 27, s6, 16), add(&r, 0, 28, d6, 16);
    add(&r, 0, 8, v4, 4); /* another family in the same record: the first one stays */
    add(&r, 0, 371, "alice\0\0\0", 8);
    add(&r, 0, 96, "DNS", 3);
    add(&r, 0, 455, "001010123456789", 15);
    add(&r, 0, 456, "491701234567", 12);
    add(&r, MC_PEN_MC, 249, "call-1@host", 11);
    struct mc_coll_record rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    char a[64];
    assert_int_equal(f.ip_version, 6);
    assert_string_equal(mc_coll_flow_addr(&f, 0, a, sizeof(a)), "2001:db8::");
    assert_string_equal(mc_coll_flow_addr(&f, 1, a, sizeof(a)), "2001:db8::1");
    assert_string_equal(f.user, "alice");
    assert_string_equal(f.app, "DNS");
    assert_string_equal(f.imsi, "001010123456789");
    assert_string_equal(f.msisdn, "491701234567");
    assert_string_equal(f.call_id, "call-1@host");
    /* an address of the wrong length is not an address */
    r.n = 0;
    add(&r, 0, 8, v4, 3);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(f.ip_version, 0);
    assert_string_equal(mc_coll_flow_addr(&f, 0, a, sizeof(a)), "");
    /* a long string is cut before a multi-byte character, never inside it */
    r.n = 0;
    uint8_t long_user[64];
    memset(long_user, 'a', sizeof(long_user));
    long_user[62] = 0xc3, long_user[63] = 0xa9; /* "é" across the cut */
    add(&r, 0, 371, long_user, 64);
    rec = record(&r, 10);
    mc_coll_flow_from_record(&f, &rec, NULL, 0);
    assert_int_equal(strlen(f.user), 62);
    /* options records are no flow */
    rec.options = 1;
    assert_int_equal(mc_coll_flow_from_record(&f, &rec, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_ms),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_sampling_reverse_totals),
        cmocka_unit_test(test_ipv6_strings_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
