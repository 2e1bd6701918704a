/* json.c - JSON string escaping (see json.h). */
#include "common/json.h"
#include "common/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    uint32_t cp;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (k > n)
        return 0;
    cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp > 0x10ffff)
        return 0;
    return k;
}

/* Bytes that go out as they are: printable ASCII other than '"' and '\\'. */
static int plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

/*
 * The end of the run of plain bytes at s[i] (at most at n): eight bytes at a
 * time where the machine is little-endian, the last eight overlapping the
 * word before, since a transaction log line is mostly plain strings of a
 * few words (the tests: common/text.h's mc_word_*).
 */
#if MC_WORD_LE
/* The bytes of w that are not plain (below 0x20, '"', '\\', or with the top bit set), flagged as mc_word_* do. */
static inline uint64_t not_plain(uint64_t w)
{
    return mc_word_below(w, 0x20) | mc_word_eq(w, '"') | mc_word_eq(w, '\\') | (w & MC_WORD_HIGHS);
}
#endif

static size_t plain_end(const unsigned char *s, size_t i, size_t n)
{
#if MC_WORD_LE
    if (n - i >= 8) {
        for (;;) {
            /* the last word overlaps the one before: its bytes below i are plain (no flag comes from them) */
            size_t at = n - i >= 8 ? i : n - 8;
            uint64_t w = mc_word_load(s + at);
            uint64_t hit = not_plain(w) & ~0ull << (8 * (i - at));
            if (hit)
                return at + (size_t)(__builtin_ctzll(hit) >> 3);
            if (at + 8 == n)
                return n;
            i = at + 8;
        }
    }
#endif
    while (i < n && plain(s[i]))
        i++;
    return i;
}

size_t mc_json_escape(char *dst, size_t cap, const char *str, size_t n, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0;
#if MC_WORD_LE
    /* The usual string: plain from its start, with room for all of it.  Copied
     * eight bytes as they are tested (o == i while every byte is plain), the
     * last eight overlapping what is copied already; the loop below takes over
     * at the first word that is not all plain. */
    if (n >= 8 && cap >= n + MC_JSON_ESCAPE_MAX) {
        for (;;) {
            size_t at = n - i >= 8 ? i : n - 8;
            uint64_t w = mc_word_load(s + at);
            if (not_plain(w))
                break;
            memcpy(dst + at, &w, 8);
            i = o = at + 8;
            if (i == n) {
                *used = n;
                return n;
            }
        }
    }
#endif
    while (i < n && o + MC_JSON_ESCAPE_MAX <= cap) {
        unsigned char c = s[i];
        if (plain(c)) {
            /* a run of plain bytes at once: the common case is a whole string */
            size_t j = plain_end(s, i + 1, n), room = cap - o;
            if (j - i > room)
                j = i + room;
            memcpy(dst + o, s + i, j - i);
            o += j - i;
            i = j;
        } else if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
            i++;
        } else if (c < 0x20) {
            memcpy(dst + o, "\\u00", 4);
            dst[o + 4] = hex[c >> 4];
            dst[o + 5] = hex[c & 15];
            o += 6;
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k) {
                memcpy(dst + o, s + i, k);
                o += k;
                i += k;
            } else {
                memcpy(dst + o, "\\ufffd", 6);
                o += 6;
                i++;
            }
        }
    }
    *used = i;
    return o;
}

void mc_json_string(FILE *out, const char *str, size_t n)
{
    char buf[1024];
    putc_unlocked('"', out);
    while (n) {
        size_t used, len = mc_json_escape(buf, sizeof(buf), str, n, &used);
        fwrite_unlocked(buf, 1, len, out);
        str += used;
        n -= used;
    }
    putc_unlocked('"', out);
}

/* ---- a JSON text in a fixed buffer ---- */

void mc_jbuf_put(struct mc_jbuf *b, const char *s, size_t n)
{
    if (b->full || n > b->cap - b->n) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void mc_jbuf_str(struct mc_jbuf *b, const char *s, size_t n)
{
    mc_jbuf_lit(b, "\"");
    while (n && !b->full) {
        size_t used, len = mc_json_escape(b->p + b->n, b->cap - b->n, s, n, &used);
        if (!used) {
            b->full = 1; /* no room for the next unit */
            return;
        }
        b->n += len;
        s += used;
        n -= used;
    }
    mc_jbuf_lit(b, "\"");
}

void mc_jbuf_cstr(struct mc_jbuf *b, const char *s) { mc_jbuf_str(b, s, strlen(s)); }

void mc_jbuf_u64(struct mc_jbuf *b, uint64_t v)
{
    char d[20];
    mc_jbuf_put(b, d, mc_u64_text(v, d));
}

void mc_jbuf_fmt(struct mc_jbuf *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= b->cap - b->n)
        b->full = 1;
    else
        b->n += (size_t)k;
}

