/*
 * trends.h - what the dashboard draws besides the figures: every target's curve through
 * the year, and which figures were revised after a chosen time (CONTRACT section 11).
 *
 * Both come from SQL in one query each (aggregator/sql/007_briefings.sql):
 * citytally_series_all (the points of citytally_series for every target at once, one
 * citytally_progress per step end rather than one series per target) and
 * citytally_revised (the targets whose figure as of as_of differs from the same figure
 * as known at `since`).
 *
 * A `struct agg_trends` / `struct agg_revisions` owns the PGresult its strings point into;
 * free them with agg_trends_free() / agg_revisions_free(). Figures are PostgreSQL's
 * decimal text, NULL where there is no value.
 */
#ifndef AGG_TRENDS_H
#define AGG_TRENDS_H

#include "series.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct agg_trend {
    const char *code;
    struct agg_series_point *points, *previous; /* year Y's month ends, then Y-1's */
    size_t n_points, n_previous;
};

struct agg_trends {
    struct agg_trend *targets; /* ordered by code */
    size_t n_targets;
    /* private */
    PGresult *res;
    struct agg_series_point *storage;
};

/* Reads year `year`'s month-end series of every target up to the earlier of `until_ms`,
 * now and the year's end. Returns 0 with `*out`, or -1 with one line in `err`. */
int agg_trends_load(PGconn *conn, int year, int64_t until_ms, struct agg_trends **out, char *err,
                    size_t err_size);

/* The target's curve, or NULL when it has none. */
const struct agg_trend *agg_trends_find(const struct agg_trends *t, const char *code);

void agg_trends_free(struct agg_trends *t);

struct agg_revision {
    const char *code;
    const char *before; /* the figure as known at `since`; NULL: none then */
};

struct agg_revisions {
    int64_t since_ms;
    struct agg_revision *items;
    size_t n;
    /* private */
    PGresult *res;
};

/* Reads the targets of year `year` whose figure as of `as_of_ms` was changed by updates
 * received after `since_ms`. Returns 0 with `*out`, or -1 with one line in `err`. */
int agg_revisions_load(PGconn *conn, int year, int64_t as_of_ms, int64_t since_ms,
                       struct agg_revisions **out, char *err, size_t err_size);

/* The target's revision, or NULL when its figure was not revised (or `r` is NULL). */
const struct agg_revision *agg_revisions_find(const struct agg_revisions *r, const char *code);

void agg_revisions_free(struct agg_revisions *r);

#endif
