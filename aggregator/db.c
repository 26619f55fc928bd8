#include "db.h"
#include "timefmt.h"

#include <errno.h>
#include <libpq-events.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct deadline;
static struct deadline *deadline_of(const PGconn *conn);
static void watch_reset(PGconn *conn);
static bool watch_fired(PGconn *conn, const char *what, char *err, size_t err_size);
static PGresult *exec_within(PGconn *conn, struct deadline *d, const char *sql, int n_params,
                             const char *const *params, bool *timed_out);

#define SQLSTATE_UNIQUE_VIOLATION "23505"

/* Copies a libpq message as one line: newlines become "; ", the trailing one goes. */
static void one_line(const char *msg, char *out, size_t out_size)
{
    size_t k = 0;

    if (out_size == 0)
        return;
    for (size_t i = 0; msg != NULL && msg[i] != '\0' && k + 1 < out_size; i++) {
        if (msg[i] == '\n') {
            if (msg[i + 1] == '\0')
                break;
            if (k + 3 >= out_size)
                break;
            out[k++] = ';';
            out[k++] = ' ';
            while (msg[i + 1] == ' ' || msg[i + 1] == '\t')
                i++;
            continue;
        }
        out[k++] = msg[i];
    }
    out[k] = '\0';
}

void agg_db_message(PGconn *conn, const PGresult *res, char *out, size_t out_size)
{
    char raw[2 * AGG_DB_ERR_MAX];
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *text = NULL;

    if (primary != NULL) {
        /* From the fields, not PQresultErrorMessage: that adds CONTEXT (a PL/pgSQL stack,
         * a COPY line) but not always the DETAIL in the order wanted here. The DETAIL is
         * what names the key of a unique violation. */
        const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
        const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

        snprintf(raw, sizeof(raw), "%s%s%s%s%s%s%s", severity != NULL ? severity : "",
                 severity != NULL ? ":  " : "", primary, detail != NULL ? "\nDETAIL:  " : "",
                 detail != NULL ? detail : "", hint != NULL ? "\nHINT:  " : "",
                 hint != NULL ? hint : "");
        text = raw;
    }
    if (text == NULL && res != NULL && PQresultErrorMessage(res)[0] != '\0')
        text = PQresultErrorMessage(res);
    if (text == NULL && conn != NULL && PQerrorMessage(conn)[0] != '\0')
        text = PQerrorMessage(conn);
    if (text == NULL)
        text = res != NULL ? PQresStatus(PQresultStatus(res)) : "no connection";
    one_line(text, out, out_size);
}

void agg_db_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t err_size)
{
    char msg[AGG_DB_ERR_MAX];

    agg_db_message(conn, res, msg, sizeof(msg));
    snprintf(err, err_size, "%s: %s", what, msg);
}

enum agg_db_outcome agg_db_outcome_of(PGconn *conn, const PGresult *res)
{
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
        return AGG_DB_LOST;
    if (strcmp(agg_db_sqlstate(res), SQLSTATE_UNIQUE_VIOLATION) == 0)
        return AGG_DB_UNIQUE;
    return AGG_DB_REFUSED;
}

enum agg_db_outcome agg_db_failed(PGconn *conn, const PGresult *res, const char *what, char *err,
                                  size_t err_size)
{
    agg_db_error(conn, res, what, err, err_size);
    return agg_db_outcome_of(conn, res);
}

const char *agg_db_sqlstate(const PGresult *res)
{
    const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s != NULL ? s : "";
}

