/*
 * floor.c - the benchmark floor: what reading a capture file costs.
 *
 * A bare libpcap read loop (pcap_open_offline + pcap_dispatch) that only
 * counts packets and bytes, so bench/run.sh can compare each probe's packet
 * rate with the rate at which the file can be read at all.
 *
 * Build: cc -O2 bench/floor.c -lpcap -o floor
 * Usage: floor FILE.pcap
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

struct floor_count {
    uint64_t packets;
    uint64_t bytes;
    uint32_t fold; /* touches the data so the read cannot be skipped */
};

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct floor_count *c = (struct floor_count *)user;
    c->packets++;
    c->bytes += h->caplen;
    if (h->caplen > 0)
        c->fold += data[h->caplen - 1];
}

int main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    struct floor_count c = { 0, 0, 0 };

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (!p) {
        fprintf(stderr, "floor: %s\n", errbuf);
        return 1;
    }
    int rc;
    while ((rc = pcap_dispatch(p, -1, count, (u_char *)&c)) > 0)
        ;
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "floor: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("floor: %llu packets %llu bytes (fold %u)\n", (unsigned long long)c.packets,
           (unsigned long long)c.bytes, c.fold);
    return 0;
}
