/*
 * test_gtpv2c.c - the GTPv2-C parser (TS 29.274): header (T flag, 24-bit
 * sequence, a piggybacked message after the first), the IEs it reads (IMSI,
 * Cause, APN, EBI, MEI, MSISDN, PAA v4/v6/v4v6, RAT, Serving Network, ULI
 * with CGI/SAI/RAI/TAI/ECGI, F-TEID user vs control), Bearer Contexts
 * giving their EBI to their F-TEIDs, the grouped depth bound, lengths that
 * lie and bounded arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "l7/gtpc.h"
#include "gtp_build.h"

static void test_create_session(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    gb_v2(&m, 1, 32, 0, 0x123456);
    gb_ie(&m, 1, GB_IMSI, 8);
    uint8_t msisdn[] = { 0x44, 0x77, 0x00, 0x90, 0x01, 0xf2 };
    gb_ie(&m, 76, msisdn, sizeof(msisdn));
    uint8_t mei[] = { 0x53, 0x61, 0x20, 0x00, 0x91, 0x78, 0x84, 0x56 };
    gb_ie(&m, 75, mei, sizeof(mei));
    uint8_t uli[] = { 0x18, 0x00, 0xf1, 0x10, 0x12, 0x34, 0x00, 0xf1, 0x10, 0xf1, 0x23, 0x45, 0x67 };
    gb_ie(&m, 86, uli, sizeof(uli));
    uint8_t sn[] = { 0x13, 0x00, 0x62 };
    gb_ie(&m, 83, sn, 3);
    uint8_t rat = 6;
    gb_ie(&m, 82, &rat, 1);
    gb_fteid(&m, 10, 0xaaaa, 192, 0, 2, 10); /* S11 MME GTP-C */
    uint8_t apn[] = { 3, 'i', 'm', 's' };
    gb_ie(&m, 71, apn, sizeof(apn));
    uint8_t paa[] = { 1, 0, 0, 0, 0 };
    gb_ie(&m, 79, paa, sizeof(paa));
    size_t bc = gb_group(&m, 93);
    gb_fteid(&m, 4, 0xbbbb, 192, 0, 2, 20); /* S5/S8-U SGW: before the EBI, still its bearer's */
    uint8_t ebi = 5;
    gb_ie(&m, 73, &ebi, 1);
    gb_group_end(&m, bc);
    gb_v2_done(&m);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(mc_gtpc_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.version, 2);
    assert_int_equal(g.type, 32);
    assert_int_equal(g.request, 1);
    assert_int_equal(g.has_teid, 1);
    assert_int_equal(g.teid, 0);
    assert_int_equal(g.seq, 0x123456);
    assert_string_equal(g.imsi, "001010123456789");
    assert_string_equal(g.msisdn, "44770009102");
    assert_string_equal(g.imei, "3516020019874865");
    assert_string_equal(g.apn, "ims");
    assert_int_equal(g.rat, 6);
    assert_string_equal(g.mcc, "310"); /* the serving network wins over the ULI's PLMN */
    assert_string_equal(g.mnc, "260");
    assert_int_equal(g.has_tai, 1);
    assert_int_equal(g.tac, 0x1234);
    assert_int_equal(g.has_ecgi, 1);
    assert_int_equal(g.eci, 0x1234567);
    assert_int_equal(g.has_ue_v4, 1); /* 0.0.0.0: the request asks for one */
    assert_int_equal(g.ue_v4[0], 0);
    assert_int_equal(g.n_fteids, 2);
    assert_int_equal(g.fteid[0].iface, 10);
    assert_int_equal(g.fteid[0].user, 0);
    assert_int_equal(g.fteid[0].ebi, 0);
    assert_int_equal(g.fteid[0].teid, 0xaaaa);
    assert_int_equal(g.fteid[1].iface, 4);
    assert_int_equal(g.fteid[1].user, 1);
    assert_int_equal(g.fteid[1].ebi, 5);
    assert_int_equal(g.fteid[1].v4[3], 20);
    assert_int_equal(g.n_ebis, 1);
    assert_int_equal(g.n_ies, 12);
}

static void test_response_paa_piggyback(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    gb_v2(&m, 1, 33, 0xaaaa, 7);
    m.b[0] |= 0x10; /* P: a piggybacked message follows */
    uint8_t cause[] = { 16, 0 };
    gb_ie(&m, 2, cause, 2);
    uint8_t paa[22] = { 3, 64, 0x20, 0x01, 0x0d, 0xb8 };
    paa[18] = 10, paa[19] = 9, paa[20] = 8, paa[21] = 7;
    gb_ie(&m, 79, paa, sizeof(paa));
    size_t bc = gb_group(&m, 93);
    uint8_t ebi = 6, bcause[] = { 64, 0 };
    gb_ie(&m, 73, &ebi, 1);
    gb_ie(&m, 2, bcause, 2); /* a bearer's cause is not the message's */
    gb_group_end(&m, bc);
    gb_v2_done(&m);
    size_t first = m.n;
    gb8(&m, 0x48); /* the piggybacked Create Bearer Request */
    gb8(&m, 95);
    gb16(&m, 8);
    gb32(&m, 1);
    gb24(&m, 8);
    gb8(&m, 0);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.type, 33);
    assert_int_equal(g.request, 0);
    assert_int_equal(g.cause, 16);
    assert_int_equal(g.has_ue_v4, 1);
    assert_memory_equal(g.ue_v4, ((uint8_t[]){ 10, 9, 8, 7 }), 4);
    assert_int_equal(g.has_ue_v6, 1);
    assert_int_equal(g.ue_v6_prefix_len, 64);
    assert_int_equal(g.ue_v6[1], 0x01);
    assert_int_equal(g.n_ebis, 1);
    assert_int_equal(g.ebi[0], 6);
    assert_int_equal(mc_gtpv2c_parse(m.b + first, m.n - first, &g), MC_GTPC_OK);
    assert_int_equal(g.type, 95);
    /* no T flag: the sequence follows the length */
    gb_v2(&m, 0, 1, 0, 99);
    gb_v2_done(&m);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.has_teid, 0);
    assert_int_equal(g.seq, 99);
}

