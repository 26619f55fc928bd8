#include "writer.h"
#include "db.h"
#include "session.h"
#include "timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct agg_writer {
    unsigned index;
    int done_fd;
    pthread_t thread;

    /* The writer thread's own; nobody else touches them while it runs. */
    struct ct_log log;
    struct agg_session db;
    struct agg_store store;
    struct agg_writer_done done;
    /* The indicators, copied by agg_writer_submit() on the main thread while the writer
     * is idle, so the daemon can reload its directory whenever it likes. */
    struct agg_directory catalog;

    /* Shared, under `mu`. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a job, hurry, quit, or a new log level */
    struct agg_group *job;
    bool finished; /* the job has an outcome in `done` */
    bool hurry, quit;
    PGconn *in_use;    /* the connection a job is using, for agg_writer_abort(); or NULL */
    uint64_t in_use_n; /* counts connections put in use ... */
    uint64_t cut_n;    /* ... and the last one agg_writer_abort() cut */
    enum ct_log_level log_level;
};

/* Waits on `wake` until `until_mono_ms` or until hurried. Called and returns with `mu` held. */
static void wait_locked(struct agg_writer *w, int64_t until_mono_ms)
{
    struct timespec deadline = {.tv_sec = (time_t)(until_mono_ms / 1000),
                                .tv_nsec = (long)(until_mono_ms % 1000) * 1000000};

    while (!w->hurry && ct_time_mono_ms() < until_mono_ms) {
        int rc = pthread_cond_timedwait(&w->wake, &w->mu, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
}

/* Publishes (or, with NULL, withdraws) the connection a job is using. Withdrawn before
 * the connection is closed, so agg_writer_abort() never touches a closed descriptor. */
static void set_in_use(struct agg_writer *w, PGconn *conn)
{
    pthread_mutex_lock(&w->mu);
    if (conn != NULL && conn != w->in_use)
        w->in_use_n++;
    w->in_use = conn;
    pthread_mutex_unlock(&w->mu);
}

static bool hurried(struct agg_writer *w)
{
    bool hurry;

    pthread_mutex_lock(&w->mu);
    hurry = w->hurry;
    pthread_mutex_unlock(&w->mu);
    return hurry;
}

/* Commits `g`, reconnecting and retrying while the database is away, into w->done. */
static void run_job(struct agg_writer *w, struct agg_group *g)
{
    struct agg_writer_done *done = &w->done;
    int64_t lost_since = 0;
    bool conflict_seen = false;

    for (;;) {
        int64_t now = ct_time_mono_ms();
        bool fresh;

        /* Hurried (stopping) and the database already lost: connecting again could wait a
         * whole connect_timeout on a server that does not answer. */
        if (lost_since != 0 && hurried(w)) {
            snprintf(done->err, sizeof(done->err), "the database is unavailable");
            done->outcome = AGG_WRITER_UNAVAILABLE;
            return;
        }
        if (agg_session_ensure(&w->db, now, &fresh)) {
            enum agg_store_status status;
            set_in_use(w, agg_session_conn(&w->db));
            status =
                agg_store_commit(&w->store, agg_session_conn(&w->db), g, &w->catalog,
                                 ct_time_now_ms(), &done->result, done->err, sizeof(done->err));
            switch (status) {
            case AGG_STORE_COMMITTED:
                done->outcome = AGG_WRITER_COMMITTED;
                done->commit_us = (ct_time_mono_ms() - now) * 1000;
                return;
            case AGG_STORE_CONFLICT:
                /* The unique key caught rows already in the log: some last_seq we read
                 * was stale. The retry locks and reads them again; twice is a fault. */
                if (!conflict_seen) {
                    ct_log_warn(&w->log, "writer", "writer %u: %s; retrying", w->index, done->err);
                    conflict_seen = true;
                    continue;
                }
                done->outcome = AGG_WRITER_FAILED;
                return;
            case AGG_STORE_FAILED:
                done->outcome = AGG_WRITER_FAILED;
                return;
            case AGG_STORE_CONNECTION_LOST:
                set_in_use(w, NULL);
                agg_session_lost(&w->db, done->err, now);
                break;
            }
        }
        if (lost_since == 0)
            lost_since = now;
        if (hurried(w) || now - lost_since >= AGG_WRITER_HOLD_MS) {
            snprintf(done->err, sizeof(done->err), "the database is unavailable");
            done->outcome = AGG_WRITER_UNAVAILABLE;
            return;
        }
        pthread_mutex_lock(&w->mu);
        {
            int64_t until = now + agg_session_wait_ms(&w->db, now);
            if (until > lost_since + AGG_WRITER_HOLD_MS)
                until = lost_since + AGG_WRITER_HOLD_MS;
            wait_locked(w, until);
        }
        pthread_mutex_unlock(&w->mu);
    }
}

static void signal_done(struct agg_writer *w)
{
    uint64_t one = 1;

    /* Only EINTR can fail here: the counter cannot reach its maximum. */
    while (write(w->done_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
}

static void *writer_main(void *arg)
{
    struct agg_writer *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct agg_group *g;

        while (!w->quit && (w->job == NULL || w->finished))
            pthread_cond_wait(&w->wake, &w->mu);
        if (w->job == NULL || w->finished)
            break; /* quit, nothing in hand */
        g = w->job;
        w->log.level = w->log_level;
        pthread_mutex_unlock(&w->mu);

        memset(&w->done, 0, sizeof(w->done));
        run_job(w, g);

        pthread_mutex_lock(&w->mu);
        w->finished = true;
        signal_done(w);
    }
    pthread_mutex_unlock(&w->mu);
    set_in_use(w, NULL);
    agg_session_release(&w->db);
    return NULL;
}

struct agg_writer *agg_writer_new(unsigned index, const char *conninfo, int64_t backoff_max_ms,
                                  const struct ct_log *log, int done_fd, char *err, size_t err_size)
{
    struct agg_writer *w = calloc(1, sizeof(*w));
    pthread_condattr_t attr;
    bool have_cond = false, have_mutex = false;
    int rc;

    if (w == NULL) {
        snprintf(err, err_size, "starting writer %u: out of memory", index);
        return NULL;
    }
    w->index = index;
    w->done_fd = done_fd;
    w->log = *log;
    w->log_level = log->level;
    agg_session_init(&w->db, conninfo, backoff_max_ms, false, &w->log);
    agg_store_init(&w->store);
    /* The hold is timed on the monotonic clock, like everything else in the daemon. */
    rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&w->wake, &attr);
        pthread_condattr_destroy(&attr);
        have_cond = rc == 0;
    }
    if (rc == 0) {
        rc = pthread_mutex_init(&w->mu, NULL);
        have_mutex = rc == 0;
    }
    if (rc == 0)
        rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc == 0)
        return w;

    snprintf(err, err_size, "starting writer %u: %s", index, strerror(rc));
    if (have_mutex)
        pthread_mutex_destroy(&w->mu);
    if (have_cond)
        pthread_cond_destroy(&w->wake);
    agg_store_release(&w->store);
    free(w);
    return NULL;
}

