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
#include <string.h>

#include "decode/pkt.h"

struct mc_hostagg_val {
    uint64_t sent_pkt, rcvd_pkt, sent_bytes, rcvd_bytes, flows;
    uint64_t first_seen, last_seen; /* epoch ms; first 0 = unknown */
};

/* A host's deltas as the API passes them. */
struct mc_hostagg_entry {
    uint8_t ver;                    /* 4 or 6 */
    struct mc_addr addr;
    struct mc_hostagg_val v;
};

/* A host as the table stores it (its version and links live apart, in mc_hostagg_link). */
struct mc_hostagg_slot {
    struct mc_addr addr;
    uint64_t sent_pkt, rcvd_pkt, sent_bytes, rcvd_bytes, flows;
    uint64_t first_seen, last_seen; /* epoch ms; 0: unknown */
};

/* Per slot, apart from the entries: a chain walk reads 16 bytes per entry
 * passed, and only the entry whose hash matches is touched. */
struct mc_hostagg_link {
    uint32_t next;                  /* hash chain: index + 1, 0 = end */
    uint32_t hash;
    uint32_t older, newer;          /* age list (index + 1); a dead entry's newer lists the dead */
    uint8_t ver;                    /* 4 or 6; 0: dead or free */
};

/*
 * The front: where a stream of adds lands first.  One 64-byte line per host,
 * found by linear probing (no chains, no age list), so an add costs one cache
 * line that a prefetch can fetch ahead, where the table behind costs four.
 * Counters that do not fit its 32-bit fields take the table's way.
 */
struct mc_hostagg_front_slot {
    struct mc_addr addr;
    uint64_t sent_bytes, rcvd_bytes;
    uint64_t first_seen, last_seen;
    uint32_t sent_pkt, rcvd_pkt, flows;
    uint8_t ver;                    /* 0: empty */
} __attribute__((aligned(64)));

/* A flow's deltas, for both of its hosts at once (mc_hostagg_add_flow). */
struct mc_hostagg_flow {
    uint64_t pkts[2], bytes[2];     /* [0]: sent by the first host, [1]: by the second */
    uint64_t flows;                 /* 1: the flow is new to the table */
    uint64_t first_seen, last_seen; /* epoch ms; first 0 = unknown */
};

struct mc_hostagg {
    struct mc_hostagg_slot *e;      /* owned: cap entries */
    struct mc_hostagg_link *links;  /* owned: cap links, parallel to e */
    uint32_t *buckets;              /* owned: nb heads (index + 1) */
    uint32_t cap, nb, n;
    uint32_t used;                  /* entries ever handed out since the table was last empty */
    uint32_t dead, dead_head;       /* popped entries still on their chains (ver 0) */
    uint32_t free_head;             /* freelist through links[].next */
    uint32_t oldest, newest;        /* age list ends (index + 1) */
    uint64_t dropped_keys, dropped_pkts, dropped_bytes; /* evicted when full */
    struct mc_hostagg_front_slot *front; /* owned, NULL until the first add_flow: front_mask + 1 slots */
    uint32_t front_mask, front_n, front_max; /* front_max: hosts it holds before it is moved in */
    uint32_t front_cursor;          /* popping: the next slot to look at; 0 when not popping */
    uint64_t seed;                  /* of the hash (mc_hostagg_hash) */
};

/* A host's hash in table h (its seed, then the address's two halves, each mixed in). */
static inline uint32_t mc_hostagg_hash(const struct mc_hostagg *h, uint8_t ver, const struct mc_addr *a)
{
    uint64_t x = h->seed ^ (0x9e3779b97f4a7c15ull * (ver + 1u)), w;
    for (int i = 0; i < 16; i += 8) {
        memcpy(&w, a->b + i, 8);
        x ^= w;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
    }
    return (uint32_t)x;
}

/*
 * The front line a host's add will read first, for the caller to prefetch
 * (NULL before the first add: a prefetch of it is harmless).  An address,
 * not a prefetching helper: GCC finds such a helper free of side effects
 * and drops its calls.
 */
static inline const void *mc_hostagg_front_line(const struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr)
{
    return h->front ? &h->front[mc_hostagg_hash(h, ver, addr) & h->front_mask] : NULL;
}

/* Creates a table of at most cap hosts; 0 or -1 (no memory). Free with mc_hostagg_free. */
int mc_hostagg_init(struct mc_hostagg *h, uint32_t cap);
void mc_hostagg_free(struct mc_hostagg *h);

/* Adds v to the host's entry (created, evicting the oldest when full). */
void mc_hostagg_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr, const struct mc_hostagg_val *v);

/* Copies the host's entry to *out; 0 when it has none. */
int mc_hostagg_get(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr, struct mc_hostagg_entry *out);

/*
 * Adds a flow's deltas to its hosts (sides: bit 0 the first, bit 1 the
 * second), made for a stream of flows: they go to the front (see struct
 * mc_hostagg_front_slot), whose line for a host a caller fetches ahead
 * (mc_hostagg_front_line).  mc_hostagg_settle moves the front into the
 * table, host by host (in the front's order, not the adds'); functions that
 * look hosts up settle first, and so does a full front.  Read n or the
 * entries directly only after mc_hostagg_settle.
 */
void mc_hostagg_add_flow(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *first,
                         const struct mc_addr *second, const struct mc_hostagg_flow *d, unsigned sides);
void mc_hostagg_settle(struct mc_hostagg *h);

/*
 * Puts a popped entry back as the oldest (merged into the host's entry if one
 * was added meanwhile, which then keeps its place).  Never evicts: the entry
 * came out of this table, so there is room unless adds filled it since; then
 * it is counted as dropped.
 */
void mc_hostagg_unpop(struct mc_hostagg *h, const struct mc_hostagg_entry *e);

/*
 * Moves src's entries into dst (src is emptied): a swap of the tables when
 * dst is empty (the usual case); when dst is being popped, what is left of
 * it goes into src's front and the tables swap; else a merge.
 */
void mc_hostagg_move(struct mc_hostagg *dst, struct mc_hostagg *src);

/* Merges every entry of src into dst (src is emptied). */
void mc_hostagg_merge(struct mc_hostagg *dst, struct mc_hostagg *src);

/* Removes and returns (in *out) the oldest entry (the front's, in no order, after the table's); 0 when empty. */
int mc_hostagg_pop_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out);

/* Hosts held, in the table and in the front. */
uint32_t mc_hostagg_count(const struct mc_hostagg *h);

/* Empties the table (keeps its memory and the dropped counts). */
void mc_hostagg_clear(struct mc_hostagg *h);

#endif
