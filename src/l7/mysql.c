/*
 * mysql.c - MySQL / MariaDB client/server protocol analyzer: logins
 * (server version, user, database, TLS upgrade) and commands with their
 * results (OK, ERR code and message, result sets skipped), as transactions.
 *
 * Reference: MySQL Source Code Documentation, "Client/Server Protocol"
 * (dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html); MariaDB
 * "Clients & Connectors / Client/Server Protocol".
 *
 * Every packet, both ways:
 *
 *    0               1               2               3
 *   +---------------+---------------+---------------+---------------+
 *   |        payload_length (3 octets, little-endian)| sequence_id  |
 *   +---------------+---------------+---------------+---------------+
 *   |  payload ...                                                  |
 *
 * "payload_length: Length of the payload. The number of bytes in the packet
 * beyond the initial 4 bytes that make up the packet header."  A payload of
 * 0xffffff bytes is continued by the next packet (until one is shorter):
 * "If a MySQL client or server wants to send data, it [...] splits the data
 * into packets of size 2^24-1 bytes".  We read the first packet's prefix and
 * skip the continuations (l7.mysql.large_packet).
 *
 * The exchange: server greeting (seq 0, protocol 10), the client's
 * handshake response (seq 1; an SSLRequest instead means TLS follows: we say
 * so and stop), authentication round trips until the server's OK or ERR;
 * then commands (seq 0 from the client), each answered by OK, ERR, EOF or a
 * result set (column count, column definitions, [EOF], rows, EOF or OK).
 * A session that agreed on the compressed protocol is read up to its login.
 *
 * Only a prefix of each packet is kept when it spans segments (the
 * statement text, an error message): rows and long values are skipped
 * without buffering.  A gap inside a payload keeps the framing (we know how
 * many bytes were lost); a gap across a header loses it until the client's
 * next command (l7.mysql.gap_resync).
 */
#include "l7/mysql.h"

#include "common/json.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cloud/agg.h"
#include "common/cur.h"

MC_CTR_DEFINE(l7_mysql, MC_L7_MYSQL_CTRS)

#define PKT_MAX 0xffffffu              /* payload length that announces a continuation */
#define SERVER_MORE_RESULTS 0x0008     /* status flag: another result set follows */
#define QUERY_REC_MAX 511              /* statement bytes kept for the flow record */
#define SERVER_KEEP 1024               /* server payload bytes kept: greeting, OK, ERR, EOF */
#define CLIENT_KEEP_EXTRA 4096         /* client bytes kept beyond --l7-max-text: query attributes */
#define MYSQL_PORT 3306

/* Commands whose handling differs (include/my_command.h). */
#define COM_QUIT 0x01
#define COM_INIT_DB 0x02
#define COM_QUERY 0x03
#define COM_FIELD_LIST 0x04
#define COM_PROCESS_INFO 0x0a
#define COM_CONNECT 0x0b               /* never sent: our transaction name for a login, as MySQL's processlist */
#define COM_CHANGE_USER 0x11
#define COM_STMT_PREPARE 0x16
#define COM_STMT_EXECUTE 0x17
#define COM_STMT_SEND_LONG_DATA 0x18
#define COM_STMT_CLOSE 0x19
#define COM_STMT_FETCH 0x1c

enum phase {
    PH_GREETING, /* waiting for the server greeting */
    PH_LOGIN,    /* waiting for the client's handshake response */
    PH_AUTH,     /* authentication round trips until OK or ERR */
    PH_CMD,      /* commands and their results */
    PH_OFF       /* TLS, or not MySQL: nothing more to read */
};

/* Where the pending command's response is. */
enum resp {
    R_NONE,     /* no command pending */
    R_FIRST,    /* waiting for the first response packet */
    R_AUTH,     /* COM_CHANGE_USER: authentication round trips */
    R_INFILE,   /* LOCAL INFILE: the client sends a file, then OK or ERR */
    R_FIELDS,   /* COM_FIELD_LIST: column definitions until EOF */
    R_COLS,     /* result set: column definitions */
    R_COLS_END, /* result set: an EOF may close the columns (no CLIENT_DEPRECATE_EOF) */
    R_ROWS,     /* result set: rows until EOF/OK or ERR */
    R_SKIP      /* transaction emitted; what follows of the response is not read */
};

/* One direction's packet framing. */
struct rx {
    struct mc_l7_body body; /* the current packet's payload (owned buffer) */
    uint8_t hdr[4], hlen; /* header bytes collected */
    uint8_t seq;
    uint8_t cont;         /* the next packet continues a 16 MiB one */
    uint8_t resync;       /* framing lost: waiting for a plausible header at a segment start */
};

/* The flow record: each element's first value in the flow. */
struct rec {
    char version[MC_MYSQL_NAME_MAX + 1], user[MC_MYSQL_NAME_MAX + 1], db[MC_MYSQL_NAME_MAX + 1];
    char cmd[24];
    char *query, *msg;     /* owned, NUL-terminated, allocated to their size when first seen */
    uint16_t query_len, msg_len;
    uint16_t err_code;
    uint8_t has_err, has_resp, has_tls, tls;
    uint32_t resp_ms;
};

/* Everything a MySQL flow keeps, allocated at attach (the fixed state is one pointer). */
struct sess {
    struct rx rx[2];
    uint8_t srv;           /* direction the server sends */
    uint8_t phase, resp;
    uint8_t pend;          /* a transaction is open */
    uint8_t cmd;           /* its command byte (COM_CONNECT for a login) */
    uint8_t has_err, tls;
    uint8_t caps_known;    /* greeting and handshake response both seen */
    uint32_t srv_caps, cli_caps;
    uint32_t cols_left;    /* column definitions still to come */
    uint64_t t_req, t_resp; /* epoch ms of the request and of the first response packet (0: none) */
    struct mc_mysql_err err;
    char version[MC_MYSQL_NAME_MAX + 1];
    char user[MC_MYSQL_NAME_MAX + 1], db[MC_MYSQL_NAME_MAX + 1];         /* the session's */
    char arg_user[MC_MYSQL_NAME_MAX + 1], arg_db[MC_MYSQL_NAME_MAX + 1]; /* what the request asked for */
    char *text;            /* owned: the pending statement; text_cap grows to what one needed, at most --l7-max-text */
    size_t text_len, text_cap;
    struct rec rec;
};

