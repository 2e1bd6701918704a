/*
 * store.h - where collected flows are kept: one vtable per store (SQLite
 * embedded, store_sqlite.c; ClickHouse over HTTP, store_clickhouse.c), one
 * queue and writer thread for all (store.c), one schema for all
 * (docs/COLLECTOR.md "Schema").  The receive loop hands each flow to
 * mc_store_add, which only appends to the store's batch; the store writes a
 * batch when it is full or at mc_store_tick (at least once a second), so a
 * write never costs a statement per flow.
 */
#ifndef MC_COLLECTOR_STORE_H
#define MC_COLLECTOR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/flow.h"
#include "common/ctr_macros.h"

struct mc_store_config {
    const char *spec;        /* SQLite: a file path; ClickHouse: http://HOST:PORT/DB */
    uint64_t retention_s;    /* rows older than this are removed in the background; 0 keeps all */
    size_t batch;            /* flows per write (0: the store's default, 10000; ClickHouse 100000) */
    size_t max_queued;       /* flows held when the store is slow or down, beyond them dropped and counted */
    size_t segment_rows;     /* SQLite: rows per segment table (0: 131072; store_sqlite.c) */
    size_t segments_max;     /* SQLite: segments per file at most (0: 160000; tests lower it) */
};

/* batch 10000, max_queued 1,000,000, retention 0 (keep all), spec NULL.  A store's open takes 0 for
 * batch or max_queued as its own default: these, but a batch of 100000 for ClickHouse. */
void mc_store_config_defaults(struct mc_store_config *cfg);

struct mc_store;

struct mc_store_ops {
    const char *name; /* "sqlite", "clickhouse" */
    struct mc_store *(*open)(const struct mc_store_config *cfg, char *err, size_t errlen);
    void (*add)(struct mc_store *s, const struct mc_coll_flow *f);   /* never blocks on I/O */
    void (*tick)(struct mc_store *s, uint64_t now_ms);  /* writes a due batch; retention when due */
    void (*close)(struct mc_store *s);                  /* writes what is held, then frees */
};

extern const struct mc_store_ops mc_store_sqlite;
extern const struct mc_store_ops mc_store_clickhouse;

/* ---- for the stores themselves (store_*.c) ---- */

/* A batch's exporter column ("192.0.2.1:2055", "[2001:db8::1]:4739"), kept while the exporter stays the
 * same: a few exporters send all the flows.  Zero it before a batch. */
struct mc_store_exporter {
    struct mc_coll_src exporter; /* whose text is kept (have set) */
    int have;
    size_t len;                  /* 0: no address (NULL in the stores) */
    char text[64];
};

/* x's text for exporter e (its length in x->len). */
const char *mc_store_exporter_text(struct mc_store_exporter *x, const struct mc_coll_src *e);

/* ---- the queue between the receive loop and a writer thread ----
 *
 * add copies the flow into a queue of fixed-size chunks under a mutex (no I/O); a writer thread
 * detaches about a batch of flows (whole chunks) at a time and hands them to the store's write; a store
 * whose server writes batches in parallel (ClickHouse) runs several writer threads, each with its own
 * batch.  The queue holds at most max_queued flows, the batches being written included: beyond, an add is dropped and
 * counted (store.dropped, logged once a minute at most).  A batch that fails goes back to the head of
 * the queue and is tried again at the next flush (a second later); at close everything held is written,
 * CLOSE_TRIES tries for a failing batch, then the rest is dropped and counted.  Retention is asked of the
 * store at most once a minute, in the first writer thread, between its batches.
 */

/* A piece of the queue: n flows, oldest first. */
struct mc_store_chunk {
    struct mc_store_chunk *next;
    size_t n;
    struct mc_coll_flow f[];
};

/* What a store's write made of a batch. */
enum mc_store_result {
    MC_STORE_WRITTEN = 0, /* every flow is stored */
    MC_STORE_RETRY,       /* none is: the batch is kept in front and tried again a second later */
    MC_STORE_GIVE_UP,     /* none is, nor ever will be (refused for what it holds): dropped and counted */
};

#define MC_STORE_WRITERS_MAX 4 /* writer threads a queue runs at most */

struct mc_store_writer {
    const char *what; /* the store in log lines: "store flows.db"; borrowed for the queue's life */
    size_t backlog;   /* a writer that fell behind takes up to this many batches in one write */
    unsigned threads; /* writer threads (0: one; at most MC_STORE_WRITERS_MAX), each with batches of its own */
    /* Writes the n flows of the chunks from b on (in writer thread slot, 0 .. threads - 1, one batch at a
     * time per slot); closing: the queue is being emptied for exit.  A failure is reported with
     * mc_store_queue_failed. */
    enum mc_store_result (*write)(void *ctx, unsigned slot, const struct mc_store_chunk *b, size_t n,
                                  int closing);
    /* Removes rows that ended before cut_ms (writer thread slot 0): 1 when more is left (called again after
     * the batches waiting), 0 when done or failed (the next minute retries). */
    int (*retention)(void *ctx, uint64_t cut_ms);
    void *ctx;
};

