/*
 * usercache.h - the probe's cache of which user owns an address (answers of
 * user.ip.<addr> lookups, positive and negative), packet thread only.
 *
 * 4-way set-associative (direct-mapped, two busy clients sharing a slot
 * would ask Redis again at each other's every flow).  Every exported flow
 * asks it, so its hot half is 16 bytes a slot, a set per cache line (256 KiB
 * in all), and answers "no user" or "asked" alone; the cold half with the
 * names is read only for a user found.  Times are deciseconds on the
 * caller's clock.  The lookups on the wire are cloud.c's.
 */
#ifndef MC_CLOUD_USERCACHE_H
#define MC_CLOUD_USERCACHE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/addr.h"

#define MC_UC_SLOTS 16384 /* a power of 2 */
#define MC_UC_WAYS 4      /* one 64-byte line of hot slots per set */
#define MC_UC_USER_LEN 64

struct mc_uc_hot {
    uint64_t tag;         /* mc_uc_tag of the address; 0: empty */
    uint32_t expires_ds;
    uint32_t found;       /* 1: cold holds the user; 0: no user, or the question is on its way */
};

struct mc_uc_cold {
    uint8_t ver;
    struct mc_addr ip;
    char user[MC_UC_USER_LEN];
    char imsi[16], msisdn[16];
};

struct mc_usercache {
    struct mc_uc_hot *hot;   /* owned: MC_UC_SLOTS, 64-byte aligned */
    struct mc_uc_cold *cold; /* owned: MC_UC_SLOTS */
};

/* 0, or -1 when out of memory (nothing left allocated). */
int mc_usercache_init(struct mc_usercache *u);
void mc_usercache_free(struct mc_usercache *u);

/* A 64-bit tag of an address, never 0 (an empty slot). */
static inline uint64_t mc_uc_tag(uint8_t ver, const struct mc_addr *ip)
{
    uint64_t a, b;
    memcpy(&a, ip->b, 8), memcpy(&b, ip->b + 8, 8);
    uint64_t x = (a ^ (0x9e3779b97f4a7c15ull * ver)) * 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x = (x ^ b) * 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x | 1;
}

/* The first slot of tag's set: what to prefetch ahead of a look-up. */
static inline const struct mc_uc_hot *mc_uc_set(const struct mc_usercache *u, uint64_t tag)
{
    return &u->hot[((uint32_t)(tag >> 32) & (MC_UC_SLOTS / MC_UC_WAYS - 1)) * MC_UC_WAYS];
}

/* The slot holding tag (fresh or not), or -1. */
static inline int mc_uc_find(const struct mc_usercache *u, uint64_t tag)
{
    const struct mc_uc_hot *set = mc_uc_set(u, tag);
    for (int w = 0; w < MC_UC_WAYS; w++)
        if (set[w].tag == tag)
            return (int)(set - u->hot) + w;
    return -1;
}

/* The cached answer for an address when it is fresh at now_ds; NULL: ask. */
static inline const struct mc_uc_hot *mc_uc_fresh(const struct mc_usercache *u, uint64_t tag, uint32_t now_ds)
{
    int i = mc_uc_find(u, tag);
    return i >= 0 && now_ds < u->hot[i].expires_ds ? &u->hot[i] : NULL;
}

/* Sets the answer for tag in its own slot, else the set's slot expiring first (empty ones first); returns the slot. */
static inline uint32_t mc_uc_put(struct mc_usercache *u, uint64_t tag, int found, uint32_t expires_ds)
{
    int i = mc_uc_find(u, tag);
    if (i < 0) {
        uint32_t base = (uint32_t)(mc_uc_set(u, tag) - u->hot);
        i = (int)base;
        for (uint32_t w = 1; w < MC_UC_WAYS; w++)
            if (u->hot[base + w].expires_ds < u->hot[i].expires_ds)
                i = (int)(base + w);
    }
    struct mc_uc_hot *h = &u->hot[i];
    h->tag = tag;
    h->expires_ds = expires_ds;
    h->found = (uint32_t)found;
    return (uint32_t)i;
}

/* Caches user as the address's until expires_ds; returns its cold record for the attributes (cleared). */
static inline struct mc_uc_cold *mc_uc_user(struct mc_usercache *u, uint8_t ver, const struct mc_addr *ip,
                                            const char *user, uint32_t expires_ds)
{
    struct mc_uc_cold *k = &u->cold[mc_uc_put(u, mc_uc_tag(ver, ip), 1, expires_ds)];
    memset(k, 0, sizeof(*k));
    k->ver = ver;
    k->ip = *ip;
    snprintf(k->user, sizeof(k->user), "%s", user);
    return k;
}

/* The user of a fresh positive answer h for (ver, ip), or NULL (no user, or the slot now holds another address). */
static inline const struct mc_uc_cold *mc_uc_cold_of(const struct mc_usercache *u, const struct mc_uc_hot *h,
                                                     uint8_t ver, const struct mc_addr *ip)
{
    const struct mc_uc_cold *k = &u->cold[h - u->hot];
    if (!h->found || k->ver != ver || memcmp(&k->ip, ip, sizeof(*ip)) != 0)
        return NULL;
    return k;
}

static inline void mc_uc_forget(struct mc_usercache *u, uint8_t ver, const struct mc_addr *ip)
{
    int i = mc_uc_find(u, mc_uc_tag(ver, ip));
    if (i >= 0)
        u->hot[i].tag = 0, u->hot[i].expires_ds = 0;
}

#endif /* MC_CLOUD_USERCACHE_H */
