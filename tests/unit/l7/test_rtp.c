/*
 * test_rtp.c - the RTP/RTCP analyzer through the real L7 stage and flow
 * table: a clean stream, loss across the sequence wrap-around, duplicates
 * and reordering counted apart, RFC 3550 jitter against hand-computed
 * values (microsecond arrivals), the E-model table, RTCP compound packets
 * (own flow and multiplexed), the call layer's interface, the flow record's
 * own and reverse elements; hostile inputs (padding larger than the packet,
 * extension and CSRC lengths that lie, RTCP counts and lengths that lie,
 * SSRC flapping) and flows that fail validation, which are given back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/counters.h"
#include "flow/flow.h"
#include "l7/l7.h"
#include "l7/rtp.h"

/* ---- harness ------------------------------------------------------------- */

static const struct mc_l7_analyzer *const only_rtp[] = { &mc_l7_rtp };
static struct mc_l7 *l7;
static struct mc_flow *exported;   /* the flow being exported, inside on_export */
static void (*check_export)(struct mc_flow *f);

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(l7, f);
    exported = f;
    if (check_export)
        check_export(f);
}

static struct mc_flow_table *setup(void)
{
    memset(mc_l7_rtp_ctr, 0, sizeof(mc_l7_rtp_ctr));
    mc_ctr_reset();
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_rtp;
    cfg.n_analyzers = 1;
    char err[256];
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 16;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    assert_non_null(t);
    mc_l7_attach(l7, t);
    check_export = NULL;
    return t;
}

static void teardown(struct mc_flow_table *t)
{
    mc_flow_table_free(t);
    mc_l7_free(l7);
    l7 = NULL;
}

#define T0_US 1700000000000000ull

/* One UDP datagram of dir between 10.0.0.1:40000 and 10.0.0.2:port at T0 + at_us. */
static void datagram(struct mc_flow_table *t, uint16_t port, int dir, uint64_t at_us, const uint8_t *b, size_t n)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
    p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
    p.sport = dir ? port : 40000;
    p.dport = dir ? 40000 : port;
    p.proto = 17;
    p.has_l4 = 1;
    p.ts_ms = (T0_US + at_us) / 1000;
    p.ts_us = (uint16_t)((T0_US + at_us) % 1000);
    p.payload = b;
    p.payload_len = n;
    p.ip_len = 28 + (uint32_t)n;
    mc_flow_process(t, &p);
}

