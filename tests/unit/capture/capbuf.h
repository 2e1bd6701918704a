/*
 * capbuf.h - a growable byte buffer for building capture files in tests,
 * with fields in either byte order (shared by the capture tests).
 * Include after <cmocka.h>.
 */
#ifndef MC_TEST_CAPBUF_H
#define MC_TEST_CAPBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    uint8_t *p;
    size_t n, cap;
    int le; /* multi-octet fields little-endian */
};

static inline void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static inline void put16(struct buf *b, uint16_t v)
{
    uint8_t o[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    if (b->le)
        o[0] = (uint8_t)v, o[1] = (uint8_t)(v >> 8);
    put(b, o, 2);
}

static inline void put32(struct buf *b, uint32_t v)
{
    uint8_t o[4];
    for (int i = 0; i < 4; i++)
        o[b->le ? i : 3 - i] = (uint8_t)(v >> (8 * i));
    put(b, o, 4);
}

static inline void pad4(struct buf *b)
{
    while (b->n % 4)
        put8(b, 0);
}

#endif
