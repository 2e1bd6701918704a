/*
 * agg.c - the aggregation interface (agg.h) and its bounded merge table
 * (aggtab.h).
 *
 * An operation finds its cell through two hash tables: keys by their text,
 * cells by (key, kind, name).  Both are chained through index links in
 * arrays that grow by doubling up to the table's bound, and texts are kept
 * in one arena by offset, so growing never leaves a pointer dangling.  The
 * hash is seeded per table: keys come from the wire (DNS names, HTTP hosts),
 * and chains chosen in advance could otherwise be made arbitrarily long.
 */
#include "cloud/aggtab.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_BUCKETS 256u

/* Seeded 64-bit hash of s, folded to 32 bits: 8 bytes per step. */
static uint32_t hash_bytes(uint64_t seed, const char *s, size_t n)
{
    uint64_t x = seed ^ (0x9e3779b97f4a7c15ull * (n + 1)), w;
    while (n >= 8) {
        memcpy(&w, s, 8);
        x = (x ^ w) * 0xff51afd7ed558ccdull;
        x ^= x >> 32;
        s += 8, n -= 8;
    }
    if (n) {
        w = 0;
        memcpy(&w, s, n);
        x = (x ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint32_t)x;
}

static uint32_t cell_hash(uint32_t key_hash, uint32_t ki, int kind, uint32_t name_hash)
{
    uint64_t x = ((uint64_t)ki << 32 | name_hash) ^ ((uint64_t)kind << 29) ^ key_hash;
    x *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 32);
}

/* A new contents generation: unique in the process (both threads clear tables), never 0. */
static uint32_t new_gen(void)
{
    static _Atomic uint32_t last;
    uint32_t g;
    while ((g = atomic_fetch_add(&last, 1) + 1) == 0)
        ;
    return g;
}

int mc_agg_init(struct mc_agg *a, const char *prefix, uint32_t max_keys, size_t max_bytes)
{
    memset(a, 0, sizeof(*a));
    size_t pl = prefix ? strlen(prefix) : 0;
    if (pl >= sizeof(a->prefix))
        pl = sizeof(a->prefix) - 1;
    memcpy(a->prefix, prefix ? prefix : "", pl);
    a->plen = (uint16_t)pl;
    a->max_keys = max_keys ? max_keys : 1;
    a->max_bytes = max_bytes ? max_bytes : 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t s = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)(uintptr_t)a;
    s = (s ^ (s >> 31)) * 0xbf58476d1ce4e5b9ull;
    a->seed = s ^ (s >> 29);
    a->nkb = a->ncb = MIN_BUCKETS;
    a->gen = new_gen();
    a->kb = calloc(a->nkb, sizeof(*a->kb));
    a->cb = calloc(a->ncb, sizeof(*a->cb));
    if (!a->kb || !a->cb) {
        mc_agg_free(a);
        return -1;
    }
    return 0;
}

void mc_agg_free(struct mc_agg *a)
{
    free(a->k);
    free(a->c);
    free(a->ev);
    free(a->text);
    free(a->kb);
    free(a->cb);
    memset(a, 0, sizeof(*a));
}

void mc_agg_clear(struct mc_agg *a)
{
    if (a->nk || a->nc) {
        memset(a->kb, 0, (size_t)a->nkb * sizeof(*a->kb));
        memset(a->cb, 0, (size_t)a->ncb * sizeof(*a->cb));
    }
    a->nk = a->nc = a->ne = a->nt = 0;
    a->live_keys = a->live_events = 0;
    a->bytes = 0;
    a->recent = 0;
    a->gen = new_gen(); /* every ref bound before names nothing now */
}

void mc_agg_reset_if_empty(struct mc_agg *a)
{
    if (a->live_keys == 0 && a->live_events == 0 && (a->nk || a->ne))
        mc_agg_clear(a);
}

