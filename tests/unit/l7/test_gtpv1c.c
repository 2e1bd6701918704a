/*
 * test_gtpv1c.c - the GTPv1-C parser (TS 29.060): header flags and the
 * extension header chain, every TV and TLV IE it reads (IMSI, RAI, NSAPI,
 * TEID Data I / Control / Data II paired with the GSN addresses, End User
 * Address v4 / v6 / v4v6, APN, MSISDN, RAT, ULI, IMEI(SV)), hostile
 * inputs (an unknown TV type, lengths that lie, truncation), and the
 * shared helpers (TBCD, APN, PLMN).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "l7/gtpc.h"
#include "gtp_build.h"

static const uint8_t APN[] = { 8, 'i', 'n', 't', 'e', 'r', 'n', 'e', 't', 3, 'm', 'n', 'c' };

/* A Create PDP Context Request with every IE the parser reads */
static void create_pdp(struct gb *m)
{
    gb_v1(m, 0x32, 16, 0, 0x1234);
    gb8(m, 2);
    gbb(m, GB_IMSI, 8);
    uint8_t rai[7] = { 3, 0x00, 0xf1, 0x10, 0x12, 0x34, 0x56 }; /* MCC 001 MNC 01, LAC 0x1234, RAC 0x56 */
    gbb(m, rai, 7);
    gb8(m, 16);
    gb32(m, 0x11111111);
    gb8(m, 17);
    gb32(m, 0x22222222);
    gb8(m, 18);
    gb8(m, 6);
    gb32(m, 0x33333333);
    gb8(m, 20);
    gb8(m, 5);
    uint8_t eua[] = { 0xf1, 0x21 }; /* IPv4, dynamic */
    gb_v1_tlv(m, 128, eua, sizeof(eua));
    gb_v1_tlv(m, 131, APN, sizeof(APN));
    uint8_t gsn1[] = { 192, 0, 2, 1 }, gsn2[] = { 192, 0, 2, 2 };
    gb_v1_tlv(m, 133, gsn1, 4);
    gb_v1_tlv(m, 133, gsn2, 4);
    uint8_t msisdn[] = { 0x91, 0x44, 0x77, 0x00, 0x90, 0x01, 0xf2 };
    gb_v1_tlv(m, 134, msisdn, sizeof(msisdn));
    uint8_t rat = 1;
    gb_v1_tlv(m, 151, &rat, 1);
    uint8_t uli[] = { 0, 0x00, 0xf1, 0x10, 0xab, 0xcd, 0x01, 0x02 }; /* CGI */
    gb_v1_tlv(m, 152, uli, sizeof(uli));
    uint8_t imei[] = { 0x53, 0x61, 0x20, 0x00, 0x91, 0x78, 0x84, 0x56 };
    gb_v1_tlv(m, 154, imei, sizeof(imei));
    gb_v1_done(m);
}

