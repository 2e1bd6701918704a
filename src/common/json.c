/* json.c - JSON string escaping (see json.h). */
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    uint32_t cp;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (k > n)
        return 0;
    cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp > 0x10ffff)
        return 0;
    return k;
}

/* Bytes that go out as they are: printable ASCII other than '"' and '\\'. */
static int plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

void mc_json_string(FILE *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    putc_unlocked('"', out);
    for (size_t i = 0; i < n;) {
        /* a run of plain bytes in one write: a per-byte stdio call (and its lock) cost more than the escaping */
        size_t j = i;
        while (j < n && plain(s[j]))
            j++;
        if (j > i) {
            fwrite_unlocked(s + i, 1, j - i, out);
            i = j;
            continue;
        }
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            putc_unlocked('\\', out);
            putc_unlocked(c, out);
            i++;
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_len(s + i, n - i);
            if (k) {
                fwrite_unlocked(s + i, 1, k, out);
                i += k;
            } else {
                fputs_unlocked("\\ufffd", out);
                i++;
            }
        }
    }
    putc_unlocked('"', out);
}
