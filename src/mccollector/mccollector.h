/*
 * mccollector.h - the collector program: its configuration (options.c), its
 * sockets (input.c) and its receive loop (main.c).  The decoders and stores
 * are the collector library (src/collector/).
 */
#ifndef MC_MCCOLLECTOR_H
#define MC_MCCOLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/conn.h"
#include "collector/collector.h"
#include "collector/flow.h"
#include "collector/output.h"
#include "collector/store.h"
#include "common/cidr.h"
#include "common/options.h"

#define MCC_MAX_ALLOW 64
#define MCC_MAX_PATTERNS 16

/* The cloud the collector reads (--redis): the probe's connection settings. */
struct mcc_cloud_conf {
    struct mc_cloud_conn_config conn;
    const char *prefix;  /* --cloud-prefix, "" default */
};

struct mcc_conf {
    const char *bind;         /* -b: "" every address (IPv6 and IPv4), else one address */
    int udp_port;             /* -p: NetFlow v5/v9 and IPFIX over UDP; 0 off */
    int tcp_port;             /* --ipfix-tcp; 0 off */
    int sflow_port;           /* --sflow; 0 off */
    struct mc_cidr allow[MCC_MAX_ALLOW];
    int n_allow;              /* 0: every exporter */
    int rcvbuf;               /* SO_RCVBUF asked for, bytes */
    const char *json_path;    /* --json: NULL none, "-" stdout */
    const char *store_path;   /* --store (SQLite) */
    const char *clickhouse;   /* --clickhouse URL: the ClickHouse store instead of SQLite; NULL none */
    int no_store;
    struct mc_store_config store;
    struct mc_coll_config coll;
    struct mcc_cloud_conf cloud; /* conn.n_nodes 0: no cloud */
    uint32_t enrich_wait_ms;     /* --enrich-wait */
    size_t enrich_queue;         /* --enrich-queue */
    const char *patterns[MCC_MAX_PATTERNS]; /* --subscribe */
    int n_patterns;
    const char *consumer_group;  /* --consumer-group: the events stream instead of pub/sub */
    const char *consumer;        /* --consumer, default the host name */
    int to_cloud;                /* --to-cloud: flows feed ip.<addr> counters */
    double stats_interval;
    const char *counters_path;
    int verbose, quiet, help, version, dump_config;
};

extern const struct mc_opt mcc_opts[];
extern const size_t mcc_n_opts;

void mcc_conf_defaults(struct mcc_conf *conf);
void mcc_conf_release(struct mcc_conf *conf);

/* ---- input.c ---------------------------------------------------------------- */

struct mcc_input;

/* A datagram or a framed TCP message, and where it came from. */
typedef void (*mcc_message_fn)(void *ctx, int kind, const struct mc_coll_src *src, const uint8_t *p, size_t n);
enum { MCC_FLOWS = 1, MCC_SFLOW = 2, MCC_CLOSED = 3 /* a TCP exporter left: p NULL, n 0 */ };

/* Opens every socket the configuration asks for; NULL with err set. Served by mcc_input_poll. */
struct mcc_input *mcc_input_open(const struct mcc_conf *conf, mcc_message_fn fn, void *ctx, char *err,
                                 size_t errlen);

/*
 * Waits up to timeout_ms for datagrams and connections, and hands every
 * message to the callback (bounded: at most a few batches per socket per
 * call).  Returns the messages handed, or -1 on an error of the wait.
 */
int mcc_input_poll(struct mcc_input *in, int timeout_ms);
void mcc_input_close(struct mcc_input *in);

#define MCC_INPUT_CTRS(X, S)                                          \
    X(S, datagrams, "input.datagrams")                                \
    X(S, bytes, "input.bytes")                                        \
    X(S, refused, "input.refused")                                    \
    X(S, unknown_version, "input.unknown_version")                    \
    X(S, truncated, "input.truncated")                                \
    X(S, tcp_connections, "input.tcp.connections")                    \
    X(S, tcp_refused, "input.tcp.refused")                            \
    X(S, tcp_messages, "input.tcp.messages")                          \
    X(S, tcp_bad_framing, "input.tcp.bad_framing")                    \
    X(S, tcp_too_many, "input.tcp.too_many")                          \
    X(S, tcp_idle_closed, "input.tcp.idle_closed")                    \
    X(S, errors, "input.errors")
