/*
 * ctr_macros.h - builds a stage's counter enum, array and group from its
 * X-macro list.  Usage, in <stage>/counters.h:
 *     #define MC_FLOW_CTRS(X, S) X(S, created, "flow.created") ...
 *     MC_CTR_DECLARE(flow, MC_FLOW_CTRS)
 * and once in a .c file:  MC_CTR_DEFINE(flow, MC_FLOW_CTRS)
 * Then MC_CTR_INC(flow, created) counts one event.
 */
#ifndef MC_COMMON_CTR_MACROS_H
#define MC_COMMON_CTR_MACROS_H

#include "common/counters.h"

#define MC_CTR_ENUM_(s, id, name) MC_CTR_ID_##s##_##id,
#define MC_CTR_NAME_(s, id, name) name,

#define MC_CTR_DECLARE(stage, LIST)                                                            \
    enum mc_##stage##_ctr_id { LIST(MC_CTR_ENUM_, stage) MC_##stage##_CTR_COUNT };                    \
    extern uint64_t mc_##stage##_ctr[MC_##stage##_CTR_COUNT];                                  \
    extern const struct mc_ctr_group mc_##stage##_ctr_group;

#define MC_CTR_DEFINE(stage, LIST)                                                             \
    uint64_t mc_##stage##_ctr[MC_##stage##_CTR_COUNT];                                         \
    static const char *const mc_##stage##_ctr_names[] = { LIST(MC_CTR_NAME_, stage) };                \
    const struct mc_ctr_group mc_##stage##_ctr_group = {                                       \
        #stage, mc_##stage##_ctr_names, mc_##stage##_ctr, MC_##stage##_CTR_COUNT };                   \
    __attribute__((constructor)) static void mc_##stage##_ctr_register(void)                         \
    {                                                                                          \
        mc_ctr_register(&mc_##stage##_ctr_group);                                              \
    }

#define MC_CTR_INC(stage, id) (mc_##stage##_ctr[MC_CTR_ID_##stage##_##id]++)
#define MC_CTR_ADD(stage, id, v) (mc_##stage##_ctr[MC_CTR_ID_##stage##_##id] += (v))
#define MC_CTR_GET(stage, id) (mc_##stage##_ctr[MC_CTR_ID_##stage##_##id])

#endif
