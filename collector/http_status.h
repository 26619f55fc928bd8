/*
 * http_status.h - the collector's HTTP face (CONTRACT section 6): /metrics and /healthz,
 * served by common/http.h on its own threads when `http` is not "off".
 *
 * A `struct col_http` owns the HTTP server and the metrics registry. The HTTP threads
 * never touch the outbox, the sender or the spool: the daemon's thread reads them in
 * col_http_observe() and leaves plain atomic values behind, which the handlers read.
 *
 * /healthz answers 503 while the oldest undelivered update has waited longer than
 * [health] stale_after (the figures are not reaching the bureau), or when the outbox could
 * not be read at the last observation; 200 "ok" otherwise. The age is computed at request
 * time, so a daemon that stopped observing still turns unhealthy.
 */
#ifndef COL_HTTP_STATUS_H
#define COL_HTTP_STATUS_H

#include "col_settings.h"
#include "log.h"
#include "outbox.h"
#include "sender.h"
#include "spool.h"

#include <stddef.h>
#include <stdint.h>

struct col_http;

/* Starts serving on settings->http (nothing is served for "off", but the object works).
 * `log` is borrowed and must outlive the result. Returns NULL with one line in `err`
 * when the address cannot be served. */
struct col_http *col_http_new(const struct col_settings *settings, const struct ct_log *log,
                              char *err, size_t err_size);

/* Stops the server (joining its threads) and frees everything. NULL is a no-op. */
void col_http_free(struct col_http *h);

/* Reads the outbox's statistics (one SQLite query) and the sender's and spool's counters
 * (either may be NULL) into the metrics; takes stale_after from `settings`, so a SIGHUP's
 * new value applies. Call from the daemon's thread, every second or so. */
void col_http_observe(struct col_http *h, const struct col_settings *settings,
                      struct col_outbox *ob, const struct col_sender *sender,
                      const struct col_spool *spool);

/* The port served (0 when off); for tests that ask for port 0. */
uint16_t col_http_port(const struct col_http *h);

#endif