struct mysql_state {
    struct sess *s; /* owned, NULL when its allocation failed */
};

/* ---- pure parsers ------------------------------------------------------- */

static void copy_name(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    if (n)
        memcpy(dst, p, n);
    dst[n] = 0;
}

/* A NUL-terminated string at the cursor: *s, *n set, the NUL consumed.  -1 (cursor failed) without NUL. */
static int cur_cstr(struct mc_cur *c, const uint8_t **s, size_t *n)
{
    size_t left = mc_cur_left(c);
    const uint8_t *p = mc_cur_ptr(c);
    const uint8_t *z = left ? memchr(p, 0, left) : NULL;
    if (!z) {
        mc_cur_fail(c);
        return -1;
    }
    *s = p;
    *n = (size_t)(z - p);
    mc_cur_skip(c, *n + 1);
    return 0;
}

/* The rest of the window as a string, up to a NUL if there is one (lenient for a last field). */
static void cur_rest(struct mc_cur *c, const uint8_t **s, size_t *n)
{
    size_t left = mc_cur_left(c);
    const uint8_t *p = mc_cur_ptr(c);
    const uint8_t *z = left ? memchr(p, 0, left) : NULL;
    *s = p;
    *n = z ? (size_t)(z - p) : left;
    mc_cur_skip(c, z ? *n + 1 : *n);
}

/* Length-encoded integer; NULL (0xfb) and 0xff fail the cursor. */
static uint64_t cur_lenenc(struct mc_cur *c)
{
    uint8_t b = mc_cur_u8(c);
    switch (b) {
    case 0xfc:
        return mc_cur_le16(c);
    case 0xfd: {
        uint32_t lo = mc_cur_le16(c);
        return lo | (uint32_t)mc_cur_u8(c) << 16;
    }
    case 0xfe: {
        uint64_t lo = mc_cur_le32(c);
        return lo | (uint64_t)mc_cur_le32(c) << 32;
    }
    case 0xfb:
    case 0xff:
        mc_cur_fail(c);
        return 0;
    default:
        return b;
    }
}

/* Skips a declared length, failing the cursor when it runs past the window. */
static void cur_skip64(struct mc_cur *c, uint64_t n)
{
    if (n > mc_cur_left(c))
        mc_cur_fail(c);
    else
        mc_cur_skip(c, (size_t)n);
}

int mc_l7_mysql_greeting(const uint8_t *p, size_t n, struct mc_mysql_greeting *g)
{
    memset(g, 0, sizeof(*g));
    struct mc_cur c = mc_cur_make(p, n);
    if (mc_cur_u8(&c) != 10) {
        MC_CTR_INC(l7_mysql, not_mysql);
        return -1;
    }
    const uint8_t *v = NULL;
    size_t vn = 0;
    cur_cstr(&c, &v, &vn);
    mc_cur_skip(&c, 4 + 8 + 1); /* connection id, auth-plugin-data-part-1, filler */
    uint32_t caps = mc_cur_le16(&c);
    if (!mc_cur_ok(&c)) {
        MC_CTR_INC(l7_mysql, bad_greeting);
        return -1;
    }
    if (mc_cur_left(&c) >= 5) {
        mc_cur_skip(&c, 3); /* character set, status flags */
        caps |= (uint32_t)mc_cur_le16(&c) << 16;
    }
    copy_name(g->version, sizeof(g->version), v, vn);
    g->caps = caps;
    return 0;
}

/* The auth data after the user name: its framing depends on the capabilities. */
static void skip_auth(struct mc_cur *c, uint32_t caps)
{
    const uint8_t *s;
    size_t sn;
    if (caps & MC_MYSQL_PLUGIN_AUTH_LENENC)
        cur_skip64(c, cur_lenenc(c));
    else if (caps & MC_MYSQL_SECURE_CONNECTION)
        cur_skip64(c, mc_cur_u8(c));
    else
        cur_cstr(c, &s, &sn);
}

int mc_l7_mysql_login(const uint8_t *p, size_t n, size_t plen, struct mc_mysql_login *lg)
{
    memset(lg, 0, sizeof(*lg));
    struct mc_cur c = mc_cur_make(p, n);
    uint32_t caps = mc_cur_le16(&c);
    if (!mc_cur_ok(&c)) {
        MC_CTR_INC(l7_mysql, bad_login);
        return -1;
    }
    const uint8_t *s;
    size_t sn;
    if (caps & MC_MYSQL_PROTOCOL_41) {
        c = mc_cur_make(p, n);
        caps = mc_cur_le32(&c);
        mc_cur_skip(&c, 4 + 1 + 23); /* max packet size, character set, filler */
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_mysql, bad_login);
            return -1;
        }
        lg->caps = caps;
        if ((caps & MC_MYSQL_SSL) && plen == 32) { /* SSLRequest: the fixed part alone */
            lg->ssl = 1;
            return 0;
        }
        if (cur_cstr(&c, &s, &sn) != 0) {
            MC_CTR_INC(l7_mysql, bad_login);
            return -1;
        }
        copy_name(lg->user, sizeof(lg->user), s, sn);
        skip_auth(&c, caps);
    } else { /* HandshakeResponse320 */
        mc_cur_skip(&c, 3);
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_mysql, bad_login);
            return -1;
        }
        lg->caps = caps;
        if ((caps & MC_MYSQL_SSL) && plen == 5) {
            lg->ssl = 1;
            return 0;
        }
        if (cur_cstr(&c, &s, &sn) != 0) {
            MC_CTR_INC(l7_mysql, bad_login);
            return -1;
        }
        copy_name(lg->user, sizeof(lg->user), s, sn);
        if (caps & MC_MYSQL_CONNECT_WITH_DB)
            cur_cstr(&c, &s, &sn); /* auth data, NUL-terminated before a database */
    }
    if (!mc_cur_ok(&c)) {
        /* the user is read; the auth data's length runs past the packet */
        MC_CTR_INC(l7_mysql, bad_length);
        return 0;
    }
    if (caps & MC_MYSQL_CONNECT_WITH_DB) {
        cur_rest(&c, &s, &sn);
        copy_name(lg->db, sizeof(lg->db), s, sn);
    }
    return 0;
}

