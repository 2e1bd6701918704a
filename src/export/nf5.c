/*
 * nf5.c - NetFlow v5 export packets: a 24-byte header and at most 30 fixed
 * 48-byte IPv4 records (Cisco "NetFlow Export Datagram Format", v5).
 *
 *  header: version(2)=5 count(2) sys_uptime(4) unix_secs(4) unix_nsecs(4)
 *          flow_sequence(4) engine_type(1) engine_id(1) sampling_interval(2)
 *  record: srcaddr(4) dstaddr(4) nexthop(4) input(2) output(2) dPkts(4)
 *          dOctets(4) First(4) Last(4) srcport(2) dstport(2) pad1(1)
 *          tcp_flags(1) prot(1) tos(1) src_as(2) dst_as(2) src_mask(1)
 *          dst_mask(1) pad2(2)
 *
 * flow_sequence is the number of flows exported before this packet.  The
 * values come from the same table getters as IPFIX and v9, through the
 * v5 template (template.c) whose lengths are the v5 widths; counters wider
 * than a v5 field are clamped.  IPv6 flows cannot be expressed and are
 * counted in export.v5.skipped_ipv6 by the exporter.
 */
#include "export/internal.h"

#include <string.h>

#define NF5_HDR 24
#define NF5_REC 48
#define NF5_MAX 30
#define NF5_FLAGS_IDX 11 /* tcp_flags: pad1 goes before it */

static void nf5_begin(struct mc_exporter *e, struct mc_export_buf *b, int with_tmpl)
{
    (void)e;
    (void)with_tmpl;
    b->len = NF5_HDR;
    b->set_off = NF5_HDR;
    b->nrec = 0;
    b->ntmpl = 0;
}

static size_t nf5_rec_len(const struct mc_exporter *e, const struct mc_export_buf *b,
                          const struct mc_ie_env *env)
{
    (void)e;
    (void)b;
    (void)env;
    return NF5_REC;
}

static void nf5_rec_put(struct mc_exporter *e, struct mc_export_buf *b, const struct mc_ie_env *env)
{
    (void)e;
    uint8_t *p = b->data + b->len;
    size_t off = 0;
    memset(p, 0, NF5_REC);
    for (size_t i = 0; i < b->t->n; i++) {
        if (i == NF5_FLAGS_IDX)
            off++; /* pad1 */
        off += mc_export_ie_encode(b->t->f[i].ie, b->t->f[i].len, env, p + off);
    }
    /* pad2: the last 2 bytes, already zero */
    b->len += NF5_REC;
    b->nrec++;
}

static void nf5_finish(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms)
{
    uint64_t up = now_ms > e->boot_ms ? now_ms - e->boot_ms : 0;
    mc_put16(b->data, 5);
    mc_put16(b->data + 2, b->nrec);
    mc_put32(b->data + 4, (uint32_t)up);
    mc_put32(b->data + 8, (uint32_t)(now_ms / 1000));
    mc_put32(b->data + 12, (uint32_t)(now_ms % 1000) * 1000000u);
    mc_put32(b->data + 16, (uint32_t)e->seq);
    b->data[20] = 0; /* engine_type */
    b->data[21] = (uint8_t)(e->cfg.domain_id & 0xff);
    mc_put16(b->data + 22, 0); /* not sampled */
    e->seq += b->nrec;
}

const struct mc_export_dialect mc_export_nf5 = {
    .name = "netflow5",
    .version = 5,
    .has_templates = 0,
    .slack = 0,
    .max_records = NF5_MAX,
    .begin = nf5_begin,
    .rec_len = nf5_rec_len,
    .rec_put = nf5_rec_put,
    .finish = nf5_finish,
};
