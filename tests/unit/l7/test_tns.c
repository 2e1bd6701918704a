/*
 * test_tns.c - the Oracle TNS analyzer through the real L7 stage and flow
 * table: CONNECT with its descriptor and the listener's answers (accept,
 * refuse with its error, redirect, resend), connect data sent in the next
 * DATA packet, 4-byte lengths after an ACCEPT of version 315, SQL text and
 * ORA- errors in DATA packets, flow-record fields, byte-by-byte delivery,
 * gaps, and hostile inputs (lengths below the header or beyond the data,
 * connect data offsets that lie, descriptors without a service or nested
 * too deep, unknown types), each counted and skipped.
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

#include "l7/tns.h"

#include "db_harness.h"

#define CD_FULL                                                                                    \
    "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl.example)(CID=(PROGRAM=sqlplus@kali)(HOST=kali)"  \
    "(USER=root)))(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.72.139)(PORT=1521)))"

/* ---- packet builders ------------------------------------------------------ */

static void put16(struct bb *o, uint16_t v)
{
    put8(o, (uint8_t)(v >> 8));
    put8(o, (uint8_t)v);
}

static void put32(struct bb *o, uint32_t v)
{
    put16(o, (uint16_t)(v >> 16));
    put16(o, (uint16_t)v);
}

/* One packet: header (2- or 4-byte length) and body. */
static void pkt(struct bb *o, uint8_t type, const struct bb *body, int lng)
{
    uint32_t len = (uint32_t)(MC_TNS_HDR + body->n);
    if (lng) {
        put32(o, len);
    } else {
        put16(o, (uint16_t)len);
        put16(o, 0);
    }
    put8(o, type);
    put8(o, 0);
    put16(o, 0);
    put(o, body->b, body->n);
}

/* A CONNECT carrying cd at offset 70 (or announcing it for the next DATA packet when follows). */
static void connect_pkt(struct bb *o, const char *cd, int follows)
{
    struct bb b = { .n = 0 };
    size_t cdn = strlen(cd);
    put16(&b, 315);     /* version */
    put16(&b, 300);     /* compatible */
    put16(&b, 0x0c41);  /* service options */
    put16(&b, 8192);    /* SDU */
    put16(&b, 65535);   /* TDU */
    put16(&b, 0x7f08);  /* NT characteristics */
    put16(&b, 0);       /* line turnaround */
    put16(&b, 0x0100);  /* value of one */
    put16(&b, (uint16_t)cdn);
    put16(&b, 70);
    put32(&b, 2048);
    put8(&b, 0x41);
    put8(&b, 0x41);
    while (b.n < 70 - MC_TNS_HDR)
        put8(&b, 0);
    if (!follows)
        put(&b, cd, cdn);
    pkt(o, MC_TNS_CONNECT, &b, 0);
}

static void accept_pkt(struct bb *o, uint16_t version)
{
    struct bb b = { .n = 0 };
    put16(&b, version);
    put16(&b, 0x0c41);
    put16(&b, 8192);
    put16(&b, 65535);
    put16(&b, 0x0100);
    put16(&b, 0);
    put16(&b, 0);
    put8(&b, 0x41);
    put8(&b, 0x41);
    pkt(o, MC_TNS_ACCEPT, &b, 0);
}

static void resend_pkt(struct bb *o)
{
    struct bb b = { .n = 0 };
    pkt(o, MC_TNS_RESEND, &b, 0);
}

static void refuse_pkt(struct bb *o, const char *data)
{
    struct bb b = { .n = 0 };
    put8(&b, 0x22);
    put8(&b, 0x00);
    put16(&b, (uint16_t)strlen(data));
    put(&b, data, strlen(data));
    pkt(o, MC_TNS_REFUSE, &b, 0);
}

static void redirect_pkt(struct bb *o, const char *data)
{
    struct bb b = { .n = 0 };
    put16(&b, (uint16_t)strlen(data));
    put(&b, data, strlen(data));
    pkt(o, MC_TNS_REDIRECT, &b, 0);
}

