/*
 * test_sdp.c - the SDP parser alone: session and media connection
 * addresses (IPv4, IPv6, host names), media lines, rtpmap and static
 * payload types, directions, a=rtcp, the RTP endpoints and summary texts;
 * bodies: application/sdp, multipart (nested, without boundary, too deep,
 * too many parts, without SDP); hostile shapes (hundreds of media lines,
 * too many formats, bad lines and values), each counted and bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "l7/sdp.h"

static int parse(const char *text, struct mc_sdp *s)
{
    return mc_sdp_parse((const uint8_t *)text, strlen(text), s);
}

static int body(const char *ctype, const char *text, struct mc_sdp *s)
{
    return mc_sdp_parse_body((const uint8_t *)ctype, strlen(ctype), (const uint8_t *)text, strlen(text), s);
}

static void reset(void) { memset(mc_l7_sdp_ctr, 0, sizeof(mc_l7_sdp_ctr)); }

static const char *OFFER = "v=0\r\n"
                           "o=- 1 1 IN IP4 198.51.100.1\r\n"
                           "s=call\r\n"
                           "c=IN IP4 198.51.100.1/127\r\n"
                           "t=0 0\r\n"
                           "a=sendonly\r\n"
                           "m=audio 49170/2 RTP/AVP 0 18 96 101\r\n"
                           "a=rtpmap:96 opus/48000/2\r\n"
                           "a=rtpmap:101 telephone-event/8000\r\n"
                           "a=rtcp:53020\r\n"
                           "m=video 0 RTP/SAVPF 100\r\n"
                           "m=image 6012 udptl t38\r\n"
                           "c=IN IP6 [2001:db8::1]\r\n"
                           "a=inactive\r\n"
                           "m=audio 7000 RTP/AVP 8\n"
                           "c=IN IP6 2001:db8::2\n"
                           "a=recvonly\n";

static void test_offer(void **state)
{
    (void)state;
    reset();
    struct mc_sdp s;
    assert_int_equal(parse(OFFER, &s), 0);
    assert_int_equal(s.session_addr.ver, 4);
    assert_int_equal(s.n_media, 4);
    assert_int_equal(s.media_total, 4);
    const struct mc_sdp_media *a = &s.media[0];
    assert_string_equal(a->type, "audio");
    assert_string_equal(a->proto, "RTP/AVP");
    assert_int_equal(a->port, 49170);
    assert_int_equal(a->n_ports, 2);
    assert_int_equal(a->rtcp_port, 53020);
    assert_int_equal(a->dir, MC_SDP_SENDONLY); /* the session's */
    assert_int_equal(a->addr.ver, 4);          /* the session's c= */
    assert_int_equal(a->n_fmt, 4);
    assert_int_equal(a->fmt[0].pt, 0);
    assert_string_equal(a->fmt[0].name, "PCMU");
    assert_int_equal(a->fmt[0].clock, 8000);
    assert_string_equal(a->fmt[1].name, "G729");
    assert_string_equal(a->fmt[2].name, "opus");
    assert_int_equal(a->fmt[2].clock, 48000);
    assert_string_equal(a->fmt[3].name, "telephone-event");
    assert_int_equal(s.media[1].port, 0);
    assert_int_equal(s.media[2].rtp, 0);
    assert_int_equal(s.media[2].fmt[0].pt, MC_SDP_PT_NONE);
    assert_string_equal(s.media[2].fmt[0].name, "t38");
    assert_int_equal(s.media[2].addr.ver, 6); /* brackets tolerated */
    assert_int_equal(s.media[2].dir, MC_SDP_INACTIVE);
    assert_int_equal(s.media[3].addr.ver, 6); /* bare LF lines */
    assert_int_equal(s.media[3].dir, MC_SDP_RECVONLY);

    struct mc_sdp_endpoint ep[8];
    assert_int_equal(mc_sdp_endpoints(&s, ep, 8), 2); /* port 0 and udptl are not RTP endpoints */
    char t[64];
    mc_sdp_addr_text(&ep[0].addr, t, sizeof(t));
    assert_string_equal(t, "198.51.100.1");
    assert_int_equal(ep[0].port, 49170);
    assert_int_equal(ep[0].rtcp_port, 53020);
    mc_sdp_addr_text(&ep[1].addr, t, sizeof(t));
    assert_string_equal(t, "2001:db8::2");
    assert_int_equal(ep[1].port, 7000);
    assert_int_equal(ep[1].rtcp_port, 7001);
    assert_int_equal(ep[1].media, 3);
    assert_int_equal(mc_sdp_endpoints(&s, ep, 1), 1);

    char text[512];
    int cut = 0;
    mc_sdp_media_text(&s, text, sizeof(text), &cut);
    assert_string_equal(text, "audio 49170/2 RTP/AVP 0 18 96 101,video 0 RTP/SAVPF 100,image 6012 udptl t38,"
                              "audio 7000 RTP/AVP 8");
    assert_int_equal(cut, 0);
    mc_sdp_codecs_text(&s, text, sizeof(text), &cut);
    assert_string_equal(text, "PCMU/8000,G729/8000,opus/48000,telephone-event/8000,100,t38,PCMA/8000");
    /* whole items only */
    mc_sdp_codecs_text(&s, text, 20, &cut);
    assert_string_equal(text, "PCMU/8000,G729/8000");
    assert_int_equal(cut, 1);
    assert_int_equal(MC_CTR_GET(l7_sdp, bodies), 1);
    assert_int_equal(MC_CTR_GET(l7_sdp, bad_line), 0);
}

