/*
 * options.c - every mccollector option, in nfcapd's and mcprobe's tradition
 * (-p, -b, -c FILE): one table drives getopt_long, --help, the config file
 * and the example config (mccollector --dump-config).
 */
#include "mccollector/mccollector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option strings outlive parsing: setters keep copies (mc_opt_keep), freed by mcc_conf_release. */

void mcc_conf_defaults(struct mcc_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->bind = "";
    conf->udp_port = 2055;
    conf->rcvbuf = 8 << 20;
    conf->store_path = "flows.db";
    conf->store.retention_s = 7 * 86400;
    conf->store.batch = 0; /* the store's own: 10000 for SQLite, 100000 for ClickHouse */
    conf->store.max_queued = 1000000;
    mc_coll_config_defaults(&conf->coll);
    mc_cloud_conn_config_defaults(&conf->cloud.conn);
    conf->cloud.prefix = "";
    conf->enrich_wait_ms = 200;
    conf->enrich_queue = 200000;
    conf->stats_interval = 10;
}

void mcc_conf_release(struct mcc_conf *conf)
{
    mc_opt_release_kept();
    mcc_conf_defaults(conf);
}

#define CONF ((struct mcc_conf *)vconf)

static int port_of(const char *arg, int zero_ok, int *out, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, zero_ok ? 0 : 1, 65535, &v) != 0) {
        snprintf(err, errlen, "expected a port %d..65535", zero_ok ? 0 : 1);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_port(void *vconf, const char *arg, char *err, size_t errlen)
{
    return port_of(arg, 1, &CONF->udp_port, err, errlen);
}

static int set_tcp(void *vconf, const char *arg, char *err, size_t errlen)
{
    return port_of(arg, 1, &CONF->tcp_port, err, errlen);
}

static int set_sflow(void *vconf, const char *arg, char *err, size_t errlen)
{
    return port_of(arg, 1, &CONF->sflow_port, err, errlen);
}

static int set_bind(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->bind = mc_opt_keep(arg);
    return 0;
}

static int set_allow(void *vconf, const char *arg, char *err, size_t errlen)
{
    char *rest = mc_opt_keep(arg);
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest)) {
        if (CONF->n_allow >= MCC_MAX_ALLOW) {
            snprintf(err, errlen, "at most %d networks", MCC_MAX_ALLOW);
            return -1;
        }
        if (mc_cidr_parse(tok, &CONF->allow[CONF->n_allow]) != 0) {
            snprintf(err, errlen, "'%s' is not a network (ADDR or ADDR/BITS)", tok);
            return -1;
        }
        CONF->n_allow++;
    }
    return 0;
}

static int set_rcvbuf(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 65536, 1ull << 30, &v) != 0) {
        snprintf(err, errlen, "expected bytes 65536..1073741824");
        return -1;
    }
    CONF->rcvbuf = (int)v;
    return 0;
}

static int set_json(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->json_path = mc_opt_keep(arg);
    return 0;
}

static int set_store(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->store_path = mc_opt_keep(arg);
    CONF->no_store = 0;
    return 0;
}

static int set_clickhouse(void *vconf, const char *arg, char *err, size_t errlen)
{
    struct mc_ch_url u; /* a mistake is an option error, before anything starts */
    if (mc_ch_url_parse(arg, &u, err, errlen) != 0)
        return -1;
    CONF->clickhouse = mc_opt_keep(arg);
    return 0;
}

static int set_no_store(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->no_store = 1;
    return 0;
}

/* "7d", "12h", "30m", "90s" or plain seconds; 0 keeps everything. */
static int set_retention(void *vconf, const char *arg, char *err, size_t errlen)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    unsigned long long unit = 1;
    if (end == arg || arg[0] == '-') {
        snprintf(err, errlen, "expected a duration such as 7d, 12h, 30m or seconds");
        return -1;
    }
    switch (*end) {
    case 0: case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default:
        snprintf(err, errlen, "expected a duration such as 7d, 12h, 30m or seconds");
        return -1;
    }
    if (*end && end[1]) {
        snprintf(err, errlen, "expected a duration such as 7d, 12h, 30m or seconds");
        return -1;
    }
    CONF->store.retention_s = v * unit;
    return 0;
}

