/*
 * voip.c - the call layer (see voip.h): a bounded table of SIP dialogs by
 * Call-ID, a state machine per INVITE dialog (RFC 3261 13 and 15: the
 * first INVITE, provisional and final responses, CANCEL, BYE), the RTP
 * endpoints each side's SDP announced (re-INVITEs and UPDATEs move them),
 * and registrations (REGISTER answered by a 2xx binds an address of record
 * to the client until it expires).
 *
 * Ageing: live entries sit on a list by last SIP activity, ended calls on a
 * list by end time; mc_voip_tick takes from the head of each only what is
 * due (at most AGE_PER_TICK of each), so no tick walks the table.
 */
#include "l7/voip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/agg.h"
#include "common/hostport.h"
#include "common/json.h"

MC_CTR_DEFINE(l7_voip, MC_L7_VOIP_CTRS)

#define AGE_PER_TICK 64
#define KEY_MAX 512

enum kind { K_CALL = 1, K_REGISTER };
enum side { CALLER = 0, CALLEE = 1 };

struct text {
    uint8_t n;
    char s[MC_VOIP_TEXT_MAX + 1];
};

struct tag {
    uint8_t n;
    char s[MC_VOIP_TAG_MAX + 1];
};

/* An RTP endpoint of a call, chained in the endpoint index. */
struct ep {
    struct ep *hnext;
    struct mc_voip_call *call;
    uint8_t used, side, ver;
    uint16_t port;
    struct mc_addr addr;
};

struct mc_voip_call {
    struct mc_voip_call *hnext;         /* Call-ID chain */
    struct mc_voip_call *prev, *next;   /* the live or the done list */
    uint8_t kind, state, end_cause, on_done;
    uint8_t hangup_by;                  /* side that sent the BYE (CALLER or CALLEE), 0xff unknown */
    uint8_t ip_ver;
    uint8_t challenged;                 /* the last INVITE got 401/407: the authenticated one should follow */
    uint8_t alerted;                    /* bit side: voip.call.quality was raised for the stream it receives */
    uint16_t status;                    /* final status of the INVITE (or of the REGISTER) */
    uint32_t invite_cseq;
    uint32_t hash;
    uint64_t invite_ms, ring_ms, answer_ms, end_ms, last_ms, challenge_ms;
    struct mc_addr caller_ip, callee_ip;
    struct text id, caller, callee, ua, contact;
    struct tag caller_tag;
    uint32_t expires;                   /* REGISTER: the lifetime asked */
    struct ep eps[2][MC_VOIP_EPS];
    char codecs[128];
};

struct list {
    struct mc_voip_call *head, *tail;
};

struct mc_voip {
    struct mc_voip_config cfg;
    uint32_t n, mask;
    struct mc_voip_call **buckets;      /* by Call-ID */
    struct ep **ep_buckets;             /* by address and port */
    struct list live, done;
};

void mc_voip_config_defaults(struct mc_voip_config *cfg)
{
    cfg->max_calls = 65536;
    cfg->idle_ms = 2 * 3600 * 1000;
    cfg->linger_ms = 32 * 1000;
    cfg->call_ttl_ms = 3600 * 1000;
    cfg->user_ttl_ms = 24 * 3600 * 1000;
    cfg->active_ms = 3600 * 1000;
    cfg->mos_alert = 3.5;
}

/*
 * The two indexes start at this many buckets and double as the calls pass
 * their number (grow), up to --voip-max-calls' own: a lookup then reads a
 * bucket of a table the size of what is held, which stays in cache, and not
 * one of 64 Ki the SIP messages of thousands of calls missed the cache in.
 */
#define MIN_BUCKETS 1024

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 64;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

struct mc_voip *mc_voip_new(const struct mc_voip_config *cfg)
{
    struct mc_voip *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->cfg = *cfg;
    if (!v->cfg.max_calls)
        v->cfg.max_calls = 1;
    uint32_t nb = pow2_at_least(v->cfg.max_calls < MIN_BUCKETS ? v->cfg.max_calls : MIN_BUCKETS);
    v->mask = nb - 1;
    v->buckets = calloc(nb, sizeof(*v->buckets));
    v->ep_buckets = calloc(nb, sizeof(*v->ep_buckets));
    if (!v->buckets || !v->ep_buckets) {
        mc_voip_free(v);
        return NULL;
    }
    return v;
}

static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u; /* FNV-1a */
    return h;
}

/* ---- lists --------------------------------------------------------------- */

