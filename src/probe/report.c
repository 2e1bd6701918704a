/*
 * report.c - rates for the statistics line and the file progress line.  The
 * progress line is a terminal status line (mc_log_status): log lines printed
 * meanwhile scroll above it.
 */
#include "probe/report.h"

#include <stdio.h>
#include <sys/stat.h>

#include "common/log.h"

#define DRAW_EVERY 0.25 /* seconds between two progress lines */

/* v with three significant digits and an SI prefix before unit: "12.3 kpkt/s", "950 bit/s". */
static void si(char *buf, size_t len, double v, const char *unit)
{
    static const char *const prefix[] = { "", "k", "M", "G", "T", "P" };
    int i = 0;
    while (v >= 999.5 && i < 5) {
        v /= 1000.0;
        i++;
    }
    if (v == 0)
        snprintf(buf, len, "0 %s", unit);
    else
        snprintf(buf, len, "%.*f %s%s", v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2, v, prefix[i], unit);
}

void mc_rates_text(const struct mc_rate_mark *from, const struct mc_rate_mark *to, char *packets,
                   size_t packets_len, char *flows, size_t flows_len)
{
    double dt = to->t - from->t;
    double per = dt > 1e-6 ? 1.0 / dt : 0;
    char pps[32], bps[32], fps[32];
    si(pps, sizeof(pps), (double)(to->packets - from->packets) * per, "pkt/s");
    si(bps, sizeof(bps), (double)(to->bytes - from->bytes) * 8.0 * per, "bit/s");
    si(fps, sizeof(fps), (double)(to->flows - from->flows) * per, "flows/s");
    snprintf(packets, packets_len, " (%s, %s)", pps, bps);
    snprintf(flows, flows_len, " (%s)", fps);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* "1:02:03", "2:03" or, under a minute, "4.2 s" */
static void duration(char *buf, size_t len, double s)
{
    if (s >= 0 && s < 59.95) {
        snprintf(buf, len, "%.1f s", s);
        return;
    }
    unsigned long t = s > 0 && s < 360000000.0 ? (unsigned long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

static void draw(struct mc_progress *pr, uint64_t read, double now, int final)
{
    char size[32], rate[32], when[32], line[160];
    double elapsed = now - pr->started;
    double bps = elapsed > 1e-3 ? (double)read / elapsed : 0;
    si(size, sizeof(size), (double)pr->total, "B");
    si(rate, sizeof(rate), bps, "B/s");
    if (final) {
        duration(when, sizeof(when), elapsed);
        snprintf(line, sizeof(line), "read 100.0%% of %s in %s, %s", size, when, rate);
    } else {
        double pct = 100.0 * (double)read / (double)pr->total;
        if (bps > 0)
            duration(when, sizeof(when), (double)(pr->total - read) / bps);
        snprintf(line, sizeof(line), "reading %5.1f%% of %s, %s, %s left", pct > 99.9 ? 99.9 : pct, size, rate,
                 bps > 0 ? when : "?:??");
    }
    mc_log_status(line, final);
}

void mc_progress_start(struct mc_progress *pr, const char *const *sources, int n_sources, double now)
{
    pr->total = pr->done = pr->cur_size = 0;
    for (int i = 0; i < n_sources; i++)
        pr->total += file_size(sources[i]);
    pr->started = now;
    pr->next_draw = now + DRAW_EVERY;
    if (pr->total)
        draw(pr, 0, now, 0);
}

void mc_progress_next(struct mc_progress *pr, const char *source)
{
    pr->done += pr->cur_size;
    pr->cur_size = file_size(source);
}

void mc_progress_show(struct mc_progress *pr, uint64_t offset, double now)
{
    if (!pr->total || now < pr->next_draw)
        return;
    pr->next_draw = now + DRAW_EVERY;
    uint64_t read = pr->done + (offset < pr->cur_size ? offset : pr->cur_size);
    draw(pr, read < pr->total ? read : pr->total, now, 0);
}

void mc_progress_end(struct mc_progress *pr, double now, int complete)
{
    if (pr->total && complete)
        draw(pr, pr->total, now, 1);
    else if (pr->total)
        mc_log_status(NULL, 0); /* stopped early: the exit statistics say how far it got */
}
