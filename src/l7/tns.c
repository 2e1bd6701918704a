/*
 * tns.c - Oracle TNS (Transparent Network Substrate, Oracle Net) analyzer:
 * the connect descriptor of each CONNECT and the listener's answer
 * (accept, refuse, redirect, resend), and SQL text found in the TTC
 * payload of DATA packets, as transactions.
 *
 * There is no public specification.  References: Wireshark's
 * epan/dissectors/packet-tns.c; Oracle Net Services Reference, "Syntax
 * Rules for Configuration Files" (the descriptor's (KEY=VALUE) grammar).
 *
 * Every packet starts with an 8-byte big-endian header:
 *
 *    0       1       2       3       4       5       6       7
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *   |    length     |packet checksum| type  | flags | header cksum  |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+
 *
 * The length counts the whole packet, header included.  From version 315
 * (Oracle 12c) on, once the ACCEPT has agreed it, bytes 0-3 are one 4-byte
 * length (Wireshark: "Oracle 12c combine these two 16-bit numbers into one
 * 32-bit.  This number represents the packet length.  Checksum is
 * omitted.").  A type 15 (data descriptor) packet is followed by data its
 * length does not count.
 *
 * CONNECT, after the header: version, compatible version, service options,
 * SDU, TDU, NT characteristics, line turnaround, value of one (2 bytes
 * each), connect data length, connect data offset (from the packet's
 * start), max receivable (4), flags (2), trace items; the connect data
 * "(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=x)(CID=(PROGRAM=p)(HOST=h)
 * (USER=u)))(ADDRESS=...))" at its offset, or in the next DATA packet when
 * it did not fit.  ACCEPT: version first.  REFUSE: two reason bytes, data
 * length, data "(DESCRIPTION=(ERR=12514)...)".  DATA: 2 flag bytes, then
 * the TTC payload, which is version-dependent binary: SQL text is found by
 * a heuristic (mc_l7_tns_sql).
 */
#include "l7/tns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cloud/agg.h"
#include "common/cur.h"

MC_CTR_DEFINE(l7_tns, MC_L7_TNS_CTRS)

#define REC_TEXT_MAX 511    /* connect data and SQL bytes kept for the flow record */
#define CONNECT_FIXED 26    /* CONNECT body bytes through the second flags byte */
#define DATA_KEEP 16384     /* DATA payload bytes searched for SQL or an error */
#define CONTROL_KEEP 65536  /* CONNECT, ACCEPT, REFUSE, REDIRECT: whole (2-byte lengths) */
#define DESC_DEPTH 16       /* descriptor nesting tracked */

enum pend { P_NONE, P_CONNECT, P_SQL };

/* One direction's packet framing. */
struct rx {
    struct mc_l7_body body; /* the current packet's body: its length minus the header (owned buffer) */
    uint32_t skip;        /* bytes to pass over before the next header (data descriptor) */
    uint8_t hdr[MC_TNS_HDR], hlen;
    uint8_t type;
    uint8_t resync;       /* framing lost: waiting for a plausible header at a segment start */
};

/* The flow record: each element's first value in the flow. */
struct rec {
    struct mc_tns_desc desc;
    char *cd, *sql;        /* owned, NUL-terminated, allocated to their size when first seen */
    uint16_t cd_len, sql_len;
    char result[12];
    uint32_t err_code, resp_ms;
    uint8_t has_err, has_resp;
};

/* Everything a TNS flow keeps, allocated at attach (the fixed state is one pointer). */
struct sess {
    struct rx rx[2];
    uint8_t cli;           /* direction the client sends (the CONNECT's) */
    uint8_t mode;          /* enum mc_tns_len_mode */
    uint8_t pend;          /* enum pend: the open transaction */
    uint8_t has_err;
    uint8_t sql_seen;      /* a statement was read: the login exchange is over */
    uint16_t cd_follows;   /* connect data announced for the next client DATA packet */
    uint64_t t_req, t_resp; /* epoch ms of the request and of its answer (0: none) */
    uint32_t err_code;
    const char *result;    /* static: "accept", "refuse", "redirect", "resend"; NULL none */
    struct mc_tns_desc desc; /* of the last CONNECT: the session's */
    char *text;            /* owned: the pending connect data or statement; text_cap grows to what one needed */
    size_t text_len, text_cap;
    struct rec rec;
};

struct tns_state {
    struct sess *s; /* owned, NULL when its allocation failed */
};

/* ---- pure parsers ------------------------------------------------------- */

