#include "csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void ct_csv_init(struct ct_csv_reader *r, const char *data, size_t len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->line = 1;
    r->record_line = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
}

/* Consumes one line end at pos (LF, CRLF or CR). Returns true if there was one. */
static bool take_line_end(struct ct_csv_reader *r)
{
    if (r->pos >= r->len)
        return false;
    if (r->data[r->pos] == '\n') {
        r->pos++;
    } else if (r->data[r->pos] == '\r') {
        r->pos++;
        if (r->pos < r->len && r->data[r->pos] == '\n')
            r->pos++;
    } else {
        return false;
    }
    r->line++;
    return true;
}

/* Skips to the start of the next record. `quoted` says whether pos is inside a quoted
 * field, whose line breaks do not end the record (so a bad multi-line note is skipped
 * whole, not read line by line as records). */
static void skip_rest_of_record(struct ct_csv_reader *r, bool quoted)
{
    while (r->pos < r->len) {
        char c = r->data[r->pos];
        if (c == '"') {
            quoted = !quoted; /* "" inside quotes toggles twice */
            r->pos++;
        } else if (take_line_end(r)) {
            if (!quoted)
                return;
        } else {
            r->pos++;
        }
    }
}

/* Skips to the next line end; for text after a closing quote, where no quote can be
 * trusted any more. */
static void skip_rest_of_line(struct ct_csv_reader *r)
{
    while (r->pos < r->len && !take_line_end(r))
        r->pos++;
}

static int fail(struct ct_csv_reader *r, bool quoted, char *err, size_t err_size, const char *why)
{
    snprintf(err, err_size, "%s", why);
    skip_rest_of_record(r, quoted);
    return -1;
}

int ct_csv_next(struct ct_csv_reader *r, struct ct_csv_field *fields, size_t max_fields,
                size_t *n_fields, char *scratch, size_t scratch_size, char *err, size_t err_size)
{
    size_t out = 0, n = 0;

    while (take_line_end(r))
        ; /* blank lines */
    if (r->pos >= r->len)
        return 0;
    r->record_line = r->line;

    for (;;) {
        size_t start = out;
        if (n == max_fields)
            return fail(r, false, err, err_size, "too many fields");
        if (r->pos < r->len && r->data[r->pos] == '"') {
            size_t opened_on = r->line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    snprintf(err, err_size, "quoted field opened on line %zu is never closed",
                             opened_on);
                    return -1;
                }
                char c = r->data[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->data[r->pos] == '"') {
                        r->pos++;
                    } else {
                        break;
                    }
                } else if (c == '\n' ||
                           (c == '\r' && !(r->pos < r->len && r->data[r->pos] == '\n'))) {
                    r->line++;
                } else if (c == '\r') {
                    continue; /* CRLF inside quotes becomes LF, as Excel means it */
                }
                if (out + 1 >= scratch_size)
                    return fail(r, true, err, err_size, "record too long");
                scratch[out++] = c;
            }
            if (r->pos < r->len && r->data[r->pos] != ',' && r->data[r->pos] != '\n' &&
                r->data[r->pos] != '\r') {
                snprintf(err, err_size, "unexpected text after a closing quote");
                skip_rest_of_line(r);
                return -1;
            }
        } else {
            while (r->pos < r->len) {
                char c = r->data[r->pos];
                if (c == ',' || c == '\n' || c == '\r')
                    break;
                if (out + 1 >= scratch_size)
                    return fail(r, false, err, err_size, "record too long");
                scratch[out++] = c;
                r->pos++;
            }
        }
        if (out + 1 > scratch_size)
            return fail(r, false, err, err_size, "record too long");
        scratch[out++] = '\0';
        fields[n].ptr = scratch + start;
        fields[n].len = out - start - 1;
        n++;
        if (r->pos < r->len && r->data[r->pos] == ',') {
            r->pos++;
            continue;
        }
        take_line_end(r);
        break;
    }
    *n_fields = n;
    return 1;
}
