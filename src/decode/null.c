/*
 * null.c - BSD loopback encapsulation: DLT_NULL (0, address family in the
 * capturing host's byte order) and DLT_LOOP (108, network byte order).
 *
 * Reference: https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html and
 * LINKTYPE_LOOP.html.
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 address family (32 bits)                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  IPv4 or IPv6 packet ...
 *
 * linktypes page: "The link layer header is a 4-byte field, in host byte
 * order, containing a value of 2 for IPv4 packets, a value of either 24, 28,
 * or 30 for IPv6 packets" (the AF_INET6 of the BSDs differ).  There is no
 * length field: the packet runs to the end of the capture.
 */
#include "decode/internal.h"

#define DLT_LOOP_VALUE 108

/* Decodes the 4-octet family header; returns IPv4/IPv6 or NON_IP. */
int mc_decode_null(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(null_packets);
    uint32_t af = mc_cur_be32(c);
    if (!mc_cur_ok(c)) {
        DCTR(null_too_short);
        return MC_DECODE_ERR;
    }
    /*
     * DLT_NULL is in the writer's byte order, which the file does not say:
     * every valid family is below 65536, so a value with high bits set was
     * written little-endian (tcpdump's null_if_print does the same test).
     */
    if (pkt->linktype != DLT_LOOP_VALUE && (af & 0xffff0000u) != 0)
        af = (af >> 24) | ((af >> 8) & 0xff00u) | ((af << 8) & 0xff0000u) | (af << 24);
    switch (af) {
    case 2:
        return MC_LAYER_IPV4;
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD, DragonFly */
    case 30: /* Darwin */
        return MC_LAYER_IPV6;
    default:
        DCTR(nonip_other_af);
        return MC_LAYER_NON_IP;
    }
}
