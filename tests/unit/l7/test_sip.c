/*
 * test_sip.c - the SIP analyzer through the real L7 stage and flow table:
 * one transaction per message over UDP and TCP, the flow record, compact
 * header forms, header folding, SDP (also in multipart bodies, and with
 * hundreds of media lines), TCP framing (several messages per segment, a
 * message byte by byte, keep-alives, gaps), and hostile inputs (huge and
 * lying Content-Length, truncated messages, over-long values, non-SIP),
 * each counted; then the pure header helpers and detect().
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
#include "l7/l7.h"
#include "l7/sdp.h"
#include "l7/sip.h"
#include "unit/l7/record_harness.h"
#include "unit/l7/conn_harness.h"

/* ---- harness (conn_harness.h) ------------------------------------------- */

static const struct mc_l7_analyzer *const only[] = { &mc_l7_sip };

static struct mc_flow_table *setup_text(uint32_t max_text)
{
    memset(mc_l7_sip_ctr, 0, sizeof(mc_l7_sip_ctr));
    memset(mc_l7_sdp_ctr, 0, sizeof(mc_l7_sdp_ctr));
    mc_ctr_reset();
    return h_setup(only, "sip", max_text);
}

static struct mc_flow_table *setup(void) { return setup_text(0); }

/* ---- messages ------------------------------------------------------------ */

static const char *SDP_OFFER = "v=0\r\n"
                               "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
                               "s=-\r\n"
                               "c=IN IP4 192.0.2.10\r\n"
                               "t=0 0\r\n"
                               "m=audio 49170 RTP/AVP 0 8 101\r\n"
                               "a=rtpmap:101 telephone-event/8000\r\n"
                               "m=video 51372 RTP/AVP 97\r\n"
                               "c=IN IP6 2001:db8::7\r\n"
                               "a=rtpmap:97 H264/90000\r\n";

static void invite(char *buf, size_t cap, const char *body)
{
    snprintf(buf, cap,
             "INVITE sip:bob@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP proxy.example.com\r\n"
             "Max-Forwards: 70\r\n"
             "To: Bob <sip:bob@example.com>\r\n"
             "From: \"Alice, A.\" <sip:alice@example.com;transport=udp>;tag=1928301774\r\n"
             "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
             "CSeq: 314159 INVITE\r\n"
             "Contact: <sip:alice@pc33.example.com>;expires=60, <sip:alice@192.0.2.10>\r\n"
             "User-Agent: softphone/1.0\r\n"
             "Content-Type: application/sdp\r\n"
             "Content-Length: %zu\r\n"
             "\r\n%s",
             strlen(body), body);
}

static const char *RINGING = "SIP/2.0 180 Ringing\r\n"
                             "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
                             "To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n"
                             "From: \"Alice, A.\" <sip:alice@example.com>;tag=1928301774\r\n"
                             "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
                             "CSeq: 314159 INVITE\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";

/* ---- UDP ------------------------------------------------------------------- */

