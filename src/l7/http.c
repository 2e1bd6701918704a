/*
 * http.c - the HTTP/1.x analyzer: one transaction per request and its
 * response, over keep-alive and pipelined connections.
 *
 * References: RFC 9112 (HTTP/1.1 message syntax and framing), RFC 9110
 * (semantics: methods, status codes, Content-Length), RFC 7230 section 3.2.4
 * (obsolete line folding).  Elements: IANA IPFIX 457-470, ours under PEN
 * 32473 ids 130-135 (docs/internals/analyzers-http.md).
 *
 *   request  = method SP request-target SP HTTP-version CRLF
 *              *( field-name ":" OWS field-value OWS CRLF )
 *              CRLF
 *              [ message-body ]
 *   response = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF  (then as above)
 *   chunked  = *( chunk-size [ chunk-ext ] CRLF chunk-data CRLF )
 *              "0" [ chunk-ext ] CRLF *( trailer-field CRLF ) CRLF
 *
 * RFC 9112 6.3 decides how long a body is, in this order: a response to
 * HEAD, a 1xx, 204 or 304 has none; a 2xx to CONNECT (and a 101) turns the
 * connection into a tunnel; "Transfer-Encoding whose final coding is
 * chunked" means chunks; another Transfer-Encoding on a response means
 * "until the connection closes"; else Content-Length ("the anticipated size,
 * as a decimal number of octets"); else a request has no body and a
 * response runs until the connection closes.
 *
 * Each direction is a small state machine fed in-order bytes.  Start and
 * header lines are taken one at a time, from the segment itself when whole,
 * else collected in a capped mc_l7_buf; bodies and chunk data are skipped by
 * count, never buffered; chunk-size lines are parsed byte by byte.
 * Requests wait in a bounded FIFO (pipelining) until the response that
 * answers them is complete; each pair becomes one transaction.
 */
#include "l7/http.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cloud/agg.h"
#include "common/cur.h"

MC_CTR_DEFINE(l7_http, MC_L7_HTTP_CTRS)

/* ---- transactions: strings kept per request/response -------------------- */

enum {
    S_METHOD,
    S_HOST,
    S_TARGET,
    S_VERSION,
    S_UA,
    S_REFERER,
    S_XFF,
    S_CTYPE,
    S_REASON,
    S_N
};

/* Longest value kept of each string (documented; longer values are cut). */
static const uint16_t str_cap[S_N] = { 32, 256, 1024, 16, 512, 1024, 256, 128, 64 };

/* Bytes a fresh transaction reserves for its strings (each cap + a NUL). */
#define TX_DATA (32 + 256 + 1024 + 16 + 512 + 1024 + 256 + 128 + 64 + S_N)

#define TX_REQ 0x01     /* a request was seen */
#define TX_RESP 0x02    /* a final response was seen */
#define TX_HEAD 0x04    /* the request was HEAD: its response has no body */
#define TX_CONNECT 0x08 /* the request was CONNECT: a 2xx opens a tunnel */

/* The strings a response sets (the version only when the request had none). */
#define RESPONSE_STRINGS (1u << S_REASON | 1u << S_CTYPE | 1u << S_VERSION)

/*
 * One request and its response.  Strings live in data: at off[i], len[i]
 * bytes and a NUL.  A request being read reserves each string's cap
 * (tx_new, 3.4 KB); once its headers are read it is packed, with room left
 * only for the strings its response may still set (tx_repack): requests
 * wait for their responses by the thousand.  The copy kept for the flow
 * record is packed whole.
 */
struct http_tx {
    uint64_t req_ms;          /* first byte of the request line */
    uint64_t resp_ms;         /* first byte of the final status line */
    uint64_t req_body;        /* request body bytes (decoded: without chunk framing) */
    uint64_t resp_body;       /* response body bytes (decoded) */
    uint16_t status;
    uint8_t flags;            /* TX_* */
    uint16_t fixed;           /* bit i: string i has no room left to be set */
    uint16_t off[S_N], len[S_N];
    char data[];
};

/* ---- per-flow state ---------------------------------------------------- */

enum http_st {
    ST_START,      /* expecting a start line (empty lines before it are skipped) */
    ST_HEADERS,    /* header lines until the empty line */
    ST_BODY,       /* remain bytes of a Content-Length body */
    ST_CHUNK_SIZE, /* a chunk-size line, byte by byte */
    ST_CHUNK_DATA, /* remain bytes of chunk data */
    ST_CHUNK_END,  /* the CR LF after chunk data */
    ST_TRAILERS,   /* trailer lines after the last chunk */
    ST_CLOSE,      /* body until the connection closes */
    ST_LOST,       /* out of sync: waiting for a message start */
    ST_STOP        /* nothing more to parse in this direction */
};

/* Sub-states of ST_CHUNK_SIZE. */
enum { CS_DIGITS, CS_EXT };

struct http_dir {
    uint8_t st;             /* enum http_st */
    uint8_t skip_line;      /* discarding the rest of an over-long line */
    uint8_t cs;             /* chunk-size sub-state */
    uint8_t ndigits;        /* hex digits of the chunk size so far */
    uint8_t interim;        /* the response being parsed is 1xx */
    uint8_t cl_seen, cl_bad, te_seen, te_chunked, hdr_big;
    uint16_t ext_len;       /* chunk-ext bytes so far */
    uint32_t hdr_bytes;     /* bytes of this header block so far */
    uint64_t cl;            /* Content-Length of the message */
    uint64_t remain;        /* body or chunk bytes left */
    uint64_t line_ms;       /* time of the first byte of the current line */
    struct mc_l7_buf line;  /* owned: a line split across segments */
};

