/*
 * conn.h - connections to the cloud's Redis nodes, inside the cloud thread.
 *
 * One hiredis asynchronous context per node, attached to the cloud thread's
 * libev loop.  Standalone mode routes a key with mc_cloud_node_for_key over
 * the --redis nodes; cluster mode (--redis-cluster, or a seed that answers as
 * a cluster node) routes by slot to the master that owns it, from CLUSTER
 * SLOTS, follows MOVED (refreshing the slot map) and ASK (ASKING + retry on
 * the target), and refreshes the map on topology changes.  A lost node is
 * reconnected with exponential backoff (a dead TCP peer is found by
 * keepalive; a merely slow one is held back, never dropped, so no command
 * can run twice); commands are bounded per node
 * (max_inflight): mc_cloud_conn_command refuses rather than queue without
 * bound, and the caller keeps its data for the next flush.
 *
 * Every function must be called from the thread running the loop.
 */
#ifndef MC_CLOUD_CONN_H
#define MC_CLOUD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"

struct ev_loop;
struct redisReply;

#define MC_CLOUD_MAX_NODES 64

struct mc_cloud_conn_config {
    const char *nodes[MC_CLOUD_MAX_NODES]; /* borrowed: "host:port", "[v6]:port", "unix:/path" */
    int n_nodes;
    int cluster;                  /* 1: nodes[] are cluster seeds; 0: standalone shards */
    const char *user;             /* borrowed: ACL user for AUTH, NULL for the default user */
    const char *password;         /* borrowed: NULL: no AUTH */
    int db;                       /* SELECT db (standalone only) */
    uint32_t connect_timeout_ms;  /* default 1000 */
    uint32_t command_timeout_ms;  /* a node that leaves a command unanswered this long gets no new ones until it
                                     answers (its commands are kept, not failed: they may still run); default 2000 */
    uint32_t max_inflight;        /* commands awaiting a reply, per node; default 10000 */
    uint32_t backoff_min_ms, backoff_max_ms; /* reconnect delay doubles from min to max; defaults 100, 5000 */
    /* Called after a node (re)connects and authenticates, before any command
     * is sent to it: load scripts there.  node is an index for
     * mc_cloud_conn_command_node. */
    void (*on_connect)(void *ctx, int node);
    void *ctx;
};

void mc_cloud_conn_config_defaults(struct mc_cloud_conn_config *cfg);

/*
 * The programs' --redis / --redis-cluster (cluster 1) and --redis-auth:
 * list is a kept copy of "NODE[,NODE...]", split in place (the nodes point
 * into it); userpass a kept copy of "[USER:]PASSWORD".  0, or -1 with err
 * (too many nodes, the two kinds mixed).
 */
int mc_cloud_conn_config_add_nodes(struct mc_cloud_conn_config *cfg, char *list, int cluster, char *err,
                                   size_t errlen);
void mc_cloud_conn_config_auth(struct mc_cloud_conn_config *cfg, char *userpass);

/*
 * A command's outcome: reply is the server's answer (borrowed for the call;
 * may be an error reply other than MOVED/ASK, which are handled inside), or
 * NULL when the command could not be delivered (connection lost, timeout,
 * redirection loop): the caller decides whether to keep its data.
 */
typedef void (*mc_cloud_reply_fn)(void *privdata, struct redisReply *reply);

struct mc_cloud_conn;

/*
 * Creates the connection set on loop and starts connecting (asynchronously,
 * but for resolving host names).  Returns NULL with err on a bad
 * configuration (address syntax, a host name that does not exist).  Free
 * with mc_cloud_conn_free, which calls every pending reply callback with
 * NULL.
 */
struct mc_cloud_conn *mc_cloud_conn_new(struct ev_loop *loop, const struct mc_cloud_conn_config *cfg, char *err,
                                        size_t errlen);
void mc_cloud_conn_free(struct mc_cloud_conn *c);

/*
 * Sends a command whose key is key (routing), argv-style.  Returns 0 when
 * queued (fn is then called exactly once), -1 when the key's node is not
 * connected or has max_inflight commands pending (fn is not called).
 */
int mc_cloud_conn_command(struct mc_cloud_conn *c, const char *key, size_t keylen, int argc, const char **argv,
                          const size_t *argvlen, mc_cloud_reply_fn fn, void *privdata);

/* Same, to a given node index (0 <= node < mc_cloud_conn_nodes). */
int mc_cloud_conn_command_node(struct mc_cloud_conn *c, int node, int argc, const char **argv,
                               const size_t *argvlen, mc_cloud_reply_fn fn, void *privdata);

/*
 * Standalone only: sends a command already encoded in RESP (len bytes at
 * cmd, borrowed for the call) to node.  For callers that build big commands
 * faster than an argv would be encoded.  Same returns as mc_cloud_conn_command;
 * -1 in cluster mode, where a command must stay re-sendable for redirections.
 */