/* The header without counting (detect and resync use it): 0, -1 bad length, -2 bad type. */
static int read_header(const uint8_t *p, size_t n, int mode, uint32_t *len, uint8_t *type)
{
    struct mc_cur c = mc_cur_make(p, n);
    uint16_t a = mc_cur_be16(&c);
    uint16_t b = mc_cur_be16(&c);
    *type = mc_cur_u8(&c);
    if (!mc_cur_ok(&c))
        return -1;
    /* without the handshake, as Wireshark: a packet checksum of 0 (or 4, 10g) is the short form */
    int lng = mode == MC_TNS_LEN_LONG || (mode == MC_TNS_LEN_GUESS && (a == 0 || (b != 0 && b != 4)));
    *len = lng ? ((uint32_t)a << 16 | b) : a;
    if (*len < MC_TNS_HDR || *len > MC_TNS_MAX_LEN)
        return -1;
    if (*type == 0 || *type > MC_TNS_TYPE_MAX)
        return -2;
    return 0;
}

int mc_l7_tns_header(const uint8_t *p, size_t n, int mode, uint32_t *len, uint8_t *type)
{
    int r = read_header(p, n, mode, len, type);
    if (r == -1)
        MC_CTR_INC(l7_tns, bad_length);
    else if (r == -2)
        MC_CTR_INC(l7_tns, bad_type);
    return r < 0 ? -1 : 0;
}

static int is_space(uint8_t b) { return b == ' ' || b == '\t' || b == '\r' || b == '\n'; }

static int key_is(const uint8_t *k, size_t kn, const char *name)
{
    return strlen(name) == kn && strncasecmp((const char *)k, name, kn) == 0;
}

static void copy_text(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    if (n)
        memcpy(dst, p, n);
    dst[n] = 0;
}

enum group { G_OTHER, G_CONNECT_DATA, G_CID };

void mc_l7_tns_descriptor(const uint8_t *p, size_t n, struct mc_tns_desc *d)
{
    memset(d, 0, sizeof(*d));
    uint8_t stack[DESC_DEPTH]; /* enum group of each open "(KEY=(" */
    size_t depth = 0;          /* open groups, may exceed DESC_DEPTH (then not tracked) */
    int have_service_name = 0, deep = 0;
    size_t i = 0;
    while (i < n) {
        if (p[i] == ')') {
            if (depth)
                depth--;
            i++;
            continue;
        }
        if (p[i] != '(') {
            i++;
            continue;
        }
        i++;
        while (i < n && is_space(p[i]))
            i++;
        size_t k0 = i;
        while (i < n && p[i] != '=' && p[i] != '(' && p[i] != ')')
            i++;
        size_t kn = i - k0;
        while (kn && is_space(p[k0 + kn - 1]))
            kn--;
        int eq = i < n && p[i] == '=';
        if (eq) {
            i++;
            while (i < n && is_space(p[i]))
                i++;
        }
        if (!eq || i >= n || p[i] == '(') {
            /* a group: "(KEY=(...)...)", or a malformed "(KEY(" that still nests */
            uint8_t g = key_is(p + k0, kn, "CONNECT_DATA") ? G_CONNECT_DATA : key_is(p + k0, kn, "CID") ? G_CID
                                                                                                        : G_OTHER;
            if (depth < DESC_DEPTH)
                stack[depth] = g;
            else
                deep = 1;
            depth++;
            continue;
        }
        /* a value, up to the unquoted ')' that closes it */
        size_t v0 = i;
        int quoted = 0;
        while (i < n && (quoted || p[i] != ')')) {
            if (p[i] == '"')
                quoted = !quoted;
            i++;
        }
        size_t vn = i - v0;
        if (i < n)
            i++;
        while (vn && is_space(p[v0 + vn - 1]))
            vn--;
        if (vn >= 2 && p[v0] == '"' && p[v0 + vn - 1] == '"') {
            v0++;
            vn -= 2;
        }
        uint8_t parent = depth && depth <= DESC_DEPTH ? stack[depth - 1] : G_OTHER;
        const uint8_t *k = p + k0, *v = p + v0;
        if (parent == G_CONNECT_DATA && key_is(k, kn, "SERVICE_NAME")) {
            copy_text(d->service, sizeof(d->service), v, vn);
            have_service_name = 1;
        } else if (parent == G_CONNECT_DATA && key_is(k, kn, "SID") && !have_service_name) {
            copy_text(d->service, sizeof(d->service), v, vn);
        } else if (parent == G_CID && key_is(k, kn, "PROGRAM")) {
            copy_text(d->program, sizeof(d->program), v, vn);
        } else if (parent == G_CID && key_is(k, kn, "HOST")) {
            copy_text(d->host, sizeof(d->host), v, vn);
        } else if (parent == G_CID && key_is(k, kn, "USER")) {
            copy_text(d->user, sizeof(d->user), v, vn);
        }
    }
    if (deep)
        MC_CTR_INC(l7_tns, descriptor_too_deep);
}

