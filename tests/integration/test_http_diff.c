/*
 * test_http_diff.c - GET /api/diff (CONTRACT section 11) on the real daemon: the same bytes
 * as `report --diff ... --format json` for a listing long enough to be read in two halves,
 * and one-line errors naming the parameter.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct aggtest agg;
static uint16_t port;

static void setup(void)
{
    agg.extra_args[0] = "--http";
    agg.extra_args[1] = "127.0.0.1:0";
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, "http_diff");
    port = http_port_from_log(agg.proc.log_path);
    cr_assert_neq(port, 0, "no 'serving on' line in %s", agg.proc.log_path);
}

static void teardown(void)
{
    aggtest_stop(&agg);
}

TestSuite(http_diff, .init = setup, .fini = teardown, .timeout = 120);

static void get(const char *target, struct http_reply *r)
{
    http_reply_free(r);
    cr_assert_eq(http_get(port, target, r), 0, "no answer to GET %s", target);
}

Test(http_diff, api_diff_is_the_report_json_document)
{
    static char out[1 << 22];
    struct http_reply r = {0};
    char db_flag[600];
    char *report[] = {"citytally-aggregator",
                      "report",
                      "--diff",
                      "2015-05-31",
                      "2015-06-30",
                      "--format",
                      "json",
                      "--db",
                      db_flag,
                      NULL};

    snprintf(db_flag, sizeof(db_flag), "%s", agg.conninfo);
    /* 4,000 updates through June, every tenth one an add, each a minute apart from 1 June */
    pgtest_exec(agg.db, "INSERT INTO updates (agent_id, seq, district, indicator, period, op,"
                        " value, observed_at, note)"
                        " SELECT 'a-' || d, g, d, 'rd_centers_municipal', 2015,"
                        "  CASE WHEN g % 10 = 0 THEN 'add' ELSE 'set' END, g % 97 + 0.25,"
                        "  timestamptz '2015-06-01 00:00+08' + g * interval '1 minute',"
                        "  CASE WHEN g % 7 = 0 THEN 'note \"' || g || '\"' END"
                        " FROM generate_series(1, 4000) g,"
                        "  (VALUES ('erqi'), ('jinshui')) AS u(d) WHERE g % 2 = (d = 'erqi')::int");
    pgtest_exec(agg.db, "ANALYZE updates");
    cr_assert_eq(proc_run(report, out, sizeof(out)), 0, "report --diff: %s", out);

    get("/api/diff?year=2015&from=2015-05-31&to=2015-06-30", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, "application/json; charset=utf-8");
    cr_assert_str_eq(r.body, out, "the same bytes as report --diff --format json");
    const char *head = "{\"year\":2015,\"from\":\"2015-05-31T23:59:59.999+08:00\",\"to\":"
                       "\"2015-06-30T23:59:59.999+08:00\",\"targets\":[{\"code\":"
                       "\"rd_centers_municipal\",";
    cr_assert(strncmp(r.body, head, strlen(head)) == 0, "%.300s", r.body);
    size_t listed = 0;
    for (const char *p = r.body; (p = strstr(p, "{\"agent\":")) != NULL; p++)
        listed++;
    cr_assert_eq(listed, 4000, "every update of June is listed once");
    cr_assert_not_null(strstr(r.body, "\"note\":\"note \\\"7\\\"\""), "notes are escaped");
    http_reply_free(&r);
}

Test(http_diff, bad_parameters_are_one_line_errors_naming_them)
{
    struct http_reply r = {0};

    get("/api/diff?year=2015&from=2015-06-30&to=2015-05-31", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "from: must be before to\n");
    get("/api/diff?year=2015&from=soon&to=2015-05-31", &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strncmp(r.body, "from: 'soon': ", 14) == 0, "%s", r.body);
    get("/api/diff?year=2016&from=2016-05-31&to=2016-06-30", &r);
    cr_assert_eq(r.status, 404, "%s", r.body);
    get("/api/diff?year=2015&from=2015-05-31&to=2015-06-30&as_of=now", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_reply_free(&r);
}
