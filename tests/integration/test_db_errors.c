/* aggregator/db.c against the test cluster: every libpq error becomes one line that keeps
 * what PostgreSQL said, DETAIL and HINT included, and tells the caller what it means. */
#include "db.h"
#include "pgtest.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <string.h>

static const char unique_violation[] =
    "ERROR:  duplicate key value violates unique constraint \"t_pkey\";"
    " DETAIL:  Key (id)=(1) already exists.";

static PGconn *db_with_one_row(const char *name)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db(name, conninfo, sizeof(conninfo));

    pgtest_exec(conn, "CREATE TABLE t (id int PRIMARY KEY)");
    pgtest_exec(conn, "INSERT INTO t VALUES (1)");
    return conn;
}

Test(db_errors, unique_violation_keeps_its_detail_on_one_line)
{
    PGconn *conn = db_with_one_row("ct_db_errors_unique");
    char err[AGG_DB_ERR_MAX], want[AGG_DB_ERR_MAX];

    cr_assert_eq(
        agg_db_exec(conn, "inserting", "INSERT INTO t VALUES (1)", 0, NULL, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "inserting: %s", unique_violation);
    cr_assert_str_eq(err, want);
    cr_assert_null(strchr(err, '\n'));
    PQfinish(conn);
}

Test(db_errors, unique_violation_in_a_pipeline_is_named_by_its_step)
{
    PGconn *conn = db_with_one_row("ct_db_errors_pipeline");
    char err[AGG_DB_ERR_MAX], want[AGG_DB_ERR_MAX];
    const struct agg_db_step steps[] = {
        {.what = "BEGIN", .sql = "BEGIN", .expect = PGRES_COMMAND_OK},
        {.what = "inserting", .sql = "INSERT INTO t VALUES (1)", .expect = PGRES_COMMAND_OK},
        {.what = "COMMIT", .sql = "COMMIT", .expect = PGRES_COMMAND_OK, .tag = "COMMIT"},
    };

    cr_assert_eq(agg_db_pipeline(conn, steps, 3, err, sizeof(err)), AGG_DB_UNIQUE);
    snprintf(want, sizeof(want), "inserting: %s", unique_violation);
    cr_assert_str_eq(err, want);
    cr_assert_eq(PQtransactionStatus(conn), PQTRANS_INERROR);

    /* The transaction is still open, and aborted: a COMMIT now answers ROLLBACK. */
    cr_assert_eq(agg_db_pipeline(conn, &steps[2], 1, err, sizeof(err)), AGG_DB_REFUSED);
    cr_assert_str_eq(err, "COMMIT: the server answered ROLLBACK");
    cr_assert_eq(PQtransactionStatus(conn), PQTRANS_IDLE);
    cr_assert_eq(agg_db_rollback(conn), 0);
    cr_assert_eq(pgtest_scalar(conn, "SELECT count(*) FROM t"), 1);
    PQfinish(conn);
}

/* COPY's CONTEXT ("COPY t, line 1") is left out; the DETAIL stays. */
Test(db_errors, unique_violation_in_a_copy_keeps_its_detail)
{
    PGconn *conn = db_with_one_row("ct_db_errors_copy");
    char err[AGG_DB_ERR_MAX], want[AGG_DB_ERR_MAX];
    static const char rows[] = "2\n1\n";

    cr_assert_eq(
        agg_db_copy_in(conn, "COPY t (id) FROM STDIN", rows, strlen(rows), err, sizeof(err)),
        AGG_DB_UNIQUE);
    snprintf(want, sizeof(want), "COPY: %s", unique_violation);
    cr_assert_str_eq(err, want);
    cr_assert_eq(pgtest_scalar(conn, "SELECT count(*) FROM t"), 1);
    PQfinish(conn);
}

Test(db_errors, an_error_without_detail_is_its_primary_message)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db("ct_db_errors_plain", conninfo, sizeof(conninfo));
    char err[AGG_DB_ERR_MAX];

    cr_assert_null(agg_db_query(conn, "reading", "SELECT * FROM no_such_table", 0, NULL,
                                PGRES_TUPLES_OK, err, sizeof(err)));
    cr_assert_str_eq(err, "reading: ERROR:  relation \"no_such_table\" does not exist");
    cr_assert_eq(agg_db_outcome_of(conn, NULL), AGG_DB_REFUSED);
    PQfinish(conn);
}

