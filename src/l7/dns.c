/*
 * dns.c - the DNS analyzer: each query matched with its response (one
 * transaction per pair), over UDP and TCP, with cloud aggregates per name,
 * per client, per minute, and passive DNS on ip.<addr>.
 *
 * RFC 1035 4.1 (message format), 4.1.4 (compression), 4.2.2 (TCP: "the
 * message is prefixed with a two byte length field which gives the message
 * length, excluding the two byte length field"); RFC 2181 11 (name and label
 * lengths); RFC 3596 (AAAA).
 *
 *                                   1  1  1  1  1  1
 *     0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                      ID                       |
 *   |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 *   |                    QDCOUNT                    |  "the number of entries in the question section"
 *   |                    ANCOUNT                    |  "the number of resource records in the answer section"
 *   |                    NSCOUNT                    |
 *   |                    ARCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   question: QNAME QTYPE QCLASS; RR: NAME TYPE CLASS TTL(32) RDLENGTH RDATA
 *
 * Names: a label is "a length octet followed by that number of octets"
 * (1..63); 11xxxxxx starts a two-octet pointer to an earlier name; 01 and 10
 * are reserved.  A name is at most 255 octets on the wire.  Every pointer
 * must point strictly before the run of labels it ends (so each hop goes
 * backwards: loops are impossible), hops are capped, and any violation
 * drops the message, counted by reason.
 *
 * Everything the wire says is hostile: counts may lie (the parse stops at
 * the end of the message, counted), the TCP length prefix may lie (a short
 * one is skipped, a long one waits for bytes within the per-flow buffer cap
 * and is skipped when refused, a message the connection never completed is
 * counted at the end).  See docs/internals/analyzers-dns.md.
 */
#include "l7/dns.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cloud/agg.h"
#include "common/cur.h"
#include "common/hostport.h"
#include "common/text.h"

MC_CTR_DEFINE(l7_dns, MC_L7_DNS_CTRS)

#define DNS_HDR_LEN 12
#define DNS_NAME_WIRE_MAX 255 /* RFC 1035 2.3.4: octets of a name on the wire */
#define DNS_PENDING 8         /* queries awaiting their response per flow */
#define DNS_AGG_TTL_MS 3600000u
/* A query repeated (same id, type and name) within this is a retransmission,
 * later a new ask: glibc's resolver retries after 5 s, Wireshark's DNS
 * dissector uses the same window. */
#define DNS_RETRANSMIT_MS 5000u

#define T_A 1
#define T_CNAME 5
#define T_PTR 12
#define T_MX 15
#define T_AAAA 28

/* ---- names ---------------------------------------------------------------- */

/* Appends one label byte to text as tshark prints it: printable ASCII as is, the rest as \ooo. */
static void put_label_byte(char *text, size_t cap, size_t *len, int *cut, uint8_t b)
{
    char e[4];
    size_t k = 1;
    e[0] = (char)b;
    if (b < 0x20 || b > 0x7e) {
        e[0] = '\\';
        e[1] = (char)('0' + (b >> 6));
        e[2] = (char)('0' + (b >> 3 & 7));
        e[3] = (char)('0' + (b & 7));
        k = 4;
    }
    /* cut on a whole character: never half an escape */
    if (*cut || *len + k > cap - 1) {
        *cut = 1;
        return;
    }
    memcpy(text + *len, e, k);
    *len += k;
}

long mc_l7_dns_name(const uint8_t *msg, size_t n, size_t off, char *text, size_t cap, size_t *next)
{
    struct mc_cur c = mc_cur_make(msg, n);
    size_t len = 0, wire = 0, run = off; /* run: start of the labels being read */
    unsigned hops = 0;
    int jumped = 0, cut = 0;
    mc_cur_skip(&c, off);
    for (;;) {
        size_t pos = n - mc_cur_left(&c);
        uint8_t l = mc_cur_u8(&c);
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_dns, name_truncated);
            goto bad;
        }
        if ((l & 0xc0) == 0xc0) {
            uint8_t lo = mc_cur_u8(&c);
            if (!mc_cur_ok(&c)) {
                MC_CTR_INC(l7_dns, name_truncated);
                goto bad;
            }
            size_t target = (size_t)(l & 0x3f) << 8 | lo;
            if (target >= pos) {
                /* at or after itself: a self-loop or a forward reference */
                if (target == pos)
                    MC_CTR_INC(l7_dns, pointer_loop);
                else
                    MC_CTR_INC(l7_dns, pointer_forward);
                goto bad;
            }
            if (target >= run) { /* back into the labels just read: would loop */
                MC_CTR_INC(l7_dns, pointer_loop);
                goto bad;
            }
            if (++hops > MC_DNS_MAX_HOPS) {
                MC_CTR_INC(l7_dns, too_many_pointers);
                goto bad;
            }
            if (!jumped)
                *next = pos + 2;
            jumped = 1;
            run = target;
            c = mc_cur_make(msg, n);
            mc_cur_skip(&c, target);
            continue;
        }
        if (l & 0xc0) { /* 01xxxxxx, 10xxxxxx: reserved (RFC 6891 6.2 retired EDNS0 labels) */
            MC_CTR_INC(l7_dns, bad_label_type);
            goto bad;
        }
        if (l == 0) {
            if (!jumped)
                *next = pos + 1;
            break;
        }
        wire += (size_t)l + 1;
        if (wire + 1 > DNS_NAME_WIRE_MAX) {
            MC_CTR_INC(l7_dns, name_too_long);
            goto bad;
        }
        const uint8_t *lab = mc_cur_ptr(&c);
        mc_cur_skip(&c, l);
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_dns, name_truncated);
            goto bad;
        }
        if (len)
            put_label_byte(text, cap, &len, &cut, '.');
        for (size_t i = 0; i < l; i++)
            put_label_byte(text, cap, &len, &cut, lab[i]);
    }
    if (wire == 0) { /* the root, spelled as tshark does */
        static const char root[] = "<Root>";
        len = sizeof(root) - 1 < cap ? sizeof(root) - 1 : cap - 1;
        memcpy(text, root, len);
    }
    text[len] = '\0';
    return (long)len;
