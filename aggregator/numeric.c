#include "numeric.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void agg_numeric_init(struct agg_numeric *n)
{
    memset(n, 0, sizeof(*n));
}

void agg_numeric_release(struct agg_numeric *n)
{
    free(n->digits);
    agg_numeric_init(n);
}

void agg_numeric_set_zero(struct agg_numeric *n)
{
    n->len = 0;
    n->exp = 0;
    n->negative = false;
}

static int reserve(struct agg_numeric *n, size_t cap)
{
    char *grown;

    if (cap <= n->cap)
        return 0;
    if (cap < 32)
        cap = 32;
    if ((grown = realloc(n->digits, cap)) == NULL)
        return -1;
    n->digits = grown;
    n->cap = cap;
    return 0;
}

/* Strips leading zeros (moving the rest up) and trailing ones (into the exponent). */
static void normalise(struct agg_numeric *n)
{
    size_t lead = 0;

    while (lead < n->len && n->digits[lead] == '0')
        lead++;
    if (lead > 0) {
        memmove(n->digits, n->digits + lead, n->len - lead);
        n->len -= lead;
    }
    while (n->len > 0 && n->digits[n->len - 1] == '0') {
        n->len--;
        n->exp++;
    }
    if (n->len == 0)
        agg_numeric_set_zero(n);
}

int agg_numeric_copy(struct agg_numeric *dst, const struct agg_numeric *src)
{
    if (reserve(dst, src->len) != 0)
        return -1;
    if (src->len > 0)
        memcpy(dst->digits, src->digits, src->len);
    dst->len = src->len;
    dst->exp = src->exp;
    dst->negative = src->negative;
    return 0;
}

static unsigned read_u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

int agg_numeric_from_binary(struct agg_numeric *n, const unsigned char *data, size_t size)
{
    enum { POSITIVE = 0x0000, NEGATIVE = 0x4000 };
    size_t ndigits;
    int weight;
    unsigned sign;

    if (size < 8)
        return -2;
    ndigits = read_u16(data);
    weight = (int16_t)read_u16(data + 2);
    sign = read_u16(data + 4);
    if (ndigits > INT16_MAX || size != 8 + 2 * ndigits || (sign != POSITIVE && sign != NEGATIVE))
        return -2;
    if (reserve(n, 4 * ndigits) != 0)
        return -1;
    for (size_t i = 0; i < ndigits; i++) {
        unsigned d = read_u16(data + 8 + 2 * i);
        if (d > 9999) {
            agg_numeric_set_zero(n);
            return -2;
        }
        for (int k = 3; k >= 0; k--, d /= 10)
            n->digits[4 * i + (size_t)k] = (char)('0' + d % 10);
    }
    n->len = 4 * ndigits;
    /* the last base-10000 digit stands for 10000^(weight - ndigits + 1) */
    n->exp = 4 * ((long)weight - (long)ndigits + 1);
    n->negative = sign == NEGATIVE;
    normalise(n);
    return 0;
}

int agg_numeric_from_text(struct agg_numeric *n, const char *text)
{
    const char *p = text;
    bool negative = *p == '-';
    size_t whole, frac = 0;

    if (negative)
        p++;
    whole = strspn(p, "0123456789");
    if (whole == 0)
        return -2;
    if (p[whole] == '.') {
        frac = strspn(p + whole + 1, "0123456789");
        if (frac == 0)
            return -2;
    }
    if (p[whole + (frac ? frac + 1 : 0)] != '\0')
        return -2;
    if (reserve(n, whole + frac) != 0)
        return -1;
    memcpy(n->digits, p, whole);
    if (frac > 0)
        memcpy(n->digits + whole, p + whole + 1, frac);
    n->len = whole + frac;
    n->exp = -(long)frac;
    n->negative = negative;
    normalise(n);
    return 0;
}

/* The digit of |x| at 10^power, 0 outside its coefficient. */
static int digit_at(const struct agg_numeric *x, long power)
{
    long from_right = power - x->exp;

    if (from_right < 0 || from_right >= (long)x->len)
        return 0;
    return x->digits[x->len - 1 - (size_t)from_right] - '0';
}

