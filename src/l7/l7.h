/*
 * l7.h - the application-layer stage: analyzers attached to flows, fed each
 * direction's payload in order, emitting transactions.
 *
 * An analyzer is one const struct mc_l7_analyzer in its own file
 * (src/l7/<proto>.c), listed once in the registry (registry.c).  It is
 * attached to a flow by nDPI's verdict, by a server port, or by a cheap check
 * of the first payload bytes; from then on it receives:
 *   - UDP: each datagram's payload, whole;
 *   - TCP: each direction's bytes in sequence order, exactly once.  A gap
 *     (bytes the capture lost or never saw) is announced through gap() and
 *     never filled with guessed bytes; retransmissions, overlaps and
 *     out-of-order segments are sorted out (and counted) before data().
 * Its per-flow state is state_size bytes, zeroed, owned by the framework;
 * what it allocates beyond that it frees in release().  Messages split over
 * segments are collected in a struct mc_l7_buf, capped per flow.
 *
 * Transactions (a DNS query and its answer, an HTTP request and its
 * response, ...) are emitted with mc_l7_tx_begin / mc_l7_tx_* / mc_l7_tx_end:
 * they become one JSON line on --l7-log, keyed by the same element names as
 * the analyzer's `fields`, which are also the flow record's elements (the
 * values of the flow's first transaction, kept in the analyzer's state).
 * Cloud aggregates are written through the aggregation interface
 * (cloud/agg.h) reached with mc_l7_agg(); a NULL aggregator means no cloud.
 *
 * Counters: each analyzer file declares and defines its own group
 * (MC_CTR_DECLARE/MC_CTR_DEFINE(l7_<name>, ...), names "l7.<name>.<reason>"),
 * registered by MC_CTR_DEFINE itself.
 *
 * Adding a protocol: docs/internals/analyzers.md.
 */
#ifndef MC_L7_L7_H
#define MC_L7_L7_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ctr_macros.h"
#include "common/rotfile.h"
#include "flow/flow.h"
#include "flow/ie.h"
#include "l7/mobile.h"
#include "l7/voip.h"

#define MC_L7_TCP 0x01
#define MC_L7_UDP 0x02

#define MC_L7_MAX_PORTS 8

struct mc_l7_ctx;
struct mc_agg;
struct mc_lookup;

struct mc_l7_analyzer {
    const char *name;              /* "dns": the `protocol` of its transactions */
    uint8_t l4;                    /* MC_L7_TCP | MC_L7_UDP */
    uint16_t ports[MC_L7_MAX_PORTS]; /* server ports that attach it; 0 ends the list */
    const char *const *ndpi;       /* nDPI protocol names that attach it, NULL-terminated; NULL: none */
    /*
     * Cheap check of the first payload bytes a direction sent (dir 0: the
     * client's).  Returns 1 when this looks like the protocol.  NULL: only
     * ports and nDPI attach it.  Must not read beyond n.
     */
    int (*detect)(const uint8_t *p, size_t n, int dir);
    size_t state_size;             /* per-flow state, zeroed before init */
    void (*init)(struct mc_l7_ctx *x, void *st);
    /* In-order payload of direction dir (TCP) or one datagram (UDP). */
    void (*data)(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n);
    /* len bytes of dir were lost before the next data(): resynchronise. */
    void (*gap)(struct mc_l7_ctx *x, void *st, int dir, uint32_t len);
    /* The flow ends (before its record is exported): emit what is pending. */
    void (*end)(struct mc_l7_ctx *x, void *st);
    /* Frees what st owns (NULL: nothing); st itself belongs to the framework. */
    void (*release)(void *st);
    /* Its information elements: flow record fields and transaction keys. */
    const struct mc_ie *fields;
    size_t n_fields;
};

/* The registry (registry.c): every analyzer, in attach-priority order. */
extern const struct mc_l7_analyzer *const mc_l7_analyzers[];
extern const size_t mc_l7_n_analyzers;

/* Looks an analyzer up by name; NULL when unknown. */
const struct mc_l7_analyzer *mc_l7_find(const char *name);

/* ---- what an analyzer callback sees ------------------------------------ */

