/*
 * icmpv6.c - ICMPv6 header decoder: type and code, no ports.
 *
 * Reference: RFC 4443 section 2.1.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Type      |     Code      |          Checksum             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     rest of header (by type)                  |
 *
 * RFC 4443 defines no length field: the message runs to the end of the IPv6
 * payload ("The checksum is the 16-bit one's complement of the one's
 * complement sum of the entire ICMPv6 message, starting with the ICMPv6
 * message type field, and prepended with a "pseudo-header" of IPv6 header
 * fields").
 */
#include "decode/internal.h"

#define ICMPV6_MIN_HDR 4 /* type, code, checksum: all that every message has */

/*
 * Decodes type and code (sport = dport = 0), sets has_l4 and the payload
 * after the checksum.  Returns MC_LAYER_DONE or MC_DECODE_ERR with
 * decode.icmpv6.too_short.
 */
int mc_decode_icmpv6(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(icmpv6_packets);
    uint8_t type = mc_cur_u8(c);
    uint8_t code = mc_cur_u8(c);
    mc_cur_skip(c, 2);
    if (!mc_cur_ok(c)) {
        DCTR(icmpv6_too_short);
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
