/*
 * metrics.h - every counter in Prometheus text format over HTTP (--metrics).
 *
 * The HTTP side is Debian's libmicrohttpd, in its own thread.  It never reads
 * the counters the packet thread is adding to: the packet thread renders a
 * snapshot (mc_metrics_update, at most once a second) and the server hands
 * out the latest one, so a scrape costs the packet path nothing.
 */
#ifndef MC_PROBE_METRICS_H
#define MC_PROBE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct mc_metrics;

/* Values the probe knows beside the counters (they go up and down). */
struct mc_metrics_gauges {
    uint64_t flows_active;
    double start_time;  /* epoch seconds */
};

/*
 * Binds and listens on spec ("ADDR:PORT", "[v6]:PORT", ":PORT" or "PORT" for
 * every address), while the probe may still hold its privileges (a port
 * below 1024); nothing is served until mc_metrics_serve.  NULL with err set.
 */
struct mc_metrics *mc_metrics_listen(const char *spec, char *err, size_t errlen);

/* Starts the server's thread: after --user, so that no thread exists when the credentials change. */
int mc_metrics_serve(struct mc_metrics *m, char *err, size_t errlen);

/* Renders a new snapshot when the last one is older than a second (or force). Packet thread only. */
void mc_metrics_update(struct mc_metrics *m, const struct mc_metrics_gauges *g, double now, int force);

/* Stops the server and frees everything. NULL is fine. */
void mc_metrics_stop(struct mc_metrics *m);

/* The snapshot text itself (tests): counters then gauges, Prometheus text format 0.0.4. */
char *mc_metrics_render(const struct mc_metrics_gauges *g, size_t *len);

#endif
