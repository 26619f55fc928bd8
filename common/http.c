#include "http.h"
#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_ROUTES 16
#define MAX_PATH 128
#define LISTEN_TEXT_MAX 128
#define LISTEN_BACKLOG 64
#define CONNECTION_MEMORY (32 * 1024) /* request line and headers must fit; else 431/414 */

struct route {
    const char *path;
    ct_http_handler handler;
    void *ctx;
};

struct ct_http_server {
    const struct ct_log *log;
    struct ct_http_limits limits;
    struct route routes[MAX_ROUTES];
    size_t n_routes;
    struct MHD_Daemon *daemon;
    uint16_t port;
};

/* A marker for *req_cls: the request has been seen (and answered) once. */
static char request_seen;

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

struct ct_http_server *ct_http_new(const struct ct_log *log)
{
    struct ct_http_server *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->log = log;
    s->limits.threads = 2;
    s->limits.max_connections = 64;
    s->limits.max_per_address = 16;
    s->limits.timeout_s = 15;
    return s;
}

void ct_http_free(struct ct_http_server *server)
{
    if (server == NULL)
        return;
    /* Joins the worker threads and closes the listening socket. */
    if (server->daemon != NULL)
        MHD_stop_daemon(server->daemon);
    free(server);
}

struct ct_http_limits *ct_http_limits(struct ct_http_server *server)
{
    return &server->limits;
}

int ct_http_route(struct ct_http_server *server, const char *method, const char *path,
                  ct_http_handler handler, void *ctx)
{
    if (server->daemon != NULL || strcmp(method, "GET") != 0 || path[0] != '/' ||
        strlen(path) >= MAX_PATH || server->n_routes == MAX_ROUTES || handler == NULL)
        return -1;
    for (size_t i = 0; i < server->n_routes; i++) {
        if (strcmp(server->routes[i].path, path) == 0)
            return -1;
    }
    server->routes[server->n_routes++] = (struct route){path, handler, ctx};
    return 0;
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct ct_http_server *server = cls;
    struct ct_http_response resp = {200, "text/plain; charset=utf-8", CT_BUF_INIT, {{0}}};
    struct ct_http_request req = {method, url, conn};
    const struct route *route;
    unsigned status;

    (void)version;
    (void)upload_data;
    if (*req_cls != NULL) {
        /* Answered on the first call; any body that still arrives is dropped. */
        *upload_data_size = 0;
        return MHD_YES;
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
    } else {
        route->handler(route->ctx, &req, &resp);
    }
    status = resp.status;
    ct_log_debug(server->log, "http", "%s %s -> %u", method, url, status);
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

int ct_http_start(struct ct_http_server *server, const char *listen_text, char *err,
                  size_t err_size)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char shown[LISTEN_TEXT_MAX];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    int fd = -1, rc;
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
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, log_from_mhd, server,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
        server->limits.threads > 1 ? server->limits.threads : 0, MHD_OPTION_CONNECTION_LIMIT,
        server->limits.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        server->limits.max_per_address, MHD_OPTION_CONNECTION_TIMEOUT, server->limits.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (server->daemon == NULL) {
        /* libmicrohttpd closes a socket it was given only once it has started. */
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