static void test_udp_invite_and_response(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    char msg[4096];
    invite(msg, sizeof(msg), SDP_OFFER);
    h_send(&c, 0, msg, 10);
    h_send(&c, 1, RINGING, 40);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"protocol\":\"sip\"");
    h_has(0, "\"transactionStartMilliseconds\":1000010");
    h_has(0, "\"sipMethod\":\"INVITE\"");
    h_has(0, "\"sipRequestUri\":\"sip:bob@example.com\"");
    h_has(0, "\"sipCallId\":\"a84b4c76e66710@pc33.example.com\"");
    h_has(0, "\"sipCSeq\":314159,\"sipCSeqMethod\":\"INVITE\"");
    h_has(0, "\"sipFrom\":\"sip:alice@example.com;transport=udp\"");
    h_has(0, "\"sipFromTag\":\"1928301774\"");
    h_has(0, "\"sipTo\":\"sip:bob@example.com\"");
    h_lacks(0, "sipToTag");
    h_has(0, "\"sipContact\":\"sip:alice@pc33.example.com\"");
    h_has(0, "\"sipVia\":\"SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\"");
    h_has(0, "\"sipUserAgent\":\"softphone/1.0\"");
    h_has(0, "\"sipExpires\":60"); /* the Contact's expires parameter: no Expires header */
    h_has(0, "\"sipSdpMedia\":\"audio 49170 RTP/AVP 0 8 101,video 51372 RTP/AVP 97\"");
    h_has(0, "\"sipRtpAddress\":\"192.0.2.10\",\"sipRtpPort\":49170");
    h_has(0, "\"sipCodecs\":\"PCMU/8000,PCMA/8000,telephone-event/8000,H264/90000\"");
    h_lacks(0, "sipStatusCode");
    h_has(1, "\"sipStatusCode\":180,\"sipReasonPhrase\":\"Ringing\"");
    h_has(1, "\"sipToTag\":\"a6c85cf\"");
    h_has(1, "\"sipCSeqMethod\":\"INVITE\"");
    h_lacks(1, "sipMethod");
    h_lacks(1, "sipSdpMedia");
    h_lacks(1, "sipExpires");
    /* the flow record: the first message's values and the counts */
    assert_int_equal(h_exported, 1);
    assert_string_equal(h_rec_s("sipMethod"), "INVITE");
    assert_string_equal(h_rec_s("sipCallId"), "a84b4c76e66710@pc33.example.com");
    assert_string_equal(h_rec_s("sipFromTag"), "1928301774");
    assert_string_equal(h_rec_s("sipRtpAddress"), "192.0.2.10");
    assert_int_equal(h_rec_n("sipRtpPort"), 49170);
    assert_int_equal(h_rec_n("sipCSeq"), 314159);
    assert_int_equal(h_rec_n("sipStatusCode"), 0);
    assert_int_equal(h_rec_n("sipRequestCount"), 1);
    assert_int_equal(h_rec_n("sipResponseCount"), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, messages), 2);
    assert_int_equal(MC_CTR_GET(l7_sip, sdp), 1);
    assert_int_equal(MC_CTR_GET(l7, transactions), 2);
    h_teardown(t);
}

static void test_compact_forms(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    char msg[2048];
    snprintf(msg, sizeof(msg),
             "INVITE sip:bob@b.example SIP/2.0\r\n"
             "v: SIP/2.0/UDP a.example:5060;branch=z9hG4bK1\r\n"
             "f: <sip:alice@a.example>;tag=88\r\n"
             "t: sip:bob@b.example\r\n"
             "i: compact-1@a.example\r\n"
             "m: <sip:alice@192.0.2.1:5070>\r\n"
             "CSeq: 1 INVITE\r\n"
             "c: application/sdp\r\n"
             "k: 100rel\r\n"
             "s: a subject\r\n"
             "e: identity\r\n"
             "l: %zu\r\n"
             "\r\n%s",
             strlen(SDP_OFFER), SDP_OFFER);
    h_send(&c, 0, msg, 1);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"sipCallId\":\"compact-1@a.example\"");
    h_has(0, "\"sipFrom\":\"sip:alice@a.example\",\"sipFromTag\":\"88\"");
    h_has(0, "\"sipTo\":\"sip:bob@b.example\"");
    h_has(0, "\"sipContact\":\"sip:alice@192.0.2.1:5070\"");
    h_has(0, "\"sipVia\":\"SIP/2.0/UDP a.example:5060;branch=z9hG4bK1\"");
    h_has(0, "\"sipRtpPort\":49170"); /* c: and l: framed and typed the body */
    assert_int_equal(MC_CTR_GET(l7_sip, udp_trailing), 0);
    assert_int_equal(MC_CTR_GET(l7_sip, bad_header), 0);
    h_teardown(t);
}

