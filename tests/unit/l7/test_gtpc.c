/*
 * test_gtpc.c - the GTP-C analyzer through the real L7 stage and flow
 * table: a request and its response make one transaction with the
 * subscriber's keys and the flow record's first-transaction elements; a
 * retransmitted request and its repeated response are counted, not logged
 * twice; unanswered requests and lone responses are transactions too;
 * messages no peer answers are logged at once; the parse errors are
 * counted; detect().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "flow/flow.h"
#include "l7/gtpc.h"
#include "l7/l7.h"
#include "gtp_build.h"
#include "record_harness.h"
#include "stage_harness.h"
#include "log_harness.h"

#define CTR(id) MC_CTR_GET(l7_gtp, id)

static const struct mc_l7_analyzer *const only_gtp[] = { &mc_l7_gtp };
static char log_path[128];

static struct mc_flow_table *setup(void)
{
    mc_ctr_reset();
    memset(mc_l7_gtp_ctr, 0, sizeof(mc_l7_gtp_ctr));
    return h_stage_new(only_gtp, "gtpc", 0, 0, 64, log_path, sizeof(log_path));
}

/* dir 0: 10.0.0.1:2123 (MME) -> 10.0.0.2:2123 (SGW) */
static void udp(struct mc_flow_table *t, int dir, const struct gb *m, uint64_t ts)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = dir ? 2 : 1;
    p.dst.b[0] = 10, p.dst.b[3] = dir ? 1 : 2;
    p.sport = dir ? 2123 : 40000;
    p.dport = dir ? 40000 : 2123;
    p.proto = 17;
    p.has_l4 = 1;
    p.ts_ms = ts;
    p.payload = m->b;
    p.payload_len = m->n;
    p.ip_len = 28 + (uint32_t)m->n;
    mc_flow_process(t, &p);
}

static void csr(struct gb *m, uint32_t seq)
{
    gb_v2(m, 1, 32, 0, seq);
    gb_ie(m, 1, GB_IMSI, 8);
    uint8_t msisdn[] = { 0x44, 0x77, 0x00, 0x90, 0x01, 0xf2 };
    gb_ie(m, 76, msisdn, sizeof(msisdn));
    uint8_t apn[] = { 8, 'i', 'n', 't', 'e', 'r', 'n', 'e', 't' };
    gb_ie(m, 71, apn, sizeof(apn));
    uint8_t rat = 6;
    gb_ie(m, 82, &rat, 1);
    gb_fteid(m, 10, 0xa1, 10, 0, 0, 1);
    uint8_t paa[] = { 1, 0, 0, 0, 0 };
    gb_ie(m, 79, paa, sizeof(paa));
    gb_v2_done(m);
}

static void csresp(struct gb *m, uint32_t teid, uint32_t seq)
{
    gb_v2(m, 1, 33, teid, seq);
    uint8_t cause[] = { 16, 0 };
    gb_ie(m, 2, cause, 2);
    gb_fteid(m, 11, 0xb1, 10, 0, 0, 2);
    uint8_t paa[] = { 1, 100, 64, 0, 7 };
    gb_ie(m, 79, paa, sizeof(paa));
    size_t bc = gb_group(m, 93);
    uint8_t ebi = 5;
    gb_ie(m, 73, &ebi, 1);
    gb_fteid(m, 1, 0xb2, 10, 0, 0, 3);
    gb_group_end(m, bc);
    gb_v2_done(m);
}

static void test_pair(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct gb q, r;
    csr(&q, 77);
    csresp(&r, 0xa1, 77);
    udp(t, 0, &q, 1000000);
    udp(t, 1, &r, 1000015);
    assert_int_equal(h_stage_finish(&h_l7, t, log_path), 1);
    char l[4096];
    h_log_line(0, l, sizeof(l));
    assert_non_null(strstr(l, "\"protocol\":\"gtp\""));
    assert_non_null(strstr(l, "\"transactionStartMilliseconds\":1000000"));
    assert_non_null(strstr(l, "\"gtpVersion\":2,\"gtpMessageType\":32,\"gtpMessageName\":\"Create Session Request\","
                              "\"gtpResponseType\":33,\"gtpSequence\":77,\"gtpTeid\":0,\"gtpCause\":16,"
                              "\"mobileIMSI\":\"001010123456789\",\"mobileMSISDN\":\"44770009102\","
                              "\"gtpApn\":\"internet\",\"gtpRatType\":6,\"gtpUeIPv4\":\"100.64.0.7\","
                              "\"gtpFteids\":[{\"message\":\"request\",\"interface\":10,\"user\":0,\"ebi\":0,"
                              "\"teid\":161,\"ipv4\":\"10.0.0.1\"},{\"message\":\"response\",\"interface\":11,"
                              "\"user\":0,\"ebi\":0,\"teid\":177,\"ipv4\":\"10.0.0.2\"},{\"message\":\"response\","
                              "\"interface\":1,\"user\":1,\"ebi\":5,\"teid\":178,\"ipv4\":\"10.0.0.3\"}]}"));
    assert_int_equal(h_exported, 1);
    assert_int_equal(h_rec_n("gtpMessages"), 1);
    assert_int_equal(h_rec_n("reverseGtpMessages"), 1);
    assert_int_equal(h_rec_n("gtpVersion"), 2);
    assert_int_equal(h_rec_n("gtpMessageType"), 32);
    assert_string_equal(h_rec_s("gtpMessageName"), "Create Session Request");
    assert_int_equal(h_rec_n("gtpResponseType"), 33);
    assert_int_equal(h_rec_n("gtpCause"), 16);
    assert_int_equal(h_rec_n("gtpSequence"), 77);
    assert_string_equal(h_rec_s("mobileIMSI"), "001010123456789");
    assert_string_equal(h_rec_s("mobileMSISDN"), "44770009102");
    assert_string_equal(h_rec_s("gtpApn"), "internet");
    assert_int_equal(h_rec_n("gtpRatType"), 6);
    assert_non_null(strstr(h_rec_s("gtpFteids"), "\"teid\":178"));
    assert_int_equal(CTR(requests), 1);
    assert_int_equal(CTR(responses), 1);
    assert_int_equal(CTR(v2), 1 + 1);
    assert_int_equal(CTR(unanswered), 0);
}

