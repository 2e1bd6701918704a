/*
 * sdp.c - the Session Description Protocol parser the SIP analyzer uses on
 * offers and answers: connection addresses, media descriptions, codecs, the
 * RTP endpoints a side announces.
 *
 * References: RFC 4566 (SDP: 5 syntax, 5.7 c=, 5.14 m=, 6 attributes),
 * RFC 3551 6 (static payload types), RFC 3605 (a=rtcp), RFC 2046 5.1
 * (multipart bodies), RFC 5621 (message bodies in SIP).
 *
 *   v=0
 *   o=<username> <sess-id> <sess-version> IN IP4 <unicast-address>
 *   s=<session name>
 *   c=IN IP4 192.0.2.1             session level: the default for every m=
 *   t=0 0
 *   m=audio 49170 RTP/AVP 0 8 97   <media> <port>[/<number of ports>] <proto> <fmt> ...
 *   c=IN IP6 2001:db8::1           media level: overrides the session's
 *   a=rtpmap:97 iLBC/8000          <payload type> <encoding name>/<clock rate>[/<params>]
 *   a=sendonly
 *
 * RFC 4566 5: "An SDP session description consists of a number of lines of
 * text of the form <type>=<value>", the first being v=; a parser "MUST
 * ignore any session description that contains a type letter that it does
 * not understand" is relaxed here to skipping the line (counted), as
 * Wireshark does: a monitor keeps what it can.  Every line is read through
 * length-carrying slices of the borrowed body; nothing is NUL-terminated
 * but fixed-size copies.  What is kept is bounded (MC_SDP_MAX_MEDIA media,
 * MC_SDP_MAX_FMT formats each), and what is dropped is counted.
 */
#include "l7/sdp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/hostport.h"
#include "common/text.h"

MC_CTR_DEFINE(l7_sdp, MC_L7_SDP_CTRS)

/* A borrowed slice of the body. */
struct span {
    const uint8_t *p;
    size_t n;
};

/* ---- small text helpers -------------------------------------------------- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int is_ws(uint8_t c) { return c == ' ' || c == '\t'; }

static struct span trim(struct span s)
{
    while (s.n && (is_ws(s.p[0]) || s.p[0] == '\r' || s.p[0] == '\n')) {
        s.p++;
        s.n--;
    }
    while (s.n && (is_ws(s.p[s.n - 1]) || s.p[s.n - 1] == '\r' || s.p[s.n - 1] == '\n'))
        s.n--;
    return s;
}

/* s equals lit, ignoring case (lit is lower-case). */
static int ieq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lit[i])
            return 0;
    return 1;
}

static int iprefix(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lit[i])
            return 0;
    return 1;
}

/* The next word of *v (blank-separated), consumed; empty at the end. */
static struct span next_word(struct span *v)
{
    size_t i = 0;
    while (i < v->n && is_ws(v->p[i]))
        i++;
    size_t s = i;
    while (i < v->n && !is_ws(v->p[i]))
        i++;
    struct span w = { v->p + s, i - s };
    v->p += i;
    v->n -= i;
    return w;
}

/* w up to (not including) the first c, and *rest after it (empty when c is absent). */
static struct span split_at(struct span w, uint8_t c, struct span *rest)
{
    const uint8_t *q = w.n ? memchr(w.p, c, w.n) : NULL;
    size_t k = q ? (size_t)(q - w.p) : w.n;
    if (rest) {
        rest->p = w.p + (q ? k + 1 : k);
        rest->n = q ? w.n - k - 1 : 0;
    }
    w.n = k;
    return w;
}

/* Decimal digits only, 1 to 10 of them, at most max: *out.  0 when not. */
static int parse_uint(struct span w, uint32_t max, uint32_t *out)
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

/*
 * Copies w into a fixed field of cap bytes (cut, NUL-terminated); returns the
 * length kept.  A NUL ends it: SDP text has none (RFC 4566 9, byte-string).
 */
