#include "store.h"
#include "db.h"
#include "text.h"
#include "timefmt.h"
#include "value.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Observations more than this far ahead of the aggregator's clock are refused: they would
 * stay invisible in "as of now" figures and are almost always a typo in the year. */
#define FUTURE_TOLERANCE_MS (24LL * 3600 * 1000)

/* One locked row of `agents`, as the transaction sees it. */
struct locked_agent {
    const char *id; /* points into the batch that named it */
    bool found, revoked;
    char district[CT_ID_MAX + 1];
    uint64_t last_seq; /* advances as batches of this group are accepted */
    uint64_t committed_seq;
};

void agg_store_init(struct agg_store *st)
{
    memset(st, 0, sizeof(*st));
    agg_fold_init(&st->fold);
    agg_plaus_init(&st->plaus);
}

void agg_store_release(struct agg_store *st)
{
    ct_buf_free(&st->copy_updates);
    ct_buf_free(&st->copy_rejected);
    ct_buf_free(&st->params);
    agg_fold_release(&st->fold);
    agg_plaus_release(&st->plaus);
}

/* Appends `s` escaped for COPY's text format. */
static void copy_text(struct ct_buf *b, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *esc = NULL;
        switch (*s) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        ct_buf_append(b, run, (size_t)(s - run));
        ct_buf_puts(b, esc);
        run = s + 1;
    }
    ct_buf_append(b, run, (size_t)(s - run));
}

static void copy_accepted(struct ct_buf *b, const char *agent, const char *district,
                          const struct ct_update *u)
{
    char value[CT_VALUE_TEXT_MAX], at[CT_TIME_TEXT_MAX];

    ct_value_format(&u->value, value, sizeof(value));
    ct_time_format(u->at_ms, at, sizeof(at));
    ct_buf_printf(b, "%s\t%" PRIu64 "\t%s\t%s\t%" PRId64 "\t%s\t%s\t%s\t", agent, u->seq, district,
                  u->ind, u->period, ct_op_name(u->op), value, at);
    if (u->has_note)
        copy_text(b, u->note);
    else
        ct_buf_puts(b, "\\N");
    if (u->queued_ms != 0)
        ct_buf_printf(b, "\t%" PRId64 "\n", u->queued_ms);
    else
        ct_buf_puts(b, "\t\\N\n");
}

static void copy_rejected(struct ct_buf *b, const char *agent, const char *district,
                          const struct ct_update *u)
{
    char value[CT_VALUE_TEXT_MAX];

    if (ct_value_format(&u->value, value, sizeof(value)) != 0)
        snprintf(value, sizeof(value), "%g", u->value.as.f); /* NaN, inf: kept as text */
    ct_buf_printf(b, "%s\t%" PRIu64 "\t%s\t", agent, u->seq, district);
    if (u->ind[0] != '\0')
        ct_buf_printf(b, "%s\t", u->ind);
    else
        ct_buf_puts(b, "\\N\t");
    ct_buf_printf(b, "%" PRId64 "\t", u->period);
    if (u->op != CT_OP_INVALID)
        ct_buf_printf(b, "%s\t", ct_op_name(u->op));
    else
        ct_buf_puts(b, "\\N\t");
    ct_buf_printf(b, "%s\t%" PRId64 "\t", value, u->at_ms);
    if (u->has_note)
        copy_text(b, u->note);
    else
        ct_buf_puts(b, "\\N");
    ct_buf_printf(b, "\t%s\t", ct_reject_code(u->fault));
    copy_text(b, u->fault_msg != NULL ? u->fault_msg : "");
    ct_buf_puts(b, "\n");
}

/* What a libpq failure means for the group: see enum agg_store_status. */
static enum agg_store_status status_of(enum agg_db_outcome outcome)
{
    switch (outcome) {
    case AGG_DB_OK:
        return AGG_STORE_COMMITTED;
    case AGG_DB_LOST:
        return AGG_STORE_CONNECTION_LOST;
    case AGG_DB_UNIQUE:
        return AGG_STORE_CONFLICT;
    case AGG_DB_REFUSED:
        break;
    }
    return AGG_STORE_FAILED;
}

