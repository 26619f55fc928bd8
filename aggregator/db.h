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
 *
 * Deadlines: a connection may carry one (agg_db_set_deadline, kept as libpq instance data
 * and freed with the connection). agg_db_query on it then sends, flushes and reads without
 * blocking, and gives up at the deadline, so a frozen server cannot hold the caller; the
 * connection is then "expired" (mid-statement) and only good for PQfinish.
 *
 * A pool (struct agg_db_pool) lends such connections to threads that serve requests: at
 * most `size` exist, each used by one thread at a time, connected lazily with a deadline,
 * and dropped when returned broken, expired or inside a transaction. The pool owns its
 * connections; a borrowed one goes back with agg_db_pool_put().
 */
#ifndef AGG_DB_H
#define AGG_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Gives `conn`'s statements a deadline on the monotonic clock (ct_time_mono_ms), or none
 * with 0. Returns 0, or -1 when out of memory. */
int agg_db_set_deadline(PGconn *conn, int64_t deadline_mono_ms);

/* The deadline set (0: none), and whether a statement was abandoned at it. */
int64_t agg_db_deadline(const PGconn *conn);
bool agg_db_expired(const PGconn *conn);

/* Connects without blocking past `deadline_mono_ms`, with TCP keepalives, a
 * tcp_user_timeout, the server-side `statement_timeout_ms`, UTF-8 and
 * `application_name`. Returns the connection (with no deadline set yet), or NULL with
 * "cannot connect to the database: ..." in `err`. */
PGconn *agg_db_connect_within(const char *conninfo, const char *application_name,
                              int statement_timeout_ms, int64_t deadline_mono_ms, char *err,
                              size_t err_size);

struct agg_db_pool;

/* A pool of at most `size` connections to `conninfo` (copied). NULL when out of memory. */
struct agg_db_pool *agg_db_pool_new(const char *conninfo, const char *application_name, size_t size,
                                    int statement_timeout_ms);

/* Closes the idle connections and frees the pool; every borrowed one must be back. NULL is
 * a no-op. */
void agg_db_pool_free(struct agg_db_pool *pool);

/* Lends a connection whose statements end by `deadline_mono_ms`, waiting for a free one
 * or a new connection no longer than that. Returns it, or NULL with the reason in `err`.
 * Thread-safe. */
PGconn *agg_db_pool_get(struct agg_db_pool *pool, int64_t deadline_mono_ms, char *err,
                        size_t err_size);

/* Gives back what agg_db_pool_get lent (NULL: a slot whose connection was lost). */
void agg_db_pool_put(struct agg_db_pool *pool, PGconn *conn);

#endif
