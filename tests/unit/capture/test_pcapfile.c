/*
 * test_pcapfile.c - the mapped pcap/pcapng reader: both byte orders, both
 * timestamp resolutions, FCS bits, pcapng interfaces (any number of them) and
 * sections, corrupt blocks and the offsets their errors name, records longer
 * than the snapshot length (cut) or 256 KiB (skipped, or the end of a
 * classic file), and truncation of a valid file at every offset.
 * Captures are built in memory and written to mkstemp files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture/pcapfile.h"
#include "common/counters.h"

/* ---- building captures ---- */

#include "unit/capture/capbuf.h"

static void set32(struct buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)(b->le ? i : 3 - i)] = (uint8_t)(v >> (8 * i));
}

/* A frame of n octets whose bytes are seed, seed+1, ... */
static void frame(uint8_t *d, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(seed + i);
}

static void classic_hdr(struct buf *b, int le, int nsec, uint32_t snaplen, uint32_t link)
{
    b->le = le;
    put32(b, nsec ? 0xa1b23c4d : 0xa1b2c3d4);
    put16(b, 2);
    put16(b, 4);
    put32(b, 0);
    put32(b, 0);
    put32(b, snaplen);
    put32(b, link);
}

static void classic_rec(struct buf *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
                        uint8_t seed)
{
    uint8_t d[2048];
    assert_true(caplen <= sizeof(d));
    frame(d, caplen, seed);
    put32(b, sec);
    put32(b, frac);
    put32(b, caplen);
    put32(b, wirelen);
    put(b, d, caplen);
}

/* pcapng: begins a block, returns its start for ng_end */
static size_t ng_begin(struct buf *b, uint32_t type)
{
    size_t at = b->n;
    put32(b, type);
    put32(b, 0); /* total length, patched by ng_end */
    return at;
}

static void ng_end(struct buf *b, size_t at)
{
    pad4(b);
    uint32_t len = (uint32_t)(b->n - at + 4);
    put32(b, len);
    set32(b, at + 4, len);
}

static void ng_shb(struct buf *b, int le)
{
    b->le = le;
    size_t at = ng_begin(b, 0x0a0d0d0a);
    put32(b, 0x1a2b3c4d);
    put16(b, 1);
    put16(b, 0);
    put32(b, 0xffffffff); /* section length: unknown */
    put32(b, 0xffffffff);
    ng_end(b, at);
}

/* tsresol < 0: no if_tsresol option */
static void ng_idb(struct buf *b, uint16_t link, uint32_t snaplen, int tsresol)
{
    size_t at = ng_begin(b, 1);
    put16(b, link);
    put16(b, 0);
    put32(b, snaplen);
    put16(b, 2); /* if_name, skipped */
    put16(b, 5);
    put(b, "eth0x", 5);
    pad4(b);
    if (tsresol >= 0) {
        put16(b, 9);
        put16(b, 1);
        put8(b, (uint8_t)tsresol);
        pad4(b);
    }
    put16(b, 0); /* opt_endofopt */
    put16(b, 0);
    ng_end(b, at);
}

static void ng_epb(struct buf *b, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t wirelen, uint8_t seed)
{
    uint8_t d[2048];
    assert_true(caplen <= sizeof(d));
    frame(d, caplen, seed);
    size_t at = ng_begin(b, 6);
    put32(b, ifid);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, caplen);
    put32(b, wirelen);
    put(b, d, caplen);
    ng_end(b, at);
}

static void ng_spb(struct buf *b, uint32_t wirelen, uint32_t caplen, uint8_t seed)
{
    uint8_t d[2048];
    frame(d, caplen, seed);
    size_t at = ng_begin(b, 3);
    put32(b, wirelen);
    put(b, d, caplen);
    ng_end(b, at);
}

static void ng_unknown(struct buf *b, uint32_t type)
{
    size_t at = ng_begin(b, type);
    put32(b, 0xdeadbeef);
    put(b, "junk", 4);
    ng_end(b, at);
}

/* ---- files ---- */

static char tmp_path[64];

static const char *write_tmp(const void *d, size_t n)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/mc_test_pcapfile_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, d, n), (ssize_t)n);
    close(fd);
    return tmp_path;
}

