/*
 * test_l7.c - the L7 framework with a recording analyzer: attach by port and
 * by payload, TCP bytes in sequence (retransmissions, overlaps, out-of-order
 * segments, holes declared on the peer's ACK, at the end and over budget),
 * UDP datagrams, the transaction log, the extension destructor, and payload
 * kept through the flow table's pipeline.
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

#include "flow/flow.h"
#include "l7/l7.h"

/* ---- the recording analyzer --------------------------------------------- */

struct rec_state {
    int inited;
    char first[16];
    struct mc_l7_buf held; /* every client byte, through the capped collector */
};

static char got[2][4096];
static size_t got_len[2];
static uint32_t gaps[2][8];
static int n_gaps[2];
static int n_end, n_release, n_refused;

static int rec_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir;
    return n >= 3 && memcmp(p, "REC", 3) == 0;
}

static void rec_init(struct mc_l7_ctx *x, void *st)
{
    (void)x;
    ((struct rec_state *)st)->inited = 1;
}

static void rec_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    struct rec_state *s = st;
    assert_int_equal(s->inited, 1);
    assert_true(got_len[dir] + n <= sizeof(got[dir]));
    if (!got_len[0] && !got_len[1])
        memcpy(s->first, p, n < sizeof(s->first) - 1 ? n : sizeof(s->first) - 1);
    memcpy(got[dir] + got_len[dir], p, n);
    got_len[dir] += n;
    if (dir == 0 && mc_l7_buf_append(x, &s->held, p, n) != 0)
        n_refused++;
}

static void rec_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    (void)x, (void)st;
    if (n_gaps[dir] < 8)
        gaps[dir][n_gaps[dir]++] = len;
}

static void rec_end(struct mc_l7_ctx *x, void *st)
{
    struct rec_state *s = st;
    n_end++;
    mc_l7_tx_begin(x, mc_l7_flow(x)->first_ms + 5);
    mc_l7_tx_str(x, "recFirst", s->first, strlen(s->first));
    mc_l7_tx_u64(x, "recBytes", got_len[0] + got_len[1]);
    mc_l7_tx_end(x);
}

static void rec_release(void *st)
{
    mc_l7_buf_free(&((struct rec_state *)st)->held);
    n_release++;
}

static void get_first(const struct mc_ie_env *env, struct mc_ie_val *v);

static const struct mc_ie rec_fields[] = {
    { "recFirst", 250, MC_PEN_MC, MC_IE_VARLEN, 0, MC_IE_T_STRING, MC_IE_F_NOV9, NULL, get_first, "test", 15 },
    { "recBytes", 251, MC_PEN_MC, 8, 0, MC_IE_T_UNSIGNED, MC_IE_F_NOV9, NULL, get_first, "test", 0 },
};

static const struct mc_l7_analyzer rec = {
    .name = "rec",
    .l4 = MC_L7_TCP | MC_L7_UDP,
    .ports = { 9999 },
    .detect = rec_detect,
    .state_size = sizeof(struct rec_state),
    .init = rec_init,
    .data = rec_data,
    .gap = rec_gap,
    .end = rec_end,
    .release = rec_release,
    .fields = rec_fields,
    .n_fields = 2,
};

static void get_first(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rec_state *s = mc_l7_state_of(env->f, &rec);
    v->str = s ? s->first : "";
    v->str_len = strlen(v->str);
}

static const struct mc_l7_analyzer *const only_rec[] = { &rec };

/* ---- harness ------------------------------------------------------------- */

static struct mc_l7 *l7;
static char log_path[64];

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(l7, f);
}

static struct mc_flow_table *setup_stage(uint32_t max_buffer, int with_log)
{
    memset(got, 0, sizeof(got));
    memset(got_len, 0, sizeof(got_len));
    memset(n_gaps, 0, sizeof(n_gaps));
    n_end = n_release = n_refused = 0;
    mc_ctr_reset();
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_rec;
    cfg.n_analyzers = 1;
    if (max_buffer)
        cfg.max_buffer = max_buffer;
    if (with_log) {
        snprintf(log_path, sizeof(log_path), "/tmp/test_l7_%d.json", (int)getpid());
        unlink(log_path);
        cfg.log_path = log_path;
    }
    char err[256];
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 64;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(t);
    mc_l7_attach(l7, t);
    return t;
}

