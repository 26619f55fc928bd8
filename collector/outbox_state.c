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
    int64_t b[7] = {r->pid,
                    r->started_ms,
                    r->heartbeat_ms,
                    r->connected ? 1 : 0,
                    r->in_flight_batches,
                    r->in_flight_updates,
                    r->moves};
    sqlite3_stmt *st = NULL;
    int status, rc = SQLITE_OK;

    /* A hint for `status` that the next heartbeat rewrites: not worth an fsync. In WAL
     * mode synchronous can change per transaction; the next FULL commit syncs it anyway. */
    if ((status = col_ob_exec(ob, "PRAGMA synchronous=NORMAL", "reporting", err, err_size)) != 0)
        return status;
    if ((status = col_ob_prepare(ob,
                                 "UPDATE state SET daemon_pid = ?1, daemon_started_ms = ?2, "
                                 "daemon_heartbeat_ms = ?3, daemon_connected = ?4, "
                                 "daemon_in_flight_batches = ?5, daemon_in_flight_updates = ?6, "
                                 "daemon_moves = ?7, daemon_endpoint = ?8 WHERE id = 1",
                                 &st, "reporting the daemon's state", err, err_size)) != 0)
        goto out;
    for (int i = 0; i < 7 && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_int64(st, i + 1, b[i]);
    /* Never more than COL_ENDPOINT_MAX bytes, even from a report that lost its NUL. */
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 8, r->endpoint, (int)strnlen(r->endpoint, COL_ENDPOINT_MAX),
                               SQLITE_STATIC);
    if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_DONE)
        status = col_ob_fail(ob, rc, "reporting the daemon's state", err, err_size);
out:
    sqlite3_finalize(st);
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
                                 "daemon_in_flight_updates, daemon_endpoint, daemon_moves "
                                 "FROM state WHERE id = 1",
                                 &st, "reading the daemon's state", err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r->pid = sqlite3_column_int64(st, 0);
        r->started_ms = sqlite3_column_int64(st, 1);
        r->heartbeat_ms = sqlite3_column_int64(st, 2);
        r->connected = sqlite3_column_int64(st, 3) != 0;
        r->in_flight_batches = sqlite3_column_int64(st, 4);
        r->in_flight_updates = sqlite3_column_int64(st, 5);
        col_ob_copy_column(st, 6, r->endpoint, sizeof(r->endpoint));
        r->moves = sqlite3_column_int64(st, 7);
    } else {
        status = col_ob_fail(ob, rc, "reading the daemon's state", err, err_size);
    }
    sqlite3_finalize(st);
    return status;
}

/* Up to `max` rows of `sql` (a kept rejection or warning per row, newest first; one bind:
 * the limit). */
static int read_kept(struct col_outbox *ob, const char *sql, const char *doing,
                     struct col_kept_row *rows, size_t max, size_t *n, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int status, rc = SQLITE_DONE;

    *n = 0;
    if ((status = col_ob_prepare(ob, sql, &st, doing, err, err_size)) != 0)
        return status;
    if ((rc = sqlite3_bind_int64(st, 1, (int64_t)max)) != SQLITE_OK) {
        status = col_ob_fail(ob, rc, doing, err, err_size);
        goto out;
    }
    while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct col_kept_row *r = &rows[got++];
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
        r->at_ms = sqlite3_column_int64(st, 8);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        status = col_ob_fail(ob, rc, doing, err, err_size);
    *n = status == 0 ? got : 0;
out:
    sqlite3_finalize(st);
    return status;
}

int col_outbox_rejections(struct col_outbox *ob, struct col_kept_row *rows, size_t max, size_t *n,
                          char *err, size_t err_size)
{
    return read_kept(ob,
                     "SELECT seq, ind, period, value, origin, line, code, msg, rejected_ms "
                     "FROM rejected ORDER BY id DESC LIMIT ?",
                     "reading rejections", rows, max, n, err, err_size);
}

int col_outbox_warnings(struct col_outbox *ob, struct col_kept_row *rows, size_t max, size_t *n,
                        char *err, size_t err_size)
{
    return read_kept(ob,
                     "SELECT seq, ind, period, value, origin, line, code, msg, warned_ms "
                     "FROM warned ORDER BY id DESC LIMIT ?",
                     "reading warnings", rows, max, n, err, err_size);
}

#define DUE_TABLE                                                                                  \
    "CREATE TABLE IF NOT EXISTS due (position INTEGER PRIMARY KEY, year INTEGER NOT NULL,"         \
    " round TEXT NOT NULL, due TEXT NOT NULL, n_missing INTEGER NOT NULL, missing TEXT NOT NULL,"  \
    " received_ms INTEGER NOT NULL)"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    return h;
}

