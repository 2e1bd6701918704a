/*
 * l7.c - the application-layer stage (see l7.h): per-flow state, attaching
 * analyzers, in-order TCP delivery, nDPI classification and the transaction
 * log.
 *
 * Per packet of a TCP/UDP flow with payload (or a SYN):
 *   1. nDPI, until it decides or dpi_max_packets were seen (state freed then);
 *   2. attach, until decided: server port, then the analyzers' detect() on the
 *      first payload of each direction, then nDPI's verdict by name;
 *   3. delivery to the attached analyzer: UDP datagrams whole; TCP bytes in
 *      sequence order (below).
 *
 * TCP: each direction keeps the next sequence number it expects.  A segment
 * at it is delivered and the queue of segments that arrived early is
 * drained; one wholly before it is a retransmission (dropped); one that
 * straddles it delivers only its new tail (overlap); one after it waits in
 * a bounded queue (out of order).  The bytes of a hole are declared lost,
 * and the analyzer told through gap(), when the peer acknowledges past the
 * hole (the capture missed them), when the queue would exceed its share of
 * --l7-max-buffer, or when the flow ends.  Every case has its counter.
 */
#include "l7/internal.h"
#include "cloud/agg.h"
#include "cloud/lookup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostport.h"
#include "common/json.h"
#include "common/log.h"
#include "common/text.h"

MC_CTR_DEFINE(l7, MC_L7_CTRS)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

#define DETECT_TRIES 4 /* payload packets per direction offered to detect() */

struct mc_l7 {
    struct mc_l7_config cfg;
    const struct mc_l7_analyzer *const *an; /* borrowed: the registry, or the config's list */
    size_t n_an;
    size_t state_size;         /* the largest analyzer's: attach may come after the state is made */
    uint32_t enabled;          /* bit i: an[i] may attach */
    struct mc_l7_dpi *dpi;     /* owned, NULL with --no-dpi */
    FILE *log;                 /* NULL, stdout (borrowed) or log_file's stream */
    struct mc_rotfile *log_file; /* owned: --l7-log to a file (rotated, reopened), else NULL */
    char *log_path;            /* owned copy, for the messages */
    char *line;                /* owned: the transaction being written, one fwrite at its end */
    size_t line_len, line_cap;
    int line_bad;              /* it outgrew LINE_MAX_BYTES or memory: dropped at its end (l7.log_errors) */
    struct mc_agg *agg;        /* borrowed */
    struct mc_lookup *lookups; /* borrowed */
    struct mc_voip *voip;      /* owned: the call table */
    struct mc_mobile *mobile;  /* owned: the subscriber table */
    int mobile_watch;          /* it holds sessions: every new flow may be a subscriber's */
    struct mc_l7_ctx ctx;      /* the one context callbacks get (one packet thread) */
    int16_t dpi_analyzer[1024]; /* nDPI protocol id -> analyzer index + 1, 0 none */
};

void mc_l7_config_defaults(struct mc_l7_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->dpi = 1;
    cfg->max_buffer = 131072;
    cfg->max_text = 1024;
    cfg->dpi_max_packets = 32;
    mc_voip_config_defaults(&cfg->voip);
    mc_mobile_config_defaults(&cfg->mobile);
}

const struct mc_l7_analyzer *mc_l7_find(const char *name)
{
    for (size_t i = 0; i < mc_l7_n_analyzers; i++)
        if (strcmp(mc_l7_analyzers[i]->name, name) == 0)
            return mc_l7_analyzers[i];
    return NULL;
}

static int analyzer_index(const struct mc_l7 *l, const char *name)
{
    for (size_t i = 0; i < l->n_an; i++)
        if (strcmp(l->an[i]->name, name) == 0)
            return (int)i;
    return -1;
}

/* --l7 dns,http: the analyzers allowed to attach. */
static int parse_only(struct mc_l7 *l, const char *only, char *err, size_t errlen)
{
    if (!only) {
        l->enabled = l->n_an >= 32 ? 0xffffffffu : (1u << l->n_an) - 1;
        return 0;
    }
    l->enabled = 0;
    for (const char *s = only; *s;) {
        size_t n = strcspn(s, ", ");
        if (n) {
            char name[32];
            if (n >= sizeof(name)) {
                snprintf(err, errlen, "--l7: '%.*s': no such analyzer", (int)n, s);
                return -1;
            }
            memcpy(name, s, n);
            name[n] = 0;
            int i = strcmp(name, "none") == 0 ? -2 : analyzer_index(l, name);
            if (i == -1) {
                snprintf(err, errlen, "--l7: '%s': no such analyzer (see --list-fields)", name);
                return -1;
            }
            if (i >= 0)
                l->enabled |= 1u << i;
        }
        s += n;
        s += strspn(s, ", ");
    }
    return 0;
}

static int open_log(struct mc_l7 *l, char *err, size_t errlen)
{
    if (!l->log_path)
        return 0;
    if (strcmp(l->log_path, "-") == 0) {
        l->log = stdout;
        return 0;
    }
    char why[256];
    l->log_file = mc_rotfile_open(l->log_path, 1, &l->cfg.log_rotate, why, sizeof(why));
    if (!l->log_file) {
        snprintf(err, errlen, "--l7-log '%s': %s", l->log_path, why);
        return -1;
    }
    l->log = mc_rotfile_stream(l->log_file);
    return 0;
}

