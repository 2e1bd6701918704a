/*
 * mobile.c - the subscriber layer (see mobile.h): a bounded table of mobile
 * sessions, each a GTPv1 PDP context or a GTPv2 PDN connection as one GTP-C
 * peer pair (SGSN-GGSN, MME-SGW, SGW-PGW) holds it.
 *
 * A session is made by an accepted create (Create PDP Context, Create
 * Session: the request names the subscriber, the response the UE's address
 * and the gateway's endpoints), changed by updates (Update PDP Context,
 * Modify Bearer, Create/Update Bearer: a handover moves the user plane to a
 * new SGSN/eNodeB endpoint), and ends with a delete, a cause saying the
 * context is gone, ageing or eviction.  Later messages find their session
 * by the control endpoint they are sent to (the header's TEID at the
 * receiver's address, TS 29.060 / 29.274), else by the IMSI they carry.
 *
 * Three indexes share one chained hash table: control endpoints
 * (address, TEID-C), user-plane endpoints (address, TEID-U: what a GTP-U
 * packet is sent to) and UE addresses (IPv6 by its /64 prefix, the UE
 * picks its interface identifier).  Ageing walks the head of the activity
 * list only (at most AGE_PER_TICK per tick).
 *
 * The cloud: each session's subscriber goes out through the cloud's user
 * primitive (mc_cloud_user_set_keys: user.<imsi> with its attributes,
 * user.ip.<ue-addr> and user.teid.<peer>:<teid> pointing at the IMSI, no
 * TTL), removed when the session ends; events.gtp.session.* through the
 * aggregation interface.
 */
#include "l7/mobile.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/agg.h"
#include "cloud/cloud.h"
#include "cloud/lookup.h"
#include "decode/pkt.h"
#include "flow/flow.h"
#include "common/hostport.h"
#include "common/json.h"
#include "common/text.h"

MC_CTR_DEFINE(l7_mobile, MC_L7_MOBILE_CTRS)

#define UEPS 8          /* user-plane endpoints kept per session */
#define UEPS_INLINE 2   /* ... in the session itself: one bearer's, each way (most sessions); the rest on demand */
#define AGE_PER_TICK 64
#define KEYS_MAX (UEPS + 3)

enum ix_kind { IX_CTRL = 1, IX_USER, IX_UE };
enum txn_kind { T_NONE, T_CREATE, T_UPDATE, T_DELETE, T_DELETE_BEARER };

struct sess;

/* An index entry: a control or user-plane endpoint, or a UE address, of a session. */
struct ix {
    struct ix *next;
    struct sess *s;
    uint8_t kind, ver, used;
    uint8_t side;   /* which peer announced it: 0 the session's creator (SGSN, MME, SGW on S5), 1 the other */
    uint8_t iface;  /* its F-TEID interface type (v1: MC_GTPC_IF_V1_*) */
    uint8_t ebi;
    uint32_t teid;
    uint32_t hash;
    struct mc_addr addr;
};

struct sess {
    struct sess *prev, *next;   /* the activity list, least recent first */
    struct sess *inext;         /* IMSI chain */
    uint32_t ihash;
    uint8_t version, has_rat, rat;
    struct mc_mobile_sub sub;
    char mcc[4], mnc[4];
    uint8_t has_tai, has_ecgi, has_cgi, has_sai, has_rai;
    uint16_t lac, ci, sac, rac, tac;
    uint32_t eci;
    uint64_t since_ms, last_ms;
    struct ix ctrl[2];          /* each side's control endpoint */
    struct ix user[UEPS_INLINE];
    struct ix *user_more;       /* owned: UEPS - UEPS_INLINE more, allocated when a session needs them */
    struct ix ue[2];            /* [0] IPv4, [1] IPv6 (indexed by its /64) */
    uint8_t ue6[16];            /* the IPv6 address as announced */
};

/* User-plane endpoint slot i (< UEPS) of s; NULL past the inline ones while s never needed more. */
static struct ix *uep(const struct sess *s, int i)
{
    if (i < UEPS_INLINE)
        return (struct ix *)&s->user[i];
    return s->user_more ? &s->user_more[i - UEPS_INLINE] : NULL;
}

struct mc_mobile {
    struct mc_mobile_config cfg;
    struct mc_cloud *cloud;     /* borrowed: the user primitive; NULL without a cloud */
    uint32_t n;                 /* sessions */
    uint32_t n_ix;              /* index entries linked */
    uint32_t imask, smask, max_buckets;
    struct ix **ib;             /* the three indexes: imask + 1 buckets */
    struct sess **sb;           /* by IMSI: smask + 1 buckets */
    struct sess *head, *tail;   /* activity */
    struct mc_lookup *lk;       /* borrowed: the cloud's lookups, for the flows waiting on them */
    struct waiting { struct mc_flow *f; struct mc_mobile_flow *mf; } *wait; /* owned: WAIT_MAX */
    uint32_t n_wait;
};

void mc_mobile_config_defaults(struct mc_mobile_config *cfg)
{
    cfg->max_sessions = 1u << 20;
    cfg->idle_ms = 24u * 3600 * 1000;
    cfg->linger_ms = 3600u * 1000;
}

#define MIN_BUCKETS 1024u

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 64;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

struct mc_mobile *mc_mobile_new(const struct mc_mobile_config *cfg)
{
    struct mc_mobile *mb = calloc(1, sizeof(*mb));
    if (!mb)
        return NULL;
    mb->cfg = *cfg;
    if (!mb->cfg.max_sessions)
        mb->cfg.max_sessions = 1;
    /* buckets grow with what the tables hold (grow_ix, grow_sess), up to one
     * per session allowed: 10,000 subscribers in tables sized for a million
     * had touched 16 MB of buckets, a page (and a cache miss) per lookup */
    mb->max_buckets = pow2_at_least(mb->cfg.max_sessions);
    uint32_t nb = mb->max_buckets < MIN_BUCKETS ? mb->max_buckets : MIN_BUCKETS;
    mb->imask = mb->smask = nb - 1;
    mb->ib = calloc(nb, sizeof(*mb->ib));
    mb->sb = calloc(nb, sizeof(*mb->sb));
    if (!mb->ib || !mb->sb) {
        mc_mobile_free(mb);
        return NULL;
    }
    return mb;
}

