/*
 * sflow.c - sFlow version 5 datagram decoder (sflow.org, "sFlow Version 5",
 * sflow_version_5.txt; XDR encoding, every field a big-endian 32-bit word
 * or a multiple of one): flow samples become flow records of IANA elements,
 * generic interface counters become options records.
 *
 *  datagram: version(4)=5 agent_address_type(4) agent_address(4|16)
 *            sub_agent_id(4) sequence_number(4) uptime(4) num_samples(4)
 *            samples...
 *  sample / record: data_format(4) = enterprise(20 bits) << 12 | format(12)
 *            length(4) then length bytes ("opaque <>", padded to 4)
 *  flow_sample (0:1): sequence_number source_id sampling_rate sample_pool
 *            drops input output num_records records...  (32 bytes + records)
 *  expanded flow_sample (0:3): sequence_number source_id_type source_id_index
 *            sampling_rate sample_pool drops input_format input_value
 *            output_format output_value num_records records... (44 + records)
 *  counters_sample (0:2): sequence_number source_id num_records records...
 *  expanded counters_sample (0:4): sequence_number source_id_type
 *            source_id_index num_records records...
 *  sampled_header (flow record 0:1): header_protocol frame_length stripped
 *            header_length header bytes (padded to 4)
 *  sampled_ipv4 (0:3): length protocol src dst src_port dst_port tcp_flags tos
 *  sampled_ipv6 (0:4): length protocol src(16) dst(16) src_port dst_port
 *            tcp_flags priority
 *  if_counters (counter record 0:1): 88 bytes, see if_wire[] below.
 *
 * "interface" (compact samples): the top 2 bits are the format, "0 =
 * ifIndex, 1 = packet discarded, 2 = multiple destination interfaces", the
 * low 30 bits its value; expanded samples carry format and value as two
 * words.  Only format 0 names an interface; the others give interface 0.
 *
 * One flow sample is one record: the sampled packet's header goes through
 * the probe's own decoder (mc_decode_packet, tunnels included), so the key
 * is the innermost IP header's, as mcprobe meters it.  The counts are the
 * one sampled packet, unscaled, with samplingInterval (34) = sampling_rate:
 * the same shape as v5 records, and what collector/flow.c scales (it
 * multiplies packets and octets by samplingInterval; scaled counts here
 * would be scaled twice).  sFlow carries no flow times: flowStart/End
 * Milliseconds are the datagram's arrival.  The agent address and
 * sub_agent_id name the stream (version 20, the address with port 0); the
 * address is also each record's exporterIPv4Address / exporterIPv6Address
 * (130 / 131), since record.exporter is the UDP sender (a relay may send
 * for several agents).
 */
#include "collector/templates.h"

#include <string.h>

#include "decode/decode.h"
#include "flow/ie.h"

#define SFLOW_VERSION 20 /* record.version of sFlow: v5 datagrams, apart from NetFlow's 5 */
#define MIN_ITEM 8       /* a sample or record: data_format and length */
#define IF_COUNTERS_LEN 88
#define FLOW_FIELDS 24 /* more than a flow record carries (21) or an interface record (20) */

#define CTR(id) MC_CTR_INC(collector, id)

/* The generic interface counters (if_counters): element, offset, length. */
static const struct {
    uint32_t pen;
    uint16_t id;
    uint8_t off, len;
} if_wire[] = {
    { 0, 10, 0, 4 },           /* ifIndex: ingressInterface, the record's scope */
    { MC_PEN_MC, 290, 4, 4 },  /* ifType */
    { MC_PEN_MC, 291, 8, 8 },  /* ifSpeed */
    { MC_PEN_MC, 292, 16, 4 }, /* ifDirection */
    { MC_PEN_MC, 293, 20, 4 }, /* ifStatus */
    { MC_PEN_MC, 294, 24, 8 }, /* ifInOctets */
    { MC_PEN_MC, 295, 32, 4 }, /* ifInUcastPkts */
    { MC_PEN_MC, 296, 36, 4 }, /* ifInMulticastPkts */
    { MC_PEN_MC, 297, 40, 4 }, /* ifInBroadcastPkts */
    { MC_PEN_MC, 298, 44, 4 }, /* ifInDiscards */
    { MC_PEN_MC, 299, 48, 4 }, /* ifInErrors */
    { MC_PEN_MC, 300, 52, 4 }, /* ifInUnknownProtos */
    { MC_PEN_MC, 301, 56, 8 }, /* ifOutOctets */
    { MC_PEN_MC, 302, 64, 4 }, /* ifOutUcastPkts */
    { MC_PEN_MC, 303, 68, 4 }, /* ifOutMulticastPkts */
    { MC_PEN_MC, 304, 72, 4 }, /* ifOutBroadcastPkts */
    { MC_PEN_MC, 305, 76, 4 }, /* ifOutDiscards */
    { MC_PEN_MC, 306, 80, 4 }, /* ifOutErrors */
    { MC_PEN_MC, 307, 84, 4 }, /* ifPromiscuousMode */
};
#define N_IF_WIRE (sizeof(if_wire) / sizeof(if_wire[0]))

