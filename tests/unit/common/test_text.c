/* test_text.c - mc_u64_text and mc_u64_str: every digit count, both ends of the range; mc_text_cat's and mc_text_join's cuts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/text.h"

static void test_u64_text(void **state)
{
    (void)state;
    uint64_t v[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 4294967295u, 1717236001326ull,
                     10000000000000000000ull, UINT64_MAX };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[24], want[24];
        size_t n = mc_u64_text(v[i], got);
        got[n] = 0;
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
    for (uint64_t x = 1; x < UINT64_MAX / 7; x = x * 7 + 3) { /* every length, varied digits */
        char got[24], want[24];
        got[mc_u64_text(x, got)] = 0;
        snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
        assert_string_equal(got, want);
    }
}

static void test_u64_str(void **state)
{
    (void)state;
    char got[21];
    assert_int_equal(mc_u64_str(UINT64_MAX, got), 20);
    assert_string_equal(got, "18446744073709551615");
    assert_int_equal(mc_u64_str(0, got), 1);
    assert_string_equal(got, "0");
}

/* Appends cut to the room left, always terminated: what snprintf("%s%s") wrote, without its cost. */
static void test_cat(void **state)
{
    (void)state;
    char out[12];
    size_t n = mc_text_cat(out, sizeof(out), 0, "user.");
    assert_int_equal(n, 5);
    n = mc_text_cat(out, sizeof(out), n, "001010123");
    assert_int_equal(n, 11); /* cut: 11 characters and the NUL fill 12 bytes */
    assert_string_equal(out, "user.001010");
    assert_int_equal(mc_text_cat(out, sizeof(out), n, "more"), 11);
    assert_string_equal(out, "user.001010");
    assert_int_equal(mc_text_cat(out, sizeof(out), 0, ""), 0);
    assert_string_equal(out, "");
    assert_int_equal(mc_text_join(out, sizeof(out), "mc:", "user.", "1"), 9);
    assert_string_equal(out, "mc:user.1");
    assert_int_equal(mc_text_join(out, sizeof(out), "mc:", "user.", "0010101"), 11);
    assert_string_equal(out, "mc:user.001"); /* cut in its last part */
    assert_int_equal(mc_text_join(out, sizeof(out), "mc:user.ip.", "", "10.0.0.1"), 11);
    assert_string_equal(out, "mc:user.ip.");
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_u64_text), cmocka_unit_test(test_u64_str),
                                        cmocka_unit_test(test_cat) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
