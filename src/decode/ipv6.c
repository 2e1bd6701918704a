/*
 * ipv6.c - IPv6 header and extension header decoder: validates the fixed
 * header into locals, commits it to pkt, then walks the extension headers to
 * the transport protocol.
 *
 * References: RFC 8200 (IPv6: section 3 header, 4 extension headers, 4.5
 * fragment header), RFC 4302 (AH), RFC 6275 section 6.1 (mobility header),
 * RFC 7045 (extension header handling), RFC 2675 (jumbograms).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Source Address (128 bits)                     |
 *   |                 Destination Address (128 bits)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   Extension header (0, 43, 60, 135):  | Next Header | Hdr Ext Len | ... |
 *   AH (51):                            | Next Header | Payload Len | ... |
 *   Fragment (44):  | Next Header | Reserved | Fragment Offset |Res|M| Identification |
 *
 * RFC 8200: "Payload Length: Length of the IPv6 payload, i.e., the rest of
 * the packet following this IPv6 header, in octets.  (Note that any extension
 * headers present are considered part of the payload, i.e., included in the
 * length count.)"  "Hdr Ext Len: Length of the Hop-by-Hop Options header in
 * 8-octet units, not including the first 8 octets."  RFC 4302: AH "Payload
 * Length: This 8-bit field specifies the length of AH in 32-bit words (4-byte
 * units), minus '2'."  The fragment header is a fixed 8 octets.
 */
#include "decode/internal.h"
#include "decode/reasm.h"

#define IPV6_HDR_LEN 40
#define IPV6_MAX_EXT 8 /* extension headers walked before giving up */

enum {
    NH_HOPOPTS = 0,
    NH_ROUTING = 43,
    NH_FRAGMENT = 44,
    NH_AH = 51,
    NH_DSTOPTS = 60,
    NH_MOBILITY = 135,
};

/*
 * Decodes an IPv6 header.  Commits it as soon as the 40-octet fixed header
 * is captured with version 6, so a damaged extension header chain
 * (decode.ipv6.ext_too_short, decode.ipv6.too_many_ext_headers) still meters
 * the packet, with proto = the next header that could not be walked.
 * ip_len = 40 + payload length (40 + captured octets when payload length is
 * 0, as in TSO/GSO captures and jumbograms).  A later fragment commits with
 * proto = the fragment header's next header and returns MC_LAYER_DONE.
 * With pkt->reasm a fragment goes to the reassembler: kept (pkt->held set,
 * MC_LAYER_DONE), or completing its datagram, whose walk then goes on from
 * the header after the fragment header with ip_len and frag_frames covering
 * every frame.
 */