static void unlink_call(struct list *l, struct mc_voip_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void append(struct list *l, struct mc_voip_call *c)
{
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* ---- the endpoint index -------------------------------------------------- */

static uint32_t ep_hash(uint8_t ver, const struct mc_addr *a, uint16_t port)
{
    uint32_t h = hash_bytes(a->b, ver == 6 ? 16 : 4, 2166136261u ^ ver);
    return hash_bytes(&port, sizeof(port), h);
}

static void ep_remove(struct mc_voip *v, struct ep *e)
{
    if (!e->used)
        return;
    struct ep **pp = &v->ep_buckets[ep_hash(e->ver, &e->addr, e->port) & v->mask];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->used = 0;
    e->hnext = NULL;
}

const struct mc_voip_call *mc_voip_call_at(const struct mc_voip *v, uint8_t ip_ver, const struct mc_addr *a,
                                           uint16_t port, int *side)
{
    if (!v)
        return NULL;
    size_t al = ip_ver == 6 ? 16 : 4;
    for (const struct ep *e = v->ep_buckets[ep_hash(ip_ver, a, port) & v->mask]; e; e = e->hnext)
        if (e->ver == ip_ver && e->port == port && memcmp(e->addr.b, a->b, al) == 0) {
            if (side)
                *side = e->side;
            return e->call;
        }
    return NULL;
}

int mc_voip_call_side_at(const struct mc_voip_call *c, uint8_t ip_ver, const struct mc_addr *a, uint16_t port)
{
    size_t al = ip_ver == 6 ? 16 : 4;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < MC_VOIP_EPS; i++) {
            const struct ep *e = &c->eps[s][i];
            if (e->used && e->ver == ip_ver && e->port == port && memcmp(e->addr.b, a->b, al) == 0)
                return s;
        }
    return -1;
}

const char *mc_voip_call_id(const struct mc_voip_call *c) { return c->id.s; }
int mc_voip_call_state(const struct mc_voip_call *c) { return c->state; }
uint32_t mc_voip_calls(const struct mc_voip *v) { return v ? v->n : 0; }

/* ---- calls --------------------------------------------------------------- */

static void copy_text(struct text *t, struct mc_voip_text s)
{
    t->n = (uint8_t)(s.n < MC_VOIP_TEXT_MAX ? s.n : MC_VOIP_TEXT_MAX);
    memcpy(t->s, s.p ? s.p : "", t->n);
    t->s[t->n] = '\0';
}

static void copy_tag(struct tag *t, struct mc_voip_text s)
{
    t->n = (uint8_t)(s.n < MC_VOIP_TAG_MAX ? s.n : MC_VOIP_TAG_MAX);
    memcpy(t->s, s.p ? s.p : "", t->n);
    t->s[t->n] = '\0';
}

static int text_eq(const struct text *t, struct mc_voip_text s)
{
    size_t n = s.n < MC_VOIP_TEXT_MAX ? s.n : MC_VOIP_TEXT_MAX;
    return t->n == n && memcmp(t->s, s.p, n) == 0;
}

/* A Call-ID as the table keys it: its first MC_VOIP_TEXT_MAX bytes (what a call keeps), and their hash. */
static struct mc_voip_text id_key(const char *p, size_t n)
{
    struct mc_voip_text t = { p, n < MC_VOIP_TEXT_MAX ? n : MC_VOIP_TEXT_MAX };
    return t;
}

static uint32_t id_hash(struct mc_voip_text id) { return hash_bytes(id.p, id.n, 2166136261u); }

static struct mc_voip_call *find(const struct mc_voip *v, struct mc_voip_text id, uint32_t h)
{
    for (struct mc_voip_call *c = v->buckets[h & v->mask]; c; c = c->hnext)
        if (c->hash == h && text_eq(&c->id, id))
            return c;
    return NULL;
}

static void drop(struct mc_voip *v, struct mc_voip_call *c)
{
    struct mc_voip_call **pp = &v->buckets[c->hash & v->mask];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    unlink_call(c->on_done ? &v->done : &v->live, c);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < MC_VOIP_EPS; i++)
            ep_remove(v, &c->eps[s][i]);
    free(c);
    v->n--;
}

static void end_call(struct mc_voip *v, struct mc_voip_call *c, int state, int cause, uint64_t ms, struct mc_agg *agg);

