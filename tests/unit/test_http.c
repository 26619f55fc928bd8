/* common/http.c over real sockets: a server on 127.0.0.1 (port 0) and a tiny client that
 * speaks raw HTTP/1.1 over TCP, so what is asserted is exactly what goes on the wire. */
#include "http.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 5000

static struct ct_log quiet_log;

static void init_log(void)
{
    ct_log_init(&quiet_log);
    quiet_log.level = CT_LOG_ERROR;
}

static void hello(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    (void)req;
    ct_buf_printf(&resp->body, "hello %s\n", (const char *)ctx);
}

static void echo_query(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    static const char *const known[] = {"year", "as_of", NULL};
    const char *year = ct_http_query(req, "year"), *as_of = ct_http_query(req, "as_of");
    char err[128];

    (void)ctx;
    if (ct_http_query_check(req, known, err, sizeof(err)) != 0) {
        ct_http_text(resp, 400, err);
        return;
    }
    resp->content_type = "application/json";
    ct_buf_printf(&resp->body, "year=[%s] as_of=[%s]", year ? year : "(none)",
                  as_of ? as_of : "(none)");
}

static void out_of_memory(void *ctx, const struct ct_http_request *req,
                          struct ct_http_response *resp)
{
    (void)ctx;
    (void)req;
    ct_buf_puts(&resp->body, "partial");
    resp->body.failed = true;
}

static void custom_headers(void *ctx, const struct ct_http_request *req,
                           struct ct_http_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 503;
    resp->headers[0].name = "Cache-Control";
    resp->headers[0].value = "max-age=5";
    resp->headers[1].name = "X-Reason";
    resp->headers[1].value = "db down";
    ct_buf_puts(&resp->body, "database down\n");
}

static struct ct_http_server *start_server(const char *listen)
{
    char err[256] = "";
    struct ct_http_server *s = ct_http_new(&quiet_log);

    cr_assert_not_null(s);
    cr_assert_eq(ct_http_route(s, "GET", "/hello", hello, "world"), 0);
    cr_assert_eq(ct_http_route(s, "GET", "/q", echo_query, NULL), 0);
    cr_assert_eq(ct_http_route(s, "GET", "/oom", out_of_memory, NULL), 0);
    cr_assert_eq(ct_http_route(s, "GET", "/down", custom_headers, NULL), 0);
    cr_assert_eq(ct_http_serve(s, listen, err, sizeof(err)), 0, "start: %s", err);
    cr_assert(ct_http_running(s));
    cr_assert_neq(ct_http_port(s), 0);
    return s;
}

static int connect_to(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes the connection or the deadline passes. Returns the number
 * of bytes read (the text is NUL-terminated), or -1 on timeout. */
static ssize_t read_until_close(int fd, char *out, size_t out_size)
{
    size_t got = 0;
    int64_t deadline = ct_time_mono_ms() + DEADLINE_MS;

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - ct_time_mono_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        n = recv(fd, out + got, out_size - 1 - got, 0);
        if (n <= 0)
            break; /* EOF, or a reset, which is how a refused connection ends */
        got += (size_t)n;
        if (got == out_size - 1)
            break;
    }
    out[got] = '\0';
    return (ssize_t)got;
}

struct reply {
    int status;
    char head[2048];
    char body[8192];
};

static void parse_reply(const char *raw, struct reply *r)
{
    const char *end = strstr(raw, "\r\n\r\n");

    cr_assert_not_null(end, "no header end in reply: %s", raw);
    cr_assert_eq(sscanf(raw, "HTTP/1.1 %d", &r->status), 1, "bad status line: %s", raw);
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - raw), raw);
    snprintf(r->body, sizeof(r->body), "%s", end + 4);
}

static void request(int family, uint16_t port, const char *raw, struct reply *r)
{
    static char buf[65536];
    int fd = connect_to(family, port);

    cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
    send_all(fd, raw, strlen(raw));
    cr_assert_geq(read_until_close(fd, buf, sizeof(buf)), 0, "no reply within the deadline");
    close(fd);
    parse_reply(buf, r);
}

static void get(uint16_t port, const char *target, struct reply *r)
{
    char raw[1024];

    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
             target);
    request(AF_INET, port, raw, r);
}

TestSuite(http, .init = init_log);

