/*
 * value.h - a figure (struct ct_value) and its exact decimal text.
 *
 * A figure travels as a msgpack int or float and is stored as PostgreSQL `numeric`. The
 * text between them is chosen here: integers print exactly, and a double prints as the
 * shortest decimal that reads back as the same double, so 0.1 is stored as 0.1 and not
 * 0.1000000000000000055511151231257827. Large and tiny doubles use C's exponent form
 * ("1e+21", "1.5e-07"), which PostgreSQL's numeric input accepts.
 *
 * What ct_value_format_double() guarantees for every finite double v (tests/unit/
 * test_value.c checks it for a million random bit patterns and every power of two):
 * - strtod() reads the text back as exactly v (-0.0 is written "0");
 * - no decimal with fewer significant digits reads back as v, and among those with as few
 *   it is the nearest to v (the other one only where the nearest misses);
 * - the notation is the one "%.17g" picks for v's exponent: fixed from 1e-4 up to below
 *   1e17 ("0.0001", "6500", "10000000000000000"), exponent form outside ("1e-05",
 *   "1e+17", "5e-324"), so the text is never longer than "%.17g"'s.
 * Plain "%.15g"/"%.16g"/"%.17g" is not enough: it is not shortest for subnormals
 * (4.94065645841247e-324 for 5e-324) nor where the round-trip interval is lopsided at a
 * power of two (2^89: the nearest 16-digit decimal misses, the next one up reads back).
 *
 * Also parses what people type or Excel exports into a value, and groups thousands for
 * display by one rule. No allocation.
 */
#ifndef CT_VALUE_H
#define CT_VALUE_H

#include <stddef.h>
#include <stdint.h>

enum ct_value_kind {
    CT_VALUE_INT,   /* i: fits int64 */
    CT_VALUE_UINT,  /* u: above INT64_MAX, as msgpack allows */
    CT_VALUE_FLOAT, /* f: any double; non-finite ones are refused where they matter */
};

struct ct_value {
    enum ct_value_kind kind;
    union {
        int64_t i;
        uint64_t u;
        double f;
    } as;
};

/* Enough for any int64/uint64 and the longest "%.17g" of a double. */
#define CT_VALUE_TEXT_MAX 32

/* Writes the shortest round-tripping decimal of `v` (as described above) to `buf`, which
 * must hold CT_VALUE_TEXT_MAX bytes. Returns 0, or -1 when `v` is NaN or infinite or `size`
 * is too small. -0.0 is written as "0". */
int ct_value_format_double(double v, char *buf, size_t size);

/* Writes the exact decimal of `v` (shortest form for floats). Returns 0 or -1 as above. */
int ct_value_format(const struct ct_value *v, char *buf, size_t size);

/* True when `v` is an int, or a finite float. */
int ct_value_is_finite(const struct ct_value *v);

/* Parses a figure typed by a person or exported by a spreadsheet: optional surrounding
 * spaces, optional sign, digits with optional "," thousands groups (1-3 digits, then groups
 * of exactly three, in the integer part only), optional
 * fraction and exponent. Integers that fit int64 stay integers; anything else becomes a
 * finite double. Returns 0, or -1 with a reason in `err` ("not a number", "out of range"). */
int ct_value_parse(const char *text, struct ct_value *out, char *err, size_t err_size);

/* The one rule for grouping thousands on every page and report: copies the decimal text
 * `decimal` ("-1234567.125") to `out` with a "," between groups of three digits of its
 * integer part ("-1,234,567.125"), the grouping ct_value_parse() reads back. Whatever
 * follows the integer digits (fraction, exponent, or all of a text that is not a number)
 * is copied as it is. Returns 0, or -1 with `out` empty when `size` is too small. */
int ct_value_group_thousands(const char *decimal, char *out, size_t size);

#endif
