/*
 * test_mysql.c - the MySQL analyzer through the real L7 stage and flow
 * table: logins (OK, ERR, error greeting, TLS), commands and their results
 * (OK, ERR, result sets with and without CLIENT_DEPRECATE_EOF, multiple
 * results, prepared statements, LOCAL INFILE, COM_CHANGE_USER, COM_INIT_DB,
 * query attributes), flow-record fields, segment-by-segment delivery, gaps,
 * and hostile inputs (length lies, truncated greetings, 16 MiB packets, the
 * buffer cap), each counted and skipped.
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

#include "l7/mysql.h"

#include "db_harness.h"

#define CAPS_BASE                                                                                  \
    (MC_MYSQL_PROTOCOL_41 | MC_MYSQL_SECURE_CONNECTION | MC_MYSQL_CONNECT_WITH_DB | MC_MYSQL_PLUGIN_AUTH)

/* ---- packet builders ------------------------------------------------------ */

static void put16(struct bb *o, uint16_t v)
{
    put8(o, (uint8_t)v);
    put8(o, (uint8_t)(v >> 8));
}

static void put32(struct bb *o, uint32_t v)
{
    put16(o, (uint16_t)v);
    put16(o, (uint16_t)(v >> 16));
}

static void puts0(struct bb *o, const char *s) { put(o, s, strlen(s) + 1); }

/* Wraps payload pl as one packet with sequence id seq, appended to o. */
static void wrap(struct bb *o, uint8_t seq, const struct bb *pl)
{
    put8(o, (uint8_t)pl->n);
    put8(o, (uint8_t)(pl->n >> 8));
    put8(o, (uint8_t)(pl->n >> 16));
    put8(o, seq);
    put(o, pl->b, pl->n);
}

static void greeting(struct bb *o, const char *version, uint32_t caps)
{
    struct bb p = { .n = 0 };
    put8(&p, 10);
    puts0(&p, version);
    put32(&p, 7);                 /* connection id */
    put(&p, "abcdefgh", 8);       /* auth-plugin-data-part-1 */
    put8(&p, 0);
    put16(&p, (uint16_t)caps);
    put8(&p, 0x21);               /* character set */
    put16(&p, 0x0002);            /* status */
    put16(&p, (uint16_t)(caps >> 16));
    put8(&p, 21);
    put(&p, "\0\0\0\0\0\0\0\0\0\0", 10);
    put(&p, "ijklmnopqrstu", 13);
    puts0(&p, "mysql_native_password");
    wrap(o, 0, &p);
}

static void login41(struct bb *o, uint32_t caps, const char *user, const char *db)
{
    struct bb p = { .n = 0 };
    put32(&p, caps);
    put32(&p, 16777216);
    put8(&p, 0x21);
    for (int i = 0; i < 23; i++)
        put8(&p, 0);
    puts0(&p, user);
    put8(&p, 20);
    put(&p, "01234567890123456789", 20);
    if (caps & MC_MYSQL_CONNECT_WITH_DB)
        puts0(&p, db);
    if (caps & MC_MYSQL_PLUGIN_AUTH)
        puts0(&p, "mysql_native_password");
    wrap(o, 1, &p);
}

static void ok_pkt(struct bb *o, uint8_t seq, uint8_t head, uint16_t status)
{
    struct bb p = { .n = 0 };
    put8(&p, head);
    put8(&p, 0); /* affected rows */
    put8(&p, 0); /* last insert id */
    put16(&p, status);
    put16(&p, 0);
    wrap(o, seq, &p);
}

static void eof_pkt(struct bb *o, uint8_t seq, uint16_t status)
{
    struct bb p = { .n = 0 };
    put8(&p, 0xfe);
    put16(&p, 0);
    put16(&p, status);
    wrap(o, seq, &p);
}

static void err_pkt(struct bb *o, uint8_t seq, uint16_t code, const char *state, const char *msg)
{
    struct bb p = { .n = 0 };
    put8(&p, 0xff);
    put16(&p, code);
    if (state) {
        put8(&p, '#');
        put(&p, state, 5);
    }
    put(&p, msg, strlen(msg));
    wrap(o, seq, &p);
}

static void cmd_n(struct bb *o, uint8_t command, const char *arg, size_t n)
{
    struct bb p = { .n = 0 };
    put8(&p, command);
    put(&p, arg, n);
    wrap(o, 0, &p);
}

static void cmd(struct bb *o, uint8_t command, const char *arg) { cmd_n(o, command, arg, strlen(arg)); }

static void one_byte(struct bb *o, uint8_t seq, uint8_t v)
{
    struct bb p = { .n = 0 };
    put8(&p, v);
    wrap(o, seq, &p);
}

static void coldef(struct bb *o, uint8_t seq, const char *name)
{
    struct bb p = { .n = 0 };
    put8(&p, 3);
    put(&p, "def", 3);
    put8(&p, 0);           /* schema */
    put8(&p, 0);           /* table */
    put8(&p, 0);           /* org table */
    put8(&p, (uint8_t)strlen(name));
    put(&p, name, strlen(name));
    put8(&p, 0);           /* org name */
    put8(&p, 0x0c);
    put(&p, "\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00", 12);
    wrap(o, seq, &p);
}