int mc_l7_tns_connect(const uint8_t *p, size_t n, size_t plen, uint16_t *version, const uint8_t **cd, size_t *cd_n,
                      uint16_t *follows)
{
    *cd = NULL;
    *cd_n = 0;
    *follows = 0;
    struct mc_cur c = mc_cur_make(p, n);
    *version = mc_cur_be16(&c);
    mc_cur_skip(&c, 14); /* compatible version .. value of one */
    uint16_t cd_len = mc_cur_be16(&c);
    uint16_t cd_off = mc_cur_be16(&c);
    if (!mc_cur_ok(&c) || plen < CONNECT_FIXED) {
        MC_CTR_INC(l7_tns, bad_connect);
        return -1;
    }
    if (!cd_len)
        return 0;
    if (cd_off < MC_TNS_HDR + CONNECT_FIXED) { /* the offset points into the fixed fields */
        MC_CTR_INC(l7_tns, bad_connect);
        return -1;
    }
    size_t off = cd_off - MC_TNS_HDR;
    if (off >= plen) { /* "Long Connect Data [...] sent in an immediately following Data PDU" */
        *follows = cd_len;
        return 0;
    }
    size_t want = cd_len;
    if (want > plen - off || off >= n || want > n - off) {
        MC_CTR_INC(l7_tns, connect_data_truncated);
        want = off >= n ? 0 : n - off < plen - off ? n - off : plen - off;
        if (want > cd_len)
            want = cd_len;
    }
    *cd = p + off;
    *cd_n = want;
    return 0;
}

static int sql_char(uint8_t b) { return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\n' || b == '\r'; }

static int word_char(uint8_t b)
{
    uint8_t l = b | 0x20;
    return (b >= '0' && b <= '9') || (l >= 'a' && l <= 'z') || b == '_';
}

static const char *const sql_keywords[] = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE",    "BEGIN",   "DECLARE", "CREATE",    "ALTER", "DROP",
    "TRUNCATE", "GRANT", "REVOKE", "COMMIT", "ROLLBACK", "CALL", "WITH",    "LOCK", "EXPLAIN", "SAVEPOINT",
};

/* Length of the statement keyword at p[i] (whole word), 0 when none. */
static size_t keyword_at(const uint8_t *p, size_t n, size_t i)
{
    if (i > 0 && word_char(p[i - 1]))
        return 0;
    for (size_t k = 0; k < sizeof(sql_keywords) / sizeof(sql_keywords[0]); k++) {
        size_t kn = strlen(sql_keywords[k]);
        if (kn <= n - i && strncasecmp((const char *)p + i, sql_keywords[k], kn) == 0 &&
            (kn == n - i || !word_char(p[i + kn])))
            return kn;
    }
    return 0;
}

/* Appends up to n bytes of src to out (cap bytes); out NULL only measures. */
static size_t put(char *out, size_t cap, size_t at, const uint8_t *src, size_t n)
{
    if (at >= cap)
        return at;
    if (n > cap - at)
        n = cap - at;
    if (out)
        memcpy(out + at, src, n);
    return at + n;
}

size_t mc_l7_tns_sql(const uint8_t *p, size_t n, char *out, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t l = p[i] | 0x20;
        if (l < 'a' || l > 'z')
            continue;
        size_t kn = keyword_at(p, n, i);
        if (!kn)
            continue;
        size_t run = 0;
        while (i + run < n && sql_char(p[i + run]))
            run++;
        uint8_t lb = i >= 1 ? p[i - 1] : 0; /* a TTC length byte before the text, maybe */
        if (i >= 2 && p[i - 2] == 0xfe && lb >= kn && lb <= run) {
            /* long text: 0xfe, then (length, bytes) chunks until a zero length */
            size_t at = 0, pos = i, len = lb;
            for (;;) {
                at = put(out, cap, at, p + pos, len);
                pos += len;
                if (pos >= n || !p[pos])
                    break;
                len = p[pos++];
                if (len > n - pos)
                    break;
                size_t ok = 0;
                while (ok < len && sql_char(p[pos + ok]))
                    ok++;
                if (ok < len)
                    break;
            }
            return at;
        }
        size_t len = run;
        if (lb >= kn && lb <= run && (i < 2 || !sql_char(p[i - 2])))
            len = lb; /* the declared length ends the text before printable bytes that follow it */
        return put(out, cap, 0, p + i, len);
    }
    return 0;
}

