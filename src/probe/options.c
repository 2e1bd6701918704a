/*
 * options.c - every mcprobe option, in the nProbe/softflowd tradition: this
 * one table drives getopt_long, --help, the config file and the example
 * config (mcprobe --dump-config > docs/mcprobe.conf).
 */
#include "probe/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option strings outlive parsing: setters keep copies (mc_opt_keep), freed by mc_probe_conf_release. */

void mc_probe_conf_release(struct mc_probe_conf *conf)
{
    free(conf->sources);
    mc_opt_release_kept();
    mc_probe_conf_defaults(conf); /* nothing left pointing into the copies */
}

void mc_probe_conf_defaults(struct mc_probe_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    mc_capture_config_defaults(&conf->capture);
    mc_flow_config_defaults(&conf->flow);
    mc_export_config_defaults(&conf->export);
    mc_cloud_config_defaults(&conf->cloud);
    mc_l7_config_defaults(&conf->l7);
    mc_reasm_config_defaults(&conf->reasm);
    conf->stats_interval = 10;
    conf->cpu = -1;
}

#define CONF ((struct mc_probe_conf *)vconf)

static int set_interface(void *vconf, const char *arg, char *err, size_t errlen)
{
    /* "-i a.pcap,b.pcap" and repeated -i both list sources read in a row: as many as memory holds
     * (interfaces are capped when they are opened, see MC_PROBE_MAX_INTERFACES) */
    char *rest = mc_opt_keep(arg);
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest)) {
        if (CONF->n_sources == CONF->sources_cap) {
            int cap = CONF->sources_cap ? CONF->sources_cap * 2 : 16;
            const char **grown = realloc(CONF->sources, (size_t)cap * sizeof(*grown));
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            CONF->sources = grown;
            CONF->sources_cap = cap;
        }
        CONF->sources[CONF->n_sources++] = tok;
    }
    return 0;
}

static int set_filter(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->capture.bpf = mc_opt_keep(arg);
    return 0;
}

#define UINT_SETTER(fn, field, min, max, scale)                                   \
    static int fn(void *vconf, const char *arg, char *err, size_t errlen)         \
    {                                                                             \
        unsigned long long v;                                                     \
        if (mc_opt_uint(arg, (min), (max), &v) != 0) {                            \
            snprintf(err, errlen, "expected a whole number in [%llu, %llu]",      \
                     (unsigned long long)(min), (unsigned long long)(max));       \
            return -1;                                                            \
        }                                                                         \
        CONF->field = (__typeof__(CONF->field))(v * (scale));                     \
        return 0;                                                                 \
    }

