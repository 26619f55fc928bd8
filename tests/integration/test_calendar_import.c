/* `calendar import` (CONTRACT section 9): the shipped 2015 calendar is in every new
 * database; a good file replaces the years it names; any bad line refuses the whole file
 * with a line naming it, and nothing changes. */
#include "store_fixture.h"

#include <unistd.h>

#define HEADER "year,round,period_end,due,indicators\n"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}

static long long calendar_hash(PGconn *c)
{
    return pgtest_scalar(c, "SELECT coalesce(hashtext(string_agg(year || round || period_end"
                            " || due || coalesce(indicators::text, '*'), ','"
                            " ORDER BY year, position)), 0) FROM rounds");
}

Test(calendar_import, the_2015_calendar_ships_with_the_schema)
{
    char ci[512];
    PGconn *c = store_db("ct_calendar_seed", ci, sizeof(ci));

    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2015"), 4);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2015 AND"
                                  " indicators IS NULL"),
                 4, "every 2015 round asks for every indicator (*)");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE (round, position, period_end,"
                                  " due) IN (('Q1', 1, '2015-03-31', '2015-04-10'),"
                                  " ('H1', 2, '2015-06-30', '2015-07-10'),"
                                  " ('Q3', 3, '2015-09-30', '2015-10-10'),"
                                  " ('Y', 4, '2015-12-31', '2016-01-15'))"),
                 4);
    /* Windows: Q1 opens at the start of 2015 (UTC+8), H1 right after Q1's period_end day. */
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_round_windows(2015) WHERE"
                                  " (round = 'Q1' AND opens = '2015-01-01T00:00:00+08'"
                                  "  AND closes = '2015-04-01T00:00:00+08'"
                                  "  AND due_end = '2015-04-11T00:00:00+08') OR"
                                  " (round = 'H1' AND opens = '2015-04-01T00:00:00+08')"),
                 2);
    PQfinish(c);
}

Test(calendar_import, good_file_replaces_the_years_it_names)
{
    char ci[512], args[1024], out[1024], err[4096];
    const char *path = "/tmp/ct-calendar-good.csv";
    PGconn *c = store_db("ct_calendar_good", ci, sizeof(ci));

    write_file(path,
               HEADER "2016,H1,2016-06-30,2016-07-08,*\n"
                      "2016,Y,2016-12-31,2017-01-15,\"hightech_output; rd_centers_municipal\"\n"
                      "2015,Y,2015-12-31,2016-01-20,st_contribution_rate\n");
    snprintf(args, sizeof(args), "calendar import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out, "3 rounds loaded from /tmp/ct-calendar-good.csv\n");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2016"), 2);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2016 AND round = 'Y'"
                                  " AND position = 2 AND indicators ="
                                  " '{hightech_output,rd_centers_municipal}'"),
                 1);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2015"), 1,
                 "2015 is replaced, not merged");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2015 AND due ="
                                  " '2016-01-20' AND indicators = '{st_contribution_rate}'"),
                 1);
    unlink(path);
    PQfinish(c);
}

/* One bad line at a time: each is named with its line and reason, and nothing changes. */
Test(calendar_import, each_bad_line_refuses_the_whole_file)
{
    static const struct {
        const char *file, *expect;
    } cases[] = {
        {HEADER "2016,Q1,2016-03-31,2016-04-10,*\n2016,H1,2016-06-31,2016-07-10,*\n",
         ":3: period_end '2016-06-31' is not a date (YYYY-MM-DD)"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10,*\n2016,H1,2016-06-30,30/07/2016,*\n",
         ":3: due '30/07/2016' is not a date (YYYY-MM-DD)"},
        {HEADER "2016,Q1,2016-03-31,2016-03-30,*\n", ":2: due 2016-03-30 is before period_end "
                                                     "2016-03-31"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10,hightech_output;rd_centres\n",
         ":2: indicators: unknown indicator 'rd_centres'"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10,hightech_output;hightech_output\n",
         ":2: indicators: 'hightech_output' is listed twice"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10,*\n2016,Q1,2016-06-30,2016-07-10,*\n",
         ":3: round 2016 Q1 is already defined on line 2"},
        {HEADER "2016,H1,2016-06-30,2016-07-10,*\n2016,Q1,2016-03-31,2016-04-10,*\n",
         ":3: periods out of order: period_end 2016-03-31 is not after 2016-06-30"},
        {"year,round,period_end,deadline,indicators\n2016,Q1,2016-03-31,2016-04-10,*\n",
         ":1: the header is 'year,round,period_end,deadline,indicators'; it must be "
         "year,round,period_end,due,indicators"},
        {HEADER "2016,Q1,2017-03-31,2017-04-10,*\n", ":2: period_end 2017-03-31 is not in year "
                                                     "2016"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10\n", ":2: 4 fields, but the header has 5"},
        {HEADER "2016,Q1,2016-03-31,2016-04-10,\n", ":2: indicators: an empty code"},
        {HEADER "", "has no rounds"},
    };
    char ci[512], args[1024], out[1024], err[4096];
    const char *path = "/tmp/ct-calendar-bad.csv";
    PGconn *c = store_db("ct_calendar_bad", ci, sizeof(ci));
    long long before = calendar_hash(c);

    snprintf(args, sizeof(args), "calendar import %s --db '%s'", path, ci);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(path, cases[i].file);
        cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1, "case %zu", i);
        cr_assert(strstr(err, cases[i].expect) != NULL, "case %zu: missing \"%s\" in:\n%s", i,
                  cases[i].expect, err);
        cr_assert(strstr(err, "/tmp/ct-calendar-bad.csv is invalid; nothing was changed") != NULL,
                  "case %zu: %s", i, err);
        cr_assert_str_eq(out, "", "case %zu", i);
        cr_assert_eq(calendar_hash(c), before, "case %zu changed the calendar", i);
        cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2016"), 0);
    }
    /* A good line before a bad one is not loaded either, and only the bad line is named. */
    write_file(path, HEADER "2016,Q1,2016-03-31,2016-04-10,*\n2016,H1,2016-02-30,2016-07-10,*\n");
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert_null(strstr(err, ":2:"), "%s", err);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM rounds WHERE year = 2016"), 0);
    unlink(path);
    PQfinish(c);
}

Test(calendar_import, usage_and_unreadable_files)
{
    char out[1024], err[1024];

    cr_assert_eq(run_aggregator("calendar", out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "usage: calendar import FILE.csv") != NULL, "%s", err);
    cr_assert_eq(run_aggregator("calendar import /no/such/calendar.csv --db 'dbname=x'", out,
                                sizeof(out), err, sizeof(err)),
                 1);
    cr_assert(strstr(err, "cannot open /no/such/calendar.csv") != NULL, "%s", err);
}

Test(calendar_import, shipped_2015_file_imports_cleanly_over_itself)
{
    char ci[512], args[1024], out[1024], err[4096];
    PGconn *c = store_db("ct_calendar_self", ci, sizeof(ci));
    const char *src = getenv("CT_SOURCE_DIR");
    long long before = calendar_hash(c);

    cr_assert(src != NULL);
    snprintf(args, sizeof(args), "calendar import %s/data/calendar-2015.csv --db '%s'", src, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(calendar_hash(c), before);
    PQfinish(c);
}
