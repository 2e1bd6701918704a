/* test_pppoe.c - PPPoE session and PPP protocol decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t s_ipv4[] = { 0x11, 0, 0x12, 0x34, 0, 3, 0x00, 0x21, 0x45 };
static const uint8_t s_ipv6[] = { 0x11, 0, 0x12, 0x34, 0, 3, 0x00, 0x57, 0x60 };
static const uint8_t s_pfc_ipv4[] = { 0x11, 0, 0x12, 0x34, 0, 2, 0x21, 0x45 };
static const uint8_t s_lcp[] = { 0x11, 0, 0x12, 0x34, 0, 2, 0xc0, 0x21 };
static const uint8_t s_other[] = { 0x11, 0, 0x12, 0x34, 0, 2, 0x00, 0x3d };
static const uint8_t s_badver[] = { 0x21, 0, 0x12, 0x34, 0, 2, 0x00, 0x21 };
static const uint8_t s_padi[] = { 0x11, 0x09, 0x00, 0x00, 0, 0 };
static const uint8_t s_short[] = { 0x11, 0, 0x12, 0x34, 0 };
static const uint8_t s_noproto[] = { 0x11, 0, 0x12, 0x34, 0, 0, 0x00, 0x21 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("ipv4", s_ipv4, 1, MC_LAYER_IPV4, "decode.pppoe.packets", 8),
        DCASE("ipv6", s_ipv6, 1, MC_LAYER_IPV6, NULL, 8),
        DCASE("compressed protocol", s_pfc_ipv4, 1, MC_LAYER_IPV4, NULL, 7),
        DCASE("lcp", s_lcp, 1, MC_LAYER_NON_IP, "decode.nonip.ppp_control", 8),
        DCASE("unknown protocol", s_other, 1, MC_LAYER_NON_IP, "decode.nonip.ppp_other", 8),
        DCASE("bad version", s_badver, 1, MC_DECODE_ERR, "decode.pppoe.bad_version", 0),
        DCASE("discovery code", s_padi, 1, MC_DECODE_ERR, "decode.pppoe.bad_code", 0),
        DCASE("too short", s_short, 1, MC_DECODE_ERR, "decode.pppoe.too_short", 0),
        DCASE("length 0 hides protocol", s_noproto, 1, MC_DECODE_ERR, "decode.ppp.too_short", 0),
    };
    dtest_cases(mc_decode_pppoe, cases, DTEST_N(cases));
}

static void test_session(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_pppoe, &pkt, s_ipv6, sizeof(s_ipv6), NULL), MC_LAYER_IPV6);
    assert_int_equal(pkt.pppoe_session, 0x1234);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_PPPOE);
    assert_int_equal(pkt.tunnel_id, 0x1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_session) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
