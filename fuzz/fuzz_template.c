/*
 * fuzz_template.c - the -T parser and template mapping on arbitrary text:
 * parse a NUL-terminated copy, and on success build every dialect/version
 * combination and write its template record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    struct mc_template_spec s;
    struct mc_template t;
    char err[128];
    uint8_t out[MC_TMPL_MAX * 8 + 4];
    if (mc_export_template_parse(spec, &s, err, sizeof(err)) == 0) {
        static const int combos[][2] = { { 9, 0 }, { 10, 0 }, { 10, 1 } };
        for (size_t c = 0; c < 3; c++)
            for (int v = 4; v <= 6; v += 2)
                if (mc_export_template_build(&s, combos[c][0], combos[c][1], v, &t, err, sizeof(err)) == 0 &&
                    mc_export_template_write(&t, out) != mc_export_template_wire_len(&t))
                    abort();
    }
    free(spec);
    return 0;
}
