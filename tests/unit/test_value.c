/*
 * test_value.c - common/value.c: exact decimal text for doubles and integers, and the
 * parser for figures that people type.
 *
 * The property ct_value_format_double() guarantees (value.h), and which the
 * million-double test checks for every value:
 *   1. strtod(text) is bit for bit the same double (except -0.0, written "0");
 *   2. no decimal with fewer significant digits reads back as that double (shortest);
 *   3. the text is never longer than what "%.17g" prints.
 */
#include "value.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *shortest(double v)
{
    static char buf[CT_VALUE_TEXT_MAX];
    cr_assert_eq(ct_value_format_double(v, buf, sizeof(buf)), 0, "%.17g refused", v);
    return buf;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Significant digits of a decimal text: leading zeros, the point, the sign and trailing
 * zeros of the mantissa do not count ("6500" has 2, "0.015" has 2, "1.5e-07" has 2). */
static int significant_digits(const char *text)
{
    char digits[40];
    int n = 0;

    for (const char *p = text; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && (n > 0 || *p != '0'))
            digits[n++] = *p;
    }
    while (n > 1 && digits[n - 1] == '0')
        n--;
    return n;
}

/* True when some decimal of `n` significant digits reads back as v. Only the two n-digit
 * decimals either side of v can (any other is farther away on the same side), and they
 * are the correctly rounded one and its neighbour one unit up or down. */
static bool any_n_digit_decimal_reads_back(double v, int n)
{
    char text[64];
    unsigned long long m = 0;
    int exp;
    const char *p;

    snprintf(text, sizeof(text), "%.*e", n - 1, v);
    for (p = text; *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9')
            m = m * 10 + (unsigned long long)(*p - '0');
    }
    exp = atoi(p + 1) - (n - 1);
    for (int delta = -1; delta <= 1; delta++) {
        snprintf(text, sizeof(text), "%s%llue%d", v < 0 ? "-" : "", m + (unsigned long long)delta,
                 exp);
        if (strtod(text, NULL) == v)
            return true;
    }
    return false;
}

Test(value, a_million_random_doubles_round_trip_in_their_shortest_form)
{
    uint64_t state = 20150630;
    long checked = 0, shorter_than_17g = 0;

    while (checked < 1000000) {
        uint64_t bits = splitmix64(&state);
        double v, back;
        char g17[40];
        const char *text;

        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v))
            continue;
        checked++;
        text = shortest(v);
        back = strtod(text, NULL);
        if (v == 0)
            cr_assert_eq(back, 0.0);
        else
            cr_assert_eq(memcmp(&back, &v, sizeof(v)), 0, "%s reads back as %.17g, not %.17g", text,
                         back, v);
        snprintf(g17, sizeof(g17), "%.17g", v);
        cr_assert_leq(strlen(text), strlen(g17), "'%s' is longer than %%.17g's '%s'", text, g17);
        if (strlen(text) < strlen(g17))
            shorter_than_17g++;
        int n = significant_digits(text);
        if (n > 1)
            cr_assert_not(any_n_digit_decimal_reads_back(v, n - 1),
                          "'%s' (%d digits) is not the shortest for %.17g", text, n, v);
    }
    cr_assert_gt(shorter_than_17g, 0);
}

Test(value, doubles_print_as_documented)
{
    cr_assert_str_eq(shortest(0.1), "0.1");
    cr_assert_str_eq(shortest(6500), "6500");
    cr_assert_str_eq(shortest(6.8), "6.8");
    cr_assert_str_eq(shortest(-6.8), "-6.8");
    cr_assert_str_eq(shortest(0.1 + 0.2), "0.30000000000000004");
    cr_assert_str_eq(shortest(1e21), "1e+21");
    cr_assert_str_eq(shortest(1.5e-7), "1.5e-07");
    cr_assert_str_eq(shortest(-0.0), "0");
    cr_assert_str_eq(shortest(0.0), "0");
    cr_assert_str_eq(shortest(5e-324), "5e-324"); /* the smallest subnormal */
    cr_assert_str_eq(shortest(-5e-324), "-5e-324");
    cr_assert_str_eq(shortest(DBL_MAX), "1.7976931348623157e+308");
    cr_assert_str_eq(shortest(DBL_MIN), "2.2250738585072014e-308");
    cr_assert_str_eq(shortest(123456789.123), "123456789.123");
    cr_assert_str_eq(shortest(1.0 / 3), "0.3333333333333333");
    cr_assert_str_eq(shortest(1e23), "1e+23"); /* the double is 9.999999999999999161e22 */
    cr_assert_str_eq(shortest(0.5), "0.5");
    cr_assert_str_eq(shortest(100), "100");
}