static void teardown_stage(struct mc_flow_table *t)
{
    mc_flow_table_free(t);
    mc_l7_free(l7);
    l7 = NULL;
    if (log_path[0])
        unlink(log_path);
    log_path[0] = 0;
}

#define SYN 0x02
#define ACK 0x10

/* dir 0: client 10.0.0.1:40000 -> server 10.0.0.2:port */
static void seg(struct mc_flow_table *t, int dir, uint16_t port, uint8_t proto, uint32_t seq, uint32_t ack,
                uint8_t flags, const char *data, uint64_t ts)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = dir ? 2 : 1;
    p.dst.b[0] = 10, p.dst.b[3] = dir ? 1 : 2;
    p.sport = dir ? port : 40000;
    p.dport = dir ? 40000 : port;
    p.proto = proto;
    p.has_l4 = 1;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.tcp_flags = flags;
    p.ts_ms = ts;
    p.payload = (const uint8_t *)data;
    p.payload_len = data ? strlen(data) : 0;
    p.ip_len = 40 + (uint32_t)p.payload_len;
    mc_flow_process(t, &p);
}

static void handshake(struct mc_flow_table *t, uint16_t port)
{
    seg(t, 0, port, 6, 1000, 0, SYN, NULL, 1000);
    seg(t, 1, port, 6, 5000, 1001, SYN | ACK, NULL, 1001);
}

/* ---- tests --------------------------------------------------------------- */

static void test_in_order_and_retransmit(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    handshake(t, 9999);
    seg(t, 0, 9999, 6, 1001, 5001, ACK, "hello ", 1002);
    seg(t, 0, 9999, 6, 1001, 5001, ACK, "hello ", 1003); /* retransmission */
    seg(t, 0, 9999, 6, 1007, 5001, ACK, "world", 1004);
    seg(t, 1, 9999, 6, 5001, 1012, ACK, "ok", 1005);
    assert_int_equal(got_len[0], 11);
    assert_memory_equal(got[0], "hello world", 11);
    assert_memory_equal(got[1], "ok", 2);
    assert_int_equal(MC_CTR_GET(l7, tcp_retransmit), 1);
    assert_int_equal(MC_CTR_GET(l7, attached_port), 1);
    assert_int_equal(MC_CTR_GET(l7, tcp_mid_stream), 0);
    assert_int_equal(n_gaps[0] + n_gaps[1], 0);
    teardown_stage(t);
}

static void test_out_of_order_and_overlap(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    handshake(t, 9999);
    seg(t, 0, 9999, 6, 1009, 5001, ACK, "CCCC", 1002); /* bytes 8..11 */
    seg(t, 0, 9999, 6, 1005, 5001, ACK, "BBBB", 1003); /* 4..7 */
    assert_int_equal(got_len[0], 0);
    seg(t, 0, 9999, 6, 1001, 5001, ACK, "AAAA", 1004); /* 0..3: everything flows */
    assert_int_equal(got_len[0], 12);
    assert_memory_equal(got[0], "AAAABBBBCCCC", 12);
    /* overlap: 10..15, of which 12..15 are new */
    seg(t, 0, 9999, 6, 1011, 5001, ACK, "CCDDDD", 1005);
    assert_int_equal(got_len[0], 16);
    assert_memory_equal(got[0] + 12, "DDDD", 4);
    assert_int_equal(MC_CTR_GET(l7, tcp_out_of_order), 2);
    assert_int_equal(MC_CTR_GET(l7, tcp_overlap), 1);
    assert_int_equal(n_gaps[0], 0);
    teardown_stage(t);
}

