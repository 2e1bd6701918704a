/*
 * hostagg.c - bounded per-host delta table (see hostagg.h).
 *
 * Two parts.  The front takes the stream of adds, two per flow: one 64-byte
 * line per host, found by linear probing, so an add costs the one line a
 * prefetch fetched ahead; its hosts are popped where they lie.  The chained
 * table behind it takes the rest (put-backs, merges, what a full front
 * moves in) and keeps the age order that eviction needs: entries are
 * chained by hash through a compact link array that also holds the age
 * order, so a chain walk or an age update never touches an entry.  Popping
 * the oldest only marks the entry dead (ver 0, never looked for) and lists
 * it: unlinking it from its chain would cost a cache miss or two per key.
 * Dead entries are all dropped at once when the table empties (the usual end
 * of a flush); before that, one is unlinked for real only when a new entry
 * needs its place.
 */
#include "cloud/hostagg.h"

#include "common/bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Same host: two 64-bit compares instead of a memcmp call (twice per flow per flush). */
static inline int same_addr(const struct mc_addr *x, const struct mc_addr *y)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, x->b, 8), memcpy(&a1, x->b + 8, 8);
    memcpy(&b0, y->b, 8), memcpy(&b1, y->b + 8, 8);
    return a0 == b0 && a1 == b1;
}

#define MIN_BUCKETS 16384u /* 64 KiB: a flush of thousands of hosts never regrows */

int mc_hostagg_init(struct mc_hostagg *h, uint32_t cap)
{
    memset(h, 0, sizeof(*h));
    h->cap = cap ? cap : 1;
    /* a seed per table: addresses chosen to share one probe run or chain
     * cannot be chosen in advance */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)(uintptr_t)h;
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
    h->seed = x ^ (x >> 29);
    /* buckets grow with the hosts held (grow()), so a table sized for a
     * million hosts that holds thousands stays cache-sized; the entries are
     * sized for the bound but resident only as far as used */
    h->nb = MIN_BUCKETS;
    /* 4 KiB pages, not huge ones: a flush of a few thousand hosts would
     * zero 2 MiB per table for them */
    h->e = calloc(h->cap, sizeof(*h->e));
    h->links = calloc(h->cap, sizeof(*h->links));
    h->buckets = calloc(h->nb, sizeof(*h->buckets));
    if (!h->e || !h->links || !h->buckets) {
        mc_hostagg_free(h);
        return -1;
    }
    return 0;
}

static void front_free(struct mc_hostagg *h);

void mc_hostagg_free(struct mc_hostagg *h)
{
    front_free(h);
    free(h->e);
    free(h->links);
    free(h->buckets);
    memset(h, 0, sizeof(*h));
}

/*
 * Doubles the buckets and rechains the live entries (the dead go to the
 * freelist): amortised O(1) per add.  Links are walked in index order, a
 * stream the CPU prefetches, not in age order, a cache miss each.
 */
static void grow(struct mc_hostagg *h)
{
    uint32_t nb = h->nb * 2;
    uint32_t *b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    free(h->buckets);
    h->buckets = b;
    h->nb = nb;
    /* dead and free entries alike (ver 0) go to a new freelist */
    h->free_head = h->dead_head = h->dead = 0;
    for (uint32_t i1 = h->used; i1 >= 1; i1--) {
        struct mc_hostagg_link *l = &h->links[i1 - 1];
        uint32_t *head = l->ver ? &b[l->hash & (h->nb - 1)] : &h->free_head;
        l->next = *head;
        *head = i1;
    }
}

/* An empty table drops its dead entries at the cost of clearing the buckets. */
static void reset_if_empty(struct mc_hostagg *h)
{
    if (h->n || !h->used)
        return;
    memset(h->buckets, 0, (size_t)h->nb * sizeof(*h->buckets));
    h->used = h->dead = h->dead_head = h->free_head = 0;
    h->oldest = h->newest = 0;
}

/* Unlinks entry i1 from its hash chain. */
static void chain_unlink(struct mc_hostagg *h, uint32_t i1)
{
    uint32_t *pp = &h->buckets[h->links[i1 - 1].hash & (h->nb - 1)];
    while (*pp && *pp != i1)
        pp = &h->links[*pp - 1].next;
    if (*pp == i1)
        *pp = h->links[i1 - 1].next;
}

