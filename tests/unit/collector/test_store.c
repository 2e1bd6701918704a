/* test_store.c - what the stores share: the configuration defaults and the store.* counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "collector/store.h"

static void test_defaults(void **state)
{
    (void)state;
    struct mc_store_config cfg;
    memset(&cfg, 0xff, sizeof(cfg));
    mc_store_config_defaults(&cfg);
    assert_null(cfg.spec);
    assert_int_equal(cfg.batch, 10000);
    assert_int_equal(cfg.max_queued, 1000000);
    assert_int_equal(cfg.retention_s, 0);
}

static void test_counters(void **state)
{
    (void)state;
    const char *names[] = { "store.rows", "store.batches", "store.errors", "store.dropped",
                            "store.retention.runs", "store.retention.removed" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_non_null(mc_ctr_find(names[i]));
    MC_CTR_INC(store, dropped);
    assert_int_equal(*mc_ctr_find("store.dropped"), 1);
    mc_ctr_reset();
    assert_int_equal(*mc_ctr_find("store.dropped"), 0);
    assert_string_equal(mc_store_sqlite.name, "sqlite");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