static void test_header_folding(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    h_send(&c, 0,
         "REGISTER sip:registrar.example SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.4:5060\r\n"
         "   ;branch=z9hG4bKfold\r\n"
         "From:\r\n"
         "\t\"Folded\" <sip:fold@example.com>\r\n"
         "  ;tag=ff11\r\n"
         "To: <sip:fold@example.com>\r\n"
         "Call-ID: fold-1\r\n"
         "CSeq: 7\r\n"
         " REGISTER\r\n"
         "User-Agent: Folding\r\n"
         "\t Phone/2\r\n"
         "Expires: 3600\r\n"
         "Content-Length: 0\r\n"
         "\r\n",
         1);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"sipMethod\":\"REGISTER\"");
    h_has(0, "\"sipVia\":\"SIP/2.0/UDP 192.0.2.4:5060 ;branch=z9hG4bKfold\"");
    h_has(0, "\"sipFrom\":\"sip:fold@example.com\",\"sipFromTag\":\"ff11\"");
    h_has(0, "\"sipCSeq\":7,\"sipCSeqMethod\":\"REGISTER\"");
    h_has(0, "\"sipUserAgent\":\"Folding Phone/2\"");
    h_has(0, "\"sipExpires\":3600");
    assert_int_equal(MC_CTR_GET(l7_sip, folded), 5);
    assert_int_equal(MC_CTR_GET(l7_sip, bad_header), 0);
    h_teardown(t);
}

static void test_udp_hostile(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    /* huge Content-Length: not believed; the rest of the datagram is the body */
    h_send(&c, 0,
         "OPTIONS sip:x@example SIP/2.0\r\nCall-ID: huge\r\nContent-Type: application/sdp\r\n"
         "Content-Length: 99999999999999\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.9\r\n",
         1);
    /* a Content-Length longer than the datagram: the body is what there is */
    h_send(&c, 0, "MESSAGE sip:x@example SIP/2.0\r\nCall-ID: cut\r\nContent-Length: 500\r\n\r\nhello", 2);
    /* the header block never ends (the datagram was cut) */
    h_send(&c, 0, "BYE sip:x@example SIP/2.0\r\nCall-ID: unterminated\r\nCSeq: 2 BY", 3);
    /* bytes after the body are discarded (RFC 3261 18.3) */
    h_send(&c, 0, "ACK sip:x@example SIP/2.0\r\nCall-ID: trailing\r\nContent-Length: 2\r\n\r\nokJUNK", 4);
    /* not SIP at all, keep-alives, a bad CSeq and Expires, a bad header line, a method of our own */
    h_sendb(&c, 0, "\x01\x01\x00\x08\x21\x12\xa4\x42stunstunstun", 20, 5);
    h_send(&c, 1, "\r\n\r\n", 6);
    h_send(&c, 1, "     ", 7);
    h_send(&c, 0,
         "FROBNICATE sip:x@example SIP/2.0\r\nCall-ID: odd\r\nCSeq: x INVITE\r\nExpires: soon\r\nno colon here\r\n\r\n",
         8);
    h_send(&c, 1, "SIP/2.0 999 Beyond\r\nCall-ID: bad-status\r\n\r\n", 9);
    h_finish(t);
    assert_int_equal(h_n_lines, 5);
    h_has(0, "\"sipCallId\":\"huge\"");
    h_has(0, "\"sipRtpPort\":4000");
    h_has(1, "\"sipCallId\":\"cut\"");
    h_has(2, "\"sipCallId\":\"unterminated\"");
    h_has(2, "\"sipCSeq\":2,\"sipCSeqMethod\":\"BY\""); /* the value is what was there */
    h_has(3, "\"sipCallId\":\"trailing\"");
    h_has(4, "\"sipMethod\":\"FROBNICATE\"");
    h_lacks(4, "sipCSeq");
    h_lacks(4, "sipExpires");
    assert_int_equal(MC_CTR_GET(l7_sip, bad_content_length), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, body_truncated), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, unterminated), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, udp_trailing), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, not_sip), 2); /* STUN, and status 999 */
    assert_int_equal(MC_CTR_GET(l7_sip, keepalives), 2);
    assert_int_equal(MC_CTR_GET(l7_sip, bad_cseq), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, bad_expires), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, bad_header), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, method_other), 1);
    assert_int_equal(h_rec_n("sipRequestCount"), 5);
    h_teardown(t);
}

