/*
 * outbox_db.h - the SQLite plumbing shared by the outbox's two halves: outbox.c (the queue:
 * open, append, fetch, ack, resync) and outbox_state.c (what sits beside the queue: the
 * cached catalog, the last error, the daemon's report, and the figures `status` shows).
 * Private to collector/outbox*.c; everyone else goes through outbox.h.
 *
 * Every function that can fail returns 0 or a COL_OUTBOX_* status and writes one line
 * naming what was being done into `err`. Statements are the caller's to finalize.
 */
#ifndef COL_OUTBOX_DB_H
#define COL_OUTBOX_DB_H

#include "outbox.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a writer waits for another process's transaction before giving up. */
#define COL_OB_BUSY_TIMEOUT_MS 15000

struct col_outbox {
    sqlite3 *db;
    char path[4096];
    sqlite3_stmt *insert;     /* INSERT INTO pending */
    sqlite3_stmt *fetch;      /* SELECT ... FROM pending WHERE seq >= ? */
    sqlite3_stmt *fetch_kept; /* SELECT ... FROM acked WHERE seq >= ? (a refill) */
    int64_t keep_acked_ms;    /* how long acknowledged updates stay in `acked`; 0: not at all */
    int64_t data_version;
    uint64_t due_hash; /* of the `due` stored last by this connection; 0: none yet */
};

/* Turns a failed SQLite call into a status and one line naming what was being done. A full
 * disk shows up as SQLITE_FULL, or as an I/O error whose errno says no space (EFBIG under
 * RLIMIT_FSIZE), and is told apart so callers can keep the work and retry later. */
int col_ob_fail(struct col_outbox *ob, int rc, const char *doing, char *err, size_t err_size);

int col_ob_exec(struct col_outbox *ob, const char *sql, const char *doing, char *err,
                size_t err_size);

int col_ob_prepare(struct col_outbox *ob, const char *sql, sqlite3_stmt **st, const char *doing,
                   char *err, size_t err_size);

/* BEGIN IMMEDIATE: a writer takes the lock up front, so a second process waits its turn
 * in busy_timeout instead of failing at COMMIT. */
int col_ob_begin(struct col_outbox *ob, const char *doing, char *err, size_t err_size);

/* Safe to call when SQLite has already rolled back on its own (SQLITE_FULL can). */
void col_ob_rollback(struct col_outbox *ob);

/* On failure the transaction is rolled back, so the caller has nothing to undo. */
int col_ob_commit(struct col_outbox *ob, const char *doing, char *err, size_t err_size);

/* Runs a statement that returns no rows (or ignores them) with up to three int64 binds. */
int col_ob_run(struct col_outbox *ob, const char *sql, int n_binds, const int64_t *binds,
               const char *doing, char *err, size_t err_size);

/* Reads one int64 from a one-row query; `*out` keeps its value when there is no row. */
int col_ob_scalar(struct col_outbox *ob, const char *sql, int64_t bind, int64_t *out, bool *found,
                  const char *doing, char *err, size_t err_size);

/* A text column into `dst`, truncated to `size`; NULL reads as "". */
void col_ob_copy_column(sqlite3_stmt *st, int col, char *dst, size_t size);

/* The value column keeps its type: an INTEGER reads back as an integer, else a double. */
void col_ob_read_value(sqlite3_stmt *st, int col, struct ct_value *v);

/* pending = next_seq - first pending seq, since pending seqs are contiguous; both are
 * index lookups, where count(*) would walk a million rows. */
int col_ob_pending_range(struct col_outbox *ob, int64_t *first, int64_t *next, int64_t *count,
                         char *err, size_t err_size);

/* outbox_receipt.c, inside the caller's transaction: */

/* Keeps what a file's receipt will need: where it goes and its rows. */
int col_ob_receipt_add(struct col_outbox *ob, const struct col_origin *origin,
                       const struct col_new_update *u, size_t n, uint64_t first_seq, char *err,
                       size_t err_size);

/* Marks the line of pending update `seq` on its file's receipt, if it has one. */
int col_ob_receipt_mark(struct col_outbox *ob, uint64_t seq, const char *outcome, char *err,
                        size_t err_size);

/* Keeps a warning on pending update `seq` in `warned`, and marks it on its receipt. */
int col_ob_warn_one(struct col_outbox *ob, const struct ct_warning *w, int64_t now, char *err,
                    size_t err_size);

/* Pending updates from `from_seq` on were renumbered by `shift`: so are the receipts'
 * ranges that are still to be acknowledged. */
int col_ob_receipt_shift(struct col_outbox *ob, int64_t from_seq, int64_t shift, char *err,
                         size_t err_size);

/* Pending updates up to `last_seq` leave as committed without their ack (it was lost):
 * their outcome is not known here, and their receipt lines say so. */
int col_ob_receipt_unknown(struct col_outbox *ob, int64_t last_seq, char *err, size_t err_size);

#endif
