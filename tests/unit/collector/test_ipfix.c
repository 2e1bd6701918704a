/* test_ipfix.c - IPFIX messages: header checks, sets, variable-length and enterprise fields, options
 * templates, sequence tracking, hostile lengths, and round trips through the probe's exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/collector/helpers.h"
#include "unit/export/helpers.h"

#define PEN 32473u

/* Template 300: sourceIPv4Address, octetDeltaCount(8), an enterprise field (PEN 32473 id 2, 4 bytes),
 * userName (variable length). */
static void tmpl300(struct bb *b)
{
    size_t s = set_begin(b, 2);
    put16(b, 300), put16(b, 4);
    put16(b, 8), put16(b, 4);
    put16(b, 1), put16(b, 8);
    put16(b, 0x8000 | 2), put16(b, 4), put32(b, PEN);
    put16(b, 371), put16(b, 0xffff);
    set_end(b, s);
}

static void rec300(struct bb *b, uint8_t last, uint64_t octets, uint32_t ent, const char *user, size_t ulen)
{
    put32(b, 0x0a000000u | last);
    put64(b, octets);
    put32(b, ent);
    if (ulen < 255) {
        put8(b, (uint32_t)ulen);
    } else {
        put8(b, 255);
        put16(b, (uint32_t)ulen);
    }
    putn(b, user, ulen);
}

static void test_template_and_data(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    char longname[300];
    memset(longname, 'x', sizeof(longname));
    ipfix_begin(&b, 1700000000, 0, 77);
    tmpl300(&b);
    size_t s = set_begin(&b, 300);
    rec300(&b, 1, 1000, 0xdeadbeef, "alice", 5);
    rec300(&b, 2, 1ull << 40, 7, longname, sizeof(longname)); /* the three-byte length form */
    rec300(&b, 3, 5, 0, "", 0);
    put8(&b, 0), put8(&b, 0); /* padding: shorter than the shortest record */
    set_end(&b, s);
    ipfix_end(&b);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 1000), 3);
    assert_int_equal(cap.n, 3);
    const struct cap_rec *r = &cap.r[0];
    assert_int_equal(r->version, 10);
    assert_int_equal(r->domain, 77);
    assert_int_equal(r->tid, 300);
    assert_int_equal(r->secs, 1700000000);
    assert_int_equal(r->n, 4);
    assert_int_equal(fval(r, 0, 8), 0x0a000001);
    assert_int_equal(fval(r, 0, 1), 1000);
    assert_int_equal(fval(r, PEN, 2), 0xdeadbeef);
    assert_int_equal(fld(r, PEN, 2)->len, 4);
    assert_int_equal(fld(r, 0, 371)->len, 5);
    assert_memory_equal(fld(r, 0, 371)->v, "alice", 5);
    assert_int_equal(fval(&cap.r[1], 0, 1), 1ull << 40);
    assert_int_equal(fld(&cap.r[1], 0, 371)->len, 300);
    assert_memory_equal(fld(&cap.r[1], 0, 371)->v, longname, 300);
    assert_int_equal(fld(&cap.r[2], 0, 371)->len, 0);
    assert_int_equal(ctr("collector.templates.added"), 1);
    assert_int_equal(ctr("collector.records"), 3);
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 10, 77);
    assert_non_null(st);
    assert_int_equal(st->templates, 1);
    assert_int_equal(st->records, 3);
    assert_int_equal(st->next_seq, 3);
    /* names: the probe's element names, ours under PEN 32473, unknown ones as <pen>.<id> */
    char buf[32];
    assert_string_equal(mc_coll_field_name(0, 8, buf, sizeof(buf)), "sourceIPv4Address");
    assert_string_equal(mc_coll_field_name(PEN, 2, buf, sizeof(buf)), "tunnelId");
    assert_string_equal(mc_coll_field_name(29305, 1, buf, sizeof(buf)), "reverseOctetDeltaCount");
    assert_string_equal(mc_coll_field_name(9, 1234, buf, sizeof(buf)), "9.1234");
    assert_string_equal(mc_coll_field_name(0, 34, buf, sizeof(buf)), "samplingInterval");
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_options_template(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    ipfix_begin(&b, 1, 0, 5);
    size_t s = set_begin(&b, 3);
    put16(&b, 400), put16(&b, 3), put16(&b, 1); /* 3 fields, 1 scope */
    put16(&b, 149), put16(&b, 4);               /* observationDomainId (scope) */
    put16(&b, 34), put16(&b, 4);                /* samplingInterval */
    put16(&b, 35), put16(&b, 1);                /* samplingAlgorithm */
    put16(&b, 0);                               /* padding */
    set_end(&b, s);
    s = set_begin(&b, 400);
    put32(&b, 5), put32(&b, 100), put8(&b, 1);
    set_end(&b, s);
    ipfix_end(&b);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 0), 1);
    assert_int_equal(cap.r[0].options, 1);
    assert_int_equal(cap.r[0].scope, 1);
    assert_int_equal(fval(&cap.r[0], 0, 34), 100);
    assert_int_equal(ctr("collector.records.options"), 1);
    /* a scope count of 0, or above the field count, is refused */
    ipfix_begin(&b, 1, 1, 5);
    s = set_begin(&b, 3);
    put16(&b, 401), put16(&b, 1), put16(&b, 0), put16(&b, 149), put16(&b, 4);
    set_end(&b, s);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    ipfix_begin(&b, 1, 1, 5);
    s = set_begin(&b, 3);
    put16(&b, 402), put16(&b, 1), put16(&b, 2), put16(&b, 149), put16(&b, 4);
    set_end(&b, s);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.templates.bad"), 2);
    assert_int_equal(mc_coll_n_templates(c), 1);
    mc_coll_free(c);
    cap_free(&cap);
}

