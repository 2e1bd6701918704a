/*
 * ext.c - the memory of flow extensions: equal blocks carved from
 * huge-page chunks, recycled through a free list.
 *
 * With the L7 stage on, every TCP/UDP flow has an extension (its tunnel,
 * user and the analyzer's state in the tail, ~490 bytes), made when the
 * flow starts and dropped when it ends.  From malloc, that cost a
 * malloc/free pair per flow (10% of an L7 run on short flows) and, worse,
 * scattered the extensions over 4 KiB pages: the packet path's prefetch of
 * the extension missed the TLB and was dropped, and a packet stalled on
 * it.  Blocks here are 64-byte aligned (a prefetch of N lines fetches the
 * block's N first lines, not a straddle) in 2 MiB pages, and the last freed
 * block is the next one given out, still in cache.
 *
 * The pool is process-wide like the tail size, for the packet thread only.
 * Chunks are kept until exit: the table bounds how many blocks can be live,
 * so the pool never holds more than the peak.  Sanitizer builds take every
 * block from malloc instead, so ASan still sees each one's bounds and life.
 */
#include "flow/flow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigmem.h"
#include "common/sanitize.h"
#include "common/text.h"

#define EXT_POOL (!MC_ASAN)

#define HUGE_PAGE ((size_t)2 << 20)
#define CHUNK_BYTES (2 * HUGE_PAGE) /* a 1M-flow L7 run maps ~160 of them */

struct free_block {
    struct free_block *next;
};

static size_t ext_tail;        /* bytes every extension has after struct mc_flow_ext */
static size_t stride;          /* block size, fixed by the first allocation from the pool */
static struct free_block *free_list;
static char *cur, *end;        /* the rest of the newest chunk */

void mc_flow_ext_reserve(size_t bytes)
{
    if (bytes > ext_tail)
        ext_tail = (bytes + 15) & ~(size_t)15;
}

size_t mc_flow_ext_tail(void) { return ext_tail; }

static size_t ext_bytes(void) { return sizeof(struct mc_flow_ext) + ext_tail; }

/* A block from the pool, or NULL when the pool's blocks are too small or memory is out. */
static void *pool_take(void)
{
    if (!EXT_POOL)
        return NULL;
    if (!stride)
        stride = (ext_bytes() + 63) & ~(size_t)63;
    else if (stride < ext_bytes())
        return NULL; /* the tail grew after the first extension: those come from malloc */
    if (free_list) {
        struct free_block *b = free_list;
        free_list = b->next;
        return b;
    }
    if ((size_t)(end - cur) < stride) {
        /* leftovers of the old chunk (less than a block) are simply not used */
        /* one huge page more than needed, so the chunk can start on a 2 MiB
         * boundary (the pages before it are never touched, never resident) */
        char *c = mc_big_alloc(CHUNK_BYTES + HUGE_PAGE);
        if (!c)
            return NULL;
        cur = (char *)(((uintptr_t)c + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        end = cur + CHUNK_BYTES;
    }
    void *b = cur;
    cur += stride;
    return b;
}

struct mc_flow_ext *mc_flow_ext_get(struct mc_flow *f)
{
    if (f->ext)
        return f->ext;
    struct mc_flow_ext *x = pool_take();
    if (x) {
        memset(x, 0, ext_bytes());
        x->pooled = 1;
    } else if (!(x = calloc(1, ext_bytes()))) {
        MC_CTR_INC(flow, ext_alloc_failed);
        return NULL;
    }
    x->l7_id = -1;
    f->ext = x;
    return x;
}

struct mc_flow_identity *mc_flow_ext_identity(struct mc_flow_ext *x)
{
    if (!x->id && !(x->id = calloc(1, sizeof(*x->id))))
        MC_CTR_INC(flow, ext_alloc_failed);
    return x->id;
}

void mc_flow_set_subscriber(struct mc_flow *f, const char *imsi, const char *msisdn)
{
    struct mc_flow_ext *x = mc_flow_ext_get(f);
    struct mc_flow_identity *id = x ? mc_flow_ext_identity(x) : NULL;
    if (!id)
        return;
    mc_text_copy(id->imsi, sizeof(id->imsi), imsi);
    mc_text_copy(id->msisdn, sizeof(id->msisdn), msisdn);
}

void mc_flow_ext_put(struct mc_flow_ext *x)
{
    if (!x)
        return;
    free(x->id);
    if (!x->pooled) {
        free(x);
        return;
    }
    struct free_block *b = (struct free_block *)x;
    b->next = free_list;
    free_list = b;
}
