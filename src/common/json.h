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

#endif /* MC_COMMON_JSON_H */
