/*
 * test_dns.c - the DNS analyzer: the message parser (names, compression,
 * answers as text, hostile inputs: pointer loops and forward pointers,
 * truncated headers, counts that lie, bad rdata), detect(), and the
 * analyzer through the real L7 stage and flow table (UDP and TCP pairing,
 * retransmissions, unanswered queries, responses without a query, the
 * pending table's bound, TCP framing: split messages, length prefix lies,
 * gaps, the buffer cap) with its transaction log and flow record fields.
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
#include "log_harness.h"
#include "l7/dns.h"
#include "l7/l7.h"
#include "cloud/aggtab.h"

#define CTR(id) MC_CTR_GET(l7_dns, id)

static void reset_counters(void)
{
    mc_ctr_reset();
    memset(mc_l7_dns_ctr, 0, sizeof(mc_l7_dns_ctr));
}

/* ---- message builder ------------------------------------------------------ */

struct msg {
    uint8_t b[8192];
    size_t n;
};

static void put8(struct msg *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void put16(struct msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v & 0xff);
}
static void put32(struct msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}
static void putb(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
/* "www.example.com" as uncompressed labels and the root */
static void putname(struct msg *m, const char *dotted)
{
    while (*dotted) {
        size_t l = strcspn(dotted, ".");
        put8(m, (unsigned)l);
        putb(m, dotted, l);
        dotted += l;
        if (*dotted == '.')
            dotted++;
    }
    put8(m, 0);
}
static void header(struct msg *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, qd);
    put16(m, an);
    put16(m, ns);
    put16(m, ar);
}
static void query(struct msg *m, unsigned id, const char *name, unsigned type)
{
    header(m, id, 0x0100, 1, 0, 0, 0);
    putname(m, name);
    put16(m, type);
    put16(m, 1);
}
/* a response to query(): the question at 12, answers pointing at it */
static void response(struct msg *m, unsigned id, const char *name, unsigned type, unsigned rcode, unsigned an)
{
    header(m, id, 0x8180 | rcode, 1, an, 0, 0);
    putname(m, name);
    put16(m, type);
    put16(m, 1);
}
static void rr_a(struct msg *m, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    put16(m, 0xc00c);
    put16(m, 1);
    put16(m, 1);
    put32(m, ttl);
    put16(m, 4);
    put8(m, a), put8(m, b), put8(m, c), put8(m, d);
}

/* ---- parser ---------------------------------------------------------------- */

static void test_query_fields(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    query(&m, 0xbeef, "www.Example.com", 28);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_OK);
    assert_int_equal(d.id, 0xbeef);
    assert_int_equal(d.qr, 0);
    assert_int_equal(d.qtype, 28);
    assert_int_equal(d.qclass, 1);
    assert_string_equal(d.qname, "www.Example.com");
    assert_int_equal(d.qname_len, 15);
    assert_int_equal(d.answers_len, 0);
    assert_int_equal(d.has_ttl, 0);
    assert_int_equal(CTR(messages), 1);
}

static void test_response_answers(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    response(&m, 7, "www.example.com", 1, 0, 6);
    /* CNAME www.example.com -> web.example.com (compressed: "web" + pointer to example.com at 16) */
    put16(&m, 0xc00c), put16(&m, 5), put16(&m, 1), put32(&m, 300);
    put16(&m, 6);
    put8(&m, 3), putb(&m, "web", 3), put16(&m, 0xc010);
    size_t web = m.n - 6;
    /* A on the CNAME target */
    put16(&m, 0xc000 | (unsigned)web), put16(&m, 1), put16(&m, 1), put32(&m, 60);
    put16(&m, 4), put8(&m, 192), put8(&m, 0), put8(&m, 2), put8(&m, 1);
    /* AAAA */
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    put16(&m, 0xc00c), put16(&m, 28), put16(&m, 1), put32(&m, 7200), put16(&m, 16), putb(&m, v6, 16);
    /* MX 10 mail.example.com */
    put16(&m, 0xc010), put16(&m, 15), put16(&m, 1), put32(&m, 3600);
    put16(&m, 2 + 7), put16(&m, 10), put8(&m, 4), putb(&m, "mail", 4), put16(&m, 0xc010);
    /* PTR */
    put16(&m, 0xc00c), put16(&m, 12), put16(&m, 1), put32(&m, 100);
    put16(&m, 2), put16(&m, 0xc010);
    /* TXT: counted, not rendered */
    put16(&m, 0xc00c), put16(&m, 16), put16(&m, 1), put32(&m, 30), put16(&m, 3), put8(&m, 2), putb(&m, "hi", 2);
    /* header said 6, there are 6: fix the count to what we wrote */
    m.b[7] = 6;
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_OK);
    assert_int_equal(d.qr, 1);
    assert_int_equal(d.rcode, 0);
    assert_int_equal(d.ancount, 6);
    assert_int_equal(d.answers_parsed, 6);
    assert_string_equal(d.answers, "web.example.com,192.0.2.1,2001:db8::1,10 mail.example.com,example.com");
    assert_int_equal(d.answers_len, strlen(d.answers));
    assert_int_equal(d.has_ttl, 1);
    assert_int_equal(d.min_ttl, 30);
    assert_int_equal(d.n_addr, 2);
    assert_int_equal(d.addr[0].ver, 4);
    assert_int_equal(d.addr[0].b[0], 192);
    assert_int_equal(d.addr[1].ver, 6);
    assert_memory_equal(d.addr[1].b, v6, 16);
    assert_int_equal(CTR(bad_rdata), 0);
}