/* Makes room for one more element of size sz in *arr (cap *cap); 0 or -1. */
static int grow_array(void **arr, uint32_t *cap, uint32_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, (size_t)nc * sz);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* Copies n bytes (two parts: a then b) into the arena; the offset, or UINT32_MAX when it cannot grow. */
static uint32_t text_put(struct mc_agg *a, const char *s1, size_t n1, const char *s2, size_t n2)
{
    size_t n = n1 + n2;
    if ((size_t)a->nt + n > a->capt) {
        size_t cap = a->capt ? a->capt : 4096;
        while (cap < (size_t)a->nt + n)
            cap *= 2;
        if (cap > UINT32_MAX)
            return UINT32_MAX;
        char *p = realloc(a->text, cap);
        if (!p)
            return UINT32_MAX;
        a->text = p;
        a->capt = (uint32_t)cap;
    }
    uint32_t off = a->nt;
    if (n1)
        memcpy(a->text + off, s1, n1);
    if (n2)
        memcpy(a->text + off + n1, s2, n2);
    a->nt += (uint32_t)n;
    a->bytes += n;
    return off;
}

/* Doubles the buckets of a chain set and rechains its n entries (hnext/hash at the given offsets). */
static void rehash(uint32_t **buckets, uint32_t *nb, void *entries, size_t sz, uint32_t n, size_t hnext_off,
                   size_t hash_off)
{
    uint32_t nnb = *nb * 2;
    uint32_t *b = calloc(nnb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (uint32_t i = 0; i < n; i++) {
        char *e = (char *)entries + (size_t)i * sz;
        uint32_t h;
        memcpy(&h, e + hash_off, sizeof(h));
        memcpy(e + hnext_off, &b[h & (nnb - 1)], sizeof(uint32_t));
        b[h & (nnb - 1)] = i + 1;
    }
    free(*buckets);
    *buckets = b;
    *nb = nnb;
}

/* The key's index (found or made; -1 when refused).  key without prefix. */
static int64_t key_get(struct mc_agg *a, const char *key, size_t klen, uint32_t h)
{
    for (uint32_t i1 = a->kb[h & (a->nkb - 1)]; i1; i1 = a->k[i1 - 1].hnext) {
        const struct mc_agg_key *k = &a->k[i1 - 1];
        if (k->hash == h && k->len == a->plen + klen && memcmp(a->text + k->text + a->plen, key, klen) == 0) {
            if (!k->live) {
                /* taken by the writer: its cells went, a new one starts empty (the chain keeps it) */
                break;
            }
            return i1 - 1;
        }
    }
    size_t need = sizeof(struct mc_agg_key) + a->plen + klen;
    if (a->live_keys >= a->max_keys || a->bytes + need > a->max_bytes)
        return -1;
    if (grow_array((void **)&a->k, &a->capk, a->nk, sizeof(*a->k)) != 0)
        return -1;
    uint32_t off = text_put(a, a->prefix, a->plen, key, klen);
    if (off == UINT32_MAX)
        return -1;
    if (a->nk >= a->nkb)
        rehash(&a->kb, &a->nkb, a->k, sizeof(*a->k), a->nk, offsetof(struct mc_agg_key, hnext),
               offsetof(struct mc_agg_key, hash));
    uint32_t ki = a->nk++;
    struct mc_agg_key *k = &a->k[ki];
    memset(k, 0, sizeof(*k));
    k->hash = h;
    k->text = off;
    k->len = (uint16_t)(a->plen + klen);
    k->live = 1;
    /* at the chain's head: a dead key of the same text stays behind it, never found again */
    k->hnext = a->kb[h & (a->nkb - 1)];
    a->kb[h & (a->nkb - 1)] = ki + 1;
    a->live_keys++;
    a->bytes += sizeof(*k);
    return ki;
}

/*
 * The index of key (without prefix), found or made (-1 when refused).  The
 * key last looked up is tried first: one compare instead of a hash, a bucket
 * and a chain, which would miss the cache in a table of thousands of keys.
 */
static int64_t key_find(struct mc_agg *a, const char *key, size_t klen)
{
    if (a->recent) {
        const struct mc_agg_key *k = &a->k[a->recent - 1];
        if (k->live && k->len == a->plen + klen && memcmp(a->text + k->text + a->plen, key, klen) == 0)
            return a->recent - 1;
    }
    int64_t ki = key_get(a, key, klen, hash_bytes(a->seed, key, klen));
    a->recent = ki < 0 ? 0 : (uint32_t)ki + 1;
    return ki;
}

/* A key with at most this many cells is searched along its own chain (a few lines, just written), not hashed. */
#define WALK_CELLS 8

/* Key ki's cell (kind name), found or made; NULL when the bound refuses it. */
static struct mc_agg_cell *cell_of(struct mc_agg *a, uint32_t ki, int kind, const char *name, size_t nlen)
{
    struct mc_agg_key *k = &a->k[ki]; /* stays put: only cells and text grow below */
    int walk = k->n_cells <= WALK_CELLS;
    if (walk)
        for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
            struct mc_agg_cell *c = &a->c[c1 - 1];
            if (c->kind == kind && c->name_len == nlen && memcmp(a->text + c->name, name, nlen) == 0)
                return c;
        }
    uint32_t h = cell_hash(k->hash, ki, kind, hash_bytes(a->seed, name, nlen));
    if (!walk)
        for (uint32_t i1 = a->cb[h & (a->ncb - 1)]; i1; i1 = a->c[i1 - 1].hnext) {
            struct mc_agg_cell *c = &a->c[i1 - 1];
            if (c->hash == h && c->key == ki && c->kind == kind && c->name_len == nlen &&
                memcmp(a->text + c->name, name, nlen) == 0)
                return c;
        }
    size_t need = sizeof(struct mc_agg_cell) + nlen;
    if (a->bytes + need > a->max_bytes || grow_array((void **)&a->c, &a->capc, a->nc, sizeof(*a->c)) != 0)
        return NULL;
    uint32_t off = text_put(a, name, nlen, NULL, 0);
    if (off == UINT32_MAX)
        return NULL;
    if (a->nc >= a->ncb)
        rehash(&a->cb, &a->ncb, a->c, sizeof(*a->c), a->nc, offsetof(struct mc_agg_cell, hnext),
               offsetof(struct mc_agg_cell, hash));
    uint32_t ci = a->nc++;
    struct mc_agg_cell *c = &a->c[ci];
    memset(c, 0, sizeof(*c));
    c->hash = h;
    c->key = ki;
    c->kind = (uint8_t)kind;
    c->name = off;
    c->name_len = (uint16_t)nlen;
    if (kind == MC_AGG_MIN)
        c->n = -1; /* UINT64_MAX: any value is smaller */
    /* hashed even while the key's chain is searched instead: it may outgrow WALK_CELLS */
    c->hnext = a->cb[h & (a->ncb - 1)];
    a->cb[h & (a->ncb - 1)] = ci + 1;
    if (k->tail)
        a->c[k->tail - 1].next = ci + 1;
    else
        k->head = ci + 1;
    k->tail = ci + 1;
    k->n_cells++;
    if (kind == MC_AGG_SET && k->n_sets < UINT8_MAX)
        k->n_sets++;
    a->bytes += sizeof(*c);
    return c;
}

