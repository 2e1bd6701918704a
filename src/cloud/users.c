/*
 * users.c - who is at an address: the user lookups the packet thread asks
 * (user.ip.<addr>, then the user's subscriber attributes) and their cache,
 * and the user operations it queues (user.<id>, user.ip.<addr> and the other
 * keys naming a user: set, remove, linger), run on the cloud thread in
 * order.  See cloud.h and docs/internals/cloud-writer.md ("Reading").
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/internal.h"
#include "cloud/resp.h"
#include "common/hostport.h"
#include "common/text.h"

/*
 * Asks for the user of every flow not reported yet, and takes nothing: the
 * flows are about to leave, and their export takes their deltas at once
 * (taking them here too would cost a side entry per flow, written now and
 * read back at export).
 */
void mc_cloud_visit_unasked(void *ctx, struct mc_flow *f, uint32_t slot)
{
    struct mc_cloud *c = ctx;
    (void)slot;
    if (!(f->state & MC_FLOW_F_CLOUD))
        mc_cloud_request_lookup(c, f->key.ip_ver, &f->key.addr[0]);
}

/* Ahead of mc_cloud_visit_unasked: the client's cache set, nothing else. */
void mc_cloud_prefetch_unasked(void *ctx, struct mc_flow *f, uint32_t slot)
{
    struct mc_cloud *c = ctx;
    (void)slot;
    if (!(f->state & MC_FLOW_F_CLOUD))
        __builtin_prefetch(mc_uc_set(&c->users, mc_uc_tag(f->key.ip_ver, &f->key.addr[0])));
}

static int asks_push(struct asks *a, uint8_t ver, const struct mc_addr *ip)
{
    if (a->n == a->cap) {
        if (a->cap >= MAX_ASKS)
            return -1;
        uint32_t cap = a->cap ? a->cap * 2 : 256;
        struct ask *v = realloc(a->v, cap * sizeof(*v));
        if (!v)
            return -1;
        a->v = v, a->cap = cap;
    }
    a->v[a->n].ver = ver;
    a->v[a->n].prefix = 0;
    a->v[a->n].ip = *ip;
    a->n++;
    return 0;
}

/* The same for a question as it stands (its /64 flag kept). */
static int asks_push_ask(struct asks *a, const struct ask *q)
{
    if (asks_push(a, q->ver, &q->ip) != 0)
        return -1;
    a->v[a->n - 1].prefix = q->prefix;
    return 0;
}

/* Moves src's asks to the end of dst (a swap when dst is empty); returns how many did not fit. */
uint32_t mc_cloud_asks_move(struct asks *dst, struct asks *src)
{
    if (dst->n == 0) {
        struct asks t = *dst;
        *dst = *src;
        *src = t;
        return 0;
    }
    uint32_t lost = 0;
    for (uint32_t i = 0; i < src->n; i++)
        lost += asks_push_ask(dst, &src->v[i]) != 0;
    src->n = 0;
    return lost;
}

