/*
 * table.c - the flow table: a preallocated array of flow records, a chained
 * hash on 32-bit slot indices, a freelist, and two expiry lists.
 *
 * Expiry without scans: flows sit on one of two doubly linked lists ordered
 * by last packet time, "open" (idle timeout) and "ended" (TCP FIN both ways
 * or RST: short grace timeout).  Every flow of a list has the same timeout,
 * so each head is that list's earliest deadline and expiry work is O(1) per
 * flow expired.  The lifetime (active) timeout is checked when a packet
 * arrives: a flow past it is exported and a new one continues it, so a busy
 * flow is cut at most one inter-packet gap late and an idle one is caught by
 * the idle list.  When the table is full the least recently used flow (head
 * of the open list, else of the ended list) is exported early and counted.
 *
 * Slot 0 is a sentinel, so index 0 means "none" in every link.
 */
#include "flow/flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

MC_CTR_DEFINE(flow, MC_FLOW_CTRS)

enum { MC_FLOW_ST_FREE = 0, MC_FLOW_ST_OPEN = 1, MC_FLOW_ST_ENDED = 2 };
enum { LIST_OPEN = 0, LIST_ENDED = 1 };

/* TCP flag bits */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Fragment cache: maps an IP fragment series to the flow of its first fragment. */
#define FRAG_SLOTS 4096
#define FRAG_TTL_MS 30000

struct frag_entry {
    uint64_t ts_ms;           /* 0 = empty */
    uint32_t id;
    uint8_t ver, proto;
    struct mc_addr src, dst;
    struct mc_flow_key key;   /* flow of the first fragment, oriented as stored */
};

struct list {
    uint32_t head, tail;
};

struct mc_flow_table {
    struct mc_flow_config cfg;
    struct mc_flow *slots;    /* owned: max_flows + 1 records, [0] is the sentinel */
    uint32_t *buckets;        /* owned: hash heads */
    uint32_t mask;            /* buckets - 1 */
    uint32_t free_head;       /* freelist through hnext */
    uint32_t n_active;
    struct list lists[2];
    struct frag_entry *frags; /* owned: FRAG_SLOTS entries */
    uint64_t seed;
    uint64_t now_ms;          /* latest packet time seen */
    mc_flow_export_fn export_cb;
    void *export_ctx;
    mc_flow_packet_fn packet_cb;
    void *packet_ctx;
};

void mc_flow_config_defaults(struct mc_flow_config *cfg)
{
    cfg->max_flows = 1u << 20;  /* 1,048,576 flows: about 128 MiB when full */
    cfg->idle_timeout_ms = 30000;
    cfg->active_timeout_ms = 120000;
    cfg->tcp_end_timeout_ms = 2000;
    cfg->max_expire_per_tick = 4096;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n && p < (1u << 31))
        p <<= 1;
    return p;
}

size_t mc_flow_table_bytes(uint32_t max_flows)
{
    return sizeof(struct mc_flow_table) + (size_t)(max_flows + 1) * sizeof(struct mc_flow) +
           (size_t)pow2_at_least(max_flows) * sizeof(uint32_t) + FRAG_SLOTS * sizeof(struct frag_entry);
}

struct mc_flow_table *mc_flow_table_new(const struct mc_flow_config *cfg, mc_flow_export_fn export_cb,
                                        void *ctx)
{
    if (cfg->max_flows == 0 || cfg->max_flows >= (1u << 31))
        return NULL;
    struct mc_flow_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = *cfg;
    if (t->cfg.max_expire_per_tick == 0)
        t->cfg.max_expire_per_tick = 4096;
    uint32_t nb = pow2_at_least(cfg->max_flows);
    /* calloc: untouched records cost no RSS until the table actually fills */
    t->slots = calloc((size_t)cfg->max_flows + 1, sizeof(struct mc_flow));
    t->buckets = calloc(nb, sizeof(uint32_t));
    t->frags = calloc(FRAG_SLOTS, sizeof(struct frag_entry));
    if (!t->slots || !t->buckets || !t->frags) {
        mc_flow_table_free(t);
        return NULL;
    }
    t->mask = nb - 1;
    /* No prebuilt freelist: never-used slots are handed out in order (see
     * slot_alloc), so the pages of slots never used are never touched. */
    t->free_head = 0;
    t->export_cb = export_cb;
    t->export_ctx = ctx;
    if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
        t->seed = 0x9e3779b97f4a7c15ull;
    return t;
}

void mc_flow_table_free(struct mc_flow_table *t)
{
    if (!t)
        return;
    if (t->slots) {
        for (uint32_t i = 1; i <= t->cfg.max_flows; i++)
            free(t->slots[i].ext);
    }
    free(t->slots);
    free(t->buckets);
    free(t->frags);
    free(t);
}

