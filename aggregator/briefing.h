/*
 * briefing.h - the one document the bureau's briefings are made from: the Excel workbook
 * (xlsx_report.h) and the printable bulletin (bulletin.h), CONTRACT section 11.
 *
 * A `struct agg_briefing` holds a year's progress as of a time (progress.h) and the
 * reporting units, which are always there, and four optional sections fed by other parts
 * of the system: each target's pace and the assessment (section 8), the completeness of
 * the last due round (section 9) and what changed since the previous month end (section
 * 11). A NULL section is left out of every document: no heading, no column, no placeholder.
 * Each document section is rendered by a function of its own that reads only its part.
 *
 * agg_briefing_load() returns a briefing the caller owns and frees with
 * agg_briefing_free(); everything it points to lives as long as it does (strings borrowed
 * from the loader's PGresults). Numbers stay PostgreSQL's exact decimal text, NULL where
 * there is no value, as in progress.h. Renderers only read a briefing.
 */
#ifndef AGG_BRIEFING_H
#define AGG_BRIEFING_H

#include "assessment.h"
#include "progress.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_briefing_unit {
    const char *id, *name_zh, *name_en;
};

/* Section 9's /api/completeness, one round (the last one whose due day has passed). */
struct agg_briefing_completeness_unit {
    const char *district;
    int expected, reported, on_time;
    const char *const *missing; /* indicator codes */
    size_t n_missing;
};

struct agg_briefing_completeness {
    const char *round, *period_end, *due;
    int expected, reported, on_time;
    const struct agg_briefing_completeness_unit *units;
    size_t n_units;
};

/* Section 11's /api/diff from the previous month end to as_of. */
struct agg_briefing_change_update {
    const char *district, *indicator, *op, *value, *observed_at, *note; /* note may be NULL */
};

struct agg_briefing_change {
    const char *code, *before, *after, *delta;
    const struct agg_briefing_change_update *updates;
    size_t n_updates;
};

struct agg_briefing_changes {
    int64_t from_ms, to_ms;
    const struct agg_briefing_change *targets;
    size_t n_targets;
};

struct agg_briefing {
    const struct agg_progress *progress;   /* the city's figures; never NULL */
    const struct agg_briefing_unit *units; /* every reporting unit, districts.csv order */
    size_t n_units;
    /* Optional sections: NULL (false) leaves them out. */
    bool paced; /* show each target's expected_to_date and pace_pct (in progress) */
    const struct agg_assessment *assessment; /* section 8's ranking (assessment.h) */
    const struct agg_briefing_completeness *completeness;
    const struct agg_briefing_changes *changes;
    /* private: what the pointers above point into */
    struct agg_progress *progress_owned;
    struct agg_assessment *assessment_owned;
    PGresult *res_units;
    struct agg_briefing_unit *units_storage;
};

/* What a briefing is of. */
struct agg_briefing_query {
    int year;
    int64_t as_of_ms;
};

/* Loads the briefing for `q` (the city-wide figures). Returns 0 with `*out` set, or -1
 * with one line in `err` (no targets for the year, a database error). Reads only. */
int agg_briefing_load(PGconn *conn, const struct agg_briefing_query *q, struct agg_briefing **out,
                      char *err, size_t err_size);

void agg_briefing_free(struct agg_briefing *b);

/* The end (last millisecond, UTC+8) of the month before the one that holds `as_of_ms`:
 * the latest month end strictly before as_of, where "what changed since the previous
 * month end" starts. 2015-07-15 -> 2015-06-30T23:59:59.999+08:00; 2015-06-30 (its end)
 * -> 2015-05-31's end. */
int64_t agg_briefing_previous_month_end(int64_t as_of_ms);

/* as_of for people: "2015-06-30" when it is a day's end (what a bare date means), else
 * the full ISO 8601 time of timefmt.h. */
void agg_briefing_as_of_text(int64_t as_of_ms, char *buf, size_t size);

/* Counts of progress->targets by status: met, on_track, behind, no_data (anything else
 * counts as no_data). */
void agg_briefing_status_counts(const struct agg_progress *p, size_t counts[4]);

#endif