/* A DETAIL of several lines and a HINT: every line is kept, joined by "; ". */
Test(db_errors, a_detail_of_several_lines_and_a_hint_share_one_line)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db("ct_db_errors_hint", conninfo, sizeof(conninfo));
    char err[AGG_DB_ERR_MAX];

    pgtest_exec(conn, "CREATE TABLE t (id int)");
    pgtest_exec(conn, "CREATE VIEW v1 AS SELECT id FROM t");
    pgtest_exec(conn, "CREATE VIEW v2 AS SELECT id FROM t");
    cr_assert_eq(agg_db_exec(conn, "dropping", "DROP TABLE t", 0, NULL, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "dropping: ERROR:  cannot drop table t because other objects depend"
                          " on it; DETAIL:  view v1 depends on table t; view v2 depends on table"
                          " t; HINT:  Use DROP ... CASCADE to drop the dependent objects too.");
    PQfinish(conn);
}

Test(db_errors, a_message_is_cut_to_the_buffer)
{
    PGconn *conn = db_with_one_row("ct_db_errors_short");
    char err[24];

    cr_assert_eq(
        agg_db_exec(conn, "inserting", "INSERT INTO t VALUES (1)", 0, NULL, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "inserting: ERROR:  dupl");
    PQfinish(conn);
}

/* libpq's own message spans two lines (the failure, then "Is the server running ...?");
 * the line names the socket but never the password of the conninfo. */
Test(db_errors, a_failed_connection_is_one_line_without_the_password)
{
    char err[AGG_DB_ERR_MAX];
    PGconn *conn = agg_db_connect("host=/nonexistent/ct-db-errors port=1 user=u password=s3cret",
                                  err, sizeof(err));

    cr_assert_null(conn);
    cr_assert_str_eq(err, "cannot connect to the database: connection to server on socket"
                          " \"/nonexistent/ct-db-errors/.s.PGSQL.1\" failed: No such file or"
                          " directory; Is the server running locally and accepting connections"
                          " on that socket?");
    cr_assert_null(strstr(err, "s3cret"));
}

/* Reads a COPY's output to its end: the rows it gave, and the outcome. */
static int copy_rows(PGconn *conn, const char *sql, int *rows, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "copying", sql, 0, NULL, PGRES_COPY_OUT, err, err_size);
    char *row;
    int n;

    *rows = 0;
    if (res == NULL)
        return -1;
    PQclear(res);
    while ((n = agg_db_copy_out_next(conn, "copying", &row, err, err_size)) > 0) {
        PQfreemem(row);
        (*rows)++;
    }
    return n;
}

Test(db_errors, a_copy_out_reads_every_row_then_its_end)
{
    PGconn *conn = db_with_one_row("ct_db_errors_copy_out");
    char err[AGG_DB_ERR_MAX] = "";
    int rows;

    cr_assert_eq(copy_rows(conn, "COPY (SELECT g FROM generate_series(1, 1000) g) TO STDOUT", &rows,
                           err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(rows, 1000);
    cr_assert_eq(PQtransactionStatus(conn), PQTRANS_IDLE, "the connection is free again");
    PQfinish(conn);
}

Test(db_errors, a_copy_out_that_fails_midway_says_why_and_frees_the_connection)
{
    PGconn *conn = db_with_one_row("ct_db_errors_copy_fail");
    char err[AGG_DB_ERR_MAX] = "";
    int rows;

    cr_assert_eq(copy_rows(conn,
                           "COPY (SELECT 1 / (5000 - g) FROM generate_series(1, 9000) g)"
                           " TO STDOUT",
                           &rows, err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "copying: ERROR:  division by zero");
    cr_assert_lt(rows, 5000, "no row past the failure");
    cr_assert_eq(pgtest_scalar(conn, "SELECT count(*) FROM t"), 1, "the connection still works");
    PQfinish(conn);
}

Test(db_errors, a_copy_out_gives_up_at_the_deadline)
{
    PGconn *conn = db_with_one_row("ct_db_errors_copy_deadline");
    char err[AGG_DB_ERR_MAX] = "";
    int rows;

    /* the rows come at once, then the server sleeps before the last one */
    cr_assert_eq(agg_db_set_deadline(conn, ct_time_mono_ms() + 300), 0);
    cr_assert_eq(copy_rows(conn,
                           "COPY (SELECT g, CASE WHEN g = 3 THEN pg_sleep(5) END"
                           " FROM generate_series(1, 3) g) TO STDOUT",
                           &rows, err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "copying: the database did not answer in time");
    cr_assert(agg_db_expired(conn), "a connection abandoned mid-COPY is not reused");
    PQfinish(conn);
}
