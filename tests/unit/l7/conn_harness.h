/*
 * conn_harness.h - what the analyzer tests that drive connections through the
 * real stage share: a stage with one analyzer writing its transaction log to a
 * file (h_setup), TCP connections and UDP exchanges between 10.0.0.1 and
 * 10.0.0.2 built packet by packet (h_tcp_conn, h_udp_conn, h_send, h_lose),
 * and the log read back line by line (h_finish, h_has, h_lacks).  Include
 * after cmocka.h and record_harness.h.
 */
#ifndef CONN_HARNESS_H
#define CONN_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "l7/l7.h"
#include "unit/l7/stage_harness.h"

/* Not every test uses every helper. */
#define H_UNUSED __attribute__((unused))

static char h_log_path[64];

/* One connection: client 10.0.0.1:cport, server 10.0.0.2:sport; seq[d]: next sequence number of direction d. */
struct h_conn {
    struct mc_flow_table *t;
    uint8_t proto;
    uint16_t cport, sport;
    uint32_t seq[2];
    uint64_t ts;
};

/* The stage with analyzer an only (no nDPI), its log in h_log_path, on a small flow table. */
static struct mc_flow_table *h_setup(const struct mc_l7_analyzer *const *an, const char *name, uint32_t max_text)
{
    return h_stage_new(an, name, 0, max_text, 64, h_log_path, sizeof(h_log_path));
}

static void h_teardown(struct mc_flow_table *t)
{
    mc_flow_table_free(t);
    mc_l7_free(h_l7);
    h_l7 = NULL;
    unlink(h_log_path);
}

#define H_SYN 0x02
#define H_ACK 0x10

static void h_pkt(struct h_conn *c, int dir, uint32_t seq, uint8_t flags, const void *data, size_t n)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = dir ? 2 : 1;
    p.dst.b[0] = 10, p.dst.b[3] = dir ? 1 : 2;
    p.sport = dir ? c->sport : c->cport;
    p.dport = dir ? c->cport : c->sport;
    p.proto = c->proto;
    p.has_l4 = 1;
    p.tcp_seq = seq;
    p.tcp_ack = c->seq[!dir];
    p.tcp_flags = flags;
    p.ts_ms = c->ts;
    p.payload = data;
    p.payload_len = n;
    p.ip_len = 40 + (uint32_t)n;
    mc_flow_process(c->t, &p);
}

H_UNUSED static struct h_conn h_udp_conn(struct mc_flow_table *t, uint16_t cport, uint16_t sport)
{
    struct h_conn c = { t, 17, cport, sport, { 0, 0 }, 1000000 };
    return c;
}

/* A TCP connection from port 40000 to sport, its handshake sent. */
H_UNUSED static struct h_conn h_tcp_conn(struct mc_flow_table *t, uint16_t sport)
{
    struct h_conn c = { t, 6, 40000, sport, { 1000, 5000 }, 1000000 };
    h_pkt(&c, 0, c.seq[0]++, H_SYN, NULL, 0);
    h_pkt(&c, 1, c.seq[1]++, H_SYN | H_ACK, NULL, 0);
    return c;
}

/* Sends n bytes of dir at ts ms after the start (one datagram, or one segment). */
H_UNUSED static void h_sendb(struct h_conn *c, int dir, const void *data, size_t n, uint64_t ts)
{
    c->ts = 1000000 + ts;
    h_pkt(c, dir, c->seq[dir], c->proto == 6 ? H_ACK : 0, data, n);
    c->seq[dir] += (uint32_t)n;
}

H_UNUSED static void h_send(struct h_conn *c, int dir, const char *s, uint64_t ts) { h_sendb(c, dir, s, strlen(s), ts); }

/* The capture misses n bytes of dir (TCP); the peer's next ACK covers them. */
H_UNUSED static void h_lose(struct h_conn *c, int dir, uint32_t n) { c->seq[dir] += n; }

/* Ends every flow and reads the transaction log back (a static buffer), one JSON object a line. */
static char h_logbuf[1 << 20];
static int h_n_lines;
static char *h_lines[512];

static void h_finish(struct mc_flow_table *t)
{
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_l7_flush(h_l7);
    h_n_lines = 0;
    h_logbuf[0] = 0;
    FILE *f = fopen(h_log_path, "r");
    if (!f)
        return;
    size_t n = fread(h_logbuf, 1, sizeof(h_logbuf) - 1, f);
    fclose(f);
    h_logbuf[n] = 0;
    for (char *p = h_logbuf; *p && h_n_lines < 512;) {
        char *e = strchr(p, '\n');
        h_lines[h_n_lines++] = p;
        if (!e)
            break;
        *e = 0;
        p = e + 1;
    }
}

H_UNUSED static void h_has(int line, const char *what)
{
    assert_true(line < h_n_lines);
    if (!strstr(h_lines[line], what))
        fail_msg("line %d lacks %s: %s", line, what, h_lines[line]);
}

H_UNUSED static void h_lacks(int line, const char *what)
{
    assert_true(line < h_n_lines);
    if (strstr(h_lines[line], what))
        fail_msg("line %d has %s: %s", line, what, h_lines[line]);
}

#endif
