/*
 * ppp.c - PPP as a capture link layer (DLT_PPP 9, DLT_PPP_SERIAL 50).
 *
 * References: RFC 1661 (PPP), RFC 1662 (HDLC-like framing), RFC 3032 (MPLS
 * over PPP, protocol 0x0281).
 *
 *     +----------+----------+----------+--------------
 *     | Address  | Control  | Protocol | Information ...
 *     |   0xff   |   0x03   | 8/16 bits|
 *     +----------+----------+----------+--------------
 *
 * The frame has no length field: the information field runs to the end of
 * the captured frame (the FCS is not captured by pcap).
 */
#include "decode/internal.h"

/* Counts the frame, then dispatches on the PPP protocol like PPPoE does. */
int mc_decode_ppp(struct mc_pkt *pkt, struct mc_cur *c)
{
    (void)pkt;
    DCTR(ppp_packets);
    return mc_decode_ppp_next(c);
}
