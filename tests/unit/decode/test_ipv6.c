/* test_ipv6.c - IPv6 header and extension header decoder cases. */
#include "unit/decode/dtest.h"

#define A16(x) 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x
#define HDR(plen, nh) 0x6a, 0xb0, 0, 0, 0, plen, nh, 64, A16(1), A16(2)

static const uint8_t udp[] = { HDR(8, 17), 0, 53, 0, 53, 0, 8, 0, 0, 0xee };
static const uint8_t hbh_tcp[] = { HDR(28, 0), 6, 0, 1, 4, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
static const uint8_t ah_udp[] = { HDR(20, 51), 17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 53, 0, 53, 0, 8, 0, 0 };
static const uint8_t frag_first[] = { HDR(16, 44), 17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0, 53, 0, 53, 0, 8, 0, 0 };
static const uint8_t frag_later[] = { HDR(16, 44), 17, 0, 0x05, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t nonext[] = { HDR(0, 59) };
static const uint8_t ext_cut[] = { HDR(16, 60), 17, 3, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t badver[] = { 0x4a, 0xb0, 0, 0, 0, 8, 17, 64, A16(1), A16(2) };
static const uint8_t short39[] = { 0x60, 0, 0, 0, 0, 8, 17, 64, A16(1), 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t nine_dst[] = { HDR(72, 60), 60, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0,
                                    60, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0,
                                    60, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0,
                                    17, 0, 0, 0, 0, 0, 0, 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("udp", udp, 1, MC_LAYER_UDP, "decode.ipv6.packets", 40),
        DCASE("hop-by-hop tcp", hbh_tcp, 1, MC_LAYER_TCP, NULL, 48),
        DCASE("ah udp", ah_udp, 1, MC_LAYER_UDP, NULL, 52),
        DCASE("first fragment", frag_first, 1, MC_LAYER_UDP, "decode.ipv6.fragments", 48),
        DCASE("later fragment", frag_later, 1, MC_LAYER_DONE, "decode.ipv6.fragments", 48),
        DCASE("no next header", nonext, 1, MC_LAYER_DONE, "decode.ip.other_proto", 40),
        DCASE("ext cut", ext_cut, 1, MC_DECODE_ERR, "decode.ipv6.ext_too_short", 0),
        DCASE("bad version", badver, 1, MC_DECODE_ERR, "decode.ipv6.bad_version", 0),
        DCASE("too short", short39, 1, MC_DECODE_ERR, "decode.ipv6.too_short", 0),
        DCASE("nine ext headers", nine_dst, 1, MC_DECODE_ERR, "decode.ipv6.too_many_ext_headers", 0),
    };
    dtest_cases(mc_decode_ipv6, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    struct mc_cur c;
    memset(&pkt, 0, sizeof(pkt));
    c = mc_cur_make(udp, sizeof(udp));
    assert_int_equal(mc_decode_ipv6(&pkt, &c), MC_LAYER_UDP);
    assert_int_equal(mc_cur_left(&c), 8); /* trailer cut by payload length */
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.ip_len, 48);
    assert_int_equal(pkt.tos, 0xab);
    assert_int_equal(pkt.proto, 17);
    assert_int_equal(pkt.src.b[15], 1);

    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv6, &pkt, hbh_tcp, sizeof(hbh_tcp), NULL), MC_LAYER_TCP);
    assert_int_equal(pkt.proto, 6);

    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv6, &pkt, frag_later, sizeof(frag_later), NULL), MC_LAYER_DONE);
    assert_int_equal(pkt.frag, 1);
    assert_int_equal(pkt.frag_first, 0);
    assert_int_equal(pkt.frag_ver, 6);
    assert_int_equal(pkt.frag_proto, 17);
    assert_int_equal(pkt.frag_id, 0xdeadbeef);
    assert_int_equal(pkt.proto, 17);

    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv6, &pkt, frag_first, sizeof(frag_first), NULL), MC_LAYER_UDP);
    assert_int_equal(pkt.frag_first, 1);

    /* a damaged extension chain still commits the fixed header */
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv6, &pkt, ext_cut, sizeof(ext_cut), NULL), MC_DECODE_ERR);
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.ip_len, 56);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
