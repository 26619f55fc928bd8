#include "api_assessment.h"

#include "assessment.h"
#include "dashboard_assessment.h"

#include <stdio.h>

int agg_api_assessment(PGconn *conn, const struct agg_api_year *q, struct ct_http_response *resp,
                       char *err, size_t err_size)
{
    struct agg_assessment *a = NULL;

    if (agg_assessment_load(conn, q->year, q->as_of_ms, &a, err, err_size) != 0)
        return -1;
    resp->content_type = "application/json; charset=utf-8";
    agg_assessment_json(a, &resp->body);
    ct_buf_puts(&resp->body, "\n");
    agg_assessment_free(a);
    return 0;
}

int agg_api_assessment_page(PGconn *conn, const struct agg_api_year *q,
                            struct ct_http_response *resp, char *err, size_t err_size)
{
    struct agg_assessment *a = NULL;
    struct agg_dashboard_assessment_view view;

    if (agg_assessment_load(conn, q->year, q->as_of_ms, &a, err, err_size) != 0)
        return -1;
    view = (struct agg_dashboard_assessment_view){a, q->as_of, q->years, q->n_years};
    resp->content_type = "text/html; charset=utf-8";
    /* No script at all on this page; inline style only, nothing from elsewhere. */
    resp->headers[0].name = "Content-Security-Policy";
    resp->headers[0].value = "default-src 'none'; style-src 'unsafe-inline'; "
                             "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    resp->headers[1].name = "Referrer-Policy";
    resp->headers[1].value = "no-referrer";
    if (agg_dashboard_assessment_render(&view, &resp->body) != 0)
        resp->body.failed = true;
    agg_assessment_free(a);
    return 0;
}
