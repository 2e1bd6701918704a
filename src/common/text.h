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

/* s appended at out[n] (out holds cap bytes, n < cap), cut to fit and NUL-terminated; the new length. */
static inline size_t mc_text_cat(char *out, size_t cap, size_t n, const char *s)
{
    size_t k = strnlen(s, cap - 1 - n);
    memcpy(out + n, s, k);
    out[n + k] = '\0';
    return n + k;
}

/* a b c into out (cap bytes, cap > 0), cut to fit and NUL-terminated; the length (keys: prefix, kind, name). */
static inline size_t mc_text_join(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    return mc_text_cat(out, cap, mc_text_cat(out, cap, mc_text_cat(out, cap, 0, a), b), c);
}

/*
 * Byte tests on eight bytes read as one word (MC_WORD_LE: where the machine
 * is little-endian, so the lowest byte is the first): each sets the top bit
 * of the bytes where it holds.  Through its borrow a test may also set it in
 * bytes above one where it truly holds, never below, so the lowest bit set
 * marks the first byte that holds.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MC_WORD_LE 1
#else
#define MC_WORD_LE 0
#endif
#define MC_WORD_ONES 0x0101010101010101ull
#define MC_WORD_HIGHS 0x8080808080808080ull

static inline uint64_t mc_word_load(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The bytes of w equal to c. */
static inline uint64_t mc_word_eq(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (MC_WORD_ONES * c);
    return (x - MC_WORD_ONES) & ~x & MC_WORD_HIGHS;
}

/* The bytes of w below c (c <= 0x80: a byte with its top bit set is not below). */
static inline uint64_t mc_word_below(uint64_t w, unsigned char c)
{
    return (w - MC_WORD_ONES * c) & ~w & MC_WORD_HIGHS;
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

/* v in decimal into out (at least 21 bytes), NUL-terminated; the length. */
static inline size_t mc_u64_str(uint64_t v, char *out)
{
    size_t n = mc_u64_text(v, out);
    out[n] = '\0';
    return n;
}

#endif