bad:
    text[0] = '\0'; /* never half a name */
    return -1;
}

/* ---- one message ------------------------------------------------------------ */

/* Appends one answer's text; once one does not fit the list stops (a prefix of the answers). */
static void add_answer(struct mc_dns_msg *m, int *full, const char *s, size_t n)
{
    size_t sep = m->answers_len ? 1 : 0;
    if (*full || m->answers_len + sep + n > MC_DNS_ANSWERS_MAX) {
        if (!*full)
            MC_CTR_INC(l7_dns, answers_text_full);
        *full = 1;
        return;
    }
    if (sep)
        m->answers[m->answers_len++] = ',';
    memcpy(m->answers + m->answers_len, s, n);
    m->answers_len = (uint16_t)(m->answers_len + n);
    m->answers[m->answers_len] = '\0';
}

static void keep_addr(struct mc_dns_msg *m, uint8_t ver, const uint8_t *b)
{
    if (m->n_addr >= MC_DNS_ADDRS)
        return;
    m->addr[m->n_addr].ver = ver;
    memset(m->addr[m->n_addr].b, 0, 16);
    memcpy(m->addr[m->n_addr].b, b, ver == 4 ? 4 : 16);
    m->n_addr++;
}

/*
 * One answer RR's rdata (at rd_off, rd_len bytes of msg) as text for
 * dnsAnswers.  Returns 0, or -1 when the rdata contradicts its type (counted).
 */
static int answer_text(const uint8_t *msg, size_t n, uint16_t type, size_t rd_off, size_t rd_len,
                       struct mc_dns_msg *m, int *full)
{
    char t[MC_DNS_NAME_MAX + 8];
    size_t end, k;
    long len;
    switch (type) {
    case T_A:
    case T_AAAA:
        if (rd_len != (type == T_A ? 4u : 16u)) {
            MC_CTR_INC(l7_dns, bad_rdata);
            return -1;
        }
        inet_ntop(type == T_A ? AF_INET : AF_INET6, msg + rd_off, t, sizeof(t));
        add_answer(m, full, t, strlen(t));
        keep_addr(m, type == T_A ? 4 : 6, msg + rd_off);
        return 0;
    case T_CNAME:
    case T_PTR:
    case T_MX:
        k = 0;
        if (type == T_MX) { /* preference, then the exchange: "10 mx.example.com" as in a zone file */
            if (rd_len < 3) {
                MC_CTR_INC(l7_dns, bad_rdata);
                return -1;
            }
            k = mc_u64_text((uint64_t)msg[rd_off] << 8 | msg[rd_off + 1], t);
            t[k++] = ' ';
            rd_off += 2;
            rd_len -= 2;
        }
        /* the name may point anywhere earlier in the message but must end inside the rdata */
        len = mc_l7_dns_name(msg, n, rd_off, t + k, sizeof(t) - k, &end);
        if (len < 0)
            return -1;
        if (end > rd_off + rd_len) {
            MC_CTR_INC(l7_dns, bad_rdata);
            return -1;
        }
        add_answer(m, full, t, k + (size_t)len);
        return 0;
    default:
        return 0; /* other types count in dnsAnswerCount and dnsMinTtl only */
    }
}