int mc_l7_mysql_change_user(const uint8_t *p, size_t n, uint32_t caps, struct mc_mysql_login *lg)
{
    memset(lg, 0, sizeof(*lg));
    struct mc_cur c = mc_cur_make(p, n);
    const uint8_t *s;
    size_t sn;
    if (cur_cstr(&c, &s, &sn) != 0) {
        MC_CTR_INC(l7_mysql, bad_command);
        return -1;
    }
    copy_name(lg->user, sizeof(lg->user), s, sn);
    /* COM_CHANGE_USER's auth data is 1-byte-length framed with 4.1 authentication, else NUL-terminated */
    if (caps & MC_MYSQL_SECURE_CONNECTION)
        cur_skip64(&c, mc_cur_u8(&c));
    else
        cur_cstr(&c, &s, &sn);
    if (!mc_cur_ok(&c)) {
        MC_CTR_INC(l7_mysql, bad_length);
        return 0;
    }
    cur_rest(&c, &s, &sn);
    copy_name(lg->db, sizeof(lg->db), s, sn);
    return 0;
}

int mc_l7_mysql_err(const uint8_t *p, size_t n, struct mc_mysql_err *e)
{
    memset(e, 0, sizeof(*e));
    struct mc_cur c = mc_cur_make(p, n);
    uint8_t b = mc_cur_u8(&c);
    e->code = mc_cur_le16(&c);
    if (!mc_cur_ok(&c) || b != 0xff) {
        MC_CTR_INC(l7_mysql, bad_result);
        return -1;
    }
    if (mc_cur_peek8(&c, 0) == '#' && mc_cur_left(&c) >= 6) {
        mc_cur_skip(&c, 1);
        mc_cur_bytes(&c, e->state, 5);
    }
    size_t mn = mc_cur_left(&c);
    if (mn > MC_MYSQL_MSG_MAX)
        mn = MC_MYSQL_MSG_MAX;
    memcpy(e->msg, mc_cur_ptr(&c), mn);
    e->msg[mn] = 0;
    e->msg_len = (uint16_t)mn;
    return 0;
}

/* Skips one binary-protocol value of the given type; fails the cursor on an unknown type. */
static void skip_binary_value(struct mc_cur *c, uint8_t type)
{
    switch (type) {
    case 0x06: /* NULL */
        break;
    case 0x01: /* TINY */
        mc_cur_skip(c, 1);
        break;
    case 0x02: /* SHORT */
    case 0x0d: /* YEAR */
        mc_cur_skip(c, 2);
        break;
    case 0x03: /* LONG */
    case 0x09: /* INT24 */
    case 0x04: /* FLOAT */
        mc_cur_skip(c, 4);
        break;
    case 0x08: /* LONGLONG */
    case 0x05: /* DOUBLE */
        mc_cur_skip(c, 8);
        break;
    case 0x07: /* TIMESTAMP */
    case 0x0a: /* DATE */
    case 0x0b: /* TIME */
    case 0x0c: /* DATETIME */
        mc_cur_skip(c, mc_cur_u8(c));
        break;
    case 0x00: /* DECIMAL */
    case 0x0f: /* VARCHAR */
    case 0x10: /* BIT */
    case 0xf5: /* JSON */
    case 0xf6: /* NEWDECIMAL */
    case 0xf7: /* ENUM */
    case 0xf8: /* SET */
    case 0xf9: /* TINY_BLOB */
    case 0xfa: /* MEDIUM_BLOB */
    case 0xfb: /* LONG_BLOB */
    case 0xfc: /* BLOB */
    case 0xfd: /* VAR_STRING */
    case 0xfe: /* STRING */
    case 0xff: /* GEOMETRY */
        cur_skip64(c, cur_lenenc(c));
        break;
    default:
        mc_cur_fail(c);
        break;
    }
}

int mc_l7_mysql_query_text(const uint8_t *p, size_t n, int attrs, const uint8_t **q, size_t *qn)
{
    *q = p;
    *qn = n;
    if (!attrs)
        return 0;
    /* parameter_count, parameter_set_count (always 1), then when count > 0: null bitmap,
       new_params_bind_flag, (type, name) per parameter, the non-NULL values */
    struct mc_cur c = mc_cur_make(p, n);
    uint64_t np = cur_lenenc(&c);
    cur_lenenc(&c);
    if (mc_cur_ok(&c) && np > 0) {
        /* every parameter takes at least 3 bytes (type, flag, name length): bounds the walk */
        if (np > mc_cur_left(&c) / 3) {
            MC_CTR_INC(l7_mysql, bad_length);
            return -1;
        }
        size_t nb = (size_t)(np + 7) / 8;
        const uint8_t *nulls = mc_cur_ptr(&c);
        mc_cur_skip(&c, nb);
        if (mc_cur_u8(&c) != 1)
            mc_cur_fail(&c); /* without types the values cannot be walked */
        struct mc_cur types = c;
        for (uint64_t i = 0; i < np && mc_cur_ok(&c); i++) {
            mc_cur_skip(&c, 2);
            cur_skip64(&c, cur_lenenc(&c));
        }
        for (uint64_t i = 0; i < np && mc_cur_ok(&c); i++) {
            uint8_t type = mc_cur_u8(&types);
            mc_cur_skip(&types, 1);
            cur_skip64(&types, cur_lenenc(&types));
            if (!(nulls[i / 8] >> (i % 8) & 1))
                skip_binary_value(&c, type);
        }
    }
    if (!mc_cur_ok(&c)) {
        MC_CTR_INC(l7_mysql, bad_query_attrs);
        return -1;
    }
    *q = mc_cur_ptr(&c);
    *qn = mc_cur_left(&c);
    return 0;
}