static void data_msg(struct bb *b, uint32_t seq, int nrec)
{
    ipfix_begin(b, 1, seq, 77);
    size_t s = set_begin(b, 300);
    for (int i = 0; i < nrec; i++)
        rec300(b, (uint8_t)i, (uint64_t)i, 0, "u", 1);
    set_end(b, s);
    ipfix_end(b);
}

static void test_sequence(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    ipfix_begin(&b, 1, 100, 77);
    tmpl300(&b);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0); /* template only: next is 100 */
    data_msg(&b, 100, 3);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0); /* next 103 */
    data_msg(&b, 110, 2);                /* 7 records lost */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 10, 77);
    assert_int_equal(st->lost, 7);
    assert_int_equal(cap.r[cap.n - 1].lost, 7);
    assert_int_equal(ctr("collector.seq.lost"), 7);
    data_msg(&b, 105, 1); /* late: counted, the expectation (112) stays */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(st->out_of_order, 1);
    data_msg(&b, 112, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(st->lost, 7);
    /* far behind (more than MC_COLL_SEQ_WINDOW): an exporter restart, followed */
    data_msg(&b, 0xfff00000u, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(st->out_of_order, 2);
    assert_int_equal(st->next_seq, 0xfff00001u);
    uint64_t lost = st->lost;
    /* across 2^32: 0xfffffffe + 3 records is 1 */
    data_msg(&b, 0xfff00001u, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    data_msg(&b, 0xfff00002u, 1);
    b.b[8] = 0xff, b.b[9] = 0xff, b.b[10] = 0xff, b.b[11] = 0xfe; /* the sequence field */
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(st->lost, lost + (0xfffffffeu - 0xfff00002u));
    lost = st->lost;
    data_msg(&b, 0xfffffffeu, 3);
    b.b[8] = 0xff, b.b[9] = 0xff, b.b[10] = 0xff, b.b[11] = 0xff;
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    data_msg(&b, 2, 1);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(st->lost, lost);
    assert_int_equal(st->next_seq, 3);
    /* another domain of the same exporter is another stream */
    ipfix_begin(&b, 1, 5000, 78);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_non_null(mc_coll_stream_find(c, &SRC, 10, 78));
    assert_int_equal(st->lost, lost);
    mc_coll_free(c);
    cap_free(&cap);
}

static void test_bad_headers_and_sets(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    struct bb b;
    ipfix_begin(&b, 1, 0, 77);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, 15, 0), -1);
    assert_int_equal(ctr("collector.ipfix.too_short"), 1);
    b.b[1] = 9;
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, 16, 0), -1);
    assert_int_equal(ctr("collector.ipfix.bad_version"), 1);
    ipfix_begin(&b, 1, 0, 77);
    tmpl300(&b);
    ipfix_end(&b);
    patch16(&b, 2, (uint32_t)b.n + 1); /* longer than the datagram */
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 0), -1);
    patch16(&b, 2, 12);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 0), -1);
    assert_int_equal(ctr("collector.ipfix.bad_length"), 2);
    /* the declared length shorter than the datagram: the rest is ignored */
    ipfix_begin(&b, 1, 0, 77);
    tmpl300(&b);
    ipfix_end(&b);
    size_t len = b.n;
    put32(&b, 0xffffffff);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b.b, b.n, 0), 0);
    assert_int_equal(ctr("collector.sets.malformed"), 0);
    assert_int_equal(mc_coll_n_templates(c), 1);
    (void)len;
    /* a set length below 4, or past the message */
    ipfix_begin(&b, 1, 0, 77);
    put16(&b, 300), put16(&b, 3);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    ipfix_begin(&b, 1, 0, 77);
    put16(&b, 300), put16(&b, 40), put32(&b, 0);
    ipfix_end(&b);
    mc_coll_ipfix(c, &SRC, b.b, b.n, 0);
    assert_int_equal(ctr("collector.sets.malformed"), 2);
    /* a reserved set id is skipped, counted; the next set still decodes */
    data_msg(&b, 0, 1);
    b.n -= 0; /* keep */
    struct bb b2;
    ipfix_begin(&b2, 1, 0, 77);
    size_t s = set_begin(&b2, 7);
    put32(&b2, 0);
    set_end(&b2, s);
    s = set_begin(&b2, 300);
    rec300(&b2, 1, 1, 1, "a", 1);
    set_end(&b2, s);
    ipfix_end(&b2);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b2.b, b2.n, 0), 1);
    assert_int_equal(ctr("collector.sets.reserved_id"), 1);
    /* a variable length that runs past the set: counted, the records before it kept */
    ipfix_begin(&b2, 1, 0, 77);
    s = set_begin(&b2, 300);
    rec300(&b2, 1, 1, 1, "a", 1);
    put32(&b2, 1), put64(&b2, 1), put32(&b2, 1), put8(&b2, 200), put8(&b2, 'x');
    set_end(&b2, s);
    ipfix_end(&b2);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b2.b, b2.n, 0), 1);
    assert_int_equal(ctr("collector.records.malformed"), 1);
    /* bytes but not one record (the template's lengths overrun the set): counted; an empty set is not */
    ipfix_begin(&b2, 1, 0, 77);
    s = set_begin(&b2, 300);
    put32(&b2, 1), put32(&b2, 0), put16(&b2, 0);
    set_end(&b2, s);
    s = set_begin(&b2, 300);
    set_end(&b2, s);
    ipfix_end(&b2);
    assert_int_equal(mc_coll_ipfix(c, &SRC, b2.b, b2.n, 0), 0);
    assert_int_equal(ctr("collector.records.malformed"), 2);
    /* templates: id below 256, zero-length record, too many fields, field list past the set */
    const uint16_t bad[][6] = {
        { 255, 1, 8, 4, 0, 0 },   /* reserved template id */
        { 500, 1, 8, 0, 0, 0 },   /* a record of no bytes */
        { 501, 999, 8, 4, 0, 0 }, /* more fields than we take */
        { 502, 3, 8, 4, 0, 0 },   /* three fields announced, one present */
    };
    for (size_t i = 0; i < 4; i++) {
        ipfix_begin(&b2, 1, 0, 77);
        s = set_begin(&b2, 2);
        for (size_t k = 0; k < 4; k++)
            put16(&b2, bad[i][k]);
        set_end(&b2, s);
        ipfix_end(&b2);
        mc_coll_ipfix(c, &SRC, b2.b, b2.n, 0);
    }
    assert_int_equal(ctr("collector.templates.bad"), 4);
    assert_int_equal(mc_coll_n_templates(c), 1);
    mc_coll_free(c);
    cap_free(&cap);
}

