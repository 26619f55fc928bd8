/*
 * diff.h - what changed between two times, and which updates moved it (CONTRACT section 11).
 *
 * The figures come from SQL (aggregator/sql/007_briefings.sql): citytally_diff lists the
 * targets whose actual differs between as of FROM and as of TO. The updates observed in
 * (FROM, TO] behind each, with each one's contribution (its effect on its unit's value: an
 * add, its value; a set, its value less the unit's value just before it, so a sum target's
 * contributions add up to its delta exactly), come from diff_listing.c, which replays the
 * range in C. Both are read in one snapshot. This module renders `report --diff` (table,
 * json) and GET /api/diff (json).
 *
 * A `struct agg_diff` owns the PGresult and the listing its strings point into;
 * agg_diff_free() frees them.
 * Numbers stay PostgreSQL's exact decimal text; NULL where there is no value.
 */
#ifndef AGG_DIFF_H
#define AGG_DIFF_H

#include "buf.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct agg_diff_listing;

struct agg_diff_update {
    const char *agent, *district, *seq, *indicator, *op, *value, *note; /* note: NULL */
    int64_t observed_ms, received_ms;
    const char *contribution; /* NULL for ratio and growth targets */
};

struct agg_diff_target {
    const char *code, *name_zh, *name_en, *unit, *kind;
    const char *before, *after, *delta; /* NULL: no value */
    struct agg_diff_update *updates;    /* in section 2's key order */
    size_t n_updates;
};

struct agg_diff {
    int year;
    int64_t from_ms, to_ms;
    struct agg_diff_target *targets; /* in the targets file's order */
    size_t n_targets;
    /* private */
    PGresult *res_targets;
    struct agg_diff_listing *listing; /* what the targets' updates point into */
};

/* Reads year `year`'s diff between as of `from_ms` and as of `to_ms` (from < to). `helper`
 * (NULL, or a second idle connection to the same database) reads half of a long listing at
 * the same time; see diff_listing.h. Returns 0 with `*out`, 1 with `err` when the year has
 * no targets, or -1 with one line in `err` (from not before to, a database error). Nothing
 * is written. */
int agg_diff_load(PGconn *conn, PGconn *helper, int year, int64_t from_ms, int64_t to_ms,
                  struct agg_diff **out, char *err, size_t err_size);

void agg_diff_free(struct agg_diff *d);

/* The section 11 document, one line without a newline; each update also carries
 * "received_at" and "contribution". Returns 0, or -1 when `out` could not grow. */
int agg_diff_json(const struct agg_diff *d, struct ct_buf *out);

/* For people: each changed target with before -> after (delta), then its updates. */
int agg_diff_table(const struct agg_diff *d, struct ct_buf *out);

#endif
