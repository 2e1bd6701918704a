/*
 * internal.h - what the files of the export stage share: templates
 * (template.c), the per-template packet buffer and the dialect hooks
 * (ipfix.c, nf9.c, nf5.c), JSON lines (json.c) and the UDP transport
 * (transport.c), all driven by exporter.c.  Not for use outside src/export/.
 */
#ifndef MC_EXPORT_INTERNAL_H
#define MC_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "export/exporter.h"
#include "export/fields.h"

#define MC_TMPL_MAX 64           /* elements per template; more than the table holds */
#define MC_TMPL_ID_V4 256
#define MC_TMPL_ID_V6 257
#define MC_EXPORT_MTU_MIN 256    /* room for a header, a template and a record */
#define MC_EXPORT_MTU_MAX 65000

/* ---- templates (template.c) ------------------------------------------- */

/* The parsed -T list: table rows in the user's order, duplicates removed. */
struct mc_template_spec {
    size_t n;
    const struct mc_ie *ie[MC_TMPL_MAX]; /* borrowed: rows of mc_export_ies */
};

struct mc_tmpl_field {
    const struct mc_ie *ie;      /* borrowed: a row of mc_export_ies */
    uint16_t len;                /* wire length in this dialect (MC_IE_VARLEN allowed in IPFIX) */
};

/* One concrete template: a spec mapped for an IP version and a dialect. */
struct mc_template {
    uint16_t id;                 /* MC_TMPL_ID_V4 / MC_TMPL_ID_V6 */
    uint8_t ip_ver;              /* 4 or 6 */
    uint8_t version;             /* 5 (JSON names only), 9 or 10 */
    size_t n;
    size_t fixed_len;            /* bytes of every record; 0 when a field is variable-length */
    size_t fixed_part;           /* bytes of the fixed-length fields */
    int var_all_strings;         /* every variable-length field is a string (a flow without extension: all empty) */
    uint8_t var_idx[MC_TMPL_MAX]; /* the variable-length fields, sized per record */
    size_t n_var;
    size_t max_len;              /* the longest record (strings at their longest), set by the exporter */
    struct mc_tmpl_field f[MC_TMPL_MAX];
};

/*
 * Parses a -T list (IANA names separated by commas and/or white space, each
 * with an optional leading '%').  spec NULL selects the default biflow list.
 * Returns 0, or -1 with a message naming the offending word in err.
 */
int mc_export_template_parse(const char *spec, struct mc_template_spec *out, char *err, size_t errlen);

/* Appends the element named name to a parsed list (no-op when present). 0, or -1 when unknown or full. */
int mc_export_template_add(struct mc_template_spec *s, const char *name);

/*
 * Maps spec for one IP version and dialect (9 or 10): v4/v6 elements are
 * replaced by their counterparts for ip_ver, v9 gets sysUpTime times and
 * 1-byte tcpControlBits, reverse elements are dropped unless biflow, and
 * duplicates created by the mapping are removed.  Returns 0, or -1 with a
 * message (element not exportable in v9, template empty or too long).
 */
int mc_export_template_build(const struct mc_template_spec *spec, int version, int biflow, int ip_ver,
                             struct mc_template *t, char *err, size_t errlen);

/* The fixed v5 record's fields under their IANA names (for JSON). */
void mc_export_template_v5(struct mc_template *t);

/* Bytes of t's template record (IPFIX with enterprise numbers, or v9). */
size_t mc_export_template_wire_len(const struct mc_template *t);

/* Writes t's template record (id, count, field specifiers) at out; returns its length. */
size_t mc_export_template_write(const struct mc_template *t, uint8_t *out);

/* Bytes of one data record of t for env, and the encoder. */
size_t mc_export_template_record_len(const struct mc_template *t, const struct mc_ie_env *env);
size_t mc_export_template_record_put(const struct mc_template *t, const struct mc_ie_env *env, uint8_t *out);

/* ---- transport (transport.c) ------------------------------------------ */

