/*
 * migrate.h - bringing a database up to the schema this binary was built with.
 *
 * The migrations are the files aggregator/sql/NNN_*.sql, embedded at build time; NNN is
 * the version they lead to. agg_migrate() applies every pending one in ONE transaction,
 * under a transaction-scoped advisory lock, and records each in `schema_migrations`.
 * Version 1 also loads the reference facts (seed.h) in that same transaction. So a
 * database is always at a version this code knows whole, two concurrent runs serialise
 * (the second finds nothing to do), and running it again changes nothing.
 */
#ifndef AGG_MIGRATE_H
#define AGG_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* The version the embedded migrations lead to. */
int agg_migrate_latest(void);

/* Applies pending migrations. Returns 0 with the schema version now in `*version`, or -1
 * with one line in `err` (nothing is changed then). Refuses a database whose version is
 * newer than this binary knows. `conn` must be idle (no open transaction). */
int agg_migrate(PGconn *conn, int *version, char *err, size_t err_size);

/* The version recorded in the database (0 for an empty one), without changing anything. */
int agg_migrate_current(PGconn *conn, int *version, char *err, size_t err_size);

#endif
