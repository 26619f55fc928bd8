/* CONTRACT section 11 against real PostgreSQL: as known at, series and diff. */
#include "store_fixture.h"
#include "trends.h"

#include <stdlib.h>

#define END_JUNE "2015-06-30T23:59:59.999+08:00"

/* A value of one row and column, copied into `out`; NULL for SQL NULL. */
static const char *scalar_text(PGconn *c, const char *sql, char *out, size_t size)
{
    PGresult *res = PQexec(c, sql);
    const char *v = NULL;

    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    cr_assert_eq(PQntuples(res), 1, "%s: %d rows", sql, PQntuples(res));
    if (!PQgetisnull(res, 0, 0)) {
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
        v = out;
    }
    PQclear(res);
    return v;
}

/* Acceptance 1a: record K, send a back-dated correction; the report as of D known at K is
 * byte for byte the report taken at K. */
Test(briefings, known_at_reproduces_the_report_taken_then)
{
    char ci[512], args[1024], then[16384], later[16384], again[16384], k_text[64], err[256];
    PGconn *c = store_db("ct_brief_known", ci, sizeof(ci));
    long long k_ms;

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-03-01T10:00:00+08");
    put(c, "a2", 1, "jinshui", "rd_centers_municipal", 2015, "set", "30", "2015-06-20T10:00:00+08");
    put(c, "a2", 2, "jinshui", "hightech_value_added", 2015, "set", "20", "2015-06-20T10:00:00+08");
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-06-30 --format json", ci);
    cr_assert_eq(run_aggregator(args, then, sizeof(then), NULL, 0), 0);
    /* K: a millisecond after everything above committed; then wait (on the server's
     * clock) until K is past before the correction is sent. */
    k_ms = pgtest_scalar(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 1");
    for (int i = 0; i < 100000; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT (clock_timestamp() > timestamptz 'epoch' + %lld * interval '1 ms' +"
                 " interval '1 ms')::int",
                 k_ms);
        if (pgtest_scalar(c, sql) == 1)
            break;
    }
    ct_time_format(k_ms, k_text, sizeof(k_text));
    /* observed on 20 June, sent now: it changes "as of 30 June" */
    put(c, "a2", 3, "jinshui", "rd_centers_municipal", 2015, "set", "25", "2015-06-20T12:00:00+08");
    put(c, "a2", 4, "jinshui", "hightech_value_added", 2015, "add", "-2", "2015-06-21T12:00:00+08");
    cr_assert_eq(run_aggregator(args, later, sizeof(later), NULL, 0), 0);
    cr_assert_str_neq(later, then, "the correction must change the report as known now");
    snprintf(args, sizeof(args),
             "report --db '%s' --as-of 2015-06-30 --known-at '%s' --format json", ci, k_text);
    cr_assert_eq(run_aggregator(args, again, sizeof(again), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(again, then);
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "rd_centers_municipal"), "37");
    PQfinish(c);
}

Test(briefings, known_at_is_refused_when_it_is_not_a_time)
{
    char ci[512], args[1024], err[512];
    PGconn *c = store_db("ct_brief_badk", ci, sizeof(ci));

    snprintf(args, sizeof(args), "report --db '%s' --known-at yesterday", ci);
    cr_assert_eq(run_aggregator(args, NULL, 0, err, sizeof(err)), 2);
    cr_assert_str_eq(err,
                     "citytally-aggregator report: --known-at: expected a date like 2015-06-30\n");
    PQfinish(c);
}

/* Section 2's fold done the slow way, over the log, for comparison. */
static const char *reference_fold =
    "CREATE FUNCTION ref_values(y int, x timestamptz, k timestamptz)"
    " RETURNS TABLE (district text, indicator text, period int, value numeric) LANGUAGE sql AS $$"
    " WITH r AS (SELECT * FROM updates u WHERE u.observed_at <= x AND u.received_at <= k"
    "              AND u.period IN (y, y - 1)),"
    " run AS (SELECT r.district, r.indicator, r.period, r.op, r.value, row_number() OVER w pos,"
    "         sum(CASE WHEN r.op = 'add' THEN r.value ELSE 0 END) OVER w adds FROM r"
    "         WINDOW w AS (PARTITION BY r.district, r.indicator, r.period ORDER BY r.observed_at,"
    "                      r.agent_id COLLATE \"C\", r.seq ROWS UNBOUNDED PRECEDING)),"
    " f AS (SELECT run.district, run.indicator, run.period,"
    "       max(ARRAY[pos, run.value, run.adds]) FILTER (WHERE op = 'set') ls,"
    "       sum(run.value) FILTER (WHERE op = 'add') a FROM run GROUP BY 1, 2, 3)"
    " SELECT f.district, f.indicator, f.period,"
    "        CASE WHEN ls IS NOT NULL THEN ls[2] + coalesce(a, 0) - ls[3] ELSE a END FROM f $$";

/* Every kind of lateness at once: in-order rows received an hour later, back-dated
 * corrections received months later, rows stamped ahead of their receipt, adds-only keys,
 * ties at one millisecond. Each (as_of, known_at) pair must agree with the slow fold. */
Test(briefings, known_at_agrees_with_a_replay_of_the_log)
{
    char ci[512], sql[2048];
    PGconn *c = store_db("ct_brief_replay", ci, sizeof(ci));
    static const char *const pairs[][2] = {
        {"2015-06-30 23:59:59.999+08", "2015-06-30 23:59:59.999+08"},
        {"2015-06-30 23:59:59.999+08", "2015-07-05+08"},
        {"2015-06-30 23:59:59.999+08", "2015-11-20 00:30+08"},
        {"2015-06-30 23:59:59.999+08", "infinity"},
        {"2015-06-30 12:00+08", "2015-06-01+08"},
        {"2015-12-31 23:59:59.999+08", "2015-06-01+08"},
        {"2015-12-31 23:59:59.999+08", "2015-05-01 00:05+08"},
        {"2015-03-15 10:00+08", "2015-11-20 00:20+08"},
        {"2016-01-01+08", "2015-11-20 00:45+08"},
        {"2015-01-01+08", "2015-01-01+08"},
    };

    pgtest_exec(c, reference_fold);
    /* 3,000 rows over 2015 for 4 units and 6 indicators, 70% set, received an hour late */
    pgtest_exec(c, "SELECT setseed(0.18)");
    pgtest_exec(c,
                "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                " observed_at, received_at)"
                " SELECT 'a-' || d, g, d, i, CASE WHEN g % 40 = 0 THEN 2014 ELSE 2015 END,"
                "  CASE WHEN random() < 0.7 THEN 'set' ELSE 'add' END,"
                "  round((random() * 1000 - 100)::numeric, 2),"
                "  timestamptz '2015-01-01+08' + (g / 4) * interval '3 hours',"
                "  timestamptz '2015-01-01+08' + (g / 4) * interval '3 hours' + interval '1 hour'"
                " FROM generate_series(1, 3000) g,"
                "  LATERAL (SELECT (ARRAY['erqi','jinshui','gaoxin','city'])[1 + g % 4] AS d) dd,"
                "  LATERAL (SELECT CASE WHEN d = 'city' THEN 'st_contribution_rate'"
                "   ELSE (ARRAY['rd_centers_municipal','hightech_value_added',"
                "   'industrial_value_added','industry_alliances','tech_contract_turnover'])"
                "   [1 + (g / 4) % 5] END AS i) ii");
    /* adds only, for one key: no set ever */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at, received_at)"
                   " SELECT 'a-zhongmu', g, 'zhongmu', 'industry_alliances', 2015, 'add', g,"
                   "  timestamptz '2015-02-01+08' + g * interval '5 days',"
                   "  timestamptz '2015-02-01+08' + g * interval '5 days' + interval '1 minute'"
                   " FROM generate_series(1, 60) g");
    /* back-dated corrections received in November, sets and adds, two at one instant */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at, received_at, note)"
                   " SELECT 'a-erqi', 10000 + g, 'erqi',"
                   "  (ARRAY['rd_centers_municipal','hightech_value_added'])[1 + g % 2], 2015,"
                   "  CASE WHEN g % 3 = 0 THEN 'add' ELSE 'set' END, g * 7,"
                   "  timestamptz '2015-03-01 12:00+08' + (g / 2) * interval '1 day 3 hours',"
                   "  timestamptz '2015-11-20+08' + g * interval '1 minute', 'correction'"
                   " FROM generate_series(1, 60) g");
    pgtest_exec(c,
                "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                " observed_at, received_at)"
                " SELECT 'a-zhongmu', 100 + g, 'zhongmu', 'industry_alliances', 2015, 'add', 1000,"
                "  timestamptz '2015-03-03 12:00+08' + g * interval '9 days',"
                "  timestamptz '2015-11-20 00:10+08' + g * interval '1 minute'"
                " FROM generate_series(1, 10) g");
    /* stamped ahead: observed in autumn, received in May */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at, received_at)"
                   " SELECT 'a-jinshui', 10000 + g, 'jinshui', 'industry_alliances', 2015, 'set',"
                   "  g * 11, timestamptz '2015-09-01 12:00+08' + g * interval '1 day',"
                   "  timestamptz '2015-05-01+08' + g * interval '1 minute'"
                   " FROM generate_series(1, 10) g");
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM ("
                 " (SELECT * FROM ref_values(2015, '%1$s', '%2$s') EXCEPT ALL"
                 "  SELECT * FROM citytally_unit_values_at(2015, '%1$s', '%2$s', NULL))"
                 " UNION ALL"
                 " (SELECT * FROM citytally_unit_values_at(2015, '%1$s', '%2$s', NULL) EXCEPT ALL"
                 "  SELECT * FROM ref_values(2015, '%1$s', '%2$s'))) d",
                 pairs[i][0], pairs[i][1]);
        cr_expect_eq(pgtest_scalar(c, sql), 0, "as of %s known at %s differs from the log",
                     pairs[i][0], pairs[i][1]);
    }
    /* as of a closed day (a month end), daily_values alone says what the log says */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM generate_series(1, 12) m,"
                                  " LATERAL (SELECT citytally_day_start(((make_date(2015, m, 1)"
                                  "  + interval '1 month')::date - date '1970-01-01'))"
                                  "  - interval '1 millisecond' AS e) e"
                                  " WHERE citytally_day_closed(e.e)"),
                 12);
    cr_assert_eq(
        pgtest_scalar(c, "SELECT count(*) FROM generate_series(1, 12) m,"
                         " LATERAL (SELECT citytally_day_start(((make_date(2015, m, 1)"
                         "  + interval '1 month')::date - date '1970-01-01'))"
                         "  - interval '1 millisecond' AS e) e,"
                         " LATERAL ((SELECT * FROM citytally_unit_values_closed(2015, e.e)"
                         "  EXCEPT ALL SELECT * FROM citytally_unit_values_observed(2015, e.e))"
                         "  UNION ALL"
                         "  (SELECT * FROM citytally_unit_values_observed(2015, e.e)"
                         "  EXCEPT ALL SELECT * FROM citytally_unit_values_closed(2015, e.e))) d"),
        0);
    cr_assert_eq(pgtest_scalar(c, "SELECT citytally_day_closed('2015-03-01 10:00+08')::int"), 0,
                 "a day with updates after as_of is not closed");
    /* the two-argument form is the same as known now */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM ("
                                  " (SELECT * FROM citytally_progress(2015, '2015-08-01+08')"
                                  "  EXCEPT SELECT * FROM citytally_progress(2015,"
                                  "  '2015-08-01+08', NULL))) d"),
                 0);
    PQfinish(c);
}

