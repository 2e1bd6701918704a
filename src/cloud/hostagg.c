/* hostagg.c - bounded per-host delta table (see hostagg.h). */
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

#define MIN_BUCKETS 1024u

int mc_hostagg_init(struct mc_hostagg *h, uint32_t cap)
{
    memset(h, 0, sizeof(*h));
    h->cap = cap ? cap : 1;
    /* buckets grow with the hosts held (grow()), so a table sized for a
     * million hosts that holds thousands stays cache-sized */
    h->nb = MIN_BUCKETS;
    h->e = calloc(h->cap, sizeof(*h->e));
    h->buckets = calloc(h->nb, sizeof(*h->buckets));
    if (!h->e || !h->buckets) {
        mc_hostagg_free(h);
        return -1;
    }
    return 0;
}

/* Doubles the bucket array and rechains every entry: amortised O(1) per add. */
static void grow(struct mc_hostagg *h)
{
    uint32_t nb = h->nb * 2;
    uint32_t *b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (uint32_t i1 = h->oldest; i1; i1 = h->e[i1 - 1].newer) {
        struct mc_hostagg_entry *e = &h->e[i1 - 1];
        uint32_t *head = &b[hash_addr(e->ver, &e->addr) & (nb - 1)];
        e->hnext = *head;
        *head = i1;
    }
    free(h->buckets);
    h->buckets = b;
    h->nb = nb;
}

void mc_hostagg_free(struct mc_hostagg *h)
{
    free(h->e);
    free(h->buckets);
    memset(h, 0, sizeof(*h));
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

static void chain_unlink(struct mc_hostagg *h, uint32_t i1)
{
    struct mc_hostagg_entry *e = &h->e[i1 - 1];
    uint32_t *pp = &h->buckets[hash_addr(e->ver, &e->addr) & (h->nb - 1)];
    while (*pp && *pp != i1)
        pp = &h->e[*pp - 1].hnext;
    if (*pp == i1)
        *pp = e->hnext;
}

int mc_hostagg_pop_oldest(struct mc_hostagg *h, struct mc_hostagg_entry *out)
{
    uint32_t i1 = h->oldest;
    if (!i1)
        return 0;
    chain_unlink(h, i1);
    age_unlink(h, i1);
    *out = h->e[i1 - 1];
    h->e[i1 - 1].hnext = h->free_head;
    h->free_head = i1;
    h->n--;
    return 1;
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

struct mc_hostagg_entry *mc_hostagg_add(struct mc_hostagg *h, uint8_t ver, const struct mc_addr *addr,
                                        const struct mc_hostagg_val *v)
{
    uint32_t *head = &h->buckets[hash_addr(ver, addr) & (h->nb - 1)];
    for (uint32_t i1 = *head; i1; i1 = h->e[i1 - 1].hnext) {
        struct mc_hostagg_entry *e = &h->e[i1 - 1];
        if (e->ver == ver && same_addr(&e->addr, addr)) {
            add_val(&e->v, v);
            return e;
        }
    }
    if (h->n >= h->nb && h->nb < (1u << 30)) {
        grow(h);
        head = &h->buckets[hash_addr(ver, addr) & (h->nb - 1)];
    }
    if (h->n == h->cap) {
        /* full: the oldest delta goes, and says so */
        struct mc_hostagg_entry old;
        mc_hostagg_pop_oldest(h, &old);
        h->dropped_keys++;
        h->dropped_pkts += old.v.sent_pkt + old.v.rcvd_pkt;
        h->dropped_bytes += old.v.sent_bytes + old.v.rcvd_bytes;
        head = &h->buckets[hash_addr(ver, addr) & (h->nb - 1)];
    }
    uint32_t i1;
    if (h->free_head) {
        i1 = h->free_head;
        h->free_head = h->e[i1 - 1].hnext;
    } else {
        i1 = h->n + 1; /* slots above n were never used (see pop: freed ones are on the freelist) */
    }
    struct mc_hostagg_entry *e = &h->e[i1 - 1];
    memset(e, 0, sizeof(*e));
    e->ver = ver;
    e->addr = *addr;
    e->v = *v;
    e->hnext = *head;
    *head = i1;
    e->older = h->newest;
    if (h->newest)
        h->e[h->newest - 1].newer = i1;
    else
        h->oldest = i1;
    h->newest = i1;
    h->n++;
    return e;
}

void mc_hostagg_unpop(struct mc_hostagg *h, const struct mc_hostagg_entry *in)
{
    uint32_t *head = &h->buckets[hash_addr(in->ver, &in->addr) & (h->nb - 1)];
    for (uint32_t i1 = *head; i1; i1 = h->e[i1 - 1].hnext) {
        struct mc_hostagg_entry *e = &h->e[i1 - 1];
        if (e->ver == in->ver && same_addr(&e->addr, &in->addr)) {
            add_val(&e->v, &in->v);
            return;
        }
    }
    if (h->n >= h->nb && h->nb < (1u << 30)) {
        grow(h);
        head = &h->buckets[hash_addr(in->ver, &in->addr) & (h->nb - 1)];
    }
    if (h->n == h->cap) {
        h->dropped_keys++;
        h->dropped_pkts += in->v.sent_pkt + in->v.rcvd_pkt;
        h->dropped_bytes += in->v.sent_bytes + in->v.rcvd_bytes;
        return;
    }
    uint32_t i1;
    if (h->free_head) {
        i1 = h->free_head;
        h->free_head = h->e[i1 - 1].hnext;
    } else {
        i1 = h->n + 1;
    }
    struct mc_hostagg_entry *e = &h->e[i1 - 1];
    *e = *in;
    e->hnext = *head;
    *head = i1;
    e->older = 0;
    e->newer = h->oldest;
    if (h->oldest)
        h->e[h->oldest - 1].older = i1;
    else
        h->newest = i1;
    h->oldest = i1;
    h->n++;
}

void mc_hostagg_merge(struct mc_hostagg *dst, struct mc_hostagg *src)
{
    struct mc_hostagg_entry e;
    while (mc_hostagg_pop_oldest(src, &e))
        mc_hostagg_add(dst, e.ver, &e.addr, &e.v);
    dst->dropped_keys += src->dropped_keys;
    dst->dropped_pkts += src->dropped_pkts;
    dst->dropped_bytes += src->dropped_bytes;
    src->dropped_keys = src->dropped_pkts = src->dropped_bytes = 0;
}

void mc_hostagg_clear(struct mc_hostagg *h)
{
    memset(h->buckets, 0, h->nb * sizeof(*h->buckets));
    h->n = 0;
    h->free_head = 0;
    h->oldest = h->newest = 0;
}
