/* test_store_sqlite.c - the SQLite store: every column as written (IPv4, IPv6, no address, names set
 * and empty), reopening keeps the rows, another schema version is refused, a version 1 file upgraded,
 * segments (address indexes built when one is full, the view over them, the cap on their number, whole
 * segments dropped by retention), retention (in slices), the queue bound, a locked database (errors
 * counted, flows kept and written later, a close that cannot write gives up), and the write rate
 * (printed, not checked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/store.h"
#include "unit/collector/store_helpers.h"

struct tmp {
    char dir[64];
    char path[96];
};

static void tmp_make(struct tmp *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/mcstore.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/flows.db", t->dir);
}

static void tmp_remove(struct tmp *t)
{
    char p[128];
    const char *ext[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, ext[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

static size_t segment_rows, segments_max; /* the next opens' (0: the store's defaults) */

static struct mc_store *open_store(const char *path, size_t batch, size_t max_queued, uint64_t retention_s)
{
    struct mc_store_config cfg;
    char err[256];
    mc_store_config_defaults(&cfg);
    cfg.spec = path;
    if (batch)
        cfg.batch = batch;
    if (max_queued)
        cfg.max_queued = max_queued;
    cfg.retention_s = retention_s;
    cfg.segment_rows = segment_rows;
    cfg.segments_max = segments_max;
    struct mc_store *s = mc_store_sqlite.open(&cfg, err, sizeof(err));
    if (!s)
        fail_msg("open %s: %s", path, err);
    return s;
}

/* Opens the store at path with retention_s and its clock at now_ms: its first tick runs retention, which
 * must remove the rows removed (counted) in one run.  The store stays open. */
static struct mc_store *open_retained(const char *path, size_t batch, uint64_t retention_s, uint64_t now_ms,
                                      uint64_t removed)
{
    uint64_t runs0 = ctr("store.retention.runs"), removed0 = ctr("store.retention.removed");
    struct mc_store *s = open_store(path, batch, 0, retention_s);
    mc_store_sqlite.tick(s, now_ms);
    wait_ctr("store.retention.runs", runs0 + 1);
    assert_int_equal(ctr("store.retention.removed") - removed0, removed);
    return s;
}

static struct mc_coll_flow flow6(void)
{
    struct mc_coll_flow f;
    memset(&f, 0, sizeof(f));
    f.start_ms = NOW + 1, f.end_ms = NOW + 2;
    set_ip(f.exporter.addr, AF_INET6, "2001:db8::ff");
    f.exporter.ver = 6, f.exporter.port = 4739;
    f.version = 9, f.ip_version = 6;
    set_ip(f.src, AF_INET6, "2001:db8::1");
    set_ip(f.dst, AF_INET6, "2001:db8:0:1::2");
    f.src_port = 5353, f.dst_port = 53, f.proto = 17;
    f.packets = 1, f.octets = UINT64_MAX; /* past SQLite's integers: stored as the largest */
    f.sampling = 1;
    memset(f.app, 'x', sizeof(f.app)); /* no NUL: cut at the array's end */
    return f;
}