static int teardown(void **state)
{
    (void)state;
    if (tmp_path[0])
        unlink(tmp_path);
    tmp_path[0] = 0;
    return 0;
}

/* Checks one record against what classic_rec / ng_epb wrote. */
static void check_rec(const struct mc_pcapfile_rec *r, uint64_t ts_us, uint32_t caplen, uint32_t wirelen,
                      int linktype, uint8_t seed)
{
    uint8_t d[2048];
    frame(d, caplen, seed);
    assert_int_equal(r->ts_us, ts_us);
    assert_int_equal(r->caplen, caplen);
    assert_int_equal(r->wirelen, wirelen);
    assert_int_equal(r->linktype, linktype);
    assert_memory_equal(r->data, d, caplen);
}

/* ---- classic pcap ---- */

static void test_classic_orders_and_resolutions(void **state)
{
    (void)state;
    static const struct {
        int le, nsec;
    } cases[] = { { 1, 0 }, { 0, 0 }, { 1, 1 }, { 0, 1 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = { 0 };
        classic_hdr(&b, cases[i].le, cases[i].nsec, 65535, 1);
        uint32_t frac1 = cases[i].nsec ? 123456789u : 123456u;
        uint32_t frac2 = cases[i].nsec ? 999u : 0u; /* 999 ns rounds down to 0 us */
        classic_rec(&b, 1700000000u, frac1, 60, 60, 1);
        classic_rec(&b, 1700000001u, frac2, 33, 1514, 2); /* caplen < wirelen; odd length */
        classic_rec(&b, 0, 0, 0, 0, 3);                   /* empty record */
        const char *path = write_tmp(b.p, b.n);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
        assert_int_equal(f.linktype, 1);
        assert_int_equal(f.snaplen, 65535);
        assert_int_equal(f.nsec, cases[i].nsec);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, 1700000000123456ull, 60, 60, 1, 1);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, 1700000001000000ull, 33, 1514, 1, 2);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, 0, 0, 0, 1, 3);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
        mc_pcapfile_close(&f);
        assert_null(f.base);
        teardown(NULL);
        free(b.p);
    }
}

static void test_classic_fcs_bits_masked(void **state)
{
    (void)state;
    /* bits 28-31 FCS length, bit 26 "FCS length present" (draft-ietf-opsawg-pcap) */
    static const struct {
        uint32_t link;
        int want;
    } cases[] = { { 0x14000001u, 1 }, { 0xf4000071u, 113 }, { 0x00000071u, 113 }, { 0x08000114u, 276 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = { 0 };
        classic_hdr(&b, (int)(i & 1), 0, 262144, cases[i].link);
        classic_rec(&b, 1, 2, 20, 20, 9);
        const char *path = write_tmp(b.p, b.n);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
        assert_int_equal(f.linktype, cases[i].want);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, 1000002, 20, 20, cases[i].want, 9);
        mc_pcapfile_close(&f);
        teardown(NULL);
        free(b.p);
    }
}

