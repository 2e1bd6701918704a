/*
 * templates.c - the collector's template cache, per-exporter streams, the
 * queue of data sets held before their template, and the record walk of
 * template-based data sets (IPFIX and NetFlow v9).
 *
 * References: RFC 7011 (IPFIX) 3.4.1 template records, 3.4.2.2 options
 * template records, 3.2 field specifiers (enterprise bit, PEN), 7 variable
 * length, 8.1 withdrawal, 8.4 UDP template lifetime; RFC 3954 (v9) 5.2
 * template flowset, 6.1 options template flowset.
 *
 * Template record (IPFIX; v9 is the same without the enterprise bit):
 *    +------------------------------+------------------------------+
 *    | Template ID (>= 256)         | Field Count (0: withdrawal)  |
 *    +------------------------------+------------------------------+
 *    |E| Information Element id     | Field Length (65535: varlen) |
 *    +------------------------------+------------------------------+
 *    | Enterprise Number, present when E is set                    |
 *    +-------------------------------------------------------------+
 * IPFIX options templates add a Scope Field Count after Field Count, "the
 * number of scope fields ... MUST NOT be zero" (3.4.2.2).  v9 options
 * templates carry "Option Scope Length" and "Option Length", "in bytes" of
 * the scope and option field specifiers that follow (6.1).
 *
 * Memory is bounded by the configuration: max_templates slots (a full table
 * refuses new templates, counted), max_streams streams, max_pending held
 * sets of at most max_pending_bytes in all (the oldest is dropped for a new
 * one, counted).
 */
#include "collector/templates.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/fields.h"

MC_CTR_DEFINE(collector, MC_COLLECTOR_CTRS)

#define CTR(id) MC_CTR_INC(collector, id)

struct tfield {
    uint32_t pen;
    uint16_t id;
    uint16_t len;            /* MC_COLL_VARLEN for variable length (IPFIX) */
};

struct tmpl {
    int used;
    int next;                /* hash chain: slot index, -1 ends */
    struct mc_coll_src src;
    uint8_t version;
    uint8_t options;
    uint16_t id;
    uint32_t domain;
    uint16_t scope_count;
    uint16_t n;
    size_t min_len;          /* the shortest record: fixed lengths + 1 per variable-length field */
    uint64_t seen_ms;        /* last defined or refreshed */
    struct tfield *f;        /* owned: n specifiers */
};

struct pending {
    int used;
    uint64_t order;          /* arrival order: the oldest is dropped first */
    struct mc_coll_msg m;
    uint16_t set_id;
    size_t len;
    uint8_t *data;           /* owned: the set's bytes after its header */
};

struct mc_coll {
    struct mc_coll_config cfg;
    mc_coll_record_fn fn;
    void *ctx;               /* borrowed */
    struct tmpl *t;          /* owned: cfg.max_templates slots */
    int *bucket;             /* owned: nbucket chain heads */
    size_t nbucket;          /* a power of two */
    size_t n_tmpl;
    struct mc_coll_stream *st; /* owned: cfg.max_streams */
    size_t n_st;
    struct pending *pend;    /* owned: cfg.max_pending */
    size_t n_pend, pend_bytes;
    uint64_t pend_order;
    struct mc_coll_field f[MC_COLL_MAX_FIELDS]; /* the record being delivered */
};

void mc_coll_config_defaults(struct mc_coll_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_templates = 4096;
    cfg->template_timeout_s = 1800;
    cfg->max_pending = 256;
    cfg->max_pending_bytes = 1u << 20;
    cfg->pending_timeout_s = 60;
    cfg->max_streams = 1024;
}

struct mc_coll *mc_coll_new(const struct mc_coll_config *cfg, mc_coll_record_fn fn, void *ctx)
{
    struct mc_coll *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (cfg)
        c->cfg = *cfg;
    else
        mc_coll_config_defaults(&c->cfg);
    if (c->cfg.max_templates == 0)
        c->cfg.max_templates = 1;
    if (c->cfg.max_streams == 0)
        c->cfg.max_streams = 1;
    c->fn = fn;
    c->ctx = ctx;
    c->nbucket = 16;
    while (c->nbucket < 2 * c->cfg.max_templates)
        c->nbucket <<= 1;
    c->t = calloc(c->cfg.max_templates, sizeof(*c->t));
    c->bucket = malloc(c->nbucket * sizeof(*c->bucket));
    c->st = calloc(c->cfg.max_streams, sizeof(*c->st));
    c->pend = c->cfg.max_pending ? calloc(c->cfg.max_pending, sizeof(*c->pend)) : NULL;
    if (!c->t || !c->bucket || !c->st || (c->cfg.max_pending && !c->pend)) {
        mc_coll_free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->nbucket; i++)
        c->bucket[i] = -1;
    return c;
}