struct mc_agg_cell *mc_agg_cell_get(struct mc_agg *a, const char *key, size_t klen, int kind, const char *name,
                                    size_t nlen)
{
    int64_t ki = key_find(a, key, klen);
    return ki < 0 ? NULL : cell_of(a, (uint32_t)ki, kind, name, nlen);
}

/* A new event (live); its index, or -1 when refused. */
static int64_t event_new(struct mc_agg *a, const char *name, size_t nlen, const char *json, size_t jlen, int cond)
{
    size_t need = sizeof(struct mc_agg_event) + nlen + jlen;
    if (a->bytes + need > a->max_bytes || grow_array((void **)&a->ev, &a->cape, a->ne, sizeof(*a->ev)) != 0)
        return -1;
    uint32_t n_off = text_put(a, name, nlen, NULL, 0);
    uint32_t j_off = n_off == UINT32_MAX ? UINT32_MAX : text_put(a, json, jlen, NULL, 0);
    if (j_off == UINT32_MAX)
        return -1;
    struct mc_agg_event *e = &a->ev[a->ne];
    memset(e, 0, sizeof(*e));
    e->name = n_off;
    e->name_len = (uint16_t)nlen;
    e->json = j_off;
    e->json_len = (uint32_t)jlen;
    e->cond = (uint8_t)cond;
    e->parts = MC_AGG_PUB | MC_AGG_XADD;
    e->live = 1;
    a->live_events++;
    a->bytes += sizeof(*e);
    return a->ne++;
}