void mc_cloud_asks_free(struct asks *a)
{
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static void queue_op(struct mc_cloud *c, struct op *o)
{
    o->next = NULL;
    *c->ops_tail = o;
    c->ops_tail = &o->next;
    c->n_ops++;
}

/* Queues the question for an address (tag) whose answer is not fresh, and marks it asked. */
static void ask(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip, uint64_t tag)
{
    if (asks_push(&c->asks, ver, ip) != 0) {
        MC_CTR_INC(cloud, dropped_ops);
        return;
    }
    atomic_fetch_add(&c->lookups_asked, 1);
    /* marked as asked, so the next flows of this host do not ask again */
    mc_uc_put(&c->users, tag, 0, ds_after(c, c->now_ms, c->cfg.negative_cache_ms));
}

void mc_cloud_request_lookup(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip)
{
    uint64_t tag = mc_uc_tag(ver, ip);
    if (!mc_uc_fresh(&c->users, tag, c->now_ds)) /* else a fresh answer, or a question already on its way */
        ask(c, ver, ip, tag);
}

/* The user cached for an address, or NULL ("no user", or the question is on its way; asked when stale). */
const struct mc_uc_cold *mc_cloud_user_entry(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip)
{
    uint64_t tag = mc_uc_tag(ver, ip);
    const struct mc_uc_hot *h = mc_uc_fresh(&c->users, tag, c->now_ds);
    if (!h) {
        if (c->cfg.lookups)
            ask(c, ver, ip, tag);
        return NULL;
    }
    const struct mc_uc_cold *k = mc_uc_cold_of(&c->users, h, ver, ip);
    if (!k)
        return NULL;
    MC_CTR_INC(cloud, lookup_hits);
    return k;
}

const char *mc_cloud_user_of(struct mc_cloud *c, uint8_t ver, const struct mc_addr *ip)
{
    const struct mc_uc_cold *k = mc_cloud_user_entry(c, ver, ip);
    return k ? k->user : NULL;
}

void mc_cloud_apply_results(struct mc_cloud *c, struct result *r, const struct asks *no_user)
{
    uint64_t now = wall_ms();
    uint32_t neg = ds_after(c, now, c->cfg.negative_cache_ms), pos = ds_after(c, now, c->cfg.user_cache_ms);
    for (uint32_t i = 0; no_user && i < no_user->n; i++) {
        if (i + 8 < no_user->n) /* thousands of answers at once: their sets are not cached */
            __builtin_prefetch(mc_uc_set(&c->users, mc_uc_tag(no_user->v[i + 8].ver, &no_user->v[i + 8].ip)));
        mc_uc_put(&c->users, mc_uc_tag(no_user->v[i].ver, &no_user->v[i].ip), 0, neg);
    }
    while (r) {
        struct result *next = r->next;
        struct mc_uc_cold *k = mc_uc_user(&c->users, r->ver, &r->ip, r->user, pos);
        memcpy(k->imsi, r->imsi, sizeof(k->imsi));
        memcpy(k->msisdn, r->msisdn, sizeof(k->msisdn));
        free(r);
        r = next;
    }
}

void mc_cloud_free_ops(struct op *o)
{
    while (o) {
        struct op *next = o->next;
        free(o);
        o = next;
    }
}

/* The bytes n strings take, NULs included. */
static size_t text_size(const char *const *src, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += strlen(src[i]) + 1;
    return t;
}

/* An operation with room for `text` bytes of strings after it (freed with it). */
/* Copies n strings into the operation's own text (user_op made room for them), pointed to from dst. */
static void put_strings(struct op *o, char **dst, int *n_dst, const char *const *src, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(src[i]) + 1;
        char *d = o->text + o->text_used;
        memcpy(d, src[i], len);
        o->text_used += len;
        dst[(*n_dst)++] = d;
    }
}

static struct op *user_op(int kind, const char *id, uint8_t ver, const struct mc_addr *ip, size_t text)
{
    struct op *o = calloc(1, sizeof(*o) + text);
    if (!o)
        return NULL;
    o->kind = kind;
    mc_text_copy(o->id, sizeof(o->id), id);
    o->ver = ver;
    o->ip = *ip;
    o->ts_ms = wall_ms();
    return o;
}

int mc_cloud_user_set(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                      const char *const *attrs, int n_attrs)
{
    if (c->n_ops >= MAX_OPS || n_attrs > MAX_ATTRS) {
        MC_CTR_INC(cloud, dropped_ops);
        return -1;
    }
    struct op *o = user_op(OP_USER_SET, id, ver, ip, text_size(attrs, 2 * n_attrs));
    if (!o)
        return -1;
    put_strings(o, o->attrs, &o->n_attrs, attrs, 2 * n_attrs);
    o->n_attrs = n_attrs;
    queue_op(c, o);
    /* what this probe learned, it knows at once */
    struct mc_uc_cold *k = mc_uc_user(&c->users, ver, ip, id, ds_after(c, wall_ms(), c->cfg.user_cache_ms));
    for (int i = 0; i < n_attrs; i++) {
        if (strcmp(attrs[2 * i], "imsi") == 0)
            mc_text_copy(k->imsi, sizeof(k->imsi), attrs[2 * i + 1]);
        else if (strcmp(attrs[2 * i], "msisdn") == 0)
            mc_text_copy(k->msisdn, sizeof(k->msisdn), attrs[2 * i + 1]);
    }
    return 0;
}


