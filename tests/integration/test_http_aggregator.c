/*
 * test_http_aggregator.c - the aggregator's HTTP endpoints (CONTRACT section 6) on the real
 * daemon, a real PostgreSQL and real sockets: a test client plays the collector over
 * ZeroMQ, a raw HTTP client (tests/support/httpget.c) reads what the daemon serves.
 *
 * Issue 14: /healthz under failing commits, 500 idle sockets from 40 loopback addresses,
 * a raw '+' in as_of, and (suite http_frozen_db, on a cluster of its own) a 20 s SIGSTOP
 * of every PostgreSQL process. The figures those tests measure go to stderr.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"
#include "wireclient.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL /* 2015-06-30T12:00:00+08:00 */
#define REPLY_MS 10000

static struct aggtest agg;
static void *zctx;
static uint16_t port;

/* The health probe checks the database on its own thread, a moment after the server is
 * up ("not checked yet" until then): every test starts from a checked, healthy daemon. */
static void wait_healthy(void)
{
    struct http_reply r = {0};
    long long deadline = proc_now_ms() + REPLY_MS;

    do {
        http_reply_free(&r);
        cr_assert_eq(http_get(port, "/healthz", &r), 0, "no answer to GET /healthz");
    } while (r.status != 200 && proc_now_ms() < deadline && poll(NULL, 0, 20) == 0);
    cr_assert_eq(r.status, 200, "never healthy: %s", r.body);
    http_reply_free(&r);
}

static void setup(void)
{
    agg.extra_args[0] = "--http";
    agg.extra_args[1] = "127.0.0.1:0";
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, "http_aggregator");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    zctx = zmq_ctx_new();
    cr_assert_not_null(zctx);
    port = http_port_from_log(agg.proc.log_path);
    cr_assert_neq(port, 0, "no 'serving on' line in %s", agg.proc.log_path);
    wait_healthy();
}

static void teardown(void)
{
    aggtest_stop(&agg);
    zmq_ctx_term(zctx);
}

TestSuite(http_aggregator, .init = setup, .fini = teardown, .timeout = 120);

static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

static void get(const char *target, struct http_reply *r)
{
    http_reply_free(r);
    cr_assert_eq(http_get(port, target, r), 0, "no answer to GET %s", target);
}

/* hello until welcomed (a just-added agent arrives with NOTIFY), then one batch of `n`
 * updates of `ind`, acknowledged. */