/* Decimal digits at p[i..n): the value (capped), *end after them. */
static uint32_t digits_at(const uint8_t *p, size_t n, size_t i, size_t *end)
{
    uint32_t v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (v < 100000000u)
            v = v * 10 + (uint32_t)(p[i] - '0');
        i++;
    }
    *end = i;
    return v;
}

uint32_t mc_l7_tns_ora_error(const uint8_t *p, size_t n)
{
    for (size_t i = 0; n >= 9 && i <= n - 9; i++) {
        if (p[i] != 'O' || memcmp(p + i, "ORA-", 4) != 0)
            continue;
        size_t end;
        uint32_t code = digits_at(p, n, i + 4, &end);
        if (end - (i + 4) == 5 && code && code != 1403)
            return code;
    }
    return 0;
}

uint32_t mc_l7_tns_refuse_error(const uint8_t *p, size_t n)
{
    for (size_t i = 0; n >= 6 && i <= n - 6; i++) {
        if (p[i] == '(' && strncasecmp((const char *)p + i, "(ERR=", 5) == 0) {
            size_t end;
            return digits_at(p, n, i + 5, &end);
        }
    }
    return 0;
}

int mc_l7_tns_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir; /* a capture that missed the SYN may see the CONNECT as the reverse direction */
    struct mc_cur c = mc_cur_make(p, n);
    uint16_t len = mc_cur_be16(&c);
    uint16_t cks = mc_cur_be16(&c);
    uint8_t type = mc_cur_u8(&c);
    mc_cur_skip(&c, 3);
    uint16_t version = mc_cur_be16(&c);
    uint16_t compat = mc_cur_be16(&c);
    return mc_cur_ok(&c) && type == MC_TNS_CONNECT && len >= MC_TNS_HDR + CONNECT_FIXED && (cks == 0 || cks == 4) &&
           version >= 300 && version < 400 && compat >= 300 && compat <= version;
}

/* ---- transactions ------------------------------------------------------- */

static void set_first(char *dst, size_t cap, const char *src)
{
    if (!dst[0] && src[0])
        copy_text(dst, cap, (const uint8_t *)src, strnlen(src, cap - 1));
}

/* Writes the flow's server aggregates; nothing without --redis. */
static void cloud(struct mc_l7_ctx *x, const struct sess *s, int login, int query, int error)
{
    struct mc_agg *a = mc_l7_agg(x);
    if (!a)
        return;
    const struct mc_flow *f = mc_l7_flow(x);
    int srv = !s->cli;
    char addr[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 24];
    if (!inet_ntop(f->key.ip_ver == 6 ? AF_INET6 : AF_INET, f->key.addr[srv].b, addr, sizeof(addr)))
        return;
    int kn = snprintf(key, sizeof(key), "oracle.server.%s:%u", addr, f->key.port[srv]);
    if (kn < 0 || (size_t)kn >= sizeof(key))
        return;
    int bad = 0;
    if (login)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "logins", 1);
    if (query)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "queries", 1);
    if (error)
        bad |= mc_agg_hincr(a, key, (size_t)kn, "errors", 1);
    bad |= mc_agg_hmax(a, key, (size_t)kn, "last_seen", mc_l7_now_ms(x));
    bad |= mc_agg_expire(a, key, (size_t)kn, MC_TNS_AGG_TTL_MS);
    if (bad)
        MC_CTR_INC(l7_tns, agg_refused);
}

static int ensure_text(struct sess *s, size_t need)
{
    if (mc_l7_text_room(&s->text, &s->text_cap, need) == 0)
        return 0;
    MC_CTR_INC(l7_tns, alloc_failed);
    return -1;
}

static void open_tx(struct mc_l7_ctx *x, struct sess *s, uint8_t kind)
{
    s->pend = kind;
    s->t_req = mc_l7_now_ms(x);
    s->t_resp = 0;
    s->has_err = 0;
    s->result = NULL;
    s->text_len = 0;
}

