/*
 * ingest.h - the collectors' side of the aggregator: the ROUTER socket, protocol v1, the
 * replies, and the watcher that counts the socket's connections.
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is where an
 * update enters, and where its ack leaves.
 *
 * Frames are read without blocking. hello is answered at once (welcome, or an error); a
 * batch that passes the cheap checks joins its district's group in the lanes (lanes.h)
 * and waits for that lane's writer; everything else gets its error at once. When a
 * group comes back from its writer, the lanes hand it here to be answered: acks for
 * what is committed (only then), errors for the rest.
 *
 * A welcome's last_seq is read from the database, never from the directory's copy, so any
 * number of aggregators on one database agree (CONTRACT section 7); while an agent has a
 * live connection from one collector instance, hellos and batches from others are refused
 * `agent_in_use` (presence.h; across aggregators through the agent_presence table) and
 * counted in agent_conflicts.
 *
 * Every reply is sent with ZMQ_DONTWAIT, so a collector that stops reading cannot stall
 * the daemon: its reply is dropped, and its resend will be acked as a duplicate.
 *
 * The ingest owns the ROUTER socket, the lanes, the codec state and, once watching, a
 * thread that follows the socket's connections through a ZeroMQ socket monitor. The
 * directory and the database session are borrowed per call.
 */
#ifndef AGG_INGEST_H
#define AGG_INGEST_H

#include "directory.h"
#include "log.h"
#include "settings.h"

#include <stddef.h>
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
struct agg_lanes;
struct agg_session;

/* Binds the ROUTER at settings->listen and starts the lanes' writers (lanes.h). `log` is
 * borrowed and must outlive the ingest. Returns NULL with a reason in `err`. */
struct agg_ingest *agg_ingest_new(void *zmq_ctx, const struct agg_settings *settings,
                                  const struct ct_log *log, char *err, size_t err_size);

/* Stops the watcher and the writers, closes the socket. Call it from the thread that
 * uses the socket. NULL is a no-op. */
void agg_ingest_free(struct agg_ingest *in);

/* How a hello for an agent the directory does not hold catches up (directory.h). */
void agg_ingest_set_catch_up(struct agg_ingest *in, struct agg_directory_catch_up catch_up);

void *agg_ingest_socket(const struct agg_ingest *in);

/* The groups and their writers, owned by the ingest: the daemon dispatches and collects
 * them (lanes.h), and what comes back is answered here. */
struct agg_lanes *agg_ingest_lanes(struct agg_ingest *in);

/* Moves the database's presence rows of this aggregator's connections that spoke since
 * the last call forward (at most once a second), so hellos on other aggregators see them
 * live (presence.h). Costs nothing while no batch arrived. */
void agg_ingest_refresh_presence(struct agg_ingest *in, struct agg_session *db,
                                 int64_t now_mono_ms);

/* Reads waiting frames until there are none or a lane's group is full. With the session
 * `db` down, hello and batch are refused as `unavailable`. A hello's welcome carries the
 * agent's last_seq as committed in the database (CONTRACT section 7: never a cache, so
 * aggregators sharing the database agree), read on `db` (borrowed) with a short deadline. */
void agg_ingest_receive(struct agg_ingest *in, const struct agg_directory *dir,
                        struct agg_session *db, int64_t now_mono_ms);

/* Starts following the connections to the socket, for agg_ingest_connections(). Returns
 * 0, or -1 with `err` (the count then stays 0). */
int agg_ingest_watch(struct agg_ingest *in, char *err, size_t err_size);

/* Collector connections open on the socket, as the watcher last saw them. Any thread. */
int agg_ingest_connections(const struct agg_ingest *in);

const struct agg_ingest_stats *agg_ingest_stats(const struct agg_ingest *in);

/* Applies the settings that can change without a restart (group sizes, log level). */
void agg_ingest_reconfigure(struct agg_ingest *in, const struct agg_settings *settings);

#endif
