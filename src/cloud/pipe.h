/*
 * pipe.h - plain Redis commands pipelined to one node: the cloud writer's
 * bulk channel (docs/internals/cloud-writer.md).
 *
 * The writer sends hundreds of plain commands per key batch (HINCRBY,
 * HSETNX, HSET, PEXPIRE, ZINCRBY, PUBLISH, XADD, ...).  Through hiredis each
 * would cost a callback allocation, a reply object and a callback, several
 * times what encoding it costs, so a pipe is its own connection to the node
 * (beside the hiredis one of conn.c, which keeps lookups, users and the
 * heartbeat): a request is one buffer of already encoded commands and the
 * number of replies it expects; replies are scanned, never built, into the
 * request's array of small results (an integer, or the kind of an error),
 * and the request's callback runs once, when its last reply is in.
 *
 * Life: CLOSED -> CONNECTING (non-blocking connect, connect timeout) ->
 * HANDSHAKE (AUTH, SELECT, pipelined; their replies must be OK) -> READY.
 * A request is never failed while the connection lives: a node that leaves
 * one unanswered for command_timeout_ms is only held back (no new requests)
 * until it answers, as conn.c does, so no command can run twice.  A lost
 * connection (EOF, reset, keepalive) fails every request in flight (callback
 * with ok 0: the caller requeues) and reconnects after a backoff.
 *
 * Every function must be called from the thread running the loop.
 */
#ifndef MC_CLOUD_PIPE_H
#define MC_CLOUD_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/conn.h"

struct ev_loop;

/* Reply types, numbered as hiredis numbers them (REDIS_REPLY_*). */
enum { MC_PIPE_STRING = 1, MC_PIPE_ARRAY = 2, MC_PIPE_INTEGER = 3, MC_PIPE_NIL = 4, MC_PIPE_STATUS = 5,
       MC_PIPE_ERROR = 6 };

/* What an error reply says, for the writer to decide: requeue (redirected, retry later) or drop. */
enum { MC_PIPE_ERR_NONE, MC_PIPE_ERR_MOVED, MC_PIPE_ERR_ASK, MC_PIPE_ERR_RETRY, MC_PIPE_ERR_NOSCRIPT,
       MC_PIPE_ERR_OTHER };

struct mc_cloud_pipe_reply {
    int64_t v;        /* MC_PIPE_INTEGER: the value */
    uint8_t type;     /* MC_PIPE_* */
    uint8_t err;      /* MC_PIPE_ERROR: MC_PIPE_ERR_* */
};

struct mc_cloud_pipe_req;
typedef void (*mc_cloud_pipe_done_fn)(struct mc_cloud_pipe_req *q, int ok);

/* One request: its buffer and reply array are the caller's, borrowed until done runs. */
struct mc_cloud_pipe_req {
    const char *buf;            /* n encoded commands */
    size_t len;
    uint32_t n;                 /* replies expected (commands in buf) */
    struct mc_cloud_pipe_reply *r; /* n entries, filled in order */
    mc_cloud_pipe_done_fn done; /* ok 1: every reply is in r; 0: connection lost (r partly filled) */
    void *privdata;
    /* the pipe's */
    struct mc_cloud_pipe_req *next;
    size_t written;
    uint32_t got;
    double sent;
};

struct mc_cloud_pipe;

/*
 * A pipe to the node at addr ("host:port", "[v6]:port", "unix:/path"; copied),
 * authenticating and selecting as cfg says (select_db 0: no SELECT, as in a
 * cluster).  It connects when asked (mc_cloud_pipe_connect).  on_ready(ctx)
 * runs each time it becomes ready.  NULL on a bad address or no memory.
 * Free with mc_cloud_pipe_free, which fails what is in flight.
 */
struct mc_cloud_pipe *mc_cloud_pipe_new(struct ev_loop *loop, const char *addr, const struct mc_cloud_conn_config *cfg,
                                        int select_db, void (*on_ready)(void *ctx), void *ctx);
void mc_cloud_pipe_free(struct mc_cloud_pipe *p);

/* Starts connecting when closed and its backoff has passed (asynchronous). */
void mc_cloud_pipe_connect(struct mc_cloud_pipe *p);

/* 1 when connected, past its handshake and answering. */
int mc_cloud_pipe_ready(const struct mc_cloud_pipe *p);

/* Queues q for writing; 0, or -1 when not ready (q untouched, done never called). */
int mc_cloud_pipe_send(struct mc_cloud_pipe *p, struct mc_cloud_pipe_req *q);

/* Requests awaiting their replies. */
uint32_t mc_cloud_pipe_inflight(const struct mc_cloud_pipe *p);

/* The last connection or protocol error as one line, "" when none; borrowed until the next call. */
const char *mc_cloud_pipe_errstr(const struct mc_cloud_pipe *p);

/* The last error reply to a request ("OOM command not allowed ..."), "" when none; p may be NULL. */
const char *mc_cloud_pipe_last_reply_error(const struct mc_cloud_pipe *p);

/* 1 when a request went unanswered for command_timeout_ms (held back until it answers); p may be NULL. */
int mc_cloud_pipe_stalled(const struct mc_cloud_pipe *p);

/*
 * Scans one RESP reply at p[0..n): fills *out and returns its length, 0 when
 * incomplete, -1 when it is not RESP.  Arrays are skipped whole (type
 * ARRAY), to a depth of 8.  For the tests and the fuzzer.
 */
long mc_cloud_pipe_scan(const char *p, size_t n, struct mc_cloud_pipe_reply *out);

/* Its counters (cloud.pipe.*) are in the cloud_conn group (conn.h). */

#endif
