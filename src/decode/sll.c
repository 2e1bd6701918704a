/*
 * sll.c - Linux "cooked" capture headers: SLL v1 (DLT_LINUX_SLL 113) and
 * SLL2 (DLT_LINUX_SLL2 276), written by libpcap for the "any" device.
 *
 * References: https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html and
 * LINKTYPE_LINUX_SLL2.html; libpcap pcap/sll.h.
 *
 * SLL v1 (16 octets):                     SLL2 (20 octets):
 *   +---------------+---------------+       +---------------+---------------+
 *   |  packet type  | ARPHRD type   |       | protocol type |   reserved    |
 *   +---------------+---------------+       +---------------+---------------+
 *   | link-layer address length     |       |       interface index         |
 *   +-------------------------------+       +---------------+-------+-------+
 *   | link-layer address (8 octets) |       | ARPHRD type   |pkttype|addrlen|
 *   |                               |       +---------------+-------+-------+
 *   +---------------+---------------+       | link-layer address (8 octets) |
 *   | protocol type |                       |                               |
 *   +---------------+                       +-------------------------------+
 *
 * linktypes page: "The protocol type field is in network byte order; it
 * contains an Ethernet protocol type, or one of" 1 (Novell 802.3 without an
 * 802.2 LLC header), 4 (frames with an 802.2 LLC header), and others.  The
 * link-layer address length counts the valid octets of the 8-octet address
 * field, which is always 8 octets long whatever it says; no field gives the
 * length of the payload.
 */
#include "decode/internal.h"

/* Protocol types below 0x0600 are not ethertypes: LLC or Novell, non-IP. */
static int sll_next(uint16_t proto)
{
    if (proto >= 0x0600)
        return mc_decode_layer_for_ethertype(proto);
    if (proto == 0x0001)
        DCTR(nonip_ipx);
    else
        DCTR(nonip_llc);
    return MC_LAYER_NON_IP;
}

/* Decodes an SLL v1 header; returns the layer of its protocol type. */
int mc_decode_sll(struct mc_pkt *pkt, struct mc_cur *c)
{
    (void)pkt;
    DCTR(sll_packets);
    mc_cur_skip(c, 2 + 2 + 2 + 8); /* packet type, ARPHRD, address length, address */
    uint16_t proto = mc_cur_be16(c);
    if (!mc_cur_ok(c)) {
        DCTR(sll_too_short);
        return MC_DECODE_ERR;
    }
    return sll_next(proto);
}

/* Decodes an SLL2 header; returns the layer of its protocol type. */
int mc_decode_sll2(struct mc_pkt *pkt, struct mc_cur *c)
{
    (void)pkt;
    DCTR(sll2_packets);
    uint16_t proto = mc_cur_be16(c);
    mc_cur_skip(c, 2 + 4 + 2 + 1 + 1 + 8); /* reserved, ifindex, ARPHRD, pkttype, addrlen, addr */
    if (!mc_cur_ok(c)) {
        DCTR(sll2_too_short);
        return MC_DECODE_ERR;
    }
    return sll_next(proto);
}
