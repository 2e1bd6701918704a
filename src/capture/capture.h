/*
 * capture.h - packet sources: a live interface or a pcap/pcapng file, both
 * read through libpcap and hidden behind one small handle.
 *
 * In file mode the packet time is the clock, so everything downstream gives
 * the same result however fast the file is read.
 */
#ifndef MC_CAPTURE_CAPTURE_H
#define MC_CAPTURE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctr_macros.h"

struct mc_capture_config {
    const char *bpf;   /* borrowed: filter expression, NULL for none */
    int snaplen;       /* live capture snapshot length */
    int promisc;       /* live: promiscuous mode */
    int buffer_mb;     /* live: kernel buffer size in MiB (0: libpcap default) */
    int timeout_ms;    /* live: packet buffer timeout */
};

void mc_capture_config_defaults(struct mc_capture_config *cfg);

/* One captured frame; data is borrowed until the callback returns. */
typedef void (*mc_capture_fn)(void *ctx, uint64_t ts_us, uint32_t caplen, uint32_t wirelen, int linktype,
                              const uint8_t *data);

struct mc_capture;

/*
 * Opens source: an existing file is read offline, anything else is taken as
 * an interface name.  Returns NULL with a message in err on failure.  Close
 * with mc_capture_close.
 */
struct mc_capture *mc_capture_open(const char *source, const struct mc_capture_config *cfg, char *err,
                                   size_t errlen);
void mc_capture_close(struct mc_capture *c);

/* Whether a source that does not exist names a file rather than an interface: "dir/x", "x.pcap",
 * "x.pcapng", "x.cap" (interface names have no '/'). */
int mc_capture_is_path(const char *source);

/*
 * Delivers up to max frames (-1: a buffer's worth) to fn.  Returns the
 * number delivered (0 on a live timeout), MC_CAPTURE_EOF at the end of a
 * file, or MC_CAPTURE_ERROR (message in mc_capture_error).
 */
#define MC_CAPTURE_EOF (-2)
#define MC_CAPTURE_ERROR (-1)
int mc_capture_dispatch(struct mc_capture *c, int max, mc_capture_fn fn, void *ctx);

/* Makes a blocking mc_capture_dispatch return soon (signal handlers). */
void mc_capture_break(struct mc_capture *c);

int mc_capture_is_file(const struct mc_capture *c);
int mc_capture_linktype(const struct mc_capture *c);
int mc_capture_fd(const struct mc_capture *c);   /* live: selectable fd, -1 for files */
uint32_t mc_capture_ifindex(const struct mc_capture *c); /* live: if_nametoindex, 0 for files */
const char *mc_capture_source(const struct mc_capture *c);
const char *mc_capture_error(const struct mc_capture *c);

/* File mode: bytes of the file read so far (the progress shown on a terminal); 0 for an interface
 * or when unknown (a pipe). */
uint64_t mc_capture_file_offset(const struct mc_capture *c);

/* Bytes of later frames a frame's bytes stay readable for (a mapped file: MC_PCAPFILE_KEPT); 0 when
 * they last only until the callback returns (an interface, libpcap's file reader). */
size_t mc_capture_kept_bytes(const struct mc_capture *c);

/* Refreshes capture.kernel_drops / capture.if_drops from pcap_stats (live only). */
void mc_capture_update_stats(struct mc_capture *c);

#define MC_CAPTURE_CTRS(X, S)                                              \
    X(S, packets, "capture.packets")                                      \
    X(S, bytes, "capture.bytes")                                          \
    X(S, kernel_drops, "capture.kernel_drops")                            \
    X(S, if_drops, "capture.if_drops")                                    \
    X(S, files, "capture.files")                                          \
    X(S, truncated, "capture.truncated")                                  \
    X(S, file_errors, "capture.file_errors")                              \
    X(S, over_snaplen, "capture.over_snaplen")                            \
    X(S, over_max_caplen, "capture.over_max_caplen")                      \
    X(S, pcapng_if_over_cap, "capture.pcapng_if_over_cap")                \
    X(S, sources_skipped, "capture.sources_skipped")                      \
    X(S, dir_entries_skipped, "capture.dir_entries_skipped")
MC_CTR_DECLARE(capture, MC_CAPTURE_CTRS)

#endif