void mc_coll_free(struct mc_coll *c)
{
    if (!c)
        return;
    if (c->t)
        for (size_t i = 0; i < c->cfg.max_templates; i++)
            free(c->t[i].f);
    if (c->pend)
        for (size_t i = 0; i < c->cfg.max_pending; i++)
            free(c->pend[i].data);
    free(c->t);
    free(c->bucket);
    free(c->st);
    free(c->pend);
    free(c);
}

size_t mc_coll_n_templates(const struct mc_coll *c) { return c->n_tmpl; }
size_t mc_coll_n_pending(const struct mc_coll *c) { return c->n_pend; }

/* ---- streams ------------------------------------------------------------ */

static int same_src(const struct mc_coll_src *a, const struct mc_coll_src *b)
{
    return a->ver == b->ver && a->port == b->port && a->tcp == b->tcp && memcmp(a->addr, b->addr, 16) == 0;
}

static struct mc_coll_stream *stream_lookup(const struct mc_coll *c, const struct mc_coll_src *src, int version,
                                            uint32_t domain)
{
    /* few exporters per collector: a scan; a hash when --allow lists grow large */
    for (size_t i = 0; i < c->n_st; i++) {
        struct mc_coll_stream *s = &c->st[i];
        if (s->version == version && s->domain == domain && same_src(&s->src, src))
            return s;
    }
    return NULL;
}

const struct mc_coll_stream *mc_coll_stream_find(const struct mc_coll *c, const struct mc_coll_src *src,
                                                 int version, uint32_t domain)
{
    return stream_lookup(c, src, version, domain);
}

const struct mc_coll_stream *mc_coll_stream_at(const struct mc_coll *c, size_t i)
{
    return i < c->n_st ? &c->st[i] : NULL;
}

struct mc_coll_stream *mc_coll_stream_get(struct mc_coll *c, const struct mc_coll_msg *m)
{
    struct mc_coll_stream *s = stream_lookup(c, &m->src, m->version, m->domain);
    if (s)
        return s;
    if (c->n_st == c->cfg.max_streams) {
        /* full: the stream that has been quiet longest and holds no template makes room (a flood from
         * forged sources would else lock every new exporter out); with templates everywhere, refused */
        struct mc_coll_stream *old = NULL;
        for (size_t i = 0; i < c->n_st; i++)
            if (!c->st[i].templates && (!old || c->st[i].last_ms < old->last_ms))
                old = &c->st[i];
        if (!old) {
            CTR(streams_full);
            return NULL;
        }
        CTR(streams_evicted);
        s = old;
    } else {
        s = &c->st[c->n_st++];
    }
    memset(s, 0, sizeof(*s));
    s->src = m->src;
    s->version = m->version;
    s->domain = m->domain;
    return s;
}

int mc_coll_seq_check(struct mc_coll_stream *st, uint32_t seq)
{
    if (!st->have_seq || seq == st->next_seq)
        return 1;
    /* serial arithmetic (RFC 1982): the distance on the 32-bit circle */
    int64_t d = (int32_t)(seq - st->next_seq);
    if (d > 0) {
        st->lost += (uint64_t)d;
        MC_CTR_ADD(collector, seq_lost, (uint64_t)d);
        return 1;
    }
    st->out_of_order++;
    CTR(seq_out_of_order);
    return -d > MC_COLL_SEQ_WINDOW; /* far behind: the exporter restarted, follow it */
}

void mc_coll_set_malformed(struct mc_coll *c, struct mc_coll_stream *st)
{
    (void)c;
    CTR(sets_malformed);
    if (st)
        st->malformed_sets++;
}

/* ---- the template table ------------------------------------------------- */