Test(briefings, series_points_equal_progress_at_each_step_end)
{
    char ci[512], buf[64];
    PGconn *c = store_db("ct_brief_series", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-03-01T10:00:00+08");
    put(c, "a2", 1, "jinshui", "rd_centers_municipal", 2015, "set", "30", "2015-05-02T10:00:00+08");
    put(c, "a2", 2, "jinshui", "rd_centers_municipal", 2015, "add", "5", "2015-07-31T23:59:59+08");
    put(c, "a2", 3, "jinshui", "rd_centers_municipal", 2014, "set", "9", "2014-04-02T10:00:00+08");
    put(c, "a1", 2, "erqi", "industry_alliances", 2015, "set", "100", "2015-04-01T10:00:00+08");
    put(c, "a1", 3, "erqi", "industry_alliances", 2014, "set", "80", "2014-04-01T10:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal') WHERE year = 2015"),
                 12);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal') WHERE year = 2014"),
                 12);
    /* every point of every target, month and week, is citytally_progress at that time */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets t"
                                  " CROSS JOIN (VALUES ('month'), ('week')) st(step)"
                                  " CROSS JOIN LATERAL citytally_series(2015, t.code, st.step) s"
                                  " JOIN LATERAL citytally_progress(2015, s.at) p"
                                  "   ON p.target_code = t.code"
                                  " WHERE t.year = 2015 AND s.year = 2015"
                                  "   AND p.actual IS DISTINCT FROM s.actual"),
                 0);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal', 'week') WHERE year = 2015"),
                 53, "52 Sundays in 2015 and 31 December");
    cr_assert_str_eq(scalar_text(c,
                                 "SELECT actual::text FROM citytally_series(2015,"
                                 " 'rd_centers_municipal') WHERE at = '2015-07-31 23:59:59.999+08'",
                                 buf, sizeof(buf)),
                     "47");
    cr_assert_str_eq(scalar_text(c,
                                 "SELECT actual::text FROM citytally_series(2015,"
                                 " 'rd_centers_municipal') WHERE at = '2014-12-31 23:59:59.999+08'",
                                 buf, sizeof(buf)),
                     "9", "last year's curve is last year's data");
    /* pro rata: 100 x the fraction of 2015 elapsed at the end of June (181/365) */
    cr_assert_str_eq(
        scalar_text(c,
                    "SELECT (expected = trim_scale(round(t.target * citytally_year_elapsed(2015,"
                    " '2015-06-30 23:59:59.999+08'), 4)))::text FROM citytally_series(2015,"
                    " 'rd_centers_municipal') s, targets t WHERE t.year = 2015"
                    " AND t.code = 'rd_centers_municipal' AND s.at = '2015-06-30 23:59:59.999+08'",
                    buf, sizeof(buf)),
        "true");
    cr_assert_null(scalar_text(c,
                               "SELECT min(expected) FROM citytally_series(2015,"
                               " 'hightech_va_share')",
                               buf, sizeof(buf)),
                   "a ratio has no pro-rata line");
    PQfinish(c);
}

