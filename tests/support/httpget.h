/*
 * httpget.h - a tiny HTTP/1.1 client for integration tests: one GET over a real TCP
 * socket, "Connection: close", the whole reply read into memory.
 *
 * It is deliberately independent of common/http.c (the server under test): it writes the
 * request bytes itself and parses only the status line, Content-Type and the body.
 */
#ifndef CT_HTTPGET_H
#define CT_HTTPGET_H

#include <stddef.h>
#include <stdint.h>

struct http_reply {
    int status;
    char content_type[128];
    char *body; /* NUL-terminated; owned, free with http_reply_free() */
    size_t body_len;
};

/* GETs `target` ("/metrics", "/api/progress?year=2015") from 127.0.0.1:`port`. Returns 0
 * with `r` filled, or -1 when nothing answered (connection refused, timeout after 10 s). */
int http_get(uint16_t port, const char *target, struct http_reply *r);

void http_reply_free(struct http_reply *r);

/* The port a daemon logged with "serving on ADDR (port N)" in the log file at `path`, or
 * 0 when it has not (yet). */
uint16_t http_port_from_log(const char *path);

/* Writes `text` to a file and runs tests/support/check_prom.py on it with Debian's
 * python3; returns its exit status, its output in `out`. */
int http_check_prometheus(const char *text, char *out, size_t out_size);

#endif
