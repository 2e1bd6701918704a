/*
 * counters.c - the registry of counter groups and helpers that walk it.
 *
 * Each stage's MC_CTR_DEFINE registers its group from a constructor, so this
 * file names no stage and common/ links none: a binary has the counters of
 * the stages it links, listed in pipeline order.
 */
#include "common/counters.h"

#include <string.h>

#define MAX_GROUPS 64

static const struct mc_ctr_group *groups[MAX_GROUPS + 1];
static size_t n_groups;

/* Pipeline order for the listings; stages not named here follow, by name. */
static int rank(const char *stage)
{
    static const char *const order[] = { "capture", "decode", "flow", "l7", "export", "cloud_conn", "cloud" };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (strcmp(order[i], stage) == 0 || (i == 3 && strncmp(stage, "l7_", 3) == 0)) /* analyzers after l7 */
            return (int)i;
    return (int)(sizeof(order) / sizeof(order[0]));
}

static int before(const struct mc_ctr_group *a, const struct mc_ctr_group *b)
{
    int ra = rank(a->stage), rb = rank(b->stage);
    return ra != rb ? ra < rb : strcmp(a->stage, b->stage) < 0;
}

void mc_ctr_register(const struct mc_ctr_group *g)
{
    if (n_groups >= MAX_GROUPS)
        return; /* a build with more stages than this is a bug the docs test catches */
    for (size_t i = 0; i < n_groups; i++)
        if (groups[i] == g)
            return;
    size_t i = n_groups++;
    while (i > 0 && before(g, groups[i - 1])) {
        groups[i] = groups[i - 1];
        i--;
    }
    groups[i] = g;
}

const struct mc_ctr_group *const *mc_ctr_groups(void) { return groups; }

const uint64_t *mc_ctr_find(const char *name)
{
    for (size_t g = 0; g < n_groups; g++)
        for (size_t i = 0; i < groups[g]->n; i++)
            if (strcmp(groups[g]->names[i], name) == 0)
                return &groups[g]->vals[i];
    return NULL;
}

void mc_ctr_dump(FILE *out, int all)
{
    for (size_t g = 0; g < n_groups; g++)
        for (size_t i = 0; i < groups[g]->n; i++)
            if (all || groups[g]->vals[i])
                fprintf(out, "%s %llu\n", groups[g]->names[i], (unsigned long long)groups[g]->vals[i]);
}

void mc_ctr_reset(void)
{
    for (size_t g = 0; g < n_groups; g++)
        if (groups[g]->n)
            memset(groups[g]->vals, 0, groups[g]->n * sizeof(uint64_t));
}
