/*
 * main.c - mccollector: NetFlow v5/v9, IPFIX (UDP and TCP) and sFlow in;
 * every flow stored (SQLite or ClickHouse) and written as JSON lines with
 * mcprobe's keys.
 *
 * One thread receives and decodes (input.c, the collector library); the
 * store writes its batches in its own thread, so a slow disk delays no
 * datagram.  Options records that carry a sampling interval are remembered
 * per (exporter, domain) and applied to that exporter's flows.  With a
 * cloud (--redis): flows are enriched from it (enrich.c, through cloud.c's
 * lookup thread), its events are written between the flows (cloud.c's
 * events thread), and --to-cloud feeds its host counters through the
 * probe's own writer.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/flow.h"
#include "collector/output.h"
#include "common/counters.h"
#include "cloud/cloud.h"
#include "cloud/hostagg.h"
#include "cloud/lookup.h"
#include "common/hostport.h"
#include "common/json.h"
#include "common/log.h"
#include "mccollector/mccollector.h"

#define MAX_SAMPLERS 1024 /* (exporter, domain) pairs whose options records told something */

struct sampler {
    struct mc_coll_src src;
    int version;
    uint32_t domain;
    struct mc_coll_exporter_info info;
    uint64_t logged_ms;       /* when a change of its interval was last logged */
};

#define SAMPLER_LOG_MS 60000 /* a sampler's interval changes are logged at most this often */

struct collector {
    struct mcc_conf conf;
    struct mc_coll *coll;
    struct mc_store *store;
    const struct mc_store_ops *store_ops;
    FILE *json;
    int json_owned;
    struct mcc_cloud *cloud;       /* NULL without --redis */
    struct mc_cloud *writer;       /* the probe's cloud writer: --to-cloud, else NULL */
    struct mc_cloud_config writer_cfg;
    struct mcc_enrich *enrich;     /* NULL without --redis */
    FILE *mem;                     /* a held flow's JSON is rendered here first */
    char *mem_buf;
    size_t mem_size;
    uint64_t now_ms;
    struct sampler samplers[MAX_SAMPLERS];
    int n_samplers;
    int16_t sampler_ix[2 * MAX_SAMPLERS]; /* open addressing over samplers: index + 1, 0 empty (a lookup per record) */
    uint64_t records, flows, last_records;
    double started, last_stats;
};

static volatile sig_atomic_t stop_requested, stats_requested, reopen_requested;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        stats_requested = 1;
    else if (sig == SIGHUP)
        reopen_requested = 1;
    else
        stop_requested = 1;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int same_src(const struct mc_coll_src *a, const struct mc_coll_src *b)
{
    return a->ver == b->ver && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

static uint32_t sampler_hash(const struct mc_coll_src *src, int version, uint32_t domain)
{
    uint64_t a, b;
    memcpy(&a, src->addr, 8);
    memcpy(&b, src->addr + 8, 8);
    uint64_t x = (a ^ ((uint64_t)src->port << 40 | (uint64_t)src->ver << 32 | domain)) * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 29) ^ b ^ (uint64_t)version << 56) * 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x >> 32);
}

/* Its slot in sampler_ix: the entry of (src, version, domain), or the empty slot it would take. */
static int16_t *sampler_slot(struct collector *c, const struct mc_coll_src *src, int version, uint32_t domain)
{
    uint32_t mask = 2 * MAX_SAMPLERS - 1;
    for (uint32_t h = sampler_hash(src, version, domain) & mask;; h = (h + 1) & mask) {
        int16_t *e = &c->sampler_ix[h];
        if (!*e)
            return e; /* never full: at most half the slots are used */
        const struct sampler *s = &c->samplers[*e - 1];
        if (s->version == version && s->domain == domain && same_src(&s->src, src))
            return e;
    }
}

static struct sampler *sampler_find(struct collector *c, const struct mc_coll_src *src, int version, uint32_t domain)
{
    int16_t *e = sampler_slot(c, src, version, domain);
    return *e ? &c->samplers[*e - 1] : NULL;
}

static void exporter_text(const struct mc_coll_src *src, char *buf, size_t len)
{
    struct mc_addr a;
    memcpy(a.b, src->addr, 16);
    mc_hostport_text(src->ver, &a, src->port, buf, len);
}

/*
 * An options record: a sampling interval (34, 50 or 305) and a system init
 * time (160, what IPFIX sysUpTime elements count from) are this exporter's
 * and domain's, for its later flows.
 */
