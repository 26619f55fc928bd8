/*
 * due.h - what each unit still owes, for the `due` of welcome and ack (CONTRACT section 9).
 *
 * The rounds whose due day has not ended more than AGG_DUE_GRACE_DAYS ago (at load time;
 * later ones are all kept, since a round's window can open while the daemon runs), and for
 * each (round, unit, indicator) whether the unit has reported it: an update for period
 * `year` observed in the round's window, read from daily_values at load and then kept up
 * to date in memory from every commit of this daemon (agg_due_note), so building a `due`
 * costs no query: a scan of at most CT_WIRE_MAX_DUE rounds' flags for one unit.
 *
 * A `due` lists the rounds whose window has opened (now is after the previous round's
 * period_end day) and whose due day ended at most AGG_DUE_GRACE_DAYS ago, earliest due
 * first, each with the expected indicators this unit has not reported, in code order.
 *
 * The directory owns the tracker (directory.h: loaded and replaced with it, on start,
 * reconnect, SIGHUP and NOTIFY citytally_agents, which `calendar import` sends). Units and
 * indicators are the directory's indexes, so a tracker is only used with the directory
 * it was loaded with. Figures committed by another aggregator of the installation show up
 * at the next reload; until then a `due` may still list them as missing.
 */
#ifndef AGG_DUE_H
#define AGG_DUE_H

#include "directory.h"
#include "wire.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_DUE_GRACE_DAYS 30

struct agg_due;

/* Reads the live rounds and what each unit has reported for them. Returns a tracker the
 * caller frees with agg_due_free(), or NULL with one line in `err`. */
struct agg_due *agg_due_load(PGconn *conn, const struct agg_directory *dir, int64_t now_ms,
                             char *err, size_t err_size);

void agg_due_free(struct agg_due *d);

/* Marks the committed update `u` of `district` as reported where it counts. NULL `d` is a
 * no-op. */
void agg_due_note(struct agg_due *d, const struct agg_directory *dir, long unit,
                  const struct ct_update *u);

/* Fills msg->due for `district` as of `now_ms` (has_due false when `d` is NULL or the
 * district unknown). Returns 0, or -1 when out of memory (has_due false). */
int agg_due_fill(const struct agg_due *d, const struct agg_directory *dir, const char *district,
                 int64_t now_ms, struct ct_msg *msg);

#endif
