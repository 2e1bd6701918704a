/*
 * fuzz_l7_sdp.c - libFuzzer target for the SDP parser (sdp.c).  Input: one
 * byte choosing the body's Content-Type (application/sdp, none, multipart
 * with a plain, a quoted or no boundary, another type), then the body.  The
 * body goes to the parser alone (as an exact-size copy) and every derived
 * value is checked (counts within their bounds, texts NUL-terminated within
 * their size, endpoints with an address and a port); then, wrapped in a SIP
 * INVITE, through the SIP analyzer in the real L7 stage as one UDP
 * datagram.  Replayed under CTest by replay_main.c over fuzz/corpus/l7_sdp/
 * (seeds from scripts/gen-l7-seeds-sip.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "l7/l7.h"
#include "l7/sdp.h"
#include "l7/sip.h"
#include "l7_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ctypes[] = {
    "application/sdp", "", "multipart/mixed;boundary=b", "multipart/related; boundary=\"x y\"",
    "multipart/alternative", "text/plain",
};

static void check_text(const char *t, size_t n, size_t cap)
{
    if (n >= cap || strlen(t) != n)
        abort();
}

static void check(const struct mc_sdp *s)
{
    if (s->n_media > MC_SDP_MAX_MEDIA || s->n_media > s->media_total)
        abort();
    for (uint8_t i = 0; i < s->n_media; i++) {
        const struct mc_sdp_media *m = &s->media[i];
        if (m->n_fmt > MC_SDP_MAX_FMT || m->n_fmt > m->fmt_total || strlen(m->type) > MC_SDP_TYPE_MAX ||
            strlen(m->proto) > MC_SDP_PROTO_MAX || m->addr.ver == 1)
            abort();
        for (uint8_t f = 0; f < m->n_fmt; f++)
            if (m->fmt[f].name_len > MC_SDP_NAME_MAX || strlen(m->fmt[f].name) != m->fmt[f].name_len ||
                (m->fmt[f].pt != MC_SDP_PT_NONE && m->fmt[f].pt > 127))
                abort();
    }
    struct mc_sdp_endpoint ep[MC_SDP_MAX_MEDIA];
    size_t k = mc_sdp_endpoints(s, ep, MC_SDP_MAX_MEDIA);
    for (size_t i = 0; i < k; i++)
        if (!ep[i].port || !ep[i].addr.ver || ep[i].media >= s->n_media)
            abort();
    char t[600];
    int cut = 0;
    check_text(t, mc_sdp_media_text(s, t, sizeof(t), &cut), sizeof(t));
    check_text(t, mc_sdp_codecs_text(s, t, 40, &cut), 40);
    if (k)
        check_text(t, mc_sdp_addr_text(&ep[0].addr, t, sizeof(t)), sizeof(t));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *ct = ctypes[data[0] % (sizeof(ctypes) / sizeof(ctypes[0]))];
    size_t n = size - 1;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        abort();
    memcpy(b, data + 1, n);
    struct mc_sdp s;
    if (mc_sdp_parse_body((const uint8_t *)ct, strlen(ct), b, n, &s))
        check(&s);
    if (mc_sdp_parse(b, n, &s) == 0)
        check(&s);
    free(b);

    /* the same body in an INVITE, through the analyzer: one record of at most 0x3fff bytes */
    static uint8_t rec[2 + 0x3fff];
    int h = snprintf((char *)rec + 2, 0x3fff,
                     "INVITE sip:b@example.com SIP/2.0\r\nCall-ID: fuzz\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n", ct, n);
    if (h < 0 || (size_t)h >= 0x3fff)
        return 0;
    size_t body = n < 0x3fff - (size_t)h ? n : 0x3fff - (size_t)h;
    memcpy(rec + 2 + h, data + 1, body);
    size_t len = (size_t)h + body;
    rec[0] = (uint8_t)(len >> 8);
    rec[1] = (uint8_t)len;
    struct l7_fuzz z = { .a = &mc_l7_sip, .port = 5060, .proto = 17 };
    mc_l7_config_defaults(&z.cfg);
    return l7_fuzz_run(&z, rec, 2 + len);
}
