/* Exact decimals in C, as PostgreSQL's numeric adds and subtracts them and trim_scale()
 * prints them. (tests/integration/test_diff_listing.c checks the same against the server.) */
#include "numeric.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parse(struct agg_numeric *n, const char *text)
{
    cr_assert_eq(agg_numeric_from_text(n, text), 0, "%s", text);
}

static void expect_text(const struct agg_numeric *n, const char *want)
{
    char text[2048];
    size_t len = agg_numeric_format(n, text, sizeof(text));

    cr_assert_lt(len, sizeof(text));
    cr_assert_str_eq(text, want);
    cr_assert_eq(len, strlen(want));
}

/* a OP b, each given as numeric text, printed as trim_scale would. */
static void expect_op(const char *a_text, char op, const char *b_text, const char *want)
{
    struct agg_numeric a, b, r;

    agg_numeric_init(&a);
    agg_numeric_init(&b);
    agg_numeric_init(&r);
    parse(&a, a_text);
    parse(&b, b_text);
    cr_assert_eq(op == '+' ? agg_numeric_add(&r, &a, &b) : agg_numeric_sub(&r, &a, &b), 0);
    expect_text(&r, want);
    agg_numeric_release(&a);
    agg_numeric_release(&b);
    agg_numeric_release(&r);
}

Test(numeric, text_reads_back_trimmed)
{
    static const char *const cases[][2] = {
        {"0", "0"},
        {"0.000", "0"},
        {"-0", "0"},
        {"12.50", "12.5"},
        {"1000", "1000"},
        {"0.0001", "0.0001"},
        {"-0.5", "-0.5"},
        {"007.0700", "7.07"},
        {"123456789012345678901234567890.5", "123456789012345678901234567890.5"},
    };
    struct agg_numeric n;

    agg_numeric_init(&n);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse(&n, cases[i][0]);
        expect_text(&n, cases[i][1]);
    }
    agg_numeric_release(&n);
}

Test(numeric, text_that_is_not_numeric_output_is_refused)
{
    static const char *const bad[] = {"",    "-",        "1.", ".5", "1e5",
                                      "NaN", "Infinity", "1 ", "+1", "1.2.3"};
    struct agg_numeric n;

    agg_numeric_init(&n);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(agg_numeric_from_text(&n, bad[i]), -2, "\"%s\"", bad[i]);
    agg_numeric_release(&n);
}

Test(numeric, sums_and_differences_are_exact)
{
    expect_op("0.1", '+', "0.2", "0.3");
    expect_op("10", '-', "10", "0");
    expect_op("-5", '+', "3", "-2");
    expect_op("3", '-', "5", "-2");
    expect_op("-3", '-', "-5", "2");
    expect_op("15", '-', "10", "5");
    expect_op("10", '-', "15", "-5");
    expect_op("999.99", '+', "0.01", "1000");
    expect_op("1000", '-', "0.001", "999.999");
    expect_op("0", '-', "7.5", "-7.5");
    expect_op("7.5", '+', "0", "7.5");
    expect_op("20.3", '-', "10.1", "10.2");
}

Test(numeric, figures_far_apart_in_size_lose_nothing)
{
    char big[400], tiny[400], sum[800];

    /* 1e300 and 5e-324, a double's largest and smallest kinds of figure */
    snprintf(big, sizeof(big), "1%0300d", 0);
    snprintf(tiny, sizeof(tiny), "0.%0323d5", 0);
    snprintf(sum, sizeof(sum), "%s.%0323d5", big, 0);
    expect_op(big, '+', tiny, sum);
    expect_op(sum, '-', tiny, big);
    expect_op(sum, '-', big, tiny);
}

static void put_u16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* numeric's send format: ndigits, weight, sign, dscale, base-10000 digits */
static size_t binary(unsigned char *out, int weight, unsigned sign, const unsigned *digits,
                     size_t n)
{
    put_u16(out, (unsigned)n);
    put_u16(out + 2, (unsigned)(weight & 0xffff));
    put_u16(out + 4, sign);
    put_u16(out + 6, 0);
    for (size_t i = 0; i < n; i++)
        put_u16(out + 8 + 2 * i, digits[i]);
    return 8 + 2 * n;
}

