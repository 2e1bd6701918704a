/*
 * rtp.c - the RTP/RTCP analyzer: per direction of a UDP flow, the stream of
 * one SSRC (packets, payload octets, loss with duplicates and reordering
 * apart, RFC 3550 interarrival jitter, largest arrival gap, an E-model MOS)
 * and what RTCP receivers reported on it.
 *
 * References: RFC 3550 (5.1 the RTP header, 6.1 compound RTCP, 6.4 SR/RR,
 * A.1 sequence validation, A.3 loss, A.8 jitter), RFC 3551 (static payload
 * types), RFC 5761 (RTP and RTCP on one port), RFC 4733 (telephone-event),
 * ITU-T G.107 (E-model) and G.113 Appendix I (codec impairments).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            contributing source (CSRC) identifiers             |  CC of them
 *   | defined by profile            |  length (32-bit words)        |  if X
 *   |                        header extension                       |
 *   "If the padding bit is set ... The last octet of the padding contains
 *    a count of how many padding octets should be ignored, including
 *    itself" (5.1).
 *
 * RTP has no port: the stage attaches the analyzer by detect() on a
 * direction's first datagrams or by nDPI's "RTP"/"RTCP" verdict, then each
 * direction must pass RFC 3550 A.1 probation (MC_RTP_MIN_SEQUENTIAL packets
 * of one SSRC in sequence) within MC_RTP_PROBATION datagrams; a flow where
 * no direction does is given back (mc_l7_detach), counted, never exported
 * as RTP.  Datagrams whose second byte is 192-223 are RTCP (RFC 5761 4),
 * on their own flow or multiplexed.  See docs/internals/analyzers-rtp.md.
 */
#include "l7/rtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/lookup.h"
#include "common/hostport.h"
#include "common/cur.h"

MC_CTR_DEFINE(l7_rtp, MC_L7_RTP_CTRS)

#define SEQ_MOD 65536u
#define PT_CN 13      /* comfort noise (RFC 3389) */
#define PT_CN_OLD 19  /* comfort noise in drafts, what tshark also treats as CN */

/* ---- payload types and codecs -------------------------------------------- */

/* RFC 3551 Tables 4 and 5: the static payload types. */
static const struct {
    const char *name; /* NULL: reserved or unassigned */
    uint32_t clock;
    uint8_t audio;
} static_pt[35] = {
    [0] = { "PCMU", 8000, 1 },   [3] = { "GSM", 8000, 1 },     [4] = { "G723", 8000, 1 },
    [5] = { "DVI4", 8000, 1 },   [6] = { "DVI4", 16000, 1 },   [7] = { "LPC", 8000, 1 },
    [8] = { "PCMA", 8000, 1 },   [9] = { "G722", 8000, 1 },    [10] = { "L16", 44100, 1 },
    [11] = { "L16", 44100, 1 },  [12] = { "QCELP", 8000, 1 },  [13] = { "CN", 8000, 0 },
    [14] = { "MPA", 90000, 0 },  [15] = { "G728", 8000, 1 },   [16] = { "DVI4", 11025, 1 },
    [17] = { "DVI4", 22050, 1 }, [18] = { "G729", 8000, 1 },   [25] = { "CelB", 90000, 0 },
    [26] = { "JPEG", 90000, 0 }, [28] = { "nv", 90000, 0 },    [31] = { "H261", 90000, 0 },
    [32] = { "MPV", 90000, 0 },  [33] = { "MP2T", 90000, 0 },  [34] = { "H263", 90000, 0 },
};

/*
 * E-model codec figures (ITU-T G.113 Appendix I): equipment impairment Ie
 * and packet-loss robustness Bpl.  Codecs G.113 gives no Bpl for get 4.3
 * (its figure for G.711 without loss concealment: every loss is heard).
 * Voice codecs not listed are taken as G.711 with concealment.
 */
static const struct emodel_codec {
    const char *name;
    double ie, bpl;
} emodel_codecs[] = {
    { "PCMU", 0, 25.1 },  { "PCMA", 0, 25.1 },    { "G723", 15, 16.1 },   { "G729", 11, 19.0 },
    { "G729A", 11, 19.0 }, { "GSM-EFR", 5, 10.0 }, { "GSM", 20, 4.3 },     { "G728", 7, 4.3 },
    { "G726-40", 2, 4.3 }, { "G726-32", 7, 4.3 },  { "G726-24", 25, 4.3 }, { "G726-16", 50, 4.3 },
};
static const struct emodel_codec emodel_default = { "", 0, 25.1 };

/* A payload type the call layer named for this flow (SDP rtpmap). */
struct rtp_fmt {
    uint8_t used, pt;
    uint32_t clock;
    char name[MC_RTP_CODEC_LEN];
};

/* One direction: its stream's statistics and what computing them needs. */
struct rtp_dir {
    struct mc_rtp_stats s;
    /* sequence numbers (RFC 3550 A.1) */
    uint16_t max_seq;
    uint8_t probation;      /* in-sequence packets still needed to validate */
    uint8_t tries;          /* datagrams sent while not valid */
    uint32_t cycles;        /* wrap-arounds, << 16 */
    uint32_t bad_seq;       /* what a restart after a large jump continues with (> 0xffff: none) */
    uint32_t received;      /* distinct sequence numbers since base */
    uint32_t lost_prior;    /* lost before the last restart */
    uint64_t window;        /* bit k: sequence max_seq - k was received */
    /* times: the last packet whose timestamp did not go back (tshark's reference too) */
    uint8_t have_ref;
    uint8_t prev_cn;        /* the previous packet was comfort noise */
    uint32_t ref_ts;
    uint64_t ref_us;
    /* the clock of the last payload type seen, so a packet does not look its format up (fmt_gen: valid for) */
    uint8_t clk_pt, clk_set;
    uint16_t clk_gen;
    uint32_t clk;
    double ms_per_j16;      /* j16 to ms: 1 / (16 * 1000 * clk) */
    /* J in integers (RFC 3550 A.8's own form): 16 times J in microsecond-hertz (J in seconds * 1e6 * clk) */
    uint64_t j16;
    /* another SSRC that may take the direction over */
    uint32_t cand_ssrc;
    uint16_t cand_seq;
    uint8_t cand_n;
    uint64_t cand_octets, cand_first_us;
    /* RTCP */
    uint8_t have_rtcp_ssrc;
    uint32_t rtcp_ssrc;     /* sender SSRC of this direction's SR/RR */
};

struct rtp_state {
    uint8_t valid;          /* a direction validated, or sent sound RTCP: the flow is RTP */
    uint16_t fmt_gen;       /* bumped by each mc_l7_rtp_set_format: the directions' clock caches go stale */
    struct rtp_dir d[2];
    struct rtp_fmt fmt[MC_RTP_FORMATS];
    /* the call whose SDP announced this flow's endpoints (voip.c), looked up until found */
    uint8_t call_side[2];   /* per direction: the call's side that receives it (0 caller, 1 callee) */
    uint8_t call_dirs;      /* bit d: direction d's receiver is known */
    uint64_t call_try_us;   /* when to look the call up again */
    uint64_t cloud_try_us;  /* when to ask the cloud again (voip.rtp.*: the call's SIP went past another probe) */
    uint8_t cloud_tries;    /* questions asked so far: the next waits twice as long */
    uint8_t alerted;        /* bit d: voip.call.quality raised for direction d (a call not in this probe's table) */
    uint64_t pushed_us[2];  /* when direction d's quality last went to the call */
    char call_id[MC_VOIP_TEXT_MAX + 1]; /* "" until found */
};