static enum agg_store_status copy_in(PGconn *conn, const char *sql, const struct ct_buf *data,
                                     char *err, size_t err_size)
{
    return status_of(agg_db_copy_in(conn, sql, data->data, data->len, err, err_size));
}

/* Opens the transaction, locks the agents of the group's batches and reads their rows. On
 * failure the transaction may be open (aborted): the caller rolls back. */
static enum agg_store_status lock_agents(struct agg_store *st, PGconn *conn,
                                         const struct agg_group *g, struct locked_agent *agents,
                                         size_t *n_agents, char *err, size_t err_size)
{
    const char *params[1], *plaus_params[3] = {NULL, NULL, NULL};
    PGresult *res = NULL, *current = NULL;
    size_t n = 0;
    int prefetch;

    for (size_t i = 0; i < g->n_batches; i++) {
        const char *id = g->batches[i].msg->batch.agent;
        size_t k = 0;
        while (k < n && strcmp(agents[k].id, id) != 0)
            k++;
        if (k == n)
            agents[n++] = (struct locked_agent){.id = id};
    }
    /* Ids are [a-z0-9_-] (checked by the decoder), so the array literal needs no quoting. */
    ct_buf_reset(&st->params);
    ct_buf_puts(&st->params, "{");
    for (size_t k = 0; k < n; k++)
        ct_buf_printf(&st->params, "%s%s", k ? "," : "", agents[k].id);
    ct_buf_puts(&st->params, "}");
    if (st->params.failed) {
        snprintf(err, err_size, "out of memory");
        return AGG_STORE_FAILED;
    }
    params[0] = st->params.data;
    prefetch = agg_plaus_prefetch(&st->plaus, g, plaus_params);
    if (prefetch < 0) {
        snprintf(err, err_size, "out of memory");
        return AGG_STORE_FAILED;
    }
    {
        /* ORDER BY fixes the lock order, so this cannot deadlock with another locker. The
         * plausibility checks read the current values of the keys the sets touch in the
         * same round trip, after the locks (plausibility.h). */
        const struct agg_db_step steps[] = {
            {.what = "BEGIN", .sql = "BEGIN", .expect = PGRES_COMMAND_OK},
            {
                .what = "locking agents",
                .sql = "SELECT agent_id, district, revoked_at IS NOT NULL, last_seq FROM agents"
                       " WHERE agent_id = ANY($1::text[]) ORDER BY agent_id FOR UPDATE",
                .n_params = 1,
                .params = params,
                .expect = PGRES_TUPLES_OK,
                .keep = &res,
            },
            {
                .what = "reading current values for the plausibility checks",
                .sql = AGG_PLAUS_PREFETCH_SQL,
                .n_params = 3,
                .params = plaus_params,
                .expect = PGRES_TUPLES_OK,
                .keep = &current,
            },
        };
        enum agg_store_status status =
            status_of(agg_db_pipeline(conn, steps, prefetch > 0 ? 3 : 2, err, err_size));
        if (status != AGG_STORE_COMMITTED)
            return status;
    }
    if (prefetch > 0)
        agg_plaus_prefetched(&st->plaus, current);
    for (int row = 0; row < PQntuples(res); row++) {
        for (size_t k = 0; k < n; k++) {
            if (strcmp(agents[k].id, PQgetvalue(res, row, 0)) != 0)
                continue;
            agents[k].found = true;
            ct_strlcpy(agents[k].district, PQgetvalue(res, row, 1), sizeof(agents[k].district));
            agents[k].revoked = PQgetvalue(res, row, 2)[0] == 't';
            agents[k].last_seq = strtoull(PQgetvalue(res, row, 3), NULL, 10);
            agents[k].committed_seq = agents[k].last_seq;
        }
    }
    PQclear(res);
    *n_agents = n;
    return AGG_STORE_COMMITTED;
}

