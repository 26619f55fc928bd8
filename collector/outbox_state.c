#include "outbox_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int col_outbox_set_catalog(struct col_outbox *ob, const struct ct_catalog_entry *c, size_t n,
                           char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;
    int64_t b[1] = {ct_time_now_ms()};

    if ((status = col_ob_begin(ob, "caching the catalog", err, err_size)) != 0)
        return status;
    if ((status = col_ob_run(ob, "DELETE FROM catalog", 0, NULL, "caching the catalog", err,
                             err_size)) != 0 ||
        (status = col_ob_run(ob, "UPDATE state SET catalog_ms = ? WHERE id = 1", 1, b,
                             "caching the catalog", err, err_size)) != 0 ||
        (status = col_ob_prepare(ob,
                                 "INSERT OR REPLACE INTO catalog (code, name_zh, reported_by) "
                                 "VALUES (?,?,?)",
                                 &st, "caching the catalog", err, err_size)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        if ((rc = sqlite3_bind_text(st, 1, c[i].code, -1, SQLITE_STATIC)) != SQLITE_OK ||
            (rc = sqlite3_bind_text(st, 2, c[i].name_zh, -1, SQLITE_STATIC)) != SQLITE_OK ||
            (rc = sqlite3_bind_text(st, 3, c[i].reported_by, -1, SQLITE_STATIC)) != SQLITE_OK ||
            (rc = sqlite3_step(st)) != SQLITE_DONE) {
            status = col_ob_fail(ob, rc, "caching the catalog", err, err_size);
            goto fail;
        }
    }
    sqlite3_finalize(st);
    return col_ob_commit(ob, "caching the catalog", err, err_size);
fail:
    sqlite3_finalize(st);
    col_ob_rollback(ob);
    return status;
}

int col_outbox_load_catalog(struct col_outbox *ob, struct ct_catalog_entry **out, size_t *n,
                            char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    struct ct_catalog_entry *c = NULL;
    size_t got = 0, cap = 0;
    int status, rc;

    *out = NULL;
    *n = 0;
    if ((status = col_ob_prepare(ob, "SELECT code, name_zh, reported_by FROM catalog ORDER BY code",
                                 &st, "reading the catalog", err, err_size)) != 0)
        return status;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (got == cap) {
            size_t want = cap ? cap * 2 : 64;
            struct ct_catalog_entry *bigger;
            if (want > CT_WIRE_MAX_CATALOG * 4 ||
                (bigger = realloc(c, want * sizeof(*c))) == NULL) {
                snprintf(err, err_size, "the cached catalog is too large");
                status = COL_OUTBOX_ERROR;
                goto out;
            }
            c = bigger;
            cap = want;
        }
        col_ob_copy_column(st, 0, c[got].code, sizeof(c[got].code));
        col_ob_copy_column(st, 1, c[got].name_zh, sizeof(c[got].name_zh));
        col_ob_copy_column(st, 2, c[got].reported_by, sizeof(c[got].reported_by));
        got++;
    }
    if (rc != SQLITE_DONE) {
        status = col_ob_fail(ob, rc, "reading the catalog", err, err_size);
        goto out;
    }
    *out = c;
    *n = got;
    c = NULL;
out:
    free(c);
    sqlite3_finalize(st);
    return status;
}

int col_outbox_set_error(struct col_outbox *ob, const char *text, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;

    if ((status =
             col_ob_prepare(ob, "UPDATE state SET last_error = ?, last_error_ms = ? WHERE id = 1",
                            &st, "recording the last error", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(st, 2, text[0] ? ct_time_now_ms() : 0)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "recording the last error", err, err_size);
    sqlite3_finalize(st);
    return status;
}

int col_outbox_stats(struct col_outbox *ob, struct col_outbox_stats *s, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int64_t first = 0, next = 1, count = 0;
    int status, rc;

    memset(s, 0, sizeof(*s));
    /* One read transaction, so the figures agree with each other. */
    if ((status = col_ob_exec(ob, "BEGIN", "reading the outbox", err, err_size)) != 0)
        return status;
    if ((status = col_ob_pending_range(ob, &first, &next, &count, err, err_size)) != 0)
        goto out;
    s->pending = count;
    s->first_pending_seq = (uint64_t)first;
    s->next_seq = (uint64_t)next;
    if (count > 0 && (status = col_ob_scalar(ob, "SELECT queued_ms FROM pending WHERE seq = ?",
                                             first, &s->oldest_queued_ms, NULL,
                                             "reading the outbox", err, err_size)) != 0)
        goto out;
    if ((status = col_ob_scalar(ob, "SELECT count(*) FROM rejected", 0, &s->rejected, NULL,
                                "reading the outbox", err, err_size)) != 0 ||
        (status = col_ob_scalar(ob, "SELECT count(*) FROM catalog", 0, &s->catalog_size, NULL,
                                "reading the outbox", err, err_size)) != 0 ||
        (status = col_ob_scalar(ob, "SELECT count(*) FROM imported", 0, &s->imported_files, NULL,
                                "reading the outbox", err, err_size)) != 0)
        goto out;
    if ((status = col_ob_prepare(ob,
                                 "SELECT agent, district, last_ack_seq, last_ack_ms, last_error, "
                                 "last_error_ms, catalog_ms, instance, sent_through FROM state "
                                 "WHERE id = 1",
                                 &st, "reading the outbox", err, err_size)) != 0)
        goto out;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        status = col_ob_fail(ob, rc, "reading the outbox", err, err_size);
        goto out;
    }
    col_ob_copy_column(st, 0, s->agent, sizeof(s->agent));
    col_ob_copy_column(st, 1, s->district, sizeof(s->district));
    s->last_ack_seq = (uint64_t)sqlite3_column_int64(st, 2);
    s->last_ack_ms = sqlite3_column_int64(st, 3);
    col_ob_copy_column(st, 4, s->last_error, sizeof(s->last_error));
    s->last_error_ms = sqlite3_column_int64(st, 5);
    s->catalog_ms = sqlite3_column_int64(st, 6);
    col_ob_copy_column(st, 7, s->instance, sizeof(s->instance));
    s->sent_through = (uint64_t)sqlite3_column_int64(st, 8);
out:
    sqlite3_finalize(st);
    (void)sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL); /* read-only: cannot lose data */
    return status;
}