int mc_l7_mysql_status(const uint8_t *p, size_t n)
{
    struct mc_cur c = mc_cur_make(p, n);
    uint8_t b = mc_cur_u8(&c);
    if (b == 0xfe && n < 7) { /* EOF_Packet: 0xfe, warnings, status */
        if (n < 5)
            return n == 1 ? 0 : -1; /* a pre-4.1 EOF is the marker alone */
        mc_cur_skip(&c, 2);
        return mc_cur_le16(&c);
    }
    if (b != 0x00 && b != 0xfe)
        return -1;
    cur_lenenc(&c); /* affected rows */
    cur_lenenc(&c); /* last insert id */
    uint16_t st = mc_cur_le16(&c);
    return mc_cur_ok(&c) ? st : -1;
}

static const char *const com_names[] = {
    "COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST", "COM_CREATE_DB",
    "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN", "COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT",
    "COM_PROCESS_KILL", "COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT", "COM_CHANGE_USER",
    "COM_BINLOG_DUMP", "COM_TABLE_DUMP", "COM_CONNECT_OUT", "COM_REGISTER_SLAVE", "COM_STMT_PREPARE",
    "COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE", "COM_STMT_RESET", "COM_SET_OPTION",
    "COM_STMT_FETCH", "COM_DAEMON", "COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION", "COM_CLONE",
    "COM_SUBSCRIBE_GROUP_REPLICATION_STREAM",
};

const char *mc_l7_mysql_command_name(uint8_t cmd)
{
    if (cmd < sizeof(com_names) / sizeof(com_names[0]))
        return com_names[cmd];
    if (cmd == 0xfa)
        return "COM_STMT_BULK_EXECUTE"; /* MariaDB */
    return NULL;
}

/* A packet header at p: payload length and sequence id; -1 when fewer than 4 bytes. */
static int64_t header_at(const uint8_t *p, size_t n, uint8_t *seq)
{
    struct mc_cur c = mc_cur_make(p, n);
    uint32_t len = mc_cur_le16(&c);
    len |= (uint32_t)mc_cur_u8(&c) << 16;
    *seq = mc_cur_u8(&c);
    return mc_cur_ok(&c) ? (int64_t)len : -1;
}

static int is_digit(uint8_t b) { return b >= '0' && b <= '9'; }

int mc_l7_mysql_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir; /* a capture that missed the SYN may see the server first */
    uint8_t seq;
    int64_t len = header_at(p, n, &seq);
    struct mc_cur c = mc_cur_make(p, n);
    mc_cur_skip(&c, 4);
    uint8_t proto = mc_cur_u8(&c);
    uint8_t v0 = mc_cur_u8(&c);
    return mc_cur_ok(&c) && seq == 0 && proto == 10 && len >= 16 && len <= 1024 && is_digit(v0);
}

/* ---- transactions ------------------------------------------------------- */

static void set_first(char *dst, size_t cap, const char *src)
{
    if (!dst[0] && src[0])
        copy_name(dst, cap, (const uint8_t *)src, strnlen(src, cap - 1));
}

/* Writes the flow's server aggregates (and the login event); nothing without --redis. */
static void cloud(struct mc_l7_ctx *x, const struct sess *s, const char *user, const char *db)
{
    struct mc_agg *a = mc_l7_agg(x);
    int stmt = s->cmd == COM_QUERY || s->cmd == COM_STMT_PREPARE || s->cmd == COM_STMT_EXECUTE;
    if (!a)
        return;
    const struct mc_flow *f = mc_l7_flow(x);
    int af = f->key.ip_ver == 6 ? AF_INET6 : AF_INET;
    char srv[INET6_ADDRSTRLEN], cli[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 24];
    if (!inet_ntop(af, f->key.addr[s->srv].b, srv, sizeof(srv)) ||
        !inet_ntop(af, f->key.addr[!s->srv].b, cli, sizeof(cli)))
        return;
    int kn = snprintf(key, sizeof(key), "mysql.server.%s:%u", srv, f->key.port[s->srv]);
    if (kn < 0 || (size_t)kn >= sizeof(key))
        return;
    int login = s->cmd == COM_CONNECT;
    uint64_t now = mc_l7_now_ms(x);
    int bad = 0;
    if (login)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "logins", 1);
    else if (stmt)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "queries", 1);
    if (s->has_err)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "errors", 1);
    bad |= mc_agg_hmax(a, key, (size_t)kn, "last_seen", now);
    bad |= mc_agg_expire(a, key, (size_t)kn, MC_MYSQL_AGG_TTL_MS);
    if (login) {
        /* user and database are the client's bytes: escaped like the log's */
        char json[512];
        struct mc_jbuf m;
        mc_jbuf_init(&m, json, sizeof(json));
        mc_jbuf_fmt(&m, "{\"server\":\"%s\",\"user\":", key + strlen("mysql.server."));
        mc_jbuf_cstr(&m, user);
        mc_jbuf_lit(&m, ",\"database\":");
        mc_jbuf_cstr(&m, db);
        mc_jbuf_fmt(&m, ",\"client\":\"%s\",\"ts\":%llu,\"error\":%u}", cli, (unsigned long long)now,
                    s->has_err ? s->err.code : 0u);
        size_t jn = mc_jbuf_len(&m);
        if (jn)
            bad |= mc_agg_publish(a, "mysql.login", json, jn);
    }
    if (bad)
        MC_CTR_INC(l7_mysql, agg_refused);
}

static void open_tx(struct mc_l7_ctx *x, struct sess *s, uint8_t cmd)
{
    s->pend = 1;
    s->cmd = cmd;
    s->t_req = mc_l7_now_ms(x);
    s->t_resp = 0;
    s->has_err = 0;
    s->text_len = 0;
    s->arg_user[0] = s->arg_db[0] = 0;
    s->resp = R_FIRST;
}

