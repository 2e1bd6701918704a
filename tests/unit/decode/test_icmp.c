/* test_icmp.c - icmp header decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t echo[] = { 8, 0, 0xf7, 0xff, 0, 1, 0, 1 };
static const uint8_t unreach[] = { 3, 3, 0, 0 };
static const uint8_t short3[] = { 8, 0, 0xf7 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("echo", echo, 1, MC_LAYER_DONE, "decode.icmp.packets", 4),
        DCASE("unreachable (no next type)", unreach, 1, MC_LAYER_DONE, NULL, 4),
        DCASE("too short", short3, 1, MC_DECODE_ERR, "decode.icmp.too_short", 0),
    };
    dtest_cases(mc_decode_icmp, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.sport = 7;
    assert_int_equal(dtest_run(mc_decode_icmp, &pkt, unreach, sizeof(unreach), NULL), MC_LAYER_DONE);
    assert_int_equal(pkt.icmp_type, 3);
    assert_int_equal(pkt.icmp_code, 3);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.dport, 0);
    assert_int_equal(pkt.has_l4, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
