/*
 * table.c - the flow table: a preallocated array of flow records, a chained
 * hash on 32-bit slot indices, a freelist, and two expiry lists.
 *
 * Expiry without scans: flows sit on one of two doubly linked lists, "open"
 * (idle timeout) and "ended" (TCP FIN both ways or RST: short grace
 * timeout), ordered by the time they were queued.  A packet does not move
 * its flow (that would touch three more cache lines per packet); instead,
 * when a head falls due, its real last-packet time decides: expire it, or
 * requeue it at the tail with the current time.  Every flow of a list has
 * the same timeout and queue times only grow, so a head that is not due
 * means no flow of that list is, and each flow is requeued at most once per
 * timeout period: expiry work is O(1) per flow.  The lifetime (active) timeout is checked when a packet
 * arrives: a flow past it is exported and a new one continues it, so a busy
 * flow is cut at most one inter-packet gap late and an idle one is caught by
 * the idle list.  When the table is full the least recently used flow (head
 * of the open list, else of the ended list) is exported early and counted.
 *
 * Slot 0 is a sentinel, so index 0 means "none" in every link.
 */
#include "flow/flow.h"

#include "common/bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

MC_CTR_DEFINE(flow, MC_FLOW_CTRS)

enum { MC_FLOW_ST_FREE = 0, MC_FLOW_ST_OPEN = 1, MC_FLOW_ST_ENDED = 2 };
#define MC_FLOW_ST_MASK 0x0f
#define MC_FLOW_ST_DIRTY 0x80 /* on the dirty list since the last drain */
enum { LIST_OPEN = 0, LIST_ENDED = 1 };

/* TCP flag bits */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Fragment cache: maps an IP fragment series to the flow of its first fragment,
 * for fragments the decoder did not reassemble (no reassembler, or refused). */
#define FRAG_SLOTS 4096
#define FRAG_TTL_MS 30000

struct frag_entry {
    uint64_t ts_ms;           /* 0 = empty */
    uint32_t id;
    uint8_t ver, proto;
    struct mc_addr src, dst;
    struct mc_flow_key key;   /* key of the first fragment, oriented as it went */
};

struct list {
    uint32_t head, tail;
};

struct pipe_entry {
    struct mc_pkt pkt;
    struct mc_flow_key k, rk;
    uint32_t h;
    int have_key;
    uint8_t *copy;            /* owned, with a packet hook: the IP datagram, kept past the capture callback */
    size_t copy_cap;
};

struct mc_flow_table {
    struct mc_flow_config cfg;
    struct pipe_entry pipe[MC_FLOW_PIPE]; /* ring: pipe_len packets from pipe_head */
    unsigned pipe_head, pipe_len;
    struct mc_flow *slots;    /* owned: max_flows + 1 records, [0] is the sentinel */
    uint32_t *buckets;        /* owned: hash heads */
    uint32_t mask;            /* buckets - 1 */
    uint32_t free_head;       /* freelist through hnext */
    uint32_t n_active;
    uint32_t high_water;      /* slots 1..high_water have been used */
    struct list lists[2];
    struct frag_entry *frags; /* owned: FRAG_SLOTS entries */
    uint64_t seed;
    uint64_t now_ms;          /* latest packet time seen */
    mc_flow_export_fn export_cb;
    void *export_ctx;
    uint32_t *dirty;          /* owned, NULL unless tracked: slots touched since the last drain */
    uint32_t n_dirty;
    int dirty_overflow;
    mc_flow_packet_fn packet_cb;
    void *packet_ctx;
    uint32_t ext_lines;       /* lines of an extension prefetch_ext fetches, set with the hook */
    mc_flow_prefetch_fn prefetch_cb;
    mc_flow_ext_release_fn ext_release;
    void *ext_release_ctx;
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
    t->mask = nb - 1; /* before anything can fail: mc_flow_table_free sizes the buckets with it */
    t->slots = mc_big_alloc(((size_t)cfg->max_flows + 1) * sizeof(struct mc_flow));
    t->buckets = mc_big_alloc((size_t)nb * sizeof(uint32_t));
    t->frags = calloc(FRAG_SLOTS, sizeof(struct frag_entry));
    if (!t->slots || !t->buckets || !t->frags) {
        mc_flow_table_free(t);
        return NULL;
    }
    /* No prebuilt freelist: never-used slots are handed out in order (see
     * slot_alloc), so the pages of slots never used are never touched. */
    t->free_head = 0;
    t->export_cb = export_cb;
    t->export_ctx = ctx;
    if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
        t->seed = 0x9e3779b97f4a7c15ull;
    return t;
}

