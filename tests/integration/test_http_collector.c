/*
 * test_http_collector.c - the collector's /metrics and /healthz (CONTRACT section 6) on
 * the real binaries: citytally-collector delivering to citytally-aggregator and
 * PostgreSQL, read over real TCP.
 *
 * /healthz must turn 503 while the oldest undelivered figure is older than stale_after
 * (the aggregator is down) and 200 again once it is acknowledged; /metrics must say so in
 * numbers and parse as Prometheus text (Debian's prometheus_client, check_prom.py).
 */
#include "aggtest.h"
#include "httpget.h"
#include "proc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENT "erqi-http"
#define DISTRICT "erqi"

/* The value of the sample line "NAME VALUE" in a Prometheus text, or NAN. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

/* Polls GET `target` until `ok` holds for the reply or `timeout_ms` passes. */
static bool poll_get(uint16_t port, const char *target, bool (*ok)(const struct http_reply *),
                     int timeout_ms, struct http_reply *last)
{
    long long deadline = proc_now_ms() + timeout_ms;

    for (;;) {
        http_reply_free(last);
        if (http_get(port, target, last) == 0 && ok(last))
            return true;
        if (proc_now_ms() >= deadline)
            return false;
        poll(NULL, 0, 50);
    }
}

static bool healthy(const struct http_reply *r)
{
    return r->status == 200;
}
static bool stale(const struct http_reply *r)
{
    return r->status == 503;
}
static bool welcomed(const struct http_reply *r)
{
    return metric(r->body, "citytally_collector_connected") == 1;
}
static bool one_pending(const struct http_reply *r)
{
    return metric(r->body, "citytally_outbox_pending") == 1;
}
static bool delivered(const struct http_reply *r)
{
    return metric(r->body, "citytally_outbox_pending") == 0 &&
           metric(r->body, "citytally_updates_acked_total") == 1;
}

static void start_collector(struct proc *col, const struct aggtest *t, const char *state,
                            const char *http)
{
    char log_path[512];
    char *argv[] = {
        "citytally-collector", "--agent",     AGENT,         "--district", DISTRICT, "--connect",
        (char *)t->endpoint,   "--state-dir", (char *)state, "--insecure", "--http", (char *)http,
        "--stale-after",       "1s",          "--log-level", "debug",      NULL};

    snprintf(log_path, sizeof(log_path), "%s/collector.log", t->dir);
    proc_start(col, log_path, argv);
}

Test(http_collector, healthz_turns_503_while_figures_are_stale_and_200_once_acked, .timeout = 120)
{
    struct aggtest t = {0};
    struct proc col = {0};
    struct http_reply r = {0};
    char state[512], out[16384];
    uint16_t port;

    t.extra_args[0] = NULL;
    aggtest_start(&t, "http_collector");
    aggtest_add_agent(&t, AGENT, DISTRICT);
    snprintf(state, sizeof(state), "%s/state", t.dir);
    start_collector(&col, &t, state, "127.0.0.1:0");
    cr_assert(proc_wait_log(&col, "ready:", 20000), "collector not ready; see %s", col.log_path);
    port = http_port_from_log(col.log_path);
    cr_assert_neq(port, 0, "no 'serving on' line in %s", col.log_path);

    /* Connected and empty: healthy. */
    cr_assert(poll_get(port, "/healthz", healthy, 5000, &r), "got %d: %s", r.status, r.body);
    cr_assert_str_eq(r.body, "ok\n");
    cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    cr_assert(poll_get(port, "/metrics", welcomed, 15000, &r), "never welcomed:\n%s", r.body);

    /* The aggregator goes away; a figure waits longer than stale_after (1 s). */
    cr_assert(proc_stop(&t.proc, SIGTERM, 10000));
    {
        char *submit[] = {"citytally-collector",
                          "submit",
                          "hightech_output",
                          "12.5",
                          "--state-dir",
                          state,
                          "--period",
                          "2015",
                          NULL};
        cr_assert_eq(proc_run(submit, out, sizeof(out)), 0, "submit: %s", out);
    }
    cr_assert(poll_get(port, "/metrics", one_pending, 10000, &r), "pending never 1:\n%s", r.body);
    cr_assert(poll_get(port, "/healthz", stale, 10000, &r), "never stale: %d %s", r.status, r.body);
    cr_assert(strncmp(r.body, "stale: the oldest undelivered update was queued at ", 51) == 0, "%s",
              r.body);
    cr_assert_not_null(strstr(r.body, "longer than stale_after (1 s); last ack: never\n"), "%s",
                       r.body);
    cr_assert(poll_get(port, "/metrics", one_pending, 1000, &r));
    cr_assert_geq(metric(r.body, "citytally_outbox_oldest_age_seconds"), 1.0, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_last_ack_timestamp_seconds"), 0);

    /* Back: the figure is delivered, acknowledged, and health returns. */
    aggtest_restart(&t);
    cr_assert(poll_get(port, "/metrics", delivered, 30000, &r), "not delivered:\n%s", r.body);
    /* One endpoint: the aggregator's restart is a reconnection, not a move. */
    cr_assert_eq(metric(r.body, "citytally_collector_moves_total"), 0, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_outbox_oldest_age_seconds"), 0);
    cr_assert_gt(metric(r.body, "citytally_last_ack_timestamp_seconds"), 1.4e9);
    cr_assert(poll_get(port, "/healthz", healthy, 5000, &r), "still %d: %s", r.status, r.body);
    cr_assert_eq(aggtest_wait_scalar(&t, "SELECT count(*) FROM updates", 1, 5000), 1);

    /* The exposition parses with a real Prometheus parser. */
    cr_assert(poll_get(port, "/metrics", delivered, 1000, &r));
    cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    cr_assert_eq(http_check_prometheus(r.body, out, sizeof(out)), 0, "%s\n---\n%s", out, r.body);
    cr_assert_not_null(strstr(out, "citytally_outbox_pending 0\n"), "%s", out);
    cr_assert_not_null(strstr(out, "citytally_updates_acked_total 1\n"), "%s", out);

    /* Only the collector's two endpoints exist. */
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/api/progress", &r), 0);
    cr_assert_eq(r.status, 404);

    http_reply_free(&r);
    cr_assert(proc_stop(&col, SIGTERM, 10000));
    cr_assert_eq(col.exit_status, 0, "collector exit %d; see %s", col.exit_status, col.log_path);
    aggtest_stop(&t);
}

Test(http_collector, a_busy_http_port_stops_the_collector_with_a_clear_error, .timeout = 60)
{
    struct aggtest t = {0};
    struct proc col = {0};
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    char state[512], http[64], want[128], log_text[8192] = "";
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    FILE *f;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(holder >= 0 && bind(holder, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              listen(holder, 1) == 0 && getsockname(holder, (struct sockaddr *)&a, &len) == 0);
    snprintf(http, sizeof(http), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));

    aggtest_start(&t, "http_collector_busy");
    snprintf(state, sizeof(state), "%s/state", t.dir);
    start_collector(&col, &t, state, http);
    cr_assert(proc_wait(&col, 10000), "the collector kept running on a busy port");
    cr_assert_eq(col.exit_status, 1);
    f = fopen(col.log_path, "r");
    cr_assert_not_null(f);
    log_text[fread(log_text, 1, sizeof(log_text) - 1, f)] = '\0';
    fclose(f);
    snprintf(want, sizeof(want), "http %s: cannot listen: Address already in use", http);
    cr_assert_not_null(strstr(log_text, want), "log lacks '%s':\n%s", want, log_text);
    close(holder);
    aggtest_stop(&t);
}