UINT_SETTER(set_snaplen, capture.snaplen, 64, 262144, 1)
UINT_SETTER(set_buffer, capture.buffer_mb, 1, 4096, 1)
UINT_SETTER(set_idle, flow.idle_timeout_ms, 1, 86400, 1000)
UINT_SETTER(set_lifetime, flow.active_timeout_ms, 1, 86400, 1000)
UINT_SETTER(set_tcp_end, flow.tcp_end_timeout_ms, 0, 3600, 1000)
UINT_SETTER(set_max_flows, flow.max_flows, 1, 100000000, 1)
UINT_SETTER(set_reasm_timeout, reasm.timeout_ms, 1, 600, 1000)
UINT_SETTER(set_reasm_datagrams, reasm.max_datagrams, 1, 1000000, 1)
UINT_SETTER(set_reasm_memory, reasm.max_bytes, 128, 4194304, 1024)
UINT_SETTER(set_domain, export.domain_id, 0, 4294967295ull, 1)
UINT_SETTER(set_mtu, export.mtu, 576, 65000, 1)
UINT_SETTER(set_tpl_refresh, export.template_refresh_ms, 1, 86400, 1000)
UINT_SETTER(set_tpl_refresh_pkts, export.template_refresh_pkts, 1, 1000000, 1)
UINT_SETTER(set_pace, export.pace_pps, 0, 10000000, 1)
UINT_SETTER(set_stats, stats_interval, 0, 86400, 1)
UINT_SETTER(set_redis_db, cloud.conn.db, 0, 15, 1)
UINT_SETTER(set_cloud_ttl, cloud.ttl_ms, 1, 31536000, 1000)
UINT_SETTER(set_cloud_flush, cloud.flush_ms, 10, 60000, 1)
UINT_SETTER(set_cloud_heartbeat, cloud.heartbeat_ms, 1, 3600, 1000)
UINT_SETTER(set_cloud_max_keys, cloud.max_keys, 16, 100000000, 1)
UINT_SETTER(set_cloud_agg_max, cloud.agg_max_bytes, 1, 4096, 1u << 20)
UINT_SETTER(set_cpu, cpu, 0, 1023, 1)
UINT_SETTER(set_cloud_cpu, cloud.cpu, 0, 1023, 1)
UINT_SETTER(set_cloud_maxlen, cloud.stream_maxlen, 1, 100000000, 1)
UINT_SETTER(set_redis_connect_timeout, cloud.conn.connect_timeout_ms, 10, 600000, 1)
UINT_SETTER(set_redis_timeout, cloud.conn.command_timeout_ms, 10, 600000, 1)
UINT_SETTER(set_l7_max_buffer, l7.max_buffer, 4096, 16777216, 1)
UINT_SETTER(set_l7_max_text, l7.max_text, 16, 65535, 1)
UINT_SETTER(set_dpi_packets, l7.dpi_max_packets, 1, 1000, 1)
UINT_SETTER(set_voip_max_calls, l7.voip.max_calls, 1, 16777216, 1)
UINT_SETTER(set_voip_idle, l7.voip.idle_ms, 1, 86400, 1000)
UINT_SETTER(set_gtp_max_sessions, l7.mobile.max_sessions, 1, 67108864, 1)
UINT_SETTER(set_gtp_idle, l7.mobile.idle_ms, 1, 4000000, 1000)
UINT_SETTER(set_gtp_linger, l7.mobile.linger_ms, 0, 4000000, 1000)

static int set_voip_mos_alert(void *vconf, const char *arg, char *err, size_t errlen)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= 0 && v <= 5)) {
        snprintf(err, errlen, "expected a MOS in [0, 5] (0: no alert)");
        return -1;
    }
    CONF->l7.voip.mos_alert = v;
    return 0;
}

static int set_l7_log(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->l7.log_path = mc_opt_keep(arg);
    return 0;
}

static int set_l7_log_rotate(void *vconf, const char *arg, char *err, size_t errlen)
{
    return mc_rotate_parse(arg, &CONF->l7.log_rotate, err, errlen);
}

static int set_l7_only(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->l7.only = mc_opt_keep(arg);
    return 0;
}

static int set_no_dpi(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->l7.dpi = 0;
    return 0;
}

static int set_no_l7(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->l7_off = 1;
    return 0;
}

static int add_nodes(struct mc_probe_conf *conf, const char *arg, int cluster, char *err, size_t errlen)
{
    if (mc_cloud_conn_config_add_nodes(&conf->cloud.conn, mc_opt_keep(arg), cluster, err, errlen) != 0)
        return -1;
    conf->cloud_on = 1;
    return 0;
}

static int set_redis(void *vconf, const char *arg, char *err, size_t errlen)
{
    return add_nodes(CONF, arg, 0, err, errlen);
}

static int set_redis_cluster(void *vconf, const char *arg, char *err, size_t errlen)
{
    return add_nodes(CONF, arg, 1, err, errlen);
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

static int set_probe_id(void *vconf, const char *arg, char *err, size_t errlen)
{
    if (!*arg || strpbrk(arg, " \t\r\n")) {
        snprintf(err, errlen, "a probe id is one word");
        return -1;
    }
    CONF->cloud.probe_id = mc_opt_keep(arg);
    return 0;
}

static int set_local_networks(void *vconf, const char *arg, char *err, size_t errlen)
{
    char *rest = mc_opt_keep(arg);
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest)) {
        if (CONF->cloud.n_nets >= MC_CLOUD_MAX_NETS) {
            snprintf(err, errlen, "at most %d networks", MC_CLOUD_MAX_NETS);
            return -1;
        }
        if (mc_cidr_parse(tok, &CONF->cloud.nets[CONF->cloud.n_nets]) != 0) {
            snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 network (a.b.c.d/n, v6::/n)", tok);
            return -1;
        }
        CONF->cloud.n_nets++;
    }
    return 0;
}

