/*
 * ipfix.c - IPFIX messages (RFC 7011): one message per template buffer,
 * optionally led by a template set carrying that buffer's template.
 *
 *  0                   1                   2                   3
 *  +-------------------------------+-------------------------------+
 *  |       Version (10)            |   Length (whole message)      |
 *  +-------------------------------+-------------------------------+
 *  |                 Export Time (seconds, UTC)                    |
 *  +---------------------------------------------------------------+
 *  |                    Sequence Number                            |
 *  +---------------------------------------------------------------+
 *  |                 Observation Domain ID                         |
 *  +---------------------------------------------------------------+
 *  | Set ID (2: template, 256+: data) | Set Length (header incl.)  |
 *
 * RFC 7011 3.1: the sequence number is "the total number of IPFIX Data
 * Records sent ... from the current Observation Domain by the Exporting
 * Process" before this message, modulo 2^32; template records do not count.
 * Sets need no padding: every set here ends on a record boundary.
 */
#include "export/internal.h"

#define IPFIX_HDR 16
#define SET_HDR 4

static void ipfix_begin(struct mc_exporter *e, struct mc_export_buf *b, int with_tmpl)
{
    (void)e;
    b->len = IPFIX_HDR;
    b->nrec = 0;
    b->ntmpl = 0;
    if (with_tmpl) {
        size_t n = mc_export_template_write(b->t, b->data + b->len + SET_HDR);
        mc_put16(b->data + b->len, 2);
        mc_put16(b->data + b->len + 2, (uint32_t)(SET_HDR + n));
        b->len += SET_HDR + n;
        b->ntmpl = 1;
    }
    b->set_off = b->len;
    mc_put16(b->data + b->len, b->t->id);
    b->len += SET_HDR;
}

static size_t ipfix_rec_len(const struct mc_exporter *e, const struct mc_export_buf *b,
                            const struct mc_ie_env *env)
{
    (void)e;
    return mc_export_template_record_len(b->t, env);
}

static void ipfix_rec_put(struct mc_exporter *e, struct mc_export_buf *b, const struct mc_ie_env *env)
{
    (void)e;
    b->len += mc_export_template_record_put(b->t, env, b->data + b->len);
    b->nrec++;
}

static void ipfix_finish(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms)
{
    if (b->nrec == 0)
        b->len = b->set_off; /* template-only message: no empty data set */
    else
        mc_put16(b->data + b->set_off + 2, (uint32_t)(b->len - b->set_off));
    mc_put16(b->data, 10);
    mc_put16(b->data + 2, (uint32_t)b->len);
    mc_put32(b->data + 4, (uint32_t)(now_ms / 1000));
    mc_put32(b->data + 8, (uint32_t)e->seq);
    mc_put32(b->data + 12, e->cfg.domain_id);
    e->seq += b->nrec;
}

const struct mc_export_dialect mc_export_ipfix = {
    .name = "ipfix",
    .version = 10,
    .has_templates = 1,
    .slack = 0,
    .max_records = 0,
    .begin = ipfix_begin,
    .rec_len = ipfix_rec_len,
    .rec_put = ipfix_rec_put,
    .finish = ipfix_finish,
};