PGconn *agg_db_connect(const char *conninfo, char *err, size_t err_size)
{
    PGconn *conn = PQconnectdb(conninfo != NULL ? conninfo : "");

    if (conn == NULL) {
        snprintf(err, err_size, "cannot connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq's connection messages name host, port and user, never the password. */
        agg_db_error(conn, NULL, "cannot connect to the database", err, err_size);
        PQfinish(conn);
        return NULL;
    }
    if (PQsetClientEncoding(conn, "UTF8") != 0) {
        agg_db_error(conn, NULL, "cannot set client_encoding UTF8", err, err_size);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGresult *agg_db_query(PGconn *conn, const char *what, const char *sql, int n_params,
                       const char *const *params, ExecStatusType expect, char *err, size_t err_size)
{
    struct deadline *d = deadline_of(conn);
    bool timed_out = false;
    PGresult *res;

    if (agg_db_expired(conn)) {
        snprintf(err, err_size, "%s: the connection was abandoned after a timeout", what);
        return NULL;
    }
    if (d != NULL && agg_db_deadline(conn) > 0)
        res = exec_within(conn, d, sql, n_params, params, &timed_out);
    else
        res = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
    if (timed_out) {
        snprintf(err, err_size, "%s: the database did not answer in time", what);
        return NULL;
    }
    if (res == NULL || PQresultStatus(res) != expect) {
        agg_db_error(conn, res, what, err, err_size);
        PQclear(res);
        return NULL;
    }
    return res;
}

int agg_db_exec(PGconn *conn, const char *what, const char *sql, int n_params,
                const char *const *params, char *err, size_t err_size)
{
    PGresult *res =
        agg_db_query(conn, what, sql, n_params, params, PGRES_COMMAND_OK, err, err_size);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int agg_db_begin(PGconn *conn, char *err, size_t err_size)
{
    return agg_db_exec(conn, "BEGIN", "BEGIN", 0, NULL, err, err_size);
}

int agg_db_commit(PGconn *conn, char *err, size_t err_size)
{
    PGresult *res;
    int rc = -1;

    watch_reset(conn);
    res = PQexec(conn, "COMMIT");

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        agg_db_error(conn, res, "COMMIT", err, err_size);
        goto out;
    }
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, err_size, "COMMIT: the server rolled the transaction back (%s)",
                 PQcmdStatus(res));
        goto out;
    }
    if (watch_fired(conn, "COMMIT", err, err_size))
        goto out;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int agg_db_rollback(PGconn *conn)
{
    PGresult *res;
    int rc;

    /* No message: after a failure the caller reports the first error, and a dead
     * connection rolls back by itself. */
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return 0;
    res = PQexec(conn, "ROLLBACK");
    rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

/* ---- commits whose replication was not confirmed ------------------------------ */

/* What a watched connection carries: libpq's instance data, freed with the connection. */
struct watch {
    PQnoticeReceiver chained; /* libpq's default: prints the notice as before */
    bool unreplicated;        /* a syncrep warning arrived since the last watch_reset */
    char msg[AGG_DB_ERR_MAX]; /* its text, by agg_db_message */
};

static int watch_event(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, watch_event));
    }
    return 1;
}

/* A cancelled (or, before a FATAL, terminated) wait for synchronous replication is a
 * WARNING raised in syncrep.c, after the commit is already durable locally. Its SQLSTATE
 * is the generic 01000 and its text is translated, so the source file is what tells it
 * apart from any other warning. */
static void watch_notice(void *arg, const PGresult *res)
{
    struct watch *w = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *file = PQresultErrorField(res, PG_DIAG_SOURCE_FILE);

    if (severity != NULL && strcmp(severity, "WARNING") == 0 && file != NULL &&
        strcmp(file, "syncrep.c") == 0 && !w->unreplicated) {
        w->unreplicated = true;
        agg_db_message(NULL, res, w->msg, sizeof(w->msg));
    }
    if (w->chained != NULL)
        w->chained(NULL, res);
}

int agg_db_watch_replication(PGconn *conn)
{
    struct watch *w;

    if (PQinstanceData(conn, watch_event) != NULL)
        return 0;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    if (PQregisterEventProc(conn, watch_event, "citytally replication watch", NULL) != 1 ||
        PQsetInstanceData(conn, watch_event, w) != 1) {
        free(w);
        return -1;
    }
    /* With a NULL receiver libpq only reports the current one: the default, whose
     * argument is unused. */
    w->chained = PQsetNoticeReceiver(conn, NULL, NULL);
    PQsetNoticeReceiver(conn, watch_notice, w);
    return 0;
}

static void watch_reset(PGconn *conn)
{
    struct watch *w = PQinstanceData(conn, watch_event);
    if (w != NULL)
        w->unreplicated = false;
}

/* After a statement that succeeded: true, with "<what>: <the warning>" in `err`, when a
 * syncrep warning arrived meanwhile. */
static bool watch_fired(PGconn *conn, const char *what, char *err, size_t err_size)
{
    struct watch *w = PQinstanceData(conn, watch_event);

    if (w == NULL || !w->unreplicated)
        return false;
    snprintf(err, err_size, "%s: %s", what, w->msg);
    return true;
}

/* ---- pipelines and COPY ------------------------------------------------------------ */