Test(value, notation_follows_17g_so_text_is_never_longer)
{
    /* fixed from 1e-4 up to below 1e17, exponent form outside */
    cr_assert_str_eq(shortest(1e-4), "0.0001");
    cr_assert_str_eq(shortest(1e-5), "1e-05");
    cr_assert_str_eq(shortest(0.00012), "0.00012");
    cr_assert_str_eq(shortest(1e15), "1000000000000000");
    cr_assert_str_eq(shortest(1234567890123450.0), "1234567890123450");
    cr_assert_str_eq(shortest(1e16), "10000000000000000");
    cr_assert_str_eq(shortest(9007199254740993.0), "9007199254740992"); /* 2^53 + 1 rounds */
    cr_assert_str_eq(shortest(1e17), "1e+17");
    cr_assert_str_eq(shortest(12345678901234567890.0), "1.2345678901234567e+19");
    cr_assert_str_eq(shortest(1.5e300), "1.5e+300");
}

Test(value, lopsided_intervals_at_powers_of_two_still_give_the_shortest)
{
    /* Below a power of two the doubles are twice as dense, so the nearest 16-digit decimal
     * can miss while the one on the other side reads back. "%.16g" alone would fall back
     * to 17 digits here. */
    double v = ldexp(1.0, 89); /* 618970019642690137449562112 */
    char g16[40];

    snprintf(g16, sizeof(g16), "%.16g", v);
    cr_assert_str_eq(g16, "6.189700196426901e+26");
    cr_assert_neq(strtod(g16, NULL), v, "the nearest 16-digit decimal misses");
    cr_assert_str_eq(shortest(v), "6.189700196426902e+26");
    cr_assert_eq(strtod(shortest(v), NULL), v);

    cr_assert_str_eq(shortest(ldexp(1.0, -1017)), "7.120236347223045e-307");
    cr_assert_str_eq(shortest(ldexp(1.0, 55)), "36028797018963970");
}

Test(value, every_power_of_two_is_shortest_and_exact)
{
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        const char *text = shortest(v);
        cr_assert_eq(strtod(text, NULL), v, "2^%d: %s", e, text);
        int n = significant_digits(text);
        if (n > 1)
            cr_assert_not(any_n_digit_decimal_reads_back(v, n - 1), "2^%d: %s", e, text);
    }
}

Test(value, non_finite_doubles_and_small_buffers_are_refused)
{
    char buf[CT_VALUE_TEXT_MAX];

    cr_assert_eq(ct_value_format_double(NAN, buf, sizeof(buf)), -1);
    cr_assert_eq(ct_value_format_double(INFINITY, buf, sizeof(buf)), -1);
    cr_assert_eq(ct_value_format_double(-INFINITY, buf, sizeof(buf)), -1);
    cr_assert_eq(ct_value_format_double(1.0, buf, CT_VALUE_TEXT_MAX - 1), -1);
}

Test(value, integers_print_exactly)
{
    char buf[CT_VALUE_TEXT_MAX];
    struct ct_value v;

    v.kind = CT_VALUE_INT;
    v.as.i = INT64_MIN;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "-9223372036854775808");
    v.as.i = INT64_MAX;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "9223372036854775807");
    v.as.i = 0;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "0");
    v.kind = CT_VALUE_UINT;
    v.as.u = UINT64_MAX;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "18446744073709551615");
    v.kind = CT_VALUE_FLOAT;
    v.as.f = 6.8;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "6.8");
    v.as.f = NAN;
    cr_assert_eq(ct_value_format(&v, buf, sizeof(buf)), -1);
    /* a buffer too small for the integer is an error, not a truncated figure */
    v.kind = CT_VALUE_INT;
    v.as.i = 123456;
    cr_assert_eq(ct_value_format(&v, buf, 6), -1);
    cr_assert_eq(ct_value_format(&v, buf, 7), 0);
    cr_assert_str_eq(buf, "123456");
}

Test(value, finiteness)
{
    struct ct_value v = {.kind = CT_VALUE_INT, .as.i = INT64_MIN};

    cr_assert(ct_value_is_finite(&v));
    v.kind = CT_VALUE_UINT;
    v.as.u = UINT64_MAX;
    cr_assert(ct_value_is_finite(&v));
    v.kind = CT_VALUE_FLOAT;
    v.as.f = DBL_MAX;
    cr_assert(ct_value_is_finite(&v));
    v.as.f = -INFINITY;
    cr_assert_not(ct_value_is_finite(&v));
    v.as.f = NAN;
    cr_assert_not(ct_value_is_finite(&v));
}

/* ------------------------------------------------------------------ parsing */

static struct ct_value parse_ok(const char *text)
{
    struct ct_value v;
    char err[64] = "";

    cr_assert_eq(ct_value_parse(text, &v, err, sizeof(err)), 0, "'%s' refused: %s", text, err);
    return v;
}

static void parse_fails(const char *text, const char *why)
{
    struct ct_value v;
    char err[64] = "";

    cr_assert_eq(ct_value_parse(text, &v, err, sizeof(err)), -1, "'%s' was accepted", text);
    cr_assert(strstr(err, why) != NULL, "'%s': '%s' does not say '%s'", text, err, why);
}

static void parse_int_is(const char *text, int64_t want)
{
    struct ct_value v = parse_ok(text);
    cr_assert_eq(v.kind, CT_VALUE_INT, "'%s' is not an integer", text);
    cr_assert_eq(v.as.i, want, "'%s'", text);
}