static int set_no_lookups(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->cloud.lookups = 0;
    return 0;
}

static int set_locate(void *vconf, const char *arg, char *err, size_t errlen)
{
    if (CONF->n_locate >= 64) {
        snprintf(err, errlen, "at most 64 keys");
        return -1;
    }
    CONF->locate[CONF->n_locate++] = mc_opt_keep(arg);
    return 0;
}

static int set_no_promisc(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->capture.promisc = 0;
    return 0;
}

static int set_collector(void *vconf, const char *arg, char *err, size_t errlen)
{
    char *rest = mc_opt_keep(arg);
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest)) {
        if (CONF->export.n_collectors >= MC_EXPORT_MAX_COLLECTORS) {
            snprintf(err, errlen, "at most %d collectors", MC_EXPORT_MAX_COLLECTORS);
            return -1;
        }
        if (!strchr(tok, ':')) {
            snprintf(err, errlen, "expected HOST:PORT or [IPv6]:PORT");
            return -1;
        }
        CONF->export.collectors[CONF->export.n_collectors++] = tok;
    }
    return 0;
}

static int set_version(void *vconf, const char *arg, char *err, size_t errlen)
{
    unsigned long long v;
    if (mc_opt_uint(arg, 5, 10, &v) == 0 && (v == 5 || v == 9 || v == 10)) {
        CONF->export.version = (int)v;
        return 0;
    }
    snprintf(err, errlen, "expected 5, 9 or 10 (IPFIX)");
    return -1;
}

static int set_template(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->export.template_spec = mc_opt_keep(arg);
    return 0;
}

static int set_biflow(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->export.biflow = 1;
    return 0;
}

/* Uniflow records became the default; the option stays for old command lines and config files. */
static int set_uniflow(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->export.biflow = 0;
    return 0;
}

static int set_json(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->export.json_path = mc_opt_keep(arg);
    return 0;
}

static int set_json_rotate(void *vconf, const char *arg, char *err, size_t errlen)
{
    return mc_rotate_parse(arg, &CONF->export.json_rotate, err, errlen);
}

static int set_verbose(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (arg) {
        unsigned long long v;
        if (mc_opt_uint(arg, 0, 3, &v) != 0) {
            snprintf(err, errlen, "expected a level 0..3");
            return -1;
        }
        CONF->verbose = (int)v;
    } else {
        CONF->verbose++;
    }
    return 0;
}

static int set_quiet(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    CONF->quiet = 1;
    return 0;
}

static int set_counters(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->counters_path = mc_opt_keep(arg);
    return 0;
}

static int set_metrics(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    CONF->metrics = mc_opt_keep(arg);
    return 0;
}

static int set_user(void *vconf, const char *arg, char *err, size_t errlen)
{
    if (!*arg) {
        snprintf(err, errlen, "expected a user name");
        return -1;
    }
    CONF->user = mc_opt_keep(arg);
    return 0;
}

static int set_config(void *vconf, const char *arg, char *err, size_t errlen)
{
    (void)vconf, (void)arg, (void)err, (void)errlen;
    return 0; /* read by mc_opt_parse before the other options */
}

#define FLAG_SETTER(fn, field)                                                    \
    static int fn(void *vconf, const char *arg, char *err, size_t errlen)         \
    {                                                                             \
        (void)arg, (void)err, (void)errlen;                                       \
        CONF->field = 1;                                                          \
        return 0;                                                                 \
    }
FLAG_SETTER(set_help, help)
FLAG_SETTER(set_version_flag, version)
FLAG_SETTER(set_dump_config, dump_config)
FLAG_SETTER(set_list_fields, list_fields)
FLAG_SETTER(set_no_reasm, reasm_off)
FLAG_SETTER(set_syslog, syslog)

#define CAP "Capture"
#define FLOW "Flow cache"
#define EXP "Export"
#define GEN "General"
#define CLOUD "MicroCloud"
#define L7 "Application layer"

