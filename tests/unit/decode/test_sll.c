/* test_sll.c - Linux cooked capture v1 and v2 decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t sll_ipv4[] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00, 0x45 };
static const uint8_t sll_llc[] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x00, 0x04 };
static const uint8_t sll_novell[] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x00, 0x01 };
static const uint8_t sll_unknown[] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x77, 0x77 };
static const uint8_t sll_short[] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08 };
static const uint8_t sll2_ipv6[] = { 0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x60 };
static const uint8_t sll2_arp[] = { 0x08, 0x06, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0 };
static const uint8_t sll2_short[] = { 0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0 };

static void test_sll1(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("ipv4", sll_ipv4, 113, MC_LAYER_IPV4, "decode.sll.packets", 16),
        DCASE("llc", sll_llc, 113, MC_LAYER_NON_IP, "decode.nonip.llc", 16),
        DCASE("novell", sll_novell, 113, MC_LAYER_NON_IP, "decode.nonip.ipx", 16),
        DCASE("unknown", sll_unknown, 113, MC_LAYER_NON_IP, "decode.nonip.other_ethertype", 16),
        DCASE("too short", sll_short, 113, MC_DECODE_ERR, "decode.sll.too_short", 0),
    };
    dtest_cases(mc_decode_sll, cases, DTEST_N(cases));
}

static void test_sll2(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("ipv6", sll2_ipv6, 276, MC_LAYER_IPV6, "decode.sll2.packets", 20),
        DCASE("arp", sll2_arp, 276, MC_LAYER_NON_IP, "decode.nonip.arp", 20),
        DCASE("too short", sll2_short, 276, MC_DECODE_ERR, "decode.sll2.too_short", 0),
    };
    dtest_cases(mc_decode_sll2, cases, DTEST_N(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_sll1), cmocka_unit_test(test_sll2) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
