/*
 * page_form.h - the form controls every HTML page of the aggregator shares: the year
 * select and the as-of date input.
 *
 * Each page's form offers the years that have data and keeps the one asked for selected,
 * even when it has none yet, so a bookmarked page still shows which year it is about.
 * Output is appended to the caller's buffer; nothing here keeps memory.
 */
#ifndef AGG_PAGE_FORM_H
#define AGG_PAGE_FORM_H

#include "buf.h"

#include <stddef.h>

/* <option> elements for `years` (ascending), `year` selected; `year` is added at the end
 * when it is not among them (and is not 0, which means no year). */
void agg_page_year_options(struct ct_buf *out, const int *years, size_t n_years, int year);

/* The value of a date input for `as_of` (NULL or any text): its first 10 characters when
 * they are a YYYY-MM-DD date, else nothing, since a date input takes nothing else. */
void agg_page_date_value(struct ct_buf *out, const char *as_of);

#endif