int mc_cloud_user_set_keys(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                           const char *const *attrs, int n_attrs, const char *const *keys, int n_keys,
                           const char *const *gone, int n_gone)
{
    if (!c)
        return -1;
    if (c->n_ops >= MAX_OPS || n_attrs > MAX_ATTRS || n_keys > MAX_KEYS || n_gone > MAX_KEYS) {
        MC_CTR_INC(cloud, dropped_ops);
        return -1;
    }
    static const struct mc_addr none;
    struct op *o = user_op(OP_USER_SET, id, ver, ver ? ip : &none,
                           text_size(attrs, 2 * n_attrs) + text_size(keys, n_keys) + text_size(gone, n_gone));
    if (!o)
        return -1;
    put_strings(o, o->attrs, &o->n_attrs, attrs, 2 * n_attrs);
    put_strings(o, o->keys, &o->n_keys, keys, n_keys);
    put_strings(o, o->gone, &o->n_gone, gone, n_gone);
    o->n_attrs /= 2;
    queue_op(c, o);
    if (!ver)
        return 0;
    /* what this probe learned, it knows at once */
    struct mc_uc_cold *k = mc_uc_user(&c->users, ver, ip, id, ds_after(c, wall_ms(), c->cfg.user_cache_ms));
    for (int i = 0; i < n_attrs; i++) {
        if (strcmp(attrs[2 * i], "imsi") == 0)
            mc_text_copy(k->imsi, sizeof(k->imsi), attrs[2 * i + 1]);
        else if (strcmp(attrs[2 * i], "msisdn") == 0)
            mc_text_copy(k->msisdn, sizeof(k->msisdn), attrs[2 * i + 1]);
    }
    return 0;
}

int mc_cloud_user_remove_keys(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip,
                              const char *const *keys, int n_keys, int keep_user, uint32_t linger_ms)
{
    if (!c)
        return -1;
    if (c->n_ops >= MAX_OPS || n_keys > MAX_KEYS) {
        MC_CTR_INC(cloud, dropped_ops);
        return -1;
    }
    static const struct mc_addr none;
    struct op *o = user_op(OP_USER_REMOVE, id, ver, ver ? ip : &none, text_size(keys, n_keys));
    if (!o)
        return -1;
    put_strings(o, o->gone, &o->n_gone, keys, n_keys);
    o->keep_user = keep_user;
    o->linger_ms = linger_ms;
    queue_op(c, o);
    if (ver)
        mc_uc_forget(&c->users, ver, ip);
    return 0;
}

int mc_cloud_user_remove(struct mc_cloud *c, const char *id, uint8_t ver, const struct mc_addr *ip)
{
    if (c->n_ops >= MAX_OPS) {
        MC_CTR_INC(cloud, dropped_ops);
        return -1;
    }
    struct op *o = user_op(OP_USER_REMOVE, id, ver, ip, 0);
    if (!o)
        return -1;
    queue_op(c, o);
    mc_uc_forget(&c->users, ver, ip);
    return 0;
}

static void post_result(struct mc_cloud *c, struct result *res)
{
    pthread_mutex_lock(&c->mu);
    res->next = c->box_results;
    c->box_results = res;
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->lookups_done, 1);
}

/* "No user" for the n asks in a: one lock for all. */
static void post_no_user(struct mc_cloud *c, const struct ask *a, uint32_t n)
{
    pthread_mutex_lock(&c->mu);
    for (uint32_t i = 0; i < n; i++)
        asks_push(&c->box_no_user, a[i].ver, &a[i].ip); /* full: asked again when the question expires */
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->lookups_done, n);
}

static void copy_field(char *dst, size_t len, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, len, "%.*s", (int)r->len, r->str);
}

/* Second step of a lookup: the user's subscriber attributes (IMSI, MSISDN). */
static void on_attrs_reply(void *privdata, redisReply *r)
{
    struct result *res = privdata;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        copy_field(res->imsi, sizeof(res->imsi), r->element[0]);
        copy_field(res->msisdn, sizeof(res->msisdn), r->element[1]);
    }
    post_result(res->c, res); /* the user is known even if its attributes could not be read */
}

/* Lookups of one node sent as one MGET (standalone), or one GET (cluster: n = 1). */
struct lookup_batch {
    struct mc_cloud *c;
    int n;
    int node;                   /* standalone: where they all live; cluster: -1 */
    struct ask asks[];
};