static void refuse(struct agg_batch *b, enum ct_wire_error error, uint64_t last_seq,
                   const char *msg)
{
    b->outcome = AGG_BATCH_REFUSED;
    b->error = error;
    b->error_seq = last_seq;
    ct_strlcpy(b->error_msg, msg, sizeof(b->error_msg));
}

/* Rejects what the decoder could not (it knows no catalog and no clock). */
static void check_update(struct ct_update *u, const struct agg_directory *dir, const char *district,
                         int64_t now_ms)
{
    const struct agg_indicator *ind;

    if (u->fault != CT_REJECT_NONE)
        return;
    ind = agg_directory_indicator(dir, u->ind);
    if (ind == NULL) {
        u->fault = CT_REJECT_UNKNOWN_INDICATOR;
        u->fault_msg = "no such indicator in the catalog";
    } else if (strcmp(ind->reported_by, "city") == 0 && strcmp(district, "city") != 0) {
        u->fault = CT_REJECT_NOT_REPORTABLE_BY_DISTRICT;
        u->fault_msg = "this indicator is reported by the municipal level (city) only";
    } else if (u->at_ms > now_ms + FUTURE_TOLERANCE_MS) {
        u->fault = CT_REJECT_BAD_TIME;
        u->fault_msg = "observation time is more than a day in the future";
    }
}

static void note_period(struct agg_store_result *result, int64_t period)
{
    for (size_t i = 0; i < result->n_periods; i++) {
        if (result->periods[i] == period)
            return;
    }
    if (result->n_periods < AGG_STORE_MAX_PERIODS)
        result->periods[result->n_periods++] = (int)period;
}

/* Decides one batch against its locked agent row and appends its rows to the COPY data. */
static void decide_batch(struct agg_store *st, struct agg_batch *b, struct locked_agent *agent,
                         const struct agg_directory *dir, int64_t now_ms,
                         struct agg_store_result *result)
{
    struct ct_msg_batch *batch = &b->msg->batch;
    char msg[CT_WIRE_MAX_TEXT];
    size_t skip = 0;

    if (!agent->found || agent->revoked) {
        refuse(b, CT_WERR_UNKNOWN_AGENT, 0,
               agent->found ? "this agent has been removed" : "no such agent is registered");
        result->refused++;
        return;
    }
    if (strcmp(agent->district, batch->district) != 0) {
        snprintf(msg, sizeof(msg), "agent %s reports for %s, not %s", agent->id, agent->district,
                 batch->district);
        refuse(b, CT_WERR_WRONG_DISTRICT, agent->last_seq, msg);
        result->refused++;
        return;
    }
    while (skip < batch->n_updates && batch->updates[skip].seq <= agent->last_seq)
        skip++;
    result->duplicates += skip;
    b->first_new = skip;
    if (skip < batch->n_updates && batch->updates[skip].seq != agent->last_seq + 1) {
        snprintf(msg, sizeof(msg), "expected seq %" PRIu64 ", got %" PRIu64, agent->last_seq + 1,
                 batch->updates[skip].seq);
        refuse(b, CT_WERR_SEQ_GAP, agent->last_seq, msg);
        result->refused++;
        return;
    }
    for (size_t i = skip; i < batch->n_updates; i++) {
        struct ct_update *u = &batch->updates[i];
        check_update(u, dir, batch->district, now_ms);
        if (u->fault == CT_REJECT_NONE) {
            copy_accepted(&st->copy_updates, batch->agent, batch->district, u);
            if (agg_fold_add(&st->fold, batch->agent, batch->district, u) != 0 ||
                agg_plaus_add(&st->plaus, b, batch->agent, batch->district, u) != 0)
                st->copy_updates.failed = true; /* reported with the COPY buffers */
            note_period(result, u->period);
            result->accepted++;
        } else {
            copy_rejected(&st->copy_rejected, batch->agent, batch->district, u);
            result->rejected++;
        }
        agent->last_seq = u->seq;
    }
    b->outcome = AGG_BATCH_ACKED;
}

