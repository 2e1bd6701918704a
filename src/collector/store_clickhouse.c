/*
 * store_clickhouse.c - the store for when one machine is not enough:
 * collected flows into a ClickHouse table `flows` (the columns of
 * docs/COLLECTOR.md "Schema"), through ClickHouse's HTTP interface.
 *
 * The queue and its writer threads are store.c's (store.h): add copies the
 * flow into it, never waiting for the network.  A writer sends about
 * `batch` flows (100,000 by default) per request: one POST of
 * `INSERT INTO flows (...) FORMAT Native`, its body encoded a block at a
 * time while libcurl sends it (chunked transfer, no copy of the batch), on
 * its own kept-alive connection.  Native (columns, as ClickHouse keeps
 * them) is the input that costs the server least: see "Native" below.
 * WRITERS threads send at once: the server writes an insert's part on one
 * thread, so one insert at a time would leave the server's other cores
 * idle while the batches wait.
 *
 * ClickHouse down (connection refused, reset, timed out): the batch stays
 * in front of the queue and is tried again each second, the flows behind it
 * held up to the queue's bound, beyond which they are dropped and counted
 * (store.dropped); each failure is counted (store.errors) and logged once a
 * minute at most.  A server that answers with an error is tried again too,
 * but a batch refused REFUSED_TRIES times in a row is dropped (counted): it
 * would hold back every flow behind it.  An unknown table or database (the
 * server's data wiped) makes the next try create them again.  Rows are
 * written at least once: a server killed after storing a batch but before
 * answering gets it again.
 *
 * Retention: ClickHouse before 19.6 (Debian 12 ships 18.16) has no TTL, so
 * the table is partitioned by day (UTC, of start_ms) and the writer drops,
 * once a minute, the partitions of the days that ended before now -
 * retention: a row is kept at least the retention, at most a day longer.
 * ALTER does not pass through a Distributed table, so on one (docs: the
 * two-shard setup) retention is the shards' own (COLLECTOR.md).
 */
#include "collector/store.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ctype.h>
#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define DEFAULT_BATCH 100000      /* flows per INSERT: ClickHouse wants few large inserts */
#define BACKLOG_BATCHES 2         /* behind: one INSERT takes up to this many batches */
#define WRITERS 2                 /* INSERTs in flight: the server writes each one's part on one thread */
#define REFUSED_TRIES 10          /* a batch the server refuses this often in a row is dropped */
#define CONNECT_MS 3000           /* a server that does not accept in this long is down */
#define REQUEST_S 120             /* a request that takes longer is given up (and retried) */
#define STALL_S 60                /* ... and so is one that moves no byte for this long */
#define CLOSING_STALL_S 10        /* ... at exit, when a hung server would hold the exit back */
#define UPLOAD_BUFFER (512 * 1024) /* libcurl's upload buffer: fewer, larger writes */
#define RESP_MAX (64 * 1024)      /* a response kept (a query's answer, an error's text) */
#define N_COLUMNS MC_CH_COLUMNS

/*
 * The table, also in docs/COLLECTOR.md "ClickHouse" (tests/unit/python/test_flows.py checks the two
 * are the same text).  The columns are the SQLite schema's, same names, same meanings, NULL where
 * SQLite has NULL; sent with the database as the request's, so the statement names no database.
 * PARTITION BY day: retention drops whole days; ORDER BY start_ms: the newest first and --since read
 * only the granules they need (an address filter reads src and dst whole, as fast as ClickHouse does).
 */
const char mc_ch_schema_sql[] =
    /* clickhouse schema */
    "CREATE TABLE IF NOT EXISTS flows (\n"
    "    start_ms Int64,\n"
    "    end_ms Int64,\n"
    "    exporter Nullable(String),\n"
    "    version UInt8,\n"
    "    domain UInt32,\n"
    "    ip_version UInt8,\n"
    "    src Nullable(String),\n"
    "    dst Nullable(String),\n"
    "    src_port UInt16,\n"
    "    dst_port UInt16,\n"
    "    proto UInt8,\n"
    "    tcp_flags UInt8,\n"
    "    tos UInt8,\n"
    "    packets UInt64,\n"
    "    octets UInt64,\n"
    "    rev_packets UInt64,\n"
    "    rev_octets UInt64,\n"
    "    in_if UInt32,\n"
    "    out_if UInt32,\n"
    "    src_as UInt32,\n"
    "    dst_as UInt32,\n"
    "    sampling UInt32,\n"
    "    app Nullable(String),\n"
    "    user Nullable(String),\n"
    "    imsi Nullable(String),\n"
    "    msisdn Nullable(String),\n"
    "    call_id Nullable(String)\n"
    ") ENGINE = MergeTree\n"
    "PARTITION BY toYYYYMMDD(toDateTime(intDiv(start_ms, 1000), 'UTC'))\n"
    "ORDER BY start_ms\n"
    /* end clickhouse schema */;

struct column {
    char name[32];
    char type[32];
};

