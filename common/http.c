#include "http.h"
#include "metrics.h"
#include "text.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_ROUTES 16
#define MAX_PATH 128
#define LISTEN_TEXT_MAX 128
#define MAX_WORKERS 64
#define STOP_GRACE_MS 1000  /* how long stopping waits for answers to leave */
#define LISTEN_BACKLOG 1024 /* a burst of connections waits here rather than in SYN retries */
#define CONNECTION_MEMORY (32 * 1024) /* request line and headers must fit; else 431/414 */

/*
 * Threads: libmicrohttpd runs one internal thread on epoll that reads every request,
 * answers the `fast` routes itself (in-memory handlers: /metrics, /healthz) and writes
 * every response; an idle or half-sent connection costs it a descriptor and its memory
 * pool, never a thread. Every other route may block (on a database), so its handler runs
 * on one of `limits.threads` workers while libmicrohttpd holds the connection suspended:
 * a slow page then delays other slow pages at most, never /healthz.
 */

struct route {
    const char *path;
    ct_http_handler handler;
    void *ctx;
    bool fast; /* never blocks: runs on libmicrohttpd's thread */
};

/* A request on its way through a worker; *req_cls while the connection is suspended. */
struct job {
    struct MHD_Connection *conn;
    const struct route *route;
    const char *method; /* "GET" or "HEAD" (static) */
    int64_t deadline_mono_ms;
    struct ct_http_response resp;
    atomic_bool done; /* resp is complete; the connection has been resumed */
    bool answered;    /* resp handed to libmicrohttpd; freed when the request completes */
    struct job *next;
};

struct ct_http_server {
    const struct ct_log *log;
    struct ct_http_limits limits;
    struct route routes[MAX_ROUTES];
    size_t n_routes;
    struct MHD_Daemon *daemon;
    uint16_t port;

    /* The workers and their queue, guarded by `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t queued;
    struct job *head, *tail;
    bool stopping;            /* no new job is queued; workers answer the queue with 503 and end */
    size_t n_jobs;            /* jobs not yet completed (their answer not yet sent) */
    pthread_cond_t completed; /* CLOCK_MONOTONIC: n_jobs went down */
    pthread_t workers[MAX_WORKERS];
    size_t n_workers;
};

/* A marker for *req_cls: the request has been seen (and answered) once. */
static char request_seen;

static void response_init(struct ct_http_response *resp)
{
    *resp = (struct ct_http_response){200, "text/plain; charset=utf-8", CT_BUF_INIT, {{0}}};
}

static int parse_port(const char *text, uint16_t *out)
{
    unsigned long v = 0;
    size_t n = strlen(text);

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(text[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int ct_http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len,
                         char *err, size_t err_size)
{
    char host[LISTEN_TEXT_MAX], shown[LISTEN_TEXT_MAX];
    const char *port_text;
    uint16_t port;

    ct_text_escape(text, strlen(text), shown, sizeof(shown));
    if (strcasecmp(text, "off") == 0)
        return 1;
    if (strlen(text) >= sizeof(host)) {
        snprintf(err, err_size, "http address '%s' is too long", shown);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, err_size, "http address '%s': expected [IPV6]:PORT", shown);
            return -1;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(err, err_size, "http address '%s': expected ADDR:PORT or off", shown);
            return -1;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    if (parse_port(port_text, &port) != 0) {
        snprintf(err, err_size, "http address '%s': port must be a number from 0 to 65535", shown);
        return -1;
    }
    if (text[0] == '[') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            snprintf(err, err_size, "http address '%s': not a literal IPv6 address", shown);
            return -1;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *addr_len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            snprintf(err, err_size,
                     "http address '%s': not a literal IPv4 address (IPv6 goes in brackets, "
                     "e.g. [::1]:9560)",
                     shown);
            return -1;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *addr_len = sizeof(*a4);
    }
    return 0;
}

static int init_monotonic_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr) != 0)
        return -1;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(cond, &attr) == 0
             ? 0
             : -1;
    pthread_condattr_destroy(&attr);
    return rc;
}

