/*
 * series.h - one target's curve through a year (CONTRACT section 11: /api/series).
 *
 * The points come from SQL (citytally_series in aggregator/sql/007_briefings.sql): one per
 * month or week end from the start of the year up to the earlier of now and its end, each
 * exactly citytally_progress at that time (computed for the target's indicators only), with
 * `expected` (section 8: pro rata, sums of flows aimed upwards; else NULL); and last year's
 * curve at last year's step ends. The dashboard draws them (svg_chart.h).
 *
 * A `struct agg_series` owns the PGresult its strings point into; agg_series_free().
 */
#ifndef AGG_SERIES_H
#define AGG_SERIES_H

#include "buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_series_point {
    int64_t at_ms;
    const char *actual;   /* NULL: no value */
    const char *expected; /* NULL: not paced (and always for last year) */
};

struct agg_series {
    int year;
    bool weekly;
    const char *code;
    struct agg_series_point *points, *previous; /* year Y, then Y-1 */
    size_t n_points, n_previous;
    /* private */
    PGresult *res;
    char *code_copy;
    struct agg_series_point *storage;
};

/* Parses "month" or "week" (NULL or "": month). Returns 0 or -1. */
int agg_series_step_parse(const char *text, bool *weekly);

/* Reads target `code` of year `year`, as known at `known_at_ms` (AGG_KNOWN_AT_NOW: now).
 * Returns 0 with `*out`, 1 with "no target ..." in `err` when the year has no such target,
 * or -1 with `err` on a database error. */
int agg_series_load(PGconn *conn, int year, const char *code, bool weekly, int64_t known_at_ms,
                    struct agg_series **out, char *err, size_t err_size);

void agg_series_free(struct agg_series *s);

/* The section 11 document, one line without a newline. */
int agg_series_json(const struct agg_series *s, struct ct_buf *out);

#endif
