#include "session.h"
#include "db.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 100
#define CONNECT_TIMEOUT_S "5"

void agg_session_init(struct agg_session *s, const char *conninfo, int64_t backoff_max_ms,
                      bool listen, const struct ct_log *log)
{
    memset(s, 0, sizeof(*s));
    s->listen = listen;
    ct_strlcpy(s->conninfo, conninfo, sizeof(s->conninfo));
    s->backoff_ms = BACKOFF_FIRST_MS;
    s->backoff_max_ms = backoff_max_ms;
    s->log = log;
    agg_session_origin(s->origin, sizeof(s->origin));
}

void agg_session_origin(char *buf, size_t size)
{
    char host[64];

    if (gethostname(host, sizeof(host)) != 0)
        ct_strlcpy(host, "unknown-host", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    /* Quoted into SQL and notification payloads as it is: nothing there but these. */
    for (char *c = host; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_'))
            *c = '_';
    }
    snprintf(buf, size, "%s/%ld", host, (long)getpid());
}

/* Closes the connection, if any; the session stays usable and reconnects on demand. */
static void drop_conn(struct agg_session *s)
{
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->conn = NULL;
}

void agg_session_release(struct agg_session *s)
{
    drop_conn(s);
}

bool agg_session_up(const struct agg_session *s)
{
    return s->conn != NULL;
}

PGconn *agg_session_conn(const struct agg_session *s)
{
    return s->conn;
}

int agg_session_socket(const struct agg_session *s)
{
    return s->conn != NULL ? PQsocket(s->conn) : -1;
}

int64_t agg_session_wait_ms(const struct agg_session *s, int64_t now_mono_ms)
{
    if (s->conn != NULL || now_mono_ms >= s->next_attempt_mono_ms)
        return 0;
    return s->next_attempt_mono_ms - now_mono_ms;
}

static void schedule_retry(struct agg_session *s, int64_t now_mono_ms)
{
    s->next_attempt_mono_ms = now_mono_ms + s->backoff_ms;
    s->backoff_ms *= 2;
    if (s->backoff_ms > s->backoff_max_ms)
        s->backoff_ms = s->backoff_max_ms;
}

bool agg_session_ensure(struct agg_session *s, int64_t now_mono_ms, bool *fresh)
{
    /* connect_timeout comes first so a value in the user's conninfo overrides it. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {CONNECT_TIMEOUT_S, "citytally-aggregator", s->conninfo, NULL};
    char why[AGG_DB_ERR_MAX], setup[256];
    PGresult *res;

    *fresh = false;
    if (s->conn != NULL)
        return true;
    if (now_mono_ms < s->next_attempt_mono_ms)
        return false;

    s->conn = PQconnectdbParams(keys, values, 1);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        if (s->conn != NULL)
            agg_db_message(s->conn, NULL, why, sizeof(why));
        else
            ct_strlcpy(why, "out of memory", sizeof(why));
        drop_conn(s);
        ct_complain(s->log, &s->down, CT_LOG_ERROR, "database", "unreachable: %s", why);
        schedule_retry(s, now_mono_ms);
        return false;
    }
    /* LISTEN: agents added or removed, commits of other aggregators (a writer's session
     * never reads its input, so it must not collect notifications). citytally.fold: this
     * session folds its own COPYs into current_values (aggregator/fold.c), so the table's
     * trigger need not. citytally.origin: who committed, in the NOTIFY (store.c). */
    snprintf(setup, sizeof(setup), "%sSET citytally.fold = 'daemon'; SET citytally.origin = '%s'",
             s->listen ? "LISTEN " AGG_CHANNEL_AGENTS "; LISTEN " AGG_CHANNEL_COMMITS "; " : "",
             s->origin);
    res = PQexec(s->conn, setup);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        agg_db_message(s->conn, res, why, sizeof(why));
        PQclear(res);
        drop_conn(s);
        ct_complain(s->log, &s->down, CT_LOG_ERROR, "database", "unusable: %s", why);
        schedule_retry(s, now_mono_ms);
        return false;
    }
    PQclear(res);
    s->backoff_ms = BACKOFF_FIRST_MS;
    ct_complaint_release(s->log, &s->down, "database", "reachable again (%s on %s)", PQdb(s->conn),
                         PQhost(s->conn));
    *fresh = true;
    return true;
}

void agg_session_lost(struct agg_session *s, const char *why, int64_t now_mono_ms)
{
    drop_conn(s);
    ct_complain(s->log, &s->down, CT_LOG_ERROR, "database", "connection lost: %s", why);
    schedule_retry(s, now_mono_ms);
}

/* Adds the periods of a citytally_commits payload, "ORIGIN P,P,...", unless this process
 * sent it. */
static void note_commit(const struct agg_session *s, const char *payload, struct agg_notes *notes)
{
    size_t origin_len = strlen(s->origin);
    const char *p;

    if (strncmp(payload, s->origin, origin_len) == 0 && payload[origin_len] == ' ')
        return;
    p = strchr(payload, ' ');
    while (p != NULL && *p != '\0') {
        char *end;
        long period = strtol(p + 1, &end, 10);
        if (end == p + 1)
            break;
        bool seen = false;
        for (size_t i = 0; i < notes->n_periods; i++)
            seen = seen || notes->periods[i] == (int)period;
        if (!seen && notes->n_periods < AGG_NOTES_MAX_PERIODS)
            notes->periods[notes->n_periods++] = (int)period;
        p = *end == ',' ? end : NULL;
    }
}

int agg_session_take_notifications(struct agg_session *s, int64_t now_mono_ms,
                                   struct agg_notes *notes)
{
    PGnotify *note;

