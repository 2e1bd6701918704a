/*
 * fuzz_collector_sflow.c - the collector's sFlow v5 decoder on arbitrary datagrams
 * (collector_fuzz.h: the input's datagrams, two exporters, a moving clock); the
 * sampled headers go on through the probe's packet decoder.
 */
#include "collector_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return coll_fuzz(data, size, mc_coll_sflow); }
