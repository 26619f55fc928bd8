/*
 * http_api.h - the aggregator's HTTP face (CONTRACT section 6): /metrics, /healthz,
 * /api/progress and the dashboard at /, served by common/http.h on its own threads; and
 * a briefing's documents (section 11): /api/progress.xlsx and /bulletin.
 *
 * A `struct agg_http` owns the HTTP server, the metrics registry, a pool of database
 * connections for the pages (db.h: one per HTTP worker, every statement bounded by the
 * request's deadline) and the health state with its probe thread (health.h). The count
 * of collectors' connections comes from the ingest's watcher (ingest.h).
 *
 * A page handler (registered with ct_http_route and `h` as its ctx) takes a connection
 * with agg_http_page_conn() and gives it back with agg_http_page_done(); every statement
 * on it goes through agg_db_query (progress.h, report.h do), so a hung server costs a page
 * its deadline at most, never a thread for ever. Times in a query string are parsed with
 * ct_http_parse_time().
 *
 * The daemon's one call per loop turn, agg_http_observe(), copies the ingest's counters
 * into the metrics; nothing on the HTTP side ever touches the daemon's own state.
 *
 * Invariants: /metrics and /healthz never touch the database (fast routes, http.h);
 * /healthz answers 200 "ok" only while the probe answered within AGG_HEALTH_STALE_MS, the
 * daemon's session is up and the last commit did not fail, else 503 with the reason;
 * every page answers within the request's deadline, or 503 with the reason;
 * /api/progress prints exactly `report --format json`'s document (agg_progress_json); bad
 * parameters are a 400 naming the parameter.
 */
#ifndef AGG_HTTP_API_H
#define AGG_HTTP_API_H

#include "http.h"
#include "ingest.h"
#include "log.h"
#include "settings.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_http;

/* Starts serving on settings->http (nothing is served for "off", but the object works).
 * `settings` is copied; `log` is borrowed and must outlive the result. Returns NULL with
 * one line in `err` when the address cannot be served. */
struct agg_http *agg_http_new(const struct agg_settings *settings, const struct ct_log *log,
                              char *err, size_t err_size);

/* Stops the server (joining its threads) and closes the connections. Free it before the
 * ingest it counts connections of. NULL is a no-op. */
void agg_http_free(struct agg_http *h);

/* From now on citytally_agents_connected is agg_ingest_connections(in) (0 before). `in` is
 * borrowed and must outlive the server: free `h` first. */
void agg_http_count_connections(struct agg_http *h, const struct agg_ingest *in);

/* Copies the ingest's cumulative counters into the metrics, and whether the daemon's
 * database session is up. Cheap; call it once per loop turn. */
void agg_http_observe(struct agg_http *h, const struct agg_ingest_stats *stats, bool db_up);

/* For page handlers, on the HTTP workers: a pooled connection whose statements end by
 * the request's deadline, or NULL with the 503's text in `err` (at once while the health
 * probe sees the database down). Give it back with agg_http_page_done(), NULL included. */
PGconn *agg_http_page_conn(struct agg_http *h, const struct ct_http_request *req, char *err,
                           size_t err_size);
void agg_http_page_done(struct agg_http *h, PGconn *conn);

/* The port served (0 when off); for tests that ask for port 0. */
uint16_t agg_http_port(const struct agg_http *h);

#endif
