/* test_vxlan.c - VXLAN decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t vni42[] = { 0x08, 0, 0, 0, 0, 0, 42, 0, 0xaa };
static const uint8_t no_i[] = { 0x00, 0, 0, 0, 0, 0, 42, 0 };
static const uint8_t short7[] = { 0x08, 0, 0, 0, 0, 0, 42 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("vni 42", vni42, 1, MC_LAYER_ETHER, "decode.vxlan.packets", 8),
        DCASE("I flag clear", no_i, 1, MC_DECODE_ERR, "decode.vxlan.bad_flags", 0),
        DCASE("too short", short7, 1, MC_DECODE_ERR, "decode.vxlan.too_short", 0),
    };
    dtest_cases(mc_decode_vxlan, cases, DTEST_N(cases));
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_vxlan, &pkt, vni42, sizeof(vni42), NULL), MC_LAYER_ETHER);
    assert_int_equal(pkt.pending_tunnel, MC_TUNNEL_VXLAN);
    assert_int_equal(pkt.pending_tunnel_id, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
