/*
 * test_mobile.c - the subscriber layer: sessions from GTPv1 and GTPv2
 * transactions, found by their user-plane endpoints and UE addresses,
 * moved by a handover, ended by a delete, a "context not found", ageing or
 * eviction; rejected creates; two PDN connections of one IMSI; the events;
 * a flow tagged and its counts pushed to user.<imsi>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/aggtab.h"
#include "common/counters.h"
#include "decode/pkt.h"
#include "flow/flow.h"
#include "l7/mobile.h"

static const struct mc_addr SGSN = { { 192, 0, 2, 1 } }, GGSN = { { 192, 0, 2, 2 } };
static const struct mc_addr SGSN2 = { { 192, 0, 2, 3 } };

static struct mc_mobile *table(uint32_t max)
{
    struct mc_mobile_config cfg;
    mc_mobile_config_defaults(&cfg);
    cfg.max_sessions = max;
    cfg.idle_ms = 60000;
    struct mc_mobile *mb = mc_mobile_new(&cfg);
    assert_non_null(mb);
    return mb;
}

static void fteid(struct mc_gtpc_msg *m, uint8_t iface, int user, uint8_t ebi, const struct mc_addr *a, uint32_t teid)
{
    struct mc_gtpc_fteid *f = &m->fteid[m->n_fteids++];
    memset(f, 0, sizeof(*f));
    f->iface = iface;
    f->user = (uint8_t)user;
    f->ebi = ebi;
    f->has_v4 = 1;
    memcpy(f->v4, a->b, 4);
    f->teid = teid;
}

/* A GTPv<version> request of `type` and its response (type + 1), nothing else set. */
static void exchange(struct mc_gtpc_msg *q, struct mc_gtpc_msg *r, uint8_t version, uint8_t type)
{
    memset(q, 0, sizeof(*q));
    memset(r, 0, sizeof(*r));
    q->version = r->version = version;
    q->type = type, r->type = (uint8_t)(type + 1);
    q->request = 1;
}

/* A v1 Create PDP Context Request from sgsn and its response from the GGSN: UE 10.45.0.<i>. */
static void v1_create(struct mc_gtpc_msg *q, struct mc_gtpc_msg *r, const char *imsi, int i, uint32_t cause)
{
    exchange(q, r, 1, 16);
    q->has_teid = r->has_teid = 1;
    q->teid = 0;
    r->teid = 0x1000u + (uint32_t)i; /* the SGSN's TEID-C */
    strcpy(q->imsi, imsi);
    strcpy(q->msisdn, "4915100000001");
    strcpy(q->imei, "3520990017614823");
    strcpy(q->apn, "internet");
    q->has_rat = 1, q->rat = 1;
    fteid(q, MC_GTPC_IF_V1_CONTROL, 0, 5, &SGSN, 0x1000u + (uint32_t)i);
    fteid(q, MC_GTPC_IF_V1_DATA, 1, 5, &SGSN, 0x2000u + (uint32_t)i);
    r->has_cause = 1, r->cause = (uint8_t)cause;
    fteid(r, MC_GTPC_IF_V1_CONTROL, 0, 0, &GGSN, 0x3000u + (uint32_t)i);
    fteid(r, MC_GTPC_IF_V1_DATA, 1, 0, &GGSN, 0x4000u + (uint32_t)i);
    r->has_ue_v4 = 1;
    uint8_t ue[4] = { 10, 45, 0, (uint8_t)i };
    memcpy(r->ue_v4, ue, 4);
}

/* A v2 Create Session request and its accepted response: S11 endpoints MME 0xa1, SGW 0xb1 (no bearer yet). */
static void v2_create(struct mc_gtpc_msg *q, struct mc_gtpc_msg *r, const char *imsi, const struct mc_addr *mme,
                      const struct mc_addr *sgw)
{
    exchange(q, r, 2, 32);
    q->has_teid = r->has_teid = 1;
    r->teid = 0xa1;
    strcpy(q->imsi, imsi);
    strcpy(q->apn, "ims");
    fteid(q, 10, 0, 0, mme, 0xa1); /* S11 MME */
    fteid(r, 11, 0, 0, sgw, 0xb1); /* S11 SGW */
    r->has_cause = 1, r->cause = 16;
}