static void emit(struct mc_l7_ctx *x, struct sess *s)
{
    if (!s->pend)
        return;
    int connect = s->pend == P_CONNECT;
    const struct mc_tns_desc *d = &s->desc;
    uint64_t rt = s->t_resp && s->t_resp >= s->t_req ? s->t_resp - s->t_req : 0;
    mc_l7_tx_begin(x, s->t_req);
    if (d->service[0])
        mc_l7_tx_str(x, "oracleServiceName", d->service, strlen(d->service));
    if (connect) {
        if (d->program[0])
            mc_l7_tx_str(x, "oracleProgram", d->program, strlen(d->program));
        if (d->user[0])
            mc_l7_tx_str(x, "oracleOsUser", d->user, strlen(d->user));
        if (d->host[0])
            mc_l7_tx_str(x, "oracleClientHost", d->host, strlen(d->host));
        if (s->text_len)
            mc_l7_tx_str(x, "oracleConnectData", s->text, s->text_len);
        if (s->result)
            mc_l7_tx_str(x, "oracleResult", s->result, strlen(s->result));
    } else if (s->text_len) {
        mc_l7_tx_str(x, "oracleSql", s->text, s->text_len);
    }
    if (s->has_err)
        mc_l7_tx_u64(x, "oracleErrorCode", s->err_code);
    if (s->t_resp)
        mc_l7_tx_u64(x, "oracleResponseTimeMs", rt);
    mc_l7_tx_end(x);

    if (s->has_err)
        MC_CTR_INC(l7_tns, errors);
    struct rec *r = &s->rec;
    set_first(r->desc.service, sizeof(r->desc.service), d->service);
    if (connect) {
        set_first(r->desc.program, sizeof(r->desc.program), d->program);
        set_first(r->desc.user, sizeof(r->desc.user), d->user);
        set_first(r->desc.host, sizeof(r->desc.host), d->host);
        if (s->result)
            set_first(r->result, sizeof(r->result), s->result);
    }
    char **dst = connect ? &r->cd : &r->sql;
    uint16_t *dn = connect ? &r->cd_len : &r->sql_len;
    if (!*dst && s->text_len) {
        size_t n = s->text_len < REC_TEXT_MAX ? s->text_len : REC_TEXT_MAX;
        if ((*dst = mc_l7_text_dup(s->text, n)))
            *dn = (uint16_t)n;
        else
            MC_CTR_INC(l7_tns, alloc_failed);
    }
    if (!r->has_err && s->has_err) {
        r->has_err = 1;
        r->err_code = s->err_code;
    }
    if (!r->has_resp && s->t_resp) {
        r->has_resp = 1;
        r->resp_ms = rt > UINT32_MAX ? UINT32_MAX : (uint32_t)rt;
    }
    int refused = connect && s->result && strcmp(s->result, "refuse") == 0;
    cloud(x, s, connect && s->result && strcmp(s->result, "accept") == 0, !connect, s->has_err || refused);
    s->pend = P_NONE;
}

/* ---- packets ------------------------------------------------------------- */

static void connect_data(struct mc_l7_ctx *x, struct sess *s, const uint8_t *cd, size_t n)
{
    size_t keep = n < mc_l7_max_text(x) ? n : mc_l7_max_text(x);
    if (ensure_text(s, keep) == 0) {
        s->text_len = keep;
        memcpy(s->text, cd, keep);
    }
    mc_l7_tns_descriptor(cd, n, &s->desc);
    if (!s->desc.service[0])
        MC_CTR_INC(l7_tns, no_service);
}

static void connect_pkt(struct mc_l7_ctx *x, struct sess *s, const uint8_t *p, size_t n, uint32_t plen)
{
    if (s->pend) {
        MC_CTR_INC(l7_tns, no_answer);
        emit(x, s);
    }
    MC_CTR_INC(l7_tns, connects);
    open_tx(x, s, P_CONNECT);
    memset(&s->desc, 0, sizeof(s->desc));
    s->cd_follows = 0;
    s->mode = MC_TNS_LEN_SHORT; /* until an ACCEPT agrees on more */
    uint16_t version, follows;
    const uint8_t *cd;
    size_t cd_n;
    if (!p) {
        MC_CTR_INC(l7_tns, bad_connect);
        return;
    }
    if (mc_l7_tns_connect(p, n, plen, &version, &cd, &cd_n, &follows) != 0)
        return;
    if (follows)
        s->cd_follows = follows;
    else if (cd_n)
        connect_data(x, s, cd, cd_n);
}

static void answer(struct mc_l7_ctx *x, struct sess *s, uint8_t type, const uint8_t *p, size_t n)
{
    struct mc_cur c = mc_cur_make(p, p ? n : 0);
    if (type == MC_TNS_ACCEPT) {
        uint16_t version = mc_cur_be16(&c);
        s->mode = mc_cur_ok(&c) && version >= 315 ? MC_TNS_LEN_LONG : MC_TNS_LEN_SHORT;
    }
    if (s->pend != P_CONNECT) {
        MC_CTR_INC(l7_tns, answer_without_connect);
        return;
    }
    s->t_resp = mc_l7_now_ms(x);
    s->cd_follows = 0;
    switch (type) {
    case MC_TNS_ACCEPT:
        s->result = "accept";
        MC_CTR_INC(l7_tns, accepted);
        break;
    case MC_TNS_REFUSE: {
        s->result = "refuse";
        MC_CTR_INC(l7_tns, refused);
        mc_cur_skip(&c, 4); /* user and system reasons, data length */
        uint32_t code = mc_l7_tns_refuse_error(mc_cur_ptr(&c), mc_cur_left(&c));
        if (code) {
            s->has_err = 1;
            s->err_code = code;
        }
        break;
    }
    case MC_TNS_REDIRECT:
        s->result = "redirect";
        MC_CTR_INC(l7_tns, redirected);
        break;
    default:
        s->result = "resend";
        MC_CTR_INC(l7_tns, resend);
        break;
    }
    emit(x, s);
}