static size_t key_hash(const struct mc_coll *c, const struct mc_coll_src *src, int version, uint32_t domain,
                       uint16_t id)
{
    /* FNV-1a over the key's bytes */
    uint32_t h = 2166136261u;
    uint8_t k[16 + 2 + 1 + 4 + 2];
    memcpy(k, src->addr, 16);
    k[16] = (uint8_t)(src->port >> 8), k[17] = (uint8_t)src->port;
    k[18] = (uint8_t)version;
    k[19] = (uint8_t)(domain >> 24), k[20] = (uint8_t)(domain >> 16);
    k[21] = (uint8_t)(domain >> 8), k[22] = (uint8_t)domain;
    k[23] = (uint8_t)(id >> 8), k[24] = (uint8_t)id;
    for (size_t i = 0; i < sizeof(k); i++)
        h = (h ^ k[i]) * 16777619u;
    return h & (c->nbucket - 1);
}

static int tmpl_find(const struct mc_coll *c, const struct mc_coll_msg *m, uint16_t id)
{
    for (int i = c->bucket[key_hash(c, &m->src, m->version, m->domain, id)]; i >= 0; i = c->t[i].next) {
        const struct tmpl *t = &c->t[i];
        if (t->id == id && t->domain == m->domain && t->version == m->version && same_src(&t->src, &m->src))
            return i;
    }
    return -1;
}

static void tmpl_remove(struct mc_coll *c, int i)
{
    struct tmpl *t = &c->t[i];
    int *pp = &c->bucket[key_hash(c, &t->src, t->version, t->domain, t->id)];
    while (*pp != i)
        pp = &c->t[*pp].next;
    *pp = t->next;
    struct mc_coll_stream *s = stream_lookup(c, &t->src, t->version, t->domain);
    if (s && s->templates)
        s->templates--;
    free(t->f);
    memset(t, 0, sizeof(*t));
    c->n_tmpl--;
}

static int tmpl_expired(const struct mc_coll *c, const struct tmpl *t, uint64_t now_ms)
{
    return c->cfg.template_timeout_s && !t->src.tcp && now_ms > t->seen_ms &&
           now_ms - t->seen_ms > (uint64_t)c->cfg.template_timeout_s * 1000;
}

/* The live template for (m, id): a timed-out one is dropped on the way (RFC 7011 8.4). */
static struct tmpl *tmpl_get(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t id)
{
    int i = tmpl_find(c, m, id);
    if (i < 0)
        return NULL;
    if (tmpl_expired(c, &c->t[i], m->now_ms)) {
        CTR(tmpl_expired);
        tmpl_remove(c, i);
        return NULL;
    }
    return &c->t[i];
}

/* A parsed template record, before it goes into the table. */
struct tdef {
    uint16_t id, n, scope_count;
    uint8_t options;
    size_t min_len;
    struct tfield f[MC_COLL_MAX_FIELDS];
};

static void drain_pending(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t id);

/* Adds or replaces the template d of m's stream; returns 0, or -1 when the table is full. */
static int tmpl_store(struct mc_coll *c, const struct mc_coll_msg *m, struct mc_coll_stream *st,
                      const struct tdef *d)
{
    int i = tmpl_find(c, m, d->id);
    if (i >= 0) {
        struct tmpl *t = &c->t[i];
        st->templates_seen++;
        if (t->n == d->n && t->options == d->options && t->scope_count == d->scope_count &&
            memcmp(t->f, d->f, d->n * sizeof(d->f[0])) == 0) {
            CTR(tmpl_refreshed);
            t->seen_ms = m->now_ms;
            return 0;
        }
        /* RFC 7011 8.1: over UDP a template may be redefined without a withdrawal */
        struct tfield *f = malloc(d->n * sizeof(*f));
        if (!f)
            return -1;
        free(t->f);
        t->f = f;
        memcpy(t->f, d->f, d->n * sizeof(*f));
        t->n = d->n;
        t->options = d->options;
        t->scope_count = d->scope_count;
        t->min_len = d->min_len;
        t->seen_ms = m->now_ms;
        CTR(tmpl_changed);
        drain_pending(c, m, d->id);
        return 0;
    }
    if (c->n_tmpl == c->cfg.max_templates) {
        CTR(tmpl_table_full);
        return -1;
    }
    size_t slot = 0;
    while (c->t[slot].used)
        slot++;
    struct tmpl *t = &c->t[slot];
    t->f = malloc(d->n * sizeof(*t->f));
    if (!t->f)
        return -1;
    memcpy(t->f, d->f, d->n * sizeof(*t->f));
    t->used = 1;
    t->src = m->src;
    t->version = (uint8_t)m->version;
    t->domain = m->domain;
    t->id = d->id;
    t->n = d->n;
    t->options = d->options;
    t->scope_count = d->scope_count;
    t->min_len = d->min_len;
    t->seen_ms = m->now_ms;
    size_t b = key_hash(c, &m->src, m->version, m->domain, d->id);
    t->next = c->bucket[b];
    c->bucket[b] = (int)slot;
    c->n_tmpl++;
    st->templates++;
    st->templates_seen++;
    CTR(tmpl_added);
    drain_pending(c, m, d->id);
    return 0;
}

