#include "http_completeness.h"

#include "calendar.h"
#include "completeness.h"
#include "dashboard_completeness.h"
#include "db.h"
#include "http_api.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_YEARS 64

struct query {
    int year;                               /* 0: not given (the latest with rounds) */
    char round[AGG_CALENDAR_ROUND_MAX + 1]; /* "" for every round */
};

/* Reads ?year=Y&round=R (`round` only where `with_round`). Returns 0, or -1 with the 400's
 * text in `err`. */
static int parse_query(const struct ct_http_request *req, bool with_round, struct query *q,
                       char *err, size_t err_size)
{
    static const char *const api_known[] = {"year", "round", NULL}, *const page_known[] = {"year",
                                                                                           NULL};
    const char *year = ct_http_query(req, "year"), *round = ct_http_query(req, "round");
    char shown[64];

    memset(q, 0, sizeof(*q));
    if (ct_http_query_check(req, with_round ? api_known : page_known, err, err_size) != 0)
        return -1;
    if (year != NULL && year[0] != '\0') {
        size_t n = strlen(year);
        q->year = n == 4 && strspn(year, "0123456789") == 4 ? atoi(year) : 0;
        if (q->year < 1900) {
            ct_text_escape(year, n, shown, sizeof(shown));
            snprintf(err, err_size, "year: '%s' is not a year (1900 to 9999)", shown);
            return -1;
        }
    }
    if (round != NULL && round[0] != '\0') {
        size_t n = strlen(round);
        if (n > AGG_CALENDAR_ROUND_MAX ||
            strspn(round, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
                n) {
            ct_text_escape(round, n, shown, sizeof(shown));
            snprintf(err, err_size, "round: '%s' is not a round name (Q1, H1 ...)", shown);
            return -1;
        }
        memcpy(q->round, round, n + 1);
    }
    return 0;
}

static void error_text(struct ct_http_response *resp, unsigned status, const char *msg)
{
    ct_http_text(resp, status, msg);
    ct_buf_puts(&resp->body, "\n");
}

/* The year asked for, else the latest with rounds (then 0 when there are none). */
static int pick_year(PGconn *conn, struct query *q, char *err, size_t err_size)
{
    if (q->year != 0)
        return 0;
    return agg_completeness_latest_year(conn, &q->year, err, err_size);
}

void agg_http_completeness_api(void *ctx, const struct ct_http_request *req,
                               struct ct_http_response *resp)
{
    struct agg_http *h = ctx;
    struct agg_completeness *c = NULL;
    char err[AGG_DB_ERR_MAX];
    struct query q;
    PGconn *conn;

    if (parse_query(req, true, &q, err, sizeof(err)) != 0) {
        error_text(resp, 400, err);
        return;
    }
    conn = agg_http_page_conn(h, req, err, sizeof(err));
    if (conn == NULL || pick_year(conn, &q, err, sizeof(err)) != 0) {
        error_text(resp, 503, err);
        goto out;
    }
    switch (
        agg_completeness_load(conn, q.year, q.round[0] ? q.round : NULL, &c, err, sizeof(err))) {
    case AGG_COMPLETENESS_OK:
        resp->content_type = "application/json; charset=utf-8";
        agg_completeness_json(c, &resp->body);
        ct_buf_puts(&resp->body, "\n");
        break;
    case AGG_COMPLETENESS_NOT_FOUND:
        error_text(resp, 404, err);
        break;
    case AGG_COMPLETENESS_DB_ERROR:
        error_text(resp, 503, err);
        break;
    }
out:
    agg_http_page_done(h, conn);
    agg_completeness_free(c);
}

static int load_page_data(PGconn *conn, struct agg_completeness_page *page, PGresult **years,
                          PGresult **names, char *err, size_t err_size)
{
    *years = agg_db_query(conn, "reading the years with rounds",
                          "SELECT DISTINCT year FROM rounds ORDER BY year", 0, NULL,
                          PGRES_TUPLES_OK, err, err_size);
    if (*years == NULL)
        return -1;
    *names = agg_db_query(conn, "reading indicator names",
                          "SELECT code, name_zh, name_en FROM indicators ORDER BY position", 0,
                          NULL, PGRES_TUPLES_OK, err, err_size);
    if (*names == NULL)
        return -1;
    page->n_years = 0;
    for (int i = 0; i < PQntuples(*years) && page->n_years < MAX_YEARS; i++)
        page->years[page->n_years++] = atoi(PQgetvalue(*years, i, 0));
    page->names = *names;
    return 0;
}

void agg_http_completeness_page(void *ctx, const struct ct_http_request *req,
                                struct ct_http_response *resp)
{
    struct agg_http *h = ctx;
    struct agg_completeness *c = NULL;
    int years[MAX_YEARS];
    struct agg_completeness_page page = {.years = years};
    PGresult *year_rows = NULL, *names = NULL;
    char problem[AGG_DB_ERR_MAX] = "";
    struct query q;
    PGconn *conn;

    resp->content_type = "text/html; charset=utf-8";
    /* No script at all, inline style only. */
    resp->headers[0].name = "Content-Security-Policy";
    resp->headers[0].value = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                             "base-uri 'none'; frame-ancestors 'none'";
    resp->headers[1].name = "Referrer-Policy";
    resp->headers[1].value = "no-referrer";
    conn = agg_http_page_conn(h, req, problem, sizeof(problem));
    if (parse_query(req, false, &q, problem, sizeof(problem)) != 0) {
        resp->status = 400;
    } else if (conn == NULL || pick_year(conn, &q, problem, sizeof(problem)) != 0 ||
               load_page_data(conn, &page, &year_rows, &names, problem, sizeof(problem)) != 0) {
        resp->status = 503;
    } else {
        switch (agg_completeness_load(conn, q.year, NULL, &c, problem, sizeof(problem))) {
        case AGG_COMPLETENESS_OK:
            break;
        case AGG_COMPLETENESS_NOT_FOUND:
            resp->status = 404;
            break;
        case AGG_COMPLETENESS_DB_ERROR:
            resp->status = 503;
            break;
        }
    }
    page.completeness = c;
    page.year = q.year;
    page.problem = problem[0] != '\0' ? problem : NULL;
    if (agg_dashboard_completeness_render(&page, &resp->body) != 0)
        resp->body.failed = true;
    agg_http_page_done(h, conn);
    agg_completeness_free(c);
    PQclear(year_rows);
    PQclear(names);
}