int mc_l7_dns_parse(const uint8_t *p, size_t n, struct mc_dns_msg *m)
{
    struct mc_cur c = mc_cur_make(p, n);
    char scratch[MC_DNS_NAME_MAX + 1];
    size_t off;
    int full = 0;

    memset(m, 0, sizeof(*m));
    MC_CTR_INC(l7_dns, messages);
    m->id = mc_cur_be16(&c);
    m->flags = mc_cur_be16(&c);
    m->qdcount = mc_cur_be16(&c);
    m->ancount = mc_cur_be16(&c);
    m->nscount = mc_cur_be16(&c);
    m->arcount = mc_cur_be16(&c);
    if (!mc_cur_ok(&c)) {
        MC_CTR_INC(l7_dns, too_short);
        return MC_DNS_BAD;
    }
    m->qr = (uint8_t)(m->flags >> 15);
    m->opcode = (uint8_t)(m->flags >> 11 & 0xf);
    m->rcode = (uint8_t)(m->flags & 0xf);
    if (m->opcode != 0) { /* NOTIFY, UPDATE, ...: not a lookup */
        MC_CTR_INC(l7_dns, opcode_other);
        return MC_DNS_BAD;
    }
    if (m->qdcount == 0) {
        MC_CTR_INC(l7_dns, no_question);
        return MC_DNS_BAD;
    }

    /* the question section: the first question is the transaction's */
    if (m->qdcount > 1)
        MC_CTR_INC(l7_dns, extra_questions);
    off = DNS_HDR_LEN;
    for (uint32_t q = 0; q < m->qdcount; q++) {
        if (off >= n) { /* qdcount promised more than the message holds */
            MC_CTR_INC(l7_dns, question_truncated);
            return q == 0 ? MC_DNS_BAD : MC_DNS_PARTIAL;
        }
        long len = q == 0 ? mc_l7_dns_name(p, n, off, m->qname, sizeof(m->qname), &off)
                          : mc_l7_dns_name(p, n, off, scratch, sizeof(scratch), &off);
        if (len < 0) /* the first question is the transaction; after it, the answers are lost */
            return q == 0 ? MC_DNS_BAD : MC_DNS_PARTIAL;
        if (q == 0)
            m->qname_len = (uint16_t)len;
        c = mc_cur_make(p + off, n - off);
        uint16_t type = mc_cur_be16(&c), cls = mc_cur_be16(&c);
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_dns, question_truncated);
            return q == 0 ? MC_DNS_BAD : MC_DNS_PARTIAL;
        }
        if (q == 0) {
            m->qtype = type;
            m->qclass = cls;
        }
        off += 4;
    }

    /* the answer section; the loop is bounded by the message (an RR is >= 11 bytes) */
    for (uint32_t a = 0; a < m->ancount; a++) {
        if (off >= n) { /* ancount promised more than the message holds */
            MC_CTR_INC(l7_dns, answers_truncated);
            return MC_DNS_PARTIAL;
        }
        if (mc_l7_dns_name(p, n, off, scratch, sizeof(scratch), &off) < 0)
            return MC_DNS_PARTIAL;
        c = mc_cur_make(p + off, n - off);
        uint16_t type = mc_cur_be16(&c);
        mc_cur_skip(&c, 2); /* class: the types we render mean the same in every class */
        uint32_t ttl = mc_cur_be32(&c);
        uint16_t rd_len = mc_cur_be16(&c);
        mc_cur_skip(&c, rd_len);
        if (!mc_cur_ok(&c)) {
            MC_CTR_INC(l7_dns, answers_truncated);
            return MC_DNS_PARTIAL;
        }
        if (!m->has_ttl || ttl < m->min_ttl)
            m->min_ttl = ttl;
        m->has_ttl = 1;
        m->answers_parsed++;
        (void)answer_text(p, n, type, off + 10, rd_len, m, &full);
        off += 10u + rd_len;
    }
    return MC_DNS_OK;
}

/* ---- detect ----------------------------------------------------------------- */

/* A header and first question that a resolver or server would send. */
static int sane_message(const uint8_t *p, size_t n)
{
    struct mc_cur c = mc_cur_make(p, n);
    mc_cur_skip(&c, 2);
    uint16_t flags = mc_cur_be16(&c), qd = mc_cur_be16(&c), an = mc_cur_be16(&c);
    uint16_t ns = mc_cur_be16(&c), ar = mc_cur_be16(&c);
    if (!mc_cur_ok(&c) || (flags >> 11 & 0xf) != 0 || qd != 1 || (flags & 0x0040))
        return 0; /* a lookup, one question, Z clear */
    if (!(flags & 0x8000) && (an || ns || ar > 2 || (flags & 0x000f)))
        return 0; /* queries carry no answers and no rcode */
    if ((flags & 0x8000) && (an > 256 || ns > 256 || ar > 256))
        return 0;
    size_t wire = 0;
    for (;;) { /* an uncompressed QNAME: labels 1..63, at most 255 octets */
        uint8_t l = mc_cur_u8(&c);
        if (!mc_cur_ok(&c) || l > 63)
            return 0;
        if (l == 0)
            break;
        wire += (size_t)l + 1;
        if (wire + 1 > DNS_NAME_WIRE_MAX)
            return 0;
        mc_cur_skip(&c, l);
    }
    uint16_t type = mc_cur_be16(&c), cls = mc_cur_be16(&c);
    return mc_cur_ok(&c) && type != 0 && (cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255);
}

int mc_l7_dns_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir; /* a response may come first when the query was not captured */
    if (sane_message(p, n))
        return 1;
    /* TCP: a length prefix, then the start of the message */
    if (n < 2 + DNS_HDR_LEN)
        return 0;
    size_t len = (size_t)p[0] << 8 | p[1];
    return len >= DNS_HDR_LEN && sane_message(p + 2, len < n - 2 ? len : n - 2);
}

/* ---- per-flow state --------------------------------------------------------- */

/*
 * A query waiting for its response.  Its name is kept inline up to
 * QNAME_INLINE bytes (nearly every name) and allocated beyond: the first
 * slot lives in every analysed flow's state, which the framework sizes by
 * the largest analyzer.
 */
