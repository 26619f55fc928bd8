/*
 * csv.h - RFC 4180 records from an in-memory buffer, as spreadsheets write them.
 *
 * Used for the collector's CSV imports and the aggregator's targets and seed files. The
 * reader takes text already in UTF-8 (see encoding.h for GBK), skips a leading BOM and blank
 * lines, accepts LF, CRLF and lone CR line ends, and quoted fields holding commas, quotes
 * ("") and line breaks. It does not allocate: each record's fields are unquoted into a
 * scratch buffer the caller provides, and point into it until the next call.
 */
#ifndef CT_CSV_H
#define CT_CSV_H

#include <stddef.h>

struct ct_csv_reader {
    const char *data; /* borrowed; must outlive the reader */
    size_t len;
    size_t pos;
    size_t line;        /* line number of the next unread line, from 1 */
    size_t record_line; /* line on which the record last returned starts */
};

struct ct_csv_field {
    const char *ptr; /* into the caller's scratch buffer, NUL-terminated */
    size_t len;
};

void ct_csv_init(struct ct_csv_reader *r, const char *data, size_t len);

/* Reads the next non-blank record. Returns 1 with `*n_fields` set, 0 at the end, or -1
 * with a reason in `err` (an unterminated quote, text after a closing quote, more than
 * `max_fields` fields, or a record larger than `scratch_size`). After -1 the reader has
 * skipped the rest of the record (line breaks inside its quotes included; after text
 * following a closing quote, to the end of that line), so a caller may report the error
 * and go on. `record_line` is where the record started. */
int ct_csv_next(struct ct_csv_reader *r, struct ct_csv_field *fields, size_t max_fields,
                size_t *n_fields, char *scratch, size_t scratch_size, char *err, size_t err_size);

#endif