static void test_name_text(void **state)
{
    (void)state;
    char t[MC_DNS_NAME_MAX + 1];
    size_t next;
    /* a dot and a control byte inside labels: tshark's spelling (\ooo) */
    static const uint8_t odd[] = { 3, 'a', '.', 'b', 2, 0, 0x7f, 0 };
    assert_int_equal(mc_l7_dns_name(odd, sizeof(odd), 0, t, sizeof(t), &next), 12);
    assert_string_equal(t, "a.b.\\000\\177");
    assert_int_equal(next, sizeof(odd));
    static const uint8_t root[] = { 0 };
    assert_int_equal(mc_l7_dns_name(root, 1, 0, t, sizeof(t), &next), 6);
    assert_string_equal(t, "<Root>");
    /* text cut on a whole character, never half an escape */
    char small[6];
    assert_int_equal(mc_l7_dns_name(odd, sizeof(odd), 0, small, sizeof(small), &next), 4);
    assert_string_equal(small, "a.b.");
}

static void test_pointer_loop_and_forward(void **state)
{
    (void)state;
    char t[MC_DNS_NAME_MAX + 1];
    size_t next;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    /* a pointer to itself */
    header(&m, 1, 0x0100, 1, 0, 0, 0);
    put16(&m, 0xc00c);
    put16(&m, 1), put16(&m, 1);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_BAD);
    assert_int_equal(CTR(pointer_loop), 1);
    /* back into the labels of the same name: 3abc then a pointer to 12 */
    header(&m, 1, 0x0100, 1, 0, 0, 0);
    put8(&m, 3), putb(&m, "abc", 3), put16(&m, 0xc00c);
    put16(&m, 1), put16(&m, 1);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_BAD);
    assert_int_equal(CTR(pointer_loop), 2);
    /* a two-name loop: the answer's owner points forward to a pointer that points back */
    response(&m, 1, "a.b", 1, 0, 1);
    size_t here = m.n;
    put16(&m, 0xc000 | (unsigned)(here + 2)); /* forward */
    put16(&m, 0xc000 | (unsigned)here);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_PARTIAL);
    assert_int_equal(CTR(pointer_forward), 1);
    assert_string_equal(d.qname, "a.b");
    /* forward pointer in the question */
    header(&m, 1, 0x0100, 1, 0, 0, 0);
    put16(&m, 0xc020);
    put16(&m, 1), put16(&m, 1);
    while (m.n < 0x30)
        put8(&m, 0);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_BAD);
    assert_int_equal(CTR(pointer_forward), 2);
    /* a pointer past the end of the message */
    static const uint8_t past[] = { 1, 'x', 0xff, 0xff };
    assert_int_equal(mc_l7_dns_name(past, sizeof(past), 0, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(pointer_forward), 3);
    /* a pointer cut in half */
    static const uint8_t half[] = { 1, 'x', 0xc0 };
    assert_int_equal(mc_l7_dns_name(half, sizeof(half), 0, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(name_truncated), 1);
}

static void test_pointer_chain(void **state)
{
    (void)state;
    char t[MC_DNS_NAME_MAX + 1];
    size_t next;
    uint8_t b[2 * 200 + 4];
    /* at 0: "\1x\0"; then pointers each to the one before it (legal: each goes back) */
    b[0] = 1, b[1] = 'x', b[2] = 0;
    size_t n = 3;
    size_t prev = 0;
    for (int i = 0; i < 200; i++) {
        b[n] = (uint8_t)(0xc0 | prev >> 8);
        b[n + 1] = (uint8_t)prev;
        prev = n;
        n += 2;
    }
    reset_counters();
    /* MC_DNS_MAX_HOPS hops are fine, one more is refused */
    size_t ok_start = 3 + 2 * (MC_DNS_MAX_HOPS - 1);
    assert_int_equal(mc_l7_dns_name(b, n, ok_start, t, sizeof(t), &next), 1);
    assert_string_equal(t, "x");
    assert_int_equal(next, ok_start + 2);
    assert_int_equal(mc_l7_dns_name(b, n, ok_start + 2, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(too_many_pointers), 1);
    assert_int_equal(mc_l7_dns_name(b, n, n - 2, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(too_many_pointers), 2);
}

static void test_bad_labels(void **state)
{
    (void)state;
    char t[MC_DNS_NAME_MAX + 1];
    size_t next;
    reset_counters();
    static const uint8_t ext[] = { 0x41, 1, 'x', 0 };
    assert_int_equal(mc_l7_dns_name(ext, sizeof(ext), 0, t, sizeof(t), &next), -1);
    static const uint8_t ten[] = { 0x80, 1, 'x', 0 };
    assert_int_equal(mc_l7_dns_name(ten, sizeof(ten), 0, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(bad_label_type), 2);
    /* 255 octets on the wire is the limit: 3 x 63-byte labels + a 61-byte one = 255 with the root */
    uint8_t b[300];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        b[n++] = 63;
        memset(b + n, 'a', 63);
        n += 63;
    }
    b[n++] = 61;
    memset(b + n, 'b', 61);
    n += 61;
    b[n++] = 0;
    assert_int_equal(n, 255);
    long len = mc_l7_dns_name(b, n, 0, t, sizeof(t), &next);
    assert_int_equal(len, 253);
    b[3 * 64] = 62; /* one more byte: 256 */
    memmove(b + 3 * 64 + 63, b + 3 * 64 + 62, n - (3 * 64 + 62));
    b[3 * 64 + 62] = 'b';
    n++;
    assert_int_equal(mc_l7_dns_name(b, n, 0, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(name_too_long), 1);
    /* a label longer than what is left */
    static const uint8_t cut[] = { 9, 'a', 'b' };
    assert_int_equal(mc_l7_dns_name(cut, sizeof(cut), 0, t, sizeof(t), &next), -1);
    assert_int_equal(CTR(name_truncated), 1);
}

static void test_truncated_headers(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    query(&m, 1, "example.com", 1);
    for (size_t n = 0; n < 12; n++) {
        /* exact-size copies so a read past n trips ASan */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, m.b, n);
        assert_int_equal(mc_l7_dns_parse(p, n, &d), MC_DNS_BAD);
        free(p);
    }
    assert_int_equal(CTR(too_short), 12);
}

static void test_truncation_everywhere(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    response(&m, 9, "www.example.com", 1, 0, 3);
    rr_a(&m, 50, 10, 0, 0, 1);
    rr_a(&m, 40, 10, 0, 0, 2);
    put16(&m, 0xc00c), put16(&m, 5), put16(&m, 1), put32(&m, 30), put16(&m, 2), put16(&m, 0xc010);
    reset_counters();
    for (size_t n = 0; n <= m.n; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, m.b, n);
        int r = mc_l7_dns_parse(p, n, &d);
        if (n < 12 + 17 + 4)
            assert_int_equal(r, MC_DNS_BAD);
        else if (n < m.n)
            assert_int_equal(r, MC_DNS_PARTIAL);
        else
            assert_int_equal(r, MC_DNS_OK);
        assert_true(d.answers_len <= MC_DNS_ANSWERS_MAX);
        free(p);
    }
    assert_string_equal(d.answers, "10.0.0.1,10.0.0.2,example.com");
    assert_int_equal(d.min_ttl, 30);
    assert_true(CTR(answers_truncated) > 0);
    assert_true(CTR(question_truncated) > 0);
}

static void test_counts_that_lie(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    /* ancount says 50, two answers follow */
    response(&m, 3, "example.com", 1, 0, 50);
    rr_a(&m, 100, 1, 2, 3, 4);
    rr_a(&m, 90, 1, 2, 3, 5);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_PARTIAL);
    assert_int_equal(d.ancount, 50); /* as the header says, like tshark's dns.count.answers */
    assert_int_equal(d.answers_parsed, 2);
    assert_string_equal(d.answers, "1.2.3.4,1.2.3.5");
    assert_int_equal(d.min_ttl, 90);
    assert_int_equal(CTR(answers_truncated), 1);
    assert_int_equal(CTR(name_truncated), 0);
    /* qdcount says 65535 */
    header(&m, 4, 0x0100, 0xffff, 0, 0, 0);
    putname(&m, "example.com");
    put16(&m, 1), put16(&m, 1);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_PARTIAL);
    assert_string_equal(d.qname, "example.com");
    assert_int_equal(CTR(extra_questions), 1);
    assert_int_equal(CTR(question_truncated), 1);
    /* no question at all, and a non-query opcode */
    header(&m, 5, 0x8180, 0, 0, 0, 0);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_BAD);
    assert_int_equal(CTR(no_question), 1);
    query(&m, 6, "example.com", 6);
    m.b[2] = 0x28; /* opcode 5: UPDATE */
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_BAD);
    assert_int_equal(CTR(opcode_other), 1);
    /* rdlength past the end */
    response(&m, 7, "example.com", 1, 0, 1);
    put16(&m, 0xc00c), put16(&m, 1), put16(&m, 1), put32(&m, 5), put16(&m, 400), put32(&m, 0);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_PARTIAL);
    assert_int_equal(CTR(answers_truncated), 2);
    assert_int_equal(d.has_ttl, 0);
}

