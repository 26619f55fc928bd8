#include "series.h"

#include "db.h"
#include "known_at.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *series_sql =
    "SELECT year, (extract(epoch FROM at) * 1000)::bigint, trim_scale(actual),"
    " trim_scale(expected)"
    " FROM citytally_series($1, $2, $3,"
    " timestamptz 'epoch' + $4::bigint * interval '1 millisecond')";

int agg_series_step_parse(const char *text, bool *weekly)
{
    if (text == NULL || text[0] == '\0' || strcmp(text, "month") == 0)
        *weekly = false;
    else if (strcmp(text, "week") == 0)
        *weekly = true;
    else
        return -1;
    return 0;
}

int agg_series_load(PGconn *conn, int year, const char *code, bool weekly, int64_t known_at_ms,
                    struct agg_series **out, char *err, size_t err_size)
{
    char year_text[16], known_text[24];
    const char *params[4] = {year_text, code, weekly ? "week" : "month",
                             known_at_ms == AGG_KNOWN_AT_NOW ? NULL : known_text};
    struct agg_series *s = calloc(1, sizeof(*s));
    PGresult *check = NULL;
    int rc = -1, n;

    *out = NULL;
    if (s == NULL || (s->code_copy = strdup(code)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(known_text, sizeof(known_text), "%" PRId64, known_at_ms);
    s->year = year;
    s->weekly = weekly;
    s->code = s->code_copy;
    check = agg_db_query(conn, "checking the target",
                         "SELECT EXISTS (SELECT 1 FROM targets WHERE year = $1 AND code = $2)", 2,
                         params, PGRES_TUPLES_OK, err, err_size);
    if (check == NULL)
        goto out;
    if (strcmp(PQgetvalue(check, 0, 0), "t") != 0) {
        snprintf(err, err_size, "no target '%.64s' for year %d", code, year);
        rc = 1;
        goto out;
    }
    s->res = agg_db_query(conn, "computing the series", series_sql, 4, params, PGRES_TUPLES_OK, err,
                          err_size);
    if (s->res == NULL)
        goto out;
    n = PQntuples(s->res);
    if ((s->storage = calloc((size_t)n + 1, sizeof(*s->storage))) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    /* Year Y's rows come first, then Y-1's. */
    s->points = s->storage;
    for (int i = 0; i < n; i++) {
        struct agg_series_point *p = &s->storage[i];
        p->at_ms = strtoll(PQgetvalue(s->res, i, 1), NULL, 10);
        p->actual = PQgetisnull(s->res, i, 2) ? NULL : PQgetvalue(s->res, i, 2);
        p->expected = PQgetisnull(s->res, i, 3) ? NULL : PQgetvalue(s->res, i, 3);
        if (atoi(PQgetvalue(s->res, i, 0)) == year)
            s->n_points++;
    }
    s->previous = s->storage + s->n_points;
    s->n_previous = (size_t)n - s->n_points;
    *out = s;
    rc = 0;
out:
    PQclear(check);
    if (rc != 0)
        agg_series_free(s);
    return rc;
}

void agg_series_free(struct agg_series *s)
{
    if (s == NULL)
        return;
    PQclear(s->res);
    free(s->storage);
    free(s->code_copy);
    free(s);
}

static void point_json(struct ct_buf *out, const struct agg_series_point *p, bool expected)
{
    char at[CT_TIME_TEXT_MAX];

    ct_time_format(p->at_ms, at, sizeof(at));
    ct_buf_puts(out, "{\"at\":");
    ct_buf_json_string(out, at);
    ct_buf_printf(out, ",\"actual\":%s", p->actual != NULL ? p->actual : "null");
    if (expected)
        ct_buf_printf(out, ",\"expected\":%s", p->expected != NULL ? p->expected : "null");
    ct_buf_puts(out, "}");
}

int agg_series_json(const struct agg_series *s, struct ct_buf *out)
{
    ct_buf_printf(out, "{\"year\":%d,\"target\":", s->year);
    ct_buf_json_string(out, s->code);
    ct_buf_printf(out, ",\"step\":\"%s\",\"points\":[", s->weekly ? "week" : "month");
    for (size_t i = 0; i < s->n_points; i++) {
        ct_buf_puts(out, i ? "," : "");
        point_json(out, &s->points[i], true);
    }
    ct_buf_puts(out, "],\"previous_year\":[");
    for (size_t i = 0; i < s->n_previous; i++) {
        ct_buf_puts(out, i ? "," : "");
        point_json(out, &s->previous[i], false);
    }
    ct_buf_puts(out, "]}");
    return out->failed ? -1 : 0;
}