static struct mc_coll_flow flow0(void)
{
    struct mc_coll_flow f;
    memset(&f, 0, sizeof(f));
    f.start_ms = f.end_ms = NOW + 3;
    set_ip(f.exporter.addr, AF_INET, "192.0.2.2");
    f.exporter.ver = 4, f.exporter.port = 9995;
    f.version = 5, f.sampling = 1, f.packets = 2, f.octets = 120;
    return f;
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static long long db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void db_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void col_int(sqlite3_stmt *st, int i, const char *name, long long want)
{
    assert_string_equal(sqlite3_column_name(st, i), name);
    assert_int_equal(sqlite3_column_type(st, i), SQLITE_INTEGER);
    assert_int_equal(sqlite3_column_int64(st, i), want);
}

static void col_text(sqlite3_stmt *st, int i, const char *name, const char *want)
{
    assert_string_equal(sqlite3_column_name(st, i), name);
    if (!want) {
        assert_int_equal(sqlite3_column_type(st, i), SQLITE_NULL);
        return;
    }
    assert_int_equal(sqlite3_column_type(st, i), SQLITE_TEXT);
    assert_string_equal((const char *)sqlite3_column_text(st, i), want);
}

/* The 27 columns of one row in schema order; names NULL where the flow has none. */
static void check_row(sqlite3_stmt *st, const struct mc_coll_flow *f, const char *exporter, const char *src,
                      const char *dst, const char *app, long long octets)
{
    int i = 0;
    assert_int_equal(sqlite3_column_count(st), 27);
    col_int(st, i++, "start_ms", (long long)f->start_ms);
    col_int(st, i++, "end_ms", (long long)f->end_ms);
    col_text(st, i++, "exporter", exporter);
    col_int(st, i++, "version", f->version);
    col_int(st, i++, "domain", f->domain);
    col_int(st, i++, "ip_version", f->ip_version);
    col_text(st, i++, "src", src);
    col_text(st, i++, "dst", dst);
    col_int(st, i++, "src_port", f->src_port);
    col_int(st, i++, "dst_port", f->dst_port);
    col_int(st, i++, "proto", f->proto);
    col_int(st, i++, "tcp_flags", f->tcp_flags);
    col_int(st, i++, "tos", f->tos);
    col_int(st, i++, "packets", (long long)f->packets);
    col_int(st, i++, "octets", octets);
    col_int(st, i++, "rev_packets", (long long)f->rev_packets);
    col_int(st, i++, "rev_octets", (long long)f->rev_octets);
    col_int(st, i++, "in_if", f->in_if);
    col_int(st, i++, "out_if", f->out_if);
    col_int(st, i++, "src_as", f->src_as);
    col_int(st, i++, "dst_as", f->dst_as);
    col_int(st, i++, "sampling", f->sampling);
    col_text(st, i++, "app", app);
    col_text(st, i++, "user", f->user[0] ? f->user : NULL);
    col_text(st, i++, "imsi", f->imsi[0] ? f->imsi : NULL);
    col_text(st, i++, "msisdn", f->msisdn[0] ? f->msisdn : NULL);
    col_text(st, i++, "call_id", f->call_id[0] ? f->call_id : NULL);
}

static void test_columns(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    uint64_t rows0 = ctr("store.rows"), batches0 = ctr("store.batches");
    struct mc_coll_flow a = flow4(NOW, NOW + 5000), b = flow6(), c = flow0();
    struct mc_store *s = open_store(t.path, 0, 0, 0);
    mc_store_sqlite.add(s, &a);
    mc_store_sqlite.add(s, &b);
    mc_store_sqlite.add(s, &c);
    mc_store_sqlite.close(s); /* writes what it holds */
    assert_int_equal(ctr("store.rows") - rows0, 3);
    assert_int_equal(ctr("store.batches") - batches0, 1);

    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT value FROM meta WHERE name = 'schema_version'"), 2);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM flows ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
    char x64[65];
    memset(x64, 'x', 64);
    x64[64] = 0;
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    check_row(st, &a, "192.0.2.1:2055", "10.0.0.1", "198.51.100.7", "TLS.YouTube", 1500);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    check_row(st, &b, "[2001:db8::ff]:4739", "2001:db8::1", "2001:db8:0:1::2", x64, INT64_MAX);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    check_row(st, &c, "192.0.2.2:9995", NULL, NULL, NULL, 120);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    /* the live segment: its time index; its address indexes come when it is full (test_segments) */
    assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows_1'"),
                     1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'flows_1_start_ms'"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows WHERE src = '10.0.0.1' OR dst = '2001:db8:0:1::2'"), 2);
    sqlite3_close(db);
    tmp_remove(&t);
}

/* Rows go 16 to an INSERT while 16 are left: every column of every row still right, the exporter changing
 * within a statement. */