static void test_bad_rdata(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    response(&m, 8, "example.com", 1, 0, 3);
    /* an A with 5 bytes of rdata */
    put16(&m, 0xc00c), put16(&m, 1), put16(&m, 1), put32(&m, 5), put16(&m, 5), put32(&m, 0), put8(&m, 0);
    /* a CNAME whose 2 rdata bytes "\1x" continue into the next RR (its owner pointer) */
    put16(&m, 0xc00c), put16(&m, 5), put16(&m, 1), put32(&m, 5), put16(&m, 2), put8(&m, 1), put8(&m, 'x');
    rr_a(&m, 7, 9, 9, 9, 9);
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_OK);
    assert_int_equal(CTR(bad_rdata), 2);
    assert_string_equal(d.answers, "9.9.9.9");
    assert_int_equal(d.answers_parsed, 3);
    assert_int_equal(d.min_ttl, 5);
}

static void test_answers_text_cap(void **state)
{
    (void)state;
    struct msg m;
    struct mc_dns_msg d;
    reset_counters();
    response(&m, 10, "many.example", 1, 0, 100);
    for (int i = 0; i < 100; i++)
        rr_a(&m, 1000u - (uint32_t)i, 203, 0, 113, (uint8_t)(100 + i));
    assert_int_equal(mc_l7_dns_parse(m.b, m.n, &d), MC_DNS_OK);
    assert_true(d.answers_len <= MC_DNS_ANSWERS_MAX);
    assert_true(d.answers_len > MC_DNS_ANSWERS_MAX - 16);
    assert_int_equal(strlen(d.answers), d.answers_len);
    /* a prefix of whole items */
    assert_memory_equal(d.answers, "203.0.113.100,203.0.113.101,", 28);
    assert_true(d.answers[d.answers_len - 1] != ',');
    assert_int_equal(CTR(answers_text_full), 1);
    assert_int_equal(d.min_ttl, 901); /* every answer counts for the TTL */
    assert_int_equal(d.n_addr, MC_DNS_ADDRS);
}

