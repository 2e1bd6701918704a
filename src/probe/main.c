/*
 * main.c - mcprobe: capture -> decode -> flow cache -> export.
 *
 * Files are read in a row on the packet clock; live interfaces run under a
 * libev loop (one io watcher per interface, a timer for expiry and stats,
 * signal watchers).  On SIGINT/SIGTERM or at the end of the input every flow
 * is exported and the export sockets are flushed; SIGHUP reopens the output
 * files (logrotate) and SIGUSR1 prints the statistics, both without stopping.
 * Signal handlers only set flags (libev's do the same); the packet thread acts.
 */
#include <ev.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/pcapfile.h"
#include "cloud/cloud.h"
#include "cloud/keyspace.h"
#include "common/counters.h"
#include "common/log.h"
#include "decode/counters.h"
#include "decode/decode.h"
#include "decode/reasm.h"
#include "export/exporter.h"
#include "flow/flow.h"
#include "l7/l7.h"
#include "probe/heap.h"
#include "probe/metrics.h"
#include "probe/privs.h"
#include "probe/probe.h"
#include "probe/report.h"
#include "probe/sources.h"

#define TICK_MS 100          /* flow expiry granularity on the probe clock */
#define TICK_EVERY_PKTS 1024 /* ... and at least this often in packets */

struct probe {
    struct mc_probe_conf conf;
    struct mc_flow_table *flows;   /* owned */
    struct mc_exporter *exporter;  /* owned */
    struct mc_cloud *cloud;        /* owned, NULL without --redis */
    struct mc_l7 *l7;              /* owned, NULL with --no-l7 */
    struct mc_reasm *reasm;        /* owned, NULL with --no-reassembly */
    struct mc_capture *live[MC_PROBE_MAX_INTERFACES]; /* owned, live mode */
    int n_live;
    struct mc_probe_files files;   /* file mode: the files to read, listed at start */
    int next_file;                 /* the next of files to open */
    struct mc_capture *first_file; /* owned: opened at start (open_sources), not read yet */
    int files_rc;                  /* 1 once a file could not be read */
    struct mc_capture *cur;        /* borrowed: source being read */
    uint32_t cur_ifindex;
    int cur_kept;                  /* its frames' bytes outlive the flow stage's pipeline (a mapped file) */
    uint64_t now_ms;               /* probe clock: packet time (files) or wall time (live) */
    uint64_t next_tick_ms;
    uint32_t since_tick;
    double next_stats;             /* wall clock of the next stats line */
    double started;
    struct ev_loop *loop;
    struct mc_metrics *metrics;    /* owned, NULL without --metrics; stopped by main() on every path */
    struct mc_probe_user user;     /* --user, looked up at start */
    struct mc_rate_mark first_mark, last_mark; /* at start, and at the last stats line: rates since */
    struct mc_progress progress;   /* files on a terminal */
    int show_progress;
};

static volatile sig_atomic_t stop_requested;   /* SIGINT, SIGTERM */
static volatile sig_atomic_t reopen_requested; /* SIGHUP */
static volatile sig_atomic_t stats_requested;  /* SIGUSR1 */
static struct probe *the_probe; /* for the file-mode signal handler only */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_flow_export(void *ctx, struct mc_flow *f)
{
    struct probe *p = ctx;
    if (p->l7)
        mc_l7_flow_end(p->l7, f); /* pending transactions, the final nDPI verdict */
    if (p->cloud)
        mc_cloud_flow_export(p->cloud, f); /* last deltas, and the user for the record */
    mc_exporter_flow(p->exporter, f, p->now_ms);
}

static void on_flow_prefetch(void *ctx, const struct mc_flow *f, uint32_t slot)
{
    struct probe *p = ctx;
    if (p->cloud)
        mc_cloud_flow_prefetch(p->cloud, f, slot);
}

/* Whether p[0 .. n) lies in the frame (not in the reassembler's buffer), compared as addresses. */
static int in_frame(const uint8_t *p, size_t n, const uint8_t *frame, size_t caplen)
{
    uintptr_t a = (uintptr_t)p, f = (uintptr_t)frame;
    return p && a >= f && a - f <= caplen && n <= caplen - (a - f);
}

/* Meters a datagram the reassembler gave up: one packet standing for its frames. */
static void on_reasm_release(void *ctx, const struct mc_pkt *held)
{
    struct probe *p = ctx;
    struct mc_pkt *pkt = mc_flow_next_pkt(p->flows);
    *pkt = *held;
    pkt->bytes_kept = 0; /* the reassembler's buffer is freed once it returns */
    mc_flow_submit(p->flows);
}