static void test_depth_bound(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    size_t at[8];
    for (int depth = 1; depth <= 6; depth++) {
        gb_v2(&m, 1, 32, 0, 1);
        for (int i = 0; i < depth; i++)
            at[i] = gb_group(&m, 93);
        uint8_t ebi = 5;
        gb_ie(&m, 73, &ebi, 1);
        for (int i = depth - 1; i >= 0; i--)
            gb_group_end(&m, at[i]);
        gb_v2_done(&m);
        /* top level is depth 1: MC_GTPC_MAX_DEPTH - 1 groups fit */
        assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), depth < MC_GTPC_MAX_DEPTH ? MC_GTPC_OK : MC_GTPC_TOO_DEEP);
    }
}

static void test_lengths_lie(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    /* an IE running past its message */
    gb_v2(&m, 1, 32, 0, 1);
    gb_ie(&m, 1, GB_IMSI, 8);
    gb_v2_done(&m);
    m.b[14] = 20;
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* an IE running past its group, not past the message */
    gb_v2(&m, 1, 32, 0, 1);
    size_t bc = gb_group(&m, 93);
    uint8_t ebi = 5;
    gb_ie(&m, 73, &ebi, 1);
    gb_group_end(&m, bc);
    gb_ie(&m, 1, GB_IMSI, 8);
    gb_v2_done(&m);
    m.b[bc + 4 + 2] = 5; /* the EBI's length */
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* an IE header cut */
    gb_v2(&m, 1, 32, 0, 1);
    gb8(&m, 1);
    gb8(&m, 0);
    gb_v2_done(&m);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* the header's length past the datagram, or shorter than its own fields */
    gb_v2(&m, 1, 32, 0, 1);
    gb_v2_done(&m);
    m.b[3] = 30;
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
    m.b[3] = 4;
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
    assert_int_equal(mc_gtpv2c_parse(m.b, 7, &g), MC_GTPC_TOO_SHORT);
    m.b[0] = 0x68;
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_BAD_VERSION);
    /* values shorter than their IE needs are skipped, not errors */
    gb_v2(&m, 1, 32, 0, 1);
    uint8_t short_fteid[] = { 0xc0 | 1, 0, 0, 0, 1, 10, 0, 0 }; /* V4 and V6 announced, 3 address bytes */
    gb_ie(&m, 87, short_fteid, sizeof(short_fteid));
    uint8_t short_paa[] = { 2, 64, 0x20 };
    gb_ie(&m, 79, short_paa, sizeof(short_paa));
    uint8_t short_uli[] = { 0x10, 0x00 }, rat_none = 0;
    gb_ie(&m, 86, short_uli, sizeof(short_uli));
    gb_ie(&m, 82, &rat_none, 0);
    gb_v2_done(&m);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.n_fteids, 0);
    assert_int_equal(g.has_ue_v6, 0);
    assert_int_equal(g.has_ecgi, 0);
    assert_int_equal(g.has_rat, 0);
}

static void test_arrays_bounded(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    gb_v2(&m, 1, 95, 1, 1);
    for (int i = 0; i < 20; i++) {
        size_t bc = gb_group(&m, 93);
        uint8_t ebi = (uint8_t)(5 + i % 11);
        gb_ie(&m, 73, &ebi, 1);
        gb_fteid(&m, 1, (uint32_t)i, 10, 0, 0, 1);
        gb_group_end(&m, bc);
    }
    gb_v2_done(&m);
    assert_int_equal(mc_gtpv2c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.n_fteids, MC_GTPC_FTEIDS);
    assert_int_equal(g.n_ebis, MC_GTPC_EBIS);
    assert_int_equal(g.truncated, (20 - MC_GTPC_FTEIDS) + (20 - MC_GTPC_EBIS));
    assert_int_equal(g.fteid[15].ebi, 5 + 15 % 11);
}

static void test_types_ifaces(void **state)
{
    (void)state;
    assert_string_equal(mc_gtpc_type_name(2, 32), "Create Session Request");
    assert_string_equal(mc_gtpc_type_name(2, 100), "Delete Bearer Response");
    assert_int_equal(mc_gtpc_is_request(2, 34), 1);
    assert_int_equal(mc_gtpc_is_request(2, 35), 0);
    assert_int_equal(mc_gtpc_expects_response(2, 36), 1);
    assert_int_equal(mc_gtpc_expects_response(2, 66), 0); /* a command: answered by a request */
    for (int i = 0; i < 64; i++) {
        int user = i <= 5 || i == 15 || i == 16 || (i >= 19 && i <= 23) || i == 28 || i == 29 || i == 31 ||
                   i == 33 || i == 34 || i == 37 || i == 38 || i == 39 || i == 41;
        assert_int_equal(mc_gtpc_iface_user((uint8_t)i), user);
    }
    assert_int_equal(mc_gtpc_iface_user(200), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_session), cmocka_unit_test(test_response_paa_piggyback),
        cmocka_unit_test(test_depth_bound),    cmocka_unit_test(test_lengths_lie),
        cmocka_unit_test(test_arrays_bounded), cmocka_unit_test(test_types_ifaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
