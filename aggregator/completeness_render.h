/*
 * completeness_render.h - completeness (completeness.h) for `report --completeness`.
 *
 * `table` is for bureau staff: per round its period, due date and counts, then a row per
 * unit with its counts and state in Chinese and English, and the late and missing codes
 * spelled out beneath it. `csv` is a row per round and unit (codes joined with ';'), and
 * `json` the contract's document. Pure: same input, same bytes.
 */
#ifndef AGG_COMPLETENESS_RENDER_H
#define AGG_COMPLETENESS_RENDER_H

#include "buf.h"
#include "completeness.h"
#include "report.h"
#include "settings.h"

/* The words for a cell's state: "按时" / "on time", ... */
const char *agg_cell_zh(enum agg_cell cell);
const char *agg_cell_en(enum agg_cell cell);
const char *agg_cell_code(enum agg_cell cell); /* on_time, late, partial, missing, none */

/* Appends the report, ending with a newline. Returns 0, or -1 when `out` could not grow. */
int agg_completeness_render(const struct agg_completeness *c, enum agg_report_format format,
                            struct ct_buf *out);

/* `report --completeness`: connects with settings->db, loads year `year` (0: the latest
 * with rounds) or one `round` (NULL: all), prints it. Returns a CT_EXIT_* status, after
 * printing its own one-line error. */
int agg_completeness_report(const struct agg_settings *settings, int year, const char *round,
                            enum agg_report_format format);

#endif
