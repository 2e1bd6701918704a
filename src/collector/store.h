/*
 * store.h - where collected flows are kept: one vtable per store (SQLite
 * embedded, store_sqlite.c; ClickHouse over HTTP), one schema for all
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
    size_t batch;            /* flows per write (default 10000) */
    size_t max_queued;       /* flows held when the store is slow or down, beyond them dropped and counted */
};

/* batch 10000, max_queued 1,000,000, retention 0 (keep all), spec NULL.  A store's open also takes
 * 0 for batch or max_queued as these defaults. */
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

#define MC_STORE_CTRS(X, S)                                        \
    X(S, rows, "store.rows")                                       \
    X(S, batches, "store.batches")                                 \
    X(S, errors, "store.errors")                                   \
    X(S, dropped, "store.dropped")                                 \
    X(S, retention_runs, "store.retention.runs")                   \
    X(S, retention_removed, "store.retention.removed")
MC_CTR_DECLARE(store, MC_STORE_CTRS)

#endif /* MC_COLLECTOR_STORE_H */