/* RFC 7011 8.1: field count 0 withdraws id; id 2 (3 in an options set) withdraws every (options) template. */
static void withdraw(struct mc_coll *c, const struct mc_coll_msg *m, enum mc_coll_tset k, uint16_t id)
{
    if (id == (uint16_t)k) {
        for (size_t i = 0; i < c->cfg.max_templates; i++) {
            struct tmpl *t = &c->t[i];
            if (t->used && t->version == m->version && t->domain == m->domain && same_src(&t->src, &m->src) &&
                t->options == (k == MC_COLL_TSET_IPFIX_OPTIONS)) {
                tmpl_remove(c, (int)i);
                CTR(tmpl_withdrawn);
            }
        }
        return;
    }
    int i = tmpl_find(c, m, id);
    if (i < 0) {
        CTR(tmpl_withdraw_unknown);
        return;
    }
    tmpl_remove(c, i);
    CTR(tmpl_withdrawn);
}

/*
 * Reads n field specifiers into d->f[from..from+n), adding to d->min_len.
 * Returns 0, or -1 on a short or invalid specifier.
 */
static int read_fields(struct mc_cur *r, struct tdef *d, size_t from, size_t n, int ipfix)
{
    for (size_t i = from; i < from + n; i++) {
        uint16_t id = mc_cur_be16(r);
        uint16_t len = mc_cur_be16(r);
        uint32_t pen = 0;
        if (ipfix && (id & 0x8000)) {
            pen = mc_cur_be32(r);
            id &= 0x7fff;
        }
        if (!mc_cur_ok(r))
            return -1;
        if (len == MC_COLL_VARLEN && !ipfix)
            return -1; /* v9 has no variable-length fields */
        d->f[i].pen = pen;
        d->f[i].id = id;
        d->f[i].len = len;
        d->min_len += len == MC_COLL_VARLEN ? 1 : len;
    }
    return 0;
}

int mc_coll_template_set(struct mc_coll *c, const struct mc_coll_msg *m, enum mc_coll_tset k,
                         struct mc_cur *set)
{
    struct mc_coll_stream *st = mc_coll_stream_get(c, m);
    if (!st)
        return 0;
    int ipfix = k == MC_COLL_TSET_IPFIX || k == MC_COLL_TSET_IPFIX_OPTIONS;
    struct tdef d;
    int nrec = 0;
    /* what is left after the last record and shorter than a record header is padding */
    while (mc_cur_left(set) >= 4) {
        d.min_len = 0;
        d.id = mc_cur_be16(set);
        uint16_t count = mc_cur_be16(set);
        size_t nscope = 0;
        if (ipfix && count == 0) {
            nrec++;
            withdraw(c, m, k, d.id);
            continue;
        }
        if (k == MC_COLL_TSET_IPFIX_OPTIONS) {
            nscope = mc_cur_be16(set);
            if (!mc_cur_ok(set) || nscope == 0 || nscope > count)
                goto bad;
        } else if (k == MC_COLL_TSET_V9_OPTIONS) {
            /* count was the option scope length; the option length follows, both in bytes */
            size_t scope_bytes = count, opt_bytes = mc_cur_be16(set);
            if (!mc_cur_ok(set) || scope_bytes % 4 || opt_bytes % 4 || scope_bytes == 0)
                goto bad;
            nscope = scope_bytes / 4;
            count = (uint16_t)((scope_bytes + opt_bytes) / 4);
        }
        if (d.id < 256 || count == 0 || count > MC_COLL_MAX_FIELDS)
            goto bad;
        if (read_fields(set, &d, 0, count, ipfix) < 0)
            goto bad;
        if (d.min_len == 0 || d.min_len > 0xffff)
            goto bad; /* a record of no bytes would never end a set; a longer one never fits a message */
        d.n = count;
        d.scope_count = (uint16_t)nscope;
        d.options = k == MC_COLL_TSET_IPFIX_OPTIONS || k == MC_COLL_TSET_V9_OPTIONS;
        nrec++;
        if (tmpl_store(c, m, st, &d) < 0)
            continue; /* counted: table full */
    }
    return nrec;
bad:
    CTR(tmpl_bad);
    mc_coll_set_malformed(c, st);
    return nrec;
}