/* A DATA packet: flags, then ttc[0..n). */
static void data_pkt(struct bb *o, const void *ttc, size_t n, int lng)
{
    struct bb b = { .n = 0 };
    put16(&b, 0);
    put(&b, ttc, n);
    pkt(o, MC_TNS_DATA, &b, lng);
}

/* A TTC call carrying sql as a length-prefixed string between binary fields. */
static void sql_call(struct bb *o, const char *sql, int lng)
{
    struct bb t = { .n = 0 };
    put(&t, "\x11\x69\x00\x01\x01\x01\x03\x5e\x01\x02\x80\x21\x00\x01\x01", 15);
    put8(&t, (uint8_t)strlen(sql));
    put(&t, sql, strlen(sql));
    put(&t, "\x01\x01\x00\x00\x00\x00", 6);
    data_pkt(o, t.b, t.n, lng);
}

/* ---- a scripted conversation ---------------------------------------------- */

static const char long_sql[] = "SELECT owner, table_name, tablespace_name FROM all_tables WHERE owner = 'SCOTT' ORDER BY 2";

static void script_session(void)
{
    n_steps = 0;
    connect_pkt(step(0), CD_FULL, 0);
    resend_pkt(step(1));
    connect_pkt(step(0), CD_FULL, 0);
    accept_pkt(step(1), 315);
    /* from here on, 4-byte lengths */
    data_pkt(step(0), "\xde\xad\xbe\xef\x00\x9a", 6, 1);
    data_pkt(step(1), "\xde\xad\xbe\xef\x00\x75", 6, 1);
    sql_call(step(0), "SELECT * FROM dual", 1);
    const char ora[] = "\x04\x01\x02ORA-00942: table or view does not exist\n";
    data_pkt(step(1), ora, sizeof(ora) - 1, 1);
    /* a long statement in 0xfe-chunked form: 64 bytes, then the rest, then 0 */
    struct bb t = { .n = 0 };
    put(&t, "\x03\x5e\x02\x02", 4);
    put8(&t, 0xfe);
    put8(&t, 64);
    put(&t, long_sql, 64);
    put8(&t, (uint8_t)(strlen(long_sql) - 64));
    put(&t, long_sql + 64, strlen(long_sql) - 64);
    put8(&t, 0);
    put(&t, "\x01\x01", 2);
    data_pkt(step(0), t.b, t.n, 1);
    data_pkt(step(1), "\x06\x01\x02\x03rows", 8, 1);
    sql_call(step(0), "select x from t where 1 = 0", 1);
    const char nodata[] = "\x04\x01ORA-01403: no data found\n";
    data_pkt(step(1), nodata, sizeof(nodata) - 1, 1);
}

static void check_session(void)
{
    assert_int_equal(h_n_lines, 5);
    assert_line_has(0, "\"protocol\":\"tns\"");
    assert_line_has(0, "\"oracleServiceName\":\"orcl.example\"");
    assert_line_has(0, "\"oracleProgram\":\"sqlplus@kali\"");
    assert_line_has(0, "\"oracleOsUser\":\"root\"");
    assert_line_has(0, "\"oracleClientHost\":\"kali\"");
    assert_line_has(0, "\"oracleConnectData\":\"" CD_FULL "\"");
    assert_line_has(0, "\"oracleResult\":\"resend\"");
    assert_line_has(0, "\"oracleResponseTimeMs\":10");
    assert_line_has(1, "\"oracleResult\":\"accept\"");
    assert_line_has(2, "\"oracleSql\":\"SELECT * FROM dual\"");
    assert_line_has(2, "\"oracleErrorCode\":942");
    assert_line_has(2, "\"oracleServiceName\":\"orcl.example\"");
    assert_line_lacks(2, "oracleConnectData");
    char want[200];
    snprintf(want, sizeof(want), "\"oracleSql\":\"%s\"", long_sql);
    assert_line_has(3, want);
    assert_line_lacks(3, "oracleErrorCode");
    assert_line_has(4, "\"oracleSql\":\"select x from t where 1 = 0\"");
    assert_line_lacks(4, "oracleErrorCode"); /* ORA-01403 ends a fetch */
    assert_string_equal(h_rec_s("oracleServiceName"), "orcl.example");
    assert_string_equal(h_rec_s("oracleProgram"), "sqlplus@kali");
    assert_string_equal(h_rec_s("oracleOsUser"), "root");
    assert_string_equal(h_rec_s("oracleClientHost"), "kali");
    assert_string_equal(h_rec_s("oracleConnectData"), CD_FULL);
    assert_string_equal(h_rec_s("oracleResult"), "resend");
    assert_string_equal(h_rec_s("oracleSql"), "SELECT * FROM dual");
    assert_int_equal(h_rec_n("oracleErrorCode"), 942);
    assert_int_equal(h_rec_n("oracleResponseTimeMs"), 10);
    assert_int_equal(h_ctr("l7.tns.connects"), 2);
    assert_int_equal(h_ctr("l7.tns.accepted"), 1);
    assert_int_equal(h_ctr("l7.tns.resend"), 1);
    assert_int_equal(h_ctr("l7.tns.statements"), 3);
    assert_int_equal(h_ctr("l7.tns.errors"), 1);
    assert_int_equal(h_ctr("l7.tns.bad_length"), 0);
    assert_int_equal(h_ctr("l7.tns.no_answer"), 0);
}

