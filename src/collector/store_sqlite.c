/*
 * store_sqlite.c - the embedded store: collected flows into one SQLite file
 * (view flows over segment tables, docs/COLLECTOR.md "Schema"), written by
 * a thread of its own so the receive loop never waits for the disk.
 *
 * The queue and its writer thread are store.c's (store.h): add copies the
 * flow into it (no I/O, no statement); the writer hands about `batch` flows
 * at a time to write_batch, which inserts them in one transaction through
 * one prepared statement.  The journal is WAL with synchronous=NORMAL, so a
 * commit costs no fsync (a checkpoint does) and readers (mcquery) never
 * block the writer.  A batch that fails (disk full, database locked past
 * BUSY_MS) is kept and tried again a second later, so nothing is lost while
 * the queue's bound holds.
 *
 * Segments: rows go to the live segment table flows_N, which has only its
 * start_ms index.  An address index takes one B-tree insert per row at a
 * random place, about 3.5 us each here, which would bound the store near
 * 100,000 rows/s; so a segment gets its src and dst indexes when it is full
 * (segment_rows), in one sorted build (CREATE INDEX, about 0.45 us per row
 * and index at 131,072 rows; more at larger segments), and the next
 * segment starts.  The view flows is the UNION ALL of part views of
 * VIEW_TERMS segments each (a compound SELECT takes 500 terms at most):
 * SQLite pushes a query's WHERE into each segment (their indexes answer)
 * and merges ORDER BY start_ms from their start_ms indexes.  A query by
 * address scans the live segment only.  At segments_max (160,000, 21
 * billion rows at the default size) the live segment gets its address
 * indexes and grows (each row then pays them), until retention frees a
 * place.
 *
 * Retention drops the segments whose rows all ended before now -
 * retention_s (one DROP TABLE, however many rows), then deletes the older
 * rows of the others in slices of RETENTION_SLICE rows between batches, so
 * a large purge never holds the queue back for long.  It asks for
 * start_ms < cut too (a flow ends after it starts) so the start_ms index
 * finds them: end_ms has no index of its own.
 */
#include "collector/store.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define SCHEMA_VERSION 2
#define BACKLOG_BATCHES 10        /* behind: one transaction takes up to this many batches */
#define RETENTION_SLICE 50000     /* rows per retention DELETE: the queue's batches go in between */
#define BUSY_MS 500               /* a locked database is waited for this long, then the batch waits */
#define SEGMENT_ROWS 131072       /* rows per segment: an index build of about a tenth of a second */
#define ROWS_PER_INSERT 16        /* rows per INSERT statement: a statement's fixed cost shared */
#define VIEW_TERMS 400            /* segments per part view: a compound SELECT takes 500 terms at most */
#define SEGMENTS_MAX (VIEW_TERMS * VIEW_TERMS) /* segments per file: parts per view, the same bound */

/*
 * The schema of a new file, also in docs/COLLECTOR.md "Schema" and
 * python/microcloud/flows.py (SCHEMA): tests/unit/python/test_flows.py
 * checks the three are the same text.  Its flows_1 statements are every
 * segment's, "flows_1" read as "flows_N" (segment_sql).
 */
