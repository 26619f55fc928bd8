/* Each target kind of CONTRACT section 4, with its edge cases, against real PostgreSQL. */
#include "store_fixture.h"

#define END_JUNE "2015-06-30T23:59:59.999+08:00"
#define YEAR_END "2015-12-31T23:59:59.999+08:00"

Test(progress_kinds, sum_adds_every_units_value)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_sum", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-03-01T10:00:00+08");
    put(c, "a2", 1, "jinshui", "rd_centers_municipal", 2015, "set", "30", "2015-03-02T10:00:00+08");
    put(c, "a2", 2, "jinshui", "rd_centers_municipal", 2015, "add", "5", "2015-04-02T10:00:00+08");
    put(c, "a3", 1, "gaoxin", "rd_centers_municipal", 2014, "set", "99", "2014-12-01T10:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "rd_centers_municipal"), "47");
    cr_assert_str_eq(progress_of(c, 2015, END_JUNE, "rd_centers_municipal", "units_reporting",
                                 (char[16]){0}, 16),
                     "2", "last year's figures do not count towards this year's sum");
    cr_assert_str_eq(
        progress_of(c, 2015, END_JUNE, "rd_centers_municipal", "pct", (char[16]){0}, 16), "47");
    PQfinish(c);
}

Test(progress_kinds, target_without_updates_has_no_data)
{
    char ci[512], buf[64];
    PGconn *c = store_db("ct_kind_nodata", ci, sizeof(ci));

    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "incubation_area"));
    cr_assert_null(progress_of(c, 2015, END_JUNE, "incubation_area", "pct", buf, sizeof(buf)));
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "incubation_area"), "no_data");
    cr_assert_str_eq(
        progress_of(c, 2015, END_JUNE, "incubation_area", "units_reporting", buf, sizeof(buf)),
        "0");
    PQfinish(c);
}

Test(progress_kinds, ratio_counts_only_units_that_reported_both)
{
    char ci[512], buf[16];
    PGconn *c = store_db("ct_kind_ratio", ci, sizeof(ci));

    /* 100 x (30 + 20) / (60 + 40) = 50; zhongyuan has no denominator and is left out */
    put(c, "a1", 1, "erqi", "hightech_value_added", 2015, "set", "30", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "industrial_value_added", 2015, "set", "60", "2015-05-01T00:00:00+08");
    put(c, "a2", 1, "jinshui", "hightech_value_added", 2015, "set", "20", "2015-05-01T00:00:00+08");
    put(c, "a2", 2, "jinshui", "industrial_value_added", 2015, "set", "40",
        "2015-05-01T00:00:00+08");
    put(c, "a3", 1, "zhongyuan", "hightech_value_added", 2015, "set", "1000",
        "2015-05-01T00:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "hightech_va_share"), "50");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "hightech_va_share"), "met");
    cr_assert_str_eq(
        progress_of(c, 2015, END_JUNE, "hightech_va_share", "units_reporting", buf, sizeof(buf)),
        "2");
    PQfinish(c);
}

Test(progress_kinds, ratio_is_rounded_to_four_decimals_and_trimmed)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_ratio_round", ci, sizeof(ci));

    /* patents per 10k residents: 1 x 200 / 30 = 6.6667, behind 6.8 */
    put(c, "a1", 1, "erqi", "invention_patents_held", 2015, "set", "200", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "resident_population", 2015, "set", "30", "2015-05-01T00:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "patents_per_10k"), "6.6667");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "patents_per_10k"), "behind",
                     "ratios are not paced: only sums of flows can be on track");
    PQfinish(c);
}

Test(progress_kinds, ratio_with_zero_denominator_has_no_value)
{
    char ci[512], buf[16];
    PGconn *c = store_db("ct_kind_ratio_zero", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "hightech_value_added", 2015, "set", "30", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "industrial_value_added", 2015, "set", "0", "2015-05-01T00:00:00+08");
    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "hightech_va_share"));
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "hightech_va_share"), "no_data");
    cr_assert_str_eq(
        progress_of(c, 2015, END_JUNE, "hightech_va_share", "units_reporting", buf, sizeof(buf)),
        "1");
    PQfinish(c);
}

Test(progress_kinds, ratio_without_any_denominator_has_no_value)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_ratio_noden", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "hightech_value_added", 2015, "set", "30", "2015-05-01T00:00:00+08");
    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "hightech_va_share"));
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "hightech_va_share"), "no_data");
    PQfinish(c);
}

Test(progress_kinds, growth_compares_with_last_years_figure)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_growth", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "tech_contract_turnover", 2014, "set", "80", "2014-12-31T12:00:00+08");
    put(c, "a2", 1, "jinshui", "tech_contract_turnover", 2014, "set", "20",
        "2014-12-31T12:00:00+08");
    put(c, "a1", 2, "erqi", "tech_contract_turnover", 2015, "set", "100", "2015-06-01T12:00:00+08");
    put(c, "a2", 2, "jinshui", "tech_contract_turnover", 2015, "set", "16",
        "2015-06-01T12:00:00+08");
    /* 100 x (116 / 100 - 1) = 16, exactly the target */
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "tech_contract_growth"), "16");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "tech_contract_growth"), "met");
    /* as of before the 2015 figures: A(2015) missing, no value */
    cr_assert_null(ACTUAL(c, 2015, "2015-05-01", "tech_contract_growth"));
    PQfinish(c);
}

