#include "svg_chart.h"

#include "timefmt.h"
#include "value.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chart's drawing box (viewBox units) and its plot area within it. */
#define W 640.0
#define H 280.0
#define LEFT 78.0
#define RIGHT 16.0
#define TOP 34.0
#define BOTTOM 46.0
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)
#define SPARK_W 100.0
#define SPARK_H 24.0
#define MAX_TICKS 12
#define TICK_TEXT_MAX 48

/* Okabe-Ito, as the page's status colours. */
#define C_ACTUAL "#0072b2"
#define C_PACE "#009e73"
#define C_PREVIOUS "#8a8a8a"
#define C_TARGET "#d55e00"

int agg_svg_figure(const char *text, double *v)
{
    char *end;
    double d;

    if (text == NULL || text[0] == '\0' || strspn(text, "0123456789.+-eE") != strlen(text))
        return -1; /* also refuses "nan", "inf" and anything with spaces */
    errno = 0;
    d = strtod(text, &end);
    if (*end != '\0' || end == text || errno == ERANGE || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

/* The value range shown, and its ticks. All arithmetic is on halves so that values near
 * DBL_MAX never overflow. */
struct scale {
    double lo, hi, step;
    bool any;
};

static void scale_add(struct scale *s, const char *text)
{
    double v;

    if (agg_svg_figure(text, &v) != 0)
        return;
    s->lo = s->any ? fmin(s->lo, v) : v;
    s->hi = s->any ? fmax(s->hi, v) : v;
    s->any = true;
}

/* 1, 2 or 5 times a power of ten, at least `raw`. */
static double nice_step(double raw)
{
    double p, f;

    if (!(raw > 0) || !isfinite(raw))
        return 1;
    p = pow(10, floor(log10(raw)));
    f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void scale_finish(struct scale *s, int n_ticks)
{
    double lo, hi;

    if (!s->any) {
        s->lo = 0;
        s->hi = 1;
    }
    /* Zero is on the axis when all figures have one sign: sums read from zero. */
    s->lo = fmin(s->lo, 0);
    s->hi = fmax(s->hi, 0);
    if (s->hi == s->lo)
        s->hi = s->lo + 1;
    s->step = nice_step((s->hi / 2 - s->lo / 2) * 2 / n_ticks);
    if (!isfinite(s->step) || s->step <= 0)
        s->step = (s->hi / 2 - s->lo / 2) / n_ticks * 2;
    lo = floor(s->lo / s->step) * s->step;
    hi = ceil(s->hi / s->step) * s->step;
    if (isfinite(lo) && lo <= s->lo)
        s->lo = lo;
    if (isfinite(hi) && hi >= s->hi)
        s->hi = hi;
}

/* The y coordinate of `v` in a box from `top` of height `h`. */
static double scale_y(const struct scale *s, double v, double top, double h)
{
    double span = s->hi / 2 - s->lo / 2;
    double f = span > 0 ? (s->hi / 2 - v / 2) / span : 0.5;
    return top + fmin(1, fmax(0, f)) * h;
}

/* The fraction of `year` (UTC+8) elapsed at `ms`, within [0, 1]. */
static double year_fraction(int year, int64_t ms)
{
    int64_t start = ct_time_year_start_ms(year), end = ct_time_year_start_ms(year + 1);
    double f = (double)(ms - start) / (double)(end - start);
    return fmin(1, fmax(0, f));
}

/* A tick label: grouped digits, as many decimals as the step needs. */
static void tick_text(double v, double step, char *buf, size_t size)
{
    char raw[TICK_TEXT_MAX];
    int decimals = step >= 1 ? 0 : (int)fmin(6, ceil(-log10(step) - 1e-9));

    if (fabs(v) < step / 2)
        v = 0; /* no "-0" */
    if (fabs(v) >= 1e15) {
        snprintf(buf, size, "%.3g", v);
        return;
    }
    snprintf(raw, sizeof(raw), "%.*f", decimals, v);
    if (ct_value_group_thousands(raw, buf, size) != 0)
        snprintf(buf, size, "%s", raw);
}

/* One series as a path: "M x y L x y ...", starting a new run after each gap; `expected`
 * draws the points' pro-rata figures instead of their actuals. Returns the points drawn. */
static size_t series_path(struct ct_buf *out, const struct agg_series_point *pts, size_t n,
                          int year, bool expected, const struct scale *s, double left, double top,
                          double w, double h, const char *attrs)
{
    size_t drawn = 0;
    bool pen = false;

    for (size_t i = 0; i < n; i++) {
        double v;
        if (agg_svg_figure(expected ? pts[i].expected : pts[i].actual, &v) != 0) {
            pen = false;
            continue;
        }
        ct_buf_printf(out, "%s%s%.1f %.1f", drawn == 0 ? "<path d=\"" : " ", pen ? "L" : "M",
                      left + year_fraction(year, pts[i].at_ms) * w, scale_y(s, v, top, h));
        pen = true;
        drawn++;
    }
    if (drawn > 0)
        ct_buf_printf(out, "\" fill=\"none\" %s/>", attrs);
    return drawn;
}

/* A dot per figure, so that a lone month (a run of one point) shows too. */
static void dots(struct ct_buf *out, const struct agg_series_point *pts, size_t n, int year,
                 const struct scale *s, double r, const char *colour)
{
    for (size_t i = 0; i < n; i++) {
        double v;
        if (agg_svg_figure(pts[i].actual, &v) == 0)
            ct_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>",
                          LEFT + year_fraction(year, pts[i].at_ms) * PLOT_W,
                          scale_y(s, v, TOP, PLOT_H), r, colour);
    }
}

static void legend_item(struct ct_buf *out, double *x, const char *colour, const char *dash,
                        const char *text, int year)
{
    ct_buf_printf(out,
                  "<line x1=\"%.1f\" y1=\"14\" x2=\"%.1f\" y2=\"14\" stroke=\"%s\" "
                  "stroke-width=\"2.5\"%s/><text x=\"%.1f\" y=\"18\">",
                  *x, *x + 22, colour, dash, *x + 27);
    if (year != 0)
        ct_buf_printf(out, "%d ", year);
    ct_buf_puts(out, text);
    ct_buf_puts(out, "</text>");
    *x += 27 + (year != 0 ? 36 : 0) + (double)strlen(text) * 5.2;
}

int agg_svg_chart_render(const struct agg_svg_chart *c, struct ct_buf *out)
{
    struct scale s = {0};
    double target = 0, x = LEFT;
    bool has_target = agg_svg_figure(c->target, &target) == 0, has_pace = false, has_prev = false;
    size_t n_actual = 0;

    for (size_t i = 0; i < c->n_points; i++) {
        scale_add(&s, c->points[i].actual);
        scale_add(&s, c->points[i].expected);
        has_pace = has_pace || agg_svg_figure(c->points[i].expected, &(double){0}) == 0;
        n_actual += agg_svg_figure(c->points[i].actual, &(double){0}) == 0;
    }
    for (size_t i = 0; i < c->n_previous; i++) {
        scale_add(&s, c->previous[i].actual);
        has_prev = has_prev || agg_svg_figure(c->previous[i].actual, &(double){0}) == 0;
    }
    if (has_target)
        scale_add(&s, c->target);
    scale_finish(&s, 4);

    ct_buf_printf(out,
                  "<svg class=\"trend-chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                  "aria-label=\"",
                  W, H);
    ct_buf_html(out, c->label);
    ct_buf_printf(out, " %d 趋势 trend\" font-size=\"11\" fill=\"#16181d\"><title>", c->year);
    ct_buf_html(out, c->label);
    ct_buf_printf(out, " %d 年度趋势 trend through the year</title>", c->year);

    /* Grid and y ticks. */
    for (int k = 0; k <= MAX_TICKS; k++) {
        double v = s.lo + k * s.step, y;
        char text[TICK_TEXT_MAX];
        if (v > s.hi + s.step / 2 || !isfinite(v))
            break;
        y = scale_y(&s, v, TOP, PLOT_H);
        tick_text(v, s.step, text, sizeof(text));
        ct_buf_printf(out,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                      LEFT, y, W - RIGHT, y, v == 0 ? "#9aa0aa" : "#e6e7eb", LEFT - 6, y + 4, text);
    }
    /* x ticks at month ends. */
    for (int m = 1; m <= 12; m++) {
        double xm = LEFT + m / 12.0 * PLOT_W;
        ct_buf_printf(out,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa0aa\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>",
                      xm, TOP + PLOT_H, xm, TOP + PLOT_H + 4, xm, TOP + PLOT_H + 16, m);
    }
    ct_buf_printf(out,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#5a5f69\"/>"
                  "<text class=\"axis-x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">月末 Month "
                  "end (%d)</text>",
                  LEFT, TOP, LEFT, TOP + PLOT_H, LEFT + PLOT_W / 2, H - 8, c->year);
    ct_buf_printf(out,
                  "<text class=\"axis-y\" transform=\"translate(14 %.1f) rotate(-90)\" "
                  "text-anchor=\"middle\">数值 Value",
                  TOP + PLOT_H / 2);
    if (c->unit != NULL && c->unit[0] != '\0') {
        ct_buf_puts(out, " (");
        ct_buf_html(out, c->unit);
        ct_buf_puts(out, ")");
    }
    ct_buf_puts(out, "</text>");

    /* Legend, then the lines: last year under this year. */
    legend_item(out, &x, C_ACTUAL, "", "实际 Actual", c->year);
    if (has_pace)
        legend_item(out, &x, C_PACE, " stroke-dasharray=\"6 4\"", "进度线 Pro rata", 0);
    if (has_prev)
        legend_item(out, &x, C_PREVIOUS, "", "上年 Last year", c->year - 1);
    if (has_target)
        legend_item(out, &x, C_TARGET, " stroke-dasharray=\"2 3\"", "目标 Target", 0);
    if (has_target) {
        double y = scale_y(&s, target, TOP, PLOT_H);
        ct_buf_printf(out,
                      "<line class=\"target-line\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"" C_TARGET "\" stroke-width=\"1.5\" "
                      "stroke-dasharray=\"2 3\"/>",
                      LEFT, y, W - RIGHT, y);
    }
    series_path(out, c->previous, c->n_previous, c->year - 1, false, &s, LEFT, TOP, PLOT_W, PLOT_H,
                "class=\"previous\" stroke=\"" C_PREVIOUS "\" stroke-width=\"2\"");
    series_path(out, c->points, c->n_points, c->year, true, &s, LEFT, TOP, PLOT_W, PLOT_H,
                "class=\"pace\" stroke=\"" C_PACE "\" stroke-width=\"2\" "
                "stroke-dasharray=\"6 4\"");
    series_path(out, c->points, c->n_points, c->year, false, &s, LEFT, TOP, PLOT_W, PLOT_H,
                "class=\"actual\" stroke=\"" C_ACTUAL "\" stroke-width=\"2.5\"");
    dots(out, c->previous, c->n_previous, c->year - 1, &s, 2.5, C_PREVIOUS);
    dots(out, c->points, c->n_points, c->year, &s, 3, C_ACTUAL);
    if (n_actual == 0)
        ct_buf_printf(out,
                      "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                      "fill=\"#5a5f69\">本年暂无数据 No figure this year yet</text>",
                      LEFT + PLOT_W / 2, TOP + PLOT_H / 2);
    ct_buf_puts(out, "</svg>");
    return out->failed ? -1 : 0;
}

int agg_svg_sparkline_render(const struct agg_svg_chart *c, struct ct_buf *out)
{
    struct scale s = {0};
    double last = 0;
    int64_t last_at = 0;
    bool have_last = false;

    for (size_t i = 0; i < c->n_points; i++) {
        scale_add(&s, c->points[i].actual);
        if (agg_svg_figure(c->points[i].actual, &last) == 0) {
            last_at = c->points[i].at_ms;
            have_last = true;
        }
    }
    scale_add(&s, c->target);
    scale_finish(&s, 1);
    ct_buf_printf(out,
                  "<svg class=\"spark\" viewBox=\"0 0 %.0f %.0f\" "
                  "role=\"img\" aria-label=\"",
                  SPARK_W, SPARK_H);
    ct_buf_html(out, c->label);
    ct_buf_printf(out, " %d 趋势 trend%s\">", c->year, have_last ? "" : "：暂无数据 no data");
    if (agg_svg_figure(c->target, &(double){0}) == 0) {
        double v = 0, y;
        (void)agg_svg_figure(c->target, &v);
        y = scale_y(&s, v, 2, SPARK_H - 4);
        ct_buf_printf(out,
                      "<line x1=\"0\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"" C_TARGET
                      "\" stroke-width=\"1\" stroke-dasharray=\"2 2\" "
                      "vector-effect=\"non-scaling-stroke\"/>",
                      y, SPARK_W, y);
    }
    series_path(out, c->points, c->n_points, c->year, false, &s, 0, 2, SPARK_W, SPARK_H - 4,
                "stroke=\"" C_ACTUAL
                "\" stroke-width=\"1.5\" vector-effect=\"non-scaling-stroke\"");
    if (have_last)
        ct_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"" C_ACTUAL "\"/>",
                      year_fraction(c->year, last_at) * SPARK_W, scale_y(&s, last, 2, SPARK_H - 4));
    ct_buf_puts(out, "</svg>");
    return out->failed ? -1 : 0;
}
