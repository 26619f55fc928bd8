#include "outbox_db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Turns a failed SQLite call into a status and one line naming what was being done. A full
 * disk shows up as SQLITE_FULL, or as an I/O error whose errno says no space (EFBIG under
 * RLIMIT_FSIZE), and is told apart so callers can keep the work and retry later. */
int col_ob_fail(struct col_outbox *ob, int rc, const char *doing, char *err, size_t err_size)
{
    int saved = errno; /* SQLite does not always keep the errno of a failed write() */
    int sys = ob->db ? sqlite3_system_errno(ob->db) : 0;
    int primary = rc & 0xff;
    const char *msg = ob->db ? sqlite3_errmsg(ob->db) : sqlite3_errstr(rc);

    if (sys == 0 && primary == SQLITE_IOERR)
        sys = saved;

    if (primary == SQLITE_FULL ||
        (primary == SQLITE_IOERR && (sys == ENOSPC || sys == EFBIG || sys == EDQUOT))) {
        snprintf(err, err_size,
                 "%s: no space left for the outbox %s (%s); nothing was changed, free some "
                 "space and try again",
                 doing, ob->path, sys ? strerror(sys) : msg);
        return COL_OUTBOX_DISK_FULL;
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        snprintf(err, err_size, "%s: the outbox %s stayed locked by another writer for %d s", doing,
                 ob->path, COL_OB_BUSY_TIMEOUT_MS / 1000);
        return COL_OUTBOX_BUSY;
    }
    snprintf(err, err_size, "%s: outbox %s: %s", doing, ob->path, msg);
    return COL_OUTBOX_ERROR;
}

int col_ob_exec(struct col_outbox *ob, const char *sql, const char *doing, char *err,
                size_t err_size)
{
    int rc = sqlite3_exec(ob->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return col_ob_fail(ob, rc, doing, err, err_size);
    return 0;
}

int col_ob_prepare(struct col_outbox *ob, const char *sql, sqlite3_stmt **st, const char *doing,
                   char *err, size_t err_size)
{
    int rc = sqlite3_prepare_v2(ob->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return col_ob_fail(ob, rc, doing, err, err_size);
    return 0;
}

int col_ob_begin(struct col_outbox *ob, const char *doing, char *err, size_t err_size)
{
    return col_ob_exec(ob, "BEGIN IMMEDIATE", doing, err, err_size);
}

void col_ob_rollback(struct col_outbox *ob)
{
    /* SQLite may already have rolled back (SQLITE_FULL can do that); only then is there
     * nothing to do. */
    if (!sqlite3_get_autocommit(ob->db))
        (void)sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
}

int col_ob_commit(struct col_outbox *ob, const char *doing, char *err, size_t err_size)
{
    int rc = sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int status = col_ob_fail(ob, rc, doing, err, err_size);
        col_ob_rollback(ob);
        return status;
    }
    return 0;
}

/* Runs a statement that returns no rows (or ignores them) with up to three int64 binds. */
int col_ob_run(struct col_outbox *ob, const char *sql, int n_binds, const int64_t *binds,
               const char *doing, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status = col_ob_prepare(ob, sql, &st, doing, err, err_size), rc;
    if (status != 0)
        return status;
    for (int i = 0; i < n_binds; i++) {
        rc = sqlite3_bind_int64(st, i + 1, binds[i]);
        if (rc != SQLITE_OK) {
            status = col_ob_fail(ob, rc, doing, err, err_size);
            goto out;
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        status = col_ob_fail(ob, rc, doing, err, err_size);
out:
    sqlite3_finalize(st);
    return status;
}

/* Reads one int64 from a one-row query; `*out` keeps its value when there is no row. */
int col_ob_scalar(struct col_outbox *ob, const char *sql, int64_t bind, int64_t *out, bool *found,
                  const char *doing, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status = col_ob_prepare(ob, sql, &st, doing, err, err_size), rc;
    if (status != 0)
        return status;
    if (strchr(sql, '?') != NULL && (rc = sqlite3_bind_int64(st, 1, bind)) != SQLITE_OK) {
        status = col_ob_fail(ob, rc, doing, err, err_size);
        goto out;
    }
    rc = sqlite3_step(st);
    if (found != NULL)
        *found = false;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *out = sqlite3_column_int64(st, 0);
            if (found != NULL)
                *found = true;
        }
    } else if (rc != SQLITE_DONE) {
        status = col_ob_fail(ob, rc, doing, err, err_size);
    }
out:
    sqlite3_finalize(st);
    return status;
}

void col_ob_copy_column(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    ct_strlcpy(dst, t ? (const char *)t : "", size);
}

void col_ob_read_value(sqlite3_stmt *st, int col, struct ct_value *v)
{
    if (sqlite3_column_type(st, col) == SQLITE_INTEGER) {
        v->kind = CT_VALUE_INT;
        v->as.i = sqlite3_column_int64(st, col);
    } else {
        v->kind = CT_VALUE_FLOAT;
        v->as.f = sqlite3_column_double(st, col);
    }
}

/* pending = next_seq - first pending seq, since pending seqs are contiguous; both are
 * index lookups, where count(*) would walk a million rows. */
int col_ob_pending_range(struct col_outbox *ob, int64_t *first, int64_t *next, int64_t *count,
                         char *err, size_t err_size)
{
    bool found = false;
    int status;
    *first = 0;
    if ((status = col_ob_scalar(ob, "SELECT next_seq FROM state WHERE id = 1", 0, next, NULL,
                                "reading next_seq", err, err_size)) != 0)
        return status;
    if ((status = col_ob_scalar(ob, "SELECT min(seq) FROM pending", 0, first, &found,
                                "reading the first pending seq", err, err_size)) != 0)
        return status;
    if (!found)
        *first = 0;
    *count = found ? *next - *first : 0;
    return 0;
}