static void age_unlink(struct mc_hostagg *h, uint32_t i1)
{
    struct mc_hostagg_link *l = &h->links[i1 - 1];
    if (l->older)
        h->links[l->older - 1].newer = l->newer;
    else
        h->oldest = l->newer;
    if (l->newer)
        h->links[l->newer - 1].older = l->older;
    else
        h->newest = l->older;
    l->older = l->newer = 0;
}

static void slot_out(const struct mc_hostagg *h, uint32_t i1, struct mc_hostagg_entry *out)
{
    const struct mc_hostagg_slot *s = &h->e[i1 - 1];
    out->ver = h->links[i1 - 1].ver;
    out->addr = s->addr;
    out->v.sent_pkt = s->sent_pkt;
    out->v.rcvd_pkt = s->rcvd_pkt;
    out->v.sent_bytes = s->sent_bytes;
    out->v.rcvd_bytes = s->rcvd_bytes;
    out->v.flows = s->flows;
    out->v.first_seen = s->first_seen;
    out->v.last_seen = s->last_seen;
}

/* Removes the oldest entry, leaving it dead on its chain. */
static int take_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    uint32_t i1 = h->oldest;
    if (!i1)
        return 0;
    age_unlink(h, i1);
    slot_out(h, i1, out);
    struct mc_hostagg_link *l = &h->links[i1 - 1];
    l->ver = 0;
    l->newer = h->dead_head; /* the dead list reuses the age link */
    h->dead_head = i1;
    h->dead++;
    h->n--;
    return 1;
}

static int front_pop(struct mc_hostagg *h, struct mc_hostagg_entry *out);

int mc_hostagg_pop_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    /* the table's entries are older than the front's (it drains into the
     * table); the front's are popped where they lie, never moved in */
    if (take_oldest(h, out)) {
        reset_if_empty(h);
        return 1;
    }
    return front_pop(h, out);
}

uint32_t mc_hostagg_count(const struct mc_hostagg *h)
{
    return h->n + h->front_n;
}

/* The earliest first time (0: unknown) and the latest last time of both. */
static inline void merge_times(uint64_t *first, uint64_t *last, const struct mc_hostagg_val *v)
{
    if (v->first_seen && (!*first || v->first_seen < *first))
        *first = v->first_seen;
    if (v->last_seen > *last)
        *last = v->last_seen;
}

static void add_val(struct mc_hostagg_slot *s, const struct mc_hostagg_val *v)
{
    s->sent_pkt += v->sent_pkt;
    s->rcvd_pkt += v->rcvd_pkt;
    s->sent_bytes += v->sent_bytes;
    s->rcvd_bytes += v->rcvd_bytes;
    s->flows += v->flows;
    merge_times(&s->first_seen, &s->last_seen, v);
}

/* The live entry (index + 1) of (ver, addr) with hash x, or 0. */
static uint32_t find(struct mc_hostagg *h, uint32_t x, uint8_t ver, const struct mc_addr *addr)
{
    for (uint32_t i1 = h->buckets[x & (h->nb - 1)]; i1; i1 = h->links[i1 - 1].next) {
        const struct mc_hostagg_link *l = &h->links[i1 - 1];
        if (l->hash == x && l->ver == ver && same_addr(&h->e[i1 - 1].addr, addr))
            return i1;
    }
    return 0;
}

/* A fresh entry (index + 1) for hash x, chained (not yet on the age list); 0 when full. */
static uint32_t slot_take(struct mc_hostagg *h, uint32_t x)
{
    if (h->n == h->cap)
        return 0;
    if (h->n >= h->nb && h->nb < (1u << 30))
        grow(h);
    uint32_t i1;
    if (h->free_head) {
        i1 = h->free_head;
        h->free_head = h->links[i1 - 1].next;
    } else if (h->used < h->cap) {
        i1 = ++h->used;
    } else {
        /* every entry was handed out: take a dead one's place for real */
        i1 = h->dead_head;
        h->dead_head = h->links[i1 - 1].newer;
        h->dead--;
        chain_unlink(h, i1);
    }
    struct mc_hostagg_link *l = &h->links[i1 - 1];
    uint32_t *head = &h->buckets[x & (h->nb - 1)];
    l->next = *head;
    l->hash = x;
    *head = i1;
    h->n++;
    return i1;
}

