/*
 * dashboard_assessment.h - the dashboard's assessment page (GET /assessment), rendered on the
 * server: the ranking of the units (CONTRACT section 8) and the scorecard, a units x targets
 * matrix whose every cell is the unit's pct of its own target, coloured by status.
 *
 * The page is complete HTML with inline CSS and no script, so it reads the same with
 * JavaScript off, offline and on paper. Every scorecard cell is a
 * <td class="cell st-STATUS" data-district=... data-code=... data-pct=... data-status=...>
 * (class "cell na", no data-status, for a target the unit holds none of); every ranking row
 * a <tr data-district=... data-rank=... data-score=...>. Everything from the database is
 * escaped; a missing value prints "—".
 *
 * Nothing here touches the database or keeps state; the caller owns every input.
 */
#ifndef AGG_DASHBOARD_ASSESSMENT_H
#define AGG_DASHBOARD_ASSESSMENT_H

#include "assessment.h"
#include "buf.h"

#include <stddef.h>

struct agg_dashboard_assessment_view {
    const struct agg_assessment *assessment;
    const char *as_of; /* the as_of parameter as given; "" for now */
    const int *years;  /* years that have targets, ascending */
    size_t n_years;
};

/* Appends the whole page to `out`. Returns 0, or -1 when `out` could not grow. */
int agg_dashboard_assessment_render(const struct agg_dashboard_assessment_view *view,
                                    struct ct_buf *out);

#endif
