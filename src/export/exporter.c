/*
 * exporter.c - the export stage's driver: builds templates, turns each flow
 * into one uniflow record per direction (or, with --biflow in IPFIX, one
 * biflow record), fills one packet buffer per
 * template (IPv4, IPv6) in the chosen dialect (ipfix.c, nf9.c, nf5.c),
 * sends full or aged packets through transport.c and mirrors every record
 * as a JSON line (json.c); in IPFIX the JSON line is the flow's biflow
 * record whatever the wire carries, so its consumers see one shape.
 *
 * Templates (IPFIX, v9) travel in the first packet of each template buffer
 * and again in the first packet started after template_refresh_ms of probe
 * time or template_refresh_pkts packets of that template.  Because a
 * template always leads the first packet carrying its data, a collector
 * never sees data before its template even though the two buffers leave in
 * any order.
 */
#include "export/internal.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

MC_CTR_DEFINE(export, MC_EXPORT_CTRS)

void mc_export_config_defaults(struct mc_export_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->version = 10;
    cfg->template_refresh_ms = 30000;
    cfg->template_refresh_pkts = 20;
    cfg->flush_ms = 1000;
    cfg->mtu = 0; /* auto: the path MTU to the collectors, see mc_export_transport_path_payload */
}

/* Largest record t can produce (strings at their longest). */
static size_t max_record_len(const struct mc_template *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->f[i].len == MC_IE_VARLEN ? 3 + mc_ie_max_len(t->f[i].ie) : t->f[i].len;
    return n;
}

void mc_exporter_set_sink(struct mc_exporter *e, void (*fn)(void *ctx, const uint8_t *pkt, size_t len),
                          void *ctx)
{
    e->tr.sink = fn;
    e->tr.sink_ctx = ctx;
}