    memset(notes, 0, sizeof(*notes));
    if (s->conn == NULL)
        return 0;
    if (PQconsumeInput(s->conn) != 1) {
        char why[AGG_DB_ERR_MAX];
        agg_db_message(s->conn, NULL, why, sizeof(why));
        agg_session_lost(s, why, now_mono_ms);
        return -1;
    }
    while ((note = PQnotifies(s->conn)) != NULL) {
        if (strcmp(note->relname, AGG_CHANNEL_AGENTS) == 0)
            notes->agents = true;
        else if (strcmp(note->relname, AGG_CHANNEL_COMMITS) == 0)
            note_commit(s, note->extra, notes);
        PQfreemem(note);
    }
    return 0;
}

/* Waits until `conn` has a whole result or `deadline` passes. Returns 0, 1 on timeout, -1
 * when the connection broke. */
static int wait_result(PGconn *conn, int64_t deadline_mono_ms)
{
    while (PQisBusy(conn)) {
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        int64_t left = deadline_mono_ms - ct_time_mono_ms();
        int rc;

        if (left <= 0)
            return 1;
        rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc > 0 && PQconsumeInput(conn) != 1)
            return -1;
    }
    return 0;
}

PGresult *agg_session_query(struct agg_session *s, const char *what, const char *sql, int n_params,
                            const char *const *params, ExecStatusType expect, int64_t timeout_ms,
                            char *err, size_t err_size)
{
    int64_t now = ct_time_mono_ms();
    PGresult *res = NULL, *next;
    int waited;

    if (s->conn == NULL) {
        snprintf(err, err_size, "%s: the database is unavailable", what);
        return NULL;
    }
    if (PQsendQueryParams(s->conn, sql, n_params, NULL, params, NULL, NULL, 0) != 1) {
        agg_db_error(s->conn, NULL, what, err, err_size);
        agg_session_lost(s, err, now);
        return NULL;
    }
    for (;;) {
        waited = wait_result(s->conn, now + timeout_ms);
        if (waited != 0)
            break;
        next = PQgetResult(s->conn);
        if (next == NULL)
            break;
        PQclear(res);
        res = next;
    }
    if (waited != 0) {
        PQclear(res);
        if (waited > 0) {
            snprintf(err, err_size, "%s: no answer from the database within %.1f s", what,
                     (double)timeout_ms / 1000.0);
            (void)agg_db_cancel_async(s->conn);
        } else {
            agg_db_error(s->conn, NULL, what, err, err_size);
        }
        agg_session_lost(s, err, ct_time_mono_ms());
        return NULL;
    }
    if (res == NULL || PQresultStatus(res) != expect) {
        agg_db_error(s->conn, res, what, err, err_size);
        PQclear(res);
        if (PQstatus(s->conn) != CONNECTION_OK)
            agg_session_lost(s, err, ct_time_mono_ms());
        return NULL;
    }
    return res;
}

struct agg_guard {
    struct agg_session *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int64_t deadline_mono_ms; /* 0: disarmed */
    bool fired, quit;
};

static void *guard_main(void *arg)
{
    struct agg_guard *g = arg;

    pthread_mutex_lock(&g->mu);
    while (!g->quit) {
        struct timespec until;
        if (g->deadline_mono_ms == 0 || g->fired) {
            pthread_cond_wait(&g->wake, &g->mu);
            continue;
        }
        if (ct_time_mono_ms() < g->deadline_mono_ms) {
            until.tv_sec = (time_t)(g->deadline_mono_ms / 1000);
            until.tv_nsec = (long)(g->deadline_mono_ms % 1000) * 1000000;
            pthread_cond_timedwait(&g->wake, &g->mu, &until);
            continue;
        }
        /* Still armed at the deadline: the call blocks on a server that does not answer.
         * The session's connection cannot change meanwhile: its owner is inside the call,
         * and must disarm (taking the lock) before it can close it. */
        g->fired = true;
        if (g->s->conn != NULL) {
            (void)agg_db_cancel_async(g->s->conn);
            (void)shutdown(PQsocket(g->s->conn), SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct agg_guard *agg_guard_new(struct agg_session *s, char *err, size_t err_size)
{
    struct agg_guard *g = calloc(1, sizeof(*g));
    pthread_condattr_t attr;
    int rc;

    if (g == NULL) {
        snprintf(err, err_size, "starting the database watchdog: out of memory");
        return NULL;
    }
    g->s = s;
    rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&g->wake, &attr);
        pthread_condattr_destroy(&attr);
        if (rc == 0 && (rc = pthread_mutex_init(&g->mu, NULL)) != 0)
            pthread_cond_destroy(&g->wake);
    }
    if (rc == 0 && (rc = pthread_create(&g->thread, NULL, guard_main, g)) != 0) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->wake);
    }
    if (rc != 0) {
        snprintf(err, err_size, "starting the database watchdog: %s", strerror(rc));
        free(g);
        return NULL;
    }
    return g;
}

void agg_guard_free(struct agg_guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->quit = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->wake);
    free(g);
}

void agg_guard_arm(struct agg_guard *g, int64_t timeout_ms)
{
    pthread_mutex_lock(&g->mu);
    g->deadline_mono_ms = ct_time_mono_ms() + timeout_ms;
    g->fired = false;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->mu);
}

bool agg_guard_disarm(struct agg_guard *g)
{
    bool fired;

    pthread_mutex_lock(&g->mu);
    g->deadline_mono_ms = 0;
    fired = g->fired;
    g->fired = false;
    pthread_mutex_unlock(&g->mu);
    return fired;
}