static void test_detect_other_port(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 15060, 5062);
    h_send(&c, 0, RINGING, 1); /* the flow's first packet is a response: the roles do not matter */
    h_send(&c, 1, "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: o\r\n\r\n", 2);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"sourceTransportPort\":15060,\"destinationTransportPort\":5062");
    h_has(0, "\"sipStatusCode\":180");
    h_has(1, "\"sipMethod\":\"OPTIONS\"");
    assert_int_equal(MC_CTR_GET(l7, attached_payload), 1);
    h_teardown(t);
}

static void test_max_text(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_text(8);
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    char msg[4096];
    invite(msg, sizeof(msg), SDP_OFFER);
    h_send(&c, 0, msg, 1);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"sipCallId\":\"a84b4c76\"");
    h_has(0, "\"sipFrom\":\"sip:alic\"");
    h_has(0, "\"sipMethod\":\"INVITE\"");
    h_has(0, "\"sipSdpMedia\":\"\""); /* whole items only: none fits */
    h_lacks(0, "sipRtpAddress"); /* an address is whole or absent */
    h_has(0, "\"sipRtpPort\":49170");
    assert_true(MC_CTR_GET(l7_sip, truncated) >= 8);
    assert_string_equal(h_rec_s("sipCallId"), "a84b4c76");
    h_teardown(t);
}

static void test_multipart_body(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    char body[2048], msg[4096];
    snprintf(body, sizeof(body),
             "--unique-boundary-1\r\n"
             "Content-Type: application/isup;version=itu-t92+\r\n"
             "\r\n"
             "\x01\x11\x49\x22\x33\x03\x02\x44\x07\x04\x10\x55\x33\x63\x21\x43\x66\x77\x03\r\n"
             "--unique-boundary-1\r\n"
             "Content-Type: application/sdp\r\n"
             "\r\n"
             "%s\r\n"
             "--unique-boundary-1--\r\n",
             SDP_OFFER);
    snprintf(msg, sizeof(msg),
             "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: mp\r\n"
             "Content-Type: multipart/mixed; boundary=\"unique-boundary-1\"\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    h_send(&c, 0, msg, 1);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"sipRtpAddress\":\"192.0.2.10\",\"sipRtpPort\":49170");
    h_has(0, "\"sipCodecs\":\"PCMU/8000,PCMA/8000,telephone-event/8000,H264/90000\"");
    assert_int_equal(MC_CTR_GET(l7_sdp, multipart), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, sdp), 1);
    h_teardown(t);
}

static void test_hundreds_of_media(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_udp_conn(t, 5060, 5060);
    static char body[32768], msg[40000];
    size_t n = (size_t)snprintf(body, sizeof(body), "v=0\r\nc=IN IP4 192.0.2.1\r\n");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "m=audio %d RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n",
                              10000 + 2 * i);
    snprintf(msg, sizeof(msg),
             "INVITE sip:b@x SIP/2.0\r\nCall-ID: many\r\nContent-Type: application/sdp\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             n, body);
    h_send(&c, 0, msg, 1);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"sipRtpPort\":10000");
    h_has(0, "\"sipSdpMedia\":\"audio 10000 RTP/AVP 0 8,audio 10002 RTP/AVP 0 8,");
    h_lacks(0, "audio 10016"); /* the 9th and later are not kept */
    assert_int_equal(MC_CTR_GET(l7_sdp, too_many_media), 1);
    h_teardown(t);
}

/* ---- TCP ------------------------------------------------------------------- */

