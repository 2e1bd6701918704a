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
#include "l7_fuzz.h"
#include "l7/mysql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void in_bounds(const uint8_t *s, size_t sn, const uint8_t *b, size_t n)
{
    if (s < b || sn > n || s + sn > b + n)
        abort();
}

/* One record's bytes, as a payload (after a 4-byte header when there is one), through the pure parsers. */
static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    (void)dir;
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
    struct l7_fuzz z = { .a = &mc_l7_mysql, .proto = 6, .with_agg = 1, .agg_keys = 16, .agg_bytes = 4096 };
    z.port = (data[0] & 1) ? 31306 : 3306;
    z.open = (data[0] & 2) ? L7F_NO_HANDSHAKE : L7F_HANDSHAKE;
    mc_l7_config_defaults(&z.cfg);
    z.cfg.max_text = 64; /* short, so statements are cut */
    if (data[0] & 4)
        z.cfg.max_buffer = 4096;
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