static void test_bad_lines(void **state)
{
    (void)state;
    reset();
    struct mc_sdp s;
    assert_int_equal(parse("not sdp", &s), -1);
    assert_int_equal(parse("", &s), -1);
    assert_int_equal(MC_CTR_GET(l7_sdp, not_sdp), 2);
    const char *t = "v=0\r\n"
                    "junk line\r\n"
                    "X=upper\r\n"
                    "c=IN IP4 media.example.com\r\n"
                    "c=IN IPX 1.2.3.4\r\n"
                    "c=IN IP4 999.1.1.1\r\n"
                    "c=ATM NSAP x\r\n"
                    "m=audio 70000 RTP/AVP 0\r\n"
                    "m=audio x RTP/AVP 0\r\n"
                    "m=audio 5000/0 RTP/AVP 0\r\n"
                    "m=\r\n"
                    "a=rtcp:5001\r\n" /* belongs to the dropped media: ignored */
                    "m=audio 5004 RTP/AVP 0 200 abc 96\r\n"
                    "a=rtpmap:96\r\n"
                    "a=rtpmap:x PCMU/8000\r\n"
                    "a=rtpmap:96 L16/notanumber\r\n"
                    "a=rtpmap:97 missing/8000\r\n"
                    "a=rtpmap:0 Renamed/16000\r\n";
    assert_int_equal(parse(t, &s), 0);
    assert_int_equal(MC_CTR_GET(l7_sdp, bad_line), 2);
    assert_int_equal(MC_CTR_GET(l7_sdp, connection_not_address), 2);
    assert_int_equal(MC_CTR_GET(l7_sdp, bad_connection), 2);
    assert_int_equal(MC_CTR_GET(l7_sdp, bad_media), 4);
    assert_int_equal(MC_CTR_GET(l7_sdp, bad_rtpmap), 3);
    assert_int_equal(s.n_media, 1);
    assert_int_equal(s.media_total, 5);
    assert_int_equal(s.media[0].port, 5004);
    assert_int_equal(s.media[0].addr.ver, 0); /* a host name: no endpoint */
    assert_int_equal(s.media[0].rtcp_port, 0);
    assert_int_equal(s.media[0].n_fmt, 4);
    assert_int_equal(s.media[0].fmt[1].pt, MC_SDP_PT_NONE); /* 200 is no payload type */
    assert_string_equal(s.media[0].fmt[1].name, "200");
    assert_string_equal(s.media[0].fmt[0].name, "Renamed");
    assert_int_equal(s.media[0].fmt[0].clock, 16000);
    assert_string_equal(s.media[0].fmt[3].name, ""); /* 96 never named */
    struct mc_sdp_endpoint ep;
    assert_int_equal(mc_sdp_endpoints(&s, &ep, 1), 0);
    char text[64];
    int cut = 0;
    mc_sdp_codecs_text(&s, text, sizeof(text), &cut);
    assert_string_equal(text, "Renamed/16000,200,abc,96");
}

static void test_hundreds_of_media(void **state)
{
    (void)state;
    reset();
    static char t[65536];
    size_t n = (size_t)snprintf(t, sizeof(t), "v=0\r\nc=IN IP4 192.0.2.1\r\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "m=audio %d RTP/AVP 0\r\nc=IN IP4 192.0.2.2\r\n", 2000 + i);
    struct mc_sdp s;
    assert_int_equal(parse(t, &s), 0);
    assert_int_equal(s.n_media, MC_SDP_MAX_MEDIA);
    assert_int_equal(s.media_total, 1000);
    assert_int_equal(s.media[MC_SDP_MAX_MEDIA - 1].port, 2000 + MC_SDP_MAX_MEDIA - 1);
    assert_int_equal(MC_CTR_GET(l7_sdp, too_many_media), 1);
    /* too many formats on one line: the first MC_SDP_MAX_FMT kept, counted once */
    n = (size_t)snprintf(t, sizeof(t), "v=0\r\nm=audio 1 RTP/AVP");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, " %d", i % 128);
    snprintf(t + n, sizeof(t) - n, "\r\n");
    assert_int_equal(parse(t, &s), 0);
    assert_int_equal(s.media[0].n_fmt, MC_SDP_MAX_FMT);
    assert_int_equal(s.media[0].fmt_total, 500);
    assert_int_equal(MC_CTR_GET(l7_sdp, too_many_formats), 1);
    /* long tokens are cut to their fields */
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    snprintf(t, sizeof(t), "v=0\r\nm=%s 5 %s %s\r\na=rtpmap:0 %s/8000\r\n", longname, longname, longname, longname);
    assert_int_equal(parse(t, &s), 0);
    assert_int_equal(strlen(s.media[0].type), MC_SDP_TYPE_MAX);
    assert_int_equal(strlen(s.media[0].proto), MC_SDP_PROTO_MAX);
    assert_int_equal(s.media[0].fmt[0].name_len, MC_SDP_NAME_MAX);
    char text[1024];
    int cut = 0;
    size_t k = mc_sdp_media_text(&s, text, sizeof(text), &cut);
    assert_int_equal(k, strlen(text));
    assert_int_equal(cut, 0);
}