static void test_columns_grouped(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    enum { N = 2 * 16 + 5 };
    struct mc_coll_flow f[3] = { flow4(NOW, NOW + 5000), flow6(), flow0() };
    struct mc_store *s = open_store(t.path, 0, 0, 0);
    for (int i = 0; i < N; i++)
        mc_store_sqlite.add(s, &f[i % 3]);
    mc_store_sqlite.close(s);
    sqlite3 *db = db_open(t.path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM flows ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
    char x64[65];
    memset(x64, 'x', 64);
    x64[64] = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (i % 3 == 0)
            check_row(st, &f[0], "192.0.2.1:2055", "10.0.0.1", "198.51.100.7", "TLS.YouTube", 1500);
        else if (i % 3 == 1)
            check_row(st, &f[1], "[2001:db8::ff]:4739", "2001:db8::1", "2001:db8:0:1::2", x64, INT64_MAX);
        else
            check_row(st, &f[2], "192.0.2.2:9995", NULL, NULL, NULL, 120);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tmp_remove(&t);
}

static void test_reopen_keeps_rows(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    struct mc_coll_flow a = flow4(NOW, NOW), b = flow0();
    for (int round = 0; round < 3; round++) {
        struct mc_store *s = open_store(t.path, 0, 0, 0);
        mc_store_sqlite.add(s, &a);
        mc_store_sqlite.add(s, &b);
        mc_store_sqlite.close(s);
    }
    /* a store closed with nothing written leaves the file as it was */
    mc_store_sqlite.close(open_store(t.path, 0, 0, 0));
    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 6);
    assert_int_equal(db_int(db, "SELECT count(*) FROM meta"), 1);
    sqlite3_close(db);
    tmp_remove(&t);
}

static void expect_refused(const char *path, const char *why)
{
    struct mc_store_config cfg;
    char err[256] = "";
    mc_store_config_defaults(&cfg);
    cfg.spec = path;
    assert_null(mc_store_sqlite.open(&cfg, err, sizeof(err)));
    if (!strstr(err, why))
        fail_msg("error '%s' does not say '%s'", err, why);
}

/* A new file at t's path made by sql (another program's, or an older collector's). */
static void file_with(struct tmp *t, const char *sql)
{
    tmp_make(t);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    db_exec(db, sql);
    sqlite3_close(db);
}

static void test_refused(void **state)
{
    (void)state;
    struct tmp t;
    file_with(&t, "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                  "INSERT INTO meta VALUES ('schema_version', 3); CREATE TABLE flows (a INTEGER)");
    expect_refused(t.path, "schema version 3, this collector writes version 2");
    tmp_remove(&t);

    /* somebody else's flows table */
    file_with(&t, "CREATE TABLE flows (a INTEGER)");
    expect_refused(t.path, "without a schema version");
    tmp_remove(&t);

    /* not a database */
    tmp_make(&t);
    FILE *fp = fopen(t.path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 100; i++)
        fputs("this is not an SQLite file\n", fp);
    fclose(fp);
    expect_refused(t.path, "not a database");
    tmp_remove(&t);

    expect_refused("/nonexistent-dir/flows.db", "/nonexistent-dir/flows.db");
    expect_refused("", "no file given");
    expect_refused(NULL, "no file given");
}

static void test_retention(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    struct mc_store *s = open_store(t.path, 0, 0, 0);
    for (int i = 0; i < 10; i++) {
        struct mc_coll_flow f = flow4(NOW - 7200000 - i, NOW - 7200000 + 1000); /* ended 2 h ago */
        mc_store_sqlite.add(s, &f);
    }
    struct mc_coll_flow f = flow4(NOW - 7200000, NOW - 60000); /* started 2 h ago, ended a minute ago */
    mc_store_sqlite.add(s, &f);
    f = flow4(NOW, NOW);
    mc_store_sqlite.add(s, &f);
    mc_store_sqlite.tick(s, NOW); /* no retention: none configured */
    mc_store_sqlite.close(s);

    uint64_t runs0 = ctr("store.retention.runs"), removed0 = ctr("store.retention.removed");
    s = open_store(t.path, 0, 0, UINT64_MAX / 100); /* longer than the clock: keeps all (no overflow) */
    mc_store_sqlite.tick(s, NOW);
    mc_store_sqlite.close(s);
    assert_int_equal(ctr("store.retention.runs"), runs0);
    s = open_store(t.path, 0, 0, 3600);
    mc_store_sqlite.tick(s, NOW); /* the first tick runs it */
    wait_ctr("store.retention.runs", runs0 + 1);
    assert_int_equal(ctr("store.retention.removed") - removed0, 10);
    mc_store_sqlite.tick(s, NOW + 30000); /* at most once a minute */
    usleep(50000);
    assert_int_equal(ctr("store.retention.runs") - runs0, 1);
    mc_store_sqlite.tick(s, NOW + 60000);
    wait_ctr("store.retention.runs", runs0 + 2);
    assert_int_equal(ctr("store.retention.removed") - removed0, 10);
    mc_store_sqlite.close(s);

    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 2);
    assert_int_equal(db_int(db, "SELECT min(end_ms) FROM flows"), (long long)(NOW - 60000));
    sqlite3_close(db);
    tmp_remove(&t);
}