int mc_cloud_conn_command_resp(struct mc_cloud_conn *c, int node, const char *cmd, size_t len, mc_cloud_reply_fn fn,
                               void *privdata);

/*
 * Cluster only (else nothing): the slot map is stale (a MOVED seen on
 * another connection to the nodes, such as a pipe's); a CLUSTER SLOTS
 * refresh is scheduled, coalesced with any other.
 */
void mc_cloud_conn_refresh_slots(struct mc_cloud_conn *c);

/* Nodes currently known (standalone: n_nodes; cluster: masters in the slot map). */
int mc_cloud_conn_nodes(const struct mc_cloud_conn *c);

/* The node index a key routes to now, or -1 (cluster map not known yet). */
int mc_cloud_conn_node_of(const struct mc_cloud_conn *c, const char *key, size_t keylen);

/* 1 when node is connected, authenticated and under max_inflight. */
int mc_cloud_conn_ready(const struct mc_cloud_conn *c, int node);

/* 1 when node is connected, authenticated and answering (however many commands wait for it). */
int mc_cloud_conn_up(const struct mc_cloud_conn *c, int node);

/*
 * At start, before the loop runs anywhere else: runs it until every node
 * given has answered its handshake or failed once (at most the connect
 * timeout and half a second).  A node that refused the configuration
 * (authentication, SELECT, --redis-cluster at a node that is not a cluster
 * node) makes it return -1 with "node: cause" in err: retrying would not
 * help.  A node that cannot be reached is not an error (it may come up
 * later): it was logged as a warning, and is retried.  0 otherwise.
 */
int mc_cloud_conn_check(struct mc_cloud_conn *c, char *err, size_t errlen);

/* Commands awaiting a reply on all nodes. */
uint32_t mc_cloud_conn_inflight(const struct mc_cloud_conn *c);

/* 1 when in cluster mode (configured, or detected from the seed's answer). */
int mc_cloud_conn_is_cluster(const struct mc_cloud_conn *c);

/* Printable "host:port" of node (for logs and the heartbeat). */
const char *mc_cloud_conn_node_name(const struct mc_cloud_conn *c, int node);

/* The last connection, authentication or protocol error as one line, "" when
 * none yet (rule 9: long-lived handles carry their error text); borrowed:
 * valid until the next call into c. */
const char *mc_cloud_conn_errstr(const struct mc_cloud_conn *c);

/*
 * Parses one node address: "host:port", "[v6]:port", "unix:/path", or a
 * host alone (port 6379; a bare IPv6 literal counts as a host).  host
 * (OUT, hostlen bytes) receives the host or the socket path, *port (OUT) the
 * port (0 for unix), *is_unix (OUT) 1 for a socket.  Returns 0, or -1 with a
 * message in err.  mc_cloud_conn_new uses it; the option parser may too.
 */
int mc_cloud_conn_parse_addr(const char *spec, char *host, size_t hostlen, int *port, int *is_unix, char *err,
                             size_t errlen);

#define MC_CLOUD_CONN_CTRS(X, S)                                           \
    X(S, connects, "cloud.conn.connects")                                 \
    X(S, connect_errors, "cloud.conn.connect_errors")                     \
    X(S, disconnects, "cloud.conn.disconnects")                           \
    X(S, timeouts, "cloud.conn.timeouts")                                 \
    X(S, commands, "cloud.conn.commands")                                 \
    X(S, replies, "cloud.conn.replies")                                   \
    X(S, error_replies, "cloud.conn.error_replies")                       \
    X(S, refused_not_ready, "cloud.conn.refused_not_ready")               \
    X(S, moved, "cloud.conn.moved")                                       \
    X(S, ask, "cloud.conn.ask")                                           \
    X(S, slot_refreshes, "cloud.conn.slot_refreshes")                     \
    X(S, auth_errors, "cloud.conn.auth_errors")                           \
    X(S, pipe_connects, "cloud.pipe.connects")                            \
    X(S, pipe_connect_errors, "cloud.pipe.connect_errors")                \
    X(S, pipe_disconnects, "cloud.pipe.disconnects")                      \
    X(S, pipe_timeouts, "cloud.pipe.timeouts")                            \
    X(S, pipe_requests, "cloud.pipe.requests")                            \
    X(S, pipe_commands, "cloud.pipe.commands")                            \
    X(S, pipe_bytes, "cloud.pipe.bytes")                                  \
    X(S, pipe_error_replies, "cloud.pipe.error_replies")                  \
    X(S, pipe_failed, "cloud.pipe.failed")                                \
    X(S, pipe_protocol_errors, "cloud.pipe.protocol_errors")
MC_CTR_DECLARE(cloud_conn, MC_CLOUD_CONN_CTRS)

#endif