static const char *REGISTER = "REGISTER sip:registrar.example SIP/2.0\r\n"
                              "Via: SIP/2.0/TCP 192.0.2.4:50000;branch=z9hG4bKr1\r\n"
                              "From: <sip:u@registrar.example>;tag=r1\r\n"
                              "To: <sip:u@registrar.example>\r\n"
                              "Call-ID: reg-1\r\n"
                              "CSeq: 1 REGISTER\r\n"
                              "Contact: <sip:u@192.0.2.4:50000;transport=tcp>\r\n"
                              "Expires: 600\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";

static const char *OK_REG = "SIP/2.0 200 OK\r\n"
                            "Call-ID: reg-1\r\n"
                            "CSeq: 1 REGISTER\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";

static void test_tcp_several_per_segment(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 5060);
    char msg[4096], seg[12000];
    invite(msg, sizeof(msg), SDP_OFFER);
    snprintf(seg, sizeof(seg), "%s\r\n\r\n%s%s", REGISTER, msg, REGISTER);
    h_send(&c, 0, seg, 1);
    h_send(&c, 1, OK_REG, 2);
    h_finish(t);
    assert_int_equal(h_n_lines, 4);
    h_has(0, "\"sipMethod\":\"REGISTER\"");
    h_has(0, "\"sipExpires\":600");
    h_has(0, "\"protocolIdentifier\":6");
    h_has(1, "\"sipMethod\":\"INVITE\"");
    h_has(1, "\"sipRtpPort\":49170");
    h_has(2, "\"sipMethod\":\"REGISTER\"");
    h_has(3, "\"sipStatusCode\":200");
    assert_int_equal(MC_CTR_GET(l7_sip, keepalives), 1);
    assert_int_equal(h_rec_n("sipRequestCount"), 3);
    assert_int_equal(h_rec_n("sipResponseCount"), 1);
    h_teardown(t);
}

static void test_tcp_byte_by_byte(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 5060);
    char msg[4096];
    invite(msg, sizeof(msg), SDP_OFFER);
    for (size_t i = 0; msg[i]; i++)
        h_sendb(&c, 0, msg + i, 1, 1 + i);
    /* then split at every place between two messages' worth */
    char two[2048];
    int n = snprintf(two, sizeof(two), "%s%s", OK_REG, OK_REG);
    for (int cut = 1; cut < n; cut += 37) {
        h_sendb(&c, 1, two, (size_t)cut, 5000);
        h_sendb(&c, 1, two + cut, (size_t)(n - cut), 5001);
    }
    h_finish(t);
    int cuts = 0;
    for (int cut = 1; cut < n; cut += 37)
        cuts++;
    assert_int_equal(h_n_lines, 1 + 2 * cuts);
    h_has(0, "\"sipMethod\":\"INVITE\"");
    h_has(0, "\"transactionStartMilliseconds\":1000001"); /* the first byte's time */
    h_has(0, "\"sipCodecs\":\"PCMU/8000,PCMA/8000,telephone-event/8000,H264/90000\"");
    for (int i = 1; i < h_n_lines; i++)
        h_has(i, "\"sipStatusCode\":200,\"sipReasonPhrase\":\"OK\",\"sipCallId\":\"reg-1\"");
    assert_int_equal(MC_CTR_GET(l7_sip, incomplete), 0);
    h_teardown(t);
}