void mc_mobile_set_cloud(struct mc_mobile *mb, struct mc_cloud *cloud)
{
    if (mb)
        mb->cloud = cloud;
}

/* ---- indexes ------------------------------------------------------------- */

static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u; /* FNV-1a */
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    return h ^ (h >> 12);
}

static size_t addr_len(uint8_t ver) { return ver == 6 ? 16 : 4; }

static uint32_t ix_hash(uint8_t kind, uint8_t ver, const struct mc_addr *a, uint32_t teid)
{
    uint8_t head[6] = { kind, ver, (uint8_t)(teid >> 24), (uint8_t)(teid >> 16), (uint8_t)(teid >> 8), (uint8_t)teid };
    return hash_bytes(a->b, addr_len(ver), hash_bytes(head, sizeof(head), 2166136261u));
}

/* Doubles the index's buckets when it holds more entries than buckets (amortised O(1) a link). */
static void grow_ix(struct mc_mobile *mb)
{
    uint32_t nb = mb->imask + 1;
    if (mb->n_ix <= nb || nb >= mb->max_buckets)
        return;
    struct ix **b = calloc((size_t)nb * 2, sizeof(*b));
    if (!b)
        return; /* the chains get longer, nothing is lost */
    for (uint32_t i = 0; i < nb; i++)
        for (struct ix *e = mb->ib[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb * 2 - 1)];
            b[e->hash & (nb * 2 - 1)] = e;
        }
    free(mb->ib);
    mb->ib = b;
    mb->imask = nb * 2 - 1;
}

static void grow_sess(struct mc_mobile *mb)
{
    uint32_t nb = mb->smask + 1;
    if (mb->n <= nb || nb >= mb->max_buckets)
        return;
    struct sess **b = calloc((size_t)nb * 2, sizeof(*b));
    if (!b)
        return;
    for (uint32_t i = 0; i < nb; i++)
        for (struct sess *s = mb->sb[i], *next; s; s = next) {
            next = s->inext;
            s->inext = b[s->ihash & (nb * 2 - 1)];
            b[s->ihash & (nb * 2 - 1)] = s;
        }
    free(mb->sb);
    mb->sb = b;
    mb->smask = nb * 2 - 1;
}

static void ix_unlink(struct mc_mobile *mb, struct ix *e)
{
    if (!e->used)
        return;
    struct ix **pp = &mb->ib[e->hash & mb->imask];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    e->used = 0;
    e->next = NULL;
    mb->n_ix--;
}

static void ix_link(struct mc_mobile *mb, struct sess *s, struct ix *e, uint8_t kind, uint8_t ver,
                    const struct mc_addr *a, uint32_t teid)
{
    ix_unlink(mb, e);
    e->s = s;
    e->kind = kind;
    e->ver = ver;
    memset(&e->addr, 0, sizeof(e->addr));
    memcpy(e->addr.b, a->b, addr_len(ver));
    e->teid = teid;
    e->hash = ix_hash(kind, ver, &e->addr, teid);
    e->used = 1;
    mb->n_ix++;
    grow_ix(mb);
    e->next = mb->ib[e->hash & mb->imask];
    mb->ib[e->hash & mb->imask] = e;
}

static struct ix *ix_find(const struct mc_mobile *mb, uint8_t kind, uint8_t ver, const struct mc_addr *a, uint32_t teid)
{
    struct mc_addr k = { 0 };
    memcpy(k.b, a->b, addr_len(ver));
    uint32_t h = ix_hash(kind, ver, &k, teid);
    for (struct ix *e = mb->ib[h & mb->imask]; e; e = e->next)
        if (e->hash == h && e->kind == kind && e->ver == ver && e->teid == teid &&
            memcmp(e->addr.b, k.b, addr_len(ver)) == 0)
            return e;
    return NULL;
}

/* A UE's IPv6 address as the index keys it: its /64. */
static struct mc_addr prefix64(const struct mc_addr *a)
{
    struct mc_addr p = { 0 };
    memcpy(p.b, a->b, 8);
    return p;
}

static uint32_t imsi_hash(const char *imsi) { return hash_bytes(imsi, strlen(imsi), 2166136261u); }

static struct sess *by_imsi(const struct mc_mobile *mb, const char *imsi, const struct sess *not)
{
    uint32_t h = imsi_hash(imsi);
    for (struct sess *s = mb->sb[h & mb->smask]; s; s = s->inext)
        if (s != not && s->ihash == h && strcmp(s->sub.imsi, imsi) == 0)
            return s;
    return NULL;
}

/* ---- the activity list --------------------------------------------------- */

static void list_unlink(struct mc_mobile *mb, struct sess *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        mb->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        mb->tail = s->prev;
    s->prev = s->next = NULL;
}

static void list_append(struct mc_mobile *mb, struct sess *s)
{
    s->prev = mb->tail;
    s->next = NULL;
    if (mb->tail)
        mb->tail->next = s;
    else
        mb->head = s;
    mb->tail = s;
}

static void touch(struct mc_mobile *mb, struct sess *s, uint64_t ms)
{
    if (ms > s->last_ms)
        s->last_ms = ms;
    if (mb->tail != s) {
        list_unlink(mb, s);
        list_append(mb, s);
    }
}

/* ---- the cloud ----------------------------------------------------------- */

/* user.teid.<addr>:<teid> of a user-plane endpoint (addr in [] for IPv6). */
static void teid_key(const struct ix *e, char *out, size_t cap)
{
    char t[80];
    mc_hostport_text(e->ver, &e->addr, e->teid, t, sizeof(t));
    mc_text_join(out, cap, "user.teid.", t, "");
}

