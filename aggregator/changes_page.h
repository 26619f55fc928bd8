/*
 * changes_page.h - GET /changes: the dashboard's "since the last month end" view.
 *
 * For year Y (year=, default the latest with targets) and a time TO (as_of=, default
 * now), the page lists each target whose figure as of TO differs from the figure as of
 * the previous month end (from=, to override it), before -> after and the delta, and
 * under it the updates behind the change (diff.h: citytally_diff_updates), each with its
 * unit, indicator, operation, value, contribution, observed and received times and note.
 * Server-rendered HTML with its style inline: no script, nothing from another host.
 *
 * The caller (http_api.c) owns the connection and holds its lock for the call.
 */
#ifndef AGG_CHANGES_PAGE_H
#define AGG_CHANGES_PAGE_H

#include "http.h"

#include <libpq-fe.h>
#include <stdint.h>

/* `helper`: NULL, or a second pooled connection for the diff (agg_diff_load). */
void agg_changes_page(PGconn *conn, PGconn *helper, const struct ct_http_request *req,
                      struct ct_http_response *resp);

/* The last millisecond before the month (UTC+8) that contains `ms` began: the previous
 * month end, as a bare date reads. Exposed for tests. */
int64_t agg_changes_previous_month_end(int64_t ms);

#endif
