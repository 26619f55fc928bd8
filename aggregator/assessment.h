/*
 * assessment.h - the units' assessment (考核, CONTRACT section 8): each unit's score over its
 * own targets, and the ranking, read from the store and rendered.
 *
 * The scoring rule lives in SQL alone (citytally_assessment in
 * aggregator/sql/004_assessment.sql); this module reads its result, each unit's assigned
 * targets (citytally_unit_scores, target_scope 'unit') and the targets that any unit holds
 * (the scorecard's columns), and renders `report --assessment` (table, csv, json) and the
 * /api/assessment document. Rendering is pure: same input, same bytes.
 *
 * A `struct agg_assessment` owns everything it points to (the PGresults it was read from);
 * free it with agg_assessment_free(). Numbers are PostgreSQL's exact decimal text, or NULL
 * where there is no value.
 */
#ifndef AGG_ASSESSMENT_H
#define AGG_ASSESSMENT_H

#include "buf.h"
#include "report.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* One assigned target of a unit: its figure against its own target. */
struct agg_assessment_item {
    const char *code;
    const char *actual; /* NULL: no value */
    const char *target;
    const char *pct;    /* NULL: no value */
    const char *status; /* met, on_track, behind, no_data */
};

struct agg_assessment_unit {
    const char *rank; /* NULL: no score, no rank */
    const char *district, *name_zh, *name_en;
    const char *score; /* NULL: no target assigned */
    int assigned, met, on_track, behind, no_data;
    struct agg_assessment_item *items; /* in the targets file's order */
    size_t n_items;
};

/* A target that at least one unit holds a target of: a column of the scorecard. */
struct agg_assessment_column {
    const char *code, *name_zh, *name_en, *unit;
};

struct agg_assessment {
    int year;
    int64_t as_of_ms;
    struct agg_assessment_unit *units; /* ranked; the units without a score last */
    size_t n_units;
    struct agg_assessment_column *columns; /* in the targets file's order */
    size_t n_columns;
    /* private: what the strings above point into */
    PGresult *res_units, *res_items, *res_columns;
    struct agg_assessment_item *items_storage;
};

/* Reads year `year`'s assessment as of `as_of_ms` (ms since the epoch). Returns 0 with
 * `*out` set, or -1 with one line in `err` (no targets for the year, a database error).
 * Nothing is written. */
int agg_assessment_load(PGconn *conn, int year, int64_t as_of_ms, struct agg_assessment **out,
                        char *err, size_t err_size);

void agg_assessment_free(struct agg_assessment *a);

/* The item of `unit` for target `code`, or NULL when the unit holds no target of it. */
const struct agg_assessment_item *agg_assessment_item(const struct agg_assessment_unit *unit,
                                                      const char *code);

/* Appends the CONTRACT section 8 document to `out`: one line, no trailing newline. Returns
 * 0, or -1 when the buffer could not grow. */
int agg_assessment_json(const struct agg_assessment *a, struct ct_buf *out);

/* Appends `report --assessment` in `format` to `out`, ending with a newline. */
int agg_assessment_render(const struct agg_assessment *a, enum agg_report_format format,
                          struct ct_buf *out);

#endif
