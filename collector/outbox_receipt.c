/*
 * outbox_receipt.c - what acknowledgements leave behind for the clerk: the plausibility
 * warnings of acknowledged updates (`warned`; outbox_state.c lists them for `status`), and for each
 * imported file what its receipt needs until it is written (`receipts`, `receipt_marks`).
 *
 * A receipt's rows (line, indicator, value) are kept as one text value per file, written
 * in the transaction that queues the file, so importing 100,000 rows costs one more row,
 * not 100,000. An ack marks only the lines it has something to say about (a rejection, a
 * warning); every other line of the file is accepted. The file's seqs are contiguous
 * (assigned in that one transaction), so the receipt is due once state.last_ack_seq has
 * reached its last seq: acks are cumulative.
 */
#include "outbox_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "timefmt.h"
#include "value.h"

int col_ob_receipt_add(struct col_outbox *ob, const struct col_origin *origin,
                       const struct col_new_update *u, size_t n, uint64_t first_seq, char *err,
                       size_t err_size)
{
    struct ct_buf rows = CT_BUF_INIT;
    sqlite3_stmt *st = NULL;
    int status = 0, rc;

    if (origin == NULL || origin->receipt_dir == NULL || n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char value[CT_VALUE_TEXT_MAX];
        if (ct_value_format(&u[i].value, value, sizeof(value)) != 0)
            ct_strlcpy(value, "?", sizeof(value));
        ct_buf_printf(&rows, "%lld\t%s\t%s\n", (long long)u[i].line, u[i].ind, value);
    }
    if (rows.failed) {
        snprintf(err, err_size, "out of memory keeping the receipt's rows");
        status = COL_OUTBOX_ERROR;
        goto out;
    }
    if ((status = col_ob_prepare(ob,
                                 "INSERT INTO receipts (dir, name, first_seq, last_seq, rows) "
                                 "VALUES (?,?,?,?,?)",
                                 &st, "keeping the receipt", err, err_size)) != 0)
        goto out;
    if ((rc = sqlite3_bind_text(st, 1, origin->receipt_dir, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, origin->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, (int64_t)first_seq)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, (int64_t)(first_seq + n - 1))) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 5, rows.data, (int)rows.len, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "keeping the receipt", err, err_size);
out:
    sqlite3_finalize(st);
    ct_buf_free(&rows);
    return status;
}