static void probe_tick(struct probe *p)
{
    if (p->reasm) {
        mc_reasm_expire(p->reasm, p->now_ms);
        mc_reasm_drain(p->reasm, on_reasm_release, p);
    }
    mc_flow_tick(p->flows, p->now_ms);
    mc_exporter_tick(p->exporter, p->now_ms);
    if (p->l7) {
        mc_l7_tick(p->l7, p->now_ms);
        if (p->n_live)
            mc_l7_flush(p->l7); /* live: transactions visible as they happen */
        mc_l7_rotate(p->l7, p->now_ms); /* between packets: no transaction is half written */
    }
    if (p->cloud) {
        mc_cloud_set_stats(p->cloud, MC_CTR_GET(capture, packets),
                           MC_CTR_GET(capture, kernel_drops) + MC_CTR_GET(capture, if_drops), mc_flow_active(p->flows),
                           MC_CTR_GET(flow, exported));
        mc_cloud_tick(p->cloud, (uint64_t)(wall_now() * 1000.0)); /* the cloud runs on wall time */
    }
    if (p->metrics) {
        struct mc_metrics_gauges g = { mc_flow_active(p->flows), p->started };
        mc_metrics_update(p->metrics, &g, wall_now(), 0);
    }
    p->next_tick_ms = p->now_ms + TICK_MS;
    p->since_tick = 0;
}

static void print_stats(struct probe *p, const char *when)
{
    if (p->cur && !mc_capture_is_file(p->cur))
        mc_capture_update_stats(p->cur);
    for (int i = 0; i < p->n_live; i++)
        mc_capture_update_stats(p->live[i]);
    /* rates over the interval since the previous line; at exit over the whole run */
    struct mc_rate_mark mark = { wall_now(), MC_CTR_GET(capture, packets), MC_CTR_GET(capture, bytes),
                                 MC_CTR_GET(flow, created) };
    char pkt_rates[96], flow_rates[48];
    mc_rates_text(strcmp(when, "exit") == 0 ? &p->first_mark : &p->last_mark, &mark, pkt_rates, sizeof(pkt_rates),
                  flow_rates, sizeof(flow_rates));
    p->last_mark = mark;
    mc_info("%s: packets %llu%s, drops kernel %llu interface %llu; decoded ip %llu, non-ip %llu, "
            "undecodable %llu; flows active %u, created %llu%s, exported %llu, evicted %llu; "
            "export records %llu, datagrams %llu",
            when, (unsigned long long)MC_CTR_GET(capture, packets), pkt_rates,
            (unsigned long long)MC_CTR_GET(capture, kernel_drops), (unsigned long long)MC_CTR_GET(capture, if_drops),
            (unsigned long long)MC_CTR_GET(decode, ip_frames), (unsigned long long)MC_CTR_GET(decode, nonip_frames),
            (unsigned long long)MC_CTR_GET(decode, bad_frames), mc_flow_active(p->flows),
            (unsigned long long)MC_CTR_GET(flow, created), flow_rates, (unsigned long long)MC_CTR_GET(flow, exported),
            (unsigned long long)MC_CTR_GET(flow, evicted_table_full), (unsigned long long)MC_CTR_GET(export, records),
            (unsigned long long)MC_CTR_GET(export, packets));
    if (p->cloud) {
        char line[512];
        mc_cloud_stats_line(p->cloud, line, sizeof(line));
        mc_info("%s: %s", when, line);
    }
}

/* One line naming every non-zero decode reason (non-IP kinds and malformations). */
static void print_reasons(void)
{
    char line[2048];
    size_t n = 0;
    line[0] = 0;
    for (size_t i = 0; i < mc_decode_ctr_group.n; i++) {
        const char *name = mc_decode_ctr_group.names[i];
        size_t len = strlen(name);
        uint64_t v = mc_decode_ctr_group.vals[i];
        if (!v || (len > 8 && strcmp(name + len - 8, ".packets") == 0) || (len > 7 && strcmp(name + len - 7, ".frames") == 0))
            continue;
        int w = snprintf(line + n, sizeof(line) - n, "%s%s %llu", n ? ", " : "", name, (unsigned long long)v);
        if (w < 0 || (size_t)w >= sizeof(line) - n)
            break;
        n += (size_t)w;
    }
    if (n)
        mc_info("decode reasons: %s", line);
}

