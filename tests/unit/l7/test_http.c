/*
 * test_http.c - the HTTP/1.x analyzer through the real L7 stage and flow
 * table: transactions and flow-record fields, keep-alive, pipelining,
 * Content-Length, chunked and close-delimited bodies, HEAD/204/304/1xx,
 * gaps, and hostile inputs (64 KiB header blocks, over-long lines, chunk-size
 * and Content-Length lies, missing CRLF, byte-by-byte delivery, pipeline
 * overflow), each counted and skipped.
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

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/http.h"
#include "l7/l7.h"
#include "unit/l7/record_harness.h"
#include "unit/l7/conn_harness.h"

/* ---- harness (conn_harness.h) ------------------------------------------- */

static const struct mc_l7_analyzer *const only[] = { &mc_l7_http };

static struct mc_flow_table *setup(void)
{
    memset(mc_l7_http_ctr, 0, sizeof(mc_l7_http_ctr));
    mc_ctr_reset();
    return h_setup(only, "http", 0);
}

/* ---- transactions and fields ------------------------------------------- */

static const char *REQ1 = "GET /index.html?q=1 HTTP/1.1\r\n"
                          "Host: Example.COM\r\n"
                          "User-Agent: curl/7.88 (x86_64, like Gecko)\r\n"
                          "Referer: http://a.example/\r\n"
                          "X-Forwarded-For: 192.0.2.1, 198.51.100.2\r\n"
                          "\r\n";
static const char *RSP1 = "HTTP/1.1 200 OK\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "Content-Length: 5\r\n"
                          "\r\n"
                          "hello";

static void test_simple_get(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, REQ1, 10);
    h_send(&c, 1, RSP1, 35);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"protocol\":\"http\"");
    h_has(0, "\"transactionStartMilliseconds\":1000010");
    h_has(0, "\"httpRequestMethod\":\"GET\"");
    h_has(0, "\"httpRequestHost\":\"Example.COM\"");
    h_has(0, "\"httpRequestTarget\":\"/index.html?q=1\"");
    h_has(0, "\"httpMessageVersion\":\"HTTP/1.1\"");
    h_has(0, "\"httpUserAgent\":\"curl/7.88 (x86_64, like Gecko)\"");
    h_has(0, "\"httpReferer\":\"http://a.example/\"");
    h_has(0, "\"httpXForwardedFor\":\"192.0.2.1, 198.51.100.2\"");
    h_has(0, "\"httpStatusCode\":200");
    h_has(0, "\"httpReasonPhrase\":\"OK\"");
    h_has(0, "\"httpContentType\":\"text/html; charset=utf-8\"");
    h_has(0, "\"httpResponseBodyLength\":5");
    h_has(0, "\"httpRequestBodyLength\":0");
    h_has(0, "\"httpResponseTimeMs\":25");
    /* the flow record carries the first transaction */
    assert_int_equal(h_exported, 1);
    assert_string_equal(h_rec_s("httpRequestMethod"), "GET");
    assert_string_equal(h_rec_s("httpRequestHost"), "Example.COM");
    assert_string_equal(h_rec_s("httpRequestTarget"), "/index.html?q=1");
    assert_string_equal(h_rec_s("httpContentType"), "text/html; charset=utf-8");
    assert_string_equal(h_rec_s("httpReasonPhrase"), "OK");
    assert_int_equal(h_rec_n("httpStatusCode"), 200);
    assert_int_equal(h_rec_n("httpResponseBodyLength"), 5);
    assert_int_equal(h_rec_n("httpResponseTimeMs"), 25);
    assert_int_equal(h_rec_n("httpRequestCount"), 1);
    assert_int_equal(MC_CTR_GET(l7_http, requests), 1);
    assert_int_equal(MC_CTR_GET(l7_http, responses), 1);
    assert_int_equal(MC_CTR_GET(l7, transactions), 1);
    h_teardown(t);
}

