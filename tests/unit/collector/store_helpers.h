/*
 * store_helpers.h - shared by the stores' unit tests (test_store_sqlite.c,
 * test_store_clickhouse.c): the clock they run on, counters read and waited
 * for across the writer thread, and one flow with every column set.
 * Header-only (static) so each test_*.c stays one executable.
 */
#ifndef MC_TEST_COLLECTOR_STORE_HELPERS_H
#define MC_TEST_COLLECTOR_STORE_HELPERS_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/flow.h"
#include "common/counters.h"

#define NOW 1700000000000ull /* 2023-11-14T22:13:20Z: the collector's clock in these tests, epoch ms */

static inline uint64_t ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    assert_non_null(v);
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* Waits (up to 20 s) for the writer thread to bring counter name to at least want. */
static inline void wait_ctr(const char *name, uint64_t want)
{
    for (int i = 0; i < 2000 && ctr(name) < want; i++)
        usleep(10000);
    assert_true(ctr(name) >= want);
}

static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline void set_ip(uint8_t *a, int af, const char *text)
{
    assert_int_equal(inet_pton(af, text, a), 1);
}

/* An IPv4 flow with every column set, numbers at their types' edges. */
static inline struct mc_coll_flow flow4(uint64_t start, uint64_t end)
{
    struct mc_coll_flow f;
    memset(&f, 0, sizeof(f));
    f.start_ms = start, f.end_ms = end;
    set_ip(f.exporter.addr, AF_INET, "192.0.2.1");
    f.exporter.ver = 4, f.exporter.port = 2055;
    f.version = 10, f.domain = 4000000000u, f.ip_version = 4;
    set_ip(f.src, AF_INET, "10.0.0.1");
    set_ip(f.dst, AF_INET, "198.51.100.7");
    f.src_port = 40000, f.dst_port = 443, f.proto = 6, f.tcp_flags = 0x1b, f.tos = 0x20;
    f.packets = 10, f.octets = 1500, f.rev_packets = 8, f.rev_octets = 9000;
    f.in_if = 3, f.out_if = 4000000001u, f.src_as = 64500, f.dst_as = 4200000000u, f.sampling = 100;
    snprintf(f.app, sizeof(f.app), "TLS.YouTube");
    snprintf(f.user, sizeof(f.user), "alice");
    snprintf(f.imsi, sizeof(f.imsi), "001010000000001");
    snprintf(f.msisdn, sizeof(f.msisdn), "393330000001");
    snprintf(f.call_id, sizeof(f.call_id), "a84b4c76e66710@pc33.example.com");
    return f;
}

/* Flow i of the rate tests' stream: f (from flow4) with its times, addresses, ports, size and app varied. */
static inline void vary_flow(struct mc_coll_flow *f, uint32_t i)
{
    f->start_ms = NOW + i / 100, f->end_ms = f->start_ms + i % 5000;
    uint32_t a = 0x0a000000u | (i * 2654435761u >> 12), b = 0xc6336400u | (i % 200);
    memcpy(f->src, &a, 4), memcpy(f->dst, &b, 4);
    f->src_port = (uint16_t)(1024 + i % 60000), f->dst_port = (uint16_t)(i % 7 ? 443 : 53);
    f->octets = 100 + i % 1500;
    f->app[0] = i % 3 ? 'T' : 0;
}

#endif
