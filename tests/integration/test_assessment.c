/* Unit targets and the assessment (CONTRACT section 8): a targets file with unit rows,
 * refused whole when a unit row is wrong; report --district against the unit's own target;
 * the scores and ranks of report --assessment against figures worked out by hand below; and
 * the pace (expected_to_date, pace_pct) of a flow sum target at the half year. */
#include "store_fixture.h"

#include <unistd.h>

#define HEADER                                                                                     \
    "code,kind,indicator,denominator,scale,of_target,comparator,target,unit,name_zh,"              \
    "name_en,clause,district\n"

/* rd: the city's 100 split among three units (40 + 20 + 10: unit targets need not add up);
 * share: a ratio that only gaoxin holds a target of; contracts: two units; rate: kind city. */
#define SPLIT_FILE                                                                                  \
    HEADER "rd,sum,rd_centers_municipal,,,,>=,100,家,新建市级研发中心,New R&D centres,,\n" \
           "rd,sum,rd_centers_municipal,,,,>=,40,家,,,,gaoxin\n"                                   \
           "rd,sum,rd_centers_municipal,,,,>=,20,家,,,,jinshui\n"                                  \
           "rd,sum,rd_centers_municipal,,,,>=,10,家,,,,erqi\n"                                     \
           "share,ratio,hightech_value_added,industrial_value_added,100,,>=,50,%,占比,Share,,\n"  \
           "share,ratio,hightech_value_added,industrial_value_added,100,,>=,60,%,,,,gaoxin\n"       \
           "contracts,sum,tech_contract_turnover,,,,>=,130,亿元,技术合同,Contracts,,\n"       \
           "contracts,sum,tech_contract_turnover,,,,>=,10,亿元,,,,jinshui\n"                      \
           "contracts,sum,tech_contract_turnover,,,,>=,10,亿元,,,,zhongyuan\n"                    \
           "rate,city,st_contribution_rate,,,,>=,60,%,贡献率,Rate,,\n"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}

static void import_split(PGconn *c, const char *ci, const char *path)
{
    char args[1024], out[1024], err[4096];

    write_file(path, SPLIT_FILE);
    snprintf(args, sizeof(args), "targets import %s --year 2015 --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 4);
}

/* Half-year and year-end figures. By hand, as of 2015-12-31:
 *   erqi      rd 12 of its 10 -> pct 120, counts 100                    score 100
 *   gaoxin    rd 30 of 40 -> 75; share 100 x 36 / 50 = 72 of 60 -> 120, counts 100
 *                                                          (75 + 100) / 2 = 87.5
 *   jinshui   rd 20 of 20 -> 100; contracts 7.5 of 10 -> 75   (100 + 75) / 2 = 87.5
 *   zhongyuan contracts: no value, counts 0                                  score 0
 *   the other 13 units hold no target of their own: no score, no rank.
 * gaoxin and jinshui tie at 87.5: district id order puts gaoxin first. */
static void figures(PGconn *c)
{
    put(c, "g1", 1, "gaoxin", "rd_centers_municipal", 2015, "set", "14", "2015-06-20T10:00:00+08");
    put(c, "g1", 2, "gaoxin", "rd_centers_municipal", 2015, "set", "30", "2015-12-20T10:00:00+08");
    put(c, "g1", 3, "gaoxin", "hightech_value_added", 2015, "set", "36", "2015-12-20T10:00:00+08");
    put(c, "g1", 4, "gaoxin", "industrial_value_added", 2015, "set", "50",
        "2015-12-20T10:00:00+08");
    put(c, "j1", 1, "jinshui", "rd_centers_municipal", 2015, "set", "20", "2015-12-01T10:00:00+08");
    put(c, "j1", 2, "jinshui", "tech_contract_turnover", 2015, "set", "3",
        "2015-06-15T10:00:00+08");
    put(c, "j1", 3, "jinshui", "tech_contract_turnover", 2015, "set", "7.5",
        "2015-12-01T10:00:00+08");
    put(c, "e1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-11-01T10:00:00+08");
    put(c, "x1", 1, "xinmi", "rd_centers_municipal", 2015, "set", "5", "2015-11-01T10:00:00+08");
}

Test(assessment, unit_rows_are_imported_beside_the_city_rows)
{
    char ci[512];
    const char *path = "/tmp/ct-assess-import-2015.csv";
    PGconn *c = store_db("ct_assess_import", ci, sizeof(ci));

    import_split(c, ci, path);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM unit_targets WHERE year = 2015"), 6);
    cr_assert_eq(pgtest_scalar(c, "SELECT target FROM unit_targets WHERE code = 'rd'"
                                  " AND district = 'gaoxin'"),
                 40);
    cr_assert_eq(pgtest_scalar(c, "SELECT target FROM targets WHERE code = 'rd'"), 100,
                 "the city's own target stays the city row's");
    cr_assert_eq(pgtest_scalar(c, "SELECT position FROM targets WHERE code = 'contracts'"), 3,
                 "positions count the city rows only");

    /* a file without the column replaces the year, its unit targets with it */
    write_file(path, HEADER "rd,sum,rd_centers_municipal,,,,>=,100,家,研发中心,R&D,,\n");
    char args[1024], out[1024], err[4096];
    snprintf(args, sizeof(args), "targets import %s --year 2015 --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM unit_targets"), 0);
    unlink(path);
    PQfinish(c);
}