Test(http, routed_get_answers_with_the_handlers_body)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/hello", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello world\n");
    cr_assert_not_null(strcasestr(r.head, "Content-Type: text/plain; charset=utf-8"), "%s", r.head);
    cr_assert_not_null(strcasestr(r.head, "Content-Length: 12"), "%s", r.head);
    cr_assert_not_null(strcasestr(r.head, "Cache-Control: no-store"), "%s", r.head);
    cr_assert_not_null(strcasestr(r.head, "X-Content-Type-Options: nosniff"), "%s", r.head);
    ct_http_free(s);
}

Test(http, unknown_path_is_404)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/nope", &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "not found\n");
    get(ct_http_port(s), "/hello/", &r);
    cr_assert_eq(r.status, 404, "paths match exactly");
    ct_http_free(s);
}

Test(http, post_to_a_known_path_is_405_with_allow)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    request(AF_INET, ct_http_port(s),
            "DELETE /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    cr_assert_eq(r.status, 405);
    cr_assert_not_null(strcasestr(r.head, "Allow: GET, HEAD"), "%s", r.head);
    cr_assert_str_eq(r.body, "method not allowed: use GET\n");
    ct_http_free(s);
}

Test(http, request_with_a_body_is_413_and_never_reaches_the_handler)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    request(AF_INET, ct_http_port(s),
            "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
            "abcde",
            &r);
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(r.body, "request bodies are not accepted\n");
    request(AF_INET, ct_http_port(s),
            "POST /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
            &r);
    cr_assert_eq(r.status, 405, "the method is refused before the body is looked at");
    ct_http_free(s);
}

Test(http, head_sends_the_get_headers_without_a_body)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    request(AF_INET, ct_http_port(s),
            "HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strcasestr(r.head, "Content-Length: 12"), "%s", r.head);
    cr_assert_str_eq(r.body, "");
    ct_http_free(s);
}

Test(http, query_parameters_arrive_percent_decoded)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/q?year=2015&as_of=2015-06-30T17%3A00%3A00%2B08%3A00", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "year=[2015] as_of=[2015-06-30T17:00:00+08:00]");
    cr_assert_not_null(strcasestr(r.head, "Content-Type: application/json"), "%s", r.head);
    get(ct_http_port(s), "/q", &r);
    cr_assert_str_eq(r.body, "year=[(none)] as_of=[(none)]");
    get(ct_http_port(s), "/q?year", &r);
    cr_assert_str_eq(r.body, "year=[] as_of=[(none)]", "a key without '=' is present and empty");
    ct_http_free(s);
}

Test(http, unknown_or_repeated_query_parameters_are_named)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/q?yaer=2015", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "unknown parameter 'yaer'");
    get(ct_http_port(s), "/q?year=2015&year=2016", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "parameter 'year' given more than once");
    ct_http_free(s);
}

Test(http, failed_body_buffer_becomes_500)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/oom", &r);
    cr_assert_eq(r.status, 500);
    cr_assert_str_eq(r.body, "out of memory\n");
    ct_http_free(s);
}

Test(http, handler_status_and_headers_are_sent)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    struct reply r;

    get(ct_http_port(s), "/down", &r);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "database down\n");
    cr_assert_not_null(strcasestr(r.head, "Cache-Control: max-age=5"), "%s", r.head);
    cr_assert_null(strcasestr(r.head, "no-store"), "the handler's Cache-Control wins: %s", r.head);
    cr_assert_not_null(strcasestr(r.head, "X-Reason: db down"), "%s", r.head);
    ct_http_free(s);
}

Test(http, ipv6_loopback_literal_is_served)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct ct_http_server *s;
    struct reply r;

    if (probe < 0)
        cr_skip_test("no IPv6 on this machine");
    close(probe);
    s = start_server("[::1]:0");
    request(AF_INET6, ct_http_port(s),
            "GET /hello HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello world\n");
    ct_http_free(s);
}

Test(http, oversized_headers_are_refused_without_calling_a_handler)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    static char raw[70000];
    struct reply r;
    size_t n;

    n = (size_t)snprintf(raw, sizeof(raw), "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(raw + n, 'a', 60000);
    snprintf(raw + n + 60000, sizeof(raw) - n - 60000, "\r\nConnection: close\r\n\r\n");
    request(AF_INET, ct_http_port(s), raw, &r);
    cr_assert_eq(r.status, 431, "got %d", r.status);
    ct_http_free(s);
}

