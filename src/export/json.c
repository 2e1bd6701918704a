/*
 * json.c - one JSON object per exported record, one per line (JSON Lines),
 * keyed by the exact IANA names of the template in use so the JSON and the
 * IPFIX/v9/v5 records carry the same fields and values.
 *
 * Addresses are text (inet_ntop: RFC 5952 for IPv6), times and counters are
 * integers, float64 elements numbers (10 significant digits), strings are
 * escaped per RFC 8259 with invalid UTF-8 bytes replaced by U+FFFD so every
 * line is valid JSON.  Output goes through stdio buffering;
 * mc_exporter_flush calls fflush.
 */
#include "export/internal.h"
#include "common/json.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <sys/socket.h>

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
            mc_json_string(out, v.str, len != MC_IE_VARLEN && v.str_len > len ? len : v.str_len);
            break;
        case MC_IE_T_FLOAT64: {
            /* JSON has no NaN or infinity: those would be 0 (our getters never make them) */
            double d = mc_ie_f64_value(v.u);
            fprintf(out, "%.10g", isfinite(d) ? d : 0.0);
            break;
        }
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
