/*
 * mysql.h - the MySQL / MariaDB analyzer's pure message parsers (no flow
 * state, no output), what the unit tests and the fuzz target call directly.
 * The analyzer itself is mc_l7_mysql (mysql.c); its elements, transactions
 * and counters are described in docs/internals/analyzers-mysql.md.
 */
#ifndef MC_L7_MYSQL_H
#define MC_L7_MYSQL_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"
#include "l7/l7.h"

#define MC_MYSQL_NAME_MAX 63   /* text bytes kept of a version, user or database name */
#define MC_MYSQL_MSG_MAX 255   /* text bytes kept of an error message */
#define MC_MYSQL_AGG_TTL_MS 3600000u /* mysql.server.<addr>:<port> lives an hour after its last update */

/* Capability flags we read (include/mysql_com.h). */
#define MC_MYSQL_CONNECT_WITH_DB 0x00000008u
#define MC_MYSQL_COMPRESS 0x00000020u
#define MC_MYSQL_PROTOCOL_41 0x00000200u
#define MC_MYSQL_SSL 0x00000800u
#define MC_MYSQL_SECURE_CONNECTION 0x00008000u
#define MC_MYSQL_PLUGIN_AUTH 0x00080000u
#define MC_MYSQL_PLUGIN_AUTH_LENENC 0x00200000u
#define MC_MYSQL_DEPRECATE_EOF 0x01000000u
#define MC_MYSQL_QUERY_ATTRIBUTES 0x08000000u

/* What a parser returns: 0 read, -1 not usable (counted under l7.mysql.<reason>). */

/* The server greeting (Protocol::HandshakeV10), payload without the 4-byte header. */
struct mc_mysql_greeting {
    char version[MC_MYSQL_NAME_MAX + 1]; /* NUL-terminated, cut to MC_MYSQL_NAME_MAX */
    uint32_t caps;                       /* server capabilities (upper half 0 when absent) */
};
int mc_l7_mysql_greeting(const uint8_t *p, size_t n, struct mc_mysql_greeting *g);

/* The client's handshake response (HandshakeResponse41 or 320), or an SSLRequest. */
struct mc_mysql_login {
    uint32_t caps;                    /* client capabilities */
    uint8_t ssl;                      /* an SSLRequest: TLS follows, nothing else is in it */
    char user[MC_MYSQL_NAME_MAX + 1];
    char db[MC_MYSQL_NAME_MAX + 1];   /* empty without CLIENT_CONNECT_WITH_DB */
};
/* plen is the packet's declared length (n may be less: a kept prefix). */
int mc_l7_mysql_login(const uint8_t *p, size_t n, size_t plen, struct mc_mysql_login *lg);

/* COM_CHANGE_USER's payload after the command byte: user, auth data, database. */
int mc_l7_mysql_change_user(const uint8_t *p, size_t n, uint32_t caps, struct mc_mysql_login *lg);

/* An ERR packet (first byte 0xff). */
struct mc_mysql_err {
    uint16_t code;
    char state[6];                    /* SQLSTATE, NUL-terminated, empty before 4.1 */
    uint16_t msg_len;
    char msg[MC_MYSQL_MSG_MAX + 1];
};
int mc_l7_mysql_err(const uint8_t *p, size_t n, struct mc_mysql_err *e);

/*
 * COM_QUERY's payload after the command byte: the statement text, after the
 * query attributes when attrs (CLIENT_QUERY_ATTRIBUTES on both sides).  Sets
 * *q (borrowed, into p) and *qn.  -1 when the attributes cannot be walked.
 */
int mc_l7_mysql_query_text(const uint8_t *p, size_t n, int attrs, const uint8_t **q, size_t *qn);

/* Status flags of an OK (0x00 or 0xfe header) or EOF packet, -1 when unreadable. */
int mc_l7_mysql_status(const uint8_t *p, size_t n);

/* The command's name ("COM_QUERY"), or NULL for a byte no MySQL or MariaDB version sends. */
const char *mc_l7_mysql_command_name(uint8_t cmd);

/* The cheap attach check: a server greeting (length, sequence 0, protocol 10, version digit). */
int mc_l7_mysql_detect(const uint8_t *p, size_t n, int dir);

extern const struct mc_l7_analyzer mc_l7_mysql;

#define MC_L7_MYSQL_CTRS(X, S)                                               \
    X(S, logins, "l7.mysql.logins")                                          \
    X(S, commands, "l7.mysql.commands")                                      \
    X(S, errors, "l7.mysql.errors")                                          \
    X(S, tls, "l7.mysql.tls")                                                \
    X(S, compressed, "l7.mysql.compressed")                                  \
    X(S, bad_greeting, "l7.mysql.bad_greeting")                              \
    X(S, not_mysql, "l7.mysql.not_mysql")                                    \
    X(S, bad_login, "l7.mysql.bad_login")                                    \
    X(S, bad_length, "l7.mysql.bad_length")                                  \
    X(S, bad_result, "l7.mysql.bad_result")                                  \
    X(S, bad_command, "l7.mysql.bad_command")                                \
    X(S, bad_query_attrs, "l7.mysql.bad_query_attrs")                        \
    X(S, large_packet, "l7.mysql.large_packet")                              \
    X(S, packet_refused, "l7.mysql.packet_refused")                          \
    X(S, unexpected_packet, "l7.mysql.unexpected_packet")                    \
    X(S, no_response, "l7.mysql.no_response")                                \
    X(S, response_lost, "l7.mysql.response_lost")                            \
    X(S, gap_in_packet, "l7.mysql.gap_in_packet")                            \
    X(S, gap_resync, "l7.mysql.gap_resync")                                  \
    X(S, resync_skipped, "l7.mysql.resync_skipped")                          \
    X(S, truncated_at_end, "l7.mysql.truncated_at_end")                      \
    X(S, alloc_failed, "l7.mysql.alloc_failed")                              \
    X(S, agg_refused, "l7.mysql.agg_refused")
MC_CTR_DECLARE(l7_mysql, MC_L7_MYSQL_CTRS)

#endif /* MC_L7_MYSQL_H */
