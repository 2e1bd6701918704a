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

static int valid(const char *s)
{
    return mc_json_valid(s, strlen(s), 8);
}

/* The buffer form: small buffers take whole units only, and the pieces join into what one call writes. */
static void test_escape_in_pieces(void **state)
{
    (void)state;
    const char in[] = "a\"\x01" "caf\xc3\xa9\xf0\x9f\x98\x80\xff" "end";
    size_t n = sizeof(in) - 1;
    char whole[128];
    size_t used, len = mc_json_escape(whole, sizeof(whole), in, n, &used);
    assert_int_equal(used, n);
    assert_int_equal(len, strlen("a\\\"\\u0001caf\xc3\xa9\xf0\x9f\x98\x80\\ufffdend"));
    assert_memory_equal(whole, "a\\\"\\u0001caf\xc3\xa9\xf0\x9f\x98\x80\\ufffdend", len);
    for (size_t cap = MC_JSON_ESCAPE_MAX; cap <= 12; cap++) {
        char out[128], piece[16];
        size_t o = 0, i = 0;
        while (i < n) {
            size_t k = mc_json_escape(piece, cap, in + i, n - i, &used);
            assert_true(used > 0);
            assert_true(k <= cap);
            memcpy(out + o, piece, k);
            o += k;
            i += used;
        }
        assert_int_equal(o, len);
        assert_memory_equal(out, whole, len);
    }
    /* no room for a unit: nothing taken */
    assert_int_equal(mc_json_escape(whole, MC_JSON_ESCAPE_MAX - 1, in, n, &used), 0);
    assert_int_equal(used, 0);
    /* longer than the FILE writer's own buffer */
    char big[3000], out[3100];
    memset(big, 'x', sizeof(big));
    big[1500] = '"';
    FILE *f = fmemopen(out, sizeof(out), "w");
    assert_non_null(f);
    mc_json_string(f, big, sizeof(big));
    long w = ftell(f);
    fclose(f);
    assert_int_equal(w, 3000 + 1 + 2);
    assert_int_equal(out[1501], '\\');
    assert_int_equal(out[1502], '"');
    assert_int_equal(out[w - 1], '"');
}

/*
 * Plain runs are found eight bytes at a time (json.c: plain_end): every byte
 * value at every place of a plain text, and two at once, escape as the
 * byte-at-a-time rule says (a reference written here for the plain and
 * escaped bytes; bytes >= 0x80 alone are invalid UTF-8, one \ufffd each).
 */
static size_t reference(char *dst, const unsigned char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
            dst[o++] = (char)c;
        else if (c == '"' || c == '\\')
            dst[o++] = '\\', dst[o++] = (char)c;
        else
            o += (size_t)sprintf(dst + o, c < 0x20 ? "\\u%04x" : "\\ufffd", c);
    }
    return o;
}

static void test_every_byte_every_place(void **state)
{
    (void)state;
    unsigned char in[40];
    char got[256], want[256];
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < 24; at++) {
            for (size_t n = at + 1; n <= sizeof(in); n += 7) {
                memset(in, 'a' + (int)(at % 26), sizeof(in));
                in[at] = (unsigned char)c;
                if (n > at + 9)
                    in[at + 9] = (unsigned char)(255 - c); /* a second one further on */
                if (c >= 0xc2 && c <= 0xf4)
                    continue; /* a lead byte may start valid UTF-8 with what follows: test_utf8's */
                if (n > at + 9 && 255 - c >= 0xc2 && 255 - c <= 0xf4)
                    continue;
                size_t used, len = mc_json_escape(got, sizeof(got), (const char *)in, n, &used);
                size_t wlen = reference(want, in, n);
                assert_int_equal(used, n);
                assert_int_equal(len, wlen);
                assert_memory_equal(got, want, len);
                /* in pieces, through every room from the least up to the whole: the same text */
                for (size_t cap = MC_JSON_ESCAPE_MAX; cap <= wlen + MC_JSON_ESCAPE_MAX; cap += 1 + cap / 8) {
                    size_t k = 0, off = 0;
                    while (off < n) {
                        char piece[256];
                        size_t l = mc_json_escape(piece, cap, (const char *)in + off, n - off, &used);
                        assert_true(used > 0 && l <= cap);
                        memcpy(got + k, piece, l);
                        k += l;
                        off += used;
                    }
                    assert_int_equal(k, wlen);
                    assert_memory_equal(got, want, wlen);
                }
            }
        }
    }
}

