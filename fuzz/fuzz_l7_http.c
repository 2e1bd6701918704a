/*
 * fuzz_l7_http.c - libFuzzer target for the HTTP/1.x analyzer.  Input: one
 * mode byte (bit 0: a port detect() must recognise instead of 80; bit 1: no
 * handshake and the server's packet first, so the roles must be found from
 * the start lines), then records of a 2-byte header (bit 15: the server's
 * direction, bit 14: a 7-byte hole before it, low 14 bits: length) and that
 * many payload bytes.  Each record goes to the start-line parsers and
 * detect() alone (as an exact-size copy), then through the real L7 stage
 * and flow table as one TCP segment; the flow ends (pending requests, cut
 * bodies) at the end and every field getter is checked.  Replayed under
 * CTest by replay_main.c over fuzz/corpus/l7_http/ (seeds from
 * scripts/gen-l7-seeds-http.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/http.h"
#include "l7/l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mc_l7_analyzer *const only_http[] = { &mc_l7_http };
static struct mc_l7 *stage;

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(stage, f);
    /* every field getter on the flow's record: strings within their declared maximum */
    struct mc_ie_env env = { .f = f };
    for (size_t i = 0; i < mc_l7_http.n_fields; i++) {
        struct mc_ie_val v = { 0 };
        mc_l7_http.fields[i].get(&env, &v);
        if (mc_l7_http.fields[i].type == MC_IE_T_STRING &&
            (!v.str || v.str_len > mc_ie_max_len(&mc_l7_http.fields[i]) || strlen(v.str) > v.str_len ||
             v.str[v.str_len] != '\0'))
            abort();
    }
}

/* The first line of b through the pure parsers: slices must stay inside it. */
static void parse_alone(const uint8_t *b, size_t n)
{
    const uint8_t *lf = memchr(b, '\n', n);
    size_t len = lf ? (size_t)(lf - b) : n;
    struct mc_http_str m, t, v, r;
    unsigned st = 0;
    for (int strict = 0; strict < 2; strict++)
        if (mc_http_parse_request_line(b, len, strict, &m, &t, &v) &&
            (m.p < b || m.p + m.n > b + len || t.p + t.n > b + len || v.p + v.n > b + len || m.n == 0))
            abort();
    if (mc_http_parse_status_line(b, len, &v, &st, &r) &&
        (st < 100 || st > 999 || v.p + v.n > b + len || r.p + r.n > b + len))
        abort();
    uint64_t cl;
    (void)mc_http_parse_content_length(b, len, &cl);
    (void)mc_l7_http.detect(b, n, 0);
    (void)mc_l7_http.detect(b, n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t port = (data[0] & 1) ? 31600 : 80;
    int server_first = data[0] & 2;
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_http;
    cfg.n_analyzers = 1;
    cfg.max_buffer = 8192; /* small, so the collector's cap is reached */
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

    uint32_t seq[2] = { 1001, 5001 };
    uint64_t ts = 1000000;
    if (!server_first) { /* a handshake, so the streams start where the records do */
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
    return 0;
}
