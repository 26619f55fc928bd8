/*
 * test_dashboard_nulls.c - the daemon's pages when figures have no value (issue 19).
 *
 * The municipal level reports high-tech output for 2015 but not for 2014, so its growth
 * has no value; Erqi reports a ratio's numerator over a denominator of 0, so its ratio has
 * none. Opening the dashboard then killed the aggregator (strtod on a NULL figure). Here the
 * real daemon, a real PostgreSQL and real sockets serve every page over those figures, and
 * the daemon is still there afterwards.
 */
#include "aggtest.h"
#include "httpget.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define NOV_30 1448812800000LL /* 2015-11-30T00:00:00+08:00 */
#define REPLY_MS 10000

static struct aggtest agg;
static uint16_t port;

static void setup(void)
{
    agg.extra_args[0] = "--http";
    agg.extra_args[1] = "127.0.0.1:0";
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, "dashboard_nulls");
    aggtest_add_agent(&agg, "city-1", "city");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    port = http_port_from_log(agg.proc.log_path);
    cr_assert_neq(port, 0, "no 'serving on' line in %s", agg.proc.log_path);
}

static void teardown(void)
{
    aggtest_stop(&agg);
}

TestSuite(dashboard_nulls, .init = setup, .fini = teardown, .timeout = 120);

/* hello until welcomed (a just-added agent arrives with NOTIFY), then batches of one
 * update each, every one acknowledged without rejections. */
static void deliver(const char *agent, const char *district, size_t n, const char *const *inds,
                    const int64_t *values)
{
    struct wc_client *c = aggtest_client(&agg, agent, district, NULL, NULL, NULL);
    long long deadline = proc_now_ms() + REPLY_MS;

    cr_assert_not_null(c);
    do {
        cr_assert_eq(wc_send_hello(c, 1), 0);
        cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no reply to hello");
    } while (c->reply->type == CT_MSG_ERROR && proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME, "%s was not welcomed", agent);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(wc_send_batch(c, i + 1, 1, inds[i], CT_OP_SET, &values[i], 2015, NOV_30), 0);
        cr_assert_eq(wc_recv(c, REPLY_MS), 0, "no ack");
        cr_assert_eq(c->reply->type, CT_MSG_ACK, "%s: got %s", inds[i],
                     ct_msg_type_name(c->reply->type));
        cr_assert_eq(c->reply->ack.n_rejected, 0, "%s was rejected", inds[i]);
    }
}

static void get_ok(const char *target, struct http_reply *r)
{
    http_reply_free(r);
    cr_assert_eq(http_get(port, target, r), 0, "no answer to GET %s (is the daemon alive?)",
                 target);
    cr_assert_eq(r->status, 200, "GET %s: %d %s", target, r->status, r->body);
}

Test(dashboard_nulls, every_page_renders_units_whose_growth_or_ratio_has_no_value)
{
    static const char *const city_inds[] = {"hightech_output"};
    static const char *const erqi_inds[] = {"hightech_value_added", "industrial_value_added"};
    static const int64_t city_values[] = {5}, erqi_values[] = {3, 0};
    struct http_reply r = {0};
    const char *growth, *row;

    deliver("city-1", "city", 1, city_inds, city_values);
    deliver("erqi-1", "erqi", 2, erqi_inds, erqi_values);

    get_ok("/", &r);
    growth = strstr(r.body, "data-code=\"hightech_output_growth\"");
    cr_assert_not_null(growth, "the growth target is not on the page");
    row = strstr(growth, "<tr data-district=\"city\" data-value=\"\">");
    cr_assert_not_null(row, "the municipal level's growth row is missing");
    cr_assert(strstr(row, "</details>") > row, "the row belongs to the growth target");
    cr_assert_not_null(strstr(r.body, "<tr data-district=\"erqi\" data-value=\"\">"),
                       "Erqi's ratio row (denominator 0) is missing");

    get_ok("/api/progress?year=2015", &r);
    cr_assert_not_null(strstr(r.body, "{\"code\":\"hightech_output_growth\""), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"district\":\"city\",\"value\":null,"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"district\":\"erqi\",\"value\":null,"), "%s", r.body);

    get_ok("/?year=2015&as_of=2015-11-30", &r);
    get_ok("/healthz", &r);
    cr_assert(strncmp(r.body, "ok", 2) == 0, "%s", r.body);
    http_reply_free(&r);
    cr_assert(!proc_wait(&agg.proc, 0), "the aggregator died serving the pages");
}