Test(http, idle_connection_is_closed_after_the_timeout)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256], buf[256];
    int64_t started;
    int fd;

    cr_assert_eq(ct_http_route(s, "GET", "/hello", hello, "x"), 0);
    ct_http_limits(s)->timeout_s = 1;
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    fd = connect_to(AF_INET, ct_http_port(s));
    cr_assert_geq(fd, 0);
    send_all(fd, "GET /hel", 8);
    started = ct_time_mono_ms();
    cr_assert_geq(read_until_close(fd, buf, sizeof(buf)), 0, "still open after %d ms", DEADLINE_MS);
    cr_assert_geq(ct_time_mono_ms() - started, 900);
    close(fd);
    ct_http_free(s);
}

Test(http, connections_beyond_the_per_address_limit_are_dropped)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256], buf[4096];
    int held[2], extra;
    struct reply r;

    cr_assert_eq(ct_http_route(s, "GET", "/hello", hello, "x"), 0);
    ct_http_limits(s)->threads = 1; /* one acceptor, so connections are counted in order */
    ct_http_limits(s)->max_per_address = 2;
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    for (int i = 0; i < 2; i++) {
        held[i] = connect_to(AF_INET, ct_http_port(s));
        cr_assert_geq(held[i], 0);
        send_all(held[i], "GET /hello HTTP/1.1\r\n", 21);
    }
    extra = connect_to(AF_INET, ct_http_port(s));
    cr_assert_geq(extra, 0);
    send(extra, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", 42, MSG_NOSIGNAL);
    cr_assert_eq(read_until_close(extra, buf, sizeof(buf)), 0, "expected a dropped connection");
    close(extra);
    for (int i = 0; i < 2; i++) {
        send_all(held[i], "Host: t\r\nConnection: close\r\n\r\n", 31);
        cr_assert_gt(read_until_close(held[i], buf, sizeof(buf)), 0);
        parse_reply(buf, &r);
        cr_assert_eq(r.status, 200);
        close(held[i]);
    }
    ct_http_free(s);
}

Test(http, stop_closes_the_listening_socket)
{
    struct ct_http_server *s = start_server("127.0.0.1:0");
    uint16_t port = ct_http_port(s);
    int fd;

    ct_http_free(s);
    fd = connect_to(AF_INET, port);
    cr_assert_eq(fd, -1, "port %u still accepts after stop", (unsigned)port);
    cr_assert_eq(errno, ECONNREFUSED);
}

Test(http, busy_port_is_an_error_naming_the_address)
{
    struct ct_http_server *a = start_server("127.0.0.1:0"), *b = ct_http_new(&quiet_log);
    char listen[64], err[256] = "", want[128];

    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)ct_http_port(a));
    cr_assert_eq(ct_http_serve(b, listen, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "http %s: cannot listen: Address already in use", listen);
    cr_assert_str_eq(err, want);
    cr_assert_not(ct_http_running(b));
    ct_http_free(b);
    ct_http_free(a);
}

Test(http, off_starts_nothing)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[64] = "";

    cr_assert_eq(ct_http_serve(s, "off", err, sizeof(err)), 0);
    cr_assert_not(ct_http_running(s));
    cr_assert_eq(ct_http_port(s), 0);
    ct_http_free(s);
    ct_http_free(NULL);
}

Test(http, routes_are_checked)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[64];

    cr_assert_eq(ct_http_route(s, "POST", "/x", hello, NULL), -1);
    cr_assert_eq(ct_http_route(s, "GET", "x", hello, NULL), -1);
    cr_assert_eq(ct_http_route(s, "GET", "/x", hello, NULL), 0);
    cr_assert_eq(ct_http_route(s, "GET", "/x", hello, NULL), -1, "duplicate path");
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(ct_http_route(s, "GET", "/y", hello, NULL), -1, "routes are fixed once running");
    ct_http_free(s);
}