static void deliver(struct wc_client *c, uint64_t first_seq, size_t n, const char *ind,
                    const int64_t *values, size_t n_rejected)
{
    long long deadline = proc_now_ms() + REPLY_MS;

    if (first_seq == 1) {
        do {
            cr_assert_eq(wc_send_hello(c, 1), 0);
            cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no reply to hello");
        } while (c->reply->type == CT_MSG_ERROR && proc_now_ms() < deadline);
        cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
    }
    cr_assert_eq(wc_send_batch(c, first_seq, n, ind, CT_OP_SET, values, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no ack");
    cr_assert_eq(c->reply->type, CT_MSG_ACK, "got %s: %s", ct_msg_type_name(c->reply->type),
                 c->reply->error.msg);
    cr_assert_eq(c->reply->ack.n_rejected, n_rejected);
}

Test(http_aggregator, metrics_count_commits_rejections_and_connections)
{
    static const int64_t values[] = {310, 320, 330};
    struct http_reply r = {0};
    struct wc_client *c = wc_new(zctx, agg.endpoint, "erqi-1", "erqi", NULL, NULL, NULL);
    char out[16384];
    long long deadline;

    cr_assert_not_null(c);
    get("/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    cr_assert_eq(metric(r.body, "citytally_updates_committed_total"), 0);

    deliver(c, 1, 3, "hightech_output", values, 0);
    deliver(c, 4, 1, "no_such_indicator", values, 1);
    /* The loop copies the ingest's counters after each turn: poll for them. */
    deadline = proc_now_ms() + 5000;
    do {
        get("/metrics", &r);
    } while (metric(r.body, "citytally_updates_rejected_total") != 1 && proc_now_ms() < deadline &&
             poll(NULL, 0, 20) == 0);
    cr_assert_eq(metric(r.body, "citytally_updates_committed_total"), 3, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_updates_rejected_total"), 1, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_batches_total"), 2, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_db_up"), 1, "%s", r.body);
    cr_assert_eq(metric(r.body, "citytally_agents_connected"), 1, "%s", r.body);
    cr_assert_geq(metric(r.body, "citytally_commit_seconds_count"), 2, "%s", r.body);
    cr_assert_gt(metric(r.body, "citytally_last_commit_timestamp_seconds"), 1.4e9, "%s", r.body);

    /* Acceptance 5: the exposition parses with a real Prometheus parser. */
    cr_assert_eq(http_check_prometheus(r.body, out, sizeof(out)), 0, "%s\n---\n%s", out, r.body);
    cr_assert_not_null(strstr(out, "citytally_updates_committed_total 3\n"), "%s", out);
    cr_assert_not_null(strstr(out, "citytally_commit_seconds_bucket{le=\"+Inf\"}"), "%s", out);

    /* The collector goes away; so does its connection. */
    wc_free(c);
    deadline = proc_now_ms() + 5000;
    do {
        get("/metrics", &r);
    } while (metric(r.body, "citytally_agents_connected") != 0 && proc_now_ms() < deadline &&
             poll(NULL, 0, 20) == 0);
    cr_assert_eq(metric(r.body, "citytally_agents_connected"), 0, "%s", r.body);
    http_reply_free(&r);
}

Test(http_aggregator, api_progress_is_the_report_json_document)
{
    static const int64_t values[] = {6612};
    struct http_reply r = {0};
    struct wc_client *c = wc_new(zctx, agg.endpoint, "erqi-1", "erqi", NULL, NULL, NULL);
    char report[1 << 16], db_flag[600];
    char *argv[] = {"citytally-aggregator",
                    "report",
                    "--year",
                    "2015",
                    "--as-of",
                    "2015-07-01T00:00:00+08:00",
                    "--format",
                    "json",
                    "--db",
                    db_flag,
                    NULL};

    cr_assert_not_null(c);
    deliver(c, 1, 1, "hightech_output", values, 0);
    wc_free(c);
    snprintf(db_flag, sizeof(db_flag), "%s", agg.conninfo);
    cr_assert_eq(proc_run(argv, report, sizeof(report)), 0, "report: %s", report);

    get("/api/progress?year=2015&as_of=2015-07-01T00%3A00%3A00%2B08%3A00", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, "application/json; charset=utf-8");
    /* The same bytes as `report --format json` (which ends its line with a newline). */
    cr_assert_str_eq(r.body, report);
    cr_assert_not_null(strstr(r.body, "\"code\":\"hightech_output\""), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"district\":\"erqi\",\"value\":6612,"), "%s", r.body);

    /* Without a year: the latest with targets. */
    get("/api/progress", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strncmp(r.body, "{\"year\":2015,", 13) == 0, "%s", r.body);
    http_reply_free(&r);
}

Test(http_aggregator, bad_parameters_are_400_naming_the_parameter)
{
    struct http_reply r = {0};

    get("/api/progress?year=abc", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "year: 'abc' is not a year (1900 to 9999)\n");
    get("/api/progress?year=2015&as_of=yesterday", &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strncmp(r.body, "as_of: 'yesterday': ", 20) == 0, "%s", r.body);
    get("/api/progress?yaer=2015", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "unknown parameter 'yaer'\n");
    get("/api/progress?year=2015&year=2016", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "parameter 'year' given more than once\n");
    get("/api/progress?year=2016", &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "no targets for year 2016 (years with targets: 2015)\n");
    get("/nope", &r);
    cr_assert_eq(r.status, 404);
    http_reply_free(&r);
}

Test(http_aggregator, healthz_follows_the_database)
{
    struct http_reply r = {0};
    char sql[512];
    long long deadline;
    PGconn *admin;

    get("/healthz", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "ok\n");

    /* The database stops answering the HTTP side: connections refused, its own cut. The
     * switch is thrown from another database, as PostgreSQL requires. */
    snprintf(sql, sizeof(sql), "host=%s port=%s user=postgres dbname=postgres",
             getenv("CT_TEST_PGHOST"), getenv("CT_TEST_PGPORT"));
    admin = PQconnectdb(sql);
    cr_assert_eq(PQstatus(admin), CONNECTION_OK, "%s", PQerrorMessage(admin));
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", agg.name);
    pgtest_exec(admin, sql);
    pgtest_exec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'citytally-aggregator http'");
    /* The probe's connection is cut first, then its reconnection is refused. */
    deadline = proc_now_ms() + 5000;
    do {
        get("/healthz", &r);
    } while ((r.status == 200 || strstr(r.body, "not currently accepting") == NULL) &&
             proc_now_ms() < deadline && poll(NULL, 0, 50) == 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strncmp(r.body, "database unavailable: ", 22) == 0, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "not currently accepting connections"), "%s", r.body);

    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", agg.name);
    pgtest_exec(admin, sql);
    PQfinish(admin);
    deadline = proc_now_ms() + 5000;
    do {
        get("/healthz", &r);
    } while (r.status != 200 && proc_now_ms() < deadline && poll(NULL, 0, 50) == 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_reply_free(&r);
}

Test(http_aggregator, dashboard_is_served_complete_and_self_contained)
{
    struct http_reply r = {0};
    int targets = 0;

    get("/", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    for (const char *p = r.body; (p = strstr(p, "<details class=\"target ")) != NULL; p++)
        targets++;
    cr_assert_eq(targets, 35, "35 targets expected on the page");
    cr_assert_not_null(strstr(r.body, "data-code=\"rd_centers_municipal\""));
    cr_assert_null(strstr(r.body, "<!--@"));
    cr_assert_null(strstr(r.body, "http://"));
    cr_assert_null(strstr(r.body, "https://"));
    get("/?year=2015&as_of=2015-06-30", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "<strong id=\"as-of-text\">2015-06-30 23:59</strong>"));
    get("/?year=nineteen", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_not_null(strstr(r.body, "year: &#39;nineteen&#39; is not a year"), "problem shown");
    http_reply_free(&r);
}

/* Issue 14 item 8: a raw '+' in the query is a space once decoded; as a UTC offset it
 * still means +08:00, on every parameter that takes a time. */
Test(http_aggregator, as_of_with_a_raw_plus_is_read_as_a_utc_offset)
{
    static const int64_t values[] = {6612};
    struct http_reply r = {0};
    struct wc_client *c = wc_new(zctx, agg.endpoint, "erqi-1", "erqi", NULL, NULL, NULL);
    char *encoded;

    cr_assert_not_null(c);
    deliver(c, 1, 1, "hightech_output", values, 0);
    wc_free(c);
    get("/api/progress?year=2015&as_of=2015-07-01T00%3A00%3A00%2B08%3A00", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"as_of\":\"2015-07-01T00:00:00+08:00\""), "%s", r.body);
    encoded = strdup(r.body);
    cr_assert_not_null(encoded);

    get("/api/progress?year=2015&as_of=2015-07-01T00:00:00+08:00", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, encoded);
    get("/api/progress?year=2015&as_of=2015-07-01T00:00:00+0800", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, encoded);
    free(encoded);
    /* 17:00 at +08:00 is 09:00 UTC, not 17:00 UTC. */
    get("/api/progress?year=2015&as_of=2015-06-30T17:00:00+08", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"as_of\":\"2015-06-30T17:00:00+08:00\""), "%s", r.body);
    get("/?year=2015&as_of=2015-06-30T17:00:00+08:00", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "<strong id=\"as-of-text\">2015-06-30 17:00</strong>"),
                       "as of shown");
    /* A space that is not before an offset stays an error, and names what is wrong. */
    get("/api/progress?year=2015&as_of=2015-06-30T17:00:00+99:00", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(r.body, "as_of: '2015-06-30T17:00:00 99:00': bad UTC offset (use 2015-06-30 "
                             "or 2015-06-30T17:00:00+08:00)\n");
    get("/api/progress?year=2015&as_of=2015-06-30+x", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_reply_free(&r);
}

/* Issue 14 item 5: /healthz follows the writers' commits, not only the database's
 * answer to SELECT 1. A deferred trigger makes every COMMIT fail, as a full disk does. */
Test(http_aggregator, healthz_is_503_while_commits_fail)
{
    static const int64_t values[] = {7};
    struct http_reply r = {0};
    struct wc_client *c = wc_new(zctx, agg.endpoint, "erqi-1", "erqi", NULL, NULL, NULL);
    long long deadline = proc_now_ms() + REPLY_MS;

    cr_assert_not_null(c);
    get("/healthz", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    pgtest_exec(agg.db, "CREATE FUNCTION ct_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$BEGIN RAISE EXCEPTION 'No space left on device (simulated)'; END$$");
    pgtest_exec(agg.db, "CREATE CONSTRAINT TRIGGER ct_test_refuse AFTER INSERT ON updates "
                        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
                        "ct_test_refuse()");
    do {
        cr_assert_eq(wc_send_hello(c, 1), 0);
        cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no reply to hello");
    } while (c->reply->type == CT_MSG_ERROR && proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
    cr_assert_eq(wc_send_batch(c, 1, 1, "hightech_output", CT_OP_SET, values, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no reply to the batch");
    cr_assert_eq(c->reply->type, CT_MSG_ERROR, "a failed commit must not be acked");

    deadline = proc_now_ms() + 5000;
    do {
        get("/healthz", &r);
    } while (r.status == 200 && proc_now_ms() < deadline && poll(NULL, 0, 20) == 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strncmp(r.body, "commits failing: ", 17) == 0, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "No space left on device (simulated)"), "%s", r.body);

    /* The disk has room again: the next commit succeeds, and /healthz says so. */
    pgtest_exec(agg.db, "DROP TRIGGER ct_test_refuse ON updates");
    cr_assert_eq(wc_send_batch(c, 1, 1, "hightech_output", CT_OP_SET, values, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no reply to the resent batch");
    cr_assert_eq(c->reply->type, CT_MSG_ACK, "%s", c->reply->error.msg);
    deadline = proc_now_ms() + 5000;
    do {
        get("/healthz", &r);
    } while (r.status != 200 && proc_now_ms() < deadline && poll(NULL, 0, 20) == 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    wc_free(c);
    http_reply_free(&r);
}

/* ---- 500 idle connections (issue 14 item 6) --------------------------------------- */

#define IDLE_CONNECTIONS 500
#define IDLE_ADDRESSES 40 /* 127.0.0.2 .. 127.0.0.41 */
#define PROBES 50

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* Opens `n` connections from 127.0.0.2.. to 127.0.0.1:port, each with half a request
 * sent. Returns how many were opened; the caller closes them, whatever happened. */
static size_t hold_idle(uint16_t to_port, int *fds, size_t n, char *why, size_t why_size)
{
    static const char half[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(to_port)};
    size_t i;

    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < n; i++) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(i % IDLE_ADDRESSES));
        if (fd < 0) {
            snprintf(why, why_size, "socket %zu: %s", i, strerror(errno));
            break;
        }
        fds[i] = fd;
        if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
            connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0 ||
            send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(half) - 1)) {
            snprintf(why, why_size, "connection %zu: %s", i, strerror(errno));
            i++;
            break;
        }
    }
    return i;
}

/* Ends each held request and counts the 200s that come back before `deadline`. */
static size_t finish_held(int *fds, size_t n, long long deadline)
{
    size_t ok = 0;

    for (size_t i = 0; i < n; i++) {
        char buf[16] = "";
        size_t got = 0;

        if (fds[i] < 0 || send(fds[i], "\r\n", 2, MSG_NOSIGNAL) != 2)
            continue;
        while (got < 12 && proc_now_ms() < deadline) {
            struct pollfd p = {.fd = fds[i], .events = POLLIN};
            ssize_t k;
            if (poll(&p, 1, (int)(deadline - proc_now_ms())) <= 0)
                break;
            k = recv(fds[i], buf + got, 12 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got == 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0)
            ok++;
    }
    return ok;
}

static int compare_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

Test(http_aggregator, healthz_answers_within_1_s_with_500_idle_connections_open)
{
    int fds[IDLE_CONNECTIONS];
    long long took[PROBES];
    int status[PROBES];
    char why[256] = "";
    size_t opened, answered = 0, held_ok;

    for (size_t i = 0; i < IDLE_CONNECTIONS; i++)
        fds[i] = -1;
    opened = hold_idle(port, fds, IDLE_CONNECTIONS, why, sizeof(why));
    /* No assertion while the sockets are open: every path below closes them first. */
    for (size_t i = 0; i < PROBES && opened == IDLE_CONNECTIONS; i++) {
        struct http_reply r = {0};
        long long t0 = proc_now_ms();
        int rc = http_get(port, "/healthz", &r);
        took[i] = proc_now_ms() - t0;
        status[i] = rc == 0 ? r.status : -1;
        answered += rc == 0 && r.status == 200;
        http_reply_free(&r);
    }
    held_ok = opened == IDLE_CONNECTIONS ? finish_held(fds, opened, proc_now_ms() + 5000) : 0;
    close_all(fds, IDLE_CONNECTIONS);

    cr_assert_eq(opened, IDLE_CONNECTIONS, "opened %zu: %s", opened, why);
    for (size_t i = 0; i < PROBES; i++)
        cr_assert_eq(status[i], 200, "GET /healthz %zu: status %d after %lld ms", i, status[i],
                     took[i]);
    cr_assert_eq(answered, PROBES);
    qsort(took, PROBES, sizeof(took[0]), compare_ll);
    fprintf(stderr, "healthz with %d idle connections open: median %lld ms, max %lld ms (%d)\n",
            IDLE_CONNECTIONS, took[PROBES / 2], took[PROBES - 1], PROBES);
    cr_assert_lt(took[PROBES - 1], 1000, "slowest /healthz took %lld ms", took[PROBES - 1]);
    /* The idle ones were held, not dropped: each still gets its answer. */
    cr_assert_eq(held_ok, IDLE_CONNECTIONS, "%zu of the held requests answered", held_ok);
}

/* ---- a frozen database (issue 14 item 5) ------------------------------------------ */

#define FREEZE_MS 20000
#define PAGE_LIMIT_MS 10000
#define HEALTHZ_LIMIT_MS 1000

static char own_cluster[256];

/* pg_cluster.sh on the test's own cluster: freezing the shared one would hang others. */
static int cluster(const char *action)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "%s/tests/support/pg_cluster.sh %s %s 55433 >/dev/null",
             getenv("CT_SOURCE_DIR"), action, own_cluster);
    return system(cmd);
}

static pid_t guard = -1;

/* A child that thaws and removes the cluster when this test process dies without its
 * .fini (a Criterion timeout kills it), or when .fini tells it to: a frozen cluster must
 * never outlive the test. Only async-signal-safe calls after fork(). */
static void start_guard(void)
{
    static char script[512], port_arg[] = "55433", stop_arg[] = "stop", sh[] = "sh";
    char *argv[] = {sh, script, stop_arg, own_cluster, port_arg, NULL};
    pid_t parent = getpid();
    sigset_t wake, old;

    snprintf(script, sizeof(script), "%s/tests/support/pg_cluster.sh", getenv("CT_SOURCE_DIR"));
    sigemptyset(&wake);
    sigaddset(&wake, SIGTERM);
    sigaddset(&wake, SIGUSR1);
    /* Blocked across fork(), so the child cannot miss its signal or die of it. */
    cr_assert_eq(pthread_sigmask(SIG_BLOCK, &wake, &old), 0);
    guard = fork();
    if (guard == 0) {
        int sig = 0;
        /* Its own session: whoever kills the test's process group must not kill it. */
        if (setsid() >= 0 && prctl(PR_SET_PDEATHSIG, SIGUSR1) == 0 && getppid() == parent)
            (void)sigwait(&wake, &sig);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execv("/bin/sh", argv);
        _exit(127);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    cr_assert_geq(guard, 0, "fork: %s", strerror(errno));
}

static void stop_guard(void)
{
    int status;

    if (guard <= 0)
        return;
    kill(guard, SIGTERM);
    (void)waitpid(guard, &status, 0);
    guard = -1;
}

static void frozen_setup(void)
{
    snprintf(own_cluster, sizeof(own_cluster), "/tmp/ct-pg-http-frozen-%d", (int)getpid());
    cr_assert_eq(cluster("start"), 0, "cannot start a cluster in %s", own_cluster);
    start_guard();
    setenv("CT_TEST_PGHOST", own_cluster, 1);
    setenv("CT_TEST_PGPORT", "55433", 1);
    setup();
}

/* Thaws first on every path (a failed assertion ends the test here too), so the daemon
 * can stop; the guard then removes the cluster (pg_cluster.sh stop thaws too). */
static void frozen_teardown(void)
{
    (void)cluster("thaw");
    teardown();
    stop_guard();
    (void)cluster("stop");
}

struct healthz_watch {
    atomic_bool stop;
    long long frozen_at;
    atomic_llong first_503_ms; /* after the freeze; 0: none yet */
    atomic_llong worst_ms;
    atomic_int failures; /* no answer, or neither 200 nor 503 */
    char first_503_body[256];
};

static void *watch_healthz(void *arg)
{
    struct healthz_watch *w = arg;

    while (!atomic_load(&w->stop)) {
        struct http_reply r = {0};
        long long t0 = proc_now_ms(), took;
        int rc = http_get(port, "/healthz", &r);

        took = proc_now_ms() - t0;
        if (took > atomic_load(&w->worst_ms))
            atomic_store(&w->worst_ms, took);
        if (rc != 0 || (r.status != 200 && r.status != 503))
            atomic_fetch_add(&w->failures, 1);
        else if (r.status == 503 && atomic_load(&w->first_503_ms) == 0) {
            snprintf(w->first_503_body, sizeof(w->first_503_body), "%.*s",
                     (int)strcspn(r.body, "\n"), r.body);
            atomic_store(&w->first_503_ms, proc_now_ms() - w->frozen_at);
        }
        http_reply_free(&r);
        poll(NULL, 0, 50); /* pacing between probes, not synchronisation */
    }
    return NULL;
}

struct page_figures {
    const char *target;
    long long worst_ms;
    int answers, unavailable;
};

TestSuite(http_frozen_db, .init = frozen_setup, .fini = frozen_teardown, .timeout = 180);

Test(http_frozen_db, pages_answer_and_healthz_turns_503_within_10_s_of_a_freeze)
{
    struct page_figures pages[] = {
        {"/", 0, 0, 0}, {"/api/progress", 0, 0, 0}, {"/metrics", 0, 0, 0}};
    struct healthz_watch w = {.first_503_ms = 0, .worst_ms = 0, .failures = 0};
    struct http_reply r = {0};
    pthread_t watcher;
    long long deadline;

    /* Warm: the pool and the probe hold live connections when the server freezes. */
    get("/api/progress", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    get("/", &r);
    cr_assert_eq(r.status, 200);
    get("/healthz", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_reply_free(&r);

    cr_assert_eq(cluster("freeze"), 0);
    w.frozen_at = proc_now_ms();
    atomic_init(&w.stop, false);
    cr_assert_eq(pthread_create(&watcher, NULL, watch_healthz, &w), 0);
    while (proc_now_ms() - w.frozen_at < FREEZE_MS) {
        for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
            long long t0 = proc_now_ms(), took;
            int rc = http_get(port, pages[i].target, &r);

            took = proc_now_ms() - t0;
            if (took > pages[i].worst_ms)
                pages[i].worst_ms = took;
            if (rc != 0) {
                atomic_store(&w.stop, true);
                pthread_join(watcher, NULL);
                cr_assert_fail("GET %s: no answer within %lld ms", pages[i].target, took);
            }
            pages[i].answers++;
            pages[i].unavailable += r.status == 503;
            if (r.status != 200 && r.status != 503) {
                atomic_store(&w.stop, true);
                pthread_join(watcher, NULL);
                cr_assert_fail("GET %s: status %d: %s", pages[i].target, r.status, r.body);
            }
            http_reply_free(&r);
        }
        poll(NULL, 0, 20); /* pacing: the machine is shared */
    }
    atomic_store(&w.stop, true);
    pthread_join(watcher, NULL);
    cr_assert_eq(cluster("thaw"), 0);

    fprintf(stderr,
            "frozen %d s: first 503 of /healthz after %lld ms (%s); slowest /healthz %lld ms\n",
            FREEZE_MS / 1000, (long long)atomic_load(&w.first_503_ms), w.first_503_body,
            (long long)atomic_load(&w.worst_ms));
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        fprintf(stderr, "frozen: GET %s slowest %lld ms, %d answers, %d of them 503\n",
                pages[i].target, pages[i].worst_ms, pages[i].answers, pages[i].unavailable);
    cr_assert_gt(atomic_load(&w.first_503_ms), 0, "/healthz never said 503 in a %d s freeze",
                 FREEZE_MS / 1000);
    cr_assert_leq(atomic_load(&w.first_503_ms), 10000);
    cr_assert(strncmp(w.first_503_body, "database unavailable: ", 22) == 0, "%s", w.first_503_body);
    cr_assert_eq(atomic_load(&w.failures), 0, "/healthz did not answer 200 or 503");
    cr_assert_lt(atomic_load(&w.worst_ms), HEALTHZ_LIMIT_MS, "/healthz waited on the database");
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        cr_assert_lt(pages[i].worst_ms, PAGE_LIMIT_MS, "GET %s", pages[i].target);
    cr_assert_lt(pages[2].worst_ms, HEALTHZ_LIMIT_MS, "/metrics waited on the database");
    cr_assert_eq(pages[2].unavailable, 0, "/metrics does not depend on the database");
    cr_assert_gt(pages[1].unavailable, 0, "/api/progress cannot have read a frozen database");

    /* Thawed: everything comes back by itself. */
    deadline = proc_now_ms() + 15000;
    do {
        get("/healthz", &r);
    } while (r.status != 200 && proc_now_ms() < deadline && poll(NULL, 0, 100) == 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    get("/api/progress", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_reply_free(&r);
}
