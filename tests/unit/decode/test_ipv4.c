/* test_ipv4.c - IPv4 header decoder cases: lengths, options, fragments, commit rules. */
#include "unit/decode/dtest.h"

#define SRC 10, 0, 0, 1
#define DST 10, 0, 0, 2
/* 20-byte header, total length 28, TCP, then 8 payload bytes and 4 bytes of trailer */
static const uint8_t tcp28[] = { 0x45, 0x10, 0, 28, 0, 1, 0x40, 0, 64, 6, 0, 0, SRC, DST,
                                 1, 2, 3, 4, 5, 6, 7, 8, 0xee, 0xee, 0xee, 0xee };
static const uint8_t opts[] = { 0x46, 0, 0, 24, 0, 1, 0, 0, 64, 17, 0, 0, SRC, DST, 1, 1, 1, 0 };
static const uint8_t ospf[] = { 0x45, 0, 0, 20, 0, 1, 0, 0, 1, 89, 0, 0, SRC, DST };
static const uint8_t badver[] = { 0x55, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, SRC, DST };
static const uint8_t badihl[] = { 0x44, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, SRC, DST };
static const uint8_t short19[] = { 0x45, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, SRC, 10, 0, 0 };
static const uint8_t badtot[] = { 0x45, 0, 0, 10, 0, 1, 0, 0, 64, 6, 0, 0, SRC, DST, 0, 0 };
static const uint8_t cut_total[] = { 0x45, 0, 0x05, 0xdc, 0, 1, 0, 0, 64, 17, 0, 0, SRC, DST, 0, 53 };
static const uint8_t tso[] = { 0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, SRC, DST, 0, 53, 0, 53, 0, 8, 0, 0 };
static const uint8_t first_frag[] = { 0x45, 0, 0, 28, 0x42, 0x42, 0x20, 0, 64, 17, 0, 0, SRC, DST,
                                      0, 53, 0, 53, 0, 100, 0, 0 };
static const uint8_t later_frag[] = { 0x45, 0, 0, 28, 0x42, 0x42, 0x00, 0xb9, 64, 17, 0, 0, SRC, DST,
                                      1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t opts_cut[] = { 0x4f, 0, 0, 60, 0, 1, 0, 0, 64, 6, 0, 0, SRC, DST, 1, 1 };

static void test_cases(void **state)
{
    (void)state;
    const struct dcase cases[] = {
        DCASE("tcp", tcp28, 1, MC_LAYER_TCP, "decode.ipv4.packets", 20),
        DCASE("options", opts, 1, MC_LAYER_UDP, NULL, 24),
        DCASE("unknown protocol", ospf, 1, MC_LAYER_DONE, "decode.ip.other_proto", 20),
        DCASE("bad version", badver, 1, MC_DECODE_ERR, "decode.ipv4.bad_version", 0),
        DCASE("bad ihl", badihl, 1, MC_DECODE_ERR, "decode.ipv4.bad_ihl", 0),
        DCASE("too short", short19, 1, MC_DECODE_ERR, "decode.ipv4.too_short", 0),
        DCASE("total < header", badtot, 1, MC_LAYER_TCP, "decode.ipv4.bad_total_length", 20),
        DCASE("total > capture", cut_total, 1, MC_LAYER_UDP, "decode.ipv4.truncated", 20),
        DCASE("tso total 0", tso, 1, MC_LAYER_UDP, "decode.ipv4.zero_total_length", 20),
        DCASE("first fragment", first_frag, 1, MC_LAYER_UDP, "decode.ipv4.fragments", 20),
        DCASE("later fragment", later_frag, 1, MC_LAYER_DONE, "decode.ipv4.fragments", 20),
        DCASE("options cut", opts_cut, 1, MC_DECODE_ERR, "decode.ipv4.truncated", 0),
    };
    dtest_cases(mc_decode_ipv4, cases, DTEST_N(cases));
}

static void test_fields(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    struct mc_cur c;
    memset(&pkt, 0, sizeof(pkt));
    c = mc_cur_make(tcp28, sizeof(tcp28));
    assert_int_equal(mc_decode_ipv4(&pkt, &c), MC_LAYER_TCP);
    assert_int_equal(mc_cur_left(&c), 8); /* trailer cut by total length */
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.ip_len, 28);
    assert_int_equal(pkt.tos, 0x10);
    assert_int_equal(pkt.ttl, 64);
    assert_int_equal(pkt.proto, 6);
    assert_int_equal(pkt.src.b[3], 1);
    assert_int_equal(pkt.dst.b[3], 2);
    assert_int_equal(pkt.frag, 0);

    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, badtot, sizeof(badtot), NULL), MC_LAYER_TCP);
    assert_int_equal(pkt.ip_len, sizeof(badtot)); /* captured length */
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, cut_total, sizeof(cut_total), NULL), MC_LAYER_UDP);
    assert_int_equal(pkt.ip_len, 1500); /* declared length */
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, tso, sizeof(tso), NULL), MC_LAYER_UDP);
    assert_int_equal(pkt.ip_len, sizeof(tso));

    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, later_frag, sizeof(later_frag), NULL), MC_LAYER_DONE);
    assert_int_equal(pkt.frag, 1);
    assert_int_equal(pkt.frag_first, 0);
    assert_int_equal(pkt.frag_ver, 4);
    assert_int_equal(pkt.frag_proto, 17);
    assert_int_equal(pkt.frag_id, 0x4242);
    assert_int_equal(pkt.has_l4, 0);
    /* an outermost broken header is still metered, on what was read */
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, badver, sizeof(badver), NULL), MC_DECODE_ERR);
    assert_int_equal(pkt.ip_ver, 4);
    assert_int_equal(pkt.has_l4, 0);
    /* a broken inner header changes nothing: the packet stays in its outer flow */
    memset(&pkt, 0, sizeof(pkt));
    pkt.ip_ver = 6;
    pkt.src.b[0] = 0x20;
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, badver, sizeof(badver), NULL), MC_DECODE_ERR);
    assert_int_equal(pkt.ip_ver, 6);
    assert_int_equal(pkt.src.b[0], 0x20);
    assert_int_equal(pkt.tunnel_depth, 0);
}

static void test_nested_commit(void **state)
{
    (void)state;
    struct mc_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, ospf, sizeof(ospf), NULL), MC_LAYER_DONE);
    pkt.sport = 99;
    pkt.has_l4 = 1;
    assert_int_equal(dtest_run(mc_decode_ipv4, &pkt, tcp28, sizeof(tcp28), NULL), MC_LAYER_TCP);
    assert_int_equal(pkt.tunnel, MC_TUNNEL_IPIP);
    assert_int_equal(pkt.tunnel_depth, 1);
    assert_int_equal(pkt.outer_ver, 4);
    assert_int_equal(pkt.sport, 0);
    assert_int_equal(pkt.has_l4, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_cases), cmocka_unit_test(test_fields),
                                        cmocka_unit_test(test_nested_commit) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