static void client_data(struct mc_l7_ctx *x, struct sess *s, const uint8_t *p, size_t n)
{
    struct mc_cur c = mc_cur_make(p, p ? n : 0);
    mc_cur_skip(&c, 2); /* data flags */
    const uint8_t *d = mc_cur_ptr(&c);
    size_t dn = mc_cur_left(&c);
    if (s->cd_follows) {
        if (s->pend == P_CONNECT && p)
            connect_data(x, s, d, dn < s->cd_follows ? dn : s->cd_follows);
        s->cd_follows = 0;
        return;
    }
    if (s->pend == P_CONNECT || !p)
        return; /* still negotiating, or lost */
    size_t len = mc_l7_tns_sql(d, dn, NULL, mc_l7_max_text(x));
    if (!len)
        return;
    if (s->pend == P_SQL) {
        MC_CTR_INC(l7_tns, no_answer);
        emit(x, s);
    }
    if (ensure_text(s, len) != 0)
        return;
    open_tx(x, s, P_SQL);
    s->text_len = mc_l7_tns_sql(d, dn, s->text, len);
    s->sql_seen = 1;
    MC_CTR_INC(l7_tns, statements);
}

static void server_data(struct mc_l7_ctx *x, struct sess *s, const uint8_t *p, size_t n)
{
    /* a statement's answer, or the login exchange (ORA-01017: invalid username/password) */
    if (s->pend != P_SQL && (s->sql_seen || !p))
        return;
    uint32_t code = p && n > 2 ? mc_l7_tns_ora_error(p + 2, n - 2) : 0;
    if (s->pend != P_SQL) {
        if (code) {
            MC_CTR_INC(l7_tns, errors);
            cloud(x, s, 0, 0, 1);
        }
        return;
    }
    s->t_resp = mc_l7_now_ms(x);
    if (code) {
        s->has_err = 1;
        s->err_code = code;
    }
    emit(x, s);
}

/* A whole packet's body (or the kept prefix p[0..n); p NULL when lost) of direction dir. */
static void packet(struct mc_l7_ctx *x, struct sess *s, int dir, const uint8_t *p, size_t n)
{
    struct rx *r = &s->rx[dir];
    if (r->type == MC_TNS_CONNECT && dir != s->cli)
        s->cli = (uint8_t)dir; /* only a client connects, whatever the flow's orientation */
    if (r->type == MC_TNS_DD && p) {
        /* its data follows the packet, outside the length */
        struct mc_cur c = mc_cur_make(p, n);
        mc_cur_skip(&c, 4);
        r->skip = mc_cur_be32(&c);
    }
    if (dir == s->cli) {
        if (r->type == MC_TNS_CONNECT)
            connect_pkt(x, s, p, n, r->body.len);
        else if (r->type == MC_TNS_DATA)
            client_data(x, s, p, n);
        return;
    }
    switch (r->type) {
    case MC_TNS_ACCEPT:
    case MC_TNS_REFUSE:
    case MC_TNS_REDIRECT:
    case MC_TNS_RESEND:
        answer(x, s, r->type, p, n);
        break;
    case MC_TNS_DATA:
        server_data(x, s, p, n);
        break;
    default:
        break;
    }
}

/* The body is complete (body NULL: its kept prefix was lost): the next header follows. */
static void finish(struct mc_l7_ctx *x, struct sess *s, int dir, const uint8_t *body, size_t len)
{
    s->rx[dir].hlen = 0;
    packet(x, s, dir, body, len);
}

static uint32_t keep_of(const struct sess *s, uint8_t type, uint32_t len)
{
    uint32_t cap;
    switch (type) {
    case MC_TNS_CONNECT:
    case MC_TNS_ACCEPT:
    case MC_TNS_REFUSE:
    case MC_TNS_REDIRECT:
        cap = CONTROL_KEEP;
        break;
    case MC_TNS_DATA:
        cap = s->cd_follows ? s->cd_follows + 2u : DATA_KEEP;
        break;
    case MC_TNS_DD:
        cap = 8; /* through its data length */
        break;
    default:
        cap = 0;
        break;
    }
    return len < cap ? len : cap;
}

