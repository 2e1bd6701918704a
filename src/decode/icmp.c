/*
 * icmp.c - ICMP (for IPv4) header decoder: type and code, no ports.
 *
 * Reference: RFC 792.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Type      |     Code      |          Checksum             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     rest of header (by type)                  |
 *
 * RFC 792 defines no length field: the message runs to the end of the IP
 * datagram ("the checksum is the 16-bit ones's complement of the one's
 * complement sum of the ICMP message starting with the ICMP Type").
 */
#include "decode/internal.h"

#define ICMP_MIN_HDR 4 /* type, code, checksum: all that every message has */

/*
 * Decodes type and code (sport = dport = 0), sets has_l4 and the payload
 * after the checksum.  Returns MC_LAYER_DONE or MC_DECODE_ERR with
 * decode.icmp.too_short.
 */
int mc_decode_icmp(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(icmp_packets);
    uint8_t type = mc_cur_u8(c);
    uint8_t code = mc_cur_u8(c);
    mc_cur_skip(c, 2);
    if (!mc_cur_ok(c)) {
        DCTR(icmp_too_short);
        return MC_DECODE_ERR;
    }
    pkt->icmp_type = type;
    pkt->icmp_code = code;
    pkt->sport = pkt->dport = 0;
    pkt->has_l4 = 1;
    pkt->payload = mc_cur_ptr(c);
    pkt->payload_len = mc_cur_left(c);
    return MC_LAYER_DONE;
}