/* The flow being analysed (borrowed for the call). */
const struct mc_flow *mc_l7_flow(const struct mc_l7_ctx *x);
/* Time of the packet being analysed (at end(): the flow's last packet), epoch ms. */
uint64_t mc_l7_now_ms(const struct mc_l7_ctx *x);
/* The same in microseconds (at end(): the last packet's millisecond), for RTP jitter. */
uint64_t mc_l7_now_us(const struct mc_l7_ctx *x);
/* The cloud aggregator, or NULL without --redis. */
struct mc_agg *mc_l7_agg(struct mc_l7_ctx *x);
/* What the analyzers read from the cloud (cloud/lookup.h), or NULL without --redis or with lookups off. */
struct mc_lookup *mc_l7_lookups(struct mc_l7_ctx *x);
/* Longest query/statement text kept (--l7-max-text), bytes. */
size_t mc_l7_max_text(const struct mc_l7_ctx *x);
/*
 * Per-flow texts sized to what they hold, not to their caps (a flow keeps
 * them as long as it lives, and connections idle by the thousand):
 * mc_l7_text_room makes *buf (of *cap bytes, NULL: none yet) hold at least
 * need bytes, growing it to that (64 at least); 0, or -1 when memory ran out
 * (*buf and *cap unchanged).  mc_l7_text_dup copies n bytes and a NUL into
 * an allocation of that size, NULL when memory ran out.
 */
int mc_l7_text_room(char **buf, size_t *cap, size_t need);
char *mc_l7_text_dup(const char *p, size_t n);
/* The stage's call table (voip.h): SIP feeds it, RTP looks calls up in it. */
struct mc_voip *mc_l7_voip(struct mc_l7_ctx *x);
/* The stage's subscriber table (mobile.h): GTP-C feeds it, GTP-U flows find their subscriber in it. */
struct mc_mobile *mc_l7_mobile(struct mc_l7_ctx *x);
/* The flow's record carries this subscriber (IANA mobileIMSI, mobileMSISDN). */
void mc_l7_set_subscriber(struct mc_l7_ctx *x, const char *imsi, const char *msisdn);
/* The subscriber the flow was tied to (a GTP-U flow, a UE's), NULL when none (mobile.h). */
const struct mc_mobile_sub *mc_l7_subscriber_of(const struct mc_flow *f);

/*
 * The analyzer gives the flow up from inside data(): it was not its protocol
 * after all (RTP failing validation).  After the callback returns, release()
 * runs, the flow has no analyzer (nothing attaches again, l7Protocol is
 * empty) and no more data() comes.  Counted l7.detached.
 */
void mc_l7_detach(struct mc_l7_ctx *x);

/* The analyzer state of f when analyzer a owns it, else NULL (for field getters). */
const void *mc_l7_state_of(const struct mc_flow *f, const struct mc_l7_analyzer *a);

/*
 * A bounded byte collector for messages split across segments.  Each holds
 * at most a quarter of --l7-max-buffer (an analyzer keeps one per
 * direction, beside the stage's two out-of-order queues); a refused append
 * counts l7.buffer_exceeded and returns -1 (the analyzer then skips the
 * message and resynchronises).  Owned memory: free with mc_l7_buf_free.
 */
struct mc_l7_buf {
    uint8_t *p;
    uint32_t len, cap;
};
int mc_l7_buf_append(struct mc_l7_ctx *x, struct mc_l7_buf *b, const uint8_t *p, size_t n);
void mc_l7_buf_consume(struct mc_l7_buf *b, size_t n);
void mc_l7_buf_reset(struct mc_l7_buf *b);
void mc_l7_buf_free(struct mc_l7_buf *b);

/*
 * The body of a length-framed message arriving over segments (a MySQL
 * packet, a TNS packet): mc_l7_body_start with its length and how much of
 * it is worth keeping, then mc_l7_body_take on each segment's bytes.  A
 * body that arrives whole in one call is handed over in place; a split one
 * keeps its first `keep` bytes in buf (an mc_l7_buf: capped, refusals
 * counted) and only counts the rest.  Owned memory: mc_l7_buf_free(&b->buf).
 */
