/* test_ppp.c - PPP link-layer decoder cases (DLT_PPP / DLT_PPP_SERIAL). */
#include "unit/decode/dtest.h"

static const uint8_t s_mpls[] = { 0xff, 0x03, 0x02, 0x81, 0x18, 0x96, 0x01, 0x01 };
static const uint8_t s_ipv4[] = { 0xff, 0x03, 0x00, 0x21, 0x45 };
static const uint8_t s_nohdlc_ipv6[] = { 0x00, 0x57, 0x60 };
static const uint8_t s_lcp[] = { 0xff, 0x03, 0xc0, 0x21, 0x01 };
static const uint8_t s_short[] = { 0xff, 0x03, 0x00 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("mpls", s_mpls, 1, MC_LAYER_MPLS, "decode.ppp.packets", 4),
        DCASE("ipv4", s_ipv4, 1, MC_LAYER_IPV4, NULL, 4),
        DCASE("no address/control", s_nohdlc_ipv6, 1, MC_LAYER_IPV6, NULL, 2),
        DCASE("lcp", s_lcp, 1, MC_LAYER_NON_IP, "decode.nonip.ppp_control", 4),
        DCASE("too short", s_short, 1, MC_DECODE_ERR, "decode.ppp.too_short", 0),
    };
    dtest_cases(mc_decode_ppp, cases, DTEST_N(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
