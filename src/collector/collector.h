/*
 * collector.h - the collector's flow-record decoders: NetFlow v5, NetFlow v9
 * (RFC 3954) and IPFIX (RFC 7011) messages in, one callback per data record
 * out, every record in the same shape whatever the dialect.  See
 * docs/internals/collector.md.
 *
 * One struct mc_coll holds what outlives a datagram: the template cache
 * (templates.c), the per-exporter streams (sequence tracking, template and
 * malformed-set counts) and the bounded queue of data sets that arrived
 * before their template.  Single-threaded: one receive loop owns it.
 */
#ifndef MC_COLLECTOR_COLLECTOR_H
#define MC_COLLECTOR_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"

#define MC_COLL_MAX_FIELDS 128 /* field specifiers per template; more is counted and refused */

/* Where a datagram came from: the exporter's address and UDP port. */
struct mc_coll_src {
    uint8_t addr[16]; /* IPv4 in bytes 0..3, the rest zero */
    uint8_t ver;      /* 4 or 6 */
    uint8_t tcp;      /* 1: an IPFIX TCP session (its templates live as long as it, RFC 7011 8.1) */
    uint16_t port;
};

/* One field of a record: its element, and its value as it was on the wire. */
struct mc_coll_field {
    uint32_t pen;         /* enterprise number, 0 for IANA (v9 scope fields: 0, see scope_count) */
    uint16_t id;          /* element id, without the enterprise bit */
    uint16_t len;         /* bytes of value (a variable-length field: its actual length) */
    const uint8_t *value; /* borrowed: valid during the callback only (big-endian, as sent) */
};

/* One decoded data record. */
struct mc_coll_record {
    const struct mc_coll_src *exporter; /* borrowed */
    int version;            /* 5, 9 or 10 */
    uint32_t domain;        /* IPFIX observation domain, v9 source id, v5 engine_type << 8 | engine_id */
    uint16_t template_id;   /* 0 for v5 */
    uint8_t options;        /* 1: a record of an options template */
    uint16_t scope_count;   /* options: the first scope_count fields are scope fields (v9: ids are
                               RFC 3954 6.1 scope types 1 System .. 5 Template, not IANA elements) */
    uint32_t export_secs;   /* header export time, UNIX seconds */
    uint32_t export_nsecs;  /* v5 only: the residual nanoseconds */
    uint32_t sys_uptime;    /* v5, v9: header sysUpTime, ms (mc_coll_uptime_ms converts) */
    uint32_t seq;           /* the header's sequence number */
    uint64_t lost;          /* the stream's lost count so far (IPFIX records, v9 packets, v5 flows) */
    uint32_t sampling;      /* v5: the header's sampling interval (0: none); 0 for the others, whose
                               interval is a field or an options record's */
    size_t n;
    const struct mc_coll_field *f; /* borrowed: n fields in template order */
};

typedef void (*mc_coll_record_fn)(void *ctx, const struct mc_coll_record *r);

struct mc_coll_config {
    size_t max_templates;        /* templates held for all exporters (default 4096) */
    uint32_t template_timeout_s; /* UDP: a template not refreshed for this long is dropped (default
                                    1800, RFC 7011 8.4; 0: never) */
    size_t max_pending;          /* data sets held before their template (default 256) */
    size_t max_pending_bytes;    /* ... and their bytes (default 1 MiB) */
    uint32_t pending_timeout_s;  /* a held set whose template has not come by then is dropped (default 60) */
    size_t max_streams;          /* exporter + domain pairs tracked (default 1024) */
};

void mc_coll_config_defaults(struct mc_coll_config *cfg);

/* Per (exporter, version, domain): what the stats and --counters of the collector report. */
struct mc_coll_stream {
    struct mc_coll_src src;
    int version;
    uint32_t domain;
    int have_seq;           /* next_seq is known */
    uint32_t next_seq;      /* the sequence number the next datagram should carry */
    uint64_t datagrams;     /* messages / packets decoded */
    uint64_t records;       /* data records delivered */
    uint64_t lost;          /* IPFIX: records, v9: packets, v5: flows missing from the sequence */
    uint64_t out_of_order;  /* sequence numbers behind the expected one (late, or an exporter restart) */
    uint64_t malformed_sets;
    uint32_t templates;     /* templates held now */
    uint64_t templates_seen; /* template records accepted (new, changed or refreshed) */
    uint64_t last_ms;       /* collector time of the last datagram */
};