/* A v2 request of type `type` to the SGW's S11 TEID 0xb1, and its accepted response. */
static void v2_request(struct mc_gtpc_msg *q, struct mc_gtpc_msg *r, uint8_t type)
{
    exchange(q, r, 2, type);
    q->has_teid = 1, q->teid = 0xb1;
    r->has_cause = 1, r->cause = 16;
}

static void run(struct mc_mobile *mb, uint64_t ms, const struct mc_addr *src, const struct mc_addr *dst,
                const struct mc_gtpc_msg *q, const struct mc_gtpc_msg *r, struct mc_agg *agg)
{
    struct mc_mobile_txn t = { .ms = ms, .ip_ver = 4, .src = *src, .dst = *dst, .req = q, .resp = r };
    mc_mobile_transaction(mb, &t, agg);
}

static const struct mc_mobile_sub *teid(struct mc_mobile *mb, const struct mc_addr *a, uint32_t t)
{
    return mc_mobile_by_teid(mb, 4, a, t, 1);
}

static int events_named(const struct mc_agg *a, const char *name)
{
    int n = 0;
    for (uint32_t i = 0; i < a->ne; i++)
        n += a->ev[i].name_len == strlen(name) && memcmp(a->text + a->ev[i].name, name, a->ev[i].name_len) == 0;
    return n;
}

static void test_v1_life(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_mobile *mb = table(16);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    struct mc_gtpc_msg q, r;
    v1_create(&q, &r, "001010000000001", 1, 128);
    run(mb, 1000, &SGSN, &GGSN, &q, &r, &agg);
    assert_int_equal(mc_mobile_sessions(mb), 1);
    assert_int_equal(events_named(&agg, "gtp.session.create"), 1);
    /* both user-plane endpoints and the UE find the subscriber; control endpoints and strangers do not */
    const struct mc_mobile_sub *s = teid(mb, &GGSN, 0x4001);
    assert_non_null(s);
    assert_string_equal(s->imsi, "001010000000001");
    assert_string_equal(s->msisdn, "4915100000001");
    assert_string_equal(s->imei, "3520990017614823");
    assert_string_equal(s->apn, "internet");
    assert_non_null(teid(mb, &SGSN, 0x2001));
    assert_null(teid(mb, &SGSN, 0x1001));
    assert_null(teid(mb, &GGSN, 0x2001));
    struct mc_addr ue = { { 10, 45, 0, 1 } }, other = { { 10, 45, 0, 2 } };
    assert_non_null(mc_mobile_by_ue(mb, 4, &ue, 1));
    assert_null(mc_mobile_by_ue(mb, 4, &other, 1));

    /* a handover: a new SGSN, its own data TEID; the GGSN's stays */
    struct mc_gtpc_msg uq, ur;
    memset(&uq, 0, sizeof(uq));
    memset(&ur, 0, sizeof(ur));
    uq.version = ur.version = 1;
    uq.type = 18, ur.type = 19;
    uq.request = 1;
    uq.has_teid = ur.has_teid = 1;
    uq.teid = 0x3001; /* the GGSN's TEID-C */
    fteid(&uq, MC_GTPC_IF_V1_CONTROL, 0, 5, &SGSN2, 0x5001);
    fteid(&uq, MC_GTPC_IF_V1_DATA, 1, 5, &SGSN2, 0x6001);
    ur.has_cause = 1, ur.cause = 128;
    ur.teid = 0x5001;
    run(mb, 2000, &SGSN2, &GGSN, &uq, &ur, &agg);
    assert_null(teid(mb, &SGSN, 0x2001));
    assert_non_null(teid(mb, &SGSN2, 0x6001));
    assert_non_null(teid(mb, &GGSN, 0x4001));
    assert_int_equal(MC_CTR_GET(l7_mobile, updated), 1);

    /* a delete sent to the GGSN's control endpoint, accepted: gone */
    struct mc_gtpc_msg dq, dr;
    memset(&dq, 0, sizeof(dq));
    memset(&dr, 0, sizeof(dr));
    dq.version = dr.version = 1;
    dq.type = 20, dr.type = 21;
    dq.request = 1;
    dq.has_teid = dr.has_teid = 1;
    dq.teid = 0x3001;
    dr.has_cause = 1, dr.cause = 128;
    run(mb, 3000, &SGSN2, &GGSN, &dq, &dr, &agg);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    assert_null(teid(mb, &GGSN, 0x4001));
    assert_null(mc_mobile_by_ue(mb, 4, &ue, 1));
    assert_int_equal(events_named(&agg, "gtp.session.delete"), 1);
    assert_int_equal(MC_CTR_GET(l7_mobile, deleted), 1);
    mc_agg_free(&agg);
    mc_mobile_free(mb);
}

