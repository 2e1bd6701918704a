/* addr.h - an IPv4 or IPv6 address as every stage stores it. */
#ifndef MC_COMMON_ADDR_H
#define MC_COMMON_ADDR_H

#include <stdint.h>

/* IPv4 uses bytes 0..3, the rest are zero; the version is kept beside it. */
struct mc_addr {
    uint8_t b[16];
};

#endif /* MC_COMMON_ADDR_H */