Test(http, listen_addresses_parse_or_name_the_problem)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256];

    cr_assert_eq(ct_http_parse_listen("127.0.0.1:9560", &ss, &len, err, sizeof(err)), 0);
    cr_assert_eq(ss.ss_family, AF_INET);
    cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9560);
    cr_assert_eq(ct_http_parse_listen("[::]:80", &ss, &len, err, sizeof(err)), 0);
    cr_assert_eq(ss.ss_family, AF_INET6);
    cr_assert_eq(len, sizeof(struct sockaddr_in6));
    cr_assert_eq(ct_http_parse_listen("OFF", &ss, &len, err, sizeof(err)), 1);

    cr_assert_eq(ct_http_parse_listen("localhost:9560", &ss, &len, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address 'localhost:9560': not a literal IPv4 address (IPv6 "
                          "goes in brackets, e.g. [::1]:9560)");
    cr_assert_eq(ct_http_parse_listen("127.0.0.1", &ss, &len, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address '127.0.0.1': expected ADDR:PORT or off");
    cr_assert_eq(ct_http_parse_listen("127.0.0.1:65536", &ss, &len, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address '127.0.0.1:65536': port must be a number from 0 to 65535");
    cr_assert_eq(ct_http_parse_listen("127.0.0.1:", &ss, &len, err, sizeof(err)), -1);
    cr_assert_eq(ct_http_parse_listen("::1:9560", &ss, &len, err, sizeof(err)), -1);
    cr_assert_eq(ct_http_parse_listen("[::1]9560", &ss, &len, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address '[::1]9560': expected [IPV6]:PORT");
    cr_assert_eq(ct_http_parse_listen("[1.2.3.4]:1", &ss, &len, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address '[1.2.3.4]:1': not a literal IPv6 address");
    cr_assert_eq(ct_http_parse_listen(":9560", &ss, &len, err, sizeof(err)), -1);
}

Test(http, start_with_a_bad_address_fails_and_stays_stopped)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256] = "";

    cr_assert_eq(ct_http_serve(s, "999.0.0.1:80", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "http address '999.0.0.1:80': not a literal IPv4 address (IPv6 goes "
                          "in brackets, e.g. [::1]:9560)");
    cr_assert_not(ct_http_running(s));
    ct_http_free(s);
}

/* ---- workers, fast routes, deadlines ------------------------------------------------ */

/* A handler that blocks, as one waiting on a database does, until the test opens the gate
 * or the request's deadline passes. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* CLOCK_REALTIME, bounded waits only */
    bool open;
    int inside; /* handlers waiting now */
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void blocking(void *ctx, const struct ct_http_request *req, struct ct_http_response *resp)
{
    bool opened;

    (void)ctx;
    pthread_mutex_lock(&gate.lock);
    gate.inside++;
    pthread_cond_broadcast(&gate.changed);
    while (!gate.open && ct_time_mono_ms() < req->deadline_mono_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&gate.changed, &gate.lock, &ts);
    }
    opened = gate.open;
    gate.inside--;
    pthread_mutex_unlock(&gate.lock);
    ct_buf_puts(&resp->body, opened ? "through\n" : "deadline\n");
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = true;
    pthread_cond_broadcast(&gate.changed);
    pthread_mutex_unlock(&gate.lock);
}

/* Polls until `n` handlers wait at the gate; false after DEADLINE_MS. */
static bool wait_inside(int n)
{
    int64_t deadline = ct_time_mono_ms() + DEADLINE_MS;
    bool reached;

    pthread_mutex_lock(&gate.lock);
    while (gate.inside < n && ct_time_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&gate.changed, &gate.lock, &ts);
    }
    reached = gate.inside >= n;
    pthread_mutex_unlock(&gate.lock);
    return reached;
}

static int send_get(uint16_t port, const char *target)
{
    char raw[256];
    int fd = connect_to(AF_INET, port);

    cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", target);
    send_all(fd, raw, strlen(raw));
    return fd;
}

static void read_reply(int fd, struct reply *r)
{
    static char buf[65536];

    cr_assert_geq(read_until_close(fd, buf, sizeof(buf)), 0, "no reply within the deadline");
    close(fd);
    parse_reply(buf, r);
}

Test(http, fast_route_answers_while_every_worker_is_blocked)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256];
    int slow[2];
    struct reply r;
    int64_t t0;

    cr_assert_eq(ct_http_route(s, "GET", "/slow", blocking, NULL), 0);
    cr_assert_eq(ct_http_route_fast(s, "GET", "/healthz", hello, "fast"), 0);
    ct_http_limits(s)->threads = 2;
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    for (int i = 0; i < 2; i++)
        slow[i] = send_get(ct_http_port(s), "/slow");
    cr_assert(wait_inside(2), "both workers should be in the blocking handler");

    t0 = ct_time_mono_ms();
    get(ct_http_port(s), "/healthz", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello fast\n");
    cr_assert_lt(ct_time_mono_ms() - t0, 1000, "the fast route waited for a worker");

    open_gate();
    for (int i = 0; i < 2; i++) {
        read_reply(slow[i], &r);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, "through\n");
    }
    ct_http_free(s);
}

Test(http, a_request_queued_past_its_deadline_is_503_without_its_handler)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256];
    int first, second;
    struct reply r;

    cr_assert_eq(ct_http_route(s, "GET", "/slow", blocking, NULL), 0);
    ct_http_limits(s)->threads = 1;
    ct_http_limits(s)->deadline_ms = 300;
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    first = send_get(ct_http_port(s), "/slow");
    cr_assert(wait_inside(1));
    second = send_get(ct_http_port(s), "/slow");
    /* The first handler holds the only worker until its own deadline. */
    read_reply(first, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "deadline\n");
    read_reply(second, &r);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "too busy: the request waited past its deadline\n");
    ct_http_free(s);
}

Test(http, stop_answers_every_suspended_request)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    char err[256];
    int first, second;
    struct reply r;

    cr_assert_eq(ct_http_route(s, "GET", "/slow", blocking, NULL), 0);
    ct_http_limits(s)->threads = 1;
    ct_http_limits(s)->deadline_ms = 500;
    cr_assert_eq(ct_http_serve(s, "127.0.0.1:0", err, sizeof(err)), 0, "%s", err);
    first = send_get(ct_http_port(s), "/slow");
    cr_assert(wait_inside(1));
    second = send_get(ct_http_port(s), "/slow");
    /* Returns once the running handler ends (its deadline); the queued one is answered. */
    ct_http_free(s);
    read_reply(first, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "deadline\n");
    read_reply(second, &r);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "the server is stopping\n");
}