static void learn_options(struct collector *c, const struct mc_coll_record *r)
{
    uint64_t interval = 0, init_ms = 0;
    for (size_t i = r->scope_count; i < r->n; i++) {
        const struct mc_coll_field *f = &r->f[i];
        if (f->pen == 0 && (f->id == 34 || f->id == 50 || f->id == 305))
            interval = mc_coll_field_u64(f);
        else if (f->pen == 0 && f->id == 160)
            init_ms = mc_coll_field_u64(f);
    }
    if ((interval == 0 || interval > 0xffffffffu) && !init_ms)
        return;
    int16_t *e = sampler_slot(c, r->exporter, r->version, r->domain);
    struct sampler *s = *e ? &c->samplers[*e - 1] : NULL;
    if (!s && c->n_samplers < MAX_SAMPLERS) {
        s = &c->samplers[c->n_samplers++];
        *s = (struct sampler){ .src = *r->exporter, .version = r->version, .domain = r->domain };
        *e = (int16_t)c->n_samplers;
    }
    if (!s)
        return;
    char who[64];
    if (interval && interval <= 0xffffffffu && s->info.sampling != (uint32_t)interval) {
        /* an exporter flapping between intervals (or a hostile one) must not make a log line per record */
        if (!s->logged_ms || c->now_ms - s->logged_ms >= SAMPLER_LOG_MS) {
            exporter_text(r->exporter, who, sizeof(who));
            mc_info("exporter %s domain %u: sampling 1 in %llu, applied to its flows", who, (unsigned)r->domain,
                    (unsigned long long)interval);
            s->logged_ms = c->now_ms;
        }
        s->info.sampling = (uint32_t)interval;
    }
    if (init_ms)
        s->info.init_ms = init_ms;
}

/* A flow's way out besides the JSON: the store, and the cloud's host counters (--to-cloud). */
static void deliver(struct collector *c, const struct mc_coll_flow *f)
{
    if (c->store)
        c->store_ops->add(c->store, f);
    if (c->writer && (f->ip_version == 4 || f->ip_version == 6)) {
        struct mc_addr a, b;
        memcpy(a.b, f->src, 16);
        memcpy(b.b, f->dst, 16);
        struct mc_hostagg_flow d = { .pkts = { f->packets, f->rev_packets },
                                     .bytes = { f->octets, f->rev_octets },
                                     .flows = 1, .first_seen = f->start_ms, .last_seen = f->end_ms };
        mc_cloud_add_traffic(c->writer, f->ip_version, &a, &b, &d);
    }
}

/* A held flow goes out: its JSON (rendered at arrival, up to its closing brace) with what the cloud added. */
static void emit_held(void *ctx, struct mc_coll_flow *f, const char *json, size_t len, int fields, unsigned added)
{
    struct collector *c = ctx;
    mcc_enrich_count(added);
    deliver(c, f);
    if (!c->json || !json)
        return;
    struct mc_coll_enrichment e;
    mcc_enrich_keys(f, added, &e);
    fwrite(json, 1, len, c->json);
    for (size_t i = 0; i < e.n; i++) {
        fprintf(c->json, "%s\"%s\":", fields || i ? "," : "", e.key[i]);
        mc_json_string(c->json, e.value[i], strlen(e.value[i]));
    }
    fputs("}\n", c->json);
}

/* With a cloud: the flow goes out now when its answers are known, else it waits (enrich.c). */
static void enrich_flow(struct collector *c, const struct mc_coll_record *r, const struct mc_coll_flow *f)
{
    struct mc_coll_flow g = *f;
    unsigned added;
    if (mcc_enrich_now(c->enrich, &g, &added) && !mcc_enrich_held(c->enrich)) {
        mcc_enrich_count(added);
        deliver(c, &g);
        if (c->json) {
            struct mc_coll_enrichment e;
            mcc_enrich_keys(&g, added, &e);
            mc_coll_json_record(c->json, r, &e);
        }
        return;
    }
    /* held (behind the others, to keep the order): its JSON now, while the record's fields exist */
    const char *json = NULL;
    size_t len = 0;
    if (c->json && c->mem) {
        fseeko(c->mem, 0, SEEK_SET);
        mc_coll_json_record(c->mem, r, NULL);
        fflush(c->mem);
        if (c->mem_size >= 2) {
            json = c->mem_buf;
            len = c->mem_size - 2; /* without "}\n" */
        }
    }
    if (mcc_enrich_hold(c->enrich, f, json, len, r->n > 0, c->now_ms) != 0) {
        mcc_enrich_release(c->enrich, c->now_ms, 1, emit_held, c); /* full: the older ones go first */
        g = *f;
        mcc_enrich_now(c->enrich, &g, &added);
        emit_held(c, &g, json, len, r->n > 0, added);
    }
}

