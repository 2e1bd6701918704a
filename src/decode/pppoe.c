/*
 * pppoe.c - PPPoE session stage decoder (ethertype 0x8864) and the PPP
 * protocol field dispatch it shares with GRE version 1 (PPTP).
 *
 * References: RFC 2516 (PPPoE; discovery stage 0x8863 is non-IP and is
 * classified by the ethertype table), RFC 1661 (PPP, protocol field and its
 * compression), RFC 1662 (HDLC-like framing: 0xff 0x03), IANA PPP DLL
 * protocol numbers (0x0021 IPv4, 0x0057 IPv6, 0x0281 MPLS; 0x8000 and up are
 * network control protocols, 0xc000 and up link control).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  VER  | TYPE  |     CODE      |          SESSION_ID           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            LENGTH             |      PPP protocol             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * RFC 2516 section 4: "The LENGTH field is sixteen bits.  The value, in
 * network byte order, indicates the length of the PPPoE payload.  It does not
 * include the length of the Ethernet or PPPoE headers."  The PPP protocol
 * field is part of that payload.  VER and TYPE "MUST be set to 0x1"; CODE is
 * 0x00 in the session stage.
 */
#include "decode/internal.h"

#define PPPOE_HDR_LEN 6
#define PPPOE_VER_TYPE 0x11

int mc_decode_ppp_next(struct mc_cur *c)
{
    /* RFC 1662 address and control fields, present unless compressed */
    if (mc_cur_left(c) >= 2 && mc_cur_peek8(c, 0) == 0xff && mc_cur_peek8(c, 1) == 0x03)
        mc_cur_skip(c, 2);
    /* RFC 1661 6.5: an odd first octet is a compressed one-octet protocol */
    uint16_t proto = mc_cur_u8(c);
    if ((proto & 1) == 0)
        proto = (uint16_t)(proto << 8 | mc_cur_u8(c));
    if (!mc_cur_ok(c)) {
        DCTR(ppp_too_short);
        return MC_DECODE_ERR;
    }
    switch (proto) {
    case 0x0021:
        return MC_LAYER_IPV4;
    case 0x0057:
        return MC_LAYER_IPV6;
    case 0x0281:
        return MC_LAYER_MPLS;
    default:
        if (proto >= 0x8000)
            DCTR(nonip_ppp_control); /* LCP, IPCP, IPV6CP, PAP, CHAP, ... */
        else
            DCTR(nonip_ppp_other);
        return MC_LAYER_NON_IP;
    }
}

/*
 * Decodes a PPPoE session header and its PPP protocol field: records
 * pppoe_session, cuts the cursor to LENGTH, returns the PPP payload's layer.
 * Errors: decode.pppoe.too_short / bad_version / bad_code, decode.ppp.too_short.
 * A LENGTH beyond the capture is counted (decode.pppoe.bad_length) but the
 * captured part is still decoded, since snaplen cuts frames all the time.
 */
int mc_decode_pppoe(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(pppoe_packets);
    uint8_t ver_type = mc_cur_u8(c);
    uint8_t code = mc_cur_u8(c);
    uint16_t session = mc_cur_be16(c);
    uint16_t length = mc_cur_be16(c);
    if (!mc_cur_ok(c)) {
        DCTR(pppoe_too_short);
        return MC_DECODE_ERR;
    }
    if (ver_type != PPPOE_VER_TYPE) {
        DCTR(pppoe_bad_version);
        return MC_DECODE_ERR;
    }
    if (code != 0) {
        DCTR(pppoe_bad_code);
        return MC_DECODE_ERR;
    }
    pkt->pppoe_session = session;
    /* A PPPoE session is the subscriber's tunnel to the BRAS: keying flows on
     * it keeps subscribers with overlapping private addresses apart.  No
     * outer IP header here, so it is set directly, not as a pending tunnel. */
    if (pkt->ip_ver == 0 && pkt->tunnel == MC_TUNNEL_NONE) {
        pkt->tunnel = MC_TUNNEL_PPPOE;
        pkt->tunnel_id = session;
    }
    if (length > mc_cur_left(c))
        DCTR(pppoe_bad_length);
    else
        mc_cur_limit(c, length);
    return mc_decode_ppp_next(c);
}
