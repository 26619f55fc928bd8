/*
 * targets.h - one year's targets, read from a CSV file shaped like data/targets-2015.csv.
 *
 * The file is checked whole before anything is written: its header, every kind (sum,
 * ratio, growth, city), indicator and denominator (known to the `indicators` table),
 * growth's of_target (another non-growth target of the same file), comparators (>=, >,
 * <=, <), numbers, names. Every problem is listed with its line; if there is any, nothing
 * changes. Otherwise the year's rows in `targets` are replaced by the file's, in its order.
 * `targets import` and the seed (seed.h) both come through here.
 *
 * An optional `district` column (CONTRACT section 8) makes a row that unit's own target
 * for the city-wide row of the same code, which must be in the file, must not be of kind
 * `city`, and whose kind, indicator, denominator, scale, of_target, comparator and unit the
 * unit row repeats; one unit row per (code, district). They go to `unit_targets`
 * (aggregator/sql/004_assessment.sql) and are replaced with the year.
 */
#ifndef AGG_TARGETS_H
#define AGG_TARGETS_H

#include "buf.h"
#include "csv_load.h"

#include <libpq-fe.h>
#include <stddef.h>

#define AGG_TARGETS_FILE_MAX (1024 * 1024) /* bytes */
#define AGG_TARGETS_ROWS_MAX 2000          /* city rows and unit rows together */

enum agg_targets_result {
    AGG_TARGETS_OK = AGG_CSV_OK,
    AGG_TARGETS_DB_ERROR = AGG_CSV_DB_ERROR, /* one line in `err` */
    AGG_TARGETS_INVALID = AGG_CSV_INVALID    /* the file's problems, one "NAME:LINE: why" line
                                                each, are appended to `problems` */
};

/* Validates `data` (`len` bytes of UTF-8 CSV; `name` is used in messages only) and
 * replaces year `year`'s targets with it. Runs inside the caller's transaction, which the
 * caller must roll back on any result but AGG_TARGETS_OK. */
enum agg_targets_result agg_targets_load(PGconn *conn, int year, const char *name, const char *data,
                                         size_t len, struct ct_buf *problems, char *err,
                                         size_t err_size);

/* The year a file name carries, as in "targets-2015.csv": the last run of exactly four
 * digits in its base name. Returns 0 with `*year` set, or -1 when there is none. */
int agg_targets_year_from_name(const char *path, int *year);

#endif
