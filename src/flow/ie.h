/*
 * ie.h - what an information element (IE) is: the row type of the element
 * tables and the getter contract.  Lives with the flow because every stage
 * that adds fields to a flow record (export's base table, the L7 analyzers)
 * writes rows of it; the exporter reads them all through one catalogue
 * (export/fields.h).
 *
 * References: IANA "IPFIX Information Elements" registry, RFC 7012 (types),
 * RFC 5103 (reverse elements, PEN 29305), RFC 3954 (v9 field types 21/22).
 */
#ifndef MC_FLOW_IE_H
#define MC_FLOW_IE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flow/flow.h"

#define MC_PEN_REVERSE 29305u /* RFC 5103 reverse information elements */
#define MC_PEN_MC 32473u      /* RFC 5612 documentation PEN: our tunnel elements */

#define MC_IE_VARLEN 0xffffu  /* IPFIX variable-length marker (RFC 7011 section 7) */

/* Abstract data types we encode (RFC 7012 subset). */
enum mc_ie_type {
    MC_IE_T_UNSIGNED,   /* unsignedN, big-endian, low `len` bytes of the value */
    MC_IE_T_IPV4,       /* ipv4Address, 4 bytes */
    MC_IE_T_IPV6,       /* ipv6Address, 16 bytes */
    MC_IE_T_MS,         /* dateTimeMilliseconds, 8 bytes, epoch ms */
    MC_IE_T_UPTIME,     /* v9 FIRST/LAST_SWITCHED: 4 bytes, ms since the exporter's boot */
    MC_IE_T_STRING,     /* string: fixed length NUL-padded, or IPFIX variable length */
    MC_IE_T_FLOAT64     /* float64, 8 bytes IEEE 754 big-endian (RFC 7011 6.1.3); IPFIX only */
};

/* A float64 value travels in mc_ie_val.u as the double's bits: what its encoding is, big-endian. */
static inline uint64_t mc_ie_f64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static inline double mc_ie_f64_value(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/*
 * What a getter sees: the flow, the direction the record describes, and the
 * exporter-wide values some elements need.  In a biflow record dir is 0 and
 * reverse elements read direction 1; in a uniflow record of direction 1 the
 * source is the server (addresses, ports and tunnel endpoints swap).
 */
struct mc_ie_env {
    const struct mc_flow *f; /* borrowed for the call */
    int dir;                 /* MC_FLOW_FWD or MC_FLOW_REV */
    int biflow;              /* 1: one record for both directions */
    uint64_t boot_ms;        /* probe time sysUpTime counts from (v5/v9) */
    uint32_t ingress_if, egress_if;
};

/* A value: u for numbers, times and float64 bits, addr for addresses, str (NUL-terminated, bounded) for strings. */
struct mc_ie_val {
    uint64_t u;
    const uint8_t *addr;     /* borrowed: points into the flow or a static zero address */
    const char *str;
    size_t str_len;
};

typedef void (*mc_ie_get_fn)(const struct mc_ie_env *env, struct mc_ie_val *out);

/* Row flags. */
#define MC_IE_F_V4 0x01      /* meaningful for IPv4 flows only (has a v6 counterpart) */
#define MC_IE_F_V6 0x02      /* meaningful for IPv6 flows only (has a v4 counterpart) */
#define MC_IE_F_REVERSE 0x04 /* RFC 5103 reverse element: biflow records only */
#define MC_IE_F_V9ONLY 0x08  /* v9 spelling (sysUpTime); IPFIX uses the counterpart */
#define MC_IE_F_NOV9 0x10    /* not exportable in v9 (has a v9 counterpart or is enterprise) */

struct mc_ie {
    const char *name;        /* exact IANA name ("reverse" + Name for RFC 5103) */
    uint16_t id;             /* element id (without the enterprise bit) */
    uint32_t pen;            /* 0 for IANA elements */
    uint16_t len;            /* IPFIX length, MC_IE_VARLEN for variable-length strings */
    uint16_t v9_len;         /* length in v9 (fixed), 0 when not exportable in v9 */
    uint8_t type;            /* enum mc_ie_type */
    uint8_t flags;           /* MC_IE_F_* */
    const char *counterpart; /* name of the other-IP-version or other-dialect twin, or NULL */
    mc_ie_get_fn get;
    const char *descr;       /* one line for --list-fields */
    uint16_t max_len;        /* strings: longest value in bytes (longer ones are cut); 0: v9_len */
};

/* The longest value a string element carries: what exporters size records by. */
static inline size_t mc_ie_max_len(const struct mc_ie *ie)
{
    return ie->max_len ? ie->max_len : ie->v9_len;
}

#endif /* MC_FLOW_IE_H */
