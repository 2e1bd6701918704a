/*
 * store.c - what every store shares: the store.* counters (store.h) and the
 * configuration defaults.  The stores themselves are store_sqlite.c (an
 * embedded SQLite file) and the ClickHouse one; docs/COLLECTOR.md has the
 * schema they all keep.
 */
#include "collector/store.h"

#include <string.h>

MC_CTR_DEFINE(store, MC_STORE_CTRS)

void mc_store_config_defaults(struct mc_store_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->batch = 10000;        /* one transaction or insert per 10000 flows: the per-write cost vanishes */
    cfg->max_queued = 1000000; /* about 400 MB of flows held while the store is slow or down */
}