static void test_queue_bound(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    uint64_t dropped0 = ctr("store.dropped"), rows0 = ctr("store.rows");
    struct mc_store *s = open_store(t.path, 100, 5, 0); /* batch never reached, no tick: all stays queued */
    struct mc_coll_flow f = flow0();
    for (int i = 0; i < 12; i++) {
        f.start_ms = f.end_ms = NOW + (uint64_t)i;
        mc_store_sqlite.add(s, &f);
    }
    assert_int_equal(ctr("store.dropped") - dropped0, 7);
    assert_int_equal(ctr("store.rows") - rows0, 0);
    mc_store_sqlite.close(s);
    assert_int_equal(ctr("store.rows") - rows0, 5);
    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT max(start_ms) FROM flows"), (long long)(NOW + 4)); /* the first five */
    sqlite3_close(db);
    tmp_remove(&t);
}

static void test_flush_on_tick_and_batch(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    uint64_t rows0 = ctr("store.rows");
    struct mc_store *s = open_store(t.path, 10, 0, 0);
    struct mc_coll_flow f = flow0();
    for (int i = 0; i < 10; i++)
        mc_store_sqlite.add(s, &f);
    wait_ctr("store.rows", rows0 + 10); /* a full batch goes at once */
    for (int i = 0; i < 5; i++)
        mc_store_sqlite.add(s, &f);
    mc_store_sqlite.tick(s, NOW);
    mc_store_sqlite.tick(s, NOW + 999);
    usleep(50000);
    assert_int_equal(ctr("store.rows") - rows0, 10);
    mc_store_sqlite.tick(s, NOW + 1000); /* a second on: the partial batch goes */
    wait_ctr("store.rows", rows0 + 15);
    mc_store_sqlite.close(s);
    tmp_remove(&t);
}

static void test_locked(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    uint64_t rows0 = ctr("store.rows"), errors0 = ctr("store.errors"), dropped0 = ctr("store.dropped");
    struct mc_store *s = open_store(t.path, 10, 0, 0);
    sqlite3 *db = db_open(t.path);
    db_exec(db, "BEGIN EXCLUSIVE"); /* another writer holds the file */
    struct mc_coll_flow f = flow4(NOW, NOW);
    for (int i = 0; i < 10; i++)
        mc_store_sqlite.add(s, &f); /* a full batch: the writer tries at once */
    wait_ctr("store.errors", errors0 + 1);
    for (int i = 0; i < 15; i++)
        mc_store_sqlite.add(s, &f); /* adds go on while the batch waits */
    mc_store_sqlite.tick(s, NOW);
    assert_int_equal(ctr("store.rows") - rows0, 0);
    db_exec(db, "COMMIT");
    mc_store_sqlite.tick(s, NOW + 1000); /* the retry */
    wait_ctr("store.rows", rows0 + 25);
    mc_store_sqlite.close(s);
    assert_int_equal(ctr("store.dropped") - dropped0, 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 25);

    /* a close that cannot write gives up after a few tries: dropped, counted, no hang */
    s = open_store(t.path, 10, 0, 0);
    db_exec(db, "BEGIN EXCLUSIVE");
    for (int i = 0; i < 5; i++)
        mc_store_sqlite.add(s, &f);
    mc_store_sqlite.close(s);
    assert_int_equal(ctr("store.dropped") - dropped0, 5);
    db_exec(db, "COMMIT");
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 25);
    sqlite3_close(db);
    tmp_remove(&t);
}

/* 200k varied flows: the rate is printed (the project aims at 300k rows/s), never checked; then one
 * retention run removes all of them in slices. */
static void test_rate(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    enum { N = 200000 };
    uint64_t rows0 = ctr("store.rows");
    struct mc_coll_flow f = flow4(NOW, NOW);
    struct mc_store *s = open_store(t.path, 0, 0, 0);
    double t0 = now_s();
    for (uint32_t i = 0; i < N; i++) {
        vary_flow(&f, i);
        if (i % 50000 == 0)
            mc_store_sqlite.tick(s, NOW + i);
        mc_store_sqlite.add(s, &f);
    }
    double t1 = now_s();
    mc_store_sqlite.close(s);
    double t2 = now_s();
    assert_int_equal(ctr("store.rows") - rows0, N);
    print_message("    sqlite store: %d rows in %.2f s = %.0f rows/s (adds: %.0f ns each)\n", N, t2 - t0,
                  N / (t2 - t0), (t1 - t0) * 1e9 / N);

    mc_store_sqlite.close(open_retained(t.path, 0, 1, NOW + 10000000, N));
    tmp_remove(&t);
}

