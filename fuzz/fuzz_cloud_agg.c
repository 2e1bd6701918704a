/*
 * fuzz_cloud_agg.c - libFuzzer target for the aggregation table
 * (src/cloud/agg.c): the input is a list of operations whose keys, fields,
 * members and payloads come from the wire, as an analyzer would pass them;
 * the table is small, so its bounds are hit.  Then everything is merged into
 * a second table and back, the way failed writes go back to pending.
 * Replayed under CTest over fuzz/corpus/cloud_agg/ (seeds from
 * scripts/gen-cloud-seeds.py).
 *
 * An operation: op (1 byte), then length-prefixed strings (1 byte each
 * length): key, name, value; then an 8-byte number.  An increment or max
 * with bit 0x40 set goes through one of four bound cells (struct
 * mc_agg_ref): used while live, bound again when not, as the mobile layer
 * does; a live ref must name a cell of its kind under a live key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next length-prefixed string, copied to an exact-size buffer (ASan sees overreads); NULL at the end. */
static char *take(const uint8_t **p, const uint8_t *end, size_t *n)
{
    if (*p >= end)
        return NULL;
    size_t l = **p;
    (*p)++;
    if ((size_t)(end - *p) < l)
        l = (size_t)(end - *p);
    char *s = malloc(l ? l : 1);
    if (s)
        memcpy(s, *p, l);
    *p += l;
    *n = l;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mc_agg a, b;
    if (mc_agg_init(&a, "fz:", 64, 16384) != 0)
        return 0;
    if (mc_agg_init(&b, "fz:", 64, 16384) != 0) {
        mc_agg_free(&a);
        return 0;
    }
    struct mc_agg_ref refs[4];
    uint8_t ref_kind[4] = { 0 };
    memset(refs, 0, sizeof(refs));
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        uint8_t op = *p++;
        size_t kl = 0, nl = 0, vl = 0;
        char *k = take(&p, end, &kl), *n = take(&p, end, &nl), *v = take(&p, end, &vl);
        uint64_t x = 0;
        for (int i = 0; i < 8 && p < end; i++)
            x = x << 8 | *p++;
        /* field and event names are C strings for the API: cut at the first NUL */
        char name[MC_AGG_MAX_NAME + 1];
        size_t cl = nl < MC_AGG_MAX_NAME ? nl : MC_AGG_MAX_NAME;
        if (n)
            memcpy(name, n, cl);
        name[cl] = 0;
        if (k && n && v && (op & 0x40) && op % 8 < 2) {
            struct mc_agg_ref *r = &refs[x % 4];
            uint8_t kind = op % 8 == 0 ? MC_AGG_INCR : MC_AGG_MAX;
            if (mc_agg_refs_live(&a, r, 1)) {
                const struct mc_agg_cell *c = &a.c[r->cell];
                if (c->kind != ref_kind[x % 4] || !a.k[c->key].live)
                    abort();
            } else {
                int rc = kind == MC_AGG_INCR ? mc_agg_bind_hincr(&a, r, k, kl, name)
                                             : mc_agg_bind_hmax(&a, r, k, kl, name);
                ref_kind[x % 4] = kind;
                if (rc != 0 && r->gen)
                    abort(); /* a refused bind leaves the ref unbound */
            }
            if (mc_agg_refs_live(&a, r, 1)) {
                if (ref_kind[x % 4] == MC_AGG_INCR)
                    mc_agg_incr_at(&a, r, (int64_t)x);
                else
                    mc_agg_max_at(&a, r, x);
            }
            if (op & 0x80 && a.nk)
                mc_agg_key_done(&a, (uint32_t)(x % a.nk));
        } else if (k && n && v) {
            switch (op % 8) {
            case 0: mc_agg_hincr(&a, k, kl, name, (int64_t)x); break;
            case 1: mc_agg_hmax(&a, k, kl, name, x); break;
            case 2: mc_agg_hmin(&a, k, kl, name, x); break;
            case 3: mc_agg_hset(&a, k, kl, name, v, vl); break;
            case 4: mc_agg_zincr(&a, k, kl, v, vl, (int64_t)x); break;
            case 5: mc_agg_expire(&a, k, kl, (uint32_t)x); break;
            case 6: mc_agg_publish(&a, name, v, vl); break;
            default: mc_agg_publish_if_new(&a, k, kl, name, name, v, vl); break;
            }
            if (op & 0x80 && a.nk)
                mc_agg_key_done(&a, (uint32_t)(x % a.nk));
        }
        free(k);
        free(n);
        free(v);
        if (a.bytes > a.max_bytes || a.live_keys > a.max_keys)
            abort();
    }
    mc_agg_merge(&b, &a, 1);
    mc_agg_merge(&a, &b, 0);
    mc_agg_compact(&a, &b);
    if (a.bytes > a.max_bytes || b.live_keys || b.live_events)
        abort();
    mc_agg_free(&a);
    mc_agg_free(&b);
    return 0;
}
