/* counters.c - the list of counter groups and helpers that walk it. */
#include "common/counters.h"

#include <string.h>

extern const struct mc_ctr_group mc_capture_ctr_group;
extern const struct mc_ctr_group mc_decode_ctr_group;
extern const struct mc_ctr_group mc_flow_ctr_group;
extern const struct mc_ctr_group mc_export_ctr_group;
extern const struct mc_ctr_group mc_l7_ctr_group;
extern const struct mc_ctr_group mc_cloud_conn_ctr_group;
extern const struct mc_ctr_group mc_cloud_ctr_group;

const struct mc_ctr_group *const mc_ctr_groups[] = {
    &mc_capture_ctr_group,
    &mc_decode_ctr_group,
    &mc_flow_ctr_group,
    &mc_l7_ctr_group,
    &mc_export_ctr_group,
    &mc_cloud_conn_ctr_group,
    &mc_cloud_ctr_group,
    NULL,
};

const uint64_t *mc_ctr_find(const char *name)
{
    for (size_t g = 0; mc_ctr_groups[g]; g++)
        for (size_t i = 0; i < mc_ctr_groups[g]->n; i++)
            if (strcmp(mc_ctr_groups[g]->names[i], name) == 0)
                return &mc_ctr_groups[g]->vals[i];
    return NULL;
}

void mc_ctr_dump(FILE *out, int all)
{
    for (size_t g = 0; mc_ctr_groups[g]; g++)
        for (size_t i = 0; i < mc_ctr_groups[g]->n; i++)
            if (all || mc_ctr_groups[g]->vals[i])
                fprintf(out, "%s %llu\n", mc_ctr_groups[g]->names[i],
                        (unsigned long long)mc_ctr_groups[g]->vals[i]);
}

void mc_ctr_reset(void)
{
    for (size_t g = 0; mc_ctr_groups[g]; g++)
        if (mc_ctr_groups[g]->n)
            memset(mc_ctr_groups[g]->vals, 0, mc_ctr_groups[g]->n * sizeof(uint64_t));
}
