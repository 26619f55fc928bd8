/*
 * test_http_assessment.c - GET /api/assessment and the /assessment page (CONTRACT section 8)
 * on the real daemon: the same bytes as `report --assessment --format json`, the page's
 * cells, and one-line errors naming the parameter.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct aggtest agg;
static uint16_t port;

#define TARGETS_PATH "/tmp/ct-http-assessment-2015.csv"

static void setup(void)
{
    FILE *f;

    agg.extra_args[0] = "--http";
    agg.extra_args[1] = "127.0.0.1:0";
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, "http_assessment");
    port = http_port_from_log(agg.proc.log_path);
    cr_assert_neq(port, 0, "no 'serving on' line in %s", agg.proc.log_path);
    f = fopen(TARGETS_PATH, "wb");
    cr_assert_not_null(f);
    fputs("code,kind,indicator,denominator,scale,of_target,comparator,target,unit,name_zh,name_en,"
          "clause,district\n"
          "rd,sum,rd_centers_municipal,,,,>=,100,家,研发中心,R&D,,\n"
          "rd,sum,rd_centers_municipal,,,,>=,40,家,,,,gaoxin\n"
          "rd,sum,rd_centers_municipal,,,,>=,20,家,,,,jinshui\n",
          f);
    fclose(f);
}

static void teardown(void)
{
    unlink(TARGETS_PATH);
    aggtest_stop(&agg);
}

TestSuite(http_assessment, .init = setup, .fini = teardown, .timeout = 120);

static void get(const char *target, struct http_reply *r)
{
    http_reply_free(r);
    cr_assert_eq(http_get(port, target, r), 0, "no answer to GET %s", target);
}

static void run(char **argv, char *out, size_t out_size)
{
    cr_assert_eq(proc_run(argv, out, out_size), 0, "%s: %s", argv[1], out);
}

Test(http_assessment, api_assessment_is_the_report_json_document)
{
    struct http_reply r = {0};
    char out[1 << 16], db_flag[600];
    char *import[] = {
        "citytally-aggregator", "targets", "import", TARGETS_PATH, "--db", db_flag, NULL};
    char *report[] = {"citytally-aggregator",
                      "report",
                      "--assessment",
                      "--as-of",
                      "2015-12-31",
                      "--format",
                      "json",
                      "--db",
                      db_flag,
                      NULL};

    snprintf(db_flag, sizeof(db_flag), "%s", agg.conninfo);
    run(import, out, sizeof(out));
    /* gaoxin 30 of its 40: 75; jinshui 20 of 20: 100 */
    pgtest_exec(agg.db, "INSERT INTO updates (agent_id, seq, district, indicator, period, op,"
                        " value, observed_at) VALUES"
                        " ('g', 1, 'gaoxin', 'rd_centers_municipal', 2015, 'set', 30,"
                        "  '2015-10-01T10:00:00+08'),"
                        " ('j', 1, 'jinshui', 'rd_centers_municipal', 2015, 'set', 20,"
                        "  '2015-10-01T10:00:00+08')");
    run(report, out, sizeof(out));

    get("/api/assessment?year=2015&as_of=2015-12-31", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, "application/json; charset=utf-8");
    cr_assert_str_eq(r.body, out, "the same bytes as report --assessment --format json");
    const char *head = "{\"year\":2015,\"as_of\":\"2015-12-31T23:59:59.999+08:00\",\"units\":["
                       "{\"rank\":1,\"district\":\"jinshui\",";
    cr_assert(strncmp(r.body, head, strlen(head)) == 0, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"rank\":2,\"district\":\"gaoxin\",\"name_zh\":\"郑州高新技"
                                      "术产业开发区\",\"name_en\":\"Zhengzhou High-tech Industrial "
                                      "Development Zone\",\"score\":75,\"assigned\":1"),
                       "%s", r.body);

    get("/assessment?year=2015&as_of=2015-12-31", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    cr_assert_not_null(strstr(r.body, "<td class=\"cell st-behind\" data-district=\"gaoxin\" "
                                      "data-code=\"rd\" data-pct=\"75\" data-status=\"behind\""),
                       "%s", r.body);
    cr_assert_not_null(strstr(r.body, "<td class=\"cell na\" data-district=\"erqi\" "
                                      "data-code=\"rd\""),
                       "%s", r.body);
    cr_assert_null(strstr(r.body, "<script"));
    http_reply_free(&r);
}

Test(http_assessment, bad_parameters_are_one_line_errors_naming_them)
{
    struct http_reply r = {0};

    get("/api/assessment?year=15", &r);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "year: '15' is not a year (1900 to 9999)\n");
    get("/api/assessment?as_of=soon", &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strncmp(r.body, "as_of: 'soon': ", 15) == 0, "%s", r.body);
    get("/api/assessment?district=erqi", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    get("/api/assessment?year=2016", &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "no targets for year 2016 (years with targets: 2015)\n");
    get("/assessment?year=2016", &r);
    cr_assert_eq(r.status, 404);
    /* without unit targets every unit is unranked: 17 nulls */
    get("/api/assessment?year=2015", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    size_t unranked = 0;
    for (const char *p = r.body; (p = strstr(p, "{\"rank\":null,")) != NULL; p++)
        unranked++;
    cr_assert_eq(unranked, 17, "%s", r.body);
    http_reply_free(&r);
}