static long long fingerprint(PGconn *c)
{
    return pgtest_scalar(c, "SELECT hashtext((SELECT coalesce(string_agg(code || target, ','"
                            " ORDER BY code), '') FROM targets) || '/' || (SELECT"
                            " coalesce(string_agg(code || district || target, ',' ORDER BY"
                            " code, district), '') FROM unit_targets))");
}

/* One bad unit row refuses the file: `row` is appended to SPLIT_FILE as its line 12. */
static void refused(PGconn *c, const char *ci, const char *row, const char *why)
{
    char args[1024], out[1024], err[4096], text[4096], line[512];
    const char *path = "/tmp/ct-assess-bad-2015.csv";
    long long before = fingerprint(c);

    snprintf(text, sizeof(text), "%s%s", SPLIT_FILE, row);
    write_file(path, text);
    snprintf(args, sizeof(args), "targets import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1, "%s", row);
    snprintf(line, sizeof(line), "%s:12: %s\n", path, why);
    cr_assert(strstr(err, line) != NULL, "missing \"%s\" in:\n%s", line, err);
    cr_assert(strstr(err, "is invalid; nothing was changed") != NULL, "%s", err);
    size_t lines = 0;
    for (const char *q = err; *q; q++)
        lines += *q == '\n';
    cr_assert_eq(lines, 2, "one line for the problem, one for the verdict:\n%s", err);
    cr_assert_eq(fingerprint(c), before, "%s: nothing changed", row);
    unlink(path);
}

Test(assessment, a_wrong_unit_row_refuses_the_whole_file)
{
    char ci[512];
    PGconn *c = store_db("ct_assess_refused", ci, sizeof(ci));

    import_split(c, ci, "/tmp/ct-assess-refused-2015.csv");
    unlink("/tmp/ct-assess-refused-2015.csv");
    refused(c, ci, "rate,city,st_contribution_rate,,,,>=,70,%,,,,jinshui\n",
            "target 'rate' is of kind city (line 11): it has no unit targets");
    refused(c, ci, "patents,sum,invention_patents_held,,,,>=,70,件,,,,jinshui\n",
            "unit target 'patents' has no city-wide row in this file");
    refused(c, ci, "rd,sum,rd_centers_municipal,,,,>=,5,家,,,,atlantis\n",
            "unknown district 'atlantis'");
    refused(c, ci, "rd,sum,rd_centers_municipal,,,,>=,5,家,,,,erqi\n",
            "code 'rd' for district 'erqi' is already on line 5");
    refused(c, ci, "rd,sum,rd_centers_provincial,,,,>=,5,家,,,,huiji\n",
            "indicator 'rd_centers_provincial' differs from the city-wide row on line 2 "
            "('rd_centers_municipal')");
    refused(c, ci, "rd,sum,rd_centers_municipal,,,,>,5,家,,,,huiji\n",
            "comparator '>' differs from the city-wide row on line 2 ('>=')");
    refused(c, ci, "rd,sum,rd_centers_municipal,,,,>=,5,个,,,,huiji\n",
            "unit '个' differs from the city-wide row on line 2 ('家')");
    refused(c, ci, "contracts,city,tech_contract_turnover,,,,>=,5,亿元,,,,huiji\n",
            "kind 'city' differs from the city-wide row on line 8 ('sum')");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM unit_targets"), 6);
    PQfinish(c);
}

Test(assessment, district_report_uses_the_units_own_target_and_says_so)
{
    char ci[512], args[1024], out[1 << 16], err[4096];
    PGconn *c = store_db("ct_assess_district", ci, sizeof(ci));

    import_split(c, ci, "/tmp/ct-assess-district-2015.csv");
    unlink("/tmp/ct-assess-district-2015.csv");
    figures(c);
    snprintf(args, sizeof(args),
             "report --db '%s' --as-of 2015-12-31 --district jinshui --format json", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "\"code\":\"rd\",\"name_zh\":\"新建市级研发中心\",\"name_en\":\"New R&D "
                          "centres\",\"unit\":\"家\",\"kind\":\"sum\",\"actual\":20,\"target\":20,"
                          "\"target_scope\":\"unit\",\"comparator\":\">=\",\"pct\":100,"
                          "\"status\":\"met\"") != NULL,
              "%s", out);
    cr_assert(strstr(out, "\"code\":\"contracts\",\"name_zh\":\"技术合同\",\"name_en\":"
                          "\"Contracts\",\"unit\":\"亿元\",\"kind\":\"sum\",\"actual\":7.5,"
                          "\"target\":10,\"target_scope\":\"unit\",\"comparator\":\">=\","
                          "\"pct\":75,\"status\":\"behind\"") != NULL,
              "%s", out);
    cr_assert(strstr(out, "\"code\":\"share\",\"name_zh\":\"占比\",\"name_en\":\"Share\","
                          "\"unit\":\"%\",\"kind\":\"ratio\",\"actual\":null,\"target\":50,"
                          "\"target_scope\":\"city\"") != NULL,
              "jinshui holds no share target: the city's, %s", out);

    /* xinmi holds no target: the city's 100, and the table says so */
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-12-31 --district xinmi", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, ">= 100 (city)") != NULL, "%s", out);
    cr_assert_null(strstr(out, " (unit)  "), "no target of its own: %s", out);
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-12-31 --district erqi", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, ">= 10 (unit)") != NULL, "%s", out);
    cr_assert(strstr(out, ">= 130 (city)") != NULL, "%s", out);
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-12-31 --district erqi --format csv",
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, ",rd,新建市级研发中心,New R&D centres,家,sum,12,10,>=,120,met,1,10,120,"
                          "unit\n") != NULL,
              "%s", out);
    PQfinish(c);
}

