/*
 * store_clickhouse.c - the store for when one machine is not enough:
 * collected flows into a ClickHouse table `flows` (the columns of
 * docs/COLLECTOR.md "Schema"), through ClickHouse's HTTP interface.
 *
 * The queue and its writer thread are store.c's (store.h): add copies the
 * flow into it, never waiting for the network.  The writer sends about
 * `batch` flows (100,000 by default) per request: one POST of
 * `INSERT INTO flows (...) FORMAT Native`, its body encoded a stage at a
 * time while libcurl sends it (chunked transfer, no copy of the batch), on
 * one kept-alive connection.  Native (columns, as ClickHouse keeps them) is
 * the input that costs the server least: see "Native" below.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hostport.h"
#include "common/log.h"

#define DEFAULT_BATCH 100000      /* flows per INSERT: ClickHouse wants few large inserts */
#define BACKLOG_BATCHES 2         /* behind: one INSERT takes up to this many batches */
#define REFUSED_TRIES 10          /* a batch the server refuses this often in a row is dropped */
#define CONNECT_MS 3000           /* a server that does not accept in this long is down */
#define REQUEST_S 120             /* a request that takes longer is given up (and retried) */
#define STALL_S 60                /* ... and so is one that moves no byte for this long */
#define CLOSING_STALL_S 10        /* ... at exit, when a hung server would hold the exit back */
#define STAGE_BYTES (256 * 1024)  /* rows encoded ahead of libcurl's reads */
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

struct mc_store {
    struct mc_store_config cfg;
    struct mc_ch_url url;
    char what[448];             /* "store URL" (no password), for log lines */
    CURL *curl;                 /* the writer thread's once open returns; keeps the connection */
    struct curl_slist *headers; /* a statement's request */
    struct curl_slist *rows_headers; /* an insert's: its body chunked */
    char curl_err[CURL_ERROR_SIZE];
    char *resp;                 /* the last response (RESP_MAX, NUL-terminated) */
    size_t resp_len;
    uint8_t *stage;             /* STAGE_BYTES of rows encoded ahead */
    struct column cols[N_COLUMNS]; /* the schema's, in order */
    char *insert_sql;           /* INSERT INTO flows (...) FORMAT Native */
    struct mc_ch_encoder enc;   /* the writer's: the batch being sent */
    char settings[128];         /* the insert's extra URL parameters (&name=value) */