static enum ct_reject reject_from_code(const char *code)
{
    for (int r = CT_REJECT_UNKNOWN_INDICATOR; r <= CT_REJECT_BAD_NOTE; r++) {
        if (strcmp(code, ct_reject_code((enum ct_reject)r)) == 0)
            return (enum ct_reject)r;
    }
    return CT_REJECT_BAD_VALUE;
}

/* A resent batch may hold updates rejected the first time; its ack must list them again,
 * since the collector may never have seen the first ack. */
static enum agg_store_status recall_rejections(PGconn *conn, struct agg_batch *b, char *err,
                                               size_t err_size)
{
    struct ct_msg_batch *batch = &b->msg->batch;
    char first[24], last[24];
    const char *params[3] = {batch->agent, first, last};
    PGresult *res;
    const struct agg_db_step read = {
        .what = "reading earlier rejections",
        .sql = "SELECT seq, reason FROM rejected_updates"
               " WHERE agent_id = $1 AND seq BETWEEN $2 AND $3",
        .n_params = 3,
        .params = params,
        .expect = PGRES_TUPLES_OK,
        .keep = &res,
    };
    enum agg_store_status status;

    snprintf(first, sizeof(first), "%" PRIu64, batch->updates[0].seq);
    snprintf(last, sizeof(last), "%" PRIu64, batch->updates[b->first_new - 1].seq);
    status = status_of(agg_db_pipeline(conn, &read, 1, err, err_size));
    if (status != AGG_STORE_COMMITTED)
        return status;
    for (size_t i = 0; i < b->first_new; i++)
        batch->updates[i].fault = CT_REJECT_NONE;
    for (int row = 0; row < PQntuples(res); row++) {
        uint64_t seq = strtoull(PQgetvalue(res, row, 0), NULL, 10);
        size_t i = (size_t)(seq - batch->updates[0].seq);
        if (seq >= batch->updates[0].seq && i < b->first_new) {
            batch->updates[i].fault = reject_from_code(PQgetvalue(res, row, 1));
            batch->updates[i].fault_msg = "rejected when first received";
        }
    }
    PQclear(res);
    return AGG_STORE_COMMITTED;
}

/* Formats the agents whose last_seq moved as two array literals, "{ids}" and "{seqs}", in
 * one buffer. Returns 1 with params set, 0 when none moved, -1 when out of memory. */
static int last_seq_params(struct agg_store *st, const struct locked_agent *agents, size_t n_agents,
                           const char *params[2])
{
    struct ct_buf *p = &st->params;
    size_t ids_len, n_changed = 0;

    ct_buf_reset(p);
    ct_buf_puts(p, "{");
    for (size_t k = 0; k < n_agents; k++) {
        if (agents[k].last_seq != agents[k].committed_seq)
            ct_buf_printf(p, "%s%s", n_changed++ ? "," : "", agents[k].id);
    }
    if (n_changed == 0)
        return 0;
    ct_buf_puts(p, "}");
    ids_len = p->len;
    ct_buf_append(p, "\0{", 2);
    n_changed = 0;
    for (size_t k = 0; k < n_agents; k++) {
        if (agents[k].last_seq != agents[k].committed_seq)
            ct_buf_printf(p, "%s%" PRIu64, n_changed++ ? "," : "", agents[k].last_seq);
    }
    ct_buf_puts(p, "}");
    if (p->failed)
        return -1;
    params[0] = p->data;
    params[1] = p->data + ids_len + 1;
    return 1;
}

/* Folds the current values, saves last_seq and commits, in one round trip. On failure the
 * transaction may still be open (aborted), or over if COMMIT itself failed. */
