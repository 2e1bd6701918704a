/*
 * test_dpi.c - the nDPI wrapper (dpi.c) on crafted IP datagrams: a DNS
 * query and its answer, an HTTP GET after a TCP handshake, a TLS
 * ClientHello with SNI, garbage given up as Unknown, the guess by port and
 * address; then through the stage: nDPI's flow state freed at the verdict,
 * at --dpi-max-packets and at the flow's end, and a flow nDPI never saw
 * (no payload, no SYN) still labelled by its ports, as ndpiReader does.
 * LeakSanitizer (build with -DMC_SANITIZE=ON) checks that every nDPI flow
 * is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow/flow.h"
#include "l7/internal.h"

/* nDPI 4.2 protocol ids (ndpi_protocol_ids.h) */
#define NDPI_HTTP 7
#define NDPI_TLS 91

#define FIN 0x01
#define SYN 0x02
#define PSH 0x08
#define ACK 0x10

static const uint8_t CLI[4] = { 10, 0, 0, 1 };
static const uint8_t SRV[4] = { 10, 0, 0, 2 };

struct dgram {
    uint8_t b[1600];
    size_t len;
    size_t l4_off, pay_off;
};

/* An IPv4 datagram: TCP (proto 6, with seq/ack/flags) or UDP (17) carrying p[0..n). */
static void ip4(struct dgram *d, uint8_t proto, const uint8_t src[4], const uint8_t dst[4], uint16_t sport,
                uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *p, size_t n)
{
    size_t l4 = proto == 6 ? 20 : 8;
    assert_true(20 + l4 + n <= sizeof(d->b));
    memset(d, 0, sizeof(*d));
    d->len = 20 + l4 + n;
    d->l4_off = 20;
    d->pay_off = 20 + l4;
    uint8_t *h = d->b;
    h[0] = 0x45;
    h[2] = (uint8_t)(d->len >> 8), h[3] = (uint8_t)d->len;
    h[8] = 64;
    h[9] = proto;
    memcpy(h + 12, src, 4);
    memcpy(h + 16, dst, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    h[10] = (uint8_t)(~sum >> 8), h[11] = (uint8_t)~sum;
    uint8_t *t = h + 20;
    t[0] = (uint8_t)(sport >> 8), t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8), t[3] = (uint8_t)dport;
    if (proto == 6) {
        for (int i = 0; i < 4; i++) {
            t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
            t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
        }
        t[12] = 5 << 4;
        t[13] = flags;
        t[14] = 0xff, t[15] = 0xff;
    } else {
        t[4] = (uint8_t)((8 + n) >> 8), t[5] = (uint8_t)(8 + n);
    }
    if (n)
        memcpy(h + d->pay_off, p, n);
}

/* ---- crafted payloads ----------------------------------------------------- */

/* A DNS message for name (dotted) type A: a query, or an answer with one A record. */
static size_t dns_msg(uint8_t *b, const char *name, int answer)
{
    static const uint8_t q[12] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
    static const uint8_t a[12] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0 };
    memcpy(b, answer ? a : q, 12);
    size_t n = 12;
    for (const char *s = name; *s;) {
        size_t k = strcspn(s, ".");
        b[n++] = (uint8_t)k;
        memcpy(b + n, s, k);
        n += k;
        s += k;
        s += *s == '.';
    }
    b[n++] = 0;
    static const uint8_t tail[4] = { 0, 1, 0, 1 };
    memcpy(b + n, tail, 4);
    n += 4;
    if (answer) {
        static const uint8_t rr[16] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 142, 250, 185, 4 };
        memcpy(b + n, rr, sizeof(rr));
        n += sizeof(rr);
    }
    return n;
}

