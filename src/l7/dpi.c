/*
 * dpi.c - nDPI (Debian libndpi-dev, 4.x) behind the few calls the stage
 * needs: a flow state, one packet, a final verdict and names spelled as
 * ndpiReader spells them, so labels compare with ndpiReader line by line.
 *
 * nDPI keeps its own direction logic and reads the IP header itself, so it
 * is handed the innermost IP datagram as captured.  Its per-flow state
 * (a few KiB) lives only until the verdict: the caller frees it then.
 */
#include "l7/internal.h"

#include <stdlib.h>
#include <string.h>

#include <ndpi/ndpi_api.h>

#include "common/bigmem.h"
#include "common/sanitize.h"

struct mc_l7_dpi {
    struct ndpi_detection_module_struct *mod;
};

/*
 * nDPI's start-up builds its host and address tables from ~100,000 small
 * allocations, freed one by one at exit: half of a short run's cost, most of
 * it page faults in a heap that grows 4 KiB at a time.  Those allocations
 * come from an arena in huge pages instead (bump allocation, nothing freed
 * before exit; past its end, from malloc).  Everything nDPI allocates later
 * (per flow) comes from malloc.  nDPI's allocator hooks are process-wide, so
 * the arena is too: a second module (tests make several) takes what the
 * first left, then malloc.  Sanitizer builds keep malloc throughout.
 */
#define DPI_ARENA (!MC_ASAN)

#if DPI_ARENA
#define ARENA_BYTES ((size_t)8 << 20) /* nDPI 4.2 takes about 5 MiB */
static char *arena, *arena_next, *arena_end;

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena_next && n <= (size_t)(arena_end - arena_next)) {
        void *p = arena_next;
        arena_next += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if ((char *)p >= arena && (char *)p < arena_end)
        return; /* the arena goes with the process */
    free(p);
}

static void arena_begin(void)
{
    if (!arena && (arena = mc_big_alloc(ARENA_BYTES)) != NULL) {
        arena_next = arena;
        arena_end = arena + ARENA_BYTES;
    }
    set_ndpi_free(arena_free); /* for good: arena blocks may be freed any time */
    set_ndpi_malloc(arena_malloc);
}

static void arena_end_init(void) { set_ndpi_malloc(NULL); /* per-flow allocations: malloc */ }
#else
static void arena_begin(void) {}
static void arena_end_init(void) {}
#endif

struct mc_l7_dpi *mc_l7_dpi_new(char *err, size_t errlen)
{
    struct mc_l7_dpi *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "nDPI: out of memory");
        return NULL;
    }
    arena_begin();
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->mod) {
        arena_end_init();
        snprintf(err, errlen, "nDPI: ndpi_init_detection_module failed");
        free(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->mod, &all);
    ndpi_finalize_initialization(d->mod);
    arena_end_init();
    return d;
}

void mc_l7_dpi_free(struct mc_l7_dpi *d, int exiting)
{
    if (!d)
        return;
    /* its tables are in the arena, where freeing them walks them to free nothing (2 ms) */
    if (!exiting || !DPI_ARENA)
        ndpi_exit_detection_module(d->mod);
    free(d);
}

void *mc_l7_dpi_flow_new(void)
{
    size_t n = ndpi_detection_get_sizeof_ndpi_flow_struct();
    void *f = ndpi_flow_malloc(n);
    if (f)
        memset(f, 0, n);
    return f;
}

void mc_l7_dpi_flow_free(void *flow)
{
    if (flow)
        ndpi_free_flow(flow); /* what the dissectors allocated inside, then the struct */
}

int mc_l7_dpi_packet(struct mc_l7_dpi *d, void *flow, const uint8_t *l3, size_t len, uint64_t ms,
                     uint16_t *master, uint16_t *app)
{
    if (len > 0xffff)
        len = 0xffff; /* nDPI takes a 16-bit length; the IP headers inside say the rest */
    ndpi_protocol p = ndpi_detection_process_packet(d->mod, flow, l3, (unsigned short)len, ms);
    *master = p.master_protocol;
    *app = p.app_protocol;
    if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
        return 0;
    /* known, but nDPI may still refine it (TLS SNI, DNS answer): keep feeding it */
    return !ndpi_extra_dissection_possible(d->mod, flow);
}

void mc_l7_dpi_giveup(struct mc_l7_dpi *d, void *flow, uint16_t *master, uint16_t *app, int *guessed)
{
    uint8_t g = 0;
    ndpi_protocol p = ndpi_detection_giveup(d->mod, flow, 1, &g);
    *master = p.master_protocol;
    *app = p.app_protocol;
    *guessed = g;
}

void mc_l7_dpi_guess(struct mc_l7_dpi *d, const struct mc_flow_key *k, uint16_t *master, uint16_t *app)
{
    uint32_t h[2] = { 0, 0 }; /* host byte order; 0 (no address match) for IPv6 */
    if (k->ip_ver == 4)
        for (int i = 0; i < 2; i++)
            h[i] = (uint32_t)k->addr[i].b[0] << 24 | (uint32_t)k->addr[i].b[1] << 16 |
                   (uint32_t)k->addr[i].b[2] << 8 | k->addr[i].b[3];
    ndpi_protocol p = ndpi_guess_undetected_protocol(d->mod, NULL, k->proto, h[0], k->port[0], h[1], k->port[1]);
    *master = p.master_protocol;
    *app = p.app_protocol;
}

void mc_l7_dpi_name(struct mc_l7_dpi *d, uint16_t master, uint16_t app, char *buf, size_t len)
{
    ndpi_protocol p = NDPI_PROTOCOL_NULL;
    p.master_protocol = master;
    p.app_protocol = app;
    ndpi_protocol2name(d->mod, p, buf, (u_int)len);
}

const char *mc_l7_dpi_proto_name(struct mc_l7_dpi *d, uint16_t id)
{
    return ndpi_get_proto_name(d->mod, id);
}
