/*
 * fields.c - the information element table and the getters that read each
 * element's value from a flow (see fields.h for the contract).
 *
 * Names are the exact IANA spellings (https://www.iana.org/assignments/ipfix);
 * reverse elements follow RFC 5103 section 6.1 ("reverse" + the name with
 * its first letter capitalised, same id under PEN 29305).  Our own tunnel
 * elements live under PEN 32473, the RFC 5612 documentation number, ids:
 *     1 tunnelType                    unsigned8  enum mc_tunnel_type
 *     2 tunnelId                      unsigned32 GRE key, GTP-U TEID, VXLAN VNI
 *     3 tunnelSourceIPv4Address       ipv4Address  outer source (client side)
 *     4 tunnelDestinationIPv4Address  ipv4Address  outer destination
 *     5 tunnelSourceIPv6Address       ipv6Address
 *     6 tunnelDestinationIPv6Address  ipv6Address
 * The tunnel address elements follow the OUTER IP version, which is
 * independent of the flow's: they are not swapped between the IPv4 and IPv6
 * templates, and read as zero when the outer header has the other version.
 */
#include "export/fields.h"
#include "l7/l7.h"

#include <string.h>

static const uint8_t zero_addr[16];

/* ---- getters ---------------------------------------------------------- */

static void get_src_addr(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->addr = env->f->key.addr[env->dir].b;
}

static void get_dst_addr(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->addr = env->f->key.addr[!env->dir].b;
}

static void get_zero_addr(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    (void)env;
    v->addr = zero_addr;
}

static void get_zero(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    (void)env;
    v->u = 0;
}

static void get_src_port(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.port[env->dir];
}

static void get_dst_port(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.port[!env->dir];
}

static void get_proto(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.proto;
}

static void get_octets(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->octets[env->dir];
}

static void get_rev_octets(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->octets[!env->dir];
}

static void get_pkts(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->pkts[env->dir];
}

static void get_rev_pkts(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->pkts[!env->dir];
}

static void get_tcp_flags(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->tcp_flags[env->dir];
}

static void get_rev_tcp_flags(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->tcp_flags[!env->dir];
}

static void get_tos(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->tos[env->dir];
}

static void get_rev_tos(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->tos[!env->dir];
}

/*
 * The direction whose times a record carries: its own; in a biflow record
 * the forward one unless the forward direction saw no packet (then its
 * first/last are meaningless and the reverse's are the flow's).
 */
static int time_dir(const struct mc_ie_env *env)
{
    int d = env->dir;
    if (env->biflow && env->f->pkts[d] == 0 && env->f->pkts[!d] != 0)
        d = !d;
    return d;
}

static void get_start_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = mc_flow_start_ms(env->f, time_dir(env));
}

static void get_end_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = mc_flow_end_ms(env->f, time_dir(env));
}

/* Reverse times of a direction with no packet are 0 (RFC 5103 leaves them undefined). */
static void get_rev_start_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->pkts[!env->dir] ? mc_flow_start_ms(env->f, !env->dir) : 0;
}

static void get_rev_end_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->pkts[!env->dir] ? mc_flow_end_ms(env->f, !env->dir) : 0;
}

/* sysUpTime-relative ms; a flow older than the exporter's boot reads 0. */
static uint64_t uptime(const struct mc_ie_env *env, uint64_t ms)
{
    return ms > env->boot_ms ? (ms - env->boot_ms) & 0xffffffffu : 0;
}

static void get_start_uptime(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = uptime(env, mc_flow_start_ms(env->f, time_dir(env)));
}

static void get_end_uptime(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = uptime(env, mc_flow_end_ms(env->f, time_dir(env)));
}

static void get_vlan(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.vlan[0];
}

static void get_inner_vlan(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.vlan[1];
}

/* ICMP type and code as type * 256 + code; 0 for other protocols. */
static void get_icmp(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    uint8_t p = env->f->key.proto;
    v->u = (p == 1 || p == 58) ? ((uint64_t)env->f->icmp_type << 8 | env->f->icmp_code) : 0;
}

static void get_ingress(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->ingress_if;
}