struct ct_http_server *ct_http_new(const struct ct_log *log)
{
    struct ct_http_server *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->queued, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    if (init_monotonic_cond(&s->completed) != 0) {
        pthread_cond_destroy(&s->queued);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    s->log = log;
    /* Why these limits (README, "Operations"): libmicrohttpd's defaults (64 connections,
     * 16 per address, 15 s) let 64 idle sockets take the server offline. Idle connections
     * cost no thread here, only a descriptor and at most CONNECTION_MEMORY each, so 1,024
     * (32 MiB at worst) is cheap and far above what a bureau's dashboards and monitors
     * open. 64 per address keeps one host, however hostile, to a sixteenth of that, and
     * still lets a reverse proxy or a busy NAT through. 10 s of silence ends a connection:
     * a real client sends its request in milliseconds, and a slow-loris pays a socket per
     * 10 s. `threads` workers run the handlers that may block; `deadline_ms` is how long
     * they should take at most (a page then answers within 10 s, or says why not). */
    s->limits.threads = CT_HTTP_THREADS;
    s->limits.max_connections = 1024;
    s->limits.max_per_address = 64;
    s->limits.timeout_s = 10;
    s->limits.deadline_ms = 8000;
    return s;
}

/* Stops the workers: the queue is answered with 503, the job in hand finished (handlers
 * end by their deadline), each connection resumed. Call with no worker or several. */
static void stop_workers(struct ct_http_server *server)
{
    pthread_mutex_lock(&server->lock);
    server->stopping = true;
    pthread_cond_broadcast(&server->queued);
    pthread_mutex_unlock(&server->lock);
    for (size_t i = 0; i < server->n_workers; i++)
        pthread_join(server->workers[i], NULL);
    server->n_workers = 0;
}

/* After stop_workers: every job is resumed; gives libmicrohttpd's thread a moment to send
 * their answers, which MHD_stop_daemon would otherwise cut off. */
static void wait_for_answers(struct ct_http_server *server)
{
    int64_t until_ms = ct_time_mono_ms() + STOP_GRACE_MS;
    struct timespec until = {.tv_sec = until_ms / 1000,
                             .tv_nsec = (long)(until_ms % 1000) * 1000000L};

    pthread_mutex_lock(&server->lock);
    while (server->n_jobs > 0 &&
           pthread_cond_timedwait(&server->completed, &server->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&server->lock);
}

void ct_http_free(struct ct_http_server *server)
{
    if (server == NULL)
        return;
    /* The workers first: libmicrohttpd refuses to stop with a connection still suspended.
     * Then it joins its thread and closes the listening socket. */
    stop_workers(server);
    if (server->daemon != NULL) {
        wait_for_answers(server);
        MHD_stop_daemon(server->daemon);
    }
    pthread_cond_destroy(&server->completed);
    pthread_cond_destroy(&server->queued);
    pthread_mutex_destroy(&server->lock);
    free(server);
}

struct ct_http_limits *ct_http_limits(struct ct_http_server *server)
{
    return &server->limits;
}

static int add_route(struct ct_http_server *server, const char *method, const char *path,
                     ct_http_handler handler, void *ctx, bool fast)
{
    if (server->daemon != NULL || strcmp(method, "GET") != 0 || path[0] != '/' ||
        strlen(path) >= MAX_PATH || server->n_routes == MAX_ROUTES || handler == NULL)
        return -1;
    for (size_t i = 0; i < server->n_routes; i++) {
        if (strcmp(server->routes[i].path, path) == 0)
            return -1;
    }
    server->routes[server->n_routes++] = (struct route){path, handler, ctx, fast};
    return 0;
}

int ct_http_route(struct ct_http_server *server, const char *method, const char *path,
                  ct_http_handler handler, void *ctx)
{
    return add_route(server, method, path, handler, ctx, false);
}

int ct_http_route_fast(struct ct_http_server *server, const char *method, const char *path,
                       ct_http_handler handler, void *ctx)
{
    return add_route(server, method, path, handler, ctx, true);
}

bool ct_http_running(const struct ct_http_server *server)
{
    return server->daemon != NULL;
}

uint16_t ct_http_port(const struct ct_http_server *server)
{
    return server->daemon != NULL ? server->port : 0;
}

void ct_http_text(struct ct_http_response *resp, unsigned status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    ct_buf_reset(&resp->body);
    ct_buf_puts(&resp->body, text);
}

const char *ct_http_query(const struct ct_http_request *req, const char *name)
{
    const char *value = NULL;
    size_t len = 0;

    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    /* "?year" without '=' is present with no value: report it as empty, not absent. */
    return value != NULL ? value : "";
}

struct query_check {
    const char *const *known;
    unsigned seen[16];
    char *err;
    size_t err_size;
    bool failed;
};

static enum MHD_Result check_one_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_check *qc = cls;
    char shown[64];

    (void)kind;
    (void)value;
    for (size_t i = 0; qc->known[i] != NULL && i < 16; i++) {
        if (strcmp(qc->known[i], key) != 0)
            continue;
        if (++qc->seen[i] > 1) {
            snprintf(qc->err, qc->err_size, "parameter '%s' given more than once", key);
            qc->failed = true;
            return MHD_NO;
        }
        return MHD_YES;
    }
    ct_text_escape(key, strlen(key), shown, sizeof(shown));
    snprintf(qc->err, qc->err_size, "unknown parameter '%s'", shown);
    qc->failed = true;
    return MHD_NO;
}

int ct_http_query_check(const struct ct_http_request *req, const char *const *known, char *err,
                        size_t err_size)
{
    struct query_check qc = {known, {0}, err, err_size, false};

    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_one_arg, &qc);
    return qc.failed ? -1 : 0;
}

