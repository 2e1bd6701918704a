/*
 * fuzz_l7_stream.c - libFuzzer target for the L7 stage's TCP ordering: the
 * input is a list of segments (direction, flags, sequence offset, length,
 * ACK offset) of two streams, opened by their SYNs, whose byte at sequence
 * s is always BYTE_AT(s).  A checking analyzer follows each direction: every
 * byte it is handed must be the next one of its stream (bytes declared lost
 * advance the position without data).  Any duplicate, reordered or invented byte
 * aborts.  Replayed under CTest over fuzz/corpus/l7_stream/ (seeds from
 * scripts/gen-fuzz-seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/l7.h"

#define BYTE_AT(s) ((uint8_t)((s) * 7u + ((s) >> 8)))
#define ISN0 0xfffff000u /* both streams cross 2^32 */
#define ISN1 0x7ffffff0u

struct chk {
    int checked;     /* the flow the SYNs opened (a later SYN or RST may open another: not checked) */
    uint32_t pos[2]; /* sequence number of the next byte expected */
};

static int n_inits;

static void chk_init(struct mc_l7_ctx *x, void *st)
{
    struct chk *c = st;
    c->checked = ++n_inits == 1 && mc_l7_flow(x)->key.port[1] == 7;
    c->pos[0] = ISN0; /* both SYNs come first: the streams start right after them */
    c->pos[1] = ISN1;
}

static void chk_data(struct mc_l7_ctx *x, void *st, int dir, const uint8_t *p, size_t n)
{
    (void)x;
    struct chk *c = st;
    for (size_t i = 0; c->checked && i < n; i++)
        if (p[i] != BYTE_AT(c->pos[dir] + (uint32_t)i))
            abort();
    c->pos[dir] += (uint32_t)n;
}

static void chk_gap(struct mc_l7_ctx *x, void *st, int dir, uint32_t len)
{
    (void)x;
    struct chk *c = st;
    c->pos[dir] += len;
}

static void get_zero(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    (void)env;
    v->u = 0;
}

static const struct mc_ie chk_fields[] = {
    { "chkZero", 252, MC_PEN_MC, 1, 0, MC_IE_T_UNSIGNED, MC_IE_F_NOV9, NULL, get_zero, "fuzz", 0 },
};

static const struct mc_l7_analyzer chk = {
    .name = "chk",
    .l4 = MC_L7_TCP,
    .ports = { 7 },
    .state_size = sizeof(struct chk),
    .init = chk_init,
    .data = chk_data,
    .gap = chk_gap,
    .fields = chk_fields,
    .n_fields = 1,
};

static const struct mc_l7_analyzer *const list[] = { &chk };
static struct mc_l7 *l7;

static void on_export(void *ctx, struct mc_flow *f)
{
    (void)ctx;
    mc_l7_flow_end(l7, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = list;
    cfg.n_analyzers = 1;
    cfg.max_buffer = 8192; /* small: the budget paths run often */
    char err[128];
    n_inits = 0;
    l7 = mc_l7_new(&cfg, err, sizeof(err));
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = 4;
    struct mc_flow_table *t = mc_flow_table_new(&fc, on_export, NULL);
    if (!l7 || !t)
        abort();
    mc_l7_attach(l7, t);
    static uint8_t payload[4096];
    /* the SYNs: sequence numbers ISN - 1, so data starts at the ISN */
    for (int dir = 0; dir < 2; dir++) {
        struct mc_pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_ver = 4;
        p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
        p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
        p.sport = dir ? 7 : 40000;
        p.dport = dir ? 40000 : 7;
        p.proto = 6;
        p.has_l4 = 1;
        p.tcp_flags = dir ? 0x12 : 0x02;
        p.tcp_seq = (dir ? ISN1 : ISN0) - 1;
        p.tcp_ack = dir ? ISN0 : 0;
        p.ts_ms = 999;
        p.ip_len = 40;
        mc_flow_process(t, &p);
    }
    /* each segment: dir|flags (1), sequence offset (2), length (2), ack offset (2) */
    for (size_t i = 0; i + 7 <= size; i += 7) {
        int dir = data[i] & 1;
        uint8_t flags = (uint8_t)(data[i] >> 1) & 0x17; /* FIN SYN RST ACK */
        uint32_t off = (uint32_t)data[i + 1] << 8 | data[i + 2];
        uint32_t len = ((uint32_t)data[i + 3] << 8 | data[i + 4]) % sizeof(payload);
        uint32_t ackoff = (uint32_t)data[i + 5] << 8 | data[i + 6];
        uint32_t base = dir ? ISN1 : ISN0;
        uint32_t seq = base + off;
        for (uint32_t k = 0; k < len; k++)
            payload[k] = BYTE_AT(seq + (flags & 0x02 ? 1u : 0u) + k);
        struct mc_pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_ver = 4;
        p.src.b[0] = 10, p.src.b[3] = (uint8_t)(dir ? 2 : 1);
        p.dst.b[0] = 10, p.dst.b[3] = (uint8_t)(dir ? 1 : 2);
        p.sport = dir ? 7 : 40000;
        p.dport = dir ? 40000 : 7;
        p.proto = 6;
        p.has_l4 = 1;
        p.tcp_flags = flags;
        p.tcp_seq = seq;
        p.tcp_ack = (dir ? ISN0 : ISN1) + ackoff;
        p.ts_ms = 1000 + i;
        p.payload = len ? payload : NULL;
        p.payload_len = len;
        p.ip_len = 40 + len;
        mc_flow_process(t, &p);
    }
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_flow_table_free(t);
    mc_l7_free(l7);
    return 0;
}
