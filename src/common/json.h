/* json.h - JSON text pieces shared by every JSON writer (export records, the transaction log, events). */
#ifndef MC_COMMON_JSON_H
#define MC_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Writes s (n bytes, not NUL-terminated) as a JSON string, quotes included:
 * RFC 8259 escapes for '"', '\' and control characters, valid UTF-8 as is,
 * every byte of an invalid sequence as U+FFFD, so every line is valid JSON
 * whatever the wire carried.
 */
void mc_json_string(FILE *out, const char *s, size_t n);

/*
 * The same escaping into a buffer, quotes not included: writes what fits of
 * s into dst (cap bytes; a unit is only written whole, and at most
 * MC_JSON_ESCAPE_MAX bytes long), sets *used to the bytes of s consumed, and
 * returns the bytes written.  Room for 6 * n bytes always takes all of s.
 */
#define MC_JSON_ESCAPE_MAX 6
size_t mc_json_escape(char *dst, size_t cap, const char *s, size_t n, size_t *used);

/*
 * 1 when text (n bytes) is exactly one JSON value (RFC 8259: whitespace
 * around it allowed, strings valid UTF-8), nested at most max_depth (at most
 * 64) deep; else 0.  For text from elsewhere (a cloud event's payload) that
 * is to be written into a JSON line as it is.
 */
int mc_json_valid(const char *text, size_t n, unsigned max_depth);

/*
 * A JSON text built in the caller's fixed buffer (an event's payload): no
 * stdio stream and no allocation (fmemopen cost a malloc'ed stream buffer,
 * and page faults, per event).  A piece that does not fit marks the text
 * full; mc_jbuf_len then says 0 and the text is not to be used.
 */
struct mc_jbuf {
    char *p;
    size_t cap, n;
    int full;
};

static inline void mc_jbuf_init(struct mc_jbuf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->cap = cap;
    b->n = 0;
    b->full = cap == 0;
}

/* n bytes as they are (JSON syntax, keys, text known to need no escaping). */
void mc_jbuf_put(struct mc_jbuf *b, const char *s, size_t n);
#define mc_jbuf_lit(b, lit) mc_jbuf_put((b), "" lit, sizeof(lit) - 1)
/* s (n bytes) as a JSON string, quotes included, escaped like mc_json_string. */
void mc_jbuf_str(struct mc_jbuf *b, const char *s, size_t n);
/* A NUL-terminated s, the same way. */
void mc_jbuf_cstr(struct mc_jbuf *b, const char *s);
void mc_jbuf_u64(struct mc_jbuf *b, uint64_t v);
/* printf-formatted text as it is, for the rare piece (a float). */
void mc_jbuf_fmt(struct mc_jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text's length, or 0 when a piece did not fit. */
static inline size_t mc_jbuf_len(const struct mc_jbuf *b) { return b->full ? 0 : b->n; }

#endif /* MC_COMMON_JSON_H */
