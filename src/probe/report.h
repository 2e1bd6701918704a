/*
 * report.h - what the operator reads while the probe runs: rates beside the
 * totals of the statistics line, and the progress of reading files on a
 * terminal (percent of bytes, rate, time left).
 */
#ifndef MC_PROBE_REPORT_H
#define MC_PROBE_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* The counts rates are made of, at one wall-clock moment. */
struct mc_rate_mark {
    double t;          /* wall clock, seconds */
    uint64_t packets;  /* capture.packets */
    uint64_t bytes;    /* capture.bytes (on the wire) */
    uint64_t flows;    /* flow.created */
};

/*
 * The rates from one mark to the next: packets into " (12.3 kpkt/s, 45.6
 * Mbit/s)" and flows into " (1.20 kflows/s)" (three significant digits, SI
 * prefixes; 0 when no time passed).
 */
void mc_rates_text(const struct mc_rate_mark *from, const struct mc_rate_mark *to, char *packets,
                   size_t packets_len, char *flows, size_t flows_len);

/* Reading files in a row: how far through all of them. */
struct mc_progress {
    uint64_t total;     /* bytes of every source that is a regular file; 0: nothing to show */
    uint64_t done;      /* bytes of the sources before the current one */
    uint64_t cur_size;  /* bytes of the current source (0: not a regular file) */
    double started;     /* wall clock of the start */
    double next_draw;   /* the line is drawn at most this often: a few times a second */
};

/* Sums the sizes of the sources (stat) and draws 0%; pr->total stays 0 when there is nothing to show. */
void mc_progress_start(struct mc_progress *pr, const char *const *sources, int n_sources, double now);

/* The next source starts (or is skipped): what came before counts as read. */
void mc_progress_next(struct mc_progress *pr, const char *source);

/* Redraws the line for offset bytes read of the current source, unless it was drawn very recently. */
void mc_progress_show(struct mc_progress *pr, uint64_t offset, double now);

/* The reading ended: when complete, draws the final line (100%, total time and rate) and leaves it in
 * place; when stopped early (a signal), erases the line. */
void mc_progress_end(struct mc_progress *pr, double now, int complete);

#endif
