/* test_json.c - a collected record as a JSON line: the probe's keys and value forms (addresses as text,
 * strings escaped and unpadded, float64 numbers, integers), unknown elements as "<pen>.<id>" hex, values
 * of an impossible length shown in hex rather than misread, and the cloud's enrichment keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/output.h"
#include "flow/ie.h"

static const struct mc_coll_src SRC = { .addr = { 192, 0, 2, 9 }, .ver = 4, .port = 2055 };

static char *render(const struct mc_coll_field *f, size_t n, const struct mc_coll_enrichment *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct mc_coll_record r = { .exporter = &SRC, .version = 10, .n = n, .f = f };
    mc_coll_json_record(out, &r, e);
    fclose(out);
    return text;
}

static void test_values(void **state)
{
    (void)state;
    static const uint8_t v4[4] = { 10, 0, 0, 1 }, port[2] = { 0x01, 0xbb }, oct[8] = { 0, 0, 0, 0, 0, 0, 1, 0 };
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
    static const uint8_t jitter[8] = { 0x3f, 0xf8, 0, 0, 0, 0, 0, 0 }; /* 1.5 */
    static const uint8_t odd[3] = { 0xde, 0xad, 0x01 };
    const struct mc_coll_field f[] = {
        { 0, 8, 4, v4 },
        { 0, 28, 16, v6 },
        { 0, 11, 2, port },
        { 0, 1, 8, oct },
        { 0, 371, 8, (const uint8_t *)"bo\"b\0\0\0\0" },
        { MC_PEN_MC, 239, 8, jitter },
        { 0, 12, 3, odd },          /* an IPv4 element 3 bytes long */
        { 12345, 7, 3, odd },       /* an enterprise element nobody here knows */
    };
    char *t = render(f, sizeof(f) / sizeof(f[0]), NULL);
    assert_string_equal(t, "{\"sourceIPv4Address\":\"10.0.0.1\",\"destinationIPv6Address\":\"2001:db8::2\","
                           "\"destinationTransportPort\":443,\"octetDeltaCount\":256,\"userName\":\"bo\\\"b\","
                           "\"rtpJitterMs\":1.5,\"destinationIPv4Address\":\"dead01\",\"12345.7\":\"dead01\"}\n");
    free(t);
}

static void test_iana_elements(void **state)
{
    (void)state;
    static const uint8_t mac[6] = { 0x00, 0x1f, 0x33, 0xd9, 0x81, 0x60 }, rd[8] = { 0, 1, 0, 0, 0xfd, 0xe8, 0, 1 };
    static const uint8_t ntp[8] = { 0xe8, 0xfe, 0x6f, 0x80, 0x40, 0, 0, 0 }; /* 1700000000 s + 0.25 */
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 }, status[1] = { 0x40 }, odd[2] = { 1, 2 };
    const struct mc_coll_field f[] = {
        { 0, 56, 6, mac },
        { 0, 154, 8, ntp },
        { 0, 82, 8, (const uint8_t *)"Gi0/0/1\0" },
        { 0, 90, 8, rd },
        { 0, 62, 16, v6 },
        { 0, 89, 1, status },
        { 0, 65, 2, odd },  /* unassigned: still "<pen>.<id>" hex */
        { 0, 56, 2, odd },  /* a MAC of 2 bytes: shown, not misread */
    };
    char *t = render(f, sizeof(f) / sizeof(f[0]), NULL);
    assert_string_equal(t, "{\"sourceMacAddress\":\"00:1f:33:d9:81:60\",\"flowStartMicroseconds\":1700000000.250000000,"
                           "\"interfaceName\":\"Gi0/0/1\",\"mplsVpnRouteDistinguisher\":\"00010000fde80001\","
                           "\"ipNextHopIPv6Address\":\"2001:db8::9\",\"forwardingStatus\":64,\"0.65\":\"0102\","
                           "\"sourceMacAddress\":\"0102\"}\n");
    free(t);
}

static void test_enrichment(void **state)
{
    (void)state;
    static const uint8_t v4[4] = { 10, 0, 0, 1 };
    const struct mc_coll_field f[] = { { 0, 8, 4, v4 } };
    struct mc_coll_enrichment e = { 2, { "userName", "mobileIMSI" }, { "alice", "001010123456789" } };
    char *t = render(f, 1, &e);
    assert_string_equal(t, "{\"sourceIPv4Address\":\"10.0.0.1\",\"userName\":\"alice\","
                           "\"mobileIMSI\":\"001010123456789\"}\n");
    free(t);
    t = render(f, 0, &e); /* no field of its own: no leading comma */
    assert_string_equal(t, "{\"userName\":\"alice\",\"mobileIMSI\":\"001010123456789\"}\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_iana_elements),
        cmocka_unit_test(test_enrichment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
