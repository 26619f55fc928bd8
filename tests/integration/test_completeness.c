/* Completeness and timeliness (CONTRACT section 9), counted by hand: a unit on time, one
 * late (queued after the due day), one on time although its figures were committed after
 * the due day (an outage: queued before it), one partial, one missing, and the edges of a
 * round's window. Then `report --completeness` in its three formats, and the wire's
 * `queued` through the real daemon into updates.queued_ms. */
#include "aggtest.h"
#include "httpget.h"
#include "store_fixture.h"
#include "wireexpect.h"

#include <unistd.h>

#define CALENDAR_2016                                                                              \
    "year,round,period_end,due,indicators\n"                                                       \
    "2016,Q1,2016-03-31,2016-04-10,hightech_output;rd_centers_municipal;st_contribution_rate\n"    \
    "2016,H1,2016-06-30,2016-07-10,hightech_output;rd_centers_municipal;st_contribution_rate\n"

/* The daemon of the tests that start one, stopped by the suite's teardown even when an
 * assertion ended the test half way. */
static struct aggtest t;

static void teardown(void)
{
    if (t.dir[0] != '\0')
        aggtest_stop(&t);
}

TestSuite(completeness, .fini = teardown, .timeout = 120);

/* One accepted update for period 2016, with the collector's queue time (NULL: none sent)
 * and the commit time. */
static void put_2016(PGconn *c, const char *district, const char *indicator,
                     const char *observed_at, const char *queued_at, const char *committed_at)
{
    static long long seq;
    char seq_text[32];
    const char *params[6] = {district, seq_text, indicator, observed_at, queued_at, committed_at};
    PGresult *res;

    snprintf(seq_text, sizeof(seq_text), "%lld", ++seq);
    res = PQexecParams(c,
                       "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                       " observed_at, queued_ms, received_at) VALUES ($1 || '-1', $2, $1, $3,"
                       " 2016, 'set', 1, $4, (extract(epoch FROM $5::timestamptz) * 1000)::bigint,"
                       " $6)",
                       6, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "insert: %s", PQerrorMessage(c));
    PQclear(res);
}

static void load_calendar(const char *ci)
{
    char path[128], args[1024], out[256], err[2048];
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/ct-completeness-2016-%d.csv", (int)getpid());
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_geq(fputs(CALENDAR_2016, f), 0);
    fclose(f);
    snprintf(args, sizeof(args), "calendar import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    unlink(path);
}

/* The scenario of the file's comment; see the expected counts in each test. */
static void populate(PGconn *c, const char *ci)
{
    load_calendar(ci);
    /* erqi: on time */
    put_2016(c, "erqi", "hightech_output", "2016-03-31T17:00:00+08", "2016-04-05T09:00:00+08",
             "2016-04-05T09:00:01+08");
    put_2016(c, "erqi", "rd_centers_municipal", "2016-03-31T17:00:00+08",
             "2016-04-10T23:59:59.999+08", "2016-04-11T00:00:01+08");
    /* jinshui: one figure queued a millisecond into the day after the due day */
    put_2016(c, "jinshui", "hightech_output", "2016-03-20", "2016-04-11T00:00:00+08",
             "2016-04-11T00:00:01+08");
    put_2016(c, "jinshui", "rd_centers_municipal", "2016-03-20", "2016-04-02", "2016-04-02");
    /* zhongyuan: queued before the due day, delivered ten days after it (an outage) */
    put_2016(c, "zhongyuan", "hightech_output", "2016-03-31", "2016-04-09T10:00:00+08",
             "2016-04-20T10:00:00+08");
    put_2016(c, "zhongyuan", "rd_centers_municipal", "2016-03-31", "2016-04-09T10:00:00+08",
             "2016-04-20T10:00:00+08");
    /* guancheng: partial (one of two), on time */
    put_2016(c, "guancheng", "hightech_output", "2016-02-01", "2016-02-01", "2016-02-01");
    /* huiji: the last instant of Q1, and the first of H1 (not Q1) */
    put_2016(c, "huiji", "hightech_output", "2016-03-31T23:59:59.999+08", "2016-04-01",
             "2016-04-01");
    put_2016(c, "huiji", "rd_centers_municipal", "2016-04-01T00:00:00+08", "2016-04-01",
             "2016-04-01");
    /* xingyang: no queue time sent, so the commit time decides: once on time, once late */
    put_2016(c, "xingyang", "hightech_output", "2016-03-01", NULL, "2016-04-08T12:00:00+08");
    put_2016(c, "xingyang", "rd_centers_municipal", "2016-03-01", NULL, "2016-04-12T12:00:00+08");
    /* gongyi: its figures are for 2015, so they count for no 2016 round */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at) VALUES ('gongyi-1', 1, 'gongyi', 'hightech_output', 2015, 'set',"
                   " 1, '2016-03-01')");
    /* city: st_contribution_rate, on time; a late correction does not make it late */
    put_2016(c, "city", "st_contribution_rate", "2016-03-31", "2016-04-01", "2016-04-01");
    put_2016(c, "city", "st_contribution_rate", "2016-03-31T20:00:00+08", "2016-05-01",
             "2016-05-01");
    /* shangjie: nothing at all */
}

