/* test_mpls.c - MPLS label stack decoder cases. */
#include "unit/decode/dtest.h"

/* label 16 (S=0), label 17 (S=1), then an IPv4 nibble */
static const uint8_t two_ipv4[] = { 0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x45 };
static const uint8_t one_ipv6[] = { 0x00, 0x01, 0x01, 0x40, 0x60 };
static const uint8_t pw_ether[] = { 0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0, 0xaa };
static const uint8_t unknown[] = { 0x00, 0x01, 0x01, 0x40, 0x9f };
static const uint8_t no_payload[] = { 0x00, 0x01, 0x01, 0x40 };
static const uint8_t no_bos[] = { 0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x10 };
static const uint8_t nine[] = {
    0, 1, 0, 64, 0, 1, 0, 64, 0, 1, 0, 64, 0, 1, 0, 64, 0, 1, 0, 64,
    0, 1, 0, 64, 0, 1, 0, 64, 0, 1, 0, 64, 0, 1, 1, 64, 0x45,
};

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("two labels ipv4", two_ipv4, 1, MC_LAYER_IPV4, "decode.mpls.packets", 8),
        DCASE("ipv6", one_ipv6, 1, MC_LAYER_IPV6, NULL, 4),
        DCASE("pw control word", pw_ether, 1, MC_LAYER_ETHER, "decode.mpls.pw_ether", 8),
        DCASE("unknown payload", unknown, 1, MC_LAYER_NON_IP, "decode.nonip.mpls_other", 4),
        DCASE("nothing after bos", no_payload, 1, MC_DECODE_ERR, "decode.mpls.too_short", 0),
        DCASE("truncated stack", no_bos, 1, MC_DECODE_ERR, "decode.mpls.too_short", 0),
        DCASE("too many labels", nine, 1, MC_DECODE_ERR, "decode.mpls.too_many_labels", 0),
    };
    dtest_cases(mc_decode_mpls, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_mpls, &pkt, two_ipv4, sizeof(two_ipv4), NULL), MC_LAYER_IPV4);
    assert_int_equal(pkt.n_mpls, 2);
    assert_int_equal(pkt.mpls_top, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