static void ext_free(struct mc_flow_table *t, struct mc_flow *f);

void mc_flow_table_free(struct mc_flow_table *t)
{
    if (!t)
        return;
    if (t->slots) {
        /* slots above the high-water mark were never used (nor their pages touched) */
        for (uint32_t i = 1; i <= t->high_water; i++)
            ext_free(t, &t->slots[i]);
    }
    for (int i = 0; i < MC_FLOW_PIPE; i++)
        free(t->pipe[i].copy);
    mc_big_free(t->slots, ((size_t)t->cfg.max_flows + 1) * sizeof(struct mc_flow));
    mc_big_free(t->buckets, ((size_t)t->mask + 1) * sizeof(uint32_t));
    free(t->frags);
    mc_big_free(t->dirty, ((size_t)t->cfg.max_flows + 1) * sizeof(uint32_t));
    free(t);
}

void mc_flow_set_ext_release(struct mc_flow_table *t, mc_flow_ext_release_fn fn, void *ctx)
{
    t->ext_release = fn;
    t->ext_release_ctx = ctx;
}

/* Frees f's extension, letting its owner (L7 state) release what it holds first. */
static void ext_free(struct mc_flow_table *t, struct mc_flow *f)
{
    if (!f->ext)
        return;
    if (t->ext_release)
        t->ext_release(t->ext_release_ctx, f->ext);
    mc_flow_ext_put(f->ext);
    f->ext = NULL;
}

void mc_flow_set_packet_hook(struct mc_flow_table *t, mc_flow_packet_fn fn, void *ctx)
{
    t->packet_cb = fn;
    t->packet_ctx = ctx;
    /*
     * the extension and the head of the L7 state in its tail (pooled blocks
     * are line-aligned), reserved before the hook is set: the L7 stage's own
     * 160 bytes and the first 224 of the analyzer's state, where an HTTP
     * packet's updates fall; the last line runs on to byte 511, the end of
     * an RTP flow's hot fields.  A tail reserved later is fetched in part.
     */
    size_t tail = mc_flow_ext_tail();
    size_t n = offsetof(struct mc_flow_ext, tail) + (tail < 384 ? tail : 384);
    t->ext_lines = (uint32_t)((n + 63) / 64);
}

void mc_flow_set_export_prefetch(struct mc_flow_table *t, mc_flow_prefetch_fn fn) { t->prefetch_cb = fn; }

/* Both cache lines of a 128-byte flow record. */
static inline void prefetch_slot(const struct mc_flow_table *t, uint32_t i)
{
    __builtin_prefetch(&t->slots[i]);
    __builtin_prefetch((const char *)&t->slots[i] + 64);
}

/*
 * Walking an expiry list that exports each flow: the flow after next is
 * fetched and the next one announced to the export callback while this one
 * is exported, so neither the list walk nor the callback waits on memory
 * (flows on a list lie anywhere in the table).
 */
static inline void prefetch_ahead(struct mc_flow_table *t, uint32_t i)
{
    uint32_t n1 = t->slots[i].lru_next;
    if (!n1)
        return;
    uint32_t n2 = t->slots[n1].lru_next;
    if (n2)
        prefetch_slot(t, n2);
    if (t->prefetch_cb)
        t->prefetch_cb(t->export_ctx, &t->slots[n1], n1);
}