#define QNAME_INLINE 63
struct dns_query {
    uint64_t t_ms;
    uint16_t id, qtype, qclass, name_len;
    uint8_t used, dir;
    char *long_name;            /* owned: a name longer than QNAME_INLINE, else NULL */
    char name[QNAME_INLINE + 1];
};

static const char *qname(const struct dns_query *q) { return q->long_name ? q->long_name : q->name; }

/*
 * The flow's first transaction: the flow record's fields.  Held by every
 * DNS flow until it ends, so sized to its texts (the name, a NUL, the
 * answers, a NUL): about 100 bytes instead of the 800 the caps would take.
 */
struct dns_first {
    uint8_t answered, timed, has_ttl;
    uint8_t rcode;
    uint16_t id, qtype, qclass, ancount;
    uint32_t min_ttl, rtt_ms;
    uint16_t name_len, answers_len;
    char text[];                        /* name, NUL, answers, NUL */
};

static const char *first_answers(const struct dns_first *f) { return f->text + f->name_len + 1; }

/* TCP framing of one direction. */
struct dns_dir {
    struct mc_l7_buf buf; /* owned: a message split over segments, length prefix included */
    uint32_t skip;        /* bytes of a refused or short message still to pass over */
    uint8_t desync;       /* a gap lost the framing: wait for a message start */
};

/*
 * Small on purpose: the framework sizes every L7 flow's state by the largest
 * analyzer.  One pending query lives inline (the common UDP flow); more
 * slots and the first transaction are allocated when needed.
 */
struct dns_state {
    uint8_t tcp, off;
    uint32_t n_queries, n_responses;
    struct dns_dir d[2];
    struct dns_first *first;  /* owned: NULL until a transaction was emitted */
    struct dns_query *more;   /* owned: DNS_PENDING - 1 slots, NULL until q0 is busy */
    struct dns_query q0;
};

static struct dns_query *slot(struct dns_state *s, int i)
{
    return i == 0 ? &s->q0 : s->more ? &s->more[i - 1] : NULL;
}

static int name_eq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* ---- cloud aggregates ---------------------------------------------------------- */

/*
 * Clients per name, approximately: a direct-mapped set of (client, name)
 * hashes with the time each was last seen.  A pair counts again when its
 * slot was taken by another pair (over-count) or when it was last seen
 * more than the key's TTL ago (the key may have expired).  Packet thread
 * only; the pages are touched only with --redis.
 */
#define DNS_CLIENT_SLOTS (1u << 16)
static struct {
    uint64_t h, ms;
} clients_seen[DNS_CLIENT_SLOTS];

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int client_is_new(const struct mc_addr *client, const char *name, size_t n, uint64_t now)
{
    uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ull, client->b, 16), name, n) | 1;
    size_t i = (size_t)(h >> 32) & (DNS_CLIENT_SLOTS - 1);
    int fresh = clients_seen[i].h != h || now - clients_seen[i].ms >= DNS_AGG_TTL_MS || now < clients_seen[i].ms;
    clients_seen[i].h = h;
    clients_seen[i].ms = now;
    return fresh;
}

