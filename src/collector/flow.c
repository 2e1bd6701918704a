/*
 * flow.c - a decoded record turned into the stores' flow (see flow.h).
 *
 * Elements are matched by (PEN, id), never by position, so the same code
 * reads v5's fixed records, any v9/IPFIX template and sFlow's samples.  A
 * record may give its times in any of the IANA forms; the most precise one
 * present wins (ms, then s, us, ns, sysUpTime: v5/v9 from the header, IPFIX
 * from the exporter's systemInitTimeMilliseconds; then delta microseconds),
 * and a record with none gets its arrival time.
 */
#include "collector/flow.h"

#include <string.h>

#include "common/hostport.h"
#include "flow/ie.h"

#define NTP_UNIX_OFFSET 2208988800ull /* seconds from 1900 (NTP era 0) to 1970 */

/* Time forms, by precedence (lower wins). */
enum { T_MS, T_S, T_US, T_NS, T_UPTIME, T_DELTA, T_NONE };

struct times {
    int start_form, end_form;
    uint64_t start, end;
    uint64_t uptime[2];   /* IPFIX flowStart/EndSysUpTime as sent: they need the init time, known after the walk */
    unsigned has_uptime;  /* bit 0: start, bit 1: end */
    uint64_t init_ms;     /* the record's own systemInitTimeMilliseconds, 0: none */
};

static void put_time(struct times *t, int end, int form, uint64_t ms)
{
    if (end && form < t->end_form) {
        t->end_form = form;
        t->end = ms;
    } else if (!end && form < t->start_form) {
        t->start_form = form;
        t->start = ms;
    }
}

/* RFC 7011 6.1.10 dateTimeMicroseconds / dateTimeNanoseconds: NTP seconds and fraction. */
static uint64_t ntp_ms(const struct mc_coll_field *f)
{
    uint64_t v = mc_coll_field_u64(f);
    uint64_t secs = v >> 32, frac = v & 0xffffffffu;
    if (secs < NTP_UNIX_OFFSET)
        return 0;
    return (secs - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32);
}

/* A string value into out (NUL-terminated, cut to fit on a UTF-8 character boundary, NUL padding dropped). */
static void put_str(char *out, size_t size, const struct mc_coll_field *f)
{
    size_t n = f->len;
    while (n && f->value[n - 1] == 0)
        n--;
    if (n >= size) {
        n = size - 1;
        while (n && (f->value[n] & 0xc0) == 0x80)
            n--; /* do not split a multi-byte character */
    }
    memcpy(out, f->value, n);
    out[n] = 0;
}

static void put_addr(struct mc_coll_flow *fl, int dst, int ver, const struct mc_coll_field *f)
{
    size_t want = ver == 4 ? 4 : 16;
    if (f->len != want || (fl->ip_version && fl->ip_version != ver))
        return; /* a malformed length, or a record mixing families: the first family wins */
    fl->ip_version = (uint8_t)ver;
    memcpy(dst ? fl->dst : fl->src, f->value, want);
}

static uint32_t u32_of(const struct mc_coll_field *f)
{
    uint64_t v = mc_coll_field_u64(f);
    return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
}