/* A cloud event, between the flows: {"event": NAME, "channel": CHANNEL, "data": PAYLOAD}. */
static void write_event(struct collector *c, const char *channel, const char *payload, size_t len)
{
    if (!c->json)
        return;
    fputs("{\"event\":", c->json);
    const char *name = strncmp(channel, "events.", 7) == 0 ? channel + 7 : channel;
    mc_json_string(c->json, name, strlen(name));
    fputs(",\"channel\":", c->json);
    mc_json_string(c->json, channel, strlen(channel));
    fputs(",\"data\":", c->json);
    if (mc_json_valid(payload, len, 32)) {
        fwrite(payload, 1, len, c->json);
    } else {
        MC_CTR_INC(mcc_cloud, events_refused); /* not JSON: carried as a string, never spliced in */
        mc_json_string(c->json, payload, len);
    }
    fputs("}\n", c->json);
}

static void drain_events(struct collector *c)
{
    char *channel, *payload, id[32];
    size_t len;
    int acked = 0;
    char ids[64][32];
    while (mcc_cloud_next_event(c->cloud, &channel, &payload, &len, id, sizeof(id))) {
        write_event(c, channel, payload, len);
        MC_CTR_INC(mcc_cloud, events_written);
        free(channel);
        free(payload);
        if (id[0]) {
            memcpy(ids[acked++], id, sizeof(id));
            if (acked == 64) { /* acknowledged once written: the file is flushed first */
                if (c->json)
                    fflush(c->json);
                for (int i = 0; i < acked; i++)
                    mcc_cloud_ack(c->cloud, ids[i]);
                acked = 0;
            }
        }
    }
    if (acked && c->json)
        fflush(c->json);
    for (int i = 0; i < acked; i++)
        mcc_cloud_ack(c->cloud, ids[i]);
}

static void on_record(void *ctx, const struct mc_coll_record *r)
{
    struct collector *c = ctx;
    c->records++;
    if (r->options) {
        learn_options(c, r);
        return;
    }
    struct mc_coll_flow f;
    const struct sampler *s = c->n_samplers ? sampler_find(c, r->exporter, r->version, r->domain) : NULL;
    if (mc_coll_flow_from_record(&f, r, s ? &s->info : NULL, c->now_ms) != 0)
        return;
    c->flows++;
    if (c->enrich) {
        enrich_flow(c, r, &f);
        return;
    }
    deliver(c, &f);
    if (c->json)
        mc_coll_json_record(c->json, r, NULL);
}

static void on_message(void *ctx, int kind, const struct mc_coll_src *src, const uint8_t *p, size_t n)
{
    struct collector *c = ctx;
    if (kind == MCC_CLOSED) {
        mc_coll_forget(c->coll, src);
        return;
    }
    if (kind == MCC_SFLOW) {
        mc_coll_sflow(c->coll, src, p, n, c->now_ms);
        return;
    }
    int version = n >= 2 ? p[0] << 8 | p[1] : -1;
    if (version == 10)
        mc_coll_ipfix(c->coll, src, p, n, c->now_ms);
    else if (version == 9)
        mc_coll_nf9(c->coll, src, p, n, c->now_ms);
    else if (version == 5)
        mc_coll_nf5(c->coll, src, p, n, c->now_ms);
    else
        MC_CTR_INC(input, unknown_version);
}

static void print_streams(const struct collector *c)
{
    const struct mc_coll_stream *st;
    for (size_t i = 0; (st = mc_coll_stream_at(c->coll, i)) != NULL; i++) {
        char who[64];
        exporter_text(&st->src, who, sizeof(who));
        mc_info("  exporter %s v%d domain %u: datagrams %llu, records %llu, lost %llu, late %llu, "
                "malformed sets %llu, templates %u",
                who, st->version, (unsigned)st->domain, (unsigned long long)st->datagrams,
                (unsigned long long)st->records, (unsigned long long)st->lost,
                (unsigned long long)st->out_of_order, (unsigned long long)st->malformed_sets, st->templates);
    }
}

