/*
 * json.c - one JSON object per exported record, one per line (JSON Lines),
 * keyed by the exact IANA names of the template in use so the JSON and the
 * IPFIX/v9/v5 records carry the same fields and values.
 *
 * Addresses are text (inet_ntop: RFC 5952 for IPv6), times and counters are
 * integers, strings are escaped per RFC 8259 with invalid UTF-8 bytes
 * replaced by U+FFFD so every line is valid JSON.  Output goes through
 * stdio buffering; mc_exporter_flush calls fflush.
 */
#include "export/internal.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <sys/socket.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    uint32_t cp;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (k > n)
        return 0;
    cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp > 0x10ffff)
        return 0;
    return k;
}

static void put_string(FILE *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            i++;
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, out);
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k) {
                fwrite(s + i, 1, k, out);
                i += k;
            } else {
                fputs("\\ufffd", out);
                i++;
            }
        }
    }
    fputc('"', out);
}

void mc_export_json_record(FILE *out, const struct mc_template *t, const struct mc_ie_env *env)
{
    char txt[INET6_ADDRSTRLEN];
    fputc('{', out);
    for (size_t i = 0; i < t->n; i++) {
        const struct mc_ie *ie = t->f[i].ie;
        uint16_t len = t->f[i].len;
        struct mc_ie_val v;
        mc_export_ie_value(ie, env, &v);
        fprintf(out, "%s\"%s\":", i ? "," : "", ie->name);
        switch (ie->type) {
        case MC_IE_T_IPV4:
        case MC_IE_T_IPV6:
            inet_ntop(ie->type == MC_IE_T_IPV4 ? AF_INET : AF_INET6, v.addr, txt, sizeof(txt));
            fprintf(out, "\"%s\"", txt);
            break;
        case MC_IE_T_STRING:
            /* the same bytes the fixed-length v9 field carries */
            put_string(out, v.str, len != MC_IE_VARLEN && v.str_len > len ? len : v.str_len);
            break;
        default:
            /* clamp as the binary encoder does for fields narrower than the value */
            if (ie->type == MC_IE_T_UNSIGNED && len < 8 && v.u >> (8 * len))
                v.u = (1ull << (8 * len)) - 1;
            fprintf(out, "%" PRIu64, v.u);
            break;
        }
    }
    fputs("}\n", out);
    if (ferror(out)) {
        MC_CTR_INC(export, json_errors);
        clearerr(out);
    } else {
        MC_CTR_INC(export, json_records);
    }
}
