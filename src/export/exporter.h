/*
 * exporter.h - turns flows leaving the flow table into NetFlow v5, v9 or
 * IPFIX (RFC 7011) export packets sent over UDP to every collector, and
 * optionally into JSON lines carrying the same fields under IANA names.
 *
 * Records are unidirectional (one per direction that saw packets), as
 * nProbe and softflowd send them, unless IPFIX biflows are asked for: nfdump
 * and other common collectors read RFC 5103 reverse elements as forward
 * ones.  The JSON lines of IPFIX are one biflow object per flow either way.
 *
 * Time is the caller's: in file mode the packet time, so the output does not
 * depend on how fast a file is read.  Nothing here blocks: sends use
 * MSG_DONTWAIT and a full socket buffer is counted, not waited on.
 */
#ifndef MC_EXPORT_EXPORTER_H
#define MC_EXPORT_EXPORTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ctr_macros.h"
#include "common/rotfile.h"
#include "flow/flow.h"

#define MC_EXPORT_MAX_COLLECTORS 8

struct mc_export_config {
    int version;                  /* 5, 9 or 10 (IPFIX, default) */
    int biflow;                   /* IPFIX only, 1: one RFC 5103 biflow record per flow instead of one
                                     record per direction (--biflow; most collectors read only uniflows) */
    uint32_t domain_id;           /* IPFIX observation domain / v9 source id / v5 engine id (low 8 bits) */
    const char *template_spec;    /* borrowed: -T field list (IANA names, comma/space separated); NULL = default */
    uint32_t template_refresh_ms; /* resend templates at least this often (probe time), default 30000 */
    uint32_t template_refresh_pkts; /* ... and every this many export packets, default 20 */
    uint32_t flush_ms;            /* a partly filled export packet leaves after this long, default 1000 */
    uint16_t mtu;                 /* max UDP payload of an export packet, default 1400 */
    const char *collectors[MC_EXPORT_MAX_COLLECTORS]; /* borrowed: "host:port", "[v6]:port" */
    int n_collectors;
    const char *json_path;        /* borrowed: NULL none, "-" stdout, else a file (truncated) */
    struct mc_rotate json_rotate; /* --json-rotate: when the file is renamed and started again (all 0: never) */
    uint32_t ingress_if, egress_if; /* ingressInterface / egressInterface values */
    uint32_t pace_pps;            /* 0: send at once; else at most this many export packets per second */
    int with_user;                /* default template also carries userName (the cloud knows users) */
    int with_app;                 /* default template also carries applicationId/Name (nDPI is on) */
};

void mc_export_config_defaults(struct mc_export_config *cfg);

struct mc_exporter;

/*
 * Creates an exporter: resolves collectors, opens one UDP socket each,
 * builds the templates (-T errors are reported here), opens the JSON output.
 * On failure returns NULL with a message in err (errlen bytes).  Free with
 * mc_exporter_free (which flushes first).
 */
struct mc_exporter *mc_exporter_new(const struct mc_export_config *cfg, char *err, size_t errlen);
void mc_exporter_free(struct mc_exporter *e);

/* Adds the record(s) of one flow; may send a full packet.  now_ms is probe time. */
void mc_exporter_flow(struct mc_exporter *e, const struct mc_flow *f, uint64_t now_ms);

/* Periodic work: sends packets older than flush_ms, refreshes templates. */
void mc_exporter_tick(struct mc_exporter *e, uint64_t now_ms);

/* Sends everything buffered now (end of capture, shutdown) and flushes the JSON stream. */
void mc_exporter_flush(struct mc_exporter *e, uint64_t now_ms);

/*
 * Reopens the JSON file by its name, appending (SIGHUP: logrotate renamed the
 * old one, which gets every record written before).  Standard output is left
 * as it is.  0, or -1 with err set when the name cannot be opened: the old
 * file is kept then, so no record is lost.  Rotation (json_rotate) goes on
 * beside it: before each flow's records and at each tick the file is renamed
 * PATH.YYYYMMDDTHHMMSSZ and started again when due (common/rotfile.h), on the
 * probe clock of now_ms; it logs and counts itself (export.json.rotations,
 * export.json.rotate_errors) and a failure keeps the old file.
 */
int mc_exporter_reopen(struct mc_exporter *e, char *err, size_t errlen);

/*
 * Test hook: fn receives every export datagram (borrowed for the call), in
 * addition to the collectors' sockets.  fn NULL removes it.  ctx is borrowed.
 */
void mc_exporter_set_sink(struct mc_exporter *e, void (*fn)(void *ctx, const uint8_t *pkt, size_t len),
                          void *ctx);

/* Prints the IANA names -T accepts, one per line with id and length. */
void mc_exporter_list_fields(FILE *out);

#define MC_EXPORT_CTRS(X, S)                                               \
    X(S, records, "export.records")                                       \
    X(S, packets, "export.packets")                                       \
    X(S, bytes, "export.bytes")                                           \
    X(S, templates, "export.templates_sent")                              \
    X(S, send_errors, "export.send_errors")                               \
    X(S, send_would_block, "export.send_would_block")                     \
    X(S, v5_skipped_ipv6, "export.v5.skipped_ipv6")                       \
    X(S, json_records, "export.json.records")                             \
    X(S, json_errors, "export.json.errors")                               \
    X(S, json_rotations, "export.json.rotations")                         \
    X(S, json_rotate_errors, "export.json.rotate_errors")
MC_CTR_DECLARE(export, MC_EXPORT_CTRS)

#endif /* MC_EXPORT_EXPORTER_H */
