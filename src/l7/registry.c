/*
 * registry.c - every analyzer, one line each, in attach-priority order: when
 * two claim a flow by port or by payload, the first listed wins.
 */
#include "l7/l7.h"
#include "l7/dns.h"
#include "l7/gtpc.h"
#include "l7/http.h"
#include "l7/mysql.h"
#include "l7/rtp.h"
#include "l7/sip.h"
#include "l7/tns.h"

const struct mc_l7_analyzer *const mc_l7_analyzers[] = {
    &mc_l7_dns, /* first: its detect() is the stricter (binary header) check */
    &mc_l7_gtp, /* UDP 2123; its detect() wants a known GTP-C type and a length that fits */
    &mc_l7_http,
    &mc_l7_mysql,
    &mc_l7_tns,
    &mc_l7_sip, /* UDP and TCP; its detect() wants a SIP start line */
    &mc_l7_rtp, /* last: no port, its detect() is loose; a flow failing validation is given back */
    NULL, /* keeps the array non-empty; not counted */
};

const size_t mc_l7_n_analyzers = sizeof(mc_l7_analyzers) / sizeof(mc_l7_analyzers[0]) - 1;
