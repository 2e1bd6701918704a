/*
 * reasm.c - bounded IPv4/IPv6 fragment reassembly (see reasm.h for the
 * contract, docs/internals/reassembly.md for the policy).
 *
 * References: RFC 791 section 3.2, RFC 815, RFC 8200 section 4.5, RFC 5722,
 * RFC 6946.
 *
 *   IPv4: | IPv4 header (Identification, MF, Fragment Offset) | data |
 *   IPv6: | IPv6 header | ext. headers | Fragment header | data |
 *         \____ unfragmentable part ___/  (8 octets: Next Header, Reserved,
 *                                          Offset(13)|Res(2)|M, Identification)
 *
 * RFC 791: "The fragment offset is measured in units of 8 octets (64 bits).
 * The first fragment has offset zero."  RFC 8200: "Fragment Offset: 13-bit
 * unsigned integer.  The offset, in 8-octet units, of the data following this
 * header, relative to the start of the Fragmentable Part of the original
 * packet."  "the length of each fragment, except possibly the last
 * ("rightmost") one, being an integer multiple of 8 octets long."
 *
 * A datagram in progress is keyed by (version, source, destination, IPv4
 * protocol, identification) plus where it was seen (interface, VLANs, MPLS
 * top label, PPPoE session, enclosing tunnel and its outer addresses), so
 * the same datagram seen on two links, or two tunnels' inner datagrams that
 * happen to share addresses and id, never mix.  Its data is one buffer in
 * datagram order with the received ranges kept sorted and merged (RFC 815's
 * holes are the gaps between them).  Overlaps: first wins; overlapping bytes
 * that differ give the datagram up (the RFC 5722 rule, applied to IPv4 too,
 * as Linux has done since 2018), so a reader never sees bytes an endpoint
 * may have assembled differently.
 */
#include "decode/reasm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "decode/internal.h"

#define MAX_RANGES 16      /* received ranges (holes + 1) kept per datagram */
#define MAX_HDR 256        /* unfragmentable part kept: IPv4 <= 60, IPv6 header + extension headers */
#define MAX_DATA 65535     /* data octets: the 16-bit length fields bound a datagram */
#define MAX_FRAMES 1024    /* frames per datagram (8-octet fragments of 64 KiB would be 8192) */
#define EXPIRE_PER_ADD 8   /* timeouts handled on the way in, besides mc_reasm_expire */

struct rkey {
    struct mc_addr src, dst;
    struct mc_addr osrc, odst; /* enclosing IP header when tunnelled, else zero */
    uint32_t id;
    uint32_t tunnel_id;
    uint32_t ifindex;
    uint32_t mpls_top;
    uint16_t vlan[2];
    uint16_t pppoe;
    uint8_t ver, proto, tunnel, outer_ver; /* proto is 0 for IPv6 (RFC 8200 keys on src, dst, id) */
    uint8_t pad[2];                         /* zero: keys are compared with memcmp */
};

struct range {
    uint32_t s, e; /* [s, e) in data octets */
};

struct dgram {
    struct rkey key;
    struct dgram *hnext;         /* hash chain */
    struct dgram *older, *newer; /* age list; the given-up list uses newer */
    uint32_t h;
    uint64_t first_ms;           /* packet clock when its first fragment came */
    uint32_t frames, octets;     /* accounting of the frames held */
    uint32_t end;                /* data length, once the last fragment was seen */
    uint8_t have_last, have_hdr, nranges, proto;
    uint16_t hdr_len, nh_off;
    struct range ranges[MAX_RANGES];
    uint8_t hdr[MAX_HDR];        /* the offset-0 fragment's unfragmentable part */
    uint8_t *data;               /* owned: cap octets, data in datagram order */
    uint32_t cap;
    int meter_first;             /* meter is the offset-0 fragment's copy */
    struct mc_pkt meter;         /* how the frames are metered if the datagram is given up */
};

struct mc_reasm {
    struct mc_reasm_config cfg;
    struct dgram **buckets;      /* owned */
    uint32_t mask;
    uint64_t seed;
    uint32_t n;                  /* datagrams in progress */
    size_t bytes;                /* held for them */
    struct dgram *oldest, *newest;
    struct dgram *given_head, *given_tail; /* given up, waiting for mc_reasm_drain */
    uint64_t now_ms;
    uint8_t *out;                /* owned: MAX_HDR + MAX_DATA, the last completed datagram */
};

