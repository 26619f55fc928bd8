/*
 * progress.h - progress against one year's targets, read from the store.
 *
 * The figures themselves are computed in SQL (aggregator/sql/003_progress.sql:
 * citytally_progress, CONTRACT section 4; 004_assessment.sql adds each figure's pace and
 * each unit's figure against its own target, section 8); this module asks
 * for them, adds the targets' names and units, and builds the one document that
 * `report --format json`, the HTTP API and the dashboard all serve.
 *
 * A `struct agg_progress` owns everything it points to (the PGresults it was read from);
 * free it with agg_progress_free(). Numbers are kept as PostgreSQL's exact decimal text
 * (trim_scale'd, e.g. "0.3"), or NULL where there is no value, so nothing passes through
 * a double on its way to JSON.
 */
#ifndef AGG_PROGRESS_H
#define AGG_PROGRESS_H

#include "buf.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct agg_progress_unit {
    const char *district; /* unit id */
    const char *value;    /* the unit's own figure for the target; NULL: none */
    /* Pace (CONTRACT section 8) against the unit's own target where it has one, else the
     * city's; NULL where the target is not paced or there is no value. */
    const char *expected_to_date, *pace_pct;
};

struct agg_progress_target {
    const char *code;
    const char *name_zh, *name_en, *unit;
    const char *kind;       /* sum, ratio, growth, city */
    const char *actual;     /* NULL: no value */
    const char *target;     /* never NULL */
    const char *comparator; /* >=, >, <=, < */
    const char *pct;        /* NULL when actual is NULL (or target is 0) */
    const char *status;     /* met, on_track, behind, no_data */
    int units_reporting;
    struct agg_progress_unit *units; /* the units with a figure behind this target, in
                                        districts.csv order */
    size_t n_units;
    const char *expected_to_date; /* pro rata by now (CONTRACT section 8); NULL: not paced */
    const char *pace_pct;         /* 100 x actual / expected_to_date; NULL: no value */
    const char *target_scope;     /* with a district: "unit" (its own target) or "city";
                                     NULL for the city's figures */
};

struct agg_progress {
    int year;
    int64_t as_of_ms;
    const char *district; /* NULL: the city; else the unit every figure is restricted to */
    struct agg_progress_target *targets; /* in the targets file's order */
    size_t n_targets;
    /* private: what the strings above point into */
    PGresult *res_targets, *res_units;
    char *district_copy;
    struct agg_progress_unit *units_storage;
};

/* Reads year `year`'s progress as of `as_of_ms` (ms since the epoch). With `district`
 * (borrowed), every figure is that unit's own: its value (sum, city), its ratio, its growth,
 * compared by the same rules with its own target where it has one, else with the city's
 * (target_scope says which), and units_reporting is 0 or 1.
 * Returns 0 with `*out` set, or -1 with one line in `err` (no targets for the year, an
 * unknown district, a database error). The connection must not be inside a failed
 * transaction; nothing is written. */
int agg_progress_load(PGconn *conn, int year, int64_t as_of_ms, const char *district,
                      struct agg_progress **out, char *err, size_t err_size);

/* agg_progress_load() as known at `known_at_ms` (CONTRACT section 11): only updates
 * committed at or before it count; AGG_KNOWN_AT_NOW (known_at.h) is agg_progress_load().
 * The document is the same shape, so a briefing made at K is reproduced byte for byte by
 * as_of D, known_at K. */
int agg_progress_load_known(PGconn *conn, int year, int64_t as_of_ms, int64_t known_at_ms,
                            const char *district, struct agg_progress **out, char *err,
                            size_t err_size);

void agg_progress_free(struct agg_progress *p);

/* Appends the `report --format json` document of CONTRACT section 4 to `out`: one line,
 * no trailing newline. Returns 0, or -1 when the buffer could not grow. */
int agg_progress_json(const struct agg_progress *p, struct ct_buf *out);

#endif
