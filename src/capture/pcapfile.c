/*
 * pcapfile.c - zero-copy classic pcap reader (see pcapfile.h).
 *
 * Format (https://www.tcpdump.org/manpages/pcap-savefile.5.html, and
 * draft-ietf-opsawg-pcap):
 *
 *     file header (24 octets)                 record header (16 octets)
 *     +--------------------------------+      +------------------------+
 *     | magic 0xa1b2c3d4 / 0xa1b23c4d  |      | ts seconds             |
 *     | version 2.4                    |      | ts micro/nanoseconds   |
 *     | reserved (8)                   |      | captured length        |
 *     | snaplen                        |      | original length        |
 *     | FCS bits + link type           |      +------------------------+
 *     +--------------------------------+      | captured length octets |
 *
 * "Captured Packet Length: the number of octets captured from the packet
 * (i.e. the length of the Packet Data field).  [It] MUST NOT be greater
 * than SnapLen."  A record whose captured length runs past the end of the
 * file ends the read with an error, as in libpcap ("truncated dump file"),
 * and so does one above 256 KiB ("invalid packet capture length"), as in
 * libpcap and tshark: that length is the only way to the next record, and a
 * value that large says the framing is lost.  One above the file's SnapLen
 * but within 256 KiB still frames the file: it is counted and handed over
 * cut to SnapLen, as libpcap does (tshark reads it whole; dropping it would
 * lose a packet both count).  A SnapLen of 0 or above 256 KiB means 256 KiB,
 * as in libpcap.
 */
#include "capture/pcapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>

#include "capture/capture.h"
#include "common/cur.h"

#define WINDOW (2u << 20)        /* pages are prefaulted and released by this much */
#define PREFETCH_AHEAD 4096      /* bytes of the mapping kept loading ahead of the reader */

static uint32_t rd32(struct mc_cur *c, int swapped)
{
    return swapped ? mc_cur_le32(c) : mc_cur_be32(c);
}

/* Keeps the resident part of the mapping to a window around pos: MC_PCAPFILE_KEPT behind it, WINDOW ahead. */
static void slide(struct mc_pcapfile *f)
{
    if (f->pos >= f->populated) {
        size_t len = f->size - f->populated < WINDOW ? f->size - f->populated : WINDOW;
#ifdef MADV_POPULATE_READ
        /* one call maps a window's pages instead of a fault per 64 KiB */
        madvise((void *)(f->base + f->populated), len, MADV_POPULATE_READ);
#endif
        f->populated += len;
    }
    if (f->pos >= f->dropped + MC_PCAPFILE_KEPT + WINDOW) {
        size_t upto = (f->pos - MC_PCAPFILE_KEPT) & ~(size_t)(sysconf(_SC_PAGESIZE) - 1);
        madvise((void *)(f->base + f->dropped), upto - f->dropped, MADV_DONTNEED);
        f->dropped = upto;
    }
}

/*
 * pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks
 *
 *     +---------------+---------------+------------------+---------------+
 *     | type (32)     | total length  | body ...         | total length  |
 *     +---------------+---------------+------------------+---------------+
 *
 * "Block Total Length: total size of this block, in octets" (a multiple of
 * 4, at least 12).  The Section Header Block's byte-order magic sets the
 * byte order of its section; Interface Description Blocks give each
 * interface's link type, SnapLen and timestamp resolution; Enhanced, Simple
 * and (obsolete) Packet Blocks carry packets; every other block is skipped.
 * A section may describe any number of interfaces (an Interface ID is 32
 * bits): the table grows up to MC_PCAPNG_MAX_IFS, and packets on interfaces
 * past it are counted and skipped.  A packet longer than its interface's
 * SnapLen is counted and cut to it (as libpcap does); since every block
 * carries its length, one above 256 KiB is counted and skipped (libpcap and
 * tshark stop there).  An error names the offset where the bad block starts.
 */
#define NG_SHB 0x0a0d0d0au
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_MAX_OPTIONS 64

