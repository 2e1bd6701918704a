/*
 * decode.c - the decoder pipeline: the dispatch loop over the per-layer
 * decoders, the DLT / ethertype / IP protocol tables that pick the next
 * layer, and the final IP / non-IP / bad classification of a frame.
 *
 * References: pcap LINKTYPE registry (https://www.tcpdump.org/linktypes.html),
 * IEEE 802 EtherType registry, IANA Protocol Numbers registry.
 *
 * A frame is decoded as a chain of layers.  Each decoder reads its own header
 * from the cursor and returns the next layer id, so the loop below is the only
 * place that recurses; it charges every step to pkt->depth and stops at
 * MC_DECODE_MAX_DEPTH, which is what makes GRE->IP->UDP->GTP-U->IP->... nests
 * terminate (Suricata's PacketIncreaseCheckLayers).
 */
#include "decode/internal.h"

#include <string.h>

MC_CTR_DEFINE(decode, MC_DECODE_CTRS)

/* Indexed by enum mc_layer; NULL for DONE and NON_IP, which end the loop. */
static const mc_decoder_fn decoders[MC_LAYER_COUNT] = {
    [MC_LAYER_ETHER] = mc_decode_ether,   [MC_LAYER_SLL] = mc_decode_sll,
    [MC_LAYER_SLL2] = mc_decode_sll2,     [MC_LAYER_NULL] = mc_decode_null,
    [MC_LAYER_RAW] = mc_decode_raw,       [MC_LAYER_VLAN] = mc_decode_vlan,
    [MC_LAYER_MPLS] = mc_decode_mpls,     [MC_LAYER_PPPOE] = mc_decode_pppoe,
    [MC_LAYER_IPV4] = mc_decode_ipv4,     [MC_LAYER_IPV6] = mc_decode_ipv6,
    [MC_LAYER_TCP] = mc_decode_tcp,       [MC_LAYER_UDP] = mc_decode_udp,
    [MC_LAYER_ICMP] = mc_decode_icmp,     [MC_LAYER_ICMPV6] = mc_decode_icmpv6,
    [MC_LAYER_SCTP] = mc_decode_sctp,     [MC_LAYER_GRE] = mc_decode_gre,
    [MC_LAYER_GTPU] = mc_decode_gtpu,     [MC_LAYER_VXLAN] = mc_decode_vxlan,
    [MC_LAYER_ERSPAN] = mc_decode_erspan, [MC_LAYER_PPP] = mc_decode_ppp,
};

/* pcap link types we decode (values from pcap/dlt.h, spelled out). */
static const struct {
    int dlt;
    int layer;
} dlt_table[] = {
    { 1, MC_LAYER_ETHER },  /* DLT_EN10MB */
    { 113, MC_LAYER_SLL },  /* DLT_LINUX_SLL */
    { 276, MC_LAYER_SLL2 }, /* DLT_LINUX_SLL2 */
    { 0, MC_LAYER_NULL },   /* DLT_NULL: AF in the capturing host's byte order */
    { 108, MC_LAYER_NULL }, /* DLT_LOOP: AF in network byte order */
    { 12, MC_LAYER_RAW },   /* DLT_RAW (most platforms) */
    { 14, MC_LAYER_RAW },   /* DLT_RAW (OpenBSD) */
    { 101, MC_LAYER_RAW },  /* LINKTYPE_RAW */
    { 228, MC_LAYER_RAW },  /* DLT_IPV4 */
    { 229, MC_LAYER_RAW },  /* DLT_IPV6 */
    { 9, MC_LAYER_PPP },    /* DLT_PPP */
    { 50, MC_LAYER_PPP },   /* DLT_PPP_SERIAL (HDLC-like framing) */
};

/*
 * Ethertypes: either a next layer, or MC_LAYER_NON_IP and the counter that
 * names the payload.  Counter ids are enum values, so the table stays const.
 */
static const struct {
    uint16_t type;
    uint8_t layer;
    uint16_t ctr; /* counter index when layer == MC_LAYER_NON_IP */
} ethertype_table[] = {
    { 0x0800, MC_LAYER_IPV4, 0 },
    { 0x86dd, MC_LAYER_IPV6, 0 },
    { 0x8100, MC_LAYER_VLAN, 0 }, /* 802.1Q C-tag */
    { 0x88a8, MC_LAYER_VLAN, 0 }, /* 802.1ad S-tag */
    { 0x9100, MC_LAYER_VLAN, 0 }, /* pre-standard QinQ */
    { 0x8847, MC_LAYER_MPLS, 0 }, /* MPLS unicast */
    { 0x8848, MC_LAYER_MPLS, 0 }, /* MPLS multicast */
    { 0x8864, MC_LAYER_PPPOE, 0 }, /* PPPoE session stage */
    { 0x6558, MC_LAYER_ETHER, 0 }, /* transparent Ethernet bridging (GRE, NVGRE) */
    { 0x22eb, MC_LAYER_ERSPAN, 0 }, /* ERSPAN type III (GRE) */
    { 0x0806, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_arp },
    { 0x8035, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_rarp },
    { 0x88cc, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_lldp },
    { 0x8863, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_pppoe_discovery },
    { 0x8137, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_ipx },
    { 0x8138, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_ipx },
    { 0x9000, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_loopback },
    { 0x888e, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_eapol },
    { 0x8809, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_slow_protocols },
    { 0x88f7, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_ptp },
    { 0x8902, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_cfm },
    { 0x88e5, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_macsec },
    { 0x8906, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_fcoe },
    { 0x8914, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_fcoe }, /* FIP */
    { 0x809b, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_appletalk },
    { 0x80f3, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_appletalk }, /* AARP */
    { 0x0842, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_wol },
    { 0x8892, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_profinet },
    { 0x88a4, MC_LAYER_NON_IP, MC_CTR_ID_decode_nonip_ethercat },
};

