/*
 * tcp.c - TCP header decoder: ports, flags and the payload after options.
 *
 * References: RFC 9293 section 3.1 (header format), RFC 3168 (ECE/CWR flags).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (Data Offset > 5)                  |
 *
 * RFC 9293: "Data Offset (DOffset): 4 bits.  The number of 32-bit words in
 * the TCP header.  This indicates where the data begins."  A TCP segment has
 * no length field of its own: the payload runs to the end of the IP payload.
 */
#include "decode/internal.h"

#define TCP_MIN_HDR 20

/*
 * Decodes a TCP header: sets sport, dport, tcp_flags, tcp_seq, tcp_ack, has_l4 and the payload
 * after the options.  Returns MC_LAYER_DONE, or MC_DECODE_ERR with
 * decode.tcp.too_short / bad_offset (has_l4 stays 0).  Options cut by the
 * capture count decode.tcp.options_truncated and leave an empty payload.
 */
int mc_decode_tcp(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(tcp_packets);
    uint16_t sport = mc_cur_be16(c);
    uint16_t dport = mc_cur_be16(c);
    uint32_t seq = mc_cur_be32(c);
    uint32_t ack = mc_cur_be32(c);
    uint8_t doff = mc_cur_u8(c);
    uint8_t flags = mc_cur_u8(c);
    mc_cur_skip(c, 6); /* window, checksum, urgent pointer */
    if (!mc_cur_ok(c)) {
        DCTR(tcp_too_short);
        return MC_DECODE_ERR;
    }
    size_t hlen = (size_t)(doff >> 4) * 4;
    if (hlen < TCP_MIN_HDR) {
        DCTR(tcp_bad_offset);
        return MC_DECODE_ERR;
    }
    pkt->sport = sport;
    pkt->dport = dport;
    pkt->tcp_flags = flags;
    pkt->tcp_seq = seq;
    pkt->tcp_ack = ack;
    pkt->has_l4 = 1;
    mc_cur_skip(c, hlen - TCP_MIN_HDR);
    if (!mc_cur_ok(c)) {
        DCTR(tcp_options_truncated);
        pkt->payload = NULL;
        pkt->payload_len = 0;
        return MC_LAYER_DONE;
    }
    pkt->payload = mc_cur_ptr(c);
    pkt->payload_len = mc_cur_left(c);
    return MC_LAYER_DONE;
}
