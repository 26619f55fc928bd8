/*
 * db.h - the few libpq helpers every part of the aggregator uses.
 *
 * They turn libpq's result states into the project's error convention: a function returns
 * 0 (or a result) on success, and -1 (or NULL) with one line in the caller's `err` buffer
 * otherwise. Error text comes from the server or libpq, trimmed to one line, prefixed with
 * what was being done; it never contains the conninfo, so never a password.
 *
 * Nothing here keeps state: a PGconn belongs to the caller, a returned PGresult too
 * (PQclear it). Statements are sent with PQexecParams (text parameters), so values never
 * need quoting.
 */
#ifndef AGG_DB_H
#define AGG_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#define AGG_DB_ERR_MAX 512

/* Opens a connection with `conninfo` ("" = libpq defaults and PG* variables), in UTF-8.
 * Returns NULL with "cannot connect to the database: ..." in `err`. */
PGconn *agg_db_connect(const char *conninfo, char *err, size_t err_size);

/* Runs `sql` with `n_params` text parameters (NULL entries are SQL NULL) and checks that
 * the result has status `expect` (PGRES_COMMAND_OK or PGRES_TUPLES_OK). Returns the result,
 * which the caller PQclears, or NULL with "<what>: <server message>" in `err`. */
PGresult *agg_db_query(PGconn *conn, const char *what, const char *sql, int n_params,
                       const char *const *params, ExecStatusType expect, char *err,
                       size_t err_size);

/* agg_db_query for statements without rows; returns 0 or -1. */
int agg_db_exec(PGconn *conn, const char *what, const char *sql, int n_params,
                const char *const *params, char *err, size_t err_size);

/* BEGIN; COMMIT, checked by PQcmdStatus (a COMMIT of a failed transaction answers
 * "ROLLBACK", which is an error here); ROLLBACK, which keeps any earlier error in `err`
 * untouched and is safe to call when no transaction is open. */
int agg_db_begin(PGconn *conn, char *err, size_t err_size);
int agg_db_commit(PGconn *conn, char *err, size_t err_size);
void agg_db_rollback(PGconn *conn);

/* Writes "<what>: <message of `res`, or of `conn` when res is NULL>" as one line. */
void agg_db_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t err_size);

/* The SQLSTATE of `res` ("" when there is none), e.g. "23505" for a unique violation. */
const char *agg_db_sqlstate(const PGresult *res);

#endif
