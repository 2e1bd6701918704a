/*
 * gtpv1c.c - the GTPv1-C message parser (3GPP TS 29.060) and the helpers
 * both GTP-C parsers share (TBCD digits, APN labels, PLMN ids).
 *
 * TS 29.060 6: "Version" 1, "PT" 1 (0 is GTP'), then E, S and PN flags;
 * "Length ... the length in octets of the payload, i.e. the rest of the
 * packet following the mandatory part of the GTP header (that is the first
 * 8 octets)"; when any of E, S, PN is set, the Sequence Number, N-PDU
 * Number and Next Extension Header Type octets are all present.  An
 * extension header is a length octet (in 4-octet units, never 0), its
 * content and the next type (6.1).
 *
 * IEs (7.7): type < 128 is TV with a length fixed by the type (table 37;
 * an unknown one cannot be skipped, so the message is given up:
 * MC_GTPC_BAD_IE), type >= 128 is TLV with a 2-octet length.
 */
#include "l7/gtpc.h"

#include <string.h>

#include "common/cur.h"

/* ---- shared helpers ---------------------------------------------------------- */

size_t mc_gtpc_tbcd(const uint8_t *p, size_t n, char *out, size_t cap, int *cut)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t d[2] = { (uint8_t)(p[i] & 0x0f), (uint8_t)(p[i] >> 4) };
        for (int j = 0; j < 2; j++) {
            if (d[j] == 0x0f)
                goto done;
            if (k + 1 >= cap) {
                *cut = 1;
                goto done;
            }
            /* 10-14 are *, #, a, b, c (TS 29.002 TBCD-STRING) */
            out[k++] = d[j] < 10 ? (char)('0' + d[j]) : "*#abc"[d[j] - 10];
        }
    }
done:
    out[k] = '\0';
    return k;
}

size_t mc_gtpc_apn(const uint8_t *p, size_t n, char *out, size_t cap, int *cut)
{
    struct mc_cur c = mc_cur_make(p, n);
    size_t k = 0;
    while (mc_cur_left(&c)) {
        uint8_t l = mc_cur_u8(&c);
        const uint8_t *lab = mc_cur_ptr(&c);
        mc_cur_skip(&c, l);
        if (!mc_cur_ok(&c)) {
            *cut = 1;
            break;
        }
        if (k && k + 1 < cap)
            out[k++] = '.';
        for (size_t i = 0; i < l; i++) {
            if (k + 1 >= cap) {
                *cut = 1;
                break;
            }
            out[k++] = lab[i] >= 0x20 && lab[i] < 0x7f ? (char)lab[i] : '?';
        }
    }
    out[k] = '\0';
    return k;
}

void mc_gtpc_plmn(const uint8_t *p, char mcc[4], char mnc[4])
{
    static const char dig[] = "0123456789??????";
    mcc[0] = dig[p[0] & 0xf];
    mcc[1] = dig[p[0] >> 4];
    mcc[2] = dig[p[1] & 0xf];
    mcc[3] = '\0';
    mnc[0] = dig[p[2] & 0xf];
    mnc[1] = dig[p[2] >> 4];
    /* MNC digit 3 is 0xf for a two-digit MNC */
    mnc[2] = (p[1] >> 4) == 0xf ? '\0' : dig[p[1] >> 4];
    mnc[3] = '\0';
}

/* ---- GTPv1-C ------------------------------------------------------------------ */

/* TS 29.060 table 37 (and 7.7.x): value octets of each TV IE; 0 unknown (cannot be skipped). */
static const uint8_t tv_len[128] = {
    [1] = 1,   /* Cause */
    [2] = 8,   /* IMSI */
    [3] = 6,   /* Routeing Area Identity */
    [4] = 4,   /* TLLI */
    [5] = 4,   /* P-TMSI */
    [8] = 1,   /* Reordering Required */
    [9] = 28,  /* Authentication Triplet */
    [11] = 1,  /* MAP Cause */
    [12] = 3,  /* P-TMSI Signature */
    [13] = 1,  /* MS Validated */
    [14] = 1,  /* Recovery */
    [15] = 1,  /* Selection Mode */
    [16] = 4,  /* TEID Data I */
    [17] = 4,  /* TEID Control Plane */
    [18] = 5,  /* TEID Data II: NSAPI, TEID */
    [19] = 1,  /* Teardown Ind */
    [20] = 1,  /* NSAPI */
    [21] = 1,  /* RANAP Cause */
    [22] = 9,  /* RAB Context */
    [23] = 1,  /* Radio Priority SMS */
    [24] = 1,  /* Radio Priority */
    [25] = 2,  /* Packet Flow Id */
    [26] = 2,  /* Charging Characteristics */
    [27] = 2,  /* Trace Reference */
    [28] = 2,  /* Trace Type */
    [29] = 1,  /* MS Not Reachable Reason */
    [127] = 4, /* Charging ID */
};

#define V1_HDR 8
#define V1_MAX_TEIDS 8 /* TEID IEs paired at the end */

