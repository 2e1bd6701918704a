/*
 * fuzz_collector_nf5.c - the collector's NetFlow v5 decoder on arbitrary datagrams
 * (collector_fuzz.h: the input's datagrams, two exporters, a moving clock).
 */
#include "collector_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return coll_fuzz(data, size, mc_coll_nf5); }
