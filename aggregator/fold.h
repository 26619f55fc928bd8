/*
 * fold.h - the current values of a commit's accepted updates, summarised in C.
 *
 * After the daemon COPYs a group of batches into `updates`, current_values and
 * daily_values must follow in the same transaction (aggregator/sql/002_current_values.sql).
 * Rather than have PostgreSQL sort and aggregate every row again in a trigger, the daemon
 * already holds the rows: it summarises them per (unit, indicator, period, UTC+8 day) --
 * count, newest set, oldest and newest add, exact sums of the adds (common/decsum.h) -- and
 * hands PostgreSQL one row per group through citytally_fold(). Its session sets
 * citytally.fold = 'daemon' so the trigger leaves these COPYs alone.
 *
 * The fold owns a growing array of borrowed row references and a text buffer, reused
 * across commits; the rows themselves belong to the group being committed and must stay
 * alive until agg_fold_groups() returns.
 */
#ifndef AGG_FOLD_H
#define AGG_FOLD_H

#include "buf.h"
#include "wire.h"

#include <stddef.h>

struct agg_fold_row {
    const char *agent;    /* borrowed from the batch */
    const char *district; /* borrowed from the batch */
    const struct ct_update *u;
    int day; /* UTC+8 days since 1970-01-01 */
};

struct agg_fold {
    struct agg_fold_row *rows;
    size_t n_rows, cap_rows;
    struct ct_buf groups; /* the citytally_fold_group[] literal */
    size_t n_groups;
};

void agg_fold_init(struct agg_fold *f);
void agg_fold_release(struct agg_fold *f);
void agg_fold_reset(struct agg_fold *f);

/* Notes one accepted update. Returns 0 or -1 (out of memory). */
int agg_fold_add(struct agg_fold *f, const char *agent, const char *district,
                 const struct ct_update *u);

/* The statement that folds a commit into current_values and daily_values, in the open
 * transaction; its one parameter is the literal agg_fold_groups() returns. */
#define AGG_FOLD_SQL "SELECT citytally_fold($1::citytally_fold_group[])"

/* Summarises the noted rows into a citytally_fold_group[] literal, one element per group.
 * Returns it, owned by the fold and valid until the next agg_fold_reset() or
 * agg_fold_groups(); or NULL: with *nothing_to_do set when no row was noted, otherwise out
 * of memory, the reason in `err`. */
const char *agg_fold_groups(struct agg_fold *f, int *nothing_to_do, char *err, size_t err_size);

/* The UTC+8 day of a Unix time in ms, as citytally_day() counts it. */
int agg_fold_day(int64_t at_ms);

#endif