/* A TEID IE waiting for the GSN addresses that follow it. */
struct v1_teid {
    uint8_t kind, nsapi;
    uint32_t teid;
};

static void keep_ebi(struct mc_gtpc_msg *m, uint8_t ebi)
{
    if (m->n_ebis < MC_GTPC_EBIS)
        m->ebi[m->n_ebis++] = ebi;
    else
        m->truncated++;
}

/* End User Address (7.7.27): PDP type organisation 1 (IETF), number 0x21 IPv4, 0x57 IPv6, 0x8d IPv4v6. */
static void end_user_address(struct mc_gtpc_msg *m, const uint8_t *v, size_t n)
{
    if (n < 2 || (v[0] & 0x0f) != 1)
        return;
    v += 2;
    n -= 2;
    switch (v[-1]) {
    case 0x21:
        if (n >= 4) {
            memcpy(m->ue_v4, v, 4);
            m->has_ue_v4 = 1;
        }
        break;
    case 0x57:
        if (n >= 16) {
            memcpy(m->ue_v6, v, 16);
            m->has_ue_v6 = 1;
            m->ue_v6_prefix_len = 64;
        }
        break;
    case 0x8d: /* 29.060 7.7.27: IPv4 then IPv6, either may be absent (dynamic) */
        if (n == 4 || n == 20) {
            memcpy(m->ue_v4, v, 4);
            m->has_ue_v4 = 1;
        }
        if (n == 16 || n == 20) {
            memcpy(m->ue_v6, v + (n == 20 ? 4 : 0), 16);
            m->has_ue_v6 = 1;
            m->ue_v6_prefix_len = 64;
        }
        break;
    default:
        break;
    }
}

/* User Location Information (7.7.51): type 0 CGI, 1 SAI, 2 RAI; PLMN, LAC, then CI / SAC / RAC. */
static void uli(struct mc_gtpc_msg *m, const uint8_t *v, size_t n)
{
    if (n < 8)
        return;
    if (!m->mcc[0])
        mc_gtpc_plmn(v + 1, m->mcc, m->mnc);
    uint16_t lac = (uint16_t)(v[4] << 8 | v[5]), x = (uint16_t)(v[6] << 8 | v[7]);
    m->lac = lac;
    if (v[0] == 0) {
        m->has_cgi = 1;
        m->ci = x;
    } else if (v[0] == 1) {
        m->has_sai = 1;
        m->sac = x;
    } else if (v[0] == 2) {
        m->has_rai = 1;
        m->rac = (uint16_t)(x >> 8);
    }
}

static void tv(struct mc_gtpc_msg *m, uint8_t t, const uint8_t *v, struct v1_teid *teids, int *n_teids)
{
    int cut = 0;
    switch (t) {
    case 1:
        m->has_cause = 1;
        m->cause = v[0];
        break;
    case 2:
        mc_gtpc_tbcd(v, 8, m->imsi, sizeof(m->imsi), &cut);
        break;
    case 3:
        if (!m->mcc[0])
            mc_gtpc_plmn(v, m->mcc, m->mnc);
        if (!m->has_rai && !m->has_cgi && !m->has_sai) {
            m->lac = (uint16_t)(v[3] << 8 | v[4]);
            m->rac = v[5];
        }
        m->has_rai = 1;
        break;
    case 16:
    case 17:
    case 18:
        if (*n_teids >= V1_MAX_TEIDS) {
            m->truncated++;
            break;
        }
        teids[*n_teids].kind = t == 16 ? MC_GTPC_IF_V1_DATA : t == 17 ? MC_GTPC_IF_V1_CONTROL : MC_GTPC_IF_V1_DATA2;
        teids[*n_teids].nsapi = t == 18 ? (uint8_t)(v[0] & 0x0f) : 0;
        teids[*n_teids].teid = (uint32_t)v[t == 18] << 24 | (uint32_t)v[t == 18 ? 2 : 1] << 16 |
                               (uint32_t)v[t == 18 ? 3 : 2] << 8 | v[t == 18 ? 4 : 3];
        (*n_teids)++;
        break;
    case 20:
        keep_ebi(m, (uint8_t)(v[0] & 0x0f));
        break;
    default:
        break;
    }
    if (cut)
        m->truncated++;
}

static void tlv(struct mc_gtpc_msg *m, uint8_t t, const uint8_t *v, size_t n, uint8_t gsn[2][16], uint8_t gsn_len[2],
                int *n_gsn)
{
    int cut = 0;
    switch (t) {
    case 128:
        end_user_address(m, v, n);
        break;
    case 131:
        mc_gtpc_apn(v, n, m->apn, sizeof(m->apn), &cut);
        break;
    case 133:
        if (n != 4 && n != 16)
            break;
        if (*n_gsn >= 2) {
            m->truncated++;
            break;
        }
        memcpy(gsn[*n_gsn], v, n);
        gsn_len[*n_gsn] = (uint8_t)n;
        (*n_gsn)++;
        break;
    case 134: /* the nature-of-address octet, then the digits */
        if (n >= 1)
            mc_gtpc_tbcd(v + 1, n - 1, m->msisdn, sizeof(m->msisdn), &cut);
        break;
    case 151:
        if (n >= 1) {
            m->has_rat = 1;
            m->rat = v[0];
        }
        break;
    case 152:
        uli(m, v, n);
        break;
    case 154:
        mc_gtpc_tbcd(v, n, m->imei, sizeof(m->imei), &cut);
        break;
    default:
        break;
    }
    if (cut)
        m->truncated++;
}

