/*
 * http.h - the small HTTP server both daemons embed for /metrics, /healthz, the API and
 * the dashboard, over libmicrohttpd.
 *
 * A `struct ct_http_server` owns a routing table (exact path -> handler) and, once
 * started, a listening socket, libmicrohttpd's one polling thread (epoll) and a few worker
 * threads. A route's handler runs on a worker while libmicrohttpd keeps the connection
 * suspended, so it may block (on a database, by its request's deadline); a "fast" route's
 * handler runs on the polling thread itself and must never block: that is what keeps
 * /healthz and /metrics answering while every worker waits. Handlers never run on the
 * daemon's main loop, so whatever they read must be safe to read concurrently (atomics, a
 * mutex, or a database connection of their own).
 *
 * Invariants:
 * - Routes are registered before ct_http_serve() and never change while it runs.
 * - Only GET and HEAD are served (HEAD gets the GET headers without a body). Another
 *   method on a known path is 405 with an Allow header; an unknown path is 404; a request
 *   that carries a body is 413. Header size, connections (total and per client address)
 *   and idle time are bounded, so a slow or hostile client cannot tie the server up.
 * - ct_http_free() stops the server: it returns only after every worker thread has ended
 *   and the socket is closed, so no handler runs after it returns.
 *
 * The listen address is "ADDR:PORT" with a literal IPv4 address or a bracketed IPv6 one
 * ("127.0.0.1:9560", "[::1]:9560", "0.0.0.0:9560", "[::]:9560"), or "off". Port 0 asks the
 * kernel for a free port; ct_http_port() tells which one.
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include "buf.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ct_http_server;
struct MHD_Connection;

#define CT_HTTP_MAX_HEADERS 4

/* What a handler sees of a request. Everything is borrowed for the handler's call. */
struct ct_http_request {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* without the query string, percent-decoding done */
    struct MHD_Connection *conn;
    int64_t deadline_mono_ms; /* answer by then (ct_time_mono_ms clock): limits.deadline_ms
                                 after the request arrived, queueing included */
};

/* What a handler fills in. The server starts it as 200, "text/plain; charset=utf-8",
 * empty body, no extra headers; `body` is then owned by the server. Header names and
 * values must be static strings. A body whose buffer `failed` is answered with 500. */
struct ct_http_response {
    unsigned status;
    const char *content_type;
    struct ct_buf body;
    struct {
        const char *name;
        const char *value;
    } headers[CT_HTTP_MAX_HEADERS];
};

typedef void (*ct_http_handler)(void *ctx, const struct ct_http_request *req,
                                struct ct_http_response *resp);

/* Server limits; ct_http_new() sets the defaults shown (http.c says why). */
#define CT_HTTP_THREADS 4
struct ct_http_limits {
    unsigned threads;         /* CT_HTTP_THREADS: workers for the routes that may block */
    unsigned max_connections; /* 1024 open at once; more are closed at accept */
    unsigned max_per_address; /* 64 connections from one client address */
    unsigned timeout_s;       /* 10: a connection silent this long is closed */
    int64_t deadline_ms;      /* 8000: what a request's deadline_mono_ms allows */
};

/* Parses a listen address. Returns 0 with the socket address filled in, 1 for "off" (the
 * server stays disabled), or -1 with the reason in `err`. */
int ct_http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len,
                         char *err, size_t err_size);

/* A stopped server with no routes. `log` is borrowed and must outlive the server; it
 * receives libmicrohttpd's own complaints at debug level. NULL when out of memory. */
struct ct_http_server *ct_http_new(const struct ct_log *log);

/* Stops the server (see the invariants) and frees it. NULL is a no-op. */
void ct_http_free(struct ct_http_server *server);

/* Mutable limits, for use before ct_http_serve(). */
struct ct_http_limits *ct_http_limits(struct ct_http_server *server);

/* Serves `handler` for `method` ("GET"; HEAD follows GET) on exactly `path`, which must
 * start with '/', on a worker thread (so it may block until req->deadline_mono_ms). `path` is
 * borrowed (a string literal, usually); `ctx` is borrowed and handed to every call. Returns 0, or
 * -1 when the method is not GET, the path is malformed or already routed, the server is running, or
 * memory ran out. */
int ct_http_route(struct ct_http_server *server, const char *method, const char *path,
                  ct_http_handler handler, void *ctx);

/* ct_http_route for a handler that never blocks (reads memory only): it runs on the
 * polling thread, ahead of any queue of slow requests. */
int ct_http_route_fast(struct ct_http_server *server, const char *method, const char *path,
                       ct_http_handler handler, void *ctx);

/* Binds `listen` and starts serving. Returns 0 (also for "off", when nothing starts), or
 * -1 with one line in `err` naming the address and the problem. */
int ct_http_serve(struct ct_http_server *server, const char *listen, char *err, size_t err_size);

/* One entry of a daemon's routing table, for ct_http_new_serving(). */
struct ct_http_route_entry {
    const char *path; /* borrowed, as for ct_http_route() */
    ct_http_handler handler;
    void *ctx; /* borrowed; handed to every call */
    bool fast; /* never blocks: routed with ct_http_route_fast() */
};

/* A daemon's server in one step: ct_http_new(), a GET route for each of `routes` and
 * ct_http_serve() on `listen`, with the default limits. Returns the server (the caller
 * frees it with ct_http_free()), or NULL with one line in `err`. */
struct ct_http_server *ct_http_new_serving(const struct ct_log *log, const char *listen,
                                           const struct ct_http_route_entry *routes,
                                           size_t n_routes, char *err, size_t err_size);

/* Serves `ctx`, a `struct ct_metrics` (metrics.h), as /metrics; never blocks. */
void ct_http_metrics(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp);

/* True between a successful ct_http_serve() of an address and ct_http_free(). */
bool ct_http_running(const struct ct_http_server *server);

/* The bound port (useful after asking for port 0), or 0 when not running. */
uint16_t ct_http_port(const struct ct_http_server *server);

/* The query parameter `name`, percent-decoded, or NULL when absent. Borrowed from the
 * request. */
const char *ct_http_query(const struct ct_http_request *req, const char *name);

/* Checks that every query parameter is one of the NULL-terminated `known` names and none
 * is given twice. Returns 0, or -1 with "unknown parameter 'x'" or "parameter 'x' given
 * more than once" in `err`. */
int ct_http_query_check(const struct ct_http_request *req, const char *const *known, char *err,
                        size_t err_size);

/* Parses the time in query parameter `name`'s decoded `value` as ct_time_parse does, and
 * reads a space before a trailing UTC offset ("...T17:00:00 08:00", HH, HHMM or HH:MM) as
 * the raw '+' it was before form decoding. Every parameter that takes a time should go
 * through here. Returns 0, or -1 with "NAME: 'VALUE': why (use ...)" in `err`. */
int ct_http_parse_time(const char *name, const char *value, int64_t *ms, char *err,
                       size_t err_size);

/* Helpers for handlers: a complete plain-text answer ("not found\n" and the like). */
void ct_http_text(struct ct_http_response *resp, unsigned status, const char *text);

#endif