static void test_keep_alive(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 8080);
    for (int i = 0; i < 3; i++) {
        char req[128], rsp[128];
        snprintf(req, sizeof(req), "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
        snprintf(rsp, sizeof(rsp), "HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%.*s", 200 + i, i + 1, i + 1,
                 "abc");
        h_send(&c, 0, req, 100 * (uint64_t)i);
        h_send(&c, 1, rsp, 100 * (uint64_t)i + 7);
    }
    h_finish(t);
    assert_int_equal(h_n_lines, 3);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"httpRequestTarget\":\"/%d\"", i);
        h_has(i, want);
        snprintf(want, sizeof(want), "\"httpStatusCode\":%d", 200 + i);
        h_has(i, want);
        snprintf(want, sizeof(want), "\"httpResponseBodyLength\":%d", i + 1);
        h_has(i, want);
        h_has(i, "\"httpResponseTimeMs\":7");
    }
    assert_string_equal(h_rec_s("httpRequestTarget"), "/0");
    assert_int_equal(h_rec_n("httpRequestCount"), 3);
    h_teardown(t);
}

static void test_pipelined_in_one_segment(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0,
         "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
         "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
         "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
         "GET /d HTTP/1.1\r\nHost: h\r\n\r\n",
         1);
    /* HEAD's response announces 1000 bytes it does not send; 304 has none either */
    h_send(&c, 1,
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
         "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
         9);
    h_finish(t);
    assert_int_equal(h_n_lines, 4);
    h_has(0, "\"httpRequestTarget\":\"/a\"");
    h_has(0, "\"httpResponseBodyLength\":2");
    h_has(1, "\"httpRequestMethod\":\"HEAD\"");
    h_has(1, "\"httpResponseBodyLength\":0");
    h_has(2, "\"httpRequestBodyLength\":4");
    h_has(2, "\"httpStatusCode\":201");
    h_has(3, "\"httpRequestTarget\":\"/d\"");
    h_has(3, "\"httpStatusCode\":304");
    assert_int_equal(MC_CTR_GET(l7_http, unanswered), 0);
    assert_int_equal(MC_CTR_GET(l7_http, incomplete), 0);
    h_teardown(t);
}

/* Every byte in its own segment, both ways: the same transaction. */
static void test_byte_by_byte(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    const char *rsp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b\r\n\r\n"
                      "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n";
    for (size_t i = 0; REQ1[i]; i++)
        h_sendb(&c, 0, REQ1 + i, 1, 10 + i);
    for (size_t i = 0; rsp[i]; i++)
        h_sendb(&c, 1, rsp + i, 1, 1000 + i);
    h_send(&c, 0, "GET /next HTTP/1.1\r\n\r\n", 3000);
    h_send(&c, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 3001);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpRequestHost\":\"Example.COM\"");
    h_has(0, "\"httpUserAgent\":\"curl/7.88 (x86_64, like Gecko)\"");
    h_has(0, "\"httpContentType\":\"a/b\"");
    h_has(0, "\"httpResponseBodyLength\":19");
    h_has(0, "\"transactionStartMilliseconds\":1000010");
    h_has(0, "\"httpResponseTimeMs\":990"); /* first byte of each message */
    h_has(1, "\"httpStatusCode\":404");
    assert_int_equal(MC_CTR_GET(l7_http, line_too_long), 0);
    h_teardown(t);
}

static void test_chunked_split_anywhere(void **state)
{
    (void)state;
    /* the same chunked response cut at every offset into two segments */
    const char *rsp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                      "A ; ext=\"v\"\r\n0123456789\r\n1\r\nZ\r\n0\r\n\r\n";
    size_t n = strlen(rsp);
    for (size_t cut = 1; cut < n; cut++) {
        struct mc_flow_table *t = setup();
        struct h_conn c = h_tcp_conn(t, 80);
        h_send(&c, 0, "GET / HTTP/1.1\r\n\r\n", 1);
        h_sendb(&c, 1, rsp, cut, 2);
        h_sendb(&c, 1, rsp + cut, n - cut, 3);
        h_send(&c, 0, "GET /2 HTTP/1.1\r\n\r\n", 4);
        h_send(&c, 1, "HTTP/1.1 204 No Content\r\n\r\n", 5);
        h_finish(t);
        assert_int_equal(h_n_lines, 2);
        h_has(0, "\"httpResponseBodyLength\":11");
        h_has(1, "\"httpStatusCode\":204");
        assert_int_equal(MC_CTR_GET(l7_http, bad_chunk_size) + MC_CTR_GET(l7_http, bad_chunk_end), 0);
        h_teardown(t);
    }
}