static void row(struct bb *o, uint8_t seq, const char *v)
{
    struct bb p = { .n = 0 };
    put8(&p, (uint8_t)strlen(v));
    put(&p, v, strlen(v));
    wrap(o, seq, &p);
}

/* A result set of one column and the given rows (EOFs unless deprecate), ending with status st. */
static void result_set(struct bb *o, int deprecate, int rows, uint16_t st)
{
    uint8_t seq = 1;
    one_byte(o, seq++, 1);
    coldef(o, seq++, "id");
    if (!deprecate)
        eof_pkt(o, seq++, 0x0002);
    for (int i = 0; i < rows; i++)
        row(o, seq++, "42");
    if (deprecate)
        ok_pkt(o, seq, 0xfe, st);
    else
        eof_pkt(o, seq, st);
}

/* ---- a scripted conversation ---------------------------------------------- */

/* Greeting, login root/shop, OK. */
static void script_login(uint32_t caps)
{
    greeting(step(1), "8.0.36", caps);
    login41(step(0), caps, "root", "shop");
    ok_pkt(step(1), 2, 0x00, 0x0002);
}

static void script_session(void)
{
    n_steps = 0;
    script_login(CAPS_BASE);
    cmd(step(0), 0x03, "SELECT id FROM t");
    result_set(step(1), 0, 2, 0x0002);
    cmd(step(0), 0x03, "INSERT INTO t VALUES (1)");
    ok_pkt(step(1), 1, 0x00, 0x0002);
    cmd(step(0), 0x03, "SELEC oops");
    err_pkt(step(1), 1, 1064, "42000", "You have an error in your SQL syntax");
    cmd(step(0), 0x02, "other");
    ok_pkt(step(1), 1, 0x00, 0x0002);
    cmd(step(0), 0x03, "SELECT 1");
    result_set(step(1), 0, 1, 0x0002);
    cmd(step(0), 0x01, "");
}

static void check_session(void)
{
    assert_int_equal(h_n_lines, 7);
    assert_line_has(0, "\"protocol\":\"mysql\"");
    assert_line_has(0, "\"mysqlCommand\":\"COM_CONNECT\"");
    assert_line_has(0, "\"mysqlServerVersion\":\"8.0.36\"");
    assert_line_has(0, "\"mysqlUser\":\"root\"");
    assert_line_has(0, "\"mysqlDatabase\":\"shop\"");
    assert_line_has(0, "\"mysqlResponseTimeMs\":10");
    assert_line_has(0, "\"mysqlTls\":0");
    assert_line_lacks(0, "mysqlErrorCode");
    assert_line_has(1, "\"mysqlCommand\":\"COM_QUERY\"");
    assert_line_has(1, "\"mysqlQuery\":\"SELECT id FROM t\"");
    assert_line_has(1, "\"mysqlUser\":\"root\"");
    assert_line_has(1, "\"mysqlDatabase\":\"shop\"");
    assert_line_has(1, "\"mysqlResponseTimeMs\":10");
    assert_line_lacks(1, "mysqlServerVersion");
    assert_line_has(2, "\"mysqlQuery\":\"INSERT INTO t VALUES (1)\"");
    assert_line_has(3, "\"mysqlQuery\":\"SELEC oops\"");
    assert_line_has(3, "\"mysqlErrorCode\":1064");
    assert_line_has(3, "\"mysqlErrorMessage\":\"You have an error in your SQL syntax\"");
    assert_line_has(4, "\"mysqlCommand\":\"COM_INIT_DB\"");
    assert_line_has(4, "\"mysqlDatabase\":\"other\"");
    assert_line_has(5, "\"mysqlQuery\":\"SELECT 1\"");
    assert_line_has(5, "\"mysqlDatabase\":\"other\"");
    assert_line_has(6, "\"mysqlCommand\":\"COM_QUIT\"");
    assert_line_lacks(6, "mysqlResponseTimeMs");
    /* the flow record: each element's first value */
    assert_string_equal(h_rec_s("mysqlServerVersion"), "8.0.36");
    assert_string_equal(h_rec_s("mysqlUser"), "root");
    assert_string_equal(h_rec_s("mysqlDatabase"), "shop");
    assert_string_equal(h_rec_s("mysqlQuery"), "SELECT id FROM t");
    assert_string_equal(h_rec_s("mysqlCommand"), "COM_CONNECT");
    assert_int_equal(h_rec_n("mysqlErrorCode"), 1064);
    assert_string_equal(h_rec_s("mysqlErrorMessage"), "You have an error in your SQL syntax");
    assert_int_equal(h_rec_n("mysqlResponseTimeMs"), 10);
    assert_int_equal(h_rec_n("mysqlTls"), 0);
    assert_int_equal(h_ctr("l7.mysql.logins"), 1);
    assert_int_equal(h_ctr("l7.mysql.commands"), 6);
    assert_int_equal(h_ctr("l7.mysql.errors"), 1);
    assert_int_equal(h_ctr("l7.mysql.unexpected_packet"), 0);
    assert_int_equal(h_ctr("l7.mysql.no_response"), 0); /* COM_QUIT expects none */
}

