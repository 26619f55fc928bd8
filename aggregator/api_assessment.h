/*
 * api_assessment.h - the assessment over HTTP (CONTRACT section 8): GET /api/assessment, the
 * JSON document of `report --assessment --format json`, and GET /assessment, the dashboard's
 * page with the ranking and the units x targets scorecard (dashboard_assessment.h).
 *
 * http_api.c parses the query, picks the year as for /api/progress and lends these pages its
 * database connection for the call; they read the assessment (assessment.h) and fill the
 * response only when everything was read, so a -1 leaves the caller free to answer 503.
 */
#ifndef AGG_API_ASSESSMENT_H
#define AGG_API_ASSESSMENT_H

#include "http.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* One request's year, as http_api.c chose it. Everything is borrowed for the call. */
struct agg_api_year {
    int year;
    int64_t as_of_ms;
    const char *as_of; /* as given; "" for now */
    const int *years;  /* years that have targets, ascending */
    size_t n_years;
};

/* A page of one year: fills `resp` and returns 0, or returns -1 with one line in `err`. */
typedef int (*agg_api_year_page)(PGconn *conn, const struct agg_api_year *q,
                                 struct ct_http_response *resp, char *err, size_t err_size);

int agg_api_assessment(PGconn *conn, const struct agg_api_year *q, struct ct_http_response *resp,
                       char *err, size_t err_size);

int agg_api_assessment_page(PGconn *conn, const struct agg_api_year *q,
                            struct ct_http_response *resp, char *err, size_t err_size);

#endif