/* An RTP packet with a 160-byte payload. */
static size_t rtp_pkt(uint8_t *b, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    b[0] = 0x80;
    b[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
    b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
    memset(b + 12, 0xd5, 160);
    return 172;
}

static void send_rtp(struct mc_flow_table *t, int dir, uint64_t at_us, uint8_t pt, uint16_t seq, uint32_t ts,
                     uint32_t ssrc)
{
    uint8_t b[200];
    size_t n = rtp_pkt(b, pt, 0, seq, ts, ssrc);
    datagram(t, 7078, dir, at_us, b, n);
}

/* The live flow of the test on `port` (7078 unless said). */
static struct mc_flow *found;
static uint16_t find_port = 7078;

static void visit(void *ctx, struct mc_flow *f, uint32_t slot)
{
    (void)ctx, (void)slot;
    if (f->key.port[0] == find_port || f->key.port[1] == find_port)
        found = f;
}

static struct mc_flow *the_flow(struct mc_flow_table *t)
{
    found = NULL;
    mc_flow_visit_live(t, visit, NULL, NULL);
    assert_non_null(found);
    return found;
}

static uint64_t ctr(const char *name)
{
    const uint64_t *c = mc_ctr_find(name);
    assert_non_null(c);
    return *c;
}

static double f64_field(const struct mc_flow *f, const char *name, int dir, int biflow)
{
    struct mc_ie_env env = { f, dir, biflow, 0, 0, 0 };
    for (size_t i = 0; i < mc_l7_rtp.n_fields; i++)
        if (strcmp(mc_l7_rtp.fields[i].name, name) == 0) {
            struct mc_ie_val v = { 0, NULL, NULL, 0 };
            mc_l7_rtp.fields[i].get(&env, &v);
            return mc_l7_rtp.fields[i].type == MC_IE_T_FLOAT64 ? mc_ie_f64_value(v.u) : (double)v.u;
        }
    fail_msg("no field %s", name);
    return 0;
}

/* ---- pure parser ---------------------------------------------------------- */

static void test_parse(void **state)
{
    (void)state;
    struct mc_rtp_hdr h;
    uint8_t b[200];
    memset(b, 0, sizeof(b));
    /* V=2 P X CC=2, marker, PT 8; 2 CSRCs, a 1-word extension, 20 bytes of payload + 4 of padding */
    b[0] = 0x80 | 0x20 | 0x10 | 2;
    b[1] = 0x80 | 8;
    b[2] = 0x12, b[3] = 0x34;
    b[11] = 7;
    b[20] = 0xbe, b[21] = 0xde, b[22] = 0, b[23] = 1; /* extension header: 1 word */
    size_t n = 12 + 8 + 4 + 4 + 20 + 4;
    b[n - 1] = 4;
    assert_int_equal(mc_rtp_parse(b, n, &h), MC_RTP_OK);
    assert_int_equal(h.pt, 8);
    assert_int_equal(h.marker, 1);
    assert_int_equal(h.seq, 0x1234);
    assert_int_equal(h.ssrc, 7);
    assert_int_equal(h.cc, 2);
    assert_int_equal(h.payload_off, 28);
    assert_int_equal(h.payload_len, 20);
    /* hostile: padding larger than what follows the header, or 0 */
    b[n - 1] = 30;
    assert_int_equal(mc_rtp_parse(b, n, &h), MC_RTP_BAD_PADDING);
    b[n - 1] = 0;
    assert_int_equal(mc_rtp_parse(b, n, &h), MC_RTP_BAD_PADDING);
    b[n - 1] = 4;
    /* the extension length lies */
    b[22] = 0x40;
    assert_int_equal(mc_rtp_parse(b, n, &h), MC_RTP_BAD_EXTENSION);
    b[22] = 0;
    /* the CSRC count runs past the packet */
    b[0] = 0x80 | 15;
    assert_int_equal(mc_rtp_parse(b, 40, &h), MC_RTP_BAD_CSRC);
    b[0] = 0x40;
    assert_int_equal(mc_rtp_parse(b, n, &h), MC_RTP_BAD_VERSION);
    assert_int_equal(mc_rtp_parse(b, 11, &h), MC_RTP_TOO_SHORT);
    /* detect(): RTP with an audio type; not PT 72-76 (RTCP's), not version 1 */
    rtp_pkt(b, 0, 0, 1, 1, 1);
    assert_true(mc_l7_rtp.detect(b, 40, 0));
    b[1] = 50;
    assert_false(mc_l7_rtp.detect(b, 40, 0));
    b[1] = 0x80 | 72; /* marker + 72 is 200: SR, whose lengths do not add up here */
    assert_false(mc_l7_rtp.detect(b, 40, 0));
}

/* ---- streams ----------------------------------------------------------------- */

static void test_clean_stream(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    for (int i = 0; i < 50; i++)
        send_rtp(t, 0, (uint64_t)i * 20000, 8, (uint16_t)(1000 + i), 8000u + 160u * (uint32_t)i, 0xabcd);
    const struct mc_flow *f = the_flow(t);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(f, 0);
    assert_non_null(s);
    assert_true(s->valid);
    assert_int_equal(s->ssrc, 0xabcd);
    assert_string_equal(s->codec, "PCMA");
    assert_int_equal(s->clock_hz, 8000);
    assert_int_equal(s->packets, 50);
    assert_int_equal(s->octets, 50 * 160);
    assert_int_equal(s->lost, 0);
    assert_int_equal(mc_rtp_expected(s), 50);
    assert_true(s->jitter_max_ms < 1e-9);
    assert_true(s->max_delta_ms > 19.999 && s->max_delta_ms < 20.001);
    assert_int_equal(s->last_us - s->first_us, 49 * 20000);
    assert_int_equal(mc_l7_rtp_stats(f, 1)->packets, 0);
    assert_int_equal(ctr("l7.rtp.streams"), 1);
    teardown(t);
}

static void test_wraparound_loss(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint16_t seqs[] = { 65530, 65531, 65532, 65533, 65534, 65535, /* 0, 1 lost */ 2, 3, 4, 5 };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
        send_rtp(t, 0, i * 20000, 0, seqs[i], 160u * (uint16_t)(seqs[i] - 65530), 9);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(the_flow(t), 0);
    assert_int_equal(s->packets, 10);
    assert_int_equal(s->base_seq, 65530);
    assert_int_equal(s->ext_max_seq, 65536 + 5);
    assert_int_equal(mc_rtp_expected(s), 12);
    assert_int_equal(s->lost, 2);
    assert_int_equal(s->duplicates, 0);
    assert_int_equal(s->reordered, 0);
    teardown(t);
}

static void test_duplicates_reordering(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint16_t seqs[] = { 1, 2, 3, 3, 5, 4, 6, 6, 2, 8 };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
        send_rtp(t, 0, i * 20000, 0, seqs[i], 160u * seqs[i], 9);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(the_flow(t), 0);
    assert_int_equal(s->packets, 10);     /* every packet, as tshark counts them */
    assert_int_equal(s->duplicates, 3);   /* 3, 6 and 2 again */
    assert_int_equal(s->reordered, 1);    /* 4 after 5 */
    assert_int_equal(s->lost, 1);         /* 7; tshark's "Lost" would be 8 - 10 = -2 */
    assert_int_equal(ctr("l7.rtp.duplicates"), 3);
    teardown(t);
}

/*
 * Jitter by hand (RFC 3550 A.8, ms): PCMU, 20 ms of timestamp per packet,
 * arrivals 0, 20, 45.5, 60.25 ms.  D2 = 20 - 20 = 0: J = 0; D3 = 25.5 - 20
 * = 5.5: J = 5.5/16 = 0.34375; D4 = 14.75 - 20 = -5.25: J = 0.34375 +
 * (5.25 - 0.34375)/16 = 0.650390625.  Regular packets 2-4: max J
 * 0.650390625, mean (0 + 0.34375 + 0.650390625)/3, max delta 25.5.
 */
static void test_jitter_by_hand(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint64_t at[] = { 0, 20000, 45500, 60250 };
    for (int i = 0; i < 4; i++)
        send_rtp(t, 0, at[i], 0, (uint16_t)(10 + i), 160u * (uint32_t)i, 5);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(the_flow(t), 0);
    assert_true(s->jitter_ms > 0.650390624 && s->jitter_ms < 0.650390626);
    assert_true(s->jitter_max_ms > 0.650390624 && s->jitter_max_ms < 0.650390626);
    double mean = (0 + 0.34375 + 0.650390625) / 3;
    assert_true(mc_rtp_jitter_mean_ms(s) > mean - 1e-9 && mc_rtp_jitter_mean_ms(s) < mean + 1e-9);
    assert_true(s->max_delta_ms > 25.4999 && s->max_delta_ms < 25.5001);
    /* a marker packet (talkspurt start after 1 s of silence) moves J but not the maxima */
    uint8_t b[200];
    size_t n = rtp_pkt(b, 0, 1, 14, 160u * 4 + 8000, 5);
    datagram(t, 7078, 0, 1060250 + 30000, b, n);
    assert_true(s->max_delta_ms < 25.5001);
    assert_true(s->jitter_max_ms < 0.650390626);
    assert_true(s->jitter_ms > 0.650390626); /* D = 30 ms */
    teardown(t);
}

/* ---- E-model ---------------------------------------------------------------------- */

static void test_emodel(void **state)
{
    (void)state;
    struct mc_rtp_stats s;
    double r, mos;
    memset(&s, 0, sizeof(s));
    s.valid = s.audio = 1;
    s.packets = 1000;
    strcpy(s.codec, "PCMA");
    /* no loss, no jitter: R = 93.2 - 0.024 * 10 */
    assert_int_equal(mc_rtp_quality(&s, &r, &mos), 1);
    assert_true(r > 92.9599 && r < 92.9601);
    double m = 1 + 0.035 * 92.96 + 7e-6 * 92.96 * 32.96 * 7.04;
    assert_true(mos > m - 1e-9 && mos < m + 1e-9);
    /* G.729, 1 % loss (10 of 1000 sent), 5 ms mean jitter: Ie_eff = 11 + 84 * 1 / (1 + 19) = 15.2,
     * Ta = 20 ms, Id = 0.48: R = 77.52 */
    strcpy(s.codec, "G729");
    s.packets = 990;
    s.lost = 10;
    s.jitter_sum_ms = 10;
    s.jitter_n = 2;
    mc_rtp_quality(&s, &r, &mos);
    assert_true(r > 77.5199 && r < 77.5201);
    /* G.711 with 5 % loss: Ie_eff = 95 * 5 / 30.1 */
    strcpy(s.codec, "PCMU");
    s.packets = 950;
    s.lost = 50;
    s.jitter_sum_ms = 0;
    mc_rtp_quality(&s, &r, &mos);
    double want = 93.2 - 0.24 - 95.0 * 5 / 30.1;
    assert_true(r > want - 1e-9 && r < want + 1e-9);
    /* a delay past 177.3 ms costs 0.11 per ms more: 100 ms of mean jitter */
    s.lost = 0;
    s.packets = 1000;
    s.jitter_sum_ms = 200;
    mc_rtp_quality(&s, &r, &mos);
    want = 93.2 - (0.024 * 210 + 0.11 * (210 - 177.3));
    assert_true(r > want - 1e-9 && r < want + 1e-9);
    /* everything lost: R 0, MOS 1 */
    s.packets = 1;
    s.lost = 100000;
    mc_rtp_quality(&s, &r, &mos);
    assert_true(mos >= 1 && mos < 1.6);
    /* video, or not validated: no estimate */
    s.audio = 0;
    assert_int_equal(mc_rtp_quality(&s, &r, &mos), 0);
    assert_true(r == 0 && mos == 0);
}

/* ---- RTCP ------------------------------------------------------------------------------ */

static size_t put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
    return 4;
}

