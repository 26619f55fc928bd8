/* CONTRACT section 2: a unit's value is the last set by (observed_at, agent_id, seq) plus
 * the adds after it, as of a time, whatever order the updates arrive in. */
#include "store_fixture.h"

#define IND "rd_centers_municipal"
#define CODE "rd_centers_municipal"
#define LATER "2015-12-31"

Test(progress_order, tie_on_observed_at_is_broken_by_agent_then_seq)
{
    char ci[512];
    PGconn *c = store_db("ct_order_tie", ci, sizeof(ci));

    /* same instant: agent "b" sorts after "a", so b's set is last whatever arrives first */
    put(c, "b", 1, "erqi", IND, 2015, "set", "7", "2015-05-01T08:00:00+08");
    put(c, "a", 1, "erqi", IND, 2015, "set", "3", "2015-05-01T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "7");
    /* same instant and agent: the higher seq is later */
    put(c, "b", 3, "erqi", IND, 2015, "set", "9", "2015-05-01T08:00:00+08");
    put(c, "b", 2, "erqi", IND, 2015, "set", "8", "2015-05-01T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "9");
    /* agent ids compare as bytes: "b-2" < "b_1" < "ba" */
    put(c, "b_1", 1, "erqi", IND, 2015, "set", "11", "2015-05-01T08:00:00+08");
    put(c, "b-2", 1, "erqi", IND, 2015, "set", "10", "2015-05-01T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "11");
    PQfinish(c);
}

Test(progress_order, negative_add_corrects_a_value)
{
    char ci[512];
    PGconn *c = store_db("ct_order_negative", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "set", "20", "2015-05-01T08:00:00+08");
    put(c, "a", 2, "erqi", IND, 2015, "add", "-3", "2015-05-02T08:00:00+08");
    put(c, "a", 3, "erqi", IND, 2015, "add", "-2.5", "2015-05-03T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "14.5");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-02", CODE), "17");
    PQfinish(c);
}

Test(progress_order, set_after_adds_replaces_them)
{
    char ci[512];
    PGconn *c = store_db("ct_order_set_after", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "add", "4", "2015-05-01T08:00:00+08");
    put(c, "a", 2, "erqi", IND, 2015, "add", "6", "2015-05-02T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "10", "no set: the sum of the adds");
    put(c, "a", 3, "erqi", IND, 2015, "set", "25", "2015-05-03T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "25");
    put(c, "a", 4, "erqi", IND, 2015, "add", "1", "2015-05-04T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "26");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-02", CODE), "10");
    PQfinish(c);
}

Test(progress_order, late_arrivals_land_where_their_time_says)
{
    char ci[512];
    PGconn *c = store_db("ct_order_late", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "set", "25", "2015-05-03T08:00:00+08");
    put(c, "a", 2, "erqi", IND, 2015, "add", "1", "2015-05-04T08:00:00+08");
    /* arrives last, observed before the set: has no effect on later figures */
    put(c, "b", 1, "erqi", IND, 2015, "add", "100", "2015-05-01T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "26");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-01", CODE), "100");
    /* a set that arrives late but sits between the set and the add */
    put(c, "b", 2, "erqi", IND, 2015, "set", "40", "2015-05-03T20:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "41");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-03", CODE), "40");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-03T19:59:59.999+08:00", CODE), "25");
    PQfinish(c);
}

Test(progress_order, as_of_a_date_includes_its_last_millisecond)
{
    char ci[512];
    PGconn *c = store_db("ct_order_boundary", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "set", "5", "2015-06-30T00:00:00+08");
    put(c, "a", 2, "erqi", IND, 2015, "add", "1", "2015-06-30T23:59:59.999+08");
    put(c, "a", 3, "erqi", IND, 2015, "add", "10", "2015-07-01T00:00:00+08");
    /* "as of 2015-06-30" is the end of that day in UTC+8 */
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-06-30T23:59:59.999+08:00", CODE), "6");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-06-30T15:59:59.999Z", CODE), "6");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-06-30T23:59:59.998+08:00", CODE), "5");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-07-01T00:00:00+08:00", CODE), "16");
    /* the first instant of a day, as a day's only update */
    cr_assert_null(ACTUAL(c, 2015, "2015-06-29T23:59:59.999+08:00", CODE));
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-06-30T00:00:00+08:00", CODE), "5");
    PQfinish(c);
}

Test(progress_order, point_one_plus_point_two_is_exactly_point_three)
{
    char ci[512];
    PGconn *c = store_db("ct_order_decimal", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "add", "0.1", "2015-05-01T08:00:00+08");
    put(c, "b", 1, "jinshui", IND, 2015, "add", "0.2", "2015-05-01T08:00:00+08");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "0.3");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM updates WHERE value::text = '0.1'"), 1);
    cr_assert_eq(pgtest_scalar(c, "SELECT (sum(value) = 0.3)::int FROM updates"), 1);
    PQfinish(c);
}

Test(progress_order, update_observed_in_the_future_is_not_counted_now)
{
    char ci[512], future[64], sql[256];
    PGconn *c = store_db("ct_order_future", ci, sizeof(ci));

    put(c, "a", 1, "erqi", IND, 2015, "set", "5", "2015-05-01T08:00:00+08");
    snprintf(sql, sizeof(sql), "SELECT extract(year FROM now())::int");
    int year = (int)pgtest_scalar(c, sql);
    snprintf(future, sizeof(future), "%d-01-01T00:00:00+08", year + 2);
    put(c, "a", 2, "erqi", IND, 2015, "set", "500", future);
    cr_assert_eq(pgtest_scalar(c, "SELECT actual FROM citytally_progress(2015, now())"
                                  " WHERE target_code = 'rd_centers_municipal'"),
                 5);
    cr_assert_eq(pgtest_scalar(c, "SELECT actual FROM city_progress WHERE year = 2015"
                                  " AND target_code = 'rd_centers_municipal'"),
                 5);
    cr_assert_eq(pgtest_scalar(c, "SELECT actual FROM citytally_progress(2015, 'infinity')"
                                  " WHERE target_code = 'rd_centers_municipal'"),
                 500);
    PQfinish(c);
}

Test(progress_order, one_copy_may_touch_a_key_many_times_in_any_order)
{
    char ci[512];
    PGconn *c = store_db("ct_order_one_statement", ci, sizeof(ci));

    /* one INSERT, so one firing of the statement trigger, rows out of time order */
    pgtest_exec(c, "INSERT INTO updates (agent_id, seq, district, indicator, period, op, value,"
                   " observed_at) VALUES"
                   " ('a', 4, 'erqi', 'rd_centers_municipal', 2015, 'add', 2, '2015-05-04+08'),"
                   " ('a', 1, 'erqi', 'rd_centers_municipal', 2015, 'add', 100, '2015-05-01+08'),"
                   " ('a', 3, 'erqi', 'rd_centers_municipal', 2015, 'set', 10, '2015-05-03+08'),"
                   " ('a', 2, 'erqi', 'rd_centers_municipal', 2015, 'add', 1, '2015-05-02+08')");
    cr_assert_str_eq(ACTUAL(c, 2015, LATER, CODE), "12");
    cr_assert_str_eq(ACTUAL(c, 2015, "2015-05-02", CODE), "101");
    cr_assert_eq(pgtest_scalar(c, "SELECT updates FROM current_values WHERE district = 'erqi'"), 4);
    PQfinish(c);
}
