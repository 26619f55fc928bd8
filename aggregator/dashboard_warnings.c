#include "dashboard_warnings.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int agg_dashboard_warnings_load(PGconn *conn, int year, struct agg_dashboard_warnings *w, char *err,
                                size_t err_size)
{
    char year_text[16];
    const char *params[1] = {year_text};
    size_t n = 0;

    memset(w, 0, sizeof(*w));
    snprintf(year_text, sizeof(year_text), "%d", year);
    w->res = agg_db_query(conn, "reading warnings",
                          "SELECT t.code, c.district, w.code, w.message"
                          "  FROM current_values c"
                          "  JOIN update_warnings w"
                          "    ON w.agent_id = c.set_agent AND w.seq = c.set_seq"
                          "  JOIN targets t ON t.year = c.period"
                          "   AND (t.indicator = c.indicator OR t.denominator = c.indicator)"
                          " WHERE c.period = $1::int"
                          " ORDER BY t.code, c.district, w.code",
                          1, params, PGRES_TUPLES_OK, err, err_size);
    if (w->res == NULL)
        return -1;
    w->rows = calloc((size_t)PQntuples(w->res) + 1, sizeof(*w->rows));
    if (w->rows == NULL) {
        snprintf(err, err_size, "out of memory reading warnings");
        agg_dashboard_warnings_free(w);
        return -1;
    }
    for (int i = 0; i < PQntuples(w->res); i++) {
        bool complete = true;
        for (int c = 0; c < 4; c++)
            complete = complete && !PQgetisnull(w->res, i, c);
        if (!complete)
            continue;
        w->rows[n++] =
            (struct agg_dashboard_warning){PQgetvalue(w->res, i, 0), PQgetvalue(w->res, i, 1),
                                           PQgetvalue(w->res, i, 2), PQgetvalue(w->res, i, 3)};
    }
    w->n = n;
    return 0;
}

void agg_dashboard_warnings_free(struct agg_dashboard_warnings *w)
{
    free(w->rows);
    PQclear(w->res);
    memset(w, 0, sizeof(*w));
}

void agg_dashboard_render_warnings(struct ct_buf *out, const struct agg_dashboard_view *v,
                                   const char *target, const char *district)
{
    for (size_t i = 0; i < v->n_warnings; i++) {
        const struct agg_dashboard_warning *w = &v->warnings[i];
        if (target == NULL || district == NULL || w->target == NULL || w->district == NULL ||
            strcmp(w->target, target) != 0 || strcmp(w->district, district) != 0)
            continue;
        ct_buf_puts(out, "<span class=\"warn\" data-target=\"");
        ct_buf_html(out, target);
        ct_buf_puts(out, "\" data-district=\"");
        ct_buf_html(out, district);
        ct_buf_puts(out, "\" data-code=\"");
        ct_buf_html(out, w->code);
        ct_buf_puts(out, "\" title=\"");
        ct_buf_html(out, w->msg);
        ct_buf_puts(out, "\">⚠ 待核实 check: ");
        ct_buf_html(out, w->code);
        ct_buf_puts(out, " <small>");
        ct_buf_html(out, w->msg);
        ct_buf_puts(out, "</small></span>");
    }
}