/* ---- records ------------------------------------------------------------ */

void mc_coll_emit(struct mc_coll *c, const struct mc_coll_record *r)
{
    CTR(records);
    if (r->options)
        CTR(records_options);
    if (c->fn)
        c->fn(c->ctx, r);
}

/* Walks the records of a data set against t; returns the records delivered. */
static int decode_records(struct mc_coll *c, const struct mc_coll_msg *m, struct mc_coll_stream *st,
                          const struct tmpl *t, struct mc_cur *set)
{
    struct mc_coll_record r = {
        .exporter = &m->src, .version = m->version, .domain = m->domain, .template_id = t->id,
        .options = t->options, .scope_count = t->scope_count, .export_secs = m->export_secs,
        .export_nsecs = m->export_nsecs, .sys_uptime = m->sys_uptime, .seq = m->seq, .n = t->n, .f = c->f,
    };
    r.lost = st ? st->lost : 0;
    int n = 0;
    int fixed = 1;
    for (size_t i = 0; i < t->n; i++) {
        c->f[i].pen = t->f[i].pen;
        c->f[i].id = t->f[i].id;
        c->f[i].len = t->f[i].len;
        fixed &= t->f[i].len != MC_COLL_VARLEN;
    }
    if (fixed) {
        /* every record is min_len bytes: its fields' places are known, only their values move (the
         * common case, and the hot loop of a busy collector) */
        while (mc_cur_left(set) >= t->min_len) {
            const uint8_t *p = mc_cur_ptr(set);
            for (size_t i = 0; i < t->n; i++) {
                c->f[i].value = p;
                p += c->f[i].len;
            }
            mc_cur_skip(set, t->min_len);
            mc_coll_emit(c, &r);
            n++;
        }
    }
    /* RFC 7011 3.3.1 / RFC 3954 5.3: fewer bytes than the shortest record are padding */
    while (!fixed && mc_cur_left(set) >= t->min_len) {
        for (size_t i = 0; i < t->n; i++) {
            size_t len = t->f[i].len;
            if (len == MC_COLL_VARLEN) {
                /* RFC 7011 7: one length octet, or 255 then a two-octet length */
                len = mc_cur_u8(set);
                if (len == 255)
                    len = mc_cur_be16(set);
            }
            c->f[i].pen = t->f[i].pen;
            c->f[i].id = t->f[i].id;
            c->f[i].len = (uint16_t)len;
            c->f[i].value = mc_cur_ptr(set);
            mc_cur_skip(set, len);
        }
        if (!mc_cur_ok(set)) {
            /* a variable length ran past the set: the rest cannot be framed */
            CTR(records_malformed);
            mc_coll_set_malformed(c, st);
            break;
        }
        mc_coll_emit(c, &r);
        n++;
    }
    if (n == 0 && mc_cur_ok(set) && mc_cur_left(set) > 0) {
        /* bytes but not one record: padding follows a record, so the template's lengths overran the set */
        CTR(records_malformed);
        mc_coll_set_malformed(c, st);
    }
    if (st)
        st->records += (uint64_t)n;
    return n;
}

/* ---- data sets before their template ------------------------------------ */

static void pend_drop(struct mc_coll *c, struct pending *p)
{
    c->pend_bytes -= p->len;
    c->n_pend--;
    free(p->data);
    memset(p, 0, sizeof(*p));
}

