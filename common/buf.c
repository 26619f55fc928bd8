#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ct_buf_free(struct ct_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void ct_buf_reset(struct ct_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int reserve(struct ct_buf *b, size_t extra)
{
    size_t want, cap;
    char *bigger;

    if (b->failed)
        return -1;
    if (extra > (size_t)-1 / 2 - b->len)
        goto fail;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    bigger = realloc(b->data, cap);
    if (bigger == NULL)
        goto fail;
    b->data = bigger;
    b->cap = cap;
    return 0;
fail:
    b->failed = true;
    return -1;
}

int ct_buf_append(struct ct_buf *b, const void *data, size_t len)
{
    if (reserve(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ct_buf_printf(struct ct_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) {
        b->failed = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Bytes a JSON string must escape: control characters, '"' and '\\'. */
static const bool json_escaped[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

int ct_buf_json_string(struct ct_buf *b, const char *s)
{
    const unsigned char *run = (const unsigned char *)s, *p;

    /* runs of bytes that need no escape are copied whole: a diff renders ~100 MB of this */
    ct_buf_append(b, "\"", 1);
    for (p = run; *p; p++) {
        const char *escape;
        char code[8];

        if (!json_escaped[*p])
            continue;
        ct_buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        switch (*p) {
        case '"':
            escape = "\\\"";
            break;
        case '\\':
            escape = "\\\\";
            break;
        case '\n':
            escape = "\\n";
            break;
        case '\r':
            escape = "\\r";
            break;
        case '\t':
            escape = "\\t";
            break;
        default:
            snprintf(code, sizeof(code), "\\u%04x", *p);
            escape = code;
        }
        ct_buf_puts(b, escape);
    }
    ct_buf_append(b, run, (size_t)(p - run));
    return ct_buf_append(b, "\"", 1);
}

int ct_buf_html(struct ct_buf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        const char *ref = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (ref != NULL)
            ct_buf_puts(b, ref);
        else
            ct_buf_append(b, s, 1);
    }
    return b->failed ? -1 : 0;
}
