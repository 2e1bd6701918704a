/* text.h - small text helpers for hot paths where printf costs too much. */
#ifndef MC_COMMON_TEXT_H
#define MC_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The NUL-terminated src into dst (cap bytes, cap > 0), cut to fit. */
static inline void mc_text_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Writes v in decimal at p (at most 20 characters, no terminator); returns the length. */
static inline size_t mc_u64_text(uint64_t v, char *p)
{
    /* two digits per division: half the divisions of the digit-by-digit loop */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    char t[20];
    size_t n = 20;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100);
        v /= 100;
        t[--n] = pairs[2 * d + 1];
        t[--n] = pairs[2 * d];
    }
    if (v >= 10) {
        t[--n] = pairs[2 * v + 1];
        t[--n] = pairs[2 * v];
    } else {
        t[--n] = (char)('0' + v);
    }
    size_t len = 20 - n;
    for (size_t i = 0; i < len; i++)
        p[i] = t[n + i];
    return len;
}

#endif
