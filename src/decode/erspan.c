/*
 * erspan.c - ERSPAN decoder (GRE protocol 0x88be type II, 0x22eb type III):
 * the ERSPAN header, then the mirrored Ethernet frame.  Type I, which has no
 * ERSPAN header, is handled in gre.c.
 *
 * Reference: draft-foschiano-erspan-03 sections 4.1 (type II) and 4.2
 * (type III, with the optional platform specific subheader).
 *
 * Type II (8 octets):
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS | En|T|    Session ID     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Reserved         |                  Index                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Type III (12 octets, + 8 when O is set):
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                          Timestamp                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        Platform Specific SubHeader (8 octets, when O)         |
 *
 * The draft defines no length field ("Ver: ERSPAN Encapsulation version",
 * 1 for type II, 2 for type III); the mirrored frame runs to the end of the
 * GRE payload.  Type III "FT (Frame Type)": 0 is Ethernet, 2 is IP.
 */
#include "decode/internal.h"

#define ERSPAN_VER_II 1
#define ERSPAN_VER_III 2
#define ERSPAN_SESSION_MASK 0x03ffu
#define ERSPAN_FT_ETHER 0
#define ERSPAN_FT_IP 2
#define ERSPAN_PLATFORM_LEN 8

/*
 * Decodes an ERSPAN type II or III header: the session id becomes the
 * pending tunnel id (MC_TUNNEL_ERSPAN).  Returns ETHER (or IPv4/IPv6 for a
 * type III IP frame).  Errors: decode.erspan.too_short / bad_version, and
 * decode.erspan.non_ether for other frame types.
 */
int mc_decode_erspan(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(erspan_packets);
    uint16_t w0 = mc_cur_be16(c);
    uint16_t w1 = mc_cur_be16(c);
    unsigned ft = ERSPAN_FT_ETHER;
    unsigned ver = w0 >> 12;
    if (ver == ERSPAN_VER_II) {
        mc_cur_skip(c, 4); /* reserved, index */
    } else if (ver == ERSPAN_VER_III) {
        mc_cur_skip(c, 4 + 2); /* timestamp, SGT */
        uint16_t w = mc_cur_be16(c);
        ft = (w >> 10) & 0x1f;
        if (w & 1)
            mc_cur_skip(c, ERSPAN_PLATFORM_LEN);
    } else if (mc_cur_ok(c)) {
        DCTR(erspan_bad_version);
        return MC_DECODE_ERR;
    }
    if (!mc_cur_ok(c)) {
        DCTR(erspan_too_short);
        return MC_DECODE_ERR;
    }
    pkt->pending_tunnel = MC_TUNNEL_ERSPAN;
    pkt->pending_tunnel_id = w1 & ERSPAN_SESSION_MASK;
    if (ft == ERSPAN_FT_ETHER)
        return MC_LAYER_ETHER;
    if (ft == ERSPAN_FT_IP) {
        switch (mc_cur_peek8(c, 0) >> 4) {
        case 4:
            return MC_LAYER_IPV4;
        case 6:
            return MC_LAYER_IPV6;
        default:
            break;
        }
    }
    DCTR(erspan_non_ether);
    return MC_DECODE_ERR;
}
