/*
 * api_briefings.h - GET /api/series and GET /api/diff (CONTRACT section 11).
 *
 * Each handler parses and checks its own query (400 naming the bad parameter), reads
 * through series.h or diff.h on the connection it is lent, and fills the response (404
 * for a year or target that does not exist, 503 when the database fails). The caller
 * (http_api.c) owns the connection and holds its lock for the call.
 */
#ifndef AGG_API_BRIEFINGS_H
#define AGG_API_BRIEFINGS_H

#include "http.h"

#include <libpq-fe.h>

void agg_api_series(PGconn *conn, const struct ct_http_request *req, struct ct_http_response *resp);
/* `year=` (empty or absent: the latest year with targets). Returns 0, 400 or 503 with
 * the text in `err`. Shared with the pages (changes_page.c). */
unsigned agg_api_year_param(PGconn *conn, const struct ct_http_request *req, int *year, char *err,
                            size_t err_size);

/* `helper`: NULL, or a second pooled connection that reads half of a long listing. */
void agg_api_diff(PGconn *conn, PGconn *helper, const struct ct_http_request *req,
                  struct ct_http_response *resp);

#endif
