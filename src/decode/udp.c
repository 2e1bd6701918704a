/*
 * udp.c - UDP header decoder: ports, payload cut to the UDP length, and the
 * port-based dispatch to the UDP tunnels (GTP-U 2152, VXLAN 4789).
 *
 * References: RFC 768, RFC 2675 section 4 (length 0 in jumbograms),
 * 3GPP TS 29.281 section 4.4.2 (GTP-U port 2152), RFC 7348 section 5
 * (VXLAN port 4789).
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |     Source      |   Destination   |
 *   |      Port       |      Port       |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *
 * RFC 768: "Length is the length in octets of this user datagram including
 * this header and the data.  (This means the minimum value of the length is
 * eight.)"
 */
#include "decode/internal.h"

#define UDP_HDR_LEN 8
#define UDP_PORT_GTPU 2152
#define UDP_PORT_VXLAN 4789

/*
 * Decodes a UDP header: sets ports, has_l4 and the payload (cut to the UDP
 * length when it fits the capture).  Returns GTPU or VXLAN when either port
 * is theirs, else MC_LAYER_DONE; MC_DECODE_ERR with decode.udp.too_short.
 * A length below 8 (other than the jumbogram 0) counts decode.udp.bad_length
 * and the payload then runs to the end of the IP payload.
 */
int mc_decode_udp(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(udp_packets);
    uint16_t sport = mc_cur_be16(c);
    uint16_t dport = mc_cur_be16(c);
    uint16_t length = mc_cur_be16(c);
    mc_cur_skip(c, 2); /* checksum */
    if (!mc_cur_ok(c)) {
        DCTR(udp_too_short);
        return MC_DECODE_ERR;
    }
    pkt->sport = sport;
    pkt->dport = dport;
    pkt->has_l4 = 1;
    if (length >= UDP_HDR_LEN)
        mc_cur_limit(c, (size_t)length - UDP_HDR_LEN);
    else if (length != 0)
        DCTR(udp_bad_length);
    pkt->payload = mc_cur_ptr(c);
    pkt->payload_len = mc_cur_left(c);
    if (sport == UDP_PORT_GTPU || dport == UDP_PORT_GTPU)
        return MC_LAYER_GTPU;
    if (sport == UDP_PORT_VXLAN || dport == UDP_PORT_VXLAN)
        return MC_LAYER_VXLAN;
    return MC_LAYER_DONE;
}