uint32_t mc_flow_active(const struct mc_flow_table *t) { return t->n_active; }

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
    /* GTP-U: each direction of a connection has its own TEID (the receiver's), so the flow is the inner
     * 5-tuple's; the TEIDs are kept per direction in the extension (note_tunnel) */
    k->tunnel_id = p->tunnel == MC_TUNNEL_GTPU ? 0 : p->tunnel_id;
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

/* Queues slot i at the tail of list l at the table's current time. */
static void list_append(struct mc_flow_table *t, int l, uint32_t i)
{
    struct mc_flow *f = &t->slots[i];
    f->queued = (uint32_t)(t->now_ms - f->first_ms);
    f->lru_next = 0;
    f->lru_prev = t->lists[l].tail;
    if (t->lists[l].tail)
        t->slots[t->lists[l].tail].lru_next = i;
    else
        t->lists[l].head = i;
    t->lists[l].tail = i;
}

static int list_of(const struct mc_flow *f)
{
    return (f->state & MC_FLOW_ST_MASK) == MC_FLOW_ST_ENDED ? LIST_ENDED : LIST_OPEN;
}

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
    ext_free(t, f);
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
        t->high_water = t->n_active + 1;
        return t->high_water;
    }
    /* Full: export the least recently active flow early.  Heads that saw
     * packets since they were queued get a second chance (bounded). */
    int l = t->lists[LIST_ENDED].head ? LIST_ENDED : LIST_OPEN;
    uint32_t victim = t->lists[l].head;
    for (int tries = 0; tries < 16; tries++) {
        const struct mc_flow *f = &t->slots[victim];
        if (mc_flow_last_ms(f) <= f->first_ms + f->queued)
            break;
        list_unlink(t, l, victim);
        list_append(t, l, victim);
        victim = t->lists[l].head;
    }
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