static void test_classic_truncated_record(void **state)
{
    (void)state;
    struct buf b = { 0 };
    classic_hdr(&b, 1, 0, 65535, 1);
    classic_rec(&b, 5, 6, 40, 40, 1);
    classic_rec(&b, 7, 8, 100, 100, 2);
    b.n -= 50; /* second record's data runs 50 octets past the end */
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 5000006, 40, 40, 1, 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "offset 80")); /* 24 + 16 + 40 */
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0); /* stays at the end */
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_classic_huge_caplen(void **state)
{
    (void)state;
    struct buf b = { 0 };
    classic_hdr(&b, 0, 0, 65535, 1);
    put32(&b, 1);
    put32(&b, 2);
    put32(&b, 0xffffffffu); /* caplen */
    put32(&b, 60);
    put(&b, "0123456789abcdef", 16);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
    assert_true(err[0] != 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_classic_header_only(void **state)
{
    (void)state;
    struct buf b = { 0 };
    classic_hdr(&b, 1, 1, 65535, 1);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_not_a_capture(void **state)
{
    (void)state;
    struct mc_pcapfile f;
    char err[128] = "";
    static const char text[] = "this is a text file, not a capture; long enough to have a header\n";
    assert_int_equal(mc_pcapfile_open(&f, write_tmp(text, sizeof(text) - 1), err, sizeof(err)), 0);
    assert_null(f.base);
    teardown(NULL);
    /* shorter than a header */
    static const uint8_t shortf[] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    assert_int_equal(mc_pcapfile_open(&f, write_tmp(shortf, sizeof(shortf)), err, sizeof(err)), 0);
    teardown(NULL);
    /* pcap magic but version 1.0 */
    struct buf b = { 0 };
    classic_hdr(&b, 1, 0, 65535, 1);
    b.p[4] = 1;
    assert_int_equal(mc_pcapfile_open(&f, write_tmp(b.p, b.n), err, sizeof(err)), 0);
    assert_null(f.base);
    teardown(NULL);
    free(b.p);
    /* a directory */
    assert_int_equal(mc_pcapfile_open(&f, "/tmp", err, sizeof(err)), 0);
    /* missing: an error naming the file */
    err[0] = 0;
    assert_int_equal(mc_pcapfile_open(&f, "/nonexistent/mc_test.pcap", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/mc_test.pcap"));
}

/* Several MiB of records, so the reader prefaults and releases windows of the mapping. */
static void test_classic_large_file(void **state)
{
    (void)state;
    struct buf b = { 0 };
    classic_hdr(&b, 1, 0, 65535, 1);
    const uint32_t n = 5000, len = 1500;
    for (uint32_t i = 0; i < n; i++)
        classic_rec(&b, i, i, len - (i % 7), len, (uint8_t)i);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, (uint64_t)i * 1000000u + i, len - (i % 7), len, 1, (uint8_t)i);
    }
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
    assert_true(f.dropped > 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

/* ---- pcapng ---- */

/*
 * Section 1 (little-endian): interface 0 Ethernet, microseconds; interface 1
 * Linux SLL, nanoseconds; an unknown block; EPBs on both; an SPB.
 * Section 2 (big-endian): interface 0 SLL with 2^-10 s units.
 */
static void build_ng(struct buf *b)
{
    ng_shb(b, 1);
    ng_idb(b, 1, 1514, -1);
    ng_idb(b, 113, 96, 9);
    ng_unknown(b, 0x00000bad);
    ng_epb(b, 0, 1700000000123456ull, 60, 60, 1);
    ng_epb(b, 1, 1700000000123456789ull, 37, 1000, 2);
    ng_unknown(b, 5); /* interface statistics */
    ng_spb(b, 42, 42, 3);
    ng_shb(b, 0);
    ng_idb(b, 113, 262144, 0x80 | 10);
    ng_epb(b, 0, 1024ull * 5 + 512, 21, 21, 4);
}

static void test_ng_interfaces_and_sections(void **state)
{
    (void)state;
    struct buf b = { 0 };
    build_ng(&b);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(f.ng, 1);
    assert_int_equal(f.linktype, 1); /* of the first interface, read ahead */
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 1700000000123456ull, 60, 60, 1, 1);
    assert_int_equal(f.n_ifs, 2);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 1700000000123456ull, 37, 1000, 113, 2);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    assert_int_equal(r.caplen, 42);
    assert_int_equal(r.wirelen, 42);
    assert_int_equal(r.linktype, 1);
    uint8_t d[42];
    frame(d, 42, 3);
    assert_memory_equal(r.data, d, 42);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 5500000, 21, 21, 113, 4); /* 5.5 s in 1/1024 s units */
    assert_int_equal(f.n_ifs, 1);              /* the new section reset the list */
    assert_int_equal(f.swapped, 0);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_ng_spb_longer_than_block(void **state)
{
    (void)state;
    struct buf b = { 0 };
    ng_shb(&b, 0);
    ng_idb(&b, 1, 0, -1);
    ng_spb(&b, 1500, 64, 7); /* original length 1500, 64 octets in the block */
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    assert_int_equal(r.caplen, 64);
    assert_int_equal(r.wirelen, 1500);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_ng_no_interface_yet(void **state)
{
    (void)state;
    /* an EPB before any IDB, then one naming interface 2 of 2, then after a reset */
    for (int k = 0; k < 3; k++) {
        struct buf b = { 0 };
        ng_shb(&b, 1);
        if (k >= 1) {
            ng_idb(&b, 1, 0, -1);
            ng_idb(&b, 1, 0, -1);
        }
        if (k == 2) {
            ng_epb(&b, 1, 1, 10, 10, 1);
            ng_shb(&b, 1);
            ng_idb(&b, 1, 0, -1);
        }
        ng_epb(&b, k == 0 ? 0 : (k == 1 ? 2 : 1), 1, 10, 10, 1);
        const char *path = write_tmp(b.p, b.n);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
        if (k == 2)
            assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "pcapng"));
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
        mc_pcapfile_close(&f);
        teardown(NULL);
        free(b.p);
    }
}

static void test_ng_bad_block_length(void **state)
{
    (void)state;
    static const uint32_t lens[] = { 30, 13, 8, 0, 4096, 0xfffffffcu };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct buf b = { 0 };
        ng_shb(&b, (int)(i & 1));
        ng_idb(&b, 1, 0, -1);
        ng_epb(&b, 0, 1, 10, 10, 1);
        size_t at = b.n;
        ng_epb(&b, 0, 2, 10, 10, 2);
        set32(&b, at + 4, lens[i]);
        const char *path = write_tmp(b.p, b.n);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, 1, 10, 10, 1, 1);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
        char want[64];
        snprintf(want, sizeof(want), "offset %zu", at);
        assert_non_null(strstr(err, want));
        mc_pcapfile_close(&f);
        teardown(NULL);
        free(b.p);
    }
}