struct mc_store_queue;

/* Starts the writer threads (signals blocked in them); cfg's batch and max_queued must be set (not 0).
 * NULL with err set. */
struct mc_store_queue *mc_store_queue_start(const struct mc_store_config *cfg, const struct mc_store_writer *w,
                                            char *err, size_t errlen);
void mc_store_queue_add(struct mc_store_queue *q, const struct mc_coll_flow *f); /* never blocks on I/O */
void mc_store_queue_tick(struct mc_store_queue *q, uint64_t now_ms);            /* flush, retention, drop log */
/* Writes what is held (see above), ends the threads and frees the queue; NULL is ignored. */
void mc_store_queue_stop(struct mc_store_queue *q);

/* The writer's failure reports: counted (store.errors) and logged once a minute at most, the rest summed
 * into that line; mc_store_queue_ok after a success says "writing again" when something had failed. */
void mc_store_queue_failed(struct mc_store_queue *q, const char *what, const char *why, const char *then);
void mc_store_queue_ok(struct mc_store_queue *q);

/* ---- store_clickhouse.c's pieces, public for its unit test ---- */

/* --clickhouse http://[USER[:PASSWORD]@]HOST[:PORT][/DB] (https too), parsed. */
struct mc_ch_url {
    int https;
    char host[256];        /* a name, an IPv4 address or an IPv6 address (no brackets) */
    int port;              /* default 8123 (https: 8443) */
    char db[64];           /* default "default"; letters, digits and '_' only */
    char user[64], password[128]; /* percent-decoded; "" when not given */
    char base[320];        /* where requests go: http://HOST:PORT/ (an IPv6 address bracketed) */
    char shown[400];       /* the URL for log lines: without the password */
};

/* Parses text into u; 0, or -1 with err saying what is wrong. */
int mc_ch_url_parse(const char *text, struct mc_ch_url *u, char *err, size_t errlen);

#define MC_CH_COLUMNS 27      /* the schema's columns */
#define MC_CH_BLOCK_ROWS 2048  /* rows per Native block at most: whole queue chunks, their columns kept in cache */

/*
 * A batch encoded in ClickHouse's Native format as libcurl reads it: a
 * block of whole chunks at a time, its rows turned into columns in one pass
 * (each flow read once), then the columns copied out as libcurl asks.
 */
struct mc_ch_encoder {
    uint8_t head[MC_CH_COLUMNS][72];  /* each column's name and type, encoded */
    uint8_t head_len[MC_CH_COLUMNS];
    const struct mc_store_chunk *next; /* the first chunk of the next block; NULL: the last is the current */
    int in_block;                      /* the current block's pieces are being copied out */
    uint8_t block_head[24];            /* the block's column and row counts */
    size_t block_head_len;
    uint8_t *values[MC_CH_COLUMNS];    /* the block's values by column (strings: length and bytes) */
    size_t values_len[MC_CH_COLUMNS];
    uint8_t *nulls[MC_CH_COLUMNS];     /* a string column's NULL map (NULL for numbers) */
    size_t rows;
    int piece;                         /* the piece being copied: the block's head, then each column's */
    size_t off;                        /* bytes of it already copied */
    struct mc_store_exporter x;
    void *mem;                         /* owns values and nulls */
};

/* Checks the schema's columns against what the encoder writes and allocates; 0, or -1. */
int mc_ch_encoder_init(struct mc_ch_encoder *e);

void mc_ch_encoder_free(struct mc_ch_encoder *e);

/* The batch from first on (chunks linked by next) is the one encoded. */
void mc_ch_encoder_start(struct mc_ch_encoder *e, const struct mc_store_chunk *first);

/* Copies the next bytes of the batch into out (any room); 0 when all are. */
size_t mc_ch_encoder_fill(struct mc_ch_encoder *e, uint8_t *out, size_t room);

/* The table's CREATE statement (docs/COLLECTOR.md "ClickHouse"): the encoder writes its columns. */
extern const char mc_ch_schema_sql[];

#define MC_STORE_CTRS(X, S)                                        \
    X(S, rows, "store.rows")                                       \
    X(S, batches, "store.batches")                                 \
    X(S, errors, "store.errors")                                   \
    X(S, dropped, "store.dropped")                                 \
    X(S, retention_runs, "store.retention.runs")                   \
    X(S, retention_removed, "store.retention.removed")
MC_CTR_DECLARE(store, MC_STORE_CTRS)

#endif /* MC_COLLECTOR_STORE_H */
