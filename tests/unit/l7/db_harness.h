/*
 * db_harness.h - what test_mysql.c and test_tns.c share: one analyzer run
 * through the real L7 stage and flow table (TCP segments built by hand,
 * holes made by skipping sequence numbers), the transaction log read back
 * line by line, and the flow record's fields read through the analyzer's
 * getters when the flow is exported.  Include once per test file, after
 * cmocka.h.
 */
#ifndef DB_HARNESS_H
#define DB_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "l7/l7.h"
#include "unit/l7/record_harness.h"
#include "unit/l7/stage_harness.h"

static const struct mc_l7_analyzer *h_only[1];
static struct mc_flow_table *h_t;
static char h_log[64];

/* The transaction log, read back by h_end(). */
#define H_LINES 64
static char *h_lines[H_LINES];
static int h_n_lines;

/* A fresh stage and table for a, with the given --l7-max-buffer and --l7-max-text (0: defaults). */
static void h_setup(const struct mc_l7_analyzer *a, uint32_t max_buffer, uint32_t max_text)
{
    mc_ctr_reset();
    h_only[0] = a;
    h_t = h_stage_new(h_only, a->name, max_buffer, max_text, 16, h_log, sizeof(h_log));
}

struct h_conn {
    uint16_t port;    /* the server's */
    uint16_t cport;   /* the client's: one per connection (0: 40000) */
    uint32_t seq[2];  /* next sequence number of each direction */
    uint64_t ts;      /* time of the next segment, epoch ms */
};

#define H_SYN 0x02
#define H_ACK 0x10

static void h_pkt(struct h_conn *c, int dir, uint32_t seq, uint8_t flags, const void *data, size_t n)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
    p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
    uint16_t cport = c->cport ? c->cport : 40000;
    p.sport = dir ? c->port : cport;
    p.dport = dir ? cport : c->port;
    p.proto = 6;
    p.has_l4 = 1;
    p.tcp_seq = seq;
    p.tcp_ack = c->seq[!dir];
    p.tcp_flags = flags;
    p.ts_ms = c->ts;
    p.payload = data;
    p.payload_len = n;
    p.ip_len = 40 + (uint32_t)n;
    mc_flow_process(h_t, &p);
}

/* A connection to port, opened with SYN and SYN/ACK at ts. */
static void h_open(struct h_conn *c, uint16_t port, uint64_t ts)
{
    static uint16_t next_cport = 40001;
    c->port = port;
    c->cport = next_cport++;
    c->seq[0] = 1000;
    c->seq[1] = 50000;
    c->ts = ts;
    h_pkt(c, 0, c->seq[0]++, H_SYN, NULL, 0);
    h_pkt(c, 1, c->seq[1]++, H_SYN | H_ACK, NULL, 0);
}

/* One segment of dir carrying data[0..n). */
static void h_send(struct h_conn *c, int dir, const void *data, size_t n)
{
    /* an exact-size copy, so a read past n trips ASan */
    void *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, data, n);
    h_pkt(c, dir, c->seq[dir], H_ACK, b, n);
    c->seq[dir] += (uint32_t)n;
    free(b);
}

/* The same bytes one segment per byte. */
static void h_send_bytewise(struct h_conn *c, int dir, const void *data, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h_send(c, dir, (const uint8_t *)data + i, 1);
}

/* n bytes of dir the capture never saw: the stage declares the hole on the peer's ACK or at the end. */
static void h_lose(struct h_conn *c, int dir, uint32_t n) { c->seq[dir] += n; }

/* Bytes a test builds a message in (the analyzers' own byte orders stay in each test). */
struct bb {
    uint8_t b[8192];
    size_t n;
};