static void test_ng_bad_byte_order_magic(void **state)
{
    (void)state;
    struct buf b = { 0 };
    ng_shb(&b, 1);
    b.p[8] = 0x99;
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_ng_tsresol(void **state)
{
    (void)state;
    static const struct {
        int tsresol;
        uint64_t ts, us;
    } cases[] = {
        { -1, 1234567, 1234567 },              /* default: microseconds */
        { 6, 1234567, 1234567 },               /* 10^-6 */
        { 9, 1234567890, 1234567 },            /* 10^-9 */
        { 3, 1234, 1234000 },                  /* 10^-3 */
        { 0, 12, 12000000 },                   /* seconds */
        { 0x80 | 10, 3 * 1024 + 256, 3250000 }, /* 2^-10 */
        { 0x80 | 20, 1 << 20, 1000000 },       /* 2^-20 */
        { 0x80 | 30, 3ull << 29, 1500000 },    /* 2^-30 */
        { 0x80 | 63, 1ull << 62, 500000 },     /* 2^-63 */
        { 19, 10000000000000000000ull, 1000000 }, /* 10^-19 */
        { 20, 1234567, 1234567 },              /* 10^-20 does not fit: ignored */
        { 0x80 | 64, 1234567, 1234567 },       /* 2^-64 does not fit: ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = { 0 };
        ng_shb(&b, (int)(i & 1));
        ng_idb(&b, 1, 0, cases[i].tsresol);
        ng_epb(&b, 0, cases[i].ts, 14, 14, 5);
        const char *path = write_tmp(b.p, b.n);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, cases[i].us, 14, 14, 1, 5);
        mc_pcapfile_close(&f);
        teardown(NULL);
        free(b.p);
    }
}

/* ---- records a capture cannot have written, and many interfaces ---- */

static uint64_t ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    assert_non_null(v);
    return *v;
}

/* A record header claiming caplen octets, followed by fill octets of data (zeros). */
static void classic_rec_raw(struct buf *b, uint32_t caplen, size_t fill)
{
    put32(b, 9);
    put32(b, 0);
    put32(b, caplen);
    put32(b, caplen);
    uint8_t *zeros = calloc(1, fill + 1);
    assert_non_null(zeros);
    put(b, zeros, fill);
    free(zeros);
}

/* Reads a whole file; returns the caplens of the records (at most max), -1 in *rc on an error. */
static size_t read_caplens(const struct buf *b, uint32_t *caplens, size_t max, int *rc, char *err, size_t errlen)
{
    const char *path = write_tmp(b->p, b->n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    size_t n = 0;
    assert_int_equal(mc_pcapfile_open(&f, path, err, errlen), 1);
    while ((*rc = mc_pcapfile_next(&f, &r, err, errlen)) == 1) {
        assert_true(n < max);
        caplens[n++] = r.caplen;
    }
    assert_int_equal(mc_pcapfile_next(&f, &r, err, errlen), 0); /* stays at the end */
    mc_pcapfile_close(&f);
    teardown(NULL);
    return n;
}

static void test_classic_over_snaplen_cut(void **state)
{
    (void)state;
    /* snaplen 64: a 100-octet record is counted and cut to 64 octets (as libpcap does), the next ones read */
    struct buf b = { 0 };
    classic_hdr(&b, 1, 0, 64, 1);
    classic_rec(&b, 1, 0, 60, 60, 1);
    classic_rec(&b, 2, 0, 100, 100, 2);
    classic_rec(&b, 3, 0, 64, 1500, 3);
    uint32_t got[8];
    int rc;
    char err[160] = "";
    mc_ctr_reset();
    size_t n = read_caplens(&b, got, 8, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 60);
    assert_int_equal(got[1], 64);
    assert_int_equal(got[2], 64);
    assert_int_equal(ctr("capture.over_snaplen"), 1);
    free(b.p);
    /* a snaplen of 0, or above 256 KiB, sets no limit below 256 KiB (libpcap's reading) */
    static const uint32_t unlimited[] = { 0, 262145, 0xffffffffu };
    for (size_t i = 0; i < sizeof(unlimited) / sizeof(unlimited[0]); i++) {
        memset(&b, 0, sizeof(b));
        classic_hdr(&b, 0, 0, unlimited[i], 1);
        classic_rec(&b, 1, 0, 1500, 1500, 1);
        mc_ctr_reset();
        n = read_caplens(&b, got, 8, &rc, err, sizeof(err));
        assert_int_equal(rc, 0);
        assert_int_equal(n, 1);
        assert_int_equal(ctr("capture.over_snaplen"), 0);
        free(b.p);
    }
}

static void test_classic_over_max_caplen_stops(void **state)
{
    (void)state;
    /* 256 KiB is read; one octet more ends the read at that record, whole in the file or not */
    struct buf b = { 0 };
    classic_hdr(&b, 1, 0, 0, 1);
    classic_rec_raw(&b, MC_PCAP_MAX_CAPLEN, MC_PCAP_MAX_CAPLEN);
    size_t at = b.n;
    classic_rec_raw(&b, MC_PCAP_MAX_CAPLEN + 1, MC_PCAP_MAX_CAPLEN + 1);
    classic_rec(&b, 1, 0, 60, 60, 1);
    uint32_t got[8];
    int rc;
    char err[160] = "";
    mc_ctr_reset();
    size_t n = read_caplens(&b, got, 8, &rc, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], MC_PCAP_MAX_CAPLEN);
    char want[64];
    snprintf(want, sizeof(want), "offset %zu", at);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "262145"));
    assert_int_equal(ctr("capture.over_max_caplen"), 1);
    free(b.p);
}