static void test_gap_on_peer_ack(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    handshake(t, 9999);
    seg(t, 0, 9999, 6, 1001, 5001, ACK, "aaaa", 1002);
    seg(t, 0, 9999, 6, 1009, 5001, ACK, "cccc", 1003); /* 1005..1008 never captured */
    assert_int_equal(got_len[0], 4);
    seg(t, 1, 9999, 6, 5001, 1013, ACK, NULL, 1004); /* the server got them all */
    assert_int_equal(n_gaps[0], 1);
    assert_int_equal(gaps[0][0], 4);
    assert_int_equal(got_len[0], 8);
    assert_memory_equal(got[0], "aaaacccc", 8);
    assert_int_equal(MC_CTR_GET(l7, tcp_gap_bytes), 4);
    teardown_stage(t);
}

static void test_gap_at_end(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    handshake(t, 9999);
    seg(t, 0, 9999, 6, 1001, 5001, ACK, "aa", 1002);
    seg(t, 0, 9999, 6, 1013, 5001, ACK, "zz", 1003);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_gaps[0], 1);
    assert_int_equal(gaps[0][0], 10);
    assert_memory_equal(got[0], "aazz", 4);
    assert_int_equal(n_end, 1);
    assert_int_equal(n_release, 1);
    teardown_stage(t);
}

static void test_out_of_order_budget(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(4096, 0); /* 1 KiB of early segments per direction */
    handshake(t, 9999);
    static char chunk[401];
    memset(chunk, 'x', 400);
    /* a hole at 1001..1100, then 3 x 400 bytes: the third does not fit */
    seg(t, 0, 9999, 6, 1101, 5001, ACK, chunk, 1002);
    seg(t, 0, 9999, 6, 1501, 5001, ACK, chunk, 1003);
    assert_int_equal(got_len[0], 0);
    seg(t, 0, 9999, 6, 1901, 5001, ACK, chunk, 1004);
    assert_int_equal(MC_CTR_GET(l7, tcp_ooo_dropped), 1);
    assert_int_equal(n_gaps[0], 1);
    assert_int_equal(gaps[0][0], 100);
    assert_int_equal(got_len[0], 1200);
    teardown_stage(t);
}

static void test_mid_stream_and_payload_detect(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    /* no SYN, a port no analyzer claims: detect() finds it from the bytes */
    seg(t, 0, 7777, 6, 123456, 1, ACK, "REC hello", 1000);
    seg(t, 0, 7777, 6, 123465, 1, ACK, " again", 1001);
    assert_int_equal(MC_CTR_GET(l7, attached_payload), 1);
    assert_int_equal(MC_CTR_GET(l7, tcp_mid_stream), 1);
    assert_memory_equal(got[0], "REC hello again", 15);
    teardown_stage(t);
}

static void test_sequence_wraps(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    seg(t, 0, 9999, 6, 0xfffffffdu, 0, SYN, NULL, 1000);
    seg(t, 0, 9999, 6, 0xfffffffeu, 0, ACK, "abcd", 1001); /* crosses 2^32 */
    seg(t, 0, 9999, 6, 2, 0, ACK, "ef", 1002);
    assert_int_equal(got_len[0], 6);
    assert_memory_equal(got[0], "abcdef", 6);
    teardown_stage(t);
}

static void test_udp_and_no_attach(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    seg(t, 0, 9999, 17, 0, 0, 0, "one", 1000);
    seg(t, 1, 9999, 17, 0, 0, 0, "two", 1001);
    seg(t, 0, 9999, 17, 0, 0, 0, "three", 1002);
    assert_memory_equal(got[0], "onethree", 8);
    assert_memory_equal(got[1], "two", 3);
    /* a flow nothing claims: no analyzer, no calls */
    seg(t, 0, 1234, 17, 0, 0, 0, "nothing", 1003);
    assert_int_equal(got_len[0], 8);
    assert_int_equal(MC_CTR_GET(l7, flows_attached), 1);
    teardown_stage(t);
}