static enum agg_store_status finish(struct agg_store *st, PGconn *conn,
                                    const struct locked_agent *agents, size_t n_agents,
                                    const struct agg_store_result *result, char *err,
                                    size_t err_size)
{
    const char *fold_params[1], *seq_params[2], *warn_params[AGG_PLAUS_INSERT_PARAMS];
    const char *notify_params[1];
    char periods[AGG_STORE_MAX_PERIODS * 12 + 1];
    struct agg_db_step steps[5];
    size_t n = 0, len = 0;
    int nothing_to_fold, seqs, warn;

    fold_params[0] = agg_fold_groups(&st->fold, &nothing_to_fold, err, err_size);
    if (fold_params[0] == NULL && !nothing_to_fold)
        return AGG_STORE_FAILED;
    seqs = last_seq_params(st, agents, n_agents, seq_params);
    if (seqs < 0) {
        snprintf(err, err_size, "out of memory");
        return AGG_STORE_FAILED;
    }
    warn = agg_plaus_insert_params(&st->plaus, warn_params);
    if (warn < 0) {
        snprintf(err, err_size, "out of memory");
        return AGG_STORE_FAILED;
    }
    if (warn > 0) { /* only when a set of this commit was warned about */
        steps[n++] = (struct agg_db_step){
            .what = "storing warnings",
            .sql = AGG_PLAUS_INSERT_SQL,
            .n_params = AGG_PLAUS_INSERT_PARAMS,
            .params = warn_params,
            .expect = PGRES_COMMAND_OK,
        };
    }
    /* current_values and daily_values follow the COPY in the same transaction. */
    if (!nothing_to_fold) {
        steps[n++] = (struct agg_db_step){
            .what = "folding current values",
            .sql = AGG_FOLD_SQL,
            .n_params = 1,
            .params = fold_params,
            .expect = PGRES_TUPLES_OK,
        };
    }
    if (seqs > 0) {
        steps[n++] = (struct agg_db_step){
            .what = "saving last_seq",
            .sql = "UPDATE agents SET last_seq = x.seq"
                   " FROM unnest($1::text[], $2::bigint[]) AS x(agent_id, seq)"
                   " WHERE agents.agent_id = x.agent_id",
            .n_params = 2,
            .params = seq_params,
            .expect = PGRES_COMMAND_OK,
        };
    }
    /* Every aggregator publishes progress after this commit (CONTRACT section 7): the
     * notification leaves with the COMMIT, and only if it happens. It names this process
     * (session.h), whose own feed is marked from the result instead. */
    if (result->n_periods > 0) {
        for (size_t i = 0; i < result->n_periods; i++)
            len += (size_t)snprintf(periods + len, sizeof(periods) - len, "%s%d", i ? "," : "",
                                    result->periods[i]);
        notify_params[0] = periods;
        steps[n++] = (struct agg_db_step){
            .what = "notifying the other aggregators",
            .sql = "SELECT pg_notify('citytally_commits',"
                   " coalesce(current_setting('citytally.origin', true), '') || ' ' || $1)",
            .n_params = 1,
            .params = notify_params,
            .expect = PGRES_TUPLES_OK,
        };
    }
    /* A COMMIT in a failed transaction "succeeds" with the tag ROLLBACK. */
    steps[n++] = (struct agg_db_step){
        .what = "COMMIT",
        .sql = "COMMIT",
        .expect = PGRES_COMMAND_OK,
        .tag = "COMMIT",
    };
    return status_of(agg_db_pipeline(conn, steps, n, err, err_size));
}

enum agg_store_status agg_store_commit(struct agg_store *st, PGconn *conn, struct agg_group *g,
                                       const struct agg_directory *dir, int64_t now_ms,
                                       struct agg_store_result *result, char *err, size_t err_size)
{
    struct locked_agent agents[AGG_GROUP_MAX_BATCHES];
    size_t n_agents = 0;
    enum agg_store_status status;