/* IP protocol numbers (IANA) with a decoder; the rest end the decode. */
static const struct {
    uint8_t proto;
    uint8_t layer;
} ipproto_table[] = {
    { 1, MC_LAYER_ICMP },    { 4, MC_LAYER_IPV4 },   /* IP-in-IP */
    { 6, MC_LAYER_TCP },     { 17, MC_LAYER_UDP },   { 41, MC_LAYER_IPV6 }, /* 6in4 / IPv6-in-IP */
    { 47, MC_LAYER_GRE },    { 58, MC_LAYER_ICMPV6 }, { 132, MC_LAYER_SCTP },
    { 137, MC_LAYER_MPLS },  /* MPLS-in-IP, RFC 4023 */
};

int mc_decode_layer_for_dlt(int dlt)
{
    for (size_t i = 0; i < sizeof(dlt_table) / sizeof(dlt_table[0]); i++)
        if (dlt_table[i].dlt == dlt)
            return dlt_table[i].layer;
    return -1;
}

int mc_decode_layer_for_ethertype(uint16_t ethertype)
{
    for (size_t i = 0; i < sizeof(ethertype_table) / sizeof(ethertype_table[0]); i++) {
        if (ethertype_table[i].type != ethertype)
            continue;
        if (ethertype_table[i].layer == MC_LAYER_NON_IP)
            mc_decode_ctr[ethertype_table[i].ctr]++;
        return ethertype_table[i].layer;
    }
    DCTR(nonip_other_ethertype);
    return MC_LAYER_NON_IP;
}

int mc_decode_layer_for_ipproto(uint8_t proto)
{
    for (size_t i = 0; i < sizeof(ipproto_table) / sizeof(ipproto_table[0]); i++)
        if (ipproto_table[i].proto == proto)
            return ipproto_table[i].layer;
    DCTR(ip_other_proto);
    return MC_LAYER_DONE;
}

void mc_decode_ip_enter(struct mc_pkt *pkt)
{
    if (pkt->ip_ver == 0)
        return;
    pkt->outer_ver = pkt->ip_ver;
    pkt->outer_src = pkt->src;
    pkt->outer_dst = pkt->dst;
    pkt->tunnel = pkt->pending_tunnel != MC_TUNNEL_NONE ? pkt->pending_tunnel : MC_TUNNEL_IPIP;
    pkt->tunnel_id = pkt->pending_tunnel_id;
    if (pkt->tunnel_depth < UINT8_MAX)
        pkt->tunnel_depth++;
    pkt->pending_tunnel = MC_TUNNEL_NONE;
    pkt->pending_tunnel_id = 0;
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
    pkt->icmp_type = pkt->icmp_code = 0;
    pkt->has_l4 = 0;
    pkt->payload = NULL;
    pkt->payload_len = 0;
}

int mc_decode_run(struct mc_pkt *pkt, int layer, struct mc_cur *c)
{
    while (layer > MC_LAYER_DONE && layer < MC_LAYER_NON_IP) {
        if (pkt->depth >= MC_DECODE_MAX_DEPTH) {
            DCTR(depth_exceeded);
            return MC_DECODE_ERR;
        }
        pkt->depth++;
        layer = decoders[layer](pkt, c);
    }
    return layer;
}

int mc_decode_packet(struct mc_pkt *pkt, const uint8_t *data, size_t caplen)
{
    /* keep what the caller set, reset everything the decoders fill */
    uint64_t ts_ms = pkt->ts_ms;
    uint16_t ts_us = pkt->ts_us;
    uint32_t cap = pkt->caplen, wire = pkt->wirelen, ifindex = pkt->ifindex;
    int linktype = pkt->linktype;
    struct mc_reasm *reasm = pkt->reasm;
    memset(pkt, 0, sizeof(*pkt));
    pkt->reasm = reasm;
    pkt->ts_ms = ts_ms;
    pkt->ts_us = ts_us;
    pkt->caplen = cap;
    pkt->wirelen = wire;
    pkt->linktype = linktype;
    pkt->ifindex = ifindex;

    int layer = mc_decode_layer_for_dlt(linktype);
    if (layer < 0) {
        DCTR(unsupported_dlt);
        DCTR(bad_frames);
        return MC_DECODED_BAD;
    }

    struct mc_cur c = mc_cur_make(data, caplen);
    layer = mc_decode_run(pkt, layer, &c);

    /* one committed IP header is enough: the frame is metered on it */
    if (pkt->ip_ver != 0) {
        DCTR(ip_frames);
        return MC_DECODED_IP;
    }
    if (layer < 0 || layer >= MC_LAYER_COUNT) {
        DCTR(bad_frames);
        return MC_DECODED_BAD;
    }
    /* MC_LAYER_NON_IP (counted by name where it was found) or DONE without IP */
    DCTR(nonip_frames);
    return MC_DECODED_NON_IP;
}