struct mc_exporter *mc_exporter_new(const struct mc_export_config *cfg, char *err, size_t errlen)
{
    struct mc_template_spec spec;
    struct mc_exporter *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "exporter: out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->cfg.template_spec = NULL;
    e->cfg.json_path = NULL;
    for (int i = 0; i < MC_EXPORT_MAX_COLLECTORS; i++)
        e->cfg.collectors[i] = NULL;
    switch (cfg->version) {
    case 5: e->d = &mc_export_nf5; break;
    case 9: e->d = &mc_export_nf9; break;
    case 10: e->d = &mc_export_ipfix; break;
    default:
        snprintf(err, errlen, "export version %d: expected 5, 9 or 10", cfg->version);
        goto fail;
    }
    if (mc_export_transport_open(&e->tr, cfg->collectors, cfg->n_collectors, cfg->pace_pps, err, errlen) != 0)
        goto fail;
    struct mc_export_config effective = *cfg; /* cfg with the MTU resolved */
    if (effective.mtu == 0)
        effective.mtu = e->cfg.mtu = mc_export_transport_path_payload(&e->tr);
    cfg = &effective;
    if (cfg->mtu < MC_EXPORT_MTU_MIN || cfg->mtu > MC_EXPORT_MTU_MAX) {
        snprintf(err, errlen, "export MTU %u: expected %d..%d", cfg->mtu, MC_EXPORT_MTU_MIN, MC_EXPORT_MTU_MAX);
        goto fail;
    }
    if (cfg->n_collectors < 0 || cfg->n_collectors > MC_EXPORT_MAX_COLLECTORS) {
        snprintf(err, errlen, "at most %d collectors", MC_EXPORT_MAX_COLLECTORS);
        goto fail;
    }
    e->biflow = cfg->version == 10 && cfg->biflow;
    if (cfg->version == 5) {
        if (cfg->template_spec) {
            snprintf(err, errlen, "-T: NetFlow v5 has a fixed record format");
            goto fail;
        }
        mc_export_template_v5(&e->tmpl[0]);
        e->tmpl[1] = e->tmpl[0];
    } else {
        if (mc_export_template_parse(cfg->template_spec, &spec, err, errlen) != 0 ||
            (!cfg->template_spec && cfg->with_user &&
             (mc_export_template_add(&spec, "userName") != 0 || mc_export_template_add(&spec, "mobileIMSI") != 0 ||
              mc_export_template_add(&spec, "mobileMSISDN") != 0)) ||
            (!cfg->template_spec && cfg->with_app &&
             (mc_export_template_add(&spec, "applicationId") != 0 ||
              mc_export_template_add(&spec, "applicationName") != 0)) ||
            mc_export_template_build(&spec, cfg->version, e->biflow, 4, &e->tmpl[0], err, errlen) != 0 ||
            mc_export_template_build(&spec, cfg->version, e->biflow, 6, &e->tmpl[1], err, errlen) != 0)
            goto fail;
        if (cfg->version == 10 && cfg->json_path) {
            e->json_t = e->tmpl;
            if (!e->biflow) {
                if (mc_export_template_build(&spec, 10, 1, 4, &e->json_tmpl[0], err, errlen) != 0 ||
                    mc_export_template_build(&spec, 10, 1, 6, &e->json_tmpl[1], err, errlen) != 0)
                    goto fail;
                e->json_t = e->json_tmpl;
            }
        }
        for (int i = 0; i < 2; i++) {
            size_t need = 20 + 4 + mc_export_template_wire_len(&e->tmpl[i]) + 4 + max_record_len(&e->tmpl[i]) +
                          e->d->slack;
            if (need > cfg->mtu) {
                snprintf(err, errlen, "-T: a record with its template needs %zu bytes, more than the MTU %u",
                         need, cfg->mtu);
                goto fail;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        e->tmpl[i].max_len = max_record_len(&e->tmpl[i]);
        e->buf[i].t = &e->tmpl[i];
        e->buf[i].data = malloc(cfg->mtu);
        if (!e->buf[i].data) {
            snprintf(err, errlen, "exporter: out of memory");
            goto fail;
        }
    }
    int rotate = cfg->json_rotate.every_ms || cfg->json_rotate.max_bytes;
    if (rotate && (!cfg->json_path || strcmp(cfg->json_path, "-") == 0)) {
        snprintf(err, errlen, "--json-rotate needs --json to a file (not standard output)");
        goto fail;
    }
    if (cfg->json_path) {
        if (strcmp(cfg->json_path, "-") == 0) {
            e->json = stdout;
        } else {
            char why[256];
            e->json_file = mc_rotfile_open(cfg->json_path, 0, &cfg->json_rotate, why, sizeof(why));
            if (!e->json_file) {
                snprintf(err, errlen, "JSON output '%s': %s", cfg->json_path, why);
                goto fail;
            }
            e->json = mc_rotfile_stream(e->json_file);
            if (!(e->json_path = strdup(cfg->json_path))) {
                snprintf(err, errlen, "exporter: out of memory");
                goto fail;
            }
        }
    }
    return e;
fail:
    mc_export_transport_close(&e->tr);
    mc_rotfile_close(e->json_file);
    free(e->json_path);
    free(e->buf[0].data);
    free(e->buf[1].data);
    free(e);
    return NULL;
}

/* The sysUpTime origin: the first probe time seen, or the first flow's start if earlier. */
static void boot(struct mc_exporter *e, uint64_t now_ms, const struct mc_flow *f)
{
    if (e->booted)
        return;
    e->booted = 1;
    e->boot_ms = now_ms;
    if (f && f->first_ms < now_ms)
        e->boot_ms = f->first_ms;
    /* v9 headers stamp whole seconds (nf9.c): a boot on a whole second keeps
     * every sysUpTime they carry at or after it */
    if (e->cfg.version == 9)
        e->boot_ms -= e->boot_ms % 1000;
}

static int tmpl_due(const struct mc_exporter *e, const struct mc_export_buf *b, uint64_t now_ms)
{
    if (!b->tmpl_sent)
        return 1;
    if (e->cfg.template_refresh_ms && now_ms >= b->tmpl_ms + e->cfg.template_refresh_ms)
        return 1;
    return e->cfg.template_refresh_pkts && b->pkts_since_tmpl >= e->cfg.template_refresh_pkts;
}

static void start(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms, int with_tmpl)
{
    e->d->begin(e, b, with_tmpl);
    b->start_ms = now_ms;
    if (with_tmpl) {
        b->tmpl_sent = 1;
        b->tmpl_ms = now_ms;
        b->pkts_since_tmpl = 0;
    }
}

static void send_packet(struct mc_exporter *e, struct mc_export_buf *b, uint64_t now_ms)
{
    e->d->finish(e, b, now_ms);
    mc_export_transport_send(&e->tr, b->data, b->len);
    MC_CTR_INC(export, packets);
    MC_CTR_ADD(export, bytes, b->len);
    MC_CTR_ADD(export, templates, b->ntmpl);
    b->pkts_since_tmpl++;
    b->len = 0;
}

static void add_record(struct mc_exporter *e, const struct mc_flow *f, int dir, uint64_t now_ms)
{
    struct mc_ie_env env = { f, dir, e->biflow, e->boot_ms, e->cfg.ingress_if, e->cfg.egress_if };
    struct mc_export_buf *b = &e->buf[f->key.ip_ver == 6];
    if (e->json && !e->json_t)
        mc_export_json_record(e->json, b->t, &env);
    /* The exact size of a record with strings costs a pass over its values:
     * only needed when even the longest such record would not fit. */
    size_t rl;
    if (e->cfg.version == 5) {
        rl = e->d->rec_len(e, b, &env); /* fixed 48 bytes, padding included */
    } else {
        rl = b->t->fixed_len ? b->t->fixed_len : b->t->max_len;
        if (b->len && b->len + rl + e->d->slack > e->cfg.mtu)
            rl = e->d->rec_len(e, b, &env);
    }
    if (b->len && (b->len + rl + e->d->slack > e->cfg.mtu ||
                   (e->d->max_records && b->nrec >= e->d->max_records)))
        send_packet(e, b, now_ms);
    if (!b->len)
        start(e, b, now_ms, e->d->has_templates && tmpl_due(e, b, now_ms));
    e->d->rec_put(e, b, &env);
    MC_CTR_INC(export, records);
}

/* --json-rotate: between two records, on the probe clock (packet time for files: the same files every run). */
static void json_rotate(struct mc_exporter *e, uint64_t now_ms)
{
    char err[3 * 4096]; /* two paths and why */
    int rc = mc_rotfile_check(e->json_file, now_ms, err, sizeof(err));
    if (rc > 0) {
        MC_CTR_INC(export, json_rotations);
        if (*mc_rotfile_last_name(e->json_file))
            mc_info("JSON output rotated: %s", mc_rotfile_last_name(e->json_file));
        else
            mc_warn("JSON output '%s' had been renamed or removed by someone else: started again", e->json_path);
    } else if (rc < 0) {
        MC_CTR_INC(export, json_rotate_errors);
        mc_warn("JSON output rotation: %s", err);
    }
}

void mc_exporter_flow(struct mc_exporter *e, const struct mc_flow *f, uint64_t now_ms)
{
    boot(e, now_ms, f);
    if (e->json_file)
        json_rotate(e, now_ms);
    if (e->cfg.version == 5 && f->key.ip_ver == 6) {
        MC_CTR_INC(export, v5_skipped_ipv6);
        return;
    }
    if (e->json_t) {
        struct mc_ie_env env = { f, MC_FLOW_FWD, 1, e->boot_ms, e->cfg.ingress_if, e->cfg.egress_if };
        mc_export_json_record(e->json, &e->json_t[f->key.ip_ver == 6], &env);
    }
    if (e->biflow) {
        add_record(e, f, MC_FLOW_FWD, now_ms);
        return;
    }
    for (int dir = MC_FLOW_FWD; dir <= MC_FLOW_REV; dir++)
        if (f->pkts[dir])
            add_record(e, f, dir, now_ms);
}

void mc_exporter_tick(struct mc_exporter *e, uint64_t now_ms)
{
    boot(e, now_ms, NULL);
    if (e->json_file)
        json_rotate(e, now_ms); /* on time even when no record comes */
    for (int i = 0; i < 2; i++) {
        struct mc_export_buf *b = &e->buf[i];
        if (b->len && now_ms >= b->start_ms + e->cfg.flush_ms) {
            send_packet(e, b, now_ms);
        } else if (!b->len && e->d->has_templates && b->tmpl_sent && e->cfg.template_refresh_ms &&
                   now_ms >= b->tmpl_ms + e->cfg.template_refresh_ms) {
            /* idle exporter: keep the collector's template fresh (RFC 7011 8.4) */
            start(e, b, now_ms, 1);
            send_packet(e, b, now_ms);
        }
    }
    mc_export_transport_pump(&e->tr, 0);
}

void mc_exporter_flush(struct mc_exporter *e, uint64_t now_ms)
{
    boot(e, now_ms, NULL);
    for (int i = 0; i < 2; i++)
        if (e->buf[i].len)
            send_packet(e, &e->buf[i], now_ms);
    mc_export_transport_pump(&e->tr, 1);
    if (e->json && fflush(e->json) != 0)
        MC_CTR_INC(export, json_errors);
}

void mc_exporter_free(struct mc_exporter *e)
{
    if (!e)
        return;
    /* packets still buffered leave stamped with the time they were started */
    for (int i = 0; i < 2; i++)
        if (e->buf[i].len)
            send_packet(e, &e->buf[i], e->buf[i].start_ms);
    mc_export_transport_close(&e->tr);
    if (e->json_file && mc_rotfile_close(e->json_file) != 0)
        MC_CTR_INC(export, json_errors);
    else if (!e->json_file && e->json)
        fflush(e->json);
    free(e->json_path);
    free(e->buf[0].data);
    free(e->buf[1].data);
    free(e);
}

int mc_exporter_reopen(struct mc_exporter *e, char *err, size_t errlen)
{
    if (!e->json_file)
        return 0; /* no file, or standard output */
    char why[512];
    if (mc_rotfile_reopen(e->json_file, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "JSON output %s", why);
        return -1;
    }
    return 0;
}

void mc_exporter_list_fields(FILE *out)
{
    fprintf(out, "%-30s %-12s %-6s %s\n", "# name", "id", "length", "description");
    for (size_t i = 0, n = mc_export_n_all(); i < n; i++) {
        const struct mc_ie *ie = mc_export_ie_at(i);
        char id[24], len[8];
        if (ie->pen)
            snprintf(id, sizeof(id), "%u/%u", ie->pen, ie->id);
        else
            snprintf(id, sizeof(id), "%u", ie->id);
        if (ie->len == MC_IE_VARLEN)
            snprintf(len, sizeof(len), "var");
        else
            snprintf(len, sizeof(len), "%u", ie->len);
        fprintf(out, "%-30s %-12s %-6s %s\n", ie->name, id, len, ie->descr);
    }
}
