/* bigmem.c - huge-page backed zeroed arrays (see bigmem.h). */
#include "common/bigmem.h"

#include <sys/mman.h>

void *mc_big_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE); /* advice only: fine if THP is off */
#endif
    return p;
}

void mc_big_free(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}