static void test_detect(void **state)
{
    (void)state;
    struct msg m;
    query(&m, 0x1234, "www.example.com", 1);
    assert_true(mc_l7_dns_detect(m.b, m.n, 0));
    /* a response seen first */
    response(&m, 0x1234, "www.example.com", 1, 3, 0);
    assert_true(mc_l7_dns_detect(m.b, m.n, 1));
    /* TCP: the length prefix first */
    struct msg t;
    query(&m, 0x1234, "www.example.com", 1);
    t.n = 0;
    put16(&t, (unsigned)m.n);
    putb(&t, m.b, m.n);
    assert_true(mc_l7_dns_detect(t.b, t.n, 0));
    /* not DNS */
    static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_false(mc_l7_dns_detect((const uint8_t *)http, sizeof(http) - 1, 0));
    assert_false(mc_l7_dns_detect(m.b, 11, 0));
    query(&m, 1, "x", 1);
    m.b[5] = 2; /* two questions */
    assert_false(mc_l7_dns_detect(m.b, m.n, 0));
    query(&m, 1, "x", 1);
    m.b[m.n - 1] = 9; /* class 9 */
    assert_false(mc_l7_dns_detect(m.b, m.n, 0));
    query(&m, 1, "x", 1);
    m.b[2] |= 0x10; /* opcode 2 */
    assert_false(mc_l7_dns_detect(m.b, m.n, 0));
    static const uint8_t zero[64];
    assert_false(mc_l7_dns_detect(zero, sizeof(zero), 0));
}

/* ---- the analyzer through the L7 stage --------------------------------------- */

static const struct mc_l7_analyzer *const only_dns[] = { &mc_l7_dns };
static struct mc_l7 *l7;
static char log_path[64];

/* flow record values read at export, for the getters */
struct rec {
    char name[MC_DNS_NAME_MAX + 1], answers[MC_DNS_ANSWERS_MAX + 1];
    uint64_t qtype, qclass, id, rcode, ancount, ttl, rtt, nq, nr;
    int seen;
};
static struct rec rec;

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(l7, f);
    struct mc_ie_env env = { .f = f };
    uint64_t *u[] = { NULL, &rec.qtype, &rec.qclass, &rec.id, &rec.rcode, &rec.ancount, NULL, &rec.ttl, &rec.rtt,
                      &rec.nq, &rec.nr };
    assert_int_equal(mc_l7_dns.n_fields, 11);
    for (size_t i = 0; i < mc_l7_dns.n_fields; i++) {
        struct mc_ie_val v = { 0 };
        mc_l7_dns.fields[i].get(&env, &v);
        if (u[i]) {
            *u[i] = v.u;
        } else {
            char *dst = i == 0 ? rec.name : rec.answers;
            assert_true(v.str_len <= mc_ie_max_len(&mc_l7_dns.fields[i]));
            memcpy(dst, v.str, v.str_len);
            dst[v.str_len] = 0;
        }
    }
    rec.seen++;
}

static struct mc_flow_table *setup_stage(uint32_t max_buffer)
{
    memset(&rec, 0, sizeof(rec));
    reset_counters();
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_dns;
    cfg.n_analyzers = 1;
    if (max_buffer)
        cfg.max_buffer = max_buffer;
    snprintf(log_path, sizeof(log_path), "/tmp/test_dns_%d.json", (int)getpid());
    unlink(log_path);
    cfg.log_path = log_path;
    char err[256];
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 64;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(t);
    mc_l7_attach(l7, t);
    return t;
}

#define SYN 0x02
#define ACK 0x10

/* dir 0: client 10.0.0.1:sport -> server 10.0.0.2:dport */
static void pkt(struct mc_flow_table *t, int dir, uint8_t proto, uint16_t sport, uint16_t dport, uint32_t seq,
                uint8_t flags, const uint8_t *data, size_t n, uint64_t ts)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = dir ? 2 : 1;
    p.dst.b[0] = 10, p.dst.b[3] = dir ? 1 : 2;
    p.sport = dir ? dport : sport;
    p.dport = dir ? sport : dport;
    p.proto = proto;
    p.has_l4 = 1;
    p.tcp_seq = seq;
    p.tcp_flags = flags;
    p.ts_ms = ts;
    p.payload = data;
    p.payload_len = n;
    p.ip_len = 40 + (uint32_t)n;
    mc_flow_process(t, &p);
}

static void udp(struct mc_flow_table *t, int dir, const struct msg *m, uint64_t ts)
{
    pkt(t, dir, 17, 40000, 53, 0, 0, m->b, m->n, ts);
}