/* prefix + s, with s lowercased (0x20-randomised names are one name); returns the length. */
static size_t make_key(char *k, size_t cap, const char *prefix, const char *s, size_t n)
{
    size_t pl = strlen(prefix), len = 0;
    if (pl + n >= cap)
        n = cap - 1 - pl;
    memcpy(k, prefix, pl);
    len = pl;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        k[len++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    k[len] = '\0';
    return len;
}

/* s as a JSON string: names are printable ASCII (see put_label_byte), so only " and \ need escapes. */
static size_t json_str(char *o, size_t cap, const char *s, size_t n)
{
    size_t len = 0;
    o[len++] = '"';
    for (size_t i = 0; i < n && len + 3 < cap; i++) {
        if (s[i] == '"' || s[i] == '\\')
            o[len++] = '\\';
        o[len++] = s[i];
    }
    o[len++] = '"';
    return len;
}

static void cloud_query(struct mc_l7_ctx *x, const char *name, size_t n, const struct mc_addr *client,
                        int ver, uint64_t now)
{
    struct mc_agg *a = mc_l7_agg(x);
    if (!a)
        return;
    char key[MC_DNS_NAME_MAX + 64], ca[INET6_ADDRSTRLEN], ev[2 * MC_DNS_NAME_MAX + 128];
    size_t kl = make_key(key, sizeof(key), "dns.name.", name, n);
    const char *lname = key + 9; /* the lowercased name */
    size_t ln = kl - 9;
    mc_addr_text(ver, client, ca, sizeof(ca));
    mc_agg_hincr(a, key, kl, "queries", 1);
    mc_agg_hmax(a, key, kl, "last_seen", now);
    if (client_is_new(client, lname, ln, now))
        mc_agg_hincr(a, key, kl, "clients", 1);
    mc_agg_expire(a, key, kl, DNS_AGG_TTL_MS);
    /* {"name":...,"client":...,"ts":...}: sized for the longest name and address */
    size_t el = 8 + json_str(ev + 8, 2 * MC_DNS_NAME_MAX + 4, lname, ln);
    memcpy(ev, "{\"name\":", 8);
    /* fits: ev has 116 bytes past the longest name, this takes at most 11 + 45 + 7 + 20 + 1 */
    el = mc_text_cat(ev, sizeof(ev), el, ",\"client\":\"");
    el = mc_text_cat(ev, sizeof(ev), el, ca);
    el = mc_text_cat(ev, sizeof(ev), el, "\",\"ts\":");
    el += mc_u64_text(now, ev + el);
    ev[el++] = '}';
    mc_agg_publish_if_new(a, key, kl, "queries", "dns.name.new", ev, el);

    char top[48];
    memcpy(top, "dns.top.", 8);
    size_t tl = 8 + mc_u64_text(now / 60000, top + 8);
    mc_agg_zincr(a, top, tl, lname, ln, 1);
    mc_agg_expire(a, top, tl, DNS_AGG_TTL_MS);

    char ck[16 + INET6_ADDRSTRLEN];
    size_t cl = mc_text_join(ck, sizeof(ck), "dns.client.", ca, "");
    mc_agg_hincr(a, ck, cl, "queries", 1);
    mc_agg_expire(a, ck, cl, DNS_AGG_TTL_MS);
}

static void cloud_response(struct mc_l7_ctx *x, const struct mc_dns_msg *m, const struct mc_addr *client,
                           int ver, uint64_t now)
{
    struct mc_agg *a = mc_l7_agg(x);
    if (!a)
        return;
    char key[MC_DNS_NAME_MAX + 64], ca[INET6_ADDRSTRLEN];
    size_t kl = make_key(key, sizeof(key), "dns.name.", m->qname, m->qname_len);
    mc_agg_hincr(a, key, kl, "responses", 1);
    if (m->rcode == 3)
        mc_agg_hincr(a, key, kl, "nxdomain", 1);
    else if (m->rcode == 2)
        mc_agg_hincr(a, key, kl, "servfail", 1);
    mc_agg_hmax(a, key, kl, "last_seen", now);
    mc_agg_expire(a, key, kl, DNS_AGG_TTL_MS);

    char ck[16 + INET6_ADDRSTRLEN];
    mc_addr_text(ver, client, ca, sizeof(ca));
    size_t cl = mc_text_join(ck, sizeof(ck), "dns.client.", ca, "");
    mc_agg_hincr(a, ck, cl, "responses", 1);
    if (m->rcode == 3)
        mc_agg_hincr(a, ck, cl, "nxdomain", 1);
    mc_agg_expire(a, ck, cl, DNS_AGG_TTL_MS);

    /* passive DNS: the name the client asked for.  An address no probe meters (outside
     * --local-networks, never contacted) gets no TTL from the host writer: the answer
     * sets one too, so the key cannot outlive both by more than an hour. */
    for (unsigned i = 0; i < m->n_addr; i++) {
        char ik[8 + INET6_ADDRSTRLEN];
        memcpy(ik, "ip.", 3);
        inet_ntop(m->addr[i].ver == 6 ? AF_INET6 : AF_INET, m->addr[i].b, ik + 3, sizeof(ik) - 3);
        size_t il = strlen(ik);
        mc_agg_hset(a, ik, il, "name", key + 9, kl - 9);
        mc_agg_expire(a, ik, il, DNS_AGG_TTL_MS);
    }
}

/* ---- transactions ----------------------------------------------------------- */

static void keep_first(struct dns_state *s, const struct dns_query *q, const struct mc_dns_msg *r,
                       uint64_t resp_ms)
{
    uint16_t name_len = q ? q->name_len : r->qname_len;
    uint16_t answers_len = r ? r->answers_len : 0;
    struct dns_first *f = calloc(1, sizeof(*f) + (size_t)name_len + 1 + answers_len + 1);
    if (!f) {
        MC_CTR_INC(l7_dns, first_alloc_failed);
        return;
    }
    f->name_len = name_len;
    f->answers_len = answers_len;
    if (q) {
        f->id = q->id;
        f->qtype = q->qtype;
        f->qclass = q->qclass;
        memcpy(f->text, qname(q), name_len);
    } else {
        f->id = r->id;
        f->qtype = r->qtype;
        f->qclass = r->qclass;
        memcpy(f->text, r->qname, name_len);
    }
    if (r) {
        f->answered = 1;
        f->rcode = r->rcode;
        f->ancount = r->ancount;
        f->has_ttl = r->has_ttl;
        f->min_ttl = r->min_ttl;
        memcpy(f->text + name_len + 1, r->answers, answers_len);
    }
    if (q && r) {
        f->timed = 1;
        f->rtt_ms = resp_ms >= q->t_ms ? (uint32_t)(resp_ms - q->t_ms) : 0;
    }
    s->first = f;
}

/* One transaction: q (NULL: a response whose query was not seen) and r (NULL: unanswered). */
static void emit(struct mc_l7_ctx *x, struct dns_state *s, const struct dns_query *q, const struct mc_dns_msg *r,
                 uint64_t resp_ms)
{
    mc_l7_tx_begin(x, q ? q->t_ms : resp_ms);
    if (q) {
        mc_l7_tx_str(x, "dnsQueryName", qname(q), q->name_len);
        mc_l7_tx_u64(x, "dnsQueryType", q->qtype);
        mc_l7_tx_u64(x, "dnsQueryClass", q->qclass);
        mc_l7_tx_u64(x, "dnsTransactionId", q->id);
    } else {
        mc_l7_tx_str(x, "dnsQueryName", r->qname, r->qname_len);
        mc_l7_tx_u64(x, "dnsQueryType", r->qtype);
        mc_l7_tx_u64(x, "dnsQueryClass", r->qclass);
        mc_l7_tx_u64(x, "dnsTransactionId", r->id);
    }
    if (r) {
        mc_l7_tx_u64(x, "dnsResponseCode", r->rcode);
        mc_l7_tx_u64(x, "dnsAnswerCount", r->ancount);
        if (r->answers_len)
            mc_l7_tx_str(x, "dnsAnswers", r->answers, r->answers_len);
        if (r->has_ttl)
            mc_l7_tx_u64(x, "dnsMinTtl", r->min_ttl);
        if (q)
            mc_l7_tx_u64(x, "dnsResponseTimeMs", resp_ms >= q->t_ms ? resp_ms - q->t_ms : 0);
    }
    mc_l7_tx_end(x);
    if (!s->first)
        keep_first(s, q, r, resp_ms);
}

static void on_query(struct mc_l7_ctx *x, struct dns_state *s, int dir, const struct mc_dns_msg *m)
{
    const struct mc_flow *f = mc_l7_flow(x);
    uint64_t now = mc_l7_now_ms(x);
    struct dns_query *q = NULL, *oldest = NULL;

    s->n_queries++;
    MC_CTR_INC(l7_dns, queries);
    for (int i = 0; i < DNS_PENDING; i++) {
        struct dns_query *e = slot(s, i);
        if (!e)
            break;
        if (!e->used) {
            if (!q)
                q = e;
            continue;
        }
        if (e->id == m->id && e->dir == dir && e->qtype == m->qtype &&
            name_eq(qname(e), e->name_len, m->qname, m->qname_len)) {
            if (now >= e->t_ms && now - e->t_ms < DNS_RETRANSMIT_MS) {
                /* the client asked again: the transaction starts at the first ask */
                MC_CTR_INC(l7_dns, query_retransmitted);
                return;
            }
            /* a retry after the resolver's timeout: the first ask went unanswered */
            MC_CTR_INC(l7_dns, query_unanswered);
            emit(x, s, e, NULL, 0);
            e->used = 0;
            if (!q)
                q = e;
            continue;
        }
        if (!oldest || e->t_ms < oldest->t_ms)
            oldest = e;
    }
    /* a retransmission returned above: the cloud counts each question once */
    cloud_query(x, m->qname, m->qname_len, &f->key.addr[dir], f->key.ip_ver, now);
    if (!q && !s->more) {
        s->more = calloc(DNS_PENDING - 1, sizeof(*s->more));
        if (s->more)
            q = &s->more[0];
        else
            MC_CTR_INC(l7_dns, pending_alloc_failed);
    }
    if (!q) {
        /* table full: the oldest is given up as unanswered */
        MC_CTR_INC(l7_dns, pending_evicted);
        emit(x, s, oldest, NULL, 0);
        q = oldest;
    }
    free(q->long_name);
    q->long_name = NULL;
    q->used = 0;
    if (m->qname_len > QNAME_INLINE && !(q->long_name = mc_l7_text_dup(m->qname, m->qname_len))) {
        MC_CTR_INC(l7_dns, pending_alloc_failed); /* its response will find no query */
        return;
    }
    q->used = 1;
    q->dir = (uint8_t)dir;
    q->t_ms = now;
    q->id = m->id;
    q->qtype = m->qtype;
    q->qclass = m->qclass;
    q->name_len = m->qname_len;
    if (!q->long_name)
        memcpy(q->name, m->qname, m->qname_len + 1u);
}

static void on_response(struct mc_l7_ctx *x, struct dns_state *s, int dir, const struct mc_dns_msg *m)
{
    const struct mc_flow *f = mc_l7_flow(x);
    uint64_t now = mc_l7_now_ms(x);

    s->n_responses++;
    MC_CTR_INC(l7_dns, responses);
    /* the client is the one the response goes to */
    cloud_response(x, m, &f->key.addr[!dir], f->key.ip_ver, now);
    for (int i = 0; i < DNS_PENDING; i++) {
        struct dns_query *e = slot(s, i);
        if (!e)
            break;
        if (e->used && e->id == m->id && name_eq(qname(e), e->name_len, m->qname, m->qname_len)) {
            emit(x, s, e, m, now);
            e->used = 0;
            return;
        }
    }
    MC_CTR_INC(l7_dns, response_without_query);
    emit(x, s, NULL, m, now);
}

static void message(struct mc_l7_ctx *x, struct dns_state *s, int dir, const uint8_t *p, size_t n)
{
    struct mc_dns_msg m;
    if (mc_l7_dns_parse(p, n, &m) == MC_DNS_BAD)
        return;
    if (m.qr)
        on_response(x, s, dir, &m);
    else
        on_query(x, s, dir, &m);
}

/* ---- TCP framing ------------------------------------------------------------ */

/*
 * Takes what a length-prefixed message starting at p[0..n) needs.  Returns
 * the bytes used; 0 when the bytes end inside the length or the message
 * (the caller buffers them).
 */
static size_t frame(struct mc_l7_ctx *x, struct dns_state *s, int dir, const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t len = (size_t)p[0] << 8 | p[1];
    if (len == 0) {
        MC_CTR_INC(l7_dns, tcp_zero_length);
        return 2;
    }
    if (len < DNS_HDR_LEN) { /* cannot hold a header: pass over it */
        MC_CTR_INC(l7_dns, tcp_short_length);
        s->d[dir].skip = (uint32_t)len;
        return 2;
    }
    if (n < 2 + len)
        return 0;
    message(x, s, dir, p + 2, len);
    return 2 + len;
}

/* A segment that starts like a length-prefixed message (to resynchronise after a gap). */
static int tcp_message_start(const uint8_t *p, size_t n)
{
    if (n < 2 + DNS_HDR_LEN)
        return 0;
    size_t len = (size_t)p[0] << 8 | p[1];
    return len >= DNS_HDR_LEN && sane_message(p + 2, len < n - 2 ? len : n - 2);
}

/*
 * The buffer cap refused the message being collected (counted by the
 * framework): pass over the rest of it, p[0..n) being the bytes not yet
 * taken.  Returns -1 when not even its length is known (framing lost).
 */
static int refuse(struct dns_dir *d, const uint8_t *p, size_t n)
{
    size_t have = d->buf.len, len;
    MC_CTR_INC(l7_dns, tcp_skipped);
    if (have >= 2)
        len = (size_t)d->buf.p[0] << 8 | d->buf.p[1];
    else if (have == 1 && n >= 1)
        len = (size_t)d->buf.p[0] << 8 | p[0];
    else if (have == 0 && n >= 2)
        len = (size_t)p[0] << 8 | p[1];
    else
        len = SIZE_MAX;
    mc_l7_buf_reset(&d->buf);
    if (len == SIZE_MAX) {
        d->desync = 1;
        return -1;
    }
    d->skip = (uint32_t)(2 + len - have);
    return 0;
}

static void tcp_data(struct mc_l7_ctx *x, struct dns_state *s, int dir, const uint8_t *p, size_t n)
{
    struct dns_dir *d = &s->d[dir];
    if (d->desync) {
        /* after a gap: resume at the first segment that starts like a message */
        if (!tcp_message_start(p, n))
            return;
        d->desync = 0;
    }
    while (n > 0) {
        if (d->skip) {
            size_t k = d->skip < n ? d->skip : n;
            d->skip -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        if (d->buf.len == 0) {
            size_t used = frame(x, s, dir, p, n);
            if (used) {
                p += used;
                n -= used;
                continue;
            }
            /* a message split over segments: collect it */
            if (mc_l7_buf_append(x, &d->buf, p, n) == 0 || refuse(d, p, n) < 0)
                return;
            continue;
        }
        /* complete the buffered message: first its length, then its body */
        size_t want = 2;
        if (d->buf.len >= 2)
            want = 2 + ((size_t)d->buf.p[0] << 8 | d->buf.p[1]);
        size_t k = want - d->buf.len < n ? want - d->buf.len : n;
        if (mc_l7_buf_append(x, &d->buf, p, k) < 0) {
            if (refuse(d, p, n) < 0)
                return;
            continue;
        }
        p += k;
        n -= k;
        if (d->buf.len < want)
            return; /* every byte taken, the message still incomplete */
        /* the length just became known (0 used: keep collecting), or the message is whole */
        if (frame(x, s, dir, d->buf.p, d->buf.len))
            mc_l7_buf_reset(&d->buf);
    }
}

/* ---- callbacks ---------------------------------------------------------------- */

static void dns_init(struct mc_l7_ctx *x, void *st)
{
    struct dns_state *s = st;
    const struct mc_flow *f = mc_l7_flow(x);
    s->tcp = f->key.proto == 6;
    /*
     * NetBIOS names, multicast DNS and LLMNR reuse the message format but not
     * its meaning (no resolver, answers to a group, names local to a link):
     * detect() may attach to them, the analyzer stays out.
     */
    for (int i = 0; i < 2; i++) {
        uint16_t port = f->key.port[i];
        if ((port == 137 || port == 5353 || port == 5355) && f->key.port[!i] != 53) {
            s->off = 1;
            MC_CTR_INC(l7_dns, link_local_ignored);
            return;
        }
    }
}

static void dns_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct dns_state *s = st;
    if (s->off)
        return;
    if (s->tcp)
        tcp_data(x, s, dir, p, n);
    else
        message(x, s, dir, p, n);
}

static void dns_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    (void)x, (void)len;
    struct dns_state *s = st;
    if (s->off || dir < 0 || dir > 1)
        return;
    MC_CTR_INC(l7_dns, tcp_gap_desync);
    mc_l7_buf_reset(&s->d[dir].buf);
    s->d[dir].skip = 0;
    s->d[dir].desync = 1;
}

