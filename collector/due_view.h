/*
 * due_view.h - reading the `due` the aggregator last sent (kept in the outbox, outbox.h)
 * for `status` and /metrics: when a round's due day ends, and which round is next.
 * Pure functions over rows the caller owns.
 */
#ifndef COL_DUE_VIEW_H
#define COL_DUE_VIEW_H

#include "outbox.h"

#include <stddef.h>
#include <stdint.h>

/* The end of the row's due day in UTC+8, Unix ms; 0 when the date does not parse. */
int64_t col_due_end_ms(const struct col_due_row *r);

/* The next due round: the earliest whose due day has not ended at `now_ms`, else the last
 * one listed (overdue, but still within the aggregator's grace); NULL when there is none. */
const struct col_due_row *col_due_next(const struct col_due_row *rows, size_t n, int64_t now_ms);

#endif