static void print_stats(struct collector *c, const char *what, double now)
{
    double dt = now - c->last_stats;
    size_t exporters = 0;
    while (mc_coll_stream_at(c->coll, exporters))
        exporters++;
    mc_info("%s: datagrams %llu (refused %llu), records %llu (%.0f/s), flows %llu, exporters %zu, lost %llu, "
            "templates %zu, held sets %zu; stored %llu, store dropped %llu, store errors %llu",
            what, (unsigned long long)MC_CTR_GET(input, datagrams),
            (unsigned long long)(MC_CTR_GET(input, refused) + MC_CTR_GET(input, tcp_refused)),
            (unsigned long long)c->records, dt > 0 ? (double)(c->records - c->last_records) / dt : 0.0,
            (unsigned long long)c->flows, exporters, (unsigned long long)MC_CTR_GET(collector, seq_lost),
            mc_coll_n_templates(c->coll), mc_coll_n_pending(c->coll), (unsigned long long)MC_CTR_GET(store, rows),
            (unsigned long long)MC_CTR_GET(store, dropped), (unsigned long long)MC_CTR_GET(store, errors));
    if (c->conf.verbose)
        print_streams(c);
    c->last_stats = now;
    c->last_records = c->records;
}

static int open_json(struct collector *c)
{
    if (!c->conf.json_path)
        return 0;
    if (strcmp(c->conf.json_path, "-") == 0) {
        c->json = stdout;
        return 0;
    }
    /* appended: a restarted collector adds to what it wrote before */
    FILE *f = fopen(c->conf.json_path, "a");
    if (!f) {
        mc_err("--json %s: %s", c->conf.json_path, strerror(errno));
        return -1;
    }
    c->json = f;
    c->json_owned = 1;
    return 0;
}

static void close_json(struct collector *c)
{
    if (c->json)
        fflush(c->json);
    if (c->json_owned)
        fclose(c->json);
    c->json = NULL;
    c->json_owned = 0;
}

/* The collector's own counter groups: the probe's stages it links (l7, cloud, flow) count nothing here,
 * except the decoder, which sFlow's sampled headers go through. */
static const char *const own_groups[] = { "input", "collector", "store", "decode", "enrich", "mcc_cloud",
                                          "cloud_conn", "cloud" };

static int write_counters(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        mc_err("%s: cannot write counters: %s", path, strerror(errno));
        return -1;
    }
    const struct mc_ctr_group *const *g = mc_ctr_groups();
    for (size_t k = 0; k < sizeof(own_groups) / sizeof(own_groups[0]); k++)
        for (size_t i = 0; g[i]; i++)
            if (strcmp(g[i]->stage, own_groups[k]) == 0)
                for (size_t j = 0; j < g[i]->n; j++)
                    /* of the probe's cloud groups, only the connections and the lookups are the collector's */
                    if ((strcmp(own_groups[k], "cloud") != 0 || strncmp(g[i]->names[j], "cloud.key_lookup", 16) == 0) &&
                        (strcmp(own_groups[k], "cloud_conn") != 0 || strncmp(g[i]->names[j], "cloud.conn.", 11) == 0))
                        fprintf(f, "%s %llu\n", g[i]->names[j], (unsigned long long)g[i]->vals[j]);
    return fclose(f);
}

