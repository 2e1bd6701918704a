/*
 * aggtab.h - the table behind struct mc_agg, for the cloud writer and the
 * tests (analyzers use agg.h only).
 *
 * A table holds keys, their cells (one per key, kind and field or member)
 * and events, all bounded: at most max_keys keys and max_bytes bytes of
 * keys, cells, events and their text.  An operation that does not fit is
 * refused and counted, never evicts: the aggregates already held stay whole.
 * Texts live in one arena addressed by offsets, so the arrays can grow by
 * realloc; a key's cells are chained in insertion order, which is the order
 * the writer sends them in.  Popping a key (the writer took it) only marks
 * it dead; the table empties at once when nothing live is left
 * (mc_agg_reset_if_empty), and mc_agg_compact drops the dead when a node
 * that stays down keeps part of the table live.
 */
#ifndef MC_CLOUD_AGGTAB_H
#define MC_CLOUD_AGGTAB_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/agg.h"

/* SETNX: HSETNX, for the writer's own use (a host's first_seen); not in agg.h. */
enum mc_agg_kind { MC_AGG_INCR = 1, MC_AGG_MAX, MC_AGG_MIN, MC_AGG_SET, MC_AGG_ZINCR, MC_AGG_SETNX, MC_AGG_ZMAX,
                   MC_AGG_ZTRIM };

struct mc_agg_key {
    uint32_t hnext;        /* hash chain (index + 1) */
    uint32_t hash;
    uint32_t text;         /* the key, prefix included, at text[text .. text + len) */
    uint16_t len;
    uint8_t live;          /* 0: taken by the writer */
    uint8_t n_sets;        /* SET cells (they go out as one HSET) */
    uint32_t ttl_ms;       /* PEXPIRE after its other commands; 0: none */
    uint32_t head, tail;   /* its cells in insertion order (index + 1) */
    uint32_t n_cells;
};

struct mc_agg_cell {
    uint32_t hnext;        /* hash chain (index + 1) */
    uint32_t hash;
    uint32_t key;          /* index of its key */
    uint32_t next;         /* the key's next cell (index + 1) */
    uint32_t name;         /* field or member at text[name .. name + name_len) */
    uint16_t name_len;
    uint8_t kind;          /* enum mc_agg_kind */
    uint8_t pad;
    uint32_t event;        /* publish_if_new: its event (index + 1); 0: none */
    uint32_t val, vlen;    /* SET, SETNX: the value's text */
    int64_t n;             /* INCR, ZINCR: the summed delta; MAX, MIN, ZMAX: the value, ZTRIM: the cutoff
                              (as uint64_t) */
};

struct mc_agg_event {
    uint32_t name, json;   /* texts: the event's name ("dns.name.new") and its JSON payload */
    uint32_t json_len;
    uint16_t name_len;
    uint8_t live;          /* 0: written, or dropped */
    uint8_t cond;          /* 1: publish_if_new, decided by the reply to its cell's HINCRBY */
    uint8_t parts;         /* still to write: MC_AGG_PUB (PUBLISH) | MC_AGG_XADD (the stream) */
};

#define MC_AGG_PUB 1
#define MC_AGG_XADD 2

struct mc_agg {
    char prefix[128];      /* --cloud-prefix, prepended to keys and channels */
    uint16_t plen;
    uint64_t seed;
    uint32_t max_keys;
    size_t max_bytes;
    size_t bytes;          /* held now: arrays' used entries and text */
    struct mc_agg_key *k;  /* owned */
    uint32_t nk, capk, live_keys;
    struct mc_agg_cell *c; /* owned */
    uint32_t nc, capc;
    struct mc_agg_event *ev; /* owned */
    uint32_t ne, cape, live_events;
    char *text;            /* owned */
    uint32_t nt, capt;
    uint32_t *kb, *cb;     /* owned: hash buckets of keys and cells (index + 1) */
    uint32_t nkb, ncb;
    /* refusals since the owner last read them (it moves them to counters) */
    uint64_t dropped_ops, dropped_events, refused_long;
    uint8_t hurry;         /* mc_agg_hurry: the next probe tick hands over at once */
    uint32_t gen;          /* these contents: new at init and at every clear (unique in the process, never 0);
                              cell indexes of one gen never move (struct mc_agg_ref) */
    uint32_t recent;       /* the key last looked up (index + 1; 0: none): an analyzer's ops, a bind
                              and a merge come a key at a time, so most lookups find it again here */
};

/* Sizes and prefix of a new table; 0 or -1 (no memory).  Free with mc_agg_free. */
int mc_agg_init(struct mc_agg *a, const char *prefix, uint32_t max_keys, size_t max_bytes);
void mc_agg_free(struct mc_agg *a);

/* Empties a (keeps its memory and its refusal counts). */
void mc_agg_clear(struct mc_agg *a);

/* Clears a when no key and no event is live (the writer took everything). */
void mc_agg_reset_if_empty(struct mc_agg *a);

/* The cell of (key kind name) in a, created when absent; NULL when the bound refuses it.  key without prefix. */
struct mc_agg_cell *mc_agg_cell_get(struct mc_agg *a, const char *key, size_t klen, int kind, const char *name,
                                    size_t nlen);

/*
 * Adds src's key ki (its cells, TTL and conditional events) to dst; newer:
 * src is the more recent (its SET values and TTL win), else dst's win.
 * Returns the operations refused by dst's bound.
 */
uint32_t mc_agg_add_key(struct mc_agg *dst, const struct mc_agg *src, uint32_t ki, int newer);

/* Adds one cell of src (and, with ttl, its key's TTL) to dst; 0 or 1 when refused. */
uint32_t mc_agg_add_cell(struct mc_agg *dst, const struct mc_agg *src, uint32_t ci, int newer);

/* Adds src's event ei to dst (unconditional, parts of it: MC_AGG_PUB | MC_AGG_XADD); 0 or 1 when refused. */
uint32_t mc_agg_add_event(struct mc_agg *dst, const struct mc_agg *src, uint32_t ei, int parts);

/* Marks event ei written (or dropped). */
void mc_agg_event_done(struct mc_agg *a, uint32_t ei);

/* Adds every live key and event of src to dst, and empties src; returns what dst refused. */
uint32_t mc_agg_merge(struct mc_agg *dst, struct mc_agg *src, int newer);

/*
 * Moves src into dst: a swap when dst is empty (the usual handoff), else a
 * merge (src newer).  src is left empty; refusal counts stay where they
 * were counted.  Returns what dst refused.
 */
uint32_t mc_agg_move(struct mc_agg *dst, struct mc_agg *src);

/* Drops a's dead keys and events when they are most of it (spare: an empty table to rebuild into). */
void mc_agg_compact(struct mc_agg *a, struct mc_agg *spare);

/* Sets a SET or SETNX cell's value (SETNX: only when it has none); 0, or -1 when the bound refuses it. */
int mc_agg_cell_value(struct mc_agg *a, struct mc_agg_cell *c, const char *v, size_t n);

/* Marks key ki written. */
void mc_agg_key_done(struct mc_agg *a, uint32_t ki);

/* Text of a's arena at off. */
static inline const char *mc_agg_text(const struct mc_agg *a, uint32_t off)
{
    return a->text + off;
}

#endif
