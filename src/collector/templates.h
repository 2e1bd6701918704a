/*
 * templates.h - what the collector's decoders share (not for use outside
 * src/collector/): the template cache keyed by (exporter address and port,
 * version, observation domain / source id, template id), the per-exporter
 * streams with their sequence tracking, the queue of data sets held before
 * their template, and the record walk every template-based data set goes
 * through.  References: RFC 7011 (IPFIX) sections 3.4, 7, 8; RFC 3954
 * (NetFlow v9) sections 5.2-6.
 */
#ifndef MC_COLLECTOR_TEMPLATES_H
#define MC_COLLECTOR_TEMPLATES_H

#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"
#include "common/cur.h"

#define MC_COLL_VARLEN 0xffffu    /* RFC 7011 7: a variable-length field's template length */
#define MC_COLL_MAX_SETS 1024     /* sets walked per message: a cap beyond what 64 KiB can honestly hold */
#define MC_COLL_SEQ_WINDOW 100000 /* a sequence this far behind is an exporter restart, not a late datagram */

/* The header of the message being decoded: what every record of it carries. */
struct mc_coll_msg {
    struct mc_coll_src src;
    int version;             /* 9 or 10 (5 has no templates) */
    uint32_t domain;
    uint32_t export_secs, export_nsecs, sys_uptime, seq;
    uint64_t now_ms;
};

/* Template set flavours: which record layout a template set carries. */
enum mc_coll_tset {
    MC_COLL_TSET_IPFIX = 2,          /* RFC 7011 3.4.1 */
    MC_COLL_TSET_IPFIX_OPTIONS = 3,  /* RFC 7011 3.4.2.2 */
    MC_COLL_TSET_V9 = 0,             /* RFC 3954 5.2 */
    MC_COLL_TSET_V9_OPTIONS = 1      /* RFC 3954 6.1 */
};

/*
 * The stream of m (created when new).  NULL when the stream table is full
 * (collector.streams.table_full): the caller drops the datagram.
 */
struct mc_coll_stream *mc_coll_stream_get(struct mc_coll *c, const struct mc_coll_msg *m);

/*
 * Checks a header's sequence number against the stream's expectation,
 * counting the lost ones (a gap ahead) or the late ones (behind, less than
 * MC_COLL_SEQ_WINDOW; further behind is a restart and resynchronises).
 * Returns 1 when the datagram is in order or ahead (the caller then sets
 * the next expectation), 0 when it is late (the expectation stays).
 */
int mc_coll_seq_check(struct mc_coll_stream *st, uint32_t seq);

/*
 * Walks one template set (the bytes after the set header) of kind k:
 * adds, replaces, refreshes or (IPFIX) withdraws templates, then decodes
 * the held data sets the new templates unlock.  A malformed record ends the
 * walk, counted.  Returns the template records read.
 */
int mc_coll_template_set(struct mc_coll *c, const struct mc_coll_msg *m, enum mc_coll_tset k,
                         struct mc_cur *set);

/*
 * Decodes one data set (the bytes after the set header) against its
 * template, or holds a copy when the template is unknown.  Returns the
 * records delivered, or -1 when the set was held or dropped (so its record
 * count is unknown).
 */
int mc_coll_data_set(struct mc_coll *c, const struct mc_coll_msg *m, uint16_t set_id, struct mc_cur *set);

/* Delivers one record through the callback (v5 builds its fields itself). */
void mc_coll_emit(struct mc_coll *c, const struct mc_coll_record *r);

/* Counts one malformed set on the stream of m (and collector.sets.malformed). */
void mc_coll_set_malformed(struct mc_coll *c, struct mc_coll_stream *st);

#endif /* MC_COLLECTOR_TEMPLATES_H */
