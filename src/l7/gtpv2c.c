/*
 * gtpv2c.c - the GTPv2-C message parser (3GPP TS 29.274).
 *
 * Header (5.1): version 2, P (a piggybacked message follows this one:
 * only the first is read), T (a TEID is present), MP; message type; "Message
 * Length ... the length of the message in octets excluding the mandatory
 * part of the GTP-C header (the first 4 octets)"; TEID when T; a 24-bit
 * sequence number and a spare octet.
 *
 * IEs (8.2): type, 2-octet length, spare(4) | instance(4), value.  Grouped
 * IEs (Bearer Context 93, PDN Connection 109, Overload/Load Control
 * Information 180/181, Remote UE Context 191) hold IEs; they are read
 * recursively, at most MC_GTPC_MAX_DEPTH deep (MC_GTPC_TOO_DEEP beyond);
 * the EBI of a Bearer Context is given to the F-TEIDs inside it.  An IE
 * whose length runs past its message or group ends the parse
 * (MC_GTPC_BAD_IE); a value shorter than its IE needs is skipped.
 */
#include "l7/gtpc.h"

#include <string.h>

#include "common/cur.h"

#define IE_IMSI 1
#define IE_CAUSE 2
#define IE_APN 71
#define IE_EBI 73
#define IE_MEI 75
#define IE_MSISDN 76
#define IE_PAA 79
#define IE_RAT 82
#define IE_SERVING_NETWORK 83
#define IE_ULI 86
#define IE_FTEID 87
#define IE_BEARER_CONTEXT 93

int mc_gtpc_iface_user(uint8_t iface)
{
    /* TS 29.274 table 8.22-1: the GTP-U interface types */
    static const uint64_t user = 1ull << 0 | 1ull << 1 | 1ull << 2 | 1ull << 3 | 1ull << 4 | 1ull << 5 | 1ull << 15 |
                                 1ull << 16 | 1ull << 19 | 1ull << 20 | 1ull << 21 | 1ull << 22 | 1ull << 23 |
                                 1ull << 28 | 1ull << 29 | 1ull << 31 | 1ull << 33 | 1ull << 34 | 1ull << 37 |
                                 1ull << 38 | 1ull << 39 | 1ull << 41;
    return iface < 64 && (user >> iface & 1);
}

static int grouped(uint8_t t) { return t == IE_BEARER_CONTEXT || t == 109 || t == 180 || t == 181 || t == 191; }

/* PAA (8.14): PDN type 1 IPv4, 2 IPv6 (prefix length, address), 3 both (IPv6 first). */
static void paa(struct mc_gtpc_msg *m, const uint8_t *v, size_t n)
{
    if (n < 1)
        return;
    uint8_t type = v[0] & 0x07;
    if (type == 1 && n >= 5) {
        memcpy(m->ue_v4, v + 1, 4);
        m->has_ue_v4 = 1;
    } else if ((type == 2 || type == 3) && n >= 18) {
        m->ue_v6_prefix_len = v[1];
        memcpy(m->ue_v6, v + 2, 16);
        m->has_ue_v6 = 1;
        if (type == 3 && n >= 22) {
            memcpy(m->ue_v4, v + 18, 4);
            m->has_ue_v4 = 1;
        }
    }
}

/* ULI (8.21): flags, then CGI, SAI, RAI (7 octets each), TAI (5), ECGI (7), in that order. */
static void uli(struct mc_gtpc_msg *m, const uint8_t *v, size_t n)
{
    struct mc_cur c = mc_cur_make(v, n);
    uint8_t flags = mc_cur_u8(&c);
    for (int bit = 0; bit < 5 && mc_cur_ok(&c); bit++) {
        if (!(flags >> bit & 1))
            continue;
        size_t len = bit == 3 ? 5 : 7;
        if (mc_cur_left(&c) < len)
            return;
        const uint8_t *f = mc_cur_ptr(&c);
        mc_cur_skip(&c, len);
        if (!m->mcc[0])
            mc_gtpc_plmn(f, m->mcc, m->mnc);
        uint16_t a = (uint16_t)(f[3] << 8 | f[4]), b = len == 7 ? (uint16_t)(f[5] << 8 | f[6]) : 0;
        switch (bit) {
        case 0:
            m->has_cgi = 1, m->lac = a, m->ci = b;
            break;
        case 1:
            m->has_sai = 1, m->lac = a, m->sac = b;
            break;
        case 2:
            m->has_rai = 1, m->lac = a, m->rac = (uint16_t)(b >> 8);
            break;
        case 3:
            m->has_tai = 1, m->tac = a;
            break;
        default:
            m->has_ecgi = 1;
            m->eci = ((uint32_t)f[3] & 0x0f) << 24 | (uint32_t)f[4] << 16 | (uint32_t)f[5] << 8 | f[6];
            break;
        }
    }
}

