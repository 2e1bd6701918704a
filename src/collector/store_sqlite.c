/*
 * store_sqlite.c - the embedded store: collected flows into one SQLite file
 * (table flows, docs/COLLECTOR.md "Schema"), written by a thread of its own
 * so the receive loop never waits for the disk.
 *
 * add copies the flow into a queue of fixed-size chunks under a mutex (no
 * I/O, no statement).  The writer thread detaches about `batch` flows (whole
 * chunks) at a time and inserts them in one transaction through one prepared
 * statement; the journal is WAL with synchronous=NORMAL, so a commit costs
 * no fsync (a checkpoint does) and readers (mcquery) never block the writer.
 *
 * The queue holds at most max_queued flows, the batch being written
 * included: beyond that an add is dropped and counted (store.dropped).  A
 * batch that fails (disk full, database locked past BUSY_MS) goes back to
 * the head of the queue and is tried again at the next tick's flush (a
 * second later), so nothing is lost while the bound holds; failures are
 * counted (store.errors) and logged once a minute at most.
 *
 * Retention deletes the rows that ended before now - retention_s, in slices
 * of RETENTION_SLICE rows between batches so a large purge never holds the
 * queue back for long.  It asks for start_ms < cut too (a flow ends after it
 * starts) so the start_ms index finds them: end_ms has no index of its own.
 */
#include "collector/store.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define SCHEMA_VERSION 1
#define CHUNK_MAX 1024            /* flows per queue chunk at most (about 370 KiB) */
#define BACKLOG_BATCHES 10        /* behind: one transaction takes up to this many batches */
#define SPARE_MAX 64              /* emptied chunks kept for reuse; more are freed */
#define FLUSH_MS 1000             /* a partial batch waits at most this long (collector's clock) */
#define RETENTION_EVERY_MS 60000  /* retention runs at most once a minute */
#define RETENTION_SLICE 50000     /* rows per retention DELETE: the queue's batches go in between */
#define BUSY_MS 500               /* a locked database is waited for this long, then the batch waits */
#define LOG_EVERY_S 60            /* write failures: one log line a minute at most */
#define CLOSE_TRIES 3             /* at close, a failing batch is tried this often, then dropped */

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

/* A piece of the queue: n flows, oldest first. */
struct chunk {
    struct chunk *next;
    size_t n;
    struct mc_coll_flow f[];
};

struct mc_store {
    struct mc_store_config cfg;
    char *path;             /* owned copy of cfg.spec */
    sqlite3 *db;            /* the writer thread's once open returns */
    sqlite3_stmt *ins;      /* INSERT INTO flows, all columns */
    sqlite3_stmt *purge;    /* one retention slice */
    size_t chunk_cap;       /* flows per chunk: batch is a whole number of chunks when it can be */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the writer */

    /* under mu */
    struct chunk *head, *tail; /* flows waiting, oldest first; add appends to tail */
    size_t waiting;            /* flows in head..tail */
    size_t held;               /* flows the writer took and has not written yet */
    struct chunk *spare;       /* emptied chunks for reuse */
    size_t n_spare;
    int flush;                 /* tick: write what waits, a partial batch too */
    int stop;                  /* close: write everything, then end */
    uint64_t retention_cut;    /* tick: delete rows that ended before this (epoch ms; 0: none due) */

    /* the caller's (add, tick) */
    uint64_t last_flush_ms, last_retention_ms;
    int ticked;                /* last_*_ms are set */
    uint64_t drops_reported;   /* store.dropped when the last drop was logged */
    uint64_t drop_log_ms;

    /* the writer's */
    int failing;               /* the last write failed: retry at the next flush, not at once */
    uint64_t fails_unlogged;   /* failures since the last log line */
    time_t fail_log_s;         /* monotonic seconds of that line (0: none yet) */
};

/* The writer thread counts while the stats reader reads: whole 64-bit stores, never torn. */
#define CTR_ADD(id, v) __atomic_fetch_add(&MC_CTR_GET(store, id), (uint64_t)(v), __ATOMIC_RELAXED)
#define CTR_LOAD(id) __atomic_load_n(&MC_CTR_GET(store, id), __ATOMIC_RELAXED)