enum agg_db_outcome agg_db_pipeline(PGconn *conn, const struct agg_db_step *steps, size_t n,
                                    char *err, size_t err_size)
{
    enum agg_db_outcome outcome = AGG_DB_OK;
    PGresult *res;

    for (size_t i = 0; i < n; i++) {
        if (steps[i].keep != NULL)
            *steps[i].keep = NULL;
    }
    watch_reset(conn);
    if (PQenterPipelineMode(conn) != 1)
        return agg_db_failed(conn, NULL, "entering pipeline mode", err, err_size);
    for (size_t i = 0; i < n; i++) {
        if (PQsendQueryParams(conn, steps[i].sql, steps[i].n_params, NULL, steps[i].params, NULL,
                              NULL, 0) != 1) {
            outcome = agg_db_failed(conn, NULL, steps[i].what, err, err_size);
            goto out;
        }
    }
    if (PQpipelineSync(conn) != 1) {
        outcome = agg_db_failed(conn, NULL, "sending the pipeline", err, err_size);
        goto out;
    }
    for (size_t i = 0; i <= n; i++) {
        const char *what = i < n ? steps[i].what : "ending the pipeline";
        ExecStatusType expect = i < n ? steps[i].expect : PGRES_PIPELINE_SYNC;
        bool ok;

        res = PQgetResult(conn);
        if (res == NULL) { /* only when the connection broke: every step has a result */
            if (outcome == AGG_DB_OK)
                outcome = agg_db_failed(conn, NULL, what, err, err_size);
            goto out;
        }
        ok = PQresultStatus(res) == expect;
        if (!ok && outcome == AGG_DB_OK)
            outcome = agg_db_failed(conn, res, what, err, err_size);
        if (ok && i < n && steps[i].tag != NULL && strcmp(PQcmdStatus(res), steps[i].tag) != 0) {
            /* A COMMIT of a failed transaction answers ROLLBACK, with no error of its own. */
            if (outcome == AGG_DB_OK) {
                snprintf(err, err_size, "%s: the server answered %s", what, PQcmdStatus(res));
                outcome = AGG_DB_REFUSED;
            }
            ok = false;
        }
        if (ok && outcome == AGG_DB_OK && i < n && watch_fired(conn, what, err, err_size))
            outcome = AGG_DB_LOST; /* committed here, perhaps nowhere else */
        if (ok && outcome == AGG_DB_OK && i < n && steps[i].keep != NULL)
            *steps[i].keep = res;
        else
            PQclear(res);
        if (i < n) { /* a statement's results end with NULL; the sync's do not */
            while ((res = PQgetResult(conn)) != NULL)
                PQclear(res);
        }
    }
out:
    if (PQexitPipelineMode(conn) != 1) {
        /* Results left unread (the connection broke mid-way): the caller drops it. */
        agg_db_error(conn, NULL, "leaving pipeline mode", err, err_size);
        outcome = AGG_DB_LOST;
    }
    if (outcome != AGG_DB_OK) {
        for (size_t i = 0; i < n; i++) {
            if (steps[i].keep != NULL) {
                PQclear(*steps[i].keep);
                *steps[i].keep = NULL;
            }
        }
    }
    return outcome;
}

enum agg_db_outcome agg_db_copy_in(PGconn *conn, const char *sql, const char *data, size_t len,
                                   char *err, size_t err_size)
{
    PGresult *res;
    enum agg_db_outcome outcome = AGG_DB_OK;

    if (len > INT_MAX) {
        snprintf(err, err_size, "COPY: %zu bytes are more than one call can send", len);
        return AGG_DB_REFUSED;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        outcome = agg_db_failed(conn, res, sql, err, err_size);
        PQclear(res);
        return outcome;
    }
    PQclear(res);
    if (PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1)
        return agg_db_failed(conn, NULL, "COPY", err, err_size);
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && outcome == AGG_DB_OK)
            outcome = agg_db_failed(conn, res, "COPY", err, err_size);
        PQclear(res);
    }
    return outcome;
}

/* ---- cancelling without waiting -------------------------------------------------- */

static void *cancel_main(void *arg)
{
    PGcancel *cancel = arg;
    char why[256];

    /* The outcome does not matter: the caller has given up on the connection already. */
    (void)PQcancel(cancel, why, sizeof(why));
    PQfreeCancel(cancel);
    return NULL;
}

int agg_db_cancel_async(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    pthread_attr_t attr;
    pthread_t thread;
    int rc;

    if (cancel == NULL)
        return -1;
    rc = pthread_attr_init(&attr);
    if (rc == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rc == 0)
            rc = pthread_create(&thread, &attr, cancel_main, cancel);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        PQfreeCancel(cancel);
        return -1;
    }
    return 0;
}

