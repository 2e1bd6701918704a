/*
 * sip.c - the SIP analyzer: every SIP message, request or response, over UDP
 * and TCP, is one transaction (its Call-ID, method or status, parties,
 * CSeq, Via, Contact, User-Agent, Expires, and the SDP it carries).
 *
 * References: RFC 3261 (7 message format, 7.3.1 folding, 7.3.3 compact
 * forms, 7.5 CRLF before the start line, 18.3 framing, 20 header fields,
 * 25.1 grammar), RFC 5626 3.5.1 (CRLF keep-alives), RFC 4566 (SDP, sdp.c).
 *
 *   Request-Line = Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *   message-header = field-name HCOLON field-value CRLF      (*)
 *   CRLF
 *   [ message-body ]
 *
 *   (*) "Header fields can be extended over multiple lines by preceding
 *   each extra line with at least one SP or horizontal tab (HT)" (7.3.1);
 *   i: Call-ID, f: From, t: To, m: Contact, v: Via, l: Content-Length,
 *   c: Content-Type, e: Content-Encoding, k: Supported, s: Subject (7.3.3).
 *
 * Framing (18.3): "In the case of message-oriented transports (such as UDP),
 * if the message has a Content-Length header field, the message body is
 * assumed to contain that many bytes.  If there are additional bytes in the
 * transport packet beyond the end of the body, they MUST be discarded" and
 * without the header the body is the rest of the datagram.  "In the case of
 * stream-oriented transports such as TCP, the Content-Length header field
 * indicates the size of the body.  The Content-Length header field MUST be
 * used with stream oriented transports."  Over TCP each direction is a
 * small state machine: the header block (found by its empty line, byte by
 * byte across segments), then Content-Length body bytes; a message whole in
 * one segment is parsed in place, a split one is collected (bounded:
 * MC_SIP_MAX_HEADER of headers, MC_SIP_MAX_BODY of body) and parsed when
 * complete.  Lost bytes (gap) inside a body are stepped over; anywhere else
 * the direction waits for a segment or line that starts a message.
 *
 * Pure parts (mc_sip_parse and the header helpers, sdp.c) are what the unit
 * tests and the fuzz target call; see docs/internals/analyzers-sip.md.
 */
#include "l7/sip.h"

#include <stdlib.h>
#include <string.h>

#include "common/cur.h"
#include "common/text.h"

MC_CTR_DEFINE(l7_sip, MC_L7_SIP_CTRS)