/* One writer thread's connection (open uses the first before the writers start). */
struct ch_conn {
    CURL *curl;                 /* keeps the connection */
    char curl_err[CURL_ERROR_SIZE];
    char *resp;                 /* the last response (RESP_MAX, NUL-terminated) */
    size_t resp_len;
    int closing;                /* the queue is being emptied for exit */
    struct mc_ch_encoder enc;   /* the batch being sent */
};

struct mc_store {
    struct mc_store_config cfg;
    struct mc_ch_url url;
    char what[448];             /* "store URL" (no password), for log lines */
    struct curl_slist *headers; /* a statement's request */
    struct curl_slist *rows_headers; /* an insert's: its body chunked */
    struct column cols[N_COLUMNS]; /* the schema's, in order */
    char *insert_sql;           /* INSERT INTO flows (...) FORMAT Native */
    struct ch_conn conn[WRITERS]; /* writer thread i's is conn[i]; retention's conn[0] (its thread's) */
    struct mc_store_queue *q;

    pthread_mutex_t mu;         /* what the writers share: */
    char settings[128];         /* the insert's extra URL parameters (&name=value) */
    int ready;                  /* the table is there and has our columns */
    int distributed;            /* it is a Distributed table: no retention here */
    int refusals;               /* batches refused in a row */
};

/* The writer thread counts while the stats reader reads: whole 64-bit stores, never torn. */
#define CTR_ADD(id, v) __atomic_fetch_add(&MC_CTR_GET(store, id), (uint64_t)(v), __ATOMIC_RELAXED)

/* --- the URL ----------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes p[0..n) into out (cap bytes, NUL-terminated); -1 when malformed or too long. */
static int pct_decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int hi = hexval((unsigned char)p[i + 1]), lo = hexval((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || k + 1 >= cap)
            return -1;
        out[k++] = (char)c;
    }
    out[k] = 0;
    return 0;
}

int mc_ch_url_parse(const char *text, struct mc_ch_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    const char *p = text;
    if (strncmp(p, "http://", 7) == 0) {
        p += 7;
    } else if (strncmp(p, "https://", 8) == 0) {
        p += 8;
        u->https = 1;
    } else {
        snprintf(err, errlen, "'%s': expected http://HOST[:PORT][/DB]", text);
        return -1;
    }
    size_t auth_len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_len);
    const char *hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (pct_decode(p, ulen, u->user, sizeof(u->user)) != 0 ||
            (colon && pct_decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof(u->password)) != 0)) {
            snprintf(err, errlen, "'%s': bad user or password (percent-encode ':', '@' and '/')", text);
            return -1;
        }
        if (!u->user[0]) {
            snprintf(err, errlen, "'%s': a password without a user", text);
            return -1;
        }
        hp = at + 1;
    }
    size_t hp_len = (size_t)(p + auth_len - hp);
    const char *port_at = NULL;
    size_t host_len;
    if (hp_len && hp[0] == '[') {
        const char *close = memchr(hp, ']', hp_len);
        if (!close) {
            snprintf(err, errlen, "'%s': an IPv6 address without its ']'", text);
            return -1;
        }
        host_len = (size_t)(close - hp - 1);
        if (host_len == 0 || host_len >= sizeof(u->host)) {
            snprintf(err, errlen, "'%s': bad host", text);
            return -1;
        }
        memcpy(u->host, hp + 1, host_len);
        if (close + 1 < hp + hp_len) {
            if (close[1] != ':') {
                snprintf(err, errlen, "'%s': expected ':PORT' after ']'", text);
                return -1;
            }
            port_at = close + 2;
        }
        unsigned char a6[16];
        if (inet_pton(AF_INET6, u->host, a6) != 1) {
            snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", text, u->host);
            return -1;
        }
    } else {
        const char *colon = memchr(hp, ':', hp_len);
        host_len = colon ? (size_t)(colon - hp) : hp_len;
        if (host_len == 0 || host_len >= sizeof(u->host)) {
            snprintf(err, errlen, "'%s': no host", text);
            return -1;
        }
        memcpy(u->host, hp, host_len);
        for (size_t i = 0; i < host_len; i++) {
            int c = (unsigned char)u->host[i];
            if (!isalnum(c) && c != '.' && c != '-' && c != '_') {
                snprintf(err, errlen, "'%s': bad host name", text);
                return -1;
            }
        }
        if (colon)
            port_at = colon + 1;
    }
    u->port = u->https ? 8443 : 8123;
    if (port_at) {
        size_t n = (size_t)(p + auth_len - port_at);
        unsigned long v = 0;
        if (n == 0 || n > 5) {
            snprintf(err, errlen, "'%s': bad port", text);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)port_at[i])) {
                snprintf(err, errlen, "'%s': bad port", text);
                return -1;
            }
            v = v * 10 + (unsigned long)(port_at[i] - '0');
        }
        if (v < 1 || v > 65535) {
            snprintf(err, errlen, "'%s': bad port", text);
            return -1;
        }
        u->port = (int)v;
    }
    const char *rest = p + auth_len;
    if (*rest == '?' || *rest == '#') {
        snprintf(err, errlen, "'%s': no '?' or '#' part is taken: the table is always flows", text);
        return -1;
    }
    snprintf(u->db, sizeof(u->db), "default");
    if (*rest == '/') {
        rest++;
        size_t n = strlen(rest);
        if (n && rest[n - 1] == '/')
            n--; /* http://h:8123/db/ */
        if (n) {
            if (n >= sizeof(u->db)) {
                snprintf(err, errlen, "'%s': database name too long", text);
                return -1;
            }
            for (size_t i = 0; i < n; i++) {
                int c = (unsigned char)rest[i];
                if (!isalnum(c) && c != '_') {
                    snprintf(err, errlen, "'%s': a database name is letters, digits and '_'", text);
                    return -1;
                }
            }
            memcpy(u->db, rest, n);
            u->db[n] = 0;
        }
    }
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(u->base, sizeof(u->base), "%s://%s%s%s:%d/", u->https ? "https" : "http", v6 ? "[" : "", u->host,
             v6 ? "]" : "", u->port);
    snprintf(u->shown, sizeof(u->shown), "%s://%s%s%s%s%s:%d/%s", u->https ? "https" : "http", u->user,
             u->user[0] ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
    return 0;
}

