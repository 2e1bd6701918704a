/*
 * store_sqlite.c - the embedded store: collected flows into one SQLite file
 * (table flows, docs/COLLECTOR.md "Schema"), written by a thread of its own
 * so the receive loop never waits for the disk.
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
 * Retention deletes the rows that ended before now - retention_s, in slices
 * of RETENTION_SLICE rows between batches so a large purge never holds the
 * queue back for long.  It asks for start_ms < cut too (a flow ends after it
 * starts) so the start_ms index finds them: end_ms has no index of its own.
 */
#include "collector/store.h"

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostport.h"
#include "common/log.h"

#define SCHEMA_VERSION 1
#define BACKLOG_BATCHES 10        /* behind: one transaction takes up to this many batches */
#define RETENTION_SLICE 50000     /* rows per retention DELETE: the queue's batches go in between */
#define BUSY_MS 500               /* a locked database is waited for this long, then the batch waits */

/*
 * The schema, also in docs/COLLECTOR.md "Schema" and python/microcloud/flows.py
 * (SCHEMA): tests/unit/python/test_flows.py checks the three are the same text.
 * Everything IF NOT EXISTS: opening an existing file keeps its rows.
 */
static const char SCHEMA_SQL[] =
    /* schema */
    "CREATE TABLE IF NOT EXISTS meta (\n"
    "    name TEXT PRIMARY KEY,\n"
    "    value INTEGER NOT NULL\n"
    ");\n"
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 1);\n"
    "CREATE TABLE IF NOT EXISTS flows (\n"
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
    "CREATE INDEX IF NOT EXISTS flows_start_ms ON flows (start_ms);\n"
    "CREATE INDEX IF NOT EXISTS flows_src ON flows (src);\n"
    "CREATE INDEX IF NOT EXISTS flows_dst ON flows (dst);\n"
    /* end schema */;

#define N_COLUMNS 27

