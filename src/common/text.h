/* text.h - small text helpers for hot paths where printf costs too much. */
#ifndef MC_COMMON_TEXT_H
#define MC_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Writes v in decimal at p (at most 20 characters, no terminator); returns the length. */
static inline size_t mc_u64_text(uint64_t v, char *p)
{
    char t[20];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

#endif
