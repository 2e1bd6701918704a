/*
 * gre.c - GRE decoder: version 0 (RFC 2784 with the RFC 2890 key and
 * sequence number, and the RFC 1701 routing field), and version 1, the
 * enhanced GRE of PPTP (RFC 2637) carrying PPP.
 *
 * References: RFC 1701, RFC 2784, RFC 2890, RFC 2637 section 4.1,
 * draft-foschiano-erspan (protocol 0x88be ERSPAN type I/II, 0x22eb type III),
 * RFC 7637 (NVGRE, 0x6558 transparent Ethernet bridging).
 *
 * Version 0:
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Checksum (optional)      |       Offset (optional)       |  C or R
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Key (optional)                        |  K
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Sequence Number (optional)                    |  S
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Routing (optional)                    |  R: SREs
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   SRE: | Address Family (16) | SRE Offset (8) | SRE Length (8) | Routing Information ... |
 *
 * Version 1 (PPTP): | C R K S s Recur A Flags Ver=1 | Protocol 0x880b |
 *                   | Key: Payload Length (16) | Key: Call ID (16) |
 *                   | Sequence Number (if S) | Acknowledgment Number (if A) |
 *
 * RFC 1701: "SRE Length: The SRE Length field contains the number of octets
 * in the SRE. If the SRE Length is 0, this indicates this is the last SRE in
 * the Routing field."  RFC 2637: "Key (HW) Payload Length: Size of the
 * payload, not including the GRE header" and "Key (LW) Call ID: Contains the
 * Peer's Call ID for the session to which this packet belongs."
 */
#include "decode/internal.h"

#define GRE_C 0x8000u
#define GRE_R 0x4000u
#define GRE_K 0x2000u
#define GRE_S 0x1000u
#define GRE_A 0x0080u /* version 1 only: acknowledgment number present */
#define GRE_VER_MASK 0x0007u
#define GRE_MAX_SRE 16 /* SREs walked before decode.gre.too_many_sre */

#define GRE_PROTO_PPP 0x880b
#define GRE_PROTO_ERSPAN_2 0x88be
#define GRE_PROTO_ERSPAN_3 0x22eb

/* RFC 1701 routing: a list of SREs ended by address family 0, length 0. */
static int skip_sres(struct mc_cur *c)
{
    for (unsigned i = 0; i < GRE_MAX_SRE; i++) {
        uint16_t af = mc_cur_be16(c);
        mc_cur_skip(c, 1); /* SRE offset */
        uint8_t len = mc_cur_u8(c);
        if (!mc_cur_ok(c)) {
            DCTR(gre_too_short);
            return MC_DECODE_ERR;
        }
        if (af == 0 && len == 0)
            return 0;
        mc_cur_skip(c, len);
        if (!mc_cur_ok(c)) {
            DCTR(gre_too_short);
            return MC_DECODE_ERR;
        }
    }
    DCTR(gre_too_many_sre);
    return MC_DECODE_ERR;
}

/* Version 1: PPTP's enhanced GRE, whose payload is a PPP frame. */
static int decode_pptp(struct mc_pkt *pkt, struct mc_cur *c, uint16_t fv, uint16_t proto)
{
    if (!(fv & GRE_K) || proto != GRE_PROTO_PPP) {
        DCTR(gre_bad_pptp);
        return MC_DECODE_ERR;
    }
    uint16_t payload_len = mc_cur_be16(c);
    uint16_t call_id = mc_cur_be16(c);
    if (fv & GRE_S)
        mc_cur_skip(c, 4);
    if (fv & GRE_A)
        mc_cur_skip(c, 4);
    if (!mc_cur_ok(c)) {
        DCTR(gre_too_short);
        return MC_DECODE_ERR;
    }
    if (payload_len == 0 || !(fv & GRE_S))
        return MC_LAYER_DONE; /* acknowledgment only: no PPP frame */
    mc_cur_limit(c, payload_len);
    pkt->pending_tunnel = MC_TUNNEL_GRE;
    pkt->pending_tunnel_id = call_id;
    return mc_decode_ppp_next(c);
}

/*
 * Decodes a GRE header and its optional fields; sets the pending tunnel
 * (MC_TUNNEL_GRE with the key, or the PPTP call id) for the next IP header.
 * Returns the payload's layer: IPv4/IPv6/MPLS/... by the ethertype table,
 * ETHER for 0x6558 and ERSPAN type I, ERSPAN for types II/III, the PPP
 * payload for version 1.  Errors: decode.gre.too_short / bad_version /
 * bad_pptp / too_many_sre.
 */
int mc_decode_gre(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(gre_packets);
    uint16_t fv = mc_cur_be16(c);
    uint16_t proto = mc_cur_be16(c);
    if (!mc_cur_ok(c)) {
        DCTR(gre_too_short);
        return MC_DECODE_ERR;
    }
    unsigned ver = fv & GRE_VER_MASK;
    if (ver == 1)
        return decode_pptp(pkt, c, fv, proto);
    if (ver != 0) {
        DCTR(gre_bad_version);
        return MC_DECODE_ERR;
    }
    uint32_t key = 0;
    if (fv & (GRE_C | GRE_R))
        mc_cur_skip(c, 4); /* checksum + offset */
    if (fv & GRE_K)
        key = mc_cur_be32(c);
    if (fv & GRE_S)
        mc_cur_skip(c, 4);
    if (!mc_cur_ok(c)) {
        DCTR(gre_too_short);
        return MC_DECODE_ERR;
    }
    if ((fv & GRE_R) && skip_sres(c) < 0)
        return MC_DECODE_ERR;

    pkt->pending_tunnel = MC_TUNNEL_GRE;
    pkt->pending_tunnel_id = key;
    if (proto == GRE_PROTO_ERSPAN_2) {
        if (fv & GRE_S)
            return MC_LAYER_ERSPAN;
        /* ERSPAN type I: no sequence number and no ERSPAN header */
        pkt->pending_tunnel = MC_TUNNEL_ERSPAN;
        pkt->pending_tunnel_id = 0;
        return MC_LAYER_ETHER;
    }
    if (proto == GRE_PROTO_ERSPAN_3)
        return MC_LAYER_ERSPAN;
    return mc_decode_layer_for_ethertype(proto);
}