/* An RR from ssrc with one block on `about`: fraction 64/256, cumulative lost 12, jitter 80 units. */
static size_t rtcp_rr(uint8_t *b, uint32_t ssrc, uint32_t about)
{
    size_t n = 0;
    b[n++] = 0x81, b[n++] = 201, b[n++] = 0, b[n++] = 7;
    n += put32(b + n, ssrc);
    n += put32(b + n, about);
    n += put32(b + n, 64u << 24 | 12);
    n += put32(b + n, 1234);
    n += put32(b + n, 80);
    n += put32(b + n, 0);
    n += put32(b + n, 0);
    /* then an SDES with one empty chunk, as compound packets carry */
    b[n++] = 0x81, b[n++] = 202, b[n++] = 0, b[n++] = 1;
    n += put32(b + n, ssrc);
    return n;
}

static void test_rtcp_compound(void **state)
{
    (void)state;
    uint8_t b[128];
    struct mc_rtcp_info r;
    size_t n = rtcp_rr(b, 77, 5);
    assert_int_equal(mc_rtcp_parse(b, n, &r), MC_RTP_OK);
    assert_int_equal(r.n_packets, 2);
    assert_int_equal(r.n_rr, 1);
    assert_int_equal(r.sender_ssrc, 77);
    assert_int_equal(r.n_blocks, 1);
    assert_int_equal(r.block[0].ssrc, 5);
    assert_int_equal(r.block[0].fraction, 64);
    assert_int_equal(r.block[0].cum_lost, 12);
    assert_int_equal(r.block[0].jitter, 80);
    /* a negative cumulative loss (duplicates) is 24-bit signed */
    b[13] = 0xff, b[14] = 0xff, b[15] = 0xfe;
    assert_int_equal(mc_rtcp_parse(b, n, &r), MC_RTP_OK);
    assert_int_equal(r.block[0].cum_lost, -2);
    /* hostile: a count beyond the packet's length, a length beyond the datagram, version 1 */
    b[0] = 0x82;
    assert_int_equal(mc_rtcp_parse(b, n, &r), MC_RTCP_BAD_COUNT);
    b[0] = 0x81;
    b[3] = 40;
    assert_int_equal(mc_rtcp_parse(b, n, &r), MC_RTCP_BAD_LENGTH);
    b[3] = 7;
    b[32] = 0x41;
    assert_int_equal(mc_rtcp_parse(b, n, &r), MC_RTP_BAD_VERSION);
    assert_int_equal(r.n_packets, 1); /* what came before stays */
    assert_int_equal(mc_rtcp_parse(b, 3, &r), MC_RTP_TOO_SHORT);
}