#define UNIT(rank, id, zh, en, score, assigned, met, on_track, behind, no_data)                    \
    "{\"rank\":" rank ",\"district\":\"" id "\",\"name_zh\":\"" zh "\",\"name_en\":\"" en          \
    "\",\"score\":" score ",\"assigned\":" #assigned ",\"met\":" #met ",\"on_track\":" #on_track   \
    ",\"behind\":" #behind ",\"no_data\":" #no_data ",\"items\":["

Test(assessment, scores_and_ranks_match_the_figures_worked_by_hand)
{
    char ci[512], args[1024], out[1 << 16], err[4096];
    PGconn *c = store_db("ct_assess_rank", ci, sizeof(ci));

    import_split(c, ci, "/tmp/ct-assess-rank-2015.csv");
    unlink("/tmp/ct-assess-rank-2015.csv");
    figures(c);
    snprintf(args, sizeof(args), "report --db '%s' --assessment --as-of 2015-12-31 --format json",
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    const char *want =
        "{\"year\":2015,\"as_of\":\"2015-12-31T23:59:59.999+08:00\",\"units\":[" UNIT(
            "1", "erqi", "二七区", "Erqi District", "100", 1, 1, 0, 0,
            0) "{\"code\":\"rd\",\"actual\":12,\"target\":10,\"pct\":120,\"status\":\"met\"}]}"
               "," UNIT("2", "gaoxin", "郑州高新技术产业开发区",
                        "Zhengzhou High-tech Industrial "
                        "Development Zone",
                        "87.5", 2, 1, 0, 1,
                        0) "{\"code\":\"rd\",\"actual\":30,\"target\":40,\"pct\":75,\"status\":"
                           "\"behind\"},"
                           "{\"code\":\"share\",\"actual\":72,\"target\":60,\"pct\":120,\"status\":"
                           "\"met\"}]}," UNIT(
                               "3", "jinshui", "金水区", "Jinshui District", "87.5", 2, 1, 0, 1,
                               0) "{\"code\":\"rd\",\"actual\":20,\"target\":20,\"pct\":100,"
                                  "\"status\":\"met\"},"
                                  "{\"code\":\"contracts\",\"actual\":7.5,\"target\":10,\"pct\":75,"
                                  "\"status\":\"behind\"}"
                                  "]}," UNIT("4", "zhongyuan", "中原区", "Zhongyuan District", "0",
                                             1, 0, 0, 0,
                                             1) "{\"code\":\"contracts\",\"actual\":null,"
                                                "\"target\":10,\"pct\":null,"
                                                "\"status\":\"no_data\"}]}," UNIT(
                                                    "null", "city", "郑州市本级",
                                                    "Zhengzhou municipal level", "null", 0, 0, 0, 0,
                                                    0) "]}," UNIT("null", "dengfeng", "登封市",
                                                                  "Dengfeng", "null", 0, 0, 0, 0,
                                                                  0) "]},";
    cr_assert(strncmp(out, want, strlen(want)) == 0, "got\n%s\nwant a start of\n%s", out, want);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_assessment(2015, 'infinity')"),
                 17);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_assessment(2015, 'infinity')"
                                  " WHERE rank IS NULL AND score IS NULL AND assigned = 0"),
                 13);

    /* the same ranking as people read it, and as CSV */
    snprintf(args, sizeof(args), "report --db '%s' --assessment --as-of 2015-12-31", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "   2   87.5        2     1         0       1        0  "
                          "郑州高新技术产业开发区") != NULL,
              "%s", out);
    cr_assert(strstr(out, "4 units ranked, 13 without an assigned target") != NULL, "%s", out);
    snprintf(args, sizeof(args), "report --db '%s' --assessment --as-of 2015-12-31 --format csv",
             ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, "2015,2015-12-31T23:59:59.999+08:00,3,jinshui,金水区,Jinshui District,"
                          "87.5,2,1,0,1,0\n") != NULL,
              "%s", out);
    cr_assert(strstr(out, "2015,2015-12-31T23:59:59.999+08:00,,zhengdong,郑东新区,Zhengdong New "
                          "District,,0,0,0,0,0\n") != NULL,
              "%s", out);

    snprintf(args, sizeof(args), "report --db '%s' --assessment --district erqi", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "--assessment ranks every unit; it takes no --district") != NULL, "%s",
              err);
    PQfinish(c);
}

