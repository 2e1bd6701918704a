/*
 * pcapfile.h - a zero-copy reader for classic pcap files (not pcapng).
 *
 * libpcap's offline reader copies every packet twice (the kernel into stdio,
 * stdio into libpcap's buffer): a third of the probe's CPU time on a file.
 * This reader maps the file and hands out pointers into the mapping, dropping
 * the pages behind it so the resident size stays a few MiB whatever the file
 * size.  It reads classic pcap and pcapng, including pcapng files whose
 * interfaces differ in snapshot length or link type, which libpcap 1.10
 * refuses, and any number of interfaces (as Wireshark does); anything else
 * (and what is not a regular file: a pipe) goes through libpcap.
 */
#ifndef MC_CAPTURE_PCAPFILE_H
#define MC_CAPTURE_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The largest captured length a record may have: libpcap's (max_snaplen_for_dlt)
 * and Wireshark's (WTAP_MAX_PACKET_SIZE_STANDARD) for the link types we decode.
 */
#define MC_PCAP_MAX_CAPLEN 262144u
/*
 * A record's bytes stay resident while this much more of the file is read,
 * so a reader may hold on to the last records (the flow stage's pipeline)
 * with no copy and no page fault; they stay readable until the file is
 * closed (a dropped page of the read-only mapping faults back in from the file).
 */
#define MC_PCAPFILE_KEPT (5u << 20)
/* Interfaces kept per pcapng section (16 octets each); packets on later ones are counted and skipped. */
#define MC_PCAPNG_MAX_IFS 65536u

struct mc_pcapng_if {
    int linktype;
    uint32_t snaplen;    /* 0: no limit */
    uint64_t units;      /* timestamp units per second (if_tsresol) */
};

struct mc_pcapfile {
    const uint8_t *base; /* owned: the mapping, size bytes */
    size_t size;
    size_t pos;          /* next record header */
    size_t dropped;      /* pages below this offset were released */
    size_t populated;    /* pages below this offset were prefaulted */
    size_t prefetched;   /* cache lines below this offset were prefetched */
    int swapped;         /* file written with the other byte order */
    int nsec;            /* timestamps in nanoseconds */
    int linktype;        /* classic pcap; pcapng: of the first interface */
    uint32_t snaplen;
    int ng;              /* pcapng */
    struct mc_pcapng_if *ifs; /* owned, pcapng: the first MC_PCAPNG_MAX_IFS interfaces of the section */
    uint32_t n_ifs;      /* pcapng: interfaces the current section described */
    uint32_t cap_ifs;    /* entries allocated in ifs */
};

struct mc_pcapfile_rec {
    uint64_t ts_us;
    uint32_t caplen, wirelen;
    int linktype;
    const uint8_t *data; /* borrowed: valid until mc_pcapfile_close (resident for MC_PCAPFILE_KEPT more bytes) */
};

/*
 * Opens path if it is a classic pcap or pcapng file.  Returns 1 when opened (close
 * with mc_pcapfile_close), 0 when the file is something else (pcapng, not
 * mappable: use libpcap), -1 with err set when it cannot be read.
 */
int mc_pcapfile_open(struct mc_pcapfile *f, const char *path, char *err, size_t errlen);

/*
 * Next record: 1, 0 at the end, -1 when the file is truncated or corrupt (err
 * set, naming the offset where the bad record or block starts).
 *
 * A record longer than the snapshot length of its file or interface is
 * handed over cut to it, as libpcap does, and counted (capture.over_snaplen).
 * A pcapng packet above MC_PCAP_MAX_CAPLEN (capture.over_max_caplen) or on an
 * interface past MC_PCAPNG_MAX_IFS (capture.pcapng_if_over_cap) is counted
 * and skipped: its block's length still leads to the next one.  A classic
 * pcap record above MC_PCAP_MAX_CAPLEN is counted and ends the read with an
 * error, as in libpcap and tshark: its captured length is the only way to
 * the next record, and a value that large says the framing itself is lost.
 */
int mc_pcapfile_next(struct mc_pcapfile *f, struct mc_pcapfile_rec *rec, char *err, size_t errlen);

void mc_pcapfile_close(struct mc_pcapfile *f);

#endif