/* "addr:teid,..." of the session's user-plane endpoints. */
static void teids_text(const struct sess *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    const struct ix *e;
    for (int i = 0; i < UEPS && (e = uep(s, i)); i++) {
        if (!e->used)
            continue;
        char t[80];
        size_t tl = mc_hostport_text(e->ver, &e->addr, e->teid, t, sizeof(t));
        if (!tl)
            continue;
        if ((n ? 1 : 0) + tl >= cap - n)
            return; /* whole endpoints only */
        if (n)
            out[n++] = ',';
        memcpy(out + n, t, tl + 1);
        n += tl;
    }
}

static const char *rat_name(uint8_t rat)
{
    /* TS 29.274 8.17 (v2); v1's values 1-2 (UTRAN, GERAN) are the same */
    static const char *const names[] = { "", "UTRAN", "GERAN", "WLAN", "GAN", "HSPA Evolution", "EUTRAN",
                                         "Virtual", "EUTRAN-NB-IoT", "LTE-M", "NR" };
    return rat < sizeof(names) / sizeof(names[0]) ? names[rat] : "";
}

/* The UE's primary address (IPv4 when it has one) for the user primitive; 0 when none. */
static uint8_t primary(const struct sess *s, struct mc_addr *ip)
{
    if (s->ue[0].used) {
        *ip = s->ue[0].addr;
        return 4;
    }
    if (s->ue[1].used) {
        memcpy(ip->b, s->ue6, 16);
        return 6;
    }
    memset(ip, 0, sizeof(*ip));
    return 0;
}

/* The session's string keys beside user.ip.<primary>: user.ip.<v6> when it has both, user.teid.* */
static int session_keys(const struct sess *s, char keys[KEYS_MAX][96])
{
    int n = 0;
    if (s->ue[0].used && s->ue[1].used) {
        char a[64];
        mc_addr_text(6, (const struct mc_addr *)s->ue6, a, sizeof(a));
        mc_text_join(keys[n++], 96, "user.ip.", a, "");
    }
    if (s->ue[1].used) { /* the UE picks its interface id: its traffic's address is found by the /64 */
        char a[64];
        mc_addr_text(6, &s->ue[1].addr, a, sizeof(a)); /* the index keeps the /64 itself */
        mc_text_join(keys[n++], 96, "user.ip.", a, "/64");
    }
    const struct ix *e;
    for (int i = 0; i < UEPS && (e = uep(s, i)); i++)
        if (e->used)
            teid_key(e, keys[n++], 96);
    return n;
}

/* user.<imsi> and its keys as the session stands; gone: keys to delete (endpoints an update replaced). */
static void cloud_set(struct mc_mobile *mb, const struct sess *s, char gone[][96], int n_gone)
{
    if (!mb->cloud || !s->sub.imsi[0])
        return;
    char v6[64] = "", teids[512], since[24], rat[24], tac[24], eci[24], lac[24], ci[24];
    if (s->ue[1].used)
        mc_addr_text(6, (const struct mc_addr *)s->ue6, v6, sizeof(v6));
    teids_text(s, teids, sizeof(teids));
    mc_u64_str(s->since_ms, since);
    const char *attrs[2 * 16];
    int n = 0;
#define ATTR(name, value)            \
    do {                             \
        attrs[2 * n] = name;         \
        attrs[2 * n + 1] = value;    \
        n++;                         \
    } while (0)
    ATTR("imsi", s->sub.imsi);
    ATTR("msisdn", s->sub.msisdn);
    ATTR("imei", s->sub.imei);
    ATTR("apn", s->sub.apn);
    ATTR("rat", s->has_rat ? rat_name(s->rat) : "");
    mc_u64_str(s->rat, rat);
    ATTR("rat_type", s->has_rat ? rat : "");
    ATTR("ip6", v6);
    ATTR("teids", teids);
    ATTR("since", since); /* the session's own time (the probe clock), over the primitive's */
    ATTR("mcc", s->mcc);
    ATTR("mnc", s->mnc);
    mc_u64_str(s->tac, tac);
    ATTR("tac", s->has_tai ? tac : "");
    mc_u64_str(s->eci, eci);
    ATTR("eci", s->has_ecgi ? eci : "");
    mc_u64_str(s->lac, lac);
    ATTR("lac", s->has_cgi || s->has_sai || s->has_rai ? lac : "");
    mc_u64_str(s->ci, ci);
    ATTR("ci", s->has_cgi ? ci : "");
#undef ATTR
    char keys[KEYS_MAX][96];
    int nk = session_keys(s, keys);
    const char *kp[KEYS_MAX], *gp[2 * UEPS + 2];
    for (int i = 0; i < nk; i++)
        kp[i] = keys[i];
    int ng = 0;
    for (int i = 0; i < n_gone; i++) { /* an endpoint replaced by itself (a v1 update's answer) stays */
        int kept = 0;
        for (int k = 0; k < nk && !kept; k++)
            kept = strcmp(gone[i], keys[k]) == 0;
        if (!kept)
            gp[ng++] = gone[i];
    }
    struct mc_addr ip;
    uint8_t ver = primary(s, &ip);
    mc_cloud_user_set_keys(mb->cloud, s->sub.imsi, ver, &ip, attrs, n, kp, nk, gp, ng);
}

static void cloud_remove(struct mc_mobile *mb, const struct sess *s)
{
    if (!mb->cloud || !s->sub.imsi[0])
        return;
    char keys[KEYS_MAX][96];
    int nk = session_keys(s, keys);
    const char *kp[KEYS_MAX];
    for (int i = 0; i < nk; i++)
        kp[i] = keys[i];
    struct mc_addr ip;
    uint8_t ver = primary(s, &ip);
    /* another session of the subscriber lives on (another APN): user.<imsi> stays */
    int keep = by_imsi(mb, s->sub.imsi, s) != NULL;
    mc_cloud_user_remove_keys(mb->cloud, s->sub.imsi, ver, &ip, kp, nk, keep, mb->cfg.linger_ms);
}