/* Emits the pending transaction (login or command) with what is known of its result. */
static void emit(struct mc_l7_ctx *x, struct sess *s)
{
    if (!s->pend)
        return;
    int login = s->cmd == COM_CONNECT;
    const char *name = mc_l7_mysql_command_name(s->cmd);
    /* a login or COM_CHANGE_USER names its user and database; other commands carry the session's */
    const char *user = login || s->cmd == COM_CHANGE_USER ? s->arg_user : s->user;
    const char *db = login || s->cmd == COM_CHANGE_USER || s->cmd == COM_INIT_DB ? s->arg_db : s->db;
    uint64_t rt = s->t_resp && s->t_resp >= s->t_req ? s->t_resp - s->t_req : 0;

    mc_l7_tx_begin(x, s->t_req);
    mc_l7_tx_str(x, "mysqlCommand", name, strlen(name));
    if (login && s->version[0])
        mc_l7_tx_str(x, "mysqlServerVersion", s->version, strlen(s->version));
    if (user[0])
        mc_l7_tx_str(x, "mysqlUser", user, strlen(user));
    if (db[0])
        mc_l7_tx_str(x, "mysqlDatabase", db, strlen(db));
    if (s->text_len)
        mc_l7_tx_str(x, "mysqlQuery", s->text, s->text_len);
    if (s->has_err) {
        mc_l7_tx_u64(x, "mysqlErrorCode", s->err.code);
        mc_l7_tx_str(x, "mysqlErrorMessage", s->err.msg, s->err.msg_len);
    }
    if (s->t_resp)
        mc_l7_tx_u64(x, "mysqlResponseTimeMs", rt);
    if (login)
        mc_l7_tx_u64(x, "mysqlTls", s->tls);
    mc_l7_tx_end(x);

    if (login)
        MC_CTR_INC(l7_mysql, logins);
    else
        MC_CTR_INC(l7_mysql, commands);
    if (s->has_err)
        MC_CTR_INC(l7_mysql, errors);

    struct rec *r = &s->rec;
    if (login)
        set_first(r->version, sizeof(r->version), s->version);
    set_first(r->user, sizeof(r->user), user);
    set_first(r->db, sizeof(r->db), db);
    set_first(r->cmd, sizeof(r->cmd), name);
    if (!r->query && s->text_len) {
        size_t n = s->text_len < QUERY_REC_MAX ? s->text_len : QUERY_REC_MAX;
        if ((r->query = mc_l7_text_dup(s->text, n)))
            r->query_len = (uint16_t)n;
        else
            MC_CTR_INC(l7_mysql, alloc_failed);
    }
    if (!r->has_err && s->has_err) {
        r->has_err = 1;
        r->err_code = s->err.code;
        if ((r->msg = mc_l7_text_dup(s->err.msg, s->err.msg_len)))
            r->msg_len = s->err.msg_len;
        else
            MC_CTR_INC(l7_mysql, alloc_failed);
    }
    if (!r->has_resp && s->t_resp) {
        r->has_resp = 1;
        r->resp_ms = rt > UINT32_MAX ? UINT32_MAX : (uint32_t)rt;
    }
    if (login && !r->has_tls) {
        r->has_tls = 1;
        r->tls = s->tls;
    }
    cloud(x, s, user, db);
    s->pend = 0;
    s->resp = R_NONE;
}

static void set_error(struct sess *s, const uint8_t *p, size_t n)
{
    s->has_err = mc_l7_mysql_err(p, n, &s->err) == 0;
}

/* The pending statement, cut to --l7-max-text. */
static void keep_text(struct mc_l7_ctx *x, struct sess *s, const uint8_t *q, size_t n)
{
    size_t max = mc_l7_max_text(x);
    if (n > max)
        n = max;
    if (mc_l7_text_room(&s->text, &s->text_cap, n) != 0) {
        MC_CTR_INC(l7_mysql, alloc_failed);
        return;
    }
    memcpy(s->text, q, n);
    s->text_len = n;
}

/* ---- server packets ------------------------------------------------------ */

static void end_of_result(struct mc_l7_ctx *x, struct sess *s, const uint8_t *p, size_t n)
{
    int st = mc_l7_mysql_status(p, n);
    if (st >= 0 && (st & SERVER_MORE_RESULTS))
        s->resp = R_FIRST; /* a multi-statement or CALL: the next result follows */
    else
        emit(x, s);
}

static void first_response(struct mc_l7_ctx *x, struct sess *s, uint32_t len, const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    if (b == 0xff) {
        set_error(s, p, n);
        emit(x, s);
        return;
    }
    if (b == 0x00) {
        if (s->cmd == COM_STMT_PREPARE) {
            emit(x, s);
            s->resp = R_SKIP; /* parameter and column definitions follow */
            return;
        }
        if (s->cmd == COM_INIT_DB)
            memcpy(s->db, s->arg_db, sizeof(s->db));
        if (s->cmd == COM_CHANGE_USER) {
            memcpy(s->user, s->arg_user, sizeof(s->user));
            memcpy(s->db, s->arg_db, sizeof(s->db));
        }
        end_of_result(x, s, p, n);
        return;
    }
    if (s->cmd == COM_CHANGE_USER && (b == 0xfe || b == 0x01)) {
        s->resp = R_AUTH; /* auth switch or more data: round trips until OK or ERR */
        return;
    }
    if (b == 0xfe && len < PKT_MAX) { /* EOF: COM_SET_OPTION, COM_DEBUG */
        emit(x, s);
        return;
    }
    if (b == 0xfb && (s->cmd == COM_QUERY || s->cmd == COM_STMT_EXECUTE)) {
        s->resp = R_INFILE;
        return;
    }
    switch (s->cmd) {
    case COM_FIELD_LIST:
        s->resp = R_FIELDS; /* this packet was the first column definition */
        return;
    case COM_QUERY:
    case COM_STMT_EXECUTE:
    case COM_PROCESS_INFO: {
        struct mc_cur c = mc_cur_make(p, n);
        uint64_t cols = cur_lenenc(&c);
        if (!mc_cur_ok(&c) || cols == 0) {
            MC_CTR_INC(l7_mysql, bad_result);
            emit(x, s);
            s->resp = R_SKIP;
            return;
        }
        s->cols_left = cols > UINT32_MAX ? UINT32_MAX : (uint32_t)cols;
        s->resp = R_COLS;
        return;
    }
    case COM_STMT_FETCH:
        s->resp = R_ROWS; /* rows straight away */
        return;
    default: /* COM_STATISTICS's text, a binlog stream...: the first packet answers */
        emit(x, s);
        s->resp = R_SKIP;
        return;
    }
}