struct http_state {
    struct http_dir d[2];     /* [0] the client's bytes, [1] the server's */
    struct http_tx *cur;      /* owned: the request whose headers are being read */
    struct http_tx *orphan;   /* owned: a response no request was waiting for */
    struct http_tx *rsp;      /* borrowed: q head or orphan, the response being read */
    struct http_tx *req_body; /* borrowed: the queued request whose body is being read */
    uint64_t body_pending[2]; /* body bytes of req_body [0] and rsp [1] not yet added to them (settle_body) */
    struct http_tx *q[MC_HTTP_MAX_PENDING]; /* owned: requests awaiting a response, oldest at q_head */
    uint8_t q_head, q_n;
    uint8_t overflow;         /* the FIFO overflowed: requests are no longer read */
    uint8_t swap;             /* d[] is indexed by role: client = flow direction swap */
    uint8_t roles_fixed;      /* a start line decided who is the client */
    uint32_t requests;        /* requests seen (httpRequestCount) */
    struct http_tx *first;    /* owned: packed copy of the first transaction emitted */
};

/* ---- small text helpers ----------------------------------------------- */

static int is_tchar(uint8_t c)
{
    /* RFC 9110 5.6.2 token characters */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_method_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ieq(struct mc_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lit[i])
            return 0;
    return 1;
}

static int has_prefix(const uint8_t *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
}