static void put16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* A TLS 1.2 ClientHello record with a server_name extension. */
static size_t client_hello(uint8_t *b, const char *sni)
{
    size_t sl = strlen(sni);
    uint8_t *p = b + 9; /* after the record (5) and handshake (4) headers */
    size_t n = 0;
    p[n++] = 3, p[n++] = 3;               /* client_version */
    for (int i = 0; i < 32; i++)          /* random */
        p[n++] = (uint8_t)(i * 37 + 11);
    p[n++] = 0;                           /* session id */
    static const uint8_t suites[] = { 0, 6, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9c };
    memcpy(p + n, suites, sizeof(suites));
    n += sizeof(suites);
    p[n++] = 1, p[n++] = 0;               /* compression: null */
    size_t ext_at = n;
    n += 2;
    put16(p + n, 0), put16(p + n + 2, sl + 5), put16(p + n + 4, sl + 3); /* server_name, its list */
    p[n + 6] = 0;                                                         /* host_name */
    put16(p + n + 7, sl);
    memcpy(p + n + 9, sni, sl);
    n += 9 + sl;
    put16(p + ext_at, n - ext_at - 2);
    b[5] = 1;                             /* client_hello */
    b[6] = 0, put16(b + 7, n);
    b[0] = 0x16, b[1] = 3, b[2] = 1;
    put16(b + 3, n + 4);
    return n + 9;
}

/* Bytes no dissector claims (a fixed pseudo-random sequence). */
static void junk_fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t k = 0; k < n; k++) {
        seed = seed * 1103515245u + 12345u;
        p[k] = (uint8_t)(seed >> 16);
    }
}

/* ---- the wrapper alone ------------------------------------------------------ */

static struct mc_l7_dpi *dpi;

static int setup_dpi(void **state)
{
    (void)state;
    char err[256];
    dpi = mc_l7_dpi_new(err, sizeof(err));
    return dpi ? 0 : -1;
}

static int teardown_dpi(void **state)
{
    (void)state;
    mc_l7_dpi_free(dpi, 0);
    dpi = NULL;
    return 0;
}

static int feed(void *flow, const struct dgram *d, uint64_t ms, uint16_t *m, uint16_t *a)
{
    return mc_l7_dpi_packet(dpi, flow, d->b, d->len, ms, m, a);
}

static void assert_name(uint16_t m, uint16_t a, const char *want)
{
    char name[L7_NAME_LEN];
    mc_l7_dpi_name(dpi, m, a, name, sizeof(name));
    assert_string_equal(name, want);
}

static void test_dns_query_and_answer(void **state)
{
    (void)state;
    void *f = mc_l7_dpi_flow_new();
    assert_non_null(f);
    uint8_t msg[256];
    struct dgram d;
    uint16_t m = 0, a = 0;
    ip4(&d, 17, CLI, SRV, 40000, 53, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 0));
    int final = feed(f, &d, 1000, &m, &a);
    assert_true(m || a); /* known from the query; nDPI may wait for the answer */
    if (!final) {
        ip4(&d, 17, SRV, CLI, 53, 40000, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 1));
        final = feed(f, &d, 1001, &m, &a);
    }
    assert_true(final);
    assert_name(m, a, "DNS.Google");
    mc_l7_dpi_flow_free(f);
}

static void test_http_get_after_handshake(void **state)
{
    (void)state;
    void *f = mc_l7_dpi_flow_new();
    uint16_t m = 0, a = 0;
    struct dgram d;
    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88\r\n"
                              "Accept: */*\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n";
    ip4(&d, 6, CLI, SRV, 40001, 80, 100, 0, SYN, NULL, 0);
    assert_false(feed(f, &d, 1000, &m, &a));
    ip4(&d, 6, SRV, CLI, 80, 40001, 900, 101, SYN | ACK, NULL, 0);
    assert_false(feed(f, &d, 1001, &m, &a));
    ip4(&d, 6, CLI, SRV, 40001, 80, 101, 901, ACK, NULL, 0);
    assert_false(feed(f, &d, 1002, &m, &a));
    ip4(&d, 6, CLI, SRV, 40001, 80, 101, 901, PSH | ACK, get, sizeof(get) - 1);
    int final = feed(f, &d, 1003, &m, &a);
    assert_int_equal(a ? a : m, NDPI_HTTP);
    if (!final) {
        ip4(&d, 6, SRV, CLI, 80, 40001, 901, 101 + (uint32_t)sizeof(get) - 1, PSH | ACK, ok, sizeof(ok) - 1);
        final = feed(f, &d, 1004, &m, &a);
    }
    uint16_t gm = m, ga = a;
    int guessed = 1;
    if (!final) /* still refining: the verdict stands */
        mc_l7_dpi_giveup(dpi, f, &gm, &ga, &guessed);
    assert_name(gm, ga, "HTTP");
    mc_l7_dpi_flow_free(f);
}