static size_t copy_cut(char *dst, size_t cap, struct span w)
{
    size_t k = w.n < cap - 1 ? w.n : cap - 1;
    const uint8_t *nul = k ? memchr(w.p, 0, k) : NULL;
    if (nul)
        k = (size_t)(nul - w.p);
    memcpy(dst, w.p, k);
    dst[k] = '\0';
    return k;
}

/* ---- static payload types (RFC 3551 6, and G721 of RFC 1890) -------------- */

struct static_pt {
    uint8_t pt;
    const char *name;
    uint32_t clock;
};

static const struct static_pt static_pts[] = {
    { 0, "PCMU", 8000 },   { 2, "G721", 8000 },   { 3, "GSM", 8000 },    { 4, "G723", 8000 },
    { 5, "DVI4", 8000 },   { 6, "DVI4", 16000 },  { 7, "LPC", 8000 },    { 8, "PCMA", 8000 },
    { 9, "G722", 8000 },   { 10, "L16", 44100 },  { 11, "L16", 44100 },  { 12, "QCELP", 8000 },
    { 13, "CN", 8000 },    { 14, "MPA", 90000 },  { 15, "G728", 8000 },  { 16, "DVI4", 11025 },
    { 17, "DVI4", 22050 }, { 18, "G729", 8000 },  { 25, "CelB", 90000 }, { 26, "JPEG", 90000 },
    { 28, "nv", 90000 },   { 31, "H261", 90000 }, { 32, "MPV", 90000 },  { 33, "MP2T", 90000 },
    { 34, "H263", 90000 },
};

static void set_static(struct mc_sdp_fmt *f)
{
    for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++)
        if (static_pts[i].pt == f->pt) {
            struct span nm = { (const uint8_t *)static_pts[i].name, strlen(static_pts[i].name) };
            f->name_len = (uint8_t)copy_cut(f->name, sizeof(f->name), nm);
            f->clock = static_pts[i].clock;
            return;
        }
}

/* ---- lines ------------------------------------------------------------------ */