/* F-TEID (8.22): V4, V6 flags and the interface type, TEID / GRE key, then the addresses. */
static void fteid(struct mc_gtpc_msg *m, const uint8_t *v, size_t n, uint8_t ebi)
{
    if (n < 5)
        return;
    size_t need = 5 + ((v[0] & 0x80) ? 4 : 0) + ((v[0] & 0x40) ? 16 : 0);
    if (n < need)
        return;
    if (m->n_fteids >= MC_GTPC_FTEIDS) {
        m->truncated++;
        return;
    }
    struct mc_gtpc_fteid *f = &m->fteid[m->n_fteids++];
    memset(f, 0, sizeof(*f));
    f->iface = v[0] & 0x3f;
    f->user = (uint8_t)mc_gtpc_iface_user(f->iface);
    f->ebi = ebi;
    f->teid = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
    size_t off = 5;
    if (v[0] & 0x80) {
        f->has_v4 = 1;
        memcpy(f->v4, v + off, 4);
        off += 4;
    }
    if (v[0] & 0x40) {
        f->has_v6 = 1;
        memcpy(f->v6, v + off, 16);
    }
}

static void keep_ebi(struct mc_gtpc_msg *m, uint8_t ebi)
{
    if (m->n_ebis < MC_GTPC_EBIS)
        m->ebi[m->n_ebis++] = ebi;
    else
        m->truncated++;
}

/* The EBI IE of a group (its first, instance any), or 0: what its F-TEIDs belong to. */
static uint8_t group_ebi(struct mc_cur c)
{
    while (mc_cur_left(&c) >= 4) {
        uint8_t t = mc_cur_u8(&c);
        uint16_t len = mc_cur_be16(&c);
        (void)mc_cur_u8(&c);
        if (mc_cur_left(&c) < len)
            return 0;
        if (t == IE_EBI && len >= 1)
            return mc_cur_ptr(&c)[0] & 0x0f;
        mc_cur_skip(&c, len);
    }
    return 0;
}

static void value(struct mc_gtpc_msg *m, uint8_t t, const uint8_t *v, size_t n, uint8_t ebi, int depth)
{
    int cut = 0;
    switch (t) {
    case IE_IMSI:
        mc_gtpc_tbcd(v, n, m->imsi, sizeof(m->imsi), &cut);
        break;
    case IE_CAUSE:
        if (n >= 1 && depth == 1) { /* the message's, not a bearer's */
            m->has_cause = 1;
            m->cause = v[0];
        }
        break;
    case IE_APN:
        mc_gtpc_apn(v, n, m->apn, sizeof(m->apn), &cut);
        break;
    case IE_EBI:
        if (n >= 1)
            keep_ebi(m, v[0] & 0x0f);
        break;
    case IE_MEI:
        mc_gtpc_tbcd(v, n, m->imei, sizeof(m->imei), &cut);
        break;
    case IE_MSISDN:
        mc_gtpc_tbcd(v, n, m->msisdn, sizeof(m->msisdn), &cut);
        break;
    case IE_PAA:
        paa(m, v, n);
        break;
    case IE_RAT:
        if (n >= 1) {
            m->has_rat = 1;
            m->rat = v[0];
        }
        break;
    case IE_SERVING_NETWORK:
        if (n >= 3)
            mc_gtpc_plmn(v, m->mcc, m->mnc);
        break;
    case IE_ULI:
        uli(m, v, n);
        break;
    case IE_FTEID:
        fteid(m, v, n, ebi);
        break;
    default:
        break;
    }
    if (cut)
        m->truncated++;
}

static int ies(struct mc_gtpc_msg *m, struct mc_cur c, int depth, uint8_t ebi)
{
    if (depth > MC_GTPC_MAX_DEPTH)
        return MC_GTPC_TOO_DEEP;
    while (mc_cur_left(&c)) {
        uint8_t t = mc_cur_u8(&c);
        uint16_t len = mc_cur_be16(&c);
        (void)mc_cur_u8(&c); /* spare, instance */
        if (!mc_cur_ok(&c) || mc_cur_left(&c) < len)
            return MC_GTPC_BAD_IE;
        struct mc_cur v = mc_cur_sub(&c, len);
        if (m->n_ies < UINT16_MAX)
            m->n_ies++;
        if (grouped(t)) {
            uint8_t e = t == IE_BEARER_CONTEXT ? group_ebi(v) : ebi;
            int r = ies(m, v, depth + 1, e);
            if (r != MC_GTPC_OK)
                return r;
        } else {
            value(m, t, mc_cur_ptr(&v), len, ebi, depth);
        }
    }
    return MC_GTPC_OK;
}

int mc_gtpv2c_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m)
{
    struct mc_cur c = mc_cur_make(p, n);
    memset(m, 0, sizeof(*m));
    uint8_t flags = mc_cur_u8(&c);
    m->type = mc_cur_u8(&c);
    uint16_t len = mc_cur_be16(&c);
    if (!mc_cur_ok(&c) || mc_cur_left(&c) < ((flags & 0x08) ? 8u : 4u))
        return MC_GTPC_TOO_SHORT;
    if ((flags >> 5) != 2)
        return MC_GTPC_BAD_VERSION;
    m->version = 2;
    m->request = (uint8_t)mc_gtpc_is_request(2, m->type);
    /* the length covers this message only: a piggybacked one follows it (P flag) */
    struct mc_cur b = mc_cur_sub(&c, len);
    if (!mc_cur_ok(&b) || len < ((flags & 0x08) ? 8u : 4u))
        return MC_GTPC_BAD_LENGTH;
    if (flags & 0x08) {
        m->has_teid = 1;
        m->teid = mc_cur_be32(&b);
    }
    m->has_seq = 1;
    m->seq = mc_cur_be24(&b);
    (void)mc_cur_u8(&b);
    return ies(m, b, 1, 0);
}