static int set_batch(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 1, 1000000, &v) != 0) {
        snprintf(err, errlen, "expected 1..1000000");
        return -1;
    }
    CONF->store.batch = (size_t)v;
    return 0;
}

static int set_queue(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 1000, 100000000, &v) != 0) {
        snprintf(err, errlen, "expected 1000..100000000");
        return -1;
    }
    CONF->store.max_queued = (size_t)v;
    return 0;
}

static int set_segment(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 1000, 100000000, &v) != 0) {
        snprintf(err, errlen, "expected 1000..100000000");
        return -1;
    }
    CONF->store.segment_rows = (size_t)v;
    return 0;
}

static int set_tmpl_timeout(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 0, 86400 * 7, &v) != 0) {
        snprintf(err, errlen, "expected seconds 0..604800");
        return -1;
    }
    CONF->coll.template_timeout_s = (uint32_t)v;
    return 0;
}

static int set_max_templates(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 16, 1000000, &v) != 0) {
        snprintf(err, errlen, "expected 16..1000000");
        return -1;
    }
    CONF->coll.max_templates = (size_t)v;
    return 0;
}

/* ---- the cloud ---- */

/* The comma-separated items of arg, kept, into out (at most max). */
static int split_into(const char *arg, const char **out, int *n, int max, const char *what, char *err, size_t errlen)
{
    char *rest = mc_opt_keep(arg);
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest)) {
        if (*n >= max) {
            snprintf(err, errlen, "at most %d %s", max, what);
            return -1;
        }
        out[(*n)++] = tok;
    }
    return 0;
}

static int set_redis(void *vconf, const char *arg, char *err, size_t errlen)
{
    return mc_cloud_conn_config_add_nodes(&CONF->cloud.conn, mc_opt_keep(arg), 0, err, errlen);
}

static int set_redis_cluster(void *vconf, const char *arg, char *err, size_t errlen)
{
    return mc_cloud_conn_config_add_nodes(&CONF->cloud.conn, mc_opt_keep(arg), 1, err, errlen);
}

static int set_redis_auth(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    mc_cloud_conn_config_auth(&CONF->cloud.conn, mc_opt_keep(arg));
    return 0;
}

static int set_cloud_prefix(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->cloud.prefix = mc_opt_keep(arg);
    return 0;
}

static int set_enrich_wait(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 0, 60000, &v) != 0) {
        snprintf(err, errlen, "expected milliseconds 0..60000");
        return -1;
    }
    CONF->enrich_wait_ms = (uint32_t)v;
    return 0;
}

static int set_enrich_queue(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 1, 10000000, &v) != 0) {
        snprintf(err, errlen, "expected 1..10000000");
        return -1;
    }
    CONF->enrich_queue = (size_t)v;
    return 0;
}

static int set_subscribe(void *vconf, const char *arg, char *err, size_t errlen)
{
    return split_into(arg, CONF->patterns, &CONF->n_patterns, MCC_MAX_PATTERNS, "patterns", err, errlen);
}

static int set_consumer_group(void *vconf, const char *arg, char *err, size_t errlen)
{
    if (!*arg || strpbrk(arg, " \t\r\n")) {
        snprintf(err, errlen, "a group name is one word");
        return -1;
    }
    CONF->consumer_group = mc_opt_keep(arg);
    return 0;
}

static int set_consumer(void *vconf, const char *arg, char *err, size_t errlen)
{
    if (!*arg || strpbrk(arg, " \t\r\n")) {
        snprintf(err, errlen, "a consumer name is one word");
        return -1;
    }
    CONF->consumer = mc_opt_keep(arg);
    return 0;
}

static int set_stats(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 0, 86400, &v) != 0) {
        snprintf(err, errlen, "expected seconds 0..86400");
        return -1;
    }
    CONF->stats_interval = (double)v;
    return 0;
}