/* events.gtp.session.<what>: the subscriber as the session stands. */
static void session_event(const struct sess *s, const char *what, const char *reason, uint64_t ms, struct mc_agg *agg)
{
    if (!agg || !s->sub.imsi[0])
        return;
    char json[1536], a[64], teids[512];
    struct mc_jbuf m;
    mc_jbuf_init(&m, json, sizeof(json));
    mc_jbuf_lit(&m, "{\"imsi\":");
    mc_jbuf_cstr(&m, s->sub.imsi);
    mc_jbuf_lit(&m, ",\"msisdn\":");
    mc_jbuf_cstr(&m, s->sub.msisdn);
    mc_jbuf_lit(&m, ",\"imei\":");
    mc_jbuf_cstr(&m, s->sub.imei);
    mc_jbuf_lit(&m, ",\"apn\":");
    mc_jbuf_cstr(&m, s->sub.apn);
    mc_jbuf_lit(&m, ",\"rat\":");
    mc_jbuf_cstr(&m, s->has_rat ? rat_name(s->rat) : "");
    mc_jbuf_lit(&m, ",\"gtp_version\":");
    mc_jbuf_u64(&m, s->version);
    if (s->ue[0].used) {
        mc_addr_text(4, &s->ue[0].addr, a, sizeof(a));
        mc_jbuf_lit(&m, ",\"ip\":");
        mc_jbuf_cstr(&m, a);
    }
    if (s->ue[1].used) {
        mc_addr_text(6, (const struct mc_addr *)s->ue6, a, sizeof(a));
        mc_jbuf_lit(&m, ",\"ip6\":");
        mc_jbuf_cstr(&m, a);
    }
    teids_text(s, teids, sizeof(teids));
    mc_jbuf_lit(&m, ",\"teids\":");
    mc_jbuf_cstr(&m, teids);
    if (reason) {
        mc_jbuf_lit(&m, ",\"reason\":");
        mc_jbuf_cstr(&m, reason);
    }
    mc_jbuf_lit(&m, ",\"since\":");
    mc_jbuf_u64(&m, s->since_ms);
    mc_jbuf_lit(&m, ",\"ts\":");
    mc_jbuf_u64(&m, ms);
    mc_jbuf_lit(&m, "}");
    size_t n = mc_jbuf_len(&m);
    if (!n)
        return;
    char name[32];
    mc_text_join(name, sizeof(name), "gtp.session.", what, "");
    mc_agg_publish(agg, name, json, n);
    mc_agg_hurry(agg); /* a subscriber watching sessions should not wait for the flush */
}

/* ---- sessions ------------------------------------------------------------- */

static void session_free(struct mc_mobile *mb, struct sess *s)
{
    struct sess **pp = &mb->sb[s->ihash & mb->smask];
    while (*pp && *pp != s)
        pp = &(*pp)->inext;
    if (*pp)
        *pp = s->inext;
    list_unlink(mb, s);
    for (int i = 0; i < 2; i++)
        ix_unlink(mb, &s->ctrl[i]), ix_unlink(mb, &s->ue[i]);
    struct ix *e;
    for (int i = 0; i < UEPS && (e = uep(s, i)); i++)
        ix_unlink(mb, e);
    free(s->user_more);
    free(s);
    mb->n--;
}

/*
 * A session leaves (why: "delete", "context_gone", "aged", "evicted"): the
 * cloud forgets it, after the table does, so "another session of the IMSI"
 * is true when one is left.
 */
static void session_end(struct mc_mobile *mb, struct sess *s, const char *why, uint64_t ms, struct mc_agg *agg)
{
    struct sess copy = *s;
    struct ix more[UEPS - UEPS_INLINE]; /* session_free frees s's: the copy keeps its endpoints for the cloud */
    if (s->user_more) {
        memcpy(more, s->user_more, sizeof(more));
        copy.user_more = more;
    }
    session_event(s, "delete", why, ms, agg);
    session_free(mb, s);
    copy.prev = copy.next = copy.inext = NULL;
    cloud_remove(mb, &copy);
}

static struct sess *session_new(struct mc_mobile *mb, const char *imsi, uint64_t ms, struct mc_agg *agg)
{
    if (mb->n >= mb->cfg.max_sessions && mb->head) {
        MC_CTR_INC(l7_mobile, evicted);
        session_end(mb, mb->head, "evicted", ms, agg);
    }
    struct sess *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    mc_text_copy(s->sub.imsi, sizeof(s->sub.imsi), imsi);
    s->ihash = imsi_hash(imsi);
    mb->n++;
    grow_sess(mb);
    s->inext = mb->sb[s->ihash & mb->smask];
    mb->sb[s->ihash & mb->smask] = s;
    s->since_ms = s->last_ms = ms;
    list_append(mb, s);
    return s;
}

/* What the message tells of its subscriber, over what the session knew. */
static void take_subscriber(struct sess *s, const struct mc_gtpc_msg *m)
{
    if (!m)
        return;
    if (m->msisdn[0])
        mc_text_copy(s->sub.msisdn, sizeof(s->sub.msisdn), m->msisdn);
    if (m->imei[0])
        mc_text_copy(s->sub.imei, sizeof(s->sub.imei), m->imei);
    if (m->apn[0])
        mc_text_copy(s->sub.apn, sizeof(s->sub.apn), m->apn);
    if (m->has_rat)
        s->has_rat = 1, s->rat = m->rat;
    if (m->mcc[0]) {
        memcpy(s->mcc, m->mcc, sizeof(s->mcc));
        memcpy(s->mnc, m->mnc, sizeof(s->mnc));
    }
    if (m->has_tai)
        s->has_tai = 1, s->tac = m->tac;
    if (m->has_ecgi)
        s->has_ecgi = 1, s->eci = m->eci;
    if (m->has_cgi || m->has_sai || m->has_rai) {
        s->has_cgi = m->has_cgi, s->has_sai = m->has_sai, s->has_rai = m->has_rai;
        s->lac = m->lac, s->ci = m->ci, s->sac = m->sac, s->rac = m->rac;
    }
}

