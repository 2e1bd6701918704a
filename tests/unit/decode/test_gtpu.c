/* test_gtpu.c - GTPv1-U decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t gpdu_v4[] = { 0x30, 0xff, 0, 1, 0x11, 0x22, 0x33, 0x44, 0x45 };
static const uint8_t gpdu_seq_v6[] = { 0x32, 0xff, 0, 5, 0, 0, 0, 1, 0, 7, 0, 0, 0x60 };
static const uint8_t gpdu_ext_v6[] = { 0x34, 0xff, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x05, 0, 0x60 };
static const uint8_t gpdu_2ext[] = { 0x34, 0xff, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0x40, 1, 0, 0, 0, 0x45 };
static const uint8_t echo[] = { 0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0 };
static const uint8_t gpdu_junk[] = { 0x30, 0xff, 0, 1, 0, 0, 0, 1, 0x99 };
static const uint8_t gtpv2[] = { 0x48, 0x20, 0, 4, 0, 0, 0, 0 };
static const uint8_t short7[] = { 0x30, 0xff, 0, 1, 0, 0, 0 };
static const uint8_t ext_zero[] = { 0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0, 0, 0 };
static const uint8_t ext_cut[] = { 0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 2, 0, 0, 0 };
static const uint8_t ext_loop[] = { 0x34, 0xff, 0, 40, 0, 0, 0, 1, 0, 0, 0, 0x85,
                                    1, 0, 0, 0x85, 1, 0, 0, 0x85, 1, 0, 0, 0x85, 1, 0, 0, 0x85, 1, 0, 0, 0x85,
                                    1, 0, 0, 0x85, 1, 0, 0, 0x85, 1, 0, 0, 0x85, 1, 0, 0, 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("gpdu ipv4", gpdu_v4, 1, MC_LAYER_IPV4, "decode.gtpu.packets", 8),
        DCASE("gpdu seq ipv6", gpdu_seq_v6, 1, MC_LAYER_IPV6, NULL, 12),
        DCASE("gpdu pdu session ext ipv6", gpdu_ext_v6, 1, MC_LAYER_IPV6, NULL, 16),
        DCASE("gpdu two ext", gpdu_2ext, 1, MC_LAYER_IPV4, NULL, 20),
        DCASE("echo request", echo, 1, MC_LAYER_DONE, "decode.gtpu.non_gpdu", 12),
        DCASE("gpdu not ip", gpdu_junk, 1, MC_LAYER_DONE, "decode.gtpu.non_ip_payload", 8),
        DCASE("gtpv2 on 2152", gtpv2, 1, MC_DECODE_ERR, "decode.gtpu.bad_version", 0),
        DCASE("too short", short7, 1, MC_DECODE_ERR, "decode.gtpu.too_short", 0),
        DCASE("ext length 0", ext_zero, 1, MC_DECODE_ERR, "decode.gtpu.bad_ext_length", 0),
        DCASE("ext cut by length", ext_cut, 1, MC_DECODE_ERR, "decode.gtpu.too_short", 0),
        DCASE("ext loop", ext_loop, 1, MC_DECODE_ERR, "decode.gtpu.too_many_ext_headers", 0),
    };
    dtest_cases(mc_decode_gtpu, cases, DTEST_N(cases));
}

static void test_teid(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_gtpu, &pkt, gpdu_v4, sizeof(gpdu_v4), NULL), MC_LAYER_IPV4);
    assert_int_equal(pkt.pending_tunnel, MC_TUNNEL_GTPU);
    assert_int_equal(pkt.pending_tunnel_id, 0x11223344);
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_gtpu, &pkt, echo, sizeof(echo), NULL), MC_LAYER_DONE);
    assert_int_equal(pkt.pending_tunnel, MC_TUNNEL_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_teid) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
