/*
 * hostagg.h - per-host traffic deltas, aggregated locally between flushes.
 *
 * The probe never writes to Redis per packet: the main thread adds each
 * flow's new packets and bytes to one entry per host here, and the cloud
 * thread turns each entry into one command per flush.  The table is bounded
 * (max entries); when full, the oldest entry is evicted and what it held is
 * counted as dropped, so memory stays bounded whatever Redis does.
 */
#ifndef MC_CLOUD_HOSTAGG_H
#define MC_CLOUD_HOSTAGG_H

#include <stddef.h>
#include <stdint.h>

#include "decode/pkt.h"

struct mc_hostagg_val {
    uint64_t sent_pkt, rcvd_pkt, sent_bytes, rcvd_bytes, flows;
    uint64_t first_seen, last_seen; /* epoch ms; first 0 = unknown */
};

struct mc_hostagg_entry {
    uint8_t ver;                    /* 4 or 6 */
    struct mc_addr addr;
    struct mc_hostagg_val v;
    uint32_t hnext;                 /* internal: chain (index + 1, 0 = end) */
    uint32_t older, newer;          /* internal: age list (index + 1) */
};

struct mc_hostagg {
    struct mc_hostagg_entry *e;     /* owned: cap entries */
    uint32_t *buckets;              /* owned: nb heads (index + 1) */
    uint32_t cap, nb, n;
    uint32_t free_head;             /* freelist through hnext */
    uint32_t oldest, newest;        /* age list ends (index + 1) */
    uint64_t dropped_keys, dropped_pkts, dropped_bytes; /* evicted when full */
};

/* Creates a table of at most cap hosts; 0 or -1 (no memory). Free with mc_hostagg_free. */
int mc_hostagg_init(struct mc_hostagg *h, uint32_t cap);
void mc_hostagg_free(struct mc_hostagg *h);

/* Adds v to the host's entry (created, evicting the oldest when full). Returns the entry. */
struct mc_hostagg_entry *mc_hostagg_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr,
                                        const struct mc_hostagg_val *v);

/*
 * Puts a popped entry back as the oldest (merged into the host's entry if one
 * was added meanwhile, which then keeps its place).  Never evicts: the entry
 * came out of this table, so there is room unless adds filled it since; then
 * it is counted as dropped.
 */
void mc_hostagg_unpop(struct mc_hostagg *h, const struct mc_hostagg_entry *e);

/* Merges every entry of src into dst (src is emptied). */
void mc_hostagg_merge(struct mc_hostagg *dst, struct mc_hostagg *src);

/* Removes and returns (in *out) the oldest entry; 0 when empty. */
int mc_hostagg_pop_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out);

/* Empties the table (keeps its memory and the dropped counts). */
void mc_hostagg_clear(struct mc_hostagg *h);

#endif
