/* hostport.h - the one parser of "host:port" and "[v6]:port" every option that names a peer uses. */
#ifndef MC_COMMON_HOSTPORT_H
#define MC_COMMON_HOSTPORT_H

#include <stddef.h>

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

#endif /* MC_COMMON_HOSTPORT_H */
