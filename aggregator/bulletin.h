/*
 * bulletin.h - the printable bulletin (通报) of a briefing (briefing.h): GET /bulletin,
 * CONTRACT section 11.
 *
 * One self-contained HTML page (inline CSS, no script, nothing from another origin) laid
 * out for A4 paper: a masthead, then numbered sections, each rendered by a function of its
 * own: the headline counts, every target with its status (and pace, when the briefing has
 * it), the assessment ranking, the completeness of the last due round and what changed
 * since the previous month end; a section whose data the briefing lacks is left out and
 * the numbering closes up. Headings are bilingual, Chinese first.
 *
 * Print rules: @page A4 with margins; table headers repeat on every page; no table row is
 * cut across a page break (break-inside: avoid), and a heading stays with what follows.
 * Every text from the database is HTML-escaped; figures use the dashboard's rounding
 * (agg_dashboard_format_figure). Rendering is pure: the caller owns every input.
 */
#ifndef AGG_BULLETIN_H
#define AGG_BULLETIN_H

#include "briefing.h"
#include "buf.h"

#include <stdint.h>

/* The Content-Security-Policy the page is served with: it needs inline style only. */
#define AGG_BULLETIN_CSP                                                                           \
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "              \
    "form-action 'none'; frame-ancestors 'none'"

/* Appends the whole page to `out`; `issued_ms` is the date printed as the issue date.
 * Returns 0, or -1 when `out` could not grow. */
int agg_bulletin_render(const struct agg_briefing *b, int64_t issued_ms, struct ct_buf *out);

#endif
