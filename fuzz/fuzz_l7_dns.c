/*
 * fuzz_l7_dns.c - libFuzzer target for the DNS analyzer.  Input: one mode
 * byte (bit 0: TCP, else UDP; bit 1: with a cloud aggregator, so hostile
 * names reach the aggregate keys and the event JSON), then records of a 2-byte header (bit 15: the
 * server's direction, bit 14: a 7-byte hole before it on TCP, low 14 bits:
 * length) and that many payload bytes.  Each record goes to the message
 * parser and detect() alone (as an exact-size copy), then through the real
 * L7 stage and flow table as one datagram or segment of a flow on port 53;
 * the flow ends (pending queries, partial messages) at the end.  Replayed
 * under CTest by replay_main.c over fuzz/corpus/l7_dns/ (seeds from
 * scripts/gen-l7-seeds-dns.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/dns.h"
#include "l7/l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mc_l7_analyzer *const only_dns[] = { &mc_l7_dns };
static struct mc_l7 *stage;

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(stage, f);
    /* every field getter on the flow's record: strings within their declared maximum */
    struct mc_ie_env env = { .f = f };
    for (size_t i = 0; i < mc_l7_dns.n_fields; i++) {
        struct mc_ie_val v = { 0 };
        mc_l7_dns.fields[i].get(&env, &v);
        if (mc_l7_dns.fields[i].type == MC_IE_T_STRING &&
            (!v.str || v.str_len > mc_ie_max_len(&mc_l7_dns.fields[i]) || strlen(v.str) != v.str_len))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int tcp = data[0] & 1;
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = only_dns;
    cfg.n_analyzers = 1;
    cfg.max_buffer = 4096; /* small, so the cap is reached */
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
    int with_agg = (data[0] & 2) && mc_agg_init(&agg, "", 256, 1 << 20) == 0;
    if (with_agg)
        mc_l7_set_agg(stage, &agg);

    uint32_t seq[2] = { 1001, 5001 };
    uint64_t ts = 1000000;
    if (tcp) { /* a handshake, so the stream starts where the records do */
        struct mc_pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_ver = 4, p.proto = 6, p.has_l4 = 1;
        p.src.b[0] = 10, p.src.b[3] = 1, p.dst.b[0] = 10, p.dst.b[3] = 2;
        p.sport = 40000, p.dport = 53, p.tcp_seq = 1000, p.tcp_flags = 0x02, p.ts_ms = ts, p.ip_len = 40;
        mc_flow_process(t, &p);
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

        struct mc_dns_msg m;
        int r = mc_l7_dns_parse(b, n, &m);
        if (r != MC_DNS_OK && r != MC_DNS_PARTIAL && r != MC_DNS_BAD)
            abort();
        if (r != MC_DNS_BAD && (m.qname_len > MC_DNS_NAME_MAX || strlen(m.qname) != m.qname_len ||
                                m.answers_len > MC_DNS_ANSWERS_MAX || strlen(m.answers) != m.answers_len ||
                                m.answers_parsed > m.ancount || m.n_addr > MC_DNS_ADDRS))
            abort();
        (void)mc_l7_dns_detect(b, n, dir);

        struct mc_pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_ver = 4;
        p.src.b[0] = 10, p.src.b[3] = dir ? 2 : 1;
        p.dst.b[0] = 10, p.dst.b[3] = dir ? 1 : 2;
        p.sport = dir ? 53 : 40000;
        p.dport = dir ? 40000 : 53;
        p.proto = tcp ? 6 : 17;
        p.has_l4 = 1;
        if (tcp && (h & 0x4000))
            seq[dir] += 7; /* a hole the capture missed */
        p.tcp_seq = seq[dir];
        p.tcp_flags = tcp ? 0x10 : 0;
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
    if (with_agg) {
        /* every event payload the analyzer wrote is one JSON object */
        for (uint32_t i = 0; i < agg.ne; i++)
            if (agg.ev[i].json_len < 2 || agg.text[agg.ev[i].json] != '{' ||
                agg.text[agg.ev[i].json + agg.ev[i].json_len - 1] != '}')
                abort();
        mc_agg_free(&agg);
    }
    return 0;
}
