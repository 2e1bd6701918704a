/*
 * netflow5.c - NetFlow v5 export packet decoder: a 24-byte header and up to
 * 30 fixed 48-byte IPv4 records (Cisco "NetFlow Export Datagram Format",
 * version 5), each turned into the record shape of the template dialects,
 * under the equivalent IANA elements.
 *
 *  header: version(2)=5 count(2) sys_uptime(4) unix_secs(4) unix_nsecs(4)
 *          flow_sequence(4) engine_type(1) engine_id(1) sampling_interval(2)
 *  record: srcaddr(4) dstaddr(4) nexthop(4) input(2) output(2) dPkts(4)
 *          dOctets(4) First(4) Last(4) srcport(2) dstport(2) pad1(1)
 *          tcp_flags(1) prot(1) tos(1) src_as(2) dst_as(2) src_mask(1)
 *          dst_mask(1) pad2(2)
 *
 * flow_sequence is the "sequence counter of total flows seen": the flows
 * exported before this packet.  First and Last are sysUpTime (ms since the
 * exporter booted) of the flow's first and last packet: the record carries
 * them as sent, as flowStartSysUpTime / flowEndSysUpTime (what mcprobe -V 5
 * --json writes), and mc_coll_uptime_ms places them through the header's
 * UNIX time.  sampling_interval holds the mode in its top 2 bits and the
 * interval in the low 14: the record's sampling.  The record's domain is
 * engine_type << 8 | engine_id; its fields are the wire's, in wire order.
 */
#include "collector/templates.h"

#define NF5_HDR 24
#define NF5_REC 48
#define NF5_MAX 30

/* The wire fields in record order: element id, offset, length (the pads are left out). */
static const struct {
    uint16_t id;
    uint8_t off, len;
} wire[] = {
    { 8, 0, 4 },   /* sourceIPv4Address */
    { 12, 4, 4 },  /* destinationIPv4Address */
    { 15, 8, 4 },  /* ipNextHopIPv4Address */
    { 10, 12, 2 }, /* ingressInterface */
    { 14, 14, 2 }, /* egressInterface */
    { 2, 16, 4 },  /* packetDeltaCount */
    { 1, 20, 4 },  /* octetDeltaCount */
    { 22, 24, 4 }, /* flowStartSysUpTime (First) */
    { 21, 28, 4 }, /* flowEndSysUpTime (Last) */
    { 7, 32, 2 },  /* sourceTransportPort */
    { 11, 34, 2 }, /* destinationTransportPort */
    { 6, 37, 1 },  /* tcpControlBits */
    { 4, 38, 1 },  /* protocolIdentifier */
    { 5, 39, 1 },  /* ipClassOfService */
    { 16, 40, 2 }, /* bgpSourceAsNumber */
    { 17, 42, 2 }, /* bgpDestinationAsNumber */
    { 9, 44, 1 },  /* sourceIPv4PrefixLength */
    { 13, 45, 1 }, /* destinationIPv4PrefixLength */
};
#define N_WIRE (sizeof(wire) / sizeof(wire[0]))

int mc_coll_nf5(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                uint64_t now_ms)
{
    MC_CTR_INC(collector, nf5_packets);
    struct mc_cur cur = mc_cur_make(p, n);
    struct mc_coll_msg m = { .src = *src, .version = 5, .now_ms = now_ms };
    uint16_t version = mc_cur_be16(&cur);
    uint16_t count = mc_cur_be16(&cur);
    m.sys_uptime = mc_cur_be32(&cur);
    m.export_secs = mc_cur_be32(&cur);
    m.export_nsecs = mc_cur_be32(&cur);
    m.seq = mc_cur_be32(&cur);
    uint8_t engine_type = mc_cur_u8(&cur);
    uint8_t engine_id = mc_cur_u8(&cur);
    uint16_t sampling = mc_cur_be16(&cur);
    if (!mc_cur_ok(&cur)) {
        MC_CTR_INC(collector, nf5_too_short);
        return -1;
    }
    if (version != 5) {
        MC_CTR_INC(collector, nf5_bad_version);
        return -1;
    }
    if (count == 0 || count > NF5_MAX || (size_t)count * NF5_REC > mc_cur_left(&cur)) {
        MC_CTR_INC(collector, nf5_bad_count);
        return -1;
    }
    m.domain = (uint32_t)engine_type << 8 | engine_id;
    struct mc_coll_stream *st = mc_coll_stream_get(c, &m);
    if (!st)
        return -1;
    if (mc_coll_seq_check(st, m.seq)) {
        st->have_seq = 1;
        st->next_seq = m.seq + count; /* v5 counts flows */
    }
    st->datagrams++;
    st->last_ms = now_ms;

    struct mc_coll_field f[N_WIRE];
    struct mc_coll_record r = {
        .exporter = &m.src, .version = 5, .domain = m.domain, .export_secs = m.export_secs,
        .export_nsecs = m.export_nsecs, .sys_uptime = m.sys_uptime, .seq = m.seq, .lost = st->lost,
        .sampling = sampling & 0x3fff, .n = N_WIRE, .f = f,
    };
    for (uint16_t k = 0; k < count; k++) {
        struct mc_cur rec = mc_cur_sub(&cur, NF5_REC);
        const uint8_t *b = mc_cur_ptr(&rec);
        if (!mc_cur_ok(&rec))
            break; /* cannot happen: count was checked against the datagram */
        for (size_t i = 0; i < N_WIRE; i++)
            f[i] = (struct mc_coll_field){ 0, wire[i].id, wire[i].len, b + wire[i].off };
        mc_coll_emit(c, &r);
    }
    st->records += count;
    return count;
}