static int start_cloud(struct collector *c)
{
    char err[512];
    struct mcc_conf *conf = &c->conf;
    if (!conf->cloud.conn.n_nodes) {
        if (conf->n_patterns || conf->consumer_group || conf->to_cloud) {
            mc_err("--subscribe, --consumer-group and --to-cloud need the cloud: --redis or --redis-cluster");
            return -1;
        }
        return 0;
    }
    static char host[256];
    if (!conf->consumer) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "mccollector");
        conf->consumer = host;
    }
    if ((conf->n_patterns || conf->consumer_group) && !c->json)
        mc_warn("events are written to the JSON output, and there is no --json: they are counted only");
    if (conf->n_patterns && conf->consumer_group)
        mc_warn("--consumer-group reads the events stream: --subscribe's patterns are not used");
    if (conf->to_cloud) {
        /* the routers' flows count on ip.<addr> as a probe's would: the collector writes as a probe named
         * mccollector:<host> (its heartbeat, probe.start and probe.stop say what it fed) */
        static char id[300];
        struct mc_cloud_config *w = &c->writer_cfg;
        mc_cloud_config_defaults(w);
        w->conn = conf->cloud.conn;
        w->prefix = conf->cloud.prefix;
        snprintf(id, sizeof(id), "mccollector:%s", conf->consumer);
        w->probe_id = id;
        w->source = "mccollector";
        w->lookups = 0; /* the collector's own lookups enrich */
        w->n_collectors = 0;
        c->writer = mc_cloud_start(w, err, sizeof(err));
        if (!c->writer) {
            mc_err("--to-cloud: %s", err);
            return -1;
        }
    }
    c->cloud = mcc_cloud_start(conf, err, sizeof(err));
    if (!c->cloud) {
        mc_err("%s", err);
        return -1;
    }
    c->enrich = mcc_enrich_new(mcc_cloud_lookups(c->cloud), conf->enrich_queue, conf->enrich_wait_ms);
    c->mem = open_memstream(&c->mem_buf, &c->mem_size);
    if (!c->enrich || !c->mem) {
        mc_err("out of memory");
        return -1;
    }
    mc_info("cloud: %d %s node(s); enriching flows (wait %u ms)%s%s", conf->cloud.conn.n_nodes,
            conf->cloud.conn.cluster ? "cluster seed" : "standalone", conf->enrich_wait_ms,
            conf->consumer_group ? "; events from the stream, group " : conf->n_patterns ? "; events subscribed" : "",
            conf->consumer_group ? conf->consumer_group : "");
    return 0;
}