/*
 * What a packet of a running stream reads and writes (fast_packet), kept in
 * the slot: in the flow's extension, which the flow table prefetches ahead
 * of the packet, while the state above is a pointer further and missed the
 * cache once per packet when thousands of calls run.  A copy of the
 * direction's fields in struct rtp_dir, and theirs to use while `fast` is
 * set: every other path folds them back first (fold_hot, unhot) and makes
 * them anew after (rehot).
 */
struct rtp_hot {
    uint8_t fast;           /* the direction's packets may take fast_packet: the fields below are current */
    uint8_t pt;             /* the stream's payload type (s.pt) */
    uint16_t max_seq;
    uint32_t ssrc;
    uint32_t cycles, received;
    uint64_t window;
    uint64_t packets, octets;
    uint32_t ref_ts, clk;
    uint64_t ref_us, j16;
    double ms_per_j16;
    double jitter_ms, jitter_max_ms, jitter_sum_ms;
    uint32_t jitter_n;
    double max_delta_ms;
    uint64_t last_us;
    uint64_t due_us;        /* from then on a packet has call or cloud work (rtp_data): the general path */
};

/*
 * What the stage keeps in every analysed flow's extension is sized for the
 * largest analyzer: the 0.8 KiB above is allocated apart, at attach, so
 * only RTP flows pay for it; the hot fields ride in the slot.
 */
struct rtp_slot {
    struct rtp_state *st;   /* owned; NULL when it could not be allocated */
    struct rtp_hot hot[2];
};

static void update_lost(struct rtp_dir *d);

/* The hot fields of direction i (2: both), if fast, back to its rtp_dir (which they stay a copy of). */
static void fold_hot(const struct rtp_slot *slot, int which)
{
    for (int i = 0; i < 2; i++) {
        const struct rtp_hot *h = &slot->hot[i];
        if (!h->fast || (which != 2 && which != i))
            continue;
        struct rtp_dir *d = &slot->st->d[i];
        d->max_seq = h->max_seq;
        d->cycles = h->cycles;
        d->received = h->received;
        d->window = h->window;
        d->ref_ts = h->ref_ts;
        d->ref_us = h->ref_us;
        d->j16 = h->j16;
        d->s.packets = h->packets;
        d->s.octets = h->octets;
        d->s.jitter_ms = h->jitter_ms;
        d->s.jitter_max_ms = h->jitter_max_ms;
        d->s.jitter_sum_ms = h->jitter_sum_ms;
        d->s.jitter_n = h->jitter_n;
        d->s.max_delta_ms = h->max_delta_ms;
        d->s.last_us = h->last_us;
        update_lost(d);
    }
}

/* Folded, and the general path's from here: rtp_dir is the one copy. */
static void unhot(struct rtp_slot *slot)
{
    fold_hot(slot, 2);
    slot->hot[0].fast = slot->hot[1].fast = 0;
}

/* The flow's state, its hot fields folded in: what every reader outside the packet path sees. */
static struct rtp_state *state_of(const struct mc_flow *f)
{
    const struct rtp_slot *slot = mc_l7_state_of(f, &mc_l7_rtp);
    if (!slot || !slot->st)
        return NULL;
    fold_hot(slot, 2);
    return slot->st;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_is(const char *a, const char *b)
{
    while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b))
        a++, b++;
    return *a == 0 && *b == 0;
}

static const struct rtp_fmt *named(const struct rtp_state *st, uint8_t pt)
{
    for (int i = 0; i < MC_RTP_FORMATS; i++)
        if (st->fmt[i].used && st->fmt[i].pt == pt)
            return &st->fmt[i];
    return NULL;
}

/* Comfort noise and DTMF events ride in a voice stream: they never become its payload type. */
static int is_minor(const struct rtp_state *st, uint8_t pt)
{
    const struct rtp_fmt *f = named(st, pt);
    if (f)
        return name_is(f->name, "CN") || name_is(f->name, "telephone-event");
    return pt == PT_CN || pt == PT_CN_OLD;
}

/* Clock for jitter: 0 when unknown, and for telephone-event (its timestamp stays at the event's start, RFC 4733 2.3.4). */
static uint32_t jitter_clock(const struct rtp_state *st, uint8_t pt)
{
    const struct rtp_fmt *f = named(st, pt);
    if (f)
        return name_is(f->name, "telephone-event") ? 0 : f->clock;
    return pt < 35 ? static_pt[pt].clock : 0;
}

/* Names the stream of d after payload type pt. */
static void set_codec(const struct rtp_state *st, struct rtp_dir *d, uint8_t pt)
{
    struct mc_rtp_stats *s = &d->s;
    const struct rtp_fmt *f = named(st, pt);
    s->pt = pt;
    if (f) {
        snprintf(s->codec, sizeof(s->codec), "%s", f->name);
        s->clock_hz = f->clock;
        /* video runs a 90 kHz clock; events and noise are no voice */
        s->audio = f->clock && f->clock < 90000 && !is_minor(st, pt);
    } else if (pt < 35 && static_pt[pt].name) {
        snprintf(s->codec, sizeof(s->codec), "%s", static_pt[pt].name);
        s->clock_hz = static_pt[pt].clock;
        s->audio = static_pt[pt].audio;
    } else {
        snprintf(s->codec, sizeof(s->codec), pt >= 96 ? "dynamic-%u" : "unassigned-%u", pt);
        s->clock_hz = 0;
        s->audio = 0;
    }
}

/* 2: a named or static type; 1: an unnamed dynamic one; 0: noise or events. */
static int pt_rank(const struct rtp_state *st, uint8_t pt)
{
    if (is_minor(st, pt))
        return 0;
    return named(st, pt) || pt < 96 ? 2 : 1;
}

/* ---- pure parsers ---------------------------------------------------------- */

int mc_rtp_parse(const uint8_t *p, size_t n, struct mc_rtp_hdr *h)
{
    struct mc_cur c = mc_cur_make(p, n);
    memset(h, 0, sizeof(*h));
    uint8_t b0 = mc_cur_u8(&c), b1 = mc_cur_u8(&c);
    h->seq = mc_cur_be16(&c);
    h->ts = mc_cur_be32(&c);
    h->ssrc = mc_cur_be32(&c);
    if (!mc_cur_ok(&c))
        return MC_RTP_TOO_SHORT;
    if (b0 >> 6 != 2)
        return MC_RTP_BAD_VERSION;
    h->padding = b0 >> 5 & 1;
    h->ext = b0 >> 4 & 1;
    h->cc = b0 & 0x0f;
    h->marker = b1 >> 7;
    h->pt = b1 & 0x7f;
    mc_cur_skip(&c, 4u * h->cc);
    if (!mc_cur_ok(&c))
        return MC_RTP_BAD_CSRC;
    if (h->ext) {
        mc_cur_skip(&c, 2); /* defined by profile */
        uint16_t words = mc_cur_be16(&c);
        mc_cur_skip(&c, 4u * words);
        if (!mc_cur_ok(&c))
            return MC_RTP_BAD_EXTENSION;
    }
    h->payload_off = n - mc_cur_left(&c);
    h->payload_len = mc_cur_left(&c);
    if (h->padding) {
        /* the count includes itself, so 0 is a lie, and it cannot eat the header */
        uint8_t pad = h->payload_len ? p[n - 1] : 0;
        if (pad == 0 || pad > h->payload_len)
            return MC_RTP_BAD_PADDING;
        h->payload_len -= pad;
    }
    return MC_RTP_OK;
}