/* One text of every kind of piece, built in mem (cap bytes); its length (0: it did not fit). */
static size_t jbuf_sample(struct mc_jbuf *b, char *mem, size_t cap)
{
    mc_jbuf_init(b, mem, cap);
    mc_jbuf_lit(b, "{\"a\":");
    mc_jbuf_str(b, "x\"\x01\xff", 4);
    mc_jbuf_lit(b, ",\"n\":");
    mc_jbuf_u64(b, 0);
    mc_jbuf_lit(b, ",\"m\":");
    mc_jbuf_u64(b, UINT64_MAX);
    mc_jbuf_fmt(b, ",\"f\":%.2f}", 3.14159);
    return mc_jbuf_len(b);
}

/* The fixed-buffer builder: the same text as the stream writer, and a text that overflows is refused whole. */
static void test_jbuf(void **state)
{
    (void)state;
    char buf[128];
    struct mc_jbuf b;
    size_t n = jbuf_sample(&b, buf, sizeof(buf));
    const char want[] = "{\"a\":\"x\\\"\\u0001\\ufffd\",\"n\":0,\"m\":18446744073709551615,\"f\":3.14}";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(buf, want, n);
    assert_int_equal(mc_json_valid(buf, n, 4), 1);
    assert_string_equal(esc("x\"\x01\xff", 4), "\"x\\\"\\u0001\\ufffd\"");

    /* every size too small for the whole text: length 0, and not a byte past the buffer */
    for (size_t cap = 0; cap < sizeof(want) - 1; cap++) {
        char small[sizeof(want) + 8];
        memset(small, '#', sizeof(small));
        assert_int_equal(jbuf_sample(&b, small, cap), 0);
        for (size_t i = cap; i < sizeof(small); i++)
            assert_int_equal(small[i], '#');
    }
}

static void test_valid(void **state)
{
    (void)state;
    static const char *good[] = {
        "{}", "[]", " {\"a\": 1} ", "{\"call_id\":\"x@y\",\"mos\":3.25,\"ok\":true,\"n\":null,\"e\":-1.5e-3}",
        "[1,[2,[3]],{\"k\":[]}]", "\"\\u00e9\\n\"", "0", "\"\xc3\xa9\"", "{\"a\":{\"b\":{\"c\":{}}}}",
    };
    static const char *bad[] = {
        "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\":1}x", "{} {}",
        "{a:1}", "\"\\x\"", "\"\\u12\"", "01", "1.", "-", "1e", "tru", "\"\x01\"", "\"\xc3\"", "[}", "{]",
        "\"open",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!valid(good[i]))
            fail_msg("valid JSON refused: %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (valid(bad[i]))
            fail_msg("invalid JSON taken: %s", bad[i]);
    /* depth: 8 levels pass, 9 do not; a hostile depth is refused without recursion */
    assert_true(valid("[[[[[[[[1]]]]]]]]"));
    assert_false(valid("[[[[[[[[[1]]]]]]]]]"));
    char deep[100001];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = 0;
    assert_false(mc_json_valid(deep, strlen(deep), 64));
    /* n bounds the text: what lies beyond is not read */
    assert_true(mc_json_valid("{}garbage", 2, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escapes),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_escape_in_pieces),
        cmocka_unit_test(test_every_byte_every_place),
        cmocka_unit_test(test_jbuf),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
