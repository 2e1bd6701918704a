/*
 * vlan.c - IEEE 802.1Q VLAN tag decoder (TPID 0x8100 C-tag, 0x88a8 802.1ad
 * S-tag, 0x9100 pre-standard QinQ); the template for new decoders (see
 * docs/internals/new-decoder.md).
 *
 * Reference: IEEE 802.1Q-2018 clause 9.6 (VLAN Tag Control Information).
 * The TPID was read by the previous layer as its ethertype; this decoder
 * reads the rest of the tag:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | PCP |D|        VLAN ID        |    EtherType / Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The tag has no length field; the EtherType that follows it is the
 * Length/Type field of 802.3 clause 3.2.6 (a value >= 0x0600 is a type).
 */
#include "decode/internal.h"

#define VLAN_VID_MASK 0x0fff

/*
 * Decodes one tag: stores the VLAN id in pkt->vlan[] while there is room,
 * counts every tag in n_vlan, returns the layer of the encapsulated
 * ethertype, or MC_DECODE_ERR with decode.vlan.too_short.
 */
int mc_decode_vlan(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(vlan_packets);
    uint16_t tci = mc_cur_be16(c);
    uint16_t type = mc_cur_be16(c);
    if (!mc_cur_ok(c)) {
        DCTR(vlan_too_short);
        return MC_DECODE_ERR;
    }
    if (pkt->n_vlan < MC_MAX_VLANS)
        pkt->vlan[pkt->n_vlan] = tci & VLAN_VID_MASK;
    if (pkt->n_vlan < UINT8_MAX)
        pkt->n_vlan++;
    if (type < 0x0600) {
        /* an 802.3 length after the tag: LLC, not IP */
        DCTR(nonip_llc);
        return MC_LAYER_NON_IP;
    }
    return mc_decode_layer_for_ethertype(type);
}
