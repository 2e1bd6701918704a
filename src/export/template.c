/*
 * template.c - the -T parser and the mapping of a field list onto concrete
 * IPFIX (RFC 7011 section 3.4.1) and NetFlow v9 (RFC 3954 section 5.2)
 * templates, one per IP version; plus the generic record encoder.
 */
#include "export/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The default list; the reverse elements stay in biflow IPFIX (--biflow) only. */
static const char *const default_fields[] = {
    "sourceIPv4Address", "destinationIPv4Address", "sourceTransportPort", "destinationTransportPort",
    "protocolIdentifier", "ipClassOfService", "tcpControlBits", "packetDeltaCount", "octetDeltaCount",
    "flowStartMilliseconds", "flowEndMilliseconds", "vlanId", "icmpTypeCodeIPv4", "icmpTypeCodeIPv6",
    "ingressInterface", "egressInterface", "flowEndReason", "reversePacketDeltaCount",
    "reverseOctetDeltaCount", "reverseTcpControlBits", "reverseIpClassOfService",
    "reverseFlowStartMilliseconds", "reverseFlowEndMilliseconds",
};

/* The NetFlow v5 record's fields in wire order (pads left out). */
static const char *const v5_fields[] = {
    "sourceIPv4Address", "destinationIPv4Address", "ipNextHopIPv4Address", "ingressInterface",
    "egressInterface", "packetDeltaCount", "octetDeltaCount", "flowStartSysUpTime", "flowEndSysUpTime",
    "sourceTransportPort", "destinationTransportPort", "tcpControlBits", "protocolIdentifier",
    "ipClassOfService", "bgpSourceAsNumber", "bgpDestinationAsNumber", "sourceIPv4PrefixLength",
    "destinationIPv4PrefixLength",
};

static int spec_has(const struct mc_template_spec *s, const struct mc_ie *ie)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->ie[i] == ie)
            return 1;
    return 0;
}

static int is_sep(char c)
{
    return c == ',' || isspace((unsigned char)c);
}

int mc_export_template_parse(const char *spec, struct mc_template_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!spec) {
        for (size_t i = 0; i < sizeof(default_fields) / sizeof(default_fields[0]); i++)
            out->ie[out->n++] = mc_export_ie_find(default_fields[i], strlen(default_fields[i]));
        return 0;
    }
    const char *p = spec;
    for (;;) {
        while (*p && is_sep(*p))
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && !is_sep(*p))
            p++;
        size_t n = (size_t)(p - w);
        const char *name = w;
        if (name[0] == '%') {
            name++;
            n--;
        }
        const struct mc_ie *ie = n ? mc_export_ie_find(name, n) : NULL;
        if (!ie) {
            int shown = (int)((size_t)(p - w) > 64 ? 64 : (size_t)(p - w));
            snprintf(err, errlen, "-T: unknown field '%.*s' (see --list-fields)", shown, w);
            return -1;
        }
        if (spec_has(out, ie))
            continue;
        if (out->n >= MC_TMPL_MAX) {
            snprintf(err, errlen, "-T: more than %d fields", MC_TMPL_MAX);
            return -1;
        }
        out->ie[out->n++] = ie;
    }
    if (out->n == 0) {
        snprintf(err, errlen, "-T: empty field list");
        return -1;
    }
    return 0;
}

/* Follows ie's counterpart link when the element does not fit ip_ver / version. */
static const struct mc_ie *map_ie(const struct mc_ie *ie, int version, int ip_ver)
{
    int swap = 0;
    if ((ie->flags & MC_IE_F_V4) && ip_ver == 6)
        swap = 1;
    if ((ie->flags & MC_IE_F_V6) && ip_ver == 4)
        swap = 1;
    if ((ie->flags & MC_IE_F_V9ONLY) && version == 10)
        swap = 1;
    if ((ie->flags & MC_IE_F_NOV9) && version == 9 && ie->counterpart)
        swap = 1;
    if (swap && ie->counterpart)
        return mc_export_ie_find(ie->counterpart, strlen(ie->counterpart));
    return ie;
}

/* Records of a template without variable-length fields all have one size: computed once. */
static void set_fixed_len(struct mc_template *t)
{
    t->fixed_part = 0;
    t->n_var = 0;
    t->var_all_strings = 1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->f[i].len == MC_IE_VARLEN) {
            t->var_idx[t->n_var++] = (uint8_t)i;
            t->var_all_strings &= t->f[i].ie->type == MC_IE_T_STRING;
        } else
            t->fixed_part += t->f[i].len;
    }
    t->fixed_len = t->n_var ? 0 : t->fixed_part;
}

