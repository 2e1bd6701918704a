/*
 * sctp.c - SCTP common header decoder: ports only (chunks are not walked).
 *
 * Reference: RFC 9260 section 3.1 (SCTP common header).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Source Port Number        |     Destination Port Number   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                      Verification Tag                         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           Checksum                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The common header has no length field; each chunk that follows carries its
 * own: "Chunk Length: 16 bits (unsigned integer).  This value represents the
 * size of the chunk in bytes, including the Chunk Type, Chunk Flags, Chunk
 * Length, and Chunk Value fields."  Chunks are left to the L7 stage.
 */
#include "decode/internal.h"

/*
 * Decodes the 12-octet common header: sets ports, has_l4 and the payload
 * (the chunks).  Returns MC_LAYER_DONE or MC_DECODE_ERR with
 * decode.sctp.too_short.
 */
int mc_decode_sctp(struct mc_pkt *pkt, struct mc_cur *c)
{
    DCTR(sctp_packets);
    uint16_t sport = mc_cur_be16(c);
    uint16_t dport = mc_cur_be16(c);
    mc_cur_skip(c, 8); /* verification tag, checksum */
    if (!mc_cur_ok(c)) {
        DCTR(sctp_too_short);
        return MC_DECODE_ERR;
    }
    pkt->sport = sport;
    pkt->dport = dport;
    pkt->has_l4 = 1;
    pkt->payload = mc_cur_ptr(c);
    pkt->payload_len = mc_cur_left(c);
    return MC_LAYER_DONE;
}