/* Sets a SET cell's value (the text of an older one stays in the arena until the table empties). */
static int set_value(struct mc_agg *a, struct mc_agg_cell *c, const char *v, size_t n)
{
    if (c->val && c->vlen == n && memcmp(a->text + c->val, v, n) == 0)
        return 0;
    if (a->bytes + n > a->max_bytes)
        return -1;
    uint32_t off = text_put(a, v, n, NULL, 0);
    if (off == UINT32_MAX)
        return -1;
    c->val = off;
    c->vlen = (uint32_t)n;
    return 0;
}

int mc_agg_cell_value(struct mc_agg *a, struct mc_agg_cell *c, const char *v, size_t n)
{
    if (c->kind == MC_AGG_SETNX && c->val)
        return 0;
    return set_value(a, c, v, n);
}

/* ---- the interface (agg.h) ---------------------------------------------- */

/* 1 when the arguments are within the documented lengths (else counted). */
static int args_ok(struct mc_agg *a, size_t klen, size_t nlen, size_t vlen)
{
    if (klen == 0 || klen > MC_AGG_MAX_KEY || nlen == 0 || nlen > MC_AGG_MAX_NAME || vlen > MC_AGG_MAX_VALUE) {
        a->refused_long++;
        return 0;
    }
    return 1;
}

static struct mc_agg_cell *op_cell(struct mc_agg *a, const char *key, size_t klen, int kind, const char *name,
                                   size_t nlen)
{
    if (!args_ok(a, klen, nlen, 0))
        return NULL;
    struct mc_agg_cell *c = mc_agg_cell_get(a, key, klen, kind, name, nlen);
    if (!c)
        a->dropped_ops++;
    return c;
}

int mc_agg_hincr(struct mc_agg *a, const char *key, size_t klen, const char *field, int64_t delta)
{
    struct mc_agg_cell *c = a && field ? op_cell(a, key, klen, MC_AGG_INCR, field, strlen(field)) : NULL;
    if (!c)
        return -1;
    c->n = (int64_t)((uint64_t)c->n + (uint64_t)delta); /* wraps like Redis would refuse to: never UB */
    return 0;
}

int mc_agg_hmax(struct mc_agg *a, const char *key, size_t klen, const char *field, uint64_t v)
{
    struct mc_agg_cell *c = a && field ? op_cell(a, key, klen, MC_AGG_MAX, field, strlen(field)) : NULL;
    if (!c)
        return -1;
    if (v > (uint64_t)c->n)
        c->n = (int64_t)v;
    return 0;
}

int mc_agg_refs_live(const struct mc_agg *a, const struct mc_agg_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* within a generation cells are only appended; a key the writer took is dead */
        if (!a || r[i].gen != a->gen || r[i].cell >= a->nc || !a->k[a->c[r[i].cell].key].live)
            return 0;
    }
    return 1;
}

uint32_t mc_agg_gen(const struct mc_agg *a) { return a ? a->gen : 0; }

static int bind(struct mc_agg *a, struct mc_agg_ref *r, const char *key, size_t klen, int kind, const char *field)
{
    struct mc_agg_cell *c = a && field ? op_cell(a, key, klen, kind, field, strlen(field)) : NULL;
    if (!c) {
        r->gen = 0;
        return -1;
    }
    r->gen = a->gen;
    r->cell = (uint32_t)(c - a->c);
    return 0;
}