/* Flow i of the segment tests: its own source, starting at start + i. */
static struct mc_coll_flow seg_flow(uint64_t start, uint32_t i)
{
    struct mc_coll_flow f = flow4(start + i, start + i + 10);
    f.src[2] = (uint8_t)(i >> 8), f.src[3] = (uint8_t)i;
    return f;
}

/* Adds n flows from i on and waits until they are written (each write may close the live segment). */
static void add_written(struct mc_store *s, uint64_t start, uint32_t i, uint32_t n)
{
    uint64_t rows0 = ctr("store.rows");
    for (uint32_t k = 0; k < n; k++) {
        struct mc_coll_flow f = seg_flow(start, i + k);
        mc_store_sqlite.add(s, &f);
    }
    static uint64_t clock_ms = NOW;
    mc_store_sqlite.tick(s, clock_ms += 1000); /* a part batch goes at the flush, a second on */
    mc_store_sqlite.tick(s, clock_ms += 1000);
    wait_ctr("store.rows", rows0 + n);
}

static long long plan_uses(sqlite3 *db, const char *sql, const char *index)
{
    char q[512];
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    long long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n += strstr((const char *)sqlite3_column_text(st, 3), index) != NULL;
    sqlite3_finalize(st);
    return n;
}

static void test_segments(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    segment_rows = 100, segments_max = 3;
    uint64_t old = NOW - 7200000; /* segments 1 and 2: ended two hours ago */
    struct mc_store *s = open_store(t.path, 100, 0, 0);
    add_written(s, old, 0, 100);    /* segment 1 full: indexed, segment 2 starts */
    add_written(s, old, 100, 100);  /* segment 2 full: indexed, segment 3 starts */
    add_written(s, NOW, 200, 100);  /* 3 segments, the most: segment 3 gets its indexes and grows */
    add_written(s, NOW, 300, 50);
    mc_store_sqlite.close(s);

    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 350);
    assert_int_equal(db_int(db, "SELECT group_concat(n || ':' || indexed, ',') = '1:1,2:1,3:1' FROM segments"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows_1"), 100);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows_3"), 150);
    assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('flows_1_src', "
                                "'flows_1_dst', 'flows_2_src', 'flows_2_dst', 'flows_3_src', 'flows_3_dst')"), 6);
    assert_int_equal(db_int(db, "SELECT min_ms FROM segments WHERE n = 2"), (long long)(old + 100));
    assert_int_equal(db_int(db, "SELECT max_ms FROM segments WHERE n = 2"), (long long)(old + 199 + 10));
    /* through the view: each segment's index answers an address, the start_ms indexes merge the newest */
    const char *by_addr = "SELECT count(*) FROM flows WHERE src = '10.0.1.44' OR dst = '10.0.1.44'";
    assert_int_equal(db_int(db, by_addr), 1);
    assert_true(plan_uses(db, by_addr, "flows_1_src") && plan_uses(db, by_addr, "flows_3_dst"));
    assert_int_equal(db_int(db, "SELECT group_concat(start_ms - " "1700000000000" ", ',') = '349,348,347' FROM "
                                "(SELECT start_ms FROM flows ORDER BY start_ms DESC LIMIT 3)"), 1);
    assert_true(plan_uses(db, "SELECT * FROM flows ORDER BY start_ms DESC LIMIT 3", "flows_2_start_ms"));
    sqlite3_close(db);

    /* retention: segments 1 and 2 dropped whole (their rows counted), segment 3 kept */
    s = open_retained(t.path, 100, 3600, NOW + 1000, 200);
    /* a place is free again: the full live segment closes at the next write and segment 4 starts */
    add_written(s, NOW, 350, 10);
    mc_store_sqlite.close(s);
    db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT group_concat(n || ':' || indexed, ',') = '3:1,4:0' FROM segments"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'flows_1%' OR "
                                "name LIKE 'flows_2%'"), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 160);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows_4"), 0); /* the 10 went to segment 3, then it closed */
    sqlite3_close(db);
    segment_rows = segments_max = 0;
    tmp_remove(&t);
}