/* c=IN IP4 <address>[/<ttl>[/<n>]] or IN IP6 <address>[/<n>] (RFC 4566 5.7). */
static void parse_connection(struct span v, struct mc_sdp_addr *a)
{
    struct span net = next_word(&v), type = next_word(&v), addr = next_word(&v);
    int af;
    if (!ieq(net, "in") || addr.n == 0) {
        MC_CTR_INC(l7_sdp, bad_connection);
        return;
    }
    if (ieq(type, "ip4")) {
        af = AF_INET;
    } else if (ieq(type, "ip6")) {
        af = AF_INET6;
    } else {
        MC_CTR_INC(l7_sdp, bad_connection);
        return;
    }
    addr = split_at(addr, '/', NULL); /* multicast TTL and address count are not kept */
    if (addr.n >= 2 && addr.p[0] == '[' && addr.p[addr.n - 1] == ']') {
        addr.p++; /* some stacks bracket IPv6 literals as in URIs */
        addr.n -= 2;
    }
    char text[INET6_ADDRSTRLEN + 1];
    uint8_t b[16];
    if (addr.n == 0 || addr.n >= sizeof(text)) {
        MC_CTR_INC(l7_sdp, connection_not_address);
        memset(a, 0, sizeof(*a));
        return;
    }
    memcpy(text, addr.p, addr.n);
    text[addr.n] = '\0';
    if (inet_pton(af, text, b) != 1) {
        /* a host name (RFC 4566 allows FQDNs): no endpoint we can match packets to */
        MC_CTR_INC(l7_sdp, connection_not_address);
        memset(a, 0, sizeof(*a));
        return;
    }
    memset(a, 0, sizeof(*a));
    a->ver = af == AF_INET ? 4 : 6;
    memcpy(a->b, b, af == AF_INET ? 4 : 16);
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 4566 5.14). */
static struct mc_sdp_media *parse_media(struct mc_sdp *s, struct span v, uint8_t session_dir)
{
    if (s->media_total < UINT16_MAX)
        s->media_total++;
    if (s->n_media == MC_SDP_MAX_MEDIA) {
        if (s->media_total == MC_SDP_MAX_MEDIA + 1)
            MC_CTR_INC(l7_sdp, too_many_media); /* once per body */
        return NULL;
    }
    struct span type = next_word(&v), ports = next_word(&v), proto = next_word(&v);
    struct span count;
    struct span port = split_at(ports, '/', &count);
    uint32_t pv = 0, nv = 1;
    if (type.n == 0 || proto.n == 0 || !parse_uint(port, 65535, &pv) ||
        (count.n && (!parse_uint(count, 65535, &nv) || nv == 0))) {
        MC_CTR_INC(l7_sdp, bad_media);
        return NULL;
    }
    struct mc_sdp_media *m = &s->media[s->n_media++];
    memset(m, 0, sizeof(*m));
    copy_cut(m->type, sizeof(m->type), type);
    copy_cut(m->proto, sizeof(m->proto), proto);
    m->port = (uint16_t)pv;
    m->n_ports = (uint16_t)nv;
    m->dir = session_dir;
    m->rtp = iprefix(proto, "rtp/");
    for (struct span w = next_word(&v); w.n; w = next_word(&v)) {
        if (m->fmt_total < UINT16_MAX)
            m->fmt_total++;
        if (m->n_fmt == MC_SDP_MAX_FMT) {
            if (m->fmt_total == MC_SDP_MAX_FMT + 1)
                MC_CTR_INC(l7_sdp, too_many_formats); /* once per media */
            continue;
        }
        struct mc_sdp_fmt *f = &m->fmt[m->n_fmt++];
        uint32_t pt;
        if (m->rtp && parse_uint(w, 127, &pt)) {
            f->pt = (uint16_t)pt;
            set_static(f); /* an rtpmap line may still name it */
        } else {
            f->pt = MC_SDP_PT_NONE;
            f->name_len = (uint8_t)copy_cut(f->name, sizeof(f->name), w);
        }
    }
    return m;
}

/* a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 4566 6). */
static void parse_rtpmap(struct mc_sdp_media *m, struct span v)
{
    struct span ptw = next_word(&v), enc = next_word(&v);
    struct span rest;
    struct span name = split_at(enc, '/', &rest);
    struct span clockw = split_at(rest, '/', NULL);
    uint32_t pt, clock;
    if (!parse_uint(ptw, 127, &pt) || name.n == 0 || !parse_uint(clockw, UINT32_MAX, &clock)) {
        MC_CTR_INC(l7_sdp, bad_rtpmap);
        return;
    }
    if (!m || !m->rtp)
        return; /* session level, or not an RTP profile: nothing to name */
    for (uint8_t i = 0; i < m->n_fmt; i++)
        if (m->fmt[i].pt == pt) {
            m->fmt[i].name_len = (uint8_t)copy_cut(m->fmt[i].name, sizeof(m->fmt[i].name), name);
            m->fmt[i].clock = clock;
            return;
        }
}

static int parse_dir(struct span v, uint8_t *dir)
{
    static const char *const names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ieq(v, names[i])) {
            *dir = (uint8_t)i;
            return 1;
        }
    return 0;
}

static void parse_attribute(struct mc_sdp_media *m, struct span v, uint8_t *session_dir)
{
    struct span val;
    struct span name = split_at(v, ':', &val);
    uint8_t dir;
    if (val.n == 0 && parse_dir(trim(name), &dir)) {
        if (m)
            m->dir = dir;
        else
            *session_dir = dir;
        return;
    }
    if (ieq(name, "rtpmap")) {
        parse_rtpmap(m, val);
    } else if (ieq(name, "rtcp") && m) {
        uint32_t port;
        if (parse_uint(next_word(&val), 65535, &port))
            m->rtcp_port = (uint16_t)port;
    }
}