int mc_agg_bind_hincr(struct mc_agg *a, struct mc_agg_ref *r, const char *key, size_t klen, const char *field)
{
    return bind(a, r, key, klen, MC_AGG_INCR, field);
}

int mc_agg_bind_hmax(struct mc_agg *a, struct mc_agg_ref *r, const char *key, size_t klen, const char *field)
{
    return bind(a, r, key, klen, MC_AGG_MAX, field);
}

void mc_agg_incr_at(struct mc_agg *a, const struct mc_agg_ref *r, int64_t delta)
{
    struct mc_agg_cell *c = &a->c[r->cell];
    c->n = (int64_t)((uint64_t)c->n + (uint64_t)delta);
}

void mc_agg_max_at(struct mc_agg *a, const struct mc_agg_ref *r, uint64_t v)
{
    struct mc_agg_cell *c = &a->c[r->cell];
    if (v > (uint64_t)c->n)
        c->n = (int64_t)v;
}

int mc_agg_hmin(struct mc_agg *a, const char *key, size_t klen, const char *field, uint64_t v)
{
    struct mc_agg_cell *c = a && field ? op_cell(a, key, klen, MC_AGG_MIN, field, strlen(field)) : NULL;
    if (!c)
        return -1;
    if (v < (uint64_t)c->n)
        c->n = (int64_t)v;
    return 0;
}

int mc_agg_hset(struct mc_agg *a, const char *key, size_t klen, const char *field, const char *val, size_t vlen)
{
    if (!a || !field || (!val && vlen) || !args_ok(a, klen, strlen(field), vlen))
        return -1;
    struct mc_agg_cell *c = op_cell(a, key, klen, MC_AGG_SET, field, strlen(field));
    if (!c)
        return -1;
    if (set_value(a, c, val ? val : "", vlen) != 0) {
        a->dropped_ops++;
        return -1;
    }
    return 0;
}

int mc_agg_zincr(struct mc_agg *a, const char *key, size_t klen, const char *member, size_t mlen, int64_t delta)
{
    struct mc_agg_cell *c = a && member ? op_cell(a, key, klen, MC_AGG_ZINCR, member, mlen) : NULL;
    if (!c)
        return -1;
    c->n = (int64_t)((uint64_t)c->n + (uint64_t)delta);
    return 0;
}

int mc_agg_zmax(struct mc_agg *a, const char *key, size_t klen, const char *member, size_t mlen, uint64_t score)
{
    struct mc_agg_cell *c = a && member ? op_cell(a, key, klen, MC_AGG_ZMAX, member, mlen) : NULL;
    if (!c)
        return -1;
    if (score > (uint64_t)c->n)
        c->n = (int64_t)score;
    return 0;
}

int mc_agg_ztrim(struct mc_agg *a, const char *key, size_t klen, uint64_t cutoff)
{
    /* one cell per key: its name is a constant the writer never sends */
    struct mc_agg_cell *c = a ? op_cell(a, key, klen, MC_AGG_ZTRIM, "<", 1) : NULL;
    if (!c)
        return -1;
    if (cutoff > (uint64_t)c->n)
        c->n = (int64_t)cutoff;
    return 0;
}

void mc_agg_hurry(struct mc_agg *a)
{
    if (a)
        a->hurry = 1;
}

int mc_agg_expire(struct mc_agg *a, const char *key, size_t klen, uint32_t ttl_ms)
{
    if (!a || !ttl_ms || !args_ok(a, klen, 1, 0))
        return -1;
    int64_t ki = key_find(a, key, klen);
    if (ki < 0) {
        a->dropped_ops++;
        return -1;
    }
    a->k[ki].ttl_ms = ttl_ms;
    return 0;
}

/* 1 when an event name is usable in a channel name: printable, no spaces. */
static int name_ok(const char *name, size_t n)
{
    if (n == 0 || n > MC_AGG_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 0x7f)
            return 0;
    return 1;
}