static void test_rejected_and_unknown(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_mobile *mb = table(16);
    struct mc_gtpc_msg q, r;
    v1_create(&q, &r, "001010000000002", 2, 199); /* 199: no resources available */
    run(mb, 1000, &SGSN, &GGSN, &q, &r, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    assert_int_equal(MC_CTR_GET(l7_mobile, rejected), 1);
    /* a response alone names nobody */
    v1_create(&q, &r, "001010000000002", 2, 128);
    run(mb, 1000, &GGSN, &SGSN, NULL, &r, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    assert_int_equal(MC_CTR_GET(l7_mobile, unknown_session), 1);
    /* a request whose answer was not seen: the subscriber and its SGSN's endpoint are known */
    run(mb, 1000, &SGSN, &GGSN, &q, NULL, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 1);
    assert_non_null(teid(mb, &SGSN, 0x2002));
    /* the same create again (its answer this time): the same session */
    run(mb, 1100, &SGSN, &GGSN, &q, &r, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 1);
    assert_non_null(teid(mb, &GGSN, 0x4002));
    /* an update the GGSN answers "non-existent" (192): the session is over */
    struct mc_gtpc_msg uq, ur;
    memset(&uq, 0, sizeof(uq));
    memset(&ur, 0, sizeof(ur));
    uq.version = ur.version = 1;
    uq.type = 18, ur.type = 19;
    uq.has_teid = 1, uq.teid = 0x3002;
    ur.has_cause = 1, ur.cause = 192;
    run(mb, 2000, &SGSN, &GGSN, &uq, &ur, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    mc_mobile_free(mb);
}

/* GTPv2: S1-U endpoints in bearer contexts, a Modify Bearer moving the eNodeB's, Delete Session. */
static void test_v2_life(void **state)
{
    (void)state;
    mc_ctr_reset();
    static const struct mc_addr MME = { { 198, 51, 100, 1 } }, SGW = { { 198, 51, 100, 2 } };
    static const struct mc_addr ENB = { { 198, 51, 100, 10 } }, ENB2 = { { 198, 51, 100, 11 } };
    struct mc_mobile *mb = table(16);
    struct mc_gtpc_msg q, r;
    v2_create(&q, &r, "001010000000009", &MME, &SGW);
    fteid(&r, 1, 1, 5, &SGW, 0xc1);  /* S1-U SGW */
    r.has_ue_v6 = 1;
    uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 9 };
    memcpy(r.ue_v6, v6, 16);
    run(mb, 1000, &MME, &SGW, &q, &r, NULL);
    assert_non_null(teid(mb, &SGW, 0xc1));
    struct mc_addr ue = { { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 9, 0xaa, 0xbb, 0, 0, 0, 0, 0, 1 } };
    assert_non_null(mc_mobile_by_ue(mb, 6, &ue, 1)); /* its own interface id within the /64 */
    /* Modify Bearer: the eNodeB's endpoint, then a handover to another eNodeB */
    for (int k = 0; k < 2; k++) {
        struct mc_gtpc_msg mq, mr;
        memset(&mq, 0, sizeof(mq));
        memset(&mr, 0, sizeof(mr));
        mq.version = mr.version = 2;
        mq.type = 34, mr.type = 35;
        mq.has_teid = 1, mq.teid = 0xb1;
        fteid(&mq, 0, 1, 5, k ? &ENB2 : &ENB, 0xe1 + (uint32_t)k); /* S1-U eNodeB */
        mr.has_cause = 1, mr.cause = 16;
        mr.has_teid = 1, mr.teid = 0xa1;
        run(mb, 2000 + (uint64_t)k, &MME, &SGW, &mq, &mr, NULL);
    }
    assert_null(teid(mb, &ENB, 0xe1));
    assert_non_null(teid(mb, &ENB2, 0xe2));
    assert_non_null(teid(mb, &SGW, 0xc1));
    /* a second PDN connection of the same subscriber (another APN) lives beside it */
    struct mc_gtpc_msg q2 = q, r2 = r;
    strcpy(q2.apn, "internet");
    q2.fteid[0].teid = 0xa2;
    r2.fteid[0].teid = 0xb2;
    r2.fteid[1].teid = 0xc2;
    run(mb, 2500, &MME, &SGW, &q2, &r2, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 2);
    /* Delete Session of the first */
    struct mc_gtpc_msg dq, dr;
    v2_request(&dq, &dr, 36);
    run(mb, 3000, &MME, &SGW, &dq, &dr, NULL);
    assert_int_equal(mc_mobile_sessions(mb), 1);
    assert_null(teid(mb, &ENB2, 0xe2));
    assert_non_null(teid(mb, &SGW, 0xc2));
    mc_mobile_free(mb);
}

/*
 * A session holds two user-plane endpoints itself and six more in an
 * allocation made when it needs them: four bearers (eight endpoints) are
 * all found, a ninth is refused and counted, Delete Bearer and the
 * session's end give their TEIDs up (ASan: nothing read after it is freed,
 * nothing leaked).
 */
static void test_many_bearers(void **state)
{
    (void)state;
    mc_ctr_reset();
    static const struct mc_addr MME = { { 198, 51, 100, 1 } }, SGW = { { 198, 51, 100, 2 } };
    static const struct mc_addr ENB = { { 198, 51, 100, 10 } };
    struct mc_mobile *mb = table(16);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    struct mc_gtpc_msg q, r;
    v2_create(&q, &r, "001010000000011", &MME, &SGW);
    for (uint8_t b = 0; b < 4; b++) {
        fteid(&q, 0, 1, (uint8_t)(5 + b), &ENB, 0xe0 + b);  /* S1-U eNodeB of bearer 5 + b */
        fteid(&r, 1, 1, (uint8_t)(5 + b), &SGW, 0xc0 + b);  /* S1-U SGW */
    }
    fteid(&r, 1, 1, 9, &SGW, 0xcf); /* a fifth bearer's: the ninth endpoint */
    run(mb, 1000, &MME, &SGW, &q, &r, &agg);
    for (uint32_t b = 0; b < 4; b++) {
        assert_non_null(teid(mb, &ENB, 0xe0 + b));
        assert_non_null(teid(mb, &SGW, 0xc0 + b));
    }
    assert_null(teid(mb, &SGW, 0xcf));
    assert_int_equal(MC_CTR_GET(l7_mobile, teids_full), 1);
    /* Delete Bearer of bearers 6 and 8: their four endpoints go */
    struct mc_gtpc_msg dq, dr;
    v2_request(&dq, &dr, 99); /* the SGW asks the MME */
    dq.teid = 0xa1;
    dr.has_teid = 1, dr.teid = 0xb1;
    dq.n_ebis = 2, dq.ebi[0] = 6, dq.ebi[1] = 8;
    run(mb, 2000, &SGW, &MME, &dq, &dr, &agg);
    assert_null(teid(mb, &ENB, 0xe1));
    assert_null(teid(mb, &SGW, 0xc3));
    assert_non_null(teid(mb, &ENB, 0xe2));
    assert_non_null(teid(mb, &SGW, 0xc0));
    /* Delete Session: every endpoint goes with it */
    v2_request(&dq, &dr, 36);
    run(mb, 3000, &MME, &SGW, &dq, &dr, &agg);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    assert_null(teid(mb, &ENB, 0xe2));
    assert_null(teid(mb, &SGW, 0xc0));
    mc_agg_free(&agg);
    mc_mobile_free(mb);
}

static void test_bounds_and_ageing(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_mobile *mb = table(4);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    char imsi[20];
    for (int i = 1; i <= 6; i++) {
        struct mc_gtpc_msg q, r;
        snprintf(imsi, sizeof(imsi), "0010100000000%02d", i);
        v1_create(&q, &r, imsi, i, 128);
        run(mb, 1000 + (uint64_t)i, &SGSN, &GGSN, &q, &r, &agg);
    }
    assert_int_equal(mc_mobile_sessions(mb), 4);
    assert_int_equal(MC_CTR_GET(l7_mobile, evicted), 2);
    assert_null(teid(mb, &GGSN, 0x4001)); /* the least recently active went first */
    assert_non_null(teid(mb, &GGSN, 0x4006));
    /* ageing: idle for the idle time, user traffic keeps one alive */
    mc_mobile_tick(mb, 40000, &agg);
    assert_non_null(mc_mobile_by_teid(mb, 4, &GGSN, 0x4006, 50000));
    mc_mobile_tick(mb, 62000, &agg);
    assert_int_equal(mc_mobile_sessions(mb), 1);
    assert_int_equal(MC_CTR_GET(l7_mobile, aged), 3);
    mc_mobile_tick(mb, 200000, &agg);
    assert_int_equal(mc_mobile_sessions(mb), 0);
    mc_agg_free(&agg);
    mc_mobile_free(mb);
}

/* A subscriber's session in the table and one GTP-U flow of its UE, not yet seen by the mobile layer. */
struct flow_fixture {
    struct mc_mobile *mb;
    struct mc_agg agg;
    struct mc_flow_ext *x;
    struct mc_flow f;
    struct mc_pkt p;
    struct mc_mobile_flow mf;
};

static void flow_setup(struct flow_fixture *t)
{
    memset(t, 0, sizeof(*t));
    mc_ctr_reset();
    t->mb = table(16);
    assert_int_equal(mc_agg_init(&t->agg, "", 1000, 1 << 20), 0);
    struct mc_gtpc_msg q, r;
    v1_create(&q, &r, "001010000000007", 7, 128);
    run(t->mb, 1000, &SGSN, &GGSN, &q, &r, &t->agg);
    t->x = calloc(1, sizeof(*t->x));
    t->f.ext = t->x;
    t->f.key.ip_ver = 4;
    t->f.key.tunnel = MC_TUNNEL_GTPU;
    t->f.key.tunnel_id = 0x4007;
    uint8_t ue[4] = { 10, 45, 0, 7 }, srv[4] = { 93, 184, 216, 34 };
    memcpy(t->f.key.addr[0].b, ue, 4);
    memcpy(t->f.key.addr[1].b, srv, 4);
    t->p.tunnel = MC_TUNNEL_GTPU;
    t->p.tunnel_id = 0x4007;
    t->p.outer_ver = 4;
    t->p.outer_dst = GGSN;
}

static void flow_teardown(struct flow_fixture *t)
{
    free(t->x->id);
    free(t->x);
    mc_agg_free(&t->agg);
    mc_mobile_free(t->mb);
}

/* What the table's cells add to a field, over all keys. */
static int64_t cell_sum(const struct mc_agg *agg, const char *field)
{
    int64_t n = 0;
    for (uint32_t i = 0; i < agg->nc; i++)
        if (agg->c[i].kind == MC_AGG_INCR && agg->c[i].name_len == strlen(field) &&
            memcmp(agg->text + agg->c[i].name, field, strlen(field)) == 0)
            n += agg->c[i].n;
    return n;
}

/* A GTP-U flow: tagged at its first packet from the table, its counts on user.<imsi>. */
static void test_flow(void **state)
{
    (void)state;
    struct flow_fixture t;
    flow_setup(&t);
    t.p.ts_ms = 1500;
    assert_true(mc_mobile_flow_wanted(t.mb, &t.p));
    t.f.pkts[0] = 1, t.f.octets[0] = 100;
    uint32_t hold = 0;
    mc_mobile_flow_packet(t.mb, NULL, &t.f, &t.mf, &t.p, &t.agg, &hold);
    assert_int_equal(hold, 0);
    assert_true(t.mf.tagged);
    assert_int_equal(t.mf.ue_side, 0);
    assert_non_null(t.x->id);
    assert_string_equal(t.x->id->imsi, "001010000000007");
    assert_string_equal(t.x->id->msisdn, "4915100000001");
    t.f.pkts[0] = 3, t.f.octets[0] = 300, t.f.pkts[1] = 2, t.f.octets[1] = 1000;
    t.f.first_ms = 1500, t.f.dir_last[0] = 400;
    mc_mobile_flow_end(t.mb, NULL, &t.f, &t.mf, &t.agg);
    assert_int_equal(cell_sum(&t.agg, "sent_pkt"), 3);
    assert_int_equal(cell_sum(&t.agg, "rcvd_pkt"), 2);
    assert_int_equal(cell_sum(&t.agg, "sent_bytes"), 300);
    assert_int_equal(cell_sum(&t.agg, "rcvd_bytes"), 1000);
    flow_teardown(&t);
}

/*
 * A flow's counts go to user.<imsi> once a second of packet time, but never
 * twice into the same aggregate table: reading a file, packet time runs
 * ahead of the flushes, and the second push waits for the table's hand-over
 * (the caller is told the generation to wait for).  The flow's end pushes
 * whatever is left.
 */
static void test_flow_push_per_table(void **state)
{
    (void)state;
    struct flow_fixture t;
    flow_setup(&t);
    uint32_t hold = 0;

    t.p.ts_ms = 1500, t.f.pkts[0] = 1; /* tagged, and pushed into this table */
    uint64_t next = mc_mobile_flow_packet(t.mb, NULL, &t.f, &t.mf, &t.p, &t.agg, &hold);
    assert_true(t.mf.tagged);
    assert_int_equal(next, 2500);
    assert_int_equal(hold, 0);
    assert_int_equal(cell_sum(&t.agg, "sent_pkt"), 1);

    t.p.ts_ms = 2600, t.f.pkts[0] = 5; /* due, but the table was not handed over: held */
    next = mc_mobile_flow_packet(t.mb, NULL, &t.f, &t.mf, &t.p, &t.agg, &hold);
    assert_int_equal(hold, mc_agg_gen(&t.agg));
    assert_int_equal(next, 2500);
    assert_int_equal(cell_sum(&t.agg, "sent_pkt"), 1);

    mc_agg_clear(&t.agg); /* handed over: a new generation */
    assert_int_not_equal(hold, mc_agg_gen(&t.agg));
    t.p.ts_ms = 2700, t.f.pkts[0] = 6;
    next = mc_mobile_flow_packet(t.mb, NULL, &t.f, &t.mf, &t.p, &t.agg, &hold);
    assert_int_equal(hold, 0);
    assert_int_equal(next, 3700);
    assert_int_equal(cell_sum(&t.agg, "sent_pkt"), 5); /* everything since the first push */

    t.f.pkts[0] = 9, t.f.first_ms = 1500, t.f.dir_last[0] = 1300;
    mc_mobile_flow_end(t.mb, NULL, &t.f, &t.mf, &t.agg); /* same table, but the end pushes what is left */
    assert_int_equal(cell_sum(&t.agg, "sent_pkt"), 8);
    flow_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_life),
        cmocka_unit_test(test_rejected_and_unknown),
        cmocka_unit_test(test_v2_life),
        cmocka_unit_test(test_many_bearers),
        cmocka_unit_test(test_bounds_and_ageing),
        cmocka_unit_test(test_flow),
        cmocka_unit_test(test_flow_push_per_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