/* ---- validation: one JSON value, iteratively (an explicit stack: no recursion on hostile depth) ---- */

struct jv {
    const unsigned char *s;
    size_t n, i;
};

static void jv_ws(struct jv *v)
{
    while (v->i < v->n && (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' || v->s[v->i] == '\r'))
        v->i++;
}

static int jv_lit(struct jv *v, const char *lit)
{
    for (size_t k = 0; lit[k]; k++, v->i++)
        if (v->i >= v->n || v->s[v->i] != (unsigned char)lit[k])
            return -1;
    return 0;
}

static int jv_string(struct jv *v)
{
    if (v->i >= v->n || v->s[v->i] != '"')
        return -1;
    v->i++;
    while (v->i < v->n) {
        unsigned char c = v->s[v->i];
        if (c == '"') {
            v->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++v->i >= v->n)
                return -1;
            c = v->s[v->i];
            if (c == 'u') {
                for (int k = 1; k <= 4; k++) {
                    unsigned char h = v->i + (size_t)k < v->n ? v->s[v->i + (size_t)k] : 0;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                        return -1;
                }
                v->i += 5;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
                       c == 't') {
                v->i++;
            } else {
                return -1;
            }
        } else if (c < 0x80) {
            v->i++;
        } else {
            size_t k = utf8_len(v->s + v->i, v->n - v->i);
            if (!k)
                return -1;
            v->i += k;
        }
    }
    return -1;
}

static int jv_number(struct jv *v)
{
    size_t start = v->i;
    if (v->i < v->n && v->s[v->i] == '-')
        v->i++;
    if (v->i >= v->n || v->s[v->i] < '0' || v->s[v->i] > '9')
        return -1;
    if (v->s[v->i] == '0')
        v->i++;
    else
        while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9')
            v->i++;
    if (v->i < v->n && v->s[v->i] == '.') {
        v->i++;
        if (v->i >= v->n || v->s[v->i] < '0' || v->s[v->i] > '9')
            return -1;
        while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9')
            v->i++;
    }
    if (v->i < v->n && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
        v->i++;
        if (v->i < v->n && (v->s[v->i] == '+' || v->s[v->i] == '-'))
            v->i++;
        if (v->i >= v->n || v->s[v->i] < '0' || v->s[v->i] > '9')
            return -1;
        while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9')
            v->i++;
    }
    return v->i > start ? 0 : -1;
}

int mc_json_valid(const char *text, size_t n, unsigned max_depth)
{
    char stack[64]; /* the open containers: '{' or '[' */
    unsigned depth = 0;
    if (max_depth > sizeof(stack))
        max_depth = sizeof(stack);
    struct jv v = { (const unsigned char *)text, n, 0 };
    for (;;) {
        /* a value */
        jv_ws(&v);
        if (v.i >= v.n)
            return 0;
        unsigned char c = v.s[v.i];
        if (c == '{' || c == '[') {
            if (depth == max_depth)
                return 0;
            stack[depth++] = (char)c;
            v.i++;
            jv_ws(&v);
            if (v.i < v.n && v.s[v.i] == (c == '{' ? '}' : ']')) {
                v.i++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto member;
            continue;
        }
        if ((c == '"' ? jv_string(&v)
             : c == 't' ? jv_lit(&v, "true")
             : c == 'f' ? jv_lit(&v, "false")
             : c == 'n' ? jv_lit(&v, "null")
                        : jv_number(&v)) != 0)
            return 0;
    after_value:
        /* what may follow a value: the end, a separator, or the close of its container */
        for (;;) {
            jv_ws(&v);
            if (depth == 0)
                return v.i == v.n;
            if (v.i >= v.n)
                return 0;
            c = v.s[v.i++];
            if (c == ',')
                break;
            if (c != (stack[depth - 1] == '{' ? '}' : ']'))
                return 0;
            depth--;
        }
        if (stack[depth - 1] == '[')
            continue;
    member: /* a member of an object: "name": value */
        jv_ws(&v);
        if (jv_string(&v) != 0)
            return 0;
        jv_ws(&v);
        if (v.i >= v.n || v.s[v.i++] != ':')
            return 0;
    }
}
