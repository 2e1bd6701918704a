/*
 * lookup.c - keys the analyzers read from the cloud (see lookup.h).
 *
 *   packet thread                     cloud thread
 *   get: cache hit, or question  ->   exchange moves questions to the box
 *                                     send: HMGET/GET per question
 *   exchange caches the answers  <-   replies: answers to the box
 *
 * The box has its own mutex, held to move arrays: the cloud's mailbox
 * stays as it is, and its users never wait on a lookup.
 */
#include "cloud/lookup.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/clock.h"
#include "cloud/cloud.h"
#include "cloud/conn.h"

#define SLOTS 8192     /* cached answers, a power of 2 (4 MiB, allocated at the first question) */
#define WAYS 4
#define MAX_WAITING 4096 /* questions (and answers) waiting for the other thread */

static const struct kind {
    const char *prefix;
    int n_fields;      /* 0: a string key (GET), its value in v[0]; else HMGET of the fields */
    const char *fields[MC_LOOKUP_VALUES];
    uint32_t found_ms; /* how long an answer is believed */
    uint32_t none_ms;  /* how long "no such key" is (and how long a question may take) */
} kinds[MC_LOOKUP_KINDS] = {
    /* a call's media endpoints live as long as the call; an endpoint not announced yet may be in a second */
    [MC_LOOKUP_RTP] = { "voip.rtp.", 2, { "call_id", "side" }, 10000, 1000 },
    [MC_LOOKUP_CALL_MEDIA] = { "voip.call.", 2, { "caller_rtp", "callee_rtp" }, 10000, 1000 },
    /* a session's endpoints live until it ends; a user-plane packet may come a moment before its create's answer */
    [MC_LOOKUP_TEID] = { "user.teid.", 0, { NULL }, 10000, 1000 },
    [MC_LOOKUP_SUBSCRIBER] = { "user.", 6, { "imsi", "msisdn", "imei", "apn", "ip", "ip6" }, 10000, 1000 },
    /* a user logs in and out: a new one is seen within a second */
    [MC_LOOKUP_USER] = { "user.ip.", 0, { NULL }, 10000, 1000 },
};

struct slot {
    uint64_t tag;        /* 0: empty */
    uint64_t expires_ms;
    int found;           /* 1 found, 0 no such key, -1 asked (the answer is on its way) */
    struct mc_lookup_answer a;
};

struct question {
    uint64_t tag;
    uint8_t kind, n;
    char key[MC_LOOKUP_KEY_MAX];
};

struct answer {
    uint64_t tag;
    uint8_t kind;
    int found;
    struct mc_lookup_answer a;
};

struct questions {
    struct question *v;
    uint32_t n;
};

struct answers {
    struct answer *v;
    uint32_t n;
};

struct mc_lookup {
    const char *prefix;
    /* packet thread */
    struct slot *cache;          /* SLOTS, allocated at the first question */
    struct questions asked;      /* since the last exchange */
    struct answers taken;        /* reused by exchange */
    /* box */
    pthread_mutex_t mu;
    struct questions box_q;
    struct answers box_a;
    int answers_ready;           /* box_a.n != 0, read without the lock (mc_lookup_due) */
    int (*waiter)(void *ctx);    /* reading files: waits for the answers (mc_lookup_settle) */
    void *waiter_ctx;
    /* cloud thread */
    struct questions sending;    /* reused by send */
    atomic_uint_fast64_t n_asked, n_done;
};

/* One question on the wire (a reply's privdata). */
struct inflight {
    struct mc_lookup *l;
    uint64_t tag;
    uint8_t kind;
};

static uint64_t tag_of(enum mc_lookup_kind kind, const char *key, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)kind;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)key[i]) * 0x100000001b3ull; /* FNV-1a */
    /* FNV's high bits hardly see the last bytes (keys differ by a port's digits): mixed (murmur3's fmix64) */
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h | 1;
}

