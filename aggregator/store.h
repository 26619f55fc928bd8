/*
 * store.h - commits a group of batches to PostgreSQL in one transaction.
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is the fifth step: a
 * writer's group becomes one transaction here.
 *
 * This is the only writer of `updates`, `rejected_updates` and `agents.last_seq`. One call:
 *
 *   BEGIN                                                      -- one round trip
 *   SELECT ... FROM agents WHERE agent_id = ANY(..) FOR UPDATE   -- authoritative last_seq
 *   SELECT .. FROM current_values ..  -- the keys the sets touch (plausibility.h)
 *   decide each batch in arrival order: unknown/revoked agent, wrong district, all
 *     duplicates, seq gap, or new updates (each accepted or rejected with a reason)
 *   COPY updates FROM STDIN; COPY rejected_updates FROM STDIN
 *   INSERT INTO update_warnings ..  -- one round trip: warnings, only if any,
 *   SELECT citytally_fold(..)          current values, from per-key
 *   UPDATE agents SET last_seq = ..    summaries (fold.h)
 *   SELECT pg_notify('citytally_commits', ..)  -- if figures changed: the other aggregators
 *                                                 publish progress (session.h)
 *   COMMIT                                                        -- checked: not ROLLBACK
 *
 * The NOTIFY costs more than its round trip: PostgreSQL serializes the commits of all
 * transactions that notify (a database-wide lock from just before the commit record until
 * after it, the wait for a synchronous standby included), so it is sent only when figures
 * changed. Measured here with pgbench (fsync on, 2,000-row transactions, a loaded host):
 * no difference with 2 sessions, about -30% with 4.
 *
 * The statements marked as one round trip go in libpq's pipeline mode, as none needs the
 * answer of the one before it. db.c carries them (agg_db_pipeline, agg_db_copy_in) and
 * words their errors; this module decides, and holds the SQL.
 *
 * A COMMIT whose wait for synchronous replication was cancelled answers COMMIT with a
 * WARNING: it may exist on this server alone. The connection is watched for that
 * (agg_db_watch_replication) and such a commit returns AGG_STORE_CONNECTION_LOST, so
 * nothing of it is acked; the retry finds it in the locked last_seq, and its own COMMIT,
 * which waits again, confirms both.
 *
 * Duplicates are dropped here, against the locked last_seq, so accepted rows go straight
 * into `updates` with COPY; the unique (agent_id, seq) key remains as a safety net. Only
 * when the call returns AGG_STORE_COMMITTED are the outcomes in the group final and the
 * agents' new last_seq in the result (the caller updates its directory: the store only
 * reads it, so it can run on a writer thread); otherwise nothing was stored (or, for
 * AGG_STORE_CONNECTION_LOST, nobody knows) and the same group can simply be committed
 * again: the locked last_seq then tells which of it is already in.
 */
#ifndef AGG_STORE_H
#define AGG_STORE_H

#include "buf.h"
#include "directory.h"
#include "fold.h"
#include "group.h"
#include "plausibility.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

enum agg_store_status {
    AGG_STORE_COMMITTED = 0,
    AGG_STORE_CONNECTION_LOST, /* retry after reconnecting; the outcome may be unknown */
    AGG_STORE_CONFLICT,        /* the unique key fired: reload last_seq and retry */
    AGG_STORE_FAILED,          /* the database refused it; rolled back */
};

#define AGG_STORE_MAX_PERIODS 16

struct agg_store_seq {
    char agent[CT_ID_MAX + 1];
    uint64_t last_seq; /* committed, as of this transaction */
};

struct agg_store_result {
    size_t accepted;                    /* new rows in `updates` */
    size_t rejected;                    /* new rows in `rejected_updates` */
    size_t duplicates;                  /* updates skipped as already committed */
    size_t refused;                     /* batches refused whole */
    int periods[AGG_STORE_MAX_PERIODS]; /* distinct periods of accepted rows (first ones) */
    size_t n_periods;
    struct agg_store_seq seqs[AGG_GROUP_MAX_BATCHES]; /* every registered agent of the group */
    size_t n_seqs;
};

/* Scratch buffers reused across commits, so a steady stream allocates nothing. */
struct agg_store {
    struct ct_buf copy_updates;
    struct ct_buf copy_rejected;
    struct ct_buf params;
    struct agg_fold fold;
    struct agg_plaus plaus; /* the plausibility checks of the commit */
};

void agg_store_init(struct agg_store *st);
void agg_store_release(struct agg_store *st);

/* Commits `g` (borrowed). `now_ms` bounds how far in the future an observation may lie.
 * On AGG_STORE_COMMITTED every batch has an outcome and result->seqs the new last_seq. */
enum agg_store_status agg_store_commit(struct agg_store *st, PGconn *conn, struct agg_group *g,
                                       const struct agg_directory *dir, int64_t now_ms,
                                       struct agg_store_result *result, char *err, size_t err_size);

#endif