static void get_egress(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->egress_if;
}

static void get_end_reason(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->end_reason;
}

static void get_ip_version(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.ip_ver;
}

/*
 * Label stack entry (RFC 3032): label(20) TC(3) S(1).  Only the label is
 * known; TC and S are left 0.
 */
static void get_mpls_top(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->ext ? ((uint64_t)(env->f->ext->mpls_top & 0xfffffu) << 4) : 0;
}

/* IANA layer2SegmentId: type octet (0x01 = VXLAN) then the 56-bit segment id. */
static void get_l2_segment(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.tunnel == MC_TUNNEL_VXLAN ? (0x01ull << 56 | (env->f->key.tunnel_id & 0xffffffu))
                                                  : 0;
}

static void get_user(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct mc_flow_ext *x = env->f->ext;
    const struct mc_flow_identity *id = x ? x->id : NULL;
    v->str = id ? id->user : "";
    v->str_len = id ? strnlen(id->user, sizeof(id->user)) : 0;
}

static void get_imsi(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct mc_flow_ext *x = env->f->ext;
    const struct mc_flow_identity *id = x ? x->id : NULL;
    v->str = id ? id->imsi : "";
    v->str_len = id ? strnlen(id->imsi, sizeof(id->imsi)) : 0;
}

static void get_msisdn(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct mc_flow_ext *x = env->f->ext;
    const struct mc_flow_identity *id = x ? x->id : NULL;
    v->str = id ? id->msisdn : "";
    v->str_len = id ? strnlen(id->msisdn, sizeof(id->msisdn)) : 0;
}

static void get_tunnel_type(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    v->u = env->f->key.tunnel;
}

static void get_tunnel_id(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    /* GTP-U: not in the key (each way has its own TEID): the record's direction's */
    const struct mc_flow_ext *x = env->f->ext;
    int d = env->dir == MC_FLOW_REV;
    v->u = env->f->key.tunnel == MC_TUNNEL_GTPU && x ? x->tunnel_ids[d] : env->f->key.tunnel_id;
}

/* Outer endpoints of the tunnel as seen from the record's source side. */
static const uint8_t *outer(const struct mc_ie_env *env, int src, int ver)
{
    const struct mc_flow_ext *x = env->f->ext;
    if (!x || x->outer_ver != ver)
        return zero_addr;
    int client = (env->dir == MC_FLOW_FWD) == (src != 0);
    return client ? x->outer_src.b : x->outer_dst.b;
}

static void get_tun_src4(const struct mc_ie_env *env, struct mc_ie_val *v) { v->addr = outer(env, 1, 4); }
static void get_tun_dst4(const struct mc_ie_env *env, struct mc_ie_val *v) { v->addr = outer(env, 0, 4); }
static void get_tun_src6(const struct mc_ie_env *env, struct mc_ie_val *v) { v->addr = outer(env, 1, 6); }
static void get_tun_dst6(const struct mc_ie_env *env, struct mc_ie_val *v) { v->addr = outer(env, 0, 6); }

/* ---- the table -------------------------------------------------------- */

#define U MC_IE_T_UNSIGNED
#define R (MC_IE_F_REVERSE | MC_IE_F_NOV9)