int mc_rtcp_parse(const uint8_t *p, size_t n, struct mc_rtcp_info *out)
{
    memset(out, 0, sizeof(*out));
    struct mc_cur c = mc_cur_make(p, n);
    if (n < 4)
        return MC_RTP_TOO_SHORT;
    while (mc_cur_left(&c) > 0) {
        if (mc_cur_left(&c) < 4)
            return MC_RTCP_BAD_LENGTH;
        uint8_t b0 = mc_cur_u8(&c), pt = mc_cur_u8(&c);
        size_t len = 4u * mc_cur_be16(&c); /* "length in 32-bit words minus one": what follows the header */
        if (b0 >> 6 != 2)
            return MC_RTP_BAD_VERSION;
        if (len > mc_cur_left(&c))
            return MC_RTCP_BAD_LENGTH;
        struct mc_cur pk = mc_cur_sub(&c, len);
        unsigned count = b0 & 0x1f;
        out->n_packets++;
        if (pt != 200 && pt != 201) {
            out->n_bye += pt == 203;
            continue; /* SDES, BYE, APP, feedback, XR: skipped by their length */
        }
        uint32_t ssrc = mc_cur_be32(&pk);
        if (pt == 200) {
            out->n_sr++;
            mc_cur_skip(&pk, 20); /* NTP timestamp, RTP timestamp, packet and octet counts */
        } else {
            out->n_rr++;
        }
        if (!mc_cur_ok(&pk) || mc_cur_left(&pk) < 24u * count)
            return MC_RTCP_BAD_COUNT;
        if (!out->have_sender) {
            out->have_sender = 1;
            out->sender_ssrc = ssrc;
        }
        for (unsigned i = 0; i < count; i++) {
            struct mc_rtcp_block b;
            b.ssrc = mc_cur_be32(&pk);
            b.fraction = mc_cur_u8(&pk);
            uint32_t cl = mc_cur_be24(&pk);
            b.cum_lost = cl & 0x800000 ? (int32_t)cl - 0x1000000 : (int32_t)cl;
            b.ext_max_seq = mc_cur_be32(&pk);
            b.jitter = mc_cur_be32(&pk);
            b.lsr = mc_cur_be32(&pk);
            b.dlsr = mc_cur_be32(&pk);
            out->blocks_total++;
            if (out->n_blocks < MC_RTCP_MAX_BLOCKS)
                out->block[out->n_blocks++] = b;
        }
    }
    return MC_RTP_OK;
}

/* ---- E-model ---------------------------------------------------------------- */

int mc_rtp_quality(const struct mc_rtp_stats *s, double *r, double *mos)
{
    *r = *mos = 0;
    if (!s->valid || !s->audio || !s->packets)
        return 0;
    const struct emodel_codec *c = &emodel_default;
    for (size_t i = 0; i < sizeof(emodel_codecs) / sizeof(emodel_codecs[0]); i++)
        if (name_is(emodel_codecs[i].name, s->codec)) {
            c = &emodel_codecs[i]; /* the names differ: the first is the one */
            break;
        }
    /* Ppl: percent of the packets sent that never arrived */
    uint64_t received = s->packets - s->duplicates;
    double ppl = s->lost ? 100.0 * s->lost / ((double)s->lost + (double)received) : 0;
    double ie_eff = c->ie + (95 - c->ie) * ppl / (ppl + c->bpl);
    /* one-way delay a passive probe can see: a jitter buffer of twice the mean jitter, plus 10 ms */
    double ta = 2 * mc_rtp_jitter_mean_ms(s) + 10;
    double id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
    double rf = 93.2 - id - ie_eff;
    rf = rf < 0 ? 0 : rf > 100 ? 100 : rf;
    double m = rf <= 0 ? 1 : rf >= 100 ? 4.5 : 1 + 0.035 * rf + 7e-6 * rf * (rf - 60) * (100 - rf);
    *r = rf;
    *mos = m < 1 ? 1 : m;
    return 1;
}

double mc_rtp_rtcp_jitter_ms(const struct mc_rtp_stats *s)
{
    return s->rtcp_report && s->clock_hz ? 1000.0 * s->rtcp_jitter / s->clock_hz : 0;
}

/* ---- one stream ----------------------------------------------------------------- */

static void update_lost(struct rtp_dir *d)
{
    struct mc_rtp_stats *s = &d->s;
    s->ext_max_seq = d->cycles + d->max_seq;
    uint32_t expected = s->ext_max_seq - s->base_seq + 1;
    s->lost = d->lost_prior + (expected > d->received ? expected - d->received : 0);
}

/*
 * Starts counting a stream again at this packet (the direction's first, a
 * failed probation, or a new SSRC that stuck): n packets of it in sequence
 * up to h->seq, of `octets` payload, the first at first_us.
 */
static void stream_start(const struct rtp_state *st, struct rtp_dir *d, const struct mc_rtp_hdr *h, uint32_t n,
                         uint64_t octets, uint64_t first_us)
{
    struct mc_rtp_stats keep = d->s;
    memset(&d->s, 0, sizeof(d->s));
    struct mc_rtp_stats *s = &d->s;
    s->ssrc = h->ssrc;
    s->ssrc_changes = keep.ssrc_changes;
    s->rtcp_packets = keep.rtcp_packets;
    s->rtcp_report = keep.rtcp_report;
    s->rtcp_fraction = keep.rtcp_fraction;
    s->rtcp_cum_lost = keep.rtcp_cum_lost;
    s->rtcp_jitter = keep.rtcp_jitter;
    set_codec(st, d, h->pt);
    s->packets = n;
    s->octets = octets;
    s->first_us = first_us;
    d->max_seq = h->seq;
    d->cycles = h->seq < n - 1 ? SEQ_MOD : 0; /* the first of them was before a wrap */
    s->base_seq = d->cycles + h->seq - (n - 1);
    d->received = n;
    d->lost_prior = 0;
    d->window = n >= 64 ? ~0ull : (1ull << n) - 1;
    d->bad_seq = SEQ_MOD + 1;
    d->probation = n >= MC_RTP_MIN_SEQUENTIAL ? 0 : (uint8_t)(MC_RTP_MIN_SEQUENTIAL - n);
    s->valid = d->probation == 0;
    d->have_ref = 0;
    d->prev_cn = 0;
    d->j16 = 0;
    d->cand_n = 0;
    update_lost(d);
}

