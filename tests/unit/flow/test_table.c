/* test_table.c - flow table: direction, timeouts, eviction, TCP end, fragments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow/flow.h"

#define MAX_OUT 64
static struct mc_flow out[MAX_OUT];
static uint32_t out_tids[MAX_OUT][2]; /* the extension's per-direction tunnel ids, read while it lives */
static int n_out;

static void collect(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    assert_true(n_out < MAX_OUT);
    out_tids[n_out][0] = f->ext ? f->ext->tunnel_ids[0] : 0;
    out_tids[n_out][1] = f->ext ? f->ext->tunnel_ids[1] : 0;
    out[n_out++] = *f;
}

static struct mc_pkt mk(uint8_t a, uint8_t b, uint16_t sp, uint16_t dp, uint8_t proto, uint64_t ts)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = a;
    p.dst.b[0] = 10, p.dst.b[3] = b;
    p.sport = sp, p.dport = dp, p.proto = proto;
    p.ts_ms = ts;
    p.ip_len = 100;
    p.has_l4 = 1;
    return p;
}

static struct mc_flow_table *table(uint32_t max)
{
    struct mc_flow_config cfg;
    mc_flow_config_defaults(&cfg);
    cfg.max_flows = max;
    n_out = 0;
    mc_ctr_reset();
    struct mc_flow_table *t = mc_flow_table_new(&cfg, collect, NULL);
    assert_non_null(t);
    return t;
}

static void test_bidirectional(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt p1 = mk(1, 2, 1000, 53, 17, 1000);
    struct mc_pkt p2 = mk(2, 1, 53, 1000, 17, 1010);
    p2.ip_len = 300;
    mc_flow_process(t, &p1);
    mc_flow_process(t, &p2);
    mc_flow_process(t, &p1);
    assert_int_equal(mc_flow_active(t), 1);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_out, 1);
    assert_int_equal(out[0].key.addr[0].b[3], 1);
    assert_int_equal(out[0].pkts[0], 2);
    assert_int_equal(out[0].pkts[1], 1);
    assert_int_equal(out[0].octets[0], 200);
    assert_int_equal(out[0].octets[1], 300);
    assert_int_equal(mc_flow_start_ms(&out[0], 1), 1010);
    assert_int_equal(mc_flow_end_ms(&out[0], 0), 1010);
    assert_int_equal(out[0].end_reason, MC_END_FORCED);
    mc_flow_table_free(t);
}

static void test_synack_first_makes_peer_client(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt p = mk(2, 1, 80, 5555, 6, 1000);
    p.tcp_flags = 0x12;
    mc_flow_process(t, &p);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_out, 1);
    assert_int_equal(out[0].key.addr[0].b[3], 1);
    assert_int_equal(out[0].key.port[1], 80);
    assert_int_equal(out[0].pkts[1], 1);
    assert_int_equal(out[0].pkts[0], 0);
    mc_flow_table_free(t);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt a = mk(1, 2, 1, 2, 17, 1000);
    struct mc_pkt b = mk(1, 3, 1, 2, 17, 20000);
    mc_flow_process(t, &a);
    mc_flow_process(t, &b);
    assert_int_equal(mc_flow_tick(t, 30999), 0);
    assert_int_equal(mc_flow_tick(t, 31000), 1);
    assert_int_equal(out[0].key.addr[1].b[3], 2);
    assert_int_equal(out[0].end_reason, MC_END_IDLE);
    assert_int_equal(MC_CTR_GET(flow, expired_idle), 1);
    assert_int_equal(mc_flow_tick(t, 50000), 1);
    assert_int_equal(mc_flow_active(t), 0);
    mc_flow_table_free(t);
}

static void test_active_timeout_keeps_orientation(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    for (uint64_t ts = 0; ts <= 130000; ts += 10000) {
        struct mc_pkt p = (ts / 10000) % 2 ? mk(2, 1, 80, 1234, 6, ts) : mk(1, 2, 1234, 80, 6, ts);
        mc_flow_process(t, &p);
    }
    assert_int_equal(n_out, 1);
    assert_int_equal(out[0].end_reason, MC_END_ACTIVE);
    assert_int_equal(out[0].pkts[0] + out[0].pkts[1], 12);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_out, 2);
    /* the continuation was opened by a server packet but keeps the client */
    assert_int_equal(out[1].key.addr[0].b[3], 1);
    assert_int_equal(out[1].pkts[0] + out[1].pkts[1], 2);
    mc_flow_table_free(t);
}