/* ---- small text helpers -------------------------------------------------- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Whitespace inside a header value: folding leaves CR and LF there too. */
static int is_lws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* RFC 3261 25.1 token characters. */
static int is_token(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`': case '\'': case '~': return 1;
    default: return 0;
    }
}

static struct mc_sip_str trim(struct mc_sip_str s)
{
    while (s.n && is_lws(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_lws(s.p[s.n - 1]))
        s.n--;
    return s;
}

static int ieq_n(struct mc_sip_str s, const char *lit, size_t n)
{
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lit[i])
            return 0;
    return 1;
}

static int ieq(struct mc_sip_str s, const char *lit) { return ieq_n(s, lit, strlen(lit)); }

/* Decimal digits only, at most max: *out.  0 when not. */
static int parse_u32(struct mc_sip_str w, uint32_t max, uint32_t *out)
{
    if (w.n == 0 || w.n > 10)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (w.p[i] < '0' || w.p[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(w.p[i] - '0');
    }
    if (v > max)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* ---- start lines --------------------------------------------------------- */

/* SIP-Version: "SIP/" 1*DIGIT "." 1*DIGIT (case-insensitive). */
static int is_version(const uint8_t *p, size_t n)
{
    if (n < 7 || lower(p[0]) != 's' || lower(p[1]) != 'i' || lower(p[2]) != 'p' || p[3] != '/')
        return 0;
    size_t i = 4, d1 = 0, d2 = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9' && d1 < 3)
        i++, d1++;
    if (!d1 || i == n || p[i] != '.')
        return 0;
    i++;
    while (i < n && p[i] >= '0' && p[i] <= '9' && d2 < 3)
        i++, d2++;
    return d2 && i == n;
}

/* Parses a start line (without CR LF) into m; 1 when it is one. */
static int parse_start_line(const uint8_t *line, size_t n, struct mc_sip_msg *m)
{
    size_t sp = 0;
    while (sp < n && line[sp] != ' ')
        sp++;
    if (sp == n || sp == 0)
        return 0;
    if (is_version(line, sp)) {
        /* Status-Line: SIP/2.0 SP 3DIGIT SP Reason-Phrase (the reason may be empty) */
        if (n - sp < 4)
            return 0;
        unsigned v = 0;
        for (size_t j = sp + 1; j < sp + 4; j++) {
            if (line[j] < '0' || line[j] > '9')
                return 0;
            v = v * 10 + (unsigned)(line[j] - '0');
        }
        size_t i = sp + 4;
        if ((i < n && line[i] != ' ') || v < 100 || v > 699)
            return 0;
        m->request = 0;
        m->status = (uint16_t)v;
        m->reason.p = line + (i < n ? i + 1 : n);
        m->reason.n = i < n ? n - i - 1 : 0;
        m->reason = trim(m->reason);
        return 1;
    }
    /* Request-Line: Method SP Request-URI SP SIP-Version */
    if (sp > 32)
        return 0;
    for (size_t j = 0; j < sp; j++)
        if (!is_token(line[j]))
            return 0;
    size_t u = sp + 1, k = u;
    while (k < n && line[k] != ' ')
        k++;
    if (k == u || k == n)
        return 0;
    for (size_t j = u; j < k; j++)
        if (line[j] < 0x21 || line[j] == 0x7f)
            return 0;
    if (!is_version(line + k + 1, n - k - 1))
        return 0;
    m->request = 1;
    m->method.p = line;
    m->method.n = sp;
    m->uri.p = line + u;
    m->uri.n = k - u;
    return 1;
}

int mc_sip_is_start_line(const uint8_t *line, size_t n)
{
    struct mc_sip_msg m;
    return parse_start_line(line, n, &m);
}

/* ---- headers -------------------------------------------------------------- */

enum hdr { H_OTHER, H_CALL_ID, H_FROM, H_TO, H_CONTACT, H_VIA, H_UA, H_CSEQ, H_EXPIRES, H_CTYPE, H_CLEN };

/* The fields the analyzer reads, with their compact forms (RFC 3261 7.3.3). */
static const struct {
    const char *name; /* lower-case */
    uint8_t len;
    char compact;     /* 0: none */
    uint8_t h;        /* enum hdr */
} known_headers[] = {
#define HDR(name, compact, h) { name, sizeof(name) - 1, compact, h }
    HDR("call-id", 'i', H_CALL_ID),   HDR("from", 'f', H_FROM),         HDR("to", 't', H_TO),
    HDR("contact", 'm', H_CONTACT),   HDR("via", 'v', H_VIA),           HDR("user-agent", 0, H_UA),
    HDR("cseq", 0, H_CSEQ),           HDR("expires", 0, H_EXPIRES),     HDR("content-type", 'c', H_CTYPE),
    HDR("content-length", 'l', H_CLEN),
#undef HDR
};

static enum hdr header_of(struct mc_sip_str name)
{
    if (name.n == 1) {
        int c = lower(name.p[0]);
        for (size_t i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++)
            if (known_headers[i].compact == c)
                return (enum hdr)known_headers[i].h;
        return H_OTHER; /* e (Content-Encoding), k (Supported), s (Subject), ...: not read */
    }
    for (size_t i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++)
        if (ieq_n(name, known_headers[i].name, known_headers[i].len))
            return (enum hdr)known_headers[i].h;
    return H_OTHER;
}

/* One complete header field (its folded lines joined): keeps the first of each. */
static void store_header(struct mc_sip_msg *m, enum hdr h, struct mc_sip_str v)
{
    v = trim(v);
    struct mc_sip_str *slot = NULL;
    switch (h) {
    case H_CALL_ID: slot = &m->call_id; break;
    case H_FROM: slot = &m->from; break;
    case H_TO: slot = &m->to; break;
    case H_CONTACT: slot = &m->contact; break;
    case H_VIA: slot = &m->via; break;
    case H_UA: slot = &m->user_agent; break;
    case H_CSEQ: slot = &m->cseq; break;
    case H_EXPIRES: slot = &m->expires; break;
    case H_CTYPE: slot = &m->ctype; break;
    case H_CLEN: {
        uint32_t cl;
        if (!parse_u32(v, MC_SIP_MAX_CONTENT_LENGTH - 1, &cl) ||
            (m->content_length >= 0 && (uint32_t)m->content_length != cl))
            m->bad_content_length = 1;
        else
            m->content_length = cl;
        return;
    }
    default:
        return;
    }
    if (!slot->p)
        *slot = v;
}

/*
 * Reads the header fields of p[off..n) up to the empty line; sets
 * m->hdr_len (or m->unterminated).  quiet: count nothing (framing only).
 */
static void read_headers(const uint8_t *p, size_t n, size_t off, struct mc_sip_msg *m, int quiet)
{
    enum hdr cur = H_OTHER;
    int have = 0;               /* a field is open (its folded lines may follow) */
    size_t vstart = 0, vend = 0;
    int too_many = 0;
    m->unterminated = 1;
    m->hdr_len = n;
    while (off < n) {
        const uint8_t *lf = memchr(p + off, '\n', n - off);
        size_t end = lf ? (size_t)(lf - p) : n;
        size_t next = lf ? end + 1 : n;
        size_t le = end;
        if (le > off && p[le - 1] == '\r')
            le--;
        if (le == off && lf) { /* the empty line */
            m->unterminated = 0;
            m->hdr_len = next;
            break;
        }
        if (p[off] == ' ' || p[off] == '\t') {
            /* a continuation line: the open field goes on (RFC 3261 7.3.1) */
            if (have) {
                vend = le;
                if (!quiet)
                    MC_CTR_INC(l7_sip, folded);
            } else if (!quiet) {
                MC_CTR_INC(l7_sip, bad_header);
            }
            off = next;
            continue;
        }
        if (have)
            store_header(m, cur, (struct mc_sip_str){ p + vstart, vend - vstart });
        have = 0;
        if (m->n_headers == MC_SIP_MAX_HEADERS) {
            if (!too_many && !quiet)
                MC_CTR_INC(l7_sip, too_many_headers);
            too_many = 1;
            off = next;
            continue;
        }
        /* field-name *(SP / HTAB) ":" value */
        size_t i = off;
        while (i < le && is_token(p[i]))
            i++;
        size_t name_end = i;
        while (i < le && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (name_end == off || i == le || p[i] != ':') {
            if (!quiet)
                MC_CTR_INC(l7_sip, bad_header);
            off = next;
            continue;
        }
        m->n_headers++;
        cur = header_of((struct mc_sip_str){ p + off, name_end - off });
        have = 1;
        vstart = i + 1;
        vend = le;
        off = next;
    }
    if (have)
        store_header(m, cur, (struct mc_sip_str){ p + vstart, vend - vstart });
}

/* Where the start line begins (CRLFs before it are ignored: RFC 3261 7.5) and ends. */
static size_t skip_crlf(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

int mc_sip_parse(const uint8_t *p, size_t n, struct mc_sip_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->content_length = -1;
    size_t s = skip_crlf(p, n);
    const uint8_t *lf = s < n ? memchr(p + s, '\n', n - s) : NULL;
    size_t end = lf ? (size_t)(lf - p) : n;
    size_t le = end > s && p[end - 1] == '\r' ? end - 1 : end;
    if (s == n || !parse_start_line(p + s, le - s, m)) {
        MC_CTR_INC(l7_sip, not_sip);
        return MC_SIP_BAD;
    }
    read_headers(p, n, lf ? end + 1 : n, m, 0);
    size_t rest = n - m->hdr_len;
    m->body.p = p + m->hdr_len;
    m->body.n = rest;
    if (m->content_length >= 0 && !m->bad_content_length) {
        if ((uint64_t)m->content_length > rest)
            m->body_cut = 1;
        else
            m->body.n = (size_t)m->content_length;
    }
    return MC_SIP_OK;
}

int mc_sip_content_length(const uint8_t *h, size_t n, uint32_t *cl)
{
    struct mc_sip_msg m;
    memset(&m, 0, sizeof(m));
    m.content_length = -1;
    size_t s = skip_crlf(h, n);
    const uint8_t *lf = s < n ? memchr(h + s, '\n', n - s) : NULL;
    read_headers(h, n, lf ? (size_t)(lf - h) + 1 : n, &m, 1);
    if (m.bad_content_length)
        return -1;
    if (m.content_length < 0)
        return 0;
    *cl = (uint32_t)m.content_length;
    return 1;
}

/* ---- header values ---------------------------------------------------------- */

/* The first of '"' '<' '>' ',' '\\' in p[i..n), or n: eight bytes at a time (a Via is some fifty bytes of none). */
static size_t next_mark(const uint8_t *p, size_t i, size_t n)
{
    if (i >= n)
        return n; /* past the end already: a quoted-pair's backslash was the last byte */
#if MC_WORD_LE
    for (; n - i >= 8; i += 8) {
        uint64_t w = mc_word_load(p + i);
        uint64_t hit = mc_word_eq(w, '"') | mc_word_eq(w, '<') | mc_word_eq(w, '>') | mc_word_eq(w, ',') |
                       mc_word_eq(w, '\\');
        if (hit)
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
    }
#endif
    while (i < n && p[i] != '"' && p[i] != '<' && p[i] != '>' && p[i] != ',' && p[i] != '\\')
        i++;
    return i;
}

struct mc_sip_str mc_sip_first_value(struct mc_sip_str v)
{
    int quote = 0, angle = 0;
    for (size_t i = next_mark(v.p, 0, v.n); i < v.n; i = next_mark(v.p, i + 1, v.n)) {
        uint8_t c = v.p[i];
        if (quote) {
            if (c == '\\')
                i++; /* quoted-pair */
            else if (c == '"')
                quote = 0;
        } else if (c == '"') {
            quote = 1;
        } else if (c == '<') {
            angle = 1;
        } else if (c == '>') {
            angle = 0;
        } else if (c == ',' && !angle) {
            v.n = i;
            break;
        }
    }
    return trim(v);
}

/* The offset of the '<' opening a name-addr's URI, or -1; quotes honoured unless strict is 0. */
static long find_laquot(struct mc_sip_str v, int strict)
{
    int quote = 0;
    for (size_t i = 0; i < v.n; i++) {
        uint8_t c = v.p[i];
        if (quote) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quote = 0;
        } else if (c == '"' && strict) {
            quote = 1;
        } else if (c == '<') {
            return (long)i;
        }
    }
    /* an unclosed quote (a display name with stray backslashes): look again, plainly, as Wireshark does */
    return quote ? find_laquot(v, 0) : -1;
}

/* Where the URI of a name-addr or addr-spec is in v: [*start, *end); returns the offset after it. */
static size_t uri_bounds(struct mc_sip_str v, size_t *start, size_t *end)
{
    long lt = find_laquot(v, 1);
    if (lt >= 0) {
        size_t i = (size_t)lt;
        const uint8_t *gt = memchr(v.p + i + 1, '>', v.n - i - 1);
        *start = i + 1;
        *end = gt ? (size_t)(gt - v.p) : v.n;
        return gt ? *end + 1 : v.n;
    }
    /* addr-spec: "any semicolon-delimited parameters are header-parameters" (RFC 3261 20.10) */
    size_t i = 0;
    while (i < v.n && is_lws(v.p[i]))
        i++;
    *start = i;
    while (i < v.n && v.p[i] != ';' && !is_lws(v.p[i]))
        i++;
    *end = i;
    return i;
}

struct mc_sip_str mc_sip_uri(struct mc_sip_str v)
{
    size_t s, e;
    uri_bounds(v, &s, &e);
    return trim((struct mc_sip_str){ v.p + s, e - s });
}

struct mc_sip_str mc_sip_param(struct mc_sip_str v, const char *name)
{
    size_t s, e;
    size_t i = uri_bounds(v, &s, &e);
    while (i < v.n) {
        /* ";" name [ "=" value ], blanks allowed around both */
        while (i < v.n && v.p[i] != ';')
            i++;
        if (i == v.n)
            break;
        i++;
        while (i < v.n && is_lws(v.p[i]))
            i++;
        size_t ns = i;
        while (i < v.n && is_token(v.p[i]))
            i++;
        struct mc_sip_str pn = { v.p + ns, i - ns };
        while (i < v.n && is_lws(v.p[i]))
            i++;
        struct mc_sip_str val = { v.p + i, 0 };
        if (i < v.n && v.p[i] == '=') {
            i++;
            while (i < v.n && is_lws(v.p[i]))
                i++;
            size_t vs = i;
            if (i < v.n && v.p[i] == '"') {
                i++;
                while (i < v.n && v.p[i] != '"')
                    i += v.p[i] == '\\' ? 2 : 1;
                if (i > v.n)
                    i = v.n;
                val.p = v.p + vs + 1;
                val.n = i - vs - 1;
                if (i < v.n)
                    i++;
            } else {
                while (i < v.n && v.p[i] != ';' && !is_lws(v.p[i]))
                    i++;
                val.p = v.p + vs;
                val.n = i - vs;
            }
        }
        if (ieq(pn, name))
            return val;
    }
    return (struct mc_sip_str){ NULL, 0 };
}

/* No CR or LF in p[0..n): one pass, eight bytes at a time (values are short: two memchr calls cost more). */
static int one_line(const uint8_t *p, size_t n)
{
    size_t i = 0;
#if MC_WORD_LE
    if (n >= 8) {
        /* the last word overlaps the one before: no byte loop for the tail */
        for (;; i += 8) {
            size_t at = n - i >= 8 ? i : n - 8;
            uint64_t w = mc_word_load(p + at);
            if (mc_word_eq(w, '\r') | mc_word_eq(w, '\n'))
                return 0;
            if (at + 8 == n)
                return 1;
        }
    }
#endif
    for (; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n')
            return 0;
    return 1;
}

size_t mc_sip_unfold(char *dst, size_t cap, struct mc_sip_str v, int *cut)
{
    size_t k = 0;
    if (cap == 0)
        return 0;
    if (v.n && one_line(v.p, v.n)) {
        /* one line (nearly every value): copied as it is */
        k = v.n < cap - 1 ? v.n : cap - 1;
        if (k < v.n)
            *cut = 1;
        memcpy(dst, v.p, k);
        dst[k] = '\0';
        return k;
    }
    for (size_t i = 0; i < v.n; i++) {
        uint8_t c = v.p[i];
        if (c == '\r' || c == '\n') {
            /* a line break and the blanks around it are one SP */
            while (k && (dst[k - 1] == ' ' || dst[k - 1] == '\t'))
                k--;
            while (i + 1 < v.n && is_lws(v.p[i + 1]))
                i++;
            c = ' ';
        }
        if (k == cap - 1) {
            *cut = 1;
            break;
        }
        dst[k++] = (char)c;
    }
    dst[k] = '\0';
    return k;
}

/* ---- transactions ----------------------------------------------------------- */

enum {
    S_METHOD,
    S_URI,
    S_CALL_ID,
    S_REASON,
    S_FROM,
    S_FROM_TAG,
    S_TO,
    S_TO_TAG,
    S_CONTACT,
    S_VIA,
    S_UA,
    S_CSEQ_METHOD,
    S_SDP_MEDIA,
    S_RTP_ADDR,
    S_CODECS,
    S_N
};

/* Longest value kept of each string (documented; longer ones are cut, counted). */
static const uint16_t str_cap[S_N] = { 32, 256, 256, 128, 256, 128, 256, 128, 256, 256, 256, 32, 512, 45, 256 };
#define TX_DATA (32 + 256 + 256 + 128 + 256 + 128 + 256 + 128 + 256 + 256 + 256 + 32 + 512 + 45 + 256 + S_N)

#define TX_REQUEST 0x01
#define TX_CSEQ 0x02
#define TX_EXPIRES 0x04
#define TX_SDP 0x08
#define TX_RTP 0x10   /* an RTP endpoint was found (sipRtpPort) */

/* One message's values.  Strings live in data: at off[i], len[i] bytes and a NUL. */
struct sip_tx {
    uint64_t ms;             /* the message's first byte */
    uint32_t cseq, expires;
    uint16_t status, rtp_port;
    uint8_t flags;           /* TX_* */
    uint16_t off[S_N], len[S_N];
    char data[];
};

/* A transaction being filled: every string at its cap, on the stack. */
struct sip_scratch {
    _Alignas(struct sip_tx) unsigned char b[sizeof(struct sip_tx) + TX_DATA];
};

static struct sip_tx *tx_init(struct sip_scratch *sc)
{
    struct sip_tx *tx = (struct sip_tx *)sc->b;
    memset(tx, 0, sizeof(*tx));
    uint16_t off = 0;
    for (int i = 0; i < S_N; i++) {
        tx->off[i] = off;
        tx->data[off] = '\0';
        off = (uint16_t)(off + str_cap[i] + 1);
    }
    return tx;
}

static size_t cap_of(struct mc_l7_ctx *x, int i)
{
    size_t c = str_cap[i], t = mc_l7_max_text(x);
    return (t && t < c ? t : c) + 1;
}

/* Sets string i from a header value (unfolded), cut to its cap (counted). */
static void tx_set(struct mc_l7_ctx *x, struct sip_tx *tx, int i, struct mc_sip_str v)
{
    int cut = 0;
    tx->len[i] = (uint16_t)mc_sip_unfold(tx->data + tx->off[i], cap_of(x, i), v, &cut);
    if (cut)
        MC_CTR_INC(l7_sip, truncated);
}

static void tx_set_text(struct mc_l7_ctx *x, struct sip_tx *tx, int i, const char *s, size_t n, int cut)
{
    size_t c = cap_of(x, i) - 1;
    if (n > c) {
        n = c;
        cut = 1;
    }
    memcpy(tx->data + tx->off[i], s, n);
    tx->data[tx->off[i] + n] = '\0';
    tx->len[i] = (uint16_t)n;
    if (cut)
        MC_CTR_INC(l7_sip, truncated);
}

/* A packed copy of tx (strings back to back), for the flow record; NULL when out of memory. */
static struct sip_tx *tx_pack(const struct sip_tx *tx)
{
    size_t total = 0;
    for (int i = 0; i < S_N; i++)
        total += (size_t)tx->len[i] + 1;
    struct sip_tx *c = malloc(sizeof(*c) + total);
    if (!c) {
        MC_CTR_INC(l7_sip, alloc_failed);
        return NULL;
    }
    memcpy(c, tx, sizeof(*c));
    uint16_t off = 0;
    for (int i = 0; i < S_N; i++) {
        c->off[i] = off;
        memcpy(c->data + off, tx->data + tx->off[i], tx->len[i]);
        c->data[off + tx->len[i]] = '\0';
        off = (uint16_t)(off + tx->len[i] + 1);
    }
    return c;
}

/* ---- per-flow state ------------------------------------------------------------ */

enum sip_st {
    ST_HDR,  /* reading a header block (leading CRLFs skipped) */
    ST_BODY, /* body_left bytes of body to come */
    ST_LOST  /* out of sync: waiting for a segment or line that starts a message */
};

/* One direction of a TCP connection. */
struct sip_dir {
    uint8_t st;             /* enum sip_st */
    uint8_t eoh;            /* end-of-headers scan: 0 in a line, 1 at a line start, 2 after CR there */
    uint8_t started;        /* the message's first byte was seen */
    uint8_t body_short;     /* body bytes were lost or not kept: the message's body is a prefix */
    uint32_t body_left;     /* body bytes still to come */
    uint32_t keep_left;     /* of which still to keep */
    uint64_t msg_ms;        /* time of the message's first byte */
    struct mc_l7_buf buf;   /* owned: a message split over segments (headers, kept body) */
};

struct sip_state {
    struct sip_dir d[2];    /* TCP only */
    uint32_t requests, responses;
    uint8_t call_state;     /* the state of the flow's first call as its last message left it (enum mc_call_state) */
    uint8_t call_id_len;    /* the flow's first call: the Call-ID of the first INVITE it carried */
    char call_id[MC_VOIP_TEXT_MAX];
    struct sip_tx *first;   /* owned: packed copy of the flow's first transaction */
};

/* The methods of RFC 3261 and its extensions the issue names; others are kept by name, counted. */
static int known_method(struct mc_sip_str m)
{
    static const char *const methods[] = { "REGISTER", "INVITE", "ACK",    "BYE",       "CANCEL",  "OPTIONS",
                                           "UPDATE",   "PRACK",  "INFO",   "NOTIFY",    "SUBSCRIBE", "MESSAGE",
                                           "REFER",    "PUBLISH" };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (m.n == strlen(methods[i]) && memcmp(m.p, methods[i], m.n) == 0)
            return 1;
    return 0;
}

/* CSeq: 1*DIGIT LWS Method (RFC 3261 20.16). */
static int parse_cseq(struct mc_sip_str v, uint32_t *num, struct mc_sip_str *method)
{
    size_t i = 0;
    while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9')
        i++;
    struct mc_sip_str digits = { v.p, i };
    struct mc_sip_str rest = trim((struct mc_sip_str){ v.p + i, v.n - i });
    if (!parse_u32(digits, UINT32_MAX, num) || i == v.n || !is_lws(v.p[i]) || rest.n == 0)
        return 0;
    for (size_t k = 0; k < rest.n; k++)
        if (!is_token(rest.p[k]))
            return 0;
    *method = rest;
    return 1;
}

static void put_str(struct mc_l7_ctx *x, const char *name, const struct sip_tx *tx, int i, int always)
{
    if (tx->len[i] || always)
        mc_l7_tx_str(x, name, tx->data + tx->off[i], tx->len[i]);
}

static void emit(struct mc_l7_ctx *x, struct sip_state *s, const struct sip_tx *tx)
{
    mc_l7_tx_begin(x, tx->ms);
    if (tx->flags & TX_REQUEST) {
        put_str(x, "sipMethod", tx, S_METHOD, 1);
        put_str(x, "sipRequestUri", tx, S_URI, 1);
    } else {
        mc_l7_tx_u64(x, "sipStatusCode", tx->status);
        put_str(x, "sipReasonPhrase", tx, S_REASON, 1);
    }
    put_str(x, "sipCallId", tx, S_CALL_ID, 0);
    if (tx->flags & TX_CSEQ) {
        mc_l7_tx_u64(x, "sipCSeq", tx->cseq);
        put_str(x, "sipCSeqMethod", tx, S_CSEQ_METHOD, 1);
    }
    put_str(x, "sipFrom", tx, S_FROM, 0);
    put_str(x, "sipFromTag", tx, S_FROM_TAG, 0);
    put_str(x, "sipTo", tx, S_TO, 0);
    put_str(x, "sipToTag", tx, S_TO_TAG, 0);
    put_str(x, "sipContact", tx, S_CONTACT, 0);
    put_str(x, "sipVia", tx, S_VIA, 0);
    put_str(x, "sipUserAgent", tx, S_UA, 0);
    if (tx->flags & TX_EXPIRES)
        mc_l7_tx_u64(x, "sipExpires", tx->expires);
    if (tx->flags & TX_SDP) {
        put_str(x, "sipSdpMedia", tx, S_SDP_MEDIA, 1);
        put_str(x, "sipRtpAddress", tx, S_RTP_ADDR, 0);
        if (tx->flags & TX_RTP)
            mc_l7_tx_u64(x, "sipRtpPort", tx->rtp_port);
        put_str(x, "sipCodecs", tx, S_CODECS, 1);
    }
    mc_l7_tx_end(x);
    if (!s->first)
        s->first = tx_pack(tx);
}

/* The SDP of a message: its summary strings and the first RTP endpoint. */
static void take_sdp(struct mc_l7_ctx *x, struct sip_tx *tx, const struct mc_sdp *sdp)
{
    char text[512 + 1];
    int cut = 0;
    size_t n = mc_sdp_media_text(sdp, text, cap_of(x, S_SDP_MEDIA), &cut);
    tx_set_text(x, tx, S_SDP_MEDIA, text, n, cut);
    cut = 0;
    n = mc_sdp_codecs_text(sdp, text, cap_of(x, S_CODECS), &cut);
    tx_set_text(x, tx, S_CODECS, text, n, cut);
    struct mc_sdp_endpoint ep;
    if (mc_sdp_endpoints(sdp, &ep, 1) == 1) {
        n = mc_sdp_addr_text(&ep.addr, text, sizeof(text));
        if (n < cap_of(x, S_RTP_ADDR))
            tx_set_text(x, tx, S_RTP_ADDR, text, n, 0);
        else
            MC_CTR_INC(l7_sip, truncated); /* half an address is worse than none */
        tx->rtp_port = ep.port;
        tx->flags |= TX_RTP;
    }
    tx->flags |= TX_SDP;
}

static struct mc_voip_text tx_text(const struct sip_tx *tx, int i)
{
    struct mc_voip_text t = { tx->data + tx->off[i], tx->len[i] };
    return t;
}

/* The message, sent by side dir of the flow, to the call layer (voip.c). */
static void to_calls(struct mc_l7_ctx *x, int dir, const struct sip_tx *tx, const struct mc_sdp *sdp)
{
    const struct mc_flow *f = mc_l7_flow(x);
    struct mc_voip_msg m;
    memset(&m, 0, sizeof(m));
    m.ms = tx->ms;
    m.request = (tx->flags & TX_REQUEST) != 0;
    m.status = tx->status;
    m.has_cseq = (tx->flags & TX_CSEQ) != 0;
    m.cseq = tx->cseq;
    m.has_expires = (tx->flags & TX_EXPIRES) != 0;
    m.expires = tx->expires;
    m.method = tx_text(tx, S_METHOD);
    m.call_id = tx_text(tx, S_CALL_ID);
    m.from = tx_text(tx, S_FROM);
    m.from_tag = tx_text(tx, S_FROM_TAG);
    m.to = tx_text(tx, S_TO);
    m.to_tag = tx_text(tx, S_TO_TAG);
    m.contact = tx_text(tx, S_CONTACT);
    m.user_agent = tx_text(tx, S_UA);
    m.cseq_method = tx_text(tx, S_CSEQ_METHOD);
    m.sdp = sdp;
    m.ip_ver = f->key.ip_ver;
    m.src = f->key.addr[dir];
    m.dst = f->key.addr[!dir];
    m.sport = f->key.port[dir];
    m.dport = f->key.port[!dir];
    mc_voip_message(mc_l7_voip(x), &m, mc_l7_agg(x));
}

/*
 * The flow's first call (the first INVITE's Call-ID) and its state after each
 * message of it: the flow record's sipCallState, kept here so it does not
 * depend on how long the call layer holds an ended call.
 */
static void track_call(struct mc_l7_ctx *x, struct sip_state *s, const struct sip_tx *tx)
{
    size_t n = tx->len[S_CALL_ID];
    const char *id = tx->data + tx->off[S_CALL_ID];
    if (!n || n > sizeof(s->call_id))
        return;
    if (!s->call_id_len) {
        if (!(tx->flags & TX_REQUEST) || tx->len[S_METHOD] != 6 || memcmp(tx->data + tx->off[S_METHOD], "INVITE", 6))
            return;
        memcpy(s->call_id, id, n);
        s->call_id_len = (uint8_t)n;
    } else if (n != s->call_id_len || memcmp(id, s->call_id, n) != 0) {
        return;
    }
    const struct mc_voip_call *c = mc_voip_call_find(mc_l7_voip(x), id, n);
    if (c)
        s->call_state = (uint8_t)mc_voip_call_state(c);
}

/*
 * One message p[0..n) (borrowed), first byte at ms: parsed, its SDP read,
 * emitted as a transaction.  udp: datagram framing rules apply; short_body:
 * the caller knows (and counted) that the body is a prefix.
 */
static void on_message(struct mc_l7_ctx *x, struct sip_state *s, int dir, const uint8_t *p, size_t n, uint64_t ms,
                       int udp, int short_body)
{
    struct mc_sip_msg m;
    if (mc_sip_parse(p, n, &m) != MC_SIP_OK)
        return;
    MC_CTR_INC(l7_sip, messages);
    struct sip_scratch sc;
    struct sip_tx *tx = tx_init(&sc);
    tx->ms = ms;
    if (m.request) {
        MC_CTR_INC(l7_sip, requests);
        s->requests++;
        tx->flags |= TX_REQUEST;
        if (!known_method(m.method))
            MC_CTR_INC(l7_sip, method_other);
        tx_set(x, tx, S_METHOD, m.method);
        tx_set(x, tx, S_URI, m.uri);
    } else {
        MC_CTR_INC(l7_sip, responses);
        s->responses++;
        tx->status = m.status;
        tx_set(x, tx, S_REASON, m.reason);
    }
    if (m.unterminated)
        MC_CTR_INC(l7_sip, unterminated);
    if (udp && m.bad_content_length)
        MC_CTR_INC(l7_sip, bad_content_length);
    if (m.body_cut && !short_body)
        MC_CTR_INC(l7_sip, body_truncated);
    if (udp && !m.body_cut && m.content_length >= 0 && !m.bad_content_length &&
        m.hdr_len + (size_t)m.content_length < n)
        MC_CTR_INC(l7_sip, udp_trailing);
    if (m.call_id.p)
        tx_set(x, tx, S_CALL_ID, m.call_id);
    else
        MC_CTR_INC(l7_sip, no_call_id);
    if (m.cseq.p) {
        struct mc_sip_str cm;
        if (parse_cseq(m.cseq, &tx->cseq, &cm)) {
            tx->flags |= TX_CSEQ;
            tx_set(x, tx, S_CSEQ_METHOD, cm);
        } else {
            MC_CTR_INC(l7_sip, bad_cseq);
        }
    }
    if (m.from.p) {
        tx_set(x, tx, S_FROM, mc_sip_uri(m.from));
        struct mc_sip_str tag = mc_sip_param(m.from, "tag");
        if (tag.p)
            tx_set(x, tx, S_FROM_TAG, tag);
    }
    if (m.to.p) {
        tx_set(x, tx, S_TO, mc_sip_uri(m.to));
        struct mc_sip_str tag = mc_sip_param(m.to, "tag");
        if (tag.p)
            tx_set(x, tx, S_TO_TAG, tag);
    }
    struct mc_sip_str contact = m.contact.p ? mc_sip_first_value(m.contact) : m.contact;
    if (contact.p)
        tx_set(x, tx, S_CONTACT, mc_sip_uri(contact));
    if (m.via.p)
        tx_set(x, tx, S_VIA, mc_sip_first_value(m.via));
    if (m.user_agent.p)
        tx_set(x, tx, S_UA, m.user_agent);
    if (m.expires.p) {
        if (parse_u32(trim(m.expires), UINT32_MAX, &tx->expires))
            tx->flags |= TX_EXPIRES;
        else
            MC_CTR_INC(l7_sip, bad_expires);
    } else if (contact.p) {
        /* a registration's lifetime may be the Contact's expires parameter (RFC 3261 10.2.1.1) */
        struct mc_sip_str e = mc_sip_param(contact, "expires");
        if (e.p && parse_u32(e, UINT32_MAX, &tx->expires))
            tx->flags |= TX_EXPIRES;
    }
    struct mc_sdp sdp;
    int have_sdp = 0;
    if (m.body.n && mc_sdp_parse_body(m.ctype.p, m.ctype.n, m.body.p, m.body.n, &sdp)) {
        MC_CTR_INC(l7_sip, sdp);
        take_sdp(x, tx, &sdp);
        have_sdp = 1;
    }
    emit(x, s, tx);
    to_calls(x, dir, tx, have_sdp ? &sdp : NULL);
    track_call(x, s, tx);
}

/* ---- UDP ---------------------------------------------------------------------- */

/* A datagram of only CR, LF, blanks or NULs: a keep-alive (RFC 5626 3.5.1; phones also send spaces, NULs). */
static int is_keepalive(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t' && p[i] != 0)
            return 0;
    return 1;
}

/* ---- TCP ------------------------------------------------------------------------ */

static void reset_msg(struct sip_dir *d)
{
    d->st = ST_HDR;
    d->eoh = 0;
    d->started = 0;
    d->body_short = 0;
    d->body_left = d->keep_left = 0;
    mc_l7_buf_reset(&d->buf);
}

static void lose(struct sip_dir *d)
{
    reset_msg(d);
    d->st = ST_LOST;
}

/* The collected message is complete (or cut at the end): parse and emit it. */
static void finish(struct mc_l7_ctx *x, struct sip_state *s, struct sip_dir *d)
{
    if (d->buf.len)
        on_message(x, s, (int)(d - s->d), d->buf.p, d->buf.len, d->msg_ms, 0, d->body_short);
    reset_msg(d);
}

/* Offset of the first line start in p[0..n) that is a SIP start line, or -1. */
static long find_start(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        if (!lf)
            return -1; /* a start line cut by the segment's end: wait for a later one */
        size_t end = (size_t)(lf - p);
        size_t le = end > i && p[end - 1] == '\r' ? end - 1 : end;
        if (mc_sip_is_start_line(p + i, le - i))
            return (long)i;
        i = end + 1;
    }
    return -1;
}

/* Header block bytes of p[i..n): scans for the empty line; returns the offset just past it, or n. */
static size_t scan_header_end(struct sip_dir *d, const uint8_t *p, size_t i, size_t n, int *found)
{
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\n') {
            if (d->eoh) {
                *found = 1;
                return i + 1;
            }
            d->eoh = 1;
        } else if (c == '\r' && d->eoh == 1) {
            d->eoh = 2;
        } else {
            d->eoh = 0;
        }
    }
    *found = 0;
    return n;
}

static void tcp_data(struct mc_l7_ctx *x, struct sip_state *s, int dir, const uint8_t *p, size_t n)
{
    struct sip_dir *d = &s->d[dir];
    size_t i = 0;
    while (i < n) {
        if (d->st == ST_LOST) {
            /* the segment's start, or a later line start, may begin a message */
            long at = find_start(p + i, n - i);
            if (at < 0) {
                MC_CTR_INC(l7_sip, skipped_lost);
                return;
            }
            MC_CTR_INC(l7_sip, resynced);
            reset_msg(d);
            i += (size_t)at;
        }
        if (d->st == ST_BODY) {
            size_t take = n - i < d->body_left ? n - i : d->body_left;
            size_t keep = take < d->keep_left ? take : d->keep_left;
            if (keep && !d->body_short && mc_l7_buf_append(x, &d->buf, p + i, keep) != 0)
                d->body_short = 1; /* refused (counted l7.buffer_exceeded): the body kept is a prefix */
            d->keep_left -= (uint32_t)keep;
            d->body_left -= (uint32_t)take;
            i += take;
            if (d->body_left == 0)
                finish(x, s, d);
            continue;
        }
        if (!d->started) {
            size_t k = i;
            while (k < n && (p[k] == '\r' || p[k] == '\n'))
                k++;
            if (k > i)
                MC_CTR_INC(l7_sip, keepalives); /* CRLFs between messages (RFC 5626 3.5.1) */
            i = k;
            if (i == n)
                return;
            d->started = 1;
            d->eoh = 0;
            d->msg_ms = mc_l7_now_ms(x);
        }
        int found;
        size_t k = scan_header_end(d, p, i, n, &found);
        if (d->buf.len + (k - i) > MC_SIP_MAX_HEADER) {
            MC_CTR_INC(l7_sip, header_too_large);
            lose(d);
            i = k;
            continue;
        }
        if (!found) {
            if (mc_l7_buf_append(x, &d->buf, p + i, n - i) != 0)
                lose(d);
            return;
        }
        const uint8_t *h = p + i;
        size_t hn = k - i;
        int in_place = d->buf.len == 0;
        if (!in_place) {
            if (mc_l7_buf_append(x, &d->buf, p + i, hn) != 0) {
                lose(d);
                return;
            }
            h = d->buf.p;
            hn = d->buf.len;
        }
        uint32_t cl = 0;
        int r = mc_sip_content_length(h, hn, &cl);
        if (r < 0) {
            /* the body's length is unknown: the message without it, then look for the next one */
            MC_CTR_INC(l7_sip, bad_content_length);
            on_message(x, s, dir, h, hn, d->msg_ms, 0, 1);
            lose(d);
            i = k;
            continue;
        }
        if (r == 0)
            MC_CTR_INC(l7_sip, tcp_no_content_length); /* MUST on streams (RFC 3261 20.14): taken as 0 */
        if (in_place && n - k >= cl) {
            on_message(x, s, dir, h, hn + cl, d->msg_ms, 0, 0);
            reset_msg(d);
            i = k + cl;
            continue;
        }
        if (in_place && mc_l7_buf_append(x, &d->buf, h, hn) != 0) {
            lose(d);
            return;
        }
        d->body_left = cl;
        d->keep_left = cl < MC_SIP_MAX_BODY ? cl : MC_SIP_MAX_BODY;
        if (cl > MC_SIP_MAX_BODY) {
            MC_CTR_INC(l7_sip, body_not_kept);
            d->body_short = 1;
        }
        d->st = ST_BODY;
        i = k;
        if (cl == 0)
            finish(x, s, d);
    }
}

static void tcp_gap(struct sip_state *s, int dir, uint32_t len)
{
    struct sip_dir *d = &s->d[dir];
    if (d->st == ST_LOST)
        return;
    if (d->st == ST_BODY && len < d->body_left) {
        /* inside the body: step over it; what is kept stops at the hole */
        MC_CTR_INC(l7_sip, gap_in_body);
        d->body_left -= len;
        d->keep_left = 0;
        d->body_short = 1;
        return;
    }
    /* the hole may hold whole messages or end one: wait for a start line */
    MC_CTR_INC(l7_sip, gap_lost);
    if (d->st == ST_BODY || d->started)
        MC_CTR_INC(l7_sip, incomplete);
    lose(d);
}

/* ---- the analyzer callbacks ---------------------------------------------------- */

static void sip_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct sip_state *s = st;
    if (mc_l7_flow(x)->key.proto == 6) {
        tcp_data(x, s, dir & 1, p, n);
        return;
    }
    if (is_keepalive(p, n)) {
        MC_CTR_INC(l7_sip, keepalives);
        return;
    }
    on_message(x, s, dir & 1, p, n, mc_l7_now_ms(x), 1, 0);
}

static void sip_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    (void)x;
    tcp_gap(st, dir & 1, len);
}

static void sip_end(struct mc_l7_ctx *x, void *st)
{
    struct sip_state *s = st;
    for (int dir = 0; dir < 2; dir++) {
        struct sip_dir *d = &s->d[dir];
        if (d->st == ST_BODY) {
            /* the headers are whole: the message counts, with the body seen */
            MC_CTR_INC(l7_sip, incomplete);
            d->body_short = 1;
            finish(x, s, d);
        } else if (d->st == ST_HDR && d->started) {
            MC_CTR_INC(l7_sip, incomplete); /* a header block never ended: not a message */
            reset_msg(d);
        }
    }
    /* the call's state as the flow ends, when the call layer still holds it (other flows may have ended it) */
    const struct mc_voip_call *c = s->call_id_len ? mc_voip_call_find(mc_l7_voip(x), s->call_id, s->call_id_len) : NULL;
    if (c)
        s->call_state = (uint8_t)mc_voip_call_state(c);
}

static void sip_release(void *st)
{
    struct sip_state *s = st;
    free(s->first);
    mc_l7_buf_free(&s->d[0].buf);
    mc_l7_buf_free(&s->d[1].buf);
    memset(s, 0, sizeof(*s));
}

/*
 * Cheap check of a direction's first bytes: a whole start line
 * ("INVITE sip:b@x SIP/2.0", "SIP/2.0 200 OK"), or, when the line goes on in
 * a later segment, "SIP/2.0 " and a digit, or a method of RFC 3261 and its
 * extensions, a space and a sip:, sips: or tel: URI.
 */
static int sip_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir;
    const uint8_t *lf = memchr(p, '\n', n);
    if (lf) {
        size_t end = (size_t)(lf - p);
        if (end && p[end - 1] == '\r')
            end--;
        return mc_sip_is_start_line(p, end);
    }
    if (n >= 9 && memcmp(p, "SIP/2.0 ", 8) == 0)
        return p[8] >= '1' && p[8] <= '6';
    size_t sp = 0;
    while (sp < n && sp <= 16 && p[sp] >= 'A' && p[sp] <= 'Z')
        sp++;
    if (sp < 3 || sp > 16 || sp == n || p[sp] != ' ')
        return 0;
    struct mc_sip_str m = { p, sp };
    if (!known_method(m))
        return 0;
    static const char *const schemes[] = { "sip:", "sips:", "tel:" };
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t k = strlen(schemes[i]);
        if (n - sp - 1 >= k && memcmp(p + sp + 1, schemes[i], k) == 0)
            return 1;
    }
    return 0;
}

/* ---- flow record elements ---------------------------------------------------------- */

static const struct sip_tx *flow_tx(const struct mc_ie_env *env)
{
    const struct sip_state *s = mc_l7_state_of(env->f, &mc_l7_sip);
    return s ? s->first : NULL;
}

static void get_str(const struct mc_ie_env *env, struct mc_ie_val *v, int i)
{
    const struct sip_tx *tx = flow_tx(env);
    v->str = tx ? tx->data + tx->off[i] : "";
    v->str_len = tx ? tx->len[i] : 0;
}

static void get_call_id(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_CALL_ID); }
static void get_method(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_METHOD); }
static void get_uri(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_URI); }
static void get_reason(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_REASON); }
static void get_from(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_FROM); }
static void get_from_tag(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_FROM_TAG); }
static void get_to(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_TO); }
static void get_to_tag(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_TO_TAG); }
static void get_contact(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_CONTACT); }
static void get_via(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_VIA); }
static void get_ua(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_UA); }
static void get_cseq_method(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_CSEQ_METHOD); }
static void get_sdp_media(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_SDP_MEDIA); }
static void get_rtp_addr(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_RTP_ADDR); }
static void get_codecs(const struct mc_ie_env *env, struct mc_ie_val *v) { get_str(env, v, S_CODECS); }

static void get_status(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_tx *tx = flow_tx(env);
    v->u = tx ? tx->status : 0;
}

static void get_cseq(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_tx *tx = flow_tx(env);
    v->u = tx ? tx->cseq : 0;
}

static void get_expires(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_tx *tx = flow_tx(env);
    v->u = tx ? tx->expires : 0;
}

static void get_rtp_port(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_tx *tx = flow_tx(env);
    v->u = tx ? tx->rtp_port : 0;
}

static void get_call_state(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_state *s = mc_l7_state_of(env->f, &mc_l7_sip);
    v->str = mc_voip_state_name(s ? s->call_state : 0);
    v->str_len = strlen(v->str);
}

static void get_requests(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_state *s = mc_l7_state_of(env->f, &mc_l7_sip);
    v->u = s ? s->requests : 0;
}

static void get_responses(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct sip_state *s = mc_l7_state_of(env->f, &mc_l7_sip);
    v->u = s ? s->responses : 0;
}

#define STR MC_IE_T_STRING
#define VAR MC_IE_VARLEN
#define U MC_IE_T_UNSIGNED
#define E MC_IE_F_NOV9
#define P MC_PEN_MC

static const struct mc_ie sip_fields[] = {
    { "sipCallId", 200, P, VAR, 0, STR, E, NULL, get_call_id, "SIP Call-ID", 256 },
    { "sipMethod", 201, P, VAR, 0, STR, E, NULL, get_method, "SIP request method (requests only)", 32 },
    { "sipRequestUri", 202, P, VAR, 0, STR, E, NULL, get_uri, "SIP Request-URI (requests only)", 256 },
    { "sipStatusCode", 203, P, 2, 0, U, E, NULL, get_status, "SIP status code (responses only; 0: a request)", 0 },
    { "sipReasonPhrase", 204, P, VAR, 0, STR, E, NULL, get_reason, "SIP reason phrase (responses only)", 128 },
    { "sipFrom", 205, P, VAR, 0, STR, E, NULL, get_from, "URI of the From header", 256 },
    { "sipFromTag", 206, P, VAR, 0, STR, E, NULL, get_from_tag, "tag parameter of the From header", 128 },
    { "sipTo", 207, P, VAR, 0, STR, E, NULL, get_to, "URI of the To header", 256 },
    { "sipToTag", 208, P, VAR, 0, STR, E, NULL, get_to_tag, "tag parameter of the To header", 128 },
    { "sipContact", 209, P, VAR, 0, STR, E, NULL, get_contact, "URI of the first Contact", 256 },
    { "sipVia", 210, P, VAR, 0, STR, E, NULL, get_via, "first Via value (the last hop)", 256 },
    { "sipUserAgent", 211, P, VAR, 0, STR, E, NULL, get_ua, "User-Agent header", 256 },
    { "sipCSeq", 212, P, 4, 0, U, E, NULL, get_cseq, "CSeq sequence number", 0 },
    { "sipCSeqMethod", 213, P, VAR, 0, STR, E, NULL, get_cseq_method, "CSeq method", 32 },
    { "sipExpires", 214, P, 4, 0, U, E, NULL, get_expires, "Expires header (else the Contact's expires), s", 0 },
    { "sipSdpMedia", 215, P, VAR, 0, STR, E, NULL, get_sdp_media,
      "SDP media descriptions: \"<media> <port> <proto> <fmt>...\", comma-separated", 512 },
    { "sipRtpAddress", 216, P, VAR, 0, STR, E, NULL, get_rtp_addr,
      "SDP: address of the first RTP media (where its sender receives)", 45 },
    { "sipRtpPort", 217, P, 2, 0, U, E, NULL, get_rtp_port, "SDP: port of the first RTP media", 0 },
    { "sipCodecs", 218, P, VAR, 0, STR, E, NULL, get_codecs,
      "SDP formats as \"<encoding>/<clock>\" (rtpmap or RFC 3551), comma-separated", 256 },
    { "sipRequestCount", 219, P, 4, 0, U, E, NULL, get_requests, "SIP requests seen in the flow", 0 },
    { "sipResponseCount", 220, P, 4, 0, U, E, NULL, get_responses, "SIP responses seen in the flow", 0 },
    { "sipCallState", 221, P, VAR, 0, STR, E, NULL, get_call_state,
      "state of the first call (INVITE dialog) the flow carried when the flow ended (or as its last message left "
      "it, once the call layer let an ended call go): trying, ringing, answered, ended, cancelled, failed; empty "
      "when the flow carried no INVITE", 16 },
};

#undef STR
#undef VAR
#undef U
#undef E
#undef P

static const char *const sip_ndpi[] = { "SIP", NULL };

const struct mc_l7_analyzer mc_l7_sip = {
    .name = "sip",
    .l4 = MC_L7_TCP | MC_L7_UDP,
    .ports = { 5060 },
    .ndpi = sip_ndpi,
    .detect = sip_detect,
    .state_size = sizeof(struct sip_state),
    .data = sip_data,
    .gap = sip_gap,
    .end = sip_end,
    .release = sip_release,
    .fields = sip_fields,
    .n_fields = sizeof(sip_fields) / sizeof(sip_fields[0]),
};