static void test_session(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    script_session();
    play(&c, 0);
    h_end();
    check_session();
    h_teardown();
}

static void test_session_bytewise(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    script_session();
    play(&c, 1);
    h_end();
    check_session();
    h_teardown();
}

/* Every step in one segment: packets of both directions' steps never share one, but a
   direction's packets pile up several to a segment. */
static void test_server_on_other_port_detected(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 13306, 1700000000000ull); /* not 3306: attached by detect() on the greeting */
    n_steps = 0;
    script_login(CAPS_BASE);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 1);
    assert_line_has(0, "\"mysqlUser\":\"root\"");
    h_teardown();
}

static void test_deprecate_eof_more_results(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    uint32_t caps = CAPS_BASE | MC_MYSQL_DEPRECATE_EOF;
    script_login(caps);
    cmd(step(0), 0x03, "CALL p()");
    struct bb *r = step(1);
    result_set(r, 1, 3, 0x0002 | 0x0008); /* SERVER_MORE_RESULTS_EXISTS */
    ok_pkt(r, 6, 0x00, 0x0002);           /* CALL's own status */
    cmd(step(0), 0x03, "SELECT slow");
    r = step(1);
    one_byte(r, 1, 1);
    coldef(r, 2, "x");
    row(r, 3, "1");
    err_pkt(r, 4, 1317, "70100", "Query execution was interrupted");
    cmd(step(0), 0x03, "SELECT nothing");
    r = step(1);
    one_byte(r, 1, 1);
    coldef(r, 2, "x");
    ok_pkt(r, 3, 0xfe, 0x0002); /* no rows: the closing OK straight after the columns */
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 4);
    assert_line_has(1, "\"mysqlQuery\":\"CALL p()\"");
    assert_line_lacks(1, "mysqlErrorCode");
    assert_line_has(2, "\"mysqlQuery\":\"SELECT slow\"");
    assert_line_has(2, "\"mysqlErrorCode\":1317");
    assert_line_has(3, "\"mysqlQuery\":\"SELECT nothing\"");
    assert_int_equal(h_ctr("l7.mysql.unexpected_packet"), 0);
    assert_int_equal(h_ctr("l7.mysql.no_response"), 0);
    h_teardown();
}

static void test_tls(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    uint32_t caps = CAPS_BASE | MC_MYSQL_SSL;
    greeting(step(1), "5.5.5-10.0.36-MariaDB", caps);
    struct bb p = { .n = 0 };
    put32(&p, caps);
    put32(&p, 16777216);
    put8(&p, 0x21);
    for (int i = 0; i < 23; i++)
        put8(&p, 0);
    wrap(step(0), 1, &p);
    /* TLS records: never read as MySQL */
    put(step(0), "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    put(step(1), "\x16\x03\x03\x00\x5d\x02\x00\x00\x59\x03\x03", 11);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 1);
    assert_line_has(0, "\"mysqlTls\":1");
    assert_line_has(0, "\"mysqlServerVersion\":\"5.5.5-10.0.36-MariaDB\"");
    assert_line_lacks(0, "mysqlUser");
    assert_int_equal(h_rec_n("mysqlTls"), 1);
    assert_int_equal(h_ctr("l7.mysql.tls"), 1);
    assert_int_equal(h_ctr("l7.mysql.bad_command"), 0);
    h_teardown();
}

static void test_compressed(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE | MC_MYSQL_COMPRESS);
    /* a compressed packet: 3-byte compressed length, sequence, 3-byte uncompressed length (0: as is) */
    struct bb z = { .n = 0 };
    put(&z, "\x0d\x00\x00\x00\x00\x00\x00", 7);
    cmd(&z, 0x03, "SELECT 1");
    put(step(0), z.b, z.n);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 1); /* the login; the compressed stream is not misread as commands */
    assert_line_has(0, "\"mysqlUser\":\"root\"");
    assert_int_equal(h_ctr("l7.mysql.compressed"), 1);
    assert_int_equal(h_ctr("l7.mysql.bad_command"), 0);
    h_teardown();
}

static void test_login_refused(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    greeting(step(1), "5.1.67-log", CAPS_BASE);
    login41(step(0), CAPS_BASE, "root_nope", "");
    err_pkt(step(1), 2, 1045, "28000", "Access denied for user 'root_nope'");
    play(&c, 0);
    /* a second connection refused before any handshake */
    struct h_conn c2;
    h_open(&c2, 3306, 1700000001000ull);
    struct bb e = { .n = 0 };
    err_pkt(&e, 0, 1130, NULL, "Host 'x' is not allowed to connect to this MySQL server");
    h_send(&c2, 1, e.b, e.n);
    h_end();
    assert_int_equal(h_n_lines, 2);
    assert_line_has(0, "\"mysqlUser\":\"root_nope\"");
    assert_line_has(0, "\"mysqlErrorCode\":1045");
    assert_line_lacks(0, "mysqlDatabase");
    assert_line_has(1, "\"mysqlCommand\":\"COM_CONNECT\"");
    assert_line_has(1, "\"mysqlErrorCode\":1130");
    assert_line_lacks(1, "mysqlUser");
    assert_int_equal(h_ctr("l7.mysql.logins"), 2);
    assert_int_equal(h_ctr("l7.mysql.errors"), 2);
    h_teardown();
}

