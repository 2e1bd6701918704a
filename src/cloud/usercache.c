/* usercache.c - the user cache's memory (see usercache.h; its look-ups are inline). */
#include "cloud/usercache.h"

#include <stdlib.h>

int mc_usercache_init(struct mc_usercache *u)
{
    u->hot = aligned_alloc(64, MC_UC_SLOTS * sizeof(*u->hot)); /* a set per cache line */
    u->cold = calloc(MC_UC_SLOTS, sizeof(*u->cold));
    if (!u->hot || !u->cold) {
        mc_usercache_free(u);
        return -1;
    }
    memset(u->hot, 0, MC_UC_SLOTS * sizeof(*u->hot));
    return 0;
}

void mc_usercache_free(struct mc_usercache *u)
{
    free(u->hot);
    free(u->cold);
    u->hot = NULL;
    u->cold = NULL;
}