static void test_tls_client_hello_sni(void **state)
{
    (void)state;
    void *f = mc_l7_dpi_flow_new();
    uint16_t m = 0, a = 0;
    struct dgram d;
    uint8_t ch[512];
    size_t n = client_hello(ch, "www.google.com");
    ip4(&d, 6, CLI, SRV, 40002, 443, 100, 0, SYN, NULL, 0);
    feed(f, &d, 1000, &m, &a);
    ip4(&d, 6, SRV, CLI, 443, 40002, 900, 101, SYN | ACK, NULL, 0);
    feed(f, &d, 1001, &m, &a);
    ip4(&d, 6, CLI, SRV, 40002, 443, 101, 901, ACK, NULL, 0);
    feed(f, &d, 1002, &m, &a);
    ip4(&d, 6, CLI, SRV, 40002, 443, 101, 901, PSH | ACK, ch, n);
    feed(f, &d, 1003, &m, &a);
    assert_int_equal(m, NDPI_TLS); /* the SNI named the app; the certificate would refine it */
    int guessed;
    mc_l7_dpi_giveup(dpi, f, &m, &a, &guessed);
    assert_false(guessed);
    assert_name(m, a, "TLS.Google");
    mc_l7_dpi_flow_free(f);
}

static void test_garbage_gives_up_unknown(void **state)
{
    (void)state;
    void *f = mc_l7_dpi_flow_new();
    uint16_t m = 0, a = 0;
    struct dgram d;
    uint8_t junk[200];
    for (int i = 0; i < 8; i++) {
        junk_fill(junk, sizeof(junk), 12345u + (uint32_t)i);
        if (i & 1)
            ip4(&d, 17, SRV, CLI, 47001, 47000, 0, 0, 0, junk, sizeof(junk) - (size_t)i);
        else
            ip4(&d, 17, CLI, SRV, 47000, 47001, 0, 0, 0, junk, sizeof(junk) - (size_t)i);
        assert_false(feed(f, &d, 1000 + (uint64_t)i, &m, &a));
    }
    int guessed = 1;
    mc_l7_dpi_giveup(dpi, f, &m, &a, &guessed);
    assert_int_equal(m, 0);
    assert_int_equal(a, 0);
    assert_false(guessed);
    assert_name(m, a, "Unknown");
    mc_l7_dpi_flow_free(f);
}

static void test_truncated_datagrams(void **state)
{
    (void)state;
    /* IP headers that promise more than was captured, or no transport at all */
    void *f = mc_l7_dpi_flow_new();
    uint16_t m, a;
    uint8_t msg[256];
    struct dgram d;
    ip4(&d, 17, CLI, SRV, 40000, 53, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 0));
    for (size_t cut = 0; cut < d.len; cut += 3)
        mc_l7_dpi_packet(dpi, f, d.b, cut, 1000, &m, &a);
    mc_l7_dpi_flow_free(f);
    mc_l7_dpi_flow_free(NULL);
}

static void test_guess_by_port_and_address(void **state)
{
    (void)state;
    struct mc_flow_key k;
    uint16_t m, a;
    memset(&k, 0, sizeof(k));
    k.ip_ver = 4, k.proto = 6;
    memcpy(k.addr[0].b, CLI, 4);
    static const uint8_t google[4] = { 173, 194, 43, 59 };
    memcpy(k.addr[1].b, google, 4);
    k.port[0] = 57403, k.port[1] = 80;
    mc_l7_dpi_guess(dpi, &k, &m, &a);
    assert_name(m, a, "HTTP.Google");
    memcpy(k.addr[1].b, SRV, 4);
    mc_l7_dpi_guess(dpi, &k, &m, &a);
    assert_name(m, a, "HTTP");
    k.ip_ver = 6, k.port[1] = 443; /* IPv6: the port alone */
    memset(k.addr, 0x20, sizeof(k.addr));
    mc_l7_dpi_guess(dpi, &k, &m, &a);
    assert_name(m, a, "TLS");
    k.port[0] = 47000, k.port[1] = 47001;
    mc_l7_dpi_guess(dpi, &k, &m, &a);
    assert_name(m, a, "Unknown");
}