static void maybe_stats(struct probe *p)
{
    if (!p->conf.stats_interval)
        return;
    double now = wall_now();
    if (now >= p->next_stats) {
        print_stats(p, "stats");
        p->next_stats = now + p->conf.stats_interval;
    }
}

static void on_frame(void *ctx, uint64_t ts_us, uint32_t caplen, uint32_t wirelen, int linktype,
                     const uint8_t *data)
{
    struct probe *p = ctx;
    /* decode straight into the flow table's pipeline slot: no copy */
    struct mc_pkt *pkt = mc_flow_next_pkt(p->flows);
    pkt->ts_ms = ts_us / 1000;
    pkt->ts_us = (uint16_t)(ts_us % 1000);
    pkt->caplen = caplen;
    pkt->wirelen = wirelen;
    pkt->linktype = linktype;
    pkt->ifindex = p->cur_ifindex;
    pkt->reasm = p->reasm;
    int r = mc_decode_packet(pkt, data, caplen);
    /* the flow stage copies the datagram unless it lies in a frame that outlives its pipeline */
    pkt->bytes_kept = (uint8_t)(p->cur_kept && in_frame(pkt->l3, pkt->l3_len, data, caplen) &&
                                (!pkt->payload_len || in_frame(pkt->payload, pkt->payload_len, data, caplen)));
    if (pkt->ts_ms > p->now_ms)
        p->now_ms = pkt->ts_ms;
    int touched = p->reasm && mc_reasm_touched(pkt); /* only fragments can make it give datagrams up */
    /* a fragment the reassembler keeps is metered with its datagram, later */
    if (r == MC_DECODED_IP && !pkt->held)
        mc_flow_submit(p->flows);
    if (touched)
        mc_reasm_drain(p->reasm, on_reasm_release, p); /* after this frame: packet order kept */
    /* a call event raised by this packet goes out now (live; mc_cloud_hurried is 0 reading files) */
    if (p->now_ms >= p->next_tick_ms || ++p->since_tick >= TICK_EVERY_PKTS || mc_cloud_hurried(p->cloud))
        probe_tick(p);
}

/*
 * The signals the probe handles are held (blocked) from start-up until its
 * loop is ready for them: one sent early waits instead of killing the probe,
 * and threads started meanwhile (the cloud's) inherit the mask, so only the
 * packet thread ever takes them.
 */
static void hold_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(how, &set, NULL);
}

/* SIGHUP: the output files start again under their names (logrotate renamed the old ones). */
static void reopen_outputs(struct probe *p)
{
    char err[512];
    mc_info("SIGHUP: reopening the output files");
    if (mc_exporter_reopen(p->exporter, err, sizeof(err)) != 0)
        mc_err("%s", err);
    if (p->l7)
        mc_l7_reopen(p->l7); /* logs its own error */
}

/* SIGUSR1: the statistics now, even under -q (they were asked for). */
static void stats_now(struct probe *p)
{
    int level = mc_log_level;
    if (mc_log_level < MC_LOG_INFO)
        mc_log_level = MC_LOG_INFO;
    print_stats(p, "stats");
    print_reasons();
    mc_log_level = level;
}

/* Acts, in the packet thread, on what the handlers asked for. */
static void serve_signals(struct probe *p)
{
    if (reopen_requested) {
        reopen_requested = 0;
        reopen_outputs(p);
    }
    if (stats_requested) {
        stats_requested = 0;
        stats_now(p);
    }
}

/* File mode: async-signal-safe, it only sets a flag and makes the read return (run_files acts). */
static void on_file_signal(int sig)
{
    if (sig == SIGHUP)
        reopen_requested = 1;
    else if (sig == SIGUSR1)
        stats_requested = 1;
    else
        stop_requested = 1;
    if (the_probe && the_probe->cur)
        mc_capture_break(the_probe->cur);
}

/* --user: the captures are open and the sockets bound; nothing left needs a privilege. */
static int switch_user(struct probe *p)
{
    char err[512];
    if (mc_probe_user_switch(&p->user, err, sizeof(err)) != 0) {
        mc_err("%s", err);
        return -1;
    }
    mc_info("running as user %s (uid %u, gid %u), without capabilities", p->user.name, (unsigned)p->user.uid,
            (unsigned)p->user.gid);
    return 0;
}

/* A file that cannot be opened: as before when it is the only one (an error, exit 1); among several,
 * skipped with a warning so that one bad file does not cost the rest of a directory. */