static void put(struct bb *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put8(struct bb *o, uint8_t v) { put(o, &v, 1); }

/* A conversation as steps: each the bytes one direction sends next. */
#define MAX_STEPS 40
struct step {
    int dir;
    struct bb bytes;
};
static struct step steps[MAX_STEPS];
static int n_steps;

static struct bb *step(int dir)
{
    assert_true(n_steps < MAX_STEPS);
    steps[n_steps].dir = dir;
    steps[n_steps].bytes.n = 0;
    return &steps[n_steps++].bytes;
}

/* Plays the steps, 10 ms apart; bytewise: one segment per byte. */
static void play(struct h_conn *c, int bytewise)
{
    for (int i = 0; i < n_steps; i++) {
        c->ts += 10;
        if (bytewise)
            h_send_bytewise(c, steps[i].dir, steps[i].bytes.b, steps[i].bytes.n);
        else
            h_send(c, steps[i].dir, steps[i].bytes.b, steps[i].bytes.n);
    }
}

static void h_free_lines(void)
{
    for (int i = 0; i < h_n_lines; i++)
        free(h_lines[i]);
    h_n_lines = 0;
}

/* Ends every flow (pending transactions), then reads the log back. */
static void h_end(void)
{
    mc_flow_flush_all(h_t, MC_END_FORCED);
    mc_l7_flush(h_l7);
    h_free_lines();
    FILE *f = fopen(h_log, "r");
    if (!f)
        return; /* no transaction at all */
    char line[8192];
    while (fgets(line, sizeof(line), f) && h_n_lines < H_LINES)
        h_lines[h_n_lines++] = strdup(line);
    fclose(f);
}

static void h_teardown(void)
{
    h_free_lines();
    mc_flow_table_free(h_t);
    mc_l7_free(h_l7);
    h_l7 = NULL;
    h_t = NULL;
    unlink(h_log);
}

/* Line i of the log has the JSON fragment frag ("\"mysqlUser\":\"root\""). */
static int h_has(int i, const char *frag)
{
    return i < h_n_lines && strstr(h_lines[i], frag) != NULL;
}

#define assert_line_has(i, frag)                                                                   \
    do {                                                                                           \
        if (!h_has(i, frag))                                                                       \
            fail_msg("log line %d lacks %s: %s", (i), (frag), (i) < h_n_lines ? h_lines[i] : "(none)"); \
    } while (0)
#define assert_line_lacks(i, frag)                                                                 \
    do {                                                                                           \
        if (h_has(i, frag))                                                                        \
            fail_msg("log line %d has %s: %s", (i), (frag), h_lines[i]);                           \
    } while (0)

static uint64_t h_ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    if (!v)
        fail_msg("no counter %s", name);
    return v ? *v : 0;
}

#include "cloud/aggtab.h"

/* The live cell (key, kind, name) of a, or NULL. */
static const struct mc_agg_cell *h_cell(const struct mc_agg *a, const char *key, int kind, const char *name)
{
    for (uint32_t i = 0; i < a->nk; i++) {
        const struct mc_agg_key *k = &a->k[i];
        if (!k->live || k->len != strlen(key) || memcmp(a->text + k->text, key, k->len))
            continue;
        for (uint32_t c1 = k->head; c1; c1 = a->c[c1 - 1].next) {
            const struct mc_agg_cell *c = &a->c[c1 - 1];
            if (c->kind == kind && c->name_len == strlen(name) && !memcmp(a->text + c->name, name, c->name_len))
                return c;
        }
    }
    return NULL;
}

/* The cell's count or value, -1 when absent. */
static int64_t h_agg_val(const struct mc_agg *a, const char *key, int kind, const char *name)
{
    const struct mc_agg_cell *c = h_cell(a, key, kind, name);
    return c ? c->n : -1;
}

static uint32_t h_agg_ttl(const struct mc_agg *a, const char *key)
{
    for (uint32_t i = 0; i < a->nk; i++)
        if (a->k[i].live && a->k[i].len == strlen(key) && !memcmp(a->text + a->k[i].text, key, a->k[i].len))
            return a->k[i].ttl_ms;
    return 0;
}

/* Event i's name and JSON payload, NUL-terminated into name[64] and json[512]. */
__attribute__((unused)) static void h_agg_event(const struct mc_agg *a, uint32_t i, char *name, char *json)
{
    assert_true(i < a->ne);
    const struct mc_agg_event *e = &a->ev[i];
    assert_true(e->name_len < 64 && e->json_len < 512);
    memcpy(name, a->text + e->name, e->name_len);
    name[e->name_len] = 0;
    memcpy(json, a->text + e->json, e->json_len);
    json[e->json_len] = 0;
}

#endif /* DB_HARNESS_H */
