/*
 * db.h - the aggregator's one libpq layer: every statement, COPY and pipeline it sends,
 * and the one place where a libpq error becomes a line of text.
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is the last step: the
 * store's statements reach PostgreSQL through here.
 *
 * Errors follow the project's convention: a function returns 0 (or a result, or
 * AGG_DB_OK) on success, and -1 (or NULL, or what the failure means for the caller) with
 * one line in the caller's `err` buffer otherwise. That line is "<what>: <message>", and
 * every message comes from agg_db_message(): the server's severity, primary message,
 * DETAIL and HINT (the DETAIL names, say, the key of a unique violation), or libpq's own
 * text, joined on one line and bounded by the buffer. It never contains the conninfo, so
 * never a password: libpq's connection messages name host, port and user only.
 *
 * Nothing here keeps state of its own: a PGconn belongs to the caller, a returned PGresult
 * too (PQclear it). Statements are sent with PQexecParams or PQsendQueryParams (text
 * parameters), so values never need quoting. What a commit decides, and its SQL, stay in
 * store.c; this module only carries them.
 *
 * Deadlines: a connection may carry one (agg_db_set_deadline, kept as libpq instance data
 * and freed with the connection). agg_db_query on it then sends, flushes and reads without
 * blocking, and gives up at the deadline, so a frozen server cannot hold the caller; the
 * connection is then "expired" (mid-statement) and only good for PQfinish.
 *
 * A connection may also be watched for commits that synchronous replication did not
 * confirm (agg_db_watch_replication, instance data too): the writers' are, since an
 * update is acknowledged only once it is safe.
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
 * "ROLLBACK", which is an error here); ROLLBACK, which writes no message (any earlier
 * error in the caller's buffer stands) and returns 0 when no transaction is open. It
 * returns -1 when the ROLLBACK failed: the connection is then in no state to reuse. */
int agg_db_begin(PGconn *conn, char *err, size_t err_size);
int agg_db_commit(PGconn *conn, char *err, size_t err_size);
int agg_db_rollback(PGconn *conn);

/* The message of `res`, or of `conn` when res is NULL or carries none, as one line in
 * `out`: "ERROR:  <primary>; DETAIL:  <detail>; HINT:  <hint>" for a server error (the
 * parts it has), libpq's text with its newlines joined by "; " otherwise. Never ends in a
 * newline; cut at `out_size`. */
void agg_db_message(PGconn *conn, const PGresult *res, char *out, size_t out_size);

/* Writes "<what>: <agg_db_message>" in `err`. */
void agg_db_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t err_size);

/* What a failure means for the caller's next step. */
enum agg_db_outcome {
    AGG_DB_OK = 0,
    AGG_DB_LOST,    /* the connection broke: drop it; whether a COMMIT took is unknown */
    AGG_DB_UNIQUE,  /* a unique key fired (SQLSTATE 23505); the connection is usable */
    AGG_DB_REFUSED, /* the server (or libpq) refused the statement; the connection is usable */
};

/* Classifies a failure of `res` (NULL: of the last call on `conn`) without a message. */
enum agg_db_outcome agg_db_outcome_of(PGconn *conn, const PGresult *res);

/* agg_db_error and agg_db_outcome_of in one call. */
enum agg_db_outcome agg_db_failed(PGconn *conn, const PGresult *res, const char *what, char *err,
                                  size_t err_size);

/* Makes `conn` notice a COMMIT whose wait for synchronous replication was cancelled: the
 * server then answers COMMIT, with only a WARNING to say the transaction may exist on
 * this server alone, and nothing acknowledged may rest on that. On a watched connection,
 * agg_db_pipeline and agg_db_commit report such a COMMIT as failed (AGG_DB_LOST, -1)
 * with the warning as the message; the caller drops the connection and retries, which
 * must be idempotent (a COMMIT that waits again confirms the earlier one too). Installs
 * a notice receiver that passes every notice on to libpq's default one. Idempotent;
 * returns 0, or -1 when out of memory. */
int agg_db_watch_replication(PGconn *conn);

/* One statement of a pipeline. Everything is borrowed for the call. */
struct agg_db_step {
    const char *what; /* names it in errors */
    const char *sql;
    int n_params;
    const char *const *params;
    ExecStatusType expect;
    const char *tag; /* when not NULL, the command tag it must return ("COMMIT") */
    PGresult **keep; /* when not NULL, receives its result on success; the caller clears it */
};

/* Runs the steps in order in one round trip (libpq pipeline mode) rather than one each:
 * on two busy cores every round trip waits for the backend to be scheduled. Only for
 * statements none of which needs the answer of the one before it. The server skips
 * whatever follows a failed statement (PGRES_PIPELINE_ABORTED); the first failure is
 * returned, with no result kept. An open transaction stays open, or aborted. */
enum agg_db_outcome agg_db_pipeline(PGconn *conn, const struct agg_db_step *steps, size_t n,
                                    char *err, size_t err_size);

/* Runs `sql` (a COPY ... FROM STDIN) and sends `len` bytes of `data` (borrowed) as its
 * input, in COPY's text format. */
enum agg_db_outcome agg_db_copy_in(PGconn *conn, const char *sql, const char *data, size_t len,
                                   char *err, size_t err_size);

/* After agg_db_query() of a COPY ... TO STDOUT (expecting PGRES_COPY_OUT): the next row of
 * its output in *row (the caller PQfreemems it), and its length. Returns 0 once the output
 * has ended and the COPY succeeded, or -1 with "<what>: <message>" in `err` when the COPY
 * failed, the connection broke or its deadline passed. A caller that stops early calls
 * agg_db_copy_out_drain() before using the connection again. */
int agg_db_copy_out_next(PGconn *conn, const char *what, char **row, char *err, size_t err_size);

/* Reads and drops the rest of a COPY's output. Returns 0, or -1 when the connection is no
 * longer usable (and expired, when a deadline passed). */
int agg_db_copy_out_drain(PGconn *conn);

/* Asks the server to cancel what `conn` is running, from a detached thread: PQcancel
 * blocks until the server answers, which a frozen server never does, and nobody may wait
 * for that. Returns 0, or -1 when not even the request could be prepared. */
int agg_db_cancel_async(PGconn *conn);

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

/* As agg_db_pool_get, but NULL at once when no connection is free now (none idle and the
 * pool at its size), or when one could not be made. */
PGconn *agg_db_pool_try_get(struct agg_db_pool *pool, int64_t deadline_mono_ms);

/* Gives back what agg_db_pool_get lent (NULL: a slot whose connection was lost). */
void agg_db_pool_put(struct agg_db_pool *pool, PGconn *conn);

#endif