static void test_session(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    script_session();
    play(&c, 0);
    h_end();
    check_session();
    h_teardown();
}

static void test_session_bytewise(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    script_session();
    play(&c, 1);
    h_end();
    check_session();
    h_teardown();
}

static void test_other_port_detected(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct h_conn c;
    h_open(&c, 15210, 1700000000000ull);
    n_steps = 0;
    connect_pkt(step(0), CD_FULL, 0);
    accept_pkt(step(1), 314); /* before 315: lengths stay 2 bytes */
    sql_call(step(0), "DELETE FROM t", 0);
    data_pkt(step(1), "\x08\x01", 2, 0);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 2);
    assert_line_has(0, "\"oracleResult\":\"accept\"");
    assert_line_has(1, "\"oracleSql\":\"DELETE FROM t\"");
    h_teardown();
}

static void test_refuse_redirect_follows(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    struct bb b = { .n = 0 };
    connect_pkt(&b, "(DESCRIPTION=(CONNECT_DATA=(SID=igor)(CID=(PROGRAM=p)(HOST=h)(USER=u))))", 0);
    h_send(&c, 0, b.b, b.n);
    b.n = 0;
    refuse_pkt(&b, "(DESCRIPTION=(TMP=)(VSNNUM=0)(ERR=12514)(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))");
    h_send(&c, 1, b.b, b.n);

    struct h_conn c2;
    h_open(&c2, 1521, 1700000001000ull);
    b.n = 0;
    connect_pkt(&b, CD_FULL, 0);
    h_send(&c2, 0, b.b, b.n);
    b.n = 0;
    redirect_pkt(&b, "(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.0.9)(PORT=1522))");
    h_send(&c2, 1, b.b, b.n);

    /* connect data too long for the CONNECT: it comes in the next DATA packet */
    struct h_conn c3;
    h_open(&c3, 1521, 1700000002000ull);
    b.n = 0;
    connect_pkt(&b, CD_FULL, 1);
    h_send(&c3, 0, b.b, b.n);
    b.n = 0;
    data_pkt(&b, CD_FULL, strlen(CD_FULL), 0);
    h_send(&c3, 0, b.b, b.n);
    b.n = 0;
    accept_pkt(&b, 315);
    h_send(&c3, 1, b.b, b.n);
    h_end();
    assert_int_equal(h_n_lines, 3);
    assert_line_has(0, "\"oracleServiceName\":\"igor\"");
    assert_line_has(0, "\"oracleResult\":\"refuse\"");
    assert_line_has(0, "\"oracleErrorCode\":12514");
    assert_line_has(1, "\"oracleResult\":\"redirect\"");
    assert_line_has(2, "\"oracleConnectData\":\"" CD_FULL "\"");
    assert_line_has(2, "\"oracleClientHost\":\"kali\"");
    assert_line_has(2, "\"oracleResult\":\"accept\"");
    assert_int_equal(h_ctr("l7.tns.refused"), 1);
    assert_int_equal(h_ctr("l7.tns.redirected"), 1);
    assert_int_equal(h_ctr("l7.tns.errors"), 1);
    h_teardown();
}

