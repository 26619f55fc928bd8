/*
 * dashboard_warnings.h - the plausibility warnings shown beside a unit's figure on the
 * dashboard (CONTRACT section 10).
 *
 * A figure shows the warnings of the update that is its newest set (current_values'
 * set_agent, set_seq), under every target that reads its indicator: so a clerk's
 * confirmation (the same figure sent again with a note, which raises none) clears it.
 * Only the page for "now" shows them; a figure as of a past day may rest on another set.
 *
 * A `struct agg_dashboard_warnings` owns the query result its rows point into; free it
 * with agg_dashboard_warnings_free(). Rendering borrows the rows.
 */
#ifndef AGG_DASHBOARD_WARNINGS_H
#define AGG_DASHBOARD_WARNINGS_H

#include "buf.h"
#include "dashboard.h"

#include <libpq-fe.h>
#include <stddef.h>

struct agg_dashboard_warnings {
    struct agg_dashboard_warning *rows;
    size_t n;
    PGresult *res; /* what the rows point into */
};

/* Reads the warnings on the current figures of `year`. Returns 0, or -1 with one line
 * in `err` (then `w` is empty). */
int agg_dashboard_warnings_load(PGconn *conn, int year, struct agg_dashboard_warnings *w, char *err,
                                size_t err_size);
void agg_dashboard_warnings_free(struct agg_dashboard_warnings *w);

/* Appends the warnings of `district`'s figure under target `target` (none: nothing), as
 * <span class="warn" data-district=...> elements, readable without scripts. */
void agg_dashboard_render_warnings(struct ct_buf *out, const struct agg_dashboard_view *v,
                                   const char *target, const char *district);

#endif