#define RCTR(id) DCTR(reasm_##id)

void mc_reasm_config_defaults(struct mc_reasm_config *cfg)
{
    cfg->timeout_ms = 30000;
    cfg->max_datagrams = 4096;
    cfg->max_bytes = 8u * 1024 * 1024;
}

struct mc_reasm *mc_reasm_new(const struct mc_reasm_config *cfg)
{
    if (cfg->max_bytes < MC_REASM_MIN_BYTES || cfg->max_datagrams == 0)
        return NULL;
    struct mc_reasm *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->cfg = *cfg;
    uint32_t nb = 16;
    while (nb < cfg->max_datagrams && nb < (1u << 20))
        nb <<= 1;
    r->mask = nb - 1;
    r->buckets = calloc(nb, sizeof(*r->buckets));
    r->out = malloc(MAX_HDR + MAX_DATA);
    if (!r->buckets || !r->out) {
        mc_reasm_free(r);
        return NULL;
    }
    if (getrandom(&r->seed, sizeof(r->seed), GRND_NONBLOCK) != sizeof(r->seed))
        r->seed = 0x2545f4914f6cdd1dull;
    return r;
}

static void dgram_free(struct dgram *d)
{
    free(d->data);
    free(d);
}

void mc_reasm_free(struct mc_reasm *r)
{
    if (!r)
        return;
    for (struct dgram *d = r->oldest, *next; d; d = next) {
        next = d->newer;
        dgram_free(d);
    }
    for (struct dgram *d = r->given_head, *next; d; d = next) {
        next = d->newer;
        dgram_free(d);
    }
    free(r->buckets);
    free(r->out);
    free(r);
}

uint32_t mc_reasm_pending(const struct mc_reasm *r) { return r->n; }
size_t mc_reasm_bytes(const struct mc_reasm *r) { return r->bytes; }

/* ---- keys ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint32_t key_hash(const struct mc_reasm *r, const struct rkey *k)
{
    /* the key is plain bytes with zero padding: fold it 8 octets at a time */
    uint64_t h = r->seed;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i + 8 <= sizeof(*k); i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = mix64(h ^ v);
    }
    return (uint32_t)h;
}

static void key_make(struct rkey *k, const struct mc_pkt *pkt, const struct mc_reasm_frag *fr)
{
    memset(k, 0, sizeof(*k));
    k->src = pkt->src;
    k->dst = pkt->dst;
    k->id = fr->id;
    k->ver = fr->ver;
    k->proto = fr->ver == 4 ? fr->proto : 0;
    k->ifindex = pkt->ifindex;
    k->vlan[0] = pkt->n_vlan > 0 ? pkt->vlan[0] : 0;
    k->vlan[1] = pkt->n_vlan > 1 ? pkt->vlan[1] : 0;
    k->mpls_top = pkt->n_mpls ? pkt->mpls_top : 0;
    k->pppoe = pkt->pppoe_session;
    if (pkt->tunnel_depth) {
        k->tunnel = pkt->tunnel;
        k->tunnel_id = pkt->tunnel_id;
        k->outer_ver = pkt->outer_ver;
        k->osrc = pkt->outer_src;
        k->odst = pkt->outer_dst;
    }
}

static struct dgram *find(const struct mc_reasm *r, const struct rkey *k, uint32_t h)
{
    for (struct dgram *d = r->buckets[h & r->mask]; d; d = d->hnext)
        if (d->h == h && memcmp(&d->key, k, sizeof(*k)) == 0)
            return d;
    return NULL;
}

/* ---- giving up ------------------------------------------------------------ */

static void unlink_dgram(struct mc_reasm *r, struct dgram *d)
{
    struct dgram **pp = &r->buckets[d->h & r->mask];
    while (*pp && *pp != d)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = d->hnext;
    if (d->older)
        d->older->newer = d->newer;
    else
        r->oldest = d->newer;
    if (d->newer)
        d->newer->older = d->older;
    else
        r->newest = d->older;
    d->hnext = d->older = d->newer = NULL;
    r->n--;
    r->bytes -= sizeof(*d) + d->cap;
}

