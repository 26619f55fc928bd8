/*
 * xlsx_report.h - a briefing (briefing.h) as an Excel workbook, through libxlsxwriter
 * (CONTRACT section 11): `report --format xlsx --output FILE` and /api/progress.xlsx.
 *
 * Sheets, each written by a function of its own:
 * - `进度 Progress`: one row per target (code, name_zh, name_en, unit, actual, target,
 *   comparator, pct, status, units_reporting, then expected_to_date and pace_pct when the
 *   briefing has the pace);
 * - `各单位 Units`: a row per unit, a column per target holding the unit's own figure, its
 *   header naming the target and its unit;
 * - `考核 Assessment`: section 8's ranking, only when the briefing has it: a row per unit,
 *   then a column per target assigned to any unit, holding that unit's pct.
 * Figures are numeric cells (the decimal text read by strtod; libxlsxwriter keeps 16
 * significant digits), shown with as many decimals as the text has; a missing value is an
 * empty cell. Row 1 is the header, frozen and repeated on every printed page; column
 * widths follow the widest text, CJK characters counting two.
 *
 * libxlsxwriter writes only to files, so both entry points go through one: a file is
 * written beside its destination and renamed over it (never half a workbook at `path`),
 * and the in-memory form uses a private directory (mode 0700) removed before it returns.
 */
#ifndef AGG_XLSX_REPORT_H
#define AGG_XLSX_REPORT_H

#include "briefing.h"
#include "buf.h"

#include <stddef.h>

/* The largest workbook agg_xlsx_render() hands back (35 targets x 17 units is ~12 KiB). */
#define AGG_XLSX_MAX_BYTES (8u << 20)

/* Writes the workbook to `path`, replacing it whole, with the mode the process umask gives
 * a new file (read with umask(), so not for threaded callers). Returns 0, or -1 with one
 * line in `err` naming the file and the problem. */
int agg_xlsx_write_file(const struct agg_briefing *b, const char *path, char *err, size_t err_size);

/* Appends the workbook's bytes to `out` (at most AGG_XLSX_MAX_BYTES). Returns 0, or -1
 * with one line in `err`. Safe to call from several threads at once. */
int agg_xlsx_render(const struct agg_briefing *b, struct ct_buf *out, char *err, size_t err_size);

#endif
