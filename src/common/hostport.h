/*
 * hostport.h - the one parser of "host:port" and "[v6]:port" every option
 * that names a peer uses, and the one writer of an address with a number
 * after it (a media endpoint, a GTP-U endpoint's TEID) in the same form.
 */
#ifndef MC_COMMON_HOSTPORT_H
#define MC_COMMON_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/*
 * Splits spec into host (NUL-terminated) and *port (1..65535).  Accepted:
 * "host:port" and "[v6addr]:port"; with default_port > 0 also "host",
 * "[v6addr]" and a bare IPv6 literal (several ':'), which take
 * default_port.  With default_port 0 the port is required and an IPv6
 * address must be bracketed.  what names the peer in messages ("collector",
 * "redis node").  Returns 0, or -1 with a message quoting spec in err.
 */
int mc_hostport_split(const char *spec, int default_port, const char *what, char *host, size_t hostlen, int *port,
                      char *err, size_t errlen);

/* An address of IP version ver as text (RFC 5952 for IPv6, inet_ntop's) into out; its length ("" and 0 when it
 * does not fit). */
size_t mc_addr_text(uint8_t ver, const struct mc_addr *addr, char *out, size_t cap);
/* The same of an address given as its 4 (ver 4) or 16 (ver 6) bytes, as a parser found them. */
size_t mc_ip_text(uint8_t ver, const uint8_t *bytes, char *out, size_t cap);

/*
 * "addr:n" (IPv4) or "[v6addr]:n" (RFC 5952 text, inet_ntop's) of an
 * address of IP version ver into out; its length, 0 when it did not fit.
 */
size_t mc_hostport_text(uint8_t ver, const struct mc_addr *addr, uint32_t n, char *out, size_t cap);

#endif /* MC_COMMON_HOSTPORT_H */