Test(briefings, diff_contributions_add_up_to_each_delta)
{
    char ci[512], args[1024], out[65536], err[256], buf[64];
    PGconn *c = store_db("ct_brief_diff", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-05-01T10:00:00+08");
    put(c, "a1", 2, "erqi", "rd_centers_municipal", 2015, "add", "3", "2015-05-02T10:00:00+08");
    /* in June: a set below the value (contribution 10 - 15 = -5), an add, a set again */
    put(c, "a1", 3, "erqi", "rd_centers_municipal", 2015, "set", "10", "2015-06-03T10:00:00+08");
    put(c, "a1", 4, "erqi", "rd_centers_municipal", 2015, "add", "0.1", "2015-06-04T10:00:00+08");
    put(c, "a1", 5, "erqi", "rd_centers_municipal", 2015, "set", "20.3", "2015-06-05T10:00:00+08");
    /* a unit with no value before June, adds only */
    put(c, "a2", 1, "jinshui", "rd_centers_municipal", 2015, "add", "7", "2015-06-10T10:00:00+08");
    put(c, "a2", 2, "jinshui", "rd_centers_municipal", 2015, "add", "-2", "2015-06-11T10:00:00+08");
    /* a ratio moved too, and a figure set to what it was (no change, not listed) */
    put(c, "a2", 3, "jinshui", "hightech_value_added", 2015, "set", "20", "2015-06-10T10:00:00+08");
    put(c, "a2", 4, "jinshui", "industrial_value_added", 2015, "set", "40",
        "2015-06-10T10:00:00+08");
    put(c, "a1", 6, "erqi", "industry_alliances", 2015, "set", "5", "2015-05-10T10:00:00+08");
    put(c, "a1", 7, "erqi", "industry_alliances", 2015, "set", "5", "2015-06-10T10:00:00+08");

    cr_assert_eq(
        pgtest_scalar(c, "SELECT count(*) FROM citytally_diff(2015, '2015-05-31 23:59:59.999+08',"
                         " '2015-06-30 23:59:59.999+08') WHERE target_code = 'industry_alliances'"),
        0);
    cr_assert_str_eq(
        scalar_text(c,
                    "SELECT before || ' ' || after || ' ' || delta FROM citytally_diff("
                    "2015, '2015-05-31 23:59:59.999+08', '2015-06-30 23:59:59.999+08')"
                    " WHERE target_code = 'rd_centers_municipal'",
                    buf, sizeof(buf)),
        "15 25.3 10.3");
    /* every sum target: contributions add up to the delta exactly */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_diff(2015,"
                                  " '2015-05-31 23:59:59.999+08', '2015-06-30 23:59:59.999+08') d"
                                  " WHERE d.kind = 'sum' AND d.delta IS DISTINCT FROM"
                                  " (SELECT sum(u.contribution) FROM citytally_diff_updates(2015,"
                                  "  '2015-05-31 23:59:59.999+08', '2015-06-30 23:59:59.999+08') u"
                                  "  WHERE u.target_code = d.target_code)"),
                 0);
    cr_assert_str_eq(scalar_text(c,
                                 "SELECT string_agg(contribution::text, ' ' ORDER BY"
                                 " district, observed_at) FROM citytally_diff_updates(2015,"
                                 " '2015-05-31 23:59:59.999+08', '2015-06-30 23:59:59.999+08')"
                                 " WHERE target_code = 'rd_centers_municipal'",
                                 buf, sizeof(buf)),
                     "-5 0.1 10.2 7 -2");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_diff_updates(2015,"
                                  " '2015-05-31 23:59:59.999+08', '2015-06-30 23:59:59.999+08')"
                                  " WHERE target_code = 'hightech_va_share'"
                                  " AND contribution IS NULL"),
                 2, "a ratio lists both updates behind it, without contributions");

    snprintf(args, sizeof(args), "report --db '%s' --diff 2015-05-31 2015-06-30 --format json", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out,
                     "{\"year\":2015,\"from\":\"2015-05-31T23:59:59.999+08:00\",\"to\":"
                     "\"2015-06-30T23:59:59.999+08:00\",\"targets\":[{\"code\":"
                     "\"hightech_va_share\",\"before\":null,\"after\":50,\"delta\":null,") == out,
              "%s", out);
    cr_assert(strstr(out, "{\"code\":"
                          "\"rd_centers_municipal\",\"before\":15,\"after\":25.3,\"delta\":10.3,"
                          "\"updates\":[{\"agent\":\"a1\",\"district\":\"erqi\",\"seq\":3,"
                          "\"indicator\":\"rd_centers_municipal\",\"op\":\"set\",\"value\":10,"
                          "\"observed_at\":\"2015-06-03T10:00:00+08:00\",\"note\":null,") != NULL,
              "%s", out);
    snprintf(args, sizeof(args), "report --db '%s' --diff 2015-06-30 2015-05-31", ci);
    cr_assert_eq(run_aggregator(args, NULL, 0, err, sizeof(err)), 1);
    cr_assert_str_eq(err, "citytally-aggregator report: the diff's FROM must be before its TO\n");
    PQfinish(c);
}

