/* test_json.c - JSON string escaping: quotes, controls, valid and invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"

static const char *esc(const char *s, size_t n)
{
    static char out[256];
    FILE *f = fmemopen(out, sizeof(out), "w");
    assert_non_null(f);
    mc_json_string(f, s, n);
    fclose(f);
    return out;
}

static void test_plain_and_escapes(void **state)
{
    (void)state;
    assert_string_equal(esc("abc", 3), "\"abc\"");
    assert_string_equal(esc("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    assert_string_equal(esc("\x01\n", 2), "\"\\u0001\\u000a\"");
    assert_string_equal(esc("nul\0x", 5), "\"nul\\u0000x\""); /* n bytes, not up to a NUL */
    assert_string_equal(esc("", 0), "\"\"");
}

static void test_utf8(void **state)
{
    (void)state;
    assert_string_equal(esc("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");               /* valid: as is */
    assert_string_equal(esc("\xf0\x9f\x98\x80", 4), "\"\xf0\x9f\x98\x80\"");     /* 4 bytes */
    assert_string_equal(esc("\xc3", 1), "\"\\ufffd\"");                          /* cut */
    assert_string_equal(esc("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");               /* overlong */
    assert_string_equal(esc("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");    /* surrogate */
    assert_string_equal(esc("\xff" "a", 2), "\"\\ufffda\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escapes),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