/* --- Native ------------------------------------------------------------------- */

/*
 * ClickHouse's Native format, what its own client sends: blocks of columns,
 * each block "columns rows" (LEB128), then per column its name, its type
 * (length-prefixed) and its values one after the other: numbers fixed-width
 * little-endian; Nullable(String) a NULL map (a byte per row, 1 for NULL)
 * then every row's string (LEB128 length and bytes; empty for NULL).  The
 * server copies whole columns where RowBinary makes it read value by value:
 * it spends about 0.63 s of CPU per million rows instead of 0.85, and it
 * shares the machine with the collector.
 *
 * A block is a run of whole queue chunks (up to MC_CH_BLOCK_ROWS rows).  Its
 * rows are turned into columns in one pass (each 376-byte flow read once,
 * every column written in sequence: row_columns), then copied out as
 * libcurl asks, so a batch is never held encoded whole.
 */

/* The columns, in the schema's order: what row_columns writes (mc_ch_encoder_init checks the schema). */
static const struct {
    const char *name;
    int width;  /* value bytes; 0: Nullable(String) */
    size_t cap; /* Nullable(String): the most one value takes, length included */
} cols_written[MC_CH_COLUMNS] = {
    { "start_ms", 8, 0 }, { "end_ms", 8, 0 }, { "exporter", 0, 2 + sizeof(((struct mc_store_exporter *)0)->text) },
    { "version", 1, 0 }, { "domain", 4, 0 }, { "ip_version", 1, 0 }, { "src", 0, 2 + INET6_ADDRSTRLEN },
    { "dst", 0, 2 + INET6_ADDRSTRLEN }, { "src_port", 2, 0 }, { "dst_port", 2, 0 }, { "proto", 1, 0 },
    { "tcp_flags", 1, 0 }, { "tos", 1, 0 }, { "packets", 8, 0 }, { "octets", 8, 0 }, { "rev_packets", 8, 0 },
    { "rev_octets", 8, 0 }, { "in_if", 4, 0 }, { "out_if", 4, 0 }, { "src_as", 4, 0 }, { "dst_as", 4, 0 },
    { "sampling", 4, 0 }, { "app", 0, 2 + MC_COLL_NAME_MAX }, { "user", 0, 2 + MC_COLL_NAME_MAX },
    { "imsi", 0, 2 + sizeof(((struct mc_coll_flow *)0)->imsi) },
    { "msisdn", 0, 2 + sizeof(((struct mc_coll_flow *)0)->msisdn) }, { "call_id", 0, 2 + MC_COLL_NAME_MAX },
};

static uint8_t *put_leb(uint8_t *o, size_t v)
{
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        *o++ = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return o;
}

static uint8_t *put_bytes(uint8_t *o, const char *v, size_t n)
{
    o = put_leb(o, n);
    memcpy(o, v, n);
    return o + n;
}

/* Counters and times above 2^63 - 1 are written as 2^63 - 1, as the SQLite store does. */
static uint64_t cap63(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : v;
}

/* A column's cursors while a block is turned: where its next value and NULL flag go. */
struct cursors {
    uint8_t *v[MC_CH_COLUMNS];
    uint8_t *null[MC_CH_COLUMNS];
};

/* One number of width w, little-endian (w is a constant where this is inlined: one store). */
static inline void put_num(struct cursors *o, int j, uint64_t v, size_t w)
{
    v = htole64(v);
    memcpy(o->v[j], &v, w);
    o->v[j] += w;
}

/* One string (empty: NULL). */
static inline void put_str(struct cursors *o, int j, const char *t, size_t n)
{
    *o->null[j]++ = n == 0;
    o->v[j] = put_bytes(o->v[j], t, n);
}