/* ---- hostile inputs ---------------------------------------------------------- */

static void test_length_lies(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    /* a length smaller than the header: the framing is lost until a header starts a segment */
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    h_send(&c, 0, "\x00\x04\x00\x00\x01\x00\x00\x00junkjunk", 16);
    h_send(&c, 0, "more junk", 9);
    struct bb b = { .n = 0 };
    connect_pkt(&b, CD_FULL, 0);
    h_send(&c, 0, b.b, b.n);
    b.n = 0;
    accept_pkt(&b, 315);
    h_send(&c, 1, b.b, b.n);
    /* an unknown type */
    h_send(&c, 1, "\x00\x00\x00\x10\x1e\x00\x00\x00" "abcdefgh", 16);

    /* a length larger than the data: the packet never ends */
    struct h_conn c2;
    h_open(&c2, 1521, 1700000001000ull);
    b.n = 0;
    connect_pkt(&b, CD_FULL, 0);
    b.b[0] = 0x01; /* 256 more bytes than sent */
    h_send(&c2, 0, b.b, b.n);
    h_end();
    assert_int_equal(h_ctr("l7.tns.bad_length"), 1);
    assert_int_equal(h_ctr("l7.tns.bad_type"), 1);
    assert_int_equal(h_ctr("l7.tns.resync_skipped"), 8 + 9 + 8); /* the rest of each lying segment, then a whole one */
    assert_int_equal(h_ctr("l7.tns.truncated_at_end"), 1);
    assert_int_equal(h_n_lines, 1);
    assert_line_has(0, "\"oracleResult\":\"accept\"");
    assert_line_has(0, "\"oracleServiceName\":\"orcl.example\"");
    h_teardown();
}

/* A CONNECT whose connect data length and offset are given. */
static void connect_raw(struct bb *o, uint16_t cd_len, uint16_t cd_off, const char *tail)
{
    struct bb b = { .n = 0 };
    put16(&b, 315);
    put16(&b, 300);
    for (int i = 0; i < 6; i++)
        put16(&b, 0);
    put16(&b, cd_len);
    put16(&b, cd_off);
    put32(&b, 2048);
    put16(&b, 0x4141);
    put(&b, tail, strlen(tail));
    pkt(o, MC_TNS_CONNECT, &b, 0);
}

static void test_connect_lies(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    const char *cds[] = {
        NULL, /* offset inside the fixed fields */
        "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=cut", /* length beyond the packet */
        "(DESCRIPTION=(CONNECT_DATA=(CID=(PROGRAM=p)(HOST=h)(USER=u))))", /* no service */
    };
    for (int i = 0; i < 3; i++) {
        struct h_conn c;
        h_open(&c, 1521, 1700000000000ull + (uint64_t)i * 1000);
        struct bb b = { .n = 0 };
        if (i == 0)
            connect_raw(&b, 40, 20, "");
        else if (i == 1)
            connect_raw(&b, 200, MC_TNS_HDR + 26, cds[1]);
        else
            connect_raw(&b, (uint16_t)strlen(cds[2]), MC_TNS_HDR + 26, cds[2]);
        h_send(&c, 0, b.b, b.n);
        b.n = 0;
        accept_pkt(&b, 315);
        h_send(&c, 1, b.b, b.n);
    }
    h_end();
    assert_int_equal(h_ctr("l7.tns.bad_connect"), 1);
    assert_int_equal(h_ctr("l7.tns.connect_data_truncated"), 1);
    assert_int_equal(h_ctr("l7.tns.no_service"), 1);
    assert_int_equal(h_n_lines, 3);
    assert_line_has(0, "\"oracleResult\":\"accept\"");
    assert_line_lacks(0, "oracleConnectData");
    assert_line_has(1, "\"oracleConnectData\":\"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=cut\"");
    assert_line_has(1, "\"oracleServiceName\":\"cut\""); /* what there is of it */
    assert_line_lacks(2, "oracleServiceName");
    assert_line_has(2, "\"oracleProgram\":\"p\"");
    h_teardown();
}