    /* the writer's (and open's, before the writer starts) */
    int ready;                  /* the table is there and has our columns */
    int distributed;            /* it is a Distributed table: no retention here */
    int refusals;               /* the batch in front was refused this often in a row */
    int closing;                /* the queue is being emptied for exit */
    struct mc_store_queue *q;
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
 * it spends about half the CPU per row (bench/collector.py), and it shares
 * the machine with the collector.
 *
 * A block is a run of whole queue chunks (up to BLOCK_ROWS rows); the
 * encoder walks it column by column, resuming where the stage filled, so a
 * batch is never copied whole.
 */

static uint8_t *put_le(uint8_t *o, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *o++ = (uint8_t)(v >> (8 * i));
    return o;
}

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

/* The exporter's text, kept while the exporter stays the same (a few exporters send all). */
static void exporter_text(struct mc_ch_texts *x, const struct mc_coll_src *e)
{
    if (x->have && x->exporter.ver == e->ver && x->exporter.port == e->port &&
        memcmp(x->exporter.addr, e->addr, sizeof(e->addr)) == 0)
        return;
    struct mc_addr a;
    memcpy(a.b, e->addr, sizeof(a.b));
    x->exp_len = e->ver == 4 || e->ver == 6 ? mc_hostport_text(e->ver, &a, e->port, x->exp, sizeof(x->exp)) : 0;
    x->exporter = *e;
    x->have = 1;
}

static size_t addr_text(uint8_t ver, const uint8_t *b, char *out, size_t cap)
{
    if (ver != 4 && ver != 6)
        return 0;
    struct mc_addr a;
    memcpy(a.b, b, sizeof(a.b));
    return mc_addr_text(ver, &a, out, cap);
}

static size_t name_len(const char *v, size_t cap)
{
    return strnlen(v, cap); /* a field that fills its array without a NUL is cut there */
}

/*
 * Column j of f (schema order): a number (returns 1 with *v) or text (returns 0 with *t and its length;
 * 0 is NULL).  buf holds an address's text; NULL: only whether it is NULL (*n 0 or not) is asked.
 */
static int col_value(int j, const struct mc_coll_flow *f, struct mc_ch_texts *x, char *buf, size_t cap,
                     uint64_t *v, const char **t, size_t *n)
{
    *t = buf;
    switch (j) {
    case 0: *v = cap63(f->start_ms); return 1;
    case 1: *v = cap63(f->end_ms); return 1;
    case 2: exporter_text(x, &f->exporter); *t = x->exp; *n = x->exp_len; return 0;
    case 3: *v = f->version; return 1;
    case 4: *v = f->domain; return 1;
    case 5: *v = f->ip_version; return 1;
    case 6: *n = buf ? addr_text(f->ip_version, f->src, buf, cap) : f->ip_version == 4 || f->ip_version == 6;
        return 0;
    case 7: *n = buf ? addr_text(f->ip_version, f->dst, buf, cap) : f->ip_version == 4 || f->ip_version == 6;
        return 0;
    case 8: *v = f->src_port; return 1;
    case 9: *v = f->dst_port; return 1;
    case 10: *v = f->proto; return 1;
    case 11: *v = f->tcp_flags; return 1;
    case 12: *v = f->tos; return 1;
    case 13: *v = cap63(f->packets); return 1;
    case 14: *v = cap63(f->octets); return 1;
    case 15: *v = cap63(f->rev_packets); return 1;
    case 16: *v = cap63(f->rev_octets); return 1;
    case 17: *v = f->in_if; return 1;
    case 18: *v = f->out_if; return 1;
    case 19: *v = f->src_as; return 1;
    case 20: *v = f->dst_as; return 1;
    case 21: *v = f->sampling; return 1;
    case 22: *t = f->app; *n = name_len(f->app, sizeof(f->app)); return 0;
    case 23: *t = f->user; *n = name_len(f->user, sizeof(f->user)); return 0;
    case 24: *t = f->imsi; *n = name_len(f->imsi, sizeof(f->imsi)); return 0;
    case 25: *t = f->msisdn; *n = name_len(f->msisdn, sizeof(f->msisdn)); return 0;
    default: *t = f->call_id; *n = name_len(f->call_id, sizeof(f->call_id)); return 0;
    }
}

/* The bytes of a column's values by its type: 1, 2, 4 or 8; 0 for Nullable(String); -1 unknown. */
static int type_width(const char *type)
{
    static const struct { const char *type; int width; } types[] = {
        { "Int64", 8 }, { "UInt64", 8 }, { "UInt32", 4 }, { "UInt16", 2 }, { "UInt8", 1 },
        { "Nullable(String)", 0 },
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(type, types[i].type) == 0)
            return types[i].width;
    return -1;
}

static int schema_columns(struct column *cols);

int mc_ch_encoder_init(struct mc_ch_encoder *e)
{
    struct column cols[N_COLUMNS];
    memset(e, 0, sizeof(*e));
    if (schema_columns(cols) != 0)
        return -1;
    for (int j = 0; j < MC_CH_COLUMNS; j++) {
        const char *name = cols[j].name, *type = cols[j].type;
        struct mc_coll_flow probe;
        memset(&probe, 0, sizeof(probe));
        uint64_t v;
        const char *t;
        size_t n;
        char buf[INET6_ADDRSTRLEN];
        struct mc_ch_texts x = { .have = 0 };
        int w = type_width(type);
        /* the type the schema gives must be the kind of value col_value has for the column */
        if (w < 0 || (w > 0) != col_value(j, &probe, &x, buf, sizeof(buf), &v, &t, &n) ||
            strlen(name) + strlen(type) + 2 > sizeof(e->head[j]))
            return -1;
        e->width[j] = (int8_t)w;
        uint8_t *o = put_bytes(e->head[j], name, strlen(name));
        o = put_bytes(o, type, strlen(type));
        e->head_len[j] = (uint8_t)(o - e->head[j]);
    }
    return 0;
}

void mc_ch_encoder_start(struct mc_ch_encoder *e, const struct mc_store_chunk *first)
{
    e->first = first;
    e->next = first;
    e->blk = NULL;
    e->x.have = 0;
}

/* Steps of a column: its name and type, its NULL map (Nullable only), its values. */
enum { STEP_HEAD, STEP_NULLS, STEP_VALUES };

/* The next block of whole chunks, its header written to o; NULL when there is none. */
static uint8_t *block_begin(struct mc_ch_encoder *e, uint8_t *o)
{
    e->blk = e->next;
    if (!e->blk)
        return NULL;
    size_t rows = 0;
    const struct mc_store_chunk *c = e->blk;
    do {
        rows += c->n;
        c = c->next;
    } while (c && rows + c->n <= MC_CH_BLOCK_ROWS);
    e->next = c;
    e->col = 0;
    e->step = STEP_HEAD;
    o = put_leb(o, MC_CH_COLUMNS);
    return put_leb(o, rows);
}

size_t mc_ch_encoder_fill(struct mc_ch_encoder *e, uint8_t *out, size_t room)
{
    uint8_t *o = out, *end = out + room;
    char buf[INET6_ADDRSTRLEN];
    while (end - o >= MC_CH_VALUE_MAX) {
        if (!e->blk) {
            uint8_t *h = block_begin(e, o);
            if (!h)
                break; /* every block is written */
            o = h;
        }
        int j = e->col, w = e->width[j];
        if (e->step == STEP_HEAD) {
            memcpy(o, e->head[j], e->head_len[j]);
            o += e->head_len[j];
            e->step = w ? STEP_VALUES : STEP_NULLS;
            e->c = e->blk;
            e->i = 0;
            continue;
        }
        /* values of column j from row (c, i) on, while they fit */
        uint64_t v;
        const char *t;
        size_t n;
        while (e->c != e->next && end - o >= MC_CH_VALUE_MAX) {
            if (e->i == e->c->n) {
                e->c = e->c->next;
                e->i = 0;
                continue;
            }
            const struct mc_coll_flow *f = &e->c->f[e->i++];
            if (col_value(j, f, &e->x, e->step == STEP_NULLS ? NULL : buf, sizeof(buf), &v, &t, &n))
                o = put_le(o, v, w);
            else if (e->step == STEP_NULLS)
                *o++ = n == 0;
            else
                o = put_bytes(o, t, n);
        }
        if (e->c != e->next)
            break; /* the stage is full: on from here next time */
        if (e->step == STEP_NULLS) {
            e->step = STEP_VALUES;
            e->c = e->blk;
            e->i = 0;
        } else if (++e->col == MC_CH_COLUMNS) {
            e->blk = NULL; /* the block is whole */
        } else {
            e->step = STEP_HEAD;
        }
    }
    return (size_t)(o - out);
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
    struct mc_store *s = ud;
    size_t n = size * nmemb, room = RESP_MAX - 1 - s->resp_len;
    memcpy(s->resp + s->resp_len, p, n < room ? n : room);
    s->resp_len += n < room ? n : room;
    s->resp[s->resp_len] = 0;
    return n; /* the rest is read and not kept */
}

/* The rows of a batch as libcurl reads them: encoded a stage at a time. */
struct body {
    struct mc_ch_encoder *enc;
    const struct mc_store_chunk *first;
    uint8_t *buf;
    size_t len, off;
};

static size_t body_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t room = size * nmemb, out = 0;
    while (out < room) {
        if (b->off == b->len) {
            b->off = 0;
            b->len = mc_ch_encoder_fill(b->enc, b->buf, STAGE_BYTES);
            if (b->len == 0)
                break; /* every row is sent: the end of the body */
        }
        size_t k = b->len - b->off < room - out ? b->len - b->off : room - out;
        memcpy(dst + out, b->buf + b->off, k);
        out += k;
        b->off += k;
    }
    return out;
}