static void count_dropped(struct mc_hostagg *h, const struct mc_hostagg_val *v)
{
    h->dropped_keys++;
    h->dropped_pkts += v->sent_pkt + v->rcvd_pkt;
    h->dropped_bytes += v->sent_bytes + v->rcvd_bytes;
}

/* A new entry i1 for the host, with v, at the young (or, oldest: the old) end of the age list. */
static void slot_fill(struct mc_hostagg *h, uint32_t i1, uint8_t ver, const struct mc_addr *addr,
                      const struct mc_hostagg_val *v, int oldest)
{
    struct mc_hostagg_slot *s = &h->e[i1 - 1];
    struct mc_hostagg_link *l = &h->links[i1 - 1];
    memset(s, 0, sizeof(*s));
    s->addr = *addr;
    l->ver = ver;
    add_val(s, v);
    if (oldest) {
        l->older = 0;
        l->newer = h->oldest;
        if (h->oldest)
            h->links[h->oldest - 1].older = i1;
        else
            h->newest = i1;
        h->oldest = i1;
    } else {
        l->newer = 0;
        l->older = h->newest;
        if (h->newest)
            h->links[h->newest - 1].newer = i1;
        else
            h->oldest = i1;
        h->newest = i1;
    }
}

static void add_hashed(struct mc_hostagg *h, uint32_t x, uint8_t ver, const struct mc_addr *addr,
                       const struct mc_hostagg_val *v)
{
    uint32_t i1 = find(h, x, ver, addr);
    if (i1) {
        add_val(&h->e[i1 - 1], v);
        return;
    }
    if (h->n == h->cap) {
        /* full: the oldest delta goes, and says so */
        struct mc_hostagg_entry old = { 0 };
        take_oldest(h, &old);
        count_dropped(h, &old.v);
    }
    slot_fill(h, slot_take(h, x), ver, addr, v, 0);
}

void mc_hostagg_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr, const struct mc_hostagg_val *v)
{
    mc_hostagg_settle(h);
    add_hashed(h, mc_hostagg_hash(h, ver, addr), ver, addr, v);
}

int mc_hostagg_get(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr, struct mc_hostagg_entry *out)
{
    mc_hostagg_settle(h);
    uint32_t i1 = find(h, mc_hostagg_hash(h, ver, addr), ver, addr);
    if (i1)
        slot_out(h, i1, out);
    return i1 != 0;
}

/* ---- the front ---------------------------------------------------------- */

/* 2 MiB, one huge page: adds land anywhere in it, and a TLB miss per add
 * (a page walk, nested under a hypervisor) would cost more than the line */
#define FRONT_MIN_SLOTS 32768u
#define FRONT_MAX_SLOTS 131072u  /* 8 MiB: more hosts than half of this between flushes are moved in as they come */

static struct mc_hostagg_front_slot *front_alloc(uint32_t slots)
{
    return mc_big_alloc((size_t)slots * sizeof(struct mc_hostagg_front_slot)); /* zeroed */
}

static void front_free(struct mc_hostagg *h)
{
    if (h->front)
        mc_big_free(h->front, ((size_t)h->front_mask + 1) * sizeof(*h->front));
    h->front = NULL;
}

/* Sizes the front for h->cap hosts at most, half full at most (short probe runs). */
static void front_size(struct mc_hostagg *h, uint32_t slots)
{
    h->front_mask = slots - 1;
    h->front_max = slots / 2 < h->cap ? slots / 2 : h->cap;
}

static struct mc_hostagg_front_slot *front_find(struct mc_hostagg *h, uint32_t x, uint8_t ver,
                                                const struct mc_addr *addr)
{
    for (uint32_t i = x & h->front_mask;; i = (i + 1) & h->front_mask) {
        struct mc_hostagg_front_slot *s = &h->front[i];
        if (s->ver == 0 || (s->ver == ver && same_addr(&s->addr, addr)))
            return s;
    }
}