/* Both indexes twice as large, each chain's order kept (an endpoint two calls announced finds the same one). */
static void grow(struct mc_voip *v)
{
    uint32_t nb = v->mask + 1, nn = nb * 2;
    if (v->n <= nb || nb >= pow2_at_least(v->cfg.max_calls))
        return;
    struct mc_voip_call **b = calloc(nn, sizeof(*b)), ***bt = calloc(nn, sizeof(*bt));
    struct ep **eb = calloc(nn, sizeof(*eb)), ***et = calloc(nn, sizeof(*et));
    if (!b || !bt || !eb || !et) { /* no memory: the chains grow longer instead */
        free(b), free(bt), free(eb), free(et);
        return;
    }
    for (uint32_t i = 0; i < nn; i++)
        bt[i] = &b[i], et[i] = &eb[i];
    for (uint32_t i = 0; i < nb; i++) {
        for (struct mc_voip_call *c = v->buckets[i], *next; c; c = next) {
            next = c->hnext;
            uint32_t k = c->hash & (nn - 1);
            c->hnext = NULL;
            *bt[k] = c;
            bt[k] = &c->hnext;
        }
        for (struct ep *e = v->ep_buckets[i], *next; e; e = next) {
            next = e->hnext;
            uint32_t k = ep_hash(e->ver, &e->addr, e->port) & (nn - 1);
            e->hnext = NULL;
            *et[k] = e;
            et[k] = &e->hnext;
        }
    }
    free(bt), free(et);
    free(v->buckets), free(v->ep_buckets);
    v->buckets = b, v->ep_buckets = eb;
    v->mask = nn - 1;
    MC_CTR_INC(l7_voip, index_grown);
}

static struct mc_voip_call *make(struct mc_voip *v, struct mc_voip_text id, uint32_t h, int kind, uint64_t ms,
                                 struct mc_agg *agg)
{
    if (v->n >= v->cfg.max_calls) {
        /* room: a lingering ended call first, else the least recently active one */
        struct mc_voip_call *old = v->done.head ? v->done.head : v->live.head;
        if (!old)
            return NULL;
        MC_CTR_INC(l7_voip, evicted);
        if (!old->on_done && old->kind == K_CALL)
            end_call(v, old, old->state == MC_CALL_ANSWERED ? MC_CALL_ENDED : MC_CALL_FAILED, MC_END_EVICTED, ms, agg);
        drop(v, old);
    }
    struct mc_voip_call *c = calloc(1, sizeof(*c));
    if (!c) {
        MC_CTR_INC(l7_voip, alloc_failed);
        return NULL;
    }
    c->kind = (uint8_t)kind;
    c->hash = h;
    c->hangup_by = 0xff;
    c->last_ms = ms;
    copy_text(&c->id, id);
    c->hnext = v->buckets[h & v->mask];
    v->buckets[h & v->mask] = c;
    append(&v->live, c);
    v->n++;
    grow(v);
    return c;
}

static void touch(struct mc_voip *v, struct mc_voip_call *c, uint64_t ms)
{
    if (ms > c->last_ms)
        c->last_ms = ms;
    if (!c->on_done) {
        unlink_call(&v->live, c);
        append(&v->live, c);
    }
}

/* side's endpoints become what sdp announces (an offer or answer replaces the last one). */
static int set_media(struct mc_voip *v, struct mc_voip_call *c, int side, const struct mc_sdp *sdp)
{
    struct mc_sdp_endpoint got[MC_VOIP_EPS];
    size_t n = mc_sdp_endpoints(sdp, got, MC_VOIP_EPS);
    if (!n)
        return 0;
    int changed = 0;
    for (int i = 0; i < MC_VOIP_EPS; i++) {
        struct ep *e = &c->eps[side][i];
        int same = (size_t)i < n && e->used && e->ver == got[i].addr.ver && e->port == got[i].port &&
                   memcmp(e->addr.b, got[i].addr.b, 16) == 0;
        if (same)
            continue;
        changed |= e->used || (size_t)i < n;
        ep_remove(v, e);
        if ((size_t)i >= n)
            continue;
        e->call = c;
        e->side = (uint8_t)side;
        e->ver = got[i].addr.ver;
        e->port = got[i].port;
        memset(&e->addr, 0, sizeof(e->addr));
        memcpy(e->addr.b, got[i].addr.b, 16);
        e->used = 1;
        struct ep **b = &v->ep_buckets[ep_hash(e->ver, &e->addr, e->port) & v->mask];
        e->hnext = *b;
        *b = e;
    }
    int cut = 0;
    mc_sdp_codecs_text(sdp, c->codecs, sizeof(c->codecs), &cut);
    return changed;
}

/* ---- the cloud (docs/CLOUD.md: voip.*) -------------------------------------- */

static const char *const state_names[] = { "", "trying", "ringing", "answered", "ended", "cancelled", "failed" };
static const char *const cause_names[] = { "", "bye", "cancel", "rejected", "timeout", "evicted" };

const char *mc_voip_state_name(int state)
{
    return state > 0 && state < (int)(sizeof(state_names) / sizeof(state_names[0])) ? state_names[state] : "";
}

const struct mc_voip_call *mc_voip_call_find(const struct mc_voip *v, const char *id, size_t n)
{
    if (!v || !n)
        return NULL;
    struct mc_voip_text t = id_key(id, n);
    return find(v, t, id_hash(t));
}

