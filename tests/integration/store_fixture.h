/*
 * store_fixture.h - a migrated database, and updates written the way the daemon writes
 * them, for the store/progress/report tests (header-only: each test file is its own
 * binary).
 *
 * Updates go straight into `updates` with SQL, which fires the same fold trigger as the
 * daemon's COPY. Times are ISO 8601 text, values decimal text, so a test reads like the
 * contract's examples.
 */
#ifndef CT_STORE_FIXTURE_H
#define CT_STORE_FIXTURE_H

#include "migrate.h"
#include "pgtest.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh database at the latest schema, seeded with the 2015 facts. */
static inline PGconn *store_db(const char *name, char *conninfo, size_t conninfo_size)
{
    char err[512];
    int version = 0;
    PGconn *conn = pgtest_fresh_db(name, conninfo, conninfo_size);

    cr_assert_eq(agg_migrate(conn, &version, err, sizeof(err)), 0, "migrate: %s", err);
    cr_assert_eq(version, agg_migrate_latest());
    return conn;
}

/* One accepted update, as the daemon stores it. */
static inline void put(PGconn *conn, const char *agent, long long seq, const char *district,
                       const char *indicator, int period, const char *op, const char *value,
                       const char *observed_at)
{
    char seq_text[32], period_text[16];
    const char *params[8] = {agent,       seq_text, district, indicator,
                             period_text, op,       value,    observed_at};
    PGresult *res;

    snprintf(seq_text, sizeof(seq_text), "%lld", seq);
    snprintf(period_text, sizeof(period_text), "%d", period);
    res = PQexecParams(conn,
                       "INSERT INTO updates (agent_id, seq, district, indicator, period, op,"
                       " value, observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                       8, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "insert: %s", PQerrorMessage(conn));
    PQclear(res);
}

/* Column `column` of citytally_progress(year, as_of) for target `code`, copied into `out`;
 * returns NULL for SQL NULL. `as_of` is a contract TIME (a bare date is the end of that
 * day in UTC+8), or "infinity". */
static inline const char *progress_of(PGconn *conn, int year, const char *as_of, const char *code,
                                      const char *column, char *out, size_t out_size)
{
    char sql[512], year_text[16], as_of_ms[32], err[128];
    const char *params[3] = {year_text, as_of_ms, code};
    PGresult *res;
    const char *result = NULL;
    int64_t ms;

    snprintf(year_text, sizeof(year_text), "%d", year);
    if (strcmp(as_of, "infinity") == 0) {
        snprintf(as_of_ms, sizeof(as_of_ms), "infinity");
    } else {
        cr_assert_eq(ct_time_parse(as_of, &ms, err, sizeof(err)), 0, "%s: %s", as_of, err);
        snprintf(as_of_ms, sizeof(as_of_ms), "%lld", (long long)ms);
    }
    snprintf(sql, sizeof(sql),
             "SELECT %s::text FROM citytally_progress($1, CASE WHEN $2 = 'infinity'"
             " THEN 'infinity'::timestamptz"
             " ELSE timestamptz 'epoch' + $2::bigint * interval '1 millisecond' END)"
             " WHERE target_code = $3",
             column);
    res = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    cr_assert_eq(PQntuples(res), 1, "target %s not in citytally_progress", code);
    if (!PQgetisnull(res, 0, 0)) {
        snprintf(out, out_size, "%s", PQgetvalue(res, 0, 0));
        result = out;
    }
    PQclear(res);
    return result;
}

#define ACTUAL(conn, year, as_of, code)                                                            \
    progress_of(conn, year, as_of, code, "actual", (char[64]){0}, 64)
#define STATUS(conn, year, as_of, code)                                                            \
    progress_of(conn, year, as_of, code, "status", (char[64]){0}, 64)

/* Runs `citytally-aggregator ARGS` through the shell, capturing stdout (and stderr when
 * `err_out` is given). Returns the exit status. */
static inline int run_aggregator(const char *args, char *out, size_t out_size, char *err_out,
                                 size_t err_size)
{
    const char *bin = getenv("CT_BIN_DIR");
    char cmd[4096], err_path[] = "/tmp/ct-store-stderr-XXXXXX";
    int fd = mkstemp(err_path);
    FILE *p;
    size_t n = 0;
    int status;

    cr_assert(bin != NULL, "CT_BIN_DIR unset: run through ctest");
    cr_assert(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "env -u NO_COLOR %s/citytally-aggregator %s 2>%s", bin, args,
             err_path);
    p = popen(cmd, "r");
    cr_assert(p != NULL);
    while (out != NULL && n + 1 < out_size) {
        size_t k = fread(out + n, 1, out_size - 1 - n, p);
        if (k == 0)
            break;
        n += k;
    }
    if (out != NULL)
        out[n] = '\0';
    status = pclose(p);
    if (err_out != NULL) {
        FILE *f = fopen(err_path, "r");
        size_t k = f != NULL ? fread(err_out, 1, err_size - 1, f) : 0;
        err_out[k] = '\0';
        if (f != NULL)
            fclose(f);
    }
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