/* Sequence accounting of a packet of the stream's SSRC (RFC 3550 A.1, with duplicates told apart). */
static void update_seq(struct rtp_dir *d, uint16_t seq)
{
    struct mc_rtp_stats *s = &d->s;
    uint16_t udelta = (uint16_t)(seq - d->max_seq);
    if (udelta == 0) {
        s->duplicates++;
        MC_CTR_INC(l7_rtp, duplicates);
    } else if (udelta < MC_RTP_MAX_DROPOUT) {
        if (seq < d->max_seq)
            d->cycles += SEQ_MOD;
        d->window = udelta >= 64 ? 1 : d->window << udelta | 1;
        d->max_seq = seq;
        d->received++;
        d->bad_seq = SEQ_MOD + 1;
    } else if (udelta <= SEQ_MOD - MC_RTP_MAX_MISORDER) {
        /* a very large jump: a restart if the next packet follows it, else one stray packet */
        if (seq == d->bad_seq) {
            MC_CTR_INC(l7_rtp, seq_restart);
            d->lost_prior = s->lost;
            d->max_seq = seq;
            d->cycles = seq == 0 ? SEQ_MOD : 0;
            s->base_seq = d->cycles + seq - 1; /* the stray packet before began it */
            d->received = 2;
            d->window = 3;
            d->bad_seq = SEQ_MOD + 1;
        } else {
            MC_CTR_INC(l7_rtp, seq_jump);
            d->bad_seq = (uint16_t)(seq + 1);
            return;
        }
    } else {
        /* behind the highest: late, or a duplicate if the window remembers it */
        uint16_t k = (uint16_t)(d->max_seq - seq);
        if (k < 64 && (d->window >> k & 1)) {
            s->duplicates++;
            MC_CTR_INC(l7_rtp, duplicates);
        } else {
            if (k < 64)
                d->window |= 1ull << k;
            s->reordered++;
            d->received++;
            MC_CTR_INC(l7_rtp, reordered);
        }
    }
    update_lost(d);
}

/* One step of J (16 J, in microsecond-hertz) for a packet whose arrival and timestamp moved delta_us and dts. */
static inline uint64_t j16_step(uint64_t j16, int64_t delta_us, int32_t dts, uint32_t clock)
{
    /* |delta_us| < 2^43 and |dts| < 2^31 keep both products far inside 64 bits */
    int64_t dd = (delta_us < (INT64_C(1) << 43) && delta_us > -(INT64_C(1) << 43) ? delta_us : 0) * clock -
                 (int64_t)dts * 1000000;
    uint64_t ad = dd < 0 ? (uint64_t)-dd : (uint64_t)dd;
    return j16 + ad - ((j16 + 8) >> 4);
}

/*
 * Arrival times (RFC 3550 A.8, as tshark's RTP analysis does it): the
 * transit difference D against the reference packet (the last whose
 * timestamp did not go back), J += (|D| - J) / 16.  Maximum and mean
 * jitter and the largest arrival gap take only regular packets: not the
 * stream's first, no marker (a talkspurt's start: the gap before it is
 * silence), neither comfort noise nor right after it, timestamp not gone
 * back.  In integers, as A.8 writes it: D times the clock rate in
 * microsecond-hertz is exact, and J kept times 16 rounds by less than a
 * nanosecond of jitter; a packet costs no division.
 */
static void update_times(const struct rtp_state *st, struct rtp_dir *d, const struct mc_rtp_hdr *h, uint64_t now_us)
{
    struct mc_rtp_stats *s = &d->s;
    int cn = h->pt == PT_CN || h->pt == PT_CN_OLD;
    if (!d->have_ref) {
        d->have_ref = 1;
        d->ref_ts = h->ts;
        d->ref_us = now_us;
        d->prev_cn = (uint8_t)cn;
        return;
    }
    int32_t dts = (int32_t)(h->ts - d->ref_ts);
    int64_t delta_us = (int64_t)(now_us - d->ref_us);
    if (d->clk_pt != h->pt || !d->clk_set || d->clk_gen != st->fmt_gen) {
        uint32_t clk = jitter_clock(st, h->pt);
        if (clk != d->clk) /* J goes on in the new clock's units */
            d->j16 = (uint64_t)((double)s->jitter_ms * 16000.0 * clk + 0.5);
        d->clk = clk;
        d->ms_per_j16 = clk ? 1.0 / (16000.0 * clk) : 0;
        d->clk_pt = h->pt;
        d->clk_gen = st->fmt_gen;
        d->clk_set = 1;
    }
    uint32_t clock = d->clk;
    if (clock) {
        d->j16 = j16_step(d->j16, delta_us, dts, clock);
        s->jitter_ms = (double)d->j16 * d->ms_per_j16;
    }
    if (!h->marker && !cn && !d->prev_cn && dts >= 0) {
        double delta_ms = (double)delta_us * 0.001;
        if (delta_ms > s->max_delta_ms)
            s->max_delta_ms = delta_ms;
        if (clock) {
            if (s->jitter_ms > s->jitter_max_ms)
                s->jitter_max_ms = s->jitter_ms;
            s->jitter_n++;
            s->jitter_sum_ms += s->jitter_ms;
        }
    }
    if (dts >= 0) {
        d->ref_ts = h->ts;
        d->ref_us = now_us;
    }
    d->prev_cn = (uint8_t)cn;
}

/* A packet of the stream's SSRC. */
static void stream_packet(struct rtp_state *st, struct rtp_dir *d, const struct mc_rtp_hdr *h, uint64_t now_us)
{
    struct mc_rtp_stats *s = &d->s;
    if (d->probation) {
        /* RFC 3550 A.1: sequential packets validate the source; anything else starts the count again */
        if (h->seq != (uint16_t)(d->max_seq + 1)) {
            MC_CTR_INC(l7_rtp, probation_failed);
            stream_start(st, d, h, 1, h->payload_len, now_us);
            update_times(st, d, h, now_us);
            return;
        }
        if (--d->probation == 0) {
            s->valid = 1;
            st->valid = 1;
            MC_CTR_INC(l7_rtp, streams);
        }
    }
    s->packets++;
    s->octets += h->payload_len;
    update_seq(d, h->seq);
    /* the stream's own payload type (nearly every packet) changes nothing: no format looked up */
    if (h->pt != s->pt && (pt_rank(st, h->pt) > pt_rank(st, s->pt) || pt_rank(st, h->pt) == 2))
        set_codec(st, d, h->pt);
    update_times(st, d, h, now_us);
}

/*
 * The packet nearly every one is: RTP of the direction's valid stream, a
 * plain 12-byte header (version 2, no padding, extension or CSRCs), no
 * marker, the stream's own payload type (not comfort noise), a sequence
 * number ahead (the next, or after a loss: less than MC_RTP_MAX_DROPOUT
 * ahead) and a timestamp not gone back, the payload type's clock
 * already known (rehot checked what does not change from packet to packet).
 * Does what on_rtp's general path does with it, on the slot's hot fields,
 * without parsing into a header (the length checked once, the twelve bytes
 * read at their fixed places, as cur.h reads a header whole); returns 0,
 * touching nothing, for any other packet.  test_fast_path_equal holds the
 * two paths equal.
 */
static int fast_packet(struct rtp_hot *d, const uint8_t *p, size_t n, uint64_t now_us)
{
    if (n < 12 || p[0] != 0x80 || p[1] != d->pt)
        return 0;
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    int32_t dts = (int32_t)(ts - d->ref_ts);
    uint16_t udelta = (uint16_t)(seq - d->max_seq);
    if (ssrc != d->ssrc || udelta == 0 || udelta >= MC_RTP_MAX_DROPOUT || dts < 0)
        return 0;
    MC_CTR_INC(l7_rtp, packets);
    d->packets++;
    d->octets += n - 12;
    /* update_seq's step ahead (the loss it leaves is reckoned when folded: update_lost) */
    if (seq < d->max_seq)
        d->cycles += SEQ_MOD;
    d->window = udelta >= 64 ? 1 : d->window << udelta | 1;
    d->max_seq = seq;
    d->received++;
    /* update_times, a regular packet */
    int64_t delta_us = (int64_t)(now_us - d->ref_us);
    uint32_t clock = d->clk;
    double delta_ms = (double)delta_us * 0.001;
    if (delta_ms > d->max_delta_ms)
        d->max_delta_ms = delta_ms;
    if (clock) {
        d->j16 = j16_step(d->j16, delta_us, dts, clock);
        d->jitter_ms = (double)d->j16 * d->ms_per_j16;
        if (d->jitter_ms > d->jitter_max_ms)
            d->jitter_max_ms = d->jitter_ms;
        d->jitter_n++;
        d->jitter_sum_ms += d->jitter_ms;
    }
    d->ref_ts = ts;
    d->ref_us = now_us;
    d->last_us = now_us;
    return 1;
}

