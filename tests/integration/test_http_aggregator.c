/*
 * test_http_aggregator.c - the aggregator's HTTP endpoints (CONTRACT section 6) on the real
 * daemon, a real PostgreSQL and real sockets: a test client plays the collector over
 * ZeroMQ, a raw HTTP client (tests/support/httpget.c) reads what the daemon serves.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL /* 2015-06-30T12:00:00+08:00 */
#define REPLY_MS 10000

static struct aggtest agg;
static void *zctx;
static uint16_t port;

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
    deadline = proc_now_ms() + 5000;
    do {
        get("/healthz", &r);
    } while (r.status == 200 && proc_now_ms() < deadline && poll(NULL, 0, 50) == 0);
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
