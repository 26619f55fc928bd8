/*
 * fuzz_render.c - libFuzzer target for every renderer of a progress document: the
 * dashboard, the report's table, CSV and JSON, the progress feed, the bulletin, and (for
 * inputs that begin with 'X') the Excel workbook.
 *
 * The input bytes pick the document (tests/support/progress_gen.c: figures missing, zero,
 * negative, beyond a double, NaN); the checks are the property test's
 * (tests/unit/test_render_props.c). Any failed check aborts, so libFuzzer keeps the input.
 *
 * Seeds: tests/fuzz/corpus/fuzz_render/ (any bytes make a document).
 */
#include "progress_gen.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pgen *g = malloc(sizeof(*g)); /* too large for the stack */
    char why[256];

    if (g == NULL)
        abort();
    pgen_from_bytes(g, data, size);
    if (pgen_check_renderers(g, size > 0 && data[0] == 0x58, why, sizeof(why)) != 0) {
        fprintf(stderr, "fuzz_render: %s\n", why);
        abort();
    }
    free(g);
    return 0;
}
