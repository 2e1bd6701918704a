/*
 * fuzz_pcapfile.c - libFuzzer target for the mapped pcap/pcapng reader: the
 * input is written to a temporary file (the reader maps files), opened with
 * mc_pcapfile_open and read to the end, every byte of every record touched
 * so ASan sees a record pointing outside the mapping.  Replayed under CTest
 * by replay_main.c over fuzz/corpus/pcapfile/ (seeds from
 * scripts/gen-pcapfile-seeds.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "capture/pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/mc_fuzz_pcapfile_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    if (off != size) {
        unlink(path);
        return 0;
    }
    struct mc_pcapfile f;
    struct mc_pcapfile_rec rec;
    char err[256];
    int rc = mc_pcapfile_open(&f, path, err, sizeof(err));
    unlink(path); /* the mapping outlives the name */
    if (rc != 1)
        return 0;
    volatile unsigned sum = 0;
    size_t n = 0;
    while ((rc = mc_pcapfile_next(&f, &rec, err, sizeof(err))) == 1) {
        if (rec.caplen > f.size || rec.data < f.base || rec.data + rec.caplen > f.base + f.size)
            abort();
        for (uint32_t i = 0; i < rec.caplen; i++)
            sum += rec.data[i];
        if (++n > size) /* every record consumes at least one octet */
            abort();
    }
    if (rc != 0 && rc != -1)
        abort();
    if (mc_pcapfile_next(&f, &rec, err, sizeof(err)) != 0) /* stays at the end */
        abort();
    mc_pcapfile_close(&f);
    (void)sum;
    return 0;
}
