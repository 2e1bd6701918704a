/*
 * replay.c - sends a recorded export stream to a collector, paced.
 *
 * bench/collector.py records what mcprobe exports (IPFIX, NetFlow v9) and
 * has this replay it to mccollector and to nfcapd, so both decode the same
 * datagrams in the same order.  UDP on loopback has no flow control: a
 * datagram that finds the receiver's buffer full is dropped, so the sender
 * holds a rate (datagrams per second, 0: as fast as it can) and the script
 * lowers it and runs again when a receiver counts fewer records than sent.
 *
 * The file: each datagram as a 4-byte big-endian length, then its bytes.
 * The datagrams go out in batches of sendmmsg; after each batch the sender
 * sleeps until the time the rate allows for the next one (an absolute
 * deadline, so a late wake-up does not slow the whole run).
 *
 * Build: cc -O2 bench/replay.c -o replay
 * Usage: replay FILE HOST PORT RATE [BATCH]
 * Prints "replay: DATAGRAMS BYTES WALL_S ERRORS" (ERRORS: datagrams the
 * kernel refused to send; they are not retried).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX 1024

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_until(double when)
{
    struct timespec t;
    t.tv_sec = (time_t)when;
    t.tv_nsec = (long)((when - (double)t.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s FILE HOST PORT RATE [BATCH]\n", argv[0]);
        return 2;
    }
    char *end;
    double rate = strtod(argv[4], &end);
    int bad = *end != 0 || rate < 0;
    long port = strtol(argv[3], &end, 10);
    bad |= *end != 0 || port < 1 || port > 65535;
    long batch = argc > 5 ? strtol(argv[5], &end, 10) : 32;
    bad |= *end != 0 || batch < 1 || batch > BATCH_MAX;
    if (bad) {
        fprintf(stderr, "replay: PORT 1..65535, RATE >= 0, BATCH 1..%d\n", BATCH_MAX);
        return 2;
    }

    /* the whole file in memory, then an index of its datagrams */
    FILE *f = fopen(argv[1], "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        perror(argv[1]);
        return 2;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) {
        fprintf(stderr, "replay: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    size_t n = 0, cap = 1024;
    struct iovec *iov = malloc(cap * sizeof(*iov));
    for (size_t off = 0; off < size;) {
        if (size - off < 4) {
            fprintf(stderr, "replay: %s: truncated length at byte %zu\n", argv[1], off);
            return 2;
        }
        uint32_t len = (uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16 | (uint32_t)data[off + 2] << 8 |
                       data[off + 3];
        off += 4;
        if (len > 65507 || len > size - off) {
            fprintf(stderr, "replay: %s: bad datagram length %u at byte %zu\n", argv[1], len, off - 4);
            return 2;
        }
        if (n == cap) {
            cap *= 2;
            iov = realloc(iov, cap * sizeof(*iov));
        }
        if (!iov) {
            fprintf(stderr, "replay: out of memory\n");
            return 2;
        }
        iov[n].iov_base = data + off;
        iov[n].iov_len = len;
        n++;
        off += len;
    }

    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "replay: %s: not an IPv4 address\n", argv[2]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        perror("replay: socket");
        return 2;
    }

    static struct mmsghdr msgs[BATCH_MAX];
    uint64_t sent = 0, bytes = 0, errors = 0;
    double start = now_s();
    for (size_t i = 0; i < n;) {
        int k = (int)(n - i < (size_t)batch ? n - i : (size_t)batch);
        for (int j = 0; j < k; j++) {
            memset(&msgs[j].msg_hdr, 0, sizeof(msgs[j].msg_hdr));
            msgs[j].msg_hdr.msg_iov = &iov[i + (size_t)j];
            msgs[j].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, (unsigned)k, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* ENOBUFS, ECONNREFUSED (nobody listening yet): this datagram is lost, counted */
            errors++;
            i++;
            continue;
        }
        for (int j = 0; j < r; j++)
            bytes += msgs[j].msg_len;
        sent += (uint64_t)r;
        i += (size_t)r;
        if (rate > 0) {
            double due = start + (double)i / rate;
            if (due > now_s())
                sleep_until(due);
        }
    }
    double wall = now_s() - start;
    printf("replay: %llu %llu %.6f %llu\n", (unsigned long long)sent, (unsigned long long)bytes, wall,
           (unsigned long long)errors);
    free(iov);
    free(data);
    close(fd);
    return 0;
}