static void open_ng(struct mc_pcapfile *f, const void *base, size_t size)
{
    f->base = base;
    f->size = size;
    f->pos = 0;
    f->ng = 1;
    f->linktype = -1;
    madvise((void *)base, size, MADV_SEQUENTIAL);
}

static uint16_t rd16(struct mc_cur *c, int swapped)
{
    return swapped ? mc_cur_le16(c) : mc_cur_be16(c);
}

/* The link type of the first interface, read ahead without consuming (or counting) anything; -1: none. */
static int ng_first_linktype(const struct mc_pcapfile *f)
{
    int swapped = 0;
    for (size_t pos = 0; pos < f->size;) {
        struct mc_cur c = mc_cur_make(f->base + pos, f->size - pos);
        uint32_t type = mc_cur_be32(&c);
        if (type == NG_SHB) {
            struct mc_cur peek = c;
            mc_cur_skip(&peek, 4);
            uint32_t bom = mc_cur_be32(&peek);
            if (bom != 0x1a2b3c4d && bom != 0x4d3c2b1a)
                return -1;
            swapped = bom == 0x4d3c2b1a;
        } else if (swapped) {
            type = __builtin_bswap32(type);
        }
        uint32_t len = rd32(&c, swapped);
        if (!mc_cur_ok(&c) || len < 12 || len % 4 || len - 8 > mc_cur_left(&c))
            return -1;
        if (type == NG_IDB) {
            uint16_t linktype = rd16(&c, swapped);
            return mc_cur_ok(&c) ? linktype : -1;
        }
        pos += len;
    }
    return -1;
}

/* Reads an IDB body: link type, snaplen, if_tsresol.  0, or -1 when the table cannot grow. */
static int ng_idb(struct mc_pcapfile *f, struct mc_cur *b)
{
    struct mc_pcapng_if ifc = { rd16(b, f->swapped), 0, 1000000 };
    mc_cur_skip(b, 2); /* reserved */
    ifc.snaplen = rd32(b, f->swapped);
    for (int i = 0; i < NG_MAX_OPTIONS && mc_cur_left(b) >= 4; i++) {
        uint16_t code = rd16(b, f->swapped), len = rd16(b, f->swapped);
        if (code == 0)
            break;
        struct mc_cur v = mc_cur_sub(b, len);
        mc_cur_skip(b, (4 - len % 4) % 4);
        if (code == 9 && len >= 1) { /* if_tsresol */
            uint8_t r = mc_cur_u8(&v);
            uint64_t units = 1;
            for (unsigned k = 0; k < (r & 0x7f) && k < 63; k++)
                units *= (r & 0x80) ? 2 : 10;
            if ((r & 0x7f) <= ((r & 0x80) ? 63 : 19)) /* 2^63, 10^19: the largest in 64 bits */
                ifc.units = units ? units : 1;
        }
    }
    if (f->linktype < 0)
        f->linktype = ifc.linktype;
    if (f->n_ifs >= MC_PCAPNG_MAX_IFS) {
        f->n_ifs++; /* described, not kept: its packets are skipped */
        return 0;
    }
    if (f->n_ifs == f->cap_ifs) {
        uint32_t cap = f->cap_ifs ? f->cap_ifs * 2 : 8;
        struct mc_pcapng_if *grown = realloc(f->ifs, cap * sizeof(*grown));
        if (!grown)
            return -1;
        f->ifs = grown;
        f->cap_ifs = cap;
    }
    f->ifs[f->n_ifs++] = ifc;
    return 0;
}

static uint64_t ng_ts_us(const struct mc_pcapng_if *ifc, uint64_t ts)
{
    if (ifc->units == 1000000)
        return ts;
    unsigned __int128 us = (unsigned __int128)ts * 1000000u / ifc->units;
    return (uint64_t)us;
}

