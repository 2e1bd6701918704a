/*
 * fuzz_cloud_pipe.c - libFuzzer target for the cloud writer's RESP reply
 * scanner (src/cloud/pipe.c): the input is a server's byte stream, scanned
 * reply after reply as the pipe does, until it is incomplete or not RESP.
 * Replayed under CTest over fuzz/corpus/cloud_pipe/ (seeds from
 * scripts/gen-cloud-seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy so a read one past the stream trips ASan */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t at = 0;
    while (at < size) {
        struct mc_cloud_pipe_reply r;
        long l = mc_cloud_pipe_scan(buf + at, size - at, &r);
        if (l <= 0)
            break;
        if ((size_t)l > size - at || r.type < MC_PIPE_STRING || r.type > MC_PIPE_ERROR)
            abort();
        if (r.type != MC_PIPE_ERROR && r.err != MC_PIPE_ERR_NONE)
            abort();
        at += (size_t)l;
    }
    free(buf);
    return 0;
}