/* ---- through the stage ------------------------------------------------------ */

static struct mc_l7 *l7;
static char exported[4][L7_NAME_LEN];
static int n_exported, n_dpi_live_at_export, n_state_at_export;

static const struct mc_ie *ie_named(const char *name)
{
    for (size_t i = 0; i < mc_l7_n_ies(); i++)
        if (strcmp(mc_l7_ie(i)->name, name) == 0)
            return mc_l7_ie(i);
    fail_msg("no element %s", name);
    return NULL;
}

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    const struct l7_flow *lf = f->ext ? f->ext->l7_state : NULL;
    n_state_at_export += lf != NULL;
    n_dpi_live_at_export += lf && lf->dpi;
    mc_l7_flow_end(l7, f); /* the last verdict, as the probe does before export */
    lf = f->ext ? f->ext->l7_state : NULL;
    assert_true(!lf || !lf->dpi); /* never exported with an nDPI flow still held */
    struct mc_ie_env env = { .f = f, .biflow = 1 };
    struct mc_ie_val v;
    memset(&v, 0, sizeof(v));
    ie_named("applicationName")->get(&env, &v);
    assert_true(n_exported < 4);
    snprintf(exported[n_exported++], L7_NAME_LEN, "%.*s", (int)v.str_len, v.str);
}

static const struct mc_l7_analyzer *const no_analyzers[1];

static struct mc_flow_table *stage(int with_dpi, uint16_t max_packets)
{
    memset(exported, 0, sizeof(exported));
    n_exported = n_dpi_live_at_export = n_state_at_export = 0;
    mc_ctr_reset();
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = with_dpi;
    cfg.analyzers = no_analyzers; /* nDPI only */
    cfg.n_analyzers = 0;
    if (max_packets)
        cfg.dpi_max_packets = max_packets;
    char err[256];
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 16;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(t);
    mc_l7_attach(l7, t);
    return t;
}

static void done(struct mc_flow_table *t)
{
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
    mc_l7_free(l7);
    l7 = NULL;
}

/* Meters datagram d as the decoder would describe it. */
static void meter(struct mc_flow_table *t, const struct dgram *d, uint64_t ms)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    const uint8_t *h = d->b, *l4 = d->b + d->l4_off;
    p.ts_ms = ms;
    p.ip_ver = 4;
    p.proto = h[9];
    memcpy(p.src.b, h + 12, 4);
    memcpy(p.dst.b, h + 16, 4);
    p.ip_len = (uint32_t)d->len;
    p.sport = (uint16_t)(l4[0] << 8 | l4[1]);
    p.dport = (uint16_t)(l4[2] << 8 | l4[3]);
    p.has_l4 = 1;
    if (p.proto == 6) {
        p.tcp_seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 | (uint32_t)l4[6] << 8 | l4[7];
        p.tcp_ack = (uint32_t)l4[8] << 24 | (uint32_t)l4[9] << 16 | (uint32_t)l4[10] << 8 | l4[11];
        p.tcp_flags = l4[13];
    }
    p.l3 = d->b;
    p.l3_len = d->len;
    p.payload = d->b + d->pay_off;
    p.payload_len = d->len - d->pay_off;
    mc_flow_process(t, &p);
}

static void test_stage_frees_at_verdict(void **state)
{
    (void)state;
    struct mc_flow_table *t = stage(1, 0);
    uint8_t msg[256];
    struct dgram d;
    ip4(&d, 17, CLI, SRV, 40000, 53, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 0));
    meter(t, &d, 1000);
    ip4(&d, 17, SRV, CLI, 53, 40000, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 1));
    meter(t, &d, 1001);
    assert_int_equal(MC_CTR_GET(l7, dpi_flows), 1);
    assert_int_equal(MC_CTR_GET(l7, dpi_detected), 1);
    done(t);
    assert_int_equal(n_exported, 1);
    assert_int_equal(n_dpi_live_at_export, 0); /* freed at the verdict, not at the end */
    assert_string_equal(exported[0], "DNS.Google");
}