struct mc_l7 *mc_l7_new(const struct mc_l7_config *cfg, char *err, size_t errlen)
{
    struct mc_l7 *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "l7: out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    l->cfg.only = NULL;
    l->cfg.log_path = NULL;
    l->an = cfg->analyzers ? cfg->analyzers : mc_l7_analyzers;
    l->n_an = cfg->analyzers ? cfg->n_analyzers : mc_l7_n_analyzers;
    if (l->n_an > 32) {
        snprintf(err, errlen, "l7: at most 32 analyzers");
        goto fail;
    }
    for (size_t i = 0; i < l->n_an; i++)
        if (l->an[i]->state_size > l->state_size)
            l->state_size = l->an[i]->state_size;
    if (l->cfg.max_buffer < 1024)
        l->cfg.max_buffer = 1024;
    if (parse_only(l, cfg->only, err, errlen) != 0)
        goto fail;
    if (cfg->log_path && !(l->log_path = strdup(cfg->log_path))) {
        snprintf(err, errlen, "l7: out of memory");
        goto fail;
    }
    if ((cfg->log_rotate.every_ms || cfg->log_rotate.max_bytes) &&
        (!cfg->log_path || strcmp(cfg->log_path, "-") == 0)) {
        snprintf(err, errlen, "--l7-log-rotate needs --l7-log to a file (not standard output)");
        goto fail;
    }
    if (open_log(l, err, errlen) != 0)
        goto fail;
    if (cfg->dpi) {
        l->dpi = mc_l7_dpi_new(err, errlen);
        if (!l->dpi)
            goto fail;
        /* nDPI names -> analyzers, once, so a verdict costs one array read */
        for (uint16_t id = 1; id < sizeof(l->dpi_analyzer) / sizeof(l->dpi_analyzer[0]); id++) {
            const char *name = mc_l7_dpi_proto_name(l->dpi, id);
            if (!name)
                continue;
            for (size_t i = 0; i < l->n_an; i++)
                for (const char *const *n = l->an[i]->ndpi; n && *n; n++)
                    if (strcmp(*n, name) == 0 && !l->dpi_analyzer[id])
                        l->dpi_analyzer[id] = (int16_t)(i + 1);
        }
    }
    if (!(l->voip = mc_voip_new(&cfg->voip))) {
        snprintf(err, errlen, "L7: cannot allocate the call table (%u calls)", cfg->voip.max_calls);
        goto fail;
    }
    if (!(l->mobile = mc_mobile_new(&cfg->mobile))) {
        snprintf(err, errlen, "L7: cannot allocate the subscriber table (%u sessions)", cfg->mobile.max_sessions);
        goto fail;
    }
    /* flows made from now on carry the stage's state in their extension */
    mc_flow_ext_reserve(sizeof(struct l7_flow) + l->state_size);
    l->ctx.l = l;
    return l;
fail:
    mc_l7_free(l);
    return NULL;
}

static void l7_free(struct mc_l7 *l, int exiting)
{
    if (!l)
        return;
    if (l->log_file)
        mc_rotfile_close(l->log_file);
    else if (l->log)
        fflush(l->log);
    free(l->log_path);
    free(l->line);
    mc_l7_dpi_free(l->dpi, exiting);
    mc_voip_free(l->voip);
    mc_mobile_free(l->mobile);
    free(l);
}

void mc_l7_free(struct mc_l7 *l) { l7_free(l, 0); }
void mc_l7_free_at_exit(struct mc_l7 *l) { l7_free(l, 1); }

int mc_l7_reopen(struct mc_l7 *l)
{
    if (!l->log_file)
        return 0;
    /* the new file first: if it cannot be opened, transactions keep going to the old one */
    char err[512];
    if (mc_rotfile_reopen(l->log_file, err, sizeof(err)) != 0) {
        mc_err("--l7-log %s", err);
        return -1;
    }
    return 0;
}

void mc_l7_rotate(struct mc_l7 *l, uint64_t now_ms)
{
    if (!l->log_file)
        return;
    char err[3 * 4096]; /* two paths and why */
    int rc = mc_rotfile_check(l->log_file, now_ms, err, sizeof(err));
    if (rc > 0) {
        MC_CTR_INC(l7, log_rotations);
        if (*mc_rotfile_last_name(l->log_file))
            mc_info("--l7-log rotated: %s", mc_rotfile_last_name(l->log_file));
        else
            mc_warn("--l7-log '%s' had been renamed or removed by someone else: started again", l->log_path);
    } else if (rc < 0) {
        MC_CTR_INC(l7, log_rotate_errors);
        mc_warn("--l7-log rotation: %s", err);
    }
}

void mc_l7_set_agg(struct mc_l7 *l, struct mc_agg *agg) { l->agg = agg; }
void mc_l7_set_lookups(struct mc_l7 *l, struct mc_lookup *lookups)
{
    l->lookups = lookups;
    mc_mobile_set_lookups(l->mobile, lookups);
}
void mc_l7_set_cloud(struct mc_l7 *l, struct mc_cloud *cloud) { mc_mobile_set_cloud(l->mobile, cloud); }

void mc_l7_flush(struct mc_l7 *l)
{
    if (l->log && fflush(l->log) != 0)
        MC_CTR_INC(l7, log_errors);
}

/* ---- per-flow state ---------------------------------------------------- */