/* Past 400 segments the view flows is the UNION ALL of part views of 400 each; a part whose segments all went
 * is dropped. */
static void test_view_parts(void **state)
{
    (void)state;
    struct tmp t;
    tmp_make(&t);
    segment_rows = 1; /* a segment per write */
    enum { OLD = 400, NEW = 5 };
    struct mc_store *s = open_store(t.path, 1, 0, 0);
    for (uint32_t i = 0; i < OLD + NEW; i++)
        add_written(s, i < OLD ? NOW - 7200000 : NOW, i, 1);
    mc_store_sqlite.close(s);
    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM segments"), OLD + NEW + 1); /* and the new live one */
    assert_int_equal(db_int(db, "SELECT group_concat(name) = 'flows_part_0,flows_part_1' FROM (SELECT name FROM "
                                "sqlite_master WHERE type = 'view' AND name LIKE 'flows_part_%' ORDER BY name)"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), OLD + NEW);
    const char *by_addr = "SELECT count(*) FROM flows WHERE src = '10.0.1.146'"; /* flow 402, segment 403 */
    assert_int_equal(db_int(db, by_addr), 1);
    assert_true(plan_uses(db, by_addr, "flows_403_src") && plan_uses(db, by_addr, "flows_1_src"));
    sqlite3_close(db);

    mc_store_sqlite.close(open_retained(t.path, 1, 3600, NOW + 1000, OLD));
    db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT group_concat(name) = 'flows_part_1' FROM sqlite_master WHERE type = 'view' "
                                "AND name LIKE 'flows_part_%'"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), NEW);
    sqlite3_close(db);
    segment_rows = 0;
    tmp_remove(&t);
}

/* A file of schema version 1 (one table flows and its three indexes) keeps its rows as segment 1. */
static void test_upgrade_v1(void **state)
{
    (void)state;
    struct tmp t;
    file_with(&t, "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                  "INSERT INTO meta VALUES ('schema_version', 1);"
                  "CREATE TABLE flows (start_ms INTEGER, end_ms INTEGER, exporter TEXT, version INTEGER,"
                  " domain INTEGER, ip_version INTEGER, src TEXT, dst TEXT, src_port INTEGER, dst_port INTEGER,"
                  " proto INTEGER, tcp_flags INTEGER, tos INTEGER, packets INTEGER, octets INTEGER,"
                  " rev_packets INTEGER, rev_octets INTEGER, in_if INTEGER, out_if INTEGER, src_as INTEGER,"
                  " dst_as INTEGER, sampling INTEGER, app TEXT, user TEXT, imsi TEXT, msisdn TEXT, call_id TEXT);"
                  "CREATE INDEX flows_start_ms ON flows (start_ms); CREATE INDEX flows_src ON flows (src);"
                  "CREATE INDEX flows_dst ON flows (dst);"
                  "INSERT INTO flows (start_ms, end_ms, src) VALUES (5, 7, '10.9.9.9'), (6, 9, '10.9.9.8');");
    struct mc_store *s = open_store(t.path, 0, 0, 0);
    struct mc_coll_flow f = flow4(NOW, NOW);
    mc_store_sqlite.add(s, &f);
    mc_store_sqlite.close(s);
    sqlite3 *db = db_open(t.path);
    assert_int_equal(db_int(db, "SELECT value FROM meta WHERE name = 'schema_version'"), 2);
    assert_int_equal(db_int(db, "SELECT group_concat(n || ':' || indexed || ':' || ifnull(min_ms, '-') || ':' || "
                                "ifnull(max_ms, '-'), ',') = '1:1:5:9,2:0:-:-' FROM segments"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows"), 3);
    assert_int_equal(db_int(db, "SELECT count(*) FROM flows_2"), 1);
    assert_true(plan_uses(db, "SELECT * FROM flows WHERE src = '10.9.9.9'", "flows_src"));
    sqlite3_close(db);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_columns_grouped),
        cmocka_unit_test(test_reopen_keeps_rows),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_view_parts),
        cmocka_unit_test(test_upgrade_v1),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_flush_on_tick_and_batch),
        cmocka_unit_test(test_locked),
        cmocka_unit_test(test_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
