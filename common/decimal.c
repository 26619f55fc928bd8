#include "decimal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_decimal_from_double(double v, char *buf, size_t size)
{
    if (!isfinite(v) || size < CT_DECIMAL_MAX)
        return -1;
    if (v == 0) {
        memcpy(buf, "0", 2);
        return 0;
    }
    /* Any decimal of up to 15 significant digits survives a trip through a double
     * (DBL_DIG), so when the shortest form has <= 15 digits, "%.15g" prints exactly it.
     * Otherwise the correctly rounded 16-digit form is the closest 16-digit decimal, and
     * round-trips if any 16-digit decimal does; 17 digits always do. */
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, v);
        if (precision == 17 || strtod(buf, NULL) == v)
            return 0;
    }
    return 0;
}

int ct_value_format(const struct ct_value *v, char *buf, size_t size)
{
    switch (v->kind) {
    case CT_VALUE_INT:
        return snprintf(buf, size, "%" PRId64, v->as.i) < (int)size ? 0 : -1;
    case CT_VALUE_UINT:
        return snprintf(buf, size, "%" PRIu64, v->as.u) < (int)size ? 0 : -1;
    case CT_VALUE_FLOAT:
        return ct_decimal_from_double(v->as.f, buf, size);
    }
    return -1;
}

int ct_value_is_finite(const struct ct_value *v)
{
    return v->kind != CT_VALUE_FLOAT || isfinite(v->as.f);
}

/* Copies `text` without thousands separators into `out`, checking that every ","
 * separates groups of exactly three digits in the integer part. */
static int strip_grouping(const char *text, size_t len, char *out, size_t out_size)
{
    size_t o = 0, digits_since_comma = 0;
    int seen_comma = 0, in_integer_part = 1;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == ',') {
            if (!in_integer_part || digits_since_comma == 0 ||
                (seen_comma && digits_since_comma != 3))
                return -1;
            seen_comma = 1;
            digits_since_comma = 0;
            continue;
        }
        if (isdigit((unsigned char)c)) {
            digits_since_comma++;
        } else if (c == '.' || c == 'e' || c == 'E') {
            if (in_integer_part && seen_comma && digits_since_comma != 3)
                return -1;
            in_integer_part = 0;
        }
        if (o + 1 >= out_size)
            return -1;
        out[o++] = c;
    }
    if (in_integer_part && seen_comma && digits_since_comma != 3)
        return -1;
    out[o] = '\0';
    return 0;
}

int ct_value_parse(const char *text, struct ct_value *out, char *err, size_t err_size)
{
    char clean[128];
    const char *start = text, *end;
    size_t len;
    char *stop;

    while (isspace((unsigned char)*start))
        start++;
    end = start + strlen(start);
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    len = (size_t)(end - start);
    if (len == 0) {
        snprintf(err, err_size, "empty value");
        return -1;
    }
    if (len >= sizeof(clean) / 2) {
        snprintf(err, err_size, "value too long");
        return -1;
    }
    if (strip_grouping(start, len, clean, sizeof(clean)) != 0) {
        snprintf(err, err_size, "not a number (misplaced ',')");
        return -1;
    }
    /* strtod alone would also take "inf", "nan" and hex floats; a figure is plain decimal. */
    for (const char *p = clean; *p; p++) {
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) {
            snprintf(err, err_size, "not a number");
            return -1;
        }
    }

    errno = 0;
    long long as_int = strtoll(clean, &stop, 10);
    if (*stop == '\0' && stop != clean && errno == 0) {
        out->kind = CT_VALUE_INT;
        out->as.i = as_int;
        return 0;
    }
    errno = 0;
    double as_double = strtod(clean, &stop);
    if (*stop != '\0' || stop == clean) {
        snprintf(err, err_size, "not a number");
        return -1;
    }
    if (errno == ERANGE || !isfinite(as_double)) {
        snprintf(err, err_size, "number out of range");
        return -1;
    }
    out->kind = CT_VALUE_FLOAT;
    out->as.f = as_double;
    return 0;
}
