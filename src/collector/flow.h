/*
 * flow.h - one collected flow in the shape the stores keep (docs/COLLECTOR.md,
 * "Schema"): whatever the dialect (v5, v9, IPFIX, sFlow), a record becomes
 * the same fixed fields, times in epoch milliseconds, counters scaled by the
 * sampling interval, RFC 5103 reverse counters for biflows, and the L7 and
 * subscriber names a MicroCloud probe (or the cloud's enrichment) gives.
 */
#ifndef MC_COLLECTOR_FLOW_H
#define MC_COLLECTOR_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"

#define MC_COLL_NAME_MAX 64 /* app, user, call id: longer values are cut (on a UTF-8 boundary) */

struct mc_coll_flow {
    uint64_t start_ms, end_ms;  /* epoch ms; a record without times gets its arrival time for both */
    struct mc_coll_src exporter; /* who sent it (address and port) */
    uint8_t version;            /* 5, 9, 10 (IPFIX) or 20 (sFlow v5 flow sample) */
    uint32_t domain;            /* observation domain / source id / engine / sFlow agent sub-id */
    uint8_t ip_version;         /* 4 or 6; 0: the record carries no address (options, L2 only) */
    uint8_t src[16], dst[16];   /* IPv4 in bytes 0..3, the rest zero */
    uint16_t src_port, dst_port;
    uint8_t proto;
    uint8_t tcp_flags;          /* forward direction's flags (biflows: reverse ones are ORed in) */
    uint8_t tos;
    uint64_t packets, octets;         /* forward, times sampling */
    uint64_t rev_packets, rev_octets; /* RFC 5103 reverse direction; 0 for uniflows */
    uint32_t in_if, out_if;
    uint32_t src_as, dst_as;
    uint32_t sampling;                /* the interval applied: 1 unsampled */
    char app[MC_COLL_NAME_MAX];       /* applicationName (nDPI's protocol name from mcprobe), "" none */
    char user[MC_COLL_NAME_MAX];      /* userName, "" none */
    char imsi[16], msisdn[16];        /* mobileIMSI, mobileMSISDN (digits), "" none */
    char call_id[MC_COLL_NAME_MAX];   /* rtpCallId / sipCallId, "" none */
};

/* What an exporter's options records told about its flows (0: not told). */
struct mc_coll_exporter_info {
    uint32_t sampling;  /* samplingInterval / samplerRandomInterval / samplingPacketInterval */
    uint64_t init_ms;   /* systemInitTimeMilliseconds: IPFIX flowStart/EndSysUpTime count from it */
};

/*
 * Fills f from a decoded data record; x what the exporter's options records
 * said (NULL: nothing; its sampling wins over the record's own
 * samplingInterval, else 1 applies); now_ms the arrival time (for records
 * without times).  Returns 0, or -1 for records that are no flow (options
 * records).
 */
int mc_coll_flow_from_record(struct mc_coll_flow *f, const struct mc_coll_record *r,
                             const struct mc_coll_exporter_info *x, uint64_t now_ms);

/* f's addresses as text (mc_ip_text: inet_ntop's; "" when ip_version is 0); buf at least 46 bytes. */
const char *mc_coll_flow_addr(const struct mc_coll_flow *f, int dst, char *buf, size_t len);

#endif /* MC_COLLECTOR_FLOW_H */
