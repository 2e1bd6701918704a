/*
 * nf9.c - NetFlow v9 export packets (RFC 3954): one packet per template
 * buffer, optionally led by a template flowset carrying that template.
 *
 *  +-------------------------------+-------------------------------+
 *  |       Version (9)             |   Count (records: template+data)
 *  +-------------------------------+-------------------------------+
 *  |             sysUpTime (ms since the exporter's boot)           |
 *  +---------------------------------------------------------------+
 *  |                    UNIX Secs                                  |
 *  +---------------------------------------------------------------+
 *  |                 Package Sequence (per packet)                 |
 *  +---------------------------------------------------------------+
 *  |                      Source ID                                |
 *  +---------------------------------------------------------------+
 *  | FlowSet ID (0: template, 256+: data) | Length (header incl.)  |
 *
 * RFC 3954 5.1: Count is "the total number of records in the Export Packet,
 * which is the sum of Options FlowSet records, Template FlowSet records, and
 * Data FlowSet records"; the sequence is "incremental sequence counter of
 * all Export Packets sent from the current Observation Domain".  5.3: a
 * data flowset is padded to a 4-byte boundary, padding counted in its length.
 * v9 records are uniflow: the reverse elements never reach a v9 template.
 */
#include "export/internal.h"

#include <string.h>

#define NF9_HDR 20
#define SET_HDR 4

static void nf9_begin(struct mc_exporter *e, struct mc_export_buf *b, int with_tmpl)
{
    (void)e;
    b->len = NF9_HDR;
    b->nrec = 0;
    b->ntmpl = 0;
    if (with_tmpl) {
        /* every field specifier is 4 bytes: the template flowset needs no padding */
        size_t n = mc_export_template_write(b->t, b->data + b->len + SET_HDR);
        mc_put16(b->data + b->len, 0);
        mc_put16(b->data + b->len + 2, (uint32_t)(SET_HDR + n));
        b->len += SET_HDR + n;
        b->ntmpl = 1;
    }
    b->set_off = b->len;
    mc_put16(b->data + b->len, b->t->id);
    b->len += SET_HDR;
}

static size_t nf9_rec_len(const struct mc_exporter *e, const struct mc_export_buf *b,
                          const struct mc_ie_env *env)
{
    (void)e;
    return mc_export_template_record_len(b->t, env);
}

static void nf9_rec_put(struct mc_exporter *e, struct mc_export_buf *b, const struct mc_ie_env *env)
{
    (void)e;
    b->len += mc_export_template_record_put(b->t, env, b->data + b->len);
    b->nrec++;
}

static void nf9_finish(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms)
{
    if (b->nrec == 0) {
        b->len = b->set_off;
    } else {
        size_t pad = (4 - (b->len - b->set_off) % 4) % 4;
        memset(b->data + b->len, 0, pad);
        b->len += pad;
        mc_put16(b->data + b->set_off + 2, (uint32_t)(b->len - b->set_off));
    }
    /* Collectors place a record at (UNIX Secs in ms) - sysUpTime + its
     * uptime, and UNIX Secs has whole seconds: both header fields describe
     * the start of the current second (the boot is on a whole second,
     * exporter.c) so the records keep their millisecond times. */
    uint64_t at = now_ms - now_ms % 1000;
    uint64_t up = at > e->boot_ms ? at - e->boot_ms : 0;
    mc_put16(b->data, 9);
    mc_put16(b->data + 2, b->nrec + b->ntmpl);
    mc_put32(b->data + 4, (uint32_t)up);
    mc_put32(b->data + 8, (uint32_t)(at / 1000));
    mc_put32(b->data + 12, e->pkt_seq);
    mc_put32(b->data + 16, e->cfg.domain_id);
    e->pkt_seq++;
}

const struct mc_export_dialect mc_export_nf9 = {
    .name = "netflow9",
    .version = 9,
    .has_templates = 1,
    .slack = 3,
    .max_records = 0,
    .begin = nf9_begin,
    .rec_len = nf9_rec_len,
    .rec_put = nf9_rec_put,
    .finish = nf9_finish,
};
