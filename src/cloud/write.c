/*
 * write.c - pending host deltas and aggregates, written as plain pipelined
 * commands (see write.h and docs/internals/cloud-writer.md).
 *
 * A batch gathers the keys of one node (up to BATCH_KEYS, or BATCH_BYTES of
 * commands) and goes out as one pipe request; at most WINDOW batches per
 * node are in flight, and each reply sends more, so a flush of many keys
 * reuses a few batch buffers while the rest waits in pending, where newer
 * deltas merge into it.  A batch keeps what it carries (host entries, a copy
 * of its aggregate keys) and, per command, what that command wrote, so a
 * command that did not run (connection lost before its reply, cluster
 * redirection, TRYAGAIN) puts back exactly its own part.
 *
 * A host key update:
 *   HINCRBY k sent_pkt|rcvd_pkt|sent_bytes|rcvd_bytes|flows d   (each non-zero delta)
 *   HSET k last_seen t
 *   PEXPIRE k ttl              (when this probe last refreshed it ttl/8 ago or more)
 * The flows increment's reply equal to its delta means the key had no flows:
 * its counters are new.  Exactly one writer sees that (HINCRBY is atomic), and
 * it follows up with HSETNX first_seen, HSETNX 0 for the counters it did
 * not increment, PEXPIRE if it was not sent, and the host.new event.
 * An aggregate key: HINCRBY / ZINCRBY per cell, one HSET for its set fields,
 * HSETNX per set-once field, its min/max fields in the batch's one script
 * call, then PEXPIRE.
 */
#include "cloud/write.h"
#include "cloud/resp.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/clock.h"
#include "cloud/cloud.h"
#include "cloud/keyspace.h"
#include "cloud/pipe.h"
#include "common/bigmem.h"
#include "common/text.h"

#define BATCH_KEYS 128
#define BATCH_BYTES (256u << 10)
#define WINDOW 8          /* batches in flight per node */
#define FREE_BATCHES 16
#define MAX_SKIPPED 256   /* hosts set aside per flush while their node is busy */
#define KEY_MAX 200       /* ip.<addr> with a prefix of up to 127 bytes */
#define TTL_SLOTS_MAX (1u << 15) /* hosts whose last TTL refresh is remembered: 8 bytes each, one 2 MiB huge page */

/*
 * min/max fields without a read on the probe's side: KEYS[i] holds field
 * ARGV[3i-2], which becomes ARGV[3i-1] when that is larger ('>') or smaller
 * ('<', ARGV[3i]) than what it holds, or when it holds nothing.  Sent as
 * EVAL with its text (about 300 bytes, once per batch): Redis caches the
 * compiled script, and a restarted node needs nothing reloaded.  Values are
 * compared as Lua numbers (doubles): exact below 2^53.
 */
static const char MINMAX_SCRIPT[] =
    "for i = 1, #KEYS do\n"
    "  local f, v = ARGV[3 * i - 2], ARGV[3 * i - 1]\n"
    "  local c = tonumber(redis.call('HGET', KEYS[i], f))\n"
    "  local x = tonumber(v)\n"
    "  if not c or (ARGV[3 * i] == '>' and x > c) or (ARGV[3 * i] == '<' and x < c) then\n"
    "    redis.call('HSET', KEYS[i], f, v)\n"
    "  end\n"
    "end\n"
    "return #KEYS\n";

/* What one command of a batch wrote: what to put back if it did not run. */
enum ref_kind { R_HOST_INCR, R_HOST_LAST, R_HOST_TTL, R_FU_FIRST, R_FU_ZERO, R_FU_TTL, R_FU_SCRIPT, R_CELL, R_SETS, R_MINMAX_ALL, R_MINMAX_KEY,
                R_TTL, R_PUB, R_XADD };

struct cmdref {
    uint8_t kind;       /* enum ref_kind */
    uint8_t field;      /* R_HOST_INCR: 0 sent_pkt .. 4 flows */
    uint32_t idx;       /* host entry, or cell, key or event of the batch's table */
};

/* What a host whose counters are new still needs (host_new): set once, by its creator only. */
struct followup {
    struct mc_addr addr;
    uint8_t ver;
    uint8_t zeros;      /* bit f: HSETNX counter f (sent_pkt .. rcvd_bytes) 0 */
    uint8_t ttl_done;   /* 0: PEXPIRE it too */
    uint8_t event;      /* 1: host.new still to publish */
    uint8_t scripted;   /* in a batch: written by its creation script (see CREATE_SCRIPT) */
    uint64_t first;     /* HSETNX first_seen; 0: done */
};

/*
 * New hosts' follow-ups, when the events stream lives on the hosts' node
 * (standalone): one call for the batch's new hosts, the events published
 * on the server as the script of issue 3 did, so that a new host costs the
 * wire its key and two numbers instead of its follow-up commands and both
 * copies of its event.  KEYS: the host keys, then the stream.  ARGV: n,
 * probe id, ts, stream MAXLEN, channel, ttl ms, prefix length, then per
 * host its first_seen and flags (bits 0-3: counters to set to 0, 4: PEXPIRE,
 * 5: publish host.new).
 */
static const char CREATE_SCRIPT[] =
    "local n, pl = tonumber(ARGV[1]), tonumber(ARGV[7])\n"
    "local names = { 'sent_pkt', 'rcvd_pkt', 'sent_bytes', 'rcvd_bytes' }\n"
    "for i = 1, n do\n"
    "  local k, fl = KEYS[i], tonumber(ARGV[7 + 2 * i])\n"
    "  if ARGV[6 + 2 * i] ~= '0' then redis.call('HSETNX', k, 'first_seen', ARGV[6 + 2 * i]) end\n"
    "  for b = 0, 3 do\n"
    "    if math.floor(fl / 2 ^ b) % 2 == 1 then redis.call('HSETNX', k, names[b + 1], '0') end\n"
    "  end\n"
    "  if math.floor(fl / 16) % 2 == 1 then redis.call('PEXPIRE', k, ARGV[6]) end\n"
    "  if math.floor(fl / 32) % 2 == 1 then\n"
    "    local j = '{\"ip\":\"' .. string.sub(k, pl + 4) .. '\",\"probe\":\"' .. ARGV[2] .. '\",\"ts\":' .. ARGV[3] .. '}'\n"
    "    redis.call('PUBLISH', ARGV[5], j)\n"
    "    redis.call('XADD', KEYS[n + 1], 'MAXLEN', '~', ARGV[4], '*', 'type', 'host.new', 'data', j)\n"
    "  end\n"
    "end\n"
    "return n\n";

#define MAX_FOLLOWUPS 65536

struct wbatch {
    struct mc_cloud_writer *w;
    struct wbatch *next;            /* on the free list */
    int node;
    struct mc_cloud_pipe_req req;
    int n_hosts;
    struct mc_hostagg_entry e[BATCH_KEYS];
    uint8_t ttl_sent[BATCH_KEYS];   /* its update carries a PEXPIRE */
    struct followup fu[BATCH_KEYS];
    int n_fu;
    int n_scripted;                 /* of fu, those for the creation script */
    size_t scripted_bytes;          /* their keys' length */
    uint32_t n_keys;                /* aggregate keys */
    struct mc_agg agg;              /* owned: a copy of its aggregate keys and events */
    uint32_t *mm, n_mm, cap_mm;     /* its min/max cells, for the script call */
    uint32_t *ttl, n_ttl, cap_ttl;  /* its aggregate keys with a TTL */
    struct cmdref *ref;             /* per command; parallel to rep */
    struct mc_cloud_pipe_reply *rep;
    uint32_t n_cmds, cap_cmds;
    char *buf;                      /* the encoded commands */
    size_t len, cap;
    int failed;                     /* out of memory while building: everything goes back */
};

