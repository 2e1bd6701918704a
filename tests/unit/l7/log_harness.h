/*
 * log_harness.h - the end of an analyzer test's stage and the transaction
 * log it wrote: every flow ended and flushed, the log read back, the stage
 * and the table freed, and the log's lines taken one by one.  Include after
 * cmocka.h.
 */
#ifndef LOG_HARNESS_H
#define LOG_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "l7/l7.h"

static char h_log[1 << 16]; /* the log's text, as h_stage_finish read it */

/* Ends every flow of t, reads the log at path into h_log, frees t and *l7 (set NULL); the log's line count. */
static int h_stage_finish(struct mc_l7 **l7, struct mc_flow_table *t, const char *path)
{
    mc_flow_flush_all(t, MC_END_FORCED);
    mc_l7_flush(*l7);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(h_log, 1, sizeof(h_log) - 1, f);
    fclose(f);
    h_log[n] = 0;
    mc_flow_table_free(t);
    mc_l7_free(*l7);
    *l7 = NULL;
    unlink(path);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += h_log[i] == '\n';
    return lines;
}

/* The k-th line (0-based) of h_log into out. */
static const char *h_log_line(int k, char *out, size_t cap)
{
    const char *p = h_log;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    size_t n = strcspn(p, "\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

#endif
