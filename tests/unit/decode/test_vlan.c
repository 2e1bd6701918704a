/* test_vlan.c - 802.1Q tag decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t tag_ipv4[] = { 0xa0, 0x64, 0x08, 0x00, 0x45 }; /* PCP 5, VID 100 */
static const uint8_t tag_unknown[] = { 0x0f, 0xff, 0x12, 0x34 };
static const uint8_t tag_llc[] = { 0x00, 0x01, 0x00, 0x26 };
static const uint8_t tag_short[] = { 0x00, 0x64, 0x08 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("ipv4", tag_ipv4, 1, MC_LAYER_IPV4, "decode.vlan.packets", 4),
        DCASE("unknown next", tag_unknown, 1, MC_LAYER_NON_IP, "decode.nonip.other_ethertype", 4),
        DCASE("802.3 after tag", tag_llc, 1, MC_LAYER_NON_IP, "decode.nonip.llc", 4),
        DCASE("too short", tag_short, 1, MC_DECODE_ERR, "decode.vlan.too_short", 0),
    };
    dtest_cases(mc_decode_vlan, cases, DTEST_N(cases));
}

static void test_stack(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    for (int i = 0; i < 3; i++)
        assert_int_equal(dtest_run(mc_decode_vlan, &pkt, tag_ipv4, sizeof(tag_ipv4), NULL), MC_LAYER_IPV4);
    assert_int_equal(pkt.n_vlan, 3);
    assert_int_equal(pkt.vlan[0], 100);
    assert_int_equal(pkt.vlan[1], 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_stack) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