static void test_transaction_log(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 1);
    seg(t, 0, 9999, 17, 0, 0, 0, "quote\" and \x01", 1000);
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_l7_flush(l7);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line,
                        "{\"protocol\":\"rec\",\"sourceIPv4Address\":\"10.0.0.1\",\"destinationIPv4Address\":"
                        "\"10.0.0.2\",\"sourceTransportPort\":40000,\"destinationTransportPort\":9999,"
                        "\"protocolIdentifier\":17,\"flowStartMilliseconds\":1000,"
                        "\"transactionStartMilliseconds\":1005,\"recFirst\":\"quote\\\" and \\u0001\","
                        "\"recBytes\":12}\n");
    assert_int_equal(MC_CTR_GET(l7, transactions), 1);
    teardown_stage(t);
}

static void test_state_released_with_table(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    handshake(t, 9999);
    seg(t, 0, 9999, 6, 1009, 5001, ACK, "held", 1002); /* an early segment is held */
    mc_flow_table_free(t); /* no export: the destructor still frees everything (ASan checks) */
    assert_int_equal(n_release, 1);
    assert_int_equal(n_end, 0);
    mc_l7_free(l7);
    l7 = NULL;
}

static void test_pipeline_keeps_payload(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(0, 0);
    static uint8_t frame[100];
    for (int i = 0; i < 5; i++) {
        struct mc_pkt *p = mc_flow_next_pkt(t);
        memset(p, 0, sizeof(*p));
        memset(frame, 0, sizeof(frame));
        p->ip_ver = 4;
        p->src.b[0] = 10, p->src.b[3] = 1;
        p->dst.b[0] = 10, p->dst.b[3] = 2;
        p->sport = 40000, p->dport = 9999, p->proto = 17, p->has_l4 = 1;
        p->ts_ms = 1000 + (uint64_t)i;
        frame[28] = (uint8_t)('a' + i); /* the one payload byte after a 20 + 8 byte header */
        p->l3 = frame;
        p->l3_len = 29;
        p->payload = frame + 28;
        p->payload_len = 1;
        p->ip_len = 29;
        mc_flow_submit(t); /* the frame buffer is reused by the next packet, like libpcap's */
    }
    mc_flow_drain(t);
    assert_int_equal(got_len[0], 5);
    assert_memory_equal(got[0], "abcde", 5);
    teardown_stage(t);
}

/* The length-framed body collector, driven from inside a callback (its context is the stage's). */
static struct mc_l7_body body;
static int body_flags[8], n_body_calls;
static size_t body_out_len;
static char body_out[64];
static int body_out_null;

static void body_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    (void)st, (void)dir;
    const uint8_t *b;
    size_t bl;
    while (n) {
        int r = mc_l7_body_take(x, &body, &p, &n, &b, &bl);
        body_flags[n_body_calls++ & 7] = r;
        if (r & MC_L7_BODY_DONE) {
            body_out_null = b == NULL;
            body_out_len = bl;
            if (b)
                memcpy(body_out, b, bl < sizeof(body_out) ? bl : sizeof(body_out));
            break;
        }
    }
}