static int ng_next(struct mc_pcapfile *f, struct mc_pcapfile_rec *rec, char *err, size_t errlen)
{
    size_t start;
    for (;;) {
        start = f->pos;
        if (start >= f->size)
            return 0;
        slide(f);
        struct mc_cur c = mc_cur_make(f->base + f->pos, f->size - f->pos);
        uint32_t type = mc_cur_be32(&c); /* SHB's type is a palindrome: byte order does not matter */
        if (type == NG_SHB) {
            struct mc_cur peek = c;
            mc_cur_skip(&peek, 4);
            uint32_t bom = mc_cur_be32(&peek);
            if (bom == 0x1a2b3c4d)
                f->swapped = 0;
            else if (bom == 0x4d3c2b1a)
                f->swapped = 1;
            else
                goto corrupt;
            f->n_ifs = 0; /* interfaces are per section */
        } else if (f->swapped) {
            type = __builtin_bswap32(type);
        }
        uint32_t len = rd32(&c, f->swapped);
        if (!mc_cur_ok(&c) || len < 12 || len % 4 || len - 8 > mc_cur_left(&c))
            goto corrupt;
        struct mc_cur b = mc_cur_sub(&c, len - 12); /* body, without the trailing length */
        f->pos += len;
        if (type == NG_IDB) {
            if (ng_idb(f, &b) != 0) {
                snprintf(err, errlen, "pcapng block at offset %zu: out of memory for %u interfaces", start,
                         f->n_ifs + 1);
                f->pos = f->size;
                return -1;
            }
            continue;
        }
        uint32_t ifid = 0, caplen, wirelen;
        uint64_t ts = 0;
        if (type == NG_EPB || type == NG_PB) {
            if (type == NG_EPB) {
                ifid = rd32(&b, f->swapped);
            } else {
                ifid = rd16(&b, f->swapped);
                mc_cur_skip(&b, 2); /* drops count */
            }
            uint64_t hi = rd32(&b, f->swapped);
            ts = hi << 32 | rd32(&b, f->swapped);
            caplen = rd32(&b, f->swapped);
            wirelen = rd32(&b, f->swapped);
        } else if (type == NG_SPB) {
            /* "the minimum value among the Original Packet Length and the SnapLen" of interface 0 */
            wirelen = rd32(&b, f->swapped);
            caplen = (uint32_t)(mc_cur_left(&b) < wirelen ? mc_cur_left(&b) : wirelen);
            if (f->n_ifs && f->ifs[0].snaplen && caplen > f->ifs[0].snaplen)
                caplen = f->ifs[0].snaplen; /* the rest is padding */
        } else {
            continue; /* statistics, name resolution, custom blocks... */
        }
        if (!mc_cur_ok(&b) || caplen > mc_cur_left(&b) || ifid >= f->n_ifs)
            goto corrupt;
        if (ifid >= MC_PCAPNG_MAX_IFS) {
            MC_CTR_INC(capture, pcapng_if_over_cap);
            continue;
        }
        const struct mc_pcapng_if *ifc = &f->ifs[ifid];
        if (caplen > MC_PCAP_MAX_CAPLEN) {
            MC_CTR_INC(capture, over_max_caplen);
            continue;
        }
        if (ifc->snaplen && caplen > ifc->snaplen) {
            MC_CTR_INC(capture, over_snaplen);
            caplen = ifc->snaplen;
        }
        rec->ts_us = type == NG_SPB ? 0 : ng_ts_us(ifc, ts);
        rec->caplen = caplen;
        rec->wirelen = wirelen;
        rec->linktype = ifc->linktype;
        rec->data = mc_cur_ptr(&b);
        return 1;
    }
corrupt:
    snprintf(err, errlen, "truncated or corrupt pcapng block at offset %zu", start);
    f->pos = f->size;
    return -1;
}