/* "ip:port,ip:port" of a side's endpoints ([v6]:port for IPv6). */
static size_t eps_text(const struct mc_voip_call *c, int side, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < MC_VOIP_EPS; i++) {
        const struct ep *e = &c->eps[side][i];
        if (!e->used)
            continue;
        char a[64];
        mc_addr_text(e->ver, &e->addr, a, sizeof(a));
        int w = snprintf(out + n, cap - n, e->ver == 6 ? "%s[%s]:%u" : "%s%s:%u", n ? "," : "", a, e->port);
        if (w < 0 || (size_t)w >= cap - n) {
            out[n] = '\0';
            break;
        }
        n += (size_t)w;
    }
    return n;
}

static int ep_key(const struct ep *e, char *key, size_t cap)
{
    char t[80];
    size_t n = mc_hostport_text(e->ver, &e->addr, e->port, t, sizeof(t));
    return n ? snprintf(key, cap, "voip.rtp.%s", t) : 0;
}

static void put_u64(struct mc_agg *agg, const char *key, size_t kl, const char *field, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
    mc_agg_hset(agg, key, kl, field, t, (size_t)n);
}

/* voip.call.<id> and its voip.rtp.* keys, as they stand. */
static void write_call(struct mc_voip *v, const struct mc_voip_call *c, struct mc_agg *agg)
{
    if (!agg)
        return;
    char key[KEY_MAX];
    int kn = snprintf(key, sizeof(key), "voip.call.%s", c->id.s);
    if (kn <= 0 || (size_t)kn >= sizeof(key))
        return;
    size_t kl = (size_t)kn;
    char t[512];
    mc_agg_hset(agg, key, kl, "caller", c->caller.s, c->caller.n);
    mc_agg_hset(agg, key, kl, "callee", c->callee.s, c->callee.n);
    mc_agg_hset(agg, key, kl, "caller_ip", t, mc_addr_text(c->ip_ver, &c->caller_ip, t, sizeof(t)));
    mc_agg_hset(agg, key, kl, "callee_ip", t, mc_addr_text(c->ip_ver, &c->callee_ip, t, sizeof(t)));
    mc_agg_hset(agg, key, kl, "state", state_names[c->state], strlen(state_names[c->state]));
    put_u64(agg, key, kl, "invite_ms", c->invite_ms);
    if (c->ring_ms) {
        put_u64(agg, key, kl, "ring_ms", c->ring_ms);
        put_u64(agg, key, kl, "setup_ms", c->ring_ms - c->invite_ms);
    }
    if (c->answer_ms)
        put_u64(agg, key, kl, "answer_ms", c->answer_ms);
    if (c->end_ms) {
        put_u64(agg, key, kl, "end_ms", c->end_ms);
        if (c->answer_ms)
            put_u64(agg, key, kl, "duration_ms", c->end_ms - c->answer_ms);
        mc_agg_hset(agg, key, kl, "end_cause", cause_names[c->end_cause], strlen(cause_names[c->end_cause]));
        if (c->hangup_by != 0xff)
            mc_agg_hset(agg, key, kl, "hangup_by", c->hangup_by == CALLER ? "caller" : "callee", 6);
    }
    if (c->status)
        put_u64(agg, key, kl, "status", c->status);
    mc_agg_hset(agg, key, kl, "caller_rtp", t, eps_text(c, CALLER, t, sizeof(t)));
    mc_agg_hset(agg, key, kl, "callee_rtp", t, eps_text(c, CALLEE, t, sizeof(t)));
    mc_agg_hset(agg, key, kl, "codecs", c->codecs, strlen(c->codecs));
    /* a running call lives while it may still be running; an ended one a while after */
    uint32_t ttl = c->end_ms ? v->cfg.call_ttl_ms : v->cfg.idle_ms + v->cfg.call_ttl_ms;
    mc_agg_expire(agg, key, kl, ttl);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < MC_VOIP_EPS; i++) {
            const struct ep *e = &c->eps[s][i];
            char ek[KEY_MAX];
            int en = e->used ? ep_key(e, ek, sizeof(ek)) : 0;
            if (en <= 0 || (size_t)en >= sizeof(ek))
                continue;
            mc_agg_hset(agg, ek, (size_t)en, "call_id", c->id.s, c->id.n);
            mc_agg_hset(agg, ek, (size_t)en, "side", s == CALLER ? "caller" : "callee", 6);
            mc_agg_expire(agg, ek, (size_t)en, ttl);
        }
}

/*
 * The address of record of a URI: without its parameters and headers
 * (sip:bob@example.com;user=phone -> sip:bob@example.com), as registrars
 * compare them (RFC 3261 10.3), so one user has one key.
 */
static size_t aor_len(const struct text *uri)
{
    size_t n = strcspn(uri->s, ";?>");
    return n < uri->n ? n : uri->n;
}