static void test_body_collector(void **state)
{
    (void)state;
    static const struct mc_l7_analyzer coll = { .name = "coll", .l4 = MC_L7_UDP, .ports = { 9998 }, .data = body_data };
    static const struct mc_l7_analyzer *const list[] = { &coll };
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = list;
    cfg.n_analyzers = 1;
    cfg.max_buffer = 4096; /* a collector holds 1 KiB */
    char err[128];
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 8;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    mc_l7_attach(l7, t);
    mc_ctr_reset();

    /* whole in one piece: handed over in place, nothing kept */
    mc_l7_body_start(&body, 5, 5);
    n_body_calls = 0;
    seg(t, 0, 9998, 17, 0, 0, 0, "abcdeXYZ", 1000);
    assert_int_equal(body_flags[0], MC_L7_BODY_DONE);
    assert_int_equal(body_out_len, 5);
    assert_memory_equal(body_out, "abcde", 5);
    assert_int_equal(body.buf.len, 0);

    /* split, 3 of 8 bytes kept */
    mc_l7_body_start(&body, 8, 3);
    n_body_calls = 0;
    seg(t, 0, 9998, 17, 0, 0, 0, "ABCDE", 1001);
    assert_int_equal(body_flags[0], 0);
    seg(t, 0, 9998, 17, 0, 0, 0, "FGH", 1002);
    assert_int_equal(body_flags[1], MC_L7_BODY_DONE);
    assert_int_equal(body_out_len, 3);
    assert_memory_equal(body_out, "ABC", 3);

    /* a hole inside the kept prefix breaks it; one past the rest is refused */
    mc_l7_body_start(&body, 10, 10);
    n_body_calls = 0;
    seg(t, 0, 9998, 17, 0, 0, 0, "1234", 1003);
    const uint8_t *b;
    size_t bl;
    assert_int_equal(mc_l7_body_gap(&body, 7, &b, &bl), -1);
    assert_int_equal(body.got, 4);
    assert_int_equal(mc_l7_body_gap(&body, 6, &b, &bl), MC_L7_BODY_DONE);
    assert_null(b);
    assert_int_equal(bl, 0);

    /* a prefix over the collector's cap: refused, counted, the body still ends */
    mc_l7_body_start(&body, 2000, 2000);
    n_body_calls = 0;
    static char big[1201];
    memset(big, 'b', 1200);
    seg(t, 0, 9998, 17, 0, 0, 0, big, 1004);
    assert_int_equal(body_flags[0], MC_L7_BODY_REFUSED);
    assert_int_equal(MC_CTR_GET(l7, buffer_exceeded), 1);
    memset(big, 'c', 800);
    big[800] = 0;
    seg(t, 0, 9998, 17, 0, 0, 0, big, 1005);
    assert_int_equal(body_flags[1], MC_L7_BODY_DONE);
    assert_true(body_out_null);
    mc_l7_buf_free(&body.buf);
    mc_flow_table_free(t);
    mc_l7_free(l7);
    l7 = NULL;
}

static void test_only_names_analyzers(void **state)
{
    (void)state;
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_rec;
    cfg.n_analyzers = 1;
    char err[256];
    cfg.only = "rec,nosuch";
    assert_null(mc_l7_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "nosuch"));
    cfg.only = "none";
    struct mc_l7 *l = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l);
    mc_l7_free(l);
}

static void test_buffer_cap(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup_stage(4096, 0); /* a message buffer holds 1 KiB */
    static char chunk[601];
    memset(chunk, 'm', 600);
    seg(t, 0, 9999, 17, 0, 0, 0, chunk, 1000);
    assert_int_equal(n_refused, 0);
    seg(t, 0, 9999, 17, 0, 0, 0, chunk, 1001); /* 1200 > 1024: refused whole, counted */
    assert_int_equal(n_refused, 1);
    assert_int_equal(MC_CTR_GET(l7, buffer_exceeded), 1);
    seg(t, 0, 9999, 17, 0, 0, 0, "small", 1002); /* still room for this */
    assert_int_equal(n_refused, 1);
    teardown_stage(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_retransmit),
        cmocka_unit_test(test_out_of_order_and_overlap),
        cmocka_unit_test(test_gap_on_peer_ack),
        cmocka_unit_test(test_gap_at_end),
        cmocka_unit_test(test_out_of_order_budget),
        cmocka_unit_test(test_mid_stream_and_payload_detect),
        cmocka_unit_test(test_sequence_wraps),
        cmocka_unit_test(test_udp_and_no_attach),
        cmocka_unit_test(test_transaction_log),
        cmocka_unit_test(test_state_released_with_table),
        cmocka_unit_test(test_pipeline_keeps_payload),
        cmocka_unit_test(test_only_names_analyzers),
        cmocka_unit_test(test_buffer_cap),
        cmocka_unit_test(test_body_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