/* sampled_header header_protocol -> the pcap link type mc_decode_packet starts from. */
static int dlt_for_header_protocol(uint32_t proto)
{
    switch (proto) {
    case 1: return 1;    /* ETHERNET-ISO88023: DLT_EN10MB */
    case 7:              /* PPP */
    case 14: return 9;   /* POS (PPP over SONET/SDH): DLT_PPP, with or without ff 03 */
    case 11: return 228; /* IPv4: DLT_IPV4 */
    case 12: return 229; /* IPv6: DLT_IPV6 */
    default: return -1;  /* token ring, FDDI, frame relay, X.25, SMDS, AAL5, MPLS, 802.11: not decoded */
    }
}

/* What one datagram's header says, shared by its samples. */
struct dgram {
    struct mc_coll_msg m;          /* m.src: the agent address, port 0 (the stream's key) */
    const struct mc_coll_src *udp; /* the sender: record.exporter */
    struct mc_coll_stream *st;
    const uint8_t *agent;          /* the agent address as sent (4 or 16 bytes) */
    int records;
};

/* The fields of the record being built, and the bytes of the values computed here. */
struct rec {
    size_t n, vn;
    struct mc_coll_field f[FLOW_FIELDS];
    uint8_t v[128];
};

static void add_raw(struct rec *r, uint32_t pen, uint16_t id, const uint8_t *value, uint16_t len)
{
    if (r->n < FLOW_FIELDS)
        r->f[r->n++] = (struct mc_coll_field){ pen, id, len, value };
}

/* A computed value: written big-endian into r->v, len bytes (at most 8). */
static void add_u(struct rec *r, uint32_t pen, uint16_t id, uint64_t v, uint16_t len)
{
    if (r->vn + len > sizeof(r->v) || r->n == FLOW_FIELDS)
        return; /* sized for the fields below: cannot happen */
    uint8_t *o = r->v + r->vn;
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        o[i] = (uint8_t)v;
    r->vn += len;
    add_raw(r, pen, id, o, len);
}

static void add_agent(struct rec *r, const struct dgram *d)
{
    if (d->m.src.ver == 4)
        add_raw(r, 0, 130, d->agent, 4); /* exporterIPv4Address */
    else
        add_raw(r, 0, 131, d->agent, 16); /* exporterIPv6Address */
}

static void emit(struct mc_coll *c, struct dgram *d, const struct rec *r, int options)
{
    struct mc_coll_record out = {
        .exporter = d->udp, .version = SFLOW_VERSION, .domain = d->m.domain, .options = (uint8_t)options,
        .scope_count = (uint16_t)(options ? 1 : 0), .export_secs = d->m.export_secs,
        .sys_uptime = d->m.sys_uptime, .seq = d->m.seq, .lost = d->st->lost, .n = r->n, .f = r->f,
    };
    mc_coll_emit(c, &out);
    d->records++;
}

/*
 * Cuts the next sample or record (data_format, length, then length bytes)
 * out of parent into *item, skipping the XDR padding after it.  Returns 0,
 * or -1 when the length runs past parent (nothing after it can be framed).
 */
static int next_item(struct mc_cur *parent, uint32_t *format, struct mc_cur *item)
{
    *format = mc_cur_be32(parent);
    uint32_t len = mc_cur_be32(parent);
    if (!mc_cur_ok(parent) || len > mc_cur_left(parent))
        return -1;
    *item = mc_cur_sub(parent, len);
    size_t pad = (4 - (len & 3)) & 3;
    mc_cur_skip(parent, pad < mc_cur_left(parent) ? pad : mc_cur_left(parent));
    return 0;
}