static void file_failed(const char *why, int n_files, int *rc)
{
    if (n_files == 1) {
        mc_err("%s", why);
        *rc = 1;
        return;
    }
    mc_warn("%s; skipped", why);
    MC_CTR_INC(capture, sources_skipped);
}

static int sources_are_files(const struct mc_probe_conf *conf)
{
    /* mc_capture_open decides per source; here the sources pick the mode (a missing file is a file) */
    return mc_probe_sources_are_files(conf->sources, conf->n_sources);
}

/* File mode: opens the next readable file of the list, or returns NULL when none is left; one that
 * cannot be read is reported (file_failed) and skipped. */
static struct mc_capture *open_next_file(struct probe *p)
{
    const struct mc_probe_files *files = &p->files;
    while (p->next_file < files->n && !stop_requested) {
        char err[768];
        const char *path = files->path[p->next_file++];
        if (p->show_progress)
            mc_progress_next(&p->progress, path);
        if (files->why[p->next_file - 1]) {
            snprintf(err, sizeof(err), "%s: %s", path, files->why[p->next_file - 1]);
            file_failed(err, files->n, &p->files_rc);
            continue;
        }
        struct mc_capture *c = mc_capture_open(path, &p->conf.capture, err, sizeof(err));
        if (!c) {
            file_failed(err, files->n, &p->files_rc);
            continue;
        }
        if (!mc_capture_is_file(c)) {
            mc_err("%s: an interface cannot be read in a row with files; run one mcprobe per kind", path);
            mc_capture_close(c);
            p->files_rc = 1;
            continue;
        }
        return c;
    }
    return NULL;
}

/* Reads the files in a row, the first opened already (open_sources); returns 0, or 1 when a file failed
 * (see file_failed). */
static int run_files(struct probe *p)
{
    int n_read = 0;
    struct mc_capture *c = p->first_file;
    p->first_file = NULL;
    for (; c && !stop_requested; c = open_next_file(p)) {
        const char *path = p->files.path[p->next_file - 1];
        p->cur = c;
        p->cur_ifindex = 0;
        p->cur_kept = mc_capture_kept_bytes(c) >= (MC_FLOW_PIPE + 1) * (size_t)(MC_PCAP_MAX_CAPLEN + 64);
        n_read++;
        mc_info("reading %s (link type %d)", path, mc_capture_linktype(c));
        for (;;) {
            int n = mc_capture_dispatch(c, 4096, on_frame, p);
            if (n == MC_CAPTURE_EOF || stop_requested)
                break;
            if (n == MC_CAPTURE_ERROR) {
                mc_err("%s", mc_capture_error(c));
                p->files_rc = 1;
                break;
            }
            serve_signals(p);
            maybe_stats(p);
            if (p->show_progress)
                mc_progress_show(&p->progress, mc_capture_file_offset(c), wall_now());
        }
        p->cur = NULL;
        p->cur_kept = 0;
        mc_flow_drain(p->flows); /* the pipeline may point into the file's mapping */
        mc_capture_close(c);
        serve_signals(p);
    }
    if (c) /* stopped with the next file open */
        mc_capture_close(c);
    if (p->show_progress)
        mc_progress_end(&p->progress, wall_now(), !stop_requested);
    if (!n_read && p->files.n > 1 && !stop_requested) {
        mc_err("none of the %d capture files could be read", p->files.n);
        p->files_rc = 1;
    }
    return p->files_rc;
}

/* Live mode: opens every interface; 0, or the exit code. */
static int open_interfaces(struct probe *p)
{
    if (p->conf.n_sources > MC_PROBE_MAX_INTERFACES) {
        mc_err("%d interfaces: at most %d are captured together", p->conf.n_sources, MC_PROBE_MAX_INTERFACES);
        return 2;
    }
    for (int i = 0; i < p->conf.n_sources; i++) {
        char err[1024]; /* a refused capture explains how to get the privileges */
        struct mc_capture *c = mc_capture_open(p->conf.sources[i], &p->conf.capture, err, sizeof(err));
        if (!c) {
            mc_err("%s", err);
            return 1;
        }
        if (mc_capture_is_file(c)) {
            mc_err("%s: a file cannot be captured together with interfaces", p->conf.sources[i]);
            mc_capture_close(c);
            return 1;
        }
        if (mc_decode_layer_for_dlt(mc_capture_linktype(c)) < 0) {
            mc_err("%s: unsupported link type %d", p->conf.sources[i], mc_capture_linktype(c));
            mc_capture_close(c);
            return 1;
        }
        p->live[p->n_live++] = c;
        mc_info("capturing on %s (link type %d)", p->conf.sources[i], mc_capture_linktype(c));
    }
    return 0;
}

