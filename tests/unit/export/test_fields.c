/* test_fields.c - the element table: unique names, RFC 5103 spelling, counterparts, encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>

#include "export/internal.h"
#include "unit/export/helpers.h"

static void test_table_consistency(void **state)
{
    (void)state;
    for (size_t i = 0; i < mc_export_n_ies; i++) {
        const struct mc_ie *a = &mc_export_ies[i];
        assert_non_null(a->get);
        assert_ptr_equal(mc_export_ie_find(a->name, strlen(a->name)), a);
        for (size_t j = i + 1; j < mc_export_n_ies; j++)
            assert_false(a->id == mc_export_ies[j].id && a->pen == mc_export_ies[j].pen);
        if (a->counterpart) {
            const struct mc_ie *c = mc_export_ie_find(a->counterpart, strlen(a->counterpart));
            assert_non_null(c);
            assert_non_null(c->counterpart);
            assert_string_equal(c->counterpart, a->name);
        }
        if (a->pen == MC_PEN_REVERSE) {
            /* "reverse" + the forward name capitalised, same id */
            char fwd[64];
            snprintf(fwd, sizeof(fwd), "%s", a->name + 7);
            fwd[0] = (char)tolower((unsigned char)fwd[0]);
            const struct mc_ie *f = mc_export_ie_find(fwd, strlen(fwd));
            assert_non_null(f);
            assert_int_equal(f->id, a->id);
            assert_int_equal(f->len, a->len);
            assert_true(a->flags & MC_IE_F_REVERSE);
        }
        if (a->pen == MC_PEN_MC)
            assert_true(a->id >= 1 && a->id <= 10);
    }
}

static void test_encodings(void **state)
{
    (void)state;
    struct mc_flow f = tcp4_flow();
    struct mc_ie_env env = { &f, MC_FLOW_REV, 0, T0, 0, 0 };
    uint8_t b[80];
    const struct mc_ie *ie = mc_export_ie_find("sourceIPv4Address", 17);
    assert_int_equal(mc_export_ie_encode(ie, 4, &env, b), 4);
    assert_int_equal(rd32(b), 0xc0000250);
    ie = mc_export_ie_find("tcpControlBits", 14);
    assert_int_equal(mc_export_ie_encode(ie, 1, &env, b), 1);
    assert_int_equal(b[0], 0x1b);
    ie = mc_export_ie_find("flowEndSysUpTime", 16);
    assert_int_equal(mc_export_ie_encode(ie, 4, &env, b), 4);
    assert_int_equal(rd32(b), 950);
    /* a flow that started before boot reads 0 */
    env.boot_ms = T0 + 10000;
    mc_export_ie_encode(ie, 4, &env, b);
    assert_int_equal(rd32(b), 0);
    /* layer2SegmentId is 0 without VXLAN */
    ie = mc_export_ie_find("layer2SegmentId", 15);
    mc_export_ie_encode(ie, 8, &env, b);
    assert_int_equal(rd64(b), 0);
    /* userName: 1-byte length prefix in IPFIX, NUL-padded 64 bytes in v9; empty without ext */
    ie = mc_export_ie_find("userName", 8);
    assert_int_equal(mc_export_ie_size(ie, MC_IE_VARLEN, &env), 1);
    assert_int_equal(mc_export_ie_encode(ie, MC_IE_VARLEN, &env, b), 1);
    assert_int_equal(b[0], 0);
    struct mc_flow_ext x;
    memset(&x, 0, sizeof(x));
    f.ext = &x;
    assert_int_equal(mc_export_ie_encode(ie, MC_IE_VARLEN, &env, b), 1); /* an extension without identity */
    assert_int_equal(b[0], 0);
    struct mc_flow_identity id;
    memset(&id, 0, sizeof(id));
    memset(id.user, 'u', sizeof(id.user)); /* not NUL-terminated: bounded by the array */
    x.id = &id;
    assert_int_equal(mc_export_ie_encode(ie, MC_IE_VARLEN, &env, b), 65);
    assert_int_equal(b[0], 64);
    assert_int_equal(mc_export_ie_encode(ie, 64, &env, b), 64);
    /* tunnel endpoints swap with the direction */
    x.outer_ver = 6;
    x.outer_src.b[0] = 0xfe;
    x.outer_dst.b[0] = 0xfd;
    ie = mc_export_ie_find("tunnelSourceIPv6Address", 23);
    mc_export_ie_encode(ie, 16, &env, b);
    assert_int_equal(b[0], 0xfd);
    env.dir = MC_FLOW_FWD;
    mc_export_ie_encode(ie, 16, &env, b);
    assert_int_equal(b[0], 0xfe);
    ie = mc_export_ie_find("tunnelSourceIPv4Address", 23);
    mc_export_ie_encode(ie, 4, &env, b);
    assert_int_equal(rd32(b), 0);
}

static void test_list_fields(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    mc_exporter_list_fields(f);
    fclose(f);
    assert_non_null(strstr(buf, "reverseOctetDeltaCount"));
    assert_non_null(strstr(buf, "29305/1"));
    assert_non_null(strstr(buf, "32473/2"));
    assert_non_null(strstr(buf, "userName"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_consistency),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_list_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
