/*
 * reasm.h - bounded IPv4/IPv6 fragment reassembly for the decoders.
 *
 * References: RFC 791 section 3.2 (IPv4 fragmentation and reassembly),
 * RFC 815 (hole tracking), RFC 8200 section 4.5 (IPv6 fragment header and
 * reassembly), RFC 5722 (overlapping IPv6 fragments), RFC 6946 (atomic
 * fragments).  docs/internals/reassembly.md explains the policy.
 *
 * The IP decoders hand every fragment whose bytes were all captured to
 * mc_reasm_add() when pkt->reasm is set.  The reassembler keeps its bytes
 * and the accounting of the frame (held: the frame is not metered now) until
 * the datagram completes; the completing frame then decodes on from the IP
 * layer over the whole datagram (so tunnels inside are decapsulated) and is
 * metered once for every frame that carried it (pkt->frag_frames).  A
 * datagram that cannot complete (timeout, caps, inconsistent fragments) is
 * "given up": its frames are metered, as one packet standing for all of
 * them, through mc_reasm_drain(), so no frame is ever lost.
 *
 * Memory is bounded: at most cfg.max_datagrams in progress and cfg.max_bytes
 * of state and fragment bytes held (the oldest datagram is given up first),
 * plus one 64 KiB output buffer.  Not thread-safe: one per packet thread.
 */
#ifndef MC_DECODE_REASM_H
#define MC_DECODE_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "decode/pkt.h"

struct mc_reasm_config {
    uint32_t timeout_ms;    /* a datagram not complete this long after its first fragment is given up */
    uint32_t max_datagrams; /* datagrams in progress; the oldest is given up beyond */
    size_t max_bytes;       /* state and fragment bytes held; the oldest is given up beyond */
};

/* 30 s (RFC 791's upper bound for the reassembly timer is 15 s; Linux and
 * BSDs use 30 s / 60 s), 4096 datagrams, 8 MiB. */
void mc_reasm_config_defaults(struct mc_reasm_config *cfg);

/* Smallest max_bytes accepted: one datagram of the largest size. */
#define MC_REASM_MIN_BYTES (128u * 1024u)

struct mc_reasm;

/* Creates a reassembler; NULL on allocation failure or a max_bytes below
 * MC_REASM_MIN_BYTES.  Free with mc_reasm_free (drain it first: what is
 * still held is dropped uncounted). */
struct mc_reasm *mc_reasm_new(const struct mc_reasm_config *cfg);
void mc_reasm_free(struct mc_reasm *r);

/* One fragment, as an IP decoder found it.  Pointers are borrowed for the call. */
struct mc_reasm_frag {
    uint8_t ver;          /* 4 or 6 */
    uint8_t proto;        /* IPv4 protocol; IPv6: the fragment header's next header */
    uint8_t more;         /* MF / M flag */
    uint32_t id;          /* IPv4 identification or IPv6 fragment identification */
    uint32_t offset;      /* fragment offset in octets (the field times 8) */
    const uint8_t *hdr;   /* unfragmentable part: the IPv4 header with options, or the */
    size_t hdr_len;       /* IPv6 header and the extension headers before the fragment header */
    size_t nh_off;        /* IPv6: offset in hdr of the next-header octet naming the fragment header */
    const uint8_t *data;  /* fragment data (after the header / fragment header) */
    size_t len;           /* declared data length */
    int captured;         /* 1 when all len octets of data are captured */
};

/* A completed datagram. */
struct mc_reasm_out {
    const uint8_t *dgram; /* borrowed: valid until the next mc_reasm_add or mc_reasm_free */
    size_t len;           /* whole datagram: header (fragment fields cleared, lengths fixed) + data */
    size_t hdr_len;       /* where the data starts (after the unfragmentable part) */
    uint8_t proto;        /* protocol / next header of the offset-0 fragment */
    uint32_t frames;      /* capture frames that carried it */
    uint32_t octets;      /* sum of their pkt->ip_len (what each frame's IP header says) */
};

enum mc_reasm_result {
    MC_REASM_PASS = 0, /* not reassembled (refused, counted): decode the fragment on its own as before */
    MC_REASM_HELD = 1, /* kept: the caller stops decoding and sets pkt->held */
    MC_REASM_DONE = 2  /* the datagram is complete: *out describes it, decode on from its data */
};

/*
 * Adds one fragment.  pkt is the packet as decoded so far, with the
 * fragmented header committed (its addresses, proto, ip_len; the enclosing
 * tunnel, VLANs and interface are part of the datagram's key); a copy of it
 * is kept to meter the frames if the datagram is given up.  Returns an enum
 * mc_reasm_result; *out is filled only for MC_REASM_DONE.  Every refusal is
 * counted under decode.reasm.<reason>; refusing a fragment of a datagram in
 * progress gives that datagram up, this frame with it (then HELD).
 */
int mc_reasm_add(struct mc_reasm *r, const struct mc_pkt *pkt, const struct mc_reasm_frag *fr,
                 struct mc_reasm_out *out);

/* Gives up the datagrams whose first fragment is timeout_ms older than now_ms
 * (the packet clock).  Returns how many. */
uint32_t mc_reasm_expire(struct mc_reasm *r, uint64_t now_ms);

/* Gives up every datagram in progress (end of input, shutdown). */
uint32_t mc_reasm_flush(struct mc_reasm *r);

/*
 * Called once per datagram given up, with the packet to meter: the kept copy
 * of its offset-0 fragment (decoded on through the bytes held from offset 0,
 * for the ports) or else of its first fragment, standing for every frame held
 * (frag_frames, ip_len = their octets), stamped with the time it was given
 * up, and without payload (an analyzer never sees a partial datagram).
 * Borrowed for the call.
 */
typedef void (*mc_reasm_release_fn)(void *ctx, const struct mc_pkt *pkt);

/* Meters (through fn) and frees every datagram given up so far.  Call it
 * after each frame is metered and after expire/flush.  Returns how many. */
uint32_t mc_reasm_drain(struct mc_reasm *r, mc_reasm_release_fn fn, void *ctx);

/*
 * 1 when decoding pkt may have given datagrams up (it went through
 * mc_reasm_add: a fragment passed, held or completing), so a caller can skip
 * mc_reasm_drain for the frames that are not fragments.
 */
static inline int mc_reasm_touched(const struct mc_pkt *pkt)
{
    return pkt->frag || pkt->held || pkt->frag_frames;
}

/* Datagrams in progress, and bytes held for them. */
uint32_t mc_reasm_pending(const struct mc_reasm *r);
size_t mc_reasm_bytes(const struct mc_reasm *r);

#endif /* MC_DECODE_REASM_H */
