/*
 * privs.c - dropping root for --user.  setgroups/initgroups, setgid and
 * setuid in that order (once the uid is gone the others are refused); glibc
 * applies each to every thread of the process, so the cloud and metrics
 * threads started earlier drop with the packet thread.  Leaving uid 0 for a
 * non-zero uid clears the permitted, effective and ambient capability sets
 * (capabilities(7), "Effect of user ID changes"); the ambient set is cleared
 * again and the result checked rather than assumed.
 */
#include "probe/privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int mc_probe_user_lookup(const char *name, struct mc_probe_user *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        char *end;
        unsigned long id = strtoul(name, &end, 10);
        if (*name && !*end && id > 0 && id < 4294967295ul)
            pw = getpwuid((uid_t)id);
    }
    if (!pw) {
        snprintf(err, errlen, "--user %s: %s", name, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "--user %s: that is root; name an unprivileged user", name);
        return -1;
    }
    if (geteuid() != 0) {
        snprintf(err, errlen,
                 "--user %s: only root can switch users; run as root, or run unprivileged with "
                 "the capture capabilities instead (see mcprobe(8), PRIVILEGES)", name);
        return -1;
    }
    snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    return 0;
}

/* 1 when the calling thread holds any capability (capget(2), no libcap needed). */
static int holds_capabilities(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return 1; /* unknown: assume the worst */
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable)
            return 1;
    return 0;
}

int mc_probe_user_switch(const struct mc_probe_user *u, char *err, size_t errlen)
{
    const char *step = "initgroups";
    if (initgroups(u->name, u->gid) != 0)
        goto fail;
    step = "setgid";
    if (setresgid(u->gid, u->gid, u->gid) != 0)
        goto fail;
    step = "setuid";
    if (setresuid(u->uid, u->uid, u->uid) != 0)
        goto fail;
    /* ambient capabilities would survive an execve; none should be left, but make sure */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (setuid(0) == 0 || getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
        getegid() != u->gid) {
        snprintf(err, errlen, "--user %s: the switch did not hold (root can be regained); stopping", u->name);
        return -1;
    }
    if (holds_capabilities()) {
        snprintf(err, errlen, "--user %s: capabilities are left after the switch; stopping", u->name);
        return -1;
    }
    return 0;
fail:
    snprintf(err, errlen, "--user %s: %s: %s; stopping rather than run privileged", u->name, step, strerror(errno));
    return -1;
}
