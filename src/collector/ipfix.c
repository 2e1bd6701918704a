/*
 * ipfix.c - IPFIX message decoder (RFC 7011): the message header, then its
 * sets, each handed to the template cache or decoded against a template.
 *
 * Message header (RFC 7011 3.1):
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |       Version Number (10)     |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           Export Time                         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Sequence Number                         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Observation Domain ID                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Set ID               |          Set Length           |
 *
 * Length is the "total length of the IPFIX Message, measured in octets,
 * including Message Header and Set(s)"; Sequence Number is the "total
 * number of IPFIX Data Records sent ... prior to the receipt of this IPFIX
 * Message", per observation domain (3.1).  Set Length is the "total length
 * of the Set, in octets, including the Set Header" (3.3.2).  Set ID 2 is a
 * template set, 3 an options template set, 4-255 are reserved, 256 and up
 * are data sets of that template.
 */
#include "collector/templates.h"

#define IPFIX_HDR 16
#define SET_HDR 4

int mc_coll_ipfix(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                  uint64_t now_ms)
{
    MC_CTR_INC(collector, ipfix_messages);
    struct mc_cur cur = mc_cur_make(p, n);
    struct mc_coll_msg m = { .src = *src, .version = 10, .now_ms = now_ms };
    uint16_t version = mc_cur_be16(&cur);
    uint16_t len = mc_cur_be16(&cur);
    m.export_secs = mc_cur_be32(&cur);
    m.seq = mc_cur_be32(&cur);
    m.domain = mc_cur_be32(&cur);
    if (!mc_cur_ok(&cur)) {
        MC_CTR_INC(collector, ipfix_too_short);
        return -1;
    }
    if (version != 10) {
        MC_CTR_INC(collector, ipfix_bad_version);
        return -1;
    }
    if (len < IPFIX_HDR || len > n) {
        MC_CTR_INC(collector, ipfix_bad_length);
        return -1;
    }
    mc_cur_limit(&cur, len - IPFIX_HDR); /* bytes past the declared length are not the message's */
    struct mc_coll_stream *st = mc_coll_stream_get(c, &m);
    if (!st)
        return -1;
    int in_order = mc_coll_seq_check(st, m.seq);
    st->datagrams++;
    st->last_ms = now_ms;
    int total = 0, unknown = 0;
    for (size_t sets = 0; mc_cur_left(&cur) > 0; sets++) {
        if (sets == MC_COLL_MAX_SETS) {
            MC_CTR_INC(collector, sets_too_many);
            break;
        }
        uint16_t id = mc_cur_be16(&cur);
        uint16_t sl = mc_cur_be16(&cur);
        if (!mc_cur_ok(&cur) || sl < SET_HDR || (size_t)(sl - SET_HDR) > mc_cur_left(&cur)) {
            /* a set header that lies about its length: the rest cannot be framed */
            mc_coll_set_malformed(c, st);
            unknown = 1;
            break;
        }
        struct mc_cur set = mc_cur_sub(&cur, sl - SET_HDR);
        if (id == MC_COLL_TSET_IPFIX || id == MC_COLL_TSET_IPFIX_OPTIONS) {
            mc_coll_template_set(c, &m, (enum mc_coll_tset)id, &set);
        } else if (id >= 256) {
            int r = mc_coll_data_set(c, &m, id, &set);
            if (r < 0)
                unknown = 1;
            else
                total += r;
        } else {
            MC_CTR_INC(collector, sets_reserved_id);
            mc_coll_set_malformed(c, st);
        }
    }
    if (in_order) {
        /* a set held or cut short has an unknown record count: resynchronise on the next message */
        st->have_seq = !unknown;
        st->next_seq = m.seq + (uint32_t)total;
    }
    return total;
}