void mc_flow_set_packet_hook(struct mc_flow_table *t, mc_flow_packet_fn fn, void *ctx)
{
    t->packet_cb = fn;
    t->packet_ctx = ctx;
}

uint32_t mc_flow_active(const struct mc_flow_table *t) { return t->n_active; }

struct mc_flow_ext *mc_flow_ext_get(struct mc_flow *f)
{
    if (!f->ext) {
        f->ext = calloc(1, sizeof(*f->ext));
        if (!f->ext) {
            MC_CTR_INC(flow, ext_alloc_failed);
            return NULL;
        }
        f->ext->l7_id = -1;
    }
    return f->ext;
}

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Symmetric: both orientations of a key hash alike, so one lookup finds either. */
static uint32_t key_hash(const struct mc_flow_table *t, const struct mc_flow_key *k)
{
    uint64_t a = mix64(load64(k->addr[0].b) ^ (load64(k->addr[0].b + 8) * 31) ^ ((uint64_t)k->port[0] << 48));
    uint64_t b = mix64(load64(k->addr[1].b) ^ (load64(k->addr[1].b + 8) * 31) ^ ((uint64_t)k->port[1] << 48));
    uint64_t rest = (uint64_t)k->tunnel_id << 32 | (uint64_t)k->vlan[0] << 20 | (uint64_t)k->vlan[1] << 8 |
                    k->proto;
    rest ^= (uint64_t)k->ip_ver << 60 | (uint64_t)k->tunnel << 56;
    return (uint32_t)mix64((a + b) ^ (a * b) ^ rest ^ t->seed);
}

static void key_reverse(struct mc_flow_key *r, const struct mc_flow_key *k)
{
    *r = *k;
    r->addr[0] = k->addr[1];
    r->addr[1] = k->addr[0];
    r->port[0] = k->port[1];
    r->port[1] = k->port[0];
}

static void key_from_pkt(struct mc_flow_key *k, const struct mc_pkt *p)
{
    memset(k, 0, sizeof(*k));
    k->addr[0] = p->src;
    k->addr[1] = p->dst;
    k->port[0] = p->sport;
    k->port[1] = p->dport;
    k->tunnel_id = p->tunnel_id;
    k->vlan[0] = p->n_vlan > 0 ? p->vlan[0] : 0;
    k->vlan[1] = p->n_vlan > 1 ? p->vlan[1] : 0;
    k->proto = p->proto;
    k->ip_ver = p->ip_ver;
    k->tunnel = p->tunnel;
}

/* Finds the flow of k in either orientation; *dir receives the packet direction. */
static uint32_t lookup(const struct mc_flow_table *t, const struct mc_flow_key *k, const struct mc_flow_key *rk,
                       uint32_t h, int *dir)
{
    for (uint32_t i = t->buckets[h & t->mask]; i; i = t->slots[i].hnext) {
        const struct mc_flow_key *fk = &t->slots[i].key;
        if (memcmp(fk, k, sizeof(*k)) == 0) {
            *dir = MC_FLOW_FWD;
            return i;
        }
        if (memcmp(fk, rk, sizeof(*rk)) == 0) {
            *dir = MC_FLOW_REV;
            return i;
        }
    }
    return 0;
}

/* ---- lists -------------------------------------------------------------- */

static void list_unlink(struct mc_flow_table *t, int l, uint32_t i)
{
    struct mc_flow *f = &t->slots[i];
    if (f->lru_prev)
        t->slots[f->lru_prev].lru_next = f->lru_next;
    else
        t->lists[l].head = f->lru_next;
    if (f->lru_next)
        t->slots[f->lru_next].lru_prev = f->lru_prev;
    else
        t->lists[l].tail = f->lru_prev;
    f->lru_prev = f->lru_next = 0;
}

static void list_append(struct mc_flow_table *t, int l, uint32_t i)
{
    struct mc_flow *f = &t->slots[i];
    f->lru_next = 0;
    f->lru_prev = t->lists[l].tail;
    if (t->lists[l].tail)
        t->slots[t->lists[l].tail].lru_next = i;
    else
        t->lists[l].head = i;
    t->lists[l].tail = i;
}

static int list_of(const struct mc_flow *f) { return f->state == MC_FLOW_ST_ENDED ? LIST_ENDED : LIST_OPEN; }

/* ---- slot lifecycle ----------------------------------------------------- */

static void hash_unlink(struct mc_flow_table *t, uint32_t i)
{
    uint32_t h = key_hash(t, &t->slots[i].key) & t->mask;
    uint32_t *pp = &t->buckets[h];
    while (*pp && *pp != i)
        pp = &t->slots[*pp].hnext;
    if (*pp == i)
        *pp = t->slots[i].hnext;
}

