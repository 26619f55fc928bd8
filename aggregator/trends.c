#include "trends.h"

#include "db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *trends_sql =
    "SELECT target_code, year, (extract(epoch FROM at) * 1000)::bigint, trim_scale(actual),"
    " trim_scale(expected)"
    " FROM citytally_series_all($1, 'month', timestamptz 'epoch' + $2::bigint * interval"
    " '1 millisecond')";

static const char *revised_sql =
    "SELECT target_code, trim_scale(before)"
    " FROM citytally_revised($1, timestamptz 'epoch' + $2::bigint * interval '1 millisecond',"
    " timestamptz 'epoch' + $3::bigint * interval '1 millisecond')";

int agg_trends_load(PGconn *conn, int year, int64_t until_ms, struct agg_trends **out, char *err,
                    size_t err_size)
{
    char year_text[16], until_text[24];
    const char *params[2] = {year_text, until_text};
    struct agg_trends *t = calloc(1, sizeof(*t));
    int rc = -1, n;

    *out = NULL;
    if (t == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(until_text, sizeof(until_text), "%" PRId64, until_ms);
    t->res = agg_db_query(conn, "reading the trends", trends_sql, 2, params, PGRES_TUPLES_OK, err,
                          err_size);
    if (t->res == NULL)
        goto out;
    n = PQntuples(t->res);
    t->storage = calloc((size_t)n + 1, sizeof(*t->storage));
    t->targets = calloc((size_t)n + 1, sizeof(*t->targets));
    if (t->storage == NULL || t->targets == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    /* Rows come by code, year Y before Y-1, then time: each target's run is contiguous. */
    for (int i = 0; i < n; i++) {
        const char *code = PQgetvalue(t->res, i, 0);
        struct agg_series_point *p = &t->storage[i];
        struct agg_trend *cur;

        if (t->n_targets == 0 || strcmp(t->targets[t->n_targets - 1].code, code) != 0) {
            t->targets[t->n_targets] = (struct agg_trend){.code = code, .points = p};
            t->n_targets++;
        }
        cur = &t->targets[t->n_targets - 1];
        p->at_ms = strtoll(PQgetvalue(t->res, i, 2), NULL, 10);
        p->actual = PQgetisnull(t->res, i, 3) ? NULL : PQgetvalue(t->res, i, 3);
        p->expected = PQgetisnull(t->res, i, 4) ? NULL : PQgetvalue(t->res, i, 4);
        if (atoi(PQgetvalue(t->res, i, 1)) == year) {
            cur->n_points++;
        } else {
            if (cur->previous == NULL)
                cur->previous = p;
            cur->n_previous++;
        }
    }
    *out = t;
    rc = 0;
out:
    if (rc != 0)
        agg_trends_free(t);
    return rc;
}

const struct agg_trend *agg_trends_find(const struct agg_trends *t, const char *code)
{
    for (size_t i = 0; t != NULL && code != NULL && i < t->n_targets; i++) {
        if (strcmp(t->targets[i].code, code) == 0)
            return &t->targets[i];
    }
    return NULL;
}

void agg_trends_free(struct agg_trends *t)
{
    if (t == NULL)
        return;
    PQclear(t->res);
    free(t->storage);
    free(t->targets);
    free(t);
}

int agg_revisions_load(PGconn *conn, int year, int64_t as_of_ms, int64_t since_ms,
                       struct agg_revisions **out, char *err, size_t err_size)
{
    char year_text[16], as_of_text[24], since_text[24];
    const char *params[3] = {year_text, as_of_text, since_text};
    struct agg_revisions *r = calloc(1, sizeof(*r));
    int rc = -1, n;

    *out = NULL;
    if (r == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(as_of_text, sizeof(as_of_text), "%" PRId64, as_of_ms);
    snprintf(since_text, sizeof(since_text), "%" PRId64, since_ms);
    r->since_ms = since_ms;
    r->res = agg_db_query(conn, "reading the revisions", revised_sql, 3, params, PGRES_TUPLES_OK,
                          err, err_size);
    if (r->res == NULL)
        goto out;
    n = PQntuples(r->res);
    if ((r->items = calloc((size_t)n + 1, sizeof(*r->items))) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        r->items[i] = (struct agg_revision){
            PQgetvalue(r->res, i, 0), PQgetisnull(r->res, i, 1) ? NULL : PQgetvalue(r->res, i, 1)};
    r->n = (size_t)n;
    *out = r;
    rc = 0;
out:
    if (rc != 0)
        agg_revisions_free(r);
    return rc;
}

const struct agg_revision *agg_revisions_find(const struct agg_revisions *r, const char *code)
{
    for (size_t i = 0; r != NULL && code != NULL && i < r->n; i++) {
        if (strcmp(r->items[i].code, code) == 0)
            return &r->items[i];
    }
    return NULL;
}

void agg_revisions_free(struct agg_revisions *r)
{
    if (r == NULL)
        return;
    PQclear(r->res);
    free(r->items);
    free(r);
}