/* A response packet of the pending command; p NULL when its kept prefix was lost. */
static void response(struct mc_l7_ctx *x, struct sess *s, uint32_t len, const uint8_t *p, size_t n)
{
    if (s->resp == R_SKIP)
        return;
    if (!s->pend) {
        MC_CTR_INC(l7_mysql, unexpected_packet);
        return;
    }
    if (!s->t_resp)
        s->t_resp = mc_l7_now_ms(x);
    if (s->resp == R_COLS) {
        if (p && n && p[0] == 0xff) { /* column definitions start with the catalog "def" */
            set_error(s, p, n);
            emit(x, s);
        } else if (--s->cols_left == 0) {
            s->resp = R_COLS_END;
        }
        return;
    }
    if (!p || !n) {
        /* a long row lost in a gap is harmless; a short packet may have been the verdict */
        if ((s->resp == R_ROWS || s->resp == R_COLS_END || s->resp == R_FIELDS) && len >= 64)
            return;
        MC_CTR_INC(l7_mysql, response_lost);
        emit(x, s);
        s->resp = R_SKIP;
        return;
    }
    uint8_t b = p[0];
    switch (s->resp) {
    case R_FIRST:
        first_response(x, s, len, p, n);
        return;
    case R_AUTH:
    case R_INFILE:
        if (b == 0x00) {
            if (s->resp == R_AUTH) {
                memcpy(s->user, s->arg_user, sizeof(s->user));
                memcpy(s->db, s->arg_db, sizeof(s->db));
            }
            emit(x, s);
        } else if (b == 0xff) {
            set_error(s, p, n);
            emit(x, s);
        }
        return;
    case R_FIELDS:
        if (b == 0xff) {
            set_error(s, p, n);
            emit(x, s);
        } else if (b == 0xfe && len < PKT_MAX) {
            emit(x, s);
        }
        return;
    case R_COLS_END:
        s->resp = R_ROWS;
        if (b == 0xfe && len < 7)
            return; /* the EOF closing the column definitions */
        /* CLIENT_DEPRECATE_EOF: this is already a row (or the closing OK) */
        /* fall through */
    case R_ROWS:
        /* a text row starts with a length-encoded string, a binary row with 0x00: 0xfe
           below 16 MiB can only be EOF/OK, 0xff only ERR */
        if (b == 0xfe && len < PKT_MAX) {
            end_of_result(x, s, p, n);
        } else if (b == 0xff) {
            set_error(s, p, n);
            emit(x, s);
        }
        return;
    default:
        return;
    }
}

static void server_packet(struct mc_l7_ctx *x, struct sess *s, uint32_t len, const uint8_t *p, size_t n)
{
    switch (s->phase) {
    case PH_GREETING: {
        s->phase = PH_LOGIN;
        if (!p || !n) {
            MC_CTR_INC(l7_mysql, bad_greeting);
            return;
        }
        if (p[0] == 0xff) { /* refused before any handshake ("Host ... is not allowed") */
            open_tx(x, s, COM_CONNECT);
            set_error(s, p, n);
            emit(x, s);
            s->phase = PH_OFF;
            return;
        }
        struct mc_mysql_greeting g;
        if (mc_l7_mysql_greeting(p, n, &g) == 0) {
            memcpy(s->version, g.version, sizeof(s->version));
            s->srv_caps = g.caps;
        } else if (p[0] != 10) {
            s->phase = PH_OFF; /* not MySQL after all */
        }
        return;
    }
    case PH_AUTH:
        if (!s->t_resp)
            s->t_resp = mc_l7_now_ms(x);
        if (!p || !n)
            return; /* lost in a gap: wait for the verdict */
        if (p[0] == 0x00) {
            memcpy(s->user, s->arg_user, sizeof(s->user));
            memcpy(s->db, s->arg_db, sizeof(s->db));
            emit(x, s);
            s->phase = PH_CMD;
            if (s->caps_known && (s->cli_caps & s->srv_caps & MC_MYSQL_COMPRESS)) {
                /* from here on packets are wrapped in the compressed protocol: not read */
                MC_CTR_INC(l7_mysql, compressed);
                s->phase = PH_OFF;
            }
        } else if (p[0] == 0xff) {
            set_error(s, p, n);
            emit(x, s);
            s->phase = PH_CMD;
        }
        /* 0xfe auth switch, 0x01 more data: the exchange goes on */
        return;
    case PH_CMD:
        response(x, s, len, p, n);
        return;
    default:
        MC_CTR_INC(l7_mysql, unexpected_packet);
        return;
    }
}

/* ---- client packets ------------------------------------------------------ */

static void command(struct mc_l7_ctx *x, struct sess *s, const uint8_t *p, size_t n)
{
    if (s->pend) {
        MC_CTR_INC(l7_mysql, no_response);
        emit(x, s);
    }
    if (!p || !n || !mc_l7_mysql_command_name(p[0])) {
        MC_CTR_INC(l7_mysql, bad_command);
        s->resp = R_SKIP;
        return;
    }
    uint8_t cmd = p[0];
    open_tx(x, s, cmd);
    p++;
    n--;
    const uint8_t *q;
    size_t qn;
    struct mc_mysql_login lg;
    switch (cmd) {
    case COM_QUERY: {
        /* without the handshake the attributes are guessed: statement text never starts
           with a control byte, and a failed walk falls back to the plain text */
        int attrs = s->caps_known ? (s->cli_caps & s->srv_caps & MC_MYSQL_QUERY_ATTRIBUTES) != 0
                                  : n >= 2 && p[0] < 0x20;
        if (mc_l7_mysql_query_text(p, n, attrs, &q, &qn) == 0)
            keep_text(x, s, q, qn);
        else if (!s->caps_known)
            keep_text(x, s, p, n);
        break;
    }
    case COM_STMT_PREPARE:
        keep_text(x, s, p, n);
        break;
    case COM_INIT_DB:
        copy_name(s->arg_db, sizeof(s->arg_db), p, n);
        break;
    case COM_CHANGE_USER:
        if (mc_l7_mysql_change_user(p, n, s->cli_caps | (s->caps_known ? 0 : MC_MYSQL_SECURE_CONNECTION), &lg) == 0) {
            memcpy(s->arg_user, lg.user, sizeof(s->arg_user));
            memcpy(s->arg_db, lg.db, sizeof(s->arg_db));
        }
        break;
    case COM_QUIT:
    case COM_STMT_CLOSE:
    case COM_STMT_SEND_LONG_DATA:
        emit(x, s); /* no response comes */
        s->resp = R_SKIP;
        break;
    default:
        break;
    }
}