/* A time from a query string, with a '+' that was sent raw put back: form encoding makes
 * it a space, so "2015-06-30T17:00:00+08:00" typed into a URL arrives as "...00 08:00".
 * Only a space before a trailing offset (HH, HHMM or HH:MM) after a time of day counts;
 * "2015-06-30 17:00" keeps its space. Writes the result to `out`. */
static void restore_offset_plus(const char *value, char *out, size_t out_size)
{
    const char *space = strrchr(value, ' '), *o;
    size_t len;

    snprintf(out, out_size, "%s", value);
    if (space == NULL || space == value || (size_t)(space - value) >= out_size ||
        !isdigit((unsigned char)space[-1]) || memchr(value, ':', (size_t)(space - value)) == NULL)
        return;
    o = space + 1;
    len = strlen(o);
    if (len >= 2 && isdigit((unsigned char)o[0]) && isdigit((unsigned char)o[1]) &&
        (len == 2 || (len == 4 && strspn(o + 2, "0123456789") == 2) ||
         (len == 5 && o[2] == ':' && strspn(o + 3, "0123456789") == 2)))
        out[space - value] = '+';
}

int ct_http_parse_time(const char *name, const char *value, int64_t *ms, char *err, size_t err_size)
{
    char fixed[128], why[128] = "too long";

    restore_offset_plus(value, fixed, sizeof(fixed));
    if (strlen(value) >= sizeof(fixed) || ct_time_parse(fixed, ms, why, sizeof(why)) != 0) {
        char shown[64];
        ct_text_escape(value, strlen(value), shown, sizeof(shown));
        snprintf(err, err_size, "%s: '%s': %s (use 2015-06-30 or 2015-06-30T17:00:00+08:00)", name,
                 shown, why);
        return -1;
    }
    return 0;
}

__attribute__((format(printf, 2, 0))) static void log_from_mhd(void *cls, const char *fmt,
                                                               va_list ap)
{
    const struct ct_http_server *server = cls;
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    ct_log_debug(server->log, "http", "libmicrohttpd: %s", line);
}

static const struct route *find_route(const struct ct_http_server *server, const char *path)
{
    for (size_t i = 0; i < server->n_routes; i++) {
        if (strcmp(server->routes[i].path, path) == 0)
            return &server->routes[i];
    }
    return NULL;
}

static bool has_body(struct MHD_Connection *conn)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL)
        return true;
    return length != NULL && strspn(length, "0") != strlen(length);
}