static void dns_end(struct mc_l7_ctx *x, void *st)
{
    struct dns_state *s = st;
    /* unanswered queries, oldest first */
    for (;;) {
        struct dns_query *q = NULL;
        for (int i = 0; i < DNS_PENDING; i++) {
            struct dns_query *e = slot(s, i);
            if (!e)
                break;
            if (e->used && (!q || e->t_ms < q->t_ms))
                q = e;
        }
        if (!q)
            break;
        MC_CTR_INC(l7_dns, query_unanswered);
        emit(x, s, q, NULL, 0);
        q->used = 0;
    }
    for (int dir = 0; dir < 2; dir++) {
        if (s->d[dir].buf.len || s->d[dir].skip)
            MC_CTR_INC(l7_dns, tcp_partial_at_end);
        mc_l7_buf_reset(&s->d[dir].buf);
        s->d[dir].skip = 0;
    }
}

static void dns_release(void *st)
{
    struct dns_state *s = st;
    mc_l7_buf_free(&s->d[0].buf);
    mc_l7_buf_free(&s->d[1].buf);
    for (int i = 0; i < DNS_PENDING; i++) {
        struct dns_query *q = slot(s, i);
        if (!q)
            break;
        free(q->long_name);
        q->long_name = NULL;
    }
    free(s->first);
    free(s->more);
    s->first = NULL;
    s->more = NULL;
}

