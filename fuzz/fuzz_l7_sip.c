/*
 * fuzz_l7_sip.c - libFuzzer target for the SIP analyzer.  Input: one mode
 * byte (bit 0: TCP, else UDP; bit 1: a port only detect() recognises instead
 * of 5060; bit 2, TCP: no handshake; bit 3: --l7-max-text 16, so every
 * string is cut), then records of a 2-byte header (bit 15: the server's
 * direction, bit 14: a 7-byte hole before it on TCP, low 14 bits: length)
 * and that many payload bytes.  Each record goes to the pure parsers alone
 * (as an exact-size copy: message parser, Content-Length framing, header
 * helpers, detect(), and the SDP of its body), then through the real L7
 * stage and flow table as one datagram or segment; the flow ends (cut
 * messages) at the end and every field getter is checked.  Replayed under
 * CTest by replay_main.c over fuzz/corpus/l7_sip/ (seeds from
 * scripts/gen-l7-seeds-sip.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/l7.h"
#include "l7/sdp.h"
#include "l7/sip.h"
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct mc_sip_str v, const uint8_t *b, size_t n)
{
    if (v.p && (v.p < b || v.n > n || (size_t)(v.p - b) > n - v.n))
        abort();
}

static void value_helpers(struct mc_sip_str v, const uint8_t *b, size_t n)
{
    if (!v.p)
        return;
    inside(v, b, n);
    inside(mc_sip_uri(v), b, n);
    inside(mc_sip_first_value(v), b, n);
    inside(mc_sip_param(v, "tag"), b, n);
    inside(mc_sip_param(v, "expires"), b, n);
    char out[64];
    int cut = 0;
    size_t k = mc_sip_unfold(out, sizeof(out), v, &cut);
    if (k >= sizeof(out) || strlen(out) > k)
        abort();
}

/* A record through the pure parsers: every slice must stay inside it. */
static void parse_alone(const uint8_t *b, size_t n, int dir)
{
    struct mc_sip_msg m;
    if (mc_sip_parse(b, n, &m) == MC_SIP_OK) {
        if (m.hdr_len > n || m.body.n > n - m.hdr_len || m.body.p != b + m.hdr_len)
            abort();
        if (m.request && (m.method.n == 0 || m.uri.n == 0))
            abort();
        if (!m.request && (m.status < 100 || m.status > 699))
            abort();
        inside(m.method, b, n);
        inside(m.uri, b, n);
        inside(m.reason, b, n);
        value_helpers(m.call_id, b, n);
        value_helpers(m.from, b, n);
        value_helpers(m.to, b, n);
        value_helpers(m.contact, b, n);
        value_helpers(m.via, b, n);
        value_helpers(m.user_agent, b, n);
        value_helpers(m.cseq, b, n);
        value_helpers(m.expires, b, n);
        value_helpers(m.ctype, b, n);
        struct mc_sdp s;
        if (mc_sdp_parse_body(m.ctype.p, m.ctype.n, m.body.p, m.body.n, &s) &&
            (s.n_media > MC_SDP_MAX_MEDIA || s.n_media > s.media_total))
            abort();
    }
    uint32_t cl;
    (void)mc_sip_content_length(b, n, &cl);
    (void)mc_l7_sip.detect(b, n, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct l7_fuzz z = { .a = &mc_l7_sip };
    z.proto = (data[0] & 1) ? 6 : 17;
    z.port = (data[0] & 2) ? 5062 : 5060;
    z.open = (data[0] & 4) ? L7F_NO_HANDSHAKE : L7F_HANDSHAKE;
    mc_l7_config_defaults(&z.cfg);
    z.cfg.max_buffer = 8192; /* small, so the collector's cap is reached */
    if (data[0] & 8)
        z.cfg.max_text = 16;
    z.alone = parse_alone;
    return l7_fuzz_run(&z, data + 1, size - 1);
}