/*
 * Opens what needs the privileges, then drops them (--user), before any
 * thread starts: the credentials change in a process of one thread, and no
 * thread (the metrics server's, the cloud's) ever runs as root.  Live: every
 * interface; files: the list, and its first readable file.  0, or the exit
 * code.
 */
static int open_sources(struct probe *p)
{
    if (!sources_are_files(&p->conf)) {
        int rc = open_interfaces(p);
        if (rc != 0)
            return rc;
    } else if (mc_probe_files_expand(&p->files, p->conf.sources, p->conf.n_sources) != 0) {
        mc_err("out of memory listing the capture files");
        return 1;
    } else if (p->files.n == 0) {
        mc_err("no capture file to read");
        return 1;
    } else {
        if (p->show_progress)
            mc_progress_start(&p->progress, (const char *const *)p->files.path, p->files.n, wall_now());
        p->first_file = open_next_file(p);
    }
    if (p->conf.user && (p->n_live || p->first_file) && switch_user(p) != 0)
        return 1;
    return 0;
}

static uint64_t wall_ms(void)
{
    return (uint64_t)(wall_now() * 1000.0);
}

static void on_live_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    struct probe *p = the_probe;
    p->cur = w->data;
    p->cur_ifindex = mc_capture_ifindex(p->cur);
    int n = mc_capture_dispatch(p->cur, 4096, on_frame, p);
    if (n == MC_CAPTURE_ERROR) {
        mc_err("%s", mc_capture_error(p->cur));
        ev_break(loop, EVBREAK_ALL);
    }
    p->cur = NULL;
    /* live: the batch's last packets wait for no later ones in the metering pipeline, so their analysis
     * (a call's INVITE) and the events it raises go out now, not at the next tick */
    mc_flow_drain(p->flows);
    if (mc_cloud_hurried(p->cloud))
        probe_tick(p);
}

static void on_live_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    struct probe *p = the_probe;
    uint64_t now = wall_ms();
    if (now > p->now_ms)
        p->now_ms = now;
    probe_tick(p);
    maybe_stats(p);
}

/* Live mode: the cloud flush runs on its own timer, on time, not at the next 100 ms tick. */
static void on_cloud_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    struct probe *p = the_probe;
    if (p->cloud)
        mc_cloud_tick(p->cloud, (uint64_t)(wall_now() * 1000.0));
}

/* libev runs this in the loop, not in the handler: it may do real work. */
static void on_live_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    if (w->signum == SIGHUP) {
        reopen_outputs(the_probe);
    } else if (w->signum == SIGUSR1) {
        stats_now(the_probe);
    } else {
        mc_info("signal %d: stopping", w->signum);
        ev_break(loop, EVBREAK_ALL);
    }
}

static int run_live(struct probe *p)
{
    ev_io io[MC_PROBE_MAX_INTERFACES];
    ev_timer timer;
    ev_signal sigs[4];
    static const int signums[4] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
    p->loop = ev_default_loop(EVFLAG_AUTO);
    p->now_ms = wall_ms();
    for (int i = 0; i < p->n_live; i++) {
        ev_io_init(&io[i], on_live_readable, mc_capture_fd(p->live[i]), EV_READ);
        io[i].data = p->live[i];
        ev_io_start(p->loop, &io[i]);
    }
    ev_timer_init(&timer, on_live_timer, TICK_MS / 1000.0, TICK_MS / 1000.0);
    ev_timer_start(p->loop, &timer);
    ev_timer cloud_timer;
    if (p->cloud) {
        double every = p->conf.cloud.flush_ms / 1000.0;
        ev_timer_init(&cloud_timer, on_cloud_timer, every, every);
        ev_timer_start(p->loop, &cloud_timer);
    }
    for (int i = 0; i < 4; i++) {
        ev_signal_init(&sigs[i], on_live_signal, signums[i]);
        ev_signal_start(p->loop, &sigs[i]);
    }
    hold_signals(SIG_UNBLOCK);
    ev_run(p->loop, 0);
    hold_signals(SIG_BLOCK); /* the final export is not interrupted; a signal now waits for the exit */
    for (int i = 0; i < 4; i++)
        ev_signal_stop(p->loop, &sigs[i]);
    /* drain what the kernel already holds before the final flush */
    for (int i = 0; i < p->n_live; i++) {
        p->cur = p->live[i];
        p->cur_ifindex = mc_capture_ifindex(p->cur);
        while (mc_capture_dispatch(p->cur, 4096, on_frame, p) > 0)
            ;
        mc_capture_update_stats(p->cur);
        p->cur = NULL;
    }
    return 0;
}

