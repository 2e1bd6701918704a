/*
 * ipv4.c - IPv4 header decoder: validates the whole header into locals, then
 * commits it to pkt as the (new innermost) flow key.
 *
 * References: RFC 791 section 3.1 (header format), RFC 6864 (identification),
 * RFC 2003 (IP in IP, entered via mc_decode_ip_enter when a header is nested).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)                          |
 *
 * RFC 791: "Internet Header Length is the length of the internet header in
 * 32 bit words, and thus points to the beginning of the data.  Note that the
 * minimum value for a correct header is 5."  "Total Length is the length of
 * the datagram, measured in octets, including internet header and data."
 * Options are skipped by IHL, so no option walk is needed.
 */
#include "decode/internal.h"
#include "decode/reasm.h"

#define IPV4_MIN_HDR 20
#define IPV4_FLAG_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff

/* Makes this header the packet's innermost one (the flow key). */
static void commit(struct mc_pkt *pkt, uint8_t proto, uint8_t tos, uint8_t ttl, const struct mc_addr *src,
                   const struct mc_addr *dst, uint32_t ip_len)
{
    mc_decode_ip_enter(pkt);
    pkt->ip_ver = 4;
    pkt->proto = proto;
    pkt->tos = tos;
    pkt->ttl = ttl;
    pkt->src = *src;
    pkt->dst = *dst;
    pkt->ip_len = ip_len;
}

/*
 * Decodes an IPv4 header.  Returns the transport layer, MC_LAYER_DONE for a
 * later fragment or an unknown protocol, or MC_DECODE_ERR.  A header with
 * version 4, IHL >= 5 and 20 captured octets is always committed, even when
 * its options or its declared total length are not all captured
 * (decode.ipv4.truncated) or the total length is impossible
 * (decode.ipv4.bad_total_length); ip_len is then the declared total length
 * when it is at least the header length, else the captured length.  A total
 * length of 0 (TSO/GSO captures) means "the captured length".  With
 * pkt->reasm a fragment goes to the reassembler: kept (pkt->held set,
 * MC_LAYER_DONE), or completing its datagram, which is then decoded on from
 * its transport header with ip_len and frag_frames covering every frame.
 */
int mc_decode_ipv4(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(ipv4_packets);
    const uint8_t *hdr = mc_cur_ptr(c);
    size_t avail = mc_cur_left(c); /* captured octets from the header on */
    uint8_t ver_ihl = mc_cur_u8(c);
    uint8_t tos = mc_cur_u8(c);
    uint16_t total = mc_cur_be16(c);
    uint16_t id = mc_cur_be16(c);
    uint16_t frag = mc_cur_be16(c);
    uint8_t ttl = mc_cur_u8(c);
    uint8_t proto = mc_cur_u8(c);
    mc_cur_skip(c, 2); /* header checksum: not verified (offload makes it unreliable) */
    struct mc_addr src = { { 0 } }, dst = { { 0 } };
    mc_cur_bytes(c, src.b, 4);
    mc_cur_bytes(c, dst.b, 4);
    size_t hlen = (size_t)(ver_ihl & 0x0f) * 4;
    if (!mc_cur_ok(c) || ver_ihl >> 4 != 4 || hlen < IPV4_MIN_HDR) {
        if (!mc_cur_ok(c))
            DCTR(ipv4_too_short);
        else if (ver_ihl >> 4 != 4)
            DCTR(ipv4_bad_version);
        else
            DCTR(ipv4_bad_ihl);
        /*
         * A frame whose link layer says IPv4 is an IPv4 packet to tshark and
         * to an operator, however broken its header, so the outermost one is
         * metered on what was read (bytes not captured read 0); inside a
         * tunnel the packet stays in its outer flow.
         */
        if (avail == 0 || pkt->ip_ver != 0)
            return MC_DECODE_ERR;
        DCTR(ipv4_header_unusable);
        commit(pkt, proto, tos, ttl, &src, &dst,
               (avail >= 4 && total >= IPV4_MIN_HDR) ? total : (uint32_t)avail);
        return MC_DECODE_ERR;
    }
    mc_cur_skip(c, hlen - IPV4_MIN_HDR);
    int options_ok = mc_cur_ok(c);

    uint32_t ip_len;
    if (total == 0) {
        DCTR(ipv4_zero_total_length);
        ip_len = avail > UINT32_MAX ? UINT32_MAX : (uint32_t)avail;
    } else if (total < hlen) {
        DCTR(ipv4_bad_total_length);
        ip_len = avail > UINT32_MAX ? UINT32_MAX : (uint32_t)avail;
    } else {
        ip_len = total;
        if (total > avail)
            DCTR(ipv4_truncated);
        else
            mc_cur_limit(c, total - hlen); /* drop Ethernet padding and trailers */
    }
    if (!options_ok && total < hlen)
        DCTR(ipv4_truncated); /* options cut by the capture, not counted above */

    /* the header is valid: commit it */
    commit(pkt, proto, tos, ttl, &src, &dst, ip_len);
    pkt->l3 = hdr;
    pkt->l3_len = ip_len < avail ? ip_len : avail;

    unsigned offset = frag & IPV4_OFFSET_MASK;
    if (offset != 0 || (frag & IPV4_FLAG_MF) != 0) {
        DCTR(ipv4_fragments);
        int mine = !pkt->frag;
        if (mine) {
            pkt->frag = 1;
            pkt->frag_first = offset == 0;
            pkt->frag_ver = 4;
            pkt->frag_proto = proto;
            pkt->frag_id = id;
            pkt->frag_src = src;
            pkt->frag_dst = dst;
        }
        if (pkt->reasm) {
            struct mc_reasm_frag fr = {
                .ver = 4, .proto = proto, .more = (frag & IPV4_FLAG_MF) != 0, .id = id,
                .offset = offset * 8u, .hdr = hdr, .hdr_len = hlen, .data = mc_cur_ptr(c),
                .len = total >= hlen ? total - hlen : 0,
                .captured = options_ok && total <= avail,
            };
            struct mc_reasm_out out;
            int rr = mc_reasm_add(pkt->reasm, pkt, &fr, &out);
            if (rr == MC_REASM_HELD) {
                pkt->held = 1; /* metered later, with its datagram */
                return MC_LAYER_DONE;
            }
            if (rr == MC_REASM_DONE) {
                /* decode on over the whole datagram, headed by its offset-0 fragment's header */
                if (mine)
                    pkt->frag = pkt->frag_first = 0;
                pkt->tos = out.dgram[1];
                pkt->ttl = out.dgram[8];
                pkt->ip_len = out.octets;
                pkt->frag_frames = out.frames;
                pkt->l3 = out.dgram;
                pkt->l3_len = out.len;
                *c = mc_cur_make(out.dgram + out.hdr_len, out.len - out.hdr_len);
                return mc_decode_layer_for_ipproto(proto);
            }
        }
        if (offset != 0)
            return MC_LAYER_DONE; /* no transport header in a later fragment */
    }
    if (!options_ok)
        return MC_DECODE_ERR;
    return mc_decode_layer_for_ipproto(proto);
}
