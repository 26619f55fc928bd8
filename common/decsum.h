/*
 * decsum.h - exact sums of figures, as PostgreSQL's numeric would make them.
 *
 * The aggregator folds each commit's updates per (unit, indicator, period, day) in C before
 * it writes one row per group (aggregator/fold.c), so it adds figures itself. Every figure
 * is an exact decimal: an integer, or a double's shortest decimal (at most 17 significant
 * digits, see value.h). A sum is an __int128 count of units of 10^exp, where exp is the
 * smallest exponent seen; that holds 38 digits, so figures spanning up to ~19 orders of
 * magnitude add exactly. Beyond that the sum says it overflowed, and the caller lets
 * PostgreSQL add those figures instead. Plain value; nothing to free.
 */
#ifndef CT_DECSUM_H
#define CT_DECSUM_H

#include "value.h"

#include <stdbool.h>
#include <stddef.h>

struct ct_decsum {
    __int128 units;
    int exp;       /* the sum is units x 10^exp */
    bool overflow; /* the exact sum does not fit; the result is unusable */
};

void ct_decsum_init(struct ct_decsum *s);

/* Adds `v`, which must be finite. */
void ct_decsum_add(struct ct_decsum *s, const struct ct_value *v);

/* Writes the sum as numeric input ("0", "-125", "12345e-2", "7e300"), at most 48 bytes.
 * Returns 0, or -1 when the sum overflowed or `size` is too small. */
int ct_decsum_format(const struct ct_decsum *s, char *buf, size_t size);

#endif