static void test_nul_in_tokens(void **state)
{
    (void)state;
    reset();
    /* NULs cannot be SDP text (RFC 4566 9): a field ends at one, its length says so */
    static const uint8_t t[] = "v=0\r\nm=aud\0io 5 RTP/AVP 0 96 t\00038\r\na=rtpmap:96 PC\0MU/8000\r\n";
    struct mc_sdp s;
    assert_int_equal(mc_sdp_parse(t, sizeof(t) - 1, &s), 0);
    assert_int_equal(s.n_media, 1);
    assert_string_equal(s.media[0].type, "aud");
    assert_int_equal(s.media[0].n_fmt, 3);
    assert_string_equal(s.media[0].fmt[1].name, "PC");
    assert_int_equal(s.media[0].fmt[1].name_len, 2);
    assert_string_equal(s.media[0].fmt[2].name, "t");
    assert_int_equal(s.media[0].fmt[2].name_len, 1);
}

static const char *PLAIN = "v=0\r\nc=IN IP4 203.0.113.5\r\nm=audio 4000 RTP/AVP 8\r\n";

static void test_bodies(void **state)
{
    (void)state;
    reset();
    struct mc_sdp s;
    assert_int_equal(body("application/sdp", PLAIN, &s), 1);
    assert_int_equal(body("Application/SDP ; charset=x", PLAIN, &s), 1);
    assert_int_equal(body("", PLAIN, &s), 1); /* no Content-Type: "v=0" says it */
    assert_int_equal(body("text/plain", PLAIN, &s), 0);
    assert_int_equal(body("application/sdp", "hello", &s), 0);
    assert_int_equal(mc_sdp_parse_body(NULL, 0, NULL, 0, &s), 0);

    char mp[2048];
    snprintf(mp, sizeof(mp),
             "preamble\r\n"
             "--b1 \r\n"
             "Content-Type: text/plain\r\n\r\n"
             "--b1 is not a delimiter here\r\n"
             "--b1\r\n"
             "Content-Type: multipart/alternative;boundary=b2\r\n\r\n"
             "--b2\r\n"
             "content-type: APPLICATION/SDP\r\n\r\n"
             "%s\r\n"
             "--b2--\r\n"
             "\r\n--b1--\r\n",
             PLAIN);
    assert_int_equal(body("multipart/mixed;boundary=b1", mp, &s), 1);
    assert_int_equal(s.media[0].port, 4000);
    assert_int_equal(MC_CTR_GET(l7_sdp, multipart), 2);
    /* one level deeper than followed */
    char deep[4096];
    snprintf(deep, sizeof(deep), "--b0\r\nContent-Type: multipart/mixed;boundary=b1\r\n\r\n%s\r\n--b0--\r\n", mp);
    assert_int_equal(body("multipart/mixed; boundary=\"b0\"", deep, &s), 0);
    assert_int_equal(MC_CTR_GET(l7_sdp, multipart_too_deep), 1);
    assert_int_equal(body("multipart/mixed", mp, &s), 0);
    assert_int_equal(body("multipart/mixed; boundary=\"\"", mp, &s), 0);
    assert_int_equal(MC_CTR_GET(l7_sdp, multipart_no_boundary), 2);
    assert_int_equal(body("multipart/mixed; boundary=zz", mp, &s), 0);
    assert_true(MC_CTR_GET(l7_sdp, multipart_no_sdp) >= 1);
    /* a part with no empty line, a part cut without close delimiter */
    assert_int_equal(body("multipart/mixed;boundary=q", "--q\r\nContent-Type: application/sdp", &s), 0);
    char cut[512];
    snprintf(cut, sizeof(cut), "--q\r\nContent-Type: application/sdp\r\n\r\n%s", PLAIN);
    assert_int_equal(body("multipart/mixed;boundary=q", cut, &s), 1);
    /* too many parts */
    static char many[8192];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "--m\r\nContent-Type: text/plain\r\n\r\nx\r\n");
    snprintf(many + n, sizeof(many) - n, "--m\r\nContent-Type: application/sdp\r\n\r\n%s--m--\r\n", PLAIN);
    assert_int_equal(body("multipart/mixed;boundary=m", many, &s), 0);
    assert_int_equal(MC_CTR_GET(l7_sdp, multipart_too_many_parts), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_hundreds_of_media),
        cmocka_unit_test(test_nul_in_tokens),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
