/*
 * dashboard_completeness.h - the bureau's page of reporting rounds, at /completeness.
 *
 * A units x rounds matrix for one year: each cell says, in a symbol, Chinese and English
 * (never by colour alone), whether the unit reported that round on time, late, partly or
 * not at all, with its counts; the missing and late indicators are in the cell's title
 * (on hover) and listed in text below the matrix. The page is complete HTML with inline
 * style and no script, so it reads offline, from another host and on paper. Everything
 * taken from the database is escaped.
 *
 * Nothing here touches the database or keeps state; the caller owns every input.
 */
#ifndef AGG_DASHBOARD_COMPLETENESS_H
#define AGG_DASHBOARD_COMPLETENESS_H

#include "buf.h"
#include "completeness.h"

#include <libpq-fe.h>
#include <stddef.h>

struct agg_completeness_page {
    const struct agg_completeness *completeness; /* NULL when it could not be read */
    const char *problem;                         /* one line shown on the page, or NULL */
    int year;                                    /* the year selected (0: none) */
    int *years;                                  /* years that have rounds, ascending */
    size_t n_years;
    const PGresult *names; /* rows (code, name_zh, name_en) of the indicators, or NULL */
};

/* Appends the whole page to `out`. Returns 0, or -1 when `out` could not grow. */
int agg_dashboard_completeness_render(const struct agg_completeness_page *page, struct ct_buf *out);

#endif
