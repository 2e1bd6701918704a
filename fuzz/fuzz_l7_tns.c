/*
 * fuzz_l7_tns.c - libFuzzer target for the Oracle TNS analyzer.  Input: one
 * mode byte (bit 0: a port only detect() recognises instead of 1521; bit 1:
 * no handshake, so the analysis starts mid-stream; bit 2: a 4 KiB
 * --l7-max-buffer, so the collector's cap is reached), then records of a
 * 2-byte header (bit 15: the server's direction, bit 14: a 7-byte hole
 * before it, low 14 bits: length) and that many payload bytes.  Each record
 * goes to the pure parsers and detect() alone (as an exact-size copy), then
 * through the real L7 stage and flow table as one TCP segment; the flow
 * ends at the end (pending transactions) and every field getter is checked.
 * A small aggregator table takes the cloud writes (its bound is reached).
 * Replayed under CTest by replay_main.c over fuzz/corpus/l7_tns/ (seeds
 * from scripts/gen-l7-seeds-tns.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aggtab.h"
#include "flow/flow.h"
#include "l7/l7.h"
#include "l7_fuzz.h"
#include "l7/tns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* One record's bytes through the pure parsers: the header in every length form, the body as each packet. */
static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    (void)dir;
    (void)mc_l7_tns.detect(b, n, 0);
    (void)mc_l7_tns.detect(b, n, 1);
    uint32_t len;
    uint8_t type;
    for (int mode = MC_TNS_LEN_SHORT; mode <= MC_TNS_LEN_GUESS; mode++)
        if (mc_l7_tns_header(b, n, mode, &len, &type) == 0 &&
            (len < MC_TNS_HDR || len > MC_TNS_MAX_LEN || !type || type > MC_TNS_TYPE_MAX))
            abort();
    const uint8_t *p = n >= MC_TNS_HDR ? b + MC_TNS_HDR : b;
    size_t pn = n >= MC_TNS_HDR ? n - MC_TNS_HDR : n;
    uint16_t version, follows;
    const uint8_t *cd;
    size_t cdn;
    if (mc_l7_tns_connect(p, pn, pn, &version, &cd, &cdn, &follows) == 0 && cdn &&
        (cd < p || cdn > pn || cd + cdn > p + pn))
        abort();
    struct mc_tns_desc d;
    mc_l7_tns_descriptor(b, n, &d);
    if (strlen(d.service) > MC_TNS_NAME_MAX || strlen(d.program) > MC_TNS_NAME_MAX ||
        strlen(d.user) > MC_TNS_NAME_MAX || strlen(d.host) > MC_TNS_NAME_MAX)
        abort();
    char out[64];
    size_t sn = mc_l7_tns_sql(b, n, out, sizeof(out));
    if (sn > sizeof(out) || sn != mc_l7_tns_sql(b, n, NULL, sizeof(out)))
        abort();
    (void)mc_l7_tns_ora_error(b, n);
    (void)mc_l7_tns_refuse_error(b, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct l7_fuzz z = { .a = &mc_l7_tns, .proto = 6, .with_agg = 1, .agg_keys = 16, .agg_bytes = 4096 };
    z.port = (data[0] & 1) ? 31521 : 1521;
    z.open = (data[0] & 2) ? L7F_NO_HANDSHAKE : L7F_HANDSHAKE;
    mc_l7_config_defaults(&z.cfg);
    z.cfg.max_text = 64; /* short, so statements are cut */
    if (data[0] & 4)
        z.cfg.max_buffer = 4096;
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
