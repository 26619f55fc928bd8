/* Exact sums in C must equal PostgreSQL's numeric sums of the same figures. */
#include "decsum.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static struct ct_value integer(int64_t i)
{
    return (struct ct_value){CT_VALUE_INT, {.i = i}};
}

static struct ct_value real(double f)
{
    return (struct ct_value){CT_VALUE_FLOAT, {.f = f}};
}

static void expect_sum(const struct ct_value *values, size_t n, const char *want)
{
    struct ct_decsum s;
    char text[48];

    ct_decsum_init(&s);
    for (size_t i = 0; i < n; i++)
        ct_decsum_add(&s, &values[i]);
    cr_assert_eq(ct_decsum_format(&s, text, sizeof(text)), 0);
    cr_assert_str_eq(text, want);
}

Test(decsum, empty_sum_is_zero)
{
    expect_sum(NULL, 0, "0");
}

Test(decsum, tenths_add_exactly_unlike_doubles)
{
    struct ct_value v[] = {real(0.1), real(0.2)};
    expect_sum(v, 2, "3e-1"); /* 0.3, where 0.1 + 0.2 in doubles is 0.30000000000000004 */
}

Test(decsum, integers_and_decimals_mix)
{
    struct ct_value v[] = {integer(6500), real(6.8), integer(-2), real(0.25)};
    expect_sum(v, 4, "650505e-2"); /* 6505.05 */
}

Test(decsum, round_figures_keep_a_small_scale)
{
    struct ct_value v[] = {real(1e21), integer(1000000)};
    expect_sum(v, 2, "1000000000000001e6");
}

Test(decsum, extreme_integers_are_exact)
{
    struct ct_value v[] = {
        integer(INT64_MAX), integer(INT64_MAX), {CT_VALUE_UINT, {.u = UINT64_MAX}}};
    expect_sum(v, 3, "36893488147419103229"); /* 2 * (2^63 - 1) + 2^64 - 1 */
}

Test(decsum, negatives_cancel_to_zero)
{
    struct ct_value v[] = {real(0.1), real(-0.1), integer(5), integer(-5)};
    expect_sum(v, 4, "0");
}

Test(decsum, many_small_figures)
{
    struct ct_value v = real(0.01);
    struct ct_decsum s;
    char text[48];

    ct_decsum_init(&s);
    for (int i = 0; i < 100000; i++)
        ct_decsum_add(&s, &v);
    cr_assert_eq(ct_decsum_format(&s, text, sizeof(text)), 0);
    cr_assert_str_eq(text, "100000e-2"); /* 100,000 x 0.01 = 1000, in hundredths */
}

Test(decsum, figures_too_far_apart_say_so)
{
    struct ct_value v[] = {real(1e300), real(1e-10)};
    struct ct_decsum s;
    char text[48];

    ct_decsum_init(&s);
    ct_decsum_add(&s, &v[0]);
    ct_decsum_add(&s, &v[1]);
    cr_assert(s.overflow);
    cr_assert_eq(ct_decsum_format(&s, text, sizeof(text)), -1);
}

Test(decsum, format_refuses_a_small_buffer)
{
    struct ct_decsum s;
    char text[8];

    ct_decsum_init(&s);
    cr_assert_eq(ct_decsum_format(&s, text, sizeof(text)), -1);
}