static void test_udp_pair(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct msg q, r;
    query(&q, 0x0a0b, "www.Example.com", 1);
    response(&r, 0x0a0b, "www.example.com", 1, 0, 2);
    rr_a(&r, 300, 93, 184, 216, 34);
    rr_a(&r, 200, 93, 184, 216, 35);
    udp(t, 0, &q, 1000000);
    udp(t, 1, &r, 1000042);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 1);
    char l[2048];
    h_log_line(0, l, sizeof(l));
    assert_non_null(strstr(l, "\"protocol\":\"dns\""));
    assert_non_null(strstr(l, "\"transactionStartMilliseconds\":1000000"));
    assert_non_null(strstr(l, "\"dnsQueryName\":\"www.Example.com\",\"dnsQueryType\":1,\"dnsQueryClass\":1,"
                              "\"dnsTransactionId\":2571,\"dnsResponseCode\":0,\"dnsAnswerCount\":2,"
                              "\"dnsAnswers\":\"93.184.216.34,93.184.216.35\",\"dnsMinTtl\":200,"
                              "\"dnsResponseTimeMs\":42}"));
    assert_int_equal(rec.seen, 1);
    assert_string_equal(rec.name, "www.Example.com");
    assert_string_equal(rec.answers, "93.184.216.34,93.184.216.35");
    assert_int_equal(rec.qtype, 1);
    assert_int_equal(rec.id, 0x0a0b);
    assert_int_equal(rec.ancount, 2);
    assert_int_equal(rec.ttl, 200);
    assert_int_equal(rec.rtt, 42);
    assert_int_equal(rec.nq, 1);
    assert_int_equal(rec.nr, 1);
    assert_int_equal(CTR(queries), 1);
    assert_int_equal(CTR(responses), 1);
    assert_int_equal(MC_CTR_GET(l7, attached_port), 1);
}

static void test_unanswered_unmatched_retransmitted(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct msg q1, q2, r2, r3;
    query(&q1, 1, "one.example", 1);
    query(&q2, 2, "two.example", 28);
    response(&r2, 2, "two.example", 28, 3, 0); /* NXDOMAIN */
    response(&r3, 3, "three.example", 1, 0, 0);
    udp(t, 0, &q1, 5000);
    udp(t, 0, &q2, 5001);
    udp(t, 0, &q2, 5900); /* retransmission: the transaction starts at the first */
    udp(t, 1, &r2, 6001);
    udp(t, 1, &r3, 6002); /* its query was never seen */
    udp(t, 1, &r2, 6003); /* a duplicate response: its query was answered already */
    assert_int_equal(h_stage_finish(&l7, t, log_path), 4);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsQueryName\":\"two.example\""));
    assert_non_null(strstr(l, "\"transactionStartMilliseconds\":5001"));
    assert_non_null(strstr(l, "\"dnsResponseCode\":3,\"dnsAnswerCount\":0,\"dnsResponseTimeMs\":1000}"));
    assert_non_null(strstr(h_log_line(1, l, sizeof(l)), "\"dnsQueryName\":\"three.example\""));
    assert_null(strstr(l, "dnsResponseTimeMs"));
    assert_non_null(strstr(l, "\"transactionStartMilliseconds\":6002"));
    assert_non_null(strstr(h_log_line(2, l, sizeof(l)), "\"dnsQueryName\":\"two.example\""));
    assert_null(strstr(l, "dnsResponseTimeMs"));
    /* unanswered: emitted at the end, with no response fields */
    assert_non_null(strstr(h_log_line(3, l, sizeof(l)), "\"dnsQueryName\":\"one.example\""));
    assert_non_null(strstr(l, "\"dnsTransactionId\":1}"));
    assert_int_equal(CTR(query_retransmitted), 1);
    assert_int_equal(CTR(response_without_query), 2);
    assert_int_equal(CTR(query_unanswered), 1);
    /* the flow record carries the first transaction emitted */
    assert_string_equal(rec.name, "two.example");
    assert_int_equal(rec.rcode, 3);
    assert_int_equal(rec.rtt, 1000);
    assert_int_equal(rec.nq, 3);
    assert_int_equal(rec.nr, 3);
}

static void test_retry_after_timeout(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct msg q, r;
    query(&q, 77, "retry.example", 1);
    response(&r, 77, "retry.example", 1, 0, 0);
    udp(t, 0, &q, 10000);
    udp(t, 0, &q, 14999); /* within 5 s: a retransmission */
    udp(t, 0, &q, 15000); /* 5 s on: a new ask, the first one went unanswered */
    udp(t, 1, &r, 15010);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 2);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"transactionStartMilliseconds\":10000"));
    assert_null(strstr(l, "dnsResponseCode"));
    assert_non_null(strstr(h_log_line(1, l, sizeof(l)), "\"transactionStartMilliseconds\":15000"));
    assert_non_null(strstr(l, "\"dnsResponseTimeMs\":10}"));
    assert_int_equal(CTR(query_retransmitted), 1);
    assert_int_equal(CTR(query_unanswered), 1);
}

static void test_pending_bound(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct msg q;
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        query(&q, 100 + (unsigned)i, name, 1);
        udp(t, 0, &q, 1000 + (uint64_t)i);
    }
    assert_int_equal(CTR(pending_evicted), 12);
    struct msg r;
    response(&r, 119, "n19.example", 1, 0, 0);
    udp(t, 1, &r, 3000);
    response(&r, 100, "n0.example", 1, 0, 0); /* evicted long ago */
    udp(t, 1, &r, 3001);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 21);
    char l[2048];
    /* evicted first, oldest first */
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsQueryName\":\"n0.example\""));
    assert_non_null(strstr(h_log_line(12, l, sizeof(l)), "\"dnsQueryName\":\"n19.example\""));
    assert_non_null(strstr(l, "\"dnsResponseTimeMs\":1981"));
    assert_non_null(strstr(h_log_line(13, l, sizeof(l)), "\"dnsQueryName\":\"n0.example\""));
    assert_null(strstr(l, "dnsResponseTimeMs"));
    assert_int_equal(CTR(query_unanswered), 7);
    assert_int_equal(CTR(response_without_query), 1);
}