/* After lost framing: a segment starting with a plausible header in the current length form. */
static int resync(const struct sess *s, const uint8_t *p, size_t n)
{
    uint32_t len;
    uint8_t type;
    return read_header(p, n, s->mode, &len, &type) == 0 &&
           (type == MC_TNS_DATA || type == MC_TNS_MARKER || type == MC_TNS_CONNECT);
}

static void lose_framing(struct mc_l7_ctx *x, struct sess *s, int dir)
{
    struct rx *r = &s->rx[dir];
    r->hlen = 0;
    r->skip = 0;
    r->resync = 1;
    mc_l7_buf_reset(&r->body.buf);
    if (dir != s->cli && s->pend) { /* its answer is lost */
        MC_CTR_INC(l7_tns, no_answer);
        emit(x, s);
    }
}

static void tns_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct sess *s = ((struct tns_state *)st)->s;
    if (!s)
        return;
    struct rx *r = &s->rx[dir];
    if (r->resync) {
        if (!resync(s, p, n)) {
            MC_CTR_ADD(l7_tns, resync_skipped, n);
            return;
        }
        r->resync = 0;
    }
    while (n) {
        if (r->skip) {
            size_t k = r->skip < n ? r->skip : n;
            r->skip -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        if (r->hlen < MC_TNS_HDR) {
            size_t k = (size_t)MC_TNS_HDR - r->hlen;
            if (k > n)
                k = n;
            memcpy(r->hdr + r->hlen, p, k);
            r->hlen = (uint8_t)(r->hlen + k);
            p += k;
            n -= k;
            if (r->hlen < MC_TNS_HDR)
                break;
            uint32_t len;
            if (mc_l7_tns_header(r->hdr, MC_TNS_HDR, s->mode, &len, &r->type) != 0) {
                lose_framing(x, s, dir); /* a length that lies: the next header is unknown */
                MC_CTR_ADD(l7_tns, resync_skipped, n);
                return;
            }
            mc_l7_body_start(&r->body, len - MC_TNS_HDR, keep_of(s, r->type, len - MC_TNS_HDR));
        }
        const uint8_t *body;
        size_t blen;
        int got = mc_l7_body_take(x, &r->body, &p, &n, &body, &blen);
        if (got & MC_L7_BODY_REFUSED)
            MC_CTR_INC(l7_tns, packet_refused);
        if (got & MC_L7_BODY_DONE)
            finish(x, s, dir, body, blen);
    }
}

static void tns_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    struct sess *s = ((struct tns_state *)st)->s;
    if (!s)
        return;
    struct rx *r = &s->rx[dir];
    if (r->resync)
        return;
    if (r->hlen == 0 && r->skip >= len) {
        r->skip -= len;
        return;
    }
    const uint8_t *body;
    size_t blen;
    int in = r->hlen == MC_TNS_HDR ? mc_l7_body_gap(&r->body, len, &body, &blen) : -1;
    if (in >= 0) {
        /* the hole is inside the body: the framing holds, the prefix may not */
        MC_CTR_INC(l7_tns, gap_in_packet);
        if (in & MC_L7_BODY_DONE)
            finish(x, s, dir, body, blen);
        return;
    }
    MC_CTR_INC(l7_tns, gap_resync);
    lose_framing(x, s, dir);
}

static void tns_end(struct mc_l7_ctx *x, void *st)
{
    struct sess *s = ((struct tns_state *)st)->s;
    if (!s)
        return;
    for (int d = 0; d < 2; d++)
        if (!s->rx[d].resync && (s->rx[d].hlen || s->rx[d].skip))
            MC_CTR_INC(l7_tns, truncated_at_end);
    if (s->pend) {
        if (!s->t_resp)
            MC_CTR_INC(l7_tns, no_answer);
        emit(x, s);
    }
}

static const uint16_t tns_ports[] = { 1521, 1522, 2483 };

static void tns_init(struct mc_l7_ctx *x, void *st)
{
    struct tns_state *ts = st;
    ts->s = calloc(1, sizeof(*ts->s));
    if (!ts->s) {
        MC_CTR_INC(l7_tns, alloc_failed);
        return;
    }
    ts->s->mode = MC_TNS_LEN_GUESS;
    /* until a CONNECT says otherwise, the client is the side not on a listener port */
    const struct mc_flow *f = mc_l7_flow(x);
    int srv0 = 0, srv1 = 0;
    for (size_t i = 0; f && i < sizeof(tns_ports) / sizeof(tns_ports[0]); i++) {
        srv0 |= f->key.port[0] == tns_ports[i];
        srv1 |= f->key.port[1] == tns_ports[i];
    }
    ts->s->cli = srv0 && !srv1 ? 1 : 0;
}

