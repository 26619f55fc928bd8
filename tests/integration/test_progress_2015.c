/* All 35 targets of the 2015 plan are there, in the plan's order, each with the status the
 * contract gives it for a known set of figures. */
#include "buf.h"
#include "store_fixture.h"

#define END_JUNE "2015-06-30T23:59:59.999+08:00"

static void figures(PGconn *c)
{
    /* set: met / on track (50% of the year passed, 60% done) / behind */
    put(c, "a1", 1, "erqi", "complex_started", 2015, "set", "12", "2015-05-01T00:00:00+08");
    put(c, "a2", 1, "jinshui", "complex_started", 2015, "set", "8", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "complex_built_area", 2015, "set", "600000", "2015-05-01T00:00:00+08");
    put(c, "a1", 3, "erqi", "hightech_output", 2015, "set", "3000", "2015-06-01T00:00:00+08");
    put(c, "a1", 4, "erqi", "hightech_output", 2014, "set", "2500", "2014-12-31T00:00:00+08");
    put(c, "a1", 5, "erqi", "hightech_value_added", 2015, "set", "450", "2015-06-01T00:00:00+08");
    put(c, "a1", 6, "erqi", "industrial_value_added", 2015, "set", "1000",
        "2015-06-01T00:00:00+08");
    put(c, "a1", 7, "erqi", "invention_patents_held", 2015, "set", "68", "2015-06-01T00:00:00+08");
    put(c, "a1", 8, "erqi", "resident_population", 2015, "set", "10", "2015-06-01T00:00:00+08");
    put(c, "a1", 9, "erqi", "invention_patents_held", 2014, "set", "60", "2014-12-01T00:00:00+08");
    put(c, "a1", 10, "erqi", "resident_population", 2014, "set", "10", "2014-12-01T00:00:00+08");
    put(c, "c1", 1, "city", "st_contribution_rate", 2015, "set", "61", "2015-06-01T00:00:00+08");
    put(c, "a2", 2, "jinshui", "industry_alliances", 2015, "add", "2", "2015-03-01T00:00:00+08");
    put(c, "a3", 1, "gaoxin", "industry_alliances", 2015, "add", "1", "2015-04-01T00:00:00+08");
    put(c, "a3", 2, "gaoxin", "rd_centers_municipal", 2015, "set", "50", "2015-06-30T12:00:00+08");
    put(c, "a3", 3, "gaoxin", "st_enterprises", 2015, "set", "100", "2015-06-30T12:00:00+08");
    /* after the as-of time: must not count */
    put(c, "a3", 4, "gaoxin", "st_enterprises", 2015, "set", "1000", "2015-07-01T00:00:00+08");
}

static const char *const expected = "complexes_launched|sum|20|met|2\n"
                                    "complex_built_area|sum|600000|on_track|1\n"
                                    "hightech_output|sum|3000|behind|1\n"
                                    "hightech_output_growth|growth|20|met|1\n"
                                    "hightech_va_share|ratio|45|behind|1\n"
                                    "patents_per_10k|ratio|6.8|met|1\n"
                                    "patents_per_10k_growth|growth|13.3333|behind|1\n"
                                    "tech_contract_turnover|sum||no_data|0\n"
                                    "tech_contract_growth|growth||no_data|0\n"
                                    "st_contribution_rate|city|61|met|1\n"
                                    "industry_alliances|sum|3|met|2\n"
                                    "industry_institutes|sum||no_data|0\n"
                                    "agri_clusters_provincial|sum||no_data|0\n"
                                    "agri_st_parks|sum||no_data|0\n"
                                    "benefit_projects|sum||no_data|0\n"
                                    "science_experience_centers|sum||no_data|0\n"
                                    "science_education_bases|sum||no_data|0\n"
                                    "rd_centers_municipal|sum|50|on_track|1\n"
                                    "rd_centers_provincial|sum||no_data|0\n"
                                    "academician_workstations|sum||no_data|0\n"
                                    "hightech_parks|sum||no_data|0\n"
                                    "st_enterprises|sum|100|behind|1\n"
                                    "innovative_pilot_enterprises|sum||no_data|0\n"
                                    "hightech_enterprises|sum||no_data|0\n"
                                    "tech_transfer_institutions|sum||no_data|0\n"
                                    "tech_transfer_subsidy_projects|sum||no_data|0\n"
                                    "soft_science_bases|sum||no_data|0\n"
                                    "intl_cooperation_bases|sum||no_data|0\n"
                                    "high_end_talents|sum||no_data|0\n"
                                    "st_entrepreneurs|sum||no_data|0\n"
                                    "incubators_municipal|sum||no_data|0\n"
                                    "incubators_provincial|sum||no_data|0\n"
                                    "incubators_national|sum||no_data|0\n"
                                    "incubation_area|sum||no_data|0\n"
                                    "public_service_platforms|sum||no_data|0\n";

Test(progress_2015, all_35_targets_appear_in_order_with_the_contracts_statuses)
{
    char ci[512];
    PGconn *c = store_db("ct_2015_all", ci, sizeof(ci));
    struct ct_buf got = CT_BUF_INIT;
    PGresult *res;

    figures(c);
    res = PQexec(c, "SELECT target_code, kind, coalesce(actual::text, ''), status, units_reporting"
                    " FROM citytally_progress(2015, '" END_JUNE "')");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    cr_assert_eq(PQntuples(res), 35);
    for (int i = 0; i < PQntuples(res); i++)
        ct_buf_printf(&got, "%s|%s|%s|%s|%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    cr_assert_str_eq(got.data, expected);
    PQclear(res);
    ct_buf_free(&got);
    PQfinish(c);
}

Test(progress_2015, targets_compare_with_the_plans_numbers)
{
    char ci[512];
    PGconn *c = store_db("ct_2015_numbers", ci, sizeof(ci));

    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_progress(2015, now())"
                                  " WHERE status = 'no_data' AND actual IS NULL"),
                 35);
    cr_assert_eq(pgtest_scalar(c, "SELECT target FROM citytally_progress(2015, now())"
                                  " WHERE target_code = 'complex_built_area'"),
                 1000000);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM citytally_progress(2015, now())"
                                  " WHERE comparator = '>'"),
                 1);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM city_progress WHERE year = 2015"), 35);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM information_schema.columns"
                                  " WHERE table_name = 'city_progress'"),
                 9, "city_progress is year plus citytally_progress's eight columns");
    PQfinish(c);
}

Test(progress_2015, progress_function_has_the_contracts_columns_and_types)
{
    char ci[512];
    PGconn *c = store_db("ct_2015_types", ci, sizeof(ci));
    PGresult *res = PQexec(c, "SELECT * FROM citytally_progress(2015, now()) LIMIT 0");
    const char *names[] = {"target_code", "kind", "actual", "target",
                           "comparator",  "pct",  "status", "units_reporting"};
    const char *types[] = {"text", "text", "numeric", "numeric", "text", "numeric", "text", "int4"};

    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    cr_assert_eq(PQnfields(res), 8);
    for (int i = 0; i < 8; i++) {
        char sql[128];
        cr_assert_str_eq(PQfname(res, i), names[i]);
        snprintf(sql, sizeof(sql), "SELECT (typname = '%s')::int FROM pg_type WHERE oid = %u",
                 types[i], PQftype(res, i));
        cr_assert_eq(pgtest_scalar(c, sql), 1, "column %s is not %s", names[i], types[i]);
    }
    PQclear(res);
    PQfinish(c);
}
