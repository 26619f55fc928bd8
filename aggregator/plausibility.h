/*
 * plausibility.h - the plausibility warnings of a commit (CONTRACT section 10).
 *
 * The store notes each accepted `set` of a commit here; one statement,
 * citytally_warn() (aggregator/sql/006_warnings.sql), then compares them all with the
 * units' current values inside the commit's transaction, stores the warnings in
 * `update_warnings` and returns them. It runs in the commit's one pipelined round trip,
 * before the fold, and is not sent at all when the commit holds no set (or the checks
 * are off: `[ingest] plausibility = off`), so it costs the hot path one set-based
 * statement per commit, not one per update. A warning never refuses an update.
 *
 * Owns: eight growing text buffers (the statement's array literals) reused across
 * commits, and the statement's result until agg_plaus_deliver() or agg_plaus_reset().
 * The warnings it hands out are copied into each batch's slot (group.h), which the
 * ingest puts in the ack after the commit.
 */
#ifndef AGG_PLAUSIBILITY_H
#define AGG_PLAUSIBILITY_H

#include "buf.h"
#include "group.h"
#include "wire.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define AGG_PLAUS_PARAMS 8

struct agg_plaus {
    bool enabled;                         /* set per commit from the group */
    struct ct_buf cols[AGG_PLAUS_PARAMS]; /* "{a,b,...}" array literals */
    size_t n;                             /* sets noted */
    PGresult *result;                     /* the statement's rows, once it ran */
};

void agg_plaus_init(struct agg_plaus *p);
void agg_plaus_release(struct agg_plaus *p);

/* Forgets the noted sets and any result; keeps the buffers' memory. */
void agg_plaus_reset(struct agg_plaus *p, bool enabled);

/* Notes an accepted update (only sets are checked; other ops, or checks off: nothing).
 * `agent` and `district` are ids. Returns 0, or -1 when out of memory. */
int agg_plaus_add(struct agg_plaus *p, const char *agent, const char *district,
                  const struct ct_update *u);

/* The statement, with AGG_PLAUS_PARAMS parameters; returns (agent_id, seq, code, message). */
#define AGG_PLAUS_SQL                                                                              \
    "SELECT agent_id, seq, code, message FROM citytally_warn($1::text[], $2::bigint[],"            \
    " $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::numeric[], $8::bool[])"

/* Points `params` at the array literals. Returns 1 when there is something to check, 0
 * when not, -1 when out of memory. Valid until the next agg_plaus_reset(). */
int agg_plaus_params(struct agg_plaus *p, const char *params[AGG_PLAUS_PARAMS]);

/* After COMMIT: copies each returned warning to the batch of `g` that holds its update,
 * and frees the result. A batch that cannot grow its array (out of memory) loses the
 * warnings from its ack; they stay in the database. */
void agg_plaus_deliver(struct agg_plaus *p, struct agg_group *g);

/* For a batch whose first `b->first_new` updates were already committed (a resend):
 * reads their stored warnings back into the batch, as the first ack would have carried
 * them. Returns 0, or -1 with the reason in `err` (the transaction is then aborted). */
int agg_plaus_recall(PGconn *conn, struct agg_batch *b, char *err, size_t err_size);

#endif
