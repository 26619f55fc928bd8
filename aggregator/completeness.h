/*
 * completeness.h - who reported each round's figures, and on time (CONTRACT section 9).
 *
 * The rules are SQL (aggregator/sql/005_rounds.sql, citytally_completeness): a unit has
 * reported indicator I for round R of year Y when it has an update for period Y observed
 * within R's window (after the previous round's period_end day, up to the end of R's, in
 * UTC+8), on time when the collector queued it by the end of R's due day (the commit time
 * where the collector did not say). This module reads that per (round, unit, indicator),
 * counts it per unit and per round, and prints the contract's JSON document; its other
 * faces are completeness_render.h (table, csv) and the dashboard page.
 *
 * A `struct agg_completeness` owns everything it points to (the PGresults it was read
 * from, and the arrays over them); free it with agg_completeness_free().
 */
#ifndef AGG_COMPLETENESS_H
#define AGG_COMPLETENESS_H

#include "buf.h"

#include <libpq-fe.h>
#include <stddef.h>

/* How one unit stands in one round, as the dashboard colours it. */
enum agg_cell {
    AGG_CELL_NOT_EXPECTED, /* the round asks nothing of this unit */
    AGG_CELL_ON_TIME,      /* everything expected reported, all on time */
    AGG_CELL_LATE,         /* everything reported, some of it late */
    AGG_CELL_PARTIAL,      /* some reported, some missing */
    AGG_CELL_MISSING,      /* nothing reported */
};

struct agg_completeness_unit {
    const char *district, *name_zh, *name_en;
    int expected, reported, on_time; /* indicator counts */
    const char **late;               /* codes reported, but only after the due day */
    size_t n_late;
    const char **missing; /* codes not reported */
    size_t n_missing;
};

struct agg_completeness_round {
    const char *round, *period_end, *due; /* due, period_end: YYYY-MM-DD */
    int expected, reported, on_time;      /* indicator-unit pairs, over all units */
    struct agg_completeness_unit *units;  /* every unit, in districts.csv order */
    size_t n_units;
};

struct agg_completeness {
    int year;
    struct agg_completeness_round *rounds; /* in calendar order */
    size_t n_rounds;
    /* private: what the strings above point into */
    PGresult *res_rounds, *res_units, *res_pairs;
    struct agg_completeness_unit *unit_storage;
    const char **code_storage;
};

enum agg_completeness_result {
    AGG_COMPLETENESS_OK = 0,
    AGG_COMPLETENESS_DB_ERROR = -1,  /* one line in `err` */
    AGG_COMPLETENESS_NOT_FOUND = -2, /* no rounds for the year, or no such round: `err` says
                                        which exist */
};

/* The latest year with rounds; 0 when the calendar is empty. Returns 0 or -1 with `err`. */
int agg_completeness_latest_year(PGconn *conn, int *year, char *err, size_t err_size);

/* Reads year `year`'s rounds, or only `round` (borrowed; NULL for all). Nothing is
 * written. */
enum agg_completeness_result agg_completeness_load(PGconn *conn, int year, const char *round,
                                                   struct agg_completeness **out, char *err,
                                                   size_t err_size);

void agg_completeness_free(struct agg_completeness *c);

enum agg_cell agg_completeness_cell(const struct agg_completeness_unit *u);

/* Appends CONTRACT section 9's document: one line, no trailing newline. Returns 0, or -1
 * when the buffer could not grow. */
int agg_completeness_json(const struct agg_completeness *c, struct ct_buf *out);

#endif