/*
 * Names longer than a pending query keeps inline (63 bytes) get their own
 * copy: they are matched whole, emitted whole, and their slot is reused
 * for short and long names alike (ASan sees every copy freed).
 */
static void test_long_names_pending(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    char longer[3][128];
    for (int i = 0; i < 3; i++) /* 63 + 1 + 12 bytes: "aaa...a.<n>.example" */
        snprintf(longer[i], sizeof(longer[i]), "%063d.%d.example", i, i);
    struct msg q, r;
    query(&q, 1, longer[0], 1); /* the inline slot, with its copy */
    udp(t, 0, &q, 1000);
    query(&q, 2, "short.example", 1); /* the larger table */
    udp(t, 0, &q, 1001);
    query(&q, 3, longer[1], 1);
    udp(t, 0, &q, 1002);
    response(&r, 1, longer[0], 1, 0, 0);
    udp(t, 1, &r, 1010);
    query(&q, 4, "again.example", 1); /* the first slot again, short this time */
    udp(t, 0, &q, 1011);
    response(&r, 3, longer[1], 1, 0, 0);
    udp(t, 1, &r, 1020);
    query(&q, 5, longer[2], 1); /* unanswered: emitted at the end, whole */
    udp(t, 0, &q, 1021);
    response(&r, 4, "again.example", 1, 0, 0);
    udp(t, 1, &r, 1030);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 5);
    char l[2048], want[256];
    snprintf(want, sizeof(want), "\"dnsQueryName\":\"%s\"", longer[0]);
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), want));
    assert_non_null(strstr(l, "\"dnsResponseTimeMs\":10}"));
    snprintf(want, sizeof(want), "\"dnsQueryName\":\"%s\"", longer[1]);
    assert_non_null(strstr(h_log_line(1, l, sizeof(l)), want));
    assert_non_null(strstr(l, "\"dnsResponseTimeMs\":18}"));
    assert_non_null(strstr(h_log_line(2, l, sizeof(l)), "\"dnsQueryName\":\"again.example\""));
    assert_non_null(strstr(l, "\"dnsResponseTimeMs\":19}"));
    /* unanswered, oldest first */
    assert_non_null(strstr(h_log_line(3, l, sizeof(l)), "\"dnsQueryName\":\"short.example\""));
    snprintf(want, sizeof(want), "\"dnsQueryName\":\"%s\"", longer[2]);
    assert_non_null(strstr(h_log_line(4, l, sizeof(l)), want));
    assert_null(strstr(l, "dnsResponseTimeMs"));
    assert_int_equal(CTR(response_without_query), 0);
    assert_int_equal(CTR(query_unanswered), 2);
    assert_string_equal(rec.name, longer[0]);
}

static void test_link_local_ignored(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct msg q;
    query(&q, 0, "printer.local", 1);
    /* detect() attaches on the payload; the analyzer stays out on 5353 */
    pkt(t, 0, 17, 5353, 5353, 0, 0, q.b, q.n, 1000);
    assert_int_equal(MC_CTR_GET(l7, attached_payload), 1);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 0);
    assert_int_equal(CTR(link_local_ignored), 1);
    assert_int_equal(CTR(queries), 0);
}

/* TCP: the client sends seq from 1001, the server from 5001 */
static void tcp(struct mc_flow_table *t, int dir, uint32_t *seq, const uint8_t *p, size_t n, uint64_t ts)
{
    pkt(t, dir, 6, 40001, 53, *seq, ACK, p, n, ts);
    *seq += (uint32_t)n;
}

static void framed(struct msg *out, const struct msg *m)
{
    put16(out, (unsigned)m->n);
    putb(out, m->b, m->n);
}

static void test_tcp_messages(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    uint32_t cs = 1001, ss = 5001;
    pkt(t, 0, 6, 40001, 53, 1000, SYN, NULL, 0, 1000);
    pkt(t, 1, 6, 40001, 53, 5000, SYN | ACK, NULL, 0, 1001);
    /* two queries in one segment */
    struct msg q1, q2, r1, r2, s;
    query(&q1, 11, "a.example", 1);
    query(&q2, 12, "b.example", 1);
    s.n = 0;
    framed(&s, &q1);
    framed(&s, &q2);
    tcp(t, 0, &cs, s.b, s.n, 1002);
    /* the responses byte by byte, the second one's length split across segments */
    response(&r1, 11, "a.example", 1, 0, 1);
    rr_a(&r1, 10, 1, 1, 1, 1);
    response(&r2, 12, "b.example", 1, 0, 1);
    rr_a(&r2, 20, 2, 2, 2, 2);
    s.n = 0;
    framed(&s, &r1);
    framed(&s, &r2);
    for (size_t i = 0; i < s.n; i++)
        tcp(t, 1, &ss, s.b + i, 1, 1010 + i);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 2);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsQueryName\":\"a.example\""));
    assert_non_null(strstr(l, "\"dnsAnswers\":\"1.1.1.1\""));
    assert_non_null(strstr(h_log_line(1, l, sizeof(l)), "\"dnsQueryName\":\"b.example\""));
    assert_non_null(strstr(l, "\"dnsAnswers\":\"2.2.2.2\""));
    assert_non_null(strstr(l, "\"protocolIdentifier\":6"));
    assert_int_equal(CTR(tcp_partial_at_end), 0);
    assert_int_equal(rec.nq, 2);
}

