/*
 * enrich.c - what the cloud knows about a collected flow, added to it: the
 * user of either address (user.ip.<addr>: the source's first), the
 * subscriber behind a user that is an IMSI (user.<imsi>: its MSISDN), and
 * the call of an RTP endpoint (voip.rtp.<addr>:<port>), each only when the
 * record does not carry it already.  This is what lets a router's NetFlow
 * carry the user name a probe learned.
 *
 * Lookups are asynchronous and cached (cloud/lookup.h): a flow whose answers
 * are all known goes out at once; one with a question on its way waits in a
 * FIFO until its answers came or --enrich-wait passed (then it goes out
 * with what is known, counted), so the output keeps the arrival order and
 * no flow waits longer than that.  The FIFO is bounded (--enrich-queue):
 * a flow that finds it full goes out at once with what is known, counted.
 */
#include "mccollector/mccollector.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cloud/lookup.h"
#include "common/hostport.h"

MC_CTR_DEFINE(enrich, MCC_ENRICH_CTRS)

struct held {
    struct mc_coll_flow f;
    char *json;        /* owned: the record's JSON up to its closing brace; NULL without --json */
    size_t json_len;
    int json_fields;   /* the record's own fields: a comma before the first added key */
    uint64_t due_ms;
};

struct mcc_enrich {
    struct mc_lookup *l;
    uint32_t wait_ms;
    size_t cap, head, n;
    struct held *q;
};

struct mcc_enrich *mcc_enrich_new(struct mc_lookup *l, size_t cap, uint32_t wait_ms)
{
    struct mcc_enrich *e = calloc(1, sizeof(*e));
    if (!e || !(e->q = calloc(cap ? cap : 1, sizeof(*e->q)))) {
        free(e);
        return NULL;
    }
    e->l = l;
    e->cap = cap ? cap : 1;
    e->wait_ms = wait_ms;
    return e;
}

void mcc_enrich_free(struct mcc_enrich *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->q[(e->head + i) % e->cap].json);
    free(e->q);
    free(e);
}