static void test_interim_and_close_delimited(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 100 Continue\r\n\r\n", 2);
    h_send(&c, 0, "abcdef", 3);
    h_send(&c, 1, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil", 8);
    h_send(&c, 1, " the end", 9);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpStatusCode\":200");
    h_has(0, "\"httpRequestBodyLength\":6");
    h_has(0, "\"httpResponseBodyLength\":13");
    h_has(0, "\"httpResponseTimeMs\":7"); /* the final response, not the 100 */
    assert_int_equal(MC_CTR_GET(l7_http, interim), 1);
    assert_int_equal(MC_CTR_GET(l7_http, incomplete), 0);
    h_teardown(t);
}

static void test_unmatched_and_unanswered(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 1, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n", 1);
    h_send(&c, 0, "GET /never HTTP/1.1\r\n\r\n", 2);
    h_send(&c, 0, "GET /cut HTTP/1.1\r\nHost: x", 3); /* headers never finish */
    h_finish(t);
    assert_int_equal(h_n_lines, 3);
    h_has(0, "\"httpStatusCode\":408");
    h_lacks(0, "httpRequestMethod");
    h_has(1, "\"httpRequestTarget\":\"/never\"");
    h_lacks(1, "httpStatusCode");
    h_has(2, "\"httpRequestTarget\":\"/cut\"");
    assert_int_equal(MC_CTR_GET(l7_http, unmatched_response), 1);
    assert_int_equal(MC_CTR_GET(l7_http, unanswered), 1);
    assert_int_equal(MC_CTR_GET(l7_http, incomplete), 1);
    /* the flow record takes the first transaction emitted */
    assert_int_equal(h_rec_n("httpStatusCode"), 408);
    h_teardown(t);
}

static void test_upgrade_stops(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 2);
    h_send(&c, 0, "GET / HTTP/1.1\r\n\r\n", 3); /* websocket frames now, whatever they look like */
    h_send(&c, 1, "\x81\x05hello", 4);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpStatusCode\":101");
    assert_int_equal(MC_CTR_GET(l7_http, upgrade), 1);
    assert_int_equal(MC_CTR_GET(l7_http, requests), 1);
    h_teardown(t);
}

/*
 * A capture that starts with the server's ACK: the flow calls the server the
 * client; the roles are fixed from the start lines.
 */
static void test_server_seen_first(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = { t, 6, 40000, 80, { 1000, 5000 }, 1000000 };
    h_pkt(&c, 1, c.seq[1], H_ACK, NULL, 0);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 1);
    h_send(&c, 0, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 2);
    h_send(&c, 1, "HTTP/1.1 304 Not Modified\r\n\r\n", 3);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7_http, roles_swapped), 1);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpStatusCode\":200");
    h_has(0, "\"httpResponseBodyLength\":3");
    h_has(1, "\"httpRequestTarget\":\"/x\"");
    h_has(1, "\"httpStatusCode\":304");
    assert_int_equal(MC_CTR_GET(l7_http, bad_request_line), 0);
    h_teardown(t);
}

/* ---- gaps --------------------------------------------------------------- */

static void test_gap_inside_body_is_stepped_over(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET /big HTTP/1.1\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", 2);
    h_send(&c, 1, "0123456789", 3);
    h_lose(&c, 1, 2980);
    h_send(&c, 1, "0123456789", 4);
    h_send(&c, 0, "GET /after HTTP/1.1\r\n\r\n", 5); /* its ACK declares the hole */
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 6);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpResponseBodyLength\":3000");
    h_has(1, "\"httpRequestTarget\":\"/after\"");
    h_has(1, "\"httpStatusCode\":200");
    assert_int_equal(MC_CTR_GET(l7_http, gap_in_body), 1);
    assert_int_equal(MC_CTR_GET(l7_http, gap_lost), 0);
    h_teardown(t);
}

