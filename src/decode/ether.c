/*
 * ether.c - Ethernet II and IEEE 802.3 frame decoder (DLT_EN10MB 1, and the
 * inner frame of VXLAN, GRE 0x6558, ERSPAN and MPLS pseudowires).
 *
 * References: IEEE 802.3-2018 clause 3.2.6 (Length/Type field), RFC 894
 * (IP over Ethernet), RFC 1042 (IP over IEEE 802 networks, LLC/SNAP),
 * IEEE 802.2 (LLC).  The frame check sequence is not captured by pcap.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Destination address (6 octets)               |
 *   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                               |                                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                                +
 *   |                    Source address (6 octets)                   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Length/Type          |  payload ...                   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                                +
 *   802.3 + LLC/SNAP payload: | DSAP 0xAA | SSAP 0xAA | ctl 0x03 | OUI 000000 | type |
 *
 * IEEE 802.3 3.2.6: "If the value of this field is less than or equal to
 * 1500 decimal (05DC hexadecimal), then the Length/Type field indicates the
 * number of MAC client data octets contained in the subsequent MAC Client
 * Data field of the basic frame (Length interpretation).  If the value of this
 * field is greater than or equal to 1536 decimal (0600 hexadecimal), then the
 * Length/Type field indicates the Ethertype of the MAC client protocol (Type
 * interpretation)."
 */
#include "decode/internal.h"

#define ETHER_HDR_LEN 14
#define ETHER_MAX_LENGTH 1500 /* largest value meaning "length" */
#define ETHER_MIN_TYPE 0x0600 /* smallest value meaning "type" */

/* 802.3 frame: the Length/Type field is a length; LLC follows. */
static int decode_llc(struct mc_cur *c, uint16_t length)
{
    mc_cur_limit(c, length);
    /* Novell "raw 802.3": IPX header checksum 0xffff where the LLC would be */
    if (mc_cur_peek8(c, 0) == 0xff && mc_cur_peek8(c, 1) == 0xff) {
        DCTR(nonip_ipx);
        return MC_LAYER_NON_IP;
    }
    /* RFC 1042 SNAP with OUI 0: the next two octets are an ethertype */
    if (mc_cur_left(c) >= 8 && mc_cur_peek8(c, 0) == 0xaa && mc_cur_peek8(c, 1) == 0xaa &&
        mc_cur_peek8(c, 2) == 0x03 && mc_cur_peek8(c, 3) == 0 && mc_cur_peek8(c, 4) == 0 &&
        mc_cur_peek8(c, 5) == 0) {
        mc_cur_skip(c, 6);
        return mc_decode_layer_for_ethertype(mc_cur_be16(c));
    }
    DCTR(nonip_llc);
    return MC_LAYER_NON_IP;
}

/*
 * Decodes an Ethernet header at c.  Returns the layer of the ethertype (or
 * the SNAP ethertype of an 802.3 frame), MC_LAYER_NON_IP for LLC frames, or
 * MC_DECODE_ERR with decode.ether.too_short / bad_length.
 */
int mc_decode_ether(struct mc_pkt *pkt, struct mc_cur *c)
{
    (void)pkt;
    DCTR(ether_packets);
    mc_cur_skip(c, 12); /* destination and source addresses */
    uint16_t type = mc_cur_be16(c);
    if (!mc_cur_ok(c)) {
        DCTR(ether_too_short);
        return MC_DECODE_ERR;
    }
    if (type >= ETHER_MIN_TYPE)
        return mc_decode_layer_for_ethertype(type);
    if (type > ETHER_MAX_LENGTH) {
        /* 1501..1535 is neither a length nor a type */
        DCTR(ether_bad_length);
        return MC_DECODE_ERR;
    }
    return decode_llc(c, type);
}
