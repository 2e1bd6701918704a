/* test_udp.c - UDP header decoder cases, including the tunnel port dispatch. */
#include "unit/decode/dtest.h"

static const uint8_t dns[] = { 0x04, 0x00, 0, 53, 0, 10, 0, 0, 'a', 'b', 0xee, 0xee };
static const uint8_t gtp_dst[] = { 0x04, 0x00, 0x08, 0x68, 0, 8, 0, 0 };
static const uint8_t gtp_src[] = { 0x08, 0x68, 0x04, 0x00, 0, 8, 0, 0 };
static const uint8_t vxlan_dst[] = { 0xc0, 0x00, 0x12, 0xb5, 0, 8, 0, 0 };
static const uint8_t vxlan_src[] = { 0x12, 0xb5, 0xc0, 0x00, 0, 8, 0, 0 };
static const uint8_t badlen[] = { 0x04, 0x00, 0, 53, 0, 4, 0, 0, 'a' };
static const uint8_t short7[] = { 0x04, 0x00, 0, 53, 0, 8, 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("dns", dns, 1, MC_LAYER_DONE, "decode.udp.packets", 8),
        DCASE("gtp dport", gtp_dst, 1, MC_LAYER_GTPU, NULL, 8),
        DCASE("gtp sport", gtp_src, 1, MC_LAYER_GTPU, NULL, 8),
        DCASE("vxlan dport", vxlan_dst, 1, MC_LAYER_VXLAN, NULL, 8),
        DCASE("vxlan sport", vxlan_src, 1, MC_LAYER_VXLAN, NULL, 8),
        DCASE("length < 8", badlen, 1, MC_LAYER_DONE, "decode.udp.bad_length", 8),
        DCASE("too short", short7, 1, MC_DECODE_ERR, "decode.udp.too_short", 0),
    };
    dtest_cases(mc_decode_udp, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    struct mc_cur c;
    memset(&pkt, 0, sizeof(pkt));
    c = mc_cur_make(dns, sizeof(dns));
    assert_int_equal(mc_decode_udp(&pkt, &c), MC_LAYER_DONE);
    assert_int_equal(pkt.sport, 1024);
    assert_int_equal(pkt.dport, 53);
    assert_int_equal(pkt.has_l4, 1);
    assert_int_equal(pkt.payload_len, 2); /* cut by the UDP length */
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
