#include "pgtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* DROP ... IF EXISTS notices are expected; keep test output for what matters. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void admin_conninfo(const char *dbname, char *out, size_t size)
{
    const char *host = getenv("CT_TEST_PGHOST");
    const char *port = getenv("CT_TEST_PGPORT");

    cr_assert(host != NULL && port != NULL,
              "CT_TEST_PGHOST/CT_TEST_PGPORT unset: run integration tests through ctest");
    snprintf(out, size, "host=%s port=%s user=postgres dbname=%s", host, port, dbname);
}

void pgtest_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

long long pgtest_scalar(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    cr_assert(PQntuples(res) == 1 && PQnfields(res) == 1, "%s: expected one value", sql);
    cr_assert(!PQgetisnull(res, 0, 0), "%s: NULL", sql);
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

PGconn *pgtest_fresh_db(const char *name, char *conninfo, size_t conninfo_size)
{
    char admin[512], sql[256];
    PGconn *conn;

    admin_conninfo("postgres", admin, sizeof(admin));
    conn = PQconnectdb(admin);
    cr_assert(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", admin, PQerrorMessage(conn));
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
    pgtest_exec(conn, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    pgtest_exec(conn, sql);
    PQfinish(conn);

    admin_conninfo(name, conninfo, conninfo_size);
    conn = PQconnectdb(conninfo);
    cr_assert(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", conninfo, PQerrorMessage(conn));
    return conn;
}