int mc_sdp_parse(const uint8_t *p, size_t n, struct mc_sdp *s)
{
    memset(s, 0, sizeof(*s));
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n' || is_ws(p[i])))
        i++;
    if (n - i < 2 || p[i] != 'v' || p[i + 1] != '=') {
        MC_CTR_INC(l7_sdp, not_sdp);
        return -1;
    }
    MC_CTR_INC(l7_sdp, bodies);
    uint8_t session_dir = MC_SDP_SENDRECV;
    struct mc_sdp_media *m = NULL;      /* the description lines now belong to; NULL: the session */
    int in_media = 0;                   /* after the first m= (a dropped one included) */
    uint8_t own_c[MC_SDP_MAX_MEDIA] = { 0 };
    while (i < n) {
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        size_t end = lf ? (size_t)(lf - p) : n;
        struct span line = { p + i, end - i };
        i = lf ? end + 1 : n;
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        if (line.n == 0)
            continue;
        if (line.n < 2 || line.p[1] != '=' || line.p[0] < 'a' || line.p[0] > 'z') {
            MC_CTR_INC(l7_sdp, bad_line);
            continue;
        }
        struct span v = { line.p + 2, line.n - 2 };
        switch (line.p[0]) {
        case 'm':
            m = parse_media(s, v, session_dir);
            in_media = 1;
            break;
        case 'c':
            if (!in_media) {
                parse_connection(v, &s->session_addr);
            } else if (m) {
                parse_connection(v, &m->addr);
                own_c[m - s->media] = 1;
            }
            break;
        case 'a':
            if (!in_media || m)
                parse_attribute(m, trim(v), &session_dir);
            break;
        default:
            break; /* v o s i u e p b t r z k: nothing the monitor needs */
        }
    }
    for (uint8_t k = 0; k < s->n_media; k++)
        if (!own_c[k])
            s->media[k].addr = s->session_addr;
    return 0;
}

/* ---- bodies: application/sdp, multipart -------------------------------------- */

/* The value of parameter name (lower-case) of a Content-Type value, quotes removed; empty when absent. */
static struct span ctype_param(struct span ct, const char *name)
{
    struct span rest;
    split_at(ct, ';', &rest);
    while (rest.n) {
        struct span param = split_at(rest, ';', &rest);
        struct span val;
        struct span key = trim(split_at(param, '=', &val));
        if (!ieq(key, name))
            continue;
        val = trim(val);
        if (val.n >= 2 && val.p[0] == '"') {
            /* quoted-string: up to the closing quote (a boundary holds no quote) */
            const uint8_t *q = memchr(val.p + 1, '"', val.n - 1);
            if (!q)
                return (struct span){ val.p, 0 };
            return (struct span){ val.p + 1, (size_t)(q - val.p) - 1 };
        }
        return val;
    }
    return (struct span){ ct.p, 0 };
}

/* The Content-Type of a MIME part's header block h[0..n) (text/plain when absent: RFC 2045 5.2). */
static struct span part_ctype(struct span h)
{
    static const uint8_t plain[] = "text/plain";
    while (h.n) {
        struct span line = split_at(h, '\n', &h);
        struct span val;
        struct span name = trim(split_at(line, ':', &val));
        if (ieq(name, "content-type") || ieq(name, "c"))
            return trim(val);
    }
    return (struct span){ plain, sizeof(plain) - 1 };
}

/* A delimiter line goes on with "--" (the last), blanks (transport padding), then the line's end. */
static int delimiter_line_end(struct span b, size_t at)
{
    if (b.n - at >= 2 && b.p[at] == '-' && b.p[at + 1] == '-')
        at += 2;
    while (at < b.n && is_ws(b.p[at]))
        at++;
    return at == b.n || b.p[at] == '\r' || b.p[at] == '\n';
}

