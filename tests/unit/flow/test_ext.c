/* test_ext.c - flow extensions: zeroed, line-aligned, recycled last-freed-first, malloc when the tail grew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow/flow.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static struct mc_flow_ext *take(struct mc_flow *f)
{
    memset(f, 0, sizeof(*f));
    struct mc_flow_ext *x = mc_flow_ext_get(f);
    assert_non_null(x);
    assert_ptr_equal(f->ext, x);
    assert_ptr_equal(mc_flow_ext_get(f), x); /* the second call returns the same one */
    return x;
}

static void give(struct mc_flow *f)
{
    mc_flow_ext_put(f->ext);
    f->ext = NULL;
}

/* Order matters: the tail only grows, and the pool's block size is fixed by its first block. */
static void test_pool(void **state)
{
    (void)state;
    mc_flow_ext_reserve(200);
    assert_int_equal(mc_flow_ext_tail(), 208); /* rounded to 16 */
    struct mc_flow f;
    struct mc_flow_ext *x = take(&f);
    assert_int_equal(x->l7_id, -1);
    assert_null(x->l7_state);
    assert_true(all_zero(x->tail, mc_flow_ext_tail()));
    /* sanitizer builds take every block from malloc, so ASan sees each one */
    int pooled = x->pooled;
    if (pooled)
        assert_int_equal((uintptr_t)x % 64, 0);
    memset(x->tail, 0xab, mc_flow_ext_tail());
    x->l7_state = x;
    give(&f);

    /* the block given back last is the next one given out, zeroed again */
    struct mc_flow_ext *y = take(&f);
    if (pooled)
        assert_ptr_equal(y, x);
    assert_null(y->l7_state);
    assert_int_equal(y->l7_id, -1);
    assert_true(all_zero(y->tail, mc_flow_ext_tail()));
    give(&f);

    /* many more than one chunk holds: distinct, aligned, each writable to its end */
    enum { N = 20000 };
    static struct mc_flow fs[N];
    for (int i = 0; i < N; i++) {
        struct mc_flow_ext *e = take(&fs[i]);
        assert_int_equal(e->pooled, pooled);
        if (pooled)
            assert_int_equal((uintptr_t)e % 64, 0);
        memset(e->tail, i & 0xff, mc_flow_ext_tail());
        e->mpls_top = (uint32_t)i;
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(fs[i].ext->mpls_top, (uint32_t)i); /* nobody wrote over it */
        assert_int_equal(fs[i].ext->tail[mc_flow_ext_tail() - 1], i & 0xff);
    }
    for (int i = 0; i < N; i++)
        give(&fs[i]);

    /* a tail grown after the pool was sized: those extensions come from malloc */
    mc_flow_ext_reserve(4000);
    struct mc_flow_ext *big = take(&f);
    assert_int_equal(big->pooled, 0);
    assert_true(all_zero(big->tail, mc_flow_ext_tail()));
    memset(big->tail, 1, mc_flow_ext_tail());
    give(&f);
    mc_flow_ext_put(NULL); /* nothing to give back is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
