/*
 * json.c - a collected record as one JSON line, keyed and formatted as
 * mcprobe --json writes the same element (export/json.c): the probe's
 * element names, addresses as text, strings escaped, float64 as numbers,
 * every other value an integer.  So the probe's JSON and the collector's
 * JSON of the same flow compare key by key.  An element the probe does not
 * know is "<pen>.<id>" with its bytes in hex.
 */
#include "collector/output.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "common/json.h"
#include "flow/ie.h"

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], out);
        fputc(digits[p[i] & 15], out);
    }
    fputc('"', out);
}

static void put_value(FILE *out, const struct mc_ie *ie, const struct mc_coll_field *f)
{
    char txt[INET6_ADDRSTRLEN];
    if (!ie) {
        put_hex(out, f->value, f->len);
        return;
    }
    switch (ie->type) {
    case MC_IE_T_IPV4:
    case MC_IE_T_IPV6:
        if (f->len == (ie->type == MC_IE_T_IPV4 ? 4 : 16) &&
            inet_ntop(ie->type == MC_IE_T_IPV4 ? AF_INET : AF_INET6, f->value, txt, sizeof(txt)))
            fprintf(out, "\"%s\"", txt);
        else
            put_hex(out, f->value, f->len); /* not an address's length: shown, not guessed */
        break;
    case MC_IE_T_STRING: {
        size_t n = f->len;
        while (n && f->value[n - 1] == 0)
            n--; /* v9's fixed-length strings are NUL-padded; the probe writes the string itself */
        mc_json_string(out, (const char *)f->value, n);
        break;
    }
    case MC_IE_T_FLOAT64: {
        if (f->len != 8) {
            put_hex(out, f->value, f->len);
            break;
        }
        uint64_t u = mc_coll_field_u64(f);
        double d;
        memcpy(&d, &u, sizeof(d));
        fprintf(out, "%.10g", isfinite(d) ? d : 0.0);
        break;
    }
    default:
        if (f->len > 8)
            put_hex(out, f->value, f->len);
        else
            fprintf(out, "%" PRIu64, mc_coll_field_u64(f));
        break;
    }
}

void mc_coll_json_record(FILE *out, const struct mc_coll_record *r, const struct mc_coll_enrichment *e)
{
    char buf[32];
    fputc('{', out);
    for (size_t i = 0; i < r->n; i++) {
        const struct mc_coll_field *f = &r->f[i];
        const struct mc_ie *ie = mc_coll_ie(f->pen, f->id);
        const char *name = ie ? ie->name : mc_coll_field_name(f->pen, f->id, buf, sizeof(buf));
        fprintf(out, "%s\"%s\":", i ? "," : "", name);
        put_value(out, ie, f);
    }
    /* what the cloud knew and the record did not carry: under the probe's names for the same facts */
    if (e) {
        size_t k = r->n;
        for (size_t i = 0; i < e->n; i++, k++) {
            fprintf(out, "%s\"%s\":", k ? "," : "", e->key[i]);
            mc_json_string(out, e->value[i], strlen(e->value[i]));
        }
    }
    fputs("}\n", out);
}