struct mc_l7_body {
    struct mc_l7_buf buf;  /* the kept prefix of a body split over segments */
    uint32_t len;          /* body length */
    uint32_t got;          /* bytes seen, or lost in a hole */
    uint32_t keep;         /* bytes kept: at most len */
    uint8_t broken;        /* the kept prefix is unusable (refused, or holed) */
};

#define MC_L7_BODY_DONE 0x1    /* the body is complete: *body, *body_len say what there is of it */
#define MC_L7_BODY_REFUSED 0x2 /* the collector refused bytes in this call (the prefix is broken) */

void mc_l7_body_start(struct mc_l7_body *b, uint32_t len, uint32_t keep);
/*
 * Takes the body's bytes from *p (*n of them), advancing both past what it
 * took (at most the rest of the body).  Returns MC_L7_BODY_* flags; with
 * DONE, *body is the whole body in place, the kept prefix, or NULL when the
 * prefix is broken, and *body_len its length.
 */
int mc_l7_body_take(struct mc_l7_ctx *x, struct mc_l7_body *b, const uint8_t **p, size_t *n, const uint8_t **body,
                    size_t *body_len);
/*
 * A hole of len bytes: inside the rest of the body it counts as seen and
 * breaks the kept prefix when it falls in it (returns 0, or DONE as above);
 * longer than the rest it returns -1 and changes nothing (framing lost).
 */
int mc_l7_body_gap(struct mc_l7_body *b, uint32_t len, const uint8_t **body, size_t *body_len);

/* ---- transactions ------------------------------------------------------ */

/*
 * One transaction: begin, add fields (names must be elements of the
 * analyzer's `fields`, so the log and the flow record speak one vocabulary),
 * end.  start_ms is when the transaction began (the request).  Fields are
 * written in the order added.  One transaction open at a time per context.
 */
void mc_l7_tx_begin(struct mc_l7_ctx *x, uint64_t start_ms);
void mc_l7_tx_u64(struct mc_l7_ctx *x, const char *name, uint64_t v);
void mc_l7_tx_str(struct mc_l7_ctx *x, const char *name, const char *s, size_t n);
/* An already-formatted JSON value (array, object): the caller guarantees validity. */
void mc_l7_tx_raw(struct mc_l7_ctx *x, const char *name, const char *json, size_t n);
void mc_l7_tx_end(struct mc_l7_ctx *x);
/* 1 when transactions are written (--l7-log): text only the log reads need not be made otherwise. */
int mc_l7_tx_logged(const struct mc_l7_ctx *x);

/* ---- the stage, as the probe drives it --------------------------------- */

struct mc_l7_config {
    const char *log_path;     /* --l7-log: NULL none, "-" stdout, else a file */
    struct mc_rotate log_rotate; /* --l7-log-rotate (all 0: never), see common/rotfile.h */
    int dpi;                  /* nDPI classification (default 1; --no-dpi) */
    uint32_t max_buffer;      /* --l7-max-buffer: bytes buffered per flow (reassembly + messages), default 65536 */
    uint32_t max_text;        /* --l7-max-text: query text kept, default 1024 */
    uint32_t dpi_max_packets; /* packets per flow nDPI may look at before giving up, default 32 */
    const char *only;         /* --l7 NAME,...: analyzers enabled (NULL: all) */
    /* the analyzers to use: NULL means the registry (tests and fuzz targets give their own) */
    const struct mc_l7_analyzer *const *analyzers;
    size_t n_analyzers;
    struct mc_voip_config voip; /* the call table (--voip-max-calls, ...) */
    struct mc_mobile_config mobile; /* the subscriber table (--gtp-max-sessions, ...) */
};

void mc_l7_config_defaults(struct mc_l7_config *cfg);

struct mc_l7;

/* Creates the stage (opens the log, starts nDPI).  NULL with err on failure. */
struct mc_l7 *mc_l7_new(const struct mc_l7_config *cfg, char *err, size_t errlen);
void mc_l7_free(struct mc_l7 *l);
/* The same for a process about to exit: what only the exit gives back (nDPI's tables) is left to it. */
void mc_l7_free_at_exit(struct mc_l7 *l);

