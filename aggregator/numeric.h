/*
 * numeric.h - exact decimals for the diff's fold, as PostgreSQL's numeric adds them.
 *
 * The diff (diff_listing.c) replays a month of the log per unit in C and gives every
 * update its contribution: a set's value less the unit's value just before it. Those are
 * exact decimal subtractions of PostgreSQL numerics, of any length: a figure may be
 * 1e300 or 5e-324, and a unit's value is the sum of many. So a value here is a
 * coefficient of decimal digits of any length and a power of ten, never a double and
 * never a fixed-width integer that could overflow.
 *
 * Values are normalised: the coefficient has no leading and no trailing zeros (zero has
 * none at all), so agg_numeric_format() prints what trim_scale() would, in numeric's own
 * notation ("-12.5", "1000", "0.0001"), without an exponent.
 *
 * A `struct agg_numeric` owns its digit buffer, which grows as needed and is reused by
 * later results; agg_numeric_release() frees it. Every function that can grow a buffer
 * returns 0, or -1 when memory ran out (the value is then unchanged or zero).
 */
#ifndef AGG_NUMERIC_H
#define AGG_NUMERIC_H

#include <stdbool.h>
#include <stddef.h>

struct agg_numeric {
    char *digits; /* '0'..'9', most significant first; not NUL-terminated */
    size_t len, cap;
    long exp; /* the value is +-digits x 10^exp */
    bool negative;
};

void agg_numeric_init(struct agg_numeric *n);
void agg_numeric_release(struct agg_numeric *n);

void agg_numeric_set_zero(struct agg_numeric *n);
int agg_numeric_copy(struct agg_numeric *dst, const struct agg_numeric *src);

/* Reads numeric's binary send format (int16 ndigits, weight, sign, dscale, then ndigits
 * base-10000 digits, all big-endian). Returns 0, -1 when memory ran out, or -2 when the
 * bytes are not a finite numeric (wrong length, a digit over 9999, NaN or infinity). */
int agg_numeric_from_binary(struct agg_numeric *n, const unsigned char *data, size_t size);

/* Reads numeric's text output: an optional '-', digits, optionally '.' and digits.
 * Returns 0, -1 when memory ran out, or -2 when `text` is not of that form. */
int agg_numeric_from_text(struct agg_numeric *n, const char *text);

/* out = a + b and out = a - b, exactly. `out` must not be `a` or `b`. */
int agg_numeric_add(struct agg_numeric *out, const struct agg_numeric *a,
                    const struct agg_numeric *b);
int agg_numeric_sub(struct agg_numeric *out, const struct agg_numeric *a,
                    const struct agg_numeric *b);

/* The text trim_scale(value)::text gives. Returns the length it needs (without the NUL);
 * writes it, NUL-terminated, only when that fits in `size`. */
size_t agg_numeric_format(const struct agg_numeric *n, char *buf, size_t size);

#endif
