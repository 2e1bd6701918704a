/*
 * fuzz_l7_gtpc.c - libFuzzer target for the GTP-C parsers (gtpv1c.c,
 * gtpv2c.c) and the analyzer (gtpc.c).  Input: one mode byte (bit 0: with a
 * cloud aggregator), then records of a 2-byte header (bit 15: the server's
 * direction, low 14 bits: length) and that many payload bytes.  Each record
 * goes to both parsers, the dispatch and detect() alone (as an exact-size
 * copy: IE loops, grouped IE depth, length lies), then through the real L7
 * stage and flow table as one datagram of a flow on UDP port 2123; the flow
 * ends (pending requests) at the end.  Replayed under CTest by
 * replay_main.c over fuzz/corpus/l7_gtpc/ (seeds from
 * scripts/gen-l7-seeds-gtp.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/gtpc.h"
#include "l7/l7.h"
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct mc_gtpc_msg *m)
{
    if (strlen(m->imsi) > MC_GTPC_DIGITS_MAX || strlen(m->msisdn) > MC_GTPC_DIGITS_MAX ||
        strlen(m->imei) > MC_GTPC_DIGITS_MAX || strlen(m->apn) > MC_GTPC_APN_MAX || m->n_fteids > MC_GTPC_FTEIDS ||
        m->n_ebis > MC_GTPC_EBIS || strlen(m->mcc) > 3 || strlen(m->mnc) > 3)
        abort();
}

static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    struct mc_gtpc_msg m;
    int r = mc_gtpv1c_parse(b, n, &m);
    if (r < MC_GTPC_OK || r > MC_GTPC_TOO_DEEP)
        abort();
    check(&m);
    r = mc_gtpv2c_parse(b, n, &m);
    if (r < MC_GTPC_OK || r > MC_GTPC_TOO_DEEP)
        abort();
    check(&m);
    r = mc_gtpc_parse(b, n, &m);
    if (r == MC_GTPC_OK && m.version != 1 && m.version != 2)
        abort();
    check(&m);
    (void)mc_gtpc_detect(b, n, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct l7_fuzz z = { .a = &mc_l7_gtp, .port = 2123, .agg_keys = 256, .agg_bytes = 1 << 20 };
    z.proto = 17;
    z.open = L7F_NO_HANDSHAKE;
    z.with_agg = (data[0] & 1) != 0;
    mc_l7_config_defaults(&z.cfg);
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