/*
 * A count of items, each at least MIN_ITEM bytes: capped by the bytes left
 * (a count that says more is counted), so a walk ends within the bytes.
 */
static uint32_t cap_count(uint32_t count, const struct mc_cur *c, int *lied)
{
    size_t most = mc_cur_left(c) / MIN_ITEM;
    *lied = count > most;
    if (*lied) {
        CTR(sflow_bad_count);
        return (uint32_t)most;
    }
    return count;
}

/*
 * Before the next of a count's items: 1 to go on, 0 when no byte is left
 * (the count said more than there is: counted once, here or by cap_count).
 */
static int more_items(const struct mc_cur *c, int *lied)
{
    if (mc_cur_left(c))
        return 1;
    if (!*lied)
        CTR(sflow_bad_count);
    *lied = 1;
    return 0;
}

/* An interface word of a compact sample: format 0 gives its ifIndex, the others interface 0. */
static uint32_t compact_if(uint32_t v) { return v >> 30 == 0 ? v & 0x3fffffffu : 0; }

/* What the sample's packet record (a header, or a sampled_ipv4/ipv6) says about the packet. */
struct pkt_info {
    int have;          /* 1: a packet record was read (the first one counts) */
    int ip;            /* 1: src/dst/ports/proto/tos/flags hold an IP packet */
    struct mc_pkt pkt; /* the decoded header, or the sampled_ipv4/ipv6 values in its fields */
    uint64_t octets;
};

/* sampled_header: the header through the probe's decoder; frame_length counts when it is not IP. */
static void read_header(struct mc_cur *rc, struct pkt_info *pi, uint64_t now_ms)
{
    uint32_t proto = mc_cur_be32(rc);
    uint32_t frame_length = mc_cur_be32(rc);
    mc_cur_skip(rc, 4); /* stripped: frame_length already counts the whole frame */
    uint32_t hlen = mc_cur_be32(rc);
    if (!mc_cur_ok(rc) || hlen > mc_cur_left(rc)) {
        CTR(sflow_records_truncated);
        return;
    }
    pi->have = 1;
    pi->octets = frame_length;
    int dlt = dlt_for_header_protocol(proto);
    memset(&pi->pkt, 0, sizeof(pi->pkt));
    pi->pkt.ts_ms = now_ms;
    pi->pkt.caplen = hlen;
    pi->pkt.wirelen = frame_length;
    pi->pkt.linktype = dlt;
    if (dlt < 0 || mc_decode_packet(&pi->pkt, mc_cur_ptr(rc), hlen) != MC_DECODED_IP) {
        CTR(sflow_headers_undecodable);
        return;
    }
    pi->ip = 1;
    /*
     * Octets: the IP length (header + payload) of the innermost IP header,
     * as mcprobe meters a packet and as IPFIX's octetDeltaCount counts, not
     * frame_length, which adds the link layer, the tunnel headers and the
     * FCS.  The IP header's total length is known even when the header was
     * cut at header_length.
     */
    pi->octets = pi->pkt.ip_len;
}

/* sampled_ipv4 (v6 0) / sampled_ipv6 (v6 1): the agent's own parse of the packet. */
static void read_sampled_ip(struct mc_cur *rc, struct pkt_info *pi, int v6)
{
    struct mc_pkt *p = &pi->pkt;
    struct mc_pkt k;
    memset(&k, 0, sizeof(k));
    uint32_t length = mc_cur_be32(rc);
    k.proto = (uint8_t)mc_cur_be32(rc);
    mc_cur_bytes(rc, k.src.b, v6 ? 16 : 4);
    mc_cur_bytes(rc, k.dst.b, v6 ? 16 : 4);
    k.sport = (uint16_t)mc_cur_be32(rc);
    k.dport = (uint16_t)mc_cur_be32(rc);
    k.tcp_flags = (uint8_t)mc_cur_be32(rc);
    k.tos = (uint8_t)mc_cur_be32(rc); /* IPv4 ToS; IPv6 "priority" */
    if (!mc_cur_ok(rc)) {
        CTR(sflow_records_truncated);
        return;
    }
    k.ip_ver = v6 ? 6 : 4;
    *p = k;
    pi->have = pi->ip = 1;
    pi->octets = length; /* "length of the IP packet excluding lower layer encapsulations" */
}