/* f's source or destination address (no address: NULL). */
static inline void put_addr(struct cursors *o, int j, const struct mc_coll_flow *f, int dst)
{
    int none = f->ip_version != 4 && f->ip_version != 6;
    *o->null[j]++ = (uint8_t)none;
    uint8_t *len = o->v[j]++; /* an address's text is shorter than 128: one length byte */
    size_t n = none ? 0 : strlen(mc_coll_flow_addr(f, dst, (char *)o->v[j], INET6_ADDRSTRLEN));
    *len = (uint8_t)n;
    o->v[j] += n;
}

/* A name array: a value that fills it without a NUL is cut there. */
#define PUT_NAME(o, j, field) put_str(o, j, field, strnlen(field, sizeof(field)))

/* One flow's 27 values onto the ends of their columns, in cols_written's order. */
static void row_columns(struct cursors *o, const struct mc_coll_flow *f, struct mc_store_exporter *x)
{
    const char *exporter = mc_store_exporter_text(x, &f->exporter);
    put_num(o, 0, cap63(f->start_ms), 8);
    put_num(o, 1, cap63(f->end_ms), 8);
    put_str(o, 2, exporter, x->len);
    put_num(o, 3, f->version, 1);
    put_num(o, 4, f->domain, 4);
    put_num(o, 5, f->ip_version, 1);
    put_addr(o, 6, f, 0);
    put_addr(o, 7, f, 1);
    put_num(o, 8, f->src_port, 2);
    put_num(o, 9, f->dst_port, 2);
    put_num(o, 10, f->proto, 1);
    put_num(o, 11, f->tcp_flags, 1);
    put_num(o, 12, f->tos, 1);
    put_num(o, 13, cap63(f->packets), 8);
    put_num(o, 14, cap63(f->octets), 8);
    put_num(o, 15, cap63(f->rev_packets), 8);
    put_num(o, 16, cap63(f->rev_octets), 8);
    put_num(o, 17, f->in_if, 4);
    put_num(o, 18, f->out_if, 4);
    put_num(o, 19, f->src_as, 4);
    put_num(o, 20, f->dst_as, 4);
    put_num(o, 21, f->sampling, 4);
    PUT_NAME(o, 22, f->app);
    PUT_NAME(o, 23, f->user);
    PUT_NAME(o, 24, f->imsi);
    PUT_NAME(o, 25, f->msisdn);
    PUT_NAME(o, 26, f->call_id);
}

static int schema_columns(struct column *cols);

int mc_ch_encoder_init(struct mc_ch_encoder *e)
{
    static const struct { const char *type; int width; } types[] = {
        { "Int64", 8 }, { "UInt64", 8 }, { "UInt32", 4 }, { "UInt16", 2 }, { "UInt8", 1 },
        { "Nullable(String)", 0 },
    };
    struct column cols[N_COLUMNS];
    memset(e, 0, sizeof(*e));
    if (schema_columns(cols) != 0)
        return -1;
    size_t bytes = 0;
    for (int j = 0; j < MC_CH_COLUMNS; j++) {
        const char *name = cols[j].name, *type = cols[j].type;
        int w = -1;
        for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
            if (strcmp(type, types[k].type) == 0)
                w = types[k].width;
        /* the schema's column must be the one row_columns writes there, of a type of its width */
        if (strcmp(name, cols_written[j].name) != 0 || w != cols_written[j].width ||
            strlen(name) + strlen(type) + 2 > sizeof(e->head[j]))
            return -1;
        uint8_t *o = put_bytes(e->head[j], name, strlen(name));
        o = put_bytes(o, type, strlen(type));
        e->head_len[j] = (uint8_t)(o - e->head[j]);
        bytes += MC_CH_BLOCK_ROWS * (w ? (size_t)w : 1 + cols_written[j].cap);
    }
    uint8_t *m = e->mem = malloc(bytes);
    if (!m)
        return -1;
    for (int j = 0; j < MC_CH_COLUMNS; j++) {
        int w = cols_written[j].width;
        e->values[j] = m;
        m += MC_CH_BLOCK_ROWS * (w ? (size_t)w : cols_written[j].cap);
        if (!w) {
            e->nulls[j] = m;
            m += MC_CH_BLOCK_ROWS;
        }
    }
    return 0;
}

void mc_ch_encoder_free(struct mc_ch_encoder *e)
{
    free(e->mem);
    e->mem = NULL;
}

void mc_ch_encoder_start(struct mc_ch_encoder *e, const struct mc_store_chunk *first)
{
    e->next = first;
    e->in_block = 0;
    e->x.have = 0;
}