static struct mc_http_str trim(struct mc_http_str s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* ---- start lines -------------------------------------------------------- */

int mc_http_parse_request_line(const uint8_t *line, size_t n, int strict, struct mc_http_str *method,
                               struct mc_http_str *target, struct mc_http_str *version)
{
    size_t i = 0;
    while (i < n && is_method_char(line[i]))
        i++;
    /* methods are case-sensitive tokens; real ones are upper-case words */
    if (i == 0 || i > 32 || line[0] < 'A' || line[0] > 'Z')
        return 0;
    method->p = line;
    method->n = i;
    target->p = version->p = line + i;
    target->n = version->n = 0;
    if (i == n)
        return !strict; /* "OPTIONS" alone: Wireshark calls it a request too */
    if (line[i] != ' ')
        return 0;
    size_t t = i + 1, k = t;
    while (k < n && line[k] != ' ')
        k++;
    target->p = line + t;
    target->n = k - t;
    for (size_t j = t; j < k; j++)
        if (line[j] < 0x21 || line[j] == 0x7f)
            return 0; /* controls in a target: not text, not HTTP */
    if (k < n) {
        struct mc_http_str v = { line + k + 1, n - k - 1 };
        v = trim(v);
        if (!has_prefix(v.p, v.n, "HTTP/"))
            return 0;
        *version = v;
    }
    if (strict && (!has_prefix(version->p, version->n, "HTTP/1.") || target->n == 0))
        return 0;
    return 1;
}

int mc_http_parse_status_line(const uint8_t *line, size_t n, struct mc_http_str *version, unsigned *status,
                              struct mc_http_str *reason)
{
    if (!has_prefix(line, n, "HTTP/"))
        return 0;
    size_t i = 5;
    while (i < n && line[i] != ' ')
        i++;
    version->p = line;
    version->n = i;
    /* SP 3DIGIT, then SP reason or the end of the line */
    if (n - i < 4 || line[i] != ' ')
        return 0;
    unsigned v = 0;
    for (size_t j = i + 1; j < i + 4; j++) {
        if (line[j] < '0' || line[j] > '9')
            return 0;
        v = v * 10 + (unsigned)(line[j] - '0');
    }
    i += 4;
    if (i < n && line[i] != ' ')
        return 0;
    if (v < 100)
        return 0;
    *status = v;
    reason->p = line + (i < n ? i + 1 : n);
    reason->n = i < n ? n - i - 1 : 0;
    return 1;
}

int mc_http_parse_content_length(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t first = 0;
    int have = 0;
    size_t i = 0;
    do {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        struct mc_http_str e = trim((struct mc_http_str){ p + i, j - i });
        if (e.n == 0 || e.n > 18)
            return 0; /* empty, or >= 10^18: no body is that long */
        uint64_t v = 0;
        for (size_t k = 0; k < e.n; k++) {
            if (e.p[k] < '0' || e.p[k] > '9')
                return 0;
            v = v * 10 + (uint64_t)(e.p[k] - '0');
        }
        if (have && v != first)
            return 0;
        first = v;
        have = 1;
        i = j + 1;
    } while (i <= n);
    *out = first;
    return 1;
}

/* The last coding of a Transfer-Encoding list is chunked (RFC 9112 6.1). */
static int te_final_chunked(struct mc_http_str v)
{
    size_t end = v.n;
    size_t start = end;
    while (start > 0 && v.p[start - 1] != ',')
        start--;
    struct mc_http_str last = { v.p + start, end - start };
    /* a transfer-coding may carry parameters after ';' */
    for (size_t i = 0; i < last.n; i++)
        if (last.p[i] == ';') {
            last.n = i;
            break;
        }
    return ieq(trim(last), "chunked");
}

/* ---- transactions ------------------------------------------------------ */

static struct http_tx *tx_new(void)
{
    struct http_tx *tx = calloc(1, sizeof(*tx) + TX_DATA);
    if (!tx) {
        MC_CTR_INC(l7_http, alloc_failed);
        return NULL;
    }
    uint16_t off = 0;
    for (int i = 0; i < S_N; i++) {
        tx->off[i] = off;
        off = (uint16_t)(off + str_cap[i] + 1);
    }
    return tx;
}

/* Sets string i once (the first occurrence of a header wins), cut to its cap. */
static void tx_set(struct http_tx *tx, int i, struct mc_http_str v)
{
    if (!tx || tx->len[i] || (tx->fixed >> i & 1))
        return;
    size_t n = v.n;
    if (n > str_cap[i]) {
        n = str_cap[i];
        MC_CTR_INC(l7_http, truncated);
    }
    memcpy(tx->data + tx->off[i], v.p, n);
    tx->data[tx->off[i] + n] = '\0';
    tx->len[i] = (uint16_t)n;
}

/*
 * A packed copy of tx: its strings back to back, and a string of room
 * (a bit mask) that is still empty keeps its cap to be set later.
 */
static struct http_tx *tx_repack(const struct http_tx *tx, unsigned room)
{
    size_t total = 0;
    unsigned open = 0;
    for (int i = 0; i < S_N; i++) {
        if (!tx->len[i] && !(tx->fixed >> i & 1) && (room >> i & 1))
            open |= 1u << i;
        total += (size_t)(open >> i & 1 ? str_cap[i] : tx->len[i]) + 1;
    }
    struct http_tx *c = malloc(sizeof(*c) + total);
    if (!c) {
        MC_CTR_INC(l7_http, alloc_failed);
        return NULL;
    }
    memcpy(c, tx, sizeof(*c));
    c->fixed = (uint16_t)((1u << S_N) - 1 - open);
    uint16_t off = 0;
    for (int i = 0; i < S_N; i++) {
        c->off[i] = off;
        memcpy(c->data + off, tx->data + tx->off[i], tx->len[i]);
        c->data[off + tx->len[i]] = '\0';
        off = (uint16_t)(off + (open >> i & 1 ? str_cap[i] : tx->len[i]) + 1);
    }
    return c;
}

static struct http_tx *tx_pack(const struct http_tx *tx) { return tx_repack(tx, 0); }

static struct mc_http_str tx_str(const struct http_tx *tx, int i)
{
    struct mc_http_str s = { (const uint8_t *)tx->data + tx->off[i], tx->len[i] };
    return s;
}

/* Host names we put in a cloud key: DNS names, IPv4/IPv6 literals, a port. */
static int host_key_ok(struct mc_http_str h)
{
    if (h.n == 0)
        return 0;
    for (size_t i = 0; i < h.n; i++) {
        uint8_t c = h.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

/*
 * Cloud aggregates of one transaction: http.host.<host> counts requests,
 * final statuses by class and response body bytes, keeps last_seen.  The
 * host is the request's Host (lower-cased), else the server address.
 */
static void agg_tx(struct mc_l7_ctx *x, const struct http_state *s, const struct http_tx *tx)
{
    struct mc_agg *a = mc_l7_agg(x);
    if (!a)
        return;
    char key[16 + 256 + 1]; /* the prefix and a Host at its maximum */
    memcpy(key, "http.host.", 10);
    size_t k = 10;
    struct mc_http_str h = tx_str(tx, S_HOST);
    if (h.n) {
        if (!host_key_ok(h)) {
            MC_CTR_INC(l7_http, agg_bad_host);
            return;
        }
        for (size_t i = 0; i < h.n; i++)
            key[k++] = (char)lower(h.p[i]);
    } else {
        const struct mc_flow *f = mc_l7_flow(x);
        const uint8_t *server = f->key.addr[s->swap ? 0 : 1].b;
        if (!inet_ntop(f->key.ip_ver == 6 ? AF_INET6 : AF_INET, server, key + k, sizeof(key) - k))
            return;
        k += strlen(key + k);
    }
    int r = 0;
    if (tx->flags & TX_REQ)
        r |= mc_agg_hincr(a, key, k, "requests", 1);
    if ((tx->flags & TX_RESP) && tx->status >= 100 && tx->status < 600) {
        static const char *const cls[] = { "status_1xx", "status_2xx", "status_3xx", "status_4xx",
                                           "status_5xx" };
        r |= mc_agg_hincr(a, key, k, cls[tx->status / 100 - 1], 1);
        r |= mc_agg_hincr(a, key, k, "bytes", (int64_t)tx->resp_body);
    }
    r |= mc_agg_hmax(a, key, k, "last_seen", mc_l7_now_ms(x));
    r |= mc_agg_expire(a, key, k, MC_HTTP_AGG_TTL_MS);
    if (r)
        MC_CTR_INC(l7_http, agg_refused);
}

/* One string key of a transaction; an empty one only when always (the request line's parts). */
static void put_str(struct mc_l7_ctx *x, const char *name, const struct http_tx *tx, int i, int always)
{
    struct mc_http_str v = tx_str(tx, i);
    if (v.n || always)
        mc_l7_tx_str(x, name, (const char *)v.p, v.n);
}

/*
 * Body bytes are counted in the state, whose lines the flow stage fetched
 * ahead, not in the transaction (its own allocation, a cache miss per
 * segment of a download); settle_body adds them to it before req_body or
 * rsp changes and before a transaction is written.
 */
static void body_bytes(struct http_state *s, int dir, uint64_t n)
{
    if (dir == 0 ? s->req_body != NULL : s->rsp != NULL)
        s->body_pending[dir != 0] += n;
}

static void settle_body(struct http_state *s)
{
    if (s->body_pending[0] && s->req_body)
        s->req_body->req_body += s->body_pending[0];
    if (s->body_pending[1] && s->rsp)
        s->rsp->resp_body += s->body_pending[1];
    s->body_pending[0] = s->body_pending[1] = 0;
}

/* Writes tx as one transaction, aggregates it, keeps it if it is the flow's first; frees it. */
static void emit(struct mc_l7_ctx *x, struct http_state *s, struct http_tx *tx)
{
    settle_body(s);
    if (s->req_body == tx)
        s->req_body = NULL;
    int req = tx->flags & TX_REQ, resp = tx->flags & TX_RESP;
    mc_l7_tx_begin(x, req ? tx->req_ms : tx->resp_ms);
    if (req) {
        put_str(x, "httpRequestMethod", tx, S_METHOD, 1);
        put_str(x, "httpRequestHost", tx, S_HOST, 0);
        put_str(x, "httpRequestTarget", tx, S_TARGET, 1);
    }
    put_str(x, "httpMessageVersion", tx, S_VERSION, 0);
    put_str(x, "httpUserAgent", tx, S_UA, 0);
    put_str(x, "httpReferer", tx, S_REFERER, 0);
    put_str(x, "httpXForwardedFor", tx, S_XFF, 0);
    if (req)
        mc_l7_tx_u64(x, "httpRequestBodyLength", tx->req_body);
    if (resp) {
        mc_l7_tx_u64(x, "httpStatusCode", tx->status);
        put_str(x, "httpReasonPhrase", tx, S_REASON, 1);
        put_str(x, "httpContentType", tx, S_CTYPE, 0);
        mc_l7_tx_u64(x, "httpResponseBodyLength", tx->resp_body);
        if (req)
            mc_l7_tx_u64(x, "httpResponseTimeMs", tx->resp_ms >= tx->req_ms ? tx->resp_ms - tx->req_ms : 0);
    }
    mc_l7_tx_end(x);
    agg_tx(x, s, tx);
    if (!s->first)
        s->first = tx_pack(tx);
    free(tx);
}

/* The response being read is complete (or cut): emit its transaction. */
static void finish_response(struct mc_l7_ctx *x, struct http_state *s)
{
    struct http_tx *tx = s->rsp;
    if (!tx)
        return;
    settle_body(s);
    s->rsp = NULL;
    if (tx == s->orphan) {
        s->orphan = NULL;
    } else {
        s->q[s->q_head] = NULL;
        s->q_head = (uint8_t)((s->q_head + 1) % MC_HTTP_MAX_PENDING);
        s->q_n--;
    }
    emit(x, s, tx);
}

/* The oldest waiting request will get no response we can see: emit it alone. */
static void drop_head(struct mc_l7_ctx *x, struct http_state *s)
{
    if (!s->q_n)
        return;
    struct http_tx *tx = s->q[s->q_head];
    s->q[s->q_head] = NULL;
    s->q_head = (uint8_t)((s->q_head + 1) % MC_HTTP_MAX_PENDING);
    s->q_n--;
    MC_CTR_INC(l7_http, unanswered);
    emit(x, s, tx);
}

/*
 * The request being read (s->cur) has its headers: queue it for its
 * response.  Returns it, or NULL when the FIFO is full (then requests stop
 * being read; the queued ones still get their responses).
 */
static struct http_tx *push_request(struct http_state *s)
{
    struct http_tx *tx = s->cur;
    s->cur = NULL;
    if (!tx)
        return NULL;
    if (s->q_n == MC_HTTP_MAX_PENDING) {
        MC_CTR_INC(l7_http, pipeline_overflow);
        free(tx);
        s->overflow = 1;
        s->d[0].st = ST_STOP;
        return NULL;
    }
    struct http_tx *packed = tx_repack(tx, RESPONSE_STRINGS);
    if (packed) { /* else it waits as it is */
        free(tx);
        tx = packed;
    }
    s->q[(s->q_head + s->q_n) % MC_HTTP_MAX_PENDING] = tx;
    s->q_n++;
    return tx;
}

/* ---- message framing --------------------------------------------------- */

static void reset_msg(struct http_dir *d)
{
    d->cl_seen = d->cl_bad = d->te_seen = d->te_chunked = d->hdr_big = d->interim = 0;
    d->cl = d->remain = 0;
    d->hdr_bytes = 0;
}

/* Stops parsing one direction for good (a lie we cannot step over). */
static void stop_dir(struct mc_l7_ctx *x, struct http_state *s, int dir)
{
    if (dir == 1)
        finish_response(x, s);
    s->d[dir].st = ST_STOP;
    mc_l7_buf_reset(&s->d[dir].line);
}

/* The message of dir is complete: back to the next start line. */
static void msg_done(struct mc_l7_ctx *x, struct http_state *s, int dir)
{
    struct http_dir *d = &s->d[dir];
    d->st = ST_START;
    if (dir == 0) {
        settle_body(s);
        s->req_body = NULL;
        if (s->overflow)
            d->st = ST_STOP;
        return;
    }
    if (d->interim) {
        d->interim = 0;
        return;
    }
    finish_response(x, s);
    if (s->overflow && s->q_n == 0)
        d->st = ST_STOP;
}

/* Both directions stop: the connection became a tunnel or another protocol. */
static void stop_both(struct mc_l7_ctx *x, struct http_state *s)
{
    stop_dir(x, s, 1);
    s->d[0].st = ST_STOP;
    mc_l7_buf_reset(&s->d[0].line);
}

static void headers_done(struct mc_l7_ctx *x, struct http_state *s, int dir)
{
    struct http_dir *d = &s->d[dir];
    if (dir == 0) {
        struct http_tx *tx = push_request(s);
        if (d->st == ST_STOP)
            return;
        if (d->te_seen && !d->te_chunked) {
            /* RFC 9112 6.3: a request body of unknown length; the server closes */
            MC_CTR_INC(l7_http, bad_transfer_encoding);
            d->st = ST_LOST;
            return;
        }
        if (!d->te_seen && d->cl_bad) {
            MC_CTR_INC(l7_http, bad_content_length);
            d->st = ST_LOST;
            return;
        }
        settle_body(s);
        s->req_body = tx;
        if (d->te_chunked) {
            d->st = ST_CHUNK_SIZE;
            d->cs = CS_DIGITS;
            d->ndigits = 0;
            d->remain = 0;
        } else if (d->cl_seen && d->cl > 0) {
            d->st = ST_BODY;
            d->remain = d->cl;
        } else {
            msg_done(x, s, 0);
        }
        return;
    }
    if (d->interim) {
        msg_done(x, s, 1);
        return;
    }
    struct http_tx *tx = s->rsp;
    unsigned status = tx ? tx->status : 0;
    uint8_t req = tx ? tx->flags : 0;
    if (status == 101 || ((req & TX_CONNECT) && status >= 200 && status < 300)) {
        /* no more HTTP on this connection (RFC 9110 15.2.2, 9.3.6) */
        if (status == 101)
            MC_CTR_INC(l7_http, upgrade);
        else
            MC_CTR_INC(l7_http, tunnel);
        stop_both(x, s);
        return;
    }
    if ((req & TX_HEAD) || status == 204 || status == 304) {
        msg_done(x, s, 1);
    } else if (d->te_seen) {
        if (d->te_chunked) {
            d->st = ST_CHUNK_SIZE;
            d->cs = CS_DIGITS;
            d->ndigits = 0;
            d->remain = 0;
        } else {
            d->st = ST_CLOSE;
        }
    } else if (d->cl_bad) {
        /* RFC 9112 6.3: unrecoverable; the transaction ends here */
        MC_CTR_INC(l7_http, bad_content_length);
        finish_response(x, s);
        d->st = ST_LOST;
    } else if (d->cl_seen) {
        d->remain = d->cl;
        if (d->cl)
            d->st = ST_BODY;
        else
            msg_done(x, s, 1);
    } else {
        d->st = ST_CLOSE;
    }
}

/* ---- lines ------------------------------------------------------------- */

static void start_request(struct mc_l7_ctx *x, struct http_state *s, const uint8_t *line, size_t n,
                          int strict)
{
    struct http_dir *d = &s->d[0];
    struct mc_http_str m, t, v;
    if (!mc_http_parse_request_line(line, n, strict, &m, &t, &v)) {
        if (!strict) {
            MC_CTR_INC(l7_http, bad_request_line);
            d->st = ST_LOST;
        }
        return;
    }
    if (strict)
        MC_CTR_INC(l7_http, resynced);
    free(s->cur);
    s->cur = tx_new();
    if (!s->cur) {
        stop_both(x, s);
        return;
    }
    MC_CTR_INC(l7_http, requests);
    s->requests++;
    struct http_tx *tx = s->cur;
    tx->flags = TX_REQ;
    tx->req_ms = d->line_ms;
    if (m.n == 4 && memcmp(m.p, "HEAD", 4) == 0)
        tx->flags |= TX_HEAD;
    if (m.n == 7 && memcmp(m.p, "CONNECT", 7) == 0)
        tx->flags |= TX_CONNECT;
    tx_set(tx, S_METHOD, m);
    tx_set(tx, S_TARGET, t);
    tx_set(tx, S_VERSION, v);
    reset_msg(d);
    d->hdr_bytes = (uint32_t)n;
    d->st = ST_HEADERS;
}

static void start_response(struct mc_l7_ctx *x, struct http_state *s, const uint8_t *line, size_t n,
                           int strict)
{
    struct http_dir *d = &s->d[1];
    struct mc_http_str v, r;
    unsigned status;
    if (!mc_http_parse_status_line(line, n, &v, &status, &r) ||
        (strict && !has_prefix(v.p, v.n, "HTTP/1."))) {
        if (!strict) {
            MC_CTR_INC(l7_http, bad_status_line);
            d->st = ST_LOST;
        }
        return;
    }
    if (strict)
        MC_CTR_INC(l7_http, resynced);
    reset_msg(d);
    d->hdr_bytes = (uint32_t)n;
    d->st = ST_HEADERS;
    if (status < 200 && status != 101) {
        /* interim (RFC 9110 15.2): the final response is still to come */
        MC_CTR_INC(l7_http, interim);
        d->interim = 1;
        return;
    }
    MC_CTR_INC(l7_http, responses);
    settle_body(s); /* before an orphan rsp may point to goes */
    struct http_tx *tx;
    if (s->q_n) {
        tx = s->q[s->q_head];
    } else {
        MC_CTR_INC(l7_http, unmatched_response);
        if (s->rsp == s->orphan)
            s->rsp = NULL;
        free(s->orphan);
        tx = s->orphan = tx_new();
        if (!tx) {
            stop_both(x, s);
            return;
        }
    }
    s->rsp = tx;
    tx->flags |= TX_RESP;
    tx->status = (uint16_t)status;
    tx->resp_ms = d->line_ms;
    tx_set(tx, S_REASON, r);
    tx_set(tx, S_VERSION, v); /* kept only when the request had none */
}

/* One header (or trailer) line of dir, not empty. */
static void header_line(struct http_state *s, int dir, const uint8_t *line, size_t n)
{
    struct http_dir *d = &s->d[dir];
    if (line[0] == ' ' || line[0] == '\t') {
        /* obs-fold (RFC 9112 5.2): deprecated; the continuation is dropped */
        MC_CTR_INC(l7_http, obs_fold);
        return;
    }
    size_t i = 0;
    while (i < n && is_tchar(line[i]))
        i++;
    if (i == 0 || i == n || line[i] != ':') {
        MC_CTR_INC(l7_http, bad_header);
        return;
    }
    struct mc_http_str name = { line, i };
    struct mc_http_str val = trim((struct mc_http_str){ line + i + 1, n - i - 1 });
    if (d->st == ST_TRAILERS)
        return; /* trailers frame nothing and we keep none */
    if (ieq(name, "content-length")) {
        uint64_t v = 0;
        if (!mc_http_parse_content_length(val.p, val.n, &v) || (d->cl_seen && v != d->cl))
            d->cl_bad = 1;
        else
            d->cl = v;
        d->cl_seen = 1;
        return;
    }
    if (ieq(name, "transfer-encoding")) {
        d->te_seen = 1;
        d->te_chunked = (uint8_t)te_final_chunked(val);
        return;
    }
    if (d->hdr_big)
        return;
    if (dir == 0) {
        if (ieq(name, "host"))
            tx_set(s->cur, S_HOST, val);
        else if (ieq(name, "user-agent"))
            tx_set(s->cur, S_UA, val);
        else if (ieq(name, "referer"))
            tx_set(s->cur, S_REFERER, val);
        else if (ieq(name, "x-forwarded-for"))
            tx_set(s->cur, S_XFF, val);
    } else if (!d->interim && ieq(name, "content-type")) {
        tx_set(s->rsp, S_CTYPE, val);
    }
}

/*
 * The first start line tells who the client is.  A capture that begins mid
 * connection with the server's packet makes the flow table call the server
 * the client; a status line from "the client" (or a request line from "the
 * server") while the other side has said nothing swaps the roles.  Returns 1
 * when it did.
 */
static int fix_roles(struct http_state *s, int role, const uint8_t *line, size_t n)
{
    struct mc_http_str a, b, c;
    unsigned st;
    int req = mc_http_parse_request_line(line, n, 0, &a, &b, &c);
    int rsp = mc_http_parse_status_line(line, n, &a, &st, &b);
    if (!req && !rsp)
        return 0;
    s->roles_fixed = 1;
    const struct http_dir *o = &s->d[!role];
    if ((role == 0 ? !rsp : !req) || o->st != ST_START || o->line.len || o->skip_line)
        return 0;
    struct http_dir t = s->d[0];
    s->d[0] = s->d[1];
    s->d[1] = t;
    s->swap ^= 1;
    MC_CTR_INC(l7_http, roles_swapped);
    return 1;
}

static void on_line(struct mc_l7_ctx *x, struct http_state *s, int dir, const uint8_t *line, size_t n)
{
    struct http_dir *d = &s->d[dir];
    switch (d->st) {
    case ST_START:
    case ST_LOST:
        if (n == 0)
            return; /* RFC 9112 2.2: empty lines before a start line are ignored */
        if (dir == 0)
            start_request(x, s, line, n, d->st == ST_LOST);
        else
            start_response(x, s, line, n, d->st == ST_LOST);
        return;
    case ST_HEADERS:
        if (n == 0)
            headers_done(x, s, dir);
        else
            header_line(s, dir, line, n);
        return;
    case ST_TRAILERS:
        if (n == 0)
            msg_done(x, s, dir);
        else
            header_line(s, dir, line, n);
        return;
    default:
        return;
    }
}

enum { LINE_MORE, LINE_OK, LINE_LONG };

/*
 * Takes the next line of c: LINE_OK with the line in (*line, *n) (CR LF stripped; valid
 * until d->line is reset), LINE_MORE when c ran out mid-line (the part is
 * kept in d->line), LINE_LONG when an over-long line just ended (skipped).
 */
static int take_line(struct mc_l7_ctx *x, struct http_dir *d, struct mc_cur *c, const uint8_t **line,
                     size_t *n)
{
    const uint8_t *p = mc_cur_ptr(c);
    size_t left = mc_cur_left(c);
    const uint8_t *lf = memchr(p, '\n', left);
    size_t take = lf ? (size_t)(lf - p) + 1 : left;
    if (d->line.len == 0 && !d->skip_line)
        d->line_ms = mc_l7_now_ms(x);
    if ((d->st == ST_HEADERS || d->st == ST_TRAILERS) && !d->hdr_big) {
        if (take > MC_HTTP_MAX_HEADER - d->hdr_bytes) {
            /* keep reading framing, stop keeping values (lines are never buffered whole) */
            MC_CTR_INC(l7_http, header_too_large);
            d->hdr_big = 1;
        } else {
            d->hdr_bytes += (uint32_t)take;
        }
    }
    mc_cur_skip(c, take);
    if (d->skip_line) {
        if (!lf)
            return LINE_MORE;
        d->skip_line = 0;
        return LINE_LONG;
    }
    if (d->line.len == 0 && lf) {
        *line = p;
        *n = take - 1;
    } else {
        if (d->line.len + take > MC_HTTP_MAX_LINE || mc_l7_buf_append(x, &d->line, p, take) != 0) {
            if (d->st != ST_LOST)
                MC_CTR_INC(l7_http, line_too_long);
            mc_l7_buf_reset(&d->line);
            if (!lf) {
                d->skip_line = 1;
                return LINE_MORE;
            }
            return LINE_LONG;
        }
        if (!lf)
            return LINE_MORE;
        *line = d->line.p;
        *n = d->line.len - 1;
    }
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    return LINE_OK;
}

/* An over-long line ended: a start line that long is no message we can read. */
static void long_line(struct http_state *s, int dir)
{
    struct http_dir *d = &s->d[dir];
    if (d->st == ST_START)
        d->st = ST_LOST;
}

/* ---- chunked coding ---------------------------------------------------- */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads chunk-size [ext] CRLF byte by byte; a lie stops the direction. */
static void chunk_size(struct mc_l7_ctx *x, struct http_state *s, int dir, struct mc_cur *c)
{
    struct http_dir *d = &s->d[dir];
    while (mc_cur_left(c) && d->st == ST_CHUNK_SIZE) {
        uint8_t ch = mc_cur_u8(c);
        if (d->cs == CS_DIGITS) {
            int h = hexval(ch);
            if (h >= 0) {
                d->remain = d->remain << 4 | (uint64_t)h;
                if (++d->ndigits > 16 || d->remain > MC_HTTP_MAX_CHUNK) {
                    MC_CTR_INC(l7_http, chunk_too_large);
                    stop_dir(x, s, dir);
                    return;
                }
                continue;
            }
            if (d->ndigits == 0) {
                MC_CTR_INC(l7_http, bad_chunk_size);
                stop_dir(x, s, dir);
                return;
            }
            d->cs = CS_EXT;
            d->ext_len = 0;
        }
        /* CS_EXT: BWS, ";ext", up to the LF */
        if (ch == '\n') {
            if (d->remain == 0) {
                d->st = ST_TRAILERS;
                d->hdr_bytes = 0;
            } else {
                d->st = ST_CHUNK_DATA;
            }
            return;
        }
        if (ch != ';' && ch != ' ' && ch != '\t' && ch != '\r' && d->ext_len == 0) {
            /* "12x" or "-1": not a chunk size */
            MC_CTR_INC(l7_http, bad_chunk_size);
            stop_dir(x, s, dir);
            return;
        }
        if (++d->ext_len > MC_HTTP_MAX_CHUNK_EXT) {
            MC_CTR_INC(l7_http, chunk_ext_too_long);
            stop_dir(x, s, dir);
            return;
        }
    }
}

/* ---- the analyzer callbacks ------------------------------------------- */

static void http_init(struct mc_l7_ctx *x, void *st)
{
    (void)x;
    struct http_state *s = st;
    s->d[0].st = s->d[1].st = ST_START;
}

static void http_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct http_state *s = st;
    int role = (dir & 1) ^ s->swap;
    struct http_dir *d = &s->d[role];
    struct mc_cur c = mc_cur_make(p, n);
    if (d->st == ST_LOST) {
        /* segments often start messages: try each one's start as a line start */
        mc_l7_buf_reset(&d->line);
        d->skip_line = 0;
    }
    while (mc_cur_left(&c) && d->st != ST_STOP) {
        switch (d->st) {
        case ST_START:
        case ST_HEADERS:
        case ST_TRAILERS:
        case ST_LOST: {
            const uint8_t *line = NULL;
            size_t len = 0;
            int r = take_line(x, d, &c, &line, &len);
            if (r == LINE_OK && len && d->st == ST_START && !s->roles_fixed &&
                fix_roles(s, role, line, len)) {
                role ^= 1;
                d = &s->d[role];
            }
            if (r == LINE_LONG)
                long_line(s, role);
            else if (r == LINE_OK)
                on_line(x, s, role, line, len);
            if (r != LINE_MORE)
                mc_l7_buf_reset(&d->line);
            break;
        }
        case ST_BODY:
        case ST_CHUNK_DATA: {
            size_t k = mc_cur_left(&c);
            if (k > d->remain)
                k = (size_t)d->remain;
            mc_cur_skip(&c, k);
            body_bytes(s, role, k);
            d->remain -= k;
            if (d->remain == 0) {
                if (d->st == ST_BODY) {
                    msg_done(x, s, role);
                } else {
                    d->st = ST_CHUNK_END;
                    d->cs = 0;
                }
            }
            break;
        }
        case ST_CHUNK_SIZE:
            chunk_size(x, s, role, &c);
            break;
        case ST_CHUNK_END: {
            uint8_t ch = mc_cur_u8(&c);
            if (ch == '\r' && d->cs == 0) {
                d->cs = 1; /* the CR; the LF must follow */
            } else if (ch == '\n') {
                d->st = ST_CHUNK_SIZE;
                d->cs = CS_DIGITS;
                d->ndigits = 0;
                d->remain = 0;
            } else {
                /* the chunk was longer than its size said */
                MC_CTR_INC(l7_http, bad_chunk_end);
                stop_dir(x, s, role);
            }
            break;
        }
        case ST_CLOSE: {
            size_t k = mc_cur_left(&c);
            mc_cur_skip(&c, k);
            body_bytes(s, role, k);
            break;
        }
        default:
            return;
        }
    }
}

static void http_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    struct http_state *s = st;
    dir = (dir & 1) ^ s->swap; /* from here on: the role */
    struct http_dir *d = &s->d[dir];
    switch (d->st) {
    case ST_STOP:
    case ST_LOST:
        return;
    case ST_CLOSE:
        MC_CTR_INC(l7_http, gap_in_body);
        body_bytes(s, dir, len);
        return;
    case ST_BODY:
    case ST_CHUNK_DATA:
        if (len <= d->remain) {
            /* the hole is inside a body of known length: step over it */
            MC_CTR_INC(l7_http, gap_in_body);
            body_bytes(s, dir, len);
            d->remain -= len;
            if (d->remain == 0) {
                if (d->st == ST_BODY) {
                    msg_done(x, s, dir);
                } else {
                    d->st = ST_CHUNK_END;
                    d->cs = 0;
                }
            }
            return;
        }
        break;
    default:
        break;
    }
    MC_CTR_INC(l7_http, gap_lost);
    if (dir == 0) {
        /* a request cut in its headers is still a request the server may answer */
        if (s->cur)
            push_request(s);
        settle_body(s);
        s->req_body = NULL;
    } else if (s->rsp && !d->interim) {
        finish_response(x, s);
    } else if (d->st == ST_START) {
        /* the lost bytes most likely held the oldest request's response */
        drop_head(x, s);
    }
    mc_l7_buf_reset(&d->line);
    d->skip_line = 0;
    if (d->st != ST_STOP)
        d->st = ST_LOST;
}

static void http_end(struct mc_l7_ctx *x, void *st)
{
    struct http_state *s = st;
    if (s->rsp) {
        if (s->d[1].st != ST_CLOSE)
            MC_CTR_INC(l7_http, incomplete);
        finish_response(x, s);
    }
    while (s->q_n)
        drop_head(x, s);
    if (s->cur) {
        MC_CTR_INC(l7_http, incomplete);
        struct http_tx *tx = s->cur;
        s->cur = NULL;
        emit(x, s, tx);
    }
    s->d[0].st = s->d[1].st = ST_STOP;
}

static void http_release(void *st)
{
    struct http_state *s = st;
    free(s->cur);
    free(s->orphan);
    for (int i = 0; i < MC_HTTP_MAX_PENDING; i++)
        free(s->q[i]);
    free(s->first);
    mc_l7_buf_free(&s->d[0].line);
    mc_l7_buf_free(&s->d[1].line);
    memset(s, 0, sizeof(*s));
}

/*
 * Cheap check of a direction's first bytes.  Client: an upper-case method
 * and a space, and, when the whole line is there, " HTTP/" in it (so RTSP
 * and SIP, which share methods, do not match).  Server: "HTTP/1.".
 */
static int http_detect(const uint8_t *p, size_t n, int dir)
{
    if (dir == 1) {
        size_t k = n < 7 ? n : 7;
        return n >= 5 && memcmp(p, "HTTP/1.", k) == 0;
    }
    size_t i = 0;
    while (i < n && i < 17 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    if (i < 3 || i > 16 || i >= n || p[i] != ' ')
        return 0;
    const uint8_t *lf = memchr(p, '\n', n);
    size_t end = lf ? (size_t)(lf - p) : n;
    for (size_t j = i; j + 6 <= end; j++)
        if (memcmp(p + j, " HTTP/", 6) == 0)
            return 1;
    if (lf)
        return 0;
    /* the line goes on in the next segment: trust the common methods */
    static const char *const known[] = { "GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                         "OPTIONS", "PATCH", "CONNECT", "TRACE" };
    for (size_t m = 0; m < sizeof(known) / sizeof(known[0]); m++)
        if (strlen(known[m]) == i && memcmp(p, known[m], i) == 0)
            return 1;
    return 0;
}

/* ---- flow record elements ---------------------------------------------- */

/* The transaction the flow record describes: the first one emitted, else the oldest pending. */
static const struct http_tx *flow_tx(const struct mc_ie_env *env)
{
    const struct http_state *s = mc_l7_state_of(env->f, &mc_l7_http);
    if (!s)
        return NULL;
    if (s->first)
        return s->first;
    if (s->q_n)
        return s->q[s->q_head];
    return s->orphan ? s->orphan : s->cur;
}

static void get_str(const struct mc_ie_env *env, struct mc_ie_val *v, int i)
{
    const struct http_tx *tx = flow_tx(env);
    v->str = tx ? tx->data + tx->off[i] : "";
    v->str_len = tx ? tx->len[i] : 0;
}

static void get_method(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_METHOD); }
static void get_host(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_HOST); }
static void get_target(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_TARGET); }
static void get_version(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_VERSION); }
static void get_ua(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_UA); }
static void get_referer(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_REFERER); }
static void get_xff(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_XFF); }
static void get_ctype(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_CTYPE); }
static void get_reason(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_REASON); }

