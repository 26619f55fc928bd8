/*
 * test_timefmt.c - common/timefmt.c: ISO 8601 as the contract reads and writes it.
 *
 * Expected instants were computed independently (Python's datetime) and are written here as
 * Unix milliseconds.
 */
#include "timefmt.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t parse_ok(const char *text)
{
    char err[128] = "";
    int64_t ms = 0;

    cr_assert_eq(ct_time_parse(text, &ms, err, sizeof(err)), 0, "'%s' refused: %s", text, err);
    return ms;
}

static void parse_fails(const char *text, const char *why)
{
    char err[128] = "";
    int64_t ms = 12345;

    cr_assert_eq(ct_time_parse(text, &ms, err, sizeof(err)), -1, "'%s' was accepted as %lld", text,
                 (long long)ms);
    cr_assert(strstr(err, why) != NULL, "'%s': '%s' does not say '%s'", text, err, why);
    cr_assert_eq(ms, 12345, "'%s': the output was written although parsing failed", text);
}

#define MS_2015_06_30_17H_CST 1435654800000LL /* 2015-06-30T17:00:00+08:00 */

Test(timefmt, bare_date_is_the_end_of_that_day_in_utc_plus_8)
{
    /* 2015-06-30T23:59:59.999+08:00 = 2015-06-30T15:59:59.999Z */
    cr_assert_eq(parse_ok("2015-06-30"), 1435679999999LL);
    cr_assert_eq(parse_ok("2015-12-31"), 1451577599999LL);
    /* so "as of the 30th" includes everything observed on the 30th, and nothing after */
    cr_assert_gt(parse_ok("2015-06-30"), parse_ok("2015-06-30T23:59:59.998+08:00"));
    cr_assert_lt(parse_ok("2015-06-30"), parse_ok("2015-07-01T00:00:00+08:00"));
    cr_assert_eq(parse_ok("2015-06-30") + 1, parse_ok("2015-07-01T00:00:00+08:00"));
}

Test(timefmt, offsets)
{
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+08:00"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+0800"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+08"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00"), MS_2015_06_30_17H_CST); /* no offset: +08 */
    cr_assert_eq(parse_ok("2015-06-30T09:00:00Z"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T09:00:00z"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00Z"), 1435683600000LL);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00-05:00"), 1435701600000LL);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+05:30"), 1435663800000LL);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+00:00"), 1435683600000LL);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00+14:00"), 1435683600000LL - 14 * 3600000LL);
}