/* Exports slot i with reason, then returns it to the freelist. */
static void flow_release(struct mc_flow_table *t, uint32_t i, enum mc_flow_end_reason reason)
{
    struct mc_flow *f = &t->slots[i];
    f->end_reason = (uint8_t)reason;
    hash_unlink(t, i);
    list_unlink(t, list_of(f), i);
    if (t->export_cb)
        t->export_cb(t->export_ctx, f);
    MC_CTR_INC(flow, exported);
    free(f->ext);
    memset(f, 0, sizeof(*f));
    f->hnext = t->free_head;
    t->free_head = i;
    t->n_active--;
}

static uint32_t slot_alloc(struct mc_flow_table *t)
{
    if (t->free_head) {
        uint32_t i = t->free_head;
        t->free_head = t->slots[i].hnext;
        return i;
    }
    if (t->n_active < t->cfg.max_flows) {
        /* Never-used slots are handed out in order; with no free slot and the
         * table not full, every slot below n_active+1 is in use. */
        return t->n_active + 1;
    }
    /* Full: export the least recently used flow early. */
    uint32_t victim = t->lists[LIST_ENDED].head ? t->lists[LIST_ENDED].head : t->lists[LIST_OPEN].head;
    MC_CTR_INC(flow, evicted_table_full);
    flow_release(t, victim, MC_END_RESOURCES);
    uint32_t i = t->free_head;
    t->free_head = t->slots[i].hnext;
    return i;
}

static uint32_t flow_create(struct mc_flow_table *t, const struct mc_flow_key *k, uint32_t h, uint64_t now)
{
    uint32_t i = slot_alloc(t);
    struct mc_flow *f = &t->slots[i];
    memset(f, 0, sizeof(*f));
    f->key = *k;
    f->first_ms = now;
    f->state = MC_FLOW_ST_OPEN;
    /* the eviction above may have changed the chain; h is still this key's bucket */
    f->hnext = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = i;
    list_append(t, LIST_OPEN, i);
    t->n_active++;
    MC_CTR_INC(flow, created);
    return i;
}

/* Records the outer header of a tunnelled flow once. */
static void note_tunnel(struct mc_flow *f, const struct mc_pkt *p)
{
    if (!p->outer_ver && !p->n_mpls)
        return;
    struct mc_flow_ext *x = mc_flow_ext_get(f);
    if (!x || x->outer_ver || x->mpls_top)
        return;
    x->outer_ver = p->outer_ver;
    x->outer_src = p->outer_src;
    x->outer_dst = p->outer_dst;
    x->mpls_top = p->n_mpls ? p->mpls_top : 0;
}

static void frag_remember(struct mc_flow_table *t, const struct mc_pkt *p, const struct mc_flow_key *k)
{
    uint32_t h = (uint32_t)mix64(p->frag_id ^ load64(p->frag_src.b) ^ (load64(p->frag_dst.b) << 1) ^ t->seed);
    struct frag_entry *e = &t->frags[h % FRAG_SLOTS];
    e->ts_ms = p->ts_ms ? p->ts_ms : 1;
    e->id = p->frag_id;
    e->ver = p->frag_ver;
    e->proto = p->frag_proto;
    e->src = p->frag_src;
    e->dst = p->frag_dst;
    e->key = *k;
}

static const struct frag_entry *frag_find(const struct mc_flow_table *t, const struct mc_pkt *p)
{
    uint32_t h = (uint32_t)mix64(p->frag_id ^ load64(p->frag_src.b) ^ (load64(p->frag_dst.b) << 1) ^ t->seed);
    const struct frag_entry *e = &t->frags[h % FRAG_SLOTS];
    if (e->ts_ms && e->id == p->frag_id && e->ver == p->frag_ver && e->proto == p->frag_proto &&
        memcmp(&e->src, &p->frag_src, sizeof(e->src)) == 0 && memcmp(&e->dst, &p->frag_dst, sizeof(e->dst)) == 0 &&
        t->now_ms <= e->ts_ms + FRAG_TTL_MS)
        return e;
    return NULL;
}

