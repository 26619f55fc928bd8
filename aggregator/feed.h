/*
 * feed.h - the progress feed on the PUB socket (CONTRACT section 3).
 *
 * After a commit changes a year's figures the year is marked; at most once per
 * publish_interval per year the feed reads citytally_progress(year, now()) and publishes
 * two frames: "progress.YEAR" and the msgpack map. A period P update also changes year
 * P+1's growth targets, so both are marked when they have targets.
 *
 * The feed owns its PUB socket (closed by agg_feed_free) and its message buffers. PUB
 * never blocks: a subscriber that cannot keep up loses messages, not the aggregator.
 */
#ifndef AGG_FEED_H
#define AGG_FEED_H

#include "directory.h"
#include "log.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct agg_feed;

/* Binds a PUB socket at `endpoint`. Returns NULL with a reason in `err`. */
struct agg_feed *agg_feed_new(void *zmq_ctx, const char *endpoint, int64_t interval_ms,
                              const struct ct_log *log, char *err, size_t err_size);
void agg_feed_free(struct agg_feed *feed);

/* Notes that updates for `period` were committed. */
void agg_feed_mark(struct agg_feed *feed, const struct agg_directory *dir, int period);

/* Publishes every marked year whose interval has passed. Returns -1 when the database
 * query failed because the connection broke (the caller marks the session lost). */
int agg_feed_publish_due(struct agg_feed *feed, PGconn *conn, int64_t now_mono_ms);

/* A figure's decimal text (NULL: no value) as the feed sends it. The map carries doubles, so
 * a figure that has none (numeric holds more digits than a double, and 'NaN') goes out as
 * nil like no value: one such figure must not make the whole year unpublishable. */
void agg_feed_figure(const char *text, bool *has, double *value);

/* Milliseconds until a marked year is due, or -1 when nothing is marked. */
int64_t agg_feed_wait_ms(const struct agg_feed *feed, int64_t now_mono_ms);

#endif