Test(progress_kinds, growth_without_a_baseline_has_no_value)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_growth_nobase", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "tech_contract_turnover", 2015, "set", "100", "2015-06-01T12:00:00+08");
    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "tech_contract_growth"));
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "tech_contract_growth"), "no_data");
    /* a zero baseline is no baseline either */
    put(c, "a1", 2, "erqi", "tech_contract_turnover", 2014, "set", "0", "2014-12-01T12:00:00+08");
    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "tech_contract_growth"));
    PQfinish(c);
}

Test(progress_kinds, growth_of_a_ratio_uses_both_years_ratios)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_growth_ratio", ci, sizeof(ci));

    /* 2014: 50 / 10 = 5 per 10k; 2015: 66 / 11 = 6; growth 20% */
    put(c, "a1", 1, "erqi", "invention_patents_held", 2014, "set", "50", "2014-12-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "resident_population", 2014, "set", "10", "2014-12-01T00:00:00+08");
    put(c, "a1", 3, "erqi", "invention_patents_held", 2015, "set", "66", "2015-06-01T00:00:00+08");
    put(c, "a1", 4, "erqi", "resident_population", 2015, "set", "11", "2015-06-01T00:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "patents_per_10k"), "6");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "patents_per_10k_growth"), "20");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "patents_per_10k_growth"), "met");
    PQfinish(c);
}

Test(progress_kinds, city_target_takes_only_the_municipal_units_value)
{
    char ci[512], buf[16];
    PGconn *c = store_db("ct_kind_city", ci, sizeof(ci));

    cr_assert_null(ACTUAL(c, 2015, END_JUNE, "st_contribution_rate"));
    put(c, "c1", 1, "city", "st_contribution_rate", 2015, "set", "58.5", "2015-06-01T00:00:00+08");
    /* a district's figure for the same indicator is not the city's */
    put(c, "a1", 1, "erqi", "st_contribution_rate", 2015, "set", "99", "2015-06-01T00:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, END_JUNE, "st_contribution_rate"), "58.5");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "st_contribution_rate"), "behind");
    cr_assert_str_eq(
        progress_of(c, 2015, END_JUNE, "st_contribution_rate", "units_reporting", buf, sizeof(buf)),
        "1");
    PQfinish(c);
}

Test(progress_kinds, flow_sum_is_on_track_when_ahead_of_the_years_pace)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_pace", ci, sizeof(ci));

    /* at the end of June 181/365 of 2015 has passed: 100 x 0.4959 = 49.59 */
    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "50", "2015-06-01T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "rd_centers_municipal"), "on_track");
    put(c, "a1", 2, "erqi", "rd_centers_municipal", 2015, "set", "49", "2015-06-02T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "rd_centers_municipal"), "behind");
    cr_assert_str_eq(STATUS(c, 2015, YEAR_END, "rd_centers_municipal"), "behind");
    put(c, "a1", 3, "erqi", "rd_centers_municipal", 2015, "add", "51", "2015-07-02T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, YEAR_END, "rd_centers_municipal"), "met");
    PQfinish(c);
}

Test(progress_kinds, stock_sum_is_never_on_track)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_stock", ci, sizeof(ci));

    /* invention_patents_held is a stock; a sum target over it cannot be paced. Give the
     * year a sum target of it through a targets row of its own. */
    pgtest_exec(c, "INSERT INTO targets (year, code, position, kind, indicator, comparator,"
                   " target, name_zh, name_en) VALUES (2015, 'patents_stock', 99, 'sum',"
                   " 'invention_patents_held', '>=', 100, '发明专利', 'Patents')");
    put(c, "a1", 1, "erqi", "invention_patents_held", 2015, "set", "90", "2015-06-01T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, END_JUNE, "patents_stock"), "behind");
    PQfinish(c);
}

Test(progress_kinds, strict_comparator_is_not_met_by_equality)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_strict", ci, sizeof(ci));

    /* hightech_output: > 6500. Equal is not met; it is still on the year's pace, which
     * asks for actual >= target x elapsed whatever the comparator. */
    put(c, "a1", 1, "erqi", "hightech_output", 2015, "set", "6500", "2015-12-01T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, YEAR_END, "hightech_output"), "on_track");
    cr_assert_str_eq(STATUS(c, 2015, "2015-12-01T00:00:00+08", "hightech_output"), "on_track");
    put(c, "a1", 2, "erqi", "hightech_output", 2015, "add", "0.01", "2015-12-02T00:00:00+08");
    cr_assert_str_eq(STATUS(c, 2015, YEAR_END, "hightech_output"), "met");
    cr_assert_str_eq(ACTUAL(c, 2015, YEAR_END, "hightech_output"), "6500.01");
    PQfinish(c);
}

Test(progress_kinds, per_unit_function_gives_each_units_own_figure)
{
    char ci[512];
    PGconn *c = store_db("ct_kind_by_unit", ci, sizeof(ci));

    put(c, "a1", 1, "erqi", "hightech_value_added", 2015, "set", "30", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "industrial_value_added", 2015, "set", "60", "2015-05-01T00:00:00+08");
    put(c, "a2", 1, "jinshui", "hightech_value_added", 2015, "set", "20", "2015-05-01T00:00:00+08");
    put(c, "a2", 2, "jinshui", "industrial_value_added", 2015, "set", "0",
        "2015-05-01T00:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_progress_by_unit(2015, now())"
                                  " WHERE target_code = 'hightech_va_share'"),
                 2);
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM citytally_progress_by_unit(2015, now())"
                                  " WHERE target_code = 'hightech_va_share' AND district = 'erqi'"),
                 50);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_progress_by_unit(2015, now())"
                                  " WHERE target_code = 'hightech_va_share'"
                                  " AND district = 'jinshui' AND value IS NULL"),
                 1, "a unit whose denominator is 0 is listed without a value");
    PQfinish(c);
}