int mc_agg_publish(struct mc_agg *a, const char *name, const char *json, size_t n)
{
    if (!a || !name || !json)
        return -1;
    size_t nl = strlen(name);
    if (!name_ok(name, nl) || n == 0 || n > MC_AGG_MAX_VALUE) {
        a->refused_long++;
        return -1;
    }
    if (event_new(a, name, nl, json, n, 0) < 0) {
        a->dropped_events++;
        return -1;
    }
    return 0;
}

int mc_agg_publish_if_new(struct mc_agg *a, const char *key, size_t klen, const char *field, const char *name,
                          const char *json, size_t n)
{
    if (!a || !name || !json || !field)
        return -1;
    size_t nl = strlen(name);
    if (!name_ok(name, nl) || n == 0 || n > MC_AGG_MAX_VALUE) {
        a->refused_long++;
        return -1;
    }
    struct mc_agg_cell *c = op_cell(a, key, klen, MC_AGG_INCR, field, strlen(field));
    if (!c)
        return -1;
    if (c->event)
        return 0; /* the first payload of the flush is kept */
    int64_t e = event_new(a, name, nl, json, n, 1);
    if (e < 0) {
        a->dropped_events++;
        return -1;
    }
    a->c[c - a->c].event = (uint32_t)e + 1; /* c may not move: event_new grows the event array only */
    return 0;
}

/* ---- moving aggregates between tables ------------------------------------ */

/* Applies src cell s to dst cell d (same key, kind and name). */
static uint32_t apply_cell(struct mc_agg *dst, struct mc_agg_cell *d, const struct mc_agg *src,
                           const struct mc_agg_cell *s, int newer)
{
    uint32_t refused = 0;
    switch (s->kind) {
    case MC_AGG_INCR:
    case MC_AGG_ZINCR:
        d->n = (int64_t)((uint64_t)d->n + (uint64_t)s->n);
        break;
    case MC_AGG_MAX:
    case MC_AGG_ZMAX:
    case MC_AGG_ZTRIM:
        if ((uint64_t)s->n > (uint64_t)d->n)
            d->n = s->n;
        break;
    case MC_AGG_MIN:
        if ((uint64_t)s->n < (uint64_t)d->n)
            d->n = s->n;
        break;
    case MC_AGG_SET:
        if ((newer || !d->val) && set_value(dst, d, src->text + s->val, s->vlen) != 0)
            refused++;
        break;
    case MC_AGG_SETNX: /* the first value written wins */
        if ((!newer || !d->val) && set_value(dst, d, src->text + s->val, s->vlen) != 0)
            refused++;
        break;
    }
    if (s->event && !d->event && src->ev[s->event - 1].live) {
        const struct mc_agg_event *e = &src->ev[s->event - 1];
        uint32_t di = (uint32_t)(d - dst->c);
        int64_t ne = event_new(dst, src->text + e->name, e->name_len, src->text + e->json, e->json_len, 1);
        if (ne < 0)
            refused++;
        else
            dst->c[di].event = (uint32_t)ne + 1;
    }
    return refused;
}

static void take_ttl(struct mc_agg *dst, uint32_t dki, const struct mc_agg_key *sk, int newer)
{
    if (sk->ttl_ms && (newer || !dst->k[dki].ttl_ms))
        dst->k[dki].ttl_ms = sk->ttl_ms;
}

/* Adds src cell s to dst's key dki; 0 or 1 when refused. */
static uint32_t add_cell_to(struct mc_agg *dst, uint32_t dki, const struct mc_agg *src, const struct mc_agg_cell *s,
                            int newer)
{
    struct mc_agg_cell *d = cell_of(dst, dki, s->kind, src->text + s->name, s->name_len);
    if (!d)
        return 1;
    uint32_t refused = apply_cell(dst, d, src, s, newer);
    take_ttl(dst, dki, &src->k[s->key], newer);
    return refused;
}