/* The next block of whole chunks, turned into columns; 0 when there is none. */
static int block_begin(struct mc_ch_encoder *e)
{
    const struct mc_store_chunk *c = e->next;
    if (!c)
        return 0;
    struct cursors o;
    for (int j = 0; j < MC_CH_COLUMNS; j++) {
        o.v[j] = e->values[j];
        o.null[j] = e->nulls[j];
    }
    size_t rows = 0;
    do {
        for (size_t i = 0; i < c->n; i++)
            row_columns(&o, &c->f[i], &e->x);
        rows += c->n;
        c = c->next;
    } while (c && rows + c->n <= MC_CH_BLOCK_ROWS);
    e->next = c;
    for (int j = 0; j < MC_CH_COLUMNS; j++)
        e->values_len[j] = (size_t)(o.v[j] - e->values[j]);
    e->rows = rows;
    e->block_head_len = (size_t)(put_leb(put_leb(e->block_head, MC_CH_COLUMNS), rows) - e->block_head);
    e->in_block = 1;
    e->piece = 0;
    e->off = 0;
    return 1;
}

/* Piece k of the block: its head (0), then per column its head, NULL map and values; 0 past the end. */
static int block_piece(const struct mc_ch_encoder *e, int k, const uint8_t **p, size_t *len)
{
    if (k == 0) {
        *p = e->block_head, *len = e->block_head_len;
        return 1;
    }
    int j = (k - 1) / 3, part = (k - 1) % 3;
    if (j == MC_CH_COLUMNS)
        return 0;
    if (part == 0)
        *p = e->head[j], *len = e->head_len[j];
    else if (part == 1)
        *p = e->nulls[j], *len = e->nulls[j] ? e->rows : 0;
    else
        *p = e->values[j], *len = e->values_len[j];
    return 1;
}

size_t mc_ch_encoder_fill(struct mc_ch_encoder *e, uint8_t *out, size_t room)
{
    size_t done = 0;
    while (done < room) {
        if (!e->in_block && !block_begin(e))
            break; /* every block is copied */
        const uint8_t *p;
        size_t len;
        if (!block_piece(e, e->piece, &p, &len)) {
            e->in_block = 0;
            continue;
        }
        size_t k = len - e->off < room - done ? len - e->off : room - done;
        if (k) { /* a number column's NULL map is no piece: len 0, p NULL */
            memcpy(out + done, p + e->off, k);
            done += k;
            e->off += k;
        }
        if (e->off == len) {
            e->piece++;
            e->off = 0;
        }
    }
    return done;
}

/* The schema's columns ("    name Type,\n" lines between "(\n" and "\n)"), into cols; 0, or -1. */
static int schema_columns(struct column *cols)
{
    const char *p = strstr(mc_ch_schema_sql, "(\n");
    size_t n = 0;
    if (!p)
        return -1;
    p += 2;
    while (*p == ' ') {
        while (*p == ' ')
            p++;
        size_t nl = strcspn(p, " "), tl;
        const char *t = p + nl + 1;
        tl = strcspn(t, ",\n");
        if (n == N_COLUMNS || nl == 0 || nl >= sizeof(cols[0].name) || tl == 0 || tl >= sizeof(cols[0].type))
            return -1;
        memcpy(cols[n].name, p, nl);
        cols[n].name[nl] = 0;
        memcpy(cols[n].type, t, tl);
        cols[n].type[tl] = 0;
        n++;
        p = t + tl;
        if (*p == ',')
            p++;
        if (*p == '\n')
            p++;
    }
    return n == N_COLUMNS ? 0 : -1;
}

/* --- HTTP ---------------------------------------------------------------------- */

enum { CH_OK, CH_DOWN, CH_REFUSED };

static size_t on_response(char *p, size_t size, size_t nmemb, void *ud)
{
    struct ch_conn *cn = ud;
    size_t n = size * nmemb, room = RESP_MAX - 1 - cn->resp_len;
    memcpy(cn->resp + cn->resp_len, p, n < room ? n : room);
    cn->resp_len += n < room ? n : room;
    cn->resp[cn->resp_len] = 0;
    return n; /* the rest is read and not kept */
}

/* The rows of a batch as libcurl reads them. */
struct body {
    struct mc_ch_encoder *enc;
    const struct mc_store_chunk *first;
};

static size_t body_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    return mc_ch_encoder_fill(b->enc, (uint8_t *)dst, size * nmemb); /* 0: every row is sent */
}

/* libcurl sends the body again (a kept-alive connection the server had closed): from the first row. */
static int body_seek(void *ud, curl_off_t offset, int origin)
{
    struct body *b = ud;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    mc_ch_encoder_start(b->enc, b->first);
    return CURL_SEEKFUNC_OK;
}

/* The first line of the server's error text (ClickHouse: "Code: 60, e.displayText() = ..."). */
static void first_line(const char *text, char *out, size_t len)
{
    size_t n = strcspn(text, "\r\n");
    snprintf(out, len, "%.*s", (int)(n > 300 ? 300 : n), text);
}

/*
 * One request: POST sql (a statement) or the rows of body (with query, the INSERT, in the URL), in the
 * database db (NULL: the server's default), on connection cn.  CH_OK with cn->resp the answer; CH_DOWN
 * (no answer) or CH_REFUSED (an HTTP error; cn->resp the server's text) with why set.
 */