static void test_gap_in_headers_resyncs(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET /one HTTP/1.1\r\nHost: a\r\n", 1);
    h_lose(&c, 0, 100); /* the rest of the headers */
    h_send(&c, 0, "Accept: */*\r\n\r\n", 2);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3);
    h_send(&c, 0, "GET /two HTTP/1.1\r\nHost: b\r\n\r\n", 4); /* a segment that starts a message */
    h_send(&c, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 5);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpRequestTarget\":\"/one\"");
    h_has(0, "\"httpStatusCode\":200");
    h_has(1, "\"httpRequestTarget\":\"/two\"");
    h_has(1, "\"httpStatusCode\":404");
    assert_int_equal(MC_CTR_GET(l7_http, gap_lost), 1);
    assert_int_equal(MC_CTR_GET(l7_http, resynced), 1);
    h_teardown(t);
}

/* ---- hostile inputs ------------------------------------------------------ */

/* A 64 KiB header block: counted, values past the limit dropped, framing kept, never buffered whole. */
static void test_64k_header_block(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET /huge HTTP/1.1\r\nHost: first\r\n", 1);
    char line[1025];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Pad: ", 7);
    memcpy(line + 1022, "\r\n", 2);
    for (int i = 0; i < 64; i++)
        h_sendb(&c, 0, line, 1024, 2);
    h_send(&c, 0, "User-Agent: too-late\r\nContent-Length: 3\r\n\r\nabc", 3);
    h_send(&c, 0, "GET /next HTTP/1.1\r\n\r\n", 4);
    h_send(&c, 1,
         "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
         5);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpRequestHost\":\"first\"");
    h_lacks(0, "too-late");
    h_has(0, "\"httpRequestBodyLength\":3");
    h_has(1, "\"httpRequestTarget\":\"/next\"");
    assert_int_equal(MC_CTR_GET(l7_http, header_too_large), 1);
    assert_int_equal(MC_CTR_GET(l7, buffer_exceeded), 0);
    h_teardown(t);
}

/* A 20 KiB line split over segments: skipped, never buffered past the line cap. */
static void test_long_single_line(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    static char big[20000];
    memset(big, 'b', sizeof(big));
    memcpy(big, "Cookie: ", 8);
    h_send(&c, 0, "GET /c HTTP/1.1\r\nHost: h\r\n", 1);
    for (size_t off = 0; off < sizeof(big); off += 1400)
        h_sendb(&c, 0, big + off, sizeof(big) - off < 1400 ? sizeof(big) - off : 1400, 2);
    h_send(&c, 0, "\r\nUser-Agent: ua\r\n\r\n", 3);
    /* an over-long status line: the response is unreadable, the direction resyncs */
    memcpy(big, "HTTP/1.1 200 ", 13);
    h_sendb(&c, 1, big, sizeof(big), 4);
    h_send(&c, 1, "\r\n\r\n", 5);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7_http, line_too_long), 2);
    assert_int_equal(MC_CTR_GET(l7_http, header_too_large), 0);
    assert_int_equal(MC_CTR_GET(l7, buffer_exceeded), 0);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpUserAgent\":\"ua\"");
    h_lacks(0, "httpStatusCode");
    h_teardown(t);
}

/* One 64 KiB line: too long and too large a block; the next message is read. */
static void test_64k_single_line(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    static char big[65536];
    memset(big, 'b', sizeof(big));
    memcpy(big, "Cookie: ", 8);
    h_send(&c, 0, "GET /c HTTP/1.1\r\nHost: h\r\n", 1);
    h_sendb(&c, 0, big, sizeof(big), 2);
    h_send(&c, 0, "\r\nUser-Agent: ua\r\n\r\nGET /d HTTP/1.1\r\nUser-Agent: ub\r\n\r\n", 3);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7_http, line_too_long), 1);
    assert_int_equal(MC_CTR_GET(l7_http, header_too_large), 1);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpRequestHost\":\"h\"");
    h_lacks(0, "httpUserAgent");
    h_has(1, "\"httpUserAgent\":\"ub\"");
    h_teardown(t);
}