/* RTP one way, RTCP receiver reports back on the same port (RFC 5761): the report sits beside our figures. */
static void test_rtcp_mux(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    for (int i = 0; i < 10; i++)
        send_rtp(t, 0, (uint64_t)i * 20000, 0, (uint16_t)i, 160u * (uint32_t)i, 5);
    uint8_t b[128];
    size_t n = rtcp_rr(b, 77, 5);
    datagram(t, 7078, 1, 200000, b, n);
    const struct mc_flow *f = the_flow(t);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(f, 0);
    assert_true(s->rtcp_report);
    assert_int_equal(s->rtcp_fraction, 64);
    assert_int_equal(s->rtcp_cum_lost, 12);
    assert_true(mc_rtp_rtcp_jitter_ms(s) > 9.999 && mc_rtp_rtcp_jitter_ms(s) < 10.001);
    assert_int_equal(mc_l7_rtp_stats(f, 1)->rtcp_packets, 2);
    assert_true(f64_field(f, "rtcpFractionLost", 0, 1) == 0.25);
    assert_true(f64_field(f, "rtcpCumulativeLost", 0, 1) == 12);
    assert_true(f64_field(f, "reverseRtcpPackets", 0, 1) == 2);
    /* a lying RTCP datagram is counted and changes nothing */
    b[0] = 0x9f;
    datagram(t, 7078, 1, 210000, b, n);
    assert_int_equal(ctr("l7.rtp.rtcp.bad_count"), 1);
    assert_int_equal(s->rtcp_cum_lost, 12);
    teardown(t);
}