static void test_create_pdp(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    create_pdp(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(mc_gtpc_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.version, 1);
    assert_int_equal(g.type, 16);
    assert_int_equal(g.request, 1);
    assert_int_equal(g.has_seq, 1);
    assert_int_equal(g.seq, 0x1234);
    assert_string_equal(g.imsi, "001010123456789");
    assert_string_equal(g.msisdn, "44770009102");
    assert_string_equal(g.imei, "3516020019874865");
    assert_string_equal(g.apn, "internet.mnc");
    assert_int_equal(g.has_rat, 1);
    assert_int_equal(g.rat, 1);
    assert_string_equal(g.mcc, "001");
    assert_string_equal(g.mnc, "01");
    assert_int_equal(g.has_rai, 1);
    assert_int_equal(g.has_cgi, 1);
    assert_int_equal(g.ci, 0x0102);
    assert_int_equal(g.n_ebis, 1);
    assert_int_equal(g.ebi[0], 5);
    assert_int_equal(g.has_ue_v4, 0); /* dynamic: no address yet */
    assert_int_equal(g.n_fteids, 3);
    /* data I: the user-plane (second) GSN address, the NSAPI */
    assert_int_equal(g.fteid[0].iface, MC_GTPC_IF_V1_DATA);
    assert_int_equal(g.fteid[0].user, 1);
    assert_int_equal(g.fteid[0].ebi, 5);
    assert_int_equal(g.fteid[0].teid, 0x11111111);
    assert_int_equal(g.fteid[0].v4[3], 2);
    /* control: the first GSN address */
    assert_int_equal(g.fteid[1].iface, MC_GTPC_IF_V1_CONTROL);
    assert_int_equal(g.fteid[1].user, 0);
    assert_int_equal(g.fteid[1].teid, 0x22222222);
    assert_int_equal(g.fteid[1].v4[3], 1);
    /* data II: its own NSAPI */
    assert_int_equal(g.fteid[2].iface, MC_GTPC_IF_V1_DATA2);
    assert_int_equal(g.fteid[2].ebi, 6);
    assert_int_equal(g.fteid[2].teid, 0x33333333);
    assert_int_equal(g.truncated, 0);
    assert_int_equal(g.n_ies, 14);
}

static void test_response_eua_one_gsn(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    gb_v1(&m, 0x32, 17, 0x22222222, 0x1234);
    gb8(&m, 1);
    gb8(&m, 128); /* Request accepted */
    gb8(&m, 16);
    gb32(&m, 0x44);
    gb8(&m, 17);
    gb32(&m, 0x55);
    uint8_t eua[] = { 0xf1, 0x8d, 10, 1, 2, 3, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    gb_v1_tlv(&m, 128, eua, sizeof(eua));
    uint8_t gsn[] = { 198, 51, 100, 7 };
    gb_v1_tlv(&m, 133, gsn, 4);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.request, 0);
    assert_int_equal(g.teid, 0x22222222);
    assert_int_equal(g.has_cause, 1);
    assert_int_equal(g.cause, 128);
    assert_int_equal(g.has_ue_v4, 1);
    assert_memory_equal(g.ue_v4, ((uint8_t[]){ 10, 1, 2, 3 }), 4);
    assert_int_equal(g.has_ue_v6, 1);
    assert_int_equal(g.ue_v6[0], 0x20);
    assert_int_equal(g.ue_v6[15], 1);
    /* one GSN address serves both planes */
    assert_int_equal(g.n_fteids, 2);
    assert_int_equal(g.fteid[0].v4[3], 7);
    assert_int_equal(g.fteid[1].v4[3], 7);
    /* IPv6 only */
    gb_v1(&m, 0x32, 17, 1, 1);
    uint8_t eua6[18] = { 0xf1, 0x57, 0xfe, 0x80 };
    gb_v1_tlv(&m, 128, eua6, sizeof(eua6));
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.has_ue_v4, 0);
    assert_int_equal(g.has_ue_v6, 1);
    assert_int_equal(g.ue_v6[0], 0xfe);
}

static void test_header(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    /* no S flag: no sequence number, IEs right after 8 octets */
    gb_v1(&m, 0x30, 1, 0, 0);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.has_seq, 0);
    assert_int_equal(g.type, 1);
    /* E flag: an extension header of one unit, then the IEs */
    gb_v1(&m, 0x36, 2, 0, 9);
    m.b[11] = 0xc0; /* next: PDCP PDU number */
    gb8(&m, 1);
    gb16(&m, 0xabcd);
    gb8(&m, 0);
    gb8(&m, 14); /* Recovery */
    gb8(&m, 3);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.seq, 9);
    assert_int_equal(g.n_ies, 1);
    /* an extension header of length 0 */
    m.b[12] = 0;
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
    /* one running past the message */
    m.b[12] = 9;
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
    /* too short, GTP' (PT 0), version 2 */
    assert_int_equal(mc_gtpv1c_parse(m.b, 7, &g), MC_GTPC_TOO_SHORT);
    assert_int_equal(mc_gtpc_parse(m.b, 0, &g), MC_GTPC_TOO_SHORT);
    uint8_t prime[8] = { 0x20, 1, 0, 0 };
    assert_int_equal(mc_gtpv1c_parse(prime, 8, &g), MC_GTPC_BAD_VERSION);
    uint8_t v3[8] = { 0x70, 1, 0, 0 };
    assert_int_equal(mc_gtpc_parse(v3, 8, &g), MC_GTPC_BAD_VERSION);
    /* the header's length runs past the datagram */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb_v1_done(&m);
    m.b[3] = 40;
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
    /* a length shorter than the optional fields */
    m.b[3] = 2;
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_LENGTH);
}

static void test_bad_ies(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    /* a TV type whose length the parser does not know cannot be skipped */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb8(&m, 100);
    gb8(&m, 0);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* a TV IE cut by the message's end */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb8(&m, 2);
    gbb(&m, GB_IMSI, 5);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* a TLV length that lies */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb8(&m, 131);
    gb16(&m, 50);
    gbb(&m, APN, sizeof(APN));
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* a TLV with its length cut */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb8(&m, 131);
    gb8(&m, 0);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_BAD_IE);
    /* the header's length hides trailing bytes: they are not read */
    gb_v1(&m, 0x32, 16, 0, 1);
    gb_v1_done(&m);
    gb8(&m, 100);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
}

