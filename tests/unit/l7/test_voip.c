/* test_voip.c - the call layer: call states, who hung up, media moves, registrations, bounds and ageing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/aggtab.h"
#include "common/counters.h"
#include "l7/sdp.h"
#include "l7/voip.h"

#define T(s) ((struct mc_voip_text){ (s), sizeof(s) - 1 })

static const struct mc_addr A = { { 10, 0, 0, 1 } }, B = { { 10, 0, 0, 2 } };

/* A message between A (the caller's phone) and B, from A when from_a. */
static struct mc_voip_msg msg(uint64_t ms, int from_a, const char *id)
{
    struct mc_voip_msg m;
    memset(&m, 0, sizeof(m));
    m.ms = ms;
    m.call_id.p = id;
    m.call_id.n = strlen(id);
    m.ip_ver = 4;
    m.src = from_a ? A : B;
    m.dst = from_a ? B : A;
    m.sport = m.dport = 5060;
    m.from = T("sip:alice@example.com");
    m.from_tag = T("a1");
    m.to = T("sip:bob@example.com;user=phone");
    m.has_cseq = 1;
    return m;
}

static struct mc_voip_msg request(uint64_t ms, int from_a, const char *id, const char *method, size_t n)
{
    struct mc_voip_msg m = msg(ms, from_a, id);
    m.request = 1;
    m.method.p = method;
    m.method.n = n;
    if (!from_a) { /* the callee's requests carry its tag in From */
        m.from = T("sip:bob@example.com");
        m.from_tag = T("b1");
        m.to = T("sip:alice@example.com");
        m.to_tag = T("a1");
    }
    return m;
}
#define REQ(ms, from_a, id, method) request((ms), (from_a), (id), (method), sizeof(method) - 1)

static struct mc_voip_msg response(uint64_t ms, int from_a, const char *id, uint16_t status, const char *method,
                                   size_t n)
{
    struct mc_voip_msg m = msg(ms, from_a, id);
    m.status = status;
    m.cseq_method.p = method;
    m.cseq_method.n = n;
    m.to_tag = T("b1");
    return m;
}
#define RESP(ms, from_a, id, status, method) response((ms), (from_a), (id), (status), (method), sizeof(method) - 1)

static struct mc_sdp sdp_at(const char *ip4, uint16_t port)
{
    char text[256];
    snprintf(text, sizeof(text), "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %u RTP/AVP 8\r\n",
             ip4, ip4, port);
    struct mc_sdp s;
    assert_int_equal(mc_sdp_parse((const uint8_t *)text, strlen(text), &s), 0);
    return s;
}

static const struct mc_voip_call *at(const struct mc_voip *v, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                                     uint16_t port)
{
    struct mc_addr x = { { a, b, c, d } };
    return mc_voip_call_at(v, 4, &x, port, NULL);
}

static struct mc_voip *table(uint32_t max)
{
    struct mc_voip_config cfg;
    mc_voip_config_defaults(&cfg);
    cfg.max_calls = max;
    cfg.idle_ms = 60000;
    cfg.linger_ms = 1000;
    struct mc_voip *v = mc_voip_new(&cfg);
    assert_non_null(v);
    return v;
}