static void on_rtp(struct mc_l7_ctx *x, struct rtp_state *st, struct rtp_dir *d, const uint8_t *p, size_t n)
{
    struct mc_rtp_hdr h;
    int r = mc_rtp_parse(p, n, &h);
    switch (r) {
    case MC_RTP_OK: break;
    case MC_RTP_TOO_SHORT: MC_CTR_INC(l7_rtp, too_short); return;
    case MC_RTP_BAD_VERSION: MC_CTR_INC(l7_rtp, bad_version); return;
    case MC_RTP_BAD_CSRC: MC_CTR_INC(l7_rtp, bad_csrc); return;
    case MC_RTP_BAD_EXTENSION: MC_CTR_INC(l7_rtp, bad_extension); return;
    default: MC_CTR_INC(l7_rtp, bad_padding); return;
    }
    MC_CTR_INC(l7_rtp, packets);
    uint64_t now_us = mc_l7_now_us(x);
    struct mc_rtp_stats *s = &d->s;
    if (s->packets && h.ssrc == s->ssrc) {
        d->cand_n = 0;
        stream_packet(st, d, &h, now_us);
        s->last_us = now_us;
        return;
    }
    if (!s->valid) { /* the first packet, or still probing: the newcomer is as good a start */
        if (s->packets)
            MC_CTR_INC(l7_rtp, probation_failed);
        stream_start(st, d, &h, 1, h.payload_len, now_us);
        s->last_us = now_us;
        update_times(st, d, &h, now_us);
        return;
    }
    /* another SSRC: followed once it sent MC_RTP_SSRC_SWITCH packets in sequence and ours none between */
    if (d->cand_n && h.ssrc == d->cand_ssrc && h.seq == (uint16_t)(d->cand_seq + 1)) {
        d->cand_n++;
        d->cand_octets += h.payload_len;
    } else {
        d->cand_ssrc = h.ssrc;
        d->cand_n = 1;
        d->cand_octets = h.payload_len;
        d->cand_first_us = now_us;
    }
    d->cand_seq = h.seq;
    if (d->cand_n < MC_RTP_SSRC_SWITCH) {
        MC_CTR_INC(l7_rtp, other_ssrc);
        return;
    }
    MC_CTR_INC(l7_rtp, ssrc_changes);
    s->ssrc_changes++;
    stream_start(st, d, &h, MC_RTP_SSRC_SWITCH, d->cand_octets, d->cand_first_us);
    s->last_us = now_us;
    update_times(st, d, &h, now_us);
}

/* The report blocks one direction sent are about the other's stream. */
static void on_rtcp(struct rtp_state *st, int dir, const uint8_t *p, size_t n)
{
    struct rtp_dir *d = &st->d[dir], *o = &st->d[!dir];
    struct mc_rtcp_info r;
    switch (mc_rtcp_parse(p, n, &r)) {
    case MC_RTP_OK: break;
    case MC_RTP_TOO_SHORT: MC_CTR_INC(l7_rtp, rtcp_too_short); break;
    case MC_RTP_BAD_VERSION: MC_CTR_INC(l7_rtp, rtcp_bad_version); break;
    case MC_RTCP_BAD_LENGTH: MC_CTR_INC(l7_rtp, rtcp_bad_length); break;
    default: MC_CTR_INC(l7_rtp, rtcp_bad_count); break;
    }
    if (!r.n_packets)
        return;
    MC_CTR_ADD(l7_rtp, rtcp_packets, r.n_packets);
    MC_CTR_ADD(l7_rtp, rtcp_reports, r.blocks_total);
    MC_CTR_ADD(l7_rtp, rtcp_blocks_dropped, (uint32_t)(r.blocks_total - r.n_blocks));
    st->valid = 1;
    d->s.rtcp_packets += r.n_packets;
    if (r.have_sender) {
        d->have_rtcp_ssrc = 1;
        d->rtcp_ssrc = r.sender_ssrc;
    }
    for (unsigned i = 0; i < r.n_blocks; i++) {
        const struct mc_rtcp_block *b = &r.block[i];
        int ours = (o->s.packets && b->ssrc == o->s.ssrc) || (o->have_rtcp_ssrc && b->ssrc == o->rtcp_ssrc) ||
                   (!o->s.packets && !o->have_rtcp_ssrc && i == 0);
        if (!ours)
            continue;
        o->s.rtcp_report = 1;
        o->s.rtcp_fraction = b->fraction;
        o->s.rtcp_cum_lost = b->cum_lost;
        o->s.rtcp_jitter = b->jitter;
        break;
    }
}

/* ---- the analyzer callbacks ----------------------------------------------------- */

static void rtp_init(struct mc_l7_ctx *x, void *vslot)
{
    (void)x;
    struct rtp_slot *slot = vslot;
    slot->st = calloc(1, sizeof(*slot->st));
    if (!slot->st)
        MC_CTR_INC(l7_rtp, alloc_failed);
}

static void rtp_release(void *vslot)
{
    struct rtp_slot *slot = vslot;
    free(slot->st);
    slot->st = NULL;
}

/* ---- the call of the media (voip.c) ------------------------------------------ */

#define CALL_RETRY_US 1000000ull /* a call not found yet (the answer's SDP may come later): looked up again */
#define PUSH_US 1000000ull       /* a running call's quality goes to the cloud once a second per direction */

#define CLOUD_RETRY_MAX 5             /* the cloud is asked after 1, 2, 4, 8, 16, then every 32 s */

/* What announced endpoint i of the flow (addr[i]:port[i]): a call, and the side that receives there. */
struct claim {
    const char *id; /* NULL: none (known) */
    int side;
};

/* The text of endpoint i as voip.rtp.* keys and the call hashes' *_rtp lists write it; 0 if it did not fit. */
static size_t ep_text(struct mc_l7_ctx *x, int i, char *out, size_t cap)
{
    const struct mc_flow *f = mc_l7_flow(x);
    return mc_hostport_text(f->key.ip_ver, &f->key.addr[i], f->key.port[i], out, cap);
}

/* This probe's call table. */
static void local_claims(struct mc_l7_ctx *x, struct claim cl[2])
{
    const struct mc_flow *f = mc_l7_flow(x);
    const struct mc_voip_call *c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = mc_voip_call_at(mc_l7_voip(x), f->key.ip_ver, &f->key.addr[i], f->key.port[i], &cl[i].side);
        cl[i].id = c[i] ? mc_voip_call_id(c[i]) : NULL;
    }
    if (!c[0] || !c[1] || c[0] == c[1])
        return;
    /* an endpoint several calls announced (a media server's one port): the call that announced both is it */
    for (int i = 0; i < 2; i++) {
        int side = mc_voip_call_side_at(c[i], f->key.ip_ver, &f->key.addr[!i], f->key.port[!i]);
        if (side >= 0) {
            cl[!i].id = cl[i].id, cl[!i].side = side;
            return;
        }
    }
}