int mc_pcapfile_open(struct mc_pcapfile *f, const char *path, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24) {
        close(fd);
        return 0; /* not a regular pcap file: let libpcap decide and report */
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return 0;
    struct mc_cur c = mc_cur_make(base, (size_t)st.st_size);
    uint32_t magic = mc_cur_be32(&c);
    int swapped, nsec;
    switch (magic) {
    case 0xa1b2c3d4: swapped = 0, nsec = 0; break;
    case 0xd4c3b2a1: swapped = 1, nsec = 0; break;
    case 0xa1b23c4d: swapped = 0, nsec = 1; break;
    case 0x4d3cb2a1: swapped = 1, nsec = 1; break;
    case 0x0a0d0d0a:
        open_ng(f, base, (size_t)st.st_size);
        f->linktype = ng_first_linktype(f);
        return 1;
    default:
        munmap(base, (size_t)st.st_size);
        return 0; /* not a capture libpcap or we know: libpcap reports it */
    }
    uint16_t major = swapped ? mc_cur_le16(&c) : mc_cur_be16(&c);
    mc_cur_skip(&c, 2 + 8); /* minor, reserved */
    uint32_t snaplen = rd32(&c, swapped);
    uint32_t link = rd32(&c, swapped);
    if (major != 2) {
        munmap(base, (size_t)st.st_size);
        return 0;
    }
    f->base = base;
    f->size = (size_t)st.st_size;
    f->pos = 24;
    f->swapped = swapped;
    f->nsec = nsec;
    f->snaplen = snaplen;
    f->linktype = (int)(link & 0x03ffffff); /* upper bits: FCS length */
    madvise(base, f->size, MADV_SEQUENTIAL);
    return 1;
}

int mc_pcapfile_next(struct mc_pcapfile *f, struct mc_pcapfile_rec *rec, char *err, size_t errlen)
{
    if (f->ng)
        return ng_next(f, rec, err, errlen);
    if (f->pos >= f->size)
        return 0;
    slide(f);
    struct mc_cur c = mc_cur_make(f->base + f->pos, f->size - f->pos);
    uint32_t sec = rd32(&c, f->swapped);
    uint32_t frac = rd32(&c, f->swapped);
    uint32_t caplen = rd32(&c, f->swapped);
    uint32_t wirelen = rd32(&c, f->swapped);
    if (mc_cur_ok(&c) && caplen > MC_PCAP_MAX_CAPLEN) {
        MC_CTR_INC(capture, over_max_caplen);
        snprintf(err, errlen, "corrupt capture file: the record at offset %zu has a captured length of %u, "
                 "more than %u", f->pos, caplen, MC_PCAP_MAX_CAPLEN);
        f->pos = f->size;
        return -1;
    }
    if (!mc_cur_ok(&c) || caplen > mc_cur_left(&c)) {
        snprintf(err, errlen, "truncated or corrupt capture file at offset %zu", f->pos);
        f->pos = f->size;
        return -1;
    }
    rec->ts_us = (uint64_t)sec * 1000000u + (f->nsec ? frac / 1000u : frac);
    rec->caplen = caplen;
    if (f->snaplen && f->snaplen < caplen) { /* a SnapLen above 256 KiB cannot be below caplen */
        MC_CTR_INC(capture, over_snaplen);
        rec->caplen = f->snaplen;
    }
    rec->wirelen = wirelen;
    rec->data = mc_cur_ptr(&c);
    rec->linktype = f->linktype;
    f->pos += 16 + (size_t)caplen;
    /* Records are read once, in order: keep the cache lines PREFETCH_AHEAD
     * bytes ahead loading while this packet is decoded and metered, so the
     * next headers are not a memory stall each. */
    size_t until = f->pos + PREFETCH_AHEAD < f->size ? f->pos + PREFETCH_AHEAD : f->size;
    if (f->prefetched < f->pos)
        f->prefetched = f->pos;
    for (; f->prefetched < until; f->prefetched += 64)
        __builtin_prefetch(f->base + f->prefetched);
    return 1;
}

void mc_pcapfile_close(struct mc_pcapfile *f)
{
    if (f->base)
        munmap((void *)f->base, f->size);
    free(f->ifs);
    memset(f, 0, sizeof(*f));
}
