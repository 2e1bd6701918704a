/*
 * mccollector.h - the collector program: its configuration (options.c), its
 * sockets (input.c) and its receive loop (main.c).  The decoders and stores
 * are the collector library (src/collector/).
 */
#ifndef MC_MCCOLLECTOR_H
#define MC_MCCOLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"
#include "collector/store.h"
#include "common/cidr.h"
#include "common/options.h"

#define MCC_MAX_ALLOW 64

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
    int no_store;
    struct mc_store_config store;
    struct mc_coll_config coll;
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
enum { MCC_FLOWS = 1, MCC_SFLOW = 2 };

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
    X(S, errors, "input.errors")
MC_CTR_DECLARE(input, MCC_INPUT_CTRS)

#endif