/* The side whose endpoint list (a call hash's caller_rtp, callee_rtp: "ep,ep,...") holds ep; -1 when none. */
static int side_in_lists(const struct mc_lookup_answer *m, const char *ep, size_t n)
{
    for (int side = 0; side < 2; side++)
        for (const char *p = m->v[side]; *p; p += strcspn(p, ","), p += *p == ',')
            if (strncmp(p, ep, n) == 0 && (p[n] == ',' || p[n] == '\0'))
                return side;
    return -1;
}

/*
 * The cloud: voip.rtp.<ep> of both endpoints, which the probe that saw the
 * SDP wrote; when they name different calls, the call hash of each
 * (voip.call.<id> caller_rtp, callee_rtp) tells which announced both.
 * a[]: the answers' room.  1 when an answer is still on its way.
 */
static int cloud_claims(struct mc_l7_ctx *x, struct claim cl[2], struct mc_lookup_answer a[2])
{
    struct mc_lookup *l = mc_l7_lookups(x);
    char ep[2][80];
    size_t n[2];
    int asked = 0;
    for (int i = 0; i < 2; i++) {
        n[i] = ep_text(x, i, ep[i], sizeof(ep[i]));
        int rc = n[i] ? mc_lookup_get(l, MC_LOOKUP_RTP, ep[i], n[i], &a[i]) : MC_LOOKUP_NONE;
        asked |= rc == MC_LOOKUP_ASKED;
        cl[i].id = rc == MC_LOOKUP_FOUND ? a[i].v[0] : NULL;
        cl[i].side = strcmp(a[i].v[1], "callee") == 0;
    }
    if (asked || !cl[0].id || !cl[1].id || strcmp(cl[0].id, cl[1].id) == 0)
        return asked;
    for (int i = 0; i < 2; i++) {
        struct mc_lookup_answer m;
        int rc = mc_lookup_get(l, MC_LOOKUP_CALL_MEDIA, cl[i].id, strlen(cl[i].id), &m);
        if (rc == MC_LOOKUP_ASKED)
            return 1; /* decided when both calls' lists are known */
        int side = rc == MC_LOOKUP_FOUND ? side_in_lists(&m, ep[!i], n[!i]) : -1;
        if (side >= 0) {
            cl[!i].id = cl[i].id, cl[!i].side = side;
            return 0;
        }
    }
    return 0;
}

#define CLOUD_RETRY_MAX 5      /* no call in the cloud: asked again after 1, 2, 4, 8, 16, then every 32 s */
#define CLOUD_POLL_US 50000ull /* an answer on its way: looked for this often */

/*
 * Finds the flow's call from what announced its two endpoints: this
 * probe's call table first; then the cloud, for a call whose SIP another
 * probe saw (asked at growing intervals: most RTP-like flows have no call).
 * Direction d's stream is received at endpoint !d.  Both endpoints one
 * call's: their sides.  Only one announced (the other behind a NAT, or its
 * SDP not seen yet): that one's side, and the other side at the other end
 * (symmetric RTP).  Two calls, neither announcing both: the one where
 * direction 0 is received.  1 when a cloud answer is still on its way.
 */
static int find_call(struct mc_l7_ctx *x, struct rtp_state *st, uint64_t now_us, int final)
{
    st->call_try_us = now_us + CALL_RETRY_US;
    struct claim cl[2];
    struct mc_lookup_answer a[2];
    int asked = 0, from_cloud = 0;
    local_claims(x, cl);
    /* at the end, the cloud's answer is taken whenever it came (a file waits for the answers at its end) */
    if (!cl[0].id && !cl[1].id && mc_l7_lookups(x) && (final || now_us >= st->cloud_try_us)) {
        asked = cloud_claims(x, cl, a);
        from_cloud = 1;
        if (asked) { /* the answer is a round trip away: looked at again soon */
            st->call_try_us = st->cloud_try_us = now_us + CLOUD_POLL_US;
            return 1;
        }
        st->cloud_try_us = now_us + (CALL_RETRY_US << st->cloud_tries);
        st->cloud_tries += st->cloud_tries < CLOUD_RETRY_MAX;
    }
    int i = cl[1].id ? 1 : 0; /* the endpoint that decides */
    if (!cl[i].id)
        return 0;
    int side_at[2];
    side_at[i] = cl[i].side;
    side_at[!i] = cl[!i].id && strcmp(cl[!i].id, cl[i].id) == 0 ? cl[!i].side : !cl[i].side;
    snprintf(st->call_id, sizeof(st->call_id), "%s", cl[i].id);
    for (int d = 0; d < 2; d++)
        st->call_side[d] = (uint8_t)side_at[!d];
    st->call_dirs = 3;
    MC_CTR_INC(l7_rtp, calls_found);
    if (from_cloud)
        MC_CTR_INC(l7_rtp, calls_found_cloud);
    return 0;
}

/* Direction d's quality to its call (voip.call.<id> rtp_to_<side>_*). */
static void push_quality(struct mc_l7_ctx *x, struct rtp_state *st, int d, uint64_t now_us)
{
    const struct mc_rtp_stats *s = &st->d[d].s;
    if (!(st->call_dirs >> d & 1) || !s->valid)
        return;
    st->pushed_us[d] = now_us;
    struct mc_voip_quality q;
    double r;
    q.packets = s->packets;
    q.lost = s->lost;
    q.jitter_ms = mc_rtp_jitter_mean_ms(s);
    q.jitter_max_ms = s->jitter_max_ms;
    q.mos = 0;
    mc_rtp_quality(s, &r, &q.mos);
    q.codec = s->codec;
    mc_voip_media(mc_l7_voip(x), st->call_id, st->call_side[d], &q, now_us / 1000, &st->alerted, mc_l7_agg(x));
}

/* When rtp_data next has work beside direction i's packet: a call to look for, or its quality to push. */
static void set_due(const struct rtp_state *st, struct rtp_hot *h, int i)
{
    h->due_us = UINT64_MAX;
    if (st->call_dirs >> i & 1) /* push_quality does nothing for a direction of no known call */
        h->due_us = st->pushed_us[i] + PUSH_US;
    if (st->call_dirs != 3 && st->call_try_us < h->due_us)
        h->due_us = st->call_try_us;
}

/* The directions whose next packets may take fast_packet, their fields copied into the slot. */
static void rehot(struct rtp_slot *slot)
{
    const struct rtp_state *st = slot->st;
    for (int i = 0; i < 2; i++) {
        const struct rtp_dir *d = &st->d[i];
        const struct mc_rtp_stats *s = &d->s;
        struct rtp_hot *h = &slot->hot[i];
        /* what fast_packet does not test: true of every packet until the general path runs again */
        h->fast = s->valid && !d->probation && d->have_ref && !d->prev_cn && d->clk_set && d->clk_pt == s->pt &&
                  d->clk_gen == st->fmt_gen && s->pt != PT_CN && s->pt != PT_CN_OLD && !d->cand_n &&
                  d->bad_seq == SEQ_MOD + 1;
        if (!h->fast)
            continue;
        h->pt = s->pt;
        h->ssrc = s->ssrc;
        h->max_seq = d->max_seq;
        h->cycles = d->cycles;
        h->received = d->received;
        h->window = d->window;
        h->ref_ts = d->ref_ts;
        h->ref_us = d->ref_us;
        h->clk = d->clk;
        h->j16 = d->j16;
        h->ms_per_j16 = d->ms_per_j16;
        h->packets = s->packets;
        h->octets = s->octets;
        h->jitter_ms = s->jitter_ms;
        h->jitter_max_ms = s->jitter_max_ms;
        h->jitter_sum_ms = s->jitter_sum_ms;
        h->jitter_n = s->jitter_n;
        h->max_delta_ms = s->max_delta_ms;
        h->last_us = s->last_us;
        set_due(st, h, i);
    }
}

