/*
 * fuzz_l7_mysql.c - libFuzzer target for the MySQL analyzer.  Input: one
 * mode byte (bit 0: a port only detect() recognises instead of 3306; bit 1:
 * no handshake, so the analysis starts mid-stream; bit 2: a 4 KiB
 * --l7-max-buffer, so the collector's cap is reached), then records of a
 * 2-byte header (bit 15: the server's direction, bit 14: a 7-byte hole
 * before it, low 14 bits: length) and that many payload bytes.  Each record
 * goes to the pure parsers and detect() alone (as an exact-size copy), then
 * through the real L7 stage and flow table as one TCP segment; the flow
 * ends at the end (pending transactions) and every field getter is checked.
 * A small aggregator table takes the cloud writes (its bound is reached).
 * Replayed under CTest by replay_main.c over fuzz/corpus/l7_mysql/ (seeds
 * from scripts/gen-l7-seeds-mysql.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/l7.h"
#include "l7/mysql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mc_l7_analyzer *const only_mysql[] = { &mc_l7_mysql };
static struct mc_l7 *stage;

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(stage, f);
    /* every field getter on the flow's record: strings within their declared maximum */
    struct mc_ie_env env = { .f = f };
    for (size_t i = 0; i < mc_l7_mysql.n_fields; i++) {
        struct mc_ie_val v = { 0 };
        mc_l7_mysql.fields[i].get(&env, &v);
        if (mc_l7_mysql.fields[i].type == MC_IE_T_STRING &&
            (!v.str || v.str_len > mc_ie_max_len(&mc_l7_mysql.fields[i]) || strlen(v.str) > v.str_len ||
             v.str[v.str_len] != '\0'))
            abort();
    }
}

static void in_bounds(const uint8_t *s, size_t sn, const uint8_t *b, size_t n)
{
    if (s < b || sn > n || s + sn > b + n)
        abort();
}

/* One record's bytes, as a payload (after a 4-byte header when there is one), through the pure parsers. */
static void parse_alone(const uint8_t *b, size_t n)
{
    (void)mc_l7_mysql.detect(b, n, 0);
    (void)mc_l7_mysql.detect(b, n, 1);
    const uint8_t *p = n >= 4 ? b + 4 : b;
    size_t pn = n >= 4 ? n - 4 : n;
    struct mc_mysql_greeting g;
    if (mc_l7_mysql_greeting(p, pn, &g) == 0 && strlen(g.version) > MC_MYSQL_NAME_MAX)
        abort();
    struct mc_mysql_login lg;
    if (mc_l7_mysql_login(p, pn, pn, &lg) == 0 && (strlen(lg.user) > MC_MYSQL_NAME_MAX || strlen(lg.db) > MC_MYSQL_NAME_MAX))
        abort();
    if (pn && mc_l7_mysql_change_user(p + 1, pn - 1, MC_MYSQL_SECURE_CONNECTION, &lg) == 0 &&
        strlen(lg.user) > MC_MYSQL_NAME_MAX)
        abort();
    struct mc_mysql_err e;
    if (mc_l7_mysql_err(p, pn, &e) == 0 && (e.msg_len > MC_MYSQL_MSG_MAX || strlen(e.state) > 5))
        abort();
    const uint8_t *q;
    size_t qn;
    for (int attrs = 0; attrs < 2 && pn; attrs++)
        if (mc_l7_mysql_query_text(p + 1, pn - 1, attrs, &q, &qn) == 0)
            in_bounds(q, qn, p + 1, pn - 1);
    int st = mc_l7_mysql_status(p, pn);
    if (st < -1 || st > 0xffff)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t port = (data[0] & 1) ? 31306 : 3306;
    int mid_stream = data[0] & 2;
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_mysql;
    cfg.n_analyzers = 1;
    cfg.max_text = 64; /* short, so statements are cut */
    if (data[0] & 4)
        cfg.max_buffer = 4096;
    cfg.log_path = "/dev/null";
    char err[256];
    stage = mc_l7_new(&cfg, err, sizeof(err));
    if (!stage)
        abort();
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 8;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    if (!t)
        abort();
    mc_l7_attach(stage, t);
    struct mc_agg agg;
    if (mc_agg_init(&agg, "", 16, 4096) != 0)
        abort();
    mc_l7_set_agg(stage, &agg);

    uint32_t seq[2] = { 1001, 5001 };
    uint64_t ts = 1000000;
    if (!mid_stream) { /* a handshake, so the streams start where the records do */
        for (int dir = 0; dir < 2; dir++) {
            struct mc_pkt p;
            memset(&p, 0, sizeof(p));
            p.ip_ver = 4, p.proto = 6, p.has_l4 = 1;
            p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
            p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
            p.sport = dir ? port : 40000;
            p.dport = dir ? 40000 : port;
            p.tcp_seq = seq[dir] - 1;
            p.tcp_ack = dir ? seq[0] : 0;
            p.tcp_flags = dir ? 0x12 : 0x02;
            p.ts_ms = ts;
            p.ip_len = 40;
            mc_flow_process(t, &p);
        }
    }
    size_t off = 1;
    while (off + 2 <= size) {
        unsigned h = (unsigned)data[off] << 8 | data[off + 1];
        off += 2;
        size_t n = h & 0x3fff;
        if (n > size - off)
            n = size - off;
        int dir = h >> 15;
        /* exact-size copy: a read past n trips ASan */
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            abort();
        memcpy(b, data + off, n);
        off += n;
        parse_alone(b, n);

        struct mc_pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_ver = 4;
        p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
        p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
        p.sport = dir ? port : 40000;
        p.dport = dir ? 40000 : port;
        p.proto = 6;
        p.has_l4 = 1;
        if (h & 0x4000)
            seq[dir] += 7; /* a hole the capture missed */
        p.tcp_seq = seq[dir];
        p.tcp_ack = seq[!dir]; /* acknowledges the peer's holes: they are declared at once */
        p.tcp_flags = 0x10;
        p.ts_ms = ts += 3;
        p.payload = b;
        p.payload_len = n;
        p.ip_len = 40 + (uint32_t)n;
        mc_flow_process(t, &p);
        seq[dir] += (uint32_t)n;
        free(b);
    }
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
    mc_l7_free(stage);
    stage = NULL;
    mc_agg_free(&agg);
    return 0;
}
