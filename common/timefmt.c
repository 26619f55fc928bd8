#include "timefmt.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

int64_t ct_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ct_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil), valid for any year we accept. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads between min_digits and max_digits decimal digits. */
static bool read_number(const char **p, int min_digits, int max_digits, int *out)
{
    int n = 0, value = 0;
    while (n < max_digits && isdigit((unsigned char)(*p)[n])) {
        value = value * 10 + ((*p)[n] - '0');
        n++;
    }
    if (n < min_digits)
        return false;
    *p += n;
    *out = value;
    return true;
}

static int fail(char *err, size_t err_size, const char *why)
{
    snprintf(err, err_size, "%s", why);
    return -1;
}

int ct_time_parse(const char *text, int64_t *ms_out, char *err, size_t err_size)
{
    const char *p = text;
    int year, month, day, hour = 23, minute = 59, second = 59, millis = 999;
    int64_t offset_ms = CT_TZ_OFFSET_MS;
    char sep;

    while (isspace((unsigned char)*p))
        p++;
    if (!read_number(&p, 4, 4, &year))
        return fail(err, err_size, "expected a date like 2015-06-30");
    sep = *p;
    if (sep != '-' && sep != '/')
        return fail(err, err_size, "expected a date like 2015-06-30");
    p++;
    if (!read_number(&p, sep == '/' ? 1 : 2, 2, &month) || *p != sep)
        return fail(err, err_size, "bad month");
    p++;
    if (!read_number(&p, sep == '/' ? 1 : 2, 2, &day))
        return fail(err, err_size, "bad day");
    if (year < 1970)
        return fail(err, err_size, "year before 1970");
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return fail(err, err_size, "no such date");

    if (*p == 'T' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        second = 0;
        millis = 0;
        if (!read_number(&p, sep == '/' ? 1 : 2, 2, &hour) || *p != ':')
            return fail(err, err_size, "bad hour");
        p++;
        if (!read_number(&p, 2, 2, &minute))
            return fail(err, err_size, "bad minute");
        if (*p == ':') {
            p++;
            if (!read_number(&p, 2, 2, &second))
                return fail(err, err_size, "bad second");
            if (*p == '.' || *p == ',') {
                int digits = 0, frac = 0;
                p++;
                while (isdigit((unsigned char)*p)) {
                    if (digits < 3)
                        frac = frac * 10 + (*p - '0');
                    digits++;
                    p++;
                }
                if (digits == 0)
                    return fail(err, err_size, "bad fraction of a second");
                for (int d = digits; d < 3; d++)
                    frac *= 10;
                millis = frac;
            }
        }
        if (hour > 23 || minute > 59 || second > 59)
            return fail(err, err_size, "bad time of day");
        if (*p == 'Z' || *p == 'z') {
            offset_ms = 0;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (!read_number(&p, 2, 2, &oh))
                return fail(err, err_size, "bad UTC offset");
            if (*p == ':') {
                p++; /* "+08:" without minutes is not an offset */
                if (!read_number(&p, 2, 2, &om))
                    return fail(err, err_size, "bad UTC offset");
            } else if (isdigit((unsigned char)*p) && !read_number(&p, 2, 2, &om)) {
                return fail(err, err_size, "bad UTC offset");
            }
            if (oh > 14 || om > 59)
                return fail(err, err_size, "bad UTC offset");
            offset_ms = sign * ((int64_t)oh * 3600 + om * 60) * 1000;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        return fail(err, err_size, "unexpected text after the time");

    *ms_out = days_from_civil(year, month, day) * MS_PER_DAY +
              ((int64_t)hour * 3600 + minute * 60 + second) * 1000 + millis - offset_ms;
    return 0;
}

/* `v` (0 <= v < 10^width) as exactly `width` digits; returns the end. */
static char *put_digits(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

size_t ct_time_format(int64_t ms, char *buf, size_t size)
{
    int64_t local = ms + CT_TZ_OFFSET_MS;
    int64_t days = local >= 0 ? local / MS_PER_DAY : -((-local + MS_PER_DAY - 1) / MS_PER_DAY);
    int64_t in_day = local - days * MS_PER_DAY;
    int y, m, d, n;

    civil_from_days(days, &y, &m, &d);
    int hh = (int)(in_day / 3600000), mm = (int)(in_day / 60000 % 60);
    int ss = (int)(in_day / 1000 % 60), fff = (int)(in_day % 1000);
    if (y >= 0 && y <= 9999 && size >= sizeof("2015-06-30T23:59:59.999+08:00")) {
        /* digits by hand: a month's diff prints a million of these, and snprintf was a
         * fifth of its time */
        char *p = buf;
        p = put_digits(p, y, 4);
        *p++ = '-';
        p = put_digits(p, m, 2);
        *p++ = '-';
        p = put_digits(p, d, 2);
        *p++ = 'T';
        p = put_digits(p, hh, 2);
        *p++ = ':';
        p = put_digits(p, mm, 2);
        *p++ = ':';
        p = put_digits(p, ss, 2);
        if (fff != 0) {
            *p++ = '.';
            p = put_digits(p, fff, 3);
        }
        memcpy(p, "+08:00", sizeof("+08:00"));
        return (size_t)(p - buf) + 6;
    }
    if (fff != 0)
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00", y, m, d, hh, mm, ss,
                     fff);
    else
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m, d, hh, mm, ss);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

int64_t ct_time_year_start_ms(int year)
{
    return days_from_civil(year, 1, 1) * MS_PER_DAY - CT_TZ_OFFSET_MS;
}

int ct_time_year_of(int64_t ms)
{
    int64_t local = ms + CT_TZ_OFFSET_MS;
    int64_t days = local >= 0 ? local / MS_PER_DAY : -((-local + MS_PER_DAY - 1) / MS_PER_DAY);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return y;
}
