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
static PGresult *exec_within(PGconn *conn, struct deadline *d, const char *sql, int n_params,
                             const char *const *params, bool *timed_out);

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

void agg_db_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t err_size)
{
    char msg[AGG_DB_ERR_MAX];
    const char *text = NULL;

    if (res != NULL)
        text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (text == NULL && res != NULL && PQresultErrorMessage(res)[0] != '\0')
        text = PQresultErrorMessage(res);
    if (text == NULL && conn != NULL)
        text = PQerrorMessage(conn);
    if (text == NULL || text[0] == '\0')
        text = res != NULL ? PQresStatus(PQresultStatus(res)) : "no connection";
    one_line(text, msg, sizeof(msg));
    snprintf(err, err_size, "%s: %s", what, msg);
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
    PGresult *res = PQexec(conn, "COMMIT");
    int rc = -1;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        agg_db_error(conn, res, "COMMIT", err, err_size);
        goto out;
    }
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, err_size, "COMMIT: the server rolled the transaction back (%s)",
                 PQcmdStatus(res));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

void agg_db_rollback(PGconn *conn)
{
    /* Best effort by design: after a failure the caller reports the first error, and a
     * dead connection rolls back by itself. */
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
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

PGconn *agg_db_pool_get(struct agg_db_pool *p, int64_t deadline_mono_ms, char *err, size_t err_size)
{
    PGconn *conn = NULL;
    struct timespec until = {.tv_sec = deadline_mono_ms / 1000,
                             .tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000L};
    int rc = 0;

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
