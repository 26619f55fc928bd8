#include "jsoncheck.h"

#include <stdbool.h>
#include <string.h>

#define MAX_DEPTH 64

struct cursor {
    const char *p, *end;
};

static bool value(struct cursor *c, int depth);

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool literal(struct cursor *c, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

static size_t digits(struct cursor *c)
{
    size_t n = 0;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        c->p++;
        n++;
    }
    return n;
}

static bool number(struct cursor *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (digits(c) == 0)
        return false;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (digits(c) == 0)
            return false;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (digits(c) == 0)
            return false;
    }
    return true;
}

static bool string(struct cursor *c)
{
    if (c->p >= c->end || *c->p != '"')
        return false;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch != '\\')
            continue;
        if (++c->p >= c->end)
            return false;
        if (*c->p == 'u') {
            for (int i = 0; i < 4; i++) {
                if (++c->p >= c->end || strchr("0123456789abcdefABCDEF", *c->p) == NULL)
                    return false;
            }
        } else if (strchr("\"\\/bfnrt", *c->p) == NULL) {
            return false;
        }
    }
    return false;
}

/* A list of `item`s between `open` and `close`, separated by commas. */
static bool sequence(struct cursor *c, int depth, char open, char close, bool members)
{
    if (depth > MAX_DEPTH || c->p >= c->end || *c->p != open)
        return false;
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return true;
    }
    for (;;) {
        skip_space(c);
        if (members) {
            if (!string(c))
                return false;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':')
                return false;
            c->p++;
        }
        if (!value(c, depth + 1))
            return false;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return true;
        }
        return false;
    }
}

static bool value(struct cursor *c, int depth)
{
    skip_space(c);
    if (c->p >= c->end)
        return false;
    switch (*c->p) {
    case '{':
        return sequence(c, depth, '{', '}', true);
    case '[':
        return sequence(c, depth, '[', ']', false);
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

int jsoncheck(const char *text, size_t len, size_t *error_at)
{
    struct cursor c = {text, text + len};
    bool ok = value(&c, 0);

    if (ok) {
        skip_space(&c);
        ok = c.p == c.end;
    }
    *error_at = (size_t)(c.p - text);
    return ok ? 0 : -1;
}
