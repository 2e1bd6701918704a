/* test_store_clickhouse.c - the ClickHouse store without ClickHouse: URL parsing, the schema's columns,
 * every column of rows in Native blocks (decoded back with the schema's types), and the store against a
 * small HTTP server of the test's (the schema made at open, batches as one chunked POST each, a refused
 * batch retried then dropped, a wiped table made again, retention's DROP PARTITION of old days), against
 * no server at all (errors counted, the queue's bound, no hang at close) and one that comes up later.
 * With MC_TEST_CLICKHOUSE=http://HOST:PORT/DB a real server is also written to: 1,000,000 rows, the
 * rate printed (tests/integration/test_collector_clickhouse.py runs it so). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/store.h"
#include "unit/collector/store_helpers.h"

/* --- URLs ----------------------------------------------------------------------- */

static void test_url(void **state)
{
    (void)state;
    struct mc_ch_url u;
    char err[256];
    assert_int_equal(mc_ch_url_parse("http://ch1:8123/flowsdb", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "ch1");
    assert_int_equal(u.port, 8123);
    assert_string_equal(u.db, "flowsdb");
    assert_string_equal(u.base, "http://ch1:8123/");
    assert_string_equal(u.user, "");

    assert_int_equal(mc_ch_url_parse("http://127.0.0.1", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 8123);
    assert_string_equal(u.db, "default");
    assert_int_equal(mc_ch_url_parse("http://127.0.0.1:9/", &u, err, sizeof(err)), 0);
    assert_string_equal(u.db, "default");
    assert_int_equal(u.port, 9);
    assert_int_equal(mc_ch_url_parse("http://h/mc/", &u, err, sizeof(err)), 0);
    assert_string_equal(u.db, "mc");

    assert_int_equal(mc_ch_url_parse("https://writer:s%40cr%3At@[2001:db8::1]:8443/mc", &u, err, sizeof(err)), 0);
    assert_true(u.https);
    assert_string_equal(u.host, "2001:db8::1");
    assert_string_equal(u.user, "writer");
    assert_string_equal(u.password, "s@cr:t");
    assert_string_equal(u.base, "https://[2001:db8::1]:8443/");
    assert_null(strstr(u.shown, "s@cr")); /* log lines never show the password */
    assert_non_null(strstr(u.shown, "writer@"));
    assert_int_equal(mc_ch_url_parse("https://[::1]/x", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 8443);

    const char *bad[] = {
        "ch1:8123/db", "ftp://h/db", "http://", "http:///db", "http://h:0/db", "http://h:65536/db",
        "http://h:80x/db", "http://h:/db", "http://h/db?table=x", "http://h/d-b", "http://h/db;DROP",
        "http://h/a/b", "http://[::1/db", "http://[nothost]:1/db", "http://[::1]x/db", "http://h o/db",
        "http://:pw@h/db", "http://u%zz@h/db", "http://u%4@h/db",
        "http://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        if (mc_ch_url_parse(bad[i], &u, err, sizeof(err)) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(err[0] != 0);
    }
}

/* --- the schema and the Native format -------------------------------------------------------- */

#define N_COLS 27

static const char *const NAMES[N_COLS] = {
    "start_ms", "end_ms", "exporter", "version", "domain", "ip_version", "src", "dst", "src_port",
    "dst_port", "proto", "tcp_flags", "tos", "packets", "octets", "rev_packets", "rev_octets", "in_if",
    "out_if", "src_as", "dst_as", "sampling", "app", "user", "imsi", "msisdn", "call_id",
};

/* The schema's "    name Type,\n" lines. */
static int schema_cols(char names[N_COLS][32], char types[N_COLS][32])
{
    const char *p = strstr(mc_ch_schema_sql, "(\n");
    int n = 0;
    assert_non_null(p);
    p += 2;
    while (*p == ' ' && n < N_COLS) {
        assert_int_equal(sscanf(p, " %31s %31[^,\n]", names[n], types[n]), 2);
        n++;
        p = strchr(p, '\n') + 1;
    }
    return n;
}

static void test_schema(void **state)
{
    (void)state;
    char names[N_COLS][32], types[N_COLS][32];
    assert_int_equal(schema_cols(names, types), N_COLS);
    for (int i = 0; i < N_COLS; i++)
        assert_string_equal(names[i], NAMES[i]); /* the SQLite store's columns, in its order */
    assert_non_null(strstr(mc_ch_schema_sql, "ENGINE = MergeTree"));
    assert_non_null(strstr(mc_ch_schema_sql, "PARTITION BY toYYYYMMDD("));
}

static size_t leb(const uint8_t **p, const uint8_t *end)
{
    size_t n = 0;
    int shift = 0;
    uint8_t b;
    do {
        assert_true(*p < end);
        b = *(*p)++;
        n |= (size_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return n;
}

/* A length-prefixed string of p, compared with want. */
static void expect_str(const uint8_t **p, const uint8_t *end, const char *want)
{
    size_t n = leb(p, end);
    assert_true(n <= (size_t)(end - *p));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(*p, want, n);
    *p += n;
}

#define MAX_ROWS 400

/* Rows decoded from Native blocks as "name=value " for every column, NULL as "NULL". */
struct rows {
    size_t n;
    char row[MAX_ROWS][2048];
    size_t len[MAX_ROWS];
};

/* Every block of body[0..len) appended to r: each block must carry the schema's columns, in its order. */
static void native_rows(const uint8_t *p, size_t len, struct rows *r)
{
    char names[N_COLS][32], types[N_COLS][32];
    schema_cols(names, types);
    const uint8_t *end = p + len;
    while (p < end) {
        assert_int_equal(leb(&p, end), N_COLS);
        size_t rows = leb(&p, end), base = r->n;
        assert_true(rows > 0 && base + rows <= MAX_ROWS);
        for (size_t i = 0; i < rows; i++)
            r->len[base + i] = 0, r->row[base + i][0] = 0;
        for (int j = 0; j < N_COLS; j++) {
            expect_str(&p, end, names[j]);
            expect_str(&p, end, types[j]);
            int nullable = strncmp(types[j], "Nullable(", 9) == 0;
            const uint8_t *nulls = p;
            if (nullable) {
                assert_true(rows <= (size_t)(end - p));
                p += rows;
            }
            for (size_t i = 0; i < rows; i++) {
                char v[128];
                if (nullable) {
                    size_t n = leb(&p, end);
                    assert_true(n <= (size_t)(end - p));
                    assert_true(nulls[i] == 0 || nulls[i] == 1);
                    assert_true(!nulls[i] || n == 0); /* a NULL row's string is empty */
                    snprintf(v, sizeof(v), nulls[i] ? "NULL" : "%.*s", (int)n, (const char *)p);
                    p += n;
                } else {
                    int bytes = strstr(types[j], "64") ? 8 : strstr(types[j], "32") ? 4 : strstr(types[j], "16") ? 2 : 1;
                    assert_true(bytes <= end - p);
                    uint64_t x = 0;
                    for (int k = 0; k < bytes; k++)
                        x |= (uint64_t)p[k] << (8 * k);
                    p += (size_t)bytes;
                    snprintf(v, sizeof(v), types[j][0] == 'I' ? "%lld" : "%llu", (long long)x);
                }
                char *row = r->row[base + i];
                r->len[base + i] += (size_t)snprintf(row + r->len[base + i], sizeof(r->row[0]) - r->len[base + i],
                                                     "%s=%s ", names[j], v);
            }
        }
        r->n += rows;
    }
}

/* A batch of n flows in chunks of at most per, encoded through a stage of room bytes. */
static size_t encode(const struct mc_coll_flow *f, size_t n, size_t per, size_t room, uint8_t *out, size_t cap)
{
    struct mc_store_chunk *first = NULL, **link = &first;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        struct mc_store_chunk *c = calloc(1, sizeof(*c) + k * sizeof(c->f[0]));
        assert_non_null(c);
        c->n = k;
        memcpy(c->f, f + i, k * sizeof(f[0]));
        *link = c;
        link = &c->next;
    }
    static struct mc_ch_encoder e;
    assert_int_equal(mc_ch_encoder_init(&e), 0);
    mc_ch_encoder_start(&e, first);
    size_t len = 0, k;
    while ((k = mc_ch_encoder_fill(&e, out + len, room)) > 0) {
        assert_true(k <= room);
        len += k;
        assert_true(len + room <= cap);
    }
    mc_ch_encoder_free(&e);
    while (first) {
        struct mc_store_chunk *next = first->next;
        free(first);
        first = next;
    }
    return len;
}

static void test_row(void **state)
{
    (void)state;
    static uint8_t buf[1 << 20];
    static struct rows r;
    struct mc_coll_flow fl[3];
    struct mc_coll_flow a = flow4(NOW, NOW + 5);
    struct mc_coll_flow b;
    memset(&b, 0, sizeof(b));
    b.start_ms = UINT64_MAX, b.end_ms = NOW; /* past Int64: written as the largest, as in SQLite */
    set_ip(b.exporter.addr, AF_INET6, "2001:db8::ff");
    b.exporter.ver = 6, b.exporter.port = 4739;
    b.version = 9, b.ip_version = 6, b.sampling = 1, b.octets = UINT64_MAX;
    set_ip(b.src, AF_INET6, "2001:db8::1");
    set_ip(b.dst, AF_INET6, "::ffff:1.2.3.4");
    memset(b.app, 'x', sizeof(b.app)); /* no NUL: cut at the array's end */
    struct mc_coll_flow c;
    memset(&c, 0, sizeof(c));
    c.version = 5; /* no address: NULLs */
    fl[0] = a, fl[1] = b, fl[2] = c;
    r.n = 0;
    native_rows(buf, encode(fl, 3, 3, 1 << 16, buf, sizeof(buf)), &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.row[0], "start_ms=1700000000000 end_ms=1700000000005 exporter=192.0.2.1:2055 version=10 "
                             "domain=4000000000 ip_version=4 src=10.0.0.1 dst=198.51.100.7 src_port=40000 "
                             "dst_port=443 proto=6 tcp_flags=27 tos=32 packets=10 octets=1500 rev_packets=8 "
                             "rev_octets=9000 in_if=3 out_if=4000000001 src_as=64500 dst_as=4200000000 "
                             "sampling=100 app=TLS.YouTube user=alice imsi=001010000000001 "
                             "msisdn=393330000001 call_id=a84b4c76e66710@pc33.example.com ");
    char want[2048];
    snprintf(want, sizeof(want), "start_ms=9223372036854775807 end_ms=1700000000000 "
             "exporter=[2001:db8::ff]:4739 version=9 domain=0 ip_version=6 src=2001:db8::1 dst=::ffff:1.2.3.4 "
             "src_port=0 dst_port=0 proto=0 tcp_flags=0 tos=0 packets=0 octets=9223372036854775807 "
             "rev_packets=0 rev_octets=0 in_if=0 out_if=0 src_as=0 dst_as=0 sampling=1 app=%.64s user=NULL "
             "imsi=NULL msisdn=NULL call_id=NULL ", b.app);
    assert_string_equal(r.row[1], want);
    assert_string_equal(r.row[2], "start_ms=0 end_ms=0 exporter=NULL version=5 domain=0 ip_version=0 src=NULL "
                             "dst=NULL src_port=0 dst_port=0 proto=0 tcp_flags=0 tos=0 packets=0 octets=0 "
                             "rev_packets=0 rev_octets=0 in_if=0 out_if=0 src_as=0 dst_as=0 sampling=0 "
                             "app=NULL user=NULL imsi=NULL msisdn=NULL call_id=NULL ");

    /* many chunks, libcurl asking 7 bytes at a time (every piece split) or 64 KiB: the same bytes, every row */
    enum { N = 300 };
    static struct mc_coll_flow many[N];
    static uint8_t small[1 << 20];
    for (size_t i = 0; i < N; i++) {
        many[i] = i % 3 == 2 ? c : i % 3 ? b : a;
        many[i].start_ms = NOW + i;
    }
    size_t big_len = encode(many, N, 7, 1 << 16, buf, sizeof(buf));
    assert_int_equal(encode(many, N, 7, 7, small, sizeof(small)), big_len);
    assert_memory_equal(buf, small, big_len);
    r.n = 0;
    native_rows(buf, big_len, &r);
    assert_int_equal(r.n, N);
    for (size_t i = 0; i < N; i++) {
        char start[64];
        snprintf(start, sizeof(start), "start_ms=%llu ", (unsigned long long)(NOW + i));
        assert_true(strncmp(r.row[i], start, strlen(start)) == 0);
        assert_non_null(strstr(r.row[i], i % 3 == 2 ? " src=NULL " : i % 3 ? " src=2001:db8::1 " : " src=10.0.0.1 "));
    }
}

/* --- a small HTTP server playing ClickHouse ------------------------------------------ */

enum { ANSWER_OK, ANSWER_REFUSE, ANSWER_NO_TABLE_ONCE };

#define FAKE_CONNS 8 /* connections served at once (the store opens one per writer thread) */

struct fake {
    int lfd, port;
    pthread_t thread;
    pthread_t conn_thread[FAKE_CONNS];
    struct conn *conns[FAKE_CONNS];
    int n_conns;
    pthread_mutex_t mu;
    /* under mu */
    int mode;
    int creates, inserts, drops;
    char dropped_parts[256];
    uint8_t *rows;              /* every accepted insert's body, one after another */
    size_t rows_len, rows_cap;
    char database[64];          /* the last request's database= */
    char parts[256];            /* system.parts' answer */
};

struct conn {
    struct fake *fk;
    int fd;
    char buf[1 << 16];
    size_t len, off;
};

static int conn_fill(struct conn *c)
{
    if (c->off == c->len)
        c->off = c->len = 0;
    if (c->len == sizeof(c->buf)) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* A line (without CRLF) into out; -1 at the end of the connection. */
static int conn_line(struct conn *c, char *out, size_t len)
{
    for (;;) {
        char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
        if (nl) {
            size_t n = (size_t)(nl - (c->buf + c->off));
            size_t k = n && nl[-1] == '\r' ? n - 1 : n;
            snprintf(out, len, "%.*s", (int)k, c->buf + c->off);
            c->off += n + 1;
            return 0;
        }
        if (conn_fill(c) != 0)
            return -1;
    }
}

static int conn_bytes(struct conn *c, uint8_t **out, size_t *olen, size_t *ocap, size_t n)
{
    while (n) {
        if (c->off == c->len && conn_fill(c) != 0)
            return -1;
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        if (*olen + k + 1 > *ocap) {
            *ocap = (*olen + k + 1) * 2;
            *out = realloc(*out, *ocap);
            assert_non_null(*out);
        }
        memcpy(*out + *olen, c->buf + c->off, k);
        *olen += k;
        c->off += k;
        n -= k;
    }
    return 0;
}

static void param(const char *target, const char *name, char *out, size_t len)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=", name);
    const char *p = strstr(target, key);
    out[0] = 0;
    if (p) {
        p += strlen(key);
        snprintf(out, len, "%.*s", (int)strcspn(p, "&"), p);
    }
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                     status, strlen(body));
    assert_true(send(fd, head, (size_t)n, MSG_NOSIGNAL) == n);
    assert_true(send(fd, body, strlen(body), MSG_NOSIGNAL) == (ssize_t)strlen(body));
}

/* Answers one request; -1 when the connection ended. */
static int serve_one(struct fake *fk, struct conn *c)
{
    char line[8192], target[8192];
    if (conn_line(c, line, sizeof(line)) != 0)
        return -1;
    if (sscanf(line, "POST %8191s", target) != 1)
        return -1;
    size_t clen = 0;
    int chunked = 0;
    while (conn_line(c, line, sizeof(line)) == 0 && line[0]) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoul(line + 15, NULL, 10);
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked"))
            chunked = 1;
    }
    uint8_t *body = NULL;
    size_t blen = 0, bcap = 0;
    if (chunked) {
        for (;;) {
            if (conn_line(c, line, sizeof(line)) != 0)
                return -1;
            size_t n = strtoul(line, NULL, 16);
            if (n == 0) {
                conn_line(c, line, sizeof(line));
                break;
            }
            if (conn_bytes(c, &body, &blen, &bcap, n) != 0 || conn_line(c, line, sizeof(line)) != 0)
                return -1;
        }
    } else if (clen && conn_bytes(c, &body, &blen, &bcap, clen) != 0) {
        return -1;
    }
    if (!body)
        body = calloc(1, 1);
    body[blen] = 0;
    pthread_mutex_lock(&fk->mu);
    param(target, "database", fk->database, sizeof(fk->database));
    const char *sql = (const char *)body;
    if (strstr(target, "query=INSERT")) {
        if (fk->mode == ANSWER_REFUSE) {
            reply(c->fd, 500, "Code: 27, e.displayText() = DB::Exception: Cannot parse input\n");
        } else if (fk->mode == ANSWER_NO_TABLE_ONCE) {
            fk->mode = ANSWER_OK;
            reply(c->fd, 404, "Code: 60, e.displayText() = DB::Exception: Table mc.flows doesn't exist.\n");
        } else {
            if (fk->rows_len + blen > fk->rows_cap) {
                fk->rows_cap = (fk->rows_len + blen) * 2;
                fk->rows = realloc(fk->rows, fk->rows_cap);
                assert_non_null(fk->rows);
            }
            memcpy(fk->rows + fk->rows_len, body, blen);
            fk->rows_len += blen;
            fk->inserts++;
            reply(c->fd, 200, "");
        }
    } else if (strncmp(sql, "CREATE", 6) == 0) {
        fk->creates++;
        reply(c->fd, 200, "");
    } else if (strstr(sql, "system.columns")) {
        char names[N_COLS][32], types[N_COLS][32], out[2048];
        size_t k = 0;
        schema_cols(names, types);
        for (int i = N_COLS - 1; i >= 0; i--) /* any order */
            k += (size_t)snprintf(out + k, sizeof(out) - k, "%s\t%s\n", names[i], types[i]);
        reply(c->fd, 200, out);
    } else if (strstr(sql, "system.tables")) {
        reply(c->fd, 200, "MergeTree\n");
    } else if (strstr(sql, "version()")) {
        reply(c->fd, 200, "18.16.1\t0\n");
    } else if (strstr(sql, "system.parts")) {
        reply(c->fd, 200, fk->parts);
    } else if (strncmp(sql, "ALTER TABLE flows DROP PARTITION ", 33) == 0) {
        fk->drops++;
        size_t k = strlen(fk->dropped_parts);
        snprintf(fk->dropped_parts + k, sizeof(fk->dropped_parts) - k, "%s ", sql + 33);
        reply(c->fd, 200, "");
    } else {
        reply(c->fd, 400, "Code: 62, e.displayText() = DB::Exception: Syntax error\n");
    }
    pthread_mutex_unlock(&fk->mu);
    free(body);
    return 0;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    while (serve_one(c->fk, c) == 0)
        ;
    close(c->fd);
    return NULL;
}

static void *fake_main(void *arg)
{
    struct fake *fk = arg;
    for (;;) {
        int fd = accept(fk->lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* shut down */
        struct conn *c = fk->n_conns < FAKE_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        c->fk = fk;
        c->fd = fd;
        fk->conns[fk->n_conns] = c;
        assert_int_equal(pthread_create(&fk->conn_thread[fk->n_conns++], NULL, conn_main, c), 0);
    }
}

/* Listens on port (0: any free one). */
static void fake_start(struct fake *fk, int port)
{
    memset(fk, 0, sizeof(*fk));
    pthread_mutex_init(&fk->mu, NULL);
    fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fk->lfd >= 0);
    int one = 1;
    setsockopt(fk->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fk->lfd, 8), 0);
    socklen_t alen = sizeof(a);
    getsockname(fk->lfd, (struct sockaddr *)&a, &alen);
    fk->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
}

/* After the store is closed (its connection ended). */
static void fake_stop(struct fake *fk)
{
    shutdown(fk->lfd, SHUT_RDWR);
    pthread_join(fk->thread, NULL);
    for (int i = 0; i < fk->n_conns; i++) {
        pthread_join(fk->conn_thread[i], NULL);
        free(fk->conns[i]);
    }
    close(fk->lfd);
    free(fk->rows);
    pthread_mutex_destroy(&fk->mu);
}

static int fake_get(struct fake *fk, int *field)
{
    pthread_mutex_lock(&fk->mu);
    int v = *field;
    pthread_mutex_unlock(&fk->mu);
    return v;
}

static struct mc_store *open_ch(int port, size_t batch, size_t max_queued, uint64_t retention_s)
{
    struct mc_store_config cfg;
    char url[64], err[512];
    mc_store_config_defaults(&cfg);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/mc", port);
    cfg.spec = url;
    cfg.batch = batch;
    cfg.max_queued = max_queued;
    cfg.retention_s = retention_s;
    struct mc_store *s = mc_store_clickhouse.open(&cfg, err, sizeof(err));
    if (!s)
        fail_msg("open %s: %s", url, err);
    return s;
}

/* A port nothing listens on now. */
static int closed_port(void)
{
    struct fake fk;
    fake_start(&fk, 0);
    int port = fk.port;
    fake_stop(&fk);
    return port;
}

static void test_writes(void **state)
{
    (void)state;
    struct fake fk;
    fake_start(&fk, 0);
    uint64_t rows0 = ctr("store.rows"), batches0 = ctr("store.batches"), errors0 = ctr("store.errors");
    struct mc_store *s = open_ch(fk.port, 100, 0, 0);
    assert_int_equal(fake_get(&fk, &fk.creates), 2); /* the database and the table, at open */
    assert_string_equal(fk.database, ""); /* the last: version() and settings, in no database */
    for (uint64_t i = 0; i < 250; i++) {
        struct mc_coll_flow f = flow4(NOW + i, NOW + i + 1);
        mc_store_clickhouse.add(s, &f);
    }
    /* a full batch goes at once; a writer that woke late took all that waited then (up to two batches), and
     * what came after it waits for the flush when it is less than a batch */
    wait_ctr("store.rows", rows0 + 100);
    mc_store_clickhouse.tick(s, NOW);
    mc_store_clickhouse.tick(s, NOW + 1000); /* a second on: the partial one */
    wait_ctr("store.rows", rows0 + 250);
    mc_store_clickhouse.close(s);
    /* 100 + 100 + 50 when the writer keeps up; a writer that woke late takes all that waited at once
     * (200 + 50, 150 + 100, or all 250 on a loaded machine) */
    uint64_t batches = ctr("store.batches") - batches0;
    assert_true(batches >= 1 && batches <= 3);
    assert_int_equal(ctr("store.errors") - errors0, 0);
    assert_int_equal(fk.inserts, batches);
    assert_string_equal(fk.database, "mc");
    static struct rows r;
    r.n = 0;
    native_rows(fk.rows, fk.rows_len, &r);
    assert_int_equal(r.n, 250);
    /* every row once, in order within a batch: as many runs of consecutive rows as batches at most (two
     * writers send at once, so the batches arrive in any order) */
    uint64_t seen[250] = { 0 }, prev = 0;
    size_t runs = 0;
    for (int i = 0; i < 250; i++) {
        unsigned long long t;
        assert_int_equal(sscanf(r.row[i], "start_ms=%llu ", &t), 1);
        assert_true(t >= NOW && t < NOW + 250 && !seen[t - NOW]);
        seen[t - NOW] = 1;
        runs += i == 0 || t != prev + 1;
        prev = t;
    }
    assert_true(runs <= batches);
    fake_stop(&fk);
}

static void test_refused(void **state)
{
    (void)state;
    struct fake fk;
    fake_start(&fk, 0);
    uint64_t errors0 = ctr("store.errors"), dropped0 = ctr("store.dropped"), rows0 = ctr("store.rows");
    struct mc_store *s = open_ch(fk.port, 10, 0, 0);
    fk.mode = ANSWER_REFUSE;
    struct mc_coll_flow f = flow4(NOW, NOW);
    mc_store_clickhouse.tick(s, NOW); /* the clock starts */
    for (int i = 0; i < 10; i++)
        mc_store_clickhouse.add(s, &f);
    /* refused: tried again at each flush, dropped at the tenth refusal */
    for (uint64_t k = 1; k <= 10; k++) {
        wait_ctr("store.errors", errors0 + k);
        mc_store_clickhouse.tick(s, NOW + k * 1000);
    }
    wait_ctr("store.dropped", dropped0 + 10);
    assert_int_equal(ctr("store.errors") - errors0, 10);
    pthread_mutex_lock(&fk.mu);
    fk.mode = ANSWER_NO_TABLE_ONCE; /* the server's data wiped: the table is made again, the batch kept */
    int creates = fk.creates;
    pthread_mutex_unlock(&fk.mu);
    for (int i = 0; i < 10; i++)
        mc_store_clickhouse.add(s, &f);
    wait_ctr("store.errors", errors0 + 11);
    mc_store_clickhouse.tick(s, NOW + 20000);
    wait_ctr("store.rows", rows0 + 10);
    assert_int_equal(fake_get(&fk, &fk.creates), creates + 2);
    mc_store_clickhouse.close(s);
    assert_int_equal(ctr("store.dropped") - dropped0, 10);
    fake_stop(&fk);
}

static void test_retention(void **state)
{
    (void)state;
    struct fake fk;
    fake_start(&fk, 0);
    snprintf(fk.parts, sizeof(fk.parts), "20231110\t5\n20231112\t6\n20231113\t7\n20231114\t3\nall\t9\n");
    uint64_t runs0 = ctr("store.retention.runs"), removed0 = ctr("store.retention.removed");
    struct mc_store *s = open_ch(fk.port, 0, 0, 86400);
    /* the cut: NOW - 1 day = 2023-11-13T22:13Z; the days that ended before 2023-11-13 began go */
    mc_store_clickhouse.tick(s, NOW);
    wait_ctr("store.retention.runs", runs0 + 1);
    assert_int_equal(ctr("store.retention.removed") - removed0, 11);
    mc_store_clickhouse.tick(s, NOW + 30000); /* at most once a minute */
    usleep(50000);
    assert_int_equal(fake_get(&fk, &fk.drops), 2);
    mc_store_clickhouse.close(s);
    assert_string_equal(fk.dropped_parts, "20231110 20231112 ");
    fake_stop(&fk);
}

/* No server: the receive side never waits, the bound holds, failures are counted, close gives up. */
static void test_down(void **state)
{
    (void)state;
    int port = closed_port();
    uint64_t errors0 = ctr("store.errors"), dropped0 = ctr("store.dropped"), rows0 = ctr("store.rows");
    struct mc_store *s = open_ch(port, 10, 50, 60); /* no server at open: a warning, not a failure */
    struct mc_coll_flow f = flow4(NOW, NOW);
    double t0 = now_s();
    for (int i = 0; i < 80; i++)
        mc_store_clickhouse.add(s, &f);
    assert_true(now_s() - t0 < 0.5);
    mc_store_clickhouse.tick(s, NOW);
    wait_ctr("store.errors", errors0 + 1);
    assert_int_equal(ctr("store.dropped") - dropped0, 30);
    mc_store_clickhouse.tick(s, NOW + 1000);
    wait_ctr("store.errors", errors0 + 2);
    t0 = now_s();
    mc_store_clickhouse.close(s); /* three tries, then the 50 held are dropped */
    assert_true(now_s() - t0 < 10);
    assert_int_equal(ctr("store.dropped") - dropped0, 80);
    assert_int_equal(ctr("store.rows") - rows0, 0);
}

/* A server that comes up after the collector: the flows held are written then. */
static void test_comes_back(void **state)
{
    (void)state;
    int port = closed_port();
    uint64_t errors0 = ctr("store.errors"), rows0 = ctr("store.rows"), dropped0 = ctr("store.dropped");
    struct mc_store *s = open_ch(port, 10, 0, 0);
    struct mc_coll_flow f = flow4(NOW, NOW);
    for (int i = 0; i < 25; i++)
        mc_store_clickhouse.add(s, &f);
    wait_ctr("store.errors", errors0 + 1);
    struct fake fk;
    fake_start(&fk, port);
    for (uint64_t k = 1; ctr("store.rows") < rows0 + 25 && k < 200; k++) {
        mc_store_clickhouse.tick(s, NOW + k * 1000);
        usleep(20000);
    }
    assert_int_equal(ctr("store.rows") - rows0, 25);
    assert_int_equal(fake_get(&fk, &fk.creates), 2); /* the table made once it answered */
    mc_store_clickhouse.close(s);
    assert_int_equal(ctr("store.dropped") - dropped0, 0);
    fake_stop(&fk);
}

static void test_open_refused(void **state)
{
    (void)state;
    struct mc_store_config cfg;
    char err[256];
    mc_store_config_defaults(&cfg);
    cfg.spec = "http://127.0.0.1:1/bad-name";
    assert_null(mc_store_clickhouse.open(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "bad-name"));
    cfg.spec = NULL;
    assert_null(mc_store_clickhouse.open(&cfg, err, sizeof(err)));
    assert_string_equal(mc_store_clickhouse.name, "clickhouse");
}

/* --- a real server (MC_TEST_CLICKHOUSE) -------------------------------------------------- */

static size_t keep_text(char *p, size_t size, size_t n, void *ud)
{
    char *out = ud;
    size_t k = strlen(out), m = size * n;
    snprintf(out + k, 256 - k, "%.*s", (int)m, p);
    return m;
}

static void real_query(const char *base, const char *db, const char *sql, char *out)
{
    char url[512];
    snprintf(url, sizeof(url), "%s?database=%s", base, db);
    CURL *c = curl_easy_init();
    out[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, sql);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_text);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
}

