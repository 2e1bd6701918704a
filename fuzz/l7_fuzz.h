/*
 * l7_fuzz.h - what the analyzer fuzz targets share: one analyzer in a real
 * L7 stage over a real flow table (and, when asked, a real aggregator), fed
 * the input's records as TCP segments or UDP datagrams of one flow between
 * 10.0.0.1:40000 (client) and 10.0.0.2:port.
 *
 * Records: a 2-byte header (bit 15: the server's direction; bit 14, TCP
 * only: a 7-byte hole the capture missed before it; low 14 bits: length),
 * then that many bytes.  Each record is first handed, as an exact-size copy
 * (a read past it trips ASan), to the target's `alone` check of its pure
 * parsers.  At the end the flow is flushed (pending transactions, cut
 * messages), every element getter is checked (strings within their maximum,
 * NUL-terminated), and every event payload must be one JSON object.
 */
#ifndef MC_FUZZ_L7_FUZZ_H
#define MC_FUZZ_L7_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/l7.h"

enum l7_fuzz_open { L7F_NO_HANDSHAKE, L7F_CLIENT_SYN, L7F_HANDSHAKE };

struct l7_fuzz {
    const struct mc_l7_analyzer *a; /* the analyzer under test */
    uint16_t port;                  /* the server's */
    uint8_t proto;                  /* 6 or 17 */
    enum l7_fuzz_open open;         /* TCP: what comes before the records */
    struct mc_l7_config cfg;        /* from mc_l7_config_defaults, adjusted by the target */
    int with_agg;                   /* give the stage an aggregator of agg_keys keys, agg_bytes bytes */
    uint32_t agg_keys, agg_bytes;
    void (*alone)(const uint8_t *b, size_t n, int dir); /* NULL: none */
};

static struct mc_l7 *l7_fuzz_stage;
static const struct mc_l7_analyzer *l7_fuzz_a;

static void l7_fuzz_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(l7_fuzz_stage, f);
    struct mc_ie_env env = { .f = f };
    for (size_t i = 0; i < l7_fuzz_a->n_fields; i++) {
        const struct mc_ie *ie = &l7_fuzz_a->fields[i];
        struct mc_ie_val v = { 0 };
        ie->get(&env, &v);
        if (ie->type == MC_IE_T_STRING &&
            (!v.str || v.str_len > mc_ie_max_len(ie) || strlen(v.str) > v.str_len || v.str[v.str_len] != '\0'))
            abort();
    }
}

static void l7_fuzz_packet(struct mc_flow_table *t, const struct l7_fuzz *z, int dir, uint8_t flags, uint32_t seq,
                           uint32_t ack, uint64_t ts, const uint8_t *b, size_t n)
{
    struct mc_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
    p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
    p.sport = dir ? z->port : 40000;
    p.dport = dir ? 40000 : z->port;
    p.proto = z->proto;
    p.has_l4 = 1;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.tcp_flags = flags;
    p.ts_ms = ts;
    p.payload = n ? b : NULL;
    p.payload_len = n;
    p.ip_len = 40 + (uint32_t)n;
    mc_flow_process(t, &p);
}

static int l7_fuzz_run(const struct l7_fuzz *z, const uint8_t *data, size_t size)
{
    const struct mc_l7_analyzer *const one[] = { z->a };
    struct mc_l7_config cfg = z->cfg;
    cfg.dpi = 0;
    cfg.analyzers = one;
    cfg.n_analyzers = 1;
    cfg.log_path = "/dev/null";
    char err[256];
    l7_fuzz_a = z->a;
    l7_fuzz_stage = mc_l7_new(&cfg, err, sizeof(err));
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 8;
    struct mc_flow_table *t = mc_flow_table_new(&fc, l7_fuzz_export, NULL);
    if (!l7_fuzz_stage || !t)
        abort();
    mc_l7_attach(l7_fuzz_stage, t);
    struct mc_agg agg;
    int with_agg = z->with_agg && mc_agg_init(&agg, "", z->agg_keys, z->agg_bytes) == 0;
    if (with_agg)
        mc_l7_set_agg(l7_fuzz_stage, &agg);

    int tcp = z->proto == 6;
    uint32_t seq[2] = { 1001, 5001 };
    uint64_t ts = 1000000;
    if (tcp && z->open != L7F_NO_HANDSHAKE) /* the streams start where the records do */
        for (int dir = 0; dir < (z->open == L7F_HANDSHAKE ? 2 : 1); dir++)
            l7_fuzz_packet(t, z, dir, dir ? 0x12 : 0x02, seq[dir] - 1, dir ? seq[0] : 0, ts, NULL, 0);
    size_t off = 0;
    while (off + 2 <= size) {
        unsigned h = (unsigned)data[off] << 8 | data[off + 1];
        off += 2;
        size_t n = h & 0x3fff;
        if (n > size - off)
            n = size - off;
        int dir = h >> 15;
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            abort();
        memcpy(b, data + off, n);
        off += n;
        if (z->alone)
            z->alone(b, n, dir);
        if (tcp && (h & 0x4000))
            seq[dir] += 7;
        /* the ACK covers the peer's holes, so they are declared at once */
        l7_fuzz_packet(t, z, dir, tcp ? 0x10 : 0, seq[dir], tcp ? seq[!dir] : 0, ts += 3, b, n);
        seq[dir] += (uint32_t)n;
        free(b);
    }
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
    mc_l7_free(l7_fuzz_stage);
    l7_fuzz_stage = NULL;
    if (with_agg) {
        for (uint32_t i = 0; i < agg.ne; i++)
            if (agg.ev[i].json_len < 2 || agg.text[agg.ev[i].json] != '{' ||
                agg.text[agg.ev[i].json + agg.ev[i].json_len - 1] != '}')
                abort();
        mc_agg_free(&agg);
    }
    return 0;
}

#endif /* MC_FUZZ_L7_FUZZ_H */