/* libcurl sends the body again (a kept-alive connection the server had closed): from the first row. */
static int body_seek(void *ud, curl_off_t offset, int origin)
{
    struct body *b = ud;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    mc_ch_encoder_start(b->enc, b->first);
    b->off = b->len = 0;
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
 * database db (NULL: the server's default).  CH_OK with s->resp the answer; CH_DOWN (no answer) or
 * CH_REFUSED (an HTTP error; s->resp the server's text) with why set.
 */
static int ch_post(struct mc_store *s, const char *db, const char *query, const char *sql, struct body *body,
                   char *why, size_t whylen)
{
    char url[4096];
    char *edb = db ? curl_easy_escape(s->curl, db, 0) : NULL;
    char *eq = query ? curl_easy_escape(s->curl, query, 0) : NULL;
    int k = snprintf(url, sizeof(url), "%s?%s%s%s%s%s", s->url.base, edb ? "database=" : "", edb ? edb : "",
                     edb && eq ? "&" : "", eq ? "query=" : "", eq ? eq : "");
    int lost = (db && !edb) || (query && !eq);
    curl_free(edb);
    curl_free(eq);
    if (lost || k < 0 || (size_t)k + strlen(s->settings) >= sizeof(url)) {
        snprintf(why, whylen, "request too long (or out of memory)");
        return CH_REFUSED;
    }
    if (query) /* the settings are the insert's */
        memcpy(url + k, s->settings, strlen(s->settings) + 1);
    CURL *c = s->curl;
    curl_easy_reset(c); /* keeps the connection */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)REQUEST_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(s->closing ? CLOSING_STALL_S : STALL_S));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_response);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
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
    s->resp_len = 0;
    s->resp[0] = 0;
    s->curl_err[0] = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
        return CH_DOWN;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        char line[320];
        first_line(s->resp, line, sizeof(line));
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
 * server's inserts accept.  CH_OK, or CH_DOWN / CH_REFUSED with why set.
 */
static int ch_setup(struct mc_store *s, char *why, size_t whylen)
{
    char sql[512];
    int rc;
    snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s`", s->url.db);
    if ((rc = ch_post(s, NULL, NULL, sql, NULL, why, whylen)) != CH_OK)
        return rc;
    if ((rc = ch_post(s, s->url.db, NULL, mc_ch_schema_sql, NULL, why, whylen)) != CH_OK)
        return rc;
    if ((rc = ch_post(s, s->url.db, NULL,
                      "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND "
                      "table = 'flows' FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    for (size_t i = 0; i < N_COLUMNS; i++) {
        char line[80];
        snprintf(line, sizeof(line), "%s\t%s\n", s->cols[i].name, s->cols[i].type);
        int found = !strncmp(s->resp, line, strlen(line));
        for (const char *p = s->resp; !found && (p = strchr(p, '\n')) != NULL; p++)
            found = !strncmp(p + 1, line, strlen(line));
        if (!found) {
            snprintf(why, whylen, "table %s.flows has no column %s %s: not a collector's table (drop it, or "
                     "give another database)", s->url.db, s->cols[i].name, s->cols[i].type);
            return CH_REFUSED;
        }
    }
    if ((rc = ch_post(s, s->url.db, NULL,
                      "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'flows' "
                      "FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    char engine[64];
    first_line(s->resp, engine, sizeof(engine));
    s->distributed = strcmp(engine, "Distributed") == 0;
    /* a batch spanning many days (a broken exporter's clock) must not be refused by servers that limit
     * the partitions of an insert (19.x and later; 18.16 has no such setting, nor accepts its name) */
    if ((rc = ch_post(s, NULL, NULL,
                      "SELECT version(), countIf(name = 'max_partitions_per_insert_block') FROM system.settings "
                      "FORMAT TabSeparated",
                      NULL, why, whylen)) != CH_OK)
        return rc;
    char version[64];
    first_line(s->resp, version, sizeof(version));
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

static enum mc_store_result ch_write(void *ctx, const struct mc_store_chunk *b, size_t n, int closing)
{
    struct mc_store *s = ctx;
    char why[512];
    s->closing = closing;
    int rc = s->ready ? CH_OK : ch_setup(s, why, sizeof(why));
    if (rc != CH_OK) {
        mc_store_queue_failed(s->q, "creating the table", why, "the flows are kept and tried again each second");
        return MC_STORE_RETRY;
    }
    struct body body = { .enc = &s->enc, .first = b, .buf = s->stage };
    mc_ch_encoder_start(&s->enc, b);
    rc = ch_post(s, s->url.db, s->insert_sql, NULL, &body, why, sizeof(why));
    if (rc == CH_OK) {
        CTR_ADD(rows, n);
        CTR_ADD(batches, 1);
        s->refusals = 0;
        mc_store_queue_ok(s->q);
        return MC_STORE_WRITTEN;
    }
    if (rc == CH_REFUSED) {
        int code = server_code(s->resp);
        if (code == 60 || code == 81) /* UNKNOWN_TABLE, UNKNOWN_DATABASE: made again at the next try */
            s->ready = 0;
        else if (++s->refusals >= REFUSED_TRIES) {
            s->refusals = 0;
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
    char why[512];
    int rc = s->ready ? CH_OK : ch_setup(s, why, sizeof(why));
    if (rc == CH_OK && s->distributed)
        return 0;
    if (rc == CH_OK)
        rc = ch_post(s, s->url.db, NULL,
                     "SELECT partition, sum(rows) FROM system.parts WHERE database = currentDatabase() AND "
                     "table = 'flows' AND active GROUP BY partition ORDER BY partition FORMAT TabSeparated",
                     NULL, why, sizeof(why));
    if (rc != CH_OK) {
        mc_store_queue_failed(s->q, "retention", why, "tried again in a minute");
        return 0;
    }
    unsigned long cut_day = day_of(cut_ms);
    char *list = strdup(s->resp); /* a copy: each DROP's answer replaces s->resp */
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
        if (ch_post(s, s->url.db, NULL, sql, NULL, why, sizeof(why)) != CH_OK) {
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
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->rows_headers);
    free(s->resp);
    free(s->stage);
    free(s->insert_sql);
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
    s->resp = malloc(RESP_MAX);
    s->stage = malloc(STAGE_BYTES);
    s->insert_sql = malloc(insert_len);
    s->curl = curl_easy_init();
    /* no "Expect: 100-continue": ClickHouse reads the body at once, and waiting for the 100 costs a turn */
    s->headers = curl_slist_append(NULL, "Expect:");
    s->rows_headers = curl_slist_append(NULL, "Expect:");
    if (s->rows_headers) /* the batch is encoded while it is sent: its length is not known before */
        s->rows_headers = curl_slist_append(s->rows_headers, "Transfer-Encoding: chunked");
    if (!s->resp || !s->stage || !s->insert_sql || !s->curl || !s->headers || !s->rows_headers) {
        snprintf(err, errlen, "clickhouse store: out of memory");
        goto fail;
    }
    if (schema_columns(s->cols) != 0 || mc_ch_encoder_init(&s->enc) != 0) {
        snprintf(err, errlen, "clickhouse store: the built-in schema does not parse");
        goto fail;
    }
    int k = snprintf(s->insert_sql, insert_len, "INSERT INTO flows (");
    for (size_t i = 0; i < N_COLUMNS; i++)
        k += snprintf(s->insert_sql + k, insert_len - (size_t)k, "%s%s", i ? ", " : "", s->cols[i].name);
    snprintf(s->insert_sql + k, insert_len - (size_t)k, ") FORMAT Native");

    /* a server that answers and refuses (a bad password, someone else's table) is a mistake to report now;
     * one that does not answer yet may come later (started after the collector): the flows wait for it */
    int rc = ch_setup(s, why, sizeof(why));
    if (rc == CH_REFUSED) {
        snprintf(err, errlen, "clickhouse store %s: %s", s->url.shown, why);
        goto fail;
    }
    if (rc == CH_DOWN)
        mc_warn("%s: %s; the flows are held (up to %zu) until it answers", s->what, why, s->cfg.max_queued);

    struct mc_store_writer w = { .what = s->what, .backlog = BACKLOG_BATCHES, .write = ch_write,
                                 .retention = ch_retention, .ctx = s };
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
