/*
 * vxlan.c - VXLAN decoder (UDP port 4789): an 8-octet header, then an
 * Ethernet frame.
 *
 * Reference: RFC 7348 section 5.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 7348: "Flags (8 bits): where the I flag MUST be set to 1 for a valid
 * VXLAN Network ID (VNI).  The other 7 bits (designated "R") are reserved
 * fields and MUST be set to zero on transmission and ignored on receipt."
 * There is no length field: the inner frame runs to the end of the UDP
 * payload.
 */
#include "decode/internal.h"

#define VXLAN_FLAG_I 0x08u

/*
 * Decodes the VXLAN header: sets the pending tunnel (MC_TUNNEL_VXLAN, VNI)
 * and returns MC_LAYER_ETHER.  Errors: decode.vxlan.too_short, and
 * decode.vxlan.bad_flags when I is clear (the packet stays in its UDP flow).
 */
int mc_decode_vxlan(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(vxlan_packets);
    uint8_t flags = mc_cur_u8(c);
    mc_cur_skip(c, 3);
    uint32_t vni = mc_cur_be24(c);
    mc_cur_skip(c, 1);
    if (!mc_cur_ok(c)) {
        DCTR(vxlan_too_short);
        return MC_DECODE_ERR;
    }
    if (!(flags & VXLAN_FLAG_I)) {
        DCTR(vxlan_bad_flags);
        return MC_DECODE_ERR;
    }
    pkt->pending_tunnel = MC_TUNNEL_VXLAN;
    pkt->pending_tunnel_id = vni;
    return MC_LAYER_ETHER;
}
