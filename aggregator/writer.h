/*
 * writer.h - a thread that commits groups of batches on a database connection of its own.
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is the fourth
 * step: a group handed over by its lane is committed here, off the daemon's thread.
 *
 * The daemon runs `writers` of them (a setting, 2 by default) and the lanes (lanes.h) give
 * each district to one writer for good, so no two transactions ever lock the same agents,
 * current_values or daily_values rows. One slow transaction (a long fsync, a stall of the
 * machine) then delays only the districts behind it, and the database's work is shared
 * by as many backends.
 *
 * Hand-off, one group at a time: the main thread passes a group with agg_writer_submit();
 * the writer owns it until agg_writer_take() hands it back with the outcome. When a job is
 * done the writer adds 1 to the eventfd it was given, which the main thread polls. The
 * writer checks updates against its own copy of the directory's indicators, refreshed at
 * submit when the directory was reloaded, so the daemon may reload at any time.
 *
 * A commit that loses the database is retried on a new connection for up to
 * AGG_WRITER_HOLD_MS: nobody knows whether the lost COMMIT happened, and on the retry the
 * locked last_seq tells what is already in. After that, or at once after
 * agg_writer_hurry(), the group comes back as AGG_WRITER_UNAVAILABLE.
 *
 * The writer owns its thread, its database session, its store buffers and its copy of the
 * indicators. A group is borrowed for the length of a job; the eventfd for the writer's
 * life.
 */
#ifndef AGG_WRITER_H
#define AGG_WRITER_H

#include "directory.h"
#include "group.h"
#include "log.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_WRITER_HOLD_MS 5000 /* how long a group waits for the database to return */

enum agg_writer_outcome {
    AGG_WRITER_COMMITTED = 0, /* every batch of the group has its outcome */
    AGG_WRITER_UNAVAILABLE,   /* the database stayed away; nothing known to be stored */
    AGG_WRITER_FAILED,        /* the database refused the transaction; rolled back */
};

struct agg_writer_done {
    enum agg_writer_outcome outcome;
    struct agg_store_result result; /* for AGG_WRITER_COMMITTED */
    int64_t commit_us;              /* BEGIN to COMMIT of the transaction that succeeded */
    char err[512];                  /* why, for the other outcomes */
};

struct agg_writer;

/* Starts the thread of writer number `index` (for log lines), connecting lazily on its
 * first job. `log` is copied. Returns NULL with a reason in `err`. */
struct agg_writer *agg_writer_new(unsigned index, const char *conninfo, int64_t backoff_max_ms,
                                  const struct ct_log *log, int done_fd, char *err,
                                  size_t err_size);

/* Finishes the job in hand (see agg_writer_hurry), stops and joins the thread and frees
 * the writer. The last job's group stays the caller's. NULL is a no-op. */
void agg_writer_free(struct agg_writer *w);

/* Hands `g` to the writer, with the indicators of `dir` if they changed since the last
 * job. Only when the writer is idle (no job, or the last one taken). Returns 0, or -1 (out
 * of memory copying the indicators) with the group still the caller's. */
int agg_writer_submit(struct agg_writer *w, struct agg_group *g, const struct agg_directory *dir);

/* True (with `done` filled) when the job submitted last has finished: its group is the
 * caller's again and the writer is idle. False while it runs or when there is none. */
bool agg_writer_take(struct agg_writer *w, struct agg_writer_done *done);

/* From now on a job that loses the database gives up at once instead of holding. */
void agg_writer_hurry(struct agg_writer *w);

/* For shutdown when a job does not finish (a database that stopped answering): cancels its
 * statement and cuts its connection, so the job comes back at once as UNAVAILABLE. Nothing
 * of it is acked, and the server rolls back what it had not committed. Returns true when
 * a job's connection was cut. */
bool agg_writer_abort(struct agg_writer *w);

/* Applies a new log level from the next job on. */
void agg_writer_set_log_level(struct agg_writer *w, enum ct_log_level level);

#endif
