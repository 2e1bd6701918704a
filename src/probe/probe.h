/* probe.h - mcprobe's configuration, filled from the option table in options.c. */
#ifndef MC_PROBE_PROBE_H
#define MC_PROBE_PROBE_H

#include <stddef.h>

#include "capture/capture.h"
#include "cloud/cloud.h"
#include "common/options.h"
#include "decode/reasm.h"
#include "export/exporter.h"
#include "flow/flow.h"
#include "l7/l7.h"

/* Interfaces captured together; files, read one after the other, have no cap. */
#define MC_PROBE_MAX_INTERFACES 64

struct mc_probe_conf {
    const char **sources;     /* -i, in order: the array is the conf's (mc_probe_conf_release), the strings kept */
    int n_sources, sources_cap;
    struct mc_capture_config capture;
    struct mc_flow_config flow;
    struct mc_export_config export;
    struct mc_cloud_config cloud;
    struct mc_l7_config l7;
    int l7_off;               /* --no-l7: neither analyzers nor nDPI */
    struct mc_reasm_config reasm;
    int reasm_off;            /* --no-reassembly: fragments metered one by one */
    int cloud_on;             /* --redis or --redis-cluster given */
    const char *locate[64];   /* --cloud-locate keys */
    int n_locate;
    int cpu;                  /* --cpu-affinity: the packet thread's CPU, -1: any */
    int verbose;              /* -v count */
    int quiet;
    unsigned stats_interval;  /* seconds between stats lines, 0: only at exit */
    const char *counters_path; /* file for the final counter dump */
    const char *metrics;      /* --metrics ADDR:PORT, NULL: no HTTP endpoint */
    int syslog;               /* --syslog: log lines to syslog (daemon), not stderr */
    const char *user;         /* --user NAME: switch to it once the captures are open */
    int help, version, dump_config, list_fields;
};

void mc_probe_conf_defaults(struct mc_probe_conf *conf);

/* Frees the option strings the setters kept (conf points into them) and resets conf: once, at exit. */
void mc_probe_conf_release(struct mc_probe_conf *conf);

extern const struct mc_opt mc_probe_opts[];
extern const size_t mc_probe_n_opts;

#endif
