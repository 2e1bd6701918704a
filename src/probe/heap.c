/*
 * heap.c - the heap in transparent huge pages, and kept.
 *
 * With the application layer on, the probe's heap grows by tens of MiB as
 * flows come (nDPI's flow state, transactions, sessions, calls), and every
 * 4 KiB page of it is a page fault the first time it is touched: 20,000
 * faults on the GTP bench capture, where a fault costs the VM ~10 us, a
 * fifth of the run.  glibc's malloc.hugetlb tunable makes malloc advise
 * transparent huge pages for what it maps (2 MiB a fault), but tunables are
 * read from the environment when the program starts, so the probe sets it
 * and executes itself again, before it has opened or read anything.  That
 * costs ~10 ms (the program loaded and linked twice): not done for files
 * too small to gain it back (main.c says).  The kernel decides (THP
 * "madvise" or "always": huge pages; "never": as before).  GLIBC_TUNABLES=glibc.malloc.hugetlb=0 keeps 4 KiB pages.
 *
 * The cloud thread builds each flush's commands and events in buffers of
 * hundreds of KiB that are freed once written.  glibc maps blocks that big
 * on their own and unmaps them when freed, and trims the heap's free top
 * past 128 KiB, so every flush faulted the same memory in again (10,000
 * faults on the same capture with a cloud).  Blocks up to 4 MiB stay in the
 * heap, and up to 16 MiB of free memory at its top is kept for the next
 * flush; both are the most the process holds beyond what it uses.
 */
#include "probe/heap.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"
#define MMAP_THRESHOLD (4 << 20)
#define TRIM_THRESHOLD (16 << 20)

static void reexec(char **argv)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if ((t && strstr(t, TUNABLE)) || getauxval(AT_SECURE))
        return; /* said already (by us before the exec, or by the operator), or tunables are ignored */
    char v[1024], old[1024];
    int n = t && *t ? snprintf(v, sizeof(v), "%s:" TUNABLE "=1", t) : snprintf(v, sizeof(v), TUNABLE "=1");
    if (n < 0 || (size_t)n >= sizeof(v))
        return;
    snprintf(old, sizeof(old), "%s", t ? t : ""); /* fits: shorter than v */
    if (setenv("GLIBC_TUNABLES", v, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* no /proc, or the exec failed: go on with 4 KiB pages, and say nothing of it to children */
    if (t)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
}

int mc_heap_setup(char **argv, int grows)
{
    if (grows)
        reexec(argv);
    const char *t = getenv("GLIBC_TUNABLES");
    int huge = t && strstr(t, TUNABLE "=1") && !getauxval(AT_SECURE);
    if (!t || !strstr(t, "glibc.malloc.mmap_threshold"))
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    if (!t || !strstr(t, "glibc.malloc.trim_threshold"))
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    return huge;
}