static void parse_float_is(const char *text, double want)
{
    struct ct_value v = parse_ok(text);
    cr_assert_eq(v.kind, CT_VALUE_FLOAT, "'%s' is not a float", text);
    cr_assert_eq(v.as.f, want, "'%s' gave %.17g", text, v.as.f);
}

Test(value, figures_as_people_and_spreadsheets_write_them_parse)
{
    parse_float_is("1,234,567.5", 1234567.5);
    parse_int_is("1,234,567", 1234567);
    parse_int_is("12,345", 12345);
    parse_int_is("-1,000", -1000);
    parse_int_is("  12  ", 12);
    parse_int_is("\t-7\r\n", -7);
    parse_int_is("+5", 5);
    parse_int_is("007", 7);
    parse_int_is("-0", 0);
    parse_float_is("6.8", 6.8);
    parse_float_is("0.1", 0.1);
    parse_float_is(".5", 0.5);
    parse_float_is("1e3", 1000.0);
    parse_float_is("1.5E-7", 1.5e-7);
    parse_float_is("12,345.678e2", 1234567.8);
    parse_int_is("9223372036854775807", INT64_MAX);
    parse_int_is("-9223372036854775808", INT64_MIN);
    /* past int64: a double, as documented */
    parse_float_is("9223372036854775808", 9223372036854775808.0);
    parse_float_is("1e308", 1e308);
}

Test(value, misplaced_thousands_separators_are_refused)
{
    parse_fails("1,23", "misplaced ','");
    parse_fails("1,2345", "misplaced ','");
    parse_fails("1234,567", "misplaced ','"); /* a first group has at most 3 digits */
    parse_fails(",123", "misplaced ','");
    parse_fails("1,,234", "misplaced ','");
    parse_fails("1,234,", "misplaced ','");
    parse_fails("1.234,5", "misplaced ','"); /* European style is not guessed at */
    parse_fails("1,234.5,6", "misplaced ','");
}

Test(value, words_hex_and_other_non_numbers_are_refused)
{
    parse_fails("nan", "not a number");
    parse_fails("NaN", "not a number");
    parse_fails("inf", "not a number");
    parse_fails("-inf", "not a number");
    parse_fails("infinity", "not a number");
    parse_fails("0x10", "not a number");
    parse_fails("1.2.3", "not a number");
    parse_fails("12abc", "not a number");
    parse_fails("1 000", "not a number");
    parse_fails("--5", "not a number");
    parse_fails("5e", "not a number");
    parse_fails(".", "not a number");
    parse_fails("-", "not a number");
    parse_fails("１２", "not a number"); /* full-width digits */
    parse_fails("", "empty value");
    parse_fails("   ", "empty value");
}

Test(value, numbers_outside_a_double_are_refused)
{
    parse_fails("1e400", "out of range");
    parse_fails("-1e400", "out of range");
    parse_fails("1e-400", "out of range"); /* would silently become 0 */
    char many[80];
    memset(many, '9', sizeof(many) - 1);
    many[sizeof(many) - 1] = '\0';
    parse_fails(many, "too long");
}

static void grouped_is(const char *decimal, const char *want)
{
    char out[64];
    struct ct_value back;
    char err[64];

    cr_assert_eq(ct_value_group_thousands(decimal, out, sizeof(out)), 0, "%s", decimal);
    cr_expect_str_eq(out, want, "%s", decimal);
    /* What is grouped for display reads back as the same figure. */
    if (ct_value_parse(decimal, &back, err, sizeof(err)) == 0) {
        struct ct_value again;
        cr_assert_eq(ct_value_parse(out, &again, err, sizeof(err)), 0, "%s: %s", out, err);
        cr_expect_eq(again.kind, back.kind, "%s", out);
        cr_expect(again.kind == CT_VALUE_INT ? again.as.i == back.as.i : again.as.f == back.as.f,
                  "%s", out);
    }
}

Test(value, thousands_are_grouped_by_three_in_the_integer_part_only)
{
    grouped_is("13000000000", "13,000,000,000");
    grouped_is("1234567.1234", "1,234,567.1234");
    grouped_is("-1234", "-1,234");
    grouped_is("1000", "1,000");
    grouped_is("999", "999");
    grouped_is("-0.5", "-0.5");
    grouped_is("0", "0");
    grouped_is("1e+21", "1e+21");
    grouped_is("", "");
    grouped_is("NaN", "NaN");
}

Test(value, grouping_into_a_short_buffer_fails_empty)
{
    char out[10] = "x";

    /* "1,234,567" takes 9 bytes and its NUL a tenth */
    cr_expect_eq(ct_value_group_thousands("1234567", out, sizeof(out) - 1), -1);
    cr_expect_str_eq(out, "");
    cr_expect_eq(ct_value_group_thousands("1234567", out, sizeof(out)), 0);
    cr_expect_str_eq(out, "1,234,567");
}