    memset(result, 0, sizeof(*result));
    ct_buf_reset(&st->copy_updates);
    ct_buf_reset(&st->copy_rejected);
    agg_fold_reset(&st->fold);
    agg_plaus_reset(&st->plaus, g->plausibility);
    for (size_t i = 0; i < g->n_batches; i++) {
        g->batches[i].outcome = AGG_BATCH_PENDING;
        g->batches[i].n_warnings = 0;
    }

    /* A collector deletes what was acked: never ack a commit that a cancelled wait for
     * synchronous replication left on this server alone (db.h). */
    if (agg_db_watch_replication(conn) != 0) {
        snprintf(err, err_size, "out of memory");
        return AGG_STORE_FAILED;
    }
    status = lock_agents(st, conn, g, agents, &n_agents, err, err_size);
    if (status != AGG_STORE_COMMITTED)
        goto rollback;

    for (size_t i = 0; i < g->n_batches; i++) {
        struct agg_batch *b = &g->batches[i];
        size_t k = 0;
        while (strcmp(agents[k].id, b->msg->batch.agent) != 0)
            k++;
        decide_batch(st, b, &agents[k], dir, now_ms, result);
    }
    for (size_t i = 0; i < g->n_batches; i++) {
        struct agg_batch *b = &g->batches[i];
        if (b->outcome == AGG_BATCH_ACKED && b->first_new > 0) {
            status = recall_rejections(conn, b, err, err_size);
            if (status != AGG_STORE_COMMITTED)
                goto rollback;
            if (agg_plaus_recall(conn, b, err, err_size) != 0) {
                /* err holds plausibility.c's message; this only says what it means. */
                status = status_of(agg_db_outcome_of(conn, NULL));
                goto rollback;
            }
        }
    }
    if (agg_plaus_check(&st->plaus) < 0)
        st->copy_updates.failed = true; /* out of memory, reported below */
    if (st->copy_updates.failed || st->copy_rejected.failed) {
        snprintf(err, err_size, "out of memory formatting COPY data");
        status = AGG_STORE_FAILED;
        goto rollback;
    }
    if (st->copy_updates.len > 0) {
        status = copy_in(conn,
                         "COPY updates (agent_id, seq, district, indicator, period, op, value,"
                         " observed_at, note, queued_ms) FROM STDIN",
                         &st->copy_updates, err, err_size);
        if (status != AGG_STORE_COMMITTED)
            goto rollback;
    }
    if (st->copy_rejected.len > 0) {
        status = copy_in(conn,
                         "COPY rejected_updates (agent_id, seq, district, indicator, period, op,"
                         " value, at_ms, note, reason, message) FROM STDIN",
                         &st->copy_rejected, err, err_size);
        if (status != AGG_STORE_COMMITTED)
            goto rollback;
    }
    status = finish(st, conn, agents, n_agents, result, err, err_size);
    if (status != AGG_STORE_COMMITTED)
        goto rollback;

    for (size_t k = 0; k < n_agents; k++) {
        struct agg_store_seq *seq = &result->seqs[result->n_seqs];
        if (!agents[k].found)
            continue;
        ct_strlcpy(seq->agent, agents[k].id, sizeof(seq->agent));
        seq->last_seq = agents[k].last_seq;
        result->n_seqs++;
    }
    for (size_t i = 0; i < g->n_batches; i++) {
        struct agg_batch *b = &g->batches[i];
        if (b->outcome != AGG_BATCH_ACKED)
            continue;
        for (size_t k = 0; k < n_agents; k++) {
            if (strcmp(agents[k].id, b->msg->batch.agent) == 0)
                b->ack_seq = agents[k].last_seq;
        }
    }
    return AGG_STORE_COMMITTED;

rollback:
    /* No ROLLBACK after a failed COMMIT (agg_db_rollback sees no transaction open); a
     * connection that cannot even roll back is in no state to reuse. */
    if (status != AGG_STORE_CONNECTION_LOST && agg_db_rollback(conn) != 0)
        return AGG_STORE_CONNECTION_LOST;
    return status;
}
