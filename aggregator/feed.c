#include "feed.h"
#include "db.h"
#include "timefmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define FEED_MAX_YEARS 8

struct feed_year {
    int year;
    bool dirty;
    int64_t last_published_mono_ms;
};

struct agg_feed {
    void *pub;
    int64_t interval_ms;
    const struct ct_log *log;
    struct feed_year years[FEED_MAX_YEARS];
    size_t n_years;
    struct ct_wire_encoder *enc;
    struct ct_feed_msg *msg;
    struct ct_ratelimit send_rl;
};

struct agg_feed *agg_feed_new(void *zmq_ctx, const char *endpoint, int64_t interval_ms,
                              const struct ct_log *log, char *err, size_t err_size)
{
    struct agg_feed *feed = calloc(1, sizeof(*feed));
    int linger = 0;

    if (feed == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    feed->interval_ms = interval_ms;
    feed->log = log;
    feed->send_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(60000, 3);
    feed->enc = ct_wire_encoder_new();
    feed->msg = calloc(1, sizeof(*feed->msg));
    feed->pub = zmq_socket(zmq_ctx, ZMQ_PUB);
    if (feed->enc == NULL || feed->msg == NULL || feed->pub == NULL) {
        snprintf(err, err_size, "creating the feed: %s",
                 feed->pub == NULL ? zmq_strerror(zmq_errno()) : "out of memory");
        goto fail;
    }
    if (zmq_setsockopt(feed->pub, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(feed->pub, endpoint) != 0) {
        snprintf(err, err_size, "cannot publish on %s: %s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    return feed;
fail:
    agg_feed_free(feed);
    return NULL;
}

void agg_feed_free(struct agg_feed *feed)
{
    if (feed == NULL)
        return;
    if (feed->pub != NULL)
        zmq_close(feed->pub);
    ct_wire_encoder_free(feed->enc);
    free(feed->msg);
    free(feed);
}

static void mark_year(struct agg_feed *feed, int year)
{
    for (size_t i = 0; i < feed->n_years; i++) {
        if (feed->years[i].year == year) {
            feed->years[i].dirty = true;
            return;
        }
    }
    if (feed->n_years < FEED_MAX_YEARS)
        feed->years[feed->n_years++] = (struct feed_year){year, true, 0};
}

void agg_feed_mark(struct agg_feed *feed, const struct agg_directory *dir, int period)
{
    if (agg_directory_has_targets(dir, period))
        mark_year(feed, period);
    if (agg_directory_has_targets(dir, period + 1))
        mark_year(feed, period + 1);
}

int64_t agg_feed_wait_ms(const struct agg_feed *feed, int64_t now_mono_ms)
{
    int64_t wait = -1;

    for (size_t i = 0; i < feed->n_years; i++) {
        const struct feed_year *y = &feed->years[i];
        int64_t due = y->last_published_mono_ms + feed->interval_ms - now_mono_ms;
        if (!y->dirty)
            continue;
        if (due < 0)
            due = 0;
        if (wait < 0 || due < wait)
            wait = due;
    }
    return wait;
}

void agg_feed_figure(const char *text, bool *has, double *value)
{
    *value = text != NULL ? strtod(text, NULL) : NAN;
    *has = isfinite(*value);
    if (!*has)
        *value = 0;
}

static void set_number(PGresult *res, int row, int col, bool *has, double *out)
{
    agg_feed_figure(PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col), has, out);
}

/* Reads one year's progress into feed->msg. Returns 0, or -1 on a query error. */
static int load_year(struct agg_feed *feed, PGconn *conn, int year, int64_t now_ms)
{
    char year_text[16];
    const char *params[1] = {year_text};
    struct ct_feed_msg *msg = feed->msg;
    PGresult *res;

    snprintf(year_text, sizeof(year_text), "%d", year);
    res = PQexecParams(conn,
                       "SELECT target_code, actual, target, pct, status"
                       " FROM citytally_progress($1::int, now())",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char why[AGG_DB_ERR_MAX];
        agg_db_message(conn, res, why, sizeof(why));
        ct_log_limited(feed->log, &feed->send_rl, CT_LOG_WARN, "feed",
                       "progress of %d unavailable: %s", year, why);
        PQclear(res);
        return -1;
    }
    msg->year = year;
    msg->as_of_ms = now_ms;
    msg->n_targets = 0;
    for (int row = 0; row < PQntuples(res) && msg->n_targets < CT_FEED_MAX_TARGETS; row++) {
        struct ct_feed_target *t = &msg->targets[msg->n_targets++];
        ct_strlcpy(t->code, PQgetvalue(res, row, 0), sizeof(t->code));
        set_number(res, row, 1, &t->has_actual, &t->actual);
        set_number(res, row, 2, &t->has_target, &t->target);
        set_number(res, row, 3, &t->has_pct, &t->pct);
        ct_strlcpy(t->status, PQgetvalue(res, row, 4), sizeof(t->status));
    }
    PQclear(res);
    return 0;
}

int agg_feed_publish_due(struct agg_feed *feed, PGconn *conn, int64_t now_mono_ms)
{
    for (size_t i = 0; i < feed->n_years; i++) {
        struct feed_year *y = &feed->years[i];
        char topic[32];
        const void *bytes;
        size_t len;

        if (!y->dirty || now_mono_ms - y->last_published_mono_ms < feed->interval_ms)
            continue;
        if (load_year(feed, conn, y->year, ct_time_now_ms()) != 0)
            return PQstatus(conn) == CONNECTION_OK ? 0 : -1;
        y->dirty = false;
        y->last_published_mono_ms = now_mono_ms;
        if (ct_wire_encode_feed(feed->enc, feed->msg, &bytes, &len) != 0) {
            ct_log_limited(feed->log, &feed->send_rl, CT_LOG_WARN, "feed",
                           "progress of %d could not be encoded", y->year);
            continue;
        }
        snprintf(topic, sizeof(topic), CT_FEED_TOPIC_PREFIX "%d", y->year);
        if (zmq_send(feed->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(feed->pub, bytes, len, ZMQ_DONTWAIT) < 0)
            ct_log_limited(feed->log, &feed->send_rl, CT_LOG_WARN, "feed",
                           "publishing progress of %d failed: %s", y->year,
                           zmq_strerror(zmq_errno()));
    }
    return 0;
}
