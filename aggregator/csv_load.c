#include "csv_load.h"

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agg_csv_problem(struct agg_csv_file *f, size_t line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ct_buf_printf(f->problems, "%s:%zu: %s\n", f->name, line, msg);
    f->n_problems++;
}

void agg_csv_shown(const char *s, char *out, size_t out_size)
{
    ct_text_escape(s, strlen(s), out, out_size);
}

bool agg_csv_known(const PGresult *values, const char *s, size_t len)
{
    for (int i = 0; i < PQntuples(values); i++) {
        const char *v = PQgetvalue(values, i, 0);
        if (strlen(v) == len && memcmp(v, s, len) == 0)
            return true;
    }
    return false;
}

/* Returns 1 when it read the whole file, 0 when a problem ended it early, -1 when `row` ran
 * out of memory. */
static int walk(struct agg_csv_file *f, const char *data, size_t len,
                const struct agg_csv_loader *loader, void *ctx)
{
    struct ct_csv_reader rd;
    struct ct_csv_field fields[AGG_CSV_COLUMNS_MAX + 1];
    size_t n_fields, n_header = 0, n_rows = 0;
    char scratch[16 * 1024], err[256];
    bool have_header = false;
    int rc;

    if (!ct_utf8_valid(data, len)) {
        agg_csv_problem(f, 1, "the file is not UTF-8 text");
        return 0;
    }
    ct_csv_init(&rd, data, len);
    while ((rc = ct_csv_next(&rd, fields, loader->max_fields + 1, &n_fields, scratch,
                             sizeof(scratch), err, sizeof(err))) != 0) {
        if (rc < 0) {
            agg_csv_problem(f, rd.record_line, "%s", err);
            if (!have_header)
                return 0;
            continue;
        }
        if (!have_header) {
            have_header = true;
            n_header = loader->header(ctx, fields, n_fields, rd.record_line);
            if (n_header == 0)
                return 0;
            continue;
        }
        if (n_fields != n_header) {
            agg_csv_problem(f, rd.record_line, "%zu fields, but the header has %zu", n_fields,
                            n_header);
            continue;
        }
        if (n_rows == loader->max_rows) {
            agg_csv_problem(f, rd.record_line, "more than %zu %s", loader->max_rows, loader->noun);
            return 0;
        }
        rc = loader->row(ctx, fields, n_fields, rd.record_line);
        if (rc < 0)
            return -1;
        n_rows += (size_t)rc;
    }
    if (!have_header)
        agg_csv_problem(f, 1, "%s", loader->empty);
    else if (n_rows == 0 && f->n_problems == 0)
        agg_csv_problem(f, rd.line, "the file has no %s", loader->noun);
    return 1;
}

int agg_csv_check(struct agg_csv_file *f, PGconn *conn, const char *data, size_t len,
                  const struct agg_csv_loader *loader, void *ctx, char *err, size_t err_size)
{
    PGresult *indicators = NULL;
    int rc = AGG_CSV_DB_ERROR, walked;

    if (loader->max_fields > AGG_CSV_COLUMNS_MAX) {
        snprintf(err, err_size, "%s: the loader reads more than %d columns", f->name,
                 AGG_CSV_COLUMNS_MAX);
        return AGG_CSV_DB_ERROR; /* a defect, which each loader rules out at compile time */
    }
    if (len > loader->file_max) {
        agg_csv_problem(f, 1, "the file is larger than %zu bytes", loader->file_max);
        return AGG_CSV_INVALID;
    }
    indicators = agg_db_query(conn, "reading indicators", "SELECT code FROM indicators", 0, NULL,
                              PGRES_TUPLES_OK, err, err_size);
    if (indicators == NULL)
        return AGG_CSV_DB_ERROR;
    f->indicators = indicators;
    if (loader->prepare != NULL && loader->prepare(ctx, conn, err, err_size) != 0)
        goto out;
    walked = walk(f, data, len, loader, ctx);
    if (walked < 0 || f->problems->failed) {
        snprintf(err, err_size, "out of memory reading %s", f->name);
        goto out;
    }
    if (walked > 0 && loader->finish != NULL)
        loader->finish(ctx);
    rc = f->n_problems > 0 ? AGG_CSV_INVALID : AGG_CSV_OK;
out:
    f->indicators = NULL;
    PQclear(indicators);
    return rc;
}

/* Reads at most max + 1 bytes, so that a larger file is seen as such. */
static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;

    if (f == NULL) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    data = malloc(max + 2);
    if (data == NULL) {
        snprintf(err, err_size, "out of memory");
    } else {
        *len = fread(data, 1, max + 1, f);
        if (ferror(f)) {
            snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
            free(data);
            data = NULL;
        } else {
            data[*len] = '\0';
        }
    }
    fclose(f);
    return data;
}

int agg_csv_import(const struct agg_csv_import *imp)
{
    char err[AGG_DB_ERR_MAX];
    struct ct_buf problems = CT_BUF_INIT;
    PGconn *conn = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = CT_EXIT_FAILURE;

    if ((data = read_file(imp->path, imp->file_max, &len, err, sizeof(err))) == NULL)
        goto fail;
    if ((conn = agg_db_connect(imp->db, err, sizeof(err))) == NULL ||
        agg_db_begin(conn, err, sizeof(err)) != 0)
        goto fail;
    switch (imp->load(imp->ctx, conn, imp->path, data, len, &problems, err, sizeof(err))) {
    case AGG_CSV_OK:
        break;
    case AGG_CSV_INVALID:
        agg_db_rollback(conn);
        fprintf(stderr, "%s", problems.data ? problems.data : "");
        fprintf(stderr, "%s %s: %s is invalid; nothing was changed\n", AGG_PROGRAM, imp->command,
                imp->path);
        goto out;
    default:
        goto fail;
    }
    if (agg_db_commit(conn, err, sizeof(err)) != 0)
        goto fail;
    rc = CT_EXIT_OK;
    goto out;
fail:
    if (conn != NULL)
        agg_db_rollback(conn);
    fprintf(stderr, "%s %s: %s\n", AGG_PROGRAM, imp->command, err);
out:
    ct_buf_free(&problems);
    free(data);
    PQfinish(conn);
    return rc;
}
