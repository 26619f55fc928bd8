#include "lanes.h"
#include "directory.h"
#include "timefmt.h"
#include "writer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The lanes are the ingest's inside, as operators see it: one subject for its log lines. */
#define SUBJECT "ingest"
#define DRAIN_GRACE_MS 3000 /* on shutdown, how long a commit in progress may still take */

/* One writer and the batches waiting for it. The lane owns two groups: `filling` takes
 * batches while the other is either lent to the writer (`committing`) or idle (`spare`);
 * one of those two is NULL. */
struct agg_lane {
    struct agg_group *filling;
    struct agg_group *spare;
    struct agg_group *committing;
    struct agg_writer *writer;
};

struct agg_lanes {
    const struct ct_log *log;
    struct agg_lanes_answer answer;
    struct agg_lane *lanes;
    size_t n_lanes;
    int done_fd; /* eventfd: writers count finished jobs here */
    size_t group_max_updates;
    int64_t group_max_wait_ms;
    struct ct_ratelimit dispatch_rl;
};

static bool lane_busy(const struct agg_lane *l)
{
    return l->committing != NULL;
}

struct agg_lanes *agg_lanes_new(const struct agg_settings *settings, const struct ct_log *log,
                                struct agg_lanes_answer answer, char *err, size_t err_size)
{
    struct agg_lanes *lanes = calloc(1, sizeof(*lanes));

    if (lanes == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    lanes->log = log;
    lanes->answer = answer;
    lanes->done_fd = -1;
    lanes->group_max_updates = (size_t)settings->group_max_updates;
    lanes->group_max_wait_ms = settings->group_max_wait_ms;
    lanes->dispatch_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(10000, 5);
    lanes->n_lanes = (size_t)settings->writers;
    lanes->lanes = calloc(lanes->n_lanes, sizeof(*lanes->lanes));
    if (lanes->lanes == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    lanes->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lanes->done_fd < 0) {
        snprintf(err, err_size, "creating the writers' eventfd: %s", strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        struct agg_lane *l = &lanes->lanes[i];
        l->filling = agg_group_new(lanes->group_max_updates);
        l->spare = agg_group_new(lanes->group_max_updates);
        if (l->filling == NULL || l->spare == NULL) {
            snprintf(err, err_size, "out of memory");
            goto fail;
        }
        l->filling->plausibility = l->spare->plausibility = settings->plausibility;
        l->writer = agg_writer_new((unsigned)i, settings->db, settings->db_retry_max_ms, log,
                                   lanes->done_fd, err, err_size);
        if (l->writer == NULL)
            goto fail;
    }
    return lanes;
fail:
    agg_lanes_free(lanes);
    return NULL;
}

void agg_lanes_free(struct agg_lanes *lanes)
{
    if (lanes == NULL)
        return;
    for (size_t i = 0; lanes->lanes != NULL && i < lanes->n_lanes; i++) {
        /* Freed first: the writer may still hold the lane's committing group. */
        agg_writer_free(lanes->lanes[i].writer);
        agg_group_free(lanes->lanes[i].filling);
        agg_group_free(lanes->lanes[i].spare);
        agg_group_free(lanes->lanes[i].committing);
    }
    free(lanes->lanes);
    if (lanes->done_fd >= 0)
        close(lanes->done_fd);
    free(lanes);
}

int agg_lanes_done_fd(const struct agg_lanes *lanes)
{
    return lanes->done_fd;
}

/* Every district has one lane, so its rows are only ever locked by one writer. */
static struct agg_lane *lane_of(struct agg_lanes *lanes, const struct agg_directory *dir,
                                const char *district)
{
    long unit = agg_directory_unit_index(dir, district);

    return &lanes->lanes[unit >= 0 ? (size_t)unit % lanes->n_lanes : 0];
}

void agg_lanes_add(struct agg_lanes *lanes, const struct agg_directory *dir,
                   struct agg_batch *incoming, int64_t now_mono_ms)
{
    agg_group_add(lane_of(lanes, dir, incoming->msg->batch.district)->filling, incoming,
                  now_mono_ms);
}

bool agg_lanes_has_pending(const struct agg_lanes *lanes)
{
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        if (lane_busy(&lanes->lanes[i]) || lanes->lanes[i].filling->n_batches > 0)
            return true;
    }
    return false;
}

bool agg_lanes_full(const struct agg_lanes *lanes)
{
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        if (agg_group_full(lanes->lanes[i].filling))
            return true;
    }
    return false;
}

void agg_lanes_reconfigure(struct agg_lanes *lanes, const struct agg_settings *settings)
{
    lanes->group_max_updates = (size_t)settings->group_max_updates;
    lanes->group_max_wait_ms = settings->group_max_wait_ms;
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        struct agg_lane *l = &lanes->lanes[i];
        l->filling->max_updates = lanes->group_max_updates;
        if (l->spare != NULL)
            l->spare->max_updates = lanes->group_max_updates;
        agg_writer_set_log_level(l->writer, settings->log_level);
    }
}