static void test_ng_many_interfaces(void **state)
{
    (void)state;
    /* 100 interfaces (libpcap and tshark read them): each packet gets its own interface's link type */
    struct buf b = { 0 };
    ng_shb(&b, 1);
    for (int i = 0; i < 100; i++)
        ng_idb(&b, (uint16_t)(i % 2 ? 113 : 1), 0, i % 3 ? -1 : 9);
    static const uint32_t ifids[] = { 0, 63, 64, 65, 99 };
    for (size_t i = 0; i < sizeof(ifids) / sizeof(ifids[0]); i++)
        ng_epb(&b, ifids[i], 1000000, 20, 20, (uint8_t)i);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    for (size_t i = 0; i < sizeof(ifids) / sizeof(ifids[0]); i++) {
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
        check_rec(&r, ifids[i] % 3 ? 1000000 : 1000, 20, 20, ifids[i] % 2 ? 113 : 1, (uint8_t)i);
    }
    assert_int_equal(f.n_ifs, 100);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
    mc_pcapfile_close(&f);
    free(b.p);
}

static void test_ng_interfaces_over_cap(void **state)
{
    (void)state;
    /* past the cap an interface is counted, not kept: its packets are skipped; one never described is corrupt */
    struct buf b = { 0 };
    ng_shb(&b, 0);
    for (uint32_t i = 0; i < MC_PCAPNG_MAX_IFS + 2; i++)
        ng_idb(&b, 1, 0, -1);
    ng_epb(&b, MC_PCAPNG_MAX_IFS - 1, 5, 20, 20, 1);
    ng_epb(&b, MC_PCAPNG_MAX_IFS, 6, 20, 20, 2);
    ng_epb(&b, MC_PCAPNG_MAX_IFS + 1, 7, 20, 20, 3);
    ng_epb(&b, 0, 8, 21, 21, 4);
    size_t at = b.n;
    ng_epb(&b, MC_PCAPNG_MAX_IFS + 2, 9, 20, 20, 5);
    const char *path = write_tmp(b.p, b.n);
    struct mc_pcapfile f;
    struct mc_pcapfile_rec r;
    char err[128] = "";
    mc_ctr_reset();
    assert_int_equal(mc_pcapfile_open(&f, path, err, sizeof(err)), 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 5, 20, 20, 1, 1);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 1);
    check_rec(&r, 8, 21, 21, 1, 4);
    assert_int_equal(ctr("capture.pcapng_if_over_cap"), 2);
    assert_int_equal(f.n_ifs, MC_PCAPNG_MAX_IFS + 2);
    assert_true(f.cap_ifs <= MC_PCAPNG_MAX_IFS);
    assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "offset %zu", at);
    assert_non_null(strstr(err, want));
    mc_pcapfile_close(&f);
    free(b.p);
}

