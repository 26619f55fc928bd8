#include "http_status.h"
#include "due_view.h"
#include "http.h"
#include "metrics.h"
#include "timefmt.h"
#include "version.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct col_http {
    const struct ct_log *log;
    struct ct_http_server *server;
    struct ct_metrics *metrics;

    struct ct_gauge *pending, *last_ack, *connected, *rejected_kept;
    struct ct_gauge *due_missing; /* indicators missing for the next due round */
    struct ct_counter *batches_sent, *acked, *rejected, *resends, *moves;
    struct ct_counter *files_imported, *files_failed, *rows_imported;
    struct col_sender_counters seen_sender; /* the daemon thread's copies, for deltas */
    struct col_spool_counters seen_spool;

    /* Left by the daemon's thread, read by the handlers. */
    _Atomic int64_t oldest_queued_ms; /* 0: nothing pending */
    _Atomic int64_t last_ack_ms;
    _Atomic int64_t stale_after_ms;
    atomic_bool observed;
    pthread_mutex_t error_lock;
    char outbox_error[COL_OUTBOX_ERROR_MAX]; /* "" while the outbox reads fine */
};

static double oldest_age_seconds(void *ctx)
{
    struct col_http *h = ctx;
    int64_t oldest = atomic_load(&h->oldest_queued_ms), now = ct_time_now_ms();

    return oldest > 0 && now > oldest ? (double)(now - oldest) / 1000.0 : 0;
}

static void handle_healthz(void *ctx, const struct ct_http_request *req,
                           struct ct_http_response *resp)
{
    struct col_http *h = ctx;
    int64_t oldest = atomic_load(&h->oldest_queued_ms), now = ct_time_now_ms();
    int64_t stale_after = atomic_load(&h->stale_after_ms), last_ack = atomic_load(&h->last_ack_ms);
    char when[CT_TIME_TEXT_MAX], acked[CT_TIME_TEXT_MAX];

    (void)req;
    if (!atomic_load(&h->observed)) {
        ct_http_text(resp, 503, "starting: the outbox has not been read yet\n");
        return;
    }
    pthread_mutex_lock(&h->error_lock);
    if (h->outbox_error[0] != '\0') {
        ct_http_text(resp, 503, "outbox unreadable: ");
        ct_buf_printf(&resp->body, "%s\n", h->outbox_error);
    }
    pthread_mutex_unlock(&h->error_lock);
    if (resp->status == 503)
        return;
    if (oldest > 0 && now - oldest > stale_after) {
        ct_time_format(oldest, when, sizeof(when));
        if (last_ack > 0)
            ct_time_format(last_ack, acked, sizeof(acked));
        else
            snprintf(acked, sizeof(acked), "never");
        ct_http_text(resp, 503, "");
        ct_buf_printf(&resp->body,
                      "stale: the oldest undelivered update was queued at %s, %lld s ago, "
                      "longer than stale_after (%lld s); last ack: %s\n",
                      when, (long long)((now - oldest) / 1000), (long long)(stale_after / 1000),
                      acked);
        return;
    }
    ct_http_text(resp, 200, "ok\n");
}

static uint64_t delta(uint64_t now, uint64_t before)
{
    /* A sender or spool made anew (SIGHUP) counts from 0 again. */
    return now >= before ? now - before : now;
}

/* What the aggregator's last `due` said is missing for the next due round (0: none). */
static void observe_due(struct col_http *h, struct col_outbox *ob)
{
    struct col_due_row *rows = NULL;
    const struct col_due_row *next;
    char err[COL_OUTBOX_ERROR_MAX];
    int64_t received;
    size_t n;

    if (col_outbox_due(ob, &rows, &n, &received, err, sizeof(err)) != 0)
        return; /* keeps the last value; the outbox error shows on /healthz */
    next = col_due_next(rows, n, ct_time_now_ms());
    ct_gauge_set(h->due_missing, next != NULL ? (double)next->n_missing : 0);
    free(rows);
}

void col_http_observe(struct col_http *h, const struct col_settings *settings,
                      struct col_outbox *ob, const struct col_sender *sender,
                      const struct col_spool *spool)
{
    struct col_outbox_stats st;
    char err[COL_OUTBOX_ERROR_MAX];

    if (h == NULL)
        return;
    atomic_store(&h->stale_after_ms, settings->stale_after_ms);
    if (col_outbox_stats(ob, &st, err, sizeof(err)) != 0) {
        pthread_mutex_lock(&h->error_lock);
        snprintf(h->outbox_error, sizeof(h->outbox_error), "%s", err);
        pthread_mutex_unlock(&h->error_lock);
    } else {
        pthread_mutex_lock(&h->error_lock);
        h->outbox_error[0] = '\0';
        pthread_mutex_unlock(&h->error_lock);
        atomic_store(&h->oldest_queued_ms, st.pending > 0 ? st.oldest_queued_ms : 0);
        atomic_store(&h->last_ack_ms, st.last_ack_ms);
        ct_gauge_set(h->pending, (double)st.pending);
        ct_gauge_set(h->last_ack, (double)st.last_ack_ms / 1000.0);
        ct_gauge_set(h->rejected_kept, (double)st.rejected);
        observe_due(h, ob);
    }
    if (sender != NULL) {
        struct col_sender_counters c;
        col_sender_counters(sender, &c);
        ct_gauge_set(h->connected, c.welcomed ? 1 : 0);
        ct_counter_add(h->batches_sent, delta(c.batches_sent, h->seen_sender.batches_sent));
        ct_counter_add(h->acked, delta(c.updates_acked, h->seen_sender.updates_acked));
        ct_counter_add(h->rejected, delta(c.updates_rejected, h->seen_sender.updates_rejected));
        ct_counter_add(h->resends, delta(c.resends, h->seen_sender.resends));
        ct_counter_add(h->moves, delta(c.moves, h->seen_sender.moves));
        h->seen_sender = c;
    } else {
        ct_gauge_set(h->connected, 0);
        memset(&h->seen_sender, 0, sizeof(h->seen_sender));
    }
    if (spool != NULL) {
        struct col_spool_counters c;
        col_spool_counters(spool, &c);
        ct_counter_add(h->files_imported, delta(c.files_imported, h->seen_spool.files_imported));
        ct_counter_add(h->files_failed, delta(c.files_failed, h->seen_spool.files_failed));
        ct_counter_add(h->rows_imported, delta(c.rows_imported, h->seen_spool.rows_imported));
        h->seen_spool = c;
    } else {
        memset(&h->seen_spool, 0, sizeof(h->seen_spool));
    }
    atomic_store(&h->observed, true);
}