static void test_stage_gives_up_at_max_packets(void **state)
{
    (void)state;
    struct mc_flow_table *t = stage(1, 3);
    struct dgram d;
    uint8_t junk[64];
    for (int i = 0; i < 3; i++) {
        junk_fill(junk, sizeof(junk), 777u + (uint32_t)i);
        ip4(&d, 17, CLI, SRV, 47000, 47001, 0, 0, 0, junk, sizeof(junk) - (size_t)i);
        meter(t, &d, 1000 + (uint64_t)i);
    }
    assert_int_equal(MC_CTR_GET(l7, dpi_undetected), 1);
    ip4(&d, 17, CLI, SRV, 47000, 47001, 0, 0, 0, junk, 10); /* nDPI is not asked again */
    meter(t, &d, 1004);
    done(t);
    assert_int_equal(n_dpi_live_at_export, 0);
    assert_int_equal(MC_CTR_GET(l7, dpi_undetected), 1);
    assert_string_equal(exported[0], "Unknown");
}

static void test_stage_gives_up_at_end(void **state)
{
    (void)state;
    struct mc_flow_table *t = stage(1, 0);
    struct dgram d;
    static const char hello[] = "hello there, nothing nDPI knows";
    ip4(&d, 17, CLI, SRV, 47000, 47001, 0, 0, 0, hello, sizeof(hello) - 1);
    meter(t, &d, 1000);
    done(t);
    assert_int_equal(n_dpi_live_at_export, 1); /* undecided until its end ... */
    assert_int_equal(MC_CTR_GET(l7, dpi_undetected), 1); /* ... then given up and freed (LSan) */
    assert_string_equal(exported[0], "Unknown");
}

static void test_stage_guesses_flows_nDPI_never_saw(void **state)
{
    (void)state;
    struct mc_flow_table *t = stage(1, 0);
    struct dgram d;
    /* the tail of a connection: FIN/ACK and ACK, no payload, no SYN */
    ip4(&d, 6, CLI, SRV, 57403, 80, 500, 900, FIN | ACK, NULL, 0);
    meter(t, &d, 1000);
    ip4(&d, 6, SRV, CLI, 80, 57403, 900, 501, ACK, NULL, 0);
    meter(t, &d, 1001);
    assert_int_equal(MC_CTR_GET(l7, dpi_flows), 0); /* no nDPI flow was made for it */
    done(t);
    assert_int_equal(n_state_at_export, 0);
    assert_int_equal(MC_CTR_GET(l7, dpi_guessed), 1);
    assert_string_equal(exported[0], "HTTP"); /* as ndpiReader labels it */
}

static void test_stage_without_dpi(void **state)
{
    (void)state;
    struct mc_flow_table *t = stage(0, 0);
    uint8_t msg[256];
    struct dgram d;
    ip4(&d, 17, CLI, SRV, 40000, 53, 0, 0, 0, msg, dns_msg(msg, "www.google.com", 0));
    meter(t, &d, 1000);
    ip4(&d, 6, CLI, SRV, 57403, 80, 500, 900, ACK, NULL, 0);
    meter(t, &d, 1001);
    done(t);
    assert_int_equal(n_exported, 2);
    assert_string_equal(exported[0], ""); /* --no-dpi: no label at all */
    assert_string_equal(exported[1], "");
    assert_int_equal(MC_CTR_GET(l7, dpi_flows), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dns_query_and_answer, setup_dpi, teardown_dpi),
        cmocka_unit_test_setup_teardown(test_http_get_after_handshake, setup_dpi, teardown_dpi),
        cmocka_unit_test_setup_teardown(test_tls_client_hello_sni, setup_dpi, teardown_dpi),
        cmocka_unit_test_setup_teardown(test_garbage_gives_up_unknown, setup_dpi, teardown_dpi),
        cmocka_unit_test_setup_teardown(test_truncated_datagrams, setup_dpi, teardown_dpi),
        cmocka_unit_test_setup_teardown(test_guess_by_port_and_address, setup_dpi, teardown_dpi),
        cmocka_unit_test(test_stage_frees_at_verdict),
        cmocka_unit_test(test_stage_gives_up_at_max_packets),
        cmocka_unit_test(test_stage_gives_up_at_end),
        cmocka_unit_test(test_stage_guesses_flows_nDPI_never_saw),
        cmocka_unit_test(test_stage_without_dpi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
