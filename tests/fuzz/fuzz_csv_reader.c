/*
 * fuzz_csv_reader.c - libFuzzer target for the CSV reader (common/csv.c).
 *
 * The first input byte picks the limits (at most how many fields, how big a scratch
 * buffer), the rest is the file. The reader must never read past the input or write past
 * the scratch (ASan watches both: the input and the scratch are allocated to size), must
 * make progress on every call, and must return fields that lie inside the scratch and are
 * terminated, on line numbers that never go backwards.
 *
 * Seeds: tests/fuzz/corpus/fuzz_csv_reader/ (text files; the first byte is the limits).
 */
#include "csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ct_csv_field fields[16];
    struct ct_csv_reader r;
    size_t max_fields, scratch_size, n_fields, line_ends = 0, last_pos, last_line = 0, calls = 0;
    char err[128], *scratch, *text;
    int rc;

    if (size == 0)
        return 0;
    max_fields = 1 + (data[0] & 0x0f);              /* 1..16 */
    scratch_size = 1 + (size_t)(data[0] >> 4) * 37; /* 1..556 */
    text = malloc(size - 1 > 0 ? size - 1 : 1);
    scratch = malloc(scratch_size);
    CHECK(text != NULL && scratch != NULL);
    memcpy(text, data + 1, size - 1);
    for (size_t i = 0; i + 1 < size; i++) {
        if (text[i] == '\n' || (text[i] == '\r' && (i + 2 == size || text[i + 1] != '\n')))
            line_ends++;
    }

    ct_csv_init(&r, text, size - 1);
    last_pos = r.pos;
    while ((rc = ct_csv_next(&r, fields, max_fields, &n_fields, scratch, scratch_size, err,
                             sizeof(err))) != 0) {
        CHECK(rc == 1 || rc == -1);
        CHECK(++calls <= size); /* a record or an error consumes at least a byte */
        CHECK(r.pos > last_pos && r.pos <= r.len);
        CHECK(r.record_line >= 1 && r.record_line >= last_line && r.record_line <= r.line);
        CHECK(r.line <= line_ends + 1);
        last_pos = r.pos;
        last_line = r.record_line;
        if (rc == -1) {
            CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
            continue;
        }
        CHECK(n_fields >= 1 && n_fields <= max_fields);
        for (size_t i = 0; i < n_fields; i++) {
            CHECK(fields[i].ptr >= scratch);
            CHECK(fields[i].ptr + fields[i].len < scratch + scratch_size);
            CHECK(fields[i].ptr[fields[i].len] == '\0');
            CHECK(i == 0 || fields[i].ptr > fields[i - 1].ptr + fields[i - 1].len);
        }
    }
    CHECK(r.pos == r.len);
    CHECK(ct_csv_next(&r, fields, max_fields, &n_fields, scratch, scratch_size, err, sizeof(err)) ==
          0); /* the end is sticky */
    free(scratch);
    free(text);
    return 0;
}