static void chunk_lie(const char *sizes, uint64_t want_ctr_idx, const char *want_body)
{
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET / HTTP/1.1\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", 2);
    h_send(&c, 1, sizes, 3);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4); /* not parsed: the direction stopped */
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpStatusCode\":200");
    h_has(0, want_body);
    assert_int_equal(mc_l7_http_ctr[want_ctr_idx], 1);
    assert_int_equal(MC_CTR_GET(l7_http, responses), 1);
    h_teardown(t);
}

static void test_chunk_size_lies(void **state)
{
    (void)state;
#define BODY5 "\"httpResponseBodyLength\":5"
    chunk_lie("FFFFFFFFFFFFFFFFFFFF\r\n", MC_CTR_ID_l7_http_chunk_too_large, BODY5); /* overflows 64 bits */
    chunk_lie("10000000001\r\n", MC_CTR_ID_l7_http_chunk_too_large, BODY5);          /* > 1 TiB */
    chunk_lie("-5\r\n", MC_CTR_ID_l7_http_bad_chunk_size, BODY5);                    /* negative */
    chunk_lie("zz\r\n", MC_CTR_ID_l7_http_bad_chunk_size, BODY5);                    /* not hex */
    chunk_lie("12x\r\n", MC_CTR_ID_l7_http_bad_chunk_size, BODY5);                   /* junk after digits */
    chunk_lie("\r\n", MC_CTR_ID_l7_http_bad_chunk_size, BODY5);                      /* empty */
    /* data longer than said: the 2 bytes are body, then no CR LF */
    chunk_lie("2\r\nabcdef\r\n", MC_CTR_ID_l7_http_bad_chunk_end, "\"httpResponseBodyLength\":7");
    static char ext[2100];
    memset(ext, ' ', sizeof(ext));
    memcpy(ext, "1;", 2);
    memcpy(ext + sizeof(ext) - 3, "\r\n", 3);
    chunk_lie(ext, MC_CTR_ID_l7_http_chunk_ext_too_long, BODY5);
#undef BODY5
}

static void test_content_length_lies(void **state)
{
    (void)state;
    static const char *const bad[] = { "99999999999999999999999", "-1", "5, 6", "0x10", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mc_flow_table *t = setup();
        struct h_conn c = h_tcp_conn(t, 80);
        char rsp[160];
        snprintf(rsp, sizeof(rsp), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nbody", bad[i]);
        h_send(&c, 0, "GET / HTTP/1.1\r\n\r\n", 1);
        h_send(&c, 1, rsp, 2);
        h_finish(t);
        assert_int_equal(h_n_lines, 1);
        h_has(0, "\"httpStatusCode\":200");
        h_has(0, "\"httpResponseBodyLength\":0");
        assert_int_equal(MC_CTR_GET(l7_http, bad_content_length), 1);
        h_teardown(t);
    }
    /* a request body length that lies the same way */
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "POST / HTTP/1.1\r\nContent-Length: 1e9\r\n\r\nxx", 1);
    h_send(&c, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 2);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpStatusCode\":400");
    assert_int_equal(MC_CTR_GET(l7_http, bad_content_length), 1);
    h_teardown(t);
    /* a Content-Length longer than what comes: the body runs to the end, the transaction is cut there */
    t = setup();
    c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET / HTTP/1.1\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nshort", 2);
    h_finish(t);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpResponseBodyLength\":5");
    assert_int_equal(MC_CTR_GET(l7_http, incomplete), 1);
    h_teardown(t);
}

