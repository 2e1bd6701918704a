/* test_iana.c - the IANA element table: sorted and unique (the lookup is a binary search), found by id,
 * and where mcprobe's own table names an IANA element too, the two names are the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "collector/collector.h"
#include "export/fields.h"

static void test_sorted_and_found(void **state)
{
    (void)state;
    const struct mc_coll_iana *prev = NULL, *e;
    size_t n = 0;
    for (size_t i = 0; (e = mc_coll_iana_at(i)) != NULL; i++, n++) {
        if (prev)
            assert_true(prev->id < e->id);
        assert_ptr_equal(mc_coll_iana(e->id), e);
        assert_true(strlen(e->name) > 0);
        prev = e;
    }
    assert_true(n > 300);
    assert_string_equal(mc_coll_iana(56)->name, "sourceMacAddress");
    assert_int_equal(mc_coll_iana(56)->type, IANA_MAC);
    assert_string_equal(mc_coll_iana(154)->name, "flowStartMicroseconds");
    assert_int_equal(mc_coll_iana(154)->type, IANA_NTP);
    assert_null(mc_coll_iana(0));
    assert_null(mc_coll_iana(65)); /* unassigned */
    assert_null(mc_coll_iana(60000));
}

static void test_same_names_as_the_probe(void **state)
{
    (void)state;
    size_t both = 0;
    const struct mc_coll_iana *e;
    for (size_t i = 0; (e = mc_coll_iana_at(i)) != NULL; i++) {
        const struct mc_ie *ie = mc_export_ie_find_id(0, e->id);
        if (!ie)
            continue;
        both++;
        if (strcmp(ie->name, e->name) != 0)
            fail_msg("element %u: the probe calls it %s, the IANA table %s", e->id, ie->name, e->name);
    }
    assert_true(both > 30);
    char buf[32];
    assert_string_equal(mc_coll_field_name(0, 89, buf, sizeof(buf)), "forwardingStatus");
    assert_string_equal(mc_coll_field_name(0, 65, buf, sizeof(buf)), "0.65");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_found),
        cmocka_unit_test(test_same_names_as_the_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
