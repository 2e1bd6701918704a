/*
 * helpers.h - shared by the export unit tests (and the collector's round
 * trips): hand-made flows, a sink that keeps every datagram and an exporter
 * writing into it, and big-endian readers.  Header-only (static) so
 * each test_*.c stays one executable.
 */
#ifndef MC_TEST_EXPORT_HELPERS_H
#define MC_TEST_EXPORT_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"

#define T0 1700000000000ull /* a probe time, epoch ms */

struct pktlog {
    size_t n, cap;
    uint8_t **data;
    size_t *len;
};

static inline void pktlog_sink(void *ctx, const uint8_t *pkt, size_t len)
{
    struct pktlog *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->data = realloc(l->data, l->cap * sizeof(*l->data));
        l->len = realloc(l->len, l->cap * sizeof(*l->len));
    }
    l->data[l->n] = malloc(len);
    memcpy(l->data[l->n], pkt, len);
    l->len[l->n++] = len;
}

/* An exporter of cfg whose datagrams go to log (include after cmocka.h: a refused config fails the test). */
static inline struct mc_exporter *pktlog_exporter(const struct mc_export_config *cfg, struct pktlog *log)
{
    char err[256] = "";
    struct mc_exporter *e = mc_exporter_new(cfg, err, sizeof(err));
    if (!e)
        fail_msg("mc_exporter_new: %s", err);
    mc_exporter_set_sink(e, pktlog_sink, log);
    return e;
}

static inline void pktlog_free(struct pktlog *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->data[i]);
    free(l->data);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t rd32(const uint8_t *p) { return rd16(p) << 16 | rd16(p + 2); }
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static inline void set4(struct mc_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
    memset(a, 0, sizeof(*a));
    a->b[0] = x;
    a->b[1] = y;
    a->b[2] = z;
    a->b[3] = w;
}

/* 10.0.0.1:40000 -> 192.0.2.80:80 TCP, 10 packets/1000 octets forward, 8/6000 reverse. */
static inline struct mc_flow tcp4_flow(void)
{
    struct mc_flow f;
    memset(&f, 0, sizeof(f));
    set4(&f.key.addr[0], 10, 0, 0, 1);
    set4(&f.key.addr[1], 192, 0, 2, 80);
    f.key.port[0] = 40000;
    f.key.port[1] = 80;
    f.key.proto = 6;
    f.key.ip_ver = 4;
    f.key.vlan[0] = 100;
    f.pkts[0] = 10;
    f.pkts[1] = 8;
    f.octets[0] = 1000;
    f.octets[1] = 6000;
    f.first_ms = T0;
    f.dir_first[0] = 0;
    f.dir_last[0] = 900;
    f.dir_first[1] = 20;
    f.dir_last[1] = 950;
    f.tcp_flags[0] = 0x1b; /* FIN SYN PSH ACK */
    f.tcp_flags[1] = 0x12 | 0x01 | 0x08;
    f.tos[0] = 0x10;
    f.tos[1] = 0x20;
    f.end_reason = MC_END_FIN;
    return f;
}

/* [2001:db8::1]:5353 -> [2001:db8::2]:53 UDP, 1 packet each way. */
static inline struct mc_flow udp6_flow(void)
{
    struct mc_flow f;
    memset(&f, 0, sizeof(f));
    f.key.addr[0].b[0] = 0x20;
    f.key.addr[0].b[1] = 0x01;
    f.key.addr[0].b[2] = 0x0d;
    f.key.addr[0].b[3] = 0xb8;
    f.key.addr[1] = f.key.addr[0];
    f.key.addr[0].b[15] = 1;
    f.key.addr[1].b[15] = 2;
    f.key.port[0] = 5353;
    f.key.port[1] = 53;
    f.key.proto = 17;
    f.key.ip_ver = 6;
    f.pkts[0] = 1;
    f.pkts[1] = 1;
    f.octets[0] = 80;
    f.octets[1] = 120;
    f.first_ms = T0 + 5;
    f.dir_first[1] = 3;
    f.dir_last[1] = 3;
    f.end_reason = MC_END_IDLE;
    return f;
}

/* ICMP echo 10.0.0.2 -> 10.0.0.3, no reply (0 reverse packets). */
static inline struct mc_flow icmp4_flow(void)
{
    struct mc_flow f;
    memset(&f, 0, sizeof(f));
    set4(&f.key.addr[0], 10, 0, 0, 2);
    set4(&f.key.addr[1], 10, 0, 0, 3);
    f.key.proto = 1;
    f.key.ip_ver = 4;
    f.icmp_type = 8;
    f.icmp_code = 0;
    f.pkts[0] = 3;
    f.octets[0] = 252;
    f.first_ms = T0 + 100;
    f.dir_last[0] = 2000;
    f.end_reason = MC_END_IDLE;
    return f;
}

#endif