static void rtp_data(struct mc_l7_ctx *x, void *vslot, int dir, const uint8_t *p, size_t n)
{
    struct rtp_slot *slot = vslot;
    struct rtp_state *st = slot->st;
    if (!st) {
        mc_l7_detach(x); /* no memory to analyse it: not reported as RTP */
        return;
    }
    uint64_t now_us = mc_l7_now_us(x);
    struct rtp_hot *h = &slot->hot[dir & 1];
    if (h->fast && fast_packet(h, p, n, now_us)) {
        if (now_us < h->due_us)
            return;
        /* the call's work reads the state: this direction's hot fields folded in, both kept fast */
        fold_hot(slot, dir & 1);
        if (st->call_dirs != 3 && now_us >= st->call_try_us)
            find_call(x, st, now_us, 0);
        if (now_us >= st->pushed_us[dir & 1] + PUSH_US)
            push_quality(x, st, dir & 1, now_us);
        for (int i = 0; i < 2; i++)
            if (slot->hot[i].fast)
                set_due(st, &slot->hot[i], i);
        return;
    }
    unhot(slot);
    struct rtp_dir *d = &st->d[dir & 1];
    if (mc_rtp_is_rtcp(p, n))
        on_rtcp(st, dir & 1, p, n);
    else
        on_rtp(x, st, d, p, n);
    if (!st->valid && ++d->tries >= MC_RTP_PROBATION) {
        MC_CTR_INC(l7_rtp, released);
        mc_l7_detach(x);
        return;
    }
    if (!st->valid)
        return;
    if (st->call_dirs != 3 && now_us >= st->call_try_us)
        find_call(x, st, now_us, 0);
    if (now_us >= st->pushed_us[dir & 1] + PUSH_US)
        push_quality(x, st, dir & 1, now_us);
    rehot(slot);
}

static void rtp_end(struct mc_l7_ctx *x, void *vslot)
{
    struct rtp_state *st = ((struct rtp_slot *)vslot)->st;
    if (st)
        unhot(vslot);
    if (!st || !st->valid) { /* too few packets to tell: not reported as RTP */
        MC_CTR_INC(l7_rtp, released);
        mc_l7_detach(x);
        return;
    }
    /* the streams' final figures go to their call */
    uint64_t now_us = mc_l7_now_us(x);
    /* reading a file, the cloud's answers may be a moment away: waited for (mc_lookup_settle) */
    if (st->call_dirs != 3 && find_call(x, st, now_us, 1) && mc_lookup_settle(mc_l7_lookups(x)))
        find_call(x, st, now_us, 1);
    for (int d = 0; d < 2; d++)
        push_quality(x, st, d, now_us);
}

/*
 * Cheap check of a direction's first datagram: RTCP (version 2, an SR, RR,
 * SDES, BYE or APP first, every length consistent), or an RTP header that
 * parses (version 2, CSRCs, extension and padding within the datagram) with
 * an audio or video payload type (0-34, 96-127).
 */
static int rtp_detect(const uint8_t *p, size_t n, int dir)
{
    (void)dir;
    if (n < 4 || p[0] >> 6 != 2)
        return 0;
    if (mc_rtp_is_rtcp(p, n)) {
        struct mc_rtcp_info r;
        return p[1] >= 200 && p[1] <= 204 && mc_rtcp_parse(p, n, &r) == MC_RTP_OK;
    }
    struct mc_rtp_hdr h;
    if (mc_rtp_parse(p, n, &h) != MC_RTP_OK)
        return 0;
    return h.pt <= 34 || h.pt >= 96;
}

/* ---- the call layer's interface --------------------------------------------------- */

const struct mc_rtp_stats *mc_l7_rtp_stats(const struct mc_flow *f, int dir)
{
    const struct rtp_state *st = state_of(f);
    return st ? &st->d[dir & 1].s : NULL;
}

int mc_l7_rtp_set_format(const struct mc_flow *f, uint8_t pt, const char *encoding, uint32_t clock_hz)
{
    /* the stage's state, writable: the flow is const to its readers, and this is the analyzer's own */
    struct rtp_slot *hs = (struct rtp_slot *)mc_l7_state_of(f, &mc_l7_rtp);
    struct rtp_state *st = hs ? hs->st : NULL;
    if (!st || pt > 127)
        return -1;
    unhot(hs); /* the clocks the hot fields were taken with may change: the next packets go the general way */
    struct rtp_fmt *slot = NULL;
    for (int i = 0; !slot && i < MC_RTP_FORMATS; i++) /* its own entry, renamed */
        if (st->fmt[i].used && st->fmt[i].pt == pt)
            slot = &st->fmt[i];
    for (int i = 0; !slot && i < MC_RTP_FORMATS; i++)
        if (!st->fmt[i].used)
            slot = &st->fmt[i];
    if (!slot) {
        MC_CTR_INC(l7_rtp, formats_full);
        return -1;
    }
    slot->used = 1;
    slot->pt = pt;
    slot->clock = clock_hz;
    st->fmt_gen++;
    snprintf(slot->name, sizeof(slot->name), "%s", encoding ? encoding : "");
    for (int i = 0; i < 2; i++)
        if (st->d[i].s.packets && st->d[i].s.pt == pt)
            set_codec(st, &st->d[i], pt);
    return 0;
}

/* ---- flow record elements ------------------------------------------------------------ */

/* Direction rev ? the record's reverse : its own (a uniflow record of direction 1 is the server's). */
static const struct mc_rtp_stats *stats_of(const struct mc_ie_env *env, int rev)
{
    const struct rtp_state *st = state_of(env->f);
    return st ? &st->d[(rev ? !env->dir : env->dir) & 1].s : NULL;
}

static double quality(const struct mc_rtp_stats *s, int want_mos)
{
    double r, mos;
    mc_rtp_quality(s, &r, &mos);
    return want_mos ? mos : r;
}

/* A pair of getters per element: its own direction and the reverse one.  RTP values need a valid stream. */
#define RTP_GETTERS(name, VALUE)                                                          \
    static void name##_value(const struct mc_rtp_stats *s, struct mc_ie_val *v) { VALUE; } \
    static void get_##name(const struct mc_ie_env *env, struct mc_ie_val *v)              \
    {                                                                                     \
        const struct mc_rtp_stats *s = stats_of(env, 0);                                  \
        v->str = "";                                                                      \
        if (s)                                                                            \
            name##_value(s, v);                                                           \
    }                                                                                     \
    static void get_rev_##name(const struct mc_ie_env *env, struct mc_ie_val *v)          \
    {                                                                                     \
        const struct mc_rtp_stats *s = stats_of(env, 1);                                  \
        v->str = "";                                                                      \
        if (s)                                                                            \
            name##_value(s, v);                                                           \
    }