static void take_ue(struct mc_mobile *mb, struct sess *s, const struct mc_gtpc_msg *m)
{
    if (!m)
        return;
    static const uint8_t zero[16];
    if (m->has_ue_v4 && memcmp(m->ue_v4, zero, 4) != 0) {
        struct mc_addr a = { 0 };
        memcpy(a.b, m->ue_v4, 4);
        ix_link(mb, s, &s->ue[0], IX_UE, 4, &a, 0);
    }
    if (m->has_ue_v6 && memcmp(m->ue_v6, zero, 16) != 0) {
        struct mc_addr a = { 0 };
        memcpy(a.b, m->ue_v6, 16);
        struct mc_addr p = prefix64(&a);
        ix_link(mb, s, &s->ue[1], IX_UE, 6, &p, 0);
        memcpy(s->ue6, m->ue_v6, 16); /* kept whole for the cloud */
    }
}

/* An endpoint's address: its own, else the sender's (a v1 GSN address missing, an F-TEID without one). */
static uint8_t fteid_addr(const struct mc_gtpc_fteid *f, uint8_t ver, const struct mc_addr *sender, struct mc_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (f->has_v4) {
        memcpy(a->b, f->v4, 4);
        return 4;
    }
    if (f->has_v6) {
        memcpy(a->b, f->v6, 16);
        return 6;
    }
    *a = *sender;
    return ver;
}

/*
 * The control and user-plane endpoints message m announced, sent by side
 * `side` from sender: its control endpoint replaces the side's; its user
 * endpoints replace the side's of the same interface and bearer (v1: all the
 * side's).  Replaced ones' cloud keys go to gone.
 */
static void take_endpoints(struct mc_mobile *mb, struct sess *s, const struct mc_gtpc_msg *m, int side, uint8_t ver,
                           const struct mc_addr *sender, char gone[][96], int *n_gone)
{
    if (!m)
        return;
    int replaced_v1 = 0, took_ctrl = 0;
    for (int i = 0; i < m->n_fteids; i++) {
        const struct mc_gtpc_fteid *f = &m->fteid[i];
        struct mc_addr a;
        uint8_t v = fteid_addr(f, ver, sender, &a);
        if (!f->user) {
            /* the sender's own control endpoint, its first (a v2 request may carry others' after it, the
             * PGW's S5/S8 address) */
            if (!took_ctrl++) {
                ix_link(mb, s, &s->ctrl[side], IX_CTRL, v, &a, f->teid);
                s->ctrl[side].side = (uint8_t)side;
            }
            continue;
        }
        struct ix *e;
        if (m->version == 1 && !replaced_v1) {
            replaced_v1 = 1;
            for (int k = 0; k < UEPS && (e = uep(s, k)); k++)
                if (e->used && e->side == side) {
                    if (*n_gone < 2 * UEPS)
                        teid_key(e, gone[(*n_gone)++], 96);
                    ix_unlink(mb, e);
                }
        }
        struct ix *slot = NULL;
        for (int k = 0; k < UEPS && !slot && (e = uep(s, k)); k++) /* the same interface and bearer: replaced */
            if (e->used && m->version == 2 && e->iface == f->iface && e->ebi == f->ebi)
                slot = e;
        if (slot && (slot->ver != v || slot->teid != f->teid || memcmp(slot->addr.b, a.b, addr_len(v)) != 0) &&
            *n_gone < 2 * UEPS)
            teid_key(slot, gone[(*n_gone)++], 96);
        for (int k = 0; k < UEPS && !slot; k++) {
            if (!uep(s, k) && !(s->user_more = calloc(UEPS - UEPS_INLINE, sizeof(*s->user_more))))
                break; /* no memory for more: counted as full */
            if (!(e = uep(s, k))->used)
                slot = e;
        }
        if (!slot) {
            MC_CTR_INC(l7_mobile, teids_full);
            continue;
        }
        struct ix *other = ix_find(mb, IX_USER, v, &a, f->teid);
        if (other && other != slot && other->s != s)
            ix_unlink(mb, other); /* the TEID was given again: the newest session has it */
        ix_link(mb, s, slot, IX_USER, v, &a, f->teid);
        slot->side = (uint8_t)side;
        slot->iface = f->iface;
        slot->ebi = f->ebi;
    }
}

static enum txn_kind kind_of(uint8_t version, uint8_t req_type)
{
    if (version == 1)
        return req_type == 16 ? T_CREATE : req_type == 18 ? T_UPDATE : req_type == 20 ? T_DELETE : T_NONE;
    switch (req_type) {
    case 32: return T_CREATE;                       /* Create Session */
    case 34: case 95: case 97: return T_UPDATE;     /* Modify Bearer, Create Bearer, Update Bearer */
    case 36: return T_DELETE;                       /* Delete Session */
    case 99: return T_DELETE_BEARER;
    default: return T_NONE;
    }
}

/* TS 29.060 7.7.1: 128-191 accept; TS 29.274 8.4: 16-63 accept. */
static int accepted(const struct mc_gtpc_msg *r)
{
    if (!r || !r->has_cause)
        return 1;
    return r->version == 1 ? r->cause >= 128 && r->cause <= 191 : r->cause >= 16 && r->cause <= 63;
}

/* The context is not there (v1 192 Non-existent, v2 64 Context Not Found): the session is over. */
static int context_gone(const struct mc_gtpc_msg *r)
{
    return r && r->has_cause && (r->version == 1 ? r->cause == 192 : r->cause == 64);
}

/* The session a later message belongs to, and the side it was sent to (its receiver's). */
static struct sess *find_session(struct mc_mobile *mb, const struct mc_mobile_txn *t, int *to_side)
{
    const struct mc_gtpc_msg *q = t->req, *r = t->resp;
    struct ix *e = NULL;
    if (q && q->has_teid && q->teid)
        e = ix_find(mb, IX_CTRL, t->ip_ver, &t->dst, q->teid);
    if (e) {
        *to_side = e->side;
        return e->s;
    }
    if (r && r->has_teid && r->teid && (e = ix_find(mb, IX_CTRL, t->ip_ver, &t->src, r->teid))) {
        *to_side = !e->side; /* the response went back to the requester */
        return e->s;
    }
    const char *imsi = q && q->imsi[0] ? q->imsi : r && r->imsi[0] ? r->imsi : NULL;
    *to_side = 1;
    return imsi ? by_imsi(mb, imsi, NULL) : NULL;
}

