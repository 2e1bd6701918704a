/*
 * hostagg.c - bounded per-host delta table (see hostagg.h).
 *
 * Entries are chained by hash through a compact link array and kept in age
 * order.  Popping the oldest (once per key per flush) only marks the entry
 * dead (ver 0, never looked for) and lists it: unlinking it from its chain
 * would cost a cache miss or two per key.  Dead entries are all dropped at
 * once when the table empties (the usual end of a flush); before that, one
 * is unlinked for real only when a new entry needs its place.
 */
#include "cloud/hostagg.h"

#include <stdlib.h>
#include <string.h>

/* Same host: two 64-bit compares instead of a memcmp call (twice per flow per flush). */
static inline int same_addr(const struct mc_addr *x, const struct mc_addr *y)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, x->b, 8), memcpy(&a1, x->b + 8, 8);
    memcpy(&b0, y->b, 8), memcpy(&b1, y->b + 8, 8);
    return a0 == b0 && a1 == b1;
}

static uint32_t hash_addr(uint8_t ver, const struct mc_addr *a)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (ver + 1);
    for (int i = 0; i < 16; i += 8) {
        uint64_t w;
        memcpy(&w, a->b + i, 8);
        x ^= w;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
    }
    return (uint32_t)x;
}

#define MIN_BUCKETS 16384u /* 64 KiB: a flush of thousands of hosts never regrows */

int mc_hostagg_init(struct mc_hostagg *h, uint32_t cap)
{
    memset(h, 0, sizeof(*h));
    h->cap = cap ? cap : 1;
    /* buckets grow with the hosts held (grow()), so a table sized for a
     * million hosts that holds thousands stays cache-sized */
    h->nb = MIN_BUCKETS;
    h->e = calloc(h->cap, sizeof(*h->e)); /* sized for the bound, resident only as far as used */
    h->links = calloc(h->cap, sizeof(*h->links));
    h->buckets = calloc(h->nb, sizeof(*h->buckets));
    if (!h->e || !h->links || !h->buckets) {
        mc_hostagg_free(h);
        return -1;
    }
    return 0;
}

void mc_hostagg_free(struct mc_hostagg *h)
{
    free(h->e);
    free(h->links);
    free(h->buckets);
    memset(h, 0, sizeof(*h));
}

/*
 * Doubles the buckets and rechains the live entries (the dead go to the
 * freelist): amortised O(1) per add.  Entries are walked in index order, a
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
        uint32_t *head = h->e[i1 - 1].ver ? &b[l->hash & (h->nb - 1)] : &h->free_head;
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
    struct mc_hostagg_entry *e = &h->e[i1 - 1];
    if (e->older)
        h->e[e->older - 1].newer = e->newer;
    else
        h->oldest = e->newer;
    if (e->newer)
        h->e[e->newer - 1].older = e->older;
    else
        h->newest = e->older;
    e->older = e->newer = 0;
}

/* Removes the oldest entry, leaving it dead on its chain. */
static int take_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    uint32_t i1 = h->oldest;
    if (!i1)
        return 0;
    age_unlink(h, i1);
    *out = h->e[i1 - 1];
    h->e[i1 - 1].ver = 0;
    h->e[i1 - 1].newer = h->dead_head; /* the dead list reuses the age link */
    h->dead_head = i1;
    h->dead++;
    h->n--;
    return 1;
}

int mc_hostagg_pop_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    mc_hostagg_settle(h);
    int r = take_oldest(h, out);
    reset_if_empty(h);
    return r;
}

static void add_val(struct mc_hostagg_val *d, const struct mc_hostagg_val *v)
{
    d->sent_pkt += v->sent_pkt;
    d->rcvd_pkt += v->rcvd_pkt;
    d->sent_bytes += v->sent_bytes;
    d->rcvd_bytes += v->rcvd_bytes;
    d->flows += v->flows;
    if (v->first_seen && (!d->first_seen || v->first_seen < d->first_seen))
        d->first_seen = v->first_seen;
    if (v->last_seen > d->last_seen)
        d->last_seen = v->last_seen;
}

/*
 * The live entry of (ver, addr) with hash x, or NULL.  A hit deeper in its
 * chain moves to the front: busy hosts stay where mc_hostagg_add_soon's
 * prefetch looks (the chain head), instead of sinking behind newer hosts.
 */
static struct mc_hostagg_entry *find(struct mc_hostagg *h, uint32_t x, uint8_t ver, const struct mc_addr *addr)
{
    uint32_t *head = &h->buckets[x & (h->nb - 1)];
    for (uint32_t *pp = head, i1; (i1 = *pp) != 0; pp = &h->links[i1 - 1].next) {
        if (h->links[i1 - 1].hash != x)
            continue;
        struct mc_hostagg_entry *e = &h->e[i1 - 1];
        if (e->ver != ver || !same_addr(&e->addr, addr))
            continue;
        if (pp != head) {
            *pp = h->links[i1 - 1].next;
            h->links[i1 - 1].next = *head;
            *head = i1;
        }
        return e;
    }
    return NULL;
}

/* A fresh entry for hash x, chained (not yet on the age list); NULL when full. */
static struct mc_hostagg_entry *slot_take(struct mc_hostagg *h, uint32_t x)
{
    if (h->n == h->cap)
        return NULL;
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
        h->dead_head = h->e[i1 - 1].newer;
        h->dead--;
        chain_unlink(h, i1);
    }
    uint32_t *head = &h->buckets[x & (h->nb - 1)];
    h->links[i1 - 1].next = *head;
    h->links[i1 - 1].hash = x;
    *head = i1;
    h->n++;
    return &h->e[i1 - 1];
}

