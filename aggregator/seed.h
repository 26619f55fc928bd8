/*
 * seed.h - the reference facts: units, indicators, the 2015 targets and calendar.
 *
 * data/districts.csv, data/indicators.csv and data/targets-2015.csv are embedded into the
 * binary at build time and parsed here (common/csv.h) when the schema is first created, so
 * the files stay the one place these facts are edited. The targets go through the same
 * validation and loading code as `targets import` (targets.h).
 */
#ifndef AGG_SEED_H
#define AGG_SEED_H

#include <libpq-fe.h>
#include <stddef.h>

/* Inserts the units, indicators and 2015 targets. Runs inside the caller's transaction;
 * returns 0, or -1 with one line in `err` naming the file and line at fault. */
int agg_seed_load(PGconn *conn, char *err, size_t err_size);

/* The migration that creates the rounds table (005_rounds.sql); the 2015 calendar is
 * loaded right after it. */
#define AGG_SEED_CALENDAR_VERSION 5

/* Inserts the rounds of data/calendar-2015.csv through the same checks as `calendar
 * import` (calendar.h). Like agg_seed_load(). */
int agg_seed_calendar(PGconn *conn, char *err, size_t err_size);

/* The migration that creates the rounds table (005_rounds.sql); the 2015 calendar is
 * loaded right after it. */
#define AGG_SEED_CALENDAR_VERSION 5

/* Inserts the rounds of data/calendar-2015.csv through the same checks as `calendar
 * import` (calendar.h). Like agg_seed_load(). */
int agg_seed_calendar(PGconn *conn, char *err, size_t err_size);

#endif