static struct mc_hostagg_val front_val(const struct mc_hostagg_front_slot *s)
{
    return (struct mc_hostagg_val){ s->sent_pkt, s->rcvd_pkt, s->sent_bytes, s->rcvd_bytes, s->flows,
                                    s->first_seen, s->last_seen };
}

/* Moves every front host into the table, emptying the front (one pass: the scan reads each slot anyway). */
static void front_drain(struct mc_hostagg *h)
{
    if (!h->front_n)
        return;
    for (uint32_t i = 0; i <= h->front_mask; i++) {
        struct mc_hostagg_front_slot *s = &h->front[i];
        if (!s->ver)
            continue;
        struct mc_hostagg_val v = front_val(s);
        add_hashed(h, mc_hostagg_hash(h, s->ver, &s->addr), s->ver, &s->addr, &v);
        s->ver = 0;
    }
    h->front_n = 0;
    h->front_cursor = 0;
}

/*
 * Takes the next host of the front, in slot order; 0 when it is empty.  A
 * popped slot is emptied, which breaks the probe runs through it: adds
 * drain the rest first (see mc_hostagg_add_flow).
 */
static int front_pop(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    while (h->front_n) {
        struct mc_hostagg_front_slot *s = &h->front[h->front_cursor++];
        if (!s->ver)
            continue;
        out->ver = s->ver;
        out->addr = s->addr;
        out->v = front_val(s);
        s->ver = 0;
        if (--h->front_n == 0)
            h->front_cursor = 0;
        return 1;
    }
    return 0;
}

/* Twice the slots, the hosts rehashed; 0, or -1 when at its largest or out of memory. */
static int front_grow(struct mc_hostagg *h)
{
    uint32_t slots = (h->front_mask + 1) * 2;
    if (slots > FRONT_MAX_SLOTS || slots / 4 >= h->cap)
        return -1;
    struct mc_hostagg_front_slot *old = h->front, *f = front_alloc(slots);
    if (!f)
        return -1;
    uint32_t old_slots = h->front_mask + 1;
    h->front = f;
    front_size(h, slots);
    for (uint32_t i = 0; i < old_slots; i++)
        if (old[i].ver)
            *front_find(h, mc_hostagg_hash(h, old[i].ver, &old[i].addr), old[i].ver, &old[i].addr) = old[i];
    mc_big_free(old, (size_t)old_slots * sizeof(*old));
    return 0;
}

static void front_open(struct mc_hostagg *h)
{
    uint32_t slots = FRONT_MIN_SLOTS;
    while (slots > 64 && slots / 4 >= h->cap) /* a small bound needs no more than twice its hosts */
        slots /= 2;
    h->front = front_alloc(slots);
    if (h->front)
        front_size(h, slots);
}

/* Adds v to the host's front slot (h has a front, not being popped). */
static void front_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr, const struct mc_hostagg_val *v)
{
    uint32_t x = mc_hostagg_hash(h, ver, addr);
    struct mc_hostagg_front_slot *s = front_find(h, x, ver, addr);
    if (!s->ver) {
        if (h->n + h->front_n >= h->cap) {
            /* the bound holds for the front and the table together: the
             * table takes the front's hosts, dropping its oldest, and a
             * new host while it is full */
            front_drain(h);
            if (h->n >= h->cap) {
                add_hashed(h, x, ver, addr, v);
                return;
            }
        } else if (h->front_n >= h->front_max && front_grow(h) != 0) {
            front_drain(h); /* at its largest: the table takes what it holds */
        }
        s = front_find(h, x, ver, addr);
        memset(s, 0, sizeof(*s)); /* a drained slot keeps its old values */
        s->addr = *addr;
        s->ver = ver;
        h->front_n++;
    }
    uint64_t sent = s->sent_pkt + v->sent_pkt, rcvd = s->rcvd_pkt + v->rcvd_pkt, flows = s->flows + v->flows;
    if ((sent | rcvd | flows) >> 32) {
        add_hashed(h, x, ver, addr, v); /* beyond the slot's 32 bits: the table takes this add (sums commute) */
        return;
    }
    s->sent_pkt = (uint32_t)sent;
    s->rcvd_pkt = (uint32_t)rcvd;
    s->flows = (uint32_t)flows;
    s->sent_bytes += v->sent_bytes;
    s->rcvd_bytes += v->rcvd_bytes;
    merge_times(&s->first_seen, &s->last_seen, v);
}