static void pend_hold(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t set_id, struct mc_cur *set)
{
    size_t len = mc_cur_left(set);
    if (c->cfg.max_pending == 0 || len > c->cfg.max_pending_bytes) {
        CTR(pending_too_big);
        return;
    }
    /* make room: the oldest held sets go first */
    while (c->n_pend == c->cfg.max_pending || c->pend_bytes + len > c->cfg.max_pending_bytes) {
        struct pending *old = NULL;
        for (size_t i = 0; i < c->cfg.max_pending; i++)
            if (c->pend[i].used && (!old || c->pend[i].order < old->order))
                old = &c->pend[i];
        if (!old)
            break;
        pend_drop(c, old);
        CTR(pending_dropped);
    }
    struct pending *p = NULL;
    for (size_t i = 0; i < c->cfg.max_pending && !p; i++)
        if (!c->pend[i].used)
            p = &c->pend[i];
    uint8_t *copy = malloc(len ? len : 1);
    if (!p || !copy) {
        free(copy);
        CTR(pending_dropped);
        return;
    }
    memcpy(copy, mc_cur_ptr(set), len);
    p->used = 1;
    p->order = c->pend_order++;
    p->m = *m;
    p->set_id = set_id;
    p->len = len;
    p->data = copy;
    c->n_pend++;
    c->pend_bytes += len;
    CTR(pending_held);
}

/* Decodes, oldest first, the held sets of m's stream waiting for template id. */
static void drain_pending(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t id)
{
    for (;;) {
        struct pending *p = NULL;
        for (size_t i = 0; i < c->cfg.max_pending; i++) {
            struct pending *q = &c->pend[i];
            if (q->used && q->set_id == id && q->m.version == m->version && q->m.domain == m->domain &&
                same_src(&q->m.src, &m->src) && (!p || q->order < p->order))
                p = q;
        }
        if (!p)
            return;
        int i = tmpl_find(c, m, id);
        if (i < 0)
            return;
        /* the held set keeps its own header (time, sequence), decoded with the template now known */
        struct mc_coll_msg held = p->m;
        uint8_t *data = p->data;
        size_t len = p->len;
        p->data = NULL;
        pend_drop(c, p);
        struct mc_cur set = mc_cur_make(data, len);
        CTR(pending_decoded);
        decode_records(c, &held, stream_lookup(c, &held.src, held.version, held.domain), &c->t[i], &set);
        free(data);
    }
}

int mc_coll_data_set(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t set_id, struct mc_cur *set)
{
    struct mc_coll_stream *st = mc_coll_stream_get(c, m);
    if (!st)
        return -1;
    struct tmpl *t = tmpl_get(c, m, set_id);
    if (!t) {
        pend_hold(c, m, set_id, set);
        return -1;
    }
    return decode_records(c, m, st, t, set);
}

void mc_coll_expire(struct mc_coll *c, uint64_t now_ms)
{
    for (size_t i = 0; i < c->cfg.max_templates; i++)
        if (c->t[i].used && tmpl_expired(c, &c->t[i], now_ms)) {
            CTR(tmpl_expired);
            tmpl_remove(c, (int)i);
        }
    uint64_t max_age = (uint64_t)c->cfg.pending_timeout_s * 1000;
    for (size_t i = 0; i < c->cfg.max_pending; i++) {
        struct pending *p = &c->pend[i];
        if (p->used && now_ms > p->m.now_ms && now_ms - p->m.now_ms > max_age) {
            pend_drop(c, p);
            CTR(pending_expired);
        }
    }
}

void mc_coll_forget(struct mc_coll *c, const struct mc_coll_src *src)
{
    for (size_t i = 0; i < c->cfg.max_templates; i++)
        if (c->t[i].used && same_src(&c->t[i].src, src))
            tmpl_remove(c, (int)i);
    for (size_t i = 0; i < c->cfg.max_pending; i++)
        if (c->pend[i].used && same_src(&c->pend[i].m.src, src))
            pend_drop(c, &c->pend[i]);
    for (size_t i = 0; i < c->n_st;) {
        if (same_src(&c->st[i].src, src)) {
            c->st[i] = c->st[--c->n_st]; /* the last takes its place: stream order means nothing */
            CTR(streams_forgotten);
        } else {
            i++;
        }
    }
}

/* ---- helpers for the record's consumers --------------------------------- */