/* The first GSN Address is the control plane's, the second (else the first) the user plane's. */
static void pair_teids(struct mc_gtpc_msg *m, const struct v1_teid *teids, int n_teids, uint8_t gsn[2][16],
                       const uint8_t gsn_len[2], int n_gsn)
{
    uint8_t nsapi = m->n_ebis ? m->ebi[0] : 0;
    for (int i = 0; i < n_teids; i++) {
        if (m->n_fteids >= MC_GTPC_FTEIDS) {
            m->truncated++;
            break;
        }
        struct mc_gtpc_fteid *f = &m->fteid[m->n_fteids++];
        memset(f, 0, sizeof(*f));
        f->iface = teids[i].kind;
        f->user = teids[i].kind != MC_GTPC_IF_V1_CONTROL;
        f->ebi = teids[i].kind == MC_GTPC_IF_V1_DATA2 ? teids[i].nsapi
                 : teids[i].kind == MC_GTPC_IF_V1_DATA ? nsapi : 0;
        f->teid = teids[i].teid;
        int g = f->user && n_gsn >= 2 ? 1 : 0;
        if (n_gsn > g) {
            if (gsn_len[g] == 4) {
                f->has_v4 = 1;
                memcpy(f->v4, gsn[g], 4);
            } else {
                f->has_v6 = 1;
                memcpy(f->v6, gsn[g], 16);
            }
        }
    }
}

int mc_gtpv1c_parse(const uint8_t *p, size_t n, struct mc_gtpc_msg *m)
{
    struct mc_cur c = mc_cur_make(p, n);
    memset(m, 0, sizeof(*m));
    uint8_t flags = mc_cur_u8(&c);
    m->type = mc_cur_u8(&c);
    uint16_t len = mc_cur_be16(&c);
    m->teid = mc_cur_be32(&c);
    if (!mc_cur_ok(&c))
        return MC_GTPC_TOO_SHORT;
    if ((flags >> 5) != 1 || !(flags & 0x10))
        return MC_GTPC_BAD_VERSION;
    m->version = 1;
    m->has_teid = 1;
    m->request = (uint8_t)mc_gtpc_is_request(1, m->type);
    struct mc_cur b = mc_cur_sub(&c, len);
    if (!mc_cur_ok(&b))
        return MC_GTPC_BAD_LENGTH;
    if (flags & 0x07) {
        uint16_t seq = mc_cur_be16(&b);
        (void)mc_cur_u8(&b); /* N-PDU number */
        uint8_t next = mc_cur_u8(&b);
        if (!mc_cur_ok(&b))
            return MC_GTPC_BAD_LENGTH;
        if (flags & 0x02) {
            m->has_seq = 1;
            m->seq = seq;
        }
        /* extension headers: length in 4-octet units, content, next type */
        while ((flags & 0x04) && next) {
            uint8_t units = mc_cur_u8(&b);
            if (!mc_cur_ok(&b) || units == 0)
                return MC_GTPC_BAD_LENGTH;
            mc_cur_skip(&b, (size_t)units * 4 - 2);
            next = mc_cur_u8(&b);
            if (!mc_cur_ok(&b))
                return MC_GTPC_BAD_LENGTH;
        }
    }
    struct v1_teid teids[V1_MAX_TEIDS];
    int n_teids = 0, n_gsn = 0;
    uint8_t gsn[2][16], gsn_len[2] = { 0, 0 };
    while (mc_cur_left(&b)) {
        uint8_t t = mc_cur_u8(&b);
        if (t < 128) {
            size_t vl = tv_len[t];
            if (vl == 0 || mc_cur_left(&b) < vl)
                return MC_GTPC_BAD_IE;
            tv(m, t, mc_cur_ptr(&b), teids, &n_teids);
            mc_cur_skip(&b, vl);
        } else {
            uint16_t vl = mc_cur_be16(&b);
            if (!mc_cur_ok(&b) || mc_cur_left(&b) < vl)
                return MC_GTPC_BAD_IE;
            tlv(m, t, mc_cur_ptr(&b), vl, gsn, gsn_len, &n_gsn);
            mc_cur_skip(&b, vl);
        }
        if (m->n_ies < UINT16_MAX)
            m->n_ies++;
    }
    pair_teids(m, teids, n_teids, gsn, gsn_len, n_gsn);
    return MC_GTPC_OK;
}
