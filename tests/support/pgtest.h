/*
 * pgtest.h - databases for integration tests, in the cluster CTest started.
 *
 * The `pg` CTest fixture runs tests/support/pg_cluster.sh and passes its socket directory
 * and port as CT_TEST_PGHOST and CT_TEST_PGPORT. Each test asks for a fresh database of
 * its own name, so tests can run in parallel against one cluster.
 */
#ifndef CT_PGTEST_H
#define CT_PGTEST_H

#include <libpq-fe.h>
#include <stddef.h>

/* Drops and recreates database `name`, writes a conninfo for it into `conninfo` and returns
 * an open connection the caller closes with PQfinish. Fails the test on any error. */
PGconn *pgtest_fresh_db(const char *name, char *conninfo, size_t conninfo_size);

/* Runs `sql` and returns its single value as a long long; fails the test otherwise. */
long long pgtest_scalar(PGconn *conn, const char *sql);

/* Runs `sql`, which returns no rows; fails the test on error. */
void pgtest_exec(PGconn *conn, const char *sql);

#endif
