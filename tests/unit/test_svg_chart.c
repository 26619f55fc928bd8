/* aggregator/svg_chart.c: the dashboard's trend chart and sparkline, drawn on the server,
 * over the figures it can be handed: none, one, NULL, not numbers, negative, huge. */
#include "svg_chart.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400 * 1000LL)

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Month ends of 2015 (the last millisecond of the day, UTC+8), as the series gives them. */
static int64_t month_end(int month)
{
    static const int days[] = {31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
    return ct_time_year_start_ms(2015) + days[month - 1] * DAY_MS - 1;
}

static char *chart(const struct agg_svg_chart *c, bool spark)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(spark ? agg_svg_sparkline_render(c, &b) : agg_svg_chart_render(c, &b), 0);
    cr_assert(!b.failed);
    cr_assert_not_null(b.data);
    cr_assert(strncmp(b.data, "<svg", 4) == 0, "starts %.40s", b.data);
    cr_assert_eq(count(b.data, "<svg"), 1);
    cr_assert(strcmp(b.data + b.len - 6, "</svg>") == 0, "ends %s", b.data + b.len - 6);
    /* No number that is not one reaches the SVG. */
    cr_assert_eq(count(b.data, "nan"), 0, "%s", b.data);
    cr_assert_eq(count(b.data, "inf"), 0, "%s", b.data);
    return b.data;
}

Test(svg_chart, figures_are_finite_decimals_or_nothing)
{
    double v = 0;

    cr_expect_eq(agg_svg_figure("12.5", &v), 0);
    cr_expect_eq(v, 12.5);
    cr_expect_eq(agg_svg_figure("-3", &v), 0);
    cr_expect_eq(v, -3);
    cr_expect_eq(agg_svg_figure("1e300", &v), 0);
    cr_expect_eq(v, 1e300);
    cr_expect_eq(agg_svg_figure(NULL, &v), -1);
    cr_expect_eq(agg_svg_figure("", &v), -1);
    cr_expect_eq(agg_svg_figure("NaN", &v), -1);
    cr_expect_eq(agg_svg_figure("nan", &v), -1);
    cr_expect_eq(agg_svg_figure("inf", &v), -1);
    cr_expect_eq(agg_svg_figure("-Infinity", &v), -1);
    cr_expect_eq(agg_svg_figure("1e400", &v), -1);
    cr_expect_eq(agg_svg_figure("1.2.3", &v), -1);
    cr_expect_eq(agg_svg_figure("12 ", &v), -1);
    cr_expect_eq(agg_svg_figure("abc", &v), -1);
}

Test(svg_chart, no_points_draws_the_frame_and_says_so)
{
    struct agg_svg_chart c = {.year = 2015, .label = "高新技术企业", .unit = "家"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "<path"), 0);
    cr_expect_eq(count(svg, "<circle"), 0);
    cr_expect_eq(count(svg, "No figure this year yet"), 1);
    cr_expect_eq(count(svg, "月末 Month end (2015)"), 1);
    cr_expect_eq(count(svg, "数值 Value (家)"), 1);
    cr_expect_eq(count(svg, "target-line"), 0);
    free(svg);
    svg = chart(&c, true);
    cr_expect_eq(count(svg, "class=\"spark\""), 1);
    cr_expect_eq(count(svg, "no data"), 1);
    cr_expect_eq(count(svg, "<path"), 0);
    free(svg);
}

Test(svg_chart, one_point_is_a_dot_on_its_month_end)
{
    struct agg_series_point p[] = {{month_end(6), "120", NULL}};
    struct agg_svg_chart c = {.year = 2015, .points = p, .n_points = 1, .target = "240"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "<circle"), 1);
    cr_expect_eq(count(svg, "class=\"actual\""), 1);
    cr_expect_eq(count(svg, "Last year"), 0);
    cr_expect_eq(count(svg, "target-line"), 1);
    cr_expect_eq(count(svg, "No figure"), 0);
    /* 30 June ends 181 of 365 days: x = 78 + 546 * 181/365. */
    cr_expect_eq(count(svg, "cx=\"348.8\""), 1, "%s", svg);
    /* 0..240 by steps of 100 to 300: the target line at 240 sits at 34 + 200 * 60/300. */
    cr_expect_eq(count(svg, "y1=\"74.0\""), 1, "%s", svg);
    cr_expect_eq(count(svg, ">300</text>"), 1);
    free(svg);
}

