#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal with `n` significant digits `m` (no leading zero) whose first digit is in the
 * 10^exp place: 6.8 is {68, 2, 0}, 0.015 is {15, 2, -2}. */
struct digits {
    uint64_t m;
    int n;
    int exp;
    int negative;
};

static uint64_t pow10u(int n)
{
    uint64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* The `n`-digit decimal nearest to v, from printf's correctly rounded "%.*e". Only the
 * digits and the exponent are read, so the locale's decimal point does not matter. */
static void nearest_digits(double v, int n, struct digits *d)
{
    char text[48];
    const char *p = text;

    snprintf(text, sizeof(text), "%.*e", n - 1, v);
    d->negative = *p == '-';
    d->m = 0;
    d->n = n;
    for (; *p != 'e' && *p != '\0'; p++) {
        if (isdigit((unsigned char)*p))
            d->m = d->m * 10 + (uint64_t)(*p - '0');
    }
    d->exp = *p == 'e' ? atoi(p + 1) : 0;
}

/* The next `n`-digit decimal above (step 1) or below (step -1) `d` in magnitude. */
static struct digits step_digits(struct digits d, int step)
{
    if (step > 0) {
        if (++d.m == pow10u(d.n)) { /* 9.99e5 + 1 unit = 1.00e6 */
            d.m = pow10u(d.n - 1);
            d.exp++;
        }
    } else {
        if (d.m-- == pow10u(d.n - 1)) { /* 1.00e6 - 1 unit = 9.99e5 */
            d.m = pow10u(d.n) - 1;
            d.exp--;
        }
    }
    return d;
}

/* True when strtod reads `d` back as exactly `v`. */
static int reads_back(const struct digits *d, double v)
{
    char text[48];

    snprintf(text, sizeof(text), "%s%llue%d", d->negative ? "-" : "", (unsigned long long)d->m,
             d->exp - (d->n - 1));
    return strtod(text, NULL) == v;
}

/* Writes `d` without trailing zeros, in the notation "%.17g" would pick for its exponent:
 * fixed for 10^-4 <= |v| < 10^17, else C's exponent form with at least two exponent
 * digits. */
static void render_digits(struct digits d, char *buf, size_t size)
{
    char ds[24];
    size_t o = 0;
    int k;

    while (d.n > 1 && d.m % 10 == 0) {
        d.m /= 10;
        d.n--;
    }
    k = snprintf(ds, sizeof(ds), "%llu", (unsigned long long)d.m);
    if (d.negative)
        buf[o++] = '-';
    if (d.exp < -4 || d.exp >= 17) {
        buf[o++] = ds[0];
        if (k > 1) {
            buf[o++] = '.';
            memcpy(buf + o, ds + 1, (size_t)k - 1);
            o += (size_t)k - 1;
        }
        snprintf(buf + o, size - o, "e%c%02d", d.exp < 0 ? '-' : '+', abs(d.exp));
        return;
    }
    if (d.exp < 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int z = -1; z > d.exp; z--)
            buf[o++] = '0';
        memcpy(buf + o, ds, (size_t)k);
        o += (size_t)k;
    } else if (k <= d.exp + 1) {
        memcpy(buf + o, ds, (size_t)k);
        o += (size_t)k;
        for (int z = k; z <= d.exp; z++)
            buf[o++] = '0';
    } else {
        memcpy(buf + o, ds, (size_t)d.exp + 1);
        o += (size_t)d.exp + 1;
        buf[o++] = '.';
        memcpy(buf + o, ds + d.exp + 1, (size_t)(k - d.exp - 1));
        o += (size_t)(k - d.exp - 1);
    }
    buf[o] = '\0';
}

int ct_value_format_double(double v, char *buf, size_t size)
{
    struct digits d;

    if (!isfinite(v) || size < CT_VALUE_TEXT_MAX)
        return -1;
    if (v == 0) {
        memcpy(buf, "0", 2);
        return 0;
    }
    /* Fast path for the figures people type. Any decimal of up to 15 significant digits
     * survives a trip through a normal double (DBL_DIG), so if the shortest form has <= 15
     * digits, the nearest 15-digit decimal is exactly it (padded with zeros); and if that
     * one does not read back, nothing shorter does. Subnormals carry fewer bits, so for
     * them every length is tried. */
    nearest_digits(v, 15, &d);
    if (fabs(v) >= DBL_MIN && reads_back(&d, v)) {
        render_digits(d, buf, size);
        return 0;
    }
    /* For each length, the candidates are the two n-digit decimals either side of v. The
     * nearest may miss where the round-trip interval is lopsided (v a power of two: the
     * gap below is half the gap above) while the other side still reads back, so both
     * are tried. 17 digits always read back. */
    for (int n = fabs(v) >= DBL_MIN ? 16 : 1; n <= 17; n++) {
        nearest_digits(v, n, &d);
        if (reads_back(&d, v) || n == 17)
            break;
        struct digits up = step_digits(d, 1), down = step_digits(d, -1);
        if (reads_back(&up, v)) {
            d = up;
            break;
        }
        if (reads_back(&down, v)) {
            d = down;
            break;
        }
    }
    render_digits(d, buf, size);
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
        return ct_value_format_double(v->as.f, buf, size);
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
            /* the first group has 1-3 digits, every later one exactly 3 */
            if (!in_integer_part || digits_since_comma == 0 ||
                (seen_comma ? digits_since_comma != 3 : digits_since_comma > 3))
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

int ct_value_group_thousands(const char *decimal, char *out, size_t size)
{
    size_t sign = decimal[0] == '-', digits = strspn(decimal + sign, "0123456789");
    size_t commas = digits > 0 ? (digits - 1) / 3 : 0, k = 0;
    const char *s = decimal;

    if (strlen(decimal) + commas >= size) {
        if (size > 0)
            out[0] = '\0';
        return -1;
    }
    if (sign)
        out[k++] = *s++;
    for (size_t d = 0; d < digits; d++) {
        if (d > 0 && (digits - d) % 3 == 0)
            out[k++] = ',';
        out[k++] = *s++;
    }
    memcpy(out + k, s, strlen(s) + 1);
    return 0;
}