/* Every prefix and every single-byte corruption of a valid message decodes without crashing. */
static void test_truncation_and_corruption(void **state)
{
    (void)state;
    struct cap cap = { 0 };
    struct bb b;
    ipfix_begin(&b, 1, 0, 77);
    tmpl300(&b);
    size_t s = set_begin(&b, 300);
    rec300(&b, 1, 1000, 1, "alice", 5);
    rec300(&b, 2, 1000, 1, "bob", 3);
    set_end(&b, s);
    ipfix_end(&b);
    for (size_t n = 0; n <= b.n; n++) {
        struct mc_coll *c = cap_new(&cap, NULL);
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        int r = mc_coll_ipfix(c, &SRC, copy, n, 0);
        assert_true(n == b.n ? r == 2 : r <= 2);
        free(copy);
        mc_coll_free(c);
    }
    for (size_t i = 0; i < b.n; i++)
        for (unsigned v = 0; v < 256; v += 51) {
            struct mc_coll *c = cap_new(&cap, NULL);
            uint8_t *copy = malloc(b.n);
            memcpy(copy, b.b, b.n);
            copy[i] = (uint8_t)v;
            mc_coll_ipfix(c, &SRC, copy, b.n, 0);
            mc_coll_ipfix(c, &SRC, copy, b.n, 0);
            free(copy);
            mc_coll_free(c);
        }
    cap_free(&cap);
}