Test(svg_chart, null_and_not_numbers_are_gaps)
{
    struct agg_series_point p[] = {{month_end(1), "10", NULL},
                                   {month_end(2), NULL, NULL},
                                   {month_end(3), "NaN", "abc"},
                                   {month_end(4), "40", "30"},
                                   {month_end(5), "50", "40"}};
    struct agg_svg_chart c = {.year = 2015, .points = p, .n_points = 5, .target = "inf"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "<circle"), 3);
    /* The actual restarts after the gap: two moves in its path. */
    char *actual = strstr(svg, "class=\"actual\"");
    cr_assert_not_null(actual);
    char *path = svg;
    for (char *q = svg; (q = strstr(q, "<path d=\"")) != NULL && q < actual; q++)
        path = q;
    cr_expect_eq(count(path, "M") - count(actual, "M"), 2, "%s", path);
    cr_expect_eq(count(svg, "class=\"pace\""), 1);
    cr_expect_eq(count(svg, "target-line"), 0, "a target that is not a number has no line");
    free(svg);
}

Test(svg_chart, all_null_is_no_data)
{
    struct agg_series_point p[] = {{month_end(1), NULL, NULL}, {month_end(2), NULL, NULL}};
    struct agg_series_point prev[] = {{month_end(1) - 365 * DAY_MS, NULL, NULL}};
    struct agg_svg_chart c = {.year = 2015,
                              .points = p,
                              .n_points = 2,
                              .previous = prev,
                              .n_previous = 1,
                              .target = NULL};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "<path"), 0);
    cr_expect_eq(count(svg, "<circle"), 0);
    cr_expect_eq(count(svg, "No figure this year yet"), 1);
    cr_expect_eq(count(svg, "Last year"), 0, "no legend for a curve with no figure");
    free(svg);
    svg = chart(&c, true);
    cr_expect_eq(count(svg, "<circle"), 0);
    free(svg);
}

Test(svg_chart, negative_figures_go_below_the_zero_line)
{
    struct agg_series_point p[] = {{month_end(1), "-20", NULL}, {month_end(2), "35", NULL}};
    struct agg_svg_chart c = {.year = 2015, .points = p, .n_points = 2, .target = "0"};
    char *svg = chart(&c, false);

    /* -20..35 by steps of 20: -20 to 40; labels -20, 0, 20, 40, grouped. */
    cr_expect_eq(count(svg, ">-20</text>"), 1, "%s", svg);
    cr_expect_eq(count(svg, ">0</text>"), 1);
    cr_expect_eq(count(svg, ">40</text>"), 1);
    /* -20 is the bottom of the plot (34 + 200), 35 near its top. */
    cr_expect_eq(count(svg, "cy=\"234.0\""), 1, "%s", svg);
    cr_expect_eq(count(svg, "cy=\"50.7\""), 1, "%s", svg);
    free(svg);
}

Test(svg_chart, huge_figures_scale_without_overflow)
{
    struct agg_series_point p[] = {{month_end(1), "-1.7e308", NULL},
                                   {month_end(2), "1.7e308", "1.7e308"},
                                   {month_end(3), "123456789012345678901234567890", NULL}};
    struct agg_svg_chart c = {.year = 2015, .points = p, .n_points = 3, .target = "1e308"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "<circle"), 3);
    cr_expect_eq(count(svg, "target-line"), 1);
    free(svg);
    svg = chart(&c, true);
    cr_expect_eq(count(svg, "<circle"), 1);
    free(svg);
}

Test(svg_chart, thousands_are_grouped_and_labels_escaped)
{
    struct agg_series_point p[] = {{month_end(12), "9800", NULL}};
    struct agg_svg_chart c = {.year = 2015,
                              .label = "<b>&\"",
                              .unit = "亿<元>",
                              .points = p,
                              .n_points = 1,
                              .target = "10000"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, ">10,000</text>"), 1, "%s", svg);
    cr_expect_eq(count(svg, "<b>"), 0);
    cr_expect_eq(count(svg, "&lt;b&gt;&amp;&quot;"), 2); /* aria-label and title */
    cr_expect_eq(count(svg, "(亿&lt;元&gt;)"), 1);
    free(svg);
}

Test(svg_chart, last_years_lone_month_is_a_grey_dot)
{
    struct agg_series_point p[] = {{month_end(6), "3130.12", "3200"}};
    struct agg_series_point prev[] = {{month_end(11) - 365 * DAY_MS, NULL, NULL},
                                      {month_end(12) - 365 * DAY_MS, "5600", NULL}};
    struct agg_svg_chart c = {.year = 2015,
                              .points = p,
                              .n_points = 1,
                              .previous = prev,
                              .n_previous = 2,
                              .target = "6500"};
    char *svg = chart(&c, false);

    cr_expect_eq(count(svg, "2014 上年 Last year"), 1);
    cr_expect_eq(count(svg, "fill=\"#8a8a8a\"/>"), 1, "%s", svg);
    /* 31 December 2014 is the right edge, whatever the year's length */
    cr_expect_eq(count(svg, "<circle cx=\"624.0\""), 1, "%s", svg);
    free(svg);
}