/* ---- deadlines ------------------------------------------------------------------- */

/* What a connection carries for agg_db_query: libpq's instance data, freed with the
 * connection (PGEVT_CONNDESTROY). */
struct deadline {
    int64_t at_ms; /* monotonic; 0: none */
    bool expired;  /* a statement was abandoned mid-way: the connection is unusable */
};

static int deadline_event(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, deadline_event));
    }
    return 1;
}

static struct deadline *deadline_of(const PGconn *conn)
{
    return conn != NULL ? PQinstanceData(conn, deadline_event) : NULL;
}

int agg_db_set_deadline(PGconn *conn, int64_t deadline_mono_ms)
{
    struct deadline *d = deadline_of(conn);

    if (d == NULL) {
        d = calloc(1, sizeof(*d));
        if (d == NULL)
            return -1;
        if (PQregisterEventProc(conn, deadline_event, "citytally deadline", NULL) != 1 ||
            PQsetInstanceData(conn, deadline_event, d) != 1) {
            free(d);
            return -1;
        }
    }
    d->at_ms = deadline_mono_ms;
    return 0;
}

int64_t agg_db_deadline(const PGconn *conn)
{
    const struct deadline *d = deadline_of(conn);
    return d != NULL ? d->at_ms : 0;
}

bool agg_db_expired(const PGconn *conn)
{
    const struct deadline *d = deadline_of(conn);
    return d != NULL && d->expired;
}

/* Waits until the socket is ready for `events` or the deadline passes. Returns 1 when
 * ready, 0 at the deadline, -1 on a poll error. */
