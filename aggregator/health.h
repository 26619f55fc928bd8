/*
 * health.h - what /healthz says, decided without ever waiting on the database.
 *
 * Three witnesses, each written by its own thread and read by any:
 * - a probe thread of this module runs `SELECT 1` once a second on a connection of its
 *   own, every step bounded by a deadline (db.h), so a frozen or unreachable server is
 *   seen within AGG_HEALTH_STALE_MS whatever it does;
 * - the daemon's thread says whether its own database session is up;
 * - the daemon's thread reports the writers' commit outcomes: while the latest commit
 *   attempt failed (and is younger than AGG_HEALTH_COMMIT_WINDOW_MS) the aggregator is
 *   not healthy even though the database answers reads (a full disk does exactly that).
 *
 * The state is a few atomics and two short reason strings under a mutex held only to copy
 * them; agg_health_check() therefore answers in microseconds. The module owns its thread
 * and the probe's connection; `log` is borrowed.
 */
#ifndef AGG_HEALTH_H
#define AGG_HEALTH_H

#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_HEALTH_PROBE_EVERY_MS 1000
#define AGG_HEALTH_PROBE_DEADLINE_MS 3000  /* connect (if needed) and SELECT 1, in all */
#define AGG_HEALTH_STALE_MS 4000           /* no probe success for this long: down */
#define AGG_HEALTH_COMMIT_WINDOW_MS 300000 /* a failed commit counts this long at most */

struct agg_health;

/* Starts the probe thread on `conninfo` (copied), connecting as `application_name` (a
 * literal). NULL when out of memory or no thread. */
struct agg_health *agg_health_new(const char *conninfo, const char *application_name,
                                  const struct ct_log *log);

/* Stops and joins the probe (within one probe deadline) and frees. NULL is a no-op. */
void agg_health_free(struct agg_health *h);

/* From the daemon's thread: its session's state, and when (Unix ms, 0: never) the
 * writers' last commit succeeded and the last one failed, with that failure's reason. */
void agg_health_note_session(struct agg_health *h, bool up);
void agg_health_note_commits(struct agg_health *h, int64_t last_ok_ms, int64_t last_failed_ms,
                             const char *last_error);

/* True when the probe answered within AGG_HEALTH_STALE_MS; otherwise false with
 * "database unavailable: ..." in `why`. For pages that read the database. */
bool agg_health_db_answering(struct agg_health *h, char *why, size_t why_size);

/* True when all three witnesses are well; otherwise false with one line in `why`. */
bool agg_health_check(struct agg_health *h, char *why, size_t why_size);

#endif