static time_t mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* --- the queue (under mu) ------------------------------------------------ */

static struct chunk *chunk_get(struct mc_store *s)
{
    struct chunk *c = s->spare;
    if (c) {
        s->spare = c->next;
        s->n_spare--;
    } else {
        c = malloc(sizeof(*c) + s->chunk_cap * sizeof(c->f[0]));
        if (!c)
            return NULL;
    }
    c->next = NULL;
    c->n = 0;
    return c;
}

static void chunks_release(struct mc_store *s, struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        if (s->n_spare < SPARE_MAX) {
            c->next = s->spare;
            s->spare = c;
            s->n_spare++;
        } else {
            free(c);
        }
        c = next;
    }
}

static void chunks_free(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

/*
 * Detaches whole chunks from the head until they hold at least a batch (or all that waits).  A writer
 * that fell behind takes up to BACKLOG_BATCHES batches at once: what a commit costs is mostly the
 * index pages it dirties (src and dst land all over their indexes), which a larger transaction shares
 * among more rows.
 */
static struct chunk *take(struct mc_store *s, size_t *n)
{
    struct chunk *first = s->head, *last = NULL;
    size_t want = s->cfg.batch, k = 0;
    if (s->waiting > want)
        want = s->waiting < want * BACKLOG_BATCHES ? s->waiting : want * BACKLOG_BATCHES;
    for (struct chunk *c = s->head; c && k < want; c = c->next) {
        k += c->n;
        last = c;
    }
    s->head = last->next;
    if (!s->head)
        s->tail = NULL; /* add starts a new chunk rather than fill one being written */
    last->next = NULL;
    s->waiting -= k;
    s->held = k;
    *n = k;
    return first;
}

/* A batch that could not be written goes back in front, oldest flows first again. */
static void put_back(struct mc_store *s, struct chunk *first, size_t n)
{
    struct chunk *last = first;
    while (last->next)
        last = last->next;
    last->next = s->head;
    s->head = first;
    if (!s->tail)
        s->tail = last;
    s->waiting += n;
    s->held = 0;
}

static int batch_due(const struct mc_store *s)
{
    if (s->waiting == 0)
        return 0;
    if (s->stop)
        return 1;
    if (s->failing)
        return s->flush; /* not at once: the disk (or the lock holder) gets a second */
    return s->flush || s->waiting >= s->cfg.batch;
}

/* --- writing (writer thread, without mu) --------------------------------- */

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

/* An address as inet_ntop text; NULL for a version that is neither 4 nor 6. */
static const char *addr_text(uint8_t ver, const uint8_t *a, char *buf, size_t len)
{
    if (ver == 4)
        return inet_ntop(AF_INET, a, buf, (socklen_t)len);
    if (ver == 6)
        return inet_ntop(AF_INET6, a, buf, (socklen_t)len);
    return NULL;
}

/* A batch's address texts: the exporter's is kept while it stays the same (a few exporters send all). */
struct texts {
    struct mc_coll_src exporter; /* whose text exp is (have set) */
    int have;
    const char *exp;             /* NULL: no address */
    char exp_buf[INET6_ADDRSTRLEN + 8];
    char addr[2][INET6_ADDRSTRLEN];
};

static const char *exporter_text(struct texts *x, const struct mc_coll_src *e)
{
    if (x->have && x->exporter.ver == e->ver && x->exporter.port == e->port &&
        memcmp(x->exporter.addr, e->addr, sizeof(e->addr)) == 0)
        return x->exp;
    char a[INET6_ADDRSTRLEN];
    const char *t = addr_text(e->ver, e->addr, a, sizeof(a));
    x->exporter = *e;
    x->have = 1;
    x->exp = NULL;
    if (t) {
        snprintf(x->exp_buf, sizeof(x->exp_buf), e->ver == 6 ? "[%s]:%u" : "%s:%u", t, (unsigned)e->port);
        x->exp = x->exp_buf;
    }
    return x->exp;
}

/* Binds every column of f (text borrowed from f and x until the step). */
static void bind_flow(sqlite3_stmt *st, const struct mc_coll_flow *f, struct texts *x)
{
    const char *t;
    int i = 1;
    sqlite3_bind_int64(st, i++, i64(f->start_ms));
    sqlite3_bind_int64(st, i++, i64(f->end_ms));
    t = exporter_text(x, &f->exporter);
    if (t)
        sqlite3_bind_text(st, i++, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i++);
    sqlite3_bind_int(st, i++, f->version);
    sqlite3_bind_int64(st, i++, f->domain);
    sqlite3_bind_int(st, i++, f->ip_version);
    for (int d = 0; d < 2; d++) {
        t = addr_text(f->ip_version, d ? f->dst : f->src, x->addr[d], sizeof(x->addr[d]));
        if (t)
            sqlite3_bind_text(st, i++, t, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i++);
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

/* Counts a failed write and logs it, once a minute at most (the rest are summed into that line). */
static void write_failed(struct mc_store *s, const char *what, const char *why, const char *then)
{
    CTR_ADD(errors, 1);
    s->fails_unlogged++;
    time_t now = mono_s();
    if (s->fail_log_s != 0 && now - s->fail_log_s < LOG_EVERY_S)
        return;
    mc_warn("store %s: %s failed: %s (%llu failure(s) since the last report); %s", s->path, what, why,
            (unsigned long long)s->fails_unlogged, then);
    s->fail_log_s = now;
    s->fails_unlogged = 0;
}

static void write_ok(struct mc_store *s)
{
    if (s->failing || s->fails_unlogged)
        mc_notice("store %s: writing again", s->path);
    s->fail_log_s = 0;
    s->fails_unlogged = 0;
}

/* Ends a failed transaction; sqlite may have rolled it back already (a full disk does). */
static void rollback(struct mc_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One transaction for the n flows of b; 0 written, -1 not (nothing of it is in the file). */
static int write_batch(struct mc_store *s, struct chunk *b, size_t n)
{
    struct texts x = { .have = 0 };
    char why[256];
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    for (struct chunk *c = b; c; c = c->next) {
        for (size_t i = 0; i < c->n; i++) {
            bind_flow(s->ins, &c->f[i], &x);
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
    write_ok(s);
    return 0;
fail:
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
    rollback(s);
    write_failed(s, "writing flows", why, "the flows are kept and tried again each second");
    return -1;
}

/* One slice of retention: 1 when there may be more to delete, 0 done (or failed: the next run retries). */
static int retention_slice(struct mc_store *s, uint64_t cut)
{
    sqlite3_int64 c = i64(cut);
    sqlite3_bind_int64(s->purge, 1, c);
    sqlite3_bind_int(s->purge, 2, RETENTION_SLICE);
    int rc = sqlite3_step(s->purge);
    sqlite3_reset(s->purge);
    if (rc != SQLITE_DONE) {
        char why[256];
        snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db));
        rollback(s);
        write_failed(s, "retention", why, "tried again in a minute");
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

static void *writer_main(void *arg)
{
    struct mc_store *s = arg;
    int close_tries = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (batch_due(s)) {
            size_t n;
            struct chunk *b = take(s, &n);
            int stopping = s->stop;
            pthread_mutex_unlock(&s->mu);
            int rc = write_batch(s, b, n);
            if (rc != 0 && stopping && ++close_tries < CLOSE_TRIES) {
                struct timespec pause = { 0, 200 * 1000 * 1000 };
                nanosleep(&pause, NULL);
            }
            pthread_mutex_lock(&s->mu);
            if (rc == 0) {
                chunks_release(s, b);
                s->held = 0;
                s->failing = 0;
            } else if (stopping && close_tries >= CLOSE_TRIES) {
                /* closing and the file still refuses: what is held cannot be kept anywhere */
                size_t lost = n + s->waiting;
                chunks_free(b);
                chunks_free(s->head);
                s->head = s->tail = NULL;
                s->waiting = s->held = 0;
                CTR_ADD(dropped, lost);
                mc_err("store %s: closing with %zu flows not written: %s", s->path, lost, sqlite3_errmsg(s->db));
            } else {
                put_back(s, b, n);
                s->failing = 1;
                s->flush = 0; /* the next tick's flush retries */
            }
            if (s->waiting == 0)
                s->flush = 0;
            continue;
        }
        if (s->retention_cut && !s->stop) {
            uint64_t cut = s->retention_cut;
            pthread_mutex_unlock(&s->mu);
            int more = retention_slice(s, cut);
            pthread_mutex_lock(&s->mu);
            if (!more && s->retention_cut == cut)
                s->retention_cut = 0;
            continue;
        }
        if (s->stop)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
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
    chunks_free(s->head);
    chunks_free(s->spare);
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
    s->drops_reported = CTR_LOAD(dropped); /* the counter is the process's: report this store's drops */
    if (!s->cfg.batch)
        s->cfg.batch = def.batch;
    if (!s->cfg.max_queued)
        s->cfg.max_queued = def.max_queued;
    /* the fewest chunks of at most CHUNK_MAX that hold a batch, filled evenly: 10000 = 10 x 1000 */
    size_t per = (s->cfg.batch + CHUNK_MAX - 1) / CHUNK_MAX;
    s->chunk_cap = (s->cfg.batch + per - 1) / per;

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

    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    /* the writer takes no signal: the receive loop's thread handles them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "sqlite store %s: cannot start its thread", s->path);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    return s;
fail:
    sq_free(s);
    return NULL;
}

/* --- the receive loop's side --------------------------------------------- */

static void sq_add(struct mc_store *s, const struct mc_coll_flow *f)
{
    pthread_mutex_lock(&s->mu);
    struct chunk *c = s->tail;
    if (s->waiting + s->held >= s->cfg.max_queued)
        goto drop;
    if (!c || c->n == s->chunk_cap) {
        if (!(c = chunk_get(s)))
            goto drop;
        if (s->tail)
            s->tail->next = c;
        else
            s->head = c;
        s->tail = c;
    }
    c->f[c->n++] = *f;
    if (++s->waiting == s->cfg.batch)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return;
drop:
    pthread_mutex_unlock(&s->mu);
    CTR_ADD(dropped, 1);
}

static void sq_tick(struct mc_store *s, uint64_t now_ms)
{
    if (!s->ticked || now_ms < s->last_flush_ms) { /* the first tick, or the clock went back */
        s->ticked = 1;
        s->last_flush_ms = now_ms;
        /* retention runs and drops are reported at once (unsigned: wraps back in the differences) */
        s->last_retention_ms = now_ms - RETENTION_EVERY_MS;
        s->drop_log_ms = now_ms - (uint64_t)LOG_EVERY_S * 1000;
    }
    int wake = 0;
    pthread_mutex_lock(&s->mu);
    if (now_ms - s->last_flush_ms >= FLUSH_MS) {
        s->last_flush_ms = now_ms;
        if (s->waiting) {
            s->flush = 1;
            wake = 1;
        }
    }
    if (s->cfg.retention_s && now_ms - s->last_retention_ms >= RETENTION_EVERY_MS) {
        s->last_retention_ms = now_ms;
        uint64_t keep_ms = s->cfg.retention_s > UINT64_MAX / 1000 ? UINT64_MAX : s->cfg.retention_s * 1000;
        if (now_ms > keep_ms && !s->retention_cut) {
            s->retention_cut = now_ms - keep_ms;
            wake = 1;
        }
    }
    size_t queued = s->waiting + s->held;
    if (wake)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);

    uint64_t dropped = CTR_LOAD(dropped);
    if (dropped != s->drops_reported && now_ms - s->drop_log_ms >= (uint64_t)LOG_EVERY_S * 1000) {
        mc_warn("store %s: %llu flows dropped in the last minute or so (%zu held, the bound is %zu)", s->path,
                (unsigned long long)(dropped - s->drops_reported), queued, s->cfg.max_queued);
        s->drops_reported = dropped;
        s->drop_log_ms = now_ms;
    }
}

static void sq_close(struct mc_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    sq_free(s);
}

const struct mc_store_ops mc_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .add = sq_add,
    .tick = sq_tick,
    .close = sq_close,
};