/*
 * Gives d up: its packet to meter is built now (the bytes held from offset 0
 * decoded on for the ports and any tunnel), its data freed, and it waits on
 * the given-up list for mc_reasm_drain.
 */
static void give_up(struct mc_reasm *r, struct dgram *d)
{
    unlink_dgram(r, d);
    struct mc_pkt *m = &d->meter;
    m->ts_ms = r->now_ms > m->ts_ms ? r->now_ms : m->ts_ms;
    m->ip_len = d->octets;
    m->frag_frames = d->frames;
    m->reasm = NULL; /* a fragment inside is decoded alone: its frames are this datagram's */
    m->held = 0;
    if (d->meter_first && d->nranges && d->ranges[0].s == 0) {
        struct mc_cur c = mc_cur_make(d->data, d->ranges[0].e);
        mc_decode_run(m, mc_decode_layer_for_ipproto(d->proto), &c);
    }
    /* what the decode found points into data: an analyzer never gets a partial datagram */
    m->l3 = m->payload = NULL;
    m->l3_len = m->payload_len = 0;
    free(d->data);
    d->data = NULL;
    d->cap = 0;
    RCTR(given_up);
    MC_CTR_ADD(decode, reasm_released_frames, d->frames);
    if (r->given_tail)
        r->given_tail->newer = d;
    else
        r->given_head = d;
    r->given_tail = d;
}

uint32_t mc_reasm_drain(struct mc_reasm *r, mc_reasm_release_fn fn, void *ctx)
{
    uint32_t n = 0;
    while (r->given_head) {
        struct dgram *d = r->given_head;
        r->given_head = d->newer;
        if (!r->given_head)
            r->given_tail = NULL;
        if (fn)
            fn(ctx, &d->meter);
        dgram_free(d);
        n++;
    }
    return n;
}

static uint32_t expire_upto(struct mc_reasm *r, uint32_t max)
{
    uint32_t n = 0;
    /* the age list is in first-fragment order on a clock that never goes back */
    while (r->oldest && n < max && r->oldest->first_ms + r->cfg.timeout_ms <= r->now_ms) {
        RCTR(timeouts);
        give_up(r, r->oldest);
        n++;
    }
    return n;
}

uint32_t mc_reasm_expire(struct mc_reasm *r, uint64_t now_ms)
{
    if (now_ms > r->now_ms)
        r->now_ms = now_ms;
    return expire_upto(r, UINT32_MAX);
}

uint32_t mc_reasm_flush(struct mc_reasm *r)
{
    uint32_t n = 0;
    while (r->oldest) {
        RCTR(flushed);
        give_up(r, r->oldest);
        n++;
    }
    return n;
}

/* Gives up the oldest datagram other than keep; returns 0 when there is none. */
static int evict_one(struct mc_reasm *r, const struct dgram *keep)
{
    struct dgram *v = r->oldest;
    if (v == keep)
        v = v->newer;
    if (!v)
        return 0;
    give_up(r, v);
    return 1;
}

/* Makes room for grow more bytes held, giving up the oldest others; 0 when impossible. */
static int room_for(struct mc_reasm *r, const struct dgram *keep, size_t grow)
{
    while (r->bytes + grow > r->cfg.max_bytes) {
        if (!evict_one(r, keep))
            return 0;
        RCTR(evicted_memory);
    }
    return 1;
}

/* ---- adding --------------------------------------------------------------- */

static struct dgram *create(struct mc_reasm *r, const struct rkey *k, uint32_t h, const struct mc_pkt *pkt)
{
    if (r->n >= r->cfg.max_datagrams) {
        evict_one(r, NULL);
        RCTR(evicted_datagrams);
    }
    if (!room_for(r, NULL, sizeof(struct dgram)))
        return NULL;
    struct dgram *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->key = *k;
    d->h = h;
    d->first_ms = r->now_ms;
    d->meter = *pkt;
    d->hnext = r->buckets[h & r->mask];
    r->buckets[h & r->mask] = d;
    d->older = r->newest;
    if (r->newest)
        r->newest->newer = d;
    else
        r->oldest = d;
    r->newest = d;
    r->n++;
    r->bytes += sizeof(*d);
    RCTR(datagrams);
    return d;
}