/* Offset of the next delimiter line "--boundary" in b at or after from, or -1 (RFC 2046 5.1.1). */
static long next_delimiter(struct span b, size_t from, struct span boundary)
{
    while (from < b.n && b.n - from >= boundary.n) {
        const uint8_t *q = memmem(b.p + from, b.n - from, boundary.p, boundary.n);
        if (!q)
            return -1;
        size_t at = (size_t)(q - b.p);
        if (at >= 2 && b.p[at - 1] == '-' && b.p[at - 2] == '-' && (at == 2 || b.p[at - 3] == '\n') &&
            delimiter_line_end(b, at + boundary.n))
            return (long)(at - 2);
        from = at + 1;
    }
    return -1;
}

static int find_sdp(struct span ct, struct span body, struct mc_sdp *s, int depth);

/* RFC 2046 5.1.1: parts between "--boundary" lines, ended by "--boundary--". */
static int find_in_multipart(struct span ct, struct span body, struct mc_sdp *s, int depth)
{
    MC_CTR_INC(l7_sdp, multipart);
    if (depth >= MC_SDP_MAX_DEPTH) {
        MC_CTR_INC(l7_sdp, multipart_too_deep);
        return 0;
    }
    struct span boundary = ctype_param(ct, "boundary");
    if (boundary.n == 0 || boundary.n > 200) { /* RFC 2046: 1 to 70 characters; be lenient */
        MC_CTR_INC(l7_sdp, multipart_no_boundary);
        return 0;
    }
    long d = next_delimiter(body, 0, boundary);
    for (int parts = 0; d >= 0; parts++) {
        size_t at = (size_t)d + 2 + boundary.n;
        if (body.n - at >= 2 && body.p[at] == '-' && body.p[at + 1] == '-')
            break; /* the close delimiter */
        if (parts == MC_SDP_MAX_PARTS) {
            MC_CTR_INC(l7_sdp, multipart_too_many_parts);
            return 0;
        }
        /* the rest of the delimiter line is transport padding */
        const uint8_t *lf = memchr(body.p + at, '\n', body.n - at);
        if (!lf)
            break;
        size_t start = (size_t)(lf - body.p) + 1;
        long nd = next_delimiter(body, start, boundary);
        size_t end = nd >= 0 ? (size_t)nd : body.n;
        /* the CRLF before a delimiter belongs to it, not to the part */
        if (end > start && body.p[end - 1] == '\n')
            end--;
        if (end > start && body.p[end - 1] == '\r')
            end--;
        struct span part = { body.p + start, end - start };
        /* part headers end at the first empty line (a part may have none) */
        size_t h = 0;
        struct span hdr = { part.p, 0 }, content = part;
        while (h < part.n) {
            const uint8_t *e = memchr(part.p + h, '\n', part.n - h);
            size_t le = e ? (size_t)(e - part.p) : part.n;
            size_t len = le - h;
            if (len == 0 || (len == 1 && part.p[h] == '\r')) {
                hdr.n = h;
                content.p = part.p + (e ? le + 1 : le);
                content.n = part.n - (e ? le + 1 : le);
                break;
            }
            h = e ? le + 1 : part.n;
        }
        if (h >= part.n) { /* no empty line: all headers, no content */
            hdr.n = part.n;
            content.n = 0;
        }
        if (find_sdp(part_ctype(hdr), content, s, depth + 1))
            return 1;
        d = nd;
    }
    MC_CTR_INC(l7_sdp, multipart_no_sdp);
    return 0;
}

static int find_sdp(struct span ct, struct span body, struct mc_sdp *s, int depth)
{
    struct span type = trim(split_at(ct, ';', NULL));
    if (type.n == 0) {
        /* no Content-Type: an SDP body still says so by its first line */
        if (body.n >= 3 && memcmp(body.p, "v=0", 3) == 0)
            return mc_sdp_parse(body.p, body.n, s) == 0;
        return 0;
    }
    if (ieq(type, "application/sdp"))
        return mc_sdp_parse(body.p, body.n, s) == 0;
    if (iprefix(type, "multipart/"))
        return find_in_multipart(ct, body, s, depth);
    return 0;
}

