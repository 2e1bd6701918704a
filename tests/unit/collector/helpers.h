/*
 * helpers.h - shared by the collector unit tests: a record sink that keeps a
 * copy of every record, a byte builder for hand-made messages, and the round
 * trip check comparing decoded fields with what the probe's exporter read
 * from the flow.  Header-only (static) so each test_*.c stays one executable.
 */
#ifndef MC_TEST_COLLECTOR_HELPERS_H
#define MC_TEST_COLLECTOR_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "export/fields.h"
#include "export/internal.h"

#define CAP_FIELDS 48
#define CAP_VAL 320
#define CAP_RECS 256

struct cap_field {
    uint32_t pen;
    uint16_t id, len;
    uint8_t v[CAP_VAL];
};

struct cap_rec {
    int version, options;
    uint32_t domain, seq, secs, nsecs, uptime;
    uint16_t tid, scope;
    uint64_t lost;
    uint32_t sampling;
    size_t n;
    struct cap_field f[CAP_FIELDS];
};

struct cap {
    size_t n;
    struct cap_rec *r; /* CAP_RECS */
};

static inline void cap_fn(void *ctx, const struct mc_coll_record *r)
{
    struct cap *c = ctx;
    if (c->n == CAP_RECS)
        return;
    struct cap_rec *o = &c->r[c->n++];
    o->version = r->version;
    o->options = r->options;
    o->domain = r->domain;
    o->seq = r->seq;
    o->secs = r->export_secs;
    o->nsecs = r->export_nsecs;
    o->uptime = r->sys_uptime;
    o->tid = r->template_id;
    o->scope = r->scope_count;
    o->lost = r->lost;
    o->sampling = r->sampling;
    o->n = r->n < CAP_FIELDS ? r->n : CAP_FIELDS;
    for (size_t i = 0; i < o->n; i++) {
        o->f[i].pen = r->f[i].pen;
        o->f[i].id = r->f[i].id;
        o->f[i].len = r->f[i].len;
        memcpy(o->f[i].v, r->f[i].value, r->f[i].len < CAP_VAL ? r->f[i].len : CAP_VAL);
    }
}

static inline struct mc_coll *cap_new(struct cap *c, const struct mc_coll_config *cfg)
{
    c->n = 0;
    if (!c->r)
        c->r = calloc(CAP_RECS, sizeof(*c->r));
    mc_ctr_reset();
    return mc_coll_new(cfg, cap_fn, c);
}

static inline void cap_free(struct cap *c)
{
    free(c->r);
    c->r = NULL;
    c->n = 0;
}

static inline const struct cap_field *fld(const struct cap_rec *r, uint32_t pen, uint16_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->f[i].pen == pen && r->f[i].id == id)
            return &r->f[i];
    return NULL;
}

static inline uint64_t fval(const struct cap_rec *r, uint32_t pen, uint16_t id)
{
    const struct cap_field *f = fld(r, pen, id);
    if (!f)
        return UINT64_MAX;
    struct mc_coll_field cf = { f->pen, f->id, f->len, f->v };
    return mc_coll_field_u64(&cf);
}

static inline uint64_t ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    return v ? *v : UINT64_MAX;
}

/* ---- the byte builder ------------------------------------------------- */

struct bb {
    size_t n;
    uint8_t b[8192];
};

static inline void put8(struct bb *b, uint32_t v) { b->b[b->n++] = (uint8_t)v; }
static inline void put16(struct bb *b, uint32_t v) { put8(b, v >> 8), put8(b, v); }
static inline void put32(struct bb *b, uint32_t v) { put16(b, v >> 16), put16(b, v); }
static inline void put64(struct bb *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)), put32(b, (uint32_t)v); }
static inline void putn(struct bb *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static inline void patch16(struct bb *b, size_t off, uint32_t v)
{
    b->b[off] = (uint8_t)(v >> 8);
    b->b[off + 1] = (uint8_t)v;
}

/* IPFIX message header; ipfix_end writes the length. */
static inline void ipfix_begin(struct bb *b, uint32_t secs, uint32_t seq, uint32_t domain)
{
    b->n = 0;
    put16(b, 10), put16(b, 0), put32(b, secs), put32(b, seq), put32(b, domain);
}
static inline void ipfix_end(struct bb *b) { patch16(b, 2, (uint32_t)b->n); }

/* v9 packet header. */
static inline void nf9_begin(struct bb *b, uint16_t count, uint32_t up, uint32_t secs, uint32_t seq, uint32_t src)
{
    b->n = 0;
    put16(b, 9), put16(b, count), put32(b, up), put32(b, secs), put32(b, seq), put32(b, src);
}

/* A set: set_begin returns its offset, set_end writes its length. */
static inline size_t set_begin(struct bb *b, uint16_t id)
{
    size_t off = b->n;
    put16(b, id), put16(b, 0);
    return off;
}
static inline void set_end(struct bb *b, size_t off) { patch16(b, off + 2, (uint32_t)(b->n - off)); }

static const struct mc_coll_src SRC = { .addr = { 192, 0, 2, 1 }, .ver = 4, .port = 4739 };
static const struct mc_coll_src SRC2 = { .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 }, .ver = 6, .port = 2055 };

/* ---- round trips -------------------------------------------------------- */

/*
 * Checks every field of r against what the exporter's own table reads from
 * f (direction chosen by the record's source address): numbers and
 * addresses byte for byte as the exporter encodes them at the field's
 * length, strings up to their length.  Returns the fields compared.
 */
static inline size_t check_record_vs_flow(const struct cap_rec *r, const struct mc_flow *f, int biflow,
                                          const struct mc_exporter *e)
{
    int dir = 0;
    const struct cap_field *s = fld(r, 0, 8);
    if (!s)
        s = fld(r, 0, 27);
    assert_non_null(s);
    if (memcmp(s->v, f->key.addr[0].b, s->len) != 0) {
        assert_memory_equal(s->v, f->key.addr[1].b, s->len);
        dir = 1;
    }
    struct mc_ie_env env = { f, dir, biflow, e->boot_ms, e->cfg.ingress_if, e->cfg.egress_if };
    size_t compared = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct cap_field *x = &r->f[i];
        const struct mc_ie *ie = mc_export_ie_find_id(x->pen, x->id);
        if (!ie) {
            assert_int_equal(x->id, 34); /* v5 samplingInterval: not sampled */
            assert_int_equal(x->v[3], 0);
            continue;
        }
        if (ie->type == MC_IE_T_STRING) {
            struct mc_ie_val v;
            mc_export_ie_value(ie, &env, &v);
            assert_true(x->len >= v.str_len);
            assert_memory_equal(x->v, v.str ? v.str : "", v.str_len);
        } else {
            uint8_t want[64];
            size_t n = mc_export_ie_encode(ie, x->len, &env, want);
            if (n != x->len || memcmp(want, x->v, n) != 0)
                fail_msg("field %s (%u.%u, %u bytes) differs from the flow", ie->name, x->pen, x->id, x->len);
        }
        compared++;
    }
    return compared;
}

#endif