/* src into dst (size bytes), cut to fit before a UTF-8 character, never inside one. */
static void put(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    if (src[n])
        while (n && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int is_imsi(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n >= 6 && n <= 15 && s[n] == 0;
}

/* One lookup: 1 found (out filled), 0 none, -1 asked (the answer is on its way). */
static int ask(struct mc_lookup *l, enum mc_lookup_kind kind, const char *key, struct mc_lookup_answer *out)
{
    int r = mc_lookup_get(l, kind, key, strlen(key), out);
    return r == MC_LOOKUP_FOUND ? 1 : r == MC_LOOKUP_ASKED ? -1 : 0;
}

/*
 * Fills what the cloud knows and the flow lacks; marks in *added what it
 * added.  Returns 1 when every question has its answer, 0 while one is on
 * its way.
 */
static int resolve(struct mcc_enrich *e, struct mc_coll_flow *f, unsigned *added)
{
    struct mc_lookup_answer a;
    int waiting = 0;
    char addr[2][64];
    if (f->ip_version == 4 || f->ip_version == 6) {
        mc_coll_flow_addr(f, 0, addr[0], sizeof(addr[0]));
        mc_coll_flow_addr(f, 1, addr[1], sizeof(addr[1]));
    }
    if (!f->user[0] && f->ip_version) {
        for (int side = 0; side < 2; side++) {
            int r = ask(e->l, MC_LOOKUP_USER, addr[side], &a);
            if (r < 0) {
                waiting = 1;
                break; /* the source's user, when it has one, wins: wait for its answer */
            }
            if (r > 0) {
                put(f->user, sizeof(f->user), a.v[0]);
                *added |= MCC_ADDED_USER;
                break;
            }
        }
    }
    if (!f->imsi[0] && is_imsi(f->user)) { /* a mobile user's id is its IMSI (mobile.c writes user.ip.<ue>) */
        put(f->imsi, sizeof(f->imsi), f->user);
        *added |= MCC_ADDED_IMSI;
    }
    if (f->imsi[0] && !f->msisdn[0]) {
        int r = ask(e->l, MC_LOOKUP_SUBSCRIBER, f->imsi, &a);
        if (r < 0)
            waiting = 1;
        else if (r > 0 && a.v[1][0]) {
            put(f->msisdn, sizeof(f->msisdn), a.v[1]);
            *added |= MCC_ADDED_MSISDN;
        }
    }
    if (!f->call_id[0] && f->proto == 17 && f->ip_version) {
        for (int side = 0; side < 2; side++) {
            char key[80];
            struct mc_addr ad;
            memcpy(ad.b, side ? f->dst : f->src, 16);
            mc_hostport_text(f->ip_version, &ad, side ? f->dst_port : f->src_port, key, sizeof(key));
            int r = ask(e->l, MC_LOOKUP_RTP, key, &a);
            if (r < 0) {
                waiting = 1;
                break;
            }
            if (r > 0) {
                put(f->call_id, sizeof(f->call_id), a.v[0]);
                *added |= MCC_ADDED_CALL;
                break;
            }
        }
    }
    return !waiting;
}

void mcc_enrich_keys(const struct mc_coll_flow *f, unsigned added, struct mc_coll_enrichment *out)
{
    out->n = 0;
    if (added & MCC_ADDED_USER) {
        out->key[out->n] = "userName";
        out->value[out->n++] = f->user;
    }
    if (added & MCC_ADDED_IMSI) {
        out->key[out->n] = "mobileIMSI";
        out->value[out->n++] = f->imsi;
    }
    if (added & MCC_ADDED_MSISDN) {
        out->key[out->n] = "mobileMSISDN";
        out->value[out->n++] = f->msisdn;
    }
    if (added & MCC_ADDED_CALL) {
        out->key[out->n] = "rtpCallId";
        out->value[out->n++] = f->call_id;
    }
}

int mcc_enrich_now(struct mcc_enrich *e, struct mc_coll_flow *f, unsigned *added)
{
    *added = 0;
    MC_CTR_INC(enrich, flows);
    return resolve(e, f, added);
}

int mcc_enrich_hold(struct mcc_enrich *e, const struct mc_coll_flow *f, const char *json, size_t json_len,
                    int json_fields, uint64_t now_ms)
{
    if (e->n == e->cap) {
        MC_CTR_INC(enrich, queue_full);
        return -1;
    }
    struct held *h = &e->q[(e->head + e->n) % e->cap];
    h->f = *f;
    h->json = NULL;
    h->json_len = json_len;
    h->json_fields = json_fields;
    if (json && !(h->json = malloc(json_len ? json_len : 1))) {
        MC_CTR_INC(enrich, queue_full);
        return -1;
    }
    if (json)
        memcpy(h->json, json, json_len);
    h->due_ms = now_ms + e->wait_ms;
    e->n++;
    MC_CTR_INC(enrich, held);
    return 0;
}

void mcc_enrich_release(struct mcc_enrich *e, uint64_t now_ms, int all, mcc_emit_fn emit, void *ctx)
{
    while (e->n) {
        struct held *h = &e->q[e->head];
        unsigned added = 0;
        /* what it learned while held: its fields are filled again from the cache, now answered */
        struct mc_coll_flow f = h->f;
        int ready = resolve(e, &f, &added);
        if (!ready && !all && now_ms < h->due_ms)
            return; /* the FIFO is in due order: the rest waits too */
        if (!ready)
            MC_CTR_INC(enrich, unanswered);
        emit(ctx, &f, h->json, h->json_len, h->json_fields, added);
        free(h->json);
        h->json = NULL;
        e->head = (e->head + 1) % e->cap;
        e->n--;
    }
}

size_t mcc_enrich_held(const struct mcc_enrich *e)
{
    return e ? e->n : 0;
}

void mcc_enrich_count(unsigned added)
{
    if (added & MCC_ADDED_USER)
        MC_CTR_INC(enrich, users);
    if (added & MCC_ADDED_MSISDN)
        MC_CTR_INC(enrich, subscribers);
    if (added & MCC_ADDED_CALL)
        MC_CTR_INC(enrich, calls);
}