static void test_real_rate(void **state)
{
    (void)state;
    const char *url = getenv("MC_TEST_CLICKHOUSE");
    if (!url || !url[0]) {
        print_message("    (MC_TEST_CLICKHOUSE unset: no real server written to)\n");
        return;
    }
    enum { N = 1000000 };
    struct mc_store_config cfg;
    char err[512], out[256];
    struct mc_ch_url u;
    assert_int_equal(mc_ch_url_parse(url, &u, err, sizeof(err)), 0);
    mc_store_config_defaults(&cfg);
    cfg.spec = url;
    cfg.batch = 0; /* the store's own default */
    cfg.max_queued = 2 * N;
    struct mc_store *s = mc_store_clickhouse.open(&cfg, err, sizeof(err));
    if (!s)
        fail_msg("open %s: %s", url, err);
    real_query(u.base, u.db, "TRUNCATE TABLE flows", out);
    uint64_t rows0 = ctr("store.rows"), dropped0 = ctr("store.dropped");
    struct mc_coll_flow f = flow4(NOW, NOW);
    double t0 = now_s();
    for (uint32_t i = 0; i < N; i++) {
        vary_flow(&f, i);
        mc_store_clickhouse.add(s, &f);
    }
    double t1 = now_s();
    mc_store_clickhouse.close(s);
    double t2 = now_s();
    assert_int_equal(ctr("store.rows") - rows0, N);
    assert_int_equal(ctr("store.dropped") - dropped0, 0);
    real_query(u.base, u.db, "SELECT count() FROM flows", out);
    assert_int_equal(strtoul(out, NULL, 10), N);
    print_message("    clickhouse store: %d rows in %.2f s = %.0f rows/s (adds: %.0f ns each)\n", N, t2 - t0,
                  N / (t2 - t0), (t1 - t0) * 1e9 / N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_row),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_down),
        cmocka_unit_test(test_comes_back),
        cmocka_unit_test(test_real_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