/* RTCP alone on its flow (port + 1) is parsed too, and keeps the flow. */
static void test_rtcp_flow(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint8_t b[128];
    size_t n = rtcp_rr(b, 77, 5);
    datagram(t, 7079, 1, 0, b, n);
    datagram(t, 7079, 1, 5000000, b, n);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(ctr("l7.rtp.rtcp.packets"), 4);
    assert_int_equal(ctr("l7.rtp.released"), 0);
    teardown(t);
}

/* ---- hostile and not RTP ------------------------------------------------------------------------ */

static const struct mc_flow *end_seen;
static int end_had_rtp;

static void note_export(struct mc_flow *f)
{
    end_seen = f;
    end_had_rtp = mc_l7_rtp_stats(f, 0) != NULL || mc_l7_state_of(f, &mc_l7_rtp) != NULL;
}

static void test_not_rtp_released(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    /* looks like RTP to detect() (version 2, PT 0), then never in sequence: given back */
    for (int i = 0; i < 12; i++)
        send_rtp(t, 0, (uint64_t)i * 1000, 0, (uint16_t)(i * 977), 5, (uint32_t)i);
    assert_int_equal(ctr("l7.rtp.released"), 1);
    assert_int_equal(ctr("l7.detached"), 1);
    assert_null(mc_l7_rtp_stats(the_flow(t), 0));
    /* one lone packet: too few to tell, given back at the flow's end */
    check_export = note_export;
    send_rtp(t, 1, 0, 0, 1, 1, 1);
    datagram(t, 9000, 0, 0, (const uint8_t *)"\x80\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01xx", 14);
    mc_flow_flush_all(t, MC_END_FORCED);
    assert_int_equal(end_had_rtp, 0);
    assert_int_equal(ctr("l7.rtp.released"), 2);
    teardown(t);
}