/* A user was found for an address: reads its subscriber attributes, then posts it. */
static void user_found(struct mc_cloud *c, const struct ask *a, const redisReply *r)
{
    struct result *res = calloc(1, sizeof(*res));
    if (!res) {
        atomic_fetch_add(&c->lookups_done, 1); /* asked again when the negative cache expires */
        return;
    }
    res->ver = a->ver;
    res->ip = a->ip;
    res->c = c;
    res->found = 1;
    copy_field(res->user, sizeof(res->user), r);
    char ukey[200];
    mc_text_join(ukey, sizeof(ukey), c->cfg.prefix, "user.", res->user);
    const char *argv[] = { "HMGET", ukey, "imsi", "msisdn" };
    size_t len[] = { 5, strlen(ukey), 4, 6 };
    if (mc_cloud_conn_command(c->conn, ukey, len[1], 4, argv, len, on_attrs_reply, res) != 0)
        post_result(c, res);
}

static void defer_ask(struct mc_cloud *c, const struct ask *a);

static void on_lookup_reply(void *privdata, redisReply *r)
{
    struct lookup_batch *lb = privdata;
    struct mc_cloud *c = lb->c;
    /* MGET answers an array; a cluster's GET, the value itself */
    int ok = r && (lb->node < 0 ? r->type != REDIS_REPLY_ERROR
                                : r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)lb->n);
    if (!ok) {
        if (r)
            MC_CTR_INC(cloud, write_errors);
        /* no answer: the negative cache expires and the packet thread asks again */
        atomic_fetch_add(&c->lookups_done, (uint64_t)lb->n);
        free(lb);
        return;
    }
    struct ask none[LOOKUP_BATCH];
    uint32_t n_none = 0;
    for (int i = 0; i < lb->n; i++) {
        const redisReply *v = lb->node < 0 ? r : r->element[i];
        struct ask *a = &lb->asks[i];
        if (v->type == REDIS_REPLY_STRING) {
            user_found(c, a, v);
        } else if (a->ver == 6 && !a->prefix) {
            /* a mobile UE picks its interface id in the prefix its session gave it: asked by the /64 next */
            a->prefix = 1;
            defer_ask(c, a);
        } else {
            none[n_none++] = *a;
        }
    }
    if (n_none)
        post_no_user(c, none, n_none);
    free(lb);
}

static size_t lookup_key(struct mc_cloud *c, const struct ask *a, char *key, size_t len)
{
    if (!a->prefix)
        return mc_cloud_addr_key(c->cfg.prefix, c->prefix_len, "user.ip.", 8, a->ver, &a->ip, key, len);
    struct mc_addr p = { 0 };
    memcpy(p.b, a->ip.b, 8);
    size_t n = mc_cloud_addr_key(c->cfg.prefix, c->prefix_len, "user.ip.", 8, a->ver, &p, key, len);
    if (n + 4 >= len)
        return n;
    memcpy(key + n, "/64", 4);
    return n + 3;
}

/* Keeps a lookup whose node cannot take it now for the next flush (bounded). */
static void defer_ask(struct mc_cloud *c, const struct ask *a)
{
    if (asks_push_ask(&c->deferred_asks, a) != 0) {
        MC_CTR_INC(cloud, refused);
        atomic_fetch_add(&c->lookups_done, 1);
    }
}

static void send_lookups(struct mc_cloud *c, struct lookup_batch *lb)
{
    const char *argv[1 + LOOKUP_BATCH];
    size_t len[1 + LOOKUP_BATCH];
    char(*keys)[200] = c->args->lookup_keys;
    argv[0] = lb->node < 0 ? "GET" : "MGET", len[0] = strlen(argv[0]);
    for (int i = 0; i < lb->n; i++) {
        len[1 + i] = lookup_key(c, &lb->asks[i], keys[i], sizeof(keys[i]));
        argv[1 + i] = keys[i];
    }
    int rc;
    if (lb->node < 0) {
        rc = mc_cloud_conn_command(c->conn, keys[0], len[1], 2, argv, len, on_lookup_reply, lb);
    } else {
        /* straight into RESP, as the host batches go */
        char *p = mc_resp_array(c->args->resp, (uint64_t)(1 + lb->n));
        for (int i = 0; i <= lb->n; i++)
            p = mc_resp_bulk(p, argv[i], len[i]);
        rc = mc_cloud_conn_command_resp(c->conn, lb->node, c->args->resp, (size_t)(p - c->args->resp),
                                        on_lookup_reply, lb);
    }
    if (rc != 0) {
        for (int i = 0; i < lb->n; i++)
            defer_ask(c, &lb->asks[i]);
        free(lb);
        return;
    }
    MC_CTR_ADD(cloud, lookups, (uint64_t)lb->n);
}