/* A flow sample (compact or expanded): one record for its packet. */
static void flow_sample(struct mc_coll *c, struct dgram *d, struct mc_cur *s, int expanded)
{
    uint32_t in, out;
    mc_cur_skip(s, 4); /* sample sequence_number: the datagram's is the one tracked */
    mc_cur_skip(s, expanded ? 8 : 4); /* source_id */
    uint32_t rate = mc_cur_be32(s);
    mc_cur_skip(s, 8); /* sample_pool, drops */
    if (expanded) {
        uint32_t in_fmt = mc_cur_be32(s), in_val = mc_cur_be32(s);
        uint32_t out_fmt = mc_cur_be32(s), out_val = mc_cur_be32(s);
        in = in_fmt == 0 ? in_val : 0;
        out = out_fmt == 0 ? out_val : 0;
    } else {
        in = compact_if(mc_cur_be32(s));
        out = compact_if(mc_cur_be32(s));
    }
    uint32_t nrec = mc_cur_be32(s);
    if (!mc_cur_ok(s)) {
        CTR(sflow_samples_truncated);
        return;
    }
    CTR(sflow_samples_flow);
    int lied;
    nrec = cap_count(nrec, s, &lied);
    struct pkt_info pi;
    pi.have = pi.ip = 0;
    pi.octets = 0;
    for (uint32_t i = 0; i < nrec && more_items(s, &lied); i++) {
        uint32_t format;
        struct mc_cur rc;
        if (next_item(s, &format, &rc) < 0) {
            CTR(sflow_records_truncated);
            break; /* a length past the sample: the rest cannot be framed */
        }
        /* enterprise records, extended ones (switch, router, gateway, user, url...), a second packet */
        if (format >> 12 != 0 || (format != 1 && format != 3 && format != 4) || pi.have) {
            CTR(sflow_records_skipped);
            continue;
        }
        if (format == 1)
            read_header(&rc, &pi, d->m.now_ms);
        else
            read_sampled_ip(&rc, &pi, format == 4);
    }

    /* a sample without a usable IP packet still counts its packet on its interfaces */
    struct rec r;
    r.n = r.vn = 0;
    add_agent(&r, d);
    const struct mc_pkt *p = &pi.pkt;
    if (pi.ip) {
        if (p->ip_ver == 4) {
            add_raw(&r, 0, 8, p->src.b, 4);  /* sourceIPv4Address */
            add_raw(&r, 0, 12, p->dst.b, 4); /* destinationIPv4Address */
        } else {
            add_raw(&r, 0, 27, p->src.b, 16); /* sourceIPv6Address */
            add_raw(&r, 0, 28, p->dst.b, 16); /* destinationIPv6Address */
        }
        add_u(&r, 0, 7, p->sport, 2);  /* sourceTransportPort */
        add_u(&r, 0, 11, p->dport, 2); /* destinationTransportPort */
        add_u(&r, 0, 4, p->proto, 1);  /* protocolIdentifier */
        add_u(&r, 0, 5, p->tos, 1);    /* ipClassOfService */
        add_u(&r, 0, 6, p->tcp_flags, 1); /* tcpControlBits */
        if (p->has_l4 && (p->proto == 1 || p->proto == 58)) /* icmpTypeCodeIPv4 / icmpTypeCodeIPv6 */
            add_u(&r, 0, p->proto == 1 ? 32 : 139, (uint32_t)p->icmp_type << 8 | p->icmp_code, 2);
        if (p->n_vlan)
            add_u(&r, 0, 58, p->vlan[0], 2); /* vlanId: the outermost tag, as mcprobe keys it */
        if (p->tunnel != MC_TUNNEL_NONE) {
            add_u(&r, MC_PEN_MC, 1, p->tunnel, 1);    /* tunnelType */
            add_u(&r, MC_PEN_MC, 2, p->tunnel_id, 4); /* tunnelId */
        }
    }
    add_u(&r, 0, 10, in, 4);          /* ingressInterface */
    add_u(&r, 0, 14, out, 4);         /* egressInterface */
    add_u(&r, 0, 2, 1, 8);            /* packetDeltaCount: the sampled packet */
    add_u(&r, 0, 1, pi.octets, 8);    /* octetDeltaCount: its octets (above) */
    add_u(&r, 0, 34, rate, 4);        /* samplingInterval: what a consumer scales by */
    add_u(&r, 0, 152, d->m.now_ms, 8); /* flowStartMilliseconds: the arrival */
    add_u(&r, 0, 153, d->m.now_ms, 8); /* flowEndMilliseconds */
    emit(c, d, &r, 0);
}

