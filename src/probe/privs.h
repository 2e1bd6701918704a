/*
 * privs.h - running as an unprivileged user (--user): the user is looked up
 * at start, and the probe switches to it once its captures are open.
 */
#ifndef MC_PROBE_PRIVS_H
#define MC_PROBE_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

struct mc_probe_user {
    char name[64];
    uid_t uid;
    gid_t gid;
};

/*
 * Looks up name (a user name or a numeric uid) and checks that the probe can
 * switch to it: it must run as root.  Returns 0, or -1 with err set (a
 * configuration error).
 */
int mc_probe_user_lookup(const char *name, struct mc_probe_user *u, char *err, size_t errlen);

/*
 * Becomes u for good in every thread: supplementary groups, gid, then uid,
 * and no capability left in any set.  Returns 0, or -1 with err set when any
 * step failed or root could be regained; the caller must then stop, still
 * privileged.
 */
int mc_probe_user_switch(const struct mc_probe_user *u, char *err, size_t errlen);

#endif