/* Sends `resp`, taking its body. Returns what libmicrohttpd's access handler must. */
static enum MHD_Result send_response(struct MHD_Connection *conn, struct ct_http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret = MHD_NO;
    bool cache_control = false;

    if (resp->body.failed)
        ct_http_text(resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    if (resp->body.failed || resp->body.len == 0) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_FREE);
        if (r != NULL) /* the response owns the bytes now */
            resp->body = (struct ct_buf)CT_BUF_INIT;
    }
    if (r == NULL)
        goto out;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type) != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES)
        goto out;
    for (size_t i = 0; i < CT_HTTP_MAX_HEADERS && resp->headers[i].name != NULL; i++) {
        if (MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) != MHD_YES)
            goto out;
        if (strcasecmp(resp->headers[i].name, "Cache-Control") == 0)
            cache_control = true;
    }
    if (!cache_control && MHD_add_response_header(r, "Cache-Control", "no-store") != MHD_YES)
        goto out;
    ret = MHD_queue_response(conn, resp->status, r);
out:
    if (r != NULL)
        MHD_destroy_response(r);
    ct_buf_free(&resp->body);
    return ret;
}

static void *worker_main(void *arg)
{
    struct ct_http_server *server = arg;

    for (;;) {
        struct job *job;
        bool stopping;

        pthread_mutex_lock(&server->lock);
        while (server->head == NULL && !server->stopping)
            pthread_cond_wait(&server->queued, &server->lock);
        job = server->head;
        if (job != NULL) {
            server->head = job->next;
            if (server->head == NULL)
                server->tail = NULL;
        }
        stopping = server->stopping;
        pthread_mutex_unlock(&server->lock);
        if (job == NULL)
            break;

        if (stopping) {
            ct_http_text(&job->resp, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping\n");
        } else if (ct_time_mono_ms() >= job->deadline_mono_ms) {
            ct_http_text(&job->resp, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "too busy: the request waited past its deadline\n");
        } else {
            struct ct_http_request req = {job->method, job->route->path, job->conn,
                                          job->deadline_mono_ms};
            job->route->handler(job->route->ctx, &req, &job->resp);
        }
        /* libmicrohttpd calls on_request again once resumed; `done` tells it why. */
        atomic_store(&job->done, true);
        MHD_resume_connection(job->conn);
    }
    return NULL;
}

/* Hands a request to the workers and suspends its connection. Returns false when the
 * server is stopping (nothing queued). */
static bool queue_job(struct ct_http_server *server, struct job *job)
{
    bool queued = false;

    pthread_mutex_lock(&server->lock);
    if (!server->stopping && server->n_workers > 0) {
        server->n_jobs++;
        /* Suspended before a worker can see it, so the resume always follows. */
        MHD_suspend_connection(job->conn);
        if (server->tail != NULL)
            server->tail->next = job;
        else
            server->head = job;
        server->tail = job;
        pthread_cond_signal(&server->queued);
        queued = true;
    }
    pthread_mutex_unlock(&server->lock);
    return queued;
}

/* The end of a request: a job's answer has gone out, or its connection closed. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct ct_http_server *server = cls;

    (void)conn;
    (void)code;
    if (*req_cls != NULL && *req_cls != &request_seen) {
        struct job *job = *req_cls;
        ct_buf_free(&job->resp.body);
        free(job);
        *req_cls = NULL;
        pthread_mutex_lock(&server->lock);
        server->n_jobs--;
        pthread_cond_broadcast(&server->completed);
        pthread_mutex_unlock(&server->lock);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct ct_http_server *server = cls;
    struct ct_http_response resp;
    const struct route *route;
    struct job *job;

    (void)version;
    (void)upload_data;
    response_init(&resp);
    if (*req_cls == &request_seen) {
        /* Answered on the first call; any body that still arrives is dropped. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*req_cls != NULL) {
        /* Back from a worker; on_completed frees the job. */
        job = *req_cls;
        *upload_data_size = 0;
        if (!atomic_load(&job->done) || job->answered)
            return MHD_YES;
        job->answered = true;
        ct_log_debug(server->log, "http", "%s %s -> %u", method, url, job->resp.status);
        return send_response(conn, &job->resp);
    }
    *req_cls = &request_seen;

    route = find_route(server, url);
    if (route == NULL) {
        ct_http_text(&resp, MHD_HTTP_NOT_FOUND, "not found\n");
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        ct_http_text(&resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
        resp.headers[0].name = "Allow";
        resp.headers[0].value = "GET, HEAD";
    } else if (has_body(conn)) {
        ct_http_text(&resp, MHD_HTTP_CONTENT_TOO_LARGE, "request bodies are not accepted\n");
    } else if (route->fast) {
        struct ct_http_request req = {method, url, conn,
                                      ct_time_mono_ms() + server->limits.deadline_ms};
        route->handler(route->ctx, &req, &resp);
    } else if ((job = calloc(1, sizeof(*job))) == NULL) {
        ct_http_text(&resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    } else {
        job->conn = conn;
        job->route = route;
        job->method = strcmp(method, "GET") == 0 ? "GET" : "HEAD";
        job->deadline_mono_ms = ct_time_mono_ms() + server->limits.deadline_ms;
        response_init(&job->resp);
        atomic_init(&job->done, false);
        *req_cls = job;
        if (queue_job(server, job))
            return MHD_YES;
        *req_cls = &request_seen;
        free(job);
        ct_http_text(&resp, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is stopping\n");
    }
    ct_log_debug(server->log, "http", "%s %s -> %u", method, url, resp.status);
    return send_response(conn, &resp);
}

static int bind_listen(const struct sockaddr_storage *addr, socklen_t addr_len, const char *shown,
                       int *fd_out, uint16_t *port_out, char *err, size_t err_size)
{
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    int fd, one = 1;

    fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, err_size, "http %s: socket: %s", shown, strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)addr, addr_len) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        snprintf(err, err_size, "http %s: cannot listen: %s", shown, strerror(errno));
        close(fd);
        return -1;
    }
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *fd_out = fd;
    return 0;
}

