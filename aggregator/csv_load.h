/*
 * csv_load.h - what the aggregator's CSV imports share: the commands `targets import` and
 * `calendar import` (cmd_targets.c, cmd_calendar.c), and the loaders behind them
 * (targets.c, calendar.c), which the seed (seed.c) runs too.
 *
 * A file is checked whole before anything is written. Each problem with it becomes one line
 * "NAME:LINE: why" in the caller's buffer (agg_csv_problem). agg_csv_check hands a loader
 * the header and then each row, and itself names the problems any file can have: too large,
 * not UTF-8, a record that does not parse, a row whose field count is not the header's, too
 * many rows, no header, no rows. The loader says what else is wrong with a row. agg_csv_import is
 * the command around a loader: it reads the file and runs the loader in one transaction, which it
 * commits only when the loader found nothing wrong.
 *
 * Ownership: a struct agg_csv_file borrows its name and its problems buffer and owns
 * nothing. Every message of these functions is part of the commands' output (tests pin it).
 */
#ifndef AGG_CSV_LOAD_H
#define AGG_CSV_LOAD_H

#include "buf.h"
#include "csv.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define AGG_CSV_COLUMNS_MAX 32 /* the most columns a loader's file may have */

/* What loading a file came to. agg_targets_result and agg_calendar_result are these. */
enum agg_csv_result {
    AGG_CSV_OK = 0,
    AGG_CSV_DB_ERROR = -1, /* one line in `err` */
    AGG_CSV_INVALID = -2   /* the file's problems are in its problems buffer */
};

struct agg_csv_file {
    const char *name;        /* borrowed: the file as problems name it */
    struct ct_buf *problems; /* borrowed: one "NAME:LINE: why\n" per problem, appended */
    size_t n_problems;
    const PGresult *indicators; /* the known indicator codes, one per row, while
                                   agg_csv_check runs (it owns them); else NULL */
};

/* Appends one problem of line `line`. Out of memory shows as `problems->failed`. */
void agg_csv_problem(struct agg_csv_file *f, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* `s` as a problem may quote it: escaped (text.h) and cut to fit `out`. */
void agg_csv_shown(const char *s, char *out, size_t out_size);

/* Whether the `len` bytes at `s` are a value of the first column of `values` (such as
 * f->indicators, or the loader's own "SELECT id FROM units"). */
bool agg_csv_known(const PGresult *values, const char *s, size_t len);

/* A loader's file, and the loader's part in checking it. Every function gets agg_csv_check's
 * `ctx`; prepare and finish may be NULL. */
struct agg_csv_loader {
    size_t file_max;   /* bytes; a larger file is a problem */
    size_t max_fields; /* columns a record may have (at most AGG_CSV_COLUMNS_MAX) */
    size_t max_rows;   /* rows kept, at most */
    const char *noun;  /* a row's name in problems: "more than 400 rounds", "no rounds" */
    const char *empty; /* the problem of a file without even a header */
    /* Before the first record: reads what else rows are checked against and makes room for
     * them. Returns 0, or -1 with one line in `err`. */
    int (*prepare)(void *ctx, PGconn *conn, char *err, size_t err_size);
    /* Checks the header. Returns the number of fields every row must have, or 0 after
     * listing why the header is wrong, which ends the walk. */
    size_t (*header)(void *ctx, const struct ct_csv_field *fields, size_t n_fields, size_t line);
    /* Takes a row that has as many fields as the header says. Returns 1 when it keeps the
     * row, 0 when it leaves it out (after listing why), -1 when out of memory. */
    int (*row)(void *ctx, const struct ct_csv_field *fields, size_t n_fields, size_t line);
    /* After the last record, when nothing ended the walk early: checks across rows. */
    void (*finish)(void *ctx);
};

/* Checks the `len` bytes of `data` whole, listing every problem in `f`: the size; then,
 * with f->indicators read from `conn` and `prepare` done, each record in turn (the header,
 * then the rows), as CSV. A file that is not UTF-8, a bad or unreadable header or too many
 * rows end the walk early. Returns AGG_CSV_OK when the file has no problem, AGG_CSV_INVALID
 * when it has, AGG_CSV_DB_ERROR (one line in `err`) when a query or memory failed. */
int agg_csv_check(struct agg_csv_file *f, PGconn *conn, const char *data, size_t len,
                  const struct agg_csv_loader *loader, void *ctx, char *err, size_t err_size);

/* One `COMMAND import FILE` once its arguments are read. */
struct agg_csv_import {
    const char *command; /* "targets": messages start "citytally-aggregator targets: " */
    const char *db;      /* conninfo */
    const char *path;    /* the file; also its name in problems */
    size_t file_max;     /* bytes; one more is read, so that `load` sees a larger file */
    /* Checks and stores the file inside the transaction. Returns an agg_csv_result. */
    int (*load)(void *ctx, PGconn *conn, const char *path, const char *data, size_t len,
                struct ct_buf *problems, char *err, size_t err_size);
    void *ctx;
};

/* Reads the file (at most file_max + 1 bytes), connects, and runs `load` in a transaction
 * that it commits when `load` returns AGG_CSV_OK and rolls back otherwise. On stderr it
 * prints the file's problems and "... is invalid; nothing was changed", or the one-line
 * reason of any other failure. Returns CT_EXIT_OK or CT_EXIT_FAILURE; on CT_EXIT_OK the
 * caller says what was loaded. */
int agg_csv_import(const struct agg_csv_import *imp);

#endif
