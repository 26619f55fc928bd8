/*
 * report.h - progress (progress.h) rendered for people and for programs.
 *
 * Three formats of one `struct agg_progress`: `table` for bureau staff (aligned columns
 * that count CJK characters as two cells, bilingual names, a Unicode block progress bar,
 * status optionally in colour), `csv` (RFC 4180, one row per target) and `json` (CONTRACT
 * section 4, one line). Rendering is pure: same input, same bytes, which the golden tests
 * pin. Deciding whether to colour (a terminal, NO_COLOR unset) is the caller's.
 */
#ifndef AGG_REPORT_H
#define AGG_REPORT_H

#include "buf.h"
#include "progress.h"

#include <stdbool.h>

enum agg_report_format { AGG_REPORT_TABLE, AGG_REPORT_CSV, AGG_REPORT_JSON };

/* Parses "table", "csv" or "json". Returns 0 or -1. */
int agg_report_format_parse(const char *text, enum agg_report_format *out);

/* Appends the report to `out`, ending with a newline. Returns 0, or -1 when the buffer
 * could not grow. */
int agg_report_render(const struct agg_progress *p, enum agg_report_format format, bool colour,
                      struct ct_buf *out);

/* Terminal cells taken by the UTF-8 text `s`: 2 for East Asian wide and fullwidth
 * characters, 0 for combining marks, 1 otherwise. */
size_t agg_report_text_width(const char *s);

#endif