static void login(struct mc_l7_ctx *x, struct sess *s, uint32_t len, const uint8_t *p, size_t n)
{
    struct mc_mysql_login lg;
    open_tx(x, s, COM_CONNECT);
    s->phase = PH_AUTH;
    if (!p || mc_l7_mysql_login(p, n, len, &lg) != 0) {
        if (!p)
            MC_CTR_INC(l7_mysql, bad_login);
        return; /* the verdict is still worth a transaction */
    }
    s->cli_caps = lg.caps;
    s->caps_known = s->srv_caps != 0;
    memcpy(s->arg_user, lg.user, sizeof(s->arg_user));
    memcpy(s->arg_db, lg.db, sizeof(s->arg_db));
    if (lg.ssl) {
        s->tls = 1;
        MC_CTR_INC(l7_mysql, tls);
        emit(x, s);
        s->phase = PH_OFF; /* the rest is TLS records */
    }
}

static int is_command(uint8_t seq, const uint8_t *p, size_t n)
{
    return seq == 0 && p && n && mc_l7_mysql_command_name(p[0]);
}

static void client_packet(struct mc_l7_ctx *x, struct sess *s, uint32_t len, uint8_t seq, const uint8_t *p, size_t n)
{
    switch (s->phase) {
    case PH_GREETING:
        /* no greeting seen (the capture began later, or lost it): commands still read */
        if (is_command(seq, p, n)) {
            s->phase = PH_CMD;
            command(x, s, p, n);
        } else {
            MC_CTR_INC(l7_mysql, unexpected_packet);
        }
        return;
    case PH_LOGIN:
        login(x, s, len, p, n);
        return;
    case PH_AUTH:
        if (is_command(seq, p, n)) { /* the server's verdict was not seen */
            s->phase = PH_CMD;
            command(x, s, p, n);
        }
        return; /* auth switch responses, passwords: not read */
    case PH_CMD:
        if (seq == 0)
            command(x, s, p, n);
        return; /* LOCAL INFILE contents, COM_CHANGE_USER auth round trips */
    default:
        return;
    }
}

/* ---- framing --------------------------------------------------------------- */

/* A whole packet (or the kept prefix p[0..n) of it; p NULL when lost) of direction dir. */
static void packet(struct mc_l7_ctx *x, struct sess *s, int dir, const uint8_t *p, size_t n)
{
    struct rx *r = &s->rx[dir];
    if (r->cont) { /* the tail of a 16 MiB payload */
        if (r->body.len < PKT_MAX)
            r->cont = 0;
        return;
    }
    if (r->body.len == PKT_MAX) {
        r->cont = 1;
        MC_CTR_INC(l7_mysql, large_packet);
    }
    /* the side that sends a greeting is the server, whatever the flow's orientation */
    if (s->phase == PH_GREETING && dir != s->srv && r->seq == 0 && p && n >= 2 && p[0] == 10 && is_digit(p[1]) &&
        r->body.len >= 16)
        s->srv = (uint8_t)dir;
    if (dir == s->srv)
        server_packet(x, s, r->body.len, p, n);
    else
        client_packet(x, s, r->body.len, r->seq, p, n);
}

/* The payload is complete (body NULL: its kept prefix was lost): the next header follows. */
static void finish(struct mc_l7_ctx *x, struct sess *s, int dir, const uint8_t *body, size_t len)
{
    s->rx[dir].hlen = 0;
    packet(x, s, dir, body, len);
}

/*
 * After lost framing: does this segment start a packet we can trust?  The
 * client's: a command (sequence 0, a known command byte).  The server's:
 * the first packet (sequence 1) answering a command read since.
 */
static int resync(struct sess *s, int dir, const uint8_t *p, size_t n)
{
    uint8_t seq;
    int64_t len = header_at(p, n, &seq);
    struct mc_cur c = mc_cur_make(p, n);
    mc_cur_skip(&c, 4);
    uint8_t first = mc_cur_u8(&c);
    if (!mc_cur_ok(&c) || len == 0 || len >= PKT_MAX)
        return 0;
    if (dir != s->srv) {
        if (seq != 0 || !mc_l7_mysql_command_name(first))
            return 0;
        s->phase = PH_CMD;
        return 1;
    }
    return s->pend && s->resp == R_FIRST && seq == 1;
}

static void mysql_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct sess *s = ((struct mysql_state *)st)->s;
    if (!s || s->phase == PH_OFF)
        return;
    struct rx *r = &s->rx[dir];
    if (r->resync) {
        if (!resync(s, dir, p, n)) {
            MC_CTR_ADD(l7_mysql, resync_skipped, n);
            return;
        }
        r->resync = 0;
    }
    while (n && s->phase != PH_OFF) {
        if (r->hlen < 4) {
            size_t k = 4u - r->hlen < n ? 4u - r->hlen : n;
            memcpy(r->hdr + r->hlen, p, k);
            r->hlen = (uint8_t)(r->hlen + k);
            p += k;
            n -= k;
            if (r->hlen < 4)
                break;
            struct mc_cur c = mc_cur_make(r->hdr, 4);
            uint32_t len = mc_cur_le16(&c);
            len |= (uint32_t)mc_cur_u8(&c) << 16;
            r->seq = mc_cur_u8(&c);
            size_t cap = dir == s->srv ? SERVER_KEEP : mc_l7_max_text(x) + CLIENT_KEEP_EXTRA;
            mc_l7_body_start(&r->body, len, cap < len ? (uint32_t)cap : len);
        }
        const uint8_t *body;
        size_t blen;
        int got = mc_l7_body_take(x, &r->body, &p, &n, &body, &blen);
        if (got & MC_L7_BODY_REFUSED)
            MC_CTR_INC(l7_mysql, packet_refused);
        if (got & MC_L7_BODY_DONE)
            finish(x, s, dir, body, blen);
    }
}