/* FNV-1a over what a `due` says, to tell an unchanged one without touching the disk. */
static uint64_t due_hash(const struct ct_due *due)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t r = 0; r < due->n_rounds; r++) {
        const struct ct_due_round *dr = &due->rounds[r];
        h = fnv(h, &dr->year, sizeof(dr->year));
        h = fnv(h, dr->round, strlen(dr->round) + 1);
        h = fnv(h, dr->due, strlen(dr->due) + 1);
        for (size_t k = 0; k < dr->n_missing; k++)
            h = fnv(h, due->missing[dr->first_missing + k],
                    strlen(due->missing[dr->first_missing + k]) + 1);
        h = fnv(h, "", 1);
    }
    return h | 1; /* never 0, which means "none stored" */
}

int col_outbox_set_due(struct col_outbox *ob, const struct ct_due *due, char *err, size_t err_size)
{
    uint64_t h = due_hash(due);
    sqlite3_stmt *st = NULL;
    int status, rc;

    if (h == ob->due_hash)
        return 0;
    if ((status = col_ob_begin(ob, "keeping what is due", err, err_size)) != 0)
        return status;
    if ((status = col_ob_exec(ob, DUE_TABLE "; DELETE FROM due", "keeping what is due", err,
                              err_size)) != 0 ||
        (status = col_ob_prepare(ob,
                                 "INSERT INTO due (position, year, round, due, n_missing, missing,"
                                 " received_ms) VALUES (?,?,?,?,?,?,?)",
                                 &st, "keeping what is due", err, err_size)) != 0)
        goto fail;
    for (size_t r = 0; r < due->n_rounds; r++) {
        const struct ct_due_round *dr = &due->rounds[r];
        char missing[COL_DUE_MISSING_MAX];
        size_t used = 0;
        missing[0] = '\0';
        for (size_t k = 0; k < dr->n_missing && used < sizeof(missing); k++)
            used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s", k ? " " : "",
                                     due->missing[dr->first_missing + k]);
        if (used >= sizeof(missing)) /* cut at a whole code */
            *strrchr(missing, ' ') = '\0';
        sqlite3_reset(st);
        if ((rc = sqlite3_bind_int64(st, 1, (int64_t)r)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 2, dr->year)) != SQLITE_OK ||
            (rc = sqlite3_bind_text(st, 3, dr->round, -1, SQLITE_STATIC)) != SQLITE_OK ||
            (rc = sqlite3_bind_text(st, 4, dr->due, -1, SQLITE_STATIC)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 5, (int64_t)dr->n_missing)) != SQLITE_OK ||
            (rc = sqlite3_bind_text(st, 6, missing, -1, SQLITE_TRANSIENT)) != SQLITE_OK ||
            (rc = sqlite3_bind_int64(st, 7, ct_time_now_ms())) != SQLITE_OK ||
            (rc = sqlite3_step(st)) != SQLITE_DONE) {
            status = col_ob_fail(ob, rc, "keeping what is due", err, err_size);
            goto fail;
        }
    }
    sqlite3_finalize(st);
    if ((status = col_ob_commit(ob, "keeping what is due", err, err_size)) != 0)
        return status;
    ob->due_hash = h;
    return 0;
fail:
    sqlite3_finalize(st);
    col_ob_rollback(ob);
    return status;
}

int col_outbox_due(struct col_outbox *ob, struct col_due_row **rows, size_t *n,
                   int64_t *received_ms, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    struct col_due_row *out = NULL;
    int64_t exists = 0;
    int status, rc = SQLITE_DONE;

    *rows = NULL;
    *n = 0;
    *received_ms = 0;
    if ((status = col_ob_scalar(ob,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'due'",
                                0, &exists, NULL, "reading what is due", err, err_size)) != 0 ||
        exists == 0)
        return status;
    if ((status = col_ob_prepare(ob,
                                 "SELECT year, round, due, n_missing, missing, received_ms FROM due"
                                 " ORDER BY position",
                                 &st, "reading what is due", err, err_size)) != 0)
        return status;
    out = calloc(CT_WIRE_MAX_DUE, sizeof(*out));
    if (out == NULL) {
        snprintf(err, err_size, "reading what is due: out of memory");
        status = COL_OUTBOX_ERROR;
        goto out;
    }
    while (*n < CT_WIRE_MAX_DUE && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct col_due_row *r = &out[(*n)++];
        r->year = sqlite3_column_int64(st, 0);
        col_ob_copy_column(st, 1, r->round, sizeof(r->round));
        col_ob_copy_column(st, 2, r->due, sizeof(r->due));
        r->n_missing = sqlite3_column_int64(st, 3);
        col_ob_copy_column(st, 4, r->missing, sizeof(r->missing));
        *received_ms = sqlite3_column_int64(st, 5);
    }
    if (*n < CT_WIRE_MAX_DUE && rc != SQLITE_DONE) {
        status = col_ob_fail(ob, rc, "reading what is due", err, err_size);
        goto out;
    }
    *rows = out;
    out = NULL;
out:
    free(out);
    sqlite3_finalize(st);
    return status;
}