int col_outbox_report_daemon(struct col_outbox *ob, const struct col_daemon_report *r, char *err,
                             size_t err_size)
{
    int64_t b[6] = {r->pid,
                    r->started_ms,
                    r->heartbeat_ms,
                    r->connected ? 1 : 0,
                    r->in_flight_batches,
                    r->in_flight_updates};
    int status;

    /* A hint for `status` that the next heartbeat rewrites: not worth an fsync. In WAL
     * mode synchronous can change per transaction; the next FULL commit syncs it anyway. */
    if ((status = col_ob_exec(ob, "PRAGMA synchronous=NORMAL", "reporting", err, err_size)) != 0)
        return status;
    status = col_ob_run(ob,
                        "UPDATE state SET daemon_pid = ?1, daemon_started_ms = ?2, "
                        "daemon_heartbeat_ms = ?3, daemon_connected = ?4, "
                        "daemon_in_flight_batches = ?5, daemon_in_flight_updates = ?6 WHERE id = 1",
                        6, b, "reporting the daemon's state", err, err_size);
    if (col_ob_exec(ob, "PRAGMA synchronous=FULL", "reporting", err, err_size) != 0)
        return COL_OUTBOX_ERROR;
    return status;
}

int col_outbox_daemon_report(struct col_outbox *ob, struct col_daemon_report *r, char *err,
                             size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int status, rc;

    memset(r, 0, sizeof(*r));
    if ((status = col_ob_prepare(ob,
                                 "SELECT daemon_pid, daemon_started_ms, daemon_heartbeat_ms, "
                                 "daemon_connected, daemon_in_flight_batches, "
                                 "daemon_in_flight_updates FROM state WHERE id = 1",
                                 &st, "reading the daemon's state", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r->pid = sqlite3_column_int64(st, 0);
        r->started_ms = sqlite3_column_int64(st, 1);
        r->heartbeat_ms = sqlite3_column_int64(st, 2);
        r->connected = sqlite3_column_int64(st, 3) != 0;
        r->in_flight_batches = sqlite3_column_int64(st, 4);
        r->in_flight_updates = sqlite3_column_int64(st, 5);
    } else {
        status = col_ob_fail(ob, rc, "reading the daemon's state", err, err_size);
    }
    sqlite3_finalize(st);
    return status;
}

int col_outbox_rejections(struct col_outbox *ob, struct col_rejection_row *rows, size_t max,
                          size_t *n, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int status, rc = SQLITE_DONE;

    *n = 0;
    if ((status =
             col_ob_prepare(ob,
                            "SELECT seq, ind, period, value, origin, line, code, msg, rejected_ms "
                            "FROM rejected ORDER BY id DESC LIMIT ?",
                            &st, "reading rejections", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_int64(st, 1, (int64_t)max)) != SQLITE_OK) {
        status = col_ob_fail(ob, rc, "reading rejections", err, err_size);
        goto out;
    }
    while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct col_rejection_row *r = &rows[got++];
        struct ct_value v;
        r->seq = (uint64_t)sqlite3_column_int64(st, 0);
        col_ob_copy_column(st, 1, r->ind, sizeof(r->ind));
        r->period = sqlite3_column_int64(st, 2);
        col_ob_read_value(st, 3, &v);
        if (ct_value_format(&v, r->value, sizeof(r->value)) != 0)
            ct_strlcpy(r->value, "?", sizeof(r->value));
        col_ob_copy_column(st, 4, r->origin, sizeof(r->origin));
        r->line = sqlite3_column_int64(st, 5);
        col_ob_copy_column(st, 6, r->code, sizeof(r->code));
        col_ob_copy_column(st, 7, r->msg, sizeof(r->msg));
        r->rejected_ms = sqlite3_column_int64(st, 8);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "reading rejections", err, err_size);
    *n = status == 0 ? got : 0;
out:
    sqlite3_finalize(st);
    return status;
}