Test(timefmt, time_of_day_forms)
{
    cr_assert_eq(parse_ok("2015-06-30 17:00:00"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T17:00"), MS_2015_06_30_17H_CST); /* seconds optional */
    cr_assert_eq(parse_ok("2015-06-30 17:00+08:00"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("  2015-06-30T17:00:00+08:00  "), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015-06-30T00:00:00+08:00"), MS_2015_06_30_17H_CST - 17 * 3600000LL);
    cr_assert_eq(parse_ok("2015-06-30T23:59:59+08:00"), 1435679999000LL);
}

Test(timefmt, fractions_of_a_second)
{
    cr_assert_eq(parse_ok("2015-06-30T17:00:00.5+08:00"), MS_2015_06_30_17H_CST + 500);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00.05"), MS_2015_06_30_17H_CST + 50);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00.123Z"), 1435683600123LL);
    cr_assert_eq(parse_ok("2015-06-30T17:00:00,25+08:00"), MS_2015_06_30_17H_CST + 250);
    /* digits past milliseconds are dropped, not rounded up into the next second */
    cr_assert_eq(parse_ok("2015-06-30T17:00:00.1239999+08:00"), MS_2015_06_30_17H_CST + 123);
    cr_assert_eq(parse_ok("2015-06-30T17:00:59.9999+08:00"), MS_2015_06_30_17H_CST + 59999);
}

Test(timefmt, excel_dates_as_chinese_windows_writes_them)
{
    cr_assert_eq(parse_ok("2015/6/30"), 1435679999999LL);
    cr_assert_eq(parse_ok("2015/06/30"), 1435679999999LL);
    cr_assert_eq(parse_ok("2015/6/30 17:00"), MS_2015_06_30_17H_CST);
    cr_assert_eq(parse_ok("2015/6/30 9:05"), 1435626300000LL);
    cr_assert_eq(parse_ok("2015/1/1"), parse_ok("2015-01-01"));
}

Test(timefmt, leap_days)
{
    cr_assert_eq(parse_ok("2016-02-29"), 1456761599999LL);
    cr_assert_eq(parse_ok("2000-02-29"), 951839999999LL); /* divisible by 400 */
    parse_fails("2015-02-29", "no such date");
    parse_fails("2100-02-29", "no such date"); /* divisible by 100 */
    parse_fails("2016-02-30", "no such date");
}

Test(timefmt, bad_dates_are_named)
{
    parse_fails("", "expected a date like 2015-06-30");
    parse_fails("2015", "expected a date like 2015-06-30");
    parse_fails("30/06/2015", "expected a date like 2015-06-30");
    parse_fails("15-06-30", "expected a date like 2015-06-30");
    parse_fails("2015.06.30", "expected a date like 2015-06-30");
    parse_fails("2015-6-30", "bad month");
    parse_fails("2015-06/30", "bad month");
    parse_fails("2015-06-3", "bad day");
    parse_fails("2015-13-01", "no such date");
    parse_fails("2015-00-10", "no such date");
    parse_fails("2015-06-31", "no such date");
    parse_fails("2015-06-00", "no such date");
    parse_fails("1969-12-31", "year before 1970");
    parse_fails("2015-06-30x", "unexpected text after the time");
    parse_fails("2015-06-30Z", "unexpected text after the time");
    parse_fails("2015-06-301", "unexpected text after the time");
}

Test(timefmt, bad_times_are_named)
{
    parse_fails("2015-06-30T", "bad hour");
    parse_fails("2015-06-30T17", "bad hour");
    parse_fails("2015-06-30T7:00", "bad hour"); /* ISO needs two digits; Excel's form is '/' */
    parse_fails("2015-06-30T17:0", "bad minute");
    parse_fails("2015-06-30T17:00:6", "bad second");
    parse_fails("2015-06-30T17:00:00.", "bad fraction of a second");
    parse_fails("2015-06-30T24:00:00", "bad time of day");
    parse_fails("2015-06-30T23:60:00", "bad time of day");
    parse_fails("2015-06-30T23:59:60", "bad time of day"); /* no leap seconds */
    parse_fails("2015-06-30T17:00:00+8", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00+08:", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00+08:0", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00+080", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00+15:00", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00+08:60", "bad UTC offset");
    parse_fails("2015-06-30T17:00:00 CST", "unexpected text after the time");
    parse_fails("2015-06-30T17:00:00+08:00Z", "unexpected text after the time");
    parse_fails("2015-06-30T17:00:00.5.5", "unexpected text after the time");
}

Test(timefmt, format_is_iso_8601_in_utc_plus_8)
{
    char buf[CT_TIME_TEXT_MAX];

    cr_assert_eq(ct_time_format(MS_2015_06_30_17H_CST, buf, sizeof(buf)), 25);
    cr_assert_str_eq(buf, "2015-06-30T17:00:00+08:00");
    cr_assert_eq(ct_time_format(1435679999999LL, buf, sizeof(buf)), 29);
    cr_assert_str_eq(buf, "2015-06-30T23:59:59.999+08:00");
    ct_time_format(MS_2015_06_30_17H_CST + 5, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2015-06-30T17:00:00.005+08:00");
    ct_time_format(0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T08:00:00+08:00");
    ct_time_format(-1, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T07:59:59.999+08:00");
    ct_time_format(-28800000LL, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:00+08:00");
    ct_time_format(1456761599999LL, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2016-02-29T23:59:59.999+08:00");
    ct_time_format(4102415999999LL, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2099-12-31T23:59:59.999+08:00");
}

/* The digits written by hand against the C library's calendar, over years 1..9999, and the
 * years outside four digits, which take the general path. */
Test(timefmt, format_agrees_with_gmtime_over_every_four_digit_year)
{
    uint64_t state = 20150630;
    char buf[CT_TIME_TEXT_MAX], want[64], rest[64];

    for (int i = 0; i < 200000; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        /* 0001-01-01 .. 9999-12-31 in UTC+8 */
        int64_t lo = -62135596800000LL - 28800000LL, hi = 253402300799999LL - 28800000LL;
        int64_t ms = lo + (int64_t)((state >> 11) % (uint64_t)(hi - lo));
        int64_t local = ms + 28800000LL;
        time_t secs = (time_t)(local >= 0 ? local / 1000 : -((-local + 999) / 1000));
        int frac = (int)(local - (int64_t)secs * 1000);
        struct tm tm;
        size_t n;

        cr_assert_not_null(gmtime_r(&secs, &tm));
        n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        if (tm.tm_year + 1900 < 1000) { /* glibc's %Y does not pad */
            snprintf(rest, sizeof(rest), "%s", strchr(want, '-'));
            n = (size_t)snprintf(want, sizeof(want), "%04d%s", tm.tm_year + 1900, rest);
        }
        if (frac != 0)
            snprintf(want + n, sizeof(want) - n, ".%03d+08:00", frac);
        else
            snprintf(want + n, sizeof(want) - n, "+08:00");
        cr_assert_eq(ct_time_format(ms, buf, sizeof(buf)), strlen(want));
        cr_assert_str_eq(buf, want, "%lld", (long long)ms);
    }
    ct_time_format(253402300800000LL - 28800000LL, buf, sizeof(buf));
    cr_assert_str_eq(buf, "10000-01-01T00:00:00+08:00");
}

Test(timefmt, format_into_a_small_buffer_truncates_safely)
{
    char buf[11];

    memset(buf, 'x', sizeof(buf));
    cr_assert_eq(ct_time_format(MS_2015_06_30_17H_CST, buf, sizeof(buf)), 10);
    cr_assert_str_eq(buf, "2015-06-30");
}

Test(timefmt, format_then_parse_is_the_identity)
{
    uint64_t state = 88172645463325252ULL;

    for (int i = 0; i < 100000; i++) {
        char buf[CT_TIME_TEXT_MAX], err[64];
        int64_t ms, back;

        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        /* anywhere from 1970 to about 2100 (UTC+8) */
        ms = (int64_t)(state % 4102444800000ULL);
        ct_time_format(ms, buf, sizeof(buf));
        cr_assert_eq(ct_time_parse(buf, &back, err, sizeof(err)), 0, "%s: %s", buf, err);
        cr_assert_eq(back, ms, "%s", buf);
    }
}

Test(timefmt, year_start_and_year_of_at_the_boundaries)
{
    /* 2015-01-01T00:00:00+08:00 is 2014-12-31T16:00:00Z */
    cr_assert_eq(ct_time_year_start_ms(2015), 1420041600000LL);
    cr_assert_eq(ct_time_year_start_ms(2016), 1451577600000LL);
    cr_assert_eq(ct_time_year_start_ms(1970), -28800000LL);
    cr_assert_eq(ct_time_year_start_ms(2015), parse_ok("2015-01-01T00:00:00+08:00"));
    cr_assert_eq(ct_time_year_of(ct_time_year_start_ms(2015)), 2015);
    cr_assert_eq(ct_time_year_of(ct_time_year_start_ms(2015) - 1), 2014);
    cr_assert_eq(ct_time_year_of(parse_ok("2015-12-31")), 2015);
    cr_assert_eq(ct_time_year_of(parse_ok("2015-12-31") + 1), 2016);
    /* 2015-12-31T20:00Z is already 2016 in Zhengzhou */
    cr_assert_eq(ct_time_year_of(parse_ok("2015-12-31T20:00:00Z")), 2016);
    cr_assert_eq(ct_time_year_of(0), 1970);
    cr_assert_eq(ct_time_year_of(-28800001LL), 1969);
    for (int y = 1970; y <= 2100; y++) {
        cr_assert_eq(ct_time_year_of(ct_time_year_start_ms(y)), y);
        cr_assert_eq(ct_time_year_of(ct_time_year_start_ms(y) - 1), y - 1);
    }
    /* the plausible-time window of the wire protocol matches these */
    cr_assert_eq(ct_time_year_start_ms(2000), 946656000000LL);
    cr_assert_eq(ct_time_year_start_ms(2100), 4102416000000LL);
}

Test(timefmt, clocks_are_plausible)
{
    int64_t now = ct_time_now_ms(), a = ct_time_mono_ms(), b = ct_time_mono_ms();

    cr_assert_gt(now, ct_time_year_start_ms(2024));
    cr_assert_lt(now, ct_time_year_start_ms(2100));
    cr_assert_geq(b, a);
}
