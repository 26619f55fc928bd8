/*
 * plausibility.h - the plausibility warnings of a commit (CONTRACT section 10).
 *
 * The checks cost the hot path one small read per commit and arithmetic in C:
 *  1. agg_plaus_prefetch() lists the (unit, indicator, period) keys that the group's sets
 *     touch, and their previous periods; the store reads their current values in the
 *     round trip that opens the transaction and locks the agents (AGG_PLAUS_PREFETCH_SQL),
 *     one row per key, not per update;
 *  2. the store notes each accepted set (agg_plaus_add) while it decides the batches;
 *  3. agg_plaus_check() compares them in C, in the update key order, and puts each
 *     warning in its batch's slot (group.h) for the ack;
 *  4. only when there are warnings does the commit's last round trip carry one more
 *     statement, the INSERT into update_warnings (AGG_PLAUS_INSERT_SQL).
 * A warning never refuses an update. The rules (006_warnings.sql says them too):
 *   implausible_yoy  V / L > 10 or < 1/10, V the set's value, L the unit's final value
 *                    for the previous period (the newest set of it in this commit when
 *                    that is newer than what is stored), both non-zero;
 *   unit_slip        V / L within 5% of 10,000 or 1/10,000, reported instead;
 *   flow_decrease    a flow's set below the value just before it: the previous set of
 *                    the key in this commit, else the stored value if the set is not
 *                    older than the key's newest stored observation;
 *   a set with a note that repeats the value just before it confirms it: no warning.
 * With `[ingest] plausibility = off` nothing is prefetched, noted or checked.
 *
 * Owns: its arrays and text buffers, reused across commits, and the prefetched rows
 * until the next agg_plaus_reset(). Noted updates are borrowed from the group.
 */
#ifndef AGG_PLAUSIBILITY_H
#define AGG_PLAUSIBILITY_H

#include "buf.h"
#include "group.h"
#include "wire.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct agg_plaus_key;
struct agg_plaus_set;

struct agg_plaus {
    bool enabled; /* set per commit from the group */
    struct agg_plaus_key *keys;
    size_t n_keys, cap_keys;
    struct agg_plaus_set *sets;
    size_t n_sets, cap_sets;
    struct ct_buf prefetch[3]; /* districts, indicators, periods: array literals */
    struct ct_buf insert[9];   /* the INSERT's array literals */
    size_t n_warnings;         /* rows in `insert` */
    PGresult *current;         /* the prefetched rows, once read */
};

void agg_plaus_init(struct agg_plaus *p);
void agg_plaus_release(struct agg_plaus *p);

/* Forgets everything of the last commit; keeps the memory. */
void agg_plaus_reset(struct agg_plaus *p, bool enabled);

/* The keys of the group's sets, as parameters of AGG_PLAUS_PREFETCH_SQL. Returns 1 with
 * `params` set, 0 when there is nothing to check, -1 when out of memory. */
int agg_plaus_prefetch(struct agg_plaus *p, const struct agg_group *g, const char *params[3]);

/* Each key's measure, current value and last observation, and the same of its previous
 * period. */
#define AGG_PLAUS_PREFETCH_SQL                                                                     \
    "SELECT k.district, k.indicator, k.period, i.measure = 'flow',"                                \
    " c.value, (extract(epoch FROM c.last_at) * 1000)::bigint,"                                    \
    " py.value, (extract(epoch FROM py.last_at) * 1000)::bigint"                                   \
    " FROM unnest($1::text[], $2::text[], $3::int[]) AS k(district, indicator, period)"            \
    " LEFT JOIN indicators i ON i.code = k.indicator"                                              \
    " LEFT JOIN current_values c ON c.district = k.district AND c.indicator = k.indicator"         \
    "  AND c.period = k.period"                                                                    \
    " LEFT JOIN current_values py ON py.district = k.district AND py.indicator = k.indicator"      \
    "  AND py.period = k.period - 1"

/* Takes the prefetch's result (owned from now on). */
void agg_plaus_prefetched(struct agg_plaus *p, PGresult *res);

/* Notes an accepted update of batch `b` (only sets are checked). `agent` and `district`
 * are ids, borrowed like `u`. Returns 0, or -1 when out of memory. */
int agg_plaus_add(struct agg_plaus *p, struct agg_batch *b, const char *agent, const char *district,
                  const struct ct_update *u);

/* Runs the checks on the noted sets: each warning goes into its batch's slot and into the
 * INSERT's parameters. Returns the number of warnings, or -1 when out of memory. */
int agg_plaus_check(struct agg_plaus *p);

#define AGG_PLAUS_INSERT_PARAMS 9
#define AGG_PLAUS_INSERT_SQL                                                                       \
    "INSERT INTO update_warnings (agent_id, seq, district, indicator, period, code, message,"      \
    " value, compared) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],"     \
    " $5::int[], $6::text[], $7::text[], $8::numeric[], $9::numeric[])"                            \
    " ON CONFLICT DO NOTHING"

/* The INSERT's parameters: 1 when there are warnings to store, 0 when none, -1 when out
 * of memory. Valid until the next agg_plaus_reset(). */
int agg_plaus_insert_params(struct agg_plaus *p, const char *params[AGG_PLAUS_INSERT_PARAMS]);

/* For a batch whose first `b->first_new` updates were already committed (a resend):
 * reads their stored warnings back into the batch, as the first ack would have carried
 * them. Returns 0, or -1 with the reason in `err` (the transaction is then aborted). */
int agg_plaus_recall(PGconn *conn, struct agg_batch *b, char *err, size_t err_size);

#endif