static void mysql_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    struct sess *s = ((struct mysql_state *)st)->s;
    if (!s || s->phase == PH_OFF)
        return;
    struct rx *r = &s->rx[dir];
    if (r->resync)
        return;
    const uint8_t *body;
    size_t blen;
    int in = r->hlen == 4 ? mc_l7_body_gap(&r->body, len, &body, &blen) : -1;
    if (in >= 0) {
        /* the hole is inside the payload: the framing holds, the prefix may not */
        MC_CTR_INC(l7_mysql, gap_in_packet);
        if (in & MC_L7_BODY_DONE)
            finish(x, s, dir, body, blen);
        return;
    }
    MC_CTR_INC(l7_mysql, gap_resync);
    r->hlen = 0;
    r->cont = 0;
    r->resync = 1;
    mc_l7_buf_reset(&r->body.buf);
    if (dir == s->srv && s->pend) { /* its answer is lost */
        MC_CTR_INC(l7_mysql, response_lost);
        emit(x, s);
    }
}

static void mysql_end(struct mc_l7_ctx *x, void *st)
{
    struct sess *s = ((struct mysql_state *)st)->s;
    if (!s)
        return;
    for (int d = 0; d < 2; d++)
        if (s->phase != PH_OFF && !s->rx[d].resync && s->rx[d].hlen)
            MC_CTR_INC(l7_mysql, truncated_at_end);
    if (s->pend) {
        if (!s->t_resp)
            MC_CTR_INC(l7_mysql, no_response);
        emit(x, s);
    }
}

static void mysql_init(struct mc_l7_ctx *x, void *st)
{
    struct mysql_state *ms = st;
    ms->s = calloc(1, sizeof(*ms->s));
    if (!ms->s) {
        MC_CTR_INC(l7_mysql, alloc_failed);
        return;
    }
    const struct mc_flow *f = mc_l7_flow(x);
    /* until a greeting says otherwise, the server is the side on port 3306 */
    ms->s->srv = f && f->key.port[0] == MYSQL_PORT && f->key.port[1] != MYSQL_PORT ? 0 : 1;
}

static void mysql_release(void *st)
{
    struct mysql_state *ms = st;
    if (!ms->s)
        return;
    mc_l7_buf_free(&ms->s->rx[0].body.buf);
    mc_l7_buf_free(&ms->s->rx[1].body.buf);
    free(ms->s->text);
    free(ms->s->rec.query);
    free(ms->s->rec.msg);
    free(ms->s);
    ms->s = NULL;
}

/* ---- flow record elements -------------------------------------------------- */

static const struct rec *rec_of(const struct mc_ie_env *env)
{
    const struct mysql_state *ms = mc_l7_state_of(env->f, &mc_l7_mysql);
    return ms && ms->s ? &ms->s->rec : NULL;
}

static void str_val(struct mc_ie_val *v, const char *s, size_t n)
{
    v->str = s;
    v->str_len = n;
}

static void get_version(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->version : "", r ? strlen(r->version) : 0);
}

static void get_user(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->user : "", r ? strlen(r->user) : 0);
}

static void get_db(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->db : "", r ? strlen(r->db) : 0);
}

static void get_query(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r && r->query ? r->query : "", r ? r->query_len : 0);
}

static void get_cmd(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->cmd : "", r ? strlen(r->cmd) : 0);
}

static void get_err_code(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    v->u = r ? r->err_code : 0;
}

static void get_err_msg(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r && r->msg ? r->msg : "", r ? r->msg_len : 0);
}

static void get_resp_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    v->u = r ? r->resp_ms : 0;
}

static void get_tls(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    v->u = r ? r->tls : 0;
}

#define S MC_IE_T_STRING
#define U MC_IE_T_UNSIGNED
#define V MC_IE_VARLEN
#define E MC_PEN_MC
#define NOV9 MC_IE_F_NOV9
static const struct mc_ie mysql_ies[] = {
    { "mysqlServerVersion", 150, E, V, 0, S, NOV9, NULL, get_version,
      "MySQL server version from its greeting (\"8.0.36\")", MC_MYSQL_NAME_MAX },
    { "mysqlUser", 151, E, V, 0, S, NOV9, NULL, get_user, "MySQL user the client logged in as", MC_MYSQL_NAME_MAX },
    { "mysqlDatabase", 152, E, V, 0, S, NOV9, NULL, get_db, "MySQL default database (login, COM_INIT_DB)",
      MC_MYSQL_NAME_MAX },
    { "mysqlQuery", 153, E, V, 0, S, NOV9, NULL, get_query,
      "MySQL statement text (COM_QUERY, COM_STMT_PREPARE); record: first 511 bytes", QUERY_REC_MAX },
    { "mysqlCommand", 154, E, V, 0, S, NOV9, NULL, get_cmd,
      "MySQL command name (\"COM_QUERY\"; \"COM_CONNECT\" for a login)", 23 },
    { "mysqlErrorCode", 155, E, 2, 0, U, NOV9, NULL, get_err_code, "MySQL ERR packet code, 0 when none", 0 },
    { "mysqlErrorMessage", 156, E, V, 0, S, NOV9, NULL, get_err_msg, "MySQL ERR packet message", MC_MYSQL_MSG_MAX },
    { "mysqlResponseTimeMs", 157, E, 4, 0, U, NOV9, NULL, get_resp_ms,
      "ms from a MySQL request to the first packet of its response", 0 },
    { "mysqlTls", 158, E, 1, 0, U, NOV9, NULL, get_tls, "1 when the MySQL client asked for TLS (SSLRequest)", 0 },
};
#undef S
#undef U
#undef V
#undef E
#undef NOV9

static const char *const mysql_ndpi[] = { "MySQL", NULL };

const struct mc_l7_analyzer mc_l7_mysql = {
    .name = "mysql",
    .l4 = MC_L7_TCP,
    .ports = { MYSQL_PORT },
    .ndpi = mysql_ndpi,
    .detect = mc_l7_mysql_detect,
    .state_size = sizeof(struct mysql_state),
    .init = mysql_init,
    .data = mysql_data,
    .gap = mysql_gap,
    .end = mysql_end,
    .release = mysql_release,
    .fields = mysql_ies,
    .n_fields = sizeof(mysql_ies) / sizeof(mysql_ies[0]),
};
