/*
 * registry.c - every analyzer, one line each, in attach-priority order: when
 * two claim a flow by port or by payload, the first listed wins.
 */
#include "l7/l7.h"

const struct mc_l7_analyzer *const mc_l7_analyzers[] = {
    NULL, /* keeps the array non-empty; not counted */
};

const size_t mc_l7_n_analyzers = sizeof(mc_l7_analyzers) / sizeof(mc_l7_analyzers[0]) - 1;
