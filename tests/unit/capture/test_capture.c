/*
 * test_capture.c - file sources: classic pcap and pcapng through the mapped
 * reader, a pcap variant through libpcap, BPF filters, EOF, errors, counters.
 * Captures of Ethernet/IPv4 UDP and TCP frames are built in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture/capture.h"
#include "common/counters.h"

/* ---- building captures ---- */

#include "unit/capture/capbuf.h"

static void set32(struct buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)(b->le ? i : 3 - i)] = (uint8_t)(v >> (8 * i));
}

/* network byte order, for packet headers */
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#define DLT_EN10MB_ 1
#define DLT_SLL_ 113

struct frame {
    uint8_t d[256];
    uint32_t len;
    int linktype;
    int proto; /* 6 or 17 */
};

/* An Ethernet (or Linux SLL) / IPv4 / UDP or TCP frame with payload_len octets of payload. */
static struct frame mkframe(int linktype, int proto, uint32_t payload_len, uint8_t host)
{
    struct frame f;
    memset(&f, 0, sizeof(f));
    f.linktype = linktype;
    f.proto = proto;
    uint8_t *p = f.d;
    if (linktype == DLT_EN10MB_) {
        static const uint8_t macs[12] = { 0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10 };
        memcpy(p, macs, 12);
        wr16(p + 12, 0x0800);
        p += 14;
    } else {
        wr16(p, 0);      /* to us */
        wr16(p + 2, 1);  /* ARPHRD_ETHER */
        wr16(p + 4, 6);  /* address length */
        static const uint8_t mac[8] = { 0, 6, 7, 8, 9, 10, 0, 0 };
        memcpy(p + 6, mac, 8);
        wr16(p + 14, 0x0800);
        p += 16;
    }
    uint32_t l4 = proto == 17 ? 8 : 20;
    uint32_t iplen = 20 + l4 + payload_len;
    p[0] = 0x45;
    wr16(p + 2, (uint16_t)iplen);
    wr16(p + 4, host);
    wr16(p + 6, 0x4000);
    p[8] = 64;
    p[9] = (uint8_t)proto;
    p[12] = 10, p[15] = host;
    p[16] = 10, p[19] = 1;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    wr16(p + 10, (uint16_t)~sum);
    uint8_t *t = p + 20;
    wr16(t, (uint16_t)(40000 + host));
    wr16(t + 2, proto == 17 ? 53 : 80);
    if (proto == 17) {
        wr16(t + 4, (uint16_t)(8 + payload_len));
    } else {
        t[12] = 0x50;
        t[13] = 0x18; /* PSH ACK */
        wr16(t + 14, 65535);
    }
    for (uint32_t i = 0; i < payload_len; i++)
        t[l4 + i] = (uint8_t)(host + i);
    f.len = (uint32_t)(t + l4 + payload_len - f.d);
    assert_true(f.len <= sizeof(f.d));
    return f;
}

enum fmt { CLASSIC, PCAPNG, KUZNETZOV };

