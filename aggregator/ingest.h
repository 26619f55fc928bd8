/*
 * ingest.h - the collectors' side of the aggregator: the ROUTER socket and protocol v1.
 *
 * Frames are read without blocking. hello is answered at once (welcome, or an error); a
 * batch that passes the cheap checks joins the group of its district's lane and waits
 * for that lane's next transaction; everything else gets its error at once.
 *
 * Each lane has a writer thread with its own database connection (writer.h), and each
 * district belongs to one lane, so districts commit side by side without touching each
 * other's rows, and one agent's batches stay in order. agg_ingest_dispatch() hands a due
 * group to its idle writer; agg_ingest_collect() takes finished groups back and then, and
 * only then, sends their acks.
 *
 * A welcome's last_seq is read from the database, never from the directory's copy, so any
 * number of aggregators on one database agree (CONTRACT section 7); while an agent has a
 * live connection from one collector instance, hellos and batches from others are refused
 * `agent_in_use` (presence.h) and counted in agent_conflicts.
 *
 * Every reply is sent with ZMQ_DONTWAIT, so a collector that stops reading cannot stall
 * the daemon: its reply is dropped, and its resend will be acked as a duplicate.
 *
 * The ingest owns the ROUTER socket, the lanes with their groups and writers, the
 * writers' eventfd and the codec state. The directory and the feed are borrowed per call.
 */
#ifndef AGG_INGEST_H
#define AGG_INGEST_H

#include "directory.h"
#include "feed.h"
#include "log.h"
#include "session.h"
#include "settings.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

#define AGG_INGEST_COMMIT_RING 256 /* > the most commits one loop turn can collect */

struct agg_ingest_stats {
    uint64_t batches;           /* batches committed or acked as duplicates */
    uint64_t updates_committed; /* rows added to `updates` */
    uint64_t updates_rejected;  /* rows added to `rejected_updates` */
    uint64_t refused;           /* messages answered with an error */
    uint64_t commits;
    int64_t last_commit_ms; /* wall clock of the last successful COMMIT */
    int64_t last_commit_us; /* how long it took */

    /* The last commit that failed or lost the database (wall clock), and why: /healthz. */
    int64_t last_failure_ms;
    char last_failure[512];
    /* Each commit's own duration: commit number k (counting from 0) is at
     * commit_us[k % AGG_INGEST_COMMIT_RING], so a reader that looks at least once per
     * AGG_INGEST_COMMIT_RING commits sees every one. */
    int64_t commit_us[AGG_INGEST_COMMIT_RING];
    uint64_t agent_conflicts; /* hellos and batches refused as agent_in_use */
};

struct agg_ingest;

/* Binds the ROUTER at settings->listen. Returns NULL with a reason in `err`. */
/* How a hello for an agent the directory does not hold catches up (directory.h). */
void agg_ingest_set_catch_up(struct agg_ingest *in, struct agg_directory_catch_up catch_up);

struct agg_ingest *agg_ingest_new(void *zmq_ctx, const struct agg_settings *settings,
                                  const struct ct_log *log, char *err, size_t err_size);
void agg_ingest_free(struct agg_ingest *in);

void *agg_ingest_socket(const struct agg_ingest *in);

/* Readable when a writer has finished a group: then call agg_ingest_collect(). */
int agg_ingest_done_fd(const struct agg_ingest *in);

/* Reads waiting frames until there are none or a lane's group is full. With the session
 * `db` down, hello and batch are refused as `unavailable`. A hello's welcome carries the
 * agent's last_seq as committed in the database (CONTRACT section 7: never a cache, so
 * aggregators sharing the database agree), read on `db` (borrowed) with a short deadline. */
void agg_ingest_receive(struct agg_ingest *in, const struct agg_directory *dir,
                        struct agg_session *db, int64_t now_mono_ms);

/* Batches waiting for a writer or with one. */
bool agg_ingest_has_pending(const struct agg_ingest *in);
bool agg_ingest_full(const struct agg_ingest *in);

/* Milliseconds until a group should go to its idle writer: 0 when one is due, -1 when
 * none waits for an idle writer. */
int64_t agg_ingest_wait_ms(const struct agg_ingest *in, int64_t now_mono_ms);

/* Hands each idle writer its lane's group if it is due (or has any batch, with `all`). */
void agg_ingest_dispatch(struct agg_ingest *in, const struct agg_directory *dir,
                         int64_t now_mono_ms, bool all);

/* Takes back the groups the writers finished: acks and errors for committed ones (and the
 * directory's last_seq and the feed updated), `unavailable` for the rest. */
void agg_ingest_collect(struct agg_ingest *in, struct agg_directory *dir, struct agg_feed *feed);

/* Answers every batch not yet with a writer with `unavailable` and drops it. */
void agg_ingest_refuse_pending(struct agg_ingest *in, const char *why);

/* For shutdown, after the last receive: commits what is waiting (when `db_up`; otherwise
 * refuses it), lets the writers finish without holding for a lost database, and answers
 * everything. Returns when no batch is left. */
void agg_ingest_drain(struct agg_ingest *in, struct agg_directory *dir, struct agg_feed *feed,
                      bool db_up);

const struct agg_ingest_stats *agg_ingest_stats(const struct agg_ingest *in);

/* Applies the settings that can change without a restart (group sizes, log level). */
void agg_ingest_reconfigure(struct agg_ingest *in, const struct agg_settings *settings);

#endif