struct mc_coll;

/*
 * Creates the decoder state; cfg NULL takes the defaults.  fn receives every
 * record (ctx borrowed).  Returns NULL when out of memory.  Free with
 * mc_coll_free.
 */
struct mc_coll *mc_coll_new(const struct mc_coll_config *cfg, mc_coll_record_fn fn, void *ctx);
void mc_coll_free(struct mc_coll *c);

/*
 * Decoders: one datagram p[0..n) from src (borrowed for the call), now_ms the
 * collector's clock (template and pending-set timeouts).  Records go to the
 * callback before the call returns (and, for sets held before their
 * template, during a later call).  Return the records delivered, or -1 when
 * the header is unusable (counted); a bad set inside a good header is
 * counted and skipped, the rest of the datagram still decodes.
 */
int mc_coll_ipfix(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                  uint64_t now_ms);
int mc_coll_nf9(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                uint64_t now_ms);
int mc_coll_nf5(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                uint64_t now_ms);
/*
 * sFlow v5 (sflow.c): records of version 20, domain the sub_agent_id,
 * exporter the UDP sender; each carries the agent address as
 * exporterIPv4Address / exporterIPv6Address (130 / 131).  One flow record
 * per flow sample (its header decoded by the probe's decoder: the innermost
 * IP 5-tuple; one packet and its octets, samplingInterval the rate), one
 * options record (scope ingressInterface) per generic interface counters
 * record.  The stream is (agent address with port 0, 20, sub_agent_id).
 */
int mc_coll_sflow(struct mc_coll *c, const struct mc_coll_src *src, const uint8_t *p, size_t n,
                  uint64_t now_ms);

/* Periodic work (bounded by the table sizes): drops timed-out templates and held sets. */
void mc_coll_expire(struct mc_coll *c, uint64_t now_ms);

/*
 * An exporter is gone (its TCP session closed): its templates, held sets and
 * streams are dropped (RFC 7011 8.1: a TCP session's templates end with it),
 * so that reconnecting exporters do not fill the tables.
 */
void mc_coll_forget(struct mc_coll *c, const struct mc_coll_src *src);

/* The stream of (src, version, domain), NULL when none; and every stream by index (NULL past the end). */
const struct mc_coll_stream *mc_coll_stream_find(const struct mc_coll *c, const struct mc_coll_src *src,
                                                 int version, uint32_t domain);
const struct mc_coll_stream *mc_coll_stream_at(const struct mc_coll *c, size_t i);

/* Templates held now, all exporters; data sets held waiting for a template. */
size_t mc_coll_n_templates(const struct mc_coll *c);
size_t mc_coll_n_pending(const struct mc_coll *c);

/*
 * A field's name: the probe's element name for (pen, id) (export/fields.h),
 * so the collector writes mcprobe's JSON keys; a few v5/v9 header elements
 * the probe does not export; else "<pen>.<id>" written into buf (len bytes).
 * Returns a static name or buf.
 */
const char *mc_coll_field_name(uint32_t pen, uint16_t id, char *buf, size_t len);

/* The probe's element for (pen, id) (export/fields.h), NULL when it has none; hashed, built once. */
struct mc_ie;
const struct mc_ie *mc_coll_ie(uint32_t pen, uint16_t id);

/* An IANA element's name and how its value reads (iana.c), for those the probe's table lacks. */
enum mc_coll_iana_type { IANA_U, IANA_V4, IANA_V6, IANA_MAC, IANA_STR, IANA_HEX, IANA_NTP, IANA_F64 };
struct mc_coll_iana {
    uint16_t id;
    const char *name;
    uint8_t type; /* enum mc_coll_iana_type: unsigned, address, MAC, string, bytes, NTP time, float64 */
};
/* The IANA element id (pen 0), NULL when not in the table; and the table by index (NULL past the end). */
const struct mc_coll_iana *mc_coll_iana(uint16_t id);
const struct mc_coll_iana *mc_coll_iana_at(size_t i);

/* The field's value as an unsigned big-endian number (at most its last 8 bytes).  Inline: every field of
 * every record is read through it, and the usual widths (1, 2, 4, 8) are one load each. */
