/* test_ether.c - Ethernet II / 802.3 decoder cases. */
#include "unit/decode/dtest.h"

#define MACS 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
static const uint8_t ipv4[] = { MACS, 0x08, 0x00, 0x45 };
static const uint8_t ipv6[] = { MACS, 0x86, 0xdd };
static const uint8_t vlan[] = { MACS, 0x81, 0x00 };
static const uint8_t arp[] = { MACS, 0x08, 0x06, 0, 1 };
static const uint8_t unknown[] = { MACS, 0x12, 0x34 };
static const uint8_t llc_stp[] = { MACS, 0x00, 0x26, 0x42, 0x42, 0x03, 0, 0 };
static const uint8_t snap_ip[] = { MACS, 0x00, 0x10, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45 };
static const uint8_t ipx_raw[] = { MACS, 0x00, 0x10, 0xff, 0xff, 0x00 };
static const uint8_t bad_len[] = { MACS, 0x05, 0xff };
static const uint8_t short13[] = { MACS, 0x08 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("ipv4", ipv4, 1, MC_LAYER_IPV4, "decode.ether.packets", 14),
        DCASE("ipv6", ipv6, 1, MC_LAYER_IPV6, NULL, 14),
        DCASE("vlan", vlan, 1, MC_LAYER_VLAN, NULL, 14),
        DCASE("arp", arp, 1, MC_LAYER_NON_IP, "decode.nonip.arp", 14),
        DCASE("unknown type", unknown, 1, MC_LAYER_NON_IP, "decode.nonip.other_ethertype", 14),
        DCASE("802.3 llc", llc_stp, 1, MC_LAYER_NON_IP, "decode.nonip.llc", SIZE_MAX),
        DCASE("802.3 snap ip", snap_ip, 1, MC_LAYER_IPV4, NULL, 22),
        DCASE("novell raw", ipx_raw, 1, MC_LAYER_NON_IP, "decode.nonip.ipx", SIZE_MAX),
        DCASE("length 1535", bad_len, 1, MC_DECODE_ERR, "decode.ether.bad_length", 0),
        DCASE("too short", short13, 1, MC_DECODE_ERR, "decode.ether.too_short", 0),
    };
    dtest_cases(mc_decode_ether, cases, DTEST_N(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
