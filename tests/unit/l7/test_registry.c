/*
 * test_registry.c - the analyzer registry and the element catalogue it adds
 * to: every analyzer is complete, names and (enterprise, id) pairs are
 * unique across the export table and every analyzer, every string element
 * has a maximum length, and -T finds every analyzer element.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "export/fields.h"
#include "l7/l7.h"

static void test_analyzers_complete(void **state)
{
    (void)state;
    for (size_t i = 0; i < mc_l7_n_analyzers; i++) {
        const struct mc_l7_analyzer *a = mc_l7_analyzers[i];
        assert_non_null(a);
        assert_non_null(a->name);
        assert_true(strlen(a->name) > 0 && strlen(a->name) < 16);
        assert_true(a->l4 & (MC_L7_TCP | MC_L7_UDP));
        assert_non_null(a->data);
        assert_true(a->ports[0] || a->detect || a->ndpi); /* something can attach it */
        assert_ptr_equal(mc_l7_find(a->name), a);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(mc_l7_analyzers[j]->name, a->name);
    }
    assert_null(mc_l7_find("nosuch"));
    assert_true(mc_l7_n_analyzers <= 32);
}

static void test_catalogue_unique(void **state)
{
    (void)state;
    size_t n = mc_export_n_all();
    assert_true(n > mc_export_n_ies); /* the stage's own elements at least */
    for (size_t i = 0; i < n; i++) {
        const struct mc_ie *a = mc_export_ie_at(i);
        assert_non_null(a);
        assert_non_null(a->get);
        assert_non_null(a->descr);
        if (a->type == MC_IE_T_STRING) {
            assert_true(mc_ie_max_len(a) > 0);
            assert_true(mc_ie_max_len(a) < 65535 - 3);
        }
        if (a->pen == MC_PEN_MC || a->pen == MC_PEN_REVERSE)
            assert_true(a->flags & MC_IE_F_NOV9); /* v9 has no enterprise elements */
        for (size_t j = 0; j < i; j++) {
            const struct mc_ie *b = mc_export_ie_at(j);
            assert_string_not_equal(a->name, b->name);
            if (a->pen == b->pen)
                assert_false(a->id == b->id);
        }
        /* -T finds it by name */
        assert_ptr_equal(mc_export_ie_find(a->name, strlen(a->name)), a);
    }
    assert_null(mc_export_ie_at(n));
}

static void test_strings_cut_to_maximum(void **state)
{
    (void)state;
    /* the getter's value is cut to the element's maximum before anything encodes it */
    const struct mc_ie *ie = mc_export_ie_find("applicationName", strlen("applicationName"));
    assert_non_null(ie);
    struct mc_flow f;
    memset(&f, 0, sizeof(f));
    struct mc_ie_env env = { &f, 0, 1, 0, 0, 0 };
    struct mc_ie_val v;
    mc_export_ie_value(ie, &env, &v);
    assert_int_equal(v.str_len, 0); /* no L7 state: empty */
    assert_true(mc_export_ie_size(ie, MC_IE_VARLEN, &env) == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyzers_complete),
        cmocka_unit_test(test_catalogue_unique),
        cmocka_unit_test(test_strings_cut_to_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