/* The dashboard's batched read: every target's points in one query, equal to each
 * target's own citytally_series, and loaded into contiguous runs per target. */
Test(briefings, all_series_at_once_equal_each_targets_series)
{
    char ci[512], err[256];
    PGconn *c = store_db("ct_brief_series_all", ci, sizeof(ci));
    struct agg_trends *t = NULL;
    const struct agg_trend *rd;
    long long targets;

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-03-01T10:00:00+08");
    put(c, "a2", 1, "jinshui", "rd_centers_municipal", 2015, "add", "5", "2015-07-31T23:59:59+08");
    put(c, "a2", 2, "jinshui", "rd_centers_municipal", 2014, "set", "9", "2014-04-02T10:00:00+08");
    put(c, "a2", 3, "jinshui", "hightech_value_added", 2015, "set", "20", "2015-06-10T10:00:00+08");
    put(c, "a2", 4, "jinshui", "industrial_value_added", 2015, "set", "40",
        "2015-06-10T10:00:00+08");
    targets = pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series_all(2015, 'month',"
                                  " 'infinity')"),
                 targets * 24);
    /* the same rows, value for value, as the per-target function */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM ("
                                  " (SELECT target_code, year, at, actual, expected"
                                  "    FROM citytally_series_all(2015, 'month', 'infinity')"
                                  "  EXCEPT ALL"
                                  "  SELECT t.code, s.year, s.at, s.actual, s.expected"
                                  "    FROM targets t, citytally_series(2015, t.code) s"
                                  "   WHERE t.year = 2015)"
                                  " UNION ALL"
                                  " (SELECT t.code, s.year, s.at, s.actual, s.expected"
                                  "    FROM targets t, citytally_series(2015, t.code) s"
                                  "   WHERE t.year = 2015"
                                  "  EXCEPT ALL"
                                  "  SELECT target_code, year, at, actual, expected"
                                  "    FROM citytally_series_all(2015, 'month', 'infinity'))) x"),
                 0);
    /* up to the dashboard's as_of: June's end is the last point of 2015 */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series_all(2015, 'month',"
                                  " '2015-06-30 23:59:59.999+08') WHERE year = 2015"),
                 targets * 6);

    cr_assert_eq(agg_trends_load(c, 2015, 253402300799999LL /* 9999-12-31 */, &t, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(t->n_targets, (size_t)targets);
    rd = agg_trends_find(t, "rd_centers_municipal");
    cr_assert_not_null(rd);
    cr_assert_eq(rd->n_points, 12);
    cr_assert_eq(rd->n_previous, 12);
    cr_assert_null(rd->points[0].actual, "nothing in January");
    cr_assert_str_eq(rd->points[2].actual, "12");
    cr_assert_str_eq(rd->points[6].actual, "17");
    cr_assert_not_null(rd->points[6].expected, "a sum of a flow has a pro-rata line");
    cr_assert_str_eq(rd->previous[11].actual, "9");
    cr_assert_null(agg_trends_find(t, "no_such_target"));
    for (size_t i = 0; i < t->n_targets; i++)
        cr_assert_eq(t->targets[i].n_points + t->targets[i].n_previous, 24, "%s",
                     t->targets[i].code);
    agg_trends_free(t);
    PQfinish(c);
}

/* The dashboard's revised mark: the figures as of D that an update received after S
 * changed, with what they were as known at S; nothing else. */
Test(briefings, revised_lists_the_figures_a_later_update_changed)
{
    char ci[512], err[256];
    PGconn *c = store_db("ct_brief_revised", ci, sizeof(ci));
    struct agg_revisions *r = NULL;
    long long s_ms, june_ms = 1435679999999LL; /* 2015-06-30T23:59:59.999+08:00 */

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-03-01T10:00:00+08");
    put(c, "a1", 2, "erqi", "industry_alliances", 2015, "set", "5", "2015-03-01T10:00:00+08");
    s_ms = pgtest_scalar(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 1");
    for (int i = 0; i < 100000; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT (clock_timestamp() > timestamptz 'epoch' + %lld * interval '1 ms' +"
                 " interval '1 ms')::int",
                 s_ms);
        if (pgtest_scalar(c, sql) == 1)
            break;
    }
    /* back-dated into June, and one observed in July (not part of "as of June") */
    put(c, "a1", 3, "erqi", "rd_centers_municipal", 2015, "add", "1", "2015-06-30T21:00:00+08");
    put(c, "a1", 4, "erqi", "industry_alliances", 2015, "add", "1", "2015-07-02T10:00:00+08");

    cr_assert_eq(agg_revisions_load(c, 2015, june_ms, s_ms, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r->n, 1);
    cr_assert_str_eq(r->items[0].code, "rd_centers_municipal");
    cr_assert_str_eq(r->items[0].before, "12");
    cr_assert_null(agg_revisions_find(r, "industry_alliances"));
    agg_revisions_free(r);
    /* as of the year's end, both were revised; since now, nothing was */
    cr_assert_eq(
        agg_revisions_load(c, 2015, 253402300799999LL /* 9999-12-31 */, s_ms, &r, err, sizeof(err)),
        0);
    cr_assert_eq(r->n, 2);
    cr_assert_not_null(agg_revisions_find(r, "industry_alliances"));
    agg_revisions_free(r);
    cr_assert_eq(agg_revisions_load(c, 2015, june_ms,
                                    pgtest_scalar(c, "SELECT (extract(epoch FROM"
                                                     " clock_timestamp()) * 1000)::bigint"),
                                    &r, err, sizeof(err)),
                 0);
    cr_assert_eq(r->n, 0);
    agg_revisions_free(r);
    PQfinish(c);
}

/* A series as known at K: each point is citytally_progress at that step end as known at
 * K, for a target with a back-dated correction (received after K) and for one without. */
Test(briefings, series_as_known_at_equals_progress_known_at_each_step_end)
{
    char ci[512], buf[64];
    PGconn *c = store_db("ct_brief_series_known", ci, sizeof(ci));

    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at, received_at)"
                   " SELECT 'a-' || d, g, d, i, CASE WHEN g % 5 = 0 THEN 2014 ELSE 2015 END,"
                   "  CASE WHEN g % 3 = 0 THEN 'add' ELSE 'set' END, g,"
                   "  timestamptz '2014-06-01+08' + g * interval '1 day',"
                   "  timestamptz '2014-06-01+08' + g * interval '1 day' + interval '1 hour'"
                   " FROM generate_series(1, 500) g,"
                   "  LATERAL (SELECT (ARRAY['erqi','jinshui'])[1 + g % 2] AS d) dd,"
                   "  LATERAL (SELECT (ARRAY['rd_centers_municipal','hightech_value_added',"
                   "   'industrial_value_added'])[1 + (g / 2) % 3] AS i) ii");
    /* back-dated, received in November: one into May 2015, one into last year */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at, received_at, note) VALUES"
                   " ('a-fix', 1, 'erqi', 'rd_centers_municipal', 2015, 'add', 1000,"
                   "  '2015-05-10 12:00+08', '2015-11-20+08', 'correction'),"
                   " ('a-fix', 2, 'erqi', 'rd_centers_municipal', 2014, 'add', 100,"
                   "  '2014-07-10 12:00+08', '2015-11-20+08', 'correction')");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets t"
                                  " CROSS JOIN LATERAL citytally_series(2015, t.code, 'month',"
                                  "  '2015-09-01+08') s"
                                  " JOIN LATERAL citytally_progress(2015, s.at, '2015-09-01+08') p"
                                  "   ON p.target_code = t.code"
                                  " WHERE t.year = 2015 AND s.year = 2015"
                                  "   AND t.code IN ('rd_centers_municipal', 'hightech_va_share',"
                                  "                  'hightech_output')"
                                  "   AND p.actual IS DISTINCT FROM s.actual"),
                 0);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal', 'month', '2015-09-01+08')"
                                  " WHERE year = 2015"),
                 8, "up to known_at: January to August");
    /* the correction is in the series as known now, not as known at K */
    cr_assert_str_eq(scalar_text(c,
                                 "SELECT (n.actual - k.actual)::text"
                                 " FROM citytally_series(2015, 'rd_centers_municipal') n"
                                 " JOIN citytally_series(2015, 'rd_centers_municipal', 'month',"
                                 "  '2015-09-01+08') k USING (year, at)"
                                 " WHERE at = '2015-04-30 23:59:59.999+08'",
                                 buf, sizeof(buf)),
                     "0", "before the correction's day nothing differs");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal') n"
                                  " JOIN citytally_series(2015, 'rd_centers_municipal', 'month',"
                                  "  '2015-09-01+08') k USING (year, at)"
                                  " WHERE n.actual IS DISTINCT FROM k.actual"),
                 pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal') n"
                                  " JOIN citytally_series(2015, 'rd_centers_municipal', 'month',"
                                  "  '2015-09-01+08') k USING (year, at)"
                                  " WHERE n.actual - k.actual IN (1000, 100)"),
                 "every difference is the correction");
    cr_assert_gt(pgtest_scalar(c, "SELECT count(*) FROM citytally_series(2015,"
                                  " 'rd_centers_municipal') n"
                                  " JOIN citytally_series(2015, 'rd_centers_municipal', 'month',"
                                  "  '2015-09-01+08') k USING (year, at)"
                                  " WHERE n.actual IS DISTINCT FROM k.actual AND year = 2014"),
                 0, "last year's curve as known at K lacks last year's correction");
    PQfinish(c);
}
