/* hostport.c - "host:port" / "[v6]:port" (see hostport.h). */
#include "common/hostport.h"

#include "common/text.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A decimal port of 1 to 5 digits in [1, 65535] spanning all of s; -1 otherwise. */
static int port_of(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v >= 1 && v <= 65535 ? v : -1;
}

int mc_hostport_split(const char *spec, int default_port, const char *what, char *host, size_t hostlen, int *port,
                      char *err, size_t errlen)
{
    const char *h, *ps = NULL;
    size_t hn;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty %s address", what);
        return -1;
    }
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close == spec + 1 || (close[1] != '\0' && close[1] != ':') ||
            (close[1] == '\0' && default_port <= 0)) {
            snprintf(err, errlen, "%s '%s': expected [ipv6]:port", what, spec);
            return -1;
        }
        h = spec + 1;
        hn = (size_t)(close - h);
        if (close[1] == ':')
            ps = close + 2;
    } else {
        const char *colon = strchr(spec, ':');
        h = spec;
        if (colon && strchr(colon + 1, ':')) {
            if (default_port <= 0) {
                snprintf(err, errlen, "%s '%s': an IPv6 address needs brackets: [addr]:port", what, spec);
                return -1;
            }
            hn = strlen(spec); /* a bare IPv6 literal: the default port */
        } else if (colon) {
            hn = (size_t)(colon - spec);
            ps = colon + 1;
        } else if (default_port > 0) {
            hn = strlen(spec);
        } else {
            snprintf(err, errlen, "%s '%s': expected host:port", what, spec);
            return -1;
        }
    }
    int p = ps ? port_of(ps) : default_port;
    if (hn == 0 || p < 0) {
        snprintf(err, errlen, "%s '%s': bad host or port", what, spec);
        return -1;
    }
    if (hn >= hostlen) {
        snprintf(err, errlen, "%s '%s': host name too long", what, spec);
        return -1;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = p;
    return 0;
}

/* Decimal text of 0..255, three characters and a length each: IPv4 text without divisions. */
static const char octet_text[256][4] = {
#define O1(n) { (char)('0' + (n)), 0, 0, 1 }
#define O2(n) { (char)('0' + (n) / 10), (char)('0' + (n) % 10), 0, 2 }
#define O3(n) { (char)('0' + (n) / 100), (char)('0' + (n) / 10 % 10), (char)('0' + (n) % 10), 3 }
#define R10(m, b) m(b), m(b + 1), m(b + 2), m(b + 3), m(b + 4), m(b + 5), m(b + 6), m(b + 7), m(b + 8), m(b + 9)
    R10(O1, 0), R10(O2, 10), R10(O2, 20), R10(O2, 30), R10(O2, 40), R10(O2, 50), R10(O2, 60), R10(O2, 70),
    R10(O2, 80), R10(O2, 90), R10(O3, 100), R10(O3, 110), R10(O3, 120), R10(O3, 130), R10(O3, 140),
    R10(O3, 150), R10(O3, 160), R10(O3, 170), R10(O3, 180), R10(O3, 190), R10(O3, 200), R10(O3, 210),
    R10(O3, 220), R10(O3, 230), R10(O3, 240), O3(250), O3(251), O3(252), O3(253), O3(254), O3(255)
#undef O1
#undef O2
#undef O3
#undef R10
};

/* Dotted quad into out (at least 16 bytes), by table: glibc's inet_ntop formats through sprintf, which the
 * stores' writers and the cloud's host keys (every host of every flush) would spend much of their time in. */
static size_t ipv4_text(const uint8_t *b, char *out)
{
    char *o = out;
    for (int i = 0; i < 4; i++) {
        const char *t = octet_text[b[i]];
        memcpy(o, t, 3); /* the unused characters are overwritten next */
        o += t[3];
        *o++ = '.';
    }
    o[-1] = '\0';
    return (size_t)(o - 1 - out);
}

/*
 * IPv6 into out (at least INET6_ADDRSTRLEN bytes), exactly as glibc's
 * inet_ntop writes it (RFC 5952: lower-case hex without leading zeros, the
 * longest run of two or more zero groups as "::", the first of equal runs;
 * ::ffff:a.b.c.d and ::a.b.c.d with a dotted quad), without its sprintf per
 * group: a GTP subscriber's keys and the stores' rows format thousands a second.
 */
static size_t ipv6_text(const uint8_t *b, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int best = -1, best_len = 0, cur = -1;
    for (int i = 0; i < 8; i++) {
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
        if (w[i] == 0) {
            if (cur < 0)
                cur = i;
            if (i - cur + 1 > best_len)
                best = cur, best_len = i - cur + 1;
        } else {
            cur = -1;
        }
    }
    if (best_len < 2)
        best = -1;
    char *o = out;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best)
                *o++ = ':';
            continue;
        }
        if (i)
            *o++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
            return (size_t)(o - out) + ipv4_text(b + 12, o);
        unsigned v = w[i];
        if (v >= 0x1000)
            *o++ = hex[v >> 12];
        if (v >= 0x100)
            *o++ = hex[v >> 8 & 15];
        if (v >= 0x10)
            *o++ = hex[v >> 4 & 15];
        *o++ = hex[v & 15];
    }
    if (best >= 0 && best + best_len == 8)
        *o++ = ':';
    *o = '\0';
    return (size_t)(o - out);
}

size_t mc_ip_text(uint8_t ver, const uint8_t *bytes, char *out, size_t cap)
{
    if (!cap)
        return 0;
    if (ver != 6 && cap >= INET_ADDRSTRLEN)
        return ipv4_text(bytes, out);
    if (ver == 6 && cap >= INET6_ADDRSTRLEN)
        return ipv6_text(bytes, out);
    if (!inet_ntop(ver == 6 ? AF_INET6 : AF_INET, bytes, out, (socklen_t)cap))
        out[0] = '\0';
    return strlen(out);
}

size_t mc_addr_text(uint8_t ver, const struct mc_addr *addr, char *out, size_t cap)
{
    return mc_ip_text(ver, addr->b, out, cap);
}

size_t mc_hostport_text(uint8_t ver, const struct mc_addr *addr, uint32_t n, char *out, size_t cap)
{
    char t[INET6_ADDRSTRLEN + 16], *o = t;
    if (ver == 6)
        *o++ = '[';
    o += mc_addr_text(ver, addr, o, INET6_ADDRSTRLEN);
    if (ver == 6)
        *o++ = ']';
    *o++ = ':';
    o += mc_u64_text(n, o);
    size_t w = (size_t)(o - t);
    if (w >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, t, w);
    out[w] = '\0';
    return w;
}