static void test_missing_crlf(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    /* bare LF ends lines (RFC 9112 2.2 allows it); a message whose end never comes is cut at the end */
    h_send(&c, 0, "GET /lf HTTP/1.0\nHost: lf\n\n", 1);
    h_send(&c, 1, "HTTP/1.0 200 OK\nContent-Length: 2\n\nok", 2);
    h_send(&c, 0, "GET /nocrlf HTTP/1.1\r\nHost: x\r\n", 3);
    h_finish(t);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpRequestHost\":\"lf\"");
    h_has(0, "\"httpResponseBodyLength\":2");
    h_has(1, "\"httpRequestTarget\":\"/nocrlf\"");
    assert_int_equal(MC_CTR_GET(l7_http, incomplete), 1);
    h_teardown(t);
}

static void test_bad_lines(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "OPTIONSHTTP/1.1\r\nHost: www\r\n\r\n", 1); /* not a request line */
    h_send(&c, 1, "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 2);
    h_send(&c, 0, "GET /ok HTTP/1.1\r\nBad Header\r\nHost : spaced\r\n folded\r\n\r\n", 3);
    h_send(&c, 1, "HTTP/1.1 2xx Hmm\r\n", 4);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7_http, bad_request_line), 1);
    assert_int_equal(MC_CTR_GET(l7_http, bad_status_line), 1);
    assert_int_equal(MC_CTR_GET(l7_http, bad_header), 2);
    assert_int_equal(MC_CTR_GET(l7_http, obs_fold), 1);
    assert_int_equal(h_n_lines, 2);
    h_has(0, "\"httpStatusCode\":400");
    h_lacks(0, "httpRequestMethod");
    h_has(1, "\"httpRequestTarget\":\"/ok\"");
    h_lacks(1, "httpRequestHost");
    h_has(1, "\"httpStatusCode\":200");
    h_teardown(t);
}

static void test_pipeline_overflow(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    char reqs[4096] = "", rsps[4096] = "";
    for (int i = 0; i < MC_HTTP_MAX_PENDING + 3; i++) {
        char r[64];
        snprintf(r, sizeof(r), "GET /%d HTTP/1.1\r\n\r\n", i);
        strncat(reqs, r, sizeof(reqs) - strlen(reqs) - 1);
        strncat(rsps, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", sizeof(rsps) - strlen(rsps) - 1);
    }
    h_send(&c, 0, reqs, 1);
    h_send(&c, 1, rsps, 2);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7_http, pipeline_overflow), 1);
    assert_int_equal(h_n_lines, MC_HTTP_MAX_PENDING);
    h_has(MC_HTTP_MAX_PENDING - 1, "\"httpRequestTarget\":\"/7\"");
    h_has(MC_HTTP_MAX_PENDING - 1, "\"httpStatusCode\":200");
    assert_int_equal(MC_CTR_GET(l7_http, unmatched_response), 0);
    h_teardown(t);
}

static void test_long_values_truncated(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 80);
    static char req[4096];
    char target[2001];
    memset(target, 'p', 2000);
    target[0] = '/';
    target[2000] = 0;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);
    h_send(&c, 0, req, 1);
    h_finish(t);
    assert_int_equal(strlen(h_rec_s("httpRequestTarget")), 1024);
    assert_int_equal(MC_CTR_GET(l7_http, truncated), 1);
    h_teardown(t);
}