int mc_export_template_build(const struct mc_template_spec *spec, int version, int biflow, int ip_ver,
                             struct mc_template *t, char *err, size_t errlen)
{
    struct mc_template_spec seen = { 0 };
    memset(t, 0, sizeof(*t));
    t->id = ip_ver == 4 ? MC_TMPL_ID_V4 : MC_TMPL_ID_V6;
    t->ip_ver = (uint8_t)ip_ver;
    t->version = (uint8_t)version;
    for (size_t i = 0; i < spec->n; i++) {
        const struct mc_ie *ie = map_ie(spec->ie[i], version, ip_ver);
        if (ie->flags & MC_IE_F_REVERSE) {
            if (!biflow)
                continue;
        } else if (version == 9 && (ie->flags & MC_IE_F_NOV9)) {
            snprintf(err, errlen, "-T: field '%s' needs IPFIX (-V 10)", ie->name);
            return -1;
        }
        if (spec_has(&seen, ie))
            continue;
        seen.ie[seen.n++] = ie;
        uint16_t len = version == 9 ? ie->v9_len : ie->len;
        t->f[t->n].ie = ie;
        t->f[t->n].len = len;
        t->n++;
    }
    if (t->n == 0) {
        snprintf(err, errlen, "-T: no field left for NetFlow v%d %s records", version,
                 biflow ? "biflow" : "uniflow");
        return -1;
    }
    set_fixed_len(t);
    return 0;
}

void mc_export_template_v5(struct mc_template *t)
{
    /* wire widths of the v5 record, in v5_fields order */
    static const uint16_t v5_len[] = { 4, 4, 4, 2, 2, 4, 4, 4, 4, 2, 2, 1, 1, 1, 2, 2, 1, 1 };
    memset(t, 0, sizeof(*t));
    t->id = MC_TMPL_ID_V4;
    t->ip_ver = 4;
    t->version = 5;
    for (size_t i = 0; i < sizeof(v5_fields) / sizeof(v5_fields[0]); i++) {
        t->f[t->n].ie = mc_export_ie_find(v5_fields[i], strlen(v5_fields[i]));
        t->f[t->n].len = v5_len[i];
        t->n++;
    }
    set_fixed_len(t);
}

size_t mc_export_template_wire_len(const struct mc_template *t)
{
    size_t n = 4;
    for (size_t i = 0; i < t->n; i++)
        n += (t->version == 10 && t->f[i].ie->pen) ? 8 : 4;
    return n;
}

size_t mc_export_template_write(const struct mc_template *t, uint8_t *out)
{
    uint8_t *p = out;
    mc_put16(p, t->id);
    mc_put16(p + 2, (uint32_t)t->n);
    p += 4;
    for (size_t i = 0; i < t->n; i++) {
        const struct mc_ie *ie = t->f[i].ie;
        if (t->version == 10 && ie->pen) {
            /* RFC 7011 3.2: enterprise bit set, then the 4-byte enterprise number */
            mc_put16(p, 0x8000u | ie->id);
            mc_put16(p + 2, t->f[i].len);
            mc_put32(p + 4, ie->pen);
            p += 8;
        } else {
            mc_put16(p, ie->id);
            mc_put16(p + 2, t->f[i].len);
            p += 4;
        }
    }
    return (size_t)(p - out);
}

size_t mc_export_template_record_len(const struct mc_template *t, const struct mc_ie_env *env)
{
    if (t->fixed_len)
        return t->fixed_len;
    /* strings come from the flow's extension: without one, each is empty,
     * one length byte (as mc_export_template_record_put writes them) */
    if (!env->f->ext && t->var_all_strings)
        return t->fixed_part + t->n_var;
    /* only the variable-length fields (strings) need this record's values */
    size_t n = t->fixed_part;
    for (size_t k = 0; k < t->n_var; k++)
        n += mc_export_ie_size(t->f[t->var_idx[k]].ie, t->f[t->var_idx[k]].len, env);
    return n;
}

size_t mc_export_template_record_put(const struct mc_template *t, const struct mc_ie_env *env, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        /* every string of a flow comes from its extension: none, all empty */
        if (t->f[i].len == MC_IE_VARLEN && !env->f->ext && t->f[i].ie->type == MC_IE_T_STRING) {
            out[n++] = 0;
            continue;
        }
        n += mc_export_ie_encode(t->f[i].ie, t->f[i].len, env, out + n);
    }
    return n;
}

int mc_export_template_add(struct mc_template_spec *s, const char *name)
{
    const struct mc_ie *ie = mc_export_ie_find(name, strlen(name));
    if (!ie)
        return -1;
    if (spec_has(s, ie))
        return 0;
    if (s->n >= sizeof(s->ie) / sizeof(s->ie[0]))
        return -1;
    s->ie[s->n++] = ie;
    return 0;
}
