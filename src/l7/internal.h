/*
 * internal.h - what the files of the L7 stage share: the per-flow state the
 * framework keeps in ext->l7_state, the callback context, and the nDPI
 * wrapper (dpi.c).  Not for analyzers: they see only l7.h.
 */
#ifndef MC_L7_INTERNAL_H
#define MC_L7_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "l7/l7.h"

/* A TCP segment that arrived ahead of the bytes before it (owned copy). */
struct l7_seg {
    struct l7_seg *next;
    uint32_t seq, len;
    uint8_t data[];
};

/* One direction of a TCP stream: what has been handed to the analyzer. */
struct l7_dir {
    uint32_t next;          /* sequence number of the next byte expected */
    uint8_t known;          /* next is set (SYN or first payload seen) */
    uint8_t syn;            /* the SYN was seen: a start not seen is mid-stream */
    uint32_t ooo_bytes;     /* bytes held in ooo */
    struct l7_seg *ooo;     /* owned: segments after a hole, sorted by seq */
};

#define L7_NAME_LEN 48

/* ext->l7_state: the stage's per-flow state, then the analyzer's; in the
 * extension's tail (mc_flow_ext_reserve), or allocated apart for an
 * extension made before the stage existed. */
struct l7_flow {
    const struct mc_l7_analyzer *a; /* attached analyzer, NULL none */
    uint8_t decided;        /* no more attach attempts */
    uint8_t tries[2];       /* payload packets each direction offered to detect() */
    uint8_t dpi_done;       /* nDPI gave its verdict (or gave up) */
    uint8_t in_tail;        /* lives in the extension's tail (not freed on its own) */
    uint8_t detach;         /* the analyzer gave the flow up (mc_l7_detach): drop it after the callback */
    uint16_t dpi_pkts;      /* packets nDPI looked at */
    uint16_t app_master, app_id; /* nDPI protocols (0 unknown) */
    char app_name[L7_NAME_LEN];  /* "DNS", "HTTP.Google": ndpiReader's spelling */
    uint32_t tx_count;      /* transactions emitted */
    struct l7_dir dir[2];
    void *dpi;              /* owned nDPI flow, NULL once decided */
    struct mc_mobile_flow *mf; /* owned: the flow's subscriber (GTP-U, or a known UE's), NULL none */
    uint8_t mf_checked;     /* whether the flow wants one was decided */
    uint64_t mf_next_ms;    /* mf has nothing to do for packets before this (mc_mobile_flow_packet) */
    uint32_t mf_hold_gen;   /* ... nor while the cloud's aggregate table keeps this generation (0: none) */
    _Alignas(16) unsigned char state[]; /* the analyzer's state_size bytes */
};

struct mc_l7_ctx {
    struct mc_l7 *l;
    struct mc_flow *f;
    struct l7_flow *lf;
    uint64_t now_ms;
    uint64_t now_us;
    int tx_open;            /* a transaction is being written */
    int tx_fields;
};

/* ---- nDPI (dpi.c) ------------------------------------------------------ */
struct mc_l7_dpi;
struct mc_l7_dpi *mc_l7_dpi_new(char *err, size_t errlen);
/* exiting: the process is about to exit, and nDPI's tables (in the start-up arena) are left to it. */
void mc_l7_dpi_free(struct mc_l7_dpi *d, int exiting);
/* A new nDPI flow state, NULL on allocation failure; free with mc_l7_dpi_flow_free. */
void *mc_l7_dpi_flow_new(void);
void mc_l7_dpi_flow_free(void *flow);
/* Feeds one IP datagram; returns 1 once the flow's protocol is final (app/master set). */
int mc_l7_dpi_packet(struct mc_l7_dpi *d, void *flow, const uint8_t *l3, size_t len, uint64_t ms,
                     uint16_t *master, uint16_t *app);
/* Final verdict with nDPI's guess (by ports and addresses); *guessed set when it was a guess. */
void mc_l7_dpi_giveup(struct mc_l7_dpi *d, void *flow, uint16_t *master, uint16_t *app, int *guessed);
/* The guess by ports and addresses alone, for a flow nDPI never saw a packet of
 * (as ndpiReader guesses it); IPv6 addresses take no part, as in nDPI 4.2. */
void mc_l7_dpi_guess(struct mc_l7_dpi *d, const struct mc_flow_key *k, uint16_t *master, uint16_t *app);
/* ndpiReader's name for the pair: "DNS", "TLS.Google", "Unknown". */
void mc_l7_dpi_name(struct mc_l7_dpi *d, uint16_t master, uint16_t app, char *buf, size_t len);
/* nDPI's name for one protocol id (for analyzer attach by name). */
const char *mc_l7_dpi_proto_name(struct mc_l7_dpi *d, uint16_t id);

#endif /* MC_L7_INTERNAL_H */