static void test_gaps_and_dd(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    n_steps = 0;
    connect_pkt(step(0), CD_FULL, 0);
    accept_pkt(step(1), 315);
    play(&c, 0);
    /* a data descriptor: 12 bytes of descriptor, then 10 bytes of data outside its length */
    struct bb b = { .n = 0 };
    put32(&b, 8 + 12);
    put(&b, "\x0f\x00\x00\x00", 4);
    put(&b, "\x00\x03\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00", 12);
    put(&b, "0123456789", 10);
    h_send(&c, 0, b.b, b.n);
    /* a hole inside a long DATA body: the framing holds */
    static uint8_t big[2000];
    memset(big, 0x01, sizeof(big));
    b.n = 0;
    struct bb sq = { .n = 0 };
    sql_call(&sq, "UPDATE t SET a = 1", 1);
    h_send(&c, 0, sq.b, sq.n);
    struct bb r = { .n = 0 };
    put32(&r, 8 + 2 + sizeof(big));
    put(&r, "\x06\x00\x00\x00\x00\x00", 6);
    h_send(&c, 1, r.b, r.n);
    h_send(&c, 1, big, 500);
    h_lose(&c, 1, 1000);
    h_send(&c, 1, big + 1500, 500);
    /* a hole across the next header: lost until a plausible header starts a segment */
    struct bb s2 = { .n = 0 };
    sql_call(&s2, "INSERT INTO lost VALUES (1)", 1);
    h_lose(&c, 0, 3);
    h_send(&c, 0, s2.b + 3, s2.n - 3);
    struct bb ok = { .n = 0 };
    data_pkt(&ok, "\x08\x00", 2, 1);
    h_send(&c, 1, ok.b, ok.n);
    struct bb s3 = { .n = 0 };
    sql_call(&s3, "COMMIT", 1);
    h_send(&c, 0, s3.b, s3.n);
    h_send(&c, 1, ok.b, ok.n);
    h_end();
    assert_int_equal(h_ctr("l7.tns.gap_in_packet"), 1);
    assert_int_equal(h_ctr("l7.tns.gap_resync"), 1);
    assert_int_equal(h_ctr("l7.tns.bad_type"), 0);
    assert_int_equal(h_n_lines, 3);
    assert_line_has(1, "\"oracleSql\":\"UPDATE t SET a = 1\""); /* answered by the holed packet */
    assert_line_has(2, "\"oracleSql\":\"COMMIT\"");
    h_teardown();
}

static void test_cloud_aggregates(void **state)
{
    (void)state;
    h_setup(&mc_l7_tns, 0, 0);
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 1000, 1 << 20), 0);
    mc_l7_set_agg(h_l7, &a);
    struct h_conn c;
    h_open(&c, 1521, 1700000000000ull);
    script_session();
    play(&c, 0);
    struct h_conn c2;
    h_open(&c2, 1521, 1700000001000ull);
    n_steps = 0;
    connect_pkt(step(0), CD_FULL, 0);
    refuse_pkt(step(1), "(DESCRIPTION=(ERR=12505))");
    play(&c2, 0);
    h_end();
    const char *k = "oracle.server.10.0.0.2:1521";
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "logins"), 1); /* the accepted CONNECT only */
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "queries"), 3);
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "errors"), 2);  /* ORA-00942, the refuse */
    assert_int_equal(h_agg_val(&a, k, MC_AGG_MAX, "last_seen"), 1700000001020);
    assert_int_equal(h_agg_ttl(&a, k), MC_TNS_AGG_TTL_MS);
    assert_int_equal(a.ne, 0);
    assert_int_equal(h_ctr("l7.tns.agg_refused"), 0);
    mc_agg_free(&a);
    h_teardown();
}

/* ---- the pure parsers ---------------------------------------------------------- */

