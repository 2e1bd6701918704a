/*
 * bigmem.h - zeroed memory for big arrays indexed at random.
 *
 * From mmap with transparent huge pages requested: an array filling up
 * faults 2 MiB at a time instead of 4 KiB, and random reads over it miss the
 * TLB far less (a 1M-flow table took 35,000 page faults, a third of the
 * run's CPU time, before; about 70 after).  Pages never touched are never
 * resident.  Free with the same size.
 */
#ifndef MC_COMMON_BIGMEM_H
#define MC_COMMON_BIGMEM_H

#include <stddef.h>

void *mc_big_alloc(size_t size);
void mc_big_free(void *p, size_t size);

#endif