static void test_hostile_counted(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    for (int i = 0; i < 5; i++)
        send_rtp(t, 0, (uint64_t)i * 20000, 8, (uint16_t)i, 160u * (uint32_t)i, 5);
    uint8_t b[200];
    size_t n = rtp_pkt(b, 8, 0, 5, 800, 5);
    b[0] |= 0x20;
    b[n - 1] = 200; /* padding larger than the packet */
    datagram(t, 7078, 0, 100000, b, n);
    b[0] = 0x90; /* extension whose length lies */
    b[14] = 0xff, b[15] = 0xff;
    datagram(t, 7078, 0, 120000, b, n);
    b[0] = 0x8f; /* 15 CSRCs in a 40-byte packet */
    datagram(t, 7078, 0, 140000, b, 40);
    datagram(t, 7078, 0, 150000, b, 5);
    assert_int_equal(ctr("l7.rtp.bad_padding"), 1);
    assert_int_equal(ctr("l7.rtp.bad_extension"), 1);
    assert_int_equal(ctr("l7.rtp.bad_csrc"), 1);
    assert_int_equal(ctr("l7.rtp.too_short"), 1);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(the_flow(t), 0);
    assert_int_equal(s->packets, 5);
    assert_int_equal(s->lost, 0);
    teardown(t);
}

static void test_ssrc_flapping(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint64_t at = 0;
    for (int i = 0; i < 5; i++, at += 20000)
        send_rtp(t, 0, at, 0, (uint16_t)i, 160u * (uint32_t)i, 0xa);
    /* B and A alternate: B never takes over */
    for (int i = 0; i < 20; i++, at += 10000)
        send_rtp(t, 0, at, 0, (uint16_t)(i % 2 ? 5 + i / 2 : 500 + i / 2), 0, i % 2 ? 0xa : 0xb);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(the_flow(t), 0);
    assert_int_equal(s->ssrc, 0xa);
    assert_int_equal(s->ssrc_changes, 0);
    assert_int_equal(ctr("l7.rtp.other_ssrc"), 10);
    /* B alone, in sequence: followed after MC_RTP_SSRC_SWITCH packets, which it counts */
    for (int i = 0; i < MC_RTP_SSRC_SWITCH + 2; i++, at += 20000)
        send_rtp(t, 0, at, 8, (uint16_t)(900 + i), 160u * (uint32_t)i, 0xb);
    s = mc_l7_rtp_stats(the_flow(t), 0); /* valid until the flow's next packet */
    assert_int_equal(s->ssrc, 0xb);
    assert_int_equal(s->ssrc_changes, 1);
    assert_int_equal(s->packets, MC_RTP_SSRC_SWITCH + 2);
    assert_int_equal(s->lost, 0);
    assert_string_equal(s->codec, "PCMA");
    assert_int_equal(ctr("l7.rtp.ssrc_changes"), 1);
    teardown(t);
}

/*
 * The fast path (rtp.c: fast_packet) takes only plain 12-byte headers: the
 * same stream sent once plain and once with an empty header extension (the
 * general path for every packet) must give equal figures, whatever befalls
 * it: loss (within the duplicate window and beyond), jumps that restart
 * the sequence, duplicates, reordering, markers, comfort noise, timestamps
 * gone back, another SSRC, sequence wrap-around, arrival jitter.
 */