void agg_writer_free(struct agg_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->hurry = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    agg_store_release(&w->store);
    agg_directory_release(&w->catalog);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->wake);
    free(w);
}

int agg_writer_submit(struct agg_writer *w, struct agg_group *g, const struct agg_directory *dir)
{
    /* Idle: the writer thread does not look at its catalog between jobs. */
    if (w->catalog.generation != dir->generation &&
        agg_directory_copy_indicators(&w->catalog, dir) != 0)
        return -1;
    pthread_mutex_lock(&w->mu);
    w->job = g;
    w->finished = false;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

bool agg_writer_take(struct agg_writer *w, struct agg_writer_done *done)
{
    bool finished;

    pthread_mutex_lock(&w->mu);
    finished = w->job != NULL && w->finished;
    if (finished) {
        *done = w->done;
        w->job = NULL;
        w->finished = false;
    }
    pthread_mutex_unlock(&w->mu);
    return finished;
}

void agg_writer_hurry(struct agg_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->hurry = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

bool agg_writer_abort(struct agg_writer *w)
{
    bool aborted = false;

    pthread_mutex_lock(&w->mu);
    w->hurry = true;
    pthread_cond_signal(&w->wake);
    if (w->job != NULL && !w->finished && w->in_use != NULL && w->cut_n != w->in_use_n) {
        /* Cut the socket, so libpq returns at once even when the server cannot answer at
         * all; the server rolls back what it has not committed when it sees the connection
         * gone. No cancel request: the statement in flight may be the COMMIT, and a COMMIT
         * whose wait for the synchronous standby is cancelled stays committed on the
         * primary alone (CONTRACT section 7). Unacked either way; the collector resends. */
        if (shutdown(PQsocket(w->in_use), SHUT_RDWR) == 0)
            aborted = true;
        w->cut_n = w->in_use_n;
    }
    pthread_mutex_unlock(&w->mu);
    return aborted;
}

void agg_writer_set_log_level(struct agg_writer *w, enum ct_log_level level)
{
    pthread_mutex_lock(&w->mu);
    w->log_level = level;
    pthread_mutex_unlock(&w->mu);
}