static void test_detect_attaches_on_other_port(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct h_conn c = h_tcp_conn(t, 31600);
    h_send(&c, 0, "GET /x HTTP/1.1\r\nHost: h:31600\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
    h_finish(t);
    assert_int_equal(MC_CTR_GET(l7, attached_payload), 1);
    assert_int_equal(h_n_lines, 1);
    h_has(0, "\"httpRequestHost\":\"h:31600\"");
    h_teardown(t);
}

/* ---- cloud aggregates ---------------------------------------------------- */

static int64_t cell(struct mc_agg *a, const char *key, int kind, const char *field)
{
    struct mc_agg_cell *c = mc_agg_cell_get(a, key, strlen(key), kind, field, strlen(field));
    assert_non_null(c);
    return c->n;
}

static uint32_t key_ttl(const struct mc_agg *a, const char *key)
{
    for (uint32_t i = 0; i < a->nk; i++)
        if (a->k[i].len == strlen(key) && memcmp(mc_agg_text(a, a->k[i].text), key, a->k[i].len) == 0)
            return a->k[i].ttl_ms;
    fail_msg("no key %s", key);
    return 0;
}

static void test_cloud_aggregates(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    mc_l7_set_agg(h_l7, &agg);
    struct h_conn c = h_tcp_conn(t, 80);
    h_send(&c, 0, "GET /a HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n", 1);
    h_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 2);
    h_send(&c, 0, "GET /b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 3);
    h_send(&c, 1, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 40);
    h_send(&c, 0, "GET /c HTTP/1.0\r\n\r\n", 50); /* no Host: the server's address */
    h_send(&c, 1, "HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n", 51);
    h_send(&c, 0, "GET /d HTTP/1.1\r\nHost: bad host\r\n\r\n", 60); /* unanswered, not a key */
    h_finish(t);
    const char *k = "http.host.example.com:8080";
    assert_int_equal(cell(&agg, k, MC_AGG_INCR, "requests"), 2);
    assert_int_equal(cell(&agg, k, MC_AGG_INCR, "status_2xx"), 1);
    assert_int_equal(cell(&agg, k, MC_AGG_INCR, "status_4xx"), 1);
    assert_int_equal(cell(&agg, k, MC_AGG_INCR, "bytes"), 8);
    assert_int_equal(cell(&agg, k, MC_AGG_MAX, "last_seen"), 1000040);
    assert_int_equal(key_ttl(&agg, k), MC_HTTP_AGG_TTL_MS);
    assert_int_equal(cell(&agg, "http.host.10.0.0.2", MC_AGG_INCR, "requests"), 1);
    assert_int_equal(cell(&agg, "http.host.10.0.0.2", MC_AGG_INCR, "status_5xx"), 1);
    assert_int_equal(agg.nk, 2);
    assert_int_equal(MC_CTR_GET(l7_http, agg_bad_host), 1);
    assert_int_equal(MC_CTR_GET(l7_http, agg_refused), 0);
    h_teardown(t);
    mc_agg_free(&agg);
}

/* ---- pure parsers -------------------------------------------------------- */

static int req(const char *s, int strict, const char *m, const char *t, const char *v)
{
    struct mc_http_str a, b, d;
    if (!mc_http_parse_request_line((const uint8_t *)s, strlen(s), strict, &a, &b, &d))
        return 0;
    assert_int_equal(a.n, strlen(m));
    assert_memory_equal(a.p, m, a.n);
    assert_int_equal(b.n, strlen(t));
    assert_memory_equal(b.p, t, b.n);
    assert_int_equal(d.n, strlen(v));
    assert_memory_equal(d.p, v, d.n);
    return 1;
}

static void test_request_line(void **state)
{
    (void)state;
    assert_true(req("GET / HTTP/1.1", 0, "GET", "/", "HTTP/1.1"));
    assert_true(req("OPTIONS * HTTP/1.1", 1, "OPTIONS", "*", "HTTP/1.1"));
    assert_true(req("CCM_POST / HTTP/1.", 0, "CCM_POST", "/", "HTTP/1."));
    /* what Wireshark also calls requests */
    assert_true(req("OPTIONS HTTP/1.1", 0, "OPTIONS", "HTTP/1.1", ""));
    assert_true(req("GET /HTTP/1.1", 0, "GET", "/HTTP/1.1", ""));
    assert_true(req("OPTIONS", 0, "OPTIONS", "", ""));
    assert_false(req("OPTIONS", 1, "", "", ""));
    assert_false(req("GET /HTTP/1.1", 1, "", "", ""));
    assert_false(req("OPTIONSHTTP/1.1", 0, "", "", ""));
    assert_false(req("get / HTTP/1.1", 0, "", "", ""));
    assert_false(req("GET /a b HTTP/1.1", 0, "", "", ""));
    assert_false(req("GET /\x01 HTTP/1.1", 0, "", "", ""));
    assert_false(req("Host: x", 0, "", "", ""));
    assert_false(req("", 0, "", "", ""));
    assert_false(req("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1", 0, "", "", ""));
}

static void test_status_line(void **state)
{
    (void)state;
    struct mc_http_str v, r;
    unsigned st = 0;
    const char *ok = "HTTP/1.1 404 Not Found";
    assert_true(mc_http_parse_status_line((const uint8_t *)ok, strlen(ok), &v, &st, &r));
    assert_int_equal(st, 404);
    assert_int_equal(r.n, 9);
    assert_int_equal(v.n, 8);
    assert_true(mc_http_parse_status_line((const uint8_t *)"HTTP/1.0 200", 12, &v, &st, &r));
    assert_int_equal(r.n, 0);
    static const char *const bad[] = { "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 099 x", "HTTP/1.1",
                                       "HTTP/1.1 ", "ICY 200 OK", "HTTP/1.1 abc", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mc_http_parse_status_line((const uint8_t *)bad[i], strlen(bad[i]), &v, &st, &r));
}

static void test_content_length_parser(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(mc_http_parse_content_length((const uint8_t *)"42", 2, &v));
    assert_int_equal(v, 42);
    assert_true(mc_http_parse_content_length((const uint8_t *)"7 , 7", 5, &v));
    assert_int_equal(v, 7);
    assert_true(mc_http_parse_content_length((const uint8_t *)"999999999999999999", 18, &v));
    assert_false(mc_http_parse_content_length((const uint8_t *)"1000000000000000000", 19, &v));
    assert_false(mc_http_parse_content_length((const uint8_t *)"7,8", 3, &v));
    assert_false(mc_http_parse_content_length((const uint8_t *)"7,", 2, &v));
    assert_false(mc_http_parse_content_length((const uint8_t *)"+7", 2, &v));
    assert_false(mc_http_parse_content_length((const uint8_t *)"", 0, &v));
}

static void test_detect(void **state)
{
    (void)state;
    int (*d)(const uint8_t *, size_t, int) = mc_l7_http.detect;
#define D(s, dir) d((const uint8_t *)(s), strlen(s), dir)
    assert_true(D("GET / HTTP/1.1\r\nHost: x\r\n", 0));
    assert_true(D("PROPFIND /dav HTTP/1.1\r\n", 0));
    assert_true(D("POST /very/long/path", 0)); /* the line goes on: a common method is enough */
    assert_false(D("OPTIONS rtsp://cam/ RTSP/1.0\r\n", 0));
    assert_false(D("INVITE sip:bob@example.com SIP/2.0\r\n", 0));
    assert_false(D("USER anonymous\r\n", 0));
    assert_false(D("EHLO mail\r\n", 0));
    assert_false(D("GE", 0));
    assert_true(D("HTTP/1.1 200 OK\r\n", 1));
    assert_true(D("HTTP/", 1));
    assert_false(D("HTTP/2", 1));
    assert_false(D("220 ftp ready\r\n", 1));
#undef D
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined_in_one_segment),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_chunked_split_anywhere),
        cmocka_unit_test(test_interim_and_close_delimited),
        cmocka_unit_test(test_unmatched_and_unanswered),
        cmocka_unit_test(test_upgrade_stops),
        cmocka_unit_test(test_server_seen_first),
        cmocka_unit_test(test_gap_inside_body_is_stepped_over),
        cmocka_unit_test(test_gap_in_headers_resyncs),
        cmocka_unit_test(test_64k_header_block),
        cmocka_unit_test(test_long_single_line),
        cmocka_unit_test(test_64k_single_line),
        cmocka_unit_test(test_chunk_size_lies),
        cmocka_unit_test(test_content_length_lies),
        cmocka_unit_test(test_missing_crlf),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_pipeline_overflow),
        cmocka_unit_test(test_long_values_truncated),
        cmocka_unit_test(test_detect_attaches_on_other_port),
        cmocka_unit_test(test_cloud_aggregates),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_content_length_parser),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
