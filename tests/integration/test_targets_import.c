/* `targets import`: a whole file is checked; then the year is replaced atomically, or
 * nothing changes and every problem is printed with its line. */
#include "store_fixture.h"

#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}

#define HEADER                                                                                     \
    "code,kind,indicator,denominator,scale,of_target,comparator,target,unit,name_zh,"              \
    "name_en,clause\n"

Test(targets_import, valid_file_replaces_that_years_targets)
{
    char ci[512], args[1024], out[1024], err[4096];
    const char *path = "/tmp/ct-targets-2016.csv";
    PGconn *c = store_db("ct_targets_ok", ci, sizeof(ci));

    write_file(path, HEADER
               "rd,sum,rd_centers_municipal,,,,>=,120,家,新建市级研发中心120家,Build 120,三.11\n"
               "share,ratio,hightech_value_added,industrial_value_added,100,,>=,55,%,占比,"
               "Share,\n"
               "rd_growth,growth,,,,rd,>=,10,%,\"增长10%, 以上\",\"Grow 10%, or more\",\n");
    snprintf(args, sizeof(args), "targets import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, "targets for 2016 replaced from /tmp/ct-targets-2016.csv\n");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2016"), 3);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 35,
                 "other years are untouched");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2016"
                                  " AND code = 'rd_growth' AND name_en = 'Grow 10%, or more'"),
                 1);

    /* again, with fewer rows: the year is replaced, not merged */
    write_file(path, HEADER "rd,sum,rd_centers_municipal,,,,>=,130,家,研发中心,R&D,\n");
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2016"), 1);
    cr_assert_eq(pgtest_scalar(c, "SELECT target FROM targets WHERE year = 2016"), 130);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_progress(2016, now())"), 1);
    unlink(path);
    PQfinish(c);
}

Test(targets_import, invalid_file_lists_every_problem_and_changes_nothing)
{
    char ci[512], args[1024], out[1024], err[8192];
    const char *path = "/tmp/ct-targets-bad.csv";
    PGconn *c = store_db("ct_targets_bad", ci, sizeof(ci));

    write_file(path, HEADER "ok,sum,rd_centers_municipal,,,,>=,1,个,好,Fine,\n"  /* line 2 */
                            "a,product,rd_centers_municipal,,,,>=,1,个,甲,A,\n"  /* line 3 */
                            "b,sum,no_such_indicator,,,,>=,1,个,乙,B,\n"         /* line 4 */
                            "c,ratio,hightech_value_added,,,,>=,1,%,丙,C,\n"     /* line 5 */
                            "d,growth,,,,missing,>=,1,%,丁,D,\n"                 /* line 6 */
                            "e,sum,rd_centers_municipal,,,,=>,1,个,戊,E,\n"      /* line 7 */
                            "f,sum,rd_centers_municipal,,,,>=,lots,个,己,F,\n"   /* line 8 */
                            "ok,sum,rd_centers_municipal,,,,>=,1,个,好,Again,\n" /* line 9 */
                            "g,growth,,,,d,>=,1,%,庚,G,\n"                       /* line 10 */
                            "h,sum,rd_centers_municipal\n");                     /* line 11 */
    snprintf(args, sizeof(args), "targets import %s --year 2015 --db '%s'", path, ci);
    long long before = pgtest_scalar(
        c, "SELECT hashtext(string_agg(code || target, ',' ORDER BY position)) FROM targets");
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    const char *expect[] = {
        "/tmp/ct-targets-bad.csv:3: kind 'product' is not one of sum, ratio, growth, city",
        "/tmp/ct-targets-bad.csv:4: unknown indicator 'no_such_indicator'",
        "/tmp/ct-targets-bad.csv:5: a ratio target needs a denominator",
        "/tmp/ct-targets-bad.csv:7: comparator '=>' is not one of >=, >, <=, <",
        "/tmp/ct-targets-bad.csv:8: target 'lots' is not a number",
        "/tmp/ct-targets-bad.csv:9: code 'ok' is already used on line 2",
        "/tmp/ct-targets-bad.csv:11: 3 fields, but the header has 12",
        "/tmp/ct-targets-bad.csv:6: of_target 'missing' is not a target of this file",
        "/tmp/ct-targets-bad.csv:10: of_target 'd' is itself a growth target",
        "is invalid; nothing was changed",
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        cr_assert(strstr(err, expect[i]) != NULL, "missing \"%s\" in:\n%s", expect[i], err);
    cr_assert_null(strstr(err, ":2:"), "line 2 is fine:\n%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT hashtext(string_agg(code || target, ','"
                                  " ORDER BY position)) FROM targets"),
                 before);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 35);
    unlink(path);
    PQfinish(c);
}

Test(targets_import, header_problems_stop_before_the_rows)
{
    char ci[512], args[1024], out[1024], err[4096];
    const char *path = "/tmp/ct-targets-header-2017.csv";
    PGconn *c = store_db("ct_targets_header", ci, sizeof(ci));

    write_file(path, "code,kind,indicator,colour,comparator\nx,sum,rd_centers_municipal,red,>=\n");
    snprintf(args, sizeof(args), "targets import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, ":1: unknown column 'colour'") != NULL, "%s", err);
    cr_assert(strstr(err, ":1: missing column 'target'") != NULL, "%s", err);
    cr_assert(strstr(err, ":1: missing column 'name_zh'") != NULL, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2017"), 0);
    unlink(path);
    PQfinish(c);
}

Test(targets_import, file_name_without_a_year_needs_the_flag)
{
    char out[1024], err[1024];

    cr_assert_eq(run_aggregator("targets import /tmp/plan.csv", out, sizeof(out), err, sizeof(err)),
                 2);
    cr_assert(strstr(err, "no year in the file name; give --year YEAR") != NULL, "%s", err);
    cr_assert_eq(run_aggregator("targets import", out, sizeof(out), err, sizeof(err)), 2);
    cr_assert_eq(run_aggregator("targets import /no/such/targets-2016.csv --db 'dbname=x'", out,
                                sizeof(out), err, sizeof(err)),
                 1);
    cr_assert(strstr(err, "cannot open /no/such/targets-2016.csv") != NULL, "%s", err);
}

Test(targets_import, shipped_2015_file_imports_cleanly_over_itself)
{
    char ci[512], args[1024], out[1024], err[4096];
    PGconn *c = store_db("ct_targets_self", ci, sizeof(ci));
    const char *src = getenv("CT_SOURCE_DIR");

    cr_assert(src != NULL);
    snprintf(args, sizeof(args), "targets import %s/data/targets-2015.csv --db '%s'", src, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM targets WHERE year = 2015"), 35);
    PQfinish(c);
}
