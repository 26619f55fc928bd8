#include "due_view.h"

#include "timefmt.h"

int64_t col_due_end_ms(const struct col_due_row *r)
{
    char why[64];
    int64_t ms;

    /* A bare date parses as the last millisecond of that day in UTC+8. */
    return ct_time_parse(r->due, &ms, why, sizeof(why)) == 0 ? ms : 0;
}

const struct col_due_row *col_due_next(const struct col_due_row *rows, size_t n, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        if (col_due_end_ms(&rows[i]) >= now_ms)
            return &rows[i];
    }
    return n > 0 ? &rows[n - 1] : NULL;
}