static void test_tcp_gaps(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 5060);
    char msg[4096];
    invite(msg, sizeof(msg), SDP_OFFER);
    const char *body = strstr(msg, "\r\n\r\n") + 4;
    size_t hdr = (size_t)(body - msg);
    /* a hole inside the body: stepped over, the message still counts */
    h_sendb(&c, 0, msg, hdr + 130, 1);
    h_lose(&c, 0, 10);
    h_sendb(&c, 0, msg + hdr + 140, strlen(msg) - hdr - 140, 2);
    h_send(&c, 1, OK_REG, 3);
    /* a hole in a header block: that message is lost; the next segment starts one */
    h_sendb(&c, 0, REGISTER, 30, 4);
    h_lose(&c, 0, 20);
    h_sendb(&c, 0, REGISTER + 50, strlen(REGISTER) - 50, 5);
    h_send(&c, 0, REGISTER, 6);
    h_send(&c, 1, OK_REG, 7);
    h_finish(t);
    assert_int_equal(h_n_lines, 4);
    h_has(0, "\"sipMethod\":\"INVITE\"");
    h_has(0, "\"sipRtpPort\":49170"); /* the hole is after the m= line */
    h_has(1, "\"sipStatusCode\":200");
    h_has(2, "\"sipMethod\":\"REGISTER\"");
    h_has(3, "\"sipStatusCode\":200");
    assert_int_equal(MC_CTR_GET(l7_sip, gap_in_body), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, gap_lost), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, resynced), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, incomplete), 1);
    h_teardown(t);
}

static void test_tcp_hostile(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 5060);
    /* a huge Content-Length cannot frame anything: the message without body, then resync */
    h_send(&c, 0, "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: huge\r\nContent-Length: 4294967296\r\n\r\nxxxxxxxx", 1);
    h_send(&c, 0, REGISTER, 2);
    /* no Content-Length on a stream: taken as 0 */
    h_send(&c, 0, "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: nolen\r\n\r\n", 3);
    /* a header block over the limit: lost until a message start */
    static char big[MC_SIP_MAX_HEADER + 4096];
    size_t n = (size_t)snprintf(big, sizeof(big), "INFO sip:a@b SIP/2.0\r\nCall-ID: big\r\n");
    while (n < MC_SIP_MAX_HEADER + 1000)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad: %0100d\r\n", 0);
    snprintf(big + n, sizeof(big) - n, "\r\n");
    h_send(&c, 0, big, 4);
    h_send(&c, 0, REGISTER, 5);
    /* a large body (over what is kept): skipped by count, the next message is read */
    static char large[MC_SIP_MAX_BODY + 2048];
    size_t bl = MC_SIP_MAX_BODY + 1000;
    n = (size_t)snprintf(large, sizeof(large), "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: large\r\nContent-Length: %zu\r\n\r\n",
                         bl);
    memset(large + n, 'b', bl);
    h_sendb(&c, 0, large, n + 500, 6);
    h_sendb(&c, 0, large + n + 500, bl - 500, 7);
    h_send(&c, 0, REGISTER, 8);
    /* the flow ends inside a body, and inside the server's header block */
    h_send(&c, 0, "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: at-end\r\nContent-Length: 100\r\n\r\nabc", 9);
    h_send(&c, 1, "SIP/2.0 200 OK\r\nCall-ID: x", 10);
    h_finish(t);
    assert_int_equal(h_n_lines, 7);
    h_has(0, "\"sipCallId\":\"huge\"");
    h_has(1, "\"sipCallId\":\"reg-1\"");
    h_has(2, "\"sipCallId\":\"nolen\"");
    h_has(3, "\"sipCallId\":\"reg-1\"");
    h_has(4, "\"sipCallId\":\"large\"");
    h_has(5, "\"sipCallId\":\"reg-1\"");
    h_has(6, "\"sipCallId\":\"at-end\"");
    assert_int_equal(MC_CTR_GET(l7_sip, bad_content_length), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, tcp_no_content_length), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, header_too_large), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, body_not_kept), 1);
    assert_int_equal(MC_CTR_GET(l7_sip, incomplete), 2);
    assert_int_equal(MC_CTR_GET(l7_sip, body_truncated), 0); /* what the framing counted is not counted twice */
    h_teardown(t);
}

/* ---- pure parts ----------------------------------------------------------------- */

static struct mc_sip_str S(const char *s)
{
    struct mc_sip_str v = { (const uint8_t *)s, strlen(s) };
    return v;
}

