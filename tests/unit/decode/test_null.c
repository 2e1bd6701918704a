/* test_null.c - DLT_NULL / DLT_LOOP decoder cases (both byte orders). */
#include "unit/decode/dtest.h"

static const uint8_t le_ipv4[] = { 2, 0, 0, 0, 0x45 };
static const uint8_t be_ipv4[] = { 0, 0, 0, 2, 0x45 };
static const uint8_t le_ipv6_24[] = { 24, 0, 0, 0, 0x60 };
static const uint8_t le_ipv6_28[] = { 28, 0, 0, 0, 0x60 };
static const uint8_t be_ipv6_30[] = { 0, 0, 0, 30, 0x60 };
static const uint8_t other_af[] = { 0, 0, 0, 7 };
static const uint8_t too_short[] = { 2, 0, 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("null le ipv4", le_ipv4, 0, MC_LAYER_IPV4, "decode.null.packets", 4),
        DCASE("null be ipv4", be_ipv4, 0, MC_LAYER_IPV4, NULL, 4),
        DCASE("loop ipv4", be_ipv4, 108, MC_LAYER_IPV4, NULL, 4),
        DCASE("loop le is not ipv4", le_ipv4, 108, MC_LAYER_NON_IP, "decode.nonip.other_af", 4),
        DCASE("null ipv6 24", le_ipv6_24, 0, MC_LAYER_IPV6, NULL, 4),
        DCASE("null ipv6 28", le_ipv6_28, 0, MC_LAYER_IPV6, NULL, 4),
        DCASE("loop ipv6 30", be_ipv6_30, 108, MC_LAYER_IPV6, NULL, 4),
        DCASE("unknown af", other_af, 0, MC_LAYER_NON_IP, "decode.nonip.other_af", 4),
        DCASE("too short", too_short, 0, MC_DECODE_ERR, "decode.null.too_short", 0),
    };
    dtest_cases(mc_decode_null, cases, DTEST_N(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