static const char SCHEMA_SQL[] =
    /* schema */
    "CREATE TABLE IF NOT EXISTS meta (\n"
    "    name TEXT PRIMARY KEY,\n"
    "    value INTEGER NOT NULL\n"
    ");\n"
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 2);\n"
    "CREATE TABLE IF NOT EXISTS segments (\n"
    "    n INTEGER PRIMARY KEY,\n"
    "    indexed INTEGER NOT NULL DEFAULT 0,\n"
    "    min_ms INTEGER,\n"
    "    max_ms INTEGER\n"
    ");\n"
    "INSERT OR IGNORE INTO segments (n) VALUES (1);\n"
    "CREATE TABLE IF NOT EXISTS flows_1 (\n"
    "    start_ms INTEGER,\n"
    "    end_ms INTEGER,\n"
    "    exporter TEXT,\n"
    "    version INTEGER,\n"
    "    domain INTEGER,\n"
    "    ip_version INTEGER,\n"
    "    src TEXT,\n"
    "    dst TEXT,\n"
    "    src_port INTEGER,\n"
    "    dst_port INTEGER,\n"
    "    proto INTEGER,\n"
    "    tcp_flags INTEGER,\n"
    "    tos INTEGER,\n"
    "    packets INTEGER,\n"
    "    octets INTEGER,\n"
    "    rev_packets INTEGER,\n"
    "    rev_octets INTEGER,\n"
    "    in_if INTEGER,\n"
    "    out_if INTEGER,\n"
    "    src_as INTEGER,\n"
    "    dst_as INTEGER,\n"
    "    sampling INTEGER,\n"
    "    app TEXT,\n"
    "    user TEXT,\n"
    "    imsi TEXT,\n"
    "    msisdn TEXT,\n"
    "    call_id TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS flows_1_start_ms ON flows_1 (start_ms);\n"
    "CREATE VIEW IF NOT EXISTS flows AS SELECT * FROM flows_1;\n"
    /* end schema */;

#define N_COLUMNS 27

struct mc_store {
    struct mc_store_config cfg;
    char *path;             /* owned copy of cfg.spec */
    char what[512];         /* "store PATH", for the queue's log lines */
    sqlite3 *db;            /* the writer thread's once open returns */
    sqlite3_stmt *ins;      /* INSERT INTO the live segment, all columns */
    sqlite3_stmt *ins_many; /* the same, ROWS_PER_INSERT rows at once */
    struct mc_store_queue *q;

    /* the segments (the writer's once open returns) */
    long long live;         /* the live segment's number: rows go to flows_<live> */
    uint64_t live_rows;     /* rows in it */
    long long live_max_ms;  /* its latest start or end (what retention asks of it once closed), -1: none */
    int live_indexed;       /* it has its address indexes (segments_max was reached) */
    size_t n_segments;
};

/* The writer thread counts while the stats reader reads: whole 64-bit stores, never torn. */
#define CTR_ADD(id, v) __atomic_fetch_add(&MC_CTR_GET(store, id), (uint64_t)(v), __ATOMIC_RELAXED)

/* --- writing (writer thread) ---------------------------------------------- */

