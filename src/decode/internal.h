/*
 * internal.h - helpers shared by the decoders of src/decode/ only.
 *
 * Other stages include decode/decode.h; this header adds the counter list,
 * the error return value, the IP "enter a new header" step and the PPP
 * protocol dispatch, which several decoders need.
 */
#ifndef MC_DECODE_INTERNAL_H
#define MC_DECODE_INTERNAL_H

#include "decode/counters.h"
#include "decode/decode.h"

/* Shorthand for the decode stage's counters: DCTR(vlan_too_short). */
#define DCTR(id) MC_CTR_INC(decode, id)

/*
 * Prepares pkt for a new IP header about to be committed.  When an IP
 * header was already committed (we are inside a tunnel) it moves the current
 * addresses to outer_*, turns pending_tunnel into tunnel (MC_TUNNEL_IPIP when
 * none is pending), bumps tunnel_depth and clears the transport fields.
 * Call it only after the new header was validated.
 */
void mc_decode_ip_enter(struct mc_pkt *pkt);

/*
 * Reads a PPP protocol field (after an optional 0xff 0x03 address/control
 * pair; one octet when compressed, RFC 1661 section 6.5) and returns the
 * next layer.  Non-IP protocols are counted under decode.nonip.ppp_* and
 * give MC_LAYER_NON_IP; a short field counts decode.ppp.too_short and gives
 * MC_DECODE_ERR.  Defined in pppoe.c; GRE version 1 (PPTP) uses it too.
 */
int mc_decode_ppp_next(struct mc_cur *c);

/*
 * The dispatch loop of mc_decode_packet(): decodes from layer on with c,
 * charging pkt->depth, until a decoder ends it.  Returns the last value a
 * decoder returned (MC_LAYER_DONE, MC_LAYER_NON_IP or MC_DECODE_ERR).
 * reasm.c runs it over the bytes of a datagram it gives up.
 */
int mc_decode_run(struct mc_pkt *pkt, int layer, struct mc_cur *c);

#endif /* MC_DECODE_INTERNAL_H */