static void eq(struct mc_sip_str v, const char *want)
{
    if (v.n != strlen(want) || memcmp(v.p, want, v.n) != 0)
        fail_msg("got '%.*s', want '%s'", (int)v.n, (const char *)v.p, want);
}

static void test_header_helpers(void **state)
{
    (void)state;
    eq(mc_sip_uri(S("\"Bob <x>\" <sip:bob@b.example;transport=tcp>;tag=9")), "sip:bob@b.example;transport=tcp");
    eq(mc_sip_uri(S("sip:bob@b.example;tag=9")), "sip:bob@b.example");
    eq(mc_sip_uri(S("  tel:+1-201-555-0123 ")), "tel:+1-201-555-0123");
    eq(mc_sip_uri(S("\\\"arik\\\" <sip:816666@voip.example>;tag=6")), "sip:816666@voip.example");
    eq(mc_sip_uri(S("<sip:unclosed@x")), "sip:unclosed@x");
    eq(mc_sip_param(S("\"A;tag=no\" <sip:a@x;tag=no>;foo ; TAG = yes ;x=1"), "tag"), "yes");
    eq(mc_sip_param(S("sip:a@x;tag=abc"), "tag"), "abc");
    eq(mc_sip_param(S("<sip:a@x>;q=\"0;7\";expires=30"), "expires"), "30");
    assert_null(mc_sip_param(S("<sip:a@x;tag=1>"), "tag").p);
    eq(mc_sip_first_value(S("\"a, b\" <sip:a@x>, <sip:b@y>")), "\"a, b\" <sip:a@x>");
    eq(mc_sip_first_value(S("<sip:a@x;p=1,2>, b")), "<sip:a@x;p=1,2>");
    eq(mc_sip_first_value(S("*")), "*");
    char out[16];
    int cut = 0;
    assert_int_equal(mc_sip_unfold(out, sizeof(out), S("a \r\n\t b"), &cut), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(cut, 0);
    assert_int_equal(mc_sip_unfold(out, 5, S("abcdefgh"), &cut), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(cut, 1);
    /* a lone CR or LF anywhere (the one-line test reads eight bytes at a time): one SP, blanks around it taken */
    for (size_t n = 1; n <= 20; n++)
        for (size_t at = 0; at < n; at++)
            for (int c = 0; c < 2; c++) {
                char in[24], want[24], big[32];
                memset(in, 'x', n);
                in[at] = c ? '\r' : '\n';
                memcpy(want, in, n);
                want[at] = ' ';
                want[n] = 0;
                cut = 0;
                assert_int_equal(mc_sip_unfold(big, sizeof(big), (struct mc_sip_str){ (const uint8_t *)in, n }, &cut), n);
                assert_string_equal(big, want);
            }
}

/* mc_sip_first_value as it read one byte at a time: the reference for its eight-at-a-time scan. */
static size_t first_value_len(const char *p, size_t n)
{
    int quote = 0, angle = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (quote) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quote = 0;
        } else if (c == '"') {
            quote = 1;
        } else if (c == '<') {
            angle = 1;
        } else if (c == '>') {
            angle = 0;
        } else if (c == ',' && !angle) {
            return i;
        }
    }
    return n;
}

/* Quotes, escapes, angles and commas in every place and mix, values up to 40 bytes: the reference's first value. */
static void test_first_value_scan(void **state)
{
    (void)state;
    static const char marks[] = "a\",<>\\ ;";
    uint64_t x = 88172645463325252ull;
    for (int t = 0; t < 200000; t++) {
        char in[40];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % 41);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            in[i] = (x & 3) ? 'a' : marks[(x >> 2) % (sizeof(marks) - 1)];
        }
        size_t k = first_value_len(in, n);
        struct mc_sip_str want = { (const uint8_t *)in, k };
        while (want.n && (want.p[0] == ' ' || want.p[0] == '\t'))
            want.p++, want.n--;
        while (want.n && (want.p[want.n - 1] == ' ' || want.p[want.n - 1] == '\t'))
            want.n--;
        struct mc_sip_str got = mc_sip_first_value((struct mc_sip_str){ (const uint8_t *)in, n });
        assert_ptr_equal(got.p, want.p);
        assert_int_equal(got.n, want.n);
    }
}