/*
 * Elements of v5/v9 headers the probe does not export (IANA names), the
 * sFlow agent address (IANA) and sFlow's generic interface counters (ours,
 * PEN 32473 ids 290-307, named as in IF-MIB; docs/internals/collector.md).
 */
static const struct {
    uint32_t pen;
    uint16_t id;
    const char *name;
} extra_names[] = {
    { MC_PEN_MC, 290, "ifType" },
    { MC_PEN_MC, 291, "ifSpeed" },
    { MC_PEN_MC, 292, "ifDirection" },
    { MC_PEN_MC, 293, "ifStatus" },
    { MC_PEN_MC, 294, "ifInOctets" },
    { MC_PEN_MC, 295, "ifInUcastPkts" },
    { MC_PEN_MC, 296, "ifInMulticastPkts" },
    { MC_PEN_MC, 297, "ifInBroadcastPkts" },
    { MC_PEN_MC, 298, "ifInDiscards" },
    { MC_PEN_MC, 299, "ifInErrors" },
    { MC_PEN_MC, 300, "ifInUnknownProtos" },
    { MC_PEN_MC, 301, "ifOutOctets" },
    { MC_PEN_MC, 302, "ifOutUcastPkts" },
    { MC_PEN_MC, 303, "ifOutMulticastPkts" },
    { MC_PEN_MC, 304, "ifOutBroadcastPkts" },
    { MC_PEN_MC, 305, "ifOutDiscards" },
    { MC_PEN_MC, 306, "ifOutErrors" },
    { MC_PEN_MC, 307, "ifPromiscuousMode" },
};

/* (pen, id) -> element, open addressing over the catalogue: a record's every field is named, so the
 * catalogue's linear search (export/fields.h) would cost more than the decoding. Built once. */
#define IE_SLOTS 2048
static const struct mc_ie *ie_slot[IE_SLOTS];
static pthread_once_t ie_once = PTHREAD_ONCE_INIT;

static size_t ie_hash(uint32_t pen, uint16_t id)
{
    return ((pen * 2654435761u) ^ (id * 40503u)) & (IE_SLOTS - 1);
}

static void ie_build(void)
{
    for (size_t i = 0, n = mc_export_n_all(); i < n && i < IE_SLOTS / 2; i++) {
        const struct mc_ie *ie = mc_export_ie_at(i);
        size_t h = ie_hash(ie->pen, ie->id);
        while (ie_slot[h] && !(ie_slot[h]->pen == ie->pen && ie_slot[h]->id == ie->id))
            h = (h + 1) & (IE_SLOTS - 1);
        if (!ie_slot[h]) /* the first row of a (pen, id) wins, as in mc_export_ie_find_id */
            ie_slot[h] = ie;
    }
}

const struct mc_ie *mc_coll_ie(uint32_t pen, uint16_t id)
{
    pthread_once(&ie_once, ie_build);
    for (size_t h = ie_hash(pen, id);; h = (h + 1) & (IE_SLOTS - 1)) {
        const struct mc_ie *ie = ie_slot[h];
        if (!ie || (ie->pen == pen && ie->id == id))
            return ie;
    }
}

const char *mc_coll_field_name(uint32_t pen, uint16_t id, char *buf, size_t len)
{
    const struct mc_ie *ie = mc_coll_ie(pen, id);
    if (ie)
        return ie->name;
    const struct mc_coll_iana *iana = pen == 0 ? mc_coll_iana(id) : NULL;
    if (iana)
        return iana->name;
    for (size_t i = 0; i < sizeof(extra_names) / sizeof(extra_names[0]); i++)
        if (extra_names[i].pen == pen && extra_names[i].id == id)
            return extra_names[i].name;
    snprintf(buf, len, "%u.%u", (unsigned)pen, (unsigned)id);
    return buf;
}

uint64_t mc_coll_uptime_ms(const struct mc_coll_record *r, uint32_t uptime)
{
    /* the difference on the 32-bit circle: sysUpTime wraps after 49.7 days */
    int64_t back = (int32_t)(r->sys_uptime - uptime);
    uint64_t hdr = (uint64_t)r->export_secs * 1000 + r->export_nsecs / 1000000u;
    return (uint64_t)((int64_t)hdr - back);
}