/* A counters sample (compact or expanded): one options record per generic interface counters record. */
static void counters_sample(struct mc_coll *c, struct dgram *d, struct mc_cur *s, int expanded)
{
    mc_cur_skip(s, 4);                /* sample sequence_number */
    mc_cur_skip(s, expanded ? 8 : 4); /* source_id */
    uint32_t nrec = mc_cur_be32(s);
    if (!mc_cur_ok(s)) {
        CTR(sflow_samples_truncated);
        return;
    }
    CTR(sflow_samples_counters);
    int lied;
    nrec = cap_count(nrec, s, &lied);
    for (uint32_t i = 0; i < nrec && more_items(s, &lied); i++) {
        uint32_t format;
        struct mc_cur rc;
        if (next_item(s, &format, &rc) < 0) {
            CTR(sflow_records_truncated);
            break;
        }
        if (format != 1) { /* ethernet (2), token ring, VG, VLAN, processor, host..., enterprise ones */
            CTR(sflow_records_skipped);
            continue;
        }
        const uint8_t *b = mc_cur_ptr(&rc);
        if (mc_cur_left(&rc) < IF_COUNTERS_LEN) {
            CTR(sflow_records_truncated);
            continue;
        }
        struct rec r;
        r.n = r.vn = 0;
        for (size_t k = 0; k < N_IF_WIRE; k++)
            add_raw(&r, if_wire[k].pen, if_wire[k].id, b + if_wire[k].off, if_wire[k].len);
        add_agent(&r, d);
        emit(c, d, &r, 1);
    }
}

int mc_coll_sflow(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                  uint64_t now_ms)
{
    CTR(sflow_datagrams);
    struct mc_cur cur = mc_cur_make(p, n);
    struct dgram d;
    memset(&d, 0, sizeof(d));
    d.udp = src;
    d.m.version = SFLOW_VERSION;
    d.m.now_ms = now_ms;
    uint32_t version = mc_cur_be32(&cur);
    uint32_t addr_type = mc_cur_be32(&cur);
    if (!mc_cur_ok(&cur)) {
        CTR(sflow_too_short);
        return -1;
    }
    if (version != 5) {
        CTR(sflow_bad_version);
        return -1;
    }
    if (addr_type != 1 && addr_type != 2) { /* 0 is UNKNOWN: no address, no stream to put it in */
        CTR(sflow_bad_address_type);
        return -1;
    }
    size_t alen = addr_type == 1 ? 4 : 16;
    d.agent = mc_cur_ptr(&cur);
    mc_cur_bytes(&cur, d.m.src.addr, alen);
    d.m.src.ver = addr_type == 1 ? 4 : 6;
    d.m.domain = mc_cur_be32(&cur); /* sub_agent_id */
    d.m.seq = mc_cur_be32(&cur);
    d.m.sys_uptime = mc_cur_be32(&cur);
    uint32_t nsamples = mc_cur_be32(&cur);
    if (!mc_cur_ok(&cur)) {
        CTR(sflow_too_short);
        return -1;
    }
    d.m.export_secs = (uint32_t)(now_ms / 1000); /* sFlow has no export time: the arrival */
    d.st = mc_coll_stream_get(c, &d.m);
    if (!d.st)
        return -1;
    if (mc_coll_seq_check(d.st, d.m.seq)) {
        d.st->have_seq = 1;
        d.st->next_seq = d.m.seq + 1; /* sFlow counts datagrams */
    }
    d.st->datagrams++;
    d.st->last_ms = now_ms;

    int lied;
    nsamples = cap_count(nsamples, &cur, &lied);
    for (uint32_t i = 0; i < nsamples && more_items(&cur, &lied); i++) {
        uint32_t format;
        struct mc_cur s;
        if (next_item(&cur, &format, &s) < 0) {
            CTR(sflow_samples_truncated);
            break; /* a length past the datagram: the rest cannot be framed */
        }
        switch (format) { /* enterprise 0 */
        case 1: flow_sample(c, &d, &s, 0); break;
        case 3: flow_sample(c, &d, &s, 1); break;
        case 2: counters_sample(c, &d, &s, 0); break;
        case 4: counters_sample(c, &d, &s, 1); break;
        default: CTR(sflow_samples_unknown); break; /* another type, or an enterprise's */
        }
    }
    d.st->records += (uint64_t)d.records;
    return d.records;
}
