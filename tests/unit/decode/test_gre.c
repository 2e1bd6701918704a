/* test_gre.c - GRE (v0 with optional fields, v1 PPTP, ERSPAN protocols) decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t plain_ipv4[] = { 0x00, 0x00, 0x08, 0x00, 0x45 };
static const uint8_t key_ipv6[] = { 0x20, 0x00, 0x86, 0xdd, 0, 0, 0xab, 0xcd, 0x60 };
static const uint8_t csum_key_seq[] = { 0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0x45 };
static const uint8_t teb[] = { 0x20, 0x00, 0x65, 0x58, 0, 0, 0, 9 };
static const uint8_t erspan1[] = { 0x00, 0x00, 0x88, 0xbe };
static const uint8_t erspan2[] = { 0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1 };
static const uint8_t erspan3[] = { 0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1 };
static const uint8_t routing[] = { 0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0x45 };
static const uint8_t unknown[] = { 0x00, 0x00, 0x12, 0x34 };
static const uint8_t ver2[] = { 0x00, 0x02, 0x08, 0x00 };
static const uint8_t short3[] = { 0x00, 0x00, 0x08 };
static const uint8_t key_cut[] = { 0x20, 0x00, 0x08, 0x00, 0, 0 };
static const uint8_t pptp_ip[] = { 0x30, 0x81, 0x88, 0x0b, 0, 5, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0x21, 0x45 };
static const uint8_t pptp_ack[] = { 0x20, 0x81, 0x88, 0x0b, 0, 0, 0x12, 0x34, 0, 0, 0, 1 };
static const uint8_t pptp_lcp[] = { 0x30, 0x01, 0x88, 0x0b, 0, 4, 0x12, 0x34, 0, 0, 0, 1, 0xff, 0x03, 0xc0, 0x21 };
static const uint8_t pptp_nokey[] = { 0x10, 0x01, 0x88, 0x0b, 0, 0, 0, 1 };
static const uint8_t sre_loop[] = {
    0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0,
    0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
    0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
    0, 1, 0, 0,
};

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("plain ipv4", plain_ipv4, 1, MC_LAYER_IPV4, "decode.gre.packets", 4),
        DCASE("key ipv6", key_ipv6, 1, MC_LAYER_IPV6, NULL, 8),
        DCASE("csum key seq", csum_key_seq, 1, MC_LAYER_IPV4, NULL, 16),
        DCASE("teb", teb, 1, MC_LAYER_ETHER, NULL, 8),
        DCASE("erspan type I", erspan1, 1, MC_LAYER_ETHER, NULL, 4),
        DCASE("erspan type II", erspan2, 1, MC_LAYER_ERSPAN, NULL, 8),
        DCASE("erspan type III", erspan3, 1, MC_LAYER_ERSPAN, NULL, 8),
        DCASE("routing", routing, 1, MC_LAYER_IPV4, NULL, 20),
        DCASE("unknown protocol", unknown, 1, MC_LAYER_NON_IP, "decode.nonip.other_ethertype", 4),
        DCASE("version 2", ver2, 1, MC_DECODE_ERR, "decode.gre.bad_version", 0),
        DCASE("too short", short3, 1, MC_DECODE_ERR, "decode.gre.too_short", 0),
        DCASE("key cut", key_cut, 1, MC_DECODE_ERR, "decode.gre.too_short", 0),
        DCASE("pptp ip", pptp_ip, 1, MC_LAYER_IPV4, NULL, 20),
        DCASE("pptp ack only", pptp_ack, 1, MC_LAYER_DONE, NULL, 12),
        DCASE("pptp lcp", pptp_lcp, 1, MC_LAYER_NON_IP, "decode.nonip.ppp_control", 16),
        DCASE("pptp without key", pptp_nokey, 1, MC_DECODE_ERR, "decode.gre.bad_pptp", 0),
        DCASE("sre loop", sre_loop, 1, MC_DECODE_ERR, "decode.gre.too_many_sre", 0),
    };
    dtest_cases(mc_decode_gre, cases, DTEST_N(cases));
}

static void test_pending(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_gre, &pkt, key_ipv6, sizeof(key_ipv6), NULL), MC_LAYER_IPV6);
    assert_int_equal(pkt.pending_tunnel, MC_TUNNEL_GRE);
    assert_int_equal(pkt.pending_tunnel_id, 0xabcd);
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_gre, &pkt, pptp_ip, sizeof(pptp_ip), NULL), MC_LAYER_IPV4);
    assert_int_equal(pkt.pending_tunnel_id, 0x1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_pending) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