/* Where a stream of adds should go: the front, opened if need be, unless it is being popped. */
static int front_ready(struct mc_hostagg *h)
{
    if (!h->front)
        front_open(h);
    else if (h->front_cursor)
        front_drain(h); /* popping began: its probe runs have holes */
    return h->front != NULL;
}

void mc_hostagg_add_flow(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *first,
                         const struct mc_addr *second, const struct mc_hostagg_flow *d, unsigned sides)
{
    int front = front_ready(h);
    for (int side = 0; side < 2; side++) {
        if (!(sides & (1u << side)))
            continue;
        const struct mc_addr *a = side ? second : first;
        struct mc_hostagg_val v = { d->pkts[side], d->pkts[!side], d->bytes[side], d->bytes[!side], d->flows,
                                    d->first_seen, d->last_seen };
        if (front)
            front_add(h, ver, a, &v);
        else
            add_hashed(h, mc_hostagg_hash(h, ver, a), ver, a, &v); /* no memory for a front: the table alone */
    }
}

void mc_hostagg_settle(struct mc_hostagg *h)
{
    front_drain(h);
}

void mc_hostagg_unpop(struct mc_hostagg *h, const struct mc_hostagg_entry *in)
{
    mc_hostagg_settle(h);
    uint32_t x = mc_hostagg_hash(h, in->ver, &in->addr);
    uint32_t i1 = find(h, x, in->ver, &in->addr);
    if (i1) {
        add_val(&h->e[i1 - 1], &in->v);
        return;
    }
    i1 = slot_take(h, x);
    if (!i1) {
        count_dropped(h, &in->v); /* adds filled the table since it was popped */
        return;
    }
    slot_fill(h, i1, in->ver, &in->addr, &in->v, 1);
}

/* src's drop counts move to dst. */
static void take_drops(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    dst->dropped_keys += src->dropped_keys;
    dst->dropped_pkts += src->dropped_pkts;
    dst->dropped_bytes += src->dropped_bytes;
    src->dropped_keys = src->dropped_pkts = src->dropped_bytes = 0;
}

void mc_hostagg_merge(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    /* src's hosts are popped where they lie (table, then front) and added
     * to dst's front when it has one not being popped: a line per host,
     * none of the chained table's four */
    int front = dst->front && !dst->front_cursor;
    struct mc_hostagg_entry e;
    while (mc_hostagg_pop_oldest(src, &e)) {
        if (front)
            front_add(dst, e.ver, &e.addr, &e.v);
        else /* a host also left in dst's front goes out twice: both deltas count */
            add_hashed(dst, mc_hostagg_hash(dst, e.ver, &e.addr), e.ver, &e.addr, &e.v);
    }
    take_drops(dst, src);
}

/* Swaps the tables, fronts and all; the drop counts end up in dst. */
static void swap_into(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    struct mc_hostagg t = *dst;
    *dst = *src;
    *src = t;
    take_drops(dst, src);
}

void mc_hostagg_move(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    if (dst->cap != src->cap) {
        mc_hostagg_merge(dst, src);
    } else if (mc_hostagg_count(dst) == 0) {
        swap_into(dst, src); /* the usual case: src's hosts are popped where they lie */
    } else if (src->front && !src->front_cursor && dst->front_cursor) {
        /* dst is being popped (a flush was still writing when more came):
         * what is left of it goes into src's front, a line per host, not
         * src's hosts into dst's chained table, four lines each */
        mc_hostagg_merge(src, dst);
        swap_into(dst, src);
    } else {
        mc_hostagg_merge(dst, src);
    }
}

void mc_hostagg_clear(struct mc_hostagg *h)
{
    if (h->front_n)
        memset(h->front, 0, ((size_t)h->front_mask + 1) * sizeof(*h->front));
    h->front_n = 0;
    h->front_cursor = 0;
    h->n = 0;
    reset_if_empty(h); /* nothing was handed out (used 0): the buckets are clear already */
}