static int64_t i64(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Text columns: "" is NULL; a field that fills its array without a NUL is cut there. */
static void bind_name(sqlite3_stmt *st, int col, const char *v, size_t cap)
{
    size_t n = strnlen(v, cap);
    if (n == 0)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_text(st, col, v, (int)n, SQLITE_STATIC);
}

/* Binds every column of f from parameter i on (text borrowed from f and addr until the step; the
 * exporter's copied, x's text changes with the exporter). */
static void bind_flow(sqlite3_stmt *st, int i, const struct mc_coll_flow *f, struct mc_store_exporter *x,
                      char addr[2][INET6_ADDRSTRLEN])
{
    sqlite3_bind_int64(st, i++, i64(f->start_ms));
    sqlite3_bind_int64(st, i++, i64(f->end_ms));
    const char *exporter = mc_store_exporter_text(x, &f->exporter);
    if (x->len)
        sqlite3_bind_text(st, i++, exporter, (int)x->len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, f->version);
    sqlite3_bind_int64(st, i++, f->domain);
    sqlite3_bind_int(st, i++, f->ip_version);
    for (int d = 0; d < 2; d++) {
        if (f->ip_version != 4 && f->ip_version != 6)
            sqlite3_bind_null(st, i++);
        else
            sqlite3_bind_text(st, i++, mc_coll_flow_addr(f, d, addr[d], INET6_ADDRSTRLEN), -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, i++, f->src_port);
    sqlite3_bind_int(st, i++, f->dst_port);
    sqlite3_bind_int(st, i++, f->proto);
    sqlite3_bind_int(st, i++, f->tcp_flags);
    sqlite3_bind_int(st, i++, f->tos);
    sqlite3_bind_int64(st, i++, i64(f->packets));
    sqlite3_bind_int64(st, i++, i64(f->octets));
    sqlite3_bind_int64(st, i++, i64(f->rev_packets));
    sqlite3_bind_int64(st, i++, i64(f->rev_octets));
    sqlite3_bind_int64(st, i++, f->in_if);
    sqlite3_bind_int64(st, i++, f->out_if);
    sqlite3_bind_int64(st, i++, f->src_as);
    sqlite3_bind_int64(st, i++, f->dst_as);
    sqlite3_bind_int64(st, i++, f->sampling);
    bind_name(st, i++, f->app, sizeof(f->app));
    bind_name(st, i++, f->user, sizeof(f->user));
    bind_name(st, i++, f->imsi, sizeof(f->imsi));
    bind_name(st, i++, f->msisdn, sizeof(f->msisdn));
    bind_name(st, i++, f->call_id, sizeof(f->call_id));
}

/* Ends a failed transaction; sqlite may have rolled it back already (a full disk does). */
static void rollback(struct mc_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* sqlite3_exec, its error into why ("" when none). */
static int exec_why(struct mc_store *s, const char *sql, char *why, size_t whylen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    snprintf(why, whylen, "%s", rc == SQLITE_OK ? "" : msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The first value of a one-row query with one integer parameter (SQL NULL and no row: dflt); -1 on error. */
static int query_int(struct mc_store *s, const char *sql, long long arg, long long dflt, long long *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : dflt;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The schema's segment statements for segment n ("flows_1" made "flows_<n>"); malloc'd, NULL when out of
 * memory or when the schema has none (a build whose SCHEMA_SQL lost them: open refuses). */
static char *segment_sql(long long n)
{
    const char *from = strstr(SCHEMA_SQL, "CREATE TABLE IF NOT EXISTS flows_1 ("),
               *to = strstr(SCHEMA_SQL, "CREATE VIEW");
    if (!from || !to || to < from)
        return NULL;
    char name[32];
    int nl = snprintf(name, sizeof(name), "flows_%lld", n);
    size_t cap = (size_t)(to - from) * 2 + 64, k = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = from; p < to;) {
        if (strncmp(p, "flows_1", 7) == 0) {
            memcpy(out + k, name, (size_t)nl);
            k += (size_t)nl;
            p += 7;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = 0;
    return out;
}

/* Appends "SELECT * FROM <prefix><n>" for each n the query gives, joined by UNION ALL; the terms, or -1. */
static int union_of(sqlite3_stmt *st, const char *prefix, char **sql, size_t *cap, size_t *k)
{
    int rc, terms = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*k + 64 > *cap) {
            char *more = realloc(*sql, *cap * 2);
            if (!more)
                return -1;
            *sql = more, *cap *= 2;
        }
        *k += (size_t)snprintf(*sql + *k, *cap - *k, "%sSELECT * FROM %s%lld", terms++ ? " UNION ALL " : "", prefix,
                               (long long)sqlite3_column_int64(st, 0));
    }
    return rc == SQLITE_DONE ? terms : -1;
}

/*
 * The views made again after segment n came or went (in the caller's transaction): flows_part_K, the
 * UNION ALL of the segments numbered K * VIEW_TERMS + 1 to (K + 1) * VIEW_TERMS (a compound SELECT takes
 * 500 terms at most), and flows, the UNION ALL of the parts.  Also counts the segments.
 */
static int make_view(struct mc_store *s, long long n, char *why, size_t whylen)
{
    long long part = (n - 1) / VIEW_TERMS, count;
    size_t cap = 4096, k = 0;
    char *sql = malloc(cap);
    sqlite3_stmt *st = NULL;
    int terms = -1;
    if (!sql)
        goto fail;
    k = (size_t)snprintf(sql, cap, "DROP VIEW IF EXISTS flows; DROP VIEW IF EXISTS flows_part_%lld; ", part);
    if (sqlite3_prepare_v2(s->db, "SELECT n FROM segments WHERE n > ?1 AND n <= ?2 ORDER BY n", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, part * VIEW_TERMS);
    sqlite3_bind_int64(st, 2, (part + 1) * VIEW_TERMS);
    size_t head = k;
    k += (size_t)snprintf(sql + k, cap - k, "CREATE VIEW flows_part_%lld AS ", part);
    terms = union_of(st, "flows_", &sql, &cap, &k);
    sqlite3_finalize(st);
    st = NULL;
    if (terms < 0)
        goto fail;
    if (terms == 0) /* the part's last segment went: no view for it */
        k = head;
    else
        k += (size_t)snprintf(sql + k, cap - k, "; ");
    k += (size_t)snprintf(sql + k, cap - k, "CREATE VIEW flows AS ");
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT (n - 1) / ?1 FROM segments ORDER BY 1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int(st, 1, VIEW_TERMS);
    terms = union_of(st, "flows_part_", &sql, &cap, &k);
    sqlite3_finalize(st);
    st = NULL;
    if (terms <= 0) {
        snprintf(why, whylen, "%s", terms == 0 ? "no segment" : sqlite3_errmsg(s->db));
        free(sql);
        return -1;
    }
    int rc = exec_why(s, sql, why, whylen);
    free(sql);
    if (rc != 0)
        return -1;
    if (query_int(s, "SELECT count(*) FROM segments", 0, 0, &count) != 0) {
        snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
        return -1;
    }
    s->n_segments = (size_t)count;
    return 0;
fail:
    sqlite3_finalize(st);
    snprintf(why, whylen, "%s", sql ? sqlite3_errmsg(s->db) : "out of memory");
    free(sql);
    return -1;
}

/* The insert statement of the live segment (after open and after each rollover). */
/* INSERT INTO the live segment, rows rows of all columns each; NULL with why set. */
static sqlite3_stmt *insert_rows(struct mc_store *s, int rows, char *why, size_t whylen)
{
    static const char row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    char sql[64 + ROWS_PER_INSERT * sizeof(row)];
    int k = snprintf(sql, sizeof(sql), "INSERT INTO flows_%lld VALUES ", s->live);
    for (int r = 0; r < rows; r++)
        k += snprintf(sql + k, sizeof(sql) - (size_t)k, "%s%s", r ? "," : "", row);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
        return NULL;
    }
    if (sqlite3_bind_parameter_count(st) != N_COLUMNS * rows) {
        snprintf(why, whylen, "insert has %d columns, not %d", sqlite3_bind_parameter_count(st) / rows, N_COLUMNS);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* The insert statements of the live segment (after open and after each rollover). */
static int prepare_insert(struct mc_store *s, char *why, size_t whylen)
{
    sqlite3_stmt *one = insert_rows(s, 1, why, whylen), *many = one ? insert_rows(s, ROWS_PER_INSERT, why, whylen)
                                                                      : NULL;
    if (!many) {
        sqlite3_finalize(one);
        return -1;
    }
    sqlite3_finalize(s->ins);
    sqlite3_finalize(s->ins_many);
    s->ins = one, s->ins_many = many;
    return 0;
}

/* The segments as the file has them: the live one (the last), its rows, the count.  0, or -1 with why. */
static int load_segments(struct mc_store *s, char *why, size_t whylen)
{
    long long live, indexed, n, rows;
    char sql[96];
    if (query_int(s, "SELECT max(n) FROM segments", 0, -1, &live) != 0 || live < 0 ||
        query_int(s, "SELECT indexed FROM segments WHERE n = ?1", live, 0, &indexed) != 0 ||
        query_int(s, "SELECT count(*) FROM segments", 0, 0, &n) != 0) {
        snprintf(why, whylen, "%s", live < 0 ? "no segment" : sqlite3_errmsg(s->db));
        return -1;
    }
    char sql2[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM flows_%lld", live);
    /* once per open (a scan: end_ms has no index); the writer follows it from then on */
    snprintf(sql2, sizeof(sql2), "SELECT max(max(start_ms), max(end_ms)) FROM flows_%lld", live);
    if (query_int(s, sql, 0, 0, &rows) != 0 || query_int(s, sql2, 0, -1, &s->live_max_ms) != 0) {
        snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
        return -1;
    }
    s->live = live, s->live_indexed = indexed != 0, s->n_segments = (size_t)n, s->live_rows = (uint64_t)rows;
    return prepare_insert(s, why, whylen);
}

/*
 * The live segment is full: it gets its address indexes (one sorted build each) and its time range, and
 * the next segment starts, in one transaction.  At segments_max no segment starts: the live one keeps
 * its indexes from then on (its rows pay them) until retention frees a place.  0, or -1 with why (the
 * file as it was: the next batch tries again).
 */
static int roll_over(struct mc_store *s, char *why, size_t whylen)
{
    long long next = s->live + 1;
    int start = s->n_segments < s->cfg.segments_max;
    char sql[512];
    char *seg = start ? segment_sql(next) : NULL;
    if (start && !seg) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (exec_why(s, "BEGIN IMMEDIATE", why, whylen) != 0)
        goto fail;
    if (!s->live_indexed) {
        snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS flows_%lld_src ON flows_%lld (src); "
                 "CREATE INDEX IF NOT EXISTS flows_%lld_dst ON flows_%lld (dst); "
                 "UPDATE segments SET indexed = 1 WHERE n = %lld",
                 s->live, s->live, s->live, s->live, s->live);
        if (exec_why(s, sql, why, whylen) != 0)
            goto fail;
    }
    if (start) {
        /* what retention asks of a closed segment: the first start, the last start or end */
        snprintf(sql, sizeof(sql), "UPDATE segments SET min_ms = (SELECT min(start_ms) FROM flows_%lld), "
                 "max_ms = %lld WHERE n = %lld; INSERT INTO segments (n) VALUES (%lld)", s->live,
                 s->live_max_ms, s->live, next);
        if (exec_why(s, sql, why, whylen) != 0 || exec_why(s, seg, why, whylen) != 0 ||
            make_view(s, next, why, whylen) != 0)
            goto fail;
    }
    if (exec_why(s, "COMMIT", why, whylen) != 0)
        goto fail;
    free(seg);
    if (!start) {
        s->live_indexed = 1;
        mc_warn("%s: %zu segments, the most a file takes: the live one grows with its address indexes (slower) "
                "until retention frees a place", s->what, s->n_segments);
        return 0;
    }
    s->live = next, s->live_rows = 0, s->live_indexed = 0, s->live_max_ms = -1;
    return prepare_insert(s, why, whylen);
fail:
    rollback(s);
    free(seg);
    long long n;
    if (query_int(s, "SELECT count(*) FROM segments", 0, 0, &n) == 0)
        s->n_segments = (size_t)n; /* make_view may have counted the segment the rollback took back */
    return -1;
}

/* One transaction for the n flows of b; written, or kept for a retry (nothing of it is in the file). */
static enum mc_store_result write_batch(void *ctx, unsigned slot, const struct mc_store_chunk *b, size_t n,
                                        int closing)
{
    struct mc_store *s = ctx; /* one writer thread: a SQLite file has one writer at a time */
    (void)slot;
    (void)closing;
    struct mc_store_exporter x = { .have = 0 };
    char addr[ROWS_PER_INSERT][2][INET6_ADDRSTRLEN];
    char why[256];
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    long long max_ms = s->live_max_ms;
    size_t left = n;
    for (const struct mc_store_chunk *c = b; c; c = c->next) {
        for (size_t i = 0; i < c->n; i++) {
            const struct mc_coll_flow *f = &c->f[i];
            long long last = i64(f->end_ms > f->start_ms ? f->end_ms : f->start_ms);
            max_ms = last > max_ms ? last : max_ms;
            /* groups of ROWS_PER_INSERT while that many are left, then one at a time */
            size_t k = (n - left) % ROWS_PER_INSERT;
            int group = left + k >= ROWS_PER_INSERT;
            sqlite3_stmt *st = group ? s->ins_many : s->ins;
            bind_flow(st, group ? (int)k * N_COLUMNS + 1 : 1, f, &x, addr[group ? k : 0]);
            left--;
            if (group && k + 1 < ROWS_PER_INSERT)
                continue;
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_DONE)
                goto fail;
        }
    }
    rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    CTR_ADD(rows, n);
    CTR_ADD(batches, 1);
    mc_store_queue_ok(s->q);
    s->live_rows += n;
    s->live_max_ms = max_ms;
    /* at exit too: a backlog written then would otherwise leave one long segment without address indexes
     * (and a rate measured without them) */
    if (s->live_rows >= s->cfg.segment_rows && (!s->live_indexed || s->n_segments < s->cfg.segments_max) &&
        roll_over(s, why, sizeof(why)) != 0)
        mc_store_queue_failed(s->q, "closing a segment", why, "tried again after the next batch");
    return MC_STORE_WRITTEN;
fail:
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
    rollback(s);
    mc_store_queue_failed(s->q, "writing flows", why, "the flows are kept and tried again each second");
    return MC_STORE_RETRY;
}

/*
 * One step of retention: a whole old segment dropped, or else one slice of old rows deleted.  1 when there
 * may be more, 0 done (or failed: the next run retries).
 */
static int retention_slice(void *ctx, uint64_t cut)
{
    struct mc_store *s = ctx;
    sqlite3_int64 c = i64(cut);
    char sql[256], why[256];
    long long seg, rows;
    /* a closed segment whose rows all ended before the cut: dropped whole */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT n FROM segments WHERE n < ?1 AND max_ms IS NOT NULL AND max_ms < ?2 "
                                  "ORDER BY n LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, s->live);
    sqlite3_bind_int64(st, 2, c);
    int rc = sqlite3_step(st);
    seg = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail;
    if (seg >= 0) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM flows_%lld", seg);
        if (exec_why(s, "BEGIN IMMEDIATE", why, sizeof(why)) != 0 || query_int(s, sql, 0, 0, &rows) != 0)
            goto fail;
        snprintf(sql, sizeof(sql), "DROP TABLE flows_%lld; DELETE FROM segments WHERE n = %lld", seg, seg);
        if (exec_why(s, sql, why, sizeof(why)) != 0 || make_view(s, seg, why, sizeof(why)) != 0 ||
            exec_why(s, "COMMIT", why, sizeof(why)) != 0)
            goto fail_why;
        CTR_ADD(retention_removed, rows);
        return 1;
    }
    /* the older rows of the segments that may hold some (their start_ms index finds them) */
    if (sqlite3_prepare_v2(s->db, "SELECT n FROM segments WHERE min_ms IS NULL OR min_ms < ?1 ORDER BY n", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, c);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        seg = sqlite3_column_int64(st, 0);
        snprintf(sql, sizeof(sql), "DELETE FROM flows_%lld WHERE rowid IN (SELECT rowid FROM flows_%lld WHERE "
                 "start_ms < ?1 AND end_ms < ?1 LIMIT ?2)", seg, seg);
        sqlite3_stmt *del;
        int drc = sqlite3_prepare_v2(s->db, sql, -1, &del, NULL);
        if (drc == SQLITE_OK) {
            sqlite3_bind_int64(del, 1, c);
            sqlite3_bind_int(del, 2, RETENTION_SLICE);
            drc = sqlite3_step(del);
        }
        if (drc != SQLITE_DONE) {
            snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db)); /* before finalize resets it */
            sqlite3_finalize(del);
            sqlite3_finalize(st);
            goto fail_why;
        }
        sqlite3_finalize(del);
        int removed = sqlite3_changes(s->db);
        CTR_ADD(retention_removed, removed);
        if (seg == s->live)
            s->live_rows -= (uint64_t)removed < s->live_rows ? (uint64_t)removed : s->live_rows;
        if (removed == RETENTION_SLICE) {
            sqlite3_finalize(st);
            return 1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto fail;
    CTR_ADD(retention_runs, 1);
    return 0;
fail:
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
fail_why:
    rollback(s);
    mc_store_queue_failed(s->q, "retention", why, "tried again in a minute");
    return 0;
}

/* --- opening ------------------------------------------------------------- */

/* exec_why, its error as open reports it ("sqlite store PATH: ..."). */
static int exec_checked(struct mc_store *s, const char *sql, char *err, size_t errlen)
{
    char why[256];
    if (exec_why(s, sql, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "sqlite store %s: %s", s->path, why);
    return -1;
}

/* 1 when table name exists, 0 not, -1 on error. */
static int has_table(struct mc_store *s, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The file's schema version: -1 none recorded, -2 on error. */
static long long schema_version(struct mc_store *s)
{
    long long v;
    return query_int(s, "SELECT value FROM meta WHERE name = 'schema_version'", 0, -1, &v) == 0 ? v : -2;
}

/*
 * A version 1 file (one table flows with its three indexes) becomes segment 1, indexed, and a live
 * segment 2 starts: its rows stay where they are.
 */
static const char UPGRADE_V1_SQL[] =
    "ALTER TABLE flows RENAME TO flows_1;\n"
    "UPDATE meta SET value = 2 WHERE name = 'schema_version';\n"
    "CREATE TABLE segments (\n"
    "    n INTEGER PRIMARY KEY,\n"
    "    indexed INTEGER NOT NULL DEFAULT 0,\n"
    "    min_ms INTEGER,\n"
    "    max_ms INTEGER\n"
    ");\n"
    "INSERT INTO segments (n, indexed, min_ms, max_ms) SELECT 1, 1, min(start_ms), "
    "max(max(start_ms), max(end_ms)) FROM flows_1;\n"
    "INSERT INTO segments (n) VALUES (2);\n";

/* Creates the schema in a new file, upgrades a version 1 file, or checks an existing file's version; in one
 * transaction, which also finds the segments. */
static int schema_setup(struct mc_store *s, char *err, size_t errlen)
{
    char why[256];
    if (exec_checked(s, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int meta = has_table(s, "meta"), flows = has_table(s, "flows");
    long long v = meta == 1 ? schema_version(s) : -1;
    if (meta < 0 || flows < 0 || v == -2) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (v != -1 && v != SCHEMA_VERSION && v != 1) {
        snprintf(err, errlen, "sqlite store %s: schema version %lld, this collector writes version %d (move "
                 "the file away or give another one)", s->path, v, SCHEMA_VERSION);
        goto fail;
    }
    if (v == -1 && (meta || flows)) {
        snprintf(err, errlen, "sqlite store %s: a %s table without a schema version: not a collector's "
                 "store (give another file)", s->path, flows ? "flows" : "meta");
        goto fail;
    }
    char *seg2 = v == 1 ? segment_sql(2) : NULL;
    if (v == -1 && exec_checked(s, SCHEMA_SQL, err, errlen) != 0)
        goto fail;
    if (v == 1) {
        if (!seg2)
            snprintf(err, errlen, "sqlite store %s: out of memory", s->path);
        int ok = seg2 && exec_checked(s, UPGRADE_V1_SQL, err, errlen) == 0 && exec_checked(s, seg2, err, errlen) == 0;
        free(seg2);
        if (!ok)
            goto fail;
        s->n_segments = 2;
        if (make_view(s, 2, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "sqlite store %s: %s", s->path, why);
            goto fail;
        }
        mc_notice("store %s: schema version 1 upgraded to %d (its rows are segment 1)", s->path, SCHEMA_VERSION);
    }
    if (load_segments(s, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, why);
        goto fail;
    }
    if (exec_checked(s, "COMMIT", err, errlen) != 0)
        goto fail;
    return 0;
fail:
    rollback(s);
    return -1;
}

static void sq_free(struct mc_store *s)
{
    sqlite3_finalize(s->ins);
    sqlite3_finalize(s->ins_many);
    if (s->db)
        sqlite3_close(s->db); /* the last connection: checkpoints the WAL into the file */
    free(s->path);
    free(s);
}

/* Process-wide, before SQLite's first use (later it is refused, and harmless): no memory statistics, which
 * cost a mutex and counters on every allocation, 8% of an insert here. */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void sqlite_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static struct mc_store *sq_open(const struct mc_store_config *cfg, char *err, size_t errlen)
{
    struct mc_store_config def;
    mc_store_config_defaults(&def);
    if (!cfg->spec || !cfg->spec[0]) {
        snprintf(err, errlen, "sqlite store: no file given");
        return NULL;
    }
    struct mc_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(cfg->spec))) {
        free(s);
        snprintf(err, errlen, "sqlite store: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->cfg.spec = s->path;
    snprintf(s->what, sizeof(s->what), "store %s", s->path);
    if (!s->cfg.batch)
        s->cfg.batch = def.batch;
    if (!s->cfg.max_queued)
        s->cfg.max_queued = def.max_queued;
    if (!s->cfg.segment_rows)
        s->cfg.segment_rows = SEGMENT_ROWS;
    if (!s->cfg.segments_max || s->cfg.segments_max > SEGMENTS_MAX)
        s->cfg.segments_max = SEGMENTS_MAX;

    pthread_once(&config_once, sqlite_config);
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_MS);
    /* WAL: readers never wait for the writer nor the writer for them; NORMAL: no fsync per commit (a
     * power cut may lose the last transactions, never corrupt the file) */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, sqlite3_errmsg(s->db));
        goto fail;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        goto fail;
    }
    if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
        mc_warn("store %s: no WAL journal here (%s): readers will hold the writer back", s->path,
                (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    /* a checkpoint every 10,000 pages (40 MB of WAL) rather than 1,000: a page written again meanwhile (the
     * live segment's last pages, its time index) is copied into the file once */
    if (exec_checked(s, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000", err,
                     errlen) != 0 ||
        schema_setup(s, err, errlen) != 0)
        goto fail;

    struct mc_store_writer w = { .what = s->what, .backlog = BACKLOG_BATCHES, .write = write_batch,
                                 .retention = retention_slice, .ctx = s };
    if (!(s->q = mc_store_queue_start(&s->cfg, &w, err, errlen)))
        goto fail;
    return s;
fail:
    sq_free(s);
    return NULL;
}

/* --- the receive loop's side --------------------------------------------- */

static void sq_add(struct mc_store *s, const struct mc_coll_flow *f)
{
    mc_store_queue_add(s->q, f);
}

static void sq_tick(struct mc_store *s, uint64_t now_ms)
{
    mc_store_queue_tick(s->q, now_ms);
}

static void sq_close(struct mc_store *s)
{
    if (!s)
        return;
    mc_store_queue_stop(s->q); /* the last batches are written */
    sq_free(s);
}

const struct mc_store_ops mc_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .add = sq_add,
    .tick = sq_tick,
    .close = sq_close,
};
