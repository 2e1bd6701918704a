/*
 * json.c - a collected record as one JSON line, keyed and formatted as
 * mcprobe --json writes the same element (export/json.c): the probe's
 * element names, addresses as text, strings escaped, float64 as numbers,
 * every other value an integer.  So the probe's JSON and the collector's
 * JSON of the same flow compare key by key.  An IANA element the probe does
 * not export is named and read by the IANA table (iana.c: MAC addresses as
 * text, NTP times as UNIX seconds with nine decimals, byte strings in hex);
 * any other element is "<pen>.<id>" with its bytes in hex.
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

static void put_f64(FILE *out, const struct mc_coll_field *f)
{
    uint64_t u = mc_coll_field_u64(f);
    double d;
    memcpy(&d, &u, sizeof(d));
    fprintf(out, "%.10g", isfinite(d) ? d : 0.0);
}

static void put_string(FILE *out, const struct mc_coll_field *f)
{
    size_t n = f->len;
    while (n && f->value[n - 1] == 0)
        n--; /* v9's fixed-length strings are NUL-padded; the probe writes the string itself */
    mc_json_string(out, (const char *)f->value, n);
}

/* A value by its type (the IANA registry's; the probe's element types map onto them, see value_type). */
static void put_typed(FILE *out, enum mc_coll_iana_type type, const struct mc_coll_field *f)
{
    char txt[INET6_ADDRSTRLEN];
    switch (type) {
    case IANA_V4:
    case IANA_V6:
        if (f->len == (type == IANA_V4 ? 4 : 16) &&
            inet_ntop(type == IANA_V4 ? AF_INET : AF_INET6, f->value, txt, sizeof(txt)))
            fprintf(out, "\"%s\"", txt);
        else
            put_hex(out, f->value, f->len); /* not an address's length: shown, not guessed */
        break;
    case IANA_MAC:
        if (f->len == 6)
            fprintf(out, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", f->value[0], f->value[1], f->value[2], f->value[3],
                    f->value[4], f->value[5]);
        else
            put_hex(out, f->value, f->len);
        break;
    case IANA_STR:
        put_string(out, f);
        break;
    case IANA_NTP: /* RFC 7011 6.1.10: seconds since 1900 and a binary fraction; written as UNIX seconds */
        if (f->len == 8 && mc_coll_field_u64(f) >> 32 >= 2208988800u) {
            uint64_t v = mc_coll_field_u64(f);
            fprintf(out, "%llu.%09llu", (unsigned long long)((v >> 32) - 2208988800u),
                    (unsigned long long)(((v & 0xffffffffu) * 1000000000u) >> 32));
        } else {
            put_hex(out, f->value, f->len);
        }
        break;
    case IANA_F64:
        if (f->len == 8)
            put_f64(out, f);
        else
            put_hex(out, f->value, f->len);
        break;
    case IANA_HEX:
        put_hex(out, f->value, f->len);
        break;
    default:
        if (f->len > 8)
            put_hex(out, f->value, f->len);
        else
            fprintf(out, "%" PRIu64, mc_coll_field_u64(f));
        break;
    }
}

/*
 * How a field's value reads: by the probe's element when it has one, else by
 * IANA's registry; a field named nowhere but our own table (sFlow's
 * interface counters) is a number; anything else is bytes.
 */
static enum mc_coll_iana_type value_type(const struct mc_ie *ie, const struct mc_coll_field *f)
{
    if (ie) {
        switch (ie->type) {
        case MC_IE_T_IPV4: return IANA_V4;
        case MC_IE_T_IPV6: return IANA_V6;
        case MC_IE_T_STRING: return IANA_STR;
        case MC_IE_T_FLOAT64: return IANA_F64;
        default: return IANA_U;
        }
    }
    const struct mc_coll_iana *e = f->pen == 0 ? mc_coll_iana(f->id) : NULL;
    if (e)
        return (enum mc_coll_iana_type)e->type;
    char name[32];
    return mc_coll_field_name(f->pen, f->id, name, sizeof(name)) != name ? IANA_U : IANA_HEX;
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
        put_typed(out, value_type(ie, f), f);
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