static void test_descriptor(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_tns_desc d;
    const char *s = "( description = (connect_data=(SID=old)(Service_Name = \"new.svc\" )(cid=(program=C:\\app\\x.exe)"
                    "(host=WS01)(user=Jo Doe)))(address=(host=db1)(port=1521)))";
    mc_l7_tns_descriptor((const uint8_t *)s, strlen(s), &d);
    assert_string_equal(d.service, "new.svc"); /* SERVICE_NAME wins over SID, wherever it is */
    assert_string_equal(d.program, "C:\\app\\x.exe");
    assert_string_equal(d.host, "WS01");        /* the CID's, not the ADDRESS's */
    assert_string_equal(d.user, "Jo Doe");
    /* unbalanced, unterminated, empty */
    const char *bad[] = { "((((", "))))(CONNECT_DATA=(SID=x", "(CONNECT_DATA=(SID=\"open", "", "(=)(=(=", "(CID=(USER=" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *b = malloc(strlen(bad[i]) + 1);
        memcpy(b, bad[i], strlen(bad[i]));
        mc_l7_tns_descriptor((const uint8_t *)b, strlen(bad[i]), &d);
        free(b);
    }
    mc_l7_tns_descriptor((const uint8_t *)"))))(CONNECT_DATA=(SID=x", 24, &d);
    assert_string_equal(d.service, "x");
    /* 20 levels: deeper than tracked, counted */
    char deep[200];
    size_t dn = 0;
    for (int i = 0; i < 20; i++)
        dn += (size_t)snprintf(deep + dn, sizeof(deep) - dn, "(A=");
    snprintf(deep + dn, sizeof(deep) - dn, "(SID=z)");
    mc_l7_tns_descriptor((const uint8_t *)deep, strlen(deep), &d);
    assert_int_equal(h_ctr("l7.tns.descriptor_too_deep"), 1);
    assert_string_equal(d.service, "");
    /* a value longer than kept is cut */
    char lng[300] = "(CONNECT_DATA=(SERVICE_NAME=";
    memset(lng + strlen(lng), 's', 200);
    memcpy(lng + strlen(lng), "))", 3);
    mc_l7_tns_descriptor((const uint8_t *)lng, strlen(lng), &d);
    assert_int_equal(strlen(d.service), MC_TNS_NAME_MAX);
}

static void test_sql_and_errors(void **state)
{
    (void)state;
    char out[256];
    const uint8_t *p;
    /* a TTC length byte before the text ends it, even before printable bytes */
    p = (const uint8_t *)"\x01\x0dSELECT 1 FROMabc\x00";
    assert_int_equal(mc_l7_tns_sql(p, 18, out, sizeof(out)), 13);
    assert_memory_equal(out, "SELECT 1 FROM", 13);
    /* no length byte: the printable run */
    p = (const uint8_t *)"\x01\x02\x01 \tinsert into t values(1)\x00";
    size_t n = mc_l7_tns_sql(p, 29, out, sizeof(out));
    assert_int_equal(n, 23); /* the tab before it is text, not a length */
    assert_memory_equal(out, "insert into t values(1)", 23);
    /* keywords inside words, or without a statement, are not statements */
    assert_int_equal(mc_l7_tns_sql((const uint8_t *)"AUTH_SELECTED xSELECT SELECTION", 31, out, sizeof(out)), 0);
    assert_int_equal(mc_l7_tns_sql((const uint8_t *)"\x01\x02\x03", 3, out, sizeof(out)), 0);
    /* cut to the caller's capacity; NULL measures */
    p = (const uint8_t *)"\x00\x00SELECT abcdefghij";
    assert_int_equal(mc_l7_tns_sql(p, 19, out, 8), 8);
    assert_memory_equal(out, "SELECT a", 8);
    assert_int_equal(mc_l7_tns_sql(p, 19, NULL, 100), 17);
    /* a chunk length that runs past the data stops the text there */
    p = (const uint8_t *)"\xfe\x08SELECT 1\x40xx";
    assert_int_equal(mc_l7_tns_sql(p, 13, out, sizeof(out)), 8);

    assert_int_equal(mc_l7_tns_ora_error((const uint8_t *)"xxORA-12345: bad", 16), 12345);
    assert_int_equal(mc_l7_tns_ora_error((const uint8_t *)"ORA-01403: no data found", 24), 0);
    assert_int_equal(mc_l7_tns_ora_error((const uint8_t *)"ORA-1234 ORA-123456", 19), 0);
    assert_int_equal(mc_l7_tns_ora_error((const uint8_t *)"ORA-0094", 8), 0);
    assert_int_equal(mc_l7_tns_refuse_error((const uint8_t *)"(DESCRIPTION=(err=1153)", 23), 1153);
    assert_int_equal(mc_l7_tns_refuse_error((const uint8_t *)"(ERR=", 5), 0);
}

