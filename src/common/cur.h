/*
 * cur.h - the bounds-checked cursor: the only way packet bytes are read.
 *
 * A cursor is a window [p, p+n) over borrowed bytes plus a sticky error
 * flag.  Every getter assembles its value byte by byte (alignment- and
 * endian-safe, like tcpdump's EXTRACT_ macros); on short input it returns 0,
 * sets err and leaves the window empty, so every later read fails too and a
 * decoder may read a whole header before checking mc_cur_ok() once.
 * Lengths are compared as remaining sizes, never as pointers past the end.
 */
#ifndef MC_COMMON_CUR_H
#define MC_COMMON_CUR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mc_cur {
    const uint8_t *p; /* borrowed: valid while the packet is */
    size_t n;         /* bytes left */
    int err;          /* sticky: set by the first short read */
};

static inline struct mc_cur mc_cur_make(const uint8_t *p, size_t n)
{
    struct mc_cur c = { p, n, 0 };
    return c;
}

static inline int mc_cur_ok(const struct mc_cur *c) { return !c->err; }
static inline size_t mc_cur_left(const struct mc_cur *c) { return c->err ? 0 : c->n; }
/* Borrowed pointer to the next unread byte (valid only for mc_cur_left bytes). */
static inline const uint8_t *mc_cur_ptr(const struct mc_cur *c) { return c->p; }

static inline void mc_cur_fail(struct mc_cur *c)
{
    c->err = 1;
    c->n = 0;
}

/* Returns 1 when n more bytes are available, else fails the cursor. */
static inline int mc_cur_need(struct mc_cur *c, size_t n)
{
    if (c->err || c->n < n) {
        mc_cur_fail(c);
        return 0;
    }
    return 1;
}

static inline uint8_t mc_cur_u8(struct mc_cur *c)
{
    if (!mc_cur_need(c, 1))
        return 0;
    uint8_t v = c->p[0];
    c->p += 1;
    c->n -= 1;
    return v;
}

static inline uint16_t mc_cur_be16(struct mc_cur *c)
{
    if (!mc_cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->n -= 2;
    return v;
}

static inline uint16_t mc_cur_le16(struct mc_cur *c)
{
    if (!mc_cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->p[1] << 8 | c->p[0]);
    c->p += 2;
    c->n -= 2;
    return v;
}

static inline uint32_t mc_cur_be24(struct mc_cur *c)
{
    if (!mc_cur_need(c, 3))
        return 0;
    uint32_t v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2];
    c->p += 3;
    c->n -= 3;
    return v;
}

static inline uint32_t mc_cur_be32(struct mc_cur *c)
{
    if (!mc_cur_need(c, 4))
        return 0;
    uint32_t v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4;
    c->n -= 4;
    return v;
}

static inline uint32_t mc_cur_le32(struct mc_cur *c)
{
    if (!mc_cur_need(c, 4))
        return 0;
    uint32_t v = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 | c->p[0];
    c->p += 4;
    c->n -= 4;
    return v;
}

static inline uint64_t mc_cur_be64(struct mc_cur *c)
{
    uint64_t hi = mc_cur_be32(c);
    uint64_t lo = mc_cur_be32(c);
    return c->err ? 0 : (hi << 32 | lo);
}

/* Copies n bytes into dst (OUT); on short input dst is zeroed. */
static inline void mc_cur_bytes(struct mc_cur *c, void *dst, size_t n)
{
    if (!mc_cur_need(c, n)) {
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, c->p, n);
    c->p += n;
    c->n -= n;
}

static inline void mc_cur_skip(struct mc_cur *c, size_t n)
{
    if (!mc_cur_need(c, n))
        return;
    c->p += n;
    c->n -= n;
}

/*
 * Returns a child cursor over the next n bytes and advances the parent past
 * them.  Used for declared lengths (IP total length, UDP length, TLV length)
 * so an inner parser can never read the outer padding or trailer.
 */
static inline struct mc_cur mc_cur_sub(struct mc_cur *c, size_t n)
{
    struct mc_cur child = { c->p, 0, 0 };
    if (!mc_cur_need(c, n)) {
        child.err = 1;
        return child;
    }
    child.n = n;
    c->p += n;
    c->n -= n;
    return child;
}

/* Cuts the window to at most n bytes (a declared length shorter than the capture). */
static inline void mc_cur_limit(struct mc_cur *c, size_t n)
{
    if (!c->err && c->n > n)
        c->n = n;
}

/* Reads without consuming: the byte at offset off, or 0 and no error when absent. */
static inline uint8_t mc_cur_peek8(const struct mc_cur *c, size_t off)
{
    return (!c->err && off < c->n) ? c->p[off] : 0;
}

#endif /* MC_COMMON_CUR_H */