struct mc_lookup *mc_lookup_new(const char *prefix)
{
    struct mc_lookup *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->prefix = prefix ? prefix : "";
    struct question **qs[] = { &l->asked.v, &l->box_q.v, &l->sending.v };
    struct answer **as[] = { &l->taken.v, &l->box_a.v };
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= (*qs[i] = malloc(MAX_WAITING * sizeof(struct question))) != NULL;
    for (int i = 0; i < 2; i++)
        ok &= (*as[i] = malloc(MAX_WAITING * sizeof(struct answer))) != NULL;
    pthread_mutex_init(&l->mu, NULL);
    if (!ok) {
        mc_lookup_free(l);
        return NULL;
    }
    return l;
}

void mc_lookup_free(struct mc_lookup *l)
{
    if (!l)
        return;
    free(l->cache);
    free(l->asked.v);
    free(l->box_q.v);
    free(l->sending.v);
    free(l->taken.v);
    free(l->box_a.v);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The slot holding tag, else the one to take for it (empty, or expiring first). */
static struct slot *slot_for(struct mc_lookup *l, uint64_t tag, int *hit)
{
    struct slot *set = &l->cache[((uint32_t)(tag >> 32) & (SLOTS / WAYS - 1)) * WAYS], *victim = set;
    for (int w = 0; w < WAYS; w++) {
        if (set[w].tag == tag) {
            *hit = 1;
            return &set[w];
        }
        if (set[w].expires_ms < victim->expires_ms)
            victim = &set[w];
    }
    *hit = 0;
    return victim;
}

int mc_lookup_get(struct mc_lookup *l, enum mc_lookup_kind kind, const char *key, size_t n,
                  struct mc_lookup_answer *out)
{
    if (!l || (unsigned)kind >= MC_LOOKUP_KINDS || !n || n > MC_LOOKUP_KEY_MAX)
        return MC_LOOKUP_NONE;
    if (!l->cache && !(l->cache = calloc(SLOTS, sizeof(*l->cache))))
        return MC_LOOKUP_NONE;
    uint64_t tag = tag_of(kind, key, n), now = wall_ms();
    int hit;
    struct slot *s = slot_for(l, tag, &hit);
    if (hit && now < s->expires_ms) {
        if (s->found < 0)
            return MC_LOOKUP_ASKED;
        if (!s->found)
            return MC_LOOKUP_NONE;
        *out = s->a;
        MC_CTR_INC(cloud, key_lookup_hits);
        return MC_LOOKUP_FOUND;
    }
    if (l->asked.n == MAX_WAITING) {
        MC_CTR_INC(cloud, key_lookups_dropped);
        return MC_LOOKUP_NONE;
    }
    struct question *q = &l->asked.v[l->asked.n++];
    q->tag = tag;
    q->kind = (uint8_t)kind;
    q->n = (uint8_t)n;
    memcpy(q->key, key, n);
    atomic_fetch_add(&l->n_asked, 1);
    /* remembered as asked: the flows that ask next wait for this answer */
    s->tag = tag;
    s->found = -1;
    s->expires_ms = now + kinds[kind].none_ms;
    return MC_LOOKUP_ASKED;
}

void mc_lookup_set_waiter(struct mc_lookup *l, int (*wait)(void *ctx), void *ctx)
{
    if (l)
        l->waiter = wait, l->waiter_ctx = ctx;
}

int mc_lookup_settle(struct mc_lookup *l)
{
    if (!l || !l->waiter)
        return 0;
    if (l->waiter(l->waiter_ctx))
        return 1;
    l->waiter = NULL; /* the cloud did not answer in time: the rest of the file is not held up for it */
    return 0;
}

void mc_lookup_exchange(struct mc_lookup *l, int wait)
{
    if (!l)
        return;
    if (wait)
        pthread_mutex_lock(&l->mu);
    else if (pthread_mutex_trylock(&l->mu) != 0)
        return; /* busy for a moment: at the next handoff */
    uint32_t room = MAX_WAITING - l->box_q.n, n = l->asked.n < room ? l->asked.n : room;
    memcpy(l->box_q.v + l->box_q.n, l->asked.v, n * sizeof(*l->asked.v));
    l->box_q.n += n;
    struct answers t = l->taken;
    l->taken = l->box_a;
    l->box_a = t;
    __atomic_store_n(&l->answers_ready, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&l->mu);
    if (n < l->asked.n) { /* the cloud thread is far behind: asked again when their marks expire */
        MC_CTR_ADD(cloud, key_lookups_dropped, l->asked.n - n);
        atomic_fetch_add(&l->n_done, l->asked.n - n);
    }
    l->asked.n = 0;
    uint64_t now = wall_ms();
    for (uint32_t i = 0; i < l->taken.n && l->cache; i++) {
        const struct answer *a = &l->taken.v[i];
        int hit;
        struct slot *s = slot_for(l, a->tag, &hit);
        s->tag = a->tag;
        s->found = a->found;
        s->a = a->a;
        s->expires_ms = now + (a->found ? kinds[a->kind].found_ms : kinds[a->kind].none_ms);
    }
    l->taken.n = 0;
}

int mc_lookup_due(const struct mc_lookup *l)
{
    return l && (l->asked.n || __atomic_load_n(&l->answers_ready, __ATOMIC_RELAXED));
}

static void copy_value(char *dst, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, MC_LOOKUP_VALUE_MAX + 1, "%.*s", (int)r->len, r->str);
}