static inline uint64_t mc_coll_field_u64(const struct mc_coll_field *f)
{
    const uint8_t *p = f->value;
    switch (f->len) {
    case 1:
        return p[0];
    case 2:
        return (uint64_t)p[0] << 8 | p[1];
    case 4:
        return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    case 8:
        return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
               (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
    default: {
        uint64_t v = 0;
        for (size_t i = f->len > 8 ? f->len - 8u : 0; i < f->len; i++)
            v = v << 8 | p[i];
        return v;
    }
    }
}

/* A v5/v9 sysUpTime value of the record as epoch ms (the header's time less the uptime difference). */
uint64_t mc_coll_uptime_ms(const struct mc_coll_record *r, uint32_t uptime);

#define MC_COLLECTOR_CTRS(X, S)                                                 \
    /* messages, per dialect */                                                 \
    X(S, ipfix_messages, "collector.ipfix.messages")                           \
    X(S, ipfix_too_short, "collector.ipfix.too_short")                         \
    X(S, ipfix_bad_version, "collector.ipfix.bad_version")                     \
    X(S, ipfix_bad_length, "collector.ipfix.bad_length")                       \
    X(S, nf9_packets, "collector.nf9.packets")                                 \
    X(S, nf9_too_short, "collector.nf9.too_short")                             \
    X(S, nf9_bad_version, "collector.nf9.bad_version")                         \
    X(S, nf9_bad_count, "collector.nf9.bad_count")                             \
    X(S, nf5_packets, "collector.nf5.packets")                                 \
    X(S, nf5_too_short, "collector.nf5.too_short")                             \
    X(S, nf5_bad_version, "collector.nf5.bad_version")                         \
    X(S, nf5_bad_count, "collector.nf5.bad_count")                             \
    X(S, sflow_datagrams, "collector.sflow.datagrams")                         \
    X(S, sflow_too_short, "collector.sflow.too_short")                         \
    X(S, sflow_bad_version, "collector.sflow.bad_version")                     \
    X(S, sflow_bad_address_type, "collector.sflow.bad_address_type")           \
    X(S, sflow_bad_count, "collector.sflow.bad_count")                         \
    X(S, sflow_samples_flow, "collector.sflow.samples_flow")                   \
    X(S, sflow_samples_counters, "collector.sflow.samples_counters")           \
    X(S, sflow_samples_unknown, "collector.sflow.samples_unknown")             \
    X(S, sflow_samples_truncated, "collector.sflow.samples_truncated")         \
    X(S, sflow_records_skipped, "collector.sflow.records_skipped")             \
    X(S, sflow_records_truncated, "collector.sflow.records_truncated")         \
    X(S, sflow_headers_undecodable, "collector.sflow.headers_undecodable")     \
    /* sets (IPFIX) and flowsets (v9) */                                        \
    X(S, sets_malformed, "collector.sets.malformed")                           \
    X(S, sets_reserved_id, "collector.sets.reserved_id")                       \
    X(S, sets_too_many, "collector.sets.too_many")                             \
    /* templates */                                                             \
    X(S, tmpl_added, "collector.templates.added")                              \
    X(S, tmpl_changed, "collector.templates.changed")                          \
    X(S, tmpl_refreshed, "collector.templates.refreshed")                      \
    X(S, tmpl_withdrawn, "collector.templates.withdrawn")                      \
    X(S, tmpl_withdraw_unknown, "collector.templates.withdraw_unknown")        \
    X(S, tmpl_bad, "collector.templates.bad")                                  \
    X(S, tmpl_table_full, "collector.templates.table_full")                    \
    X(S, tmpl_expired, "collector.templates.expired")                          \
    /* records */                                                               \
    X(S, records, "collector.records")                                         \
    X(S, records_options, "collector.records.options")                         \
    X(S, records_malformed, "collector.records.malformed")                     \
    /* data sets before their template */                                       \
    X(S, pending_held, "collector.pending.held")                               \
    X(S, pending_decoded, "collector.pending.decoded")                         \
    X(S, pending_dropped, "collector.pending.dropped")                         \
    X(S, pending_too_big, "collector.pending.too_big")                         \
    X(S, pending_expired, "collector.pending.expired")                         \
    /* sequence tracking, all streams */                                        \
    X(S, seq_lost, "collector.seq.lost")                                       \
    X(S, seq_out_of_order, "collector.seq.out_of_order")                       \
    X(S, streams_full, "collector.streams.table_full")                         \
    X(S, streams_evicted, "collector.streams.evicted")                         \
    X(S, streams_forgotten, "collector.streams.forgotten")
MC_CTR_DECLARE(collector, MC_COLLECTOR_CTRS)

#endif /* MC_COLLECTOR_COLLECTOR_H */