static int user_key(const struct text *uri, char *key, size_t cap)
{
    return snprintf(key, cap, "voip.user.%.*s", (int)aor_len(uri), uri->s);
}

/* voip.user.<aor>: activity of a party (a call, a registration); voip.users by last activity. */
static void write_user(struct mc_voip *v, const struct text *uri, uint64_t ms, int call, struct mc_agg *agg)
{
    if (!agg || !aor_len(uri))
        return;
    char key[KEY_MAX];
    int kn = user_key(uri, key, sizeof(key));
    if (kn <= 0 || (size_t)kn >= sizeof(key))
        return;
    size_t kl = (size_t)kn;
    mc_agg_hincr(agg, key, kl, "seen", 1);
    if (call)
        mc_agg_hincr(agg, key, kl, "calls", 1);
    mc_agg_hmax(agg, key, kl, "last_seen", ms);
    mc_agg_expire(agg, key, kl, v->cfg.user_ttl_ms);
    mc_agg_zmax(agg, "voip.users", 10, uri->s, aor_len(uri), ms);
    if (ms > v->cfg.active_ms)
        mc_agg_ztrim(agg, "voip.users", 10, ms - v->cfg.active_ms);
    char json[MC_VOIP_TEXT_MAX * 6 + 64];
    struct mc_jbuf m;
    mc_jbuf_init(&m, json, sizeof(json));
    mc_jbuf_lit(&m, "{\"uri\":");
    mc_jbuf_str(&m, uri->s, aor_len(uri));
    mc_jbuf_lit(&m, ",\"ts\":");
    mc_jbuf_u64(&m, ms);
    mc_jbuf_lit(&m, "}");
    size_t jn = mc_jbuf_len(&m);
    if (jn)
        mc_agg_publish_if_new(agg, key, kl, "seen", "voip.user.new", json, jn);
}

/* events.voip.call.<what>: the call as it stands. */
static void call_event(const struct mc_voip_call *c, const char *what, struct mc_agg *agg)
{
    if (!agg)
        return;
    char json[2048];
    struct mc_jbuf m;
    mc_jbuf_init(&m, json, sizeof(json));
    char a[64];
    mc_jbuf_lit(&m, "{\"call_id\":");
    mc_jbuf_str(&m, c->id.s, c->id.n);
    mc_jbuf_lit(&m, ",\"caller\":");
    mc_jbuf_str(&m, c->caller.s, c->caller.n);
    mc_jbuf_lit(&m, ",\"callee\":");
    mc_jbuf_str(&m, c->callee.s, c->callee.n);
    mc_addr_text(c->ip_ver, &c->caller_ip, a, sizeof(a));
    mc_jbuf_fmt(&m, ",\"caller_ip\":\"%s\",\"state\":\"%s\",\"invite_ms\":%llu", a, state_names[c->state],
                (unsigned long long)c->invite_ms);
    if (c->answer_ms)
        mc_jbuf_fmt(&m, ",\"answer_ms\":%llu", (unsigned long long)c->answer_ms);
    if (c->end_ms) {
        mc_jbuf_fmt(&m, ",\"end_ms\":%llu,\"end_cause\":\"%s\"", (unsigned long long)c->end_ms,
                    cause_names[c->end_cause]);
        if (c->answer_ms)
            mc_jbuf_fmt(&m, ",\"duration_ms\":%llu", (unsigned long long)(c->end_ms - c->answer_ms));
        if (c->hangup_by != 0xff)
            mc_jbuf_fmt(&m, ",\"hangup_by\":\"%s\"", c->hangup_by == CALLER ? "caller" : "callee");
        if (c->status)
            mc_jbuf_fmt(&m, ",\"status\":%u", c->status);
    }
    mc_jbuf_lit(&m, "}");
    size_t jn = mc_jbuf_len(&m);
    char name[32];
    snprintf(name, sizeof(name), "voip.call.%s", what);
    if (jn && mc_agg_publish(agg, name, json, jn) == 0)
        mc_agg_hurry(agg); /* who follows calls wants them as they happen, not a flush interval later */
}

/* ---- the state machine ------------------------------------------------------- */

static void end_call(struct mc_voip *v, struct mc_voip_call *c, int state, int cause, uint64_t ms, struct mc_agg *agg)
{
    if (c->on_done)
        return;
    c->state = (uint8_t)state;
    c->end_cause = (uint8_t)cause;
    c->end_ms = ms > c->invite_ms ? ms : c->invite_ms;
    switch (state) {
    case MC_CALL_ENDED:
        MC_CTR_INC(l7_voip, ended);
        break;
    case MC_CALL_CANCELLED:
        MC_CTR_INC(l7_voip, cancelled);
        break;
    default:
        MC_CTR_INC(l7_voip, failed);
        break;
    }
    unlink_call(&v->live, c);
    append(&v->done, c);
    c->on_done = 1;
    write_call(v, c, agg);
    call_event(c, "end", agg);
}