static void create(struct mc_mobile *mb, const struct mc_mobile_txn *t, struct mc_agg *agg)
{
    const struct mc_gtpc_msg *q = t->req, *r = t->resp;
    if (!q || !q->imsi[0]) {
        MC_CTR_INC(l7_mobile, unknown_session); /* a response alone names nobody */
        return;
    }
    if (!accepted(r)) {
        MC_CTR_INC(l7_mobile, rejected);
        return;
    }
    /* a create for a session held already (the same creator's control endpoint, or the IMSI and APN): its update */
    struct sess *s = NULL;
    for (int i = 0; i < q->n_fteids && !s; i++)
        if (!q->fteid[i].user) {
            struct mc_addr a;
            uint8_t v = fteid_addr(&q->fteid[i], t->ip_ver, &t->src, &a);
            struct ix *e = ix_find(mb, IX_CTRL, v, &a, q->fteid[i].teid);
            s = e ? e->s : NULL;
        }
    for (struct sess *o = by_imsi(mb, q->imsi, NULL); !s && o; o = by_imsi(mb, q->imsi, o))
        if (strcmp(o->sub.apn, q->apn) == 0)
            s = o;
        else
            break;
    int fresh = !s;
    if (fresh && !(s = session_new(mb, q->imsi, t->ms, agg)))
        return;
    s->version = q->version;
    take_subscriber(s, q);
    take_subscriber(s, r);
    take_ue(mb, s, q);
    take_ue(mb, s, r);
    char gone[2 * UEPS][96];
    int n_gone = 0;
    take_endpoints(mb, s, q, 0, t->ip_ver, &t->src, gone, &n_gone);
    take_endpoints(mb, s, r, 1, t->ip_ver, &t->dst, gone, &n_gone);
    touch(mb, s, t->ms);
    MC_CTR_INC(l7_mobile, created);
    cloud_set(mb, s, gone, n_gone);
    session_event(s, fresh ? "create" : "update", NULL, t->ms, agg);
}

static void update(struct mc_mobile *mb, const struct mc_mobile_txn *t, enum txn_kind k, struct mc_agg *agg)
{
    const struct mc_gtpc_msg *q = t->req, *r = t->resp;
    int to_side;
    struct sess *s = find_session(mb, t, &to_side);
    if (!s) {
        MC_CTR_INC(l7_mobile, unknown_session);
        return;
    }
    if (context_gone(r) || (k == T_DELETE && accepted(r))) {
        MC_CTR_INC(l7_mobile, deleted);
        session_end(mb, s, context_gone(r) ? "context_gone" : "delete", t->ms, agg);
        return;
    }
    if (!accepted(r) || k == T_DELETE)
        return; /* refused: the session stays as it was */
    char gone[2 * UEPS][96];
    int n_gone = 0;
    if (k == T_DELETE_BEARER) {
        struct ix *e;
        const struct mc_gtpc_msg *m = q ? q : r;
        for (int b = 0; b < m->n_ebis; b++)
            for (int i = 0; i < UEPS && (e = uep(s, i)); i++)
                if (e->used && e->ebi == m->ebi[b]) {
                    teid_key(e, gone[n_gone++], 96);
                    ix_unlink(mb, e);
                }
    } else {
        take_subscriber(s, q);
        take_subscriber(s, r);
        take_ue(mb, s, r);
        take_endpoints(mb, s, q, !to_side, t->ip_ver, &t->src, gone, &n_gone);
        take_endpoints(mb, s, r, to_side, t->ip_ver, &t->dst, gone, &n_gone);
    }
    touch(mb, s, t->ms);
    MC_CTR_INC(l7_mobile, updated);
    cloud_set(mb, s, gone, n_gone);
    session_event(s, "update", NULL, t->ms, agg);
}

void mc_mobile_transaction(struct mc_mobile *mb, const struct mc_mobile_txn *t, struct mc_agg *agg)
{
    if (!mb || !t || (!t->req && !t->resp))
        return;
    const struct mc_gtpc_msg *any = t->req ? t->req : t->resp;
    /* a response's type is its request's plus one, in both versions, for the messages followed here */
    uint8_t req_type = t->req ? t->req->type : (uint8_t)(t->resp->type - 1);
    enum txn_kind k = kind_of(any->version, req_type);
    if (k == T_CREATE)
        create(mb, t, agg);
    else if (k != T_NONE)
        update(mb, t, k, agg);
}

/* ---- the user plane ------------------------------------------------------ */

const struct mc_mobile_sub *mc_mobile_by_teid(struct mc_mobile *mb, uint8_t ip_ver, const struct mc_addr *addr,
                                              uint32_t teid, uint64_t now_ms)
{
    struct ix *e = mb && mb->n ? ix_find(mb, IX_USER, ip_ver, addr, teid) : NULL;
    if (!e)
        return NULL;
    touch(mb, e->s, now_ms); /* user traffic keeps a session alive */
    return &e->s->sub;
}

const struct mc_mobile_sub *mc_mobile_by_ue(struct mc_mobile *mb, uint8_t ip_ver, const struct mc_addr *ue,
                                            uint64_t now_ms)
{
    if (!mb || !mb->n)
        return NULL;
    struct mc_addr k = ip_ver == 6 ? prefix64(ue) : *ue;
    struct ix *e = ix_find(mb, IX_UE, ip_ver, &k, 0);
    if (!e)
        return NULL;
    touch(mb, e->s, now_ms);
    return &e->s->sub;
}

/* ---- flows ----------------------------------------------------------------- */

#define FLOW_PUSH_MS 1000      /* a flow's counts go to user.<imsi> this often (packet time) */
#define FLOW_POLL_MS 50        /* a cloud answer on its way: looked for this often */
#define FLOW_RETRY_MAX 5       /* no subscriber: asked again after 1, 2, 4, 8, 16, then every 32 s */
#define WAIT_MAX 4096          /* flows whose cloud answer is on its way, looked at again by the tick */

/*
 * A flow waiting for a cloud answer may send no packet again (a DNS query's
 * flow is one packet each way: the uplink and the downlink TEID are two
 * flows): the tick looks at it again (mc_mobile_tick), so it is tagged
 * while it lives, not only if another packet comes.  The flow's release
 * clears its entry (mc_mobile_flow_forget).
 */