static int set_counters(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->counters_path = mc_opt_keep(arg);
    return 0;
}

static int set_verbose(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->verbose++;
    return 0;
}

#define FLAG_SETTER(fn, field)                                                    \
    static int fn(void *vconf, const char *arg, char *err, size_t errlen)         \
    {                                                                             \
        (void)arg, (void)err, (void)errlen;                                       \
        CONF->field = 1;                                                          \
        return 0;                                                                 \
    }
FLAG_SETTER(set_quiet, quiet)
FLAG_SETTER(set_to_cloud, to_cloud)
FLAG_SETTER(set_help, help)
FLAG_SETTER(set_version_flag, version)
FLAG_SETTER(set_dump_config, dump_config)

static int set_config(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)vconf, (void)arg, (void)err, (void)errlen;
    return 0; /* read first by mc_opt_parse */
}

#define IN "Input"
#define OUT "Outputs"
#define CLOUD "The cloud"
#define GEN "General"

const struct mc_opt mcc_opts[] = {
    { "port", 'p', "PORT", "2055",
      "Receive NetFlow v5, NetFlow v9 and IPFIX over UDP on this port (the version is read from each "
      "datagram). 0: no UDP flow input.",
      set_port, 0, IN },
    { "ipfix-tcp", 0, "PORT", NULL, "Also accept IPFIX over TCP on this port (RFC 7011 10.4; 4739 is IANA's).",
      set_tcp, 0, IN },
    { "sflow", 0, "PORT", NULL, "Also receive sFlow v5 over UDP on this port (6343 is IANA's).", set_sflow, 0,
      IN },
    { "bind", 'b', "ADDR", NULL,
      "Listen on this IPv4 or IPv6 address only (default: every address, IPv6 and IPv4 on one socket).",
      set_bind, 0, IN },
    { "allow", 0, "CIDR,...", NULL,
      "Accept flows only from exporters in these networks (repeatable); others are counted "
      "(input.refused, input.tcp.refused) and dropped before decoding. Default: every exporter.",
      set_allow, 1, IN },
    { "rcvbuf", 0, "BYTES", "8388608",
      "Receive buffer asked for each UDP socket: bursts wait there while a batch is written.", set_rcvbuf, 0,
      IN },
    { "template-timeout", 0, "SECONDS", "1800",
      "Drop a UDP template not refreshed for this long (RFC 7011 8.4; 0: never).", set_tmpl_timeout, 0, IN },
    { "max-templates", 0, "N", "4096", "Templates held for all exporters; beyond, new ones are refused and counted.",
      set_max_templates, 0, IN },
    { "store", 0, "FILE", "flows.db",
      "Keep every flow in this SQLite database (created when missing; schema in COLLECTOR.md).", set_store, 0,
      OUT },
    { "clickhouse", 0, "URL", NULL,
      "Keep every flow in ClickHouse instead of the SQLite file: http://[USER[:PASSWORD]@]HOST[:PORT][/DB] "
      "(port 8123, database default unless given), table flows made when missing, or an existing "
      "Distributed one (COLLECTOR.md). While the server is down, flows wait in the queue (--store-queue).",
      set_clickhouse, 0, OUT },
    { "no-store", 0, NULL, NULL, "Keep no database (with --json, a pure relay).", set_no_store, 0, OUT },
    { "retention", 0, "DURATION", "7d",
      "Remove stored flows that ended longer ago than this (e.g. 7d, 12h, 30m; 0: keep all), checked every "
      "minute.",
      set_retention, 0, OUT },
    { "store-batch", 0, "N", NULL,
      "Flows written per transaction (SQLite, default 10000) or per INSERT (ClickHouse, default 100000).",
      set_batch, 0, OUT },
    { "store-queue", 0, "N", "1000000",
      "Flows held in memory when the store is slower than the input; beyond, dropped and counted "
      "(store.dropped).",
      set_queue, 0, OUT },
    { "store-segment", 0, "N", "131072",
      "SQLite: rows per segment table. A segment gets its address indexes when it is full, in one sorted "
      "build instead of one B-tree insert per row (COLLECTOR.md); the view flows reads them all.",
      set_segment, 0, OUT },
    { "json", 0, "PATH|-", NULL,
      "Write every flow record as a JSON line, with the keys and values mcprobe --json writes for the same "
      "elements ('-': standard output).",
      set_json, 0, OUT },
    { "redis", 0, "NODE[,NODE...]", NULL,
      "Read the MicroCloud on these standalone Redis nodes (host:port, [v6]:port, unix:/path; keys sharded over "
      "them as the probes shard them): every flow gets the user of either address (user.ip.<addr>), the "
      "subscriber of an IMSI user (user.<imsi>) and the call of an RTP endpoint (voip.rtp.<addr>:<port>) "
      "when the record lacks them.",
      set_redis, 1, CLOUD },
    { "redis-cluster", 0, "HOST:PORT", NULL, "Read a Redis Cluster instead, through these seed nodes.",
      set_redis_cluster, 1, CLOUD },
    { "redis-auth", 0, "[USER:]PASSWORD", NULL, "AUTH with this password (and ACL user).", set_redis_auth, 0, CLOUD },
    { "cloud-prefix", 0, "PREFIX", NULL, "The probes' --cloud-prefix: prepended to every key and channel read.",
      set_cloud_prefix, 0, CLOUD },
    { "enrich-wait", 0, "MS", "200",
      "A flow whose lookups are on their way waits for their answers at most this long (in arrival order), "
      "then goes out with what is known (enrich.unanswered).",
      set_enrich_wait, 0, CLOUD },
    { "enrich-queue", 0, "N", "200000",
      "Flows waiting for lookups at most; beyond, a flow goes out at once with what is known "
      "(enrich.queue_full).",
      set_enrich_queue, 0, CLOUD },
    { "subscribe", 0, "PATTERN,...", NULL,
      "Write the cloud's events whose channel matches (PSUBSCRIBE, e.g. events.voip.*) to the JSON output, "
      "between the flows, as {\"event\": NAME, \"channel\": CHANNEL, \"data\": PAYLOAD}.",
      set_subscribe, 1, CLOUD },
    { "consumer-group", 0, "NAME", NULL,
      "Read the events stream (XREADGROUP) as this consumer group instead of subscribing: events published while "
      "the collector was down are delivered when it returns; each is acknowledged once written.",
      set_consumer_group, 0, CLOUD },
    { "consumer", 0, "NAME", NULL, "This collector's name in the consumer group (default: the host name).",
      set_consumer, 0, CLOUD },
    { "to-cloud", 0, NULL, NULL,
      "Collected flows feed the cloud's per-host counters (ip.<addr>: packets and bytes each way, flows, "
      "first and last seen) as a probe's flows do, so routers and probes without a MicroCloud writer feed the "
      "real-time view; the collector writes them as the probe mccollector:<--consumer>.",
      set_to_cloud, 0, CLOUD },
    { "config", 'c', "FILE", NULL, "Read options from FILE first (see --dump-config for the format).", set_config,
      0, GEN },
    { "verbose", 'v', NULL, NULL, "More detail: -v adds debug lines and each exporter in the statistics.",
      set_verbose, 1, GEN },
    { "quiet", 'q', NULL, NULL, "Only print errors, warnings and notices.", set_quiet, 0, GEN },
    { "stats-interval", 0, "SECONDS", "10", "Print a statistics line this often (0: only at exit).", set_stats, 0,
      GEN },
    { "counters", 0, "PATH", NULL, "At exit, write every counter as \"name value\" lines to PATH.", set_counters,
      0, GEN },
    { "dump-config", 0, NULL, NULL, "Print an example configuration file documenting every option and exit.",
      set_dump_config, 0, GEN },
    { "version", 0, NULL, NULL, "Print the version and exit.", set_version_flag, 0, GEN },
    { "help", 'h', NULL, NULL, "Print this help and exit.", set_help, 0, GEN },
};
const size_t mcc_n_opts = sizeof(mcc_opts) / sizeof(mcc_opts[0]);