static void get_status(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct http_tx *tx = flow_tx(env);
    v->u = tx ? tx->status : 0;
}

static void get_req_body(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct http_tx *tx = flow_tx(env);
    v->u = tx ? tx->req_body : 0;
}

static void get_resp_body(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct http_tx *tx = flow_tx(env);
    v->u = tx ? tx->resp_body : 0;
}

static void get_resp_time(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct http_tx *tx = flow_tx(env);
    int both = tx && (tx->flags & TX_REQ) && (tx->flags & TX_RESP) && tx->resp_ms >= tx->req_ms;
    v->u = both ? tx->resp_ms - tx->req_ms : 0;
}

static void get_count(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct http_state *s = mc_l7_state_of(env->f, &mc_l7_http);
    v->u = s ? s->requests : 0;
}

#define STR MC_IE_T_STRING
#define VAR MC_IE_VARLEN
#define U MC_IE_T_UNSIGNED
#define E MC_IE_F_NOV9

static const struct mc_ie http_fields[] = {
    { "httpRequestMethod", 459, 0, VAR, 16, STR, 0, NULL, get_method, "HTTP request method", 32 },
    { "httpRequestHost", 460, 0, VAR, 64, STR, 0, NULL, get_host, "Host header of the request", 256 },
    { "httpRequestTarget", 461, 0, VAR, 128, STR, 0, NULL, get_target, "request-target (URI as sent)",
      1024 },
    { "httpMessageVersion", 462, 0, VAR, 8, STR, 0, NULL, get_version,
      "HTTP version of the request (of the response when the request gave none)", 16 },
    { "httpUserAgent", 468, 0, VAR, 64, STR, 0, NULL, get_ua, "User-Agent header of the request", 512 },
    { "httpContentType", 469, 0, VAR, 32, STR, 0, NULL, get_ctype, "Content-Type header of the response",
      128 },
    { "httpReasonPhrase", 470, 0, VAR, 32, STR, 0, NULL, get_reason, "reason phrase of the final response",
      64 },
    { "httpStatusCode", 457, 0, 2, 2, U, 0, NULL, get_status, "status code of the final response (0: none)",
      0 },
    { "httpReferer", 130, MC_PEN_MC, VAR, 0, STR, E, NULL, get_referer, "Referer header of the request",
      1024 },
    { "httpXForwardedFor", 131, MC_PEN_MC, VAR, 0, STR, E, NULL, get_xff,
      "X-Forwarded-For header of the request", 256 },
    { "httpRequestBodyLength", 132, MC_PEN_MC, 8, 0, U, E, NULL, get_req_body,
      "request body bytes seen (without chunk framing)", 0 },
    { "httpResponseBodyLength", 133, MC_PEN_MC, 8, 0, U, E, NULL, get_resp_body,
      "response body bytes seen (without chunk framing)", 0 },
    { "httpResponseTimeMs", 134, MC_PEN_MC, 4, 0, U, E, NULL, get_resp_time,
      "ms from the request's first byte to the final response's first byte", 0 },
    { "httpRequestCount", 135, MC_PEN_MC, 4, 0, U, E, NULL, get_count, "requests seen in the flow", 0 },
};

#undef STR
#undef VAR
#undef U
#undef E

static const char *const http_ndpi[] = { "HTTP", "HTTP_Proxy", "HTTP_Connect", NULL };

const struct mc_l7_analyzer mc_l7_http = {
    .name = "http",
    .l4 = MC_L7_TCP,
    .ports = { 80, 8080, 8000, 3128 },
    .ndpi = http_ndpi,
    .detect = http_detect,
    .state_size = sizeof(struct http_state),
    .init = http_init,
    .data = http_data,
    .gap = http_gap,
    .end = http_end,
    .release = http_release,
    .fields = http_fields,
    .n_fields = sizeof(http_fields) / sizeof(http_fields[0]),
};