int ct_http_serve(struct ct_http_server *server, const char *listen_text, char *err,
                  size_t err_size)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char shown[LISTEN_TEXT_MAX];
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    int fd = -1, rc;
    unsigned n_workers;
    uint16_t port = 0;

    if (server->daemon != NULL) {
        snprintf(err, err_size, "http: already running");
        return -1;
    }
    rc = ct_http_parse_listen(listen_text, &addr, &addr_len, err, err_size);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
    ct_text_escape(listen_text, strlen(listen_text), shown, sizeof(shown));
    if (bind_listen(&addr, addr_len, shown, &fd, &port, err, err_size) != 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server->stopping = false;
    n_workers = server->limits.threads == 0 ? 1 : server->limits.threads;
    if (n_workers > MAX_WORKERS)
        n_workers = MAX_WORKERS;
    for (unsigned i = 0; i < n_workers; i++) {
        int failed = pthread_create(&server->workers[i], NULL, worker_main, server);
        if (failed != 0) {
            snprintf(err, err_size, "http %s: cannot start a worker thread: %s", shown,
                     strerror(failed));
            stop_workers(server);
            close(fd);
            return -1;
        }
        server->n_workers++;
    }
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, log_from_mhd, server,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_CONNECTION_LIMIT, server->limits.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, server->limits.max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, server->limits.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (server->daemon == NULL) {
        /* libmicrohttpd closes a socket it was given only once it has started. */
        stop_workers(server);
        close(fd);
        snprintf(err, err_size,
                 "http %s: libmicrohttpd could not start (its reason is logged at debug level)",
                 shown);
        return -1;
    }
    server->port = port;
    ct_log_info(server->log, "http", "serving on %s (port %u)", shown, (unsigned)port);
    return 0;
}

struct ct_http_server *ct_http_new_serving(const struct ct_log *log, const char *listen,
                                           const struct ct_http_route_entry *routes,
                                           size_t n_routes, char *err, size_t err_size)
{
    struct ct_http_server *server = ct_http_new(log);

    if (server == NULL) {
        snprintf(err, err_size, "http: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n_routes; i++) {
        const struct ct_http_route_entry *r = &routes[i];
        if ((r->fast ? ct_http_route_fast : ct_http_route)(server, "GET", r->path, r->handler,
                                                           r->ctx) != 0) {
            snprintf(err, err_size, "http: cannot route %s", r->path);
            goto fail;
        }
    }
    if (ct_http_serve(server, listen, err, err_size) != 0)
        goto fail;
    return server;
fail:
    ct_http_free(server);
    return NULL;
}

void ct_http_metrics(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    (void)req;
    resp->content_type = CT_METRICS_CONTENT_TYPE;
    ct_metrics_render(ctx, &resp->body);
}
