/*
 * gtp_build.h - what the GTP-C tests share: a byte builder for hand-made
 * GTPv1-C and GTPv2-C messages (headers with their lengths patched at the
 * end, TV/TLV and type/length/instance IEs).
 */
#ifndef GTP_BUILD_H
#define GTP_BUILD_H

#include <stdint.h>
#include <string.h>

struct gb {
    uint8_t b[4096];
    size_t n;
};

static inline void gb8(struct gb *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static inline void gb16(struct gb *m, unsigned v)
{
    gb8(m, v >> 8);
    gb8(m, v & 0xff);
}
static inline void gb24(struct gb *m, uint32_t v)
{
    gb8(m, v >> 16);
    gb16(m, v & 0xffff);
}
static inline void gb32(struct gb *m, uint32_t v)
{
    gb16(m, v >> 16);
    gb16(m, v & 0xffff);
}
static inline void gbb(struct gb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

/* v1 header with the S flag (flags 0x32) or none (0x30); the length is patched by gb_v1_done */
static inline void gb_v1(struct gb *m, unsigned flags, unsigned type, uint32_t teid, unsigned seq)
{
    m->n = 0;
    gb8(m, flags);
    gb8(m, type);
    gb16(m, 0);
    gb32(m, teid);
    if (flags & 0x07) {
        gb16(m, seq);
        gb8(m, 0);
        gb8(m, 0);
    }
}
static inline void gb_v1_done(struct gb *m)
{
    m->b[2] = (uint8_t)((m->n - 8) >> 8);
    m->b[3] = (uint8_t)(m->n - 8);
}
static inline void gb_v1_tlv(struct gb *m, unsigned t, const void *v, size_t n)
{
    gb8(m, t);
    gb16(m, (unsigned)n);
    gbb(m, v, n);
}

/* v2 header with a TEID (T flag) or without; the length is patched by gb_v2_done */
static inline void gb_v2(struct gb *m, int with_teid, unsigned type, uint32_t teid, uint32_t seq)
{
    m->n = 0;
    gb8(m, with_teid ? 0x48 : 0x40);
    gb8(m, type);
    gb16(m, 0);
    if (with_teid)
        gb32(m, teid);
    gb24(m, seq);
    gb8(m, 0);
}
static inline void gb_v2_done_at(struct gb *m, size_t start)
{
    m->b[start + 2] = (uint8_t)((m->n - start - 4) >> 8);
    m->b[start + 3] = (uint8_t)(m->n - start - 4);
}
static inline void gb_v2_done(struct gb *m) { gb_v2_done_at(m, 0); }
static inline void gb_ie(struct gb *m, unsigned t, const void *v, size_t n)
{
    gb8(m, t);
    gb16(m, (unsigned)n);
    gb8(m, 0);
    gbb(m, v, n);
}
/* opens a grouped IE; gb_group_end patches its length */
static inline size_t gb_group(struct gb *m, unsigned t)
{
    size_t at = m->n;
    gb8(m, t);
    gb16(m, 0);
    gb8(m, 0);
    return at;
}
static inline void gb_group_end(struct gb *m, size_t at)
{
    size_t len = m->n - at - 4;
    m->b[at + 1] = (uint8_t)(len >> 8);
    m->b[at + 2] = (uint8_t)len;
}
static inline void gb_fteid(struct gb *m, unsigned iface, uint32_t teid, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    uint8_t v[9] = { (uint8_t)(0x80 | iface), (uint8_t)(teid >> 24), (uint8_t)(teid >> 16), (uint8_t)(teid >> 8),
                     (uint8_t)teid, a, b, c, d };
    gb_ie(m, 87, v, sizeof(v));
}

/* IMSI 001010123456789 as TBCD */
static const uint8_t GB_IMSI[8] = { 0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9 };

#endif