/* Writes frames as a capture file; pcapng gives each link type its own interface. */
static void write_capture(struct buf *b, enum fmt fmt, const struct frame *fr, size_t n)
{
    b->le = 1;
    if (fmt != PCAPNG) {
        put32(b, fmt == KUZNETZOV ? 0xa1b2cd34 : 0xa1b2c3d4);
        put16(b, 2);
        put16(b, 4);
        put32(b, 0);
        put32(b, 0);
        put32(b, 65535);
        put32(b, (uint32_t)fr[0].linktype);
        for (size_t i = 0; i < n; i++) {
            put32(b, 1700000000u + (uint32_t)i);
            put32(b, (uint32_t)i); /* microseconds */
            put32(b, fr[i].len);
            put32(b, fr[i].len);
            if (fmt == KUZNETZOV) {
                put32(b, 2);      /* ifindex */
                put16(b, 0x0800); /* protocol */
                put16(b, 0);      /* pkt_type, pad */
            }
            put(b, fr[i].d, fr[i].len);
        }
        return;
    }
    size_t at = b->n;
    put32(b, 0x0a0d0d0a); /* SHB */
    put32(b, 28);
    put32(b, 0x1a2b3c4d);
    put16(b, 1);
    put16(b, 0);
    put32(b, 0xffffffff);
    put32(b, 0xffffffff);
    put32(b, 28);
    int links[2] = { fr[0].linktype, fr[0].linktype == DLT_EN10MB_ ? DLT_SLL_ : DLT_EN10MB_ };
    for (int i = 0; i < 2; i++) { /* IDBs, no options */
        put32(b, 1);
        put32(b, 20);
        put16(b, (uint16_t)links[i]);
        put16(b, 0);
        put32(b, 262144);
        put32(b, 20);
    }
    for (size_t i = 0; i < n; i++) {
        at = b->n;
        put32(b, 6);
        put32(b, 0);
        put32(b, fr[i].linktype == links[0] ? 0 : 1);
        uint64_t ts = (1700000000ull + i) * 1000000u + i;
        put32(b, (uint32_t)(ts >> 32));
        put32(b, (uint32_t)ts);
        put32(b, fr[i].len);
        put32(b, fr[i].len);
        put(b, fr[i].d, fr[i].len);
        pad4(b);
        put32(b, (uint32_t)(b->n - at + 4));
        set32(b, at + 4, (uint32_t)(b->n - at));
    }
}

static char tmp_path[64];

static const char *write_tmp(const struct buf *b)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/mc_test_capture_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->p, b->n), (ssize_t)b->n);
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

/* ---- collecting frames ---- */

#define MAX_GOT 32
struct got {
    int n;
    struct frame f[MAX_GOT];
    uint64_t ts[MAX_GOT];
};

static void on_frame(void *ctx, uint64_t ts_us, uint32_t caplen, uint32_t wirelen, int linktype,
                     const uint8_t *data)
{
    struct got *g = ctx;
    assert_true(g->n < MAX_GOT);
    assert_int_equal(caplen, wirelen);
    assert_true(caplen <= sizeof(g->f[0].d));
    memcpy(g->f[g->n].d, data, caplen);
    g->f[g->n].len = caplen;
    g->f[g->n].linktype = linktype;
    g->ts[g->n] = ts_us;
    g->n++;
}

static void check_frame(const struct frame *got, const struct frame *want)
{
    assert_int_equal(got->linktype, want->linktype);
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->d, want->d, want->len);
}

/* 3 UDP and 3 TCP frames, alternating; with sll, frames 2 (UDP) and 3 (TCP) are Linux SLL */
static size_t mix(struct frame *fr, int sll)
{
    static const struct {
        int proto;
        uint32_t payload;
    } t[] = { { 17, 10 }, { 6, 20 }, { 17, 0 }, { 6, 5 }, { 17, 101 }, { 6, 0 } };
    for (size_t i = 0; i < 6; i++)
        fr[i] = mkframe(sll && (i == 2 || i == 3) ? DLT_SLL_ : DLT_EN10MB_, t[i].proto, t[i].payload, (uint8_t)(i + 1));
    return 6;
}

static uint64_t ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    assert_non_null(v);
    return *v;
}

static struct mc_capture *open_file(enum fmt fmt, const struct frame *fr, size_t n, const char *bpf)
{
    struct buf b = { 0 };
    write_capture(&b, fmt, fr, n);
    const char *path = write_tmp(&b);
    free(b.p);
    struct mc_capture_config cfg;
    mc_capture_config_defaults(&cfg);
    cfg.bpf = bpf;
    char err[512] = "";
    struct mc_capture *c = mc_capture_open(path, &cfg, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_true(mc_capture_is_file(c));
    assert_int_equal(mc_capture_fd(c), -1);
    assert_int_equal(mc_capture_ifindex(c), 0);
    assert_string_equal(mc_capture_source(c), path);
    return c;
}

/* ---- tests ---- */

static void all_frames(enum fmt fmt)
{
    struct frame fr[8];
    size_t n = mix(fr, 0);
    uint64_t files0 = ctr("capture.files"), pkts0 = MC_CTR_GET(capture, packets);
    uint64_t bytes0 = ctr("capture.bytes");
    struct mc_capture *c = open_file(fmt, fr, n, NULL);
    assert_int_equal(ctr("capture.files"), files0 + 1);
    assert_int_equal(mc_capture_linktype(c), DLT_EN10MB_);
    struct got g = { 0 };
    assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), (int)n);
    assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), MC_CAPTURE_EOF);
    assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), MC_CAPTURE_EOF);
    assert_int_equal(g.n, (int)n);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        check_frame(&g.f[i], &fr[i]);
        assert_int_equal(g.ts[i], (1700000000ull + i) * 1000000u + i);
        bytes += fr[i].len;
    }
    assert_int_equal(MC_CTR_GET(capture, packets), pkts0 + n);
    assert_int_equal(ctr("capture.packets"), pkts0 + n);
    assert_int_equal(ctr("capture.bytes"), bytes0 + bytes);
    mc_capture_close(c);
}