typedef void (*mc_export_sink_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* A datagram waiting for a pacing token. */
struct mc_export_pending {
    size_t len;
    uint8_t *data;               /* owned: MC_EXPORT_MTU_MAX bytes */
};

#define MC_EXPORT_PACE_QUEUE 64

struct mc_export_transport {
    int n;
    int fd[MC_EXPORT_MAX_COLLECTORS];
    struct sockaddr_storage addr[MC_EXPORT_MAX_COLLECTORS];
    socklen_t addrlen[MC_EXPORT_MAX_COLLECTORS];
    mc_export_sink_fn sink;      /* test hook, NULL when none */
    void *sink_ctx;              /* borrowed */
    /* pacing: token bucket on CLOCK_MONOTONIC, queue of delayed datagrams */
    uint32_t pace_pps;
    double tokens;
    uint64_t last_ns;
    struct mc_export_pending q[MC_EXPORT_PACE_QUEUE];
    unsigned q_head, q_len;
};

/*
 * Splits "host:port" or "[v6addr]:port" into host and port (NUL-terminated,
 * truncated to the buffer sizes).  An IPv6 address must be bracketed.
 * Returns 0, or -1 with a message.
 */
int mc_export_collector_split(const char *spec, char *host, size_t hostlen, char *port, size_t portlen,
                              char *err, size_t errlen);

/* Resolves and opens every collector.  Returns 0, or -1 with a message (nothing left open). */
int mc_export_transport_open(struct mc_export_transport *t, const char *const *specs, int n,
                             uint32_t pace_pps, char *err, size_t errlen);

/* Sends (or, when pacing, queues) one datagram to every collector and the sink. */
void mc_export_transport_send(struct mc_export_transport *t, const uint8_t *pkt, size_t len);

/* Sends queued datagrams the token bucket allows; wait != 0 sleeps until the queue is empty. */
void mc_export_transport_pump(struct mc_export_transport *t, int wait);

/* Drains the queue (sleeping as pacing requires) and closes the sockets. */
void mc_export_transport_close(struct mc_export_transport *t);

/*
 * The largest export datagram payload that fits the path MTU of every
 * collector (IP_MTU / IPV6_MTU of the route, less the IP and UDP headers),
 * capped at MC_EXPORT_AUTO_MTU_MAX; MC_EXPORT_AUTO_MTU_DEFAULT when there is
 * no collector or the kernel does not say.
 */
uint16_t mc_export_transport_path_payload(const struct mc_export_transport *t);
#define MC_EXPORT_AUTO_MTU_DEFAULT 1400
#define MC_EXPORT_AUTO_MTU_MAX 8972 /* a 9000-byte jumbo frame less IPv4 + UDP */

/* ---- dialects --------------------------------------------------------- */

/*
 * The packet being filled for one template (IPFIX, v9) or the only packet
 * (v5).  len == 0 means no packet is started.
 */
struct mc_export_buf {
    uint8_t *data;               /* owned: cfg.mtu bytes */
    size_t len;
    size_t set_off;              /* offset of the data set / flowset header */
    uint32_t nrec;               /* data records in the packet */
    uint32_t ntmpl;              /* template records in the packet */
    uint64_t start_ms;           /* probe time of the first record */
    const struct mc_template *t; /* borrowed: the exporter's */
    int tmpl_sent;               /* template sent at least once */
    uint64_t tmpl_ms;            /* probe time it was last sent */
    uint32_t pkts_since_tmpl;    /* packets of this template since then */
};

struct mc_exporter;

/* One const instance per dialect file, chosen by cfg.version. */
struct mc_export_dialect {
    const char *name;
    int version;
    int has_templates;
    size_t slack;                /* bytes finish may append (v9 padding) */
    uint32_t max_records;        /* per packet, 0 = only the MTU limits */
    /* Starts a packet in b: header placeholder, template set when with_tmpl, data set header. */
    void (*begin)(struct mc_exporter *e, struct mc_export_buf *b, int with_tmpl);
    size_t (*rec_len)(const struct mc_exporter *e, const struct mc_export_buf *b, const struct mc_ie_env *env);
    void (*rec_put)(struct mc_exporter *e, struct mc_export_buf *b, const struct mc_ie_env *env);
    /* Completes header and set lengths for sending at now_ms, advances the sequence. */
    void (*finish)(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms);
};

extern const struct mc_export_dialect mc_export_ipfix;
extern const struct mc_export_dialect mc_export_nf9;
extern const struct mc_export_dialect mc_export_nf5;

struct mc_exporter {
    struct mc_export_config cfg;   /* copy; its borrowed strings are not used after new */
    const struct mc_export_dialect *d;
    int biflow;                    /* IPFIX with --biflow: one record per flow on the wire */
    struct mc_template json_tmpl[2]; /* IPFIX uniflow: the biflow templates of the JSON lines */
    const struct mc_template *json_t; /* IPFIX: the JSON lines' templates (tmpl or json_tmpl); else NULL */
    struct mc_template tmpl[2];    /* [0] IPv4, [1] IPv6 (v5: [0] names the v5 fields) */
    struct mc_export_buf buf[2];
    int booted;
    uint64_t boot_ms;              /* sysUpTime origin (v5, v9) */
    uint64_t seq;                  /* IPFIX: data records sent; v5: flows sent */
    uint32_t pkt_seq;              /* v9: packets sent */
    struct mc_export_transport tr;
    FILE *json;                    /* NULL, stdout (borrowed) or json_file's stream */
    struct mc_rotfile *json_file;  /* owned: --json to a file (rotated, reopened), else NULL */
    char *json_path;               /* owned copy of cfg->json_path, for the messages */
};

/* Writes one JSON line for the record env of template t (json.c). */
void mc_export_json_record(FILE *out, const struct mc_template *t, const struct mc_ie_env *env);

/* Big-endian stores, alignment-free. */
static inline void mc_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void mc_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif /* MC_EXPORT_INTERNAL_H */