static int ch_post(struct mc_store *s, struct ch_conn *cn, const char *db, const char *query, const char *sql,
                   struct body *body, char *why, size_t whylen)
{
    char url[4096];
    char *edb = db ? curl_easy_escape(cn->curl, db, 0) : NULL;
    char *eq = query ? curl_easy_escape(cn->curl, query, 0) : NULL;
    int k = snprintf(url, sizeof(url), "%s?%s%s%s%s%s", s->url.base, edb ? "database=" : "", edb ? edb : "",
                     edb && eq ? "&" : "", eq ? "query=" : "", eq ? eq : "");
    int lost = (db && !edb) || (query && !eq);
    curl_free(edb);
    curl_free(eq);
    char settings[sizeof(s->settings)] = "";
    if (query) { /* the settings are the insert's (setup, which sets them, posts no query) */
        pthread_mutex_lock(&s->mu);
        memcpy(settings, s->settings, sizeof(settings));
        pthread_mutex_unlock(&s->mu);
    }
    if (lost || k < 0 || (size_t)k + strlen(settings) >= sizeof(url)) {
        snprintf(why, whylen, "request too long (or out of memory)");
        return CH_REFUSED;
    }
    memcpy(url + k, settings, strlen(settings) + 1);
    CURL *c = cn->curl;
    curl_easy_reset(c); /* keeps the connection */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)REQUEST_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(cn->closing ? CLOSING_STALL_S : STALL_S));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cn->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_response);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, cn);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, body ? s->rows_headers : s->headers);
    if (s->url.user[0]) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->url.user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->url.password);
    }
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, body_read);
        curl_easy_setopt(c, CURLOPT_READDATA, body);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, body_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, body);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUFFER);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, sql);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(sql));
    }
    cn->resp_len = 0;
    cn->resp[0] = 0;
    cn->curl_err[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", cn->curl_err[0] ? cn->curl_err : curl_easy_strerror(rc));
        return CH_DOWN;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        char line[320];
        first_line(cn->resp, line, sizeof(line));
        snprintf(why, whylen, "HTTP %ld: %s", status, line[0] ? line : "(no text)");
        return CH_REFUSED;
    }
    return CH_OK;
}

/* ClickHouse's error code in its text ("Code: 60, ..."), -1 when there is none. */
static int server_code(const char *text)
{
    const char *p = strstr(text, "Code: ");
    if (!p)
        return -1;
    p += 6;
    int v = 0, n = 0;
    while (isdigit((unsigned char)*p) && n < 6) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    return n ? v : -1;
}

/*
 * Makes the database and the table when missing and checks the table has every column with its type
 * (more columns are the operator's: left alone).  Learns whether it is a Distributed table and what the
 * server's inserts accept, on connection cn, with s->mu held.  CH_OK, or CH_DOWN / CH_REFUSED with why set.
 */