const struct mc_opt mc_probe_opts[] = {
    { "interface", 'i', "IFACE|FILE|DIR", NULL,
      "Capture from a network interface (e.g. eth0, lo) or read a pcap/pcapng file, or the pcap/pcapng files "
      "directly in a directory (in byte order of their names; other files and subdirectories are skipped). "
      "Several sources, given as repeated -i or comma-separated, are read in a row as one capture (any "
      "number; one that cannot be opened is skipped with a warning, counted in capture.sources_skipped, "
      "unless it is the only one); up to 64 interfaces are captured together. In file mode time is packet "
      "time, so results do not depend on read speed.",
      set_interface, 1, CAP },
    { "filter", 'f', "BPF", NULL, "Only meter packets matching this BPF filter expression (pcap-filter(7)).",
      set_filter, 0, CAP },
    { "snaplen", 's', "BYTES", "262144", "Live capture snapshot length.", set_snaplen, 0, CAP },
    { "no-promisc", 0, NULL, NULL, "Do not put the interface into promiscuous mode.", set_no_promisc, 0, CAP },
    { "buffer-size", 'B', "MIB", NULL, "Kernel capture buffer size in MiB (live capture).", set_buffer, 0, CAP },

    { "idle-timeout", 'd', "SECONDS", "30", "Export a flow after this long without packets.", set_idle, 0,
      FLOW },
    { "lifetime-timeout", 't', "SECONDS", "120",
      "Export a flow this long after its first packet even if still active (a new record continues it).",
      set_lifetime, 0, FLOW },
    { "tcp-end-timeout", 0, "SECONDS", "2",
      "After a TCP RST, or FIN in both directions, export the flow once it has been quiet this long.",
      set_tcp_end, 0, FLOW },
    { "max-flows", 'm', "N", "1048576",
      "Flow table capacity. When full, the least recently active flow is exported early "
      "(counter flow.evicted.table_full). Memory is about 128 bytes per flow held plus 4 per slot.",
      set_max_flows, 0, FLOW },
    { "no-reassembly", 0, NULL, NULL,
      "Do not reassemble IP fragments: a first fragment is metered on its own ports and later ones in its "
      "flow, and nothing inside a fragmented datagram (tunnels, application payload) is seen whole.",
      set_no_reasm, 0, FLOW },
    { "reassembly-timeout", 0, "SECONDS", "30",
      "Give up a fragmented datagram this long after its first fragment; its frames are then metered on "
      "what they show (decode.reasm.timeouts).", set_reasm_timeout, 0, FLOW },
    { "reassembly-max-datagrams", 0, "N", "4096",
      "Fragmented datagrams in progress; beyond, the oldest is given up (decode.reasm.evicted_datagrams).",
      set_reasm_datagrams, 0, FLOW },
    { "reassembly-max-memory", 0, "KIB", "8192",
      "Memory for fragments held; beyond, the oldest datagram is given up (decode.reasm.evicted_memory).",
      set_reasm_memory, 0, FLOW },

    { "collector", 'n', "HOST:PORT", NULL,
      "Send flow records over UDP to this collector (IPv6 as [addr]:port). Each collector receives every "
      "record.",
      set_collector, 1, EXP },
    { "export-version", 'V', "5|9|10", "10", "Export format: NetFlow v5, NetFlow v9 or IPFIX (10).", set_version,
      0, EXP },
    { "template", 'T', "FIELDS", NULL,
      "Fields to export, as IANA information element names separated by commas or spaces (e.g. "
      "\"sourceIPv4Address,destinationIPv4Address,octetDeltaCount\"); --list-fields shows them. Address "
      "elements are mapped to IPv4 or IPv6 per flow.",
      set_template, 0, EXP },
    { "biflow", 0, NULL, NULL,
      "IPFIX: export each flow as one RFC 5103 biflow record (forward elements plus reverse ones) instead "
      "of one record per direction. Collectors without RFC 5103 support (nfdump 1.7, for one) misread "
      "biflows; v5 and v9 records are always unidirectional. --json is one biflow object per flow in IPFIX "
      "either way.",
      set_biflow, 0, EXP },
    { "uniflow", 0, NULL, NULL,
      "One record per direction: the default since --biflow exists; kept for old command lines (cancels "
      "an earlier --biflow).",
      set_uniflow, 0, EXP },
    { "domain-id", 0, "N", "0", "IPFIX observation domain id / NetFlow v9 source id / v5 engine id.", set_domain,
      0, EXP },
    { "mtu", 0, "BYTES", "auto", "Largest export datagram payload. By default it is found per collector from the route's path MTU (less IP and UDP headers; at most 8972, 1400 when unknown); set it when a tunnel or firewall on the way lowers the MTU.", set_mtu, 0,
      EXP },
    { "template-refresh", 0, "SECONDS", "30", "Resend templates at least this often (RFC 7011 10.3.6).",
      set_tpl_refresh, 0, EXP },
    { "template-refresh-packets", 0, "N", "20", "Resend templates at least every N export packets.",
      set_tpl_refresh_pkts, 0, EXP },
    { "export-pps", 0, "N", "0",
      "Pace end-of-capture export bursts to at most N datagrams per second (0: no pacing), for collectors "
      "with small receive buffers.",
      set_pace, 0, EXP },
    { "json", 0, "PATH|-", NULL,
      "Also write one JSON object per exported record to PATH (- for standard output), keyed by the IANA "
      "names of the exported elements. In IPFIX the object is the flow's biflow record (with the reverse "
      "elements) with or without --biflow."
      " The file is truncated at start; SIGHUP reopens it by its name, appending (see SIGNALS in mcprobe(8)).",
      set_json, 0, EXP },
    { "json-rotate", 0, "INTERVAL|SIZE", NULL,
      "Rotate the --json file: at every multiple of INTERVAL (90s, 30m, 1h, 1d; 1h: on the hour UTC) of the "
      "probe clock (packet time when reading files), and/or once it holds SIZE bytes (500k, 100M, 1G; "
      "powers of 1024), e.g. \"1h,100M\". The file is renamed PATH.YYYYMMDDTHHMMSSZ (the boundary, or the "
      "time of the size rotation; .1, .2, ... added rather than replace a file) and PATH started again; "
      "records are never split or lost, an empty file is not rotated, and a failed rename keeps writing to "
      "the old file with a warning (export.json.rotations, export.json.rotate_errors).",
      set_json_rotate, 0, EXP },

    { "l7-log", 0, "PATH|-", NULL,
      "Write one JSON object per application transaction (a DNS query with its answer, an HTTP request with "
      "its response, a MySQL command with its result, ...) to PATH (- for standard output), appending; "
      "SIGHUP reopens it. Keys: protocol, the flow's 5-tuple as in --json, flowStartMilliseconds, "
      "transactionStartMilliseconds and the analyzer's elements (--list-fields).",
      set_l7_log, 0, L7 },
    { "l7-log-rotate", 0, "INTERVAL|SIZE", NULL,
      "Rotate the --l7-log file as --json-rotate does the --json file (checked every 100 ms of probe time, "
      "between packets: a file may pass SIZE by what was logged meanwhile; l7.log_rotations, "
      "l7.log_rotate_errors).",
      set_l7_log_rotate, 0, L7 },
    { "l7", 0, "NAME[,NAME...]", "all", "Analyzers that may attach to flows (dns, http, mysql, tns, sip; none: no "
      "analyzer, nDPI still classifies).", set_l7_only, 0, L7 },
    { "no-dpi", 0, NULL, NULL, "Do not classify flows with nDPI (applicationId and applicationName stay empty; "
      "analyzers attach by port and payload only).", set_no_dpi, 0, L7 },
    { "no-l7", 0, NULL, NULL, "No application-layer work at all: neither analyzers nor nDPI.", set_no_l7, 0, L7 },
    { "dpi-max-packets", 0, "N", "32", "Packets of a flow nDPI may look at before it must decide (its state "
      "is freed then).", set_dpi_packets, 0, L7 },
    { "l7-max-buffer", 0, "BYTES", "131072", "Bytes an analyzed flow may hold: each direction's out-of-order "
      "TCP segments and its partial message may each use a quarter (counted as l7.tcp.ooo_dropped and "
      "l7.buffer_exceeded beyond).", set_l7_max_buffer, 0, L7 },
    { "l7-max-text", 0, "BYTES", "1024", "Longest query text kept (mysqlQuery, oracleSql; each SIP value).", set_l7_max_text,
      0, L7 },
    { "voip-max-calls", 0, "N", "65536", "Calls (and REGISTERs awaiting their answer) the SIP analyzer follows at "
      "once; beyond, the least recently active one is ended (end_cause evicted) and counted (l7.voip.evicted). "
      "About 1.5 KiB each.", set_voip_max_calls, 0, L7 },
    { "voip-idle", 0, "SECONDS", "7200", "A call with no SIP message for this long is over: ended if it was "
      "answered, failed otherwise (end_cause timeout; RFC 4028's default session interval). A call challenged "
      "(401/407) waits as long for its authenticated INVITE.", set_voip_idle, 0, L7 },
    { "voip-mos-alert", 0, "MOS", "3.5", "A call's media stream whose estimated MOS (E-model, see the RTP "
      "analyzer) falls below this raises the event voip.call.quality, once per direction and call (0: never).",
      set_voip_mos_alert, 0, L7 },
    { "gtp-max-sessions", 0, "N", "1048576", "Mobile sessions (PDP contexts, PDN connections) learned from GTP-C "
      "held at once; beyond, the least recently active one ends (events.gtp.session.delete, reason evicted) and is "
      "counted (l7.mobile.sessions_evicted).  About 0.5 KiB each.", set_gtp_max_sessions, 0, L7 },
    { "gtp-idle", 0, "SECONDS", "86400", "A mobile session with neither a GTP-C message nor a GTP-U packet for this "
      "long is over (reason aged): its user.* keys are removed.", set_gtp_idle, 0, L7 },
    { "gtp-linger", 0, "SECONDS", "3600", "After a subscriber's last session ended, user.<imsi> keeps its identity "
      "and traffic counters this long, without its addresses (0: it is deleted at once).", set_gtp_linger, 0, L7 },

    { "redis", 0, "NODE[,NODE...]", NULL,
      "Write to (and read from) the MicroCloud: standalone Redis nodes given as host:port, [v6]:port or "
      "unix:/path. Keys are spread over the nodes by the consistent hash documented in docs/CLOUD.md; "
      "with one node everything goes there. A node that answers as a Redis Cluster node makes the probe "
      "use the cluster, as with --redis-cluster.",
      set_redis, 1, CLOUD },
    { "redis-cluster", 0, "HOST:PORT", NULL,
      "Use a Redis Cluster instead, found through this seed node: keys go to the master of their hash slot, "
      "MOVED and ASK redirections are followed.",
      set_redis_cluster, 1, CLOUD },
    { "redis-auth", 0, "[USER:]PASSWORD", NULL, "Authenticate to every node (AUTH; with USER, as that ACL user).",
      set_redis_auth, 0, CLOUD },
    { "redis-db", 0, "N", "0", "Database number on standalone nodes (SELECT).", set_redis_db, 0, CLOUD },
    { "redis-connect-timeout", 0, "MS", "1000", "Give up a connection attempt after this long (then retry with "
      "backoff).", set_redis_connect_timeout, 0, CLOUD },
    { "redis-timeout", 0, "MS", "2000", "A node that leaves a command unanswered this long gets no new commands "
      "until it answers; its updates wait, merged, in memory (a dead node is found by the connection itself).", set_redis_timeout, 0, CLOUD },
    { "cloud-prefix", 0, "STR", "\"\"", "Prefix of every key and channel the probe writes.", set_cloud_prefix, 0,
      CLOUD },
    { "cloud-ttl", 0, "SECONDS", "300", "Host keys (ip.<addr>) expire this long after their last update.",
      set_cloud_ttl, 0, CLOUD },
    { "cloud-flush-ms", 0, "MS", "500", "Send the aggregated host counters and analyzer aggregates this often "
      "(each key's merged updates once per flush).", set_cloud_flush, 0, CLOUD },
    { "cloud-heartbeat", 0, "SECONDS", "5", "Refresh the probe.<id> heartbeat this often (it expires after "
      "three).", set_cloud_heartbeat, 0, CLOUD },
    { "cloud-max-keys", 0, "N", "1000000", "Hosts whose updates may wait for Redis (a node down or slow, or "
      "behind the traffic); beyond, the oldest are dropped, counted (cloud.dropped.*) and reported. Not a bound per "
      "flush: more hosts go out in parts, and a capture file waits for a healthy Redis. About 100 bytes each, and "
      "up to 24 MiB in all for the hosts of the current flushes.", set_cloud_max_keys, 0,
      CLOUD },
    { "cloud-agg-max-bytes", 0, "MIB", "32", "Memory for the analyzers' aggregates held between flushes (and, "
      "while Redis is slow or down, waiting for it), per table; beyond, operations are refused and counted "
      "(cloud.agg.dropped.*).", set_cloud_agg_max, 0, CLOUD },
    { "cloud-events-maxlen", 0, "N", "100000", "Approximate length cap of the events stream.", set_cloud_maxlen,
      0, CLOUD },
    { "local-networks", 0, "CIDR[,CIDR...]", NULL, "Only hosts in these networks get ip.<addr> keys (default: "
      "every host).", set_local_networks, 1, CLOUD },
    { "probe-id", 0, "ID", "hostname:source", "This probe's name in the cloud (probe.<id>, events).",
      set_probe_id, 0, CLOUD },
    { "no-cloud-lookups", 0, NULL, NULL, "Do not read the cloud: no lookups of the users of flows' addresses "
      "(user.ip.<addr>), nor of the calls of media flows (voip.rtp.<addr>:<port>).",
      set_no_lookups, 0, CLOUD },
    { "cloud-locate", 0, "KEY", NULL, "Print where KEY lives for the --redis nodes given (node index and "
      "cluster slot) and exit.", set_locate, 1, CLOUD },
    { "cloud-cpu", 0, "CPU", NULL, "Run the cloud thread on this CPU only (default: any), e.g. away from the "
      "packet thread's.", set_cloud_cpu, 0, CLOUD },

    { "config", 'c', "FILE", NULL, "Read options from FILE first (see --dump-config for the format).",
      set_config, 0, GEN },
    { "cpu-affinity", 0, "CPU", NULL, "Run the packet thread (capture, decoding, flows, export) on this CPU "
      "only (default: any): a core of its own keeps its caches warm.", set_cpu, 0, GEN },
    { "verbose", 'v', NULL, NULL, "More output: -v adds debug messages and the full counter list at exit.",
      set_verbose, 1, GEN },
    { "quiet", 'q', NULL, NULL, "Only print errors, warnings and notices (a failed part working again).", set_quiet, 0, GEN },
    { "stats-interval", 0, "SECONDS", "10", "Print a statistics line this often (0: only at exit).", set_stats, 0,
      GEN },
    { "counters", 0, "PATH", NULL, "At exit, write every counter as \"name value\" lines to PATH (SIGUSR1 "
      "prints the statistics at any time).",
      set_counters, 0, GEN },
    { "metrics", 0, "ADDR:PORT", NULL,
      "Serve every counter in Prometheus text format over HTTP at http://ADDR:PORT/metrics (':PORT' or "
      "'PORT': every address). Counters are mcprobe_<name with dots as underscores>_total, refreshed every "
      "second; gauges mcprobe_flows_active, mcprobe_start_time_seconds.",
      set_metrics, 0, GEN },
    { "syslog", 0, NULL, NULL,
      "Send log lines to syslog (facility daemon, ident mcprobe, levels error, warning, notice, info, debug "
      "as LOG_ERR ... LOG_DEBUG) instead of standard error. Errors in the options themselves are still "
      "printed on standard error.",
      set_syslog, 0, GEN },
    { "user", 0, "NAME", NULL,
      "Started as root, switch to this user (its uid, group and supplementary groups, no capabilities "
      "left) once the captures are open and the sockets bound; refuse to run if the switch fails. Files "
      "opened later (--json and --l7-log reopened on SIGHUP, --counters at exit, capture files after the "
      "first) are opened as NAME.",
      set_user, 0, GEN },
    { "list-fields", 0, NULL, NULL, "List the information elements -T accepts and exit.", set_list_fields, 0,
      GEN },
    { "dump-config", 0, NULL, NULL, "Print an example configuration file documenting every option and exit.",
      set_dump_config, 0, GEN },
    { "version", 0, NULL, NULL, "Print the version and exit.", set_version_flag, 0, GEN },
    { "help", 'h', NULL, NULL, "Print this help and exit.", set_help, 0, GEN },
};
const size_t mc_probe_n_opts = sizeof(mc_probe_opts) / sizeof(mc_probe_opts[0]);