static int wait_socket(PGconn *conn, short events, int64_t at_ms)
{
    struct pollfd p = {.fd = PQsocket(conn), .events = events};

    if (p.fd < 0)
        return -1;
    for (;;) {
        int64_t left = at_ms - ct_time_mono_ms();
        int rc;

        if (left <= 0)
            return 0;
        rc = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* PQexecParams without ever blocking past d->at_ms: send, flush and read with poll(). On
 * the deadline *timed_out is set and the statement is abandoned where it stands; the
 * connection is marked expired, since its protocol state is unknown. No PQcancel: it
 * waits for the postmaster without a timeout, and a frozen server never answers it; the
 * statement_timeout set at connect ends the abandoned statement on the server instead. */
static PGresult *exec_within(PGconn *conn, struct deadline *d, const char *sql, int n_params,
                             const char *const *params, bool *timed_out)
{
    PGresult *last = NULL;
    int ready;

    *timed_out = false;
    if (ct_time_mono_ms() >= d->at_ms) {
        *timed_out = true; /* nothing sent: the connection stays usable */
        return NULL;
    }
    if (PQsetnonblocking(conn, 1) != 0 ||
        PQsendQueryParams(conn, sql, n_params, NULL, params, NULL, NULL, 0) != 1)
        return NULL;
    for (;;) {
        int flushed = PQflush(conn);
        if (flushed == 0)
            break;
        if (flushed < 0)
            return NULL;
        ready = wait_socket(conn, POLLIN | POLLOUT, d->at_ms);
        if (ready <= 0)
            goto abandoned;
        if (PQconsumeInput(conn) != 1)
            return NULL;
    }
    for (;;) {
        PGresult *res;
        ExecStatusType st;

        while (PQisBusy(conn)) {
            ready = wait_socket(conn, POLLIN, d->at_ms);
            if (ready <= 0)
                goto abandoned;
            if (PQconsumeInput(conn) != 1) {
                PQclear(last);
                return NULL;
            }
        }
        res = PQgetResult(conn);
        if (res == NULL)
            break;
        /* As PQexec does: the last result stands, unless an earlier one was an error. */
        st = PQresultStatus(last);
        if (last != NULL && (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR)) {
            PQclear(res);
            continue;
        }
        PQclear(last);
        last = res;
        st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            break;
    }
    return last;
abandoned:
    PQclear(last);
    d->expired = true;
    *timed_out = true;
    return NULL;
}

/* ---- reading a COPY's output ---------------------------------------------------- */

/* Waits for more of a COPY's output or of its end on a connection with a deadline.
 * Returns 0, or -1 with `err` (the deadline passed: the connection is now expired). */
static int copy_out_wait(PGconn *conn, struct deadline *d, const char *what, char *err,
                         size_t err_size)
{
    int ready = wait_socket(conn, POLLIN, d->at_ms);

    if (ready == 0) {
        d->expired = true;
        snprintf(err, err_size, "%s: the database did not answer in time", what);
        return -1;
    }
    if (ready < 0 || PQconsumeInput(conn) != 1) {
        agg_db_error(conn, NULL, what, err, err_size);
        return -1;
    }
    return 0;
}

int agg_db_copy_out_next(PGconn *conn, const char *what, char **row, char *err, size_t err_size)
{
    struct deadline *d = deadline_of(conn);
    bool within = d != NULL && d->at_ms > 0;
    PGresult *res;
    int n, rc = 0;

    *row = NULL;
    while ((n = PQgetCopyData(conn, row, within)) == 0)
        if (copy_out_wait(conn, d, what, err, err_size) != 0)
            return -1;
    if (n > 0)
        return n;
    if (n == -2) {
        agg_db_error(conn, NULL, what, err, err_size);
        return -1;
    }
    /* the output ended: COPY's own result says whether all of it was sent */
    for (;;) {
        while (within && PQisBusy(conn))
            if (copy_out_wait(conn, d, what, err, err_size) != 0)
                return -1;
        if ((res = PQgetResult(conn)) == NULL)
            break;
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            agg_db_error(conn, res, what, err, err_size);
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

int agg_db_copy_out_drain(PGconn *conn)
{
    char err[AGG_DB_ERR_MAX + 16], *row; /* the reason is not kept: only the end matters */
    int n;

    while ((n = agg_db_copy_out_next(conn, "COPY", &row, err, sizeof(err))) > 0)
        PQfreemem(row);
    return n == 0 || PQstatus(conn) == CONNECTION_OK ? 0 : -1;
}

/* ---- connecting with a deadline ----------------------------------------------------- */

PGconn *agg_db_connect_within(const char *conninfo, const char *application_name,
                              int statement_timeout_ms, int64_t deadline_mono_ms, char *err,
                              size_t err_size)
{
    /* Keepalives notice a dead peer host, tcp_user_timeout a connection whose sent bytes
     * are never acknowledged (TCP only; ignored on a unix socket). They come before
     * dbname, so the conninfo may tune them; what follows it is ours. */
    static const char *const keys[] = {"keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "dbname",
                                       "application_name",
                                       "client_encoding",
                                       "options",
                                       NULL};
    char options[128];
    const char *values[] = {
        "1",    "5",     "2", "2", "8000", conninfo != NULL ? conninfo : "", application_name,
        "UTF8", options, NULL};
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    PGconn *conn;

    /* Pages run the same functions with very different arguments (as of now, as known at a
     * past K): a generic plan cached for one kind made the other slow enough to miss the
     * page deadline (a /changes after five revised-since dashboards took 8 s instead of 1),
     * so every statement is planned for its own arguments. */
    snprintf(options, sizeof(options),
             "-c statement_timeout=%d -c plan_cache_mode=force_custom_plan", statement_timeout_ms);
    conn = PQconnectStartParams(keys, values, 1);
    if (conn == NULL) {
        snprintf(err, err_size, "cannot connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(conn) == CONNECTION_BAD)
        goto failed;
    while (st != PGRES_POLLING_OK) {
        int ready;

        if (st == PGRES_POLLING_FAILED)
            goto failed;
        /* The socket may change between calls: libpq tries each host in turn. */
        ready = wait_socket(conn, st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, deadline_mono_ms);
        if (ready == 0) {
            snprintf(err, err_size, "cannot connect to the database: no answer in time");
            goto out;
        }
        if (ready < 0)
            goto failed;
        st = PQconnectPoll(conn);
    }
    if (agg_db_set_deadline(conn, 0) != 0) {
        snprintf(err, err_size, "cannot connect to the database: out of memory");
        goto out;
    }
    return conn;
failed:
    agg_db_error(conn, NULL, "cannot connect to the database", err, err_size);
out:
    PQfinish(conn);
    return NULL;
}

/* ---- a pool of connections ---------------------------------------------------------- */

struct agg_db_pool {
    pthread_mutex_t lock;
    pthread_cond_t returned; /* on CLOCK_MONOTONIC */
    char *conninfo;
    char *application_name;
    int statement_timeout_ms;
    size_t size;   /* connections at most */
    size_t n_out;  /* handed out (or being connected) */
    size_t n_idle; /* in `idle` */
    PGconn **idle;
};

struct agg_db_pool *agg_db_pool_new(const char *conninfo, const char *application_name, size_t size,
                                    int statement_timeout_ms)
{
    struct agg_db_pool *p = calloc(1, sizeof(*p));
    pthread_condattr_t attr;
    bool have_attr = false, have_lock = false, have_cond = false;

    if (p == NULL)
        return NULL;
    p->size = size > 0 ? size : 1;
    p->statement_timeout_ms = statement_timeout_ms;
    p->conninfo = strdup(conninfo != NULL ? conninfo : "");
    p->application_name = strdup(application_name);
    p->idle = calloc(p->size, sizeof(*p->idle));
    if (p->conninfo == NULL || p->application_name == NULL || p->idle == NULL)
        goto fail;
    have_attr = pthread_condattr_init(&attr) == 0;
    if (!have_attr || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
        goto fail;
    have_lock = pthread_mutex_init(&p->lock, NULL) == 0;
    have_cond = have_lock && pthread_cond_init(&p->returned, &attr) == 0;
    if (!have_cond)
        goto fail;
    pthread_condattr_destroy(&attr);
    return p;
fail:
    if (have_attr)
        pthread_condattr_destroy(&attr);
    if (have_lock)
        pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->application_name);
    free(p->conninfo);
    free(p);
    return NULL;
}

void agg_db_pool_free(struct agg_db_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        PQfinish(p->idle[i]);
    pthread_cond_destroy(&p->returned);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->application_name);
    free(p->conninfo);
    free(p);
}

/* A pooled connection is worth keeping only if nothing is half done on it. Reading what
 * the server sent meanwhile turns a terminated backend's goodbye into CONNECTION_BAD. */
static bool reusable(PGconn *conn)
{
    return !agg_db_expired(conn) && PQstatus(conn) == CONNECTION_OK && PQconsumeInput(conn) == 1 &&
           PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE &&
           !PQisBusy(conn);
}

/* Takes an idle connection or a free slot, waiting for one until `wait_until_ms` (0: not
 * at all), and connects in the slot when needed. */
static PGconn *pool_take(struct agg_db_pool *p, int64_t wait_until_ms, int64_t deadline_mono_ms,
                         char *err, size_t err_size)
{
    PGconn *conn = NULL;
    struct timespec until = {.tv_sec = wait_until_ms / 1000,
                             .tv_nsec = (long)(wait_until_ms % 1000) * 1000000L};
    int rc = wait_until_ms > 0 ? 0 : ETIMEDOUT;

    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->n_out >= p->size && rc == 0)
        rc = pthread_cond_timedwait(&p->returned, &p->lock, &until);
    if (p->n_idle == 0 && p->n_out >= p->size) {
        pthread_mutex_unlock(&p->lock);
        snprintf(err, err_size, "database unavailable: all %zu connections stayed busy", p->size);
        return NULL;
    }
    if (p->n_idle > 0)
        conn = p->idle[--p->n_idle];
    p->n_out++;
    pthread_mutex_unlock(&p->lock);

    if (conn != NULL && !reusable(conn)) {
        PQfinish(conn);
        conn = NULL;
    }
    if (conn == NULL)
        conn = agg_db_connect_within(p->conninfo, p->application_name, p->statement_timeout_ms,
                                     deadline_mono_ms, err, err_size);
    if (conn == NULL || agg_db_set_deadline(conn, deadline_mono_ms) != 0) {
        if (conn != NULL)
            snprintf(err, err_size, "database unavailable: out of memory");
        PQfinish(conn);
        agg_db_pool_put(p, NULL);
        return NULL;
    }
    return conn;
}

PGconn *agg_db_pool_get(struct agg_db_pool *p, int64_t deadline_mono_ms, char *err, size_t err_size)
{
    return pool_take(p, deadline_mono_ms, deadline_mono_ms, err, err_size);
}

PGconn *agg_db_pool_try_get(struct agg_db_pool *p, int64_t deadline_mono_ms)
{
    char err[AGG_DB_ERR_MAX];

    return pool_take(p, 0, deadline_mono_ms, err, sizeof(err));
}

void agg_db_pool_put(struct agg_db_pool *p, PGconn *conn)
{
    if (conn != NULL && (!reusable(conn) || agg_db_set_deadline(conn, 0) != 0)) {
        PQfinish(conn);
        conn = NULL;
    }
    pthread_mutex_lock(&p->lock);
    p->n_out--;
    if (conn != NULL)
        p->idle[p->n_idle++] = conn;
    pthread_cond_signal(&p->returned);
    pthread_mutex_unlock(&p->lock);
}