/* 2015 has 365 days; 2015-06-30T24:00+08:00 closes day 181, so 181/365 of it has gone:
 *   city  contracts 130 x 181/365 = 64.46575... -> 64.4658
 *         rd        100 x 181/365 = 49.58904... -> 49.589
 *   jinshui's own contracts 10 x 181/365 = 4.958904... -> 4.9589; its 3 is
 *         100 x 3 / 4.9589 = 60.4973... -> 60.5 of pace
 *   gaoxin's own rd 40 x 181/365 = 19.835616... -> 19.8356; its 14: 70.58 (70.5801...)
 *   xinmi has no rd target of its own: the city's 49.589; its 0 reported by then: no entry
 * The city's rd: 14 (gaoxin) of 49.589 -> 28.2321... -> 28.23. A ratio has no pace. */
Test(assessment, pace_at_the_half_year_for_a_flow_sum_target)
{
    char ci[512], args[1024], out[1 << 16], err[4096], got[64];
    PGconn *c = store_db("ct_assess_pace", ci, sizeof(ci));

    import_split(c, ci, "/tmp/ct-assess-pace-2015.csv");
    unlink("/tmp/ct-assess-pace-2015.csv");
    figures(c);
    for (int i = 0; i < 2; i++) {
        const char *as_of = i == 0 ? "2015-06-30" : "2015-07-01T00:00:00+08:00";
        snprintf(args, sizeof(args), "report --db '%s' --as-of %s --format json", ci, as_of);
        cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
        cr_assert(strstr(out, "\"code\":\"contracts\"") != NULL, "%s", out);
        cr_assert(strstr(out, "\"status\":\"behind\",\"expected_to_date\":64.4658,"
                              "\"pace_pct\":4.65,\"units_reporting\":1,\"by_district\":["
                              "{\"district\":\"jinshui\",\"value\":3,\"expected_to_date\":4.9589,"
                              "\"pace_pct\":60.5}]") != NULL,
                  "%s: %s", as_of, out);
        cr_assert(strstr(out, "\"status\":\"behind\",\"expected_to_date\":49.589,"
                              "\"pace_pct\":28.23,\"units_reporting\":1,\"by_district\":["
                              "{\"district\":\"gaoxin\",\"value\":14,\"expected_to_date\":19.8356,"
                              "\"pace_pct\":70.58}]") != NULL,
                  "%s: %s", as_of, out);
        cr_assert(strstr(out, "\"code\":\"share\",\"name_zh\":\"占比\",\"name_en\":\"Share\","
                              "\"unit\":\"%\",\"kind\":\"ratio\",\"actual\":null,\"target\":50,"
                              "\"comparator\":\">=\",\"pct\":null,\"status\":\"no_data\","
                              "\"expected_to_date\":null,\"pace_pct\":null") != NULL,
                  "%s", out);
    }
    /* 3 of 130 by 2015-06-30 is 4.65 % of pace (100 x 3 / 64.4658) */
    cr_assert_str_eq(progress_of(c, 2015, "2015-06-30", "contracts", "status", got, sizeof(got)),
                     "behind");
    PQfinish(c);
}

Test(assessment, shipped_sample_split_imports_whole)
{
    char ci[512], args[1024], out[1 << 16], err[4096];
    const char *src = getenv("CT_SOURCE_DIR");
    PGconn *c = store_db("ct_assess_sample", ci, sizeof(ci));

    cr_assert(src != NULL);
    snprintf(args, sizeof(args), "targets import %s/deploy/sample/targets-2015-units.csv --db '%s'",
             src, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 35);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM unit_targets WHERE year = 2015"), 288);
    /* split by last year's share, counts by largest remainder: they add up to the city's */
    cr_assert_eq(pgtest_scalar(c, "SELECT sum(target) FROM unit_targets"
                                  " WHERE code = 'complexes_launched'"),
                 20);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM unit_targets u JOIN targets t"
                                  " USING (year, code) WHERE t.kind <> 'sum'"),
                 0);
    snprintf(args, sizeof(args), "report --db '%s' --assessment --format csv", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strstr(out, ",gaoxin,") != NULL, "%s", out);
    PQfinish(c);
}