static void count_dropped(struct mc_hostagg *h, const struct mc_hostagg_val *v)
{
    h->dropped_keys++;
    h->dropped_pkts += v->sent_pkt + v->rcvd_pkt;
    h->dropped_bytes += v->sent_bytes + v->rcvd_bytes;
}

static struct mc_hostagg_entry *add_hashed(struct mc_hostagg *h, uint32_t x, uint8_t ver,
                                           const struct mc_addr *addr, const struct mc_hostagg_val *v)
{
    struct mc_hostagg_entry *e = find(h, x, ver, addr);
    if (e) {
        add_val(&e->v, v);
        return e;
    }
    if (h->n == h->cap) {
        /* full: the oldest delta goes, and says so */
        struct mc_hostagg_entry old;
        take_oldest(h, &old);
        count_dropped(h, &old.v);
    }
    e = slot_take(h, x);
    uint32_t i1 = (uint32_t)(e - h->e) + 1;
    e->ver = ver;
    e->addr = *addr;
    e->v = *v;
    e->newer = 0;
    e->older = h->newest;
    if (h->newest)
        h->e[h->newest - 1].newer = i1;
    else
        h->oldest = i1;
    h->newest = i1;
    return e;
}

struct mc_hostagg_entry *mc_hostagg_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr,
                                        const struct mc_hostagg_val *v)
{
    mc_hostagg_settle(h);
    return add_hashed(h, hash_addr(ver, addr), ver, addr, v);
}

/*
 * The queue holds MC_HOSTAGG_SOON adds.  An add entering it prefetches its
 * bucket; halfway, the bucket's first link and entry (the host itself,
 * mostly, at a load factor under 1); leaving, it is applied.
 */
void mc_hostagg_add_soon(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr,
                         const struct mc_hostagg_val *v)
{
    enum { Q = MC_HOSTAGG_SOON, HALF = MC_HOSTAGG_SOON / 2 };
    if (h->soon_n == Q) {
        struct mc_hostagg_soon *s = &h->soon[h->soon_head];
        add_hashed(h, s->hash, s->ver, &s->addr, &s->v);
        h->soon_head = (h->soon_head + 1) % Q;
        h->soon_n--;
    }
    if (h->soon_n >= HALF) {
        const struct mc_hostagg_soon *m = &h->soon[(h->soon_head + h->soon_n - HALF) % Q];
        uint32_t i1 = h->buckets[m->hash & (h->nb - 1)];
        if (i1) {
            __builtin_prefetch(&h->links[i1 - 1]);
            __builtin_prefetch(&h->e[i1 - 1], 1);
            __builtin_prefetch((const char *)&h->e[i1 - 1] + 64, 1);
        }
    }
    struct mc_hostagg_soon *s = &h->soon[(h->soon_head + h->soon_n) % Q];
    s->hash = hash_addr(ver, addr);
    s->ver = ver;
    s->addr = *addr;
    s->v = *v;
    h->soon_n++;
    __builtin_prefetch(&h->buckets[s->hash & (h->nb - 1)]);
}

void mc_hostagg_settle(struct mc_hostagg *h)
{
    while (h->soon_n) {
        struct mc_hostagg_soon *s = &h->soon[h->soon_head];
        add_hashed(h, s->hash, s->ver, &s->addr, &s->v);
        h->soon_head = (h->soon_head + 1) % MC_HOSTAGG_SOON;
        h->soon_n--;
    }
}

void mc_hostagg_unpop(struct mc_hostagg *h, const struct mc_hostagg_entry *in)
{
    mc_hostagg_settle(h);
    uint32_t x = hash_addr(in->ver, &in->addr);
    struct mc_hostagg_entry *e = find(h, x, in->ver, &in->addr);
    if (e) {
        add_val(&e->v, &in->v);
        return;
    }
    e = slot_take(h, x);
    if (!e) {
        count_dropped(h, &in->v); /* adds filled the table since it was popped */
        return;
    }
    uint32_t i1 = (uint32_t)(e - h->e) + 1;
    *e = *in;
    e->older = 0;
    e->newer = h->oldest;
    if (h->oldest)
        h->e[h->oldest - 1].older = i1;
    else
        h->newest = i1;
    h->oldest = i1;
}

void mc_hostagg_merge(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    mc_hostagg_settle(dst);
    mc_hostagg_settle(src);
    struct mc_hostagg_entry e;
    while (take_oldest(src, &e))
        add_hashed(dst, hash_addr(e.ver, &e.addr), e.ver, &e.addr, &e.v);
    reset_if_empty(src);
    dst->dropped_keys += src->dropped_keys;
    dst->dropped_pkts += src->dropped_pkts;
    dst->dropped_bytes += src->dropped_bytes;
    src->dropped_keys = src->dropped_pkts = src->dropped_bytes = 0;
}

void mc_hostagg_clear(struct mc_hostagg *h)
{
    h->soon_n = h->soon_head = 0;
    memset(h->buckets, 0, (size_t)h->nb * sizeof(*h->buckets));
    h->n = h->used = h->dead = h->dead_head = 0;
    h->free_head = 0;
    h->oldest = h->newest = 0;
}
