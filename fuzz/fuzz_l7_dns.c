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
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's per-record check: the message parser and detect() on the record alone. */
static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    struct mc_dns_msg m;
    int r = mc_l7_dns_parse(b, n, &m);
    if (r != MC_DNS_OK && r != MC_DNS_PARTIAL && r != MC_DNS_BAD)
        abort();
    if (r != MC_DNS_BAD && (m.qname_len > MC_DNS_NAME_MAX || strlen(m.qname) != m.qname_len ||
                            m.answers_len > MC_DNS_ANSWERS_MAX || strlen(m.answers) != m.answers_len ||
                            m.answers_parsed > m.ancount || m.n_addr > MC_DNS_ADDRS))
        abort();
    (void)mc_l7_dns_detect(b, n, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* bit 0: TCP (two-byte length framing, after the client's SYN) instead of UDP; bit 1: with an aggregator */
    struct l7_fuzz z = { .a = &mc_l7_dns, .port = 53, .agg_keys = 256, .agg_bytes = 1 << 20 };
    z.proto = (data[0] & 1) ? 6 : 17;
    z.open = L7F_CLIENT_SYN;
    z.with_agg = (data[0] & 2) != 0;
    mc_l7_config_defaults(&z.cfg);
    z.cfg.max_buffer = 4096; /* small, so the cap is reached */
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