uint32_t mc_agg_add_cell(struct mc_agg *dst, const struct mc_agg *src, uint32_t ci, int newer)
{
    const struct mc_agg_key *sk = &src->k[src->c[ci].key];
    int64_t dk = key_find(dst, src->text + sk->text + src->plen, sk->len - src->plen);
    return dk < 0 ? 1 : add_cell_to(dst, (uint32_t)dk, src, &src->c[ci], newer);
}

uint32_t mc_agg_add_key(struct mc_agg *dst, const struct mc_agg *src, uint32_t ki, int newer)
{
    const struct mc_agg_key *sk = &src->k[ki];
    int64_t dk = key_find(dst, src->text + sk->text + src->plen, (size_t)sk->len - src->plen);
    if (dk < 0)
        return sk->n_cells + (sk->ttl_ms != 0); /* every op of it refused, as one by one */
    uint32_t refused = 0;
    for (uint32_t c1 = sk->head; c1; c1 = src->c[c1 - 1].next)
        refused += add_cell_to(dst, (uint32_t)dk, src, &src->c[c1 - 1], newer);
    take_ttl(dst, (uint32_t)dk, sk, newer);
    return refused;
}

uint32_t mc_agg_add_event(struct mc_agg *dst, const struct mc_agg *src, uint32_t ei, int parts)
{
    const struct mc_agg_event *e = &src->ev[ei];
    int64_t ne = event_new(dst, src->text + e->name, e->name_len, src->text + e->json, e->json_len, 0);
    if (ne < 0)
        return 1;
    dst->ev[ne].parts = (uint8_t)parts;
    return 0;
}

void mc_agg_event_done(struct mc_agg *a, uint32_t ei)
{
    if (a->ev[ei].live) {
        a->ev[ei].live = 0;
        a->live_events--;
    }
}

uint32_t mc_agg_merge(struct mc_agg *dst, struct mc_agg *src, int newer)
{
    uint32_t refused = 0;
    for (uint32_t i = 0; i < src->nk; i++)
        if (src->k[i].live)
            refused += mc_agg_add_key(dst, src, i, newer);
    for (uint32_t i = 0; i < src->ne; i++)
        if (src->ev[i].live && !src->ev[i].cond)
            refused += mc_agg_add_event(dst, src, i, src->ev[i].parts);
    mc_agg_clear(src);
    return refused;
}

uint32_t mc_agg_move(struct mc_agg *dst, struct mc_agg *src)
{
    if (dst->live_keys || dst->live_events || dst->plen != src->plen || dst->max_keys != src->max_keys ||
        dst->max_bytes != src->max_bytes)
        return mc_agg_merge(dst, src, 1);
    mc_agg_clear(dst);
    struct mc_agg t = *dst;
    *dst = *src;
    *src = t;
    /* refusals stay with the table whose owner counted them */
    uint64_t d[3] = { dst->dropped_ops, dst->dropped_events, dst->refused_long };
    dst->dropped_ops = src->dropped_ops, dst->dropped_events = src->dropped_events;
    dst->refused_long = src->refused_long;
    src->dropped_ops = d[0], src->dropped_events = d[1], src->refused_long = d[2];
    return 0;
}

void mc_agg_compact(struct mc_agg *a, struct mc_agg *spare)
{
    uint32_t dead = a->nk - a->live_keys + a->ne - a->live_events;
    if (dead == 0 || dead < a->live_keys + a->live_events)
        return;
    mc_agg_clear(spare);
    uint32_t lost = mc_agg_merge(spare, a, 1);
    a->dropped_ops += lost; /* cannot happen: spare has a's bound and gets less than a holds */
    mc_agg_move(a, spare);
}

void mc_agg_key_done(struct mc_agg *a, uint32_t ki)
{
    struct mc_agg_key *k = &a->k[ki];
    if (!k->live)
        return;
    k->live = 0;
    a->live_keys--;
    /* its conditional events go with it: the writer has them now */
    for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
        uint32_t e = a->c[c1 - 1].event;
        if (e && a->ev[e - 1].live) {
            a->ev[e - 1].live = 0;
            a->live_events--;
        }
    }
}
