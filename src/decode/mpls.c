/*
 * mpls.c - MPLS label stack decoder (ethertypes 0x8847/0x8848, PPP 0x0281,
 * IP protocol 137), with the payload guessed after the bottom of stack.
 *
 * References: RFC 3032 (label stack encoding), RFC 4385 (pseudowire control
 * word), RFC 4448 (Ethernet over MPLS), RFC 4023 (MPLS in IP).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Label                  | TC  |S|      TTL      |  x n, S=1 on the last
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0 0 0|  flags  |FRG|  Length   |     Sequence Number           |  optional PW control word
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 3032 has no length field: "the label stack entry with the S bit set is
 * the last one"; the payload type is not carried at all, so like every router
 * we look at the first nibble (RFC 4385 section 2: the control word starts
 * with 0000 so it cannot be mistaken for IPv4 or IPv6).  The control word's
 * own Length field only counts padding of short payloads; we ignore it.
 */
#include "decode/internal.h"

#define MPLS_LABEL_SHIFT 12
#define MPLS_BOS_BIT 0x100u
#define MPLS_CW_LEN 4

/*
 * Walks the label stack (at most MC_MAX_MPLS entries, each one re-checked),
 * records n_mpls and mpls_top, then returns IPv4, IPv6, Ethernet (after a
 * control word) or NON_IP (decode.nonip.mpls_other) by the first nibble.
 * Errors: decode.mpls.too_short, decode.mpls.too_many_labels.
 */
int mc_decode_mpls(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(mpls_packets);
    int bos = 0;
    for (unsigned i = 0; !bos; i++) {
        if (i >= MC_MAX_MPLS) {
            DCTR(mpls_too_many_labels);
            return MC_DECODE_ERR;
        }
        uint32_t entry = mc_cur_be32(c);
        if (!mc_cur_ok(c)) {
            DCTR(mpls_too_short);
            return MC_DECODE_ERR;
        }
        if (pkt->n_mpls == 0)
            pkt->mpls_top = entry >> MPLS_LABEL_SHIFT;
        if (pkt->n_mpls < UINT8_MAX)
            pkt->n_mpls++;
        bos = (entry & MPLS_BOS_BIT) != 0;
        if (i > 0)
            pkt->depth++; /* every label is a layer (bounded: MC_MAX_MPLS) */
    }
    if (mc_cur_left(c) == 0) {
        DCTR(mpls_too_short);
        return MC_DECODE_ERR;
    }
    switch (mc_cur_peek8(c, 0) >> 4) {
    case 4:
        return MC_LAYER_IPV4;
    case 6:
        return MC_LAYER_IPV6;
    case 0:
        /* RFC 4448 Ethernet pseudowire behind a control word */
        mc_cur_skip(c, MPLS_CW_LEN);
        if (!mc_cur_ok(c)) {
            DCTR(mpls_too_short);
            return MC_DECODE_ERR;
        }
        DCTR(mpls_pw_ether);
        return MC_LAYER_ETHER;
    default:
        DCTR(nonip_mpls_other);
        return MC_LAYER_NON_IP;
    }
}