struct mc_cloud_writer {
    struct ev_loop *loop;           /* borrowed */
    struct mc_cloud_conn *conn;     /* borrowed */
    struct mc_cloud_conn_config ccfg;
    struct mc_cloud_writer_config cfg;
    size_t plen;
    struct mc_hostagg hosts;        /* host deltas not yet accepted by Redis */
    struct followup *fu;            /* owned: new hosts' follow-ups waiting */
    uint32_t n_fu, cap_fu;
    struct mc_agg agg, spare;       /* aggregates likewise; spare: for compaction */
    uint32_t kcur, ecur;            /* this pass over agg's keys and events */
    struct mc_cloud_pipe *pipes[MC_CLOUD_MAX_NODES]; /* owned, made when first needed */
    uint32_t inflight[MC_CLOUD_MAX_NODES];
    struct wbatch *free_batches;
    int n_free;
    int flushing;                   /* in flush: replies do not start another */
    char events_key[160];
    size_t events_key_len;
    char maxlen[24];
    size_t maxlen_len;
    /* per host (by a hash of its address): when this writer last sent its
     * PEXPIRE, so that a steady host's update need not carry one: a 32-bit
     * tag, the pipes' epoch (8 bits) and 24 bits of deciseconds, 8-way
     * set-associative.  A lost entry only costs a PEXPIRE more.  Its size
     * is fixed (a table that grew would forget, and fault pages in, while
     * it is busiest), in one huge page: it is read at random, a line per
     * host update. */
    uint64_t *ttl_seen;             /* owned: ttl_mask + 1 entries in sets of TTL_WAYS, mc_big_alloc */
    uint32_t ttl_mask;
    uint8_t epoch;                  /* pipe connections so far: a reconnect forgets every refresh */
    uint32_t ttl_every_ds;          /* refresh period: ttl / 8 */
    uint64_t now_ds;                /* of this flush */
    char ttl_text[24];              /* cfg.ttl_ms as text */
    size_t ttl_text_len;
    char last_err[240];             /* the last command refused: "node: reply" */
};

/* ---- encoding --------------------------------------------------------- */

