#include "api_briefings.h"

#include "db.h"
#include "diff.h"
#include "known_at.h"
#include "series.h"
#include "text.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void answer(struct ct_http_response *resp, unsigned status, const char *msg)
{
    ct_http_text(resp, status, msg);
    ct_buf_puts(&resp->body, "\n");
}

unsigned agg_api_year_param(PGconn *conn, const struct ct_http_request *req, int *year, char *err,
                            size_t err_size)
{
    const char *text = ct_http_query(req, "year");
    PGresult *res;

    if (text != NULL && text[0] != '\0') {
        size_t n = strlen(text);
        int y = n == 4 && strspn(text, "0123456789") == 4 ? atoi(text) : 0;
        if (y < 1900 || y > 9999) {
            char shown[64];
            ct_text_escape(text, n, shown, sizeof(shown));
            snprintf(err, err_size, "year: '%s' is not a year (1900 to 9999)", shown);
            return 400;
        }
        *year = y;
        return 0;
    }
    res = agg_db_query(conn, "finding the latest year with targets",
                       "SELECT coalesce(max(year), 0) FROM targets", 0, NULL, PGRES_TUPLES_OK, err,
                       err_size);
    if (res == NULL)
        return 503;
    *year = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int time_param(const struct ct_http_request *req, const char *name, int64_t *ms, char *err,
                      size_t err_size)
{
    const char *text = ct_http_query(req, name);

    if (text == NULL || text[0] == '\0') {
        snprintf(err, err_size, "%s: missing (a TIME such as 2015-06-30)", name);
        return -1;
    }
    return agg_known_at_parse(name, text, ms, err, err_size);
}

void agg_api_series(PGconn *conn, const struct ct_http_request *req, struct ct_http_response *resp)
{
    static const char *const known[] = {"year", "target", "step", "known_at", NULL};
    const char *code = ct_http_query(req, "target");
    struct agg_series *s = NULL;
    char err[AGG_DB_ERR_MAX];
    int64_t known_at;
    bool weekly;
    unsigned status;
    int year = 0, rc;

    if (ct_http_query_check(req, known, err, sizeof(err)) != 0 ||
        agg_known_at_from_query(req, &known_at, err, sizeof(err)) != 0) {
        answer(resp, 400, err);
        return;
    }
    if (agg_series_step_parse(ct_http_query(req, "step"), &weekly) != 0) {
        answer(resp, 400, "step: must be month or week");
        return;
    }
    if (code == NULL || !ct_id_valid(code, strlen(code))) {
        answer(resp, 400, "target: missing or not a target code");
        return;
    }
    if ((status = agg_api_year_param(conn, req, &year, err, sizeof(err))) != 0) {
        answer(resp, status, err);
        return;
    }
    rc = agg_series_load(conn, year, code, weekly, known_at, &s, err, sizeof(err));
    if (rc != 0) {
        answer(resp, rc > 0 ? 404 : 503, err);
        return;
    }
    resp->content_type = "application/json; charset=utf-8";
    agg_series_json(s, &resp->body);
    ct_buf_puts(&resp->body, "\n");
    agg_series_free(s);
}

void agg_api_diff(PGconn *conn, PGconn *helper, const struct ct_http_request *req,
                  struct ct_http_response *resp)
{
    static const char *const known[] = {"year", "from", "to", NULL};
    struct agg_diff *d = NULL;
    char err[AGG_DB_ERR_MAX];
    int64_t from, to;
    unsigned status;
    int year = 0, rc;

    if (ct_http_query_check(req, known, err, sizeof(err)) != 0 ||
        time_param(req, "from", &from, err, sizeof(err)) != 0 ||
        time_param(req, "to", &to, err, sizeof(err)) != 0) {
        answer(resp, 400, err);
        return;
    }
    if (from >= to) {
        answer(resp, 400, "from: must be before to");
        return;
    }
    if ((status = agg_api_year_param(conn, req, &year, err, sizeof(err))) != 0) {
        answer(resp, status, err);
        return;
    }
    if ((rc = agg_diff_load(conn, helper, year, from, to, &d, err, sizeof(err))) != 0) {
        answer(resp, rc > 0 ? 404 : 503, err);
        return;
    }
    resp->content_type = "application/json; charset=utf-8";
    agg_diff_json(d, &resp->body);
    ct_buf_puts(&resp->body, "\n");
    agg_diff_free(d);
}