static void test_table_full_evicts_lru(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(4);
    for (int i = 0; i < 4; i++) {
        struct mc_pkt p = mk(1, (uint8_t)(10 + i), 1, 2, 17, 1000 + i);
        mc_flow_process(t, &p);
    }
    struct mc_pkt again = mk(1, 10, 1, 2, 17, 2000); /* flow 10 becomes most recent */
    mc_flow_process(t, &again);
    struct mc_pkt extra = mk(1, 99, 1, 2, 17, 2001);
    mc_flow_process(t, &extra);
    assert_int_equal(n_out, 1);
    assert_int_equal(out[0].key.addr[1].b[3], 11);
    assert_int_equal(out[0].end_reason, MC_END_RESOURCES);
    assert_int_equal(MC_CTR_GET(flow, evicted_table_full), 1);
    assert_int_equal(mc_flow_active(t), 4);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_out, 5);
    mc_flow_table_free(t);
}

static void test_tcp_end(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt syn = mk(1, 2, 1234, 80, 6, 0);
    syn.tcp_flags = 0x02;
    struct mc_pkt fin1 = mk(1, 2, 1234, 80, 6, 100);
    fin1.tcp_flags = 0x11;
    struct mc_pkt fin2 = mk(2, 1, 80, 1234, 6, 110);
    fin2.tcp_flags = 0x11;
    struct mc_pkt ack = mk(1, 2, 1234, 80, 6, 120);
    ack.tcp_flags = 0x10;
    mc_flow_process(t, &syn);
    mc_flow_process(t, &fin1);
    mc_flow_process(t, &fin2);
    mc_flow_process(t, &ack); /* the last ACK still lands in the flow */
    assert_int_equal(mc_flow_tick(t, 1000), 0);
    assert_int_equal(mc_flow_tick(t, 2120), 1);
    assert_int_equal(out[0].end_reason, MC_END_FIN);
    assert_int_equal(out[0].pkts[0], 3);
    assert_int_equal(out[0].tcp_flags[0], 0x13);
    /* a new SYN on an ended 5-tuple starts a new flow */
    mc_flow_process(t, &syn);
    mc_flow_process(t, &fin1);
    mc_flow_process(t, &fin2);
    struct mc_pkt syn2 = syn;
    syn2.ts_ms = 500;
    mc_flow_process(t, &syn2);
    assert_int_equal(n_out, 2);
    assert_int_equal(mc_flow_active(t), 1);
    mc_flow_table_free(t);
}

static void test_fragments_follow_first(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt first = mk(1, 2, 5000, 53, 17, 0);
    first.frag = first.frag_first = 1;
    first.frag_ver = 4, first.frag_proto = 17, first.frag_id = 77;
    first.frag_src = first.src, first.frag_dst = first.dst;
    struct mc_pkt later = mk(1, 2, 0, 0, 17, 1);
    later.has_l4 = 0;
    later.frag = 1;
    later.frag_ver = 4, later.frag_proto = 17, later.frag_id = 77;
    later.frag_src = later.src, later.frag_dst = later.dst;
    mc_flow_process(t, &first);
    mc_flow_process(t, &later);
    assert_int_equal(mc_flow_active(t), 1);
    later.frag_id = 78; /* no first fragment seen: its own port-less flow */
    mc_flow_process(t, &later);
    assert_int_equal(mc_flow_active(t), 2);
    assert_int_equal(MC_CTR_GET(flow, frag_matched), 1);
    assert_int_equal(MC_CTR_GET(flow, frag_no_first), 1);
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
}

/* A server's later fragment counts in its own direction, not the flow's forward one. */
static void test_fragments_keep_direction(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt query = mk(1, 2, 5000, 53, 17, 0);
    struct mc_pkt first = mk(2, 1, 53, 5000, 17, 1);
    first.frag = first.frag_first = 1;
    first.frag_ver = 4, first.frag_proto = 17, first.frag_id = 9;
    first.frag_src = first.src, first.frag_dst = first.dst;
    struct mc_pkt later = mk(2, 1, 0, 0, 17, 2);
    later.has_l4 = 0;
    later.frag = 1;
    later.frag_ver = 4, later.frag_proto = 17, later.frag_id = 9;
    later.frag_src = later.src, later.frag_dst = later.dst;
    mc_flow_process(t, &query);
    mc_flow_process(t, &first);
    mc_flow_process(t, &later);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(n_out, 1);
    assert_int_equal(out[0].pkts[MC_FLOW_FWD], 1);
    assert_int_equal(out[0].pkts[MC_FLOW_REV], 2);
    mc_flow_table_free(t);
}

