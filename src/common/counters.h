/*
 * counters.h - named event counters, the probe's public statistics contract.
 *
 * Each stage declares its counters once in an X-macro list (name in the
 * enum, stable dotted name for humans and the cloud), owns one array of
 * uint64_t, and registers the group here (at load time, from a constructor
 * MC_CTR_DEFINE writes) so the stats line, --json stats and
 * the docs test can walk every counter.  The packet path is single-threaded:
 * increments are plain adds.
 */
#ifndef MC_COMMON_COUNTERS_H
#define MC_COMMON_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mc_ctr_group {
    const char *stage;              /* "decode", "flow", ... */
    const char *const *names;       /* dotted names, n entries */
    uint64_t *vals;                 /* borrowed: the stage's own array */
    size_t n;
};

/* Registers a group (MC_CTR_DEFINE does, from a constructor); kept in pipeline order. */
void mc_ctr_register(const struct mc_ctr_group *g);

/* Every registered group, in pipeline order; NULL-terminated. */
const struct mc_ctr_group *const *mc_ctr_groups(void);

/* Looks up a counter by dotted name; returns NULL when unknown. */
const uint64_t *mc_ctr_find(const char *name);

/* Writes every non-zero counter of every group as "name value" lines (all when all != 0). */
void mc_ctr_dump(FILE *out, int all);

/* Zeroes every counter (tests and fuzz replays). */
void mc_ctr_reset(void);

#endif