int col_ob_receipt_mark(struct col_outbox *ob, uint64_t seq, const char *outcome, char *err,
                        size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;

    if ((status = col_ob_prepare(ob,
                                 "INSERT INTO receipt_marks (receipt, line, outcome) "
                                 "SELECT r.id, p.line, ?2 FROM pending p JOIN receipts r "
                                 "ON r.written_ms = 0 AND p.seq BETWEEN r.first_seq AND r.last_seq "
                                 "WHERE p.seq = ?1",
                                 &st, "marking a receipt", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_int64(st, 1, (int64_t)seq)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "marking a receipt", err, err_size);
    sqlite3_finalize(st);
    return status;
}

int col_ob_warn_one(struct col_outbox *ob, const struct ct_warning *w, int64_t now, char *err,
                    size_t err_size)
{
    sqlite3_stmt *st = NULL;
    char outcome[CT_WIRE_MAX_CODE + CT_WIRE_MAX_TEXT + 16];
    int status, rc;

    if ((status = col_ob_prepare(ob,
                                 "INSERT INTO warned (seq, ind, period, value, origin, line, "
                                 "code, msg, warned_ms) SELECT seq, ind, period, value, origin, "
                                 "line, ?, ?, ? FROM pending WHERE seq = ?",
                                 &st, "recording a warning", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_text(st, 1, w->code, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(st, 2, w->msg, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 3, now)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 4, (int64_t)w->seq)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE) {
        status = col_ob_fail(ob, rc, "recording a warning", err, err_size);
        goto out;
    }
    snprintf(outcome, sizeof(outcome), "warning %s: %s", w->code, w->msg);
    status = col_ob_receipt_mark(ob, w->seq, outcome, err, err_size);
out:
    sqlite3_finalize(st);
    return status;
}

int col_ob_receipt_shift(struct col_outbox *ob, int64_t from_seq, int64_t shift, char *err,
                         size_t err_size)
{
    int64_t b[2] = {shift, from_seq};

    return col_ob_run(ob,
                      "UPDATE receipts SET first_seq = first_seq + ?1, last_seq = last_seq + ?1 "
                      "WHERE written_ms = 0 AND first_seq >= ?2",
                      2, b, "renumbering receipts", err, err_size);
}

int col_ob_receipt_unknown(struct col_outbox *ob, int64_t last_seq, char *err, size_t err_size)
{
    int64_t b[1] = {last_seq};

    return col_ob_run(ob,
                      "INSERT INTO receipt_marks (receipt, line, outcome) "
                      "SELECT r.id, p.line, 'unknown' FROM pending p JOIN receipts r "
                      "ON r.written_ms = 0 AND p.seq BETWEEN r.first_seq AND r.last_seq "
                      "WHERE p.seq <= ?1",
                      1, b, "marking receipt lines whose ack was lost", err, err_size);
}

void col_receipt_release(struct col_receipt *r)
{
    free(r->rows);
    free(r->marks);
    memset(r, 0, sizeof(*r));
}

/* Copies a text column into a malloc'd string ("" for NULL). */
static char *dup_column(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    char *copy = malloc(len + 1);

    if (copy != NULL) {
        if (len > 0)
            memcpy(copy, t, len);
        copy[len] = '\0';
    }
    return copy;
}

static int read_marks(struct col_outbox *ob, struct col_receipt *r, char *err, size_t err_size)
{
    struct ct_buf marks = CT_BUF_INIT;
    sqlite3_stmt *st = NULL;
    int status, rc;

    if ((status = col_ob_prepare(ob,
                                 "SELECT line, outcome FROM receipt_marks WHERE receipt = ? "
                                 "ORDER BY line, rowid",
                                 &st, "reading a receipt", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_int64(st, 1, r->id)) != SQLITE_OK) {
        status = col_ob_fail(ob, rc, "reading a receipt", err, err_size);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ct_buf_printf(&marks, "%lld\t%s\n", (long long)sqlite3_column_int64(st, 0),
                      (const char *)sqlite3_column_text(st, 1));
    if (rc != SQLITE_DONE) {
        status = col_ob_fail(ob, rc, "reading a receipt", err, err_size);
        goto out;
    }
    ct_buf_puts(&marks, "");
    if (marks.failed) {
        snprintf(err, err_size, "out of memory reading a receipt");
        status = COL_OUTBOX_ERROR;
        goto out;
    }
    r->marks = marks.data;
    marks.data = NULL;
out:
    ct_buf_free(&marks);
    sqlite3_finalize(st);
    return status;
}

int col_outbox_receipt_due(struct col_outbox *ob, int64_t now_ms, struct col_receipt *r, char *err,
                           size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;

    memset(r, 0, sizeof(*r));
    if ((status =
             col_ob_prepare(ob,
                            "SELECT id, dir, name, rows FROM receipts WHERE written_ms = 0 "
                            "AND retry_ms <= ? AND last_seq <= "
                            "(SELECT last_ack_seq FROM state WHERE id = 1) ORDER BY id LIMIT 1",
                            &st, "looking for a receipt", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_int64(st, 1, now_ms)) != SQLITE_OK) {
        status = col_ob_fail(ob, rc, "looking for a receipt", err, err_size);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        goto out;
    if (rc != SQLITE_ROW) {
        status = col_ob_fail(ob, rc, "looking for a receipt", err, err_size);
        goto out;
    }
    r->id = sqlite3_column_int64(st, 0);
    col_ob_copy_column(st, 1, r->dir, sizeof(r->dir));
    col_ob_copy_column(st, 2, r->name, sizeof(r->name));
    r->rows = dup_column(st, 3);
    if (r->rows == NULL) {
        snprintf(err, err_size, "out of memory reading a receipt");
        status = COL_OUTBOX_ERROR;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((status = read_marks(ob, r, err, err_size)) != 0)
        goto out;
    return 1;
out:
    sqlite3_finalize(st);
    if (status != 0)
        col_receipt_release(r);
    return status;
}

int col_outbox_receipt_done(struct col_outbox *ob, int64_t id, int64_t retry_ms, char *err,
                            size_t err_size)
{
    int64_t b[2] = {id, retry_ms > 0 ? retry_ms : ct_time_now_ms()};
    int status;

    if (retry_ms > 0)
        return col_ob_run(ob, "UPDATE receipts SET retry_ms = ?2 WHERE id = ?1", 2, b,
                          "postponing a receipt", err, err_size);
    if ((status = col_ob_begin(ob, "recording a receipt", err, err_size)) != 0)
        return status;
    if ((status = col_ob_run(ob, "UPDATE receipts SET written_ms = ?2, rows = '' WHERE id = ?1", 2,
                             b, "recording a receipt", err, err_size)) != 0 ||
        (status = col_ob_run(ob, "DELETE FROM receipt_marks WHERE receipt = ?", 1, b,
                             "recording a receipt", err, err_size)) != 0) {
        col_ob_rollback(ob);
        return status;
    }
    return col_ob_commit(ob, "recording a receipt", err, err_size);
}

int col_outbox_receipt_rename(struct col_outbox *ob, uint64_t first_seq, const char *name,
                              char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;

    if ((status = col_ob_prepare(ob,
                                 "UPDATE receipts SET name = ? WHERE first_seq = ? AND "
                                 "written_ms = 0",
                                 &st, "renaming a receipt", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, (int64_t)first_seq)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "renaming a receipt", err, err_size);
    sqlite3_finalize(st);
    return status;
}
