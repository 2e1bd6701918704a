/* cidr.c - networks as "a.b.c.d/n" or "v6/n" (see cidr.h). */
#include "common/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int mc_cidr_parse(const char *s, struct mc_cidr *out)
{
    char buf[64];
    memset(out, 0, sizeof(*out));
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (inet_pton(AF_INET, buf, out->net.b) == 1)
        out->ver = 4;
    else if (inet_pton(AF_INET6, buf, out->net.b) == 1)
        out->ver = 6;
    else
        return -1;
    unsigned max = out->ver == 4 ? 32 : 128, bits = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || v > max)
            return -1;
        bits = (unsigned)v;
    }
    out->bits = (uint8_t)bits;
    return 0;
}

int mc_cidr_match(const struct mc_cidr *c, uint8_t ver, const struct mc_addr *a)
{
    if (c->ver != ver)
        return 0;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->net.b, a->b, full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((c->net.b[full] & mask) != (a->b[full] & mask))
            return 0;
    }
    return 1;
}
