/* json.h - JSON text pieces shared by every JSON writer (export records, the transaction log, events). */
#ifndef MC_COMMON_JSON_H
#define MC_COMMON_JSON_H

#include <stddef.h>
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

#endif /* MC_COMMON_JSON_H */