static int is(struct mc_voip_text t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && memcmp(t.p, lit, n) == 0;
}

/*
 * Which side sent m.  The From tag names who sent the request of a
 * transaction (a response carries its request's From): the caller's tag in a
 * request means the caller sent it, in a response that the callee answers.
 */
static int sender_side(const struct mc_voip_call *c, const struct mc_voip_msg *m)
{
    if (c->caller_tag.n && m->from_tag.n) {
        int callers = m->from_tag.n == c->caller_tag.n && memcmp(m->from_tag.p, c->caller_tag.s, c->caller_tag.n) == 0;
        return callers == m->request ? CALLER : CALLEE;
    }
    return memcmp(&m->src, &c->caller_ip, sizeof(m->src)) == 0 ? CALLER : CALLEE;
}

static void on_invite(struct mc_voip *v, struct mc_voip_call *c, const struct mc_voip_msg *m, struct mc_agg *agg)
{
    if (!c->invite_ms) {
        /* the dialog's first INVITE: the caller is its sender */
        MC_CTR_INC(l7_voip, calls);
        c->state = MC_CALL_TRYING;
        c->invite_ms = m->ms;
        c->invite_cseq = m->cseq;
        c->ip_ver = m->ip_ver;
        c->caller_ip = m->src;
        c->callee_ip = m->dst;
        copy_text(&c->caller, m->from);
        copy_text(&c->callee, m->to);
        copy_tag(&c->caller_tag, m->from_tag);
        copy_text(&c->ua, m->user_agent);
        if (m->sdp)
            set_media(v, c, CALLER, m->sdp);
        write_call(v, c, agg);
        write_user(v, &c->caller, m->ms, 1, agg);
        write_user(v, &c->callee, m->ms, 1, agg);
        call_event(c, "start", agg);
        return;
    }
    if (c->challenged && !m->to_tag.n && m->has_cseq && m->cseq != c->invite_cseq) {
        /* the INVITE again with the credentials the 401/407 asked for: the same call goes on */
        c->challenged = 0;
        c->invite_cseq = m->cseq;
    }
    /* a retransmission, or a re-INVITE that may move the media */
    if (m->sdp && set_media(v, c, sender_side(c, m), m->sdp)) {
        MC_CTR_INC(l7_voip, media_updates);
        write_call(v, c, agg);
    }
}

static void on_invite_response(struct mc_voip *v, struct mc_voip_call *c, const struct mc_voip_msg *m,
                               struct mc_agg *agg)
{
    if (m->sdp && set_media(v, c, sender_side(c, m), m->sdp) && c->state == MC_CALL_ANSWERED)
        MC_CTR_INC(l7_voip, media_updates);
    if (c->on_done)
        return;
    if (m->status >= 180 && m->status < 200 && c->state == MC_CALL_TRYING) {
        c->state = MC_CALL_RINGING;
        c->ring_ms = m->ms;
        write_call(v, c, agg);
    } else if (m->status >= 200 && m->status < 300 && c->state != MC_CALL_ANSWERED) {
        MC_CTR_INC(l7_voip, answered);
        c->state = MC_CALL_ANSWERED;
        c->answer_ms = m->ms;
        c->status = m->status;
        write_call(v, c, agg);
        call_event(c, "answer", agg);
    } else if ((m->status == 401 || m->status == 407) && c->state != MC_CALL_ANSWERED) {
        /* a challenge, not an end: the caller sends the INVITE again with credentials (RFC 3261 22.2);
         * if it never does, the call failed when challenged (mc_voip_tick, mc_voip_finish) */
        c->status = m->status;
        c->challenged = 1;
        c->challenge_ms = m->ms;
        write_call(v, c, agg);
    } else if (m->status >= 300 && c->state != MC_CALL_ANSWERED) {
        c->status = m->status;
        end_call(v, c, m->status == 487 ? MC_CALL_CANCELLED : MC_CALL_FAILED,
                 m->status == 487 ? MC_END_CANCEL : MC_END_REJECTED, m->ms, agg);
    } else if (m->sdp) {
        write_call(v, c, agg); /* an answered call's re-INVITE answered: the media moved */
    }
}