/* Sends the lookups in a (emptied): one MGET per node per LOOKUP_BATCH; a cluster, one GET each. */
void mc_cloud_run_asks(struct mc_cloud *c, struct asks *a)
{
    if (a->n && !mc_cloud_any_node_ready(c)) {
        /* the cloud is down: they wait as they are, at O(1) per flush */
        uint32_t lost = mc_cloud_asks_move(&c->deferred_asks, a);
        MC_CTR_ADD(cloud, refused, lost);
        atomic_fetch_add(&c->lookups_done, lost);
        return;
    }
    struct lookup_batch *open[MC_CLOUD_MAX_NODES] = { 0 };
    int cluster = mc_cloud_conn_is_cluster(c->conn);
    for (uint32_t i = 0; i < a->n; i++) {
        char key[200];
        int node = mc_cloud_conn_node_of(c->conn, key, lookup_key(c, &a->v[i], key, sizeof(key)));
        if (node < 0 || node >= MC_CLOUD_MAX_NODES || !mc_cloud_conn_ready(c->conn, node)) {
            defer_ask(c, &a->v[i]);
            continue;
        }
        struct lookup_batch *lb = open[node];
        if (!lb) {
            int cap = cluster ? 1 : LOOKUP_BATCH;
            lb = malloc(sizeof(*lb) + (size_t)cap * sizeof(lb->asks[0]));
            if (!lb) {
                defer_ask(c, &a->v[i]);
                continue;
            }
            lb->c = c;
            lb->n = 0;
            lb->node = cluster ? -1 : node;
            open[node] = lb;
        }
        lb->asks[lb->n++] = a->v[i];
        if (cluster || lb->n == LOOKUP_BATCH) {
            open[node] = NULL;
            send_lookups(c, lb);
        }
    }
    for (int i = 0; i < MC_CLOUD_MAX_NODES; i++)
        if (open[i])
            send_lookups(c, open[i]);
    a->n = 0;
}

/* Keeps an operation whose nodes cannot take it now for the next flush (bounded). */
static void defer_op(struct mc_cloud *c, struct op *o)
{
    if (c->n_deferred >= MAX_OPS) {
        MC_CTR_INC(cloud, refused);
        o->next = NULL;
        mc_cloud_free_ops(o);
        return;
    }
    o->next = NULL;
    *c->deferred_tail = o;
    c->deferred_tail = &o->next;
    c->n_deferred++;
}

/*
 * SET (value != NULL: each key to it, as MSET pairs) or DEL of n keys, as
 * few commands as the nodes allow: one per node the keys live on
 * standalone, where a session's address and TEID keys are four or five
 * SETs and DELs that cost the server a command each; one per key in a
 * cluster, whose multi-key commands must stay within a slot.
 */
static void send_keys(struct mc_cloud *c, const char *value, char (*keys)[256], int n)
{
    const char *argv[1 + 2 * (MAX_KEYS + 1)];
    int cluster = mc_cloud_conn_is_cluster(c->conn), node[MAX_KEYS + 1], sent[MAX_KEYS + 1] = { 0 };
    for (int i = 0; i < n; i++) /* -1: a command of its own */
        node[i] = cluster ? -1 : mc_cloud_conn_node_of(c->conn, keys[i], strlen(keys[i]));
    for (int i = 0; i < n; i++) {
        if (sent[i])
            continue;
        int argc = 0;
        argv[argc++] = value ? (cluster ? "SET" : "MSET") : "DEL";
        for (int j = i; j < n && (j == i || node[i] >= 0); j++) {
            if (sent[j] || node[j] != node[i])
                continue;
            sent[j] = 1;
            argv[argc++] = keys[j];
            if (value)
                argv[argc++] = value;
        }
        mc_cloud_send_simple(c, 1, argc, argv);
    }
}