static int run(struct collector *c)
{
    char err[512];
    struct mcc_input *in = mcc_input_open(&c->conf, on_message, c, err, sizeof(err));
    if (!in) {
        mc_err("%s", err);
        return 1;
    }
    char ports[160];
    int k = 0;
    if (c->conf.udp_port)
        k += snprintf(ports + k, sizeof(ports) - (size_t)k, " NetFlow/IPFIX UDP %d", c->conf.udp_port);
    if (c->conf.tcp_port)
        k += snprintf(ports + k, sizeof(ports) - (size_t)k, " IPFIX TCP %d", c->conf.tcp_port);
    if (c->conf.sflow_port)
        snprintf(ports + k, sizeof(ports) - (size_t)k, " sFlow UDP %d", c->conf.sflow_port);
    mc_info("listening on %s:%s", c->conf.bind[0] ? c->conf.bind : "every address", ports);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    double next_second = wall_now() + 1;
    c->started = c->last_stats = wall_now();
    while (!stop_requested) {
        c->now_ms = (uint64_t)(wall_now() * 1000);
        if (mcc_input_poll(in, c->cloud ? 10 : 100) < 0) {
            mc_err("waiting for input: %s", strerror(errno));
            break;
        }
        if (c->writer)
            mc_cloud_tick(c->writer, (uint64_t)(wall_now() * 1000)); /* a flush when due */
        if (c->cloud) {
            c->now_ms = (uint64_t)(wall_now() * 1000);
            mc_lookup_exchange(mcc_cloud_lookups(c->cloud), 0); /* questions out, answers in */
            mcc_enrich_release(c->enrich, c->now_ms, 0, emit_held, c);
            drain_events(c);
        }
        double now = wall_now();
        if (now >= next_second) {
            next_second = now + 1;
            c->now_ms = (uint64_t)(now * 1000);
            mc_coll_expire(c->coll, c->now_ms);
            if (c->store)
                c->store_ops->tick(c->store, c->now_ms);
            if (c->json)
                fflush(c->json);
            if (c->conf.stats_interval > 0 && now - c->last_stats >= c->conf.stats_interval)
                print_stats(c, "stats", now);
        }
        if (stats_requested) {
            stats_requested = 0;
            print_stats(c, "stats", now);
        }
        if (reopen_requested) {
            reopen_requested = 0;
            mc_info("SIGHUP: reopening %s", c->conf.json_path ? c->conf.json_path : "nothing");
            close_json(c);
            if (open_json(c) != 0)
                mc_warn("--json: no JSON output until it can be opened again (SIGHUP)");
        }
    }
    mc_info("stopping");
    mcc_input_close(in);
    if (c->cloud) { /* the held flows get the answers that can still come, then go out */
        double end = wall_now() + c->conf.enrich_wait_ms / 1000.0;
        while (mcc_enrich_held(c->enrich) && wall_now() < end) {
            mc_lookup_exchange(mcc_cloud_lookups(c->cloud), 1);
            mcc_enrich_release(c->enrich, (uint64_t)(wall_now() * 1000), 0, emit_held, c);
            usleep(5000);
        }
        mcc_enrich_release(c->enrich, (uint64_t)(wall_now() * 1000), 1, emit_held, c);
        drain_events(c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct collector c;
    char err[1024];
    mcc_conf_defaults(&c.conf);
    if (mc_opt_parse(mcc_opts, mcc_n_opts, &c.conf, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "mccollector: %s\nTry 'mccollector --help'.\n", err);
        mcc_conf_release(&c.conf);
        return 2;
    }
    if (c.conf.help) {
        mc_opt_help(stdout, "mccollector [OPTIONS]",
                    "Receives NetFlow v5, NetFlow v9, IPFIX (UDP and TCP) and sFlow v5 from routers and probes, "
                    "keeps every flow in an SQLite database or in ClickHouse (see mcquery flows) and writes them "
                    "as JSON lines with the keys mcprobe --json writes. The collector of MicroCloud (COLLECTOR.md).",
                    mcc_opts, mcc_n_opts);
        mcc_conf_release(&c.conf);
        return 0;
    }
    if (c.conf.version) {
        printf("mccollector %s\n", MC_VERSION);
        mcc_conf_release(&c.conf);
        return 0;
    }
    if (c.conf.dump_config) {
        mc_opt_write_config(stdout, "mccollector", mcc_opts, mcc_n_opts);
        mcc_conf_release(&c.conf);
        return 0;
    }
    if (c.conf.quiet)
        mc_log_level = MC_LOG_NOTICE;
    else if (c.conf.verbose)
        mc_log_level = MC_LOG_DEBUG;
    if (!c.conf.udp_port && !c.conf.tcp_port && !c.conf.sflow_port) {
        fprintf(stderr, "mccollector: no input: -p 0 and neither --ipfix-tcp nor --sflow\n");
        mcc_conf_release(&c.conf);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    c.coll = mc_coll_new(&c.conf.coll, on_record, &c);
    if (!c.coll) {
        fprintf(stderr, "mccollector: out of memory\n");
        mcc_conf_release(&c.conf);
        return 1;
    }
    if (!c.conf.no_store) {
        /* one store at a time: --clickhouse replaces the SQLite file */
        c.store_ops = c.conf.clickhouse ? &mc_store_clickhouse : &mc_store_sqlite;
        c.conf.store.spec = c.conf.clickhouse ? c.conf.clickhouse : c.conf.store_path;
        c.store = c.store_ops->open(&c.conf.store, err, sizeof(err));
        if (!c.store) {
            fprintf(stderr, "mccollector: %s\n", err);
            mc_coll_free(c.coll);
            mcc_conf_release(&c.conf);
            return 1;
        }
        if (c.conf.clickhouse) {
            struct mc_ch_url u;
            mc_ch_url_parse(c.conf.clickhouse, &u, err, sizeof(err));
            mc_info("store: ClickHouse %s, retention %llus", u.shown,
                    (unsigned long long)c.conf.store.retention_s);
        } else {
            mc_info("store: SQLite %s, retention %llus", c.conf.store_path,
                    (unsigned long long)c.conf.store.retention_s);
        }
    }
    if (open_json(&c) != 0) {
        rc = 1;
    } else if (start_cloud(&c) != 0) {
        rc = 1;
    } else {
        rc = run(&c);
    }
    mcc_cloud_stop(c.cloud); /* the last acknowledgements go out */
    if (c.writer) {
        mc_cloud_tick(c.writer, (uint64_t)(wall_now() * 1000) + c.writer_cfg.flush_ms); /* the last deltas */
        mc_cloud_stop(c.writer); /* waits (bounded) for them to be written */
    }
    mcc_enrich_free(c.enrich);
    if (c.mem)
        fclose(c.mem);
    free(c.mem_buf);
    close_json(&c);
    if (c.store)
        c.store_ops->close(c.store); /* the last batch is written: the exit line counts it */
    print_stats(&c, "exit", wall_now()); /* with -v, each exporter too */
    if (c.conf.counters_path && write_counters(c.conf.counters_path) != 0)
        rc = 1;
    mc_coll_free(c.coll);
    mcc_conf_release(&c.conf);
    return rc;
}
