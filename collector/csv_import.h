/*
 * csv_import.h - a CSV file's bytes turned into validated updates, whole file or nothing.
 *
 * The file format is CONTRACT section 5: a header row naming `indicator` and `value`, and
 * optionally `period`, `op`, `observed_at` and `note`, in any order and any letter case.
 * The bytes may be UTF-8 (with or without BOM) or GB18030/GBK (common/encoding.h); records
 * follow RFC 4180 with CRLF or LF (common/csv.h). An indicator is its code or its Chinese
 * name as the cached catalog spells it.
 *
 * Every line is checked, and every bad line is reported ("line 7: value '12x': not a
 * number"), so an operator fixes a file in one go. Only a file with no bad line yields
 * updates; the caller queues them in one outbox transaction.
 *
 * Owns: a `struct col_import` owns the updates and the text they point to (indicator codes
 * and notes live in its arena), and the error report. No file I/O here: the caller reads
 * the file and passes its bytes, which makes the module easy to test and to fuzz.
 */
#ifndef COL_CSV_IMPORT_H
#define COL_CSV_IMPORT_H

#include "buf.h"
#include "encoding.h"
#include "outbox.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COL_IMPORT_MAX_LISTED_ERRORS 1000 /* bad lines listed; the rest are counted */
#define COL_IMPORT_MAX_RECORD (64 * 1024) /* bytes in one record */

struct col_import {
    struct col_new_update *updates; /* valid only when col_csv_import() returned 0 */
    size_t n_updates;
    size_t cap_updates;
    struct ct_buf text;   /* indicator codes and notes; updates point into it */
    struct ct_buf errors; /* one "line N: why" per line, each ending in '\n' */
    size_t n_errors;      /* bad lines, including those not listed */
    enum ct_encoding encoding;
    size_t n_lines;                 /* physical lines read */
    bool needs_catalog;             /* a Chinese name met an empty catalog */
    struct ct_text_converter *conv; /* kept open across files */
};

/* An empty result; NULL when out of memory. */
struct col_import *col_import_new(void);
void col_import_free(struct col_import *imp);

/* Parses and validates `len` bytes of a CSV file. `default_at_ms` is the observation time
 * of rows without `observed_at` (the file's modification time). `catalog` (borrowed, may
 * be NULL) resolves Chinese names and refuses unknown codes; without one, any well-formed
 * code passes and the aggregator decides. `district` is the unit the collector speaks for
 * (indicators reported by `city` only are refused for others). Returns 0 with the updates
 * in `imp`, or -1 with every problem in imp->errors and no updates. `imp` is reset first,
 * so one can be reused. */
int col_csv_import(struct col_import *imp, const char *bytes, size_t len, int64_t default_at_ms,
                   const struct ct_catalog_entry *catalog, size_t n_catalog, const char *district);

/* Resolves what a person typed as an indicator (a code in any case, or a Chinese name) to
 * its code in `code`. Returns 0, or -1 with the reason in `err`; -2 when it is not a code
 * and no catalog is cached to look it up in. Shared with `submit`. */
int col_resolve_indicator(const char *text, const struct ct_catalog_entry *catalog,
                          size_t n_catalog, const char *district, char *code, size_t code_size,
                          char *err, size_t err_size);

#endif