static void tns_release(void *st)
{
    struct tns_state *ts = st;
    if (!ts->s)
        return;
    mc_l7_buf_free(&ts->s->rx[0].body.buf);
    mc_l7_buf_free(&ts->s->rx[1].body.buf);
    free(ts->s->text);
    free(ts->s->rec.cd);
    free(ts->s->rec.sql);
    free(ts->s);
    ts->s = NULL;
}

/* ---- flow record elements -------------------------------------------------- */

static const struct rec *rec_of(const struct mc_ie_env *env)
{
    const struct tns_state *ts = mc_l7_state_of(env->f, &mc_l7_tns);
    return ts && ts->s ? &ts->s->rec : NULL;
}

static void str_val(struct mc_ie_val *v, const char *s, size_t n)
{
    v->str = s;
    v->str_len = n;
}

static void get_service(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->desc.service : "", r ? strlen(r->desc.service) : 0);
}

static void get_program(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->desc.program : "", r ? strlen(r->desc.program) : 0);
}

static void get_os_user(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->desc.user : "", r ? strlen(r->desc.user) : 0);
}

static void get_client_host(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->desc.host : "", r ? strlen(r->desc.host) : 0);
}

static void get_connect_data(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r && r->cd ? r->cd : "", r ? r->cd_len : 0);
}

static void get_result(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r ? r->result : "", r ? strlen(r->result) : 0);
}

static void get_sql(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    str_val(v, r && r->sql ? r->sql : "", r ? r->sql_len : 0);
}

static void get_err_code(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    v->u = r ? r->err_code : 0;
}

static void get_resp_ms(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec *r = rec_of(env);
    v->u = r ? r->resp_ms : 0;
}

#define S MC_IE_T_STRING
#define U MC_IE_T_UNSIGNED
#define V MC_IE_VARLEN
#define E MC_PEN_MC
#define NOV9 MC_IE_F_NOV9
static const struct mc_ie tns_ies[] = {
    { "oracleServiceName", 170, E, V, 0, S, NOV9, NULL, get_service,
      "Oracle service: the connect descriptor's SERVICE_NAME, else its SID", MC_TNS_NAME_MAX },
    { "oracleProgram", 171, E, V, 0, S, NOV9, NULL, get_program, "Oracle client program (CID PROGRAM)",
      MC_TNS_NAME_MAX },
    { "oracleOsUser", 172, E, V, 0, S, NOV9, NULL, get_os_user, "Oracle client's operating-system user (CID USER)",
      MC_TNS_NAME_MAX },
    { "oracleClientHost", 173, E, V, 0, S, NOV9, NULL, get_client_host, "Oracle client host name (CID HOST)",
      MC_TNS_NAME_MAX },
    { "oracleConnectData", 174, E, V, 0, S, NOV9, NULL, get_connect_data,
      "Oracle TNS connect descriptor; record: first 511 bytes", REC_TEXT_MAX },
    { "oracleResult", 175, E, V, 0, S, NOV9, NULL, get_result,
      "Oracle listener's answer to a CONNECT: accept, refuse, redirect, resend", 11 },
    { "oracleSql", 176, E, V, 0, S, NOV9, NULL, get_sql,
      "SQL text found in an Oracle TTC request (heuristic); record: first 511 bytes", REC_TEXT_MAX },
    { "oracleErrorCode", 177, E, 4, 0, U, NOV9, NULL, get_err_code,
      "Oracle error: REFUSE's ERR, or ORA-nnnnn in a statement's answer; 0 none", 0 },
    { "oracleResponseTimeMs", 178, E, 4, 0, U, NOV9, NULL, get_resp_ms,
      "ms from an Oracle CONNECT or statement to its answer", 0 },
};
#undef S
#undef U
#undef V
#undef E
#undef NOV9

static const char *const tns_ndpi[] = { "Oracle", NULL };

const struct mc_l7_analyzer mc_l7_tns = {
    .name = "tns",
    .l4 = MC_L7_TCP,
    .ports = { 1521, 1522, 2483 },
    .ndpi = tns_ndpi,
    .detect = mc_l7_tns_detect,
    .state_size = sizeof(struct tns_state),
    .init = tns_init,
    .data = tns_data,
    .gap = tns_gap,
    .end = tns_end,
    .release = tns_release,
    .fields = tns_ies,
    .n_fields = sizeof(tns_ies) / sizeof(tns_ies[0]),
};