static void test_classic_all(void **state)
{
    (void)state;
    all_frames(CLASSIC);
}

static void test_pcapng_all(void **state)
{
    (void)state;
    all_frames(PCAPNG);
}

static void test_libpcap_fallback_all(void **state)
{
    (void)state;
    all_frames(KUZNETZOV); /* a pcap variant only libpcap reads */
}

static void test_dispatch_max(void **state)
{
    (void)state;
    static const enum fmt fmts[] = { CLASSIC, PCAPNG, KUZNETZOV };
    for (size_t k = 0; k < 3; k++) {
        struct frame fr[8];
        size_t n = mix(fr, 0);
        struct mc_capture *c = open_file(fmts[k], fr, n, NULL);
        struct got g = { 0 };
        assert_int_equal(mc_capture_dispatch(c, 4, on_frame, &g), 4);
        assert_int_equal(mc_capture_dispatch(c, 4, on_frame, &g), 2);
        assert_int_equal(mc_capture_dispatch(c, 4, on_frame, &g), MC_CAPTURE_EOF);
        assert_int_equal(g.n, 6);
        for (size_t i = 0; i < n; i++)
            check_frame(&g.f[i], &fr[i]);
        mc_capture_close(c);
        teardown(NULL);
    }
}

/* The progress of a file run: the offset grows with the records read and ends at the file's size. */
static void test_file_offset(void **state)
{
    (void)state;
    static const enum fmt fmts[] = { CLASSIC, PCAPNG, KUZNETZOV };
    for (size_t k = 0; k < 3; k++) {
        struct frame fr[8];
        size_t n = mix(fr, 0);
        struct mc_capture *c = open_file(fmts[k], fr, n, NULL);
        struct stat st;
        assert_int_equal(stat(tmp_path, &st), 0);
        uint64_t size = (uint64_t)st.st_size, start = mc_capture_file_offset(c);
        assert_true(start < size);
        struct got g = { 0 };
        assert_int_equal(mc_capture_dispatch(c, 4, on_frame, &g), 4);
        uint64_t mid = mc_capture_file_offset(c);
        assert_true(mid > start + 4 * 16);  /* past four record headers at least */
        assert_true(mid < size);
        assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), 2);
        assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), MC_CAPTURE_EOF);
        assert_int_equal(mc_capture_file_offset(c), size);
        mc_capture_close(c);
        teardown(NULL);
    }
}

static void filtered(enum fmt fmt, int sll)
{
    struct frame fr[8];
    size_t n = mix(fr, sll);
    uint64_t pkts0 = MC_CTR_GET(capture, packets);
    struct mc_capture *c = open_file(fmt, fr, n, "udp");
    struct got g = { 0 };
    int total = 0, rc;
    while ((rc = mc_capture_dispatch(c, -1, on_frame, &g)) != MC_CAPTURE_EOF) {
        assert_true(rc >= 0);
        total += rc;
    }
    assert_int_equal(total, 3);
    assert_int_equal(g.n, 3);
    for (int i = 0; i < 3; i++)
        check_frame(&g.f[i], &fr[2 * i]);
    assert_int_equal(MC_CTR_GET(capture, packets), pkts0 + 3);
    mc_capture_close(c);
}

static void test_filter_udp(void **state)
{
    (void)state;
    filtered(CLASSIC, 0);
    teardown(NULL);
    filtered(PCAPNG, 0);
    teardown(NULL);
    filtered(KUZNETZOV, 0);
}