static PGconn *scenario(const char *name, char *ci, size_t ci_size)
{
    PGconn *c = store_db(name, ci, ci_size);

    populate(c, ci);
    return c;
}

static long long pairs(PGconn *c, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM citytally_completeness(2016) WHERE %s", where);
    return pgtest_scalar(c, sql);
}

Test(completeness, each_unit_is_counted_as_by_hand)
{
    char ci[512];
    PGconn *c = scenario("ct_completeness_sql", ci, sizeof(ci));

    /* 16 districts x 2 codes + city x 3 (it may also report st_contribution_rate) */
    cr_assert_eq(pairs(c, "round = 'Q1'"), 35);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'city'"), 3);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'erqi' AND status = 'on_time'"), 2);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'jinshui' AND status = 'on_time'"
                          " AND indicator = 'rd_centers_municipal'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'jinshui' AND status = 'late'"
                          " AND indicator = 'hightech_output'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'zhongyuan' AND status = 'on_time'"), 2,
                 "an outage is not lateness");
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'guancheng' AND status = 'missing'"
                          " AND indicator = 'rd_centers_municipal'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'huiji' AND status = 'on_time'"
                          " AND indicator = 'hightech_output'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'huiji' AND status = 'missing'"
                          " AND indicator = 'rd_centers_municipal'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'H1' AND district = 'huiji' AND status = 'on_time'"
                          " AND indicator = 'rd_centers_municipal'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'xingyang' AND status = 'on_time'"
                          " AND indicator = 'hightech_output'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'xingyang' AND status = 'late'"
                          " AND indicator = 'rd_centers_municipal'"),
                 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'gongyi' AND status = 'missing'"), 2);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'city' AND status = 'on_time'"), 1);
    cr_assert_eq(pairs(c, "round = 'Q1' AND district = 'shangjie' AND status = 'missing'"), 2);
    /* reported: erqi 2, jinshui 2, zhongyuan 2, guancheng 1, huiji 1, xingyang 2, city 1 */
    cr_assert_eq(pairs(c, "round = 'Q1' AND status <> 'missing'"), 11);
    /* on time: erqi 2, jinshui 1, zhongyuan 2, guancheng 1, huiji 1, xingyang 1, city 1 */
    cr_assert_eq(pairs(c, "round = 'Q1' AND status = 'on_time'"), 9);
    cr_assert_eq(pairs(c, "round = 'H1' AND status <> 'missing'"), 1);
    PQfinish(c);
}

