/* cidr.h - an IPv4 or IPv6 network (--local-networks, and any option naming networks). */
#ifndef MC_COMMON_CIDR_H
#define MC_COMMON_CIDR_H

#include <stdint.h>

#include "common/addr.h"

struct mc_cidr {
    uint8_t ver;           /* 4 or 6 */
    uint8_t bits;          /* prefix length */
    struct mc_addr net;
};

/* Parses "a.b.c.d/n" or "v6/n" (bits default to the full length). 0 or -1. */
int mc_cidr_parse(const char *s, struct mc_cidr *out);

/* 1 when address a of IP version ver lies in c. */
int mc_cidr_match(const struct mc_cidr *c, uint8_t ver, const struct mc_addr *a);

#endif /* MC_COMMON_CIDR_H */