/* pcapng interfaces with different link types: the filter must match each frame's own link layer */
static void test_filter_udp_mixed_links(void **state)
{
    (void)state;
    filtered(PCAPNG, 1);
}

/* a filter valid for the first interface's link layer but not for the second one's */
static void test_filter_not_for_second_link(void **state)
{
    (void)state;
    struct frame fr[8];
    size_t n = mix(fr, 1);
    struct mc_capture *c = open_file(PCAPNG, fr, n, "ether broadcast");
    uint64_t errs0 = ctr("capture.file_errors");
    struct got g = { 0 };
    assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), MC_CAPTURE_ERROR);
    assert_non_null(strstr(mc_capture_error(c), "link type 113"));
    assert_int_equal(ctr("capture.file_errors"), errs0 + 1);
    mc_capture_close(c);
}

static void test_bad_filter(void **state)
{
    (void)state;
    static const enum fmt fmts[] = { CLASSIC, PCAPNG, KUZNETZOV };
    for (size_t k = 0; k < 3; k++) {
        struct frame fr[8];
        size_t n = mix(fr, 0);
        struct buf b = { 0 };
        write_capture(&b, fmts[k], fr, n);
        const char *path = write_tmp(&b);
        free(b.p);
        struct mc_capture_config cfg;
        mc_capture_config_defaults(&cfg);
        cfg.bpf = "udp and and port";
        char err[512] = "";
        assert_null(mc_capture_open(path, &cfg, err, sizeof(err)));
        assert_non_null(strstr(err, "udp and and port"));
        teardown(NULL);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    struct mc_capture_config cfg;
    mc_capture_config_defaults(&cfg);
    char err[512] = "";
    /* not a file: taken as an interface name, which does not exist either */
    assert_null(mc_capture_open("/nonexistent/mc_test_capture.pcap", &cfg, err, sizeof(err)));
    assert_true(err[0] != 0);
}

static void test_not_a_capture(void **state)
{
    (void)state;
    struct buf b = { 0 };
    put(&b, "hello, this is not a capture file at all\n", 41);
    const char *path = write_tmp(&b);
    free(b.p);
    struct mc_capture_config cfg;
    mc_capture_config_defaults(&cfg);
    char err[512] = "";
    assert_null(mc_capture_open(path, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, path));
}

static void test_truncated_file_error(void **state)
{
    (void)state;
    struct frame fr[8];
    size_t n = mix(fr, 0);
    struct buf b = { 0 };
    write_capture(&b, CLASSIC, fr, n);
    b.n -= 3; /* the last record's data is cut */
    const char *path = write_tmp(&b);
    free(b.p);
    struct mc_capture_config cfg;
    mc_capture_config_defaults(&cfg);
    char err[512] = "";
    struct mc_capture *c = mc_capture_open(path, &cfg, err, sizeof(err));
    assert_non_null(c);
    uint64_t errs0 = ctr("capture.file_errors");
    struct got g = { 0 };
    assert_int_equal(mc_capture_dispatch(c, -1, on_frame, &g), MC_CAPTURE_ERROR);
    assert_int_equal(g.n, (int)n - 1);
    assert_true(mc_capture_error(c)[0] != 0);
    assert_int_equal(ctr("capture.file_errors"), errs0 + 1);
    mc_capture_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_classic_all, teardown),
        cmocka_unit_test_teardown(test_pcapng_all, teardown),
        cmocka_unit_test_teardown(test_libpcap_fallback_all, teardown),
        cmocka_unit_test_teardown(test_dispatch_max, teardown),
        cmocka_unit_test_teardown(test_file_offset, teardown),
        cmocka_unit_test_teardown(test_filter_udp, teardown),
        cmocka_unit_test_teardown(test_filter_udp_mixed_links, teardown),
        cmocka_unit_test_teardown(test_filter_not_for_second_link, teardown),
        cmocka_unit_test_teardown(test_bad_filter, teardown),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test_teardown(test_not_a_capture, teardown),
        cmocka_unit_test_teardown(test_truncated_file_error, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
