/*
 * raw.c - raw IP link types: DLT_RAW (12, 14 on OpenBSD, LINKTYPE_RAW 101),
 * where the version nibble tells IPv4 from IPv6, and DLT_IPV4 (228) /
 * DLT_IPV6 (229), where the link type says it.
 *
 * Reference: https://www.tcpdump.org/linktypes/LINKTYPE_RAW.html.
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+
 *   |Version| ...   |   first octet of the IPv4 or IPv6 header
 *   +-+-+-+-+-+-+-+-+
 *
 * linktypes page: "Raw IP; the packet begins with an IPv4 or IPv6 header,
 * with the version field of the header indicating whether it's an IPv4 or
 * IPv6 header."  There is no link-layer header and so no length field; the
 * IP decoders apply the IP length fields.  Nothing is consumed here.
 */
#include "decode/internal.h"

#define DLT_IPV4_VALUE 228
#define DLT_IPV6_VALUE 229

/* Picks the IP decoder; the IP decoder itself validates the version. */
int mc_decode_raw(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(raw_packets);
    if (pkt->linktype == DLT_IPV4_VALUE)
        return MC_LAYER_IPV4;
    if (pkt->linktype == DLT_IPV6_VALUE)
        return MC_LAYER_IPV6;
    if (mc_cur_left(c) < 1) {
        DCTR(raw_too_short);
        return MC_DECODE_ERR;
    }
    switch (mc_cur_peek8(c, 0) >> 4) {
    case 4:
        return MC_LAYER_IPV4;
    case 6:
        return MC_LAYER_IPV6;
    default:
        DCTR(raw_bad_version);
        return MC_DECODE_ERR;
    }
}