static void wait_for_answer(struct mc_mobile *mb, struct mc_flow *f, struct mc_mobile_flow *mf)
{
    if (mf->waiting || !mb->wait || mb->n_wait >= WAIT_MAX)
        return;
    mf->waiting = 1;
    mf->wait_slot = mb->n_wait;
    mb->wait[mb->n_wait++] = (struct waiting){ f, mf };
}

void mc_mobile_flow_forget(struct mc_mobile *mb, struct mc_mobile_flow *mf)
{
    if (mb && mf && mf->waiting && mf->wait_slot < mb->n_wait && mb->wait[mf->wait_slot].mf == mf)
        mb->wait[mf->wait_slot].mf = NULL;
    if (mf)
        mf->waiting = 0;
}

/* The GTP-U packet the flow's first one was, as its record kept it (the receiver: the client's outer dst). */
static int first_packet(const struct mc_flow *f, struct mc_pkt *p)
{
    if (f->key.tunnel != MC_TUNNEL_GTPU || !f->ext || !f->ext->outer_ver)
        return 0;
    memset(p, 0, sizeof(*p));
    p->tunnel = MC_TUNNEL_GTPU;
    p->tunnel_id = f->ext->tunnel_ids[f->ext->outer_dir & 1];
    p->outer_ver = f->ext->outer_ver;
    p->outer_dst = f->ext->outer_dst;
    return 1;
}

int mc_mobile_flow_wanted(const struct mc_mobile *mb, const struct mc_pkt *pkt)
{
    return pkt->tunnel == MC_TUNNEL_GTPU || (mb && mb->n);
}

static void tag(struct mc_flow *f, struct mc_mobile_flow *mf, const struct mc_mobile_sub *sub, int ue_side)
{
    mf->sub = *sub;
    mf->tagged = 1;
    mf->ue_side = (uint8_t)ue_side;
    mc_flow_set_subscriber(f, sub->imsi, sub->msisdn); /* mobileIMSI, mobileMSISDN of the flow's record */
    MC_CTR_INC(l7_mobile, user_flows_tagged);
}

/* Which end of the flow is the subscriber's: the one with its UE address, else the client. */
static int ue_side_of(struct mc_mobile *mb, const struct mc_flow *f, const struct mc_mobile_sub *sub, uint64_t now)
{
    for (int i = 0; i < 2; i++) {
        const struct mc_mobile_sub *u = mc_mobile_by_ue(mb, f->key.ip_ver, &f->key.addr[i], now);
        if (u && strcmp(u->imsi, sub->imsi) == 0)
            return i;
    }
    return 0;
}

/* 1 when two IPv6 texts share their /64. */
static int same_prefix64(const char *a, const char *b)
{
    struct in6_addr x, y;
    return inet_pton(AF_INET6, a, &x) == 1 && inet_pton(AF_INET6, b, &y) == 1 && memcmp(&x, &y, 8) == 0;
}

/* The cloud's answer for a GTP-U flow: the TEID's IMSI, then the subscriber; -1 asked, 0 none, 1 tagged. */
static int from_cloud(struct mc_lookup *lk, struct mc_flow *f, struct mc_mobile_flow *mf, const struct mc_pkt *pkt)
{
    char key[80];
    size_t n = lk ? mc_hostport_text(pkt->outer_ver, &pkt->outer_dst, pkt->tunnel_id, key, sizeof(key)) : 0;
    if (!n)
        return 0;
    struct mc_lookup_answer t, s;
    int rc = mc_lookup_get(lk, MC_LOOKUP_TEID, key, n, &t);
    if (rc == MC_LOOKUP_FOUND)
        rc = mc_lookup_get(lk, MC_LOOKUP_SUBSCRIBER, t.v[0], strlen(t.v[0]), &s);
    if (rc != MC_LOOKUP_FOUND)
        return rc == MC_LOOKUP_ASKED ? -1 : 0;
    struct mc_mobile_sub sub;
    mc_text_copy(sub.imsi, sizeof(sub.imsi), s.v[0]);
    mc_text_copy(sub.msisdn, sizeof(sub.msisdn), s.v[1]);
    mc_text_copy(sub.imei, sizeof(sub.imei), s.v[2]);
    mc_text_copy(sub.apn, sizeof(sub.apn), s.v[3]);
    /* the subscriber's end: the UE's address (IPv6 by its /64), else the client */
    int side = 0;
    for (int i = 0; i < 2; i++) {
        char at[64];
        if (!mc_addr_text(f->key.ip_ver, &f->key.addr[i], at, sizeof(at)))
            continue;
        if (f->key.ip_ver == 4 ? strcmp(at, s.v[4]) == 0 : s.v[5][0] && same_prefix64(at, s.v[5]))
            side = i;
    }
    tag(f, mf, &sub, side);
    mf->from_cloud = 1;
    return 1;
}

/* Looks the flow's subscriber up; -1 when a cloud answer is on its way. */
static int find_subscriber(struct mc_mobile *mb, struct mc_lookup *lk, struct mc_flow *f, struct mc_mobile_flow *mf,
                           const struct mc_pkt *pkt, uint64_t now, int final)
{
    const struct mc_mobile_sub *sub = NULL;
    if (pkt && pkt->tunnel == MC_TUNNEL_GTPU)
        sub = mc_mobile_by_teid(mb, pkt->outer_ver, &pkt->outer_dst, pkt->tunnel_id, now);
    for (int i = 0; !sub && i < 2; i++)
        sub = mc_mobile_by_ue(mb, f->key.ip_ver, &f->key.addr[i], now);
    if (sub) {
        struct mc_mobile_sub copy = *sub; /* ue_side_of touches the table */
        tag(f, mf, &copy, ue_side_of(mb, f, &copy, now));
        return 0;
    }
    int rc = pkt && pkt->tunnel == MC_TUNNEL_GTPU ? from_cloud(lk, f, mf, pkt) : 0;
    if (rc < 0) {
        mf->try_ms = now + FLOW_POLL_MS;
        if (!final)
            wait_for_answer(mb, f, mf);
        return -1;
    }
    if (!rc && !final) {
        mf->try_ms = now + ((uint64_t)FLOW_PUSH_MS << mf->tries);
        mf->tries += mf->tries < FLOW_RETRY_MAX;
    }
    return 0;
}