/* ---- flow record fields --------------------------------------------------------- */

static const struct dns_first *first_of(const struct mc_ie_env *env, const struct dns_state **sp)
{
    const struct dns_state *s = mc_l7_state_of(env->f, &mc_l7_dns);
    if (sp)
        *sp = s;
    return s ? s->first : NULL;
}

static void get_qname(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->str = f ? f->text : "";
    v->str_len = f ? f->name_len : 0;
}

static void get_answers(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->str = f ? first_answers(f) : "";
    v->str_len = f ? f->answers_len : 0;
}

static void get_qtype(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f ? f->qtype : 0;
}

static void get_qclass(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f ? f->qclass : 0;
}

static void get_id(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f ? f->id : 0;
}

static void get_rcode(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f && f->answered ? f->rcode : 0;
}

static void get_ancount(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f && f->answered ? f->ancount : 0;
}

static void get_min_ttl(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f && f->has_ttl ? f->min_ttl : 0;
}

static void get_rtt(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_first *f = first_of(env, NULL);
    v->u = f && f->timed ? f->rtt_ms : 0;
}

static void get_n_queries(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_state *s;
    (void)first_of(env, &s);
    v->u = s ? s->n_queries : 0;
}

static void get_n_responses(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct dns_state *s;
    (void)first_of(env, &s);
    v->u = s ? s->n_responses : 0;
}