/* A REGISTER's 2xx binds its address of record (To) to the client until it expires. */
static void on_register_ok(struct mc_voip *v, struct mc_voip_call *c, const struct mc_voip_msg *m,
                           struct mc_agg *agg)
{
    uint32_t expires = m->has_expires ? m->expires : c->expires;
    if (expires)
        MC_CTR_INC(l7_voip, registrations);
    else
        MC_CTR_INC(l7_voip, unregistrations);
    if (!agg || !aor_len(&c->callee))
        return;
    char key[KEY_MAX];
    int kn = user_key(&c->callee, key, sizeof(key));
    if (kn <= 0 || (size_t)kn >= sizeof(key))
        return;
    char t[64];
    mc_agg_hset(agg, key, (size_t)kn, "ip", t, mc_addr_text(c->ip_ver, &c->caller_ip, t, sizeof(t)));
    if (m->contact.n) {
        struct text ct;
        copy_text(&ct, m->contact);
        mc_agg_hset(agg, key, (size_t)kn, "contact", ct.s, ct.n);
    } else if (c->contact.n) {
        mc_agg_hset(agg, key, (size_t)kn, "contact", c->contact.s, c->contact.n);
    }
    if (c->ua.n)
        mc_agg_hset(agg, key, (size_t)kn, "user_agent", c->ua.s, c->ua.n);
    put_u64(agg, key, (size_t)kn, "registered_until", m->ms + (uint64_t)expires * 1000);
    write_user(v, &c->callee, m->ms, 0, agg);
}

void mc_voip_message(struct mc_voip *v, const struct mc_voip_msg *m, struct mc_agg *agg)
{
    if (!v || !m->call_id.n)
        return;
    struct mc_voip_text id = id_key(m->call_id.p, m->call_id.n);
    uint32_t h = id_hash(id);
    struct mc_voip_call *c = find(v, id, h);
    struct mc_voip_text cseq_method = m->request ? m->method : m->cseq_method;
    if (m->request) {
        if (is(m->method, "INVITE") || is(m->method, "REGISTER")) {
            int reg = is(m->method, "REGISTER");
            if (c && c->kind != (reg ? K_REGISTER : K_CALL)) {
                MC_CTR_INC(l7_voip, no_call); /* one Call-ID for both: keep the first */
                return;
            }
            if (c && !reg && c->on_done && !m->to_tag.n && (!m->has_cseq || m->cseq != c->invite_cseq)) {
                drop(v, c); /* the Call-ID used again for a new call: the key tells the latest */
                c = NULL;
            }
            if (!c && !(c = make(v, id, h, reg ? K_REGISTER : K_CALL, m->ms, agg)))
                return;
            touch(v, c, m->ms);
            if (!reg) {
                on_invite(v, c, m, agg);
            } else {
                /* what the answer will bind: the client, its contact and software, the lifetime asked */
                c->ip_ver = m->ip_ver;
                c->caller_ip = m->src;
                copy_text(&c->callee, m->to);
                copy_text(&c->contact, m->contact);
                copy_text(&c->ua, m->user_agent);
                c->expires = m->has_expires ? m->expires : 3600; /* RFC 3261 10.2.1.1's default */
            }
            return;
        }
        if (!c || c->kind != K_CALL) {
            if (is(m->method, "BYE") || is(m->method, "CANCEL"))
                MC_CTR_INC(l7_voip, no_call); /* its INVITE was before the capture */
            return;
        }
        touch(v, c, m->ms);
        if (is(m->method, "BYE")) {
            if (!c->on_done) {
                c->hangup_by = (uint8_t)sender_side(c, m);
                end_call(v, c, c->state == MC_CALL_ANSWERED ? MC_CALL_ENDED : MC_CALL_CANCELLED,
                         c->state == MC_CALL_ANSWERED ? MC_END_BYE : MC_END_CANCEL, m->ms, agg);
            }
        } else if (is(m->method, "CANCEL")) {
            if (!c->on_done && c->state != MC_CALL_ANSWERED) {
                c->hangup_by = CALLER;
                end_call(v, c, MC_CALL_CANCELLED, MC_END_CANCEL, m->ms, agg);
            }
        } else if ((is(m->method, "UPDATE") || is(m->method, "PRACK") || is(m->method, "ACK")) && m->sdp) {
            if (set_media(v, c, sender_side(c, m), m->sdp)) {
                MC_CTR_INC(l7_voip, media_updates);
                write_call(v, c, agg);
            }
        }
        return;
    }
    if (!c)
        return;
    touch(v, c, m->ms);
    if (c->kind == K_REGISTER) {
        if (is(cseq_method, "REGISTER") && m->status >= 200 && m->status < 300) {
            on_register_ok(v, c, m, agg);
            drop(v, c); /* the binding is in the cloud; the next REGISTER starts afresh */
        } else if (m->status >= 300) {
            drop(v, c);
        }
        return;
    }
    if (is(cseq_method, "INVITE")) {
        on_invite_response(v, c, m, agg);
    } else if ((is(cseq_method, "UPDATE") || is(cseq_method, "PRACK")) && m->sdp &&
               set_media(v, c, sender_side(c, m), m->sdp)) {
        MC_CTR_INC(l7_voip, media_updates);
        write_call(v, c, agg);
    }
}