static void iana_field(struct mc_coll_flow *fl, struct times *t, const struct mc_coll_record *r,
                       const struct mc_coll_field *f, uint64_t *total_pkts, uint64_t *total_octets,
                       uint32_t *rec_sampling)
{
    uint64_t v;
    switch (f->id) {
    case 1: fl->octets = mc_coll_field_u64(f); break;          /* octetDeltaCount */
    case 2: fl->packets = mc_coll_field_u64(f); break;         /* packetDeltaCount */
    case 85: *total_octets = mc_coll_field_u64(f); break;      /* octetTotalCount */
    case 86: *total_pkts = mc_coll_field_u64(f); break;        /* packetTotalCount */
    case 4: fl->proto = (uint8_t)mc_coll_field_u64(f); break;  /* protocolIdentifier */
    case 5: fl->tos = (uint8_t)mc_coll_field_u64(f); break;    /* ipClassOfService */
    case 6: fl->tcp_flags |= (uint8_t)mc_coll_field_u64(f); break; /* tcpControlBits (16 bits: low 8 kept) */
    case 7: fl->src_port = (uint16_t)mc_coll_field_u64(f); break;
    case 11: fl->dst_port = (uint16_t)mc_coll_field_u64(f); break;
    case 8: put_addr(fl, 0, 4, f); break;
    case 12: put_addr(fl, 1, 4, f); break;
    case 27: put_addr(fl, 0, 6, f); break;
    case 28: put_addr(fl, 1, 6, f); break;
    case 10: fl->in_if = u32_of(f); break;                     /* ingressInterface */
    case 14: fl->out_if = u32_of(f); break;                    /* egressInterface */
    case 16: fl->src_as = u32_of(f); break;                    /* bgpSourceAsNumber */
    case 17: fl->dst_as = u32_of(f); break;
    case 34:  /* samplingInterval */
    case 50:  /* samplerRandomInterval (v9 FLOW_SAMPLER_RANDOM_INTERVAL) */
    case 305: /* samplingPacketInterval */
        *rec_sampling = u32_of(f);
        break;
    case 150: put_time(t, 0, T_S, mc_coll_field_u64(f) * 1000); break;
    case 151: put_time(t, 1, T_S, mc_coll_field_u64(f) * 1000); break;
    case 152: put_time(t, 0, T_MS, mc_coll_field_u64(f)); break;
    case 153: put_time(t, 1, T_MS, mc_coll_field_u64(f)); break;
    case 154: put_time(t, 0, T_US, ntp_ms(f)); break;
    case 155: put_time(t, 1, T_US, ntp_ms(f)); break;
    case 156: put_time(t, 0, T_NS, ntp_ms(f)); break;
    case 157: put_time(t, 1, T_NS, ntp_ms(f)); break;
    case 22: /* flowStartSysUpTime (v9 FIRST_SWITCHED) */
    case 21: /* flowEndSysUpTime */
        if (r->version == 9 || r->version == 5)
            put_time(t, f->id == 21, T_UPTIME, mc_coll_uptime_ms(r, (uint32_t)mc_coll_field_u64(f)));
        else /* IPFIX: from systemInitTimeMilliseconds (RFC 7011 has no header uptime), placed after the walk */
            t->uptime[f->id == 21] = mc_coll_field_u64(f), t->has_uptime |= 1u << (f->id == 21);
        break;
    case 160: /* systemInitTimeMilliseconds in the data record itself: it wins over the options record's */
        t->init_ms = mc_coll_field_u64(f);
        break;
    case 158: /* flowStartDeltaMicroseconds: before the export time */
    case 159:
        v = (uint64_t)r->export_secs * 1000;
        put_time(t, f->id == 159, T_DELTA, v - mc_coll_field_u64(f) / 1000);
        break;
    case 371: put_str(fl->user, sizeof(fl->user), f); break;    /* userName */
    case 455: put_str(fl->imsi, sizeof(fl->imsi), f); break;    /* mobileIMSI */
    case 456: put_str(fl->msisdn, sizeof(fl->msisdn), f); break; /* mobileMSISDN */
    case 96: put_str(fl->app, sizeof(fl->app), f); break;       /* applicationName */
    default: break;
    }
}

int mc_coll_flow_from_record(struct mc_coll_flow *fl, const struct mc_coll_record *r,
                             const struct mc_coll_exporter_info *x, uint64_t now_ms)
{
    if (r->options)
        return -1;
    memset(fl, 0, sizeof(*fl));
    fl->exporter = *r->exporter;
    fl->version = (uint8_t)r->version;
    fl->domain = r->domain;
    struct times t = { .start_form = T_NONE, .end_form = T_NONE };
    uint64_t total_pkts = 0, total_octets = 0;
    uint32_t rec_sampling = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct mc_coll_field *f = &r->f[i];
        if (f->pen == 0) {
            iana_field(fl, &t, r, f, &total_pkts, &total_octets, &rec_sampling);
        } else if (f->pen == MC_PEN_REVERSE) {
            if (f->id == 1)
                fl->rev_octets = mc_coll_field_u64(f);
            else if (f->id == 2)
                fl->rev_packets = mc_coll_field_u64(f);
            else if (f->id == 6)
                fl->tcp_flags |= (uint8_t)mc_coll_field_u64(f);
        } else if (f->pen == MC_PEN_MC && (f->id == 249 /* rtpCallId */ || f->id == 200 /* sipCallId */)) {
            if (!fl->call_id[0])
                put_str(fl->call_id, sizeof(fl->call_id), f);
        }
    }
    uint64_t init_ms = t.init_ms ? t.init_ms : x ? x->init_ms : 0;
    for (int end = 0; end < 2; end++)
        if ((t.has_uptime >> end & 1) && init_ms)
            put_time(&t, end, T_UPTIME, init_ms + t.uptime[end]);
    /* a record with totals only (some exporters): the totals stand for the flow */
    if (!fl->packets && total_pkts)
        fl->packets = total_pkts;
    if (!fl->octets && total_octets)
        fl->octets = total_octets;
    uint32_t s = x && x->sampling ? x->sampling : rec_sampling ? rec_sampling : r->sampling;
    fl->sampling = s ? s : 1;
    if (fl->sampling > 1) {
        fl->packets *= fl->sampling;
        fl->octets *= fl->sampling;
        fl->rev_packets *= fl->sampling;
        fl->rev_octets *= fl->sampling;
    }
    if (t.start_form == T_NONE && t.end_form == T_NONE)
        t.start = t.end = now_ms;
    else if (t.start_form == T_NONE)
        t.start = t.end;
    else if (t.end_form == T_NONE)
        t.end = t.start;
    fl->start_ms = t.start;
    fl->end_ms = t.end;
    return 0;
}

const char *mc_coll_flow_addr(const struct mc_coll_flow *f, int dst, char *buf, size_t len)
{
    if (f->ip_version != 4 && f->ip_version != 6) {
        if (len)
            buf[0] = 0;
        return buf;
    }
    mc_ip_text(f->ip_version, dst ? f->dst : f->src, buf, len);
    return buf;
}