#define IF_VALID(expr) (s->valid ? (expr) : 0)

RTP_GETTERS(ssrc, v->u = IF_VALID(s->ssrc))
RTP_GETTERS(pt, v->u = IF_VALID(s->pt))
RTP_GETTERS(codec, if (s->valid) { v->str = s->codec; v->str_len = strlen(s->codec); })
RTP_GETTERS(packets, v->u = IF_VALID(s->packets))
RTP_GETTERS(octets, v->u = IF_VALID(s->octets))
RTP_GETTERS(lost, v->u = IF_VALID(s->lost))
RTP_GETTERS(dups, v->u = IF_VALID(s->duplicates))
RTP_GETTERS(reordered, v->u = IF_VALID(s->reordered))
RTP_GETTERS(ssrc_changes, v->u = IF_VALID(s->ssrc_changes))
RTP_GETTERS(jitter, v->u = mc_ie_f64(IF_VALID(mc_rtp_jitter_mean_ms(s))))
RTP_GETTERS(jitter_max, v->u = mc_ie_f64(IF_VALID(s->jitter_max_ms)))
RTP_GETTERS(max_delta, v->u = mc_ie_f64(IF_VALID(s->max_delta_ms)))
RTP_GETTERS(duration, v->u = mc_ie_f64(IF_VALID((double)(s->last_us - s->first_us) / 1000.0)))
RTP_GETTERS(rfactor, v->u = mc_ie_f64(quality(s, 0)))
RTP_GETTERS(mos, v->u = mc_ie_f64(quality(s, 1)))
RTP_GETTERS(rtcp_packets, v->u = s->rtcp_packets)
RTP_GETTERS(rtcp_fraction, v->u = mc_ie_f64(s->rtcp_report ? s->rtcp_fraction / 256.0 : 0))
RTP_GETTERS(rtcp_lost, v->u = s->rtcp_report && s->rtcp_cum_lost > 0 ? (uint64_t)s->rtcp_cum_lost : 0)
RTP_GETTERS(rtcp_jitter, v->u = mc_ie_f64(mc_rtp_rtcp_jitter_ms(s)))

/* The call of the flow: the same for both directions, so one element without a reverse. */
static void get_call_id(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct rtp_state *st = state_of(env->f);
    v->str = st && st->valid ? st->call_id : "";
    v->str_len = strlen(v->str);
}

#undef IF_VALID
#undef RTP_GETTERS

#define STR MC_IE_T_STRING
#define U MC_IE_T_UNSIGNED
#define F MC_IE_T_FLOAT64
#define E MC_IE_F_NOV9
#define R (MC_IE_F_REVERSE | MC_IE_F_NOV9)
#define P MC_PEN_MC
#define REV 0x4000 /* RFC 5103 6.2: the reverse of an enterprise element is its id with bit 14 set */

/* Each element, then its RFC 5103 reverse (biflow records and --json). */
#define RTP_IE(name, rname, id, len, type, getter, descr, maxlen)                         \
    { name, id, P, len, 0, type, E, NULL, get_##getter, descr, maxlen },                  \
    { rname, REV | id, P, len, 0, type, R, NULL, get_rev_##getter, descr ", reverse direction", maxlen }

static const struct mc_ie rtp_fields[] = {
    RTP_IE("rtpSsrc", "reverseRtpSsrc", 230, 4, U, ssrc, "RTP: SSRC of the direction's stream", 0),
    RTP_IE("rtpPayloadType", "reverseRtpPayloadType", 231, 1, U, pt, "RTP: payload type (CN and events aside)", 0),
    RTP_IE("rtpCodec", "reverseRtpCodec", 232, MC_IE_VARLEN, STR, codec,
           "RTP: codec (RFC 3551 name, the SDP's, or dynamic-NNN)", MC_RTP_CODEC_LEN - 1),
    RTP_IE("rtpPackets", "reverseRtpPackets", 233, 8, U, packets, "RTP: packets of the stream", 0),
    RTP_IE("rtpOctets", "reverseRtpOctets", 234, 8, U, octets, "RTP: payload octets of the stream", 0),
    RTP_IE("rtpLostPackets", "reverseRtpLostPackets", 235, 4, U, lost, "RTP: expected - received", 0),
    RTP_IE("rtpDuplicatePackets", "reverseRtpDuplicatePackets", 236, 4, U, dups, "RTP: duplicate packets", 0),
    RTP_IE("rtpReorderedPackets", "reverseRtpReorderedPackets", 237, 4, U, reordered, "RTP: late packets", 0),
    RTP_IE("rtpSsrcChanges", "reverseRtpSsrcChanges", 238, 4, U, ssrc_changes, "RTP: new SSRCs followed", 0),
    RTP_IE("rtpJitterMs", "reverseRtpJitterMs", 239, 8, F, jitter, "RTP: mean RFC 3550 jitter, ms", 0),
    RTP_IE("rtpJitterMaxMs", "reverseRtpJitterMaxMs", 240, 8, F, jitter_max, "RTP: largest jitter, ms", 0),
    RTP_IE("rtpMaxDeltaMs", "reverseRtpMaxDeltaMs", 241, 8, F, max_delta, "RTP: largest arrival gap, ms", 0),
    RTP_IE("rtpDurationMs", "reverseRtpDurationMs", 242, 8, F, duration, "RTP: first to last packet, ms", 0),
    RTP_IE("rtpRFactor", "reverseRtpRFactor", 243, 8, F, rfactor, "RTP: E-model R-factor (0: none)", 0),
    RTP_IE("rtpMos", "reverseRtpMos", 244, 8, F, mos, "RTP: E-model MOS (0: none)", 0),
    RTP_IE("rtcpPackets", "reverseRtcpPackets", 245, 4, U, rtcp_packets, "RTCP packets sent", 0),
    RTP_IE("rtcpFractionLost", "reverseRtcpFractionLost", 246, 8, F, rtcp_fraction,
           "RTCP: fraction lost the receiver reported on the stream", 0),
    RTP_IE("rtcpCumulativeLost", "reverseRtcpCumulativeLost", 247, 4, U, rtcp_lost,
           "RTCP: cumulative lost the receiver reported", 0),
    RTP_IE("rtcpJitterMs", "reverseRtcpJitterMs", 248, 8, F, rtcp_jitter, "RTCP: jitter the receiver reported, ms", 0),
    { "rtpCallId", 249, P, MC_IE_VARLEN, 0, STR, E, NULL, get_call_id,
      "RTP: Call-ID of the call whose SDP announced the flow's endpoints (the call layer)", MC_VOIP_TEXT_MAX },
};

#undef RTP_IE
#undef STR
#undef U
#undef F
#undef E
#undef R
#undef P
#undef REV

static const char *const rtp_ndpi[] = { "RTP", "RTCP", NULL };

const struct mc_l7_analyzer mc_l7_rtp = {
    .name = "rtp",
    .l4 = MC_L7_UDP,
    .ndpi = rtp_ndpi,
    .detect = rtp_detect,
    .state_size = sizeof(struct rtp_slot),
    .init = rtp_init,
    .data = rtp_data,
    .end = rtp_end,
    .release = rtp_release,
    .fields = rtp_fields,
    .n_fields = sizeof(rtp_fields) / sizeof(rtp_fields[0]),
};