const struct mc_ie mc_export_ies[] = {
    { "octetDeltaCount", 1, 0, 8, 8, U, 0, NULL, get_octets, "IP octets, this direction", 0 },
    { "packetDeltaCount", 2, 0, 8, 8, U, 0, NULL, get_pkts, "packets, this direction", 0 },
    { "protocolIdentifier", 4, 0, 1, 1, U, 0, NULL, get_proto, "IP protocol", 0 },
    { "ipClassOfService", 5, 0, 1, 1, U, 0, NULL, get_tos, "ToS / traffic class of the first packet", 0 },
    { "tcpControlBits", 6, 0, 2, 1, U, 0, NULL, get_tcp_flags, "OR of TCP flags (1 byte in v9)", 0 },
    { "sourceTransportPort", 7, 0, 2, 2, U, 0, NULL, get_src_port, "source port", 0 },
    { "sourceIPv4Address", 8, 0, 4, 4, MC_IE_T_IPV4, MC_IE_F_V4, "sourceIPv6Address", get_src_addr,
      "source address (IPv4 template)", 0 },
    { "sourceIPv4PrefixLength", 9, 0, 1, 1, U, 0, NULL, get_zero, "always 0 (v5 src_mask)", 0 },
    { "ingressInterface", 10, 0, 4, 4, U, 0, NULL, get_ingress, "configured input interface", 0 },
    { "destinationTransportPort", 11, 0, 2, 2, U, 0, NULL, get_dst_port, "destination port", 0 },
    { "destinationIPv4Address", 12, 0, 4, 4, MC_IE_T_IPV4, MC_IE_F_V4, "destinationIPv6Address",
      get_dst_addr, "destination address (IPv4 template)", 0 },
    { "destinationIPv4PrefixLength", 13, 0, 1, 1, U, 0, NULL, get_zero, "always 0 (v5 dst_mask)", 0 },
    { "egressInterface", 14, 0, 4, 4, U, 0, NULL, get_egress, "configured output interface", 0 },
    { "ipNextHopIPv4Address", 15, 0, 4, 4, MC_IE_T_IPV4, 0, NULL, get_zero_addr,
      "always 0.0.0.0 (v5 nexthop)", 0 },
    { "bgpSourceAsNumber", 16, 0, 4, 4, U, 0, NULL, get_zero, "always 0 (v5 src_as)", 0 },
    { "bgpDestinationAsNumber", 17, 0, 4, 4, U, 0, NULL, get_zero, "always 0 (v5 dst_as)", 0 },
    { "flowEndSysUpTime", 21, 0, 4, 4, MC_IE_T_UPTIME, MC_IE_F_V9ONLY, "flowEndMilliseconds",
      get_end_uptime, "v9 LAST_SWITCHED: ms since exporter boot", 0 },
    { "flowStartSysUpTime", 22, 0, 4, 4, MC_IE_T_UPTIME, MC_IE_F_V9ONLY, "flowStartMilliseconds",
      get_start_uptime, "v9 FIRST_SWITCHED: ms since exporter boot", 0 },
    { "sourceIPv6Address", 27, 0, 16, 16, MC_IE_T_IPV6, MC_IE_F_V6, "sourceIPv4Address", get_src_addr,
      "source address (IPv6 template)", 0 },
    { "destinationIPv6Address", 28, 0, 16, 16, MC_IE_T_IPV6, MC_IE_F_V6, "destinationIPv4Address",
      get_dst_addr, "destination address (IPv6 template)", 0 },
    { "icmpTypeCodeIPv4", 32, 0, 2, 2, U, MC_IE_F_V4, "icmpTypeCodeIPv6", get_icmp,
      "ICMP type*256+code (IPv4 template)", 0 },
    { "vlanId", 58, 0, 2, 2, U, 0, NULL, get_vlan, "outer 802.1Q VLAN id", 0 },
    { "ipVersion", 60, 0, 1, 1, U, 0, NULL, get_ip_version, "4 or 6", 0 },
    { "mplsTopLabelStackSection", 70, 0, 3, 3, U, 0, NULL, get_mpls_top, "top MPLS label << 4", 0 },
    { "flowEndReason", 136, 0, 1, 1, U, 0, NULL, get_end_reason, "1 idle 2 active 3 end 4 forced 5 resources", 0 },
    { "icmpTypeCodeIPv6", 139, 0, 2, 2, U, MC_IE_F_V6, "icmpTypeCodeIPv4", get_icmp,
      "ICMPv6 type*256+code (IPv6 template)", 0 },
    { "flowStartMilliseconds", 152, 0, 8, 0, MC_IE_T_MS, MC_IE_F_NOV9, "flowStartSysUpTime", get_start_ms,
      "first packet, epoch ms (v9: flowStartSysUpTime)", 0 },
    { "flowEndMilliseconds", 153, 0, 8, 0, MC_IE_T_MS, MC_IE_F_NOV9, "flowEndSysUpTime", get_end_ms,
      "last packet, epoch ms (v9: flowEndSysUpTime)", 0 },
    { "dot1qCustomerVlanId", 245, 0, 2, 2, U, 0, NULL, get_inner_vlan, "inner 802.1Q VLAN id", 0 },
    { "layer2SegmentId", 351, 0, 8, 8, U, 0, NULL, get_l2_segment, "0x01 << 56 | VXLAN VNI, else 0", 0 },
    { "userName", 371, 0, MC_IE_VARLEN, 64, MC_IE_T_STRING, 0, NULL, get_user,
      "user learned for the flow, empty when unknown (v9: 64 bytes)", 0 },
    { "mobileIMSI", 455, 0, MC_IE_VARLEN, 16, MC_IE_T_STRING, 0, NULL, get_imsi,
      "IMSI of the flow's subscriber (the cloud user's imsi), empty when none (v9: 16 bytes)", 0 },
    { "mobileMSISDN", 456, 0, MC_IE_VARLEN, 16, MC_IE_T_STRING, 0, NULL, get_msisdn,
      "MSISDN of the flow's subscriber (the cloud user's msisdn), empty when none (v9: 16 bytes)", 0 },
    /* RFC 5103 reverse elements: biflow IPFIX only */
    { "reverseOctetDeltaCount", 1, MC_PEN_REVERSE, 8, 0, U, R, NULL, get_rev_octets, "IP octets, reverse", 0 },
    { "reversePacketDeltaCount", 2, MC_PEN_REVERSE, 8, 0, U, R, NULL, get_rev_pkts, "packets, reverse", 0 },
    { "reverseIpClassOfService", 5, MC_PEN_REVERSE, 1, 0, U, R, NULL, get_rev_tos, "ToS, reverse", 0 },
    { "reverseTcpControlBits", 6, MC_PEN_REVERSE, 2, 0, U, R, NULL, get_rev_tcp_flags, "TCP flags, reverse", 0 },
    { "reverseFlowStartMilliseconds", 152, MC_PEN_REVERSE, 8, 0, MC_IE_T_MS, R, NULL, get_rev_start_ms,
      "first reverse packet, epoch ms (0: none)", 0 },
    { "reverseFlowEndMilliseconds", 153, MC_PEN_REVERSE, 8, 0, MC_IE_T_MS, R, NULL, get_rev_end_ms,
      "last reverse packet, epoch ms (0: none)", 0 },
    /* ours, PEN 32473 (IPFIX only: v9 has no enterprise elements) */
    { "tunnelType", 1, MC_PEN_MC, 1, 0, U, MC_IE_F_NOV9, NULL, get_tunnel_type,
      "0 none 1 GRE 2 GTP-U 3 VXLAN 4 IP-in-IP 5 ERSPAN 6 PPPoE", 0 },
    { "tunnelId", 2, MC_PEN_MC, 4, 0, U, MC_IE_F_NOV9, NULL, get_tunnel_id, "GRE key, TEID, VNI", 0 },
    { "tunnelSourceIPv4Address", 3, MC_PEN_MC, 4, 0, MC_IE_T_IPV4, MC_IE_F_NOV9, NULL, get_tun_src4,
      "outer source, IPv4 outer header", 0 },
    { "tunnelDestinationIPv4Address", 4, MC_PEN_MC, 4, 0, MC_IE_T_IPV4, MC_IE_F_NOV9, NULL, get_tun_dst4,
      "outer destination, IPv4 outer header", 0 },
    { "tunnelSourceIPv6Address", 5, MC_PEN_MC, 16, 0, MC_IE_T_IPV6, MC_IE_F_NOV9, NULL, get_tun_src6,
      "outer source, IPv6 outer header", 0 },
    { "tunnelDestinationIPv6Address", 6, MC_PEN_MC, 16, 0, MC_IE_T_IPV6, MC_IE_F_NOV9, NULL, get_tun_dst6,
      "outer destination, IPv6 outer header", 0 },
};