/* An EPB whose data is fill zero octets, whatever caplen says. */
static void ng_epb_raw(struct buf *b, uint32_t ifid, uint32_t caplen, size_t fill)
{
    size_t at = ng_begin(b, 6);
    put32(b, ifid);
    put32(b, 0);
    put32(b, 1);
    put32(b, caplen);
    put32(b, caplen);
    uint8_t *zeros = calloc(1, fill + 1);
    assert_non_null(zeros);
    put(b, zeros, fill);
    free(zeros);
    ng_end(b, at);
}

static void test_ng_over_snaplen_cut_over_max_skipped(void **state)
{
    (void)state;
    /* a packet too long for its interface is cut to its snaplen; every block carries its length, so one
     * above 256 KiB is skipped */
    struct buf b = { 0 };
    ng_shb(&b, 1);
    ng_idb(&b, 1, 64, -1); /* 0: snaplen 64 */
    ng_idb(&b, 1, 0, -1);  /* 1: no snaplen */
    ng_epb(&b, 0, 1, 64, 64, 1);
    ng_epb(&b, 0, 2, 65, 65, 2);
    ng_epb_raw(&b, 1, MC_PCAP_MAX_CAPLEN, MC_PCAP_MAX_CAPLEN);
    ng_epb_raw(&b, 1, MC_PCAP_MAX_CAPLEN + 1, MC_PCAP_MAX_CAPLEN + 1);
    ng_epb(&b, 1, 3, 1500, 1500, 3);
    ng_spb(&b, 1500, 100, 4); /* interface 0's snaplen: 64 of the 100 octets are the packet */
    uint32_t got[8];
    int rc;
    char err[160] = "";
    mc_ctr_reset();
    size_t n = read_caplens(&b, got, 8, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);
    assert_int_equal(got[0], 64);
    assert_int_equal(got[1], 64);
    assert_int_equal(got[2], MC_PCAP_MAX_CAPLEN);
    assert_int_equal(got[3], 1500);
    assert_int_equal(got[4], 64);
    assert_int_equal(ctr("capture.over_snaplen"), 1);
    assert_int_equal(ctr("capture.over_max_caplen"), 1);
    free(b.p);
}