static void test_change_user(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE);
    struct bb cu = { .n = 0 };
    put8(&cu, 0x11);
    puts0(&cu, "root2");
    put8(&cu, 20);
    put(&cu, "01234567890123456789", 20);
    puts0(&cu, "");
    wrap(step(0), 0, &cu);
    struct bb sw = { .n = 0 }; /* auth switch request */
    put8(&sw, 0xfe);
    puts0(&sw, "mysql_native_password");
    put(&sw, "12345678901234567890", 20);
    wrap(step(1), 1, &sw);
    struct bb ar = { .n = 0 };
    put(&ar, "abcdefghijabcdefghij", 20);
    wrap(step(0), 2, &ar);
    err_pkt(step(1), 3, 1045, "28000", "Access denied for user 'root2'");
    cmd(step(0), 0x03, "SELECT 2");
    ok_pkt(step(1), 1, 0x00, 0x0002);
    struct bb cu2 = { .n = 0 };
    put8(&cu2, 0x11);
    puts0(&cu2, "bob");
    put8(&cu2, 0);
    puts0(&cu2, "bobdb");
    wrap(step(0), 0, &cu2);
    ok_pkt(step(1), 1, 0x00, 0x0002);
    cmd(step(0), 0x03, "SELECT 3");
    ok_pkt(step(1), 1, 0x00, 0x0002);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 5);
    assert_line_has(1, "\"mysqlCommand\":\"COM_CHANGE_USER\"");
    assert_line_has(1, "\"mysqlUser\":\"root2\"");
    assert_line_has(1, "\"mysqlErrorCode\":1045");
    assert_line_has(2, "\"mysqlUser\":\"root\"");
    assert_line_has(3, "\"mysqlUser\":\"bob\"");
    assert_line_has(4, "\"mysqlUser\":\"bob\"");
    assert_line_has(4, "\"mysqlDatabase\":\"bobdb\"");
    assert_int_equal(h_ctr("l7.mysql.unexpected_packet"), 0);
    h_teardown();
}

/* COM_QUERY with query attributes (MySQL 8.0.23+): the text after them. */
static void attrs_query(struct bb *o, uint8_t type2, uint8_t nulls)
{
    struct bb p = { .n = 0 };
    put8(&p, 0x03);
    put8(&p, 3);     /* parameter_count */
    put8(&p, 1);     /* parameter_set_count */
    put8(&p, nulls); /* null bitmap */
    put8(&p, 1);     /* new_params_bind_flag */
    put8(&p, 0xfe);  /* STRING */
    put8(&p, 0);
    put(&p, "\x02n1", 3);
    put8(&p, type2);
    put8(&p, 0);
    put(&p, "\x02n2", 3);
    put8(&p, 0x08);  /* LONGLONG */
    put8(&p, 0);
    put(&p, "\x02n3", 3);
    put(&p, "\x05hello", 6);
    if (!(nulls & 2))
        put(&p, "\x02hi", 3);
    put(&p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    put(&p, "SELECT mysql_query_attribute_string('n1')", 41);
    wrap(o, 0, &p);
}

static void test_query_attributes(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    uint32_t caps = CAPS_BASE | MC_MYSQL_QUERY_ATTRIBUTES;
    script_login(caps);
    attrs_query(step(0), 0xfe, 0x02); /* the second is NULL */
    ok_pkt(step(1), 1, 0x00, 0x0002);
    attrs_query(step(0), 0xfe, 0x00);
    ok_pkt(step(1), 1, 0x00, 0x0002);
    attrs_query(step(0), 0x42, 0x00); /* an unknown type: the values cannot be walked */
    ok_pkt(step(1), 1, 0x00, 0x0002);
    cmd_n(step(0), 0x03, "\x00\x01SELECT 9", 10); /* no attribute, the two counts only */
    ok_pkt(step(1), 1, 0x00, 0x0002);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 5);
    assert_line_has(1, "\"mysqlQuery\":\"SELECT mysql_query_attribute_string('n1')\"");
    assert_line_has(2, "\"mysqlQuery\":\"SELECT mysql_query_attribute_string('n1')\"");
    assert_line_lacks(3, "mysqlQuery");
    assert_line_has(4, "\"mysqlQuery\":\"SELECT 9\"");
    assert_int_equal(h_ctr("l7.mysql.bad_query_attrs"), 1);
    h_teardown();
}