#undef U
#undef R

const size_t mc_export_n_ies = sizeof(mc_export_ies) / sizeof(mc_export_ies[0]);

size_t mc_export_n_all(void) { return mc_export_n_ies + mc_l7_n_ies(); }

const struct mc_ie *mc_export_ie_at(size_t i)
{
    return i < mc_export_n_ies ? &mc_export_ies[i] : mc_l7_ie(i - mc_export_n_ies);
}

const struct mc_ie *mc_export_ie_find(const char *name, size_t len)
{
    for (size_t i = 0, n = mc_export_n_all(); i < n; i++) {
        const struct mc_ie *ie = mc_export_ie_at(i);
        if (strlen(ie->name) == len && memcmp(ie->name, name, len) == 0)
            return ie;
    }
    return NULL;
}

const struct mc_ie *mc_export_ie_find_id(uint32_t pen, uint16_t id)
{
    for (size_t i = 0, n = mc_export_n_all(); i < n; i++) {
        const struct mc_ie *ie = mc_export_ie_at(i);
        if (ie->id == id && ie->pen == pen)
            return ie;
    }
    return NULL;
}

void mc_export_ie_value(const struct mc_ie *ie, const struct mc_ie_env *env, struct mc_ie_val *out)
{
    memset(out, 0, sizeof(*out));
    ie->get(env, out);
    /* a string never exceeds its element's maximum: records are sized by it */
    if (ie->type == MC_IE_T_STRING && out->str_len > mc_ie_max_len(ie))
        out->str_len = mc_ie_max_len(ie);
}