static int ch_setup(struct mc_store *s, struct ch_conn *cn, char *why, size_t whylen)
{
    char sql[512];
    int rc;
    snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s`", s->url.db);
    if ((rc = ch_post(s, cn, NULL, NULL, sql, NULL, why, whylen)) != CH_OK)
        return rc;
    if ((rc = ch_post(s, cn, s->url.db, NULL, mc_ch_schema_sql, NULL, why, whylen)) != CH_OK)
        return rc;
    if ((rc = ch_post(s, cn, s->url.db, NULL,
                      "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND "
                      "table = 'flows' FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    for (size_t i = 0; i < N_COLUMNS; i++) {
        char line[80];
        snprintf(line, sizeof(line), "%s\t%s\n", s->cols[i].name, s->cols[i].type);
        int found = !strncmp(cn->resp, line, strlen(line));
        for (const char *p = cn->resp; !found && (p = strchr(p, '\n')) != NULL; p++)
            found = !strncmp(p + 1, line, strlen(line));
        if (!found) {
            snprintf(why, whylen, "table %s.flows has no column %s %s: not a collector's table (drop it, or "
                     "give another database)", s->url.db, s->cols[i].name, s->cols[i].type);
            return CH_REFUSED;
        }
    }
    if ((rc = ch_post(s, cn, s->url.db, NULL,
                      "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'flows' "
                      "FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    char engine[64];
    first_line(cn->resp, engine, sizeof(engine));
    s->distributed = strcmp(engine, "Distributed") == 0;
    /* a batch spanning many days (a broken exporter's clock) must not be refused by servers that limit
     * the partitions of an insert (19.x and later; 18.16 has no such setting, nor accepts its name) */
    if ((rc = ch_post(s, cn, NULL, NULL,
                      "SELECT version(), countIf(name = 'max_partitions_per_insert_block') FROM system.settings "
                      "FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    char version[64];
    first_line(cn->resp, version, sizeof(version));
    char *tab = strchr(version, '\t');
    int has_limit = tab && tab[1] == '1';
    if (tab)
        *tab = 0;
    snprintf(s->settings, sizeof(s->settings), "%s", has_limit ? "&max_partitions_per_insert_block=0" : "");
    mc_info("%s: ClickHouse %s, table %s.flows (%s)%s", s->what, version, s->url.db, engine,
            s->distributed && s->cfg.retention_s ? "; retention is left to the shards' tables (COLLECTOR.md)"
                                                  : "");
    s->ready = 1;
    return CH_OK;
}

/* --- writing (writer thread) ------------------------------------------------------ */

/* The table made when it is not known to be there (by whichever writer comes first); CH_OK, or not. */
static int ch_ready(struct mc_store *s, struct ch_conn *cn, char *why, size_t whylen)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->ready ? CH_OK : ch_setup(s, cn, why, whylen);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static enum mc_store_result ch_write(void *ctx, unsigned slot, const struct mc_store_chunk *b, size_t n,
                                     int closing)
{
    struct mc_store *s = ctx;
    struct ch_conn *cn = &s->conn[slot];
    char why[512];
    cn->closing = closing;
    int rc = ch_ready(s, cn, why, sizeof(why));
    if (rc != CH_OK) {
        mc_store_queue_failed(s->q, "creating the table", why, "the flows are kept and tried again each second");
        return MC_STORE_RETRY;
    }
    struct body body = { .enc = &cn->enc, .first = b };
    mc_ch_encoder_start(&cn->enc, b);
    rc = ch_post(s, cn, s->url.db, s->insert_sql, NULL, &body, why, sizeof(why));
    if (rc == CH_OK) {
        CTR_ADD(rows, n);
        CTR_ADD(batches, 1);
        pthread_mutex_lock(&s->mu);
        s->refusals = 0;
        pthread_mutex_unlock(&s->mu);
        mc_store_queue_ok(s->q);
        return MC_STORE_WRITTEN;
    }
    if (rc == CH_REFUSED) {
        int code = server_code(cn->resp), give_up = 0;
        pthread_mutex_lock(&s->mu);
        if (code == 60 || code == 81) /* UNKNOWN_TABLE, UNKNOWN_DATABASE: made again at the next try */
            s->ready = 0;
        else if (++s->refusals >= REFUSED_TRIES)
            s->refusals = 0, give_up = 1;
        pthread_mutex_unlock(&s->mu);
        if (give_up) {
            mc_store_queue_failed(s->q, "writing flows", why, "refused too often: the batch is dropped");
            mc_err("%s: %zu flows dropped: the server refused them %d times (%s)", s->what, n, REFUSED_TRIES, why);
            return MC_STORE_GIVE_UP;
        }
    }
    mc_store_queue_failed(s->q, "writing flows", why, "the flows are kept and tried again each second");
    return MC_STORE_RETRY;
}

/* The UTC day of epoch ms t as YYYYMMDD, the partition's name. */
static unsigned long day_of(uint64_t t_ms)
{
    time_t t = (time_t)(t_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return (unsigned long)(tm.tm_year + 1900) * 10000ul + (unsigned long)(tm.tm_mon + 1) * 100ul +
           (unsigned long)tm.tm_mday;
}

/* Drops the partitions (days) that ended before the cut's day began; 0: done or failed (a minute on). */
static int ch_retention(void *ctx, uint64_t cut_ms)
{
    struct mc_store *s = ctx;
    struct ch_conn *cn = &s->conn[0]; /* writer thread 0's */
    char why[512];
    int rc = ch_ready(s, cn, why, sizeof(why));
    pthread_mutex_lock(&s->mu);
    int distributed = s->distributed;
    pthread_mutex_unlock(&s->mu);
    if (rc == CH_OK && distributed)
        return 0;
    if (rc == CH_OK)
        rc = ch_post(s, cn, s->url.db, NULL,
                     "SELECT partition, sum(rows) FROM system.parts WHERE database = currentDatabase() AND "
                     "table = 'flows' AND active GROUP BY partition ORDER BY partition FORMAT TabSeparated",
                     NULL, why, sizeof(why));
    if (rc != CH_OK) {
        mc_store_queue_failed(s->q, "retention", why, "tried again in a minute");
        return 0;
    }
    unsigned long cut_day = day_of(cut_ms);
    char *list = strdup(cn->resp); /* a copy: each DROP's answer replaces cn->resp */
    if (!list)
        return 0;
    uint64_t removed = 0;
    for (char *line = list, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *end;
        unsigned long day = strtoul(line, &end, 10);
        if (end - line != 8 || *end != '\t' || day >= cut_day)
            continue; /* not a day of ours (an operator's partitioning), or not old enough */
        unsigned long long rows = strtoull(end + 1, NULL, 10);
        char sql[96];
        snprintf(sql, sizeof(sql), "ALTER TABLE flows DROP PARTITION %lu", day);
        if (ch_post(s, cn, s->url.db, NULL, sql, NULL, why, sizeof(why)) != CH_OK) {
            mc_store_queue_failed(s->q, "retention", why, "tried again in a minute");
            CTR_ADD(retention_removed, removed);
            free(list);
            return 0;
        }
        removed += rows;
    }
    free(list);
    CTR_ADD(retention_removed, removed);
    CTR_ADD(retention_runs, 1);
    return 0;
}

/* --- opening and the receive loop's side --------------------------------------------- */

static void ch_free(struct mc_store *s)
{
    for (int i = 0; i < WRITERS; i++) {
        struct ch_conn *cn = &s->conn[i];
        if (cn->curl)
            curl_easy_cleanup(cn->curl);
        free(cn->resp);
        mc_ch_encoder_free(&cn->enc);
    }
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->rows_headers);
    free(s->insert_sql);
    pthread_mutex_destroy(&s->mu);
    free(s);
    curl_global_cleanup();
}

static struct mc_store *ch_open(const struct mc_store_config *cfg, char *err, size_t errlen)
{
    struct mc_store_config def;
    mc_store_config_defaults(&def);
    if (!cfg->spec || !cfg->spec[0]) {
        snprintf(err, errlen, "clickhouse store: no URL given");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "clickhouse store: libcurl cannot start");
        return NULL;
    }
    struct mc_store *s = calloc(1, sizeof(*s));
    if (!s) {
        curl_global_cleanup();
        snprintf(err, errlen, "clickhouse store: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->cfg = *cfg;
    s->cfg.spec = NULL; /* the URL is parsed into s->url: the caller's string is not kept */
    if (!s->cfg.batch)
        s->cfg.batch = DEFAULT_BATCH;
    if (!s->cfg.max_queued)
        s->cfg.max_queued = def.max_queued;
    char why[512];
    if (mc_ch_url_parse(cfg->spec, &s->url, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "clickhouse store: %s", why);
        goto fail;
    }
    snprintf(s->what, sizeof(s->what), "store %s", s->url.shown);
    size_t insert_len = 64 + N_COLUMNS * 32;
    s->insert_sql = malloc(insert_len);
    int conns = 1;
    for (int i = 0; i < WRITERS; i++) {
        s->conn[i].resp = malloc(RESP_MAX);
        s->conn[i].curl = curl_easy_init();
        conns &= s->conn[i].resp && s->conn[i].curl;
    }
    /* no "Expect: 100-continue": ClickHouse reads the body at once, and waiting for the 100 costs a turn */
    s->headers = curl_slist_append(NULL, "Expect:");
    s->rows_headers = curl_slist_append(NULL, "Expect:");
    if (s->rows_headers) /* the batch is encoded while it is sent: its length is not known before */
        s->rows_headers = curl_slist_append(s->rows_headers, "Transfer-Encoding: chunked");
    if (!conns || !s->insert_sql || !s->headers || !s->rows_headers) {
        snprintf(err, errlen, "clickhouse store: out of memory");
        goto fail;
    }
    int encoders = 0;
    for (int i = 0; i < WRITERS; i++)
        encoders += mc_ch_encoder_init(&s->conn[i].enc) == 0;
    if (schema_columns(s->cols) != 0 || encoders != WRITERS) {
        snprintf(err, errlen, "clickhouse store: the built-in schema does not parse (or out of memory)");
        goto fail;
    }
    int k = snprintf(s->insert_sql, insert_len, "INSERT INTO flows (");
    for (size_t i = 0; i < N_COLUMNS; i++)
        k += snprintf(s->insert_sql + k, insert_len - (size_t)k, "%s%s", i ? ", " : "", s->cols[i].name);
    snprintf(s->insert_sql + k, insert_len - (size_t)k, ") FORMAT Native");

    /* a server that answers and refuses (a bad password, someone else's table) is a mistake to report now;
     * one that does not answer yet may come later (started after the collector): the flows wait for it */
    int rc = ch_ready(s, &s->conn[0], why, sizeof(why));
    if (rc == CH_REFUSED) {
        snprintf(err, errlen, "clickhouse store %s: %s", s->url.shown, why);
        goto fail;
    }
    if (rc == CH_DOWN)
        mc_warn("%s: %s; the flows are held (up to %zu) until it answers", s->what, why, s->cfg.max_queued);

    struct mc_store_writer w = { .what = s->what, .backlog = BACKLOG_BATCHES, .threads = WRITERS,
                                 .write = ch_write, .retention = ch_retention, .ctx = s };
    if (!(s->q = mc_store_queue_start(&s->cfg, &w, err, errlen)))
        goto fail;
    return s;
fail:
    ch_free(s);
    return NULL;
}

static void ch_add(struct mc_store *s, const struct mc_coll_flow *f)
{
    mc_store_queue_add(s->q, f);
}

static void ch_tick(struct mc_store *s, uint64_t now_ms)
{
    mc_store_queue_tick(s->q, now_ms);
}

static void ch_close(struct mc_store *s)
{
    if (!s)
        return;
    mc_store_queue_stop(s->q); /* the last batches are sent */
    ch_free(s);
}

const struct mc_store_ops mc_store_clickhouse = {
    .name = "clickhouse",
    .open = ch_open,
    .add = ch_add,
    .tick = ch_tick,
    .close = ch_close,
};