void mc_voip_media(struct mc_voip *v, const char *call_id, int to_side, const struct mc_voip_quality *q, uint64_t now_ms,
                   uint8_t *alerted, struct mc_agg *agg)
{
    if (!v || !agg || !call_id || !*call_id)
        return;
    char key[KEY_MAX];
    int kn = snprintf(key, sizeof(key), "voip.call.%s", call_id);
    if (kn <= 0 || (size_t)kn >= sizeof(key))
        return;
    size_t kl = (size_t)kn;
    const char *who = to_side == CALLER ? "caller" : "callee";
    char field[48], val[48];
    int vn;
#define PUT(name, fmt, value)                                                  \
    snprintf(field, sizeof(field), "rtp_to_%s_%s", who, name);                \
    vn = snprintf(val, sizeof(val), fmt, value);                             \
    if (vn > 0 && (size_t)vn < sizeof(val))                                  \
        mc_agg_hset(agg, key, kl, field, val, (size_t)vn);
    PUT("packets", "%llu", (unsigned long long)q->packets)
    PUT("lost", "%llu", (unsigned long long)q->lost)
    PUT("jitter_ms", "%.3f", q->jitter_ms)
    PUT("jitter_max_ms", "%.3f", q->jitter_max_ms)
    PUT("mos", "%.2f", q->mos)
    PUT("updated_ms", "%llu", (unsigned long long)now_ms)
#undef PUT
    if (q->codec && *q->codec) {
        snprintf(field, sizeof(field), "rtp_to_%s_codec", who);
        mc_agg_hset(agg, key, kl, field, q->codec, strlen(q->codec));
    }
    /* a stream worse than the threshold: said once per direction, by the call's bits while this probe
     * holds the call, else (its SIP went past another probe) by the media flow's */
    struct mc_voip_text id = id_key(call_id, strlen(call_id));
    struct mc_voip_call *c = find(v, id, id_hash(id));
    uint8_t *bits = c ? &c->alerted : alerted;
    if (!bits || q->mos <= 0 || q->mos >= v->cfg.mos_alert || (*bits >> to_side & 1))
        return;
    *bits |= (uint8_t)(1u << to_side);
    char json[512];
    struct mc_jbuf m;
    mc_jbuf_init(&m, json, sizeof(json));
    mc_jbuf_lit(&m, "{\"call_id\":");
    mc_jbuf_str(&m, id.p, id.n);
    mc_jbuf_fmt(&m, ",\"stream_to\":\"%s\",\"mos\":%.2f,\"packets\":%llu,\"lost\":%llu,\"jitter_ms\":%.3f,\"ts\":%llu}",
                who, q->mos, (unsigned long long)q->packets, (unsigned long long)q->lost, q->jitter_ms,
                (unsigned long long)now_ms);
    size_t jn = mc_jbuf_len(&m);
    if (jn)
        mc_agg_publish(agg, "voip.call.quality", json, jn);
}

void mc_voip_tick(struct mc_voip *v, uint64_t now_ms, struct mc_agg *agg)
{
    if (!v)
        return;
    for (int k = 0; k < AGE_PER_TICK && v->done.head; k++) {
        struct mc_voip_call *c = v->done.head;
        if (now_ms < c->end_ms + v->cfg.linger_ms)
            break;
        drop(v, c);
    }
    for (int k = 0; k < AGE_PER_TICK && v->live.head; k++) {
        struct mc_voip_call *c = v->live.head;
        if (now_ms < c->last_ms + v->cfg.idle_ms)
            break;
        if (c->kind == K_CALL && c->challenged) {
            end_call(v, c, MC_CALL_FAILED, MC_END_REJECTED, c->challenge_ms, agg);
        } else if (c->kind == K_CALL) {
            MC_CTR_INC(l7_voip, timed_out);
            end_call(v, c, c->state == MC_CALL_ANSWERED ? MC_CALL_ENDED : MC_CALL_FAILED, MC_END_TIMEOUT, now_ms,
                     agg);
        } else {
            drop(v, c); /* a REGISTER never answered */
        }
    }
}

void mc_voip_finish(struct mc_voip *v, struct mc_agg *agg)
{
    if (!v)
        return;
    /* the input ended: a challenge nothing answered is the call's end; running calls stay as they are */
    for (struct mc_voip_call *c = v->live.head, *next; c; c = next) {
        next = c->next;
        if (c->kind == K_CALL && c->challenged)
            end_call(v, c, MC_CALL_FAILED, MC_END_REJECTED, c->challenge_ms, agg);
    }
}

void mc_voip_free(struct mc_voip *v)
{
    if (!v)
        return;
    while (v->live.head)
        drop(v, v->live.head);
    while (v->done.head)
        drop(v, v->done.head);
    free(v->buckets);
    free(v->ep_buckets);
    free(v);
}