Test(completeness, report_json_is_the_contracts_document)
{
    char ci[512], args[1024], err[2048];
    static char out[64 * 1024];
    PGconn *c = scenario("ct_completeness_json", ci, sizeof(ci));

    snprintf(args, sizeof(args),
             "report --completeness --year 2016 --round Q1 --format json"
             " --db '%s'",
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    const char *expect[] = {
        "{\"year\":2016,\"rounds\":[{\"round\":\"Q1\",\"period_end\":\"2016-03-31\","
        "\"due\":\"2016-04-10\",\"expected\":35,\"reported\":11,\"on_time\":9,\"units\":[",
        "{\"district\":\"zhongyuan\",\"expected\":2,\"reported\":2,\"on_time\":2,\"late\":[],"
        "\"missing\":[]}",
        "{\"district\":\"erqi\",\"expected\":2,\"reported\":2,\"on_time\":2,\"late\":[],"
        "\"missing\":[]}",
        "{\"district\":\"guancheng\",\"expected\":2,\"reported\":1,\"on_time\":1,\"late\":[],"
        "\"missing\":[\"rd_centers_municipal\"]}",
        "{\"district\":\"jinshui\",\"expected\":2,\"reported\":2,\"on_time\":1,"
        "\"late\":[\"hightech_output\"],\"missing\":[]}",
        "{\"district\":\"shangjie\",\"expected\":2,\"reported\":0,\"on_time\":0,\"late\":[],"
        "\"missing\":[\"hightech_output\",\"rd_centers_municipal\"]}",
        "{\"district\":\"city\",\"expected\":3,\"reported\":1,\"on_time\":1,\"late\":[],"
        "\"missing\":[\"hightech_output\",\"rd_centers_municipal\"]}]}]}\n",
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        cr_assert_not_null(strstr(out, expect[i]), "missing %s in\n%s", expect[i], out);
    cr_assert_null(strstr(out, "\"H1\""), "--round Q1 shows Q1 only");

    /* every round of the year by default */
    snprintf(args, sizeof(args), "report --completeness --year 2016 --format json --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(strstr(out, "{\"round\":\"H1\",\"period_end\":\"2016-06-30\",\"due\":"
                                   "\"2016-07-10\",\"expected\":35,\"reported\":1,\"on_time\":1,"));
    PQfinish(c);
}

Test(completeness, report_table_and_csv_say_the_same)
{
    char ci[512], args[1024], err[2048];
    static char out[64 * 1024];
    PGconn *c = scenario("ct_completeness_text", ci, sizeof(ci));

    snprintf(args, sizeof(args),
             "report --completeness --year 2016 --round Q1 --format csv"
             " --db '%s'",
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(strstr(out, "year,round,period_end,due,district,expected,reported,on_time,"
                                   "state,late,missing\n"));
    cr_assert_not_null(strstr(out, "\n2016,Q1,2016-03-31,2016-04-10,jinshui,2,2,1,late,"
                                   "hightech_output,\n"));
    cr_assert_not_null(strstr(out, "\n2016,Q1,2016-03-31,2016-04-10,guancheng,2,1,1,partial,,"
                                   "rd_centers_municipal\n"));
    cr_assert_not_null(strstr(out, "\n2016,Q1,2016-03-31,2016-04-10,shangjie,2,0,0,missing,,"
                                   "hightech_output;rd_centers_municipal\n"));
    cr_assert_not_null(strstr(out, "\n2016,Q1,2016-03-31,2016-04-10,zhongyuan,2,2,2,on_time,,\n"));

    snprintf(args, sizeof(args), "report --completeness --year 2016 --round Q1 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(strstr(out,
                              "Q1  截至 period end 2016-03-31 · 报送期限 due 2016-04-10\n"
                              "    应报 expected 35 · 已报 reported 11 (31.4%) · 按时 on time 9 "
                              "(25.7%)\n"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "迟报 late\n      迟报 late: hightech_output\n"), "%s", out);
    cr_assert_not_null(strstr(out, "未报 missing\n      未报 missing: hightech_output, "
                                   "rd_centers_municipal\n"),
                       "%s", out);
    PQfinish(c);
}

Test(completeness, unknown_years_and_rounds_are_named)
{
    char ci[512], args[1024], err[2048];
    static char out[64 * 1024];
    PGconn *c = store_db("ct_completeness_unknown", ci, sizeof(ci));

    snprintf(args, sizeof(args), "report --completeness --year 2015 --round Q2 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert_not_null(strstr(err, "no round 'Q2' in 2015 (rounds: Q1 H1 Q3 Y)"), "%s", err);
    snprintf(args, sizeof(args), "report --completeness --year 2019 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert_not_null(strstr(err, "no rounds for year 2019 (years with rounds: 2015)"), "%s", err);
    snprintf(args, sizeof(args), "report --round Q1 --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2);
    cr_assert_not_null(strstr(err, "--round goes with --completeness"), "%s", err);
    /* the default year is the latest with rounds */
    snprintf(args, sizeof(args), "report --completeness --format json --db '%s'", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(strstr(out, "{\"year\":2015,\"rounds\":[{\"round\":\"Q1\","), "%s", out);
    PQfinish(c);
}

/* The daemon stores what the wire says: `queued` in queued_ms, NULL where it is absent. */
Test(completeness, queued_travels_from_the_wire_into_the_log)
{
    struct wc_client *cl;
    struct ct_update *u;

    aggtest_start(&t, "ct_completeness_wire");
    aggtest_add_agent(&t, "erqi-1", "erqi");
    cl = aggtest_client(&t, "erqi-1", "erqi", NULL, NULL, NULL);
    wc_expect_welcome(cl, 0);
    cl->out->type = CT_MSG_BATCH;
    strcpy(cl->out->batch.agent, "erqi-1");
    strcpy(cl->out->batch.district, "erqi");
    cr_assert_eq(ct_msg_reserve(cl->out, CT_MSG_BATCH, 2), 0);
    cl->out->batch.n_updates = 2;
    for (size_t i = 0; i < 2; i++) {
        u = &cl->out->batch.updates[i];
        memset(u, 0, sizeof(*u));
        u->seq = i + 1;
        strcpy(u->ind, "hightech_output");
        u->op = CT_OP_SET;
        u->value = (struct ct_value){.kind = CT_VALUE_INT, .as.i = 5};
        u->period = 2015;
        u->at_ms = 1427778000000LL;                  /* 2015-03-31T13:00:00+08:00 */
        u->queued_ms = i == 0 ? 1428570000123LL : 0; /* 2015-04-09T17:00:00.123+08:00 */
    }
    cr_assert_eq(wc_send_msg(cl), 0);
    wc_expect_ack(cl, 2, 0);
    cr_assert_eq(pgtest_scalar(t.db, "SELECT queued_ms FROM updates WHERE seq = 1"),
                 1428570000123LL);
    cr_assert_eq(pgtest_scalar(t.db, "SELECT count(*) FROM updates WHERE seq = 2 AND queued_ms"
                                     " IS NULL"),
                 1);
    /* and so the 2015 Q1 round counts the first as on time, the second by its commit (now) */
    cr_assert_eq(pgtest_scalar(t.db, "SELECT count(*) FROM citytally_completeness(2015) WHERE"
                                     " round = 'Q1' AND district = 'erqi' AND indicator ="
                                     " 'hightech_output' AND status = 'on_time'"),
                 1);
}

/* /api/completeness prints exactly what `report --completeness --format json` prints; the
 * page shows every cell with its state in words and its missing codes on hover and in
 * text; bad parameters are named. */
Test(completeness, http_api_and_page_agree_with_the_report)
{
    struct http_reply r = {0};
    char args[1024], err[2048];
    static char out[64 * 1024];
    uint16_t port;

    t.extra_args[0] = "--http";
    t.extra_args[1] = "127.0.0.1:0";
    aggtest_start(&t, "ct_completeness_http");
    port = http_port_from_log(t.proc.log_path);
    cr_assert_neq(port, 0);
    populate(t.db, t.conninfo);

    snprintf(args, sizeof(args),
             "report --completeness --year 2016 --round Q1 --format json"
             " --db '%s'",
             t.conninfo);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(http_get(port, "/api/completeness?year=2016&round=Q1", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.content_type, "application/json; charset=utf-8");
    cr_assert_str_eq(r.body, out);
    http_reply_free(&r);

    cr_assert_eq(http_get(port, "/completeness?year=2016", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_null(strstr(r.body, "<script"), "readable with scripts off: there are none");
    const char *expect[] = {
        "<tr data-district=\"jinshui\"><th scope=\"row\">金水区",
        "<td class=\"cell late\" data-state=\"late\" title=\"迟报 late: 高新技术产业产值 "
        "(hightech_output)\"><span class=\"sym\">!</span>迟报 <span class=\"en\">late</span>"
        "<br><small>已报 2/2 · 按时 1</small></td>",
        "<td class=\"cell partial\" data-state=\"partial\" title=\"未报 missing: ",
        "<td class=\"cell missing\" data-state=\"missing\" title=\"未报 missing: ",
        "<td class=\"cell on_time\" data-state=\"on_time\"><span class=\"sym\">✓</span>按时",
        "<li data-district=\"shangjie\"><b>上街区</b> 未报 missing (2): ",
        "应报 expected 35<br>已报 reported 11<br>按时 on time 9",
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        cr_assert_not_null(strstr(r.body, expect[i]), "missing %s in the page", expect[i]);
    http_reply_free(&r);

    cr_assert_eq(http_get(port, "/api/completeness?year=2016&round=Q2", &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "no round 'Q2' in 2016 (rounds: Q1 H1)\n");
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/api/completeness?year=16", &r), 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(r.body, "year: '16' is not a year (1900 to 9999)\n");
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/api/completeness?round=Q1;drop", &r), 0);
    cr_assert_eq(r.status, 400);
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/completeness?year=2030", &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_not_null(strstr(r.body, "no rounds for year 2030 (years with rounds: 2015 2016)"));
    http_reply_free(&r);
}