static void test_prepared_and_infile(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE);
    cmd(step(0), 0x16, "SELECT ? FROM t");
    struct bb *r = step(1);
    struct bb po = { .n = 0 }; /* COM_STMT_PREPARE_OK: id 1, 1 column, 1 parameter */
    put8(&po, 0x00);
    put32(&po, 1);
    put16(&po, 1);
    put16(&po, 1);
    put8(&po, 0);
    put16(&po, 0);
    wrap(r, 1, &po);
    coldef(r, 2, "?");
    eof_pkt(r, 3, 0x0002);
    coldef(r, 4, "c");
    eof_pkt(r, 5, 0x0002);
    struct bb ex = { .n = 0 };
    put8(&ex, 0x17);
    put32(&ex, 1);
    put8(&ex, 0);
    put32(&ex, 1);
    wrap(step(0), 0, &ex);
    r = step(1);
    one_byte(r, 1, 1);
    coldef(r, 2, "c");
    eof_pkt(r, 3, 0x0002);
    struct bb br = { .n = 0 }; /* a binary row starts with 0x00 */
    put(&br, "\x00\x00\x02hi", 5);
    wrap(r, 4, &br);
    eof_pkt(r, 5, 0x0002);
    struct bb cl = { .n = 0 };
    put8(&cl, 0x19);
    put32(&cl, 1);
    wrap(step(0), 0, &cl);
    cmd(step(0), 0x03, "LOAD DATA LOCAL INFILE 'f' INTO TABLE t");
    struct bb inf = { .n = 0 };
    put8(&inf, 0xfb);
    put(&inf, "f", 1);
    wrap(step(1), 1, &inf);
    struct bb file = { .n = 0 };
    put(&file, "1\n2\n", 4);
    wrap(step(0), 2, &file);
    struct bb none = { .n = 0 };
    wrap(step(0), 3, &none);
    ok_pkt(step(1), 4, 0x00, 0x0002);
    play(&c, 0);
    h_end();
    assert_int_equal(h_n_lines, 5);
    assert_line_has(1, "\"mysqlCommand\":\"COM_STMT_PREPARE\"");
    assert_line_has(1, "\"mysqlQuery\":\"SELECT ? FROM t\"");
    assert_line_has(2, "\"mysqlCommand\":\"COM_STMT_EXECUTE\"");
    assert_line_has(3, "\"mysqlCommand\":\"COM_STMT_CLOSE\"");
    assert_line_has(4, "\"mysqlQuery\":\"LOAD DATA LOCAL INFILE 'f' INTO TABLE t\"");
    assert_line_lacks(4, "mysqlErrorCode");
    assert_int_equal(h_ctr("l7.mysql.unexpected_packet"), 0);
    h_teardown();
}

static void test_mid_stream(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c = { 3306, 0, { 1000, 50000 }, 1700000000000ull };
    struct bb q = { .n = 0 };
    cmd_n(&q, 0x03, "\x00\x01SELECT 7", 10); /* attributes guessed without the handshake */
    h_send(&c, 0, q.b, q.n);
    c.ts += 3;
    struct bb o = { .n = 0 };
    ok_pkt(&o, 1, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);
    struct bb q2 = { .n = 0 };
    cmd(&q2, 0x03, "\tSELECT 8"); /* a control byte that is not attributes: the walk fails, the text stays */
    h_send(&c, 0, q2.b, q2.n);
    h_send(&c, 1, o.b, o.n);
    h_end();
    assert_int_equal(h_n_lines, 2);
    assert_line_has(0, "\"mysqlQuery\":\"SELECT 7\"");
    assert_line_has(0, "\"mysqlResponseTimeMs\":3");
    assert_line_lacks(0, "mysqlUser");
    assert_line_has(1, "\"mysqlQuery\":\"\\u0009SELECT 8\"");
    h_teardown();
}

/* ---- hostile inputs ---------------------------------------------------------- */

static void test_truncated_greetings(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    struct bb g = { .n = 0 };
    struct bb p = { .n = 0 };
    put8(&p, 10);
    put(&p, "8.0.36", 6); /* no NUL: the version runs off the packet */
    wrap(&g, 0, &p);
    h_send(&c, 1, g.b, g.n);
    struct bb l = { .n = 0 };
    login41(&l, CAPS_BASE, "alice", "db");
    h_send(&c, 0, l.b, l.n);
    struct bb o = { .n = 0 };
    ok_pkt(&o, 2, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);

    struct h_conn c2;
    h_open(&c2, 3306, 1700000001000ull);
    struct bb g2 = { .n = 0 };
    struct bb p2 = { .n = 0 };
    put8(&p2, 10);
    puts0(&p2, "8.0.36");
    put(&p2, "\x01\x00\x00", 3); /* cut inside the connection id */
    wrap(&g2, 0, &p2);
    h_send(&c2, 1, g2.b, g2.n);

    struct h_conn c3;
    h_open(&c3, 3306, 1700000002000ull);
    struct bb g3 = { .n = 0 };
    struct bb p3 = { .n = 0 };
    put8(&p3, 9); /* protocol 9: not what we read */
    puts0(&p3, "3.22");
    wrap(&g3, 0, &p3);
    h_send(&c3, 1, g3.b, g3.n);
    h_send(&c3, 0, l.b, l.n);
    h_end();
    assert_int_equal(h_ctr("l7.mysql.bad_greeting"), 2);
    assert_int_equal(h_ctr("l7.mysql.not_mysql"), 1);
    /* the login after a bad greeting is still read, without a version */
    assert_int_equal(h_n_lines, 1);
    assert_line_has(0, "\"mysqlUser\":\"alice\"");
    assert_line_lacks(0, "mysqlServerVersion");
    h_teardown();
}

