/*
 * netflow9.c - NetFlow v9 export packet decoder (RFC 3954): the packet
 * header with its source id, then its flowsets.
 *
 * Packet header (RFC 3954 5.1):
 *   +--------------------------------+--------------------------------+
 *   |       Version Number (9)       |            Count               |
 *   +--------------------------------+--------------------------------+
 *   |                           sysUpTime                             |
 *   +-----------------------------------------------------------------+
 *   |                           UNIX Secs                             |
 *   +-----------------------------------------------------------------+
 *   |                       Sequence Number                           |
 *   +-----------------------------------------------------------------+
 *   |                        Source ID                                |
 *   +--------------------------------+--------------------------------+
 *   |          FlowSet ID            |          Length                |
 *
 * Count is "the total number of records in the Export Packet, which is the
 * sum of Options FlowSet records, Template FlowSet records, and Data FlowSet
 * records"; the Sequence Number is an "incremental sequence counter of all
 * Export Packets sent from the current Observation Domain by the Exporter".
 * FlowSet Length is "the total length of this FlowSet", header and padding
 * included (5.2, 5.3).  FlowSet ID 0 is a template flowset, 1 an options
 * template flowset, 2-255 are reserved, 256 and up are data flowsets.
 * A v9 packet carries no length of its own: the datagram is the packet.
 */
#include "collector/templates.h"

#define NF9_HDR 20
#define SET_HDR 4

int mc_coll_nf9(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                uint64_t now_ms)
{
    MC_CTR_INC(collector, nf9_packets);
    struct mc_cur cur = mc_cur_make(p, n);
    struct mc_coll_msg m = { .src = *src, .version = 9, .now_ms = now_ms };
    uint16_t version = mc_cur_be16(&cur);
    uint16_t count = mc_cur_be16(&cur);
    m.sys_uptime = mc_cur_be32(&cur);
    m.export_secs = mc_cur_be32(&cur);
    m.seq = mc_cur_be32(&cur);
    m.domain = mc_cur_be32(&cur);
    if (!mc_cur_ok(&cur)) {
        MC_CTR_INC(collector, nf9_too_short);
        return -1;
    }
    if (version != 9) {
        MC_CTR_INC(collector, nf9_bad_version);
        return -1;
    }
    struct mc_coll_stream *st = mc_coll_stream_get(c, &m);
    if (!st)
        return -1;
    if (mc_coll_seq_check(st, m.seq)) {
        st->have_seq = 1;
        st->next_seq = m.seq + 1; /* v9 counts packets */
    }
    st->datagrams++;
    st->last_ms = now_ms;
    int total = 0, records = 0, unknown = 0;
    for (size_t sets = 0; mc_cur_left(&cur) > 0; sets++) {
        if (sets == MC_COLL_MAX_SETS) {
            MC_CTR_INC(collector, sets_too_many);
            break;
        }
        uint16_t id = mc_cur_be16(&cur);
        uint16_t sl = mc_cur_be16(&cur);
        if (!mc_cur_ok(&cur) || sl < SET_HDR || (size_t)(sl - SET_HDR) > mc_cur_left(&cur)) {
            mc_coll_set_malformed(c, st);
            unknown = 1;
            break;
        }
        struct mc_cur set = mc_cur_sub(&cur, sl - SET_HDR);
        if (id == MC_COLL_TSET_V9 || id == MC_COLL_TSET_V9_OPTIONS) {
            records += mc_coll_template_set(c, &m, (enum mc_coll_tset)id, &set);
        } else if (id >= 256) {
            int r = mc_coll_data_set(c, &m, id, &set);
            if (r < 0) {
                unknown = 1;
            } else {
                total += r;
                records += r;
            }
        } else {
            MC_CTR_INC(collector, sets_reserved_id);
            mc_coll_set_malformed(c, st);
        }
    }
    /* Count is advisory (exporters differ on what it covers): a mismatch is counted, nothing more */
    if (!unknown && records != count)
        MC_CTR_INC(collector, nf9_bad_count);
    return total;
}