/* The flow's packets and bytes since the last push, to user.<imsi>. */
static void push(const struct mc_flow *f, struct mc_mobile_flow *mf, uint64_t now, struct mc_agg *agg)
{
    mf->push_ms = now + FLOW_PUSH_MS;
    int u = mf->ue_side;
    uint64_t sp = f->pkts[u] - mf->pkts[u], rp = f->pkts[!u] - mf->pkts[!u];
    uint64_t sb = f->octets[u] - mf->octets[u], rb = f->octets[!u] - mf->octets[!u];
    if (!agg || (!sp && !rp) || !mf->sub.imsi[0])
        return;
    static const char *const fields[4] = { "sent_pkt", "rcvd_pkt", "sent_bytes", "rcvd_bytes" };
    struct mc_agg_ref *r = mf->ref;
    if (!mc_agg_refs_live(agg, r, 5)) {
        /* bound once per table handed over: the pushes between find their cells at once */
        char key[MC_GTPC_DIGITS_MAX + 8];
        size_t kn = mc_text_join(key, sizeof(key), "user.", mf->sub.imsi, "");
        for (int i = 0; i < 4; i++)
            if (mc_agg_bind_hincr(agg, &r[i], key, kn, fields[i]) != 0)
                return; /* refused and counted: these deltas are reported with the next push */
        if (mc_agg_bind_hmax(agg, &r[4], key, kn, "last_seen") != 0)
            return;
    }
    mc_agg_incr_at(agg, &r[0], (int64_t)sp);
    mc_agg_incr_at(agg, &r[1], (int64_t)rp);
    mc_agg_incr_at(agg, &r[2], (int64_t)sb);
    mc_agg_incr_at(agg, &r[3], (int64_t)rb);
    mc_agg_max_at(agg, &r[4], now);
    for (int d = 0; d < 2; d++)
        mf->pkts[d] = f->pkts[d], mf->octets[d] = f->octets[d];
}

uint64_t mc_mobile_flow_packet(struct mc_mobile *mb, struct mc_lookup *lk, struct mc_flow *f,
                               struct mc_mobile_flow *mf, const struct mc_pkt *pkt, struct mc_agg *agg,
                               uint32_t *hold_gen)
{
    uint64_t now = pkt->ts_ms;
    *hold_gen = 0;
    if (!mf->tagged) {
        if (now >= mf->try_ms)
            find_subscriber(mb, lk, f, mf, pkt, now, 0);
        if (!mf->tagged)
            return mf->try_ms;
    }
    if (!agg)
        return UINT64_MAX; /* no cloud: the flow's counts go nowhere, its later packets skip this */
    if (now >= mf->push_ms) {
        /* A second pushed into the same table is merged there with the first: the same
         * writes for the cloud, a cache miss or more for the probe.  Live, the table is
         * handed over every flush (500 ms), so a push a second always goes; reading a
         * file, packet time runs ahead of the flushes, and the flow waits for the next. */
        if (mf->ref[0].gen && mf->ref[0].gen == mc_agg_gen(agg)) {
            *hold_gen = mf->ref[0].gen;
            return mf->push_ms;
        }
        push(f, mf, now, agg);
    }
    return mf->push_ms;
}

int mc_mobile_flow_end(struct mc_mobile *mb, struct mc_lookup *lk, struct mc_flow *f, struct mc_mobile_flow *mf,
                       struct mc_agg *agg)
{
    uint64_t now = mc_flow_last_ms(f);
    struct mc_pkt p;
    if (!mf->tagged && first_packet(f, &p) && find_subscriber(mb, lk, f, mf, &p, now, 1) < 0)
        return 1;
    if (mf->tagged)
        push(f, mf, now, agg);
    return 0;
}

void mc_mobile_set_lookups(struct mc_mobile *mb, struct mc_lookup *lk)
{
    if (!mb)
        return;
    mb->lk = lk;
    if (lk && !mb->wait)
        mb->wait = calloc(WAIT_MAX, sizeof(*mb->wait));
}

/* The flows waiting for a cloud answer: tagged when it came, kept while it is on its way (at most WAIT_MAX). */
static void revisit(struct mc_mobile *mb, uint64_t now, struct mc_agg *agg)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < mb->n_wait; i++) {
        struct waiting w = mb->wait[i];
        if (!w.mf)
            continue; /* the flow left */
        struct mc_pkt p;
        w.mf->waiting = 0;
        int rc = !w.mf->tagged && first_packet(w.f, &p) ? find_subscriber(mb, mb->lk, w.f, w.mf, &p, now, 1) : 0;
        if (w.mf->tagged)
            push(w.f, w.mf, now, agg);
        if (rc < 0) { /* still on its way */
            w.mf->waiting = 1;
            w.mf->wait_slot = kept;
            mb->wait[kept++] = w;
        }
    }
    mb->n_wait = kept;
}

void mc_mobile_tick(struct mc_mobile *mb, uint64_t now_ms, struct mc_agg *agg)
{
    if (!mb)
        return;
    if (mb->n_wait)
        revisit(mb, now_ms, agg);
    for (int k = 0; k < AGE_PER_TICK && mb->head; k++) {
        struct sess *s = mb->head;
        if (now_ms < s->last_ms + mb->cfg.idle_ms)
            break;
        MC_CTR_INC(l7_mobile, aged);
        session_end(mb, s, "aged", now_ms, agg);
    }
}

void mc_mobile_free(struct mc_mobile *mb)
{
    if (!mb)
        return;
    while (mb->head)
        session_free(mb, mb->head);
    free(mb->ib);
    free(mb->sb);
    free(mb->wait);
    free(mb);
}

uint32_t mc_mobile_sessions(const struct mc_mobile *mb) { return mb ? mb->n : 0; }
