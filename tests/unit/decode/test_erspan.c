/* test_erspan.c - ERSPAN type II / III decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t t2[] = { 0x10, 0x64, 0x00, 0x2a, 0, 0, 0, 1, 0xaa };
static const uint8_t t3[] = { 0x20, 0x64, 0x00, 0x2b, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0xaa };
static const uint8_t t3_plat[] = { 0x20, 0x64, 0x00, 0x2b, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa };
static const uint8_t t3_ip[] = { 0x20, 0x64, 0x00, 0x2b, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45 };
static const uint8_t t3_other[] = { 0x20, 0x64, 0x00, 0x2b, 0, 0, 0, 0, 0, 0, 0x1c, 0x00, 0xaa };
static const uint8_t ver3[] = { 0x30, 0x64, 0x00, 0x2b, 0, 0, 0, 1 };
static const uint8_t short7[] = { 0x10, 0x64, 0x00, 0x2a, 0, 0, 0 };
static const uint8_t plat_cut[] = { 0x20, 0x64, 0x00, 0x2b, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("type II", t2, 1, MC_LAYER_ETHER, "decode.erspan.packets", 8),
        DCASE("type III", t3, 1, MC_LAYER_ETHER, NULL, 12),
        DCASE("type III platform", t3_plat, 1, MC_LAYER_ETHER, NULL, 20),
        DCASE("type III ip frame", t3_ip, 1, MC_LAYER_IPV4, NULL, 12),
        DCASE("type III other frame", t3_other, 1, MC_DECODE_ERR, "decode.erspan.non_ether", 0),
        DCASE("unknown version", ver3, 1, MC_DECODE_ERR, "decode.erspan.bad_version", 0),
        DCASE("too short", short7, 1, MC_DECODE_ERR, "decode.erspan.too_short", 0),
        DCASE("platform cut", plat_cut, 1, MC_DECODE_ERR, "decode.erspan.too_short", 0),
    };
    dtest_cases(mc_decode_erspan, cases, DTEST_N(cases));
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_erspan, &pkt, t2, sizeof(t2), NULL), MC_LAYER_ETHER);
    assert_int_equal(pkt.pending_tunnel, MC_TUNNEL_ERSPAN);
    assert_int_equal(pkt.pending_tunnel_id, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
