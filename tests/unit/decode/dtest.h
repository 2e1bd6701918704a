/*
 * dtest.h - shared helpers for the decoder unit tests: a table of byte-array
 * cases run through one decoder, with the expected return value and the
 * counter that must move, and a truncation sweep over every valid case.
 */
#ifndef MC_TEST_DTEST_H
#define MC_TEST_DTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/counters.h"
#include "decode/decode.h"

struct dcase {
    const char *name;
    const uint8_t *b;
    size_t n;
    int linktype;    /* pkt->linktype for decoders that look at it */
    int want;        /* expected return: next layer or MC_DECODE_ERR */
    const char *ctr; /* counter that must grow by one, or NULL */
    size_t consumed; /* bytes the decoder must consume when want >= 0 (SIZE_MAX: skip) */
};

#define DCASE(name, arr, lt, want, ctr, consumed) { name, arr, sizeof(arr), lt, want, ctr, consumed }

static inline uint64_t dtest_ctr(const char *name)
{
    const uint64_t *v = mc_ctr_find(name);
    if (!v)
        fail_msg("unknown counter %s", name);
    return *v;
}

/* Runs fn over a copy of b[0..n) in an exact-size heap buffer (ASan sees overreads). */
static inline int dtest_run(mc_decoder_fn fn, struct mc_pkt *pkt, const uint8_t *b, size_t n,
                            size_t *consumed)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, b, n);
    struct mc_cur c = mc_cur_make(copy, n);
    int r = fn(pkt, &c);
    /* integer arithmetic: gcc -O2 mistakes the pointer difference for a use after free */
    size_t used = (size_t)((uintptr_t)mc_cur_ptr(&c) - (uintptr_t)copy);
    free(copy);
    if (consumed)
        *consumed = used;
    return r;
}

/* Each case: return value, counter, consumed length; then every prefix of valid cases. */
static inline void dtest_cases(mc_decoder_fn fn, const struct dcase *cases, size_t ncases)
{
    for (size_t i = 0; i < ncases; i++) {
        const struct dcase *k = &cases[i];
        struct mc_pkt pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.linktype = k->linktype;
        uint64_t before = k->ctr ? dtest_ctr(k->ctr) : 0;
        size_t used = 0;
        int r = dtest_run(fn, &pkt, k->b, k->n, &used);
        if (r != k->want)
            fail_msg("case %s: returned %d, want %d", k->name, r, k->want);
        if (k->ctr && dtest_ctr(k->ctr) != before + 1)
            fail_msg("case %s: counter %s did not move by one", k->name, k->ctr);
        if (k->want >= 0 && k->consumed != SIZE_MAX && used != k->consumed)
            fail_msg("case %s: consumed %zu, want %zu", k->name, used, k->consumed);
        if (k->want < 0)
            continue;
        for (size_t cut = 0; cut < k->n; cut++) {
            memset(&pkt, 0, sizeof(pkt));
            pkt.linktype = k->linktype;
            r = dtest_run(fn, &pkt, k->b, cut, NULL);
            assert_true(r >= MC_DECODE_ERR && r < MC_LAYER_COUNT);
        }
    }
}

#define DTEST_N(a) (sizeof(a) / sizeof((a)[0]))

#endif /* MC_TEST_DTEST_H */
