/*
 * resp.h - the RESP encoder every writer of the cloud shares: commands are
 * built straight into a caller's buffer (room checked by the caller), with
 * no format string and no per-argument allocation.
 */
#ifndef MC_CLOUD_RESP_H
#define MC_CLOUD_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/text.h"

/* Array header of n elements at p; returns the end. */
static inline char *mc_resp_array(char *p, uint64_t n)
{
    *p++ = '*';
    p += mc_u64_text(n, p);
    *p++ = '\r', *p++ = '\n';
    return p;
}

/* Bulk string s[0..l) at p; returns the end. */
static inline char *mc_resp_bulk(char *p, const char *s, size_t l)
{
    *p++ = '$';
    p += mc_u64_text(l, p);
    *p++ = '\r', *p++ = '\n';
    memcpy(p, s, l);
    p += l;
    *p++ = '\r', *p++ = '\n';
    return p;
}

#endif /* MC_CLOUD_RESP_H */