int mc_sdp_parse_body(const uint8_t *ctype, size_t ctype_n, const uint8_t *body, size_t n, struct mc_sdp *s)
{
    static const uint8_t none[1];
    struct span ct = { ctype ? ctype : none, ctype ? ctype_n : 0 };
    struct span b = { body ? body : none, body ? n : 0 };
    return find_sdp(trim(ct), b, s, 0);
}

/* ---- what the analyzer exports ------------------------------------------------ */

size_t mc_sdp_endpoints(const struct mc_sdp *s, struct mc_sdp_endpoint *out, size_t max)
{
    size_t k = 0;
    for (uint8_t i = 0; i < s->n_media && k < max; i++) {
        const struct mc_sdp_media *m = &s->media[i];
        if (!m->rtp || !m->port || !m->addr.ver)
            continue;
        out[k].addr = m->addr;
        out[k].port = m->port;
        out[k].rtcp_port = m->rtcp_port ? m->rtcp_port : (uint16_t)(m->port == 65535 ? 0 : m->port + 1);
        out[k].media = i;
        k++;
    }
    return k;
}

size_t mc_sdp_addr_text(const struct mc_sdp_addr *a, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    return a->ver ? mc_ip_text(a->ver, a->b, out, cap) : 0; /* inet_ntop's text, without its sprintf */
}

/* Appends item (n bytes) to out as a comma-separated list of whole items. */
static void add_item(char *out, size_t cap, size_t *len, int *cut, const char *item, size_t n)
{
    size_t sep = *len ? 1 : 0;
    if (*cut || *len + sep + n > cap - 1) {
        *cut = 1;
        return;
    }
    if (sep)
        out[(*len)++] = ',';
    memcpy(out + *len, item, n);
    *len += n;
    out[*len] = '\0';
}

size_t mc_sdp_media_text(const struct mc_sdp *s, char *out, size_t cap, int *cut)
{
    size_t len = 0;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < s->n_media; i++) {
        const struct mc_sdp_media *m = &s->media[i];
        char item[MC_SDP_TYPE_MAX + MC_SDP_PROTO_MAX + 16 + MC_SDP_MAX_FMT * (MC_SDP_NAME_MAX + 1)];
        size_t k = 0;
        size_t tl = strlen(m->type), pl = strlen(m->proto);
        memcpy(item, m->type, tl);
        k += tl;
        item[k++] = ' ';
        k += mc_u64_text(m->port, item + k);
        if (m->n_ports > 1) {
            item[k++] = '/';
            k += mc_u64_text(m->n_ports, item + k);
        }
        item[k++] = ' ';
        memcpy(item + k, m->proto, pl);
        k += pl;
        for (uint8_t f = 0; f < m->n_fmt; f++) {
            item[k++] = ' ';
            if (m->fmt[f].pt != MC_SDP_PT_NONE) {
                k += mc_u64_text(m->fmt[f].pt, item + k);
            } else {
                memcpy(item + k, m->fmt[f].name, m->fmt[f].name_len);
                k += m->fmt[f].name_len;
            }
        }
        add_item(out, cap, &len, cut, item, k);
    }
    return len;
}

size_t mc_sdp_codecs_text(const struct mc_sdp *s, char *out, size_t cap, int *cut)
{
    size_t len = 0;
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < s->n_media; i++) {
        const struct mc_sdp_media *m = &s->media[i];
        for (uint8_t f = 0; f < m->n_fmt; f++) {
            const struct mc_sdp_fmt *ft = &m->fmt[f];
            char item[MC_SDP_NAME_MAX + 1 + 12];
            size_t k = 0;
            if (ft->name_len) {
                memcpy(item, ft->name, ft->name_len);
                k = ft->name_len;
                if (ft->clock) {
                    item[k++] = '/';
                    k += mc_u64_text(ft->clock, item + k);
                }
            } else {
                k = mc_u64_text(ft->pt, item); /* a dynamic type nobody named */
            }
            add_item(out, cap, &len, cut, item, k);
        }
    }
    return len;
}