/* Runs one user operation (1), or defers it while its nodes are not ready or busy (0); takes o. */
static int run_op(struct mc_cloud *c, struct op *o)
{
    char ip[64], ukey[200], ipkey[200], since[24];
    mc_addr_text(o->ver, &o->ip, ip, sizeof(ip));
    mc_text_join(ukey, sizeof(ukey), c->cfg.prefix, "user.", o->id);
    mc_text_join(ipkey, sizeof(ipkey), c->cfg.prefix, "user.ip.", ip);
    /* all of its commands or none: one refused would leave a key behind (a DEL lost), so room for them first */
    uint32_t cmds = 4 + (uint32_t)o->n_keys + (uint32_t)o->n_gone;
    uint32_t room = c->cfg.conn.max_inflight ? c->cfg.conn.max_inflight : 10000;
    if (!mc_cloud_key_ready(c, ipkey) || !mc_cloud_key_ready(c, ukey) || mc_cloud_conn_inflight(c->conn) + cmds > room) {
        defer_op(c, o);
        return 0;
    }
    char k[MAX_KEYS + 1][256];
    int n_k = 0;
    if (o->kind == OP_USER_SET) {
        const char *argv[8 + 2 * MAX_ATTRS];
        int argc = 0;
        mc_u64_str(o->ts_ms, since);
        argv[argc++] = "HSET";
        argv[argc++] = ukey;
        if (o->ver) {
            argv[argc++] = "ip";
            argv[argc++] = ip;
        }
        argv[argc++] = "since";
        argv[argc++] = since;
        argv[argc++] = "probe";
        argv[argc++] = c->cfg.probe_id;
        for (int i = 0; i < 2 * o->n_attrs; i++)
            argv[argc++] = o->attrs[i];
        mc_cloud_send_simple(c, 1, argc, argv);
        if (o->n_keys || o->n_gone) { /* a subscriber's record that lingered after an earlier session lives again */
            const char *persist[] = { "PERSIST", ukey };
            mc_cloud_send_simple(c, 1, 2, persist);
        }
        if (o->ver)
            mc_text_join(k[n_k++], sizeof(k[0]), ipkey, "", "");
        for (int i = 0; i < o->n_keys; i++)
            mc_text_join(k[n_k++], sizeof(k[0]), c->cfg.prefix, o->keys[i], "");
        send_keys(c, o->id, k, n_k);
        n_k = 0;
        MC_CTR_INC(cloud, users_set);
    } else {
        const char *del1[] = { "DEL", ukey };
        if (o->linger_ms && !o->keep_user) {
            char ttl[24];
            mc_u64_str(o->linger_ms, ttl);
            const char *hdel[] = { "HDEL", ukey, "ip", "ip6", "teids" };
            const char *exp[] = { "PEXPIRE", ukey, ttl };
            mc_cloud_send_simple(c, 1, 5, hdel);
            mc_cloud_send_simple(c, 1, 3, exp);
        } else if (!o->keep_user) {
            mc_cloud_send_simple(c, 1, 2, del1);
        }
        if (o->ver)
            mc_text_join(k[n_k++], sizeof(k[0]), ipkey, "", "");
        MC_CTR_INC(cloud, users_removed);
    }
    for (int i = 0; i < o->n_gone; i++) /* keys that no longer name the user */
        mc_text_join(k[n_k++], sizeof(k[0]), c->cfg.prefix, o->gone[i], "");
    send_keys(c, NULL, k, n_k);
    o->next = NULL;
    mc_cloud_free_ops(o);
    return 1;
}

/* The operations that waited for room, again (a flush, or a reply that freed half of it). */
void mc_cloud_retry_ops(struct mc_cloud *c)
{
    struct op *ops = c->deferred;
    c->deferred = NULL;
    c->deferred_tail = &c->deferred;
    c->n_deferred = 0;
    mc_cloud_run_ops(c, ops);
}

/* Runs a list of operations, in order. */
void mc_cloud_run_ops(struct mc_cloud *c, struct op *ops)
{
    /* in order: once one waits, the rest wait behind it (a session's SET must not overtake its DEL) */
    int blocked = c->deferred != NULL;
    while (ops) {
        struct op *o = ops;
        ops = ops->next;
        if (blocked)
            defer_op(c, o);
        else
            blocked = !run_op(c, o);
    }
}