static void on_reply(void *privdata, redisReply *r)
{
    struct inflight *f = privdata;
    struct mc_lookup *l = f->l;
    const struct kind *k = &kinds[f->kind];
    struct answer a = { .tag = f->tag, .kind = f->kind };
    if (r && r->type != REDIS_REPLY_ERROR) {
        if (k->n_fields == 0) {
            copy_value(a.a.v[0], r);
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)k->n_fields) {
            for (int i = 0; i < k->n_fields; i++)
                copy_value(a.a.v[i], r->element[i]);
        }
        a.found = a.a.v[0][0] != 0; /* the first value names what was found */
        pthread_mutex_lock(&l->mu);
        if (l->box_a.n < MAX_WAITING)
            l->box_a.v[l->box_a.n++] = a;
        __atomic_store_n(&l->answers_ready, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&l->mu);
    } else if (r) {
        MC_CTR_INC(cloud, write_errors);
    }
    /* no reply (connection lost): nothing cached; asked again when the question's mark expires */
    atomic_fetch_add(&l->n_done, 1);
    free(f);
}

void mc_lookup_send(struct mc_lookup *l, struct mc_cloud_conn *conn)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    struct questions t = l->sending;
    l->sending = l->box_q;
    l->box_q = t;
    pthread_mutex_unlock(&l->mu);
    for (uint32_t i = 0; i < l->sending.n; i++) {
        const struct question *q = &l->sending.v[i];
        const struct kind *k = &kinds[q->kind];
        char key[512];
        int kn = snprintf(key, sizeof(key), "%s%s%.*s", l->prefix, k->prefix, (int)q->n, q->key);
        struct inflight *f = kn > 0 && (size_t)kn < sizeof(key) ? malloc(sizeof(*f)) : NULL;
        const char *argv[2 + MC_LOOKUP_VALUES] = { k->n_fields ? "HMGET" : "GET", key };
        size_t len[2 + MC_LOOKUP_VALUES] = { strlen(argv[0]), (size_t)kn };
        for (int j = 0; j < k->n_fields; j++)
            argv[2 + j] = k->fields[j], len[2 + j] = strlen(k->fields[j]);
        if (f) {
            *f = (struct inflight){ .l = l, .tag = q->tag, .kind = q->kind };
            if (mc_cloud_conn_command(conn, key, (size_t)kn, 2 + k->n_fields, argv, len, on_reply, f) == 0) {
                MC_CTR_INC(cloud, key_lookups);
                continue;
            }
            free(f);
        }
        /* its node is down or busy: given up, asked again when the question's mark expires */
        MC_CTR_INC(cloud, refused);
        atomic_fetch_add(&l->n_done, 1);
    }
    l->sending.n = 0;
}

uint64_t mc_lookup_pending(const struct mc_lookup *l)
{
    if (!l)
        return 0;
    uint64_t asked = atomic_load(&l->n_asked), done = atomic_load(&l->n_done);
    return asked > done ? asked - done : 0;
}