MC_CTR_DECLARE(input, MCC_INPUT_CTRS)

/* ---- cloud.c: lookups and events ------------------------------------------------------------ */

struct mcc_cloud;
struct mc_lookup;

/* Starts the lookup thread (and the events thread with --subscribe or --consumer-group); NULL with err. */
struct mcc_cloud *mcc_cloud_start(const struct mcc_conf *conf, char *err, size_t errlen);
void mcc_cloud_stop(struct mcc_cloud *c);
struct mc_lookup *mcc_cloud_lookups(struct mcc_cloud *c);

/*
 * The next event received, 1 (channel and payload handed over: the caller
 * frees them; id the stream entry's, "" for pub/sub), or 0 when none waits.
 */
int mcc_cloud_next_event(struct mcc_cloud *c, char **channel, char **payload, size_t *len, char *id, size_t idlen);

/* A consumer group's entry was written: acknowledge it (XACK, from the events thread). */
void mcc_cloud_ack(struct mcc_cloud *c, const char *id);

#define MCC_CLOUD_CTRS(X, S)                                          \
    X(S, events_received, "cloud.events.received")                   \
    X(S, events_written, "cloud.events.written")                     \
    X(S, events_dropped, "cloud.events.dropped")                     \
    X(S, events_refused, "cloud.events.refused")                     \
    X(S, events_acked, "cloud.events.acked")                         \
    X(S, event_connects, "cloud.events.connects")                    \
    X(S, event_disconnects, "cloud.events.disconnects")              \
    X(S, event_errors, "cloud.events.errors")
MC_CTR_DECLARE(mcc_cloud, MCC_CLOUD_CTRS)

/* ---- enrich.c: the cloud's facts added to flows -------------------------------------------------- */

enum { MCC_ADDED_USER = 1, MCC_ADDED_IMSI = 2, MCC_ADDED_MSISDN = 4, MCC_ADDED_CALL = 8 };

struct mcc_enrich;
typedef void (*mcc_emit_fn)(void *ctx, struct mc_coll_flow *f, const char *json, size_t json_len, int json_fields,
                            unsigned added);

struct mcc_enrich *mcc_enrich_new(struct mc_lookup *l, size_t cap, uint32_t wait_ms);
void mcc_enrich_free(struct mcc_enrich *e);

/* Fills f from the cache; 1 when every answer is known (f is final), 0 when one was asked (hold it). */
int mcc_enrich_now(struct mcc_enrich *e, struct mc_coll_flow *f, unsigned *added);

/* Holds the flow as it came (f unenriched, its JSON up to the closing brace); 0, or -1 when full. */
int mcc_enrich_hold(struct mcc_enrich *e, const struct mc_coll_flow *f, const char *json, size_t json_len,
                    int json_fields, uint64_t now_ms);

/* Emits, in order, the held flows whose answers came or whose wait is over (all: every one). */
void mcc_enrich_release(struct mcc_enrich *e, uint64_t now_ms, int all, mcc_emit_fn emit, void *ctx);
size_t mcc_enrich_held(const struct mcc_enrich *e);

/* The JSON keys of what was added (the probe's names), values pointing into f. */
void mcc_enrich_keys(const struct mc_coll_flow *f, unsigned added, struct mc_coll_enrichment *out);

/* Counts a flow's additions (enrich.users, .subscribers, .calls). */
void mcc_enrich_count(unsigned added);

#define MCC_ENRICH_CTRS(X, S)                                         \
    X(S, flows, "enrich.flows")                                       \
    X(S, users, "enrich.users")                                       \
    X(S, subscribers, "enrich.subscribers")                           \
    X(S, calls, "enrich.calls")                                       \
    X(S, held, "enrich.held")                                         \
    X(S, unanswered, "enrich.unanswered")                             \
    X(S, queue_full, "enrich.queue_full")
MC_CTR_DECLARE(enrich, MCC_ENRICH_CTRS)

#endif