static void test_arrays_bounded(void **state)
{
    (void)state;
    struct gb m;
    struct mc_gtpc_msg g;
    gb_v1(&m, 0x32, 16, 0, 1);
    for (int i = 0; i < 12; i++) {
        gb8(&m, 17);
        gb32(&m, (uint32_t)i);
    }
    for (int i = 0; i < 14; i++) {
        gb8(&m, 20);
        gb8(&m, 5 + (unsigned)i % 11);
    }
    uint8_t gsn[] = { 1, 2, 3, 4 };
    for (int i = 0; i < 3; i++)
        gb_v1_tlv(&m, 133, gsn, 4);
    uint8_t long_imei[12] = { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11 };
    gb_v1_tlv(&m, 154, long_imei, sizeof(long_imei));
    gb_v1_done(&m);
    assert_int_equal(mc_gtpv1c_parse(m.b, m.n, &g), MC_GTPC_OK);
    assert_int_equal(g.n_fteids, 8);
    assert_int_equal(g.n_ebis, MC_GTPC_EBIS);
    assert_int_equal(strlen(g.imei), MC_GTPC_DIGITS_MAX);
    /* 4 TEIDs, 3 NSAPIs, a GSN address, the IMEI's digits */
    assert_int_equal(g.truncated, 4 + 3 + 1 + 1);
}

static void test_helpers(void **state)
{
    (void)state;
    char t[8];
    int cut = 0;
    uint8_t d[] = { 0x21, 0x43, 0xba, 0xf5 };
    assert_int_equal(mc_gtpc_tbcd(d, 4, t, sizeof(t), &cut), 7);
    assert_string_equal(t, "1234*#5");
    assert_int_equal(cut, 0);
    uint8_t d2[] = { 0x21, 0x43, 0x65, 0x87, 0x09 };
    assert_int_equal(mc_gtpc_tbcd(d2, 5, t, sizeof(t), &cut), 7);
    assert_int_equal(cut, 1);
    char a[8];
    cut = 0;
    uint8_t apn[] = { 3, 'a', 0x01, 'c', 2, 'd', 'e', 9, 'x' };
    assert_int_equal(mc_gtpc_apn(apn, sizeof(apn), a, sizeof(a), &cut), 6);
    assert_string_equal(a, "a?c.de");
    assert_int_equal(cut, 1);
    cut = 0;
    uint8_t apn2[] = { 5, 'a', 'b', 'c', 'd', 'e', 3, 'f', 'g', 'h' };
    mc_gtpc_apn(apn2, sizeof(apn2), a, sizeof(a), &cut);
    assert_string_equal(a, "abcde.f");
    assert_int_equal(cut, 1);
    char mcc[4], mnc[4];
    uint8_t plmn3[] = { 0x13, 0x00, 0x62 }; /* MCC 310 MNC 260 */
    mc_gtpc_plmn(plmn3, mcc, mnc);
    assert_string_equal(mcc, "310");
    assert_string_equal(mnc, "260");
    uint8_t plmn2[] = { 0x62, 0xf2, 0x10 }; /* MCC 262 MNC 01 */
    mc_gtpc_plmn(plmn2, mcc, mnc);
    assert_string_equal(mcc, "262");
    assert_string_equal(mnc, "01");
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(mc_gtpc_type_name(1, 16), "Create PDP Context Request");
    assert_string_equal(mc_gtpc_type_name(1, 21), "Delete PDP Context Response");
    assert_null(mc_gtpc_type_name(1, 200));
    assert_null(mc_gtpc_type_name(3, 1));
    assert_int_equal(mc_gtpc_is_request(1, 18), 1);
    assert_int_equal(mc_gtpc_is_request(1, 19), 0);
    assert_int_equal(mc_gtpc_is_request(1, 26), 1); /* Error Indication: no answer */
    assert_int_equal(mc_gtpc_expects_response(1, 26), 0);
    assert_int_equal(mc_gtpc_expects_response(1, 1), 1);
    assert_int_equal(mc_gtpc_is_request(1, 200), 1);
    assert_int_equal(mc_gtpc_expects_response(1, 200), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_pdp),   cmocka_unit_test(test_response_eua_one_gsn),
        cmocka_unit_test(test_header),       cmocka_unit_test(test_bad_ies),
        cmocka_unit_test(test_arrays_bounded), cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
