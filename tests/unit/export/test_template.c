/* test_template.c - the -T parser and the per-version, per-dialect template mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "export/internal.h"

static int has(const struct mc_template *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].ie->name, name) == 0)
            return (int)i + 1;
    return 0;
}

static void test_default_biflow(void **state)
{
    (void)state;
    struct mc_template_spec s;
    struct mc_template t4, t6;
    char err[128] = "";
    assert_int_equal(mc_export_template_parse(NULL, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 23);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 4, &t4, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 6, &t6, err, sizeof(err)), 0);
    assert_int_equal(t4.id, 256);
    assert_int_equal(t6.id, 257);
    /* icmpTypeCodeIPv4 and IPv6 both listed: each template keeps one */
    assert_int_equal(t4.n, 22);
    assert_int_equal(t6.n, 22);
    assert_int_equal(has(&t4, "sourceIPv4Address"), 1);
    assert_int_equal(has(&t6, "sourceIPv6Address"), 1);
    assert_int_equal(has(&t6, "destinationIPv6Address"), 2);
    assert_false(has(&t6, "sourceIPv4Address"));
    assert_true(has(&t4, "icmpTypeCodeIPv4"));
    assert_false(has(&t4, "icmpTypeCodeIPv6"));
    assert_true(has(&t6, "icmpTypeCodeIPv6"));
    assert_true(has(&t4, "reverseOctetDeltaCount"));
    assert_int_equal(t4.f[has(&t4, "tcpControlBits") - 1].len, 2);
    /* wire length: 4 + 16 IANA elements * 4 + 6 reverse * 8 */
    assert_int_equal(mc_export_template_wire_len(&t4), 4 + 16 * 4 + 6 * 8);
    uint8_t buf[512];
    size_t n = mc_export_template_write(&t4, buf);
    assert_int_equal(n, mc_export_template_wire_len(&t4));
    assert_int_equal(buf[0] << 8 | buf[1], 256);
    assert_int_equal(buf[2] << 8 | buf[3], 22);
    assert_int_equal(buf[4] << 8 | buf[5], 8); /* sourceIPv4Address */
    assert_int_equal(buf[6] << 8 | buf[7], 4);
    /* the first reverse element: enterprise bit and PEN 29305 */
    size_t r = has(&t4, "reversePacketDeltaCount") - 1;
    size_t off = 4 + r * 4;
    assert_int_equal(buf[off] << 8 | buf[off + 1], 0x8002);
    assert_int_equal(buf[off + 2] << 8 | buf[off + 3], 8);
    assert_int_equal((uint32_t)buf[off + 4] << 24 | buf[off + 5] << 16 | buf[off + 6] << 8 | buf[off + 7],
                     29305);
}

static void test_uniflow_and_v9(void **state)
{
    (void)state;
    struct mc_template_spec s;
    struct mc_template t;
    char err[128] = "";
    assert_int_equal(mc_export_template_parse(NULL, &s, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 10, 0, 4, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 16);
    assert_false(has(&t, "reverseOctetDeltaCount"));
    assert_int_equal(mc_export_template_build(&s, 9, 0, 6, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 16);
    assert_false(has(&t, "flowStartMilliseconds"));
    assert_true(has(&t, "flowStartSysUpTime"));
    assert_true(has(&t, "flowEndSysUpTime"));
    assert_int_equal(t.f[has(&t, "tcpControlBits") - 1].len, 1);
    /* v9 wire: 4-byte specifiers only */
    assert_int_equal(mc_export_template_wire_len(&t), 4 + 16 * 4);
    /* in IPFIX the sysUpTime spelling maps back */
    assert_int_equal(mc_export_template_parse("flowStartSysUpTime", &s, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 4, &t, err, sizeof(err)), 0);
    assert_string_equal(t.f[0].ie->name, "flowStartMilliseconds");
}

static void test_parse_separators(void **state)
{
    (void)state;
    struct mc_template_spec s;
    char err[128] = "";
    assert_int_equal(
        mc_export_template_parse(" %sourceIPv6Address,destinationIPv4Address \t%octetDeltaCount,,userName\n",
                                 &s, err, sizeof(err)),
        0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.ie[0]->name, "sourceIPv6Address");
    assert_string_equal(s.ie[3]->name, "userName");
    struct mc_template t;
    assert_int_equal(mc_export_template_build(&s, 10, 0, 4, &t, err, sizeof(err)), 0);
    assert_string_equal(t.f[0].ie->name, "sourceIPv4Address");
    assert_int_equal(t.f[3].len, MC_IE_VARLEN);
    assert_int_equal(mc_export_template_build(&s, 9, 0, 4, &t, err, sizeof(err)), 0);
    assert_int_equal(t.f[3].len, 64);
    /* duplicates collapse */
    assert_int_equal(mc_export_template_parse("vlanId vlanId %vlanId", &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 1);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct mc_template_spec s;
    struct mc_template t;
    char err[128] = "";
    assert_int_equal(mc_export_template_parse("sourceIPv4Address,bogusField", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'bogusField'"));
    assert_int_equal(mc_export_template_parse("%IN_BYTES", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'%IN_BYTES'"));
    assert_int_equal(mc_export_template_parse("sourceipv4address", &s, err, sizeof(err)), -1);
    assert_int_equal(mc_export_template_parse(" , ", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(mc_export_template_parse("%", &s, err, sizeof(err)), -1);
    assert_int_equal(mc_export_template_parse("", &s, err, sizeof(err)), -1);
    /* enterprise elements cannot go to v9 */
    assert_int_equal(mc_export_template_parse("tunnelId", &s, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 9, 0, 4, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "tunnelId"));
    assert_non_null(strstr(err, "(-V 10)")); /* the option that sets the version; -v is --verbose */
    /* only reverse elements: nothing left in uniflow */
    assert_int_equal(mc_export_template_parse("reverseOctetDeltaCount", &s, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 10, 0, 4, &t, err, sizeof(err)), -1);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 4, &t, err, sizeof(err)), 0);
}

static void test_every_name_parses(void **state)
{
    (void)state;
    char all[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < mc_export_n_ies; i++)
        used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s", mc_export_ies[i].name, i % 2 ? "," : " ");
    struct mc_template_spec s;
    struct mc_template t;
    char err[128] = "";
    assert_int_equal(mc_export_template_parse(all, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, mc_export_n_ies);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 4, &t, err, sizeof(err)), 0);
    assert_int_equal(mc_export_template_build(&s, 10, 1, 6, &t, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_biflow),  cmocka_unit_test(test_uniflow_and_v9),
        cmocka_unit_test(test_parse_separators), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_every_name_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
