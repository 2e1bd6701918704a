/* test_bigmem.c - big arrays come zeroed, writable, and sized as asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/bigmem.h"

static void test_zeroed_and_writable(void **state)
{
    (void)state;
    size_t size = (size_t)8 << 20; /* several huge pages, when THP gives them */
    uint8_t *p = mc_big_alloc(size);
    assert_non_null(p);
    for (size_t i = 0; i < size; i += 4096)
        assert_int_equal(p[i], 0);
    assert_int_equal(p[size - 1], 0);
    memset(p + size - 100, 0xab, 100);
    assert_int_equal(p[size - 1], 0xab);
    mc_big_free(p, size);
}

static void test_zero_size_and_null(void **state)
{
    (void)state;
    void *p = mc_big_alloc(0); /* a valid, freeable block */
    assert_non_null(p);
    mc_big_free(p, 0);
    mc_big_free(NULL, 123); /* no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_and_writable),
        cmocka_unit_test(test_zero_size_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