static void expect_binary(int weight, unsigned sign, const unsigned *digits, size_t n,
                          const char *want)
{
    unsigned char bytes[64];
    size_t size = binary(bytes, weight, sign, digits, n);
    struct agg_numeric v;

    agg_numeric_init(&v);
    cr_assert_eq(agg_numeric_from_binary(&v, bytes, size), 0);
    expect_text(&v, want);
    agg_numeric_release(&v);
}

Test(numeric, binary_send_format_reads_as_its_value)
{
    expect_binary(0, 0x0000, (unsigned[]){1234, 5678}, 2, "1234.5678");
    expect_binary(-1, 0x0000, (unsigned[]){1}, 1, "0.0001");
    expect_binary(-2, 0x4000, (unsigned[]){5000}, 1, "-0.00005");
    expect_binary(2, 0x0000, (unsigned[]){1}, 1, "100000000");
    expect_binary(1, 0x0000, (unsigned[]){12, 3400}, 2, "123400");
    expect_binary(0, 0x0000, NULL, 0, "0");
}

Test(numeric, binary_that_is_not_a_finite_numeric_is_refused)
{
    unsigned char bytes[64];
    struct agg_numeric v;
    size_t size;

    agg_numeric_init(&v);
    size = binary(bytes, 0, 0xC000, NULL, 0); /* NaN */
    cr_expect_eq(agg_numeric_from_binary(&v, bytes, size), -2);
    size = binary(bytes, 0, 0xD000, NULL, 0); /* +Infinity */
    cr_expect_eq(agg_numeric_from_binary(&v, bytes, size), -2);
    size = binary(bytes, 0, 0x0000, (unsigned[]){10000}, 1);
    cr_expect_eq(agg_numeric_from_binary(&v, bytes, size), -2, "a digit over 9999");
    size = binary(bytes, 0, 0x0000, (unsigned[]){1, 2}, 2);
    cr_expect_eq(agg_numeric_from_binary(&v, bytes, size - 1), -2, "cut short");
    cr_expect_eq(agg_numeric_from_binary(&v, bytes, 7), -2, "no header");
    agg_numeric_release(&v);
}

/* The exact text of v x 10^-6, trimmed: the oracle below. */
static void micro_text(int64_t v, char *out, size_t size)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char frac[8];
    size_t n;

    snprintf(frac, sizeof(frac), "%06" PRIu64, mag % 1000000);
    for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
        frac[n - 1] = '\0';
    snprintf(out, size, "%s%" PRIu64 "%s%s", v < 0 ? "-" : "", mag / 1000000, n ? "." : "", frac);
}

/* Figures of up to 9 digits at up to 6 decimal places: against exact int64 arithmetic. */
Test(numeric, random_figures_agree_with_integer_arithmetic)
{
    struct agg_numeric a, b, r;
    char a_text[40], b_text[40], want[40];
    unsigned seed = 20150630;

    agg_numeric_init(&a);
    agg_numeric_init(&b);
    agg_numeric_init(&r);
    for (int i = 0; i < 200000; i++) {
        int64_t x = (int64_t)(rand_r(&seed) % 2000000001) - 1000000000;
        int64_t y = (int64_t)(rand_r(&seed) % 2000000001) - 1000000000;
        /* scale each to its own number of decimals, as figures come */
        for (int k = rand_r(&seed) % 7; k < 6; k++)
            x *= 10;
        for (int k = rand_r(&seed) % 7; k < 6; k++)
            y *= 10;
        micro_text(x, a_text, sizeof(a_text));
        micro_text(y, b_text, sizeof(b_text));
        parse(&a, a_text);
        parse(&b, b_text);
        cr_assert_eq(agg_numeric_add(&r, &a, &b), 0);
        micro_text(x + y, want, sizeof(want));
        expect_text(&r, want);
        cr_assert_eq(agg_numeric_sub(&r, &a, &b), 0);
        micro_text(x - y, want, sizeof(want));
        expect_text(&r, want);
    }
    agg_numeric_release(&a);
    agg_numeric_release(&b);
    agg_numeric_release(&r);
}

Test(numeric, a_short_buffer_gets_nothing_but_the_length)
{
    struct agg_numeric n;
    char text[4] = "xyz";

    agg_numeric_init(&n);
    parse(&n, "-12.25");
    cr_assert_eq(agg_numeric_format(&n, text, sizeof(text)), 6);
    cr_assert_str_eq(text, "xyz");
    agg_numeric_release(&n);
}
