/*
 * stage_harness.h - the L7 stage the analyzer tests run: one analyzer, no
 * nDPI, its transaction log in a file of /tmp named after the test, on a
 * small flow table whose exports go to record_harness.h's h_on_export.
 * Include after record_harness.h.
 */
#ifndef STAGE_HARNESS_H
#define STAGE_HARNESS_H

#include <stdio.h>
#include <unistd.h>

#include "flow/flow.h"
#include "l7/l7.h"

/* Sets h_an and h_l7 for the analyzer an[0]; log (cap bytes) gets the log's path.  0: the default. */
static struct mc_flow_table *h_stage_new(const struct mc_l7_analyzer *const *an, const char *name, uint32_t max_buffer,
                                         uint32_t max_text, uint32_t max_flows, char *log, size_t cap)
{
    h_an = an[0];
    h_n_rec = h_exported = 0;
    struct mc_l7_config cfg;
    mc_l7_config_defaults(&cfg);
    cfg.dpi = 0;
    cfg.analyzers = an;
    cfg.n_analyzers = 1;
    if (max_buffer)
        cfg.max_buffer = max_buffer;
    if (max_text)
        cfg.max_text = max_text;
    snprintf(log, cap, "/tmp/test_%s_%d.json", name, (int)getpid());
    unlink(log);
    cfg.log_path = log;
    char err[256];
    h_l7 = mc_l7_new(&cfg, err, sizeof(err));
    assert_non_null(h_l7);
    struct mc_flow_config fc;
    mc_flow_config_defaults(&fc);
    fc.max_flows = max_flows;
    struct mc_flow_table *t = mc_flow_table_new(&fc, h_on_export, NULL);
    assert_non_null(t);
    mc_l7_attach(h_l7, t);
    return t;
}

#endif