/* Counts pkt's frame in d: held now, metered with the datagram. */
static void hold(struct dgram *d, const struct mc_pkt *pkt)
{
    d->frames += pkt->frag_frames ? pkt->frag_frames : 1;
    d->octets += pkt->ip_len;
}

/* Grows d's buffer to hold at least need octets; 0 when the memory cap forbids it. */
static int reserve(struct mc_reasm *r, struct dgram *d, uint32_t need)
{
    if (need <= d->cap)
        return 1;
    /* doubling keeps in-order fragments from reallocating each time; a known end is exact */
    uint32_t cap = d->cap ? d->cap * 2 : 2048;
    if (cap < need)
        cap = need;
    if (d->have_last && cap > d->end)
        cap = d->end;
    if (cap > MAX_DATA)
        cap = MAX_DATA;
    if (!room_for(r, d, cap - d->cap))
        return 0;
    uint8_t *n = realloc(d->data, cap);
    if (!n)
        return 0;
    r->bytes += cap - d->cap;
    d->data = n;
    d->cap = cap;
    return 1;
}

/*
 * Merges [s, e) into d's ranges (sorted, disjoint, not touching) as out[0..*nout);
 * returns 0 when that would need more than MAX_RANGES.
 */
static int merge_range(struct dgram *d, uint32_t s, uint32_t e, struct range *out, uint8_t *nout)
{
    uint8_t n = 0;
    int placed = 0;
    for (uint8_t i = 0; i < d->nranges; i++) {
        struct range g = d->ranges[i];
        if (g.e < s) {
            out[n++] = g;
            continue;
        }
        if (g.s > e) {
            if (!placed) {
                if (n >= MAX_RANGES)
                    return 0;
                out[n++] = (struct range){ s, e };
                placed = 1;
            }
            if (n >= MAX_RANGES)
                return 0;
            out[n++] = g;
            continue;
        }
        /* touching or overlapping: widen the new range */
        if (g.s < s)
            s = g.s;
        if (g.e > e)
            e = g.e;
    }
    if (!placed) {
        if (n >= MAX_RANGES)
            return 0;
        out[n++] = (struct range){ s, e };
    }
    *nout = n;
    return 1;
}

