/* test_raw.c - raw IP link type decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t v4[] = { 0x45, 0 };
static const uint8_t v6[] = { 0x60, 0 };
static const uint8_t v5[] = { 0x50, 0 };
static const uint8_t empty[] = { 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("raw v4", v4, 12, MC_LAYER_IPV4, "decode.raw.packets", 0),
        DCASE("raw v6", v6, 101, MC_LAYER_IPV6, NULL, 0),
        DCASE("openbsd raw v4", v4, 14, MC_LAYER_IPV4, NULL, 0),
        DCASE("dlt ipv4 forces v4", v6, 228, MC_LAYER_IPV4, NULL, 0),
        DCASE("dlt ipv6 forces v6", v4, 229, MC_LAYER_IPV6, NULL, 0),
        DCASE("unknown version", v5, 12, MC_DECODE_ERR, "decode.raw.bad_version", 0),
        { "too short", empty, 0, 12, MC_DECODE_ERR, "decode.raw.too_short", 0 },
    };
    dtest_cases(mc_decode_raw, cases, DTEST_N(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