Test(http, default_limits_hold_hundreds_of_connections)
{
    struct ct_http_server *s = ct_http_new(&quiet_log);
    const struct ct_http_limits *l = ct_http_limits(s);

    /* What README's operations section promises. */
    cr_assert_eq(l->max_connections, 1024);
    cr_assert_eq(l->max_per_address, 64);
    cr_assert_eq(l->timeout_s, 10);
    cr_assert_eq(l->deadline_ms, 8000);
    ct_http_free(s);
}

/* Issue 14 item 8: "+08:00" sent raw arrives as " 08:00" once the query is decoded. */
Test(http, time_parameter_reads_a_decoded_raw_plus_as_the_utc_offset)
{
    static const char *const same[] = {"2015-06-30T17:00:00+08:00", "2015-06-30T17:00:00 08:00",
                                       "2015-06-30T17:00:00 0800",  "2015-06-30T17:00:00 08",
                                       "2015-06-30T09:00:00Z",      "2015-06-30 17:00:00 08:00"};
    int64_t ms, want = 1435654800000LL; /* 2015-06-30T09:00:00Z */
    char err[256];

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ms = 0;
        cr_assert_eq(ct_http_parse_time("as_of", same[i], &ms, err, sizeof(err)), 0, "%s: %s",
                     same[i], err);
        cr_assert_eq(ms, want, "%s: %lld", same[i], (long long)ms);
    }
    /* A space between date and time stays one (local time, +08:00 by default). */
    cr_assert_eq(ct_http_parse_time("as_of", "2015-06-30 17:00", &ms, err, sizeof(err)), 0);
    cr_assert_eq(ms, want);
    cr_assert_eq(ct_http_parse_time("as_of", "2015-06-30T17:00:00 99:00", &ms, err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "as_of: '2015-06-30T17:00:00 99:00': bad UTC offset (use 2015-06-30 or "
                          "2015-06-30T17:00:00+08:00)");
    cr_assert_eq(ct_http_parse_time("known_at", "2015-06-30 x", &ms, err, sizeof(err)), -1);
    cr_assert(strncmp(err, "known_at: '2015-06-30 x': ", 26) == 0, "%s", err);
}

Test(http, time_parameter_too_long_is_refused_not_truncated)
{
    char value[300], err[256];
    int64_t ms;

    memset(value, ' ', sizeof(value) - 1);
    memcpy(value, "2015-06-30", 10);
    value[sizeof(value) - 1] = '\0';
    cr_assert_eq(ct_http_parse_time("as_of", value, &ms, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "too long"), "%s", err);
}