void mc_flow_process(struct mc_flow_table *t, const struct mc_pkt *p)
{
    uint64_t now = p->ts_ms;
    if (now < t->now_ms) {
        /* pcap files are not always in order; never let time run backwards */
        MC_CTR_INC(flow, time_went_back);
        now = t->now_ms;
    }
    t->now_ms = now;
    MC_CTR_INC(flow, packets);

    struct mc_flow_key k, rk;
    if (p->frag && !p->frag_first) {
        const struct frag_entry *e = frag_find(t, p);
        if (e) {
            k = e->key;
            MC_CTR_INC(flow, frag_matched);
        } else {
            key_from_pkt(&k, p);
            MC_CTR_INC(flow, frag_no_first);
        }
    } else {
        key_from_pkt(&k, p);
    }
    key_reverse(&rk, &k);
    uint32_t h = key_hash(t, &k);
    int dir = MC_FLOW_FWD;
    uint32_t i = lookup(t, &k, &rk, h, &dir);

    if (i) {
        struct mc_flow *f = &t->slots[i];
        if (f->state == MC_FLOW_ST_ENDED && (p->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN) {
            /* a new connection reusing the 5-tuple of one that ended */
            MC_CTR_INC(flow, ended_tcp);
            flow_release(t, i, MC_END_FIN);
            i = flow_create(t, &k, h, now);
            dir = MC_FLOW_FWD;
        } else if (now - f->first_ms >= t->cfg.active_timeout_ms) {
            /* lifetime reached: export, then continue in a new flow keeping the orientation */
            struct mc_flow_key kept = f->key;
            MC_CTR_INC(flow, expired_active);
            flow_release(t, i, MC_END_ACTIVE);
            i = flow_create(t, &kept, h, now);
        }
    } else {
        /* A SYN/ACK opening a flow means its peer is the client. */
        if (p->proto == 6 && (p->tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
            i = flow_create(t, &rk, h, now);
            dir = MC_FLOW_REV;
        } else {
            i = flow_create(t, &k, h, now);
            dir = MC_FLOW_FWD;
        }
    }

    struct mc_flow *f = &t->slots[i];
    uint32_t rel = (uint32_t)(now - f->first_ms);
    if (f->pkts[dir] == 0) {
        f->dir_first[dir] = rel;
        f->tos[dir] = p->tos;
        if ((p->proto == 1 || p->proto == 58) && f->pkts[0] + f->pkts[1] == 0) {
            f->icmp_type = p->icmp_type;
            f->icmp_code = p->icmp_code;
        }
    }
    f->dir_last[dir] = rel;
    f->pkts[dir]++;
    f->octets[dir] += p->ip_len;
    f->tcp_flags[dir] |= p->tcp_flags;
    if (p->tunnel_depth || p->n_mpls)
        note_tunnel(f, p);
    if (p->frag && p->frag_first)
        frag_remember(t, p, &f->key);

    /* move to the tail of its expiry list: the list stays ordered by last packet */
    int l = list_of(f);
    if (p->proto == 6 && f->state == MC_FLOW_ST_OPEN &&
        ((p->tcp_flags & TH_RST) || ((f->tcp_flags[0] & TH_FIN) && (f->tcp_flags[1] & TH_FIN)))) {
        list_unlink(t, l, i);
        f->state = MC_FLOW_ST_ENDED;
        list_append(t, LIST_ENDED, i);
    } else if (t->lists[l].tail != i) {
        list_unlink(t, l, i);
        list_append(t, l, i);
    }

    if (t->packet_cb)
        t->packet_cb(t->packet_ctx, f, p, dir);
}

uint32_t mc_flow_tick(struct mc_flow_table *t, uint64_t now_ms)
{
    if (now_ms > t->now_ms)
        t->now_ms = now_ms;
    uint32_t done = 0;
    static const struct {
        int list;
        enum mc_flow_end_reason reason;
    } order[2] = { { LIST_ENDED, MC_END_FIN }, { LIST_OPEN, MC_END_IDLE } };
    for (int o = 0; o < 2; o++) {
        int l = order[o].list;
        uint64_t timeout = l == LIST_ENDED ? t->cfg.tcp_end_timeout_ms : t->cfg.idle_timeout_ms;
        while (t->lists[l].head && done < t->cfg.max_expire_per_tick) {
            uint32_t i = t->lists[l].head;
            const struct mc_flow *f = &t->slots[i];
            uint64_t last = mc_flow_last_ms(f);
            if (last + timeout > t->now_ms)
                break;
            if (l == LIST_ENDED)
                MC_CTR_INC(flow, ended_tcp);
            else
                MC_CTR_INC(flow, expired_idle);
            flow_release(t, i, order[o].reason);
            done++;
        }
    }
    return done;
}

void mc_flow_flush_all(struct mc_flow_table *t, enum mc_flow_end_reason reason)
{
    for (int l = 0; l < 2; l++) {
        while (t->lists[l].head) {
            MC_CTR_INC(flow, flushed);
            flow_release(t, t->lists[l].head, l == LIST_ENDED ? MC_END_FIN : reason);
        }
    }
}
