/* test_tcp.c - TCP header decoder cases. */
#include "unit/decode/dtest.h"

static const uint8_t syn[] = { 0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0xc2, 0xff, 0xff, 0, 0, 0, 0, 'h', 'i' };
static const uint8_t opts[] = { 0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x10, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 1, 0, 'x' };
static const uint8_t badoff[] = { 0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x40, 0x02, 0xff, 0xff, 0, 0, 0, 0 };
static const uint8_t optcut[] = { 0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0xf0, 0x02, 0xff, 0xff, 0, 0, 0, 0, 1 };
static const uint8_t short19[] = { 0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("syn ece cwr", syn, 1, MC_LAYER_DONE, "decode.tcp.packets", 20),
        DCASE("options", opts, 1, MC_LAYER_DONE, NULL, 24),
        DCASE("options cut", optcut, 1, MC_LAYER_DONE, "decode.tcp.options_truncated", SIZE_MAX),
        DCASE("bad offset", badoff, 1, MC_DECODE_ERR, "decode.tcp.bad_offset", 0),
        DCASE("too short", short19, 1, MC_DECODE_ERR, "decode.tcp.too_short", 0),
    };
    dtest_cases(mc_decode_tcp, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    struct mc_cur c;
    memset(&pkt, 0, sizeof(pkt));
    c = mc_cur_make(syn, sizeof(syn));
    assert_int_equal(mc_decode_tcp(&pkt, &c), MC_LAYER_DONE);
    assert_int_equal(pkt.sport, 12345);
    assert_int_equal(pkt.dport, 80);
    assert_int_equal(pkt.tcp_flags, 0xc2);
    assert_int_equal(pkt.has_l4, 1);
    assert_int_equal(pkt.payload_len, 2);
    assert_ptr_equal(pkt.payload, syn + 20);
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_tcp, &pkt, badoff, sizeof(badoff), NULL), MC_DECODE_ERR);
    assert_int_equal(pkt.has_l4, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
