#include "health.h"
#include "db.h"
#include "timefmt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBJECT "health"
#define REASON_MAX 384

struct agg_health {
    const struct ct_log *log;
    const char *application_name;
    char *conninfo;
    pthread_t thread;
    pthread_mutex_t lock; /* guards the reasons and `stop`; never held across I/O */
    pthread_cond_t wake;  /* on CLOCK_MONOTONIC: ends the probe's pause at stop */
    bool stop;

    atomic_int_fast64_t probe_ok_mono_ms; /* last probe that answered; 0: none yet */
    atomic_bool probe_failing;            /* the last probe failed */
    atomic_bool session_up;
    atomic_int_fast64_t commit_ok_ms, commit_failed_ms; /* Unix ms */
    char probe_error[REASON_MAX];
    char commit_error[REASON_MAX];
};

/* Keeps the first REASON_MAX - 1 bytes of `text`: a reason is for one line of /healthz. */
static void set_reason(struct agg_health *h, char *dst, const char *text)
{
    size_t n = strnlen(text, REASON_MAX - 1);

    pthread_mutex_lock(&h->lock);
    memcpy(dst, text, n);
    dst[n] = '\0';
    pthread_mutex_unlock(&h->lock);
}

static void get_reason(struct agg_health *h, const char *src, char *out, size_t out_size)
{
    pthread_mutex_lock(&h->lock);
    snprintf(out, out_size, "%s", src);
    pthread_mutex_unlock(&h->lock);
}

/* One probe on `*conn` (connecting first if needed), all of it within one deadline, so
 * stopping waits no longer than that. Returns 0, or -1 with `err`. */
static int probe_once(struct agg_health *h, PGconn **conn, char *err, size_t err_size)
{
    int64_t deadline = ct_time_mono_ms() + AGG_HEALTH_PROBE_DEADLINE_MS;
    PGresult *res;

    if (*conn == NULL) {
        *conn = agg_db_connect_within(h->conninfo, h->application_name,
                                      AGG_HEALTH_PROBE_DEADLINE_MS, deadline, err, err_size);
        if (*conn == NULL)
            return -1;
    }
    if (agg_db_set_deadline(*conn, deadline) != 0) {
        snprintf(err, err_size, "database check: out of memory");
        return -1;
    }
    res =
        agg_db_query(*conn, "database check", "SELECT 1", 0, NULL, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

static void *probe_main(void *arg)
{
    struct agg_health *h = arg;
    struct ct_complaint down = CT_COMPLAINT_INIT;
    PGconn *conn = NULL;
    bool stop = false;

    while (!stop) {
        char err[AGG_DB_ERR_MAX], line[AGG_DB_ERR_MAX + 32];
        int64_t next = ct_time_mono_ms() + AGG_HEALTH_PROBE_EVERY_MS;
        struct timespec until = {.tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000L};

        if (probe_once(h, &conn, err, sizeof(err)) == 0) {
            atomic_store(&h->probe_ok_mono_ms, ct_time_mono_ms());
            atomic_store(&h->probe_failing, false);
            ct_complaint_release(h->log, &down, SUBJECT, "the database answers again");
        } else {
            /* A failed or abandoned connection says nothing about the next try. */
            PQfinish(conn);
            conn = NULL;
            snprintf(line, sizeof(line), "database unavailable: %s", err);
            set_reason(h, h->probe_error, line);
            atomic_store(&h->probe_failing, true);
            ct_complain(h->log, &down, CT_LOG_WARN, SUBJECT, "%s", line);
        }
        pthread_mutex_lock(&h->lock);
        while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &until) == 0)
            ;
        stop = h->stop;
        pthread_mutex_unlock(&h->lock);
    }
    PQfinish(conn);
    return NULL;
}

struct agg_health *agg_health_new(const char *conninfo, const char *application_name,
                                  const struct ct_log *log)
{
    struct agg_health *h = calloc(1, sizeof(*h));
    pthread_condattr_t attr;

    if (h == NULL)
        return NULL;
    h->log = log;
    h->application_name = application_name;
    atomic_init(&h->probe_ok_mono_ms, 0);
    atomic_init(&h->probe_failing, false);
    atomic_init(&h->session_up, false);
    atomic_init(&h->commit_ok_ms, 0);
    atomic_init(&h->commit_failed_ms, 0);
    snprintf(h->probe_error, sizeof(h->probe_error), "database unavailable: not checked yet");
    h->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (h->conninfo == NULL)
        goto fail_alloc;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_alloc;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&h->wake, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        goto fail_alloc;
    }
    pthread_condattr_destroy(&attr);
    if (pthread_mutex_init(&h->lock, NULL) != 0)
        goto fail_cond;
    if (pthread_create(&h->thread, NULL, probe_main, h) != 0)
        goto fail_lock;
    return h;
fail_lock:
    pthread_mutex_destroy(&h->lock);
fail_cond:
    pthread_cond_destroy(&h->wake);
fail_alloc:
    free(h->conninfo);
    free(h);
    return NULL;
}

void agg_health_free(struct agg_health *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    free(h->conninfo);
    free(h);
}

void agg_health_note_session(struct agg_health *h, bool up)
{
    atomic_store(&h->session_up, up);
}

void agg_health_note_commits(struct agg_health *h, int64_t last_ok_ms, int64_t last_failed_ms,
                             const char *last_error)
{
    /* The reason first: a reader that sees the new failure time finds its reason. */
    if (last_failed_ms != atomic_load(&h->commit_failed_ms))
        set_reason(h, h->commit_error, last_error);
    atomic_store(&h->commit_ok_ms, last_ok_ms);
    atomic_store(&h->commit_failed_ms, last_failed_ms);
}

bool agg_health_db_answering(struct agg_health *h, char *why, size_t why_size)
{
    int64_t ok = atomic_load(&h->probe_ok_mono_ms), age = ct_time_mono_ms() - ok;

    if (atomic_load(&h->probe_failing) || ok == 0) {
        get_reason(h, h->probe_error, why, why_size);
        return false;
    }
    if (age > AGG_HEALTH_STALE_MS) {
        snprintf(why, why_size, "database unavailable: no answer to the health check for %.1f s",
                 (double)age / 1000.0);
        return false;
    }
    return true;
}

bool agg_health_check(struct agg_health *h, char *why, size_t why_size)
{
    int64_t ok = atomic_load(&h->commit_ok_ms), failed = atomic_load(&h->commit_failed_ms);

    if (!agg_health_db_answering(h, why, why_size))
        return false;
    if (!atomic_load(&h->session_up)) {
        snprintf(why, why_size, "database unavailable: the daemon's own session is down");
        return false;
    }
    if (failed > ok && ct_time_now_ms() - failed < AGG_HEALTH_COMMIT_WINDOW_MS) {
        char reason[REASON_MAX];
        get_reason(h, h->commit_error, reason, sizeof(reason));
        snprintf(why, why_size, "commits failing: %s", reason);
        return false;
    }
    return true;
}