static void test_tcp_length_lies(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    uint32_t cs = 1001;
    pkt(t, 0, 6, 40001, 53, 1000, SYN, NULL, 0, 1000);
    struct msg q, s;
    query(&q, 21, "c.example", 1);
    s.n = 0;
    put16(&s, 0);          /* zero length: skipped */
    put16(&s, 5);          /* too short for a header: its 5 bytes skipped */
    putb(&s, "\1\2\3\4\5", 5);
    framed(&s, &q);        /* then a good query */
    put16(&s, (unsigned)q.n - 4); /* a length shorter than the message: the tail is cut */
    putb(&s, q.b, q.n - 4);
    put16(&s, 4000);       /* a length the connection never completes */
    putb(&s, q.b, q.n);
    tcp(t, 0, &cs, s.b, s.n, 1002);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 1);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsQueryName\":\"c.example\""));
    assert_int_equal(CTR(tcp_zero_length), 1);
    assert_int_equal(CTR(tcp_short_length), 1);
    assert_int_equal(CTR(question_truncated), 1);
    assert_int_equal(CTR(tcp_partial_at_end), 1);
    assert_int_equal(CTR(query_unanswered), 1);
}

static void test_tcp_gap_resync(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    uint32_t cs = 1001;
    pkt(t, 0, 6, 40001, 53, 1000, SYN, NULL, 0, 1000);
    struct msg q1, q2, s;
    query(&q1, 31, "d.example", 1);
    query(&q2, 32, "e.example", 1);
    s.n = 0;
    framed(&s, &q1);
    /* the first 10 bytes of q1's segment are lost; the rest is garbage to us */
    cs += 10;
    tcp(t, 0, &cs, s.b + 10, s.n - 10, 1002);
    s.n = 0;
    framed(&s, &q2);
    tcp(t, 0, &cs, s.b, s.n, 1003); /* starts like a message: resynchronised */
    /* the peer acknowledges the lost bytes so the hole is declared */
    assert_int_equal(h_stage_finish(&l7, t, log_path), 1);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsQueryName\":\"e.example\""));
    assert_int_equal(CTR(tcp_gap_desync), 1);
}

static void test_tcp_buffer_cap(void **state)
{
    (void)state;
    /* 1024 bytes per flow: a quarter (256) per direction's collector */
    struct mc_flow_table *t = setup_stage(1024);
    uint32_t ss = 5001, cs = 1001;
    pkt(t, 0, 6, 40001, 53, 1000, SYN, NULL, 0, 1000);
    pkt(t, 1, 6, 40001, 53, 5000, SYN | ACK, NULL, 0, 1001);
    struct msg q, big, small, s;
    query(&q, 41, "big.example", 1);
    s.n = 0;
    framed(&s, &q);
    tcp(t, 0, &cs, s.b, s.n, 1002);
    response(&big, 41, "big.example", 1, 0, 40);
    for (int i = 0; i < 40; i++)
        rr_a(&big, 5, 10, 1, 1, (uint8_t)i);
    response(&small, 41, "big.example", 1, 0, 1);
    rr_a(&small, 5, 10, 9, 9, 9);
    s.n = 0;
    framed(&s, &big);
    framed(&s, &small);
    /* split in 100-byte segments: the big one must be collected, and is refused */
    for (size_t off = 0; off < s.n; off += 100)
        tcp(t, 1, &ss, s.b + off, s.n - off < 100 ? s.n - off : 100, 1010 + off);
    assert_int_equal(h_stage_finish(&l7, t, log_path), 1);
    char l[2048];
    assert_non_null(strstr(h_log_line(0, l, sizeof(l)), "\"dnsAnswers\":\"10.9.9.9\""));
    assert_int_equal(CTR(tcp_skipped), 1);
    assert_true(MC_CTR_GET(l7, buffer_exceeded) >= 1);
    assert_int_equal(CTR(tcp_partial_at_end), 0);
}


/* The cell of (key, kind, name) in a, or NULL. */
static const struct mc_agg_cell *cell(const struct mc_agg *a, const char *key, int kind, const char *name)
{
    for (uint32_t i = 0; i < a->nk; i++) {
        const struct mc_agg_key *k = &a->k[i];
        if (!k->live || k->len != strlen(key) || memcmp(a->text + k->text, key, k->len))
            continue;
        for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
            const struct mc_agg_cell *c = &a->c[c1 - 1];
            if (c->kind == kind && c->name_len == strlen(name) && !memcmp(a->text + c->name, name, c->name_len))
                return c;
        }
    }
    return NULL;
}

static const struct mc_agg_key *agg_key(const struct mc_agg *a, const char *key)
{
    for (uint32_t i = 0; i < a->nk; i++)
        if (a->k[i].live && a->k[i].len == strlen(key) && !memcmp(a->text + a->k[i].text, key, a->k[i].len))
            return &a->k[i];
    return NULL;
}

static int64_t val(const struct mc_agg *a, const char *key, int kind, const char *name)
{
    const struct mc_agg_cell *c = cell(a, key, kind, name);
    return c ? c->n : -1;
}