static int write_counters(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        mc_err("%s: cannot write counters", path);
        return -1;
    }
    mc_ctr_dump(f, 1);
    return fclose(f);
}

/*
 * Whether the heap is likely to grow by enough for huge pages to pay for
 * executing the program again (~10 ms): an interface or a directory may
 * run for days; files only when they hold HEAP_FILES_MIN bytes or more.
 */
#define HEAP_FILES_MIN ((off_t)64 << 20)
static int heap_grows(const struct mc_probe_conf *c)
{
    off_t total = 0;
    for (int i = 0; i < c->n_sources; i++) {
        struct stat st;
        if (stat(c->sources[i], &st) != 0 || !S_ISREG(st.st_mode))
            return 1;
        total += st.st_size;
    }
    return total >= HEAP_FILES_MIN;
}

/* The probe's whole run; *conf (its configuration) and *metrics (its server) are for main to release
 * whatever path returned. */
static int probe_main(int argc, char **argv, struct mc_probe_conf **conf, struct mc_metrics **metrics)
{
    static struct probe p;
    char err[1024];
    int rc;
    *conf = &p.conf;
    hold_signals(SIG_BLOCK); /* until the loop can act on them */
    mc_probe_conf_defaults(&p.conf);
    if (mc_opt_parse(mc_probe_opts, mc_probe_n_opts, &p.conf, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "mcprobe: %s\nTry 'mcprobe --help'.\n", err);
        return 2;
    }
    if (p.conf.help) {
        mc_opt_help(stdout, "mcprobe -i IFACE|FILE|DIR [-n HOST:PORT]... [options]",
                    "mcprobe meters packets from an interface or pcap files into bidirectional flows and exports "
                    "them as NetFlow v5, v9 or IPFIX records to collectors, and as JSON. It is the probe of "
                    "MicroCloud; see mcprobe(8) in docs/mcprobe.md.",
                    mc_probe_opts, mc_probe_n_opts);
        return 0;
    }
    if (p.conf.version) {
        printf("mcprobe %s\n", MC_VERSION);
        return 0;
    }
    if (p.conf.dump_config) {
        mc_opt_write_config(stdout, "mcprobe", mc_probe_opts, mc_probe_n_opts);
        return 0;
    }
    if (p.conf.list_fields) {
        mc_exporter_list_fields(stdout);
        return 0;
    }
    if (p.conf.n_locate) {
        int n = p.conf.cloud.conn.n_nodes && !p.conf.cloud.conn.cluster ? p.conf.cloud.conn.n_nodes : 1;
        for (int i = 0; i < p.conf.n_locate; i++) {
            const char *k = p.conf.locate[i];
            printf("%s %d %u\n", k, mc_cloud_node_for_key(k, strlen(k), n), mc_cloud_keyslot(k, strlen(k)));
        }
        return 0;
    }
    int grows = heap_grows(&p.conf);
    int huge = mc_heap_setup(argv, grows); /* may execute the program again: before anything is opened */
    mc_log_level = p.conf.quiet ? MC_LOG_NOTICE : (p.conf.verbose ? MC_LOG_DEBUG : MC_LOG_INFO);
    if (p.conf.syslog)
        mc_log_open_syslog("mcprobe");
    mc_debug("heap: %s", huge ? "transparent huge pages (glibc.malloc.hugetlb=1)"
                         : grows ? "4 KiB pages (GLIBC_TUNABLES says so, or tunables are ignored)"
                                 : "4 KiB pages (files of less than 64 MiB: too short a run for huge pages)");
    if (p.conf.n_sources == 0) {
        fprintf(stderr, "mcprobe: no capture source: give -i IFACE or -i FILE\nTry 'mcprobe --help'.\n");
        return 2;
    }
    if (p.conf.user && mc_probe_user_lookup(p.conf.user, &p.user, err, sizeof(err)) != 0) {
        fprintf(stderr, "mcprobe: %s\n", err);
        return 2;
    }
    if (p.conf.export.n_collectors == 0 && !p.conf.export.json_path)
        mc_warn("no collector (-n) and no --json: flows are metered and counted only");

    if (p.conf.metrics) {
        /* bound now, perhaps on a privileged port; served once the sources are open (open_sources) */
        p.metrics = *metrics = mc_metrics_listen(p.conf.metrics, err, sizeof(err));
        if (!p.metrics) {
            fprintf(stderr, "mcprobe: %s\n", err);
            return 2;
        }
        struct mc_metrics_gauges g = { 0, wall_now() };
        mc_metrics_update(p.metrics, &g, wall_now(), 1);
        mc_info("metrics: Prometheus text format at http://%s/metrics", p.conf.metrics);
    }
    p.conf.export.with_user = p.conf.cloud_on && p.conf.cloud.lookups;
    p.conf.export.with_app = !p.conf.l7_off && p.conf.l7.dpi;
    p.exporter = mc_exporter_new(&p.conf.export, err, sizeof(err));
    if (!p.exporter) {
        fprintf(stderr, "mcprobe: %s\n", err);
        return 2;
    }
    p.flows = mc_flow_table_new(&p.conf.flow, on_flow_export, &p);
    if (!p.flows) {
        fprintf(stderr, "mcprobe: cannot allocate a flow table of %u flows\n", p.conf.flow.max_flows);
        mc_exporter_free(p.exporter);
        return 2;
    }
    if (!p.conf.l7_off) {
        p.l7 = mc_l7_new(&p.conf.l7, err, sizeof(err));
        if (!p.l7) {
            fprintf(stderr, "mcprobe: %s\n", err);
            mc_flow_table_free(p.flows);
            mc_exporter_free(p.exporter);
            return 2;
        }
        mc_l7_attach(p.l7, p.flows);
    }
    p.show_progress = !p.conf.quiet && isatty(STDERR_FILENO); /* a person is watching */
    rc = open_sources(&p);
    if (rc != 0)
        return rc;
    /* the threads start now, with the signals held, as the user the probe runs as */
    if (p.metrics && mc_metrics_serve(p.metrics, err, sizeof(err)) != 0) {
        fprintf(stderr, "mcprobe: %s\n", err);
        return 2;
    }
    if (p.conf.cloud_on) {
        static char probe_id[400], source[256];
        char host[128] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(source, sizeof(source), "%s", p.conf.sources[0]);
        for (size_t n = strlen(source); n > 1 && source[n - 1] == '/';)
            source[--n] = 0; /* -i DIR/ names the probe after DIR */
        if (!p.conf.cloud.probe_id) {
            /* hostname:source, with the path reduced to its file name */
            const char *base = strrchr(source, '/');
            snprintf(probe_id, sizeof(probe_id), "%s:%s", host, base ? base + 1 : source);
            p.conf.cloud.probe_id = probe_id;
        }
        p.conf.cloud.source = source;
        p.conf.cloud.export_version = p.conf.export.version; /* for probe.start */
        p.conf.cloud.export_biflow = p.conf.export.biflow;
        p.conf.cloud.n_collectors = p.conf.export.n_collectors;
        p.conf.cloud.offline = sources_are_files(&p.conf); /* a file waits for a healthy cloud, never drops */
        p.cloud = mc_cloud_start(&p.conf.cloud, err, sizeof(err));
        if (!p.cloud || mc_cloud_attach(p.cloud, p.flows) != 0) {
            fprintf(stderr, "mcprobe: %s\n", p.cloud ? "cloud: cannot allocate per-flow state" : err);
            mc_cloud_stop(p.cloud);
            mc_l7_free(p.l7);
            mc_flow_table_free(p.flows);
            mc_exporter_free(p.exporter);
            return 2;
        }
        mc_flow_set_export_prefetch(p.flows, on_flow_prefetch);
        if (p.l7) {
            mc_l7_set_agg(p.l7, mc_cloud_agg(p.cloud)); /* analyzers' aggregates ride the cloud's flushes */
            mc_l7_set_lookups(p.l7, mc_cloud_lookups(p.cloud)); /* and read what other probes wrote */
            mc_l7_set_cloud(p.l7, p.cloud); /* subscribers learned from GTP-C go out as users */
        }
        mc_info("cloud: probe %s writing to %d %s node(s)", p.conf.cloud.probe_id, p.conf.cloud.conn.n_nodes,
                p.conf.cloud.conn.cluster ? "cluster seed" : "standalone");
    }
    /* after the cloud thread started: it keeps its own CPU (--cloud-cpu) or any */
    if (p.conf.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(p.conf.cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (e != 0) {
            fprintf(stderr, "mcprobe: --cpu-affinity %d: %s\n", p.conf.cpu, strerror(e));
            mc_cloud_stop(p.cloud);
            mc_flow_table_free(p.flows);
            mc_exporter_free(p.exporter);
            return 2;
        }
        mc_info("packet thread on CPU %d", p.conf.cpu);
    }
    if (!p.conf.reasm_off) {
        p.reasm = mc_reasm_new(&p.conf.reasm);
        if (!p.reasm) {
            fprintf(stderr, "mcprobe: cannot allocate the fragment reassembler\n");
            mc_cloud_stop(p.cloud);
            mc_flow_table_free(p.flows);
            mc_l7_free(p.l7);
            mc_exporter_free(p.exporter);
            return 2;
        }
    }
    the_probe = &p;
    p.started = wall_now();
    p.first_mark.t = p.last_mark.t = p.started;
    p.next_stats = p.started + p.conf.stats_interval;

    if (sources_are_files(&p.conf)) {
        /* A stop interrupts a read waiting on a pipe (-i /dev/stdin); SIGHUP and SIGUSR1 must not make
         * it fail, so it resumes, and they are acted on once it returns (at once for a file). */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_file_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGUSR1, &sa, NULL);
        hold_signals(SIG_UNBLOCK);
        rc = run_files(&p);
        hold_signals(SIG_BLOCK); /* the final export is not interrupted; a signal now waits for the exit */
    } else {
        rc = run_live(&p);
    }

    /* end of input or signal: every flow leaves, every datagram is sent */
    if (p.cloud && p.n_live == 0)
        mc_cloud_resolve_users(p.cloud, 5000); /* a file is read faster than lookups answer */
    if (p.reasm) { /* fragments still held are metered before their flows leave */
        mc_reasm_flush(p.reasm);
        mc_reasm_drain(p.reasm, on_reasm_release, &p);
    }
    mc_flow_flush_all(p.flows, MC_END_FORCED);
    mc_exporter_flush(p.exporter, p.now_ms);
    if (p.l7) {
        mc_l7_finish(p.l7);
        mc_l7_flush(p.l7);
    }
    if (p.cloud) {
        for (int i = 0; i < p.n_live; i++) /* the kernel's last drops, for probe.stop and the last heartbeat */
            mc_capture_update_stats(p.live[i]);
        mc_cloud_set_stats(p.cloud, MC_CTR_GET(capture, packets),
                           MC_CTR_GET(capture, kernel_drops) + MC_CTR_GET(capture, if_drops), 0,
                           MC_CTR_GET(flow, exported));
        mc_cloud_stop(p.cloud); /* waits (bounded) for the last writes */
        p.cloud = NULL;
    }
    print_stats(&p, "exit");
    if (p.conf.cloud_on) /* the cloud thread has stopped: its counters are final */
        mc_info("exit: cloud: keys written %llu, commands %llu, requeued %llu, dropped keys %llu packets %llu, "
                "unwritten at exit %llu, events %llu",
                (unsigned long long)MC_CTR_GET(cloud, keys_written), (unsigned long long)MC_CTR_GET(cloud, commands),
                (unsigned long long)MC_CTR_GET(cloud, requeued), (unsigned long long)MC_CTR_GET(cloud, dropped_keys),
                (unsigned long long)MC_CTR_GET(cloud, dropped_pkts),
                (unsigned long long)MC_CTR_GET(cloud, undrained_at_exit), (unsigned long long)MC_CTR_GET(cloud, events));
    print_reasons();
    if (p.conf.verbose)
        mc_ctr_dump(stderr, 0);
    if (p.conf.counters_path && write_counters(p.conf.counters_path) != 0)
        rc = 1;
    mc_flow_table_free(p.flows);
    mc_reasm_free(p.reasm);
    mc_l7_free_at_exit(p.l7);
    mc_exporter_free(p.exporter);
    for (int i = 0; i < p.n_live; i++)
        mc_capture_close(p.live[i]);
    mc_probe_files_free(&p.files);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    mc_debug("cpu user %.3fs sys %.3fs, peak rss %ld KiB", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
             ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    return rc;
}

int main(int argc, char **argv)
{
    struct mc_probe_conf *conf;
    struct mc_metrics *metrics = NULL;
    int rc = probe_main(argc, argv, &conf, &metrics);
    mc_metrics_stop(metrics); /* its thread stops last: it serves the counters until the exit */
    mc_probe_conf_release(conf); /* the option strings, on every exit path */
    mc_log_close();
    return rc;
}