static void free_segs(struct l7_dir *d)
{
    for (struct l7_seg *s = d->ooo, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    d->ooo = NULL;
    d->ooo_bytes = 0;
}

static void release_flow(void *ctx, struct mc_flow_ext *x)
{
    (void)ctx;
    struct l7_flow *lf = x->l7_state;
    if (!lf)
        return;
    if (lf->a && lf->a->release)
        lf->a->release(lf->state);
    free_segs(&lf->dir[0]);
    free_segs(&lf->dir[1]);
    mc_l7_dpi_flow_free(lf->dpi);
    mc_mobile_flow_forget(((struct mc_l7 *)ctx)->mobile, lf->mf);
    free(lf->mf);
    if (!lf->in_tail)
        free(lf);
    x->l7_state = NULL;
    x->l7_id = -1;
}

/* The flow's state, made on first use; with_dpi: with an nDPI flow (when nDPI is on). */
static struct l7_flow *flow_state(struct mc_l7 *l, struct mc_flow *f, int with_dpi)
{
    struct mc_flow_ext *x = mc_flow_ext_get(f);
    if (!x)
        return NULL;
    if (x->l7_state)
        return x->l7_state;
    /* in the extension's tail (reserved by mc_l7_new) when it is there: one allocation, one pointer */
    size_t need = sizeof(struct l7_flow) + l->state_size;
    struct l7_flow *lf;
    if (mc_flow_ext_tail() >= need) {
        lf = (struct l7_flow *)x->tail;
        memset(lf, 0, need);
        lf->in_tail = 1;
    } else if (!(lf = calloc(1, need))) {
        MC_CTR_INC(l7, state_alloc_failed);
        return NULL;
    }
    if (l->dpi && with_dpi) {
        lf->dpi = mc_l7_dpi_flow_new();
        if (!lf->dpi) {
            MC_CTR_INC(l7, dpi_alloc_failed);
            lf->dpi_done = 1;
        } else {
            MC_CTR_INC(l7, dpi_flows);
        }
    } else {
        lf->dpi_done = 1;
    }
    x->l7_state = lf;
    return lf;
}

const void *mc_l7_state_of(const struct mc_flow *f, const struct mc_l7_analyzer *a)
{
    const struct l7_flow *lf = f->ext ? f->ext->l7_state : NULL;
    return lf && lf->a == a ? lf->state : NULL;
}

/* ---- context helpers for analyzers ------------------------------------- */

const struct mc_flow *mc_l7_flow(const struct mc_l7_ctx *x) { return x->f; }
uint64_t mc_l7_now_ms(const struct mc_l7_ctx *x) { return x->now_ms; }
uint64_t mc_l7_now_us(const struct mc_l7_ctx *x) { return x->now_us; }
void mc_l7_detach(struct mc_l7_ctx *x) { x->lf->detach = 1; }
struct mc_agg *mc_l7_agg(struct mc_l7_ctx *x) { return x->l->agg; }
struct mc_lookup *mc_l7_lookups(struct mc_l7_ctx *x) { return x->l->lookups; }
size_t mc_l7_max_text(const struct mc_l7_ctx *x) { return x->l->cfg.max_text; }
struct mc_voip *mc_l7_voip(struct mc_l7_ctx *x) { return x->l->voip; }
struct mc_mobile *mc_l7_mobile(struct mc_l7_ctx *x) { return x->l->mobile; }

int mc_l7_text_room(char **buf, size_t *cap, size_t need)
{
    if (*buf && need <= *cap)
        return 0;
    size_t n = need < 64 ? 64 : need;
    char *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

char *mc_l7_text_dup(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

void mc_l7_set_subscriber(struct mc_l7_ctx *x, const char *imsi, const char *msisdn)
{
    mc_flow_set_subscriber(x->f, imsi, msisdn);
}

const struct mc_mobile_sub *mc_l7_subscriber_of(const struct mc_flow *f)
{
    const struct l7_flow *lf = f && f->ext ? f->ext->l7_state : NULL;
    return lf && lf->mf && lf->mf->tagged ? &lf->mf->sub : NULL;
}

void mc_l7_tick(struct mc_l7 *l, uint64_t now_ms)
{
    mc_voip_tick(l->voip, now_ms, l->agg);
    mc_mobile_tick(l->mobile, now_ms, l->agg);
    l->mobile_watch = mc_mobile_sessions(l->mobile) > 0; /* plain IP flows may be a known UE's */
}
void mc_l7_finish(struct mc_l7 *l) { mc_voip_finish(l->voip, l->agg); }

int mc_l7_buf_append(struct mc_l7_ctx *x, struct mc_l7_buf *b, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0; /* nothing to keep (and memcpy may not be given a NULL buffer) */
    /* each direction's message buffer may hold a quarter of the flow's budget */
    size_t cap = x->l->cfg.max_buffer / 4;
    if (n > cap || b->len + n > cap) {
        MC_CTR_INC(l7, buffer_exceeded);
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 512;
        while (nc < b->len + n)
            nc *= 2;
        if (nc > cap)
            nc = cap;
        uint8_t *q = realloc(b->p, nc);
        if (!q) {
            MC_CTR_INC(l7, buffer_exceeded);
            return -1;
        }
        b->p = q;
        b->cap = (uint32_t)nc;
    }
    memcpy(b->p + b->len, p, n);
    b->len += (uint32_t)n;
    return 0;
}

void mc_l7_buf_consume(struct mc_l7_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= (uint32_t)n;
}

void mc_l7_buf_reset(struct mc_l7_buf *b) { b->len = 0; }

void mc_l7_buf_free(struct mc_l7_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void mc_l7_body_start(struct mc_l7_body *b, uint32_t len, uint32_t keep)
{
    b->len = len;
    b->got = 0;
    b->keep = keep < len ? keep : len;
    b->broken = 0;
    mc_l7_buf_reset(&b->buf);
}

/* The complete body: the kept prefix, or NULL when broken. */
static int body_done(const struct mc_l7_body *b, const uint8_t **body, size_t *body_len)
{
    static const uint8_t empty[1];
    *body = b->broken ? NULL : b->buf.p ? b->buf.p : empty;
    *body_len = b->broken ? 0 : b->buf.len;
    return MC_L7_BODY_DONE;
}

int mc_l7_body_take(struct mc_l7_ctx *x, struct mc_l7_body *b, const uint8_t **p, size_t *n, const uint8_t **body,
                    size_t *body_len)
{
    size_t want = b->len - b->got;
    if (b->got == 0 && *n >= want) { /* the whole body is here: read it in place */
        *body = *p;
        *body_len = want;
        b->got = b->len;
        *p += want;
        *n -= want;
        return MC_L7_BODY_DONE;
    }
    size_t k = want < *n ? want : *n;
    int r = 0;
    if (!b->broken && b->got < b->keep) {
        size_t c = b->keep - b->got < k ? b->keep - b->got : k;
        if (mc_l7_buf_append(x, &b->buf, *p, c) != 0) {
            b->broken = 1;
            r = MC_L7_BODY_REFUSED;
        }
    }
    b->got += (uint32_t)k;
    *p += k;
    *n -= k;
    return b->got == b->len ? r | body_done(b, body, body_len) : r;
}

int mc_l7_body_gap(struct mc_l7_body *b, uint32_t len, const uint8_t **body, size_t *body_len)
{
    if (len > b->len - b->got)
        return -1;
    if (b->got < b->keep)
        b->broken = 1;
    b->got += len;
    return b->got == b->len ? body_done(b, body, body_len) : 0;
}

/* ---- transaction log ---------------------------------------------------- */

#ifdef MC_DEBUG
/* One vocabulary: a transaction key must be one of the analyzer's elements. */
static void check_key(const struct mc_l7_ctx *x, const char *name)
{
    const struct mc_l7_analyzer *a = x->lf->a;
    for (size_t i = 0; a && i < a->n_fields; i++)
        if (strcmp(a->fields[i].name, name) == 0)
            return;
    /* the base elements a transaction may name too: a mobile subscriber's (export/fields.c) */
    if (strcmp(name, "mobileIMSI") == 0 || strcmp(name, "mobileMSISDN") == 0)
        return;
    mc_err("l7 %s: transaction key '%s' is not one of its elements", a ? a->name : "?", name);
    abort();
}
#else
#define check_key(x, name) ((void)0)
#endif

/*
 * A transaction is built in l->line with no stdio call per key (printf's
 * format parsing cost more than the analysis of a SIP message) and written
 * with one fwrite when it ends.
 */
#define LINE_MAX_BYTES (4u << 20)

/* Room for n more bytes of the line, or NULL (the line is then dropped when it ends). */
static char *line_room(struct mc_l7 *l, size_t n)
{
    if (l->line_len + n <= l->line_cap)
        return l->line + l->line_len;
    if (l->line_bad || l->line_len + n > LINE_MAX_BYTES) {
        l->line_bad = 1;
        return NULL;
    }
    size_t cap = l->line_cap ? l->line_cap : 4096;
    while (cap < l->line_len + n)
        cap *= 2;
    char *p = realloc(l->line, cap);
    if (!p) {
        l->line_bad = 1;
        return NULL;
    }
    l->line = p;
    l->line_cap = cap;
    return p + l->line_len;
}

static void line_put(struct mc_l7 *l, const char *s, size_t n)
{
    char *d = line_room(l, n);
    if (d) {
        memcpy(d, s, n);
        l->line_len += n;
    }
}

#define LINE_LIT(l, lit) line_put(l, lit, sizeof(lit) - 1)

/* ,"name": at d (n + 4 bytes); where it ends. */
static char *key_at(char *d, const char *name, size_t n)
{
    d[0] = ',';
    d[1] = '"';
    memcpy(d + 2, name, n);
    d[n + 2] = '"';
    d[n + 3] = ':';
    return d + n + 4;
}

static void line_key(struct mc_l7 *l, const char *name)
{
    size_t n = strlen(name);
    char *d = line_room(l, n + 4);
    if (d)
        l->line_len += (size_t)(key_at(d, name, n) - d);
}

static void line_u64(struct mc_l7 *l, uint64_t v)
{
    char *d = line_room(l, 20);
    if (d)
        l->line_len += mc_u64_text(v, d);
}

void mc_l7_tx_begin(struct mc_l7_ctx *x, uint64_t start_ms)
{
    x->tx_open = 1;
    x->tx_fields = 0;
    struct mc_l7 *l = x->l;
    if (!l->log)
        return;
    const struct mc_flow *f = x->f;
    const char *name = x->lf->a ? x->lf->a->name : "";
    size_t nl = strlen(name);
    l->line_len = 0;
    l->line_bad = 0;
    /* the line's head at once, into room reserved once: it is a fifth of a SIP message's line */
#define HEAD_LIT(p, lit) (memcpy(p, lit, sizeof(lit) - 1), (p) + sizeof(lit) - 1)
    char *d = line_room(l, nl + 2 * INET6_ADDRSTRLEN + 5 * 20 + 256), *p = d;
    if (!d)
        return;
    p = HEAD_LIT(p, "{\"protocol\":\"");
    memcpy(p, name, nl);
    p += nl;
    if (f->key.ip_ver == 6)
        p = HEAD_LIT(p, "\",\"sourceIPv6Address\":\"");
    else
        p = HEAD_LIT(p, "\",\"sourceIPv4Address\":\"");
    p += mc_addr_text(f->key.ip_ver, &f->key.addr[0], p, INET6_ADDRSTRLEN);
    if (f->key.ip_ver == 6)
        p = HEAD_LIT(p, "\",\"destinationIPv6Address\":\"");
    else
        p = HEAD_LIT(p, "\",\"destinationIPv4Address\":\"");
    p += mc_addr_text(f->key.ip_ver, &f->key.addr[1], p, INET6_ADDRSTRLEN);
    p = HEAD_LIT(p, "\",\"sourceTransportPort\":");
    p += mc_u64_text(f->key.port[0], p);
    p = HEAD_LIT(p, ",\"destinationTransportPort\":");
    p += mc_u64_text(f->key.port[1], p);
    p = HEAD_LIT(p, ",\"protocolIdentifier\":");
    p += mc_u64_text(f->key.proto, p);
    p = HEAD_LIT(p, ",\"flowStartMilliseconds\":");
    p += mc_u64_text(f->first_ms, p);
    p = HEAD_LIT(p, ",\"transactionStartMilliseconds\":");
    p += mc_u64_text(start_ms, p);
#undef HEAD_LIT
    l->line_len += (size_t)(p - d);
}

void mc_l7_tx_u64(struct mc_l7_ctx *x, const char *name, uint64_t v)
{
    check_key(x, name);
    if (!x->l->log || !x->tx_open)
        return;
    line_key(x->l, name);
    line_u64(x->l, v);
}

void mc_l7_tx_str(struct mc_l7_ctx *x, const char *name, const char *s, size_t n)
{
    check_key(x, name);
    struct mc_l7 *l = x->l;
    if (!l->log || !x->tx_open)
        return;
    /* ,"name":"value" in room reserved once (a SIP message's line has a dozen) */
    size_t kn = strlen(name);
    char *d = line_room(l, kn + 6 + MC_JSON_ESCAPE_MAX * n);
    if (!d)
        return;
    char *v = key_at(d, name, kn);
    *v++ = '"';
    size_t used;
    v += mc_json_escape(v, MC_JSON_ESCAPE_MAX * n, s, n, &used);
    *v++ = '"';
    l->line_len += (size_t)(v - d);
}

void mc_l7_tx_raw(struct mc_l7_ctx *x, const char *name, const char *json, size_t n)
{
    check_key(x, name);
    if (!x->l->log || !x->tx_open)
        return;
    line_key(x->l, name);
    line_put(x->l, json, n);
}

int mc_l7_tx_logged(const struct mc_l7_ctx *x) { return x->l->log != NULL; }

void mc_l7_tx_end(struct mc_l7_ctx *x)
{
    if (!x->tx_open)
        return;
    x->tx_open = 0;
    x->lf->tx_count++;
    MC_CTR_INC(l7, transactions);
    struct mc_l7 *l = x->l;
    FILE *o = l->log;
    if (!o)
        return;
    LINE_LIT(l, "}\n");
    if (l->line_bad || fwrite_unlocked(l->line, 1, l->line_len, o) != l->line_len || ferror_unlocked(o)) {
        MC_CTR_INC(l7, log_errors);
        clearerr(o);
    }
    l->line_len = 0;
}

/* ---- attach ------------------------------------------------------------- */

static int l4_bit(uint8_t proto) { return proto == 6 ? MC_L7_TCP : proto == 17 ? MC_L7_UDP : 0; }

static void set_analyzer(struct mc_l7 *l, struct mc_flow *f, struct l7_flow *lf, int i)
{
    lf->a = l->an[i];
    lf->decided = 1;
    f->ext->l7_id = i;
    MC_CTR_INC(l7, flows_attached);
    if (lf->a->init) {
        struct mc_l7_ctx *x = &l->ctx;
        x->f = f;
        x->lf = lf;
        lf->a->init(x, lf->state);
    }
}

static int usable(const struct mc_l7 *l, size_t i, int l4)
{
    return (l->enabled >> i & 1) && (l->an[i]->l4 & l4);
}

static int by_port(const struct mc_l7 *l, const struct mc_flow *f, int l4)
{
    /* the server's port first, then the client's (a flow whose start was missed) */
    for (int side = 1; side >= 0; side--)
        for (size_t i = 0; i < l->n_an; i++)
            if (usable(l, i, l4))
                for (int k = 0; k < MC_L7_MAX_PORTS && l->an[i]->ports[k]; k++)
                    if (l->an[i]->ports[k] == f->key.port[side])
                        return (int)i;
    return -1;
}

static int by_payload(const struct mc_l7 *l, const uint8_t *p, size_t n, int dir, int l4)
{
    for (size_t i = 0; i < l->n_an; i++)
        if (usable(l, i, l4) && l->an[i]->detect && l->an[i]->detect(p, n, dir))
            return (int)i;
    return -1;
}

static int by_dpi(const struct mc_l7 *l, const struct l7_flow *lf, int l4)
{
    uint16_t ids[2] = { lf->app_id, lf->app_master };
    for (int k = 0; k < 2; k++) {
        size_t n = sizeof(l->dpi_analyzer) / sizeof(l->dpi_analyzer[0]);
        if (ids[k] && ids[k] < n && l->dpi_analyzer[ids[k]] && usable(l, (size_t)l->dpi_analyzer[ids[k]] - 1, l4))
            return l->dpi_analyzer[ids[k]] - 1;
    }
    return -1;
}

static void dpi_verdict(struct mc_l7 *l, struct l7_flow *lf, uint16_t master, uint16_t app)
{
    lf->app_master = master;
    lf->app_id = app;
    mc_l7_dpi_name(l->dpi, master, app, lf->app_name, sizeof(lf->app_name));
    lf->dpi_done = 1;
    mc_l7_dpi_flow_free(lf->dpi);
    lf->dpi = NULL;
}

static void dpi_giveup(struct mc_l7 *l, struct l7_flow *lf)
{
    if (lf->dpi_done || !lf->dpi)
        return;
    uint16_t m, a;
    int guessed;
    mc_l7_dpi_giveup(l->dpi, lf->dpi, &m, &a, &guessed);
    if (guessed)
        MC_CTR_INC(l7, dpi_guessed);
    else if (m || a)
        MC_CTR_INC(l7, dpi_detected); /* known, only its refinement (SNI, answer) was cut short */
    else
        MC_CTR_INC(l7, dpi_undetected);
    dpi_verdict(l, lf, m, a);
}

static void run_dpi(struct mc_l7 *l, struct l7_flow *lf, const struct mc_pkt *pkt)
{
    if (lf->dpi_done || !pkt->l3 || !pkt->l3_len)
        return;
    /* past the handshake a bare ACK or FIN teaches nDPI nothing (its dissectors
     * want payload, the sequence numbers come with the data): not fed, not
     * counted against dpi_max_packets; ~9% of the stage's time on HTTP/MySQL */
    if (pkt->proto == 6 && !pkt->payload_len && !(pkt->tcp_flags & TH_SYN) && lf->dpi_pkts >= 3)
        return;
    uint16_t m = 0, a = 0;
    lf->dpi_pkts++;
    if (mc_l7_dpi_packet(l->dpi, lf->dpi, pkt->l3, pkt->l3_len, pkt->ts_ms, &m, &a)) {
        MC_CTR_INC(l7, dpi_detected);
        dpi_verdict(l, lf, m, a);
    } else if (lf->dpi_pkts >= l->cfg.dpi_max_packets) {
        dpi_giveup(l, lf);
    } else if (m || a) {
        /* known, refining: remember what it said so far */
        lf->app_master = m;
        lf->app_id = a;
    }
}

static void try_attach(struct mc_l7 *l, struct mc_flow *f, struct l7_flow *lf, const struct mc_pkt *pkt, int dir)
{
    int l4 = l4_bit(f->key.proto);
    int i = by_port(l, f, l4);
    if (i >= 0) {
        MC_CTR_INC(l7, attached_port);
    } else if (pkt->payload_len && lf->tries[dir] < DETECT_TRIES) {
        lf->tries[dir]++;
        i = by_payload(l, pkt->payload, pkt->payload_len, dir, l4);
        if (i >= 0)
            MC_CTR_INC(l7, attached_payload);
    }
    if (i < 0 && (lf->app_id || lf->app_master)) {
        i = by_dpi(l, lf, l4);
        if (i >= 0)
            MC_CTR_INC(l7, attached_ndpi);
    }
    if (i >= 0)
        set_analyzer(l, f, lf, i);
    else if (lf->tries[0] >= DETECT_TRIES && lf->tries[1] >= DETECT_TRIES && lf->dpi_done)
        lf->decided = 1; /* nothing will attach: stop trying */
}

/* ---- delivery ------------------------------------------------------------ */

static void deliver(struct mc_l7_ctx *x, int dir, const uint8_t *p, size_t n)
{
    if (n && !x->lf->detach)
        x->lf->a->data(x, x->lf->state, dir, p, n);
}

/* The analyzer gave the flow up: its state goes, nothing attaches again. */
static void detach(struct mc_l7 *l, struct mc_flow *f, struct l7_flow *lf)
{
    if (lf->a->release)
        lf->a->release(lf->state);
    memset(lf->state, 0, l->state_size);
    free_segs(&lf->dir[0]);
    free_segs(&lf->dir[1]);
    lf->a = NULL;
    lf->detach = 0;
    lf->decided = 1;
    f->state &= (uint8_t)~MC_FLOW_F_L7_STEADY;
    f->ext->l7_id = -1;
    MC_CTR_INC(l7, detached);
}

static void declare_gap(struct mc_l7_ctx *x, int dir, uint32_t len)
{
    MC_CTR_INC(l7, tcp_gap);
    MC_CTR_ADD(l7, tcp_gap_bytes, len);
    if (x->lf->a->gap)
        x->lf->a->gap(x, x->lf->state, dir, len);
}

/* Delivers the queued segments that start at or before next (trimming overlaps). */
static void drain_ooo(struct mc_l7_ctx *x, int dir)
{
    struct l7_dir *d = &x->lf->dir[dir];
    while (d->ooo && (int32_t)(d->ooo->seq - d->next) <= 0) {
        struct l7_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        int32_t skip = (int32_t)(d->next - s->seq);
        if ((uint32_t)skip < s->len) {
            if (skip)
                MC_CTR_INC(l7, tcp_overlap);
            deliver(x, dir, s->data + skip, s->len - (uint32_t)skip);
            d->next = s->seq + s->len;
        } else {
            MC_CTR_INC(l7, tcp_retransmit);
        }
        free(s);
    }
}

/* The bytes up to the first queued segment will not come: say so, deliver what follows. */
static void skip_hole(struct mc_l7_ctx *x, int dir)
{
    struct l7_dir *d = &x->lf->dir[dir];
    while (d->ooo) {
        declare_gap(x, dir, d->ooo->seq - d->next);
        d->next = d->ooo->seq;
        drain_ooo(x, dir);
    }
}

static void queue_seg(struct mc_l7_ctx *x, int dir, uint32_t seq, const uint8_t *p, size_t n)
{
    struct l7_dir *d = &x->lf->dir[dir];
    uint32_t cap = x->l->cfg.max_buffer / 4;
    if (n > cap) {
        /* cannot wait for the hole to fill: the hole is lost */
        MC_CTR_INC(l7, tcp_ooo_dropped);
        skip_hole(x, dir);
        declare_gap(x, dir, seq - d->next);
        d->next = seq;
        deliver(x, dir, p, n);
        d->next = seq + (uint32_t)n;
        drain_ooo(x, dir);
        return;
    }
    while (d->ooo && d->ooo_bytes + n > cap) {
        /* over budget: give up the oldest hole and deliver what follows it */
        MC_CTR_INC(l7, tcp_ooo_dropped);
        declare_gap(x, dir, d->ooo->seq - d->next);
        d->next = d->ooo->seq;
        drain_ooo(x, dir);
    }
    if ((int32_t)(seq - d->next) <= 0) { /* the hole closed while making room */
        int32_t skip = (int32_t)(d->next - seq);
        if ((size_t)skip < n) {
            deliver(x, dir, p + skip, n - (size_t)skip);
            d->next = seq + (uint32_t)n;
            drain_ooo(x, dir);
        }
        return;
    }
    struct l7_seg *s = malloc(sizeof(*s) + n);
    if (!s) {
        MC_CTR_INC(l7, tcp_ooo_dropped);
        return;
    }
    s->seq = seq;
    s->len = (uint32_t)n;
    memcpy(s->data, p, n);
    struct l7_seg **pp = &d->ooo;
    while (*pp && (int32_t)((*pp)->seq - seq) <= 0)
        pp = &(*pp)->next;
    s->next = *pp;
    *pp = s;
    d->ooo_bytes += (uint32_t)n;
    MC_CTR_INC(l7, tcp_out_of_order);
}

static void tcp_segment(struct mc_l7_ctx *x, const struct mc_pkt *pkt, int dir)
{
    struct l7_flow *lf = x->lf;
    struct l7_dir *d = &lf->dir[dir];
    uint32_t seq = pkt->tcp_seq;
    if (pkt->tcp_flags & TH_SYN) {
        if (!d->known || !d->syn) {
            d->next = seq + 1;
            d->known = d->syn = 1;
        }
        seq++; /* the SYN takes one sequence number (data on a SYN is rare but legal) */
    }
    /* the peer acknowledged bytes the capture never showed: they are lost */
    struct l7_dir *o = &lf->dir[!dir];
    if ((pkt->tcp_flags & TH_ACK) && o->ooo && (int32_t)(pkt->tcp_ack - o->ooo->seq) >= 0)
        skip_hole(x, !dir);
    size_t n = pkt->payload_len;
    if (!n)
        return;
    MC_CTR_INC(l7, tcp_segments);
    if (!d->known) {
        d->next = seq;
        d->known = 1;
        MC_CTR_INC(l7, tcp_mid_stream);
    }
    int32_t off = (int32_t)(seq - d->next);
    if (off == 0) {
        MC_CTR_INC(l7, tcp_in_order);
        d->next = seq + (uint32_t)n;
        deliver(x, dir, pkt->payload, n);
        drain_ooo(x, dir);
    } else if (off < 0) {
        if ((int64_t)off + (int64_t)n <= 0) {
            MC_CTR_INC(l7, tcp_retransmit);
            return;
        }
        MC_CTR_INC(l7, tcp_overlap);
        d->next = seq + (uint32_t)n;
        deliver(x, dir, pkt->payload + (uint32_t)-off, n - (uint32_t)-off);
        drain_ooo(x, dir);
    } else {
        queue_seg(x, dir, seq, pkt->payload, n);
    }
}

/* The packet to the flow's analyzer (attached): the stage's context set, the payload in order. */
static inline void to_analyzer(struct mc_l7 *l, struct mc_flow *f, struct l7_flow *lf, const struct mc_pkt *pkt,
                               int dir)
{
    struct mc_l7_ctx *x = &l->ctx;
    x->f = f;
    x->lf = lf;
    x->now_ms = pkt->ts_ms;
    x->now_us = pkt->ts_ms * 1000 + pkt->ts_us;
    if (f->key.proto == 6)
        tcp_segment(x, pkt, dir);
    else
        deliver(x, dir, pkt->payload, pkt->payload_len);
    if (lf->detach)
        detach(l, f, lf);
}

/* A subscriber's flow (mobile.h), analysed or not: its counts go on. */
static inline void subscriber_counts(struct mc_l7 *l, struct mc_flow *f, const struct mc_pkt *pkt)
{
    struct l7_flow *lf;
    if ((f->key.tunnel == MC_TUNNEL_GTPU || l->mobile_watch) && f->ext && (lf = f->ext->l7_state) && lf->mf &&
        pkt->ts_ms >= lf->mf_next_ms && (!lf->mf_hold_gen || lf->mf_hold_gen != mc_agg_gen(l->agg)))
        lf->mf_next_ms = mc_mobile_flow_packet(l->mobile, l->lookups, f, lf->mf, pkt, l->agg, &lf->mf_hold_gen);
}

/* Every packet but a steady flow's: state, nDPI, attaching. */
static __attribute__((noinline)) void packet_slow(struct mc_l7 *l, struct mc_flow *f, const struct mc_pkt *pkt,
                                                  int dir)
{
    int l4 = l4_bit(f->key.proto);
    subscriber_counts(l, f, pkt);
    struct l7_flow *lf;
    if (!l4 || (f->state & MC_FLOW_F_L7_DONE) || (f->key.proto == 6 && !pkt->has_l4))
        return;
    lf = f->ext ? f->ext->l7_state : NULL;
    if (!lf) {
        /*
         * State only for flows that carry something: a flow of bare SYNs
         * (a scan, a flood, a refused port) costs its flow record alone,
         * and nDPI labels it by port when it ends as ndpiReader does.  A SYN
         * opens the state only towards an analyzer's port, whose stream must
         * start at the ISN to tell a lost first segment from a late one;
         * other streams start at their first data, as nDPI's own do mid-stream.
         */
        if (!pkt->payload_len && (!(pkt->tcp_flags & TH_SYN) || by_port(l, f, l4) < 0))
            return;
        if (!(lf = flow_state(l, f, 1)))
            return;
    }
    if (!lf->mf_checked) {
        lf->mf_checked = 1;
        if (mc_mobile_flow_wanted(l->mobile, pkt) && (lf->mf = calloc(1, sizeof(*lf->mf))))
            lf->mf_next_ms = mc_mobile_flow_packet(l->mobile, l->lookups, f, lf->mf, pkt, l->agg, &lf->mf_hold_gen);
    }
    if (!lf->dpi_done)
        run_dpi(l, lf, pkt);
    if (!lf->decided && (pkt->payload_len || lf->dpi_done))
        try_attach(l, f, lf, pkt, dir);
    if (!lf->a) {
        if (lf->decided && lf->dpi_done)
            f->state |= MC_FLOW_F_L7_DONE; /* classified, nothing attached: later packets cost one bit test */
        return;
    }
    if (lf->dpi_done)
        f->state |= MC_FLOW_F_L7_STEADY; /* every check above now passes for each later packet (detach clears it) */
    to_analyzer(l, f, lf, pkt, dir);
}

void mc_l7_packet(struct mc_l7 *l, struct mc_flow *f, const struct mc_pkt *pkt, int dir)
{
    if (!(f->state & MC_FLOW_F_L7_STEADY)) {
        packet_slow(l, f, pkt, dir);
        return;
    }
    /* a steady flow's packet (an RTP stream's, an HTTP download's): straight to its analyzer, in a small frame */
    subscriber_counts(l, f, pkt);
    if (f->key.proto == 6 && !pkt->has_l4)
        return; /* a fragment without its TCP header: no sequence number to place it by */
    to_analyzer(l, f, f->ext->l7_state, pkt, dir);
}

static void hook(void *ctx, struct mc_flow *f, const struct mc_pkt *pkt, int dir) { mc_l7_packet(ctx, f, pkt, dir); }

void mc_l7_attach(struct mc_l7 *l, struct mc_flow_table *t)
{
    mc_flow_set_packet_hook(t, hook, l);
    mc_flow_set_ext_release(t, release_flow, l);
}

/*
 * A TCP/UDP flow nDPI never saw (no payload and no SYN: the tail of a
 * connection, a bare ACK, fragments without ports): ndpiReader still labels
 * it by ports and addresses, so it is guessed the same way, in a state
 * without an nDPI flow (a continuation record may still attach an analyzer).
 */
static void guess_unseen(struct mc_l7 *l, struct mc_flow *f)
{
    if (!l->dpi || !l4_bit(f->key.proto))
        return;
    struct l7_flow *lf = flow_state(l, f, 0);
    if (!lf)
        return;
    uint16_t m, a;
    mc_l7_dpi_guess(l->dpi, &f->key, &m, &a);
    if (m || a)
        MC_CTR_INC(l7, dpi_guessed);
    else
        MC_CTR_INC(l7, dpi_undetected);
    lf->app_master = m;
    lf->app_id = a;
    mc_l7_dpi_name(l->dpi, m, a, lf->app_name, sizeof(lf->app_name));
}

void mc_l7_flow_end(struct mc_l7 *l, struct mc_flow *f)
{
    struct l7_flow *lf = f->ext ? f->ext->l7_state : NULL;
    if (!lf) {
        guess_unseen(l, f);
        return;
    }
    dpi_giveup(l, lf);
    /* a file's cloud answers may be a moment away: waited for (mc_lookup_settle) */
    if (lf->mf && mc_mobile_flow_end(l->mobile, l->lookups, f, lf->mf, l->agg) && mc_lookup_settle(l->lookups))
        mc_mobile_flow_end(l->mobile, l->lookups, f, lf->mf, l->agg);
    if (!lf->a)
        return;
    struct mc_l7_ctx *x = &l->ctx;
    x->f = f;
    x->lf = lf;
    x->now_ms = mc_flow_last_ms(f);
    x->now_us = x->now_ms * 1000;
    skip_hole(x, 0);
    skip_hole(x, 1);
    if (!lf->detach && lf->a->end)
        lf->a->end(x, lf->state); /* may give the flow up too */
    if (lf->detach)
        detach(l, f, lf);
}

/* ---- the stage's own flow elements -------------------------------------- */

static const struct l7_flow *lf_of(const struct mc_flow *f) { return f->ext ? f->ext->l7_state : NULL; }

/*
 * applicationId (RFC 6759): classification engine 20 (PANA-L7-PEN), our
 * enterprise number, then the 16-bit nDPI protocol (the app's when known,
 * else the master's): 1 + 4 + 2 bytes packed into the low 7 of 8.
 */
static void get_app_id(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct l7_flow *lf = lf_of(env->f);
    uint16_t id = lf ? (lf->app_id ? lf->app_id : lf->app_master) : 0;
    v->u = id ? ((uint64_t)20 << 48 | (uint64_t)MC_PEN_MC << 16 | id) : 0;
}

static void get_app_name(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct l7_flow *lf = lf_of(env->f);
    v->str = lf ? lf->app_name : "";
    v->str_len = lf ? strnlen(lf->app_name, sizeof(lf->app_name)) : 0;
}

static void get_l7_protocol(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct l7_flow *lf = lf_of(env->f);
    v->str = lf && lf->a ? lf->a->name : "";
    v->str_len = strlen(v->str);
}

static void get_tx_count(const struct mc_ie_env *env, struct mc_ie_val *v)
{
    const struct l7_flow *lf = lf_of(env->f);
    v->u = lf ? lf->tx_count : 0;
}

#define S MC_IE_T_STRING
#define U MC_IE_T_UNSIGNED
static const struct mc_ie l7_ies[] = {
    { "applicationId", 95, 0, 7, 7, U, 0, NULL, get_app_id,
      "nDPI protocol: engine 20 (PANA-L7-PEN) << 48 | PEN 32473 << 16 | nDPI id; 0 unknown", 0 },
    { "applicationName", 96, 0, MC_IE_VARLEN, 32, S, 0, NULL, get_app_name,
      "nDPI label as ndpiReader prints it (\"DNS\", \"TLS.Google\"); empty with --no-dpi", L7_NAME_LEN - 1 },
    { "l7Protocol", 100, MC_PEN_MC, MC_IE_VARLEN, 0, S, MC_IE_F_NOV9, NULL, get_l7_protocol,
      "analyzer attached to the flow (dns, http, mysql, tns, sip, rtp), empty when none", 16 },
    { "l7TransactionCount", 101, MC_PEN_MC, 4, 0, U, MC_IE_F_NOV9, NULL, get_tx_count,
      "transactions the analyzer emitted for the flow", 0 },
};
#undef S
#undef U

size_t mc_l7_n_ies(void)
{
    size_t n = sizeof(l7_ies) / sizeof(l7_ies[0]);
    for (size_t i = 0; i < mc_l7_n_analyzers; i++)
        n += mc_l7_analyzers[i]->n_fields;
    return n;
}

const struct mc_ie *mc_l7_ie(size_t i)
{
    size_t own = sizeof(l7_ies) / sizeof(l7_ies[0]);
    if (i < own)
        return &l7_ies[i];
    i -= own;
    for (size_t k = 0; k < mc_l7_n_analyzers; k++) {
        if (i < mc_l7_analyzers[k]->n_fields)
            return &mc_l7_analyzers[k]->fields[i];
        i -= mc_l7_analyzers[k]->n_fields;
    }
    return NULL;
}
