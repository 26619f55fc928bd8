#include "decsum.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXP_NONE INT_MAX /* nothing added yet */

void ct_decsum_init(struct ct_decsum *s)
{
    s->units = 0;
    s->exp = EXP_NONE;
    s->overflow = false;
}

/* `v` as mantissa x 10^exp, trailing zeros moved into the exponent so that sums of round
 * figures keep a small scale. */
static void split(const struct ct_value *v, __int128 *mantissa, int *exp)
{
    char text[CT_VALUE_TEXT_MAX], digits[CT_VALUE_TEXT_MAX];
    size_t n = 0;
    int fraction = 0, e = 0;
    bool negative = false, in_fraction = false;

    *exp = 0;
    if (v->kind == CT_VALUE_INT) {
        *mantissa = v->as.i;
    } else if (v->kind == CT_VALUE_UINT) {
        *mantissa = (__int128)v->as.u;
    } else {
        ct_value_format_double(v->as.f, text, sizeof(text));
        for (const char *p = text; *p; p++) {
            if (*p == '-') {
                negative = true;
            } else if (*p == '.') {
                in_fraction = true;
            } else if (*p == 'e' || *p == 'E') {
                e = atoi(p + 1);
                break;
            } else {
                digits[n++] = *p;
                fraction += in_fraction;
            }
        }
        *mantissa = 0;
        for (size_t i = 0; i < n; i++)
            *mantissa = *mantissa * 10 + (digits[i] - '0');
        if (negative)
            *mantissa = -*mantissa;
        *exp = e - fraction;
    }
    while (*mantissa != 0 && *mantissa % 10 == 0) {
        *mantissa /= 10;
        (*exp)++;
    }
}

/* value x 10^k, or false on overflow. */
static bool scale_up(__int128 value, int k, __int128 *out)
{
    while (k-- > 0) {
        if (__builtin_mul_overflow(value, 10, &value))
            return false;
    }
    *out = value;
    return true;
}

void ct_decsum_add(struct ct_decsum *s, const struct ct_value *v)
{
    __int128 mantissa, term;
    int exp;

    if (s->overflow)
        return;
    split(v, &mantissa, &exp);
    if (mantissa == 0)
        return;
    if (s->exp == EXP_NONE) {
        s->units = mantissa;
        s->exp = exp;
        return;
    }
    if (exp < s->exp) {
        if (!scale_up(s->units, s->exp - exp, &s->units)) {
            s->overflow = true;
            return;
        }
        s->exp = exp;
    }
    if (!scale_up(mantissa, exp - s->exp, &term) ||
        __builtin_add_overflow(s->units, term, &s->units))
        s->overflow = true;
}

int ct_decsum_format(const struct ct_decsum *s, char *buf, size_t size)
{
    char reversed[48];
    size_t n = 0, i = 0;
    __int128 u = s->units;
    bool negative = u < 0;

    if (s->overflow || size < 48)
        return -1;
    if (u == 0 || s->exp == EXP_NONE) {
        memcpy(buf, "0", 2);
        return 0;
    }
    /* Digit by digit from the bottom; negating INT128_MIN would overflow, so each digit is
     * taken from the signed remainder instead. */
    do {
        int digit = (int)(u % 10);
        reversed[n++] = (char)('0' + (digit < 0 ? -digit : digit));
        u /= 10;
    } while (u != 0);
    if (negative)
        buf[i++] = '-';
    while (n > 0)
        buf[i++] = reversed[--n];
    buf[i] = '\0';
    if (s->exp != 0)
        snprintf(buf + i, size - i, "e%d", s->exp);
    return 0;
}
