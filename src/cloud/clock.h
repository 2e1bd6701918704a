/* clock.h - the cloud's wall clock (epoch ms): what its keys, events, caches and deadlines count in. */
#ifndef MC_CLOUD_CLOCK_H
#define MC_CLOUD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
