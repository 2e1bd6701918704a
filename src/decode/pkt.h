/*
 * pkt.h - what the decoders learn about one packet.
 *
 * The decoders fill one struct mc_pkt per captured frame.  It holds the
 * innermost IP header and transport ports (the flow key), the L2 tags seen
 * on the way (VLAN, MPLS), and the tunnel the innermost header came out of
 * (type, id, outer endpoints).  Nothing here points into packet memory but
 * `payload`, which is borrowed until the capture callback returns.
 */
#ifndef MC_DECODE_PKT_H
#define MC_DECODE_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"


enum mc_tunnel_type {
    MC_TUNNEL_NONE = 0,
    MC_TUNNEL_GRE = 1,   /* id: GRE key (0 when absent) */
    MC_TUNNEL_GTPU = 2,  /* id: TEID */
    MC_TUNNEL_VXLAN = 3, /* id: VNI */
    MC_TUNNEL_IPIP = 4,  /* IPv4/IPv6 in IPv4/IPv6; id: 0 */
    MC_TUNNEL_ERSPAN = 5, /* GRE-carried ERSPAN; id: session id */
    MC_TUNNEL_PPPOE = 6   /* PPPoE session; id: session id; no outer IP header */
};

/* Why the innermost flow ended up where it did; see decode.h for results. */
enum mc_decode_result {
    MC_DECODED_IP = 0,    /* at least one IP header: the packet belongs to a flow */
    MC_DECODED_NON_IP,    /* a valid frame with no IP in it (ARP, LLDP, STP...) */
    MC_DECODED_BAD        /* undecodable: a named decode.* counter says why */
};

#define MC_MAX_VLANS 2       /* tags kept for the key; deeper stacks are skipped */
#define MC_MAX_MPLS 8        /* labels walked before decode.mpls.too_many_labels */

struct mc_pkt {
    /* capture */
    uint64_t ts_ms;           /* packet time, epoch milliseconds */
    uint16_t ts_us;           /* and the microseconds past ts_ms (0-999): for RTP jitter */
    uint32_t caplen, wirelen; /* captured and on-the-wire frame lengths */
    int linktype;             /* DLT_* of the capture */
    uint32_t ifindex;         /* ingress interface index of the capture source */

    /* L2 */
    uint16_t vlan[MC_MAX_VLANS]; /* outermost first, 12-bit ids */
    uint8_t n_vlan;              /* tags seen (may exceed MC_MAX_VLANS) */
    uint8_t n_mpls;              /* labels seen */
    uint32_t mpls_top;           /* top label (20 bits) */
    uint16_t pppoe_session;      /* PPPoE session id, 0 when none */

    /* innermost IP header: the flow key */
    uint8_t ip_ver;           /* 0 (no IP yet), 4 or 6 */
    uint8_t proto;            /* IP protocol of the transport (after extension headers) */
    uint8_t tos;              /* IPv4 ToS / IPv6 traffic class */
    uint8_t ttl;
    struct mc_addr src, dst;
    uint32_t ip_len;          /* octets of this packet as IPFIX counts them: IP header + payload */
    uint16_t sport, dport;    /* 0 when the transport has no ports */
    uint8_t tcp_flags;        /* TCP flags byte (FIN..CWR) */
    uint8_t icmp_type, icmp_code;
    uint8_t has_l4;           /* the transport header was read */
    uint32_t tcp_seq, tcp_ack; /* TCP sequence and acknowledgment numbers (has_l4, proto 6) */

    /*
     * IP fragmentation: the outermost fragmented IP header seen, if any,
     * that was not reassembled (see reasm below).  A first fragment (offset
     * 0) is decoded through; a later one stops the decode there, and the
     * flow layer counts it in the flow its first fragment went to (matched
     * on ver/src/dst/proto/id).
     */
    uint8_t frag;             /* 1 when some IP header was a fragment */
    uint8_t frag_first;       /* 1 when that header had offset 0 */
    uint8_t frag_ver, frag_proto;
    uint32_t frag_id;         /* IPv4 identification or IPv6 fragment identification */
    struct mc_addr frag_src, frag_dst;

    /* tunnel the innermost IP header came out of (the innermost one when nested) */
    uint8_t tunnel;           /* enum mc_tunnel_type */
    uint8_t tunnel_depth;     /* number of tunnels crossed */
    uint32_t tunnel_id;       /* GRE key, TEID, VNI */
    uint8_t outer_ver;        /* IP version of the outer header, 0 when none */
    struct mc_addr outer_src, outer_dst;

    /* set by a tunnel decoder for the next IP header: becomes tunnel/tunnel_id */
    uint8_t pending_tunnel;
    uint32_t pending_tunnel_id;

    /* encapsulation depth so far (every layer counts); capped by MC_DECODE_MAX_DEPTH */
    uint8_t depth;

    /* innermost IP header and what was captured of its datagram (borrowed like payload; nDPI reads it) */
    const uint8_t *l3;
    size_t l3_len;

    /* transport payload of the innermost header (borrowed until the callback returns) */
    const uint8_t *payload;
    size_t payload_len;

    /*
     * Set by the caller after decoding: 1 when l3 and payload stay readable
     * while the flow stage's pipeline holds the packet (they lie in a mapped
     * file's frame, mc_capture_kept_bytes), so it need not copy them.
     */
    uint8_t bytes_kept;

    /*
     * Fragment reassembly (decode/reasm.h).  reasm is set by the caller like
     * ts_ms (NULL: fragments are decoded one by one, as described above).
     * held: this frame is a fragment the reassembler kept; it is metered
     * later with its datagram, so the caller must not meter it now.
     * frag_frames: the capture frames a reassembled (or given-up) datagram
     * stands for, all metered by this one packet; 0 for an ordinary frame.
     */
    struct mc_reasm *reasm;   /* borrowed */
    uint8_t held;
    uint32_t frag_frames;
};

#endif /* MC_DECODE_PKT_H */