static void send_shaped(struct mc_flow_table *t, uint16_t port, int ext, int dir, uint64_t at_us, uint8_t pt,
                        int marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    uint8_t b[200], o[204];
    size_t n = rtp_pkt(b, pt, marker, seq, ts, ssrc);
    if (!ext) {
        datagram(t, port, dir, at_us, b, n);
        return;
    }
    memcpy(o, b, 12);
    o[0] |= 0x10;                        /* X: an extension of 0 words */
    o[12] = 0xbe, o[13] = 0xde, o[14] = 0, o[15] = 0;
    memcpy(o + 16, b + 12, n - 12);
    datagram(t, port, dir, at_us, o, n + 4);
}

static void test_fast_path_equal(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    uint32_t rnd = 12345;
#define RND() (rnd = rnd * 1103515245u + 12345u, rnd >> 16)
    uint16_t seq[2] = { 65000, 63500 };
    uint32_t ts[2] = { 0, 0 };
    uint64_t at = 0;
    for (int i = 0; i < 6000; i++) {
        int dir = (int)(RND() % 2), r = (int)(RND() % 100), marker = 0;
        uint8_t pt = 0;
        uint32_t ssrc = 0x1000u + (uint32_t)dir;
        uint16_t s = ++seq[dir];
        uint32_t stamp = (ts[dir] += 160);
        if (r < 5)
            s = seq[dir] += (uint16_t)(1 + RND() % 3); /* lost */
        else if (r < 8)
            s = (uint16_t)(seq[dir] - 1 - RND() % 4); /* duplicate or late */
        else if (r < 10)
            marker = 1;
        else if (r < 12)
            pt = 13; /* comfort noise */
        else if (r < 13)
            stamp -= 320; /* timestamp gone back */
        else if (r < 14)
            ssrc = 0x2000; /* another source, once */
        else if (r < 15)
            s = seq[dir] += 100; /* a loss beyond the duplicate window */
        else if (r < 16 && i % 4 == 0)
            s = seq[dir] += 5000; /* a jump: a restart when the next follows it */
        at += 10000 + RND() % 20000;
        for (int ext = 0; ext < 2; ext++)
            send_shaped(t, ext ? 7080 : 7078, ext, dir, at, pt, marker, s, stamp, ssrc);
    }
#undef RND
    find_port = 7078;
    const struct mc_flow *fast = the_flow(t);
    find_port = 7080;
    const struct mc_flow *slow = the_flow(t);
    find_port = 7078;
    for (int d = 0; d < 2; d++) {
        const struct mc_rtp_stats *a = mc_l7_rtp_stats(fast, d), *b = mc_l7_rtp_stats(slow, d);
        assert_true(a->valid && b->valid);
        assert_true(a->packets > 2000);
        assert_int_equal(a->ssrc, b->ssrc);
        assert_int_equal(a->pt, b->pt);
        assert_int_equal(a->packets, b->packets);
        assert_int_equal(a->octets, b->octets);
        assert_int_equal(a->base_seq, b->base_seq);
        assert_int_equal(a->ext_max_seq, b->ext_max_seq);
        assert_int_equal(a->lost, b->lost);
        assert_int_equal(a->duplicates, b->duplicates);
        assert_int_equal(a->reordered, b->reordered);
        assert_int_equal(a->ssrc_changes, b->ssrc_changes);
        assert_int_equal(a->jitter_n, b->jitter_n);
        assert_true(a->jitter_ms == b->jitter_ms);
        assert_true(a->jitter_sum_ms == b->jitter_sum_ms);
        assert_true(a->jitter_max_ms == b->jitter_max_ms);
        assert_true(a->max_delta_ms == b->max_delta_ms);
        assert_int_equal(a->first_us, b->first_us);
        assert_int_equal(a->last_us, b->last_us);
        assert_true(a->lost > 0 && a->duplicates > 0 && a->reordered > 0);
    }
    assert_true(ctr("l7.rtp.seq_restart") > 0);
    teardown(t);
}