/* Records the outer header of a tunnelled flow once, and each direction's first tunnel id. */
static void note_tunnel(struct mc_flow *f, const struct mc_pkt *p, int dir)
{
    if (!p->outer_ver && !p->n_mpls)
        return;
    if (f->ext && (f->ext->tunnel_seen >> dir & 1))
        return; /* the common case: one bit test per packet */
    struct mc_flow_ext *x = mc_flow_ext_get(f);
    if (!x)
        return;
    x->tunnel_seen |= (uint8_t)(1u << dir);
    x->tunnel_ids[dir] = p->tunnel_id;
    if (x->outer_ver || x->mpls_top)
        return;
    x->outer_dir = (uint8_t)dir;
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

/* Meters p; k/rk/h are its key, reversed key and hash when known (have_key). */
static void process(struct mc_flow_table *t, const struct mc_pkt *p, struct mc_flow_key *kp,
                    const struct mc_flow_key *rkp, uint32_t hp, int have_key)
{
    uint64_t now = p->ts_ms;
    if (now < t->now_ms) {
        /* pcap files are not always in order; never let time run backwards */
        MC_CTR_INC(flow, time_went_back);
        now = t->now_ms;
    }
    t->now_ms = now;
    /* a reassembled datagram is metered once for all the frames that carried it */
    uint32_t frames = p->frag_frames ? p->frag_frames : 1;
    MC_CTR_ADD(flow, packets, frames);

    struct mc_flow_key k, rk;
    uint32_t h;
    if (have_key) {
        k = *kp;
        rk = *rkp;
        h = hp;
    } else if (p->frag && !p->frag_first) {
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
    if (!have_key) {
        key_reverse(&rk, &k);
        h = key_hash(t, &k);
    }
    int dir = MC_FLOW_FWD;
    uint32_t i = lookup(t, &k, &rk, h, &dir);

    if (i) {
        struct mc_flow *f = &t->slots[i];
        if ((f->state & MC_FLOW_ST_MASK) == MC_FLOW_ST_ENDED && (p->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN) {
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
    f->pkts[dir] += frames;
    f->octets[dir] += p->ip_len;
    f->tcp_flags[dir] |= p->tcp_flags;
    if (p->tunnel_depth || p->n_mpls)
        note_tunnel(f, p, dir);
    if (p->frag && p->frag_first)
        frag_remember(t, p, &k); /* as the packet went: a later fragment takes its direction */

    /* the flow stays where it is queued (see the top of the file) unless TCP ended it */
    if (p->proto == 6 && (f->state & MC_FLOW_ST_MASK) == MC_FLOW_ST_OPEN &&
        ((p->tcp_flags & TH_RST) || ((f->tcp_flags[0] & TH_FIN) && (f->tcp_flags[1] & TH_FIN)))) {
        list_unlink(t, LIST_OPEN, i);
        f->state = (uint8_t)((f->state & ~MC_FLOW_ST_MASK) | MC_FLOW_ST_ENDED);
        list_append(t, LIST_ENDED, i);
    }
    if (t->dirty && !(f->state & MC_FLOW_ST_DIRTY)) {
        f->state |= MC_FLOW_ST_DIRTY;
        if (t->n_dirty < t->cfg.max_flows)
            t->dirty[t->n_dirty++] = i;
        else
            t->dirty_overflow = 1; /* the next drain scans the used slots instead */
    }

    if (t->packet_cb)
        t->packet_cb(t->packet_ctx, f, p, dir);
}

void mc_flow_process(struct mc_flow_table *t, const struct mc_pkt *p)
{
    mc_flow_drain(t);
    process(t, p, NULL, NULL, 0, 0);
}

/*
 * The pipeline: a packet's bucket is prefetched when it is submitted, its
 * chain head's record MC_FLOW_PIPE/2 packets later, and it is metered
 * MC_FLOW_PIPE packets later, so the two likely cache misses of a lookup
 * overlap with the work on other packets instead of stalling on each.
 */
struct mc_pkt *mc_flow_next_pkt(struct mc_flow_table *t)
{
    return &t->pipe[(t->pipe_head + t->pipe_len) % MC_FLOW_PIPE].pkt;
}

static void pipe_meter_oldest(struct mc_flow_table *t)
{
    struct pipe_entry *e = &t->pipe[t->pipe_head];
    process(t, &e->pkt, &e->k, &e->rk, e->h, e->have_key);
    t->pipe_head = (t->pipe_head + 1) % MC_FLOW_PIPE;
    t->pipe_len--;
}

/*
 * With a packet hook the IP datagram must outlive the capture callback (it
 * is metered MC_FLOW_PIPE packets later): unless the caller says it does
 * (bytes_kept), it is copied into the entry and the pointers moved onto the
 * copy.  Headers-only packets too: nDPI reads l3 of a SYN or a bare ACK.  Returns 0, or -1 when the copy could not be
 * allocated or the payload lies outside l3 (the packet is then metered at once).
 */
static int keep_bytes(struct pipe_entry *e)
{
    struct mc_pkt *p = &e->pkt;
    if (p->bytes_kept)
        return 0; /* they outlive the pipeline (a mapped file): no copy */
    if (!p->l3 || !p->l3_len) {
        p->l3 = NULL;
        p->l3_len = 0;
        return p->payload_len ? -1 : 0;
    }
    if (p->payload_len && (p->payload < p->l3 || p->payload + p->payload_len > p->l3 + p->l3_len))
        return -1; /* a payload outside the datagram: cannot happen with our decoders, but never read stale bytes */
    if (e->copy_cap < p->l3_len) {
        size_t cap = p->l3_len < 2048 ? 2048 : p->l3_len;
        uint8_t *n = realloc(e->copy, cap);
        if (!n)
            return -1;
        e->copy = n;
        e->copy_cap = cap;
    }
    memcpy(e->copy, p->l3, p->l3_len);
    if (p->payload_len)
        p->payload = e->copy + (p->payload - p->l3);
    p->l3 = e->copy;
    return 0;
}

/*
 * With a packet hook, one more stage on the way to metering: EXT_AHEAD
 * packets before its turn, the extension of a packet's flow (the chain
 * head, whose record came in at the middle stage; most chains are one
 * long) is fetched with the L7 state in its tail.  A hint only: a wrong
 * guess costs wasted lines.
 */
#define EXT_AHEAD 5

static void prefetch_ext(const struct mc_flow_table *t)
{
    const struct pipe_entry *a = &t->pipe[(t->pipe_head + EXT_AHEAD) % MC_FLOW_PIPE];
    if (!a->have_key)
        return;
    const struct mc_flow *f = &t->slots[t->buckets[a->h & t->mask]];
    if (!f->ext)
        return;
    const char *x = (const char *)f->ext;
    for (uint32_t i = 0; i < t->ext_lines; i++)
        __builtin_prefetch(x + 64 * i);
}

void mc_flow_submit(struct mc_flow_table *t)
{
    struct pipe_entry *e = &t->pipe[(t->pipe_head + t->pipe_len) % MC_FLOW_PIPE];
    if (t->packet_cb && keep_bytes(e) != 0) {
        /* the bytes could not be kept: meter this one now, in order */
        mc_flow_drain(t);
        e = &t->pipe[t->pipe_head];
        process(t, &e->pkt, NULL, NULL, 0, 0);
        return;
    }
    /* a later fragment's key depends on earlier packets: found when metered */
    e->have_key = !(e->pkt.frag && !e->pkt.frag_first);
    if (e->have_key) {
        key_from_pkt(&e->k, &e->pkt);
        key_reverse(&e->rk, &e->k);
        e->h = key_hash(t, &e->k);
        __builtin_prefetch(&t->buckets[e->h & t->mask]);
    }
    t->pipe_len++;
    if (t->pipe_len > MC_FLOW_PIPE / 2) {
        const struct pipe_entry *mid = &t->pipe[(t->pipe_head + t->pipe_len - 1 - MC_FLOW_PIPE / 2) % MC_FLOW_PIPE];
        if (mid->have_key) {
            uint32_t i = t->buckets[mid->h & t->mask];
            if (t->packet_cb)
                prefetch_slot(t, i); /* the hook reads the extension pointer, on the second line */
            else
                __builtin_prefetch(&t->slots[i]);
        }
    }
    if (t->packet_cb && t->pipe_len == MC_FLOW_PIPE)
        prefetch_ext(t);
    if (t->pipe_len == MC_FLOW_PIPE)
        pipe_meter_oldest(t);
}

void mc_flow_drain(struct mc_flow_table *t)
{
    while (t->pipe_len)
        pipe_meter_oldest(t);
}

uint32_t mc_flow_tick(struct mc_flow_table *t, uint64_t now_ms)
{
    mc_flow_drain(t);
    if (now_ms > t->now_ms)
        t->now_ms = now_ms;
    uint32_t done = 0, expired = 0; /* done: heads looked at, bounded per call */
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
            if (f->first_ms + f->queued + timeout > t->now_ms)
                break; /* queue times only grow: nothing behind is due either */
            prefetch_ahead(t, i);
            done++;
            if (mc_flow_last_ms(f) + timeout > t->now_ms) {
                /* packets came since it was queued: second chance at the tail */
                list_unlink(t, l, i);
                list_append(t, l, i);
                continue;
            }
            if (l == LIST_ENDED)
                MC_CTR_INC(flow, ended_tcp);
            else
                MC_CTR_INC(flow, expired_idle);
            flow_release(t, i, order[o].reason);
            expired++;
        }
    }
    return expired;
}

void mc_flow_flush_all(struct mc_flow_table *t, enum mc_flow_end_reason reason)
{
    mc_flow_drain(t);
    /* Everything leaves: export in list order, then reset the table as a
     * whole instead of unlinking each flow from its hash chain (a cache miss
     * per flow for nothing). */
    for (int l = 0; l < 2; l++) {
        for (uint32_t i = t->lists[l].head; i; i = t->slots[i].lru_next) {
            struct mc_flow *f = &t->slots[i];
            prefetch_ahead(t, i);
            f->end_reason = (uint8_t)(l == LIST_ENDED ? MC_END_FIN : reason);
            if (t->export_cb)
                t->export_cb(t->export_ctx, f);
            ext_free(t, f);
            f->state = MC_FLOW_ST_FREE; /* keeps a later dirty drain off this slot */
            MC_CTR_INC(flow, flushed);
            MC_CTR_INC(flow, exported);
        }
        t->lists[l].head = t->lists[l].tail = 0;
    }
    memset(t->buckets, 0, ((size_t)t->mask + 1) * sizeof(uint32_t));
    t->free_head = 0;
    t->high_water = 0; /* slots are reinitialised by flow_create when reused */
    t->n_active = 0;
    t->n_dirty = 0;
    t->dirty_overflow = 0;
}

int mc_flow_track_dirty(struct mc_flow_table *t)
{
    if (!t->dirty)
        t->dirty = mc_big_alloc(((size_t)t->cfg.max_flows + 1) * sizeof(uint32_t));
    return t->dirty ? 0 : -1;
}

void mc_flow_dirty_drain(struct mc_flow_table *t, mc_flow_visit_fn fn, void *ctx)
{
    mc_flow_drain(t);
    if (t->dirty_overflow) {
        for (uint32_t i = 1; i <= t->high_water; i++) {
            struct mc_flow *f = &t->slots[i];
            if (f->state & MC_FLOW_ST_DIRTY) {
                f->state &= (uint8_t)~MC_FLOW_ST_DIRTY;
                fn(ctx, f, i);
            }
        }
    } else {
        for (uint32_t k = 0; k < t->n_dirty; k++) {
            /* the list points anywhere in the table: fetch ahead, as the export walks do */
            if (k + 8 < t->n_dirty)
                prefetch_slot(t, t->dirty[k + 8]);
            if (t->prefetch_cb && k + 4 < t->n_dirty && (t->slots[t->dirty[k + 4]].state & MC_FLOW_ST_DIRTY))
                t->prefetch_cb(t->export_ctx, &t->slots[t->dirty[k + 4]], t->dirty[k + 4]); /* not for a freed slot */
            /* a slot freed (state 0) or already visited since it was listed is skipped */
            struct mc_flow *f = &t->slots[t->dirty[k]];
            if (f->state & MC_FLOW_ST_DIRTY) {
                f->state &= (uint8_t)~MC_FLOW_ST_DIRTY;
                fn(ctx, f, t->dirty[k]);
            }
        }
    }
    t->n_dirty = 0;
    t->dirty_overflow = 0;
}

void mc_flow_visit_live(struct mc_flow_table *t, mc_flow_visit_fn fn, mc_flow_visit_fn ahead, void *ctx)
{
    mc_flow_drain(t);
    /* in slot order, a stream the CPU fetches ahead by itself: the expiry
     * lists would wait on memory for each flow, and the dirty list may hold
     * many slots freed since */
    for (uint32_t i = 1; i <= t->high_water; i++) {
        if (ahead && i + 8 <= t->high_water && (t->slots[i + 8].state & MC_FLOW_ST_MASK) != MC_FLOW_ST_FREE)
            ahead(ctx, &t->slots[i + 8], i + 8);
        if ((t->slots[i].state & MC_FLOW_ST_MASK) != MC_FLOW_ST_FREE)
            fn(ctx, &t->slots[i], i);
    }
}

uint32_t mc_flow_slot(const struct mc_flow_table *t, const struct mc_flow *f)
{
    return (uint32_t)(f - t->slots);
}

uint32_t mc_flow_capacity(const struct mc_flow_table *t) { return t->cfg.max_flows; }