/* Room for n more bytes in b's buffer; 0 or -1. */
static int room(struct wbatch *b, size_t n)
{
    if (b->len + n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* Room for n more commands' refs and replies; 0 or -1. */
static int refs_room(struct wbatch *b, uint32_t n)
{
    while (b->cap_cmds - b->n_cmds < n) {
        uint32_t cap = b->cap_cmds ? b->cap_cmds * 2 : 1024;
        struct cmdref *r = realloc(b->ref, cap * sizeof(*r));
        if (r)
            b->ref = r;
        struct mc_cloud_pipe_reply *p = r ? realloc(b->rep, cap * sizeof(*p)) : NULL;
        if (!p) {
            b->failed = 1;
            return -1;
        }
        b->rep = p;
        b->cap_cmds = cap;
    }
    return 0;
}

/* One more command, writing what kind/field/idx say; 0 or -1. */
static int add_ref(struct wbatch *b, int kind, int field, uint32_t idx)
{
    if (refs_room(b, 1) != 0)
        return -1;
    b->ref[b->n_cmds++] = (struct cmdref){ (uint8_t)kind, (uint8_t)field, idx };
    return 0;
}

static int push_u32(uint32_t **v, uint32_t *n, uint32_t *cap, uint32_t x)
{
    if (*n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 64;
        uint32_t *p = realloc(*v, c * sizeof(*p));
        if (!p)
            return -1;
        *v = p, *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static char *put_u64(char *p, uint64_t v)
{
    char t[24];
    return mc_resp_bulk(p, t, mc_u64_text(v, t));
}

static char *put_i64(char *p, int64_t v)
{
    char t[24];
    size_t n = 0;
    if (v < 0)
        t[n++] = '-';
    n += mc_u64_text(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, t + n);
    return mc_resp_bulk(p, t, n);
}

/* A fixed command word, as RESP; l is strlen(s). */
#define PUT_WORD(p, s) mc_resp_bulk((p), (s), sizeof(s) - 1)

/* cmd key field value: HINCRBY, HSETNX, HSET with one integer (bounds: room(64 + kl + fl)). */
static char *put_kfv(char *p, const char *cmd, size_t cl, const char *k, size_t kl, const char *f, size_t fl,
                     int64_t v, int is_signed)
{
    p = mc_resp_array(p, 4);
    p = mc_resp_bulk(p, cmd, cl);
    p = mc_resp_bulk(p, k, kl);
    p = mc_resp_bulk(p, f, fl);
    return is_signed ? put_i64(p, v) : put_u64(p, (uint64_t)v);
}

/* ---- batches ---------------------------------------------------------- */

static struct wbatch *batch_get(struct mc_cloud_writer *w, int node)
{
    struct wbatch *b = w->free_batches;
    if (b) {
        w->free_batches = b->next;
        w->n_free--;
    } else {
        b = calloc(1, sizeof(*b));
        if (!b)
            return NULL;
        if (mc_agg_init(&b->agg, w->cfg.prefix, UINT32_MAX, (size_t)1 << 40) != 0) {
            free(b);
            return NULL;
        }
    }
    b->w = w;
    b->node = node;
    b->n_hosts = 0;
    b->n_fu = 0;
    b->n_scripted = 0;
    b->scripted_bytes = 0;
    b->n_keys = b->n_mm = b->n_ttl = b->n_cmds = 0;
    b->len = 0;
    b->failed = 0;
    mc_agg_clear(&b->agg);
    return b;
}

static void batch_free(struct wbatch *b)
{
    mc_agg_free(&b->agg);
    free(b->mm);
    free(b->ttl);
    free(b->ref);
    free(b->rep);
    free(b->buf);
    free(b);
}

static void batch_put(struct mc_cloud_writer *w, struct wbatch *b)
{
    /* a batch that grew big (a key of many members) gives its memory back */
    if (w->n_free >= FREE_BATCHES || b->cap > 4 * BATCH_BYTES) {
        batch_free(b);
        return;
    }
    b->next = w->free_batches;
    w->free_batches = b;
    w->n_free++;
}

static int batch_full(const struct wbatch *b)
{
    return b->n_hosts >= BATCH_KEYS || b->n_fu >= BATCH_KEYS || (int)b->n_keys >= BATCH_KEYS ||
           b->len >= BATCH_BYTES;
}

/* A host's 64-bit hash for the refresh table. */
static uint64_t host_hash(const struct mc_hostagg_entry *e)
{
    uint64_t a, b;
    memcpy(&a, e->addr.b, 8), memcpy(&b, e->addr.b + 8, 8);
    uint64_t x = (a ^ (0x9e3779b97f4a7c15ull * e->ver)) * 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x = (x ^ b) * 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* The refresh table for slots entries (the old one dropped); on failure, none: every update carries its PEXPIRE. */
static void ttl_table(struct mc_cloud_writer *w, uint32_t slots)
{
    if (w->ttl_seen)
        mc_big_free(w->ttl_seen, ((size_t)w->ttl_mask + 1) * sizeof(*w->ttl_seen));
    w->ttl_seen = mc_big_alloc((size_t)slots * sizeof(*w->ttl_seen));
    w->ttl_mask = slots - 1;
}

static uint64_t ttl_entry(const struct mc_cloud_writer *w, uint64_t h, uint64_t ds)
{
    return (h >> 32) << 32 | (uint64_t)w->epoch << 24 | (ds & 0xffffff);
}

#define TTL_WAYS 8 /* a set per 64-byte line */

/* Host h's entry in its set (found, else the one refreshed longest ago, or a stale one). */
static uint64_t *ttl_slot(struct mc_cloud_writer *w, uint64_t h, int *found)
{
    uint64_t *set = &w->ttl_seen[(h & w->ttl_mask) & ~(uint64_t)(TTL_WAYS - 1)];
    uint64_t tag = ttl_entry(w, h, 0) >> 24, now = w->now_ds & 0xffffff;
    uint64_t *victim = set, oldest = 0;
    for (int i = 0; i < TTL_WAYS; i++) {
        if ((set[i] >> 24) == tag) {
            *found = 1;
            return &set[i];
        }
        uint64_t age = (now - (set[i] & 0xffffff)) & 0xffffff;
        if ((uint8_t)(set[i] >> 24) != w->epoch || !set[i])
            age = UINT64_MAX; /* of another connection, or empty: the first to go */
        if (age > oldest || i == 0)
            oldest = age, victim = &set[i];
    }
    *found = 0;
    return victim;
}

/* 1 when host h's key needs a PEXPIRE now (and notes it as sent). */
static int ttl_due(struct mc_cloud_writer *w, uint64_t h)
{
    if (!w->ttl_seen)
        return 1;
    int found;
    uint64_t *slot = ttl_slot(w, h, &found), now = w->now_ds & 0xffffff;
    if (found && ((now - (*slot & 0xffffff)) & 0xffffff) < w->ttl_every_ds)
        return 0;
    *slot = ttl_entry(w, h, now);
    return 1;
}

/* Forgets host h's refresh (its PEXPIRE did not run). */
static void ttl_forget(struct mc_cloud_writer *w, uint64_t h)
{
    int found;
    uint64_t *slot = w->ttl_seen ? ttl_slot(w, h, &found) : NULL;
    if (slot && found)
        *slot = 0;
}

static const char HINCRBY_HEAD[32] = "*4\r\n$7\r\nHINCRBY\r\n";
static const char HSET_HEAD[32] = "*4\r\n$4\r\nHSET\r\n";
static const char HSETNX_HEAD[32] = "*4\r\n$6\r\nHSETNX\r\n";
static const char PEXPIRE_HEAD[32] = "*3\r\n$7\r\nPEXPIRE\r\n";
/* padded to 32 bytes: put_cmd copies them whole, a fixed-size copy the compiler makes two moves */
static const char HOST_FIELDS[5][32] = { "$8\r\nsent_pkt\r\n", "$8\r\nrcvd_pkt\r\n", "$10\r\nsent_bytes\r\n",
                                         "$10\r\nrcvd_bytes\r\n", "$5\r\nflows\r\n" };
static const char LAST_SEEN[32] = "$9\r\nlast_seen\r\n";
static const char FIRST_SEEN[32] = "$10\r\nfirst_seen\r\n";
static const uint8_t HOST_FIELD_LENS[5] = { 14, 14, 17, 17, 11 };

/*
 * head (32 bytes, padded, hl used), then the key's bulk (kb: KEY_MAX + 16
 * bytes, kbl used), then a field's bulk (fb: 32 bytes, padded, fbl used),
 * then v as a bulk; returns the end.  Short parts are copied at a fixed
 * size and the end moved back: p needs 64 bytes of slack (room() gives it).
 */
static char *put_cmd(char *p, const char *head, size_t hl, const char *kb, size_t kbl, const char *fb, size_t fbl,
                     uint64_t v)
{
    memcpy(p, head, 32);
    p += hl;
    if (kbl <= 64)
        memcpy(p, kb, 64);
    else
        memcpy(p, kb, kbl);
    p += kbl;
    memcpy(p, fb, 32);
    p += fbl;
    char t[20];
    size_t n = mc_u64_text(v, t);
    *p++ = '$';
    if (n >= 10)
        *p++ = (char)('0' + n / 10);
    *p++ = (char)('0' + n % 10);
    *p++ = '\r', *p++ = '\n';
    memcpy(p, t, n);
    p += n;
    *p++ = '\r', *p++ = '\n';
    return p;
}

/* Encodes one host's update (entry copied into the batch). */
static void add_host(struct mc_cloud_writer *w, struct wbatch *b, const struct mc_hostagg_entry *e, const char *key,
                     size_t kl)
{
    if (room(b, 7 * (kl + 80) + 64) != 0 || refs_room(b, 7) != 0)
        return;
    uint32_t hi = (uint32_t)b->n_hosts;
    b->e[b->n_hosts++] = *e;
    /* the key as a RESP bulk, once: every command repeats it */
    char kb[KEY_MAX + 16];
    char *q = kb;
    *q++ = '$';
    q += mc_u64_text(kl, q);
    *q++ = '\r', *q++ = '\n';
    memcpy(q, key, kl);
    q += kl;
    *q++ = '\r', *q++ = '\n';
    size_t kbl = (size_t)(q - kb);
    const struct mc_hostagg_val *v = &e->v;
    const uint64_t d[5] = { v->sent_pkt, v->rcvd_pkt, v->sent_bytes, v->rcvd_bytes, v->flows };
    char *p = b->buf + b->len;
    for (int f = 0; f < 5; f++) {
        if (!d[f])
            continue;
        p = put_cmd(p, HINCRBY_HEAD, strlen(HINCRBY_HEAD), kb, kbl, HOST_FIELDS[f], HOST_FIELD_LENS[f], d[f]);
        b->ref[b->n_cmds++] = (struct cmdref){ R_HOST_INCR, (uint8_t)f, hi };
    }
    if (v->last_seen) {
        p = put_cmd(p, HSET_HEAD, strlen(HSET_HEAD), kb, kbl, LAST_SEEN, 15, v->last_seen);
        b->ref[b->n_cmds++] = (struct cmdref){ R_HOST_LAST, 0, hi };
    }
    b->ttl_sent[hi] = (uint8_t)ttl_due(w, host_hash(e));
    if (b->ttl_sent[hi]) {
        memcpy(p, PEXPIRE_HEAD, strlen(PEXPIRE_HEAD));
        p += strlen(PEXPIRE_HEAD);
        memcpy(p, kb, kbl);
        p += kbl;
        p = mc_resp_bulk(p, w->ttl_text, w->ttl_text_len);
        b->ref[b->n_cmds++] = (struct cmdref){ R_HOST_TTL, 0, hi };
    }
    b->len = (size_t)(p - b->buf);
}

/* Encodes a follow-up (copied into the batch). */
static void add_followup(struct mc_cloud_writer *w, struct wbatch *b, const struct followup *u, const char *key,
                         size_t kl)
{
    if (room(b, 6 * (kl + 80) + 64) != 0 || refs_room(b, 6) != 0)
        return;
    uint32_t fi = (uint32_t)b->n_fu;
    b->fu[b->n_fu++] = *u;
    char kb[KEY_MAX + 16];
    char *q = kb;
    *q++ = '$';
    q += mc_u64_text(kl, q);
    *q++ = '\r', *q++ = '\n';
    memcpy(q, key, kl);
    q += kl;
    *q++ = '\r', *q++ = '\n';
    size_t kbl = (size_t)(q - kb);
    char *p = b->buf + b->len;
    if (u->first) {
        p = put_cmd(p, HSETNX_HEAD, strlen(HSETNX_HEAD), kb, kbl, FIRST_SEEN, 17, u->first);
        b->ref[b->n_cmds++] = (struct cmdref){ R_FU_FIRST, 0, fi };
    }
    for (int f = 0; f < 4; f++) {
        if (!(u->zeros & (1u << f)))
            continue;
        p = put_cmd(p, HSETNX_HEAD, strlen(HSETNX_HEAD), kb, kbl, HOST_FIELDS[f], HOST_FIELD_LENS[f], 0);
        b->ref[b->n_cmds++] = (struct cmdref){ R_FU_ZERO, (uint8_t)f, fi };
    }
    if (!u->ttl_done) {
        memcpy(p, PEXPIRE_HEAD, strlen(PEXPIRE_HEAD));
        p += strlen(PEXPIRE_HEAD);
        memcpy(p, kb, kbl);
        p += kbl;
        p = mc_resp_bulk(p, w->ttl_text, w->ttl_text_len);
        b->ref[b->n_cmds++] = (struct cmdref){ R_FU_TTL, 0, fi };
    }
    b->len = (size_t)(p - b->buf);
}

/* Queues a follow-up; 0, or -1 when too many wait (counted). */
static int push_followup(struct mc_cloud_writer *w, const struct followup *u)
{
    if (w->n_fu == w->cap_fu) {
        uint32_t cap = w->cap_fu ? w->cap_fu * 2 : 256;
        struct followup *v = cap <= MAX_FOLLOWUPS ? realloc(w->fu, cap * sizeof(*v)) : NULL;
        if (!v) {
            MC_CTR_INC(cloud, agg_dropped_pending);
            return -1;
        }
        w->fu = v, w->cap_fu = cap;
    }
    w->fu[w->n_fu++] = *u;
    return 0;
}

/* Encodes aggregate key ki of pending (copied into the batch first); 0, or -1 (it stays pending). */
static int add_key(struct mc_cloud_writer *w, struct wbatch *b, uint32_t ki)
{
    uint32_t mark_nk = b->agg.nk;
    if (mc_agg_add_key(&b->agg, &w->agg, ki, 1) != 0 || b->agg.nk != mark_nk + 1) {
        /* out of memory: the batch goes back whole, with what of the key it holds */
        MC_CTR_INC(cloud, agg_dropped_pending);
        b->failed = 1;
        return -1;
    }
    uint32_t bk = mark_nk;
    const struct mc_agg *a = &b->agg;
    const struct mc_agg_key *k = &a->k[bk];
    const char *key = a->text + k->text;
    size_t kl = k->len;
    uint32_t n_sets = 0;
    size_t sets_bytes = 0;
    for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
        const struct mc_agg_cell *c = &a->c[c1 - 1];
        if (room(b, kl + c->name_len + 96) != 0)
            return -1;
        char *p = b->buf + b->len;
        switch (c->kind) {
        case MC_AGG_INCR:
            if (c->event && c->n <= 0) {
                /* no positive increment: its reply cannot tell a new field */
                MC_CTR_INC(cloud, agg_events_undecided);
                b->agg.c[c1 - 1].event = 0;
            }
            if (c->n == 0)
                continue;
            p = put_kfv(p, "HINCRBY", 7, key, kl, a->text + c->name, c->name_len, c->n, 1);
            break;
        case MC_AGG_ZINCR:
            if (c->n == 0)
                continue;
            p = mc_resp_array(p, 4);
            p = PUT_WORD(p, "ZINCRBY");
            p = mc_resp_bulk(p, key, kl);
            p = put_i64(p, c->n);
            p = mc_resp_bulk(p, a->text + c->name, c->name_len);
            break;
        case MC_AGG_ZMAX:
            p = mc_resp_array(p, 5);
            p = PUT_WORD(p, "ZADD");
            p = mc_resp_bulk(p, key, kl);
            p = PUT_WORD(p, "GT");
            p = put_i64(p, c->n);
            p = mc_resp_bulk(p, a->text + c->name, c->name_len);
            break;
        case MC_AGG_ZTRIM:
            continue; /* after the key's ZADDs, below */
        case MC_AGG_SET:
            n_sets++;
            sets_bytes += c->name_len + c->vlen + 32;
            continue;
        case MC_AGG_SETNX:
            if (room(b, kl + c->name_len + c->vlen + 64) != 0)
                return -1;
            p = b->buf + b->len;
            p = mc_resp_array(p, 4);
            p = PUT_WORD(p, "HSETNX");
            p = mc_resp_bulk(p, key, kl);
            p = mc_resp_bulk(p, a->text + c->name, c->name_len);
            p = mc_resp_bulk(p, a->text + c->val, c->vlen);
            break;
        default: /* MAX, MIN: in the batch's script call */
            if (push_u32(&b->mm, &b->n_mm, &b->cap_mm, c1 - 1) != 0) {
                b->failed = 1;
                return -1;
            }
            continue;
        }
        b->len = (size_t)(p - b->buf);
        if (add_ref(b, R_CELL, 0, c1 - 1) != 0)
            return -1;
    }
    if (n_sets) {
        if (room(b, kl + sets_bytes + 64) != 0)
            return -1;
        char *p = mc_resp_array(b->buf + b->len, 2 + 2 * n_sets);
        p = PUT_WORD(p, "HSET");
        p = mc_resp_bulk(p, key, kl);
        for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
            const struct mc_agg_cell *c = &a->c[c1 - 1];
            if (c->kind != MC_AGG_SET)
                continue;
            p = mc_resp_bulk(p, a->text + c->name, c->name_len);
            p = mc_resp_bulk(p, a->text + c->val, c->vlen);
        }
        b->len = (size_t)(p - b->buf);
        if (add_ref(b, R_SETS, 0, bk) != 0)
            return -1;
    }
    for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
        const struct mc_agg_cell *c = &a->c[c1 - 1];
        if (c->kind != MC_AGG_ZTRIM)
            continue;
        if (room(b, kl + 96) != 0)
            return -1;
        char *p = mc_resp_array(b->buf + b->len, 4);
        p = PUT_WORD(p, "ZREMRANGEBYSCORE");
        p = mc_resp_bulk(p, key, kl);
        p = PUT_WORD(p, "-inf");
        char cut[32];
        cut[0] = '('; /* exclusive: a member scored at the cutoff stays */
        size_t cl = 1 + mc_u64_text((uint64_t)c->n, cut + 1);
        p = mc_resp_bulk(p, cut, cl);
        b->len = (size_t)(p - b->buf);
        if (add_ref(b, R_CELL, 0, c1 - 1) != 0)
            return -1;
    }
    if (k->ttl_ms && push_u32(&b->ttl, &b->n_ttl, &b->cap_ttl, bk) != 0) {
        b->failed = 1;
        return -1;
    }
    b->n_keys++;
    return 0;
}

/* Encodes one part (MC_AGG_PUB or MC_AGG_XADD) of pending's event ei. */
static int add_event(struct mc_cloud_writer *w, struct wbatch *b, uint32_t ei, int part)
{
    uint32_t bi = b->agg.ne;
    if (mc_agg_add_event(&b->agg, &w->agg, ei, part) != 0) {
        MC_CTR_INC(cloud, agg_dropped_pending);
        b->failed = 1;
        return -1;
    }
    const struct mc_agg_event *e = &b->agg.ev[bi];
    const char *name = b->agg.text + e->name, *json = b->agg.text + e->json;
    if (room(b, w->plen + e->name_len + e->json_len + w->events_key_len + 160) != 0)
        return -1;
    char *p = b->buf + b->len;
    if (part == MC_AGG_PUB) {
        p = mc_resp_array(p, 3);
        p = PUT_WORD(p, "PUBLISH");
        /* the channel: <prefix>events.<name> */
        *p++ = '$';
        p += mc_u64_text(w->plen + 7 + e->name_len, p);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, w->cfg.prefix, w->plen);
        memcpy(p + w->plen, "events.", 7);
        memcpy(p + w->plen + 7, name, e->name_len);
        p += w->plen + 7 + e->name_len;
        *p++ = '\r', *p++ = '\n';
        p = mc_resp_bulk(p, json, e->json_len);
    } else {
        p = mc_resp_array(p, 10);
        p = PUT_WORD(p, "XADD");
        p = mc_resp_bulk(p, w->events_key, w->events_key_len);
        p = PUT_WORD(p, "MAXLEN");
        p = PUT_WORD(p, "~");
        p = mc_resp_bulk(p, w->maxlen, w->maxlen_len);
        p = PUT_WORD(p, "*");
        p = PUT_WORD(p, "type");
        p = mc_resp_bulk(p, name, e->name_len);
        p = PUT_WORD(p, "data");
        p = mc_resp_bulk(p, json, e->json_len);
    }
    b->len = (size_t)(p - b->buf);
    return add_ref(b, part == MC_AGG_PUB ? R_PUB : R_XADD, 0, bi);
}

/* One script call for min/max cells mm[from .. to) (their keys share a node; in a cluster, one key). */
static int add_minmax(struct wbatch *b, uint32_t from, uint32_t to, int kind, uint32_t idx)
{
    const struct mc_agg *a = &b->agg;
    size_t need = sizeof(MINMAX_SCRIPT) + 64;
    for (uint32_t i = from; i < to; i++) {
        const struct mc_agg_cell *c = &a->c[b->mm[i]];
        need += a->k[c->key].len + c->name_len + 96;
    }
    if (room(b, need) != 0)
        return -1;
    char *p = mc_resp_array(b->buf + b->len, 3 + 4 * (to - from));
    p = PUT_WORD(p, "EVAL");
    p = mc_resp_bulk(p, MINMAX_SCRIPT, sizeof(MINMAX_SCRIPT) - 1);
    p = put_u64(p, to - from);
    for (uint32_t i = from; i < to; i++) {
        const struct mc_agg_key *k = &a->k[a->c[b->mm[i]].key];
        p = mc_resp_bulk(p, a->text + k->text, k->len);
    }
    for (uint32_t i = from; i < to; i++) {
        const struct mc_agg_cell *c = &a->c[b->mm[i]];
        p = mc_resp_bulk(p, a->text + c->name, c->name_len);
        p = put_u64(p, (uint64_t)c->n);
        p = mc_resp_bulk(p, c->kind == MC_AGG_MAX ? ">" : "<", 1);
    }
    b->len = (size_t)(p - b->buf);
    return add_ref(b, kind, 0, idx);
}

/* The batch's last commands: min/max fields, then its aggregate keys' TTLs (after every write to them). */
/* The creation script call for the batch's scripted follow-ups. */
static int add_create(struct mc_cloud_writer *w, struct wbatch *b)
{
    if (room(b, sizeof(CREATE_SCRIPT) + 512 + b->scripted_bytes + (size_t)b->n_scripted * (KEY_MAX + 64)) != 0)
        return -1;
    char *p = mc_resp_array(b->buf + b->len, (unsigned)(3 + b->n_scripted + 1 + 7 + 2 * b->n_scripted));
    p = PUT_WORD(p, "EVAL");
    p = mc_resp_bulk(p, CREATE_SCRIPT, sizeof(CREATE_SCRIPT) - 1);
    p = put_u64(p, (uint64_t)b->n_scripted + 1);
    char key[KEY_MAX];
    for (int i = 0; i < b->n_fu; i++)
        if (b->fu[i].scripted)
            p = mc_resp_bulk(p, key, mc_cloud_host_key(w->cfg.prefix, b->fu[i].ver, &b->fu[i].addr, key, sizeof(key)));
    p = mc_resp_bulk(p, w->events_key, w->events_key_len);
    p = put_u64(p, (uint64_t)b->n_scripted);
    p = mc_resp_bulk(p, w->cfg.probe_id, strlen(w->cfg.probe_id));
    p = put_u64(p, wall_ms());
    p = mc_resp_bulk(p, w->maxlen, w->maxlen_len);
    char ch[KEY_MAX];
    memcpy(ch, w->cfg.prefix, w->plen);
    memcpy(ch + w->plen, "events.host.new", 15);
    p = mc_resp_bulk(p, ch, w->plen + 15);
    p = mc_resp_bulk(p, w->ttl_text, w->ttl_text_len);
    p = put_u64(p, w->plen);
    for (int i = 0; i < b->n_fu; i++) {
        const struct followup *u = &b->fu[i];
        if (!u->scripted)
            continue;
        p = put_u64(p, u->first);
        p = put_u64(p, (uint64_t)u->zeros | (uint64_t)!u->ttl_done << 4 | (uint64_t)u->event << 5);
    }
    b->len = (size_t)(p - b->buf);
    return add_ref(b, R_FU_SCRIPT, 0, 0);
}

static int finish(struct mc_cloud_writer *w, struct wbatch *b)
{
    int cluster = mc_cloud_conn_is_cluster(w->conn);
    if (b->n_scripted && add_create(w, b) != 0)
        return -1;
    if (b->n_mm && !cluster && add_minmax(b, 0, b->n_mm, R_MINMAX_ALL, 0) != 0)
        return -1;
    for (uint32_t i = 0; cluster && i < b->n_mm;) {
        /* a script's keys must share a slot: one call per key (its cells are consecutive) */
        uint32_t key = b->agg.c[b->mm[i]].key, j = i;
        while (j < b->n_mm && b->agg.c[b->mm[j]].key == key)
            j++;
        if (add_minmax(b, i, j, R_MINMAX_KEY, key) != 0)
            return -1;
        i = j;
    }
    for (uint32_t i = 0; i < b->n_ttl; i++) {
        const struct mc_agg_key *k = &b->agg.k[b->ttl[i]];
        if (room(b, k->len + 64) != 0)
            return -1;
        char *p = mc_resp_array(b->buf + b->len, 3);
        p = PUT_WORD(p, "PEXPIRE");
        p = mc_resp_bulk(p, b->agg.text + k->text, k->len);
        p = put_u64(p, k->ttl_ms);
        b->len = (size_t)(p - b->buf);
        if (add_ref(b, R_TTL, 0, b->ttl[i]) != 0)
            return -1;
    }
    return 0;
}

/* ---- replies ---------------------------------------------------------- */

static void flush(struct mc_cloud_writer *w, int new_pass);

/* Puts back into pending what command i of b wrote (it did not run); adds to rq/rq_any for hosts. */
static uint32_t put_back(struct mc_cloud_writer *w, struct wbatch *b, const struct cmdref *f,
                         struct mc_hostagg_val *rq, uint8_t *rq_any)
{
    uint32_t refused = 0;
    switch (f->kind) {
    case R_HOST_INCR: {
        const struct mc_hostagg_val *v = &b->e[f->idx].v;
        struct mc_hostagg_val *r = &rq[f->idx];
        const uint64_t d[5] = { v->sent_pkt, v->rcvd_pkt, v->sent_bytes, v->rcvd_bytes, v->flows };
        uint64_t *t[5] = { &r->sent_pkt, &r->rcvd_pkt, &r->sent_bytes, &r->rcvd_bytes, &r->flows };
        *t[f->field] += d[f->field];
        if (f->field == 4)
            rq[f->idx].first_seen = v->first_seen; /* decided with the flows: the follow-up needs it */
        rq_any[f->idx] = 1;
        break;
    }
    case R_HOST_LAST:
        rq[f->idx].last_seen = b->e[f->idx].v.last_seen;
        rq[f->idx].first_seen = b->e[f->idx].v.first_seen;
        rq_any[f->idx] = 1;
        break;
    case R_HOST_TTL:
        ttl_forget(w, host_hash(&b->e[f->idx])); /* the next update of the host carries it */
        rq[f->idx].last_seen = b->e[f->idx].v.last_seen;
        rq[f->idx].first_seen = b->e[f->idx].v.first_seen;
        rq_any[f->idx] = 1;
        break;
    case R_FU_SCRIPT:
        for (int i = 0; i < b->n_fu; i++)
            if (b->fu[i].scripted) {
                struct followup u = b->fu[i];
                u.scripted = 0;
                refused += push_followup(w, &u) != 0;
            }
        break;
    case R_FU_FIRST:
    case R_FU_ZERO:
    case R_FU_TTL: {
        struct followup u = b->fu[f->idx];
        u.event = 0; /* published when it was written */
        u.first = f->kind == R_FU_FIRST ? u.first : 0;
        u.zeros = f->kind == R_FU_ZERO ? (uint8_t)(1u << f->field) : 0;
        u.ttl_done = f->kind != R_FU_TTL;
        refused += push_followup(w, &u) != 0;
        break;
    }
    case R_CELL:
        refused += mc_agg_add_cell(&w->agg, &b->agg, f->idx, 0);
        break;
    case R_SETS:
    case R_MINMAX_KEY:
        for (uint32_t c1 = b->agg.k[f->idx].head; c1; c1 = b->agg.c[c1 - 1].next) {
            int kind = b->agg.c[c1 - 1].kind;
            if (f->kind == R_SETS ? kind == MC_AGG_SET : kind == MC_AGG_MAX || kind == MC_AGG_MIN)
                refused += mc_agg_add_cell(&w->agg, &b->agg, c1 - 1, 0);
        }
        break;
    case R_MINMAX_ALL:
        for (uint32_t i = 0; i < b->n_mm; i++)
            refused += mc_agg_add_cell(&w->agg, &b->agg, b->mm[i], 0);
        break;
    case R_TTL: {
        const struct mc_agg_key *k = &b->agg.k[f->idx];
        if (mc_agg_expire(&w->agg, b->agg.text + k->text + b->agg.plen, k->len - b->agg.plen, k->ttl_ms) != 0)
            refused++;
        break;
    }
    case R_PUB:
    case R_XADD:
        refused += mc_agg_add_event(&w->agg, &b->agg, f->idx, f->kind == R_PUB ? MC_AGG_PUB : MC_AGG_XADD);
        break;
    }
    return refused;
}

/*
 * Entry e created its key's counters (its flows increment found none): its
 * follow-up goes out with the next batches: HSETNX first_seen, HSETNX 0
 * for each counter e did not increment (a reader finds all seven fields),
 * PEXPIRE unless e's update carried it; and host.new.
 */
static void host_new(struct mc_cloud_writer *w, const struct mc_hostagg_entry *e, int ttl_sent)
{
    const struct mc_hostagg_val *v = &e->v;
    struct followup u = { .addr = e->addr, .ver = e->ver, .ttl_done = (uint8_t)ttl_sent, .event = 1,
                          .first = v->first_seen ? v->first_seen : v->last_seen ? v->last_seen : 1 };
    const uint64_t d[4] = { v->sent_pkt, v->rcvd_pkt, v->sent_bytes, v->rcvd_bytes };
    for (int f = 0; f < 4; f++)
        u.zeros |= (uint8_t)(!d[f] << f);
    push_followup(w, &u);
}

/* host.new of a follow-up written as plain commands: published like any event. */
static void publish_host_new(struct mc_cloud_writer *w, const struct followup *u, const char *key, size_t kl)
{
    /* {"ip":"<addr>","probe":"<id>","ts":<ms>}, by hand: once per new host */
    char json[KEY_MAX + 160];
    size_t idl = strlen(w->cfg.probe_id), al = kl - w->plen - 3;
    (void)u;
    if (al + idl + 64 > sizeof(json))
        return;
    char *p = json;
    memcpy(p, "{\"ip\":\"", 7), p += 7;
    memcpy(p, key + w->plen + 3, al), p += al;
    memcpy(p, "\",\"probe\":\"", 11), p += 11;
    memcpy(p, w->cfg.probe_id, idl), p += idl;
    memcpy(p, "\",\"ts\":", 7), p += 7;
    p += mc_u64_text(wall_ms(), p);
    *p++ = '}';
    if (mc_agg_publish(&w->agg, "host.new", json, (size_t)(p - json)) != 0)
        MC_CTR_INC(cloud, agg_dropped_pending);
}

static void batch_done(struct mc_cloud_pipe_req *q, int ok)
{
    struct wbatch *b = q->privdata;
    struct mc_cloud_writer *w = b->w;
    uint32_t answered = ok ? b->n_cmds : q->got;
    struct mc_hostagg_val rq[BATCH_KEYS];
    uint8_t rq_any[BATCH_KEYS];
    memset(rq, 0, sizeof(rq[0]) * (size_t)b->n_hosts);
    memset(rq_any, 0, (size_t)b->n_hosts);
    uint32_t refused = 0, agg_back = 0;
    int moved = 0;
    if (b->failed) {
        /* built short of memory: everything it holds goes back, encoded or not */
        for (int i = 0; i < b->n_hosts; i++)
            rq[i] = b->e[i].v, rq_any[i] = 1;
        agg_back = b->agg.live_keys;
        refused += mc_agg_merge(&w->agg, &b->agg, 0);
        for (int i = 0; i < b->n_fu; i++) {
            struct followup u = b->fu[i];
            u.event &= u.scripted; /* a plain one's event went with the events */
            u.scripted = 0;
            refused += push_followup(w, &u) != 0;
        }
        answered = b->n_cmds; /* nothing below is put back twice */
    }
    for (uint32_t i = 0; i < b->n_cmds && !b->failed; i++) {
        const struct cmdref *f = &b->ref[i];
        const struct mc_cloud_pipe_reply *r = &b->rep[i];
        if (i >= answered || (r->type == MC_PIPE_ERROR && r->err >= MC_PIPE_ERR_MOVED && r->err <= MC_PIPE_ERR_RETRY)) {
            /* it did not run (or may not have: the connection went before its reply): it goes back */
            moved |= i < answered && r->err == MC_PIPE_ERR_MOVED;
            refused += put_back(w, b, f, rq, rq_any);
            agg_back += f->kind >= R_CELL;
            continue;
        }
        if (r->type == MC_PIPE_ERROR) {
            MC_CTR_INC(cloud, write_errors); /* WRONGTYPE, OOM, ...: resending would fail again */
            snprintf(w->last_err, sizeof(w->last_err), "%s: %s", mc_cloud_conn_node_name(w->conn, b->node),
                     mc_cloud_pipe_last_reply_error(w->pipes[b->node]));
            continue;
        }
        if (f->kind == R_FU_SCRIPT) {
            for (int k = 0; k < b->n_fu; k++)
                if (b->fu[k].scripted && b->fu[k].event)
                    MC_CTR_INC(cloud, events);
        } else if (f->kind == R_HOST_INCR && f->field == 4 && r->type == MC_PIPE_INTEGER &&
            (uint64_t)r->v == b->e[f->idx].v.flows) {
            host_new(w, &b->e[f->idx], b->ttl_sent[f->idx]);
        } else if (f->kind == R_CELL) {
            const struct mc_agg_cell *c = &b->agg.c[f->idx];
            /* the field held nothing before: the reply is the increment itself */
            if (c->event && r->type == MC_PIPE_INTEGER && r->v == c->n && c->n > 0)
                refused += mc_agg_add_event(&w->agg, &b->agg, c->event - 1, MC_AGG_PUB | MC_AGG_XADD);
        }
    }
    uint32_t hosts_back = 0;
    for (int i = 0; i < b->n_hosts; i++)
        if (rq_any[i]) {
            mc_hostagg_add(&w->hosts, b->e[i].ver, &b->e[i].addr, &rq[i]);
            hosts_back++;
        }
    MC_CTR_ADD(cloud, requeued, hosts_back);
    MC_CTR_ADD(cloud, agg_requeued, agg_back);
    MC_CTR_ADD(cloud, agg_dropped_pending, refused);
    MC_CTR_ADD(cloud, keys_written, (uint64_t)b->n_hosts - hosts_back);
    MC_CTR_ADD(cloud, agg_keys_written, b->n_keys);
    if (moved)
        mc_cloud_conn_refresh_slots(w->conn);
    if (w->inflight[b->node])
        w->inflight[b->node]--;
    batch_put(w, b);
    if (w->cfg.on_room && !w->flushing)
        w->cfg.on_room(w->cfg.ctx); /* may hand over more hosts, sent just below */
    if (!w->flushing && (mc_hostagg_count(&w->hosts) || w->n_fu || w->agg.live_keys || w->agg.live_events))
        flush(w, 0);
}

/* Sends b; if its node cannot take it after all, everything in it goes back. */
static void batch_send(struct mc_cloud_writer *w, struct wbatch *b)
{
    if (!b->failed)
        finish(w, b);
    b->req.buf = b->buf;
    b->req.len = b->len;
    b->req.n = b->n_cmds;
    b->req.r = b->rep;
    b->req.done = batch_done;
    b->req.privdata = b;
    if (b->failed || b->n_cmds == 0 || mc_cloud_pipe_send(w->pipes[b->node], &b->req) != 0) {
        if (b->n_cmds == 0 && !b->failed) {
            MC_CTR_ADD(cloud, agg_keys_written, b->n_keys); /* keys whose operations cancelled out */
            batch_put(w, b);
            return;
        }
        w->inflight[b->node]++;
        b->req.got = 0;
        batch_done(&b->req, 0);
        return;
    }
    w->inflight[b->node]++;
    MC_CTR_INC(cloud, batches);
    MC_CTR_ADD(cloud, commands, b->n_cmds);
    MC_CTR_ADD(cloud, host_updates, (uint64_t)b->n_hosts);
}

/* ---- flushing --------------------------------------------------------- */

static void on_pipe_ready(void *ctx)
{
    struct mc_cloud_writer *w = ctx;
    /* a node that restarted lost its keys: the next update of every host sets its TTL again */
    w->epoch++;
    if (!w->flushing)
        flush(w, 1);
}

/* 1 when node can take another batch now (its pipe is started when needed). */
static int node_open(struct mc_cloud_writer *w, int node)
{
    if (node < 0 || node >= MC_CLOUD_MAX_NODES || w->inflight[node] >= WINDOW || !mc_cloud_conn_ready(w->conn, node))
        return 0;
    struct mc_cloud_pipe *p = w->pipes[node];
    if (!p) {
        p = w->pipes[node] = mc_cloud_pipe_new(w->loop, mc_cloud_conn_node_name(w->conn, node), &w->ccfg,
                                               !mc_cloud_conn_is_cluster(w->conn), on_pipe_ready, w);
        if (!p)
            return 0;
    }
    if (mc_cloud_pipe_ready(p))
        return 1;
    mc_cloud_pipe_connect(p);
    return mc_cloud_pipe_ready(p);
}

static int any_open(struct mc_cloud_writer *w)
{
    int n = mc_cloud_conn_nodes(w->conn);
    for (int i = 0; i < n && i < MC_CLOUD_MAX_NODES; i++)
        if (node_open(w, i))
            return 1;
    return 0;
}

/* The open batch of node (made when needed); NULL when none can be had. */
static struct wbatch *batch_of(struct mc_cloud_writer *w, struct wbatch **open, int node)
{
    if (!open[node])
        open[node] = batch_get(w, node);
    return open[node];
}

static void send_if_full(struct mc_cloud_writer *w, struct wbatch **open, int node)
{
    if (open[node] && batch_full(open[node])) {
        struct wbatch *b = open[node];
        open[node] = NULL;
        batch_send(w, b);
    }
}

static void flush(struct mc_cloud_writer *w, int new_pass)
{
    struct wbatch *open[MC_CLOUD_MAX_NODES] = { 0 };
    w->flushing = 1;
    w->now_ds = wall_ms() / 100;
    if (new_pass) {
        w->kcur = w->ecur = 0;
        mc_agg_compact(&w->agg, &w->spare);
    }
    /* new hosts' follow-ups; those whose node cannot take them now stay */
    uint32_t kept = 0;
    int events_node = mc_cloud_conn_is_cluster(w->conn) ? -1
                                                        : mc_cloud_conn_node_of(w->conn, w->events_key, w->events_key_len);
    for (uint32_t i = 0; i < w->n_fu; i++) {
        struct followup *u = &w->fu[i];
        char key[KEY_MAX];
        size_t kl = mc_cloud_host_key(w->cfg.prefix, u->ver, &u->addr, key, sizeof(key));
        int node = mc_cloud_conn_node_of(w->conn, key, kl);
        struct wbatch *b = node_open(w, node) ? batch_of(w, open, node) : NULL;
        if (!b) {
            w->fu[kept++] = *u;
            continue;
        }
        if (node == events_node) {
            /* its key and the stream share the node: the batch's creation script writes it */
            b->fu[b->n_fu] = *u;
            b->fu[b->n_fu].scripted = 1;
            b->n_scripted++;
            b->scripted_bytes += kl;
            b->n_fu++;
        } else {
            add_followup(w, b, u, key, kl);
            if (u->event)
                publish_host_new(w, u, key, kl);
        }
        send_if_full(w, open, node);
    }
    w->n_fu = kept;
    /* hosts, oldest first; one whose node cannot take it now is set aside and put back in front */
    struct mc_hostagg_entry skipped[MAX_SKIPPED], e;
    int n_skipped = 0;
    uint32_t budget = mc_hostagg_count(&w->hosts);
    while (budget-- > 0 && n_skipped < MAX_SKIPPED && any_open(w) && mc_hostagg_pop_oldest(&w->hosts, &e)) {
        char key[KEY_MAX];
        size_t kl = mc_cloud_host_key(w->cfg.prefix, e.ver, &e.addr, key, sizeof(key));
        int node = mc_cloud_conn_node_of(w->conn, key, kl);
        struct wbatch *b = node_open(w, node) ? batch_of(w, open, node) : NULL;
        if (!b) {
            skipped[n_skipped++] = e;
            continue;
        }
        add_host(w, b, &e, key, kl);
        send_if_full(w, open, node);
    }
    while (n_skipped > 0)
        mc_hostagg_unpop(&w->hosts, &skipped[--n_skipped]);
    /* aggregate keys: one pass per flush interval; keys of a busy node wait for the next */
    for (; w->kcur < w->agg.nk && w->agg.live_keys && any_open(w); w->kcur++) {
        const struct mc_agg_key *k = &w->agg.k[w->kcur];
        if (!k->live)
            continue;
        int node = mc_cloud_conn_node_of(w->conn, w->agg.text + k->text, k->len);
        struct wbatch *b = node_open(w, node) ? batch_of(w, open, node) : NULL;
        if (!b)
            continue;
        /* taken even when it failed: what the batch holds of it goes back with the batch */
        add_key(w, b, w->kcur);
        mc_agg_key_done(&w->agg, w->kcur);
        send_if_full(w, open, node);
    }
    /* events: PUBLISH to the channel's node, XADD to the stream's */
    for (; w->ecur < w->agg.ne && w->agg.live_events && any_open(w); w->ecur++) {
        const struct mc_agg_event *ev = &w->agg.ev[w->ecur];
        if (!ev->live || ev->cond)
            continue;
        char ch[160 + MC_AGG_MAX_NAME];
        memcpy(ch, w->cfg.prefix, w->plen);
        memcpy(ch + w->plen, "events.", 7);
        memcpy(ch + w->plen + 7, w->agg.text + ev->name, ev->name_len);
        int pn = mc_cloud_conn_node_of(w->conn, ch, w->plen + 7 + ev->name_len);
        int xn = mc_cloud_conn_node_of(w->conn, w->events_key, w->events_key_len);
        int parts = ev->parts;
        if (((parts & MC_AGG_PUB) && !node_open(w, pn)) || ((parts & MC_AGG_XADD) && !node_open(w, xn)))
            continue;
        struct wbatch *bp = (parts & MC_AGG_PUB) ? batch_of(w, open, pn) : NULL;
        struct wbatch *bx = (parts & MC_AGG_XADD) ? batch_of(w, open, xn) : NULL;
        if (((parts & MC_AGG_PUB) && !bp) || ((parts & MC_AGG_XADD) && !bx))
            continue;
        if (bp)
            add_event(w, bp, w->ecur, MC_AGG_PUB);
        if (bx)
            add_event(w, bx, w->ecur, MC_AGG_XADD);
        mc_agg_event_done(&w->agg, w->ecur); /* a batch that failed to take it puts it back */
        MC_CTR_INC(cloud, events);
        if (bp)
            send_if_full(w, open, pn);
        if (bx)
            send_if_full(w, open, xn);
    }
    for (int i = 0; i < MC_CLOUD_MAX_NODES; i++)
        if (open[i])
            batch_send(w, open[i]);
    if (w->agg.live_keys == 0 && w->agg.live_events == 0 && w->agg.nk + w->agg.ne) {
        mc_agg_clear(&w->agg);
        w->kcur = w->ecur = 0;
    }
    w->flushing = 0;
}

void mc_cloud_writer_flush(struct mc_cloud_writer *w, int new_pass)
{
    if (!w->flushing)
        flush(w, new_pass);
}

/* ---- life cycle ------------------------------------------------------- */

struct mc_cloud_writer *mc_cloud_writer_new(struct ev_loop *loop, struct mc_cloud_conn *conn,
                                            const struct mc_cloud_conn_config *ccfg,
                                            const struct mc_cloud_writer_config *cfg)
{
    struct mc_cloud_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->loop = loop;
    w->conn = conn;
    w->ccfg = *ccfg;
    w->cfg = *cfg;
    if (!w->cfg.prefix)
        w->cfg.prefix = "";
    if (!w->cfg.probe_id)
        w->cfg.probe_id = "mcprobe";
    w->plen = strlen(w->cfg.prefix);
    snprintf(w->events_key, sizeof(w->events_key), "%.150sevents", w->cfg.prefix);
    w->events_key_len = strlen(w->events_key);
    w->maxlen_len = mc_u64_text(w->cfg.stream_maxlen, w->maxlen);
    w->ttl_text_len = mc_u64_text(w->cfg.ttl_ms, w->ttl_text);
    w->ttl_every_ds = w->cfg.ttl_ms / 800;
    if (w->ttl_every_ds) {
        uint32_t slots = 1024;
        while (slots < 2 * (uint64_t)cfg->max_keys && slots < TTL_SLOTS_MAX)
            slots *= 2;
        ttl_table(w, slots);
    }
    if (mc_hostagg_init(&w->hosts, cfg->max_keys) != 0 ||
        mc_agg_init(&w->agg, w->cfg.prefix, cfg->max_keys, cfg->agg_max_bytes) != 0 ||
        mc_agg_init(&w->spare, w->cfg.prefix, cfg->max_keys, cfg->agg_max_bytes) != 0) {
        mc_cloud_writer_free(w);
        return NULL;
    }
    return w;
}

void mc_cloud_writer_close(struct mc_cloud_writer *w)
{
    w->flushing = 1; /* failing batches put back, never send again */
    for (int i = 0; i < MC_CLOUD_MAX_NODES; i++) {
        mc_cloud_pipe_free(w->pipes[i]);
        w->pipes[i] = NULL;
    }
}

void mc_cloud_writer_free(struct mc_cloud_writer *w)
{
    if (!w)
        return;
    mc_cloud_writer_close(w);
    while (w->free_batches) {
        struct wbatch *b = w->free_batches;
        w->free_batches = b->next;
        batch_free(b);
    }
    if (w->ttl_seen)
        mc_big_free(w->ttl_seen, ((size_t)w->ttl_mask + 1) * sizeof(*w->ttl_seen));
    free(w->fu);
    mc_hostagg_free(&w->hosts);
    mc_agg_free(&w->agg);
    mc_agg_free(&w->spare);
    free(w);
}

void mc_cloud_writer_take(struct mc_cloud_writer *w, struct mc_hostagg *hosts, struct mc_agg *agg)
{
    if (hosts)
        mc_hostagg_move(&w->hosts, hosts);
    if (agg) {
        if (w->kcur || w->ecur) {
            /* mid-pass: a swap would renumber what the pass walks; merge instead */
            MC_CTR_ADD(cloud, agg_dropped_pending, mc_agg_merge(&w->agg, agg, 1));
        } else {
            MC_CTR_ADD(cloud, agg_dropped_pending, mc_agg_move(&w->agg, agg));
        }
    }
}

uint32_t mc_cloud_writer_pending_keys(const struct mc_cloud_writer *w)
{
    return mc_hostagg_count(&w->hosts) + w->n_fu + w->agg.live_keys + w->agg.live_events;
}

uint32_t mc_cloud_writer_inflight(const struct mc_cloud_writer *w)
{
    uint32_t n = 0;
    for (int i = 0; i < MC_CLOUD_MAX_NODES; i++)
        n += w->inflight[i];
    return n;
}

int mc_cloud_writer_stalled(const struct mc_cloud_writer *w, int node)
{
    return node >= 0 && node < MC_CLOUD_MAX_NODES && mc_cloud_pipe_stalled(w->pipes[node]);
}

const char *mc_cloud_writer_last_error(const struct mc_cloud_writer *w)
{
    return w->last_err;
}

struct mc_hostagg *mc_cloud_writer_hosts(struct mc_cloud_writer *w)
{
    return &w->hosts;
}