/* A reassembled datagram is one packet standing for every frame that carried it. */
static void test_reassembled_frames(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt p = mk(1, 2, 5000, 53, 17, 0);
    p.frag_frames = 3;
    p.ip_len = 3000;
    mc_flow_process(t, &p);
    p = mk(2, 1, 53, 5000, 17, 1); /* an ordinary frame: frag_frames 0 counts one */
    mc_flow_process(t, &p);
    assert_int_equal(MC_CTR_GET(flow, packets), 4);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(out[0].pkts[MC_FLOW_FWD], 3);
    assert_int_equal(out[0].octets[MC_FLOW_FWD], 3000);
    assert_int_equal(out[0].pkts[MC_FLOW_REV], 1);
    mc_flow_table_free(t);
}

static void test_tunnel_ext(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    struct mc_pkt p = mk(1, 2, 1, 2, 17, 0);
    p.tunnel = MC_TUNNEL_GTPU, p.tunnel_id = 0x1234, p.tunnel_depth = 1, p.outer_ver = 4;
    p.outer_src.b[0] = 192;
    mc_flow_process(t, &p);
    /* GTP-U: the answer comes with the other side's TEID, in the same flow (the inner 5-tuple) */
    struct mc_pkt q = mk(2, 1, 2, 1, 17, 0);
    q.tunnel = MC_TUNNEL_GTPU, q.tunnel_id = 0x9999, q.tunnel_depth = 1, q.outer_ver = 4;
    mc_flow_process(t, &q);
    struct mc_pkt moved = p;
    moved.tunnel_id = 0x4321; /* a handover's new TEID: still the flow, its first TEID kept */
    mc_flow_process(t, &moved);
    assert_int_equal(mc_flow_active(t), 1);
    /* VXLAN (GRE keys alike): another id is another network's flow */
    struct mc_pkt v = p;
    v.tunnel = MC_TUNNEL_VXLAN, v.tunnel_id = 5;
    mc_flow_process(t, &v);
    v.tunnel_id = 6;
    mc_flow_process(t, &v);
    assert_int_equal(mc_flow_active(t), 3);
    mc_flow_flush_all(t, MC_END_FORCED);
    int gtpu = -1;
    for (int i = 0; i < n_out; i++)
        if (out[i].key.tunnel == MC_TUNNEL_GTPU)
            gtpu = i;
    assert_true(gtpu >= 0);
    assert_non_null(out[gtpu].ext);
    assert_int_equal(out[gtpu].key.tunnel_id, 0);
    assert_int_equal(out[gtpu].pkts[0] + out[gtpu].pkts[1], 3);
    assert_int_equal(out_tids[gtpu][0], 0x1234);
    assert_int_equal(out_tids[gtpu][1], 0x9999);
    mc_flow_table_free(t);
}

static uint32_t visited[16];
static int n_visited;

static void visit(void *ctx, struct mc_flow *f, uint32_t slot)
{
    struct mc_flow_table *t = ctx;
    assert_int_equal(mc_flow_slot(t, f), slot);
    assert_true(n_visited < 16);
    visited[n_visited++] = slot;
}

static void test_dirty_tracking(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(4);
    assert_int_equal(mc_flow_track_dirty(t), 0);
    struct mc_pkt a = mk(1, 2, 1, 2, 17, 0), b = mk(1, 3, 1, 2, 17, 1);
    mc_flow_process(t, &a);
    mc_flow_process(t, &a);
    mc_flow_process(t, &b);
    n_visited = 0;
    mc_flow_dirty_drain(t, visit, t);
    assert_int_equal(n_visited, 2); /* each flow once, however many packets */
    n_visited = 0;
    mc_flow_dirty_drain(t, visit, t);
    assert_int_equal(n_visited, 0);
    mc_flow_process(t, &b);
    mc_flow_flush_all(t, MC_END_FORCED); /* exported flows are never visited */
    n_visited = 0;
    mc_flow_dirty_drain(t, visit, t);
    assert_int_equal(n_visited, 0);
    /* more dirty flows than slots: the drain falls back to a scan */
    for (int i = 0; i < 10; i++) {
        struct mc_pkt p = mk(1, (uint8_t)(20 + i), 1, 2, 17, 10 + i);
        mc_flow_process(t, &p);
    }
    n_visited = 0;
    mc_flow_dirty_drain(t, visit, t);
    assert_int_equal(n_visited, 4);
    mc_flow_table_free(t);
}