/* ---- round trips through the probe's exporter ---------------------------- */

static void round_trip(int biflow)
{
    struct pktlog log = { 0 };
    struct mc_export_config cfg;
    mc_export_config_defaults(&cfg);
    cfg.biflow = biflow;
    cfg.domain_id = 0x01020304;
    cfg.ingress_if = 3;
    cfg.egress_if = 7;
    struct mc_exporter *e = pktlog_exporter(&cfg, &log);
    mc_exporter_tick(e, T0);
    struct mc_flow flows[3] = { tcp4_flow(), udp6_flow(), icmp4_flow() };
    for (int k = 0; k < 2; k++) /* twice: the second messages carry no template */
        for (int i = 0; i < 3; i++)
            mc_exporter_flow(e, &flows[i], T0 + 3000 + (uint64_t)k * 5000);
    mc_exporter_flush(e, T0 + 20000);
    assert_true(log.n >= 2);
    struct cap cap = { 0 };
    struct mc_coll *c = cap_new(&cap, NULL);
    for (size_t i = 0; i < log.n; i++)
        assert_true(mc_coll_ipfix(c, &SRC, log.data[i], log.len[i], T0 + 20000) >= 0);
    size_t want = biflow ? 6 : 10; /* uniflow: the ICMP flow has no reverse record */
    assert_int_equal(cap.n, want);
    for (size_t i = 0; i < cap.n; i++) {
        const struct cap_rec *r = &cap.r[i];
        assert_int_equal(r->domain, 0x01020304);
        const struct mc_flow *f = NULL;
        uint64_t proto = fval(r, 0, 4);
        for (int k = 0; k < 3; k++)
            if (flows[k].key.proto == proto)
                f = &flows[k];
        assert_non_null(f);
        size_t n = check_record_vs_flow(r, f, biflow, e);
        assert_int_equal(n, r->n);
        assert_true(n >= 10);
        if (biflow)
            assert_non_null(fld(r, MC_PEN_REVERSE, 1));
    }
    const struct mc_coll_stream *st = mc_coll_stream_find(c, &SRC, 10, 0x01020304);
    assert_int_equal(st->lost, 0);
    assert_int_equal(st->records, want);
    assert_int_equal(st->templates, 2);
    assert_int_equal(ctr("collector.pending.held"), 0);
    mc_coll_free(c);
    cap_free(&cap);
    mc_exporter_free(e);
    pktlog_free(&log);
}

static void test_round_trip_uniflow(void **state)
{
    (void)state;
    round_trip(0);
}

static void test_round_trip_biflow(void **state)
{
    (void)state;
    round_trip(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_and_data),
        cmocka_unit_test(test_options_template),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_bad_headers_and_sets),
        cmocka_unit_test(test_truncation_and_corruption),
        cmocka_unit_test(test_round_trip_uniflow),
        cmocka_unit_test(test_round_trip_biflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
