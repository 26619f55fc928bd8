/*
 * diff_listing.h - the updates behind each changed target of a diff, replayed in C.
 *
 * CONTRACT section 11 lists, under every target whose actual changed between as of FROM
 * and as of TO, each update observed in (FROM, TO] behind it, in section 2's key order
 * (observed_at, agent_id in bytes, seq), with its contribution: its effect on its unit's
 * value (an add: its value; a set: its value less the unit's value just before it), so a
 * sum target's contributions add up to its delta exactly. A month holds hundreds of
 * thousands of updates; working that out in SQL (citytally_diff_updates, which stays as
 * the test oracle) sorted the month twice and took 1.5 s. Here PostgreSQL only finds the
 * units behind the targets with their values at FROM (citytally_diff_keys) and streams
 * the month's log in observed order, in COPY's binary format (no numeric or timestamp
 * output functions on the server), as two halves at once when a second connection can
 * share the first one's snapshot; one pass keeps each unit's value exactly (numeric.h).
 *
 * The listing owns everything its updates point into: the keys' PGresult, a chunked arena
 * for the rest (so pointers stay put while it grows), and the update array the targets'
 * `updates` slices point into. agg_diff_listing_free() releases all of it.
 */
#ifndef AGG_DIFF_LISTING_H
#define AGG_DIFF_LISTING_H

#include "diff.h"

#include <libpq-fe.h>
#include <stddef.h>

/* A month of a busy year is ~460k updates; this bounds the memory of a runaway range
 * (~150 bytes an update) with a clear error instead. */
#define AGG_DIFF_MAX_UPDATES 5000000

struct agg_diff_listing;

/* Lists the updates behind d's targets (code and kind set, in the targets' order) between
 * d->from_ms and d->to_ms, inside conn's open REPEATABLE READ transaction, and points each
 * target's `updates`/`n_updates` into the listing, which it returns in *out. `helper`, a
 * second idle connection to the same database or NULL, reads half of the range at the
 * same time in a transaction that shares conn's snapshot (when the server cannot export
 * it, conn reads alone); it is left idle again. Returns 0, or -1 with one line in `err` (a
 * database error, a value that is not a finite numeric, more than AGG_DIFF_MAX_UPDATES
 * updates, out of memory). The connections are left outside any COPY. */
int agg_diff_listing_load(PGconn *conn, PGconn *helper, struct agg_diff *d,
                          struct agg_diff_listing **out, char *err, size_t err_size);

void agg_diff_listing_free(struct agg_diff_listing *l);

#endif