size_t mc_export_ie_size(const struct mc_ie *ie, uint16_t len, const struct mc_ie_env *env)
{
    if (len != MC_IE_VARLEN)
        return len;
    struct mc_ie_val v;
    mc_export_ie_value(ie, env, &v);
    return v.str_len < 255 ? 1 + v.str_len : 3 + v.str_len;
}

size_t mc_export_ie_encode(const struct mc_ie *ie, uint16_t len, const struct mc_ie_env *env,
                           uint8_t *out)
{
    struct mc_ie_val v;
    mc_export_ie_value(ie, env, &v);
    switch (ie->type) {
    case MC_IE_T_IPV4:
        memcpy(out, v.addr, 4);
        return 4;
    case MC_IE_T_IPV6:
        memcpy(out, v.addr, 16);
        return 16;
    case MC_IE_T_STRING:
        if (len == MC_IE_VARLEN) {
            /* RFC 7011 7: one length octet, or 255 and a two-octet length */
            size_t h = 1;
            if (v.str_len < 255) {
                out[0] = (uint8_t)v.str_len;
            } else {
                out[0] = 255;
                out[1] = (uint8_t)(v.str_len >> 8);
                out[2] = (uint8_t)v.str_len;
                h = 3;
            }
            memcpy(out + h, v.str, v.str_len);
            return h + v.str_len;
        } else {
            size_t n = v.str_len < len ? v.str_len : len;
            memcpy(out, v.str, n);
            memset(out + n, 0, len - n);
            return len;
        }
    default:
        /* unsigned, times, float64 bits: big-endian; a counter wider than the field is clamped (v5) */
        if (len < 8 && v.u >> (8 * len))
            v.u = (1ull << (8 * len)) - 1;
        switch (len) { /* the common widths without a byte loop: this runs per field per record */
        case 1:
            out[0] = (uint8_t)v.u;
            return 1;
        case 2:
            out[0] = (uint8_t)(v.u >> 8), out[1] = (uint8_t)v.u;
            return 2;
        case 4: /* byte stores the compiler merges into one swapped store, on any host */
            out[0] = (uint8_t)(v.u >> 24), out[1] = (uint8_t)(v.u >> 16);
            out[2] = (uint8_t)(v.u >> 8), out[3] = (uint8_t)v.u;
            return 4;
        case 8:
            for (int i = 0; i < 8; i++)
                out[i] = (uint8_t)(v.u >> (56 - 8 * i));
            return 8;
        default:
            for (uint16_t i = 0; i < len; i++)
                out[i] = (uint8_t)(v.u >> (8 * (len - 1 - i)));
            return len;
        }
    }
}