/* Milliseconds until the lane's filling group is due: 0 when due, -1 when empty. */
static int64_t lane_wait_ms(const struct agg_lanes *lanes, const struct agg_lane *l,
                            int64_t now_mono_ms)
{
    int64_t due;

    if (l->filling->n_batches == 0)
        return -1;
    if (agg_group_full(l->filling))
        return 0;
    due = l->filling->opened_mono_ms + lanes->group_max_wait_ms - now_mono_ms;
    return due > 0 ? due : 0;
}

int64_t agg_lanes_wait_ms(const struct agg_lanes *lanes, int64_t now_mono_ms)
{
    int64_t soonest = -1;

    for (size_t i = 0; i < lanes->n_lanes; i++) {
        int64_t wait;
        if (lane_busy(&lanes->lanes[i])) /* its writer's eventfd wakes us */
            continue;
        wait = lane_wait_ms(lanes, &lanes->lanes[i], now_mono_ms);
        if (wait >= 0 && (soonest < 0 || wait < soonest))
            soonest = wait;
    }
    return soonest;
}

void agg_lanes_dispatch(struct agg_lanes *lanes, const struct agg_directory *dir,
                        int64_t now_mono_ms, bool all)
{
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        struct agg_lane *l = &lanes->lanes[i];
        struct agg_group *g = l->filling;
        int64_t wait = lane_wait_ms(lanes, l, now_mono_ms);

        if (lane_busy(l) || wait < 0 || (wait > 0 && !all))
            continue;
        if (agg_writer_submit(l->writer, g, dir) != 0) {
            ct_log_limited(lanes->log, &lanes->dispatch_rl, CT_LOG_ERROR, SUBJECT,
                           "out of memory handing a group to writer %zu; retrying", i);
            continue;
        }
        l->committing = g;
        l->filling = l->spare;
        l->spare = NULL;
    }
}

void agg_lanes_collect(struct agg_lanes *lanes, struct agg_directory *dir, struct agg_feed *feed)
{
    uint64_t finished;

    /* Only clears the counter: every lane is asked below. EAGAIN means nothing new. */
    if (read(lanes->done_fd, &finished, sizeof(finished)) < 0 && errno != EAGAIN && errno != EINTR)
        ct_log_error(lanes->log, SUBJECT, "reading the writers' eventfd: %s", strerror(errno));
    for (size_t i = 0; i < lanes->n_lanes; i++) {
        struct agg_lane *l = &lanes->lanes[i];
        struct agg_writer_done done;

        if (!lane_busy(l) || !agg_writer_take(l->writer, &done))
            continue;
        lanes->answer.finished(lanes->answer.ctx, l->committing, &done, dir, feed);
        l->committing->max_updates = lanes->group_max_updates;
        l->spare = l->committing;
        l->committing = NULL;
    }
}

void agg_lanes_refuse_pending(struct agg_lanes *lanes, const char *why)
{
    for (size_t i = 0; i < lanes->n_lanes; i++)
        lanes->answer.refuse(lanes->answer.ctx, lanes->lanes[i].filling, why);
}

void agg_lanes_drain(struct agg_lanes *lanes, struct agg_directory *dir, struct agg_feed *feed,
                     bool db_up)
{
    int64_t give_up = ct_time_mono_ms() + DRAIN_GRACE_MS;
    bool aborted = false;

    for (size_t i = 0; i < lanes->n_lanes; i++)
        agg_writer_hurry(lanes->lanes[i].writer);
    if (!db_up)
        agg_lanes_refuse_pending(lanes, "the aggregator is stopping; retry later");
    while (agg_lanes_has_pending(lanes)) {
        struct pollfd done = {.fd = lanes->done_fd, .events = POLLIN};
        int64_t left = give_up - ct_time_mono_ms();

        if (left <= 0) {
            /* A database that stopped answering would hold the stop for ever. Repeated
             * every round: a writer may only now have reached its statement. */
            size_t cut = 0;
            for (size_t i = 0; i < lanes->n_lanes; i++)
                cut += agg_writer_abort(lanes->lanes[i].writer) ? 1 : 0;
            if (!aborted) {
                ct_log_warn(lanes->log, SUBJECT,
                            "the database did not finish %zu commits within %d s of the stop: "
                            "cancelled; their batches are not acknowledged and will be resent",
                            cut, DRAIN_GRACE_MS / 1000);
                agg_lanes_refuse_pending(lanes, "the aggregator is stopping; retry later");
            }
            aborted = true;
        }
        if (!aborted)
            agg_lanes_dispatch(lanes, dir, 0, true);
        if (poll(&done, 1,
                 aborted       ? 200
                 : left > 1000 ? 1000
                               : (int)(left > 0 ? left : 0)) < 0 &&
            errno != EINTR)
            ct_log_error(lanes->log, SUBJECT, "waiting for the writers: %s", strerror(errno));
        agg_lanes_collect(lanes, dir, feed);
    }
}