static void test_retransmission_unanswered(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct gb q1, q2, r1, r9, note;
    csr(&q1, 1);
    csr(&q2, 2);
    csresp(&r1, 0xa1, 1);
    csresp(&r9, 0xa1, 9);
    udp(t, 0, &q1, 1000);
    udp(t, 0, &q1, 4000); /* T3 expired: the same request again */
    udp(t, 0, &q2, 4500);
    udp(t, 1, &r1, 5000);
    udp(t, 1, &r1, 5001); /* the answer to the retransmission */
    udp(t, 1, &r9, 5002); /* its request was never seen */
    /* a response whose TEID is not the control TEID its request's sender announced */
    csresp(&r1, 0xdead, 2);
    udp(t, 1, &r1, 5003);
    gb_v1(&note, 0x32, 26, 5, 3); /* Error Indication: no answer comes */
    gb_v1_done(&note);
    udp(t, 0, &note, 6000);
    assert_int_equal(h_stage_finish(&h_l7, t, log_path), 5);
    char l[4096];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"gtpSequence\":1,"));
    assert_non_null(strstr(l, "\"transactionStartMilliseconds\":1000"));
    assert_non_null(strstr(l, "\"gtpResponseType\":33"));
    assert_non_null(strstr(h_log_line(1, l, sizeof(l)), "\"gtpMessageType\":33"));
    assert_non_null(strstr(l, "\"gtpSequence\":9,"));
    assert_non_null(strstr(h_log_line(2, l, sizeof(l)), "\"gtpMessageType\":33")); /* the mismatched one, alone */
    assert_non_null(strstr(h_log_line(3, l, sizeof(l)), "\"gtpVersion\":1,\"gtpMessageType\":26,"
                                                  "\"gtpMessageName\":\"Error Indication\""));
    assert_null(strstr(l, "gtpResponseType"));
    /* unanswered: at the flow's end */
    assert_non_null(strstr(h_log_line(4, l, sizeof(l)), "\"gtpSequence\":2,"));
    assert_null(strstr(l, "gtpResponseType"));
    assert_int_equal(CTR(retransmissions), 2);
    assert_int_equal(CTR(unanswered), 1);
    assert_int_equal(CTR(response_without_request), 2);
    assert_int_equal(CTR(teid_mismatch), 1);
    assert_int_equal(h_rec_n("gtpRetransmissions"), 2);
    assert_int_equal(h_rec_n("gtpMessages"), 4);
    assert_int_equal(h_rec_n("reverseGtpMessages"), 4);
}

static void test_timeout_pending_full_errors(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct gb q;
    for (uint32_t i = 0; i < 17; i++) {
        csr(&q, 100 + i);
        udp(t, 0, &q, 1000 + i);
    }
    assert_int_equal(CTR(pending_full), 1);
    csr(&q, 500);
    udp(t, 0, &q, 60000); /* every earlier request waited too long */
    assert_int_equal(CTR(unanswered), 17);
    struct gb bad;
    gb_v2(&bad, 1, 32, 0, 1);
    gb_ie(&bad, 1, GB_IMSI, 8);
    gb_v2_done(&bad);
    bad.b[14] = 50;
    udp(t, 0, &bad, 60001);
    bad.b[0] = 0x70;
    udp(t, 0, &bad, 60002);
    bad.b[0] = 0x48;
    bad.n = 3;
    udp(t, 0, &bad, 60003);
    assert_int_equal(h_stage_finish(&h_l7, t, log_path), 18);
    assert_int_equal(CTR(bad_ie), 1);
    assert_int_equal(CTR(bad_version), 1);
    assert_int_equal(CTR(too_short), 1);
    assert_int_equal(CTR(unanswered), 18);
}

static void test_detect(void **state)
{
    (void)state;
    struct gb m;
    csr(&m, 1);
    assert_int_equal(mc_gtpc_detect(m.b, m.n, 0), 1);
    assert_int_equal(mc_gtpc_detect(m.b, m.n - 1, 0), 0);
    m.b[1] = 250; /* unknown type */
    assert_int_equal(mc_gtpc_detect(m.b, m.n, 0), 0);
    gb_v1(&m, 0x32, 16, 0, 1);
    gb_v1_done(&m);
    assert_int_equal(mc_gtpc_detect(m.b, m.n, 0), 1);
    m.b[0] = 0x22; /* GTP' */
    assert_int_equal(mc_gtpc_detect(m.b, m.n, 0), 0);
    m.b[0] = 0x32;
    m.b[1] = 255; /* G-PDU: user plane */
    assert_int_equal(mc_gtpc_detect(m.b, m.n, 0), 0);
    assert_int_equal(mc_gtpc_detect(m.b, 4, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_retransmission_unanswered),
        cmocka_unit_test(test_timeout_pending_full_errors),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
