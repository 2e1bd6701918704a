/*
 * collector_fuzz.h - what the collector's fuzz targets share: the input is
 * split on the 4-byte marker "MCDG" into datagrams fed in turn to one
 * decoder state from two exporters (templates from one datagram decode the
 * data sets of the next), with the clock moving so template and held-set
 * timeouts run; the tables are kept small so their limits are hit.  Every
 * byte a record delivers is read (ASan sees a value pointing outside the
 * input).
 */
#ifndef MC_FUZZ_COLLECTOR_FUZZ_H
#define MC_FUZZ_COLLECTOR_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"

static uint64_t sink_sum;

static void sink(void *ctx, const struct mc_coll_record *r)
{
    (void)ctx;
    /* touch every byte delivered: ASan sees a value pointing outside the input */
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->f[i].len; k++)
            sink_sum += r->f[i].value[k];
}

typedef int (*coll_decode_fn)(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                              uint64_t now_ms);

static int coll_fuzz(const uint8_t *data, size_t size, coll_decode_fn decode)
{
    struct mc_coll_config cfg;
    mc_coll_config_defaults(&cfg);
    cfg.max_templates = 8;
    cfg.max_pending = 4;
    cfg.max_pending_bytes = 4096;
    cfg.max_streams = 4;
    cfg.template_timeout_s = 2;
    cfg.pending_timeout_s = 1;
    struct mc_coll *c = mc_coll_new(&cfg, sink, NULL);
    if (!c)
        return 0;
    struct mc_coll_src src[2] = { { .addr = { 192, 0, 2, 1 }, .ver = 4, .port = 2055 },
                                  { .addr = { 192, 0, 2, 2 }, .ver = 4, .port = 2055 } };
    uint64_t now = 1000;
    size_t off = 0, k = 0;
    while (off <= size) {
        const uint8_t *end = size - off >= 4 ? memmem(data + off, size - off, "MCDG", 4) : NULL;
        size_t len = end ? (size_t)(end - (data + off)) : size - off;
        uint8_t *dg = malloc(len ? len : 1);
        if (!dg)
            break;
        memcpy(dg, data + off, len); /* exact size: an off-by-one read trips ASan */
        decode(c, &src[k & 1], dg, len, now);
        free(dg);
        now += 700;
        mc_coll_expire(c, now);
        off += len + 4;
        k++;
    }
    mc_coll_free(c);
    return 0;
}

#endif
