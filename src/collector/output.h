/*
 * output.h - the collector's record outputs besides the stores: JSON lines
 * (json.c) with mcprobe --json's keys and values.
 */
#ifndef MC_COLLECTOR_OUTPUT_H
#define MC_COLLECTOR_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "collector/collector.h"

#define MC_COLL_ENRICH_MAX 8

/* Keys the cloud gave a record (userName, mobileIMSI, rtpCallId, ...), added after its own fields. */
struct mc_coll_enrichment {
    size_t n;
    const char *key[MC_COLL_ENRICH_MAX];   /* the probe's element names */
    const char *value[MC_COLL_ENRICH_MAX];
};

/* Writes r as one JSON line (e may be NULL); errors are the stream's (ferror). */
void mc_coll_json_record(FILE *out, const struct mc_coll_record *r, const struct mc_coll_enrichment *e);

#endif /* MC_COLLECTOR_OUTPUT_H */
