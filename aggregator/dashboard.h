/*
 * dashboard.h - the bureau's dashboard page, rendered on the server.
 *
 * The page is aggregator/dashboard/index.html, embedded at build time: one file with its
 * CSS and script inline, no external assets. The server fills its markers from a loaded
 * `struct agg_progress` (the same data `report --format json` and /api/progress print),
 * so every figure, bar, status and unit chart is in the HTML itself: the page reads
 * without JavaScript, from another host, offline, and on paper. Its script then polls
 * /api/progress and redraws the same structure (format_figure() here and fmt() there
 * round and group numbers by one rule).
 *
 * Each target is a <details class="target" data-code=... data-actual=... data-target=...
 * data-pct=... data-status=...> whose summary shows the name (Chinese, then English),
 * actual / target with unit, the bar, the percentage and the status as symbol and words,
 * and whose body is the units' bar chart. Everything taken from the database is escaped.
 * A paced target's bar carries the pro-rata mark (<span class="pace" style="left: X%;">,
 * X = expected_to_date / target); a `behind` target is also `lag-amber` at 90% of pace or
 * more and `lag-red` below (a target without a pro rata: its pct stands for its pace). The
 * assessment has its own page
 * (dashboard_assessment.h).
 *
 * Nothing here touches the database or keeps state; the caller owns every input.
 */
#ifndef AGG_DASHBOARD_H
#define AGG_DASHBOARD_H

#include "buf.h"
#include "progress.h"
#include "trends.h"

#include <stddef.h>

struct agg_dashboard_unit {
    const char *id;
    const char *name_zh;
    const char *name_en;
};

/* A plausibility warning on a unit's current figure (dashboard_warnings.h). */
struct agg_dashboard_warning {
    const char *target; /* target code whose unit chart shows it */
    const char *district;
    const char *code;
    const char *msg;
};

struct agg_dashboard_view {
    const struct agg_progress *progress; /* NULL when it could not be read */
    const char *problem;                 /* one line shown on the page, or NULL */
    int year;                            /* the year selected */
    const char *as_of;                   /* the as_of parameter as given; "" for now */
    const int *years;                    /* years that have targets, ascending */
    size_t n_years;
    const struct agg_dashboard_unit *units; /* all units, in districts.csv order */
    size_t n_units;
    unsigned refresh_s;                           /* how often the script polls /api/progress */
    const struct agg_dashboard_warning *warnings; /* beside the units' figures; may be none */
    size_t n_warnings;
    /* Section 11 (each may be NULL): the targets' curves (a sparkline in the row, the
     * trend chart when it opens), the figures revised after `revised_since` (marked), and
     * that parameter as given. */
    const struct agg_trends *trends;
    const struct agg_revisions *revisions;
    const char *revised_since;
};

/* Appends the whole page to `out`. Returns 0, or -1 when `out` could not grow. */
int agg_dashboard_render(const struct agg_dashboard_view *view, struct ct_buf *out);

/* The rounding rule the page uses for figures: `decimal` (a decimal number as text, e.g.
 * "1234567.125" or "-0.5") rounded half away from zero to at most `decimals` places,
 * trailing zeros dropped, thousands grouped by ct_value_group_thousands(): "1,234,567.13".
 * NULL prints "—". Exposed for tests. */
void agg_dashboard_format_figure(const char *decimal, int decimals, struct ct_buf *out);

#endif