static int register_metrics(struct col_http *h)
{
    struct ct_metrics *m = h->metrics;
    struct ct_gauge *info;

    h->pending = ct_metrics_gauge(m, "citytally_outbox_pending", NULL,
                                  "Updates in the outbox not yet acknowledged.");
    h->last_ack = ct_metrics_gauge(m, "citytally_last_ack_timestamp_seconds", NULL,
                                   "Unix time of the last ack from the aggregator (0: never).");
    h->connected = ct_metrics_gauge(m, "citytally_collector_connected", NULL,
                                    "1 while the aggregator has welcomed this agent, else 0.");
    h->rejected_kept = ct_metrics_gauge(m, "citytally_outbox_rejected", NULL,
                                        "Rejected updates kept for `status` (rejected_keep).");
    h->due_missing = ct_metrics_gauge(m, "citytally_due_missing_indicators", NULL,
                                      "Indicators this unit has not reported for the next due "
                                      "round, as the aggregator last said (0: none due).");
    h->batches_sent = ct_metrics_counter(m, "citytally_batches_sent_total", NULL,
                                         "Batches sent, resends included.");
    h->acked = ct_metrics_counter(m, "citytally_updates_acked_total", NULL,
                                  "Updates the aggregator acknowledged as stored.");
    h->rejected = ct_metrics_counter(m, "citytally_updates_rejected_total", NULL,
                                     "Updates the aggregator refused (see `status`).");
    h->resends = ct_metrics_counter(m, "citytally_resends_total", NULL,
                                    "Times in-flight batches were given up and sent again.");
    h->moves = ct_metrics_counter(m, "citytally_collector_moves_total", NULL,
                                  "Times the collector moved to the next aggregator of --connect.");
    h->files_imported = ct_metrics_counter(m, "citytally_spool_files_imported_total", NULL,
                                           "CSV files imported from the drop folder.");
    h->files_failed = ct_metrics_counter(m, "citytally_spool_files_failed_total", NULL,
                                         "CSV files refused and moved to failed/.");
    h->rows_imported = ct_metrics_counter(m, "citytally_spool_rows_imported_total", NULL,
                                          "Updates queued from drop-folder files.");
    info = ct_metrics_gauge(m, "citytally_build_info", "program=collector,version=" CT_VERSION,
                            "Always 1; the labels tell the program and version.");
    ct_gauge_set(info, 1);
    if (h->pending == NULL || h->last_ack == NULL || h->connected == NULL ||
        h->rejected_kept == NULL || h->due_missing == NULL || h->batches_sent == NULL ||
        h->acked == NULL || h->rejected == NULL || h->resends == NULL || h->moves == NULL ||
        h->files_imported == NULL || h->files_failed == NULL || h->rows_imported == NULL ||
        info == NULL ||
        ct_metrics_gauge_fn(m, "citytally_outbox_oldest_age_seconds", NULL,
                            "Age of the oldest unacknowledged update (0: none pending).",
                            oldest_age_seconds, h) == NULL)
        return -1;
    return 0;
}

struct col_http *col_http_new(const struct col_settings *settings, const struct ct_log *log,
                              char *err, size_t err_size)
{
    struct col_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        snprintf(err, err_size, "http: out of memory");
        return NULL;
    }
    h->log = log;
    atomic_init(&h->oldest_queued_ms, 0);
    atomic_init(&h->last_ack_ms, 0);
    atomic_init(&h->stale_after_ms, settings->stale_after_ms);
    atomic_init(&h->observed, false);
    if (pthread_mutex_init(&h->error_lock, NULL) != 0) {
        snprintf(err, err_size, "http: cannot create a mutex");
        free(h);
        return NULL;
    }
    h->metrics = ct_metrics_new();
    if (h->metrics == NULL || register_metrics(h) != 0) {
        snprintf(err, err_size, "http: out of memory");
        col_http_free(h);
        return NULL;
    }
    const struct ct_http_route_entry routes[] = {
        {"/metrics", ct_http_metrics, h->metrics, false},
        {"/healthz", handle_healthz, h, false},
    };
    h->server = ct_http_new_serving(log, settings->http, routes, sizeof(routes) / sizeof(routes[0]),
                                    err, err_size);
    if (h->server == NULL) {
        col_http_free(h);
        return NULL;
    }
    return h;
}

void col_http_free(struct col_http *h)
{
    if (h == NULL)
        return;
    ct_http_free(h->server); /* joins the handlers' threads first */
    pthread_mutex_destroy(&h->error_lock);
    ct_metrics_free(h->metrics);
    free(h);
}

uint16_t col_http_port(const struct col_http *h)
{
    return h != NULL && ct_http_running(h->server) ? ct_http_port(h->server) : 0;
}
