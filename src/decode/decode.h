/*
 * decode.h - the decoder pipeline: one decoder per layer, one dispatch loop.
 *
 * Contract of every decoder (one file each under src/decode/):
 *     int mc_decode_<layer>(struct mc_pkt *pkt, struct mc_cur *c);
 * On entry the cursor starts at the layer's first byte; the decoder counts
 * itself (decode.<layer>.packets), checks its minimum length, reads its
 * header through the cursor, fills pkt, advances the cursor to its payload
 * (cut to any declared length with mc_cur_limit/mc_cur_sub) and returns the
 * next layer id, MC_LAYER_DONE when the packet is fully decoded, or a
 * negative value after counting the named reason (decode.<layer>.<reason>).
 * Decoders never cast packet pointers to structs and never read outside the
 * cursor.  IP decoders validate their whole header before changing pkt, so
 * a failing inner header leaves the outer one as the packet's flow key.
 */
#ifndef MC_DECODE_DECODE_H
#define MC_DECODE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "common/cur.h"
#include "decode/pkt.h"

enum mc_layer {
    MC_LAYER_DONE = 0, /* nothing more to decode */
    MC_LAYER_ETHER,
    MC_LAYER_SLL,      /* Linux cooked v1 */
    MC_LAYER_SLL2,     /* Linux cooked v2 */
    MC_LAYER_NULL,     /* BSD loopback / null, host or network byte order */
    MC_LAYER_RAW,      /* raw IP: version nibble picks IPv4/IPv6 */
    MC_LAYER_VLAN,     /* 802.1Q / 802.1ad tag */
    MC_LAYER_MPLS,
    MC_LAYER_PPPOE,    /* PPPoE session + PPP protocol field */
    MC_LAYER_PPP,      /* PPP link layer (DLT_PPP, DLT_PPP_SERIAL) */
    MC_LAYER_IPV4,
    MC_LAYER_IPV6,
    MC_LAYER_TCP,
    MC_LAYER_UDP,
    MC_LAYER_ICMP,
    MC_LAYER_ICMPV6,
    MC_LAYER_SCTP,
    MC_LAYER_GRE,
    MC_LAYER_GTPU,
    MC_LAYER_VXLAN,
    MC_LAYER_ERSPAN,
    MC_LAYER_NON_IP,   /* a known non-IP payload (ARP, LLDP...): decode stops, counted */
    MC_LAYER_COUNT
};

/* What a decoder returns after counting why it rejected its header. */
#define MC_DECODE_ERR (-1)

/* Nesting cap: every layer (tags, labels, headers, tunnels) adds one. */
#define MC_DECODE_MAX_DEPTH 32

typedef int (*mc_decoder_fn)(struct mc_pkt *pkt, struct mc_cur *c);

int mc_decode_ether(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_sll(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_sll2(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_null(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_raw(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_vlan(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_mpls(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_pppoe(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_ppp(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_ipv4(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_ipv6(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_tcp(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_udp(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_icmp(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_icmpv6(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_sctp(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_gre(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_gtpu(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_vxlan(struct mc_pkt *pkt, struct mc_cur *c);
int mc_decode_erspan(struct mc_pkt *pkt, struct mc_cur *c);

/*
 * Shared dispatch tables (decode.c): next layer for an ethertype / IP
 * protocol.  An ethertype that is not decoded further is counted under its
 * decode.nonip.<name> counter (decode.nonip.other_ethertype when unknown)
 * and gives MC_LAYER_NON_IP; an IP protocol without a decoder is counted
 * under decode.ip.other_proto and gives MC_LAYER_DONE (the flow has no ports).
 */
int mc_decode_layer_for_ethertype(uint16_t ethertype);
int mc_decode_layer_for_ipproto(uint8_t proto);

/* Returns the first layer for a pcap DLT_* link type, or -1 when unsupported. */
int mc_decode_layer_for_dlt(int dlt);

/*
 * Decodes one captured frame.  pkt->ts_ms, caplen, wirelen, linktype,
 * ifindex and reasm (NULL: no reassembly) must be set by the caller;
 * everything else is (re)initialised.  With a reassembler, a fragment it
 * keeps returns MC_DECODED_IP with pkt->held set (do not meter it: it is
 * metered with its datagram), and the frame completing a datagram decodes
 * the whole of it (see decode/reasm.h).
 * data is borrowed for the call.  Returns an enum mc_decode_result:
 * MC_DECODED_IP whenever at least one IP header was read (even if an inner
 * layer was then malformed: the frame is then metered on the last good IP
 * header), MC_DECODED_NON_IP for frames with no IP, MC_DECODED_BAD otherwise.
 */
int mc_decode_packet(struct mc_pkt *pkt, const uint8_t *data, size_t caplen);

#endif /* MC_DECODE_DECODE_H */