static uint16_t ipv4_checksum(const uint8_t *h, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Writes the whole datagram to r->out; 0 when it would exceed the 16-bit length field. */
static int assemble(struct mc_reasm *r, const struct dgram *d, struct mc_reasm_out *out)
{
    uint8_t *o = r->out;
    memcpy(o, d->hdr, d->hdr_len);
    memcpy(o + d->hdr_len, d->data, d->end);
    if (d->key.ver == 4) {
        uint32_t total = d->hdr_len + d->end;
        if (total > 65535)
            return 0;
        o[2] = (uint8_t)(total >> 8);
        o[3] = (uint8_t)total;
        o[6] &= 0x40; /* keep DF, clear MF and the offset */
        o[7] = 0;
        o[10] = o[11] = 0;
        uint16_t sum = ipv4_checksum(o, d->hdr_len);
        o[10] = (uint8_t)(sum >> 8);
        o[11] = (uint8_t)sum;
    } else {
        uint32_t plen = d->hdr_len - 40u + d->end;
        if (plen > 65535)
            return 0;
        o[4] = (uint8_t)(plen >> 8);
        o[5] = (uint8_t)plen;
        o[d->nh_off] = d->proto; /* the fragment header is gone: its next header takes its place */
    }
    out->dgram = o;
    out->len = d->hdr_len + d->end;
    out->hdr_len = d->hdr_len;
    out->proto = d->proto;
    out->frames = d->frames;
    out->octets = d->octets;
    return 1;
}

/* Gives d up with pkt's frame in it, counted under the reason already counted. */
static int refuse_into(struct mc_reasm *r, struct dgram *d, const struct mc_pkt *pkt)
{
    hold(d, pkt);
    give_up(r, d);
    return MC_REASM_HELD;
}

int mc_reasm_add(struct mc_reasm *r, const struct mc_pkt *pkt, const struct mc_reasm_frag *fr,
                 struct mc_reasm_out *out)
{
    RCTR(fragments);
    if (pkt->ts_ms > r->now_ms)
        r->now_ms = pkt->ts_ms;
    expire_upto(r, EXPIRE_PER_ADD);

    struct rkey k;
    key_make(&k, pkt, fr);
    uint32_t h = key_hash(r, &k);
    struct dgram *d = find(r, &k, h);

    /* fragments no datagram can be made of: refused, and the datagram they belong to with them */
    size_t min_hdr = fr->ver == 4 ? 20 : 40;
    int bad = 1;
    if (!fr->captured)
        RCTR(truncated);
    else if (fr->len == 0 || (fr->more && fr->len % 8 != 0))
        RCTR(bad_length);
    else if ((uint64_t)fr->offset + fr->len > MAX_DATA)
        RCTR(too_big);
    else if (fr->offset == 0 && (fr->hdr_len < min_hdr || fr->hdr_len > MAX_HDR ||
                                 (fr->ver == 6 && (fr->nh_off >= fr->hdr_len || fr->nh_off < 6))))
        RCTR(bad_header);
    else
        bad = 0;
    if (bad)
        return d ? refuse_into(r, d, pkt) : MC_REASM_PASS;

    if (!d) {
        d = create(r, &k, h, pkt);
        if (!d) {
            RCTR(no_memory);
            return MC_REASM_PASS;
        }
    }
    uint32_t s = fr->offset, e = fr->offset + (uint32_t)fr->len;
    uint32_t frames = pkt->frag_frames ? pkt->frag_frames : 1;
    if (d->frames + frames > MAX_FRAMES) {
        RCTR(too_many_frames);
        return refuse_into(r, d, pkt);
    }
    /* one end: every last fragment agrees on it, and no fragment goes past it */
    uint32_t held_end = d->nranges ? d->ranges[d->nranges - 1].e : 0;
    if ((!fr->more && ((d->have_last && d->end != e) || held_end > e)) || (fr->more && d->have_last && e > d->end)) {
        RCTR(last_conflict);
        return refuse_into(r, d, pkt);
    }
    /* overlaps: first wins, so bytes held are never replaced; they must agree */
    uint32_t covered = 0;
    for (uint8_t i = 0; i < d->nranges; i++) {
        uint32_t os = d->ranges[i].s > s ? d->ranges[i].s : s;
        uint32_t oe = d->ranges[i].e < e ? d->ranges[i].e : e;
        if (os >= oe)
            continue;
        if (memcmp(d->data + os, fr->data + (os - s), oe - os) != 0) {
            RCTR(overlap_conflicts);
            return refuse_into(r, d, pkt);
        }
        covered += oe - os;
    }
    if (covered == e - s)
        RCTR(duplicates);
    else if (covered)
        RCTR(overlaps);
    struct range merged[MAX_RANGES];
    uint8_t nmerged = 0;
    if (!merge_range(d, s, e, merged, &nmerged)) {
        RCTR(too_many_holes);
        return refuse_into(r, d, pkt);
    }
    if (covered != e - s && !reserve(r, d, e)) {
        RCTR(evicted_memory);
        return refuse_into(r, d, pkt);
    }
    /* overlapping octets are equal, so copying the whole fragment keeps the first's */
    if (covered != e - s)
        memcpy(d->data + s, fr->data, e - s);
    memcpy(d->ranges, merged, sizeof(merged[0]) * nmerged);
    d->nranges = nmerged;
    hold(d, pkt);
    if (!fr->more) {
        d->have_last = 1;
        d->end = e;
    }
    if (s == 0 && !d->have_hdr) {
        d->have_hdr = 1;
        d->hdr_len = (uint16_t)fr->hdr_len;
        d->nh_off = (uint16_t)fr->nh_off;
        d->proto = fr->proto;
        memcpy(d->hdr, fr->hdr, fr->hdr_len);
        d->meter = *pkt;
        d->meter_first = 1;
    }
    if (!(d->have_last && d->have_hdr && d->nranges == 1 && d->ranges[0].s == 0 && d->ranges[0].e == d->end))
        return MC_REASM_HELD;
    if (!assemble(r, d, out)) {
        RCTR(too_big);
        give_up(r, d);
        return MC_REASM_HELD;
    }
    unlink_dgram(r, d);
    dgram_free(d);
    RCTR(completed);
    return MC_REASM_DONE;
}
