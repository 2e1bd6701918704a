/*
 * gtpu.c - GTPv1-U decoder (UDP port 2152): mandatory header, optional
 * sequence/N-PDU/next-extension fields, the extension header chain, and the
 * T-PDU of a G-PDU (message type 255), which is an IPv4 or IPv6 packet.
 *
 * References: 3GPP TS 29.281 section 5.1 (header), 5.2 (extension headers),
 * 6.1 (message types); TS 29.060 section 6 (GTPv1 header).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Ver=1|P|R|E|S|N| Message Type  |            Length             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Tunnel Endpoint Identifier (TEID)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        Sequence Number        |  N-PDU Number |Next Ext. Type |  if E, S or PN
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   Extension header: | Length (4n) | Content ... | Next Ext. Type |
 *
 * TS 29.281 5.1: "Length: This field indicates the length in octets of the
 * payload, i.e. the rest of the packet following the mandatory part of the
 * GTP header (that is the first 8 octets).  The Sequence Number, the N-PDU
 * Number or any Extension headers shall be considered to be part of the
 * payload, i.e. included in the length count."  5.2.1: "Extension Header
 * Length: This field indicates the length of the Extension header including
 * the Next Extension Header field ... in 4 octets units".
 */
#include "decode/internal.h"

#define GTP_FLAG_PT 0x10u
#define GTP_FLAGS_OPT 0x07u /* E, S, PN: the 4 optional octets are present */
#define GTP_MSG_GPDU 255
#define GTP_MAX_EXT 8 /* extension headers walked before giving up */

/*
 * Decodes a GTP-U header.  For a G-PDU carrying IP, sets the pending tunnel
 * (MC_TUNNEL_GTPU, TEID) and returns IPv4/IPv6.  Other messages (echo, error
 * indication, end marker...) and non-IP T-PDUs return MC_LAYER_DONE and
 * leave the packet in its outer UDP flow (decode.gtpu.non_gpdu /
 * non_ip_payload).  Errors: decode.gtpu.too_short / bad_version /
 * bad_ext_length / too_many_ext_headers.
 */
int mc_decode_gtpu(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(gtpu_packets);
    uint8_t flags = mc_cur_u8(c);
    uint8_t type = mc_cur_u8(c);
    uint16_t length = mc_cur_be16(c);
    uint32_t teid = mc_cur_be32(c);
    if (!mc_cur_ok(c)) {
        DCTR(gtpu_too_short);
        return MC_DECODE_ERR;
    }
    if (flags >> 5 != 1 || !(flags & GTP_FLAG_PT)) {
        DCTR(gtpu_bad_version); /* GTPv0, GTPv2 or GTP' on port 2152 */
        return MC_DECODE_ERR;
    }
    mc_cur_limit(c, length);

    uint8_t next = 0;
    if (flags & GTP_FLAGS_OPT) {
        mc_cur_skip(c, 3); /* sequence number, N-PDU number */
        next = mc_cur_u8(c);
        if (!mc_cur_ok(c)) {
            DCTR(gtpu_too_short);
            return MC_DECODE_ERR;
        }
        if (!(flags & 0x04u))
            next = 0; /* the field is only meaningful with E set */
    }
    for (unsigned n = 0; next != 0; n++) {
        if (n >= GTP_MAX_EXT) {
            DCTR(gtpu_too_many_ext_headers);
            return MC_DECODE_ERR;
        }
        uint8_t units = mc_cur_u8(c);
        if (!mc_cur_ok(c)) {
            DCTR(gtpu_too_short);
            return MC_DECODE_ERR;
        }
        if (units == 0) {
            DCTR(gtpu_bad_ext_length);
            return MC_DECODE_ERR;
        }
        mc_cur_skip(c, (size_t)units * 4 - 2); /* content; the length octet was read */
        next = mc_cur_u8(c);
        if (!mc_cur_ok(c)) {
            DCTR(gtpu_too_short);
            return MC_DECODE_ERR;
        }
    }

    if (type != GTP_MSG_GPDU) {
        DCTR(gtpu_non_gpdu);
        return MC_LAYER_DONE;
    }
    int layer;
    switch (mc_cur_left(c) ? mc_cur_peek8(c, 0) >> 4 : 0) {
    case 4:
        layer = MC_LAYER_IPV4;
        break;
    case 6:
        layer = MC_LAYER_IPV6;
        break;
    default:
        DCTR(gtpu_non_ip_payload);
        return MC_LAYER_DONE;
    }
    pkt->pending_tunnel = MC_TUNNEL_GTPU;
    pkt->pending_tunnel_id = teid;
    return layer;
}