static void test_header_and_detect(void **state)
{
    (void)state;
    mc_ctr_reset();
    uint32_t len;
    uint8_t type;
    static const uint8_t short_hdr[] = { 0x00, 0xd4, 0x00, 0x00, 0x01, 0, 0, 0 };
    static const uint8_t long_hdr[] = { 0x00, 0x00, 0x00, 0xa4, 0x06, 0, 0, 0 };
    static const uint8_t big_hdr[] = { 0x00, 0x01, 0x00, 0x10, 0x06, 0, 0, 0 };
    assert_int_equal(mc_l7_tns_header(short_hdr, 8, MC_TNS_LEN_GUESS, &len, &type), 0);
    assert_int_equal(len, 212);
    assert_int_equal(type, 1);
    assert_int_equal(mc_l7_tns_header(long_hdr, 8, MC_TNS_LEN_GUESS, &len, &type), 0);
    assert_int_equal(len, 164);
    assert_int_equal(mc_l7_tns_header(big_hdr, 8, MC_TNS_LEN_GUESS, &len, &type), 0);
    assert_int_equal(len, 65552);
    assert_int_equal(mc_l7_tns_header(big_hdr, 8, MC_TNS_LEN_SHORT, &len, &type), -1); /* 1 < 8 */
    assert_int_equal(mc_l7_tns_header(long_hdr, 8, MC_TNS_LEN_SHORT, &len, &type), -1); /* 0 < 8 */
    assert_int_equal(h_ctr("l7.tns.bad_length"), 2);
    static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0x06, 0, 0, 0 };
    assert_int_equal(mc_l7_tns_header(huge, 8, MC_TNS_LEN_LONG, &len, &type), -1);
    assert_int_equal(mc_l7_tns_header(short_hdr, 4, MC_TNS_LEN_SHORT, &len, &type), -1);

    struct bb b = { .n = 0 };
    connect_pkt(&b, CD_FULL, 0);
    assert_true(mc_l7_tns_detect(b.b, b.n, 0));
    assert_true(mc_l7_tns_detect(b.b, 12, 1));
    assert_false(mc_l7_tns_detect(b.b, 11, 0));
    struct bb a = { .n = 0 };
    accept_pkt(&a, 315);
    assert_false(mc_l7_tns_detect(a.b, a.n, 1));
    /* truncation of a CONNECT at every length: never a read past the end (ASan) */
    for (size_t k = 0; k < b.n; k++) {
        uint8_t *t = malloc(k ? k : 1);
        memcpy(t, b.b, k);
        uint16_t ver, follows;
        const uint8_t *cd;
        size_t cdn;
        (void)mc_l7_tns_detect(t, k, 0);
        if (k >= 8)
            (void)mc_l7_tns_connect(t + 8, k - 8, b.n - 8, &ver, &cd, &cdn, &follows);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_bytewise),
        cmocka_unit_test(test_other_port_detected),
        cmocka_unit_test(test_refuse_redirect_follows),
        cmocka_unit_test(test_length_lies),
        cmocka_unit_test(test_connect_lies),
        cmocka_unit_test(test_gaps_and_dd),
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_sql_and_errors),
        cmocka_unit_test(test_header_and_detect),
        cmocka_unit_test(test_cloud_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
