/*
 * calendar.h - reporting rounds, read from a CSV file shaped like data/calendar-2015.csv
 * (CONTRACT section 9): year,round,period_end,due,indicators.
 *
 * The file is checked whole before anything is written: the exact header, every year,
 * round name, date (a real YYYY-MM-DD; period_end inside its year; due not before
 * period_end), the indicators (`*`, or known codes separated by `;`, none twice), no
 * round twice in a year, and each year's rounds in the order of their period_end. Every
 * problem is listed as one "NAME:LINE: why" line (csv_load.h); if there is any, nothing
 * changes. Otherwise each year the file names has its rounds replaced by the file's, in its
 * order.
 * `calendar import` and the seed (seed.h) both come through here.
 */
#ifndef AGG_CALENDAR_H
#define AGG_CALENDAR_H

#include "buf.h"
#include "csv_load.h"

#include <libpq-fe.h>
#include <stddef.h>

#define AGG_CALENDAR_FILE_MAX (256 * 1024) /* bytes */
#define AGG_CALENDAR_ROWS_MAX 400
#define AGG_CALENDAR_ROUND_MAX 16 /* bytes of a round's name */

enum agg_calendar_result {
    AGG_CALENDAR_OK = AGG_CSV_OK,
    AGG_CALENDAR_DB_ERROR = AGG_CSV_DB_ERROR, /* one line in `err` */
    AGG_CALENDAR_INVALID = AGG_CSV_INVALID    /* the file's problems are in `problems` */
};

/* Validates `data` (`len` bytes of UTF-8 CSV; `name` is used in messages only) and
 * replaces the rounds of every year it names. Runs inside the caller's transaction, which
 * the caller must roll back on any result but AGG_CALENDAR_OK. `*n_rows` (may be NULL)
 * receives the number of rounds loaded. */
enum agg_calendar_result agg_calendar_load(PGconn *conn, const char *name, const char *data,
                                           size_t len, struct ct_buf *problems, size_t *n_rows,
                                           char *err, size_t err_size);

#endif