/* The text of a SET cell of key (NULL when absent). */
static const char *field(const struct mc_agg *a, const char *key, const char *name, char *buf, size_t cap)
{
    for (uint32_t i = 0; i < a->nc; i++) {
        const struct mc_agg_cell *c = &a->c[i];
        const struct mc_agg_key *k = &a->k[c->key];
        if (c->kind == MC_AGG_SET && k->len == strlen(key) && memcmp(a->text + k->text, key, k->len) == 0 &&
            c->name_len == strlen(name) && memcmp(a->text + c->name, name, c->name_len) == 0) {
            size_t n = c->vlen < cap - 1 ? c->vlen : cap - 1;
            memcpy(buf, a->text + c->val, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}

static int events_named(const struct mc_agg *a, const char *name)
{
    int n = 0;
    for (uint32_t i = 0; i < a->ne; i++)
        n += a->ev[i].name_len == strlen(name) && memcmp(a->text + a->ev[i].name, name, a->ev[i].name_len) == 0;
    return n;
}

static void test_answered_call(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(16);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    struct mc_sdp offer = sdp_at("10.0.0.1", 4000), answer = sdp_at("10.0.0.2", 5000);
    struct mc_voip_msg m = REQ(1000, 1, "c1", "INVITE");
    m.sdp = &offer;
    mc_voip_message(v, &m, &agg);
    mc_voip_message(v, &m, &agg); /* a retransmission changes nothing */
    mc_voip_message(v, (m = RESP(1010, 0, "c1", 100, "INVITE"), &m), &agg);
    mc_voip_message(v, (m = RESP(1200, 0, "c1", 180, "INVITE"), &m), &agg);
    m = RESP(3000, 0, "c1", 200, "INVITE");
    m.sdp = &answer;
    mc_voip_message(v, &m, &agg);
    mc_voip_message(v, (m = REQ(3010, 1, "c1", "ACK"), &m), &agg);
    /* both sides' media lead to the call */
    const struct mc_voip_call *c = at(v, 10, 0, 0, 1, 4000);
    assert_non_null(c);
    assert_ptr_equal(at(v, 10, 0, 0, 2, 5000), c);
    struct mc_addr b = { { 10, 0, 0, 2 } };
    int side = -1;
    assert_ptr_equal(mc_voip_call_at(v, 4, &b, 5000, &side), c);
    assert_int_equal(side, 1); /* the callee receives there */
    assert_null(at(v, 10, 0, 0, 2, 5002));
    assert_string_equal(mc_voip_call_id(c), "c1");
    assert_int_equal(mc_voip_call_state(c), MC_CALL_ANSWERED);
    /* the callee hangs up */
    mc_voip_message(v, (m = REQ(63000, 0, "c1", "BYE"), &m), &agg);
    assert_int_equal(mc_voip_call_state(c), MC_CALL_ENDED);
    char buf[256];
    assert_string_equal(field(&agg, "voip.call.c1", "state", buf, sizeof(buf)), "ended");
    assert_string_equal(field(&agg, "voip.call.c1", "hangup_by", buf, sizeof(buf)), "callee");
    assert_string_equal(field(&agg, "voip.call.c1", "end_cause", buf, sizeof(buf)), "bye");
    assert_string_equal(field(&agg, "voip.call.c1", "setup_ms", buf, sizeof(buf)), "200");
    assert_string_equal(field(&agg, "voip.call.c1", "duration_ms", buf, sizeof(buf)), "60000");
    assert_string_equal(field(&agg, "voip.call.c1", "caller_rtp", buf, sizeof(buf)), "10.0.0.1:4000");
    assert_string_equal(field(&agg, "voip.call.c1", "callee_rtp", buf, sizeof(buf)), "10.0.0.2:5000");
    assert_string_equal(field(&agg, "voip.call.c1", "callee", buf, sizeof(buf)), "sip:bob@example.com;user=phone");
    assert_string_equal(field(&agg, "voip.rtp.10.0.0.2:5000", "call_id", buf, sizeof(buf)), "c1");
    assert_string_equal(field(&agg, "voip.rtp.10.0.0.2:5000", "side", buf, sizeof(buf)), "callee");
    assert_int_equal(events_named(&agg, "voip.call.start"), 1);
    assert_int_equal(events_named(&agg, "voip.call.answer"), 1);
    assert_int_equal(events_named(&agg, "voip.call.end"), 1);
    assert_int_equal(events_named(&agg, "voip.user.new"), 2); /* if new: both parties' keys */
    /* the user key is the address of record: without the URI's parameters */
    int found = 0;
    for (uint32_t i = 0; i < agg.nk; i++)
        found += agg.k[i].len == strlen("voip.user.sip:bob@example.com") &&
                 memcmp(agg.text + agg.k[i].text, "voip.user.sip:bob@example.com", agg.k[i].len) == 0;
    assert_int_equal(found, 1);
    assert_int_equal(MC_CTR_GET(l7_voip, calls), 1);
    assert_int_equal(MC_CTR_GET(l7_voip, answered), 1);
    assert_int_equal(MC_CTR_GET(l7_voip, ended), 1);
    /* an ended call lingers for late retransmissions, then goes with its endpoints */
    mc_voip_tick(v, 63500, &agg);
    assert_int_equal(mc_voip_calls(v), 1);
    mc_voip_tick(v, 64000, &agg);
    assert_int_equal(mc_voip_calls(v), 0);
    assert_null(at(v, 10, 0, 0, 1, 4000));
    mc_agg_free(&agg);
    mc_voip_free(v);
}

static void test_cancel_reject_and_media_moves(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(16);
    struct mc_voip_msg m;
    /* cancelled before the answer */
    mc_voip_message(v, (m = REQ(1000, 1, "c2", "INVITE"), &m), NULL);
    mc_voip_message(v, (m = RESP(1100, 0, "c2", 180, "INVITE"), &m), NULL);
    mc_voip_message(v, (m = REQ(2000, 1, "c2", "CANCEL"), &m), NULL);
    mc_voip_message(v, (m = RESP(2010, 0, "c2", 487, "INVITE"), &m), NULL);
    /* rejected */
    mc_voip_message(v, (m = REQ(1000, 1, "c3", "INVITE"), &m), NULL);
    mc_voip_message(v, (m = RESP(1100, 0, "c3", 486, "INVITE"), &m), NULL);
    assert_int_equal(MC_CTR_GET(l7_voip, cancelled), 1);
    assert_int_equal(MC_CTR_GET(l7_voip, failed), 1);
    /* a re-INVITE moves the caller's media: the old endpoint no longer leads to the call */
    struct mc_sdp first = sdp_at("10.0.0.1", 4000), moved = sdp_at("10.0.0.9", 4100);
    m = REQ(1000, 1, "c4", "INVITE");
    m.sdp = &first;
    mc_voip_message(v, &m, NULL);
    mc_voip_message(v, (m = RESP(1500, 0, "c4", 200, "INVITE"), &m), NULL);
    m = REQ(5000, 1, "c4", "INVITE");
    m.to_tag = T("b1");
    m.sdp = &moved;
    mc_voip_message(v, &m, NULL);
    assert_null(at(v, 10, 0, 0, 1, 4000));
    assert_non_null(at(v, 10, 0, 0, 9, 4100));
    assert_int_equal(MC_CTR_GET(l7_voip, media_updates), 1);
    /* a BYE for a call whose INVITE was never seen */
    mc_voip_message(v, (m = REQ(1000, 1, "nope", "BYE"), &m), NULL);
    assert_int_equal(MC_CTR_GET(l7_voip, no_call), 1);
    mc_voip_free(v);
}

/* A 401/407 is a challenge: the authenticated INVITE carries the same call on; one nothing followed is its failure. */
static void test_challenge(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(16);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    struct mc_voip_msg m = REQ(1000, 1, "ch", "INVITE");
    m.cseq = 1;
    mc_voip_message(v, &m, &agg);
    mc_voip_message(v, (m = RESP(1100, 0, "ch", 407, "INVITE"), &m), &agg);
    m = REQ(9000, 1, "ch", "INVITE");
    m.cseq = 2;
    mc_voip_message(v, &m, &agg);
    mc_voip_message(v, (m = RESP(9500, 0, "ch", 200, "INVITE"), &m), &agg);
    assert_int_equal(MC_CTR_GET(l7_voip, calls), 1);
    assert_int_equal(MC_CTR_GET(l7_voip, answered), 1);
    char buf[64];
    assert_string_equal(field(&agg, "voip.call.ch", "invite_ms", buf, sizeof(buf)), "1000");
    /* challenged, then nothing: at the end of the input the call failed when it was challenged */
    m = REQ(20000, 1, "ch2", "INVITE");
    m.cseq = 1;
    mc_voip_message(v, &m, &agg);
    mc_voip_message(v, (m = RESP(20100, 0, "ch2", 401, "INVITE"), &m), &agg);
    assert_int_equal(MC_CTR_GET(l7_voip, failed), 0);
    mc_voip_finish(v, &agg);
    assert_int_equal(MC_CTR_GET(l7_voip, failed), 1);
    assert_string_equal(field(&agg, "voip.call.ch2", "state", buf, sizeof(buf)), "failed");
    assert_string_equal(field(&agg, "voip.call.ch2", "end_ms", buf, sizeof(buf)), "20100");
    assert_string_equal(field(&agg, "voip.call.ch2", "status", buf, sizeof(buf)), "401");
    /* the Call-ID used again for a new call once the first ended: the key tells the new one */
    m = REQ(90000, 1, "ch2", "INVITE");
    m.cseq = 7;
    mc_voip_message(v, &m, &agg);
    assert_int_equal(MC_CTR_GET(l7_voip, calls), 3);
    assert_string_equal(field(&agg, "voip.call.ch2", "state", buf, sizeof(buf)), "trying");
    mc_agg_free(&agg);
    mc_voip_free(v);
}

static void test_registration(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(16);
    struct mc_agg agg;
    assert_int_equal(mc_agg_init(&agg, "", 1000, 1 << 20), 0);
    struct mc_voip_msg m = REQ(10000, 1, "r1", "REGISTER");
    m.to = T("sip:alice@example.com");
    m.contact = T("sip:alice@10.0.0.1:5060");
    m.user_agent = T("softphone 1.0");
    m.has_expires = 1;
    m.expires = 600;
    mc_voip_message(v, &m, &agg);
    assert_int_equal(mc_voip_calls(v), 1);
    m = RESP(10050, 0, "r1", 200, "REGISTER");
    m.to = T("sip:alice@example.com");
    m.has_expires = 1;
    m.expires = 300; /* the registrar's word wins */
    mc_voip_message(v, &m, &agg);
    assert_int_equal(mc_voip_calls(v), 0);
    assert_int_equal(MC_CTR_GET(l7_voip, registrations), 1);
    char buf[256];
    assert_string_equal(field(&agg, "voip.user.sip:alice@example.com", "registered_until", buf, sizeof(buf)),
                        "310050");
    assert_string_equal(field(&agg, "voip.user.sip:alice@example.com", "ip", buf, sizeof(buf)), "10.0.0.1");
    assert_string_equal(field(&agg, "voip.user.sip:alice@example.com", "user_agent", buf, sizeof(buf)),
                        "softphone 1.0");
    assert_string_equal(field(&agg, "voip.user.sip:alice@example.com", "contact", buf, sizeof(buf)),
                        "sip:alice@10.0.0.1:5060");
    mc_agg_free(&agg);
    mc_voip_free(v);
}

static void test_bounds_and_idle(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(2);
    struct mc_voip_msg m;
    mc_voip_message(v, (m = REQ(1000, 1, "a", "INVITE"), &m), NULL);
    mc_voip_message(v, (m = REQ(2000, 1, "b", "INVITE"), &m), NULL);
    mc_voip_message(v, (m = REQ(3000, 1, "c", "INVITE"), &m), NULL); /* the least recently active goes */
    assert_int_equal(mc_voip_calls(v), 2);
    assert_int_equal(MC_CTR_GET(l7_voip, evicted), 1);
    /* no answer within the idle time: failed, timed out; then it lingers and goes */
    mc_voip_tick(v, 2000 + 60000, NULL);
    assert_int_equal(MC_CTR_GET(l7_voip, timed_out), 1);
    mc_voip_tick(v, 3000 + 60000 + 1000, NULL);
    assert_int_equal(MC_CTR_GET(l7_voip, timed_out), 2);
    mc_voip_tick(v, 3000 + 60000 + 3000, NULL);
    assert_int_equal(mc_voip_calls(v), 0);
    /* an empty Call-ID is no call */
    m = REQ(1000, 1, "", "INVITE");
    mc_voip_message(v, &m, NULL);
    assert_int_equal(mc_voip_calls(v), 0);
    mc_voip_free(v);
    mc_voip_free(NULL);
}

/* The indexes grow with the calls: every call and every announced endpoint is found after each doubling. */
static void test_index_grows(void **state)
{
    (void)state;
    mc_ctr_reset();
    struct mc_voip *v = table(8192);
    struct mc_voip_msg m;
    enum { N = 5000 };
    char ids[N][16], ip[16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "g%d", i);
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
        struct mc_sdp s = sdp_at(ip, (uint16_t)(4000 + 2 * (i % 1000)));
        m = REQ(1000 + (uint64_t)i, 1, ids[i], "INVITE");
        m.sdp = &s;
        mc_voip_message(v, &m, NULL);
    }
    assert_int_equal(mc_voip_calls(v), N);
    assert_int_equal(MC_CTR_GET(l7_voip, index_grown), 3); /* 1,024 to 8,192 */
    for (int i = 0; i < N; i++) {
        const struct mc_voip_call *c = at(v, 10, 1, (uint8_t)(i / 250), (uint8_t)(i % 250), (uint16_t)(4000 + 2 * (i % 1000)));
        assert_non_null(c);
        assert_string_equal(mc_voip_call_id(c), ids[i]);
    }
    /* and never past --voip-max-calls' own size: a small table stays small, evicting instead */
    mc_voip_free(v);
    mc_ctr_reset();
    v = table(1500);
    for (int i = 0; i < N; i++)
        mc_voip_message(v, (m = REQ(1000 + (uint64_t)i, 1, ids[i], "INVITE"), &m), NULL);
    assert_int_equal(mc_voip_calls(v), 1500);
    assert_int_equal(MC_CTR_GET(l7_voip, index_grown), 1); /* 1,024 to 2,048 */
    assert_int_equal(MC_CTR_GET(l7_voip, evicted), N - 1500);
    mc_voip_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answered_call),
        cmocka_unit_test(test_cancel_reject_and_media_moves),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_registration),
        cmocka_unit_test(test_bounds_and_idle),
        cmocka_unit_test(test_index_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