/* ---- the call layer's interface and the flow record ------------------------------------------- */

static void test_set_format_and_fields(void **state)
{
    (void)state;
    struct mc_flow_table *t = setup();
    for (int i = 0; i < 4; i++) {
        send_rtp(t, 0, (uint64_t)i * 20000, 111, (uint16_t)i, 960u * (uint32_t)i, 0x11);
        send_rtp(t, 1, (uint64_t)i * 20000 + 500, 0, (uint16_t)(70 + i), 160u * (uint32_t)i, 0x22);
    }
    const struct mc_flow *f = the_flow(t);
    const struct mc_rtp_stats *s = mc_l7_rtp_stats(f, 0);
    assert_string_equal(s->codec, "dynamic-111");
    assert_int_equal(s->clock_hz, 0);
    assert_int_equal(mc_l7_rtp_set_format(f, 111, "opus", 48000), 0);
    assert_string_equal(s->codec, "opus");
    assert_int_equal(s->clock_hz, 48000);
    send_rtp(t, 0, 4 * 20000 + 2000, 111, 4, 960u * 4, 0x11); /* 2 ms late */
    assert_true(s->jitter_ms > 0.1249 && s->jitter_ms < 0.1251);
    /* uniflow: each direction's record carries its own; biflow: the reverse keys read direction 1 */
    assert_true(f64_field(f, "rtpSsrc", 0, 0) == 0x11);
    assert_true(f64_field(f, "rtpSsrc", 1, 0) == 0x22);
    assert_true(f64_field(f, "reverseRtpSsrc", 0, 1) == 0x22);
    assert_true(f64_field(f, "reverseRtpPackets", 0, 1) == 4);
    assert_true(f64_field(f, "rtpMos", 1, 0) > 4.3);
    assert_true(f64_field(f, "reverseRtpMos", 0, 1) == f64_field(f, "rtpMos", 1, 0));
    /* every reverse element is its forward one with bit 14 set, under our PEN */
    for (size_t i = 0; i + 1 < mc_l7_rtp.n_fields; i += 2) {
        const struct mc_ie *fw = &mc_l7_rtp.fields[i], *rv = &mc_l7_rtp.fields[i + 1];
        assert_int_equal(rv->id, fw->id | 0x4000);
        assert_int_equal(rv->pen, MC_PEN_MC);
        assert_true(rv->flags & MC_IE_F_REVERSE);
        assert_true(fw->id >= 230 && fw->id <= 259);
        assert_int_equal(strncmp(rv->name, "reverse", 7), 0);
        assert_string_equal(rv->name + 8, fw->name + 1);
    }
    assert_null(mc_l7_rtp_stats(f, 0) == s ? NULL : s);
    for (int k = 0; k < MC_RTP_FORMATS - 1; k++)
        assert_int_equal(mc_l7_rtp_set_format(f, (uint8_t)(96 + k), "x", 8000), 0);
    assert_int_equal(mc_l7_rtp_set_format(f, 127, "y", 8000), -1);
    assert_int_equal(ctr("l7.rtp.formats_full"), 1);
    teardown(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_clean_stream),
        cmocka_unit_test(test_wraparound_loss),
        cmocka_unit_test(test_duplicates_reordering),
        cmocka_unit_test(test_jitter_by_hand),
        cmocka_unit_test(test_emodel),
        cmocka_unit_test(test_rtcp_compound),
        cmocka_unit_test(test_rtcp_mux),
        cmocka_unit_test(test_rtcp_flow),
        cmocka_unit_test(test_not_rtp_released),
        cmocka_unit_test(test_hostile_counted),
        cmocka_unit_test(test_ssrc_flapping),
        cmocka_unit_test(test_fast_path_equal),
        cmocka_unit_test(test_set_format_and_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