#define S MC_IE_T_STRING
#define U MC_IE_T_UNSIGNED
#define E MC_IE_F_NOV9
static const struct mc_ie dns_fields[] = {
    { "dnsQueryName", 110, MC_PEN_MC, MC_IE_VARLEN, 0, S, E, NULL, get_qname,
      "first transaction: QNAME as text (tshark's spelling, \\ooo for other bytes; <Root>)", MC_DNS_NAME_MAX },
    { "dnsQueryType", 111, MC_PEN_MC, 2, 0, U, E, NULL, get_qtype, "first transaction: QTYPE", 0 },
    { "dnsQueryClass", 112, MC_PEN_MC, 2, 0, U, E, NULL, get_qclass, "first transaction: QCLASS", 0 },
    { "dnsTransactionId", 113, MC_PEN_MC, 2, 0, U, E, NULL, get_id, "first transaction: message ID", 0 },
    { "dnsResponseCode", 114, MC_PEN_MC, 1, 0, U, E, NULL, get_rcode,
      "first transaction: header RCODE of the response (0 when unanswered)", 0 },
    { "dnsAnswerCount", 115, MC_PEN_MC, 2, 0, U, E, NULL, get_ancount,
      "first transaction: ANCOUNT of the response", 0 },
    { "dnsAnswers", 116, MC_PEN_MC, MC_IE_VARLEN, 0, S, E, NULL, get_answers,
      "first transaction: A, AAAA, CNAME, PTR, MX answers as text, comma-separated, whole items up to 512 bytes",
      MC_DNS_ANSWERS_MAX },
    { "dnsMinTtl", 117, MC_PEN_MC, 4, 0, U, E, NULL, get_min_ttl,
      "first transaction: smallest TTL of the answer section (0 when none)", 0 },
    { "dnsResponseTimeMs", 118, MC_PEN_MC, 4, 0, U, E, NULL, get_rtt,
      "first transaction: response time - query time, ms (0 when either is missing)", 0 },
    { "dnsQueryCount", 119, MC_PEN_MC, 4, 0, U, E, NULL, get_n_queries, "DNS queries in the flow", 0 },
    { "dnsResponseCount", 120, MC_PEN_MC, 4, 0, U, E, NULL, get_n_responses, "DNS responses in the flow", 0 },
};
#undef S
#undef U
#undef E

static const char *const dns_ndpi[] = { "DNS", NULL };

const struct mc_l7_analyzer mc_l7_dns = {
    .name = "dns",
    .l4 = MC_L7_TCP | MC_L7_UDP,
    .ports = { 53 },
    .ndpi = dns_ndpi,
    .detect = mc_l7_dns_detect,
    .state_size = sizeof(struct dns_state),
    .init = dns_init,
    .data = dns_data,
    .gap = dns_gap,
    .end = dns_end,
    .release = dns_release,
    .fields = dns_fields,
    .n_fields = sizeof(dns_fields) / sizeof(dns_fields[0]),
};