static void test_ng_error_offset_is_block_start(void **state)
{
    (void)state;
    /* a packet longer than its block, and one on an interface never described: the offset of their block */
    for (int k = 0; k < 2; k++) {
        struct buf b = { 0 };
        ng_shb(&b, k);
        ng_idb(&b, 1, 0, -1);
        ng_epb(&b, 0, 1, 10, 10, 1);
        size_t at = b.n;
        if (k == 0)
            ng_epb_raw(&b, 0, 200, 100);
        else
            ng_epb(&b, 7, 2, 10, 10, 2);
        ng_epb(&b, 0, 3, 10, 10, 3);
        uint32_t got[8];
        int rc;
        char err[160] = "";
        size_t n = read_caplens(&b, got, 8, &rc, err, sizeof(err));
        assert_int_equal(rc, -1);
        assert_int_equal(n, 1);
        char want[64];
        snprintf(want, sizeof(want), "at offset %zu", at);
        assert_non_null(strstr(err, want));
        free(b.p);
    }
}

/* ---- truncation at every offset ---- */

static void read_all_prefixes(const struct buf *b)
{
    char path[] = "/tmp/mc_test_pcapfile_trunc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    for (size_t len = 0; len <= b->n; len++) {
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(pwrite(fd, b->p, len, 0), (ssize_t)len);
        struct mc_pcapfile f;
        struct mc_pcapfile_rec r;
        char err[128] = "";
        int rc = mc_pcapfile_open(&f, path, err, sizeof(err));
        assert_true(rc == 0 || rc == 1);
        if (rc == 0)
            continue;
        int n = 0;
        volatile unsigned sum = 0;
        while ((rc = mc_pcapfile_next(&f, &r, err, sizeof(err))) == 1) {
            assert_true(r.data >= f.base && r.caplen <= f.size && r.data + r.caplen <= f.base + f.size);
            for (uint32_t i = 0; i < r.caplen; i++)
                sum += r.data[i];
            assert_true(++n < 1000);
        }
        assert_true(rc == 0 || rc == -1);
        if (rc == -1)
            assert_true(err[0] != 0);
        assert_int_equal(mc_pcapfile_next(&f, &r, err, sizeof(err)), 0);
        mc_pcapfile_close(&f);
        (void)sum;
    }
    close(fd);
    unlink(path);
}

static void test_truncate_every_offset(void **state)
{
    (void)state;
    struct buf b = { 0 };
    classic_hdr(&b, 0, 1, 65535, 1);
    classic_rec(&b, 1, 2, 60, 60, 1);
    classic_rec(&b, 3, 4, 31, 100, 2);
    classic_rec(&b, 5, 6, 0, 0, 3);
    read_all_prefixes(&b);
    free(b.p);
    memset(&b, 0, sizeof(b));
    build_ng(&b);
    read_all_prefixes(&b);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_classic_orders_and_resolutions, teardown),
        cmocka_unit_test_teardown(test_classic_fcs_bits_masked, teardown),
        cmocka_unit_test_teardown(test_classic_truncated_record, teardown),
        cmocka_unit_test_teardown(test_classic_huge_caplen, teardown),
        cmocka_unit_test_teardown(test_classic_header_only, teardown),
        cmocka_unit_test_teardown(test_not_a_capture, teardown),
        cmocka_unit_test_teardown(test_classic_large_file, teardown),
        cmocka_unit_test_teardown(test_ng_interfaces_and_sections, teardown),
        cmocka_unit_test_teardown(test_ng_spb_longer_than_block, teardown),
        cmocka_unit_test_teardown(test_ng_no_interface_yet, teardown),
        cmocka_unit_test_teardown(test_ng_bad_block_length, teardown),
        cmocka_unit_test_teardown(test_ng_bad_byte_order_magic, teardown),
        cmocka_unit_test_teardown(test_ng_tsresol, teardown),
        cmocka_unit_test_teardown(test_classic_over_snaplen_cut, teardown),
        cmocka_unit_test_teardown(test_classic_over_max_caplen_stops, teardown),
        cmocka_unit_test_teardown(test_ng_many_interfaces, teardown),
        cmocka_unit_test_teardown(test_ng_interfaces_over_cap, teardown),
        cmocka_unit_test_teardown(test_ng_over_snaplen_cut_over_max_skipped, teardown),
        cmocka_unit_test_teardown(test_ng_error_offset_is_block_start, teardown),
        cmocka_unit_test(test_truncate_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