static void test_length_lies(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    uint32_t caps = CAPS_BASE | MC_MYSQL_PLUGIN_AUTH_LENENC;
    struct bb g = { .n = 0 };
    greeting(&g, "8.0.36", caps);
    h_send(&c, 1, g.b, g.n);
    /* the auth data's length-encoded length claims 65535 bytes the packet does not have */
    struct bb p = { .n = 0 };
    put32(&p, caps);
    put32(&p, 16777216);
    put8(&p, 0x21);
    for (int i = 0; i < 23; i++)
        put8(&p, 0);
    puts0(&p, "mallory");
    put(&p, "\xfc\xff\xff", 3);
    put(&p, "xyz", 3);
    struct bb l = { .n = 0 };
    wrap(&l, 1, &p);
    h_send(&c, 0, l.b, l.n);
    struct bb o = { .n = 0 };
    ok_pkt(&o, 2, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);
    /* an ERR too short for its code, then a header that promises 1000 bytes and ends */
    struct bb q = { .n = 0 };
    cmd(&q, 0x03, "SELECT 1");
    h_send(&c, 0, q.b, q.n);
    h_send(&c, 1, "\x01\x00\x00\x01\xff", 5);
    h_send(&c, 0, "\xe8\x03\x00\x00\x03SELECT", 11);
    h_end();
    assert_int_equal(h_ctr("l7.mysql.bad_length"), 1);
    assert_int_equal(h_ctr("l7.mysql.bad_result"), 1);
    assert_int_equal(h_ctr("l7.mysql.truncated_at_end"), 1);
    assert_int_equal(h_n_lines, 2);
    assert_line_has(0, "\"mysqlUser\":\"mallory\""); /* read before the lie */
    assert_line_lacks(0, "mysqlDatabase");
    assert_line_has(1, "\"mysqlQuery\":\"SELECT 1\"");
    assert_line_lacks(1, "mysqlErrorCode");
    h_teardown();
}

static void test_large_packet(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 64);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE);
    play(&c, 0);
    /* a 16 MiB - 1 COM_QUERY, then its 10-byte continuation, sent in 60000-byte segments */
    static uint8_t chunk[60000];
    memset(chunk, 'a', sizeof(chunk));
    memcpy(chunk, "\xff\xff\xff\x00\x03SELECT '", 13);
    size_t left = 4 + 0xffffff;
    int first = 1;
    while (left) {
        size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
        h_send(&c, 0, chunk, k);
        if (first) {
            memset(chunk, 'a', 13);
            first = 0;
        }
        left -= k;
    }
    h_send(&c, 0, "\x0a\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 14);
    struct bb o = { .n = 0 };
    ok_pkt(&o, 2, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);
    struct bb q = { .n = 0 };
    cmd(&q, 0x03, "SELECT 2");
    h_send(&c, 0, q.b, q.n);
    struct bb o2 = { .n = 0 };
    ok_pkt(&o2, 1, 0x00, 0x0002);
    h_send(&c, 1, o2.b, o2.n);
    h_end();
    assert_int_equal(h_ctr("l7.mysql.large_packet"), 1);
    assert_int_equal(h_n_lines, 3);
    /* the statement cut to --l7-max-text (64) */
    char want[100] = "\"mysqlQuery\":\"SELECT '";
    memset(want + strlen(want), 'a', 56);
    memcpy(want + strlen(want), "\"", 2);
    assert_line_has(1, want);
    assert_line_has(2, "\"mysqlQuery\":\"SELECT 2\"");
    assert_int_equal(h_ctr("l7.mysql.bad_command"), 0);
    h_teardown();
}

static void test_buffer_cap(void **state)
{
    (void)state;
    /* 4096 bytes per flow: each direction's collector may hold 1024 */
    h_setup(&mc_l7_mysql, 4096, 2000);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE);
    play(&c, 0);
    static char text[1800];
    memset(text, 'b', sizeof(text) - 1);
    memcpy(text, "SELECT '", 8);
    struct bb q = { .n = 0 };
    cmd(&q, 0x03, text);
    h_send(&c, 0, q.b, 900); /* split: the prefix must be collected, and the cap refuses it */
    h_send(&c, 0, q.b + 900, q.n - 900);
    struct bb o = { .n = 0 };
    ok_pkt(&o, 1, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);
    struct bb q2 = { .n = 0 };
    cmd(&q2, 0x03, "SELECT 3");
    h_send(&c, 0, q2.b, q2.n);
    h_send(&c, 1, o.b, o.n);
    h_end();
    assert_int_equal(h_ctr("l7.mysql.packet_refused"), 1);
    assert_int_equal(h_ctr("l7.buffer_exceeded"), 1);
    assert_int_equal(h_ctr("l7.mysql.bad_command"), 1);
    assert_int_equal(h_n_lines, 2); /* the refused command is skipped; the next one is read */
    assert_line_has(1, "\"mysqlQuery\":\"SELECT 3\"");
    h_teardown();
}