/* One past the highest power of ten in |x| (x non-zero). */
static long top_of(const struct agg_numeric *x)
{
    return x->exp + (long)x->len;
}

static int cmp_magnitude(const struct agg_numeric *a, const struct agg_numeric *b)
{
    size_t common = a->len < b->len ? a->len : b->len;
    int c;

    if (top_of(a) != top_of(b))
        return top_of(a) > top_of(b) ? 1 : -1;
    if ((c = memcmp(a->digits, b->digits, common)) != 0)
        return c > 0 ? 1 : -1;
    /* normalised: the longer one has more non-zero digits below */
    return a->len == b->len ? 0 : a->len > b->len ? 1 : -1;
}

/* out = |a| + |b| (subtract false) or |a| - |b| with |a| >= |b| (subtract true). */
static int combine_magnitudes(struct agg_numeric *out, const struct agg_numeric *a,
                              const struct agg_numeric *b, bool subtract)
{
    long low = a->exp < b->exp ? a->exp : b->exp;
    long high = top_of(a) > top_of(b) ? top_of(a) : top_of(b);
    size_t len = (size_t)(high - low) + 1; /* room for a carry */
    int carry = 0;

    if (reserve(out, len) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        long power = low + (long)i;
        int d = subtract ? digit_at(a, power) - digit_at(b, power) - carry
                         : digit_at(a, power) + digit_at(b, power) + carry;
        carry = subtract ? d < 0 : d > 9;
        if (subtract && d < 0)
            d += 10;
        else if (!subtract && d > 9)
            d -= 10;
        out->digits[len - 1 - i] = (char)('0' + d);
    }
    out->len = len;
    out->exp = low;
    normalise(out);
    return 0;
}

int agg_numeric_add(struct agg_numeric *out, const struct agg_numeric *a,
                    const struct agg_numeric *b)
{
    int c;

    if (a->len == 0)
        return agg_numeric_copy(out, b);
    if (b->len == 0)
        return agg_numeric_copy(out, a);
    if (a->negative == b->negative) {
        if (combine_magnitudes(out, a, b, false) != 0)
            return -1;
        out->negative = a->negative;
        return 0;
    }
    if ((c = cmp_magnitude(a, b)) == 0) {
        agg_numeric_set_zero(out);
        return 0;
    }
    if (combine_magnitudes(out, c > 0 ? a : b, c > 0 ? b : a, true) != 0)
        return -1;
    out->negative = c > 0 ? a->negative : b->negative;
    return 0;
}

int agg_numeric_sub(struct agg_numeric *out, const struct agg_numeric *a,
                    const struct agg_numeric *b)
{
    struct agg_numeric minus_b = *b; /* shares b's digits: only read */

    minus_b.negative = b->len > 0 && !b->negative;
    return agg_numeric_add(out, a, &minus_b);
}

size_t agg_numeric_format(const struct agg_numeric *n, char *buf, size_t size)
{
    size_t need, at = 0, frac;

    if (n->len == 0) {
        if (size > 1)
            memcpy(buf, "0", 2);
        return 1;
    }
    frac = n->exp < 0 ? (size_t)-n->exp : 0;
    if (n->exp >= 0)
        need = n->len + (size_t)n->exp;
    else if (n->len > frac)
        need = n->len + 1;
    else
        need = 2 + frac;
    need += n->negative;
    if (need >= size)
        return need;
    if (n->negative)
        buf[at++] = '-';
    if (n->exp >= 0) {
        memcpy(buf + at, n->digits, n->len);
        memset(buf + at + n->len, '0', (size_t)n->exp);
    } else if (n->len > frac) {
        memcpy(buf + at, n->digits, n->len - frac);
        buf[at + n->len - frac] = '.';
        memcpy(buf + at + n->len - frac + 1, n->digits + n->len - frac, frac);
    } else {
        memcpy(buf + at, "0.", 2);
        memset(buf + at + 2, '0', frac - n->len);
        memcpy(buf + at + 2 + frac - n->len, n->digits, n->len);
    }
    buf[need] = '\0';
    return need;
}
