/* The throwaway cluster answers through libpq: the ground every integration test stands on. */
#include "pgtest.h"

#include <criterion/criterion.h>
#include <string.h>

Test(pg_harness, fresh_database_answers_a_query)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db("ct_harness", conninfo, sizeof(conninfo));

    cr_assert_eq(pgtest_scalar(conn, "SELECT 6 * 7"), 42);
    cr_assert_eq(pgtest_scalar(conn, "SELECT current_setting('server_version_num')::int / 10000"),
                 15);
    PQfinish(conn);
}

Test(pg_harness, fresh_database_is_empty_even_after_use)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db("ct_harness_reuse", conninfo, sizeof(conninfo));
    pgtest_exec(conn, "CREATE TABLE leftover (x int)");
    PQfinish(conn);

    conn = pgtest_fresh_db("ct_harness_reuse", conninfo, sizeof(conninfo));
    cr_assert_eq(pgtest_scalar(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'"),
                 0);
    PQfinish(conn);
}

Test(pg_harness, bad_sql_is_reported_by_libpq)
{
    char conninfo[512];
    PGconn *conn = pgtest_fresh_db("ct_harness_err", conninfo, sizeof(conninfo));
    PGresult *res = PQexec(conn, "SELECT * FROM no_such_table");

    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
    cr_assert(strstr(PQresultErrorMessage(res), "no_such_table") != NULL);
    PQclear(res);
    PQfinish(conn);
}
