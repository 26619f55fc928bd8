/*
 * svg_chart.h - a target's trend chart and sparkline as inline SVG, drawn on the server.
 *
 * The dashboard shows them without any script: the SVG is in the page as it is served, so
 * it reads with JavaScript off, prints, and works offline, and no charting library is
 * vendored. The chart draws the year's actual (a line with a dot per month end), the
 * pro-rata line where there is one (dashed), last year's curve (grey) and the target (a
 * horizontal line), with axes labelled in Chinese and English; the sparkline is the
 * year's actual alone, small enough for a table cell.
 *
 * Every figure is decimal text that may be NULL, empty, or not a number ("NaN", "abc"):
 * such a point is a gap, never a crash; a chart with no figure at all says so. Values of
 * any finite size scale without overflow. Nothing is allocated that outlives a call; the
 * caller owns every input.
 */
#ifndef AGG_SVG_CHART_H
#define AGG_SVG_CHART_H

#include "buf.h"
#include "series.h"

#include <stddef.h>

struct agg_svg_chart {
    int year;                              /* the year of `points` */
    const char *label;                     /* accessible name (the target's); may be NULL */
    const char *unit;                      /* the figures' unit, for the y axis; may be NULL */
    const struct agg_series_point *points; /* year `year`: actual and expected */
    size_t n_points;
    const struct agg_series_point *previous; /* year `year` - 1: actual */
    size_t n_previous;
    const char *target; /* the target's figure; NULL: no target line */
};

/* Appends the chart's <svg> element to `out`. Returns 0, or -1 when `out` could not grow. */
int agg_svg_chart_render(const struct agg_svg_chart *c, struct ct_buf *out);

/* Appends the sparkline's <svg class="spark"> element (the year's actual) to `out`.
 * Returns 0, or -1 when `out` could not grow. */
int agg_svg_sparkline_render(const struct agg_svg_chart *c, struct ct_buf *out);

/* Reads a figure: 0 with `*v` set for a finite decimal number, -1 for NULL, "", text
 * that is not wholly a number, or a number out of double's range. Exposed for tests. */
int agg_svg_figure(const char *text, double *v);

#endif
