#include "plausibility.h"
#include "decimal.h"
#include "text.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COL_AGENT, COL_SEQ, COL_DISTRICT, COL_IND, COL_PERIOD, COL_AT, COL_VALUE, COL_NOTED };

void agg_plaus_init(struct agg_plaus *p)
{
    memset(p, 0, sizeof(*p));
}

void agg_plaus_release(struct agg_plaus *p)
{
    for (size_t i = 0; i < AGG_PLAUS_PARAMS; i++)
        ct_buf_free(&p->cols[i]);
    PQclear(p->result);
    memset(p, 0, sizeof(*p));
}

void agg_plaus_reset(struct agg_plaus *p, bool enabled)
{
    for (size_t i = 0; i < AGG_PLAUS_PARAMS; i++) {
        ct_buf_reset(&p->cols[i]);
        ct_buf_puts(&p->cols[i], "{");
    }
    PQclear(p->result);
    p->result = NULL;
    p->n = 0;
    p->enabled = enabled;
}

int agg_plaus_add(struct agg_plaus *p, const char *agent, const char *district,
                  const struct ct_update *u)
{
    char value[CT_DECIMAL_MAX], at[CT_TIME_TEXT_MAX];
    const char *sep = p->n ? "," : "";

    if (!p->enabled || u->op != CT_OP_SET)
        return 0;
    if (ct_value_format(&u->value, value, sizeof(value)) != 0)
        return 0; /* not a finite number: the store has rejected it already */
    ct_time_format(u->at_ms, at, sizeof(at));
    /* Ids, numbers and ISO times: nothing in them needs quoting in an array literal. */
    ct_buf_printf(&p->cols[COL_AGENT], "%s%s", sep, agent);
    ct_buf_printf(&p->cols[COL_SEQ], "%s%" PRIu64, sep, u->seq);
    ct_buf_printf(&p->cols[COL_DISTRICT], "%s%s", sep, district);
    ct_buf_printf(&p->cols[COL_IND], "%s%s", sep, u->ind);
    ct_buf_printf(&p->cols[COL_PERIOD], "%s%" PRId64, sep, u->period);
    ct_buf_printf(&p->cols[COL_AT], "%s%s", sep, at);
    ct_buf_printf(&p->cols[COL_VALUE], "%s%s", sep, value);
    ct_buf_printf(&p->cols[COL_NOTED], "%s%s", sep, u->has_note ? "t" : "f");
    p->n++;
    for (size_t i = 0; i < AGG_PLAUS_PARAMS; i++) {
        if (p->cols[i].failed)
            return -1;
    }
    return 0;
}

int agg_plaus_params(struct agg_plaus *p, const char *params[AGG_PLAUS_PARAMS])
{
    if (p->n == 0)
        return 0;
    for (size_t i = 0; i < AGG_PLAUS_PARAMS; i++) {
        if (ct_buf_puts(&p->cols[i], "}") != 0)
            return -1;
        params[i] = p->cols[i].data;
    }
    return 1;
}

/* Appends one warning to a batch's slot; -1 when out of memory. */
static int batch_warn(struct agg_batch *b, uint64_t seq, const char *code, const char *msg)
{
    struct ct_warning *w;

    if (b->n_warnings == b->cap_warnings) {
        size_t cap = b->cap_warnings ? b->cap_warnings * 2 : 8;
        struct ct_warning *bigger = realloc(b->warnings, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        b->warnings = bigger;
        b->cap_warnings = cap;
    }
    w = &b->warnings[b->n_warnings++];
    w->seq = seq;
    ct_strlcpy(w->code, code, sizeof(w->code));
    ct_strlcpy(w->msg, msg, sizeof(w->msg));
    return 0;
}

void agg_plaus_deliver(struct agg_plaus *p, struct agg_group *g)
{
    PGresult *res = p->result;

    p->result = NULL;
    for (int row = 0; res != NULL && row < PQntuples(res); row++) {
        const char *agent = PQgetvalue(res, row, 0);
        uint64_t seq = strtoull(PQgetvalue(res, row, 1), NULL, 10);

        for (size_t i = 0; i < g->n_batches; i++) {
            struct agg_batch *b = &g->batches[i];
            const struct ct_msg_batch *batch = &b->msg->batch;
            if (b->outcome != AGG_BATCH_ACKED || b->first_new >= batch->n_updates ||
                strcmp(batch->agent, agent) != 0 || seq < batch->updates[b->first_new].seq ||
                seq > batch->updates[batch->n_updates - 1].seq)
                continue;
            (void)batch_warn(b, seq, PQgetvalue(res, row, 2), PQgetvalue(res, row, 3));
            break;
        }
    }
    PQclear(res);
}

int agg_plaus_recall(PGconn *conn, struct agg_batch *b, char *err, size_t err_size)
{
    const struct ct_msg_batch *batch = &b->msg->batch;
    char first[24], last[24];
    const char *params[3] = {batch->agent, first, last};
    PGresult *res;
    int rc = 0;

    snprintf(first, sizeof(first), "%" PRIu64, batch->updates[0].seq);
    snprintf(last, sizeof(last), "%" PRIu64, batch->updates[b->first_new - 1].seq);
    res = PQexecParams(conn,
                       "SELECT seq, code, message FROM update_warnings"
                       " WHERE agent_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, code",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "reading earlier warnings: %s", PQerrorMessage(conn));
        err[strcspn(err, "\n")] = '\0';
        rc = -1;
        goto out;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        if (batch_warn(b, strtoull(PQgetvalue(res, row, 0), NULL, 10), PQgetvalue(res, row, 1),
                       PQgetvalue(res, row, 2)) != 0) {
            snprintf(err, err_size, "out of memory recalling warnings");
            rc = -1;
            goto out;
        }
    }
out:
    PQclear(res);
    return rc;
}