/* Every flow held is visited once, whether dirty or not; freed slots never are, and the dirty list stays. */
static void test_visit_live(void **state)
{
    (void)state;
    struct mc_flow_table *t = table(16);
    assert_int_equal(mc_flow_track_dirty(t), 0);
    for (int i = 0; i < 6; i++) {
        struct mc_pkt p = mk(1, (uint8_t)(20 + i), 1, 2, 6, (uint64_t)i);
        mc_flow_process(t, &p);
    }
    /* the third flow ends with a RST and is exported by a tick: its slot is freed */
    struct mc_pkt rst = mk(1, 22, 1, 2, 6, 7);
    rst.tcp_flags = 0x04;
    mc_flow_process(t, &rst);
    mc_flow_tick(t, 5000); /* past the TCP end timeout, not the idle one */
    assert_int_equal(n_out, 1);
    assert_int_equal(mc_flow_active(t), 5);
    n_visited = 0;
    mc_flow_visit_live(t, visit, NULL, t);
    assert_int_equal(n_visited, 5);
    for (int i = 0; i < n_visited; i++)
        for (int j = i + 1; j < n_visited; j++)
            assert_true(visited[i] != visited[j]);
    n_visited = 0;
    mc_flow_dirty_drain(t, visit, t); /* the live flows are still listed dirty */
    assert_int_equal(n_visited, (int)mc_flow_active(t));
    mc_flow_table_free(t);
}

static uint8_t hook_l3[4][64];
static size_t hook_l3_len[4];
static int n_hooked;

static void copy_l3(void *ctx, struct mc_flow *f, const struct mc_pkt *p, int dir)
{
    (void)ctx, (void)f, (void)dir;
    assert_true(n_hooked < 4 && p->l3_len <= sizeof(hook_l3[0]));
    memcpy(hook_l3[n_hooked], p->l3, p->l3_len);
    hook_l3_len[n_hooked++] = p->l3_len;
}

static void test_pipeline_keeps_headers_only_datagrams(void **state)
{
    (void)state;
    /* a hook (nDPI) reads the IP header of a SYN or bare ACK too: metered
     * MC_FLOW_PIPE packets later, it must not see the reused capture buffer */
    struct mc_flow_table *t = table(16);
    mc_flow_set_packet_hook(t, copy_l3, NULL);
    n_hooked = 0;
    static uint8_t frame[40];
    for (int i = 0; i < 4; i++) {
        struct mc_pkt *p = mc_flow_next_pkt(t);
        *p = mk(1, 2, 1000, 80, 6, 1000 + (uint64_t)i);
        memset(frame, 0x40 + i, sizeof(frame));
        p->l3 = frame;
        p->l3_len = sizeof(frame);
        p->payload = frame + sizeof(frame);
        p->payload_len = 0;
        mc_flow_submit(t);
    }
    memset(frame, 0xee, sizeof(frame)); /* the capture moved on */
    mc_flow_drain(t);
    assert_int_equal(n_hooked, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hook_l3_len[i], sizeof(frame));
        for (size_t k = 0; k < sizeof(frame); k++)
            assert_int_equal(hook_l3[i][k], 0x40 + i);
    }
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
}

static void test_record_size(void **state)
{
    (void)state;
    /* the budget documented in docs/internals/flow-table.md */
    assert_true(sizeof(struct mc_flow) <= 128);
    assert_true(mc_flow_table_bytes(1u << 20) < (size_t)150 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bidirectional),
        cmocka_unit_test(test_synack_first_makes_peer_client),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_active_timeout_keeps_orientation),
        cmocka_unit_test(test_table_full_evicts_lru),
        cmocka_unit_test(test_tcp_end),
        cmocka_unit_test(test_fragments_follow_first),
        cmocka_unit_test(test_fragments_keep_direction),
        cmocka_unit_test(test_reassembled_frames),
        cmocka_unit_test(test_tunnel_ext),
        cmocka_unit_test(test_record_size),
        cmocka_unit_test(test_pipeline_keeps_headers_only_datagrams),
        cmocka_unit_test(test_dirty_tracking),
        cmocka_unit_test(test_visit_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