struct mc_store {
    struct mc_store_config cfg;
    char *path;             /* owned copy of cfg.spec */
    char what[512];         /* "store PATH", for the queue's log lines */
    sqlite3 *db;            /* the writer thread's once open returns */
    sqlite3_stmt *ins;      /* INSERT INTO flows, all columns */
    sqlite3_stmt *purge;    /* one retention slice */
    struct mc_store_queue *q;
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

/* Binds every column of f (text borrowed from f, x and addr until the step). */
static void bind_flow(sqlite3_stmt *st, const struct mc_coll_flow *f, struct mc_store_exporter *x,
                      char addr[2][INET6_ADDRSTRLEN])
{
    int i = 1;
    sqlite3_bind_int64(st, i++, i64(f->start_ms));
    sqlite3_bind_int64(st, i++, i64(f->end_ms));
    const char *exporter = mc_store_exporter_text(x, &f->exporter);
    if (x->len)
        sqlite3_bind_text(st, i++, exporter, (int)x->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, f->version);
    sqlite3_bind_int64(st, i++, f->domain);
    sqlite3_bind_int(st, i++, f->ip_version);
    for (int d = 0; d < 2; d++) {
        if (f->ip_version != 4 && f->ip_version != 6) {
            sqlite3_bind_null(st, i++);
            continue;
        }
        struct mc_addr a;
        memcpy(a.b, d ? f->dst : f->src, sizeof(a.b));
        size_t n = mc_addr_text(f->ip_version, &a, addr[d], INET6_ADDRSTRLEN);
        sqlite3_bind_text(st, i++, addr[d], (int)n, SQLITE_STATIC);
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

/* One transaction for the n flows of b; written, or kept for a retry (nothing of it is in the file). */
static enum mc_store_result write_batch(void *ctx, unsigned slot, const struct mc_store_chunk *b, size_t n,
                                        int closing)
{
    struct mc_store *s = ctx; /* one writer thread: a SQLite file has one writer at a time */
    (void)slot;
    (void)closing;
    struct mc_store_exporter x = { .have = 0 };
    char addr[2][INET6_ADDRSTRLEN];
    char why[256];
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    for (const struct mc_store_chunk *c = b; c; c = c->next) {
        for (size_t i = 0; i < c->n; i++) {
            bind_flow(s->ins, &c->f[i], &x, addr);
            rc = sqlite3_step(s->ins);
            sqlite3_reset(s->ins);
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
    return MC_STORE_WRITTEN;
fail:
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
    rollback(s);
    mc_store_queue_failed(s->q, "writing flows", why, "the flows are kept and tried again each second");
    return MC_STORE_RETRY;
}

/* One slice of retention: 1 when there may be more to delete, 0 done (or failed: the next run retries). */
static int retention_slice(void *ctx, uint64_t cut)
{
    struct mc_store *s = ctx;
    sqlite3_int64 c = i64(cut);
    sqlite3_bind_int64(s->purge, 1, c);
    sqlite3_bind_int(s->purge, 2, RETENTION_SLICE);
    int rc = sqlite3_step(s->purge);
    sqlite3_reset(s->purge);
    if (rc != SQLITE_DONE) {
        char why[256];
        snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
        rollback(s);
        mc_store_queue_failed(s->q, "retention", why, "tried again in a minute");
        return 0;
    }
    int removed = sqlite3_changes(s->db);
    CTR_ADD(retention_removed, removed);
    if (removed < RETENTION_SLICE) {
        CTR_ADD(retention_runs, 1);
        return 0;
    }
    return 1;
}

/* --- opening ------------------------------------------------------------- */

static int exec_checked(struct mc_store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "sqlite store %s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
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
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = 'schema_version'", -1, &st, NULL) !=
        SQLITE_OK)
        return -2;
    int rc = sqlite3_step(st);
    long long v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? -1 : -2;
    sqlite3_finalize(st);
    return v;
}

/* Creates the schema in a new file, or checks an existing file's version; in one transaction. */
static int schema_setup(struct mc_store *s, char *err, size_t errlen)
{
    if (exec_checked(s, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int meta = has_table(s, "meta"), flows = has_table(s, "flows");
    long long v = meta == 1 ? schema_version(s) : -1;
    if (meta < 0 || flows < 0 || v == -2) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (v != -1 && v != SCHEMA_VERSION) {
        snprintf(err, errlen, "sqlite store %s: schema version %lld, this collector writes version %d (move "
                 "the file away or give another one)", s->path, v, SCHEMA_VERSION);
        goto fail;
    }
    if (v == -1 && (meta || flows)) {
        snprintf(err, errlen, "sqlite store %s: a %s table without a schema version: not a collector's "
                 "store (give another file)", s->path, flows ? "flows" : "meta");
        goto fail;
    }
    if (exec_checked(s, SCHEMA_SQL, err, errlen) != 0 || exec_checked(s, "COMMIT", err, errlen) != 0)
        goto fail;
    return 0;
fail:
    rollback(s);
    return -1;
}

static int prepare(struct mc_store *s, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "sqlite store %s: %s", s->path, sqlite3_errmsg(s->db));
    return -1;
}

static void sq_free(struct mc_store *s)
{
    sqlite3_finalize(s->ins);
    sqlite3_finalize(s->purge);
    if (s->db)
        sqlite3_close(s->db); /* the last connection: checkpoints the WAL into the file */
    free(s->path);
    free(s);
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

    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite store %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_MS);
    /* WAL: readers never wait for the writer nor the writer for them; NORMAL: no fsync per commit (a
     * power cut may lose the last transactions, never corrupt the file) */
    sqlite3_stmt *st;
    if (prepare(s, "PRAGMA journal_mode=WAL", &st, err, errlen) != 0)
        goto fail;
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
    if (exec_checked(s, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536", err, errlen) != 0 ||
        schema_setup(s, err, errlen) != 0)
        goto fail;
    if (prepare(s, "INSERT INTO flows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &s->ins, err,
                errlen) != 0 ||
        prepare(s, "DELETE FROM flows WHERE rowid IN (SELECT rowid FROM flows WHERE start_ms < ?1 AND end_ms < ?1 "
                   "LIMIT ?2)", &s->purge, err, errlen) != 0)
        goto fail;
    if (sqlite3_bind_parameter_count(s->ins) != N_COLUMNS) {
        snprintf(err, errlen, "sqlite store %s: insert has %d columns, not %d", s->path,
                 sqlite3_bind_parameter_count(s->ins), N_COLUMNS);
        goto fail;
    }

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
