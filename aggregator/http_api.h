/*
 * http_api.h - the aggregator's HTTP face (CONTRACT section 6): /metrics, /healthz,
 * /api/progress and the dashboard at /, served by common/http.h on its own threads.
 *
 * A `struct agg_http` owns the HTTP server, the metrics registry, a database connection of
 * its own (libpq connections are not shared between threads; requests take turns on it
 * under a mutex) and, once watching, a thread that follows the collectors' connections on
 * the ROUTER socket through a ZeroMQ socket monitor.
 *
 * The daemon's one call per loop turn, agg_http_observe(), copies the ingest's counters
 * into the metrics; nothing on the HTTP side ever touches the daemon's own state.
 *
 * Invariants: /healthz answers 200 "ok" only after a `SELECT 1` on its own connection
 * succeeded for that request; /api/progress prints exactly `report --format json`'s
 * document (agg_progress_json); bad parameters are a 400 naming the parameter.
 */
#ifndef AGG_HTTP_API_H
#define AGG_HTTP_API_H

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
struct agg_http *agg_http_start(const struct agg_settings *settings, const struct ct_log *log,
                                char *err, size_t err_size);

/* Stops the server and the watcher thread (joining both), closes the connection. Call it
 * from the router's thread while the router is still open (its monitor is stopped here)
 * and before the ZeroMQ context is terminated. NULL is a no-op. */
void agg_http_free(struct agg_http *h);

/* Follows connections to `router` (borrowed; owned by the caller's thread, which must be
 * the one calling this) for citytally_agents_connected. Returns 0, or -1 with `err`. */
int agg_http_watch(struct agg_http *h, void *zmq_ctx, void *router, char *err, size_t err_size);

/* Copies the ingest's cumulative counters into the metrics, and whether the daemon's
 * database session is up. Cheap; call it once per loop turn. */
void agg_http_observe(struct agg_http *h, const struct agg_ingest_stats *stats, bool db_up);

/* For handlers in files of their own (http_*.c): takes the HTTP threads' lock and returns
 * their database connection, or NULL with one line in `err`. Either way the handler calls
 * agg_http_db_release() when done, which drops a connection that broke. */
PGconn *agg_http_db_acquire(struct agg_http *h, char *err, size_t err_size);
void agg_http_db_release(struct agg_http *h);

/* The port served (0 when off); for tests that ask for port 0. */
uint16_t agg_http_port(const struct agg_http *h);

#endif
