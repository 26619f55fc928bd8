/*
 * ingest.h - the collectors' side of the aggregator: the ROUTER socket and protocol v1.
 *
 * Frames are read without blocking into the group's slots. hello is answered at once
 * (welcome, or an error); a batch that passes the cheap checks joins the group and waits
 * for the next transaction; everything else gets its error at once. agg_ingest_flush()
 * commits the group through store.c and then, and only then, sends the acks.
 *
 * Every reply is sent with ZMQ_DONTWAIT, so a collector that stops reading cannot stall
 * the daemon: its reply is dropped, and its resend will be acked as a duplicate.
 *
 * The ingest owns the ROUTER socket, the group, the store's buffers and its codec state.
 * The directory, the feed and the database connection are borrowed per call.
 */
#ifndef AGG_INGEST_H
#define AGG_INGEST_H

#include "directory.h"
#include "feed.h"
#include "log.h"
#include "settings.h"
#include "store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct agg_ingest_stats {
    uint64_t batches;           /* batches committed or acked as duplicates */
    uint64_t updates_committed; /* rows added to `updates` */
    uint64_t updates_rejected;  /* rows added to `rejected_updates` */
    uint64_t refused;           /* messages answered with an error */
    uint64_t commits;
    int64_t last_commit_ms; /* wall clock of the last successful COMMIT */
    int64_t last_commit_us; /* how long it took */
};

struct agg_ingest;

/* Binds the ROUTER at settings->listen. Returns NULL with a reason in `err`. */
struct agg_ingest *agg_ingest_new(void *zmq_ctx, const struct agg_settings *settings,
                                  const struct ct_log *log, char *err, size_t err_size);
void agg_ingest_free(struct agg_ingest *in);

void *agg_ingest_socket(const struct agg_ingest *in);

/* Reads waiting frames until there are none or the group is full. With `db_up` false,
 * hello and batch are refused as `unavailable`. */
void agg_ingest_receive(struct agg_ingest *in, const struct agg_directory *dir, bool db_up,
                        int64_t now_mono_ms);

bool agg_ingest_has_pending(const struct agg_ingest *in);
bool agg_ingest_full(const struct agg_ingest *in);

/* Milliseconds until the group should be committed: 0 when it is due, -1 when empty. */
int64_t agg_ingest_wait_ms(const struct agg_ingest *in, int64_t now_mono_ms);

/* Commits the group. On AGG_STORE_COMMITTED the replies have been sent, the feed marked
 * and the group emptied; otherwise the group is kept for another attempt. */
enum agg_store_status agg_ingest_flush(struct agg_ingest *in, PGconn *conn,
                                       struct agg_directory *dir, struct agg_feed *feed, char *err,
                                       size_t err_size);

/* Answers every batch in the group with `unavailable` and empties it. */
void agg_ingest_refuse_pending(struct agg_ingest *in, const char *why);

const struct agg_ingest_stats *agg_ingest_stats(const struct agg_ingest *in);

/* Applies the settings that can change without a restart (group sizes). */
void agg_ingest_reconfigure(struct agg_ingest *in, const struct agg_settings *settings);

#endif
