/* heap.h - how the probe's heap takes memory from the kernel, set at start. */
#ifndef MC_PROBE_HEAP_H
#define MC_PROBE_HEAP_H

/*
 * Called once the options are read, before anything is opened.  When
 * grows (the run is long enough for it to pay), and unless GLIBC_TUNABLES
 * already says what the operator wants of glibc.malloc.hugetlb or the
 * process runs in secure mode (file capabilities: glibc ignores tunables
 * then), adds glibc.malloc.hugetlb=1 to it and executes the program again
 * with the same arguments.  Then keeps big blocks and freed memory in the
 * heap (mallopt) unless the operator's tunables set those.  Returns 1 when
 * malloc now asks for huge pages (glibc.malloc.hugetlb=1 in effect), else 0.
 */
int mc_heap_setup(char **argv, int grows);

#endif
