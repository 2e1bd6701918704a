/* test_sctp.c - SCTP common header decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t init[] = { 0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 4 };
static const uint8_t bare[] = { 0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0, 1, 2, 3, 4 };
static const uint8_t short11[] = { 0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 0, 1, 2, 3 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("init", init, 1, MC_LAYER_DONE, "decode.sctp.packets", 12),
        DCASE("no chunks", bare, 1, MC_LAYER_DONE, NULL, 12),
        DCASE("too short", short11, 1, MC_DECODE_ERR, "decode.sctp.too_short", 0),
    };
    dtest_cases(mc_decode_sctp, cases, DTEST_N(cases));
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_sctp, &pkt, bare, sizeof(bare), NULL), MC_LAYER_DONE);
    assert_int_equal(pkt.sport, 2905);
    assert_int_equal(pkt.dport, 2906);
    assert_int_equal(pkt.has_l4, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
