#include "seed.h"

#include "calendar.h"
#include "csv.h"
#include "db.h"
#include "embedded.h"
#include "targets.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Generated from the data/ CSV files by ct_embed_files (aggregator/CMakeLists.txt). */
extern const struct ct_embedded_file agg_seed_files[];

#define SEED_YEAR 2015
#define MAX_COLUMNS 8

struct table {
    const char *file;
    const char *header; /* the exact header the file must have */
    int n_columns;
    const char *what;
    const char *sql; /* $1 is the row's position, then the columns in order */
};

static const struct table tables[] = {
    {"districts.csv", "id,name_zh,name_en,kind,admin_code", 5, "storing a unit",
     "INSERT INTO units (position, id, name_zh, name_en, kind, admin_code)"
     " VALUES ($1, $2, $3, $4, $5, nullif($6, ''))"},
    {"indicators.csv", "code,name_zh,name_en,unit,measure,reported_by,clause", 7,
     "storing an indicator",
     "INSERT INTO indicators (position, code, name_zh, name_en, unit, measure, reported_by,"
     " clause) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"},
};

static const struct ct_embedded_file *seed_file(const char *name, char *err, size_t err_size)
{
    const struct ct_embedded_file *f = ct_embedded_find(agg_seed_files, name);
    if (f == NULL)
        snprintf(err, err_size, "seed file %s is not built into this binary", name);
    return f;
}

static int load_table(PGconn *conn, const struct table *t, char *err, size_t err_size)
{
    const struct ct_embedded_file *f = seed_file(t->file, err, err_size);
    struct ct_csv_reader rd;
    struct ct_csv_field fields[MAX_COLUMNS + 1];
    char scratch[8192], why[256], header[256], position[16], db_err[AGG_DB_ERR_MAX];
    size_t n, rows = 0;
    bool have_header = false;
    int rc;

    if (f == NULL)
        return -1;
    ct_csv_init(&rd, (const char *)f->data, f->size);
    while ((rc = ct_csv_next(&rd, fields, MAX_COLUMNS + 1, &n, scratch, sizeof(scratch), why,
                             sizeof(why))) == 1) {
        if (!have_header) {
            size_t k = 0;
            have_header = true;
            header[0] = '\0';
            for (size_t i = 0; i < n && k < sizeof(header); i++)
                k += (size_t)snprintf(header + k, sizeof(header) - k, "%s%s", i ? "," : "",
                                      fields[i].ptr);
            if (strcmp(header, t->header) != 0) {
                snprintf(err, err_size, "%s:%zu: header must be %s", t->file, rd.record_line,
                         t->header);
                return -1;
            }
            continue;
        }
        if (n != (size_t)t->n_columns) {
            snprintf(err, err_size, "%s:%zu: %zu fields, expected %d", t->file, rd.record_line, n,
                     t->n_columns);
            return -1;
        }
        const char *params[MAX_COLUMNS + 1];
        snprintf(position, sizeof(position), "%zu", ++rows);
        params[0] = position;
        for (size_t i = 0; i < n; i++)
            params[i + 1] = fields[i].ptr;
        if (agg_db_exec(conn, t->what, t->sql, t->n_columns + 1, params, db_err, sizeof(db_err)) !=
            0) {
            snprintf(err, err_size, "%s:%zu: %s", t->file, rd.record_line, db_err);
            return -1;
        }
    }
    if (rc < 0) {
        snprintf(err, err_size, "%s:%zu: %s", t->file, rd.record_line, why);
        return -1;
    }
    if (rows == 0) {
        snprintf(err, err_size, "%s has no rows", t->file);
        return -1;
    }
    return 0;
}

int agg_seed_load(PGconn *conn, char *err, size_t err_size)
{
    const char *name = "targets-2015.csv";
    const struct ct_embedded_file *f;
    struct ct_buf problems = CT_BUF_INIT;
    int rc = -1;

    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        if (load_table(conn, &tables[i], err, err_size) != 0)
            goto out;
    }
    if ((f = seed_file(name, err, err_size)) == NULL)
        goto out;
    switch (agg_targets_load(conn, SEED_YEAR, name, (const char *)f->data, f->size, &problems, err,
                             err_size)) {
    case AGG_TARGETS_OK:
        rc = 0;
        break;
    case AGG_TARGETS_INVALID: {
        /* A bad built-in file is a build defect; its first problem is enough to fix it. */
        const char *nl = problems.data ? strchr(problems.data, '\n') : NULL;
        snprintf(err, err_size, "%.*s", nl ? (int)(nl - problems.data) : 0,
                 problems.data ? problems.data : "");
        break;
    }
    case AGG_TARGETS_DB_ERROR:
        break;
    }
out:
    ct_buf_free(&problems);
    return rc;
}

int agg_seed_calendar(PGconn *conn, char *err, size_t err_size)
{
    const char *name = "calendar-2015.csv";
    const struct ct_embedded_file *f = seed_file(name, err, err_size);
    struct ct_buf problems = CT_BUF_INIT;
    int rc = -1;

    if (f == NULL)
        return -1;
    switch (agg_calendar_load(conn, name, (const char *)f->data, f->size, &problems, NULL, err,
                              err_size)) {
    case AGG_CALENDAR_OK:
        rc = 0;
        break;
    case AGG_CALENDAR_INVALID: {
        /* A bad built-in file is a build defect; its first problem is enough to fix it. */
        const char *nl = problems.data ? strchr(problems.data, '\n') : NULL;
        snprintf(err, err_size, "%.*s", nl ? (int)(nl - problems.data) : 0,
                 problems.data ? problems.data : "");
        break;
    }
    case AGG_CALENDAR_DB_ERROR:
        break;
    }
    ct_buf_free(&problems);
    return rc;
}