static void test_cloud_aggregates(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0);
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 1000, 1 << 20), 0);
    mc_l7_set_agg(l7, &a);
    struct msg q, r, nx, qnx;
    const uint64_t t0 = 1700000000000ull; /* minute 28333333 */
    query(&q, 1, "WWW.Agg.Example", 1);
    response(&r, 1, "www.agg.example", 1, 0, 2);
    rr_a(&r, 60, 93, 184, 216, 34);
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
    put16(&r, 0xc00c), put16(&r, 28), put16(&r, 1), put32(&r, 60), put16(&r, 16), putb(&r, v6, 16);
    query(&qnx, 2, "nope.agg.example", 1);
    response(&nx, 2, "nope.agg.example", 1, 3, 0);
    udp(t, 0, &q, t0);
    udp(t, 0, &q, t0 + 1); /* a retransmission: not another query */
    udp(t, 1, &r, t0 + 5);
    udp(t, 0, &qnx, t0 + 10);
    udp(t, 1, &nx, t0 + 12);
    pkt(t, 0, 17, 40002, 53, 0, 0, q.b, q.n, t0 + 20); /* the same client again, another port */
    h_stage_finish(&l7, t, log_path);

    /* names are lowercased: 0x20-randomised spellings are one name */
    const char *nk = "dns.name.www.agg.example";
    assert_int_equal(val(&a, nk, MC_AGG_INCR, "queries"), 2);
    assert_int_equal(val(&a, nk, MC_AGG_INCR, "responses"), 1);
    assert_int_equal(val(&a, nk, MC_AGG_INCR, "clients"), 1); /* one client, asked twice */
    assert_int_equal(val(&a, nk, MC_AGG_MAX, "last_seen"), (int64_t)(t0 + 20));
    assert_null(cell(&a, nk, MC_AGG_INCR, "nxdomain"));
    assert_int_equal(agg_key(&a, nk)->ttl_ms, 3600000);
    const char *xk = "dns.name.nope.agg.example";
    assert_int_equal(val(&a, xk, MC_AGG_INCR, "nxdomain"), 1);
    assert_int_equal(val(&a, xk, MC_AGG_INCR, "responses"), 1);
    /* the minute's top names */
    assert_int_equal(val(&a, "dns.top.28333333", MC_AGG_ZINCR, "www.agg.example"), 2);
    assert_int_equal(val(&a, "dns.top.28333333", MC_AGG_ZINCR, "nope.agg.example"), 1);
    assert_int_equal(agg_key(&a, "dns.top.28333333")->ttl_ms, 3600000);
    /* the client */
    assert_int_equal(val(&a, "dns.client.10.0.0.1", MC_AGG_INCR, "queries"), 3);
    assert_int_equal(val(&a, "dns.client.10.0.0.1", MC_AGG_INCR, "responses"), 2);
    assert_int_equal(val(&a, "dns.client.10.0.0.1", MC_AGG_INCR, "nxdomain"), 1);
    assert_int_equal(agg_key(&a, "dns.client.10.0.0.1")->ttl_ms, 3600000);
    /* passive DNS on the answers' addresses, with a TTL so an address no probe meters goes away */
    const struct mc_agg_cell *c = cell(&a, "ip.93.184.216.34", MC_AGG_SET, "name");
    assert_non_null(c);
    assert_int_equal(c->vlen, strlen("www.agg.example"));
    assert_memory_equal(a.text + c->val, "www.agg.example", c->vlen);
    assert_non_null(cell(&a, "ip.2001:db8::7", MC_AGG_SET, "name"));
    assert_int_equal(agg_key(&a, "ip.93.184.216.34")->ttl_ms, 3600000);
    /* one dns.name.new per name, decided by the reply to the queries increment */
    assert_int_equal(a.ne, 2);
    const struct mc_agg_cell *qc = cell(&a, nk, MC_AGG_INCR, "queries");
    assert_true(qc->event > 0);
    const struct mc_agg_event *e = &a.ev[qc->event - 1];
    assert_int_equal(e->cond, 1);
    assert_memory_equal(a.text + e->name, "dns.name.new", e->name_len);
    char json[256];
    assert_true(e->json_len < sizeof(json));
    memcpy(json, a.text + e->json, e->json_len);
    json[e->json_len] = 0;
    assert_string_equal(json, "{\"name\":\"www.agg.example\",\"client\":\"10.0.0.1\",\"ts\":1700000000000}");
    mc_agg_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_fields),
        cmocka_unit_test(test_response_answers),
        cmocka_unit_test(test_name_text),
        cmocka_unit_test(test_pointer_loop_and_forward),
        cmocka_unit_test(test_pointer_chain),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_truncated_headers),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_counts_that_lie),
        cmocka_unit_test(test_bad_rdata),
        cmocka_unit_test(test_answers_text_cap),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_udp_pair),
        cmocka_unit_test(test_unanswered_unmatched_retransmitted),
        cmocka_unit_test(test_retry_after_timeout),
        cmocka_unit_test(test_pending_bound),
        cmocka_unit_test(test_long_names_pending),
        cmocka_unit_test(test_link_local_ignored),
        cmocka_unit_test(test_tcp_messages),
        cmocka_unit_test(test_tcp_length_lies),
        cmocka_unit_test(test_tcp_gap_resync),
        cmocka_unit_test(test_tcp_buffer_cap),
        cmocka_unit_test(test_cloud_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