static void test_gaps(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    n_steps = 0;
    script_login(CAPS_BASE);
    play(&c, 0);
    /* a long row with a hole inside: the framing holds */
    struct bb q = { .n = 0 };
    cmd(&q, 0x03, "SELECT blob FROM t");
    h_send(&c, 0, q.b, q.n);
    struct bb r = { .n = 0 };
    one_byte(&r, 1, 1);
    coldef(&r, 2, "blob");
    eof_pkt(&r, 3, 0x0002);
    h_send(&c, 1, r.b, r.n);
    static uint8_t big[3004];
    memset(big, 'z', sizeof(big));
    memcpy(big, "\xb8\x0b\x00\x04\xfc\xb5\x0b", 7); /* 3000-byte row: a 2997-byte string */
    h_send(&c, 1, big, 1000);
    h_lose(&c, 1, 1000);
    h_send(&c, 1, big + 2000, sizeof(big) - 2000);
    struct bb e = { .n = 0 };
    eof_pkt(&e, 5, 0x0002);
    h_send(&c, 1, e.b, e.n);
    /* a hole across the client's next header: lost until a command starts a segment */
    struct bb q2 = { .n = 0 };
    cmd(&q2, 0x03, "SELECT lost");
    h_lose(&c, 0, 6);
    h_send(&c, 0, q2.b + 6, q2.n - 6);
    struct bb o = { .n = 0 };
    ok_pkt(&o, 1, 0x00, 0x0002);
    h_send(&c, 1, o.b, o.n);
    struct bb q3 = { .n = 0 };
    cmd(&q3, 0x03, "SELECT found");
    h_send(&c, 0, q3.b, q3.n);
    h_send(&c, 1, o.b, o.n);
    h_end();
    assert_int_equal(h_ctr("l7.mysql.gap_in_packet"), 1);
    assert_int_equal(h_ctr("l7.mysql.gap_resync"), 1);
    assert_true(h_ctr("l7.mysql.resync_skipped") >= q2.n - 6);
    assert_int_equal(h_n_lines, 3);
    assert_line_has(1, "\"mysqlQuery\":\"SELECT blob FROM t\"");
    assert_line_lacks(1, "mysqlErrorCode");
    assert_line_has(2, "\"mysqlQuery\":\"SELECT found\"");
    h_teardown();
}

static void test_cloud_aggregates(void **state)
{
    (void)state;
    h_setup(&mc_l7_mysql, 0, 0);
    struct mc_agg a;
    assert_int_equal(mc_agg_init(&a, "", 1000, 1 << 20), 0);
    mc_l7_set_agg(h_l7, &a);
    struct h_conn c;
    h_open(&c, 3306, 1700000000000ull);
    script_session();
    play(&c, 0);
    struct h_conn c2;
    h_open(&c2, 3306, 1700000001000ull);
    n_steps = 0;
    greeting(step(1), "8.0.36", CAPS_BASE);
    login41(step(0), CAPS_BASE, "e\"vil\x01", "");
    err_pkt(step(1), 2, 1045, "28000", "Access denied");
    play(&c2, 0);
    h_end();
    const char *k = "mysql.server.10.0.0.2:3306";
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "logins"), 2);
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "queries"), 4); /* COM_INIT_DB and COM_QUIT are not */
    assert_int_equal(h_agg_val(&a, k, MC_AGG_INCR, "errors"), 2);
    assert_int_equal(h_agg_val(&a, k, MC_AGG_MAX, "last_seen"), 1700000001030);
    assert_int_equal(h_agg_ttl(&a, k), MC_MYSQL_AGG_TTL_MS);
    /* one mysql.login per login, the user escaped as the log escapes it */
    assert_int_equal(a.ne, 2);
    char name[64], json[512];
    h_agg_event(&a, 0, name, json);
    assert_string_equal(name, "mysql.login");
    assert_string_equal(json, "{\"server\":\"10.0.0.2:3306\",\"user\":\"root\",\"database\":\"shop\","
                              "\"client\":\"10.0.0.1\",\"ts\":1700000000030,\"error\":0}");
    h_agg_event(&a, 1, name, json);
    assert_string_equal(json, "{\"server\":\"10.0.0.2:3306\",\"user\":\"e\\\"vil\\u0001\",\"database\":\"\","
                              "\"client\":\"10.0.0.1\",\"ts\":1700000001030,\"error\":1045}");
    assert_int_equal(h_ctr("l7.mysql.agg_refused"), 0);
    mc_agg_free(&a);
    h_teardown();
}

