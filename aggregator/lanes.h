/*
 * lanes.h - the groups waiting for the writer threads, handed to them and taken back.
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is the third
 * step: a batch the protocol accepted joins a group here, and waits for its writer.
 *
 * There is one lane per writer (the `writers` setting), and each district belongs to one
 * lane for good, so districts commit side by side without touching each other's rows and
 * one agent's batches stay in order. A lane's group is due when it is full or its first
 * batch has waited group_max_wait; agg_lanes_dispatch() hands due groups to their idle
 * writers, agg_lanes_collect() takes finished ones back and gives each to the ingest's
 * answer (ingest.c), which sends the acks and errors. Only then is the group reused.
 *
 * A lane owns two groups: one fills while the other is lent to the writer or idle, so
 * reading goes on during a commit. The lanes own their groups, their writers and the
 * writers' eventfd; the directory and the feed are borrowed per call, the answer's ctx
 * for the lanes' life. Everything here runs on the daemon's thread.
 */
#ifndef AGG_LANES_H
#define AGG_LANES_H

#include "group.h"
#include "log.h"
#include "settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_directory;
struct agg_feed;
struct agg_writer_done;

/* How groups are answered: the ingest's replies. Each leaves the group empty
 * (agg_group_reset) with every batch answered. */
struct agg_lanes_answer {
    void *ctx;
    /* A group its writer finished; `done` (writer.h) says whether it committed. */
    void (*finished)(void *ctx, struct agg_group *g, const struct agg_writer_done *done,
                     struct agg_directory *dir, struct agg_feed *feed);
    /* A group that will not be committed: each batch is refused `unavailable`, `why`. */
    void (*refuse)(void *ctx, struct agg_group *g, const char *why);
};

struct agg_lanes;

/* Starts settings->writers writers, each with its lane's two groups. `log` is borrowed
 * and must outlive the lanes. Returns NULL with a reason in `err`. */
struct agg_lanes *agg_lanes_new(const struct agg_settings *settings, const struct ct_log *log,
                                struct agg_lanes_answer answer, char *err, size_t err_size);

/* Stops the writers (finishing the job in hand) and frees every group, answered or not. */
void agg_lanes_free(struct agg_lanes *lanes);

/* Readable when a writer has finished a group: then call agg_lanes_collect(). */
int agg_lanes_done_fd(const struct agg_lanes *lanes);

/* Moves a decoded batch into its district's group (agg_group_add), which must not be full:
 * check agg_lanes_full() before decoding the next frame. */
void agg_lanes_add(struct agg_lanes *lanes, const struct agg_directory *dir,
                   struct agg_batch *incoming, int64_t now_mono_ms);

/* Batches waiting for a writer or with one. */
bool agg_lanes_has_pending(const struct agg_lanes *lanes);

/* True when any lane's group is full: the next frame could be for that lane. */
bool agg_lanes_full(const struct agg_lanes *lanes);

/* Milliseconds until a group should go to its idle writer: 0 when one is due, -1 when
 * none waits for an idle writer. */
int64_t agg_lanes_wait_ms(const struct agg_lanes *lanes, int64_t now_mono_ms);

/* Hands each idle writer its lane's group if it is due (or has any batch, with `all`). */
void agg_lanes_dispatch(struct agg_lanes *lanes, const struct agg_directory *dir,
                        int64_t now_mono_ms, bool all);

/* Takes back the groups the writers finished and gives each to the answer's `finished`
 * (which updates the directory's last_seq and the feed for committed ones). */
void agg_lanes_collect(struct agg_lanes *lanes, struct agg_directory *dir, struct agg_feed *feed);

/* Gives every group not yet with a writer to the answer's `refuse`. */
void agg_lanes_refuse_pending(struct agg_lanes *lanes, const char *why);

/* For shutdown, after the last receive: commits what is waiting (when `db_up`; otherwise
 * refuses it), lets the writers finish without holding for a lost database, and answers
 * everything. Returns when no batch is left. */
void agg_lanes_drain(struct agg_lanes *lanes, struct agg_directory *dir, struct agg_feed *feed,
                     bool db_up);

/* Applies the settings that can change without a restart (group sizes, log level). */
void agg_lanes_reconfigure(struct agg_lanes *lanes, const struct agg_settings *settings);

#endif