/* The aggregator analyzers write to (borrowed; NULL: none). */
void mc_l7_set_agg(struct mc_l7 *l, struct mc_agg *agg);
/* The cloud lookups analyzers read through (borrowed; NULL: none). */
void mc_l7_set_lookups(struct mc_l7 *l, struct mc_lookup *lookups);
/* The cloud whose user primitive the subscriber layer writes sessions through (borrowed; NULL: none). */
struct mc_cloud;
void mc_l7_set_cloud(struct mc_l7 *l, struct mc_cloud *cloud);

/* Installs the stage on a flow table: packet hook and extension release. */
void mc_l7_attach(struct mc_l7 *l, struct mc_flow_table *t);

/* One packet of f in direction dir (the flow table's packet hook). */
void mc_l7_packet(struct mc_l7 *l, struct mc_flow *f, const struct mc_pkt *pkt, int dir);

/* f is leaving the table: analyzers emit what is pending (call before export). */
void mc_l7_flow_end(struct mc_l7 *l, struct mc_flow *f);

/* Periodic work on the probe clock (ageing calls): from the probe's tick. */
void mc_l7_tick(struct mc_l7 *l, uint64_t now_ms);
/* The input ended: what the analyzers know to be over is written (before the cloud's last flush). */
void mc_l7_finish(struct mc_l7 *l);

/* Flushes the transaction log (end of capture, periodically). */
void mc_l7_flush(struct mc_l7 *l);

/*
 * Reopens the log file by its name, appending (SIGHUP: logrotate renamed the
 * old one).  0, or -1 after logging why: the old file is kept then.
 */
int mc_l7_reopen(struct mc_l7 *l);

/*
 * --l7-log-rotate: renames the log PATH.YYYYMMDDTHHMMSSZ and starts it again
 * when due at probe time now_ms (common/rotfile.h); logs and counts
 * (l7.log_rotations, l7.log_rotate_errors).  Call between packets, never
 * inside a transaction: the probe's tick does.
 */
void mc_l7_rotate(struct mc_l7 *l, uint64_t now_ms);

/* Every element the stage adds to flow records: the framework's own, then each analyzer's. */
size_t mc_l7_n_ies(void);
const struct mc_ie *mc_l7_ie(size_t i);

#define MC_L7_CTRS(X, S)                                                      \
    X(S, flows_attached, "l7.flows_attached")                                \
    X(S, detached, "l7.detached")                                            \
    X(S, attached_port, "l7.attached.port")                                  \
    X(S, attached_payload, "l7.attached.payload")                            \
    X(S, attached_ndpi, "l7.attached.ndpi")                                  \
    X(S, state_alloc_failed, "l7.state_alloc_failed")                        \
    X(S, transactions, "l7.transactions")                                    \
    X(S, log_errors, "l7.log_errors")                                        \
    X(S, log_rotations, "l7.log_rotations")                                  \
    X(S, log_rotate_errors, "l7.log_rotate_errors")                          \
    X(S, buffer_exceeded, "l7.buffer_exceeded")                              \
    X(S, tcp_segments, "l7.tcp.segments")                                    \
    X(S, tcp_in_order, "l7.tcp.in_order")                                    \
    X(S, tcp_retransmit, "l7.tcp.retransmit")                                \
    X(S, tcp_overlap, "l7.tcp.overlap")                                      \
    X(S, tcp_out_of_order, "l7.tcp.out_of_order")                            \
    X(S, tcp_gap, "l7.tcp.gap")                                              \
    X(S, tcp_gap_bytes, "l7.tcp.gap_bytes")                                  \
    X(S, tcp_mid_stream, "l7.tcp.mid_stream")                                \
    X(S, tcp_ooo_dropped, "l7.tcp.ooo_dropped")                              \
    X(S, dpi_flows, "l7.dpi.flows")                                          \
    X(S, dpi_detected, "l7.dpi.detected")                                    \
    X(S, dpi_guessed, "l7.dpi.guessed")                                      \
    X(S, dpi_undetected, "l7.dpi.undetected")                                \
    X(S, dpi_alloc_failed, "l7.dpi.alloc_failed")
MC_CTR_DECLARE(l7, MC_L7_CTRS)

#endif /* MC_L7_L7_H */