/* ---- the pure parsers ---------------------------------------------------------- */

static void test_parsers(void **state)
{
    (void)state;
    mc_ctr_reset();
    assert_string_equal(mc_l7_mysql_command_name(0x03), "COM_QUERY");
    assert_string_equal(mc_l7_mysql_command_name(0x0b), "COM_CONNECT");
    assert_string_equal(mc_l7_mysql_command_name(0xfa), "COM_STMT_BULK_EXECUTE");
    assert_null(mc_l7_mysql_command_name(0x40));

    struct bb g = { .n = 0 };
    greeting(&g, "8.0.36", CAPS_BASE);
    assert_true(mc_l7_mysql_detect(g.b, g.n, 1));
    assert_true(mc_l7_mysql_detect(g.b, 6, 0));
    assert_false(mc_l7_mysql_detect(g.b, 5, 1));
    assert_false(mc_l7_mysql_detect((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0));

    struct mc_mysql_greeting gr;
    assert_int_equal(mc_l7_mysql_greeting(g.b + 4, g.n - 4, &gr), 0);
    assert_string_equal(gr.version, "8.0.36");
    assert_int_equal(gr.caps, CAPS_BASE);
    /* truncation at every offset: never a read past the end (ASan), never a crash */
    for (size_t k = 0; k < g.n - 4; k++) {
        uint8_t *b = malloc(k ? k : 1);
        memcpy(b, g.b + 4, k);
        (void)mc_l7_mysql_greeting(b, k, &gr);
        (void)mc_l7_mysql_detect(b, k, 1);
        free(b);
    }
    struct bb l = { .n = 0 };
    login41(&l, CAPS_BASE, "u", "d");
    struct mc_mysql_login lg;
    assert_int_equal(mc_l7_mysql_login(l.b + 4, l.n - 4, l.n - 4, &lg), 0);
    assert_string_equal(lg.user, "u");
    assert_string_equal(lg.db, "d");
    for (size_t k = 0; k < l.n - 4; k++) {
        uint8_t *b = malloc(k ? k : 1);
        memcpy(b, l.b + 4, k);
        (void)mc_l7_mysql_login(b, k, k, &lg);
        (void)mc_l7_mysql_change_user(b, k, CAPS_BASE, &lg);
        free(b);
    }
    /* a 4.0 (320) response: 2-byte capabilities, user, then auth and database NUL-terminated */
    static const uint8_t r320[] = { 0x08, 0x00, 0, 0, 1, 'o', 'l', 'd', 0, 'p', 'w', 0, 'd', 'b', 0 };
    assert_int_equal(mc_l7_mysql_login(r320, sizeof(r320), sizeof(r320), &lg), 0);
    assert_string_equal(lg.user, "old");
    assert_string_equal(lg.db, "db");

    struct mc_mysql_err e;
    static const uint8_t err41[] = "\xff\x15\x04#28000Access denied";
    assert_int_equal(mc_l7_mysql_err(err41, sizeof(err41) - 1, &e), 0);
    assert_int_equal(e.code, 1045);
    assert_string_equal(e.state, "28000");
    assert_string_equal(e.msg, "Access denied");
    static const uint8_t err40[] = "\xff\x15\x04old";
    assert_int_equal(mc_l7_mysql_err(err40, sizeof(err40) - 1, &e), 0);
    assert_string_equal(e.state, "");
    assert_string_equal(e.msg, "old");
    assert_int_equal(mc_l7_mysql_err(err41, 2, &e), -1);

    static const uint8_t eof[] = { 0xfe, 0, 0, 0x0a, 0x00 };
    assert_int_equal(mc_l7_mysql_status(eof, sizeof(eof)), 0x000a);
    static const uint8_t ok[] = { 0x00, 0xfc, 0x10, 0x00, 0x05, 0x08, 0x00, 0, 0 };
    assert_int_equal(mc_l7_mysql_status(ok, sizeof(ok)), 0x0008);
    assert_int_equal(mc_l7_mysql_status(ok, 4), -1);
    assert_int_equal(mc_l7_mysql_status((const uint8_t *)"\xfe", 1), 0);

    const uint8_t *q;
    size_t qn;
    static const uint8_t lie[] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 'x' };
    assert_int_equal(mc_l7_mysql_query_text(lie, sizeof(lie), 1, &q, &qn), -1);
    assert_int_equal(mc_l7_mysql_query_text(lie, sizeof(lie), 0, &q, &qn), 0);
    assert_int_equal(qn, sizeof(lie));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_bytewise),
        cmocka_unit_test(test_server_on_other_port_detected),
        cmocka_unit_test(test_deprecate_eof_more_results),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_login_refused),
        cmocka_unit_test(test_change_user),
        cmocka_unit_test(test_query_attributes),
        cmocka_unit_test(test_prepared_and_infile),
        cmocka_unit_test(test_mid_stream),
        cmocka_unit_test(test_truncated_greetings),
        cmocka_unit_test(test_length_lies),
        cmocka_unit_test(test_large_packet),
        cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_cloud_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