static void test_parser(void **state)
{
    (void)state;
    struct mc_sip_msg m;
    const char *r = "\r\nSIP/2.0 486 Busy Here\r\nl: 4\r\nCall-ID: p\r\ni: second\r\n\r\nbodyEXTRA";
    assert_int_equal(mc_sip_parse((const uint8_t *)r, strlen(r), &m), MC_SIP_OK);
    assert_int_equal(m.request, 0);
    assert_int_equal(m.status, 486);
    eq(m.reason, "Busy Here");
    eq(m.call_id, "p"); /* the first one */
    assert_int_equal(m.content_length, 4);
    eq(m.body, "body");
    const char *bad[] = { "", "\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
                          "INVITE sip:a@b SIP/2.0x\r\n", "INVITE  SIP/2.0\r\n", "SIP/2.0 20 OK\r\n",
                          "SIP/2.0 200OK\r\n", "INV\x01TE sip:a@b SIP/2.0\r\n" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mc_sip_parse((const uint8_t *)bad[i], strlen(bad[i]), &m), MC_SIP_BAD);
    uint32_t cl = 0;
    const char *h = "INVITE sip:a@b SIP/2.0\r\nContent-Length: 12\r\nl: 12\r\n\r\n";
    assert_int_equal(mc_sip_content_length((const uint8_t *)h, strlen(h), &cl), 1);
    assert_int_equal(cl, 12);
    h = "INVITE sip:a@b SIP/2.0\r\nContent-Length: 12\r\nl: 13\r\n\r\n";
    assert_int_equal(mc_sip_content_length((const uint8_t *)h, strlen(h), &cl), -1);
    h = "INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n";
    assert_int_equal(mc_sip_content_length((const uint8_t *)h, strlen(h), &cl), -1);
    h = "INVITE sip:a@b SIP/2.0\r\n\r\n";
    assert_int_equal(mc_sip_content_length((const uint8_t *)h, strlen(h), &cl), 0);
}

static void test_detect(void **state)
{
    (void)state;
    const char *yes[] = { "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", "SIP/2.0 200 OK\r\n", "SIP/2.0 100 Trying",
                          "REGISTER sips:registrar.example", "MESSAGE tel:+123", "FOO sip:a@b SIP/2.0\n" };
    const char *no[] = { "GET / HTTP/1.1\r\n", "OPTIONS * RTSP/1.0\r\n", "INVITE http://x", "SIP/2.0 ",
                         "HTTP/1.1 200 OK\r\n", "\r\n\r\n", "INVITE", "FOO sip:a@b" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!mc_l7_sip.detect((const uint8_t *)yes[i], strlen(yes[i]), 0))
            fail_msg("not detected: %s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (mc_l7_sip.detect((const uint8_t *)no[i], strlen(no[i]), 0))
            fail_msg("detected: %s", no[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_invite_and_response),
        cmocka_unit_test(test_compact_forms),
        cmocka_unit_test(test_header_folding),
        cmocka_unit_test(test_udp_hostile),
        cmocka_unit_test(test_detect_other_port),
        cmocka_unit_test(test_max_text),
        cmocka_unit_test(test_multipart_body),
        cmocka_unit_test(test_hundreds_of_media),
        cmocka_unit_test(test_tcp_several_per_segment),
        cmocka_unit_test(test_tcp_byte_by_byte),
        cmocka_unit_test(test_tcp_gaps),
        cmocka_unit_test(test_tcp_hostile),
        cmocka_unit_test(test_header_helpers),
        cmocka_unit_test(test_first_value_scan),
        cmocka_unit_test(test_parser),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