int mc_decode_ipv6(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(ipv6_packets);
    const uint8_t *hdr = mc_cur_ptr(c);
    size_t hdr_avail = mc_cur_left(c); /* captured octets from the header on */
    uint32_t vtf = mc_cur_be32(c);
    uint16_t plen = mc_cur_be16(c);
    uint8_t next = mc_cur_u8(c);
    uint8_t hlim = mc_cur_u8(c);
    struct mc_addr src, dst;
    mc_cur_bytes(c, src.b, 16);
    mc_cur_bytes(c, dst.b, 16);
    if (!mc_cur_ok(c) || vtf >> 28 != 6) {
        if (!mc_cur_ok(c))
            DCTR(ipv6_too_short);
        else
            DCTR(ipv6_bad_version);
        /* the link layer says IPv6: meter the outermost header on what was read (see ipv4.c) */
        if (hdr_avail == 0 || pkt->ip_ver != 0)
            return MC_DECODE_ERR;
        DCTR(ipv6_header_unusable);
        mc_decode_ip_enter(pkt);
        pkt->ip_ver = 6;
        pkt->proto = next; /* 0 when not captured */
        pkt->src = src;
        pkt->dst = dst;
        pkt->ip_len = hdr_avail >= 6 ? 40u + plen : (uint32_t)hdr_avail;
        return MC_DECODE_ERR;
    }
    size_t avail = mc_cur_left(c);
    uint32_t ip_len;
    if (plen == 0) {
        DCTR(ipv6_zero_payload_length);
        ip_len = avail > UINT32_MAX - IPV6_HDR_LEN ? UINT32_MAX : (uint32_t)(IPV6_HDR_LEN + avail);
    } else {
        ip_len = IPV6_HDR_LEN + (uint32_t)plen;
        if (plen > avail)
            DCTR(ipv6_truncated);
        else
            mc_cur_limit(c, plen);
    }

    mc_decode_ip_enter(pkt);
    pkt->ip_ver = 6;
    pkt->proto = next;
    pkt->tos = (uint8_t)(vtf >> 20);
    pkt->ttl = hlim;
    pkt->src = src;
    pkt->dst = dst;
    pkt->ip_len = ip_len;
    pkt->l3 = hdr;
    pkt->l3_len = ip_len < hdr_avail ? ip_len : hdr_avail;

    /* extension headers: each step re-checks the length, the walk is capped */
    size_t pos = IPV6_HDR_LEN; /* offset of the header `next` names, from hdr */
    size_t nh_off = 6;         /* offset of the octet holding `next` */
    for (unsigned n = 0;; n++) {
        size_t len;
        switch (next) {
        case NH_HOPOPTS:
        case NH_ROUTING:
        case NH_DSTOPTS:
        case NH_MOBILITY:
        case NH_AH:
        case NH_FRAGMENT:
            break;
        default:
            pkt->proto = next;
            return mc_decode_layer_for_ipproto(next);
        }
        if (n >= IPV6_MAX_EXT) {
            DCTR(ipv6_too_many_ext_headers);
            pkt->proto = next;
            return MC_DECODE_ERR;
        }
        if (next == NH_FRAGMENT) {
            uint8_t fnext = mc_cur_u8(c);
            mc_cur_skip(c, 1);
            uint16_t off_m = mc_cur_be16(c);
            uint32_t id = mc_cur_be32(c);
            if (!mc_cur_ok(c)) {
                DCTR(ipv6_ext_too_short);
                pkt->proto = next;
                return MC_DECODE_ERR;
            }
            DCTR(ipv6_fragments);
            unsigned offset = off_m >> 3;
            int more = off_m & 1;
            int mine = !pkt->frag;
            if (mine) {
                pkt->frag = 1;
                pkt->frag_first = offset == 0;
                pkt->frag_ver = 6;
                pkt->frag_proto = fnext;
                pkt->frag_id = id;
                pkt->frag_src = src;
                pkt->frag_dst = dst;
            }
            next = fnext;
            /* an atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946) */
            if (pkt->reasm && (offset != 0 || more)) {
                pkt->proto = fnext;
                struct mc_reasm_frag fr = {
                    .ver = 6, .proto = fnext, .more = (uint8_t)more, .id = id, .offset = offset * 8u,
                    .hdr = hdr, .hdr_len = pos, .nh_off = nh_off, .data = mc_cur_ptr(c),
                    .len = mc_cur_left(c), .captured = plen != 0 && plen <= avail,
                };
                struct mc_reasm_out out;
                int rr = mc_reasm_add(pkt->reasm, pkt, &fr, &out);
                if (rr == MC_REASM_HELD) {
                    pkt->held = 1; /* metered later, with its datagram */
                    return MC_LAYER_DONE;
                }
                if (rr == MC_REASM_DONE) {
                    /* walk on over the whole datagram, from what followed the fragment header */
                    if (mine)
                        pkt->frag = pkt->frag_first = 0;
                    pkt->tos = (uint8_t)(out.dgram[0] << 4 | out.dgram[1] >> 4);
                    pkt->ttl = out.dgram[7];
                    pkt->ip_len = out.octets;
                    pkt->frag_frames = out.frames;
                    pkt->l3 = hdr = out.dgram;
                    pkt->l3_len = out.len;
                    *c = mc_cur_make(out.dgram + out.hdr_len, out.len - out.hdr_len);
                    next = out.proto;
                    pos = out.hdr_len;
                    continue;
                }
            }
            if (offset != 0) {
                pkt->proto = fnext;
                return MC_LAYER_DONE; /* later fragment: no transport header */
            }
            nh_off = pos;
            pos += 8;
            continue;
        }
        uint8_t enext = mc_cur_peek8(c, 0);
        uint8_t elen = mc_cur_peek8(c, 1);
        len = next == NH_AH ? ((size_t)elen + 2) * 4 : ((size_t)elen + 1) * 8;
        mc_cur_skip(c, len);
        if (!mc_cur_ok(c)) {
            DCTR(ipv6_ext_too_short);
            pkt->proto = next;
            return MC_DECODE_ERR;
        }
        nh_off = pos;
        pos += len;
        next = enext;
    }
}
